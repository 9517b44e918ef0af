#include "message.h"

#include <string.h>

int sb_rpc_parse(const msgpack_object *obj, sb_rpc_msg_t *out, sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (obj->type != MSGPACK_OBJECT_ARRAY || obj->via.array.size < 3 ||
        obj->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return sb_err_set(err, -EPROTO, "A message is an array [type, ...] of 3 or 4 items.");
    const msgpack_object *item = obj->via.array.ptr;
    uint64_t type = item[0].via.u64;
    const msgpack_object *method, *params;
    if (type == SB_RPC_REQUEST && obj->via.array.size == 4) {
        if (item[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || item[1].via.u64 > UINT32_MAX)
            return sb_err_set(err, -EPROTO, "A request's msgid is an unsigned 32-bit integer.");
        out->msgid = (uint32_t)item[1].via.u64;
        method = &item[2];
        params = &item[3];
    } else if (type == SB_RPC_NOTIFICATION && obj->via.array.size == 3) {
        method = &item[1];
        params = &item[2];
    } else {
        return sb_err_set(err, -EPROTO,
                          "Only requests [0, msgid, method, params] and notifications "
                          "[2, method, params] are sent to the server.");
    }
    out->type = (int)type;
    if (method->type != MSGPACK_OBJECT_STR || method->via.str.size == 0 ||
        method->via.str.size > SB_RPC_METHOD_MAX)
        return sb_err_set(err, -EINVAL, "The method name is a string of 1 to %d bytes.",
                          SB_RPC_METHOD_MAX);
    memcpy(out->method, method->via.str.ptr, method->via.str.size);
    out->method[method->via.str.size] = '\0';
    if (params->type != MSGPACK_OBJECT_ARRAY || params->via.array.size > 1 ||
        (params->via.array.size == 1 && params->via.array.ptr[0].type != MSGPACK_OBJECT_MAP))
        return sb_err_set(err, -EINVAL,
                          "The params of %s are an array holding one map of named arguments.",
                          out->method);
    out->args = params->via.array.size == 1 ? &params->via.array.ptr[0] : NULL;
    return 0;
}

int sb_rpc_pack_result_head(msgpack_packer *pk, uint32_t msgid)
{
    return msgpack_pack_array(pk, 4) | msgpack_pack_int(pk, SB_RPC_RESPONSE) |
           msgpack_pack_uint32(pk, msgid) | msgpack_pack_nil(pk);
}

int sb_rpc_pack_error(msgpack_packer *pk, uint32_t msgid, int code, const char *message)
{
    int rc = msgpack_pack_array(pk, 4) | msgpack_pack_int(pk, SB_RPC_RESPONSE) |
             msgpack_pack_uint32(pk, msgid);
    rc |= msgpack_pack_map(pk, 3);
    rc |= sb_pack_kv_int(pk, "code", sb_err_wire_code(code));
    rc |= sb_pack_kv_str(pk, "name", sb_err_name(code));
    rc |= sb_pack_kv_str(pk, "message", message && message[0] ? message : sb_err_message(code));
    rc |= msgpack_pack_nil(pk);
    return rc;
}
