/*
 * Softphone layouts and their assignment to profiles.
 *
 *   layouts    org\0name     -> the layout, msgpack in Switchboard's shape
 *   layout_of  org\0profile  -> layout name; the profile "" is the default
 *
 * A profile without an assignment gets the default. Every change here
 * recomputes the org's softphone views in the same transaction, so that a
 * check never sees a layout that is no longer there.
 */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static int layout_must_exist(sb_store_t *store, MDB_txn *txn, const char *org, const char *name,
                             MDB_val *val, sb_err_t *err)
{
    int rc = sb_layout_check_name(name, err);
    if (rc != 0)
        return rc;
    sb_key_t key;
    if ((rc = sb__key(&key, org, name)) == 0)
        rc = sb__get(txn, store->layouts, &key, val);
    if (rc == -ENOENT)
        return sb_err_set(err, -ENOENT,
                          "The layout '%s' does not exist in org '%s'; layout list shows them.",
                          name, org);
    return rc;
}

int sb__layout_resolve(sb_store_t *store, MDB_txn *txn, const char *org, const char *profile,
                       char name[SB_LAYOUT_NAME_MAX + 1], sb_layout_source_t *source,
                       MDB_val *layout)
{
    *source = SB_LAYOUT_NONE;
    layout->mv_size = 0;
    layout->mv_data = NULL;
    name[0] = '\0';
    const char *tries[2] = {profile, ""};
    for (int i = profile[0] ? 0 : 1; i < 2; i++) {
        sb_key_t key;
        MDB_val assigned;
        int rc = sb__key(&key, org, tries[i]);
        if (rc == 0)
            rc = sb__get(txn, store->layout_of, &key, &assigned);
        if (rc == -ENOENT)
            continue;
        if (rc != 0)
            return rc;
        if (assigned.mv_size == 0 || assigned.mv_size > SB_LAYOUT_NAME_MAX)
            return SB_E_CORRUPT;
        memcpy(name, assigned.mv_data, assigned.mv_size);
        name[assigned.mv_size] = '\0';
        if ((rc = sb__key(&key, org, name)) == 0)
            rc = sb__get(txn, store->layouts, &key, layout);
        if (rc != 0)
            return rc == -ENOENT ? SB_E_CORRUPT : rc; /* assignments go with their layout */
        *source = i == 0 ? SB_LAYOUT_FROM_PROFILE : SB_LAYOUT_FROM_DEFAULT;
        return 0;
    }
    return 0;
}

static int put_assignment(sb_store_t *store, MDB_txn *txn, const char *org, const char *profile,
                          const char *layout)
{
    sb_key_t key;
    int rc = sb__key(&key, org, profile);
    return rc != 0 ? rc : sb__put(txn, store->layout_of, &key, layout, strlen(layout), 0);
}

struct layout_put_ctx {
    const char *org;
    const sb_layout_t *layout;
    bool make_default;
};

static int layout_put_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct layout_put_ctx *ctx = vctx;
    int rc = sb__org_must_exist(store, txn, ctx->org, err);
    if (rc == 0)
        rc = sb_layout_check_name(ctx->layout->name, err);
    if (rc != 0)
        return rc;
    msgpack_sbuffer buf;
    rc = sb_layout_encode(ctx->layout, &buf);
    if (rc != 0)
        return rc;
    sb_key_t key;
    if ((rc = sb__key(&key, ctx->org, ctx->layout->name)) == 0)
        rc = sb__put(txn, store->layouts, &key, buf.data, buf.size, 0);
    msgpack_sbuffer_destroy(&buf);
    if (rc == 0 && ctx->make_default)
        rc = put_assignment(store, txn, ctx->org, "", ctx->layout->name);
    if (rc == 0)
        rc = sb__views_refresh(store, txn, ctx->org, NULL);
    return rc;
}

int sb_store_layout_put(sb_store_t *store, const char *org, const sb_layout_t *layout,
                        bool make_default, sb_err_t *err)
{
    struct layout_put_ctx ctx = {org, layout, make_default};
    return sb__write(store, layout_put_txn, &ctx, err);
}

int sb_store_layout_get(sb_store_t *store, const char *org, const char *name, sb_layout_t *out,
                        sb_err_t *err)
{
    MDB_txn *txn;
    int rc = sb_org_id_check(org, err);
    if (rc == 0)
        rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    rc = sb__org_must_exist(store, txn, org, err);
    MDB_val val;
    if (rc == 0)
        rc = layout_must_exist(store, txn, org, name, &val, err);
    if (rc == 0)
        rc = sb_layout_decode(val.mv_data, val.mv_size, out, err);
    sb__read_end(store, txn);
    return rc;
}

