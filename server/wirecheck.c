/*
 * wirecheck.c — the first RFC 6455 violation in the server's frame stream.
 *
 * The codec's decoder already knows every header rule; this adds what only
 * a whole message shows (fragment order, close payloads, UTF-8 of a text
 * message across its fragments).
 */
#include "wirecheck.h"

#include <stdlib.h>
#include <string.h>

#include "deflate.h"

/* A frame larger than this is not buffered: the checker stops judging. */
#define WIRECHECK_MAX_FRAME (16u << 20)

void wsr_wirecheck_init(wsr_wirecheck *wc)
{
    memset(wc, 0, sizeof *wc);
    wc->err_opcode = -1;
    ws_decoder_init(&wc->dec, WIRECHECK_MAX_FRAME, WS_DEC_REQUIRE_UNMASKED);
}

void wsr_wirecheck_free(wsr_wirecheck *wc)
{
    ws_decoder_free(&wc->dec);
    free(wc->text);
    wc->text = NULL;
    free(wc->z);
    wc->z = NULL;
    wsr_inflater_del(wc->inflater);
    wc->inflater = NULL;
}

void wsr_wirecheck_deflate(wsr_wirecheck *wc, int window_bits,
                           bool no_context_takeover)
{
    wc->inflater = wsr_inflater_new(window_bits, no_context_takeover);
    if (!wc->inflater)
        wc->stopped = true;
    wc->dec.flags |= WS_DEC_ALLOW_RSV;
}

static int wirecheck_stop(wsr_wirecheck *wc, int err)
{
    wc->stopped = true;
    if (err == WS_ERR_TOO_BIG || err == WS_ERR_NOMEM)
        return WS_OK; /* not the server's fault: we just cannot judge */
    wc->err = err;
    wc->err_offset = wc->frame_start;
    return err;
}

/* Appends a text fragment; the whole message is validated at its end. */
static int wirecheck_text(wsr_wirecheck *wc, const ws_frame *f)
{
    if (!wc->text_unjudged) {
        if (wc->text_len + f->payload_len > WSR_WIRECHECK_MAX_TEXT) {
            wc->text_unjudged = true;
        } else if (f->payload_len) {
            uint8_t *grown = realloc(wc->text, wc->text_len + f->payload_len);
            if (!grown)
                return wirecheck_stop(wc, WS_ERR_NOMEM);
            wc->text = grown;
            memcpy(wc->text + wc->text_len, f->payload, f->payload_len);
            wc->text_len += f->payload_len;
        }
    }
    if (!f->h.fin)
        return WS_OK;
    bool valid = wc->text_unjudged || ws_utf8_valid(wc->text, wc->text_len);
    /* Judged: a session that goes on waiting keeps no copy of it. */
    free(wc->text);
    wc->text = NULL;
    wc->text_open = false;
    wc->text_unjudged = false;
    wc->text_len = 0;
    return valid ? WS_OK : wirecheck_stop(wc, WS_ERR_INVALID_UTF8);
}

/* RSV with permessage-deflate in effect (RFC 7692 6.1): RSV1 only on the
 * first frame of a data message, RSV2 and RSV3 never. */
int wsr_rsv_check(const ws_frame_header *h, bool deflate)
{
    if (h->rsv && !deflate)
        return WS_ERR_RSV;
    if (h->rsv & (WS_RSV2 | WS_RSV3))
        return WS_ERR_RSV;
    if ((h->rsv & WS_RSV1) && h->opcode != WS_OP_TEXT &&
        h->opcode != WS_OP_BINARY)
        return WS_ERR_RSV1_PLACE;
    return WS_OK;
}

/* A compressed message's payload, inflated at its end as the client must
 * (same window, same takeover); text is then judged as UTF-8. A message
 * too large to buffer or inflate stops the checker without a violation;
 * text past WSR_WIRECHECK_MAX_TEXT is not judged. */
