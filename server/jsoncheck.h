/*
 * jsoncheck.h — strict checks of parsed JSON that name the place of the
 * first mistake.
 *
 * A jc_ctx carries the file name and the current JSON path
 * ("steps[2].write[0].text"); every check that fails writes
 * "FILE: PATH: what is wrong" into the caller's buffer. Only the first error
 * is kept (later ones are usually its consequences): once ctx->failed is
 * set, further failures are ignored and the wanting functions return
 * NULL/false, so a caller may chain checks and test `failed` once.
 */
#ifndef WSR_JSONCHECK_H
#define WSR_JSONCHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct jc_ctx {
    const char *file;
    char path[512]; /* "" at the top level */
    char *err;      /* the caller's buffer for the first error */
    size_t errlen;
    bool failed;
} jc_ctx;

/* Records "FILE: PATH: message" unless an error is already recorded. */
void jc_fail(jc_ctx *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* jc_fail with key pushed onto the path: the mistake is in obj[key]. */
void jc_fail_at(jc_ctx *v, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Path handling: a push returns a mark, jc_pop(v, mark) goes back to it. */
size_t jc_push_key(jc_ctx *v, const char *key);
size_t jc_push_index(jc_ctx *v, size_t i);
void jc_pop(jc_ctx *v, size_t mark);

/* "object", "array", "string", "integer", "number", "boolean", "null". */
const char *jc_type_name(const json_t *j);

/* False (and an error at the key) if obj has a key not in allowed
 * (NULL-terminated): a typo must never be silently ignored. */
bool jc_check_keys(jc_ctx *v, json_t *obj, const char *const *allowed);

/* obj[key] if it has the type (JSON_TRUE stands for any boolean). NULL if
 * it is absent (an error only when required) or of another type (error). */
json_t *jc_want(jc_ctx *v, json_t *obj, const char *key, json_type type,
                bool required);

/* obj[key] as an integer in lo..hi. False if absent (no error) or wrong. */
bool jc_want_int(jc_ctx *v, json_t *obj, const char *key, long long lo,
                 long long hi, long long *out);

/* obj[key], if present, is an array of strings. False only on an error. */
bool jc_want_string_array(jc_ctx *v, json_t *obj, const char *key,
                          bool required);

/* obj[key], if present, is one of the strings in values (NULL-terminated).
 * False only on an error. */
bool jc_want_enum(jc_ctx *v, json_t *obj, const char *key,
                  const char *const *values, bool required);

/* Which one of keys (NULL-terminated) obj has: NULL if none (no error), or
 * NULL with "has both 'A' and 'B'; " + why if it has two. */
const char *jc_only_one(jc_ctx *v, json_t *obj, const char *const *keys,
                        const char *why);

/* Runs check on every element of arr, with the path at key[i]; stops at
 * the first failure. arg is passed through. False on an error. */
typedef bool jc_element_check(jc_ctx *v, json_t *el, size_t i, void *arg);
bool jc_each(jc_ctx *v, json_t *arr, const char *key, jc_element_check *check,
             void *arg);

#endif
