/* Call Centers: create, read, list, update, clone, delete. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record_codec.h"
#include "store_internal.h"

/* The name index key: internal names are unique in an org regardless of case. */
static int name_key(sb_key_t *key, const char *org, const char *internal_name)
{
    char lower[SB_CC_INTERNAL_NAME_MAX + 1];
    size_t len = strnlen(internal_name, SB_CC_INTERNAL_NAME_MAX + 1);
    key->len = 0;
    if (len > SB_CC_INTERNAL_NAME_MAX) /* never cut: a cut name would find another's key */
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)tolower((unsigned char)internal_name[i]);
    lower[len] = '\0';
    return sb__key(key, org, lower);
}

int sb__cc_name_key(sb_key_t *key, const char *org, const char *internal_name)
{
    return name_key(key, org, internal_name);
}

static int normalize_cc_id(const char *id, sb_sfid_t *out, sb_err_t *err)
{
    return sb_sfid_normalize(id, SB_SFID_PREFIX_CALLCENTER, "Call Center id", out, err);
}

int sb__cc_load(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *id,
                sb_callcenter_t **out, sb_err_t *err)
{
    *out = NULL;
    sb_key_t key;
    MDB_val val;
    int rc = sb__key(&key, org, id->s);
    if (rc == 0)
        rc = sb__get(txn, store->callcenters, &key, &val);
    if (rc == -ENOENT)
        return sb_err_set(err, -ENOENT, "The Call Center %s does not exist in org '%s'.", id->s,
                          org);
    if (rc == 0)
        rc = sb_codec_decode_callcenter(val.mv_data, val.mv_size, out);
    if (rc == 0 && *out == NULL)
        rc = SB_E_CORRUPT; /* never: the decoder returns 0 only with a record */
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

int sb__cc_find(sb_store_t *store, MDB_txn *txn, const char *org, const char *text, sb_sfid_t *id,
                char internal_name[SB_CC_INTERNAL_NAME_MAX + 1], sb_err_t *err)
{
    memset(id, 0, sizeof(*id));
    internal_name[0] = '\0';
    int rc = 0;
    if (text[0] != '\0' && !isdigit((unsigned char)text[0])) {
        sb_key_t nkey;
        MDB_val val;
        if ((rc = name_key(&nkey, org, text)) == 0)
            rc = sb__get(txn, store->cc_names, &nkey, &val);
        if (rc == -ENOENT || rc == -EINVAL)
            return sb_err_set(err, -ENOENT, "The org '%s' has no Call Center named '%s'.", org,
                              text);
        if (rc == 0 && val.mv_size != SB_SFID_LEN)
            rc = SB_E_CORRUPT;
        if (rc != 0)
            return sb_err_default(err, rc);
        memcpy(id->s, val.mv_data, SB_SFID_LEN);
        id->s[SB_SFID_LEN] = '\0';
    } else if ((rc = normalize_cc_id(text, id, err)) != 0) {
        return rc;
    }
    sb_callcenter_t *cc = NULL;
    rc = sb__cc_load(store, txn, org, id, &cc, err);
    if (rc == 0)
        snprintf(internal_name, SB_CC_INTERNAL_NAME_MAX + 1, "%s", sb_callcenter_internal_name(cc));
    sb_callcenter_free(cc);
    if (rc != 0)
        memset(id, 0, sizeof(*id));
    return rc;
}

int sb__cc_member_count(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *id,
                        uint64_t *count)
{
    *count = 0;
    MDB_cursor *cur;
    int rc = sb__lmdb_rc(mdb_cursor_open(txn, store->cc_members, &cur));
    if (rc != 0)
        return rc;
    sb_key_t key;
    if ((rc = sb__key(&key, org, id->s)) != 0) {
        mdb_cursor_close(cur);
        return rc;
    }
    MDB_val k = {key.len, key.buf}, v;
    int lmdb = sb__cursor_get(cur, &k, &v, MDB_SET);
    if (lmdb == 0) {
        size_t n = 0;
        lmdb = mdb_cursor_count(cur, &n); /* the duplicate count: O(1) */
        *count = n;
    }
    mdb_cursor_close(cur);
    return lmdb == MDB_NOTFOUND ? 0 : sb__lmdb_rc(lmdb);
}

static int put_cc(sb_store_t *store, MDB_txn *txn, const char *org, const sb_callcenter_t *cc)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    sb_key_t key;
    int rc = sb__key(&key, org, cc->id.s);
    if (rc == 0)
        rc = sb_codec_encode_callcenter(cc, &buf);
    if (rc == 0)
        rc = sb__put(txn, store->callcenters, &key, buf.data, buf.size, 0);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

/* Inserts `cc` as a new Call Center of `org`: new id, unique name, both indexes. */
static int insert_cc(sb_store_t *store, MDB_txn *txn, const char *org, sb_callcenter_t *cc,
                     sb_err_t *err)
{
    int rc = sb_callcenter_validate(cc, err);
    if (rc != 0)
        return rc;
    const char *internal_name = sb_callcenter_internal_name(cc);
    sb_key_t nkey;
    MDB_val existing;
    if ((rc = name_key(&nkey, org, internal_name)) == 0)
        rc = sb__get(txn, store->cc_names, &nkey, &existing);
    if (rc == 0)
        return sb_err_set(err, SB_E_INTERNAL_NAME_TAKEN,
                          "The org '%s' already has a Call Center named '%s' (%.*s); internal "
                          "names are unique in an org, so pick another.",
                          org, internal_name, (int)existing.mv_size,
                          (const char *)existing.mv_data);
    if (rc != -ENOENT)
        return rc;
    if ((rc = sb__new_id(store, txn, store->callcenters, org, SB_SFID_PREFIX_CALLCENTER,
                         &cc->id)) != 0)
        return rc;
    cc->created_ms = cc->updated_ms = sb__now_ms();
    rc = put_cc(store, txn, org, cc);
    if (rc == 0)
        rc = sb__put(txn, store->cc_names, &nkey, cc->id.s, SB_SFID_LEN, 0);
    return rc;
}

struct cc_write_ctx {
    const char *org;
    const char *id; /* update, clone, delete: the Call Center acted on */
    const sb_callcenter_t *def;
    const sb_cc_change_t *changes;
    size_t n_changes;
    const char *adapter;
    const char *internal_name, *display_name; /* clone */
    bool force;
    sb_callcenter_t *result; /* [owned] on success */
};

/* A retried transaction must start clean: drop what an aborted try built. */
static void reset_result(struct cc_write_ctx *ctx)
{
    sb_callcenter_free(ctx->result);
    ctx->result = NULL;
}

static int cc_create_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct cc_write_ctx *ctx = vctx;
    reset_result(ctx);
    int rc = sb__org_must_exist(store, txn, ctx->org, err);
    if (rc != 0)
        return rc;
    sb_callcenter_t *cc;
    if ((rc = sb_callcenter_copy(ctx->def, &cc)) != 0)
        return rc;
    rc = insert_cc(store, txn, ctx->org, cc, err);
    if (rc != 0) {
        sb_callcenter_free(cc);
        return rc;
    }
    ctx->result = cc;
    return 0;
}

