/*
 * Contacts and the phone index a call's ANI is matched against.
 *
 *   contacts  org\0id      -> {id, type, name, phones: [E.164]}
 *   phones    org\0E.164   => contact ids (DUPSORT, 18 bytes each)
 *
 * Replacing a contact drops its old numbers from the index in the same
 * transaction, so that the index never points at a number a contact lost.
 */
#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "store_internal.h"
#include "voicecall.h"

static const char *const prefixes[SB_LAYOUT_OBJECTS] = {
    SB_SFID_PREFIX_CONTACT, SB_SFID_PREFIX_ACCOUNT, SB_SFID_PREFIX_LEAD, SB_SFID_PREFIX_CASE};

int sb_contact_type_of(const char *id, sb_object_t *out)
{
    for (int i = 0; i < SB_LAYOUT_OBJECTS; i++)
        if (id != NULL && strncmp(id, prefixes[i], 3) == 0) {
            *out = (sb_object_t)i;
            return 0;
        }
    return -EINVAL;
}

const char *sb_contact_prefix(sb_object_t type)
{
    return prefixes[type];
}

static int encode(const sb_contact_t *c, msgpack_sbuffer *buf)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 4) | sb_pack_kv_str(&pk, "id", c->id.s) |
             sb_pack_kv_str(&pk, "type", sb_object_name(c->type)) |
             sb_pack_kv_str(&pk, "name", c->name) | sb_pack_str(&pk, "phones") |
             msgpack_pack_array(&pk, c->n_phones);
    for (size_t i = 0; i < c->n_phones; i++)
        rc |= sb_pack_str(&pk, c->phones[i]);
    return rc ? -ENOMEM : 0;
}

static int decode(const void *data, size_t len, sb_contact_t *c)
{
    memset(c, 0, sizeof(*c));
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS ? 0 : SB_E_CORRUPT;
    char type[16];
    const msgpack_object *phones = rc == 0 ? sb_obj_get(&u.data, "phones") : NULL;
    if (rc == 0 && (sb_obj_copy_str(sb_obj_get(&u.data, "id"), c->id.s, sizeof(c->id.s)) != 0 ||
                    sb_obj_copy_str(sb_obj_get(&u.data, "type"), type, sizeof(type)) != 0 ||
                    sb_object_parse(type, &c->type) != 0 ||
                    sb_obj_copy_str(sb_obj_get(&u.data, "name"), c->name, sizeof(c->name)) != 0 ||
                    phones == NULL || phones->type != MSGPACK_OBJECT_ARRAY ||
                    phones->via.array.size > SB_CONTACT_PHONES))
        rc = SB_E_CORRUPT;
    for (uint32_t i = 0; rc == 0 && i < phones->via.array.size; i++)
        if (sb_obj_copy_str(&phones->via.array.ptr[i], c->phones[c->n_phones++], SB_E164_MAX + 1) !=
            0)
            rc = SB_E_CORRUPT;
    msgpack_unpacked_destroy(&u);
    return rc;
}

int sb__contact_decode(const void *data, size_t len, sb_contact_t *c)
{
    return decode(data, len, c);
}

static int unindex(sb_store_t *store, MDB_txn *txn, const char *org, const sb_contact_t *old)
{
    for (size_t i = 0; i < old->n_phones; i++) {
        sb_key_t key;
        int rc = sb__key(&key, org, old->phones[i]);
        if (rc != 0)
            return rc;
        rc = sb__del_dup(txn, store->phones, &key, old->id.s, SB_SFID_LEN);
        if (rc != 0 && rc != -ENOENT)
            return rc;
    }
    return 0;
}

struct upsert_ctx {
    const char *org;
    const sb_contact_t *rows;
    size_t n;
};

static int upsert_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct upsert_ctx *ctx = vctx;
    int rc = sb__org_must_exist(store, txn, ctx->org, err);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    for (size_t i = 0; rc == 0 && i < ctx->n; i++) {
        const sb_contact_t *c = &ctx->rows[i];
        sb_key_t key;
        MDB_val old;
        if ((rc = sb__key(&key, ctx->org, c->id.s)) == 0)
            rc = sb__get(txn, store->contacts, &key, &old);
        if (rc == 0) {
            sb_contact_t previous;
            rc = decode(old.mv_data, old.mv_size, &previous);
            if (rc == 0)
                rc = unindex(store, txn, ctx->org, &previous);
        } else if (rc == -ENOENT) {
            rc = 0;
        }
        msgpack_sbuffer_clear(&buf);
        if (rc == 0)
            rc = encode(c, &buf);
        if (rc == 0)
            rc = sb__put(txn, store->contacts, &key, buf.data, buf.size, 0);
        for (size_t p = 0; rc == 0 && p < c->n_phones; p++) {
            sb_key_t pkey;
            if ((rc = sb__key(&pkey, ctx->org, c->phones[p])) == 0)
                rc = sb__put(txn, store->phones, &pkey, c->id.s, SB_SFID_LEN, MDB_NODUPDATA);
            if (rc == -EEXIST) /* the same number twice on one contact */
                rc = 0;
        }
    }
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

