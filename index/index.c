/*
 * libswitchboard-index (abi/switchboard/index.h): the softphone check on a
 * server's data directory, read-only, in the caller's process.
 *
 * It reads what the server's sb_store_softphone_check reads, in the same
 * order (server/store/view.c): the membership (user_cc: Call Center id and
 * profile), then the view of that pair (views: softphone_view.h), and for
 * non-members the users and orgs tables to tell the reasons apart. The
 * view's bytes are copied into the answer, so that the read transaction
 * ends with the check and the answer outlives it.
 *
 * Hot path: a transaction renew and reset (reader-table writes in shared
 * memory, no system call), two B-tree look-ups, one copy. Nothing is
 * allocated. A shared rwlock guards the map against adoption of a grown map
 * by another thread; uncontended, it is two atomic operations.
 */
#include "switchboard/index.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callcenter.h"
#include "sfid.h"
#include "softphone_view.h"

#define SB_INDEX_API __attribute__((visibility("default")))

/* The answer's reason codes are the server's: one table of names. */
_Static_assert((int)SB_INDEX_ADAPTER_REFUSED == (int)SB_SOFTPHONE_ADAPTER_REFUSED,
               "sb_index_reason follows sb_softphone_reason_t");
_Static_assert(SB_INDEX_SCHEMA_VERSION == 2, "the view and membership layout read here");

struct sb_index {
    MDB_env *env;
    MDB_dbi orgs, users, user_cc, views;
    /* Checks hold it shared; adopting a map the server grew holds it
     * exclusively (mdb_env_set_mapsize remaps, so no read may be running). */
    pthread_rwlock_t remap;
    _Atomic uint64_t remaps; /* how many times the map moved: cached pointers die with it */
};

/*
 * The views a reader found in the current snapshot. Members of one Call
 * Center with one profile share a view, and an org has few: while no write
 * commits (the snapshot's transaction id stays the same) and the map does
 * not move, a view found once is where it was, in pages the snapshot pins,
 * so the second look-up of a check becomes a probe here. Any commit or
 * remap starts a new epoch, which empties the cache at once.
 */
#define VIEW_CACHE_SLOTS 1024 /* a power of two */
#define VIEW_CACHE_KEY_MAX 120

typedef struct cached_view {
    uint64_t epoch; /* valid when the reader's epoch */
    uint32_t key_len;
    const void *data;
    size_t len;
    char key[VIEW_CACHE_KEY_MAX];
} cached_view_t;

struct sb_index_reader {
    sb_index *index;
    MDB_txn *txn;         /* reset between checks: it pins no pages while idle */
    size_t snapshot;      /* the transaction id the cache was filled in */
    uint64_t remaps;      /* the index's remap count then */
    uint64_t epoch;       /* of the cache; 0 is never valid */
    cached_view_t *cache; /* VIEW_CACHE_SLOTS */
};

