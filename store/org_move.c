/*
 * Moving an org between servers (org_move.h): its records read out in
 * pages, written in on the other side, compared by a digest; its move
 * state; its deletion on the source in bounded batches.
 *
 * Every key of the org is built from sb__org_prefix and nowhere else: a
 * change of how an org's keys begin (an org number in place of its id)
 * changes that one function, and the move goes on working, because the
 * records carry only what follows the prefix.
 *
 * The org's own numbering (changes_org) does not move as records: its rows
 * point into the source's change log, which stays behind. Its counter does:
 * move.commit raises the target's to the source's last, so that the org's
 * numbers only grow across the move.
 */
#include <endian.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "org_move.h"
#include "pack.h"
#include "record_codec.h"
#include "store_internal.h"

#define MOVE_META_PREFIX "org_move:"

const char *sb_org_move_state_name(sb_org_move_state_t state)
{
    switch (state) {
    case SB_ORG_MOVE_RECEIVING:
        return "receiving";
    case SB_ORG_MOVE_FROZEN:
        return "frozen";
    case SB_ORG_MOVE_MOVED:
        return "moved";
    case SB_ORG_MOVE_NONE:
        break;
    }
    return "none";
}

/* ---- the databases that move, in the canonical order ---------------------- */

typedef struct move_dbs {
    size_t n;
    MDB_dbi dbi[SB_DBI_SLOTS];
    const char *name[SB_DBI_SLOTS];
} move_dbs_t;

/* Every logged database: orgs first (a target may need the org before the
 * rest), then by name. Built from the store's own list, so that a database
 * added later moves without a change here. */
static void move_dbs(const sb_store_t *store, move_dbs_t *out)
{
    out->n = 0;
    out->dbi[out->n] = store->orgs;
    out->name[out->n++] = store->dbi_names[store->orgs];
    for (;;) {
        const char *best = NULL;
        MDB_dbi best_dbi = 0;
        for (MDB_dbi i = 0; i < SB_DBI_SLOTS; i++) {
            const char *name = store->dbi_names[i];
            if (name == NULL || i == store->orgs)
                continue;
            bool taken = false;
            for (size_t k = 0; k < out->n && !taken; k++)
                taken = out->dbi[k] == i;
            if (!taken && (best == NULL || strcmp(name, best) < 0)) {
                best = name;
                best_dbi = i;
            }
        }
        if (best == NULL)
            return;
        out->dbi[out->n] = best_dbi;
        out->name[out->n++] = best;
    }
}

static bool dbi_by_name(const sb_store_t *store, const char *name, size_t len, MDB_dbi *dbi)
{
    for (MDB_dbi i = 0; i < SB_DBI_SLOTS; i++) {
        const char *n = store->dbi_names[i];
        if (n != NULL && strlen(n) == len && memcmp(n, name, len) == 0) {
            *dbi = i;
            return true;
        }
    }
    return false;
}

static bool is_dupsort(MDB_txn *txn, MDB_dbi dbi)
{
    unsigned flags = 0;
    return mdb_dbi_flags(txn, dbi, &flags) == 0 && (flags & MDB_DUPSORT) != 0;
}

/* Whether the token record `v` is one of `org`'s (never an admin token). */
static bool token_of(const MDB_val *v, const char *org)
{
    sb_token_record_t rec;
    return sb_codec_decode_token(v->mv_data, v->mv_size, &rec) == 0 && rec.role != SB_ROLE_ADMIN &&
           strcmp(rec.org, org) == 0;
}

/* ---- the move state, in meta ------------------------------------------------ */

static int state_key(const char *org, sb_key_t *key)
{
    size_t plen = sizeof(MOVE_META_PREFIX) - 1, olen = strnlen(org, SB_ORG_ID_MAX + 1);
    if (olen > SB_ORG_ID_MAX)
        return -EINVAL;
    memcpy(key->buf, MOVE_META_PREFIX, plen);
    memcpy(key->buf + plen, org, olen);
    key->len = plen + olen;
    return 0;
}

static int state_read(sb_store_t *store, MDB_txn *txn, const char *org, sb_org_move_t *out)
{
    memset(out, 0, sizeof(*out));
    sb_key_t key;
    if (state_key(org, &key) != 0)
        return 0; /* no such org id: nothing moves */
    MDB_val k = {key.len, key.buf}, v;
    int lmdb = mdb_get(txn, store->meta, &k, &v);
    if (lmdb == MDB_NOTFOUND)
        return 0;
    if (lmdb != 0)
        return sb__lmdb_rc(lmdb);
    const uint8_t *p = v.mv_data;
    if (v.mv_size < 1 || v.mv_size > 1 + SB_MOVE_TO_MAX || p[0] < SB_ORG_MOVE_RECEIVING ||
        p[0] > SB_ORG_MOVE_MOVED)
        return SB_E_CORRUPT;
    out->state = (sb_org_move_state_t)p[0];
    memcpy(out->to, p + 1, v.mv_size - 1);
    out->to[v.mv_size - 1] = '\0';
    return 0;
}

