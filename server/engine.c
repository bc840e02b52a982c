/*
 * engine.c — one connection's protocol and step program, without sockets.
 *
 * The step program is a small state machine: advance() runs steps until
 * one has to wait (for the output to drain and be acknowledged, a timer,
 * or something from the client), and the entry point that ends the wait
 * calls advance() again. Everything the client sends is decoded as it
 * arrives, whatever step is running, so awaits only look at counters.
 * Every outside effect goes through the io hooks (engine.h), at once.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>

#include "codec.h"
#include "deflate.h"
#include "handshake.h"
#include "negotiation.h"
#include "runs.h"
#include "steps.h"
#include "wirecheck.h"

enum phase {
    PH_HANDSHAKE, /* reading the request head */
    PH_STEPS,     /* running the scenario */
    PH_FLUSH,     /* an HTTP response is going out; then linger */
    PH_LINGER,    /* write side shut; reading until EOF */
    PH_PARKED,    /* GET /_runs/ID?wait_ms=N: until the run completes */
};

enum wait {
    W_NONE,
    W_DRAIN, /* a write piece is in the output buffer */
    W_ACK,   /* polling SIOCOUTQ until the client acknowledged it */
    W_GAP,   /* between two pieces of a split group */
    W_DELAY,
    W_AWAIT,
    W_ECHO,
    W_FLUSH_STEP, /* echo output must drain before this step can run */
    W_TRIP,       /* round_trips: waiting for the echo of a trip */
};

struct wsr_engine {
    wsr_server *srv;         /* mutable only for srv->buffered */
    struct evbuffer *out;    /* borrowed: what the shell sends */
    const wsr_engine_io *io; /* borrowed */
    void *ctx;               /* for the io hooks */
    bool tls;                /* wss:// */
    wsr_transcript tr;
    bool record; /* false for control requests */
    bool ending;
    bool abort_rst;
    char *run;      /* the request's run id (owned), NULL when it named none */
    char *wait_run; /* the run a control request asks for (owned) */
    char *routed;   /* --handoff: the target to route by instead of the
                     * request's (owned), NULL for a plain connection */
    const wsr_scenario *sc;
    enum phase phase;
    enum wait wait;
    size_t step; /* index of the next step to run */
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
    uint64_t in_offset;      /* client frame bytes decoded so far */
    uint64_t in_frame_start; /* offset of the client frame being decoded */
    struct evbuffer *msg;    /* the client's message so far; made by its first
                           * data frame (an idle session has none) */
    size_t buffered;         /* what this session counts in srv->buffered */
    uint8_t msg_opcode;
    bool msg_compressed; /* its first frame had RSV1 (permessage-deflate) */
    /* permessage-deflate: the request's offers, ?deflate=accept, what the
     * 101 that went out negotiated, and the client's stream */
    wsr_offers offers;
    bool deflate_url;
    wsr_negotiated pmd;
    wsr_inflater *inflater;
    /* the stream of the scenario's items deflated at the write (made at
     * the first): this session's own, through its messages in order */
    wsr_deflater *deflater;
    wsr_input_seen seen; /* what the awaits look at */
    bool shut_wr, echo_active;
    bool upgraded; /* a 101 went out: client bytes are frames */
    size_t every;  /* the group being sent goes in pieces of this many bytes
                   * (1: a byte per write; 0: not so) */
    /* ?vary=: the run's variant of how write groups travel (steps.h), and
     * where the outgoing frame stream is, for its frame cuts */
    enum wsr_vary vary;
    bool cut_frames, cut_header; /* the group being sent: frame cuts */
    wsr_cutter cutter;
    bool read_paused;
    bool tls_closed; /* close_notify sent */
    /* output: the first place the scenario's own bytes break RFC 6455 */
    wsr_wirecheck out_check;
    size_t out_head_skip; /* response-head bytes queued that are not frames */
    uint64_t
        out_encoded; /* frame-stream bytes queued so far: out frame offsets */
    /* who closed TCP first: the first evidence of each side's FIN or RST */
    int64_t client_fin_us, server_fin_us; /* -1 until seen */
    /* frames each way so far, the last one's opcode (-1: none), whether a
     * close frame went out; and all of it when TCP was first closed */
    unsigned frames_in, frames_out;
    int last_in, last_out;
    bool close_out;
    bool closed_noted;
    json_t *at_tcp_close;
    /* round_trips: the trip awaited (0-based), when its message went, the
     * RTTs (µs) of the trips done, echoes that differed */
    bool rt_active;
    unsigned rt_index, rt_base, rt_done, rt_mismatched, rt_first_mismatch;
    uint64_t rt_sent_us;
    uint64_t *rt_us;
};

static void advance(wsr_engine *e);

/* A macro's value as a string literal, for messages that quote a limit. */
#define WSR_STR(x) #x
#define WSR_XSTR(x) WSR_STR(x)

static const char bad_wait_ms[] =
    "invalid wait_ms: an integer from 0 to " WSR_XSTR(
        WSR_RUNS_WAIT_MAX_MS) " (milliseconds)";
static const char too_many_waiters[] =
    "too many requests wait on /_runs already (at most " WSR_XSTR(
        WSR_RUNS_WAITERS_MAX) ")";

/* ---- small helpers ----------------------------------------------------- */

/* The step timer: delay, gap, ACK polling, await timeouts, linger. */
static void arm_timer(wsr_engine *e, unsigned ms)
{
    e->io->timer(e->ctx, ms);
}

static void stop_timer(wsr_engine *e)
{
    e->io->timer_stop(e->ctx);
}

static uint64_t now_us(const wsr_engine *e)
{
    return e->io->now_us(e->ctx);
}

static unsigned waited_ms(const wsr_engine *e)
{
    return (unsigned)((now_us(e) - e->wait_start_us) / 1000u);
}

static void log_simple(wsr_engine *e, const char *dir, const char *type)
{
    wsr_transcript_add(&e->tr, wsr_event(&e->tr, dir, type));
}

/* True once the client's FIN has reached the socket: the client closed
 * TCP first. The EOF is read only later, so the shell asks the kernel. */
static bool peer_fin_seen(const wsr_engine *e)
{
    return e->io->peer_fin(e->ctx);
}

static int64_t session_us(const wsr_engine *e)
{
    return (int64_t)(now_us(e) - e->tr.start_us);
}

/* What had passed when TCP was first closed, by either side: the
 * close-cleanliness facts of the transcript's tcp_close (RFC 6455 7.1.1,
 * 7.1.4). Frames the server had queued count as sent. */
static void note_tcp_closed(wsr_engine *e)
{
    if (e->closed_noted)
        return;
    e->closed_noted = true;
    bool clean = e->close_out && e->seen.close;
    e->at_tcp_close = json_pack(
        "{s:I,s:I,s:o,s:o,s:b,s:b,s:b}", "frames_in", (json_int_t)e->frames_in,
        "frames_out", (json_int_t)e->frames_out, "last_in",
        e->last_in < 0 ? json_null() : json_integer(e->last_in), "last_out",
        e->last_out < 0 ? json_null() : json_integer(e->last_out),
        "close_received", (int)e->seen.close, "close_sent", (int)e->close_out,
        "clean", (int)clean);
}

/* Notes the first evidence that the client closed (FIN or RST). */
static void saw_client_fin(wsr_engine *e)
{
    if (e->client_fin_us < 0) {
        note_tcp_closed(e);
        e->client_fin_us = session_us(e);
    }
}

/* Notes the server's own FIN or RST. */
static void saw_server_fin(wsr_engine *e)
{
    if (e->server_fin_us < 0) {
        note_tcp_closed(e);
        e->server_fin_us = session_us(e);
    }
}

/* Logs an outgoing TCP event, marking it when the client's FIN came first. */
static json_t *tcp_event(wsr_engine *e, const char *type)
{
    json_t *ev = wsr_event(&e->tr, "out", type);
    if (ev && peer_fin_seen(e)) {
        json_object_set_new(ev, "peer_fin", json_true());
        saw_client_fin(e);
    }
    return ev;
}