__attribute__((format(printf, 3, 4))) static void say(char *why, size_t cap, const char *fmt, ...)
{
    if (why == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): a false positive, see core/error.c
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

/* Reads the schema version and opens the four tables the check reads. */
static int open_tables(sb_index *index, const char *dir, char *why, size_t cap)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(index->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        say(why, cap, "Cannot read %s: %s.", dir, mdb_strerror(rc));
        return SB_INDEX_EOPEN;
    }
    MDB_dbi meta;
    MDB_val k = {strlen("schema_version"), "schema_version"}, v;
    rc = mdb_dbi_open(txn, "meta", 0, &meta);
    if (rc == 0)
        rc = mdb_get(txn, meta, &k, &v);
    if (rc != 0) {
        mdb_txn_abort(txn);
        say(why, cap,
            "%s is an LMDB environment but not a Switchboard index (%s): give the directory "
            "switchboardd runs with (--data-dir).",
            dir, mdb_strerror(rc));
        return SB_INDEX_EOPEN;
    }
    uint32_t version = 0;
    if (v.mv_size == sizeof(version))
        memcpy(&version, v.mv_data, sizeof(version));
    if (version != SB_INDEX_SCHEMA_VERSION) {
        mdb_txn_abort(txn);
        say(why, cap,
            "%s holds an index of schema version %u; this library reads version %d only: use "
            "the libswitchboard-index of the same release as the server.",
            dir, version, SB_INDEX_SCHEMA_VERSION);
        return SB_INDEX_ESCHEMA;
    }
    const struct {
        const char *name;
        MDB_dbi *dbi;
    } tables[] = {{"orgs", &index->orgs},
                  {"users", &index->users},
                  {"user_cc", &index->user_cc},
                  {"views", &index->views}};
    for (size_t i = 0; rc == 0 && i < sizeof(tables) / sizeof(tables[0]); i++)
        rc = mdb_dbi_open(txn, tables[i].name, 0, tables[i].dbi);
    if (rc == 0)
        rc = mdb_txn_commit(txn); /* makes the handles the environment's */
    else
        mdb_txn_abort(txn);
    if (rc != 0) {
        say(why, cap, "%s is missing a table of the index (%s): restore from a backup.", dir,
            mdb_strerror(rc));
        return SB_INDEX_ECORRUPT;
    }
    return 0;
}

