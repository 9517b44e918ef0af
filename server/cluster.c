#include "cluster.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pack.h"

/* The message id's header (JetStream's dedupe key). */
#define MSG_ID_HEADER "Nats-Msg-Id"

/* One publish waits this long for the stream's ack, and a timed-out publish
 * is retried with the same message id for this long in all: losing the
 * stream's leader stalls writes for 4 to 9 s (SCALE-OUT.md). */
#define PUBLISH_WAIT_MS 2000
#define PUBLISH_GIVE_UP_MS 30000

/* The replica's consumer's idle heartbeat. */
#define HEARTBEAT_MS 1000

/* The replica's wait for its next message: how soon it sees a stop. */
#define FOLLOW_WAIT_MS 200

struct sb_cluster {
    sb_store_t *store;
    bool replica;
    char shard[SB_SHARD_MAX + 1];
    char stream[SB_SHARD_MAX + 4];   /* SB_<shard> */
    char subject[SB_SHARD_MAX + 10]; /* sb.shard.<shard> */
    natsConnection *conn;
    jsCtx *js;
    natsSubscription *sub; /* the replica's ordered consumer, kept until free */
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t lock;
    pthread_cond_t applied_cond; /* broadcast when `applied` moves */
    bool stopping;
    bool fenced;
    uint64_t applied;   /* the store's last change */
    uint64_t published; /* the last sequence the stream acked to this primary */
    uint64_t lag;
    char error[256];
    bool tokens_changed; /* a replica applied a deletion of tokens since the last look */
    /* A primary's term: one past the epoch of the stream's last message when
     * it started (until the placement bucket hands epochs out: not built
     * yet, docs/cluster.md). Its message ids are shard:epoch:seq, so that
     * its own earlier attempt at a sequence is told from another primary's
     * entry there. */
    uint64_t epoch;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool shard_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SB_SHARD_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static uint64_t store_last(sb_cluster_t *c)
{
    uint64_t first = 0, last = 0;
    sb_err_t err;
    if (sb_store_changes_range(c->store, &first, &last, &err) != 0)
        return 0;
    return last;
}

static void set_applied(sb_cluster_t *c, uint64_t seq, uint64_t lag)
{
    pthread_mutex_lock(&c->lock);
    c->applied = seq;
    c->lag = lag;
    pthread_cond_broadcast(&c->applied_cond);
    pthread_mutex_unlock(&c->lock);
}

static void set_error(sb_cluster_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(sb_cluster_t *c, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&c->lock);
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see core/error.c
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&c->lock);
    sb_error("cluster: %s", c->error);
}

/* The stream's first and last sequence. */
static int stream_range(sb_cluster_t *c, uint64_t *first, uint64_t *last, sb_err_t *err)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, c->js, c->stream, NULL, &jerr);
    if (s != NATS_OK)
        return sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE,
                          "The stream %s cannot be read: %s (JetStream error %d).", c->stream,
                          natsStatus_GetText(s), (int)jerr);
    *first = si->State.FirstSeq;
    *last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return 0;
}

/* The stream, created when missing: file storage, three replicas, kept
 * until an operator purges it (a replica bootstraps from a backup whose
 * sequence the stream must still hold). */
static int ensure_stream(sb_cluster_t *c, sb_err_t *err)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = NATS_TIMEOUT;
    /* A cluster just started (or electing a leader) times out for a few
     * seconds: wait for it as for a lost leader. */
    int64_t give_up = now_ms() + PUBLISH_GIVE_UP_MS;
    while ((s = js_GetStreamInfo(&si, c->js, c->stream, NULL, &jerr)) != NATS_OK &&
           (s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS) && now_ms() < give_up)
        nats_Sleep(250);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return 0;
    }
    if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
        return sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE,
                          "The stream %s cannot be read: %s (JetStream error %d).", c->stream,
                          natsStatus_GetText(s), (int)jerr);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char *subjects[1] = {c->subject};
    cfg.Name = c->stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = 3;
    cfg.Retention = js_LimitsPolicy;
    cfg.Discard = js_DiscardOld;
    cfg.Duplicates = (int64_t)120 * 1000 * 1000 * 1000; /* ns: a retry's window */
    jerr = 0;
    s = js_AddStream(&si, c->js, &cfg, NULL, &jerr);
    if (s == NATS_OK)
        jsStreamInfo_Destroy(si);
    else if (jerr != JSStreamNameExistErr) /* another member made it meanwhile */
        return sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE,
                          "The stream %s could not be made: %s (JetStream error %d; it needs "
                          "three NATS nodes).",
                          c->stream, natsStatus_GetText(s), (int)jerr);
    sb_info("cluster: made the stream %s (subject %s, 3 replicas)", c->stream, c->subject);
    return 0;
}

