/*
 * scenario_meta.c — checks of what the server never runs: client knobs,
 * expectations, descriptive fields. They share the loader's rules (unknown
 * keys are errors, every error has a JSON path) so that a file the server
 * accepts is one the harness can run without second-guessing it.
 */
#include "scenario_meta.h"

#include <stdint.h>
#include <stdlib.h>

#include "payload.h"
#include "scenario.h"

/* ---- client knobs ------------------------------------------------------ */

/*
 * Every knob with its default, written here and nowhere else: the loader's
 * normalized form (--check --json) hands complete knobs to the harness, and
 * the harness hands them to the adapters. Integer knobs carry their range
 * (hi 0: not an integer knob).
 */
static const struct client_knob {
    const char *name;
    const char *default_json;
    long long lo, hi;
} client_knobs[] = {
    {"recv_delay_ms", "0", 0, WSR_MAX_MS},
    {"recv_pace_ms", "0", 0, WSR_MAX_MS},
    {"recv_timeout_ms", "3000", 1, WSR_MAX_MS},
    {"max_messages", "1000", 1, 10 * WSR_MAX_COUNT},
    {"echo", "false", 0, 0},
    {"send", "[]", 0, 0},
    {"close_first", "null", 0, 0},
    {"subprotocols", "[]", 0, 0},
    {"compression", "\"default\"", 0, 0},
};
#define N_CLIENT_KNOBS (sizeof client_knobs / sizeof *client_knobs)

/*
 * close_first's own parts, complete too, so no adapter guesses them: no
 * code is the library's own close (null), no reason is "", and with neither
 * after_messages nor after_ms the close comes right after open. A copy: the
 * scenario's document keeps what the file said.
 */
static int complete_close_first(json_t *knobs)
{
    json_t *given = json_object_get(knobs, "close_first");
    if (!json_is_object(given))
        return 0;
    json_t *cf = json_deep_copy(given);
    if (!cf)
        return -1;
    int rc = 0;
    if (!json_object_get(cf, "code"))
        rc |= json_object_set_new(cf, "code", json_null());
    if (!json_object_get(cf, "reason"))
        rc |= json_object_set_new(cf, "reason", json_string(""));
    if (!json_object_get(cf, "after_messages") &&
        !json_object_get(cf, "after_ms"))
        rc |= json_object_set_new(cf, "after_messages", json_integer(0));
    if (rc != 0) {
        json_decref(cf);
        return -1;
    }
    return json_object_set_new(knobs, "close_first", cf);
}

json_t *wsr_client_knobs(json_t *given)
{
    json_t *knobs = json_object();
    for (size_t i = 0; knobs && i < N_CLIENT_KNOBS; i++) {
        json_t *def =
            json_loads(client_knobs[i].default_json, JSON_DECODE_ANY, NULL);
        if (json_object_set_new(knobs, client_knobs[i].name, def) != 0) {
            json_decref(knobs);
            return NULL;
        }
    }
    if (knobs && given && json_object_update(knobs, given) != 0) {
        json_decref(knobs);
        return NULL;
    }
    if (knobs && complete_close_first(knobs) != 0) {
        json_decref(knobs);
        return NULL;
    }
    return knobs;
}

/* One item of the client's `send` knob: exactly one of text, hex, ping. */
static bool check_client_send_item(jc_ctx *v, json_t *el, size_t i, void *arg)
{
    static const char *const keys[] = {"text", "hex", "ping", NULL};
    (void)i;
    (void)arg;
    if (!json_is_object(el)) {
        jc_fail(v, "expected an object, got %s", jc_type_name(el));
        return false;
    }
    if (!jc_check_keys(v, el, keys))
        return false;
    if (json_object_size(el) != 1) {
        jc_fail(v, "expected exactly one of 'text', 'hex' or 'ping'");
        return false;
    }
    json_t *h = jc_want(v, el, "hex", JSON_STRING, false);
    jc_want(v, el, "text", JSON_STRING, false);
    jc_want(v, el, "ping", JSON_STRING, false);
    if (h && !v->failed) {
        uint8_t *buf = NULL;
        size_t len;
        if (wsr_payload_hex(v, "hex", json_string_value(h), &buf, &len))
            free(buf);
    }
    return !v->failed;
}

