/*
 * test_deflate.c — the permessage-deflate codec (deflate.h) and the
 * Sec-WebSocket-Extensions parser (extensions.h).
 *
 * Round trips at every window size with and without context takeover, the
 * examples of RFC 7692 7.2.3 byte for byte, BFINAL and stored blocks, the
 * inflated-size bound, malformed streams, and table-driven header rows.
 */
#include <string.h>

#include "check.h"
#include "deflate.h"
#include "extensions.h"

/* Hex digits (spaces allowed) into out; returns the byte count. */
static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ')
            continue;
        unsigned v;
        sscanf(s, "%2x", &v);
        out[n++] = (uint8_t)v;
        s++;
    }
    return n;
}

/* Inflates hex with f; the result's bytes must be want (NULL: must fail
 * with result r). */
static void inflate_hex(wsr_inflater *f, const char *hex, const char *want,
                        enum wsr_inflate_result r)
{
    uint8_t in[256], *out = NULL;
    size_t n = unhex(hex, in), out_len = 0;
    char err[128] = "";
    enum wsr_inflate_result got =
        wsr_inflate_message(f, in, n, 1000, &out, &out_len, err, sizeof err);
    CHECK_EQ(got, r);
    if (got == WSR_INFLATE_OK && want) {
        CHECK_EQ(out_len, strlen(want));
        CHECK(memcmp(out, want, out_len) == 0);
    }
    if (got == WSR_INFLATE_BAD)
        CHECK(err[0] != '\0');
    free(out);
}

/* ---- RFC 7692 7.2.3, as printed ---------------------------------------- */

