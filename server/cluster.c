#include "cluster.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
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

/* The placement bucket (the notes' placement format, docs/cluster.md). */
#define BUCKET "SB_placement"
#define BUCKET_HISTORY 8

/* How often a member writes member.<M> (its applied sequence), and how
 * long its watcher waits for the bucket's next change: how soon it sees a
 * stop, a promotion or another primary. */
#define MEMBER_EVERY_MS 2000
#define WATCH_WAIT_MS 250

/* Orgs waiting for their placement to be settled (sb_cluster_org_settle). */
#define SETTLE_MAX 64

/* Subscriptions given up (a replica promoted), destroyed only at free:
 * libnats 3.4.1 can crash destroying one with messages in flight. */
#define RETIRED_MAX 16

typedef enum role { ROLE_PRIMARY, ROLE_REPLICA, ROLE_FENCED } role_t;

static const char *role_name(role_t r)
{
    return r == ROLE_PRIMARY ? "primary" : r == ROLE_REPLICA ? "replica" : "fenced";
}

/* Fields ordered by size (clang-tidy's padding check), not by topic. */
struct sb_cluster {
    sb_store_t *store;
    natsConnection *conn;
    jsCtx *js;
    kvStore *kv;
    natsSubscription *sub; /* the replica's ordered consumer while it follows */
    size_t n_retired;
    kvWatcher *watcher; /* the bucket's, kept until free */
    pthread_t thread, watch_thread;
    /* These five, and role, following, member_dirty, stopping,
     * tokens_changed, error, primary and the copy: under `lock`. */
    uint64_t promote_to; /* the bucket named this replica primary at this epoch: not yet done */
    uint64_t applied;    /* the store's last change */
    uint64_t published;  /* the last sequence the stream acked to this primary */
    uint64_t lag;
    /* The epoch: a primary's term, from shard.<S> in the bucket (a replica:
     * the one it last saw). Message ids are shard:epoch:seq, so that a
     * primary's own earlier attempt at a sequence is told from another
     * primary's entry there, and an older epoch's late entry from a newer
     * one's. */
    uint64_t epoch;
    /* The member's copy of the bucket, kept by the watch thread (cluster.show
     * reads it without a request): key -> value of shard.* and member.*, org
     * -> shard of org.*, shard -> count of its orgs. */
    json_t *shards, *members, *orgs, *org_counts;
    size_t n_settle;
    pthread_mutex_t lock;
    pthread_cond_t applied_cond; /* broadcast when `applied` moves */
    pthread_cond_t state_cond;   /* signalled when the role is to change, or a stop */
    /* Subscriptions given up (a replica promoted), destroyed only at free. */
    natsSubscription *retired[RETIRED_MAX];
    uint32_t number; /* the shard's, from the bucket */
    role_t role;
    bool thread_started, watch_started;
    bool stopping;
    bool following;      /* a replica whose consumer runs and met no error */
    bool member_dirty;   /* member.<M> is to be written at once (a role changed) */
    bool tokens_changed; /* a replica applied a deletion of tokens since the last look */
    char shard[SB_SHARD_MAX + 1];
    char member[SB_MEMBER_MAX + 1];
    char primary[SB_MEMBER_MAX + 1];    /* the shard's primary as the bucket names it */
    char stream[SB_SHARD_MAX + 4];      /* SB_<shard> */
    char shard_key[SB_SHARD_MAX + 8];   /* shard.<shard> */
    char member_key[SB_MEMBER_MAX + 8]; /* member.<member> */
    char subject[SB_SHARD_MAX + 10];    /* sb.shard.<shard> */
    char error[256];
    char socket[PATH_MAX];
    char settle[SETTLE_MAX][SB_ORG_ID_MAX + 1]; /* orgs to settle (sb_cluster_org_settle) */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A shard's or member's name: 1 to `max` letters, digits, '-', '_' (they
 * go into NATS subjects and bucket keys as they are). */
static bool name_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
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

/* ---- the placement bucket ---------------------------------------------------- */

/* Whether the last libnats error is a compare-and-set that lost ("wrong
 * last sequence", no code of its own in 3.4.1). */
static bool kv_conflict(void)
{
    const char *text = nats_GetLastError(NULL);
    return text != NULL && strstr(text, "wrong last sequence") != NULL;
}

/* The bucket, created when missing: file storage, three replicas (one when
 * the NATS cluster has a single node), history kept. */
static int open_bucket(sb_cluster_t *c, sb_err_t *err)
{
    natsStatus s = NATS_TIMEOUT;
    int64_t give_up = now_ms() + PUBLISH_GIVE_UP_MS;
    while ((s = js_KeyValue(&c->kv, c->js, BUCKET)) != NATS_OK &&
           (s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS) && now_ms() < give_up)
        nats_Sleep(250);
    if (s == NATS_OK)
        return 0;
    if (s != NATS_NOT_FOUND)
        return sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE,
                          "The placement bucket %s cannot be read: %s.", BUCKET,
                          natsStatus_GetText(s));
    for (int replicas = 3; replicas >= 1; replicas -= 2) {
        kvConfig cfg;
        kvConfig_Init(&cfg);
        cfg.Bucket = BUCKET;
        cfg.History = BUCKET_HISTORY;
        cfg.StorageType = js_FileStorage;
        cfg.Replicas = replicas;
        s = js_CreateKeyValue(&c->kv, c->js, &cfg);
        if (s == NATS_OK) {
            sb_info("cluster: made the placement bucket %s (%d replica%s)", BUCKET, replicas,
                    replicas > 1 ? "s" : "");
            return 0;
        }
    }
    return sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE,
                      "The placement bucket %s could not be made: %s (%s).", BUCKET,
                      natsStatus_GetText(s), nats_GetLastError(NULL));
}

/* The JSON object at `key` and its revision; *out NULL when the key is
 * missing (or deleted). *out [owned: json_decref]. */
