/*
 * scenario.c — loading scenario files and folders: the top level, the
 * steps and their write groups, and sets of scenarios.
 *
 * Every check goes through a jc_ctx (jsoncheck.h) that carries the file
 * name and the current JSON path, so the first mistake is reported as
 * "FILE: steps[1].write[0].close: expected an integer or null, got string".
 * The parts of a file the server does not run are checked by
 * scenario_meta.c, payloads are decoded by payload.c, and scripted HTTP
 * responses are built by scripted_response.c.
 */
#include "scenario.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "deflate.h"
#include "jsoncheck.h"
#include "payload.h"
#include "scenario_meta.h"
#include "scripted_response.h"
#include "strbuf.h"

#define MAX_EVERY_BYTE 65536u
/* What an await or echo waits when the step gives no timeout_ms. */
#define DEFAULT_AWAIT_MS 5000

/* obj[key], a required array; empty_msg says why it cannot be empty. */
static json_t *want_nonempty_array(jc_ctx *v, json_t *obj, const char *key,
                                   const char *empty_msg)
{
    json_t *arr = jc_want(v, obj, key, JSON_ARRAY, true);
    if (arr && json_array_size(arr) == 0) {
        jc_fail_at(v, key, "%s", empty_msg);
        return NULL;
    }
    return arr;
}

/* ---- write items ------------------------------------------------------- */

static const char *const item_kinds[] = {
    "text",  "binary", "continuation", "ping",      "pong",
    "close", "raw",    "raw_text",     "handshake", NULL};
static const char *const item_keys[] = {
    "text",     "binary",        "continuation", "ping",          "pong",
    "close",    "raw",           "raw_text",     "handshake",     "reason",
    "hex",      "base64",        "pattern",      "size",          "count",
    "fin",      "rsv",           "opcode",       "mask",          "length_form",
    "compress", "fragment_size", "deflate_tail", "deflate_final", NULL};
#define ITEM_KIND_LIST                                                         \
    "text, binary, continuation, ping, pong, close, raw, raw_text, handshake"

typedef struct item_list {
    wsr_item *v;
    size_t n, cap;
    /* The bytes the group's items put on the wire so far, and the whole
     * scenario's (sc->write_bytes), weighed before each item is built. */
    size_t group_bytes;
    size_t *scenario_bytes;
    wsr_scenario *sc; /* its deflate answer and stream, for "compress" */
} item_list;

static wsr_item *item_push(jc_ctx *v, item_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        wsr_item *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) {
            jc_fail(v, "out of memory");
            return NULL;
        }
        l->v = nv;
        l->cap = cap;
    }
    wsr_item *it = &l->v[l->n++];
    memset(it, 0, sizeof *it);
    return it;
}

static const char *item_kind_of(jc_ctx *v, json_t *obj)
{
    const char *found = jc_only_one(
        v, obj, item_kinds, "an item is exactly one of " ITEM_KIND_LIST);
    if (!found && !v->failed)
        jc_fail(v, "expected one of " ITEM_KIND_LIST);
    return found;
}

static bool parse_mask(jc_ctx *v, json_t *obj, wsr_item *it)
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
        !wsr_payload_hex(v, "mask", json_string_value(m), &k, &klen) ||
        klen != 4) {
        jc_fail_at(v, "mask", "expected a boolean or 8 hex digits");
        free(k);
        return false;
    }
    it->mask = true;
    memcpy(it->mask_key, k, 4);
    free(k);
    return true;
}

/* Frame options shared by every frame kind. */
static bool parse_frame_options(jc_ctx *v, json_t *obj, wsr_item *it)
{
    json_t *fin = jc_want(v, obj, "fin", JSON_TRUE, false);
    long long x = 0;
    it->fin = fin ? json_is_true(fin) : true;
    if (v->failed)
        return false;
    if (jc_want_int(v, obj, "rsv", 0, 7, &x))
        it->rsv = (uint8_t)x;
    if (jc_want_int(v, obj, "opcode", 0, 15, &x))
        it->opcode = (uint8_t)x;
    if (json_object_get(obj, "length_form")) {
        if (jc_want_int(v, obj, "length_form", 7, 64, &x) && x != 7 &&
            x != 16 && x != 64)
            jc_fail_at(v, "length_form", "expected 7, 16 or 64");
        it->len_form = (int)x;
    }
    return !v->failed && parse_mask(v, obj, it);
}

static bool parse_close_payload(jc_ctx *v, json_t *obj, wsr_item *it)
{
    json_t *code = json_object_get(obj, "close");
    json_t *reason = jc_want(v, obj, "reason", JSON_STRING, false);
    if (v->failed)
        return false;
    if (json_is_null(code)) {
        if (reason) {
            jc_fail_at(v, "reason", "a reason needs a close code");
            return false;
        }
        return true;
    }
    long long c;
    if (!json_is_integer(code)) {
        jc_fail_at(v, "close", "expected an integer or null, got %s",
                   jc_type_name(code));
        return false;
    }
    if (!jc_want_int(v, obj, "close", 0, 65535, &c))
        return false;
    const char *r = reason ? json_string_value(reason) : "";
    size_t rlen = reason ? json_string_length(reason) : 0;
    it->data = malloc(2 + rlen);
    if (!it->data) {
        jc_fail(v, "out of memory");
        return false;
    }
    it->len = ws_close_payload((uint16_t)c, (const uint8_t *)r, rlen, it->data);
    return true;
}

/* {"raw": "hex"} or {"raw_text": "bytes"}: bytes as given, no framing. */
static bool parse_raw_item(jc_ctx *v, json_t *obj, const char *kind,
                           item_list *out)
{
    json_t *raw = jc_want(v, obj, kind, JSON_STRING, true);
    wsr_item *it = raw ? item_push(v, out) : NULL;
    if (!it)
        return false;
    it->kind = WSR_ITEM_RAW;
    if (strcmp(kind, "raw") == 0)
        return wsr_payload_hex(v, "raw", json_string_value(raw), &it->data,
                               &it->len);
    it->len = json_string_length(raw);
    it->data = malloc(it->len + 1);
    if (!it->data) {
        jc_fail(v, "out of memory");
        return false;
    }
    memcpy(it->data, json_string_value(raw), it->len);
    return true;
}

static uint8_t frame_opcode(const char *kind)
{
    return strcmp(kind, "text") == 0           ? WS_OP_TEXT
           : strcmp(kind, "binary") == 0       ? WS_OP_BINARY
           : strcmp(kind, "continuation") == 0 ? WS_OP_CONT
           : strcmp(kind, "ping") == 0         ? WS_OP_PING
           : strcmp(kind, "pong") == 0         ? WS_OP_PONG
                                               : WS_OP_CLOSE;
}

/* ---- size limits: weighed before anything is built ------------------- */

/* a + b and a * b, saturating at UINT64_MAX so that no total wraps. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* The bytes one frame like proto with a len-byte payload puts on the wire.
 * A length its length form cannot carry is refused when the frame is
 * built; here it weighs as the largest header. */
static uint64_t frame_wire_len(const wsr_item *proto, uint64_t len)
{
    if (len > SIZE_MAX)
        return UINT64_MAX;
    ws_frame_spec spec = {.payload_len = (size_t)len,
                          .len_form = proto->len_form,
                          .mask = proto->mask};
    ssize_t n = ws_encoded_size(&spec);
    return n >= 0 ? (uint64_t)n : add_sat(len, 14);
}

/* Counts an item's bytes (all its copies) into the group's and the
 * scenario's, refusing them over either limit. The error is at "count" if
 * the item has one, else at "size" for a pattern, else at the item. */
enum limit { LIMIT_NONE, LIMIT_GROUP, LIMIT_SCENARIO, LIMIT_FAMILY };

/* Which limit bytes more would break (the first of group, scenario,
 * family), with the totals they would make. */
static enum limit limit_broken(const item_list *l, uint64_t bytes,
                               uint64_t *group, uint64_t *all, uint64_t *family)
{
    *group = add_sat(l->group_bytes, bytes);
    *all = add_sat(*l->scenario_bytes, bytes);
    *family = add_sat(*all, l->sc ? l->sc->family_bytes : 0);
    if (*group > WSR_MAX_GROUP_BYTES)
        return LIMIT_GROUP;
    if (*all > WSR_MAX_SCENARIO_BYTES)
        return LIMIT_SCENARIO;
    if (l->sc && l->sc->family_bytes && *family > WSR_MAX_FAMILY_BYTES)
        return LIMIT_FAMILY;
    return LIMIT_NONE;
}

