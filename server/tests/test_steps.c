/*
 * test_steps.c — the step program's decisions, without sockets.
 *
 * Table-driven: each row is what the client has sent and the step that
 * waits for it, with the result the transcript must show; then the pieces
 * of split write groups, the ACK wait, jitter, which side closed first,
 * and how request targets are told apart.
 */
#include <string.h>

#include "check.h"
#include "steps.h"

typedef struct await_row {
    const char *name;
    enum wsr_await_what what;
    unsigned count;
    wsr_input_seen in;
    const char *result; /* NULL: keep waiting */
} await_row;

/* clang-format off */
static const await_row await_rows[] = {
    {"close not yet", WSR_AWAIT_CLOSE, 0, {0}, NULL},
    {"close arrived", WSR_AWAIT_CLOSE, 0, {.close = true}, "ok"},
    {"close and eof: met wins", WSR_AWAIT_CLOSE, 0,
     {.close = true, .eof = true}, "ok"},
    {"eof before close", WSR_AWAIT_CLOSE, 0, {.eof = true}, "eof"},
    {"2 of 3 messages", WSR_AWAIT_MESSAGES, 3, {.msgs = 2}, NULL},
    {"3 of 3 messages", WSR_AWAIT_MESSAGES, 3, {.msgs = 3}, "ok"},
    {"more messages than asked", WSR_AWAIT_MESSAGES, 3, {.msgs = 5}, "ok"},
    {"messages cut short by eof", WSR_AWAIT_MESSAGES, 3,
     {.msgs = 1, .eof = true}, "eof"},
    /* "message" counts from the step's start, not from the session's */
    {"no new message", WSR_AWAIT_MESSAGE, 0,
     {.msgs = 4, .msgs_at_step = 4}, NULL},
    {"one new message", WSR_AWAIT_MESSAGE, 0,
     {.msgs = 5, .msgs_at_step = 4}, "ok"},
    {"ping counted", WSR_AWAIT_PING, 2, {.pings = 2}, "ok"},
    {"pong is not a ping", WSR_AWAIT_PING, 1, {.pongs = 1}, NULL},
    {"pong counted", WSR_AWAIT_PONG, 1, {.pongs = 1}, "ok"},
    {"a close is not an eof", WSR_AWAIT_EOF, 0, {.close = true}, NULL},
    {"eof awaited", WSR_AWAIT_EOF, 0, {.eof = true}, "ok"},
};
/* clang-format on */

static void check_str(const char *got, const char *want)
{
    CHECK((got == NULL) == (want == NULL));
    if (got && want)
        CHECK(strcmp(got, want) == 0);
}

static void test_awaits(void)
{
    for (size_t i = 0; i < sizeof await_rows / sizeof *await_rows; i++) {
        const await_row *r = &await_rows[i];
        wsr_step st = {
            .kind = WSR_STEP_AWAIT, .await_what = r->what, .count = r->count};
        current = r->name;
        check_str(wsr_await_result(&st, &r->in), r->result);
    }
    current = "";
}

static void test_echo(void)
{
    wsr_input_seen in = {.msgs = 3, .pings = 1};
    current = "echo";
    check_str(wsr_echo_result(&in), NULL);
    in.eof = true;
    check_str(wsr_echo_result(&in), "eof");
    in.close = true; /* the close frame is the better answer */
    check_str(wsr_echo_result(&in), "close");
    current = "";
}

static void test_names(void)
{
    current = "names";
    check_str(wsr_step_name(WSR_STEP_WRITE), "write");
    check_str(wsr_step_name(WSR_STEP_TLS), "tls");
    check_str(wsr_step_name(WSR_STEP_ABORT), "abort");
    check_str(wsr_await_name(WSR_AWAIT_MESSAGES), "messages");
    check_str(wsr_await_name(WSR_AWAIT_EOF), "eof");
    /* Steps that put bytes or an ending on the wire wait for the echo. */
    CHECK(wsr_step_needs_empty_output(WSR_STEP_WRITE));
    CHECK(wsr_step_needs_empty_output(WSR_STEP_SHUTDOWN));
    CHECK(wsr_step_needs_empty_output(WSR_STEP_TLS));
    CHECK(wsr_step_needs_empty_output(WSR_STEP_ABORT));
    CHECK(!wsr_step_needs_empty_output(WSR_STEP_DELAY));
    CHECK(!wsr_step_needs_empty_output(WSR_STEP_AWAIT));
    CHECK(!wsr_step_needs_empty_output(WSR_STEP_ECHO));
    CHECK(!wsr_step_needs_empty_output(WSR_STEP_READ));
    current = "";
}

/* Cuts a group of total bytes as session.c does; the pieces must add up
 * to the group and end exactly at the split offsets. */
