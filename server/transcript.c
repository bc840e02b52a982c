/*
 * transcript.c — the wire log of one session, kept as compact JSON text,
 * and the one write that puts it on disk (writer.c calls it off the event
 * loop).
 */
#include "transcript.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

uint64_t wsr_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *const field_names[WSR_TR_FIELDS] = {
    [WSR_TR_RUN] = "run",
    [WSR_TR_SCENARIO] = "scenario",
    [WSR_TR_PEER] = "peer",
    [WSR_TR_TRANSPORT] = "transport",
    [WSR_TR_VARY] = "vary", /* the run's variant (?vary=) */
    [WSR_TR_STARTED] = "started",
    [WSR_TR_END] = "end",
    [WSR_TR_TCP_CLOSE] = "tcp_close",
};

/* Fields that read null while unset; the others are left out. */
static bool null_when_absent(int f)
{
    return f == WSR_TR_RUN || f == WSR_TR_SCENARIO || f == WSR_TR_PEER ||
           f == WSR_TR_END;
}

static int field_index(const char *key)
{
    for (int f = 0; f < WSR_TR_FIELDS; f++)
        if (strcmp(key, field_names[f]) == 0)
            return f;
    return -1;
}

static void iso_now(char *buf, size_t cap)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%06ldZ", (long)tv.tv_usec);
}

int wsr_transcript_init(wsr_transcript *t, const char *peer)
{
    char started[64];
    memset(t, 0, sizeof *t);
    t->start_us = wsr_now_us();
    iso_now(started, sizeof started);
    if (wsr_transcript_set(t, "started", started) != 0 ||
        (peer && wsr_transcript_set(t, "peer", peer) != 0)) {
        wsr_transcript_free(t);
        return -1;
    }
    return 0;
}

void wsr_transcript_free(wsr_transcript *t)
{
    for (int f = 0; f < WSR_TR_FIELDS; f++) {
        free(t->field[f]);
        t->field[f] = NULL;
    }
    free(t->events);
    t->events = NULL;
    t->events_len = t->events_cap = t->n_events = 0;
    json_decref(t->last);
    json_decref(t->run_t_us);
    json_decref(t->run_offset);
    t->last = t->run_t_us = t->run_offset = NULL;
    t->run_count = 0;
}

/* A growing text for json_dump_callback(). Once an append has failed,
 * every later one fails too: jansson (2.14) ignores the callback's error
 * while it writes an object's key and goes on, so a single failure would
 * otherwise leave valid-looking JSON with a key cut out. */
typedef struct dump_buf {
    char *p;
    size_t len, cap;
    bool failed;
} dump_buf;

static int dump_append(const char *p, size_t len, void *arg)
{
    dump_buf *b = arg;
    if (b->failed)
        return -1;
    if (len > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len < len)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown) {
            b->failed = true;
            return -1;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
    return 0;
}