static int state_write(sb_store_t *store, MDB_txn *txn, const char *org, sb_org_move_state_t state,
                       const char *to)
{
    sb_key_t key;
    int rc = state_key(org, &key);
    if (rc != 0)
        return rc;
    MDB_val k = {key.len, key.buf};
    if (state == SB_ORG_MOVE_NONE) {
        int lmdb = mdb_del(txn, store->meta, &k, NULL);
        return lmdb == MDB_NOTFOUND ? 0 : sb__lmdb_rc(lmdb);
    }
    uint8_t buf[1 + SB_MOVE_TO_MAX];
    size_t to_len = to != NULL ? strnlen(to, SB_MOVE_TO_MAX + 1) : 0;
    if (to_len > SB_MOVE_TO_MAX)
        return -EINVAL;
    buf[0] = (uint8_t)state;
    if (to_len > 0)
        memcpy(buf + 1, to, to_len);
    MDB_val v = {1 + to_len, buf};
    /* Known before the commit: a dispatch that reads the flag as "none"
     * meanwhile reads a snapshot without this state anyway. */
    atomic_store(&store->moves_known, 2);
    return sb__lmdb_rc(mdb_put(txn, store->meta, &k, &v, 0));
}

/* Whether meta holds any move state: a scan of its move keys, once. */
static int moves_scan(sb_store_t *store, MDB_txn *txn, bool *any)
{
    MDB_cursor *cur;
    int rc = sb__lmdb_rc(mdb_cursor_open(txn, store->meta, &cur));
    if (rc != 0)
        return rc;
    MDB_val k = {sizeof(MOVE_META_PREFIX) - 1, MOVE_META_PREFIX}, v;
    int lmdb = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    *any = lmdb == 0 && k.mv_size >= sizeof(MOVE_META_PREFIX) - 1 &&
           memcmp(k.mv_data, MOVE_META_PREFIX, sizeof(MOVE_META_PREFIX) - 1) == 0;
    mdb_cursor_close(cur);
    return lmdb == 0 || lmdb == MDB_NOTFOUND ? 0 : sb__lmdb_rc(lmdb);
}

bool sb__org_moved_away(sb_store_t *store, MDB_txn *txn, const char *org)
{
    sb_org_move_t mv;
    return state_read(store, txn, org, &mv) == 0 && mv.state == SB_ORG_MOVE_MOVED;
}

int sb_store_org_move_get(sb_store_t *store, const char *org, sb_org_move_t *out, sb_err_t *err)
{
    /* Not a memset of the whole: this runs for every request. */
    out->state = SB_ORG_MOVE_NONE;
    out->to[0] = '\0';
    int known = atomic_load(&store->moves_known);
    if (known == 1)
        return 0; /* no org of this store was ever moved: the hot path */
    MDB_txn *txn;
    int rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    if (known == 0) {
        bool any = false;
        rc = moves_scan(store, txn, &any);
        int expected = 0; /* a state written meanwhile wins */
        if (rc == 0)
            atomic_compare_exchange_strong(&store->moves_known, &expected, any ? 2 : 1);
        if (rc == 0 && !any) {
            sb__read_end(store, txn);
            return 0;
        }
    }
    if (rc == 0)
        rc = state_read(store, txn, org, out);
    sb__read_end(store, txn);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

static bool org_present(sb_store_t *store, MDB_txn *txn, const char *org, int *rc)
{
    sb_key_t key;
    MDB_val v;
    *rc = sb__key(&key, org, NULL);
    if (*rc != 0)
        return false;
    int got = sb__get(txn, store->orgs, &key, &v);
    *rc = got == -ENOENT ? 0 : got;
    return got == 0;
}

typedef struct state_ctx {
    const char *org;
    sb_org_move_state_t state;
    const char *to;
} state_ctx_t;

static int state_set_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    state_ctx_t *c = vctx;
    sb_org_move_t now;
    int rc = state_read(store, txn, c->org, &now);
    if (rc != 0)
        return rc;
    bool present = org_present(store, txn, c->org, &rc);
    if (rc != 0)
        return rc;
    switch (c->state) {
    case SB_ORG_MOVE_FROZEN:
        if (now.state == SB_ORG_MOVE_FROZEN)
            return 0;
        if (now.state != SB_ORG_MOVE_NONE || !present)
            return sb_err_set(err, present ? SB_E_ORG_MOVING : -ENOENT,
                              present ? "The org '%s' is %s, not serving: it cannot be frozen."
                                      : "The org '%s' does not exist here%s.",
                              c->org, present ? sb_org_move_state_name(now.state) : "");
        break;
    case SB_ORG_MOVE_RECEIVING:
        if (now.state == SB_ORG_MOVE_RECEIVING)
            return 0;
        if (present || now.state != SB_ORG_MOVE_NONE)
            return sb_err_set(err, -EEXIST,
                              "The org '%s' already exists here (%s): a move brings an org only "
                              "to a server that does not have it.",
                              c->org,
                              now.state == SB_ORG_MOVE_NONE ? "serving"
                                                            : sb_org_move_state_name(now.state));
        break;
    case SB_ORG_MOVE_MOVED:
        if (now.state == SB_ORG_MOVE_MOVED && strcmp(now.to, c->to ? c->to : "") == 0)
            return 0;
        if (now.state != SB_ORG_MOVE_FROZEN)
            return sb_err_set(err, SB_E_ORG_MOVING,
                              "The org '%s' is %s: only a frozen org (move.freeze, then the final "
                              "catch-up) can be marked moved.",
                              c->org, sb_org_move_state_name(now.state));
        break;
    case SB_ORG_MOVE_NONE:
        break;
    }
    return state_write(store, txn, c->org, c->state, c->to);
}

