/*
 * Membership: a user belongs to at most one Call Center per org.
 *
 * Two indexes say the same thing and change together in one transaction:
 * user_cc ((org number, user) -> cc, sb__member_key), the forward index the
 * softphone check reads, and
 * cc_members (org\0cc => users), the reverse index that lists and counts.
 * user_cc's value also holds the user's profile, so that the check finds the
 * softphone view of (Call Center, profile) next; a new pair gets its view here.
 */
#include <stdlib.h>
#include <string.h>

#include "record_codec.h"
#include "softphone_check.h"
#include "store_internal.h"

static void sfid_from_val(const MDB_val *val, sb_sfid_t *out)
{
    memcpy(out->s, val->mv_data, SB_SFID_LEN);
    out->s[SB_SFID_LEN] = '\0';
}

/* The user's Call Center: 0 (set), -ENOENT (none), or an error. */
static int current_cc(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *user,
                      sb_sfid_t *cc)
{
    memset(cc, 0, sizeof(*cc));
    sb_key_t key;
    MDB_val val;
    int rc = sb__member_key(store, txn, org, user, &key);
    if (rc == 0)
        rc = sb__get(txn, store->user_cc, &key, &val);
    if (rc == 0 && val.mv_size < SB_SFID_LEN)
        return SB_E_CORRUPT;
    if (rc == 0)
        sfid_from_val(&val, cc);
    return rc;
}

/* Loads the user, who must exist, into *out. */
static int user_must_exist(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *user,
                           sb_user_t *out, sb_err_t *err)
{
    sb_key_t key;
    MDB_val val;
    int rc = sb__key(&key, org, user->s);
    if (rc == 0)
        rc = sb__get(txn, store->users, &key, &val);
    if (rc == -ENOENT)
        return sb_err_set(err, -ENOENT,
                          "The user %s does not exist in org '%s'; upsert the user first.", user->s,
                          org);
    if (rc == 0 && sb_codec_decode_user(val.mv_data, val.mv_size, out) != 0)
        rc = SB_E_CORRUPT;
    return rc;
}

int sb__member_put(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *user,
                   const sb_sfid_t *cc, const char *profile, bool scv_licence)
{
    char value[SB_SFID_LEN + SB_PROFILE_NAME_MAX + 2];
    size_t plen = strnlen(profile, SB_PROFILE_NAME_MAX + 1);
    if (plen > SB_PROFILE_NAME_MAX) /* never cut: the view is keyed by the whole profile */
        return -EINVAL;
    memcpy(value, cc->s, SB_SFID_LEN);
    memcpy(value + SB_SFID_LEN, profile, plen);
    size_t len = SB_SFID_LEN + plen;
    if (scv_licence) { /* flags only when set: see sb_member_value_split */
        value[len++] = '\0';
        value[len++] = (char)SB_MEMBER_SCV_LICENCE;
    }
    sb_key_t key;
    int rc = sb__member_key(store, txn, org, user, &key);
    if (rc == 0)
        rc = sb__put(txn, store->user_cc, &key, value, len, 0);
    if (rc == 0)
        rc = sb__view_ensure(store, txn, org, cc, profile);
    return rc;
}

static int cc_must_exist(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *cc,
                         sb_err_t *err)
{
    sb_key_t key;
    MDB_val val;
    int rc = sb__key(&key, org, cc->s);
    if (rc == 0)
        rc = sb__get(txn, store->callcenters, &key, &val);
    if (rc == -ENOENT)
        return sb_err_set(err, -ENOENT, "The Call Center %s does not exist in org '%s'.", cc->s,
                          org);
    return rc;
}

static int unlink_member(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *cc,
                         const sb_sfid_t *user)
{
    sb_key_t key;
    int rc = sb__member_key(store, txn, org, user, &key);
    if (rc == 0)
        rc = sb__del(txn, store->user_cc, &key);
    if (rc != 0 || (rc = sb__key(&key, org, cc->s)) != 0)
        return rc;
    return sb__del_dup(txn, store->cc_members, &key, user->s, SB_SFID_LEN);
}

