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
#define QUEUE_MAX (256u << 10) /* queued requests past this go out before the next is queued */

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
    c->start = c->len = c->cap = c->consumed = 0;
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_cap = 0;
    free(c->compact_ids);
    c->compact_ids = NULL;
    c->compact_n = c->compact_cap = 0;
    free(c->expanded);
    c->expanded = NULL;
    c->expanded_len = c->expanded_cap = 0;
    free(c->views);
    c->views = NULL;
    c->views_cap = 0;
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

/*
 * Reads until one whole message is buffered at c->buf + c->start; *len is
 * its length. The answer lent out before is dropped first; the bytes still
 * unread move to the front only when more must be read, so that a round of
 * pipelined answers read at once is taken in place, one after another.
 */
static int read_message(sb_client_t *c, size_t *len)
{
    c->start += c->consumed;
    c->consumed = 0;
    if (c->start == c->len)
        c->start = c->len = 0;
    for (;;) {
        int rc = sb_frame_scan((const uint8_t *)c->buf + c->start, c->len - c->start,
                               c->max_message, len);
        if (rc == SB_FRAME_COMPLETE)
            return 0;
        if (rc == -EMSGSIZE)
            return fail(c, rc, "The server's answer is over %zu bytes.", c->max_message);
        if (rc != SB_FRAME_NEED_MORE)
            return fail(c, -EPROTO, "The server sent bytes that are not msgpack.");
        if (c->start > 0) {
            memmove(c->buf, c->buf + c->start, c->len - c->start);
            c->len -= c->start;
            c->start = 0;
        }
        /* The buffer only grows (to the largest round read): nothing is
         * given back to the heap between answers. */
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

static size_t container_head(const uint8_t *p, size_t n, uint8_t fix, uint8_t wide,
                             uint32_t *count);

/* Notes that request msgid's answer is to be expanded (a compact check_batch). */
static int remember_compact(sb_client_t *c, uint32_t msgid)
{
    if (c->compact_n == c->compact_cap) {
        size_t cap = c->compact_cap ? c->compact_cap * 2 : 16;
        uint32_t *grown = realloc(c->compact_ids, cap * sizeof(*grown));
        if (grown == NULL)
            return -1;
        c->compact_ids = grown;
        c->compact_cap = cap;
    }
    c->compact_ids[c->compact_n++] = msgid;
    return 0;
}

/* Whether msgid's answer is to be expanded; forgets it (it is answered once). */
static bool forget_compact(sb_client_t *c, uint32_t msgid)
{
    for (size_t i = 0; i < c->compact_n; i++)
        if (c->compact_ids[i] == msgid) {
            c->compact_ids[i] = c->compact_ids[--c->compact_n];
            return true;
        }
    return false;
}

/* msgpack_packer's writer over the client's output queue, which only grows. */
static int queue_write(void *data, const char *buf, size_t len)
{
    sb_client_t *c = data;
    if (len > c->out_cap - c->out_len) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap - c->out_len < len) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *grown = realloc(c->out, cap);
        if (grown == NULL)
            return -1;
        c->out = grown;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, buf, len);
    c->out_len += len;
    return 0;
}

SB_CLIENT_API int sb_client_flush(sb_client_t *c)
{
    if (c == NULL)
        return -EINVAL;
    if (c->out_len == 0)
        return 0;
    if (c->fd < 0)
        return fail(c, -ENOTCONN, "This client is not connected.");
    int rc = sb_frame_send_all(c->fd, c->out, c->out_len);
    c->out_len = 0; /* sent, or the connection is unusable: nothing to send again */
    if (rc != 0)
        return fail(c, rc, "Sending to the server: %s.", strerror(-rc));
    return 0;
}

