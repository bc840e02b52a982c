/* loadclient — a WebSocket load client for bench/ (not part of the server).
 *
 *   loadclient load    HOST PORT PATH CONNS SECONDS   sessions/s and p50/p99
 *   loadclient idle    HOST PORT PATH CONNS           hold CONNS open sessions
 *   loadclient capture HOST PORT PATH FILE            one session's received bytes
 *   loadclient soak    HOST PORT PLAN CONNS SESSIONS  mixed and hostile sessions
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
 * `soak` runs SESSIONS sessions, CONNS at a time, each of a kind taken in
 * turn from PLAN (a file of lines "KIND WEIGHT [PATH]", see run_soak): well
 * behaved ones on catalogue scenarios and hostile peers. It prints a JSON
 * progress line every 1,000 sessions (the caller samples the server's
 * memory then) and one summary line at the end.
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


/* ---- soak: mixed and hostile sessions ---------------------------------- */

/* What a soak session does. A well-behaved session (K_GOOD) sends the
 * upgrade, reads the answer and the server's frames (any length), answers
 * a close frame with a masked close frame and reads to EOF; a refused
 * handshake (not 101) it closes at once. The others are hostile peers. */
enum kind {
    K_GOOD,        /* a catalogue scenario, as a plain client would run it */
    K_SLOWLORIS,   /* half a request head, then silence: the handshake timeout */
    K_RST_CONNECT, /* connect, then RST (SO_LINGER 0) before a byte */
    K_RST_OPEN,    /* the upgrade, the 101, then RST mid-scenario */
    K_FRAME_2_62,  /* a frame header announcing 2^62 bytes, then silence */
    K_FRAME_16M,   /* a header announcing 16 MiB, 4 KiB of it, then RST */
    K_GARBAGE,     /* 512 random bytes after the 101 */
    K_OVERSIZE,    /* a request head of 12 KiB (over --max-handshake) */
    K_BAD_TAG,     /* ?run=.. / -rf / .hidden: refused with a 400 */
    K_COUNT
};

static const char *const kind_names[K_COUNT] = {
    "good",    "slowloris", "rst-connect", "rst-open", "frame-2^62",
    "frame-16MiB", "garbage", "oversize-head", "bad-run-tag",
};

enum soak_phase { SP_CONNECTING, SP_HEAD, SP_FRAMES, SP_DRAIN };

struct plan_entry {
    enum kind kind;
    char path[256]; /* K_GOOD: the scenario's path, without ?run= */
};

struct soak_conn {
    int fd;
    enum soak_phase phase;
    const struct plan_entry *entry;
    long serial;
    double t_start;
    size_t head_len;
    char head[8192];
    unsigned char hdr[14]; /* the server frame header being read */
    size_t hdr_have;
    uint64_t skip; /* payload bytes of the current server frame still to skip */
    int in_close;  /* the current frame is a close frame */
    int saw_close; /* a close frame came, ours went back */
};

struct soak_stats {
    long started[K_COUNT], ended[K_COUNT], timed_out[K_COUNT];
    long upgraded, refused, server_close_frames, eof_before_close, resets;
};

static const char *const bad_tags[] = {"..", "-rf", ".hidden", "a/b", "%2e%2e"};

static size_t soak_request(char *buf, size_t cap, const char *host, const char *port,
                           const char *path, const char *run, size_t pad)
{
    int n = snprintf(buf, cap,
                     "GET %s?run=%s HTTP/1.1\r\n"
                     "Host: %s:%s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n",
                     path, run, host, port);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    size_t len = (size_t)n;
    if (pad > 0) { /* one long header line: the head goes over max_handshake */
        if (len + pad + 16 >= cap)
            return 0;
        memcpy(buf + len, "X-Pad: ", 7);
        memset(buf + len + 7, 'a', pad);
        len += 7 + pad;
        memcpy(buf + len, "\r\n", 2);
        len += 2;
    }
    memcpy(buf + len, "\r\n", 2);
    return len + 2;
}

