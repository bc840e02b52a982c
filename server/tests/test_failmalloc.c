/*
 * test_failmalloc.c — allocation failure at the Nth call, over the scenario
 * loader and over sessions (as nghttp2's failmalloc tests do).
 *
 * Every allocator the server code reaches asks fm_fail() first:
 * its own malloc/calloc/realloc/strdup/strndup by the linker
 * (-Wl,--wrap=..., see meson.build: only the references in the objects
 * linked into this test are rewritten, the C library and the sanitizers
 * keep theirs), jansson's by json_set_alloc_funcs(), libevent's by
 * event_set_mem_functions() and OpenSSL's (the accept key's SHA-1) by
 * CRYPTO_set_mem_functions(). Armed, fm_fail() counts the calls and
 * fails the Nth ("once"), or the Nth and every one after it ("from").
 *
 * For N = 1, 2, ... until the operation finishes before its Nth call:
 * loading a catalogue-like scenario from a buffer, a file and a folder
 * must give an error naming the file, or the very scenarios loading
 * unarmed gives; three connections (a scripted 101 with split groups and
 * awaits, the automatic 101 and echo, each fed the client's masked text,
 * ping and close, their transcripts serialized and kept in the /_runs
 * ring as session.c does; then GET /_runs/fm1) must each end, a
 * transcript they still serialize must be valid JSON with its end
 * reason, and one that ended "complete" must have sent exactly the bytes
 * it sends unarmed. Nothing may crash or leak (under ASan, leaks are
 * checked every 16 N). The program prints how many injected failures it
 * survived per part. FM_DEBUG=1 prints a scenario that loaded different.
 *
 * Not failed: the allocations inside json_load*() (see below), and
 * those made before a part is armed (the test's own set-up).
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "engine.h"
#include "scenario.h"
#include "server.h"

#if defined(__SANITIZE_ADDRESS__)
#define FM_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FM_LSAN 1
#endif
#endif
#ifdef FM_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* ---- the failing allocator --------------------------------------------- */

static bool fm_armed;
static bool fm_persist;         /* fail every call from the Nth on */
static unsigned long fm_n;      /* the call that fails (1-based) */
static unsigned long fm_calls;  /* calls counted since armed */
static unsigned long fm_failed; /* calls failed since armed */

static void arm(unsigned long n, bool persist)
{
    fm_n = n;
    fm_persist = persist;
    fm_calls = fm_failed = 0;
    fm_armed = true;
}

static void disarm(void)
{
    fm_armed = false;
}

/* Every injected failure passes here: a debugger's breakpoint
 * (break fm_injected if fm_calls == N) shows who got it. */
__attribute__((noinline)) static void fm_injected(void)
{
    __asm__ volatile("");
}

/* Whether this allocation fails. */
static bool fm_fail(void)
{
    if (!fm_armed)
        return false;
    fm_calls++;
    if (fm_calls == fm_n || (fm_persist && fm_calls > fm_n)) {
        fm_failed++;
        fm_injected();
        return true;
    }
    return false;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n)
{
    return fm_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
    return fm_fail() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fm_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fm_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fm_fail() ? NULL : __real_strndup(s, n);
}

/* jansson's parser is one allocation point here: jansson 2.14 drops a
 * character when its token buffer cannot grow (load.c, lex_save() ignores
 * strbuffer_append_byte()'s result), so a scenario would load altered,
 * not refused. Failing json_load*() whole gives what an allocation
 * failure inside it should; the allocations it makes itself never fail. */
static bool fm_in_parse;

json_t *__real_json_loadb(const char *buf, size_t len, size_t flags,
                          json_error_t *error);
json_t *__real_json_loads(const char *s, size_t flags, json_error_t *error);
json_t *__real_json_loadfd(int fd, size_t flags, json_error_t *error);
json_t *__wrap_json_loadb(const char *buf, size_t len, size_t flags,
                          json_error_t *error);
json_t *__wrap_json_loads(const char *s, size_t flags, json_error_t *error);
json_t *__wrap_json_loadfd(int fd, size_t flags, json_error_t *error);