int sb_store_contact_upsert_bulk(sb_store_t *store, const char *org, const sb_contact_t *rows,
                                 size_t n, sb_err_t *err)
{
    sb_err_clear(err);
    if (n == 0 || n > SB_STORE_BULK_MAX)
        return sb_err_set(err, SB_E_BATCH_TOO_LARGE,
                          "A bulk upsert takes 1 to %d contacts; this one has %zu. Split it.",
                          SB_STORE_BULK_MAX, n);
    struct upsert_ctx ctx = {org, rows, n};
    return sb__write(store, upsert_txn, &ctx, err);
}

int sb_store_contact_get(sb_store_t *store, const char *org, const char *id, sb_contact_t *out,
                         sb_err_t *err)
{
    sb_object_t type;
    sb_sfid_t norm;
    if (sb_contact_type_of(id, &type) != 0)
        return sb_err_set(err, SB_E_INVALID_ID,
                          "'%.40s' is not a contact id: Contact 003, Account 001, Lead 00Q or "
                          "Case 500, then 12 or 15 letters and digits.",
                          id ? id : "");
    int rc = sb_sfid_normalize(id, prefixes[type], "contact id", &norm, err);
    MDB_txn *txn;
    if (rc == 0)
        rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    rc = sb__org_must_exist(store, txn, org, err);
    sb_key_t key;
    MDB_val val;
    if (rc == 0)
        rc = sb__key(&key, org, norm.s);
    if (rc == 0)
        rc = sb__get(txn, store->contacts, &key, &val);
    if (rc == 0)
        rc = decode(val.mv_data, val.mv_size, out);
    sb__read_end(store, txn);
    if (rc == -ENOENT && err && err->code == 0)
        return sb_err_set(err, -ENOENT, "The contact %s does not exist in org '%s'.", norm.s, org);
    return rc;
}

static int list_row(MDB_txn *txn, const MDB_val *key, const MDB_val *val, size_t index, void *vctx)
{
    (void)txn;
    (void)key;
    sb_list_ctx_t *ctx = vctx;
    return decode(val->mv_data, val->mv_size, (sb_contact_t *)ctx->rows + index);
}

int sb_store_contact_list(sb_store_t *store, const char *org, const char *after, size_t limit,
                          sb_contact_t **rows, size_t *n, bool *more, sb_err_t *err)
{
    return sb__list(store, org, store->contacts, after, limit, sizeof(sb_contact_t), list_row,
                    (void **)rows, n, more, err);
}

int sb__contact_match(sb_store_t *store, MDB_txn *txn, const char *org, const char *e164,
                      sb_contact_t *out, size_t cap, size_t *count)
{
    *count = 0;
    sb_key_t key;
    MDB_cursor *cur;
    int rc = sb__key(&key, org, e164);
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_cursor_open(txn, store->phones, &cur));
    if (rc != 0)
        return rc;
    MDB_val k = {key.len, key.buf}, v;
    int lmdb = sb__cursor_get(cur, &k, &v, MDB_SET_KEY);
    while (rc == 0 && lmdb == 0) {
        if (v.mv_size != SB_SFID_LEN) { /* a damaged index: never read past the value */
            rc = SB_E_CORRUPT;
            break;
        }
        char id[SB_SFID_LEN + 1];
        memcpy(id, v.mv_data, SB_SFID_LEN);
        id[SB_SFID_LEN] = '\0';
        sb_key_t ckey;
        MDB_val cval;
        if (*count < cap && (rc = sb__key(&ckey, org, id)) == 0) {
            rc = sb__get(txn, store->contacts, &ckey, &cval);
            if (rc == 0)
                rc = decode(cval.mv_data, cval.mv_size, &out[*count]);
        }
        (*count)++;
        lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    return rc;
}