static int send_all(int fd, const void *p, size_t len)
{
    /* Loopback with fresh buffers: a few KiB go out in one call. */
    return send(fd, p, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static void rst_now(int fd)
{
    struct linger abort_now = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now);
}

/* Reads the server's frames after the 101 without keeping them: any length,
 * close frames answered. Returns 1 when a close frame has been answered. */
static int soak_frames(struct soak_conn *c, const unsigned char *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        if (c->skip > 0) {
            uint64_t n = len - off < c->skip ? len - off : c->skip;
            c->skip -= n;
            off += (size_t)n;
            continue;
        }
        c->hdr[c->hdr_have++] = p[off++];
        size_t need = 2;
        if (c->hdr_have >= 2) {
            unsigned l7 = c->hdr[1] & 0x7f;
            need += (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((c->hdr[1] & 0x80) ? 4 : 0);
        }
        if (c->hdr_have < need)
            continue;
        unsigned l7 = c->hdr[1] & 0x7f;
        uint64_t plen = l7;
        if (l7 == 126)
            plen = ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
        else if (l7 == 127) {
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = (plen << 8) | c->hdr[2 + i];
        }
        c->in_close = (c->hdr[0] & 0x0f) == 8;
        c->hdr_have = 0;
        c->skip = plen;
        if (c->in_close && !c->saw_close) {
            c->saw_close = 1;
            if (send_close(c->fd) < 0)
                return -1;
            return 1;
        }
    }
    return 0;
}

static void soak_start(struct soak_conn *c, const struct target *t, const struct plan_entry *e,
                       long serial)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->phase = SP_CONNECTING;
    c->entry = e;
    c->serial = serial;
    c->t_start = now_s();
    c->head_len = 0;
    c->hdr_have = 0;
    c->skip = 0;
    c->in_close = c->saw_close = 0;
    if (connect(c->fd, (const struct sockaddr *)&t->addr, sizeof t->addr) < 0 &&
        errno != EINPROGRESS)
        die("connect");
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl");
}

/* After the 101 (or a refusal): what the session's kind does next.
 * 1 going on, 0 done. */