static bool parse_fails(json_error_t *error)
{
    if (!fm_fail())
        return false;
    if (error) {
        memset(error, 0, sizeof *error);
        error->line = error->column = error->position = -1;
        snprintf(error->text, sizeof error->text, "out of memory");
    }
    return true;
}

json_t *__wrap_json_loadb(const char *buf, size_t len, size_t flags,
                          json_error_t *error)
{
    if (parse_fails(error))
        return NULL;
    fm_in_parse = true;
    json_t *j = __real_json_loadb(buf, len, flags, error);
    fm_in_parse = false;
    return j;
}

json_t *__wrap_json_loads(const char *s, size_t flags, json_error_t *error)
{
    if (parse_fails(error))
        return NULL;
    fm_in_parse = true;
    json_t *j = __real_json_loads(s, flags, error);
    fm_in_parse = false;
    return j;
}

json_t *__wrap_json_loadfd(int fd, size_t flags, json_error_t *error)
{
    if (parse_fails(error))
        return NULL;
    fm_in_parse = true;
    json_t *j = __real_json_loadfd(fd, flags, error);
    fm_in_parse = false;
    return j;
}

static void *jansson_malloc(size_t n)
{
    return !fm_in_parse && fm_fail() ? NULL : __real_malloc(n);
}

/* The libraries' hooks; their frees are the C library's own. */
static void *lib_malloc(size_t n)
{
    return fm_fail() ? NULL : __real_malloc(n);
}

static void *lib_realloc(void *p, size_t n)
{
    return fm_fail() ? NULL : __real_realloc(p, n);
}

static void lib_free(void *p)
{
    free(p);
}

static void *ssl_malloc(size_t n, const char *file, int line)
{
    return lib_malloc(n);
}

static void *ssl_realloc(void *p, size_t n, const char *file, int line)
{
    return lib_realloc(p, n);
}

static void ssl_free(void *p, const char *file, int line)
{
    free(p);
}

/* Every 16th N (and the last): what leaked since the check before, now,
 * so that a leak is found near the N that made it (the exit's check would
 * name none). Not at every N: a check scans the whole heap. */
static void leak_check(unsigned long n, bool last)
{
#ifdef FM_LSAN
    if ((n % 16 == 0 || last) && __lsan_do_recoverable_leak_check() != 0) {
        fprintf(stderr,
                "[%s] leak with one of the allocations %lu..%lu failing\n",
                current, n > 15 ? n - 15 : 1, n);
        CHECK(!"no leak");
    }
#else
    (void)n;
    (void)last;
#endif
}

/* ---- the loader -------------------------------------------------------- */

/* A catalogue-like scenario: a handshake object, templates with count,
 * patterns, every payload source, frame options, raw bytes, splits,
 * delays with jitter, awaits of every kind, echo, read pause, shutdown. */