/* v as compact JSON text (malloc'd, NUL-terminated), or NULL. */
static char *dump_text(const json_t *v)
{
    dump_buf b = {0};
    if (json_dump_callback(v, dump_append, &b,
                           JSON_COMPACT | JSON_ENCODE_ANY) != 0 ||
        dump_append("", 1, &b) != 0) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int wsr_transcript_set_new(wsr_transcript *t, const char *key, json_t *v)
{
    int f = field_index(key);
    char *text = f >= 0 && v ? dump_text(v) : NULL;
    json_decref(v);
    if (!text)
        return -1;
    free(t->field[f]);
    t->field[f] = text;
    return 0;
}

int wsr_transcript_set(wsr_transcript *t, const char *key, const char *value)
{
    return wsr_transcript_set_new(t, key,
                                  value ? json_string(value) : json_null());
}

json_t *wsr_event(wsr_transcript *t, const char *dir, const char *type)
{
    json_t *ev = json_object();
    if (!ev)
        return NULL;
    json_object_set_new(ev, "t_us",
                        json_integer((json_int_t)(wsr_now_us() - t->start_us)));
    if (dir)
        json_object_set_new(ev, "dir", json_string(dir));
    json_object_set_new(ev, "type", json_string(type));
    return ev;
}

/* Room for n more bytes of events text. It grows by doubling from 1 KiB,
 * which holds an idle session's first events (accept, request, 101, first
 * step) whole. */
static int reserve(wsr_transcript *t, size_t n)
{
    if (n <= t->events_cap - t->events_len)
        return 0;
    size_t cap = t->events_cap ? t->events_cap : 1024;
    while (cap - t->events_len < n)
        cap *= 2;
    char *grown = realloc(t->events, cap);
    if (!grown)
        return -1;
    t->events = grown;
    t->events_cap = cap;
    return 0;
}

/* Appends to the events text. */
static int append_events(const char *p, size_t len, void *arg)
{
    wsr_transcript *t = arg;
    if (t->append_failed) /* sticky within one event: see dump_append() */
        return -1;
    if (reserve(t, len) != 0) {
        t->append_failed = true;
        return -1;
    }
    memcpy(t->events + t->events_len, p, len);
    t->events_len += len;
    return 0;
}

/* A data frame's event (opcode 0, 1 or 2): the kind a run of like ones
 * folds into one event. */
static bool coalescable(const json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *op = json_object_get(ev, "opcode");
    return type && strcmp(type, "frame") == 0 && json_is_integer(op) &&
           json_integer_value(op) >= 0 && json_integer_value(op) <= 2;
}

/* The fields that differ from frame to frame of a run (when, where, what
 * payload): all others must be equal. */
static bool varies(const char *key)
{
    static const char *const keys[] = {"t_us", "offset", "text", "hex",
                                       "hex_truncated"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

/* Does every field of a that must match have its equal in b? */
static bool fixed_fields_in(const json_t *a, const json_t *b)
{
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)a, key, v) {
        if (!varies(key) && !json_equal(v, json_object_get(b, key)))
            return false;
    }
    return true;
}

/* ev continues the run that last is (or starts it). */
static bool like(const json_t *last, const json_t *ev)
{
    return last && coalescable(ev) && fixed_fields_in(last, ev) &&
           fixed_fields_in(ev, last);
}

/* The run's event as it stands: its first frame's, with count, t_us_last
 * and offset_last (a new reference); NULL if out of memory. */
static json_t *run_event(const wsr_transcript *t)
{
    json_t *run = json_copy(t->last); /* shallow: the values are shared */
    if (!run)
        return NULL;
    if (json_object_set_new(run, "count",
                            json_integer((json_int_t)t->run_count)) != 0 ||
        (t->run_t_us && json_object_set(run, "t_us_last", t->run_t_us) != 0) ||
        (t->run_offset &&
         json_object_set(run, "offset_last", t->run_offset) != 0)) {
        json_decref(run);
        return NULL;
    }
    return run;
}

/* The run's text as it stands (malloc'd, NUL-terminated), or NULL when the
 * events text is up to date (no frame joined) or out of memory (*oom). */
static char *run_text(const wsr_transcript *t, bool *oom)
{
    *oom = false;
    if (!t->last || t->run_count < 2)
        return NULL;
    json_t *run = run_event(t);
    char *text = run ? dump_text(run) : NULL;
    json_decref(run);
    *oom = text == NULL;
    return text;
}

/* Ends the run the events end with: its text written over its first
 * frame's (within the cap: WSR_TRANSCRIPT_RUN_GROWTH was charged). Out of
 * memory, the frames that joined it cannot be told and are counted as
 * dropped. */
static void end_run(wsr_transcript *t)
{
    bool oom;
    char *text = run_text(t, &oom);
    if (text) {
        size_t len = strlen(text);
        size_t old_len = t->events_len;
        t->events_len = t->last_mark; /* reserve() counts from here */
        if (reserve(t, len) == 0) {
            memcpy(t->events + t->last_mark, text, len);
            t->events_len += len;
        } else {
            t->events_len = old_len;
            oom = true;
        }
        free(text);
    }
    if (oom)
        t->dropped += t->run_count - 1;
    json_decref(t->last);
    json_decref(t->run_t_us);
    json_decref(t->run_offset);
    t->last = t->run_t_us = t->run_offset = NULL;
    t->run_count = 0;
}

/* ev joins the run: only its time and offset are kept. */
static void join_run(wsr_transcript *t, json_t *ev)
{
    json_decref(t->run_t_us);
    json_decref(t->run_offset);
    t->run_t_us = json_incref(json_object_get(ev, "t_us"));
    t->run_offset = json_incref(json_object_get(ev, "offset"));
    t->run_count++;
    json_decref(ev);
}

void wsr_transcript_add(wsr_transcript *t, json_t *ev)
{
    if (!ev)
        return;
    if (!t->dropped && like(t->last, ev)) {
        join_run(t, ev); /* adds no event: the count cap does not apply */
        return;
    }
    end_run(t);
    if (t->dropped || t->n_events >= WSR_TRANSCRIPT_MAX_EVENTS) {
        t->dropped++;
        json_decref(ev);
        return;
    }
    size_t mark = t->events_len;
    t->append_failed = false;
    if ((t->n_events && append_events(",", 1, t) != 0) ||
        json_dump_callback(ev, append_events, t, JSON_COMPACT) != 0) {
        t->events_len = mark; /* out of memory: the event is lost whole */
        json_decref(ev);
        return;
    }
    bool run = coalescable(ev);
    if (t->events_len + (run ? WSR_TRANSCRIPT_RUN_GROWTH : 0) >
        WSR_TRANSCRIPT_MAX_BYTES) {
        t->events_len = mark;
        t->dropped++;
        json_decref(ev);
        return;
    }
    t->n_events++;
    if (!run) {
        json_decref(ev);
        return;
    }
    t->last = ev; /* kept: the next like frame joins it */
    t->last_mark = mark + (t->n_events > 1);
    t->run_count = 1;
}

void wsr_event_hex(json_t *ev, const uint8_t *p, size_t len, size_t max)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = len < max ? len : max;
    char *buf = malloc(2 * n + 1);
    if (!buf)
        return;
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = digits[p[i] >> 4];
        buf[2 * i + 1] = digits[p[i] & 15];
    }
    buf[2 * n] = '\0';
    json_object_set_new(ev, "hex", json_string(buf));
    free(buf);
    if (n < len)
        json_object_set_new(ev, "hex_truncated", json_true());
}

