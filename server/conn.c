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
 * Lifetime: the libuv handle holds one reference and every request in
 * flight holds one; the struct is freed when the last goes, which is never
 * before the handle's close callback.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rpc_frame.h"
#include "server_internal.h"

#define READ_CHUNK (64 << 10)
#define MAX_AUTH_FAILURES 3

struct sb_conn {
    uv_pipe_t pipe;
    sb_server_t *server;
    sb_conn_t *prev, *next;
    uint64_t id;
    unsigned refs;
    bool closing;
    bool reading;
    bool processing; /* process_buffer is on the stack: it must not run again inside */
    uint8_t *buf;    /* bytes read, not yet framed */
    size_t len, cap;
    size_t inflight;
    size_t queued_bytes; /* replies handed to libuv or gathered, not yet written */
    /* Replies made during one pass of process_buffer, sent in one write at
     * its end: a client that pipelines gets one system call, not one per
     * answer. */
    char *out;
    size_t out_len, out_cap;
    uint64_t stalled_since;  /* when queued_bytes last made progress (ms) */
    sb_token_record_t token; /* role NONE until authenticated */
    int auth_failures;
};

/* A request being served: the message's bytes and decoded form, and its reply. */
typedef struct request {
    sb_write_job_t job; /* first: the writer hands back this pointer */
    sb_conn_t *conn;
    const sb_method_t *method;
    sb_rpc_msg_t msg;
    sb_call_t call;
    msgpack_unpacked unpacked; /* owns the zone the call's strings live in */
    uint8_t *bytes;            /* the message; decoded strings point into it */
    msgpack_sbuffer reply;
    int rc;                /* a write's outcome, set on the writer thread */
    uv_work_t prep_work;   /* the method's prepare step, on the thread pool */
    sb_prepare_fn prepare; /* NULL: none */
    sb_err_t prep_err;     /* its error */
} request_t;

typedef struct write_req {
    uv_write_t req;
    sb_conn_t *conn;
    char *data;
    size_t len;
} write_req_t;

static uint64_t now_ms(sb_conn_t *conn)
{
    return uv_now(conn->server->loop);
}

static void conn_unref(sb_conn_t *conn)
{
    if (--conn->refs > 0)
        return;
    free(conn->buf);
    free(conn->out);
    free(conn);
}

static void close_cb(uv_handle_t *handle)
{
    sb_conn_t *conn = handle->data;
    sb_server_t *server = conn->server;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        server->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    server->svc.connections--;
    conn_unref(conn);
}

static int flush_out(sb_conn_t *conn);

static void conn_close(sb_conn_t *conn, const char *why)
{
    if (conn->closing)
        return;
    /* Answers gathered before the reason to close go out first, as if
     * sent at once; if they cannot, there is nothing more to do for them. */
    (void)flush_out(conn);
    conn->closing = true;
    sb_info("conn %llu: closed: %s", (unsigned long long)conn->id, why);
    uv_close((uv_handle_t *)&conn->pipe, close_cb);
}

static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    sb_conn_t *conn = handle->data;
    if (conn->cap - conn->len < READ_CHUNK) {
        size_t cap = conn->len + READ_CHUNK;
        uint8_t *grown = realloc(conn->buf, cap);
        if (grown == NULL) {
            *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
            return;
        }
        conn->buf = grown;
        conn->cap = cap;
    }
    *buf = uv_buf_init((char *)conn->buf + conn->len, (unsigned)(conn->cap - conn->len));
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void process_buffer(sb_conn_t *conn);

/* Reads when nothing holds it back; stops otherwise. */
static void update_reading(sb_conn_t *conn)
{
    const sb_config_t *cfg = &conn->server->cfg;
    if (conn->closing)
        return;
    bool want = !conn->server->stopping && conn->inflight < cfg->max_inflight &&
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

static void write_cb(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    sb_conn_t *conn = w->conn;
    conn->queued_bytes -= w->len;
    conn->stalled_since = now_ms(conn);
    free(w->data);
    free(w);
    if (status != 0 && status != UV_ECANCELED)
        conn_close(conn, uv_strerror(status));
    update_reading(conn);
    conn_unref(conn);
}

/* Hands `len` bytes at `data` (malloc'd; taken over) to libuv, already
 * counted in queued_bytes. Returns 0, or a libuv error (the bytes dropped,
 * the connection left for the caller to close). */
static int write_out(sb_conn_t *conn, char *data, size_t len)
{
    write_req_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        conn->queued_bytes -= len;
        free(data);
        return UV_ENOMEM;
    }
    w->conn = conn;
    w->len = len;
    w->data = data;
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)w->len);
    conn->refs++; /* the handle holds one too: this never frees the connection */
    int rc = uv_write(&w->req, (uv_stream_t *)&conn->pipe, &buf, 1, write_cb);
    if (rc != 0) {
        conn->queued_bytes -= w->len;
        conn->refs--;
        free(w->data);
        free(w);
    }
    return rc;
}

