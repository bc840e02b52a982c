/*
 * test_wirecheck.c — the first RFC 6455 violation in a server byte stream.
 *
 * Table-driven: each row is a stream of server frames (hex) with the
 * violation expected and the offset of the frame that commits it. Each row
 * is fed whole, a byte at a time and split at every offset; the verdict
 * must not change.
 */
#include <string.h>

#include "check.h"
#include "wirecheck.h"

typedef struct row {
    const char *name;
    const char *hex;
    int err;         /* WS_OK for a valid stream */
    unsigned offset; /* of the offending frame */
    /* permessage-deflate in effect: the server's window bits (0: not
     * negotiated) and no context takeover */
    int deflate_bits;
    bool no_context;
} row;

/* clang-format off */
static const row rows[] = {
    {"text and close", "8102686988020 3e8", WS_OK, 0, 0, false},
    {"fragmented text, ping between", "0102686989008001 69", WS_OK, 0, 0, false},
    {"utf-8 split across fragments", "0101c38001a9", WS_OK, 0, 0, false},
    /* the second fragment ends mid-character: the whole message is bad */
    {"invalid utf-8 across fragments", "0101c38001 28", WS_ERR_INVALID_UTF8, 3, 0, false},
    {"invalid utf-8 in one frame", "8102686981 01ff", WS_ERR_INVALID_UTF8, 4, 0, false},
    {"masked frame", "810168 8181 00000000 68", WS_ERR_MASKED, 3, 0, false},
    {"reserved opcode 3", "830100", WS_ERR_RESERVED_OPCODE, 0, 0, false},
    {"rsv1 without extension", "c10161", WS_ERR_RSV, 0, 0, false},
    {"ping over 125 bytes", "897e007e", WS_ERR_CONTROL_TOO_LONG, 0, 0, false},
    {"fragmented ping", "0900", WS_ERR_CONTROL_FRAGMENTED, 0, 0, false},
    {"non-minimal 16-bit length", "827e000100", WS_ERR_NONMINIMAL_LENGTH, 0, 0, false},
    {"orphan continuation", "810161 800162", WS_ERR_BAD_CONTINUATION, 3, 0, false},
    {"data frame inside a message", "010161 810162", WS_ERR_EXPECTED_CONTINUATION, 3, 0, false},
    {"one-byte close payload", "880103", WS_ERR_BAD_CLOSE_PAYLOAD, 0, 0, false},
    {"close code 1005 on the wire", "880203ed", WS_ERR_BAD_CLOSE_CODE, 0, 0, false},
    {"close code 999", "880203e7", WS_ERR_BAD_CLOSE_CODE, 0, 0, false},
    {"close reason not utf-8", "880303e8ff", WS_ERR_INVALID_UTF8, 0, 0, false},
    {"binary is not validated", "8201ff", WS_OK, 0, 0, false},
    /* permessage-deflate negotiated (RFC 7692 6.1, 7.2.2) */
    {"compressed hello", "c107 f248cdc9c90700", WS_OK, 0, 15, false},
    {"shared window", "c107f248cdc9c90700 c105f200110000", WS_OK, 0, 15, false},
    {"no takeover, window needed", "c107f248cdc9c90700 c105f200110000",
     WS_ERR_DEFLATE, 9, 15, true},
    {"compressed in fragments", "4103f248cd 8004c9c90700", WS_OK, 0, 15, false},
    {"uncompressed between", "c107f248cdc9c90700 810161", WS_OK, 0, 15, false},
    {"rsv1 on a continuation", "4103f248cd c004c9c90700", WS_ERR_RSV1_PLACE,
     5, 15, false},
    {"rsv1 on a ping", "c900", WS_ERR_RSV1_PLACE, 0, 15, false},
    {"rsv2 with deflate", "a10161", WS_ERR_RSV, 0, 15, false},
    {"does not inflate", "c203ffffff", WS_ERR_DEFLATE, 0, 15, false},
    {"compressed text not utf-8", "c103fa0f00", WS_ERR_INVALID_UTF8, 0, 15, false},
    {"compressed binary not judged as text", "c203fa0f00", WS_OK, 0, 15, false},
};
/* clang-format on */

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    int hi = -1;
    for (; *hex; hex++) {
        int v;
        if (*hex >= '0' && *hex <= '9')
            v = *hex - '0';
        else if (*hex >= 'a' && *hex <= 'f')
            v = *hex - 'a' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

/* Feeds buf in pieces of the given sizes (0 = the rest); returns the
 * first non-OK result and checks later calls stay quiet. */
static int feed_split(const row *r, const uint8_t *buf, size_t len,
                      size_t first, size_t step, uint64_t *offset)
{
    wsr_wirecheck wc;
    int result = WS_OK;
    wsr_wirecheck_init(&wc);
    if (r->deflate_bits)
        wsr_wirecheck_deflate(&wc, r->deflate_bits, r->no_context);
    size_t off = 0;
    while (off < len) {
        size_t n = off == 0 && first ? first : step ? step : len - off;
        if (n > len - off)
            n = len - off;
        int rc = wsr_wirecheck_feed(&wc, buf + off, n);
        if (result != WS_OK)
            CHECK_EQ(rc, WS_OK); /* reported once */
        else
            result = rc;
        off += n;
    }
    *offset = wc.err_offset;
    CHECK_EQ(wc.err, result);
    wsr_wirecheck_free(&wc);
    return result;
}

static void test_rows(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row *r = &rows[i];
        uint8_t buf[256];
        size_t len = unhex(r->hex, buf);
        uint64_t offset = 0;
        current = r->name;
        CHECK_EQ(feed_split(r, buf, len, 0, 0, &offset), r->err);
        if (r->err != WS_OK)
            CHECK_EQ(offset, r->offset);
        CHECK_EQ(feed_split(r, buf, len, 0, 1, &offset), r->err);
        if (r->err != WS_OK)
            CHECK_EQ(offset, r->offset);
        for (size_t cut = 1; cut < len; cut++) {
            CHECK_EQ(feed_split(r, buf, len, cut, 0, &offset), r->err);
            if (r->err != WS_OK)
                CHECK_EQ(offset, r->offset);
        }
    }
}

