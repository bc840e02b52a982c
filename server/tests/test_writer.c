/*
 * test_writer.c — transcripts to disk off the event loop (writer.h).
 *
 * Each case writes into a fresh temporary folder and reads it back: one
 * whole file per text and no temporary file left once the writer is
 * closed; the queue's bound in bytes (held texts that fit, refused ones
 * counted, an empty queue taking any size), a thread fed from this one
 * while it writes, and a folder that cannot be written.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "transcript.h"
#include "writer.h"

static char *tmp_dir(void)
{
    char *d = xmalloc(64);
    snprintf(d, 64, "/tmp/wsr-writer-XXXXXX");
    if (!mkdtemp(d)) {
        perror("mkdtemp");
        exit(2);
    }
    return d;
}

/* Files in dir, and how many of them are temporary (".tmp." in the name). */
static size_t count_files(const char *dir, size_t *tmp)
{
    size_t n = 0;
    *tmp = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        if (strstr(e->d_name, ".tmp."))
            (*tmp)++;
    }
    closedir(d);
    return n;
}

/* The whole of dir/NAME.json, or NULL. */
static char *read_back(const char *dir, const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = xmalloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void remove_dir(char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
    free(dir);
}

/* A text of n bytes: a JSON string "xxx...", so a file is checkable. */
static char *text_of(size_t n, char fill)
{
    char *t = xmalloc(n + 1);
    memset(t, fill, n);
    t[0] = '"';
    t[n - 1] = '"';
    t[n] = '\0';
    return t;
}

static bool file_is(const char *dir, const char *name, size_t n, char fill)
{
    size_t len = 0;
    char *got = read_back(dir, name, &len);
    char *want = text_of(n, fill);
    bool same = got && len == n && memcmp(got, want, n) == 0;
    free(got);
    free(want);
    return same;
}

static void test_write_file(void)
{
    current = "one file, one write";
    char *dir = tmp_dir();
    const char text[] = "{\"run\":\"r\",\"events\":[]}";
    CHECK_EQ(wsr_transcript_write_file(dir, "r-1", text, strlen(text)), 0);
    size_t len = 0, tmp;
    char *got = read_back(dir, "r-1", &len);
    CHECK(got && len == strlen(text) && memcmp(got, text, len) == 0);
    free(got);
    CHECK_EQ(count_files(dir, &tmp), 1);
    CHECK_EQ(tmp, 0);
    current = "a folder that is not there";
    errno = 0;
    CHECK_EQ(wsr_transcript_write_file("/nonexistent-wsr", "r-1", text, 3), -1);
    CHECK(errno == ENOENT);
    remove_dir(dir);
}

/* Held before its thread starts, the queue shows its bound exactly. */
static void test_bound(void)
{
    current = "the queue's bound";
    char *dir = tmp_dir();
    wsr_writer *w = wsr_writer_new(dir, 100);
    CHECK(w != NULL);
    CHECK_EQ(wsr_writer_submit(w, "a", text_of(60, 'a'), 60), 0);
    CHECK_EQ(wsr_writer_submit(w, "b", text_of(40, 'b'), 40), 0); /* = 100 */
    CHECK_EQ(wsr_writer_submit(w, "c", text_of(2, 'c'), 2), -1);  /* 102 */
    CHECK_EQ(wsr_writer_submit(w, "d", text_of(500, 'd'), 500), -1);
    wsr_writer_stats st;
    wsr_writer_stats_get(w, &st);
    CHECK_EQ(st.queued_bytes, 100);
    CHECK_EQ(st.dropped, 2);
    CHECK_EQ(st.written, 0);
    CHECK_EQ(wsr_writer_start(w), 0);
    CHECK_EQ(wsr_writer_close(w, &st), 0);
    CHECK_EQ(st.written, 2);
    CHECK_EQ(st.dropped, 2);
    CHECK_EQ(st.failed, 0);
    CHECK_EQ(st.queued_bytes, 0);
    CHECK_EQ(st.peak_bytes, 100);
    CHECK(file_is(dir, "a", 60, 'a'));
    CHECK(file_is(dir, "b", 40, 'b'));
    size_t tmp;
    CHECK_EQ(count_files(dir, &tmp), 2);
    CHECK_EQ(tmp, 0);

    current = "an empty queue takes any size";
    w = wsr_writer_new(dir, 10);
    CHECK_EQ(wsr_writer_submit(w, "big", text_of(5000, 'x'), 5000), 0);
    CHECK_EQ(wsr_writer_submit(w, "small", text_of(3, 'y'), 3), -1);
    current = "a writer never started writes on close";
    CHECK_EQ(wsr_writer_close(w, &st), 0);
    CHECK_EQ(st.written, 1);
    CHECK_EQ(st.dropped, 1);
    CHECK(file_is(dir, "big", 5000, 'x'));
    CHECK_EQ(count_files(dir, &tmp), 3);
    remove_dir(dir);
}

/* The thread writes while this one submits; close drains what is left. */
static void test_drain(void)
{
    current = "a busy writer, drained on close";
    enum { N = 2000 };
    char *dir = tmp_dir();
    wsr_writer *w = wsr_writer_new(dir, WSR_WRITER_QUEUE_BYTES);
    CHECK_EQ(wsr_writer_start(w), 0);
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "run-%d", i);
        size_t n = 50 + (size_t)(i % 200);
        CHECK_EQ(
            wsr_writer_submit(w, name, text_of(n, (char)('a' + i % 26)), n), 0);
    }
    wsr_writer_stats st;
    CHECK_EQ(wsr_writer_close(w, &st), 0);
    CHECK_EQ(st.written, N);
    CHECK_EQ(st.dropped, 0);
    CHECK_EQ(st.failed, 0);
    size_t tmp;
    CHECK_EQ(count_files(dir, &tmp), N);
    CHECK_EQ(tmp, 0);
    bool all = true;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "run-%d", i);
        all = all &&
              file_is(dir, name, 50 + (size_t)(i % 200), (char)('a' + i % 26));
    }
    CHECK(all);
    remove_dir(dir);
}

