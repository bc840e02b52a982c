/*
 * test_waits.c — waits that end on events, on loopback: GET
 * /_runs/ID?wait_ms=N (the long poll) and the ACK wait after a reset.
 *
 * The server runs its event loop in a thread; the test is the client, with
 * blocking sockets: WebSocket sessions of w/hold (which last until the
 * client's FIN, so the test decides when a run completes) and HTTP
 * requests that wait for a run. The loop thread publishes how many
 * requests are parked and how many sessions are live, so the test knows a
 * request waits before it ends a session: the order is certain, not timed.
 *
 * A waiter must be answered when its run's last session ends, with the
 * answer GET /_runs/ID gives then; by its wait_ms with complete false;
 * refused with 400 for a bad wait_ms and 503 over the waiters' limit; and
 * freed when its client goes away (ASan checks that nothing leaks).
 *
 * The ACK wait of a write group ends when the client's kernel acknowledged
 * every byte, or at ack_timeout_ms; a connection the client reset can
 * never acknowledge the rest, so it ends then (an ack_reset event, with
 * the bytes still unacked), not 30 s later.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "runs.h"
#include "scenario.h"
#include "session.h"

/* How long the test waits for anything the server must do at once. It only
 * bounds a failure: every wait below ends on what it waits for. */
#define PATIENCE_MS 8000
#define ANSWER_MAX 65536

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

/* ---- the server, in its own thread --------------------------------------- */

typedef struct server_thread {
    wsr_server srv;
    struct evconnlistener *listener;
    unsigned short port;
    pthread_t th;
    atomic_bool stop;
    atomic_size_t waiters, live; /* as the loop saw them last */
} server_thread;

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *addr, int len, void *arg)
{
    server_thread *st = arg;
    (void)l;
    wsr_session_start(&st->srv, fd, addr, len, NULL);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    server_thread *st = arg;
    size_t live = 0;
    (void)fd;
    (void)what;
    for (const struct wsr_session *s = st->srv.live; s; s = wsr_session_next(s))
        live++;
    atomic_store(&st->waiters, st->srv.runs.n_waiters);
    atomic_store(&st->live, live);
    if (atomic_load(&st->stop))
        event_base_loopbreak(st->srv.base);
}

static void *server_main(void *arg)
{
    server_thread *st = arg;
    struct event *t = event_new(st->srv.base, -1, EV_PERSIST, tick, st);
    struct timeval two_ms = {0, 2000};
    event_add(t, &two_ms);
    event_base_dispatch(st->srv.base);
    event_free(t);
    return NULL;
}

static void server_start(server_thread *st, const wsr_scenario_set *set)
{
    wsr_config cfg = {.linger_ms = 1000,
                      .handshake_timeout_ms = 5000,
                      .session_timeout_ms = 60000,
                      /* longer than PATIENCE_MS: a wait that ends only
                       * on its timer fails the test */
                      .ack_timeout_ms = 30000,
                      .max_frame = 1u << 20,
                      .max_message = 1u << 22,
                      .max_handshake = 8192,
                      .max_output = 1u << 24};
    memset(st, 0, sizeof *st);
    wsr_server_init(&st->srv, event_base_new(), &cfg, set);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    st->listener = evconnlistener_new_bind(
        st->srv.base, on_accept, st, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE,
        2048, (struct sockaddr *)&sin, sizeof sin);
    if (!st->listener) {
        perror("listen");
        exit(2);
    }
    socklen_t alen = sizeof sin;
    getsockname(evconnlistener_get_fd(st->listener), (struct sockaddr *)&sin,
                &alen);
    st->port = ntohs(sin.sin_port);
    pthread_create(&st->th, NULL, server_main, st);
}

static void server_stop(server_thread *st)
{
    atomic_store(&st->stop, true);
    pthread_join(st->th, NULL);
    evconnlistener_free(st->listener);
    struct event_base *base = st->srv.base;
    wsr_server_free(&st->srv);
    event_base_free(base);
}

/* ---- the client side ----------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Waits until the loop has seen this many parked requests and live
 * sessions (a parked request is a live session too); false if it did not
 * happen within PATIENCE_MS. */
static bool server_reaches(server_thread *st, size_t waiters, size_t live)
{
    double end = now_ms() + PATIENCE_MS;
    while (now_ms() < end) {
        if (atomic_load(&st->waiters) == waiters &&
            atomic_load(&st->live) == live)
            return true;
        usleep(2000);
    }
    fprintf(stderr,
            "  the server has %zu waiters and %zu live sessions, "
            "expected %zu and %zu\n",
            atomic_load(&st->waiters), atomic_load(&st->live), waiters, live);
    return false;
}