/* The sequence an entry names: its fixed head is 0x94, format, 0xcf, u64. */
static bool entry_seq(const void *data, size_t len, uint64_t *seq)
{
    const unsigned char *p = data;
    if (len < 11 || p[0] != 0x94 || p[2] != 0xcf)
        return false;
    uint64_t be;
    memcpy(&be, p + 3, 8);
    *seq = be64toh(be);
    return true;
}

/* The id of the stream's message `seq` ("" when it has none). */
static int msg_id_at(sb_cluster_t *c, uint64_t seq, char *out, size_t size, sb_err_t *err)
{
    out[0] = '\0';
    natsMsg *msg = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetMsg(&msg, c->js, c->stream, seq, NULL, &jerr);
    if (s != NATS_OK)
        return sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE,
                          "Message %" PRIu64 " of the stream %s cannot be read: %s.", seq,
                          c->stream, natsStatus_GetText(s));
    const char *id = NULL;
    if (natsMsgHeader_Get(msg, MSG_ID_HEADER, &id) == NATS_OK && id != NULL)
        snprintf(out, size, "%s", id);
    natsMsg_Destroy(msg);
    return 0;
}

/* The epoch in a message id shard:epoch:seq (0 when it is not one). */
static uint64_t id_epoch(const char *id)
{
    const char *p = strchr(id, ':');
    if (p == NULL)
        return 0;
    char *end = NULL;
    unsigned long long e = strtoull(p + 1, &end, 10);
    return end != p + 1 && *end == ':' ? (uint64_t)e : 0;
}

/* Applies message `seq`'s entry, which must name `seq`. */
static int apply_message(sb_cluster_t *c, uint64_t seq, const void *data, size_t len, sb_err_t *err)
{
    uint64_t named = 0;
    if (!entry_seq(data, len, &named) || named != seq)
        return sb_err_set(err, SB_E_CORRUPT,
                          "Message %" PRIu64 " of the stream %s is not change %" PRIu64
                          " of the log (it names %" PRIu64 ").",
                          seq, c->stream, seq, named);
    return sb_store_changes_apply(c->store, data, len, err);
}

/* Applies the stream's messages past the store, one request each (a
 * primary's catch-up is short: what it published and did not commit). */
static int catch_up(sb_cluster_t *c, sb_err_t *err)
{
    uint64_t first = 0, last = 0, local = store_last(c);
    int rc = stream_range(c, &first, &last, err);
    if (rc != 0)
        return rc;
    if (last < local)
        return sb_err_set(err, -EINVAL,
                          "The store is at change %" PRIu64 " but the stream %s ends at %" PRIu64
                          ": a shard's primary starts from an empty store, or from a backup of "
                          "a member of this shard.",
                          local, c->stream, last);
    if (last > local && first > local + 1)
        return sb_err_set(err, -EINVAL,
                          "The stream %s no longer holds change %" PRIu64 " (it begins at %" PRIu64
                          "): restore a newer backup of the shard.",
                          c->stream, local + 1, first);
    for (uint64_t seq = local + 1; rc == 0 && seq <= last; seq++) {
        natsMsg *msg = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_GetMsg(&msg, c->js, c->stream, seq, NULL, &jerr);
        if (s != NATS_OK)
            return sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE,
                              "Message %" PRIu64 " of the stream %s cannot be read: %s.", seq,
                              c->stream, natsStatus_GetText(s));
        rc = apply_message(c, seq, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), err);
        natsMsg_Destroy(msg);
    }
    if (rc == 0 && last > local)
        sb_info("cluster: applied changes %" PRIu64 " to %" PRIu64 " from the stream %s", local + 1,
                last, c->stream);
    if (rc == 0)
        set_applied(c, last, 0);
    return rc;
}

