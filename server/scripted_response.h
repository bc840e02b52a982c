/*
 * scripted_response.h — the HTTP response a scenario's write group sends in
 * place of the automatic 101: the "handshake" item.
 *
 * "handshake": "accept" is the standard 101; an object either gives the
 * response's parts (status, reason, accept, headers, omit, body) or its raw
 * text (scenarios/README.md). The first "{accept}" in the text becomes a
 * slot the session fills with the client's computed Sec-WebSocket-Accept.
 */
#ifndef WSR_SCRIPTED_RESPONSE_H
#define WSR_SCRIPTED_RESPONSE_H

#include <jansson.h>
#include <stdbool.h>

#include "jsoncheck.h"
#include "scenario.h"

/* Builds the handshake item from obj["handshake"] into it (kind, bytes,
 * http_status, accept_at). False with the error in v. */
bool wsr_scripted_response(jc_ctx *v, json_t *obj, wsr_item *it);

#endif
