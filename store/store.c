/* The store's environment: open, close, transactions, map growth, schema. */
#include "store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "datafile.h"
#include "log.h"
#include "record_codec.h"
#include "store_internal.h"

#define LOCK_FILE "switchboard.lock"
#define META_SCHEMA "schema_version"
#define META_DATABASES "databases" /* name \n name \n ...: every database the store has had */
/* A write that failed with less free space than this on the data
 * directory's file system failed for want of space. */
#define SB_STORE_DISK_FULL_BELOW ((uint64_t)1 << 20)

int sb__key(sb_key_t *key, const char *org, const char *part)
{
    /* strnlen with the buffer's size: an overlong part is not even read to
     * its end, and nothing is copied unless the whole key fits. */
    size_t cap = sizeof(key->buf);
    size_t org_len = strnlen(org, cap + 1);
    size_t part_len = part != NULL ? strnlen(part, cap + 1) : 0;
    key->len = 0;
    if (org_len > cap || part_len > cap || org_len + (part != NULL ? 1 + part_len : 0) > cap)
        return -EINVAL;
    memcpy(key->buf, org, org_len);
    key->len = org_len;
    if (part != NULL) {
        key->buf[key->len++] = '\0';
        memcpy(key->buf + key->len, part, part_len);
        key->len += part_len;
    }
    return 0;
}

/* The error of a failed write or commit: a full disk names the data
 * directory, so that the operator knows which file system to free. */
static int write_failed(const sb_store_t *store, int rc, sb_err_t *err)
{
    /* LMDB reports a short write as EIO, not ENOSPC, and a full disk
     * usually ends a write short: ask the file system. */
    struct statvfs fs;
    if (rc == -EIO && statvfs(store->dir, &fs) == 0 &&
        (uint64_t)fs.f_bavail * fs.f_frsize < SB_STORE_DISK_FULL_BELOW)
        rc = SB_E_DISK_FULL;
    if (rc == SB_E_DISK_FULL)
        return sb_err_set(err, rc,
                          "The disk that holds the data directory %s is full (or its quota is "
                          "used up): free space on that file system; nothing of this write was "
                          "stored.",
                          store->dir);
    return sb_err_default(err, rc);
}

int64_t sb__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sb__check_limit(size_t limit, sb_err_t *err)
{
    if (limit == 0 || limit > SB_STORE_PAGE_MAX)
        return sb_err_set(err, -EINVAL, "A page holds 1 to %d rows; %zu was asked for.",
                          SB_STORE_PAGE_MAX, limit);
    return 0;
}

int sb__get(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *key, MDB_val *val)
{
    MDB_val k = {key->len, (void *)key->buf};
    return sb__lmdb_rc(sb__value_get(txn, dbi, &k, val));
}

/* Adopts a map another process grew (MDB_MAP_RESIZED): size 0 means "as the
 * environment now says". Called with no transaction of ours alive. */
static int adopt_map_size(sb_store_t *store)
{
    pthread_rwlock_wrlock(&store->resize_lock);
    int rc = mdb_env_set_mapsize(store->env, 0);
    MDB_envinfo info;
    if (rc == 0 && mdb_env_info(store->env, &info) == 0)
        __atomic_store_n(&store->map_bytes, info.me_mapsize, __ATOMIC_RELAXED);
    sb__value_env_locate(store->env);
    store->map_gen++;
    pthread_rwlock_unlock(&store->resize_lock);
    return sb__lmdb_rc(rc);
}

/* Doubles the map, up to the maximum. -ENOSPC when already there. */
static int grow_map(sb_store_t *store)
{
    pthread_rwlock_wrlock(&store->resize_lock);
    int rc = -ENOSPC;
    if (store->map_bytes < store->max_map_bytes) {
        size_t next = store->map_bytes > store->max_map_bytes / 2 ? store->max_map_bytes
                                                                  : store->map_bytes * 2;
        rc = sb__lmdb_rc(mdb_env_set_mapsize(store->env, next));
        if (rc == 0)
            __atomic_store_n(&store->map_bytes, next, __ATOMIC_RELAXED); /* read by metrics */
        sb__value_env_locate(store->env);
        store->map_gen++;
    }
    pthread_rwlock_unlock(&store->resize_lock);
    return rc;
}

/* In a batch: fn runs in a child of the batch transaction, so that its
 * failure undoes its own changes and nothing else. A full map is reported
 * as -ENOSPC to the batch's owner, which grows the map and replays. */
static int write_in_batch(sb_store_t *store, sb_write_fn fn, void *ctx, sb_err_t *err)
{
    MDB_txn *child = NULL;
    sb_capture_mark_t mark;
    sb__capture_mark(store, &mark);
    int rc = sb__lmdb_rc(mdb_txn_begin(store->env, store->batch_txn, 0, &child));
    if (rc == 0) {
        rc = fn(store, child, ctx, err);
        if (rc == 0)
            rc = sb__lmdb_rc(mdb_txn_commit(child));
        else
            mdb_txn_abort(child);
    }
    if (rc != 0)
        sb__capture_rewind(store, &mark); /* an aborted child changed nothing */
    return rc == 0 ? 0 : write_failed(store, rc, err);
}

/* The store whose write batch this thread holds. Thread-local, so that no
 * other thread ever reads the batch's state while its owner changes it. */
static __thread const sb_store_t *batch_owner;

static bool in_batch(const sb_store_t *store)
{
    return batch_owner == store;
}

static int write_txn(sb_store_t *store, sb_write_fn fn, void *ctx, bool capture, sb_err_t *err);

int sb__write(sb_store_t *store, sb_write_fn fn, void *ctx, sb_err_t *err)
{
    sb_err_note_clear();
    if (in_batch(store)) {
        sb_err_clear(err);
        return write_in_batch(store, fn, ctx, err);
    }
    return write_txn(store, fn, ctx, true, err);
}

int sb__write_uncaptured(sb_store_t *store, sb_write_fn fn, void *ctx, sb_err_t *err)
{
    if (in_batch(store))
        return sb_err_set(err, -EINVAL, "The change log's upkeep runs outside a write batch.");
    return write_txn(store, fn, ctx, false, err);
}

/* A write transaction of its own; when `capture`, its changes are logged
 * under a sequence of their own, in the same transaction. */
