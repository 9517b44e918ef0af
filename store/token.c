/* Access tokens: records keyed by the token's hash, never by the token. */
#include <stdlib.h>
#include <string.h>

#include "record_codec.h"
#include "store_internal.h"

static void hash_key(sb_key_t *key, const uint8_t hash[SB_TOKEN_HASH_BYTES])
{
    memcpy(key->buf, hash, SB_TOKEN_HASH_BYTES);
    key->len = SB_TOKEN_HASH_BYTES;
}

struct token_put_ctx {
    const uint8_t *hash;
    const sb_token_record_t *rec;
};

static int token_put_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct token_put_ctx *ctx = vctx;
    int rc = 0;
    if (ctx->rec->role != SB_ROLE_ADMIN)
        rc = sb__org_must_exist(store, txn, ctx->rec->org, err);
    if (rc != 0)
        return rc;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    sb_key_t key;
    hash_key(&key, ctx->hash);
    rc = sb_codec_encode_token(ctx->rec, &buf);
    if (rc == 0)
        rc = sb__put(txn, store->tokens, &key, buf.data, buf.size, 0);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

int sb_store_token_put(sb_store_t *store, const uint8_t hash[SB_TOKEN_HASH_BYTES],
                       const sb_token_record_t *rec, sb_err_t *err)
{
    if (rec->role < SB_ROLE_READ_ONLY || rec->role > SB_ROLE_ADMIN)
        return sb_err_set(err, -EINVAL, "A token's role is read_only, org_admin or admin.");
    struct token_put_ctx ctx = {hash, rec};
    return sb__write(store, token_put_txn, &ctx, err);
}

int sb_store_token_find(sb_store_t *store, const uint8_t hash[SB_TOKEN_HASH_BYTES],
                        sb_token_record_t *out, sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    sb_err_clear(err);
    MDB_txn *txn;
    int rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    sb_key_t key;
    hash_key(&key, hash);
    MDB_val val;
    rc = sb__get(txn, store->tokens, &key, &val);
    if (rc == 0)
        rc = sb_codec_decode_token(val.mv_data, val.mv_size, out);
    sb__read_end(store, txn);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

/* Visits every token; `fn` may delete the current one through the cursor. */
typedef int (*token_fn)(MDB_cursor *cur, const sb_token_record_t *rec, const MDB_val *key,
                        void *ctx);

static int each_token(MDB_txn *txn, MDB_dbi dbi, token_fn fn, void *ctx)
{
    MDB_cursor *cur;
    int rc = sb__lmdb_rc(mdb_cursor_open(txn, dbi, &cur));
    if (rc != 0)
        return rc;
    MDB_val k, v;
    int lmdb = sb__cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && lmdb == 0) {
        sb_token_record_t rec;
        rc = sb_codec_decode_token(v.mv_data, v.mv_size, &rec);
        if (rc == 0)
            rc = fn(cur, &rec, &k, ctx);
        if (rc == 0)
            lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    return rc;
}

struct token_rows {
    sb_token_record_t *rows;
    size_t n, cap;
};

static int collect(MDB_cursor *cur, const sb_token_record_t *rec, const MDB_val *key, void *vctx)
{
    (void)cur;
    (void)key;
    struct token_rows *ctx = vctx;
    if (ctx->n == ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap * 2 : 16;
        sb_token_record_t *grown = realloc(ctx->rows, cap * sizeof(*grown));
        if (grown == NULL)
            return -ENOMEM;
        ctx->rows = grown;
        ctx->cap = cap;
    }
    ctx->rows[ctx->n++] = *rec;
    return 0;
}

int sb_store_token_list(sb_store_t *store, sb_token_record_t **rows, size_t *n, sb_err_t *err)
{
    *rows = NULL;
    *n = 0;
    sb_err_clear(err);
    MDB_txn *txn;
    int rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    struct token_rows ctx = {0};
    rc = each_token(txn, store->tokens, collect, &ctx);
    sb__read_end(store, txn);
    if (rc != 0) {
        free(ctx.rows);
        return sb_err_default(err, rc);
    }
    *rows = ctx.rows;
    *n = ctx.n;
    return 0;
}

/* Which tokens a delete takes. */
struct token_match {
    const char *id;      /* this id, or */
    const char *org;     /* every token of this org, or */
    sb_role_t role;      /* every token of this role */
    const uint8_t *keep; /* except this hash */
    size_t deleted;
};

static int delete_matching(MDB_cursor *cur, const sb_token_record_t *rec, const MDB_val *key,
                           void *vctx)
{
    struct token_match *m = vctx;
    bool hit = (m->id && strcmp(rec->id, m->id) == 0) ||
               (m->org && rec->role != SB_ROLE_ADMIN && strcmp(rec->org, m->org) == 0) ||
               (m->role && rec->role == m->role);
    if (hit && m->keep && key->mv_size == SB_TOKEN_HASH_BYTES &&
        memcmp(key->mv_data, m->keep, SB_TOKEN_HASH_BYTES) == 0)
        hit = false;
    if (!hit)
        return 0;
    m->deleted++;
    return sb__cursor_del(cur, 0);
}

int sb__token_delete_org(sb_store_t *store, MDB_txn *txn, const char *org)
{
    struct token_match m = {.org = org};
    return each_token(txn, store->tokens, delete_matching, &m);
}

static int token_revoke_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct token_match *m = vctx;
    m->deleted = 0;
    int rc = each_token(txn, store->tokens, delete_matching, m);
    if (rc == 0 && m->id != NULL && m->deleted == 0)
        return sb_err_set(err, -ENOENT, "No token has the id '%s'.", m->id);
    return rc;
}

int sb_store_token_revoke(sb_store_t *store, const char *id, sb_err_t *err)
{
    struct token_match m = {.id = id};
    if (id == NULL || id[0] == '\0')
        return sb_err_set(err, -EINVAL, "Which token? Give its id (see token list).");
    return sb__write(store, token_revoke_txn, &m, err);
}

int sb_store_token_revoke_role(sb_store_t *store, sb_role_t role,
                               const uint8_t keep[SB_TOKEN_HASH_BYTES], sb_err_t *err)
{
    struct token_match m = {.role = role, .keep = keep};
    return sb__write(store, token_revoke_txn, &m, err);
}
