/*
 * handshake.c — HTTP/1.1 request-head parser and RFC 6455 opening handshake.
 *
 * The parser is stateless and reads the caller's buffer front to back: it
 * answers WS_HTTP_INCOMPLETE whenever it runs out of bytes before it could
 * prove them wrong, so every prefix of a valid head is "incomplete", never
 * "malformed", and the caller can simply re-parse after each read.
 */
#include "handshake.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#define HS_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* RFC 9110 5.6.2 tchar: what a method and a header name are made of. */
static bool hs_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Header value bytes: VCHAR, SP, HTAB and obs-text; any other control
 * character (bare CR included) makes the head malformed. */
static bool hs_is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7F);
}

static bool hs_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static char hs_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool hs_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        if (hs_lower(a[i]) != hs_lower(b[i]))
            return false;
    }
    return true;
}

/*
 * Consumes a line ending at *pos: CRLF or bare LF. Returns 1 if one was
 * consumed, 0 if the byte there is not a line ending, WS_HTTP_INCOMPLETE if
 * a CR is the last byte, WS_HTTP_MALFORMED for a CR not followed by LF.
 */
static int hs_eol(const char *buf, size_t len, size_t *pos)
{
    size_t p = *pos;

    if (p >= len)
        return WS_HTTP_INCOMPLETE;
    if (buf[p] == '\n') {
        *pos = p + 1;
        return 1;
    }
    if (buf[p] != '\r')
        return 0;
    if (p + 1 >= len)
        return WS_HTTP_INCOMPLETE;
    if (buf[p + 1] != '\n')
        return WS_HTTP_MALFORMED;
    *pos = p + 2;
    return 1;
}

/* Request line: method SP request-target SP HTTP/1.x EOL (RFC 9112 3). */
static int hs_parse_request_line(const char *buf, size_t len, size_t *pos,
                                 ws_http_request *req)
{
    size_t p = *pos, start;
    static const char proto[] = "HTTP/1.";
    int rv;

    start = p;
    while (p < len && hs_is_tchar((unsigned char)buf[p]))
        p++;
    if (p == len)
        return WS_HTTP_INCOMPLETE;
    if (p == start || buf[p] != ' ')
        return WS_HTTP_MALFORMED;
    req->method.p = buf + start;
    req->method.len = p - start;
    p++;

    /* The target is taken as sent; the router decides what it means. */
    start = p;
    while (p < len && (unsigned char)buf[p] > ' ' && buf[p] != 0x7F)
        p++;
    if (p == len)
        return WS_HTTP_INCOMPLETE;
    if (p == start || buf[p] != ' ')
        return WS_HTTP_MALFORMED;
    req->target.p = buf + start;
    req->target.len = p - start;
    p++;

    for (size_t i = 0; i < sizeof(proto) - 1; i++, p++) {
        if (p == len)
            return WS_HTTP_INCOMPLETE;
        if (buf[p] != proto[i])
            return WS_HTTP_MALFORMED;
    }
    if (p == len)
        return WS_HTTP_INCOMPLETE;
    if (buf[p] < '0' || buf[p] > '9')
        return WS_HTTP_MALFORMED;
    req->minor_version = buf[p] - '0';
    p++;

    rv = hs_eol(buf, len, &p);
    if (rv <= 0)
        return rv == 0 ? WS_HTTP_MALFORMED : rv;
    *pos = p;
    return 0;
}

/* One header line "name: value EOL". obs-fold (a line starting with
 * whitespace) is rejected, as RFC 9112 5.2 allows a server to do. */
static int hs_parse_header_line(const char *buf, size_t len, size_t *pos,
                                ws_http_header *hdr)
{
    size_t p = *pos, start, end;
    int rv;

    start = p;
    while (p < len && hs_is_tchar((unsigned char)buf[p]))
        p++;
    if (p == len)
        return WS_HTTP_INCOMPLETE;
    /* No whitespace before the colon (RFC 9112 5.1). */
    if (p == start || buf[p] != ':')
        return WS_HTTP_MALFORMED;
    hdr->name.p = buf + start;
    hdr->name.len = p - start;
    p++;

    while (p < len && hs_is_ows(buf[p]))
        p++;
    start = p;
    while (p < len && buf[p] != '\r' && buf[p] != '\n') {
        if (!hs_is_value_char((unsigned char)buf[p]))
            return WS_HTTP_MALFORMED;
        p++;
    }
    end = p;
    rv = hs_eol(buf, len, &p);
    if (rv < 0)
        return rv;
    if (rv == 0) /* unreachable: the loop stopped at CR or LF or the end */
        return WS_HTTP_MALFORMED;
    while (end > start && hs_is_ows(buf[end - 1]))
        end--;
    hdr->value.p = buf + start;
    hdr->value.len = end - start;
    *pos = p;
    return 0;
}

int ws_http_parse_request(const char *buf, size_t len, ws_http_request *req)
{
    size_t pos = 0;
    int rv;

    req->num_headers = 0;
    rv = hs_parse_request_line(buf, len, &pos, req);
    if (rv < 0)
        return rv;

    for (;;) {
        rv = hs_eol(buf, len, &pos);
        if (rv < 0)
            return rv;
        if (rv == 1)
            break;
        if (req->num_headers == WS_HTTP_MAX_HEADERS)
            return WS_HTTP_MALFORMED;
        rv = hs_parse_header_line(buf, len, &pos,
                                  &req->headers[req->num_headers]);
        if (rv < 0)
            return rv;
        req->num_headers++;
    }
    /* The return type is int; a head that large is the caller's limit. */
    return pos > INT_MAX ? WS_HTTP_MALFORMED : (int)pos;
}

