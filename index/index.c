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
 * the check and the answer outlives it; or, in the referring form
 * (sb_index_check_ref), the answer points at the view in the map and the
 * reader keeps its snapshot until its next call or sb_index_reader_release.
 *
 * Hot path: a transaction renew and reset (reader-table writes in shared
 * memory, no system call), two B-tree look-ups (the second usually a probe
 * of the set-associative view cache, view_cache.c), one copy (none when
 * referring). Nothing is allocated, and no cache line is written that
 * another reader writes: see "The map and its moves" below.
 */
#include "switchboard/index.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <sched.h>
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
#include "view_cache.h"

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

/*
 * The map and its moves. When the server grows its map past ours, a renew
 * says MDB_MAP_RESIZED and the reader adopts the new size with
 * mdb_env_set_mapsize, which munmaps the map and maps it again, likely
 * elsewhere: while it runs, no thread of this process may touch the map
 * (a page, a cursor's page, the meta pages a renew reads), and every
 * pointer into the old map (the view cache's, a referring answer's) is dead
 * after it.
 *
 * Instead of a rwlock taken on every check (two atomic read-modify-writes
 * on one cache line that every reader of the process writes: about 10% of a
 * check at two threads), each reader announces itself on a cache line of
 * its own, and the rare remap waits for the announcements to clear:
 *
 *   reader (enter)                      remapper (adopt_grown_map)
 *   state = BUSY          (seq_cst)     lock readers_lock
 *   if remapping (seq_cst):             remapping = 1          (seq_cst)
 *       state = IDLE, wait for the      for each reader: wait until
 *       lock, and start again               state == IDLE      (acquire)
 *   ... renew, look-ups, reset ...      mdb_env_set_mapsize, generation++
 *   state = IDLE          (release)     remapping = 0 (seq_cst), unlock
 *
 * Both sides store, then load the other's flag, all sequentially
 * consistent (Dekker's pattern): either the reader sees `remapping` and
 * backs off, or the remapper sees BUSY and waits; never neither. The
 * release/acquire pairs order a reader's last read of the old map before
 * the munmap, and the remap's writes (env->me_map) before the next read.
 * A reader's cost: one store to its own line (an xchg on x86, uncontended)
 * and one load of a line that is written only by a remap. A reader holding
 * a referring answer stays HOLDING (not IDLE) until its next call or
 * sb_index_reader_release, so a remap waits for it too: its pointers stay
 * valid. `generation` counts the remaps; a reader that sees it move empties
 * its cache (a new epoch).
 */
enum { READER_IDLE = 0, READER_BUSY = 1, READER_HOLDING = 2 };

struct sb_index {
    MDB_env *env;
    MDB_dbi orgs, users, user_cc, views, org_ids;
    /* The list of readers; held by a remap for its whole length, so that no
     * reader joins or leaves while it waits for them. */
    pthread_mutex_t readers_lock;
    sb_index_reader *readers;
    _Atomic unsigned remapping;  /* 1 while a remap waits or runs */
    _Atomic uint64_t generation; /* how many times the map moved */
    sb_value_env_t value_env; /* the tables' names, the page size: the environment's user context */
};

/*
 * The views a reader found in the current snapshot (view_cache.h). While no
 * write commits (the snapshot's transaction id stays the same) and the map
 * does not move, a view found once is where it was, in pages the snapshot
 * pins, so the second look-up of a check becomes a probe. Any commit or
 * remap starts a new epoch, which empties the cache at once.
 */
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
    /* First, on a cache line of its own (the struct is 64-aligned and the
     * next field starts a line later): written by this reader on each call,
     * read only by a remap. */
    _Atomic unsigned state; /* READER_IDLE, _BUSY or _HOLDING */
    char pad_state[64 - sizeof(unsigned)];
    sb_index *index;
    sb_index_reader *next, *prev; /* in index->readers, under readers_lock */
    MDB_txn *txn;                 /* reset between checks: it pins no pages while idle */
    sb_softphone_tables_t tables; /* the index's handles, and this reader's cache */
    size_t snapshot;              /* the transaction id the cache was filled in */
    uint64_t generation;          /* the index's remap count then */
    uint64_t epoch;               /* of the cache; 0 is never valid */
    sb_view_cache_t cache;
    cached_org_t *orgs; /* ORG_CACHE_SLOTS */
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
    pthread_mutex_init(&index->readers_lock, NULL);
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
    pthread_mutex_destroy(&index->readers_lock);
    free(index);
}

/*
 * The check's look-up of a view (sb_softphone_view_get_fn): from the cache
 * when this snapshot already found it. The epoch is the reader's, set by
 * begin() for the snapshot the check runs in.
 */