static int write_txn(sb_store_t *store, sb_write_fn fn, void *ctx, bool capture, sb_err_t *err)
{
    for (;;) {
        sb_err_clear(err);
        pthread_rwlock_rdlock(&store->resize_lock);
        MDB_txn *txn = NULL;
        int lmdb = mdb_txn_begin(store->env, NULL, 0, &txn);
        int rc;
        if (lmdb == MDB_MAP_RESIZED) {
            pthread_rwlock_unlock(&store->resize_lock);
            rc = adopt_map_size(store);
            if (rc != 0)
                return sb_err_default(err, rc);
            continue;
        }
        rc = sb__lmdb_rc(lmdb);
        if (rc == 0 && capture) {
            /* Each attempt starts a fresh capture: a replay after the map
             * grew records its changes once. */
            sb__capture_start(store);
            rc = sb__capture_seq(store, txn);
        }
        if (rc == 0)
            rc = fn(store, txn, ctx, err);
        if (rc == 0 && capture)
            rc = sb__capture_flush(store, txn);
        if (capture)
            sb__capture_stop(store);
        if (rc == 0)
            rc = sb__lmdb_rc(mdb_txn_commit(txn));
        else if (txn != NULL)
            mdb_txn_abort(txn);
        pthread_rwlock_unlock(&store->resize_lock);
        if (rc != -ENOSPC)
            return rc == 0 ? 0 : write_failed(store, rc, err);
        if (grow_map(store) != 0)
            return sb_err_set(err, -ENOSPC,
                              "The store is full: it reached its maximum map size of %zu bytes. "
                              "Raise the maximum map size, or delete records; nothing of this "
                              "write was stored.",
                              store->max_map_bytes);
    }
}

int sb_store_batch_begin(sb_store_t *store, sb_err_t *err)
{
    sb_err_clear(err);
    if (in_batch(store))
        return sb_err_set(err, -EINVAL, "A write batch is already open.");
    for (;;) {
        pthread_rwlock_rdlock(&store->resize_lock);
        int lmdb = mdb_txn_begin(store->env, NULL, 0, &store->batch_txn);
        if (lmdb == 0) {
            /* A replayed batch begins here again: its capture starts empty. */
            sb__capture_start(store);
            int rc = sb__capture_seq(store, store->batch_txn);
            if (rc != 0) {
                sb__capture_stop(store);
                mdb_txn_abort(store->batch_txn);
                store->batch_txn = NULL;
                pthread_rwlock_unlock(&store->resize_lock);
                return sb_err_default(err, rc);
            }
            batch_owner = store;
            return 0; /* the lock stays held until commit or abort */
        }
        store->batch_txn = NULL;
        pthread_rwlock_unlock(&store->resize_lock);
        if (lmdb != MDB_MAP_RESIZED)
            return sb_err_default(err, sb__lmdb_rc(lmdb));
        int rc = adopt_map_size(store);
        if (rc != 0)
            return sb_err_default(err, rc);
    }
}

int sb_store_batch_commit(sb_store_t *store, sb_err_t *err)
{
    sb_err_clear(err);
    if (!in_batch(store))
        return sb_err_set(err, -EINVAL, "No write batch is open.");
    int rc = sb__capture_flush(store, store->batch_txn);
    sb__capture_stop(store);
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_txn_commit(store->batch_txn));
    else
        mdb_txn_abort(store->batch_txn);
    store->batch_txn = NULL;
    batch_owner = NULL;
    pthread_rwlock_unlock(&store->resize_lock);
    return rc == 0 ? 0 : write_failed(store, rc, err);
}

void sb_store_batch_abort(sb_store_t *store)
{
    if (!in_batch(store))
        return;
    sb__capture_stop(store);
    mdb_txn_abort(store->batch_txn);
    store->batch_txn = NULL;
    batch_owner = NULL;
    pthread_rwlock_unlock(&store->resize_lock);
}

