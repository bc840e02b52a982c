/*
 * session.c — one connection: handshake, step program, input, endings.
 *
 * The step program is a small state machine: advance() runs steps until
 * one has to wait (for the output to drain and be acknowledged, a timer,
 * or something from the client), and the callback that ends the wait calls
 * advance() again. Everything the client sends is decoded as it arrives,
 * whatever step is running, so awaits only look at counters.
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
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include "codec.h"
#include "handshake.h"
#include "runs.h"
#include "steps.h"
#include "transcript.h"
#include "wirecheck.h"

enum phase {
    PH_HANDSHAKE,   /* reading the request head */
    PH_STEPS,       /* running the scenario */
    PH_FLUSH,       /* an HTTP response is going out; then linger */
    PH_LINGER,      /* write side shut; reading until EOF */
};

enum wait {
    W_NONE,
    W_DRAIN,        /* a write piece is in the output buffer */
    W_ACK,          /* polling SIOCOUTQ until the client acknowledged it */
    W_GAP,          /* between two pieces of a split group */
    W_DELAY,
    W_AWAIT,
    W_ECHO,
    W_FLUSH_STEP,   /* echo output must drain before this step can run */
};

struct wsr_session {
    wsr_server *srv;
    struct wsr_session *prev, *next;
    unsigned long id;
    struct bufferevent *bev;
    evutil_socket_t fd;
    SSL *ssl;               /* NULL on plain TCP; owned by bev */
    wsr_transcript tr;
    bool record;            /* false for control requests */
    bool ending;
    bool abort_rst;
    char run[WSR_RUN_ID_MAX + 1];
    const wsr_scenario *sc;
    enum phase phase;
    enum wait wait;
    size_t step;            /* index of the next step to run */
    struct event *timer;    /* delay, gap, ack polling, await timeouts, linger */
    struct event *deadline; /* handshake, then session timeout */
    uint64_t wait_start_us;
    char accept[29];
    /* the write group being sent */
    struct evbuffer *group;
    const size_t *split;
    size_t n_split, piece, group_off;
    unsigned gap_ms;
    size_t piece_len;
    /* input */
    ws_decoder dec;
    ws_fragments frag;
    uint64_t in_offset;       /* client frame bytes decoded so far */
    uint64_t in_frame_start;  /* offset of the client frame being decoded */
    struct evbuffer *msg;
    uint8_t msg_opcode;
    wsr_input_seen seen;    /* what the awaits look at */
    bool shut_wr, echo_active;
    bool upgraded;          /* a 101 went out: client bytes are frames */
    bool every_byte;        /* the group being sent goes a byte per write */
    bool read_paused;
    bool tls_closed;        /* close_notify sent */
    /* output: the first place the scenario's own bytes break RFC 6455 */
    wsr_wirecheck out_check;
    size_t out_head_skip;   /* response-head bytes queued that are not frames */
    uint64_t out_encoded;   /* frame-stream bytes queued so far: out frame offsets */
    /* who closed TCP first: the first evidence of each side's FIN or RST */
    int64_t client_fin_us, server_fin_us;   /* -1 until seen */
};

static void advance(wsr_session *s);
static void session_end(wsr_session *s, const char *reason, const char *detail);
static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);
static void timer_cb(evutil_socket_t fd, short what, void *arg);
static void deadline_cb(evutil_socket_t fd, short what, void *arg);

/* ---- small helpers ----------------------------------------------------- */

static void arm_timer(wsr_session *s, unsigned ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(s->timer, &tv);
}

static void arm_deadline(wsr_session *s, unsigned ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(s->deadline, &tv);
}

static unsigned waited_ms(const wsr_session *s)
{
    return (unsigned)((wsr_now_us() - s->wait_start_us) / 1000u);
}

static void log_simple(wsr_session *s, const char *dir, const char *type)
{
    wsr_transcript_add(&s->tr, wsr_event(&s->tr, dir, type));
}

/* True once the client's FIN has reached this socket (TCP state
 * CLOSE_WAIT): the client closed TCP first. libevent reports the EOF only
 * when it next reads, so the kernel's state is the exact witness. */
static bool peer_fin_seen(const wsr_session *s)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return false;
    return ti.tcpi_state == TCP_CLOSE_WAIT;
}

static int64_t session_us(const wsr_session *s)
{
    return (int64_t)(wsr_now_us() - s->tr.start_us);
}

/* Notes the first evidence that the client closed (FIN or RST). */
static void saw_client_fin(wsr_session *s)
{
    if (s->client_fin_us < 0)
        s->client_fin_us = session_us(s);
}

/* Logs an outgoing TCP event, marking it when the client's FIN came first. */
static json_t *tcp_event(wsr_session *s, const char *type)
{
    json_t *ev = wsr_event(&s->tr, "out", type);
    if (ev && peer_fin_seen(s)) {
        json_object_set_new(ev, "peer_fin", json_true());
        saw_client_fin(s);
    }
    return ev;
}

