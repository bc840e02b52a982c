/*
 * extensions.h — the Sec-WebSocket-Extensions header (RFC 6455 9.1) and the
 * parameters of permessage-deflate in it (RFC 7692 5, 7.1).
 *
 * Pure, over the caller's bytes: the grammar gives extensions and their
 * parameters as slices (quoted values still quoted); the permessage-deflate
 * reader turns one extension into parameters or says why it is invalid.
 * One parser serves the client's offers and the server's own answer.
 */
#ifndef WSR_EXTENSIONS_H
#define WSR_EXTENSIONS_H

#include <stdbool.h>
#include <stddef.h>

#define WSR_EXT_MAX 16       /* extensions in one header value */
#define WSR_EXT_MAX_PARAMS 8 /* parameters of one extension */

typedef struct wsr_ext_param {
    const char *name;
    size_t name_len;
    const char *value; /* NULL: no value; else as written, quotes included */
    size_t value_len;
} wsr_ext_param;

typedef struct wsr_ext {
    const char *text; /* the whole element, "permessage-deflate; a=1" */
    size_t text_len;
    const char *name;
    size_t name_len;
    wsr_ext_param params[WSR_EXT_MAX_PARAMS];
    size_t n_params;
} wsr_ext;

typedef struct wsr_ext_list {
    wsr_ext v[WSR_EXT_MAX];
    size_t n;
} wsr_ext_list;

/* Parses a header value (several headers joined with ", " are one value):
 * extension *( "," extension ), each token *( ";" token [ "=" (token |
 * quoted-string) ] ), optional whitespace around separators, empty list
 * elements skipped. Returns 0, or -1 with the reason in err (bad syntax,
 * no extension, more than the limits above). */
int wsr_ext_parse(const char *s, size_t len, wsr_ext_list *out, char *err,
                  size_t errlen);

/* ---- permessage-deflate ------------------------------------------------ */

#define WSR_PMD_NAME "permessage-deflate"
/* client_max_window_bits given without a value (an offer may do that). */
#define WSR_PMD_BITS_NO_VALUE 1

typedef struct wsr_pmd_params {
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    int server_max_window_bits; /* 0: absent, else 8..15 */
    int client_max_window_bits; /* 0: absent, WSR_PMD_BITS_NO_VALUE, 8..15 */
} wsr_pmd_params;

/* Whether e is named permessage-deflate (case-insensitive). */
bool wsr_pmd_is(const wsr_ext *e);

/* e's parameters (RFC 7692 7.1): only the four defined ones, each at most
 * once; the takeover ones without a value; window bits a decimal 8..15
 * without leading zeros, token or quoted. In an answer (is_answer)
 * client_max_window_bits needs a value. Returns 0, or -1 with why in err. */
int wsr_pmd_read(const wsr_ext *e, bool is_answer, wsr_pmd_params *out,
                 char *err, size_t errlen);

/* "permessage-deflate" followed by p's parameters in the order of the
 * struct. Returns the length written (NUL-terminated), or -1 if cap is too
 * small. */
int wsr_pmd_format(const wsr_pmd_params *p, char *out, size_t cap);

/* The answer "accept" makes to an offer: what RFC 7692 requires of an
 * accepting server and nothing more (server_no_context_takeover and
 * server_max_window_bits echoed when offered). */
wsr_pmd_params wsr_pmd_minimal_answer(const wsr_pmd_params *offer);

#endif
