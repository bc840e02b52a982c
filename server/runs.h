/*
 * runs.h — the ring of finished transcripts and the GET /_runs/ID answer.
 *
 * Every recorded session's transcript goes into a fixed ring when the
 * session ends, so the harness can fetch a run's sessions over HTTP on the
 * port it already talks to. The ring holds the newest WSR_RUNS_KEEP
 * transcripts, and at most max_bytes of them (WSR_RUNS_MAX_BYTES unless
 * the server is told otherwise); a busy server forgets the oldest first,
 * and never grows. A transcript larger than max_bytes on its own is not
 * kept at all (counted). The run ids of the forgotten ones are remembered
 * (the newest WSR_RUNS_EVICTED_KEEP, as hashes), so GET /_runs/ID can say
 * "evicted" instead of waiting for sessions it will never see.
 * Each is kept as its compact JSON text, with its run id, in one
 * allocation: an answer is those texts joined, never re-serialized.
 *
 * GET /_runs/ID?wait_ms=N is a long poll: a request for a run that is not
 * complete yet is parked as a waiter (at most WSR_RUNS_WAITERS_MAX at
 * once) until a session of that run ends or N ms pass. The list of
 * waiters is here; the sessions that wait and the sessions that end are
 * linked to it by session.c.
 */
#ifndef WSR_RUNS_H
#define WSR_RUNS_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "steps.h"

/* Finished transcripts kept for GET /_runs/ID, oldest dropped first. */
#define WSR_RUNS_KEEP 4096

/* The bytes of transcripts the ring holds at most, by default: each
 * counted as its allocation (text, run id and a small header). */
#define WSR_RUNS_MAX_BYTES (64u * 1024u * 1024u)

/* How many run ids whose transcripts were evicted (or dropped) are
 * remembered, newest first, as 64-bit hashes. */
#define WSR_RUNS_EVICTED_KEEP 4096

/* A run id is at most this long: an ASCII letter or digit, then letters,
 * digits, '-', '_' and '.' (never "..", ".hidden" or "-rf": it names
 * transcript files). */
#define WSR_RUN_ID_MAX 127

/* The control endpoint's path prefix; the run id follows it. */
#define WSR_RUNS_PATH "/_runs/"

/* GET /_runs/ID?wait_ms=N waits at most this long (a larger N is a 400). */
#define WSR_RUNS_WAIT_MAX_MS 60000

/* At most this many requests wait at once; one more is answered 503. */
#define WSR_RUNS_WAITERS_MAX 1024

/* A parked GET /_runs/ID?wait_ms=N, embedded in whoever waits (a session).
 * Linked into the list of waiters by wsr_runs_park, out of it by
 * wsr_runs_unpark; wake(arg) is called when a session of run ends. */
typedef struct wsr_run_waiter {
    struct wsr_run_waiter *prev, *next;
    bool parked;
    const char *run; /* borrowed: the run asked for, valid while parked */
    void (*wake)(void *arg);
    void *arg;
} wsr_run_waiter;

struct wsr_run_entry; /* one finished transcript: run id and text */

typedef struct wsr_runs {
    struct wsr_run_entry *done[WSR_RUNS_KEEP]; /* owned; NULL when empty */
    size_t next;       /* the slot the next transcript takes */
    size_t count;      /* slots in use: the count before next, oldest first */
    size_t bytes;      /* what those hold, each as its allocation */
    size_t max_bytes;  /* bytes never passes it (WSR_RUNS_MAX_BYTES) */
    size_t peak_bytes; /* the most bytes ever held */
    unsigned long evicted;      /* transcripts forgotten to make room */
    unsigned long evicted_size; /* of those, for the byte cap (not count) */
    unsigned long too_big;      /* not kept: larger than max_bytes alone */
    uint64_t gone[WSR_RUNS_EVICTED_KEEP]; /* hashes of evicted run ids */
    size_t gone_next;                     /* the slot the next one takes */
    wsr_run_waiter *waiters;              /* parked requests, newest first */
    size_t n_waiters;                     /* at most WSR_RUNS_WAITERS_MAX */
} wsr_runs;

struct wsr_server;

void wsr_runs_init(wsr_runs *r);
void wsr_runs_free(wsr_runs *r);

