/*
 * test_transcript.c — a transcript kept as text: its fields, its events,
 * runs of like data frames folded into one event, the caps on events (in
 * number and in bytes), and the one text it dumps to.
 *
 * Events are made by hand (no t_us) so the dump can be compared byte for
 * byte; the only clock-made field, "started", is read back and put into
 * the expected text.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "transcript.h"

/* The transcript's text equals want, where "%S" stands for its started
 * field (with its quotes). */
static void check_dump(const wsr_transcript *t, const char *want)
{
    char expect[4096];
    const char *at = strstr(want, "%S");
    if (at)
        snprintf(expect, sizeof expect, "%.*s%s%s", (int)(at - want), want,
                 t->field[WSR_TR_STARTED], at + 2);
    else
        snprintf(expect, sizeof expect, "%s", want);
    size_t len = 0;
    char *text = wsr_transcript_dump(t, &len);
    CHECK(text != NULL);
    CHECK_EQ(len, strlen(expect));
    CHECK(text && strcmp(text, expect) == 0);
    if (text && strcmp(text, expect) != 0)
        fprintf(stderr, "  got:  %s\n  want: %s\n", text, expect);
    free(text);
}

static void test_fresh(void)
{
    wsr_transcript t;
    current = "fresh, no peer: null fields, no events";
    CHECK_EQ(wsr_transcript_init(&t, NULL), 0);
    check_dump(&t, "{\"run\":null,\"scenario\":null,\"peer\":null,"
                   "\"started\":%S,\"complete\":false,\"end\":null,"
                   "\"events\":[]}");
    /* "2026-12-07T17:59:35.214536Z", quoted */
    CHECK_EQ(strlen(t.field[WSR_TR_STARTED]), 29);
    wsr_transcript_free(&t);
    wsr_transcript_free(&t); /* twice is harmless */
    current = "";
}

static void test_fields_and_events(void)
{
    wsr_transcript t;
    current = "every field, in order, events last";
    CHECK_EQ(wsr_transcript_init(&t, "127.0.0.1:4242"), 0);
    CHECK_EQ(wsr_transcript_set(&t, "transport", "ws"), 0);
    CHECK_EQ(wsr_transcript_set(&t, "scenario", "close/x"), 0);
    CHECK_EQ(wsr_transcript_set(&t, "run", "r1"), 0);
    CHECK_EQ(wsr_transcript_set(&t, "run", "r2"), 0); /* replaced */
    wsr_transcript_add(&t, json_pack("{s:s,s:s}", "dir", "in", "type", "a"));
    wsr_transcript_add(&t, NULL); /* out of memory upstream: nothing */
    wsr_transcript_add(&t,
                       json_pack("{s:s,s:[[s,s]],s:s}", "type", "b", "headers",
                                 "Host", "x\"y", "text", "\xc3\xa9\n"));
    CHECK_EQ(t.n_events, 2);
    CHECK_EQ(
        wsr_transcript_set_new(&t, "tcp_close",
                               json_pack("{s:s,s:i,s:n}", "first", "client",
                                         "client_us", 7, "server_us")),
        0);
    wsr_transcript_end(&t, "complete", "steps done");
    wsr_transcript_end(&t, "timeout", "later"); /* the first end wins */
    check_dump(&t, "{\"run\":\"r2\",\"scenario\":\"close/x\","
                   "\"peer\":\"127.0.0.1:4242\",\"transport\":\"ws\","
                   "\"started\":%S,\"complete\":true,"
                   "\"end\":{\"reason\":\"complete\",\"detail\":\"steps "
                   "done\"},"
                   "\"tcp_close\":{\"first\":\"client\",\"client_us\":7,"
                   "\"server_us\":null},"
                   "\"events\":[{\"dir\":\"in\",\"type\":\"a\"},"
                   "{\"type\":\"b\",\"headers\":[[\"Host\",\"x\\\"y\"]],"
                   "\"text\":\"\xc3\xa9\\n\"}]}");

    current = "the tree parsed from the text";
    json_t *tree = wsr_transcript_json(&t);
    CHECK(tree != NULL);
    CHECK_EQ(json_array_size(json_object_get(tree, "events")), 2);
    CHECK(strcmp(json_string_value(json_object_get(tree, "run")), "r2") == 0);
    json_decref(tree);

    current = "unknown keys and bad values are refused, the field stays";
    CHECK_EQ(wsr_transcript_set(&t, "nope", "x"), -1);
    CHECK_EQ(wsr_transcript_set(&t, "events", "x"), -1);
    CHECK_EQ(wsr_transcript_set(&t, "run", "\xff"), -1); /* not UTF-8 */
    CHECK_EQ(wsr_transcript_set_new(&t, "tcp_close", NULL), -1);
    CHECK(strcmp(t.field[WSR_TR_RUN], "\"r2\"") == 0);
    CHECK(strncmp(t.field[WSR_TR_TCP_CLOSE], "{\"first\"", 8) == 0);
    wsr_transcript_free(&t);
    current = "";
}

