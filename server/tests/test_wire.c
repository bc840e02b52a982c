/*
 * test_wire.c — every step kind, checked on the wire.
 *
 * A real session runs each scenario of tests/wire/ on loopback TCP (and TLS
 * for tests/wire/t/), and a client thread records every read() it gets:
 * the bytes and when they came. Each row below says what the client must
 * receive, read by read, and how the connection must end. The expected
 * bytes are written out by hand here — not produced by the encoder under
 * test — so the test is an independent oracle.
 *
 * Read boundaries are deterministic because the scenarios separate their
 * writes in time (a delay or a gap of 40 ms and more) while the client sits
 * blocked in recv(): each write arrives on its own.
 */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "scenario.h"
#include "session.h"

#define MAX_READS 64
#define READ_BUF 262144
#define CLIENT_TIMEOUT_MS 6000

/* The key of RFC 6455 section 1.3 and its accept value. */
#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define RESPONSE_101                                                           \
    "t:HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"             \
    "Connection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n"

typedef struct wire_case {
    const char *scenario;
    /* What the client sends after the handshake (hex), and when. */
    const char *send_hex;
    unsigned send_after_ms;
    bool shut_wr_after_send; /* then half-close */
    /* Each read the client must get, as "t:text" or "h:hex" pieces joined
     * by '|'; with concat set, one entry compared with all reads joined. */
    const char *reads[8];
    bool concat;
    const char *end; /* "eof", "rst", "tls_notify", "tls_dirty" */
    /* Time between the starts of two reads (indexes), bounds in ms. */
    int gap_from, gap_to;
    unsigned gap_min_ms, gap_max_ms;
    /* Awaits: this read (1-based) must start after the client's send. That
     * is causal, so it holds however late a loaded machine schedules the
     * client's reads (a lower bound on a gap between two reads did not). */
    int read_after_send;
    /* tls_notify: at least this long from close_notify to the TCP EOF. */
    unsigned tcp_eof_after_min_ms;
} wire_case;

