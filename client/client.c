#include "client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "message.h"
#include "pack.h"

/* libswitchboard-client.so is built with hidden visibility: only what
 * abi/switchboard/client.h declares is exported. */
#define SB_CLIENT_API __attribute__((visibility("default")))

#define MAX_ANSWER (64u << 20) /* answers (a batch's, a list's) may be larger than requests */
#define READ_CHUNK 65536

/* Records the last failure's sentence; worth rc, so that it reads as one step in a return. */
__attribute__((format(printf, 3, 4))) static int fail(sb_client_t *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): a false positive, see core/error.c
    vsnprintf(c->error_message, sizeof(c->error_message), fmt, ap);
    va_end(ap);
    c->error_code = 0;
    c->error_name[0] = '\0';
    return rc;
}

static void reset_error(sb_client_t *c)
{
    c->error_code = 0;
    c->error_name[0] = '\0';
    c->error_message[0] = '\0';
}

static void client_init(sb_client_t *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->next_msgid = 1;
    c->max_message = MAX_ANSWER;
    msgpack_unpacked_init(&c->reply);
}

SB_CLIENT_API unsigned sb_client_version(void)
{
    return SB_CLIENT_VERSION;
}

SB_CLIENT_API int sb_client_new(sb_client_t **out)
{
    if (out == NULL)
        return -EINVAL;
    *out = malloc(sizeof(**out));
    if (*out == NULL)
        return -ENOMEM;
    client_init(*out);
    return 0;
}

void sb_client_close(sb_client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = c->consumed = 0;
    msgpack_unpacked_destroy(&c->reply);
    msgpack_unpacked_init(&c->reply);
}

SB_CLIENT_API void sb_client_free(sb_client_t *c)
{
    if (c == NULL)
        return;
    sb_client_close(c);
    free(c);
}

/* The local server's socket, where switchboardd puts it by default
 * (store/paths.c: sb_default_data_dir, SB_SOCKET_NAME), found the same way
 * without linking the store. */