/* One assignment, inside the caller's transaction. */
static int add_in_txn(sb_store_t *store, MDB_txn *txn, const char *org, const char *cc_in,
                      const char *user_in, bool move, sb_sfid_t *previous, sb_err_t *err)
{
    sb_sfid_t cc, user, current;
    sb_user_t record;
    memset(previous, 0, sizeof(*previous));
    int rc = sb_sfid_normalize(cc_in, SB_SFID_PREFIX_CALLCENTER, "Call Center id", &cc, err);
    if (rc == 0)
        rc = sb_sfid_normalize(user_in, SB_SFID_PREFIX_USER, "user id", &user, err);
    if (rc == 0)
        rc = cc_must_exist(store, txn, org, &cc, err);
    if (rc == 0)
        rc = user_must_exist(store, txn, org, &user, &record, err);
    if (rc != 0)
        return rc;
    rc = current_cc(store, txn, org, &user, &current);
    if (rc == 0 && strcmp(current.s, cc.s) == 0)
        return 0; /* already there: nothing to do */
    if (rc == 0 && !move) {
        sb_callcenter_t *other = NULL;
        const char *name = "?";
        if (sb__cc_load(store, txn, org, &current, &other, NULL) == 0)
            name = sb_callcenter_internal_name(other);
        sb_err_set(err, SB_E_ALREADY_MEMBER,
                   "The user %s already belongs to Call Center '%s' (%s); a user belongs to one "
                   "Call Center per org. Move the user instead (--move) to change it.",
                   user.s, name, current.s);
        sb_callcenter_free(other);
        return SB_E_ALREADY_MEMBER;
    }
    if (rc == 0) {
        rc = unlink_member(store, txn, org, &current, &user);
        if (rc != 0)
            return rc;
        *previous = current;
    } else if (rc != -ENOENT) {
        return rc;
    }
    sb_key_t key;
    rc = sb__member_put(store, txn, org, &user, &cc, record.profile, record.scv_licence);
    if (rc == 0) {
        if ((rc = sb__key(&key, org, cc.s)) == 0)
            rc = sb__put(txn, store->cc_members, &key, user.s, SB_SFID_LEN, 0);
    }
    return rc;
}

int sb__member_assign(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *user,
                      const sb_sfid_t *cc, sb_err_t *err)
{
    if (cc != NULL) {
        sb_sfid_t previous;
        return add_in_txn(store, txn, org, cc->s, user->s, true, &previous, err);
    }
    sb_sfid_t current;
    int rc = current_cc(store, txn, org, user, &current);
    if (rc == -ENOENT)
        return 0;
    return rc == 0 ? unlink_member(store, txn, org, &current, user) : rc;
}

struct member_write_ctx {
    const char *org;
    const sb_member_assignment_t *rows;
    size_t n;
    bool move;
    sb_sfid_t previous; /* single add: the Call Center the user left */
};

static int member_add_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct member_write_ctx *ctx = vctx;
    int rc = sb__org_must_exist(store, txn, ctx->org, err);
    for (size_t i = 0; rc == 0 && i < ctx->n; i++) {
        rc = add_in_txn(store, txn, ctx->org, ctx->rows[i].callcenter, ctx->rows[i].user, ctx->move,
                        &ctx->previous, err);
        if (rc != 0 && ctx->n > 1)
            sb_err_prefix(err, "Row %zu (nothing was changed): ", i + 1);
    }
    return rc;
}

int sb_store_member_add(sb_store_t *store, const char *org, const char *cc, const char *user,
                        bool move, sb_sfid_t *previous, sb_err_t *err)
{
    sb_member_assignment_t row = {user, cc};
    struct member_write_ctx ctx = {.org = org, .rows = &row, .n = 1, .move = move};
    int rc = sb__write(store, member_add_txn, &ctx, err);
    if (previous != NULL)
        *previous = rc == 0 ? ctx.previous : (sb_sfid_t){{0}};
    return rc;
}

int sb_store_member_add_bulk(sb_store_t *store, const char *org, const sb_member_assignment_t *rows,
                             size_t n, bool move, sb_err_t *err)
{
    sb_err_clear(err);
    if (n == 0 || n > SB_STORE_BULK_MAX)
        return sb_err_set(err, SB_E_BATCH_TOO_LARGE,
                          "A bulk assignment takes 1 to %d rows; this one has %zu. Split it.",
                          SB_STORE_BULK_MAX, n);
    struct member_write_ctx ctx = {.org = org, .rows = rows, .n = n, .move = move};
    return sb__write(store, member_add_txn, &ctx, err);
}

struct member_remove_ctx {
    const char *org, *cc, *user;
};

static int member_remove_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct member_remove_ctx *ctx = vctx;
    sb_sfid_t cc, user, current;
    int rc = sb_sfid_normalize(ctx->cc, SB_SFID_PREFIX_CALLCENTER, "Call Center id", &cc, err);
    if (rc == 0)
        rc = sb_sfid_normalize(ctx->user, SB_SFID_PREFIX_USER, "user id", &user, err);
    if (rc == 0)
        rc = sb__org_must_exist(store, txn, ctx->org, err);
    if (rc == 0)
        rc = cc_must_exist(store, txn, ctx->org, &cc, err);
    sb_user_t record;
    if (rc == 0)
        rc = user_must_exist(store, txn, ctx->org, &user, &record, err);
    if (rc != 0)
        return rc;
    rc = current_cc(store, txn, ctx->org, &user, &current);
    if ((rc == 0 && strcmp(current.s, cc.s) != 0) || rc == -ENOENT)
        return sb_err_set(err, SB_E_NOT_A_MEMBER, "The user %s is not a member of Call Center %s.",
                          user.s, cc.s);
    if (rc != 0)
        return rc;
    return unlink_member(store, txn, ctx->org, &cc, &user);
}