/* Runs a Call Center write and hands its result to *out (or frees it). */
static int run_cc_write(sb_store_t *store, sb_write_fn fn, struct cc_write_ctx *ctx,
                        sb_callcenter_t **out, sb_err_t *err)
{
    if (out != NULL)
        *out = NULL;
    int rc = sb__write(store, fn, ctx, err);
    if (rc == 0 && out != NULL)
        *out = ctx->result;
    else
        sb_callcenter_free(ctx->result);
    return rc;
}

int sb_store_cc_create(sb_store_t *store, const char *org, const sb_callcenter_t *def,
                       sb_callcenter_t **out, sb_err_t *err)
{
    struct cc_write_ctx ctx = {.org = org, .def = def};
    return run_cc_write(store, cc_create_txn, &ctx, out, err);
}

int sb_store_cc_get(sb_store_t *store, const char *org, const char *id, sb_callcenter_t **out,
                    sb_err_t *err)
{
    *out = NULL;
    sb_err_clear(err);
    sb_sfid_t cc_id;
    int rc = normalize_cc_id(id, &cc_id, err);
    if (rc != 0)
        return rc;
    MDB_txn *txn;
    if ((rc = sb__read_begin(store, &txn, err)) != 0)
        return rc;
    rc = sb__org_must_exist(store, txn, org, err);
    if (rc == 0)
        rc = sb__cc_load(store, txn, org, &cc_id, out, err);
    sb__read_end(store, txn);
    return rc;
}