int sb_store_grow(sb_store_t *store, sb_err_t *err)
{
    sb_err_clear(err);
    if (in_batch(store))
        return sb_err_set(err, -EINVAL, "The map cannot grow while a write batch is open.");
    int rc = grow_map(store);
    if (rc == -ENOSPC)
        return sb_err_set(err, -ENOSPC,
                          "The store is full: it reached its maximum map size of %zu bytes. "
                          "Raise the maximum map size, or delete records.",
                          store->max_map_bytes);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

#define META_RECLAIM "reclaim_commits"

static int reclaim_txn(sb_store_t *store, MDB_txn *txn, void *ctx, sb_err_t *err)
{
    (void)ctx;
    (void)err;
    /* A write that changes a page, so that the commit is a real one: LMDB
     * skips the commit of a transaction that dirtied nothing, and an empty
     * commit would not move the oldest snapshot on. */
    MDB_val k = {sizeof(META_RECLAIM) - 1, META_RECLAIM}, v;
    uint64_t count = 0;
    int lmdb = mdb_get(txn, store->meta, &k, &v);
    if (lmdb == 0 && v.mv_size == sizeof(count))
        memcpy(&count, v.mv_data, sizeof(count));
    else if (lmdb != 0 && lmdb != MDB_NOTFOUND)
        return sb__lmdb_rc(lmdb);
    count++;
    MDB_val nv = {sizeof(count), &count};
    return sb__lmdb_rc(mdb_put(txn, store->meta, &k, &nv, 0));
}

int sb_store_reclaim(sb_store_t *store, sb_err_t *err)
{
    sb_err_clear(err);
    if (in_batch(store))
        return sb_err_set(err, -EINVAL, "Pages cannot be reclaimed while a write batch is open.");
    return sb__write(store, reclaim_txn, NULL, err);
}

int sb_store_dry_run(sb_store_t *store, sb_dry_run_fn fn, void *ctx, sb_err_t *err)
{
    sb_err_clear(err);
    if (!in_batch(store))
        return sb_err_set(err, -EINVAL, "A dry run runs inside the writer's batch.");
    MDB_txn *outer = store->batch_txn, *child = NULL;
    int rc = sb__lmdb_rc(mdb_txn_begin(store->env, outer, 0, &child));
    if (rc != 0)
        return sb_err_default(err, rc);
    /* fn's writes nest under `child` as they would under the batch, and
     * its reads see them; dropping `child` drops them all. */
    store->batch_txn = child;
    sb_capture_mark_t mark;
    sb__capture_mark(store, &mark);
    rc = fn(ctx, err);
    sb__capture_rewind(store, &mark);
    store->batch_txn = outer;
    mdb_txn_abort(child);
    return rc;
}

const char *sb_store_dir(const sb_store_t *store)
{
    return store->dir;
}

/* A thread's reader, empty; its view cache may be left out (no memory for
 * it: its checks then look every view up). [owned: reader_free] */
static sb_reader_t *reader_new(void)
{
    sb_reader_t *r = calloc(1, sizeof(*r));
    if (r != NULL && sb__view_cache_init(&r->views) != 0)
        sb_warn("store: no memory for a reader's view cache: its checks look every view up");
    return r;
}

static void reader_free(sb_reader_t *r)
{
    if (r == NULL)
        return;
    if (r->txn != NULL)
        mdb_txn_abort(r->txn);
    sb__view_cache_destroy(&r->views);
    free(r);
}

sb_reader_t *sb__reader(sb_store_t *store)
{
    /* A scan of a few entries (one per event loop): cheaper than a
     * thread-local look-up keyed by store, and right for several stores. */
    size_t n = __atomic_load_n(&store->n_readers, __ATOMIC_ACQUIRE);
    pthread_t self = pthread_self();
    for (size_t i = 0; i < n; i++)
        if (pthread_equal(store->readers[i]->thread, self))
            return store->readers[i];
    return NULL;
}

int sb_store_reader_attach(sb_store_t *store, sb_err_t *err)
{
    sb_err_clear(err);
    if (sb__reader(store) != NULL)
        return 0;
    sb_reader_t *r = reader_new();
    if (r == NULL)
        return sb_err_set(err, -ENOMEM,
                          "No memory for a thread's cached read transaction (%zu bytes); its "
                          "reads begin a transaction each.",
                          sizeof(*r));
    r->thread = pthread_self();
    pthread_mutex_lock(&store->readers_lock);
    size_t n = store->n_readers;
    if (n < SB_STORE_READERS_MAX) {
        store->readers[n] = r;
        __atomic_store_n(&store->n_readers, n + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&store->readers_lock);
    if (n >= SB_STORE_READERS_MAX) {
        reader_free(r);
        return sb_err_set(err, -ENOSPC,
                          "%d threads already keep a cached read transaction on this store; this "
                          "one's reads begin a transaction each.",
                          SB_STORE_READERS_MAX);
    }
    return 0;
}

int sb__read_begin(sb_store_t *store, MDB_txn **txn, sb_err_t *err)
{
    sb_err_note_clear(); /* a damaged record noted by an earlier read is not this one's */
    if (in_batch(store)) {
        /* The batch's own thread reads what the batch wrote so far. */
        *txn = store->batch_txn;
        return 0;
    }
    sb_reader_t *reader = sb__reader(store);
    for (;;) {
        pthread_rwlock_rdlock(&store->resize_lock);
        MDB_txn *own = NULL;
        int lmdb = reader == NULL ? mdb_txn_begin(store->env, NULL, MDB_RDONLY, &own)
                   : reader->txn  ? mdb_txn_renew(reader->txn)
                                  : mdb_txn_begin(store->env, NULL, MDB_RDONLY, &reader->txn);
        if (lmdb == 0) {
            *txn = reader ? reader->txn : own;
            return 0;
        }
        pthread_rwlock_unlock(&store->resize_lock);
        if (lmdb == MDB_MAP_RESIZED) {
            int rc = adopt_map_size(store);
            if (rc != 0)
                return sb_err_default(err, rc);
            continue;
        }
        if (reader && reader->txn != NULL && lmdb != MDB_READERS_FULL) {
            /* A renew that failed leaves the handle unusable: start afresh. */
            mdb_txn_abort(reader->txn);
            reader->txn = NULL;
        }
        *txn = NULL;
        return sb_err_default(err, sb__lmdb_rc(lmdb));
    }
}

void sb__read_end(sb_store_t *store, MDB_txn *txn)
{
    if (in_batch(store) && txn == store->batch_txn)
        return;
    /* Reset, not abort: the handle and its reader slot are reused, and no
     * snapshot is pinned while nobody reads. Another thread's is its own. */
    sb_reader_t *reader = sb__reader(store);
    if (reader != NULL && txn == reader->txn)
        mdb_txn_reset(txn);
    else
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&store->resize_lock);
}

/* The writer lock: one process writes a data directory at a time. */
static int take_dir_lock(const char *dir, int *fd_out, sb_err_t *err)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, LOCK_FILE) >= (int)sizeof(path))
        return sb_err_set(err, -EINVAL, "The data directory path is too long.");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return sb_err_set(err, errno == EACCES ? -EACCES : -EIO, "Cannot open %s: %s.", path,
                          strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t got = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[got > 0 ? got : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        return sb_err_set(err, SB_E_STORE_LOCKED,
                          "The data directory %s is in use by another process (pid %s); stop it "
                          "or choose another data directory.",
                          dir, pid[0] ? pid : "unknown");
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        /* The pid is only a hint for the message above; the lock holds anyway. */
    }
    *fd_out = fd;
    return 0;
}