int sb_cluster_resync(void *ctx)
{
    sb_cluster_t *c = ctx;
    sb_err_t err;
    int rc = catch_up(c, &err);
    if (rc != 0)
        sb_error("cluster: %s", err.message);
    return rc;
}

/* The primary's hook (store.h): publish, then the caller commits. */
static int publish_cb(void *ctx, uint64_t seq, const void *entry, size_t len)
{
    sb_cluster_t *c = ctx;
    pthread_mutex_lock(&c->lock);
    bool fenced = c->fenced;
    uint64_t published = c->published;
    pthread_mutex_unlock(&c->lock);
    if (fenced)
        return SB_E_NOT_PRIMARY;
    char id[SB_SHARD_MAX + 48];
    snprintf(id, sizeof(id), "%s:%" PRIu64 ":%" PRIu64, c->shard, c->epoch, seq);
    jsPubOptions opts;
    jsPubOptions_Init(&opts);
    opts.MsgId = id;
    opts.ExpectLastSeq = seq - 1; /* 0 for the first: no expectation */
    opts.MaxWait = PUBLISH_WAIT_MS;
    int64_t give_up = now_ms() + PUBLISH_GIVE_UP_MS;
    for (int attempt = 0;; attempt++) {
        jsPubAck *ack = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_Publish(&ack, c->js, c->subject, entry, (int)len, &opts, &jerr);
        if (s == NATS_OK) {
            /* A duplicate on the first attempt is an earlier attempt's entry
             * (its local commit failed): the store must take that one. */
            bool earlier = ack->Duplicate && attempt == 0;
            uint64_t at = ack->Sequence;
            jsPubAck_Destroy(ack);
            if (earlier || at != seq) {
                sb_warn("cluster: the stream %s holds change %" PRIu64
                        " already (from an earlier attempt); resyncing",
                        c->stream, seq);
                return -EAGAIN;
            }
            pthread_mutex_lock(&c->lock);
            c->published = seq;
            pthread_mutex_unlock(&c->lock);
            return 0;
        }
        if (jerr == JSStreamWrongLastSequenceErr) {
            /* This primary's own entry there (its commit failed), or
             * another primary's: the message id tells. */
            char there[SB_SHARD_MAX + 48];
            sb_err_t err;
            if (published >= seq ||
                (msg_id_at(c, seq, there, sizeof(there), &err) == 0 && strcmp(there, id) == 0))
                return -EAGAIN;
            pthread_mutex_lock(&c->lock);
            c->fenced = true;
            pthread_mutex_unlock(&c->lock);
            sb_error("cluster: the stream %s refused change %" PRIu64 " of epoch %" PRIu64
                     ": another primary appended to it (%s); this server "
                     "takes no more writes",
                     c->stream, seq, c->epoch, there[0] ? there : "its id unread");
            return SB_E_NOT_PRIMARY;
        }
        if ((s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS) && now_ms() < give_up) {
            if (attempt == 0)
                sb_warn("cluster: the stream %s did not ack change %" PRIu64
                        " (%s); retrying with the same id",
                        c->stream, seq, natsStatus_GetText(s));
            if (s == NATS_NO_RESPONDERS)
                nats_Sleep(100); /* no leader yet: do not spin */
            continue;
        }
        sb_error("cluster: the stream %s did not take change %" PRIu64 ": %s (JetStream error %d)",
                 c->stream, seq, natsStatus_GetText(s), (int)jerr);
        return SB_E_CLUSTER_UNAVAILABLE;
    }
}

/* A replica's hook: nothing is written here but what the stream brings. */
static int refuse_cb(void *ctx, uint64_t seq, const void *entry, size_t len)
{
    (void)ctx;
    (void)seq;
    (void)entry;
    (void)len;
    return SB_E_NOT_PRIMARY;
}

