/*
 * writer.h — transcripts to disk, off the event loop.
 *
 * With --transcripts DIR every finished session's transcript goes to
 * DIR/NAME.json. The event loop serializes it once (it owns the jansson
 * objects) and hands the text to this writer; one thread of its own writes
 * each text with one write() to a temporary file and renames it into
 * place. No connection waits for a disk: the ring of finished transcripts
 * (runs.h) has the transcript before the writer gets it, and the harness
 * reads transcripts from that ring, never from DIR.
 *
 * The thread runs at the lowest priority (SCHED_IDLE, else nice 19): it
 * writes on time the event loop and the machine leave, so disk copies never take CPU
 * from a session's timing. Under a load that keeps the cores busy, texts
 * wait in the queue and are written once the load eases.
 *
 * The queue is bounded in bytes. A text that does not fit while others
 * wait is not written (the ring still has it): it is counted, and
 * stderr says so at the 1st, 10th, 100th, ... such loss. An empty queue
 * takes any text, so one huge transcript is never refused.
 *
 * Durability: no fsync per file (it cost a millisecond per session on the
 * loop). A file is whole or absent for every other process at once (the
 * rename), and the page cache keeps it if the server is killed; only a
 * crash of the machine can lose it. wsr_writer_close() writes what is
 * queued and then syncs DIR's filesystem once (syncfs), so a run's files
 * are on disk once the server has stopped cleanly (SIGTERM, SIGINT).
 *
 * Threads: the loop calls submit and stats; they take the queue's mutex
 * and nothing else. The writer thread touches only the queue, the texts
 * it was handed and the file system.
 */
#ifndef WSR_WRITER_H
#define WSR_WRITER_H

#include <stddef.h>

/* The queue's default bound: texts waiting to be written, in bytes. */
#define WSR_WRITER_QUEUE_BYTES ((size_t)64 << 20)

typedef struct wsr_writer wsr_writer;

typedef struct wsr_writer_stats {
    unsigned long written; /* files renamed into place */
    unsigned long dropped; /* texts refused: the queue was full */
    unsigned long failed;  /* texts whose file could not be written */
    size_t queued_bytes;   /* bytes waiting now */
    size_t peak_bytes;     /* the most that ever waited */
} wsr_writer_stats;

/* A writer into dir (which must exist), its queue bounded to max_bytes;
 * no thread yet. NULL if out of memory. */
wsr_writer *wsr_writer_new(const char *dir, size_t max_bytes);

/* Starts the thread. Texts submitted before wait in the queue. Returns 0,
 * or -1 with errno set. */
int wsr_writer_start(wsr_writer *w);

/* Queues text[0..len) for DIR/NAME.json and takes text (malloc'd) in every
 * case. Returns 0, or -1 when it was refused (queue full, out of memory,
 * writer closing) and freed. Never blocks on the disk. */
int wsr_writer_submit(wsr_writer *w, const char *name, char *text, size_t len);

void wsr_writer_stats_get(wsr_writer *w, wsr_writer_stats *out);

/* Writes everything queued (here, at the caller's priority, and on the
 * thread, if it runs), syncs DIR's filesystem, stops the thread, fills
 * *out (if not NULL) and frees w. Returns 0, or -1 if some file failed or
 * the sync did. */
int wsr_writer_close(wsr_writer *w, wsr_writer_stats *out);

#endif
