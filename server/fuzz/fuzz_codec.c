/*
 * fuzz_codec.c — the frame decoder on arbitrary bytes, with a round trip.
 *
 * The first byte picks the decoder's flags and the size of the pieces the
 * rest is fed in (so frames split at any byte are exercised). Every frame
 * decoded is encoded again with the header it was read with; the encoder
 * must give back exactly the bytes the decoder consumed for it, and those
 * bytes must decode to the same frame. Any difference aborts.
 */
#include "codec.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PAYLOAD (1u << 20)

static void check_frame(const ws_frame *f, const uint8_t *wire, size_t n,
                        unsigned flags)
{
    if (f->payload_len != f->h.payload_len)
        abort();
    ws_frame_spec spec = {
        .fin = f->h.fin,
        .rsv = f->h.rsv,
        .opcode = f->h.opcode,
        .mask = f->h.masked,
        .len_form = f->h.len_form,
        .payload = f->payload,
        .payload_len = f->payload_len,
    };
    memcpy(spec.mask_key, f->h.mask, 4);
    ssize_t need = ws_encoded_size(&spec);
    if (need < 0 || (size_t)need != n)
        abort();
    uint8_t *buf = malloc((size_t)need);
    if (!buf)
        abort();
    if (ws_encode_frame(&spec, buf, (size_t)need) != need ||
        memcmp(buf, wire, n) != 0)
        abort();
    if (n > 0 && ws_encode_frame(&spec, buf, n - 1) != WS_ERR_BUFFER)
        abort();

    /* the re-encoded bytes decode to the same frame, in one feed */
    ws_decoder d;
    ws_decoder_init(&d, MAX_PAYLOAD, flags);
    ws_frame g;
    int done = 0;
    ssize_t used = ws_decoder_feed(&d, buf, n, &g, &done);
    if (used != (ssize_t)n || !done || g.h.fin != f->h.fin ||
        g.h.rsv != f->h.rsv || g.h.opcode != f->h.opcode ||
        g.h.masked != f->h.masked || g.h.len_form != f->h.len_form ||
        g.payload_len != f->payload_len ||
        (n > 0 && g.payload_len > 0 &&
         memcmp(g.payload, f->payload, g.payload_len) != 0))
        abort();
    ws_decoder_free(&d);
    free(buf);

    /* what the engine does next with a frame */
    if (f->h.opcode == WS_OP_CLOSE) {
        uint16_t code;
        const uint8_t *reason;
        size_t rlen;
        if (ws_close_parse(f->payload, f->payload_len, &code, &reason, &rlen) ==
                WS_OK &&
            f->payload_len >= 2) {
            uint8_t back[125];
            if (f->payload_len > sizeof back ||
                ws_close_payload(code, reason, rlen, back) != f->payload_len ||
                memcmp(back, f->payload, f->payload_len) != 0)
                abort();
        }
    } else if (f->h.opcode == WS_OP_TEXT) {
        (void)ws_utf8_valid(f->payload, f->payload_len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const unsigned flag_sets[] = {
        WS_DEC_REQUIRE_MASK,
        WS_DEC_REQUIRE_UNMASKED,
        WS_DEC_REQUIRE_MASK | WS_DEC_ALLOW_RSV,
        WS_DEC_ALLOW_RSV | WS_DEC_ALLOW_NONMINIMAL,
    };
    unsigned flags = flag_sets[data[0] & 3];
    size_t piece = (size_t)(data[0] >> 2) + 1; /* 1..64 */
    data++;
    size--;

    ws_decoder dec;
    ws_decoder_init(&dec, MAX_PAYLOAD, flags);
    ws_fragments frag = {0};
    size_t pos = 0, frame_start = 0;
    while (pos < size) {
        size_t len = size - pos < piece ? size - pos : piece;
        ws_frame f;
        int done = 0;
        ssize_t used = ws_decoder_feed(&dec, data + pos, len, &f, &done);
        if (used < 0) {
            if (!ws_strerror((int)used) ||
                ws_decoder_feed(&dec, data, 0, &f, &done) != WS_ERR_STATE)
                abort();
            break;
        }
        if ((size_t)used > len || (!done && (size_t)used != len))
            abort();
        pos += (size_t)used;
        if (done) {
            check_frame(&f, data + frame_start, pos - frame_start, flags);
            (void)ws_fragments_step(&frag, &f.h);
            frame_start = pos;
        }
    }
    ws_decoder_free(&dec);
    return 0;
}
