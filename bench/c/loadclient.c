/* loadclient — a WebSocket load client for bench/ (not part of the server).
 *
 *   loadclient load    HOST PORT PATH CONNS SECONDS   sessions/s and p50/p99
 *   loadclient idle    HOST PORT PATH CONNS           hold CONNS open sessions
 *   loadclient capture HOST PORT PATH FILE            one session's received bytes
 *
 * One session: connect, send a fixed upgrade request, read the 101 and the
 * server's frames up to its close frame, send a masked close frame, read to
 * EOF, close. The request is fixed (same key every time) so that the server's
 * answer is the same bytes every time: the bare server replays a capture.
 *
 * `load` keeps CONNS sessions in flight for SECONDS; a session that ends is
 * replaced at once. Only sessions that finished inside the window count.
 * It prints one JSON line on stdout.
 *
 * `idle` opens CONNS sessions, waits for every 101, prints one JSON line
 * ("ready") and holds them until stdin reaches EOF: the caller reads the
 * server's memory meanwhile. Then it resets them all (RST).
 *
 * epoll, one thread: the client must cost little next to the server it
 * measures, on a machine where both share two cores.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_MAX 8192 /* the 101 and the frames of the scenarios used here */

enum phase { PH_CONNECTING, PH_HEAD, PH_FRAMES, PH_DRAIN, PH_IDLE };

struct conn {
    int fd;
    enum phase phase;
    double t_start;
    size_t in_len;
    size_t head_len; /* bytes of the HTTP head, once complete */
    unsigned char in[IN_MAX];
};

struct target {
    struct sockaddr_in addr;
    char request[512];
    size_t request_len;
};

struct stats {
    long done, failed;
    double *times; /* seconds per finished session, inside the window */
    size_t n_times, cap_times;
};

static int epfd;
static const char *fail_why = "";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

/* 10,000 idle sessions need more descriptors than the usual soft limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void target_init(struct target *t, const char *host, const char *port, const char *path)
{
    memset(&t->addr, 0, sizeof t->addr);
    t->addr.sin_family = AF_INET;
    t->addr.sin_port = htons((uint16_t)atoi(port));
    if (inet_pton(AF_INET, host, &t->addr.sin_addr) != 1) {
        fprintf(stderr, "loadclient: not an IPv4 address: %s\n", host);
        exit(2);
    }
    /* A fixed key: the accept value, hence the whole answer, never changes. */
    int n = snprintf(t->request, sizeof t->request,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s:%s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "\r\n",
                     path, host, port);
    if (n < 0 || (size_t)n >= sizeof t->request) {
        fprintf(stderr, "loadclient: path too long\n");
        exit(2);
    }
    t->request_len = (size_t)n;
}

static void conn_start(struct conn *c, const struct target *t)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->phase = PH_CONNECTING;
    c->in_len = 0;
    c->head_len = 0;
    c->t_start = now_s();
    if (connect(c->fd, (const struct sockaddr *)&t->addr, sizeof t->addr) < 0 &&
        errno != EINPROGRESS)
        die("connect");
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl");
}

static void conn_close(struct conn *c)
{
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
}

/* The masked close frame a client sends back: 1000 "bye". */
static int send_close(int fd)
{
    static const unsigned char payload[] = {0x03, 0xe8, 'b', 'y', 'e'};
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    unsigned char frame[2 + 4 + sizeof payload];
    frame[0] = 0x88;
    frame[1] = 0x80 | (unsigned char)sizeof payload;
    memcpy(frame + 2, mask, 4);
    for (size_t i = 0; i < sizeof payload; i++)
        frame[6 + i] = payload[i] ^ mask[i % 4];
    return send(fd, frame, sizeof frame, MSG_NOSIGNAL) == (ssize_t)sizeof frame ? 0 : -1;
}

/* Does the server's frame stream from `p` hold a whole close frame?
 * 1 yes, 0 not yet, -1 malformed. Server frames are unmasked. */
