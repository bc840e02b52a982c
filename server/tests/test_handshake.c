/*
 * test_handshake.c — unit tests for handshake.[ch].
 *
 * The parser is stateless, so "split at every offset" becomes "every prefix":
 * each prefix of a valid head must be incomplete (-2), never malformed, or a
 * server would reject a client whose request arrived in two reads. And
 * bytes after the head (a pipelined first frame) must not change the result.
 */
#include "handshake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define CHECK_STR(s, len, want)                                                \
    CHECK((len) == strlen(want) && memcmp((s), (want), (len)) == 0)

/* RFC 6455 1.2, the client's opening handshake. */
#define RFC_REQUEST                                                            \
    "GET /chat HTTP/1.1\r\n"                                                   \
    "Host: server.example.com\r\n"                                             \
    "Upgrade: websocket\r\n"                                                   \
    "Connection: Upgrade\r\n"                                                  \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                          \
    "Origin: http://example.com\r\n"                                           \
    "Sec-WebSocket-Protocol: chat, superchat\r\n"                              \
    "Sec-WebSocket-Version: 13\r\n"                                            \
    "\r\n"

/* A masked text frame a client may send right behind its request. */
#define TRAILER "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"

/* ---- parsing valid heads ------------------------------------------------- */

typedef struct parse_row {
    const char *comment;
    const char *in;
    const char *method;
    const char *target;
    int minor;
    size_t num_headers;
    const char *hname;  /* one header to look at */
    const char *hvalue; /* its expected (trimmed) value */
} parse_row;

/* clang-format off */
static const parse_row parse_rows[] = {
    /* RFC 6455 1.2 example */
    {"rfc example", RFC_REQUEST, "GET", "/chat", 1, 7,
     "sec-websocket-protocol", "chat, superchat"},
    /* bare LF line endings are accepted */
    {"bare LF", "GET /chat HTTP/1.1\nHost: a\nUpgrade: websocket\n\n", "GET",
     "/chat", 1, 2, "Upgrade", "websocket"},
    /* mixed CRLF and LF */
    {"mixed endings", "GET / HTTP/1.1\r\nHost: a\n\r\n", "GET", "/", 1, 1,
     "host", "a"},
    /* the target keeps its query string, as the router needs it */
    {"target with query",
     "GET /close/send-then-close?run=r1-7 HTTP/1.1\r\nHost: h\r\n\r\n", "GET",
     "/close/send-then-close?run=r1-7", 1, 1, "Host", "h"},
    /* values are trimmed of spaces and tabs on both sides */
    {"value trimmed", "GET / HTTP/1.1\r\nHost: \t  a b \t \r\n\r\n", "GET", "/",
     1, 1, "Host", "a b"},
    /* no whitespace after the colon at all */
    {"no space after colon", "GET / HTTP/1.1\r\nHost:a\r\n\r\n", "GET", "/", 1,
     1, "HOST", "a"},
    /* an empty value, and one of only whitespace */
    {"empty value", "GET / HTTP/1.1\r\nX-Empty:\r\nX-Blank:   \r\n\r\n", "GET",
     "/", 1, 2, "x-blank", ""},
    /* HTTP/1.0 parses; validation is what refuses it */
    {"http/1.0", "GET / HTTP/1.0\r\n\r\n", "GET", "/", 0, 0, NULL, NULL},
    /* other methods parse too */
    {"post", "POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "POST", "/x", 1,
     1, "content-length", "0"},
    /* obs-text (UTF-8) in a value is kept */
    {"obs-text value", "GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\n\r\n", "GET",
     "/", 1, 1, "x-name", "caf\xc3\xa9"},
    /* tchar punctuation in a header name */
    {"tchar name", "GET / HTTP/1.1\r\nX-a.b_c~d!: v\r\n\r\n", "GET", "/", 1, 1,
     "x-A.B_C~D!", "v"},
    /* a colon inside a value is part of the value */
    {"colon in value", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", "GET",
     "/", 1, 1, "Host", "example.com:8080"},
    /* absolute-form target */
    {"absolute target", "GET http://h/p HTTP/1.1\r\n\r\n", "GET", "http://h/p",
     1, 0, NULL, NULL},
};
/* clang-format on */

