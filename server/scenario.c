/*
 * scenario.c — strict loading of scenario files.
 *
 * Every accessor goes through a validation context that carries the file
 * name and the current JSON path, so the first mistake is reported as
 * "FILE: steps[1].write[0].close: expected an integer or null, got string".
 * Only the first error is kept: later ones are usually consequences.
 */
#include "scenario.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec.h"
#include "handshake.h"

#define MAX_GROUP_BYTES (64u * 1024u * 1024u)
#define MAX_COUNT 100000
#define MAX_MS 600000
#define MAX_EVERY_BYTE 65536u
#define DEFAULT_AWAIT_MS 5000

typedef struct vctx {
    const char *file;
    char path[512];
    char *err;
    size_t errlen;
    bool failed;
} vctx;

static void fail(vctx *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(vctx *v, const char *fmt, ...)
{
    if (v->failed)
        return;
    v->failed = true;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(v->err, v->errlen, "%s: %s: %s", v->file,
             v->path[0] ? v->path : "(top level)", msg);
}

/* Path handling: push returns the old length, pop restores it. */
static size_t push_key(vctx *v, const char *key)
{
    size_t mark = strlen(v->path);
    snprintf(v->path + mark, sizeof v->path - mark, "%s%s",
             mark ? "." : "", key);
    return mark;
}

static size_t push_index(vctx *v, size_t i)
{
    size_t mark = strlen(v->path);
    snprintf(v->path + mark, sizeof v->path - mark, "[%zu]", i);
    return mark;
}

static void pop(vctx *v, size_t mark)
{
    v->path[mark] = '\0';
}

static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

/* Unknown keys are errors: a typo must never be silently ignored. */
static bool check_keys(vctx *v, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0)
                ok = true;
        if (!ok) {
            size_t m = push_key(v, key);
            fail(v, "unknown key");
            pop(v, m);
            return false;
        }
    }
    return true;
}