/* clang-format off */
static const wire_case cases[] = {
    {"w/write", .reads = {RESPONSE_101,
                          "h:81026869|h:820200ff|h:890170|h:8a00|h:880503e8627965"},
     .end = "eof"},
    {"w/frame-options",
     .reads = {RESPONSE_101,
               "h:010161|h:800162|h:c10178|h:830101|h:8181010203046c|"
               "h:817e00014c|h:817f00000000000000014c|h:81026e31|h:81026e32|"
               "h:82030001ff|h:82056162616261|h:8800|h:dead|t:Z"},
     .end = "eof"},
    {"w/split", .reads = {RESPONSE_101, "h:81", "h:0568", "h:656c6c6f"},
     .end = "eof", .gap_from = 1, .gap_to = 3, .gap_min_ms = 110,
     .gap_max_ms = 2000},
    {"w/every-byte", .reads = {RESPONSE_101, "h:81", "h:02", "h:61", "h:62"},
     .end = "eof", .gap_from = 1, .gap_to = 4, .gap_min_ms = 110,
     .gap_max_ms = 2000},
    {"w/delay", .reads = {RESPONSE_101, "h:810161", "h:810162"}, .end = "eof",
     .gap_from = 1, .gap_to = 2, .gap_min_ms = 190, .gap_max_ms = 1500},
    {"w/jitter", .reads = {RESPONSE_101, "h:810161", "h:810162"}, .end = "eof",
     .gap_from = 1, .gap_to = 2, .gap_min_ms = 95, .gap_max_ms = 1500},
    /* Awaits: "b" may leave only after the client did its part at 200 ms. */
    {"w/await-close", .send_hex = "888200000000" "03e8", .send_after_ms = 200,
     .reads = {RESPONSE_101, "h:810161", "h:810162"}, .end = "eof",
     .gap_from = 1, .gap_to = 2, .gap_max_ms = 2500,
     .read_after_send = 3},
    {"w/await-message", .send_hex = "818100000000" "78", .send_after_ms = 200,
     .reads = {RESPONSE_101, "h:810161", "h:810162"}, .end = "eof",
     .gap_from = 1, .gap_to = 2, .gap_max_ms = 2500,
     .read_after_send = 3},
    {"w/await-messages",
     .send_hex = "818100000000" "78" "818100000000" "79", .send_after_ms = 200,
     .reads = {RESPONSE_101, "h:810161", "h:810162"}, .end = "eof",
     .gap_from = 1, .gap_to = 2, .gap_max_ms = 2500,
     .read_after_send = 3},
    {"w/await-ping", .send_hex = "898000000000", .send_after_ms = 200,
     .reads = {RESPONSE_101, "h:810161", "h:810162"}, .end = "eof",
     .gap_from = 1, .gap_to = 2, .gap_max_ms = 2500,
     .read_after_send = 3},
    {"w/await-pong", .send_hex = "8a8000000000", .send_after_ms = 200,
     .reads = {RESPONSE_101, "h:810161", "h:810162"}, .end = "eof",
     .gap_from = 1, .gap_to = 2, .gap_max_ms = 2500,
     .read_after_send = 3},
    {"w/await-eof", .send_after_ms = 200, .shut_wr_after_send = true,
     .reads = {RESPONSE_101, "h:810161", "h:810162"}, .end = "eof",
     .gap_from = 1, .gap_to = 2, .gap_max_ms = 2500,
     .read_after_send = 3},
    {"w/await-timeout", .reads = {RESPONSE_101, "h:810161", "h:810162"},
     .end = "eof", .gap_from = 1, .gap_to = 2, .gap_min_ms = 140,
     .gap_max_ms = 1500},
    /* The client's masked "hi" comes back unmasked. */
    {"w/echo", .send_hex = "818201020304" "696b", .send_after_ms = 50,
     .reads = {RESPONSE_101, "h:81026869"}, .end = "eof"},
    /* Paused, the server does not read "x" (the first await times out);
     * resumed, it does, and only then answers "ok" (>= 300 ms in). */
    {"w/read-pause", .send_hex = "818100000000" "78", .send_after_ms = 50,
     .reads = {RESPONSE_101, "h:81026f6b"}, .end = "eof", .gap_from = 0,
     .gap_to = 1, .gap_min_ms = 280, .gap_max_ms = 2500},
    {"w/shutdown", .reads = {RESPONSE_101, "h:810161"}, .end = "eof"},
    {"w/abort", .reads = {RESPONSE_101, "h:810161"}, .end = "rst"},
    {"w/handshake-coalesced", .reads = {RESPONSE_101 "|h:810161"},
     .end = "eof"},
    {"w/handshake-headers",
     .reads = {"t:HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               "Sec-WebSocket-Accept: " ACCEPT "\r\n"
               "Sec-WebSocket-Protocol: chat\r\n\r\n"},
     .end = "eof"},
    {"w/handshake-wrong-accept",
     .reads = {"t:HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n"},
     .end = "eof"},
    {"w/handshake-302",
     .reads = {"t:HTTP/1.1 302 Found\r\nLocation: /x\r\n"
               "Content-Length: 5\r\n\r\nmoved"},
     .end = "eof"},
    {"w/handshake-raw", .reads = {RESPONSE_101, "h:810161"}, .end = "eof"},
    {"w/handshake-truncated", .reads = {"t:HTTP/1.1 101 Swi"}, .end = "eof"},
    /* Over TLS the reads are TLS records: compare the bytes as a whole. */
    {"t/write", .reads = {RESPONSE_101 "|h:81026869"}, .concat = true,
     .end = "tls_notify"},
    {"t/close-notify", .reads = {RESPONSE_101 "|h:810161"}, .concat = true,
     .end = "tls_notify", .tcp_eof_after_min_ms = 250},
    {"t/shutdown-write", .reads = {RESPONSE_101 "|h:810161"}, .concat = true,
     .end = "tls_notify"},
    {"t/shutdown-tcp", .reads = {RESPONSE_101 "|h:810161"}, .concat = true,
     .end = "tls_dirty"},
    {"t/abort", .reads = {RESPONSE_101 "|h:810161"}, .concat = true,
     .end = "rst"},
    {"w/big-pattern", .reads = {NULL}, .concat = true, .end = "eof"},
};
/* clang-format on */

/* ---- expected bytes ------------------------------------------------------ */

typedef struct bytes {
    uint8_t *p;
    size_t n;
} bytes;

static void bytes_add(bytes *b, const void *p, size_t n)
{
    uint8_t *np = xmalloc(b->n + n);
    if (b->n)
        memcpy(np, b->p, b->n);
    memcpy(np + b->n, p, n);
    free(b->p);
    b->p = np;
    b->n += n;
}

static int hexdigit(char c)
{
    return c >= 'a' ? c - 'a' + 10 : c - '0';
}

