/*
 * payload.h — the ways a scenario spells bytes: hex, base64, a pattern cut
 * to a size, and text templates with {i}.
 *
 * Decoders report mistakes through the caller's jc_ctx, at the key they
 * decode ("hex: not hex at character 3"). Decoded bytes are malloc'd and
 * the caller owns them.
 */
#ifndef WSR_PAYLOAD_H
#define WSR_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsoncheck.h"

/* Hex digit pairs; whitespace between bytes is allowed for readability.
 * key names the field in errors. */
bool wsr_payload_hex(jc_ctx *v, const char *key, const char *s, uint8_t **out,
                     size_t *outlen);

/* Standard or URL-safe base64; padding optional, whitespace ignored. */
bool wsr_payload_base64(jc_ctx *v, const char *key, const char *s,
                        uint8_t **out, size_t *outlen);

/* obj's "pattern" repeated (and cut) to its "size" bytes. */
bool wsr_payload_pattern(jc_ctx *v, json_t *obj, uint8_t **out, size_t *outlen);

/* The "size" a pattern would be built to, with the same checks as
 * wsr_payload_pattern but nothing allocated: callers weigh it against
 * their limits before building it. */
bool wsr_payload_pattern_size(jc_ctx *v, json_t *obj, size_t *size);

/* Which source obj gives its payload from: "hex", "base64", "pattern", or
 * NULL for none. More than one, or a "size" without "pattern", is an error
 * (NULL with v->failed set). */
const char *wsr_payload_source_kind(jc_ctx *v, json_t *obj);

/* Decodes the source kind (from wsr_payload_source_kind) of obj. */
bool wsr_payload_decode(jc_ctx *v, json_t *obj, const char *kind, uint8_t **out,
                        size_t *outlen);

/* s with every "{i}" replaced by index; malloc'd, NULL if out of memory. */
char *wsr_payload_template(const char *s, unsigned index);

#endif
