/*
 * test_engine.c — one connection's engine, fed bytes and a clock.
 *
 * No socket, no event loop: the test is the shell. It feeds the engine
 * request and frame bytes, says when its output has drained, moves a fake
 * clock and fires the timers the engine armed, and checks the bytes the
 * engine queued, the hooks it called (FIN, close_notify, reading, timers)
 * and its transcript. The scenarios are the wire tests' (server/tests/wire).
 */
#include <event2/buffer.h>
#include <string.h>

#include "check.h"
#include "codec.h"
#include "engine.h"
#include "scenario.h"
#include "server.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define RESPONSE_101                                                           \
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"               \
    "Connection: Upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n"

/* The shell: what the engine asked for, and the world it sees. */
typedef struct fake {
    wsr_engine *e;
    struct evbuffer *out, *in;
    uint64_t now; /* µs */
    uint32_t random;
    bool timer_on;
    unsigned timer_ms;
    unsigned deadline_ms; /* 0: never armed */
    bool reading;
    int unacked; /* what SIOCOUTQ says */
    bool peer_fin;
    bool peer_gone; /* TCP state CLOSE: the client reset the connection */
    int notify_err;
    unsigned notifies, shutdowns, ends;
    wsr_run_waiter waiter; /* parked in srv.runs, as session.c does */
    unsigned parks;
} fake;

static uint64_t f_now(void *ctx)
{
    return ((fake *)ctx)->now;
}

static uint32_t f_random(void *ctx)
{
    return ((fake *)ctx)->random;
}

static void f_timer(void *ctx, unsigned ms)
{
    fake *f = ctx;
    f->timer_on = true;
    f->timer_ms = ms;
}

static void f_timer_stop(void *ctx)
{
    ((fake *)ctx)->timer_on = false;
}

static void f_deadline(void *ctx, unsigned ms)
{
    ((fake *)ctx)->deadline_ms = ms;
}

static void f_reading(void *ctx, bool on)
{
    ((fake *)ctx)->reading = on;
}

static int f_unacked(void *ctx)
{
    return ((fake *)ctx)->unacked;
}

static bool f_peer_fin(void *ctx)
{
    return ((fake *)ctx)->peer_fin;
}

static bool f_peer_gone(void *ctx)
{
    return ((fake *)ctx)->peer_gone;
}

static int f_close_notify(void *ctx)
{
    fake *f = ctx;
    f->notifies++;
    return f->notify_err;
}

static void f_shutdown(void *ctx)
{
    ((fake *)ctx)->shutdowns++;
}

static void f_wake(void *arg)
{
    wsr_engine_run_ended(((fake *)arg)->e);
}

static wsr_server srv;

static bool f_park(void *ctx, const char *run)
{
    fake *f = ctx;
    f->parks++;
    f->waiter.run = run;
    f->waiter.wake = f_wake;
    f->waiter.arg = f;
    return wsr_runs_park(&srv.runs, &f->waiter);
}

static void f_unpark(void *ctx)
{
    wsr_runs_unpark(&srv.runs, &((fake *)ctx)->waiter);
}

static void f_ended(void *ctx)
{
    fake *f = ctx;
    f->ends++;
    f->timer_on = false;
}

static const wsr_engine_io fake_io = {
    .now_us = f_now,
    .random = f_random,
    .timer = f_timer,
    .timer_stop = f_timer_stop,
    .deadline = f_deadline,
    .reading = f_reading,
    .unacked = f_unacked,
    .peer_fin = f_peer_fin,
    .peer_gone = f_peer_gone,
    .close_notify = f_close_notify,
    .shutdown = f_shutdown,
    .park = f_park,
    .unpark = f_unpark,
    .ended = f_ended,
};

static wsr_scenario_set scenarios;
/* Every transcript root() parsed in this case: what it returned, and
 * what was read from it, stays valid until stop(). */
static json_t *parsed;

/* A new engine for the named case. */
static void start(fake *f, const char *name, bool tls)
{
    current = name;
    memset(f, 0, sizeof *f);
    f->reading = true;
    f->out = evbuffer_new();
    f->in = evbuffer_new();
    f->e = wsr_engine_new(&srv, f->out, tls, "127.0.0.1:4242", &fake_io, f);
    CHECK(f->e != NULL);
    /* The clock starts with the transcript, so times are exact. */
    f->now = wsr_engine_transcript(f->e)->start_us;
    wsr_engine_start(f->e);
    CHECK_EQ(f->deadline_ms, srv.cfg.handshake_timeout_ms);
}

static void stop(fake *f)
{
    CHECK(!f->waiter.parked); /* never freed while parked */
    json_array_clear(parsed);
    wsr_engine_del(f->e);
    evbuffer_free(f->out);
    evbuffer_free(f->in);
}

static void feed(fake *f, const void *p, size_t len)
{
    evbuffer_add(f->in, p, len);
    wsr_engine_input(f->e, f->in);
}

static void feed_str(fake *f, const char *s)
{
    feed(f, s, strlen(s));
}

/* Hex with spaces to bytes (at most 512); returns how many. */
static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (; hex[0] && hex[1] && n < 512; hex++) {
        if (hex[0] == ' ')
            continue;
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (uint8_t)v;
        hex++;
    }
    return n;
}