/* The transcript's "tcp_close": which side closed TCP first, and when. */
static void record_tcp_close(wsr_session *s)
{
    if (s->client_fin_us < 0 && s->fd >= 0 && peer_fin_seen(s))
        saw_client_fin(s);
    int64_t c = s->client_fin_us, v = s->server_fin_us;
    const char *first = wsr_first_closer(c, v);
    json_t *o = json_pack("{s:o,s:o,s:o}",
                          "first", first ? json_string(first) : json_null(),
                          "client_us", c < 0 ? json_null() : json_integer(c),
                          "server_us", v < 0 ? json_null() : json_integer(v));
    if (o)
        json_object_set_new(s->tr.root, "tcp_close", o);
}

static json_t *bytes_string(const uint8_t *p, size_t len)
{
    /* An empty message's buffer may be NULL: still an empty string. */
    json_t *j = len ? json_stringn((const char *)p, len) : json_string("");
    return j ? j : json_null();
}

/* Records a frame's header and a readable excerpt of its payload. */
static void log_frame(wsr_session *s, const char *dir, const ws_frame_header *h,
                      const uint8_t *payload, size_t len, int64_t offset)
{
    json_t *ev = wsr_event(&s->tr, dir, "frame");
    if (!ev)
        return;
    if (offset >= 0)
        json_object_set_new(ev, "offset", json_integer((json_int_t)offset));
    json_object_set_new(ev, "opcode", json_integer(h->opcode));
    json_object_set_new(ev, "fin", json_boolean(h->fin));
    json_object_set_new(ev, "rsv", json_integer(h->rsv));
    json_object_set_new(ev, "masked", json_boolean(h->masked));
    json_object_set_new(ev, "length", json_integer((json_int_t)len));
    if (h->len_form)
        json_object_set_new(ev, "length_form", json_integer(h->len_form));
    if (h->opcode == WS_OP_CLOSE && h->fin) {
        if (len >= 2) {
            json_object_set_new(ev, "close_code",
                                json_integer(payload[0] << 8 | payload[1]));
            json_object_set_new(ev, "close_reason",
                                bytes_string(payload + 2, len - 2));
        }
    } else if (h->opcode == WS_OP_TEXT && len <= 256 &&
               ws_utf8_valid(payload, len)) {
        json_object_set_new(ev, "text", bytes_string(payload, len));
    } else if (len) {
        /* Control payloads (at most 125 bytes) whole: pongs are checked. */
        wsr_event_hex(ev, payload, len, h->opcode >= 8 ? 125 : 64);
    }
    wsr_transcript_add(&s->tr, ev);
}

/* ---- output ------------------------------------------------------------ */

/* An HTTP response is going out; a 101 makes every later client byte a frame. */
static void log_response(wsr_session *s, int status, size_t bytes)
{
    json_t *ev = wsr_event(&s->tr, "out", "http_response");
    json_object_set_new(ev, "status", status ? json_integer(status) : json_null());
    json_object_set_new(ev, "bytes", json_integer((json_int_t)bytes));
    wsr_transcript_add(&s->tr, ev);
    s->out_head_skip += bytes;   /* the head is queued, not a frame */
    if (status == 101)
        s->upgraded = true;
}

/* Appends one scenario item to buf, recording what it is. */
static void encode_item(wsr_session *s, const wsr_item *it, struct evbuffer *buf)
{
    if (it->kind == WSR_ITEM_RAW) {
        json_t *ev = wsr_event(&s->tr, "out", "raw");
        json_object_set_new(ev, "bytes", json_integer((json_int_t)it->len));
        wsr_event_hex(ev, it->data, it->len, 64);
        wsr_transcript_add(&s->tr, ev);
        evbuffer_add(buf, it->data, it->len);
        if (s->upgraded)
            s->out_encoded += it->len;
        return;
    }
    if (it->kind == WSR_ITEM_HANDSHAKE) {
        size_t at = evbuffer_get_length(buf);
        evbuffer_add(buf, it->data, it->len);
        if (it->accept_at != SIZE_MAX) {
            /* The slot holds 28 placeholder bytes: put the real key there. */
            uint8_t *p = evbuffer_pullup(buf, -1);
            memcpy(p + at + it->accept_at, s->accept, WSR_ACCEPT_LEN);
        }
        log_response(s, it->http_status, it->len);
        return;
    }
    ws_frame_spec spec = {
        .fin = it->fin, .rsv = it->rsv, .opcode = it->opcode,
        .mask = it->mask, .len_form = it->len_form,
        .payload = it->data, .payload_len = it->len,
    };
    memcpy(spec.mask_key, it->mask_key, 4);
    ssize_t size = ws_encoded_size(&spec);
    struct evbuffer_iovec vec;
    /* The loader checked the length form, so size is never negative here. */
    if (size < 0 || evbuffer_reserve_space(buf, size, &vec, 1) != 1)
        return;
    ssize_t n = ws_encode_frame(&spec, vec.iov_base, vec.iov_len);
    vec.iov_len = n > 0 ? (size_t)n : 0;
    evbuffer_commit_space(buf, &vec, 1);
    ws_frame_header h = {.fin = it->fin, .rsv = it->rsv, .opcode = it->opcode,
                         .masked = it->mask, .len_form = it->len_form};
    log_frame(s, "out", &h, it->data, it->len, (int64_t)s->out_encoded);
    s->out_encoded += vec.iov_len;
}

/* Feeds bytes about to leave to the wire checker; the first violation of
 * RFC 6455 in them goes to the transcript with its stream offset. */
