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

#include "softphone_check.h"
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
 * of a write transaction, in memory) is LMDB's own. LMDB 0.9 does not say
 * where its map is (me_mapaddr is the MDB_FIXEDMAP address, NULL here):
 * sb__value_env_locate finds it.
 */
static bool inside_file(MDB_txn *txn, const MDB_val *val)
{
    MDB_env *env = mdb_txn_env(txn);
    const sb_value_env_t *ve = mdb_env_get_userctx(env);
    if (ve == NULL || ve->map == 0)
        return true; /* not located: unbounded, as LMDB is */
    uintptr_t at = (uintptr_t)val->mv_data;
    if (at < ve->map || at - ve->map >= ve->map_size)
        return true;
    /* Inside the page it starts in: a page LMDB reached, and LMDB reaches
     * no page past the snapshot's last, which the file holds. The usual
     * case, and the check's hot path: no call into LMDB. */
    if ((at - ve->map) % ve->psize + val->mv_size <= ve->psize)
        return true;
    MDB_envinfo info;
    if (mdb_env_info(env, &info) != 0 || info.me_mapsize != ve->map_size)
        return true; /* moved since it was located */
    uint64_t end = ((uint64_t)info.me_last_pgno + 1) * ve->psize;
    return at - ve->map <= end && val->mv_size <= end - (at - ve->map);
}