/* Visits the assignments of `org`, by profile ("" first). */
typedef int (*assignment_fn)(const char *profile, size_t profile_len, const char *layout,
                             size_t layout_len, void *ctx);

static int each_assignment(sb_store_t *store, MDB_txn *txn, const char *org, assignment_fn fn,
                           void *ctx)
{
    sb_key_t prefix;
    MDB_cursor *cur;
    int rc = sb__key(&prefix, org, "");
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_cursor_open(txn, store->layout_of, &cur));
    if (rc != 0)
        return rc;
    MDB_val k = {prefix.len, prefix.buf}, v;
    int lmdb = sb__cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && lmdb == 0 && k.mv_size >= prefix.len &&
           memcmp(k.mv_data, prefix.buf, prefix.len) == 0) {
        rc = fn((const char *)k.mv_data + prefix.len, k.mv_size - prefix.len, v.mv_data, v.mv_size,
                ctx);
        lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && lmdb != 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    return rc;
}

struct rows {
    void *rows;
    size_t n, cap, size;
};

static void *row_add(struct rows *r)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        void *grown = realloc(r->rows, cap * r->size);
        if (grown == NULL)
            return NULL;
        r->rows = grown;
        r->cap = cap;
    }
    void *row = (char *)r->rows + r->n++ * r->size;
    memset(row, 0, r->size);
    return row;
}

static int collect_assignment(const char *profile, size_t profile_len, const char *layout,
                              size_t layout_len, void *ctx)
{
    if (profile_len > SB_PROFILE_NAME_MAX || layout_len > SB_LAYOUT_NAME_MAX)
        return SB_E_CORRUPT;
    sb_layout_assignment_t *row = row_add(ctx);
    if (row == NULL)
        return -ENOMEM;
    memcpy(row->profile, profile, profile_len);
    memcpy(row->layout, layout, layout_len);
    return 0;
}

int sb_store_layout_assignments(sb_store_t *store, const char *org, sb_layout_assignment_t **rows,
                                size_t *n, sb_err_t *err)
{
    *rows = NULL;
    *n = 0;
    MDB_txn *txn;
    int rc = sb_org_id_check(org, err);
    if (rc == 0)
        rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    struct rows r = {NULL, 0, 0, sizeof(sb_layout_assignment_t)};
    rc = sb__org_must_exist(store, txn, org, err);
    if (rc == 0)
        rc = each_assignment(store, txn, org, collect_assignment, &r);
    sb__read_end(store, txn);
    if (rc != 0) {
        free(r.rows);
        return sb_err_default(err, rc);
    }
    *rows = r.rows;
    *n = r.n;
    return 0;
}

int sb_store_layout_list(sb_store_t *store, const char *org, sb_layout_summary_t **rows, size_t *n,
                         sb_err_t *err)
{
    *rows = NULL;
    *n = 0;
    sb_layout_assignment_t *assigned;
    size_t n_assigned;
    int rc = sb_store_layout_assignments(store, org, &assigned, &n_assigned, err);
    if (rc != 0)
        return rc;
    MDB_txn *txn;
    rc = sb__read_begin(store, &txn, err);
    if (rc != 0) {
        free(assigned);
        return rc;
    }
    struct rows r = {NULL, 0, 0, sizeof(sb_layout_summary_t)};
    sb_key_t prefix;
    MDB_cursor *cur;
    if ((rc = sb__key(&prefix, org, "")) == 0)
        rc = sb__lmdb_rc(mdb_cursor_open(txn, store->layouts, &cur));
    if (rc == 0) {
        MDB_val k = {prefix.len, prefix.buf}, v;
        int lmdb = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (rc == 0 && lmdb == 0 && k.mv_size >= prefix.len &&
               memcmp(k.mv_data, prefix.buf, prefix.len) == 0) {
            sb_layout_summary_t *row = row_add(&r);
            size_t len = k.mv_size - prefix.len;
            if (row == NULL || len > SB_LAYOUT_NAME_MAX) {
                rc = row ? SB_E_CORRUPT : -ENOMEM;
                break;
            }
            memcpy(row->name, (const char *)k.mv_data + prefix.len, len);
            for (size_t i = 0; i < n_assigned; i++) {
                if (strcmp(assigned[i].layout, row->name) != 0)
                    continue;
                if (assigned[i].profile[0] == '\0')
                    row->is_default = true;
                else
                    row->profiles++;
            }
            lmdb = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
    }
    sb__read_end(store, txn);
    free(assigned);
    if (rc != 0) {
        free(r.rows);
        return sb_err_default(err, rc);
    }
    *rows = r.rows;
    *n = r.n;
    return 0;
}

struct assign_ctx {
    const char *org, *profile, *layout;
    bool force;
};

static int assign_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct assign_ctx *ctx = vctx;
    const char *profile = ctx->profile ? ctx->profile : "";
    int rc = sb__org_must_exist(store, txn, ctx->org, err);
    if (rc == 0 && strlen(profile) > SB_PROFILE_NAME_MAX)
        return sb_err_set(err, SB_E_INVALID_VALUE, "A profile name is at most %d bytes.",
                          SB_PROFILE_NAME_MAX);
    if (rc != 0)
        return rc;
    sb_key_t key;
    if ((rc = sb__key(&key, ctx->org, profile)) != 0)
        return rc;
    if (ctx->layout == NULL) {
        rc = sb__del(txn, store->layout_of, &key);
        if (rc == -ENOENT && profile[0] != '\0')
            return sb_err_set(err, -ENOENT,
                              "The profile '%s' has no layout of its own in org '%s'.", profile,
                              ctx->org);
        if (rc == -ENOENT)
            return sb_err_set(err, -ENOENT, "The org '%s' has no default layout.", ctx->org);
    } else {
        MDB_val val;
        rc = layout_must_exist(store, txn, ctx->org, ctx->layout, &val, err);
        if (rc == 0)
            rc = put_assignment(store, txn, ctx->org, profile, ctx->layout);
    }
    if (rc == 0)
        rc = sb__views_refresh(store, txn, ctx->org, NULL);
    return rc;
}