static const char loader_json[] =
    "{\"name\": \"fm/loader\", \"summary\": \"every kind of step\","
    " \"rfc\": [\"6455#5.2\", \"6455#4.2.2\"], \"tags\": [\"handshake\"],"
    " \"client\": {\"echo\": true},"
    " \"steps\": ["
    "  {\"write\": [{\"handshake\": {\"status\": 101, \"headers\":"
    "    [[\"Sec-WebSocket-Protocol\", \"chat\"]], \"omit\": [\"Connection\"]}},"
    "   {\"text\": \"hello {i}\", \"count\": 3}, {\"ping\": \"p\"}],"
    "   \"split\": [10, 20], \"gap_ms\": 5},"
    "  {\"await\": \"messages\", \"count\": 3, \"timeout_ms\": 2000},"
    "  {\"delay_ms\": 100, \"jitter_ms\": 50},"
    "  {\"write\": [{\"text\": \"a\", \"fin\": false}, {\"continuation\": \"b\"},"
    "   {\"text\": \"x\", \"rsv\": 4}, {\"binary\": \"\", \"opcode\": 3,"
    "   \"hex\": \"01\"}, {\"text\": \"m\", \"mask\": \"01020304\"},"
    "   {\"text\": \"L\", \"length_form\": 64}, {\"binary\": \"\","
    "   \"base64\": \"AAH/\"}, {\"binary\": \"\", \"pattern\": \"ab\","
    "   \"size\": 7000}, {\"raw\": \"de ad\"}, {\"raw_text\": \"Z\"}],"
    "   \"split\": \"every_byte\", \"gap_ms\": 1},"
    "  {\"await\": \"ping\", \"timeout_ms\": 1000},"
    "  {\"read\": \"pause\"}, {\"read\": \"resume\"},"
    "  {\"echo\": {\"timeout_ms\": 300}},"
    "  {\"write\": [{\"close\": 1000, \"reason\": \"bye\"}]},"
    "  {\"await\": \"close\", \"timeout_ms\": 2000},"
    "  {\"shutdown\": \"write\"}],"
    " \"expect\": {\"messages\": [{\"text\": \"hello {i}\", \"count\": 3}],"
    "  \"close\": {\"code\": 1000, \"reason\": \"bye\"}},"
    " \"severity\": \"fail\"}";

static bool same_item(const wsr_item *a, const wsr_item *b)
{
    return a->kind == b->kind && a->fin == b->fin && a->rsv == b->rsv &&
           a->opcode == b->opcode && a->mask == b->mask &&
           memcmp(a->mask_key, b->mask_key, 4) == 0 &&
           a->len_form == b->len_form && a->len == b->len &&
           (a->len == 0 || memcmp(a->data, b->data, a->len) == 0) &&
           a->http_status == b->http_status && a->accept_at == b->accept_at;
}

static bool same_step(const wsr_step *a, const wsr_step *b)
{
    if (a->kind != b->kind || a->n_items != b->n_items ||
        a->n_split != b->n_split || a->gap_ms != b->gap_ms ||
        a->split_every_byte != b->split_every_byte ||
        a->split_every != b->split_every ||
        a->fail_fast_mark != b->fail_fast_mark || a->ms != b->ms ||
        a->jitter_ms != b->jitter_ms || a->await_what != b->await_what ||
        a->count != b->count || a->read_on != b->read_on ||
        a->shutdown_how != b->shutdown_how)
        return false;
    for (size_t i = 0; i < a->n_items; i++)
        if (!same_item(&a->items[i], &b->items[i]))
            return false;
    return a->n_split == 0 ||
           memcmp(a->split, b->split, a->n_split * sizeof *a->split) == 0;
}

/* The same scenario, down to its bytes and its document. */
static bool same_scenario(const wsr_scenario *a, const wsr_scenario *b)
{
    if (strcmp(a->name, b->name) != 0 || strcmp(a->path, b->path) != 0 ||
        a->n_steps != b->n_steps || a->write_bytes != b->write_bytes ||
        a->handshake_in_group != b->handshake_in_group ||
        a->handshake_manual != b->handshake_manual ||
        a->tls_only != b->tls_only || !json_equal(a->doc, b->doc))
        return false;
    for (size_t i = 0; i < a->n_steps; i++)
        if (!same_step(&a->steps[i], &b->steps[i]))
            return false;
    return true;
}

/* The three ways in: a buffer (the fuzzer's), a file (./wsreplay check),
 * a folder (the server's start: every *.json under it, sorted). */
enum load_kind { FROM_BUFFER, FROM_FILE, FROM_FOLDER };
static const char *const kind_names[] = {"buffer", "file", "folder"};
static char folder[64], file[128]; /* a temporary folder, fm/loader.json */