void wsr_transcript_end(wsr_transcript *t, const char *reason,
                        const char *detail)
{
    if (t->complete)
        return;
    json_t *end = json_pack("{s:s,s:s}", "reason", reason, "detail",
                            detail ? detail : "");
    if (wsr_transcript_set_new(t, "end", end) != 0) {
        /* Out of memory (or a detail that is not UTF-8): the reason
         * alone, a plain name that needs no escaping, in one allocation,
         * so that a complete transcript always says why it ended. */
        static const char fmt[] = "{\"reason\":\"%s\",\"detail\":\"\"}";
        size_t n = sizeof fmt + strlen(reason);
        bool plain =
            strspn(reason, "abcdefghijklmnopqrstuvwxyz_") == strlen(reason);
        char *text = plain ? malloc(n) : NULL;
        if (text) {
            snprintf(text, n, fmt, reason);
            free(t->field[WSR_TR_END]);
            t->field[WSR_TR_END] = text;
        }
    }
    t->complete = true;
}

/* Copies s[0..len) to out at *at, or only counts it when out is NULL. */
static void put(char *out, size_t *at, const char *s, size_t len)
{
    if (out && len) /* s may be NULL when len is 0 */
        memcpy(out + *at, s, len);
    *at += len;
}

static void put_str(char *out, size_t *at, const char *s)
{
    put(out, at, s, strlen(s));
}

static void put_field(char *out, size_t *at, const char *name,
                      const char *value)
{
    put_str(out, at, *at > 1 ? ",\"" : "\"");
    put_str(out, at, name);
    put_str(out, at, "\":");
    put_str(out, at, value);
}

/* The transcript's text: the fields in their order, then the events (the
 * last run's text run, when not NULL, in place of its first frame's). With
 * out NULL, only its length. */
static size_t emit(const wsr_transcript *t, const char *run, char *out)
{
    size_t at = 0;
    put_str(out, &at, "{");
    for (int f = 0; f < WSR_TR_FIELDS; f++) {
        if (f == WSR_TR_END)
            put_field(out, &at, "complete", t->complete ? "true" : "false");
        const char *v = t->field[f];
        if (!v && null_when_absent(f))
            v = "null";
        if (v)
            put_field(out, &at, field_names[f], v);
    }
    if (t->dropped) {
        char n[64];
        snprintf(n, sizeof n, "%zu", t->dropped);
        put_field(out, &at, "events_dropped", n);
        snprintf(n, sizeof n, "{\"events\":%d,\"bytes\":%u}",
                 WSR_TRANSCRIPT_MAX_EVENTS, WSR_TRANSCRIPT_MAX_BYTES);
        put_field(out, &at, "events_cap", n);
    }
    put_str(out, &at, ",\"events\":[");
    if (run) { /* a run still growing: its text as it stands */
        put(out, &at, t->events, t->last_mark);
        put_str(out, &at, run);
    } else {
        put(out, &at, t->events, t->events_len);
    }
    put_str(out, &at, "]}");
    return at;
}

char *wsr_transcript_dump(const wsr_transcript *t, size_t *len)
{
    bool oom;
    char *run = run_text(t, &oom);
    *len = 0;
    if (oom)
        return NULL;
    size_t n = emit(t, run, NULL);
    char *text = malloc(n + 1);
    if (text) {
        emit(t, run, text);
        text[n] = '\0';
        *len = n;
    }
    free(run);
    return text;
}

json_t *wsr_transcript_json(const wsr_transcript *t)
{
    size_t len;
    char *text = wsr_transcript_dump(t, &len);
    json_t *tree = text ? json_loadb(text, len, 0, NULL) : NULL;
    free(text);
    return tree;
}

/* write() until every byte is out: a regular file takes it in one call
 * unless the disk fills up or a signal lands mid-way. */
static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int wsr_transcript_write_file(const char *dir, const char *name,
                              const char *text, size_t len)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    /* A reader sees nothing or a whole file: one write, then rename. */
    int rc = write_all(fd, text, len);
    int e = errno;
    /* close() once only, even when it fails: the number may be reused. */
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        errno = e ? e : EIO;
        return -1;
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}
