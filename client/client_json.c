/* JSON arguments for the client, for sbctl and the tests only: jansson stays
 * out of libswitchboard-client.so and its header. */
#include "client.h"

#include <errno.h>

#include "pack.h"

int sb_client_pack_json(msgpack_packer *pk, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *value;
        int rc = msgpack_pack_map(pk, json_object_size(j));
        json_object_foreach((json_t *)j, key, value)
        {
            rc |= sb_pack_str(pk, key) | sb_client_pack_json(pk, value);
        }
        return rc;
    }
    case JSON_ARRAY: {
        int rc = msgpack_pack_array(pk, json_array_size(j));
        for (size_t i = 0; i < json_array_size(j); i++)
            rc |= sb_client_pack_json(pk, json_array_get(j, i));
        return rc;
    }
    case JSON_STRING:
        return msgpack_pack_str(pk, json_string_length(j)) |
               msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, json_integer_value(j));
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(j));
    case JSON_TRUE:
        return msgpack_pack_true(pk);
    case JSON_FALSE:
        return msgpack_pack_false(pk);
    case JSON_NULL:
        return msgpack_pack_nil(pk);
    }
    return -1;
}

int sb_client_call_json(sb_client_t *c, const char *method, json_t *args, msgpack_unpacked *result,
                        sb_err_t *err)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    int rc = 0;
    if (args != NULL) {
        rc = sb_client_pack_json(&pk, args);
        json_decref(args);
    }
    if (rc != 0) {
        msgpack_unpacked_init(result);
        rc = sb_err_default(err, -ENOMEM);
    } else {
        rc = sb_client_err(
            c, sb_client_call(c, method, args ? buf.data : NULL, args ? buf.size : 0, result), err);
    }
    msgpack_sbuffer_destroy(&buf);
    return rc;
}