/* Parses whole, at every prefix and with bytes behind it. */
static void check_parse(const char *in, size_t len, ws_http_request *whole)
{
    ws_http_request req;
    int prefixes_ok = 1, rv;
    char *buf = xmalloc(len + sizeof(TRAILER));

    /* from a heap copy of exactly len bytes, so ASan sees any over-read;
     * *whole is parsed from the caller's bytes, which outlive buf */
    memcpy(buf, in, len);
    CHECK_EQ(ws_http_parse_request(buf, len, &req), (int)len);
    CHECK_EQ(ws_http_parse_request(in, len, whole), (int)len);
    for (size_t k = 0; k < len; k++) {
        char *pre = xmalloc(k);
        memcpy(pre, in, k);
        rv = ws_http_parse_request(pre, k, &req);
        if (rv != WS_HTTP_INCOMPLETE) {
            prefixes_ok = 0;
            fprintf(stderr, "[%s] prefix %zu gives %d\n", current, k, rv);
        }
        free(pre);
    }
    CHECK(prefixes_ok);

    memcpy(buf + len, TRAILER, sizeof(TRAILER) - 1);
    CHECK_EQ(ws_http_parse_request(buf, len + sizeof(TRAILER) - 1, &req),
             (int)len);
    CHECK_EQ(req.num_headers, whole->num_headers);
    free(buf);
}

static void test_parse_rows(void)
{
    for (size_t i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
        const parse_row *row = &parse_rows[i];
        ws_http_request req;

        current = row->comment;
        check_parse(row->in, strlen(row->in), &req);
        CHECK_STR(req.method.p, req.method.len, row->method);
        CHECK_STR(req.target.p, req.target.len, row->target);
        CHECK_EQ(req.minor_version, row->minor);
        CHECK_EQ(req.num_headers, row->num_headers);
        if (row->hname != NULL) {
            const ws_http_header *h = ws_http_find_header(&req, row->hname);
            CHECK(h != NULL);
            if (h != NULL)
                CHECK_STR(h->value.p, h->value.len, row->hvalue);
        }
        CHECK(ws_http_find_header(&req, "X-Not-There") == NULL);
    }
}

