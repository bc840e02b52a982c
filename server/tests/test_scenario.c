/*
 * test_scenario.c — the loader's normalized form (scenario_normal.h): the
 * client knobs with their defaults, and the steps' time budget, computed
 * from small scenario files written to a temporary folder.
 *
 * Budgets are checked as exact numbers: the harness turns them into job
 * deadlines, so an off-by-one piece is a real bug (a job cut short).
 */
#include "scenario.h"
#include "scenario_meta.h"
#include "scenario_normal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char tmpdir[256];

/* Writes a scenario named name (its place under root) with the given
 * steps array and extra top-level members (each with a trailing comma).
 * Returns its path (malloc'd). */
static char *write_scenario_in(const char *root, const char *name,
                               const char *extra, const char *steps)
{
    char *path = xmalloc(1024);
    snprintf(path, 1024, "%s/%s.json", root, name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fprintf(f,
            "{\"name\": \"%s\", \"summary\": \"s\", \"rfc\": [\"6455#5\"],"
            " %s \"expect\": {}, \"steps\": %s}\n",
            name, extra, steps);
    fclose(f);
    return path;
}

static char *write_scenario(const char *name, const char *extra,
                            const char *steps)
{
    return write_scenario_in(tmpdir, name, extra, steps);
}

static wsr_scenario *load(const char *name, const char *extra,
                          const char *steps)
{
    char err[1024];
    char *path = write_scenario(name, extra, steps);
    wsr_scenario *sc = wsr_scenario_load_file(path, name, err, sizeof err);
    if (!sc)
        fprintf(stderr, "%s\n", err);
    free(path);
    return sc;
}

static long long int_at(json_t *obj, const char *k1, const char *k2)
{
    json_t *j = json_object_get(obj, k1);
    return json_integer_value(k2 ? json_object_get(j, k2) : j);
}

/* ---- client knobs ------------------------------------------------------ */

static void test_default_knobs(void)
{
    current = "default knobs";
    wsr_scenario *sc =
        load("knobs/defaults", "", "[{\"shutdown\": \"write\"}]");
    CHECK(sc != NULL);
    if (!sc)
        return;
    json_t *n = wsr_scenario_normal(sc);
    json_t *want = json_loads(
        "{\"recv_delay_ms\": 0, \"recv_pace_ms\": 0, \"recv_timeout_ms\": 3000,"
        " \"max_messages\": 1000, \"echo\": false, \"send\": [],"
        " \"close_first\": null, \"subprotocols\": [],"
        " \"compression\": \"default\"}",
        0, NULL);
    CHECK(json_equal(json_object_get(n, "client"), want));
    CHECK_EQ(json_object_size(json_object_get(n, "client")), 9);
    /* The file's own members stay; the file it came from is named. */
    CHECK(strcmp(json_string_value(json_object_get(n, "summary")), "s") == 0);
    CHECK(strstr(json_string_value(json_object_get(n, "file")),
                 "knobs/defaults.json") != NULL);
    CHECK_EQ(int_at(n, "budget_ms", "steps"), 0);
    CHECK_EQ(int_at(n, "budget_ms", "client"), 3000);
    CHECK_EQ(int_at(n, "budget_ms", "deadline"), 3000 + WSR_BUDGET_SLACK_MS);
    json_decref(want);
    json_decref(n);
    wsr_scenario_del(sc);
}

/* close_first's parts are filled in too; what is given stays. */
static void test_close_first_parts(void)
{
    static const struct {
        const char *given, *want;
    } rows[] = {
        {"{}", "{\"code\": null, \"reason\": \"\", \"after_messages\": 0}"},
        {"{\"code\": 4000, \"after_ms\": 50}",
         "{\"code\": 4000, \"reason\": \"\", \"after_ms\": 50}"},
        {"{\"code\": null, \"reason\": \"x\", \"after_messages\": 2}",
         "{\"code\": null, \"reason\": \"x\", \"after_messages\": 2}"},
    };
    current = "close_first parts";
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        json_t *given = json_pack("{so}", "close_first",
                                  json_loads(rows[i].given, 0, NULL));
        json_t *knobs = wsr_client_knobs(given);
        json_t *want = json_loads(rows[i].want, 0, NULL);
        CHECK(json_equal(json_object_get(knobs, "close_first"), want));
        /* the given object is left as the file said it */
        CHECK_EQ(json_object_size(json_object_get(given, "close_first")),
                 (size_t)(i == 0   ? 0
                          : i == 1 ? 2
                                   : 3));
        json_decref(want);
        json_decref(knobs);
        json_decref(given);
    }
}

static void test_given_knobs(void)
{
    current = "given knobs";
    wsr_scenario *sc = load(
        "knobs/given",
        "\"client\": {\"recv_delay_ms\": 250, \"echo\": true,"
        " \"recv_timeout_ms\": 1500, \"send\": [{\"text\": \"hi\"}],"
        " \"close_first\": {\"code\": 1000}, \"subprotocols\": [\"chat\"]},",
        "[{\"shutdown\": \"write\"}]");
    CHECK(sc != NULL);
    if (!sc)
        return;
    json_t *n = wsr_scenario_normal(sc);
    json_t *want = json_loads(
        "{\"recv_delay_ms\": 250, \"recv_pace_ms\": 0, \"recv_timeout_ms\": 1500,"
        " \"max_messages\": 1000, \"echo\": true, \"send\": [{\"text\": \"hi\"}],"
        " \"close_first\": {\"code\": 1000, \"reason\": \"\","
        " \"after_messages\": 0}, \"subprotocols\": [\"chat\"],"
        " \"compression\": \"default\"}",
        0, NULL);
    CHECK(json_equal(json_object_get(n, "client"), want));
    CHECK_EQ(int_at(n, "budget_ms", "client"), 250 + 1500);
    CHECK_EQ(int_at(n, "budget_ms", "deadline"), 1750 + WSR_BUDGET_SLACK_MS);
    /* no steps take time: the client's read delay is the usual length */
    CHECK_EQ(int_at(n, "budget_ms", "expected"), 250);
    /* The loaded document itself is not changed by normalizing it. */
    CHECK_EQ(json_object_size(json_object_get(sc->doc, "client")), 6);
    CHECK(json_object_get(sc->doc, "budget_ms") == NULL);
    json_decref(want);
    json_decref(n);
    wsr_scenario_del(sc);
}

/* ---- step budgets ------------------------------------------------------ */

typedef struct budget_row {
    const char *comment;
    const char *steps;
    long long steps_ms;
    long long expected_ms;
} budget_row;

