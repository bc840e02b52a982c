/*
 * runs.c — the ring of finished transcripts and the GET /_runs/ID answer.
 */
#include "runs.h"

#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "session.h"

void wsr_runs_init(wsr_runs *r)
{
    memset(r, 0, sizeof *r);
}

void wsr_runs_free(wsr_runs *r)
{
    for (size_t i = 0; i < WSR_RUNS_KEEP; i++) {
        json_decref(r->done[i]);
        r->done[i] = NULL;
    }
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

void wsr_runs_keep(wsr_runs *r, json_t *transcript)
{
    json_decref(r->done[r->next]);
    r->done[r->next] = json_incref(transcript);
    r->next = (r->next + 1) % WSR_RUNS_KEEP;
}

bool wsr_run_id_valid(const char *p, size_t len)
{
    if (len == 0 || len > WSR_RUN_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

bool wsr_run_from_query(const char *q, size_t len, char *run)
{
    while (len > 0) {
        const char *amp = memchr(q, '&', len);
        size_t part = amp ? (size_t)(amp - q) : len;
        if (part > 4 && memcmp(q, "run=", 4) == 0) {
            if (!wsr_run_id_valid(q + 4, part - 4))
                return false;
            memcpy(run, q + 4, part - 4);
            run[part - 4] = '\0';
        }
        q += part;
        len -= part;
        if (len) {
            q++;
            len--;
        }
    }
    return true;
}

bool wsr_wait_ms_from_query(const char *q, size_t len, long *ms)
{
    static const char key[] = "wait_ms=";
    const size_t klen = sizeof key - 1;
    while (len > 0) {
        const char *amp = memchr(q, '&', len);
        size_t part = amp ? (size_t)(amp - q) : len;
        if (part >= klen && memcmp(q, key, klen) == 0) {
            long v = 0;
            if (part == klen)
                return false;
            for (size_t i = klen; i < part; i++) {
                if (q[i] < '0' || q[i] > '9')
                    return false;
                v = v * 10 + (q[i] - '0');
                if (v > WSR_RUNS_WAIT_MAX_MS)
                    return false;
            }
            *ms = v;
        }
        q += part;
        len -= part;
        if (len) {
            q++;
            len--;
        }
    }
    return true;
}

static bool run_matches(const json_t *tr, const char *run)
{
    const char *r = json_string_value(json_object_get(tr, "run"));
    return r && strcmp(r, run) == 0;
}

/* The sessions tagged run: appended to sessions (when not NULL), finished
 * ones oldest first, then the live ones; returns complete: at least one
 * has ended and none is live. */
static bool collect_run(const wsr_server *srv, const char *run,
                        json_t *sessions)
{
    size_t live = 0, done = 0;
    const wsr_runs *r = &srv->runs;
    /* Oldest first, so sessions appear in the order they ended. */
    for (size_t k = 0; k < WSR_RUNS_KEEP; k++) {
        const json_t *tr = r->done[(r->next + k) % WSR_RUNS_KEEP];
        if (tr && run_matches(tr, run)) {
            if (sessions)
                json_array_append(sessions, (json_t *)tr);
            done++;
        }
    }
    for (const wsr_session *s = srv->live; s; s = wsr_session_next(s)) {
        json_t *tr = wsr_session_recorded(s);
        if (tr && run_matches(tr, run)) {
            if (sessions)
                json_array_append(sessions, tr);
            live++;
        }
    }
    return done > 0 && live == 0;
}

json_t *wsr_server_query_run(const wsr_server *srv, const char *run)
{
    json_t *out = json_object(), *sessions = json_array();
    bool complete = collect_run(srv, run, sessions);
    json_object_set_new(out, "run", json_string(run));
    json_object_set_new(out, "complete", json_boolean(complete));
    json_object_set_new(out, "sessions", sessions);
    return out;
}

bool wsr_server_run_complete(const wsr_server *srv, const char *run)
{
    return collect_run(srv, run, NULL);
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
    json_t *body = wsr_server_query_run(srv, run);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        *reason = "out of memory";
        return 500;
    }
    evbuffer_add_printf(out,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                        strlen(text), text);
    free(text);
    return 200;
}
