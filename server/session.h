/*
 * session.h — one client connection on a libevent bufferevent.
 *
 * A session gives its engine (engine.h: the request, the step program, the
 * client's frames, the transcript) a socket, plain or TLS, and two timers.
 * The engine ends itself — with a reason in its transcript — on any client
 * misbehaviour or limit; the session then keeps the transcript and is
 * freed from a deferred callback, never inside one of its own. The server
 * context it runs in (config, live list, finished transcripts) is in
 * server.h.
 */
#ifndef WSR_SESSION_H
#define WSR_SESSION_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "server.h"
#include "transcript.h"

typedef struct wsr_session wsr_session;

/* Takes ownership of fd; with tls set, the session speaks TLS (wss://) with
 * a new SSL from that context. Returns 0, or -1 (fd closed) on failure. */
int wsr_session_start(wsr_server *srv, evutil_socket_t fd,
                      const struct sockaddr *addr, int addrlen, SSL_CTX *tls);

/* A plain ws:// connection handed over by a front (handoff.h), routed by
 * target (copied) instead of the request-target the client sends. Takes
 * ownership of fd, as wsr_session_start. */
int wsr_session_start_routed(wsr_server *srv, evutil_socket_t fd,
                             const struct sockaddr *addr, const char *target);

/* Ends a live session because the server is stopping (reason
 * server_shutdown): it leaves the live list at once and is freed from a
 * deferred callback. */
void wsr_session_shutdown(wsr_session *s);

/* The next session in the server's live list, or NULL. */
wsr_session *wsr_session_next(const wsr_session *s);

/* The transcript of a session that is recorded (not a control request),
 * borrowed, and its run id ("" for none) in *run; NULL otherwise. */
const wsr_transcript *wsr_session_recorded(const wsr_session *s,
                                           const char **run);

#endif
