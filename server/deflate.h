/*
 * deflate.h — the codec of permessage-deflate (RFC 7692 7.2): one message
 * at a time through a raw DEFLATE stream, both ways, with no I/O.
 *
 * A deflater makes what the server sends: each message ends with a sync
 * flush whose 00 00 ff ff tail is removed (7.2.1), or with a BFINAL block.
 * An inflater reads what a client sends: the tail is appended (7.2.2), the
 * output is bounded, and a stream that is not well formed is an error with
 * zlib's words. Both are heap objects (_new/_del) that hide zlib.
 */
#ifndef WSR_DEFLATE_H
#define WSR_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The sync flush's empty stored block, cut from (and put back on) each
 * message. */
#define WSR_PMD_TAIL_LEN 4
extern const uint8_t wsr_pmd_tail[WSR_PMD_TAIL_LEN];

/* ---- compressing ------------------------------------------------------ */

typedef struct wsr_deflater wsr_deflater;

/* A stream whose back-references never reach past 2^window_bits bytes
 * (8..15; for 8 zlib's raw window cannot go below 9, so only run-length
 * matches, distance 1, are made). no_context_takeover: every message starts
 * a fresh stream. NULL if out of memory or window_bits is out of range. */
wsr_deflater *wsr_deflater_new(int window_bits, bool no_context_takeover);
void wsr_deflater_del(wsr_deflater *d);

enum {
    WSR_DEFLATE_TAIL = 1,  /* keep the 00 00 ff ff */
    WSR_DEFLATE_FINAL = 2, /* end with a BFINAL block; the stream restarts */
};

/* Compresses one message of len bytes into a new malloc'd *out (never
 * NULL on success, even for an empty result). flags: WSR_DEFLATE_*.
 * Returns 0, or -1 if out of memory or zlib failed (the stream is then
 * unusable). */
int wsr_deflate_message(wsr_deflater *d, const uint8_t *in, size_t len,
                        unsigned flags, uint8_t **out, size_t *outlen);

/* The most bytes wsr_deflate_message can make of a len-byte message on
 * d's stream, whatever its flags and the messages before it: zlib's
 * deflateBound for d's parameters (its tight bound at 15 bits, a
 * conservative one below) plus room for the closing flush. The loader
 * weighs the messages it leaves to the write by it. */
uint64_t wsr_deflate_bound(wsr_deflater *d, uint64_t len);

/* ---- decompressing ---------------------------------------------------- */

typedef struct wsr_inflater wsr_inflater;

/* window_bits 8..15: back-references farther than 2^window_bits bytes are
 * errors ("invalid distance too far back"). no_context_takeover: each
 * message is read as a stream of its own. NULL if out of memory or
 * window_bits is out of range. */
wsr_inflater *wsr_inflater_new(int window_bits, bool no_context_takeover);
void wsr_inflater_del(wsr_inflater *f);

enum wsr_inflate_result {
    WSR_INFLATE_OK = 0,
    WSR_INFLATE_TOO_BIG = 1, /* more than max bytes; the stream is spent */
    WSR_INFLATE_BAD = 2,     /* not a valid stream; err says why */
    WSR_INFLATE_NOMEM = 3,
};

/* Inflates one message's payload (its frames' payloads joined, without the
 * tail) into a new malloc'd *out of at most max bytes. A message that ends
 * with a BFINAL block ends the stream: the next one starts afresh. After
 * anything but WSR_INFLATE_OK the inflater must not be used again. */
enum wsr_inflate_result wsr_inflate_message(wsr_inflater *f, const uint8_t *in,
                                            size_t len, size_t max,
                                            uint8_t **out, size_t *outlen,
                                            char *err, size_t errlen);

#endif
