/*
 * server.h — the server context every session runs in.
 *
 * One per listening server: the configuration and limits, the scenarios,
 * the list of live sessions, the ring of finished transcripts (runs.h), the
 * transcript writer (writer.h) and the counters. Sessions link themselves
 * into the live list when they start and out of it when they end; the
 * context owns what is left.
 */
#ifndef WSR_SERVER_H
#define WSR_SERVER_H

#include <event2/event.h>
#include <stddef.h>

#include "runs.h"
#include "scenario.h"

/* --max-inflated's default: the largest client message once inflated. */
#define WSR_MAX_INFLATED_DEFAULT (64u * 1024u * 1024u)

typedef struct wsr_config {
    unsigned linger_ms; /* drain the client for this long at the end */
    unsigned handshake_timeout_ms; /* whole request head within this time */
    unsigned session_timeout_ms;   /* a session never lives longer */
    unsigned ack_timeout_ms;       /* wait this long for a group's ACK */
    size_t max_frame;              /* largest client frame payload */
    size_t max_message;            /* largest reassembled client message */
    size_t max_handshake;          /* largest request head */
    size_t max_output;             /* largest queued output (echo) */
    size_t max_inflated;        /* largest inflated client message; 0: 64 MiB */
    size_t max_buffered;        /* client payload bytes held by all sessions
                          * together (frames being decoded, messages being
                          * assembled); 0: no cap */
    const char *transcript_dir; /* NULL: keep in memory only */
    size_t runs_max_bytes;      /* the /_runs ring's byte cap; 0: the default */
} wsr_config;

struct wsr_session;
struct wsr_writer;

typedef struct wsr_server {
    struct event_base *base;
    wsr_config cfg;
    const wsr_scenario_set *scenarios;
    struct wsr_session *live;  /* doubly linked list of live sessions */
    wsr_runs runs;             /* finished transcripts, for GET /_runs/ID */
    struct wsr_writer *writer; /* transcripts to cfg.transcript_dir; NULL
                                * without one or before start_writer */
    unsigned long next_id;
    unsigned long sessions_total;
    size_t buffered; /* client payload bytes the live sessions hold: each
                      * engine adds what it holds after reading */
} wsr_server;

void wsr_server_init(wsr_server *srv, struct event_base *base,
                     const wsr_config *cfg, const wsr_scenario_set *scenarios);
/* With cfg.transcript_dir, starts the thread that writes transcripts there
 * (writer.h). Returns 0 (also without a dir), or -1 with errno set. */
int wsr_server_start_writer(wsr_server *srv);
/* Ends every live session (reason server_shutdown), then writes the
 * transcripts still queued and syncs them to disk, and frees what it
 * holds. */
void wsr_server_free(wsr_server *srv);

#endif
