/*
 * payload.c — payload decoders for scenario files. Everything is decoded
 * at load time so that a session only copies bytes and never fails on a
 * scenario it accepted.
 */
#include "payload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool wsr_payload_hex(jc_ctx *v, const char *key, const char *s, uint8_t **out,
                     size_t *outlen)
{
    size_t n = strlen(s);
    uint8_t *buf = malloc(n / 2 + 1);
    size_t len = 0;
    if (!buf) {
        jc_fail(v, "out of memory");
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
            jc_fail_at(v, key, "not hex at character %zu", i + 1);
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

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

bool wsr_payload_base64(jc_ctx *v, const char *key, const char *s,
                        uint8_t **out, size_t *outlen)
{
    size_t n = strlen(s), len = 0;
    uint8_t *buf = malloc(n * 3 / 4 + 3);
    unsigned acc = 0, bits = 0;
    bool pad = false;
    if (!buf) {
        jc_fail(v, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r')
            continue;
        int d = c == '=' ? -2 : b64val(c);
        if (d == -1 || (pad && d != -2)) {
            jc_fail_at(v, key, "not base64 at character %zu", i + 1);
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

bool wsr_payload_pattern_size(jc_ctx *v, json_t *obj, size_t *size)
{
    json_t *pat = jc_want(v, obj, "pattern", JSON_STRING, true);
    long long n = 0;
    if (!pat)
        return false;
    if (!json_object_get(obj, "size")) {
        jc_fail_at(v, "size", "missing: a pattern needs a size in bytes");
        return false;
    }
    if (!jc_want_int(v, obj, "size", 0, WSR_MAX_GROUP_BYTES, &n))
        return false;
    if (json_string_length(pat) == 0) {
        jc_fail_at(v, "pattern", "an empty pattern cannot fill %lld bytes", n);
        return false;
    }
    *size = (size_t)n;
    return true;
}

bool wsr_payload_pattern(jc_ctx *v, json_t *obj, uint8_t **out, size_t *outlen)
{
    size_t size;
    if (!wsr_payload_pattern_size(v, obj, &size))
        return false;
    json_t *pat = json_object_get(obj, "pattern");
    size_t plen = json_string_length(pat);
    uint8_t *buf = malloc(size + 1);
    if (!buf) {
        jc_fail(v, "out of memory");
        return false;
    }
    const char *p = json_string_value(pat);
    for (size_t i = 0; i < size; i++)
        buf[i] = (uint8_t)p[i % plen];
    *out = buf;
    *outlen = size;
    return true;
}

const char *wsr_payload_source_kind(jc_ctx *v, json_t *obj)
{
    static const char *const sources[] = {"hex", "base64", "pattern", NULL};
    const char *found =
        jc_only_one(v, obj, sources, "give the payload one way");
    if (v->failed)
        return NULL;
    if (json_object_get(obj, "size") && (!found || strcmp(found, "pattern"))) {
        jc_fail_at(v, "size", "'size' goes with 'pattern'");
        return NULL;
    }
    return found;
}

bool wsr_payload_decode(jc_ctx *v, json_t *obj, const char *kind, uint8_t **out,
                        size_t *outlen)
{
    if (strcmp(kind, "pattern") == 0)
        return wsr_payload_pattern(v, obj, out, outlen);
    json_t *j = jc_want(v, obj, kind, JSON_STRING, true);
    if (!j)
        return false;
    return strcmp(kind, "hex") == 0
               ? wsr_payload_hex(v, "hex", json_string_value(j), out, outlen)
               : wsr_payload_base64(v, "base64", json_string_value(j), out,
                                    outlen);
}

char *wsr_payload_template(const char *s, unsigned index)
{
    char num[16];
    int numlen = snprintf(num, sizeof num, "%u", index);
    size_t n = strlen(s), count = 0;
    for (const char *p = strstr(s, "{i}"); p; p = strstr(p + 3, "{i}"))
        count++;
    char *out = malloc(n + 1 + count * (size_t)numlen), *o = out;
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