/* clang-format off */
static const budget_row budget_rows[] = {
    /* "abcdefghij" is a 12-byte frame; 3 pieces have 2 gaps */
    {"split and gap",
     "[{\"write\": [{\"text\": \"abcdefghij\"}], \"split\": [3, 7],"
     " \"gap_ms\": 40}]", 80, 80},
    /* a split without a gap costs nothing */
    {"split, no gap", "[{\"write\": [{\"text\": \"abc\"}], \"split\": [1]}]", 0, 0},
    /* a gap without a split: one piece, no gap */
    {"gap, no split", "[{\"write\": [{\"text\": \"abc\"}], \"gap_ms\": 70}]", 0, 0},
    /* "hello": 2 + 5 = 7 bytes, 6 gaps */
    {"every byte", "[{\"write\": [{\"text\": \"hello\"}], \"split\": "
     "\"every_byte\", \"gap_ms\": 10}]", 60, 60},
    /* 4-byte text "hi" + 4-byte close 1000: 8 bytes, 7 gaps */
    {"every byte, two items",
     "[{\"write\": [{\"text\": \"hi\"}, {\"close\": 1000}], \"split\": "
     "\"every_byte\", \"gap_ms\": 5}]", 35, 35},
    /* a masked frame carries 4 more bytes: 2 + 4 + 1 = 7, 6 gaps */
    {"every byte, masked", "[{\"write\": [{\"text\": \"a\", \"mask\": true}],"
     " \"split\": \"every_byte\", \"gap_ms\": 3}]", 18, 18},
    /* count expands the group: 3 frames of 3 bytes, 9 bytes, 8 gaps */
    {"every byte, count", "[{\"write\": [{\"text\": \"{i}\", \"count\": 3}],"
     " \"split\": \"every_byte\", \"gap_ms\": 1}]", 8, 8},
    /* "hello world": 2 + 11 = 13 bytes in pieces of 5: 3 pieces, 2 gaps */
    {"every 5 bytes", "[{\"write\": [{\"text\": \"hello world\"}], \"split\": "
     "{\"every\": 5}, \"gap_ms\": 10}]", 20, 20},
    /* a piece size that divides the group: 12 bytes every 4, 2 gaps */
    {"every 4 of 12", "[{\"write\": [{\"binary\": \"abcdefghij\"}],"
     " \"split\": {\"every\": 4}, \"gap_ms\": 7}]", 14, 14},
    /* round trips: each may wait its timeout; expected: nothing */
    {"round trips", "[{\"round_trips\": {\"count\": 4, \"message\": "
     "{\"text\": \"m{i}\"}, \"timeout_ms\": 250}}]", 1000, 0},
    {"delay", "[{\"delay_ms\": 100}]", 100, 100},
    /* expected: half the jitter */
    {"delay with jitter", "[{\"delay_ms\": 100, \"jitter_ms\": 50}]", 150, 125},
    /* expected: an await or echo counts nothing */
    {"await, default timeout", "[{\"await\": \"close\"}]", 5000, 0},
    {"await, given timeout", "[{\"await\": \"messages\", \"count\": 3,"
     " \"timeout_ms\": 1200}]", 1200, 0},
    {"echo, default timeout", "[{\"echo\": {}}]", 5000, 0},
    {"echo, given timeout", "[{\"echo\": {\"timeout_ms\": 700}}]", 700, 0},
    {"steps that take no time", "[{\"read\": \"pause\"}, {\"read\": \"resume\"},"
     " {\"shutdown\": \"tcp\"}, {\"abort\": \"rst\"}]", 0, 0},
    /* the sum over a whole program */
    {"program",
     "[{\"delay_ms\": 20, \"jitter_ms\": 5},"
     " {\"write\": [{\"text\": \"abcdefghij\"}], \"split\": [3, 7],"
     " \"gap_ms\": 40}, {\"await\": \"message\", \"timeout_ms\": 300},"
     " {\"echo\": {}}, {\"shutdown\": \"write\"}]",
     25 + 80 + 300 + 5000, 22 + 80},
};
/* clang-format on */

static void test_budget_rows(void)
{
    for (size_t i = 0; i < sizeof budget_rows / sizeof *budget_rows; i++) {
        const budget_row *row = &budget_rows[i];
        current = row->comment;
        wsr_scenario *sc = load("budget/row", "", row->steps);
        CHECK(sc != NULL);
        if (!sc)
            continue;
        CHECK_EQ(wsr_steps_budget_ms(sc), row->steps_ms);
        json_t *n = wsr_scenario_normal(sc);
        CHECK_EQ(int_at(n, "budget_ms", "steps"), row->steps_ms);
        CHECK_EQ(int_at(n, "budget_ms", "client"), 3000);
        CHECK_EQ(int_at(n, "budget_ms", "deadline"),
                 row->steps_ms + 3000 + WSR_BUDGET_SLACK_MS);
        CHECK_EQ(int_at(n, "budget_ms", "expected"), row->expected_ms);
        json_decref(n);
        wsr_scenario_del(sc);
    }
}

/* A scripted 101 split every byte: the accept key's slot counts as the 28
 * bytes it becomes on the wire, not as the "{accept}" placeholder. */
static void test_budget_handshake(void)
{
    current = "every byte, scripted 101";
    const char *head = "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: 0123456789012345678901234567\r\n"
                       "\r\n";
    wsr_scenario *sc = load("budget/handshake", "\"handshake\": \"manual\",",
                            "[{\"write\": [{\"handshake\": \"accept\"}],"
                            " \"split\": \"every_byte\", \"gap_ms\": 2}]");
    CHECK(sc != NULL);
    if (!sc)
        return;
    CHECK_EQ(wsr_step_group_bytes(&sc->steps[0]), strlen(head));
    CHECK_EQ(wsr_step_pieces(&sc->steps[0]), strlen(head));
    CHECK_EQ(wsr_steps_budget_ms(sc), 2 * ((long long)strlen(head) - 1));
    wsr_scenario_del(sc);
}

/* ---- run_alone ------------------------------------------------------------ */

/* "run_alone" is a boolean the harness reads; anything else is refused with
 * the key's name. */
static void test_run_alone(void)
{
    current = "run_alone";
    const char *steps = "[{\"delay_ms\": 1}]";
    wsr_scenario *sc = load("alone/yes", "\"run_alone\": true,", steps);
    CHECK(sc != NULL);
    json_t *n = sc ? wsr_scenario_normal(sc) : NULL;
    CHECK(n && json_is_true(json_object_get(n, "run_alone")));
    json_decref(n);
    wsr_scenario_del(sc);
    char err[1024];
    char *path = write_scenario("alone/no", "\"run_alone\": 1,", steps);
    sc = wsr_scenario_load_file(path, "alone/no", err, sizeof err);
    CHECK(sc == NULL);
    CHECK(strstr(err, "run_alone") && strstr(err, "expected a boolean"));
    free(path);
}

/* "echo_mode": the expectations echo mode judges, or why it cannot; the
 * loader passes it on untouched and refuses every other shape. */
