/*
 * Users: id, name, profile and the attributes rules match (department,
 * division, role), upserted one by one or in atomic bulk; and the Service
 * Cloud Voice licence, which only licence.assign changes.
 */
#include <stdlib.h>
#include <string.h>

#include "record_codec.h"
#include "softphone_check.h"
#include "store_internal.h"
#include "utf8.h"

static int check_text(const char *what, const char *text, size_t max, bool required, sb_err_t *err)
{
    size_t chars;
    size_t len = strnlen(text, max + 1);
    if (len > max || !sb_utf8_count(text, &chars))
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "The %s is not valid UTF-8 of at most %zu bytes.", what, max);
    if (required && len == 0)
        return sb_err_set(err, SB_E_MISSING_FIELD, "The %s is required.", what);
    return 0;
}

/* Checks `in` and writes its stored form (normalized id) to `out`. */
static int prepare_user(const sb_user_t *in, sb_user_t *out, sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    int rc = sb_sfid_normalize(in->id.s, SB_SFID_PREFIX_USER, "user id", &out->id, err);
    if (rc == 0)
        rc = check_text("user name", in->name, SB_USER_NAME_MAX, true, err);
    if (rc == 0)
        rc = check_text("profile name", in->profile, SB_PROFILE_NAME_MAX, false, err);
    if (rc == 0)
        rc = check_text("department", in->department, SB_USER_ATTR_MAX, false, err);
    if (rc == 0)
        rc = check_text("division", in->division, SB_USER_ATTR_MAX, false, err);
    if (rc == 0)
        rc = check_text("role", in->role, SB_USER_ATTR_MAX, false, err);
    if (rc == 0) {
        memcpy(out->name, in->name, sizeof(out->name));
        memcpy(out->profile, in->profile, sizeof(out->profile));
        memcpy(out->department, in->department, sizeof(out->department));
        memcpy(out->division, in->division, sizeof(out->division));
        memcpy(out->role, in->role, sizeof(out->role));
    }
    return rc;
}

struct user_write_ctx {
    const char *org;
    const sb_user_t *users;
    size_t n;
};

static int user_upsert_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct user_write_ctx *ctx = vctx;
    int rc = sb__org_must_exist(store, txn, ctx->org, err);
    /* An org may have its users follow its rules as they are written. */
    sb_rules_t rules = {0};
    MDB_val raw;
    if (rc == 0 && (rc = sb__rules_load(store, txn, ctx->org, &rules, &raw)) != 0)
        rc = sb_err_default(err, rc);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    for (size_t i = 0; rc == 0 && i < ctx->n; i++) {
        sb_user_t user;
        rc = prepare_user(&ctx->users[i], &user, err);
        if (rc != 0) {
            if (ctx->n > 1)
                sb_err_prefix(err, "Row %zu (nothing was written): ", i + 1);
            break;
        }
        msgpack_sbuffer_clear(&buf);
        sb_key_t key;
        MDB_val old;
        /* The licence is licence.assign's to change: an upsert keeps it. */
        int had = (rc = sb__key(&key, ctx->org, user.id.s)) == 0
                      ? sb__get(txn, store->users, &key, &old)
                      : rc;
        sb_user_t stored;
        if (had == 0 && (rc = sb_codec_decode_user(old.mv_data, old.mv_size, &stored)) == 0)
            user.scv_licence = stored.scv_licence;
        else if (had != 0 && had != -ENOENT)
            rc = had;
        if (rc == 0)
            rc = sb_codec_encode_user(&user, &buf);
        if (rc == 0)
            rc = sb__put(txn, store->users, &key, buf.data, buf.size, 0);
        /* A member's softphone follows the profile: its membership names it. */
        MDB_val member;
        sb_key_t mkey;
        int found = rc == 0 ? sb__member_key(store, txn, ctx->org, &user.id, &mkey) : rc;
        if (found == 0)
            found = sb__get(txn, store->user_cc, &mkey, &member);
        size_t plen;
        unsigned flags;
        if (found == 0 && sb_member_value_split(member.mv_data, member.mv_size, &plen, &flags) != 0)
            found = SB_E_CORRUPT;
        if (found == 0 &&
            (plen != strlen(user.profile) ||
             memcmp((const char *)member.mv_data + SB_SFID_LEN, user.profile, plen) != 0)) {
            sb_sfid_t cc;
            memcpy(cc.s, member.mv_data, SB_SFID_LEN);
            cc.s[SB_SFID_LEN] = '\0';
            rc =
                sb__member_put(store, txn, ctx->org, &user.id, &cc, user.profile, user.scv_licence);
        } else if (found != 0 && found != -ENOENT) {
            rc = found;
        }
        if (rc == 0 && rules.follow) {
            rc = sb__rules_follow(store, txn, ctx->org, &rules, &user, err);
            if (rc != 0 && ctx->n > 1)
                sb_err_prefix(err, "Row %zu (nothing was written): ", i + 1);
        }
    }
    msgpack_sbuffer_destroy(&buf);
    sb_rules_free(&rules);
    return rc;
}

int sb_store_user_upsert(sb_store_t *store, const char *org, const sb_user_t *user, sb_err_t *err)
{
    struct user_write_ctx ctx = {org, user, 1};
    return sb__write(store, user_upsert_txn, &ctx, err);
}

