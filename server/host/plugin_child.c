#include "plugin_child.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "message.h"

#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 30000
#define MAX_REPLY (16 << 20)

extern char **environ;

struct sb_plugin_child {
    char runner[4096];
    char so_path[4400];
    unsigned deadline_ms;
    pthread_mutex_t lock; /* one call at a time */
    /* pid, restarts and last_failure change under both locks and are read
     * for plugin.list under this one alone, so a listing never waits for a
     * slow call. */
    pthread_mutex_t status_lock;
    pid_t pid; /* 0: not running */
    int fd;
    uint32_t next_id;
    unsigned restarts;
    unsigned backoff_ms;
    int64_t retry_at_ms; /* no new child before this */
    char last_failure[160];
    uint8_t *buf;
    size_t len, cap;
};

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stop_child(sb_plugin_child_t *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
    }
    if (c->fd >= 0)
        close(c->fd);
    pthread_mutex_lock(&c->status_lock);
    c->pid = 0;
    pthread_mutex_unlock(&c->status_lock);
    c->fd = -1;
    c->len = 0;
}

/* The child failed: stop it, and wait longer before the next one. */
static int fail(sb_plugin_child_t *c, const char *what, sb_err_t *err)
{
    stop_child(c);
    pthread_mutex_lock(&c->status_lock);
    snprintf(c->last_failure, sizeof(c->last_failure), "%s", what);
    pthread_mutex_unlock(&c->status_lock);
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    c->retry_at_ms = monotonic_ms() + c->backoff_ms;
    const char *base = strrchr(c->so_path, '/');
    sb_warn("plugin %s (isolated): %s; restarting it in %u ms", base ? base + 1 : c->so_path, what,
            c->backoff_ms);
    return sb_err_set(err, SB_E_ADAPTER_UNAVAILABLE,
                      "The adapter %s is unavailable: %s. It restarts by itself; retry in a "
                      "moment.",
                      base ? base + 1 : c->so_path, what);
}

static int spawn(sb_plugin_child_t *c, sb_err_t *err)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
        return sb_err_set(err, -EIO, "socketpair: %s", strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    /* The child's end becomes its fd 3 (dup2 clears close-on-exec). */
    posix_spawn_file_actions_adddup2(&actions, pair[1], 3);
    char *argv[] = {c->runner, c->so_path, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, c->runner, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pair[1]);
    if (rc != 0) {
        close(pair[0]);
        return sb_err_set(err, -EIO, "Cannot start %s: %s.", c->runner, strerror(rc));
    }
    pthread_mutex_lock(&c->status_lock);
    c->pid = pid;
    pthread_mutex_unlock(&c->status_lock);
    c->fd = pair[0];
    c->len = 0;
    return 0;
}

/* Reads one whole message before `deadline`; its length in *len. */
static int read_reply(sb_plugin_child_t *c, int64_t deadline, size_t *len, const char **why)
{
    for (;;) {
        int rc = sb_frame_scan(c->buf, c->len, MAX_REPLY, len);
        if (rc == SB_FRAME_COMPLETE)
            return 0;
        if (rc != SB_FRAME_NEED_MORE) {
            *why = "it answered with bytes that are not msgpack";
            return -1;
        }
        int64_t left = deadline - monotonic_ms();
        if (left <= 0) {
            *why = "it did not answer within the deadline";
            return -1;
        }
        struct pollfd p = {c->fd, POLLIN, 0};
        int ready = poll(&p, 1, (int)left);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            continue; /* the deadline check above ends it */
        if (c->cap - c->len < 65536) {
            uint8_t *grown = realloc(c->buf, c->cap + 65536);
            if (grown == NULL) {
                *why = "out of memory";
                return -1;
            }
            c->buf = grown;
            c->cap += 65536;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n <= 0) {
            *why = "it crashed or exited";
            return -1;
        }
        c->len += (size_t)n;
    }
}

/* One exchange with a running child; on any failure the child is failed. */
static int exchange(sb_plugin_child_t *c, const char *method, const msgpack_sbuffer *args,
                    msgpack_unpacked *result, sb_err_t *err)
{
    uint32_t id = c->next_id++;
    msgpack_sbuffer req;
    msgpack_sbuffer_init(&req);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &req, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, SB_RPC_REQUEST);
    msgpack_pack_uint32(&pk, id);
    sb_pack_str(&pk, method);
    msgpack_pack_array(&pk, args ? 1 : 0);
    if (args)
        msgpack_sbuffer_write(&req, args->data, args->size);
    int sent = sb_frame_send_all(c->fd, req.data, req.size);
    msgpack_sbuffer_destroy(&req);
    if (sent != 0)
        return fail(c, "it crashed or exited", err);
    size_t len;
    const char *why = NULL;
    if (read_reply(c, monotonic_ms() + c->deadline_ms, &len, &why) != 0)
        return fail(c, why, err);
    size_t off = 0;
    msgpack_unpacked whole;
    msgpack_unpacked_init(&whole);
    int rc = msgpack_unpack_next(&whole, (const char *)c->buf, len, &off);
    bool good = rc == MSGPACK_UNPACK_SUCCESS && whole.data.type == MSGPACK_OBJECT_ARRAY &&
                whole.data.via.array.size == 4 &&
                whole.data.via.array.ptr[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                whole.data.via.array.ptr[1].via.u64 == id;
    if (good) {
        /* The result, re-packed so that it owns its bytes. */
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        msgpack_packer opk;
        msgpack_packer_init(&opk, &out, msgpack_sbuffer_write);
        msgpack_pack_object(&opk, whole.data.via.array.ptr[3]);
        off = 0;
        good = msgpack_unpack_next(result, out.data, out.size, &off) == MSGPACK_UNPACK_SUCCESS &&
               result->zone != NULL && msgpack_zone_push_finalizer(result->zone, free, out.data);
        if (good)
            out.data = NULL;
        msgpack_sbuffer_destroy(&out);
    }
    msgpack_unpacked_destroy(&whole);
    memmove(c->buf, c->buf + len, c->len - len);
    c->len -= len;
    if (!good)
        return fail(c, "it answered with something that is not a response", err);
    c->backoff_ms = 0; /* a good answer resets the back-off */
    return 0;
}