static void test_echo_mode(void)
{
    current = "echo_mode";
    const char *steps = "[{\"delay_ms\": 1}]";
    static const char *const good[] = {
        "\"echo_mode\": {\"no\": \"needs the application's timing\"},",
        "\"echo_mode\": {\"expect\": {\"upgraded\": false}},",
        "\"echo_mode\": {\"expect\": {\"client_messages\": [{\"text\": "
        "\"a\"}], \"client_close\": {\"code\": [1000, 1002]}, "
        "\"close_clean\": true}},",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        wsr_scenario *sc = load("echo/good", good[i], steps);
        CHECK(sc != NULL);
        json_t *n = sc ? wsr_scenario_normal(sc) : NULL;
        CHECK(n && json_is_object(json_object_get(n, "echo_mode")));
        json_decref(n);
        wsr_scenario_del(sc);
    }
    static const struct {
        const char *extra, *error;
    } bad[] = {
        {"\"echo_mode\": true,", "echo_mode: expected an object, got boolean"},
        {"\"echo_mode\": {},", "echo_mode: expected exactly one of 'expect'"},
        {"\"echo_mode\": {\"no\": \"x\", \"expect\": {\"upgraded\": true}},",
         "echo_mode: expected exactly one of 'expect'"},
        {"\"echo_mode\": {\"no\": \"\"},",
         "echo_mode.no: the reason must not be empty"},
        {"\"echo_mode\": {\"why\": \"x\"},", "echo_mode.why: unknown key"},
        {"\"echo_mode\": {\"expect\": {}},",
         "echo_mode.expect: an empty expectation judges nothing"},
        {"\"echo_mode\": {\"expect\": {\"messages\": []}},",
         "echo_mode.expect.messages: unknown key"},
        {"\"echo_mode\": {\"expect\": {\"close\": {\"code\": 1000}}},",
         "echo_mode.expect.close: unknown key"},
        {"\"echo_mode\": {\"expect\": {\"upgraded\": 1}},",
         "echo_mode.expect.upgraded: expected a boolean"},
        {"\"echo_mode\": {\"expect\": {\"client_close\": {\"code\": \"x\"}}},",
         "echo_mode.expect.client_close.code: expected an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[1024] = "";
        char *path = write_scenario("echo/bad", bad[i].extra, steps);
        wsr_scenario *sc =
            wsr_scenario_load_file(path, "echo/bad", err, sizeof err);
        CHECK(sc == NULL);
        if (!strstr(err, bad[i].error))
            fprintf(stderr, "case %zu:\n  got  %s\n  want %s\n", i, err,
                    bad[i].error);
        CHECK(strstr(err, bad[i].error) != NULL);
        wsr_scenario_del(sc);
        free(path);
    }
}

/* ---- scripted responses ----------------------------------------------- */

/* A scripted response takes its phrase from the one status table shared
 * with the server's own error responses; codes it lacks get "Status". */
static void test_scripted_status_line(void)
{
    static const struct {
        int status;
        const char *line;
    } rows[] = {
        {101, "HTTP/1.1 101 Switching Protocols\r\n"},
        {302, "HTTP/1.1 302 Found\r\n"},
        {405, "HTTP/1.1 405 Method Not Allowed\r\n"}, /* once "Status" */
        {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
        {418, "HTTP/1.1 418 Status\r\n"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        char steps[128], row[32];
        snprintf(row, sizeof row, "scripted %d", rows[i].status);
        current = row;
        snprintf(steps, sizeof steps,
                 "[{\"write\": [{\"handshake\": "
                 "{\"status\": %d}}]}]",
                 rows[i].status);
        wsr_scenario *sc =
            load("response/status", "\"handshake\": \"manual\",", steps);
        CHECK(sc != NULL);
        if (!sc)
            continue;
        const wsr_item *it = &sc->steps[0].items[0];
        CHECK_EQ(it->http_status, rows[i].status);
        CHECK(it->len >= strlen(rows[i].line) &&
              memcmp(it->data, rows[i].line, strlen(rows[i].line)) == 0);
        wsr_scenario_del(sc);
    }
}

/* ---- sets -------------------------------------------------------------- */

static void test_set_normal(void)
{
    current = "set";
    char dir[300], err[1024];
    snprintf(dir, sizeof dir, "%.250s/set", tmpdir);
    mkdir(dir, 0700);
    free(write_scenario_in(dir, "b/second", "", "[{\"delay_ms\": 1}]"));
    free(write_scenario_in(dir, "a/first", "", "[{\"delay_ms\": 2}]"));
    wsr_scenario_set set;
    CHECK_EQ(wsr_scenario_set_load(&set, dir, err, sizeof err), 0);
    json_t *n = wsr_scenario_set_normal(&set);
    json_t *list = json_object_get(n, "scenarios");
    CHECK_EQ(json_object_size(n), 2); /* scenarios, knob_defaults */
    CHECK_EQ(json_array_size(list), 2);
    CHECK_EQ(int_at(n, "knob_defaults", "recv_timeout_ms"), 3000);
    const char *first =
        json_string_value(json_object_get(json_array_get(list, 0), "name"));
    CHECK(first && strcmp(first, "a/first") == 0);
    CHECK_EQ(int_at(json_array_get(list, 1), "budget_ms", "steps"), 1);
    json_decref(n);
    wsr_scenario_set_free(&set);
}

/* Two files claiming one name: seal refuses the set, naming both files. */
static void test_set_duplicate(void)
{
    current = "duplicate names";
    char err[1024];
    char *path = write_scenario("dup/one", "", "[{\"delay_ms\": 1}]");
    wsr_scenario_set set = {0};
    for (int i = 0; i < 2; i++) {
        wsr_scenario *sc = wsr_scenario_load_file(path, NULL, err, sizeof err);
        CHECK(sc != NULL && wsr_scenario_set_add(&set, sc) == 0);
    }
    CHECK_EQ(wsr_scenario_set_seal(&set, err, sizeof err), -1);
    CHECK(strstr(err, "duplicate scenario name 'dup/one'") != NULL);
    CHECK_EQ(set.n, 0);
    free(path);

    current = "duplicate names, two files";
    char *a = write_scenario_in(tmpdir, "dup2/a", "", "[{\"delay_ms\": 1}]");
    char *b = write_scenario_in(tmpdir, "dup2/b", "", "[{\"delay_ms\": 1}]");
    /* b claims a's name, as a copied file would */
    FILE *f = fopen(b, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("{\"name\": \"dup2/a\", \"summary\": \"s\", \"rfc\": "
              "[\"6455#5\"], \"expect\": {}, \"steps\": [{\"delay_ms\": 1}]}",
              f);
        fclose(f);
    }
    const char *files[] = {a, b};
    for (int i = 0; i < 2; i++) {
        wsr_scenario *sc =
            wsr_scenario_load_file(files[i], NULL, err, sizeof err);
        CHECK(sc != NULL && wsr_scenario_set_add(&set, sc) == 0);
    }
    CHECK_EQ(wsr_scenario_set_seal(&set, err, sizeof err), -1);
    CHECK(strstr(err, a) != NULL && strstr(err, b) != NULL);
    free(a);
    free(b);
}

/* A name is a place under a scenarios folder: path-like names are refused
 * even when no place is given (--check FILE...). */
static void test_name_syntax(void)
{
    static const char *const bad[] = {
        "../x", "a/../b", "a/./b", ".hidden", "a/.b", "/abs",  "a//b",
        "a/",   "",       "-rf",   "a b",     "a?b",  "a%2fb", "a\\b",
    };
    char err[1024];
    char *path = write_scenario("names/ok", "", "[{\"delay_ms\": 1}]");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        current = bad[i];
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (!f)
            continue;
        fprintf(f,
                "{\"name\": \"%s\", \"summary\": \"s\", \"rfc\": "
                "[\"6455#5\"], \"expect\": {}, \"steps\": "
                "[{\"delay_ms\": 1}]}",
                bad[i]);
        fclose(f);
        wsr_scenario *sc = wsr_scenario_load_file(path, NULL, err, sizeof err);
        CHECK(sc == NULL);
        CHECK(strstr(err, path) != NULL && strstr(err, "name") != NULL);
        wsr_scenario_del(sc);
    }
    current = "good names";
    free(path);
    path = write_scenario("names/a-b_c.d", "", "[{\"delay_ms\": 1}]");
    wsr_scenario *sc = wsr_scenario_load_file(path, NULL, err, sizeof err);
    CHECK(sc != NULL);
    wsr_scenario_del(sc);
    free(path);
}

/* A FIFO would block the loader forever, a directory is not JSON: anything
 * but a regular file is refused before it is read, saying what it is. */
static void test_not_regular(void)
{
    char path[400], err[1024];
    current = "fifo";
    snprintf(path, sizeof path, "%.250s/pipe.json", tmpdir);
    CHECK_EQ(mkfifo(path, 0600), 0);
    wsr_scenario *sc = wsr_scenario_load_file(path, NULL, err, sizeof err);
    CHECK(sc == NULL);
    CHECK(strstr(err, path) != NULL && strstr(err, "a FIFO") != NULL);
    current = "directory";
    snprintf(path, sizeof path, "%.250s/dir.json", tmpdir);
    CHECK_EQ(mkdir(path, 0700), 0);
    sc = wsr_scenario_load_file(path, NULL, err, sizeof err);
    CHECK(sc == NULL);
    CHECK(strstr(err, path) != NULL && strstr(err, "a directory") != NULL);
    current = "missing";
    snprintf(path, sizeof path, "%.250s/missing.json", tmpdir);
    sc = wsr_scenario_load_file(path, NULL, err, sizeof err);
    CHECK(sc == NULL);
    CHECK(strstr(err, path) != NULL);

    /* in a folder, a FIFO named *.json is refused, not skipped */
    current = "fifo in a folder";
    char dir[300];
    snprintf(dir, sizeof dir, "%.250s/withfifo", tmpdir);
    mkdir(dir, 0700);
    free(write_scenario_in(dir, "a/first", "", "[{\"delay_ms\": 2}]"));
    snprintf(path, sizeof path, "%s/a/pipe.json", dir);
    CHECK_EQ(mkfifo(path, 0600), 0);
    wsr_scenario_set set;
    CHECK_EQ(wsr_scenario_set_load(&set, dir, err, sizeof err), -1);
    CHECK(strstr(err, "pipe.json") != NULL && strstr(err, "a FIFO") != NULL);
    CHECK_EQ(set.n, 0);

    /* a *.json that is a dangling symlink is refused as one, like a FIFO
     * (it used to be skipped without a word: a scenario silently gone);
     * a dangling symlink not named *.json is skipped like any other file */
    current = "broken symlink in a folder";
    snprintf(dir, sizeof dir, "%.250s/withlink", tmpdir);
    mkdir(dir, 0700);
    free(write_scenario_in(dir, "a/first", "", "[{\"delay_ms\": 2}]"));
    snprintf(path, sizeof path, "%s/a/notes.txt", dir);
    CHECK_EQ(symlink("nowhere.txt", path), 0);
    CHECK_EQ(wsr_scenario_set_load(&set, dir, err, sizeof err), 0);
    CHECK_EQ(set.n, 1);
    wsr_scenario_set_free(&set);
    snprintf(path, sizeof path, "%s/a/gone.json", dir);
    CHECK_EQ(symlink("../elsewhere/gone.json", path), 0);
    CHECK_EQ(wsr_scenario_set_load(&set, dir, err, sizeof err), -1);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, "broken symlink (to ../elsewhere/gone.json") != NULL);
    CHECK_EQ(set.n, 0);
    current = "broken symlink as a file";
    CHECK(wsr_scenario_load_file(path, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, path) != NULL && strstr(err, "broken symlink") != NULL);
}