static void test_pieces(void)
{
    static const size_t split[] = {2, 3, 10};
    size_t lens[8], n = 0, off = 0, total = 24;
    current = "split at 2, 3, 10";
    while (off < total && n < 8) {
        size_t len = wsr_piece_len(split, 3, 0, n, off, total - off);
        lens[n++] = len;
        off += len;
    }
    CHECK_EQ(n, 4);
    CHECK_EQ(lens[0], 2);
    CHECK_EQ(lens[1], 1);
    CHECK_EQ(lens[2], 7);
    CHECK_EQ(lens[3], 14);
    CHECK_EQ(off, total);

    current = "unsplit";
    CHECK_EQ(wsr_piece_len(NULL, 0, 0, 0, 0, 24), 24);
    current = "every byte";
    for (size_t i = 0; i < 5; i++)
        CHECK_EQ(wsr_piece_len(NULL, 0, 1, i, i, 5 - i), 1);
    /* every 10 bytes of 24: 10, 10, then the 4 left */
    current = "every 10";
    n = 0;
    off = 0;
    while (off < total && n < 8) {
        size_t len = wsr_piece_len(NULL, 0, 10, n, off, total - off);
        lens[n++] = len;
        off += len;
    }
    CHECK_EQ(n, 3);
    CHECK_EQ(lens[0], 10);
    CHECK_EQ(lens[1], 10);
    CHECK_EQ(lens[2], 4);
    current = "every N above the group";
    CHECK_EQ(wsr_piece_len(NULL, 0, 997, 0, 0, 24), 24);
    current = "";
}

/* The round-trip summary's median: the middle value, the lower middle one
 * of an even count. */
static void test_median(void)
{
    static const uint64_t one[] = {7}, odd[] = {1, 5, 9},
                          even[] = {1, 2, 30, 40};
    current = "median";
    CHECK_EQ(wsr_median_sorted(one, 1), 7);
    CHECK_EQ(wsr_median_sorted(odd, 3), 5);
    CHECK_EQ(wsr_median_sorted(even, 4), 2);
    current = "";
}

static void test_ack(void)
{
    current = "ack";
    CHECK(!wsr_ack_wait_more(0, 0, 1000)); /* acked at once */
    CHECK(wsr_ack_wait_more(24, 0, 1000)); /* still queued */
    CHECK(wsr_ack_wait_more(24, 999, 1000));
    CHECK(!wsr_ack_wait_more(24, 1000, 1000)); /* ack_timeout */
    CHECK(!wsr_ack_wait_more(0, 5000, 1000));
    current = "";
}

static void test_jitter(void)
{
    current = "jitter";
    CHECK_EQ(wsr_jittered(100, 0, 12345), 100); /* no jitter: exact */
    CHECK_EQ(wsr_jittered(100, 10, 0), 100);
    CHECK_EQ(wsr_jittered(100, 10, 10), 110); /* the top is inclusive */
    CHECK_EQ(wsr_jittered(100, 10, 11), 100);
    CHECK_EQ(wsr_jittered(0, 4294967295u, 7), 7); /* 2^32 values: any r */
    for (uint32_t r = 0; r < 1000; r++) {
        unsigned ms = wsr_jittered(50, 7, r * 2654435761u);
        CHECK(ms >= 50 && ms <= 57);
    }
    current = "";
}

static void test_first_closer(void)
{
    current = "first closer";
    check_str(wsr_first_closer(-1, -1), NULL);
    check_str(wsr_first_closer(100, -1), "client");
    check_str(wsr_first_closer(-1, 100), "server");
    check_str(wsr_first_closer(99, 100), "client");
    check_str(wsr_first_closer(101, 100), "server");
    check_str(wsr_first_closer(100, 100), "server"); /* a tie */
    check_str(wsr_first_closer(0, 0), "server");
    current = "";
}

typedef struct target_row {
    const char *target;
    enum wsr_target_kind kind;
    const char *name;
    const char *query; /* NULL: no '?' */
} target_row;

/* clang-format off */
static const target_row target_rows[] = {
    {"/close/send-then-close?run=r1-7", WSR_TARGET_SCENARIO,
     "close/send-then-close", "run=r1-7"},
    {"/close/send-then-close", WSR_TARGET_SCENARIO, "close/send-then-close",
     NULL},
    {"/a?", WSR_TARGET_SCENARIO, "a", ""},
    {"/a?x=1?y", WSR_TARGET_SCENARIO, "a", "x=1?y"},
    {"/_runs/r1-7", WSR_TARGET_CONTROL, "r1-7", NULL},
    {"/_runs/r1?x", WSR_TARGET_CONTROL, "r1", "x"},
    {"/_runs/", WSR_TARGET_CONTROL, "", NULL},
    {"/_runs", WSR_TARGET_SCENARIO, "_runs", NULL},
    {"/", WSR_TARGET_NO_SCENARIO, "", NULL},
    {"/?run=a", WSR_TARGET_NO_SCENARIO, "", "run=a"},
    {"", WSR_TARGET_NO_SCENARIO, "", NULL},
    {"*", WSR_TARGET_NO_SCENARIO, "", NULL},
    {"http://host/a", WSR_TARGET_NO_SCENARIO, "", NULL},
};
/* clang-format on */

