/*
 * server.backup, server.backup_read, server.verify: the admin's hot backup
 * and the online verify (docs/operating.md, "Backup and restore").
 *
 * A backup is pulled, never pushed. server.backup makes a compacted copy of
 * the store (mdb_env_copyfd2 in a read snapshot of its own, on the thread
 * pool: the loop and the writer go on) into a spool file in the data
 * directory, unlinked at once, and answers its size, sequence and checksum.
 * The reader then asks for it a chunk at a time with server.backup_read, so
 * the server holds at most one chunk per request of it, and a reader that
 * stops reading costs the server nothing but the spool's disk space: no
 * buffer grows, no snapshot is pinned (the copy was over before the first
 * chunk), and the next server.backup ends a backup idle for BACKUP_IDLE_MS.
 *
 * One backup at a time: `spool` is the one backup, guarded by its mutex
 * (the prepare steps run on several pool threads).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "methods.h"
#include "paths.h"

#define BACKUP_IDLE_MS 60000         /* a reader silent this long has given up */
#define BACKUP_CHUNK_MAX (512 << 10) /* bytes in one server.backup_read reply */

static struct {
    pthread_mutex_t lock;
    bool busy;   /* a backup exists: being copied (fd -1) or being read */
    int fd;      /* the spool, unlinked */
    char id[33]; /* random: a reader names the backup it reads */
    uint64_t size, seq;
    uint8_t hash[SB_BACKUP_HASH_BYTES];
    int64_t used_ms; /* when its reader last asked */
} spool = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ends the backup; the spool's space is freed with its last descriptor. Lock held. */
static void spool_end(void)
{
    if (spool.fd >= 0)
        close(spool.fd);
    spool.fd = -1;
    spool.busy = false;
    spool.id[0] = '\0';
}

static size_t chunk_bytes(const sb_call_t *call)
{
    size_t max = sb_config_reply_max(call->svc->config) / 2; /* room for the reply's framing */
    return max < BACKUP_CHUNK_MAX ? (max < 4096 ? 4096 : max) : BACKUP_CHUNK_MAX;
}

/* What server.backup answers (call->prep). */
typedef struct started {
    char id[33];
    uint64_t size, seq;
    char hash[2 * SB_BACKUP_HASH_BYTES + 1];
} started_t;

/* Copies the store into a new spool in the data directory and reads back
 * its sequence (the copy's own meta changes_last: the copy's read snapshot
 * is LMDB's, so only the copy can say which commit it holds) and checksum. */
static int spool_fill(sb_call_t *call, int *fd_out, uint64_t *size, uint64_t *seq,
                      uint8_t hash[SB_BACKUP_HASH_BYTES], sb_err_t *err)
{
    char path[4096];
    *fd_out = -1;
    if (sb_path_join(path, sizeof(path), call->svc->config->data_dir, "backup.spool.XXXXXX") != 0)
        return sb_err_set(err, -EINVAL, "The data directory path is too long for a backup.");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return sb_err_set(err, -EIO, "Cannot make the backup's spool in %s: %s.",
                          call->svc->config->data_dir, strerror(errno));
    unlink(path); /* the descriptor keeps it: a crash leaves nothing behind */
    int rc = sb_store_backup_copy(call->svc->store, fd, err);
    char self[64]; /* the unlinked file, opened again by LMDB through /proc */
    snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
    if (rc == 0)
        rc = sb_backup_image_seq(self, seq, err);
    off_t end = rc == 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (rc == 0 && end < 0)
        rc = sb_err_set(err, -EIO, "Cannot size the backup's spool: %s.", strerror(errno));
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, SB_BACKUP_HASH_BYTES);
    uint8_t buf[64 << 10];
    for (off_t at = 0; rc == 0 && at < end;) {
        ssize_t got = pread(fd, buf, sizeof(buf), at);
        if (got <= 0) {
            rc = sb_err_set(err, -EIO, "Cannot read the backup's spool: %s.",
                            got < 0 ? strerror(errno) : "it ended early");
            break;
        }
        crypto_generichash_update(&st, buf, (size_t)got);
        at += got;
    }
    crypto_generichash_final(&st, hash, SB_BACKUP_HASH_BYTES);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    *size = (uint64_t)end;
    return 0;
}