SB_CLIENT_API int sb_client_queue(sb_client_t *c, const char *method, const void *args,
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
    if (c->out_len > 0 && c->out_len + args_len > QUEUE_MAX) {
        int rc = sb_client_flush(c);
        if (rc != 0)
            return rc;
    }
    size_t before = c->out_len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, c, queue_write);
    int rc = msgpack_pack_array(&pk, 4) | msgpack_pack_int(&pk, SB_RPC_REQUEST) |
             msgpack_pack_uint32(&pk, c->next_msgid) | sb_pack_str(&pk, method);
    uint32_t pairs;
    size_t head = 0;
    sb_client_answer_t map = {args, args_len}, given;
    /* A batch of checks goes in the compact form, each view once, and its answer is expanded
     * back (expand_batch): unless the caller chose a form. */
    bool compact = args != NULL && strcmp(method, "softphone.check_batch") == 0 &&
                   (head = container_head(args, args_len, 0x80, 0xde, &pairs)) != 0 &&
                   pairs < UINT32_MAX && sb_client_answer_find(&map, "compact", &given) == -ENOENT;
    if (compact)
        rc |= msgpack_pack_array(&pk, 1) | msgpack_pack_map(&pk, pairs + 1) |
              queue_write(c, (const char *)args + head, args_len - head) |
              sb_pack_kv_bool(&pk, "compact", true) | remember_compact(c, c->next_msgid);
    else if (args != NULL)
        rc |= msgpack_pack_array(&pk, 1) | queue_write(c, args, args_len);
    else
        rc |= msgpack_pack_array(&pk, 0);
    if (rc != 0) {
        c->out_len = before; /* no half request goes out */
        forget_compact(c, c->next_msgid);
        return fail(c, -ENOMEM, "Out of memory packing the request.");
    }
    *msgid = c->next_msgid++;
    return 0;
}

SB_CLIENT_API int sb_client_send(sb_client_t *c, const char *method, const void *args,
                                 size_t args_len, uint32_t *msgid)
{
    int rc = sb_client_queue(c, method, args, args_len, msgid);
    return rc == 0 ? sb_client_flush(c) : rc;
}

