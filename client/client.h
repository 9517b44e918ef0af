#pragma once
/*
 * A blocking msgpack-RPC client for switchboardd, for sbctl and the tests:
 * connect, authenticate, call a method, read its answer.
 */

#include <jansson.h>
#include <msgpack.h>
#include <stdint.h>

#include "error.h"

/* What sb_client_call returns besides 0 and negative transport errors. */
#define SB_CLIENT_REFUSED 1 /* the server answered with an error */

typedef struct sb_client {
    int fd;
    uint32_t next_msgid;
    char *buf; /* bytes read, not yet consumed */
    size_t len, cap;
    size_t consumed; /* bytes of the answer sb_client_recv lent out, dropped by the next read */
    size_t max_message;
    char error_name[64]; /* the server's error name after SB_CLIENT_REFUSED */
    int error_code;      /* and its wire code */
} sb_client_t;

/** Connects to the socket at `path`. Returns 0 or a negative errno, with a sentence. */
int sb_client_connect(sb_client_t *client, const char *path, sb_err_t *err);

/** Closes the connection; safe on a client that never connected. */
void sb_client_close(sb_client_t *client);

/**
 * Calls `method` with `args`, a packed msgpack map (NULL: no arguments), and
 * waits for its answer. Returns 0 with the result in *result (release it with
 * msgpack_unpacked_destroy; result->data is the result object), or
 * SB_CLIENT_REFUSED with the server's error name in client->error_name and
 * its sentence in err, or a negative errno when the connection failed.
 */
int sb_client_call(sb_client_t *client, const char *method, const msgpack_sbuffer *args,
                   msgpack_unpacked *result, sb_err_t *err);

/**
 * Pipelining: sends a request without waiting for its answer. `args` is a
 * packed msgpack map (NULL: none). *msgid is the id its answer will carry.
 */
int sb_client_send(sb_client_t *client, const char *method, const void *args, size_t args_len,
                   uint32_t *msgid, sb_err_t *err);

/**
 * Waits for the next answer. Answers come as requests finish: reads in the
 * order sent, a write's after its commit (possibly after later reads'), so
 * match them by *msgid. Returns 0 with *result pointing at the result inside `reply`
 * (msgpack_unpacked_init it once; its objects and strings stay valid until
 * the next read on this client), SB_CLIENT_REFUSED, or a negative errno.
 */
int sb_client_recv(sb_client_t *client, msgpack_unpacked *reply, uint32_t *msgid,
                   const msgpack_object **result, sb_err_t *err);

/** Packs a JSON value as msgpack (objects as maps, arrays as arrays). Returns 0 or -1. */
int sb_client_pack_json(msgpack_packer *pk, const json_t *json);

/**
 * sb_client_call with the arguments as a JSON object, which the call takes
 * over (it is freed; NULL means no arguments).
 */
int sb_client_call_json(sb_client_t *client, const char *method, json_t *args,
                        msgpack_unpacked *result, sb_err_t *err);

/** token.authenticate with `token`. Returns as sb_client_call. */
int sb_client_authenticate(sb_client_t *client, const char *token, sb_err_t *err);