static void test_rfc_examples(void)
{
    static const struct {
        const char *name, *hex;
    } rows[] = {
        {"7.2.3.1 one compressed block", "f2 48 cd c9 c9 07 00"},
        {"7.2.3.3 a block with no compression",
         "00 05 00 fa ff 48 65 6c 6c 6f 00"},
        {"7.2.3.4 a block with BFINAL set", "f3 48 cd c9 c9 07 00 00"},
        {"7.2.3.5 two blocks in one message",
         "f2 48 05 00 00 00 ff ff ca c9 c9 07 00"},
        /* 7.2.3.6: a fragment flushed with its tail, then the empty last
         * fragment 0x00 */
        {"7.2.3.6 an empty last fragment",
         "f2 48 cd c9 c9 07 00 00 00 ff ff 00"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        current = rows[i].name;
        wsr_inflater *f = wsr_inflater_new(15, false);
        inflate_hex(f, rows[i].hex, "Hello", WSR_INFLATE_OK);
        /* the stream goes on: the same message again, as a fresh one */
        inflate_hex(f, "f2 48 cd c9 c9 07 00", "Hello", WSR_INFLATE_OK);
        wsr_inflater_del(f);
    }
    current = "7.2.3.2 sharing the sliding window";
    wsr_inflater *f = wsr_inflater_new(15, false);
    inflate_hex(f, "f2 48 cd c9 c9 07 00", "Hello", WSR_INFLATE_OK);
    inflate_hex(f, "f2 00 11 00 00", "Hello", WSR_INFLATE_OK);
    wsr_inflater_del(f);
    /* the second message needs the first's window: without it, an error */
    current = "7.2.3.2 without context takeover";
    f = wsr_inflater_new(15, true);
    inflate_hex(f, "f2 48 cd c9 c9 07 00", "Hello", WSR_INFLATE_OK);
    inflate_hex(f, "f2 00 11 00 00", NULL, WSR_INFLATE_BAD);
    wsr_inflater_del(f);
}

/* The server's own bytes for the same examples. */
static void test_deflate_bytes(void)
{
    static const struct {
        const char *name;
        unsigned flags;
        const char *want;
    } rows[] = {
        {"sync flush, tail cut", 0, "f248cdc9c90700"},
        {"tail kept", WSR_DEFLATE_TAIL, "f248cdc9c90700 0000ffff"},
        {"BFINAL", WSR_DEFLATE_FINAL, "f348cdc9c90700"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        current = rows[i].name;
        wsr_deflater *d = wsr_deflater_new(15, false);
        uint8_t *out = NULL, want[32];
        size_t n = 0, wn = unhex(rows[i].want, want);
        CHECK_EQ(wsr_deflate_message(d, (const uint8_t *)"Hello", 5,
                                     rows[i].flags, &out, &n),
                 0);
        CHECK_EQ(n, wn);
        CHECK(n == wn && memcmp(out, want, n) == 0);
        free(out);
        wsr_deflater_del(d);
    }
    current = "empty message is 00";
    wsr_deflater *d = wsr_deflater_new(15, false);
    uint8_t *out = NULL;
    size_t n = 9;
    CHECK_EQ(wsr_deflate_message(d, NULL, 0, 0, &out, &n), 0);
    CHECK(n == 1 && out[0] == 0x00);
    free(out);
    /* 7.2.3.2: the second "Hello" refers back into the first */
    current = "context takeover";
    CHECK_EQ(wsr_deflate_message(d, (const uint8_t *)"Hello", 5, 0, &out, &n),
             0);
    free(out);
    CHECK_EQ(wsr_deflate_message(d, (const uint8_t *)"Hello", 5, 0, &out, &n),
             0);
    CHECK(n == 5 && memcmp(out, "\xf2\x00\x11\x00\x00", 5) == 0);
    free(out);
    /* an empty message after others still gets its empty stored block */
    current = "empty message after a flush is 00";
    CHECK_EQ(wsr_deflate_message(d, NULL, 0, 0, &out, &n), 0);
    CHECK(n == 1 && out[0] == 0x00);
    free(out);
    wsr_deflater_del(d);
    CHECK(wsr_deflater_new(7, false) == NULL);
    CHECK(wsr_deflater_new(16, false) == NULL);
    CHECK(wsr_inflater_new(7, false) == NULL);
}

/* ---- round trips ------------------------------------------------------- */

/* A message of len bytes: text-like, with repeats near and far. */
static uint8_t *sample(size_t len, unsigned seed)
{
    uint8_t *p = xmalloc(len);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (i % 700 < 350 && i >= 350) ? p[i - 350]
                                           : (uint8_t)('a' + (x >> 16) % 26);
    }
    return p;
}

static void round_trip(int bits, bool no_context, unsigned flags)
{
    static const size_t sizes[] = {0, 1, 5, 200, 5000, 70000, 5000, 1};
    wsr_deflater *d = wsr_deflater_new(bits, no_context);
    wsr_inflater *f = wsr_inflater_new(bits, no_context);
    CHECK(d && f);
    for (size_t i = 0; d && f && i < sizeof sizes / sizeof *sizes; i++) {
        uint8_t *msg = sample(sizes[i], (unsigned)i % 3), *z = NULL,
                *back = NULL;
        size_t zn = 0, bn = 0;
        char err[128];
        CHECK_EQ(wsr_deflate_message(d, msg, sizes[i], flags, &z, &zn), 0);
        enum wsr_inflate_result r = wsr_inflate_message(
            f, z, zn, sizes[i], &back, &bn, err, sizeof err);
        CHECK_EQ(r, WSR_INFLATE_OK);
        if (r != WSR_INFLATE_OK) {
            fprintf(stderr, "  message %zu: %s\n", i, err);
            free(z);
            free(msg);
            break;
        }
        CHECK_EQ(bn, sizes[i]);
        CHECK(bn == sizes[i] && (bn == 0 || memcmp(back, msg, bn) == 0));
        free(back);
        free(z);
        free(msg);
    }
    wsr_inflater_del(f);
    wsr_deflater_del(d);
}

static void test_round_trips(void)
{
    char name[64];
    for (int bits = 8; bits <= 15; bits++)
        for (int nc = 0; nc < 2; nc++)
            for (unsigned fl = 0; fl <= WSR_DEFLATE_FINAL;
                 fl += WSR_DEFLATE_FINAL) {
                snprintf(name, sizeof name, "round trip bits %d%s flags %u",
                         bits, nc ? " no takeover" : "", fl);
                current = name;
                round_trip(bits, nc, fl);
            }
}

/* Below 15 bits the inflater writes a byte per call; a message that ends
 * in a match must still be seen to end between blocks (found by
 * fuzz_inflate: 9806 zeros under 10 bits). */
static void test_messages_ending_in_a_match(void)
{
    static uint8_t zeros[9806];
    current = "runs of zeros, every window";
    for (int bits = 8; bits <= 15; bits++)
        for (size_t n = 1; n <= sizeof zeros; n = n * 3 + 7) {
            wsr_deflater *d = wsr_deflater_new(bits, true);
            wsr_inflater *f = wsr_inflater_new(bits, true);
            uint8_t *z = NULL, *back = NULL;
            size_t zn = 0, bn = 0;
            char err[128];
            wsr_deflate_message(d, zeros, n, 0, &z, &zn);
            CHECK_EQ(
                wsr_inflate_message(f, z, zn, n, &back, &bn, err, sizeof err),
                WSR_INFLATE_OK);
            CHECK_EQ(bn, n);
            free(back);
            free(z);
            wsr_inflater_del(f);
            wsr_deflater_del(d);
        }
}

/* Takeover makes a repeated message smaller; without it, it is the same. */
static void test_takeover_shrinks(void)
{
    for (int nc = 0; nc < 2; nc++) {
        current = nc ? "no takeover: same bytes" : "takeover: smaller";
        wsr_deflater *d = wsr_deflater_new(15, nc);
        uint8_t *msg = sample(3000, 7), *a, *b;
        size_t an, bn;
        wsr_deflate_message(d, msg, 3000, 0, &a, &an);
        wsr_deflate_message(d, msg, 3000, 0, &b, &bn);
        if (nc)
            CHECK(an == bn && memcmp(a, b, an) == 0);
        else
            CHECK(bn * 10 < an);
        free(a);
        free(b);
        free(msg);
        wsr_deflater_del(d);
    }
}

/* A back-reference past the window is refused; within it, read. */
static void test_window_is_enforced(void)
{
    uint8_t msg[340], *z, *out = NULL;
    size_t zn, on;
    char err[128];
    for (size_t i = 0; i < 300; i++)
        msg[i] = (uint8_t)(i * 7 + i / 13);
    memcpy(msg + 300, msg, 40); /* a match 300 bytes back */
    wsr_deflater *d = wsr_deflater_new(15, false);
    wsr_deflate_message(d, msg, sizeof msg, 0, &z, &zn);
    wsr_deflater_del(d);
    current = "distance 300 under a 256-byte window";
    wsr_inflater *f = wsr_inflater_new(8, false);
    CHECK_EQ(wsr_inflate_message(f, z, zn, 1000, &out, &on, err, sizeof err),
             WSR_INFLATE_BAD);
    CHECK(strstr(err, "too far") != NULL);
    wsr_inflater_del(f);
    current = "distance 300 under a 512-byte window";
    f = wsr_inflater_new(9, false);
    CHECK_EQ(wsr_inflate_message(f, z, zn, 1000, &out, &on, err, sizeof err),
             WSR_INFLATE_OK);
    CHECK(on == sizeof msg && memcmp(out, msg, on) == 0);
    free(out);
    wsr_inflater_del(f);
    free(z);
}

/* ---- the bound and malformed streams ----------------------------------- */

static void test_bound(void)
{
    static uint8_t zeros[100000];
    wsr_deflater *d = wsr_deflater_new(15, true);
    uint8_t *z, *out = NULL;
    size_t zn, on;
    char err[128];
    wsr_deflate_message(d, zeros, sizeof zeros, 0, &z, &zn);
    wsr_deflater_del(d);
    CHECK(zn < 200);
    static const struct {
        size_t max;
        enum wsr_inflate_result r;
    } rows[] = {{100000, WSR_INFLATE_OK},
                {99999, WSR_INFLATE_TOO_BIG},
                {1000, WSR_INFLATE_TOO_BIG},
                {0, WSR_INFLATE_TOO_BIG}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        current = "inflated-size bound";
        wsr_inflater *f = wsr_inflater_new(15, true);
        CHECK_EQ(wsr_inflate_message(f, z, zn, rows[i].max, &out, &on, err,
                                     sizeof err),
                 rows[i].r);
        if (rows[i].r == WSR_INFLATE_OK) {
            CHECK_EQ(on, sizeof zeros);
            free(out);
        }
        wsr_inflater_del(f);
    }
    free(z);
}

/* Bytes no window helps with: each one from a generator, high bits set
 * often (9-bit codes in a fixed block). */
static uint8_t *noise(size_t len, uint32_t seed)
{
    uint8_t *p = xmalloc(len);
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (uint8_t)(seed >> 24);
    }
    return p;
}

