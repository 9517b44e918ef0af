/* Backups: the compacted copy, its sequence, the trailer (backup.h). */
#include "backup.h"

#include <endian.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static const uint8_t magic[8] = {'S', 'B', 'B', 'A', 'C', 'K', 'U', 'P'};

void sb_backup_trailer_pack(const sb_backup_trailer_t *t, uint8_t out[SB_BACKUP_TRAILER_BYTES])
{
    memset(out, 0, SB_BACKUP_TRAILER_BYTES);
    memcpy(out, magic, sizeof(magic));
    uint32_t format = htobe32(SB_BACKUP_FORMAT);
    uint64_t seq = htobe64(t->seq), size = htobe64(t->image_bytes);
    memcpy(out + 8, &format, 4);
    memcpy(out + 16, &seq, 8);
    memcpy(out + 24, &size, 8);
    memcpy(out + 32, t->hash, SB_BACKUP_HASH_BYTES);
}

int sb_backup_trailer_parse(const uint8_t in[SB_BACKUP_TRAILER_BYTES], sb_backup_trailer_t *t)
{
    memset(t, 0, sizeof(*t));
    uint32_t format;
    memcpy(&format, in + 8, 4);
    if (memcmp(in, magic, sizeof(magic)) != 0 || be32toh(format) != SB_BACKUP_FORMAT)
        return -EBADMSG;
    uint64_t seq, size;
    memcpy(&seq, in + 16, 8);
    memcpy(&size, in + 24, 8);
    t->seq = be64toh(seq);
    t->image_bytes = be64toh(size);
    memcpy(t->hash, in + 32, SB_BACKUP_HASH_BYTES);
    return 0;
}

void sb_backup_hash_hex(const uint8_t hash[SB_BACKUP_HASH_BYTES],
                        char out[2 * SB_BACKUP_HASH_BYTES + 1])
{
    static const char digits[] = "0123456789abcdef";
    size_t at = 0;
    for (size_t i = 0; i < SB_BACKUP_HASH_BYTES; i++) {
        out[at++] = digits[hash[i] >> 4];
        out[at++] = digits[hash[i] & 15];
    }
    out[at] = '\0';
}

int sb_store_backup_copy(sb_store_t *store, int fd, sb_err_t *err)
{
    /* Shared, as any reader: growing the map waits for the copy's end. */
    pthread_rwlock_rdlock(&store->resize_lock);
    int lmdb = mdb_env_copyfd2(store->env, fd, MDB_CP_COMPACT);
    pthread_rwlock_unlock(&store->resize_lock);
    if (lmdb == 0)
        return 0;
    int rc = sb__lmdb_rc(lmdb);
    return sb_err_set(err, rc, "The backup copy failed: %s", sb_err_message(rc));
}

int sb_backup_image_seq(const char *path, uint64_t *seq, sb_err_t *err)
{
    *seq = 0;
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    MDB_val k = {sizeof("changes_last") - 1, "changes_last"}, v;
    /* MDB_NOLOCK: nobody else opens this file; MDB_RDONLY: nothing changes it. */
    int lmdb = mdb_env_create(&env);
    if (lmdb == 0)
        lmdb = mdb_env_set_maxdbs(env, 24);
    if (lmdb == 0)
        lmdb = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0600);
    if (lmdb == 0)
        lmdb = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (lmdb == 0)
        lmdb = mdb_dbi_open(txn, "meta", 0, &meta);
    if (lmdb == 0) {
        lmdb = mdb_get(txn, meta, &k, &v);
        if (lmdb == 0 && v.mv_size == sizeof(*seq))
            memcpy(seq, v.mv_data, sizeof(*seq));
        else if (lmdb == 0)
            lmdb = MDB_CORRUPTED;
        else if (lmdb == MDB_NOTFOUND)
            lmdb = 0;
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (env != NULL)
        mdb_env_close(env);
    if (lmdb == 0)
        return 0;
    int rc = lmdb == MDB_NOTFOUND || lmdb == MDB_INVALID || lmdb == MDB_CORRUPTED ||
                     lmdb == MDB_VERSION_MISMATCH
                 ? SB_E_CORRUPT
                 : sb__lmdb_rc(lmdb);
    return sb_err_set(err, rc, "%s is not a Switchboard store image: %s.", path,
                      mdb_strerror(lmdb));
}