static void check_out(wsr_session *s, const uint8_t *p, size_t len)
{
    size_t skip = s->out_head_skip < len ? s->out_head_skip : len;
    s->out_head_skip -= skip;
    if (!s->upgraded || len == skip)
        return;
    int rc = wsr_wirecheck_feed(&s->out_check, p + skip, len - skip);
    if (rc == WS_OK)
        return;
    json_t *ev = wsr_event(&s->tr, "out", "violation");
    json_object_set_new(ev, "error", json_string(wsr_wirecheck_name(rc)));
    json_object_set_new(ev, "reason", json_string(ws_strerror(rc)));
    json_object_set_new(ev, "offset",
                        json_integer((json_int_t)s->out_check.err_offset));
    if (s->out_check.err_opcode >= 0)
        json_object_set_new(ev, "opcode", json_integer(s->out_check.err_opcode));
    wsr_transcript_add(&s->tr, ev);
}

static void send_piece(wsr_session *s)
{
    size_t end = wsr_piece_len(s->split, s->n_split, s->every_byte, s->piece,
                               s->group_off, evbuffer_get_length(s->group));
    uint8_t head[64];
    ev_ssize_t got = evbuffer_copyout(s->group, head, sizeof head);
    json_t *ev = tcp_event(s, "write");
    json_object_set_new(ev, "bytes", json_integer((json_int_t)end));
    if (s->n_split || s->every_byte)
        json_object_set_new(ev, "piece", json_integer((json_int_t)s->piece));
    size_t shown = got > 0 ? (size_t)got : 0;
    wsr_event_hex(ev, head, shown < end ? shown : end, 64);
    if (end > shown)
        json_object_set_new(ev, "hex_truncated", json_true());
    wsr_transcript_add(&s->tr, ev);
    check_out(s, evbuffer_pullup(s->group, (ev_ssize_t)end), end);
    s->piece_len = end;
    s->group_off += end;
    evbuffer_remove_buffer(s->group, bufferevent_get_output(s->bev), end);
    s->wait = W_DRAIN;
}

/* Queues a write group; it is sent in pieces (one per split offset). */
static void start_group(wsr_session *s, struct evbuffer *buf,
                        const size_t *split, size_t n_split, unsigned gap_ms,
                        bool every_byte)
{
    /* One contiguous chain, so libevent hands each piece to the kernel as
     * one iovec in one writev(), however many frames the group holds. */
    evbuffer_pullup(buf, -1);
    s->group = buf;
    s->split = split;
    s->n_split = n_split;
    s->gap_ms = gap_ms;
    s->every_byte = every_byte;
    s->piece = 0;
    s->group_off = 0;
    send_piece(s);
}

static void group_done(wsr_session *s)
{
    evbuffer_free(s->group);
    s->group = NULL;
    s->wait = W_NONE;
    advance(s);
}

/*
 * A piece has left the output buffer. Waiting until the kernel's send
 * queue is empty too (everything acknowledged) keeps pieces and groups in
 * separate segments, and an RST after them cannot destroy unsent data.
 */
static void check_ack(wsr_session *s)
{
    int queued = 0;
    if (ioctl(s->fd, SIOCOUTQ, &queued) != 0)
        queued = 0;
    if (wsr_ack_wait_more(queued, waited_ms(s), s->srv->cfg.ack_timeout_ms)) {
        s->wait = W_ACK;
        arm_timer(s, 1);
        return;
    }
    json_t *ev = wsr_event(&s->tr, "out", queued > 0 ? "ack_timeout" : "acked");
    json_object_set_new(ev, "bytes", json_integer((json_int_t)s->piece_len));
    if (queued > 0)
        json_object_set_new(ev, "unacked", json_integer(queued));
    wsr_transcript_add(&s->tr, ev);
    if (s->phase != PH_STEPS)
        return;
    s->piece++;
    if (evbuffer_get_length(s->group) == 0) {
        group_done(s);
    } else if (s->gap_ms) {
        s->wait = W_GAP;
        arm_timer(s, s->gap_ms);
    } else {
        send_piece(s);
    }
}

static void write_frame_now(wsr_session *s, const uint8_t *payload,
                                size_t len, uint8_t opcode)
{
    ws_frame_spec spec = {.fin = true, .opcode = opcode, .payload = payload,
                          .payload_len = len};
    ssize_t size = ws_encoded_size(&spec);
    uint8_t *buf = size > 0 ? malloc((size_t)size) : NULL;
    if (!buf)
        return;
    ssize_t n = ws_encode_frame(&spec, buf, (size_t)size);
    ws_frame_header h = {.fin = true, .opcode = opcode};
    log_frame(s, "out", &h, payload, len, (int64_t)s->out_encoded);
    s->out_encoded += (uint64_t)n;
    json_t *ev = wsr_event(&s->tr, "out", "write");
    json_object_set_new(ev, "bytes", json_integer((json_int_t)n));
    wsr_event_hex(ev, buf, (size_t)n, 64);
    wsr_transcript_add(&s->tr, ev);
    check_out(s, buf, (size_t)n);
    bufferevent_write(s->bev, buf, (size_t)n);
    free(buf);
}

/* ---- the step program -------------------------------------------------- */