int sb__del_prefix_unlogged(MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t len)
{
    MDB_cursor *cur;
    int rc = sb__lmdb_rc(mdb_cursor_open(txn, dbi, &cur));
    if (rc != 0)
        return rc;
    for (;;) {
        MDB_val k = {len, (void *)prefix}, v;
        int lmdb = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (lmdb == MDB_NOTFOUND ||
            (lmdb == 0 && (k.mv_size < len || memcmp(k.mv_data, prefix, len) != 0)))
            break;
        if (lmdb == 0)
            lmdb = mdb_cursor_del(cur, MDB_NODUPDATA);
        if (lmdb != 0) {
            rc = sb__lmdb_rc(lmdb);
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

int sb__del_prefix(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *prefix)
{
    int rc = sb__del_prefix_unlogged(txn, dbi, prefix->buf, prefix->len);
    /* One change for them all: an org's delete stays a small entry (it
     * must fit when the store is full, to free it), and a replica holding
     * the same data deletes the same keys. */
    if (rc == 0)
        sb__capture_del_prefix(txn, dbi, prefix);
    return rc;
}

/* The greatest id of `org` in `dbi` into *last; "" when the org has none. */
static int last_id_of(MDB_txn *txn, MDB_dbi dbi, const char *org, sb_sfid_t *last)
{
    memset(last, 0, sizeof(*last));
    sb_key_t past;
    int rc = sb__key(&past, org, "\x7f"); /* after every base-62 id of the org */
    MDB_cursor *cur;
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_cursor_open(txn, dbi, &cur));
    if (rc != 0)
        return rc;
    MDB_val k = {past.len, past.buf}, v;
    int lmdb = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    lmdb = lmdb == 0              ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
           : lmdb == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
                                  : lmdb;
    size_t org_len = past.len - 2;
    if (lmdb == 0 && k.mv_size == org_len + 1 + SB_SFID_LEN &&
        memcmp(k.mv_data, past.buf, org_len + 1) == 0) {
        memcpy(last->s, (const char *)k.mv_data + org_len + 1, SB_SFID_LEN);
        last->s[SB_SFID_LEN] = '\0';
    } else if (lmdb != 0 && lmdb != MDB_NOTFOUND) {
        rc = sb__lmdb_rc(lmdb);
    }
    mdb_cursor_close(cur);
    return rc;
}

/* The value of base-62 digits s[0..n). */
static uint64_t base62_value(const char *s, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        char c = s[i];
        v = v * 62 + (uint64_t)(c <= '9' ? c - '0' : c <= 'Z' ? c - 'A' + 10 : c - 'a' + 36);
    }
    return v;
}

int sb_store_set_id_space(sb_store_t *store, unsigned number)
{
    if (number > SB_STORE_ID_SPACE_MAX)
        return -EINVAL;
    atomic_store(&store->id_space, number);
    return 0;
}

/* With an id space (a shard's number), the random part's value is
 * r * ID_SPACES + number: its last two digits are the number, the three
 * before them random (238,328 values a millisecond and org). */
#define ID_SPACES 3844ULL                        /* 62^2 */
#define ID_SPACE_SPAN (916132832ULL / ID_SPACES) /* 62^3: the random digits left */

int sb__new_id(sb_store_t *store, MDB_txn *txn, MDB_dbi dbi, const char *org, const char *prefix,
               sb_sfid_t *id)
{
    uint64_t space = atomic_load(&store->id_space);
    sb_sfid_t last;
    int rc = last_id_of(txn, dbi, org, &last);
    if (rc != 0)
        return rc;
    /* A collision needs the same org, millisecond and 30 random bits (18
     * with an id space): a second one in a row means the random source is
     * broken, not unlucky. */
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t random;
        randombytes_buf(&random, sizeof(random));
        uint64_t ms = (uint64_t)sb__now_ms();
        uint64_t tail = space == 0 ? random : (random % ID_SPACE_SPAN) * ID_SPACES + space;
        sb_sfid_from_time(prefix, ms, tail, id);
        /* Ids of one org sort in creation order (voicecall.list promises
         * it), also within a millisecond or when the clock steps back: then
         * the new id follows the org's last one by a random step. Only the
         * org's own ids are compared, so nothing of other orgs shows. The
         * step keeps the id space's digits: the last id may be another
         * shard's (an org moved here), the new one is this shard's. */
        if (last.s[0] != '\0' && strncmp(id->s, last.s, 15) <= 0 &&
            strncmp(last.s, prefix, 3) == 0) {
            uint64_t last_ms = base62_value(last.s + 3, 7);
            uint64_t last_tail = base62_value(last.s + 10, 5);
            if (space == 0) {
                tail = last_tail + 1 + random % 1024;
                if (tail >= 916132832ULL) { /* 62^5: into the next millisecond */
                    last_ms++;
                    tail = random % 1024;
                }
            } else {
                uint64_t r = last_tail / ID_SPACES + 1 + random % 16;
                if (r >= ID_SPACE_SPAN) { /* into the next millisecond */
                    last_ms++;
                    r = random % 16;
                }
                tail = r * ID_SPACES + space;
            }
            sb_sfid_from_time(prefix, last_ms, tail, id);
        }
        sb_key_t key;
        MDB_val val;
        if ((rc = sb__key(&key, org, id->s)) == 0)
            rc = sb__get(txn, dbi, &key, &val);
        if (rc == -ENOENT)
            return 0;
        if (rc != 0)
            break;
    }
    memset(id, 0, sizeof(*id));
    return rc != 0 ? rc : -EAGAIN;
}