/* Client frames, as hex. */
static void feed_hex(fake *f, const char *hex)
{
    uint8_t buf[512];
    feed(f, buf, unhex(hex, buf));
}

static void request(fake *f, const char *target)
{
    char req[512];
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n",
             target);
    feed_str(f, req);
}

/* The engine's output is what want says (hex, or "t:" text); the shell
 * sends it and reports it drained. */
static void sent(fake *f, const char *want)
{
    uint8_t buf[512];
    size_t n;
    if (strncmp(want, "t:", 2) == 0) {
        n = strlen(want + 2);
        memcpy(buf, want + 2, n);
    } else {
        n = unhex(want, buf);
    }
    size_t len = evbuffer_get_length(f->out);
    const uint8_t *p = evbuffer_pullup(f->out, -1);
    CHECK_EQ(len, n);
    CHECK(len == n && memcmp(p, buf, n) == 0);
    evbuffer_drain(f->out, len);
    wsr_engine_drained(f->e);
}

/* A session of the named test that asked for target and got its 101. */
static void upgraded(fake *f, const char *name, const char *target, bool tls)
{
    start(f, name, tls);
    request(f, target);
    sent(f, "t:" RESPONSE_101);
}

/* The timer the engine armed is due: move the clock, fire it. */
static void fire(fake *f, unsigned want_ms)
{
    CHECK(f->timer_on);
    CHECK_EQ(f->timer_ms, want_ms);
    f->now += (uint64_t)f->timer_ms * 1000;
    f->timer_on = false;
    wsr_engine_timer(f->e);
}

/* Plays a script of "fire MS", "sent HEX", "feed HEX" and "eof", separated
 * by ';' — the wire as a test reads it. */
static void play(fake *f, const char *script)
{
    char op[600];
    while (*script) {
        size_t n = strcspn(script, ";");
        snprintf(op, sizeof op, "%.*s", (int)n, script);
        script += n + (script[n] == ';');
        while (*script == ' ')
            script++;
        if (strncmp(op, "fire ", 5) == 0)
            fire(f, (unsigned)atoi(op + 5));
        else if (strncmp(op, "sent ", 5) == 0)
            sent(f, op + 5);
        else if (strncmp(op, "feed ", 5) == 0)
            feed_hex(f, op + 5);
        else if (strcmp(op, "eof") == 0)
            wsr_engine_eof(f->e);
        else
            CHECK(!"a script step this test knows");
    }
}

/* The transcript as it stands, parsed from its text. */
static const json_t *root(const fake *f)
{
    json_t *tree = wsr_transcript_json(wsr_engine_transcript(f->e));
    CHECK(tree != NULL);
    if (!parsed)
        parsed = json_array();
    json_array_append_new(parsed, tree);
    return tree;
}

/* The transcript's event types, comma-separated. */
static void types(const fake *f, char *out, size_t cap)
{
    size_t i, at = 0;
    json_t *ev;
    out[0] = '\0';
    json_array_foreach (json_object_get(root(f), "events"), i, ev) {
        const char *t = json_string_value(json_object_get(ev, "type"));
        at += (size_t)snprintf(out + at, at < cap ? cap - at : 0, "%s%s",
                               i ? "," : "", t);
    }
}

static void check_types(const fake *f, const char *want)
{
    char got[2048];
    types(f, got, sizeof got);
    CHECK(strcmp(got, want) == 0);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "  events: %s\n  wanted: %s\n", got, want);
}

/* The nth event of a type (0 the first), or NULL. */
static const json_t *event(const fake *f, const char *type, int nth)
{
    size_t i;
    json_t *ev;
    json_array_foreach (json_object_get(root(f), "events"), i, ev) {
        const char *t = json_string_value(json_object_get(ev, "type"));
        if (strcmp(t, type) == 0 && nth-- == 0)
            return ev;
    }
    return NULL;
}

static long long field(const json_t *o, const char *key)
{
    return o ? (long long)json_integer_value(json_object_get(o, key)) : -1;
}

static bool field_is(const json_t *o, const char *key, const char *want)
{
    const char *s = o ? json_string_value(json_object_get(o, key)) : NULL;
    return s && strcmp(s, want) == 0;
}

/* The output so far starts with prefix. */
static bool out_starts(const fake *f, const char *prefix)
{
    size_t n = strlen(prefix);
    return evbuffer_get_length(f->out) >= n &&
           memcmp(evbuffer_pullup(f->out, (ev_ssize_t)n), prefix, n) == 0;
}

static bool ended_with(const fake *f, const char *reason)
{
    return f->ends == 1 && wsr_engine_ended(f->e) &&
           field_is(json_object_get(root(f), "end"), "reason", reason);
}

/* ---- the cases --------------------------------------------------------- */

/* A write group of five frames, then the drain of the client: the bytes,
 * the FIN, the linger timer and which side closed first. */
