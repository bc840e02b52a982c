/*
 * test_transcript.c — a transcript kept as text: its fields, its events,
 * the cap on events, and the one text it dumps to.
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
    test_write_file();
    return check_summary("transcript");
}