/* The transcript's "tcp_close": which side closed TCP first, and when. */
static void record_tcp_close(wsr_engine *e)
{
    if (e->client_fin_us < 0 && peer_fin_seen(e))
        saw_client_fin(e);
    int64_t c = e->client_fin_us, v = e->server_fin_us;
    const char *first = wsr_first_closer(c, v);
    json_t *o = json_pack("{s:o,s:o,s:o}", "first",
                          first ? json_string(first) : json_null(), "client_us",
                          c < 0 ? json_null() : json_integer(c), "server_us",
                          v < 0 ? json_null() : json_integer(v));
    /* Autobahn's words: droppedByMe (the server closed first), wasClean
     * (both close frames before TCP closed). */
    if (o && e->at_tcp_close)
        json_object_update(o, e->at_tcp_close);
    wsr_transcript_set_new(&e->tr, "tcp_close", o);
}

static json_t *bytes_string(const uint8_t *p, size_t len)
{
    /* An empty message's buffer may be NULL: still an empty string. */
    json_t *j = len ? json_stringn((const char *)p, len) : json_string("");
    return j ? j : json_null();
}

/* Records a frame's header and a readable excerpt of its payload. */
static void log_frame(wsr_engine *e, const char *dir, const ws_frame_header *h,
                      const uint8_t *payload, size_t len, int64_t offset)
{
    bool in = strcmp(dir, "in") == 0;
    if (in) {
        e->frames_in++;
        e->last_in = h->opcode;
    } else {
        e->frames_out++;
        e->last_out = h->opcode;
        e->close_out = e->close_out || h->opcode == WS_OP_CLOSE;
    }
    json_t *ev = wsr_event(&e->tr, dir, "frame");
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
    wsr_transcript_add(&e->tr, ev);
}

/* ---- output ------------------------------------------------------------ */

/* What the 101 that goes out negotiated (RFC 7692 5): the transcript's
 * deflate event (when there was an offer or an answer), and with
 * permessage-deflate in effect, the client's
 * stream and the RSV1 rules of both directions. */
static void settle_deflate(wsr_engine *e, const char *head, size_t len)
{
    wsr_negotiated_read(head, len, &e->pmd);
    if (json_array_size(e->offers.json) == 0 && !e->pmd.answer[0])
        return; /* nothing offered, nothing answered: no event */
    json_t *ev = wsr_event(&e->tr, NULL, "deflate");
    if (e->offers.json)
        json_object_set(ev, "offers", e->offers.json);
    else
        json_object_set_new(ev, "offers", json_array());
    json_object_set_new(ev, "answer",
                        e->pmd.answer[0] ? json_string(e->pmd.answer)
                                         : json_null());
    json_object_set_new(ev, "negotiated",
                        e->pmd.on ? wsr_pmd_params_json(&e->pmd.params)
                                  : json_null());
    if (e->pmd.error)
        json_object_set_new(ev, "answer_error", json_string(e->pmd.error));
    wsr_transcript_add(&e->tr, ev);
    if (!e->pmd.on)
        return;
    const wsr_pmd_params *p = &e->pmd.params;
    int bits = p->client_max_window_bits >= 8 ? p->client_max_window_bits : 15;
    e->inflater = wsr_inflater_new(bits, p->client_no_context_takeover);
    e->dec.flags |= WS_DEC_ALLOW_RSV;
    wsr_wirecheck_deflate(&e->out_check,
                          p->server_max_window_bits ? p->server_max_window_bits
                                                    : 15,
                          p->server_no_context_takeover);
}

/* An HTTP response is going out; a 101 makes every later client byte a
 * frame, and says what permessage-deflate is in effect. */
static void log_response(wsr_engine *e, int status, const char *head,
                         size_t bytes)
{
    json_t *ev = wsr_event(&e->tr, "out", "http_response");
    json_object_set_new(ev, "status",
                        status ? json_integer(status) : json_null());
    json_object_set_new(ev, "bytes", json_integer((json_int_t)bytes));
    wsr_transcript_add(&e->tr, ev);
    e->out_head_skip += bytes; /* the head is queued, not a frame */
    if (status == 101 && !e->upgraded)
        settle_deflate(e, head, bytes);
    if (status == 101)
        e->upgraded = true;
}

/* Appends one scenario item to buf, recording what it is. Returns 0, or
 * -1 if out of memory (buf may then hold part of it). */
static int encode_item(wsr_engine *e, const wsr_item *it, struct evbuffer *buf)
{
    if (it->kind == WSR_ITEM_RAW) {
        if (evbuffer_add(buf, it->data, it->len) != 0)
            return -1;
        json_t *ev = wsr_event(&e->tr, "out", "raw");
        json_object_set_new(ev, "bytes", json_integer((json_int_t)it->len));
        wsr_event_hex(ev, it->data, it->len, 64);
        wsr_transcript_add(&e->tr, ev);
        if (e->upgraded)
            e->out_encoded += it->len;
        return 0;
    }
    if (it->kind == WSR_ITEM_HANDSHAKE) {
        size_t at = evbuffer_get_length(buf);
        if (evbuffer_add(buf, it->data, it->len) != 0)
            return -1;
        if (it->accept_at != SIZE_MAX) {
            /* The slot holds 28 placeholder bytes: put the real key there. */
            uint8_t *p = evbuffer_pullup(buf, -1);
            if (!p)
                return -1;
            memcpy(p + at + it->accept_at, e->accept, WSR_ACCEPT_LEN);
        }
        log_response(e, it->http_status, (const char *)it->data, it->len);
        return 0;
    }
    ws_frame_spec spec = {
        .fin = it->fin,
        .rsv = it->rsv,
        .opcode = it->opcode,
        .mask = it->mask,
        .len_form = it->len_form,
        .payload = it->data,
        .payload_len = it->len,
    };
    memcpy(spec.mask_key, it->mask_key, 4);
    ssize_t size = ws_encoded_size(&spec);
    struct evbuffer_iovec vec;
    /* The loader checked the length form, so size is never negative here. */
    if (size < 0 || evbuffer_reserve_space(buf, size, &vec, 1) != 1)
        return -1;
    ssize_t n = ws_encode_frame(&spec, vec.iov_base, vec.iov_len);
    vec.iov_len = n > 0 ? (size_t)n : 0;
    evbuffer_commit_space(buf, &vec, 1);
    ws_frame_header h = {.fin = it->fin,
                         .rsv = it->rsv,
                         .opcode = it->opcode,
                         .masked = it->mask,
                         .len_form = it->len_form};
    log_frame(e, "out", &h, it->data, it->len, (int64_t)e->out_encoded);
    e->out_encoded += vec.iov_len;
    return 0;
}

typedef struct frame_sink {
    wsr_engine *e;
    struct evbuffer *buf;
} frame_sink;

static int sink_frame(void *arg, const wsr_item *f)
{
    frame_sink *k = arg;
    return encode_item(k->e, f, k->buf);
}

/* An item of the group: a WSR_ITEM_DEFLATE item's messages are deflated
 * now, on the session's stream, into the frames the loader would have
 * built (scenario.h). */
static int encode_group_item(wsr_engine *e, const wsr_item *it,
                             struct evbuffer *buf)
{
    if (it->kind != WSR_ITEM_DEFLATE)
        return encode_item(e, it, buf);
    if (!e->deflater && !(e->deflater = wsr_scenario_deflater_new(e->sc)))
        return -1;
    frame_sink k = {.e = e, .buf = buf};
    return wsr_item_deflate_frames(it, e->deflater, sink_frame, &k);
}

/* Feeds bytes about to leave to the wire checker; the first violation of
 * RFC 6455 in them goes to the transcript with its stream offset. */
