/*
 * test_runs.c — the ring of finished transcripts and GET /_runs/ID.
 *
 * Run ids and run= queries table-driven; then a ring filled past its size
 * (the oldest go first, order kept), and the control endpoint's whole
 * HTTP answer for a known, an unknown and an invalid id; wait_ms= queries
 * table-driven, and the list of parked waiters (limit, who is woken); the
 * ring's byte cap (oldest evicted first, one too large alone dropped) and
 * the evicted run ids it remembers ("evicted": true, complete).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runs.h"
#include "server.h"

typedef struct query_row {
    const char *query;
    bool ok;
    const char *run; /* what run holds after, from "" */
} query_row;

/* clang-format off */
static const query_row query_rows[] = {
    {"run=r1-7", true, "r1-7"},
    {"x=1&run=a.b_c&y=2", true, "a.b_c"},
    {"run=a&run=b", true, "b"},             /* the last one wins */
    {"", true, ""},
    {"x=1", true, ""},
    {"run=", true, ""},                     /* empty: not a run= at all */
    {"runs=abc", true, ""},
    {"run=a b", false, ""},
    {"run=a&run=%20", false, ""},           /* refused whole: not tagged "a" */
    {"run=a&run=..&x=1", false, ""},
    {"run=..", false, ""},                  /* a file name must start with */
    {"run=.", false, ""},                   /* a letter or digit */
    {"run=.hidden", false, ""},
    {"run=-rf", false, ""},
    {"run=_x", false, ""},
    {"run=9.x-_", true, "9.x-_"},
    {"run=a/b", false, ""},
    {"run=0123456789012345678901234567890123456789012345678901234567890123"
     "456789012345678901234567890123456789012345678901234567890123456",
     true,
     "0123456789012345678901234567890123456789012345678901234567890123"
     "456789012345678901234567890123456789012345678901234567890123456"},
    {"run=0123456789012345678901234567890123456789012345678901234567890123"
     "4567890123456789012345678901234567890123456789012345678901234567",
     false, ""},                            /* 128 characters */
};
/* clang-format on */

static void test_queries(void)
{
    for (size_t i = 0; i < sizeof query_rows / sizeof *query_rows; i++) {
        const query_row *r = &query_rows[i];
        char run[WSR_RUN_ID_MAX + 1] = "";
        current = r->query;
        CHECK_EQ(wsr_run_from_query(r->query, strlen(r->query), run), r->ok);
        CHECK(strcmp(run, r->run) == 0);
    }
    current = "";
}

typedef struct id_row {
    const char *id;
    bool ok;
} id_row;

/* clang-format off */
static const id_row id_rows[] = {
    {"A-z_0.9", true},
    {"r", true},
    {"7", true},
    {"a.", true},
    {"a-", true},
    {"a..b", true},         /* not a path: no '/' can follow */
    {"", false},
    {"a?", false},
    {"\xc3\xa9", false},
    {"..", false},          /* hidden or option-like file names */
    {".", false},
    {".hidden", false},
    {"-rf", false},
    {"--help", false},
    {"_x", false},
    {"a/b", false},
};
/* clang-format on */

static void test_ids(void)
{
    for (size_t i = 0; i < sizeof id_rows / sizeof *id_rows; i++) {
        current = id_rows[i].id;
        CHECK_EQ(wsr_run_id_valid(id_rows[i].id, strlen(id_rows[i].id)),
                 id_rows[i].ok);
    }
    current = "run ids at the limit";
    char id[WSR_RUN_ID_MAX + 2];
    memset(id, 'a', sizeof id);
    CHECK(wsr_run_id_valid(id, WSR_RUN_ID_MAX));
    CHECK(!wsr_run_id_valid(id, WSR_RUN_ID_MAX + 1));
    current = "";
}

typedef struct wait_row {
    const char *query;
    bool ok;
    long ms; /* what ms holds after, from -1 */
} wait_row;

/* clang-format off */
static const wait_row wait_rows[] = {
    {"wait_ms=250", true, 250},
    {"run=x&wait_ms=0&y", true, 0},
    {"wait_ms=60000", true, 60000},         /* the most it waits */
    {"wait_ms=1&wait_ms=2", true, 2},       /* the last one wins */
    {"", true, -1},
    {"wait=5&wait_ms_x=5", true, -1},       /* other names are not it */
    {"wait_ms=", false, -1},
    {"wait_ms=60001", false, -1},
    {"wait_ms=99999999999999999999999", false, -1}, /* no overflow */
    {"wait_ms=-5", false, -1},
    {"wait_ms=+5", false, -1},
    {"wait_ms=5s", false, -1},
    {"wait_ms=%31", false, -1},
    {"wait_ms=7&wait_ms=x", false, 7},      /* a valid one before the bad one stays */
};
/* clang-format on */

