/*
 * scenario_meta.h — the parts of a scenario file the server never runs:
 * the client's knobs, the expectations, and the descriptive fields
 * (summary, rfc, tags, severity, bugs, waive, severity_by_check).
 *
 * The harness and the adapters act on them, but the loader checks them all
 * the same, so one tool (wsreplay-server --check) says whether a file is
 * valid, with the file and JSON path of the mistake.
 */
#ifndef WSR_SCENARIO_META_H
#define WSR_SCENARIO_META_H

#include <jansson.h>
#include <stdbool.h>

#include "extensions.h"
#include "jsoncheck.h"

/* Each checks its part of the file's top-level object root; false with the
 * error in v. "client" is optional, "expect" and "summary"/"rfc" are not. */
bool wsr_check_client(jc_ctx *v, json_t *root);
bool wsr_check_expect(jc_ctx *v, json_t *root);
bool wsr_check_meta(jc_ctx *v, json_t *root);
/* "echo_mode" (optional): {"expect": {...}} or {"no": "why"}. */
bool wsr_check_echo_mode(jc_ctx *v, json_t *root);

/* A permessage-deflate parameter object (the "deflate" field's answer, the
 * compression knob's offer): server_no_context_takeover and
 * client_no_context_takeover booleans, server_max_window_bits 8..15,
 * client_max_window_bits 8..15 (or true in an offer: no value). Fills out
 * if it is not NULL; false with the error in v. */
bool wsr_check_pmd_object(jc_ctx *v, json_t *obj, bool offer,
                          wsr_pmd_params *out);

/* The complete client knobs: every knob's default (the only place they are
 * written), overridden by the ones given (a checked "client" object, or
 * NULL). A new object, or NULL if out of memory. */
json_t *wsr_client_knobs(json_t *given);

#endif