static int kv_get(kvStore *kv, const char *key, json_t **out, uint64_t *rev, sb_err_t *err)
{
    *out = NULL;
    *rev = 0;
    kvEntry *e = NULL;
    natsStatus s = kvStore_Get(&e, kv, key);
    if (s == NATS_NOT_FOUND)
        return 0;
    if (s != NATS_OK)
        return sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE,
                          "The placement bucket's key %s cannot be read: %s.", key,
                          natsStatus_GetText(s));
    json_error_t jerr;
    json_t *v = json_loadb(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), 0, &jerr);
    *rev = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    if (!json_is_object(v)) {
        json_decref(v);
        return sb_err_set(err, SB_E_CORRUPT,
                          "The placement bucket's key %s is not a JSON object (%s); fix or "
                          "delete it with NATS's tools.",
                          key, jerr.text);
    }
    *out = v;
    return 0;
}

/* Writes `v` at `key`: created when `rev` is 0 (refused when it exists),
 * else a compare-and-set on revision `rev`. SB_E_PLACEMENT_CHANGED when
 * another change won. */
static int kv_set(kvStore *kv, const char *key, const json_t *v, uint64_t rev, uint64_t *new_rev,
                  sb_err_t *err)
{
    char *text = json_dumps(v, JSON_COMPACT);
    if (text == NULL)
        return sb_err_default(err, -ENOMEM);
    uint64_t r = 0;
    natsStatus s = rev == 0 ? kvStore_Create(&r, kv, key, text, (int)strlen(text))
                            : kvStore_Update(&r, kv, key, text, (int)strlen(text), rev);
    free(text);
    if (s == NATS_OK) {
        if (new_rev != NULL)
            *new_rev = r;
        return 0;
    }
    if (kv_conflict() || (rev == 0 && s == NATS_ERR))
        return sb_err_set(err, SB_E_PLACEMENT_CHANGED,
                          "The placement bucket's key %s changed meanwhile (%s).", key,
                          nats_GetLastError(NULL));
    return sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE,
                      "The placement bucket's key %s cannot be written: %s.", key,
                      natsStatus_GetText(s));
}

/* The string at `name` of `obj`, "" when absent. */
static const char *jstr(const json_t *obj, const char *name)
{
    const char *v = json_string_value(json_object_get(obj, name));
    return v != NULL ? v : "";
}

static uint64_t juint(const json_t *obj, const char *name)
{
    json_int_t v = json_integer_value(json_object_get(obj, name));
    return v > 0 ? (uint64_t)v : 0;
}

/* Whether the array `list` holds the string `name`. */
static bool jlist_has(const json_t *list, const char *name)
{
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) if (strcmp(json_string_value(v) ? json_string_value(v) : "",
                                              name) == 0) return true;
    return false;
}

/* The shard's next number, from shards.next (compare-and-set). */
static int next_shard_number(sb_cluster_t *c, uint32_t *out, sb_err_t *err)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        json_t *v = NULL;
        uint64_t rev = 0;
        int rc = kv_get(c->kv, "shards.next", &v, &rev, err);
        if (rc != 0)
            return rc;
        uint64_t n = v != NULL ? juint(v, "next") : 1;
        json_decref(v);
        if (n == 0 || n > SB_STORE_ID_SPACE_MAX)
            return sb_err_set(err, -ENOSPC,
                              "The cluster has used every shard number (1 to %d): no shard "
                              "can be added.",
                              SB_STORE_ID_SPACE_MAX);
        json_t *next = json_pack("{sI}", "next", (json_int_t)n + 1);
        rc = next == NULL ? sb_err_default(err, -ENOMEM)
                          : kv_set(c->kv, "shards.next", next, rev, NULL, err);
        json_decref(next);
        if (rc == 0) {
            *out = (uint32_t)n;
            return 0;
        }
        if (rc != SB_E_PLACEMENT_CHANGED)
            return rc;
    }
    return sb_err_set(err, SB_E_PLACEMENT_CHANGED,
                      "shards.next kept changing under this member: too many shards start at "
                      "once; start this one again.");
}

/* Puts this member into shard.<S>'s replicas (compare-and-set) unless it is
 * there, or the primary. *shard_out: the key's value after it [owned]. */
static int join_replicas(sb_cluster_t *c, json_t **shard_out, sb_err_t *err)
{
    *shard_out = NULL;
    for (int attempt = 0; attempt < 20; attempt++) {
        json_t *v = NULL;
        uint64_t rev = 0;
        int rc = kv_get(c->kv, c->shard_key, &v, &rev, err);
        if (rc != 0)
            return rc;
        if (v == NULL)
            return sb_err_set(err, -EINVAL,
                              "The shard %s is not in the placement bucket: start its primary "
                              "(--shard %s) first.",
                              c->shard, c->shard);
        json_t *replicas = json_object_get(v, "replicas");
        if (strcmp(jstr(v, "primary"), c->member) == 0 || jlist_has(replicas, c->member)) {
            *shard_out = v;
            return 0;
        }
        if (!json_is_array(replicas)) {
            replicas = json_array();
            json_object_set_new(v, "replicas", replicas);
        }
        json_array_append_new(replicas, json_string(c->member));
        rc = kv_set(c->kv, c->shard_key, v, rev, NULL, err);
        if (rc == 0) {
            *shard_out = v;
            return 0;
        }
        json_decref(v);
        if (rc != SB_E_PLACEMENT_CHANGED)
            return rc;
    }
    return sb_err_set(err, SB_E_PLACEMENT_CHANGED,
                      "%s kept changing under this member; start it again.", c->shard_key);
}

/* member.<M>: what this member is, for cluster.show and cluster.promote.
 * Only this member writes its key, so a plain put. */