int sb_store_org_move_set(sb_store_t *store, const char *org, sb_org_move_state_t state,
                          const char *to, sb_err_t *err)
{
    sb_err_clear(err);
    int rc = sb_org_id_check(org, err);
    if (rc != 0)
        return rc;
    if (to != NULL && strnlen(to, SB_MOVE_TO_MAX + 1) > SB_MOVE_TO_MAX)
        return sb_err_set(err, -EINVAL, "Where an org moved to is at most %d bytes.",
                          SB_MOVE_TO_MAX);
    state_ctx_t c = {org, state, to};
    return sb__write(store, state_set_txn, &c, err);
}

/* ---- records ------------------------------------------------------------------ */

void sb_move_page_free(sb_move_page_t *page)
{
    msgpack_sbuffer_destroy(&page->records);
    memset(page, 0, sizeof(*page));
}

/* Packs [db, suffix, [values of the key at the cursor]] (or [db, suffix, []]
 * when the cursor is on no key, `found` false). */
static int pack_record(msgpack_packer *pk, const char *db, const void *suffix, size_t suffix_len,
                       MDB_cursor *cur, bool found, bool dupsort)
{
    MDB_val vals[1]; /* the first value; duplicates are counted, then walked again */
    MDB_val k, v;
    size_t count = 0;
    int lmdb = 0;
    if (found) {
        size_t dups = 1;
        if (dupsort && mdb_cursor_count(cur, &dups) != 0)
            return SB_E_CORRUPT;
        count = (size_t)dups;
        lmdb = sb__cursor_get(cur, &k, &vals[0], MDB_GET_CURRENT);
        if (lmdb != 0)
            return sb__lmdb_rc(lmdb);
    }
    int rc = msgpack_pack_array(pk, 3) | sb_pack_str(pk, db) | msgpack_pack_bin(pk, suffix_len) |
             msgpack_pack_bin_body(pk, suffix, suffix_len) | msgpack_pack_array(pk, count);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (i == 0) {
            v = vals[0];
        } else if ((lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT_DUP)) != 0) {
            return sb__lmdb_rc(lmdb);
        }
        rc = msgpack_pack_bin(pk, v.mv_size) | msgpack_pack_bin_body(pk, v.mv_data, v.mv_size);
    }
    return rc == 0 ? 0 : -ENOMEM;
}

/* The packed records of a page: the array header, then what `body` holds. */
static int page_finish(sb_move_page_t *page, msgpack_sbuffer *body)
{
    msgpack_sbuffer_init(&page->records);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &page->records, msgpack_sbuffer_write);
    int rc = msgpack_pack_array(&pk, page->n);
    if (rc == 0 && body->size > 0)
        rc = msgpack_sbuffer_write(&page->records, body->data, body->size);
    page->bytes = page->records.size;
    msgpack_sbuffer_destroy(body);
    return rc == 0 ? 0 : -ENOMEM;
}

/* Whether key k is one of the org's in a database of `kind` with `prefix`. */
static bool key_is_org(int kind, const sb_key_t *prefix, const MDB_val *k)
{
    if (kind == SB_ORG_KEYS_EXACT)
        return k->mv_size == prefix->len && memcmp(k->mv_data, prefix->buf, prefix->len) == 0;
    return kind == SB_ORG_KEYS_PREFIX && k->mv_size >= prefix->len &&
           memcmp(k->mv_data, prefix->buf, prefix->len) == 0;
}

/* ---- export ---------------------------------------------------------------- */

typedef struct walk {
    sb_store_t *store;
    MDB_txn *txn;
    const char *org;
    /* per record: return 0 to go on, 1 to stop after it, or an error */
    int (*fn)(struct walk *w, size_t db_index, const char *db, const MDB_val *k, size_t suffix_at,
              MDB_cursor *cur, bool dupsort);
    void *ctx;
} walk_t;

/* Walks the org's keys from database `db_from`, after key suffix `after`
 * (NULL: from that database's start), in the canonical order. */
