/*
 * server.c — the server context: set up, and torn down with every session.
 */
#include "server.h"

#include <string.h>

#include "session.h"

void wsr_server_init(wsr_server *srv, struct event_base *base,
                     const wsr_config *cfg, const wsr_scenario_set *scenarios)
{
    memset(srv, 0, sizeof *srv);
    srv->base = base;
    srv->cfg = *cfg;
    srv->scenarios = scenarios;
    wsr_runs_init(&srv->runs);
}

void wsr_server_free(wsr_server *srv)
{
    /* Each ending session unlinks itself from the live list. */
    while (srv->live)
        wsr_session_shutdown(srv->live);
    /* Run the deferred frees queued above. */
    event_base_loop(srv->base, EVLOOP_NONBLOCK);
    wsr_runs_free(&srv->runs);
}
