/*
 * One client connection: reading and framing requests, running them (reads
 * on the loop, writes through the writer thread), and writing the replies
 * with back-pressure.
 *
 * Reading stops while the connection has max_inflight requests unanswered,
 * or more than write_high_bytes of replies queued, and starts again when
 * both are back under (write_low_bytes for the replies). A connection whose
 * queue passes write_cap_bytes, or does not move for write_stall_ms, is
 * closed: a client that never reads cannot grow the server's memory.
 *
 * Before it authenticates, a connection is held to less: messages of at
 * most max_preauth_bytes, auth_timeout_ms to authenticate, and a place among
 * max_unauthenticated such connections (the oldest is closed for a new one,
 * so that a flood of silent clients cannot keep the admin out). Once
 * authenticated it takes one of max_connections slots, of which org tokens
 * may not take the last admin_reserved_connections. A failed authentication
 * is answered only after a delay that doubles with each failure of the
 * connection (and grows while failures are frequent server-wide); the third
 * closes the connection.
 *
 * Access ends at once: a write that revokes a token or deletes an org
 * closes, once it is durable, every connection holding that token or a
 * token of that org.
 *
 * A request that works in slices (softphone.check_batch) runs one slice per
 * turn of the loop, in turn with the others, so that other connections are
 * read and answered between slices. No reply larger than
 * sb_config_reply_max() is sent: it becomes a REPLY_TOO_LARGE error.
 *
 * Lifetime: the libuv handle holds one reference and every request in
 * flight holds one; the struct is freed when the last goes, which is never
 * before the handle's close callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "frame.h"
#include "log.h"
#include "metrics.h"
#include "request_log.h"
#include "server_internal.h"

#define READ_CHUNK ((size_t)64 << 10)
#define MAX_AUTH_FAILURES 3
#define AUTH_DELAY_MS 250          /* after a connection's first failure; doubles with each */
#define AUTH_DELAY_MAX_MS 5000     /* and never more */
#define TRIM_AFTER_BYTES (8 << 20) /* freed buffers worth giving back to the kernel */
/* The loop time one pass over a connection's pipelined requests may take
 * before the rest waits for a later turn: 64 pipelined requests of 10 ms
 * each held every other tenant 0.6 s when a pass ran them all. */
#define PASS_BUDGET_NS ((uint64_t)1000000)
/* Prepare steps one org's tokens may have on the thread pool at once (of 16
 * threads by default); the others wait their turn on the loop. 32 pipelined
 * org.doctor requests of one read-only token made another tenant's
 * member.add wait 2.8 s for a thread. */
#define ORG_PREPARES_MAX 4

struct sb_conn {
    uv_pipe_t pipe;
    sb_server_t *server;
    sb_loop_t *loop; /* the loop that owns it: only its thread touches the handle */
    sb_conn_t *prev, *next;
    uint64_t id;
    unsigned refs;
    bool closing;
    bool reading;
    bool processing;    /* process_buffer is on the stack: it must not run again inside */
    bool deferred;      /* in loop->deferred: its next pass waits for a later loop turn */
    unsigned preparing; /* its requests' prepare steps on the thread pool now */
    sb_conn_t *deferred_next;
    uint8_t *buf; /* bytes read, not yet framed */
    size_t len, cap;
    size_t inflight;
    size_t inflight_bytes; /* the messages of those requests, held until each is answered */
    size_t queued_bytes;   /* replies handed to libuv or gathered, not yet written */
    /* Replies made during one pass of process_buffer, sent in one write at
     * its end: a client that pipelines gets one system call, not one per
     * answer. */
    char *out;
    size_t out_len, out_cap;
    uint64_t stalled_since;  /* when queued_bytes last made progress (ms) */
    sb_token_record_t token; /* role NONE until authenticated */
    int auth_failures;
    bool unauthenticated; /* counted in server->unauthenticated */
    uint64_t opened_ms;
    uint64_t active_ms; /* when a message was last read or a reply last written */
    request_t *held;    /* a failed authentication's reply, sent at held_until */
    uint64_t held_until;
    /* Set on the loop when the connection's access ends; read by its writes
     * on the writer thread, which then do nothing. */
    atomic_bool access_ended;
    /* Set (server lock) by another loop's thread that wants it closed (its
     * access ended, its place among --max-unauthenticated taken): its own
     * loop closes it when woken. */
    const char *close_why;
    /* changes.watch: the writes this connection streams, from watch_next on
     * (the org's org_seq; the admin watching every org: the global seq). */
    bool watching;
    bool watch_all;
    char watch_org[SB_ORG_ID_MAX + 1];
    uint64_t watch_next;
    int64_t watch_floor_ms; /* older writes belong to an earlier org of the same id */
    sb_change_view_t watch_view;
};

/* A request being served: the message's bytes and decoded form, and its reply. */
struct request {
    sb_write_job_t job; /* first: the writer hands back this pointer */
    sb_conn_t *conn;
    const sb_method_t *method;
    sb_rpc_msg_t msg;
    sb_call_t call;
    msgpack_unpacked unpacked; /* owns the zone the call's strings live in */
    uint8_t *bytes;            /* the message; decoded strings point into it */
    size_t bytes_cap;          /* its buffer's size (a spare request's buffer is reused) */
    size_t msg_len;            /* its length, counted in conn->inflight_bytes */
    msgpack_sbuffer reply;
    int rc;                /* a write's outcome, set on the writer thread */
    uv_work_t prep_work;   /* the method's prepare step, on the thread pool */
    sb_prepare_fn prepare; /* NULL: none */
    sb_err_t prep_err;     /* its error */
    uint64_t min_seq;      /* a read's min_seq (a replica waits for it); 0: none */
    request_t *next;       /* in the server's list of requests waiting for their next slice */
    uint64_t started_ns;   /* when it was read (uv_hrtime) */
    uint64_t loop_ns;      /* its method's time on the loop, slices summed */
    uint64_t seq;          /* a write's change-log sequence (writer thread) */
};

typedef struct write_req {
    uv_write_t req;
    sb_conn_t *conn;
    char *data;
    size_t len;
} write_req_t;

static uint64_t now_ms(sb_conn_t *conn)
{
    return uv_now(conn->loop->loop);
}

void sb__log_limited(sb_server_t *server, sb_log_limit_t *limit, sb_log_level_t level,
                     const char *fmt, ...)
{
    (void)server;                         /* the limit is the server's: its lock is held */
    uint64_t now = uv_hrtime() / 1000000; /* any loop's thread: no loop's own clock */
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see core/error.c
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (limit->last_ms != 0 && now - limit->last_ms < 1000) {
        limit->suppressed++;
        snprintf(limit->last, sizeof(limit->last), "%.159s", line);
        return;
    }
    if (limit->suppressed > 0)
        sb_log(level, "%s (and %llu more like it in the last %llu ms, not logged)", line,
               (unsigned long long)limit->suppressed, (unsigned long long)(now - limit->last_ms));
    else
        sb_log(level, "%s", line);
    limit->last_ms = now;
    limit->suppressed = 0;
}

void sb__log_limited_flush(sb_server_t *server, sb_log_limit_t *limit, sb_log_level_t level)
{
    (void)server;
    uint64_t now = uv_hrtime() / 1000000;
    if (limit->suppressed == 0 || now - limit->last_ms < 1000)
        return;
    sb_log(level, "%llu more line(s) like this one in the last %llu ms, not logged: %s",
           (unsigned long long)limit->suppressed, (unsigned long long)(now - limit->last_ms),
           limit->last);
    limit->last_ms = now;
    limit->suppressed = 0;
}

/* The largest message the connection may send now. */
/* The bytes of requests one connection may have read and not answered:
 * 64 pipelined bulk writes of 880 KB each, waiting for the writer, held
 * 120 MB per connection (decoded, they take more than their bytes). At
 * least one message of the largest size always fits. */
static size_t inflight_budget(const sb_config_t *cfg)
{
    return cfg->max_inflight_bytes > cfg->max_message_bytes ? cfg->max_inflight_bytes
                                                            : cfg->max_message_bytes;
}

static size_t message_limit(const sb_conn_t *conn)
{
    const sb_config_t *cfg = &conn->server->cfg;
    return conn->token.role == SB_ROLE_NONE ? cfg->max_preauth_bytes : cfg->max_message_bytes;
}

/* Gives the read buffer back when it is empty and larger than one read
 * needs (a large message came and went), or whenever it is empty while the
 * connection is idle: a thousand idle connections need not hold 64 KiB each. */
static void shrink_buffer(sb_conn_t *conn, bool idle)
{
    if (idle && conn->out != NULL && conn->out_len == 0) {
        conn->loop->freed_bytes += conn->out_cap;
        free(conn->out);
        conn->out = NULL;
        conn->out_cap = 0;
    }
    if (conn->len != 0 || conn->buf == NULL || (!idle && conn->cap <= 2 * READ_CHUNK))
        return;
    conn->loop->freed_bytes += conn->cap;
    free(conn->buf);
    conn->buf = NULL;
    conn->cap = 0;
}

static void conn_unref(sb_conn_t *conn)
{
    if (--conn->refs > 0)
        return;
    free(conn->buf);
    free(conn->out);
    free(conn);
}

static void complete(request_t *r, int rc);

static void close_cb_locked(uv_handle_t *handle)
{
    sb_conn_t *conn = handle->data;
    sb_server_t *server = conn->server;
    sb_loop_t *loop = conn->loop;
    if (conn->held != NULL) {
        /* The held timer finds connections in the list, which this one
         * leaves now: its held request ends here (no reply to send). */
        request_t *r = conn->held;
        conn->held = NULL;
        complete(r, SB_E_UNAUTHENTICATED);
    }
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        loop->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    if (conn->watching) {
        conn->watching = false;
        loop->watchers--;
    }
    server->svc.connections--;
    loop->connections--;
    server->loop_connections[loop->index] = loop->connections;
    loop->freed_bytes += conn->cap + conn->out_cap;
    conn_unref(conn);
    if (server->closing_conns)
        sb__server_conn_gone(server); /* the last one lets the loops end */
}