static void write_member(sb_cluster_t *c)
{
    pthread_mutex_lock(&c->lock);
    role_t role = c->role;
    uint64_t epoch = c->epoch, applied = c->applied;
    char error[sizeof(c->error)];
    snprintf(error, sizeof(error), "%s", c->error);
    c->member_dirty = false;
    pthread_mutex_unlock(&c->lock);
    if (role == ROLE_PRIMARY) {
        uint64_t first = 0, last = 0;
        sb_err_t err;
        if (sb_store_changes_range(c->store, &first, &last, &err) == 0)
            applied = last;
    }
    json_t *v = json_pack("{ss ss ss sI sI sI ss}", "shard", c->shard, "socket", c->socket, "role",
                          role_name(role), "epoch", (json_int_t)epoch, "applied",
                          (json_int_t)applied, "updated_ms", (json_int_t)wall_ms(), "error", error);
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (text == NULL)
        return;
    uint64_t rev = 0;
    natsStatus s = kvStore_Put(&rev, c->kv, c->member_key, text, (int)strlen(text));
    free(text);
    if (s != NATS_OK)
        sb_warn("cluster: %s could not be written: %s", c->member_key, natsStatus_GetText(s));
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
    /* JetStream error 10005 (no suitable peers): the NATS cluster is still
     * forming (its nodes just started, the machine loaded): wait for it. */
    do {
        if (jerr == 10005)
            nats_Sleep(250);
        jerr = 0;
        s = js_AddStream(&si, c->js, &cfg, NULL, &jerr);
    } while (s != NATS_OK && (jerr == 10005 || s == NATS_TIMEOUT) && now_ms() < give_up);
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

/* A primary that another one took over from: no more writes; its stream
 * thread turns it into a replica (follow_main). */
static void fence(sb_cluster_t *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->role == ROLE_PRIMARY) {
        c->role = ROLE_FENCED;
        c->member_dirty = true;
        pthread_cond_broadcast(&c->state_cond);
    }
    pthread_mutex_unlock(&c->lock);
}

/* The store's hook (store.h), the same for every role (it may change while
 * the server runs): a primary publishes, then the caller commits; any other
 * role refuses. */
static int publish_cb(void *ctx, uint64_t seq, const void *entry, size_t len)
{
    sb_cluster_t *c = ctx;
    pthread_mutex_lock(&c->lock);
    role_t role = c->role;
    uint64_t published = c->published, epoch = c->epoch;
    pthread_mutex_unlock(&c->lock);
    if (role != ROLE_PRIMARY)
        return SB_E_NOT_PRIMARY;
    char id[SB_SHARD_MAX + 48];
    snprintf(id, sizeof(id), "%s:%" PRIu64 ":%" PRIu64, c->shard, epoch, seq);
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
            /* An older epoch's entry: the primary this one took over from
             * appended it before it saw the bucket (its publish was in
             * flight). Apply it and replay the batch after it; that
             * primary's next publish is refused. */
            if (there[0] != '\0' && id_epoch(there) < epoch) {
                sb_warn("cluster: the stream %s holds %s at change %" PRIu64
                        " (an older epoch's late entry); applying it first",
                        c->stream, there, seq);
                return -EAGAIN;
            }
            fence(c);
            sb_error("cluster: the stream %s refused change %" PRIu64 " of epoch %" PRIu64
                     ": another primary appended to it (%s); this server "
                     "takes no more writes and follows the stream as a replica",
                     c->stream, seq, epoch, there[0] ? there : "its id unread");
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

/* The default member name: the shard, '-', the data directory's base name,
 * every other character made '_', cut to SB_MEMBER_MAX. */
static void default_member(const char *shard, const char *data_dir, char *out, size_t size)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", data_dir != NULL ? data_dir : "");
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        dir[--n] = '\0';
    const char *base = strrchr(dir, '/');
    base = base != NULL ? base + 1 : dir;
    snprintf(out, size, "%s-%s", shard, base[0] ? base : "data");
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            *p = '_';
}

/* The bucket decides this member's role (sb_cluster_open). */
static int take_place(sb_cluster_t *c, bool replica_flag, sb_err_t *err)
{
    json_t *shard = NULL;
    uint64_t rev = 0;
    int rc = kv_get(c->kv, c->shard_key, &shard, &rev, err);
    if (rc == 0 && shard == NULL && !replica_flag) {
        /* The shard's first start: this member is its primary. The epoch
         * follows any the stream used before (a stream older than the
         * bucket); 1 for a new one. */
        uint64_t first = 0, last = 0;
        char last_id[SB_SHARD_MAX + 48] = "";
        uint32_t number = 0;
        rc = stream_range(c, &first, &last, err);
        if (rc == 0 && last > 0)
            rc = msg_id_at(c, last, last_id, sizeof(last_id), err);
        if (rc == 0)
            rc = next_shard_number(c, &number, err);
        if (rc == 0) {
            shard = json_pack("{sI ss s[] sI}", "epoch", (json_int_t)id_epoch(last_id) + 1,
                              "primary", c->member, "replicas", "number", (json_int_t)number);
            rc = shard == NULL ? sb_err_default(err, -ENOMEM)
                               : kv_set(c->kv, c->shard_key, shard, 0, NULL, err);
            if (rc == 0)
                sb_info("cluster: made %s (number %" PRIu32 ", primary %s)", c->shard_key, number,
                        c->member);
            json_decref(shard);
            shard = NULL;
            if (rc == SB_E_PLACEMENT_CHANGED) /* another member made it first: read it */
                rc = 0;
            if (rc == 0)
                rc = kv_get(c->kv, c->shard_key, &shard, &rev, err);
        }
    }
    if (rc == 0 && (shard == NULL || strcmp(jstr(shard, "primary"), c->member) != 0)) {
        json_decref(shard);
        shard = NULL;
        rc = join_replicas(c, &shard, err);
    }
    if (rc != 0) {
        json_decref(shard);
        return rc;
    }
    uint64_t number = juint(shard, "number");
    if (number == 0 || number > SB_STORE_ID_SPACE_MAX || juint(shard, "epoch") == 0) {
        json_decref(shard);
        return sb_err_set(err, SB_E_CORRUPT,
                          "%s has no valid number (1 to %d) or epoch: fix it with NATS's tools.",
                          c->shard_key, SB_STORE_ID_SPACE_MAX);
    }
    c->number = (uint32_t)number;
    c->epoch = juint(shard, "epoch");
    snprintf(c->primary, sizeof(c->primary), "%s", jstr(shard, "primary"));
    c->role = strcmp(c->primary, c->member) == 0 ? ROLE_PRIMARY : ROLE_REPLICA;
    json_decref(shard);
    return 0;
}

