/*
 * transcript.c — the wire log of one session, as JSON, and the one
 * write that puts it on disk (writer.c calls it off the event loop).
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

static json_t *iso_now(void)
{
    struct timeval tv;
    struct tm tm;
    char buf[64];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%06ldZ", (long)tv.tv_usec);
    return json_string(buf);
}

int wsr_transcript_init(wsr_transcript *t, const char *peer)
{
    t->start_us = wsr_now_us();
    t->dropped = 0;
    t->root = json_object();
    t->events = json_array();
    if (!t->root || !t->events) {
        json_decref(t->root);
        json_decref(t->events);
        t->root = t->events = NULL;
        return -1;
    }
    json_object_set_new(t->root, "run", json_null());
    json_object_set_new(t->root, "scenario", json_null());
    json_object_set_new(t->root, "peer",
                        peer ? json_string(peer) : json_null());
    json_object_set_new(t->root, "started", iso_now());
    json_object_set_new(t->root, "complete", json_false());
    json_object_set_new(t->root, "end", json_null());
    /* set borrows: root keeps one reference, t->events is a borrowed alias */
    json_object_set_new(t->root, "events", t->events);
    return 0;
}

void wsr_transcript_free(wsr_transcript *t)
{
    json_decref(t->root);
    t->root = t->events = NULL;
}

void wsr_transcript_set(wsr_transcript *t, const char *key, const char *value)
{
    json_object_set_new(t->root, key, value ? json_string(value) : json_null());
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

void wsr_transcript_add(wsr_transcript *t, json_t *ev)
{
    if (!ev)
        return;
    if (json_array_size(t->events) >= WSR_TRANSCRIPT_MAX_EVENTS) {
        t->dropped++;
        json_object_set_new(t->root, "events_dropped",
                            json_integer((json_int_t)t->dropped));
        json_decref(ev);
        return;
    }
    json_array_append_new(t->events, ev);
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
    if (json_is_true(json_object_get(t->root, "complete")))
        return;
    json_t *end = json_object();
    json_object_set_new(end, "reason", json_string(reason));
    json_object_set_new(end, "detail", json_string(detail ? detail : ""));
    json_object_set_new(t->root, "end", end);
    json_object_set_new(t->root, "complete", json_true());
}

char *wsr_transcript_dump(const wsr_transcript *t, size_t *len)
{
    char *text = json_dumps(t->root, JSON_COMPACT);
    *len = text ? strlen(text) : 0;
    return text;
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