static int walk_org(walk_t *w, size_t db_from, const uint8_t *after, size_t after_len)
{
    move_dbs_t dbs;
    move_dbs(w->store, &dbs);
    int rc = 0;
    for (size_t d = db_from; rc == 0 && d < dbs.n; d++) {
        sb_key_t prefix;
        int kind = sb__org_prefix(w->store, w->txn, dbs.dbi[d], w->org, &prefix);
        if (kind < 0) /* a database that does not move (org_ids), or no memberships */
            continue;
        bool resume = d == db_from && after != NULL;
        if (kind == SB_ORG_KEYS_EXACT && resume)
            continue; /* its one key was in the previous page */
        bool dupsort = is_dupsort(w->txn, dbs.dbi[d]);
        MDB_cursor *cur;
        if ((rc = sb__lmdb_rc(mdb_cursor_open(w->txn, dbs.dbi[d], &cur))) != 0)
            return rc;
        sb_key_t start = prefix;
        if (resume) {
            if (after_len > sizeof(start.buf) - start.len) {
                mdb_cursor_close(cur);
                return -EINVAL;
            }
            memcpy(start.buf + start.len, after, after_len);
            start.len += after_len;
        }
        MDB_val k = {start.len, start.buf}, v;
        int lmdb = start.len == 0 ? mdb_cursor_get(cur, &k, &v, MDB_FIRST)
                                  : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (lmdb == 0 && resume && k.mv_size == start.len &&
            memcmp(k.mv_data, start.buf, start.len) == 0)
            lmdb = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP); /* the page's last key */
        while (rc == 0 && lmdb == 0) {
            if (kind == SB_ORG_KEYS_VALUE) {
                MDB_val kk, vv;
                int got = sb__cursor_get(cur, &kk, &vv, MDB_GET_CURRENT);
                if (got != 0) {
                    rc = sb__lmdb_rc(got);
                    break;
                }
                if (token_of(&vv, w->org))
                    rc = w->fn(w, d, dbs.name[d], &k, 0, cur, dupsort);
            } else {
                if (!key_is_org(kind, &prefix, &k))
                    break;
                rc = w->fn(w, d, dbs.name[d], &k, prefix.len, cur, dupsort);
                if (kind == SB_ORG_KEYS_EXACT)
                    break;
            }
            if (rc == 0)
                lmdb = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP);
        }
        mdb_cursor_close(cur);
        if (rc == 0 && lmdb != 0 && lmdb != MDB_NOTFOUND)
            rc = sb__lmdb_rc(lmdb);
    }
    return rc;
}

typedef struct export_ctx {
    sb_move_page_t *page;
    msgpack_packer pk;
    msgpack_sbuffer body;
    size_t max_bytes;
} export_ctx_t;

static int export_one(walk_t *w, size_t db_index, const char *db, const MDB_val *k,
                      size_t suffix_at, MDB_cursor *cur, bool dupsort)
{
    export_ctx_t *e = w->ctx;
    /* The key is copied first: reading the duplicates moves the cursor. */
    uint8_t key[SB_KEY_MAX > 511 ? SB_KEY_MAX : 511];
    size_t len = k->mv_size - suffix_at;
    if (len > sizeof(key) || len + 1 > SB_MOVE_CURSOR_MAX)
        return SB_E_CORRUPT;
    memcpy(key, (const uint8_t *)k->mv_data + suffix_at, len);
    int rc = pack_record(&e->pk, db, key, len, cur, true, dupsort);
    if (rc != 0)
        return rc;
    e->page->n++;
    if (e->body.size < e->max_bytes)
        return 0;
    e->page->more = true;
    e->page->cursor[0] = (uint8_t)db_index;
    memcpy(e->page->cursor + 1, key, len);
    e->page->cursor_len = 1 + len;
    return 1;
}