int sb_cluster_open(const sb_cluster_opts_t *o, sb_store_t *store, sb_cluster_t **out,
                    sb_err_t *err)
{
    *out = NULL;
    sb_err_clear(err);
    const char *urls = o->urls, *shard = o->shard;
    if (!name_ok(shard, SB_SHARD_MAX))
        return sb_err_set(err, -EINVAL,
                          "The shard name \"%s\" is not 1 to %d letters, digits, '-' or '_'.",
                          shard, SB_SHARD_MAX);
    if (o->member != NULL && o->member[0] != '\0' && !name_ok(o->member, SB_MEMBER_MAX))
        return sb_err_set(err, -EINVAL,
                          "The member name \"%s\" is not 1 to %d letters, digits, '-' or '_'.",
                          o->member, SB_MEMBER_MAX);
    sb_cluster_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return sb_err_default(err, -ENOMEM);
    c->store = store;
    snprintf(c->shard, sizeof(c->shard), "%s", shard);
    if (o->member != NULL && o->member[0] != '\0')
        snprintf(c->member, sizeof(c->member), "%s", o->member);
    else
        default_member(shard, o->data_dir, c->member, sizeof(c->member));
    snprintf(c->socket, sizeof(c->socket), "%s", o->socket != NULL ? o->socket : "");
    snprintf(c->stream, sizeof(c->stream), "SB_%s", shard);
    snprintf(c->subject, sizeof(c->subject), "sb.shard.%s", shard);
    snprintf(c->shard_key, sizeof(c->shard_key), "shard.%s", shard);
    snprintf(c->member_key, sizeof(c->member_key), "member.%s", c->member);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->applied_cond, NULL);
    pthread_cond_init(&c->state_cond, NULL);
    c->shards = json_object();
    c->members = json_object();
    c->orgs = json_object();
    c->org_counts = json_object();
    int rc = 0;
    if (c->shards == NULL || c->members == NULL || c->orgs == NULL || c->org_counts == NULL) {
        rc = sb_err_default(err, -ENOMEM);
        goto out;
    }
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
    if (rc == 0)
        rc = open_bucket(c, err);
    if (rc == 0)
        rc = take_place(c, o->replica, err);
    if (rc != 0)
        goto out;
    if (c->role == ROLE_REPLICA) {
        uint64_t first = 0, last = 0, local = store_last(c);
        rc = stream_range(c, &first, &last, err);
        if (rc == 0 && last > local && first > local + 1)
            rc = sb_err_set(err, -EINVAL,
                            "The stream %s no longer holds change %" PRIu64
                            " (it begins at %" PRIu64 "): this replica cannot follow it; "
                            "restore a newer backup of the shard's primary (sbctl backup, "
                            "sbstore restore) and start again.",
                            c->stream, local + 1, first);
        if (rc == 0)
            set_applied(c, local, last > local ? last - local : 0);
    } else {
        rc = catch_up(c, err);
        if (rc == 0)
            c->published = c->applied;
    }
    if (rc == 0)
        rc = sb_store_set_id_space(store, c->number) == 0
                 ? 0
                 : sb_err_set(err, -EINVAL, "The shard's number %" PRIu32 " is out of range.",
                              c->number);
    if (rc == 0) {
        sb_store_set_publish(store, publish_cb, c);
        write_member(c);
    }
out:
    if (rc != 0) {
        sb_cluster_free(c);
        return rc;
    }
    sb_info("cluster: member %s: shard %s's %s, epoch %" PRIu64 ", number %" PRIu32
            ", at change %" PRIu64 ", stream %s on %s",
            c->member, c->shard, role_name(c->role), c->epoch, c->number, c->applied, c->stream,
            urls);
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

/* Applies what the stream has ready (one transaction for up to
 * APPLY_BATCH entries). False when the replica must stop following (a gap,
 * a message that is not its entry, an entry the store refused): the error
 * says why. */
static bool follow_once(sb_cluster_t *c)
{
    natsMsg *msgs[APPLY_BATCH];
    const void *data[APPLY_BATCH];
    size_t lens[APPLY_BATCH];
    pthread_mutex_lock(&c->lock);
    uint64_t applied = c->applied;
    pthread_mutex_unlock(&c->lock);
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
        return false;
    }
    if (n == 0) {
        if (s != NATS_TIMEOUT) {
            sb_warn("cluster: following %s: %s", c->stream, natsStatus_GetText(s));
            nats_Sleep(FOLLOW_WAIT_MS);
        }
        return true;
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
        return false;
    }
    set_applied(c, next - 1, pending);
    return true;
}

/* Starts the ordered consumer from the store's next change. */
static int subscribe(sb_cluster_t *c, uint64_t from, sb_err_t *err)
{
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = c->stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = from;
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
    return 0;
}

/* The consumer is given up (a replica becomes the primary): unsubscribed
 * now, destroyed at free (libnats 3.4.1's defect). */
static void retire_sub(sb_cluster_t *c)
{
    if (c->sub == NULL)
        return;
    natsSubscription_Unsubscribe(c->sub);
    if (c->n_retired < RETIRED_MAX) {
        c->retired[c->n_retired++] = c->sub;
    } else {
        nats_Sleep(50);
        natsSubscription_Destroy(c->sub);
    }
    c->sub = NULL;
}

/* The bucket named this replica the primary at `epoch`: it stops following,
 * applies the stream to its end, then takes writes with that epoch. */