SB_INDEX_API int sb_index_open(const char *dir, sb_index **out, char *why, size_t why_len)
{
    *out = NULL;
    if (dir == NULL) {
        say(why, why_len, "No data directory was given.");
        return SB_INDEX_EARG;
    }
    sb_index *index = calloc(1, sizeof(*index));
    if (index == NULL) {
        say(why, why_len, "Out of memory opening %s.", dir);
        return SB_INDEX_ENOMEM;
    }
    pthread_rwlock_init(&index->remap, NULL);
    /* MDB_RDONLY: this process never writes. MDB_NOTLS: a reader's cached
     * transaction belongs to the reader, not to a thread. MDB_NORDAHEAD:
     * look-ups are random, as in the server. */
    int rc = mdb_env_create(&index->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(index->env, 24);
    if (rc == 0)
        rc = mdb_env_open(index->env, dir, MDB_RDONLY | MDB_NOTLS | MDB_NORDAHEAD, 0);
    if (rc != 0) {
        if (rc == ENOENT)
            say(why, why_len,
                "No Switchboard index in %s (%s): give the directory switchboardd runs with "
                "(--data-dir), once the server has started there.",
                dir, mdb_strerror(rc));
        else if (rc == EACCES)
            say(why, why_len,
                "Cannot open the index in %s (%s): this user needs read access to data.mdb and "
                "write access to lock.mdb.",
                dir, mdb_strerror(rc));
        else
            say(why, why_len, "Cannot open the index in %s: %s.", dir, mdb_strerror(rc));
        sb_index_close(index);
        return SB_INDEX_EOPEN;
    }
    int dead = 0;
    mdb_reader_check(index->env, &dead); /* slots of reader processes that died */
    rc = open_tables(index, dir, why, why_len);
    if (rc != 0) {
        sb_index_close(index);
        return rc;
    }
    *out = index;
    return 0;
}

SB_INDEX_API void sb_index_close(sb_index *index)
{
    if (index == NULL)
        return;
    if (index->env != NULL)
        mdb_env_close(index->env);
    pthread_rwlock_destroy(&index->remap);
    free(index);
}

/* The server grew the map past ours: take its size. No read of this process
 * may run meanwhile, hence the exclusive lock. */
static int adopt_grown_map(sb_index *index)
{
    pthread_rwlock_wrlock(&index->remap);
    int rc = mdb_env_set_mapsize(index->env, 0);
    atomic_fetch_add(&index->remaps, 1);
    pthread_rwlock_unlock(&index->remap);
    return rc;
}

SB_INDEX_API int sb_index_reader_open(sb_index *index, sb_index_reader **out)
{
    *out = NULL;
    sb_index_reader *reader = calloc(1, sizeof(*reader));
    if (reader == NULL)
        return SB_INDEX_ENOMEM;
    reader->index = index;
    reader->cache = calloc(VIEW_CACHE_SLOTS, sizeof(*reader->cache));
    if (reader->cache == NULL) {
        free(reader);
        return SB_INDEX_ENOMEM;
    }
    int rc = MDB_MAP_RESIZED;
    for (int tries = 0; tries < 3 && rc != 0; tries++) {
        pthread_rwlock_rdlock(&index->remap);
        rc = mdb_txn_begin(index->env, NULL, MDB_RDONLY, &reader->txn);
        if (rc == 0)
            mdb_txn_reset(reader->txn);
        pthread_rwlock_unlock(&index->remap);
        if (rc == MDB_MAP_RESIZED)
            adopt_grown_map(index);
        else if (rc == MDB_READERS_FULL)
            mdb_reader_check(index->env, NULL);
        else if (rc != 0)
            break;
    }
    if (rc != 0) {
        free(reader->cache);
        free(reader);
        return rc == MDB_READERS_FULL ? SB_INDEX_EREADERS
               : rc == ENOMEM         ? SB_INDEX_ENOMEM
                                      : SB_INDEX_ECORRUPT;
    }
    *out = reader;
    return 0;
}

SB_INDEX_API void sb_index_reader_close(sb_index_reader *reader)
{
    if (reader == NULL)
        return;
    mdb_txn_abort(reader->txn);
    free(reader->cache);
    free(reader);
}

/* Starts a check or batch: the newest committed snapshot, with the remap
 * lock held shared until finish(). */
static int begin(sb_index_reader *reader)
{
    sb_index *index = reader->index;
    for (int tries = 0; tries < 3; tries++) {
        pthread_rwlock_rdlock(&index->remap);
        int rc = mdb_txn_renew(reader->txn);
        if (rc == 0) {
            size_t snapshot = mdb_txn_id(reader->txn);
            uint64_t remaps = atomic_load(&index->remaps);
            if (snapshot != reader->snapshot || remaps != reader->remaps || reader->epoch == 0) {
                reader->snapshot = snapshot;
                reader->remaps = remaps;
                reader->epoch++; /* a new snapshot: what the cache holds is gone */
            }
            return 0;
        }
        pthread_rwlock_unlock(&index->remap);
        if (rc == MDB_MAP_RESIZED) {
            if (adopt_grown_map(index) != 0)
                return SB_INDEX_ECORRUPT;
        } else if (rc == MDB_READERS_FULL) {
            return SB_INDEX_EREADERS; /* the slot is the reader's own: never */
        } else {
            return SB_INDEX_ECORRUPT;
        }
    }
    return SB_INDEX_ECORRUPT;
}

static void finish(sb_index_reader *reader)
{
    mdb_txn_reset(reader->txn);
    pthread_rwlock_unlock(&reader->index->remap);
}

/* Clears what a previous use of the answer left, without touching record[]. */
static void answer_reset(sb_index_answer *a, sb_index_reason reason)
{
    a->softphone = 0;
    a->reason = reason;
    a->reason_name = sb_softphone_reason_name((sb_softphone_reason_t)reason);
    a->profile[0] = '\0';
    a->callcenter_id = a->internal_name = a->display_name = a->adapter = "";
    a->adapter_url[0] = '\0';
    a->softphone_height = a->softphone_width = 0;
    a->compatibility_mode = "";
    a->layout_name = "";
    a->layout_source = "";
    a->layout = NULL;
    a->layout_len = 0;
    a->detail = "";
    a->record_len = 0;
}

/* The view at `key`: from the cache when this snapshot already found it. */
static int find_view(sb_index_reader *reader, const MDB_val *key, MDB_val *out)
{
    uint64_t hash = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < key->mv_size; i++)
        hash = (hash ^ ((const unsigned char *)key->mv_data)[i]) * 1099511628211ULL;
    cached_view_t *slot = &reader->cache[hash & (VIEW_CACHE_SLOTS - 1)];
    if (slot->epoch == reader->epoch && slot->key_len == key->mv_size &&
        memcmp(slot->key, key->mv_data, key->mv_size) == 0) {
        out->mv_data = (void *)slot->data;
        out->mv_size = slot->len;
        return 0;
    }
    MDB_val k = *key;
    int rc = mdb_get(reader->txn, reader->index->views, &k, out);
    if (rc == 0 && key->mv_size <= VIEW_CACHE_KEY_MAX) {
        slot->epoch = reader->epoch;
        slot->key_len = (uint32_t)key->mv_size;
        memcpy(slot->key, key->mv_data, key->mv_size);
        slot->data = out->mv_data;
        slot->len = out->mv_size;
    }
    return rc;
}

