/*
 * session.h — one client connection and the server context it runs in.
 *
 * A session reads the upgrade request, answers it, then runs its
 * scenario's step program on a bufferevent while decoding everything the
 * client sends. It ends itself — with a reason in its transcript — on any
 * client misbehaviour or limit, and is freed only from a deferred callback,
 * never inside one of its own.
 */
#ifndef WSR_SESSION_H
#define WSR_SESSION_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "scenario.h"

typedef struct wsr_config {
    unsigned linger_ms;            /* drain the client for this long at the end */
    unsigned handshake_timeout_ms; /* whole request head within this time */
    unsigned session_timeout_ms;   /* a session never lives longer */
    unsigned ack_timeout_ms;       /* wait this long for a group's ACK */
    size_t max_frame;              /* largest client frame payload */
    size_t max_message;            /* largest reassembled client message */
    size_t max_handshake;          /* largest request head */
    size_t max_output;             /* largest queued output (echo) */
    const char *transcript_dir;    /* NULL: keep in memory only */
} wsr_config;

/* Finished transcripts kept for GET /_runs/ID, oldest dropped first. */
#define WSR_RUNS_KEEP 4096

struct wsr_session;

typedef struct wsr_server {
    struct event_base *base;
    wsr_config cfg;
    const wsr_scenario_set *scenarios;
    struct wsr_session *live;      /* doubly linked list of live sessions */
    json_t *done[WSR_RUNS_KEEP];   /* ring of finished transcripts (owned) */
    size_t done_next;
    unsigned long next_id;
    unsigned long sessions_total;
} wsr_server;

void wsr_server_init(wsr_server *srv, struct event_base *base,
                     const wsr_config *cfg, const wsr_scenario_set *scenarios);
/* Ends every live session (reason server_shutdown) and frees what it holds. */
void wsr_server_free(wsr_server *srv);

/* Takes ownership of fd; with tls set, the session speaks TLS (wss://) with
 * a new SSL from that context. Returns 0, or -1 (fd closed) on failure. */
int wsr_session_start(wsr_server *srv, evutil_socket_t fd,
                      const struct sockaddr *addr, int addrlen, SSL_CTX *tls);

/* {"run": ID, "complete": bool, "sessions": [...]} — a new reference. */
json_t *wsr_server_query_run(const wsr_server *srv, const char *run);

#endif