static int has_close_frame(const unsigned char *p, size_t len)
{
    size_t off = 0;
    while (off + 2 <= len) {
        unsigned op = p[off] & 0x0f;
        uint64_t plen = p[off + 1] & 0x7f;
        size_t hdr = 2;
        if (p[off + 1] & 0x80)
            return -1;
        if (plen == 126) {
            if (off + 4 > len)
                return 0;
            plen = ((uint64_t)p[off + 2] << 8) | p[off + 3];
            hdr = 4;
        } else if (plen == 127) {
            return -1; /* not in the scenarios this client is for */
        }
        if (off + hdr + plen > len)
            return 0;
        if (op == 8)
            return 1;
        off += hdr + (size_t)plen;
    }
    return 0;
}

/* Reads what is there. 1 progress, 0 EOF, -1 error. */
static int conn_read(struct conn *c)
{
    for (;;) {
        unsigned char scratch[4096];
        unsigned char *dst = c->in + c->in_len;
        size_t room = IN_MAX - c->in_len;
        if (c->phase == PH_DRAIN || room == 0) { /* after the close: count nothing */
            dst = scratch;
            room = sizeof scratch;
        }
        ssize_t n = recv(c->fd, dst, room, 0);
        if (n > 0) {
            if (dst != scratch)
                c->in_len += (size_t)n;
            continue;
        }
        if (n == 0)
            return 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 1;
        if (errno == EINTR)
            continue;
        return -1;
    }
}

/* Moves a session on after input. 1 going on, 0 finished well, -1 failed. */
static int conn_advance(struct conn *c, int eof)
{
    if (c->phase == PH_HEAD) {
        unsigned char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (end == NULL)
            return eof ? (fail_why = "EOF in the head", -1) : 1;
        if (c->in_len < 12 || memcmp(c->in, "HTTP/1.1 101", 12) != 0)
            return fail_why = "no 101", -1;
        c->head_len = (size_t)(end + 4 - c->in);
        c->phase = PH_FRAMES;
    }
    if (c->phase == PH_FRAMES) {
        int r = has_close_frame(c->in + c->head_len, c->in_len - c->head_len);
        if (r < 0)
            return fail_why = "bad frame", -1;
        if (r == 0)
            return eof ? (fail_why = "EOF before the close frame", -1) : 1;
        if (send_close(c->fd) < 0)
            return fail_why = "send close", -1;
        c->phase = PH_DRAIN;
    }
    if (c->phase == PH_DRAIN)
        return eof ? 0 : 1;
    return 1;
}

static void stats_add(struct stats *s, double t)
{
    if (s->n_times == s->cap_times) {
        s->cap_times = s->cap_times ? s->cap_times * 2 : 65536;
        s->times = realloc(s->times, s->cap_times * sizeof *s->times);
        if (s->times == NULL)
            die("realloc");
    }
    s->times[s->n_times++] = t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i];
}

/* One epoll event for a session: returns 1 while it goes on, 0 done, -1 failed. */
static int conn_event(struct conn *c, const struct target *t, uint32_t events)
{
    if (c->phase == PH_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0)
            return fail_why = "connect failed", -1;
        if (send(c->fd, t->request, t->request_len, MSG_NOSIGNAL) != (ssize_t)t->request_len)
            return fail_why = "send request", -1;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->phase = PH_HEAD;
        if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
            return 1;
    }
    int r = conn_read(c);
    if (r < 0)
        return fail_why = "read error", -1;
    return conn_advance(c, r == 0);
}

static int run_load(const struct target *t, int nconns, double seconds)
{
    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    struct stats st = {0};
    struct epoll_event evs[256];
    if (conns == NULL)
        die("calloc");
    double t0 = now_s(), t_end = t0 + seconds;
    int live = nconns;
    for (int i = 0; i < nconns; i++)
        conn_start(&conns[i], t);
    /* After the window: no new sessions, and the ones in flight get a short
     * grace to finish (uncounted) so the server is not left with resets. */
    while (live > 0 && now_s() < t_end + 5.0) {
        int n = epoll_wait(epfd, evs, 256, 100);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            int r = conn_event(c, t, evs[i].events);
            if (r == 1)
                continue;
            double t_now = now_s();
            conn_close(c);
            if (t_now <= t_end) {
                if (r == 0) {
                    st.done++;
                    stats_add(&st, t_now - c->t_start);
                } else {
                    st.failed++;
                }
            }
            if (t_now < t_end)
                conn_start(c, t);
            else
                live--;
        }
    }
    double elapsed = (now_s() < t_end ? now_s() : t_end) - t0;
    qsort(st.times, st.n_times, sizeof *st.times, cmp_double);
    printf("{\"conns\": %d, \"seconds\": %.3f, \"sessions\": %ld, \"failed\": %ld, "
           "\"sessions_per_s\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"last_failure\": \"%s\"}\n",
           nconns, elapsed, st.done, st.failed, (double)st.done / elapsed,
           percentile(st.times, st.n_times, 0.50) * 1000,
           percentile(st.times, st.n_times, 0.99) * 1000, fail_why);
    free(st.times);
    free(conns);
    return 0;
}

