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

#include "jsoncheck.h"

/* Each checks its part of the file's top-level object root; false with the
 * error in v. "client" is optional, "expect" and "summary"/"rfc" are not. */
bool wsr_check_client(jc_ctx *v, json_t *root);
bool wsr_check_expect(jc_ctx *v, json_t *root);
bool wsr_check_meta(jc_ctx *v, json_t *root);

/* The complete client knobs: every knob's default (the only place they are
 * written), overridden by the ones given (a checked "client" object, or
 * NULL). A new object, or NULL if out of memory. */
json_t *wsr_client_knobs(json_t *given);

#endif
