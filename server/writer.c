#include "writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"
#include "metrics.h"

struct sb_writer {
    sb_store_t *store;
    size_t max_jobs;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    sb_write_job_t *queue_head, *queue_tail; /* submitted, not yet taken */
    sb_write_job_t *done_head, *done_tail;   /* finished, not yet handed back */
    bool stopping;
    uv_async_t async;
    size_t commits, jobs; /* under lock */
    /* The change log's retention (writer thread, after sb_writer_retain). */
    uint64_t keep;
    int64_t keep_ms;
    /* A shard's primary: brings the store up to its stream (sb_writer_resync). */
    int (*resync)(void *ctx);
    void *resync_ctx;
};

/* Entries one trim deletes at most: its transaction stays short, and a
 * backlog (a lowered --changes-keep) is worked off over many commits. */
#define TRIM_MAX 1000

/* Trims the change log in a transaction of its own after a commit. When
 * nothing is past the bounds, the transaction changes nothing, and LMDB
 * commits it without writing; the store trims only once the log is a
 * thousandth past a bound, so a log at its bound costs an extra commit
 * every thousand batches or so, not one per batch. */
static void trim_changes(sb_writer_t *w)
{
    pthread_mutex_lock(&w->lock);
    uint64_t keep = w->keep;
    int64_t keep_ms = w->keep_ms;
    pthread_mutex_unlock(&w->lock);
    if (keep == 0 && keep_ms == 0)
        return;
    size_t trimmed = 0;
    sb_err_t err;
    if (sb_store_changes_trim(w->store, keep, keep_ms, TRIM_MAX, &trimmed, &err) != 0)
        sb_warn("writer: trimming the change log failed: %s", err.message);
}

static void append(sb_write_job_t **head, sb_write_job_t **tail, sb_write_job_t *first,
                   sb_write_job_t *last)
{
    if (*tail)
        (*tail)->next = first;
    else
        *head = first;
    *tail = last;
}

/* Runs each job in a batch of its own: after the map could not grow, every
 * job gets its own answer (STORE_FULL for those that do not fit). The writer
 * thread only ever touches the store inside a batch, so that its reads go
 * through the batch and never through the loop's cached read transaction. */
static void run_alone(sb_writer_t *w, sb_write_job_t *jobs)
{
    for (sb_write_job_t *j = jobs; j; j = j->next) {
        sb_err_t err;
        int rc = sb_store_batch_begin(w->store, &err);
        if (rc == 0 && j->run(j) == 0)
            rc = sb_store_batch_commit(w->store, &err);
        else if (rc == 0)
            sb_store_batch_abort(w->store); /* its answer is its own error */
        if (rc != 0)
            j->fail(j, rc, err.message);
    }
}

/* One group commit of the jobs in the list. */
static void commit_group(sb_writer_t *w, sb_write_job_t *jobs)
{
    bool reclaimed = false;
    int resyncs = 0;
    for (;;) {
        sb_err_t err;
        int rc = sb_store_batch_begin(w->store, &err);
        if (rc != 0) {
            for (sb_write_job_t *j = jobs; j; j = j->next)
                j->fail(j, rc, err.message);
            return;
        }
        bool full = false;
        for (sb_write_job_t *j = jobs; j; j = j->next)
            full |= j->run(j) == -ENOSPC;
        rc = full ? -ENOSPC : sb_store_batch_commit(w->store, &err);
        if (full)
            sb_store_batch_abort(w->store);
        if (rc == 0)
            return;
        /* A shard's primary whose stream holds this sequence already (its
         * earlier commit of it failed after the publish): take the stream's
         * entry, then replay the batch after it. */
        if (rc == -EAGAIN && w->resync != NULL && resyncs++ < 3) {
            int resync_rc = w->resync(w->resync_ctx);
            if (resync_rc == 0) {
                sb_info("writer: the store took its stream's newer entries; replaying a batch");
                continue;
            }
            rc = resync_rc;
            sb_err_default(&err, rc);
        }
        if (rc == -ENOSPC) {
            if (sb_store_grow(w->store, &err) == 0) {
                sb_info("writer: the store's map grew; replaying a batch");
                continue;
            }
            /* At the maximum map size. Pages that deletes freed in the last
             * commit become reusable only after a later commit (LMDB keeps
             * them for the snapshot before it): commit a small write of the
             * store's own, then replay once before refusing. */
            if (!reclaimed) {
                reclaimed = true;
                sb_err_t reclaim_err;
                if (sb_store_reclaim(w->store, &reclaim_err) == 0) {
                    sb_info("writer: the store is at its maximum map size; committed to "
                            "reclaim freed pages, replaying a batch");
                    continue;
                }
            }
            run_alone(w, jobs);
            return;
        }
        sb_error("writer: a group commit failed: %s", err.message);
        for (sb_write_job_t *j = jobs; j; j = j->next)
            j->fail(j, rc, err.message);
        return;
    }
}