static bool check_client_close_first(jc_ctx *v, json_t *c)
{
    static const char *const keys[] = {"code", "reason", "after_messages",
                                       "after_ms", NULL};
    json_t *cf = json_object_get(c, "close_first");
    if (!cf || json_is_null(cf))
        return true;
    size_t m = jc_push_key(v, "close_first");
    long long x;
    if (!json_is_object(cf))
        jc_fail(v, "expected an object or null, got %s", jc_type_name(cf));
    else if (jc_check_keys(v, cf, keys)) {
        json_t *code = json_object_get(cf, "code");
        if (code && !json_is_null(code))
            jc_want_int(v, cf, "code", 1000, 4999, &x);
        jc_want(v, cf, "reason", JSON_STRING, false);
        if (json_object_get(cf, "after_messages") &&
            json_object_get(cf, "after_ms"))
            jc_fail(v, "give at most one of 'after_messages' and 'after_ms'");
        if (!v->failed && json_object_get(cf, "after_messages"))
            jc_want_int(v, cf, "after_messages", 0, 10 * WSR_MAX_COUNT, &x);
        if (!v->failed && json_object_get(cf, "after_ms"))
            jc_want_int(v, cf, "after_ms", 0, WSR_MAX_MS, &x);
    }
    jc_pop(v, m);
    return !v->failed;
}

bool wsr_check_pmd_object(jc_ctx *v, json_t *obj, bool offer,
                          wsr_pmd_params *out)
{
    static const char *const keys[] = {
        "server_no_context_takeover", "client_no_context_takeover",
        "server_max_window_bits", "client_max_window_bits", NULL};
    wsr_pmd_params p = {0};
    long long x = 0;
    if (!jc_check_keys(v, obj, keys))
        return false;
    for (int i = 0; i < 2; i++) {
        json_t *b = jc_want(v, obj, keys[i], JSON_TRUE, false);
        *(i ? &p.client_no_context_takeover : &p.server_no_context_takeover) =
            b && json_is_true(b);
    }
    if (!v->failed && json_object_get(obj, keys[2]) &&
        jc_want_int(v, obj, keys[2], 8, 15, &x))
        p.server_max_window_bits = (int)x;
    json_t *c = json_object_get(obj, keys[3]);
    if (!v->failed && offer && json_is_true(c))
        p.client_max_window_bits = WSR_PMD_BITS_NO_VALUE;
    else if (!v->failed && c && !json_is_integer(c))
        jc_fail_at(v, keys[3], "expected an integer 8..15%s, got %s",
                   offer ? " or true" : "", jc_type_name(c));
    else if (!v->failed && c && jc_want_int(v, obj, keys[3], 8, 15, &x))
        p.client_max_window_bits = (int)x;
    if (out && !v->failed)
        *out = p;
    return !v->failed;
}

/* "compression": "default", "off", "on", or the offer (an object). */
static bool check_client_compression(jc_ctx *v, json_t *c)
{
    static const char *const words[] = {"default", "off", "on", NULL};
    json_t *j = json_object_get(c, "compression");
    if (!j || json_is_string(j))
        return jc_want_enum(v, c, "compression", words, false);
    size_t m = jc_push_key(v, "compression");
    if (!json_is_object(j))
        jc_fail(v,
                "expected \"default\", \"off\", \"on\" or an object, "
                "got %s",
                jc_type_name(j));
    else
        wsr_check_pmd_object(v, j, true, NULL);
    jc_pop(v, m);
    return !v->failed;
}

/* The integer knobs, each within its range. */
static bool check_client_ints(jc_ctx *v, json_t *c)
{
    long long x;
    for (size_t i = 0; i < N_CLIENT_KNOBS && !v->failed; i++) {
        const struct client_knob *k = &client_knobs[i];
        if (k->hi && json_object_get(c, k->name))
            jc_want_int(v, c, k->name, k->lo, k->hi, &x);
    }
    return !v->failed;
}

static bool check_client_knobs(jc_ctx *v, json_t *c)
{
    const char *keys[N_CLIENT_KNOBS + 1];
    for (size_t i = 0; i < N_CLIENT_KNOBS; i++)
        keys[i] = client_knobs[i].name;
    keys[N_CLIENT_KNOBS] = NULL;
    if (!jc_check_keys(v, c, keys) || !check_client_ints(v, c))
        return false;
    jc_want(v, c, "echo", JSON_TRUE, false);
    if (!v->failed)
        jc_want_string_array(v, c, "subprotocols", false);
    json_t *send = v->failed ? NULL : jc_want(v, c, "send", JSON_ARRAY, false);
    if (send)
        jc_each(v, send, "send", check_client_send_item, NULL);
    if (!v->failed)
        check_client_close_first(v, c);
    if (!v->failed)
        check_client_compression(v, c);
    return !v->failed;
}