/* Every header of the RFC example, in order, names and values. */
static void test_parse_fields(void)
{
    static const char *const want[][2] = {
        {"Host", "server.example.com"},
        {"Upgrade", "websocket"},
        {"Connection", "Upgrade"},
        {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
        {"Origin", "http://example.com"},
        {"Sec-WebSocket-Protocol", "chat, superchat"},
        {"Sec-WebSocket-Version", "13"},
    };
    ws_http_request req;

    current = "rfc example fields";
    CHECK_EQ(ws_http_parse_request(RFC_REQUEST, strlen(RFC_REQUEST), &req),
             (int)strlen(RFC_REQUEST));
    CHECK_EQ(req.num_headers, 7);
    for (size_t i = 0; i < 7 && i < req.num_headers; i++) {
        CHECK_STR(req.headers[i].name.p, req.headers[i].name.len, want[i][0]);
        CHECK_STR(req.headers[i].value.p, req.headers[i].value.len, want[i][1]);
    }
}

/* ---- malformed heads ----------------------------------------------------- */

typedef struct bad_row {
    const char *comment;
    const char *in;
    size_t len;
} bad_row;

#define S(s) s, sizeof(s) - 1

/* clang-format off */
static const bad_row bad_rows[] = {
    /* request lines */
    {"HTTP/2.0", S("GET /chat HTTP/2.0\r\n\r\n")},
    {"HTTP/1.x, x not a digit", S("GET / HTTP/1.x\r\n\r\n")},
    {"HTTP/1.10", S("GET / HTTP/1.10\r\n\r\n")},
    {"lowercase http", S("GET / http/1.1\r\n\r\n")},
    {"not HTTP", S("GET / FOO/1.1\r\n\r\n")},
    {"HTTP/0.9 style, no version", S("GET /chat\r\n\r\n")},
    {"double space", S("GET  /chat HTTP/1.1\r\n\r\n")},
    {"leading space", S(" GET / HTTP/1.1\r\n\r\n")},
    {"empty request line", S("\r\nGET / HTTP/1.1\r\n\r\n")},
    {"tab as separator", S("GET\t/ HTTP/1.1\r\n\r\n")},
    {"control char in method", S("G\x01T / HTTP/1.1\r\n\r\n")},
    {"DEL in target", S("GET /a\x7f" "b HTTP/1.1\r\n\r\n")},
    {"control char in target", S("GET /a\x02 HTTP/1.1\r\n\r\n")},
    {"NUL in request line", S("GET /\0 HTTP/1.1\r\n\r\n")},
    {"space after version", S("GET / HTTP/1.1 \r\n\r\n")},
    {"bare CR after version", S("GET / HTTP/1.1\rHost: a\r\n\r\n")},
    /* header lines */
    {"no colon", S("GET / HTTP/1.1\r\nHost example.com\r\n\r\n")},
    {"space before colon", S("GET / HTTP/1.1\r\nHost : a\r\n\r\n")},
    {"empty name", S("GET / HTTP/1.1\r\n: a\r\n\r\n")},
    {"obs-fold line", S("GET / HTTP/1.1\r\nX: a\r\n  b\r\n\r\n")},
    {"leading space on first header", S("GET / HTTP/1.1\r\n Host: a\r\n\r\n")},
    {"control char in value", S("GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n")},
    {"NUL in value", S("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n")},
    {"DEL in value", S("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n")},
    {"bare CR in value", S("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n")},
    {"DEL in name", S("GET / HTTP/1.1\r\nX\x7f: a\r\n\r\n")},
    {"non-ASCII in name", S("GET / HTTP/1.1\r\nX\xc3\xa9: a\r\n\r\n")},
    {"bare CR as the blank line", S("GET / HTTP/1.1\r\nHost: a\r\n\rX")},
};
/* clang-format on */

static void test_bad_rows(void)
{
    for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
        const bad_row *row = &bad_rows[i];
        ws_http_request req;
        char *buf = xmalloc(row->len);

        current = row->comment;
        memcpy(buf, row->in, row->len);
        CHECK_EQ(ws_http_parse_request(buf, row->len, &req), WS_HTTP_MALFORMED);
        free(buf);
    }
}

/* Appends "X-N: v\r\n" n times to a request line. */
static char *many_headers(size_t n)
{
    size_t cap = 64 + n * 16;
    char *s = xmalloc(cap);
    size_t len = (size_t)snprintf(s, cap, "GET / HTTP/1.1\r\n");

    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "X-%zu: v\r\n", i);
    snprintf(s + len, cap - len, "\r\n");
    return s;
}

static void test_header_limit(void)
{
    ws_http_request req;
    char *s;

    current = "64 headers";
    s = many_headers(WS_HTTP_MAX_HEADERS);
    check_parse(s, strlen(s), &req);
    CHECK_EQ(req.num_headers, WS_HTTP_MAX_HEADERS);
    free(s);

    current = "65 headers";
    s = many_headers(WS_HTTP_MAX_HEADERS + 1);
    CHECK_EQ(ws_http_parse_request(s, strlen(s), &req), WS_HTTP_MALFORMED);
    free(s);
}

/* ---- tokens -------------------------------------------------------------- */

typedef struct token_row {
    const char *comment;
    const char *value;
    const char *token;
    int want;
} token_row;

/* clang-format off */
static const token_row token_rows[] = {
    {"exact", "Upgrade", "Upgrade", 1},
    {"case-insensitive", "upgrade", "Upgrade", 1},
    {"second in list", "keep-alive, Upgrade", "upgrade", 1},
    {"no space after comma", "keep-alive,Upgrade", "Upgrade", 1},
    {"spaces and tabs around", " \tkeep-alive ,\t Upgrade \t", "Upgrade", 1},
    {"empty elements", ", ,Upgrade,,", "Upgrade", 1},
    {"prefix of a longer token", "Upgraded", "Upgrade", 0},
    {"suffix of a longer token", "xUpgrade", "Upgrade", 0},
    {"token with an inner space", "Up grade", "Upgrade", 0},
    {"empty value", "", "Upgrade", 0},
    {"only commas", ",,,", "Upgrade", 0},
    {"websocket among protocols", "h2c, WebSocket", "websocket", 1},
};
/* clang-format on */

