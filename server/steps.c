/*
 * steps.c — what a running step program decides, without I/O.
 */
#include "steps.h"

#include <string.h>

#include "runs.h"

const char *wsr_step_name(enum wsr_step_kind kind)
{
    static const char *const names[] = {[WSR_STEP_WRITE] = "write",
                                        [WSR_STEP_DELAY] = "delay",
                                        [WSR_STEP_AWAIT] = "await",
                                        [WSR_STEP_ECHO] = "echo",
                                        [WSR_STEP_SHUTDOWN] = "shutdown",
                                        [WSR_STEP_ABORT] = "abort",
                                        [WSR_STEP_READ] = "read",
                                        [WSR_STEP_TLS] = "tls",
                                        [WSR_STEP_ROUND_TRIPS] = "round_trips"};
    return names[kind];
}

const char *wsr_await_name(enum wsr_await_what what)
{
    static const char *const names[] = {
        [WSR_AWAIT_CLOSE] = "close",     [WSR_AWAIT_MESSAGES] = "messages",
        [WSR_AWAIT_MESSAGE] = "message", [WSR_AWAIT_PING] = "ping",
        [WSR_AWAIT_PONG] = "pong",       [WSR_AWAIT_EOF] = "eof"};
    return names[what];
}

const char *wsr_await_result(const wsr_step *st, const wsr_input_seen *in)
{
    bool met = false;
    switch (st->await_what) {
    case WSR_AWAIT_CLOSE:
        met = in->close;
        break;
    case WSR_AWAIT_MESSAGES:
        met = in->msgs >= st->count;
        break;
    case WSR_AWAIT_MESSAGE:
        met = in->msgs > in->msgs_at_step;
        break;
    case WSR_AWAIT_PING:
        met = in->pings >= st->count;
        break;
    case WSR_AWAIT_PONG:
        met = in->pongs >= st->count;
        break;
    case WSR_AWAIT_EOF:
        met = in->eof;
        break;
    }
    if (met)
        return "ok";
    return in->eof ? "eof" : NULL;
}

const char *wsr_echo_result(const wsr_input_seen *in)
{
    if (in->close)
        return "close";
    return in->eof ? "eof" : NULL;
}

bool wsr_step_needs_empty_output(enum wsr_step_kind kind)
{
    return kind == WSR_STEP_WRITE || kind == WSR_STEP_SHUTDOWN ||
           kind == WSR_STEP_TLS || kind == WSR_STEP_ABORT ||
           kind == WSR_STEP_ROUND_TRIPS;
}

size_t wsr_piece_len(const size_t *split, size_t n_split, size_t every,
                     size_t piece, size_t group_off, size_t left)
{
    if (every)
        return every < left ? every : left;
    return piece < n_split ? split[piece] - group_off : left;
}

uint64_t wsr_median_sorted(const uint64_t *v, size_t n)
{
    return v[(n - 1) / 2];
}

bool wsr_ack_wait_more(int queued, unsigned waited_ms, unsigned timeout_ms)
{
    return queued > 0 && waited_ms < timeout_ms;
}

unsigned wsr_jittered(unsigned ms, unsigned jitter, uint32_t r)
{
    if (!jitter)
        return ms;
    /* jitter + 1 is 2^32 (0 in 32 bits) for the largest jitter: any r. */
    uint32_t span = (uint32_t)jitter + 1;
    return ms + (unsigned)(span ? r % span : r);
}

const char *wsr_first_closer(int64_t client_us, int64_t server_us)
{
    if (client_us < 0 && server_us < 0)
        return NULL;
    if (server_us < 0 || (client_us >= 0 && client_us < server_us))
        return "client";
    return "server";
}

