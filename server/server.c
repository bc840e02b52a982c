/*
 * server.c — the server context: set up, and torn down with every session.
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "session.h"
#include "writer.h"

void wsr_server_init(wsr_server *srv, struct event_base *base,
                     const wsr_config *cfg, const wsr_scenario_set *scenarios)
{
    memset(srv, 0, sizeof *srv);
    srv->base = base;
    srv->cfg = *cfg;
    srv->scenarios = scenarios;
    wsr_runs_init(&srv->runs);
    if (cfg->runs_max_bytes)
        srv->runs.max_bytes = cfg->runs_max_bytes;
}

int wsr_server_start_writer(wsr_server *srv)
{
    if (!srv->cfg.transcript_dir)
        return 0;
    srv->writer =
        wsr_writer_new(srv->cfg.transcript_dir, WSR_WRITER_QUEUE_BYTES);
    if (!srv->writer) {
        errno = ENOMEM;
        return -1;
    }
    if (wsr_writer_start(srv->writer) != 0) {
        int e = errno;
        wsr_writer_close(srv->writer, NULL);
        srv->writer = NULL;
        errno = e;
        return -1;
    }
    return 0;
}

void wsr_server_free(wsr_server *srv)
{
    /* Each ending session unlinks itself from the live list (and hands
     * its transcript to the writer). */
    while (srv->live)
        wsr_session_shutdown(srv->live);
    /* Run the deferred frees queued above. */
    if (srv->base)
        event_base_loop(srv->base, EVLOOP_NONBLOCK);
    if (srv->writer) {
        wsr_writer_stats st;
        int rc = wsr_writer_close(srv->writer, &st);
        srv->writer = NULL;
        fprintf(stderr,
                "wsreplay-server: transcripts: %lu written to %s%s, %lu not "
                "written (queue full), %lu failed; at most %zu bytes "
                "waited\n",
                st.written, srv->cfg.transcript_dir,
                rc == 0 ? " and synced" : "", st.dropped, st.failed,
                st.peak_bytes);
    }
    const wsr_runs *r = &srv->runs;
    if (srv->base) /* a server that ran, not a test's context */
        fprintf(stderr,
                "wsreplay-server: /_runs ring: %zu transcripts kept "
                "(%zu bytes, at most %zu of a cap of %zu), %lu evicted "
                "(%lu for the byte cap), %lu not kept (larger than the "
                "cap)\n",
                r->count, r->bytes, r->peak_bytes, r->max_bytes, r->evicted,
                r->evicted_size, r->too_big);
    wsr_runs_free(&srv->runs);
}