static void check_out(wsr_engine *e, const uint8_t *p, size_t len)
{
    size_t skip = e->out_head_skip < len ? e->out_head_skip : len;
    e->out_head_skip -= skip;
    if (!e->upgraded || len == skip)
        return;
    wsr_cutter_feed(&e->cutter, p + skip, len - skip);
    int rc = wsr_wirecheck_feed(&e->out_check, p + skip, len - skip);
    if (rc == WS_OK)
        return;
    json_t *ev = wsr_event(&e->tr, "out", "violation");
    json_object_set_new(ev, "error", json_string(wsr_wirecheck_name(rc)));
    json_object_set_new(ev, "reason", json_string(ws_strerror(rc)));
    json_object_set_new(ev, "offset",
                        json_integer((json_int_t)e->out_check.err_offset));
    if (e->out_check.err_opcode >= 0)
        json_object_set_new(ev, "opcode",
                            json_integer(e->out_check.err_opcode));
    wsr_transcript_add(&e->tr, ev);
}

/* libevent's TLS layer reports a write that failed on a closed socket as
 * EOF and stops writing: bytes still queued then never drain, and the
 * session would wait for them until its deadline. Ends the session
 * instead; true if it did. */
static bool tls_write_impossible(wsr_engine *e)
{
    if (!e->tls || !evbuffer_get_length(e->out))
        return false;
    wsr_engine_end(e, "peer_closed",
                   "the client's TLS stream ended with bytes still to send; "
                   "nothing more can be written");
    return true;
}

/* The next piece under a frame-cutting variant: the response head still
 * queued as one piece, then up to the next frame (or header) boundary. */
static size_t frame_piece_len(wsr_engine *e)
{
    size_t left = evbuffer_get_length(e->group);
    if (e->out_head_skip)
        return e->out_head_skip < left ? e->out_head_skip : left;
    if (!e->upgraded)
        return left; /* no 101: the bytes after the head are not frames */
    const uint8_t *p = evbuffer_pullup(e->group, -1); /* contiguous already */
    return p ? wsr_cutter_next(&e->cutter, p, left, e->cut_header) : left;
}

static void send_piece(wsr_engine *e)
{
    size_t end = e->cut_frames ? frame_piece_len(e)
                               : wsr_piece_len(e->split, e->n_split, e->every,
                                               e->piece, e->group_off,
                                               evbuffer_get_length(e->group));
    uint8_t head[64];
    ev_ssize_t got = evbuffer_copyout(e->group, head, sizeof head);
    json_t *ev = tcp_event(e, "write");
    json_object_set_new(ev, "bytes", json_integer((json_int_t)end));
    if (e->n_split || e->every || e->cut_frames)
        json_object_set_new(ev, "piece", json_integer((json_int_t)e->piece));
    size_t shown = got > 0 ? (size_t)got : 0;
    wsr_event_hex(ev, head, shown < end ? shown : end, 64);
    if (end > shown)
        json_object_set_new(ev, "hex_truncated", json_true());
    wsr_transcript_add(&e->tr, ev);
    const uint8_t *p = evbuffer_pullup(e->group, (ev_ssize_t)end);
    check_out(e, p, end);
    e->piece_len = end;
    e->group_off += end;
    /* The last piece moves the group's chain; one short of it copies its
     * bytes, and out of memory the scenario's bytes cannot go as written.
     * Not evbuffer_remove_buffer(): libevent 2.1 drains the source even
     * when that copy fails. */
    size_t left = evbuffer_get_length(e->group);
    int rc = end == left ? evbuffer_add_buffer(e->out, e->group)
             : p         ? evbuffer_add(e->out, p, end)
                         : -1;
    if (rc != 0) {
        wsr_engine_end(e, "limit", "out of memory for a write group");
        return;
    }
    if (end < left)
        evbuffer_drain(e->group, end);
    e->wait = W_DRAIN;
}

/* Queues a write group (built with rc 0; -1: out of memory while it was
 * built, which ends the session: a scenario's bytes go whole or not at
 * all); it is sent in pieces (one per split offset). */
static void start_group(wsr_engine *e, struct evbuffer *buf, int rc,
                        const size_t *split, size_t n_split, unsigned gap_ms,
                        size_t every)
{
    /* One contiguous chain, so libevent hands each piece to the kernel as
     * one iovec in one writev(), however many frames the group holds. */
    if (rc != 0 || !buf ||
        (evbuffer_get_length(buf) && !evbuffer_pullup(buf, -1))) {
        if (buf)
            evbuffer_free(buf);
        wsr_engine_end(e, "limit", "out of memory for a write group");
        return;
    }
    e->group = buf;
    e->split = split;
    e->n_split = n_split;
    e->gap_ms = gap_ms;
    e->every = every;
    e->piece = 0;
    e->group_off = 0;
    send_piece(e);
}

static void trip_wait(wsr_engine *e);
static void trip_check(wsr_engine *e);

static void group_done(wsr_engine *e)
{
    evbuffer_free(e->group);
    e->group = NULL;
    e->cut_frames = e->cut_header = false;
    e->wait = W_NONE;
    if (e->rt_active) {
        trip_wait(e);
        return;
    }
    advance(e);
}

/*
 * A piece has left the output buffer. Waiting until the kernel's send
 * queue is empty too (everything acknowledged) keeps pieces and groups in
 * separate segments, and an RST after them cannot destroy unsent data.
 * A connection the client has reset will never ACK what is queued: the
 * wait ends on that (ack_reset) rather than on --ack-timeout-ms.
 */
static void check_ack(wsr_engine *e)
{
    int queued = e->io->unacked(e->ctx);
    bool gone = queued > 0 && e->io->peer_gone(e->ctx);
    if (!gone &&
        wsr_ack_wait_more(queued, waited_ms(e), e->srv->cfg.ack_timeout_ms)) {
        e->wait = W_ACK;
        arm_timer(e, 1);
        return;
    }
    json_t *ev = wsr_event(&e->tr, "out",
                           queued <= 0 ? "acked"
                           : gone      ? "ack_reset"
                                       : "ack_timeout");
    json_object_set_new(ev, "bytes", json_integer((json_int_t)e->piece_len));
    if (queued > 0)
        json_object_set_new(ev, "unacked", json_integer(queued));
    wsr_transcript_add(&e->tr, ev);
    if (e->phase != PH_STEPS)
        return;
    e->piece++;
    if (evbuffer_get_length(e->group) == 0) {
        group_done(e);
    } else if (e->gap_ms) {
        e->wait = W_GAP;
        arm_timer(e, e->gap_ms);
    } else {
        send_piece(e);
    }
}

/* Sends one frame (an echo) now; out of memory ends the session, as the
 * client would otherwise miss a frame the transcript cannot explain. */
static void write_frame_now(wsr_engine *e, const uint8_t *payload, size_t len,
                            uint8_t opcode)
{
    ws_frame_spec spec = {
        .fin = true, .opcode = opcode, .payload = payload, .payload_len = len};
    ssize_t size = ws_encoded_size(&spec);
    uint8_t *buf = size > 0 ? malloc((size_t)size) : NULL;
    if (!buf || evbuffer_expand(e->out, (size_t)size) != 0) {
        free(buf);
        wsr_engine_end(e, "limit", "out of memory for an echo");
        return;
    }
    ssize_t n = ws_encode_frame(&spec, buf, (size_t)size);
    ws_frame_header h = {.fin = true, .opcode = opcode};
    log_frame(e, "out", &h, payload, len, (int64_t)e->out_encoded);
    e->out_encoded += (uint64_t)n;
    json_t *ev = wsr_event(&e->tr, "out", "write");
    json_object_set_new(ev, "bytes", json_integer((json_int_t)n));
    wsr_event_hex(ev, buf, (size_t)n, 64);
    wsr_transcript_add(&e->tr, ev);
    check_out(e, buf, (size_t)n);
    evbuffer_add(e->out, buf, (size_t)n); /* room made above: no allocation */
    free(buf);
}

/* ---- the step program -------------------------------------------------- */

static void log_step(wsr_engine *e, size_t index, const char *name)
{
    json_t *ev = wsr_event(&e->tr, NULL, "step");
    json_object_set_new(ev, "index", json_integer((json_int_t)index));
    json_object_set_new(ev, "step", json_string(name));
    wsr_transcript_add(&e->tr, ev);
}