static void test_write(void)
{
    fake f;
    upgraded(&f, "write", "/w/write?run=r1", false);
    CHECK_EQ(f.deadline_ms, srv.cfg.session_timeout_ms);
    play(&f, "fire 50; sent 8102 6869 8202 00ff 8901 70 8a00 8805 03e8 627965");
    CHECK_EQ(f.shutdowns, 1);
    CHECK_EQ(f.notifies, 0);
    CHECK(f.timer_on && f.timer_ms == srv.cfg.linger_ms);
    f.now += 7000;
    wsr_engine_eof(f.e);
    CHECK(ended_with(&f, "complete"));
    CHECK(strcmp(wsr_engine_run(f.e), "r1") == 0);
    CHECK(wsr_engine_recorded(f.e));
    check_types(&f, "tcp_accept,http_request,http_response,write,acked,"
                    "step,step,frame,frame,frame,frame,frame,write,"
                    "acked,steps_done,tcp_shutdown,tcp_eof,closed");
    const json_t *tc = json_object_get(root(&f), "tcp_close");
    CHECK(field_is(tc, "first", "server"));
    CHECK_EQ(field(tc, "server_us"), 50000);
    CHECK_EQ(field(tc, "client_us"), 57000);
    CHECK_EQ(field(event(&f, "frame", 4), "close_code"), 1000);
    CHECK_EQ(field(event(&f, "frame", 1), "offset"), 4);
    /* Input after the end changes nothing. */
    feed_hex(&f, "810161");
    wsr_engine_timer(f.e);
    CHECK_EQ(f.ends, 1);
    stop(&f);
}

/* The request head whole, a byte at a time, and split at every offset:
 * the same 101 and the same transcript. */
static void test_request_split(void)
{
    char req[512];
    snprintf(req, sizeof req,
             "GET /w/write HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n");
    size_t len = strlen(req);
    for (size_t cut = 0; cut <= len; cut++) {
        fake f;
        start(&f, "request split", false);
        feed(&f, req, cut);
        feed(&f, req + cut, len - cut);
        sent(&f, "t:" RESPONSE_101);
        CHECK_EQ(field(event(&f, "http_request", 0), "bytes"), len);
        stop(&f);
    }
    fake f;
    start(&f, "request a byte at a time", false);
    for (size_t i = 0; i < len; i++) {
        CHECK_EQ(evbuffer_get_length(f.out), 0);
        feed(&f, req + i, 1);
    }
    sent(&f, "t:" RESPONSE_101);
    stop(&f);
}

/* The await ends when the client's close frame arrives, however it is cut;
 * waited_ms is the fed clock's. */
static void test_await_close(void)
{
    /* masked with key 0: the payload 03e8 (1000) as it is */
    static const uint8_t close_frame[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};
    for (size_t cut = 0; cut <= sizeof close_frame; cut++) {
        fake f;
        upgraded(&f, "await close", "/w/await-close", false);
        play(&f, "fire 50; sent 810161");
        CHECK(f.timer_on && f.timer_ms == 3000);
        f.now += 1234567;
        feed(&f, close_frame, cut);
        CHECK(event(&f, "await_done", 0) == NULL || cut == sizeof close_frame);
        feed(&f, close_frame + cut, sizeof close_frame - cut);
        const json_t *done = event(&f, "await_done", 0);
        CHECK(field_is(done, "result", "ok"));
        CHECK(field_is(done, "what", "close"));
        CHECK_EQ(field(done, "waited_ms"), 1234);
        CHECK_EQ(field(event(&f, "frame", 1), "close_code"), 1000);
        CHECK(!f.timer_on || f.timer_ms != 3000);
        sent(&f, "810162");
        CHECK_EQ(f.shutdowns, 1);
        stop(&f);
    }
}

static void test_await_timeout(void)
{
    fake f;
    upgraded(&f, "await timeout", "/w/await-timeout", false);
    play(&f, "fire 50; sent 810161; fire 150");
    const json_t *done = event(&f, "await_done", 0);
    CHECK(field_is(done, "result", "timeout"));
    CHECK_EQ(field(done, "waited_ms"), 150);
    /* The client stays during the linger: still a complete session. */
    play(&f, "sent 810162; fire 1000");
    CHECK(ended_with(&f, "complete"));
    stop(&f);
}

/* A group split at 1 and 3 goes in three pieces, 60 ms apart. */
static void test_split(void)
{
    fake f;
    upgraded(&f, "split", "/w/split", false);
    play(&f, "fire 50; sent 81; fire 60; sent 0568; fire 60; sent 656c6c6f");
    CHECK_EQ(field(event(&f, "write", 2), "piece"), 1);
    CHECK_EQ(field(event(&f, "write", 3), "bytes"), 4);
    CHECK_EQ(f.shutdowns, 1);
    stop(&f);
}

/* A piece the client does not ACK: polled every ms until ack_timeout. */
static void test_ack_timeout(void)
{
    fake f;
    start(&f, "ack timeout", false);
    request(&f, "/w/delay");
    f.unacked = 129;
    sent(&f, "t:" RESPONSE_101);
    CHECK(f.timer_on && f.timer_ms == 1);
    fire(&f, 1);
    CHECK(f.timer_on && f.timer_ms == 1);
    f.now += (uint64_t)srv.cfg.ack_timeout_ms * 1000;
    fire(&f, 1);
    const json_t *ev = event(&f, "ack_timeout", 0);
    CHECK_EQ(field(ev, "unacked"), 129);
    CHECK(event(&f, "acked", 0) == NULL);
    CHECK(f.timer_on && f.timer_ms == 50); /* the program goes on */
    f.unacked = 0;
    stop(&f);
}

