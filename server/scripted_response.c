/*
 * scripted_response.c — builds a scenario's HTTP response at load time, so
 * a session only copies its bytes (and the accept key into its slot).
 */
#include "scripted_response.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handshake.h"
#include "strbuf.h"

static const char ACCEPT_MARK[] = "{accept}";

/* Replaces the first {accept} in b by a slot of WSR_ACCEPT_LEN bytes and
 * returns its offset, or SIZE_MAX if there is none; false if out of memory. */
static bool make_accept_slot(wsr_strbuf *b, size_t *slot)
{
    char *mark = b->p ? strstr(b->p, ACCEPT_MARK) : NULL;
    *slot = SIZE_MAX;
    if (!mark)
        return true;
    size_t at = (size_t)(mark - b->p), tail = b->n - at - strlen(ACCEPT_MARK);
    char *np = malloc(at + WSR_ACCEPT_LEN + tail + 1);
    if (!np)
        return false;
    memcpy(np, b->p, at);
    memset(np + at, 'A', WSR_ACCEPT_LEN);
    memcpy(np + at + WSR_ACCEPT_LEN, mark + strlen(ACCEPT_MARK), tail + 1);
    free(b->p);
    b->p = np;
    b->n = at + WSR_ACCEPT_LEN + tail;
    *slot = at;
    return true;
}

/* Moves the text into the item, the first {accept} becoming the key's slot. */
static bool take_response(jc_ctx *v, wsr_strbuf *b, wsr_item *it)
{
    it->kind = WSR_ITEM_HANDSHAKE;
    if (b->oom || !make_accept_slot(b, &it->accept_at)) {
        free(b->p);
        jc_fail(v, "out of memory");
        return false;
    }
    it->data = (uint8_t *)b->p;
    it->len = b->n;
    return true;
}

/* Headers as [["Name", "value"], ...], in order, duplicates allowed. */
static bool add_header_pairs(jc_ctx *v, json_t *hs, wsr_strbuf *b,
                             bool *has_length)
{
    size_t i, m = jc_push_key(v, "headers");
    json_t *pair;
    json_array_foreach (hs, i, pair) {
        size_t m2 = jc_push_index(v, i);
        json_t *name = json_array_get(pair, 0), *val = json_array_get(pair, 1);
        if (!json_is_array(pair) || json_array_size(pair) != 2 ||
            !json_is_string(name) || !json_is_string(val)) {
            jc_fail(v, "expected a [name, value] pair of strings");
        } else {
            wsr_sb_add(b, json_string_value(name), json_string_length(name));
            wsr_sb_adds(b, ": ");
            wsr_sb_add(b, json_string_value(val), json_string_length(val));
            wsr_sb_adds(b, "\r\n");
            if (strcasecmp(json_string_value(name), "Content-Length") == 0)
                *has_length = true;
        }
        jc_pop(v, m2);
        if (v->failed)
            break;
    }
    jc_pop(v, m);
    return !v->failed;
}

static bool omitted(json_t *omit, const char *name)
{
    size_t i;
    json_t *el;
    json_array_foreach (omit, i, el)
        if (json_is_string(el) && strcasecmp(json_string_value(el), name) == 0)
            return true;
    return false;
}

static bool check_omit(jc_ctx *v, json_t *omit)
{
    static const char *const names[] = {"Upgrade", "Connection",
                                        "Sec-WebSocket-Accept", NULL};
    size_t i, m = jc_push_key(v, "omit");
    json_t *el;
    json_array_foreach (omit, i, el) {
        bool ok = false;
        for (const char *const *n = names; *n && json_is_string(el); n++)
            ok = ok || strcasecmp(json_string_value(el), *n) == 0;
        if (!ok) {
            size_t m2 = jc_push_index(v, i);
            jc_fail(v, "expected one of Upgrade, Connection, "
                       "Sec-WebSocket-Accept");
            jc_pop(v, m2);
            break;
        }
    }
    jc_pop(v, m);
    return !v->failed;
}

/* {"raw": "HTTP/1.1 101 ...{accept}..."}: bytes as given. It counts as a
 * 101 (the connection is upgraded) only if it is a complete 101 head. */
static bool parse_raw_response(jc_ctx *v, json_t *hs, wsr_item *it)
{
    static const char *const keys[] = {"raw", NULL};
    json_t *raw = jc_want(v, hs, "raw", JSON_STRING, true);
    if (!raw || !jc_check_keys(v, hs, keys))
        return false;
    wsr_strbuf b = {0};
    wsr_sb_add(&b, json_string_value(raw), json_string_length(raw));
    if (!take_response(v, &b, it))
        return false;
    bool head = it->len >= 13 && memcmp(it->data, "HTTP/1.1 101 ", 13) == 0 &&
                memmem(it->data, it->len, "\r\n\r\n", 4);
    it->http_status = head ? 101 : 0;
    return true;
}