static void close_cb(uv_handle_t *handle)
{
    sb_server_t *server = ((sb_conn_t *)handle->data)->server;
    sb__server_lock(server);
    close_cb_locked(handle);
    sb__server_unlock(server);
}

static int flush_out(sb_conn_t *conn, bool unlock);

static void conn_close(sb_conn_t *conn, const char *why)
{
    if (conn->closing)
        return;
    /* Answers gathered before the reason to close go out first, as if
     * sent at once; if they cannot, there is nothing more to do for them. */
    (void)flush_out(conn, false);
    conn->closing = true;
    sb_metrics_conn_closed();
    sb_server_t *server = conn->server;
    if (conn->unauthenticated) {
        conn->unauthenticated = false;
        server->unauthenticated--;
        /* Connections that never authenticated can come by the thousand. */
        sb__log_limited(server, &server->closes_log, SB_LOG_INFO,
                        "conn %llu: closed before authenticating: %s", (unsigned long long)conn->id,
                        why);
    } else {
        if (conn->token.role != SB_ROLE_NONE)
            server->authenticated--;
        /* A client's own hang-up and a stop's closes are routine (debug); a
         * close the server decided (a limit, a revocation) is the operator's. */
        bool routine =
            strcmp(why, "the client hung up") == 0 || strcmp(why, "the server is stopping") == 0;
        sb_log(routine ? SB_LOG_DEBUG : SB_LOG_INFO, "conn %llu: closed: %s",
               (unsigned long long)conn->id, why);
    }
    uv_close((uv_handle_t *)&conn->pipe, close_cb);
}

static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    sb_conn_t *conn = handle->data;
    sb__server_lock(conn->server); /* the settings may be reloaded */
    /* Before authentication, read no more than the message limit allows:
     * a silent client holds a few KiB, not 64. */
    size_t chunk = READ_CHUNK;
    if (conn->token.role == SB_ROLE_NONE)
        chunk = conn->server->cfg.max_preauth_bytes;
    if (conn->cap - conn->len < chunk) {
        size_t cap = conn->len + chunk;
        uint8_t *grown = realloc(conn->buf, cap);
        if (grown == NULL) {
            *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
            sb__server_unlock(conn->server);
            return;
        }
        conn->buf = grown;
        conn->cap = cap;
    }
    *buf = uv_buf_init((char *)conn->buf + conn->len, (unsigned)(conn->cap - conn->len));
    sb__server_unlock(conn->server);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void process_buffer(sb_conn_t *conn);
static void watch_kick(sb_loop_t *loop);
static void watch_kick_all(sb_loop_t *here);
static void watch_passes(sb_loop_t *loop);

/* Reads when nothing holds it back; stops otherwise. */
static void update_reading(sb_conn_t *conn)
{
    const sb_config_t *cfg = &conn->server->cfg;
    if (conn->closing)
        return;
    bool want = !conn->server->stopping && conn->held == NULL && !conn->deferred &&
                conn->inflight < cfg->max_inflight && conn->inflight_bytes < inflight_budget(cfg) &&
                conn->queued_bytes < (conn->reading ? cfg->write_high_bytes : cfg->write_low_bytes);
    if (want && !conn->reading) {
        conn->reading = uv_read_start((uv_stream_t *)&conn->pipe, alloc_cb, read_cb) == 0;
        if (conn->reading)
            process_buffer(conn); /* requests that arrived while paused */
    } else if (!want && conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->pipe);
        conn->reading = false;
    }
}

/* Replies leave the queue (written, or dropped with the connection). */
static void unqueue(sb_conn_t *conn, size_t len)
{
    conn->queued_bytes -= len;
    conn->server->unread_bytes -= len;
}

static void write_cb(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    sb_conn_t *conn = w->conn;
    sb_server_t *server = conn->server;
    sb__server_lock(server);
    unqueue(conn, w->len);
    conn->stalled_since = conn->active_ms = now_ms(conn);
    free(w->data);
    free(w);
    if (status != 0 && status != UV_ECANCELED)
        conn_close(conn, uv_strerror(status));
    update_reading(conn);
    if (conn->watching && conn->queued_bytes < conn->server->cfg.write_low_bytes)
        watch_kick(conn->loop); /* a paused watcher has room again */
    conn_unref(conn);
    sb__server_unlock(server);
}

/* How much of `len` bytes at `data` the socket takes now (a libuv error, or
 * UV_EAGAIN for none). With `unlock` and other loops that may want it, the
 * system call runs with the server's lock let go: it touches only this
 * connection's handle, which no other thread touches, and with several
 * loops the kernel's copy into the socket is much of a pass, which the
 * loops then overlap. Only for a caller that holds nothing of another
 * loop's in hand meanwhile (read_cb's pass, see process_buffer). */
static int try_write(sb_conn_t *conn, char *data, size_t len, bool unlock)
{
    sb_server_t *server = conn->server;
    unlock = unlock && server->n_loops > 1;
    if (unlock)
        sb__server_unlock(server);
    uv_buf_t all = uv_buf_init(data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&conn->pipe, &all, 1);
    if (unlock)
        sb__server_lock(server);
    return n;
}

/* Hands `len` bytes at `data` (malloc'd; taken over) to libuv, already
 * counted in queued_bytes, `done` of them already written. Returns 0, or a
 * libuv error (the bytes dropped, the connection left for the caller to
 * close). */
static int queue_out(sb_conn_t *conn, char *data, size_t len, size_t done)
{
    write_req_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        unqueue(conn, len);
        free(data);
        return UV_ENOMEM;
    }
    w->conn = conn;
    w->len = len;
    w->data = data;
    uv_buf_t buf = uv_buf_init(w->data + done, (unsigned)(w->len - done));
    conn->refs++; /* the handle holds one too: this never frees the connection */
    int rc = uv_write(&w->req, (uv_stream_t *)&conn->pipe, &buf, 1, write_cb);
    if (rc != 0) {
        unqueue(conn, w->len);
        conn->refs--;
        free(w->data);
        free(w);
    }
    return rc;
}

/* Hands `len` bytes at `data` (malloc'd; taken over) to libuv, already
 * counted in queued_bytes. Returns 0, or a libuv error (the bytes dropped,
 * the connection left for the caller to close). */
static int write_out(sb_conn_t *conn, char *data, size_t len)
{
    /* Nothing queued before it: written at once when the socket takes it,
     * without a write request, and without libuv watching the socket for
     * room (an epoll_ctl each way, per reply). What the socket does not
     * take goes through uv_write, after what was written. */
    size_t done = 0;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&conn->pipe) == 0) {
        int n = try_write(conn, data, len, false);
        if (n < 0 && n != UV_EAGAIN) {
            unqueue(conn, len);
            free(data);
            return n;
        }
        done = n > 0 ? (size_t)n : 0;
        if (done == len) {
            unqueue(conn, len);
            conn->stalled_since = conn->active_ms = now_ms(conn);
            free(data);
            return 0;
        }
    }
    return queue_out(conn, data, len, done);
}

/* The gathered replies' buffer kept for the next pass when the socket took
 * them all: up to this size (a pass of 16 checks is about 20 KB), so that a
 * pass allocates nothing; larger ones go, and an idle connection's too. */
#define OUT_KEEP_MAX ((size_t)64 << 10)

/* Sends what process_buffer gathered, in one write (`unlock`: see try_write). */
static int flush_out(sb_conn_t *conn, bool unlock)
{
    if (conn->out_len == 0 || conn->closing)
        return 0;
    char *data = conn->out;
    size_t len = conn->out_len;
    size_t done = 0;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&conn->pipe) == 0) {
        int n = try_write(conn, data, len, unlock);
        if (n < 0 && n != UV_EAGAIN) {
            unqueue(conn, len);
            conn->out_len = 0;
            return n;
        }
        done = n > 0 ? (size_t)n : 0;
        if (done == len) {
            unqueue(conn, len);
            conn->stalled_since = conn->active_ms = now_ms(conn);
            conn->out_len = 0;
            if (conn->out_cap > OUT_KEEP_MAX) {
                conn->loop->freed_bytes += conn->out_cap;
                free(conn->out);
                conn->out = NULL;
                conn->out_cap = 0;
            }
            return 0;
        }
    }
    /* The rest waits for room: the buffer goes with the write request. */
    conn->out = NULL;
    conn->out_len = conn->out_cap = 0;
    return queue_out(conn, data, len, done);
}

/* Sends a reply, taking ownership of the sbuffer's data; inside
 * process_buffer, gathers it for the pass's one write. */
static void send_reply(sb_conn_t *conn, msgpack_sbuffer *reply)
{
    if (conn->closing)
        return;
    if (conn->queued_bytes == 0)
        conn->stalled_since = now_ms(conn);
    conn->queued_bytes += reply->size;
    conn->server->unread_bytes += reply->size;
    if (conn->processing) {
        if (conn->out_cap - conn->out_len < reply->size) {
            size_t cap = conn->out_cap ? conn->out_cap : 16384;
            while (cap - conn->out_len < reply->size)
                cap *= 2;
            char *grown = realloc(conn->out, cap);
            if (grown == NULL) {
                unqueue(conn, reply->size); /* never gathered: never written */
                conn_close(conn, "out of memory for a reply");
                return;
            }
            conn->out = grown;
            conn->out_cap = cap;
        }
        memcpy(conn->out + conn->out_len, reply->data, reply->size);
        conn->out_len += reply->size;
    } else {
        size_t len = reply->size;
        int rc = write_out(conn, msgpack_sbuffer_release(reply), len);
        if (rc != 0) {
            conn_close(conn, uv_strerror(rc));
            return;
        }
    }
    if (conn->queued_bytes > conn->server->cfg.write_cap_bytes) {
        conn_close(conn, "its unread replies passed --write-cap-bytes");
        return;
    }
    update_reading(conn);
}

#define SPARE_REQUESTS_MAX 64
#define SPARE_BUFFER_MAX (16u << 10) /* larger buffers are not kept */

