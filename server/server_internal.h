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

#define SB_LOOPS_MAX 64

typedef struct sb_server sb_server_t;

/* A connection accepted on the first loop, handed to another one. */
typedef struct sb_handoff {
    struct sb_handoff *next;
    uint64_t id; /* the connection's, given when accepted */
    int fd;
} sb_handoff_t;

/*
 * One event-loop thread (--loops): its own libuv loop, its connections, and
 * the work that belongs to them. The first runs on the main thread and also
 * holds the listener, the signals and the server-wide duties; the others run
 * threads of their own. A loop's handles are touched only by its thread;
 * another thread asks it for work (a connection to adopt, connections to
 * close, watchers to wake) by setting state under the server's lock and
 * sending `wake`.
 */
typedef struct sb_loop {
    sb_server_t *server;
    uv_loop_t *loop;
    uv_thread_t thread;
    request_t *slices, *slices_tail; /* requests waiting for their next slice, in turn */
    /* Connections whose pass over pipelined requests used its budget, waiting
     * (a reference each) for the slicer to run their next pass, in turn. */
    sb_conn_t *deferred, *deferred_tail;
    /* Requests whose prepare step waits for their org's turn on the thread
     * pool, in order. */
    request_t *prep_waiting, *prep_waiting_tail;
    /* Finished requests kept for the next ones, with their message and reply buffers, so that
     * a request in the steady state allocates no request, message copy, msgpack zone or reply. */
    request_t *spare_requests;
    size_t n_spare_requests;
    /* Writes that the writer handed back on the first loop, for this one (server lock). */
    request_t *writes_done, *writes_done_tail;
    sb_handoff_t *handoffs, *handoffs_tail; /* accepted connections to adopt, in order */
    sb_conn_t *conns;                       /* this loop's open connections, newest first */
    size_t connections;                     /* their count (the listener's choice, server.info) */
    size_t freed_bytes;        /* buffer memory freed since the allocator was last trimmed */
    size_t watchers;           /* connections with a changes.watch */
    uint64_t watch_resume;     /* the connection whose pass used up the last turn's budget */
    const char *close_now_why; /* set by another thread: close every connection now (drain) */
    sb_conn_t
        *top_pass;     /* the connection whose pass read_cb is starting (conn.c's process_buffer) */
    sb_service_t svc;  /* the server's, with this loop's own answer cache */
    uv_idle_t slicer;  /* runs the next slice of requests that work in slices */
    uv_async_t wake;   /* another thread set something for this loop */
    uv_timer_t ticker; /* once a second: this loop's connections' timeouts */
    uv_timer_t held;   /* sends failed authentications' replies once their delay is over */
    uv_loop_t own_loop; /* the loops past the first */
    unsigned index;
    bool thread_started;
    bool wake_closed; /* its thread closed it: nobody may send it again */
    bool watch_kick;  /* a commit (or a paused watcher's room) since their last pass */
    /* What another thread asked of this loop, or it did once (server lock): */
    bool stop_seen;     /* the server's stopping was acted on */
    bool shutdown_seen; /* the shutdown's closes were made */
    bool close_marked;  /* some connection has close_why set */
} sb_loop_t;

