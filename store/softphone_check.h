#pragma once
/*
 * The softphone check over a read transaction: the one place that decides
 * which reason a user gets, and in which order the tables are read. Two
 * callers, each with its own environment, transaction and table handles:
 *
 *   - the server's sb_store_softphone_check (store/view.c), over the store's
 *     cached read transaction;
 *   - libswitchboard-index (index/index.c), over its own read-only
 *     environment, with a cache of views in front of the views table.
 *
 * The order, and what each step answers:
 *
 *   1. the user id's form: INVALID_USER_ID, before anything is read (the
 *      org's form is not looked at either);
 *   2. the org id's form (sb_softphone_org_init, once for many checks);
 *   3. org_ids at org, then user_cc at (org number, user) (sb_member_key): a
 *      member's Call Center id, profile and flags (no number: an org that
 *      exists without one is damaged, SB_E_CORRUPT; else there is no org);
 *      then views at org\0cc id\0profile: the view, whose reason is the
 *      answer, except that a member of a Service Cloud Voice Call Center
 *      without the licence flag gets NO_SCV_LICENCE;
 *   4. for a non-member: users at org\0user (NOT_A_MEMBER), then orgs at org
 *      (UNKNOWN_USER); neither: the org does not exist (-ENOENT).
 *
 * This file needs LMDB, core's decoders (sfid.h, softphone_view.h), the
 * error table and libc, and nothing else of the store: the read library
 * links it out of sb_store without the rest (the store's environment, its
 * writer, libsodium), see index/CMakeLists.txt.
 */

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "error.h"
#include "records.h"
#include "sfid.h"
#include "softphone_view.h"

/**
 * Finds the view at `key` in the views table: LMDB's own result (0,
 * MDB_NOTFOUND, MDB_CORRUPTED for a damaged value, or another MDB_ code),
 * *view [borrowed: until the transaction ends] without its checksum. What a
 * caller puts in front of sb__value_get, such as a cache: a cache checks a
 * view once, when the view enters it (sb__value_get), not on each hit.
 */
typedef int (*sb_softphone_view_get_fn)(void *ctx, MDB_txn *txn, MDB_dbi views, const MDB_val *key,
                                        MDB_val *view);

/**
 * The same, for a caller that also keeps views decoded (the read library's
 * cache): *decoded is NULL, or the view decoded from *view's bytes, its
 * pointers into them [borrowed: until the transaction ends], its mode
 * checked. The check then copies it instead of decoding the bytes again.
 */
typedef int (*sb_softphone_view_get_decoded_fn)(void *ctx, MDB_txn *txn, MDB_dbi views,
                                                const MDB_val *key, MDB_val *view,
                                                const sb_softphone_view_t **decoded);

/** A membership's flag: the user holds the Service Cloud Voice licence. */
#define SB_MEMBER_SCV_LICENCE 1u

/**
 * Splits a membership value (user_cc): the Call Center's id (SB_SFID_LEN
 * bytes), the profile, then, only for a member with flags, a NUL and one
 * byte of flags (SB_MEMBER_SCV_LICENCE). A value without the NUL (every value
 * written before issue 15, and every member without a flag) has flags 0, so
 * that orgs without Service Cloud Voice keep their values byte for byte.
 * Returns 0, or SB_E_CORRUPT.
 */
static inline int sb_member_value_split(const void *data, size_t len, size_t *profile_len,
                                        unsigned *flags)
{
    *profile_len = 0;
    *flags = 0;
    if (len < SB_SFID_LEN)
        return SB_E_CORRUPT;
    const char *rest = (const char *)data + SB_SFID_LEN;
    size_t n = len - SB_SFID_LEN;
    const char *nul = (const char *)memchr(rest, '\0', n);
    size_t plen = nul != NULL ? (size_t)(nul - rest) : n;
    if (plen > SB_PROFILE_NAME_MAX || (nul != NULL && n - plen != 2))
        return SB_E_CORRUPT;
    *profile_len = plen;
    *flags = nul != NULL ? (unsigned char)nul[1] : 0;
    return 0;
}
/*
 * The membership key (user_cc's, schema 5): the org's number (org_ids, a
 * big-endian u32 that the store gives each org when it is created) and the
 * user id's 12 base-62 characters after "005" packed in 9 bytes
 * (sb_sfid_pack): 13 bytes where "org \0 user id" took up to 83. The 18-character
 * id is recomputed from them (its suffix is a function of the first 15).
 * Big-endian, so one org's members are one range of keys, sorted by user id,
 * and the number's 4 bytes are the org's prefix in user_cc (sb__org_prefix).
 * These two functions are the only ones that build or read the key.
 */
#define SB_ORG_NUM_LEN 4
#define SB_MEMBER_KEY_LEN (SB_ORG_NUM_LEN + SB_SFID_PACKED_LEN)

/**
 * Writes the membership key of user `user` (normalized, key prefix "005") in
 * the org numbered `org_num` to out. Returns SB_MEMBER_KEY_LEN, or 0 (out
 * zeroed) when the id is not a user id whose body packs: never for an id
 * sb_sfid_normalize accepted with SB_SFID_PREFIX_USER.
 */
size_t sb_member_key(uint32_t org_num, const sb_sfid_t *user, uint8_t out[SB_MEMBER_KEY_LEN]);

/**
 * Reads a membership key: the org's number and the user's 18-character id.
 * Returns 0, or SB_E_CORRUPT when the key is not SB_MEMBER_KEY_LEN bytes or
 * its body is no id's.
 */
int sb_member_key_parse(const void *key, size_t len, uint32_t *org_num, sb_sfid_t *user);