static bool charge(jc_ctx *v, json_t *obj, item_list *l, uint64_t bytes)
{
    const char *key = json_object_get(obj, "count")  ? "count"
                      : json_object_get(obj, "size") ? "size"
                                                     : NULL;
    uint64_t group, all, family;
    enum limit broken = limit_broken(l, bytes, &group, &all, &family);
    char what[96];
    if (bytes == UINT64_MAX)
        snprintf(what, sizeof what,
                 "the item expands to more bytes than can be counted");
    else
        snprintf(what, sizeof what, "the item expands to %llu bytes",
                 (unsigned long long)bytes);
    if (broken == LIMIT_GROUP) {
        jc_fail_at(v, key,
                   "%s, bringing its write group to %llu bytes; the limit "
                   "for one write group is %u bytes (64 MiB)",
                   what, (unsigned long long)group, WSR_MAX_GROUP_BYTES);
        return false;
    }
    if (broken == LIMIT_SCENARIO) {
        jc_fail_at(v, key,
                   "%s, bringing the scenario's write groups to %llu bytes; "
                   "the limit for all of a scenario's write groups is %u "
                   "bytes (256 MiB)",
                   what, (unsigned long long)all, WSR_MAX_SCENARIO_BYTES);
        return false;
    }
    if (broken == LIMIT_FAMILY) {
        l->sc->family_limit_hit = true;
        jc_fail_at(v, key,
                   "%s, bringing the family's write groups to %llu bytes; "
                   "the limit for all of a family's members is %u bytes "
                   "(256 MiB)",
                   what, (unsigned long long)family, WSR_MAX_FAMILY_BYTES);
        return false;
    }
    l->group_bytes = (size_t)group;
    *l->scenario_bytes = (size_t)all;
    return true;
}

/* count copies of proto, each with a len-byte payload. */
static bool charge_copies(jc_ctx *v, json_t *obj, item_list *l,
                          const wsr_item *proto, long long count, uint64_t len)
{
    return charge(v, obj, l,
                  mul_sat((uint64_t)count, frame_wire_len(proto, len)));
}

/* count copies of proto whose payloads are templ with {i} replaced by the
 * copy's index: summed over the indexes of each number of digits. */
static bool charge_template(jc_ctx *v, json_t *obj, item_list *l,
                            const wsr_item *proto, long long count,
                            json_t *templ)
{
    const char *s = json_string_value(templ);
    uint64_t n = strlen(s), occ = 0, total = 0;
    for (const char *p = strstr(s, "{i}"); p; p = strstr(p + 3, "{i}"))
        occ++;
    uint64_t lo = 1;
    for (unsigned digits = 1; lo <= (uint64_t)count; digits++, lo *= 10) {
        uint64_t hi =
            lo * 10 - 1 < (uint64_t)count ? lo * 10 - 1 : (uint64_t)count;
        uint64_t len = n - 3 * occ + occ * digits;
        total =
            add_sat(total, mul_sat(hi - lo + 1, frame_wire_len(proto, len)));
    }
    return charge(v, obj, l, total);
}

/* The frame every copy of the item is made from. Its payload comes from a
 * source (hex, base64, pattern) into proto->data, from the close code and
 * reason, or else is the kind's own string, returned in *templ because each
 * copy expands its {i} differently. */
static bool parse_frame_proto(jc_ctx *v, json_t *obj, const char *kind,
                              long long count, item_list *out, wsr_item *proto,
                              json_t **templ)
{
    uint8_t op = frame_opcode(kind);
    *templ = NULL;
    if (!parse_frame_options(v, obj, proto))
        return false;
    if (!json_object_get(obj, "opcode"))
        proto->opcode = op;
    const char *source = wsr_payload_source_kind(v, obj);
    if (v->failed)
        return false;
    /* A pattern is weighed from its size, before it is built; the other
     * sources decode to no more bytes than the file spells. */
    bool pattern = source && strcmp(source, "pattern") == 0;
    size_t size = 0;
    if (pattern && (!wsr_payload_pattern_size(v, obj, &size) ||
                    !charge_copies(v, obj, out, proto, count, size)))
        return false;
    if (source &&
        !wsr_payload_decode(v, obj, source, &proto->data, &proto->len))
        return false;
    if (op == WS_OP_CLOSE) {
        if (!source && !parse_close_payload(v, obj, proto))
            return false;
    } else {
        json_t *own = jc_want(v, obj, kind, JSON_STRING, true);
        *templ = source ? NULL : own;
        if (v->failed)
            return false;
    }
    if (*templ)
        return charge_template(v, obj, out, proto, count, *templ);
    return pattern || charge_copies(v, obj, out, proto, count, proto->len);
}

/* One copy of proto, the index-th (from 1), with its own payload bytes.
 * Its length form is checked here unless coded (compressed or cut into
 * fragments): then the frames it becomes are checked. */
static bool add_frame_copy(jc_ctx *v, const wsr_item *proto, json_t *templ,
                           unsigned index, bool coded, item_list *out)
{
    wsr_item *it = item_push(v, out);
    if (!it)
        return false;
    *it = *proto;
    it->data = NULL;
    if (templ) {
        char *s = wsr_payload_template(json_string_value(templ), index);
        if (!s) {
            jc_fail(v, "out of memory");
            return false;
        }
        it->data = (uint8_t *)s;
        it->len = strlen(s);
    } else if (proto->len) {
        it->data = malloc(proto->len);
        if (!it->data) {
            jc_fail(v, "out of memory");
            return false;
        }
        memcpy(it->data, proto->data, proto->len);
    }
    ws_frame_spec spec = {.payload_len = it->len, .len_form = it->len_form};
    if (!coded && ws_encoded_size(&spec) < 0) {
        jc_fail_at(v, "length_form",
                   "a %zu-byte payload does not fit the %d-bit length form",
                   it->len, it->len_form);
        return false;
    }
    return true;
}

/* ---- compressed and fragmented frames -------------------------------- */

/* How a text or binary item's payload is coded and cut (RFC 7692 7.2.1):
 * "compress", "deflate_tail", "deflate_final", "fragment_size". */
typedef struct frame_coding {
    bool compress;
    unsigned flags;       /* WSR_DEFLATE_* */
    size_t fragment_size; /* 0: one frame */
} frame_coding;

static bool want_flag(jc_ctx *v, json_t *obj, const char *key)
{
    json_t *j = jc_want(v, obj, key, JSON_TRUE, false);
    return j && json_is_true(j);
}

static bool parse_coding(jc_ctx *v, json_t *obj, const char *kind,
                         frame_coding *c)
{
    static const char *const keys[] = {"compress", "deflate_tail",
                                       "deflate_final", "fragment_size"};
    bool data = strcmp(kind, "text") == 0 || strcmp(kind, "binary") == 0;
    for (size_t i = 0; i < 4; i++)
        if (!data && json_object_get(obj, keys[i])) {
            jc_fail_at(v, keys[i], "only text and binary items take '%s'",
                       keys[i]);
            return false;
        }
    c->compress = want_flag(v, obj, "compress");
    c->flags = (want_flag(v, obj, "deflate_tail") ? WSR_DEFLATE_TAIL : 0) |
               (want_flag(v, obj, "deflate_final") ? WSR_DEFLATE_FINAL : 0);
    if (!v->failed && c->flags && !c->compress)
        jc_fail_at(v,
                   json_object_get(obj, "deflate_tail") ? "deflate_tail"
                                                        : "deflate_final",
                   "needs \"compress\": true");
    long long n = 0;
    if (!v->failed && json_object_get(obj, "fragment_size") &&
        jc_want_int(v, obj, "fragment_size", 1, WSR_MAX_GROUP_BYTES, &n))
        c->fragment_size = (size_t)n;
    return !v->failed;
}

/* The scenario's stream, made at its first use with the parameters the
 * "deflate" object answers (15 bits and context takeover otherwise). */
wsr_deflater *wsr_scenario_deflater_new(const wsr_scenario *sc)
{
    const wsr_pmd_params *p = &sc->deflate_params;
    bool literal = sc->deflate == WSR_DEFLATE_LITERAL;
    int bits =
        literal && p->server_max_window_bits ? p->server_max_window_bits : 15;
    return wsr_deflater_new(bits, literal && p->server_no_context_takeover);
}

static wsr_deflater *scenario_deflater(jc_ctx *v, wsr_scenario *sc)
{
    if (sc->deflater)
        return sc->deflater;
    sc->deflater = wsr_scenario_deflater_new(sc);
    if (!sc->deflater)
        jc_fail(v, "out of memory");
    return sc->deflater;
}

/* Replaces it's payload by its compressed form. */
static bool compress_item(jc_ctx *v, wsr_item *it, unsigned flags,
                          wsr_scenario *sc)
{
    wsr_deflater *d = scenario_deflater(v, sc);
    uint8_t *z = NULL;
    size_t zlen = 0;
    if (!d || wsr_deflate_message(d, it->data, it->len, flags, &z, &zlen)) {
        if (!v->failed)
            jc_fail(v, "cannot compress the payload");
        return false;
    }
    /* The stream's output buffer starts at 1 KiB: kept for the life of the
     * set, a thousand small messages would hold a MiB. */
    uint8_t *fit = realloc(z, zlen ? zlen : 1);
    free(it->data);
    it->data = fit ? fit : z;
    it->len = zlen;
    return true;
}

/* Cuts the last item of l into frames of at most size payload bytes: the
 * first keeps its opcode and RSV bits, the rest are continuations with RSV
 * clear, and only the last keeps the item's FIN. */
