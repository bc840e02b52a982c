/*
 * runs.h — the ring of finished transcripts and the GET /_runs/ID answer.
 *
 * Every recorded session's transcript goes into a fixed ring when the
 * session ends, so the harness can fetch a run's sessions over HTTP on the
 * port it already talks to. The ring holds the newest WSR_RUNS_KEEP
 * transcripts; a busy server forgets the oldest first, and never grows.
 * Each is kept as its compact JSON text, with its run id, in one
 * allocation: an answer is those texts joined, never re-serialized.
 */
#ifndef WSR_RUNS_H
#define WSR_RUNS_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>

/* Finished transcripts kept for GET /_runs/ID, oldest dropped first. */
#define WSR_RUNS_KEEP 4096

/* A run id is at most this long: letters, digits, '-', '_' and '.'. */
#define WSR_RUN_ID_MAX 127

/* The control endpoint's path prefix; the run id follows it. */
#define WSR_RUNS_PATH "/_runs/"

struct wsr_run_entry; /* one finished transcript: run id and text */

typedef struct wsr_runs {
    struct wsr_run_entry *done[WSR_RUNS_KEEP]; /* owned; NULL when empty */
    size_t next; /* the slot the next transcript takes */
} wsr_runs;

struct wsr_server;

void wsr_runs_init(wsr_runs *r);
void wsr_runs_free(wsr_runs *r);

/* Keeps a copy of a finished transcript's text, text[0..len) (compact
 * JSON, as wsr_transcript_dump() gives it), tagged with its run id (NULL
 * or "" for none), dropping the oldest one when the ring is full. Returns
 * 0, or -1 if out of memory (the ring is left as it was). */
int wsr_runs_keep(wsr_runs *r, const char *run, const char *text, size_t len);

/* True if p[0..len) is a valid run id. */
bool wsr_run_id_valid(const char *p, size_t len);

/* Finds run=ID in a query string (without the '?'). Every valid run=
 * overwrites run (WSR_RUN_ID_MAX + 1 bytes, NUL-terminated; the last one
 * wins); run is left as it was when there is none. Returns false at the
 * first run= whose id is invalid. */
bool wsr_run_from_query(const char *q, size_t len, char *run);

/* Appends {"run": ID, "complete": bool, "sessions": [...]} to out, as
 * compact JSON: the finished sessions tagged run (a valid run id), oldest
 * first, then the live ones. complete is true once at least one has ended
 * and none is live. Returns 0, or -1 if out of memory (out may then hold
 * part of it). */
int wsr_server_query_run(const struct wsr_server *srv, const char *run,
                         struct evbuffer *out);

/* Answers GET /_runs/ID (id not NUL-terminated): appends the whole HTTP
 * response, a 200 with the JSON above, to out and returns 200; or returns
 * 400 (invalid id) or 500 (out of memory) with *reason set, nothing
 * appended. */
int wsr_runs_serve(const struct wsr_server *srv, const char *id, size_t len,
                   struct evbuffer *out, const char **reason);

#endif
