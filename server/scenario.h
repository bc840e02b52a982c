/*
 * scenario.h — scenario files (JSON) → validated step programs.
 *
 * Loading is strict: unknown keys are errors, types and ranges are checked,
 * and every error names the file and the JSON path ("steps[2].write[0].text")
 * so a person can fix it without guessing. Write groups are expanded at load
 * time (count, {i} templates, payload sources) so that a session only copies
 * bytes and never fails on a scenario it accepted. Compressed items may be
 * left to the write (WSR_ITEM_DEFLATE): every check is still made at load,
 * and a session then deflates them on a stream of its own.
 */
#ifndef WSR_SCENARIO_H
#define WSR_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "extensions.h"

/* The limits a scenario file must keep. */
#define WSR_MAX_GROUP_BYTES (64u * 1024u * 1024u) /* one write group */
#define WSR_MAX_COUNT 100000                      /* a count of anything */
#define WSR_MAX_MS 600000                         /* any time in ms */
/* All of a scenario's write groups together. Both byte limits are checked
 * from the items' sizes before their bytes are built. */
#define WSR_MAX_SCENARIO_BYTES (256u * 1024u * 1024u)
/* A family file (one that defines "family"): at most this many members,
 * whose write groups together keep the scenario limit; a parameter's name
 * is at most WSR_MAX_PARAM_NAME characters. */
#define WSR_MAX_FAMILY_MEMBERS 1000
#define WSR_MAX_FAMILY_BYTES WSR_MAX_SCENARIO_BYTES
#define WSR_MAX_PARAM_NAME 63

struct json_t;

enum wsr_item_kind {
    WSR_ITEM_FRAME,     /* an RFC 6455 frame, encoded at send time */
    WSR_ITEM_RAW,       /* bytes exactly as given */
    WSR_ITEM_HANDSHAKE, /* an HTTP response; a 101 carries the client's key */
    WSR_ITEM_DEFLATE,   /* "compress": true messages deflated at the write */
};

/* Sec-WebSocket-Accept values are always 28 base64 characters. */
#define WSR_ACCEPT_LEN 28

typedef struct wsr_item {
    enum wsr_item_kind kind;
    bool fin;
    uint8_t rsv;
    uint8_t opcode;
    bool mask;
    uint8_t mask_key[4];
    int len_form;  /* 0 minimal, or 7/16/64 */
    uint8_t *data; /* payload (frames) or bytes (raw, handshake); owned */
    size_t len;
    /* handshake: the status it answers with (0: not a complete response
     * head), and where in data the computed accept key goes (SIZE_MAX: none) */
    int http_status;
    size_t accept_at;
    /* WSR_ITEM_DEFLATE: copies messages, the i-th (from 1) being data, or
     * if templated data (a C string) with {i} replaced by i, or if
     * pattern_size data repeated and cut to pattern_size bytes, each deflated
     * with deflate_flags (WSR_DEFLATE_TAIL/FINAL) and cut into frames of
     * fragment_size payload bytes (0: one frame) as the session writes it
     * (wsr_item_deflate_frames). The frame fields above are the first
     * frame's. wire_bound and frames_bound: at most how many bytes and
     * frames they put on the wire, all copies together. */
    unsigned copies;
    bool templated;
    size_t pattern_size;
    unsigned deflate_flags;
    size_t fragment_size;
    uint64_t wire_bound;
    size_t frames_bound;
} wsr_item;

enum wsr_step_kind {
    WSR_STEP_WRITE,
    WSR_STEP_DELAY,
    WSR_STEP_AWAIT,
    WSR_STEP_ECHO,
    WSR_STEP_SHUTDOWN,
    WSR_STEP_ABORT,
    WSR_STEP_READ,
    WSR_STEP_TLS,
    WSR_STEP_ROUND_TRIPS, /* write a message, await its echo; count times */
};

enum wsr_shutdown_how {
    WSR_SHUT_WRITE, /* TLS close_notify (if TLS), then FIN */
    WSR_SHUT_TCP,   /* FIN only, even over TLS */
};