/* A request holding a copy of the message data[0..len): a spare one when there is. */
static request_t *request_new(sb_loop_t *loop, const uint8_t *data, size_t len)
{
    request_t *r = loop->spare_requests;
    uint8_t *bytes = NULL;
    size_t cap = 0;
    msgpack_sbuffer reply = {0};
    msgpack_zone *zone = NULL;
    if (r != NULL) {
        loop->spare_requests = r->next;
        loop->n_spare_requests--;
        bytes = r->bytes;
        cap = r->bytes_cap;
        zone = r->unpacked.zone;
        reply = r->reply;
        reply.size = 0;
        memset(r, 0, sizeof(*r));
    } else if ((r = calloc(1, sizeof(*r))) == NULL) {
        return NULL;
    }
    if (bytes == NULL || cap < len) {
        free(bytes);
        cap = len > 0 ? len : 1;
        if ((bytes = malloc(cap)) == NULL) {
            free(reply.data);
            if (zone != NULL)
                msgpack_zone_free(zone);
            free(r);
            return NULL;
        }
    }
    memcpy(bytes, data, len);
    r->bytes = bytes;
    r->bytes_cap = cap;
    r->reply = reply;
    msgpack_unpacked_init(&r->unpacked);
    r->unpacked.zone = zone; /* handle_message decodes into it */
    return r;
}

/* Ends a request: kept as a spare, with its buffers, when they are small. */
static void request_free(sb_loop_t *loop, request_t *r)
{
    sb_call_release(&r->call);
    if (loop->n_spare_requests < SPARE_REQUESTS_MAX && r->bytes_cap <= SPARE_BUFFER_MAX &&
        r->reply.alloc <= SPARE_BUFFER_MAX) {
        /* The zone too (two allocations a request otherwise): cleared now, which
         * runs its finalizers and keeps only its first chunk (8 KiB). */
        if (r->unpacked.zone != NULL)
            msgpack_zone_clear(r->unpacked.zone);
        r->next = loop->spare_requests;
        loop->spare_requests = r;
        loop->n_spare_requests++;
        return;
    }
    msgpack_unpacked_destroy(&r->unpacked);
    msgpack_sbuffer_destroy(&r->reply);
    free(r->bytes);
    free(r);
}

void sb__conn_spares_free(sb_loop_t *loop)
{
    while (loop->spare_requests != NULL) {
        request_t *r = loop->spare_requests;
        loop->spare_requests = r->next;
        msgpack_unpacked_destroy(&r->unpacked);
        msgpack_sbuffer_destroy(&r->reply);
        free(r->bytes);
        free(r);
    }
    loop->n_spare_requests = 0;
}

/* Replaces a request's reply with an error response. */
static void reply_error(request_t *r, int code, const char *message)
{
    msgpack_sbuffer_clear(&r->reply);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &r->reply, msgpack_sbuffer_write);
    sb_rpc_pack_error(&pk, r->msg.msgid, code, message);
}

/* Whether `token` lost its access to a write that ran before (writer thread). */
static bool ended_holds(sb_ended_t *ended, const sb_token_record_t *token)
{
    bool found = false;
    pthread_mutex_lock(&ended->lock);
    for (size_t i = 0; !found && i < ended->n; i++)
        found = (ended->rows[i].token_id[0] && strcmp(ended->rows[i].token_id, token->id) == 0) ||
                (ended->rows[i].org[0] && token->role != SB_ROLE_ADMIN &&
                 strcmp(ended->rows[i].org, token->org) == 0);
    pthread_mutex_unlock(&ended->lock);
    return found;
}

/* Adds (writer thread: the write ran) or removes (loop: it is durable and
 * acted on, or failed) the access a call ended. */
static void ended_mark(sb_ended_t *ended, const sb_call_t *call, bool add)
{
    const char *token_id = call->ended_token_id ? call->ended_token_id : "";
    const char *org = call->ended_org ? call->ended_org : "";
    if (strlen(token_id) > SB_TOKEN_ID_MAX || strlen(org) > SB_ORG_ID_MAX)
        return; /* no such token or org could have been ended */
    pthread_mutex_lock(&ended->lock);
    size_t i = 0;
    while (i < ended->n &&
           (strcmp(ended->rows[i].token_id, token_id) != 0 || strcmp(ended->rows[i].org, org) != 0))
        i++;
    if (add && i == ended->n && ended->n < SB_ENDED_MAX) {
        /* A write replayed (the map grew) finds its row already there. If
         * more than SB_ENDED_MAX are pending at once, the rest rely on the
         * connections' flag alone. */
        memcpy(ended->rows[i].token_id, token_id, strlen(token_id) + 1);
        memcpy(ended->rows[i].org, org, strlen(org) + 1);
        ended->n++;
    } else if (!add && i < ended->n) {
        ended->rows[i] = ended->rows[ended->n - 1];
        ended->n--;
    }
    pthread_mutex_unlock(&ended->lock);
}

/* The walks below go over every loop's connections (server lock). */

/* Closes `c` (a connection of any loop) for `why`: at once on its own loop's
 * thread, else by its loop when woken. */
static void close_soon(sb_loop_t *here, sb_conn_t *c, const char *why)
{
    if (c->loop == here) {
        conn_close(c, why);
        return;
    }
    if (c->close_why != NULL)
        return;
    c->close_why = why;
    c->loop->close_marked = true;
    sb__loop_poke(c->loop);
}

/* Closes every connection that holds token `token_id`, or a token of org
 * `org` (either may be NULL): the write that ended their access is durable. */
static void end_access(sb_loop_t *here, const char *token_id, const char *org)
{
    sb_server_t *server = here->server;
    for (unsigned i = 0; i < server->n_loops; i++) {
        for (sb_conn_t *c = server->loops[i].conns; c; c = c->next) {
            if (c->closing || c->token.role == SB_ROLE_NONE)
                continue;
            bool token = token_id != NULL && strcmp(c->token.id, token_id) == 0;
            bool of_org =
                org != NULL && c->token.role != SB_ROLE_ADMIN && strcmp(c->token.org, org) == 0;
            if (!token && !of_org)
                continue;
            /* Its writes still queued for the writer see the flag at once. */
            atomic_store(&c->access_ended, true);
            close_soon(here, c, token ? "its token was revoked" : "its org was deleted");
        }
    }
}

void sb__conn_revalidate(sb_server_t *server)
{
    sb_token_record_t *rows = NULL;
    size_t n = 0;
    sb_err_t err;
    /* The lock first, then the list: a connection authenticated (under the
     * lock) with a token the replica applied after a list taken earlier
     * would be closed as revoked. Every connection seen below authenticated
     * against a snapshot no newer than the list's. */
    sb__server_lock(server); /* every loop's connections (recursive) */
    if (sb_store_token_list(server->svc.store, &rows, &n, &err) != 0) {
        sb__server_unlock(server);
        sb_warn("the tokens could not be listed to check open connections: %s", err.message);
        return;
    }
    for (unsigned l = 0; l < server->n_loops; l++) {
        for (sb_conn_t *c = server->loops[l].conns; c; c = c->next) {
            if (c->closing || c->token.role == SB_ROLE_NONE)
                continue;
            bool held = false;
            for (size_t i = 0; i < n && !held; i++)
                held = strcmp(rows[i].id, c->token.id) == 0;
            if (held)
                continue;
            atomic_store(&c->access_ended, true);
            close_soon(&server->loops[0], c,
                       "its token was revoked (or its org deleted) on the shard's primary");
        }
    }
    sb__server_unlock(server);
    free(rows);
}

/* Whether an authenticated connection may have a slot: org tokens may not
 * take the ones reserved for the admin. */
/* Whether a connection may authenticate with `token`: 0 when it may, else
 * the limit it would pass: 1 the slots open to its kind of token, 2 its
 * org's share. */
static int admit(sb_conn_t *conn, const sb_token_record_t *token)
{
    sb_server_t *server = conn->server;
    const sb_config_t *cfg = &server->cfg;
    size_t authenticated = server->authenticated;
    if (conn->token.role != SB_ROLE_NONE)
        return 0; /* authenticating again: it has its slot */
    size_t limit = token->role == SB_ROLE_ADMIN
                       ? cfg->max_connections
                       : cfg->max_connections - cfg->admin_reserved_connections;
    if (authenticated >= limit)
        return 1;
    if (token->role == SB_ROLE_ADMIN || cfg->max_connections_per_org == 0)
        return 0;
    /* One tenant's read-only token could hold every org slot and lock every
     * other tenant out. A walk of the open connections, once per
     * authentication. */
    size_t same_org = 0;
    for (unsigned i = 0; i < server->n_loops; i++)
        for (const sb_conn_t *c = server->loops[i].conns; c != NULL; c = c->next)
            if (c != conn && !c->closing && c->token.role != SB_ROLE_NONE &&
                c->token.role != SB_ROLE_ADMIN && strcmp(c->token.org, token->org) == 0)
                same_org++;
    return same_org >= cfg->max_connections_per_org ? 2 : 0;
}

/* The delay before a failed authentication is answered (and the connection
 * read again): doubling with each failure of the connection, and with the
 * failures of the whole server in the last seconds, so that guessing costs
 * time whether it comes on one connection or on many. */
static uint64_t auth_delay_ms(const sb_conn_t *conn)
{
    unsigned level = (unsigned)conn->auth_failures - 1;
    for (uint64_t recent = conn->server->auth_failures_recent / 8; recent > 0; recent >>= 1)
        level++;
    if (level > 5)
        level = 5;
    uint64_t delay = (uint64_t)AUTH_DELAY_MS << level;
    return delay < AUTH_DELAY_MAX_MS ? delay : AUTH_DELAY_MAX_MS;
}

/* Replies queued for one org's connections (the admin's count as one org).
 * A walk of the open connections, made only for replies over 4 KiB. */
static size_t org_unread_bytes(sb_server_t *server, const sb_token_record_t *token)
{
    size_t sum = 0;
    bool admin = token->role == SB_ROLE_ADMIN;
    for (unsigned i = 0; i < server->n_loops; i++)
        for (const sb_conn_t *c = server->loops[i].conns; c != NULL; c = c->next)
            if (admin ? c->token.role == SB_ROLE_ADMIN
                      : c->token.role != SB_ROLE_ADMIN && strcmp(c->token.org, token->org) == 0)
                sum += c->queued_bytes;
    return sum;
}