static int open_dbis(sb_store_t *store, MDB_txn *txn)
{
    static const struct {
        const char *name;
        size_t offset;
        unsigned flags;
    } dbs[] = {
        {"meta", offsetof(sb_store_t, meta), 0},
        {"orgs", offsetof(sb_store_t, orgs), 0},
        {"callcenters", offsetof(sb_store_t, callcenters), 0},
        {"cc_names", offsetof(sb_store_t, cc_names), 0},
        {"users", offsetof(sb_store_t, users), 0},
        {"user_cc", offsetof(sb_store_t, user_cc), 0},
        {"cc_members", offsetof(sb_store_t, cc_members), MDB_DUPSORT | MDB_DUPFIXED},
        {"tokens", offsetof(sb_store_t, tokens), 0},
        {"layouts", offsetof(sb_store_t, layouts), 0},
        {"layout_of", offsetof(sb_store_t, layout_of), 0},
        {"views", offsetof(sb_store_t, views), 0},
        {"contacts", offsetof(sb_store_t, contacts), 0},
        {"phones", offsetof(sb_store_t, phones), MDB_DUPSORT | MDB_DUPFIXED},
        {"voicecalls", offsetof(sb_store_t, voicecalls), 0},
        {"call_keys", offsetof(sb_store_t, call_keys), 0},
        {"changes", offsetof(sb_store_t, changes), 0},
        /* Issue 15; empty until an org puts rules, so no migration. */
        {"rules", offsetof(sb_store_t, rules), 0},
        {"changes_org", offsetof(sb_store_t, changes_org), 0},
        /* Schema 5: filled by its migration (org_ids.c). */
        {"org_ids", offsetof(sb_store_t, org_ids), 0},
    };
    enum { N_DBS = sizeof(dbs) / sizeof(dbs[0]) };
    bool made[N_DBS] = {false};
    for (size_t i = 0; i < N_DBS; i++) {
        MDB_dbi *dbi = (MDB_dbi *)((char *)store + dbs[i].offset);
        int rc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags, dbi);
        if (rc == MDB_NOTFOUND) {
            made[i] = true;
            rc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | MDB_CREATE, dbi);
        }
        /* LMDB 0.9 takes a database's flags from its record, without
         * comparing them with those asked for: a damaged bit there would
         * change how its keys compare, and look-ups would miss them. */
        unsigned stored = 0;
        if (rc == 0 && mdb_dbi_flags(txn, *dbi, &stored) == 0 && stored != dbs[i].flags) {
            sb_err_note_corrupt("the database %s, whose flags (%#x, not %#x) are damaged",
                                dbs[i].name, stored, dbs[i].flags);
            return SB_E_CORRUPT;
        }
        if (rc != 0)
            return sb__lmdb_rc(rc);
        if (*dbi >= SB_DBI_SLOTS)
            return -EINVAL;
        /* meta and the log (with its index) are the store's own bookkeeping. */
        bool logged = strcmp(dbs[i].name, "meta") != 0 && strncmp(dbs[i].name, "changes", 7) != 0;
        store->value_env.names[*dbi] = dbs[i].name;
        store->dbi_names[*dbi] = logged ? dbs[i].name : NULL;
    }
    /*
     * The databases the store had, recorded in meta: one it had and that is
     * gone now was lost to damage (a flipped byte in its name, in LMDB's own
     * list), and must not come back empty. A database this build adds for
     * the first time is made, and recorded.
     */
    sb_key_t key = {.len = sizeof(META_DATABASES) - 1};
    memcpy(key.buf, META_DATABASES, key.len);
    MDB_val mk = {key.len, key.buf}, had = {0, NULL};
    /* meta's other values carry no checksum: this one is checked alone,
     * without sb__get's look at its neighbours. */
    int rc = sb__lmdb_rc(mdb_get(txn, store->meta, &mk, &had));
    if (rc == 0 && sb__value_open(&mk, &had) != 0) {
        sb__value_damaged(txn, store->meta, &mk);
        rc = SB_E_CORRUPT;
    }
    if (rc != 0 && rc != -ENOENT)
        return rc;
    char names[1024];
    size_t len = 0;
    bool changed = rc == -ENOENT;
    if (rc == 0) {
        if (had.mv_size >= sizeof(names))
            return SB_E_CORRUPT;
        memcpy(names, had.mv_data, had.mv_size);
        len = had.mv_size;
    }
    for (size_t i = 0; i < N_DBS; i++) {
        char line[40];
        int n = snprintf(line, sizeof(line), "\n%s\n", dbs[i].name);
        bool recorded = false;
        for (size_t at = 0; at + (size_t)n - 1 <= len && !recorded; at++)
            recorded = (at == 0 ? memcmp(names, line + 1, (size_t)n - 1) == 0
                                : memcmp(names + at - 1, line, (size_t)n) == 0);
        if (recorded && made[i]) {
            sb_err_note_corrupt("the database %s, which LMDB's list of databases no longer "
                                "names",
                                dbs[i].name);
            return SB_E_CORRUPT;
        }
        if (!recorded) {
            if (len + (size_t)n - 1 > sizeof(names))
                return -EINVAL;
            memcpy(names + len, line + 1, (size_t)n - 1);
            len += (size_t)n - 1;
            changed = true;
        }
    }
    return changed ? sb__put(txn, store->meta, &key, names, len, 0) : 0;
}

/*
 * Schema 3 to 4 (first, from any older schema): every value of database
 * `dbi` gets its checksum. Each value is copied out and put back sealed,
 * then the cursor finds its place again (as migrate_1_to_2 does: a cursor
 * put of a longer value is what lost memberships with LMDB 0.9.24). A key's
 * duplicates are read out, the key deleted, and each put back sealed.
 * Unlogged: the change log holds values without checksums, and nothing of
 * a migration (capture is off while the store opens).
 */
static int seal_db(MDB_txn *txn, MDB_dbi dbi)
{
    unsigned flags = 0;
    MDB_cursor *cur = NULL;
    int rc = sb__lmdb_rc(mdb_dbi_flags(txn, dbi, &flags));
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_cursor_open(txn, dbi, &cur));
    if (rc != 0)
        return rc;
    bool dups = (flags & MDB_DUPSORT) != 0;
    /* A key's duplicates, each at most 64 bytes (they are ids). */
    size_t n = 0, cap = 0;
    struct dup {
        uint8_t len, bytes[64];
    } *held = NULL;
    void *copy = NULL;
    MDB_val k, v;
    int lmdb = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && lmdb == 0) {
        sb_key_t key;
        if (k.mv_size > sizeof(key.buf)) {
            rc = SB_E_CORRUPT;
            break;
        }
        memcpy(key.buf, k.mv_data, k.mv_size);
        key.len = k.mv_size;
        if (!dups) {
            free(copy);
            if ((copy = malloc(v.mv_size ? v.mv_size : 1)) == NULL) {
                rc = -ENOMEM;
                break;
            }
            memcpy(copy, v.mv_data, v.mv_size);
            rc = sb__put(txn, dbi, &key, copy, v.mv_size, 0);
        } else {
            n = 0;
            while (rc == 0 && lmdb == 0) {
                if (v.mv_size > sizeof(held[0].bytes)) {
                    rc = SB_E_CORRUPT;
                    break;
                }
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    struct dup *grown = realloc(held, cap * sizeof(*held));
                    if (grown == NULL) {
                        rc = -ENOMEM;
                        break;
                    }
                    held = grown;
                }
                held[n].len = (uint8_t)v.mv_size;
                memcpy(held[n++].bytes, v.mv_data, v.mv_size);
                lmdb = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
            }
            if (rc == 0 && lmdb != MDB_NOTFOUND)
                rc = sb__lmdb_rc(lmdb);
            MDB_val dk = {key.len, key.buf};
            if (rc == 0)
                rc = sb__lmdb_rc(mdb_del(txn, dbi, &dk, NULL));
            for (size_t i = 0; rc == 0 && i < n; i++)
                rc = sb__put(txn, dbi, &key, held[i].bytes, held[i].len, 0);
        }
        if (rc != 0)
            break;
        MDB_val at = {key.len, key.buf};
        lmdb = mdb_cursor_get(cur, &at, &v, MDB_SET);
        if (lmdb == 0)
            lmdb = mdb_cursor_get(cur, &k, &v, dups ? MDB_NEXT_NODUP : MDB_NEXT);
    }
    if (rc == 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    mdb_cursor_close(cur);
    free(held);
    free(copy);
    return rc;
}