/* Loads into *out (empty when refused): 0, or -1 with the error in err. */
static int load(enum load_kind k, wsr_scenario_set *out, char *err,
                size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (k == FROM_FOLDER)
        return wsr_scenario_set_load(out, folder, err, errlen);
    wsr_scenario *sc =
        k == FROM_BUFFER
            ? wsr_scenario_load_buffer(loader_json, sizeof loader_json - 1,
                                       "fm/loader.json", "fm/loader", err,
                                       errlen)
            : wsr_scenario_load_file(file, "fm/loader", err, errlen);
    if (!sc)
        return -1;
    /* Not counted: the test's own. */
    out->v = __real_malloc(sizeof *out->v);
    out->v[0] = sc;
    out->n = 1;
    return 0;
}

static bool same_set(const wsr_scenario_set *a, const wsr_scenario_set *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (!same_scenario(a->v[i], b->v[i]))
            return false;
    return true;
}

/* Loads with every allocation from the Nth failing (persist) or only the
 * Nth, for N = 1, 2, ...: each is refused with an error that names the
 * file (the folder's: any error), or gives what loading unarmed gives.
 * Returns how many injected failures were survived. */
static unsigned long loader_runs(enum load_kind k, bool persist)
{
    unsigned long survived = 0;
    char err[512], what[64];
    wsr_scenario_set ref, got;
    snprintf(what, sizeof what, "loader (%s), %s", kind_names[k],
             persist ? "from the Nth on" : "the Nth");
    current = what;
    CHECK(load(k, &ref, err, sizeof err) == 0);
    const char *name = k == FROM_BUFFER ? "fm/loader.json" : file;
    for (unsigned long n = 1;; n++) {
        err[0] = '\0';
        arm(n, persist);
        int rc = load(k, &got, err, sizeof err);
        disarm();
        unsigned long failed = fm_failed;
        if (failed == 0) { /* done before its Nth allocation */
            CHECK(rc == 0 && same_set(&got, &ref));
            wsr_scenario_set_free(&got);
            leak_check(n, true);
            break;
        }
        bool clean = rc == 0            ? same_set(&got, &ref)
                     : k == FROM_FOLDER ? err[0] != '\0'
                                        : strncmp(err, name, strlen(name)) == 0;
        CHECK(clean);
        if (!clean)
            fprintf(stderr, "  allocation %lu: %s\n", n,
                    rc == 0 ? "a different scenario" : err);
        if (!clean && rc == 0 && got.n && getenv("FM_DEBUG")) {
            json_dumpf(got.v[0]->doc, stderr, JSON_COMPACT);
            fprintf(stderr, "\n");
        }
        wsr_scenario_set_free(&got);
        leak_check(n, false);
        survived += clean;
    }
    wsr_scenario_set_free(&ref);
    return survived;
}

/* ---- a session --------------------------------------------------------- */

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

/* A scripted 101 and write groups (one of messages deflated at the write,
 * see main), awaits, a shutdown. */
static const char session_json[] =
    "{\"name\": \"fm/session\", \"summary\": \"one session\","
    " \"rfc\": [\"6455#5.2\"],"
    " \"steps\": ["
    "  {\"write\": [{\"handshake\": {\"status\": 101, \"headers\":"
    "    [[\"X-Fm\", \"1\"]]}}, {\"text\": \"hello {i}\", \"count\": 2},"
    "   {\"ping\": \"p\"}], \"split\": [150], \"gap_ms\": 5},"
    "  {\"await\": \"messages\", \"count\": 1, \"timeout_ms\": 1000},"
    "  {\"await\": \"ping\", \"timeout_ms\": 1000},"
    "  {\"write\": [{\"text\": \"deflated {i}\", \"compress\": true,"
    "    \"count\": 2, \"fragment_size\": 4}]},"
    "  {\"write\": [{\"close\": 1000, \"reason\": \"bye\"}]},"
    "  {\"await\": \"close\", \"timeout_ms\": 1000},"
    "  {\"shutdown\": \"write\"}],"
    " \"expect\": {}}";

/* The automatic 101, then echo until the client's close. */
static const char echo_json[] =
    "{\"name\": \"fm/echo\", \"summary\": \"echo\", \"rfc\": [\"6455#5.2\"],"
    " \"steps\": [{\"echo\": {\"timeout_ms\": 1000}},"
    "  {\"write\": [{\"close\": 1000}]}, {\"shutdown\": \"write\"}],"
    " \"expect\": {}}";

