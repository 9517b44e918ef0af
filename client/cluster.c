/*
 * The cluster client (abi/switchboard/client.h, "Cluster mode"): the
 * placement bucket watched on a thread of its own, and each call sent to
 * the member route.c picks, over connections opened on first use.
 *
 * libnats 3.4.1's defects (shared/SCALE-OUT.md) shape the NATS side: the
 * watcher's subscription lives as long as the handle (destroying one with
 * messages in flight can crash the read loop), and at the end it is stopped,
 * given time to drain, then destroyed; nothing is attached to an event loop.
 */
#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "client.h"
#include "route.h"

#define SB_CLIENT_API __attribute__((visibility("default")))

#define BUCKET "SB_placement"
#define READY_WAIT_MS 5000   /* the bucket's initial values */
#define WATCH_POLL_MS 500    /* how often the watcher looks at `stopping` */
#define REFRESH_WAIT_MS 2000 /* after NOT_PRIMARY or MOVED: a newer placement, at most this */
#define REFRESH_TRIES 3
#define MOVING_WAIT_MS 10000 /* ORG_MOVING: retried for this long */
#define MISS_WAIT_MS 1000    /* an org or shard the map lacks: the watch may be about to bring it */

typedef struct member_conn {
    char member[SB_ROUTE_NAME_MAX + 1];
    char socket[SB_ROUTE_SOCKET_MAX + 1];
    sb_client_t *client; /* connected and authenticated */
} member_conn_t;

struct sb_client_cluster {
    natsConnection *nc;
    jsCtx *js;
    kvStore *kv;
    kvWatcher *watch;
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t lock; /* guards map, stopping, watch_error; `changed` signals a new entry */
    pthread_cond_t changed;
    sb_route_map_t map;
    bool stopping;
    char watch_error[256];     /* the last bad placement entry or watch failure, for messages */
    char watch_error_key[128]; /* the key of that bad entry; "" for a watch failure */

    /* The caller's side (one thread at a time). */
    char *token;
    member_conn_t *conns;
    size_t n_conns, cap_conns;
    char admin_member[SB_ROUTE_NAME_MAX + 1]; /* "" for the first primary */
    char last_member[SB_ROUTE_NAME_MAX + 1];
    int timeout_s; /* a reply's deadline on member connections; 0: none */
    int error_code;
    char error_name[64];
    char error_message[SB_CLIENT_ERROR_MESSAGE_MAX];
};

__attribute__((format(printf, 3, 4))) static int fail(sb_client_cluster_t *cl, int rc,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): a false positive, see core/error.c
    vsnprintf(cl->error_message, sizeof(cl->error_message), fmt, ap);
    va_end(ap);
    cl->error_code = 0;
    cl->error_name[0] = '\0';
    return rc;
}

/* A refusal made here (the map has no member for the request), shaped as a server's. */
static int no_route(sb_client_cluster_t *cl, const char *why)
{
    cl->error_code = sb_err_wire_code(SB_E_NO_ROUTE);
    snprintf(cl->error_name, sizeof(cl->error_name), "%s", sb_err_name(SB_E_NO_ROUTE));
    snprintf(cl->error_message, sizeof(cl->error_message), "%s", why);
    return SB_CLIENT_REFUSED;
}

