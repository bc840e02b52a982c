/*
 * codec.c — RFC 6455 frame encoder and incremental decoder.
 *
 * The decoder collects the header in dec->hdr in stages (2 bytes, then the
 * extended length, then the mask key) so that every rule that depends only
 * on the header is checked the moment its bytes are present. A peer that
 * announces an absurd length is therefore rejected before it can make us
 * allocate or wait for anything; one that announces an allowed length gets
 * a buffer only as its payload arrives (codec_dec_reserve).
 */
#include "codec.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* out->payload for empty frames: callers may memcmp/memcpy it with length 0
 * without passing NULL, which the C library does not allow. */
static const uint8_t codec_empty_payload[1];

const char *ws_strerror(int err)
{
    switch (err) {
    case WS_OK:
        return "success";
    case WS_ERR_UNMASKED:
        return "unmasked client frame";
    case WS_ERR_MASKED:
        return "masked server frame";
    case WS_ERR_RESERVED_OPCODE:
        return "reserved opcode";
    case WS_ERR_RSV:
        return "reserved bits set without an extension";
    case WS_ERR_CONTROL_TOO_LONG:
        return "control frame payload over 125 bytes";
    case WS_ERR_CONTROL_FRAGMENTED:
        return "fragmented control frame";
    case WS_ERR_NONMINIMAL_LENGTH:
        return "payload length not in minimal form";
    case WS_ERR_LENGTH_MSB:
        return "64-bit payload length with the top bit set";
    case WS_ERR_BAD_CONTINUATION:
        return "continuation frame without a message in progress";
    case WS_ERR_EXPECTED_CONTINUATION:
        return "new data frame inside a fragmented message";
    case WS_ERR_BAD_CLOSE_PAYLOAD:
        return "1-byte close payload";
    case WS_ERR_BAD_CLOSE_CODE:
        return "close code not allowed on the wire";
    case WS_ERR_INVALID_UTF8:
        return "invalid UTF-8";
    case WS_ERR_RSV1_PLACE:
        return "RSV1 on a control or continuation frame";
    case WS_ERR_DEFLATE:
        return "compressed message does not inflate";
    case WS_ERR_TOO_BIG:
        return "payload over the size limit";
    case WS_ERR_NOMEM:
        return "out of memory";
    case WS_ERR_LEN_FORM:
        return "payload does not fit the length form";
    case WS_ERR_BUFFER:
        return "output buffer too small";
    case WS_ERR_STATE:
        return "decoder used after an error";
    default:
        return "unknown error";
    }
}

bool ws_err_is_protocol(int err)
{
    return (err <= WS_ERR_UNMASKED && err >= WS_ERR_DEFLATE) ||
           err == WS_ERR_TOO_BIG;
}

/* ---- decoder ------------------------------------------------------------ */

static bool codec_is_control(uint8_t opcode)
{
    return (opcode & 0x8) != 0;
}

static bool codec_is_reserved_opcode(uint8_t opcode)
{
    return (opcode >= 0x3 && opcode <= 0x7) || opcode >= 0xB;
}

/* Forget the frame last delivered (or abandoned) and wait for a new header. */
static void codec_dec_reset_frame(ws_decoder *dec)
{
    free(dec->payload);
    dec->payload = NULL;
    dec->payload_have = 0;
    dec->payload_cap = 0;
    dec->hdr_have = 0;
    dec->hdr_need = 2;
    memset(&dec->h, 0, sizeof(dec->h));
    dec->frame_delivered = false;
    dec->state = WS_DEC_HEADER;
}

void ws_decoder_init(ws_decoder *dec, uint64_t max_payload, unsigned flags)
{
    memset(dec, 0, sizeof(*dec));
    dec->flags = flags;
    dec->max_payload = max_payload;
    codec_dec_reset_frame(dec);
}

/* Leaves the decoder as ws_decoder_init() did, so a stray feed after free
 * starts a new frame instead of writing into a freed payload. */
void ws_decoder_free(ws_decoder *dec)
{
    codec_dec_reset_frame(dec);
}

size_t ws_decoder_capacity(const ws_decoder *dec)
{
    return dec->payload_cap;
}

/* Makes room for `need` payload bytes in all, need <= h.payload_len (which
 * is <= max_payload and SIZE_MAX). Doubling keeps the copying linear in
 * the payload; the cap at h.payload_len means a complete frame never holds
 * more than its own length. Returns WS_OK or WS_ERR_NOMEM. */
