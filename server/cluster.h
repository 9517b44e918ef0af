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
 *     abort, NOT_PRIMARY, fenced, then a replica by itself
 *
 * Who is the primary, at which epoch, is in the placement bucket
 * SB_placement (shard.<S>, member.<M>, org.<ORG>: JSON values, changed by
 * compare-and-set); the epoch in the message ids comes from there. A member
 * named primary there (cluster.promote) catches up and takes writes; one
 * that sees another named is fenced and follows.
 *
 * NATS never runs on the event loop: the primary publishes from the thread
 * that commits (the writer's; the main thread's before the loop starts),
 * the replica follows on a thread of its own, which also carries out the
 * role changes; a third watches the bucket and writes member.<M>. The loop
 * reads the status and the bucket's copy.
 */

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

typedef struct sb_cluster sb_cluster_t;

/** The longest shard name: letters, digits, '-' and '_'. */
#define SB_SHARD_MAX 32

/** The longest member name (the placement bucket's member.<M>): the same characters. */
#define SB_MEMBER_MAX 32

/** What server.info shows of the cluster. */
typedef struct sb_cluster_status {
    bool replica; /* else the shard's primary */
    bool fenced;  /* a primary another one took over from: refuses writes, soon a replica */
    char shard[SB_SHARD_MAX + 1];
    char member[SB_MEMBER_MAX + 1];  /* this server's name in the placement bucket */
    char primary[SB_MEMBER_MAX + 1]; /* the shard's primary as the bucket names it; "": unknown */
    uint32_t number;                 /* the shard's number (in every id minted here) */
    uint64_t epoch;
    uint64_t applied; /* the last change in the local store */
    uint64_t lag;     /* replica: messages of the stream not yet applied */
    char error[256];  /* replica: why it stopped following; "" while it follows */
} sb_cluster_status_t;

/** How a member starts (its settings). [borrowed: for the call] */
typedef struct sb_cluster_opts {
    const char *urls;     /* comma-separated nats:// URLs */
    const char *shard;    /* the shard's name */
    bool replica;         /* --replica-of: never creates the shard's placement */
    const char *member;   /* --member; "" or NULL: the shard, '-', the data directory's name */
    const char *data_dir; /* for the default member name */
    const char *socket;   /* this server's socket, for member.<M> */
} sb_cluster_opts_t;

/**
 * Connects to the NATS servers and makes sure the shard's stream and the
 * placement bucket SB_placement exist (created when missing). The bucket
 * decides the role: with --shard a missing shard.<S> is created naming
 * this member primary at epoch 1; a shard.<S> naming this member makes it
 * the primary at the bucket's epoch; one naming another member makes it a
 * replica (a restarted old primary never takes a write), registered in
 * shard.<S>'s replicas. A primary first applies what the stream holds past
 * its store, then publishes every change-log entry of `store` before its
 * transaction commits. A replica refuses every local write with NOT_PRIMARY
 * and checks that the stream still holds its next change. The store mints
 * ids in the shard's number's space. member.<M> is written.
 * Errors: -EINVAL (a bad shard or member name or URL, a store ahead of its
 * stream, a stream that no longer holds the next change, a replica of a
 * shard the bucket does not know: the message says which),
 * SB_E_CLUSTER_UNAVAILABLE (NATS does not answer), -ENOMEM.
 * *out [owned: free with sb_cluster_free()]; `store` [borrowed: outlives it].
 */
int sb_cluster_open(const sb_cluster_opts_t *opts, sb_store_t *store, sb_cluster_t **out,
                    sb_err_t *err);

/**
 * Starts the member's two threads: one follows the stream while it is a
 * replica (and turns it into the primary when the bucket names it, or a
 * fenced primary into a replica), one watches the placement bucket and
 * writes member.<M> every few seconds.
 */
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

/**
 * Packs cluster.show's result from the member's copy of the placement bucket
 * (kept by its watch thread: no NATS request here, any thread): {member,
 * shards: [{shard, number, epoch, primary, replicas, orgs}], members:
 * [{member, shard, role, epoch, applied, socket, error, age_ms}]}. Counts of
 * orgs only, never their names.
 */
int sb_cluster_show(sb_cluster_t *cluster, msgpack_packer *pk);

/** What cluster.promote did. */
typedef struct sb_cluster_promoted {
    uint64_t epoch;                      /* the shard's new epoch */
    char old_primary[SB_MEMBER_MAX + 1]; /* now one of its replicas */
} sb_cluster_promoted_t;

/**
 * cluster.promote: names `member` the primary of `shard` at the next epoch,
 * the old primary one of its replicas, in one compare-and-set of
 * shard.<S>. `member` must be one of the shard's replicas whose member.<M>
 * says it follows without error, written within SB_PROMOTE_FRESH_MS, and
 * at most SB_PROMOTE_MAX_BEHIND changes behind the shard's stream.
 * Makes NATS requests: a pool thread, never the event loop.
 * Errors: -EINVAL (names), -ENOENT (no such shard), SB_E_PROMOTE_REFUSED,
 * SB_E_PLACEMENT_CHANGED, SB_E_CLUSTER_UNAVAILABLE.
 */
int sb_cluster_promote(sb_cluster_t *cluster, const char *shard, const char *member,
                       sb_cluster_promoted_t *out, sb_err_t *err);

/** A replica more than this many changes behind its stream is not promoted. */
#define SB_PROMOTE_MAX_BEHIND 1000
/** ...nor one whose member.<M> is older than this (it is not alive). */
#define SB_PROMOTE_FRESH_MS 10000

/**
 * org.create's placement, before the local write: creates org.<ORG> naming
 * this shard (create-only). An org id held by another shard is refused with
 * -EEXIST, the store's "already exists"; one held by this shard already (an
 * attempt whose local write failed) is taken over. Primary only; NATS
 * requests: a pool thread. Returns 0 with no cluster.
 */
int sb_cluster_org_claim(sb_cluster_t *cluster, const char *org, sb_err_t *err);

/**
 * After org.create or org.delete ended (written, or failed): the watch
 * thread checks soon whether `org` is in the local store, and deletes
 * org.<ORG> when it is not and the key names this shard as serving (a
 * create whose write failed is undone; a delete is carried to the bucket).
 * Any thread; nothing with no cluster.
 */
void sb_cluster_org_settle(sb_cluster_t *cluster, const char *org);
