/*
 * fuzz_inflate.c — the permessage-deflate reader on arbitrary bytes: the
 * inflater with its bound, and the Sec-WebSocket-Extensions parser.
 *
 * The first byte picks what the rest is:
 *   bit 4 set: a header value, parsed as offers and as an answer; every
 *     slice lies inside the input, and a valid answer formatted again
 *     parses to the same parameters;
 *   else: messages, each a length byte and that many bytes, inflated by one
 *     inflater with window bits 8 + (bits 0-2) and no context takeover if
 *     bit 3, at most 2^(6 + 2 * bits 5-7) bytes each; no output passes the
 *     bound, and a message that inflates, compressed again and inflated by
 *     a fresh pair, comes back the same.
 */
#include "deflate.h"
#include "extensions.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

static void inside(const char *p, size_t len, const char *buf, size_t size)
{
    if (len && (!p || p < buf || len > size || p - buf > (long)(size - len)))
        abort();
}

static void fuzz_header(const char *s, size_t size)
{
    wsr_ext_list l;
    char err[128], out[256];
    if (wsr_ext_parse(s, size, &l, err, sizeof err) != 0) {
        if (!err[0])
            abort();
        return;
    }
    if (l.n == 0 || l.n > WSR_EXT_MAX)
        abort();
    for (size_t i = 0; i < l.n; i++) {
        const wsr_ext *e = &l.v[i];
        inside(e->text, e->text_len, s, size);
        inside(e->name, e->name_len, s, size);
        for (size_t k = 0; k < e->n_params; k++) {
            inside(e->params[k].name, e->params[k].name_len, s, size);
            inside(e->params[k].value, e->params[k].value_len, s, size);
        }
        wsr_pmd_params p, again;
        (void)wsr_pmd_read(e, false, &p, err, sizeof err);
        if (!wsr_pmd_is(e) || wsr_pmd_read(e, true, &p, err, sizeof err) != 0)
            continue;
        int n = wsr_pmd_format(&p, out, sizeof out);
        wsr_ext_list back;
        if (n <= 0 || wsr_ext_parse(out, (size_t)n, &back, err, sizeof err) ||
            back.n != 1 ||
            wsr_pmd_read(&back.v[0], true, &again, err, sizeof err) != 0 ||
            memcmp(&p, &again, sizeof p) != 0)
            abort();
    }
}

/* out[0..len) compressed and inflated again by a fresh pair: the same. */
static void round_trip(const uint8_t *msg, size_t len, int bits)
{
    wsr_deflater *d = wsr_deflater_new(bits, true);
    wsr_inflater *f = wsr_inflater_new(bits, true);
    uint8_t *z = NULL, *back = NULL;
    size_t zn = 0, bn = 0;
    char err[128];
    if (!d || !f || wsr_deflate_message(d, msg, len, 0, &z, &zn) != 0)
        abort();
    if (wsr_inflate_message(f, z, zn, len, &back, &bn, err, sizeof err) !=
            WSR_INFLATE_OK ||
        bn != len || (len && memcmp(back, msg, len) != 0))
        abort();
    free(back);
    free(z);
    wsr_inflater_del(f);
    wsr_deflater_del(d);
}

static void fuzz_messages(uint8_t sel, const uint8_t *p, size_t size)
{
    int bits = 8 + (sel & 7);
    size_t max = (size_t)1 << (6 + 2 * (sel >> 5));
    wsr_inflater *f = wsr_inflater_new(bits, sel & 8);
    if (!f)
        abort();
    while (size > 0) {
        size_t len = p[0] < size - 1 ? p[0] : size - 1;
        uint8_t *out = NULL;
        size_t out_len = 0;
        char err[128] = "";
        enum wsr_inflate_result r = wsr_inflate_message(
            f, p + 1, len, max, &out, &out_len, err, sizeof err);
        p += 1 + len;
        size -= 1 + len;
        if (r == WSR_INFLATE_BAD && !err[0])
            abort();
        if (r != WSR_INFLATE_OK)
            break; /* the stream is spent */
        if (out_len > max)
            abort();
        round_trip(out, out_len, bits);
        free(out);
    }
    wsr_inflater_del(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 0x10)
        fuzz_header((const char *)data + 1, size - 1);
    else
        fuzz_messages(data[0], data + 1, size - 1);
    return 0;
}
