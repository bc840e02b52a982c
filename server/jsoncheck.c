/*
 * jsoncheck.c — the JSON-path validation toolkit the scenario loader is
 * written with. The messages are part of the interface: tests and people
 * match on "expected an integer, got string" and on the paths.
 */
#include "jsoncheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vfail(jc_ctx *v, const char *fmt, va_list ap)
{
    char msg[512];
    if (v->failed)
        return;
    v->failed = true;
    vsnprintf(msg, sizeof msg, fmt, ap);
    snprintf(v->err, v->errlen, "%s: %s: %s", v->file,
             v->path[0] ? v->path : "(top level)", msg);
}

void jc_fail(jc_ctx *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(v, fmt, ap);
    va_end(ap);
}

void jc_fail_at(jc_ctx *v, const char *key, const char *fmt, ...)
{
    va_list ap;
    size_t m = jc_push_key(v, key);
    va_start(ap, fmt);
    vfail(v, fmt, ap);
    va_end(ap);
    jc_pop(v, m);
}

size_t jc_push_key(jc_ctx *v, const char *key)
{
    size_t mark = strlen(v->path);
    snprintf(v->path + mark, sizeof v->path - mark, "%s%s", mark ? "." : "",
             key);
    return mark;
}

size_t jc_push_index(jc_ctx *v, size_t i)
{
    size_t mark = strlen(v->path);
    snprintf(v->path + mark, sizeof v->path - mark, "[%zu]", i);
    return mark;
}

void jc_pop(jc_ctx *v, size_t mark)
{
    v->path[mark] = '\0';
}

const char *jc_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "value";
}

static bool is_allowed(const char *key, const char *const *allowed)
{
    for (const char *const *a = allowed; *a; a++)
        if (strcmp(*a, key) == 0)
            return true;
    return false;
}

bool jc_check_keys(jc_ctx *v, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach (obj, key, val) {
        if (!is_allowed(key, allowed)) {
            jc_fail_at(v, key, "unknown key");
            return false;
        }
    }
    return true;
}

json_t *jc_want(jc_ctx *v, json_t *obj, const char *key, json_type type,
                bool required)
{
    json_t *j = json_object_get(obj, key);
    size_t m = jc_push_key(v, key);
    if (!j) {
        if (required)
            jc_fail(v, "missing");
    } else if (json_typeof(j) != type &&
               !(type == JSON_TRUE && json_is_boolean(j))) {
        static const char *names[] = {
            [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
            [JSON_STRING] = "a string",  [JSON_INTEGER] = "an integer",
            [JSON_REAL] = "a number",    [JSON_TRUE] = "a boolean",
            [JSON_FALSE] = "a boolean",  [JSON_NULL] = "null"};
        jc_fail(v, "expected %s, got %s", names[type], jc_type_name(j));
        j = NULL;
    }
    jc_pop(v, m);
    return v->failed ? NULL : j;
}

bool jc_want_int(jc_ctx *v, json_t *obj, const char *key, long long lo,
                 long long hi, long long *out)
{
    json_t *j = jc_want(v, obj, key, JSON_INTEGER, false);
    if (!j)
        return false;
    long long x = json_integer_value(j);
    if (x < lo || x > hi) {
        jc_fail_at(v, key, "%lld is out of range %lld..%lld", x, lo, hi);
        return false;
    }
    *out = x;
    return true;
}

bool jc_want_string_array(jc_ctx *v, json_t *obj, const char *key,
                          bool required)
{
    json_t *arr = jc_want(v, obj, key, JSON_ARRAY, required);
    if (!arr)
        return !v->failed;
    size_t m = jc_push_key(v, key), i;
    json_t *el;
    json_array_foreach (arr, i, el) {
        if (!json_is_string(el)) {
            size_t m2 = jc_push_index(v, i);
            jc_fail(v, "expected a string, got %s", jc_type_name(el));
            jc_pop(v, m2);
        }
    }
    jc_pop(v, m);
    return !v->failed;
}

/* "a, b, c" for the message that lists what an enum allows. */
static void join_values(const char *const *values, char *list, size_t cap)
{
    list[0] = '\0';
    for (const char *const *e = values; *e; e++) {
        strncat(list, *e, cap - strlen(list) - 1);
        if (e[1])
            strncat(list, ", ", cap - strlen(list) - 1);
    }
}

bool jc_want_enum(jc_ctx *v, json_t *obj, const char *key,
                  const char *const *values, bool required)
{
    json_t *j = jc_want(v, obj, key, JSON_STRING, required);
    if (!j)
        return !v->failed;
    for (const char *const *e = values; *e; e++)
        if (strcmp(*e, json_string_value(j)) == 0)
            return true;
    size_t m = jc_push_key(v, key);
    char list[256];
    join_values(values, list, sizeof list);
    jc_fail(v, "'%s' is not one of: %s", json_string_value(j), list);
    jc_pop(v, m);
    return false;
}

bool jc_each(jc_ctx *v, json_t *arr, const char *key, jc_element_check *check,
             void *arg)
{
    size_t m = jc_push_key(v, key), i;
    json_t *el;
    json_array_foreach (arr, i, el) {
        size_t m2 = jc_push_index(v, i);
        bool ok = check(v, el, i, arg);
        jc_pop(v, m2);
        if (!ok)
            break;
    }
    jc_pop(v, m);
    return !v->failed;
}

const char *jc_only_one(jc_ctx *v, json_t *obj, const char *const *keys,
                        const char *why)
{
    const char *found = NULL;
    for (const char *const *k = keys; *k; k++) {
        if (!json_object_get(obj, *k))
            continue;
        if (found) {
            jc_fail(v, "has both '%s' and '%s'; %s", found, *k, why);
            return NULL;
        }
        found = *k;
    }
    return found;
}