static void await_done(wsr_engine *e, const char *what, const char *result)
{
    json_t *ev = wsr_event(&e->tr, NULL, "await_done");
    json_object_set_new(ev, "what", json_string(what));
    json_object_set_new(ev, "result", json_string(result));
    json_object_set_new(ev, "waited_ms", json_integer(waited_ms(e)));
    wsr_transcript_add(&e->tr, ev);
}

/* Called whenever input changed the counters. */
static void check_waits(wsr_engine *e)
{
    if (e->phase != PH_STEPS || e->ending)
        return;
    const wsr_step *st = &e->sc->steps[e->step - 1];
    if (e->wait == W_AWAIT) {
        const char *r = wsr_await_result(st, &e->seen);
        if (!r)
            return;
        stop_timer(e);
        await_done(e, wsr_await_name(st->await_what), r);
        e->wait = W_NONE;
        advance(e);
    } else if (e->wait == W_TRIP) {
        trip_check(e);
    } else if (e->wait == W_ECHO && wsr_echo_result(&e->seen)) {
        stop_timer(e);
        e->echo_active = false;
        await_done(e, "echo", wsr_echo_result(&e->seen));
        e->wait = W_NONE;
        advance(e);
    }
}

/* TLS close_notify: the alert goes straight to the socket (the output
 * buffer is empty whenever a step runs). */
static void send_close_notify(wsr_engine *e)
{
    if (!e->tls || e->tls_closed)
        return;
    e->tls_closed = true;
    int err = e->io->close_notify(e->ctx);
    json_t *ev = wsr_event(&e->tr, "out", "tls_close_notify");
    if (err)
        json_object_set_new(ev, "error", json_integer(err));
    wsr_transcript_add(&e->tr, ev);
}

static void do_shutdown(wsr_engine *e, enum wsr_shutdown_how how)
{
    if (e->shut_wr)
        return;
    if (how == WSR_SHUT_WRITE)
        send_close_notify(e);
    json_t *ev = tcp_event(e, "tcp_shutdown");
    saw_server_fin(e);
    e->io->shutdown(e->ctx);
    e->shut_wr = true;
    wsr_transcript_add(&e->tr, ev);
}

static void set_reading(wsr_engine *e, bool on)
{
    if (on == !e->read_paused)
        return;
    e->read_paused = !on;
    e->io->reading(e->ctx, on);
    log_simple(e, "in", on ? "read_resumed" : "read_paused");
}

/* Half-close, then read until the client's EOF or the linger timeout.
 * An HTTP error response ends here too; its end reason is already set. */
static void start_linger(wsr_engine *e)
{
    do_shutdown(e, WSR_SHUT_WRITE);
    set_reading(e, true);
    e->phase = PH_LINGER;
    e->wait = W_NONE;
    if (e->seen.eof) {
        wsr_engine_end(e, "complete", "steps done, client closed");
        return;
    }
    e->wait_start_us = now_us(e);
    arm_timer(e, e->srv->cfg.linger_ms);
}

static void finish_steps(wsr_engine *e)
{
    log_simple(e, NULL, "steps_done");
    start_linger(e);
}

/* ---- round_trips --------------------------------------------------------
 * Each trip is a write group of one message (acknowledged like any
 * group), then a wait for the client's next data message: its echo. The
 * RTT runs from the write to the echo's last frame; the echo is compared
 * with the message (message_done). */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The round_trips event: how many trips were done of how many, why it
 * ended, the RTTs' min/median/max (µs) and the echoes that differed. */
static void trips_done(wsr_engine *e, const wsr_step *st, const char *result)
{
    stop_timer(e);
    json_t *ev = wsr_event(&e->tr, NULL, "round_trips");
    json_object_set_new(ev, "count", json_integer(st->count));
    json_object_set_new(ev, "done", json_integer(e->rt_done));
    json_object_set_new(ev, "result", json_string(result));
    json_object_set_new(ev, "mismatched", json_integer(e->rt_mismatched));
    if (e->rt_mismatched)
        json_object_set_new(ev, "first_mismatch",
                            json_integer(e->rt_first_mismatch));
    if (e->rt_done) {
        qsort(e->rt_us, e->rt_done, sizeof *e->rt_us, cmp_u64);
        json_t *r =
            json_pack("{s:I,s:I,s:I}", "min", (json_int_t)e->rt_us[0], "median",
                      (json_int_t)wsr_median_sorted(e->rt_us, e->rt_done),
                      "max", (json_int_t)e->rt_us[e->rt_done - 1]);
        json_object_set_new(ev, "rtt_us", r);
    }
    wsr_transcript_add(&e->tr, ev);
    free(e->rt_us);
    e->rt_us = NULL;
    e->rt_active = false;
    e->wait = W_NONE;
    advance(e);
}

static void trip_send(wsr_engine *e, const wsr_step *st)
{
    struct evbuffer *buf = evbuffer_new();
    int rc = buf ? encode_item(e, &st->items[e->rt_index], buf) : -1;
    e->rt_sent_us = now_us(e);
    start_group(e, buf, rc, NULL, 0, 0, 0);
}

/* After a trip's message was acknowledged, or input came: the next trip
 * once its echo is there; the end when the client closed. */
static void trip_check(wsr_engine *e)
{
    const wsr_step *st = &e->sc->steps[e->step - 1];
    if (e->seen.msgs > e->rt_base + e->rt_index) {
        e->rt_index++;
        if (e->rt_index == st->count) {
            trips_done(e, st, "ok");
            return;
        }
        stop_timer(e);
        trip_send(e, st);
        return;
    }
    if (e->seen.close || e->seen.eof)
        trips_done(e, st, e->seen.close ? "close" : "eof");
}

static void trip_wait(wsr_engine *e)
{
    const wsr_step *st = &e->sc->steps[e->step - 1];
    e->wait = W_TRIP;
    arm_timer(e, st->ms);
    trip_check(e);
}

/* A data message arrived during round_trips: the echo of trip k, if it is
 * the one awaited. */
static void trip_echo(wsr_engine *e, const uint8_t *p, size_t len)
{
    const wsr_step *st = &e->sc->steps[e->step - 1];
    unsigned k = e->seen.msgs - 1 - e->rt_base;
    if (k != e->rt_index || k >= st->count)
        return;
    const wsr_item *it = &st->items[k];
    e->rt_us[e->rt_done++] = now_us(e) - e->rt_sent_us;
    if (e->msg_opcode != it->opcode || len != it->len ||
        (len && memcmp(p, it->data, len) != 0)) {
        if (!e->rt_mismatched++)
            e->rt_first_mismatch = k + 1;
    }
}

