#pragma once
/*
 * What the running server counts, for operators: requests and errors per
 * method, latencies, connections, bytes, group commits, the store's and the
 * adapters' state, and the health of the loop and the writer.
 *
 * One set per process. Counters are relaxed atomics that the loop and the
 * writer add to and the HTTP thread (metrics_http.c) reads: neither ever
 * waits for a scrape. Gauges that need the store or the plugin host are
 * gathered by the loop once a second (sb_metrics_sample) into a snapshot the
 * HTTP thread copies under a lock held only for the copy.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "methods.h"

struct sb_plugin_host;

/** Why a connection was refused (switchboard_connections_refused_total{reason}). */
typedef enum sb_metrics_refusal {
    SB_METRICS_REFUSED_OPEN_FILES = 0,  /* the open-files limit */
    SB_METRICS_REFUSED_UNAUTHENTICATED, /* --max-unauthenticated */
    SB_METRICS_REFUSED_SLOTS,           /* --max-connections (and the admin's reserve) */
    SB_METRICS_REFUSED_ORG_SLOTS,       /* --max-connections-per-org */
    SB_METRICS_REFUSED_N,
} sb_metrics_refusal_t;

/** Builds the method index (the method table's order). Call once before serving. */
int sb_metrics_init(void);

/**
 * A request finished with `rc` (0 or an error code). `m` is NULL for an
 * unknown method. `total_ns`: from its read to its reply (a write's until
 * durable); `loop_ns`: the time its method ran on the event loop.
 */
void sb_metrics_request(const sb_method_t *m, int rc, uint64_t total_ns, uint64_t loop_ns);

/** Connections: accepted, closed, refused. */
void sb_metrics_conn_opened(void);
void sb_metrics_conn_closed(void);
void sb_metrics_conn_refused(sb_metrics_refusal_t why);

/** Bytes read from clients, and reply bytes queued for them. */
void sb_metrics_bytes_in(size_t n);
void sb_metrics_bytes_out(size_t n);

/** A group commit of `writes` jobs took `ns` (writer thread). */
void sb_metrics_commit(size_t writes, uint64_t ns);

/** The writer thread started (true) or ended (false). */
void sb_metrics_writer_alive(bool alive);

/** The store is open (true) or closed (false). */
void sb_metrics_store_open(bool open);

/** The server is draining (SIGTERM): not ready any more. */
void sb_metrics_stopping(bool stopping);

/**
 * The loop's once-a-second turn: records the heartbeat /readyz checks, and
 * samples the store's sizes, reader slots, change-log sequence, the
 * adapters' states and, with `cluster` (NULL: standalone), the shard
 * member's role, epoch, applied sequence and lag. Loop thread.
 */
void sb_metrics_sample(sb_store_t *store, struct sb_plugin_host *plugins,
                       struct sb_cluster *cluster);

/** How long ago the loop last turned (ms), by the monotonic clock: the
 * stalest of the loops (UINT64_MAX: one has never turned). */
uint64_t sb_metrics_heartbeat_age_ms(void);

/** The most loops whose heartbeats /readyz watches (--loops' own bound). */
#define SB_METRICS_LOOPS_MAX 64

/** How many event loops serve (--loops): each one's heartbeat counts. */
void sb_metrics_loops(unsigned n);

/** Loop `index`'s (1 and up) once-a-second turn; the first loop's is sb_metrics_sample. */
void sb_metrics_loop_beat(unsigned index);

/** The age of the stalest loop's heartbeat (ms), and which loop (`index`, may be NULL). */
uint64_t sb_metrics_stalest_loop(unsigned *index);

/** A loop heartbeat older than this makes the server not ready. */
#define SB_METRICS_HEARTBEAT_MAX_MS 5000

/**
 * Whether the server is ready (the store open, the writer alive, the loop
 * turning, not stopping); when not, `why` gets a sentence. Any thread.
 */
bool sb_metrics_ready(char *why, size_t why_size);

/**
 * The Prometheus text exposition of every metric, in `*out`
 * [owned: free()], `*len` bytes. Any thread. Returns 0 or -ENOMEM.
 */
int sb_metrics_render(char **out, size_t *len);
