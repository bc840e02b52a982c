/*
 * runs.c — the ring of finished transcripts and the GET /_runs/ID answer.
 */
#include "runs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "session.h"
#include "transcript.h"

/* A finished transcript in one allocation: its run id, then its text. */
struct wsr_run_entry {
    size_t len;      /* of the text */
    uint8_t run_len; /* at most WSR_RUN_ID_MAX */
    char data[];     /* run id, NUL, text, NUL */
};

static const char *entry_text(const struct wsr_run_entry *e)
{
    return e->data + e->run_len + 1;
}

void wsr_runs_init(wsr_runs *r)
{
    memset(r, 0, sizeof *r);
    r->max_bytes = WSR_RUNS_MAX_BYTES;
}

void wsr_runs_free(wsr_runs *r)
{
    for (size_t i = 0; i < WSR_RUNS_KEEP; i++) {
        free(r->done[i]);
        r->done[i] = NULL;
    }
    r->count = r->bytes = 0;
}

size_t wsr_runs_entry_size(const char *run, size_t len)
{
    size_t run_len = run ? strnlen(run, WSR_RUN_ID_MAX) : 0;
    return sizeof(struct wsr_run_entry) + run_len + 1 + len + 1;
}

/* FNV-1a, 64 bits; never 0, which marks an empty slot of gone[]. */
static uint64_t run_hash(const char *run)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)run; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h ? h : 1;
}

bool wsr_runs_evicted(const wsr_runs *r, const char *run)
{
    if (!run || !run[0])
        return false;
    uint64_t h = run_hash(run);
    for (size_t i = 0; i < WSR_RUNS_EVICTED_KEEP; i++)
        if (r->gone[i] == h)
            return true;
    return false;
}

/* Remembers that a transcript of run is gone (once per run id while it is
 * remembered: a run's sessions usually go one after another). */
static void remember_gone(wsr_runs *r, const char *run)
{
    if (!run || !run[0] || wsr_runs_evicted(r, run))
        return;
    r->gone[r->gone_next] = run_hash(run);
    r->gone_next = (r->gone_next + 1) % WSR_RUNS_EVICTED_KEEP;
}

/* Forgets the oldest transcript kept (there is one). */
static void evict_oldest(wsr_runs *r)
{
    size_t i = (r->next + WSR_RUNS_KEEP - r->count) % WSR_RUNS_KEEP;
    struct wsr_run_entry *e = r->done[i];
    remember_gone(r, e->data);
    r->bytes -= wsr_runs_entry_size(e->data, e->len);
    free(e);
    r->done[i] = NULL;
    r->count--;
    r->evicted++;
}

const char *wsr_runs_text(const wsr_runs *r, size_t i, size_t *len)
{
    const struct wsr_run_entry *e = i < WSR_RUNS_KEEP ? r->done[i] : NULL;
    *len = e ? e->len : 0;
    return e ? entry_text(e) : NULL;
}

bool wsr_runs_park(wsr_runs *r, wsr_run_waiter *w)
{
    if (w->parked || r->n_waiters >= WSR_RUNS_WAITERS_MAX)
        return false;
    w->prev = NULL;
    w->next = r->waiters;
    if (r->waiters)
        r->waiters->prev = w;
    r->waiters = w;
    w->parked = true;
    r->n_waiters++;
    return true;
}

void wsr_runs_unpark(wsr_runs *r, wsr_run_waiter *w)
{
    if (!w->parked)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        r->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->parked = false;
    r->n_waiters--;
}

void wsr_runs_ended(wsr_runs *r, const char *run)
{
    /* next is read before the wake: the woken waiter may unpark itself. */
    for (wsr_run_waiter *w = r->waiters, *next; w; w = next) {
        next = w->next;
        if (strcmp(w->run, run) == 0)
            w->wake(w->arg);
    }
}