/* A frame larger than the checker buffers is not judged, and not blamed. */
static void test_too_big_is_not_a_violation(void)
{
    const uint8_t head[] = {0x82, 0x7f, 0, 0, 0, 0, 0x7f, 0, 0, 0};
    wsr_wirecheck wc;
    current = "2 GiB frame";
    wsr_wirecheck_init(&wc);
    CHECK_EQ(wsr_wirecheck_feed(&wc, head, sizeof head), WS_OK);
    CHECK(wc.stopped);
    CHECK_EQ(wc.err, WS_OK);
    wsr_wirecheck_free(&wc);
}

/* Nothing of a frame or a message is kept once it has been judged; a
 * frame still arriving is kept, and judged whole. */
static void test_keeps_nothing_judged(void)
{
    const uint8_t text[] = {0x01, 0x02, 'h', 'i', 0x80, 0x01, '!'};
    const uint8_t bad[] = {0x81, 0x01, 0xff};
    wsr_wirecheck wc;
    current = "frames and messages released";
    wsr_wirecheck_init(&wc);
    CHECK_EQ(wsr_wirecheck_feed(&wc, text, 3), WS_OK); /* mid-payload */
    CHECK(wc.dec.payload != NULL);
    CHECK_EQ(wsr_wirecheck_feed(&wc, text + 3, 1), WS_OK);
    CHECK(wc.dec.payload == NULL);
    CHECK(wc.text != NULL); /* "hi", the message goes on */
    CHECK_EQ(wsr_wirecheck_feed(&wc, text + 4, 3), WS_OK);
    CHECK(wc.dec.payload == NULL);
    CHECK(wc.text == NULL);
    CHECK_EQ(wc.offset, sizeof text);
    current = "a violation releases its frame too";
    CHECK_EQ(wsr_wirecheck_feed(&wc, bad, sizeof bad), WS_ERR_INVALID_UTF8);
    CHECK_EQ(wc.err_offset, sizeof text);
    CHECK(wc.dec.payload == NULL);
    CHECK(wc.text == NULL);
    wsr_wirecheck_free(&wc);
}

static void test_names(void)
{
    current = "names";
    CHECK(strcmp(wsr_wirecheck_name(WS_ERR_INVALID_UTF8), "invalid_utf8") == 0);
    /* the offending frame's opcode, when its header was whole */
    wsr_wirecheck wc;
    const uint8_t close_bad_reason[] = {0x88, 0x03, 0x03, 0xe8, 0xff};
    const uint8_t bad_opcode[] = {0x83, 0x00};
    wsr_wirecheck_init(&wc);
    CHECK_EQ(wsr_wirecheck_feed(&wc, close_bad_reason, sizeof close_bad_reason),
             WS_ERR_INVALID_UTF8);
    CHECK_EQ(wc.err_opcode, 8);
    wsr_wirecheck_free(&wc);
    wsr_wirecheck_init(&wc);
    CHECK_EQ(wsr_wirecheck_feed(&wc, bad_opcode, sizeof bad_opcode),
             WS_ERR_RESERVED_OPCODE);
    CHECK_EQ(wc.err_opcode, -1);
    wsr_wirecheck_free(&wc);
    CHECK(strcmp(wsr_wirecheck_name(WS_ERR_MASKED), "masked") == 0);
    CHECK(strcmp(wsr_wirecheck_name(WS_ERR_BAD_CLOSE_CODE), "bad_close_code") ==
          0);
}

int main(void)
{
    test_rows();
    test_too_big_is_not_a_violation();
    test_keeps_nothing_judged();
    test_names();
    return check_summary("wirecheck");
}