/* Each connection's unread replies are capped (--write-cap-bytes), but a
 * tenant with many connections that never read would hold that many times
 * the cap: past the server's budget for unread replies, or its org's share,
 * a large reply becomes a small error, which the client can act on (read,
 * then ask again). Small replies always go: they are bounded by the
 * requests in flight, and an error is one of them. */
static void refuse_unread_past_budget(request_t *r, int rc)
{
    sb_conn_t *conn = r->conn;
    sb_server_t *server = conn->server;
    const sb_config_t *cfg = &server->cfg;
    const char *which = NULL;
    size_t held = 0, budget = 0;
    if (server->unread_bytes + r->reply.size > cfg->max_unread_bytes) {
        which = "every connection's";
        held = server->unread_bytes;
        budget = cfg->max_unread_bytes;
    } else {
        held = org_unread_bytes(server, &conn->token);
        if (held + r->reply.size > cfg->max_unread_bytes_per_org) {
            which = conn->token.role == SB_ROLE_ADMIN ? "the admin's connections'"
                                                      : "this org's connections'";
            budget = cfg->max_unread_bytes_per_org;
        }
    }
    if (which == NULL)
        return;
    char message[384];
    snprintf(message, sizeof(message),
             "%sThe reply (%zu bytes) would pass the server's budget for %s unread replies "
             "(%zu of %zu bytes held): read the replies already sent before asking for more.",
             r->method != NULL && r->method->writes && rc == 0 ? "The write was done. " : "",
             r->reply.size, which, held, budget);
    sb__log_limited(conn->server, &conn->server->unread_log, SB_LOG_WARN,
                    "conn %llu: a reply of %zu bytes refused: %s unread replies hold %zu of %zu "
                    "bytes",
                    (unsigned long long)conn->id, r->reply.size, which, held, budget);
    reply_error(r, SB_E_REPLY_TOO_LARGE, message);
}

/* Answers (unless a notification) and releases a finished request. */
static void complete(request_t *r, int rc)
{
    sb_conn_t *conn = r->conn;
    /* Decided before the reply goes out: sending it may resume reading,
     * and the next request (another failure) be handled within. */
    bool last_failure = rc == SB_E_UNAUTHENTICATED && conn->auth_failures >= MAX_AUTH_FAILURES;
    sb_server_t *server = conn->server;
    if (r->msg.type == SB_RPC_REQUEST && !conn->closing && r->reply.size > 4096)
        refuse_unread_past_budget(r, rc);
    if (r->msg.type == SB_RPC_REQUEST && !conn->closing && r->reply.size > 4096 &&
        conn->queued_bytes + r->reply.size > server->cfg.write_cap_bytes) {
        /* The reply fits alone, but not beside the replies this client has
         * not read yet: an error it can act on, rather than closing the
         * connection under everything else it asked. */
        char message[384];
        snprintf(message, sizeof(message),
                 "%sThe reply (%zu bytes) and the %zu bytes of replies this connection has not "
                 "read yet would pass --write-cap-bytes (%zu); read replies before asking for "
                 "more, or ask for less.",
                 r->method != NULL && r->method->writes && rc == 0 ? "The write was done. " : "",
                 r->reply.size, conn->queued_bytes, server->cfg.write_cap_bytes);
        reply_error(r, SB_E_REPLY_TOO_LARGE, message);
    }
    if (r->msg.type == SB_RPC_REQUEST) {
        sb_metrics_bytes_out(r->reply.size);
        send_reply(conn, &r->reply);
    }
    if (last_failure)
        conn_close(conn, "too many failed authentications");
    if (rc == SB_E_CONNECTION_LIMIT)
        conn_close(conn, "no connection slot left for its token");
    conn->inflight--;
    conn->inflight_bytes -= r->msg_len;
    request_free(conn->loop, r);
    update_reading(conn);
    conn_unref(conn);
    sb__server_request_done(server);
}

static void held_cb(uv_timer_t *timer);

/* ---- changes.watch ------------------------------------------------------------------ */

/* What one pass sends a watcher at most before the next loop turn: the
 * catch-up from the stored log comes in slices, between other work. */
#define WATCH_SLICE_ROWS 256
#define WATCH_SLICE_BYTES ((size_t)1 << 20)

/* The watch changes.watch asked for, once its reply is packed: the reply
 * goes out first, the notifications from the slicer's next turn on. */
static void watch_start(sb_conn_t *conn, const sb_call_t *call)
{
    sb_loop_t *loop = conn->loop;
    bool admin = conn->token.role == SB_ROLE_ADMIN;
    conn->watch_all = call->org == NULL;
    snprintf(conn->watch_org, sizeof(conn->watch_org), "%s", call->org ? call->org : "");
    conn->watch_next = call->watch_from;
    conn->watch_floor_ms = call->watch_floor_ms;
    conn->watch_view = conn->watch_all ? SB_CHANGE_ADMIN_WATCH
                       : admin         ? SB_CHANGE_ADMIN_ORG_WATCH
                                       : SB_CHANGE_ORG_WATCH;
    if (!conn->watching)
        loop->watchers++;
    conn->watching = true;
    watch_kick(loop);
}

typedef struct watch_pass {
    sb_conn_t *conn;
    msgpack_sbuffer buf;
    msgpack_packer pk;
    uint64_t expect; /* the next number due */
    uint64_t entry;  /* watching every org: the entry whose writes are being sent */
    bool gap;
} watch_pass_t;

static int watch_visit(void *vctx, const sb_change_write_t *w)
{
    watch_pass_t *p = vctx;
    if (p->conn->watch_all) {
        /* Several writes share an entry's seq; entries follow each other. */
        if (w->seq != p->entry) {
            if (w->seq != p->expect) {
                p->gap = true;
                return 1;
            }
            p->entry = w->seq;
            p->expect = w->seq + 1;
        }
    } else {
        if (w->org_seq != p->expect) {
            p->gap = true;
            return 1;
        }
        p->expect++;
        if (sb__change_time(w) < p->conn->watch_floor_ms)
            return 0; /* the org's earlier life: passed over, not sent */
    }
    int rc = msgpack_pack_array(&p->pk, 3) | msgpack_pack_uint8(&p->pk, SB_RPC_NOTIFICATION) |
             sb_pack_str(&p->pk, "changes");
    return rc == 0 ? sb__pack_change(&p->pk, w, p->conn->watch_view) : -ENOMEM;
}

/* Sends a watcher the next slice of its writes, unless its unread
 * notifications (or the server's budget for unread replies) are past the
 * high mark: then it waits until the client reads (write_cb kicks again),
 * and a client that never reads is cut by --write-stall-ms. */
static void watch_pass(sb_conn_t *conn)
{
    sb_server_t *server = conn->server;
    sb_loop_t *loop = conn->loop;
    const sb_config_t *cfg = &server->cfg;
    /* The org's share is a walk of the connections: made only when the
     * total could pass it. */
    if (!conn->watching || conn->closing || conn->queued_bytes >= cfg->write_high_bytes ||
        server->unread_bytes >= cfg->max_unread_bytes ||
        (server->unread_bytes >= cfg->max_unread_bytes_per_org &&
         org_unread_bytes(server, &conn->token) >= cfg->max_unread_bytes_per_org))
        return;
    watch_pass_t p = {.conn = conn, .expect = conn->watch_next};
    msgpack_sbuffer_init(&p.buf);
    msgpack_packer_init(&p.pk, &p.buf, msgpack_sbuffer_write);
    sb_changes_scan_t scan = {.org = conn->watch_all ? NULL : conn->watch_org,
                              .from = conn->watch_next,
                              .max_rows = WATCH_SLICE_ROWS,
                              .max_bytes = WATCH_SLICE_BYTES};
    uint64_t next = 0;
    bool more = false;
    sb_err_t err;
    sb_err_clear(&err);
    int rc = sb_store_changes_scan(loop->svc.store, &scan, watch_visit, &p, &next, &more, &err);
    if (rc != 0 || p.gap) {
        /* Behind the kept log (trimmed while it caught up), or a read that
         * failed: the watch ends with a notification that says why. */
        if (p.gap) {
            rc = SB_E_CHANGES_TRIMMED;
            snprintf(err.message, sizeof(err.message),
                     "Change %llu is no longer kept: the log was trimmed past it while this "
                     "watch caught up; watch again from the first kept (changes.watch says it), "
                     "and read the records themselves for what came before.",
                     (unsigned long long)p.expect);
        }
        msgpack_packer *pk = &p.pk;
        int prc = msgpack_pack_array(pk, 3) | msgpack_pack_uint8(pk, SB_RPC_NOTIFICATION) |
                  sb_pack_str(pk, "changes.error") | msgpack_pack_map(pk, 3);
        prc |= sb_pack_kv_int(pk, "code", sb_err_wire_code(rc));
        prc |= sb_pack_kv_str(pk, "name", sb_err_name(rc));
        prc |= sb_pack_kv_str(pk, "message", err.message);
        (void)prc;
        conn->watching = false;
        loop->watchers--;
        more = false;
    } else {
        conn->watch_next = p.expect;
    }
    if (p.buf.size > 0)
        send_reply(conn, &p.buf);
    msgpack_sbuffer_destroy(&p.buf);
    if (more && conn->watching)
        watch_kick(loop);
}

/* Logs a finished request and acts on what it changed: an identity proved,
 * access ended, a failed authentication (held back for a while). */