static bool fragment_last(jc_ctx *v, item_list *l, size_t size)
{
    wsr_item whole = l->v[--l->n];
    size_t n = whole.len ? (whole.len + size - 1) / size : 1;
    bool ok = n <= WSR_MAX_COUNT;
    if (!ok)
        jc_fail_at(v, "fragment_size", "%zu fragments; at most %d", n,
                   WSR_MAX_COUNT);
    for (size_t k = 0; ok && k < n; k++) {
        size_t off = k * size,
               len = whole.len - off < size ? whole.len - off : size;
        wsr_item *it = item_push(v, l);
        if (!it)
            break;
        *it = whole;
        it->len = len;
        it->data = len ? malloc(len) : NULL;
        if (len && !it->data) {
            jc_fail(v, "out of memory");
            break;
        }
        if (len)
            memcpy(it->data, whole.data + off, len);
        it->fin = k == n - 1 ? whole.fin : false;
        if (k > 0) {
            it->opcode = WS_OP_CONT;
            it->rsv = 0;
        }
    }
    free(whole.data);
    return !v->failed;
}

/* Codes the copy just added (charged as wire_charged bytes), then weighs
 * what it became instead: both the input and the wire bytes are bounded. */
static bool code_last(jc_ctx *v, json_t *obj, const frame_coding *c,
                      item_list *l, uint64_t wire_charged)
{
    size_t first = l->n - 1;
    if (c->compress && !compress_item(v, &l->v[first], c->flags, l->sc))
        return false;
    if (c->fragment_size && !fragment_last(v, l, c->fragment_size))
        return false;
    uint64_t wire = 0;
    for (size_t k = first; k < l->n; k++) {
        ws_frame_spec spec = {.payload_len = l->v[k].len,
                              .len_form = l->v[k].len_form};
        if (ws_encoded_size(&spec) < 0) {
            jc_fail_at(v, "length_form",
                       "a %zu-byte payload does not fit the %d-bit length "
                       "form",
                       l->v[k].len, l->v[k].len_form);
            return false;
        }
        wire = add_sat(wire, frame_wire_len(&l->v[k], l->v[k].len));
    }
    if (wire > wire_charged)
        return charge(v, obj, l, wire - wire_charged);
    l->group_bytes -= (size_t)(wire_charged - wire);
    *l->scenario_bytes -= (size_t)(wire_charged - wire);
    return true;
}

/* ---- compressed items left to the write ------------------------------ */

static enum wsr_deflate_when deflate_when = WSR_DEFLATE_WHEN_AUTO;

void wsr_scenario_deflate_when(enum wsr_deflate_when when)
{
    deflate_when = when;
}

/* A check that needs the compressed sizes, which the loader left to the
 * write: load_root loads the scenario again, deflating its items, and the
 * check is made then. This message is never shown. */
static bool needs_sizes(jc_ctx *v, wsr_scenario *sc)
{
    sc->needs_sizes = true;
    jc_fail(v, "the check needs the compressed sizes");
    return false;
}

/*
 * The count copies of a compressed item as one WSR_ITEM_DEFLATE item,
 * weighed by what they can become: each copy by the larger of what it was
 * charged (uncompressed, one frame) and the most its frames can take
 * (wsr_deflate_bound, cut into fragment_size pieces). code_last charges
 * the exact difference copy by copy; every total it reaches is at most
 * this one, so the limits that hold here hold there. When they do not
 * hold here, or a copy could make too many fragments, or its length form
 * must be checked against its size, the sizes are needed.
 */
static bool add_deferred(jc_ctx *v, json_t *obj, const frame_coding *c,
                         wsr_item *proto, json_t *templ, long long count,
                         item_list *l)
{
    wsr_scenario *sc = l->sc;
    if (proto->len_form)
        return needs_sizes(v, sc);
    wsr_deflater *d = scenario_deflater(v, sc);
    if (!d)
        return false;
    const char *t = templ ? json_string_value(templ) : NULL;
    uint64_t tn = t ? strlen(t) : 0, occ = 0;
    for (const char *p = t ? strstr(t, "{i}") : NULL; p;
         p = strstr(p + 3, "{i}"))
        occ++;
    uint64_t fs = c->fragment_size, charged = 0, wire = 0, input = 0;
    uint64_t frames = 0, digits = 1, next = 10;
    for (long long i = 1; i <= count; i++) {
        if ((uint64_t)i == next) {
            digits++;
            next *= 10;
        }
        uint64_t len = t ? tn - 3 * occ + occ * digits : proto->len;
        uint64_t ch = frame_wire_len(proto, len);
        uint64_t z = wsr_deflate_bound(d, len);
        uint64_t nf = fs ? z / fs + (z % fs != 0) : 1;
        if (nf > WSR_MAX_COUNT)
            return needs_sizes(v, sc);
        uint64_t piece = fs && z > fs ? fs : z;
        uint64_t w =
            add_sat(z, mul_sat(nf, frame_wire_len(proto, piece) - piece));
        charged = add_sat(charged, ch);
        wire = add_sat(wire, w > ch ? w : ch);
        input = add_sat(input, len);
        frames += nf;
    }
    uint64_t group, all, family;
    if (limit_broken(l, wire - charged, &group, &all, &family) != LIMIT_NONE)
        return needs_sizes(v, sc);
    wsr_item *it = item_push(v, l);
    if (!it)
        return false;
    *it = *proto;
    it->kind = WSR_ITEM_DEFLATE;
    if (t) {
        it->data = (uint8_t *)strdup(t);
        it->len = tn;
        it->templated = true;
        if (!it->data) {
            jc_fail(v, "out of memory");
            return false;
        }
    } else if (json_is_string(json_object_get(obj, "pattern")) &&
               json_string_length(json_object_get(obj, "pattern")) <
                   proto->len) {
        /* A pattern is kept as it is spelled, and built at the write: a
         * 32 MiB message costs its few bytes until then. */
        json_t *pat = json_object_get(obj, "pattern");
        it->len = json_string_length(pat);
        it->pattern_size = proto->len;
        it->data = malloc(it->len);
        if (!it->data) {
            jc_fail(v, "out of memory");
            return false;
        }
        memcpy(it->data, json_string_value(pat), it->len);
    } else {
        proto->data = NULL; /* the item's now */
    }
    it->copies = (unsigned)count;
    it->deflate_flags = c->flags;
    it->fragment_size = (size_t)fs;
    it->wire_bound = wire;
    it->frames_bound = (size_t)frames;
    l->group_bytes = (size_t)group;
    *l->scenario_bytes = (size_t)all;
    sc->deflate_input = add_sat(sc->deflate_input, input);
    return true;
}

int wsr_item_deflate_frames(const wsr_item *it, wsr_deflater *d,
                            int (*frame)(void *arg, const wsr_item *f),
                            void *arg)
{
    uint8_t *built = NULL; /* a pattern, as wsr_payload_pattern builds it */
    if (it->pattern_size) {
        if (!(built = malloc(it->pattern_size)))
            return -1;
        for (size_t k = 0; k < it->pattern_size; k++)
            built[k] = it->data[k % it->len];
    }
    int rc = 0;
    for (unsigned i = 1; rc == 0 && i <= it->copies; i++) {
        const uint8_t *p = built ? built : it->data;
        size_t len = built ? it->pattern_size : it->len;
        char *own = NULL;
        if (it->templated) {
            own = wsr_payload_template((const char *)it->data, i);
            if (!own) {
                rc = -1;
                break;
            }
            p = (const uint8_t *)own;
            len = strlen(own);
        }
        uint8_t *z = NULL;
        size_t zlen = 0;
        rc = wsr_deflate_message(d, p, len, it->deflate_flags, &z, &zlen);
        free(own);
        if (rc != 0)
            break;
        /* As fragment_last cuts: the first frame keeps the opcode and RSV
         * bits, the rest are continuations, only the last keeps FIN. */
        size_t size = it->fragment_size ? it->fragment_size : zlen;
        size_t n = zlen && size ? (zlen + size - 1) / size : 1;
        for (size_t k = 0; rc == 0 && k < n; k++) {
            wsr_item f = *it;
            size_t off = k * size;
            f.kind = WSR_ITEM_FRAME;
            f.len = zlen - off < size ? zlen - off : size;
            f.data = f.len ? z + off : NULL;
            f.fin = k == n - 1 ? it->fin : false;
            if (k > 0) {
                f.opcode = WS_OP_CONT;
                f.rsv = 0;
            }
            rc = frame(arg, &f);
        }
        free(z);
    }
    free(built);
    return rc != 0 ? -1 : 0;
}

