/*
 * codec.h — RFC 6455 frame encoder and incremental decoder.
 *
 * Pure: no I/O, no libevent. The decoder is fed bytes and returns how many
 * it consumed, so a frame split at any byte decodes exactly as the whole
 * frame does. Length rules (minimal encoding, the 63-bit limit, 125-byte
 * control frames, the caller's size limit) are checked as soon as the header
 * is known, before any payload is waited for.
 */
#ifndef WSR_CODEC_H
#define WSR_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

#define WS_RSV1 0x4
#define WS_RSV2 0x2
#define WS_RSV3 0x1

/* Error codes, grouped by class. All are negative; ws_err_is_protocol()
 * tells a peer's mistake from a local failure. */
enum ws_err {
    WS_OK = 0,
    /* the peer broke RFC 6455 framing */
    WS_ERR_UNMASKED = -1,           /* client frame without a mask (5.1) */
    WS_ERR_MASKED = -2,             /* server frame with a mask (5.1) */
    WS_ERR_RESERVED_OPCODE = -3,    /* opcode 3-7 or B-F (5.2) */
    WS_ERR_RSV = -4,                /* RSV bit set, no extension agreed (5.2) */
    WS_ERR_CONTROL_TOO_LONG = -5,   /* control payload > 125 (5.5) */
    WS_ERR_CONTROL_FRAGMENTED = -6, /* control frame with FIN=0 (5.5) */
    WS_ERR_NONMINIMAL_LENGTH = -7,  /* length not in its minimal form (5.2) */
    WS_ERR_LENGTH_MSB = -8,       /* 64-bit length with the top bit set (5.2) */
    WS_ERR_BAD_CONTINUATION = -9, /* continuation with no message open (5.4) */
    WS_ERR_EXPECTED_CONTINUATION =
        -10,                        /* new data frame inside a message (5.4) */
    WS_ERR_BAD_CLOSE_PAYLOAD = -11, /* 1-byte close payload (5.5.1) */
    WS_ERR_BAD_CLOSE_CODE = -12,    /* code not allowed on the wire (7.4) */
    WS_ERR_INVALID_UTF8 = -13,      /* text or close reason not UTF-8 (8.1) */
    /* the peer broke RFC 7692 (permessage-deflate in effect) */
    WS_ERR_RSV1_PLACE = -14, /* RSV1 on a control or continuation frame (6.1) */
    WS_ERR_DEFLATE = -15,    /* a compressed message does not inflate (7.2.2) */
    /* a local limit */
    WS_ERR_TOO_BIG = -20, /* payload over the decoder's max */
    /* local failures */
    WS_ERR_NOMEM = -30,
    WS_ERR_LEN_FORM =
        -31, /* encoder: payload does not fit the forced length form */
    WS_ERR_BUFFER = -32, /* encoder: output buffer too small */
    WS_ERR_STATE = -33,  /* decoder used after an error */
};

/* Returns a short static description of an error code ("unmasked client frame"). */
const char *ws_strerror(int err);
/* True for errors caused by the peer's bytes (framing or a size limit). */
bool ws_err_is_protocol(int err);

typedef struct ws_frame_header {
    bool fin;
    uint8_t rsv;    /* WS_RSV1|WS_RSV2|WS_RSV3 bits */
    uint8_t opcode; /* 0..15 */
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
    int len_form; /* 7, 16 or 64: the form the length was sent in */
} ws_frame_header;

/* A decoded frame. payload is unmasked and owned by the decoder: it stays
 * valid until the next ws_decoder_feed() or ws_decoder_free(). */
typedef struct ws_frame {
    ws_frame_header h;
    const uint8_t *payload;
    size_t payload_len;
} ws_frame;

enum ws_decoder_flags {
    WS_DEC_REQUIRE_MASK = 1 << 0, /* decoding client frames: a server */
    WS_DEC_REQUIRE_UNMASKED =
        1 << 1,                /* decoding server frames: a client (tests) */
    WS_DEC_ALLOW_RSV = 1 << 2, /* do not reject RSV bits */
    WS_DEC_ALLOW_NONMINIMAL = 1 << 3, /* accept non-minimal length forms */
};

enum ws_decoder_state {
    WS_DEC_HEADER,  /* reading the first two bytes and extended length/mask */
    WS_DEC_PAYLOAD, /* reading payload bytes */
    WS_DEC_ERROR, /* a previous feed returned an error; feed returns WS_ERR_STATE */
};