static void log_step(wsr_session *s, size_t index, const char *name)
{
    json_t *ev = wsr_event(&s->tr, NULL, "step");
    json_object_set_new(ev, "index", json_integer((json_int_t)index));
    json_object_set_new(ev, "step", json_string(name));
    wsr_transcript_add(&s->tr, ev);
}

static void await_done(wsr_session *s, const char *what, const char *result)
{
    json_t *ev = wsr_event(&s->tr, NULL, "await_done");
    json_object_set_new(ev, "what", json_string(what));
    json_object_set_new(ev, "result", json_string(result));
    json_object_set_new(ev, "waited_ms", json_integer(waited_ms(s)));
    wsr_transcript_add(&s->tr, ev);
}

/* Called whenever input changed the counters. */
static void check_waits(wsr_session *s)
{
    if (s->phase != PH_STEPS || s->ending)
        return;
    const wsr_step *st = &s->sc->steps[s->step - 1];
    if (s->wait == W_AWAIT) {
        const char *r = wsr_await_result(st, &s->seen);
        if (!r)
            return;
        evtimer_del(s->timer);
        await_done(s, wsr_await_name(st->await_what), r);
        s->wait = W_NONE;
        advance(s);
    } else if (s->wait == W_ECHO && wsr_echo_result(&s->seen)) {
        evtimer_del(s->timer);
        s->echo_active = false;
        await_done(s, "echo", wsr_echo_result(&s->seen));
        s->wait = W_NONE;
        advance(s);
    }
}

/* TLS close_notify: SSL_shutdown writes the alert straight to the socket
 * (the output buffer is empty whenever a step runs). */
static void send_close_notify(wsr_session *s)
{
    if (!s->ssl || s->tls_closed)
        return;
    s->tls_closed = true;
    int rc = SSL_shutdown(s->ssl);
    json_t *ev = wsr_event(&s->tr, "out", "tls_close_notify");
    if (rc < 0)
        json_object_set_new(ev, "error", json_integer(SSL_get_error(s->ssl, rc)));
    wsr_transcript_add(&s->tr, ev);
}

static void do_shutdown(wsr_session *s, enum wsr_shutdown_how how)
{
    if (s->shut_wr)
        return;
    if (how == WSR_SHUT_WRITE)
        send_close_notify(s);
    json_t *ev = tcp_event(s, "tcp_shutdown");
    if (s->server_fin_us < 0)
        s->server_fin_us = session_us(s);
    shutdown(s->fd, SHUT_WR);
    s->shut_wr = true;
    wsr_transcript_add(&s->tr, ev);
}

static void set_reading(wsr_session *s, bool on)
{
    if (on == !s->read_paused)
        return;
    s->read_paused = !on;
    if (on)
        bufferevent_enable(s->bev, EV_READ);
    else
        bufferevent_disable(s->bev, EV_READ);
    log_simple(s, "in", on ? "read_resumed" : "read_paused");
}

/* Half-close, then read until the client's EOF or the linger timeout.
 * An HTTP error response ends here too; its end reason is already set. */
static void start_linger(wsr_session *s)
{
    do_shutdown(s, WSR_SHUT_WRITE);
    set_reading(s, true);
    s->phase = PH_LINGER;
    s->wait = W_NONE;
    if (s->seen.eof) {
        session_end(s, "complete", "steps done, client closed");
        return;
    }
    s->wait_start_us = wsr_now_us();
    arm_timer(s, s->srv->cfg.linger_ms);
}

static void finish_steps(wsr_session *s)
{
    log_simple(s, NULL, "steps_done");
    start_linger(s);
}

/* Runs one step; returns true if it has to wait. */
static bool run_step(wsr_session *s, const wsr_step *st)
{
    bool output_pending = evbuffer_get_length(bufferevent_get_output(s->bev));
    if (output_pending && wsr_step_needs_empty_output(st->kind)) {
        /* Echoed frames are still queued: let them go first. */
        s->step--;
        s->wait = W_FLUSH_STEP;
        return true;
    }
    log_step(s, s->step - 1, wsr_step_name(st->kind));
    s->wait_start_us = wsr_now_us();
    switch (st->kind) {
    case WSR_STEP_WRITE: {
        struct evbuffer *buf = evbuffer_new();
        for (size_t i = 0; i < st->n_items; i++)
            encode_item(s, &st->items[i], buf);
        start_group(s, buf, st->split, st->n_split, st->gap_ms,
                    st->split_every_byte);
        return true;
    }
    case WSR_STEP_DELAY: {
        /* A uniform random 0..jitter ms on top. */
        uint32_t r = 0;
        if (st->jitter_ms)
            evutil_secure_rng_get_bytes(&r, sizeof r);
        unsigned ms = wsr_jittered(st->ms, st->jitter_ms, r);
        if (st->jitter_ms) {
            json_t *ev = wsr_event(&s->tr, NULL, "delay");
            json_object_set_new(ev, "ms", json_integer(ms));
            wsr_transcript_add(&s->tr, ev);
        }
        s->wait = W_DELAY;
        arm_timer(s, ms);
        return true;
    }
    case WSR_STEP_AWAIT: {
        s->seen.msgs_at_step = s->seen.msgs;
        const char *r = wsr_await_result(st, &s->seen);
        if (r) {
            await_done(s, wsr_await_name(st->await_what), r);
            return false;
        }
        s->wait = W_AWAIT;
        arm_timer(s, st->ms);
        return true;
    }
    case WSR_STEP_ECHO:
        if (wsr_echo_result(&s->seen)) {
            await_done(s, "echo", wsr_echo_result(&s->seen));
            return false;
        }
        s->echo_active = true;
        s->wait = W_ECHO;
        arm_timer(s, st->ms);
        return true;
    case WSR_STEP_SHUTDOWN:
        do_shutdown(s, st->shutdown_how);
        return false;
    case WSR_STEP_READ:
        set_reading(s, st->read_on);
        return false;
    case WSR_STEP_TLS:
        send_close_notify(s);
        return false;
    case WSR_STEP_ABORT:
        s->abort_rst = true;
        wsr_transcript_add(&s->tr, tcp_event(s, "tcp_rst"));
        if (s->server_fin_us < 0)
            s->server_fin_us = session_us(s);
        session_end(s, "aborted", "the scenario ended the connection with RST");
        return true;
    }
    return false;
}

