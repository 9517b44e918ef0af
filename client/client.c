#include "client.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "message.h"

int sb_client_connect(sb_client_t *c, const char *path, sb_err_t *err)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->next_msgid = 1;
    c->max_message = 64 << 20; /* answers may be larger than requests */
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path))
        return sb_err_set(err, -ENAMETOOLONG, "The socket path %s is too long.", path);
    memcpy(sun.sun_path, path, strlen(path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return sb_err_set(err, -errno, "socket: %s", strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        int e = errno;
        close(c->fd);
        c->fd = -1;
        return sb_err_set(err, -e, "Cannot reach switchboardd at %s: %s.", path, strerror(e));
    }
    return 0;
}

void sb_client_close(sb_client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

/* Reads until one whole message is buffered; *len is its length. */
static int read_message(sb_client_t *c, size_t *len, sb_err_t *err)
{
    if (c->consumed > 0) { /* the previous answer, which sb_client_recv lent out */
        memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
        c->len -= c->consumed;
        c->consumed = 0;
    }
    for (;;) {
        int rc = sb_frame_scan((const uint8_t *)c->buf, c->len, c->max_message, len);
        if (rc == SB_FRAME_COMPLETE)
            return 0;
        if (rc != SB_FRAME_NEED_MORE)
            return sb_err_set(err, -EPROTO, "The server sent bytes that are not msgpack.");
        if (c->cap - c->len < 65536) {
            char *grown = realloc(c->buf, c->cap + 65536);
            if (grown == NULL)
                return sb_err_default(err, -ENOMEM);
            c->buf = grown;
            c->cap += 65536;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return sb_err_set(err, -ECONNRESET, "The server closed the connection.");
        if (n < 0)
            return sb_err_set(err, -errno, "Reading from the server: %s.", strerror(errno));
        c->len += (size_t)n;
    }
}

static void copy_name(sb_client_t *c, const msgpack_object *error)
{
    snprintf(c->error_name, sizeof(c->error_name), "INTERNAL");
    c->error_code = 99;
    for (uint32_t i = 0; error->type == MSGPACK_OBJECT_MAP && i < error->via.map.size; i++) {
        const msgpack_object_kv *kv = &error->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            continue;
        if (kv->key.via.str.size == 4 && memcmp(kv->key.via.str.ptr, "name", 4) == 0 &&
            kv->val.type == MSGPACK_OBJECT_STR)
            snprintf(c->error_name, sizeof(c->error_name), "%.*s", (int)kv->val.via.str.size,
                     kv->val.via.str.ptr);
        if (kv->key.via.str.size == 4 && memcmp(kv->key.via.str.ptr, "code", 4) == 0 &&
            kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            c->error_code = (int)kv->val.via.u64;
    }
}

static void copy_message(const msgpack_object *error, sb_err_t *err)
{
    for (uint32_t i = 0; error->type == MSGPACK_OBJECT_MAP && i < error->via.map.size; i++) {
        const msgpack_object_kv *kv = &error->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 7 &&
            memcmp(kv->key.via.str.ptr, "message", 7) == 0 && kv->val.type == MSGPACK_OBJECT_STR) {
            sb_err_set(err, SB_CLIENT_REFUSED, "%.*s", (int)kv->val.via.str.size,
                       kv->val.via.str.ptr);
            return;
        }
    }
    sb_err_set(err, SB_CLIENT_REFUSED, "The server refused the request.");
}

int sb_client_send(sb_client_t *c, const char *method, const void *args, size_t args_len,
                   uint32_t *msgid, sb_err_t *err)
{
    *msgid = c->next_msgid++;
    msgpack_sbuffer req;
    msgpack_sbuffer_init(&req);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &req, msgpack_sbuffer_write);
    int rc = msgpack_pack_array(&pk, 4) | msgpack_pack_int(&pk, SB_RPC_REQUEST) |
             msgpack_pack_uint32(&pk, *msgid) | sb_pack_str(&pk, method);
    if (args != NULL)
        rc |= msgpack_pack_array(&pk, 1) | msgpack_sbuffer_write(&req, args, args_len);
    else
        rc |= msgpack_pack_array(&pk, 0);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&req);
        return sb_err_default(err, -ENOMEM);
    }
    rc = sb_frame_send_all(c->fd, req.data, req.size);
    msgpack_sbuffer_destroy(&req);
    if (rc != 0)
        return sb_err_set(err, rc, "Sending to the server: %s.", strerror(-rc));
    return 0;
}

