/*
 * Org numbers and the membership key (schema 5).
 *
 * Each org has a number in this store, given when the org is created, so
 * that a membership's key (user_cc) begins with 4 bytes instead of the org's
 * id and a NUL (softphone_check.h, sb_member_key). The database org_ids
 * holds both directions and the next number to give:
 *
 *   org                  -> big-endian u32, the org's number (1 and up)
 *   \0 big-endian u32    -> org: whose number it is
 *   \0                   -> big-endian u32, the next number to give
 *
 * Org ids start with a letter or a digit, so the keys that begin with a NUL
 * are never an org's. A deleted org's number is never given again (the
 * counter only rises): a number names one org for the life of the store,
 * so that nothing that kept one (a reader's snapshot, a change-log entry
 * being applied, a tool's output) can ever find another org's members with
 * it. 2^32 - 1 creations are allowed; the next is refused with
 * ORG_NUMBERS_USED_UP.
 *
 * org_ids is a logged database like the others: its writes are in the change
 * log, so a replica has the primary's numbers and applies the primary's
 * membership keys as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "softphone_check.h"
#include "store_internal.h"

/* The reverse key of `num`, or (num 0) the counter's key. */
static void reverse_key(uint32_t num, sb_key_t *key)
{
    key->buf[0] = '\0';
    key->len = 1;
    if (num != 0) {
        sb_org_num_put(num, (uint8_t *)key->buf + 1);
        key->len += SB_ORG_NUM_LEN;
    }
}

int sb__org_num(sb_store_t *store, MDB_txn *txn, const char *org, uint32_t *num)
{
    size_t len = strnlen(org, SB_ORG_ID_MAX + 1);
    if (len == 0 || len > SB_ORG_ID_MAX) {
        *num = 0;
        return -EINVAL;
    }
    int rc = sb_org_num_find(txn, store->org_ids, org, len, num, NULL);
    return rc == 0 ? 0 : sb__lmdb_rc(rc);
}

int sb__member_key(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *user,
                   sb_key_t *key)
{
    key->len = 0;
    uint32_t num;
    int rc = sb__org_num(store, txn, org, &num);
    if (rc == -ENOENT) {
        /* Every org is given one when it is created (or migrated to schema 5). */
        sb_err_note_corrupt("the number of org %s (org_ids), which is missing", org);
        return SB_E_CORRUPT;
    }
    if (rc != 0)
        return rc;
    key->len = sb_member_key(num, user, (uint8_t *)key->buf);
    return key->len == SB_MEMBER_KEY_LEN ? 0 : -EINVAL;
}

int sb__org_prefix(sb_store_t *store, MDB_txn *txn, MDB_dbi dbi, const char *org, sb_key_t *out)
{
    out->len = 0;
    if (dbi == store->tokens)
        return SB_ORG_KEYS_VALUE; /* not keyed by org: each record names its org */
    if (dbi >= SB_DBI_SLOTS || store->dbi_names[dbi] == NULL)
        return -ENOENT; /* meta, changes, changes_org: not the org's records */
    if (dbi == store->org_ids)
        return -EINVAL; /* each store numbers its orgs itself */
    if (dbi == store->orgs)
        return sb__key(out, org, NULL) == 0 ? SB_ORG_KEYS_EXACT : -EINVAL;
    if (dbi == store->user_cc) {
        uint32_t num;
        int rc = sb__org_num(store, txn, org, &num);
        if (rc == 0) {
            sb_org_num_put(num, (uint8_t *)out->buf);
            out->len = SB_ORG_NUM_LEN;
        }
        return rc == 0 ? SB_ORG_KEYS_PREFIX : rc;
    }
    /* "org\0": this org's keys and no other's (an org id holds no NUL). */
    return sb__key(out, org, "") == 0 ? SB_ORG_KEYS_PREFIX : -EINVAL;
}

/* The next number to give: 0 when none is left. */
static int next_num(sb_store_t *store, MDB_txn *txn, uint32_t *next)
{
    sb_key_t key;
    reverse_key(0, &key);
    MDB_val val;
    int rc = sb__get(txn, store->org_ids, &key, &val);
    if (rc == -ENOENT) {
        *next = 1;
        return 0;
    }
    if (rc == 0 && val.mv_size != SB_ORG_NUM_LEN) {
        sb__value_damaged(txn, store->org_ids, &(MDB_val){key.len, key.buf});
        rc = SB_E_CORRUPT;
    }
    if (rc == 0)
        *next = sb_org_num_read(val.mv_data);
    return rc;
}