static void advance(wsr_session *s)
{
    while (!s->ending && s->phase == PH_STEPS) {
        if (s->step >= s->sc->n_steps) {
            finish_steps(s);
            return;
        }
        const wsr_step *st = &s->sc->steps[s->step++];
        if (run_step(s, st))
            return;
    }
}

/* ---- input: frames ----------------------------------------------------- */

static void protocol_error(wsr_session *s, int err, const uint8_t *p,
                           size_t len)
{
    bool limit = err == WS_ERR_TOO_BIG;
    json_t *ev = wsr_event(&s->tr, "in", limit ? "limit" : "protocol_error");
    json_object_set_new(ev, "reason", json_string(ws_strerror(err)));
    json_object_set_new(ev, "error", json_string(wsr_wirecheck_name(err)));
    json_object_set_new(ev, "offset", json_integer((json_int_t)s->in_frame_start));
    if (s->dec.hdr_have)
        wsr_event_hex(ev, s->dec.hdr, s->dec.hdr_have, 14);
    else
        wsr_event_hex(ev, p, len, 32);
    wsr_transcript_add(&s->tr, ev);
    session_end(s, limit ? "limit" : "protocol_error", ws_strerror(err));
}

/* A message's content, as the adapters report theirs: text or hex up to
 * 4096 bytes, a SHA-256 beyond, so expectations can check what arrived. */
static void log_content(json_t *ev, uint8_t opcode, const uint8_t *p, size_t len)
{
    if (len > 4096) {
        static const char digits[] = "0123456789abcdef";
        unsigned char md[SHA256_DIGEST_LENGTH];
        char hex[2 * SHA256_DIGEST_LENGTH + 1];
        SHA256(p, len, md);
        for (size_t i = 0; i < sizeof md; i++) {
            hex[2 * i] = digits[md[i] >> 4];
            hex[2 * i + 1] = digits[md[i] & 15];
        }
        hex[sizeof hex - 1] = '\0';
        json_object_set_new(ev, "sha256", json_string(hex));
    } else if (opcode == WS_OP_TEXT && ws_utf8_valid(p, len)) {
        json_object_set_new(ev, "text", bytes_string(p, len));
    } else {
        wsr_event_hex(ev, p, len, 4096);
    }
}

static void message_done(wsr_session *s)
{
    size_t len = evbuffer_get_length(s->msg);
    uint8_t *p = evbuffer_pullup(s->msg, -1);
    s->seen.msgs++;
    json_t *ev = wsr_event(&s->tr, "in", "message");
    json_object_set_new(ev, "opcode", json_integer(s->msg_opcode));
    json_object_set_new(ev, "length", json_integer((json_int_t)len));
    if (s->msg_opcode == WS_OP_TEXT && !ws_utf8_valid(p, len))
        json_object_set_new(ev, "utf8_valid", json_false());
    log_content(ev, s->msg_opcode, p, len);
    wsr_transcript_add(&s->tr, ev);
    if (s->echo_active) {
        if (evbuffer_get_length(bufferevent_get_output(s->bev)) + len >
            s->srv->cfg.max_output) {
            session_end(s, "limit", "echo output over max_output: the client "
                                    "sends faster than it reads");
            return;
        }
        write_frame_now(s, p, len, s->msg_opcode);
    }
    evbuffer_drain(s->msg, len);
}

static void on_frame(wsr_session *s, const ws_frame *f)
{
    log_frame(s, "in", &f->h, f->payload, f->payload_len,
              (int64_t)s->in_frame_start);
    int rc = ws_fragments_step(&s->frag, &f->h);
    if (rc != WS_OK) {
        protocol_error(s, rc, NULL, 0);
        return;
    }
    switch (f->h.opcode) {
    case WS_OP_CLOSE:
        s->seen.close = true;
        check_waits(s);
        return;
    case WS_OP_PING:
    case WS_OP_PONG:
        /* Recorded and counted; the scenario decides what goes back. */
        if (f->h.opcode == WS_OP_PING)
            s->seen.pings++;
        else
            s->seen.pongs++;
        check_waits(s);
        return;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        s->msg_opcode = f->h.opcode;
        break;
    default:
        break;
    }
    if (evbuffer_get_length(s->msg) + f->payload_len > s->srv->cfg.max_message) {
        json_t *ev = wsr_event(&s->tr, "in", "limit");
        json_object_set_new(ev, "limit", json_string("max_message"));
        json_object_set_new(ev, "value",
                            json_integer((json_int_t)s->srv->cfg.max_message));
        wsr_transcript_add(&s->tr, ev);
        session_end(s, "limit", "client message over max_message");
        return;
    }
    evbuffer_add(s->msg, f->payload, f->payload_len);
    if (f->h.fin) {
        message_done(s);
        check_waits(s);
    }
}