int sb_store_cc_get_by_name(sb_store_t *store, const char *org, const char *internal_name,
                            sb_callcenter_t **out, sb_err_t *err)
{
    *out = NULL;
    sb_err_clear(err);
    if (internal_name == NULL || strlen(internal_name) > SB_CC_INTERNAL_NAME_MAX)
        return sb_err_set(err, SB_E_INVALID_INTERNAL_NAME,
                          "An internal name has 1 to %d characters.", SB_CC_INTERNAL_NAME_MAX);
    MDB_txn *txn;
    int rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    rc = sb__org_must_exist(store, txn, org, err);
    if (rc == 0) {
        sb_key_t nkey;
        MDB_val val;
        if ((rc = name_key(&nkey, org, internal_name)) == 0)
            rc = sb__get(txn, store->cc_names, &nkey, &val);
        if (rc == -ENOENT)
            sb_err_set(err, -ENOENT, "The org '%s' has no Call Center named '%s'.", org,
                       internal_name);
        else if (rc == 0 && val.mv_size != SB_SFID_LEN)
            rc = sb_err_default(err, SB_E_CORRUPT);
        else if (rc == 0) {
            sb_sfid_t cc_id;
            memcpy(cc_id.s, val.mv_data, SB_SFID_LEN);
            cc_id.s[SB_SFID_LEN] = '\0';
            rc = sb__cc_load(store, txn, org, &cc_id, out, err);
        }
    }
    sb__read_end(store, txn);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t len = strnlen(src, cap - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static int cc_row(MDB_txn *txn, const MDB_val *key, const MDB_val *val, size_t index, void *vctx)
{
    (void)key;
    sb_list_ctx_t *ctx = vctx;
    sb_callcenter_t *cc;
    int rc = sb_codec_decode_callcenter(val->mv_data, val->mv_size, &cc);
    if (rc != 0)
        return rc;
    sb_cc_summary_t *row = (sb_cc_summary_t *)ctx->rows + index;
    row->id = cc->id;
    copy_text(row->internal_name, sizeof(row->internal_name), sb_callcenter_internal_name(cc));
    copy_text(row->display_name, sizeof(row->display_name), sb_callcenter_display_name(cc));
    copy_text(row->adapter, sizeof(row->adapter), cc->adapter);
    rc = sb__cc_member_count(ctx->store, txn, ctx->org, &cc->id, &row->members);
    sb_callcenter_free(cc);
    return rc;
}

int sb_store_cc_list(sb_store_t *store, const char *org, const char *after, size_t limit,
                     sb_cc_summary_t **rows, size_t *n, bool *more, sb_err_t *err)
{
    sb_err_clear(err);
    *rows = NULL;
    *n = 0;
    *more = false;
    sb_sfid_t after_id;
    if (after != NULL) {
        int rc = normalize_cc_id(after, &after_id, err);
        if (rc != 0)
            return rc;
    }
    return sb__list(store, org, store->callcenters, after ? after_id.s : NULL, limit,
                    sizeof(**rows), cc_row, (void **)rows, n, more, err);
}

/* The Call Center an update, clone or delete acts on: its id checked, its
 * org existing, the record loaded. *cc [owned] on success. */
static int load_target(sb_store_t *store, MDB_txn *txn, const struct cc_write_ctx *ctx,
                       sb_sfid_t *id, sb_callcenter_t **cc, sb_err_t *err)
{
    *cc = NULL;
    int rc = normalize_cc_id(ctx->id, id, err);
    if (rc == 0)
        rc = sb__org_must_exist(store, txn, ctx->org, err);
    if (rc == 0)
        rc = sb__cc_load(store, txn, ctx->org, id, cc, err);
    return rc;
}

static int cc_update_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct cc_write_ctx *ctx = vctx;
    reset_result(ctx);
    sb_sfid_t id;
    sb_callcenter_t *cc = NULL;
    int rc = load_target(store, txn, ctx, &id, &cc, err);
    if (rc == 0)
        rc = sb_callcenter_apply(cc, ctx->changes, ctx->n_changes, err);
    if (rc == 0 && ctx->adapter != NULL) {
        rc = sb_callcenter_set_adapter(cc, ctx->adapter);
        if (rc == 0)
            rc = sb_callcenter_validate(cc, err);
    }
    if (rc == 0) {
        cc->updated_ms = sb__now_ms();
        rc = put_cc(store, txn, ctx->org, cc);
    }
    if (rc == 0) /* its members' softphones follow it in the same commit */
        rc = sb__views_refresh(store, txn, ctx->org, &id);
    if (rc != 0) {
        sb_callcenter_free(cc);
        return rc;
    }
    ctx->result = cc;
    return 0;
}

int sb_store_cc_update(sb_store_t *store, const char *org, const char *id,
                       const sb_cc_change_t *changes, size_t n_changes, const char *adapter,
                       sb_callcenter_t **out, sb_err_t *err)
{
    struct cc_write_ctx ctx = {
        .org = org, .id = id, .changes = changes, .n_changes = n_changes, .adapter = adapter};
    return run_cc_write(store, cc_update_txn, &ctx, out, err);
}

/* Sets the value of /section/item in a Call Center under construction. */
static int set_value(sb_callcenter_t *cc, const char *section, const char *item, const char *value)
{
    sb_cc_item_t *found = (sb_cc_item_t *)sb_callcenter_find(cc, section, item);
    if (found == NULL)
        return -ENOENT;
    char *copy = strdup(value);
    if (copy == NULL)
        return -ENOMEM;
    free(found->value);
    found->value = copy;
    return 0;
}

static int cc_clone_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct cc_write_ctx *ctx = vctx;
    reset_result(ctx);
    sb_sfid_t id;
    sb_callcenter_t *cc = NULL;
    int rc = load_target(store, txn, ctx, &id, &cc, err);
    /* A clone is a new record: its internal name is set, not changed. */
    if (rc == 0 && ctx->internal_name == NULL)
        rc = sb_err_set(err, SB_E_MISSING_FIELD, "A clone needs an internal name of its own.");
    if (rc == 0)
        rc = set_value(cc, SB_CC_GENERAL, SB_CC_INTERNAL_NAME, ctx->internal_name);
    if (rc == 0 && ctx->display_name != NULL)
        rc = set_value(cc, SB_CC_GENERAL, SB_CC_DISPLAY_NAME, ctx->display_name);
    if (rc == 0)
        rc = insert_cc(store, txn, ctx->org, cc, err);
    if (rc != 0) {
        sb_callcenter_free(cc);
        return rc;
    }
    ctx->result = cc;
    return 0;
}

