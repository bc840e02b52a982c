/*
 * steps.h — what a running step program decides, without I/O.
 *
 * session.c runs a scenario's steps on a socket; every decision in it that
 * depends only on numbers — whether an await is over, how long the next
 * piece of a write group is, whether the ACK wait goes on, which side
 * closed TCP first, which request target is which — is here, so it can be
 * tested without sockets, timers or libevent. Nothing here allocates.
 */
#ifndef WSR_STEPS_H
#define WSR_STEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

/* What the client has sent so far, as the awaits see it. */
typedef struct wsr_input_seen {
    unsigned msgs; /* complete data messages */
    unsigned pings, pongs;
    unsigned msgs_at_step; /* msgs when the running await began */
    bool close;            /* a close frame arrived */
    bool eof;              /* the client's FIN (or TLS end) arrived */
} wsr_input_seen;

/* The names the transcript uses: "write", "delay", …; "close", "message", … */
const char *wsr_step_name(enum wsr_step_kind kind);
const char *wsr_await_name(enum wsr_await_what what);

/* An await step against what arrived: "ok" (met), "eof" (the client closed,
 * so it can no longer be met) or NULL (keep waiting). */
const char *wsr_await_result(const wsr_step *st, const wsr_input_seen *in);

/* An echo step ends when the client closes: "close" (its close frame),
 * "eof" (its FIN), or NULL (keep echoing). */
const char *wsr_echo_result(const wsr_input_seen *in);

/* True for the steps that must not run while echoed frames are still
 * queued: their bytes or their ending would overtake them. */
bool wsr_step_needs_empty_output(enum wsr_step_kind kind);

/* The length of the next piece of a write group: `every` bytes (or what
 * is left, if less) when it goes in pieces of that size (1: a byte per
 * write; 0: not so), else up to the next split offset (offsets count from
 * the group's start; group_off bytes of it have gone), else all that is
 * left. */
size_t wsr_piece_len(const size_t *split, size_t n_split, size_t every,
                     size_t piece, size_t group_off, size_t left);

/* The median of n (> 0) values sorted ascending: the middle one, or the
 * lower of the two middle ones (round-trip summaries). */
uint64_t wsr_median_sorted(const uint64_t *v, size_t n);

/* After a piece left the output buffer: true to poll SIOCOUTQ again (bytes
 * still unacknowledged and the ack timeout not reached), false to go on
 * (acked, or ack_timeout when queued > 0). */
bool wsr_ack_wait_more(int queued, unsigned waited_ms, unsigned timeout_ms);

/* A delay of ms plus r mod (jitter + 1): r is uniformly random. */
unsigned wsr_jittered(unsigned ms, unsigned jitter, uint32_t r);

/* "client", "server" or NULL (neither): the side whose close came first,
 * from the µs of each side's first evidence (-1: not seen). A tie goes to
 * the server. */
const char *wsr_first_closer(int64_t client_us, int64_t server_us);

enum wsr_target_kind {
    WSR_TARGET_SCENARIO,    /* /NAME[?QUERY] */
    WSR_TARGET_CONTROL,     /* /_runs/ID[?QUERY] */
    WSR_TARGET_NO_SCENARIO, /* no name in the path */
};

/* A request target, cut into slices of it (not NUL-terminated). */
typedef struct wsr_target {
    enum wsr_target_kind kind;
    const char *name; /* scenario name (no '/'), or the run id */
    size_t name_len;
    const char *query; /* after '?', NULL when there is no '?' */
    size_t query_len;
} wsr_target;

void wsr_target_parse(const char *t, size_t len, wsr_target *out);

/*
 * Variants (?vary=NAME): how a scenario's write groups travel, chosen by
 * the run rather than the scenario. The group's bytes stay the same; its
 * own split (offsets, "every": 1, gap) is replaced by the variant's cuts:
 *   frames            one piece per frame (the response head, if any, is
 *                     one piece of its own)
 *   header-payload    frames cut again between header and payload
 *   every-byte        a byte per piece
 *   gaps              frames, with WSR_VARY_GAP_MS between pieces
 *   tls-record-per-write  the whole group as one piece (over TLS: one
 *                     record, up to 16 KiB of it); wss:// only
 *   tls-record-per-byte   every-byte over TLS: a record per byte; wss://
 *                     only
 * The automatic 101 is not a write group and goes unchanged.
 */
enum wsr_vary {
    WSR_VARY_NONE,
    WSR_VARY_FRAMES,
    WSR_VARY_HEADER_PAYLOAD,
    WSR_VARY_EVERY_BYTE,
    WSR_VARY_GAPS,
    WSR_VARY_TLS_RECORD_PER_WRITE,
    WSR_VARY_TLS_RECORD_PER_BYTE,
};

#define WSR_VARY_GAP_MS 5

/* The variant's name ("every-byte"), NULL for WSR_VARY_NONE. */
const char *wsr_vary_name(enum wsr_vary v);
/* The variant named p[0..len), or false for no such name. */
bool wsr_vary_parse(const char *p, size_t len, enum wsr_vary *out);
/* Whether the variant runs over wss:// only. */
bool wsr_vary_tls_only(enum wsr_vary v);

/* Where the outgoing frame stream is: inside a header (hdr_have of
 * hdr_need bytes seen) or a payload (payload_left bytes to go). All zero
 * at a frame boundary. Fed every frame byte that goes out (echoes too), so
 * the cuts of the next group start from where the stream really is. */
typedef struct wsr_cutter {
    uint8_t hdr[2];
    uint8_t hdr_have, hdr_need;
    uint64_t payload_left;
    uint64_t len_acc; /* the extended length being read */
} wsr_cutter;

void wsr_cutter_feed(wsr_cutter *c, const uint8_t *p, size_t len);

/* The length of the next piece of p[0..len) from state c: up to the end of
 * the frame it is in, or with header_payload up to the end of a header
 * followed by a payload too; len when no boundary comes first. At least 1
 * when len > 0. c is not changed. */
size_t wsr_cutter_next(const wsr_cutter *c, const uint8_t *p, size_t len,
                       bool header_payload);

#endif