static void finish(request_t *r, int rc)
{
    sb_conn_t *conn = r->conn;
    sb_server_t *server = conn->server;
    if (rc == 0 && r->call.authenticated) {
        int full = admit(conn, &r->call.new_token);
        if (full == 2) {
            rc = SB_E_CONNECTION_LIMIT;
            char message[256];
            snprintf(message, sizeof(message),
                     "Every connection slot open to this org's tokens is taken "
                     "(--max-connections-per-org %zu); close a connection, or ask the admin to "
                     "raise --max-connections-per-org.",
                     server->cfg.max_connections_per_org);
            reply_error(r, rc, message);
            sb_metrics_conn_refused(SB_METRICS_REFUSED_ORG_SLOTS);
            sb__log_limited(server, &server->slots_log, SB_LOG_WARN,
                            "conn %llu: refused: org %s holds --max-connections-per-org (%zu) "
                            "connections",
                            (unsigned long long)conn->id, r->call.new_token.org,
                            server->cfg.max_connections_per_org);
        } else if (full == 1) {
            rc = SB_E_CONNECTION_LIMIT;
            char message[256];
            snprintf(message, sizeof(message),
                     "Every connection slot open to %s is taken (--max-connections %zu, of which "
                     "%zu are kept for the admin); close a connection, or ask the admin to raise "
                     "--max-connections.",
                     r->call.new_token.role == SB_ROLE_ADMIN ? "the admin" : "org tokens",
                     server->cfg.max_connections, server->cfg.admin_reserved_connections);
            reply_error(r, rc, message);
            sb_metrics_conn_refused(SB_METRICS_REFUSED_SLOTS);
            sb__log_limited(server, &server->slots_log, SB_LOG_WARN,
                            "conn %llu: refused: every connection slot open to %s is taken "
                            "(--max-connections %zu, --admin-reserved-connections %zu)",
                            (unsigned long long)conn->id,
                            r->call.new_token.role == SB_ROLE_ADMIN ? "the admin" : "org tokens",
                            server->cfg.max_connections, server->cfg.admin_reserved_connections);
        } else {
            if (conn->unauthenticated) {
                conn->unauthenticated = false;
                server->unauthenticated--;
                server->authenticated++;
            }
            conn->token = r->call.new_token;
            sb_debug("conn %llu: authenticated as %s%s%s", (unsigned long long)conn->id,
                     conn->token.role == SB_ROLE_ADMIN ? "the admin" : "a token of org ",
                     conn->token.role == SB_ROLE_ADMIN ? "" : conn->token.org,
                     conn->token.role == SB_ROLE_READ_ONLY ? " (read-only)" : "");
        }
    }
    if (rc == 0 && r->call.watch && !conn->closing)
        watch_start(conn, &r->call);
    if (r->call.ended_token_id != NULL || r->call.ended_org != NULL) {
        if (rc == 0)
            end_access(conn->loop, r->call.ended_token_id, r->call.ended_org);
        ended_mark(&server->ended, &r->call, false); /* the flags hold it now, or it failed */
    }
    if (rc == 0 && r->reply.size > sb_config_reply_max(&server->cfg)) {
        /* Never a silent close: the client learns why, and what to ask. */
        char message[384];
        snprintf(message, sizeof(message),
                 "%sThe reply to %s would be %zu bytes, over the %zu this server sends in one "
                 "reply (--write-cap-bytes minus --write-high-bytes); ask for less: a smaller "
                 "batch or page.",
                 r->method != NULL && r->method->writes ? "The write was done. " : "",
                 r->msg.method, r->reply.size, sb_config_reply_max(&server->cfg));
        rc = SB_E_REPLY_TOO_LARGE;
        reply_error(r, rc, message);
    }
    if (rc == SB_E_UNAUTHENTICATED) {
        conn->auth_failures++;
        server->auth_failures_recent++;
        sb__log_limited(server, &server->auth_log, SB_LOG_INFO,
                        "conn %llu: failed authentication (%d of %d on this connection)",
                        (unsigned long long)conn->id, conn->auth_failures, MAX_AUTH_FAILURES);
    }
    sb_request_report(&(sb_request_report_t){.conn_id = conn->id,
                                             .method = r->method,
                                             .method_name = r->msg.method,
                                             .call = &r->call,
                                             .rc = rc,
                                             .seq = r->seq,
                                             .total_ns = uv_hrtime() - r->started_ns,
                                             .loop_ns = r->loop_ns,
                                             .slow_ms = server->cfg.slow_request_ms,
                                             .quiet = rc == SB_E_UNAUTHENTICATED});
    if (rc == SB_E_UNAUTHENTICATED && !conn->closing) {
        /* Held: the reply goes out, and the connection is read again, after
         * the delay (the server's held timer). */
        uint64_t delay = auth_delay_ms(conn);
        conn->held = r;
        conn->held_until = now_ms(conn) + delay;
        update_reading(conn);
        uv_timer_t *held = &conn->loop->held;
        if (!uv_is_active((uv_handle_t *)held) || uv_timer_get_due_in(held) > delay)
            uv_timer_start(held, held_cb, delay, 0);
        return;
    }
    complete(r, rc);
}

static int job_run(sb_write_job_t *job)
{
    request_t *r = (request_t *)job;
    sb_ended_t *ended = &r->conn->server->ended;
    /* The connection's access ended while this write waited in the queue
     * (its flag), or a write that ran before this one in the writer ended
     * it and is not yet durable (the ended rows): it must not happen after
     * the revocation is answered. */
    if (atomic_load(&r->conn->access_ended) || ended_holds(ended, &r->call.token)) {
        r->rc = -EACCES;
        reply_error(r, r->rc,
                    "Not written: the token of this connection was revoked, or its org deleted, "
                    "before this write ran.");
        return 0; /* nothing written: the batch goes on */
    }
    sb_store_t *store = r->conn->loop->svc.store;
    /* The change log names who wrote: the token's public id, never its secret. */
    sb_store_who_t who = {r->call.token.id, r->call.org ? r->call.org : r->call.token.org,
                          r->method->name};
    sb_store_change_begin(store, &who);
    r->rc = sb_dispatch_run(&r->call, r->method, r->msg.msgid, &r->reply);
    sb_store_change_end(store, r->rc);
    /* The org's own number for the write: every token of the org may see
     * it (it counts the org's writes only). */
    uint64_t org_seq = sb_store_change_org_seq(store);
    if (r->rc == 0 && org_seq != 0 &&
        sb_dispatch_add_uint(&r->reply, r->msg.msgid, "org_seq", org_seq) != 0)
        sb_warn("%s: its result is not a map; its reply has no org_seq", r->method->name);
    /* Every write's result is a map (the method table's "result"): the
     * admin's gains the sequence its batch commits as (a failed commit
     * replaces the reply). An org's token gets none: the sequence counts
     * every org's commits, and two of them would tell one tenant the
     * others' write volume. */
    if (r->rc == 0)
        r->seq = sb_store_batch_seq(store);
    if (r->rc == 0 && r->call.token.role == SB_ROLE_ADMIN &&
        sb_dispatch_add_seq(&r->reply, r->msg.msgid, sb_store_batch_seq(store)) != 0)
        sb_warn("%s: its result is not a map; its reply has no seq", r->method->name);
    if (r->rc == 0 && (r->call.ended_token_id != NULL || r->call.ended_org != NULL))
        ended_mark(ended, &r->call, true);
    return r->rc;
}

static void job_fail(sb_write_job_t *job, int code, const char *message)
{
    request_t *r = (request_t *)job;
    r->rc = code;
    reply_error(r, code, message);
}

/* On the loop that owns the request: the write is durable (or failed for good). */
static void write_done_here(request_t *r)
{
    sb_loop_t *loop = r->conn->loop;
    bool wrote = r->rc == 0;
    finish(r, r->rc);
    if (wrote)
        watch_kick_all(loop); /* durable now: every loop's watchers may read it */
}

/* The writer hands every write back on the first loop: a request of
 * another loop goes on to its own (its connection's handle is that
 * loop's). */
static void job_done(sb_write_job_t *job)
{
    request_t *r = (request_t *)job;
    sb_server_t *server = r->conn->server;
    sb__server_lock(server);
    sb_loop_t *owner = r->conn->loop;
    if (owner == &server->loops[0]) {
        write_done_here(r);
    } else {
        r->next = NULL;
        if (owner->writes_done_tail)
            owner->writes_done_tail->next = r;
        else
            owner->writes_done = r;
        owner->writes_done_tail = r;
        sb__loop_poke(owner);
    }
    sb__server_unlock(server);
}

/* ---- requests in slices ------------------------------------------------------ */

/* Whether a method may run with the server's lock let go: it reads only its
 * call, the store (in a read transaction of its own thread) and its loop's
 * answer cache, and the settings it reads never change while serving. The
 * softphone checks are the hot path, and where the loops overlap. */
static bool runs_unlocked(const sb_method_t *method)
{
    return !method->writes && strncmp(method->name, "softphone.check", 15) == 0;
}

/* Runs the method's first step (or, `next`, its next slice): under the
 * server's lock unless runs_unlocked. Nothing of the connection's is
 * touched meanwhile by this thread, and other threads only read it. */
static int dispatch(request_t *r, bool next)
{
    sb_server_t *server = r->conn->server;
    bool unlocked = server->n_loops > 1 && runs_unlocked(r->method);
    if (unlocked)
        sb__server_unlock(server);
    uint64_t started = uv_hrtime();
    int rc = next ? sb_dispatch_continue(&r->call, r->method, r->msg.msgid, &r->reply)
                  : sb_dispatch_run(&r->call, r->method, r->msg.msgid, &r->reply);
    r->loop_ns += uv_hrtime() - started;
    if (unlocked)
        sb__server_lock(server);
    return rc;
}

static void slicer_run(sb_loop_t *loop)
{
    /* One slice for each request waiting now; those that need more go to
     * the back, behind any that arrive meanwhile. */
    request_t *list = loop->slices;
    loop->slices = loop->slices_tail = NULL;
    while (list != NULL) {
        request_t *r = list;
        list = r->next;
        r->next = NULL;
        int rc = r->conn->closing ? -ECONNRESET : dispatch(r, true);
        if (rc == SB_CALL_MORE) {
            if (loop->slices_tail)
                loop->slices_tail->next = r;
            else
                loop->slices = r;
            loop->slices_tail = r;
            continue;
        }
        finish(r, rc);
    }
    /* Connections whose pass ran out of its budget: one more pass each, in
     * turn, with other connections' reads between loop turns. */
    sb_conn_t *conns = loop->deferred;
    loop->deferred = loop->deferred_tail = NULL;
    while (conns != NULL) {
        sb_conn_t *conn = conns;
        conns = conn->deferred_next;
        conn->deferred_next = NULL;
        conn->deferred = false;
        if (!conn->closing)
            process_buffer(conn); /* which resumes reading, or defers again */
        conn_unref(conn);
    }
    /* Watchers: a write committed, or one has room again, since the last
     * pass. One slice each; those with more kick again. */
    if (loop->watch_kick) {
        loop->watch_kick = false;
        watch_passes(loop);
    }
    if (loop->slices == NULL && loop->deferred == NULL && !loop->watch_kick)
        uv_idle_stop(&loop->slicer);
}