/* Runs one step; returns true if it has to wait. */
static bool run_step(wsr_engine *e, const wsr_step *st)
{
    bool output_pending = evbuffer_get_length(e->out);
    if (output_pending && wsr_step_needs_empty_output(st->kind)) {
        /* Echoed frames are still queued: let them go first. */
        e->step--;
        e->wait = W_FLUSH_STEP;
        return true;
    }
    log_step(e, e->step - 1, wsr_step_name(st->kind));
    e->wait_start_us = now_us(e);
    switch (st->kind) {
    case WSR_STEP_WRITE: {
        struct evbuffer *buf = evbuffer_new();
        int rc = buf ? 0 : -1;
        for (size_t i = 0; rc == 0 && i < st->n_items; i++)
            rc = encode_group_item(e, &st->items[i], buf);
        if (st->fail_fast_mark)
            wsr_transcript_add(&e->tr, tcp_event(e, "fail_fast_mark"));
        if (e->vary == WSR_VARY_NONE) {
            start_group(e, buf, rc, st->split, st->n_split, st->gap_ms,
                        st->split_every_byte ? 1 : st->split_every);
            return true;
        }
        /* The variant's cuts replace the step's own split. */
        enum wsr_vary v = e->vary;
        e->cut_frames = v == WSR_VARY_FRAMES || v == WSR_VARY_GAPS ||
                        v == WSR_VARY_HEADER_PAYLOAD;
        e->cut_header = v == WSR_VARY_HEADER_PAYLOAD;
        bool bytes =
            v == WSR_VARY_EVERY_BYTE || v == WSR_VARY_TLS_RECORD_PER_BYTE;
        start_group(e, buf, rc, NULL, 0,
                    v == WSR_VARY_GAPS ? WSR_VARY_GAP_MS : 0, bytes ? 1 : 0);
        return true;
    }
    case WSR_STEP_DELAY: {
        /* A uniform random 0..jitter ms on top. */
        uint32_t r = st->jitter_ms ? e->io->random(e->ctx) : 0;
        unsigned ms = wsr_jittered(st->ms, st->jitter_ms, r);
        if (st->jitter_ms) {
            json_t *ev = wsr_event(&e->tr, NULL, "delay");
            json_object_set_new(ev, "ms", json_integer(ms));
            wsr_transcript_add(&e->tr, ev);
        }
        e->wait = W_DELAY;
        arm_timer(e, ms);
        return true;
    }
    case WSR_STEP_AWAIT: {
        e->seen.msgs_at_step = e->seen.msgs;
        const char *r = wsr_await_result(st, &e->seen);
        if (r) {
            await_done(e, wsr_await_name(st->await_what), r);
            return false;
        }
        e->wait = W_AWAIT;
        arm_timer(e, st->ms);
        return true;
    }
    case WSR_STEP_ECHO:
        if (wsr_echo_result(&e->seen)) {
            await_done(e, "echo", wsr_echo_result(&e->seen));
            return false;
        }
        e->echo_active = true;
        e->wait = W_ECHO;
        arm_timer(e, st->ms);
        return true;
    case WSR_STEP_SHUTDOWN:
        do_shutdown(e, st->shutdown_how);
        return false;
    case WSR_STEP_READ:
        set_reading(e, st->read_on);
        return false;
    case WSR_STEP_TLS:
        send_close_notify(e);
        return false;
    case WSR_STEP_ROUND_TRIPS:
        free(e->rt_us);
        e->rt_us = calloc(st->count, sizeof *e->rt_us);
        if (!e->rt_us) {
            wsr_engine_end(e, "limit", "out of memory for round trips");
            return true;
        }
        e->rt_active = true;
        e->rt_index = e->rt_done = e->rt_mismatched = 0;
        e->rt_base = e->seen.msgs;
        trip_send(e, st);
        return true;
    case WSR_STEP_ABORT:
        e->abort_rst = true;
        wsr_transcript_add(&e->tr, tcp_event(e, "tcp_rst"));
        saw_server_fin(e);
        wsr_engine_end(e, "aborted",
                       "the scenario ended the connection with RST");
        return true;
    }
    return false;
}

static void advance(wsr_engine *e)
{
    while (!e->ending && e->phase == PH_STEPS) {
        if (e->step >= e->sc->n_steps) {
            finish_steps(e);
            return;
        }
        const wsr_step *st = &e->sc->steps[e->step++];
        if (run_step(e, st))
            return;
    }
}

/* ---- input: frames ----------------------------------------------------- */

static void protocol_error(wsr_engine *e, int err, const uint8_t *p, size_t len)
{
    bool limit = err == WS_ERR_TOO_BIG;
    json_t *ev = wsr_event(&e->tr, "in", limit ? "limit" : "protocol_error");
    json_object_set_new(ev, "reason", json_string(ws_strerror(err)));
    json_object_set_new(ev, "error", json_string(wsr_wirecheck_name(err)));
    json_object_set_new(ev, "offset",
                        json_integer((json_int_t)e->in_frame_start));
    if (limit) { /* refused at the header: the announced length */
        json_object_set_new(ev, "limit", json_string("max_frame"));
        json_object_set_new(ev, "value",
                            json_integer((json_int_t)e->srv->cfg.max_frame));
    }
    if (e->dec.hdr_have)
        wsr_event_hex(ev, e->dec.hdr, e->dec.hdr_have, 14);
    else
        wsr_event_hex(ev, p, len, 32);
    wsr_transcript_add(&e->tr, ev);
    wsr_engine_end(e, limit ? "limit" : "protocol_error",
                   limit ? "client frame over max_frame" : ws_strerror(err));
}

/* A message's content, as the adapters report theirs: text or hex up to
 * 4096 bytes, a SHA-256 beyond, so expectations can check what arrived. */
static void log_content(json_t *ev, uint8_t opcode, const uint8_t *p,
                        size_t len)
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

/* A compressed message inflated (RFC 7692 7.2.2) under the negotiated
 * client parameters, at most max_inflated bytes. NULL when the session
 * ended: over the bound (limit max_inflated) or not a valid stream
 * (protocol error deflate, with zlib's words). */
static uint8_t *inflate_client_message(wsr_engine *e, const uint8_t *p,
                                       size_t len, size_t *out_len)
{
    size_t max = e->srv->cfg.max_inflated ? e->srv->cfg.max_inflated
                                          : WSR_MAX_INFLATED_DEFAULT;
    uint8_t *out = NULL;
    char err[128] = "out of memory";
    enum wsr_inflate_result r =
        e->inflater ? wsr_inflate_message(e->inflater, p, len, max, &out,
                                          out_len, err, sizeof err)
                    : WSR_INFLATE_NOMEM;
    if (r == WSR_INFLATE_OK)
        return out;
    bool bad = r == WSR_INFLATE_BAD;
    json_t *ev = wsr_event(&e->tr, "in", bad ? "protocol_error" : "limit");
    if (bad) {
        json_object_set_new(ev, "error", json_string("deflate"));
        json_object_set_new(ev, "reason", json_string(err));
        json_object_set_new(ev, "offset",
                            json_integer((json_int_t)e->in_frame_start));
        wsr_event_hex(ev, p, len, 32);
    } else {
        json_object_set_new(ev, "limit", json_string("max_inflated"));
        json_object_set_new(ev, "value", json_integer((json_int_t)max));
    }
    wsr_transcript_add(&e->tr, ev);
    wsr_engine_end(e, bad ? "protocol_error" : "limit",
                   bad ? "compressed message does not inflate"
                   : r == WSR_INFLATE_TOO_BIG ? "inflated client message over "
                                                "max_inflated"
                                              : "out of memory inflating");
    return NULL;
}

static void message_done(wsr_engine *e)
{
    size_t len = evbuffer_get_length(e->msg), wire_len = len;
    uint8_t *p = evbuffer_pullup(e->msg, -1), *inflated = NULL;
    if (len && !p) { /* a message of several frames is made contiguous */
        wsr_engine_end(e, "limit", "out of memory for the client's message");
        return;
    }
    if (e->msg_compressed) {
        inflated = inflate_client_message(e, p, wire_len, &len);
        if (!inflated)
            return;
        p = inflated;
    }
    e->seen.msgs++;
    json_t *ev = wsr_event(&e->tr, "in", "message");
    json_object_set_new(ev, "opcode", json_integer(e->msg_opcode));
    json_object_set_new(ev, "length", json_integer((json_int_t)len));
    if (inflated) {
        json_object_set_new(ev, "compressed", json_true());
        json_object_set_new(ev, "wire_length",
                            json_integer((json_int_t)wire_len));
    }
    if (e->msg_opcode == WS_OP_TEXT && !ws_utf8_valid(p, len))
        json_object_set_new(ev, "utf8_valid", json_false());
    log_content(ev, e->msg_opcode, p, len);
    wsr_transcript_add(&e->tr, ev);
    if (e->rt_active)
        trip_echo(e, p, len);
    if (e->echo_active) {
        if (evbuffer_get_length(e->out) + len > e->srv->cfg.max_output) {
            free(inflated);
            wsr_engine_end(e, "limit",
                           "echo output over max_output: the client "
                           "sends faster than it reads");
            return;
        }
        write_frame_now(e, p, len, e->msg_opcode);
    }
    free(inflated);
    evbuffer_drain(e->msg, wire_len);
}