/* A piece the client cannot ACK any more (it reset the connection): the
 * wait ends at the next poll, as ack_reset, not after ack_timeout_ms. */
static void test_ack_reset(void)
{
    fake f;
    start(&f, "ack reset", false);
    request(&f, "/w/delay");
    f.unacked = 129;
    sent(&f, "t:" RESPONSE_101);
    CHECK(f.timer_on && f.timer_ms == 1);
    fire(&f, 1);
    CHECK(f.timer_on && f.timer_ms == 1); /* still connected: polling */
    f.peer_gone = true;
    fire(&f, 1);
    const json_t *ev = event(&f, "ack_reset", 0);
    CHECK_EQ(field(ev, "unacked"), 129);
    CHECK(event(&f, "ack_timeout", 0) == NULL);
    CHECK(event(&f, "acked", 0) == NULL);
    CHECK(f.timer_on && f.timer_ms == 50); /* the program goes on */
    f.unacked = 0;
    f.peer_gone = false;
    stop(&f);
}

/* Echo: the client's masked "hi" goes back unmasked at once; the step
 * ends on its timeout. With max_output reached, the session ends. */
static void test_echo(void)
{
    fake f;
    upgraded(&f, "echo", "/w/echo", false);
    CHECK(f.timer_on && f.timer_ms == 300);
    play(&f, "feed 818201020304 696b; sent 81026869; fire 300");
    CHECK(field_is(event(&f, "message", 0), "text", "hi"));
    CHECK(field_is(event(&f, "await_done", 0), "result", "timeout"));
    CHECK_EQ(f.shutdowns, 1);
    stop(&f);

    size_t keep = srv.cfg.max_output;
    srv.cfg.max_output = 5;
    upgraded(&f, "echo over max_output", "/w/echo", false);
    feed_hex(&f, "818201020304 696b"); /* 4 bytes out, not drained */
    feed_hex(&f, "818201020304 696b");
    CHECK(ended_with(&f, "limit"));
    CHECK_EQ(evbuffer_get_length(f.out), 4);
    srv.cfg.max_output = keep;
    stop(&f);
}

/* A client message in four one-byte fragments: the two like continuations
 * in the middle are one event (a run), fed whole and a byte at a time. */
static void test_frame_runs(void)
{
    static const char *const how[] = {"runs of like client frames, whole",
                                      "runs of like client frames, by byte"};
    static const char frames[] = "01810102030460 00810102030463 "
                                 "00810102030462 80810102030465";
    for (int by_byte = 0; by_byte < 2; by_byte++) {
        fake f;
        upgraded(&f, how[by_byte], "/w/echo", false);
        if (by_byte) {
            uint8_t bytes[64];
            size_t n = unhex(frames, bytes);
            for (size_t i = 0; i < n; i++)
                feed(&f, bytes + i, 1);
        } else {
            feed_hex(&f, frames);
        }
        play(&f, "sent 810461626364; fire 300");
        const json_t *run = event(&f, "frame", 1);
        CHECK_EQ(field(event(&f, "frame", 0), "opcode"), 1);
        CHECK_EQ(field(run, "opcode"), 0);
        CHECK(json_is_false(json_object_get(run, "fin")));
        CHECK_EQ(field(run, "count"), 2);
        CHECK_EQ(field(run, "offset"), 7);
        CHECK_EQ(field(run, "offset_last"), 14);
        CHECK(field(run, "t_us_last") >= field(run, "t_us"));
        const json_t *last = event(&f, "frame", 2);
        CHECK(json_is_true(json_object_get(last, "fin")));
        CHECK_EQ(field(last, "offset"), 21);
        CHECK(json_object_get(last, "count") == NULL);
        CHECK(field_is(event(&f, "message", 0), "text", "abcd"));
        /* the echo (out) is no like frame of the client's */
        CHECK_EQ(field(event(&f, "frame", 3), "length"), 4);
        CHECK(field_is(event(&f, "frame", 3), "dir", "out"));
        stop(&f);
    }
}

/* The client's close ends the echo while its echoed "x" is still queued:
 * the write step waits until that has drained, then runs. */
static void test_flush_before_step(void)
{
    fake f;
    upgraded(&f, "flush before a step", "/w/echo-then-write", false);
    play(&f, "feed 818100000000 78; feed 888200000000 03e8");
    CHECK(field_is(event(&f, "await_done", 0), "result", "close"));
    CHECK(event(&f, "step", 1) == NULL);
    play(&f, "sent 810178");
    CHECK_EQ(field(event(&f, "step", 1), "index"), 1);
    play(&f, "sent 810162");
    CHECK(event(&f, "steps_done", 0) != NULL);
    stop(&f);
}

/* A paused session does not read: the first await times out; resumed,
 * the message comes in and the second await ends at once. */