/* Expands one JSON item (with its count) into out. */
static bool parse_item(jc_ctx *v, json_t *obj, item_list *out)
{
    if (!json_is_object(obj)) {
        jc_fail(v, "expected an object, got %s", jc_type_name(obj));
        return false;
    }
    if (!jc_check_keys(v, obj, item_keys))
        return false;
    const char *kind = item_kind_of(v, obj);
    if (!kind)
        return false;
    long long count = 1;
    if (json_object_get(obj, "count") &&
        !jc_want_int(v, obj, "count", 1, WSR_MAX_COUNT, &count))
        return false;
    /* A handshake or raw item is as long as the file spells it: weighed
     * once built. Frames are weighed before their copies are made. */
    if (strcmp(kind, "handshake") == 0) {
        wsr_item *it = item_push(v, out);
        return it && wsr_scripted_response(v, obj, it) &&
               charge(v, obj, out, it->len);
    }
    if (strcmp(kind, "raw") == 0 || strcmp(kind, "raw_text") == 0)
        return parse_raw_item(v, obj, kind, out) &&
               charge(v, obj, out, out->v[out->n - 1].len);
    wsr_item proto = {.kind = WSR_ITEM_FRAME};
    frame_coding coding = {0};
    json_t *templ = NULL;
    if (!parse_coding(v, obj, kind, &coding) ||
        !parse_frame_proto(v, obj, kind, count, out, &proto, &templ))
        count = 0;
    if (coding.compress && !json_object_get(obj, "rsv"))
        proto.rsv = WS_RSV1; /* 7.2.3.1: the first frame says "compressed" */
    if (coding.compress && out->sc->deflate_at_write && count > 0 &&
        !v->failed) {
        add_deferred(v, obj, &coding, &proto, templ, count, out);
        free(proto.data);
        return !v->failed;
    }
    bool coded = coding.compress || coding.fragment_size;
    for (long long i = 1; i <= count; i++) {
        if (!add_frame_copy(v, &proto, templ, (unsigned)i, coded, out))
            break;
        const wsr_item *it = &out->v[out->n - 1];
        if (coded &&
            !code_last(v, obj, &coding, out, frame_wire_len(it, it->len)))
            break;
    }
    free(proto.data);
    return !v->failed;
}

/* How many bytes an item puts on the wire (a frame with its header). */
static size_t item_wire_len(const wsr_item *it)
{
    if (it->kind == WSR_ITEM_HANDSHAKE || it->kind == WSR_ITEM_RAW)
        return it->len;
    if (it->kind == WSR_ITEM_DEFLATE)
        return (size_t)it->wire_bound;
    ws_frame_spec spec = {
        .payload_len = it->len, .len_form = it->len_form, .mask = it->mask};
    ssize_t n = ws_encoded_size(&spec);
    return n > 0 ? (size_t)n : 0;
}

size_t wsr_step_group_bytes(const wsr_step *st)
{
    size_t total = 0;
    for (size_t k = 0; k < st->n_items; k++)
        total += item_wire_len(&st->items[k]);
    return total;
}

size_t wsr_step_pieces(const wsr_step *st)
{
    if (st->kind != WSR_STEP_WRITE)
        return 0;
    if (st->split_every_byte)
        return wsr_step_group_bytes(st);
    if (st->split_every) {
        size_t total = wsr_step_group_bytes(st);
        return total ? (total + st->split_every - 1) / st->split_every : 1;
    }
    return st->n_split + 1;
}

/* "split": [offsets] strictly ascending, each inside the group. */
static bool parse_split_offsets(jc_ctx *v, json_t *split, wsr_step *st,
                                size_t total)
{
    size_t m = jc_push_key(v, "split"), i;
    json_t *el;
    st->split = calloc(json_array_size(split) + 1, sizeof *st->split);
    if (!st->split) {
        jc_fail(v, "out of memory");
        return false;
    }
    json_array_foreach (split, i, el) {
        size_t m2 = jc_push_index(v, i);
        long long off = json_is_integer(el) ? json_integer_value(el) : -1;
        size_t prev = st->n_split ? st->split[st->n_split - 1] : 0;
        if (!json_is_integer(el))
            jc_fail(v, "expected an integer, got %s", jc_type_name(el));
        else if (off <= (long long)prev || (size_t)off >= total)
            jc_fail(v,
                    "offset %lld must be above %zu and below the group's "
                    "%zu bytes",
                    off, prev, total);
        else
            st->split[st->n_split++] = (size_t)off;
        jc_pop(v, m2);
    }
    jc_pop(v, m);
    return !v->failed;
}

/* "split": {"every": N}: pieces of N bytes, the last one shorter. */
static bool parse_split_every(jc_ctx *v, json_t *split, wsr_step *st)
{
    static const char *const keys[] = {"every", NULL};
    long long n = 0;
    size_t m = jc_push_key(v, "split");
    if (jc_check_keys(v, split, keys) &&
        jc_want(v, split, "every", JSON_INTEGER, true) &&
        jc_want_int(v, split, "every", 1, WSR_MAX_GROUP_BYTES, &n))
        st->split_every = (size_t)n;
    jc_pop(v, m);
    return !v->failed;
}

/* "split": absent, "every_byte", {"every": N}, or an array of offsets. */
static bool parse_split(jc_ctx *v, json_t *step, wsr_step *st, size_t total)
{
    json_t *split = json_object_get(step, "split");
    if (json_is_object(split))
        return parse_split_every(v, split, st);
    if (json_is_string(split)) {
        if (!jc_want_enum(v, step, "split",
                          (const char *const[]){"every_byte", NULL}, true))
            return false;
        st->split_every_byte = true;
        return true;
    }
    if (split && !json_is_array(split)) {
        jc_fail_at(v, "split",
                   "expected an array of byte offsets, \"every_byte\" or "
                   "{\"every\": N}, got %s",
                   jc_type_name(split));
        return false;
    }
    return !split || parse_split_offsets(v, split, st, total);
}

static bool parse_item_element(jc_ctx *v, json_t *el, size_t i, void *items)
{
    (void)i;
    return parse_item(v, el, items);
}

/* The group's items, expanded; at most one handshake response per scenario. */
static bool parse_write_items(jc_ctx *v, json_t *arr, wsr_step *st,
                              wsr_scenario *sc)
{
    item_list items = {.scenario_bytes = &sc->write_bytes, .sc = sc};
    jc_each(v, arr, "write", parse_item_element, &items);
    st->items = items.v;
    st->n_items = items.n;
    for (size_t k = 0; k < st->n_items && !v->failed; k++) {
        if (st->items[k].kind != WSR_ITEM_HANDSHAKE)
            continue;
        if (sc->handshake_in_group) {
            jc_fail_at(v, "write",
                       "the handshake response can be sent only once");
        }
        sc->handshake_in_group = true;
    }
    return !v->failed;
}

/* Whether the group holds items deflated at the write: its size is then a
 * bound, not the size. */
static bool group_deferred(const wsr_step *st)
{
    for (size_t k = 0; k < st->n_items; k++)
        if (st->items[k].kind == WSR_ITEM_DEFLATE)
            return true;
    return false;
}

/* How the group is cut into send()s: split, gap_ms, and their limits.
 * Split offsets must fall inside the group: with items deflated at the
 * write, that takes their sizes; so do the limits a bound breaks. */
static bool parse_write_pieces(jc_ctx *v, json_t *step, wsr_step *st,
                               wsr_scenario *sc)
{
    size_t total = wsr_step_group_bytes(st);
    long long gap = 0;
    bool bound = group_deferred(st);
    if (bound && (total > WSR_MAX_GROUP_BYTES ||
                  json_is_array(json_object_get(step, "split"))))
        return needs_sizes(v, sc);
    if (total > WSR_MAX_GROUP_BYTES) {
        jc_fail(v, "the group is %zu bytes; the limit is %u", total,
                WSR_MAX_GROUP_BYTES);
        return false;
    }
    if (json_object_get(step, "gap_ms") &&
        !jc_want_int(v, step, "gap_ms", 0, WSR_MAX_MS, &gap))
        return false;
    st->gap_ms = (unsigned)gap;
    if (!parse_split(v, step, st, total))
        return false;
    if (bound &&
        ((st->split_every && total / st->split_every > MAX_EVERY_BYTE) ||
         (st->split_every_byte && total > MAX_EVERY_BYTE)))
        return needs_sizes(v, sc);
    if (st->split_every && total / st->split_every > MAX_EVERY_BYTE) {
        jc_fail_at(v, "split",
                   "a group is cut into at most %u pieces; every %zu bytes "
                   "cuts this one's %zu bytes into more",
                   MAX_EVERY_BYTE, st->split_every, total);
        return false;
    }
    if (st->split_every_byte && total > MAX_EVERY_BYTE) {
        jc_fail_at(v, "split",
                   "every_byte splits groups of at most %u bytes; "
                   "this one has %zu",
                   MAX_EVERY_BYTE, total);
        return false;
    }
    return true;
}

static bool parse_write(jc_ctx *v, json_t *step, wsr_step *st, wsr_scenario *sc)
{
    static const char *const keys[] = {"write", "split", "gap_ms",
                                       "fail_fast_mark", NULL};
    if (!jc_check_keys(v, step, keys))
        return false;
    json_t *mark = jc_want(v, step, "fail_fast_mark", JSON_TRUE, false);
    if (v->failed)
        return false;
    st->fail_fast_mark = json_is_true(mark);
    json_t *arr = want_nonempty_array(v, step, "write",
                                      "a write group needs at least one item");
    return arr && parse_write_items(v, arr, st, sc) &&
           parse_write_pieces(v, step, st, sc);
}

static bool parse_await(jc_ctx *v, json_t *step, wsr_step *st)
{
    static const char *const keys[] = {"await", "timeout_ms", "count", NULL};
    static const char *const what[] = {"close", "message", "messages", "ping",
                                       "pong",  "eof",     NULL};
    if (!jc_check_keys(v, step, keys) ||
        !jc_want_enum(v, step, "await", what, true))
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
        !jc_want_int(v, step, "timeout_ms", 1, WSR_MAX_MS, &x))
        return false;
    st->ms = (unsigned)x;
    if (json_object_get(step, "count")) {
        if (st->await_what != WSR_AWAIT_MESSAGES &&
            st->await_what != WSR_AWAIT_PING &&
            st->await_what != WSR_AWAIT_PONG) {
            jc_fail_at(v, "count",
                       "only 'await' messages, ping and pong take a count");
            return false;
        }
        if (!jc_want_int(v, step, "count", 1, WSR_MAX_COUNT, &count))
            return false;
    }
    st->count = (unsigned)count;
    return true;
}

