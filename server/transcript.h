/*
 * transcript.h — the wire log of one session.
 *
 * A transcript is a jansson object (format in server/README.md). Events get
 * a microsecond timestamp relative to the session's start. The number of
 * events is capped so a chatty client cannot grow the server without bound;
 * past the cap, events are counted but dropped and "truncated" is set.
 */
#ifndef WSR_TRANSCRIPT_H
#define WSR_TRANSCRIPT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define WSR_TRANSCRIPT_MAX_EVENTS 20000

typedef struct wsr_transcript {
    json_t *root;      /* owned */
    json_t *events;    /* borrowed from root */
    uint64_t start_us; /* monotonic clock at creation */
    size_t dropped;
} wsr_transcript;

/* Monotonic microseconds. */
uint64_t wsr_now_us(void);

/* Returns 0, or -1 if out of memory. peer may be NULL. */
int wsr_transcript_init(wsr_transcript *t, const char *peer);
void wsr_transcript_free(wsr_transcript *t);

/* Sets a top-level string field (run, scenario). */
void wsr_transcript_set(wsr_transcript *t, const char *key, const char *value);

/* Starts an event: a new object with t_us, dir (if not NULL) and type. The
 * caller adds fields and hands it back with wsr_transcript_add(), which
 * takes the reference. Never NULL unless out of memory. */
json_t *wsr_event(wsr_transcript *t, const char *dir, const char *type);
void wsr_transcript_add(wsr_transcript *t, json_t *ev);

/* Adds {"hex": "..."} of at most max bytes of p to ev, and "hex_truncated"
 * when cut. */
void wsr_event_hex(json_t *ev, const uint8_t *p, size_t len, size_t max);

/* Marks the transcript complete with an end reason and detail. The first
 * call wins: the first cause of an ending is the one worth reading. */
void wsr_transcript_end(wsr_transcript *t, const char *reason,
                        const char *detail);

/* The transcript as one compact JSON text (malloc'd, NUL-terminated, for
 * free()), its length in *len; NULL if out of memory. Only the thread
 * that owns the transcript may call it: jansson objects are not shared
 * across threads. */
char *wsr_transcript_dump(const wsr_transcript *t, size_t *len);

/* Writes text[0..len) to dir/NAME.json so that another process sees either
 * no file or the whole one: one write() to a temporary file, then rename.
 * No fsync: durability is the caller's choice (writer.h syncs the
 * filesystem once, at shutdown). Returns 0, or -1 with errno set. */
int wsr_transcript_write_file(const char *dir, const char *name,
                              const char *text, size_t len);

#endif