/* wsr_deflate_message never makes more than wsr_deflate_bound, on any
 * window, with or without context takeover, whatever the flags and the
 * messages before: incompressible, compressible and empty messages in a
 * row. (The loader weighs items it leaves to the write by the bound.) */
static void test_output_bound(void)
{
    static const size_t sizes[] = {0,    1,     17,    125,    126,
                                   1000, 16383, 16384, 40000,  70000,
                                   0,    3,     65536, 131072, 5};
    char name[64];
    for (int bits = 8; bits <= 15; bits++)
        for (int nc = 0; nc < 2; nc++) {
            snprintf(name, sizeof name, "output bound bits %d%s", bits,
                     nc ? " no takeover" : "");
            current = name;
            wsr_deflater *d = wsr_deflater_new(bits, nc);
            CHECK(d != NULL);
            for (size_t i = 0; d && i < sizeof sizes / sizeof *sizes; i++) {
                size_t len = sizes[i];
                uint8_t *msg = i % 3 == 1 ? sample(len, (unsigned)i)
                                          : noise(len, (uint32_t)(i + bits));
                unsigned flags = i % 4 == 2   ? WSR_DEFLATE_FINAL
                                 : i % 4 == 3 ? WSR_DEFLATE_TAIL
                                              : 0;
                uint8_t *z = NULL;
                size_t zn = 0;
                uint64_t bound = wsr_deflate_bound(d, len);
                CHECK_EQ(wsr_deflate_message(d, msg, len, flags, &z, &zn), 0);
                CHECK(zn <= bound);
                if (zn > bound)
                    fprintf(stderr, "  %zu bytes made %zu, bound %llu\n", len,
                            zn, (unsigned long long)bound);
                free(z);
                free(msg);
            }
            wsr_deflater_del(d);
        }
}