typedef struct shell {
    wsr_engine *e;
    struct evbuffer *out, *in;
    uint64_t now;
    bool timer_on;
    unsigned timer_ms;
    unsigned ends;
    char sent[16384]; /* the bytes sent (the scenarios send fewer) */
    size_t sent_len;
} shell;

static wsr_server srv;

static uint64_t s_now(void *ctx)
{
    return ((shell *)ctx)->now;
}

static uint32_t s_random(void *ctx)
{
    return 0;
}

static void s_timer(void *ctx, unsigned ms)
{
    shell *s = ctx;
    s->timer_on = true;
    s->timer_ms = ms;
}

static void s_timer_stop(void *ctx)
{
    ((shell *)ctx)->timer_on = false;
}

static void s_deadline(void *ctx, unsigned ms)
{
}

static void s_reading(void *ctx, bool on)
{
}

static int s_unacked(void *ctx)
{
    return 0;
}

static bool s_false(void *ctx)
{
    return false;
}

static int s_close_notify(void *ctx)
{
    return 0;
}

static void s_shutdown(void *ctx)
{
}

static bool s_park(void *ctx, const char *run)
{
    return false;
}

static void s_unpark(void *ctx)
{
}

static void s_ended(void *ctx)
{
    shell *s = ctx;
    s->ends++;
    s->timer_on = false;
}

static const wsr_engine_io shell_io = {
    .now_us = s_now,
    .random = s_random,
    .timer = s_timer,
    .timer_stop = s_timer_stop,
    .deadline = s_deadline,
    .reading = s_reading,
    .unacked = s_unacked,
    .peer_fin = s_false,
    .peer_gone = s_false,
    .close_notify = s_close_notify,
    .shutdown = s_shutdown,
    .park = s_park,
    .unpark = s_unpark,
    .ended = s_ended,
};

/* The shell sends what the engine queued, then fires its timer while it
 * runs one of at most max_ms (at most 20 times: the scenarios' timers are
 * few). The client answers at once: while it still has frames to send,
 * only gaps and ACK polls (a few ms) pass, never an await's timeout. */
static void settle(shell *s, unsigned max_ms)
{
    for (int i = 0; i < 20; i++) {
        size_t len = evbuffer_get_length(s->out);
        ev_ssize_t n = evbuffer_copyout(s->out, s->sent + s->sent_len,
                                        sizeof s->sent - 1 - s->sent_len);
        s->sent_len += n > 0 ? (size_t)n : 0;
        evbuffer_drain(s->out, len);
        wsr_engine_drained(s->e);
        if (!s->timer_on || s->timer_ms > max_ms || wsr_engine_ended(s->e))
            break;
        s->timer_on = false;
        s->now += (uint64_t)s->timer_ms * 1000;
        wsr_engine_timer(s->e);
    }
}

static void feed(shell *s, const void *p, size_t len)
{
    /* The shell's own buffer is libevent's, so its allocations may fail
     * too: a read that fails so is a socket error for the session, as
     * libevent reports it to session.c. */
    if (evbuffer_add(s->in, p, len) == 0)
        wsr_engine_input(s->e, s->in);
    else
        wsr_engine_error(s->e, "Cannot allocate memory");
    settle(s, 100);
}

/* What one connection left. */
typedef struct outcome {
    bool started;  /* false: wsr_engine_new() (or a shell buffer) refused */
    bool recorded; /* a session, not a control request */
    char *text;    /* its transcript as session.c keeps it, or NULL */
    size_t len;
    char sent[16384]; /* the bytes the engine sent, NUL-terminated */
    size_t sent_len;
    char run[128]; /* the run the ring files it under ("": none) */
} outcome;

/* One connection asking for target; a WebSocket upgrade (with the client's
 * masked text, ping and close) or a plain GET. */