enum wsr_await_what {
    WSR_AWAIT_CLOSE,
    WSR_AWAIT_MESSAGES, /* count data messages in all */
    WSR_AWAIT_MESSAGE,  /* one more data message than before the step */
    WSR_AWAIT_PING,     /* count pings in all */
    WSR_AWAIT_PONG,     /* count pongs in all */
    WSR_AWAIT_EOF,
};

typedef struct wsr_step {
    enum wsr_step_kind kind;
    /* write */
    wsr_item *items;
    size_t n_items;
    size_t *split; /* ascending byte offsets into the group */
    size_t n_split;
    unsigned gap_ms;
    bool split_every_byte;
    size_t split_every; /* "split": {"every": N}: pieces of N bytes (0: no) */
    /* "fail_fast_mark": the client should have failed the connection
     * before this group goes (expect.fail_fast) */
    bool fail_fast_mark;
    /* delay (plus a uniform random 0..jitter_ms); await and echo timeouts */
    unsigned ms;
    unsigned jitter_ms;
    /* await; round_trips: count round trips, items[i] the i-th message
     * (n_items == count), ms the timeout of each */
    enum wsr_await_what await_what;
    unsigned count;
    /* read: false pauses reading, true resumes it */
    bool read_on;
    enum wsr_shutdown_how shutdown_how;
} wsr_step;

/* How the server answers a permessage-deflate offer: the "deflate" field. */
enum wsr_deflate_answer {
    WSR_DEFLATE_DECLINE, /* absent or "decline": no extension in the 101 */
    WSR_DEFLATE_ACCEPT,  /* "accept": wsr_pmd_minimal_answer of the offer */
    WSR_DEFLATE_LITERAL, /* an object: exactly deflate_params */
};

typedef struct wsr_scenario {
    char *name; /* "close/send-then-close" */
    char *path; /* the file it came from */
    wsr_step *steps;
    size_t n_steps;
    bool handshake_in_group; /* a write group carries the response itself */
    bool handshake_manual;   /* "handshake": "manual": no automatic 101 */
    bool tls_only;           /* "transport": "wss" */
    size_t write_bytes;      /* what all its write groups put on the wire */
    enum wsr_deflate_answer deflate;
    bool deflate_given;            /* the file has a "deflate" field */
    wsr_pmd_params deflate_params; /* WSR_DEFLATE_LITERAL's answer */
    /* Loading only: the stream "compress": true items are deflated by, in
     * the order they appear (NULL until the first one); when they are left
     * to the write, the stream that weighs them (wsr_deflate_bound). */
    struct wsr_deflater *deflater;
    /* Its "compress": true items are WSR_ITEM_DEFLATE (coded when a session
     * writes them); else they were deflated at load into frames. */
    bool deflate_at_write;
    /* Loading only: the uncompressed bytes of its "compress" items; a check
     * that needs their compressed sizes (the loader then deflates them);
     * a family limit was hit. */
    uint64_t deflate_input;
    bool needs_sizes;
    bool family_limit_hit;
    /* Loading only: what the earlier members of its family put on the wire
     * (0 outside a family), weighed with its own bytes. */
    size_t family_bytes;
    /* The file's object as loaded (a jansson reference, owned): the
     * normalized form (scenario_normal.h) is built from it. */
    struct json_t *doc;
} wsr_scenario;

/* The bytes a write step puts on the wire, and the send()s they take: one
 * per byte with split every_byte, one per N bytes (the last shorter) with
 * split every N, else one more than the split offsets.
 * 0 pieces for any other step. */
size_t wsr_step_group_bytes(const wsr_step *st);

/* The scenario's reason to opt out of variants ("vary": {"no": WHY}), or
 * NULL when variants apply to it. */
const char *wsr_scenario_vary_no(const wsr_scenario *sc);
size_t wsr_step_pieces(const wsr_step *st);

/* When the loader deflates "compress": true items (server/README.md,
 * "Compressed items"). Whatever the choice, every check is made at load
 * and the wire bytes are the same. */
enum wsr_deflate_when {
    /* At the write, unless the scenario's compressed messages total at most
     * WSR_DEFLATE_AT_LOAD_MAX bytes (cheap, and its "wire" figures are then
     * exact) or a check needs their compressed sizes. */
    WSR_DEFLATE_WHEN_AUTO,
    WSR_DEFLATE_WHEN_LOAD,  /* always at load */
    WSR_DEFLATE_WHEN_WRITE, /* at the write unless a check needs the sizes */
};
#define WSR_DEFLATE_AT_LOAD_MAX (1024u * 1024u)

