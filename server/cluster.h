#pragma once
/*
 * A shard's primary and replicas on NATS JetStream (docs/cluster.md).
 *
 * Each shard has one stream, SB_<shard>, on subject sb.shard.<shard>,
 * replicated three times. Its sequence numbers are the change log's: entry N
 * of the primary's log is message N of the stream.
 *
 *   primary (writer thread)               replica (its own thread)
 *   batch runs, entry N built             ordered consumer from applied + 1
 *   publish N: id shard:epoch:N,          entry N: apply it and keep N in one
 *     expected last sequence N - 1          LMDB transaction (exactly once)
 *   ack -> commit, answer                 a gap, or N not held: stop, say why
 *   10071 (another primary appended):
 *     abort, NOT_PRIMARY, refuse writes
 *
 * NATS never runs on the event loop: the primary publishes from the thread
 * that commits (the writer's; the main thread's before the loop starts),
 * the replica follows on a thread of its own. The loop reads the status.
 */

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

typedef struct sb_cluster sb_cluster_t;

/** The longest shard name: letters, digits, '-' and '_'. */
#define SB_SHARD_MAX 32

/** What server.info shows of the cluster. */
typedef struct sb_cluster_status {
    bool replica; /* else the shard's primary */
    bool fenced;  /* a primary another one took over from: refuses writes */
    char shard[SB_SHARD_MAX + 1];
    uint64_t epoch;
    uint64_t applied; /* the last change in the local store */
    uint64_t lag;     /* replica: messages of the stream not yet applied */
    char error[256];  /* replica: why it stopped following; "" while it follows */
} sb_cluster_status_t;

/**
 * Connects to the NATS servers `urls` (comma-separated nats:// URLs) and
 * makes sure the shard's stream exists (created, with three replicas, when
 * missing). A primary (`replica` false) first applies what the stream holds
 * past its store (an entry published before a crash kept it from
 * committing), then publishes every change-log entry of `store` before its
 * transaction commits. A replica refuses every local write with NOT_PRIMARY
 * and checks that the stream still holds its next change.
 * Errors: -EINVAL (a bad shard name or URL, a store ahead of its stream, a
 * stream that no longer holds the next change: the message says which),
 * SB_E_CLUSTER_UNAVAILABLE (NATS does not answer), -ENOMEM.
 * *out [owned: free with sb_cluster_free()]; `store` [borrowed: outlives it].
 */
int sb_cluster_open(const char *urls, const char *shard, bool replica, sb_store_t *store,
                    sb_cluster_t **out, sb_err_t *err);

/** A replica starts following its stream on a thread of its own. A primary: nothing. */
int sb_cluster_start(sb_cluster_t *cluster, sb_err_t *err);

/** Stops the replica's thread, closes the connection, frees. NULL does nothing. */
void sb_cluster_free(sb_cluster_t *cluster);

/** Whether writes are taken here: no cluster, or a primary not fenced. */
bool sb_cluster_writable(const sb_cluster_t *cluster);

/** The status (any thread). */
void sb_cluster_status(sb_cluster_t *cluster, sb_cluster_status_t *out);

/**
 * The writer's resync, after a commit refused with -EAGAIN (the stream holds
 * this store's next entry already, from an attempt whose local commit
 * failed): applies what the stream holds past the store. No batch may be
 * open. `ctx` is the cluster. Returns 0 or an error code.
 */
int sb_cluster_resync(void *ctx);

/**
 * Waits until the store has applied change `seq`, at most `wait_ms`.
 * Returns true when it has (at once on a primary, or with no cluster).
 * Any thread but the replica's own; the event loop uses `wait_ms` 0.
 */
bool sb_cluster_wait_applied(sb_cluster_t *cluster, uint64_t seq, unsigned wait_ms);

/**
 * Whether a replica applied a deletion of tokens (a revocation, an org's
 * delete) since the last call; clears it. The loop then closes the
 * connections whose token is gone. False on a primary or with no cluster.
 */
bool sb_cluster_take_tokens_changed(sb_cluster_t *cluster);