int sb_store_user_upsert_bulk(sb_store_t *store, const char *org, const sb_user_t *users, size_t n,
                              sb_err_t *err)
{
    sb_err_clear(err);
    if (n == 0 || n > SB_STORE_BULK_MAX)
        return sb_err_set(err, SB_E_BATCH_TOO_LARGE,
                          "A bulk upsert takes 1 to %d users; this one has %zu. Split it.",
                          SB_STORE_BULK_MAX, n);
    struct user_write_ctx ctx = {org, users, n};
    return sb__write(store, user_upsert_txn, &ctx, err);
}

int sb_store_user_get(sb_store_t *store, const char *org, const char *id, sb_user_t *out,
                      sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    sb_err_clear(err);
    sb_sfid_t user_id;
    int rc = sb_sfid_normalize(id, SB_SFID_PREFIX_USER, "user id", &user_id, err);
    if (rc != 0)
        return rc;
    MDB_txn *txn;
    if ((rc = sb__read_begin(store, &txn, err)) != 0)
        return rc;
    rc = sb__org_must_exist(store, txn, org, err);
    if (rc == 0) {
        sb_key_t key;
        MDB_val val;
        if ((rc = sb__key(&key, org, user_id.s)) == 0)
            rc = sb__get(txn, store->users, &key, &val);
        if (rc == 0)
            rc = sb_codec_decode_user(val.mv_data, val.mv_size, out);
        else if (rc == -ENOENT)
            sb_err_set(err, rc, "The user %s does not exist in org '%s'.", user_id.s, org);
    }
    sb__read_end(store, txn);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

static int user_row(MDB_txn *txn, const MDB_val *key, const MDB_val *val, size_t index, void *vctx)
{
    (void)txn;
    (void)key;
    sb_list_ctx_t *ctx = vctx;
    return sb_codec_decode_user(val->mv_data, val->mv_size, (sb_user_t *)ctx->rows + index);
}

int sb_store_user_list(sb_store_t *store, const char *org, const char *after, size_t limit,
                       sb_user_t **rows, size_t *n, bool *more, sb_err_t *err)
{
    sb_err_clear(err);
    *rows = NULL;
    *n = 0;
    *more = false;
    sb_sfid_t after_id;
    if (after != NULL) {
        int rc = sb_sfid_normalize(after, SB_SFID_PREFIX_USER, "user id", &after_id, err);
        if (rc != 0)
            return rc;
    }
    return sb__list(store, org, store->users, after ? after_id.s : NULL, limit, sizeof(**rows),
                    user_row, (void **)rows, n, more, err);
}

struct licence_ctx {
    const char *org;
    const char *const *users;
    size_t n;
    bool scv_licence;
};

/* One user's licence, in the user record and, for a member, in the
 * membership value that the softphone check reads. */
static int licence_one(sb_store_t *store, MDB_txn *txn, const char *org, const char *id_in,
                       bool licence, sb_err_t *err)
{
    sb_sfid_t id;
    int rc = sb_sfid_normalize(id_in, SB_SFID_PREFIX_USER, "user id", &id, err);
    if (rc != 0)
        return rc;
    sb_key_t key;
    MDB_val val;
    sb_user_t user;
    if ((rc = sb__key(&key, org, id.s)) == 0)
        rc = sb__get(txn, store->users, &key, &val);
    if (rc == -ENOENT)
        return sb_err_set(err, -ENOENT,
                          "The user %s does not exist in org '%s'; upsert the user first.", id.s,
                          org);
    if (rc == 0)
        rc = sb_codec_decode_user(val.mv_data, val.mv_size, &user);
    if (rc != 0 || user.scv_licence == licence)
        return rc;
    user.scv_licence = licence;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    rc = sb_codec_encode_user(&user, &buf);
    if (rc == 0)
        rc = sb__put(txn, store->users, &key, buf.data, buf.size, 0);
    msgpack_sbuffer_destroy(&buf);
    MDB_val member;
    sb_key_t mkey;
    int found = rc == 0 ? sb__member_key(store, txn, org, &id, &mkey) : rc;
    if (found == 0)
        found = sb__get(txn, store->user_cc, &mkey, &member);
    if (found == 0 && member.mv_size >= SB_SFID_LEN) {
        sb_sfid_t cc;
        memcpy(cc.s, member.mv_data, SB_SFID_LEN);
        cc.s[SB_SFID_LEN] = '\0';
        return sb__member_put(store, txn, org, &user.id, &cc, user.profile, licence);
    }
    return found == -ENOENT ? 0 : found;
}

static int licence_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct licence_ctx *ctx = vctx;
    int rc = sb__org_must_exist(store, txn, ctx->org, err);
    for (size_t i = 0; rc == 0 && i < ctx->n; i++) {
        rc = licence_one(store, txn, ctx->org, ctx->users[i], ctx->scv_licence, err);
        if (rc != 0 && ctx->n > 1)
            sb_err_prefix(err, "Row %zu (nothing was changed): ", i + 1);
    }
    return rc;
}

int sb_store_licence_assign(sb_store_t *store, const char *org, const char *const *users, size_t n,
                            bool scv_licence, sb_err_t *err)
{
    sb_err_clear(err);
    if (n == 0 || n > SB_STORE_BULK_MAX)
        return sb_err_set(err, SB_E_BATCH_TOO_LARGE,
                          "A licence assignment takes 1 to %d users; this one has %zu. Split it.",
                          SB_STORE_BULK_MAX, n);
    struct licence_ctx ctx = {org, users, n, scv_licence};
    return sb__write(store, licence_txn, &ctx, err);
}
