/*
 * libswitchboard-index (abi/switchboard/index.h): the softphone check on a
 * server's data directory, read-only, in the caller's process.
 *
 * The check itself is the server's: sb_softphone_check_txn
 * (store/softphone_check.c), linked in statically, decides which reason a
 * user gets and reads the tables in the server's order. This file keeps
 * what belongs to a reader in another process: its own read-only
 * environment and table handles, the schema check at open, a read
 * transaction per reader renewed for each check or batch, adoption of a map
 * the server grew, and a cache of the views a snapshot found. The view's
 * bytes are copied into the answer, so that the read transaction ends with
 * the check and the answer outlives it.
 *
 * Hot path: a transaction renew and reset (reader-table writes in shared
 * memory, no system call), two B-tree look-ups (the second usually a probe
 * of the cache), one copy. Nothing is allocated. A shared rwlock guards the
 * map against adoption of a grown map by another thread; uncontended, it is
 * two atomic operations.
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
#include "datafile.h"
#include "sfid.h"
#include "softphone_check.h"
#include "softphone_view.h"
#include "store.h"
#include "store_internal.h"

#define SB_INDEX_API __attribute__((visibility("default")))

/* The answer's reason codes are the server's: one table of names. */
_Static_assert((int)SB_INDEX_NO_SCV_LICENCE == (int)SB_SOFTPHONE_NO_SCV_LICENCE &&
                   (int)SB_INDEX_NO_SCV_LICENCE + 1 == (int)SB_SOFTPHONE_REASONS,
               "sb_index_reason follows sb_softphone_reason_t");
_Static_assert(SB_INDEX_SCHEMA_VERSION == SB_STORE_SCHEMA_VERSION,
               "the library reads the schema the store writes");
/* The check writes into the answer's own arrays. */
_Static_assert(sizeof(((sb_index_answer *)0)->user) == SB_SFID_LEN + 1, "user");
_Static_assert(sizeof(((sb_index_answer *)0)->profile) == SB_PROFILE_NAME_MAX + 1, "profile");
_Static_assert(sizeof(((sb_index_answer *)0)->adapter_url) == SB_VIEW_URL_MAX, "adapter_url");

struct sb_index {
    MDB_env *env;
    MDB_dbi orgs, users, user_cc, views, org_ids;
    /* Checks hold it shared; adopting a map the server grew holds it
     * exclusively (mdb_env_set_mapsize remaps, so no read may be running). */
    pthread_rwlock_t remap;
    _Atomic uint64_t remaps;  /* how many times the map moved: cached pointers die with it */
    sb_value_env_t value_env; /* the tables' names, the page size: the environment's user context */
};

/*
 * The views a reader found in the current snapshot. Members of one Call
 * Center with one profile share a view, and an org has few: while no write
 * commits (the snapshot's transaction id stays the same) and the map does
 * not move, a view found once is where it was, in pages the snapshot pins,
 * so the second look-up of a check becomes a probe here. Any commit or
 * remap starts a new epoch, which empties the cache at once.
 */
#define VIEW_CACHE_BITS 10
#define VIEW_CACHE_SLOTS (1u << VIEW_CACHE_BITS)
#define VIEW_CACHE_KEY_MAX 120

typedef struct cached_view {
    uint64_t epoch; /* valid when the reader's epoch */
    uint32_t key_len;
    const void *data;
    size_t len;
    char key[VIEW_CACHE_KEY_MAX];
} cached_view_t;

/*
 * The org numbers a reader found in the current snapshot (the first step of
 * every check, a B-tree look-up of some 1,800 instructions otherwise), by
 * the same epoch as the views: a number does not change while its org
 * exists, and a new snapshot empties the cache.
 */
#define ORG_CACHE_SLOTS 256u

typedef struct cached_org {
    uint64_t epoch; /* valid when the reader's epoch */
    uint32_t num;
    uint8_t len;
    char org[SB_ORG_ID_MAX];
} cached_org_t;