static void test_wait_queries(void)
{
    for (size_t i = 0; i < sizeof wait_rows / sizeof *wait_rows; i++) {
        const wait_row *r = &wait_rows[i];
        long ms = -1;
        current = r->query;
        CHECK_EQ(wsr_wait_ms_from_query(r->query, strlen(r->query), &ms),
                 r->ok);
        CHECK_EQ(ms, r->ms);
    }
    current = "";
}

/* A waiter that counts its wakes and, if asked, unparks itself then (as
 * an answered request does). */
typedef struct test_waiter {
    wsr_run_waiter w;
    wsr_runs *runs;
    int wakes;
    bool unpark_on_wake;
} test_waiter;

static void test_wake(void *arg)
{
    test_waiter *t = arg;
    t->wakes++;
    if (t->unpark_on_wake)
        wsr_runs_unpark(t->runs, &t->w);
}

static void test_waiters(void)
{
    static wsr_runs runs;
    static test_waiter tw[WSR_RUNS_WAITERS_MAX + 1];
    wsr_runs_init(&runs);
    for (size_t i = 0; i < WSR_RUNS_WAITERS_MAX + 1; i++) {
        tw[i].runs = &runs;
        tw[i].w.wake = test_wake;
        tw[i].w.arg = &tw[i];
        tw[i].w.run = i % 3 == 0 ? "a" : "b";
        tw[i].unpark_on_wake = i % 2 == 0;
    }

    current = "the limit";
    for (size_t i = 0; i < WSR_RUNS_WAITERS_MAX; i++)
        CHECK(wsr_runs_park(&runs, &tw[i].w));
    CHECK_EQ(runs.n_waiters, WSR_RUNS_WAITERS_MAX);
    CHECK(!wsr_runs_park(&runs, &tw[WSR_RUNS_WAITERS_MAX].w));
    CHECK(!tw[WSR_RUNS_WAITERS_MAX].w.parked);
    CHECK(!wsr_runs_park(&runs, &tw[0].w)); /* parked already */

    current = "only the run's waiters wake; some unpark themselves";
    wsr_runs_ended(&runs, "a");
    size_t woken = 0, left = 0;
    for (size_t i = 0; i < WSR_RUNS_WAITERS_MAX; i++) {
        CHECK_EQ(tw[i].wakes, i % 3 == 0);
        woken += (size_t)tw[i].wakes;
        left += i % 3 == 0 && i % 2 == 0 ? 0 : 1;
    }
    CHECK_EQ(woken, (WSR_RUNS_WAITERS_MAX + 2) / 3);
    CHECK_EQ(runs.n_waiters, left);
    wsr_runs_ended(&runs, "none");
    wsr_runs_ended(&runs, "a"); /* those still parked wake again */
    CHECK_EQ(tw[3].wakes, 2);
    CHECK_EQ(tw[0].wakes, 1);

    current = "unpark is idempotent; freed slots take new waiters";
    wsr_runs_unpark(&runs, &tw[0].w);
    CHECK_EQ(runs.n_waiters, left);
    CHECK(wsr_runs_park(&runs, &tw[WSR_RUNS_WAITERS_MAX].w));
    for (size_t i = 0; i < WSR_RUNS_WAITERS_MAX + 1; i++)
        wsr_runs_unpark(&runs, &tw[i].w);
    CHECK_EQ(runs.n_waiters, 0);
    CHECK(runs.waiters == NULL);
    wsr_runs_free(&runs);
    current = "";
}

/* A finished session tagged run (NULL: none), numbered n, into the ring
 * as its text. */
static void keep(wsr_server *srv, const char *run, int n)
{
    json_t *t = json_pack("{s:s?,s:i}", "run", run, "n", n);
    char *text = json_dumps(t, JSON_COMPACT);
    CHECK_EQ(wsr_runs_keep(&srv->runs, run, text, strlen(text)), 0);
    free(text); /* the ring keeps its own copy */
    json_decref(t);
}