static bool parse_echo(jc_ctx *v, json_t *step, wsr_step *st)
{
    static const char *const keys[] = {"echo", NULL};
    static const char *const echo_keys[] = {"timeout_ms", NULL};
    if (!jc_check_keys(v, step, keys))
        return false;
    json_t *echo = jc_want(v, step, "echo", JSON_OBJECT, true);
    if (!echo)
        return false;
    size_t m = jc_push_key(v, "echo");
    long long x = DEFAULT_AWAIT_MS;
    if (jc_check_keys(v, echo, echo_keys) &&
        json_object_get(echo, "timeout_ms"))
        jc_want_int(v, echo, "timeout_ms", 1, WSR_MAX_MS, &x);
    jc_pop(v, m);
    st->ms = (unsigned)x;
    return !v->failed;
}

static const char *const step_kinds[] = {
    "write",    "delay_ms", "await", "echo",        "read",
    "shutdown", "tls",      "abort", "round_trips", NULL};
#define STEP_KIND_LIST                                                         \
    "write, delay_ms, await, echo, read, shutdown, tls, abort, round_trips"

/* "message" of round_trips: one text or binary frame, {i} the trip's
 * 1-based number; expanded into count items, one per trip. */
static bool parse_trip_message(jc_ctx *v, json_t *rt, wsr_step *st,
                               wsr_scenario *sc, long long count)
{
    static const char *const no[] = {
        "count",        "fin",           "compress", "fragment_size",
        "deflate_tail", "deflate_final", "opcode",   NULL};
    json_t *msg = jc_want(v, rt, "message", JSON_OBJECT, true);
    if (!msg)
        return false;
    size_t m = jc_push_key(v, "message");
    for (size_t k = 0; no[k] && !v->failed; k++)
        if (json_object_get(msg, no[k]))
            jc_fail_at(v, no[k],
                       "a round trip's message is one whole text or binary "
                       "frame (the count is the step's)");
    if (!v->failed && !json_object_get(msg, "text") &&
        !json_object_get(msg, "binary"))
        jc_fail(v, "expected a text or binary item");
    json_t *copy = v->failed ? NULL : json_deep_copy(msg);
    if (copy && json_object_set_new(copy, "count", json_integer(count)) == 0) {
        item_list items = {.scenario_bytes = &sc->write_bytes, .sc = sc};
        parse_item(v, copy, &items);
        st->items = items.v;
        st->n_items = items.n;
    } else if (!v->failed) {
        jc_fail(v, "out of memory");
    }
    json_decref(copy);
    jc_pop(v, m);
    return !v->failed;
}

/* {"round_trips": {"count": N, "message": ITEM, "timeout_ms": T}}. */
static bool parse_round_trips(jc_ctx *v, json_t *step, wsr_step *st,
                              wsr_scenario *sc)
{
    static const char *const keys[] = {"round_trips", NULL};
    static const char *const rt_keys[] = {"count", "message", "timeout_ms",
                                          NULL};
    st->kind = WSR_STEP_ROUND_TRIPS;
    if (!jc_check_keys(v, step, keys))
        return false;
    json_t *rt = jc_want(v, step, "round_trips", JSON_OBJECT, true);
    if (!rt)
        return false;
    size_t m = jc_push_key(v, "round_trips");
    long long count = 0, x = DEFAULT_AWAIT_MS;
    if (jc_check_keys(v, rt, rt_keys) &&
        jc_want(v, rt, "count", JSON_INTEGER, true) &&
        jc_want_int(v, rt, "count", 1, WSR_MAX_COUNT, &count) &&
        (!json_object_get(rt, "timeout_ms") ||
         jc_want_int(v, rt, "timeout_ms", 1, WSR_MAX_MS, &x)))
        parse_trip_message(v, rt, st, sc, count);
    jc_pop(v, m);
    st->count = (unsigned)count;
    st->ms = (unsigned)x;
    return !v->failed;
}

static bool parse_delay(jc_ctx *v, json_t *step, wsr_step *st)
{
    static const char *const keys[] = {"delay_ms", "jitter_ms", NULL};
    long long x = 0, j = 0;
    st->kind = WSR_STEP_DELAY;
    if (!jc_check_keys(v, step, keys) ||
        !jc_want(v, step, "delay_ms", JSON_INTEGER, true) ||
        !jc_want_int(v, step, "delay_ms", 0, WSR_MAX_MS, &x))
        return false;
    if (json_object_get(step, "jitter_ms") &&
        !jc_want_int(v, step, "jitter_ms", 0, WSR_MAX_MS, &j))
        return false;
    st->ms = (unsigned)x;
    st->jitter_ms = (unsigned)j;
    return true;
}

/* The one-word steps: read, shutdown, tls, abort. */
static bool parse_word_step(jc_ctx *v, json_t *step, wsr_step *st,
                            const char *kind)
{
    const char *const only[] = {kind, NULL};
    if (!jc_check_keys(v, step, only))
        return false;
    if (strcmp(kind, "read") == 0) {
        st->kind = WSR_STEP_READ;
        if (!jc_want_enum(v, step, "read",
                          (const char *const[]){"pause", "resume", NULL}, true))
            return false;
        st->read_on = strcmp(json_string_value(json_object_get(step, "read")),
                             "resume") == 0;
        return true;
    }
    if (strcmp(kind, "shutdown") == 0) {
        st->kind = WSR_STEP_SHUTDOWN;
        if (!jc_want_enum(v, step, "shutdown",
                          (const char *const[]){"write", "tcp", NULL}, true))
            return false;
        st->shutdown_how =
            strcmp(json_string_value(json_object_get(step, "shutdown")),
                   "tcp") == 0
                ? WSR_SHUT_TCP
                : WSR_SHUT_WRITE;
        return true;
    }
    if (strcmp(kind, "tls") == 0) {
        st->kind = WSR_STEP_TLS;
        return jc_want_enum(v, step, "tls",
                            (const char *const[]){"close_notify", NULL}, true);
    }
    st->kind = WSR_STEP_ABORT;
    return jc_want_enum(v, step, "abort", (const char *const[]){"rst", NULL},
                        true);
}

/* Which kind of step obj is: exactly one of step_kinds. */
static const char *step_kind_of(jc_ctx *v, json_t *step)
{
    const char *kind = jc_only_one(v, step, step_kinds,
                                   "a step is exactly one of " STEP_KIND_LIST);
    if (!kind && !v->failed) {
        const char *first = json_object_iter_key(json_object_iter(step));
        jc_fail(v, "unknown step%s%s%s; expected one of " STEP_KIND_LIST,
                first ? " '" : "", first ? first : "", first ? "'" : "");
    }
    return kind;
}

static bool parse_step(jc_ctx *v, json_t *step, wsr_step *st, wsr_scenario *sc)
{
    if (!json_is_object(step)) {
        jc_fail(v, "expected an object, got %s", jc_type_name(step));
        return false;
    }
    const char *kind = step_kind_of(v, step);
    if (!kind)
        return false;
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
    if (strcmp(kind, "round_trips") == 0)
        return parse_round_trips(v, step, st, sc);
    return parse_word_step(v, step, st, kind);
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
    wsr_deflater_del(sc->deflater);
    json_decref(sc->doc);
    free(sc->name);
    free(sc->path);
    free(sc);
}

static bool parse_step_element(jc_ctx *v, json_t *el, size_t i, void *arg)
{
    wsr_scenario *sc = arg;
    /* Counted before parsing, so that a half-parsed step is freed too. */
    sc->n_steps = i + 1;
    return parse_step(v, el, &sc->steps[i], sc);
}

static bool parse_steps(jc_ctx *v, json_t *root, wsr_scenario *sc)
{
    json_t *steps = want_nonempty_array(v, root, "steps",
                                        "a scenario needs at least one step");
    if (!steps)
        return false;
    sc->steps = calloc(json_array_size(steps), sizeof *sc->steps);
    if (!sc->steps) {
        jc_fail(v, "out of memory");
        return false;
    }
    return jc_each(v, steps, "steps", parse_step_element, sc);
}

/* A TLS step makes sense only in a scenario that always runs over TLS. */
static void check_tls_steps(jc_ctx *v, const wsr_scenario *sc)
{
    for (size_t i = 0; i < sc->n_steps && !sc->tls_only; i++) {
        if (sc->steps[i].kind != WSR_STEP_TLS)
            continue;
        size_t m = jc_push_key(v, "steps"), m2 = jc_push_index(v, i),
               m3 = jc_push_key(v, "tls");
        jc_fail(v, "a tls step needs \"transport\": \"wss\" at the top level");
        jc_pop(v, m3);
        jc_pop(v, m2);
        jc_pop(v, m);
        return;
    }
}

/* expect.fail_fast needs exactly one write group marked fail_fast_mark,
 * and a mark means nothing without it; expect.round_trips needs a
 * round_trips step. */