void wsr_target_parse(const char *t, size_t len, wsr_target *out)
{
    const char *q = memchr(t, '?', len);
    size_t path_len = q ? (size_t)(q - t) : len;
    size_t ctl = strlen(WSR_RUNS_PATH);
    out->query = q ? q + 1 : NULL;
    out->query_len = q ? len - path_len - 1 : 0;
    if (path_len >= ctl && memcmp(t, WSR_RUNS_PATH, ctl) == 0) {
        out->kind = WSR_TARGET_CONTROL;
        out->name = t + ctl;
        out->name_len = path_len - ctl;
    } else if (path_len < 2 || t[0] != '/') {
        out->kind = WSR_TARGET_NO_SCENARIO;
        out->name = t;
        out->name_len = 0;
    } else {
        out->kind = WSR_TARGET_SCENARIO;
        out->name = t + 1;
        out->name_len = path_len - 1;
    }
}

static const char *const vary_names[] = {
    [WSR_VARY_NONE] = NULL,
    [WSR_VARY_FRAMES] = "frames",
    [WSR_VARY_HEADER_PAYLOAD] = "header-payload",
    [WSR_VARY_EVERY_BYTE] = "every-byte",
    [WSR_VARY_GAPS] = "gaps",
    [WSR_VARY_TLS_RECORD_PER_WRITE] = "tls-record-per-write",
    [WSR_VARY_TLS_RECORD_PER_BYTE] = "tls-record-per-byte",
};

const char *wsr_vary_name(enum wsr_vary v)
{
    return vary_names[v];
}

bool wsr_vary_parse(const char *p, size_t len, enum wsr_vary *out)
{
    for (size_t i = 1; i < sizeof vary_names / sizeof vary_names[0]; i++) {
        if (strlen(vary_names[i]) == len &&
            memcmp(vary_names[i], p, len) == 0) {
            *out = (enum wsr_vary)i;
            return true;
        }
    }
    return false;
}

bool wsr_vary_tls_only(enum wsr_vary v)
{
    return v == WSR_VARY_TLS_RECORD_PER_WRITE ||
           v == WSR_VARY_TLS_RECORD_PER_BYTE;
}

/* One step of the cutter over p[0..len): consumes up to the next place
 * where something ends (a header, a payload), returns how many bytes;
 * *ended says what ended there: 0 nothing, 1 a header with a payload to
 * follow, 2 a frame. */
static size_t cutter_step(wsr_cutter *c, const uint8_t *p, size_t len,
                          int *ended)
{
    *ended = 0;
    if (c->hdr_have == 0 && c->payload_left > 0) {
        uint64_t k = c->payload_left < len ? c->payload_left : len;
        c->payload_left -= k;
        if (c->payload_left == 0)
            *ended = 2;
        return (size_t)k;
    }
    size_t used = 0;
    while (used < len) {
        uint8_t b = p[used++];
        uint8_t l7 = c->hdr_have >= 2 ? c->hdr[1] & 0x7f : 0;
        unsigned ext = l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
        if (c->hdr_have < 2)
            c->hdr[c->hdr_have] = b;
        else if (c->hdr_have < 2 + ext) /* the extended length, not the key */
            c->len_acc = c->len_acc << 8 | b;
        c->hdr_have++;
        if (c->hdr_have == 2) {
            l7 = c->hdr[1] & 0x7f;
            ext = l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
            c->hdr_need = (uint8_t)(2 + ext + (c->hdr[1] & 0x80 ? 4 : 0));
            c->len_acc = 0;
        }
        if (c->hdr_have < 2 || c->hdr_have < c->hdr_need)
            continue;
        uint64_t plen = ext ? c->len_acc : l7;
        c->hdr_have = 0;
        c->hdr_need = 0;
        c->len_acc = 0;
        c->payload_left = plen;
        *ended = plen ? 1 : 2;
        break;
    }
    return used;
}

void wsr_cutter_feed(wsr_cutter *c, const uint8_t *p, size_t len)
{
    int ended;
    while (len > 0) {
        size_t k = cutter_step(c, p, len, &ended);
        p += k;
        len -= k;
    }
}

size_t wsr_cutter_next(const wsr_cutter *c, const uint8_t *p, size_t len,
                       bool header_payload)
{
    wsr_cutter t = *c;
    size_t used = 0;
    int ended;
    while (used < len) {
        used += cutter_step(&t, p + used, len - used, &ended);
        if (ended == 2 || (ended == 1 && header_payload))
            return used;
    }
    return len;
}