static void test_targets(void)
{
    for (size_t i = 0; i < sizeof target_rows / sizeof *target_rows; i++) {
        const target_row *r = &target_rows[i];
        wsr_target t;
        current = r->target;
        wsr_target_parse(r->target, strlen(r->target), &t);
        CHECK_EQ(t.kind, r->kind);
        CHECK_EQ(t.name_len, strlen(r->name));
        CHECK(memcmp(t.name, r->name, t.name_len) == 0);
        CHECK((t.query == NULL) == (r->query == NULL));
        if (t.query && r->query) {
            CHECK_EQ(t.query_len, strlen(r->query));
            CHECK(memcmp(t.query, r->query, t.query_len) == 0);
        }
    }
    current = "";
}

/* Every piece the cutter gives for p[0..len), fed as the engine feeds it:
 * lens gets their lengths; returns how many. */
static size_t cut_all(wsr_cutter *c, const uint8_t *p, size_t len, bool hp,
                      size_t *lens, size_t max)
{
    size_t n = 0;
    while (len > 0 && n < max) {
        size_t k = wsr_cutter_next(c, p, len, hp);
        wsr_cutter_feed(c, p, k);
        lens[n++] = k;
        p += k;
        len -= k;
    }
    return n;
}

static void test_cutter(void)
{
    /* text "hi"; masked "x"; 16-bit form of 1 byte; 64-bit form of 300
     * (cut short: the group ends inside its payload); */
    uint8_t g[2 + 2 + 2 + 4 + 1 + 4 + 1 + 10 + 300];
    size_t at = 0;
    memcpy(g + at, "\x81\x02hi", 4);
    at += 4;
    memcpy(g + at, "\x81\x81\x01\x02\x03\x04\x79", 7);
    at += 7;
    memcpy(g + at, "\x81\x7e\x00\x01z", 5);
    at += 5;
    memcpy(g + at, "\x82\x7f\x00\x00\x00\x00\x00\x00\x01\x2c", 10);
    at += 10;
    memset(g + at, 'a', 100);
    at += 100;
    size_t lens[16], n;
    wsr_cutter c = {0};

    current = "frames";
    n = cut_all(&c, g, at, false, lens, 16);
    CHECK_EQ(n, 4);
    CHECK_EQ(lens[0], 4);
    CHECK_EQ(lens[1], 7);
    CHECK_EQ(lens[2], 5);
    CHECK_EQ(lens[3], 110); /* the group ends inside the payload */
    /* the next group goes on inside it: 200 more bytes end the frame */
    memset(g, 'b', 200);
    memcpy(g + 200, "\x89\x00", 2);
    n = cut_all(&c, g, 202, false, lens, 16);
    CHECK_EQ(n, 2);
    CHECK_EQ(lens[0], 200);
    CHECK_EQ(lens[1], 2);

    current = "header-payload";
    memset(&c, 0, sizeof c);
    memcpy(g, "\x81\x02hi\x81\x81\x01\x02\x03\x04\x79\x88\x00", 13);
    n = cut_all(&c, g, 13, true, lens, 16);
    CHECK_EQ(n, 5);
    CHECK_EQ(lens[0], 2);
    CHECK_EQ(lens[1], 2);
    CHECK_EQ(lens[2], 6);
    CHECK_EQ(lens[3], 1);
    CHECK_EQ(lens[4], 2); /* no payload: one piece */

    current = "a header cut across groups";
    memset(&c, 0, sizeof c);
    n = cut_all(&c, (const uint8_t *)"\x81\x7e\x00", 3, true, lens, 16);
    CHECK_EQ(n, 1);
    CHECK_EQ(lens[0], 3);
    n = cut_all(&c, (const uint8_t *)"\x02okX", 4, true, lens, 16);
    CHECK_EQ(n, 3);
    CHECK_EQ(lens[0], 1); /* the header's last byte */
    CHECK_EQ(lens[1], 2);
    CHECK_EQ(lens[2], 1);

    current = "variant names";
    enum wsr_vary v = WSR_VARY_NONE;
    CHECK(wsr_vary_parse("every-byte", 10, &v));
    CHECK_EQ(v, WSR_VARY_EVERY_BYTE);
    CHECK(!wsr_vary_parse("every-bytes", 11, &v));
    CHECK(!wsr_vary_parse("", 0, &v));
    CHECK(wsr_vary_parse("tls-record-per-byte", 19, &v));
    CHECK(wsr_vary_tls_only(v));
    CHECK(!wsr_vary_tls_only(WSR_VARY_GAPS));
    CHECK(strcmp(wsr_vary_name(WSR_VARY_HEADER_PAYLOAD), "header-payload") ==
          0);
    CHECK(wsr_vary_name(WSR_VARY_NONE) == NULL);
    current = "";
}

int main(void)
{
    test_awaits();
    test_echo();
    test_names();
    test_pieces();
    test_median();
    test_ack();
    test_jitter();
    test_first_closer();
    test_targets();
    test_cutter();
    return check_summary("steps");
}
