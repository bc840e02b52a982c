/*
 * engine.h — one connection's protocol and step program, without sockets.
 *
 * The engine is everything a session does between the bytes and the
 * clock: it parses the request head, answers it, runs the scenario's step
 * program, decodes and judges what the client sends, and writes the
 * transcript. It owns no socket, timer or event loop. The shell around it
 * (session.c on a libevent bufferevent; a test with plain buffers) feeds it
 * input, "the output drained", timer expiries and the client's EOF, and
 * the engine answers with bytes appended to its output buffer and calls to
 * the wsr_engine_io hooks (arm a timer, FIN, pause reading, ...), which
 * run at once, so the transcript keeps their exact order.
 *
 * The engine ends itself — reason in the transcript — on every client
 * misbehaviour and limit, then calls the ended hook once; after that every
 * entry point does nothing. Its owner frees it only after that call has
 * returned (never inside one of the engine's own calls).
 */
#ifndef WSR_ENGINE_H
#define WSR_ENGINE_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdint.h>

#include "server.h"
#include "transcript.h"

/* What the engine asks of the world; every hook gets the ctx given to
 * wsr_engine_new(). All are required. The engine borrows the table: make
 * it static. */
typedef struct wsr_engine_io {
    uint64_t (*now_us)(void *ctx); /* a monotonic clock, µs */
    uint32_t (*random)(void *ctx); /* uniform random bits (delay jitter) */
    /* The step timer (delays, gaps, ACK polls, await timeouts, linger):
     * arm it to call wsr_engine_timer() in ms (re-arming it), or stop it. */
    void (*timer)(void *ctx, unsigned ms);
    void (*timer_stop)(void *ctx);
    /* The session deadline: arm it to call wsr_engine_deadline() in ms,
     * replacing the one before. */
    void (*deadline)(void *ctx, unsigned ms);
    void (*reading)(void *ctx, bool on); /* resume or pause reading */
    int (*unacked)(void *ctx);   /* bytes the client has not ACKed (SIOCOUTQ) */
    bool (*peer_fin)(void *ctx); /* the client's FIN reached the socket */
    /* The connection is gone (TCP state CLOSE: the client reset it), so
     * nothing still queued will ever be ACKed. */
    bool (*peer_gone)(void *ctx);
    /* Sends TLS close_notify straight to the socket: 0, or the TLS error
     * number if it failed. Called only when the engine was made with tls. */
    int (*close_notify)(void *ctx);
    void (*shutdown)(void *ctx); /* FIN: shutdown(SHUT_WR) */
    /* GET /_runs/ID?wait_ms=N for a run that is not complete: park the
     * request, so that the shell calls wsr_engine_run_ended() whenever a
     * recorded session of run ends. False when too many requests wait
     * already (the engine answers 503). */
    bool (*park)(void *ctx, const char *run);
    /* The wait is over (answered, or the engine ended); harmless when the
     * request is not parked. */
    void (*unpark)(void *ctx);
    /* The engine ended: stop every callback; free the engine later. */
    void (*ended)(void *ctx);
} wsr_engine_io;

typedef struct wsr_engine wsr_engine;

/* A new engine for a connection from peer (text, for the transcript) whose
 * output goes to out (borrowed: the bytes the shell sends, in order). With
 * tls, the session is wss://. srv gives the limits, the scenarios and the
 * finished runs; io the hooks (both borrowed: they outlive the engine).
 * NULL if out of memory. */
wsr_engine *wsr_engine_new(wsr_server *srv, struct evbuffer *out, bool tls,
                           const char *peer, const wsr_engine_io *io,
                           void *ctx);
void wsr_engine_del(wsr_engine *e);

/* Routes the request by target (copied) instead of the request-target the
 * client sends: a connection handed over by a front (handoff.h). The
 * client's own target stays in the transcript's http_request event, the
 * routed one beside it as "routed_target". Call before any input. Returns
 * 0, or -1 if out of memory. */
int wsr_engine_route(wsr_engine *e, const char *target);

/* The connection is there: logs tcp_accept, arms the handshake deadline. */
void wsr_engine_start(wsr_engine *e);
/* Client bytes: the engine drains what it used from in; an incomplete
 * request head stays there for the next call. */
void wsr_engine_input(wsr_engine *e, struct evbuffer *in);
/* Everything appended to out has been handed to the kernel. */
void wsr_engine_drained(wsr_engine *e);
void wsr_engine_eof(wsr_engine *e);                      /* the client's FIN */
void wsr_engine_error(wsr_engine *e, const char *error); /* socket error */
void wsr_engine_timer(wsr_engine *e);
void wsr_engine_deadline(wsr_engine *e);
/* A session of the run a parked GET /_runs/ID?wait_ms=N waits for ended:
 * the engine answers if the run is complete now, else waits on. Nothing
 * when the engine is not parked. */
void wsr_engine_run_ended(wsr_engine *e);
/* Ends it now with this reason (the first end wins). */
void wsr_engine_end(wsr_engine *e, const char *reason, const char *detail);

const wsr_transcript *wsr_engine_transcript(const wsr_engine *e);
/* False for a control request (GET /_runs/ID): not a session to keep. */
bool wsr_engine_recorded(const wsr_engine *e);
/* The run id the request named, or "". */
const char *wsr_engine_run(const wsr_engine *e);
/* True when the scenario ended the connection with RST: close it so. */
bool wsr_engine_aborted(const wsr_engine *e);
bool wsr_engine_ended(const wsr_engine *e);
/* Client payload bytes the session holds: the frame being decoded (its
 * buffer grows as bytes arrive) and the message being assembled. */
size_t wsr_engine_buffered(const wsr_engine *e);

#endif
