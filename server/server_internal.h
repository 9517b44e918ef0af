#pragma once
/* Shared by server.c and conn.c. */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "methods.h"
#include "metrics_http.h"
#include "writer.h"

typedef struct sb_conn sb_conn_t;
typedef struct request request_t;

/*
 * A log line that may come thousands of times a second (a refused
 * connection, a failed authentication): at most one a second, with the
 * number of lines left out since the last one.
 */
typedef struct sb_log_limit {
    uint64_t last_ms;    /* when a line was last written */
    uint64_t suppressed; /* lines left out since */
    char last[160];      /* the last line left out, for the count's line */
} sb_log_limit_t;

/*
 * Access ended by a write that ran on the writer thread but is not yet
 * durable and acted on (the connections not yet closed): every write that
 * runs after it, of a connection holding that token or a token of that org,
 * is refused. Shared by the writer thread and the loop, under its lock.
 */
#define SB_ENDED_MAX 32
typedef struct sb_ended {
    pthread_mutex_t lock;
    size_t n;
    struct {
        char token_id[SB_TOKEN_ID_MAX + 1]; /* "" when an org ended */
        char org[SB_ORG_ID_MAX + 1];        /* "" when a token ended */
    } rows[SB_ENDED_MAX];
} sb_ended_t;

typedef struct sb_server {
    uv_loop_t *loop;
    uv_pipe_t listener;
    uv_signal_t sigterm, sigint;
    uv_signal_t sighup;      /* reloads the settings that may change while serving */
    uv_timer_t watchdog;     /* systemd's watchdog pings, when WatchdogSec= is set */
    sb_metrics_http_t *http; /* --metrics-address's endpoint, or NULL */
    int argc;                /* the command line, read again on SIGHUP */
    char **argv;
    uv_timer_t ticker; /* once a second: cut off stalled, idle and unauthenticated connections */
    uv_timer_t drain;  /* on SIGTERM: closes what is still open after --drain-timeout-ms */
    uv_timer_t held;   /* sends failed authentications' replies once their delay is over */
    uv_idle_t slicer;  /* runs the next slice of requests that work in slices */
    request_t *slices, *slices_tail; /* requests waiting for their next slice, in turn */
    /* Connections whose pass over pipelined requests used its budget, waiting
     * (a reference each) for the slicer to run their next pass, in turn. */
    sb_conn_t *deferred, *deferred_tail;
    /* Requests whose prepare step waits for their org's turn on the thread
     * pool (at most ORG_PREPARES_MAX of an org's there at once), in order. */
    request_t *prep_waiting, *prep_waiting_tail;
    /* Finished requests kept for the next ones, with their message and reply buffers, so that
     * a request in the steady state allocates no request, message copy or reply. */
    request_t *spare_requests;
    size_t n_spare_requests;
    sb_writer_t *writer;
    sb_config_t cfg;
    sb_service_t svc;
    sb_conn_t *conns; /* every open connection, a doubly linked list, newest first */
    uint64_t next_conn_id;
    size_t inflight;        /* requests being served, over all connections */
    size_t unread_bytes;    /* replies queued over all connections (queued_bytes summed) */
    size_t unauthenticated; /* open connections that have not authenticated (in svc.connections) */
    size_t authenticated;   /* open connections that have (the slots of --max-connections) */
    size_t fd_connections;  /* connections the open-files limit leaves room for (0: no limit) */
    uint64_t auth_failures_recent; /* failed authentications, halved every second */
    size_t freed_bytes;            /* buffer memory freed since the allocator was last trimmed */
    sb_ended_t ended;
    size_t watchers;       /* connections with a changes.watch */
    bool watch_kick;       /* a commit (or a paused watcher's room) since their last pass */
    uint64_t watch_resume; /* the connection whose pass used up the last turn's budget (0: none) */
    sb_log_limit_t refusals_log, slots_log, auth_log, closes_log, unread_log;
    bool stopping;
    bool closing_conns;
} sb_server_t;

/** Logs a line unless one went out less than a second ago (then counts it). */
void sb__log_limited(sb_server_t *server, sb_log_limit_t *limit, sb_log_level_t level,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** Once a second: writes the count of lines a limit left out, when no new line did. */
void sb__log_limited_flush(sb_server_t *server, sb_log_limit_t *limit, sb_log_level_t level);

/** Initializes the handles conn.c uses on the server (the held-reply timer, the slicer). */
void sb__conn_handles_init(sb_server_t *server);

/** Closes them (shutdown, once nothing is in flight). */
void sb__conn_handles_close(sb_server_t *server);

/** Frees the spare requests (at the very end). */
void sb__conn_spares_free(sb_server_t *server);

/** Accepts a connection on the listener (or refuses it past the limit). */
void sb__conn_accept(sb_server_t *server);

/** Stops reading every connection (shutdown: no new requests). */
void sb__conn_stop_reading_all(sb_server_t *server);

/** Closes every connection once its queued replies are written. */
void sb__conn_close_all(sb_server_t *server);

/** Closes every connection now, replies queued or not (the drain deadline passed). */
void sb__conn_close_now_all(sb_server_t *server, const char *why);

/**
 * Once a second: cuts off connections whose queued replies made no progress
 * for too long, that did not authenticate in time, or that sat idle too long.
 */
void sb__conn_check_timeouts(sb_server_t *server, uint64_t now_ms);
/**
 * Closes every authenticated connection whose token the store no longer
 * holds: a replica's revocations come from its stream, not from a write of
 * its own (which closes them as it lands). Loop thread.
 */
void sb__conn_revalidate(sb_server_t *server);

/** Called whenever a request finishes; finishes a shutdown when it was the last. */
void sb__server_request_done(sb_server_t *server);