static int find_view(void *ctx, MDB_txn *txn, MDB_dbi views, const MDB_val *key, MDB_val *out,
                     const sb_softphone_view_t **decoded)
{
    sb_index_reader *reader = ctx;
    return sb__view_cache_get(&reader->cache, reader->epoch, txn, views, key, out, decoded);
}

/* Announces a read of the map (see "The map and its moves"): returns with
 * the reader BUSY and no remap running or waiting. */
static void enter(sb_index_reader *reader)
{
    sb_index *index = reader->index;
    for (;;) {
        atomic_store(&reader->state, READER_BUSY);
        if (atomic_load(&index->remapping) == 0)
            return;
        atomic_store(&reader->state, READER_IDLE);
        /* The remap holds the lock until it is done: wait there, asleep. */
        pthread_mutex_lock(&index->readers_lock);
        pthread_mutex_unlock(&index->readers_lock);
    }
}

static void leave(sb_index_reader *reader)
{
    atomic_store_explicit(&reader->state, READER_IDLE, memory_order_release);
}

/*
 * The server grew the map past ours: take its size. The caller's reader is
 * IDLE; `seen` is the generation it saw when its renew failed, so that of
 * several threads that met the same growth only the first remaps.
 */
static int adopt_grown_map(sb_index *index, uint64_t seen)
{
    pthread_mutex_lock(&index->readers_lock);
    int rc = 0;
    if (atomic_load(&index->generation) == seen) {
        atomic_store(&index->remapping, 1);
        for (sb_index_reader *r = index->readers; r != NULL; r = r->next)
            while (atomic_load_explicit(&r->state, memory_order_acquire) != READER_IDLE)
                sched_yield(); /* a check is some microseconds; a holder, the caller's */
        rc = mdb_env_set_mapsize(index->env, 0);
        sb__value_env_locate(index->env);
        atomic_fetch_add(&index->generation, 1);
        atomic_store(&index->remapping, 0);
    }
    pthread_mutex_unlock(&index->readers_lock);
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
    cached_org_t *slot = &reader->orgs[sb__view_cache_hash(org, len) % ORG_CACHE_SLOTS];
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

/* Ends the snapshot a referring answer holds, if any. */
static void release(sb_index_reader *reader)
{
    if (atomic_load_explicit(&reader->state, memory_order_relaxed) != READER_HOLDING)
        return;
    mdb_txn_reset(reader->txn);
    leave(reader);
}

static void readers_add(sb_index *index, sb_index_reader *reader)
{
    pthread_mutex_lock(&index->readers_lock);
    reader->next = index->readers;
    if (index->readers != NULL)
        index->readers->prev = reader;
    index->readers = reader;
    pthread_mutex_unlock(&index->readers_lock);
}

static void readers_remove(sb_index *index, sb_index_reader *reader)
{
    pthread_mutex_lock(&index->readers_lock);
    if (reader->prev != NULL)
        reader->prev->next = reader->next;
    else
        index->readers = reader->next;
    if (reader->next != NULL)
        reader->next->prev = reader->prev;
    pthread_mutex_unlock(&index->readers_lock);
}

static void reader_free(sb_index_reader *reader)
{
    for (size_t i = 0; i < SB_SOFTPHONE_CURSORS; i++)
        if (reader->tables.cursors[i] != NULL)
            mdb_cursor_close(reader->tables.cursors[i]);
    if (reader->txn != NULL)
        mdb_txn_abort(reader->txn);
    sb__view_cache_destroy(&reader->cache);
    free(reader->orgs);
    free(reader);
}

SB_INDEX_API int sb_index_reader_open(sb_index *index, sb_index_reader **out)
{
    *out = NULL;
    if (index == NULL)
        return SB_INDEX_EARG;
    /* 64-aligned, so that `state` has its line to itself. */
    size_t size = (sizeof(sb_index_reader) + 63) & ~(size_t)63;
    sb_index_reader *reader = aligned_alloc(64, size);
    if (reader == NULL)
        return SB_INDEX_ENOMEM;
    memset(reader, 0, size);
    reader->index = index;
    reader->tables = (sb_softphone_tables_t){.orgs = index->orgs,
                                             .users = index->users,
                                             .user_cc = index->user_cc,
                                             .views = index->views,
                                             .org_ids = index->org_ids,
                                             .get_org_num = find_org_num,
                                             .get_org_num_ctx = reader,
                                             .get_view_decoded = find_view,
                                             .get_view_ctx = reader};
    reader->orgs = calloc(ORG_CACHE_SLOTS, sizeof(*reader->orgs));
    if (reader->orgs == NULL || sb__view_cache_init(&reader->cache) != 0) {
        free(reader->orgs);
        free(reader);
        return SB_INDEX_ENOMEM;
    }
    readers_add(index, reader);
    int rc = MDB_MAP_RESIZED;
    for (int tries = 0; tries < 3 && rc != 0; tries++) {
        enter(reader);
        uint64_t seen = atomic_load(&index->generation);
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
        leave(reader);
        if (rc == MDB_MAP_RESIZED)
            adopt_grown_map(index, seen);
        else if (rc == MDB_READERS_FULL)
            mdb_reader_check(index->env, NULL);
        else if (rc != 0)
            break;
    }
    if (rc != 0) {
        readers_remove(index, reader);
        reader_free(reader);
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
    /* A held snapshot ends first (a remap waiting for it holds the list's
     * lock); then the reader leaves the list, so that a remap never waits
     * for a reader that is gone. */
    release(reader);
    readers_remove(reader->index, reader);
    reader_free(reader);
}

SB_INDEX_API void sb_index_reader_release(sb_index_reader *reader)
{
    if (reader != NULL)
        release(reader);
}

/* Starts a check or batch: the newest committed snapshot, the reader BUSY
 * until finish(). A snapshot a referring answer held ends first. */
static int begin(sb_index_reader *reader)
{
    sb_index *index = reader->index;
    release(reader);
    for (int tries = 0; tries < 3; tries++) {
        enter(reader);
        /* Stable while this reader is BUSY: only a remap moves it. */
        uint64_t generation = atomic_load_explicit(&index->generation, memory_order_relaxed);
        int rc = mdb_txn_renew(reader->txn);
        if (rc == 0) {
            size_t snapshot = mdb_txn_id(reader->txn);
            if (snapshot != reader->snapshot || generation != reader->generation ||
                reader->epoch == 0) {
                reader->snapshot = snapshot;
                reader->generation = generation;
                reader->epoch++; /* a new snapshot: what the cache holds is gone */
            }
            return 0;
        }
        leave(reader);
        if (rc == MDB_MAP_RESIZED) {
            if (adopt_grown_map(index, generation) != 0)
                return SB_INDEX_ECORRUPT;
        } else if (rc == MDB_READERS_FULL) {
            return SB_INDEX_EREADERS; /* the slot is the reader's own: never */
        } else {
            return SB_INDEX_ECORRUPT;
        }
    }
    return SB_INDEX_ECORRUPT;
}

/* Ends a check or batch; `hold`: keeps the snapshot (and the map) for a
 * referring answer, until the reader's next call or release(). */
static void finish(sb_index_reader *reader, bool hold)
{
    if (hold) {
        atomic_store_explicit(&reader->state, READER_HOLDING, memory_order_release);
        return;
    }
    mdb_txn_reset(reader->txn);
    leave(reader);
}

/* Sets the reason and clears the fields a view fills: what a previous use
 * of the answer left. user, profile, adapter_url and record[] are the
 * check's, written in place. A macro: the copying and the referring answer
 * have the same fields, in two types of the ABI. */
#define ANSWER_RESET(a, why)                                                                       \
    do {                                                                                           \
        (a)->softphone = (why) == SB_INDEX_OK;                                                     \
        (a)->reason = (why);                                                                       \
        (a)->reason_name = sb_softphone_reason_name((sb_softphone_reason_t)(why));                 \
        (a)->callcenter_id = (a)->internal_name = (a)->display_name = (a)->adapter = "";           \
        (a)->softphone_height = (a)->softphone_width = 0;                                          \
        (a)->compatibility_mode = "";                                                              \
        (a)->layout_name = "";                                                                     \
        (a)->layout_source = "";                                                                   \
        (a)->layout = NULL;                                                                        \
        (a)->layout_len = 0;                                                                       \
        (a)->detail = "";                                                                          \
        (a)->record_len = 0;                                                                       \
    } while (0)

/* The view's fields, from the decoded view (pointing into the answer's
 * record, or into the map). */
#define ANSWER_FILL(a, found)                                                                      \
    do {                                                                                           \
        const sb_softphone_view_t *view_ = &(found)->view;                                         \
        (a)->record_len = (found)->record_len;                                                     \
        (a)->callcenter_id = view_->cc_id;                                                         \
        (a)->internal_name = view_->internal_name;                                                 \
        (a)->display_name = view_->display_name;                                                   \
        (a)->adapter = view_->adapter;                                                             \
        (a)->softphone_height = view_->height;                                                     \
        (a)->softphone_width = view_->width;                                                       \
        (a)->compatibility_mode = sb_cc_compat_mode_name((sb_cc_compat_mode_t)view_->mode);        \
        (a)->layout_name = view_->layout_name;                                                     \
        (a)->layout_source = sb_layout_source_name(view_->layout_source);                          \
        (a)->layout = view_->layout;                                                               \
        (a)->layout_len = view_->layout ? view_->layout_len : 0;                                   \
        (a)->detail = view_->detail;                                                               \
    } while (0)

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

/* The caller's part of *found, field by field, not an initializer: that
 * would zero the whole struct (the decoded view too) on every check, for
 * nothing the check reads. */
static inline void found_init(sb_softphone_found_t *found, char *user, char *profile, char *url,
                              void *record, size_t cap, bool trusted)
{
    found->user = user;
    found->profile = profile;
    found->adapter_url = url;
    found->record = record;
    found->record_cap = cap;
    found->refer = false;
    found->user_normalized = trusted;
}

/* One user, inside a renewed transaction: the store's check, into the answer. */
static int check_one(sb_index_reader *reader, const sb_softphone_org_t *org, const char *user,
                     sb_index_answer *a)
{
    sb_softphone_found_t found;
    found_init(&found, a->user, a->profile, a->adapter_url, a->record, sizeof(a->record), false);
    int rc = sb_softphone_check_txn(reader->txn, &reader->tables, org, user, &found, NULL);
    if (rc != 0)
        return index_rc(rc);
    ANSWER_RESET(a, (sb_index_reason)found.reason);
    if (found.record_len > 0)
        ANSWER_FILL(a, &found);
    return 0;
}

/* The same, referring to the view in the map: the snapshot stays held. */
static int check_one_ref(sb_index_reader *reader, const sb_softphone_org_t *org, const char *user,
                         bool trusted, sb_index_ref_answer *a)
{
    sb_softphone_found_t found;
    found_init(&found, a->user, a->profile, a->adapter_url, NULL, 0, trusted);
    found.refer = true;
    int rc = sb_softphone_check_txn(reader->txn, &reader->tables, org, user, &found, NULL);
    if (rc != 0)
        return index_rc(rc);
    ANSWER_RESET(a, (sb_index_reason)found.reason);
    a->record = NULL;
    if (found.record_len > 0) {
        ANSWER_FILL(a, &found);
        a->record = found.record;
    }
    return 0;
}

/* The arguments every form checks alike; 0 with *o ready. */
static int batch_args(const sb_index_reader *reader, const char *org, const char *const *users,
                      size_t n, const void *answers, sb_softphone_org_t *o)
{
    if (reader == NULL || org == NULL || (n > 0 && (users == NULL || answers == NULL)))
        return SB_INDEX_EARG;
    if (sb_softphone_org_init(o, org) != 0) /* refused before any user, unlike the server */
        return SB_INDEX_EARG;
    return 0;
}

SB_INDEX_API int sb_index_check_batch(sb_index_reader *reader, const char *org,
                                      const char *const *users, size_t n, sb_index_answer *answers)
{
    sb_softphone_org_t o;
    int rc = batch_args(reader, org, users, n, answers, &o);
    if (rc == 0)
        rc = begin(reader);
    if (rc != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_one(reader, &o, users[i], &answers[i]);
    finish(reader, false);
    return rc;
}

SB_INDEX_API int sb_index_check(sb_index_reader *reader, const char *org, const char *user,
                                sb_index_answer *answer)
{
    return sb_index_check_batch(reader, org, &user, 1, answer);
}

SB_INDEX_API int sb_index_check_batch_ref(sb_index_reader *reader, const char *org,
                                          const char *const *users, size_t n,
                                          sb_index_ref_answer *answers, unsigned flags)
{
    sb_softphone_org_t o;
    int rc = batch_args(reader, org, users, n, answers, &o);
    if (rc == 0 && (flags & ~(unsigned)SB_INDEX_USERS_NORMALIZED) != 0)
        rc = SB_INDEX_EARG; /* a flag of a later release: refused, not ignored */
    if (rc == 0)
        rc = begin(reader);
    if (rc != 0)
        return rc;
    bool trusted = (flags & SB_INDEX_USERS_NORMALIZED) != 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_one_ref(reader, &o, users[i], trusted, &answers[i]);
    /* Held even after an error: the answers before it refer to the map. */
    finish(reader, true);
    return rc;
}

SB_INDEX_API int sb_index_check_ref(sb_index_reader *reader, const char *org, const char *user,
                                    sb_index_ref_answer *answer)
{
    return sb_index_check_batch_ref(reader, org, &user, 1, answer, 0);
}

SB_INDEX_API void sb_index_explain_ref(const sb_index_ref_answer *a, const char *org, char *buf,
                                       size_t cap)
{
    sb_softphone_view_t view;
    bool has_view = a->record != NULL && a->record_len > 0 &&
                    sb_softphone_view_decode(a->record, a->record_len, &view) == 0;
    sb_softphone_explain((sb_softphone_reason_t)a->reason, has_view ? &view : NULL, org, a->user,
                         a->profile, buf, cap);
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