static void on_frame_input(wsr_session *s, struct evbuffer *in)
{
    size_t len;
    while (!s->ending && (len = evbuffer_get_contiguous_space(in)) > 0) {
        const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)len);
        size_t off = 0;
        while (off < len && !s->ending) {
            ws_frame f;
            int done = 0;
            ssize_t n = ws_decoder_feed(&s->dec, p + off, len - off, &f, &done);
            if (n < 0) {
                protocol_error(s, (int)n, p + off, len - off);
                return;
            }
            off += (size_t)n;
            s->in_offset += (uint64_t)n;
            if (done) {
                on_frame(s, &f);
                s->in_frame_start = s->in_offset;
            }
        }
        evbuffer_drain(in, len);
    }
}

/* ---- input: the request head ------------------------------------------- */

static void respond_and_close(wsr_session *s, int status, const char *reason,
                              const char *end_reason)
{
    char buf[1024];
    int n = ws_build_error_response(buf, sizeof buf, status, reason);
    json_t *ev = wsr_event(&s->tr, "out", "http_response");
    json_object_set_new(ev, "status", json_integer(status));
    json_object_set_new(ev, "reason", json_string(reason));
    wsr_transcript_add(&s->tr, ev);
    wsr_transcript_end(&s->tr, end_reason, reason);
    if (n > 0)
        bufferevent_write(s->bev, buf, (size_t)n);
    s->phase = PH_FLUSH;
}

/* The run=ID of the query tags the transcript; false if it is invalid. */
static bool parse_run(wsr_session *s, const char *q, size_t len)
{
    bool ok = wsr_run_from_query(q, len, s->run);
    if (s->run[0])
        wsr_transcript_set(&s->tr, "run", s->run);
    return ok;
}

static void serve_control(wsr_session *s, const char *id, size_t len)
{
    const char *reason = NULL;
    s->record = false;
    int status = wsr_runs_serve(s->srv, id, len,
                                bufferevent_get_output(s->bev), &reason);
    if (status != 200) {
        respond_and_close(s, status, reason, "bad_request");
        return;
    }
    wsr_transcript_end(&s->tr, "complete", "control request");
    s->phase = PH_FLUSH;
}

static void log_request(wsr_session *s, const ws_http_request *req, int n)
{
    json_t *ev = wsr_event(&s->tr, "in", "http_request");
    json_object_set_new(ev, "bytes", json_integer(n));
    json_object_set_new(ev, "method",
                        json_stringn(req->method.p, req->method.len));
    json_object_set_new(ev, "target",
                        json_stringn(req->target.p, req->target.len));
    json_t *headers = json_array();
    for (size_t i = 0; i < req->num_headers; i++) {
        json_t *pair = json_array();
        json_array_append_new(pair, bytes_string((const uint8_t *)req->headers[i].name.p,
                                                 req->headers[i].name.len));
        json_array_append_new(pair, bytes_string((const uint8_t *)req->headers[i].value.p,
                                                 req->headers[i].value.len));
        json_array_append_new(headers, pair);
    }
    json_object_set_new(ev, "headers", headers);
    wsr_transcript_add(&s->tr, ev);
}

static void accept_upgrade(wsr_session *s, ws_slice key, const char *path,
                           size_t path_len)
{
    const wsr_scenario *sc = wsr_scenario_set_find(s->srv->scenarios, path,
                                                   path_len);
    if (!sc) {
        char reason[300];
        snprintf(reason, sizeof reason, "no scenario named '%.*s'",
                 (int)(path_len > 200 ? 200 : path_len), path);
        respond_and_close(s, 404, reason, "not_found");
        return;
    }
    s->sc = sc;
    wsr_transcript_set(&s->tr, "scenario", sc->name);
    if (sc->tls_only && !s->ssl) {
        respond_and_close(s, 400, "this scenario runs only over wss://",
                          "bad_request");
        return;
    }
    if (ws_accept_key(key, s->accept) != 0) {
        respond_and_close(s, 500, "cannot compute the accept key", "bad_request");
        return;
    }
    evtimer_del(s->deadline);
    arm_deadline(s, s->srv->cfg.session_timeout_ms);
    s->phase = PH_STEPS;
    s->step = 0;
    if (!sc->handshake_in_group && !sc->handshake_manual) {
        char resp[256];
        int n = ws_build_101(resp, sizeof resp, s->accept);
        struct evbuffer *buf = evbuffer_new();
        s->wait_start_us = wsr_now_us();
        log_response(s, 101, (size_t)n);
        evbuffer_add(buf, resp, (size_t)n);
        start_group(s, buf, NULL, 0, 0, false);
    } else {
        advance(s);
    }
}