static void check_step_expectations(jc_ctx *v, const wsr_scenario *sc,
                                    json_t *root)
{
    if (v->failed)
        return;
    json_t *e = json_object_get(root, "expect");
    bool ff = json_is_true(json_object_get(e, "fail_fast"));
    bool rt = json_is_true(json_object_get(e, "round_trips"));
    size_t marks = 0, trips = 0;
    for (size_t i = 0; i < sc->n_steps; i++) {
        marks += sc->steps[i].fail_fast_mark;
        trips += sc->steps[i].kind == WSR_STEP_ROUND_TRIPS;
    }
    size_t m = jc_push_key(v, "expect");
    if (ff && marks != 1)
        jc_fail_at(v, "fail_fast",
                   "needs exactly one write group with \"fail_fast_mark\": "
                   "true; the steps have %zu",
                   marks);
    else if (!ff && marks)
        jc_fail_at(v, "fail_fast",
                   "a write group has \"fail_fast_mark\": true, so expect "
                   "\"fail_fast\": true");
    else if (rt && !trips)
        jc_fail_at(v, "round_trips", "needs a round_trips step");
    jc_pop(v, m);
}

/* A name is a place a scenarios folder can hold and a URL path can reach:
 * parts joined by '/', each of letters, digits, '-', '_' and '.', none
 * empty and none starting with '.' (hidden, "..") or '-' (option-like).
 * The folder walk checks it too, so --check FILE... and the server agree. */
bool wsr_scenario_name_ok(const char *name)
{
    bool start = true;
    for (const char *p = name;; p++) {
        char c = *p;
        if (c == '\0' || c == '/') {
            if (start) /* empty part: "", "a//b", "/a", "a/" */
                return false;
            if (c == '\0')
                return true;
            start = true;
            continue;
        }
        bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_';
        if (!word && !(c == '-' || c == '.'))
            return false;
        if (start && !word)
            return false;
        start = false;
    }
}

/* "vary": {"no": "why"}: the scenario opts out of the run's variants
 * (steps.h), saying why; the only form, so an opt-out always has a why. */
static bool check_vary(jc_ctx *v, json_t *root)
{
    json_t *o = jc_want(v, root, "vary", JSON_OBJECT, false);
    if (!o)
        return !v->failed;
    static const char *const keys[] = {"no", NULL};
    size_t m = jc_push_key(v, "vary");
    json_t *no = NULL;
    if (jc_check_keys(v, o, keys))
        no = jc_want(v, o, "no", JSON_STRING, true);
    if (no && json_string_length(no) == 0)
        jc_fail_at(v, "no", "the reason must not be empty");
    jc_pop(v, m);
    return !v->failed;
}

const char *wsr_scenario_vary_no(const wsr_scenario *sc)
{
    json_t *o = json_object_get(sc->doc, "vary");
    return json_string_value(json_object_get(o, "no"));
}

/* The top level is an object whose name is a valid place and matches the
 * file's place (when name is given). */
static bool check_name(jc_ctx *v, json_t *root, const char *name)
{
    if (!json_is_object(root)) {
        jc_fail(v, "expected an object, got %s", jc_type_name(root));
        return false;
    }
    json_t *jname = jc_want(v, root, "name", JSON_STRING, true);
    if (jname && !wsr_scenario_name_ok(json_string_value(jname)))
        jc_fail_at(v, "name",
                   "'%s' is not a scenario name: parts joined by '/', each "
                   "of letters, digits, '-', '_', '.', not starting with "
                   "'.' or '-'",
                   json_string_value(jname));
    else if (jname && name && strcmp(json_string_value(jname), name) != 0)
        jc_fail_at(v, "name",
                   "'%s' does not match the file's place; "
                   "expected '%s'",
                   json_string_value(jname), name);
    return !v->failed;
}

/* The top level: an object whose name is a valid place and matches the
 * file's place (when name is given), with known keys only, and valid parts
 * the server does not run. */
static bool check_top(jc_ctx *v, json_t *root, const char *name)
{
    static const char *const top_keys[] = {
        "name",      "summary",   "rfc",       "tags",      "bugs",
        "client",    "steps",     "expect",    "severity",  "severity_by_check",
        "transport", "handshake", "waive",     "run_alone", "deflate",
        "autobahn",  "vary",      "echo_mode", NULL};
    if (!check_name(v, root, name))
        return false;
    return jc_check_keys(v, root, top_keys) &&
           jc_want_enum(v, root, "transport",
                        (const char *const[]){"wss", NULL}, false) &&
           jc_want_enum(v, root, "handshake",
                        (const char *const[]){"auto", "manual", NULL}, false) &&
           (jc_want(v, root, "run_alone", JSON_TRUE, false), !v->failed) &&
           check_vary(v, root) && wsr_check_meta(v, root) &&
           wsr_check_echo_mode(v, root) && wsr_check_client(v, root) &&
           wsr_check_expect(v, root);
}

/* "deflate": "decline", "accept", or the answer's parameters (an object);
 * read before the steps, whose compressed items follow it. */
static bool parse_deflate(jc_ctx *v, json_t *root, wsr_scenario *sc)
{
    static const char *const words[] = {"decline", "accept", NULL};
    json_t *d = json_object_get(root, "deflate");
    sc->deflate_given = d != NULL;
    if (!d || json_is_string(d)) {
        if (!jc_want_enum(v, root, "deflate", words, false))
            return false;
        sc->deflate = d && strcmp(json_string_value(d), "accept") == 0
                          ? WSR_DEFLATE_ACCEPT
                          : WSR_DEFLATE_DECLINE;
        return true;
    }
    size_t m = jc_push_key(v, "deflate");
    if (!json_is_object(d))
        jc_fail(v, "expected \"decline\", \"accept\" or an object, got %s",
                jc_type_name(d));
    else if (wsr_check_pmd_object(v, d, false, &sc->deflate_params))
        sc->deflate = WSR_DEFLATE_LITERAL;
    jc_pop(v, m);
    return !v->failed;
}

/* The scenario-wide flags, once the steps are parsed. */
static bool finish_scenario(jc_ctx *v, json_t *root, const char *file,
                            wsr_scenario *sc)
{
    const char *tp = json_string_value(json_object_get(root, "transport"));
    const char *hs = json_string_value(json_object_get(root, "handshake"));
    sc->tls_only = tp && strcmp(tp, "wss") == 0;
    sc->handshake_manual = hs && strcmp(hs, "manual") == 0;
    check_tls_steps(v, sc);
    check_step_expectations(v, sc, root);
    sc->name = strdup(json_string_value(json_object_get(root, "name")));
    sc->path = strdup(file);
    if (!sc->name || !sc->path)
        jc_fail(v, "out of memory");
    sc->doc = json_incref(root);
    return !v->failed;
}

/* where is what errors start with: the file, or the file and the family
 * member being loaded. Takes root over. */
/* Everything a scenario file's root says, checked and built into sc. */
static bool parse_root(jc_ctx *v, json_t *root, const char *file,
                       const char *name, wsr_scenario *sc)
{
    return check_top(v, root, name) && parse_deflate(v, root, sc) &&
           parse_steps(v, root, sc) && finish_scenario(v, root, file, sc);
}

/* sc as calloc made it, but for what its family put on the wire. */
static void reset_scenario(wsr_scenario *sc)
{
    size_t family_bytes = sc->family_bytes;
    free_steps(sc->steps, sc->n_steps);
    wsr_deflater_del(sc->deflater);
    json_decref(sc->doc);
    free(sc->name);
    free(sc->path);
    memset(sc, 0, sizeof *sc);
    sc->family_bytes = family_bytes;
}

static bool has_deferred(const wsr_scenario *sc)
{
    for (size_t i = 0; i < sc->n_steps; i++)
        if (group_deferred(&sc->steps[i]))
            return true;
    return false;
}

/* Whether sc, loaded with its compressed items left to the write, is to be
 * loaded again with them deflated: a check needed their sizes, or (auto)
 * they are small enough that deflating costs little and makes the
 * scenario's "wire" figures exact. */
static bool load_again(const wsr_scenario *sc, bool ok,
                       enum wsr_deflate_when when)
{
    return sc->needs_sizes || (ok && when == WSR_DEFLATE_WHEN_AUTO &&
                               sc->deflate_input <= WSR_DEFLATE_AT_LOAD_MAX);
}

static wsr_scenario *load_root(json_t *root, json_error_t *jerr,
                               const char *file, const char *where,
                               const char *name, size_t family_bytes,
                               enum wsr_deflate_when when, bool *family_limit,
                               char *err, size_t errlen)
{
    jc_ctx v = {.file = where, .err = err, .errlen = errlen};
    if (!root) {
        snprintf(err, errlen, "%s:%d:%d: invalid JSON: %s", file, jerr->line,
                 jerr->column, jerr->text);
        return NULL;
    }
    wsr_scenario *sc = calloc(1, sizeof *sc);
    if (!sc) {
        snprintf(err, errlen, "%s: out of memory", file);
        json_decref(root);
        return NULL;
    }
    sc->family_bytes = family_bytes;
    sc->deflate_at_write = when != WSR_DEFLATE_WHEN_LOAD;
    bool ok = parse_root(&v, root, file, name, sc);
    bool deferred = has_deferred(sc) || sc->needs_sizes;
    if (sc->deflate_at_write && deferred && load_again(sc, ok, when)) {
        reset_scenario(sc);
        v = (jc_ctx){.file = where, .err = err, .errlen = errlen};
        ok = parse_root(&v, root, file, name, sc);
    } else if (!deferred) {
        sc->deflate_at_write = false; /* nothing is left to the write */
    }
    wsr_deflater_del(sc->deflater); /* the stream is for loading only */
    sc->deflater = NULL;
    json_decref(root);
    if (family_limit)
        *family_limit = sc->family_limit_hit;
    if (!ok) {
        wsr_scenario_del(sc);
        return NULL;
    }
    return sc;
}