/* A folder with no scenario is refused, naming the folder (the server would
 * serve nothing); sealing an empty set is no qsort(NULL, 0). */
static void test_empty_folder(void)
{
    current = "empty folder";
    char dir[300], err[1024];
    snprintf(dir, sizeof dir, "%.250s/empty", tmpdir);
    mkdir(dir, 0700);
    wsr_scenario_set set;
    CHECK_EQ(wsr_scenario_set_load(&set, dir, err, sizeof err), -1);
    CHECK(strstr(err, dir) != NULL && strstr(err, "no scenario") != NULL);
    CHECK_EQ(set.n, 0);
    wsr_scenario_set empty = {0};
    CHECK_EQ(wsr_scenario_set_seal(&empty, err, sizeof err), 0);
}

/* ---- size limits (issue 12 D1, D2) ------------------------------------ */

/* The loader weighs each item from its JSON before building it; what it
 * weighed must be exactly what it built: templates whose {i} grows from one
 * digit to five, masks, forced length forms, raw bytes, close frames and a
 * scripted handshake. */
static void test_weighed_is_built(void)
{
    current = "weighed bytes are the built bytes";
    wsr_scenario *sc =
        load("limits/exact", "",
             "[{\"write\": [{\"handshake\": {\"status\": 101}},"
             " {\"text\": \"a{i}b{i}\", \"count\": 12345, \"mask\": true},"
             " {\"binary\": \"\", \"pattern\": \"xyz\", \"size\": 70000},"
             " {\"ping\": \"\", \"hex\": \"00 01 02\", \"length_form\": 64},"
             " {\"raw\": \"0102\"}, {\"raw_text\": \"hello\"}]},"
             " {\"write\": [{\"text\": \"{i}\", \"count\": 100000},"
             " {\"close\": 1000, \"reason\": \"done\"}, {\"close\": null}]}]");
    CHECK(sc != NULL);
    if (!sc)
        return;
    size_t built = 0;
    for (size_t i = 0; i < sc->n_steps; i++)
        built += wsr_step_group_bytes(&sc->steps[i]);
    CHECK_EQ(sc->write_bytes, built);
    wsr_scenario_del(sc);
}

/* Compressed items: deflated at load time by one stream, in order (RFC
 * 7692 7.2.3.2's second "Hello" refers back), RSV1 on the first frame,
 * fragments, BFINAL, a kept tail, an empty message; weighed as built. */
static void test_compressed_items(void)
{
    static const struct {
        uint8_t opcode, rsv;
        bool fin;
        const char *hex;
    } want[] = {
        {1, 4, true, "f248cdc9c90700"},
        {1, 4, true, "f200110000"},
        /* a third "Hello", 5 bytes back, in fragments of 3 */
        {2, 4, false, "021300"},
        {0, 0, true, "00"},
        {1, 4, true, "031300"}, /* BFINAL; the stream restarts */
        {1, 4, true, "f248cdc9c90700 0000ffff"},
        {1, 4, true, "00"},
        {1, 0, true, "f200110000"}, /* rsv as given */
    };
    current = "compressed items";
    wsr_scenario *sc = load(
        "deflate/items", "\"deflate\": {\"server_max_window_bits\": 15},",
        "[{\"write\": [{\"text\": \"Hello\", \"compress\": true, \"count\": 2},"
        " {\"binary\": \"Hello\", \"compress\": true, \"fragment_size\": 3,"
        " \"deflate_final\": false},"
        " {\"text\": \"Hello\", \"compress\": true, \"deflate_final\": true},"
        " {\"text\": \"Hello\", \"compress\": true, \"deflate_tail\": true},"
        " {\"text\": \"\", \"compress\": true},"
        " {\"text\": \"Hello\", \"compress\": true, \"rsv\": 0}]}]");
    CHECK(sc != NULL);
    if (!sc)
        return;
    CHECK_EQ(sc->deflate, WSR_DEFLATE_LITERAL);
    CHECK(sc->deflater == NULL); /* the stream is for loading only */
    const wsr_step *st = &sc->steps[0];
    CHECK_EQ(st->n_items, sizeof want / sizeof *want);
    for (size_t i = 0; i < st->n_items && i < sizeof want / sizeof *want; i++) {
        const wsr_item *it = &st->items[i];
        uint8_t bytes[32];
        size_t n = 0;
        for (const char *h = want[i].hex; *h; h++)
            if (*h != ' ') {
                unsigned v;
                sscanf(h, "%2x", &v);
                bytes[n++] = (uint8_t)v;
                h++;
            }
        CHECK_EQ(it->opcode, want[i].opcode);
        CHECK_EQ(it->rsv, want[i].rsv);
        CHECK_EQ(it->fin, want[i].fin);
        CHECK_EQ(it->len, n);
        CHECK(it->len == n && memcmp(it->data, bytes, n) == 0);
    }
    CHECK_EQ(sc->write_bytes, wsr_step_group_bytes(st));
    wsr_scenario_del(sc);
}