static void route_request(wsr_session *s, const ws_http_request *req)
{
    wsr_target t;
    wsr_target_parse(req->target.p, req->target.len, &t);
    if (t.kind == WSR_TARGET_CONTROL) {
        serve_control(s, t.name, t.name_len);
        return;
    }
    if (t.query && !parse_run(s, t.query, t.query_len)) {
        respond_and_close(s, 400, "invalid run id: use letters, digits, "
                                  "'-', '_' and '.', at most 127", "bad_request");
        return;
    }
    ws_slice key;
    const char *reason;
    int status = ws_handshake_check(req, &key, &reason);
    if (status != 0) {
        respond_and_close(s, status, reason, "bad_request");
        return;
    }
    if (t.kind == WSR_TARGET_NO_SCENARIO) {
        respond_and_close(s, 404, "no scenario in the request path",
                          "not_found");
        return;
    }
    accept_upgrade(s, key, t.name, t.name_len);
}

static void on_handshake_input(wsr_session *s, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in);
    size_t max = s->srv->cfg.max_handshake;
    size_t look = len < max ? len : max;
    const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
    ws_http_request req;
    int n = ws_http_parse_request(p, look, &req);
    if (n == WS_HTTP_INCOMPLETE && look < max)
        return;
    if (n < 0) {
        bool big = n == WS_HTTP_INCOMPLETE;
        json_t *ev = wsr_event(&s->tr, "in", big ? "limit" : "protocol_error");
        json_object_set_new(ev, "reason",
                            json_string(big ? "request head over max_handshake"
                                            : "malformed HTTP request"));
        wsr_event_hex(ev, (const uint8_t *)p, look, 32);
        wsr_transcript_add(&s->tr, ev);
        evbuffer_drain(in, len);
        respond_and_close(s, 400, big ? "request head too large"
                                      : "malformed HTTP request",
                          big ? "limit" : "bad_request");
        return;
    }
    log_request(s, &req, n);
    route_request(s, &req);
    /* The request head slices point into the input buffer: drain after use. */
    evbuffer_drain(in, (size_t)n);
    if (s->phase == PH_STEPS && !s->ending && s->upgraded)
        on_frame_input(s, in);   /* frames sent right behind the request */
}

/* ---- callbacks --------------------------------------------------------- */