static void *writer_main(void *arg)
{
    sb_writer_t *w = arg;
    sb_metrics_writer_alive(true);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->queue_head == NULL && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->queue_head == NULL)
            break; /* stopping, and nothing left */
        /* Take up to max_jobs: all that queued while the last commit ran. */
        sb_write_job_t *first = w->queue_head, *last = first;
        size_t n = 1;
        while (last->next != NULL && n < w->max_jobs) {
            last = last->next;
            n++;
        }
        w->queue_head = last->next;
        if (w->queue_head == NULL)
            w->queue_tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&w->lock);

        uint64_t started = uv_hrtime();
        commit_group(w, first);
        sb_metrics_commit(n, uv_hrtime() - started);
        trim_changes(w);

        pthread_mutex_lock(&w->lock);
        w->commits++;
        w->jobs += n;
        append(&w->done_head, &w->done_tail, first, last);
        uv_async_send(&w->async);
    }
    pthread_mutex_unlock(&w->lock);
    sb_metrics_writer_alive(false);
    return NULL;
}

static void hand_back_cb(uv_async_t *async)
{
    sb_writer_t *w = async->data;
    pthread_mutex_lock(&w->lock);
    sb_write_job_t *jobs = w->done_head;
    w->done_head = w->done_tail = NULL;
    pthread_mutex_unlock(&w->lock);
    while (jobs != NULL) {
        sb_write_job_t *next = jobs->next;
        jobs->done(jobs); /* may free the job */
        jobs = next;
    }
}

int sb_writer_start(uv_loop_t *loop, sb_store_t *store, size_t max_jobs, sb_writer_t **out)
{
    *out = NULL;
    sb_writer_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->store = store;
    w->max_jobs = max_jobs ? max_jobs : 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    int rc = uv_async_init(loop, &w->async, hand_back_cb);
    if (rc != 0) {
        free(w);
        return rc;
    }
    w->async.data = w;
    rc = pthread_create(&w->thread, NULL, writer_main, w);
    if (rc != 0) {
        uv_close((uv_handle_t *)&w->async, NULL);
        return -rc; /* the handle is closed; the struct leaks only on this path at start */
    }
    *out = w;
    return 0;
}

void sb_writer_retain(sb_writer_t *w, uint64_t keep, int64_t keep_ms)
{
    pthread_mutex_lock(&w->lock);
    w->keep = keep;
    w->keep_ms = keep_ms;
    pthread_mutex_unlock(&w->lock);
}

void sb_writer_resync(sb_writer_t *w, int (*resync)(void *ctx), void *ctx)
{
    w->resync = resync;
    w->resync_ctx = ctx;
}

void sb_writer_submit(sb_writer_t *w, sb_write_job_t *job)
{
    job->next = NULL;
    pthread_mutex_lock(&w->lock);
    append(&w->queue_head, &w->queue_tail, job, job);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void sb_writer_counts(sb_writer_t *w, size_t *commits, size_t *jobs)
{
    pthread_mutex_lock(&w->lock);
    *commits = w->commits;
    *jobs = w->jobs;
    pthread_mutex_unlock(&w->lock);
}

static void free_cb(uv_handle_t *handle)
{
    sb_writer_t *w = handle->data;
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    free(w);
}

void sb_writer_stop(sb_writer_t *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    hand_back_cb(&w->async); /* whatever finished after the last wake-up */
    uv_close((uv_handle_t *)&w->async, free_cb);
}