static void test_failure(void)
{
    current = "a folder that cannot be written";
    wsr_writer *w = wsr_writer_new("/nonexistent-wsr", WSR_WRITER_QUEUE_BYTES);
    CHECK_EQ(wsr_writer_start(w), 0);
    CHECK_EQ(wsr_writer_submit(w, "a", text_of(10, 'a'), 10), 0);
    CHECK_EQ(wsr_writer_submit(w, "b", text_of(10, 'b'), 10), 0);
    wsr_writer_stats st;
    CHECK_EQ(wsr_writer_close(w, &st), -1);
    CHECK_EQ(st.written, 0);
    CHECK_EQ(st.failed, 2);
}

/* A real transcript through the writer reads back as the same JSON. */
static void test_transcript(void)
{
    current = "a transcript, dumped and written";
    wsr_transcript t;
    CHECK_EQ(wsr_transcript_init(&t, "127.0.0.1:1"), 0);
    wsr_transcript_set(&t, "run", "r1");
    wsr_transcript_add(&t, wsr_event(&t, "in", "tcp_accept"));
    wsr_transcript_end(&t, "complete", "done");
    size_t len = 0;
    char *text = wsr_transcript_dump(&t, &len);
    CHECK(text && len == strlen(text));
    char *dir = tmp_dir();
    wsr_writer *w = wsr_writer_new(dir, WSR_WRITER_QUEUE_BYTES);
    CHECK_EQ(wsr_writer_start(w), 0);
    CHECK_EQ(wsr_writer_submit(w, "r1-1", text, len), 0);
    CHECK_EQ(wsr_writer_close(w, NULL), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/r1-1.json", dir);
    json_t *back = json_load_file(path, 0, NULL);
    json_t *tree = wsr_transcript_json(&t);
    CHECK(back && tree && json_equal(back, tree));
    json_decref(tree);
    json_decref(back);
    wsr_transcript_free(&t);
    remove_dir(dir);
}

int main(void)
{
    test_write_file();
    test_bound();
    test_drain();
    test_failure();
    test_transcript();
    return check_summary("writer");
}