static outcome connection(const char *target, bool upgrade)
{
    /* masked with key 01020304: text "hi", ping "x", close 1000 */
    static const uint8_t text_frame[] = {0x81, 0x82, 1,       2,
                                         3,    4,    'h' ^ 1, 'i' ^ 2};
    static const uint8_t ping_frame[] = {0x89, 0x81, 1, 2, 3, 4, 'x' ^ 1};
    static const uint8_t close_frame[] = {0x88, 0x82, 1,        2,
                                          3,    4,    0x03 ^ 1, 0xe8 ^ 2};
    char req[512];
    int n = snprintf(req, sizeof req,
                     upgrade ? "GET %s HTTP/1.1\r\nHost: localhost\r\n"
                               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Key: " KEY "\r\n"
                               "Sec-WebSocket-Version: 13\r\n\r\n"
                             : "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n",
                     target);
    outcome o = {0};
    shell s = {0};
    s.out = evbuffer_new();
    s.in = evbuffer_new();
    if (s.out && s.in)
        s.e =
            wsr_engine_new(&srv, s.out, false, "127.0.0.1:4242", &shell_io, &s);
    if (!s.e) {
        if (s.out)
            evbuffer_free(s.out);
        if (s.in)
            evbuffer_free(s.in);
        return o;
    }
    o.started = true;
    s.now = wsr_engine_transcript(s.e)->start_us;
    wsr_engine_start(s.e);
    feed(&s, req, (size_t)n);
    if (upgrade) {
        feed(&s, text_frame, sizeof text_frame);
        feed(&s, ping_frame, sizeof ping_frame);
        feed(&s, close_frame, sizeof close_frame);
    }
    wsr_engine_eof(s.e);
    settle(&s, UINT_MAX);
    /* Whatever an injected failure left waiting, the session deadline
     * ends it, as in the server. */
    wsr_engine_deadline(s.e);
    CHECK(wsr_engine_ended(s.e));
    CHECK_EQ(s.ends, 1);
    /* What session.c does at the end: the one serialization, kept in the
     * /_runs ring. */
    o.recorded = wsr_engine_recorded(s.e);
    snprintf(o.run, sizeof o.run, "%s", wsr_engine_run(s.e));
    if (o.recorded) {
        o.text = wsr_transcript_dump(wsr_engine_transcript(s.e), &o.len);
        if (o.text)
            wsr_runs_keep(&srv.runs, wsr_engine_run(s.e), o.text, o.len);
    }
    memcpy(o.sent, s.sent, s.sent_len);
    o.sent_len = s.sent_len;
    wsr_engine_del(s.e);
    evbuffer_free(s.out);
    evbuffer_free(s.in);
    return o;
}

/* A transcript's end reason; NULL if the text is not one JSON object
 * with one, or if a top-level field is lost: a run other than the one the
 * ring files it under, no peer or transport, or no scenario in a session
 * that ran one to completion. */
static char *end_reason(const outcome *o)
{
    json_t *root = json_loadb(o->text, o->len, 0, NULL);
    const json_t *end = json_object_get(root, "end");
    const char *r = json_string_value(json_object_get(end, "reason"));
    const char *run = json_string_value(json_object_get(root, "run"));
    bool fields = strcmp(run ? run : "", o->run) == 0 &&
                  json_is_string(json_object_get(root, "peer")) &&
                  json_is_string(json_object_get(root, "transport")) &&
                  (!r || strcmp(r, "complete") != 0 ||
                   json_is_string(json_object_get(root, "scenario")));
    char *copy = r && fields && json_is_true(json_object_get(root, "complete"))
                     ? strdup(r)
                     : NULL;
    json_decref(root);
    return copy;
}

/* A GET /_runs answer: a 200 whose body is as long as it says and one
 * JSON object, or any other status, or nothing (the engine could not be
 * made, or its answer could not be queued). */
