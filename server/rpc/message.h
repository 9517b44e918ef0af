#pragma once
/*
 * msgpack-RPC messages, as the specification has them:
 *   request       [0, msgid, method, params]
 *   response      [1, msgid, error, result]
 *   notification  [2, method, params]
 * Switchboard's params are an array holding one map of named arguments (an
 * empty array means no arguments); its errors are maps {code, name, message}.
 */

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "pack.h"

#define SB_RPC_REQUEST 0
#define SB_RPC_RESPONSE 1
#define SB_RPC_NOTIFICATION 2

#define SB_RPC_METHOD_MAX 64 /* bytes in a method name */

/** A decoded request or notification. [borrowed: from the msgpack object it was parsed from] */
typedef struct sb_rpc_msg {
    int type;       /* SB_RPC_REQUEST or SB_RPC_NOTIFICATION */
    uint32_t msgid; /* requests only */
    char method[SB_RPC_METHOD_MAX + 1];
    const msgpack_object *args; /* the argument map, or NULL for none */
} sb_rpc_msg_t;

/**
 * Reads the envelope of `obj`. Returns 0; or -EPROTO when obj is not a
 * request or notification at all (no msgid to answer: the caller closes the
 * connection); or -EINVAL when it is a request whose method or params are
 * malformed, with out->msgid set so that the caller can answer it.
 */
int sb_rpc_parse(const msgpack_object *obj, sb_rpc_msg_t *out, sb_err_t *err);

/** Packs a success response's head, [1, msgid, nil, — the caller packs the result next. */
int sb_rpc_pack_result_head(msgpack_packer *pk, uint32_t msgid);

/** Packs a whole error response [1, msgid, {code, name, message}, nil]. */
int sb_rpc_pack_error(msgpack_packer *pk, uint32_t msgid, int code, const char *message);
