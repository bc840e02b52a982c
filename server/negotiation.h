/*
 * negotiation.h — permessage-deflate in the opening handshake (RFC 7692 5):
 * what the client offered, what a scenario answers, and what is in effect
 * once the server's 101 has gone out.
 *
 * What is in effect is always read back from the Sec-WebSocket-Extensions
 * of the 101 the server actually sent (automatic, from the "deflate" field,
 * or scripted), with the same parser as the offers, so a scripted answer
 * and an automatic one are judged alike.
 */
#ifndef WSR_NEGOTIATION_H
#define WSR_NEGOTIATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "extensions.h"
#include "handshake.h"
#include "scenario.h"

/* Longest Sec-WebSocket-Extensions value read (offers or answer). */
#define WSR_EXT_VALUE_MAX 2048

typedef struct wsr_offers {
    json_t *json;         /* the offers as parsed (owned): see below */
    bool have;            /* a valid permessage-deflate offer was made */
    wsr_pmd_params first; /* the first one */
} wsr_offers;

/* The client's offers, from all its Sec-WebSocket-Extensions headers
 * joined: a JSON array with one object per permessage-deflate offer (its
 * parameters; client_max_window_bits without a value is true), or
 * {"text", "error"} for an offer that is invalid, or for the whole value
 * when it cannot be parsed. Other extensions are left out. */
void wsr_offers_read(const ws_http_request *req, wsr_offers *out);
void wsr_offers_free(wsr_offers *o);

/* The value the automatic 101 carries for mode (the literal answer, or
 * "accept" answering the first offer); "" when it carries none. Returns the
 * length, or -1 if cap is too small. */
int wsr_deflate_answer(enum wsr_deflate_answer mode,
                       const wsr_pmd_params *literal, const wsr_offers *offers,
                       char *out, size_t cap);

typedef struct wsr_negotiated {
    bool on;                            /* permessage-deflate is in effect */
    wsr_pmd_params params;              /* the 101's answer */
    char answer[WSR_EXT_VALUE_MAX + 1]; /* the header value; "" none */
    const char *error; /* why the answer is not valid, or NULL */
    char error_buf[160];
} wsr_negotiated;

/* Reads what a response head (head[0..len), up to its blank line or all
 * of it) negotiated: its Sec-WebSocket-Extensions headers joined. An answer
 * that cannot be parsed, names permessage-deflate twice or with invalid
 * parameters negotiates nothing and says why in out->error. */
void wsr_negotiated_read(const char *head, size_t len, wsr_negotiated *out);

/* The params as a JSON object (true booleans, integers; client window
 * bits without a value: true). */
json_t *wsr_pmd_params_json(const wsr_pmd_params *p);

#endif