static int codec_dec_reserve(ws_decoder *dec, size_t need)
{
    size_t len = (size_t)dec->h.payload_len;
    size_t cap = dec->payload_cap;

    if (need <= cap)
        return WS_OK;
    if (cap < WS_DEC_MIN_CAP)
        cap = WS_DEC_MIN_CAP;
    while (cap < need && cap <= SIZE_MAX / 2)
        cap *= 2;
    if (cap < need || cap > len)
        cap = len;
    uint8_t *p = realloc(dec->payload, cap);
    if (p == NULL)
        return WS_ERR_NOMEM;
    dec->payload = p;
    dec->payload_cap = cap;
    return WS_OK;
}

/* The errors are sticky: the stream position is lost after a bad header, so
 * nothing later in it can be trusted. The payload goes at once rather than
 * at ws_decoder_free() so a rejected peer does not keep memory pinned. */
static ssize_t codec_dec_fail(ws_decoder *dec, int err)
{
    free(dec->payload);
    dec->payload = NULL;
    dec->payload_cap = 0;
    dec->state = WS_DEC_ERROR;
    return err;
}

/* Checks that apply once the payload length is known. */
static int codec_dec_check_length(ws_decoder *dec)
{
    ws_frame_header *h = &dec->h;

    /* With ALLOW_NONMINIMAL a control frame may arrive in an extended form,
     * so its real length is only known here. */
    if (codec_is_control(h->opcode) && h->payload_len > 125)
        return WS_ERR_CONTROL_TOO_LONG;
    if (!(dec->flags & WS_DEC_ALLOW_NONMINIMAL)) {
        if ((h->len_form == 16 && h->payload_len < 126) ||
            (h->len_form == 64 && h->payload_len <= 0xFFFF))
            return WS_ERR_NONMINIMAL_LENGTH;
    }
    if (h->len_form == 64 && (h->payload_len >> 63) != 0)
        return WS_ERR_LENGTH_MSB;
    if (h->payload_len > dec->max_payload || h->payload_len > SIZE_MAX)
        return WS_ERR_TOO_BIG;
    return WS_OK;
}

/* The first two bytes: flags, opcode, mask bit and the 7-bit length. */
static int codec_dec_first_two(ws_decoder *dec)
{
    ws_frame_header *h = &dec->h;
    uint8_t b0 = dec->hdr[0], b1 = dec->hdr[1];
    uint8_t len7 = b1 & 0x7F;

    h->fin = (b0 & 0x80) != 0;
    h->rsv = (b0 >> 4) & 0x7;
    h->opcode = b0 & 0x0F;
    h->masked = (b1 & 0x80) != 0;

    if (h->rsv != 0 && !(dec->flags & WS_DEC_ALLOW_RSV))
        return WS_ERR_RSV;
    if (codec_is_reserved_opcode(h->opcode))
        return WS_ERR_RESERVED_OPCODE;
    if (codec_is_control(h->opcode)) {
        if (!h->fin)
            return WS_ERR_CONTROL_FRAGMENTED;
        /* An extended form already says "over 125" unless non-minimal
         * forms are allowed; reject it now rather than after 8 more bytes. */
        if (len7 > 125 && !(dec->flags & WS_DEC_ALLOW_NONMINIMAL))
            return WS_ERR_CONTROL_TOO_LONG;
    }
    if ((dec->flags & WS_DEC_REQUIRE_MASK) && !h->masked)
        return WS_ERR_UNMASKED;
    if ((dec->flags & WS_DEC_REQUIRE_UNMASKED) && h->masked)
        return WS_ERR_MASKED;

    if (len7 == 126) {
        dec->hdr_need = 2 + 2;
        return WS_OK;
    }
    if (len7 == 127) {
        dec->hdr_need = 2 + 8;
        return WS_OK;
    }
    h->payload_len = len7;
    h->len_form = 7;
    dec->hdr_need = 2 + (h->masked ? 4 : 0);
    return codec_dec_check_length(dec);
}

/* The extended length, big-endian, in hdr[2..hdr_have). */
static int codec_dec_ext_length(ws_decoder *dec)
{
    ws_frame_header *h = &dec->h;
    uint64_t v = 0;

    for (size_t i = 2; i < dec->hdr_have; i++)
        v = (v << 8) | dec->hdr[i];
    h->payload_len = v;
    h->len_form = dec->hdr_have == 4 ? 16 : 64;
    dec->hdr_need = dec->hdr_have + (h->masked ? 4 : 0);
    return codec_dec_check_length(dec);
}