/* "t:text|h:hex|..." as bytes ('|' separates pieces; text holds none). */
static bytes expected_bytes(const char *spec)
{
    bytes b = {0};
    while (spec && *spec) {
        const char *end = strchr(spec, '|');
        size_t len = end ? (size_t)(end - spec) : strlen(spec);
        if (spec[0] == 't') {
            bytes_add(&b, spec + 2, len - 2);
        } else {
            for (size_t i = 2; i + 1 < len; i += 2) {
                uint8_t byte =
                    (uint8_t)(hexdigit(spec[i]) << 4 | hexdigit(spec[i + 1]));
                bytes_add(&b, &byte, 1);
            }
        }
        spec = end ? end + 1 : NULL;
    }
    return b;
}

/* ---- the client thread --------------------------------------------------- */

typedef struct client {
    const wire_case *wc;
    unsigned short port;
    SSL_CTX *tls;
    bytes reads[MAX_READS];
    double read_ms[MAX_READS];
    int n_reads;
    char end[32];
    double notify_ms, tcp_eof_ms;
    double sent_ms;
    atomic_bool done;
} client;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void send_all(int fd, SSL *ssl, const void *p, size_t n)
{
    if (ssl)
        SSL_write(ssl, p, (int)n);
    else if (send(fd, p, n, MSG_NOSIGNAL) < 0)
        perror("send");
}

static void client_send(client *c, int fd, SSL *ssl)
{
    if (c->wc->send_hex) {
        char spec[256];
        snprintf(spec, sizeof spec, "h:%s", c->wc->send_hex);
        bytes b = expected_bytes(spec);
        send_all(fd, ssl, b.p, b.n);
        free(b.p);
    }
    if (c->wc->shut_wr_after_send)
        shutdown(fd, SHUT_WR);
}

/* One read: > 0 bytes, 0 at the end (c->end set), < 0 keep waiting. */
static ssize_t client_read(client *c, int fd, SSL *ssl, uint8_t *buf)
{
    if (!ssl) {
        ssize_t n = recv(fd, buf, READ_BUF, 0);
        if (n == 0)
            strcpy(c->end, "eof");
        else if (n < 0)
            strcpy(c->end, errno == ECONNRESET ? "rst" : "error");
        return n < 0 ? 0 : n;
    }
    int n = SSL_read(ssl, buf, READ_BUF);
    if (n > 0)
        return n;
    int err = SSL_get_error(ssl, n);
    if (err == SSL_ERROR_WANT_READ)
        return -1;
    if (err == SSL_ERROR_ZERO_RETURN) {
        /* close_notify: now see when TCP itself ends. */
        strcpy(c->end, "tls_notify");
        c->notify_ms = now_ms();
        char sink[64];
        while (recv(fd, sink, sizeof sink, 0) > 0)
            ;
        c->tcp_eof_ms = now_ms();
    } else if (errno == ECONNRESET) {
        strcpy(c->end, "rst");
    } else {
        strcpy(c->end, "tls_dirty");
    }
    return 0;
}

static void client_session(client *c, int fd, SSL *ssl)
{
    static const char request[] =
        "GET /%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    char req[512];
    int n = snprintf(req, sizeof req, request, c->wc->scenario);
    send_all(fd, ssl, req, (size_t)n);
    uint8_t *buf = xmalloc(READ_BUF);
    double start = now_ms();
    bool sent = false;
    while (now_ms() - start < CLIENT_TIMEOUT_MS) {
        double due = start + c->wc->send_after_ms - now_ms();
        int timeout = sent || (!c->wc->send_hex && !c->wc->shut_wr_after_send)
                          ? 50
                          : (due > 0 ? (int)due : 0);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        bool pending = ssl && SSL_pending(ssl) > 0;
        if (!pending && poll(&pfd, 1, timeout) == 0) {
            if (!sent && (c->wc->send_hex || c->wc->shut_wr_after_send) &&
                now_ms() - start >= c->wc->send_after_ms) {
                c->sent_ms = now_ms();
                client_send(c, fd, ssl);
                sent = true;
            }
            continue;
        }
        ssize_t got = client_read(c, fd, ssl, buf);
        if (got == 0)
            break;
        if (got > 0 && c->n_reads < MAX_READS) {
            c->read_ms[c->n_reads] = now_ms();
            bytes_add(&c->reads[c->n_reads++], buf, (size_t)got);
        }
    }
    if (!c->end[0])
        strcpy(c->end, "timeout");
    free(buf);
}

static void *client_main(void *arg)
{
    client *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(c->port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SSL *ssl = NULL;
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        strcpy(c->end, "connect_failed");
    } else {
        if (c->tls) {
            ssl = SSL_new(c->tls);
            SSL_set_fd(ssl, fd);
            if (SSL_connect(ssl) != 1)
                strcpy(c->end, "tls_handshake_failed");
        }
        if (!c->end[0])
            client_session(c, fd, ssl);
    }
    SSL_free(ssl);
    close(fd);
    atomic_store(&c->done, true);
    return NULL;
}