const ws_http_header *ws_http_find_header(const ws_http_request *req,
                                          const char *name)
{
    size_t nlen = strlen(name);

    for (size_t i = 0; i < req->num_headers; i++) {
        const ws_http_header *h = &req->headers[i];
        if (hs_ieq(h->name.p, h->name.len, name, nlen))
            return h;
    }
    return NULL;
}

int ws_http_has_token(ws_slice value, const char *token)
{
    size_t tlen = strlen(token);
    size_t p = 0;

    while (p < value.len) {
        size_t start, end;

        while (p < value.len && (hs_is_ows(value.p[p]) || value.p[p] == ','))
            p++;
        start = p;
        while (p < value.len && value.p[p] != ',')
            p++;
        end = p;
        while (end > start && hs_is_ows(value.p[end - 1]))
            end--;
        if (end > start && hs_ieq(value.p + start, end - start, token, tlen))
            return 1;
    }
    return 0;
}

static int hs_b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* 16 bytes in base64 are exactly 22 alphabet characters and "==". The two
 * spare low bits of the last character are not required to be zero: common
 * decoders ignore them, and refusing such a client would test our pedantry,
 * not the client. */
static bool hs_key_is_16_bytes(ws_slice key)
{
    if (key.len != 24 || key.p[22] != '=' || key.p[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        if (hs_b64_value(key.p[i]) < 0)
            return false;
    }
    return true;
}

int ws_handshake_check(const ws_http_request *req, ws_slice *key,
                       const char **reason)
{
    const ws_http_header *h;

    /* Methods are case-sensitive (RFC 9110 9.1): "get" is not GET. */
    if (req->method.len != 3 || memcmp(req->method.p, "GET", 3) != 0) {
        *reason = "method is not GET";
        return 405;
    }
    if (req->minor_version < 1) {
        *reason = "HTTP version below 1.1";
        return 400;
    }
    if (ws_http_find_header(req, "Host") == NULL) {
        *reason = "missing Host header";
        return 400;
    }
    h = ws_http_find_header(req, "Upgrade");
    if (h == NULL || !ws_http_has_token(h->value, "websocket")) {
        *reason = "missing or wrong Upgrade header";
        return 400;
    }
    h = ws_http_find_header(req, "Connection");
    if (h == NULL || !ws_http_has_token(h->value, "Upgrade")) {
        *reason = "missing or wrong Connection header";
        return 400;
    }
    h = ws_http_find_header(req, "Sec-WebSocket-Key");
    if (h == NULL) {
        *reason = "missing Sec-WebSocket-Key header";
        return 400;
    }
    if (!hs_key_is_16_bytes(h->value)) {
        *reason = "Sec-WebSocket-Key is not the base64 of 16 bytes";
        return 400;
    }
    *key = h->value;
    h = ws_http_find_header(req, "Sec-WebSocket-Version");
    if (h == NULL || h->value.len != 2 || memcmp(h->value.p, "13", 2) != 0) {
        *reason = "Sec-WebSocket-Version missing or not 13";
        return 426;
    }
    *reason = NULL;
    return 0;
}

static void hs_base64(const unsigned char *in, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, o = 0;

    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

int ws_accept_key(ws_slice key, char out[29])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok;

    /* Two updates instead of a concatenation buffer: the key is the
     * client's and has no length bound here. */
    ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, key.p, key.len) == 1 &&
         EVP_DigestUpdate(ctx, HS_WS_GUID, sizeof(HS_WS_GUID) - 1) == 1 &&
         EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    hs_base64(md, 20, out);
    return 0;
}

/* snprintf's result, checked: -1 on an encoding error or truncation. */
static int hs_fit(int n, size_t cap)
{
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

int ws_build_101(char *out, size_t cap, const char accept[29])
{
    return ws_build_101_ext(out, cap, accept, NULL);
}

int ws_build_101_ext(char *out, size_t cap, const char accept[29],
                     const char *extensions)
{
    bool ext = extensions && extensions[0];
    int n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %.28s\r\n"
                     "%s%s%s"
                     "\r\n",
                     accept, ext ? "Sec-WebSocket-Extensions: " : "",
                     ext ? extensions : "", ext ? "\r\n" : "");
    return hs_fit(n, cap);
}

int ws_build_error_response(char *out, size_t cap, int status,
                            const char *reason)
{
    const char *extra = "";

    if (reason == NULL)
        reason = ws_http_status_text(status);
    /* RFC 6455 4.4 asks for the supported versions on a 426; RFC 9110
     * 15.5.6 requires Allow on a 405. */
    if (status == 426)
        extra = "Sec-WebSocket-Version: 13\r\n";
    else if (status == 405)
        extra = "Allow: GET\r\n";
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: close\r\n"
                     "%s"
                     "\r\n"
                     "%s\n",
                     status, ws_http_status_text(status), strlen(reason) + 1,
                     extra, reason);
    return hs_fit(n, cap);
}

/* The one status table: the server's own error responses and the
 * responses scenarios script both take their reason phrases from here
 * (RFC 9110 15 wording). */
static const struct {
    int code;
    const char *phrase;
} status_phrases[] = {
    {101, "Switching Protocols"},
    {200, "OK"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {413, "Content Too Large"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
};

const char *ws_http_status_phrase(int status)
{
    for (size_t i = 0; i < sizeof status_phrases / sizeof *status_phrases; i++)
        if (status_phrases[i].code == status)
            return status_phrases[i].phrase;
    return NULL;
}

const char *ws_http_status_text(int status)
{
    const char *phrase = ws_http_status_phrase(status);
    return phrase ? phrase : "Unknown";
}