int sb_cluster_open(const char *urls, const char *shard, bool replica, sb_store_t *store,
                    sb_cluster_t **out, sb_err_t *err)
{
    *out = NULL;
    sb_err_clear(err);
    if (!shard_name_ok(shard))
        return sb_err_set(err, -EINVAL,
                          "The shard name \"%s\" is not 1 to %d letters, digits, '-' or '_'.",
                          shard, SB_SHARD_MAX);
    sb_cluster_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return sb_err_default(err, -ENOMEM);
    c->store = store;
    c->replica = replica;
    snprintf(c->shard, sizeof(c->shard), "%s", shard);
    snprintf(c->stream, sizeof(c->stream), "SB_%s", shard);
    snprintf(c->subject, sizeof(c->subject), "sb.shard.%s", shard);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->applied_cond, NULL);
    int rc = 0;
    natsOptions *opts = NULL;
    natsStatus s = natsOptions_Create(&opts);
    /* natsOptions_SetURL of libnats 3.4.1 does not take a list: split it. */
    char list[1024];
    const char *servers[16];
    int n_servers = 0;
    if (strlen(urls) >= sizeof(list)) {
        natsOptions_Destroy(opts);
        rc = sb_err_set(err, -EINVAL, "--cluster is at most %zu bytes.", sizeof(list) - 1);
        goto out;
    }
    snprintf(list, sizeof(list), "%s", urls);
    char *save = NULL;
    for (char *u = strtok_r(list, ",", &save); u != NULL && n_servers < 16;
         u = strtok_r(NULL, ",", &save))
        servers[n_servers++] = u;
    if (s == NATS_OK)
        s = n_servers > 0 ? natsOptions_SetServers(opts, servers, n_servers) : NATS_INVALID_ARG;
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(opts, -1); /* keep trying: writes wait, reads go on */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(opts, 250);
    if (s == NATS_OK)
        s = natsConnection_Connect(&c->conn, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK) {
        rc = sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE, "Cannot connect to NATS at %s: %s.", urls,
                        natsStatus_GetText(s));
        goto out;
    }
    s = natsConnection_JetStream(&c->js, c->conn, NULL);
    if (s != NATS_OK) {
        rc = sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE, "No JetStream at %s: %s.", urls,
                        natsStatus_GetText(s));
        goto out;
    }
    rc = ensure_stream(c, err);
    if (rc != 0)
        goto out;
    if (replica) {
        uint64_t first = 0, last = 0, local = store_last(c);
        rc = stream_range(c, &first, &last, err);
        if (rc == 0 && last > local && first > local + 1)
            rc = sb_err_set(err, -EINVAL,
                            "The stream %s no longer holds change %" PRIu64
                            " (it begins at %" PRIu64 "): this replica cannot follow it; "
                            "restore a newer backup of the shard's primary (sbctl backup, "
                            "sbstore restore) and start again.",
                            c->stream, local + 1, first);
        if (rc == 0) {
            set_applied(c, local, last > local ? last - local : 0);
            sb_store_set_publish(store, refuse_cb, c);
        }
    } else {
        rc = catch_up(c, err);
        char last_id[SB_SHARD_MAX + 48] = "";
        if (rc == 0 && c->applied > 0)
            rc = msg_id_at(c, c->applied, last_id, sizeof(last_id), err);
        if (rc == 0) {
            c->epoch = id_epoch(last_id) + 1;
            c->published = c->applied;
            sb_store_set_publish(store, publish_cb, c);
        }
    }
out:
    if (rc != 0) {
        sb_cluster_free(c);
        return rc;
    }
    if (replica)
        sb_info("cluster: shard %s's replica, at change %" PRIu64 ", stream %s on %s", c->shard,
                c->applied, c->stream, urls);
    else
        sb_info("cluster: shard %s's primary, epoch %" PRIu64 ", at change %" PRIu64
                ", stream %s on %s",
                c->shard, c->epoch, c->applied, c->stream, urls);
    *out = c;
    return 0;
}

/* Entries a replica applies in one transaction at most, when the stream
 * has them ready: one sync for many (a replica one sync per entry fell
 * behind a primary's group commits, about 300 entries a second here). */
#define APPLY_BATCH 256

/* Whether an entry deletes a token (a revocation, or an org's delete with
 * its tokens): the connections that hold one must be closed here too. */