static void test_tokens(void)
{
    for (size_t i = 0; i < sizeof(token_rows) / sizeof(token_rows[0]); i++) {
        const token_row *row = &token_rows[i];
        ws_slice v = {row->value, strlen(row->value)};

        current = row->comment;
        CHECK_EQ(ws_http_has_token(v, row->token), row->want);
    }
}

/* ---- validation ---------------------------------------------------------- */

typedef struct check_row {
    const char *comment;
    const char *in;
    int status;
    const char *reason_has; /* a word the reason must contain */
} check_row;

#define LINE "GET /chat HTTP/1.1\r\n"
#define HOST "Host: h\r\n"
#define UPG "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VER "Sec-WebSocket-Version: 13\r\n"

/* clang-format off */
static const check_row check_rows[] = {
    /* the RFC example is accepted */
    {"rfc example", RFC_REQUEST, 0, NULL},
    /* the minimal acceptable request */
    {"minimal", LINE HOST UPG CONN KEY VER "\r\n", 0, NULL},
    /* header names and the Upgrade/Connection tokens are case-insensitive */
    {"case-insensitive", LINE "host: h\r\nUPGRADE: WebSocket\r\n"
     "connection: upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
     "SEC-WEBSOCKET-VERSION: 13\r\n\r\n", 0, NULL},
    /* Connection may list other tokens (Firefox sends keep-alive) */
    {"connection list", LINE HOST UPG "Connection: keep-alive, Upgrade\r\n" KEY
     VER "\r\n", 0, NULL},
    /* a key with trailing pad bits set still decodes to 16 bytes */
    {"key with pad bits", LINE HOST UPG CONN
     "Sec-WebSocket-Key: //////////////////////==\r\n" VER "\r\n", 0, NULL},
    /* 405: anything but GET, including lowercase get */
    {"POST", "POST /chat HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n", 405,
     "GET"},
    {"lowercase get", "get /chat HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n", 405,
     "GET"},
    /* method is checked first */
    {"POST, nothing else", "POST / HTTP/1.0\r\n\r\n", 405, "GET"},
    /* 400: HTTP/1.0 */
    {"HTTP/1.0", "GET /chat HTTP/1.0\r\n" HOST UPG CONN KEY VER "\r\n", 400,
     "1.1"},
    /* 400: no Host */
    {"no Host", LINE UPG CONN KEY VER "\r\n", 400, "Host"},
    /* 400: no Upgrade, or not websocket */
    {"no Upgrade", LINE HOST CONN KEY VER "\r\n", 400, "Upgrade"},
    {"Upgrade: h2c", LINE HOST "Upgrade: h2c\r\n" CONN KEY VER "\r\n", 400,
     "Upgrade"},
    /* 400: no Connection, or without the Upgrade token */
    {"no Connection", LINE HOST UPG KEY VER "\r\n", 400, "Connection"},
    {"Connection: keep-alive", LINE HOST UPG "Connection: keep-alive\r\n" KEY
     VER "\r\n", 400, "Connection"},
    /* 400: no key, or one that is not base64 of 16 bytes */
    {"no key", LINE HOST UPG CONN VER "\r\n", 400, "Key"},
    {"key without padding", LINE HOST UPG CONN
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" VER "\r\n", 400, "16"},
    {"key of 15 bytes", LINE HOST UPG CONN
     "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n" VER "\r\n", 400, "16"},
    {"key of 17 bytes", LINE HOST UPG CONN
     "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\n" VER "\r\n", 400, "16"},
    {"key with a bad character", LINE HOST UPG CONN
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\n" VER "\r\n", 400, "16"},
    {"key with one pad only", LINE HOST UPG CONN
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQQ=\r\n" VER "\r\n", 400, "16"},
    {"empty key", LINE HOST UPG CONN "Sec-WebSocket-Key:\r\n" VER "\r\n", 400,
     "16"},
    /* 426: version missing, other, or not exactly 13 */
    {"no version", LINE HOST UPG CONN KEY "\r\n", 426, "13"},
    {"version 8", LINE HOST UPG CONN KEY "Sec-WebSocket-Version: 8\r\n\r\n",
     426, "13"},
    {"version 013", LINE HOST UPG CONN KEY
     "Sec-WebSocket-Version: 013\r\n\r\n", 426, "13"},
    {"version list", LINE HOST UPG CONN KEY
     "Sec-WebSocket-Version: 13, 8\r\n\r\n", 426, "13"},
};
/* clang-format on */

static void test_check_rows(void)
{
    for (size_t i = 0; i < sizeof(check_rows) / sizeof(check_rows[0]); i++) {
        const check_row *row = &check_rows[i];
        ws_http_request req;
        ws_slice key = {NULL, 0};
        const char *reason = NULL;

        current = row->comment;
        CHECK_EQ(ws_http_parse_request(row->in, strlen(row->in), &req),
                 (int)strlen(row->in));
        CHECK_EQ(ws_handshake_check(&req, &key, &reason), row->status);
        if (row->status == 0) {
            CHECK(key.len == 24 && key.p != NULL);
        } else {
            CHECK(reason != NULL && row->reason_has != NULL &&
                  strstr(reason, row->reason_has) != NULL);
        }
    }
}

/* ---- accept key and responses -------------------------------------------- */

typedef struct accept_row {
    const char *comment;
    const char *key;
    const char *accept;
} accept_row;

/* clang-format off */
static const accept_row accept_rows[] = {
    /* RFC 6455 1.3 */
    {"rfc 6455 1.3", "dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
    /* the widely quoted example (Wikipedia, MDN) */
    {"x3JJ", "x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="},
    /* all-zero key; computed with Python hashlib/base64 */
    {"zeros", "AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI="},
};
/* clang-format on */

static void test_accept(void)
{
    for (size_t i = 0; i < sizeof(accept_rows) / sizeof(accept_rows[0]); i++) {
        const accept_row *row = &accept_rows[i];
        ws_slice key = {row->key, strlen(row->key)};
        char out[29];

        current = row->comment;
        memset(out, 'X', sizeof(out));
        CHECK_EQ(ws_accept_key(key, out), 0);
        CHECK(out[28] == '\0' && strcmp(out, row->accept) == 0);
    }

    /* the key as the parser hands it over: a slice, not a C string */
    ws_http_request req;
    ws_slice key;
    const char *reason;
    char out[29];

    current = "accept from a parsed request";
    CHECK_EQ(ws_http_parse_request(RFC_REQUEST, strlen(RFC_REQUEST), &req),
             (int)strlen(RFC_REQUEST));
    CHECK_EQ(ws_handshake_check(&req, &key, &reason), 0);
    CHECK_EQ(ws_accept_key(key, out), 0);
    CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
}

static void test_build_101(void)
{
    static const char want[] =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "\r\n";
    char out[256];
    int n = (int)sizeof(want) - 1;

    current = "101";
    CHECK_EQ(ws_build_101(out, sizeof(out), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), n);
    CHECK(strcmp(out, want) == 0);
    /* room for the NUL is needed, as with snprintf */
    CHECK_EQ(ws_build_101(out, (size_t)n + 1, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
             n);
    CHECK_EQ(ws_build_101(out, (size_t)n, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), -1);
    CHECK_EQ(ws_build_101(out, 0, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), -1);
}

typedef struct error_resp_row {
    const char *comment;
    int status;
    const char *reason;
    const char *want;
} error_resp_row;

/* clang-format off */
static const error_resp_row error_resp_rows[] = {
    /* a plain 400 */
    {"400", 400, "missing Host header",
     "HTTP/1.1 400 Bad Request\r\n"
     "Content-Type: text/plain\r\n"
     "Content-Length: 20\r\n"
     "Connection: close\r\n"
     "\r\n"
     "missing Host header\n"},
    /* 426 names the version we speak (RFC 6455 4.4) */
    {"426", 426, "Sec-WebSocket-Version missing or not 13",
     "HTTP/1.1 426 Upgrade Required\r\n"
     "Content-Type: text/plain\r\n"
     "Content-Length: 40\r\n"
     "Connection: close\r\n"
     "Sec-WebSocket-Version: 13\r\n"
     "\r\n"
     "Sec-WebSocket-Version missing or not 13\n"},
    /* 405 names the allowed method (RFC 9110 15.5.6) */
    {"405", 405, "method is not GET",
     "HTTP/1.1 405 Method Not Allowed\r\n"
     "Content-Type: text/plain\r\n"
     "Content-Length: 18\r\n"
     "Connection: close\r\n"
     "Allow: GET\r\n"
     "\r\n"
     "method is not GET\n"},
    /* 404 for an unknown scenario */
    {"404", 404, "no such scenario",
     "HTTP/1.1 404 Not Found\r\n"
     "Content-Type: text/plain\r\n"
     "Content-Length: 17\r\n"
     "Connection: close\r\n"
     "\r\n"
     "no such scenario\n"},
};
/* clang-format on */

static void test_error_responses(void)
{
    for (size_t i = 0; i < sizeof(error_resp_rows) / sizeof(error_resp_rows[0]);
         i++) {
        const error_resp_row *row = &error_resp_rows[i];
        int n = (int)strlen(row->want);
        char out[512];

        current = row->comment;
        CHECK_EQ(
            ws_build_error_response(out, sizeof(out), row->status, row->reason),
            n);
        CHECK(strcmp(out, row->want) == 0);
        /* Content-Length matches the body */
        const char *body = strstr(out, "\r\n\r\n");
        const char *cl = strstr(out, "Content-Length: ");
        CHECK(body != NULL && cl != NULL &&
              strtoul(cl + 16, NULL, 10) == strlen(body + 4));
        CHECK_EQ(ws_build_error_response(out, (size_t)n + 1, row->status,
                                         row->reason),
                 n);
        CHECK_EQ(
            ws_build_error_response(out, (size_t)n, row->status, row->reason),
            -1);
    }
}

/* The merged status table: every code the server's error responses knew
 * and every code scripted responses knew, with one phrase each. */
static const struct {
    int code;
    const char *phrase; /* NULL: not in the table */
} status_rows[] = {
    /* known to both old tables */
    {101, "Switching Protocols"},
    {200, "OK"},
    {400, "Bad Request"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {500, "Internal Server Error"},
    {503, "Service Unavailable"},
    /* once known only to the server's error responses */
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {413, "Content Too Large"},
    {431, "Request Header Fields Too Large"},
    /* once known only to scripted responses */
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {401, "Unauthorized"},
    {502, "Bad Gateway"},
    /* unknown */
    {418, NULL},
    {599, NULL},
    {-1, NULL},
};

static void test_status_text(void)
{
    for (size_t i = 0; i < sizeof status_rows / sizeof *status_rows; i++) {
        char row[32];
        snprintf(row, sizeof row, "status %d", status_rows[i].code);
        current = row;
        const char *phrase = ws_http_status_phrase(status_rows[i].code);
        const char *text = ws_http_status_text(status_rows[i].code);
        if (status_rows[i].phrase) {
            CHECK(phrase && strcmp(phrase, status_rows[i].phrase) == 0);
            CHECK(strcmp(text, status_rows[i].phrase) == 0);
        } else {
            CHECK(phrase == NULL);
            CHECK(strcmp(text, "Unknown") == 0);
        }
    }
    current = "";
}

int main(void)
{
    test_parse_rows();
    test_parse_fields();
    test_bad_rows();
    test_header_limit();
    test_tokens();
    test_check_rows();
    test_accept();
    test_build_101();
    test_error_responses();
    test_status_text();

    return check_summary("handshake");
}
