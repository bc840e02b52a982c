/*
 * transcript.h — the wire log of one session.
 *
 * A transcript is one JSON object (format in server/README.md). Events are
 * built as jansson objects — a microsecond timestamp relative to the
 * session's start, then their fields — and serialized the moment they are
 * added: the transcript keeps them as compact JSON text, one growing
 * buffer, plus its few top-level fields. A session that sits idle for
 * minutes holds a kilobyte of text, not a tree of objects.
 *
 * A run of like data frames — consecutive frame events of one direction,
 * opcode 0, 1 or 2, with the same header fields (fin, rsv, masked, length,
 * length_form) — is one event: the first frame's, with "count" (frames in
 * the run), "t_us_last" and "offset_last" (the last one's time and offset)
 * added from the second frame on. A 4 MiB message in 64-byte fragments is
 * three events, not 65,536. Only data frames coalesce: control frames,
 * writes and every other event stay one per occurrence.
 *
 * The events are capped in number and in bytes so a chatty client cannot
 * grow the server without bound: the first event that would pass either
 * cap and every one after it (merges included) are counted in
 * "events_dropped" and lost; the transcript then also says "events_cap"
 * ({"events": N, "bytes": B}), and holds a prefix of what happened.
 */
#ifndef WSR_TRANSCRIPT_H
#define WSR_TRANSCRIPT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WSR_TRANSCRIPT_MAX_EVENTS 100000
#define WSR_TRANSCRIPT_MAX_BYTES (16u * 1024 * 1024) /* of events text */
/* What a run's text may grow by past its first frame's: count, t_us_last
 * and offset_last with 20-digit values. A data frame's event is charged it
 * against the byte cap up front, so frames that join a run never pass the
 * cap. */
#define WSR_TRANSCRIPT_RUN_GROWTH                                              \
    (sizeof ",\"count\":" + sizeof ",\"t_us_last\":" +                         \
     sizeof ",\"offset_last\":" + 3 * 20)

/* The top-level fields other than complete, events_dropped and events, in
 * the order they are written. */
enum wsr_transcript_field {
    WSR_TR_RUN,       /* null until set */
    WSR_TR_SCENARIO,  /* null until set */
    WSR_TR_PEER,      /* null when not given */
    WSR_TR_TRANSPORT, /* absent until set */
    WSR_TR_VARY,      /* absent until set: the run's variant (?vary=) */
    WSR_TR_STARTED,
    WSR_TR_END,       /* null until wsr_transcript_end() */
    WSR_TR_TCP_CLOSE, /* absent until set */
    WSR_TR_FIELDS
};

typedef struct wsr_transcript {
    /* each field's value as compact JSON text (owned), NULL when absent;
     * run, scenario, peer and end read null when absent */
    char *field[WSR_TR_FIELDS];
    char *events; /* the events so far, compact JSON objects joined by ','
                   * (owned, not NUL-terminated; NULL before the first) */
    size_t events_len, events_cap;
    bool append_failed; /* the event being added ran out of memory */
    size_t n_events;    /* events kept (a coalesced run counts once) */
    size_t dropped;     /* events past a cap: from the first, all are */
    /* The run of like data frames the events end with, if any: its first
     * frame's event (owned; its text is in events from last_mark), and
     * what the frames that joined it add. The text is brought up to date
     * when the run ends or the transcript is dumped, not at every frame. */
    json_t *last;       /* NULL when the last event is no data frame */
    size_t last_mark;   /* where last's text starts in events */
    uint64_t run_count; /* frames in the run (1: none joined yet) */
    json_t *run_t_us;   /* the last frame's t_us (owned), or NULL */
    json_t *run_offset; /* the last frame's offset (owned), or NULL */
    uint64_t start_us;  /* monotonic clock at creation */
    bool complete;
} wsr_transcript;

/* Monotonic microseconds. */
uint64_t wsr_now_us(void);

/* Returns 0, or -1 if out of memory or peer is not UTF-8 (t is then
 * empty). peer may be NULL. */
int wsr_transcript_init(wsr_transcript *t, const char *peer);
void wsr_transcript_free(wsr_transcript *t);

/* Sets a top-level string field: "run", "scenario", "peer", "transport"
 * or "vary";
 * value NULL makes it null. Returns 0, or -1 (unknown key, out of
 * memory: the field keeps its value). */
int wsr_transcript_set(wsr_transcript *t, const char *key, const char *value);

/* Sets a top-level field ("tcp_close", or a key above) to v, which it takes
 * (v NULL: out of memory upstream). Returns 0 or -1 as above. */
int wsr_transcript_set_new(wsr_transcript *t, const char *key, json_t *v);

/* Starts an event: a new object with t_us, dir (if not NULL) and type. The
 * caller adds fields and hands it back with wsr_transcript_add(), which
 * takes the reference, serializes the event (or merges it into the run of
 * like data frames it continues) and frees it. Never NULL unless out of
 * memory. */
json_t *wsr_event(wsr_transcript *t, const char *dir, const char *type);
void wsr_transcript_add(wsr_transcript *t, json_t *ev);

/* Adds {"hex": "..."} of at most max bytes of p to ev, and "hex_truncated"
 * when cut. */
void wsr_event_hex(json_t *ev, const uint8_t *p, size_t len, size_t max);

/* Marks the transcript complete with an end reason and detail. The first
 * call wins: the first cause of an ending is the one worth reading. */
void wsr_transcript_end(wsr_transcript *t, const char *reason,
                        const char *detail);

/* The whole transcript as one compact JSON text (malloc'd, NUL-terminated,
 * for free()), its length in *len; NULL if out of memory. Only the thread
 * that owns the transcript may call it. A run still growing is written as
 * it stands. */
char *wsr_transcript_dump(const wsr_transcript *t, size_t *len);

/* The whole transcript as a jansson tree (a new reference), parsed from
 * wsr_transcript_dump(); NULL if out of memory. For tests and tools: the
 * server itself only ever needs the text. */
json_t *wsr_transcript_json(const wsr_transcript *t);

/* Writes text[0..len) to dir/NAME.json so that another process sees either
 * no file or the whole one: one write() to a temporary file, then rename.
 * No fsync: durability is the caller's choice (writer.h syncs the
 * filesystem once, at shutdown). Returns 0, or -1 with errno set. */
int wsr_transcript_write_file(const char *dir, const char *name,
                              const char *text, size_t len);

#endif