static void test_read_pause(void)
{
    fake f;
    upgraded(&f, "read pause", "/w/read-pause", false);
    CHECK(!f.reading);
    play(&f, "fire 200; fire 100");
    CHECK(field_is(event(&f, "await_done", 0), "result", "timeout"));
    CHECK(f.reading);
    feed_hex(&f, "818100000000 78");
    CHECK(field_is(event(&f, "await_done", 1), "result", "ok"));
    sent(&f, "81026f6b");
    check_types(&f, "tcp_accept,http_request,http_response,write,acked,"
                    "step,read_paused,step,step,await_done,step,"
                    "read_resumed,step,frame,message,await_done,step,frame,"
                    "write,acked,steps_done,tcp_shutdown");
    stop(&f);
}

static void test_jitter(void)
{
    fake f;
    upgraded(&f, "jitter", "/w/jitter", false);
    f.random = 237; /* 237 mod 101 = 35 */
    play(&f, "fire 50; sent 810161");
    CHECK_EQ(field(event(&f, "delay", 0), "ms"), 135);
    play(&f, "fire 135; sent 810162");
    stop(&f);
}

/* The client breaks RFC 6455: an unmasked frame ends the session. */
static void test_protocol_error(void)
{
    fake f;
    upgraded(&f, "protocol error", "/w/await-close", false);
    feed_hex(&f, "810161");
    CHECK(ended_with(&f, "protocol_error"));
    const json_t *ev = event(&f, "protocol_error", 0);
    CHECK(field_is(ev, "error", "unmasked"));
    CHECK_EQ(field(ev, "offset"), 0);
    CHECK(!f.timer_on);
    stop(&f);
}

/* Issue 12: a client frame announcing max_frame costs what has arrived of
 * it, not what it announced; one over max_frame still ends the session at
 * its header, and max_message still holds across frames. */
static void test_frame_memory(void)
{
    fake f;
    upgraded(&f, "announced max_frame, sent 10 bytes", "/w/await-close", false);
    CHECK_EQ(srv.cfg.max_frame, 1u << 20);
    /* 64-bit length 0x100000 (1 MiB, the limit), mask 01020304 */
    feed_hex(&f, "82ff 0000000000100000 01020304 00112233445566778899");
    CHECK(!wsr_engine_ended(f.e));
    CHECK(wsr_engine_buffered(f.e) > 0);
    CHECK(wsr_engine_buffered(f.e) <= 8192);
    stop(&f);

    upgraded(&f, "announced max_frame + 1", "/w/await-close", false);
    feed_hex(&f, "82ff 0000000000100001");
    CHECK(ended_with(&f, "limit"));
    const json_t *ev = event(&f, "limit", 0);
    CHECK(ev != NULL);
    CHECK(field_is(ev, "error", "too_big"));
    CHECK_EQ(wsr_engine_buffered(f.e), 0);
    stop(&f);

    /* A fragment of 8 bytes then a 2-byte continuation over a 9-byte
     * max_message: the message limit, as before. */
    size_t keep = srv.cfg.max_message;
    srv.cfg.max_message = 9;
    upgraded(&f, "message over max_message", "/w/await-close", false);
    feed_hex(&f, "028801020304 0010203040506070");
    CHECK(!wsr_engine_ended(f.e));
    CHECK_EQ(wsr_engine_buffered(f.e), 8);
    feed_hex(&f, "808201020304 0809");
    CHECK(ended_with(&f, "limit"));
    CHECK(field_is(event(&f, "limit", 0), "limit", "max_message"));
    srv.cfg.max_message = keep;
    stop(&f);
}

/* max_buffered caps what the sessions hold together: the one whose bytes
 * cross it ends with reason limit; the others go on, and an ended session
 * gives its share back. */
static void test_max_buffered(void)
{
    static const char big_frame[] =
        "82ff 0000000000100000 01020304 00112233445566778899";
    fake a, b, c;
    CHECK_EQ(srv.buffered, 0);
    srv.cfg.max_buffered = 10000;
    upgraded(&a, "max_buffered: first", "/w/await-close", false);
    feed_hex(&a, big_frame);
    upgraded(&b, "max_buffered: second", "/w/await-close", false);
    feed_hex(&b, big_frame);
    CHECK(!wsr_engine_ended(a.e) && !wsr_engine_ended(b.e));
    CHECK_EQ(srv.buffered, 2 * WS_DEC_MIN_CAP);
    upgraded(&c, "max_buffered: third, over", "/w/await-close", false);
    feed_hex(&c, big_frame);
    CHECK(ended_with(&c, "limit"));
    const json_t *ev = event(&c, "limit", 0);
    CHECK(field_is(ev, "limit", "max_buffered"));
    CHECK_EQ(field(ev, "value"), 10000);
    CHECK(!wsr_engine_ended(a.e) && !wsr_engine_ended(b.e));
    stop(&c);
    CHECK_EQ(srv.buffered, 2 * WS_DEC_MIN_CAP);
    stop(&a);
    stop(&b);
    CHECK_EQ(srv.buffered, 0);
    srv.cfg.max_buffered = 0;
}

