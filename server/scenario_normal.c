/*
 * scenario_normal.c — builds the normalized form from what the loader
 * parsed, so defaults and the timing budget are computed in one place, from
 * the same step program the server runs.
 */
#include "scenario_normal.h"

#include "scenario_meta.h"

/* The longest one step can take. */
static long long step_budget_ms(const wsr_step *st)
{
    size_t pieces;
    switch (st->kind) {
    case WSR_STEP_DELAY:
        return (long long)st->ms + st->jitter_ms;
    case WSR_STEP_WRITE:
        /* The gap separates pieces: none before the first, none after the
         * last. */
        pieces = wsr_step_pieces(st);
        return pieces > 1 ? (long long)st->gap_ms * (long long)(pieces - 1) : 0;
    case WSR_STEP_AWAIT:
    case WSR_STEP_ECHO:
        return st->ms;
    case WSR_STEP_ROUND_TRIPS:
        return (long long)st->ms * st->count;
    case WSR_STEP_SHUTDOWN:
    case WSR_STEP_ABORT:
    case WSR_STEP_READ:
    case WSR_STEP_TLS:
        break;
    }
    return 0;
}

/* What one step usually takes: its fixed waits, half its jitter, and no
 * await or echo time (a client normally answers at once). */
static long long step_expected_ms(const wsr_step *st)
{
    switch (st->kind) {
    case WSR_STEP_DELAY:
        return (long long)st->ms + st->jitter_ms / 2;
    case WSR_STEP_WRITE:
        return step_budget_ms(st);
    default:
        return 0;
    }
}

long long wsr_steps_expected_ms(const wsr_scenario *sc)
{
    long long total = 0;
    for (size_t i = 0; i < sc->n_steps; i++)
        total += step_expected_ms(&sc->steps[i]);
    return total;
}

long long wsr_steps_budget_ms(const wsr_scenario *sc)
{
    long long total = 0;
    for (size_t i = 0; i < sc->n_steps; i++)
        total += step_budget_ms(&sc->steps[i]);
    return total;
}

/* {"steps": S, "client": C, "deadline": D, "expected": E} for complete
 * knobs. E, a job's usual length, orders jobs (longest first) and balances
 * shards; S, C and D bound it. */
static json_t *budget_object(const wsr_scenario *sc, json_t *knobs)
{
    long long steps = wsr_steps_budget_ms(sc);
    long long delay =
        json_integer_value(json_object_get(knobs, "recv_delay_ms"));
    long long client =
        delay + json_integer_value(json_object_get(knobs, "recv_timeout_ms"));
    long long expected = wsr_steps_expected_ms(sc);
    return json_pack("{sI sI sI sI}", "steps", (json_int_t)steps, "client",
                     (json_int_t)client, "deadline",
                     (json_int_t)(steps + client + WSR_BUDGET_SLACK_MS),
                     "expected",
                     (json_int_t)(expected > delay ? expected : delay));
}

/* {"bytes": B, "items": I}: what the write groups put on the wire, and in
 * how many items (frames, raw pieces, heads): what a run's variants
 * (?vary=, steps.h) cut into pieces, so the harness can weigh them. Items
 * deflated at the write count at most what they can become. */
static json_t *wire_object(const wsr_scenario *sc)
{
    size_t items = 0;
    for (size_t i = 0; i < sc->n_steps; i++) {
        const wsr_step *st = &sc->steps[i];
        for (size_t k = 0; st->kind == WSR_STEP_WRITE && k < st->n_items; k++)
            items += st->items[k].kind == WSR_ITEM_DEFLATE
                         ? st->items[k].frames_bound
                         : 1;
    }
    return json_pack("{sI sI}", "bytes", (json_int_t)sc->write_bytes, "items",
                     (json_int_t)items);
}

json_t *wsr_scenario_normal(const wsr_scenario *sc)
{
    json_t *out = json_deep_copy(sc->doc);
    json_t *knobs = wsr_client_knobs(json_object_get(sc->doc, "client"));
    json_t *budget = knobs ? budget_object(sc, knobs) : NULL;
    if (!out || !budget ||
        json_object_set_new(out, "wire", wire_object(sc)) != 0 ||
        json_object_set_new(out, "file", json_string(sc->path)) != 0 ||
        json_object_set(out, "client", knobs) != 0 ||
        json_object_set(out, "budget_ms", budget) != 0) {
        json_decref(out);
        out = NULL;
    }
    json_decref(knobs);
    json_decref(budget);
    return out;
}

json_t *wsr_scenario_set_normal(const wsr_scenario_set *set)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < set->n; i++) {
        /* Families (one file expanding into many scenarios, a later issue)
         * are to be expanded here: one element per member, each with its
         * own name, knobs and budget, so the harness never expands them. */
        if (json_array_append_new(list, wsr_scenario_normal(set->v[i])) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    /* The defaults alone too: a job built by hand (a test, a tool) gets
     * complete knobs from the same table as every scenario. */
    json_t *defaults = list ? wsr_client_knobs(NULL) : NULL;
    if (!defaults) {
        json_decref(list);
        return NULL;
    }
    return json_pack("{soso}", "scenarios", list, "knob_defaults", defaults);
}