static int tcp_connect(unsigned short port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        perror("connect");
        exit(2);
    }
    return fd;
}

static void send_str(int fd, const char *s)
{
    if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0)
        perror("send");
}

/* Reads until the server's EOF, or until stop is in the bytes, within
 * PATIENCE_MS; NUL-terminated. Returns the length, or -1 on a timeout. */
static ssize_t read_until(int fd, char *buf, size_t cap, const char *stop)
{
    size_t n = 0;
    double end = now_ms() + PATIENCE_MS;
    buf[0] = '\0';
    while (n + 1 < cap) {
        int left = (int)(end - now_ms());
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, left) == 0)
            return -1;
        ssize_t got = recv(fd, buf + n, cap - 1 - n, 0);
        if (got <= 0)
            break;
        n += (size_t)got;
        buf[n] = '\0';
        if (stop && strstr(buf, stop))
            break;
    }
    return (ssize_t)n;
}

/* True if nothing arrives on fd for ms: the request still waits. */
static bool quiet_for(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, ms) == 0;
}

/* Sends the upgrade request for scenario, tagged run, on fd. */
static void upgrade(int fd, const char *scenario, const char *run)
{
    char req[512];
    snprintf(req, sizeof req,
             "GET /%s?run=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
             scenario, run);
    send_str(fd, req);
}

/* A session of w/hold tagged run, upgraded: it lasts until session_end. */
static int session_open(server_thread *st, const char *run)
{
    char buf[1024];
    int fd = tcp_connect(st->port);
    upgrade(fd, "w/hold", run);
    CHECK(read_until(fd, buf, sizeof buf, "\r\n\r\n") > 0);
    CHECK(strncmp(buf, "HTTP/1.1 101 ", 13) == 0);
    return fd;
}

/* The client's FIN ends the session (its await, then the linger). */
static void session_end(int fd)
{
    char buf[256];
    shutdown(fd, SHUT_WR);
    CHECK(read_until(fd, buf, sizeof buf, NULL) >= 0);
    close(fd);
}

static int request(server_thread *st, const char *target)
{
    char req[512];
    int fd = tcp_connect(st->port);
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
             target);
    send_str(fd, req);
    return fd;
}

typedef struct answer {
    int status;
    char text[ANSWER_MAX]; /* the whole response */
    json_t *body;          /* the JSON of a 200, else NULL */
} answer;

/* Reads the whole response (the server closes after it) and closes fd. */
static void read_answer(int fd, answer *a)
{
    ssize_t n = read_until(fd, a->text, sizeof a->text, NULL);
    close(fd);
    a->status = -1;
    a->body = NULL;
    CHECK(n > 0);
    if (n <= 0)
        return;
    sscanf(a->text, "HTTP/1.1 %d", &a->status);
    const char *body = strstr(a->text, "\r\n\r\n");
    if (a->status == 200 && body)
        a->body = json_loads(body + 4, 0, NULL);
}

static bool complete(const answer *a)
{
    return json_is_true(json_object_get(a->body, "complete"));
}

static size_t n_sessions(const answer *a)
{
    return json_array_size(json_object_get(a->body, "sessions"));
}

/* ---- the cases ----------------------------------------------------------- */

static answer ans;

/* Parked while the run's session lives; answered when it ends, long before
 * its wait_ms (60 s: read_until would give up first). */
static void test_answered_on_end(server_thread *st)
{
    current = "answered when the run's session ends";
    int s = session_open(st, "lw1");
    int w = request(st, "/_runs/lw1?wait_ms=60000");
    CHECK(server_reaches(st, 1, 2));
    CHECK(quiet_for(w, 50));
    session_end(s);
    read_answer(w, &ans);
    CHECK_EQ(ans.status, 200);
    CHECK(complete(&ans));
    CHECK_EQ(n_sessions(&ans), 1);
    json_t *tr = json_array_get(json_object_get(ans.body, "sessions"), 0);
    CHECK(strcmp(json_string_value(
                     json_object_get(json_object_get(tr, "end"), "reason")),
                 "complete") == 0);
    json_decref(ans.body);
    CHECK(server_reaches(st, 0, 0));
}

/* Two sessions of one run: the first end does not complete it. Two
 * requests wait for it, one for another run; only the run's two are
 * answered. */