bool wsr_check_client(jc_ctx *v, json_t *root)
{
    json_t *c = jc_want(v, root, "client", JSON_OBJECT, false);
    if (!c)
        return !v->failed;
    size_t m = jc_push_key(v, "client");
    check_client_knobs(v, c);
    jc_pop(v, m);
    return !v->failed;
}

/* ---- expectations ------------------------------------------------------ */

/* The checks an expectation can make; severity_by_check names them too. */
static const char *const expect_keys[] = {
    "messages",    "close",           "client_close",  "connected",
    "client_pong", "client_messages", "deflate",       "client_pongs",
    "round_trips", "fail_fast",       "tcp_closed_by", "close_clean",
    NULL};

/* One expected message: {"text"|"hex", "count"?} or hex given as a
 * pattern cut to a size. */
static bool check_expected_message(jc_ctx *v, json_t *msg)
{
    static const char *const keys[] = {"text",    "hex",  "count",
                                       "pattern", "size", NULL};
    long long x;
    if (!json_is_object(msg)) {
        jc_fail(v, "expected an object, got %s", jc_type_name(msg));
        return false;
    }
    if (!jc_check_keys(v, msg, keys))
        return false;
    bool text = json_object_get(msg, "text"), hex = json_object_get(msg, "hex");
    if (text == hex) {
        jc_fail(v, "expected exactly one of 'text' or 'hex'");
        return false;
    }
    jc_want(v, msg, "text", JSON_STRING, false);
    json_t *h = jc_want(v, msg, "hex", JSON_STRING, false);
    bool pattern =
        json_object_get(msg, "pattern") || json_object_get(msg, "size");
    uint8_t *buf = NULL;
    size_t len;
    if (h && !pattern &&
        wsr_payload_hex(v, "hex", json_string_value(h), &buf, &len))
        free(buf);
    /* The same rules as a write item's pattern; nothing is built. */
    if (!v->failed && pattern)
        wsr_payload_pattern_size(v, msg, &len);
    if (!v->failed && json_object_get(msg, "count"))
        jc_want_int(v, msg, "count", 1, WSR_MAX_COUNT, &x);
    return !v->failed;
}

static bool check_expected_element(jc_ctx *v, json_t *el, size_t i, void *arg)
{
    (void)i;
    (void)arg;
    return check_expected_message(v, el);
}

/* A list of expected messages under key, if there is one. */
static bool check_expected_messages(jc_ctx *v, json_t *e, const char *key)
{
    json_t *msgs = jc_want(v, e, key, JSON_ARRAY, false);
    if (!msgs)
        return !v->failed;
    return jc_each(v, msgs, key, check_expected_element, NULL);
}

/* One element of a list of acceptable codes. */
static bool check_code_element(jc_ctx *v, json_t *el, size_t i, void *arg)
{
    bool null_ok = *(const bool *)arg;
    (void)i;
    if (json_is_null(el) && null_ok)
        return true; /* "no code" is one of the acceptable outcomes */
    if (!json_is_integer(el) || json_integer_value(el) < 0 ||
        json_integer_value(el) > 65535)
        jc_fail(v, "expected an integer 0..65535%s, got %s",
                null_ok ? " or null" : "", jc_type_name(el));
    return !v->failed;
}

/* "code": an integer, null (none), or a non-empty list of integers. */
static bool check_code(jc_ctx *v, json_t *obj, bool null_ok)
{
    json_t *code = json_object_get(obj, "code");
    long long x;
    if (!code) {
        jc_fail(v, "missing 'code' (an integer%s, or a list of them)",
                null_ok ? ", null for none" : "");
        return false;
    }
    if (json_is_null(code) && null_ok)
        return true;
    if (!json_is_array(code))
        return jc_want_int(v, obj, "code", 0, 65535, &x);
    if (json_array_size(code) == 0) {
        jc_fail_at(v, "code", "an empty list accepts no code");
        return false;
    }
    return jc_each(v, code, "code", check_code_element, &null_ok);
}

static bool check_expect_close(jc_ctx *v, json_t *e)
{
    static const char *const ckeys[] = {"code", "reason", NULL};
    json_t *close = jc_want(v, e, "close", JSON_OBJECT, false);
    if (!close)
        return !v->failed;
    size_t m = jc_push_key(v, "close");
    if (jc_check_keys(v, close, ckeys) && check_code(v, close, true))
        jc_want(v, close, "reason", JSON_STRING, false);
    jc_pop(v, m);
    return !v->failed;
}