static bool control_answer_ok(const outcome *o)
{
    if (o->sent_len < 12 || memcmp(o->sent, "HTTP/1.1 200", 12) != 0)
        return o->sent_len == 0 || memcmp(o->sent, "HTTP/1.1 ", 9) == 0;
    const char *cl = strstr(o->sent, "Content-Length: ");
    const char *body = strstr(o->sent, "\r\n\r\n");
    if (!cl || !body)
        return false;
    body += 4;
    size_t len = o->sent_len - (size_t)(body - o->sent);
    json_t *root = json_loadb(body, len, 0, NULL);
    bool ok = root && strtoul(cl + 16, NULL, 10) == len;
    json_decref(root);
    return ok;
}

/* Per-outcome tallies of the failing runs. */
static unsigned long refused, no_text, complete, other;

/* A session's outcome under an injected failure: clean when it could not
 * start, or ended with no transcript text (out of memory for it), or with
 * a transcript that is valid JSON and says why it ended. */
static bool judge(const outcome *o, const outcome *ref, unsigned long n)
{
    if (!o->started) {
        refused++;
        return true;
    }
    if (!o->text) {
        no_text++;
        return true;
    }
    char *reason = end_reason(o);
    if (!reason) {
        fprintf(stderr, "  allocation %lu: transcript %.*s\n", n,
                (int)(o->len < 4000 ? o->len : 4000), o->text);
        return false;
    }
    bool same = o->sent_len == ref->sent_len &&
                memcmp(o->sent, ref->sent, o->sent_len) == 0;
    bool ok = true;
    if (strcmp(reason, "complete") == 0) {
        /* A complete session sent exactly the scenario's bytes; a failure
         * that lost some must end it otherwise. */
        complete++;
        ok = same;
        if (!ok)
            fprintf(stderr,
                    "  allocation %lu: complete, but %zu bytes sent, not "
                    "%zu as unarmed\n",
                    n, o->sent_len, ref->sent_len);
    } else {
        other++;
    }
    free(reason);
    return ok;
}

/* Under the Nth failing allocation: a session with a scripted 101, one
 * with the automatic 101 and echo, then GET /_runs/fm1 read back from the
 * ring. Returns how many injected failures were survived. */
static unsigned long session_runs(bool persist)
{
    unsigned long survived = 0;
    refused = no_text = complete = other = 0;
    current = persist ? "session, from the Nth on" : "session, the Nth";
    /* What the connections send with nothing failing. */
    static outcome ref_a, ref_b, ref_c;
    ref_a = connection("/fm/session?run=fm1", true);
    ref_b = connection("/fm/echo?run=fm1", true);
    ref_c = connection("/_runs/fm1", false);
    free(ref_a.text);
    free(ref_b.text);
    free(ref_c.text);
    wsr_runs_free(&srv.runs);
    wsr_runs_init(&srv.runs);
    for (unsigned long n = 1;; n++) {
        arm(n, persist);
        static outcome a, b, c; /* 48 KiB: off the stack */
        a = connection("/fm/session?run=fm1", true);
        b = connection("/fm/echo?run=fm1", true);
        c = connection("/_runs/fm1", false);
        disarm();
        unsigned long failed = fm_failed;
        if (failed == 0) { /* done before its Nth allocation */
            char *ra = a.text ? end_reason(&a) : NULL;
            char *rb = b.text ? end_reason(&b) : NULL;
            CHECK(ra && strcmp(ra, "complete") == 0);
            CHECK(rb && strcmp(rb, "complete") == 0);
            CHECK(!c.recorded && c.sent_len > 12 &&
                  memcmp(c.sent, "HTTP/1.1 200", 12) == 0);
            free(ra);
            free(rb);
        }
        /* Each judged, whatever the others gave: every outcome counts.
         * The control request is judged as a session when a failure made
         * it one (refused before it was routed: recorded, with reason
         * bad_request). */
        bool clean_a = judge(&a, &ref_a, n);
        bool clean_b = judge(&b, &ref_b, n);
        bool clean_c =
            c.recorded ? judge(&c, &ref_c, n) : control_answer_ok(&c);
        bool clean = clean_a && clean_b && clean_c;
        CHECK(clean);
        free(a.text);
        free(b.text);
        free(c.text);
        /* Each N starts from an empty ring. */
        wsr_runs_free(&srv.runs);
        wsr_runs_init(&srv.runs);
        leak_check(n, failed == 0);
        if (failed == 0)
            break;
        survived += clean;
    }
    printf("%s: %lu sessions could not start, %lu ended without a "
           "transcript, %lu complete, %lu ended otherwise\n",
           current, refused, no_text, complete, other);
    return survived;
}