static int prepare_backup(sb_call_t *call, sb_err_t *err)
{
    started_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return sb_err_default(err, -ENOMEM);
    pthread_mutex_lock(&spool.lock);
    if (spool.busy && (spool.fd < 0 || now_ms() - spool.used_ms < BACKUP_IDLE_MS)) {
        pthread_mutex_unlock(&spool.lock);
        free(s);
        return sb_err_default(err, SB_E_BACKUP_IN_PROGRESS);
    }
    spool_end(); /* an abandoned one, if any */
    spool.busy = true;
    pthread_mutex_unlock(&spool.lock);

    int fd;
    uint8_t hash[SB_BACKUP_HASH_BYTES];
    int rc = spool_fill(call, &fd, &s->size, &s->seq, hash, err);

    pthread_mutex_lock(&spool.lock);
    if (rc == 0) {
        spool.fd = fd;
        spool.size = s->size;
        spool.seq = s->seq;
        memcpy(spool.hash, hash, sizeof(hash));
        spool.used_ms = now_ms();
        uint8_t raw[16];
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(spool.id, sizeof(spool.id), raw, sizeof(raw));
        memcpy(s->id, spool.id, sizeof(s->id));
        sb_backup_hash_hex(hash, s->hash);
    } else {
        spool.busy = false;
    }
    pthread_mutex_unlock(&spool.lock);
    if (rc != 0) {
        free(s);
        return rc;
    }
    call->prep = s;
    call->prep_free = free;
    return 0;
}

static int server_backup(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const started_t *s = call->prep;
    if (s == NULL)
        return sb_err_default(err, -EINVAL);
    return msgpack_pack_map(pk, 5) | sb_pack_kv_str(pk, "backup", s->id) |
           sb_pack_kv_uint(pk, "bytes", s->size) | sb_pack_kv_uint(pk, "seq", s->seq) |
           sb_pack_kv_str(pk, "checksum", s->hash) |
           sb_pack_kv_uint(pk, "chunk_bytes", chunk_bytes(call));
}

/* What server.backup_read answers (call->prep). */
typedef struct chunk {
    uint64_t offset;
    size_t len;
    bool last;
    uint8_t data[]; /* len bytes */
} chunk_t;

static int prepare_read(sb_call_t *call, sb_err_t *err)
{
    const char *id = sb_arg_str(call, "backup");
    int64_t offset = sb_arg_int(call, "offset", 0);
    size_t max = chunk_bytes(call);
    chunk_t *c = malloc(sizeof(*c) + max);
    if (c == NULL)
        return sb_err_default(err, -ENOMEM);
    int rc = 0;
    /* The read happens under the lock, so that no start can end the spool
     * under it; only backup calls ever wait for this lock. */
    pthread_mutex_lock(&spool.lock);
    if (!spool.busy || spool.fd < 0 || id == NULL || strcmp(id, spool.id) != 0) {
        rc = sb_err_default(err, SB_E_BACKUP_GONE);
    } else if (offset < 0 || (uint64_t)offset > spool.size) {
        rc = sb_err_set(err, -EINVAL, "The offset %lld is past the backup's %llu bytes.",
                        (long long)offset, (unsigned long long)spool.size);
    } else {
        uint64_t left = spool.size - (uint64_t)offset;
        c->offset = (uint64_t)offset;
        c->len = left < max ? (size_t)left : max;
        for (size_t got = 0; rc == 0 && got < c->len;) {
            ssize_t n = pread(spool.fd, c->data + got, c->len - got, offset + (off_t)got);
            if (n <= 0)
                rc = sb_err_set(err, -EIO, "Cannot read the backup's spool: %s.",
                                n < 0 ? strerror(errno) : "it ended early");
            else
                got += (size_t)n;
        }
        c->last = c->offset + c->len == spool.size;
        spool.used_ms = now_ms();
        if (rc == 0 && c->last)
            spool_end(); /* all of it was read: the next backup may start */
    }
    pthread_mutex_unlock(&spool.lock);
    if (rc != 0) {
        free(c);
        return rc;
    }
    call->prep = c;
    call->prep_free = free;
    return 0;
}

static int server_backup_read(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const chunk_t *c = call->prep;
    if (c == NULL)
        return sb_err_default(err, -EINVAL);
    return msgpack_pack_map(pk, 3) | sb_pack_kv_uint(pk, "offset", c->offset) |
           sb_pack_str(pk, "data") | msgpack_pack_bin(pk, c->len) |
           msgpack_pack_bin_body(pk, c->data, c->len) | sb_pack_kv_bool(pk, "last", c->last);
}

