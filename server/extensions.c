/*
 * extensions.c — the Sec-WebSocket-Extensions grammar (RFC 6455 9.1, with
 * RFC 7230's token and quoted-string) and permessage-deflate's parameters
 * (RFC 7692 7.1).
 *
 * Strict where the RFCs are: an offer or answer with an unknown, repeated
 * or badly valued parameter is invalid as a whole (7.1: the server declines
 * it, the client fails the connection), so the reader reports the first
 * such mistake rather than skipping it.
 */
#include "extensions.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- the grammar ------------------------------------------------------- */

typedef struct cursor {
    const char *p, *end;
} cursor;

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_ows(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static size_t take_token(cursor *c)
{
    const char *start = c->p;
    while (c->p < c->end && is_tchar((unsigned char)*c->p))
        c->p++;
    return (size_t)(c->p - start);
}

/* qdtext and quoted-pair (RFC 7230 3.2.6): any visible byte, space, tab
 * or obs-text; '"' and '\' only escaped. */
static bool is_qdtext(unsigned char c)
{
    return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
}

/* A quoted-string at c (on its opening quote); its length, quotes
 * included, or 0 if it is not closed or holds a forbidden byte. */
static size_t take_quoted(cursor *c)
{
    const char *start = c->p++;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"')
            return (size_t)(c->p - start);
        if (!is_qdtext(ch))
            return 0;
        if (ch == '\\') {
            if (c->p == c->end || !is_qdtext((unsigned char)*c->p))
                return 0;
            c->p++;
        }
    }
    return 0;
}

static int syntax_error(const cursor *c, const char *s, const char *what,
                        char *err, size_t errlen)
{
    snprintf(err, errlen, "%s at offset %zu", what, (size_t)(c->p - s));
    return -1;
}

/* ";" name [ "=" value ] after the extension's name. */
static int parse_param(cursor *c, const char *s, wsr_ext *e, char *err,
                       size_t errlen)
{
    if (e->n_params == WSR_EXT_MAX_PARAMS)
        return syntax_error(c, s, "too many parameters", err, errlen);
    wsr_ext_param *p = &e->params[e->n_params++];
    memset(p, 0, sizeof *p);
    skip_ows(c);
    p->name = c->p;
    p->name_len = take_token(c);
    if (p->name_len == 0)
        return syntax_error(c, s, "expected a parameter name", err, errlen);
    const char *name_end = c->p;
    skip_ows(c);
    if (c->p == c->end || *c->p != '=') {
        c->p = name_end; /* the element's text ends with the name */
        return 0;
    }
    c->p++;
    skip_ows(c);
    p->value = c->p;
    p->value_len =
        c->p < c->end && *c->p == '"' ? take_quoted(c) : take_token(c);
    if (p->value_len == 0)
        return syntax_error(c, s, "expected a token or quoted-string value",
                            err, errlen);
    return 0;
}

/* One list element: name *( ";" param ), up to the next ',' or the end. */
static int parse_one(cursor *c, const char *s, wsr_ext *e, char *err,
                     size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->text = e->name = c->p;
    e->name_len = take_token(c);
    if (e->name_len == 0)
        return syntax_error(c, s, "expected an extension name", err, errlen);
    const char *last = c->p;
    for (;;) {
        skip_ows(c);
        if (c->p == c->end || *c->p == ',')
            break;
        if (*c->p != ';')
            return syntax_error(c, s, "expected ';' or ','", err, errlen);
        c->p++;
        if (parse_param(c, s, e, err, errlen) != 0)
            return -1;
        last = c->p;
    }
    e->text_len = (size_t)(last - e->text);
    return 0;
}

int wsr_ext_parse(const char *s, size_t len, wsr_ext_list *out, char *err,
                  size_t errlen)
{
    cursor c = {s, s + len};
    out->n = 0;
    for (;;) {
        skip_ows(&c);
        if (c.p == c.end)
            break;
        if (*c.p == ',') { /* an empty list element (RFC 7230 7) */
            c.p++;
            continue;
        }
        if (out->n == WSR_EXT_MAX)
            return syntax_error(&c, s, "too many extensions", err, errlen);
        if (parse_one(&c, s, &out->v[out->n++], err, errlen) != 0)
            return -1;
    }
    if (out->n == 0) {
        snprintf(err, errlen, "no extension");
        return -1;
    }
    return 0;
}

/* ---- permessage-deflate ------------------------------------------------ */

bool wsr_pmd_is(const wsr_ext *e)
{
    return e->name_len == strlen(WSR_PMD_NAME) &&
           strncasecmp(e->name, WSR_PMD_NAME, e->name_len) == 0;
}