static void test_cap(void)
{
    wsr_transcript t;
    current = "events past the cap are counted, not kept";
    CHECK_EQ(wsr_transcript_init(&t, "p"), 0);
    for (int i = 0; i < WSR_TRANSCRIPT_MAX_EVENTS + 3; i++)
        wsr_transcript_add(&t, wsr_event(&t, "in", "frame"));
    CHECK_EQ(t.n_events, WSR_TRANSCRIPT_MAX_EVENTS);
    CHECK_EQ(t.dropped, 3);
    json_t *tree = wsr_transcript_json(&t);
    CHECK_EQ(json_array_size(json_object_get(tree, "events")),
             WSR_TRANSCRIPT_MAX_EVENTS);
    CHECK_EQ(json_integer_value(json_object_get(tree, "events_dropped")), 3);
    json_t *cap = json_object_get(tree, "events_cap");
    CHECK_EQ(json_integer_value(json_object_get(cap, "events")),
             WSR_TRANSCRIPT_MAX_EVENTS);
    CHECK_EQ(json_integer_value(json_object_get(cap, "bytes")),
             WSR_TRANSCRIPT_MAX_BYTES);
    json_t *last = json_array_get(json_object_get(tree, "events"),
                                  WSR_TRANSCRIPT_MAX_EVENTS - 1);
    CHECK(strcmp(json_string_value(json_object_get(last, "type")), "frame") ==
          0);
    CHECK(json_integer_value(json_object_get(last, "t_us")) >= 0);
    json_decref(tree);
    /* Doubling from 1 KiB: never more than twice what is used. */
    CHECK(t.events_cap >= t.events_len && t.events_cap < 2 * t.events_len);
    wsr_transcript_free(&t);
    current = "";
}

/* A frame event made by hand: t_us, dir, type, offset, the header fields,
 * and its text. */
static json_t *frame(int t_us, const char *dir, int offset, int opcode,
                     bool fin, int length, const char *text)
{
    return json_pack("{s:i,s:s,s:s,s:i,s:i,s:b,s:i,s:b,s:i,s:s}", "t_us", t_us,
                     "dir", dir, "type", "frame", "offset", offset, "opcode",
                     opcode, "fin", fin, "rsv", 0, "masked", false, "length",
                     length, "text", text);
}