static bool entry_deletes_tokens(const void *data, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    bool found = false;
    if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 4 &&
        u.data.via.array.ptr[3].type == MSGPACK_OBJECT_ARRAY) {
        const msgpack_object_array *writes = &u.data.via.array.ptr[3].via.array;
        for (uint32_t i = 0; !found && i < writes->size; i++) {
            const msgpack_object *changes = sb_obj_get(&writes->ptr[i], "changes");
            for (uint32_t j = 0; changes != NULL && changes->type == MSGPACK_OBJECT_ARRAY &&
                                 !found && j < changes->via.array.size;
                 j++) {
                const msgpack_object *c = &changes->via.array.ptr[j];
                char op[8], db[32];
                found = c->type == MSGPACK_OBJECT_ARRAY && c->via.array.size == 4 &&
                        sb_obj_copy_str(&c->via.array.ptr[0], op, sizeof(op)) == 0 &&
                        sb_obj_copy_str(&c->via.array.ptr[1], db, sizeof(db)) == 0 &&
                        strcmp(db, "tokens") == 0 && strcmp(op, "put") != 0;
            }
        }
    }
    msgpack_unpacked_destroy(&u);
    return found;
}

static void drop_msgs(natsMsg **msgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        natsMsg_Destroy(msgs[i]);
}

/* The replica's thread: follow the stream with an ordered consumer (it
 * re-creates itself on a gap of its own, so every message comes in order,
 * once) and apply its entries, each with its sequence, in one transaction
 * per batch of what is ready. */
static void *follow_main(void *arg)
{
    sb_cluster_t *c = arg;
    natsMsg *msgs[APPLY_BATCH];
    const void *data[APPLY_BATCH];
    size_t lens[APPLY_BATCH];
    for (;;) {
        pthread_mutex_lock(&c->lock);
        bool stop = c->stopping;
        uint64_t applied = c->applied;
        pthread_mutex_unlock(&c->lock);
        if (stop)
            break;
        size_t n = 0;
        uint64_t pending = 0, next = applied + 1;
        bool gap = false;
        natsStatus s = NATS_OK;
        while (n < APPLY_BATCH) {
            natsMsg *msg = NULL;
            s = natsSubscription_NextMsg(&msg, c->sub, n == 0 ? FOLLOW_WAIT_MS : 0);
            if (s != NATS_OK)
                break;
            jsMsgMetaData *meta = NULL;
            if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
                natsMsg_Destroy(msg); /* not a stream message */
                continue;
            }
            uint64_t seq = meta->Sequence.Stream;
            pending = meta->NumPending;
            jsMsgMetaData_Destroy(meta);
            if (seq < next) { /* here already: the consumer restarted behind */
                natsMsg_Destroy(msg);
                continue;
            }
            if (seq != next) {
                natsMsg_Destroy(msg);
                set_error(c,
                          "the stream %s skipped from change %" PRIu64 " to %" PRIu64
                          ": this replica stopped following (restore a newer backup)",
                          c->stream, next - 1, seq);
                gap = true;
                break;
            }
            uint64_t named = 0;
            data[n] = natsMsg_GetData(msg);
            lens[n] = (size_t)natsMsg_GetDataLength(msg);
            msgs[n++] = msg;
            if (!entry_seq(data[n - 1], lens[n - 1], &named) || named != seq) {
                set_error(c,
                          "message %" PRIu64 " of the stream %s is not change %" PRIu64
                          " of the log (it names %" PRIu64 "); this replica stopped following",
                          seq, c->stream, seq, named);
                gap = true;
                break;
            }
            next++;
            if (pending == 0)
                break; /* the tail: apply now */
        }
        if (gap) {
            drop_msgs(msgs, n);
            break;
        }
        if (n == 0) {
            if (s != NATS_TIMEOUT) {
                sb_warn("cluster: following %s: %s", c->stream, natsStatus_GetText(s));
                nats_Sleep(FOLLOW_WAIT_MS);
            }
            continue;
        }
        sb_err_t err;
        int rc = sb_store_changes_apply_many(c->store, data, lens, n, &err);
        bool tokens = false;
        for (size_t i = 0; rc == 0 && !tokens && i < n; i++)
            tokens = entry_deletes_tokens(data[i], lens[i]);
        drop_msgs(msgs, n);
        if (tokens) {
            pthread_mutex_lock(&c->lock);
            c->tokens_changed = true;
            pthread_mutex_unlock(&c->lock);
        }
        if (rc != 0) {
            set_error(c,
                      "changes %" PRIu64 " to %" PRIu64
                      " of the stream %s could not be applied: %s; this replica stopped "
                      "following",
                      applied + 1, next - 1, c->stream, err.message);
            break;
        }
        set_applied(c, next - 1, pending);
    }
    return NULL;
}