/* Opens nconns sessions and holds them: a session counts as open once its
 * 101 head arrived. Connects go out in batches so the listen backlog is not
 * overrun (the kernel would drop SYNs and retry after a second). */
static int run_idle(const struct target *t, int nconns)
{
    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    struct epoll_event evs[256];
    if (conns == NULL)
        die("calloc");
    int started = 0, open = 0, failed = 0;
    double t0 = now_s();
    while (open + failed < nconns && now_s() < t0 + 120) {
        while (started < nconns && started - open - failed < 100)
            conn_start(&conns[started++], t);
        int n = epoll_wait(epfd, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            int r = conn_event(c, t, evs[i].events);
            if (c->phase == PH_FRAMES || c->phase == PH_DRAIN) {
                c->phase = PH_IDLE; /* open: stop watching it */
                epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
                open++;
            } else if (r != 1) {
                conn_close(c);
                failed++;
            }
        }
    }
    printf("{\"event\": \"ready\", \"open\": %d, \"failed\": %d, \"open_s\": %.3f, "
           "\"last_failure\": \"%s\"}\n",
           open, failed, now_s() - t0, fail_why);
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0)
        ; /* hold until the caller closes our stdin */
    /* Reset, not FIN: the server keeps running a scenario's steps after a
     * client's FIN (a half-closed client may still read), so the 10-minute
     * delay would hold every session. An RST ends them now. */
    struct linger abort_now = {.l_onoff = 1, .l_linger = 0};
    for (int i = 0; i < started; i++) {
        if (conns[i].fd < 0)
            continue;
        setsockopt(conns[i].fd, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now);
        close(conns[i].fd);
    }
    free(conns);
    return 0;
}

/* One session; every byte received goes to `file` (for the bare server). */
static int run_capture(const struct target *t, const char *file)
{
    struct conn *c = calloc(1, sizeof *c);
    struct epoll_event ev;
    if (c == NULL)
        die("calloc");
    conn_start(c, t);
    int r = 1;
    while (r == 1) {
        if (epoll_wait(epfd, &ev, 1, 5000) != 1) {
            fprintf(stderr, "loadclient: capture timed out\n");
            return 1;
        }
        /* Keep the bytes of the close frame too: stop reading into c->in
         * only after it (conn_read switches to scratch in PH_DRAIN). */
        r = conn_event(c, t, ev.events);
    }
    if (r < 0) {
        fprintf(stderr, "loadclient: capture failed: %s\n", fail_why);
        return 1;
    }
    FILE *f = fopen(file, "wb");
    if (f == NULL || fwrite(c->in, 1, c->in_len, f) != c->in_len || fclose(f) != 0)
        die(file);
    printf("{\"captured\": %zu, \"head\": %zu}\n", c->in_len, c->head_len);
    conn_close(c);
    free(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr,
                "usage: loadclient load HOST PORT PATH CONNS SECONDS\n"
                "       loadclient idle HOST PORT PATH CONNS\n"
                "       loadclient capture HOST PORT PATH FILE\n");
        return 2;
    }
    raise_fd_limit();
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    struct target t;
    target_init(&t, argv[2], argv[3], argv[4]);
    if (strcmp(argv[1], "load") == 0 && argc == 7)
        return run_load(&t, atoi(argv[5]), atof(argv[6]));
    if (strcmp(argv[1], "idle") == 0)
        return run_idle(&t, atoi(argv[5]));
    if (strcmp(argv[1], "capture") == 0)
        return run_capture(&t, argv[5]);
    fprintf(stderr, "loadclient: unknown mode %s\n", argv[1]);
    return 2;
}
