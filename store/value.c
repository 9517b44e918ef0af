/*
 * The checksum every stored value carries (schema 4): four bytes of XXH3,
 * little-endian, after the value's own bytes. The hash covers the key too
 * (it seeds the value's hash), so that a value that a damaged page shows
 * under another key fails as surely as a value whose bytes changed.
 *
 * Four bytes: enough to catch flipped bits and torn pages (one damaged value
 * in 2^32 passes), at four bytes per record on disk, not eight: issue 16
 * counts the bytes of each membership. The change log keeps values without
 * the trailer (a follower seals them again as it applies them), and meta and
 * the change log's own entries carry none.
 *
 * In a file of its own, with xxHash inlined (XXH_INLINE_ALL, Debian's
 * libxxhash-dev header), so that the read library, which links
 * softphone_check.o out of the store, needs no libxxhash at run time.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static uint32_t value_sum(const MDB_val *key, const void *data, size_t len)
{
    XXH64_hash_t seed = XXH3_64bits(key->mv_data, key->mv_size);
    return (uint32_t)XXH3_64bits_withSeed(data, len, seed);
}

void sb__value_seal(const MDB_val *key, const void *data, size_t len,
                    uint8_t trailer[SB_VALUE_SUM_BYTES])
{
    uint32_t sum = value_sum(key, data, len);
    for (size_t i = 0; i < SB_VALUE_SUM_BYTES; i++)
        trailer[i] = (uint8_t)(sum >> (8 * i));
}

int sb__value_open(const MDB_val *key, MDB_val *val)
{
    if (val->mv_size < SB_VALUE_SUM_BYTES)
        return SB_E_CORRUPT;
    size_t len = val->mv_size - SB_VALUE_SUM_BYTES;
    const uint8_t *stored = (const uint8_t *)val->mv_data + len;
    uint32_t sum = value_sum(key, val->mv_data, len), found = 0;
    for (size_t i = 0; i < SB_VALUE_SUM_BYTES; i++)
        found |= (uint32_t)stored[i] << (8 * i);
    if (sum != found)
        return SB_E_CORRUPT;
    val->mv_size = len;
    return 0;
}

/* The name of `dbi` in the environment of txn: the environment's user
 * context is an sb_value_env_t, or NULL. */
static const char *dbi_name(MDB_txn *txn, MDB_dbi dbi)
{
    const sb_value_env_t *ve = mdb_env_get_userctx(mdb_txn_env(txn));
    return ve != NULL && dbi < SB_DBI_SLOTS && ve->names[dbi] != NULL ? ve->names[dbi] : "?";
}

/*
 * Whether the value lies inside the data file, as far as the newest commit
 * has written it. A damaged page can give a node any size up to 4 GiB, and
 * hashing past the file's end would be a SIGBUS: LMDB bounds the pages it
 * visits, not the sizes it reads in them. A value outside the map (a page
 * of this write transaction, in memory) is LMDB's own.
 */
static bool inside_file(MDB_txn *txn, const MDB_val *val)
{
    MDB_env *env = mdb_txn_env(txn);
    const sb_value_env_t *ve = mdb_env_get_userctx(env);
    MDB_envinfo info;
    if (ve == NULL || mdb_env_info(env, &info) != 0)
        return true;
    uintptr_t map = (uintptr_t)info.me_mapaddr, at = (uintptr_t)val->mv_data;
    if (at < map || at - map >= info.me_mapsize)
        return true;
    uint64_t end = ((uint64_t)info.me_last_pgno + 1) * ve->psize;
    return at - map <= end && val->mv_size <= end - (at - map);
}

/* sb__value_open of a value LMDB just returned in txn: its extent first. */
static int open_read(MDB_txn *txn, const MDB_val *key, MDB_val *val)
{
    if (!inside_file(txn, val))
        return SB_E_CORRUPT;
    return sb__value_open(key, val);
}

void sb__value_damaged(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key)
{
    /* The key as an operator can type it back: its NULs as '/', other bytes
     * that are not printable as \xNN, cut to what a sentence holds. */
    char shown[160];
    size_t n = 0;
    const unsigned char *p = key->mv_data;
    for (size_t i = 0; i < key->mv_size && n + 5 < sizeof(shown); i++) {
        if (p[i] == '\0')
            shown[n++] = '/';
        else if (p[i] >= 0x20 && p[i] < 0x7f)
            shown[n++] = (char)p[i];
        else
            n += (size_t)snprintf(shown + n, sizeof(shown) - n, "\\x%02x", p[i]);
    }
    shown[n] = '\0';
    sb_err_note_corrupt("%s/%s", dbi_name(txn, dbi), shown);
}

int sb__value_get(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key, MDB_val *val)
{
    MDB_val k = *key;
    int rc = mdb_get(txn, dbi, &k, val);
    if (rc == 0 && open_read(txn, key, val) != 0) {
        sb__value_damaged(txn, dbi, key);
        return MDB_CORRUPTED;
    }
    return rc;
}

int sb__cursor_get(MDB_cursor *cur, MDB_val *key, MDB_val *val, MDB_cursor_op op)
{
    int rc = mdb_cursor_get(cur, key, val, op);
    if (rc == 0 && open_read(mdb_cursor_txn(cur), key, val) != 0) {
        sb__value_damaged(mdb_cursor_txn(cur), mdb_cursor_dbi(cur), key);
        return MDB_CORRUPTED;
    }
    return rc;
}