static void test_coalesce(void)
{
    wsr_transcript t;
    current = "a run of like data frames is one event";
    CHECK_EQ(wsr_transcript_init(&t, NULL), 0);
    wsr_transcript_add(&t, frame(1, "out", 0, 1, false, 2, "ab"));
    wsr_transcript_add(&t, frame(2, "out", 4, 0, false, 2, "cd"));
    wsr_transcript_add(&t, frame(3, "out", 8, 0, false, 2, "ef"));
    wsr_transcript_add(&t, frame(4, "out", 12, 0, false, 2, "gh"));
    wsr_transcript_add(&t, frame(5, "out", 16, 0, true, 2, "ij"));
    /* a control frame never joins, and breaks the run */
    wsr_transcript_add(&t, frame(6, "out", 20, 9, true, 0, ""));
    wsr_transcript_add(&t, frame(7, "out", 22, 1, true, 2, "kl"));
    wsr_transcript_add(&t, frame(8, "out", 26, 1, true, 2, "mn"));
    /* the other direction, a length that differs, another event between */
    wsr_transcript_add(&t, frame(9, "in", 0, 1, true, 2, "op"));
    wsr_transcript_add(&t, frame(10, "in", 8, 1, true, 3, "qrs"));
    wsr_transcript_add(&t, json_pack("{s:i,s:s}", "t_us", 11, "type", "x"));
    wsr_transcript_add(&t, frame(12, "in", 17, 1, true, 3, "tuv"));
    wsr_transcript_add(&t, frame(13, "in", 26, 1, true, 3, "wxy"));
    CHECK_EQ(t.n_events, 9);
    CHECK_EQ(t.dropped, 0);
    check_dump(
        &t,
        "{\"run\":null,\"scenario\":null,\"peer\":null,\"started\":%S,"
        "\"complete\":false,\"end\":null,\"events\":["
        "{\"t_us\":1,\"dir\":\"out\",\"type\":\"frame\",\"offset\":0,"
        "\"opcode\":1,\"fin\":false,\"rsv\":0,\"masked\":false,\"length\":2,"
        "\"text\":\"ab\"},"
        "{\"t_us\":2,\"dir\":\"out\",\"type\":\"frame\",\"offset\":4,"
        "\"opcode\":0,\"fin\":false,\"rsv\":0,\"masked\":false,\"length\":2,"
        "\"text\":\"cd\",\"count\":3,\"t_us_last\":4,\"offset_last\":12},"
        "{\"t_us\":5,\"dir\":\"out\",\"type\":\"frame\",\"offset\":16,"
        "\"opcode\":0,\"fin\":true,\"rsv\":0,\"masked\":false,\"length\":2,"
        "\"text\":\"ij\"},"
        "{\"t_us\":6,\"dir\":\"out\",\"type\":\"frame\",\"offset\":20,"
        "\"opcode\":9,\"fin\":true,\"rsv\":0,\"masked\":false,\"length\":0,"
        "\"text\":\"\"},"
        "{\"t_us\":7,\"dir\":\"out\",\"type\":\"frame\",\"offset\":22,"
        "\"opcode\":1,\"fin\":true,\"rsv\":0,\"masked\":false,\"length\":2,"
        "\"text\":\"kl\",\"count\":2,\"t_us_last\":8,\"offset_last\":26},"
        "{\"t_us\":9,\"dir\":\"in\",\"type\":\"frame\",\"offset\":0,"
        "\"opcode\":1,\"fin\":true,\"rsv\":0,\"masked\":false,\"length\":2,"
        "\"text\":\"op\"},"
        "{\"t_us\":10,\"dir\":\"in\",\"type\":\"frame\",\"offset\":8,"
        "\"opcode\":1,\"fin\":true,\"rsv\":0,\"masked\":false,\"length\":3,"
        "\"text\":\"qrs\"},"
        "{\"t_us\":11,\"type\":\"x\"},"
        "{\"t_us\":12,\"dir\":\"in\",\"type\":\"frame\",\"offset\":17,"
        "\"opcode\":1,\"fin\":true,\"rsv\":0,\"masked\":false,\"length\":3,"
        "\"text\":\"tuv\",\"count\":2,\"t_us_last\":13,\"offset_last\":26}"
        "]}");

    current = "a dump shows a run as it stands; the run goes on after it";
    wsr_transcript_add(&t, frame(14, "in", 35, 1, true, 3, "zzz"));
    json_t *mid = wsr_transcript_json(&t);
    json_t *events = json_object_get(mid, "events");
    json_t *last = json_array_get(events, json_array_size(events) - 1);
    CHECK_EQ(json_array_size(events), 9);
    CHECK_EQ(json_integer_value(json_object_get(last, "count")), 3);
    CHECK_EQ(json_integer_value(json_object_get(last, "offset_last")), 35);
    json_decref(mid);
    wsr_transcript_add(&t,
                       json_pack("{s:i,s:s}", "t_us", 15, "type", "closed"));
    mid = wsr_transcript_json(&t);
    events = json_object_get(mid, "events");
    last = json_array_get(events, json_array_size(events) - 2);
    CHECK_EQ(json_array_size(events), 10);
    CHECK_EQ(json_integer_value(json_object_get(last, "count")), 3);
    CHECK_EQ(json_integer_value(json_object_get(last, "t_us_last")), 14);
    json_decref(mid);
    wsr_transcript_free(&t);

    current = "a run of 65536 frames: one event, its text written once";
    CHECK_EQ(wsr_transcript_init(&t, NULL), 0);
    for (int i = 0; i < 65536; i++)
        wsr_transcript_add(&t, frame(i, "out", 66 * i, 0, false, 64, "x"));
    CHECK_EQ(t.n_events, 1);
    CHECK_EQ(t.dropped, 0);
    CHECK(t.events_len < 256);
    json_t *tree = wsr_transcript_json(&t);
    json_t *run = json_array_get(json_object_get(tree, "events"), 0);
    CHECK_EQ(json_integer_value(json_object_get(run, "count")), 65536);
    CHECK_EQ(json_integer_value(json_object_get(run, "t_us_last")), 65535);
    CHECK_EQ(json_integer_value(json_object_get(run, "offset_last")),
             66 * 65535);
    json_decref(tree);
    wsr_transcript_free(&t);
    current = "";
}