/* Process-wide, for the loads that follow (the server's --deflate-at-load,
 * tests and benchmarks that compare both). */
void wsr_scenario_deflate_when(enum wsr_deflate_when when);

struct wsr_deflater;

/* A new stream for sc's WSR_ITEM_DEFLATE items, with the parameters its
 * "deflate" answer fixes (as the loader's), or NULL if out of memory. Each
 * session has its own: context takeover runs through a session's messages
 * in the scenario's order. */
struct wsr_deflater *wsr_scenario_deflater_new(const wsr_scenario *sc);

/* Deflates and cuts it's messages (a WSR_ITEM_DEFLATE item) on d, handing
 * each frame to frame(arg, f) in order (f and its data live only during
 * the call). The frames are byte for byte those the loader would have
 * built. Returns 0, or -1 if out of memory, zlib failed, or frame returned
 * nonzero (the stream is then unusable). */
int wsr_item_deflate_frames(const wsr_item *it, struct wsr_deflater *d,
                            int (*frame)(void *arg, const wsr_item *f),
                            void *arg);

typedef struct wsr_scenario_set {
    wsr_scenario **v; /* sorted by name */
    size_t n;
} wsr_scenario_set;

/* Loads one file (refused unless it is a regular file, before it is read:
 * a FIFO would block). name is what the file's "name" must be (its path under
 * the scenarios folder without .json), or NULL to skip that check. Returns
 * a new scenario, or NULL with a message "FILE: PATH: what is wrong" in err. */
wsr_scenario *wsr_scenario_load_file(const char *file, const char *name,
                                     char *err, size_t errlen);
/* The same from len bytes in memory (the fuzzer's entry point); file is
 * the name errors and the scenario's path carry. */
wsr_scenario *wsr_scenario_load_buffer(const char *buf, size_t len,
                                       const char *file, const char *name,
                                       char *err, size_t errlen);
void wsr_scenario_del(wsr_scenario *sc);

/* Whether name is a valid scenario name: parts joined by '/', each of
 * [A-Za-z0-9_.-], none empty, none starting with '.' or '-'. */
bool wsr_scenario_name_ok(const char *name);

/* What a file that is not a regular one is, for an error: "a directory",
 * "a FIFO", ... (mode as from stat). */
const char *wsr_file_kind(unsigned mode);

/* Loads every *.json under dir, recursively. Returns 0, or -1 with the first
 * error in err (the set is then empty). Duplicate names, an entry *.json that
 * is not a regular file, and a folder with no scenario are errors. */
int wsr_scenario_set_load(wsr_scenario_set *set, const char *dir, char *err,
                          size_t errlen);
void wsr_scenario_set_free(wsr_scenario_set *set);

/* Building a set by hand (a list of files): add takes sc over (0, or -1 if
 * out of memory: sc is not taken); seal sorts by name and refuses duplicate
 * names like set_load (0, or -1 with the error in err and the set freed). */
int wsr_scenario_set_add(wsr_scenario_set *set, wsr_scenario *sc);
int wsr_scenario_set_seal(wsr_scenario_set *set, char *err, size_t errlen);

/* Loads one file into set: its scenario, or each member of the family it
 * defines ("family": {"members": [...]}, scenarios/README.md), named the
 * file's name + '/' + the member's id, in the members' order. Returns 0, or
 * -1 with the error in err and nothing of the file added. Errors in a
 * member start "FILE: family.members[N] (id \"ID\"): ". (The single-file
 * loaders above refuse a family file.) */
int wsr_scenario_load_file_into(wsr_scenario_set *set, const char *file,
                                const char *name, char *err, size_t errlen);
int wsr_scenario_load_buffer_into(wsr_scenario_set *set, const char *buf,
                                  size_t len, const char *file,
                                  const char *name, char *err, size_t errlen);

/* Finds a scenario by name (not NUL-terminated), or NULL. */
const wsr_scenario *wsr_scenario_set_find(const wsr_scenario_set *set,
                                          const char *name, size_t len);

#endif