int sb_store_org_export(sb_store_t *store, const char *org, const uint8_t *cursor,
                        size_t cursor_len, size_t max_bytes, sb_move_page_t *page, sb_err_t *err)
{
    memset(page, 0, sizeof(*page));
    sb_err_clear(err);
    int rc = sb_org_id_check(org, err);
    if (rc != 0)
        return rc;
    if (cursor_len > SB_MOVE_CURSOR_MAX || (cursor_len > 0 && cursor[0] >= SB_DBI_SLOTS))
        return sb_err_set(err, -EINVAL,
                          "That export cursor is not one move.export gave: start again without.");
    MDB_txn *txn;
    if ((rc = sb__read_begin(store, &txn, err)) != 0)
        return rc;
    export_ctx_t e = {.page = page, .max_bytes = max_bytes};
    msgpack_sbuffer_init(&e.body);
    msgpack_packer_init(&e.pk, &e.body, msgpack_sbuffer_write);
    rc = sb__changes_last(store, txn, &page->seq);
    if (rc == 0)
        rc = sb__org_last_seq(store, txn, org, &page->org_seq);
    walk_t w = {store, txn, org, export_one, &e};
    if (rc == 0)
        rc = walk_org(&w, cursor_len ? cursor[0] : 0, cursor_len ? cursor + 1 : NULL,
                      cursor_len ? cursor_len - 1 : 0);
    if (rc == 1)
        rc = 0;
    sb__read_end(store, txn);
    int frc = page_finish(page, &e.body);
    if (rc == 0)
        rc = frc;
    if (rc != 0)
        sb_move_page_free(page);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

/* ---- the changes since a sequence -------------------------------------------- */

typedef struct changes_ctx {
    sb_store_t *store;
    MDB_txn *txn;
    const char *org;
    msgpack_packer pk;
    size_t n;
    struct {
        bool known;
        int kind;
        sb_key_t prefix;
    } dbs[SB_DBI_SLOTS];
} changes_ctx_t;

/* The current values of `key` in dbi as a record with `suffix`. */
static int emit_current(changes_ctx_t *c, MDB_dbi dbi, const MDB_val *key, size_t suffix_at)
{
    MDB_cursor *cur;
    int rc = sb__lmdb_rc(mdb_cursor_open(c->txn, dbi, &cur));
    if (rc != 0)
        return rc;
    MDB_val k = *key, v;
    int lmdb = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    bool found = lmdb == 0;
    if (found && dbi == c->store->tokens) {
        MDB_val kk, vv;
        int got = sb__cursor_get(cur, &kk, &vv, MDB_GET_CURRENT);
        if (got != 0) {
            mdb_cursor_close(cur);
            return sb__lmdb_rc(got);
        }
        if (!token_of(&vv, c->org)) { /* another org's now (or the admin's): not ours */
            mdb_cursor_close(cur);
            return 0;
        }
    }
    if (lmdb != 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    if (rc == 0)
        rc =
            pack_record(&c->pk, c->store->dbi_names[dbi], (const uint8_t *)key->mv_data + suffix_at,
                        key->mv_size - suffix_at, cur, found, is_dupsort(c->txn, dbi));
    mdb_cursor_close(cur);
    if (rc == 0)
        c->n++;
    return rc;
}

/* sb__entry_each_change's fn: the change as a record when the key is the org's. */
static int change_of_org(void *vctx, const msgpack_object *ch)
{
    changes_ctx_t *c = vctx;
    if (ch->type != MSGPACK_OBJECT_ARRAY || ch->via.array.size != 4)
        return SB_E_CORRUPT;
    const msgpack_object *o = ch->via.array.ptr;
    if (o[0].type != MSGPACK_OBJECT_STR || o[1].type != MSGPACK_OBJECT_STR ||
        o[2].type != MSGPACK_OBJECT_BIN)
        return SB_E_CORRUPT;
    MDB_dbi dbi;
    if (!dbi_by_name(c->store, o[1].via.str.ptr, o[1].via.str.size, &dbi))
        return SB_E_CORRUPT;
    if (!c->dbs[dbi].known) {
        c->dbs[dbi].kind = sb__org_prefix(c->store, c->txn, dbi, c->org, &c->dbs[dbi].prefix);
        c->dbs[dbi].known = true;
    }
    int kind = c->dbs[dbi].kind;
    const sb_key_t *prefix = &c->dbs[dbi].prefix;
    MDB_val k = {o[2].via.bin.size, (void *)o[2].via.bin.ptr};
    bool delp = o[0].via.str.size == 4 && memcmp(o[0].via.str.ptr, "delp", 4) == 0;
    if (kind < 0)
        return 0;
    if (delp) {
        /* Every key under k went: the org's part of it goes on the target. */
        if (kind != SB_ORG_KEYS_PREFIX)
            return 0;
        size_t common = k.mv_size < prefix->len ? k.mv_size : prefix->len;
        if (memcmp(k.mv_data, prefix->buf, common) != 0)
            return 0;
        size_t at = k.mv_size > prefix->len ? prefix->len : k.mv_size;
        size_t len = k.mv_size - at;
        int rc = msgpack_pack_array(&c->pk, 3) | sb_pack_str(&c->pk, c->store->dbi_names[dbi]) |
                 msgpack_pack_bin(&c->pk, len) |
                 msgpack_pack_bin_body(&c->pk, (const uint8_t *)k.mv_data + at, len) |
                 msgpack_pack_nil(&c->pk);
        c->n++;
        return rc == 0 ? 0 : -ENOMEM;
    }
    if (kind == SB_ORG_KEYS_VALUE) {
        /* A token put names its org; a token's delete does not: sent as
         * gone when it is gone, and the target deletes it only when the
         * record it holds there is this org's. */
        if (o[3].type == MSGPACK_OBJECT_BIN) {
            MDB_val v = {o[3].via.bin.size, (void *)o[3].via.bin.ptr};
            if (!token_of(&v, c->org))
                return 0;
        }
        return emit_current(c, dbi, &k, 0);
    }
    if (!key_is_org(kind, prefix, &k))
        return 0;
    return emit_current(c, dbi, &k, prefix->len);
}

int sb_store_org_changes(sb_store_t *store, const char *org, uint64_t from, size_t max_bytes,
                         sb_move_page_t *page, sb_err_t *err)
{
    memset(page, 0, sizeof(*page));
    sb_err_clear(err);
    int rc = sb_org_id_check(org, err);
    if (rc != 0)
        return rc;
    if (from == 0)
        return sb_err_set(err, -EINVAL, "Changes are read from sequence 1 on.");
    changes_ctx_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return sb_err_default(err, -ENOMEM);
    MDB_txn *txn;
    if ((rc = sb__read_begin(store, &txn, err)) != 0) {
        free(c);
        return rc;
    }
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    *c = (changes_ctx_t){.store = store, .txn = txn, .org = org};
    msgpack_packer_init(&c->pk, &body, msgpack_sbuffer_write);
    rc = sb__changes_last(store, txn, &page->last_seq);
    if (rc == 0)
        rc = sb__org_last_seq(store, txn, org, &page->org_seq);
    page->next_seq = from;
    MDB_cursor *cur = NULL;
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_cursor_open(txn, store->changes, &cur));
    if (rc == 0 && from <= page->last_seq) {
        uint64_t be = htobe64(from);
        MDB_val k = {8, &be}, v;
        int lmdb = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        uint64_t seq = 0;
        if (lmdb == 0 && k.mv_size == 8) {
            memcpy(&be, k.mv_data, 8);
            seq = be64toh(be);
        }
        if (lmdb != 0 || seq != from)
            rc = sb_err_set(err, SB_E_CHANGES_TRIMMED,
                            "The change log no longer holds change %llu (trimmed): start the "
                            "move again from a new export.",
                            (unsigned long long)from);
        while (rc == 0 && lmdb == 0) {
            if (k.mv_size != 8) {
                rc = SB_E_CORRUPT;
                break;
            }
            memcpy(&be, k.mv_data, 8);
            seq = be64toh(be);
            if (c->n > 0 && body.size >= max_bytes) {
                page->more = true; /* whole entries only: this one starts the next page */
                break;
            }
            rc = sb__entry_each_change(v.mv_data, v.mv_size, change_of_org, c);
            page->next_seq = seq + 1;
            if (rc == 0)
                lmdb = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (rc == 0 && lmdb != 0 && lmdb != MDB_NOTFOUND)
            rc = sb__lmdb_rc(lmdb);
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    sb__read_end(store, txn);
    page->n = c->n;
    free(c);
    int frc = page_finish(page, &body);
    if (rc == 0)
        rc = frc;
    if (rc != 0)
        sb_move_page_free(page);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

/* ---- import ------------------------------------------------------------------ */

typedef struct import_ctx {
    const char *org;
    const msgpack_object *records;
    size_t written;
} import_ctx_t;

static const void *bytes_of(const msgpack_object *o, size_t *len)
{
    if (o->type == MSGPACK_OBJECT_BIN) {
        *len = o->via.bin.size;
        return o->via.bin.ptr;
    }
    if (o->type == MSGPACK_OBJECT_STR) {
        *len = o->via.str.size;
        return o->via.str.ptr;
    }
    return NULL;
}

static int import_record(sb_store_t *store, MDB_txn *txn, import_ctx_t *c, uint32_t i,
                         const msgpack_object *r, sb_err_t *err)
{
    const msgpack_object *o = r->via.array.ptr;
    if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size != 3 ||
        o[0].type != MSGPACK_OBJECT_STR ||
        (o[2].type != MSGPACK_OBJECT_ARRAY && o[2].type != MSGPACK_OBJECT_NIL))
        return sb_err_set(err, -EINVAL,
                          "Record %u is not [db, key suffix, values] as move.export gives it.", i);
    size_t suffix_len;
    const void *suffix = bytes_of(&o[1], &suffix_len);
    MDB_dbi dbi;
    if (suffix == NULL)
        return sb_err_set(err, -EINVAL, "Record %u's key suffix is not bytes.", i);
    if (!dbi_by_name(store, o[0].via.str.ptr, o[0].via.str.size, &dbi))
        return sb_err_set(err, -EINVAL, "Record %u names the database '%.*s', which does not move.",
                          i, (int)(o[0].via.str.size > 32 ? 32 : o[0].via.str.size),
                          o[0].via.str.ptr);
    const char *db = store->dbi_names[dbi];
    sb_key_t key;
    int kind = sb__org_prefix(store, txn, dbi, c->org, &key);
    if (kind < 0)
        return sb_err_set(err, -EINVAL, "Record %u: the database %s does not move.", i, db);
    if (kind == SB_ORG_KEYS_EXACT && suffix_len != 0)
        return sb_err_set(err, -EINVAL, "Record %u: %s holds one key per org; its suffix is empty.",
                          i, db);
    if (suffix_len > sizeof(key.buf) - key.len || (kind == SB_ORG_KEYS_VALUE && suffix_len == 0))
        return sb_err_set(err, -EINVAL, "Record %u: its key does not fit a key of %s.", i, db);
    if (suffix_len > 0)
        memcpy(key.buf + key.len, suffix, suffix_len);
    key.len += suffix_len;
    if (o[2].type == MSGPACK_OBJECT_NIL) {
        if (kind != SB_ORG_KEYS_PREFIX)
            return sb_err_set(err, -EINVAL, "Record %u: %s has no prefix to delete under.", i, db);
        c->written++;
        return sb__del_prefix(txn, dbi, &key);
    }
    const msgpack_object_array *vals = &o[2].via.array;
    bool dupsort = is_dupsort(txn, dbi);
    if (vals->size > 1 && !dupsort)
        return sb_err_set(err, -EINVAL, "Record %u: %s holds one value per key, not %u.", i, db,
                          vals->size);
    for (uint32_t j = 0; j < vals->size; j++) {
        size_t len = 0;
        const void *data = bytes_of(&vals->ptr[j], &len);
        if (data == NULL)
            return sb_err_set(err, -EINVAL, "Record %u: value %u is not bytes.", i, j);
        MDB_val v = {len, (void *)data};
        sb_org_t rec;
        if (dbi == store->orgs &&
            (sb_codec_decode_org(data, len, &rec) != 0 || strcmp(rec.id, c->org) != 0))
            return sb_err_set(err, -EINVAL,
                              "Record %u is not the org record of '%s' (another org's, or not one "
                              "at all).",
                              i, c->org);
        if (kind == SB_ORG_KEYS_VALUE && !token_of(&v, c->org))
            return sb_err_set(err, -EACCES,
                              "Record %u is a token that is not one of the org '%s''s (or is an "
                              "admin token): a move brings only the org's own tokens.",
                              i, c->org);
    }
    if (kind == SB_ORG_KEYS_VALUE) {
        /* Never another org's token, or the admin's: a hash names any record. */
        MDB_val have;
        int got = sb__get(txn, dbi, &key, &have);
        if (got == 0 && !token_of(&have, c->org))
            return sb_err_set(err, -EACCES,
                              "Record %u: this server holds that token for another org or the "
                              "admin; not replaced.",
                              i);
        if (got != 0 && got != -ENOENT)
            return got;
    }
    int rc = 0;
    if (dbi == store->orgs) {
        /* The org's number is this store's own (schema 5): given here, with
         * the org's record, before any membership comes. */
        uint32_t num;
        rc = sb__org_num(store, txn, c->org, &num);
        if (rc == -ENOENT)
            rc = sb__org_num_give(store, txn, c->org, &num, err);
        if (rc != 0)
            return rc;
    }
    rc = sb__del(txn, dbi, &key);
    if (rc != 0 && rc != -ENOENT)
        return rc;
    rc = 0;
    for (uint32_t j = 0; rc == 0 && j < vals->size; j++) {
        size_t len = 0;
        const void *data = bytes_of(&vals->ptr[j], &len);
        rc = sb__put(txn, dbi, &key, data, len, 0);
    }
    c->written++;
    return rc;
}

static int import_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    import_ctx_t *c = vctx;
    c->written = 0;
    /* The first page makes the org "receiving": hidden until the commit. */
    sb_org_move_t now;
    int rc = state_read(store, txn, c->org, &now);
    if (rc != 0)
        return rc;
    if (now.state != SB_ORG_MOVE_RECEIVING) {
        state_ctx_t s = {c->org, SB_ORG_MOVE_RECEIVING, NULL};
        if ((rc = state_set_txn(store, txn, &s, err)) != 0)
            return rc;
    }
    for (uint32_t i = 0; rc == 0 && i < c->records->via.array.size; i++)
        rc = import_record(store, txn, c, i, &c->records->via.array.ptr[i], err);
    return rc;
}

int sb_store_org_import(sb_store_t *store, const char *org, const msgpack_object *records,
                        size_t *written, sb_err_t *err)
{
    sb_err_clear(err);
    *written = 0;
    int rc = sb_org_id_check(org, err);
    if (rc != 0)
        return rc;
    if (records == NULL || records->type != MSGPACK_OBJECT_ARRAY)
        return sb_err_set(err, -EINVAL, "records is an array of [db, key suffix, values].");
    import_ctx_t c = {org, records, 0};
    rc = sb__write(store, import_txn, &c, err);
    if (rc == 0)
        *written = c.written;
    return rc;
}

/* ---- purge --------------------------------------------------------------------- */

typedef struct purge_ctx {
    const char *org;
    bool keep_tokens;
    size_t max;
    bool left;
} purge_ctx_t;

static int purge_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    (void)err;
    purge_ctx_t *p = vctx;
    move_dbs_t dbs;
    move_dbs(store, &dbs);
    size_t budget = p->max;
    p->left = false;
    int rc = 0;
    for (size_t d = 0; rc == 0 && d < dbs.n && !p->left; d++) {
        sb_key_t prefix;
        int kind = sb__org_prefix(store, txn, dbs.dbi[d], p->org, &prefix);
        if (kind < 0 || (kind == SB_ORG_KEYS_VALUE && p->keep_tokens))
            continue;
        unsigned del_flags = is_dupsort(txn, dbs.dbi[d]) ? MDB_NODUPDATA : 0;
        MDB_cursor *cur;
        if ((rc = sb__lmdb_rc(mdb_cursor_open(txn, dbs.dbi[d], &cur))) != 0)
            return rc;
        MDB_val k = {prefix.len, prefix.buf}, v;
        int lmdb = kind == SB_ORG_KEYS_VALUE ? mdb_cursor_get(cur, &k, &v, MDB_FIRST)
                                             : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (rc == 0 && lmdb == 0) {
            bool ours;
            if (kind == SB_ORG_KEYS_VALUE) {
                MDB_val kk, vv;
                int got = sb__cursor_get(cur, &kk, &vv, MDB_GET_CURRENT);
                if (got != 0) {
                    rc = sb__lmdb_rc(got);
                    break;
                }
                ours = token_of(&vv, p->org);
            } else {
                if (!key_is_org(kind, &prefix, &k))
                    break;
                ours = true;
            }
            if (ours && budget == 0) {
                p->left = true;
                break;
            }
            if (ours) {
                budget--;
                /* Found again from the deleted key: the next one, whatever
                 * LMDB leaves the cursor on after a delete. */
                sb_key_t at = {.len = k.mv_size <= sizeof(at.buf) ? k.mv_size : 0};
                if (at.len == 0) {
                    rc = SB_E_CORRUPT;
                    break;
                }
                memcpy(at.buf, k.mv_data, at.len);
                rc = sb__cursor_del(cur, del_flags);
                k = (MDB_val){at.len, at.buf};
                lmdb = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : 0;
            } else {
                lmdb = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP);
            }
        }
        mdb_cursor_close(cur);
        if (rc == 0 && lmdb != 0 && lmdb != MDB_NOTFOUND)
            rc = sb__lmdb_rc(lmdb);
    }
    /* Every record gone: the org's number goes too (never given again). */
    if (rc == 0 && !p->left && (rc = sb__org_num_drop(store, txn, p->org)) == -ENOENT)
        rc = 0;
    return rc;
}