static void become_primary(sb_cluster_t *c, uint64_t epoch)
{
    int64_t started = now_ms();
    retire_sub(c);
    pthread_mutex_lock(&c->lock);
    c->following = false;
    pthread_mutex_unlock(&c->lock);
    sb_err_t err;
    int rc = catch_up(c, &err);
    if (rc != 0) {
        /* Named but not serving: try again in a second (the stream's quorum
         * may be back); promote_to stays. */
        set_error(c, "promoted to epoch %" PRIu64 " but could not catch up: %s", epoch,
                  err.message);
        nats_Sleep(1000);
        return;
    }
    uint64_t last = store_last(c);
    pthread_mutex_lock(&c->lock);
    if (c->promote_to == epoch)
        c->promote_to = 0;
    c->epoch = epoch;
    c->published = last;
    c->applied = last;
    c->lag = 0;
    c->error[0] = '\0';
    c->role = ROLE_PRIMARY;
    c->member_dirty = true;
    pthread_mutex_unlock(&c->lock);
    sb_info("cluster: member %s is shard %s's primary now, epoch %" PRIu64 ", at change %" PRIu64
            " (caught up in %" PRId64 " ms)",
            c->member, c->shard, epoch, last, now_ms() - started);
}

/* A fenced primary becomes a replica by itself: its store holds nothing
 * unpublished (publish, then commit), so it follows from its next change. */
static void become_replica(sb_cluster_t *c)
{
    uint64_t local = store_last(c);
    sb_err_t err;
    json_t *shard = NULL;
    int rc = join_replicas(c, &shard, &err);
    if (rc == 0 && strcmp(jstr(shard, "primary"), c->member) != 0) {
        /* Fenced by a refused publish, the watch may not have brought the
         * new placement yet: take the epoch and primary from the key. */
        pthread_mutex_lock(&c->lock);
        c->epoch = juint(shard, "epoch");
        snprintf(c->primary, sizeof(c->primary), "%s", jstr(shard, "primary"));
        pthread_mutex_unlock(&c->lock);
    }
    json_decref(shard);
    if (rc != 0)
        sb_warn("cluster: a fenced primary could not register as a replica (%s); following "
                "anyway",
                err.message);
    rc = subscribe(c, local + 1, &err);
    if (rc != 0) {
        set_error(c, "fenced, and cannot follow yet: %s", err.message);
        nats_Sleep(1000);
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->applied = local;
    c->role = ROLE_REPLICA;
    c->following = true;
    c->error[0] = '\0';
    c->member_dirty = true;
    pthread_mutex_unlock(&c->lock);
    sb_warn("cluster: member %s (fenced) follows shard %s's stream as a replica from change "
            "%" PRIu64,
            c->member, c->shard, local + 1);
}

/* The stream thread: follows the stream while the member is a replica, and
 * carries out the role changes that touch the stream (a promotion, a
 * fenced primary's demotion). The ordered consumer re-creates itself on a
 * gap of its own, so every message comes in order, once. */
static void *follow_main(void *arg)
{
    sb_cluster_t *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        while (!c->stopping && !(c->role == ROLE_REPLICA && c->promote_to > 0) &&
               c->role != ROLE_FENCED && !(c->role == ROLE_REPLICA && c->following)) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += (long)FOLLOW_WAIT_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&c->state_cond, &c->lock, &until);
        }
        bool stop = c->stopping;
        role_t role = c->role;
        uint64_t promote_to = c->promote_to;
        pthread_mutex_unlock(&c->lock);
        if (stop)
            break;
        if (role == ROLE_REPLICA && promote_to > 0) {
            become_primary(c, promote_to);
        } else if (role == ROLE_FENCED) {
            become_replica(c);
        } else if (!follow_once(c)) {
            pthread_mutex_lock(&c->lock);
            c->following = false;
            c->member_dirty = true;
            pthread_mutex_unlock(&c->lock);
        }
    }
    return NULL;
}

/* ---- the watch thread: the bucket's changes, member.<M> ------------------- */

/* Keeps the member's copy of one key of the bucket (NULL value: deleted). */
static void cache_put(sb_cluster_t *c, const char *key, json_t *v)
{
    json_t *table = NULL;
    const char *name = NULL;
    if (strncmp(key, "shard.", 6) == 0) {
        table = c->shards;
        name = key + 6;
    } else if (strncmp(key, "member.", 7) == 0) {
        table = c->members;
        name = key + 7;
    } else if (strncmp(key, "org.", 4) == 0) {
        /* org -> shard, and the shards' counts */
        name = key + 4;
        const char *old = json_string_value(json_object_get(c->orgs, name));
        if (old != NULL) {
            json_t *n = json_object_get(c->org_counts, old);
            if (json_integer_value(n) > 0)
                json_integer_set(n, json_integer_value(n) - 1);
        }
        const char *to = v != NULL ? jstr(v, "shard") : "";
        if (to[0] == '\0') {
            json_object_del(c->orgs, name);
            return;
        }
        json_object_set_new(c->orgs, name, json_string(to));
        json_t *n = json_object_get(c->org_counts, to);
        if (n != NULL)
            json_integer_set(n, json_integer_value(n) + 1);
        else
            json_object_set_new(c->org_counts, to, json_integer(1));
        return;
    }
    if (table == NULL)
        return;
    if (v != NULL)
        json_object_set(table, name, v);
    else
        json_object_del(table, name);
}

/* What shard.<S> of this member's shard says: a promotion of this replica,
 * or another primary (this one is fenced). */
static void shard_changed(sb_cluster_t *c, const json_t *v)
{
    const char *primary = jstr(v, "primary");
    uint64_t epoch = juint(v, "epoch");
    bool fenced = false;
    pthread_mutex_lock(&c->lock);
    snprintf(c->primary, sizeof(c->primary), "%s", primary);
    if (strcmp(primary, c->member) == 0 && c->role == ROLE_REPLICA && epoch > c->epoch) {
        c->promote_to = epoch;
        pthread_cond_broadcast(&c->state_cond);
    } else if (strcmp(primary, c->member) != 0) {
        /* Fenced and the epoch moved in one step: a publish never goes out
         * with the new primary's epoch in its id. */
        fenced = c->role == ROLE_PRIMARY;
        if (fenced) {
            c->role = ROLE_FENCED;
            c->member_dirty = true;
            pthread_cond_broadcast(&c->state_cond);
        }
        c->epoch = epoch; /* not this member's term: the shard's, as last seen */
    }
    pthread_mutex_unlock(&c->lock);
    if (fenced) {
        sb_warn("cluster: %s names %s primary at epoch %" PRIu64
                ": member %s takes no more writes and follows as a replica",
                c->shard_key, primary, epoch, c->member);
    }
}

