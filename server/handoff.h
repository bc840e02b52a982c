/*
 * handoff.h — connections handed over by a front (--handoff PATH).
 *
 * A front process (the Autobahn-compatible mode's, in the harness) accepts
 * the TCP connections itself, peeks at each request line and answers the
 * requests it owns; a connection the server must play it hands over on a
 * unix SOCK_SEQPACKET socket at PATH, one datagram per connection:
 *
 *   ancillary data  exactly one descriptor (SCM_RIGHTS): the TCP socket,
 *                   with the client's request still unread in it;
 *   payload         the request-target to route the connection by (say
 *                   /close/send-then-close?run=ab-websockets-17) instead
 *                   of the one in the client's request.
 *
 * The session then reads and answers the handshake as usual; its
 * transcript records the client's target and the routed one. A datagram
 * that breaks the rule (no descriptor, several, one that is not a TCP
 * stream socket, a bad target) is logged and its descriptors closed; a
 * peer that goes away is forgotten. Neither stops the server.
 */
#ifndef WSR_HANDOFF_H
#define WSR_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

/* The longest target a datagram may carry, in bytes. */
#define WSR_HANDOFF_TARGET_MAX 2048

/* Whether the len bytes at p are a target a datagram may carry: 1 to
 * WSR_HANDOFF_TARGET_MAX bytes, starting with '/', all of them visible
 * ASCII (no space, control byte or NUL). On false, *why says what is wrong
 * (a static string). Pure. */
bool wsr_handoff_target_ok(const char *p, size_t len, const char **why);

typedef struct wsr_handoff wsr_handoff;

/* Listens on a unix SOCK_SEQPACKET socket at path on srv's event loop;
 * removes a stale socket file there first (one no server listens on any
 * more); a live one, or anything else at path, is left alone and refused.
 * NULL with the reason in err on failure. */
wsr_handoff *wsr_handoff_new(wsr_server *srv, const char *path, char *err,
                             size_t cap);
/* Closes the listener and every peer, and unlinks the socket file. The
 * sessions already started go on. NULL is fine. */
void wsr_handoff_del(wsr_handoff *h);

#endif