int sb_store_org_purge(sb_store_t *store, const char *org, bool keep_tokens, size_t max, bool *left,
                       sb_err_t *err)
{
    sb_err_clear(err);
    *left = false;
    int rc = sb_org_id_check(org, err);
    if (rc != 0)
        return rc;
    purge_ctx_t p = {org, keep_tokens, max, false};
    rc = sb__write(store, purge_txn, &p, err);
    if (rc == 0)
        *left = p.left;
    return rc;
}

typedef struct raise_ctx {
    const char *org;
    uint64_t org_seq;
} raise_ctx_t;

static int raise_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    (void)err;
    raise_ctx_t *r = vctx;
    return sb__org_seq_raise(store, txn, r->org, r->org_seq);
}

int sb_store_org_seq_raise(sb_store_t *store, const char *org, uint64_t org_seq, sb_err_t *err)
{
    sb_err_clear(err);
    int rc = sb_org_id_check(org, err);
    if (rc != 0)
        return rc;
    raise_ctx_t r = {org, org_seq};
    return sb__write(store, raise_txn, &r, err);
}

/* ---- digest -------------------------------------------------------------------- */

typedef struct digest_ctx {
    crypto_generichash_state st;
    uint64_t records;
} digest_ctx_t;

static void hash_part(crypto_generichash_state *st, const void *data, size_t len)
{
    uint8_t be[8];
    uint64_t n = htobe64((uint64_t)len);
    memcpy(be, &n, 8);
    crypto_generichash_update(st, be, 8);
    if (len > 0)
        crypto_generichash_update(st, data, len);
}