/* An org whose create or delete ended: org.<ORG> goes when the org is not
 * in the local store and the key names this shard serving it. */
static void settle_org(sb_cluster_t *c, const char *org)
{
    sb_org_t row;
    sb_err_t err;
    int rc = sb_store_org_get(c->store, org, &row, &err);
    if (rc != -ENOENT)
        return; /* here (or unreadable: keep the key) */
    char key[SB_ORG_ID_MAX + 8];
    snprintf(key, sizeof(key), "org.%s", org);
    json_t *v = NULL;
    uint64_t rev = 0;
    if (kv_get(c->kv, key, &v, &rev, &err) != 0 || v == NULL) {
        json_decref(v);
        return;
    }
    bool ours = strcmp(jstr(v, "shard"), c->shard) == 0 && strcmp(jstr(v, "state"), "serving") == 0;
    json_decref(v);
    /* kvStore_Delete of libnats 3.4.1 takes no revision: the check above
     * and the delete are two steps (an org created again in between, on
     * this shard, is settled by its own create). */
    if (ours && kvStore_Delete(c->kv, key) != NATS_OK)
        sb_warn("cluster: %s could not be deleted: %s", key, nats_GetLastError(NULL));
}

static void *watch_main(void *arg)
{
    sb_cluster_t *c = arg;
    int64_t next_member = now_ms() + MEMBER_EVERY_MS;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        bool stop = c->stopping, dirty = c->member_dirty;
        char org[SB_ORG_ID_MAX + 1] = "";
        if (c->n_settle > 0)
            snprintf(org, sizeof(org), "%s", c->settle[--c->n_settle]);
        pthread_mutex_unlock(&c->lock);
        if (stop)
            break;
        if (org[0] != '\0')
            settle_org(c, org);
        if (dirty || now_ms() >= next_member) {
            write_member(c);
            next_member = now_ms() + MEMBER_EVERY_MS;
        }
        kvEntry *e = NULL;
        natsStatus s = kvWatcher_Next(&e, c->watcher, WATCH_WAIT_MS);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            sb_warn("cluster: watching the bucket %s: %s", BUCKET, natsStatus_GetText(s));
            nats_Sleep(WATCH_WAIT_MS);
            continue;
        }
        if (e == NULL)
            continue; /* the end of the initial values */
        const char *key = kvEntry_Key(e);
        json_t *v = NULL;
        if (kvEntry_Operation(e) == kvOp_Put)
            v = json_loadb(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), 0, NULL);
        if (v != NULL && !json_is_object(v)) {
            json_decref(v);
            v = NULL;
            sb_warn("cluster: the bucket's key %s is not a JSON object; ignored", key);
        } else {
            pthread_mutex_lock(&c->lock);
            cache_put(c, key, v);
            pthread_mutex_unlock(&c->lock);
            if (v != NULL && strcmp(key, c->shard_key) == 0)
                shard_changed(c, v);
        }
        json_decref(v);
        kvEntry_Destroy(e);
    }
    return NULL;
}

int sb_cluster_start(sb_cluster_t *c, sb_err_t *err)
{
    sb_err_clear(err);
    if (c == NULL)
        return 0;
    int rc = 0;
    if (c->role == ROLE_REPLICA) {
        /* Creating the consumer times out while JetStream re-elects after
         * a lost NATS node (seen for 15 s and more on a loaded machine):
         * wait for it as for a lost stream leader. */
        int64_t give_up = now_ms() + PUBLISH_GIVE_UP_MS;
        while ((rc = subscribe(c, c->applied + 1, err)) == SB_E_CLUSTER_UNAVAILABLE &&
               now_ms() < give_up)
            nats_Sleep(250);
        if (rc != 0)
            return rc;
        c->following = true;
    }
    kvWatchOptions wo;
    kvWatchOptions_Init(&wo);
    wo.Timeout = PUBLISH_WAIT_MS;
    /* A NATS node lost a moment ago (its consumers' leader elections) times
     * the watch's creation out for a few seconds: wait for it as for a lost
     * stream leader. */
    natsStatus s = NATS_TIMEOUT;
    int64_t give_up = now_ms() + PUBLISH_GIVE_UP_MS;
    while ((s = kvStore_WatchAll(&c->watcher, c->kv, &wo)) != NATS_OK &&
           (s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS) && now_ms() < give_up)
        nats_Sleep(250);
    if (s != NATS_OK)
        return sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE, "Cannot watch the placement bucket: %s.",
                          natsStatus_GetText(s));
    rc = pthread_create(&c->thread, NULL, follow_main, c);
    if (rc != 0)
        return sb_err_default(err, -rc);
    c->thread_started = true;
    rc = pthread_create(&c->watch_thread, NULL, watch_main, c);
    if (rc != 0)
        return sb_err_default(err, -rc);
    c->watch_started = true;
    return 0;
}