static int wirecheck_compressed(wsr_wirecheck *wc, const ws_frame *f)
{
    if (wc->z_len + f->payload_len > WIRECHECK_MAX_FRAME)
        return wirecheck_stop(wc, WS_ERR_TOO_BIG);
    if (f->payload_len) {
        uint8_t *grown = realloc(wc->z, wc->z_len + f->payload_len);
        if (!grown)
            return wirecheck_stop(wc, WS_ERR_NOMEM);
        wc->z = grown;
        memcpy(wc->z + wc->z_len, f->payload, f->payload_len);
        wc->z_len += f->payload_len;
    }
    if (!f->h.fin)
        return WS_OK;
    uint8_t *out = NULL;
    size_t out_len = 0;
    char err[128];
    enum wsr_inflate_result r =
        wsr_inflate_message(wc->inflater, wc->z, wc->z_len, WIRECHECK_MAX_FRAME,
                            &out, &out_len, err, sizeof err);
    free(wc->z);
    wc->z = NULL;
    wc->z_len = 0;
    wc->z_open = false;
    if (r == WSR_INFLATE_BAD)
        return wirecheck_stop(wc, WS_ERR_DEFLATE);
    if (r != WSR_INFLATE_OK)
        return wirecheck_stop(wc, WS_ERR_TOO_BIG);
    bool valid = wc->z_opcode != WS_OP_TEXT ||
                 out_len > WSR_WIRECHECK_MAX_TEXT ||
                 ws_utf8_valid(out, out_len);
    free(out);
    return valid ? WS_OK : wirecheck_stop(wc, WS_ERR_INVALID_UTF8);
}

static int wirecheck_frame(wsr_wirecheck *wc, const ws_frame *f)
{
    wc->err_opcode = f->h.opcode;
    int rc = wsr_rsv_check(&f->h, wc->inflater != NULL);
    if (rc == WS_OK)
        rc = ws_fragments_step(&wc->frag, &f->h);
    if (rc != WS_OK)
        return wirecheck_stop(wc, rc);
    if (f->h.rsv & WS_RSV1) {
        wc->z_open = true;
        wc->z_opcode = f->h.opcode;
    }
    if (wc->z_open && f->h.opcode <= WS_OP_BINARY)
        return wirecheck_compressed(wc, f);
    switch (f->h.opcode) {
    case WS_OP_CLOSE: {
        uint16_t code;
        const uint8_t *reason;
        size_t reason_len;
        rc = ws_close_parse(f->payload, f->payload_len, &code, &reason,
                            &reason_len);
        return rc == WS_OK ? WS_OK : wirecheck_stop(wc, rc);
    }
    case WS_OP_TEXT:
        wc->text_open = true;
        return wirecheck_text(wc, f);
    case WS_OP_CONT:
        return wc->text_open ? wirecheck_text(wc, f) : WS_OK;
    default:
        return WS_OK;
    }
}

/* An empty feed drops the copy of the frame last decoded (up to
 * WIRECHECK_MAX_FRAME) now, rather than at the session's next write. */
static void release_frame(wsr_wirecheck *wc)
{
    static const uint8_t none[1];
    ws_frame f;
    int done = 0;
    ws_decoder_feed(&wc->dec, none, 0, &f, &done);
}

int wsr_wirecheck_feed(wsr_wirecheck *wc, const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (off < len && !wc->stopped) {
        ws_frame f;
        int done = 0;
        ssize_t n = ws_decoder_feed(&wc->dec, p + off, len - off, &f, &done);
        if (n < 0)
            return wirecheck_stop(wc, (int)n);
        off += (size_t)n;
        wc->offset += (uint64_t)n;
        if (!done)
            continue;
        int rc = wirecheck_frame(wc, &f);
        if (rc != WS_OK) {
            release_frame(wc);
            return rc;
        }
        wc->frame_start = wc->offset;
        wc->err_opcode = -1;
    }
    if (off < len)
        wc->offset += len - off;
    release_frame(wc);
    return WS_OK;
}

const char *wsr_wirecheck_name(int err)
{
    switch (err) {
    case WS_ERR_MASKED:
        return "masked";
    case WS_ERR_UNMASKED:
        return "unmasked";
    case WS_ERR_RESERVED_OPCODE:
        return "reserved_opcode";
    case WS_ERR_RSV:
    case WS_ERR_RSV1_PLACE:
        return "rsv";
    case WS_ERR_DEFLATE:
        return "deflate";
    case WS_ERR_CONTROL_TOO_LONG:
        return "control_too_long";
    case WS_ERR_CONTROL_FRAGMENTED:
        return "control_fragmented";
    case WS_ERR_NONMINIMAL_LENGTH:
        return "nonminimal_length";
    case WS_ERR_LENGTH_MSB:
        return "length_msb";
    case WS_ERR_BAD_CONTINUATION:
        return "bad_continuation";
    case WS_ERR_EXPECTED_CONTINUATION:
        return "expected_continuation";
    case WS_ERR_BAD_CLOSE_PAYLOAD:
        return "bad_close_payload";
    case WS_ERR_BAD_CLOSE_CODE:
        return "bad_close_code";
    case WS_ERR_INVALID_UTF8:
        return "invalid_utf8";
    case WS_ERR_TOO_BIG:
        return "too_big";
    default:
        return "other";
    }
}