static void reset_error(sb_client_cluster_t *cl)
{
    cl->error_code = 0;
    cl->error_name[0] = '\0';
    cl->error_message[0] = '\0';
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A bounded copy for the per-call path (snprintf's formatting is most of a route's cost). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- the watch ------------------------------------------------------------- */

static void *watch_thread(void *arg)
{
    sb_client_cluster_t *cl = arg;
    for (;;) {
        pthread_mutex_lock(&cl->lock);
        bool stopping = cl->stopping;
        pthread_mutex_unlock(&cl->lock);
        if (stopping)
            break;
        kvEntry *e = NULL;
        natsStatus s = kvWatcher_Next(&e, cl->watch, WATCH_POLL_MS);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            pthread_mutex_lock(&cl->lock);
            if (!cl->stopping)
                snprintf(cl->watch_error, sizeof(cl->watch_error),
                         "the watch of the placement bucket failed: %s", natsStatus_GetText(s));
            pthread_mutex_unlock(&cl->lock);
            nats_Sleep(WATCH_POLL_MS); /* do not spin on a closed watcher */
            continue;
        }
        pthread_mutex_lock(&cl->lock);
        if (cl->watch_error_key[0] == '\0')
            cl->watch_error[0] = '\0'; /* a watch failure is over: entries arrive again */
        if (e == NULL) {
            cl->map.ready = true; /* the end of the values the bucket held at the start */
        } else {
            kvOperation op = kvEntry_Operation(e);
            const char *value = kvEntry_Value(e);
            int len = kvEntry_ValueLen(e);
            char why[256];
            const char *key = kvEntry_Key(e);
            if (sb_route_apply(&cl->map, key, value, len > 0 ? (size_t)len : 0,
                               op == kvOp_Delete || op == kvOp_Purge, kvEntry_Revision(e), why,
                               sizeof(why)) != 0) {
                snprintf(cl->watch_error, sizeof(cl->watch_error), "%s", why);
                snprintf(cl->watch_error_key, sizeof(cl->watch_error_key), "%s", key);
            } else if (strcmp(cl->watch_error_key, key) == 0) {
                cl->watch_error[0] = '\0'; /* the key that was bad is fixed */
                cl->watch_error_key[0] = '\0';
            }
        }
        pthread_cond_broadcast(&cl->changed);
        pthread_mutex_unlock(&cl->lock);
        kvEntry_Destroy(e);
    }
    return NULL;
}

/* Waits until the map's revision passes `revision` (or it is ready, with ready_only), at most
 * wait_ms. Returns whether it did. */
static bool wait_map(sb_client_cluster_t *cl, uint64_t revision, bool ready_only, unsigned wait_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&cl->lock);
    int rc = 0;
    while (rc == 0 && (ready_only ? !cl->map.ready : cl->map.revision <= revision))
        rc = pthread_cond_timedwait(&cl->changed, &cl->lock, &deadline);
    bool done = ready_only ? cl->map.ready : cl->map.revision > revision;
    pthread_mutex_unlock(&cl->lock);
    return done;
}

/* ---- the handle ------------------------------------------------------------ */

static int open_nats(sb_client_cluster_t *cl, const char *urls)
{
    char list[1024];
    const char *servers[16];
    int n_servers = 0;
    if (strlen(urls) >= sizeof(list))
        return fail(cl, -EINVAL, "The NATS URL list is longer than %zu bytes.", sizeof(list) - 1);
    snprintf(list, sizeof(list), "%s", urls);
    char *save = NULL;
    /* natsOptions_SetURL of libnats 3.4.1 does not take a list: split it. */
    for (char *u = strtok_r(list, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save)) {
        if (n_servers == (int)(sizeof(servers) / sizeof(servers[0])))
            return fail(cl, -EINVAL, "More than %zu NATS URLs: give a few of them.",
                        sizeof(servers) / sizeof(servers[0]));
        servers[n_servers++] = u;
    }
    if (n_servers == 0)
        return fail(cl, -EINVAL, "No NATS URL in '%s': give nats://HOST:PORT[,...].", urls);
    natsOptions *opts = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetServers(opts, servers, n_servers);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(opts, -1); /* the watch outlives a NATS node */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(opts, 250);
    if (s == NATS_OK)
        s = natsConnection_Connect(&cl->nc, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK)
        return fail(cl, s == NATS_NO_MEMORY ? -ENOMEM : -ECONNREFUSED,
                    "Cannot connect to NATS at %s: %s. Is the cluster's NATS running "
                    "(scripts/cluster status)?",
                    urls, natsStatus_GetText(s));
    s = natsConnection_JetStream(&cl->js, cl->nc, NULL);
    if (s == NATS_OK)
        s = js_KeyValue(&cl->kv, cl->js, BUCKET);
    if (s == NATS_NOT_FOUND)
        return fail(cl, -ENOENT,
                    "NATS at %s has no placement bucket %s: no switchboardd of this cluster has "
                    "started yet (each creates it), or these are another cluster's NATS servers.",
                    urls, BUCKET);
    if (s != NATS_OK)
        return fail(cl, -ECONNREFUSED, "Cannot open the placement bucket %s at %s: %s.", BUCKET,
                    urls, natsStatus_GetText(s));
    s = kvStore_WatchAll(&cl->watch, cl->kv, NULL);
    if (s != NATS_OK)
        return fail(cl, -ECONNREFUSED, "Cannot watch the placement bucket %s: %s.", BUCKET,
                    natsStatus_GetText(s));
    if (pthread_create(&cl->thread, NULL, watch_thread, cl) != 0)
        return fail(cl, -EAGAIN, "Cannot start the placement watch's thread.");
    cl->thread_started = true;
    if (!wait_map(cl, 0, true, READY_WAIT_MS))
        return fail(cl, -ETIMEDOUT,
                    "The placement bucket's values did not arrive within %d s: is the NATS "
                    "cluster's JetStream up (a quorum of its nodes)?",
                    READY_WAIT_MS / 1000);
    return 0;
}