static void test_abort(void)
{
    fake f;
    upgraded(&f, "abort", "/w/abort", false);
    f.peer_fin = true;
    play(&f, "fire 50; sent 810161");
    CHECK(ended_with(&f, "aborted"));
    CHECK(wsr_engine_aborted(f.e));
    CHECK_EQ(f.shutdowns, 0);
    const json_t *rst = event(&f, "tcp_rst", 0);
    CHECK(rst && json_is_true(json_object_get(rst, "peer_fin")));
    /* The client's FIN was seen as the RST went: at the same fed time. */
    const json_t *tc = json_object_get(root(&f), "tcp_close");
    CHECK_EQ(field(tc, "client_us"), 50000);
    CHECK_EQ(field(tc, "server_us"), 50000);
    stop(&f);
}

/* wss://: the tls step sends close_notify, then FIN 300 ms later. */
static void test_close_notify(void)
{
    fake f;
    upgraded(&f, "close notify", "/t/close-notify", true);
    f.notify_err = 5;
    play(&f, "fire 50; sent 810161");
    CHECK_EQ(f.notifies, 1);
    CHECK_EQ(field(event(&f, "tls_close_notify", 0), "error"), 5);
    CHECK_EQ(f.shutdowns, 0);
    fire(&f, 300);
    CHECK_EQ(f.shutdowns, 1);
    CHECK_EQ(f.notifies, 1); /* once, even with the drain's shutdown */
    stop(&f);

    start(&f, "wss scenario on ws://", false);
    request(&f, "/t/close-notify");
    CHECK(out_starts(&f, "HTTP/1.1 400 "));
    stop(&f);
}

typedef struct http_row {
    const char *name;
    const char *request;
    const char *status_line;
    const char *end; /* end.reason */
} http_row;

/* clang-format off */
static const http_row http_rows[] = {
    {"unknown scenario", "GET /no/such HTTP/1.1\r\nHost: x\r\n"
     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " KEY
     "\r\nSec-WebSocket-Version: 13\r\n\r\n", "HTTP/1.1 404 ", "not_found"},
    {"no upgrade", "GET /w/write HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 4",
     "bad_request"},
    {"bad run id", "GET /w/write?run=a%20b HTTP/1.1\r\nHost: x\r\n\r\n",
     "HTTP/1.1 400 ", "bad_request"},
    {"malformed", "GET\r\n\r\n", "HTTP/1.1 400 ", "bad_request"},
    {"control", "GET /_runs/r9 HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK",
     "complete"},
};
/* clang-format on */

/* Every HTTP answer is followed by FIN and the drain of the client. */
static void test_http(void)
{
    for (size_t i = 0; i < sizeof http_rows / sizeof *http_rows; i++) {
        const http_row *r = &http_rows[i];
        fake f;
        start(&f, r->name, false);
        feed_str(&f, r->request);
        CHECK(out_starts(&f, r->status_line));
        CHECK_EQ(f.shutdowns, 0);
        evbuffer_drain(f.out, evbuffer_get_length(f.out));
        wsr_engine_drained(f.e);
        CHECK_EQ(f.shutdowns, 1);
        CHECK(f.timer_on && f.timer_ms == srv.cfg.linger_ms);
        wsr_engine_eof(f.e);
        CHECK(ended_with(&f, r->end));
        CHECK_EQ(wsr_engine_recorded(f.e), i != 4);
        stop(&f);
    }
}

/* A request with a valid run= and then a bad one is refused (400) and its
 * transcript filed under no run: not under the first tag, whose GET
 * /_runs/ID must not show a session that never ran. */
static void test_second_run_refused(void)
{
    static const char *const targets[] = {
        "/w/write?run=good&run=..",
        "/w/write?run=good&run=-rf",
        "/w/write?run=good&run=a%20b",
        "/w/write?run=.hidden",
    };
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        fake f;
        start(&f, targets[i], false);
        request(&f, targets[i]);
        CHECK(out_starts(&f, "HTTP/1.1 400 "));
        CHECK(strcmp(wsr_engine_run(f.e), "") == 0);
        CHECK(json_is_null(json_object_get(root(&f), "run")));
        CHECK(wsr_engine_recorded(f.e));
        evbuffer_drain(f.out, evbuffer_get_length(f.out));
        wsr_engine_drained(f.e);
        wsr_engine_eof(f.e);
        CHECK(ended_with(&f, "bad_request"));
        stop(&f);
    }
}

/* Limits: a request head that never ends, and one that is too big. */
static void test_handshake_limits(void)
{
    fake f;
    start(&f, "handshake timeout", false);
    feed_str(&f, "GET /w/write HTTP/1.1\r\n");
    wsr_engine_deadline(f.e);
    CHECK(ended_with(&f, "timeout"));
    CHECK(field_is(event(&f, "limit", 0), "limit", "handshake_timeout_ms"));
    stop(&f);

    start(&f, "head over max_handshake", false);
    char big[300];
    memset(big, 'a', sizeof big);
    feed_str(&f, "GET /w/write HTTP/1.1\r\nX: ");
    feed(&f, big, sizeof big);
    CHECK(out_starts(&f, "HTTP/1.1 400 "));
    CHECK(field_is(event(&f, "limit", 0), "reason",
                   "request head over max_handshake"));
    stop(&f);

    start(&f, "client gone during the handshake", false);
    wsr_engine_eof(f.e);
    CHECK(ended_with(&f, "peer_closed"));
    stop(&f);

    start(&f, "socket error", false);
    request(&f, "/w/await-close");
    wsr_engine_error(f.e, "Connection reset by peer");
    CHECK(ended_with(&f, "peer_closed"));
    CHECK(field_is(event(&f, "tcp_error", 0), "error",
                   "Connection reset by peer"));
    stop(&f);
}