/* Keeps a copy of a finished transcript's text, text[0..len) (compact
 * JSON, as wsr_transcript_dump() gives it), tagged with its run id (NULL
 * or "" for none), dropping the oldest ones first while the ring is full
 * (WSR_RUNS_KEEP entries) or would pass max_bytes with it. Returns 0; 1
 * if it is larger than max_bytes alone (not kept, counted in too_big, its
 * run remembered as evicted, the ring left as it was); or -1 if out of
 * memory (the ring is left as it was). */
int wsr_runs_keep(wsr_runs *r, const char *run, const char *text, size_t len);

/* What keeping a transcript of len bytes tagged run costs in bytes. */
size_t wsr_runs_entry_size(const char *run, size_t len);

/* True if a transcript of run was evicted or dropped (one of the newest
 * WSR_RUNS_EVICTED_KEEP such run ids). */
bool wsr_runs_evicted(const wsr_runs *r, const char *run);

/* The text kept in slot i (0 to WSR_RUNS_KEEP - 1, in no order), its
 * length in *len; NULL when the slot is empty. Borrowed: valid until the
 * slot is reused. */
const char *wsr_runs_text(const wsr_runs *r, size_t i, size_t *len);

/* Parks w (its run, wake and arg set by the caller; w must stay where it
 * is until unparked). False, and nothing done, when WSR_RUNS_WAITERS_MAX
 * requests wait already or w is parked. */
bool wsr_runs_park(wsr_runs *r, wsr_run_waiter *w);

/* Takes w out of the list of waiters; nothing when it is not parked. */
void wsr_runs_unpark(wsr_runs *r, wsr_run_waiter *w);

/* A session tagged run ended (its transcript is kept and it is no longer
 * live): calls wake for every waiter of run. A wake may unpark its own
 * waiter, and only that one. */
void wsr_runs_ended(wsr_runs *r, const char *run);

/* True if p[0..len) is a valid run id. */
bool wsr_run_id_valid(const char *p, size_t len);

/* Finds run=ID in a query string (without the '?'). The last valid run=
 * goes into run (WSR_RUN_ID_MAX + 1 bytes, NUL-terminated); run is left as
 * it was when there is none. Returns false, run left as it was, if any
 * run= has an invalid id. */
bool wsr_run_from_query(const char *q, size_t len, char *run);

/* Finds wait_ms=N in a query string (without the '?'): *ms is set to N
 * for each one (the last one wins) and left as it was when there is none.
 * Returns false at the first wait_ms= whose value is not a decimal integer
 * from 0 to WSR_RUNS_WAIT_MAX_MS. */
bool wsr_wait_ms_from_query(const char *q, size_t len, long *ms);

/* Finds deflate=accept or deflate=decline in a query string (without the
 * '?'): *accept is set for each one (the last one wins) and left as it was
 * when there is none. Returns false at the first deflate= with another
 * value. */
bool wsr_deflate_from_query(const char *q, size_t len, bool *accept);

/* Finds vary=NAME (a variant, steps.h) in a query string; *v is left as it
 * was when there is none. False at the first vary= with an unknown name. */
bool wsr_vary_from_query(const char *q, size_t len, enum wsr_vary *v);

/* Appends {"run": ID, "complete": bool, "sessions": [...]} to out, as
 * compact JSON: the finished sessions tagged run (a valid run id), oldest
 * first, then the live ones. complete is true once at least one has ended
 * and none is live. When a transcript of run was evicted (or dropped as
 * too big), "evicted": true follows "complete", and an ended session
 * counts as one that ended even if none of its transcripts is left. Returns 0, or -1 if out of memory (out may then hold
 * part of it). */
int wsr_server_query_run(const struct wsr_server *srv, const char *run,
                         struct evbuffer *out);

/* The "complete" of that answer, without building it. */
bool wsr_server_run_complete(const struct wsr_server *srv, const char *run);

/* Answers GET /_runs/ID (id not NUL-terminated): appends the whole HTTP
 * response, a 200 with the JSON above, to out and returns 200; or returns
 * 400 (invalid id) or 500 (out of memory) with *reason set, nothing
 * appended. */
int wsr_runs_serve(const struct wsr_server *srv, const char *id, size_t len,
                   struct evbuffer *out, const char **reason);

#endif