static void slicer_cb(uv_idle_t *idle)
{
    sb_loop_t *loop = idle->data;
    sb__server_lock(loop->server);
    slicer_run(loop);
    sb__server_unlock(loop->server);
}

/* One pass for each watcher, within PASS_BUDGET_NS of the loop: past it, the
 * rest wait for the next turn, which starts after the last one served (the
 * list is newest first: ids fall along it), so that many watchers catching
 * up at once neither hold the loop nor starve the oldest. A close leaves a
 * connection in the list until its close_cb: the walk stays valid. */
static void watch_passes(sb_loop_t *loop)
{
    uint64_t started = uv_hrtime();
    uint64_t resume = loop->watch_resume;
    loop->watch_resume = 0;
    sb_conn_t *c = loop->conns;
    while (resume != 0 && c != NULL && c->id >= resume)
        c = c->next;
    for (int sweep = 0; sweep < 2; sweep++) {
        for (; c != NULL; c = c->next) {
            if (sweep == 1 && c->id < resume)
                return; /* round the list once */
            if (!c->watching)
                continue;
            watch_pass(c);
            if (uv_hrtime() - started > PASS_BUDGET_NS) {
                loop->watch_resume = c->id;
                loop->watch_kick = true;
                return;
            }
        }
        if (resume == 0)
            return;
        c = loop->conns;
    }
}

static void watch_kick(sb_loop_t *loop)
{
    if (loop->watchers == 0 || loop->server->stopping)
        return;
    loop->watch_kick = true;
    uv_idle_start(&loop->slicer, slicer_cb);
}

/* A commit: the watchers of every loop may read it (another loop's when it
 * is woken). */
static void watch_kick_all(sb_loop_t *here)
{
    sb_server_t *server = here->server;
    for (unsigned i = 0; i < server->n_loops; i++) {
        sb_loop_t *loop = &server->loops[i];
        if (loop == here) {
            watch_kick(loop);
        } else if (loop->watchers > 0 && !server->stopping) {
            loop->watch_kick = true;
            sb__loop_poke(loop);
        }
    }
}

/* The rest of the connection's buffer waits for the slicer's next turn;
 * reading stops meanwhile, so that the buffer does not grow. */
static void defer_pass(sb_conn_t *conn)
{
    sb_loop_t *loop = conn->loop;
    if (conn->deferred || conn->closing)
        return;
    conn->deferred = true;
    conn->refs++;
    if (loop->deferred_tail)
        loop->deferred_tail->deferred_next = conn;
    else
        loop->deferred = conn;
    loop->deferred_tail = conn;
    uv_idle_start(&loop->slicer, slicer_cb);
}

static void slice_later(request_t *r)
{
    sb_loop_t *loop = r->conn->loop;
    if (loop->slices_tail)
        loop->slices_tail->next = r;
    else
        loop->slices = r;
    loop->slices_tail = r;
    uv_idle_start(&loop->slicer, slicer_cb);
}

/* ---- held replies of failed authentications ------------------------------------ */

static void held_run(sb_loop_t *loop)
{
    sb_server_t *server = loop->server;
    uint64_t now = uv_now(loop->loop), next = 0;
    for (sb_conn_t *c = loop->conns; c; c = c->next) {
        if (c->held == NULL)
            continue;
        if (c->held_until <= now || c->closing || server->stopping) {
            request_t *r = c->held;
            c->held = NULL;
            complete(r, SB_E_UNAUTHENTICATED);
        } else if (next == 0 || c->held_until < next) {
            next = c->held_until;
        }
    }
    if (next != 0)
        uv_timer_start(&loop->held, held_cb, next - now, 0);
}

static void held_cb(uv_timer_t *timer)
{
    sb_loop_t *loop = timer->data;
    sb__server_lock(loop->server);
    held_run(loop);
    sb__server_unlock(loop->server);
}

void sb__conn_handles_init(sb_loop_t *loop)
{
    uv_timer_init(loop->loop, &loop->held);
    loop->held.data = loop;
    uv_idle_init(loop->loop, &loop->slicer);
    loop->slicer.data = loop;
}

void sb__conn_handles_close(sb_loop_t *loop)
{
    while (loop->deferred != NULL) { /* stopping: their passes never come */
        sb_conn_t *conn = loop->deferred;
        loop->deferred = conn->deferred_next;
        conn->deferred = false;
        conn_unref(conn);
    }
    loop->deferred_tail = NULL;
    uv_close((uv_handle_t *)&loop->held, NULL);
    uv_close((uv_handle_t *)&loop->slicer, NULL);
}

/* ---- reading ------------------------------------------------------------------ */

/* Runs the method: a write goes to the writer; the rest runs here. */
static void run_method(request_t *r)
{
    if (r->method->writes && !r->call.prep_only) {
        r->job = (sb_write_job_t){.run = job_run, .fail = job_fail, .done = job_done};
        sb_writer_submit(r->conn->server->writer, &r->job);
        return;
    }
    int rc = dispatch(r, false);
    if (rc == SB_CALL_MORE)
        slice_later(r);
    else
        finish(r, rc);
}

/* The prepare step, on the thread pool: adapter calls and parsing wait
 * there, never on the loop or the writer. */
static void prep_work_cb(uv_work_t *work)
{
    request_t *r = work->data;
    sb_err_clear(&r->prep_err);
    r->rc = r->prepare(&r->call, &r->prep_err);
}

static void prep_after_cb(uv_work_t *work, int status);

/* Prepare steps one org may have on the pool from one loop: ORG_PREPARES_MAX
 * shared among the loops (each loop counts and queues its own connections'),
 * so that the org's bound over the server stays about the same. */
static unsigned org_prepares_max(const sb_server_t *server)
{
    unsigned per_loop = ORG_PREPARES_MAX / server->n_loops;
    return per_loop > 0 ? per_loop : 1;
}

/* Prepare steps on the pool now for the tokens of `conn`'s org (the admin's
 * count as one org), from its loop. */
static unsigned org_preparing(const sb_conn_t *conn)
{
    unsigned n = 0;
    for (const sb_conn_t *c = conn->loop->conns; c != NULL; c = c->next)
        if (c->preparing > 0 && strcmp(c->token.org, conn->token.org) == 0)
            n += c->preparing;
    return n;
}

/* Hands the prepare step to the pool; conn->preparing already counts it. A
 * request whose connection closed (or a server stopping) meanwhile ends at
 * once: 60 queued org.doctor steps of closed connections held a stop 5 s. */
static void prep_queue(request_t *r)
{
    sb_conn_t *conn = r->conn;
    r->prep_work.data = r;
    if (conn->closing || conn->server->stopping) {
        sb_err_set(&r->prep_err, -ECANCELED,
                   "The server is stopping: this request was not started; send it again once "
                   "the server is back.");
        prep_after_cb(&r->prep_work, UV_ECANCELED);
        return;
    }
    int qrc = uv_queue_work(conn->loop->loop, &r->prep_work, prep_work_cb, prep_after_cb);
    if (qrc == 0)
        return;
    r->rc =
        sb_err_set(&r->prep_err, -EIO, "The thread pool refused the work: %s.", uv_strerror(qrc));
    prep_after_cb(&r->prep_work, 0);
}

/* Queues the prepare step on the pool, or behind its org's others when the
 * org has ORG_PREPARES_MAX there already. */
static void prep_submit(request_t *r)
{
    sb_loop_t *loop = r->conn->loop;
    if (org_preparing(r->conn) < org_prepares_max(loop->server)) {
        r->conn->preparing++;
        prep_queue(r);
        return;
    }
    r->next = NULL;
    if (loop->prep_waiting_tail)
        loop->prep_waiting_tail->next = r;
    else
        loop->prep_waiting = r;
    loop->prep_waiting_tail = r;
}

/* A prepare step of `org_done` ended: the first waiting request of that org
 * takes the place it freed (no other org's count changed, so no other org
 * has gained room), and waiting requests whose connection closed go to end.
 * They are taken off the list (their places counted) before any is queued,
 * since queueing may end a request at once and come back here. One walk of
 * the connections at most, however many wait. */
static void prep_release(sb_loop_t *loop, const char *org_done)
{
    sb_server_t *server = loop->server;
    request_t **link = &loop->prep_waiting, *prev = NULL, *go = NULL, **go_tail = &go;
    bool room = true;
    while (*link != NULL) {
        request_t *r = *link;
        bool stale = r->conn->closing || server->stopping;
        bool takes_room = !stale && room && strcmp(r->conn->token.org, org_done) == 0 &&
                          org_preparing(r->conn) < org_prepares_max(server);
        if (!stale && strcmp(r->conn->token.org, org_done) == 0)
            room = false; /* the first of the org decides: the rest keep their order */
        if (!stale && !takes_room) {
            prev = r;
            link = &r->next;
            continue;
        }
        *link = r->next;
        if (loop->prep_waiting_tail == r)
            loop->prep_waiting_tail = prev;
        r->next = NULL;
        r->conn->preparing++;
        *go_tail = r;
        go_tail = &r->next;
    }
    while (go != NULL) {
        request_t *r = go;
        go = r->next;
        r->next = NULL;
        prep_queue(r);
    }
}

/* The loop's callback, and called by prep_queue (the lock is recursive). */
static void prep_after_cb(uv_work_t *work, int status)
{
    request_t *r = work->data;
    sb_server_t *server = r->conn->server;
    sb__server_lock(server);
    r->conn->preparing--;
    prep_release(r->conn->loop, r->conn->token.org);
    if (status == 0 && r->rc == 0) {
        run_method(r);
    } else {
        int rc = status != 0 ? -ECANCELED : r->rc;
        msgpack_sbuffer_clear(&r->reply);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &r->reply, msgpack_sbuffer_write);
        sb_rpc_pack_error(&pk, r->msg.msgid, rc, r->prep_err.message);
        finish(r, rc);
    }
    sb__server_unlock(server);
}

/* The method's prepare step on the pool, or the method now. */
static void after_min_seq(request_t *r)
{
    r->prepare = sb_method_prepare(r->method);
    if (r->prepare != NULL) {
        prep_submit(r);
        return;
    }
    run_method(r);
}