/* Gives `org` number `num` (both directions). */
static int put_num(sb_store_t *store, MDB_txn *txn, const char *org, uint32_t num)
{
    uint8_t be[SB_ORG_NUM_LEN];
    sb_org_num_put(num, be);
    sb_key_t key;
    int rc = sb__key(&key, org, NULL);
    if (rc == 0)
        rc = sb__put(txn, store->org_ids, &key, be, sizeof(be), 0);
    reverse_key(num, &key);
    if (rc == 0)
        rc = sb__put(txn, store->org_ids, &key, org, strlen(org), 0);
    return rc;
}

int sb__org_num_give(sb_store_t *store, MDB_txn *txn, const char *org, uint32_t *num, sb_err_t *err)
{
    *num = 0;
    uint32_t next;
    int rc = next_num(store, txn, &next);
    if (rc != 0)
        return rc;
    if (next == 0)
        return sb_err_set(err, SB_E_ORG_NUMBERS_USED_UP,
                          "This store has given out every org number (4,294,967,295 orgs were "
                          "created in it), so it cannot create org '%s': create it on another "
                          "shard.",
                          org);
    rc = put_num(store, txn, org, next);
    if (rc == 0) {
        uint8_t be[SB_ORG_NUM_LEN];
        sb_org_num_put(next + 1, be); /* 0 after the last: none left */
        sb_key_t key;
        reverse_key(0, &key);
        rc = sb__put(txn, store->org_ids, &key, be, sizeof(be), 0);
    }
    if (rc == 0)
        *num = next;
    return rc;
}

int sb__org_num_drop(sb_store_t *store, MDB_txn *txn, const char *org)
{
    uint32_t num;
    int rc = sb__org_num(store, txn, org, &num);
    if (rc == -ENOENT)
        return 0; /* nothing to drop */
    sb_key_t key;
    if (rc == 0)
        rc = sb__key(&key, org, NULL);
    if (rc == 0)
        rc = sb__del(txn, store->org_ids, &key);
    reverse_key(num, &key);
    if (rc == 0 && (rc = sb__del(txn, store->org_ids, &key)) == -ENOENT)
        rc = 0; /* a lost reverse entry: the forward one was what counted */
    return rc;
}

/*
 * Schema 4 to 5. Every org gets a number, in the order of their ids (so
 * that two copies of one store, migrated apart, give the same numbers: a
 * replica and its primary may be upgraded one after the other), and every
 * membership moves from "org \0 user id" to sb_member_key's 13 bytes, its
 * value resealed for the new key. One transaction: a failure (or a crash)
 * leaves schema 4 as it was, and the next open starts again.
 *
 * The old keys begin with the org's first character (a letter or digit,
 * 0x30 and up) and are 20 bytes or more; the new ones are 13 bytes, so the
 * walk tells them apart by length and never converts a key twice.
 */