void sb_cluster_free(sb_cluster_t *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_broadcast(&c->state_cond);
    pthread_mutex_unlock(&c->lock);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    if (c->watch_started)
        pthread_join(c->watch_thread, NULL);
    sb_store_set_publish(c->store, NULL, NULL);
    /* libnats 3.4.1 can crash destroying a subscription with messages in
     * flight: unsubscribe first, let delivery drain, then destroy. */
    retire_sub(c);
    if (c->watcher != NULL)
        kvWatcher_Stop(c->watcher);
    if (c->n_retired > 0 || c->watcher != NULL)
        nats_Sleep(50);
    for (size_t i = 0; i < c->n_retired; i++)
        natsSubscription_Destroy(c->retired[i]);
    kvWatcher_Destroy(c->watcher);
    kvStore_Destroy(c->kv);
    jsCtx_Destroy(c->js);
    if (c->conn != NULL) {
        natsConnection_Close(c->conn);
        natsConnection_Destroy(c->conn);
    }
    json_decref(c->shards);
    json_decref(c->members);
    json_decref(c->orgs);
    json_decref(c->org_counts);
    pthread_cond_destroy(&c->state_cond);
    pthread_cond_destroy(&c->applied_cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
    nats_Close();
}

bool sb_cluster_writable(const sb_cluster_t *c)
{
    if (c == NULL)
        return true;
    pthread_mutex_lock((pthread_mutex_t *)&c->lock);
    bool primary = c->role == ROLE_PRIMARY;
    pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
    return primary;
}

void sb_cluster_status(sb_cluster_t *c, sb_cluster_status_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->shard, sizeof(out->shard), "%s", c->shard);
    snprintf(out->member, sizeof(out->member), "%s", c->member);
    out->number = c->number;
    pthread_mutex_lock(&c->lock);
    out->replica = c->role == ROLE_REPLICA;
    out->fenced = c->role == ROLE_FENCED;
    out->epoch = c->epoch;
    out->applied = c->applied;
    out->lag = c->lag;
    snprintf(out->primary, sizeof(out->primary), "%s", c->primary);
    snprintf(out->error, sizeof(out->error), "%s", c->error);
    pthread_mutex_unlock(&c->lock);
    if (!out->replica) /* the primary's store is its own: what it committed */
        out->applied = store_last(c);
}

bool sb_cluster_wait_applied(sb_cluster_t *c, uint64_t seq, unsigned wait_ms)
{
    if (c == NULL || sb_cluster_writable(c))
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

/* ---- cluster.show, cluster.promote, org placement -------------------------- */

static int pack_jstr_list(msgpack_packer *pk, const json_t *list)
{
    size_t n = json_is_array(list) ? json_array_size(list) : 0;
    int rc = msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_array_get(list, i));
        rc |= sb_pack_str(pk, v != NULL ? v : "");
    }
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of a table of the copy, sorted (a stable listing). NULL when
 * empty or out of memory (*n 0). [owned: free; the names: the table's] */
static const char **sorted_names(const json_t *table, size_t *n)
{
    *n = 0;
    size_t size = json_object_size(table);
    const char **names = size > 0 ? calloc(size, sizeof(*names)) : NULL;
    if (names == NULL)
        return NULL;
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)table, name, v)
    {
        if (*n < size)
            names[(*n)++] = name;
    }
    qsort(names, *n, sizeof(*names), cmp_names);
    return names;
}

int sb_cluster_show(sb_cluster_t *c, msgpack_packer *pk)
{
    int64_t now = wall_ms();
    pthread_mutex_lock(&c->lock);
    size_t n_shards = 0, n_members = 0;
    const char **shards = sorted_names(c->shards, &n_shards);
    const char **members = sorted_names(c->members, &n_members);
    int rc = msgpack_pack_map(pk, 3) | sb_pack_kv_str(pk, "member", c->member);
    rc |= sb_pack_str(pk, "shards") | msgpack_pack_array(pk, n_shards);
    for (size_t i = 0; i < n_shards; i++) {
        const char *name = shards[i];
        const json_t *v = json_object_get(c->shards, name);
        rc |= msgpack_pack_map(pk, 6) | sb_pack_kv_str(pk, "shard", name) |
              sb_pack_kv_uint(pk, "number", juint(v, "number")) |
              sb_pack_kv_uint(pk, "epoch", juint(v, "epoch")) |
              sb_pack_kv_str(pk, "primary", jstr(v, "primary")) | sb_pack_str(pk, "replicas") |
              pack_jstr_list(pk, json_object_get(v, "replicas")) |
              sb_pack_kv_uint(pk, "orgs",
                              (uint64_t)json_integer_value(json_object_get(c->org_counts, name)));
    }
    rc |= sb_pack_str(pk, "members") | msgpack_pack_array(pk, n_members);
    for (size_t i = 0; i < n_members; i++) {
        const char *name = members[i];
        const json_t *v = json_object_get(c->members, name);
        uint64_t updated = juint(v, "updated_ms");
        rc |= msgpack_pack_map(pk, 8) | sb_pack_kv_str(pk, "member", name) |
              sb_pack_kv_str(pk, "shard", jstr(v, "shard")) |
              sb_pack_kv_str(pk, "role", jstr(v, "role")) |
              sb_pack_kv_uint(pk, "epoch", juint(v, "epoch")) |
              sb_pack_kv_uint(pk, "applied", juint(v, "applied")) |
              sb_pack_kv_str(pk, "socket", jstr(v, "socket")) |
              sb_pack_kv_str(pk, "error", jstr(v, "error")) |
              sb_pack_kv_uint(pk, "age_ms",
                              updated > 0 && (int64_t)updated < now ? (uint64_t)now - updated : 0);
    }
    pthread_mutex_unlock(&c->lock);
    free(shards);
    free(members);
    return rc;
}