void sb__value_env_locate(MDB_env *env)
{
    sb_value_env_t *ve = mdb_env_get_userctx(env);
    if (ve == NULL)
        return;
    ve->map = 0;
    MDB_envinfo info;
    MDB_txn *txn;
    MDB_dbi meta;
    MDB_cursor *cur;
    if (ve->psize == 0 || mdb_env_info(env, &info) != 0 ||
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
        return;
    /* Any record's page says its own number in its header (mp_pgno, the
     * first 8 bytes): the map begins that many pages before the page. */
    MDB_val k, v;
    if (mdb_dbi_open(txn, "meta", 0, &meta) == 0 && mdb_cursor_open(txn, meta, &cur) == 0) {
        if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0) {
            uintptr_t page = (uintptr_t)v.mv_data & ~(uintptr_t)(ve->psize - 1);
            uint64_t pgno;
            memcpy(&pgno, (const void *)page, sizeof(pgno));
            if (pgno >= 2 && pgno <= info.me_last_pgno && page >= pgno * ve->psize) {
                ve->map = page - (uintptr_t)(pgno * ve->psize);
                ve->map_size = info.me_mapsize;
            }
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
}

/* sb__value_open of a value LMDB just returned in txn: its extent first. */
static int open_read(MDB_txn *txn, const MDB_val *key, MDB_val *val)
{
    if (!inside_file(txn, val))
        return SB_E_CORRUPT;
    return sb__value_open(key, val);
}

/* The org whose number is `num`, from org_ids' reverse entry in txn: an
 * operator's name for a membership key. False when it cannot be read. */
static bool org_of_num(MDB_txn *txn, uint32_t num, char org[SB_ORG_ID_MAX + 1])
{
    const sb_value_env_t *ve = mdb_env_get_userctx(mdb_txn_env(txn));
    for (MDB_dbi d = 0; ve != NULL && d < SB_DBI_SLOTS; d++) {
        if (ve->names[d] == NULL || strcmp(ve->names[d], "org_ids") != 0)
            continue;
        uint8_t rk[1 + SB_ORG_NUM_LEN] = {0};
        sb_org_num_put(num, rk + 1);
        MDB_val k = {sizeof(rk), rk}, v;
        if (mdb_get(txn, d, &k, &v) != 0 || !inside_file(txn, &v) || sb__value_open(&k, &v) != 0 ||
            v.mv_size == 0 || v.mv_size > SB_ORG_ID_MAX)
            return false;
        memcpy(org, v.mv_data, v.mv_size);
        org[v.mv_size] = '\0';
        return sb_org_id_check(org, NULL) == 0;
    }
    return false;
}

size_t sb__key_shown(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    /* A membership's key as the org and user it names ("#number" when the
     * org cannot be read): what sbctl takes, not 13 bytes of binary. */
    uint32_t num;
    sb_sfid_t user;
    char org[SB_ORG_ID_MAX + 1];
    if (strcmp(dbi_name(txn, dbi), "user_cc") == 0 &&
        sb_member_key_parse(key->mv_data, key->mv_size, &num, &user) == 0) {
        int n = org_of_num(txn, num, org) ? snprintf(out, cap, "%s/%s", org, user.s)
                                          : snprintf(out, cap, "#%u/%s", num, user.s);
        return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    }
    /* Else as an operator can type it back: its NULs as '/', other bytes
     * that are not printable as \xNN, cut to what a sentence holds. */
    size_t n = 0;
    const unsigned char *p = key->mv_data;
    for (size_t i = 0; i < key->mv_size && n + 5 < cap; i++) {
        if (p[i] == '\0')
            out[n++] = '/';
        else if (p[i] >= 0x20 && p[i] < 0x7f)
            out[n++] = (char)p[i];
        else
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", p[i]);
    }
    out[n] = '\0';
    return n;
}

void sb__value_damaged(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key)
{
    char shown[160];
    sb__key_shown(txn, dbi, key, shown, sizeof(shown));
    sb_err_note_corrupt("the record %s/%s, whose checksum does not match its bytes",
                        dbi_name(txn, dbi), shown);
}

/*
 * A key that is not found may be one whose stored bytes were damaged: its
 * record is still in its place in the page, under another key, with a value
 * sealed for the true key. A binary search for the true key lands next to
 * that place, so the records on either side of where it lands are checked:
 * a damaged one there makes the answer CORRUPT, not "no such record".
 * Only on the not-found path; a found key costs nothing more.
 */
static int confirm_absent(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key, MDB_cursor *reuse)
{
    MDB_cursor *cur = reuse;
    if (reuse != NULL ? mdb_cursor_renew(txn, reuse) != 0 : mdb_cursor_open(txn, dbi, &cur) != 0)
        return MDB_NOTFOUND; /* nothing to look with: the look-up's own answer */
    MDB_val k = *key, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    int found = MDB_NOTFOUND;
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    for (int side = 0; side < 2 && rc == 0; side++) {
        MDB_val checked = v;
        if (open_read(txn, &k, &checked) != 0) {
            sb__value_damaged(txn, dbi, &k);
            found = MDB_CORRUPTED;
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV_NODUP);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        found = rc; /* LMDB's own complaint about the page */
    if (reuse == NULL)
        mdb_cursor_close(cur);
    return found;
}

int sb__value_get(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key, MDB_val *val)
{
    return sb__value_find(txn, dbi, key, val, NULL);
}

int sb__value_find(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key, MDB_val *val, MDB_cursor *reuse)
{
    MDB_val k = *key;
    int rc = mdb_get(txn, dbi, &k, val);
    if (rc == 0 && open_read(txn, key, val) != 0) {
        sb__value_damaged(txn, dbi, key);
        return MDB_CORRUPTED;
    }
    if (rc == MDB_NOTFOUND)
        rc = confirm_absent(txn, dbi, key, reuse);
    return rc;
}

int sb__cursor_get(MDB_cursor *cur, MDB_val *key, MDB_val *val, MDB_cursor_op op)
{
    MDB_val sought = *key;
    int rc = mdb_cursor_get(cur, key, val, op);
    if (rc == 0 && open_read(mdb_cursor_txn(cur), key, val) != 0) {
        sb__value_damaged(mdb_cursor_txn(cur), mdb_cursor_dbi(cur), key);
        return MDB_CORRUPTED;
    }
    /* A key looked up exactly and not found: as sb__value_get. */
    if (rc == MDB_NOTFOUND && (op == MDB_SET || op == MDB_SET_KEY))
        rc = confirm_absent(mdb_cursor_txn(cur), mdb_cursor_dbi(cur), &sought, NULL);
    return rc;
}