/* The parts of a built response, as the scenario gives them (NULL: absent). */
typedef struct response_parts {
    long long status;
    json_t *reason, *accept, *headers, *omit, *body;
} response_parts;

static bool get_response_parts(jc_ctx *v, json_t *hs, response_parts *p)
{
    static const char *const keys[] = {"status", "reason", "accept", "headers",
                                       "omit",   "body",   NULL};
    p->status = 101;
    if (jc_check_keys(v, hs, keys) &&
        (!json_object_get(hs, "status") ||
         jc_want_int(v, hs, "status", 100, 599, &p->status))) {
        p->reason = jc_want(v, hs, "reason", JSON_STRING, false);
        p->accept =
            v->failed ? NULL : jc_want(v, hs, "accept", JSON_STRING, false);
        p->headers =
            v->failed ? NULL : jc_want(v, hs, "headers", JSON_ARRAY, false);
        p->omit = v->failed ? NULL : jc_want(v, hs, "omit", JSON_ARRAY, false);
        p->body = v->failed ? NULL : jc_want(v, hs, "body", JSON_STRING, false);
    }
    if (!v->failed && p->omit)
        check_omit(v, p->omit);
    return !v->failed;
}

/* The status line. A code the shared table does not know gets the neutral
 * phrase "Status": scripted responses may use any code 100..599. */
static void add_status_line(wsr_strbuf *b, const response_parts *p)
{
    char line[64];
    const char *phrase = ws_http_status_phrase((int)p->status);
    snprintf(line, sizeof line, "HTTP/1.1 %lld ", p->status);
    wsr_sb_adds(b, line);
    wsr_sb_adds(b, p->reason ? json_string_value(p->reason)
                   : phrase  ? phrase
                             : "Status");
    wsr_sb_adds(b, "\r\n");
}

/* The three headers of a 101 (RFC 6455 4.2.2), unless omitted. */
static void add_upgrade_headers(wsr_strbuf *b, const response_parts *p)
{
    const char *acc = p->accept ? json_string_value(p->accept) : "auto";
    if (p->status != 101)
        return;
    if (!omitted(p->omit, "Upgrade"))
        wsr_sb_adds(b, "Upgrade: websocket\r\n");
    if (!omitted(p->omit, "Connection"))
        wsr_sb_adds(b, "Connection: Upgrade\r\n");
    if (strcmp(acc, "omit") != 0 && !omitted(p->omit, "Sec-WebSocket-Accept")) {
        wsr_sb_adds(b, "Sec-WebSocket-Accept: ");
        wsr_sb_adds(b, strcmp(acc, "auto") == 0 ? ACCEPT_MARK : acc);
        wsr_sb_adds(b, "\r\n");
    }
}

/* A response head from its parts: status, reason, accept, headers, omit, body. */
static bool build_response(jc_ctx *v, json_t *hs, wsr_item *it)
{
    response_parts p = {0};
    wsr_strbuf b = {0};
    bool has_length = false;
    if (!get_response_parts(v, hs, &p))
        return false;
    add_status_line(&b, &p);
    add_upgrade_headers(&b, &p);
    if (p.headers && !add_header_pairs(v, p.headers, &b, &has_length)) {
        free(b.p);
        return false;
    }
    if (p.body && !has_length) {
        char line[64];
        snprintf(line, sizeof line, "Content-Length: %zu\r\n",
                 json_string_length(p.body));
        wsr_sb_adds(&b, line);
    }
    wsr_sb_adds(&b, "\r\n");
    if (p.body)
        wsr_sb_add(&b, json_string_value(p.body), json_string_length(p.body));
    it->http_status = (int)p.status;
    return take_response(v, &b, it);
}

bool wsr_scripted_response(jc_ctx *v, json_t *obj, wsr_item *it)
{
    json_t *hs = json_object_get(obj, "handshake");
    if (json_is_string(hs)) {
        json_t *defaults = json_object();
        bool ok = jc_want_enum(v, obj, "handshake",
                               (const char *const[]){"accept", NULL}, true) &&
                  defaults && build_response(v, defaults, it);
        json_decref(defaults);
        return ok;
    }
    size_t m = jc_push_key(v, "handshake");
    bool ok;
    if (!json_is_object(hs)) {
        jc_fail(v, "expected \"accept\" or an object, got %s",
                jc_type_name(hs));
        ok = false;
    } else if (json_object_get(hs, "raw")) {
        ok = parse_raw_response(v, hs, it);
    } else {
        ok = build_response(v, hs, it);
    }
    jc_pop(v, m);
    return ok;
}