/* The error a scenario with steps gets when its compressed items are
 * deflated at load or left to the write ("" if it loads), and whether they
 * were left to the write. */
static void load_when(enum wsr_deflate_when when, const char *steps, char *err,
                      size_t errlen, bool *at_write)
{
    char *file =
        write_scenario("deflate/when", "\"deflate\": \"accept\",", steps);
    wsr_scenario_deflate_when(when);
    err[0] = '\0';
    wsr_scenario *sc =
        wsr_scenario_load_file(file, "deflate/when", err, errlen);
    wsr_scenario_deflate_when(WSR_DEFLATE_WHEN_AUTO);
    *at_write = sc && sc->deflate_at_write;
    if (sc)
        err[0] = '\0';
    wsr_scenario_del(sc);
    free(file);
}

/* Checks that need the compressed sizes (a length form, split offsets,
 * fragments by the hundred thousand) are made at load whatever the
 * choice, with the same words: the loader deflates such a scenario. */
static void test_deflate_when_sizes_needed(void)
{
    static const struct {
        const char *steps;
        bool valid;
    } rows[] = {
        /* 150 bytes that do not compress do not fit the 7-bit form
         * (the hex is filled in below); 15 bytes do */
        {NULL, false},
        {"[{\"write\": [{\"binary\": \"\", \"pattern\": \"abc\", "
         "\"size\": 15, \"compress\": true, \"length_form\": 7}]}]",
         true},
        /* "Hello" compressed is 7 bytes: a 9-byte group */
        {"[{\"write\": [{\"text\": \"Hello\", \"compress\": true}], "
         "\"split\": [6]}]",
         true},
        {"[{\"write\": [{\"text\": \"Hello\", \"compress\": true}], "
         "\"split\": [9]}]",
         false},
        /* 1 MiB of a pattern in 1-byte fragments: a few thousand after
         * compression, too many by the bound */
        {"[{\"write\": [{\"text\": \"\", \"pattern\": \"ab\", "
         "\"size\": 1048576, \"compress\": true, \"fragment_size\": 1}]}]",
         true},
    };
    char noisy[512];
    int at = snprintf(noisy, sizeof noisy,
                      "[{\"write\": [{\"binary\": \"\", \"hex\": \"");
    uint32_t x = 7;
    for (int k = 0; k < 150; k++) {
        x = x * 1664525u + 1013904223u;
        at += snprintf(noisy + at, sizeof noisy - at, "%02x", x >> 24);
    }
    snprintf(noisy + at, sizeof noisy - at,
             "\", \"compress\": true, \"length_form\": 7}]}]");
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        char name[64], at_load[1024], at_write[1024];
        const char *steps = rows[i].steps ? rows[i].steps : noisy;
        bool deferred_load, deferred_write;
        snprintf(name, sizeof name, "sizes needed, row %zu", i);
        current = name;
        load_when(WSR_DEFLATE_WHEN_LOAD, steps, at_load, sizeof at_load,
                  &deferred_load);
        load_when(WSR_DEFLATE_WHEN_WRITE, steps, at_write, sizeof at_write,
                  &deferred_write);
        CHECK(strcmp(at_load, at_write) == 0);
        CHECK_EQ(at_load[0] == '\0', rows[i].valid);
        if (strcmp(at_load, at_write) != 0 ||
            (at_load[0] == '\0') != rows[i].valid)
            fprintf(stderr, "  at load: %s\n  at the write: %s\n", at_load,
                    at_write);
        CHECK(!deferred_load && !deferred_write);
    }
    /* Without such a check the items are left to the write, and their
     * frames are the ones test_compressed_items expects of them. */
    current = "left to the write";
    char err[1024];
    bool deferred;
    load_when(WSR_DEFLATE_WHEN_WRITE,
              "[{\"write\": [{\"text\": \"Hello\", \"compress\": true, "
              "\"count\": 2}]}]",
              err, sizeof err, &deferred);
    CHECK(deferred);
    CHECK(err[0] == '\0');
    /* auto: a small scenario is deflated at load */
    load_when(WSR_DEFLATE_WHEN_AUTO,
              "[{\"write\": [{\"text\": \"Hello\", \"compress\": true, "
              "\"count\": 2}]}]",
              err, sizeof err, &deferred);
    CHECK(!deferred);
}

/* Loads steps, which must be refused with an error naming path and limit. */
static void check_refused(const char *steps, const char *path,
                          const char *limit)
{
    char err[1024];
    char *file = write_scenario("limits/refused", "", steps);
    wsr_scenario *sc =
        wsr_scenario_load_file(file, "limits/refused", err, sizeof err);
    CHECK(sc == NULL);
    wsr_scenario_del(sc);
    if (!strstr(err, path) || !strstr(err, limit) || !strstr(err, file))
        fprintf(stderr, "unexpected error: %s\n", err);
    CHECK(strstr(err, file) != NULL);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, limit) != NULL);
    free(file);
}

