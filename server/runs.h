/*
 * runs.h — the ring of finished transcripts and the GET /_runs/ID answer.
 *
 * Every recorded session's transcript goes into a fixed ring when the
 * session ends, so the harness can fetch a run's sessions over HTTP on the
 * port it already talks to. The ring holds the newest WSR_RUNS_KEEP
 * transcripts; a busy server forgets the oldest first, and never grows.
 */
#ifndef WSR_RUNS_H
#define WSR_RUNS_H

#include <event2/buffer.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Finished transcripts kept for GET /_runs/ID, oldest dropped first. */
#define WSR_RUNS_KEEP 4096

/* A run id is at most this long: letters, digits, '-', '_' and '.'. */
#define WSR_RUN_ID_MAX 127

/* The control endpoint's path prefix; the run id follows it. */
#define WSR_RUNS_PATH "/_runs/"

typedef struct wsr_runs {
    json_t *done[WSR_RUNS_KEEP]; /* owned references; NULL when empty */
    size_t next;                 /* the slot the next transcript takes */
} wsr_runs;

struct wsr_server;

void wsr_runs_init(wsr_runs *r);
void wsr_runs_free(wsr_runs *r);

/* Keeps a reference to a finished transcript (the caller keeps its own),
 * dropping the oldest one when the ring is full. */
void wsr_runs_keep(wsr_runs *r, json_t *transcript);

/* True if p[0..len) is a valid run id. */
bool wsr_run_id_valid(const char *p, size_t len);

/* Finds run=ID in a query string (without the '?'). Every valid run=
 * overwrites run (WSR_RUN_ID_MAX + 1 bytes, NUL-terminated; the last one
 * wins); run is left as it was when there is none. Returns false at the
 * first run= whose id is invalid. */
bool wsr_run_from_query(const char *q, size_t len, char *run);

/* {"run": ID, "complete": bool, "sessions": [...]}: the finished sessions
 * tagged run, oldest first, then the live ones. complete is true once at
 * least one has ended and none is live. A new reference. */
json_t *wsr_server_query_run(const struct wsr_server *srv, const char *run);

/* Answers GET /_runs/ID (id not NUL-terminated): appends the whole HTTP
 * response, a 200 with the JSON above, to out and returns 200; or returns
 * 400 (invalid id) or 500 (out of memory) with *reason set, nothing
 * appended. */
int wsr_runs_serve(const struct wsr_server *srv, const char *id, size_t len,
                   struct evbuffer *out, const char **reason);

#endif