/* A replica behind a read's min_seq: the wait (at most --min-seq-wait-ms)
 * is a pool thread's, never the loop's. */
static void min_seq_work_cb(uv_work_t *work)
{
    request_t *r = work->data;
    const sb_server_t *server = r->conn->server;
    r->rc = sb_cluster_wait_applied(server->svc.cluster, r->min_seq,
                                    (unsigned)server->cfg.min_seq_wait_ms)
                ? 0
                : SB_E_REPLICA_BEHIND;
}

static void min_seq_answer(request_t *r, int status);

/* Back on the request's loop: under the server's lock, as every callback. */
static void min_seq_after_cb(uv_work_t *work, int status)
{
    request_t *r = work->data;
    sb_server_t *server = r->conn->server;
    sb__server_lock(server);
    min_seq_answer(r, status);
    sb__server_unlock(server);
}

static void min_seq_answer(request_t *r, int status)
{
    if (status == 0 && r->rc == 0 && !r->conn->closing && !r->conn->server->stopping) {
        after_min_seq(r);
        return;
    }
    int rc = status != 0 || r->rc == 0 ? -ECANCELED : r->rc;
    sb_cluster_status_t st;
    sb_cluster_status(r->conn->server->svc.cluster, &st);
    char message[256];
    if (rc == SB_E_REPLICA_BEHIND)
        snprintf(message, sizeof(message),
                 "This replica is at change %llu, not yet at min_seq %llu, after %zu ms; retry, "
                 "or read from the primary.",
                 (unsigned long long)st.applied, (unsigned long long)r->min_seq,
                 r->conn->server->cfg.min_seq_wait_ms);
    else
        snprintf(message, sizeof(message), "The server is stopping: this read was not served.");
    reply_error(r, rc, message);
    finish(r, rc);
}

static void min_seq_wait(request_t *r)
{
    r->prep_work.data = r;
    int qrc = uv_queue_work(r->conn->loop->loop, &r->prep_work, min_seq_work_cb, min_seq_after_cb);
    if (qrc != 0) {
        r->rc = SB_E_REPLICA_BEHIND;
        min_seq_answer(r, 0); /* the lock is held already */
    }
}

/* Handles one complete message of `len` bytes at conn->buf[off]. Returns
 * false when the connection must close. */
static bool handle_message(sb_conn_t *conn, const uint8_t *data, size_t len)
{
    request_t *r = request_new(conn->loop, data, len);
    if (r == NULL)
        return false;
    r->started_ns = uv_hrtime();
    size_t off = 0;
    sb_err_t err;
    sb_err_clear(&err);
    /* Into the request's own zone, kept with a spare request (msgpack_unpack_next
     * would free it and make a new one: two allocations a request). */
    if (r->unpacked.zone == NULL &&
        (r->unpacked.zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE)) == NULL) {
        sb_warn("conn %llu: out of memory decoding a message", (unsigned long long)conn->id);
        request_free(conn->loop, r);
        return false;
    }
    if (msgpack_unpack((const char *)r->bytes, len, &off, r->unpacked.zone, &r->unpacked.data) !=
            MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        sb_warn("conn %llu: a message msgpack-c could not decode", (unsigned long long)conn->id);
        request_free(conn->loop, r);
        return false;
    }
    int rc = sb_rpc_parse(&r->unpacked.data, &r->msg, &err);
    if (rc == -EPROTO) {
        sb_warn("conn %llu: not a request: %s", (unsigned long long)conn->id, err.message);
        request_free(conn->loop, r);
        return false;
    }
    r->conn = conn;
    r->call = (sb_call_t){.svc = &conn->loop->svc,
                          .args = r->msg.args,
                          .zone = r->unpacked.zone,
                          .token = conn->token};
    if (r->call.zone == NULL) /* an empty message owns no zone: give it one */
        r->call.zone = r->unpacked.zone = msgpack_zone_new(1024);
    conn->refs++;
    conn->inflight++;
    conn->inflight_bytes += len;
    r->msg_len = len;
    conn->server->inflight++;
    if (rc == 0)
        rc = sb_dispatch_check(&r->call, r->msg.method, &r->method, &err);
    if (rc != 0) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &r->reply, msgpack_sbuffer_write);
        sb_rpc_pack_error(&pk, r->msg.msgid, rc, err.message);
        finish(r, rc);
        return true;
    }
    sb_cluster_t *cluster = conn->server->svc.cluster;
    if (cluster != NULL && r->method->writes && !sb_cluster_writable(cluster)) {
        sb_cluster_status_t st;
        sb_cluster_status(cluster, &st);
        char message[256];
        snprintf(message, sizeof(message),
                 st.replica ? "This server is a replica of shard %s: send writes to the shard's "
                              "primary%s%s."
                            : "This server is no longer shard %s's primary (another one took "
                              "over): send writes to the new primary%s%s.",
                 st.shard, st.primary[0] ? ", " : "", st.primary);
        reply_error(r, SB_E_NOT_PRIMARY, message);
        finish(r, SB_E_NOT_PRIMARY);
        return true;
    }
    r->min_seq = r->method->writes ? 0 : (uint64_t)sb_arg_int(&r->call, "min_seq", 0);
    if (r->min_seq > 0 && r->call.token.role != SB_ROLE_ADMIN) {
        /* The sequence counts every org's writes: a tenant probing a
         * replica with it would learn the others' write volume. */
        reply_error(r, -EACCES,
                    "min_seq is the admin token's: an org's token gets no seq to wait for.");
        finish(r, -EACCES);
        return true;
    }
    if (r->min_seq > 0 && !sb_cluster_wait_applied(cluster, r->min_seq, 0)) {
        min_seq_wait(r);
        return true;
    }
    after_min_seq(r);
    return true;
}

/*
 * Frames and handles every whole message in the buffer, as long as the
 * connection may take more: not closing, below max_inflight, its replies
 * below the high mark, no failed authentication held. What stays waits
 * until update_reading resumes.
 * Not re-entrant: a request finished inside the loop may resume reading,
 * and a nested pass would see messages the outer one has handled but not
 * yet dropped from the buffer.
 */
static void process_buffer(sb_conn_t *conn)
{
    /* The pass read_cb runs directly may write with the lock let go (its
     * caller holds nothing else); a pass nested in other work may not. */
    bool top = conn->loop->top_pass == conn;
    conn->loop->top_pass = NULL;
    if (conn->processing)
        return;
    conn->processing = true;
    size_t off = 0;
    const sb_config_t *cfg = &conn->server->cfg;
    uint64_t started = uv_hrtime();
    bool out_of_budget = false;
    while (!conn->closing && conn->inflight < cfg->max_inflight &&
           conn->inflight_bytes < inflight_budget(cfg) && conn->held == NULL &&
           conn->queued_bytes < cfg->write_high_bytes && !conn->server->stopping) {
        if (off > 0 && uv_hrtime() - started > PASS_BUDGET_NS) {
            out_of_budget = true;
            break;
        }
        size_t msg_len, limit = message_limit(conn);
        int rc = sb_frame_scan(conn->buf + off, conn->len - off, limit, &msg_len);
        if (rc == SB_FRAME_NEED_MORE && conn->len - off > limit)
            rc = -EMSGSIZE;
        if (rc == SB_FRAME_NEED_MORE)
            break;
        if (rc == -EMSGSIZE) {
            conn_close(conn, conn->token.role == SB_ROLE_NONE
                                 ? "a message larger than --max-preauth-bytes before "
                                   "authenticating"
                                 : "a message larger than --max-message-bytes");
            break;
        }
        if (rc != SB_FRAME_COMPLETE) {
            conn_close(conn, "bytes that are not msgpack");
            break;
        }
        if (!handle_message(conn, conn->buf + off, msg_len)) {
            conn_close(conn, "a message that is not a msgpack-RPC request");
            break;
        }
        off += msg_len;
    }
    conn->processing = false;
    int rc = flush_out(conn, top);
    if (rc != 0)
        conn_close(conn, uv_strerror(rc));
    if (conn->closing)
        return;
    if (off > 0) {
        memmove(conn->buf, conn->buf + off, conn->len - off);
        conn->len -= off;
    }
    shrink_buffer(conn, false);
    if (out_of_budget)
        defer_pass(conn);
    update_reading(conn);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    sb_conn_t *conn = stream->data;
    if (nread == 0)
        return; /* EAGAIN: nothing to read, not the end */
    sb_server_t *server = conn->server;
    sb__server_lock(server);
    if (nread < 0) {
        conn_close(conn, nread == UV_EOF ? "the client hung up" : uv_strerror((int)nread));
    } else {
        conn->len += (size_t)nread;
        sb_metrics_bytes_in((size_t)nread);
        conn->active_ms = now_ms(conn);
        conn->loop->top_pass = conn;
        process_buffer(conn);
    }
    sb__server_unlock(server);
}

/* ---- admission and timeouts ------------------------------------------------------- */

/* Closes the connection that has waited longest to authenticate, so that a
 * new one may try: silent clients cannot keep everyone else out. */
static bool evict_oldest_unauthenticated(sb_loop_t *here)
{
    sb_server_t *server = here->server;
    sb_conn_t *oldest = NULL;
    for (unsigned i = 0; i < server->n_loops; i++)
        for (sb_conn_t *c = server->loops[i].conns; c != NULL; c = c->next)
            if (c->unauthenticated && !c->closing && c->close_why == NULL &&
                (oldest == NULL || c->id < oldest->id))
                oldest = c;
    if (oldest == NULL)
        return false;
    sb__log_limited(server, &server->refusals_log, SB_LOG_WARN,
                    "conn %llu: closed to make room: %zu connections are waiting to "
                    "authenticate (--max-unauthenticated)",
                    (unsigned long long)oldest->id, server->cfg.max_unauthenticated);
    sb_metrics_conn_refused(SB_METRICS_REFUSED_UNAUTHENTICATED);
    close_soon(here, oldest, "a newer connection needed its place among --max-unauthenticated");
    return true;
}

/* A new connection of `loop`, counted; its pipe initialized, not yet open.
 * `id` was given when it was accepted: ids follow the order of accepting
 * (the oldest unauthenticated is the one evicted), whichever loop adopts
 * a connection first. */