int sb_client_recv(sb_client_t *c, msgpack_unpacked *reply, uint32_t *msgid,
                   const msgpack_object **result, sb_err_t *err)
{
    size_t len, off = 0;
    int rc = read_message(c, &len, err);
    if (rc != 0)
        return rc;
    c->consumed = len; /* dropped by the next read: *result points into it */
    if (msgpack_unpack_next(reply, c->buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        reply->data.type != MSGPACK_OBJECT_ARRAY || reply->data.via.array.size != 4 ||
        reply->data.via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return sb_err_set(err, -EPROTO, "The server's answer is not a msgpack-RPC response.");
    *msgid = (uint32_t)reply->data.via.array.ptr[1].via.u64;
    const msgpack_object *error = &reply->data.via.array.ptr[2];
    if (error->type != MSGPACK_OBJECT_NIL) {
        copy_name(c, error);
        copy_message(error, err);
        return SB_CLIENT_REFUSED;
    }
    *result = &reply->data.via.array.ptr[3];
    return 0;
}

int sb_client_call(sb_client_t *c, const char *method, const msgpack_sbuffer *args,
                   msgpack_unpacked *result, sb_err_t *err)
{
    msgpack_unpacked_init(result);
    uint32_t msgid, got;
    int rc =
        sb_client_send(c, method, args ? args->data : NULL, args ? args->size : 0, &msgid, err);
    if (rc != 0)
        return rc;
    /* This client sends one request at a time: the next answer is ours. */
    msgpack_unpacked whole;
    msgpack_unpacked_init(&whole);
    const msgpack_object *answer = NULL;
    rc = sb_client_recv(c, &whole, &got, &answer, err);
    if (rc == 0 && got != msgid)
        rc = sb_err_set(err, -EPROTO, "The server answered request %u, not %u.", got, msgid);
    if (rc != 0) {
        msgpack_unpacked_destroy(&whole);
        return rc;
    }
    /* Re-decode the result alone into *result, owning its own bytes, so
     * that it outlives the read buffer. */
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msgpack_packer opk;
    msgpack_packer_init(&opk, &out, msgpack_sbuffer_write);
    msgpack_pack_object(&opk, *answer);
    msgpack_unpacked_destroy(&whole);
    size_t off = 0;
    rc = msgpack_unpack_next(result, out.data, out.size, &off) == MSGPACK_UNPACK_SUCCESS
             ? 0
             : sb_err_set(err, -EPROTO, "The server's result cannot be decoded.");
    /* The result's strings point into out.data: hand it to the zone's care. */
    if (rc == 0 && result->zone != NULL &&
        msgpack_zone_push_finalizer(result->zone, free, out.data))
        out.data = NULL;
    else if (rc == 0)
        rc = sb_err_default(err, -ENOMEM);
    msgpack_sbuffer_destroy(&out);
    return rc;
}

int sb_client_authenticate(sb_client_t *c, const char *token, sb_err_t *err)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init(&args);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    sb_pack_kv_str(&pk, "token", token);
    msgpack_unpacked result;
    int rc = sb_client_call(c, "token.authenticate", &args, &result, err);
    msgpack_unpacked_destroy(&result);
    msgpack_sbuffer_destroy(&args);
    return rc;
}

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
    if (args == NULL)
        return sb_client_call(c, method, NULL, result, err);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    int rc = sb_client_pack_json(&pk, args);
    json_decref(args);
    rc = rc == 0 ? sb_client_call(c, method, &buf, result, err)
                 : (msgpack_unpacked_init(result), sb_err_default(err, -ENOMEM));
    msgpack_sbuffer_destroy(&buf);
    return rc;
}