/* ---- GET /_runs/ID?wait_ms=N: the long poll ----------------------------- */

/* A finished session of run, as session.c keeps it when one ends: in the
 * ring, then the waiters hear of it. */
static void session_ended(const char *run)
{
    char text[200];
    int n = snprintf(text, sizeof text, "{\"run\":\"%s\"}", run);
    wsr_runs_keep(&srv.runs, run, text, (size_t)n);
    wsr_runs_ended(&srv.runs, run);
}

static void control(fake *f, const char *name, const char *target)
{
    char req[300];
    start(f, name, false);
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    feed_str(f, req);
}

/* The output holds a 200 whose JSON body says complete (or not) and has
 * n sessions; the shell sends it: FIN, then the drain of the client. */
static void answered(fake *f, bool complete, size_t n)
{
    size_t len = evbuffer_get_length(f->out);
    const char *p = (const char *)evbuffer_pullup(f->out, -1);
    const char *body = len ? strstr(p, "\r\n\r\n") : NULL;
    CHECK(out_starts(f, "HTTP/1.1 200 OK\r\n"));
    json_t *j =
        body ? json_loadb(body + 4, len - (size_t)(body + 4 - p), 0, NULL)
             : NULL;
    CHECK(j != NULL);
    CHECK_EQ(json_is_true(json_object_get(j, "complete")), complete);
    CHECK_EQ(json_array_size(json_object_get(j, "sessions")), n);
    json_decref(j);
    evbuffer_drain(f->out, len);
    CHECK_EQ(f->shutdowns, 0);
    wsr_engine_drained(f->e);
    CHECK_EQ(f->shutdowns, 1);
}

static void test_long_poll(void)
{
    fake f;
    control(&f, "long poll: answered when the run's session ends",
            "/_runs/lp1?wait_ms=5000");
    CHECK_EQ(evbuffer_get_length(f.out), 0); /* parked: no answer yet */
    CHECK_EQ(f.parks, 1);
    CHECK_EQ(srv.runs.n_waiters, 1);
    CHECK(f.timer_on && f.timer_ms == 5000);
    CHECK_EQ(f.deadline_ms, 5000 + srv.cfg.handshake_timeout_ms);
    wsr_engine_drained(f.e);    /* nothing was queued: still parked */
    session_ended("lp1-other"); /* another run's end does not wake it */
    CHECK_EQ(evbuffer_get_length(f.out), 0);
    session_ended("lp1");
    CHECK_EQ(srv.runs.n_waiters, 0);
    CHECK(!f.timer_on); /* the wait's timer is stopped */
    answered(&f, true, 1);
    CHECK(f.timer_on && f.timer_ms == srv.cfg.linger_ms); /* the linger's */
    wsr_engine_eof(f.e);
    CHECK(ended_with(&f, "complete"));
    CHECK(!wsr_engine_recorded(f.e));
    stop(&f);

    control(&f, "long poll: wait_ms passes first", "/_runs/lp2?wait_ms=300");
    CHECK_EQ(evbuffer_get_length(f.out), 0);
    fire(&f, 300);
    CHECK_EQ(srv.runs.n_waiters, 0);
    answered(&f, false, 0);
    wsr_engine_eof(f.e);
    CHECK(ended_with(&f, "complete"));
    stop(&f);

    control(&f, "long poll: a complete run is answered at once",
            "/_runs/lp1?wait_ms=5000");
    CHECK_EQ(f.parks, 0);
    answered(&f, true, 1);
    stop(&f);

    control(&f, "long poll: wait_ms=0 is no wait", "/_runs/lp3?wait_ms=0");
    CHECK_EQ(f.parks, 0);
    answered(&f, false, 0);
    stop(&f);

    control(&f, "long poll: the client half-closes while waiting",
            "/_runs/lp4?wait_ms=5000");
    wsr_engine_eof(f.e);
    CHECK_EQ(srv.runs.n_waiters, 0);
    answered(&f, false, 0);            /* at once, as the run stands */
    CHECK(ended_with(&f, "complete")); /* its EOF came already */
    stop(&f);

    control(&f, "long poll: the client goes away while waiting",
            "/_runs/lp5?wait_ms=5000");
    wsr_engine_error(f.e, "Connection reset by peer");
    CHECK(ended_with(&f, "peer_closed"));
    CHECK_EQ(srv.runs.n_waiters, 0);
    CHECK_EQ(evbuffer_get_length(f.out), 0);
    stop(&f);

    control(&f, "long poll: the server stops while it waits",
            "/_runs/lp6?wait_ms=5000");
    wsr_engine_end(f.e, "server_shutdown", "the server is stopping");
    CHECK_EQ(srv.runs.n_waiters, 0);
    stop(&f);
}

