/*
 * fuzz_transcript.c — the transcript writer driven by arbitrary bytes.
 *
 * The input is a list of operations (set a top-level field, add an event
 * with hex bytes or a string, end, set tcp_close) whose strings come from
 * the input and need not be UTF-8. After them the transcript's text must
 * be one JSON object whose events are the ones kept, and complete as set.
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

static void check_text(const wsr_transcript *t)
{
    size_t len;
    char *text = wsr_transcript_dump(t, &len);
    if (!text || strlen(text) != len)
        abort();
    json_t *tree = json_loadb(text, len, 0, NULL);
    if (!json_is_object(tree) ||
        json_array_size(json_object_get(tree, "events")) != t->n_events ||
        json_is_true(json_object_get(tree, "complete")) != t->complete)
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
    while (in.left) {
        uint8_t op = take_byte(&in);
        switch ((op & 7) % 6) {
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
            check_text(&t);
            break;
        }
    }
    check_text(&t);
    json_t *tree = wsr_transcript_json(&t);
    if (!tree)
        abort();
    json_decref(tree);
    wsr_transcript_free(&t);
    return 0;
}
