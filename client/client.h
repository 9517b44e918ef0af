#pragma once
/*
 * The client as Switchboard's own programs use it (sbctl, sbbench, the
 * tests): the public API (abi/switchboard/client.h) plus what only they
 * need, which stays out of the installed library and its header:
 *   - the client's fields, so that a client can live on the caller's stack
 *     (sb_client_open/sb_client_close) and a test can poll its fd or read
 *     the error's name without a call;
 *   - errors as the rest of the tree reports them (sb_err_t);
 *   - JSON arguments (jansson), for sbctl's command line and the tests.
 * None of these functions is exported by libswitchboard-client.so.
 */

#include <jansson.h>
#include <msgpack.h>
#include <stdint.h>
#include <switchboard/client.h>

#include "error.h"

#define SB_CLIENT_ERROR_MESSAGE_MAX 1024

/** One view of a compact softphone.check_batch answer: where it lies in the read buffer. */
struct sb_client_view {
    const uint8_t *block;
    size_t len;
    sb_client_answer_t offsets; /* the array of the places of the user's id */
};

struct sb_client {
    int fd; /* -1 when not connected */
    uint32_t next_msgid;
    char *buf; /* bytes read: buf[start..len) not yet consumed */
    size_t start, len, cap;
    size_t consumed; /* bytes of the answer lent out (from start), dropped by the next read */
    char *out;       /* requests queued by sb_client_queue, not yet sent: out[0..out_len) */
    size_t out_len, out_cap;
    /* softphone.check_batch requests the client asked in the compact form, not yet answered:
     * their answers are expanded to the default form (client.c: expand_batch) */
    uint32_t *compact_ids;
    size_t compact_n, compact_cap;
    uint8_t *expanded; /* the last expanded answer, lent as sb_client_recv's answers are */
    size_t expanded_len, expanded_cap;
    struct sb_client_view *views; /* a compact answer's views, while it is expanded */
    size_t views_cap;
    size_t max_message;     /* answers may be larger than requests: 64 MiB */
    msgpack_unpacked reply; /* the answer sb_client_recv lent out */
    int error_code;         /* the server's wire code after SB_CLIENT_REFUSED, else 0 */
    char error_name[64];    /* the server's error name after SB_CLIENT_REFUSED, else "" */
    char error_message[SB_CLIENT_ERROR_MESSAGE_MAX]; /* the last failure's sentence */
};

/**
 * sb_client_new and sb_client_connect on the caller's storage. Returns 0 or
 * a negative errno as sb_client_connect, with its sentence in err (may be
 * NULL). Whatever it returns, release `client` with sb_client_close.
 */
int sb_client_open(sb_client_t *client, const char *path, sb_err_t *err);

/** Closes a client opened with sb_client_open (even one whose open failed). */
void sb_client_close(sb_client_t *client);

/** Copies the last failure of `client` into err (may be NULL), worth rc; returns rc. */
int sb_client_err(const sb_client_t *client, int rc, sb_err_t *err);

/**
 * The next message from the server, whatever it is: a response, or a
 * notification ([2, method, params], e.g. changes.watch's). *msg is the
 * whole message [borrowed: until the next receive or call on this client].
 * Returns 0, or a negative errno as sb_client_recv.
 */
int sb_client_next(sb_client_t *client, const msgpack_object **msg);

/** Packs a JSON value as msgpack (objects as maps, arrays as arrays). Returns 0 or -1. */
int sb_client_pack_json(msgpack_packer *pk, const json_t *json);

/**
 * sb_client_call with the arguments as a JSON object, which the call takes
 * over (it is freed; NULL means no arguments), and its failure in err (may
 * be NULL): the server's sentence after SB_CLIENT_REFUSED.
 */
int sb_client_call_json(sb_client_t *client, const char *method, json_t *args,
                        msgpack_unpacked *result, sb_err_t *err);

/* ---- cluster mode, as sbctl uses it (cluster.c; not exported) ---------------- */

/**
 * The connection a request would be routed to (as sb_client_cluster_call
 * routes it, without its retries), connected and authenticated: for what
 * needs the client itself (sbctl's backup, watch, imports, --all pages).
 * *client [borrowed: until the next call on `cluster` or its free].
 * Returns 0, SB_CLIENT_REFUSED (NO_ROUTE, or the member refused the token)
 * or a negative errno; the error is the cluster's (sb_client_cluster_error_*).
 */
int sb__client_cluster_route(sb_client_cluster_t *cluster, const char *shard, const char *method,
                             const void *args, size_t args_len, sb_client_t **client);

/**
 * The shard the placement map names for `org` (as the watch last saw it), copied into
 * shard[cap]. Returns 0, or SB_CLIENT_REFUSED (NO_ROUTE: no such org) or -EINVAL.
 */
int sb__client_cluster_org_shard(sb_client_cluster_t *cluster, const char *org, char *shard,
                                 size_t cap);

/**
 * Switches org.<ORG> in the placement bucket from shard `from` to shard `to` (serving), a
 * compare-and-set on the key's latest revision: the step that decides an org's move (sbctl org
 * move --to). An update NATS did not answer is read back: 0 when the key names `to`. Returns
 * 0; -ESTALE when the key does not name `from` or changed meanwhile (nothing switched); -EIO
 * (NATS; the key still names `from`); -EINPROGRESS (not known whether it was switched: the key
 * could not be read back); SB_CLIENT_REFUSED (NO_ROUTE: no key), -EINVAL, -ENOMEM.
 */
int sb__client_cluster_org_place(sb_client_cluster_t *cluster, const char *org, const char *from,
                                 const char *to);

/** A reply's deadline on the member connections opened from now on; 0: none. */
void sb__client_cluster_set_timeout(sb_client_cluster_t *cluster, int seconds);