/* Would a data frame of `more` payload bytes put the client's message over
 * max_message? Then the session ends, with a limit event naming it. A
 * continuation adds to the message so far; a text or binary frame starts
 * one (if a message is still open, that is a protocol error, reported
 * when the frame is complete). */
static bool message_over_cap(wsr_engine *e, uint8_t opcode, uint64_t more)
{
    if (opcode != WS_OP_CONT && opcode != WS_OP_TEXT && opcode != WS_OP_BINARY)
        return false;
    uint64_t so_far =
        opcode == WS_OP_CONT && e->msg ? evbuffer_get_length(e->msg) : 0;
    uint64_t cap = e->srv->cfg.max_message;
    if (more <= cap && so_far <= cap - more)
        return false;
    json_t *ev = wsr_event(&e->tr, "in", "limit");
    json_object_set_new(ev, "limit", json_string("max_message"));
    json_object_set_new(ev, "value", json_integer((json_int_t)cap));
    json_object_set_new(ev, "message_bytes", json_integer((json_int_t)so_far));
    json_object_set_new(ev, "frame_length", json_integer((json_int_t)more));
    json_object_set_new(ev, "offset",
                        json_integer((json_int_t)e->in_frame_start));
    wsr_transcript_add(&e->tr, ev);
    wsr_engine_end(e, "limit", "client message over max_message");
    return true;
}

static void on_frame(wsr_engine *e, const ws_frame *f)
{
    log_frame(e, "in", &f->h, f->payload, f->payload_len,
              (int64_t)e->in_frame_start);
    /* Without permessage-deflate the decoder refuses every RSV bit. */
    int rc = e->pmd.on ? wsr_rsv_check(&f->h, true) : WS_OK;
    if (rc == WS_OK)
        rc = ws_fragments_step(&e->frag, &f->h);
    if (rc != WS_OK) {
        protocol_error(e, rc, NULL, 0);
        return;
    }
    switch (f->h.opcode) {
    case WS_OP_CLOSE:
        e->seen.close = true;
        check_waits(e);
        return;
    case WS_OP_PING:
    case WS_OP_PONG:
        /* Recorded and counted; the scenario decides what goes back. */
        if (f->h.opcode == WS_OP_PING)
            e->seen.pings++;
        else
            e->seen.pongs++;
        check_waits(e);
        return;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        e->msg_opcode = f->h.opcode;
        e->msg_compressed = f->h.rsv & WS_RSV1;
        break;
    default:
        break;
    }
    if (!e->msg && !(e->msg = evbuffer_new())) {
        wsr_engine_end(e, "limit", "out of memory for the client's message");
        return;
    }
    /* Checked at the header already (header_over_caps); kept for a frame
     * whose header and payload came in one feed before the pause. */
    if (message_over_cap(e, f->h.opcode, f->payload_len))
        return;
    if (evbuffer_add(e->msg, f->payload, f->payload_len) != 0) {
        wsr_engine_end(e, "limit", "out of memory for the client's message");
        return;
    }
    if (f->h.fin) {
        message_done(e);
        check_waits(e);
    }
}

/* Brings this session's share of srv->buffered up to date after a read,
 * and ends it if the sessions together now hold more client payload than
 * max_buffered: the session whose bytes crossed the cap goes, and can have
 * put the total over it by at most its last read (or buffer doubling). */
static void account_buffered(wsr_engine *e)
{
    size_t now = wsr_engine_buffered(e);
    e->srv->buffered = e->srv->buffered - e->buffered + now;
    e->buffered = now;
    size_t cap = e->srv->cfg.max_buffered;
    if (e->ending || cap == 0 || now == 0 || e->srv->buffered <= cap)
        return;
    json_t *ev = wsr_event(&e->tr, "in", "limit");
    json_object_set_new(ev, "limit", json_string("max_buffered"));
    json_object_set_new(ev, "value", json_integer((json_int_t)cap));
    json_object_set_new(ev, "session_bytes", json_integer((json_int_t)now));
    wsr_transcript_add(&e->tr, ev);
    wsr_engine_end(e, "limit",
                   "client bytes buffered by all sessions over max_buffered");
}

static void on_frame_input(wsr_engine *e, struct evbuffer *in)
{
    size_t len;
    while (!e->ending && (len = evbuffer_get_contiguous_space(in)) > 0) {
        const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)len);
        size_t off = 0;
        while (off < len && !e->ending) {
            ws_frame f;
            int done = 0;
            ssize_t n = ws_decoder_feed(&e->dec, p + off, len - off, &f, &done);
            if (n < 0) {
                protocol_error(e, (int)n, p + off, len - off);
                return;
            }
            off += (size_t)n;
            e->in_offset += (uint64_t)n;
            /* The decoder pauses after a header announcing a payload
             * (WS_DEC_PAUSE_AT_HEADER): the message's cap is judged on the
             * announced length, before a byte of it is buffered. */
            if (!done && e->dec.state == WS_DEC_PAYLOAD &&
                e->dec.payload_have == 0 &&
                message_over_cap(e, e->dec.h.opcode, e->dec.h.payload_len))
                return;
            if (done) {
                on_frame(e, &f);
                e->in_frame_start = e->in_offset;
            }
        }
        evbuffer_drain(in, len);
    }
    /* An empty feed frees the last frame's payload (up to max_frame) now,
     * not when the client next sends: a session may wait for minutes. */
    ws_frame f;
    int done = 0;
    static const uint8_t none[1];
    ws_decoder_feed(&e->dec, none, 0, &f, &done);
    account_buffered(e);
}

/* ---- input: the request head ------------------------------------------- */

static void respond_and_close(wsr_engine *e, int status, const char *reason,
                              const char *end_reason)
{
    char buf[1024];
    int n = ws_build_error_response(buf, sizeof buf, status, reason);
    json_t *ev = wsr_event(&e->tr, "out", "http_response");
    json_object_set_new(ev, "status", json_integer(status));
    json_object_set_new(ev, "reason", json_string(reason));
    wsr_transcript_add(&e->tr, ev);
    wsr_transcript_end(&e->tr, end_reason, reason);
    if (n > 0)
        evbuffer_add(e->out, buf, (size_t)n);
    e->phase = PH_FLUSH;
}

/* The run=ID of the query tags the transcript: 0, or -1 if any run= is
 * invalid, and then the request is refused untagged: its transcript is
 * filed under no run (not under a valid run= before the bad one); -2 if
 * out of memory, and then it is untagged too, so that the ring never
 * files a transcript under a run its text does not name. */
static int parse_run(wsr_engine *e, const char *q, size_t len)
{
    char run[WSR_RUN_ID_MAX + 1] = "";
    if (!wsr_run_from_query(q, len, run))
        return -1;
    if (run[0]) {
        e->run = strdup(run);
        if (!e->run)
            return -2;
        if (wsr_transcript_set(&e->tr, "run", run) != 0) {
            free(e->run);
            e->run = NULL;
            return -2;
        }
    }
    return 0;
}

/* The answer to GET /_runs/ID as the run stands now; then FIN and linger. */
static void answer_control(wsr_engine *e)
{
    const char *reason = NULL;
    int status = wsr_runs_serve(e->srv, e->wait_run, strlen(e->wait_run),
                                e->out, &reason);
    if (status != 200) {
        respond_and_close(e, status, reason, "bad_request");
        return;
    }
    wsr_transcript_end(&e->tr, "complete", "control request");
    e->phase = PH_FLUSH;
}

/* A parked request's wait is over (the run completed, wait_ms passed, or
 * the client closed its side): answer with the run as it stands. */
static void end_wait(wsr_engine *e)
{
    stop_timer(e);
    e->io->unpark(e->ctx);
    answer_control(e);
}

/* GET /_runs/ID[?wait_ms=N]: answered at once, or, with wait_ms and a run
 * that is not complete yet, parked until it is or N ms pass. */
