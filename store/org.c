/* Orgs: the tenants. Deleting one by force removes every key that starts with it. */
#include <stdlib.h>
#include <string.h>

#include "record_codec.h"
#include "store_internal.h"
#include "utf8.h"

int sb__org_must_exist(sb_store_t *store, MDB_txn *txn, const char *org, sb_err_t *err)
{
    int rc = sb_org_id_check(org, err);
    if (rc != 0)
        return rc;
    sb_key_t key;
    MDB_val val;
    if ((rc = sb__key(&key, org, NULL)) == 0)
        rc = sb__get(txn, store->orgs, &key, &val);
    if (rc == -ENOENT)
        return sb_err_set(err, -ENOENT, "The org '%s' does not exist.", org);
    return rc;
}

static int check_org_name(const char *name, sb_err_t *err)
{
    size_t chars;
    if (strlen(name) > SB_ORG_NAME_MAX || !sb_utf8_count(name, &chars))
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "An org name is valid UTF-8 of at most %d bytes.", SB_ORG_NAME_MAX);
    return 0;
}

static int org_create_txn(sb_store_t *store, MDB_txn *txn, void *ctx, sb_err_t *err)
{
    const sb_org_t *org = ctx;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    sb_key_t key;
    int rc = sb__key(&key, org->id, NULL);
    if (rc == 0)
        rc = sb_codec_encode_org(org, &buf);
    if (rc == 0)
        rc = sb__put(txn, store->orgs, &key, buf.data, buf.size, MDB_NOOVERWRITE);
    msgpack_sbuffer_destroy(&buf);
    if (rc == -EEXIST)
        return sb_err_set(err, -EEXIST, "The org '%s' already exists.", org->id);
    uint32_t num; /* its memberships' prefix (org_ids.c) */
    return rc == 0 ? sb__org_num_give(store, txn, org->id, &num, err) : rc;
}

int sb_store_org_create(sb_store_t *store, const char *id, const char *name, sb_err_t *err)
{
    sb_err_clear(err);
    int rc = sb_org_id_check(id, err);
    if (rc != 0)
        return rc;
    if (name == NULL || name[0] == '\0')
        name = id;
    if ((rc = check_org_name(name, err)) != 0)
        return rc;
    sb_org_t org;
    memset(&org, 0, sizeof(org));
    /* Both lengths were checked above. */
    memcpy(org.id, id, strlen(id) + 1);
    memcpy(org.name, name, strlen(name) + 1);
    org.created_ms = sb__now_ms();
    return sb__write(store, org_create_txn, &org, err);
}

int sb_store_org_get(sb_store_t *store, const char *id, sb_org_t *out, sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    sb_err_clear(err);
    int rc = sb_org_id_check(id, err);
    if (rc != 0)
        return rc;
    MDB_txn *txn;
    if ((rc = sb__read_begin(store, &txn, err)) != 0)
        return rc;
    sb_key_t key;
    MDB_val val;
    if ((rc = sb__key(&key, id, NULL)) == 0)
        rc = sb__get(txn, store->orgs, &key, &val);
    if (rc == 0)
        rc = sb_codec_decode_org(val.mv_data, val.mv_size, out);
    sb__read_end(store, txn);
    if (rc == -ENOENT)
        return sb_err_set(err, -ENOENT, "The org '%s' does not exist.", id);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

static int org_row(MDB_txn *txn, const MDB_val *key, const MDB_val *val, size_t index, void *vctx)
{
    (void)txn;
    (void)key;
    sb_list_ctx_t *ctx = vctx;
    return sb_codec_decode_org(val->mv_data, val->mv_size, (sb_org_t *)ctx->rows + index);
}

int sb_store_org_list(sb_store_t *store, const char *after, size_t limit, sb_org_t **rows,
                      size_t *n, bool *more, sb_err_t *err)
{
    sb_err_clear(err);
    *rows = NULL;
    if (after != NULL && strnlen(after, SB_ORG_ID_MAX + 1) > SB_ORG_ID_MAX)
        return sb_err_set(err, SB_E_INVALID_ID, "The org id to list after is too long.");
    return sb__list(store, NULL, store->orgs, after, limit, sizeof(**rows), org_row, (void **)rows,
                    n, more, err);
}

/* Deletes every key of `dbi` that starts with `prefix` (all duplicates too). */
struct org_delete_ctx {
    const char *id;
    bool force;
};

static int org_delete_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct org_delete_ctx *ctx = vctx;
    int rc = sb__org_must_exist(store, txn, ctx->id, err);
    if (rc != 0)
        return rc;
    sb_key_t prefix;
    if ((rc = sb__key(&prefix, ctx->id, "")) != 0) /* "org\0": this org's keys and no other's */
        return rc;
    if (!ctx->force) {
        MDB_cursor *cur;
        if ((rc = sb__lmdb_rc(mdb_cursor_open(txn, store->callcenters, &cur))) != 0)
            return rc;
        uint64_t count = 0;
        MDB_val k = {prefix.len, prefix.buf}, v;
        int lmdb = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (lmdb == 0 && k.mv_size >= prefix.len &&
               memcmp(k.mv_data, prefix.buf, prefix.len) == 0) {
            count++;
            lmdb = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (count > 0)
            return sb_err_set(err, SB_E_ORG_NOT_EMPTY,
                              "The org '%s' still has %llu Call Center(s); delete them first, or "
                              "force the delete to remove the org with all its records.",
                              ctx->id, (unsigned long long)count);
    }
    const MDB_dbi scoped[] = {
        store->callcenters, store->cc_names,  store->users, store->user_cc,  store->cc_members,
        store->layouts,     store->layout_of, store->views, store->contacts, store->phones,
        store->voicecalls,  store->call_keys, store->rules};
    for (size_t i = 0; rc == 0 && i < sizeof(scoped) / sizeof(scoped[0]); i++) {
        /* "org\0" in all but user_cc, whose keys begin with the org's number. */
        sb_key_t own;
        if ((rc = sb__org_prefix(store, txn, scoped[i], ctx->id, &own)) == 0)
            rc = sb__del_prefix(txn, scoped[i], &own);
        else if (rc == -ENOENT && scoped[i] == store->user_cc)
            rc = 0; /* no number, so no memberships to delete: the delete mends it */
    }
    if (rc == 0)
        rc = sb__org_num_drop(store, txn, ctx->id);
    if (rc == 0)
        rc = sb__token_delete_org(store, txn, ctx->id);
    if (rc == 0) {
        sb_key_t key;
        if ((rc = sb__key(&key, ctx->id, NULL)) == 0)
            rc = sb__del(txn, store->orgs, &key);
    }
    return rc;
}

int sb_store_org_delete(sb_store_t *store, const char *id, bool force, sb_err_t *err)
{
    struct org_delete_ctx ctx = {id, force};
    return sb__write(store, org_delete_txn, &ctx, err);
}