static int default_socket(char *out, size_t cap)
{
    const char *dir = getenv("SB_DATA_DIR");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int n;
    if (dir != NULL && dir[0] != '\0')
        n = snprintf(out, cap, "%s/switchboard.sock", dir);
    else if (xdg != NULL && xdg[0] == '/')
        n = snprintf(out, cap, "%s/switchboard/switchboard.sock", xdg);
    else if (home != NULL && home[0] != '\0')
        n = snprintf(out, cap, "%s/.local/share/switchboard/switchboard.sock", home);
    else
        return -ENOENT;
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

SB_CLIENT_API int sb_client_connect(sb_client_t *c, const char *path)
{
    if (c == NULL)
        return -EINVAL;
    reset_error(c);
    if (c->fd >= 0)
        return fail(c, -EISCONN, "This client is connected already.");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (path == NULL) {
        int rc = default_socket(sun.sun_path, sizeof(sun.sun_path));
        if (rc == -ENOENT)
            return fail(c, rc, "No socket path given, and no HOME to find the default one in.");
        if (rc != 0)
            return fail(c, rc, "The default socket path is too long: give the path.");
    } else {
        size_t n = strlen(path);
        if (n >= sizeof(sun.sun_path))
            return fail(c, -ENAMETOOLONG, "The socket path %s is too long (at most %zu bytes).",
                        path, sizeof(sun.sun_path) - 1);
        memcpy(sun.sun_path, path, n + 1);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(c, -errno, "socket: %s.", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        int e = errno;
        close(fd);
        return fail(c, -e, "Cannot reach switchboardd at %s: %s.", sun.sun_path, strerror(e));
    }
    c->fd = fd;
    return 0;
}

int sb_client_open(sb_client_t *c, const char *path, sb_err_t *err)
{
    client_init(c);
    return sb_client_err(c, sb_client_connect(c, path), err);
}

int sb_client_err(const sb_client_t *c, int rc, sb_err_t *err)
{
    if (rc != 0)
        sb_err_set(err, rc, "%s", c->error_message);
    return rc;
}

/* Reads until one whole message is buffered; *len is its length. */
static int read_message(sb_client_t *c, size_t *len)
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
        if (rc == -EMSGSIZE)
            return fail(c, rc, "The server's answer is over %zu bytes.", c->max_message);
        if (rc != SB_FRAME_NEED_MORE)
            return fail(c, -EPROTO, "The server sent bytes that are not msgpack.");
        if (c->cap - c->len < READ_CHUNK) {
            char *grown = realloc(c->buf, c->cap + READ_CHUNK);
            if (grown == NULL)
                return fail(c, -ENOMEM, "Out of memory reading the server's answer.");
            c->buf = grown;
            c->cap += READ_CHUNK;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return fail(c, -ECONNRESET, "The server closed the connection.");
        if (n < 0)
            return fail(c, -errno, "Reading from the server: %s.", strerror(errno));
        c->len += (size_t)n;
    }
}

/* The error map {code, name, message}, kept until the next call. Strings are
 * copied: they point into the read buffer. */
static int refused(sb_client_t *c, const msgpack_object *error)
{
    snprintf(c->error_name, sizeof(c->error_name), "INTERNAL");
    c->error_code = 99;
    snprintf(c->error_message, sizeof(c->error_message), "The server refused the request.");
    for (uint32_t i = 0; error->type == MSGPACK_OBJECT_MAP && i < error->via.map.size; i++) {
        const msgpack_object_kv *kv = &error->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            continue;
        const char *key = kv->key.via.str.ptr;
        uint32_t size = kv->key.via.str.size;
        if (kv->val.type == MSGPACK_OBJECT_STR && size == 4 && memcmp(key, "name", 4) == 0)
            snprintf(c->error_name, sizeof(c->error_name), "%.*s", (int)kv->val.via.str.size,
                     kv->val.via.str.ptr);
        else if (kv->val.type == MSGPACK_OBJECT_STR && size == 7 && memcmp(key, "message", 7) == 0)
            snprintf(c->error_message, sizeof(c->error_message), "%.*s", (int)kv->val.via.str.size,
                     kv->val.via.str.ptr);
        else if (kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER && size == 4 &&
                 memcmp(key, "code", 4) == 0 && kv->val.via.u64 <= 65535)
            c->error_code = (int)kv->val.via.u64;
    }
    return SB_CLIENT_REFUSED;
}

SB_CLIENT_API int sb_client_send(sb_client_t *c, const char *method, const void *args,
                                 size_t args_len, uint32_t *msgid)
{
    if (c == NULL)
        return -EINVAL;
    reset_error(c);
    if (method == NULL || msgid == NULL || (args == NULL && args_len != 0))
        return fail(c, -EINVAL,
                    "sb_client_send: a NULL method or msgid, or NULL arguments "
                    "with a length.");
    if (c->fd < 0)
        return fail(c, -ENOTCONN, "This client is not connected.");
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
    if (rc != 0)
        rc = fail(c, -ENOMEM, "Out of memory packing the request.");
    else if ((rc = sb_frame_send_all(c->fd, req.data, req.size)) != 0)
        rc = fail(c, rc, "Sending to the server: %s.", strerror(-rc));
    msgpack_sbuffer_destroy(&req);
    return rc;
}

SB_CLIENT_API int sb_client_recv(sb_client_t *c, uint32_t *msgid, const msgpack_object **result)
{
    if (result != NULL)
        *result = NULL;
    if (c == NULL)
        return -EINVAL;
    reset_error(c);
    if (msgid == NULL || result == NULL)
        return fail(c, -EINVAL, "sb_client_recv: a NULL msgid or result.");
    if (c->fd < 0)
        return fail(c, -ENOTCONN, "This client is not connected.");
    size_t len, off = 0;
    int rc = read_message(c, &len);
    if (rc != 0)
        return rc;
    c->consumed = len; /* dropped by the next read: the objects point into it */
    if (msgpack_unpack_next(&c->reply, c->buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        c->reply.data.type != MSGPACK_OBJECT_ARRAY || c->reply.data.via.array.size != 4 ||
        c->reply.data.via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        c->reply.data.via.array.ptr[0].via.u64 != SB_RPC_RESPONSE ||
        c->reply.data.via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        c->reply.data.via.array.ptr[1].via.u64 > UINT32_MAX)
        return fail(c, -EPROTO, "The server's answer is not a msgpack-RPC response.");
    *msgid = (uint32_t)c->reply.data.via.array.ptr[1].via.u64;
    const msgpack_object *error = &c->reply.data.via.array.ptr[2];
    if (error->type != MSGPACK_OBJECT_NIL)
        return refused(c, error);
    *result = &c->reply.data.via.array.ptr[3];
    return 0;
}

int sb_client_next(sb_client_t *c, const msgpack_object **msg)
{
    *msg = NULL;
    reset_error(c);
    if (c->fd < 0)
        return fail(c, -ENOTCONN, "This client is not connected.");
    size_t len, off = 0;
    int rc = read_message(c, &len);
    if (rc != 0)
        return rc;
    c->consumed = len;
    if (msgpack_unpack_next(&c->reply, c->buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        c->reply.data.type != MSGPACK_OBJECT_ARRAY)
        return fail(c, -EPROTO, "The server sent a message that is not msgpack-RPC.");
    *msg = &c->reply.data;
    return 0;
}

SB_CLIENT_API int sb_client_call(sb_client_t *c, const char *method, const void *args,
                                 size_t args_len, msgpack_unpacked *result)
{
    if (result != NULL)
        msgpack_unpacked_init(result);
    if (c == NULL)
        return -EINVAL;
    if (result == NULL)
        return fail(c, -EINVAL, "sb_client_call: a NULL result.");
    uint32_t msgid, got = 0;
    const msgpack_object *answer = NULL;
    int rc = sb_client_send(c, method, args, args_len, &msgid);
    if (rc == 0)
        rc = sb_client_recv(c, &got, &answer);
    /* One request at a time on this path: the next answer must be ours. */
    if (rc >= 0 && got != msgid)
        return fail(c, -EPROTO, "The server answered request %u, not %u.", got, msgid);
    if (rc != 0)
        return rc;
    /* Copy the result alone into *result, which owns its bytes, so that it
     * outlives the read buffer. */
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msgpack_packer opk;
    msgpack_packer_init(&opk, &out, msgpack_sbuffer_write);
    size_t off = 0;
    bool copied = msgpack_pack_object(&opk, *answer) == 0;
    if (copied && msgpack_unpack_next(result, out.data, out.size, &off) != MSGPACK_UNPACK_SUCCESS)
        rc = fail(c, -EPROTO, "The server's result cannot be decoded.");
    /* The result's strings point into out.data: hand it to the zone's care. */
    else if (copied && result->zone != NULL &&
             msgpack_zone_push_finalizer(result->zone, free, out.data))
        out.data = NULL;
    else
        rc = fail(c, -ENOMEM, "Out of memory copying the result.");
    msgpack_sbuffer_destroy(&out);
    return rc;
}

SB_CLIENT_API int sb_client_authenticate(sb_client_t *c, const char *token)
{
    if (c == NULL)
        return -EINVAL;
    if (token == NULL)
        return fail(c, -EINVAL, "sb_client_authenticate: a NULL token.");
    msgpack_sbuffer args;
    msgpack_sbuffer_init(&args);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    msgpack_unpacked result;
    int rc;
    if ((msgpack_pack_map(&pk, 1) | sb_pack_kv_str(&pk, "token", token)) != 0) {
        msgpack_unpacked_init(&result);
        rc = fail(c, -ENOMEM, "Out of memory packing the token.");
    } else {
        rc = sb_client_call(c, "token.authenticate", args.data, args.size, &result);
    }
    msgpack_unpacked_destroy(&result);
    /* The token is a secret: leave no copy of it in freed memory. */
    if (args.data != NULL)
        memset(args.data, 0, args.size);
    msgpack_sbuffer_destroy(&args);
    return rc;
}

SB_CLIENT_API int sb_client_error_code(const sb_client_t *c)
{
    return c != NULL ? c->error_code : 0;
}

SB_CLIENT_API const char *sb_client_error_name(const sb_client_t *c)
{
    return c != NULL ? c->error_name : "";
}

SB_CLIENT_API const char *sb_client_error_message(const sb_client_t *c)
{
    return c != NULL ? c->error_message : "";
}

SB_CLIENT_API int sb_client_fd(const sb_client_t *c)
{
    return c != NULL ? c->fd : -1;
}