static void serve_control(wsr_engine *e, const wsr_target *t)
{
    long wait_ms = 0;
    e->record = false;
    if (!wsr_run_id_valid(t->name, t->name_len)) {
        respond_and_close(e, 400, "invalid run id", "bad_request");
        return;
    }
    if (t->query && !wsr_wait_ms_from_query(t->query, t->query_len, &wait_ms)) {
        respond_and_close(e, 400, bad_wait_ms, "bad_request");
        return;
    }
    e->wait_run = strndup(t->name, t->name_len);
    if (!e->wait_run) {
        respond_and_close(e, 500, "out of memory", "bad_request");
        return;
    }
    if (wait_ms == 0 || wsr_server_run_complete(e->srv, e->wait_run)) {
        answer_control(e);
        return;
    }
    if (!e->io->park(e->ctx, e->wait_run)) {
        respond_and_close(e, 503, too_many_waiters, "limit");
        return;
    }
    e->phase = PH_PARKED;
    /* The handshake deadline would cut the wait: the time to flush the
     * answer and drain the client starts again after it. */
    e->io->deadline(e->ctx,
                    (unsigned)wait_ms + e->srv->cfg.handshake_timeout_ms);
    arm_timer(e, (unsigned)wait_ms);
}

static void log_request(wsr_engine *e, const ws_http_request *req, int n)
{
    json_t *ev = wsr_event(&e->tr, "in", "http_request");
    json_object_set_new(ev, "bytes", json_integer(n));
    json_object_set_new(ev, "method",
                        json_stringn(req->method.p, req->method.len));
    json_object_set_new(ev, "target",
                        json_stringn(req->target.p, req->target.len));
    if (e->routed)
        json_object_set_new(ev, "routed_target", json_string(e->routed));
    json_t *headers = json_array();
    for (size_t i = 0; i < req->num_headers; i++) {
        json_t *pair = json_array();
        json_array_append_new(
            pair, bytes_string((const uint8_t *)req->headers[i].name.p,
                               req->headers[i].name.len));
        json_array_append_new(
            pair, bytes_string((const uint8_t *)req->headers[i].value.p,
                               req->headers[i].value.len));
        json_array_append_new(headers, pair);
    }
    json_object_set_new(ev, "headers", headers);
    wsr_transcript_add(&e->tr, ev);
}

/* The automatic 101, with the scenario's answer to a permessage-deflate
 * offer (the "deflate" field; ?deflate=accept when it has none). */
static void send_auto_101(wsr_engine *e)
{
    const wsr_scenario *sc = e->sc;
    enum wsr_deflate_answer mode = sc->deflate_given ? sc->deflate
                                   : e->deflate_url  ? WSR_DEFLATE_ACCEPT
                                                     : WSR_DEFLATE_DECLINE;
    char ext[WSR_EXT_VALUE_MAX], resp[WSR_EXT_VALUE_MAX + 256];
    if (wsr_deflate_answer(mode, &sc->deflate_params, &e->offers, ext,
                           sizeof ext) < 0)
        ext[0] = '\0'; /* cannot happen: four parameters fit */
    int n = ws_build_101_ext(resp, sizeof resp, e->accept, ext);
    struct evbuffer *buf = evbuffer_new();
    e->wait_start_us = now_us(e);
    int rc = buf ? evbuffer_add(buf, resp, (size_t)n) : -1;
    if (rc == 0)
        log_response(e, 101, resp, (size_t)n);
    start_group(e, buf, rc, NULL, 0, 0, 0);
}

static void accept_upgrade(wsr_engine *e, const ws_http_request *req,
                           ws_slice key, const char *path, size_t path_len)
{
    const wsr_scenario *sc =
        wsr_scenario_set_find(e->srv->scenarios, path, path_len);
    if (!sc) {
        char reason[300];
        snprintf(reason, sizeof reason, "no scenario named '%.*s'",
                 (int)(path_len > 200 ? 200 : path_len), path);
        respond_and_close(e, 404, reason, "not_found");
        return;
    }
    e->sc = sc;
    if (wsr_transcript_set(&e->tr, "scenario", sc->name) != 0) {
        respond_and_close(e, 500, "out of memory", "bad_request");
        return;
    }
    if (sc->tls_only && !e->tls) {
        respond_and_close(e, 400, "this scenario runs only over wss://",
                          "bad_request");
        return;
    }
    if (e->vary != WSR_VARY_NONE) {
        const char *no = wsr_scenario_vary_no(sc);
        if (no) {
            char reason[600];
            snprintf(reason, sizeof reason,
                     "this scenario opts out of variants: %.500s", no);
            respond_and_close(e, 400, reason, "bad_request");
            return;
        }
        if (wsr_transcript_set_new(&e->tr, "vary",
                                   json_string(wsr_vary_name(e->vary))) != 0) {
            respond_and_close(e, 500, "out of memory", "bad_request");
            return;
        }
    }
    if (ws_accept_key(key, e->accept) != 0) {
        respond_and_close(e, 500, "cannot compute the accept key",
                          "bad_request");
        return;
    }
    e->io->deadline(e->ctx, e->srv->cfg.session_timeout_ms);
    e->phase = PH_STEPS;
    e->step = 0;
    wsr_offers_read(req, &e->offers);
    if (!sc->handshake_in_group && !sc->handshake_manual)
        send_auto_101(e);
    else
        advance(e);
}

static void route_request(wsr_engine *e, const ws_http_request *req)
{
    wsr_target t;
    if (e->routed) /* handed over (handoff.h): the front chose the route */
        wsr_target_parse(e->routed, strlen(e->routed), &t);
    else
        wsr_target_parse(req->target.p, req->target.len, &t);
    if (t.kind == WSR_TARGET_CONTROL) {
        serve_control(e, &t);
        return;
    }
    int run_rc = t.query ? parse_run(e, t.query, t.query_len) : 0;
    if (run_rc == -1) {
        respond_and_close(e, 400,
                          "invalid run id: a letter or digit, then "
                          "letters, digits, '-', '_' and '.', at most 127",
                          "bad_request");
        return;
    }
    if (run_rc == -2) {
        respond_and_close(e, 500, "out of memory", "bad_request");
        return;
    }
    if (t.query &&
        !wsr_deflate_from_query(t.query, t.query_len, &e->deflate_url)) {
        respond_and_close(e, 400,
                          "invalid deflate: deflate=accept or deflate=decline",
                          "bad_request");
        return;
    }
    if (t.query && !wsr_vary_from_query(t.query, t.query_len, &e->vary)) {
        respond_and_close(e, 400,
                          "invalid vary: frames, header-payload, every-byte, "
                          "gaps, tls-record-per-write or tls-record-per-byte",
                          "bad_request");
        return;
    }
    if (wsr_vary_tls_only(e->vary) && !e->tls) {
        respond_and_close(e, 400, "this variant runs only over wss://",
                          "bad_request");
        return;
    }
    ws_slice key;
    const char *reason;
    int status = ws_handshake_check(req, &key, &reason);
    if (status != 0) {
        respond_and_close(e, status, reason, "bad_request");
        return;
    }
    if (t.kind == WSR_TARGET_NO_SCENARIO) {
        respond_and_close(e, 404, "no scenario in the request path",
                          "not_found");
        return;
    }
    accept_upgrade(e, req, key, t.name, t.name_len);
}

static void on_handshake_input(wsr_engine *e, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in);
    size_t max = e->srv->cfg.max_handshake;
    size_t look = len < max ? len : max;
    const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
    ws_http_request req;
    int n = ws_http_parse_request(p, look, &req);
    if (n == WS_HTTP_INCOMPLETE && look < max)
        return;
    if (n < 0) {
        bool big = n == WS_HTTP_INCOMPLETE;
        json_t *ev = wsr_event(&e->tr, "in", big ? "limit" : "protocol_error");
        json_object_set_new(ev, "reason",
                            json_string(big ? "request head over max_handshake"
                                            : "malformed HTTP request"));
        wsr_event_hex(ev, (const uint8_t *)p, look, 32);
        wsr_transcript_add(&e->tr, ev);
        evbuffer_drain(in, len);
        respond_and_close(
            e, 400, big ? "request head too large" : "malformed HTTP request",
            big ? "limit" : "bad_request");
        return;
    }
    log_request(e, &req, n);
    route_request(e, &req);
    /* The request head slices point into the input buffer: drain after use. */
    evbuffer_drain(in, (size_t)n);
    if (e->phase == PH_STEPS && !e->ending && e->upgraded)
        on_frame_input(e, in); /* frames sent right behind the request */
}