/* ---- the server side ----------------------------------------------------- */

typedef struct server_side {
    wsr_server srv;
    SSL_CTX *tls;
    client *c;
} server_side;

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *addr, int len, void *arg)
{
    server_side *ss = arg;
    (void)l;
    wsr_session_start(&ss->srv, fd, addr, len, ss->tls);
}

static void poll_done(evutil_socket_t fd, short what, void *arg)
{
    server_side *ss = arg;
    (void)fd;
    (void)what;
    if (atomic_load(&ss->c->done))
        event_base_loopbreak(ss->srv.base);
}

static SSL_CTX *server_tls(const char *dir)
{
    char cert[1024], key[1024];
    snprintf(cert, sizeof cert, "%s/test-cert.pem", dir);
    snprintf(key, sizeof key, "%s/test-key.pem", dir);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "cannot load %s / %s\n", cert, key);
        exit(2);
    }
    return ctx;
}

/* ---- transcripts on disk ------------------------------------------------ */

/* The ring's transcripts (new references) just before the server stops,
 * and in *live how many recorded sessions are still going (they end with
 * server_shutdown and are written too). */
static json_t *ring_snapshot(const wsr_server *srv, size_t *live)
{
    json_t *all = json_array();
    for (size_t k = 0; k < WSR_RUNS_KEEP; k++) {
        size_t len;
        const char *text = wsr_runs_text(&srv->runs, k, &len);
        if (text)
            json_array_append_new(all, json_loadb(text, len, 0, NULL));
    }
    *live = 0;
    for (const wsr_session *s = srv->live; s; s = wsr_session_next(s)) {
        const char *run;
        if (wsr_session_recorded(s, &run))
            (*live)++;
    }
    return all;
}

/* Once the server has stopped: one whole file per recorded session, each
 * finished transcript byte for byte the JSON the ring served, no temporary
 * file left. Removes the folder. */
static void check_transcript_files(char *dir, json_t *ring, size_t live)
{
    size_t files = 0, matched = 0;
    char path[600];
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        files++;
        CHECK(strstr(e->d_name, ".tmp.") == NULL);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        json_t *t = json_load_file(path, 0, NULL);
        CHECK(t != NULL);
        CHECK(json_is_true(json_object_get(t, "complete")));
        for (size_t i = 0; t && i < json_array_size(ring); i++)
            if (json_equal(t, json_array_get(ring, i))) {
                matched++;
                break;
            }
        json_decref(t);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
    CHECK_EQ(matched, json_array_size(ring));
    CHECK_EQ(files, json_array_size(ring) + live);
    json_decref(ring);
}

/* Runs one case: a session on a fresh listener, the client in a thread.
 * Transcripts go to a temporary folder through the writer, as with
 * --transcripts. */
static void run_case(const wire_case *wc, const wsr_scenario_set *set,
                     const char *dir, client *c)
{
    struct event_base *base = event_base_new();
    server_side ss = {.c = c};
    bool tls = strncmp(wc->scenario, "t/", 2) == 0;
    wsr_config cfg = {.linger_ms = 1000,
                      .handshake_timeout_ms = 5000,
                      .session_timeout_ms = 10000,
                      .ack_timeout_ms = 2000,
                      .max_frame = 1u << 20,
                      .max_message = 1u << 22,
                      .max_handshake = 8192,
                      .max_output = 1u << 24};
    char tdir[] = "/tmp/wsr-wire-XXXXXX";
    cfg.transcript_dir = mkdtemp(tdir);
    CHECK(cfg.transcript_dir != NULL);
    wsr_server_init(&ss.srv, base, &cfg, set);
    CHECK_EQ(wsr_server_start_writer(&ss.srv), 0);
    ss.tls = tls ? server_tls(dir) : NULL;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *l = evconnlistener_new_bind(
        base, on_accept, &ss, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, 16,
        (struct sockaddr *)&sin, sizeof sin);
    socklen_t alen = sizeof sin;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &alen);
    c->wc = wc;
    c->port = ntohs(sin.sin_port);
    c->tls = tls ? SSL_CTX_new(TLS_client_method()) : NULL;
    struct event *tick = event_new(base, -1, EV_PERSIST, poll_done, &ss);
    struct timeval ten_ms = {0, 10000};
    event_add(tick, &ten_ms);
    pthread_t th;
    pthread_create(&th, NULL, client_main, c);
    event_base_dispatch(base);
    pthread_join(th, NULL);
    event_free(tick);
    evconnlistener_free(l);
    size_t live = 0;
    json_t *ring = ring_snapshot(&ss.srv, &live);
    wsr_server_free(&ss.srv);
    if (cfg.transcript_dir)
        check_transcript_files(tdir, ring, live);
    event_base_free(base);
    SSL_CTX_free(ss.tls);
    SSL_CTX_free(c->tls);
}