/* Why `file` cannot be opened (errnum from open or stat): a dangling
 * symlink says so and where it points, not just "No such file". */
static void cannot_open(const char *file, int errnum, char *err, size_t errlen)
{
    char to[1024];
    struct stat lst;
    ssize_t n = -1;
    if (errnum == ENOENT && lstat(file, &lst) == 0 && S_ISLNK(lst.st_mode))
        n = readlink(file, to, sizeof to - 1);
    if (n >= 0) {
        to[n] = '\0';
        snprintf(err, errlen,
                 "%s: broken symlink (to %s, which does not exist)", file, to);
    } else {
        snprintf(err, errlen, "%s: cannot open: %s", file, strerror(errnum));
    }
}

/* The file's JSON (NULL with the error in err, or with *jerr filled when
 * it is not JSON: then *opened is true). */
static json_t *read_file_json(const char *file, json_error_t *jerr,
                              bool *opened, char *err, size_t errlen)
{
    /* Non-blocking: opening a FIFO must not wait for a writer. */
    int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    *opened = false;
    if (fd < 0 || fstat(fd, &st) != 0) {
        cannot_open(file, errno, err, errlen);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file (%s)", file,
                 wsr_file_kind(st.st_mode));
        close(fd);
        return NULL;
    }
    *opened = true;
    /* Read whole, then parsed: json_loadfd reads a byte per read() (4.5
     * million system calls for the catalogue with Autobahn's families). */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0) {
                cannot_open(file, errno, err, errlen);
                *opened = false;
                free(buf);
                buf = NULL;
            }
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    if (!buf) {
        if (*opened)
            snprintf(err, errlen, "%s: out of memory", file);
        *opened = false;
        return NULL;
    }
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, jerr);
    free(buf);
    return root;
}

/* A family file loads only into a set (load_*_into). Takes root over. */
static wsr_scenario *load_single(json_t *root, json_error_t *jerr,
                                 const char *file, const char *name, char *err,
                                 size_t errlen)
{
    if (json_is_object(root) && json_object_get(root, "family")) {
        snprintf(err, errlen,
                 "%s: family: a family of scenarios, loaded only into a "
                 "set (wsr_scenario_load_file_into)",
                 file);
        json_decref(root);
        return NULL;
    }
    return load_root(root, jerr, file, file, name, 0, deflate_when, NULL, err,
                     errlen);
}

wsr_scenario *wsr_scenario_load_file(const char *file, const char *name,
                                     char *err, size_t errlen)
{
    json_error_t jerr;
    bool opened;
    json_t *root = read_file_json(file, &jerr, &opened, err, errlen);
    if (!opened)
        return NULL;
    return load_single(root, &jerr, file, name, err, errlen);
}

wsr_scenario *wsr_scenario_load_buffer(const char *buf, size_t len,
                                       const char *file, const char *name,
                                       char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    return load_single(root, &jerr, file, name, err, errlen);
}

/* ---- families ---------------------------------------------------------- */

static bool ident_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* The length of the identifier at s (0 if none), at most max. */
static size_t ident_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && ident_char(s[n], n == 0))
        n++;
    return n;
}

/* One member's parameters: its id and its vars. */
typedef struct fam_params {
    json_t *id;   /* a string */
    json_t *vars; /* an object, or NULL */
} fam_params;

static json_t *param_value(const fam_params *fp, const char *name, size_t n)
{
    char key[WSR_MAX_PARAM_NAME + 1];
    if (n == 2 && memcmp(name, "id", 2) == 0)
        return fp->id;
    if (n > WSR_MAX_PARAM_NAME || !fp->vars)
        return NULL;
    memcpy(key, name, n);
    key[n] = '\0';
    return json_object_get(fp->vars, key);
}

/* The length of the placeholder "{name}" at s[0] == '{' (0 if there is
 * none; "{i}" is the write items' own and never one). */
static size_t placeholder_len(const char *s, size_t rest)
{
    size_t n = ident_len(s + 1, rest - 1);
    if (n == 0 || n + 2 > rest || s[n + 1] != '}')
        return 0;
    if (n == 1 && s[1] == 'i')
        return 0;
    return n + 2;
}

/* str with its placeholders replaced: a string that is one placeholder
 * becomes the parameter's value (any JSON); inside a longer string a
 * parameter must be a string or an integer. NULL on an error. */
static json_t *subst_string(jc_ctx *v, json_t *str, const fam_params *fp)
{
    const char *s = json_string_value(str);
    size_t len = json_string_length(str);
    size_t whole = len > 0 && s[0] == '{' ? placeholder_len(s, len) : 0;
    if (whole == len && len > 0) {
        json_t *val = param_value(fp, s + 1, len - 2);
        if (!val) {
            jc_fail(v,
                    "'%s' names no parameter of the family (a member has "
                    "'id' and its 'vars')",
                    s);
            return NULL;
        }
        return json_deep_copy(val);
    }
    wsr_strbuf b = {0};
    bool any = false;
    for (size_t i = 0; i < len && !v->failed;) {
        size_t n = s[i] == '{' ? placeholder_len(s + i, len - i) : 0;
        if (n == 0) {
            wsr_sb_add(&b, s + i, 1);
            i++;
            continue;
        }
        any = true;
        json_t *val = param_value(fp, s + i + 1, n - 2);
        char num[32];
        if (!val)
            jc_fail(v,
                    "'%.*s' names no parameter of the family (a member has "
                    "'id' and its 'vars')",
                    (int)n, s + i);
        else if (json_is_string(val))
            wsr_sb_add(&b, json_string_value(val), json_string_length(val));
        else if (json_is_integer(val)) {
            snprintf(num, sizeof num, "%lld",
                     (long long)json_integer_value(val));
            wsr_sb_add(&b, num, strlen(num));
        } else
            jc_fail(v,
                    "'%.*s' is %s; inside a longer string a parameter must "
                    "be a string or an integer",
                    (int)n, s + i, jc_type_name(val));
        i += n;
    }
    json_t *out = NULL;
    if (!v->failed && b.oom)
        jc_fail(v, "out of memory");
    else if (!v->failed)
        out = any ? json_stringn(b.p ? b.p : "", b.n) : json_incref(str);
    free(b.p);
    if (!v->failed && !out)
        jc_fail(v, "out of memory");
    return out;
}

/* j with every placeholder in its strings replaced (keys stay as they
 * are); a new reference, or NULL on an error. */
static json_t *subst(jc_ctx *v, json_t *j, const fam_params *fp)
{
    if (json_is_string(j))
        return subst_string(v, j, fp);
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j) && !v->failed; i++) {
            size_t m = jc_push_index(v, i);
            json_t *nv = subst(v, json_array_get(j, i), fp);
            if (nv && json_array_set_new(j, i, nv) != 0)
                jc_fail(v, "out of memory");
            jc_pop(v, m);
        }
    } else if (json_is_object(j)) {
        for (void *it = json_object_iter(j); it && !v->failed;
             it = json_object_iter_next(j, it)) {
            size_t m = jc_push_key(v, json_object_iter_key(it));
            json_t *nv = subst(v, json_object_iter_value(it), fp);
            if (nv && json_object_iter_set_new(j, it, nv) != 0)
                jc_fail(v, "out of memory");
            jc_pop(v, m);
        }
    }
    return v->failed ? NULL : json_incref(j);
}

/* The keys a member may give: its id, its vars, and top-level fields that
 * replace the template's. */
static const char *const member_keys[] = {"id",
                                          "vars",
                                          "summary",
                                          "rfc",
                                          "tags",
                                          "bugs",
                                          "client",
                                          "steps",
                                          "expect",
                                          "severity",
                                          "severity_by_check",
                                          "waive",
                                          "run_alone",
                                          "transport",
                                          "handshake",
                                          "deflate",
                                          "autobahn",
                                          "echo_mode",
                                          NULL};

/* members[i]: an object with a valid, new id and vars named like
 * identifiers (not 'i' or 'id'). */
