/*
 * scenario_normal.h — the normalized form of scenarios: what
 * `wsreplay-server --check --json` prints, so that the loader is the one
 * owner of what a scenario means and the harness reads, never re-derives.
 *
 * Each scenario is the file's own object plus
 *   "file":      the path it was loaded from;
 *   "client":    the complete client knobs, defaults filled in
 *                (wsr_client_knobs in scenario_meta.c holds the defaults);
 *   "budget_ms": {"steps": S, "client": C, "deadline": D, "expected": E},
 *                where S is the longest the server's steps can take, C the
 *                client's own waits (recv_delay_ms + recv_timeout_ms),
 *                D = S + C + WSR_BUDGET_SLACK_MS, and E a job's usual
 *                length: the larger of the steps' fixed waits
 *                (wsr_steps_expected_ms) and recv_delay_ms.
 */
#ifndef WSR_SCENARIO_NORMAL_H
#define WSR_SCENARIO_NORMAL_H

#include <jansson.h>

#include "scenario.h"

/*
 * What a job's deadline allows beyond the steps and the client's waits:
 * connecting and the handshake, each write group waiting for its ACK (up to
 * --ack-timeout-ms), the adapter starting the job and reporting it, all on
 * a machine that runs many jobs at once. One constant, so the harness and
 * the loader never disagree about it.
 */
#define WSR_BUDGET_SLACK_MS 5000

/* The worst-case time of the step program in ms: every delay with its whole
 * jitter, a write group's gap between every two of its pieces, and every
 * await and echo running to its timeout. */
long long wsr_steps_budget_ms(const wsr_scenario *sc);

/* The usual time of the step program in ms: every delay with half its
 * jitter and every write group's gaps; awaits and echoes count nothing, as
 * a client normally answers at once. */
long long wsr_steps_expected_ms(const wsr_scenario *sc);

/* One scenario's normalized object (new reference), or NULL if out of
 * memory. sc must have been loaded from a file (sc->doc set). */
json_t *wsr_scenario_normal(const wsr_scenario *sc);

/* {"scenarios": [...], "knob_defaults": {...}}, the scenarios in the set's
 * order (by name); NULL if out of memory. */
json_t *wsr_scenario_set_normal(const wsr_scenario_set *set);

#endif
