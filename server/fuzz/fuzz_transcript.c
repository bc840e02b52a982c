/*
 * fuzz_transcript.c — the transcript writer driven by arbitrary bytes.
 *
 * The input is a list of operations (set a top-level field, add an event
 * with hex bytes or a string, add a frame event, end, set tcp_close) whose
 * strings come from the input and need not be UTF-8. After them the
 * transcript's text must be one JSON object whose events are the ones
 * kept, and complete as set; unless events were dropped, its frame events
 * (runs of like data frames folded into one, with a count) stand for
 * every frame added.
 */
#include "fuzz.h"
#include "transcript.h"

#include <stdlib.h>
#include <string.h>

typedef struct input {
    const uint8_t *p;
    size_t left;
} input;

static uint8_t take_byte(input *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

/* The next 0..31 bytes as a NUL-terminated string (free() it). */
static char *take_string(input *in)
{
    size_t n = take_byte(in) % 32;
    if (n > in->left)
        n = in->left;
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, in->p, n);
    s[n] = '\0';
    in->p += n;
    in->left -= n;
    return s;
}

/* The frames the events stand for: a run's count, 1 for any other. */
static size_t frames_in(json_t *events)
{
    size_t i, n = 0;
    json_t *ev;
    json_array_foreach (events, i, ev) {
        if (!json_object_get(ev, "opcode"))
            continue; /* only frame events have one */
        json_t *count = json_object_get(ev, "count");
        n += count ? (size_t)json_integer_value(count) : 1;
    }
    return n;
}

static void check_text(const wsr_transcript *t, size_t frames)
{
    size_t len;
    char *text = wsr_transcript_dump(t, &len);
    if (!text || strlen(text) != len)
        abort();
    json_t *tree = json_loadb(text, len, 0, NULL);
    json_t *events = json_object_get(tree, "events");
    if (!json_is_object(tree) || json_array_size(events) != t->n_events ||
        json_is_true(json_object_get(tree, "complete")) != t->complete ||
        (!t->dropped && frames_in(events) != frames))
        abort();
    json_decref(tree);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {
        "run", "scenario", "peer", "transport", "tcp_close", "events", "nope"};
    input in = {data, size};
    wsr_transcript t;
    char *peer = take_string(&in);
    int rc = wsr_transcript_init(&t, peer[0] ? peer : NULL);
    free(peer);
    if (rc != 0) /* a peer that is not UTF-8 */
        return 0;
    size_t frames = 0; /* frame events added */
    while (in.left) {
        uint8_t op = take_byte(&in);
        switch ((op & 7) == 7 ? 1 : op & 7) {
        case 0: {
            char *v = take_string(&in);
            (void)wsr_transcript_set(&t, keys[((op >> 3) & 7) % 7],
                                     (op & 0x80) ? NULL : v);
            free(v);
            break;
        }
        case 1: {
            char *type = take_string(&in);
            json_t *ev = wsr_event(&t, (op & 0x80) ? NULL : "in", type);
            size_t n = take_byte(&in);
            size_t max = take_byte(&in);
            if (n > in.left)
                n = in.left;
            wsr_event_hex(ev, in.p, n, max);
            in.p += n;
            in.left -= n;
            wsr_transcript_add(&t, ev);
            free(type);
            break;
        }
        case 2: {
            char *s = take_string(&in);
            json_t *ev = wsr_event(&t, "out", "text");
            json_object_set_new(ev, "text", json_string(s));
            json_object_set_new(ev, "n", json_integer(take_byte(&in)));
            wsr_transcript_add(&t, ev);
            free(s);
            break;
        }
        case 3: {
            char *reason = take_string(&in);
            char *detail = take_string(&in);
            wsr_transcript_end(&t, reason, (op & 0x80) ? NULL : detail);
            free(reason);
            free(detail);
            break;
        }
        case 4:
            (void)wsr_transcript_set_new(
                &t, keys[((op >> 3) & 7) % 7],
                json_pack("{s:s,s:i}", "by", "server", "ms", op));
            break;
        case 5:
            check_text(&t, frames);
            break;
        case 6: {
            /* a frame: opcode (bits 0-3), fin (4), rsv (5-7); its length;
             * its payload's text, as the engine logs them */
            uint8_t h = take_byte(&in);
            size_t length = take_byte(&in);
            char *s = take_string(&in);
            json_t *ev = wsr_event(&t, (op & 0x80) ? "out" : "in", "frame");
            json_object_set_new(ev, "offset", json_integer(take_byte(&in)));
            json_object_set_new(ev, "opcode", json_integer(h & 15));
            json_object_set_new(ev, "fin", json_boolean(h & 16));
            json_object_set_new(ev, "rsv", json_integer(h >> 5));
            json_object_set_new(ev, "length", json_integer((json_int_t)length));
            json_object_set_new(ev, "text", json_string(s));
            wsr_transcript_add(&t, ev);
            frames++;
            free(s);
            break;
        }
        }
    }
    check_text(&t, frames);
    json_t *tree = wsr_transcript_json(&t);
    if (!tree)
        abort();
    json_decref(tree);
    wsr_transcript_free(&t);
    return 0;
}