static bool check_member(jc_ctx *v, json_t *m, size_t i, void *arg)
{
    json_t *seen = arg;
    (void)i;
    if (!json_is_object(m)) {
        jc_fail(v, "expected an object, got %s", jc_type_name(m));
        return false;
    }
    if (!jc_check_keys(v, m, member_keys))
        return false;
    json_t *id = jc_want(v, m, "id", JSON_STRING, true);
    if (!id)
        return false;
    const char *s = json_string_value(id);
    if (strchr(s, '/') || !wsr_scenario_name_ok(s)) {
        jc_fail_at(v, "id",
                   "'%s' is not a name part: letters, digits, '-', '_', "
                   "'.', not starting with '.' or '-'",
                   s);
        return false;
    }
    if (json_object_get(seen, s)) {
        jc_fail_at(v, "id", "'%s' is the id of an earlier member", s);
        return false;
    }
    if (json_object_set_new(seen, s, json_true()) != 0) {
        jc_fail(v, "out of memory");
        return false;
    }
    json_t *vars = jc_want(v, m, "vars", JSON_OBJECT, false);
    const char *key;
    json_t *val;
    size_t mark = jc_push_key(v, "vars");
    json_object_foreach (vars, key, val) {
        size_t n = strlen(key);
        if (ident_len(key, n) != n || n > WSR_MAX_PARAM_NAME ||
            strcmp(key, "i") == 0 || strcmp(key, "id") == 0)
            jc_fail_at(v, key,
                       "a parameter is named like an identifier (letters, "
                       "digits, '_', at most %d), and not 'i' (the write "
                       "items' own) or 'id' (the member's id)",
                       WSR_MAX_PARAM_NAME);
    }
    jc_pop(v, mark);
    return !v->failed;
}

/* The family's frame: "family" is {"members": [...]}, the file's name is
 * valid (and its place's, when name is given); the rest of the file is the
 * template, checked only as each member's expansion. */
static bool check_family(jc_ctx *v, json_t *root, const char *name)
{
    if (!check_name(v, root, name))
        return false;
    json_t *fam = jc_want(v, root, "family", JSON_OBJECT, true);
    if (!fam)
        return false;
    size_t mark = jc_push_key(v, "family");
    json_t *seen = json_object();
    json_t *members = NULL;
    if (!seen)
        jc_fail(v, "out of memory");
    else if (jc_check_keys(v, fam, (const char *const[]){"members", NULL}))
        members = want_nonempty_array(v, fam, "members",
                                      "a family has at least one member");
    if (members && json_array_size(members) > WSR_MAX_FAMILY_MEMBERS)
        jc_fail_at(v, "members", "%zu members; the limit is %d",
                   json_array_size(members), WSR_MAX_FAMILY_MEMBERS);
    if (members && !v->failed)
        jc_each(v, members, "members", check_member, seen);
    json_decref(seen);
    jc_pop(v, mark);
    return !v->failed;
}

/* Member i of the family in root, as a scenario file of its own: the
 * template with the member's fields, its name and its parameters. NULL
 * with the error in v. */
static json_t *expand_member(jc_ctx *v, json_t *root, json_t *m,
                             const char *member_name)
{
    json_t *doc = json_deep_copy(root);
    if (!doc) {
        jc_fail(v, "out of memory");
        return NULL;
    }
    json_object_del(doc, "family");
    const char *key;
    json_t *val;
    json_object_foreach (m, key, val) {
        if (strcmp(key, "id") != 0 && strcmp(key, "vars") != 0 &&
            json_object_set_new(doc, key, json_deep_copy(val)) != 0)
            jc_fail(v, "out of memory");
    }
    fam_params fp = {.id = json_object_get(m, "id"),
                     .vars = json_object_get(m, "vars")};
    json_t *out = v->failed ? NULL : subst(v, doc, &fp);
    json_decref(doc);
    if (out && json_object_set_new(out, "name", json_string(member_name)) != 0)
        jc_fail(v, "out of memory");
    if (v->failed) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* Every member of the family in root into set, or none (-1, err).
 * Members are charged what the earlier ones put on the wire: bounds for
 * items left to the write. When a member breaks the family's limit after
 * such a bound, the family is loaded again with every item deflated, so
 * that the limit is judged on the sizes. */
static int load_family(wsr_scenario_set *set, json_t *root, const char *file,
                       const char *name, char *err, size_t errlen)
{
    jc_ctx v = {.file = file, .err = err, .errlen = errlen};
    size_t first = set->n;
    size_t bytes = 0;
    enum wsr_deflate_when when = deflate_when;
    bool bounded = false; /* bytes holds a bound */
    if (!check_family(&v, root, name))
        goto fail;
again:;
    json_t *members =
        json_object_get(json_object_get(root, "family"), "members");
    const char *base = json_string_value(json_object_get(root, "name"));
    for (size_t i = 0; i < json_array_size(members); i++) {
        json_t *m = json_array_get(members, i);
        const char *id = json_string_value(json_object_get(m, "id"));
        char where[1200], mname[600];
        snprintf(where, sizeof where, "%s: family.members[%zu] (id \"%s\")",
                 file, i, id);
        if ((size_t)snprintf(mname, sizeof mname, "%s/%s", base, id) >=
            sizeof mname) {
            snprintf(err, errlen,
                     "%s: family.members[%zu] (id \"%s\"): the member's "
                     "name is too long",
                     file, i, id);
            goto fail;
        }
        jc_ctx mv = {.file = where, .err = err, .errlen = errlen};
        json_t *doc = expand_member(&mv, root, m, mname);
        if (!doc)
            goto fail;
        json_error_t jerr;
        bool family_limit = false;
        wsr_scenario *sc = load_root(doc, &jerr, file, where, mname, bytes,
                                     when, &family_limit, err, errlen);
        if (!sc && family_limit && bounded) {
            while (set->n > first)
                wsr_scenario_del(set->v[--set->n]);
            bytes = 0;
            bounded = false;
            when = WSR_DEFLATE_WHEN_LOAD;
            goto again;
        }
        if (!sc)
            goto fail;
        bounded = bounded || sc->deflate_at_write;
        if (wsr_scenario_set_add(set, sc) != 0) {
            wsr_scenario_del(sc);
            snprintf(err, errlen, "%s: out of memory", file);
            goto fail;
        }
        bytes += sc->write_bytes; /* charged against the limit */
    }
    json_decref(root);
    return 0;
fail:
    while (set->n > first)
        wsr_scenario_del(set->v[--set->n]);
    json_decref(root);
    return -1;
}

/* root (taken over) into set: one scenario, or a family's members. */
static int load_root_into(wsr_scenario_set *set, json_t *root,
                          json_error_t *jerr, const char *file,
                          const char *name, char *err, size_t errlen)
{
    if (json_is_object(root) && json_object_get(root, "family"))
        return load_family(set, root, file, name, err, errlen);
    wsr_scenario *sc = load_root(root, jerr, file, file, name, 0, deflate_when,
                                 NULL, err, errlen);
    if (!sc)
        return -1;
    if (wsr_scenario_set_add(set, sc) != 0) {
        snprintf(err, errlen, "%s: out of memory", file);
        wsr_scenario_del(sc);
        return -1;
    }
    return 0;
}

int wsr_scenario_load_file_into(wsr_scenario_set *set, const char *file,
                                const char *name, char *err, size_t errlen)
{
    json_error_t jerr;
    bool opened;
    json_t *root = read_file_json(file, &jerr, &opened, err, errlen);
    if (!opened)
        return -1;
    return load_root_into(set, root, &jerr, file, name, err, errlen);
}

int wsr_scenario_load_buffer_into(wsr_scenario_set *set, const char *buf,
                                  size_t len, const char *file,
                                  const char *name, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    return load_root_into(set, root, &jerr, file, name, err, errlen);
}

/* ---- sets -------------------------------------------------------------- */

int wsr_scenario_set_add(wsr_scenario_set *set, wsr_scenario *sc)
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

const char *wsr_file_kind(unsigned mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    return "not a file";
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
        if (stat(full, &st) != 0) {
            if (!ends_with(sub, ".json"))
                continue; /* like any other file that is not a scenario */
            /* a *.json the server cannot load is an error, not a skip */
            cannot_open(full, errno, err, errlen);
            rc = -1;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            strncat(sub, "/", sizeof sub - strlen(sub) - 1);
            rc = load_dir(set, root, sub, err, errlen);
        } else if (ends_with(sub, ".json") && !S_ISREG(st.st_mode)) {
            /* a *.json the server cannot load is an error, not a skip */
            snprintf(err, errlen, "%s: not a regular file (%s)", full,
                     wsr_file_kind(st.st_mode));
            rc = -1;
        } else if (ends_with(sub, ".json")) {
            sub[strlen(sub) - 5] = '\0';
            rc = wsr_scenario_load_file_into(set, full, sub, err, errlen);
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

int wsr_scenario_set_seal(wsr_scenario_set *set, char *err, size_t errlen)
{
    if (set->n == 0)
        return 0; /* set->v is NULL: no qsort(NULL, 0) */
    qsort(set->v, set->n, sizeof *set->v, by_name);
    for (size_t i = 1; i < set->n; i++) {
        if (strcmp(set->v[i - 1]->name, set->v[i]->name) == 0) {
            snprintf(err, errlen,
                     "%s: duplicate scenario name '%s' (also in %s)",
                     set->v[i]->path, set->v[i]->name, set->v[i - 1]->path);
            wsr_scenario_set_free(set);
            return -1;
        }
    }
    return 0;
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
    if (set->n == 0) {
        /* a server serving nothing is a mistaken path, not a server */
        snprintf(err, errlen, "%s: no scenario (no *.json file under it)", dir);
        return -1;
    }
    return wsr_scenario_set_seal(set, err, errlen);
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