static void test_size_limits(void)
{
    current = "size limits";
    /* A group of exactly 64 MiB (a 10-byte header and its payload) loads;
     * one byte more is refused at the pattern's size. */
    wsr_scenario *sc = load("limits/exact-group", "",
                            "[{\"write\": [{\"binary\": \"\", \"pattern\": "
                            "\"ab\", \"size\": 67108854}]}]");
    CHECK(sc != NULL);
    if (sc)
        CHECK_EQ(sc->write_bytes, WSR_MAX_GROUP_BYTES);
    wsr_scenario_del(sc);
    check_refused("[{\"write\": [{\"binary\": \"\", \"pattern\": \"ab\", "
                  "\"size\": 67108855}]}]",
                  ": steps[0].write[0].size: the item expands to 67108865 "
                  "bytes",
                  "the limit for one write group is 67108864 bytes (64 MiB)");
    /* The 156-byte file that asked for 6 GB: 100 copies of 60 MiB. */
    check_refused("[{\"write\": [{\"binary\": \"\", \"pattern\": \"ab\", "
                  "\"size\": 62914560, \"count\": 100}]}]",
                  ": steps[0].write[0].count: the item expands to 6291457000 "
                  "bytes",
                  "the limit for one write group is 67108864 bytes (64 MiB)");
    /* The largest count of the largest pattern: no total wraps. */
    check_refused("[{\"write\": [{\"text\": \"\", \"pattern\": \"ab\", "
                  "\"size\": 67108864, \"count\": 100000}]}]",
                  ": steps[0].write[0].count: the item expands to "
                  "6710887400000 bytes",
                  "(64 MiB)");
    /* A template's copies, each weighed with its own index: 1000 bytes and
     * 1 to 6 digits of payload, and a 4-byte header, 100000 times. */
    char templ[1200] = "[{\"write\": [{\"text\": \"";
    size_t at = strlen(templ);
    memset(templ + at, 'a', 1000);
    templ[at + 1000] = '\0';
    strcat(templ, "{i}\", \"count\": 100000}]}]");
    check_refused(templ,
                  ": steps[0].write[0].count: the item expands to 100888895 "
                  "bytes",
                  "(64 MiB)");
    /* Groups each under 64 MiB, together over 256 MiB: the fifth is
     * refused before it is built. */
    char steps[1024] = "[";
    for (int i = 0; i < 6; i++)
        strcat(steps, i ? ", {\"write\": [{\"binary\": \"\", \"pattern\": "
                          "\"ab\", \"size\": 62914560}]}"
                        : "{\"write\": [{\"binary\": \"\", \"pattern\": "
                          "\"ab\", \"size\": 62914560}]}");
    strcat(steps, "]");
    check_refused(steps,
                  ": steps[4].write[0].size: the item expands to "
                  "62914570 bytes, bringing the scenario's write "
                  "groups to 314572850 bytes",
                  "the limit for all of a scenario's write groups is "
                  "268435456 bytes (256 MiB)");
}

/* ---- step options: split every N, round_trips, fail_fast_mark ---------- */

static void test_step_options(void)
{
    current = "step options";
    wsr_scenario *sc =
        load("opts/trips", "",
             "[{\"write\": [{\"text\": \"abcdefghij\"}], \"split\": "
             "{\"every\": 3}},"
             " {\"round_trips\": {\"count\": 3, \"message\": {\"text\": "
             "\"m{i}\"}, \"timeout_ms\": 900}},"
             " {\"round_trips\": {\"count\": 2, \"message\": {\"binary\": \"\","
             " \"hex\": \"00 ff\"}}}]");
    CHECK(sc != NULL);
    if (sc) {
        CHECK_EQ(sc->steps[0].split_every, 3);
        CHECK_EQ(wsr_step_pieces(&sc->steps[0]), 4); /* 12 bytes */
        const wsr_step *rt = &sc->steps[1];
        CHECK(rt->kind == WSR_STEP_ROUND_TRIPS);
        CHECK_EQ(rt->count, 3);
        CHECK_EQ(rt->ms, 900);
        CHECK_EQ(rt->n_items, 3);
        CHECK(rt->n_items == 3 && rt->items[2].len == 2 &&
              memcmp(rt->items[2].data, "m3", 2) == 0 &&
              rt->items[2].opcode == 1);
        CHECK_EQ(sc->steps[2].ms, 5000); /* the default timeout */
        CHECK(sc->steps[2].n_items == 2 && sc->steps[2].items[1].opcode == 2);
        CHECK_EQ(wsr_step_pieces(rt), 0);
    }
    wsr_scenario_del(sc);
    check_refused("[{\"write\": [{\"text\": \"a\"}], \"split\": "
                  "{\"every\": 0}}]",
                  ": steps[0].split.every:", "");
    check_refused("[{\"write\": [{\"text\": \"a\"}], \"split\": "
                  "{\"each\": 2}}]",
                  ": steps[0].split", "each");
    check_refused("[{\"write\": [{\"binary\": \"\", \"pattern\": \"a\","
                  " \"size\": 200000}], \"split\": {\"every\": 2}}]",
                  ": steps[0].split:", "at most 65536 pieces");
    check_refused(
        "[{\"round_trips\": {\"count\": 2, \"message\": "
        "{\"text\": \"m\", \"count\": 2}}}]",
        ": steps[0].round_trips.message.count:", "the count is the step's");
    check_refused(
        "[{\"round_trips\": {\"count\": 2, \"message\": "
        "{\"ping\": \"m\"}}}]",
        ": steps[0].round_trips.message:", "expected a text or binary item");
    check_refused("[{\"round_trips\": {\"message\": {\"text\": \"m\"}}}]",
                  ": steps[0].round_trips.count:", "missing");
    check_refused("[{\"round_trips\": {\"count\": 0, \"message\": "
                  "{\"text\": \"m\"}}}]",
                  ": steps[0].round_trips.count:", "");
    /* A mark with no fail_fast expectation means nothing: refused. */
    check_refused("[{\"write\": [{\"text\": \"a\"}], "
                  "\"fail_fast_mark\": true}]",
                  ": expect.fail_fast:", "fail_fast_mark");
    check_refused("[{\"write\": [{\"text\": \"a\"}], "
                  "\"fail_fast_mark\": 1}]",
                  ": steps[0].fail_fast_mark:", "expected a boolean");
}

/* ---- loading from memory ---------------------------------------------- */

/* wsr_scenario_load_buffer (the fuzz target's way in) gives what
 * load_file gives for the same bytes, scenario or error. */
static void test_load_buffer(void)
{
    static const char text[] =
        "{\"name\": \"mem/x\", \"summary\": \"s\", \"rfc\": [\"6455#5\"],"
        " \"expect\": {}, \"steps\": [{\"write\": [{\"text\": \"hi\"}]},"
        " {\"await\": \"close\"}]}";
    char err[512] = "";
    wsr_scenario *sc = wsr_scenario_load_buffer(text, strlen(text), "mem.json",
                                                "mem/x", err, sizeof err);
    CHECK(sc != NULL);
    if (sc) {
        CHECK_EQ(sc->n_steps, 2);
        CHECK(strcmp(sc->path, "mem.json") == 0);
        wsr_scenario_del(sc);
    }
    /* only the first len bytes count: a cut object is invalid JSON */
    sc = wsr_scenario_load_buffer(text, 20, "mem.json", NULL, err, sizeof err);
    CHECK(sc == NULL);
    CHECK(strncmp(err, "mem.json:1:", 11) == 0 && strstr(err, "invalid JSON"));
    sc = wsr_scenario_load_buffer(text, strlen(text), "mem.json", "mem/y", err,
                                  sizeof err);
    CHECK(sc == NULL);
    CHECK(strncmp(err, "mem.json: ", 10) == 0);
}

/* ---- families ---------------------------------------------------------- */

#define FAMILY_HEAD                                                            \
    "{\"name\": \"fam/codes\", \"summary\": \"code {code}: {id} {why}\","      \
    " \"rfc\": [\"6455#7.4.1\"], \"tags\": [\"close\"],"

/* The family in text (a template and its members), loaded from memory
 * into a fresh set; 0 or -1 as the loader says. */
static int load_family(const char *text, wsr_scenario_set *set, char *err,
                       size_t errlen)
{
    set->v = NULL;
    set->n = 0;
    return wsr_scenario_load_buffer_into(
        set, text, strlen(text), "fam/codes.json", "fam/codes", err, errlen);
}