int sb_cluster_start(sb_cluster_t *c, sb_err_t *err)
{
    sb_err_clear(err);
    if (c == NULL || !c->replica)
        return 0;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = c->stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = c->applied + 1;
    /* The consumer finds itself cut off (its NATS node lost) after missed
     * heartbeats, then re-creates itself from the next sequence: with the
     * library's default of 5 s, a lost node stalled a replica for 15 s. */
    so.Config.Heartbeat = (int64_t)HEARTBEAT_MS * 1000 * 1000; /* ns */
    jsErrCode jerr = 0;
    natsStatus s = js_SubscribeSync(&c->sub, c->js, c->subject, NULL, &so, &jerr);
    if (s != NATS_OK)
        return sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE,
                          "Cannot follow the stream %s: %s (JetStream error %d).", c->stream,
                          natsStatus_GetText(s), (int)jerr);
    int rc = pthread_create(&c->thread, NULL, follow_main, c);
    if (rc != 0)
        return sb_err_default(err, -rc);
    c->thread_started = true;
    return 0;
}

void sb_cluster_free(sb_cluster_t *c)
{
    if (c == NULL)
        return;
    if (c->thread_started) {
        pthread_mutex_lock(&c->lock);
        c->stopping = true;
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
    }
    sb_store_set_publish(c->store, NULL, NULL);
    /* libnats 3.4.1 can crash destroying a subscription with messages in
     * flight: unsubscribe first, let delivery drain, then destroy. */
    if (c->sub != NULL) {
        natsSubscription_Unsubscribe(c->sub);
        nats_Sleep(50);
        natsSubscription_Destroy(c->sub);
    }
    jsCtx_Destroy(c->js);
    if (c->conn != NULL) {
        natsConnection_Close(c->conn);
        natsConnection_Destroy(c->conn);
    }
    pthread_cond_destroy(&c->applied_cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
    nats_Close();
}

bool sb_cluster_writable(const sb_cluster_t *c)
{
    if (c == NULL)
        return true;
    if (c->replica)
        return false;
    pthread_mutex_lock((pthread_mutex_t *)&c->lock);
    bool fenced = c->fenced;
    pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
    return !fenced;
}

void sb_cluster_status(sb_cluster_t *c, sb_cluster_status_t *out)
{
    memset(out, 0, sizeof(*out));
    out->replica = c->replica;
    out->epoch = c->epoch;
    snprintf(out->shard, sizeof(out->shard), "%s", c->shard);
    pthread_mutex_lock(&c->lock);
    out->fenced = c->fenced;
    out->applied = c->applied;
    out->lag = c->lag;
    snprintf(out->error, sizeof(out->error), "%s", c->error);
    pthread_mutex_unlock(&c->lock);
    if (!c->replica) /* the primary's store is its own: what it committed */
        out->applied = store_last(c);
}

bool sb_cluster_wait_applied(sb_cluster_t *c, uint64_t seq, unsigned wait_ms)
{
    if (c == NULL || !c->replica)
        return true;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (c->applied < seq && wait_ms > 0 &&
           pthread_cond_timedwait(&c->applied_cond, &c->lock, &until) == 0) {
    }
    bool ok = c->applied >= seq;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

bool sb_cluster_take_tokens_changed(sb_cluster_t *c)
{
    if (c == NULL)
        return false;
    pthread_mutex_lock(&c->lock);
    bool changed = c->tokens_changed;
    c->tokens_changed = false;
    pthread_mutex_unlock(&c->lock);
    return changed;
}