int sb_store_cc_clone(sb_store_t *store, const char *org, const char *id, const char *internal_name,
                      const char *display_name, sb_callcenter_t **out, sb_err_t *err)
{
    struct cc_write_ctx ctx = {
        .org = org, .id = id, .internal_name = internal_name, .display_name = display_name};
    return run_cc_write(store, cc_clone_txn, &ctx, out, err);
}

/* Removes every membership of Call Center `id`: both directions. */
static int remove_all_members(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *id)
{
    MDB_cursor *cur;
    int rc = sb__lmdb_rc(mdb_cursor_open(txn, store->cc_members, &cur));
    if (rc != 0)
        return rc;
    sb_key_t key;
    if ((rc = sb__key(&key, org, id->s)) != 0) {
        mdb_cursor_close(cur);
        return rc;
    }
    MDB_val k = {key.len, key.buf}, v;
    int lmdb = sb__cursor_get(cur, &k, &v, MDB_SET_KEY);
    while (rc == 0 && lmdb == 0) {
        if (v.mv_size != SB_SFID_LEN) { /* a damaged index: never read past the value */
            rc = SB_E_CORRUPT;
            break;
        }
        sb_sfid_t user;
        memcpy(user.s, v.mv_data, SB_SFID_LEN);
        user.s[SB_SFID_LEN] = '\0';
        sb_key_t ukey;
        if ((rc = sb__member_key(store, txn, org, &user, &ukey)) == 0)
            rc = sb__del(txn, store->user_cc, &ukey);
        lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    if (rc == 0) {
        rc = sb__del(txn, store->cc_members, &key);
        if (rc == -ENOENT)
            rc = 0;
    }
    return rc;
}

/* A Call Center an assignment rule sends users to is not deleted from under
 * the rule (its plans would then fail naming it): the rules change first.
 * A forced delete does not override this: it removes members, not rules. */
static int refuse_if_rule_target(sb_store_t *store, MDB_txn *txn, const char *org,
                                 const sb_sfid_t *id, const sb_callcenter_t *cc, sb_err_t *err)
{
    sb_rules_t rules;
    MDB_val raw;
    int rc = sb__rules_load(store, txn, org, &rules, &raw);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < rules.n; i++) {
        if (strcmp(rules.rules[i].target_id.s, id->s) == 0) {
            rc = sb_err_set(err, SB_E_RULES_INVALID,
                            "The Call Center '%s' (%s) is the target of assignment rule '%s'; "
                            "change the rules first (sbctl rules put), then delete it.",
                            sb_callcenter_internal_name(cc), id->s, rules.rules[i].name);
            break;
        }
    }
    sb_rules_free(&rules);
    return rc;
}

