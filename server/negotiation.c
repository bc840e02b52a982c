/*
 * negotiation.c — permessage-deflate in the opening handshake.
 *
 * A header may appear more than once; RFC 7230 3.2.2 makes the values one
 * comma-separated list, so they are joined before parsing. Values past
 * WSR_EXT_VALUE_MAX are refused rather than cut: a cut offer could parse
 * as a different, valid one.
 */
#include "negotiation.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define EXT_HEADER "Sec-WebSocket-Extensions"

/* Appends ", " (when not first) and v to buf; false when it does not fit. */
static bool join_value(char *buf, size_t cap, size_t *len, const char *v,
                       size_t vlen)
{
    size_t sep = *len ? 2 : 0;
    if (*len + sep + vlen >= cap)
        return false;
    memcpy(buf + *len, ", ", sep);
    memcpy(buf + *len + sep, v, vlen);
    *len += sep + vlen;
    buf[*len] = '\0';
    return true;
}

json_t *wsr_pmd_params_json(const wsr_pmd_params *p)
{
    json_t *o = json_object();
    if (p->server_no_context_takeover)
        json_object_set_new(o, "server_no_context_takeover", json_true());
    if (p->client_no_context_takeover)
        json_object_set_new(o, "client_no_context_takeover", json_true());
    if (p->server_max_window_bits)
        json_object_set_new(o, "server_max_window_bits",
                            json_integer(p->server_max_window_bits));
    if (p->client_max_window_bits == WSR_PMD_BITS_NO_VALUE)
        json_object_set_new(o, "client_max_window_bits", json_true());
    else if (p->client_max_window_bits)
        json_object_set_new(o, "client_max_window_bits",
                            json_integer(p->client_max_window_bits));
    return o;
}

/* {"text", "error"}; a header's bytes need not be UTF-8: then every byte
 * outside ASCII shows as '?'. */
static json_t *text_error(const char *text, size_t len, const char *err)
{
    json_t *t = json_stringn(text, len);
    if (!t) {
        char ascii[WSR_EXT_VALUE_MAX + 1];
        size_t n = len < WSR_EXT_VALUE_MAX ? len : WSR_EXT_VALUE_MAX;
        for (size_t i = 0; i < n; i++)
            ascii[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
        t = json_stringn(ascii, n);
    }
    return json_pack("{s:o,s:s}", "text", t ? t : json_null(), "error", err);
}

/* ---- offers ------------------------------------------------------------ */

/* One permessage-deflate offer into o's list; the first valid one kept. */
static void add_offer(const wsr_ext *e, wsr_offers *o)
{
    char err[128];
    wsr_pmd_params p;
    if (wsr_pmd_read(e, false, &p, err, sizeof err) != 0) {
        json_array_append_new(o->json, text_error(e->text, e->text_len, err));
        return;
    }
    json_array_append_new(o->json, wsr_pmd_params_json(&p));
    if (!o->have) {
        o->have = true;
        o->first = p;
    }
}

void wsr_offers_read(const ws_http_request *req, wsr_offers *out)
{
    char value[WSR_EXT_VALUE_MAX + 1] = "", err[128];
    size_t len = 0;
    bool fits = true, any = false;
    memset(out, 0, sizeof *out);
    out->json = json_array();
    for (size_t i = 0; i < req->num_headers; i++) {
        const ws_http_header *h = &req->headers[i];
        if (h->name.len != strlen(EXT_HEADER) ||
            strncasecmp(h->name.p, EXT_HEADER, h->name.len) != 0)
            continue;
        any = true;
        fits = fits &&
               join_value(value, sizeof value, &len, h->value.p, h->value.len);
    }
    if (!any)
        return;
    wsr_ext_list list; /* about 5 KiB */
    if (!fits)
        json_array_append_new(out->json,
                              text_error(value, len, "header value too long"));
    else if (wsr_ext_parse(value, len, &list, err, sizeof err) != 0)
        json_array_append_new(out->json, text_error(value, len, err));
    else
        for (size_t k = 0; k < list.n; k++)
            if (wsr_pmd_is(&list.v[k]))
                add_offer(&list.v[k], out);
}

void wsr_offers_free(wsr_offers *o)
{
    json_decref(o->json);
    o->json = NULL;
}

int wsr_deflate_answer(enum wsr_deflate_answer mode,
                       const wsr_pmd_params *literal, const wsr_offers *offers,
                       char *out, size_t cap)
{
    if (cap == 0)
        return -1;
    out[0] = '\0';
    if (mode == WSR_DEFLATE_DECLINE || !offers->have)
        return 0;
    wsr_pmd_params p = mode == WSR_DEFLATE_LITERAL
                           ? *literal
                           : wsr_pmd_minimal_answer(&offers->first);
    return wsr_pmd_format(&p, out, cap);
}

/* ---- the answer the server sent ---------------------------------------- */

/* Joins the head's Sec-WebSocket-Extensions values into out->answer;
 * false when they do not fit. */
static bool collect_answer(const char *head, size_t len, wsr_negotiated *out)
{
    size_t alen = 0;
    const char *p = head, *end = head + len;
    /* The status line first: it has no header. */
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    p = nl ? nl + 1 : end;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n == 0)
            break; /* the blank line: the head is over */
        const char *colon = memchr(p, ':', n);
        if (colon && (size_t)(colon - p) == strlen(EXT_HEADER) &&
            strncasecmp(p, EXT_HEADER, strlen(EXT_HEADER)) == 0) {
            const char *v = colon + 1, *ve = p + n;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (!join_value(out->answer, sizeof out->answer, &alen, v,
                            (size_t)(ve - v)))
                return false;
        }
        p = nl ? nl + 1 : end;
    }
    return true;
}

static void refuse(wsr_negotiated *out, const char *why)
{
    snprintf(out->error_buf, sizeof out->error_buf, "%s", why);
    out->error = out->error_buf;
    out->on = false;
}

void wsr_negotiated_read(const char *head, size_t len, wsr_negotiated *out)
{
    wsr_ext_list list;
    char err[128];
    memset(out, 0, sizeof *out);
    if (!collect_answer(head, len, out)) {
        refuse(out, "Sec-WebSocket-Extensions too long");
        return;
    }
    if (!out->answer[0])
        return;
    if (wsr_ext_parse(out->answer, strlen(out->answer), &list, err,
                      sizeof err) != 0) {
        refuse(out, err);
        return;
    }
    for (size_t k = 0; k < list.n; k++) {
        if (!wsr_pmd_is(&list.v[k]))
            continue;
        if (out->on) {
            refuse(out, "permessage-deflate answered twice");
            return;
        }
        if (wsr_pmd_read(&list.v[k], true, &out->params, err, sizeof err)) {
            refuse(out, err);
            return;
        }
        out->on = true;
    }
}