static int digest_one(walk_t *w, size_t db_index, const char *db, const MDB_val *k,
                      size_t suffix_at, MDB_cursor *cur, bool dupsort)
{
    (void)db_index;
    digest_ctx_t *d = w->ctx;
    uint8_t key[SB_KEY_MAX > 511 ? SB_KEY_MAX : 511];
    size_t len = k->mv_size - suffix_at;
    if (len > sizeof(key))
        return SB_E_CORRUPT;
    memcpy(key, (const uint8_t *)k->mv_data + suffix_at, len);
    size_t dups = 1;
    if (dupsort && mdb_cursor_count(cur, &dups) != 0)
        return SB_E_CORRUPT;
    MDB_val kk, v;
    for (size_t i = 0; i < dups; i++) {
        int lmdb = sb__cursor_get(cur, &kk, &v, i == 0 ? MDB_GET_CURRENT : MDB_NEXT_DUP);
        if (lmdb != 0)
            return sb__lmdb_rc(lmdb);
        hash_part(&d->st, db, strlen(db));
        hash_part(&d->st, key, len);
        hash_part(&d->st, v.mv_data, v.mv_size);
        d->records++;
    }
    return 0;
}

int sb_store_org_digest(sb_store_t *store, const char *org, uint8_t out[SB_MOVE_DIGEST_BYTES],
                        uint64_t *records, sb_err_t *err)
{
    sb_err_clear(err);
    *records = 0;
    int rc = sb_org_id_check(org, err);
    if (rc != 0)
        return rc;
    MDB_txn *txn;
    if ((rc = sb__read_begin(store, &txn, err)) != 0)
        return rc;
    digest_ctx_t d = {.records = 0};
    crypto_generichash_init(&d.st, NULL, 0, SB_MOVE_DIGEST_BYTES);
    walk_t w = {store, txn, org, digest_one, &d};
    rc = walk_org(&w, 0, NULL, 0);
    sb__read_end(store, txn);
    crypto_generichash_final(&d.st, out, SB_MOVE_DIGEST_BYTES);
    if (rc == 0)
        *records = d.records;
    return rc == 0 ? 0 : sb_err_default(err, rc);
}