int sb_store_layout_assign(sb_store_t *store, const char *org, const char *profile,
                           const char *layout, sb_err_t *err)
{
    struct assign_ctx ctx = {org, profile, layout, false};
    return sb__write(store, assign_txn, &ctx, err);
}

struct uses {
    const char *layout;
    size_t n;
    char where[256];
};

static int find_uses(const char *profile, size_t profile_len, const char *layout, size_t layout_len,
                     void *vctx)
{
    struct uses *u = vctx;
    if (layout_len != strlen(u->layout) || memcmp(layout, u->layout, layout_len) != 0)
        return 0;
    if (u->n++ < 3) {
        size_t at = strlen(u->where);
        if (profile_len == 0)
            snprintf(u->where + at, sizeof(u->where) - at, "%sthe default", at ? ", " : "");
        else
            snprintf(u->where + at, sizeof(u->where) - at, "%sprofile '%.*s'", at ? ", " : "",
                     (int)(profile_len > 60 ? 60 : profile_len), profile);
    }
    return 0;
}

static int drop_uses(sb_store_t *store, MDB_txn *txn, const char *org, const char *layout)
{
    sb_layout_assignment_t *rows = NULL;
    struct rows r = {NULL, 0, 0, sizeof(sb_layout_assignment_t)};
    int rc = each_assignment(store, txn, org, collect_assignment, &r);
    rows = r.rows;
    for (size_t i = 0; rc == 0 && i < r.n; i++) {
        if (strcmp(rows[i].layout, layout) != 0)
            continue;
        sb_key_t key;
        if ((rc = sb__key(&key, org, rows[i].profile)) == 0)
            rc = sb__del(txn, store->layout_of, &key);
    }
    free(rows);
    return rc;
}

static int layout_delete_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct assign_ctx *ctx = vctx;
    MDB_val val;
    int rc = sb__org_must_exist(store, txn, ctx->org, err);
    if (rc == 0)
        rc = layout_must_exist(store, txn, ctx->org, ctx->layout, &val, err);
    struct uses uses = {ctx->layout, 0, ""};
    if (rc == 0)
        rc = each_assignment(store, txn, ctx->org, find_uses, &uses);
    if (rc != 0)
        return rc;
    if (uses.n > 0 && !ctx->force)
        return sb_err_set(err, SB_E_LAYOUT_IN_USE,
                          "The layout '%s' is assigned to %s%s; assign another layout there first "
                          "(layout assign), or force the delete to leave them without it.",
                          ctx->layout, uses.where, uses.n > 3 ? " and more" : "");
    if (uses.n > 0)
        rc = drop_uses(store, txn, ctx->org, ctx->layout);
    sb_key_t key;
    if (rc == 0)
        rc = sb__key(&key, ctx->org, ctx->layout);
    if (rc == 0)
        rc = sb__del(txn, store->layouts, &key);
    if (rc == 0)
        rc = sb__views_refresh(store, txn, ctx->org, NULL);
    return rc;
}

int sb_store_layout_delete(sb_store_t *store, const char *org, const char *name, bool force,
                           sb_err_t *err)
{
    struct assign_ctx ctx = {org, NULL, name, force};
    return sb__write(store, layout_delete_txn, &ctx, err);
}