static void read_cb(struct bufferevent *bev, void *arg)
{
    wsr_session *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (s->ending)
        return;
    if (s->phase == PH_HANDSHAKE) {
        on_handshake_input(s, in);
    } else if (s->sc && s->phase != PH_FLUSH && s->upgraded) {
        on_frame_input(s, in);
    } else {
        size_t n = evbuffer_get_length(in);
        if (n && s->sc && s->phase == PH_STEPS) {
            /* No 101 went out: these are not frames. */
            json_t *ev = wsr_event(&s->tr, "in", "ignored");
            json_object_set_new(ev, "bytes", json_integer((json_int_t)n));
            wsr_transcript_add(&s->tr, ev);
        }
        evbuffer_drain(in, n);
    }
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    wsr_session *s = arg;
    (void)bev;
    if (s->ending)
        return;
    if (s->phase == PH_FLUSH) {
        start_linger(s);
    } else if (s->wait == W_DRAIN) {
        s->wait_start_us = wsr_now_us();
        check_ack(s);
    } else if (s->wait == W_FLUSH_STEP) {
        s->wait = W_NONE;
        advance(s);
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    wsr_session *s = arg;
    (void)bev;
    if (s->ending)
        return;
    if (what & BEV_EVENT_EOF) {
        s->seen.eof = true;
        log_simple(s, "in", "tcp_eof");
        saw_client_fin(s);
        if (s->phase == PH_HANDSHAKE)
            session_end(s, "peer_closed", "the client closed during the handshake");
        else if (s->phase == PH_LINGER)
            session_end(s, "complete", "steps done, client closed");
        else
            check_waits(s);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        int err = EVUTIL_SOCKET_ERROR();
        saw_client_fin(s);
        json_t *ev = wsr_event(&s->tr, "in", "tcp_error");
        json_object_set_new(ev, "error", json_string(evutil_socket_error_to_string(err)));
        wsr_transcript_add(&s->tr, ev);
        session_end(s, "peer_closed", evutil_socket_error_to_string(err));
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    wsr_session *s = arg;
    (void)fd;
    (void)what;
    if (s->ending)
        return;
    if (s->phase == PH_LINGER) {
        session_end(s, "complete", "linger timeout: the client kept its side open");
        return;
    }
    const wsr_step *st = s->step ? &s->sc->steps[s->step - 1] : NULL;
    switch (s->wait) {
    case W_ACK:
        check_ack(s);
        return;
    case W_GAP:
        send_piece(s);
        return;
    case W_DELAY:
        s->wait = W_NONE;
        advance(s);
        return;
    case W_AWAIT:
        await_done(s, wsr_await_name(st->await_what), "timeout");
        s->wait = W_NONE;
        advance(s);
        return;
    case W_ECHO:
        s->echo_active = false;
        await_done(s, "echo", "timeout");
        s->wait = W_NONE;
        advance(s);
        return;
    default:
        return;
    }
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    wsr_session *s = arg;
    (void)fd;
    (void)what;
    if (s->ending)
        return;
    bool hs = s->phase == PH_HANDSHAKE;
    json_t *ev = wsr_event(&s->tr, NULL, "limit");
    json_object_set_new(ev, "limit", json_string(hs ? "handshake_timeout_ms"
                                                    : "session_timeout_ms"));
    json_object_set_new(ev, "value", json_integer(hs ? s->srv->cfg.handshake_timeout_ms
                                                     : s->srv->cfg.session_timeout_ms));
    wsr_transcript_add(&s->tr, ev);
    session_end(s, "timeout", hs ? "no complete request head in time"
                                 : "the session ran past its time limit");
}

/* ---- lifetime ---------------------------------------------------------- */

static void session_free(wsr_session *s)
{
    if (s->abort_rst) {
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
    if (s->group)
        evbuffer_free(s->group);
    if (s->msg)
        evbuffer_free(s->msg);
    ws_decoder_free(&s->dec);
    wsr_wirecheck_free(&s->out_check);
    wsr_transcript_free(&s->tr);
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

static void keep_transcript(wsr_session *s)
{
    wsr_server *srv = s->srv;
    if (!s->record)
        return;
    if (srv->cfg.transcript_dir) {
        char name[200];
        snprintf(name, sizeof name, "%s-%lu", s->run[0] ? s->run : "norun", s->id);
        if (wsr_transcript_write(&s->tr, srv->cfg.transcript_dir, name) != 0)
            fprintf(stderr, "wsreplay-server: cannot write transcript %s: %s\n",
                    name, strerror(errno));
    }
    wsr_runs_keep(&srv->runs, s->tr.root);
}

/* Ends the session: records why, stops every callback, frees it later. */
static void session_end(wsr_session *s, const char *reason, const char *detail)
{
    if (s->ending)
        return;
    s->ending = true;
    if (s->upgraded)
        record_tcp_close(s);
    log_simple(s, NULL, "closed");
    wsr_transcript_end(&s->tr, reason, detail);
    bufferevent_disable(s->bev, EV_READ | EV_WRITE);
    bufferevent_setcb(s->bev, NULL, NULL, NULL, NULL);
    evtimer_del(s->timer);
    evtimer_del(s->deadline);
    keep_transcript(s);
    unlink_live(s);
    struct timeval now = {0, 0};
    if (event_base_once(s->srv->base, -1, EV_TIMEOUT, deferred_free_cb, s,
                        &now) != 0)
        session_free(s);   /* cannot defer: no callback of s is on the stack
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
    snprintf(out, cap, addr->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}

/* The bufferevent of a new session: plain, or TLS in the accepting state.
 * A client that drops TCP without close_notify is an EOF, not an error:
 * scenarios look at how clients end, they are not attacks. */
static struct bufferevent *new_bev(wsr_session *s, SSL_CTX *tls)
{
    if (!tls)
        return bufferevent_socket_new(s->srv->base, s->fd, BEV_OPT_CLOSE_ON_FREE);
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

int wsr_session_start(wsr_server *srv, evutil_socket_t fd,
                      const struct sockaddr *addr, int addrlen, SSL_CTX *tls)
{
    char peer[80];
    (void)addrlen;
    format_peer(addr, peer, sizeof peer);
    wsr_session *s = calloc(1, sizeof *s);
    if (!s || wsr_transcript_init(&s->tr, peer) != 0) {
        free(s);
        evutil_closesocket(fd);
        return -1;
    }
    s->srv = srv;
    s->fd = fd;
    s->id = ++srv->next_id;
    s->record = true;
    srv->sessions_total++;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    evutil_make_socket_nonblocking(fd);
    s->bev = new_bev(s, tls);
    wsr_transcript_set(&s->tr, "transport", tls ? "wss" : "ws");
    s->timer = evtimer_new(srv->base, timer_cb, s);
    s->deadline = evtimer_new(srv->base, deadline_cb, s);
    s->msg = evbuffer_new();
    s->client_fin_us = s->server_fin_us = -1;
    if (!s->bev || !s->timer || !s->deadline || !s->msg) {
        if (!s->bev)
            evutil_closesocket(fd);
        session_free(s);
        return -1;
    }
    ws_decoder_init(&s->dec, srv->cfg.max_frame, WS_DEC_REQUIRE_MASK);
    wsr_wirecheck_init(&s->out_check);
    /* One write group must leave in one send(): lift libevent's 16 KiB cap. */
    bufferevent_set_max_single_write(s->bev, EV_SSIZE_MAX);
    bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
    bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    s->next = srv->live;
    if (srv->live)
        srv->live->prev = s;
    srv->live = s;
    log_simple(s, "in", "tcp_accept");
    arm_deadline(s, srv->cfg.handshake_timeout_ms);
    return 0;
}

/* ---- what the server context sees ------------------------------------ */

void wsr_session_shutdown(wsr_session *s)
{
    session_end(s, "server_shutdown", "the server is stopping");
}

wsr_session *wsr_session_next(const wsr_session *s)
{
    return s->next;
}

json_t *wsr_session_recorded(const wsr_session *s)
{
    return s->record ? s->tr.root : NULL;
}