/* steps[0].write[1].close of a loaded member's document. */
static json_t *doc_at(const wsr_scenario *sc)
{
    json_t *steps = json_object_get(sc->doc, "steps");
    return json_object_get(
        json_array_get(json_object_get(json_array_get(steps, 0), "write"), 1),
        "close");
}

/* One member per entry, named FILE's name + '/' + id, in the members'
 * order; each member's parameters replace whole strings (any JSON) and
 * parts of strings, "{i}" stays the write items' own, and a member's own
 * fields replace the template's. */
static void test_family_expands(void)
{
    current = "family expansion";
    static const char text[] = FAMILY_HEAD
        " \"family\": {\"members\": ["
        "  {\"id\": \"1012\", \"vars\": {\"code\": 1012, \"why\": \"restart\"}},"
        "  {\"id\": \"1000\", \"vars\": {\"code\": 1000, \"why\": \"normal\"},"
        "   \"severity\": \"non-strict\", \"tags\": [\"slow\"]}"
        " ]},"
        " \"steps\": [{\"write\": [{\"text\": \"m{i}\", \"count\": 2},"
        "  {\"close\": \"{code}\", \"reason\": \"{why}\"}]},"
        "  {\"await\": \"close\"}],"
        " \"expect\": {\"close\": {\"code\": \"{code}\"}}}";
    char err[1024] = "";
    wsr_scenario_set set;
    CHECK_EQ(load_family(text, &set, err, sizeof err), 0);
    if (err[0])
        fprintf(stderr, "%s\n", err);
    CHECK_EQ(set.n, 2);
    if (set.n != 2)
        return;
    const wsr_scenario *a = set.v[0], *b = set.v[1];
    CHECK(strcmp(a->name, "fam/codes/1012") == 0);
    CHECK(strcmp(b->name, "fam/codes/1000") == 0);
    CHECK(strcmp(a->path, "fam/codes.json") == 0);
    CHECK(strcmp(json_string_value(json_object_get(a->doc, "name")),
                 "fam/codes/1012") == 0);
    CHECK(json_object_get(a->doc, "family") == NULL);
    CHECK_EQ(json_integer_value(doc_at(a)), 1012);
    CHECK_EQ(json_integer_value(doc_at(b)), 1000);
    CHECK_EQ(json_integer_value(json_object_get(
                 json_object_get(json_object_get(b->doc, "expect"), "close"),
                 "code")),
             1000);
    CHECK(strcmp(json_string_value(json_object_get(a->doc, "summary")),
                 "code 1012: 1012 restart") == 0);
    /* the write group: "m1", "m2", then close 1012 'restart' (0x03f4) */
    const wsr_step *st = &a->steps[0];
    CHECK_EQ(st->n_items, 3);
    if (st->n_items == 3) {
        CHECK(st->items[0].len == 2 && memcmp(st->items[0].data, "m1", 2) == 0);
        CHECK(st->items[2].len == 9 &&
              memcmp(st->items[2].data, "\x03\xf4restart", 9) == 0);
    }
    CHECK(json_object_get(a->doc, "severity") == NULL);
    CHECK(strcmp(json_string_value(json_object_get(b->doc, "severity")),
                 "non-strict") == 0);
    CHECK(strcmp(json_string_value(
                     json_array_get(json_object_get(b->doc, "tags"), 0)),
                 "slow") == 0);
    /* the single-scenario loader refuses a family, saying why */
    wsr_scenario *sc = wsr_scenario_load_buffer(text, strlen(text), "f.json",
                                                NULL, err, sizeof err);
    CHECK(sc == NULL && strncmp(err, "f.json: family: ", 16) == 0);
    /* sealed, the set is in name order like any other */
    CHECK_EQ(wsr_scenario_set_seal(&set, err, sizeof err), 0);
    CHECK(strcmp(set.v[0]->name, "fam/codes/1000") == 0);
    CHECK(wsr_scenario_set_find(&set, "fam/codes/1012", 14) != NULL);
    wsr_scenario_set_free(&set);
}

/* A folder holds family files next to single ones; a member whose name a
 * file also has is a duplicate like any other. */