int wsr_runs_keep(wsr_runs *r, const char *run, const char *text, size_t len)
{
    size_t run_len = run ? strnlen(run, WSR_RUN_ID_MAX) : 0;
    size_t size = wsr_runs_entry_size(run, len);
    if (size > r->max_bytes || len > SIZE_MAX / 2) {
        /* Kept alone it would pass the cap, and keeping it would empty
         * the ring of every other run: dropped, and its run marked. */
        r->too_big++;
        remember_gone(r, run);
        return 1;
    }
    struct wsr_run_entry *e = malloc(size);
    if (!e)
        return -1;
    e->len = len;
    e->run_len = (uint8_t)run_len;
    if (run_len) /* memcpy from NULL is undefined even for 0 bytes */
        memcpy(e->data, run, run_len);
    e->data[run_len] = '\0';
    memcpy(e->data + run_len + 1, text, len);
    e->data[run_len + 1 + len] = '\0';
    if (r->count == WSR_RUNS_KEEP)
        evict_oldest(r); /* the one in slot next */
    while (r->count && r->bytes + size > r->max_bytes) {
        evict_oldest(r);
        r->evicted_size++;
    }
    r->done[r->next] = e;
    r->next = (r->next + 1) % WSR_RUNS_KEEP;
    r->count++;
    r->bytes += size;
    if (r->bytes > r->peak_bytes)
        r->peak_bytes = r->bytes;
    return 0;
}

static bool ascii_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* The first character is a letter or digit: a run id names transcript
 * files (DIR/<run>-<n>.json), and "..", ".hidden" or "-rf" would make
 * hidden or option-like names. */