static int cc_delete_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct cc_write_ctx *ctx = vctx;
    sb_sfid_t id;
    sb_callcenter_t *cc = NULL;
    int rc = load_target(store, txn, ctx, &id, &cc, err);
    uint64_t members = 0;
    if (rc == 0)
        rc = sb__cc_member_count(store, txn, ctx->org, &id, &members);
    if (rc == 0)
        rc = refuse_if_rule_target(store, txn, ctx->org, &id, cc, err);
    if (rc == 0 && members > 0 && !ctx->force)
        rc = sb_err_set(err, SB_E_CALLCENTER_HAS_MEMBERS,
                        "The Call Center '%s' (%s) still has %llu member(s); remove them first, "
                        "or force the delete to remove them with it.",
                        sb_callcenter_internal_name(cc), id.s, (unsigned long long)members);
    if (rc == 0 && members > 0)
        rc = remove_all_members(store, txn, ctx->org, &id);
    if (rc == 0) {
        sb_key_t key;
        if ((rc = name_key(&key, ctx->org, sb_callcenter_internal_name(cc))) == 0)
            rc = sb__del(txn, store->cc_names, &key);
        if (rc == 0 && (rc = sb__key(&key, ctx->org, id.s)) == 0)
            rc = sb__del(txn, store->callcenters, &key);
    }
    if (rc == 0)
        rc = sb__views_drop(store, txn, ctx->org, &id);
    sb_callcenter_free(cc);
    return rc;
}

int sb_store_cc_delete(sb_store_t *store, const char *org, const char *id, bool force,
                       sb_err_t *err)
{
    struct cc_write_ctx ctx = {.org = org, .id = id, .force = force};
    return sb__write(store, cc_delete_txn, &ctx, err);
}