/* Sends what process_buffer gathered, in one write. */
static int flush_out(sb_conn_t *conn)
{
    if (conn->out_len == 0 || conn->closing)
        return 0;
    char *data = conn->out;
    size_t len = conn->out_len;
    conn->out = NULL;
    conn->out_len = conn->out_cap = 0;
    return write_out(conn, data, len);
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
    if (conn->processing) {
        if (conn->out_cap - conn->out_len < reply->size) {
            size_t cap = conn->out_cap ? conn->out_cap : 16384;
            while (cap - conn->out_len < reply->size)
                cap *= 2;
            char *grown = realloc(conn->out, cap);
            if (grown == NULL) {
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

static void request_free(request_t *r)
{
    sb_call_release(&r->call);
    msgpack_unpacked_destroy(&r->unpacked);
    msgpack_sbuffer_destroy(&r->reply);
    free(r->bytes);
    free(r);
}

/* Logs, answers (unless a notification), and releases a finished request. */
static void finish(request_t *r, int rc)
{
    sb_conn_t *conn = r->conn;
    if (r->call.authenticated) {
        conn->token = r->call.new_token;
        sb_info("conn %llu: authenticated as %s%s%s", (unsigned long long)conn->id,
                conn->token.role == SB_ROLE_ADMIN ? "the admin" : "a token of org ",
                conn->token.role == SB_ROLE_ADMIN ? "" : conn->token.org,
                conn->token.role == SB_ROLE_READ_ONLY ? " (read-only)" : "");
    }
    sb_log(rc == 0 ? SB_LOG_DEBUG : SB_LOG_INFO, "conn %llu: org %s: %s -> %s",
           (unsigned long long)conn->id, r->call.org ? r->call.org : "-", r->msg.method,
           rc == 0 ? "OK" : sb_err_name(rc));
    if (r->msg.type == SB_RPC_REQUEST)
        send_reply(conn, &r->reply);
    if (rc == SB_E_UNAUTHENTICATED && ++conn->auth_failures >= MAX_AUTH_FAILURES)
        conn_close(conn, "too many failed authentications");
    sb_server_t *server = conn->server;
    conn->inflight--;
    request_free(r);
    update_reading(conn);
    conn_unref(conn);
    sb__server_request_done(server);
}

static int job_run(sb_write_job_t *job)
{
    request_t *r = (request_t *)job;
    r->rc = sb_dispatch_run(&r->call, r->method, r->msg.msgid, &r->reply);
    return r->rc;
}

static void job_fail(sb_write_job_t *job, int code, const char *message)
{
    request_t *r = (request_t *)job;
    r->rc = code;
    msgpack_sbuffer_clear(&r->reply);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &r->reply, msgpack_sbuffer_write);
    sb_rpc_pack_error(&pk, r->msg.msgid, code, message);
}

/* Back on the loop: the write is durable (or failed for good). */
static void job_done(sb_write_job_t *job)
{
    request_t *r = (request_t *)job;
    finish(r, r->rc);
}

/* Runs the method: a write goes to the writer; the rest runs here. */
static void run_method(request_t *r)
{
    if (r->method->writes && !r->call.prep_only) {
        r->job = (sb_write_job_t){.run = job_run, .fail = job_fail, .done = job_done};
        sb_writer_submit(r->conn->server->writer, &r->job);
        return;
    }
    finish(r, sb_dispatch_run(&r->call, r->method, r->msg.msgid, &r->reply));
}

/* The prepare step, on the thread pool: adapter calls and parsing wait
 * there, never on the loop or the writer. */
static void prep_work_cb(uv_work_t *work)
{
    request_t *r = work->data;
    sb_err_clear(&r->prep_err);
    r->rc = r->prepare(&r->call, &r->prep_err);
}

static void prep_after_cb(uv_work_t *work, int status)
{
    request_t *r = work->data;
    if (status == 0 && r->rc == 0) {
        run_method(r);
        return;
    }
    int rc = status != 0 ? -ECANCELED : r->rc;
    msgpack_sbuffer_clear(&r->reply);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &r->reply, msgpack_sbuffer_write);
    sb_rpc_pack_error(&pk, r->msg.msgid, rc, r->prep_err.message);
    finish(r, rc);
}

/* Handles one complete message of `len` bytes at conn->buf[off]. Returns
 * false when the connection must close. */
static bool handle_message(sb_conn_t *conn, const uint8_t *data, size_t len)
{
    request_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return false;
    r->bytes = malloc(len);
    if (r->bytes == NULL) {
        free(r);
        return false;
    }
    memcpy(r->bytes, data, len);
    msgpack_unpacked_init(&r->unpacked);
    msgpack_sbuffer_init(&r->reply);
    size_t off = 0;
    sb_err_t err;
    sb_err_clear(&err);
    if (msgpack_unpack_next(&r->unpacked, (const char *)r->bytes, len, &off) !=
            MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        sb_warn("conn %llu: a message msgpack-c could not decode", (unsigned long long)conn->id);
        request_free(r);
        return false;
    }
    int rc = sb_rpc_parse(&r->unpacked.data, &r->msg, &err);
    if (rc == -EPROTO) {
        sb_warn("conn %llu: not a request: %s", (unsigned long long)conn->id, err.message);
        request_free(r);
        return false;
    }
    r->conn = conn;
    r->call = (sb_call_t){.svc = &conn->server->svc,
                          .args = r->msg.args,
                          .zone = r->unpacked.zone,
                          .token = conn->token};
    if (r->call.zone == NULL) /* an empty message owns no zone: give it one */
        r->call.zone = r->unpacked.zone = msgpack_zone_new(1024);
    conn->refs++;
    conn->inflight++;
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
    r->prepare = sb_method_prepare(r->method);
    if (r->prepare != NULL) {
        r->prep_work.data = r;
        int qrc = uv_queue_work(conn->server->loop, &r->prep_work, prep_work_cb, prep_after_cb);
        if (qrc == 0)
            return true;
        r->rc = sb_err_set(&r->prep_err, -EIO, "The thread pool refused the work: %s.",
                           uv_strerror(qrc));
        prep_after_cb(&r->prep_work, 0);
        return true;
    }
    run_method(r);
    return true;
}

/*
 * Frames and handles every whole message in the buffer, as long as the
 * connection may take more: not closing, below max_inflight, its replies
 * below the high mark. What stays waits until update_reading resumes.
 * Not re-entrant: a request finished inside the loop may resume reading,
 * and a nested pass would see messages the outer one has handled but not
 * yet dropped from the buffer.
 */
static void process_buffer(sb_conn_t *conn)
{
    if (conn->processing)
        return;
    conn->processing = true;
    size_t off = 0;
    const sb_config_t *cfg = &conn->server->cfg;
    while (!conn->closing && conn->inflight < cfg->max_inflight &&
           conn->queued_bytes < cfg->write_high_bytes && !conn->server->stopping) {
        size_t msg_len;
        int rc = sb_frame_scan(conn->buf + off, conn->len - off, cfg->max_message_bytes, &msg_len);
        if (rc == SB_FRAME_NEED_MORE)
            break;
        if (rc == -EMSGSIZE) {
            conn_close(conn, "a message larger than --max-message-bytes");
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
    int rc = flush_out(conn);
    if (rc != 0)
        conn_close(conn, uv_strerror(rc));
    if (conn->closing)
        return;
    if (off > 0) {
        memmove(conn->buf, conn->buf + off, conn->len - off);
        conn->len -= off;
    }
    update_reading(conn);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    sb_conn_t *conn = stream->data;
    if (nread == 0)
        return; /* EAGAIN: nothing to read, not the end */
    if (nread < 0) {
        conn_close(conn, nread == UV_EOF ? "the client hung up" : uv_strerror((int)nread));
        return;
    }
    conn->len += (size_t)nread;
    process_buffer(conn);
}

void sb__conn_accept(sb_server_t *server)
{
    sb_conn_t *conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        return;
    conn->server = server;
    conn->id = ++server->next_conn_id;
    conn->refs = 1;
    uv_pipe_init(server->loop, &conn->pipe, 0);
    conn->pipe.data = conn;
    conn->next = server->conns;
    if (server->conns)
        server->conns->prev = conn;
    server->conns = conn;
    server->svc.connections++;
    if (uv_accept((uv_stream_t *)&server->listener, (uv_stream_t *)&conn->pipe) != 0) {
        conn_close(conn, "accept failed");
        return;
    }
    if (server->svc.connections > server->cfg.max_connections || server->stopping) {
        sb_warn("conn %llu: refused: %zu connections is the limit (--max-connections)",
                (unsigned long long)conn->id, server->cfg.max_connections);
        conn_close(conn, "over the connection limit");
        return;
    }
    sb_info("conn %llu: open", (unsigned long long)conn->id);
    update_reading(conn);
}

void sb__conn_stop_reading_all(sb_server_t *server)
{
    for (sb_conn_t *c = server->conns; c; c = c->next)
        update_reading(c);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)status;
    sb_conn_t *conn = req->data;
    free(req);
    conn_close(conn, "the server is stopping");
    conn_unref(conn);
}

void sb__conn_close_all(sb_server_t *server)
{
    for (sb_conn_t *c = server->conns; c; c = c->next) {
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

void sb__conn_check_stalls(sb_server_t *server, uint64_t now)
{
    for (sb_conn_t *c = server->conns; c; c = c->next)
        if (!c->closing && c->queued_bytes > 0 &&
            now - c->stalled_since > server->cfg.write_stall_ms)
            conn_close(c, "it has not read its replies for --write-stall-ms");
}