bool wsr_run_id_valid(const char *p, size_t len)
{
    if (len == 0 || len > WSR_RUN_ID_MAX || !ascii_alnum(p[0]))
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = p[i];
        if (!(ascii_alnum(c) || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* Calls take(value, its length, arg) for every KEY=value part of a query
 * string (without the '?'), in order; false as soon as take refuses one. */
static bool each_query_value(const char *q, size_t len, const char *key,
                             bool (*take)(const char *, size_t, void *),
                             void *arg)
{
    const size_t klen = strlen(key);
    while (len > 0) {
        const char *amp = memchr(q, '&', len);
        size_t part = amp ? (size_t)(amp - q) : len;
        if (part >= klen && memcmp(q, key, klen) == 0 &&
            !take(q + klen, part - klen, arg))
            return false;
        q += part;
        len -= part;
        if (len) {
            q++;
            len--;
        }
    }
    return true;
}

/* run=ID: a valid run id, copied; an empty one is ignored. */
static bool take_run(const char *v, size_t vlen, void *run)
{
    if (vlen == 0)
        return true;
    if (!wsr_run_id_valid(v, vlen))
        return false;
    memcpy(run, v, vlen);
    ((char *)run)[vlen] = '\0';
    return true;
}

/* wait_ms=N: digits only, at most WSR_RUNS_WAIT_MAX_MS. */
static bool take_wait_ms(const char *v, size_t vlen, void *ms)
{
    long n = 0;
    if (vlen == 0)
        return false;
    for (size_t i = 0; i < vlen; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        n = n * 10 + (v[i] - '0');
        if (n > WSR_RUNS_WAIT_MAX_MS)
            return false;
    }
    *(long *)ms = n;
    return true;
}

/* deflate=accept|decline. */
static bool take_deflate(const char *v, size_t vlen, void *accept)
{
    bool yes = vlen == 6 && memcmp(v, "accept", 6) == 0;
    if (!yes && !(vlen == 7 && memcmp(v, "decline", 7) == 0))
        return false;
    *(bool *)accept = yes;
    return true;
}

bool wsr_deflate_from_query(const char *q, size_t len, bool *accept)
{
    return each_query_value(q, len, "deflate=", take_deflate, accept);
}

/* vary=NAME: a variant steps.h knows. */
static bool take_vary(const char *v, size_t vlen, void *out)
{
    return wsr_vary_parse(v, vlen, out);
}

bool wsr_vary_from_query(const char *q, size_t len, enum wsr_vary *v)
{
    return each_query_value(q, len, "vary=", take_vary, v);
}

bool wsr_run_from_query(const char *q, size_t len, char *run)
{
    /* Into a copy first: a request with one bad run= is refused whole, so
     * a valid run= before it must not tag anything. */
    char found[WSR_RUN_ID_MAX + 1];
    memcpy(found, run, sizeof found);
    if (!each_query_value(q, len, "run=", take_run, found))
        return false;
    memcpy(run, found, sizeof found);
    return true;
}

bool wsr_wait_ms_from_query(const char *q, size_t len, long *ms)
{
    return each_query_value(q, len, "wait_ms=", take_wait_ms, ms);
}

/* Appends one session's text to the sessions array being built. */
static int add_session(struct evbuffer *list, const char *text, size_t len)
{
    if (evbuffer_get_length(list) && evbuffer_add(list, ",", 1) != 0)
        return -1;
    return evbuffer_add(list, text, len);
}

/* The sessions tagged run: their texts joined by ',' into list (when not
 * NULL; a live session's is dumped now), finished ones oldest first, then
 * the live ones. *complete: at least one has ended and none is live.
 * Returns 0, or -1 if out of memory. */
static int collect_run(const wsr_server *srv, const char *run,
                       struct evbuffer *list, bool *complete, bool *evicted)
{
    size_t live = 0, done = 0;
    int rc = 0;
    const wsr_runs *r = &srv->runs;
    /* Oldest first, so sessions appear in the order they ended. */
    for (size_t k = 0; k < WSR_RUNS_KEEP && rc == 0; k++) {
        const struct wsr_run_entry *e = r->done[(r->next + k) % WSR_RUNS_KEEP];
        if (e && strcmp(e->data, run) == 0) {
            if (list)
                rc = add_session(list, entry_text(e), e->len);
            done++;
        }
    }
    for (const wsr_session *s = srv->live; s && rc == 0;
         s = wsr_session_next(s)) {
        const char *s_run;
        const wsr_transcript *tr = wsr_session_recorded(s, &s_run);
        if (!tr || strcmp(s_run, run) != 0)
            continue;
        if (list) {
            size_t len;
            char *text = wsr_transcript_dump(tr, &len);
            rc = text ? add_session(list, text, len) : -1;
            free(text);
        }
        live++;
    }
    /* An evicted transcript was of a session that ended: the run is
     * complete when none is live, even with nothing left to show. */
    *evicted = wsr_runs_evicted(r, run);
    *complete = (done > 0 || *evicted) && live == 0;
    return rc;
}

int wsr_server_query_run(const wsr_server *srv, const char *run,
                         struct evbuffer *out)
{
    struct evbuffer *list = evbuffer_new();
    bool complete = false, evicted = false;
    int rc = list ? collect_run(srv, run, list, &complete, &evicted) : -1;
    /* A run id is letters, digits, '-', '_' and '.': nothing to escape. */
    const char *head = "{\"run\":\"%s\",\"complete\":%s,%s\"sessions\":[";
    if (rc == 0 &&
        (evbuffer_add_printf(out, head, run, complete ? "true" : "false",
                             evicted ? "\"evicted\":true," : "") < 0 ||
         evbuffer_add_buffer(out, list) != 0 ||
         evbuffer_add(out, "]}", 2) != 0))
        rc = -1;
    if (list)
        evbuffer_free(list);
    return rc;
}

bool wsr_server_run_complete(const wsr_server *srv, const char *run)
{
    bool complete = false, evicted = false;
    collect_run(srv, run, NULL, &complete, &evicted);
    return complete;
}

int wsr_runs_serve(const wsr_server *srv, const char *id, size_t len,
                   struct evbuffer *out, const char **reason)
{
    char run[WSR_RUN_ID_MAX + 1];
    if (!wsr_run_id_valid(id, len)) {
        *reason = "invalid run id";
        return 400;
    }
    memcpy(run, id, len);
    run[len] = '\0';
    struct evbuffer *body = evbuffer_new();
    if (!body || wsr_server_query_run(srv, run, body) != 0 ||
        evbuffer_add_printf(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n",
            evbuffer_get_length(body)) < 0 ||
        evbuffer_add_buffer(out, body) != 0) {
        if (body)
            evbuffer_free(body);
        *reason = "out of memory";
        return 500;
    }
    evbuffer_free(body);
    return 200;
}
