/*
 * deflate.c — raw DEFLATE per message for permessage-deflate (RFC 7692 7.2).
 *
 * zlib does the coding; this file holds the message framing RFC 7692 adds
 * on top (the 00 00 ff ff tail, BFINAL restarts, no_context_takeover) and
 * the bounds zlib does not: a window of 2^8 on the compressing side, an
 * exact window on the reading side, a ceiling on inflated bytes.
 */
#include "deflate.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

const uint8_t wsr_pmd_tail[WSR_PMD_TAIL_LEN] = {0x00, 0x00, 0xff, 0xff};

/* A growing output buffer. */
typedef struct out_buf {
    uint8_t *p;
    size_t len, cap;
} out_buf;

/* Room for at least one more byte, the capacity never above limit. */
static int out_reserve(out_buf *b, size_t limit)
{
    if (b->len < b->cap)
        return 0;
    if (b->cap >= limit)
        return -1;
    size_t cap = b->cap ? b->cap * 2 : 1024;
    if (cap > limit || cap < b->cap)
        cap = limit;
    uint8_t *np = realloc(b->p, cap);
    if (!np)
        return -1;
    b->p = np;
    b->cap = cap;
    return 0;
}

/* ---- compressing ------------------------------------------------------ */

struct wsr_deflater {
    z_stream z;
    bool no_context;
};

wsr_deflater *wsr_deflater_new(int window_bits, bool no_context_takeover)
{
    if (window_bits < 8 || window_bits > 15)
        return NULL;
    wsr_deflater *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    /* zlib refuses a raw window of 2^8; run-length matches (distance 1)
     * stay inside any window, so 8 bits is 9 bits with Z_RLE. */
    int bits = window_bits == 8 ? 9 : window_bits;
    int strategy = window_bits == 8 ? Z_RLE : Z_DEFAULT_STRATEGY;
    if (deflateInit2(&d->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -bits, 8,
                     strategy) != Z_OK) {
        free(d);
        return NULL;
    }
    d->no_context = no_context_takeover;
    return d;
}

void wsr_deflater_del(wsr_deflater *d)
{
    if (!d)
        return;
    deflateEnd(&d->z);
    free(d);
}

/* Runs deflate with flush until it has said all it has to say. */
static int deflate_all(z_stream *z, int flush, out_buf *b)
{
    for (;;) {
        if (out_reserve(b, SIZE_MAX / 2) != 0)
            return -1;
        size_t room = b->cap - b->len;
        z->next_out = b->p + b->len;
        z->avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before = z->avail_out;
        int rc = deflate(z, flush);
        b->len += before - z->avail_out;
        if (rc == Z_STREAM_END)
            return 0;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return -1;
        /* Output space left over: the flush is complete (zlib's contract). */
        if (flush != Z_FINISH && z->avail_out != 0 && z->avail_in == 0)
            return 0;
    }
}

int wsr_deflate_message(wsr_deflater *d, const uint8_t *in, size_t len,
                        unsigned flags, uint8_t **out, size_t *outlen)
{
    out_buf b = {0};
    bool final = flags & WSR_DEFLATE_FINAL;
    if (len > UINT_MAX || (d->no_context && deflateReset(&d->z) != Z_OK))
        return -1;
    d->z.next_in = (Bytef *)(uintptr_t)in;
    d->z.avail_in = (uInt)len;
    /* The input first, then the flush: zlib skips a sync flush that
     * follows another with no input between, and an empty message must
     * still end with its empty stored block (the single byte 00). */
    int rc = deflate_all(&d->z, Z_NO_FLUSH, &b);
    if (rc == 0)
        rc = deflate_all(&d->z, final ? Z_FINISH : Z_SYNC_FLUSH, &b);
    if (rc == 0 && final)
        rc = deflateReset(&d->z) == Z_OK ? 0 : -1;
    if (rc == 0 && out_reserve(&b, SIZE_MAX / 2) != 0)
        rc = -1; /* never a NULL buffer, even for 0 bytes */
    if (rc != 0) {
        free(b.p);
        return -1;
    }
    /* A sync flush always ends with the empty stored block: cut it off. */
    if (!final && !(flags & WSR_DEFLATE_TAIL) && b.len >= WSR_PMD_TAIL_LEN &&
        memcmp(b.p + b.len - WSR_PMD_TAIL_LEN, wsr_pmd_tail,
               WSR_PMD_TAIL_LEN) == 0)
        b.len -= WSR_PMD_TAIL_LEN;
    *out = b.p;
    *outlen = b.len;
    return 0;
}

/* deflateBound is for a whole stream ended by Z_FINISH; a message ends
 * with a sync flush (an empty stored block, at most 5 bytes with its
 * alignment) or a final block, and starts on a byte boundary after the one
 * before: 16 bytes cover either end. */
#define FLUSH_ROOM 16u

uint64_t wsr_deflate_bound(wsr_deflater *d, uint64_t len)
{
    if (len > (uint64_t)ULONG_MAX / 2)
        return UINT64_MAX;
    uint64_t b = deflateBound(&d->z, (uLong)len);
    return b > UINT64_MAX - FLUSH_ROOM ? UINT64_MAX : b + FLUSH_ROOM;
}

