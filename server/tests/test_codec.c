/*
 * test_codec.c — unit tests for codec.[ch].
 *
 * Every input that decodes is decoded whole, one byte at a time and split
 * in two at every offset, and all three must give the same frames (the
 * wslay habit): the server reads whatever TCP hands it, so a frame's
 * meaning must not depend on where a read ends. Every input that must fail
 * fails with one exact error, after exactly the byte that proves it wrong.
 */
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* A string literal as (bytes, length), so rows may hold NUL bytes. */
#define B(s) (const uint8_t *)(s), sizeof(s) - 1

#define MIB (1024u * 1024u)

/* ---- a decoding driver --------------------------------------------------- */

#define MAX_FRAMES 8

/* Everything a run of the decoder produced, copied out of the decoder. */
typedef struct run_result {
    size_t nframes;
    ws_frame_header h[MAX_FRAMES];
    uint8_t *payload[MAX_FRAMES];
    size_t plen[MAX_FRAMES];
    int err;          /* first decoder or stream-level error, 0 if none */
    int contract_ok;  /* feed kept its return-value contract throughout */
    int state_err_ok; /* after a decoder error, feed gave WS_ERR_STATE */
} run_result;

static void run_result_free(run_result *r)
{
    for (size_t i = 0; i < r->nframes; i++)
        free(r->payload[i]);
    memset(r, 0, sizeof(*r));
}

/* What a server does with each frame beyond framing: the fragmentation
 * rules and the close payload. */
static int stream_check(ws_fragments *frag, const ws_frame *f)
{
    int rv = ws_fragments_step(frag, &f->h);

    if (rv == WS_OK && f->h.opcode == WS_OP_CLOSE) {
        uint16_t code;
        const uint8_t *reason;
        size_t reason_len;
        rv = ws_close_parse(f->payload, f->payload_len, &code, &reason,
                            &reason_len);
    }
    return rv;
}

/*
 * Decodes in[0..len) fed in chunks: one byte each if bytewise, otherwise
 * [0, split) then [split, len) (split == len means whole). Within a chunk
 * the driver re-feeds the remainder after each frame, as a caller must.
 */
static void run_decode(const uint8_t *in, size_t len, unsigned flags,
                       uint64_t max, int bytewise, size_t split, run_result *r)
{
    ws_decoder dec;
    ws_fragments frag = {0};
    size_t pos = 0;

    memset(r, 0, sizeof(*r));
    r->contract_ok = 1;
    r->state_err_ok = 1;
    ws_decoder_init(&dec, max, flags);
    while (pos < len) {
        size_t end = bytewise ? pos + 1 : (pos < split ? split : len);
        while (pos < end) {
            ws_frame f;
            int done = -1;
            ssize_t n = ws_decoder_feed(&dec, in + pos, end - pos, &f, &done);
            if (n < 0) {
                ws_frame f2;
                int done2;
                r->err = (int)n;
                if (ws_decoder_feed(&dec, in, len, &f2, &done2) != WS_ERR_STATE)
                    r->state_err_ok = 0;
                goto out;
            }
            if ((size_t)n > end - pos || (done != 0 && done != 1) ||
                (!done && (size_t)n != end - pos))
                r->contract_ok = 0;
            pos += (size_t)n;
            if (!done)
                continue;
            if (r->nframes == MAX_FRAMES) {
                r->contract_ok = 0;
                goto out;
            }
            size_t i = r->nframes++;
            r->h[i] = f.h;
            r->plen[i] = f.payload_len;
            r->payload[i] = xmalloc(f.payload_len);
            if (f.payload_len != 0)
                memcpy(r->payload[i], f.payload, f.payload_len);
            if (f.payload == NULL || f.h.payload_len != f.payload_len)
                r->contract_ok = 0;
            int rv = stream_check(&frag, &f);
            if (rv != WS_OK) {
                r->err = rv;
                goto out;
            }
        }
    }
    /* A trailing partial frame is not an error: more bytes may come. */
out:
    ws_decoder_free(&dec);
}

static int header_equal(const ws_frame_header *a, const ws_frame_header *b)
{
    return a->fin == b->fin && a->rsv == b->rsv && a->opcode == b->opcode &&
           a->masked == b->masked && a->payload_len == b->payload_len &&
           a->len_form == b->len_form &&
           (!a->masked || memcmp(a->mask, b->mask, 4) == 0);
}

static int results_equal(const run_result *a, const run_result *b)
{
    if (a->nframes != b->nframes || a->err != b->err)
        return 0;
    for (size_t i = 0; i < a->nframes; i++) {
        if (!header_equal(&a->h[i], &b->h[i]) || a->plen[i] != b->plen[i] ||
            memcmp(a->payload[i], b->payload[i], a->plen[i]) != 0)
            return 0;
    }
    return 1;
}

/*
 * Decodes whole, bytewise and split at every offset (or, for long inputs,
 * at every offset within the first and last 40 bytes and every 997th
 * between: the header and the frame boundaries are where the cases are,
 * and all offsets of a 64 KiB frame cost minutes under valgrind). Checks
 * all agree and returns the whole-input result in *whole.
 */
static void check_all_splits(const uint8_t *in, size_t len, unsigned flags,
                             uint64_t max, run_result *whole)
{
    run_result r;
    int splits_ok = 1, contract_ok = 1;

    run_decode(in, len, flags, max, 0, len, whole);
    CHECK(whole->contract_ok);
    CHECK(whole->state_err_ok);

    run_decode(in, len, flags, max, 1, 0, &r);
    CHECK(results_equal(whole, &r));
    CHECK(r.contract_ok);
    run_result_free(&r);

    for (size_t k = 0; k <= len; k++) {
        if (len > 200 && k > 40 && k + 40 < len && k % 997 != 0)
            continue;
        run_decode(in, len, flags, max, 0, k, &r);
        if (!results_equal(whole, &r)) {
            splits_ok = 0;
            fprintf(stderr, "[%s] split at %zu differs\n", current, k);
        }
        contract_ok &= r.contract_ok & r.state_err_ok;
        run_result_free(&r);
    }
    CHECK(splits_ok);
    CHECK(contract_ok);
}

/* ---- valid frame streams ------------------------------------------------- */

typedef struct exp_frame {
    uint8_t opcode;
    bool fin;
    const char *payload;
    size_t len;
} exp_frame;

#define F(op, fin, s)                                                          \
    {                                                                          \
        op, fin, s, sizeof(s) - 1                                              \
    }

typedef struct valid_row {
    const char *comment;
    const uint8_t *in;
    size_t len;
    unsigned flags;
    size_t nframes;
    exp_frame f[4];
} valid_row;