static int soak_after_head(struct soak_conn *c, struct soak_stats *st, int upgraded)
{
    enum kind k = c->entry->kind;
    if (!upgraded) {
        st->refused++;
        return k == K_GOOD ? 0 : (c->phase = SP_DRAIN, 1);
    }
    st->upgraded++;
    static const unsigned char mask[4] = {1, 2, 3, 4};
    unsigned char frame[14 + 4096];
    switch (k) {
    case K_RST_OPEN:
        rst_now(c->fd);
        st->resets++;
        return 0;
    case K_FRAME_2_62:
    case K_FRAME_16M: {
        uint64_t n = k == K_FRAME_2_62 ? (uint64_t)1 << 62 : (uint64_t)16 << 20;
        frame[0] = 0x82;
        frame[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            frame[2 + i] = (unsigned char)(n >> (56 - 8 * i));
        memcpy(frame + 10, mask, 4);
        size_t len = 14;
        if (k == K_FRAME_16M) {
            memset(frame + 14, 0, 4096);
            len += 4096;
        }
        if (send_all(c->fd, frame, len) < 0 || k == K_FRAME_16M) {
            rst_now(c->fd);
            st->resets++;
            return 0;
        }
        c->phase = SP_DRAIN;
        return 1;
    }
    case K_GARBAGE: {
        for (size_t i = 0; i < 512; i++)
            frame[i] = (unsigned char)rand();
        frame[0] = 0x8f; /* a reserved opcode: never a valid start */
        if (send_all(c->fd, frame, 512) < 0)
            return 0;
        c->phase = SP_DRAIN;
        return 1;
    }
    default:
        c->phase = SP_FRAMES;
        return 1;
    }
}

/* One epoll event for a soak session: 1 going on, 0 done. */
static int soak_event(struct soak_conn *c, const char *host,
                      const char *port, struct soak_stats *st)
{
    enum kind k = c->entry->kind;
    if (c->phase == SP_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0)
            return fail_why = "connect failed", 0;
        if (k == K_RST_CONNECT) {
            rst_now(c->fd);
            st->resets++;
            return 0;
        }
        char req[16384];
        char run[64];
        const char *path = k == K_GOOD ? c->entry->path : "/close/send-then-close";
        if (k == K_BAD_TAG)
            snprintf(run, sizeof run, "%s",
                     bad_tags[c->serial % (long)(sizeof bad_tags / sizeof *bad_tags)]);
        else
            snprintf(run, sizeof run, "soak-%ld", c->serial);
        size_t n = soak_request(req, sizeof req, host, port, path, run,
                                k == K_OVERSIZE ? 12288 : 0);
        if (n == 0)
            die("request too long");
        if (k == K_SLOWLORIS)
            n = n / 2; /* half the head, then nothing */
        if (send_all(c->fd, req, n) < 0)
            return fail_why = "send request", 0;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->phase = (k == K_SLOWLORIS || k == K_OVERSIZE || k == K_BAD_TAG) ? SP_DRAIN : SP_HEAD;
        /* fall through: a read now finds EAGAIN or what already came */
    }
    for (;;) {
        unsigned char buf[16384];
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0) {
            if (c->phase == SP_FRAMES && !c->saw_close)
                st->eof_before_close++;
            return 0;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 1;
            if (errno == EINTR)
                continue;
            return 0; /* a reset by the server ends the session too */
        }
        size_t off = 0;
        if (c->phase == SP_HEAD) {
            size_t room = sizeof c->head - c->head_len;
            size_t take = (size_t)n < room ? (size_t)n : room;
            memcpy(c->head + c->head_len, buf, take);
            c->head_len += take;
            char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
            if (end == NULL) {
                if (c->head_len == sizeof c->head)
                    return fail_why = "head too long", 0;
                continue;
            }
            size_t head = (size_t)(end + 4 - c->head);
            off = take - (c->head_len - head); /* bytes of buf after the head */
            int upgraded = c->head_len >= 12 && memcmp(c->head, "HTTP/1.1 101", 12) == 0;
            if (soak_after_head(c, st, upgraded) == 0)
                return 0;
        }
        if (c->phase == SP_FRAMES) {
            int r = soak_frames(c, buf + off, (size_t)n - off);
            if (r < 0)
                return 0;
            if (r > 0) {
                st->server_close_frames++;
                c->phase = SP_DRAIN;
            }
        }
    }
}

static int plan_load(const char *file, struct plan_entry **out, size_t *n_out)
{
    FILE *f = fopen(file, "r");
    if (f == NULL)
        die(file);
    size_t n = 0, cap = 0;
    struct plan_entry *plan = NULL;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char name[64], path[256] = "";
        int weight;
        if (line[0] == '#' || sscanf(line, "%63s %d %255s", name, &weight, path) < 2)
            continue;
        int k = -1;
        for (int i = 0; i < K_COUNT; i++)
            if (strcmp(name, kind_names[i]) == 0)
                k = i;
        if (k < 0 || weight < 0 || (k == K_GOOD && path[0] != '/')) {
            fprintf(stderr, "loadclient: bad plan line: %s", line);
            exit(2);
        }
        for (int w = 0; w < weight; w++) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                plan = realloc(plan, cap * sizeof *plan);
                if (plan == NULL)
                    die("realloc");
            }
            plan[n].kind = (enum kind)k;
            snprintf(plan[n].path, sizeof plan[n].path, "%s", path);
            n++;
        }
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "loadclient: empty plan %s\n", file);
        exit(2);
    }
    /* Interleave the kinds: a fixed shuffle, the same every run. */
    srand(12);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1);
        struct plan_entry tmp = plan[i];
        plan[i] = plan[j];
        plan[j] = tmp;
    }
    *out = plan;
    *n_out = n;
    return 0;
}