/* ---- what the shell feeds in ------------------------------------------ */

void wsr_engine_start(wsr_engine *e)
{
    log_simple(e, "in", "tcp_accept");
    e->io->deadline(e->ctx, e->srv->cfg.handshake_timeout_ms);
}

void wsr_engine_input(wsr_engine *e, struct evbuffer *in)
{
    if (e->ending)
        return;
    if (e->phase == PH_HANDSHAKE) {
        on_handshake_input(e, in);
    } else if (e->sc && e->phase != PH_FLUSH && e->upgraded) {
        on_frame_input(e, in);
    } else {
        size_t n = evbuffer_get_length(in);
        if (n && e->sc && e->phase == PH_STEPS) {
            /* No 101 went out: these are not frames. */
            json_t *ev = wsr_event(&e->tr, "in", "ignored");
            json_object_set_new(ev, "bytes", json_integer((json_int_t)n));
            wsr_transcript_add(&e->tr, ev);
        }
        evbuffer_drain(in, n);
    }
}

void wsr_engine_drained(wsr_engine *e)
{
    if (e->ending)
        return;
    if (e->phase == PH_FLUSH) {
        start_linger(e);
    } else if (e->wait == W_DRAIN) {
        e->wait_start_us = now_us(e);
        check_ack(e);
    } else if (e->wait == W_FLUSH_STEP) {
        e->wait = W_NONE;
        advance(e);
    }
}

void wsr_engine_eof(wsr_engine *e)
{
    if (e->ending)
        return;
    e->seen.eof = true;
    log_simple(e, "in", "tcp_eof");
    saw_client_fin(e);
    if (e->phase == PH_HANDSHAKE)
        wsr_engine_end(e, "peer_closed",
                       "the client closed during the handshake");
    else if (e->phase == PH_PARKED)
        end_wait(e); /* a half-close gets its answer; a gone client, none */
    else if (e->phase == PH_LINGER)
        wsr_engine_end(e, "complete", "steps done, client closed");
    else if (tls_write_impossible(e))
        return;
    else
        check_waits(e);
}

void wsr_engine_error(wsr_engine *e, const char *error)
{
    if (e->ending)
        return;
    saw_client_fin(e);
    json_t *ev = wsr_event(&e->tr, "in", "tcp_error");
    json_object_set_new(ev, "error", json_string(error));
    wsr_transcript_add(&e->tr, ev);
    wsr_engine_end(e, "peer_closed", error);
}

void wsr_engine_timer(wsr_engine *e)
{
    if (e->ending)
        return;
    if (e->phase == PH_LINGER) {
        wsr_engine_end(e, "complete",
                       "linger timeout: the client kept its side open");
        return;
    }
    if (e->phase == PH_PARKED) {
        end_wait(e); /* wait_ms passed */
        return;
    }
    const wsr_step *st = e->step ? &e->sc->steps[e->step - 1] : NULL;
    switch (e->wait) {
    case W_ACK:
        check_ack(e);
        return;
    case W_GAP:
        send_piece(e);
        return;
    case W_DELAY:
        e->wait = W_NONE;
        advance(e);
        return;
    case W_AWAIT:
        await_done(e, wsr_await_name(st->await_what), "timeout");
        e->wait = W_NONE;
        advance(e);
        return;
    case W_TRIP:
        trips_done(e, st, "timeout");
        return;
    case W_ECHO:
        e->echo_active = false;
        await_done(e, "echo", "timeout");
        e->wait = W_NONE;
        advance(e);
        return;
    default:
        return;
    }
}

void wsr_engine_deadline(wsr_engine *e)
{
    if (e->ending)
        return;
    bool hs = e->phase == PH_HANDSHAKE;
    json_t *ev = wsr_event(&e->tr, NULL, "limit");
    json_object_set_new(
        ev, "limit",
        json_string(hs ? "handshake_timeout_ms" : "session_timeout_ms"));
    json_object_set_new(ev, "value",
                        json_integer(hs ? e->srv->cfg.handshake_timeout_ms
                                        : e->srv->cfg.session_timeout_ms));
    wsr_transcript_add(&e->tr, ev);
    wsr_engine_end(e, "timeout",
                   hs ? "no complete request head in time"
                      : "the session ran past its time limit");
}

void wsr_engine_run_ended(wsr_engine *e)
{
    if (e->ending || e->phase != PH_PARKED)
        return;
    if (wsr_server_run_complete(e->srv, e->wait_run))
        end_wait(e);
}

/* ---- lifetime ---------------------------------------------------------- */

/* Ends the engine: records why, then the shell stops every callback. */
void wsr_engine_end(wsr_engine *e, const char *reason, const char *detail)
{
    if (e->ending)
        return;
    e->ending = true;
    if (e->phase == PH_PARKED)
        e->io->unpark(e->ctx);
    if (e->upgraded)
        record_tcp_close(e);
    log_simple(e, NULL, "closed");
    wsr_transcript_end(&e->tr, reason, detail);
    e->io->ended(e->ctx);
}

wsr_engine *wsr_engine_new(wsr_server *srv, struct evbuffer *out, bool tls,
                           const char *peer, const wsr_engine_io *io, void *ctx)
{
    wsr_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    if (wsr_transcript_init(&e->tr, peer) != 0 ||
        wsr_transcript_set(&e->tr, "transport", tls ? "wss" : "ws") != 0) {
        wsr_transcript_free(&e->tr);
        free(e);
        return NULL;
    }
    e->srv = srv;
    e->out = out;
    e->io = io;
    e->ctx = ctx;
    e->tls = tls;
    e->record = true;
    e->client_fin_us = e->server_fin_us = -1;
    e->last_in = e->last_out = -1;
    ws_decoder_init(&e->dec, srv->cfg.max_frame,
                    WS_DEC_REQUIRE_MASK | WS_DEC_PAUSE_AT_HEADER);
    wsr_wirecheck_init(&e->out_check);
    return e;
}

void wsr_engine_del(wsr_engine *e)
{
    if (!e)
        return;
    e->srv->buffered -= e->buffered;
    if (e->group)
        evbuffer_free(e->group);
    if (e->msg)
        evbuffer_free(e->msg);
    ws_decoder_free(&e->dec);
    wsr_wirecheck_free(&e->out_check);
    wsr_offers_free(&e->offers);
    wsr_inflater_del(e->inflater);
    wsr_deflater_del(e->deflater);
    json_decref(e->at_tcp_close);
    free(e->rt_us);
    wsr_transcript_free(&e->tr);
    free(e->run);
    free(e->wait_run);
    free(e->routed);
    free(e);
}

int wsr_engine_route(wsr_engine *e, const char *target)
{
    char *copy = strdup(target);
    if (!copy)
        return -1;
    free(e->routed);
    e->routed = copy;
    return 0;
}

const wsr_transcript *wsr_engine_transcript(const wsr_engine *e)
{
    return &e->tr;
}

bool wsr_engine_recorded(const wsr_engine *e)
{
    return e->record;
}

const char *wsr_engine_run(const wsr_engine *e)
{
    return e->run ? e->run : "";
}

bool wsr_engine_aborted(const wsr_engine *e)
{
    return e->abort_rst;
}

bool wsr_engine_ended(const wsr_engine *e)
{
    return e->ending;
}

size_t wsr_engine_buffered(const wsr_engine *e)
{
    return ws_decoder_capacity(&e->dec) +
           (e->msg ? evbuffer_get_length(e->msg) : 0);
}