static sb_conn_t *conn_new(sb_loop_t *loop, uint64_t id)
{
    sb_server_t *server = loop->server;
    sb_conn_t *conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        return NULL;
    conn->server = server;
    conn->loop = loop;
    conn->id = id;
    conn->refs = 1;
    conn->opened_ms = conn->active_ms = uv_now(loop->loop);
    atomic_init(&conn->access_ended, false);
    uv_pipe_init(loop->loop, &conn->pipe, 0);
    conn->pipe.data = conn;
    conn->next = loop->conns;
    if (loop->conns)
        loop->conns->prev = conn;
    loop->conns = conn;
    server->svc.connections++;
    loop->connections++;
    server->loop_connections[loop->index] = loop->connections;
    sb_metrics_conn_opened();
    conn->unauthenticated = true;
    server->unauthenticated++;
    return conn;
}

/* The checks a connection passes once open on its loop, then reading. */
static void conn_admit(sb_conn_t *conn)
{
    sb_server_t *server = conn->server;
    if (server->stopping) {
        conn_close(conn, "the server is stopping");
        return;
    }
    if (server->fd_connections != 0 && server->svc.connections > server->fd_connections) {
        sb__log_limited(server, &server->refusals_log, SB_LOG_WARN,
                        "conn %llu: refused: %zu connections reach the open-files limit (raise "
                        "LimitNOFILE= or ulimit -n)",
                        (unsigned long long)conn->id, server->svc.connections - 1);
        sb_metrics_conn_refused(SB_METRICS_REFUSED_OPEN_FILES);
        conn_close(conn, "over the open-files limit");
        return;
    }
    if (server->unauthenticated > server->cfg.max_unauthenticated &&
        !evict_oldest_unauthenticated(conn->loop)) {
        sb__log_limited(server, &server->refusals_log, SB_LOG_WARN,
                        "conn %llu: refused: %zu connections are waiting to authenticate "
                        "(--max-unauthenticated)",
                        (unsigned long long)conn->id, server->cfg.max_unauthenticated);
        sb_metrics_conn_refused(SB_METRICS_REFUSED_UNAUTHENTICATED);
        conn_close(conn, "over --max-unauthenticated");
        return;
    }
    sb_debug("conn %llu: open on loop %u", (unsigned long long)conn->id, conn->loop->index);
    update_reading(conn);
}

/* The loop with the fewest connections (those handed over and not yet
 * adopted count); among equals, the next in turn. */
static sb_loop_t *pick_loop(sb_server_t *server)
{
    unsigned best = server->next_loop % server->n_loops;
    for (unsigned k = 1; k < server->n_loops; k++) {
        unsigned i = (server->next_loop + k) % server->n_loops;
        if (server->loops[i].connections < server->loops[best].connections)
            best = i;
    }
    server->next_loop = best + 1;
    return &server->loops[best];
}

static void free_handle_cb(uv_handle_t *handle)
{
    free(handle);
}

void sb__conn_accept(sb_server_t *server)
{
    sb_loop_t *first = &server->loops[0];
    sb_loop_t *loop = pick_loop(server);
    if (loop == first) {
        sb_conn_t *conn = conn_new(first, ++server->next_conn_id);
        if (conn == NULL)
            return;
        if (uv_accept((uv_stream_t *)&server->listener, (uv_stream_t *)&conn->pipe) != 0) {
            conn_close(conn, "accept failed");
            return;
        }
        conn_admit(conn);
        return;
    }
    /* Another loop's: the socket is accepted here (libuv has taken it from
     * the listener already), and its descriptor, duplicated, goes to the
     * loop that serves it; this loop's handle closes the original. */
    uv_pipe_t *tmp = malloc(sizeof(*tmp));
    sb_handoff_t *h = malloc(sizeof(*h));
    if (tmp == NULL || h == NULL) {
        free(tmp);
        free(h);
        return;
    }
    uv_pipe_init(server->loop, tmp, 0);
    uv_os_fd_t fd = -1;
    int dup = -1;
    if (uv_accept((uv_stream_t *)&server->listener, (uv_stream_t *)tmp) == 0 &&
        uv_fileno((uv_handle_t *)tmp, &fd) == 0)
        dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    uv_close((uv_handle_t *)tmp, free_handle_cb);
    if (dup < 0) {
        free(h);
        sb__log_limited(server, &server->refusals_log, SB_LOG_WARN,
                        "a connection was refused: it could not be handed to loop %u: %s",
                        loop->index, strerror(errno));
        return;
    }
    h->fd = dup;
    h->id = ++server->next_conn_id;
    /* In the order accepted (the list's tail): adopted in that order. */
    h->next = NULL;
    if (loop->handoffs_tail != NULL)
        loop->handoffs_tail->next = h;
    else
        loop->handoffs = h;
    loop->handoffs_tail = h;
    loop->connections++; /* counted for the next choice; conn_new counts it for good */
    sb__loop_poke(loop);
}

/* The connections handed to this loop (its thread, server lock). */
static void adopt_handoffs(sb_loop_t *loop)
{
    sb_handoff_t *list = loop->handoffs;
    loop->handoffs = loop->handoffs_tail = NULL;
    while (list != NULL) {
        sb_handoff_t *h = list;
        list = h->next;
        loop->connections--; /* conn_new counts it again */
        sb_conn_t *conn = loop->wake_closed ? NULL : conn_new(loop, h->id);
        if (conn == NULL) {
            close(h->fd);
        } else if (uv_pipe_open(&conn->pipe, h->fd) != 0) {
            close(h->fd);
            conn_close(conn, "accept failed");
        } else {
            conn_admit(conn);
        }
        free(h);
    }
}

/* Connections another loop's thread marked to close (close_soon). */
static void close_marked(sb_loop_t *loop)
{
    if (!loop->close_marked)
        return;
    loop->close_marked = false;
    for (sb_conn_t *c = loop->conns; c; c = c->next)
        if (c->close_why != NULL && !c->closing)
            conn_close(c, c->close_why);
}

/* Writes the writer handed back for this loop's requests (job_done). */
static void writes_done(sb_loop_t *loop)
{
    request_t *list = loop->writes_done;
    loop->writes_done = loop->writes_done_tail = NULL;
    while (list != NULL) {
        request_t *r = list;
        list = r->next;
        r->next = NULL;
        write_done_here(r);
    }
}

void sb__conn_woken(sb_loop_t *loop)
{
    adopt_handoffs(loop);
    writes_done(loop);
    close_marked(loop);
    if (loop->watch_kick && loop->watchers > 0 && !loop->server->stopping)
        uv_idle_start(&loop->slicer, slicer_cb);
}

void sb__conn_stop_reading_all(sb_loop_t *loop)
{
    for (sb_conn_t *c = loop->conns; c; c = c->next)
        update_reading(c);
    /* Failed authentications held back are answered now: shutdown waits
     * for every request in flight, and these are. */
    if (uv_is_active((uv_handle_t *)&loop->held))
        uv_timer_start(&loop->held, held_cb, 0, 0);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)status;
    sb_conn_t *conn = req->data;
    sb_server_t *server = conn->server;
    free(req);
    sb__server_lock(server);
    conn_close(conn, "the server is stopping");
    conn_unref(conn);
    sb__server_unlock(server);
}

void sb__conn_close_all(sb_loop_t *loop)
{
    for (sb_conn_t *c = loop->conns; c; c = c->next) {
        if (c->closing)
            continue;
        /* Shut down the write side: queued replies are written first. */
        uv_shutdown_t *req = malloc(sizeof(*req));
        if (req != NULL) {
            req->data = c;
            c->refs++;
            if (uv_shutdown(req, (uv_stream_t *)&c->pipe, shutdown_cb) == 0)
                continue;
            free(req);
            c->refs--;
        }
        conn_close(c, "the server is stopping");
    }
}

void sb__conn_close_now_all(sb_loop_t *loop, const char *why)
{
    for (sb_conn_t *c = loop->conns; c; c = c->next)
        conn_close(c, why);
}

void sb__conn_check_timeouts(sb_loop_t *loop, uint64_t now)
{
    sb_server_t *server = loop->server;
    const sb_config_t *cfg = &server->cfg;
    for (sb_conn_t *c = loop->conns; c; c = c->next) {
        if (c->closing)
            continue;
        if (c->queued_bytes > 0 && now - c->stalled_since > cfg->write_stall_ms)
            conn_close(c, "it has not read its replies for --write-stall-ms");
        else if (c->token.role == SB_ROLE_NONE && now - c->opened_ms > cfg->auth_timeout_ms)
            conn_close(c, "it did not authenticate within --auth-timeout-ms");
        else if (c->token.role != SB_ROLE_NONE && cfg->idle_timeout_ms > 0 && c->inflight == 0 &&
                 !c->watching && c->queued_bytes == 0 && now - c->active_ms > cfg->idle_timeout_ms)
            conn_close(c, "it was idle for --idle-timeout-ms");
        else if (c->inflight == 0 && now - c->active_ms > 1000)
            shrink_buffer(c, true);
    }
    /* Bursts (a thousand large messages) leave freed memory that glibc
     * keeps below its trim threshold, scattered where it cannot trim the
     * top of the heap: hand it back once enough was freed. */
    if (loop->freed_bytes >= TRIM_AFTER_BYTES) {
        loop->freed_bytes = 0;
        malloc_trim(0);
    }
    /* A watcher paused by the unread budgets (not by its own queue, whose
     * reads kick it) goes on within a second of room coming back. */
    watch_kick(loop);
}

/* Once a second, on the first loop: what is server-wide. */
void sb__conn_server_tick(sb_server_t *server)
{
    server->auth_failures_recent /= 2;
    sb__log_limited_flush(server, &server->refusals_log, SB_LOG_WARN);
    sb__log_limited_flush(server, &server->slots_log, SB_LOG_WARN);
    sb__log_limited_flush(server, &server->unread_log, SB_LOG_WARN);
    sb__log_limited_flush(server, &server->auth_log, SB_LOG_INFO);
    sb__log_limited_flush(server, &server->closes_log, SB_LOG_INFO);
}