/* A member's answer: the view of (Call Center, profile), copied in. */
static int member_answer(sb_index_reader *reader, const char *org, const MDB_val *member,
                         sb_index_answer *a)
{
    if (member->mv_size < SB_SFID_LEN || member->mv_size - SB_SFID_LEN >= sizeof(a->profile))
        return SB_INDEX_ECORRUPT;
    size_t profile_len = member->mv_size - SB_SFID_LEN;
    memcpy(a->profile, (const char *)member->mv_data + SB_SFID_LEN, profile_len);
    a->profile[profile_len] = '\0';
    char cc[SB_SFID_LEN + 1];
    memcpy(cc, member->mv_data, SB_SFID_LEN);
    cc[SB_SFID_LEN] = '\0';
    char key[SB_ORG_ID_MAX + 1 + SB_SFID_LEN + 1 + sizeof(a->profile)];
    MDB_val k = {sb_softphone_view_key(key, sizeof(key), org, cc, a->profile), key}, v;
    if (k.mv_size == 0) /* does not fit: never, with the org checked and the profile bounded */
        return SB_INDEX_EARG;
    int rc = find_view(reader, &k, &v);
    if (rc != 0)
        return SB_INDEX_ECORRUPT; /* the server writes it with the membership */
    if (v.mv_size > sizeof(a->record))
        return SB_INDEX_ETOOBIG;
    memcpy(a->record, v.mv_data, v.mv_size);
    a->record_len = v.mv_size;
    sb_softphone_view_t view;
    if (sb_softphone_view_decode(a->record, v.mv_size, &view) != 0 ||
        view.mode > SB_CC_COMPAT_CLASSIC_AND_LIGHTNING || view.layout_source > SB_LAYOUT_NONE ||
        view.reason >= SB_SOFTPHONE_REASONS)
        return SB_INDEX_ECORRUPT;
    a->reason = (sb_index_reason)view.reason;
    a->reason_name = sb_softphone_reason_name(view.reason);
    a->softphone = view.reason == SB_SOFTPHONE_OK;
    a->callcenter_id = view.cc_id;
    a->internal_name = view.internal_name;
    a->display_name = view.display_name;
    a->adapter = view.adapter;
    if (sb_softphone_url_for(view.adapter_url, a->user, a->adapter_url, sizeof(a->adapter_url)) !=
        0)
        a->adapter_url[0] = '\0'; /* as the server does */
    a->softphone_height = view.height;
    a->softphone_width = view.width;
    a->compatibility_mode = sb_cc_compat_mode_name((sb_cc_compat_mode_t)view.mode);
    a->layout_name = view.layout_name;
    a->layout_source = sb_layout_source_name(view.layout_source);
    a->layout = view.layout;
    a->layout_len = view.layout ? view.layout_len : 0;
    a->detail = view.detail;
    return 0;
}