static void test_family_in_folder(void)
{
    current = "family in a folder";
    char dir[400], path[600], err[1024] = "";
    snprintf(dir, sizeof dir, "%s/famdir", tmpdir);
    mkdir(dir, 0700);
    free(write_scenario_in(dir, "close/plain", "", "[{\"await\": \"close\"}]"));
    snprintf(path, sizeof path, "%s/close/fam.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("{\"name\": \"close/fam\", \"summary\": \"s {id}\", \"rfc\": "
          "[\"6455#5\"], \"expect\": {}, \"steps\": [{\"await\": \"close\"}],"
          " \"family\": {\"members\": [{\"id\": \"a\"}, {\"id\": \"b.2\"}]}}",
          f);
    fclose(f);
    wsr_scenario_set set;
    CHECK_EQ(wsr_scenario_set_load(&set, dir, err, sizeof err), 0);
    CHECK_EQ(set.n, 3);
    if (set.n == 3) {
        CHECK(strcmp(set.v[0]->name, "close/fam/a") == 0);
        CHECK(strcmp(set.v[1]->name, "close/fam/b.2") == 0);
        CHECK(strcmp(set.v[2]->name, "close/plain") == 0);
    }
    wsr_scenario_set_free(&set);
    free(write_scenario_in(dir, "close/fam/a", "", "[{\"await\": \"close\"}]"));
    CHECK_EQ(wsr_scenario_set_load(&set, dir, err, sizeof err), -1);
    CHECK(strstr(err, "duplicate scenario name 'close/fam/a'") != NULL);
}

/* Each mistake is refused with the file, the family and the member (id),
 * and nothing of the file is left in the set. */
static void test_family_errors(void)
{
    current = "family errors";
    static const struct {
        const char *members, *steps, *error;
    } cases[] = {
        /* a member's expansion breaks a rule of the scenario */
        {"{\"id\": \"1000\", \"vars\": {\"code\": 1000, \"why\": \"\"}},"
         " {\"id\": \"1016\", \"vars\": {\"code\": \"x\", \"why\": \"\"}}",
         "[{\"write\": [{\"close\": \"{code}\"}]}]",
         "fam/codes.json: family.members[1] (id \"1016\"): "
         "steps[0].write[0].close: expected an integer or null, got string"},
        /* a placeholder no member gives */
        {"{\"id\": \"a\", \"vars\": {\"code\": 1000}}",
         "[{\"write\": [{\"close\": \"{cdoe}\"}]}]",
         "fam/codes.json: family.members[0] (id \"a\"): summary: '{why}' "
         "names no parameter of the family (a member has 'id' and its "
         "'vars')"},
        /* inside a longer string, only strings and integers */
        {"{\"id\": \"a\", \"vars\": {\"code\": 1000, \"why\": [1]}}",
         "[{\"await\": \"close\"}]",
         "fam/codes.json: family.members[0] (id \"a\"): summary: '{why}' is "
         "array; inside a longer string a parameter must be a string or an "
         "integer"},
        {"{\"id\": \"a\"}, {\"id\": \"a\"}", "[{\"await\": \"close\"}]",
         "fam/codes.json: family.members[1].id: 'a' is the id of an earlier "
         "member"},
        {"{\"id\": \"a/b\"}", "[{\"await\": \"close\"}]",
         "fam/codes.json: family.members[0].id: 'a/b' is not a name part: "
         "letters, digits, '-', '_', '.', not starting with '.' or '-'"},
        {"{\"id\": \"a\", \"vars\": {\"i\": 1}}", "[{\"await\": \"close\"}]",
         "fam/codes.json: family.members[0].vars.i: a parameter is named "
         "like an identifier (letters, digits, '_', at most 63), and not "
         "'i' (the write items' own) or 'id' (the member's id)"},
        {"{\"id\": \"a\", \"name\": \"x\"}", "[{\"await\": \"close\"}]",
         "fam/codes.json: family.members[0].name: unknown key"},
        {"", "[{\"await\": \"close\"}]",
         "fam/codes.json: family.members: a family has at least one "
         "member"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024], err[1024] = "";
        snprintf(text, sizeof text,
                 FAMILY_HEAD " \"family\": {\"members\": [%s]},"
                             " \"steps\": %s, \"expect\": {}}",
                 cases[i].members, cases[i].steps);
        wsr_scenario_set set;
        CHECK_EQ(load_family(text, &set, err, sizeof err), -1);
        CHECK_EQ(set.n, 0);
        if (strcmp(err, cases[i].error) != 0)
            fprintf(stderr, "case %zu:\n  got  %s\n  want %s\n", i, err,
                    cases[i].error);
        CHECK(strcmp(err, cases[i].error) == 0);
        wsr_scenario_set_free(&set);
    }
}

/* A family's echo_mode gets its members' values, and a member may give its
 * own. */
static void test_family_echo_mode(void)
{
    current = "family echo_mode";
    static const char text[] = FAMILY_HEAD
        " \"echo_mode\": {\"expect\": {\"client_close\": {\"code\": "
        "\"{code}\"}}},"
        " \"family\": {\"members\": ["
        "  {\"id\": \"a\", \"vars\": {\"code\": 1000, \"why\": \"\"}},"
        "  {\"id\": \"b\", \"vars\": {\"code\": 1001, \"why\": \"\"},"
        "   \"echo_mode\": {\"no\": \"b's own\"}}"
        " ]},"
        " \"steps\": [{\"write\": [{\"close\": \"{code}\"}]}],"
        " \"expect\": {}}";
    char err[1024] = "";
    wsr_scenario_set set;
    CHECK_EQ(load_family(text, &set, err, sizeof err), 0);
    CHECK_EQ(set.n, 2);
    if (set.n == 2) {
        json_t *a = json_object_get(set.v[0]->doc, "echo_mode");
        json_t *code = json_object_get(
            json_object_get(json_object_get(a, "expect"), "client_close"),
            "code");
        CHECK_EQ(json_integer_value(code), 1000);
        json_t *b = json_object_get(set.v[1]->doc, "echo_mode");
        CHECK(strcmp(json_string_value(json_object_get(b, "no")), "b's own") ==
              0);
    }
    wsr_scenario_set_free(&set);
}

/* The size limits hold for each member and for the members together: the
 * family's bytes are weighed before a member's are built. */
static void test_family_size_limit(void)
{
    current = "family size limit";
    static const char text[] =
        "{\"name\": \"fam/codes\", \"summary\": \"s\", \"rfc\": [\"6455#5\"],"
        " \"expect\": {}, \"family\": {\"members\": ["
        " {\"id\": \"a\"}, {\"id\": \"b\"}, {\"id\": \"c\"}, {\"id\": \"d\"},"
        " {\"id\": \"e\"}]},"
        " \"steps\": [{\"write\": [{\"binary\": \"\", \"pattern\": \"ab\","
        " \"size\": 62914560}]}]}";
    char err[1024] = "";
    wsr_scenario_set set;
    CHECK_EQ(load_family(text, &set, err, sizeof err), -1);
    CHECK_EQ(set.n, 0);
    CHECK(strcmp(err, "fam/codes.json: family.members[4] (id \"e\"): "
                      "steps[0].write[0].size: the item expands to 62914570 "
                      "bytes, bringing the family's write groups to 314572850 "
                      "bytes; the limit for all of a family's members is "
                      "268435456 bytes (256 MiB)") == 0);
    wsr_scenario_set_free(&set); /* the set's array may be left */
}

/* A family whose first member is left to the write, weighed by zlib's
 * bound (4 × 67 MB of "a": 268.1 MB bounded, 0.3 MB deflated), and whose
 * second member's 4 MB then break the family's limit by that bound: the
 * family is loaded again with its items deflated, and fits. */
static void test_family_limit_on_bounds(void)
{
    static const char text[] =
        "{\"name\": \"fam/codes\", \"summary\": \"s\", \"rfc\": [\"6455#5\"],"
        " \"expect\": {}, \"deflate\": \"accept\", \"family\": {\"members\": ["
        " {\"id\": \"big\", \"vars\": {\"size\": 67000000, \"c\": true}},"
        " {\"id\": \"plain\", \"vars\": {\"size\": 1000000, \"c\": false}}]},"
        " \"steps\": [{\"write\": [{\"binary\": \"\", \"pattern\": \"a\","
        " \"size\": \"{size}\", \"compress\": \"{c}\"}]},"
        " {\"write\": [{\"binary\": \"\", \"pattern\": \"a\","
        " \"size\": \"{size}\", \"compress\": \"{c}\"}]},"
        " {\"write\": [{\"binary\": \"\", \"pattern\": \"a\","
        " \"size\": \"{size}\", \"compress\": \"{c}\"}]},"
        " {\"write\": [{\"binary\": \"\", \"pattern\": \"a\","
        " \"size\": \"{size}\", \"compress\": \"{c}\"}]}]}";
    char err[1024] = "";
    current = "family limit on bounds";
    wsr_scenario_set set;
    wsr_scenario_deflate_when(WSR_DEFLATE_WHEN_WRITE);
    CHECK_EQ(load_family(text, &set, err, sizeof err), 0);
    wsr_scenario_deflate_when(WSR_DEFLATE_WHEN_AUTO);
    if (set.n != 2)
        fprintf(stderr, "  %s\n", err);
    CHECK_EQ(set.n, 2);
    /* deflated at load (else "big" would be left to the write), exactly */
    for (size_t k = 0; k < set.n; k++)
        CHECK(!set.v[k]->deflate_at_write);
    if (set.n == 2) {
        CHECK(strcmp(set.v[0]->name, "fam/codes/big") == 0);
        CHECK(set.v[0]->write_bytes < 1000000);
    }
    wsr_scenario_set_free(&set);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/wsr-test-scenario-XXXXXX",
             base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_default_knobs();
    test_given_knobs();
    test_close_first_parts();
    test_budget_rows();
    test_run_alone();
    test_echo_mode();
    test_budget_handshake();
    test_scripted_status_line();
    test_set_normal();
    test_set_duplicate();
    test_weighed_is_built();
    test_compressed_items();
    test_deflate_when_sizes_needed();
    test_family_limit_on_bounds();
    test_size_limits();
    test_step_options();
    test_name_syntax();
    test_not_regular();
    test_empty_folder();
    test_load_buffer();
    test_family_expands();
    test_family_in_folder();
    test_family_errors();
    test_family_echo_mode();
    test_family_size_limit();
    /* A failure here only leaves a few small files in TMPDIR. */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary("scenario");
}