struct sb_server {
    /*
     * The server's lock (sb__server_lock), recursive: every callback of the
     * loops runs under it, so that what is server-wide (the counts and
     * limits, the other loops' connection lists, the log limits, the
     * settings) is seen by one thread at a time. A loop lets go of it while a
     * read method runs that touches only its own call and store snapshot
     * (conn.c's run_unlocked), while its pass writes its replies to the
     * socket, and while it waits for events: that is where the loops overlap.
     * Not a plain mutex: with one, a loop that lets go and takes it again
     * between the steps of a long pipelined pass kept the other loops out
     * for the pass's length; here a thread that waited a millisecond goes
     * next. `gate` guards the fields below it; `turn` wakes the waiters.
     */
    pthread_mutex_t gate;
    pthread_cond_t turn;
    bool held;         /* some thread holds the lock */
    unsigned waiting;  /* threads waiting for it */
    unsigned starving; /* of them, those that waited past their turn: only they may take it */
    uv_loop_t *loop;   /* the first loop's */
    sb_loop_t loops[SB_LOOPS_MAX];
    unsigned n_loops;
    unsigned next_loop;                    /* round robin among the least loaded */
    size_t loop_connections[SB_LOOPS_MAX]; /* server.info's view of each loop's count */
    struct sb_answer_cache *loop_answers[SB_LOOPS_MAX];
    uv_pipe_t listener;
    uv_signal_t sigterm, sigint;
    uv_signal_t sighup;      /* reloads the settings that may change while serving */
    uv_timer_t watchdog;     /* systemd's watchdog pings, when WatchdogSec= is set */
    sb_metrics_http_t *http; /* --metrics-address's endpoint, or NULL */
    int argc;                /* the command line, read again on SIGHUP */
    char **argv;
    uv_timer_t ticker; /* once a second: the server-wide duties */
    uv_timer_t drain;  /* on SIGTERM: closes what is still open after --drain-timeout-ms */
    sb_writer_t *writer;
    sb_config_t cfg;
    sb_service_t svc;
    uint64_t next_conn_id;
    size_t inflight;        /* requests being served, over all connections */
    size_t unread_bytes;    /* replies queued over all connections (queued_bytes summed) */
    size_t unauthenticated; /* open connections that have not authenticated (in svc.connections) */
    size_t authenticated;   /* open connections that have (the slots of --max-connections) */
    size_t fd_connections;  /* connections the open-files limit leaves room for (0: no limit) */
    uint64_t auth_failures_recent; /* failed authentications, halved every second */
    sb_ended_t ended;
    sb_log_limit_t refusals_log, slots_log, auth_log, closes_log, unread_log;
    bool stopping;
    bool closing_conns;
};

/** Logs a line unless one went out less than a second ago (then counts it). */
void sb__log_limited(sb_server_t *server, sb_log_limit_t *limit, sb_log_level_t level,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** Once a second: writes the count of lines a limit left out, when no new line did. */
void sb__log_limited_flush(sb_server_t *server, sb_log_limit_t *limit, sb_log_level_t level);

/** Takes the server's lock (again, when this thread holds it: recursive). */
void sb__server_lock(sb_server_t *server);

/** Lets go of it once (each take, one let go). */
void sb__server_unlock(sb_server_t *server);

/** Wakes `loop`'s thread to act on what was set for it (server lock; any thread). */
void sb__loop_poke(sb_loop_t *loop);

/** Initializes the handles conn.c uses on a loop (the held-reply timer, the slicer). */
void sb__conn_handles_init(sb_loop_t *loop);

/** Closes them (shutdown, once nothing is in flight). */
void sb__conn_handles_close(sb_loop_t *loop);

/** Frees a loop's spare requests (at the very end). */
void sb__conn_spares_free(sb_loop_t *loop);

/** Accepts a connection on the listener for the least loaded loop (first loop). */
void sb__conn_accept(sb_server_t *server);

/** What another thread asked of `loop`: connections to adopt or close, writes done, watchers. */
void sb__conn_woken(sb_loop_t *loop);

/** Stops reading every connection of the loop (shutdown: no new requests). */
void sb__conn_stop_reading_all(sb_loop_t *loop);

/** Closes every connection of the loop once its queued replies are written. */
void sb__conn_close_all(sb_loop_t *loop);

/** Closes every connection of the loop now, replies queued or not (the drain deadline passed). */
void sb__conn_close_now_all(sb_loop_t *loop, const char *why);

/**
 * Once a second: cuts off the loop's connections whose queued replies made
 * no progress for too long, that did not authenticate in time, or that sat
 * idle too long.
 */
void sb__conn_check_timeouts(sb_loop_t *loop, uint64_t now_ms);

/** Once a second on the first loop: the server-wide counts and log limits. */
void sb__conn_server_tick(sb_server_t *server);
/**
 * Closes every authenticated connection, on every loop, whose token the
 * store no longer holds: a replica's revocations come from its stream, not
 * from a write of its own (which closes them as it lands). First loop.
 */
void sb__conn_revalidate(sb_server_t *server);

/** Called whenever a request finishes; finishes a shutdown when it was the last. */
void sb__server_request_done(sb_server_t *server);

/** A connection closed while the server shuts down: the last one lets the loops end. */
void sb__server_conn_gone(sb_server_t *server);