/* Seals every logged database: all but meta and the change log. */
static int migrate_3_to_4(sb_store_t *store, MDB_txn *txn)
{
    int rc = 0;
    for (MDB_dbi dbi = 0; rc == 0 && dbi < SB_DBI_SLOTS; dbi++)
        if (store->dbi_names[dbi] != NULL)
            rc = seal_db(txn, dbi);
    return rc;
}

/*
 * Schema 1 to 2: a membership's value gains the user's profile, and every
 * (Call Center, profile) pair gets its softphone view. The views are made
 * without the adapters (they are not loaded yet); the server refreshes them
 * once they are.
 */
static int migrate_1_to_2(sb_store_t *store, MDB_txn *txn)
{
    MDB_cursor *cur;
    int rc = sb__lmdb_rc(mdb_cursor_open(txn, store->user_cc, &cur));
    if (rc != 0)
        return rc;
    MDB_val k, v;
    int lmdb = sb__cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && lmdb == 0) {
        const char *key = k.mv_data;
        size_t org_len = strnlen(key, k.mv_size);
        if (v.mv_size != SB_SFID_LEN || org_len > SB_ORG_ID_MAX ||
            k.mv_size - org_len - 1 != SB_SFID_LEN) {
            rc = SB_E_CORRUPT;
            break;
        }
        char org[SB_ORG_ID_MAX + 1];
        sb_sfid_t user, cc;
        memcpy(org, key, org_len);
        org[org_len] = '\0';
        memcpy(user.s, key + org_len + 1, SB_SFID_LEN);
        user.s[SB_SFID_LEN] = '\0';
        memcpy(cc.s, v.mv_data, SB_SFID_LEN);
        cc.s[SB_SFID_LEN] = '\0';
        sb_key_t ukey;
        MDB_val uval;
        sb_user_t record;
        rc = sb__key(&ukey, org, user.s);
        if (rc == 0)
            rc = sb__get(txn, store->users, &ukey, &uval);
        if (rc == 0 && sb_codec_decode_user(uval.mv_data, uval.mv_size, &record) != 0)
            rc = SB_E_CORRUPT;
        if (rc != 0)
            break;
        char value[SB_SFID_LEN + SB_PROFILE_NAME_MAX];
        size_t plen = strlen(record.profile);
        memcpy(value, cc.s, SB_SFID_LEN);
        memcpy(value + SB_SFID_LEN, record.profile, plen);
        /* A plain put, then the cursor finds its place again. A cursor put
         * of a longer value (MDB_CURRENT) lost memberships with LMDB 0.9.24:
         * a_schema_1_directory_is_migrated caught it. */
        rc = sb__put(txn, store->user_cc, &ukey, value, SB_SFID_LEN + plen, 0);
        if (rc == 0)
            rc = sb__view_ensure(store, txn, org, &cc, record.profile);
        if (rc == 0) {
            MDB_val at = {ukey.len, ukey.buf};
            lmdb = sb__cursor_get(cur, &at, &v, MDB_SET);
            if (lmdb == 0)
                lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT);
        }
    }
    mdb_cursor_close(cur);
    if (rc == 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    return rc;
}

/* Reads the stored schema version; a fresh environment gets the current one. */
static int check_schema(sb_store_t *store, MDB_txn *txn, const char *dir, sb_err_t *err)
{
    MDB_val k = {sizeof(META_SCHEMA) - 1, META_SCHEMA}, v;
    int rc = mdb_get(txn, store->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        uint32_t version = SB_STORE_SCHEMA_VERSION;
        MDB_val nv = {sizeof(version), &version};
        return sb__lmdb_rc(mdb_put(txn, store->meta, &k, &nv, 0));
    }
    if (rc != 0)
        return sb__lmdb_rc(rc);
    uint32_t version;
    if (v.mv_size != sizeof(version))
        return sb_err_set(err, SB_E_CORRUPT,
                          "The schema version in %s is unreadable; restore a backup (sbstore "
                          "restore BACKUP DATA_DIR).",
                          dir);
    memcpy(&version, v.mv_data, sizeof(version));
    if (version > SB_STORE_SCHEMA_VERSION)
        return sb_err_set(err, SB_E_SCHEMA_TOO_NEW,
                          "The data directory %s has schema version %u; this build reads "
                          "versions %d to %d. Use a newer Switchboard.",
                          dir, version, SB_STORE_SCHEMA_MIN, SB_STORE_SCHEMA_VERSION);
    if (version < SB_STORE_SCHEMA_MIN)
        return sb_err_set(err, SB_E_CORRUPT,
                          "The data directory %s has schema version %u, older than any "
                          "Switchboard release (%d to %d); it cannot be read.",
                          dir, version, SB_STORE_SCHEMA_MIN, SB_STORE_SCHEMA_VERSION);
    if (version < 4) {
        rc = migrate_3_to_4(store, txn);
        if (rc != 0)
            return sb_err_set(err, rc,
                              "Adding checksums to the records of %s (schema %u to 4) failed "
                              "(%s); nothing was changed.",
                              dir, version, sb_err_name(rc));
    }
    if (version == 1) {
        rc = migrate_1_to_2(store, txn);
        if (rc != 0)
            return sb_err_set(err, rc,
                              "Migrating %s from schema 1 to 2 failed (%s); nothing was "
                              "changed.",
                              dir, sb_err_name(rc));
        version = 2;
    }
    if (version < 5) {
        rc = sb__migrate_4_to_5(store, txn, dir);
        if (rc != 0)
            return sb_err_set(err, rc,
                              "Migrating %s to schema 5 (org numbers, compact membership keys) "
                              "failed (%s); nothing was changed.",
                              dir, sb_err_name(rc));
    }
    /* Schema 2 to 3: the change log. open_dbis made its empty database; the
     * log starts at sequence 1 with the first write after the upgrade, and
     * holds nothing of what came before (a replica starts from a copy).
     * Schema 3 to 4: the checksums, added above, before 1 to 2, whose
     * reads and writes are the sealed ones of this build.
     * Schema 4 to 5: after 1 to 2, whose keys are schema 4's. */
    if (version < SB_STORE_SCHEMA_VERSION) {
        version = SB_STORE_SCHEMA_VERSION;
        MDB_val nv = {sizeof(version), &version};
        return sb__lmdb_rc(mdb_put(txn, store->meta, &k, &nv, 0));
    }
    return 0;
}

/* Creates `dir` and any missing parents (as mkdir -p), each mode 0700: the
 * default data directory, ~/.local/share/switchboard, may be the first
 * thing under a fresh home directory. */