/* ---- verify -------------------------------------------------------------- */

static void report_free(void *p)
{
    sb_verify_report_destroy(p);
    free(p);
}

/* On the pool, in a read transaction of its own: neither the loop nor the
 * writer waits for the walk. */
static int prepare_verify(sb_call_t *call, sb_err_t *err)
{
    sb_verify_report_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return sb_err_default(err, -ENOMEM);
    int64_t max = sb_arg_int(call, "max_problems", SB_VERIFY_DEFAULT_MAX);
    if (max < 1 || max > 1000) {
        free(r);
        return sb_err_set(err, -EINVAL, "max_problems is 1 to 1000.");
    }
    int rc = sb_store_verify(call->svc->store, (size_t)max, r, err);
    if (rc != 0) {
        free(r);
        return rc;
    }
    call->prep = r;
    call->prep_free = report_free;
    return 0;
}

static int server_verify(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const sb_verify_report_t *r = call->prep;
    if (r == NULL)
        return sb_err_default(err, -EINVAL);
    int rc = msgpack_pack_map(pk, 5) | sb_pack_kv_bool(pk, "clean", r->total == 0) |
             sb_pack_kv_uint(pk, "records", r->records) |
             sb_pack_kv_uint(pk, "problem_count", r->total) |
             sb_pack_kv_uint(pk, "seq", r->last_seq) | sb_pack_str(pk, "problems") |
             msgpack_pack_array(pk, r->n);
    for (size_t i = 0; i < r->n; i++)
        rc |= msgpack_pack_map(pk, 4) | sb_pack_kv_str(pk, "db", r->problems[i].db) |
              sb_pack_kv_str(pk, "key", r->problems[i].key) |
              sb_pack_kv_str(pk, "problem", r->problems[i].problem) |
              sb_pack_kv_str(pk, "fix", r->problems[i].fix);
    return rc;
}

static const sb_method_t methods[] = {
    {"server.backup",
     "Starts a hot backup: a compacted copy of the whole store, consistent at one change-log "
     "sequence, taken while the server serves; read it with server.backup_read (sbctl backup FILE "
     "does both). One at a time; one whose reader is silent for 60 s is ended by the next.",
     SB_ROLE_ADMIN,
     false,
     false,
     server_backup,
     {{NULL, 0, false, NULL}},
     "{backup: its id, bytes: its size, seq: the change-log sequence it holds every write up to, "
     "checksum: BLAKE2b-256 of its bytes in hex, chunk_bytes: what one server.backup_read returns "
     "at most}",
     "BACKUP_IN_PROGRESS IO_ERROR"},
    {"server.backup_read",
     "Reads the next chunk of the backup that server.backup started; the chunk that ends it ends "
     "the backup.",
     SB_ROLE_ADMIN,
     false,
     false,
     server_backup_read,
     {{"backup", SB_ARG_STRING, true, "the id server.backup returned"},
      {"offset", SB_ARG_INTEGER, true, "where the chunk starts: the bytes read so far"}},
     "{offset, data: binary, up to chunk_bytes, last: whether it ends the backup}",
     "BACKUP_GONE INVALID_ARGUMENT"},
    {"server.verify",
     "Checks every record and invariant of the store in one read snapshot (the same checks as "
     "sbstore verify), off the event loop and the writer.",
     SB_ROLE_ADMIN,
     false,
     false,
     server_verify,
     {{"max_problems", SB_ARG_INTEGER, false, "problems listed at most, 1 to 1000 (default 100)"}},
     "{clean: bool, records: records checked, problem_count: all problems found, seq: the "
     "change-log sequence of the snapshot, problems: [{db, key, problem, fix}] (the first "
     "max_problems)}",
     "INVALID_ARGUMENT"},
};

const sb_method_slice_t sb__backup_methods = {methods, sizeof(methods) / sizeof(methods[0])};

static const sb_method_prep_t preps[] = {
    {"server.backup", prepare_backup},
    {"server.backup_read", prepare_read},
    {"server.verify", prepare_verify},
};

const sb_method_prep_slice_t sb__backup_preps = {preps, sizeof(preps) / sizeof(preps[0])};