static void test_two_sessions(server_thread *st)
{
    current = "a run of two sessions";
    int s1 = session_open(st, "lw2");
    int s2 = session_open(st, "lw2");
    int w1 = request(st, "/_runs/lw2?wait_ms=60000");
    int w2 = request(st, "/_runs/lw2?run=x&wait_ms=60000");
    int other = request(st, "/_runs/lw2-other?wait_ms=60000");
    CHECK(server_reaches(st, 3, 5));
    session_end(s1);
    CHECK(server_reaches(st, 3, 4)); /* s1 ended; nobody was answered */
    CHECK(quiet_for(w1, 50));
    session_end(s2);
    read_answer(w1, &ans);
    CHECK(complete(&ans));
    CHECK_EQ(n_sessions(&ans), 2);
    json_decref(ans.body);
    read_answer(w2, &ans);
    CHECK(complete(&ans));
    CHECK_EQ(n_sessions(&ans), 2);
    json_decref(ans.body);
    CHECK(server_reaches(st, 1, 1)); /* the other run's request waits on */
    CHECK(quiet_for(other, 50));
    close(other); /* and goes away: see test_client_goes_away */
    CHECK(server_reaches(st, 0, 0));
}

/* No session at all: wait_ms passes, the answer says so. */
static void test_timeout(server_thread *st)
{
    current = "wait_ms passes";
    int w = request(st, "/_runs/lw3?wait_ms=200");
    read_answer(w, &ans);
    CHECK_EQ(ans.status, 200);
    CHECK(!complete(&ans));
    CHECK_EQ(n_sessions(&ans), 0);
    CHECK(strcmp(json_string_value(json_object_get(ans.body, "run")), "lw3") ==
          0);
    json_decref(ans.body);
    CHECK(server_reaches(st, 0, 0));

    current = "without wait_ms, at once";
    w = request(st, "/_runs/lw3");
    read_answer(w, &ans);
    CHECK_EQ(ans.status, 200);
    CHECK(!complete(&ans));
    json_decref(ans.body);
}

static void test_bad_wait_ms(server_thread *st)
{
    static const char *const targets[] = {
        "/_runs/lw4?wait_ms=soon", "/_runs/lw4?wait_ms=60001",
        "/_runs/lw4?wait_ms=", "/_runs/lw4?wait_ms=-1"};
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        current = targets[i];
        read_answer(request(st, targets[i]), &ans);
        CHECK_EQ(ans.status, 400);
        CHECK(strstr(ans.text, "wait_ms") != NULL);
    }
    current = "invalid run id with wait_ms";
    read_answer(request(st, "/_runs/a%20b?wait_ms=5"), &ans);
    CHECK_EQ(ans.status, 400);
    CHECK(strstr(ans.text, "run id") != NULL);
}

/* A request whose client closes while it waits is freed at once: its
 * waiter and its session go. */
static void test_client_goes_away(server_thread *st)
{
    current = "the client goes away while it waits";
    int w = request(st, "/_runs/lw5?wait_ms=60000");
    CHECK(server_reaches(st, 1, 1));
    close(w);
    CHECK(server_reaches(st, 0, 0));

    current = "the client half-closes while it waits";
    w = request(st, "/_runs/lw5?wait_ms=60000");
    CHECK(server_reaches(st, 1, 1));
    shutdown(w, SHUT_WR);
    read_answer(w, &ans); /* answered at once, as the run stands */
    CHECK_EQ(ans.status, 200);
    CHECK(!complete(&ans));
    json_decref(ans.body);
    CHECK(server_reaches(st, 0, 0));
}

/* WSR_RUNS_WAITERS_MAX wait; one more is refused with 503 and a reason,
 * and the server goes on serving. */