static int make_dir(const char *dir, sb_err_t *err)
{
    char path[4096];
    if (strlen(dir) >= sizeof(path))
        return sb_err_set(err, -EINVAL, "The data directory path is too long.");
    memcpy(path, dir, strlen(dir) + 1);
    for (char *p = path + 1;; p++) {
        bool end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return sb_err_set(err, errno == EACCES ? -EACCES : -EIO,
                              "Cannot create the data directory %s (at %s): %s.", dir, path,
                              strerror(errno));
        if (end)
            break;
        *p = '/';
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sb_err_set(err, -EINVAL, "The data directory %s is not a directory.", dir);
    return 0;
}

int sb_store_open(const sb_store_opts_t *opts, sb_store_t **out, sb_err_t *err)
{
    *out = NULL;
    sb_err_clear(err);
    if (opts == NULL || opts->dir == NULL || opts->dir[0] == '\0')
        return sb_err_set(err, -EINVAL, "No data directory was given.");
    /* The ids' random bits (sb__new_id) come from libsodium; sodium_init is
     * idempotent and thread-safe, and < 0 only when no random source exists. */
    if (sodium_init() < 0)
        return sb_err_set(err, -EIO, "libsodium found no source of random bytes.");
    int rc = make_dir(opts->dir, err);
    if (rc != 0)
        return rc;

    sb_store_t *store = calloc(1, sizeof(*store));
    if (store == NULL)
        return sb_err_default(err, -ENOMEM);
    store->lock_fd = -1;
    if (strlen(opts->dir) >= sizeof(store->dir)) {
        free(store);
        return sb_err_set(err, -EINVAL, "The data directory path is too long.");
    }
    memcpy(store->dir, opts->dir, strlen(opts->dir) + 1);
    pthread_rwlock_init(&store->resize_lock, NULL);
    pthread_mutex_init(&store->plan_lock, NULL);
    pthread_mutex_init(&store->readers_lock, NULL);
    /* The opener (the first event loop) keeps a cached read transaction. */
    store->readers[0] = reader_new();
    if (store->readers[0] == NULL) {
        pthread_rwlock_destroy(&store->resize_lock);
        pthread_mutex_destroy(&store->readers_lock);
        free(store);
        return sb_err_default(err, -ENOMEM);
    }
    store->readers[0]->thread = pthread_self();
    store->n_readers = 1;
    store->max_map_bytes = opts->max_map_bytes ? opts->max_map_bytes : SB_STORE_DEFAULT_MAX_MAP;
    store->map_bytes =
        opts->initial_map_bytes ? opts->initial_map_bytes : SB_STORE_DEFAULT_INITIAL_MAP;
    if (store->map_bytes > store->max_map_bytes)
        store->map_bytes = store->max_map_bytes;

    rc = take_dir_lock(opts->dir, &store->lock_fd, err);
    if (rc != 0)
        goto fail;
    /* Before LMDB maps it: a truncated file would be a SIGBUS at the first
     * read past its end, and a lost one an empty store (datafile.c). */
    bool fresh;
    char why[512];
    rc = sb__data_file_check(opts->dir, &fresh, why, sizeof(why));
    /* Every page the newest commit reaches, before LMDB trusts it: a page
     * damaged in its structure would crash LMDB's cursors (pagewalk.c).
     * The writer lock is ours: nothing changes the file meanwhile. */
    if (rc == 0 && !fresh)
        rc = sb__data_file_walk(opts->dir, 0, why, sizeof(why));
    if (rc != 0) {
        sb_err_set(err, rc, "%s", why);
        goto fail;
    }

    /* MDB_NOTLS: read transactions belong to their handle, not to a thread,
     *   so a cached one can be reset and renewed, and reader slots are not
     *   tied to thread lifetimes.
     * MDB_NORDAHEAD: look-ups are random; read-ahead would fill the page
     *   cache with neighbours nobody asked for once the index outgrows RAM.
     * No MDB_WRITEMAP: the group-commit writer needs nested transactions,
     *   and a stray pointer must not be able to scribble on the database.
     * MDB_NOSYNC only when asked for: full durability is the default. */
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
    if (opts->durability == SB_DURABILITY_NONE)
        flags |= MDB_NOSYNC;
    rc = sb__lmdb_rc(mdb_env_create(&store->env));
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_env_set_maxdbs(store->env, 24));
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_env_set_maxreaders(store->env, 1024));
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_env_set_mapsize(store->env, store->map_bytes));
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_env_open(store->env, opts->dir, flags, 0600));
    if (rc != 0) {
        /* The default sentence has its own period. */
        sb_err_set(err, rc, "Cannot open the store in %s: %s", opts->dir, sb_err_message(rc));
        goto fail;
    }
    /* The environment may already be larger than asked (another run grew it). */
    MDB_envinfo info;
    if (mdb_env_info(store->env, &info) == 0 && info.me_mapsize > store->map_bytes)
        store->map_bytes = info.me_mapsize;
    if (store->map_bytes > store->max_map_bytes)
        store->max_map_bytes = store->map_bytes;

    int dead = 0;
    mdb_reader_check(store->env, &dead); /* slots of readers that died */
    MDB_stat est;
    store->value_env.psize = mdb_env_stat(store->env, &est) == 0 ? est.ms_psize : 4096;
    mdb_env_set_userctx(store->env, &store->value_env); /* see value.c */
    sb__value_env_locate(store->env);

    /* A migration (schema 4's adds four bytes to every value) may need a
     * larger map than the directory had: grown and run again, as writes do. */
    for (;;) {
        MDB_txn *txn = NULL;
        rc = sb__lmdb_rc(mdb_txn_begin(store->env, NULL, 0, &txn));
        if (rc == 0)
            rc = open_dbis(store, txn);
        if (rc == 0)
            rc = check_schema(store, txn, opts->dir, err);
        if (rc == 0)
            rc = sb__lmdb_rc(mdb_txn_commit(txn));
        else if (txn != NULL)
            mdb_txn_abort(txn);
        if (rc != -ENOSPC || grow_map(store) != 0)
            break;
        sb_err_clear(err);
    }
    if (rc != 0) {
        if (err == NULL || err->code != rc)
            sb_err_set(err, rc, "Cannot open the store in %s: %s", opts->dir, sb_err_message(rc));
        goto fail;
    }
    sb__value_env_locate(store->env); /* a new store's meta exists now */
    /* The marker that tells this store, lost, from a new one. */
    rc = sb__data_file_mark(opts->dir);
    if (rc != 0) {
        sb_err_set(err, rc, "Cannot write %s/%s, which marks the directory as a store's: %s.",
                   opts->dir, SB_MARKER_FILE, strerror(-rc));
        goto fail;
    }
    *out = store;
    return 0;
