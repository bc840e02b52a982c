/*
 * fuzz_scenario.c — the scenario loader on arbitrary bytes: either a
 * scenario (then every write step's sizes are computed, as a session
 * would; a family gives each member) or an error that names the file.
 */
#include "fuzz.h"
#include "scenario.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    wsr_scenario_set set = {0};
    if (wsr_scenario_load_buffer_into(&set, (const char *)data, size,
                                      "fuzz.json", NULL, err,
                                      sizeof err) != 0) {
        if (strncmp(err, "fuzz.json", 9) != 0 || set.n != 0)
            abort();
        wsr_scenario_set_free(&set); /* its array may be allocated */
        return 0;
    }
    for (size_t k = 0; k < set.n; k++) {
        const wsr_scenario *sc = set.v[k];
        for (size_t i = 0; i < sc->n_steps; i++) {
            if (sc->steps[i].kind == WSR_STEP_WRITE) {
                (void)wsr_step_group_bytes(&sc->steps[i]);
                (void)wsr_step_pieces(&sc->steps[i]);
            }
        }
    }
    wsr_scenario_set_free(&set);
    return 0;
}