static void test_limit(server_thread *st)
{
    static int fds[WSR_RUNS_WAITERS_MAX];
    current = "the waiters' limit";
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t need = 2 * WSR_RUNS_WAITERS_MAX + 64; /* both ends are ours */
    if (rl.rlim_cur < need && rl.rlim_max >= need) {
        rl.rlim_cur = need;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < need) {
        fprintf(stderr, "  skipped: %zu file descriptors allowed, %zu needed\n",
                (size_t)rl.rlim_cur, (size_t)need);
        return;
    }
    for (size_t i = 0; i < WSR_RUNS_WAITERS_MAX; i++)
        fds[i] = request(st, "/_runs/lw6?wait_ms=60000");
    CHECK(server_reaches(st, WSR_RUNS_WAITERS_MAX, WSR_RUNS_WAITERS_MAX));
    read_answer(request(st, "/_runs/lw6?wait_ms=60000"), &ans);
    CHECK_EQ(ans.status, 503);
    CHECK(strstr(ans.text, "1024") != NULL);
    read_answer(request(st, "/_runs/lw6"), &ans); /* no wait: served */
    CHECK_EQ(ans.status, 200);
    json_decref(ans.body);
    /* The run completes: every waiter is answered. */
    int s = session_open(st, "lw6");
    session_end(s);
    size_t answered = 0;
    for (size_t i = 0; i < WSR_RUNS_WAITERS_MAX; i++) {
        read_answer(fds[i], &ans);
        answered += ans.status == 200 && complete(&ans);
        json_decref(ans.body);
    }
    CHECK_EQ(answered, WSR_RUNS_WAITERS_MAX);
    CHECK(server_reaches(st, 0, 0));
}

/* The types of a transcript's events, comma-separated. */
static void event_types(const json_t *tr, char *out, size_t cap)
{
    size_t i, at = 0;
    json_t *ev;
    out[0] = '\0';
    json_array_foreach (json_object_get(tr, "events"), i, ev) {
        const char *t = json_string_value(json_object_get(ev, "type"));
        at += (size_t)snprintf(out + at, at < cap ? cap - at : 0, "%s%s",
                               i ? "," : "", t);
    }
}

/* w/big-pattern writes 200000 bytes in one group to a client that reads
 * none of them: its receive window closes, the rest stays unacked. The
 * client half-closes (the server reads its EOF and stops reading), then
 * closes with unread bytes: an RST. Nothing can be acked any more. */
static void test_ack_wait_after_reset(server_thread *st)
{
    current = "the ACK wait ends when the client resets";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(st->port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        perror("connect");
        exit(2);
    }
    upgrade(fd, "w/big-pattern", "ack1");
    /* The 101 and the first bytes of the frame, then no more reading: wait
     * until the server's bytes have filled the window. */
    char head[512];
    CHECK(read_until(fd, head, sizeof head, "\r\n\r\n") > 0);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    CHECK(poll(&pfd, 1, PATIENCE_MS) == 1);
    usleep(100000); /* not checked: the window closes on its own */
    shutdown(fd, SHUT_WR);
    usleep(100000); /* lets the server read the EOF before the RST */
    close(fd);      /* unread bytes: RST */
    int w = request(st, "/_runs/ack1?wait_ms=60000");
    read_answer(w, &ans);
    CHECK(complete(&ans));
    json_t *tr = json_array_get(json_object_get(ans.body, "sessions"), 0);
    char types[1024];
    event_types(tr, types, sizeof types);
    /* The events of an ack timeout, ended as ack_reset at once. On a very
     * slow machine the RST may come before the server read the EOF: then
     * the read reports it (tcp_error), an event the session ends on too. */
    bool eof_first = strstr(types, "write,tcp_eof,") != NULL;
    CHECK(strstr(types, eof_first ? "write,tcp_eof,ack_reset,steps_done,"
                                  : "write,tcp_error,") != NULL);
    if (!eof_first)
        fprintf(stderr, "  note: the RST came before the EOF was read\n");
    if (getenv("WSR_TEST_VERBOSE"))
        fprintf(stderr, "  events: %s\n", types);
    size_t i;
    json_t *ev;
    json_array_foreach (json_object_get(tr, "events"), i, ev) {
        const char *t = json_string_value(json_object_get(ev, "type"));
        CHECK(strcmp(t, "ack_timeout") != 0);
        if (strcmp(t, "ack_reset") == 0) {
            CHECK(json_integer_value(json_object_get(ev, "unacked")) > 0);
            CHECK_EQ(json_integer_value(json_object_get(ev, "bytes")), 200010);
        }
    }
    json_decref(ans.body);
    CHECK(server_reaches(st, 0, 0));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_waits SCENARIO_DIR\n");
        return 2;
    }
    char err[1024];
    wsr_scenario_set set;
    if (wsr_scenario_set_load(&set, argv[1], err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    static server_thread st;
    server_start(&st, &set);
    test_answered_on_end(&st);
    test_two_sessions(&st);
    test_timeout(&st);
    test_bad_wait_ms(&st);
    test_client_goes_away(&st);
    test_limit(&st);
    test_ack_wait_after_reset(&st);
    server_stop(&st);
    wsr_scenario_set_free(&set);
    return check_summary("waits");
}
