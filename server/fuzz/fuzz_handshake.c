/*
 * fuzz_handshake.c — the HTTP request parser and the upgrade check on
 * arbitrary bytes, then the response the server would build from them.
 * Every slice the parser returns must lie inside the input.
 */
#include "fuzz.h"
#include "handshake.h"

#include <stdlib.h>
#include <string.h>

static void check_slice(ws_slice s, const char *buf, size_t len)
{
    if (s.len == 0)
        return;
    if (!s.p || s.p < buf || s.len > len ||
        s.p - buf > (ptrdiff_t)(len - s.len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    ws_http_request req;
    int n = ws_http_parse_request(buf, size, &req);
    if (n == WS_HTTP_INCOMPLETE || n == WS_HTTP_MALFORMED)
        return 0;
    if (n <= 0 || (size_t)n > size || req.num_headers > WS_HTTP_MAX_HEADERS)
        abort();
    check_slice(req.method, buf, (size_t)n);
    check_slice(req.target, buf, (size_t)n);
    for (size_t i = 0; i < req.num_headers; i++) {
        check_slice(req.headers[i].name, buf, (size_t)n);
        check_slice(req.headers[i].value, buf, (size_t)n);
    }
    const ws_http_header *c = ws_http_find_header(&req, "connection");
    if (c)
        (void)ws_http_has_token(c->value, "upgrade");

    ws_slice key = {0};
    const char *reason = NULL;
    int status = ws_handshake_check(&req, &key, &reason);
    char out[512];
    if (status == 0) {
        check_slice(key, buf, (size_t)n);
        char accept[29];
        if (ws_accept_key(key, accept) != 0 || strlen(accept) != 28)
            abort();
        if (ws_build_101(out, sizeof out, accept) <= 0)
            abort();
    } else {
        if (!reason || !ws_http_status_phrase(status))
            abort();
        if (ws_build_error_response(out, sizeof out, status, reason) <= 0)
            abort();
    }
    return 0;
}