#define MASK WS_DEC_REQUIRE_MASK
#define UNMASK WS_DEC_REQUIRE_UNMASKED

/* clang-format off */
static const valid_row valid_rows[] = {
    /* RFC 6455 5.7: a single-frame unmasked text message */
    {"rfc unmasked Hello", B("\x81\x05" "Hello"), UNMASK, 1,
     {F(WS_OP_TEXT, true, "Hello")}},
    /* RFC 6455 5.7: a single-frame masked text message */
    {"rfc masked Hello", B("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
     MASK, 1, {F(WS_OP_TEXT, true, "Hello")}},
    /* RFC 6455 5.7: a fragmented unmasked text message */
    {"rfc fragmented", B("\x01\x03" "Hel" "\x80\x02" "lo"), UNMASK, 2,
     {F(WS_OP_TEXT, false, "Hel"), F(WS_OP_CONT, true, "lo")}},
    /* RFC 6455 5.7: unmasked ping, then masked pong (no mask rule) */
    {"rfc ping and pong",
     B("\x89\x05" "Hello" "\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), 0, 2,
     {F(WS_OP_PING, true, "Hello"), F(WS_OP_PONG, true, "Hello")}},
    /* empty frames: the frame ends with its header */
    {"empty text, empty binary", B("\x81\x00\x82\x00"), UNMASK, 2,
     {F(WS_OP_TEXT, true, ""), F(WS_OP_BINARY, true, "")}},
    /* empty masked frame: header ends after the mask key */
    {"empty masked", B("\x82\x80\x01\x02\x03\x04"), MASK, 1,
     {F(WS_OP_BINARY, true, "")}},
    /* a ping between the fragments of a message is allowed (5.4) */
    {"ping inside a fragmented message",
     B("\x01\x01" "a" "\x89\x00" "\x00\x01" "b" "\x80\x01" "c"), UNMASK, 4,
     {F(WS_OP_TEXT, false, "a"), F(WS_OP_PING, true, ""),
      F(WS_OP_CONT, false, "b"), F(WS_OP_CONT, true, "c")}},
    /* binary payload with every kind of byte, including NUL */
    {"binary with NUL", B("\x82\x04\x00\xff\x80\x7f"), UNMASK, 1,
     {F(WS_OP_BINARY, true, "\x00\xff\x80\x7f")}},
    /* close with code only, then close with code and reason */
    {"close 1000", B("\x88\x02\x03\xe8"), UNMASK, 1,
     {F(WS_OP_CLOSE, true, "\x03\xe8")}},
    {"close 1000 bye", B("\x88\x05\x03\xe8" "bye"), UNMASK, 1,
     {F(WS_OP_CLOSE, true, "\x03\xe8" "bye")}},
    /* close without a payload (code 0 means none) */
    {"close empty", B("\x88\x00"), UNMASK, 1, {F(WS_OP_CLOSE, true, "")}},
    /* close codes at the edges of the allowed ranges, UTF-8 reason */
    {"close 1014, 3000, 4999",
     B("\x88\x02\x03\xf6" "\x88\x02\x0b\xb8" "\x88\x04\x13\x87\xc3\xa9"),
     UNMASK, 3,
     {F(WS_OP_CLOSE, true, "\x03\xf6"), F(WS_OP_CLOSE, true, "\x0b\xb8"),
      F(WS_OP_CLOSE, true, "\x13\x87\xc3\xa9")}},
    /* RSV bits pass with ALLOW_RSV and are reported */
    {"rsv allowed", B("\xf1\x01" "x"), UNMASK | WS_DEC_ALLOW_RSV, 1,
     {F(WS_OP_TEXT, true, "x")}},
    /* non-minimal 16-bit length passes with ALLOW_NONMINIMAL */
    {"nonminimal 16 allowed", B("\x82\x7e\x00\x02" "ab"),
     UNMASK | WS_DEC_ALLOW_NONMINIMAL, 1, {F(WS_OP_BINARY, true, "ab")}},
    /* non-minimal 64-bit length passes with ALLOW_NONMINIMAL */
    {"nonminimal 64 allowed",
     B("\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x02" "ab"),
     UNMASK | WS_DEC_ALLOW_NONMINIMAL, 1, {F(WS_OP_BINARY, true, "ab")}},
    /* a ping in a 16-bit form is legal once non-minimal forms are */
    {"nonminimal control allowed", B("\x89\x7e\x00\x01" "p"),
     UNMASK | WS_DEC_ALLOW_NONMINIMAL, 1, {F(WS_OP_PING, true, "p")}},
    /* a masked frame with a 16-bit length */
    {"masked 16-bit", NULL, 0, MASK, 1, {{WS_OP_BINARY, true, NULL, 300}}},
};
/* clang-format on */

static void test_valid_rows(void)
{
    for (size_t i = 0; i < sizeof(valid_rows) / sizeof(valid_rows[0]); i++) {
        const valid_row *row = &valid_rows[i];
        uint8_t *gen = NULL;
        const uint8_t *in = row->in;
        size_t len = row->len;
        uint8_t *gen_payload = NULL;
        run_result whole;

        current = row->comment;
        if (in == NULL) {
            /* generated row: 300 bytes 0..255.. masked with a fixed key */
            gen_payload = xmalloc(row->f[0].len);
            for (size_t k = 0; k < row->f[0].len; k++)
                gen_payload[k] = (uint8_t)k;
            gen = xmalloc(row->f[0].len + 8);
            memcpy(gen, "\x82\xfe\x01\x2c\xa1\xb2\xc3\xd4", 8);
            memcpy(gen + 8, gen_payload, row->f[0].len);
            ws_mask_bytes(gen + 8, row->f[0].len,
                          (const uint8_t *)"\xa1\xb2\xc3\xd4", 0);
            in = gen;
            len = row->f[0].len + 8;
        }
        check_all_splits(in, len, row->flags, 16 * MIB, &whole);
        CHECK_EQ(whole.err, WS_OK);
        CHECK_EQ(whole.nframes, row->nframes);
        for (size_t k = 0; k < row->nframes && k < whole.nframes; k++) {
            const exp_frame *e = &row->f[k];
            const uint8_t *want =
                e->payload ? (const uint8_t *)e->payload : gen_payload;
            CHECK_EQ(whole.h[k].opcode, e->opcode);
            CHECK_EQ(whole.h[k].fin, e->fin);
            CHECK_EQ(whole.plen[k], e->len);
            CHECK(whole.plen[k] == e->len &&
                  memcmp(whole.payload[k], want, e->len) == 0);
        }
        run_result_free(&whole);
        free(gen);
        free(gen_payload);
    }
}

/* Header fields beyond opcode/fin/payload, checked once. */
static void test_header_fields(void)
{
    run_result r;

    current = "header fields";
    run_decode(B("\xf1\x01"
                 "x"),
               WS_DEC_ALLOW_RSV, 100, 0, 2, &r);
    CHECK_EQ(r.nframes, 1);
    CHECK_EQ(r.h[0].rsv, WS_RSV1 | WS_RSV2 | WS_RSV3);
    CHECK_EQ(r.h[0].len_form, 7);
    CHECK(!r.h[0].masked);
    run_result_free(&r);

    run_decode(B("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), 0, 100, 0, 11,
               &r);
    CHECK_EQ(r.nframes, 1);
    CHECK(r.h[0].masked);
    CHECK(memcmp(r.h[0].mask, "\x37\xfa\x21\x3d", 4) == 0);
    run_result_free(&r);

    run_decode(B("\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x02"
                 "ab"),
               WS_DEC_ALLOW_NONMINIMAL, 100, 0, 12, &r);
    CHECK_EQ(r.nframes, 1);
    CHECK_EQ(r.h[0].len_form, 64);
    run_result_free(&r);
}

/* ---- malformed input ----------------------------------------------------- */

typedef struct error_row {
    const char *comment;
    const uint8_t *in;
    size_t len;
    unsigned flags;
    uint64_t max;
    int err;
    size_t at; /* the error shows once exactly this many bytes are in */
} error_row;

/* clang-format off */
static const error_row error_rows[] = {
    /* a client frame must be masked (5.1); known at byte 2 */
    {"unmasked client frame", B("\x81\x05" "Hello"), MASK, 100,
     WS_ERR_UNMASKED, 2},
    /* a server frame must not be masked (5.1) */
    {"masked server frame", B("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
     UNMASK, 100, WS_ERR_MASKED, 2},
    /* opcodes 3-7 are reserved for data frames */
    {"reserved opcode 3", B("\x83\x00"), 0, 100, WS_ERR_RESERVED_OPCODE, 2},
    {"reserved opcode 7", B("\x87\x00"), 0, 100, WS_ERR_RESERVED_OPCODE, 2},
    /* opcodes B-F are reserved for control frames */
    {"reserved opcode B", B("\x8b\x00"), 0, 100, WS_ERR_RESERVED_OPCODE, 2},
    {"reserved opcode F", B("\x8f\x00"), 0, 100, WS_ERR_RESERVED_OPCODE, 2},
    /* RSV bits without an extension, each bit; known at byte 1 */
    {"rsv1", B("\xc1\x00"), 0, 100, WS_ERR_RSV, 2},
    {"rsv2", B("\xa1\x00"), 0, 100, WS_ERR_RSV, 2},
    {"rsv3", B("\x91\x00"), 0, 100, WS_ERR_RSV, 2},
    /* RSV is checked before the opcode (header order) */
    {"rsv before opcode", B("\xc3\x00"), 0, 100, WS_ERR_RSV, 2},
    /* a control frame may carry at most 125 bytes: an extended form is
     * rejected at byte 2 without reading the extended length */
    {"ping 126 bytes", B("\x89\x7e\x00\x7e"), 0, 1000,
     WS_ERR_CONTROL_TOO_LONG, 2},
    {"close with 64-bit length", B("\x88\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
     0, 1000, WS_ERR_CONTROL_TOO_LONG, 2},
    /* with non-minimal forms allowed, the real length decides */
    {"ping 126 bytes, nonminimal allowed", B("\x89\x7e\x00\x7e"),
     WS_DEC_ALLOW_NONMINIMAL, 1000, WS_ERR_CONTROL_TOO_LONG, 4},
    /* a control frame must not be fragmented (5.5) */
    {"fragmented ping", B("\x09\x00"), 0, 100, WS_ERR_CONTROL_FRAGMENTED, 2},
    {"fragmented close", B("\x08\x02\x03\xe8"), 0, 100,
     WS_ERR_CONTROL_FRAGMENTED, 2},
    /* FIN is checked before the control length */
    {"fragmented long ping", B("\x09\x7e"), 0, 100,
     WS_ERR_CONTROL_FRAGMENTED, 2},
    /* the mask rule comes after the control rules */
    {"unmasked fragmented ping", B("\x09\x00"), MASK, 100,
     WS_ERR_CONTROL_FRAGMENTED, 2},
    /* 16-bit form for a length that fits 7 bits; known after 4 bytes */
    {"nonminimal 16 (125)", B("\x82\x7e\x00\x7d"), 0, 1000,
     WS_ERR_NONMINIMAL_LENGTH, 4},
    {"nonminimal 16 (0)", B("\x82\x7e\x00\x00"), 0, 1000,
     WS_ERR_NONMINIMAL_LENGTH, 4},
    /* the check precedes the mask key: error after 4 bytes, not 8 */
    {"nonminimal 16 masked", B("\x82\xfe\x00\x05\x01\x02\x03\x04"), MASK,
     1000, WS_ERR_NONMINIMAL_LENGTH, 4},
    /* 64-bit form for a length that fits 16 bits; known after 10 bytes */
    {"nonminimal 64 (65535)", B("\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff"), 0,
     1000000, WS_ERR_NONMINIMAL_LENGTH, 10},
    {"nonminimal 64 (5)", B("\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x05"), 0,
     1000000, WS_ERR_NONMINIMAL_LENGTH, 10},
    /* 64-bit length with the most significant bit set (5.2) */
    {"length msb", B("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00"), 0,
     UINT64_MAX, WS_ERR_LENGTH_MSB, 10},
    {"length msb, all ones", B("\x82\x7f\xff\xff\xff\xff\xff\xff\xff\xff"),
     WS_DEC_ALLOW_NONMINIMAL, UINT64_MAX, WS_ERR_LENGTH_MSB, 10},
    /* 100 MB announced, 16 MiB allowed: rejected before the mask key */
    {"100 MB vs 16 MiB", B("\x82\xff\x00\x00\x00\x00\x06\x40\x00\x00"
                           "\x01\x02\x03\x04"),
     MASK, 16 * MIB, WS_ERR_TOO_BIG, 10},
    /* one byte over the limit, 7-bit and 16-bit forms */
    {"6 bytes vs 5", B("\x82\x06" "abcdef"), 0, 5, WS_ERR_TOO_BIG, 2},
    {"300 bytes vs 299", B("\x82\x7e\x01\x2c"), 0, 299, WS_ERR_TOO_BIG, 4},
    /* continuation with no message open (5.4): known at the frame end */
    {"continuation without start", B("\x80\x01" "a"), 0, 100,
     WS_ERR_BAD_CONTINUATION, 3},
    {"continuation after a finished message", B("\x81\x01" "a" "\x80\x00"), 0,
     100, WS_ERR_BAD_CONTINUATION, 5},
    /* a new data frame inside a fragmented message (5.4) */
    {"text inside a message", B("\x01\x01" "a" "\x81\x01" "b"), 0, 100,
     WS_ERR_EXPECTED_CONTINUATION, 6},
    {"binary after a ping inside a message",
     B("\x02\x01" "a" "\x89\x00" "\x02\x00"), 0, 100,
     WS_ERR_EXPECTED_CONTINUATION, 7},
    /* a close payload of 1 byte cannot hold a code (5.5.1) */
    {"1-byte close payload", B("\x88\x01\x03"), 0, 100,
     WS_ERR_BAD_CLOSE_PAYLOAD, 3},
    /* close codes that must not appear on the wire (7.4) */
    {"close 0", B("\x88\x02\x00\x00"), 0, 100, WS_ERR_BAD_CLOSE_CODE, 4},
    {"close 999", B("\x88\x02\x03\xe7"), 0, 100, WS_ERR_BAD_CLOSE_CODE, 4},
    {"close 1004", B("\x88\x02\x03\xec"), 0, 100, WS_ERR_BAD_CLOSE_CODE, 4},
    {"close 1005", B("\x88\x02\x03\xed"), 0, 100, WS_ERR_BAD_CLOSE_CODE, 4},
    {"close 1006", B("\x88\x02\x03\xee"), 0, 100, WS_ERR_BAD_CLOSE_CODE, 4},
    {"close 1015", B("\x88\x02\x03\xf7"), 0, 100, WS_ERR_BAD_CLOSE_CODE, 4},
    {"close 1016", B("\x88\x02\x03\xf8"), 0, 100, WS_ERR_BAD_CLOSE_CODE, 4},
    {"close 2999", B("\x88\x02\x0b\xb7"), 0, 100, WS_ERR_BAD_CLOSE_CODE, 4},
    {"close 5000", B("\x88\x02\x13\x88"), 0, 100, WS_ERR_BAD_CLOSE_CODE, 4},
    {"close 65535", B("\x88\x02\xff\xff"), 0, 100, WS_ERR_BAD_CLOSE_CODE, 4},
    /* close reasons that are not UTF-8 (8.1) */
    {"reason overlong", B("\x88\x04\x03\xe8\xc0\xaf"), 0, 100,
     WS_ERR_INVALID_UTF8, 6},
    {"reason overlong 3-byte", B("\x88\x05\x03\xe8\xe0\x80\xaf"), 0, 100,
     WS_ERR_INVALID_UTF8, 7},
    {"reason surrogate", B("\x88\x05\x03\xe8\xed\xa0\x80"), 0, 100,
     WS_ERR_INVALID_UTF8, 7},
    {"reason truncated", B("\x88\x05\x03\xe8" "a" "\xe2\x82"), 0, 100,
     WS_ERR_INVALID_UTF8, 7},
    {"reason above U+10FFFF", B("\x88\x06\x03\xe8\xf4\x90\x80\x80"), 0, 100,
     WS_ERR_INVALID_UTF8, 8},
    /* a masked close whose reason is bad only once unmasked: "\xff" */
    {"masked reason", B("\x88\x83\x00\x00\x00\x00\x03\xe8\xff"), MASK, 100,
     WS_ERR_INVALID_UTF8, 9},
    /* an error after a good frame: the good one is still delivered */
    {"rsv after a good frame", B("\x81\x00" "\xc1\x00"), 0, 100, WS_ERR_RSV,
     4},
};
/* clang-format on */

static void test_error_rows(void)
{
    for (size_t i = 0; i < sizeof(error_rows) / sizeof(error_rows[0]); i++) {
        const error_row *row = &error_rows[i];
        run_result whole;

        current = row->comment;
        check_all_splits(row->in, row->len, row->flags, row->max, &whole);
        CHECK_EQ(whole.err, row->err);
        CHECK(ws_err_is_protocol(row->err));
        run_result_free(&whole);

        /* Bytewise: nothing goes wrong before byte `at`, the error comes
         * with it — before any later byte (payload, mask key) is needed. */
        run_result r;
        CHECK(row->at <= row->len);
        run_decode(row->in, row->at - 1, row->flags, row->max, 1, 0, &r);
        CHECK_EQ(r.err, WS_OK);
        run_result_free(&r);
        run_decode(row->in, row->at, row->flags, row->max, 1, 0, &r);
        CHECK_EQ(r.err, row->err);
        run_result_free(&r);
    }
}

/* The oversized header: fails as soon as its 10 bytes are in, and the
 * decoder has allocated nothing. */
static void test_oversized_no_alloc(void)
{
    static const uint8_t hdr[] = "\x82\xff\x00\x00\x00\x00\x06\x40\x00\x00";
    ws_decoder dec;
    ws_frame f;
    int done;

    current = "oversized, no allocation";
    ws_decoder_init(&dec, 16 * MIB, WS_DEC_REQUIRE_MASK);
    CHECK_EQ(ws_decoder_feed(&dec, hdr, 9, &f, &done), 9);
    CHECK_EQ(done, 0);
    CHECK_EQ(ws_decoder_feed(&dec, hdr + 9, 1, &f, &done), WS_ERR_TOO_BIG);
    CHECK_EQ(done, 0);
    CHECK(dec.payload == NULL);
    CHECK_EQ(dec.state, WS_DEC_ERROR);
    CHECK_EQ(ws_decoder_feed(&dec, hdr, 1, &f, &done), WS_ERR_STATE);
    CHECK_EQ(ws_decoder_feed(&dec, hdr, 0, &f, &done), WS_ERR_STATE);
    ws_decoder_free(&dec);

    /* Exactly at the limit is fine; the buffer comes with the payload. */
    ws_decoder_init(&dec, 300, 0);
    CHECK_EQ(ws_decoder_feed(&dec, (const uint8_t *)"\x82\x7e\x01\x2c", 4, &f,
                             &done),
             4);
    CHECK(dec.payload == NULL);
    CHECK_EQ(ws_decoder_capacity(&dec), 0);
    CHECK_EQ(dec.state, WS_DEC_PAYLOAD);
    CHECK_EQ(ws_decoder_feed(&dec, (const uint8_t *)"abc", 3, &f, &done), 3);
    CHECK(dec.payload != NULL);
    CHECK_EQ(ws_decoder_capacity(&dec), 300); /* under WS_DEC_MIN_CAP */
    ws_decoder_free(&dec);                    /* mid-frame: must not leak */
    CHECK_EQ(ws_decoder_capacity(&dec), 0);
}

/* A header announcing 16 MiB (the limit) followed by a few bytes holds
 * about what arrived, not what was announced (issue 12: 300 such peers
 * used to cost 4.7 GB); the buffer then doubles with the payload, never
 * past the frame's length, and the frame decodes whole. */
static void test_grows_with_payload(void)
{
    const size_t len = 16 * MIB;
    uint8_t hdr[14] = {0x82, 0xff, 0, 0, 0, 0, 0x01, 0, 0, 0, 1, 2, 3, 4};
    uint8_t *frame = xmalloc(len);
    ws_decoder dec;
    ws_frame f;
    int done;

    current = "grows with the payload";
    for (size_t i = 0; i < len; i++)
        frame[i] = (uint8_t)(i * 7);
    ws_mask_bytes(frame, len, hdr + 10, 0);
    ws_decoder_init(&dec, 16 * MIB, WS_DEC_REQUIRE_MASK);
    CHECK_EQ(ws_decoder_feed(&dec, hdr, sizeof hdr, &f, &done), 14);
    CHECK_EQ(done, 0);
    CHECK_EQ(ws_decoder_capacity(&dec), 0);
    CHECK_EQ(ws_decoder_feed(&dec, frame, 10, &f, &done), 10);
    CHECK_EQ(done, 0);
    CHECK_EQ(ws_decoder_capacity(&dec), WS_DEC_MIN_CAP);

    /* In chunks of 1000 bytes: never more than twice what arrived. */
    size_t off = 10, grew = 0, prev = WS_DEC_MIN_CAP;
    while (off < len) {
        size_t n = len - off < 1000 ? len - off : 1000;
        CHECK_EQ(ws_decoder_feed(&dec, frame + off, n, &f, &done), (ssize_t)n);
        off += n;
        size_t cap = ws_decoder_capacity(&dec);
        CHECK(cap >= off && cap <= len);
        if (off > WS_DEC_MIN_CAP)
            CHECK(cap < 2 * off);
        if (cap != prev)
            grew++;
        prev = cap;
    }
    CHECK_EQ(done, 1);
    CHECK_EQ(ws_decoder_capacity(&dec), len);
    CHECK(grew <= 12); /* 4 KiB doubling to 16 MiB: 12 steps */
    CHECK_EQ(f.payload_len, len);
    bool same = true;
    for (size_t i = 0; i < len && same; i++)
        same = f.payload[i] == (uint8_t)(i * 7);
    CHECK(same);

    /* The next frame starts from nothing again. */
    CHECK_EQ(ws_decoder_feed(&dec, hdr, 2, &f, &done), 2);
    CHECK_EQ(ws_decoder_capacity(&dec), 0);
    ws_decoder_free(&dec);
    free(frame);
}

/* Consumption stops at the frame end and the payload lives until the next
 * feed. */
static void test_feed_contract(void)
{
    static const uint8_t two[] = "\x81\x02"
                                 "ab"
                                 "\x82\x01"
                                 "c";
    ws_decoder dec;
    ws_frame f;
    int done;

    current = "feed contract";
    ws_decoder_init(&dec, 100, 0);
    CHECK_EQ(ws_decoder_feed(&dec, two, 0, &f, &done), 0);
    CHECK_EQ(done, 0);
    CHECK_EQ(ws_decoder_feed(&dec, two, 7, &f, &done), 4);
    CHECK_EQ(done, 1);
    CHECK_EQ(f.payload_len, 2);
    CHECK(memcmp(f.payload, "ab", 2) == 0);
    CHECK_EQ(dec.state != WS_DEC_ERROR, 1);
    CHECK_EQ(ws_decoder_feed(&dec, two + 4, 3, &f, &done), 3);
    CHECK_EQ(done, 1);
    CHECK_EQ(f.h.opcode, WS_OP_BINARY);
    CHECK(memcmp(f.payload, "c", 1) == 0);
    /* an empty feed after a frame releases it and yields nothing */
    CHECK_EQ(ws_decoder_feed(&dec, two, 0, &f, &done), 0);
    CHECK_EQ(done, 0);
    CHECK(dec.payload == NULL);
    /* the empty frame's payload is not NULL, so memcmp(…, 0) is legal */
    CHECK_EQ(ws_decoder_feed(&dec, (const uint8_t *)"\x89\x00", 2, &f, &done),
             2);
    CHECK_EQ(done, 1);
    CHECK(f.payload != NULL);
    CHECK_EQ(f.payload_len, 0);
    ws_decoder_free(&dec);
}

/* WS_DEC_PAUSE_AT_HEADER: the feed stops right after a header that
 * announces a payload, before taking any of it, so the caller can judge
 * the announced length first; the next feed takes the payload. A frame
 * without payload is delivered as before. */
static void test_pause_at_header(void)
{
    static const uint8_t in[] = "\x81\x83\x01\x02\x03\x04"
                                "\x60\x60\x60"
                                "\x8a\x80\x01\x02\x03\x04";
    ws_decoder dec;
    ws_frame f;
    int done;

    current = "pause at header";
    ws_decoder_init(&dec, 100, WS_DEC_REQUIRE_MASK | WS_DEC_PAUSE_AT_HEADER);
    CHECK_EQ(ws_decoder_feed(&dec, in, sizeof in - 1, &f, &done), 6);
    CHECK_EQ(done, 0);
    CHECK_EQ(dec.state, WS_DEC_PAYLOAD);
    CHECK_EQ(dec.payload_have, 0);
    CHECK_EQ(dec.h.payload_len, 3);
    CHECK_EQ(dec.h.opcode, WS_OP_TEXT);
    CHECK(dec.payload == NULL);
    CHECK_EQ(ws_decoder_feed(&dec, in + 6, sizeof in - 1 - 6, &f, &done), 3);
    CHECK_EQ(done, 1);
    CHECK_EQ(f.payload_len, 3);
    CHECK(memcmp(f.payload, "abc", 3) == 0);
    /* the pong has no payload: no pause, delivered at once */
    CHECK_EQ(ws_decoder_feed(&dec, in + 9, 6, &f, &done), 6);
    CHECK_EQ(done, 1);
    CHECK_EQ(f.h.opcode, WS_OP_PONG);
    ws_decoder_free(&dec);
}

/* ---- fragmentation state ------------------------------------------------- */

static void test_fragments(void)
{
    ws_fragments st = {0};
    ws_frame_header h = {0};

    current = "fragments";
    h.opcode = WS_OP_BINARY;
    h.fin = false;
    CHECK_EQ(ws_fragments_step(&st, &h), WS_OK);
    CHECK(st.open);
    CHECK_EQ(st.opcode, WS_OP_BINARY);
    h.opcode = WS_OP_PING;
    h.fin = true;
    CHECK_EQ(ws_fragments_step(&st, &h), WS_OK);
    CHECK(st.open);
    h.opcode = WS_OP_TEXT;
    CHECK_EQ(ws_fragments_step(&st, &h), WS_ERR_EXPECTED_CONTINUATION);
    CHECK(st.open); /* an error leaves the state alone */
    h.opcode = WS_OP_CONT;
    h.fin = false;
    CHECK_EQ(ws_fragments_step(&st, &h), WS_OK);
    h.fin = true;
    CHECK_EQ(ws_fragments_step(&st, &h), WS_OK);
    CHECK(!st.open);
    CHECK_EQ(ws_fragments_step(&st, &h), WS_ERR_BAD_CONTINUATION);
    h.opcode = WS_OP_TEXT;
    CHECK_EQ(ws_fragments_step(&st, &h), WS_OK);
    CHECK(!st.open);
}

/* ---- close payloads ------------------------------------------------------ */

/* The rule written as a list, to compare the implementation against. */
static int close_code_allowed(unsigned c)
{
    static const unsigned ok[] = {1000, 1001, 1002, 1003, 1007, 1008,
                                  1009, 1010, 1011, 1012, 1013, 1014};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (c == ok[i])
            return 1;
    }
    return c >= 3000 && c < 5000;
}

static void test_close_parse(void)
{
    uint16_t code;
    const uint8_t *reason;
    size_t rlen;
    uint8_t buf[2 + 8];
    size_t wrong = 0;

    current = "close parse";
    CHECK_EQ(ws_close_parse(NULL, 0, &code, &reason, &rlen), WS_OK);
    CHECK_EQ(code, 0);
    CHECK_EQ(rlen, 0);
    CHECK_EQ(ws_close_parse(B("\x03"), &code, &reason, &rlen),
             WS_ERR_BAD_CLOSE_PAYLOAD);
    CHECK_EQ(ws_close_parse(B("\x03\xe9"
                              "going"),
                            &code, &reason, &rlen),
             WS_OK);
    CHECK_EQ(code, 1001);
    CHECK(rlen == 5 && memcmp(reason, "going", 5) == 0);
    CHECK_EQ(ws_close_parse(B("\x03\xe8\xed\xbf\xbf"), &code, &reason, &rlen),
             WS_ERR_INVALID_UTF8);

    /* every code, against the list */
    for (unsigned c = 0; c <= 0xFFFF; c++) {
        size_t n = ws_close_payload((uint16_t)c, NULL, 0, buf);
        int want = close_code_allowed(c) ? WS_OK : WS_ERR_BAD_CLOSE_CODE;
        if (n != 2 || ws_close_parse(buf, n, &code, &reason, &rlen) != want ||
            code != c)
            wrong++;
    }
    CHECK_EQ(wrong, 0);

    /* ws_close_payload writes big-endian code then the reason */
    CHECK_EQ(ws_close_payload(1000, (const uint8_t *)"bye", 3, buf), 5);
    CHECK(memcmp(buf,
                 "\x03\xe8"
                 "bye",
                 5) == 0);
}

/* ---- UTF-8 --------------------------------------------------------------- */

typedef struct utf8_row {
    const char *comment;
    const uint8_t *s;
    size_t len;
    bool valid;
} utf8_row;

/* clang-format off */
static const utf8_row utf8_rows[] = {
    {"empty", B(""), true},
    {"ascii", B("Hello, world"), true},
    {"NUL is a character", B("a\0b"), true},
    {"greek kosme", B("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), true},
    {"U+0080, first 2-byte", B("\xc2\x80"), true},
    {"U+07FF, last 2-byte", B("\xdf\xbf"), true},
    {"U+0800, first 3-byte", B("\xe0\xa0\x80"), true},
    {"U+D7FF, before surrogates", B("\xed\x9f\xbf"), true},
    {"U+E000, after surrogates", B("\xee\x80\x80"), true},
    {"U+FFFF", B("\xef\xbf\xbf"), true},
    {"U+10000, first 4-byte", B("\xf0\x90\x80\x80"), true},
    {"U+10FFFF, last code point", B("\xf4\x8f\xbf\xbf"), true},
    {"lone continuation", B("\x80"), false},
    {"continuation 0xBF", B("a\xbf"), false},
    {"overlong NUL C0 80", B("\xc0\x80"), false},
    {"overlong C1 BF", B("\xc1\xbf"), false},
    {"overlong 3-byte E0 80 80", B("\xe0\x80\x80"), false},
    {"overlong 3-byte E0 9F BF", B("\xe0\x9f\xbf"), false},
    {"overlong 4-byte F0 80 80 80", B("\xf0\x80\x80\x80"), false},
    {"overlong 4-byte F0 8F BF BF", B("\xf0\x8f\xbf\xbf"), false},
    {"surrogate U+D800", B("\xed\xa0\x80"), false},
    {"surrogate U+DFFF", B("\xed\xbf\xbf"), false},
    {"U+110000", B("\xf4\x90\x80\x80"), false},
    {"lead F5", B("\xf5\x80\x80\x80"), false},
    {"lead FF", B("\xff"), false},
    {"truncated 2-byte", B("\xc2"), false},
    {"truncated 3-byte", B("\xe2\x82"), false},
    {"truncated 4-byte", B("\xf0\x90\x80"), false},
    {"ascii where continuation belongs", B("\xc2\x41"), false},
    {"bad third byte", B("\xe2\x82\x28"), false},
    {"bad fourth byte", B("\xf0\x90\x80\xc0"), false},
};
/* clang-format on */

/* A decoder written the other way round (decode, then judge the value),
 * to sweep sequences against. Returns 1 if valid. */
static int utf8_reference(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint32_t cp;
        size_t n;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n > len)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n;
    }
    return 1;
}

static void test_utf8(void)
{
    static const uint8_t probes[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                     0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
                                     0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
    size_t np = sizeof(probes);
    size_t wrong = 0;
    uint8_t s[4];

    for (size_t i = 0; i < sizeof(utf8_rows) / sizeof(utf8_rows[0]); i++) {
        current = utf8_rows[i].comment;
        CHECK_EQ(ws_utf8_valid(utf8_rows[i].s, utf8_rows[i].len),
                 utf8_rows[i].valid);
    }

    current = "utf8 sweep";
    /* all 1-, 2- and 3-byte sequences */
    for (uint32_t v = 0; v < 0x1000000; v++) {
        s[0] = (uint8_t)(v >> 16);
        s[1] = (uint8_t)(v >> 8);
        s[2] = (uint8_t)v;
        if (v < 0x100 && ws_utf8_valid(s + 2, 1) != utf8_reference(s + 2, 1))
            wrong++;
        if (v < 0x10000 && ws_utf8_valid(s + 1, 2) != utf8_reference(s + 1, 2))
            wrong++;
        if (ws_utf8_valid(s, 3) != utf8_reference(s, 3))
            wrong++;
    }
    /* 4-byte sequences: every lead byte, probes for the rest */
    for (unsigned a = 0; a < 256; a++)
        for (size_t b = 0; b < np; b++)
            for (size_t c = 0; c < np; c++)
                for (size_t d = 0; d < np; d++) {
                    s[0] = (uint8_t)a;
                    s[1] = probes[b];
                    s[2] = probes[c];
                    s[3] = probes[d];
                    if (ws_utf8_valid(s, 4) != utf8_reference(s, 4))
                        wrong++;
                }
    CHECK_EQ(wrong, 0);
}

/* ---- encoder ------------------------------------------------------------- */

static uint8_t *pattern(size_t n)
{
    uint8_t *p = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + 3);
    return p;
}

typedef struct enc_row {
    const char *comment;
    size_t payload_len;
    int len_form;             /* as requested */
    int want_form;            /* as written */
    size_t header_len;        /* unmasked */
    const uint8_t *len_bytes; /* byte 1 onwards, without the mask bit */
    size_t len_bytes_len;
} enc_row;

/* clang-format off */
static const enc_row enc_rows[] = {
    /* minimal forms at each boundary */
    {"minimal 0", 0, 0, 7, 2, B("\x00")},
    {"minimal 125", 125, 0, 7, 2, B("\x7d")},
    {"minimal 126", 126, 0, 16, 4, B("\x7e\x00\x7e")},
    {"minimal 65535", 65535, 0, 16, 4, B("\x7e\xff\xff")},
    {"minimal 65536", 65536, 0, 64, 10,
     B("\x7f\x00\x00\x00\x00\x00\x01\x00\x00")},
    /* forced forms that are also minimal */
    {"forced 7 for 125", 125, 7, 7, 2, B("\x7d")},
    {"forced 16 for 300", 300, 16, 16, 4, B("\x7e\x01\x2c")},
    {"forced 64 for 70000", 70000, 64, 64, 10,
     B("\x7f\x00\x00\x00\x00\x00\x01\x11\x70")},
    /* forced non-minimal forms, written as given */
    {"forced 16 for 5", 5, 16, 16, 4, B("\x7e\x00\x05")},
    {"forced 16 for 0", 0, 16, 16, 4, B("\x7e\x00\x00")},
    {"forced 64 for 5", 5, 64, 64, 10,
     B("\x7f\x00\x00\x00\x00\x00\x00\x00\x05")},
    {"forced 64 for 300", 300, 64, 64, 10,
     B("\x7f\x00\x00\x00\x00\x00\x00\x01\x2c")},
};
/* clang-format on */

static void test_encode_rows(void)
{
    static const uint8_t key[4] = {0xa1, 0xb2, 0xc3, 0xd4};

    for (size_t i = 0; i < sizeof(enc_rows) / sizeof(enc_rows[0]); i++) {
        const enc_row *row = &enc_rows[i];
        uint8_t *payload = pattern(row->payload_len);

        current = row->comment;
        for (int masked = 0; masked <= 1; masked++) {
            ws_frame_spec spec = {
                .fin = true,
                .opcode = WS_OP_BINARY,
                .mask = masked,
                .len_form = row->len_form,
                .payload = payload,
                .payload_len = row->payload_len,
            };
            memcpy(spec.mask_key, key, 4);
            size_t want = row->header_len + (masked ? 4 : 0) + row->payload_len;
            size_t cap = want + 16;
            uint8_t *out = xmalloc(cap);
            run_result r;

            CHECK_EQ(ws_encoded_size(&spec), want);
            CHECK_EQ(ws_encode_frame(&spec, out, cap), want);
            CHECK_EQ(out[0], 0x82);
            CHECK_EQ(out[1] & 0x80, masked ? 0x80 : 0);
            out[1] &= 0x7F;
            CHECK(memcmp(out + 1, row->len_bytes, row->len_bytes_len) == 0);
            out[1] |= masked ? 0x80 : 0;
            if (masked)
                CHECK(memcmp(out + row->header_len, key, 4) == 0);

            /* round trip through the decoder, with the mask rule of the
             * side that would receive it and the form allowed */
            unsigned flags =
                (masked ? WS_DEC_REQUIRE_MASK : WS_DEC_REQUIRE_UNMASKED) |
                WS_DEC_ALLOW_NONMINIMAL;
            check_all_splits(out, want, flags, 16 * MIB, &r);
            CHECK_EQ(r.err, WS_OK);
            CHECK_EQ(r.nframes, 1);
            if (r.nframes == 1) {
                CHECK_EQ(r.h[0].len_form, row->want_form);
                CHECK_EQ(r.h[0].masked, masked);
                CHECK(r.plen[0] == row->payload_len &&
                      memcmp(r.payload[0], payload, row->payload_len) == 0);
            }
            run_result_free(&r);

            /* and without ALLOW_NONMINIMAL, exactly the non-minimal ones
             * are refused */
            int nonminimal = (row->want_form == 16 && row->payload_len < 126) ||
                             (row->want_form == 64 && row->payload_len < 65536);
            run_decode(out, want, flags & ~(unsigned)WS_DEC_ALLOW_NONMINIMAL,
                       16 * MIB, 0, want, &r);
            CHECK_EQ(r.err, nonminimal ? WS_ERR_NONMINIMAL_LENGTH : WS_OK);
            run_result_free(&r);
            free(out);
        }
        free(payload);
    }
}

static void test_encode_errors(void)
{
    uint8_t *payload = pattern(65536);
    uint8_t out[64];
    ws_frame_spec spec = {
        .fin = true, .opcode = WS_OP_TEXT, .payload = payload};

    current = "encode errors";
    /* forced form too small for the payload */
    spec.len_form = 7;
    spec.payload_len = 126;
    CHECK_EQ(ws_encoded_size(&spec), WS_ERR_LEN_FORM);
    CHECK_EQ(ws_encode_frame(&spec, out, sizeof(out)), WS_ERR_LEN_FORM);
    spec.len_form = 16;
    spec.payload_len = 65536;
    CHECK_EQ(ws_encoded_size(&spec), WS_ERR_LEN_FORM);
    CHECK_EQ(ws_encode_frame(&spec, out, sizeof(out)), WS_ERR_LEN_FORM);
    /* a form that does not exist */
    spec.len_form = 32;
    spec.payload_len = 1;
    CHECK_EQ(ws_encoded_size(&spec), WS_ERR_LEN_FORM);
    CHECK_EQ(ws_encode_frame(&spec, out, sizeof(out)), WS_ERR_LEN_FORM);
    CHECK(!ws_err_is_protocol(WS_ERR_LEN_FORM));

    /* buffer one byte short, then exactly right */
    spec.len_form = 0;
    spec.payload_len = 10;
    spec.mask = true;
    CHECK_EQ(ws_encoded_size(&spec), 16);
    CHECK_EQ(ws_encode_frame(&spec, out, 15), WS_ERR_BUFFER);
    CHECK_EQ(ws_encode_frame(&spec, out, 16), 16);
    CHECK_EQ(ws_encode_frame(&spec, NULL, 0), WS_ERR_BUFFER);
    CHECK(!ws_err_is_protocol(WS_ERR_BUFFER));
    free(payload);
}

/* RSV bits and opcodes go out as given, also the illegal ones. */
static void test_encode_header_bits(void)
{
    uint8_t out[16];
    ws_frame_spec spec = {0};

    current = "encode header bits";
    spec.fin = true;
    spec.rsv = WS_RSV1 | WS_RSV3;
    spec.opcode = 0xB;
    CHECK_EQ(ws_encode_frame(&spec, out, sizeof(out)), 2);
    CHECK_EQ(out[0], 0x80 | 0x40 | 0x10 | 0x0B);
    CHECK_EQ(out[1], 0x00);

    spec.fin = false;
    spec.rsv = WS_RSV2;
    spec.opcode = WS_OP_CLOSE; /* a fragmented close, on purpose */
    CHECK_EQ(ws_encode_frame(&spec, out, sizeof(out)), 2);
    CHECK_EQ(out[0], 0x20 | 0x08);

    for (unsigned op = 0; op < 16; op++) {
        spec.fin = true;
        spec.rsv = 0;
        spec.opcode = (uint8_t)op;
        ws_encode_frame(&spec, out, sizeof(out));
        CHECK_EQ(out[0], 0x80 | op);
    }

    /* the decoder reports what the encoder wrote */
    run_result r;
    spec.fin = true;
    spec.rsv = WS_RSV2;
    spec.opcode = WS_OP_PING;
    CHECK_EQ(ws_encode_frame(&spec, out, sizeof(out)), 2);
    run_decode(out, 2, WS_DEC_ALLOW_RSV, 100, 0, 2, &r);
    CHECK_EQ(r.nframes, 1);
    CHECK_EQ(r.h[0].rsv, WS_RSV2);
    CHECK_EQ(r.h[0].opcode, WS_OP_PING);
    run_result_free(&r);
}

/* Masking in pieces at any offset equals masking at once, and twice is the
 * identity. */
static void test_mask_bytes(void)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t once[11], pieces[11];

    current = "mask bytes";
    memcpy(once, "Hello world", 11);
    ws_mask_bytes(once, 11, key, 0);
    CHECK(memcmp(once, "\x7f\x9f\x4d\x51\x58", 5) == 0); /* RFC 5.7 */
    for (size_t k = 0; k <= 11; k++) {
        memcpy(pieces, "Hello world", 11);
        ws_mask_bytes(pieces, k, key, 0);
        ws_mask_bytes(pieces + k, 11 - k, key, k);
        CHECK(memcmp(pieces, once, 11) == 0);
    }
    ws_mask_bytes(once, 11, key, 0);
    CHECK(memcmp(once, "Hello world", 11) == 0);
    ws_mask_bytes(NULL, 0, key, 3);
}

static void test_strerror(void)
{
    /* clang-format off */
    static const int codes[] = {
        WS_ERR_UNMASKED, WS_ERR_MASKED, WS_ERR_RESERVED_OPCODE, WS_ERR_RSV,
        WS_ERR_CONTROL_TOO_LONG, WS_ERR_CONTROL_FRAGMENTED,
        WS_ERR_NONMINIMAL_LENGTH, WS_ERR_LENGTH_MSB, WS_ERR_BAD_CONTINUATION,
        WS_ERR_EXPECTED_CONTINUATION, WS_ERR_BAD_CLOSE_PAYLOAD,
        WS_ERR_BAD_CLOSE_CODE, WS_ERR_INVALID_UTF8, WS_ERR_TOO_BIG,
        WS_ERR_NOMEM, WS_ERR_LEN_FORM, WS_ERR_BUFFER, WS_ERR_STATE,
    };
    /* clang-format on */
    size_t n = sizeof(codes) / sizeof(codes[0]);
    const char *unknown = ws_strerror(-999);

    current = "strerror";
    CHECK(strcmp(ws_strerror(WS_ERR_UNMASKED), "unmasked client frame") == 0);
    CHECK(strcmp(ws_strerror(WS_ERR_CONTROL_TOO_LONG),
                 "control frame payload over 125 bytes") == 0);
    for (size_t i = 0; i < n; i++) {
        const char *s = ws_strerror(codes[i]);
        int distinct = s != unknown;
        for (size_t k = 0; k < i; k++)
            distinct &= strcmp(s, ws_strerror(codes[k])) != 0;
        CHECK(distinct);
        /* protocol errors are the peer's: everything above -30 */
        CHECK_EQ(ws_err_is_protocol(codes[i]), codes[i] > WS_ERR_NOMEM);
    }
    CHECK(!ws_err_is_protocol(WS_OK));
}

int main(void)
{
    test_valid_rows();
    test_header_fields();
    test_error_rows();
    test_oversized_no_alloc();
    test_grows_with_payload();
    test_feed_contract();
    test_pause_at_header();
    test_fragments();
    test_close_parse();
    test_utf8();
    test_encode_rows();
    test_encode_errors();
    test_encode_header_bits();
    test_mask_bytes();
    test_strerror();

    return check_summary("codec");
}