fail:
    sb_store_close(store);
    return rc;
}

void sb_store_close(sb_store_t *store)
{
    if (store == NULL)
        return;
    sb_store_batch_abort(store);
    /* Every reader's thread is done with the store by now (its caller's
     * contract): their transactions are reset, and aborting one only frees it. */
    for (size_t i = 0; i < store->n_readers; i++)
        reader_free(store->readers[i]);
    if (store->env != NULL)
        mdb_env_close(store->env);
    if (store->lock_fd >= 0)
        close(store->lock_fd); /* releases the flock */
    pthread_rwlock_destroy(&store->resize_lock);
    sb__plan_memo_free(store);
    pthread_mutex_destroy(&store->plan_lock);
    pthread_mutex_destroy(&store->readers_lock);
    sb__capture_free(store);
    free(store);
}

int sb_store_readers_check(sb_store_t *store)
{
    int dead = 0;
    mdb_reader_check(store->env, &dead);
    return dead;
}

void sb_store_usage(sb_store_t *store, sb_store_usage_t *usage)
{
    memset(usage, 0, sizeof(*usage));
    MDB_envinfo info;
    MDB_stat env_stat;
    if (mdb_env_info(store->env, &info) == 0 && mdb_env_stat(store->env, &env_stat) == 0) {
        usage->used_bytes = (uint64_t)(info.me_last_pgno + 1) * env_stat.ms_psize;
        usage->readers = info.me_numreaders;
        usage->max_readers = info.me_maxreaders;
    }
    usage->map_bytes =
        __atomic_load_n(&store->map_bytes, __ATOMIC_RELAXED); /* the writer grows it */
    usage->max_map_bytes = store->max_map_bytes;
}

int sb_store_stats(sb_store_t *store, sb_store_stats_t *stats, sb_err_t *err)
{
    memset(stats, 0, sizeof(*stats));
    MDB_txn *txn;
    int rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    const struct {
        MDB_dbi dbi;
        uint64_t *count;
    } counted[] = {
        {store->orgs, &stats->orgs},
        {store->callcenters, &stats->callcenters},
        {store->users, &stats->users},
        {store->user_cc, &stats->members},
    };
    for (size_t i = 0; rc == 0 && i < sizeof(counted) / sizeof(counted[0]); i++) {
        MDB_stat st;
        rc = sb__lmdb_rc(mdb_stat(txn, counted[i].dbi, &st));
        if (rc == 0)
            *counted[i].count = st.ms_entries;
    }
    MDB_envinfo info;
    MDB_stat env_stat;
    if (rc == 0 && mdb_env_info(store->env, &info) == 0 && mdb_env_stat(store->env, &env_stat) == 0)
        stats->used_bytes = (uint64_t)(info.me_last_pgno + 1) * env_stat.ms_psize;
    stats->map_bytes = __atomic_load_n(&store->map_bytes, __ATOMIC_RELAXED);
    stats->max_map_bytes = store->max_map_bytes;
    stats->schema_version = SB_STORE_SCHEMA_VERSION;
    sb__read_end(store, txn);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

static bool has_prefix(const MDB_val *key, const sb_key_t *prefix)
{
    return key->mv_size >= prefix->len && memcmp(key->mv_data, prefix->buf, prefix->len) == 0;
}

int sb__page(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *prefix, const sb_key_t *start,
             bool exclusive, size_t limit, sb_row_fn fn, void *ctx, size_t *count, bool *more)
{
    *count = 0;
    *more = false;
    MDB_cursor *cur;
    int rc = sb__lmdb_rc(mdb_cursor_open(txn, dbi, &cur));
    if (rc != 0)
        return rc;
    MDB_val k = {start->len, (void *)start->buf}, v;
    int lmdb = sb__cursor_get(cur, &k, &v, start->len ? MDB_SET_RANGE : MDB_FIRST);
    if (lmdb == 0 && exclusive && k.mv_size == start->len &&
        memcmp(k.mv_data, start->buf, start->len) == 0)
        lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT);
    while (rc == 0 && lmdb == 0 && has_prefix(&k, prefix)) {
        if (*count == limit) {
            *more = true;
            break;
        }
        rc = fn(txn, &k, &v, (*count)++, ctx);
        lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == 0 && lmdb != 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    mdb_cursor_close(cur);
    return rc;
}

int sb__list(sb_store_t *store, const char *org, MDB_dbi dbi, const char *after, size_t limit,
             size_t row_size, sb_row_fn fn, void **rows, size_t *n, bool *more, sb_err_t *err)
{
    *rows = NULL;
    *n = 0;
    *more = false;
    int rc = sb__check_limit(limit, err);
    if (rc != 0)
        return rc;
    sb_list_ctx_t ctx = {store, org, calloc(limit, row_size)};
    if (ctx.rows == NULL)
        return sb_err_default(err, -ENOMEM);
    MDB_txn *txn;
    if ((rc = sb__read_begin(store, &txn, err)) != 0) {
        free(ctx.rows);
        return rc;
    }
    sb_key_t prefix = {.len = 0}, start;
    if (org != NULL) {
        rc = sb__org_must_exist(store, txn, org, err);
        if (rc == 0 && (rc = sb__key(&prefix, org, "")) == 0 &&
            (rc = sb__key(&start, org, after ? after : "")) != 0)
            rc = sb_err_set(err, rc, "The argument 'after' is longer than any id of this list.");
    } else if ((rc = sb__key(&start, after ? after : "", NULL)) != 0) {
        rc = sb_err_set(err, rc, "The argument 'after' is longer than any id of this list.");
    }
    if (rc == 0)
        rc = sb__page(txn, dbi, &prefix, &start, after != NULL, limit, fn, &ctx, n, more);
    sb__read_end(store, txn);
    if (rc != 0 || *n == 0) {
        free(ctx.rows);
        *n = 0;
        *more = false;
        return rc == 0 ? 0 : sb_err_default(err, rc);
    }
    *rows = ctx.rows;
    return 0;
}