static void test_malformed(void)
{
    static const struct {
        const char *name, *hex;
    } rows[] = {
        {"reserved block type 3", "ff ff ff"},
        {"stored block, LEN and NLEN disagree",
         "00 05 00 00 00 48 65 6c 6c 6f"},
        {"stored block cut short", "00 0a 00 f5 ff 48"},
        /* the tail kept: the appended one starts a block it cannot end */
        {"tail not removed", "f2 48 cd c9 c9 07 00 00 00 ff ff"},
        {"distance before the start", "f2 00 11 00 00"},
        {"bad code lengths", "04 c0 81 08 00 00 00 00 20 7f eb 0b 00 00"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        current = rows[i].name;
        wsr_inflater *f = wsr_inflater_new(15, false);
        inflate_hex(f, rows[i].hex, NULL, WSR_INFLATE_BAD);
        wsr_inflater_del(f);
    }
}

/* ---- the header grammar and permessage-deflate parameters -------------- */

static void test_header_rows(void)
{
    static const struct {
        const char *in;
        int rc;   /* wsr_ext_parse */
        size_t n; /* extensions */
        int pmd;  /* wsr_pmd_read of the first as an offer: 0 ok, -1 bad */
        int smwb, cmwb;
        bool snct, cnct;
    } rows[] = {
        {"permessage-deflate", 0, 1, 0, 0, 0, false, false},
        {"permessage-deflate; client_max_window_bits", 0, 1, 0, 0, 1, 0, 0},
        {"Permessage-Deflate;server_max_window_bits=10 ;client_max_window_bits"
         "=\"9\"",
         0, 1, 0, 10, 9, 0, 0},
        {"permessage-deflate; server_no_context_takeover; "
         "client_no_context_takeover",
         0, 1, 0, 0, 0, true, true},
        {"permessage-deflate; server_max_window_bits=15, permessage-deflate", 0,
         2, 0, 15, 0, 0, 0},
        {" , permessage-deflate ,, x-webkit ; a=\"b\\\"c\" ", 0, 2, 0, 0, 0, 0,
         0},
        /* invalid offers */
        {"permessage-deflate; server_max_window_bits", 0, 1, -1, 0, 0, 0, 0},
        {"permessage-deflate; server_max_window_bits=7", 0, 1, -1, 0, 0, 0, 0},
        {"permessage-deflate; server_max_window_bits=16", 0, 1, -1, 0, 0, 0, 0},
        {"permessage-deflate; server_max_window_bits=010", 0, 1, -1, 0, 0, 0,
         0},
        {"permessage-deflate; client_max_window_bits=\"8a\"", 0, 1, -1, 0, 0, 0,
         0},
        {"permessage-deflate; server_no_context_takeover=1", 0, 1, -1, 0, 0, 0,
         0},
        {"permessage-deflate; server_no_context_takeover; "
         "server_no_context_takeover",
         0, 1, -1, 0, 0, 0, 0},
        {"permessage-deflate; mux", 0, 1, -1, 0, 0, 0, 0},
        /* bad syntax */
        {"", -1, 0, 0, 0, 0, 0, 0},
        {" , ", -1, 0, 0, 0, 0, 0, 0},
        {"permessage-deflate;", -1, 0, 0, 0, 0, 0, 0},
        {"permessage-deflate; a=", -1, 0, 0, 0, 0, 0, 0},
        {"permessage-deflate; a=\"open", -1, 0, 0, 0, 0, 0, 0},
        {"permessage-deflate a", -1, 0, 0, 0, 0, 0, 0},
        {"perm@ssage", -1, 0, 0, 0, 0, 0, 0},
        {"a;b;c;d;e;f;g;h;i;j", -1, 0, 0, 0, 0, 0, 0}, /* over 8 parameters */
        {"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", -1, 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        current = rows[i].in;
        wsr_ext_list l;
        char err[128] = "";
        int rc =
            wsr_ext_parse(rows[i].in, strlen(rows[i].in), &l, err, sizeof err);
        CHECK_EQ(rc, rows[i].rc);
        if (rc != 0) {
            CHECK(err[0] != '\0');
            continue;
        }
        CHECK_EQ(l.n, rows[i].n);
        wsr_pmd_params p;
        CHECK_EQ(wsr_pmd_read(&l.v[0], false, &p, err, sizeof err),
                 rows[i].pmd);
        if (rows[i].pmd != 0)
            continue;
        CHECK_EQ(p.server_max_window_bits, rows[i].smwb);
        CHECK_EQ(p.client_max_window_bits, rows[i].cmwb);
        CHECK_EQ(p.server_no_context_takeover, rows[i].snct);
        CHECK_EQ(p.client_no_context_takeover, rows[i].cnct);
    }
}

static void test_answers_and_format(void)
{
    wsr_ext_list l;
    wsr_pmd_params p;
    char err[128], out[256];
    current = "an answer needs a value for client_max_window_bits";
    const char *a = "permessage-deflate; client_max_window_bits";
    CHECK_EQ(wsr_ext_parse(a, strlen(a), &l, err, sizeof err), 0);
    CHECK_EQ(wsr_pmd_read(&l.v[0], true, &p, err, sizeof err), -1);
    CHECK_EQ(wsr_pmd_read(&l.v[0], false, &p, err, sizeof err), 0);
    current = "the element's text";
    const char *b = "x ; y=1 , permessage-deflate ; client_max_window_bits ";
    CHECK_EQ(wsr_ext_parse(b, strlen(b), &l, err, sizeof err), 0);
    CHECK(l.v[0].text_len == 7 && memcmp(l.v[0].text, "x ; y=1", 7) == 0);
    CHECK(!wsr_pmd_is(&l.v[0]) && wsr_pmd_is(&l.v[1]));
    CHECK(l.v[1].text_len == strlen("permessage-deflate ; "
                                    "client_max_window_bits"));
    current = "format";
    p = (wsr_pmd_params){true, true, 10, 9};
    CHECK(wsr_pmd_format(&p, out, sizeof out) > 0);
    CHECK(strcmp(out, "permessage-deflate; server_no_context_takeover; "
                      "client_no_context_takeover; server_max_window_bits=10;"
                      " client_max_window_bits=9") == 0);
    CHECK_EQ(wsr_pmd_format(&p, out, 20), -1);
    current = "minimal answer";
    p = (wsr_pmd_params){true, true, 12, WSR_PMD_BITS_NO_VALUE};
    wsr_pmd_params m = wsr_pmd_minimal_answer(&p);
    CHECK(m.server_no_context_takeover && m.client_no_context_takeover);
    CHECK(m.server_max_window_bits == 12 && m.client_max_window_bits == 0);
    p = (wsr_pmd_params){false, false, 0, WSR_PMD_BITS_NO_VALUE};
    m = wsr_pmd_minimal_answer(&p);
    CHECK(!m.server_no_context_takeover && !m.client_no_context_takeover);
    CHECK(m.server_max_window_bits == 0 && m.client_max_window_bits == 0);
}

int main(void)
{
    test_rfc_examples();
    test_deflate_bytes();
    test_round_trips();
    test_messages_ending_in_a_match();
    test_takeover_shrinks();
    test_window_is_enforced();
    test_bound();
    test_output_bound();
    test_malformed();
    test_header_rows();
    test_answers_and_format();
    return check_summary("deflate");
}