int sb_plugin_child_call(sb_plugin_child_t *c, const char *method, const msgpack_sbuffer *args,
                         msgpack_unpacked *result, sb_err_t *err)
{
    msgpack_unpacked_init(result);
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    if (c->pid == 0) {
        if (monotonic_ms() < c->retry_at_ms) {
            rc = sb_err_set(err, SB_E_ADAPTER_UNAVAILABLE,
                            "The adapter is unavailable (%s); it restarts in %lld ms.",
                            c->last_failure, (long long)(c->retry_at_ms - monotonic_ms()));
        } else {
            rc = spawn(c, err);
            pthread_mutex_lock(&c->status_lock);
            bool restarted = rc == 0 && c->restarts++ > 0;
            pthread_mutex_unlock(&c->status_lock);
            if (restarted)
                sb_info("plugin %s (isolated): restarted", c->so_path);
            if (rc != 0)
                rc = fail(c, "it could not be started", err);
        }
    }
    if (rc == 0)
        rc = exchange(c, method, args, result, err);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static void copy_str(const msgpack_object *map, const char *key, char *dst, size_t cap)
{
    const msgpack_object *v = NULL;
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++)
        if (map->via.map.ptr[i].key.type == MSGPACK_OBJECT_STR &&
            map->via.map.ptr[i].key.via.str.size == strlen(key) &&
            memcmp(map->via.map.ptr[i].key.via.str.ptr, key, strlen(key)) == 0)
            v = &map->via.map.ptr[i].val;
    if (v != NULL && v->type == MSGPACK_OBJECT_STR)
        snprintf(dst, cap, "%.*s", (int)v->via.str.size, v->via.str.ptr);
    else if (v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        snprintf(dst, cap, "%llu", (unsigned long long)v->via.u64);
    else if (v != NULL && v->type == MSGPACK_OBJECT_BOOLEAN)
        snprintf(dst, cap, "%s", v->via.boolean ? "true" : "false");
    else
        dst[0] = '\0';
}

int sb_plugin_child_start(const char *runner, const char *so_path, unsigned deadline_ms,
                          sb_plugin_child_t **out, sb_plugin_info_t *info, sb_err_t *err)
{
    *out = NULL;
    sb_plugin_child_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return sb_err_default(err, -ENOMEM);
    snprintf(c->runner, sizeof(c->runner), "%s", runner);
    snprintf(c->so_path, sizeof(c->so_path), "%s", so_path);
    c->deadline_ms = deadline_ms ? deadline_ms : 2000;
    c->fd = -1;
    c->next_id = 1;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->status_lock, NULL);
    *out = c;
    msgpack_unpacked hello;
    int rc = sb_plugin_child_call(c, "hello", NULL, &hello, err);
    if (rc == 0) {
        char text[32];
        copy_str(&hello.data, "loaded", text, sizeof(text));
        info->loaded = strcmp(text, "true") == 0;
        copy_str(&hello.data, "name", info->name, sizeof(info->name));
        copy_str(&hello.data, "vendor", info->vendor, sizeof(info->vendor));
        copy_str(&hello.data, "version", info->version, sizeof(info->version));
        copy_str(&hello.data, "description", info->description, sizeof(info->description));
        copy_str(&hello.data, "check", info->check, sizeof(info->check));
        copy_str(&hello.data, "reason", info->reason, sizeof(info->reason));
        copy_str(&hello.data, "abi_major", text, sizeof(text));
        info->abi_major = (unsigned)strtoul(text, NULL, 10);
        copy_str(&hello.data, "abi_minor", text, sizeof(text));
        info->abi_minor = (unsigned)strtoul(text, NULL, 10);
    }
    msgpack_unpacked_destroy(&hello);
    return rc;
}

void sb_plugin_child_free(sb_plugin_child_t *c)
{
    if (c == NULL)
        return;
    stop_child(c);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->status_lock);
    free(c->buf);
    free(c);
}

void sb_plugin_child_status(sb_plugin_child_t *c, bool *up, unsigned *restarts, char *last_failure,
                            size_t cap)
{
    pthread_mutex_lock(&c->status_lock);
    *up = c->pid > 0;
    *restarts = c->restarts > 0 ? c->restarts - 1 : 0;
    snprintf(last_failure, cap, "%s", c->last_failure);
    pthread_mutex_unlock(&c->status_lock);
}