/* The answer to a query for run, parsed (NULL if it is not JSON). */
static json_t *query(const wsr_server *srv, const char *run)
{
    struct evbuffer *out = evbuffer_new();
    CHECK_EQ(wsr_server_query_run(srv, run, out), 0);
    size_t len = evbuffer_get_length(out);
    json_t *a =
        json_loadb((const char *)evbuffer_pullup(out, -1), len, 0, NULL);
    CHECK(a != NULL);
    evbuffer_free(out);
    return a;
}

/* The "n" of every session the query answered, in order, or -1. */
static int nth(const json_t *answer, size_t i)
{
    json_t *tr = json_array_get(json_object_get(answer, "sessions"), i);
    return tr ? (int)json_integer_value(json_object_get(tr, "n")) : -1;
}

static void test_ring(void)
{
    static wsr_server srv; /* 32 KiB of ring: not on the stack */
    wsr_config cfg = {0};
    wsr_server_init(&srv, NULL, &cfg, NULL);

    current = "empty";
    json_t *a = query(&srv, "r");
    json_t *want =
        json_pack("{s:s,s:b,s:[]}", "run", "r", "complete", 0, "sessions");
    CHECK(json_equal(a, want));
    json_decref(want);
    json_decref(a);

    current = "kept in the order they ended";
    for (int i = 0; i < 4; i++)
        keep(&srv, i == 1 ? "other" : i == 3 ? NULL : "r", i);
    a = query(&srv, "r");
    CHECK(json_is_true(json_object_get(a, "complete")));
    CHECK_EQ(json_array_size(json_object_get(a, "sessions")), 2);
    CHECK_EQ(nth(a, 0), 0);
    CHECK_EQ(nth(a, 1), 2);
    json_decref(a);

    current = "a slot's text, as kept";
    size_t tlen = 0;
    const char *t0 = wsr_runs_text(&srv.runs, 0, &tlen);
    CHECK(t0 && tlen == strlen("{\"run\":\"r\",\"n\":0}") &&
          memcmp(t0, "{\"run\":\"r\",\"n\":0}", tlen) == 0);
    CHECK(wsr_runs_text(&srv.runs, 4, &tlen) == NULL && tlen == 0);
    CHECK(wsr_runs_text(&srv.runs, WSR_RUNS_KEEP, &tlen) == NULL);

    current = "full ring drops the oldest";
    for (int i = 4; i < WSR_RUNS_KEEP + 5; i++)
        keep(&srv, "r", i);
    a = query(&srv, "r");
    CHECK_EQ(json_array_size(json_object_get(a, "sessions")), WSR_RUNS_KEEP);
    CHECK_EQ(nth(a, 0), 5);
    CHECK_EQ(nth(a, WSR_RUNS_KEEP - 1), WSR_RUNS_KEEP + 4);
    json_decref(a);
    a = query(&srv, "other"); /* its one session evicted: ended, gone */
    CHECK_EQ(json_array_size(json_object_get(a, "sessions")), 0);
    CHECK(json_is_true(json_object_get(a, "complete")));
    CHECK(json_is_true(json_object_get(a, "evicted")));
    json_decref(a);

    wsr_runs_free(&srv.runs);
    current = "";
}

static void test_serve(void)
{
    static wsr_server srv;
    wsr_config cfg = {0};
    struct evbuffer *out = evbuffer_new();
    const char *reason = NULL;
    wsr_server_init(&srv, NULL, &cfg, NULL);
    keep(&srv, "r1", 1);

    current = "known id";
    CHECK_EQ(wsr_runs_serve(&srv, "r1xyz", 2, out, &reason), 200);
    size_t len = evbuffer_get_length(out);
    char *text = (char *)evbuffer_pullup(out, -1);
    const char *body = "{\"run\":\"r1\",\"complete\":true,"
                       "\"sessions\":[{\"run\":\"r1\",\"n\":1}]}";
    char want[512];
    snprintf(want, sizeof want,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             strlen(body), body);
    CHECK_EQ(len, strlen(want));
    CHECK(len == strlen(want) && memcmp(text, want, len) == 0);
    evbuffer_drain(out, len);

    current = "two sessions: the texts as kept, joined";
    keep(&srv, "r1", 2);
    CHECK_EQ(wsr_runs_serve(&srv, "r1", 2, out, &reason), 200);
    len = evbuffer_get_length(out);
    text = (char *)evbuffer_pullup(out, -1);
    body = "{\"run\":\"r1\",\"complete\":true,\"sessions\":"
           "[{\"run\":\"r1\",\"n\":1},{\"run\":\"r1\",\"n\":2}]}";
    CHECK(len > strlen(body) &&
          memcmp(text + len - strlen(body), body, strlen(body)) == 0);
    evbuffer_drain(out, len);

    current = "unknown id";
    CHECK_EQ(wsr_runs_serve(&srv, "nope", 4, out, &reason), 200);
    len = evbuffer_get_length(out);
    text = (char *)evbuffer_pullup(out, -1);
    CHECK(len > 0 &&
          strstr(text, "\r\n\r\n{\"run\":\"nope\",\"complete\":false,"
                       "\"sessions\":[]}") != NULL);
    evbuffer_drain(out, len);

    current = "invalid id";
    CHECK_EQ(wsr_runs_serve(&srv, "a b", 3, out, &reason), 400);
    CHECK(reason && strcmp(reason, "invalid run id") == 0);
    CHECK_EQ(wsr_runs_serve(&srv, "", 0, out, &reason), 400);
    CHECK_EQ(evbuffer_get_length(out), 0);

    evbuffer_free(out);
    wsr_runs_free(&srv.runs);
    current = "";
}