int main(void)
{
    char err[512];
    /* Before any allocation of theirs: the hooks must free what they
     * allocated. */
    event_set_mem_functions(lib_malloc, lib_realloc, lib_free);
    json_set_alloc_funcs(jansson_malloc, lib_free);
    CHECK(CRYPTO_set_mem_functions(ssl_malloc, ssl_realloc, ssl_free) == 1);

    /* The folder: fm/loader.json, fm/session.json, fm/echo.json. */
    snprintf(folder, sizeof folder, "/tmp/wsr-failmalloc-XXXXXX");
    char sub[100], paths[3][128];
    if (!mkdtemp(folder))
        return 2;
    snprintf(sub, sizeof sub, "%s/fm", folder);
    mkdir(sub, 0700);
    const char *texts[3] = {loader_json, session_json, echo_json};
    const char *names[3] = {"loader", "session", "echo"};
    for (int i = 0; i < 3; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s.json", sub, names[i]);
        FILE *fp = fopen(paths[i], "w");
        if (!fp || fputs(texts[i], fp) < 0 || fclose(fp) != 0)
            return 2;
    }
    snprintf(file, sizeof file, "%s", paths[0]);

    /* The session's compressed messages are deflated as it writes them
     * (the loads above deflate them at load: they are small). */
    wsr_scenario_deflate_when(WSR_DEFLATE_WHEN_WRITE);
    wsr_scenario *sc = wsr_scenario_load_buffer(
        session_json, sizeof session_json - 1, "fm/session.json", "fm/session",
        err, sizeof err);
    wsr_scenario_deflate_when(WSR_DEFLATE_WHEN_AUTO);
    if (!sc || !sc->deflate_at_write) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    wsr_scenario *echo =
        wsr_scenario_load_buffer(echo_json, sizeof echo_json - 1,
                                 "fm/echo.json", "fm/echo", err, sizeof err);
    if (!echo) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    wsr_scenario_set set = {0};
    if (wsr_scenario_set_add(&set, sc) != 0 ||
        wsr_scenario_set_add(&set, echo) != 0 ||
        wsr_scenario_set_seal(&set, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    wsr_config cfg = {.linger_ms = 1000,
                      .handshake_timeout_ms = 5000,
                      .session_timeout_ms = 10000,
                      .ack_timeout_ms = 2000,
                      .max_frame = 1u << 20,
                      .max_message = 1u << 22,
                      .max_handshake = 4096,
                      .max_output = 1u << 24};
    wsr_server_init(&srv, NULL, &cfg, &set);

    unsigned long once = 0, from = 0;
    for (int k = FROM_BUFFER; k <= FROM_FOLDER; k++) {
        unsigned long o = loader_runs(k, false), f = loader_runs(k, true);
        printf("loader (%s): %lu, %lu\n", kind_names[k], o, f);
        once += o;
        from += f;
    }
    printf("failmalloc loader: %lu injected failures survived (%lu the Nth "
           "call only, %lu from the Nth on)\n",
           once + from, once, from);
    unsigned long s_once = session_runs(false);
    unsigned long s_from = session_runs(true);
    printf("failmalloc session: %lu injected failures survived (%lu the Nth "
           "call only, %lu from the Nth on)\n",
           s_once + s_from, s_once, s_from);

    wsr_runs_free(&srv.runs);
    wsr_scenario_set_free(&set);
    for (int i = 0; i < 3; i++)
        unlink(paths[i]);
    rmdir(sub);
    rmdir(folder);
    return check_summary("failmalloc");
}