typedef struct ws_decoder {
    enum ws_decoder_state state;
    unsigned flags;
    uint64_t max_payload;
    uint8_t hdr[14];
    size_t hdr_have; /* header bytes collected so far */
    size_t hdr_need; /* header bytes needed in total, once known (>= 2) */
    ws_frame_header h;
    uint8_t *payload; /* heap buffer of payload_cap bytes (NULL when 0) */
    uint64_t payload_have;
    size_t payload_cap;   /* grows as bytes arrive, never past h.payload_len */
    bool frame_delivered; /* last feed returned a frame: free it on next feed */
} ws_decoder;

/* Embeds a decoder. max_payload is the largest frame payload accepted. */
void ws_decoder_init(ws_decoder *dec, uint64_t max_payload, unsigned flags);
void ws_decoder_free(ws_decoder *dec);

/* The smallest payload buffer the decoder allocates: a frame's buffer
 * starts at this (or the frame's length, if smaller) and doubles as bytes
 * arrive, up to the frame's length. */
#define WS_DEC_MIN_CAP 4096

/* Bytes the decoder holds for the frame being decoded (its payload
 * buffer's capacity): about what has arrived of it, never what its header
 * announced. 0 between frames. */
size_t ws_decoder_capacity(const ws_decoder *dec);

/*
 * Feeds up to len bytes. Returns the number of bytes consumed (0..len) or a
 * negative ws_err; after an error every later call returns WS_ERR_STATE.
 * Consumption stops at the end of a frame: then *done is set to 1 and *out
 * describes the frame; call again with the remaining bytes for the next one.
 * Otherwise *done is 0 and all len bytes were consumed.
 * Checks, in header order: RSV (unless allowed), reserved opcode, control
 * FIN and length, mask requirement, minimal length, length MSB, max_payload.
 * The payload buffer is grown as the payload arrives (doubling, from
 * WS_DEC_MIN_CAP, capped at the announced length), so a header announcing
 * max_payload bytes costs nothing until they come.
 */
ssize_t ws_decoder_feed(ws_decoder *dec, const uint8_t *in, size_t len,
                        ws_frame *out, int *done);

/* Fragmentation state of a message stream (RFC 6455 5.4). */
typedef struct ws_fragments {
    bool open;      /* a fragmented message is in progress */
    uint8_t opcode; /* its opcode (text or binary) */
} ws_fragments;

/* Checks a frame header against the fragmentation state and advances it.
 * Control frames never change it. Returns WS_OK or WS_ERR_BAD_CONTINUATION /
 * WS_ERR_EXPECTED_CONTINUATION. */
int ws_fragments_step(ws_fragments *st, const ws_frame_header *h);

/* Parses a close payload. An empty payload gives code 0 (none) and no
 * reason. Returns WS_OK, WS_ERR_BAD_CLOSE_PAYLOAD (1 byte),
 * WS_ERR_BAD_CLOSE_CODE (0-999, 1004-1006, 1015, 1016-2999 not assigned,
 * >= 5000) or WS_ERR_INVALID_UTF8 (reason). *reason points into payload. */
int ws_close_parse(const uint8_t *payload, size_t len, uint16_t *code,
                   const uint8_t **reason, size_t *reason_len);

/* Strict UTF-8 validation (no overlongs, no surrogates, max U+10FFFF). */
bool ws_utf8_valid(const uint8_t *s, size_t len);

/* Everything the encoder needs: full control, also of illegal frames. */
typedef struct ws_frame_spec {
    bool fin;
    uint8_t rsv;    /* WS_RSV1|WS_RSV2|WS_RSV3 bits, sent as given */
    uint8_t opcode; /* 0..15, reserved ones too */
    bool mask;
    uint8_t mask_key[4];
    int len_form; /* 0 = minimal; 7, 16 or 64 to force a form */
    const uint8_t *payload;
    size_t payload_len;
} ws_frame_spec;

/* Bytes the encoded frame will take, or WS_ERR_LEN_FORM if the payload
 * does not fit the forced length form (7-bit > 125, 16-bit > 65535). */
ssize_t ws_encoded_size(const ws_frame_spec *spec);

/* Encodes header + (masked) payload into out. Returns the bytes written or
 * WS_ERR_LEN_FORM / WS_ERR_BUFFER. A forced form larger than needed is
 * written as given (non-minimal), which is how scenarios send it. */
ssize_t ws_encode_frame(const ws_frame_spec *spec, uint8_t *out, size_t cap);

/* Writes the close payload (2-byte code, big-endian, then reason) into out,
 * which must hold 2 + reason_len bytes. Returns the length. */
size_t ws_close_payload(uint16_t code, const uint8_t *reason, size_t reason_len,
                        uint8_t *out);

/* XORs n bytes with key, starting at key position offset % 4. */
void ws_mask_bytes(uint8_t *p, size_t n, const uint8_t key[4], size_t offset);

#endif