/* Big-endian unsigned of `width` bytes at p. */
static uint64_t read_be(const uint8_t *p, size_t width)
{
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A positive integer's value and its encoded length at p[0..n); 0 if p holds none. */
static size_t read_uint(const uint8_t *p, size_t n, uint64_t *v)
{
    if (n >= 1 && p[0] <= 0x7f) {
        *v = p[0];
        return 1;
    }
    size_t width = n >= 1 && p[0] >= 0xcc && p[0] <= 0xcf ? (size_t)1 << (p[0] - 0xcc) : 0;
    if (width == 0 || n < 1 + width)
        return 0;
    *v = read_be(p + 1, width);
    return 1 + width;
}

/* The answer's envelope, [1, msgid, nil, result], read from its bytes; the
 * error path decodes it whole, as sb_client_recv does. */
static int take_answer(sb_client_t *c, size_t len, uint32_t *msgid, sb_client_answer_t *answer)
{
    const uint8_t *p = (const uint8_t *)c->buf + c->start;
    uint64_t id;
    size_t idlen =
        len >= 3 && p[0] == 0x94 && p[1] == SB_RPC_RESPONSE ? read_uint(p + 2, len - 2, &id) : 0;
    /* The frame is whole: after the msgid come exactly the error and the result. */
    if (idlen == 0 || id > UINT32_MAX || 2 + idlen >= len)
        return fail(c, -EPROTO, "The server's answer is not a msgpack-RPC response.");
    *msgid = (uint32_t)id;
    const uint8_t *error = p + 2 + idlen;
    if (*error == 0xc0) { /* nil: the result is the rest */
        answer->data = error + 1;
        answer->len = len - (size_t)(error + 1 - p);
        return 0;
    }
    size_t off = 0;
    if (msgpack_unpack_next(&c->reply, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS)
        return fail(c, -EPROTO, "The server's answer is not a msgpack-RPC response.");
    return refused(c, &c->reply.data.via.array.ptr[2]);
}

/* Appends n bytes to the expanded answer, which only grows. */
static int expanded_put(sb_client_t *c, const void *p, size_t n)
{
    if (n > c->expanded_cap - c->expanded_len) {
        size_t cap = c->expanded_cap ? c->expanded_cap : 65536;
        while (cap - c->expanded_len < n) {
            if (cap > SIZE_MAX / 2)
                return -ENOMEM;
            cap *= 2;
        }
        uint8_t *grown = realloc(c->expanded, cap);
        if (grown == NULL)
            return -ENOMEM;
        c->expanded = grown;
        c->expanded_cap = cap;
    }
    memcpy(c->expanded + c->expanded_len, p, n);
    c->expanded_len += n;
    return 0;
}

/* The bytes of a bin at p[0..n) (*body long); 0 if p holds no whole bin. */
static size_t bin_head(const uint8_t *p, size_t n, size_t *body)
{
    size_t width = n >= 1 && p[0] >= 0xc4 && p[0] <= 0xc6 ? (size_t)1 << (p[0] - 0xc4) : 0;
    if (width == 0 || n < 1 + width)
        return 0;
    *body = (size_t)read_be(p + 1, width);
    return *body <= n - 1 - width ? 1 + width : 0;
}

static size_t str_head(const uint8_t *p, size_t n, size_t *body);

/* A compact view's answer for one user: its block with the id at every offset. */
static int expand_one(sb_client_t *c, const struct sb_client_view *v, const char *user,
                      size_t user_len)
{
    size_t at = c->expanded_len;
    uint32_t count;
    sb_client_answer_t offsets, item;
    if (user_len != 18 || sb_client_answer_items(&v->offsets, &count, &offsets) != 0)
        return -EPROTO;
    int rc = expanded_put(c, v->block, v->len);
    for (uint32_t k = 0; rc == 0 && k < count; k++) {
        uint64_t off;
        if (sb_client_answer_next(&offsets, &item) != 0 ||
            read_uint(item.data, item.len, &off) == 0 || off > v->len || v->len - off < 18)
            return -EPROTO;
        memcpy(c->expanded + at + off, user, 18);
    }
    return rc;
}

/*
 * softphone.check_batch's compact answer {results, views} made the default
 * one, {results: [answer]}, byte for byte as the server packs it: a result
 * [view, user id] becomes that view's block with the id put in; any other
 * result is copied. An answer without views (a server answering in the
 * default form) is left as it is.
 */
static int expand_batch(sb_client_t *c, sb_client_answer_t *answer)
{
    sb_client_answer_t results, views, items, item, parts, bin, offsets;
    uint32_t n, nviews, two;
    if (sb_client_answer_find(answer, "views", &views) != 0)
        return 0;
    if (sb_client_answer_find(answer, "results", &results) != 0 ||
        sb_client_answer_items(&views, &nviews, &items) != 0 ||
        sb_client_answer_items(&results, &n, &item) != 0)
        return -EPROTO;
    if (nviews > c->views_cap) {
        struct sb_client_view *grown = realloc(c->views, nviews * sizeof(*grown));
        if (grown == NULL)
            return -ENOMEM;
        c->views = grown;
        c->views_cap = nviews;
    }
    for (uint32_t i = 0; i < nviews; i++) {
        size_t body, head;
        if (sb_client_answer_next(&items, &item) != 0 ||
            sb_client_answer_items(&item, &two, &parts) != 0 || two != 2 ||
            sb_client_answer_next(&parts, &bin) != 0 ||
            sb_client_answer_next(&parts, &offsets) != 0 ||
            (head = bin_head(bin.data, bin.len, &body)) == 0)
            return -EPROTO;
        c->views[i] = (struct sb_client_view){bin.data + head, body, offsets};
    }
    /* {results: [...]}: the array's header as the server packed it, then each answer. */
    c->expanded_len = 0;
    (void)sb_client_answer_items(&results, &n, &items); /* read above: cannot fail */
    size_t head = (size_t)(items.data - results.data);
    int rc = expanded_put(c, "\x81\xa7results", 9) | expanded_put(c, results.data, head);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        uint64_t view;
        size_t user_len, ulen;
        if (sb_client_answer_next(&items, &item) != 0)
            return -EPROTO;
        if (item.data[0] != 0x92) { /* an answer of its own */
            rc = expanded_put(c, item.data, item.len);
            continue;
        }
        if ((ulen = read_uint(item.data + 1, item.len - 1, &view)) == 0 || view >= nviews)
            return -EPROTO;
        const uint8_t *u = item.data + 1 + ulen;
        size_t uhead = str_head(u, item.len - 1 - ulen, &user_len);
        if (uhead == 0)
            return -EPROTO;
        rc = expand_one(c, &c->views[view], (const char *)u + uhead, user_len);
    }
    if (rc != 0)
        return rc;
    answer->data = c->expanded;
    answer->len = c->expanded_len;
    return 0;
}

/* take_answer, and a compact batch's answer expanded. */
static int take_expanded(sb_client_t *c, size_t len, uint32_t *msgid, sb_client_answer_t *answer)
{
    int rc = take_answer(c, len, msgid, answer);
    if (rc >= 0 && forget_compact(c, *msgid) && rc == 0 && (rc = expand_batch(c, answer)) != 0)
        rc = fail(c, rc == -ENOMEM ? rc : -EPROTO,
                  rc == -ENOMEM ? "Out of memory expanding a batch's answer."
                                : "The server's compact batch answer is malformed.");
    return rc;
}

SB_CLIENT_API int sb_client_recv_answer(sb_client_t *c, uint32_t *msgid, sb_client_answer_t *answer)
{
    if (answer != NULL)
        *answer = (sb_client_answer_t){NULL, 0};
    if (c == NULL)
        return -EINVAL;
    reset_error(c);
    if (msgid == NULL || answer == NULL)
        return fail(c, -EINVAL, "sb_client_recv_answer: a NULL msgid or answer.");
    if (c->fd < 0)
        return fail(c, -ENOTCONN, "This client is not connected.");
    size_t len;
    int rc = sb_client_flush(c);
    if (rc == 0)
        rc = read_message(c, &len);
    if (rc != 0)
        return rc;
    c->consumed = len; /* dropped by the next read: the answer points into it */
    rc = take_expanded(c, len, msgid, answer);
    if (rc != 0)
        *answer = (sb_client_answer_t){NULL, 0};
    return rc;
}

/* Sends what is queued, then reads the next message and decodes it into
 * c->reply, valid until the next read (it points into the buffer). *len is
 * its size. -EBADMSG when it is not a msgpack array, the caller's to name. */
static int next_message(sb_client_t *c, size_t *len)
{
    size_t off = 0;
    int rc = sb_client_flush(c);
    if (rc == 0)
        rc = read_message(c, len);
    if (rc != 0)
        return rc;
    c->consumed = *len; /* dropped by the next read: the objects point into it */
    if (msgpack_unpack_next(&c->reply, c->buf + c->start, *len, &off) != MSGPACK_UNPACK_SUCCESS ||
        c->reply.data.type != MSGPACK_OBJECT_ARRAY)
        return -EBADMSG;
    return 0;
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
    int rc = next_message(c, &len);
    if (rc != 0)
        return rc == -EBADMSG
                   ? fail(c, -EPROTO, "The server's answer is not a msgpack-RPC response.")
                   : rc;
    if (c->reply.data.via.array.size != 4 ||
        c->reply.data.via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        c->reply.data.via.array.ptr[0].via.u64 != SB_RPC_RESPONSE ||
        c->reply.data.via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        c->reply.data.via.array.ptr[1].via.u64 > UINT32_MAX)
        return fail(c, -EPROTO, "The server's answer is not a msgpack-RPC response.");
    *msgid = (uint32_t)c->reply.data.via.array.ptr[1].via.u64;
    const msgpack_object *error = &c->reply.data.via.array.ptr[2];
    if (error->type != MSGPACK_OBJECT_NIL) {
        forget_compact(c, *msgid);
        return refused(c, error);
    }
    *result = &c->reply.data.via.array.ptr[3];
    if (c->compact_n > 0 && forget_compact(c, *msgid)) {
        /* A compact batch: decoded again from its expanded bytes. */
        c->compact_ids[c->compact_n++] = *msgid; /* take_expanded forgets it */
        sb_client_answer_t answer;
        off = 0;
        *result = NULL;
        if ((rc = take_expanded(c, len, msgid, &answer)) != 0)
            return rc;
        if (msgpack_unpack_next(&c->reply, (const char *)answer.data, answer.len, &off) !=
            MSGPACK_UNPACK_SUCCESS)
            return fail(c, -EPROTO, "The server's compact batch answer is malformed.");
        *result = &c->reply.data;
    }
    return 0;
}

int sb_client_next(sb_client_t *c, const msgpack_object **msg)
{
    *msg = NULL;
    reset_error(c);
    if (c->fd < 0)
        return fail(c, -ENOTCONN, "This client is not connected.");
    size_t len;
    int rc = next_message(c, &len);
    if (rc == -EBADMSG)
        return fail(c, -EPROTO, "The server sent a message that is not msgpack-RPC.");
    if (rc == 0)
        *msg = &c->reply.data;
    return rc;
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

/* ---- answers as bytes: the accessors ------------------------------------ */

/* A container's header at p[0..n): its length in bytes and its count (pairs
 * for a map). `fix` is the fixed type's first byte (0x80 map, 0x90 array),
 * `wide` the 16-bit form's (0xde, 0xdc). 0 if p holds no such header. */
static size_t container_head(const uint8_t *p, size_t n, uint8_t fix, uint8_t wide, uint32_t *count)
{
    if (n >= 1 && (p[0] & 0xf0) == fix) {
        *count = p[0] & 0x0f;
        return 1;
    }
    size_t width = n >= 1 && p[0] == wide ? 2 : n >= 1 && p[0] == wide + 1 ? 4 : 0;
    if (width == 0 || n < 1 + width)
        return 0;
    *count = (uint32_t)read_be(p + 1, width);
    return 1 + width;
}

/* A string's header at p[0..n) and its body's length; 0 if p holds no whole string. */
static size_t str_head(const uint8_t *p, size_t n, size_t *body)
{
    size_t head = 0;
    if (n >= 1 && p[0] >= 0xa0 && p[0] <= 0xbf) {
        head = 1;
        *body = p[0] & 0x1f;
    } else if (n >= 1 && p[0] >= 0xd9 && p[0] <= 0xdb) {
        size_t width = (size_t)1 << (p[0] - 0xd9);
        if (n < 1 + width)
            return 0;
        head = 1 + width;
        *body = (size_t)read_be(p + 1, width);
    }
    return head != 0 && *body <= n - head ? head : 0;
}

/* The length of the one msgpack object at p[0..n); 0 if it is not whole there. */
static size_t object_len(const uint8_t *p, size_t n)
{
    size_t len;
    return sb_frame_scan(p, n, n, &len) == SB_FRAME_COMPLETE ? len : 0;
}

SB_CLIENT_API int sb_client_answer_items(const sb_client_answer_t *array, uint32_t *count,
                                         sb_client_answer_t *items)
{
    if (array == NULL || count == NULL || items == NULL || array->data == NULL)
        return -EINVAL;
    size_t head = container_head(array->data, array->len, 0x90, 0xdc, count);
    if (head == 0)
        return -EPROTO;
    *items = (sb_client_answer_t){array->data + head, array->len - head};
    return 0;
}

SB_CLIENT_API int sb_client_answer_next(sb_client_answer_t *items, sb_client_answer_t *item)
{
    if (items == NULL || item == NULL)
        return -EINVAL;
    if (items->len == 0)
        return -ENOENT;
    size_t len = object_len(items->data, items->len);
    if (len == 0)
        return -EPROTO;
    *item = (sb_client_answer_t){items->data, len};
    items->data += len;
    items->len -= len;
    return 0;
}

SB_CLIENT_API int sb_client_answer_find(const sb_client_answer_t *map, const char *key,
                                        sb_client_answer_t *value)
{
    if (map == NULL || key == NULL || value == NULL || map->data == NULL)
        return -EINVAL;
    uint32_t pairs;
    size_t at = container_head(map->data, map->len, 0x80, 0xde, &pairs);
    if (at == 0)
        return -EPROTO;
    size_t key_len = strlen(key);
    /* Keys are compared where they lie; a value is only skipped, never decoded. */
    for (uint32_t i = 0; i < pairs; i++) {
        const uint8_t *p = map->data + at;
        size_t n = map->len - at, body = 0;
        size_t head = str_head(p, n, &body);
        size_t klen = head != 0 ? head + body : object_len(p, n);
        if (klen == 0)
            return -EPROTO;
        bool match = head != 0 && body == key_len && memcmp(p + head, key, key_len) == 0;
        size_t vlen = object_len(p + klen, n - klen);
        if (vlen == 0)
            return -EPROTO;
        if (match) {
            *value = (sb_client_answer_t){p + klen, vlen};
            return 0;
        }
        at += klen + vlen;
    }
    return -ENOENT;
}

SB_CLIENT_API int sb_client_answer_str(const sb_client_answer_t *map, const char *key,
                                       const char **str, size_t *len)
{
    if (str == NULL || len == NULL)
        return -EINVAL;
    sb_client_answer_t v;
    int rc = sb_client_answer_find(map, key, &v);
    if (rc != 0)
        return rc;
    if (v.data[0] == 0xc0)
        return -ENOENT;
    size_t head = str_head(v.data, v.len, len);
    if (head == 0)
        return -EPROTO;
    *str = (const char *)v.data + head;
    return 0;
}

SB_CLIENT_API int sb_client_answer_bool(const sb_client_answer_t *map, const char *key, bool *value)
{
    if (value == NULL)
        return -EINVAL;
    sb_client_answer_t v;
    int rc = sb_client_answer_find(map, key, &v);
    if (rc != 0)
        return rc;
    if (v.data[0] == 0xc0)
        return -ENOENT;
    if (v.data[0] != 0xc2 && v.data[0] != 0xc3)
        return -EPROTO;
    *value = v.data[0] == 0xc3;
    return 0;
}

SB_CLIENT_API int sb_client_answer_int(const sb_client_answer_t *map, const char *key,
                                       int64_t *value)
{
    if (value == NULL)
        return -EINVAL;
    sb_client_answer_t v;
    int rc = sb_client_answer_find(map, key, &v);
    if (rc != 0)
        return rc;
    const uint8_t *p = v.data;
    uint64_t u;
    if (p[0] == 0xc0)
        return -ENOENT;
    if (p[0] >= 0xe0) { /* negative fixint */
        *value = (int64_t)p[0] - 256;
        return 0;
    }
    if (p[0] >= 0xd0 && p[0] <= 0xd3) { /* int 8..64: two's complement, big-endian */
        size_t width = (size_t)1 << (p[0] - 0xd0);
        u = read_be(p + 1, width);
        int shift = (int)(64 - 8 * width);
        *value = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
        return 0;
    }
    if (read_uint(p, v.len, &u) == 0)
        return -EPROTO;
    if (u > INT64_MAX)
        return -ERANGE;
    *value = (int64_t)u;
    return 0;
}