/* One user, inside a renewed transaction. */
static int check_one(sb_index_reader *reader, const char *org, size_t org_len, const char *user,
                     sb_index_answer *a)
{
    sb_sfid_t id;
    if (user == NULL || sb_sfid_normalize(user, SB_SFID_PREFIX_USER, "user id", &id, NULL) != 0) {
        answer_reset(a, SB_INDEX_INVALID_USER_ID);
        snprintf(a->user, sizeof(a->user), "%s", user ? user : ""); /* as given, as the server */
        return 0;
    }
    answer_reset(a, SB_INDEX_OK);
    memcpy(a->user, id.s, sizeof(a->user));
    char key[SB_ORG_ID_MAX + 1 + SB_SFID_LEN];
    if (org_len > SB_ORG_ID_MAX) /* checked by the caller too; the copy is checked here */
        return SB_INDEX_EARG;
    memcpy(key, org, org_len);
    key[org_len] = '\0';
    memcpy(key + org_len + 1, id.s, SB_SFID_LEN);
    MDB_val k = {org_len + 1 + SB_SFID_LEN, key}, v;
    sb_index *index = reader->index;
    int rc = mdb_get(reader->txn, index->user_cc, &k, &v);
    if (rc == 0)
        return member_answer(reader, org, &v, a);
    if (rc != MDB_NOTFOUND)
        return SB_INDEX_ECORRUPT;
    /* Not a member: a known user, an unknown one, or an org that is not there. */
    rc = mdb_get(reader->txn, index->users, &k, &v);
    if (rc == 0) {
        answer_reset(a, SB_INDEX_NOT_A_MEMBER);
        return 0;
    }
    MDB_val ok = {org_len, (void *)org};
    if (rc == MDB_NOTFOUND)
        rc = mdb_get(reader->txn, index->orgs, &ok, &v);
    if (rc == 0) {
        answer_reset(a, SB_INDEX_UNKNOWN_USER);
        return 0;
    }
    return rc == MDB_NOTFOUND ? SB_INDEX_ENOORG : SB_INDEX_ECORRUPT;
}

SB_INDEX_API int sb_index_check_batch(sb_index_reader *reader, const char *org,
                                      const char *const *users, size_t n, sb_index_answer *answers)
{
    if (reader == NULL || org == NULL || (n > 0 && (users == NULL || answers == NULL)))
        return SB_INDEX_EARG;
    if (sb_org_id_check(org, NULL) != 0)
        return SB_INDEX_EARG;
    size_t org_len = strlen(org);
    int rc = begin(reader);
    if (rc != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_one(reader, org, org_len, users[i], &answers[i]);
    finish(reader);
    return rc;
}

SB_INDEX_API int sb_index_check(sb_index_reader *reader, const char *org, const char *user,
                                sb_index_answer *answer)
{
    return sb_index_check_batch(reader, org, &user, 1, answer);
}

SB_INDEX_API void sb_index_explain(const sb_index_answer *a, const char *org, char *buf, size_t cap)
{
    sb_softphone_view_t view;
    bool has_view =
        a->record_len > 0 && sb_softphone_view_decode(a->record, a->record_len, &view) == 0;
    sb_softphone_explain((sb_softphone_reason_t)a->reason, has_view ? &view : NULL, org, a->user,
                         a->profile, buf, cap);
}

SB_INDEX_API const char *sb_index_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "Success.";
    case SB_INDEX_ENOORG:
        return "The org does not exist in this index.";
    case SB_INDEX_ESCHEMA:
        return "The index's schema version is not one this library reads: use the library of "
               "the server's release.";
    case SB_INDEX_EOPEN:
        return "The index cannot be opened.";
    case SB_INDEX_ECORRUPT:
        return "A record of the index is unreadable: restore the data directory from a backup.";
    case SB_INDEX_EREADERS:
        return "Every reader slot of the index is taken: close readers, or raise the limit.";
    case SB_INDEX_EARG:
        return "A required argument is missing, or the org id is not one an org can have.";
    case SB_INDEX_ENOMEM:
        return "Out of memory.";
    case SB_INDEX_ETOOBIG:
        return "A record is larger than an answer holds.";
    default:
        return "Unknown error.";
    }
}
