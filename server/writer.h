#pragma once
/*
 * The writer thread: every write of the server runs here, many at a time in
 * one transaction (group commit), and is answered on the event loop only
 * once that transaction is durable.
 *
 *   loop thread                 writer thread
 *   submit(job) ──queue──>  take every queued job (up to the batch limit)
 *                           begin batch; job->run() each, in a nested txn
 *                           map full? abort, grow, replay (or run each alone)
 *                           commit (fsync)  ─ fails? job->fail() each
 *   job->done() <──async──  hand the jobs back
 */

#include <stddef.h>
#include <uv.h>

#include "store.h"

typedef struct sb_write_job sb_write_job_t;
struct sb_write_job {
    sb_write_job_t *next; /* private to the writer */
    /* Runs the write (writer thread). May run more than once (a replay after
     * the map grew): it must start from scratch each time. Returns 0 or the
     * write's code; -ENOSPC means the map was full. */
    int (*run)(sb_write_job_t *job);
    /* The batch's commit failed after run() succeeded (writer thread). */
    void (*fail)(sb_write_job_t *job, int code, const char *message);
    /* Back on the loop thread, once the outcome is durable or final. */
    void (*done)(sb_write_job_t *job);
};

typedef struct sb_writer sb_writer_t;

/**
 * Starts the writer thread for `store`, handing finished jobs back on
 * `loop`. At most `max_jobs` jobs share one transaction. *out [owned: stop
 * with sb_writer_stop()].
 */
int sb_writer_start(uv_loop_t *loop, sb_store_t *store, size_t max_jobs, sb_writer_t **out);

/**
 * The change log's retention: after its commits, the writer trims entries
 * beyond the newest `keep` (0: no bound) or older than `keep_ms` (0: no
 * bound), at most 1000 entries a transaction. Call it before the first
 * submit.
 */
void sb_writer_retain(sb_writer_t *writer, uint64_t keep, int64_t keep_ms);

/**
 * A shard's primary: when a commit is refused with -EAGAIN (its stream holds
 * the batch's sequence already), the writer calls resync(ctx) to bring the
 * store up to the stream, then replays the batch (at most 3 times). Call it
 * before the first submit.
 */
void sb_writer_resync(sb_writer_t *writer, int (*resync)(void *ctx), void *ctx);

/** Queues a job (loop thread). */
void sb_writer_submit(sb_writer_t *writer, sb_write_job_t *job);

/**
 * Finishes the queued jobs, joins the thread, and closes the loop handle;
 * the writer is freed when the loop has closed the handle. Loop thread.
 */
void sb_writer_stop(sb_writer_t *writer);

/** How many group commits and jobs the writer has done (for tests and logs). */
void sb_writer_counts(sb_writer_t *writer, size_t *commits, size_t *jobs);