/* Adds n events {"type": TYPE, "s": "<len times ch>"}; false if out of
 * memory (the test then stops). */
static bool add_fillers(wsr_transcript *t, int n, const char *type, char ch,
                        size_t len)
{
    char *fill = malloc(len + 1);
    CHECK(fill != NULL);
    if (!fill)
        return false;
    memset(fill, ch, len);
    fill[len] = '\0';
    for (int i = 0; i < n; i++)
        wsr_transcript_add(t, json_pack("{s:s,s:s}", "type", type, "s", fill));
    free(fill);
    return true;
}

static void test_byte_cap(void)
{
    wsr_transcript t;
    current = "events past the byte cap are counted, and all after them";
    CHECK_EQ(wsr_transcript_init(&t, NULL), 0);
    size_t big = 1024 * 1024;
    wsr_transcript_add(&t, frame(0, "out", 0, 1, false, 2, "ab"));
    /* sixteen events of 1 MiB and a few bytes: the sixteenth passes */
    if (!add_fillers(&t, 16, "y", 'x', big))
        return;
    CHECK_EQ(t.n_events, 16);
    CHECK_EQ(t.dropped, 1);
    CHECK(t.events_len <= WSR_TRANSCRIPT_MAX_BYTES);
    /* a small event would fit, but the log is cut: it is dropped too, and
     * so is a frame that would have joined a run */
    wsr_transcript_add(&t, json_pack("{s:s}", "type", "closed"));
    CHECK_EQ(t.dropped, 2);
    CHECK_EQ(t.n_events, 16);
    json_t *tree = wsr_transcript_json(&t);
    CHECK_EQ(json_integer_value(json_object_get(tree, "events_dropped")), 2);
    CHECK_EQ(json_array_size(json_object_get(tree, "events")), 16);
    json_decref(tree);
    wsr_transcript_free(&t);

    current = "a run that grows past the byte cap stops there";
    CHECK_EQ(wsr_transcript_init(&t, NULL), 0);
    if (!add_fillers(&t, 15, "y", 'x', big))
        return;
    /* pad so that a data frame's event and the growth its run may need
     * miss the cap by one byte: it is dropped, though it would fit alone */
    json_t *probe = frame(0, "in", 0, 2, true, 8, "12345678");
    char *probe_text = json_dumps(probe, JSON_COMPACT);
    size_t first = strlen(probe_text) + 1; /* and its comma */
    free(probe_text);
    json_decref(probe);
    const size_t pad_event = strlen(",{\"type\":\"z\",\"s\":\"\"}");
    size_t room = first + WSR_TRANSCRIPT_RUN_GROWTH - 1;
    size_t pad = WSR_TRANSCRIPT_MAX_BYTES - room - t.events_len - pad_event;
    if (!add_fillers(&t, 1, "z", 'z', pad))
        return;
    CHECK_EQ(t.events_len, WSR_TRANSCRIPT_MAX_BYTES - room);
    wsr_transcript_add(&t, frame(0, "in", 0, 2, true, 8, "12345678"));
    CHECK_EQ(t.n_events, 16);
    CHECK_EQ(t.dropped, 1);
    CHECK_EQ(t.events_len, WSR_TRANSCRIPT_MAX_BYTES - room);
    wsr_transcript_free(&t);

    current = "a run charged its growth up front never passes the cap";
    CHECK_EQ(wsr_transcript_init(&t, NULL), 0);
    if (!add_fillers(&t, 15, "y", 'x', big))
        return;
    room = first + WSR_TRANSCRIPT_RUN_GROWTH; /* exactly enough */
    pad = WSR_TRANSCRIPT_MAX_BYTES - room - t.events_len - pad_event;
    if (!add_fillers(&t, 1, "z", 'z', pad))
        return;
    for (int i = 0; i < 100000; i++)
        wsr_transcript_add(&t, frame(i, "in", 14 * i, 2, true, 8, "12345678"));
    CHECK_EQ(t.n_events, 17);
    CHECK_EQ(t.dropped, 0);
    wsr_transcript_add(&t, json_pack("{s:s}", "type", "closed"));
    CHECK_EQ(t.dropped, 0); /* what the run did not use is free again */
    CHECK(t.events_len <= WSR_TRANSCRIPT_MAX_BYTES);
    tree = wsr_transcript_json(&t);
    CHECK(tree != NULL);
    json_t *events = json_object_get(tree, "events");
    json_t *run = json_array_get(events, json_array_size(events) - 2);
    CHECK_EQ(json_integer_value(json_object_get(run, "count")), 100000);
    CHECK_EQ(json_integer_value(json_object_get(run, "offset_last")),
             14 * 99999);
    json_decref(tree);
    wsr_transcript_free(&t);
    current = "";
}

static void test_write_file(void)
{
    char dir[] = "/tmp/wsr-test-transcript-XXXXXX";
    current = "write_file: the text, whole, under its name";
    CHECK(mkdtemp(dir) != NULL);
    const char *text = "{\"run\":\"r\"}";
    CHECK_EQ(wsr_transcript_write_file(dir, "r-1", text, strlen(text)), 0);
    char path[512], got[64] = "";
    snprintf(path, sizeof path, "%s/r-1.json", dir);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        size_t n = fread(got, 1, sizeof got - 1, f);
        got[n] = '\0';
        fclose(f);
    }
    CHECK(strcmp(got, text) == 0);
    unlink(path);
    current = "write_file: a folder that is not there";
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK_EQ(wsr_transcript_write_file(path, "r-1", text, strlen(text)), -1);
    rmdir(dir);
    current = "";
}

int main(void)
{
    test_fresh();
    test_fields_and_events();
    test_cap();
    test_coalesce();
    test_byte_cap();
    test_write_file();
    return check_summary("transcript");
}