SB_CLIENT_API int sb_client_cluster_new(sb_client_cluster_t **out, const char *urls,
                                        const char *token)
{
    if (out == NULL)
        return -EINVAL;
    sb_client_cluster_t *cl = calloc(1, sizeof(*cl));
    *out = cl;
    if (cl == NULL)
        return -ENOMEM;
    pthread_mutex_init(&cl->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cl->changed, &attr);
    pthread_condattr_destroy(&attr);
    sb_route_map_init(&cl->map);
    if (urls == NULL || urls[0] == '\0' || token == NULL || token[0] == '\0')
        return fail(cl, -EINVAL, "sb_client_cluster_new needs the NATS URLs and a token.");
    cl->token = strdup(token);
    if (cl->token == NULL)
        return fail(cl, -ENOMEM, "Out of memory.");
    return open_nats(cl, urls);
}

static void drop_conn(sb_client_cluster_t *cl, size_t i)
{
    sb_client_free(cl->conns[i].client);
    cl->conns[i] = cl->conns[--cl->n_conns];
}

SB_CLIENT_API void sb_client_cluster_free(sb_client_cluster_t *cl)
{
    if (cl == NULL)
        return;
    if (cl->thread_started) {
        pthread_mutex_lock(&cl->lock);
        cl->stopping = true;
        pthread_mutex_unlock(&cl->lock);
        kvWatcher_Stop(cl->watch); /* wakes kvWatcher_Next */
        pthread_join(cl->thread, NULL);
    }
    if (cl->watch != NULL) {
        /* libnats 3.4.1: let delivery drain before the subscription is destroyed. */
        nats_Sleep(50);
        kvWatcher_Destroy(cl->watch);
    }
    kvStore_Destroy(cl->kv);
    jsCtx_Destroy(cl->js);
    if (cl->nc != NULL) {
        natsConnection_Close(cl->nc);
        natsConnection_Destroy(cl->nc);
    }
    while (cl->n_conns > 0)
        drop_conn(cl, cl->n_conns - 1);
    free(cl->conns);
    if (cl->token != NULL)
        memset(cl->token, 0, strlen(cl->token));
    free(cl->token);
    sb_route_map_destroy(&cl->map);
    pthread_cond_destroy(&cl->changed);
    pthread_mutex_destroy(&cl->lock);
    free(cl);
}

SB_CLIENT_API int sb_client_cluster_set_member(sb_client_cluster_t *cl, const char *member)
{
    if (cl == NULL || (member != NULL && strlen(member) > SB_ROUTE_NAME_MAX))
        return -EINVAL;
    snprintf(cl->admin_member, sizeof(cl->admin_member), "%s", member ? member : "");
    return 0;
}

void sb__client_cluster_set_timeout(sb_client_cluster_t *cl, int seconds)
{
    cl->timeout_s = seconds;
}

SB_CLIENT_API const char *sb_client_cluster_last_member(const sb_client_cluster_t *cl)
{
    return cl ? cl->last_member : "";
}

SB_CLIENT_API int sb_client_cluster_error_code(const sb_client_cluster_t *cl)
{
    return cl ? cl->error_code : 0;
}

SB_CLIENT_API const char *sb_client_cluster_error_name(const sb_client_cluster_t *cl)
{
    return cl ? cl->error_name : "";
}