/* keep() with a text of exactly len bytes: {"n":N,"pad":"xxx..."}. */
static void keep_sized(wsr_server *srv, const char *run, int n, size_t len,
                       int want)
{
    char *text = malloc(len + 1);
    int head = snprintf(text, len + 1, "{\"n\":%d,\"pad\":\"", n);
    memset(text + head, 'x', len - (size_t)head - 2);
    memcpy(text + len - 2, "\"}", 2);
    text[len] = '\0';
    CHECK_EQ(wsr_runs_keep(&srv->runs, run, text, len), want);
    free(text);
}

static bool answer_evicted(const json_t *a)
{
    return json_is_true(json_object_get(a, "evicted"));
}

static void test_byte_cap(void)
{
    static wsr_server srv;
    wsr_config cfg = {0};
    wsr_server_init(&srv, NULL, &cfg, NULL);
    CHECK_EQ(srv.runs.max_bytes, WSR_RUNS_MAX_BYTES);
    wsr_runs_free(&srv.runs);
    /* Room for three entries of 1000 bytes of text, not four. */
    cfg.runs_max_bytes = 3 * wsr_runs_entry_size("a", 1000) + 10;
    wsr_server_init(&srv, NULL, &cfg, NULL);

    current = "under the cap: all kept, bytes counted";
    keep_sized(&srv, "a", 0, 1000, 0);
    keep_sized(&srv, "b", 1, 1000, 0);
    keep_sized(&srv, "a", 2, 1000, 0);
    CHECK_EQ(srv.runs.count, 3);
    CHECK_EQ(srv.runs.bytes, 3 * wsr_runs_entry_size("a", 1000));
    CHECK_EQ(srv.runs.evicted, 0);
    CHECK(!wsr_runs_evicted(&srv.runs, "a"));

    current = "one more passes the cap: the oldest goes, only it";
    keep_sized(&srv, "c", 3, 1000, 0);
    CHECK_EQ(srv.runs.count, 3);
    CHECK_EQ(srv.runs.evicted, 1);
    CHECK_EQ(srv.runs.evicted_size, 1);
    CHECK(srv.runs.bytes <= srv.runs.max_bytes);
    CHECK(wsr_runs_evicted(&srv.runs, "a"));
    CHECK(!wsr_runs_evicted(&srv.runs, "b"));
    json_t *a = query(&srv, "a");
    CHECK_EQ(json_array_size(json_object_get(a, "sessions")), 1);
    CHECK_EQ(nth(a, 0), 2); /* what is left of the run, evicted said */
    CHECK(answer_evicted(a));
    CHECK(json_is_true(json_object_get(a, "complete")));
    json_decref(a);
    a = query(&srv, "b");
    CHECK(!answer_evicted(a) && json_object_get(a, "evicted") == NULL);
    CHECK_EQ(nth(a, 0), 1);
    json_decref(a);

    current = "a larger one makes room by evicting as many as it needs";
    keep_sized(&srv, "d", 4, 2500, 0);
    CHECK_EQ(srv.runs.count, 1);
    CHECK_EQ(srv.runs.evicted, 4);
    CHECK_EQ(srv.runs.evicted_size, 4);
    CHECK(wsr_runs_evicted(&srv.runs, "b"));
    CHECK(wsr_runs_evicted(&srv.runs, "c"));
    a = query(&srv, "a");
    CHECK_EQ(json_array_size(json_object_get(a, "sessions")), 0);
    CHECK(answer_evicted(a));
    CHECK(json_is_true(json_object_get(a, "complete")));
    json_decref(a);
    a = query(&srv, "d");
    CHECK_EQ(nth(a, 0), 4);
    json_decref(a);

    current = "one larger than the cap alone: not kept, the ring untouched";
    size_t bytes = srv.runs.bytes;
    keep_sized(&srv, "huge", 5, srv.runs.max_bytes, 1);
    CHECK_EQ(srv.runs.too_big, 1);
    CHECK_EQ(srv.runs.count, 1);
    CHECK_EQ(srv.runs.bytes, bytes);
    a = query(&srv, "d");
    CHECK_EQ(nth(a, 0), 4);
    json_decref(a);
    a = query(&srv, "huge");
    CHECK(answer_evicted(a));
    CHECK(json_is_true(json_object_get(a, "complete")));
    CHECK_EQ(json_array_size(json_object_get(a, "sessions")), 0);
    json_decref(a);

    current = "exactly at the cap fits";
    keep_sized(&srv, "e", 6, 1000, 0);
    size_t room = srv.runs.max_bytes - srv.runs.bytes;
    keep_sized(&srv, "f", 7, room - wsr_runs_entry_size("f", 0), 0);
    CHECK_EQ(srv.runs.bytes, srv.runs.max_bytes);
    CHECK_EQ(srv.runs.peak_bytes, srv.runs.max_bytes);
    a = query(&srv, "e");
    CHECK_EQ(nth(a, 0), 6);
    json_decref(a);
    a = query(&srv, "f");
    CHECK_EQ(nth(a, 0), 7);
    json_decref(a);
    keep_sized(&srv, "g", 8, 100, 0); /* one byte over: e goes first */
    CHECK(wsr_runs_evicted(&srv.runs, "e"));
    CHECK(!wsr_runs_evicted(&srv.runs, "f"));

    current = "an unknown run is still not complete, nor evicted";
    a = query(&srv, "never");
    CHECK(json_is_false(json_object_get(a, "complete")));
    CHECK(!answer_evicted(a));
    json_decref(a);
    CHECK(!wsr_server_run_complete(&srv, "never"));
    CHECK(wsr_server_run_complete(&srv, "a"));

    wsr_runs_free(&srv.runs);
    current = "";
}