struct sb_index_reader {
    sb_index *index;
    MDB_txn *txn;                 /* reset between checks: it pins no pages while idle */
    sb_softphone_tables_t tables; /* the index's handles, and this reader's cache */
    size_t snapshot;              /* the transaction id the cache was filled in */
    uint64_t remaps;              /* the index's remap count then */
    uint64_t epoch;               /* of the cache; 0 is never valid */
    cached_view_t *cache;         /* VIEW_CACHE_SLOTS */
    cached_org_t *orgs;           /* ORG_CACHE_SLOTS */
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

/* Reads the schema version and opens the five tables the check reads. */
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
                  {"views", &index->views},
                  {"org_ids", &index->org_ids}};
    unsigned stored = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(tables) / sizeof(tables[0]); i++) {
        rc = mdb_dbi_open(txn, tables[i].name, 0, tables[i].dbi);
        /* As the server checks them: flags damaged would change the order. */
        if (rc == 0 && mdb_dbi_flags(txn, *tables[i].dbi, &stored) == 0 && stored != 0)
            rc = MDB_INCOMPATIBLE;
    }
    for (size_t i = 0; rc == 0 && i < sizeof(tables) / sizeof(tables[0]); i++)
        if (*tables[i].dbi < SB_DBI_SLOTS)
            index->value_env.names[*tables[i].dbi] = tables[i].name;
    MDB_stat est;
    index->value_env.psize = mdb_env_stat(index->env, &est) == 0 ? est.ms_psize : 4096;
    mdb_env_set_userctx(index->env, &index->value_env); /* see value.c */
    if (rc == 0)
        rc = mdb_txn_commit(txn); /* makes the handles the environment's */
    else
        mdb_txn_abort(txn);
    if (rc != 0) {
        say(why, cap,
            "%s is missing a table of the index (%s): restore a backup (sbstore restore).", dir,
            mdb_strerror(rc));
        return SB_INDEX_ECORRUPT;
    }
    sb__value_env_locate(index->env);
    /* The server's walk of every page, in a snapshot this reader pins, so
     * that the server's commits meanwhile change none of its pages. */
    rc = mdb_txn_begin(index->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        say(why, cap, "Cannot read %s: %s.", dir, mdb_strerror(rc));
        return SB_INDEX_EOPEN;
    }
    rc = sb__data_file_walk(dir, mdb_txn_id(txn), why, cap);
    mdb_txn_abort(txn);
    if (rc != 0)
        return rc == SB_E_CORRUPT ? SB_INDEX_ECORRUPT : SB_INDEX_EOPEN;
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
    /* The server's checks of its data file, before it is mapped: a
     * truncated file is refused, never a SIGBUS in the caller's process. */
    bool fresh;
    int checked = sb__data_file_check(dir, &fresh, why, why_len);
    if (checked != 0) {
        sb_index_close(index);
        return checked == SB_E_CORRUPT ? SB_INDEX_ECORRUPT : SB_INDEX_EOPEN;
    }
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

/*
 * The slot of a view's key. Eight bytes at a time, each folded in with a
 * multiply and a shift, then a final mix whose top bits pick the slot: a
 * key is some 40 bytes (org, Call Center id, profile), and a byte at a time
 * (FNV-1a, as before) cost more than the rest of the probe.
 */