/*
 * Runs the stage whose bytes have just all arrived. Returns 1 when the
 * header is complete, 0 when more header bytes are needed (hdr_need grew),
 * or a negative ws_err. h.len_form stays 0 until the length is known, which
 * tells the extended-length stage from the mask stage.
 */
static int codec_dec_header_stage(ws_decoder *dec)
{
    int rv;

    if (dec->h.len_form == 0) {
        rv = dec->hdr_have == 2 ? codec_dec_first_two(dec)
                                : codec_dec_ext_length(dec);
        if (rv < 0)
            return rv;
        if (dec->hdr_have < dec->hdr_need)
            return 0;
    }
    if (dec->h.masked)
        memcpy(dec->h.mask, dec->hdr + dec->hdr_have - 4, 4);
    return 1;
}

static void codec_dec_deliver(ws_decoder *dec, ws_frame *out, int *done)
{
    out->h = dec->h;
    out->payload = dec->payload ? dec->payload : codec_empty_payload;
    out->payload_len = (size_t)dec->h.payload_len;
    dec->frame_delivered = true;
    *done = 1;
}

ssize_t ws_decoder_feed(ws_decoder *dec, const uint8_t *in, size_t len,
                        ws_frame *out, int *done)
{
    size_t pos = 0;
    int rv;

    *done = 0;
    if (dec->state == WS_DEC_ERROR)
        return WS_ERR_STATE;
    if (dec->frame_delivered)
        codec_dec_reset_frame(dec);
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;

    while (dec->state == WS_DEC_HEADER) {
        if (dec->hdr_have == dec->hdr_need) {
            rv = codec_dec_header_stage(dec);
            if (rv < 0)
                return codec_dec_fail(dec, rv);
            if (rv == 0)
                continue;
            if (dec->h.payload_len == 0) {
                codec_dec_deliver(dec, out, done);
                return (ssize_t)pos;
            }
            /* Length already checked against max_payload and SIZE_MAX;
             * the buffer comes with the payload's bytes, not now. */
            dec->payload_have = 0;
            dec->state = WS_DEC_PAYLOAD;
            break;
        }
        if (pos == len)
            return (ssize_t)pos;
        size_t n = dec->hdr_need - dec->hdr_have;
        if (n > len - pos)
            n = len - pos;
        memcpy(dec->hdr + dec->hdr_have, in + pos, n);
        dec->hdr_have += n;
        pos += n;
    }

    uint64_t left = dec->h.payload_len - dec->payload_have;
    size_t n = len - pos;
    if ((uint64_t)n > left)
        n = (size_t)left;
    if (n > 0) {
        rv = codec_dec_reserve(dec, (size_t)dec->payload_have + n);
        if (rv < 0)
            return codec_dec_fail(dec, rv);
        uint8_t *dst = dec->payload + dec->payload_have;
        memcpy(dst, in + pos, n);
        if (dec->h.masked)
            ws_mask_bytes(dst, n, dec->h.mask, (size_t)dec->payload_have);
        dec->payload_have += n;
        pos += n;
    }
    if (dec->payload_have == dec->h.payload_len)
        codec_dec_deliver(dec, out, done);
    return (ssize_t)pos;
}

/* ---- message-level checks ----------------------------------------------- */

int ws_fragments_step(ws_fragments *st, const ws_frame_header *h)
{
    if (codec_is_control(h->opcode))
        return WS_OK;
    if (h->opcode == WS_OP_CONT) {
        if (!st->open)
            return WS_ERR_BAD_CONTINUATION;
        if (h->fin) {
            st->open = false;
            st->opcode = 0;
        }
        return WS_OK;
    }
    if (st->open)
        return WS_ERR_EXPECTED_CONTINUATION;
    if (!h->fin) {
        st->open = true;
        st->opcode = h->opcode;
    }
    return WS_OK;
}

/* RFC 6455 7.4.1/7.4.2 and the IANA registry: 1004 is reserved, 1005,
 * 1006 and 1015 must never be sent, 1016-2999 are unassigned. */
static bool codec_close_code_valid(unsigned code)
{
    if (code >= 1000 && code <= 1003)
        return true;
    if (code >= 1007 && code <= 1014)
        return true;
    return code >= 3000 && code <= 4999;
}

