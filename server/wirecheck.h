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
} wsr_wirecheck;

void wsr_wirecheck_init(wsr_wirecheck *wc);
void wsr_wirecheck_free(wsr_wirecheck *wc);

/* Feeds bytes as they leave. Returns WS_OK, or the violation (a negative
 * ws_err) the first time one is found; later calls return WS_OK and do
 * nothing. A frame too large to buffer stops the checker without a
 * violation. */
int wsr_wirecheck_feed(wsr_wirecheck *wc, const uint8_t *p, size_t len);

/* A short stable name for a violation ("reserved_opcode", "invalid_utf8",
 * ...), for transcripts and the harness's rules. */
const char *wsr_wirecheck_name(int err);

#endif