/* e[key]: absent or false (no such expectation), or an object that check
 * accepts. */
static bool check_object_or_false(jc_ctx *v, json_t *e, const char *key,
                                  bool (*check)(jc_ctx *, json_t *))
{
    json_t *j = json_object_get(e, key);
    if (!j || json_is_false(j))
        return true;
    size_t m = jc_push_key(v, key);
    if (!json_is_object(j))
        jc_fail(v, "expected an object or false, got %s", jc_type_name(j));
    else
        check(v, j);
    jc_pop(v, m);
    return !v->failed;
}

/* "client_close": {"code"?}: how the client itself should close. */
static bool check_client_close(jc_ctx *v, json_t *cc)
{
    static const char *const ckeys[] = {"code", NULL};
    if (jc_check_keys(v, cc, ckeys) && json_object_get(cc, "code"))
        check_code(v, cc, false);
    return !v->failed;
}

/* The checks of an expectation object e (the scenario's "expect", or
 * "echo_mode.expect"), its keys from keys. */
static bool check_expect_fields(jc_ctx *v, json_t *e, const char *const *keys)
{
    if (jc_check_keys(v, e, keys) &&
        check_expected_messages(v, e, "messages") && check_expect_close(v, e) &&
        check_object_or_false(v, e, "client_close", check_client_close)) {
        jc_want(v, e, "connected", JSON_TRUE, false);
        jc_want(v, e, "upgraded", JSON_TRUE, false);
        jc_want(v, e, "deflate", JSON_TRUE, false);
        if (!v->failed &&
            check_object_or_false(v, e, "client_pong", check_expected_message))
            check_expected_messages(v, e, "client_messages");
        if (!v->failed)
            check_expected_messages(v, e, "client_pongs");
        if (!v->failed) {
            jc_want(v, e, "round_trips", JSON_TRUE, false);
            jc_want(v, e, "fail_fast", JSON_TRUE, false);
            jc_want(v, e, "close_clean", JSON_TRUE, false);
            jc_want_enum(v, e, "tcp_closed_by",
                         (const char *const[]){"server", "client", NULL},
                         false);
        }
    }
    return !v->failed;
}

bool wsr_check_expect(jc_ctx *v, json_t *root)
{
    json_t *e = jc_want(v, root, "expect", JSON_OBJECT, true);
    if (!e)
        return false;
    size_t m = jc_push_key(v, "expect");
    check_expect_fields(v, e, expect_keys);
    jc_pop(v, m);
    return !v->failed;
}

/* What echo mode (an Autobahn driver as the client, the server's transcript
 * the only observer) may be told to expect: what the wire shows, and
 * "upgraded" (the client sent a WebSocket frame, or none). */
static const char *const echo_expect_keys[] = {"upgraded",
                                               "client_messages",
                                               "client_close",
                                               "client_pong",
                                               "client_pongs",
                                               "round_trips",
                                               "fail_fast",
                                               "deflate",
                                               "tcp_closed_by",
                                               "close_clean",
                                               NULL};

/* "echo_mode": {"expect": {...}} (the expectations echo mode judges, instead
 * of those the harness derives) or {"no": "why"} (the scenario is not
 * judged in echo mode, for that reason); exactly one of the two. */
bool wsr_check_echo_mode(jc_ctx *v, json_t *root)
{
    static const char *const keys[] = {"expect", "no", NULL};
    json_t *o = jc_want(v, root, "echo_mode", JSON_OBJECT, false);
    if (!o)
        return !v->failed;
    size_t m = jc_push_key(v, "echo_mode");
    if (jc_check_keys(v, o, keys)) {
        json_t *no = jc_want(v, o, "no", JSON_STRING, false);
        json_t *e = jc_want(v, o, "expect", JSON_OBJECT, false);
        if (v->failed) {
            /* the type error is the message */
        } else if (!no == !e) {
            jc_fail(v, "expected exactly one of 'expect' (what echo mode "
                       "judges) or 'no' (why it cannot)");
        } else if (no && json_string_length(no) == 0) {
            jc_fail_at(v, "no", "the reason must not be empty");
        } else if (e && json_object_size(e) == 0) {
            jc_fail_at(v, "expect",
                       "an empty expectation judges nothing; "
                       "say why with 'no' instead");
        } else if (e) {
            size_t k = jc_push_key(v, "expect");
            check_expect_fields(v, e, echo_expect_keys);
            jc_pop(v, k);
        }
    }
    jc_pop(v, m);
    return !v->failed;
}