/* Counted evictions (WSR_RUNS_KEEP entries) remember run ids too, once
 * each; the set of them is bounded and forgets the oldest. */
static void test_evicted_ids(void)
{
    static wsr_server srv;
    wsr_config cfg = {0};
    wsr_server_init(&srv, NULL, &cfg, NULL);
    char run[32];

    current = "the count cap evicts and remembers";
    for (int i = 0; i < WSR_RUNS_KEEP + 2; i++) {
        snprintf(run, sizeof run, "r%d", i);
        keep(&srv, run, i);
    }
    CHECK_EQ(srv.runs.evicted, 2);
    CHECK_EQ(srv.runs.evicted_size, 0);
    CHECK(wsr_runs_evicted(&srv.runs, "r0"));
    CHECK(wsr_runs_evicted(&srv.runs, "r1"));
    CHECK(!wsr_runs_evicted(&srv.runs, "r2"));
    json_t *a = query(&srv, "r0");
    CHECK(json_is_true(json_object_get(a, "complete")));
    CHECK(answer_evicted(a));
    json_decref(a);

    current = "no run tag: nothing to remember";
    keep(&srv, NULL, -1);
    CHECK(!wsr_runs_evicted(&srv.runs, ""));
    CHECK(!wsr_runs_evicted(&srv.runs, NULL));

    current = "the set is bounded: the oldest ids are forgotten";
    for (int i = 0; i < WSR_RUNS_EVICTED_KEEP + WSR_RUNS_KEEP; i++) {
        snprintf(run, sizeof run, "s%d", i);
        keep(&srv, run, i);
    }
    CHECK(!wsr_runs_evicted(&srv.runs, "r0"));
    CHECK(wsr_runs_evicted(&srv.runs, "s0"));
    a = query(&srv, "r0");
    CHECK(json_is_false(json_object_get(a, "complete")));
    json_decref(a);

    wsr_runs_free(&srv.runs);
    current = "";
}

int main(void)
{
    test_ids();
    test_queries();
    test_wait_queries();
    test_waiters();
    test_ring();
    test_serve();
    test_byte_cap();
    test_evicted_ids();
    return check_summary("runs");
}