/** The big-endian bytes of an org number, and back. */
static inline void sb_org_num_put(uint32_t num, uint8_t out[SB_ORG_NUM_LEN])
{
    out[0] = (uint8_t)(num >> 24);
    out[1] = (uint8_t)(num >> 16);
    out[2] = (uint8_t)(num >> 8);
    out[3] = (uint8_t)num;
}
static inline uint32_t sb_org_num_read(const uint8_t in[SB_ORG_NUM_LEN])
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

/**
 * The number of org `org` (`len` bytes) from org_ids: LMDB's codes (0,
 * MDB_NOTFOUND for an org without one, MDB_CORRUPTED for a damaged value,
 * noted), as sb__value_find, whose cursor `reuse` it renews (NULL: opens
 * one). Number 0 is never given: a value of 0 is MDB_CORRUPTED.
 */
int sb_org_num_find(MDB_txn *txn, MDB_dbi org_ids, const char *org, size_t len, uint32_t *num,
                    MDB_cursor *reuse);

/**
 * Finds the number of org `org` (`len` bytes) in org_ids: as
 * sb_org_num_find, LMDB's codes. What a caller puts in front of it, such as
 * a cache: a number does not change while its org exists, and a snapshot's
 * orgs do not change.
 */
typedef int (*sb_softphone_org_num_fn)(void *ctx, MDB_txn *txn, MDB_dbi org_ids, const char *org,
                                       size_t len, uint32_t *num);

#define SB_SOFTPHONE_CURSORS 4

/** The tables the check reads, opened by the caller in its environment. */
typedef struct sb_softphone_tables {
    MDB_dbi orgs, users, user_cc, views, org_ids;
    sb_softphone_view_get_fn get_view;                 /* NULL: sb__value_get */
    sb_softphone_view_get_decoded_fn get_view_decoded; /* when set, used instead of get_view */
    void *get_view_ctx;                                /* [borrowed: while the tables are used] */
    sb_softphone_org_num_fn get_org_num;               /* NULL: sb_org_num_find */
    void *get_org_num_ctx;                             /* [borrowed: while the tables are used] */
    /* Read-only cursors on orgs, users, user_cc and org_ids, renewed in the check's
     * transaction when a look-up finds nothing and the records beside it
     * are checked (value.c); NULL: a cursor is opened for it (an
     * allocation). [borrowed: while the tables are used] */
    MDB_cursor *cursors[SB_SOFTPHONE_CURSORS];
} sb_softphone_tables_t;

/** An org id whose form was checked once, for any number of checks. */
typedef struct sb_softphone_org {
    const char *id; /* [borrowed: while the checks run] */
    size_t len;
    int rc; /* sb_org_id_check's: 0, or SB_E_INVALID_ID */
} sb_softphone_org_t;

/**
 * Checks the form of org id `id` (may be NULL) and keeps the result in
 * *org, so that a batch checks it once. Returns org->rc: 0, or
 * SB_E_INVALID_ID. A check of a valid user id returns that error, with its
 * sentence; an invalid user id is answered first, whatever the org.
 */
static inline int sb_softphone_org_init(sb_softphone_org_t *org, const char *id)
{
    /* Inline: the read library calls it once per check of one user. */
    org->id = id;
    org->rc = sb_org_id_check(id, NULL);
    org->len = org->rc == 0 ? strlen(id) : 0;
    return org->rc;
}

/**
 * Where a check puts its answer. The caller points the first five fields at
 * its own storage (the server's sb_softphone_answer_t, the read library's
 * sb_index_answer), so that nothing is copied twice; the check fills the
 * rest.
 */
typedef struct sb_softphone_found {
    /* Set by the caller. */
    char *user;        /* SB_SFID_LEN + 1 bytes: normalized, or as given (cut) when invalid */
    char *profile;     /* SB_PROFILE_NAME_MAX + 1 bytes: members' only, else "" */
    char *adapter_url; /* SB_VIEW_URL_MAX bytes: the view's, rendered for the user, else "" */
    void *record;      /* record_cap bytes for a member's view; NULL: the check allocates
                          one and sets record [owned: free()]; with `refer`, set by the check */
    size_t record_cap;
    /* true: no copy; the check points record at the view in the map
     * [borrowed: until the transaction ends] and decodes it there. */
    bool refer;
    /* true: the caller vouches that `user` is an 18-character id as an
     * earlier answer gave it (normalized, its checksum right): only its
     * length is checked, not its form. An id that is not one finds no
     * record (UNKNOWN_USER or NOT_A_MEMBER), never another user's. */
    bool user_normalized;
    /* Filled by the check. */
    sb_softphone_reason_t reason;
    size_t record_len;        /* bytes of the view in record; 0: no view (not a member) */
    sb_softphone_view_t view; /* when record_len > 0: decoded, pointing into record */
} sb_softphone_found_t;

/**
 * Does `user` of `org` see a softphone, and which? Reads in `txn` (a read
 * transaction the caller began and ends) the tables `tables` names, in the
 * order above, and fills *found. A user without a softphone is an answer,
 * not an error.
 *
 * Returns 0, or: SB_E_INVALID_ID (the org id's form; the user id was
 * valid), -ENOENT (the org does not exist), SB_E_CORRUPT (a membership or
 * view is unreadable, or a member's view is missing), -E2BIG (the view is
 * larger than record_cap), -ENOMEM, -EINVAL (a key that cannot fit: never
 * with a checked org), or an LMDB error translated by sb__lmdb_rc. On an
 * error, `err` (may be NULL) holds the sentence, found->record_len is 0 and
 * nothing allocated is left. Allocates only when found->record is NULL and
 * the user is a member.
 */
int sb_softphone_check_txn(MDB_txn *txn, const sb_softphone_tables_t *tables,
                           const sb_softphone_org_t *org, const char *user,
                           sb_softphone_found_t *found, sb_err_t *err)
    __attribute__((warn_unused_result));