/* ---- descriptive fields ------------------------------------------------ */

static const char *const severities[] = {"fail", "non-strict", "informational",
                                         NULL};

/* adapter/affected/fixed name the releases a proof test runs; proof says
 * why a bug cannot be proven. The harness reads them. */
static bool check_bug(jc_ctx *v, json_t *el, size_t i, void *arg)
{
    static const char *const keys[] = {"library", "versions", "url",
                                       "adapter", "affected", "fixed",
                                       "proof",   NULL};
    (void)i;
    (void)arg;
    if (!json_is_object(el)) {
        jc_fail(v, "expected an object, got %s", jc_type_name(el));
    } else if (jc_check_keys(v, el, keys)) {
        jc_want(v, el, "library", JSON_STRING, true);
        for (size_t k = 1; keys[k]; k++)
            jc_want(v, el, keys[k], JSON_STRING, false);
    }
    return !v->failed;
}

/* A waiver names an RFC rule the harness checks and says why it does not
 * apply here; the harness knows the rule names. */
static void check_waive(jc_ctx *v, json_t *waive)
{
    size_t m = jc_push_key(v, "waive");
    const char *key;
    json_t *val;
    json_object_foreach (waive, key, val) {
        json_t *why = jc_want(v, waive, key, JSON_STRING, true);
        if (why && json_string_length(why) == 0) {
            jc_fail_at(v, key, "a waiver needs a reason");
        }
    }
    jc_pop(v, m);
}

static void check_severity_by_check(jc_ctx *v, json_t *sbc)
{
    size_t m = jc_push_key(v, "severity_by_check");
    const char *key;
    json_t *val;
    if (jc_check_keys(v, sbc, expect_keys))
        json_object_foreach (sbc, key, val)
            jc_want_enum(v, sbc, key, severities, true);
    jc_pop(v, m);
}

/* An Autobahn|Testsuite case id: two or three numbers joined by '.', none
 * with a leading zero ("2.1", "7.7.10"). Which ids exist is the harness's
 * list (docs/autobahn-cases.json), checked by its tests. */
static bool autobahn_id_ok(const char *s)
{
    int parts = 0;
    for (;;) {
        if (*s < '0' || *s > '9' || (*s == '0' && s[1] >= '0' && s[1] <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
        parts++;
        if (*s == '\0')
            return parts >= 2 && parts <= 3;
        if (*s++ != '.')
            return false;
    }
}

static bool check_autobahn_id(jc_ctx *v, json_t *el, size_t i, void *arg)
{
    json_t *ids = arg;
    if (!json_is_string(el)) {
        jc_fail(v, "expected a string, got %s", jc_type_name(el));
        return false;
    }
    if (!autobahn_id_ok(json_string_value(el)))
        jc_fail(v,
                "'%s' is not an Autobahn case id: numbers joined by '.', "
                "like \"2.1\" or \"7.7.10\"",
                json_string_value(el));
    for (size_t k = 0; k < i && !v->failed; k++)
        if (json_equal(json_array_get(ids, k), el))
            jc_fail(v, "'%s' is listed twice", json_string_value(el));
    return !v->failed;
}

bool wsr_check_meta(jc_ctx *v, json_t *root)
{
    json_t *bugs = jc_want(v, root, "bugs", JSON_ARRAY, false);
    jc_want(v, root, "summary", JSON_STRING, true);
    jc_want_string_array(v, root, "rfc", true);
    jc_want_string_array(v, root, "tags", false);
    json_t *autobahn = jc_want(v, root, "autobahn", JSON_ARRAY, false);
    if (autobahn)
        jc_each(v, autobahn, "autobahn", check_autobahn_id, autobahn);
    jc_want_enum(v, root, "severity", severities, false);
    if (bugs)
        jc_each(v, bugs, "bugs", check_bug, NULL);
    json_t *waive = jc_want(v, root, "waive", JSON_OBJECT, false);
    if (waive)
        check_waive(v, waive);
    json_t *sbc = jc_want(v, root, "severity_by_check", JSON_OBJECT, false);
    if (sbc)
        check_severity_by_check(v, sbc);
    return !v->failed;
}