int sb_cluster_promote(sb_cluster_t *c, const char *shard, const char *member,
                       sb_cluster_promoted_t *out, sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (shard == NULL || !name_ok(shard, SB_SHARD_MAX))
        return sb_err_set(err, -EINVAL, "The shard name is not 1 to %d letters, digits, '-', '_'.",
                          SB_SHARD_MAX);
    if (member == NULL || !name_ok(member, SB_MEMBER_MAX))
        return sb_err_set(err, -EINVAL, "The member name is not 1 to %d letters, digits, '-', '_'.",
                          SB_MEMBER_MAX);
    char shard_key[SB_SHARD_MAX + 8], member_key[SB_MEMBER_MAX + 8];
    snprintf(shard_key, sizeof(shard_key), "shard.%s", shard);
    snprintf(member_key, sizeof(member_key), "member.%s", member);
    json_t *sv = NULL, *mv = NULL;
    uint64_t rev = 0, mrev = 0;
    int rc = kv_get(c->kv, shard_key, &sv, &rev, err);
    if (rc == 0 && sv == NULL)
        rc = sb_err_set(err, -ENOENT,
                        "The cluster has no shard %s (sbctl cluster show lists them).", shard);
    if (rc == 0 && strcmp(jstr(sv, "primary"), member) == 0)
        rc = sb_err_set(err, SB_E_PROMOTE_REFUSED,
                        "%s is shard %s's primary already (epoch %" PRIu64 ").", member, shard,
                        juint(sv, "epoch"));
    if (rc == 0 && !jlist_has(json_object_get(sv, "replicas"), member))
        rc = sb_err_set(err, SB_E_PROMOTE_REFUSED, "%s is not a replica of shard %s.", member,
                        shard);
    if (rc == 0)
        rc = kv_get(c->kv, member_key, &mv, &mrev, err);
    if (rc == 0 && mv == NULL)
        rc = sb_err_set(err, SB_E_PROMOTE_REFUSED,
                        "%s never reported itself (no %s): it is not running.", member, member_key);
    int64_t age = mv != NULL ? wall_ms() - (int64_t)juint(mv, "updated_ms") : 0;
    if (rc == 0 &&
        (strcmp(jstr(mv, "shard"), shard) != 0 || strcmp(jstr(mv, "role"), "replica") != 0))
        rc = sb_err_set(err, SB_E_PROMOTE_REFUSED,
                        "%s is not a replica of shard %s (it says: %s of %s).", member, shard,
                        jstr(mv, "role"), jstr(mv, "shard"));
    if (rc == 0 && jstr(mv, "error")[0] != '\0')
        rc = sb_err_set(err, SB_E_PROMOTE_REFUSED, "%s stopped following its stream: %s.", member,
                        jstr(mv, "error"));
    if (rc == 0 && age > SB_PROMOTE_FRESH_MS)
        rc = sb_err_set(err, SB_E_PROMOTE_REFUSED,
                        "%s last reported %" PRId64 " ms ago (more than %d ms): it is not running "
                        "or cannot reach NATS.",
                        member, age, SB_PROMOTE_FRESH_MS);
    if (rc == 0) {
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        char stream[SB_SHARD_MAX + 4];
        snprintf(stream, sizeof(stream), "SB_%s", shard);
        natsStatus s = js_GetStreamInfo(&si, c->js, stream, NULL, &jerr);
        if (s != NATS_OK) {
            rc = sb_err_set(err, SB_E_CLUSTER_UNAVAILABLE, "The stream %s cannot be read: %s.",
                            stream, natsStatus_GetText(s));
        } else {
            uint64_t last = si->State.LastSeq, applied = juint(mv, "applied");
            jsStreamInfo_Destroy(si);
            if (applied + SB_PROMOTE_MAX_BEHIND < last)
                rc = sb_err_set(err, SB_E_PROMOTE_REFUSED,
                                "%s is at change %" PRIu64 " but the stream %s holds %" PRIu64
                                " (more than %d behind): wait until it catches up.",
                                member, applied, stream, last, SB_PROMOTE_MAX_BEHIND);
        }
    }
    if (rc == 0) {
        /* The new placement: the next epoch, the member primary, the old
         * primary a replica (when it comes back it follows). */
        uint64_t epoch = juint(sv, "epoch") + 1;
        snprintf(out->old_primary, sizeof(out->old_primary), "%s", jstr(sv, "primary"));
        json_t *replicas = json_array();
        json_t *old = json_object_get(sv, "replicas");
        size_t i;
        json_t *r;
        json_array_foreach(old, i, r)
        {
            const char *name = json_string_value(r);
            if (name != NULL && strcmp(name, member) != 0)
                json_array_append(replicas, r);
        }
        if (out->old_primary[0] != '\0' && !jlist_has(replicas, out->old_primary))
            json_array_append_new(replicas, json_string(out->old_primary));
        json_object_set_new(sv, "replicas", replicas);
        json_object_set_new(sv, "primary", json_string(member));
        json_object_set_new(sv, "epoch", json_integer((json_int_t)epoch));
        rc = kv_set(c->kv, shard_key, sv, rev, NULL, err);
        if (rc == 0) {
            out->epoch = epoch;
            sb_info("cluster: promoted %s to shard %s's primary at epoch %" PRIu64
                    " (%s is a replica now)",
                    member, shard, epoch, out->old_primary);
        }
    }
    json_decref(sv);
    json_decref(mv);
    return rc;
}

int sb_cluster_org_claim(sb_cluster_t *c, const char *org, sb_err_t *err)
{
    if (c == NULL)
        return 0;
    if (!sb_cluster_writable(c))
        return sb_err_set(err, SB_E_NOT_PRIMARY,
                          "This server is not its shard's primary: create the org on the "
                          "primary of the shard that is to hold it.");
    char key[SB_ORG_ID_MAX + 8];
    if (org == NULL || strlen(org) > SB_ORG_ID_MAX)
        return 0; /* the store refuses it, with its own sentence */
    snprintf(key, sizeof(key), "org.%s", org);
    json_t *v = json_pack("{ss ss}", "shard", c->shard, "state", "serving");
    if (v == NULL)
        return sb_err_default(err, -ENOMEM);
    int rc = kv_set(c->kv, key, v, 0, NULL, err);
    json_decref(v);
    if (rc != SB_E_PLACEMENT_CHANGED)
        return rc;
    /* Taken: by this shard (an attempt whose write failed, or the org
     * exists here and the store says so), or by another. */
    uint64_t rev = 0;
    rc = kv_get(c->kv, key, &v, &rev, err);
    if (rc != 0)
        return rc;
    bool ours = v == NULL || strcmp(jstr(v, "shard"), c->shard) == 0;
    json_decref(v);
    if (ours)
        return 0;
    return sb_err_set(err, -EEXIST, "The org '%s' already exists.", org);
}

void sb_cluster_org_settle(sb_cluster_t *c, const char *org)
{
    if (c == NULL || org == NULL || strlen(org) > SB_ORG_ID_MAX)
        return;
    pthread_mutex_lock(&c->lock);
    if (c->n_settle < SETTLE_MAX)
        snprintf(c->settle[c->n_settle++], sizeof(c->settle[0]), "%s", org);
    else
        sb_warn("cluster: too many orgs to settle at once; org.%s is left as it is", org);
    pthread_mutex_unlock(&c->lock);
}
