/*
 * session.c — one connection on a libevent bufferevent: the shell around
 * its engine.
 *
 * The engine (engine.c) holds the protocol and the step program; this file
 * gives it a socket (plain, or TLS over an OpenSSL bufferevent), two
 * timers, and the kernel's answers it asks for, and hands it what
 * libevent reports. When the engine ends, the session leaves the live
 * list, keeps its transcript, and is freed from a deferred callback, never
 * inside one of its own.
 */
#include "session.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/util.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <openssl/ssl.h>

#include "engine.h"
#include "runs.h"
#include "transcript.h"
#include "writer.h"

struct wsr_session {
    wsr_server *srv;
    struct wsr_session *prev, *next;
    unsigned long id;
    struct bufferevent *bev;
    evutil_socket_t fd;
    SSL *ssl;               /* NULL on plain TCP; owned by bev */
    struct event *timer;    /* the engine's step timer */
    struct event *deadline; /* handshake, then session timeout */
    wsr_engine *eng;
    wsr_run_waiter waiter; /* parked: GET /_runs/ID?wait_ms=N */
};

static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);
static void timer_cb(evutil_socket_t fd, short what, void *arg);
static void deadline_cb(evutil_socket_t fd, short what, void *arg);

/* ---- what the engine asks for ------------------------------------------ */

static uint64_t io_now_us(void *ctx)
{
    (void)ctx;
    return wsr_now_us();
}

static uint32_t io_random(void *ctx)
{
    uint32_t r = 0;
    (void)ctx;
    evutil_secure_rng_get_bytes(&r, sizeof r);
    return r;
}

static void io_timer(void *ctx, unsigned ms)
{
    wsr_session *s = ctx;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(s->timer, &tv);
}

static void io_timer_stop(void *ctx)
{
    wsr_session *s = ctx;
    evtimer_del(s->timer);
}

static void io_deadline(void *ctx, unsigned ms)
{
    wsr_session *s = ctx;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_del(s->deadline);
    evtimer_add(s->deadline, &tv);
}

static void io_reading(void *ctx, bool on)
{
    wsr_session *s = ctx;
    if (on)
        bufferevent_enable(s->bev, EV_READ);
    else
        bufferevent_disable(s->bev, EV_READ);
}

/* Bytes in the kernel's send queue: sent, or not, but not yet ACKed. */
static int io_unacked(void *ctx)
{
    wsr_session *s = ctx;
    int queued = 0;
    if (ioctl(s->fd, SIOCOUTQ, &queued) != 0)
        queued = 0;
    return queued;
}

/* The socket's TCP state (TCP_ESTABLISHED, ...), or -1. */
static int tcp_state(const wsr_session *s)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return -1;
    return ti.tcpi_state;
}

/* True once the client's FIN has reached this socket (TCP state
 * CLOSE_WAIT): the client closed TCP first. libevent reports the EOF only
 * when it next reads, so the kernel's state is the exact witness. */
static bool io_peer_fin(void *ctx)
{
    return tcp_state(ctx) == TCP_CLOSE_WAIT;
}

/* True once the connection is gone (TCP state CLOSE) although the session
 * is not over: the client reset it, typically because its socket was
 * already closed when our bytes arrived. SIOCOUTQ then stays at what was
 * queued, never 0. */
static bool io_peer_gone(void *ctx)
{
    return tcp_state(ctx) == TCP_CLOSE;
}

/* SSL_shutdown writes the alert straight to the socket. */
static int io_close_notify(void *ctx)
{
    wsr_session *s = ctx;
    int rc = SSL_shutdown(s->ssl);
    return rc < 0 ? SSL_get_error(s->ssl, rc) : 0;
}

static void io_shutdown(void *ctx)
{
    wsr_session *s = ctx;
    shutdown(s->fd, SHUT_WR);
}

static void waiter_wake(void *arg)
{
    wsr_session *s = arg;
    wsr_engine_run_ended(s->eng);
}

static bool io_park(void *ctx, const char *run)
{
    wsr_session *s = ctx;
    s->waiter.run = run; /* the engine's: it outlives the park */
    s->waiter.wake = waiter_wake;
    s->waiter.arg = s;
    return wsr_runs_park(&s->srv->runs, &s->waiter);
}