SB_CLIENT_API const char *sb_client_cluster_error_message(const sb_client_cluster_t *cl)
{
    return cl ? cl->error_message : "";
}

/* ---- routing a call ----------------------------------------------------------- */

/* The connection to `member` at `socket`, opened and authenticated on first use. A member whose
 * socket changed in the map gets a new connection. Returns 0 or the failure (recorded). */
static int member_client(sb_client_cluster_t *cl, const char *member, const char *socket,
                         sb_client_t **out)
{
    *out = NULL;
    for (size_t i = 0; i < cl->n_conns; i++) {
        if (strcmp(cl->conns[i].member, member) != 0)
            continue;
        if (strcmp(cl->conns[i].socket, socket) == 0) {
            *out = cl->conns[i].client;
            return 0;
        }
        drop_conn(cl, i);
        break;
    }
    if (cl->n_conns == cl->cap_conns) {
        size_t cap = cl->cap_conns ? cl->cap_conns * 2 : 4;
        member_conn_t *grown = realloc(cl->conns, cap * sizeof(*grown));
        if (grown == NULL)
            return fail(cl, -ENOMEM, "Out of memory.");
        cl->conns = grown;
        cl->cap_conns = cap;
    }
    sb_client_t *c = NULL;
    int rc = sb_client_new(&c);
    if (rc != 0)
        return fail(cl, rc, "Out of memory.");
    rc = sb_client_connect(c, socket);
    if (rc == 0 && cl->timeout_s > 0) {
        struct timeval tv = {.tv_sec = cl->timeout_s};
        setsockopt(sb_client_fd(c), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(sb_client_fd(c), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    if (rc == 0)
        rc = sb_client_authenticate(c, cl->token);
    if (rc == SB_CLIENT_REFUSED) {
        cl->error_code = sb_client_error_code(c);
        snprintf(cl->error_name, sizeof(cl->error_name), "%s", sb_client_error_name(c));
        snprintf(cl->error_message, sizeof(cl->error_message), "member %s: %s", member,
                 sb_client_error_message(c));
    } else if (rc != 0) {
        fail(cl, rc, "member %s (%s): %s", member, socket, sb_client_error_message(c));
    }
    if (rc != 0) {
        sb_client_free(c);
        return rc;
    }
    member_conn_t *mc = &cl->conns[cl->n_conns++];
    snprintf(mc->member, sizeof(mc->member), "%s", member);
    snprintf(mc->socket, sizeof(mc->socket), "%s", socket);
    mc->client = c;
    *out = c;
    return 0;
}

static void forget_member(sb_client_cluster_t *cl, const char *member)
{
    for (size_t i = 0; i < cl->n_conns; i++)
        if (strcmp(cl->conns[i].member, member) == 0) {
            drop_conn(cl, i);
            return;
        }
}

typedef struct route_state {
    char org[SB_ROUTE_ORG_MAX + 1];
    const char *shard;
    bool writes;
    char avoid[SB_ROUTE_AVOID_MAX][SB_ROUTE_NAME_MAX + 1];
    const char *avoid_ptrs[SB_ROUTE_AVOID_MAX];
    size_t n_avoid;
    bool waited_for_miss;
    char last_failure[256]; /* why the last avoided member was, for NO_ROUTE's sentence */
} route_state_t;

/* Reads the request's org from its packed arguments; a request whose org cannot be routed
 * (not a string, too long) is refused here. */
static int route_init(sb_client_cluster_t *cl, route_state_t *st, const char *shard,
                      const char *method, const void *args, size_t args_len)
{
    /* Field by field: the avoid list is read only up to n_avoid (a memset costs more than the
     * rest of the routing). */
    st->org[0] = '\0';
    st->n_avoid = 0;
    st->waited_for_miss = false;
    st->last_failure[0] = '\0';
    st->shard = shard;
    st->writes = sb_route_method_writes(method);
    if (args == NULL)
        return 0;
    sb_client_answer_t map = {args, args_len}, value;
    const char *org;
    size_t n;
    int rc = sb_client_answer_find(&map, "org", &value);
    if (rc == -ENOENT || (rc == 0 && value.len == 1 && value.data[0] == 0xc0))
        return 0; /* no org, or nil */
    rc = sb_client_answer_str(&map, "org", &org, &n);
    if (rc != 0 || n == 0 || n > SB_ROUTE_ORG_MAX || memchr(org, '\0', n) != NULL)
        return no_route(cl, "The request's org is not an org id (a string of 1 to 64 bytes): "
                            "it cannot be routed to a shard.");
    memcpy(st->org, org, n);
    st->org[n] = '\0';
    return 0;
}

/*
 * The member the request goes to next, connected: 0 with *client set (and
 * *revision, the map's revision it was picked at), or the failure.
 */
static int route_next(sb_client_cluster_t *cl, route_state_t *st, sb_client_t **client,
                      uint64_t *revision)
{
    for (;;) {
        sb_route_ask_t ask = {
            .org = st->org[0] ? st->org : NULL,
            .shard = st->shard,
            .member = cl->admin_member[0] ? cl->admin_member : NULL,
            .writes = st->writes,
            .avoid = st->avoid_ptrs,
            .n_avoid = st->n_avoid,
        };
        char why[512], member[SB_ROUTE_NAME_MAX + 1], socket[SB_ROUTE_SOCKET_MAX + 1];
        const sb_route_member_t *m;
        pthread_mutex_lock(&cl->lock);
        sb_route_miss_t miss = sb_route_pick(&cl->map, &ask, &m, why, sizeof(why));
        if (miss == SB_ROUTE_OK) {
            copy_str(member, sizeof(member), m->name);
            copy_str(socket, sizeof(socket), m->socket);
        }
        *revision = cl->map.revision;
        if (miss != SB_ROUTE_OK && cl->watch_error[0] != '\0') {
            /* The map may lack what the bucket holds: say why. */
            size_t used = strlen(why);
            snprintf(why + used, sizeof(why) - used, " (Placement: %s.)", cl->watch_error);
        }
        pthread_mutex_unlock(&cl->lock);
        if ((miss == SB_ROUTE_NO_ORG || miss == SB_ROUTE_NO_SHARD) && !st->waited_for_miss) {
            /* An org created a moment ago: its key may be on its way. */
            st->waited_for_miss = true;
            wait_map(cl, *revision, false, MISS_WAIT_MS);
            continue;
        }
        if (miss != SB_ROUTE_OK && st->last_failure[0] != '\0') {
            size_t used = strlen(why);
            snprintf(why + used, sizeof(why) - used, " The last one tried: %s", st->last_failure);
        }
        if (miss != SB_ROUTE_OK)
            return no_route(cl, why);
        int rc = member_client(cl, member, socket, client);
        if (rc == 0) {
            copy_str(cl->last_member, sizeof(cl->last_member), member);
            return 0;
        }
        /* Not reached: nothing was sent, so another member may take even a write's place
         * only if the map names one; a read tries the shard's next member. */
        if (rc == SB_CLIENT_REFUSED || st->writes || st->n_avoid == SB_ROUTE_AVOID_MAX)
            return rc;
        snprintf(st->last_failure, sizeof(st->last_failure), "%.200s", cl->error_message);
        snprintf(st->avoid[st->n_avoid], sizeof(st->avoid[0]), "%s", member);
        st->avoid_ptrs[st->n_avoid] = st->avoid[st->n_avoid];
        st->n_avoid++;
    }
}

int sb__client_cluster_route(sb_client_cluster_t *cl, const char *shard, const char *method,
                             const void *args, size_t args_len, sb_client_t **client)
{
    reset_error(cl);
    *client = NULL;
    route_state_t st;
    uint64_t revision;
    int rc = route_init(cl, &st, shard, method, args, args_len);
    return rc != 0 ? rc : route_next(cl, &st, client, &revision);
}

static int cluster_call(sb_client_cluster_t *cl, const char *shard, const char *method,
                        const void *args, size_t args_len, msgpack_unpacked *result)
{
    if (result != NULL)
        msgpack_unpacked_init(result);
    if (cl == NULL)
        return -EINVAL;
    reset_error(cl);
    cl->last_member[0] = '\0';
    if (method == NULL || result == NULL || (args == NULL && args_len != 0))
        return fail(cl, -EINVAL,
                    "sb_client_cluster_call: a NULL method or result, or NULL "
                    "arguments with a length.");
    route_state_t st;
    int rc = route_init(cl, &st, shard, method, args, args_len);
    if (rc != 0)
        return rc;
    int refreshes = 0;
    int64_t moving_until = now_ms() + MOVING_WAIT_MS;
    unsigned backoff_ms = 50;
    for (;;) {
        sb_client_t *c;
        uint64_t revision;
        rc = route_next(cl, &st, &c, &revision);
        if (rc != 0)
            return rc;
        msgpack_unpacked_destroy(result);
        rc = sb_client_call(c, method, args, args_len, result);
        if (rc == 0)
            return 0;
        if (rc < 0) {
            fail(cl, rc, "member %s: %s", cl->last_member, sb_client_error_message(c));
            forget_member(cl, cl->last_member);
            /* A read is retried on another member; a write may have been applied before the
             * connection failed, so it is the caller's to retry. */
            if (st.writes || st.n_avoid == SB_ROUTE_AVOID_MAX)
                return rc;
            snprintf(st.last_failure, sizeof(st.last_failure), "%.200s", cl->error_message);
            snprintf(st.avoid[st.n_avoid], sizeof(st.avoid[0]), "%s", cl->last_member);
            st.avoid_ptrs[st.n_avoid] = st.avoid[st.n_avoid];
            st.n_avoid++;
            continue;
        }
        int code = sb_client_error_code(c);
        cl->error_code = code;
        snprintf(cl->error_name, sizeof(cl->error_name), "%s", sb_client_error_name(c));
        snprintf(cl->error_message, sizeof(cl->error_message), "%s", sb_client_error_message(c));
        if ((code == sb_err_wire_code(SB_E_NOT_PRIMARY) || code == sb_err_wire_code(SB_E_MOVED)) &&
            refreshes < REFRESH_TRIES) {
            /* The map this call was routed by is stale: wait for the watch to bring a newer
             * one (a promote, a move), then route again. */
            refreshes++;
            wait_map(cl, revision, false, REFRESH_WAIT_MS);
            continue;
        }
        if (code == sb_err_wire_code(SB_E_ORG_MOVING) && now_ms() < moving_until) {
            nats_Sleep((int64_t)backoff_ms);
            backoff_ms = backoff_ms < 800 ? backoff_ms * 2 : 1000;
            continue;
        }
        return SB_CLIENT_REFUSED;
    }
}

SB_CLIENT_API int sb_client_cluster_call(sb_client_cluster_t *cl, const char *method,
                                         const void *args, size_t args_len,
                                         msgpack_unpacked *result)
{
    return cluster_call(cl, NULL, method, args, args_len, result);
}

SB_CLIENT_API int sb_client_cluster_call_shard(sb_client_cluster_t *cl, const char *shard,
                                               const char *method, const void *args,
                                               size_t args_len, msgpack_unpacked *result)
{
    if (shard == NULL || shard[0] == '\0' || strlen(shard) > SB_ROUTE_NAME_MAX) {
        if (result != NULL)
            msgpack_unpacked_init(result);
        return cl == NULL ? -EINVAL : fail(cl, -EINVAL, "A shard's name is 1 to 32 bytes.");
    }
    return cluster_call(cl, shard, method, args, args_len, result);
}

/* ---- an org's placement, for sbctl org move --to SHARD ------------------------ */

int sb__client_cluster_org_shard(sb_client_cluster_t *cl, const char *org, char *shard, size_t cap)
{
    reset_error(cl);
    if (org == NULL || org[0] == '\0' || strlen(org) > SB_ROUTE_ORG_MAX)
        return fail(cl, -EINVAL, "An org id is 1 to %d bytes.", SB_ROUTE_ORG_MAX);
    pthread_mutex_lock(&cl->lock);
    const sb_route_org_t *o = sb_route_find_org(&cl->map, org);
    if (o != NULL)
        copy_str(shard, cap, o->shard);
    pthread_mutex_unlock(&cl->lock);
    if (o == NULL)
        return no_route(cl, "The org is in no shard of the cluster's placement map: check its "
                            "id (sbctl --cluster URLS cluster shows the shards' counts).");
    return 0;
}

/* The shard org.<ORG> names as the bucket holds it now (not the watched map: a
 * compare-and-set needs the latest revision), copied into shard[SB_ROUTE_NAME_MAX + 1] ("" when
 * the value names none), and its revision. */
static int org_key_shard(sb_client_cluster_t *cl, const char *key, char *shard, uint64_t *rev)
{
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, cl->kv, key);
    if (s == NATS_NOT_FOUND)
        return no_route(cl, "The placement bucket has no such org (deleted meanwhile?).");
    if (s != NATS_OK)
        return fail(cl, -EIO, "The placement bucket's key %s cannot be read: %s.", key,
                    natsStatus_GetText(s));
    json_error_t jerr;
    json_t *value = json_loadb(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), 0, &jerr);
    *rev = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    if (!json_is_object(value)) {
        json_decref(value);
        return fail(cl, -EBADMSG, "The placement bucket's key %s is not a JSON object (%s).", key,
                    jerr.text);
    }
    const char *named = json_string_value(json_object_get(value, "shard"));
    if (named != NULL && strlen(named) > SB_ROUTE_NAME_MAX) {
        json_decref(value);
        return fail(cl, -EBADMSG,
                    "The placement bucket's key %s names a shard of more than %d "
                    "bytes.",
                    key, SB_ROUTE_NAME_MAX);
    }
    copy_str(shard, SB_ROUTE_NAME_MAX + 1, named != NULL ? named : "");
    json_decref(value);
    return 0;
}

int sb__client_cluster_org_place(sb_client_cluster_t *cl, const char *org, const char *from,
                                 const char *to)
{
    reset_error(cl);
    if (org == NULL || strlen(org) > SB_ROUTE_ORG_MAX || from == NULL || to == NULL ||
        strlen(to) > SB_ROUTE_NAME_MAX)
        return fail(cl, -EINVAL, "An org id of at most %d bytes and two shard names.",
                    SB_ROUTE_ORG_MAX);
    char key[SB_ROUTE_ORG_MAX + 8], now[SB_ROUTE_NAME_MAX + 1] = "";
    snprintf(key, sizeof(key), "org.%s", org);
    uint64_t rev = 0;
    int rc = org_key_shard(cl, key, now, &rev);
    if (rc != 0)
        return rc;
    if (strcmp(now, from) != 0)
        return fail(cl, -ESTALE,
                    "The placement bucket's %s names shard %.32s, not %.32s: another move or a "
                    "delete changed it; nothing was switched.",
                    key, now[0] ? now : "(none)", from);
    /* The format the servers write (server/cluster.c, sb_cluster_org_claim). */
    json_t *value = json_pack("{ss ss}", "shard", to, "state", "serving");
    char *text = value != NULL ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (text == NULL)
        return fail(cl, -ENOMEM, "Out of memory.");
    uint64_t new_rev = 0;
    natsStatus s = kvStore_Update(&new_rev, cl->kv, key, text, (int)strlen(text), rev);
    free(text);
    if (s == NATS_OK)
        return 0;
    const char *why = nats_GetLastError(NULL);
    if (why != NULL && strstr(why, "wrong last sequence") != NULL)
        return fail(cl, -ESTALE,
                    "The placement bucket's %s changed between its read and the switch (%s): "
                    "nothing was switched.",
                    key, why);
    /* No answer (a time-out, a lost connection): the update may have landed. What the key
     * says now decides; a key that cannot be read leaves it unknown. */
    char failure[160];
    snprintf(failure, sizeof(failure), "%s (%s)", natsStatus_GetText(s), why ? why : "");
    for (int attempt = 0; attempt < 3; attempt++) {
        if (attempt > 0)
            nats_Sleep(500);
        if (org_key_shard(cl, key, now, &rev) != 0)
            continue;
        if (strcmp(now, to) == 0)
            return 0;
        if (strcmp(now, from) == 0)
            return fail(cl, -EIO,
                        "The placement bucket's %s could not be written: %s; it still names "
                        "shard %.32s: nothing was switched.",
                        key, failure, from);
        break;
    }
    return fail(cl, -EINPROGRESS,
                "The placement bucket's %s could not be written (%s) and could not be read back "
                "as naming shard %.32s or %.32s: whether it was switched is not known.",
                key, failure, from, to);
}