static void soak_print(const struct soak_stats *st, long done, double t0, const char *event)
{
    printf("{\"event\": \"%s\", \"done\": %ld, \"t\": %.3f", event, done, now_s() - t0);
    if (strcmp(event, "end") == 0) {
        printf(", \"upgraded\": %ld, \"refused\": %ld, \"server_close_frames\": %ld, "
               "\"eof_before_close\": %ld, \"resets_sent\": %ld, \"kinds\": {",
               st->upgraded, st->refused, st->server_close_frames, st->eof_before_close,
               st->resets);
        for (int k = 0; k < K_COUNT; k++)
            printf("%s\"%s\": {\"started\": %ld, \"ended\": %ld, \"client_timeout\": %ld}",
                   k ? ", " : "", kind_names[k], st->started[k], st->ended[k], st->timed_out[k]);
        printf("}, \"last_failure\": \"%s\"", fail_why);
    }
    printf("}\n");
    fflush(stdout);
}

/* SESSIONS sessions, CONNS at a time. A session the server has not ended
 * after SOAK_CLIENT_TIMEOUT_S is reset by the client and counted. */
#define SOAK_CLIENT_TIMEOUT_S 30.0

static int run_soak(const struct target *t, const char *host, const char *port,
                    const char *plan_file, int nconns, long sessions)
{
    struct plan_entry *plan;
    size_t n_plan;
    plan_load(plan_file, &plan, &n_plan);
    struct soak_conn *conns = calloc((size_t)nconns, sizeof *conns);
    if (conns == NULL)
        die("calloc");
    struct soak_stats st = {0};
    struct epoll_event evs[256];
    double t0 = now_s(), last_sweep = t0;
    long started = 0, done = 0;
    int live = 0;
    for (int i = 0; i < nconns; i++)
        conns[i].fd = -1;
    for (int i = 0; i < nconns && started < sessions; i++, live++) {
        const struct plan_entry *e = &plan[(size_t)started % n_plan];
        st.started[e->kind]++;
        soak_start(&conns[i], t, e, started++);
    }
    while (live > 0) {
        int n = epoll_wait(epfd, evs, 256, 100);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        double t_now = now_s();
        for (int i = 0; i < (n > 0 ? n : 0) + 1; i++) {
            struct soak_conn *c = NULL;
            if (i < n) {
                c = evs[i].data.ptr;
                if (c->fd < 0 || soak_event(c, host, port, &st) == 1)
                    continue;
            } else if (t_now - last_sweep > 1.0) {
                /* once a second: sessions nobody ended in time */
                last_sweep = t_now;
                for (int j = 0; j < nconns; j++) {
                    struct soak_conn *o = &conns[j];
                    if (o->fd >= 0 && t_now - o->t_start > SOAK_CLIENT_TIMEOUT_S) {
                        st.timed_out[o->entry->kind]++;
                        rst_now(o->fd);
                        close(o->fd);
                        o->fd = -1;
                        done++;
                        live--;
                        if (started < sessions) {
                            const struct plan_entry *e = &plan[(size_t)started % n_plan];
                            st.started[e->kind]++;
                            soak_start(o, t, e, started++);
                            live++;
                        }
                    }
                }
                continue;
            } else {
                continue;
            }
            st.ended[c->entry->kind]++;
            close(c->fd);
            c->fd = -1;
            done++;
            live--;
            if (done % 1000 == 0)
                soak_print(&st, done, t0, "progress");
            if (started < sessions) {
                const struct plan_entry *e = &plan[(size_t)started % n_plan];
                st.started[e->kind]++;
                soak_start(c, t, e, started++);
                live++;
            }
        }
    }
    soak_print(&st, done, t0, "end");
    free(conns);
    free(plan);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr,
                "usage: loadclient load HOST PORT PATH CONNS SECONDS\n"
                "       loadclient idle HOST PORT PATH CONNS\n"
                "       loadclient capture HOST PORT PATH FILE\n"
                "       loadclient soak HOST PORT PLAN CONNS SESSIONS\n");
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
    if (strcmp(argv[1], "soak") == 0 && argc == 7)
        return run_soak(&t, argv[2], argv[3], argv[4], atoi(argv[5]), atol(argv[6]));
    fprintf(stderr, "loadclient: unknown mode %s\n", argv[1]);
    return 2;
}