static size_t cache_slot(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = len * 0x9e3779b97f4a7c15ULL, w;
    for (; len >= sizeof(w); p += sizeof(w), len -= sizeof(w)) {
        memcpy(&w, p, sizeof(w));
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    w = 0;
    for (size_t i = 0; i < len; i++)
        w |= (uint64_t)p[i] << (8 * i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    return (size_t)(h >> (64 - VIEW_CACHE_BITS));
}

/*
 * The check's look-up of a view (sb_softphone_view_get_fn): from the cache
 * when this snapshot already found it. The epoch is the reader's, set by
 * begin() for the snapshot the check runs in.
 */
static int find_view(void *ctx, MDB_txn *txn, MDB_dbi views, const MDB_val *key, MDB_val *out)
{
    sb_index_reader *reader = ctx;
    cached_view_t *slot = &reader->cache[cache_slot(key->mv_data, key->mv_size)];
    if (slot->epoch == reader->epoch && slot->key_len == key->mv_size &&
        memcmp(slot->key, key->mv_data, key->mv_size) == 0) {
        out->mv_data = (void *)slot->data;
        out->mv_size = slot->len;
        return 0;
    }
    /* Its checksum is checked here, once per snapshot, as it enters the
     * cache: a hit serves the bytes already checked. */
    int rc = sb__value_get(txn, views, key, out);
    if (rc == 0 && key->mv_size <= VIEW_CACHE_KEY_MAX) {
        slot->epoch = reader->epoch;
        slot->key_len = (uint32_t)key->mv_size;
        memcpy(slot->key, key->mv_data, key->mv_size);
        slot->data = out->mv_data;
        slot->len = out->mv_size;
    }
    return rc;
}

/* The check's look-up of an org's number (sb_softphone_org_num_fn): from
 * the cache when this snapshot already found it. */
static int find_org_num(void *ctx, MDB_txn *txn, MDB_dbi org_ids, const char *org, size_t len,
                        uint32_t *num)
{
    sb_index_reader *reader = ctx;
    if (len == 0 || len > SB_ORG_ID_MAX) /* checked by the caller; the copy is checked here */
        return sb_org_num_find(txn, org_ids, org, len, num, reader->tables.cursors[3]);
    cached_org_t *slot = &reader->orgs[cache_slot(org, len) % ORG_CACHE_SLOTS];
    if (slot->epoch == reader->epoch && slot->len == len && memcmp(slot->org, org, len) == 0) {
        *num = slot->num;
        return 0;
    }
    int rc = sb_org_num_find(txn, org_ids, org, len, num, reader->tables.cursors[3]);
    if (rc == 0) {
        slot->epoch = reader->epoch;
        slot->num = *num;
        slot->len = (uint8_t)len;
        memcpy(slot->org, org, len);
    }
    return rc;
}

/* The server grew the map past ours: take its size. No read of this process
 * may run meanwhile, hence the exclusive lock. */
static int adopt_grown_map(sb_index *index)
{
    pthread_rwlock_wrlock(&index->remap);
    int rc = mdb_env_set_mapsize(index->env, 0);
    sb__value_env_locate(index->env);
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
    reader->tables = (sb_softphone_tables_t){.orgs = index->orgs,
                                             .users = index->users,
                                             .user_cc = index->user_cc,
                                             .views = index->views,
                                             .org_ids = index->org_ids,
                                             .get_view = find_view,
                                             .get_view_ctx = reader,
                                             .get_org_num = find_org_num,
                                             .get_org_num_ctx = reader};
    reader->cache = calloc(VIEW_CACHE_SLOTS, sizeof(*reader->cache));
    reader->orgs = calloc(ORG_CACHE_SLOTS, sizeof(*reader->orgs));
    if (reader->cache == NULL || reader->orgs == NULL) {
        free(reader->cache);
        free(reader->orgs);
        free(reader);
        return SB_INDEX_ENOMEM;
    }
    int rc = MDB_MAP_RESIZED;
    for (int tries = 0; tries < 3 && rc != 0; tries++) {
        pthread_rwlock_rdlock(&index->remap);
        rc = mdb_txn_begin(index->env, NULL, MDB_RDONLY, &reader->txn);
        /* The cursors a look-up that finds nothing uses to check the
         * records beside it (value.c): opened once, renewed in each check's
         * transaction, so that no check allocates. */
        const MDB_dbi dbis[SB_SOFTPHONE_CURSORS] = {index->orgs, index->users, index->user_cc,
                                                    index->org_ids};
        for (size_t i = 0; rc == 0 && i < SB_SOFTPHONE_CURSORS; i++)
            rc = mdb_cursor_open(reader->txn, dbis[i], &reader->tables.cursors[i]);
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
        for (size_t i = 0; i < SB_SOFTPHONE_CURSORS; i++)
            if (reader->tables.cursors[i] != NULL)
                mdb_cursor_close(reader->tables.cursors[i]);
        if (reader->txn != NULL)
            mdb_txn_abort(reader->txn);
        free(reader->cache);
        free(reader->orgs);
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
    for (size_t i = 0; i < SB_SOFTPHONE_CURSORS; i++)
        mdb_cursor_close(reader->tables.cursors[i]);
    mdb_txn_abort(reader->txn);
    free(reader->cache);
    free(reader->orgs);
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

/* Sets the reason and clears the fields a view fills: what a previous use
 * of the answer left. user, profile, adapter_url and record[] are the
 * check's, written in place. */
static void answer_reset(sb_index_answer *a, sb_index_reason reason)
{
    a->softphone = reason == SB_INDEX_OK;
    a->reason = reason;
    a->reason_name = sb_softphone_reason_name((sb_softphone_reason_t)reason);
    a->callcenter_id = a->internal_name = a->display_name = a->adapter = "";
    a->softphone_height = a->softphone_width = 0;
    a->compatibility_mode = "";
    a->layout_name = "";
    a->layout_source = "";
    a->layout = NULL;
    a->layout_len = 0;
    a->detail = "";
    a->record_len = 0;
}

/* The library's code for a code of sb_softphone_check_txn. */
static int index_rc(int rc)
{
    switch (rc) {
    case -ENOENT:
        return SB_INDEX_ENOORG;
    case -E2BIG:
        return SB_INDEX_ETOOBIG;
    case -EINVAL:
    case SB_E_INVALID_ID:
        return SB_INDEX_EARG;
    case -ENOMEM:
        return SB_INDEX_ENOMEM;
    default:
        return SB_INDEX_ECORRUPT;
    }
}

/* One user, inside a renewed transaction: the store's check, into the answer. */
static int check_one(sb_index_reader *reader, const sb_softphone_org_t *org, const char *user,
                     sb_index_answer *a)
{
    /* Field by field, not an initializer: that would zero the whole struct
     * (the decoded view too) on every check, for nothing the check reads. */
    sb_softphone_found_t found;
    found.user = a->user;
    found.profile = a->profile;
    found.adapter_url = a->adapter_url;
    found.record = a->record;
    found.record_cap = sizeof(a->record);
    int rc = sb_softphone_check_txn(reader->txn, &reader->tables, org, user, &found, NULL);
    if (rc != 0)
        return index_rc(rc);
    answer_reset(a, (sb_index_reason)found.reason);
    if (found.record_len == 0)
        return 0;
    const sb_softphone_view_t *view = &found.view;
    a->record_len = found.record_len;
    a->callcenter_id = view->cc_id;
    a->internal_name = view->internal_name;
    a->display_name = view->display_name;
    a->adapter = view->adapter;
    a->softphone_height = view->height;
    a->softphone_width = view->width;
    a->compatibility_mode = sb_cc_compat_mode_name((sb_cc_compat_mode_t)view->mode);
    a->layout_name = view->layout_name;
    a->layout_source = sb_layout_source_name(view->layout_source);
    a->layout = view->layout;
    a->layout_len = view->layout ? view->layout_len : 0;
    a->detail = view->detail;
    return 0;
}

SB_INDEX_API int sb_index_check_batch(sb_index_reader *reader, const char *org,
                                      const char *const *users, size_t n, sb_index_answer *answers)
{
    if (reader == NULL || org == NULL || (n > 0 && (users == NULL || answers == NULL)))
        return SB_INDEX_EARG;
    sb_softphone_org_t o;
    if (sb_softphone_org_init(&o, org) != 0) /* refused before any user, unlike the server */
        return SB_INDEX_EARG;
    int rc = begin(reader);
    if (rc != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_one(reader, &o, users[i], &answers[i]);
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
