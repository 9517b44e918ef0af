#pragma once
/* Shared by server.c and conn.c. */

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "methods.h"
#include "writer.h"

typedef struct sb_conn sb_conn_t;

typedef struct sb_server {
    uv_loop_t *loop;
    uv_pipe_t listener;
    uv_signal_t sigterm, sigint;
    uv_timer_t ticker; /* once a second: cut off stalled connections, free dead readers' slots */
    sb_writer_t *writer;
    sb_config_t cfg;
    sb_service_t svc;
    sb_conn_t *conns; /* every open connection, a doubly linked list */
    uint64_t next_conn_id;
    size_t inflight; /* requests being served, over all connections */
    bool stopping;
    bool closing_conns;
} sb_server_t;

/** Accepts a connection on the listener (or refuses it past the limit). */
void sb__conn_accept(sb_server_t *server);

/** Stops reading every connection (shutdown: no new requests). */
void sb__conn_stop_reading_all(sb_server_t *server);

/** Closes every connection once its queued replies are written. */
void sb__conn_close_all(sb_server_t *server);

/** Cuts off connections whose queued replies made no progress for too long. */
void sb__conn_check_stalls(sb_server_t *server, uint64_t now_ms);

/** Called whenever a request finishes; finishes a shutdown when it was the last. */
void sb__server_request_done(sb_server_t *server);
