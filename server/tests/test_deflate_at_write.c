/*
 * test_deflate_at_write.c — "compress": true items deflated at the write
 * put the same bytes on the wire as deflated at load.
 *
 * Every scenario file given (or every *.json in a folder given) is loaded
 * twice: with its compressed items deflated at load (frames), and left to
 * the write (WSR_ITEM_DEFLATE). Each write group is then encoded as a
 * session would: the deferred items by wsr_item_deflate_frames on a stream
 * of the session's own. The two byte streams must be equal, twice over
 * (two sessions, two streams: none shares state), and the loader's bounds
 * must hold the exact sizes.
 */
#include "codec.h"
#include "deflate.h"
#include "scenario.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
    size_t frames;
} bytes;

static void put(bytes *b, const uint8_t *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* One item as encode_item (engine.c) puts it on the wire. */
static int put_item(void *arg, const wsr_item *it)
{
    bytes *b = arg;
    if (it->kind != WSR_ITEM_FRAME) {
        put(b, it->data, it->len);
        return 0;
    }
    ws_frame_spec spec = {.fin = it->fin,
                          .rsv = it->rsv,
                          .opcode = it->opcode,
                          .mask = it->mask,
                          .len_form = it->len_form,
                          .payload = it->data,
                          .payload_len = it->len};
    memcpy(spec.mask_key, it->mask_key, 4);
    ssize_t size = ws_encoded_size(&spec);
    CHECK(size >= 0);
    if (size < 0)
        return -1;
    uint8_t *out = xmalloc((size_t)size);
    CHECK_EQ(ws_encode_frame(&spec, out, (size_t)size), size);
    put(b, out, (size_t)size);
    free(out);
    b->frames++;
    return 0;
}

/* The bytes of one write group, deferred items deflated on d. */
static void encode_group(const wsr_step *st, wsr_deflater *d, bytes *b)
{
    for (size_t k = 0; k < st->n_items; k++) {
        const wsr_item *it = &st->items[k];
        if (it->kind == WSR_ITEM_DEFLATE)
            CHECK_EQ(wsr_item_deflate_frames(it, d, put_item, b), 0);
        else
            put_item(b, it);
    }
}

static size_t deferred_scenarios, deferred_items, scenarios_seen;

/* The scenario's write groups, byte for byte, both ways. */
static void compare(const wsr_scenario *at_load, const wsr_scenario *at_write)
{
    current = at_load->name;
    scenarios_seen++;
    CHECK(!at_load->deflate_at_write);
    CHECK(strcmp(at_load->name, at_write->name) == 0);
    CHECK_EQ(at_load->n_steps, at_write->n_steps);
    if (at_load->n_steps != at_write->n_steps)
        return;
    deferred_scenarios += at_write->deflate_at_write;
    /* Two sessions of the scenario: streams of their own. */
    wsr_deflater *d1 = wsr_scenario_deflater_new(at_write);
    wsr_deflater *d2 = wsr_scenario_deflater_new(at_write);
    CHECK(d1 && d2);
    for (size_t i = 0; d1 && d2 && i < at_load->n_steps; i++) {
        const wsr_step *a = &at_load->steps[i], *w = &at_write->steps[i];
        if (a->kind != WSR_STEP_WRITE)
            continue;
        bytes want = {0}, got1 = {0}, got2 = {0};
        encode_group(a, NULL, &want);
        encode_group(w, d1, &got1);
        encode_group(w, d2, &got2);
        CHECK_EQ(got1.n, want.n);
        CHECK(got1.n == want.n && memcmp(got1.p, want.p, want.n) == 0);
        CHECK(got2.n == want.n && memcmp(got2.p, want.p, want.n) == 0);
        if (got1.n != want.n || memcmp(got1.p, want.p, want.n) != 0)
            fprintf(stderr, "  step %zu differs\n", i);
        /* The loader's figures: exact at load, bounds at the write. */
        CHECK_EQ(wsr_step_group_bytes(a), want.n);
        CHECK(wsr_step_group_bytes(w) >= want.n);
        size_t frames_bound = 0;
        for (size_t k = 0; k < w->n_items; k++) {
            const wsr_item *it = &w->items[k];
            deferred_items += it->kind == WSR_ITEM_DEFLATE;
            frames_bound += it->kind == WSR_ITEM_DEFLATE ? it->frames_bound
                            : it->kind == WSR_ITEM_FRAME ? 1
                                                         : 0;
        }
        CHECK(frames_bound >= got1.frames);
        free(want.p);
        free(got1.p);
        free(got2.p);
    }
    CHECK(at_write->write_bytes >= at_load->write_bytes);
    wsr_deflater_del(d1);
    wsr_deflater_del(d2);
}

/* The file, or with members > 0 only that many of its family's members
 * (Autobahn's families are deflated in seconds per member). */
static void load_set(const char *file, size_t members,
                     enum wsr_deflate_when when, wsr_scenario_set *set)
{
    char err[2048];
    int rc;
    wsr_scenario_deflate_when(when);
    if (members) {
        json_error_t jerr;
        json_t *root = json_load_file(file, 0, &jerr);
        json_t *list =
            json_object_get(json_object_get(root, "family"), "members");
        CHECK(list != NULL);
        while (json_array_size(list) > members)
            json_array_remove(list, json_array_size(list) - 1);
        char *text = json_dumps(root, 0);
        rc = text ? wsr_scenario_load_buffer_into(set, text, strlen(text), file,
                                                  NULL, err, sizeof err)
                  : -1;
        free(text);
        json_decref(root);
    } else {
        rc = wsr_scenario_load_file_into(set, file, NULL, err, sizeof err);
    }
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        CHECK(!"the file loads");
    }
}

static void compare_file(const char *file, size_t members)
{
    wsr_scenario_set at_load = {0}, at_write = {0};
    load_set(file, members, WSR_DEFLATE_WHEN_LOAD, &at_load);
    load_set(file, members, WSR_DEFLATE_WHEN_WRITE, &at_write);
    CHECK_EQ(at_load.n, at_write.n);
    for (size_t i = 0; i < at_load.n && i < at_write.n; i++)
        compare(at_load.v[i], at_write.v[i]);
    wsr_scenario_set_free(&at_load);
    wsr_scenario_set_free(&at_write);
}

static bool is_json(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* A folder's *.json files (not its subfolders), one file, or FILE:N, a
 * family file's first N members. */
static void compare_path(const char *arg)
{
    char path[4096];
    size_t members = 0;
    snprintf(path, sizeof path, "%s", arg);
    char *colon = strrchr(path, ':');
    if (colon) {
        members = strtoul(colon + 1, NULL, 10);
        *colon = '\0';
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        exit(2);
    }
    if (!S_ISDIR(st.st_mode)) {
        compare_file(path, members);
        return;
    }
    DIR *dir = opendir(path);
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL) {
        char file[8192];
        /* The Autobahn families are given one by one: all of them would
         * take minutes to deflate. */
        if (!is_json(e->d_name) || strncmp(e->d_name, "autobahn-", 9) == 0)
            continue;
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        compare_file(file, 0);
    }
    if (dir)
        closedir(dir);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE[:MEMBERS]-OR-FOLDER...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        compare_path(argv[i]);
    current = "coverage";
    /* Something was left to the write and compared. */
    CHECK(deferred_scenarios > 0);
    CHECK(deferred_items > 0);
    printf("%zu scenarios compared, %zu with items deflated at the write "
           "(%zu items)\n",
           scenarios_seen, deferred_scenarios, deferred_items);
    return check_summary("deflate_at_write");
}
