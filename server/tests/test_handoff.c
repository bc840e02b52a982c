/*
 * test_handoff.c — which targets a handed-over connection may be routed
 * by (handoff.h), without sockets.
 *
 * Table-driven: each row a target and whether the check takes it; the
 * datagrams themselves (descriptors, peers) are tested on the wire by
 * harness/tests/test_server_handoff.py.
 */
#include <string.h>

#include "check.h"
#include "handoff.h"

typedef struct target_row {
    const char *name;
    const char *target;
    size_t len; /* 0: strlen(target) */
    bool ok;
} target_row;

/* clang-format off */
static const target_row rows[] = {
    {"a scenario", "/close/send-then-close", 0, true},
    {"with a run", "/close/send-then-close?run=ab-websockets-17", 0, true},
    {"the root", "/", 0, true},
    {"percent-encoded", "/a%20b?run=x", 0, true},
    {"empty", "", 0, false},
    {"no leading slash", "close/send-then-close", 0, false},
    {"absolute URL", "http://127.0.0.1/close", 0, false},
    {"a space", "/close send", 0, false},
    {"a tab", "/close\tsend", 0, false},
    {"CR LF smuggled", "/a\r\nHost: x", 0, false},
    {"DEL", "/a\x7f", 0, false},
    {"a byte over 0x7f", "/caf\xc3\xa9", 0, false},
    {"a NUL inside", "/a\0b", 4, false},
};
/* clang-format on */

static void test_rows(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const target_row *r = &rows[i];
        const char *why = NULL;
        current = r->name;
        size_t len = r->len ? r->len : strlen(r->target);
        bool ok = wsr_handoff_target_ok(r->target, len, &why);
        CHECK(ok == r->ok);
        CHECK(ok || (why && why[0])); /* a refusal always says why */
    }
}

/* The length bound: exactly the maximum passes, one byte more does not. */
static void test_length(void)
{
    char *t = xmalloc(WSR_HANDOFF_TARGET_MAX + 2);
    const char *why = NULL;
    memset(t, 'a', WSR_HANDOFF_TARGET_MAX + 1);
    t[0] = '/';
    current = "2048 bytes";
    CHECK(wsr_handoff_target_ok(t, WSR_HANDOFF_TARGET_MAX, &why));
    current = "2049 bytes";
    CHECK(!wsr_handoff_target_ok(t, WSR_HANDOFF_TARGET_MAX + 1, &why));
    CHECK(why && strstr(why, "longer"));
    free(t);
}

int main(void)
{
    test_rows();
    test_length();
    return check_summary("handoff");
}