/* A window-bits value: 8..15 in decimal without leading zeros, from a
 * token or a quoted-string (unescaped first, RFC 6455 9.1). 0 if not. */
static int window_bits_value(const wsr_ext_param *p)
{
    char buf[4];
    size_t n = 0;
    const char *v = p->value, *end = p->value + p->value_len;
    if (*v == '"') {
        v++;
        end--;
    }
    for (; v < end; v++) {
        if (*v == '\\')
            v++;
        if (n == sizeof buf - 1)
            return 0;
        buf[n++] = *v;
    }
    buf[n] = '\0';
    if (n == 1 && (buf[0] == '8' || buf[0] == '9'))
        return buf[0] - '0';
    if (n == 2 && buf[0] == '1' && buf[1] >= '0' && buf[1] <= '5')
        return 10 + (buf[1] - '0');
    return 0;
}

static const char *const pmd_param_names[] = {
    "server_no_context_takeover", "client_no_context_takeover",
    "server_max_window_bits", "client_max_window_bits"};

static int param_index(const wsr_ext_param *p)
{
    for (int i = 0; i < 4; i++)
        if (p->name_len == strlen(pmd_param_names[i]) &&
            strncasecmp(p->name, pmd_param_names[i], p->name_len) == 0)
            return i;
    return -1;
}

/* Sets parameter i of out from p; -1 with why in err. */
static int set_param(int i, const wsr_ext_param *p, bool is_answer,
                     wsr_pmd_params *out, char *err, size_t errlen)
{
    const char *name = pmd_param_names[i];
    if (i < 2) {
        if (p->value) {
            snprintf(err, errlen, "%s takes no value", name);
            return -1;
        }
        *(i == 0 ? &out->server_no_context_takeover
                 : &out->client_no_context_takeover) = true;
        return 0;
    }
    int *bits =
        i == 2 ? &out->server_max_window_bits : &out->client_max_window_bits;
    if (!p->value && i == 3 && !is_answer) {
        *bits = WSR_PMD_BITS_NO_VALUE;
        return 0;
    }
    *bits = p->value ? window_bits_value(p) : 0;
    if (*bits == 0) {
        snprintf(err, errlen, "%s needs a value 8..15, got %s%.*s", name,
                 p->value ? "" : "none",
                 p->value ? (int)(p->value_len > 20 ? 20 : p->value_len) : 0,
                 p->value ? p->value : "");
        return -1;
    }
    return 0;
}

int wsr_pmd_read(const wsr_ext *e, bool is_answer, wsr_pmd_params *out,
                 char *err, size_t errlen)
{
    bool seen[4] = {false};
    memset(out, 0, sizeof *out);
    for (size_t k = 0; k < e->n_params; k++) {
        const wsr_ext_param *p = &e->params[k];
        int i = param_index(p);
        if (i < 0) {
            snprintf(err, errlen, "unknown parameter %.*s",
                     (int)(p->name_len > 40 ? 40 : p->name_len), p->name);
            return -1;
        }
        if (seen[i]) {
            snprintf(err, errlen, "%s given twice", pmd_param_names[i]);
            return -1;
        }
        seen[i] = true;
        if (set_param(i, p, is_answer, out, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int wsr_pmd_format(const wsr_pmd_params *p, char *out, size_t cap)
{
    char bits[2][32] = {"", ""};
    if (p->server_max_window_bits)
        snprintf(bits[0], sizeof bits[0], "; server_max_window_bits=%d",
                 p->server_max_window_bits);
    if (p->client_max_window_bits == WSR_PMD_BITS_NO_VALUE)
        snprintf(bits[1], sizeof bits[1], "; client_max_window_bits");
    else if (p->client_max_window_bits)
        snprintf(bits[1], sizeof bits[1], "; client_max_window_bits=%d",
                 p->client_max_window_bits);
    int n = snprintf(
        out, cap, "%s%s%s%s%s", WSR_PMD_NAME,
        p->server_no_context_takeover ? "; server_no_context_takeover" : "",
        p->client_no_context_takeover ? "; client_no_context_takeover" : "",
        bits[0], bits[1]);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

wsr_pmd_params wsr_pmd_minimal_answer(const wsr_pmd_params *offer)
{
    wsr_pmd_params a = {0};
    /* 7.1.1.1 and 7.1.2.1: accepting these means answering them. */
    a.server_no_context_takeover = offer->server_no_context_takeover;
    a.server_max_window_bits = offer->server_max_window_bits;
    return a;
}