/* clang-format off */
static const char *const bad_wait_ms[] = {
    "wait_ms=", "wait_ms=abc", "wait_ms=-1", "wait_ms=1e3", "wait_ms=60001",
    "wait_ms=99999999999999999999", "wait_ms=5&wait_ms=x", "wait_ms=%35",
};
/* clang-format on */

static void test_long_poll_refused(void)
{
    for (size_t i = 0; i < sizeof bad_wait_ms / sizeof *bad_wait_ms; i++) {
        char target[100];
        fake f;
        snprintf(target, sizeof target, "/_runs/lp?%s", bad_wait_ms[i]);
        control(&f, bad_wait_ms[i], target);
        CHECK(out_starts(&f, "HTTP/1.1 400 "));
        const char *p = (const char *)evbuffer_pullup(f.out, -1);
        CHECK(strstr(p, "wait_ms") != NULL);
        CHECK_EQ(f.parks, 0);
        stop(&f);
    }

    /* The waiters' limit: one more than it holds is told so, and waits on
     * nothing. */
    static wsr_run_waiter others[WSR_RUNS_WAITERS_MAX];
    for (size_t i = 0; i < WSR_RUNS_WAITERS_MAX; i++) {
        others[i].run = "busy";
        CHECK(wsr_runs_park(&srv.runs, &others[i]));
    }
    fake f;
    control(&f, "long poll: over the waiters' limit", "/_runs/lp?wait_ms=50");
    CHECK_EQ(f.parks, 1);
    CHECK(out_starts(&f, "HTTP/1.1 503 "));
    CHECK(strstr((const char *)evbuffer_pullup(f.out, -1), "1024") != NULL);
    evbuffer_drain(f.out, evbuffer_get_length(f.out));
    wsr_engine_drained(f.e);
    wsr_engine_eof(f.e);
    CHECK(ended_with(&f, "limit"));
    stop(&f);
    for (size_t i = 0; i < WSR_RUNS_WAITERS_MAX; i++)
        wsr_runs_unpark(&srv.runs, &others[i]);
    CHECK_EQ(srv.runs.n_waiters, 0);
}

/* A connection handed over by a front (handoff.h): routed by the given
 * target, whatever the client asked for; the transcript keeps both. A
 * routed target that names no scenario is the usual 404. */
static void test_routed(void)
{
    fake f;
    start(&f, "routed", false);
    CHECK_EQ(wsr_engine_route(f.e, "/w/write?run=routed-1"), 0);
    request(&f, "/runCase?case=3&agent=lib");
    sent(&f, "t:" RESPONSE_101);
    play(&f, "fire 50; sent 8102 6869 8202 00ff 8901 70 8a00 8805 03e8 627965");
    f.now += 1000;
    wsr_engine_eof(f.e);
    CHECK(ended_with(&f, "complete"));
    CHECK(strcmp(wsr_engine_run(f.e), "routed-1") == 0);
    const json_t *req = event(&f, "http_request", 0);
    CHECK(field_is(req, "target", "/runCase?case=3&agent=lib"));
    CHECK(field_is(req, "routed_target", "/w/write?run=routed-1"));
    CHECK(field_is(root(&f), "scenario", "w/write"));
    stop(&f);

    start(&f, "routed nowhere", false);
    CHECK_EQ(wsr_engine_route(f.e, "/no/such?run=routed-2"), 0);
    request(&f, "/w/write");
    CHECK(out_starts(&f, "HTTP/1.1 404 "));
    CHECK(field_is(event(&f, "http_request", 0), "target", "/w/write"));
    stop(&f);

    /* A plain connection has no routed target. */
    upgraded(&f, "not routed", "/w/write?run=r2", false);
    CHECK(json_object_get(event(&f, "http_request", 0), "routed_target") ==
          NULL);
    stop(&f);
}

int main(int argc, char **argv)
{
    char err[512];
    if (argc != 2) {
        fprintf(stderr, "usage: test_engine SCENARIO_DIR\n");
        return 2;
    }
    if (wsr_scenario_set_load(&scenarios, argv[1], err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    wsr_config cfg = {.linger_ms = 1000,
                      .handshake_timeout_ms = 5000,
                      .session_timeout_ms = 10000,
                      .ack_timeout_ms = 2000,
                      .max_frame = 1u << 20,
                      .max_message = 1u << 22,
                      .max_handshake = 256,
                      .max_output = 1u << 24};
    wsr_server_init(&srv, NULL, &cfg, &scenarios);
    test_write();
    test_request_split();
    test_await_close();
    test_await_timeout();
    test_split();
    test_ack_timeout();
    test_ack_reset();
    test_echo();
    test_frame_runs();
    test_flush_before_step();
    test_read_pause();
    test_jitter();
    test_protocol_error();
    test_frame_memory();
    test_max_buffered();
    test_abort();
    test_close_notify();
    test_http();
    test_second_run_refused();
    test_handshake_limits();
    test_long_poll();
    test_long_poll_refused();
    test_routed();
    json_decref(parsed);
    wsr_runs_free(&srv.runs);
    wsr_scenario_set_free(&scenarios);
    return check_summary("engine");
}
