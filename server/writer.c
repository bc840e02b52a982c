/*
 * writer.c — transcripts to disk on a thread of their own (see writer.h).
 */
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "transcript.h"

typedef struct job {
    struct job *next;
    char *text; /* owned */
    size_t len;
    char name[]; /* NUL-terminated */
} job;

struct wsr_writer {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* a job arrived, or closing */
    pthread_t thread;
    bool started, closing;
    job *head, *tail;
    size_t max_bytes;
    wsr_writer_stats st;
    char *dir; /* owned */
};

/* 1, 10, 100, ...: how often a repeated warning is worth a line. */
static bool worth_a_line(unsigned long n)
{
    while (n >= 10 && n % 10 == 0)
        n /= 10;
    return n == 1;
}

wsr_writer *wsr_writer_new(const char *dir, size_t max_bytes)
{
    wsr_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->dir = strdup(dir);
    if (!w->dir || pthread_mutex_init(&w->mu, NULL) != 0) {
        free(w->dir);
        free(w);
        return NULL;
    }
    if (pthread_cond_init(&w->wake, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        free(w->dir);
        free(w);
        return NULL;
    }
    w->max_bytes = max_bytes;
    return w;
}

/* Takes the oldest job, or NULL when the queue is empty. Under mu. */
static job *pop(wsr_writer *w)
{
    job *j = w->head;
    if (j) {
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        w->st.queued_bytes -= j->len;
    }
    return j;
}

/* Writes one job and frees it; counts the outcome. Outside mu. */
static void write_job(wsr_writer *w, job *j)
{
    int rc = wsr_transcript_write_file(w->dir, j->name, j->text, j->len);
    int e = errno;
    pthread_mutex_lock(&w->mu);
    unsigned long failed = rc == 0 ? 0 : ++w->st.failed;
    if (rc == 0)
        w->st.written++;
    pthread_mutex_unlock(&w->mu);
    if (failed && worth_a_line(failed))
        fprintf(stderr,
                "wsreplay-server: cannot write transcript %s: %s (%lu "
                "failed so far)\n",
                j->name, strerror(e), failed);
    free(j->text);
    free(j);
}

/* The lowest priority for this thread alone: SCHED_IDLE, where Linux
 * counts a core that runs only such threads as idle and hands it to the
 * event loop the moment it wakes up; nice 19 where that is refused. */
static void lowest_priority(void)
{
    struct sched_param none = {.sched_priority = 0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &none) != 0)
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
}

static void *run(void *arg)
{
    wsr_writer *w = arg;
    lowest_priority();
    pthread_mutex_lock(&w->mu);
    for (;;) {
        job *j = pop(w);
        if (!j) {
            if (w->closing)
                break;
            pthread_cond_wait(&w->wake, &w->mu);
            continue;
        }
        pthread_mutex_unlock(&w->mu);
        write_job(w, j);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int wsr_writer_start(wsr_writer *w)
{
    /* Signals are the loop's (libevent's evsignal): the thread blocks them
     * all, which it inherits from the mask in force when it is created. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, run, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    w->started = true;
    return 0;
}

int wsr_writer_submit(wsr_writer *w, const char *name, char *text, size_t len)
{
    size_t n = strlen(name);
    job *j = malloc(sizeof *j + n + 1);
    pthread_mutex_lock(&w->mu);
    bool fits =
        w->st.queued_bytes == 0 ||
        (len <= w->max_bytes && w->st.queued_bytes <= w->max_bytes - len);
    if (!j || !fits || w->closing) {
        unsigned long dropped = ++w->st.dropped;
        size_t queued = w->st.queued_bytes;
        pthread_mutex_unlock(&w->mu);
        if (worth_a_line(dropped))
            fprintf(stderr,
                    "wsreplay-server: transcript %s not written to disk "
                    "(%s; %zu bytes waiting); GET /_runs still has it "
                    "(%lu not written so far)\n",
                    name, !j ? "out of memory" : "the queue is full", queued,
                    dropped);
        free(j);
        free(text);
        return -1;
    }
    memcpy(j->name, name, n + 1);
    j->text = text;
    j->len = len;
    j->next = NULL;
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    w->st.queued_bytes += len;
    if (w->st.queued_bytes > w->st.peak_bytes)
        w->st.peak_bytes = w->st.queued_bytes;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void wsr_writer_stats_get(wsr_writer *w, wsr_writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    pthread_mutex_unlock(&w->mu);
}

/* One sync of the filesystem that holds dir: every file written so far,
 * and the renames, reach the disk. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = syncfs(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int wsr_writer_close(wsr_writer *w, wsr_writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    /* This thread writes too, at its own priority: the writer's idle
     * priority must not make a stopping server wait for idle time. */
    for (;;) {
        pthread_mutex_lock(&w->mu);
        job *j = pop(w);
        pthread_mutex_unlock(&w->mu);
        if (!j)
            break;
        write_job(w, j);
    }
    if (w->started)
        pthread_join(w->thread, NULL);
    int rc = w->st.failed ? -1 : 0;
    if (sync_dir(w->dir) != 0) {
        fprintf(stderr, "wsreplay-server: cannot sync %s: %s\n", w->dir,
                strerror(errno));
        rc = -1;
    }
    if (out)
        *out = w->st;
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w->dir);
    free(w);
    return rc;
}