static json_t *want(vctx *v, json_t *obj, const char *key, json_type type,
                    bool required)
{
    json_t *j = json_object_get(obj, key);
    size_t m = push_key(v, key);
    if (!j) {
        if (required)
            fail(v, "missing");
    } else if (json_typeof(j) != type &&
               !(type == JSON_TRUE && json_is_boolean(j))) {
        static const char *names[] = {
            [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
            [JSON_STRING] = "a string", [JSON_INTEGER] = "an integer",
            [JSON_REAL] = "a number", [JSON_TRUE] = "a boolean",
            [JSON_FALSE] = "a boolean", [JSON_NULL] = "null"};
        fail(v, "expected %s, got %s", names[type], type_name(j));
        j = NULL;
    }
    pop(v, m);
    return v->failed ? NULL : j;
}

static bool want_int(vctx *v, json_t *obj, const char *key, long long lo,
                     long long hi, long long *out)
{
    json_t *j = want(v, obj, key, JSON_INTEGER, false);
    if (!j)
        return false;
    long long x = json_integer_value(j);
    if (x < lo || x > hi) {
        size_t m = push_key(v, key);
        fail(v, "%lld is out of range %lld..%lld", x, lo, hi);
        pop(v, m);
        return false;
    }
    *out = x;
    return true;
}

static bool want_string_array(vctx *v, json_t *obj, const char *key,
                              bool required)
{
    json_t *arr = want(v, obj, key, JSON_ARRAY, required);
    if (!arr)
        return !v->failed;
    size_t m = push_key(v, key), i;
    json_t *el;
    json_array_foreach(arr, i, el) {
        if (!json_is_string(el)) {
            size_t m2 = push_index(v, i);
            fail(v, "expected a string, got %s", type_name(el));
            pop(v, m2);
        }
    }
    pop(v, m);
    return !v->failed;
}

static bool want_enum(vctx *v, json_t *obj, const char *key,
                      const char *const *values, bool required)
{
    json_t *j = want(v, obj, key, JSON_STRING, required);
    if (!j)
        return !v->failed;
    for (const char *const *e = values; *e; e++)
        if (strcmp(*e, json_string_value(j)) == 0)
            return true;
    size_t m = push_key(v, key);
    char list[256] = "";
    for (const char *const *e = values; *e; e++) {
        strncat(list, *e, sizeof list - strlen(list) - 1);
        if (e[1])
            strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    fail(v, "'%s' is not one of: %s", json_string_value(j), list);
    pop(v, m);
    return false;
}

/* ---- payloads ---------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Hex with optional whitespace between bytes, for readable scenarios. */
static bool parse_hex(vctx *v, const char *key, const char *s, uint8_t **out,
                      size_t *outlen)
{
    size_t n = strlen(s);
    uint8_t *buf = malloc(n / 2 + 1);
    size_t len = 0;
    if (!buf) {
        fail(v, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n;) {
        if (s[i] == ' ' || s[i] == '\n' || s[i] == '\t') {
            i++;
            continue;
        }
        int hi = hexval((unsigned char)s[i]);
        int lo = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
        if (hi < 0 || lo < 0) {
            size_t m = push_key(v, key);
            fail(v, "not hex at character %zu", i + 1);
            pop(v, m);
            free(buf);
            return false;
        }
        buf[len++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    *out = buf;
    *outlen = len;
    return true;
}

/* Replaces every "{i}" in s by index; the caller frees the result. */
static char *expand_template(const char *s, unsigned index)
{
    char num[16];
    int numlen = snprintf(num, sizeof num, "%u", index);
    size_t n = strlen(s), cap = n + 1, count = 0;
    for (const char *p = strstr(s, "{i}"); p; p = strstr(p + 3, "{i}"))
        count++;
    cap += count * (size_t)numlen;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    for (const char *p = s; *p;) {
        if (strncmp(p, "{i}", 3) == 0) {
            memcpy(o, num, (size_t)numlen);
            o += numlen;
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Standard or URL-safe base64; padding optional, whitespace ignored. */
static bool parse_base64(vctx *v, const char *key, const char *s,
                         uint8_t **out, size_t *outlen)
{
    size_t n = strlen(s), len = 0;
    uint8_t *buf = malloc(n * 3 / 4 + 3);
    unsigned acc = 0, bits = 0;
    bool pad = false;
    if (!buf) {
        fail(v, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r')
            continue;
        int d = c == '=' ? -2 : b64val(c);
        if (d == -1 || (pad && d != -2)) {
            size_t m = push_key(v, key);
            fail(v, "not base64 at character %zu", i + 1);
            pop(v, m);
            free(buf);
            return false;
        }
        if (d == -2) {
            pad = true;
            continue;
        }
        acc = (acc << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[len++] = (uint8_t)(acc >> bits);
        }
    }
    *out = buf;
    *outlen = len;
    return true;
}

/* "pattern" repeated (and cut) to "size" bytes. */
static bool parse_pattern(vctx *v, json_t *obj, uint8_t **out, size_t *outlen)
{
    json_t *pat = want(v, obj, "pattern", JSON_STRING, true);
    long long size = 0;
    if (!pat)
        return false;
    if (!json_object_get(obj, "size")) {
        size_t m = push_key(v, "size");
        fail(v, "missing: a pattern needs a size in bytes");
        pop(v, m);
        return false;
    }
    if (!want_int(v, obj, "size", 0, MAX_GROUP_BYTES, &size))
        return false;
    size_t plen = json_string_length(pat);
    if (plen == 0) {
        size_t m = push_key(v, "pattern");
        fail(v, "an empty pattern cannot fill %lld bytes", size);
        pop(v, m);
        return false;
    }
    uint8_t *buf = malloc((size_t)size + 1);
    if (!buf) {
        fail(v, "out of memory");
        return false;
    }
    const char *p = json_string_value(pat);
    for (size_t i = 0; i < (size_t)size; i++)
        buf[i] = (uint8_t)p[i % plen];
    *out = buf;
    *outlen = (size_t)size;
    return true;
}

/* An item's payload from hex, base64 or pattern+size, if one is given.
 * Returns false on an error; *given tells whether one was there. */
static bool parse_payload_source(vctx *v, json_t *obj, bool *given,
                                 uint8_t **out, size_t *outlen)
{
    const char *found = NULL;
    static const char *const sources[] = {"hex", "base64", "pattern", NULL};
    for (const char *const *k = sources; *k; k++) {
        if (!json_object_get(obj, *k))
            continue;
        if (found) {
            fail(v, "has both '%s' and '%s'; give the payload one way", found,
                 *k);
            return false;
        }
        found = *k;
    }
    if (json_object_get(obj, "size") && (!found || strcmp(found, "pattern"))) {
        size_t m = push_key(v, "size");
        fail(v, "'size' goes with 'pattern'");
        pop(v, m);
        return false;
    }
    *given = found != NULL;
    if (!found)
        return true;
    if (strcmp(found, "pattern") == 0)
        return parse_pattern(v, obj, out, outlen);
    json_t *j = want(v, obj, found, JSON_STRING, true);
    if (!j)
        return false;
    return strcmp(found, "hex") == 0
               ? parse_hex(v, "hex", json_string_value(j), out, outlen)
               : parse_base64(v, "base64", json_string_value(j), out, outlen);
}

/* ---- handshake responses ---------------------------------------------- */

typedef struct strbuf {
    char *p;
    size_t n, cap;
    bool oom;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_adds(strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static const char *status_phrase(long long status)
{
    static const struct { int code; const char *text; } phrases[] = {
        {101, "Switching Protocols"}, {200, "OK"},
        {301, "Moved Permanently"},   {302, "Found"},
        {303, "See Other"},           {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},  {400, "Bad Request"},
        {401, "Unauthorized"},        {403, "Forbidden"},
        {404, "Not Found"},           {426, "Upgrade Required"},
        {429, "Too Many Requests"},   {500, "Internal Server Error"},
        {502, "Bad Gateway"},         {503, "Service Unavailable"},
    };
    for (size_t i = 0; i < sizeof phrases / sizeof *phrases; i++)
        if (phrases[i].code == status)
            return phrases[i].text;
    return "Status";
}

static const char ACCEPT_MARK[] = "{accept}";

/* Moves the text into the item, the first {accept} becoming the key's slot. */
static bool take_response(vctx *v, strbuf *b, wsr_item *it)
{
    if (b->oom) {
        free(b->p);
        fail(v, "out of memory");
        return false;
    }
    it->kind = WSR_ITEM_HANDSHAKE;
    it->accept_at = SIZE_MAX;
    char *mark = b->p ? strstr(b->p, ACCEPT_MARK) : NULL;
    if (mark) {
        size_t at = (size_t)(mark - b->p), tail = b->n - at - strlen(ACCEPT_MARK);
        char *np = malloc(at + WSR_ACCEPT_LEN + tail + 1);
        if (!np) {
            free(b->p);
            fail(v, "out of memory");
            return false;
        }
        memcpy(np, b->p, at);
        memset(np + at, 'A', WSR_ACCEPT_LEN);
        memcpy(np + at + WSR_ACCEPT_LEN, mark + strlen(ACCEPT_MARK), tail + 1);
        free(b->p);
        b->p = np;
        b->n = at + WSR_ACCEPT_LEN + tail;
        it->accept_at = at;
    }
    it->data = (uint8_t *)b->p;
    it->len = b->n;
    return true;
}

/* Headers as [["Name", "value"], ...], in order, duplicates allowed. */
static bool add_header_pairs(vctx *v, json_t *hs, strbuf *b, bool *has_length)
{
    size_t i, m = push_key(v, "headers");
    json_t *pair;
    json_array_foreach(hs, i, pair) {
        size_t m2 = push_index(v, i);
        json_t *name = json_array_get(pair, 0), *val = json_array_get(pair, 1);
        if (!json_is_array(pair) || json_array_size(pair) != 2 ||
            !json_is_string(name) || !json_is_string(val)) {
            fail(v, "expected a [name, value] pair of strings");
        } else {
            sb_add(b, json_string_value(name), json_string_length(name));
            sb_adds(b, ": ");
            sb_add(b, json_string_value(val), json_string_length(val));
            sb_adds(b, "\r\n");
            if (strcasecmp(json_string_value(name), "Content-Length") == 0)
                *has_length = true;
        }
        pop(v, m2);
        if (v->failed)
            break;
    }
    pop(v, m);
    return !v->failed;
}

static bool omitted(json_t *omit, const char *name)
{
    size_t i;
    json_t *el;
    json_array_foreach(omit, i, el)
        if (json_is_string(el) && strcasecmp(json_string_value(el), name) == 0)
            return true;
    return false;
}

static bool check_omit(vctx *v, json_t *omit)
{
    static const char *const names[] = {"Upgrade", "Connection",
                                        "Sec-WebSocket-Accept", NULL};
    size_t i, m = push_key(v, "omit");
    json_t *el;
    json_array_foreach(omit, i, el) {
        bool ok = false;
        for (const char *const *n = names; *n && json_is_string(el); n++)
            ok = ok || strcasecmp(json_string_value(el), *n) == 0;
        if (!ok) {
            size_t m2 = push_index(v, i);
            fail(v, "expected one of Upgrade, Connection, Sec-WebSocket-Accept");
            pop(v, m2);
            break;
        }
    }
    pop(v, m);
    return !v->failed;
}

/* {"raw": "HTTP/1.1 101 ...{accept}..."}: bytes as given. It counts as a
 * 101 (the connection is upgraded) only if it is a complete 101 head. */
static bool parse_handshake_raw(vctx *v, json_t *hs, wsr_item *it)
{
    static const char *const keys[] = {"raw", NULL};
    json_t *raw = want(v, hs, "raw", JSON_STRING, true);
    if (!raw || !check_keys(v, hs, keys))
        return false;
    strbuf b = {0};
    sb_add(&b, json_string_value(raw), json_string_length(raw));
    if (!take_response(v, &b, it))
        return false;
    bool head = it->len >= 13 && memcmp(it->data, "HTTP/1.1 101 ", 13) == 0 &&
                memmem(it->data, it->len, "\r\n\r\n", 4);
    it->http_status = head ? 101 : 0;
    return true;
}

static bool build_response(vctx *v, json_t *hs, wsr_item *it);

/* The handshake item: "accept" (the standard 101) or an object describing
 * the response; see scenarios/README.md. */
static bool parse_handshake_item(vctx *v, json_t *obj, wsr_item *it)
{
    json_t *hs = json_object_get(obj, "handshake");
    if (json_is_string(hs)) {
        json_t *defaults = json_object();
        bool ok = want_enum(v, obj, "handshake",
                            (const char *const[]){"accept", NULL}, true) &&
                  defaults && build_response(v, defaults, it);
        json_decref(defaults);
        return ok;
    }
    size_t m = push_key(v, "handshake");
    bool ok;
    if (!json_is_object(hs)) {
        fail(v, "expected \"accept\" or an object, got %s", type_name(hs));
        ok = false;
    } else if (json_object_get(hs, "raw")) {
        ok = parse_handshake_raw(v, hs, it);
    } else {
        ok = build_response(v, hs, it);
    }
    pop(v, m);
    return ok;
}

/* A response head from its parts: status, reason, accept, headers, omit, body. */
static bool build_response(vctx *v, json_t *hs, wsr_item *it)
{
    static const char *const keys[] = {"status", "reason", "accept", "headers",
                                       "omit",   "body",   NULL};
    long long status = 101;
    json_t *headers = NULL, *omit = NULL, *body = NULL, *reason = NULL,
           *accept = NULL;
    if (check_keys(v, hs, keys) &&
        (!json_object_get(hs, "status") ||
         want_int(v, hs, "status", 100, 599, &status))) {
        reason = want(v, hs, "reason", JSON_STRING, false);
        accept = v->failed ? NULL : want(v, hs, "accept", JSON_STRING, false);
        headers = v->failed ? NULL : want(v, hs, "headers", JSON_ARRAY, false);
        omit = v->failed ? NULL : want(v, hs, "omit", JSON_ARRAY, false);
        body = v->failed ? NULL : want(v, hs, "body", JSON_STRING, false);
    }
    if (!v->failed && omit)
        check_omit(v, omit);
    strbuf b = {0};
    char line[64];
    bool has_length = false;
    if (!v->failed) {
        snprintf(line, sizeof line, "HTTP/1.1 %lld ", status);
        sb_adds(&b, line);
        sb_adds(&b, reason ? json_string_value(reason) : status_phrase(status));
        sb_adds(&b, "\r\n");
        const char *acc = accept ? json_string_value(accept) : "auto";
        if (status == 101 && !omitted(omit, "Upgrade"))
            sb_adds(&b, "Upgrade: websocket\r\n");
        if (status == 101 && !omitted(omit, "Connection"))
            sb_adds(&b, "Connection: Upgrade\r\n");
        if (status == 101 && strcmp(acc, "omit") != 0 &&
            !omitted(omit, "Sec-WebSocket-Accept")) {
            sb_adds(&b, "Sec-WebSocket-Accept: ");
            sb_adds(&b, strcmp(acc, "auto") == 0 ? ACCEPT_MARK : acc);
            sb_adds(&b, "\r\n");
        }
        if (headers)
            add_header_pairs(v, headers, &b, &has_length);
    }
    if (!v->failed && body && !has_length) {
        snprintf(line, sizeof line, "Content-Length: %zu\r\n",
                 json_string_length(body));
        sb_adds(&b, line);
    }
    sb_adds(&b, "\r\n");
    if (body)
        sb_add(&b, json_string_value(body), json_string_length(body));
    if (v->failed) {
        free(b.p);
        return false;
    }
    it->http_status = (int)status;
    return take_response(v, &b, it);
}

/* ---- write items ------------------------------------------------------- */

static const char *const item_kinds[] = {
    "text", "binary", "continuation", "ping", "pong", "close", "raw",
    "raw_text", "handshake", NULL};
static const char *const item_keys[] = {
    "text",   "binary", "continuation", "ping",    "pong",  "close",
    "raw",    "raw_text", "handshake",  "reason",  "hex",   "base64",
    "pattern", "size",  "count",        "fin",     "rsv",   "opcode",
    "mask",   "length_form", NULL};
#define ITEM_KIND_LIST \
    "text, binary, continuation, ping, pong, close, raw, raw_text, handshake"

typedef struct item_list {
    wsr_item *v;
    size_t n, cap;
} item_list;

static wsr_item *item_push(vctx *v, item_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        wsr_item *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) {
            fail(v, "out of memory");
            return NULL;
        }
        l->v = nv;
        l->cap = cap;
    }
    wsr_item *it = &l->v[l->n++];
    memset(it, 0, sizeof *it);
    return it;
}

static const char *item_kind_of(vctx *v, json_t *obj)
{
    const char *found = NULL;
    for (const char *const *k = item_kinds; *k; k++) {
        if (!json_object_get(obj, *k))
            continue;
        if (found) {
            fail(v, "has both '%s' and '%s'; an item is exactly one of "
                    ITEM_KIND_LIST, found, *k);
            return NULL;
        }
        found = *k;
    }
    if (!found)
        fail(v, "expected one of " ITEM_KIND_LIST);
    return found;
}

static bool parse_mask(vctx *v, json_t *obj, wsr_item *it)
{
    json_t *m = json_object_get(obj, "mask");
    if (!m)
        return true;
    if (json_is_boolean(m)) {
        /* A fixed default key keeps masked scenarios byte-for-byte repeatable. */
        static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
        it->mask = json_is_true(m);
        memcpy(it->mask_key, key, 4);
        return true;
    }
    uint8_t *k = NULL;
    size_t klen = 0;
    if (!json_is_string(m) ||
        !parse_hex(v, "mask", json_string_value(m), &k, &klen) || klen != 4) {
        size_t mk = push_key(v, "mask");
        fail(v, "expected a boolean or 8 hex digits");
        pop(v, mk);
        free(k);
        return false;
    }
    it->mask = true;
    memcpy(it->mask_key, k, 4);
    free(k);
    return true;
}

/* Frame options shared by every frame kind. */
static bool parse_frame_options(vctx *v, json_t *obj, wsr_item *it)
{
    json_t *fin = want(v, obj, "fin", JSON_TRUE, false);
    long long x = 0;
    it->fin = fin ? json_is_true(fin) : true;
    if (v->failed)
        return false;
    if (want_int(v, obj, "rsv", 0, 7, &x))
        it->rsv = (uint8_t)x;
    if (want_int(v, obj, "opcode", 0, 15, &x))
        it->opcode = (uint8_t)x;
    if (json_object_get(obj, "length_form")) {
        if (want_int(v, obj, "length_form", 7, 64, &x) && x != 7 && x != 16 &&
            x != 64) {
            size_t m = push_key(v, "length_form");
            fail(v, "expected 7, 16 or 64");
            pop(v, m);
        }
        it->len_form = (int)x;
    }
    return !v->failed && parse_mask(v, obj, it);
}

static bool parse_close_payload(vctx *v, json_t *obj, wsr_item *it)
{
    json_t *code = json_object_get(obj, "close");
    json_t *reason = want(v, obj, "reason", JSON_STRING, false);
    if (v->failed)
        return false;
    if (json_is_null(code)) {
        if (reason) {
            size_t m = push_key(v, "reason");
            fail(v, "a reason needs a close code");
            pop(v, m);
            return false;
        }
        return true;
    }
    long long c;
    if (!json_is_integer(code)) {
        size_t m = push_key(v, "close");
        fail(v, "expected an integer or null, got %s", type_name(code));
        pop(v, m);
        return false;
    }
    if (!want_int(v, obj, "close", 0, 65535, &c))
        return false;
    const char *r = reason ? json_string_value(reason) : "";
    size_t rlen = reason ? json_string_length(reason) : 0;
    it->data = malloc(2 + rlen);
    if (!it->data) {
        fail(v, "out of memory");
        return false;
    }
    it->len = ws_close_payload((uint16_t)c, (const uint8_t *)r, rlen, it->data);
    return true;
}

/* Expands one JSON item (with its count) into out. */
static bool parse_item(vctx *v, json_t *obj, item_list *out)
{
    if (!json_is_object(obj)) {
        fail(v, "expected an object, got %s", type_name(obj));
        return false;
    }
    if (!check_keys(v, obj, item_keys))
        return false;
    const char *kind = item_kind_of(v, obj);
    if (!kind)
        return false;
    long long count = 1;
    if (json_object_get(obj, "count") &&
        !want_int(v, obj, "count", 1, MAX_COUNT, &count))
        return false;

    if (strcmp(kind, "handshake") == 0) {
        wsr_item *it = item_push(v, out);
        return it && parse_handshake_item(v, obj, it);
    }
    if (strcmp(kind, "raw") == 0 || strcmp(kind, "raw_text") == 0) {
        json_t *raw = want(v, obj, kind, JSON_STRING, true);
        wsr_item *it = raw ? item_push(v, out) : NULL;
        if (!it)
            return false;
        it->kind = WSR_ITEM_RAW;
        if (strcmp(kind, "raw") == 0)
            return parse_hex(v, "raw", json_string_value(raw), &it->data,
                             &it->len);
        it->len = json_string_length(raw);
        it->data = malloc(it->len + 1);
        if (!it->data) {
            fail(v, "out of memory");
            return false;
        }
        memcpy(it->data, json_string_value(raw), it->len);
        return true;
    }

    wsr_item proto = {.kind = WSR_ITEM_FRAME};
    if (!parse_frame_options(v, obj, &proto))
        return false;
    uint8_t op = strcmp(kind, "text") == 0           ? WS_OP_TEXT
                 : strcmp(kind, "binary") == 0       ? WS_OP_BINARY
                 : strcmp(kind, "continuation") == 0 ? WS_OP_CONT
                 : strcmp(kind, "ping") == 0         ? WS_OP_PING
                 : strcmp(kind, "pong") == 0         ? WS_OP_PONG
                                                     : WS_OP_CLOSE;
    if (!json_object_get(obj, "opcode"))
        proto.opcode = op;

    bool sourced = false;
    json_t *payload = NULL;
    if (!parse_payload_source(v, obj, &sourced, &proto.data, &proto.len))
        return false;
    if (op == WS_OP_CLOSE) {
        if (!sourced && !parse_close_payload(v, obj, &proto))
            return false;
    } else {
        /* The kind's own string is the payload unless a source replaced it. */
        json_t *own = want(v, obj, kind, JSON_STRING, true);
        payload = sourced ? NULL : own;
        if (v->failed) {
            free(proto.data);
            return false;
        }
    }

    for (long long i = 1; i <= count; i++) {
        wsr_item *it = item_push(v, out);
        if (!it)
            break;
        *it = proto;
        it->data = NULL;
        if (payload) {
            char *s = expand_template(json_string_value(payload), (unsigned)i);
            if (!s) {
                fail(v, "out of memory");
                break;
            }
            it->data = (uint8_t *)s;
            it->len = strlen(s);
        } else if (proto.len) {
            it->data = malloc(proto.len);
            if (!it->data) {
                fail(v, "out of memory");
                break;
            }
            memcpy(it->data, proto.data, proto.len);
        }
        ws_frame_spec spec = {.payload_len = it->len, .len_form = it->len_form};
        if (ws_encoded_size(&spec) < 0) {
            size_t m = push_key(v, "length_form");
            fail(v, "a %zu-byte payload does not fit the %d-bit length form",
                 it->len, it->len_form);
            pop(v, m);
            break;
        }
    }
    free(proto.data);
    return !v->failed;
}

static size_t item_wire_len(const wsr_item *it)
{
    if (it->kind == WSR_ITEM_HANDSHAKE || it->kind == WSR_ITEM_RAW)
        return it->len;
    ws_frame_spec spec = {.payload_len = it->len, .len_form = it->len_form,
                          .mask = it->mask};
    ssize_t n = ws_encoded_size(&spec);
    return n > 0 ? (size_t)n : 0;
}

static bool parse_split(vctx *v, json_t *step, wsr_step *st, size_t total)
{
    json_t *split = json_object_get(step, "split");
    if (json_is_string(split)) {
        if (!want_enum(v, step, "split",
                       (const char *const[]){"every_byte", NULL}, true))
            return false;
        st->split_every_byte = true;
        return true;
    }
    if (split && !json_is_array(split)) {
        size_t m = push_key(v, "split");
        fail(v, "expected an array of byte offsets or \"every_byte\", got %s",
             type_name(split));
        pop(v, m);
        return false;
    }
    if (!split)
        return true;
    size_t m = push_key(v, "split"), i;
    json_t *el;
    st->split = calloc(json_array_size(split) + 1, sizeof *st->split);
    if (!st->split) {
        fail(v, "out of memory");
        return false;
    }
    json_array_foreach(split, i, el) {
        size_t m2 = push_index(v, i);
        long long off = json_is_integer(el) ? json_integer_value(el) : -1;
        size_t prev = st->n_split ? st->split[st->n_split - 1] : 0;
        if (!json_is_integer(el))
            fail(v, "expected an integer, got %s", type_name(el));
        else if (off <= (long long)prev || (size_t)off >= total)
            fail(v, "offset %lld must be above %zu and below the group's "
                    "%zu bytes", off, prev, total);
        else
            st->split[st->n_split++] = (size_t)off;
        pop(v, m2);
    }
    pop(v, m);
    return !v->failed;
}

static bool parse_write(vctx *v, json_t *step, wsr_step *st, wsr_scenario *sc)
{
    static const char *const keys[] = {"write", "split", "gap_ms", NULL};
    if (!check_keys(v, step, keys))
        return false;
    json_t *arr = want(v, step, "write", JSON_ARRAY, true);
    if (!arr)
        return false;
    if (json_array_size(arr) == 0) {
        size_t m = push_key(v, "write");
        fail(v, "a write group needs at least one item");
        pop(v, m);
        return false;
    }
    item_list items = {0};
    size_t m = push_key(v, "write"), i;
    json_t *el;
    json_array_foreach(arr, i, el) {
        size_t m2 = push_index(v, i);
        bool ok = parse_item(v, el, &items);
        pop(v, m2);
        if (!ok)
            break;
    }
    pop(v, m);
    st->items = items.v;
    st->n_items = items.n;
    if (v->failed)
        return false;

    size_t total = 0;
    for (size_t k = 0; k < st->n_items; k++) {
        if (st->items[k].kind == WSR_ITEM_HANDSHAKE) {
            if (sc->handshake_in_group) {
                size_t m3 = push_key(v, "write");
                fail(v, "the handshake response can be sent only once");
                pop(v, m3);
                return false;
            }
            sc->handshake_in_group = true;
        }
        total += item_wire_len(&st->items[k]);
    }
    if (total > MAX_GROUP_BYTES) {
        fail(v, "the group is %zu bytes; the limit is %u", total,
             MAX_GROUP_BYTES);
        return false;
    }
    long long gap = 0;
    if (json_object_get(step, "gap_ms") &&
        !want_int(v, step, "gap_ms", 0, MAX_MS, &gap))
        return false;
    st->gap_ms = (unsigned)gap;
    if (!parse_split(v, step, st, total))
        return false;
    if (st->split_every_byte && total > MAX_EVERY_BYTE) {
        size_t m4 = push_key(v, "split");
        fail(v, "every_byte splits groups of at most %u bytes; this one has %zu",
             MAX_EVERY_BYTE, total);
        pop(v, m4);
        return false;
    }
    return true;
}

static bool parse_await(vctx *v, json_t *step, wsr_step *st)
{
    static const char *const keys[] = {"await", "timeout_ms", "count", NULL};
    static const char *const what[] = {"close", "message", "messages", "ping",
                                       "pong",  "eof",     NULL};
    if (!check_keys(v, step, keys) || !want_enum(v, step, "await", what, true))
        return false;
    const char *w = json_string_value(json_object_get(step, "await"));
    st->await_what = strcmp(w, "close") == 0      ? WSR_AWAIT_CLOSE
                     : strcmp(w, "message") == 0  ? WSR_AWAIT_MESSAGE
                     : strcmp(w, "messages") == 0 ? WSR_AWAIT_MESSAGES
                     : strcmp(w, "ping") == 0     ? WSR_AWAIT_PING
                     : strcmp(w, "pong") == 0     ? WSR_AWAIT_PONG
                                                  : WSR_AWAIT_EOF;
    long long x = DEFAULT_AWAIT_MS, count = 1;
    if (json_object_get(step, "timeout_ms") &&
        !want_int(v, step, "timeout_ms", 1, MAX_MS, &x))
        return false;
    st->ms = (unsigned)x;
    if (json_object_get(step, "count")) {
        if (st->await_what != WSR_AWAIT_MESSAGES &&
            st->await_what != WSR_AWAIT_PING &&
            st->await_what != WSR_AWAIT_PONG) {
            size_t m = push_key(v, "count");
            fail(v, "only 'await' messages, ping and pong take a count");
            pop(v, m);
            return false;
        }
        if (!want_int(v, step, "count", 1, MAX_COUNT, &count))
            return false;
    }
    st->count = (unsigned)count;
    return true;
}

static bool parse_echo(vctx *v, json_t *step, wsr_step *st)
{
    static const char *const keys[] = {"echo", NULL};
    static const char *const echo_keys[] = {"timeout_ms", NULL};
    if (!check_keys(v, step, keys))
        return false;
    json_t *echo = want(v, step, "echo", JSON_OBJECT, true);
    if (!echo)
        return false;
    size_t m = push_key(v, "echo");
    long long x = DEFAULT_AWAIT_MS;
    if (check_keys(v, echo, echo_keys) && json_object_get(echo, "timeout_ms"))
        want_int(v, echo, "timeout_ms", 1, MAX_MS, &x);
    pop(v, m);
    st->ms = (unsigned)x;
    return !v->failed;
}

static const char *const step_kinds[] = {
    "write", "delay_ms", "await", "echo", "read", "shutdown", "tls", "abort",
    NULL};
#define STEP_KIND_LIST \
    "write, delay_ms, await, echo, read, shutdown, tls, abort"

static bool parse_delay(vctx *v, json_t *step, wsr_step *st)
{
    static const char *const keys[] = {"delay_ms", "jitter_ms", NULL};
    long long x = 0, j = 0;
    st->kind = WSR_STEP_DELAY;
    if (!check_keys(v, step, keys) ||
        !want(v, step, "delay_ms", JSON_INTEGER, true) ||
        !want_int(v, step, "delay_ms", 0, MAX_MS, &x))
        return false;
    if (json_object_get(step, "jitter_ms") &&
        !want_int(v, step, "jitter_ms", 0, MAX_MS, &j))
        return false;
    st->ms = (unsigned)x;
    st->jitter_ms = (unsigned)j;
    return true;
}

/* The one-word steps: read, shutdown, tls, abort. */
static bool parse_word_step(vctx *v, json_t *step, wsr_step *st,
                            const char *kind)
{
    const char *const only[] = {kind, NULL};
    if (!check_keys(v, step, only))
        return false;
    if (strcmp(kind, "read") == 0) {
        st->kind = WSR_STEP_READ;
        if (!want_enum(v, step, "read",
                       (const char *const[]){"pause", "resume", NULL}, true))
            return false;
        st->read_on = strcmp(json_string_value(json_object_get(step, "read")),
                             "resume") == 0;
        return true;
    }
    if (strcmp(kind, "shutdown") == 0) {
        st->kind = WSR_STEP_SHUTDOWN;
        if (!want_enum(v, step, "shutdown",
                       (const char *const[]){"write", "tcp", NULL}, true))
            return false;
        st->shutdown_how =
            strcmp(json_string_value(json_object_get(step, "shutdown")),
                   "tcp") == 0 ? WSR_SHUT_TCP : WSR_SHUT_WRITE;
        return true;
    }
    if (strcmp(kind, "tls") == 0) {
        st->kind = WSR_STEP_TLS;
        return want_enum(v, step, "tls",
                         (const char *const[]){"close_notify", NULL}, true);
    }
    st->kind = WSR_STEP_ABORT;
    return want_enum(v, step, "abort", (const char *const[]){"rst", NULL},
                     true);
}

static bool parse_step(vctx *v, json_t *step, wsr_step *st, wsr_scenario *sc)
{
    if (!json_is_object(step)) {
        fail(v, "expected an object, got %s", type_name(step));
        return false;
    }
    const char *kind = NULL;
    for (const char *const *k = step_kinds; *k; k++) {
        if (!json_object_get(step, *k))
            continue;
        if (kind) {
            fail(v, "has both '%s' and '%s'; a step is exactly one of "
                    STEP_KIND_LIST, kind, *k);
            return false;
        }
        kind = *k;
    }
    if (!kind) {
        const char *first = json_object_iter_key(json_object_iter(step));
        fail(v, "unknown step%s%s%s; expected one of " STEP_KIND_LIST,
             first ? " '" : "", first ? first : "", first ? "'" : "");
        return false;
    }
    if (strcmp(kind, "write") == 0) {
        st->kind = WSR_STEP_WRITE;
        return parse_write(v, step, st, sc);
    }
    if (strcmp(kind, "await") == 0) {
        st->kind = WSR_STEP_AWAIT;
        return parse_await(v, step, st);
    }
    if (strcmp(kind, "echo") == 0) {
        st->kind = WSR_STEP_ECHO;
        return parse_echo(v, step, st);
    }
    if (strcmp(kind, "delay_ms") == 0)
        return parse_delay(v, step, st);
    return parse_word_step(v, step, st, kind);
}

/* ---- the parts the server does not run, checked all the same ----------- */

/* One item of the client's `send` knob: exactly one of text, hex, ping. */
static bool check_client_send_item(vctx *v, json_t *el)
{
    static const char *const keys[] = {"text", "hex", "ping", NULL};
    if (!json_is_object(el)) {
        fail(v, "expected an object, got %s", type_name(el));
        return false;
    }
    if (!check_keys(v, el, keys))
        return false;
    if (json_object_size(el) != 1) {
        fail(v, "expected exactly one of 'text', 'hex' or 'ping'");
        return false;
    }
    json_t *h = want(v, el, "hex", JSON_STRING, false);
    want(v, el, "text", JSON_STRING, false);
    want(v, el, "ping", JSON_STRING, false);
    if (h && !v->failed) {
        uint8_t *buf = NULL;
        size_t len;
        if (parse_hex(v, "hex", json_string_value(h), &buf, &len))
            free(buf);
    }
    return !v->failed;
}

static bool check_client_close_first(vctx *v, json_t *c)
{
    static const char *const keys[] = {"code", "reason", "after_messages",
                                       "after_ms", NULL};
    json_t *cf = json_object_get(c, "close_first");
    if (!cf || json_is_null(cf))
        return true;
    size_t m = push_key(v, "close_first");
    long long x;
    if (!json_is_object(cf))
        fail(v, "expected an object or null, got %s", type_name(cf));
    else if (check_keys(v, cf, keys)) {
        json_t *code = json_object_get(cf, "code");
        if (code && !json_is_null(code))
            want_int(v, cf, "code", 1000, 4999, &x);
        want(v, cf, "reason", JSON_STRING, false);
        if (json_object_get(cf, "after_messages") &&
            json_object_get(cf, "after_ms"))
            fail(v, "give at most one of 'after_messages' and 'after_ms'");
        if (!v->failed && json_object_get(cf, "after_messages"))
            want_int(v, cf, "after_messages", 0, 10 * MAX_COUNT, &x);
        if (!v->failed && json_object_get(cf, "after_ms"))
            want_int(v, cf, "after_ms", 0, MAX_MS, &x);
    }
    pop(v, m);
    return !v->failed;
}

static bool check_client(vctx *v, json_t *root)
{
    static const char *const keys[] = {
        "recv_delay_ms", "recv_pace_ms", "recv_timeout_ms", "max_messages",
        "echo",          "send",         "close_first",     "subprotocols",
        NULL};
    json_t *c = want(v, root, "client", JSON_OBJECT, false), *el;
    if (!c)
        return !v->failed;
    size_t m = push_key(v, "client"), i;
    long long x;
    if (!check_keys(v, c, keys))
        goto out;
    if (json_object_get(c, "recv_delay_ms"))
        want_int(v, c, "recv_delay_ms", 0, MAX_MS, &x);
    if (!v->failed && json_object_get(c, "recv_pace_ms"))
        want_int(v, c, "recv_pace_ms", 0, MAX_MS, &x);
    if (!v->failed && json_object_get(c, "recv_timeout_ms"))
        want_int(v, c, "recv_timeout_ms", 1, MAX_MS, &x);
    if (!v->failed && json_object_get(c, "max_messages"))
        want_int(v, c, "max_messages", 1, 10 * MAX_COUNT, &x);
    if (!v->failed)
        want(v, c, "echo", JSON_TRUE, false);
    if (!v->failed)
        want_string_array(v, c, "subprotocols", false);
    json_t *send = v->failed ? NULL : want(v, c, "send", JSON_ARRAY, false);
    if (send) {
        size_t m2 = push_key(v, "send");
        json_array_foreach(send, i, el) {
            size_t m3 = push_index(v, i);
            bool ok = check_client_send_item(v, el);
            pop(v, m3);
            if (!ok)
                break;
        }
        pop(v, m2);
    }
    if (!v->failed)
        check_client_close_first(v, c);
out:
    pop(v, m);
    return !v->failed;
}

static bool check_expected_message(vctx *v, json_t *msg)
{
    static const char *const keys[] = {"text", "hex", "count", "pattern",
                                       "size", NULL};
    long long x;
    if (!json_is_object(msg)) {
        fail(v, "expected an object, got %s", type_name(msg));
        return false;
    }
    if (!check_keys(v, msg, keys))
        return false;
    bool text = json_object_get(msg, "text"), hex = json_object_get(msg, "hex");
    if (text == hex) {
        fail(v, "expected exactly one of 'text' or 'hex'");
        return false;
    }
    want(v, msg, "text", JSON_STRING, false);
    json_t *h = want(v, msg, "hex", JSON_STRING, false);
    bool pattern = json_object_get(msg, "pattern") || json_object_get(msg, "size");
    if (h && !pattern) {
        uint8_t *buf = NULL;
        size_t len;
        if (parse_hex(v, "hex", json_string_value(h), &buf, &len))
            free(buf);
    }
    if (!v->failed && pattern) {
        /* The same rules as a write item's pattern; the bytes are not kept. */
        uint8_t *buf = NULL;
        size_t len;
        if (parse_pattern(v, msg, &buf, &len))
            free(buf);
    }
    if (!v->failed && json_object_get(msg, "count"))
        want_int(v, msg, "count", 1, MAX_COUNT, &x);
    return !v->failed;
}

/* A list of expected messages: [{"text"|"hex", "count"?}, ...]. */
static bool check_expected_messages(vctx *v, json_t *e, const char *key)
{
    json_t *msgs = want(v, e, key, JSON_ARRAY, false), *el;
    size_t i;
    if (!msgs)
        return !v->failed;
    size_t m = push_key(v, key);
    json_array_foreach(msgs, i, el) {
        size_t m2 = push_index(v, i);
        bool ok = check_expected_message(v, el);
        pop(v, m2);
        if (!ok)
            break;
    }
    pop(v, m);
    return !v->failed;
}

/* "code": an integer, null (none), or a non-empty list of integers. */
static bool check_code(vctx *v, json_t *obj, bool null_ok)
{
    json_t *code = json_object_get(obj, "code"), *el;
    long long x;
    size_t i;
    if (!code) {
        fail(v, "missing 'code' (an integer%s, or a list of them)",
             null_ok ? ", null for none" : "");
        return false;
    }
    if (json_is_null(code) && null_ok)
        return true;
    if (!json_is_array(code))
        return want_int(v, obj, "code", 0, 65535, &x);
    size_t m = push_key(v, "code");
    if (json_array_size(code) == 0)
        fail(v, "an empty list accepts no code");
    json_array_foreach(code, i, el) {
        size_t m2 = push_index(v, i);
        if (json_is_null(el) && null_ok)
            ;   /* "no code" is one of the acceptable outcomes */
        else if (!json_is_integer(el) || json_integer_value(el) < 0 ||
                 json_integer_value(el) > 65535)
            fail(v, "expected an integer 0..65535%s, got %s",
                 null_ok ? " or null" : "", type_name(el));
        pop(v, m2);
        if (v->failed)
            break;
    }
    pop(v, m);
    return !v->failed;
}

static bool check_expect_close(vctx *v, json_t *e)
{
    static const char *const ckeys[] = {"code", "reason", NULL};
    json_t *close = want(v, e, "close", JSON_OBJECT, false);
    if (!close)
        return !v->failed;
    size_t m = push_key(v, "close");
    if (check_keys(v, close, ckeys) && check_code(v, close, true))
        want(v, close, "reason", JSON_STRING, false);
    pop(v, m);
    return !v->failed;
}

static bool check_expect_client_close(vctx *v, json_t *e)
{
    static const char *const ckeys[] = {"code", NULL};
    json_t *cc = json_object_get(e, "client_close");
    if (!cc || json_is_false(cc))
        return true;
    size_t m = push_key(v, "client_close");
    if (!json_is_object(cc))
        fail(v, "expected an object or false, got %s", type_name(cc));
    else if (check_keys(v, cc, ckeys) && json_object_get(cc, "code"))
        check_code(v, cc, false);
    pop(v, m);
    return !v->failed;
}

static bool check_expect_client_pong(vctx *v, json_t *e)
{
    json_t *cp = json_object_get(e, "client_pong");
    if (!cp || json_is_false(cp))
        return true;
    size_t m = push_key(v, "client_pong");
    if (!json_is_object(cp))
        fail(v, "expected an object or false, got %s", type_name(cp));
    else
        check_expected_message(v, cp);
    pop(v, m);
    return !v->failed;
}

static bool check_expect(vctx *v, json_t *root)
{
    static const char *const keys[] = {"messages", "close", "client_close",
                                       "connected", "client_pong",
                                       "client_messages", NULL};
    json_t *e = want(v, root, "expect", JSON_OBJECT, true);
    if (!e)
        return false;
    size_t m = push_key(v, "expect");
    if (check_keys(v, e, keys) && check_expected_messages(v, e, "messages") &&
        check_expect_close(v, e) && check_expect_client_close(v, e)) {
        want(v, e, "connected", JSON_TRUE, false);
        if (!v->failed && check_expect_client_pong(v, e))
            check_expected_messages(v, e, "client_messages");
    }
    pop(v, m);
    return !v->failed;
}

static const char *const severities[] = {"fail", "non-strict",
                                         "informational", NULL};

static bool check_meta(vctx *v, json_t *root)
{
    json_t *bugs = want(v, root, "bugs", JSON_ARRAY, false), *el;
    size_t i;
    want(v, root, "summary", JSON_STRING, true);
    want_string_array(v, root, "rfc", true);
    want_string_array(v, root, "tags", false);
    want_enum(v, root, "severity", severities, false);
    if (bugs) {
        /* adapter/affected/fixed name the releases a proof test runs;
         * proof says why a bug cannot be proven. The harness reads them. */
        static const char *const keys[] = {"library", "versions", "url",
                                           "adapter", "affected", "fixed",
                                           "proof", NULL};
        static const char *const strings[] = {"versions", "url", "adapter",
                                              "affected", "fixed", "proof",
                                              NULL};
        size_t m = push_key(v, "bugs");
        json_array_foreach(bugs, i, el) {
            size_t m2 = push_index(v, i);
            if (!json_is_object(el))
                fail(v, "expected an object, got %s", type_name(el));
            else if (check_keys(v, el, keys)) {
                want(v, el, "library", JSON_STRING, true);
                for (size_t k = 0; strings[k]; k++)
                    want(v, el, strings[k], JSON_STRING, false);
            }
            pop(v, m2);
        }
        pop(v, m);
    }
    /* A waiver names an RFC rule the harness checks and says why it does
     * not apply here; the harness knows the rule names. */
    json_t *waive = want(v, root, "waive", JSON_OBJECT, false);
    if (waive) {
        size_t m = push_key(v, "waive");
        const char *key;
        json_t *val;
        json_object_foreach(waive, key, val) {
            json_t *why = want(v, waive, key, JSON_STRING, true);
            if (why && json_string_length(why) == 0) {
                size_t m2 = push_key(v, key);
                fail(v, "a waiver needs a reason");
                pop(v, m2);
            }
        }
        pop(v, m);
    }
    json_t *sbc = want(v, root, "severity_by_check", JSON_OBJECT, false);
    if (sbc) {
        static const char *const keys[] = {"messages", "close", "client_close",
                                           "connected", "client_pong",
                                           "client_messages", NULL};
        size_t m = push_key(v, "severity_by_check");
        const char *key;
        json_t *val;
        if (check_keys(v, sbc, keys))
            json_object_foreach(sbc, key, val) want_enum(v, sbc, key,
                                                         severities, true);
        pop(v, m);
    }
    return !v->failed;
}

/* ---- loading ----------------------------------------------------------- */

static void free_steps(wsr_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < steps[i].n_items; k++)
            free(steps[i].items[k].data);
        free(steps[i].items);
        free(steps[i].split);
    }
    free(steps);
}

void wsr_scenario_del(wsr_scenario *sc)
{
    if (!sc)
        return;
    free_steps(sc->steps, sc->n_steps);
    free(sc->name);
    free(sc->path);
    free(sc);
}

static bool parse_steps(vctx *v, json_t *root, wsr_scenario *sc)
{
    json_t *steps = want(v, root, "steps", JSON_ARRAY, true), *el;
    size_t i;
    if (!steps)
        return false;
    if (json_array_size(steps) == 0) {
        size_t m = push_key(v, "steps");
        fail(v, "a scenario needs at least one step");
        pop(v, m);
        return false;
    }
    sc->steps = calloc(json_array_size(steps), sizeof *sc->steps);
    if (!sc->steps) {
        fail(v, "out of memory");
        return false;
    }
    size_t m = push_key(v, "steps");
    json_array_foreach(steps, i, el) {
        size_t m2 = push_index(v, i);
        sc->n_steps = i + 1;
        bool ok = parse_step(v, el, &sc->steps[i], sc);
        pop(v, m2);
        if (!ok)
            break;
    }
    pop(v, m);
    return !v->failed;
}

/* A TLS step makes sense only in a scenario that always runs over TLS. */
static void check_tls_steps(vctx *v, const wsr_scenario *sc)
{
    for (size_t i = 0; i < sc->n_steps && !sc->tls_only; i++) {
        if (sc->steps[i].kind != WSR_STEP_TLS)
            continue;
        size_t m = push_key(v, "steps"), m2 = push_index(v, i),
               m3 = push_key(v, "tls");
        fail(v, "a tls step needs \"transport\": \"wss\" at the top level");
        pop(v, m3);
        pop(v, m2);
        pop(v, m);
        return;
    }
}

wsr_scenario *wsr_scenario_load_file(const char *file, const char *name,
                                     char *err, size_t errlen)
{
    static const char *const top_keys[] = {
        "name",   "summary", "rfc",       "tags",     "bugs",
        "client", "steps",   "expect",    "severity", "severity_by_check",
        "transport", "handshake", "waive", NULL};
    vctx v = {.file = file, .err = err, .errlen = errlen};
    json_error_t jerr;
    json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "%s:%d:%d: invalid JSON: %s", file, jerr.line,
                 jerr.column, jerr.text);
        return NULL;
    }
    wsr_scenario *sc = calloc(1, sizeof *sc);
    if (!sc) {
        snprintf(err, errlen, "%s: out of memory", file);
        json_decref(root);
        return NULL;
    }
    if (!json_is_object(root)) {
        fail(&v, "expected an object, got %s", type_name(root));
        goto done;
    }
    json_t *jname = want(&v, root, "name", JSON_STRING, true);
    if (jname && name && strcmp(json_string_value(jname), name) != 0) {
        size_t m = push_key(&v, "name");
        fail(&v, "'%s' does not match the file's place; expected '%s'",
             json_string_value(jname), name);
        pop(&v, m);
    }
    if (!v.failed && check_keys(&v, root, top_keys) &&
        want_enum(&v, root, "transport", (const char *const[]){"wss", NULL},
                  false) &&
        want_enum(&v, root, "handshake",
                  (const char *const[]){"auto", "manual", NULL}, false) &&
        check_meta(&v, root) &&
        check_client(&v, root) && check_expect(&v, root))
        parse_steps(&v, root, sc);
    if (!v.failed) {
        const char *tp = json_string_value(json_object_get(root, "transport"));
        const char *hs = json_string_value(json_object_get(root, "handshake"));
        sc->tls_only = tp && strcmp(tp, "wss") == 0;
        sc->handshake_manual = hs && strcmp(hs, "manual") == 0;
        check_tls_steps(&v, sc);
        sc->name = strdup(json_string_value(jname));
        sc->path = strdup(file);
        if (!sc->name || !sc->path)
            fail(&v, "out of memory");
    }
done:
    json_decref(root);
    if (v.failed) {
        wsr_scenario_del(sc);
        return NULL;
    }
    return sc;
}

/* ---- sets -------------------------------------------------------------- */

static int push_scenario(wsr_scenario_set *set, wsr_scenario *sc)
{
    wsr_scenario **nv = realloc(set->v, (set->n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    set->v = nv;
    set->v[set->n++] = sc;
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* rel is the path under the root so far ("" or "close/"). */
static int load_dir(wsr_scenario_set *set, const char *root, const char *rel,
                    char *err, size_t errlen)
{
    char dirpath[4096];
    snprintf(dirpath, sizeof dirpath, "%s/%s", root, rel);
    DIR *d = opendir(dirpath);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open: %s", dirpath, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char sub[4096], full[8200];
        snprintf(sub, sizeof sub, "%s%s", rel, de->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            strncat(sub, "/", sizeof sub - strlen(sub) - 1);
            rc = load_dir(set, root, sub, err, errlen);
        } else if (S_ISREG(st.st_mode) && ends_with(sub, ".json")) {
            sub[strlen(sub) - 5] = '\0';
            wsr_scenario *sc = wsr_scenario_load_file(full, sub, err, errlen);
            if (!sc || push_scenario(set, sc) != 0) {
                if (sc)
                    snprintf(err, errlen, "%s: out of memory", full);
                wsr_scenario_del(sc);
                rc = -1;
            }
        }
    }
    closedir(d);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    const wsr_scenario *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

int wsr_scenario_set_load(wsr_scenario_set *set, const char *dir, char *err,
                          size_t errlen)
{
    set->v = NULL;
    set->n = 0;
    if (load_dir(set, dir, "", err, errlen) != 0) {
        wsr_scenario_set_free(set);
        return -1;
    }
    qsort(set->v, set->n, sizeof *set->v, by_name);
    for (size_t i = 1; i < set->n; i++) {
        if (strcmp(set->v[i - 1]->name, set->v[i]->name) == 0) {
            snprintf(err, errlen, "%s: duplicate scenario name '%s'",
                     set->v[i]->path, set->v[i]->name);
            wsr_scenario_set_free(set);
            return -1;
        }
    }
    return 0;
}

void wsr_scenario_set_free(wsr_scenario_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        wsr_scenario_del(set->v[i]);
    free(set->v);
    set->v = NULL;
    set->n = 0;
}

const wsr_scenario *wsr_scenario_set_find(const wsr_scenario_set *set,
                                          const char *name, size_t len)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *n = set->v[mid]->name;
        int c = strncmp(n, name, len);
        if (c == 0 && n[len] != '\0')
            c = 1;
        if (c == 0)
            return set->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