int sb__migrate_4_to_5(sb_store_t *store, MDB_txn *txn, const char *dir)
{
    /* The numbers. The orgs' cursor only reads; puts go to org_ids. */
    MDB_cursor *cur;
    int rc = sb__lmdb_rc(mdb_cursor_open(txn, store->orgs, &cur));
    if (rc != 0)
        return rc;
    uint32_t next;
    if ((rc = next_num(store, txn, &next)) != 0) {
        mdb_cursor_close(cur);
        return rc;
    }
    size_t orgs = 0;
    MDB_val k, v;
    int lmdb = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && lmdb == 0) {
        char org[SB_ORG_ID_MAX + 1];
        if (k.mv_size == 0 || k.mv_size > SB_ORG_ID_MAX ||
            memchr(k.mv_data, '\0', k.mv_size) != NULL) {
            sb_err_note_corrupt("the org key of %zu bytes in orgs, which is no org id", k.mv_size);
            rc = SB_E_CORRUPT;
            break;
        }
        memcpy(org, k.mv_data, k.mv_size);
        org[k.mv_size] = '\0';
        uint32_t had;
        rc = sb__org_num(store, txn, org, &had);
        if (rc == -ENOENT) {
            rc = next == 0 ? SB_E_ORG_NUMBERS_USED_UP : put_num(store, txn, org, next);
            next++;
            orgs++;
        }
        if (rc == 0)
            lmdb = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    if (rc == 0) {
        uint8_t be[SB_ORG_NUM_LEN];
        sb_org_num_put(next, be);
        sb_key_t key;
        reverse_key(0, &key);
        rc = sb__put(txn, store->org_ids, &key, be, sizeof(be), 0);
    }
    if (rc != 0)
        return rc;

    /* The memberships. */
    MDB_stat st;
    if ((rc = sb__lmdb_rc(mdb_stat(txn, store->user_cc, &st))) != 0)
        return rc;
    if (st.ms_entries > 0)
        sb_log(SB_LOG_INFO,
               "Migrating %s to schema 5: %zu orgs numbered, %zu memberships to rekey (one "
               "transaction, about a second a million)",
               dir, orgs, st.ms_entries);
    if ((rc = sb__lmdb_rc(mdb_cursor_open(txn, store->user_cc, &cur))) != 0)
        return rc;
    size_t moved = 0;
    char last_org[SB_ORG_ID_MAX + 1] = "";
    uint32_t num = 0;
    lmdb = sb__cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && lmdb == 0) {
        if (k.mv_size == SB_MEMBER_KEY_LEN) { /* converted already */
            lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        const char *key = k.mv_data;
        size_t org_len = strnlen(key, k.mv_size);
        if (org_len == 0 || org_len > SB_ORG_ID_MAX || k.mv_size != org_len + 1 + SB_SFID_LEN ||
            v.mv_size > SB_SFID_LEN + SB_PROFILE_NAME_MAX + 2) {
            sb__value_damaged(txn, store->user_cc, &k);
            rc = SB_E_CORRUPT;
            break;
        }
        sb_key_t old;
        memcpy(old.buf, k.mv_data, k.mv_size);
        old.len = k.mv_size;
        char value[SB_SFID_LEN + SB_PROFILE_NAME_MAX + 2];
        size_t vlen = v.mv_size;
        memcpy(value, v.mv_data, vlen);
        char org[SB_ORG_ID_MAX + 1];
        memcpy(org, key, org_len);
        org[org_len] = '\0';
        sb_sfid_t user;
        memcpy(user.s, key + org_len + 1, SB_SFID_LEN);
        user.s[SB_SFID_LEN] = '\0';
        /* One org's members are together: its number is looked up once. */
        if (strcmp(org, last_org) != 0) {
            rc = sb__org_num(store, txn, org, &num);
            if (rc == -ENOENT) {
                sb_err_note_corrupt("the memberships of org %s, which does not exist", org);
                rc = SB_E_CORRUPT;
            }
            if (rc != 0)
                break;
            memcpy(last_org, org, org_len + 1);
        }
        sb_key_t nkey;
        nkey.len = sb_member_key(num, &user, (uint8_t *)nkey.buf);
        if (nkey.len == 0) {
            sb__value_damaged(txn, store->user_cc, &(MDB_val){old.len, old.buf});
            rc = SB_E_CORRUPT;
            break;
        }
        rc = sb__put(txn, store->user_cc, &nkey, value, vlen, 0);
        if (rc == 0)
            rc = sb__del(txn, store->user_cc, &old);
        if (rc != 0)
            break;
        if (++moved % 1000000 == 0)
            sb_log(SB_LOG_INFO, "Migrating %s to schema 5: %zu of %zu memberships rekeyed", dir,
                   moved, st.ms_entries);
        /* The cursor finds its place again after the writes beside it:
         * the next old key is the first after the one just deleted. */
        MDB_val at = {old.len, old.buf};
        lmdb = sb__cursor_get(cur, &at, &v, MDB_SET_RANGE);
        k = at;
    }
    mdb_cursor_close(cur);
    if (rc == 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    if (rc == 0 && moved > 0)
        sb_log(SB_LOG_INFO, "Migrated %s to schema 5: %zu memberships rekeyed", dir, moved);
    return rc;
}