int ws_close_parse(const uint8_t *payload, size_t len, uint16_t *code,
                   const uint8_t **reason, size_t *reason_len)
{
    *code = 0;
    *reason = payload;
    *reason_len = 0;
    if (len == 0)
        return WS_OK;
    if (len == 1)
        return WS_ERR_BAD_CLOSE_PAYLOAD;
    /* The code is reported even when rejected, so the caller can log it. */
    *code = (uint16_t)((unsigned)payload[0] << 8 | payload[1]);
    if (!codec_close_code_valid(*code))
        return WS_ERR_BAD_CLOSE_CODE;
    if (!ws_utf8_valid(payload + 2, len - 2))
        return WS_ERR_INVALID_UTF8;
    *reason = payload + 2;
    *reason_len = len - 2;
    return WS_OK;
}

/* Unicode 15, table 3-7: the second byte's range depends on the lead byte,
 * which is what rules out overlongs (E0, F0), surrogates (ED) and code
 * points above U+10FFFF (F4) without decoding. */
bool ws_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = s[i];
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c < 0xC2) {
            return false; /* stray continuation byte or overlong C0/C1 */
        } else if (c < 0xE0) {
            need = 1;
        } else if (c < 0xF0) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c < 0xF5) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return false;
        }
        if (len - i - 1 < need)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        }
        i += need + 1;
    }
    return true;
}

/* ---- encoder ------------------------------------------------------------ */

/* The length form the frame will be written in (7, 16 or 64), or
 * WS_ERR_LEN_FORM. */
static int codec_enc_len_form(const ws_frame_spec *spec)
{
    size_t n = spec->payload_len;

    switch (spec->len_form) {
    case 0:
        if (n <= 125)
            return 7;
        return n <= 0xFFFF ? 16 : 64;
    case 7:
        return n <= 125 ? 7 : WS_ERR_LEN_FORM;
    case 16:
        return n <= 0xFFFF ? 16 : WS_ERR_LEN_FORM;
    case 64:
        /* Only reachable with a 64-bit size_t; the wire forbids bit 63. */
        return (uint64_t)n >> 63 ? WS_ERR_LEN_FORM : 64;
    default:
        return WS_ERR_LEN_FORM;
    }
}

static size_t codec_enc_header_size(const ws_frame_spec *spec, int form)
{
    size_t sz = 2 + (spec->mask ? 4 : 0);

    if (form == 16)
        sz += 2;
    else if (form == 64)
        sz += 8;
    return sz;
}

ssize_t ws_encoded_size(const ws_frame_spec *spec)
{
    int form = codec_enc_len_form(spec);

    if (form < 0)
        return form;
    size_t hsz = codec_enc_header_size(spec, form);
    if (spec->payload_len > (size_t)SSIZE_MAX - hsz)
        return WS_ERR_LEN_FORM;
    return (ssize_t)(hsz + spec->payload_len);
}

ssize_t ws_encode_frame(const ws_frame_spec *spec, uint8_t *out, size_t cap)
{
    ssize_t total = ws_encoded_size(spec);

    if (total < 0)
        return total;
    if ((size_t)total > cap)
        return WS_ERR_BUFFER;

    int form = codec_enc_len_form(spec);
    uint64_t n = spec->payload_len;
    size_t p = 0;

    /* Bits beyond each field's width are dropped rather than rejected: the
     * spec is trusted scenario data and the field widths are fixed. */
    out[p++] = (uint8_t)((spec->fin ? 0x80 : 0) | (spec->rsv & 0x7) << 4 |
                         (spec->opcode & 0x0F));
    uint8_t mbit = spec->mask ? 0x80 : 0;
    if (form == 7) {
        out[p++] = (uint8_t)(mbit | n);
    } else if (form == 16) {
        out[p++] = mbit | 126;
        out[p++] = (uint8_t)(n >> 8);
        out[p++] = (uint8_t)n;
    } else {
        out[p++] = mbit | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            out[p++] = (uint8_t)(n >> shift);
    }
    if (spec->mask) {
        memcpy(out + p, spec->mask_key, 4);
        p += 4;
    }
    if (spec->payload_len > 0) {
        memcpy(out + p, spec->payload, spec->payload_len);
        if (spec->mask)
            ws_mask_bytes(out + p, spec->payload_len, spec->mask_key, 0);
        p += spec->payload_len;
    }
    return (ssize_t)p;
}

size_t ws_close_payload(uint16_t code, const uint8_t *reason, size_t reason_len,
                        uint8_t *out)
{
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (reason_len > 0)
        memcpy(out + 2, reason, reason_len);
    return 2 + reason_len;
}

void ws_mask_bytes(uint8_t *p, size_t n, const uint8_t key[4], size_t offset)
{
    for (size_t i = 0; i < n; i++)
        p[i] ^= key[(offset + i) & 3];
}