/* ---- decompressing ---------------------------------------------------- */

struct wsr_inflater {
    z_stream z;
    int bits;
    bool no_context;
};

wsr_inflater *wsr_inflater_new(int window_bits, bool no_context_takeover)
{
    if (window_bits < 8 || window_bits > 15)
        return NULL;
    wsr_inflater *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    if (inflateInit2(&f->z, -window_bits) != Z_OK) {
        free(f);
        return NULL;
    }
    f->bits = window_bits;
    f->no_context = no_context_takeover;
    return f;
}

void wsr_inflater_del(wsr_inflater *f)
{
    if (!f)
        return;
    inflateEnd(&f->z);
    free(f);
}

/* The input of one message: the payload, then the tail. */
typedef struct in_feed {
    bool on_tail;
} in_feed;

/* Points z at the next piece of input; false when all is given. */
static bool feed_next(z_stream *z, in_feed *in)
{
    if (z->avail_in != 0)
        return true;
    if (in->on_tail)
        return false;
    in->on_tail = true;
    z->next_in = (Bytef *)(uintptr_t)wsr_pmd_tail;
    z->avail_in = WSR_PMD_TAIL_LEN;
    return true;
}

static enum wsr_inflate_result inflate_fail(z_stream *z, const char *what,
                                            char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", z->msg ? z->msg : what);
    return WSR_INFLATE_BAD;
}

/*
 * One inflate() call into b. zlib lets a back-reference reach into the
 * output of the same call whatever the window, so below 15 bits (where
 * the format's own 32 KiB limit is not the window) output goes one byte
 * per call: then every reference is checked against the window itself.
 */
static int inflate_step(wsr_inflater *f, out_buf *b, size_t max)
{
    /* The buffer stops at max + 1 bytes: one past the bound is enough to
     * know it was crossed. */
    if (out_reserve(b, max < SIZE_MAX ? max + 1 : max) != 0)
        return Z_MEM_ERROR;
    size_t room = b->cap - b->len;
    if (f->bits < 15)
        room = 1;
    f->z.next_out = b->p + b->len;
    f->z.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
    uInt before = f->z.avail_out;
    int rc = inflate(&f->z, Z_SYNC_FLUSH);
    b->len += before - f->z.avail_out;
    return rc;
}

/* Runs the message through, to the end of its input or of the stream. */
static enum wsr_inflate_result inflate_run(wsr_inflater *f, in_feed *in,
                                           out_buf *b, size_t max, char *err,
                                           size_t errlen)
{
    /* zlib's data_type bit 128 (between blocks) as left by the last call
     * that moved: a call that finds nothing to do starts the next block's
     * header and clears it. */
    bool boundary = false;
    for (;;) {
        size_t out_before = b->len;
        uInt in_before = f->z.avail_in;
        int rc = inflate_step(f, b, max);
        if (b->len != out_before || f->z.avail_in != in_before)
            boundary = f->z.data_type & 128;
        if (b->len > max)
            return WSR_INFLATE_TOO_BIG;
        if (rc == Z_MEM_ERROR)
            return WSR_INFLATE_NOMEM;
        if (rc == Z_STREAM_END) {
            /* BFINAL: what follows in this message is not read; the next
             * message starts a new stream. */
            return inflateReset(&f->z) == Z_OK ? WSR_INFLATE_OK
                                               : WSR_INFLATE_NOMEM;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return inflate_fail(&f->z, "invalid deflate data", err, errlen);
        bool more_out = f->z.avail_out == 0;
        if (!feed_next(&f->z, in) && !more_out)
            break;
    }
    /* The tail is an empty stored block: after it, a valid message leaves
     * the stream between blocks. */
    if (!boundary) {
        snprintf(err, errlen, "the message does not end on a block boundary");
        return WSR_INFLATE_BAD;
    }
    return WSR_INFLATE_OK;
}

enum wsr_inflate_result wsr_inflate_message(wsr_inflater *f, const uint8_t *in,
                                            size_t len, size_t max,
                                            uint8_t **out, size_t *outlen,
                                            char *err, size_t errlen)
{
    out_buf b = {0};
    in_feed feed = {.on_tail = false};
    if (len > UINT_MAX)
        return WSR_INFLATE_TOO_BIG;
    if (f->no_context && inflateReset(&f->z) != Z_OK)
        return WSR_INFLATE_NOMEM;
    f->z.next_in = (Bytef *)(uintptr_t)in;
    f->z.avail_in = (uInt)len;
    enum wsr_inflate_result r = inflate_run(f, &feed, &b, max, err, errlen);
    if (r == WSR_INFLATE_OK && !b.p && !(b.p = malloc(1)))
        r = WSR_INFLATE_NOMEM;
    if (r != WSR_INFLATE_OK) {
        free(b.p);
        return r;
    }
    *out = b.p;
    *outlen = b.len;
    return WSR_INFLATE_OK;
}
