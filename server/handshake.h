/*
 * handshake.h — the HTTP/1.1 side of the RFC 6455 opening handshake.
 *
 * Pure: a stateless parser over the caller's buffer (picohttpparser's
 * contract: >0 consumed, -2 incomplete, -1 malformed), request validation
 * per RFC 6455 4.2.1, the Sec-WebSocket-Accept computation and response
 * builders. Header names and values are slices of the caller's buffer.
 */
#ifndef WSR_HANDSHAKE_H
#define WSR_HANDSHAKE_H

#include <stddef.h>

#define WS_HTTP_MAX_HEADERS 64

enum {
    WS_HTTP_INCOMPLETE = -2,
    WS_HTTP_MALFORMED = -1,
};

typedef struct ws_slice {
    const char *p;
    size_t len;
} ws_slice;

typedef struct ws_http_header {
    ws_slice name;
    ws_slice value; /* leading and trailing whitespace removed */
} ws_http_header;

typedef struct ws_http_request {
    ws_slice method;
    ws_slice target;   /* request-target as sent: path plus optional ?query */
    int minor_version; /* HTTP/1.x */
    ws_http_header headers[WS_HTTP_MAX_HEADERS];
    size_t num_headers;
} ws_http_request;

/*
 * Parses one request head from buf[0..len). Returns the number of bytes up
 * to and including the blank line, WS_HTTP_INCOMPLETE if more bytes are
 * needed, WS_HTTP_MALFORMED if the bytes cannot be a valid request head
 * (bad request line, not HTTP/1.x, control characters, a header without a
 * colon, more than WS_HTTP_MAX_HEADERS headers). Accepts CRLF and bare LF.
 * The caller enforces the overall size limit.
 */
int ws_http_parse_request(const char *buf, size_t len, ws_http_request *req);

/* First header named name (case-insensitive), or NULL. */
const ws_http_header *ws_http_find_header(const ws_http_request *req,
                                          const char *name);

/* True if the comma-separated header value lists token (case-insensitive). */
int ws_http_has_token(ws_slice value, const char *token);

/*
 * Validates a WebSocket upgrade request (RFC 6455 4.2.1). On success returns
 * 0 and sets *key to the Sec-WebSocket-Key value. Otherwise returns the HTTP
 * status to answer with and sets *reason to a static sentence:
 *   405 method is not GET
 *   400 HTTP version below 1.1, missing Host, missing or wrong Upgrade or
 *       Connection, missing Sec-WebSocket-Key or one that is not the base64
 *       of 16 bytes
 *   426 Sec-WebSocket-Version missing or not 13
 */
int ws_handshake_check(const ws_http_request *req, ws_slice *key,
                       const char **reason);

/* Computes base64(SHA-1(key + GUID)) into out (28 characters + NUL).
 * Returns 0, or -1 if the hash failed. */
int ws_accept_key(ws_slice key, char out[29]);

/* Writes the "101 Switching Protocols" response for accept into out.
 * Returns its length, or -1 if cap is too small. */
int ws_build_101(char *out, size_t cap, const char accept[29]);

/* The same with "Sec-WebSocket-Extensions: extensions" when extensions is
 * neither NULL nor "". */
int ws_build_101_ext(char *out, size_t cap, const char accept[29],
                     const char *extensions);

/* Writes a complete error response: status line, Content-Type text/plain,
 * Content-Length, Connection: close, Sec-WebSocket-Version: 13 for 426, Allow: GET for 405,
 * and the body "reason\n". Returns its length, or -1 if cap is too small. */
int ws_build_error_response(char *out, size_t cap, int status,
                            const char *reason);

/* The standard reason phrase for a status ("Bad Request"), or NULL for a
 * status the table does not know. One table serves the server's own error
 * responses and the responses scenarios script. */
const char *ws_http_status_phrase(int status);

/* ws_http_status_phrase, or "Unknown" for a status it does not know. */
const char *ws_http_status_text(int status);

#endif
