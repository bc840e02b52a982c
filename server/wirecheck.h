/*
 * wirecheck.h — judges the server's own output against RFC 6455.
 *
 * Scenarios break the protocol on purpose (a reserved opcode, a masked
 * frame, invalid UTF-8). The harness needs to know where the server's byte
 * stream first stopped being valid RFC 6455, because from that point on
 * the client is required to fail the connection (7.1.7) and should say why
 * with its close code (1002, or 1007 for bad UTF-8). The checker is fed the
 * frame bytes exactly as they leave (after the opening handshake) and
 * remembers the first violation and its offset. Pure: no I/O, no libevent.
 */
#ifndef WSR_WIRECHECK_H
#define WSR_WIRECHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

/* Text messages are validated as UTF-8 up to this size; larger ones are
 * not judged (the catalogue's large messages are patterns of valid text). */
#define WSR_WIRECHECK_MAX_TEXT (1u << 20)

struct wsr_inflater;

typedef struct wsr_wirecheck {
    ws_decoder dec;
    ws_fragments frag;
    uint64_t offset;      /* bytes fed so far */
    uint64_t frame_start; /* offset of the frame being decoded */
    uint8_t *text;        /* the text message being assembled (owned) */
    size_t text_len;
    bool text_open;      /* a text message is in progress */
    bool text_unjudged;  /* it grew past WSR_WIRECHECK_MAX_TEXT */
    bool stopped;        /* a violation was found, or the checker gave up */
    int err;             /* the violation (a ws_err), or WS_OK */
    uint64_t err_offset; /* offset of the frame that broke the rules */
    int err_opcode;      /* its opcode, or -1 when its header was bad */
    /* permessage-deflate in effect: the client's view of the server's
     * stream, and the compressed message being assembled (owned) */
    struct wsr_inflater *inflater;
    uint8_t *z;
    size_t z_len;
    bool z_open; /* a compressed message is in progress */
    uint8_t z_opcode;
} wsr_wirecheck;

void wsr_wirecheck_init(wsr_wirecheck *wc);
void wsr_wirecheck_free(wsr_wirecheck *wc);

/* permessage-deflate is in effect from now on, with the server's window
 * bits and takeover: RSV1 is allowed on the first frame of a data message
 * (RFC 7692 6.1), whose message must then inflate (7.2.2), to valid UTF-8
 * for text. Out of memory: the checker stops judging. */
void wsr_wirecheck_deflate(wsr_wirecheck *wc, int window_bits,
                           bool no_context_takeover);

/* The RSV bits of one frame header: none without permessage-deflate
 * (WS_ERR_RSV); with it RSV1 only on a text or binary frame (the first of a
 * message: continuations are opcode 0), WS_ERR_RSV1_PLACE otherwise, and
 * RSV2/RSV3 never. WS_OK when they are allowed. */
int wsr_rsv_check(const ws_frame_header *h, bool deflate);

/* Feeds bytes as they leave. Returns WS_OK, or the violation (a negative
 * ws_err) the first time one is found; later calls return WS_OK and do
 * nothing. A frame too large to buffer stops the checker without a
 * violation. */
int wsr_wirecheck_feed(wsr_wirecheck *wc, const uint8_t *p, size_t len);

/* A short stable name for a violation ("reserved_opcode", "invalid_utf8",
 * ...), for transcripts and the harness's rules. */
const char *wsr_wirecheck_name(int err);

#endif