static void io_unpark(void *ctx)
{
    wsr_session *s = ctx;
    wsr_runs_unpark(&s->srv->runs, &s->waiter);
}

static void io_ended(void *ctx);

static const wsr_engine_io session_io = {
    .now_us = io_now_us,
    .random = io_random,
    .timer = io_timer,
    .timer_stop = io_timer_stop,
    .deadline = io_deadline,
    .reading = io_reading,
    .unacked = io_unacked,
    .peer_fin = io_peer_fin,
    .peer_gone = io_peer_gone,
    .close_notify = io_close_notify,
    .shutdown = io_shutdown,
    .park = io_park,
    .unpark = io_unpark,
    .ended = io_ended,
};

/* ---- what libevent reports --------------------------------------------- */

static void read_cb(struct bufferevent *bev, void *arg)
{
    wsr_session *s = arg;
    wsr_engine_input(s->eng, bufferevent_get_input(bev));
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    wsr_session *s = arg;
    (void)bev;
    wsr_engine_drained(s->eng);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    wsr_session *s = arg;
    (void)bev;
    if (what & BEV_EVENT_EOF) {
        wsr_engine_eof(s->eng);
        return;
    }
    if (what & BEV_EVENT_ERROR)
        wsr_engine_error(s->eng,
                         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    wsr_session *s = arg;
    (void)fd;
    (void)what;
    wsr_engine_timer(s->eng);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    wsr_session *s = arg;
    (void)fd;
    (void)what;
    wsr_engine_deadline(s->eng);
}

/* ---- lifetime ---------------------------------------------------------- */

static void session_free(wsr_session *s)
{
    if (s->eng && wsr_engine_aborted(s->eng)) {
        /* Linger on with a zero timeout: close() sends RST, not FIN. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    if (s->bev)
        bufferevent_free(s->bev);
    if (s->timer)
        event_free(s->timer);
    if (s->deadline)
        event_free(s->deadline);
    wsr_engine_del(s->eng);
    free(s);
}

static void deferred_free_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    session_free(arg);
}

static void unlink_live(wsr_session *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        s->srv->live = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

/* The ring first: GET /_runs has the transcript at once, as the text of
 * the one serialization; the disk copy is the writer's, off the loop. */
static void keep_transcript(wsr_session *s)
{
    wsr_server *srv = s->srv;
    const char *run = wsr_engine_run(s->eng);
    size_t len;
    if (!wsr_engine_recorded(s->eng))
        return;
    char name[200];
    snprintf(name, sizeof name, "%s-%lu", run[0] ? run : "norun", s->id);
    char *text = wsr_transcript_dump(wsr_engine_transcript(s->eng), &len);
    int kept = text ? wsr_runs_keep(&srv->runs, run, text, len) : -1;
    if (kept < 0)
        fprintf(stderr,
                "wsreplay-server: cannot keep transcript %s: out of "
                "memory\n",
                name);
    else if (kept > 0)
        fprintf(stderr,
                "wsreplay-server: transcript %s (%zu bytes) is larger than "
                "the /_runs ring's cap (--runs-max-bytes %zu): not kept, "
                "GET /_runs/%s answers \"evicted\": true\n",
                name, len, srv->runs.max_bytes, run[0] ? run : "ID");
    if (text && srv->writer)
        wsr_writer_submit(srv->writer, name, text, len); /* takes text */
    else
        free(text);
}

/* Nothing more is read: the input's chains go now, not with the deferred
 * free, so a crowd of sessions ending in one loop turn (a load client
 * resetting them all) does not hold one each. The read that found the
 * RST or EOF left an empty 4 KiB chain, and evbuffer_drain() frees chains
 * only when there is a byte to drain: give it one. At the front: libevent
 * freezes the input's end while it reports a read's outcome. */
static void drop_input(struct evbuffer *in)
{
    if (evbuffer_prepend(in, "", 1) == 0)
        evbuffer_drain(in, evbuffer_get_length(in));
}

/* The engine ended (its transcript says why): stop every callback, keep
 * the transcript, free the session later. Once it is kept and no longer
 * live, the requests waiting for its run hear of it: the run may be
 * complete now. */
static void io_ended(void *ctx)
{
    wsr_session *s = ctx;
    bufferevent_disable(s->bev, EV_READ | EV_WRITE);
    bufferevent_setcb(s->bev, NULL, NULL, NULL, NULL);
    evtimer_del(s->timer);
    evtimer_del(s->deadline);
    drop_input(bufferevent_get_input(s->bev));
    wsr_runs_unpark(&s->srv->runs, &s->waiter);
    keep_transcript(s);
    unlink_live(s);
    const char *run = wsr_engine_run(s->eng);
    if (wsr_engine_recorded(s->eng) && run[0])
        wsr_runs_ended(&s->srv->runs, run);
    struct timeval now = {0, 0};
    if (event_base_once(s->srv->base, -1, EV_TIMEOUT, deferred_free_cb, s,
                        &now) != 0)
        session_free(s); /* cannot defer: no callback of s is on the stack
                            * in the only caller that can hit this (shutdown) */
}

static void format_peer(const struct sockaddr *addr, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
    }
    snprintf(out, cap, addr->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
             port);
}

/* The bufferevent of a new session: plain, or TLS in the accepting state.
 * A client that drops TCP without close_notify is an EOF, not an error:
 * scenarios look at how clients end, they are not attacks. */
static struct bufferevent *new_bev(wsr_session *s, SSL_CTX *tls)
{
    if (!tls)
        return bufferevent_socket_new(s->srv->base, s->fd,
                                      BEV_OPT_CLOSE_ON_FREE);
    s->ssl = SSL_new(tls);
    if (!s->ssl)
        return NULL;
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        s->srv->base, s->fd, s->ssl, BUFFEREVENT_SSL_ACCEPTING,
        BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(s->ssl);
        s->ssl = NULL;
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

static int session_start(wsr_server *srv, evutil_socket_t fd,
                         const struct sockaddr *addr, SSL_CTX *tls,
                         const char *routed)
{
    char peer[80];
    format_peer(addr, peer, sizeof peer);
    wsr_session *s = calloc(1, sizeof *s);
    if (!s) {
        evutil_closesocket(fd);
        return -1;
    }
    s->srv = srv;
    s->fd = fd;
    s->id = ++srv->next_id;
    srv->sessions_total++;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    evutil_make_socket_nonblocking(fd);
    s->bev = new_bev(s, tls);
    s->timer = evtimer_new(srv->base, timer_cb, s);
    s->deadline = evtimer_new(srv->base, deadline_cb, s);
    if (s->bev)
        s->eng = wsr_engine_new(srv, bufferevent_get_output(s->bev),
                                tls != NULL, peer, &session_io, s);
    if (!s->bev || !s->timer || !s->deadline || !s->eng ||
        (routed && wsr_engine_route(s->eng, routed) != 0)) {
        if (!s->bev)
            evutil_closesocket(fd);
        session_free(s);
        return -1;
    }
    /* One write group must leave in one send(): lift libevent's 16 KiB cap. */
    bufferevent_set_max_single_write(s->bev, EV_SSIZE_MAX);
    bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
    bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    s->next = srv->live;
    if (srv->live)
        srv->live->prev = s;
    srv->live = s;
    wsr_engine_start(s->eng);
    return 0;
}

int wsr_session_start(wsr_server *srv, evutil_socket_t fd,
                      const struct sockaddr *addr, int addrlen, SSL_CTX *tls)
{
    (void)addrlen;
    return session_start(srv, fd, addr, tls, NULL);
}

int wsr_session_start_routed(wsr_server *srv, evutil_socket_t fd,
                             const struct sockaddr *addr, const char *target)
{
    return session_start(srv, fd, addr, NULL, target);
}

/* ---- what the server context sees ------------------------------------ */

void wsr_session_shutdown(wsr_session *s)
{
    wsr_engine_end(s->eng, "server_shutdown", "the server is stopping");
}

wsr_session *wsr_session_next(const wsr_session *s)
{
    return s->next;
}

const wsr_transcript *wsr_session_recorded(const wsr_session *s,
                                           const char **run)
{
    if (!wsr_engine_recorded(s->eng))
        return NULL;
    *run = wsr_engine_run(s->eng);
    return wsr_engine_transcript(s->eng);
}