/* ---- checks -------------------------------------------------------------- */

static void check_bytes(const char *what, const bytes *got, const bytes *want)
{
    bool same = got->n == want->n && memcmp(got->p, want->p, got->n) == 0;
    CHECK(same);
    if (same)
        return;
    fprintf(stderr, "  %s: got %zu bytes, expected %zu:\n   got  ", what,
            got->n, want->n);
    for (size_t i = 0; i < got->n && i < 80; i++)
        fprintf(stderr, "%02x", got->p[i]);
    fprintf(stderr, "\n   want ");
    for (size_t i = 0; i < want->n && i < 80; i++)
        fprintf(stderr, "%02x", want->p[i]);
    fputc('\n', stderr);
}

static bytes pattern_bytes(void)
{
    /* w/big-pattern: the 101, then one binary frame of 200000 bytes of
     * "0123456789" with a 64-bit length (200000 > 65535). */
    bytes b = expected_bytes(RESPONSE_101 "|h:827f0000000000030d40");
    uint8_t *payload = xmalloc(200000);
    for (size_t i = 0; i < 200000; i++)
        payload[i] = (uint8_t)('0' + i % 10);
    bytes_add(&b, payload, 200000);
    free(payload);
    return b;
}

static void check_case(const wire_case *wc, const client *c)
{
    CHECK(strcmp(c->end, wc->end) == 0);
    if (strcmp(c->end, wc->end) != 0)
        fprintf(stderr, "  ended with %s, expected %s\n", c->end, wc->end);
    if (wc->concat) {
        bytes all = {0};
        for (int i = 0; i < c->n_reads; i++)
            bytes_add(&all, c->reads[i].p, c->reads[i].n);
        bytes want =
            wc->reads[0] ? expected_bytes(wc->reads[0]) : pattern_bytes();
        check_bytes("all reads", &all, &want);
        free(all.p);
        free(want.p);
    } else {
        int n_want = 0;
        while (n_want < 8 && wc->reads[n_want])
            n_want++;
        CHECK_EQ(c->n_reads, n_want);
        for (int i = 0; i < c->n_reads && i < n_want; i++) {
            char what[32];
            snprintf(what, sizeof what, "read %d", i + 1);
            bytes want = expected_bytes(wc->reads[i]);
            check_bytes(what, &c->reads[i], &want);
            free(want.p);
        }
    }
    if (wc->gap_max_ms && c->n_reads > wc->gap_to) {
        double gap = c->read_ms[wc->gap_to] - c->read_ms[wc->gap_from];
        CHECK(gap >= wc->gap_min_ms && gap <= wc->gap_max_ms);
        if (gap < wc->gap_min_ms || gap > wc->gap_max_ms)
            fprintf(stderr,
                    "  reads %d..%d were %.1f ms apart, expected %u..%u\n",
                    wc->gap_from + 1, wc->gap_to + 1, gap, wc->gap_min_ms,
                    wc->gap_max_ms);
    }
    if (wc->read_after_send && c->n_reads >= wc->read_after_send) {
        double t = c->read_ms[wc->read_after_send - 1];
        CHECK(c->sent_ms > 0 && t >= c->sent_ms);
        if (!(c->sent_ms > 0 && t >= c->sent_ms))
            fprintf(stderr, "  read %d came %.1f ms before the client's send\n",
                    wc->read_after_send, c->sent_ms - t);
    }
    if (wc->tcp_eof_after_min_ms)
        CHECK(c->tcp_eof_ms - c->notify_ms >= wc->tcp_eof_after_min_ms);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_wire SCENARIO_DIR\n");
        return 2;
    }
    char err[1024];
    wsr_scenario_set set;
    if (wsr_scenario_set_load(&set, argv[1], err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        client *c = calloc(1, sizeof *c);
        current = cases[i].scenario;
        run_case(&cases[i], &set, argv[1], c);
        check_case(&cases[i], c);
        for (int k = 0; k < c->n_reads; k++)
            free(c->reads[k].p);
        free(c);
    }
    wsr_scenario_set_free(&set);
    return check_summary("wire");
}