int sb_store_member_remove(sb_store_t *store, const char *org, const char *cc, const char *user,
                           sb_err_t *err)
{
    struct member_remove_ctx ctx = {org, cc, user};
    return sb__write(store, member_remove_txn, &ctx, err);
}

int sb_store_member_list(sb_store_t *store, const char *org, const char *cc_in, const char *after,
                         size_t limit, sb_sfid_t **rows, size_t *n, bool *more, uint64_t *total,
                         sb_err_t *err)
{
    *rows = NULL;
    *n = 0;
    *more = false;
    *total = 0;
    sb_err_clear(err);
    sb_sfid_t cc, after_id;
    int rc = sb__check_limit(limit, err);
    if (rc == 0)
        rc = sb_sfid_normalize(cc_in, SB_SFID_PREFIX_CALLCENTER, "Call Center id", &cc, err);
    if (rc == 0 && after != NULL)
        rc = sb_sfid_normalize(after, SB_SFID_PREFIX_USER, "user id", &after_id, err);
    if (rc != 0)
        return rc;
    sb_sfid_t *list = calloc(limit, sizeof(*list));
    if (list == NULL)
        return sb_err_default(err, -ENOMEM);
    MDB_txn *txn;
    if ((rc = sb__read_begin(store, &txn, err)) != 0) {
        free(list);
        return rc;
    }
    rc = sb__org_must_exist(store, txn, org, err);
    if (rc == 0)
        rc = cc_must_exist(store, txn, org, &cc, err);
    if (rc == 0)
        rc = sb__cc_member_count(store, txn, org, &cc, total);
    MDB_cursor *cur = NULL;
    if (rc == 0 && *total > 0)
        rc = sb__lmdb_rc(mdb_cursor_open(txn, store->cc_members, &cur));
    if (cur != NULL) {
        /* The users of one Call Center are the sorted duplicates of its key:
         * GET_BOTH_RANGE finds the first user at or after `after`. */
        sb_key_t key;
        rc = sb__key(&key, org, cc.s);
        MDB_val k = {key.len, key.buf};
        MDB_val v = {after ? SB_SFID_LEN : 0, after ? after_id.s : NULL};
        int lmdb = rc != 0 ? MDB_NOTFOUND
                   : after ? sb__cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE)
                           : sb__cursor_get(cur, &k, &v, MDB_SET_KEY);
        if (lmdb == 0 && after && v.mv_size == SB_SFID_LEN &&
            memcmp(v.mv_data, after_id.s, SB_SFID_LEN) == 0)
            lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT_DUP);
        while (lmdb == 0) {
            if (*n == limit) {
                *more = true;
                break;
            }
            if (v.mv_size != SB_SFID_LEN) { /* a damaged index: never read past the value */
                rc = SB_E_CORRUPT;
                break;
            }
            sfid_from_val(&v, &list[(*n)++]);
            lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT_DUP);
        }
        if (lmdb != 0 && lmdb != MDB_NOTFOUND)
            rc = sb__lmdb_rc(lmdb);
        mdb_cursor_close(cur);
    }
    sb__read_end(store, txn);
    if (rc != 0 || *n == 0) {
        free(list);
        *n = 0;
        *more = false;
        return rc == 0 ? 0 : sb_err_default(err, rc);
    }
    *rows = list;
    return 0;
}

int sb_store_member_lookup(sb_store_t *store, const char *org, const char *user_in, sb_sfid_t *cc,
                           sb_err_t *err)
{
    memset(cc, 0, sizeof(*cc));
    sb_err_clear(err);
    sb_sfid_t user;
    int rc = sb_sfid_normalize(user_in, SB_SFID_PREFIX_USER, "user id", &user, err);
    if (rc != 0)
        return rc;
    MDB_txn *txn;
    if ((rc = sb__read_begin(store, &txn, err)) != 0)
        return rc;
    rc = sb__org_must_exist(store, txn, org, err);
    if (rc == 0) {
        /* The forward index first: a member is one look-up. */
        rc = current_cc(store, txn, org, &user, cc);
        if (rc == -ENOENT) {
            sb_user_t record;
            rc = user_must_exist(store, txn, org, &user, &record, err);
            if (rc == 0)
                rc = sb_err_set(err, SB_E_NOT_A_MEMBER,
                                "The user %s is not a member of any Call Center in org '%s'; add "
                                "the user to one to give them a softphone.",
                                user.s, org);
        }
    }
    sb__read_end(store, txn);
    if (rc != 0)
        memset(cc, 0, sizeof(*cc));
    return rc == 0 ? 0 : sb_err_default(err, rc);
}
