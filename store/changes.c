/*
 * The change log: every committed write transaction's physical changes,
 * captured at the store's write primitives (sb__put, sb__del, sb__del_dup,
 * sb__cursor_del) and stored under the next sequence number in the
 * `changes` database, in the same transaction as the changes themselves.
 * See docs/store.md for the entry's format.
 */
#include <ctype.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "pack.h"
#include "softphone_check.h"
#include "store_internal.h"

#define META_CHANGES_LAST "changes_last"

/* The capture of the write transaction this thread runs, NULL when none: the
 * primitives have only a txn, not the store. Only a thread inside an LMDB
 * write transaction sets it, and LMDB lets one such transaction live at a time
 * per environment, so the capture in the store is never shared. */
static __thread sb_capture_t *active;

void sb__capture_start(sb_store_t *store)
{
    sb_capture_t *cap = &store->cap;
    cap->store = store;
    cap->n_records = 0;
    cap->bytes.size = 0;
    cap->n_ids = 0;
    cap->failed = false;
    active = cap;
}

void sb__capture_stop(sb_store_t *store)
{
    if (active == &store->cap)
        active = NULL;
}

void sb__capture_mark(const sb_store_t *store, sb_capture_mark_t *mark)
{
    const sb_capture_t *cap = &store->cap;
    mark->n_records = cap->n_records;
    mark->size = cap->bytes.size;
    mark->last_changes = cap->n_records ? cap->records[cap->n_records - 1].n_changes : 0;
    mark->n_ids = cap->n_ids;
    mark->last_ids = cap->n_records ? cap->records[cap->n_records - 1].n_ids : 0;
}

void sb__capture_rewind(sb_store_t *store, const sb_capture_mark_t *mark)
{
    sb_capture_t *cap = &store->cap;
    cap->n_records = mark->n_records;
    cap->bytes.size = mark->size;
    cap->n_ids = mark->n_ids;
    if (cap->n_records) {
        cap->records[cap->n_records - 1].n_changes = mark->last_changes;
        cap->records[cap->n_records - 1].n_ids = mark->last_ids;
    }
}

static sb_change_record_t *record_new(sb_capture_t *cap)
{
    if (cap->n_records == cap->cap_records) {
        size_t n = cap->cap_records ? cap->cap_records * 2 : 16;
        sb_change_record_t *r = realloc(cap->records, n * sizeof(*r));
        if (r == NULL)
            return NULL;
        cap->records = r;
        cap->cap_records = n;
    }
    sb_change_record_t *r = &cap->records[cap->n_records++];
    memset(r, 0, sizeof(*r));
    r->time_ms = sb__now_ms();
    r->start = cap->bytes.size;
    r->ids_start = cap->n_ids;
    return r;
}

void sb_store_change_begin(sb_store_t *store, const sb_store_who_t *who)
{
    if (active != &store->cap)
        return; /* not in a write: nothing to attribute */
    sb_change_record_t *r = record_new(&store->cap);
    if (r == NULL) {
        store->cap.failed = true;
        return;
    }
    r->named = true;
    if (who != NULL) {
        snprintf(r->token_id, sizeof(r->token_id), "%s", who->token_id ? who->token_id : "");
        snprintf(r->org, sizeof(r->org), "%s", who->org ? who->org : "");
        snprintf(r->method, sizeof(r->method), "%s", who->method ? who->method : "");
    }
}

/* The org's last number as the open batch sees it: the last of this batch's
 * first `n` records that is the org's, else the last committed. */
static int batch_org_last(sb_store_t *store, const char *org, size_t n, uint64_t *last)
{
    const sb_capture_t *cap = &store->cap;
    for (size_t i = n; i-- > 0;) {
        const sb_change_record_t *o = &cap->records[i];
        if (o->org_seq != 0 && strcmp(o->org, org) == 0) {
            *last = o->org_seq; /* numbers only grow along the batch */
            return 0;
        }
    }
    return sb__org_last_seq(store, store->batch_txn, org, last);
}

void sb_store_change_end(sb_store_t *store, int rc)
{
    sb_capture_t *cap = &store->cap;
    if (active != cap || cap->n_records == 0)
        return;
    sb_change_record_t *r = &cap->records[cap->n_records - 1];
    if (rc == 0)
        r->kept = true;
    r->named = false; /* later changes open a record of their own */
    r->org_seq = 0;
    if ((!r->kept && !r->n_changes) || r->org[0] == '\0' || store->batch_txn == NULL)
        return;
    /* Its org's number now, so that the reply can carry it. A batch
     * replayed from the start numbers its writes again, the same way. */
    uint64_t last = 0;
    if (batch_org_last(store, r->org, cap->n_records - 1, &last) != 0) {
        cap->failed = true;
        return;
    }
    r->org_seq = last + 1;
}

uint64_t sb_store_change_org_seq(const sb_store_t *store)
{
    const sb_capture_t *cap = &store->cap;
    return active == cap && cap->n_records ? cap->records[cap->n_records - 1].org_seq : 0;
}

/* Whether the 18 bytes at p are an id (alphanumerics: a record's id, not a name). */
static bool is_id(const char *p, size_t len)
{
    if (len < SB_SFID_LEN)
        return false;
    for (size_t i = 0; i < SB_SFID_LEN; i++)
        if (!isalnum((unsigned char)p[i]))
            return false;
    return true;
}

/* `id` holds at least SB_SFID_LEN bytes: every caller passes is_id() first. */
static void record_id(sb_capture_t *cap, sb_change_record_t *r, const char *id)
{
    /* The same id comes many times in a row (a record, then its indexes). */
    if (r->n_ids && memcmp(cap->ids[cap->n_ids - 1], id, SB_SFID_LEN) == 0)
        return;
    if (cap->n_ids == cap->cap_ids) {
        size_t n = cap->cap_ids ? cap->cap_ids * 2 : 64;
        char(*grown)[SB_SFID_LEN] = realloc(cap->ids, n * sizeof(*grown));
        if (grown == NULL) {
            cap->failed = true;
            return;
        }
        cap->ids = grown;
        cap->cap_ids = n;
    }
    memcpy(cap->ids[cap->n_ids++], id, SB_SFID_LEN);
    r->n_ids++;
}

/*
 * The ids (users, Call Centers, contacts, voice calls) a change touched, the
 * one place that knows where they sit: a key's part after its org, when it is
 * an id (org \0 id [\0 ...]); and the value of the indexes whose value is an
 * id (a membership's Call Center, a Call Center's member, a name's or a
 * number's record, a call key's call). Names (layouts, profiles) are not ids.
 */
static void capture_ids(sb_capture_t *cap, sb_change_record_t *r, const char *db,
                        const MDB_val *key, const MDB_val *val)
{
    const char *k = key->mv_data;
    const char *nul = memchr(k, '\0', key->mv_size);
    uint32_t num;
    sb_sfid_t user;
    if (strcmp(db, "user_cc") == 0) { /* the org's number and the packed user id */
        if (sb_member_key_parse(k, key->mv_size, &num, &user) == 0)
            record_id(cap, r, user.s);
    } else if (strcmp(db, "org_ids") == 0) {
        /* an org's number: no id */
    } else if (nul != NULL && strcmp(db, "tokens") != 0) {
        size_t rest = key->mv_size - (size_t)(nul + 1 - k);
        if (is_id(nul + 1, rest) && (rest == SB_SFID_LEN || nul[1 + SB_SFID_LEN] == '\0'))
            record_id(cap, r, nul + 1);
    }
    bool id_value = strcmp(db, "user_cc") == 0 || strcmp(db, "cc_members") == 0 ||
                    strcmp(db, "cc_names") == 0 || strcmp(db, "phones") == 0 ||
                    strcmp(db, "call_keys") == 0;
    if (val != NULL && id_value && is_id(val->mv_data, val->mv_size))
        record_id(cap, r, val->mv_data);
}

/* Appends one change to the current record (a new anonymous one when the
 * write did not say who it is: the server's own writes, the tools'). */
static void capture_change(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key, const MDB_val *val,
                           const char *op)
{
    sb_capture_t *cap = active;
    if (cap == NULL || mdb_txn_env(txn) != cap->store->env)
        return;
    if (dbi >= SB_DBI_SLOTS || cap->store->dbi_names[dbi] == NULL)
        return; /* meta and the log itself: the store's own bookkeeping */
    sb_change_record_t *r = cap->n_records && cap->records[cap->n_records - 1].named
                                ? &cap->records[cap->n_records - 1]
                                : NULL;
    if (r == NULL) {
        r = record_new(cap);
        if (r == NULL) {
            cap->failed = true;
            return;
        }
        r->named = true;
        r->kept = true;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, &cap->bytes, msgpack_sbuffer_write);
    const char *name = cap->store->dbi_names[dbi];
    int rc = msgpack_pack_array(&pk, 4);
    rc |= sb_pack_str(&pk, op);
    rc |= sb_pack_str(&pk, name);
    rc |= msgpack_pack_bin(&pk, key->mv_size);
    rc |= msgpack_pack_bin_body(&pk, key->mv_data, key->mv_size);
    if (val != NULL) {
        rc |= msgpack_pack_bin(&pk, val->mv_size);
        rc |= msgpack_pack_bin_body(&pk, val->mv_data, val->mv_size);
    } else {
        rc |= msgpack_pack_nil(&pk);
    }
    if (rc != 0)
        cap->failed = true;
    r->n_changes++;
    capture_ids(cap, r, name, key, val);
}

/* mdb_put of `data` sealed with its checksum (value.c): LMDB's result.
 * Copied with its trailer, never written into an MDB_RESERVE'd place: `data`
 * may be a value read in this transaction, on a page the put rearranges. */
static int put_sealed(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, const void *data, size_t len,
                      unsigned flags)
{
    uint8_t small[512], *buf = small;
    if (len > sizeof(small) - SB_VALUE_SUM_BYTES) {
        if (len > SIZE_MAX - SB_VALUE_SUM_BYTES || (buf = malloc(len + SB_VALUE_SUM_BYTES)) == NULL)
            return ENOMEM;
    }
    if (len > 0)
        memcpy(buf, data, len);
    sb__value_seal(k, data, len, buf + len);
    MDB_val v = {len + SB_VALUE_SUM_BYTES, buf};
    int lmdb = mdb_put(txn, dbi, k, &v, flags);
    if (buf != small)
        free(buf);
    return lmdb;
}

/* mdb_del of the duplicate `data` at k, sealed as it was stored. */
static int del_sealed(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, const void *data, size_t len)
{
    uint8_t buf[64];
    if (len > sizeof(buf) - SB_VALUE_SUM_BYTES)
        return MDB_NOTFOUND; /* never stored: put_sealed refuses it */
    memcpy(buf, data, len);
    sb__value_seal(k, data, len, buf + len);
    MDB_val v = {len + SB_VALUE_SUM_BYTES, buf};
    return mdb_del(txn, dbi, k, &v);
}

int sb__put(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *key, const void *data, size_t len,
            unsigned flags)
{
    MDB_val k = {key->len, (void *)key->buf};
    int rc = sb__lmdb_rc(put_sealed(txn, dbi, &k, data, len, flags));
    if (rc == 0) {
        MDB_val orig = {len, (void *)data}; /* mdb_put may point v at the page */
        capture_change(txn, dbi, &k, &orig, "put");
    }
    return rc;
}

int sb__del(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *key)
{
    MDB_val k = {key->len, (void *)key->buf};
    int rc = sb__lmdb_rc(mdb_del(txn, dbi, &k, NULL));
    if (rc == 0)
        capture_change(txn, dbi, &k, NULL, "del");
    return rc;
}

int sb__del_dup(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *key, const void *data, size_t len)
{
    MDB_val k = {key->len, (void *)key->buf};
    int rc = sb__lmdb_rc(del_sealed(txn, dbi, &k, data, len));
    if (rc == 0) {
        MDB_val orig = {len, (void *)data};
        capture_change(txn, dbi, &k, &orig, "del");
    }
    return rc;
}

int sb__cursor_del(MDB_cursor *cur, unsigned flags)
{
    /* The key before the delete: afterwards the cursor is on the next one.
     * Whole keys only (flags MDB_NODUPDATA, or a database without
     * duplicates): the entry says "del key". */
    MDB_val k, v;
    int lmdb = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
    char buf[SB_KEY_MAX > 511 ? SB_KEY_MAX : 511];
    size_t len = k.mv_size <= sizeof(buf) ? k.mv_size : 0;
    if (lmdb == 0 && len)
        memcpy(buf, k.mv_data, len);
    if (lmdb == 0)
        lmdb = mdb_cursor_del(cur, flags);
    if (lmdb == 0) {
        MDB_val copy = {len, buf};
        capture_change(mdb_cursor_txn(cur), mdb_cursor_dbi(cur), &copy, NULL, "del");
    }
    return sb__lmdb_rc(lmdb);
}

void sb__capture_del_prefix(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *prefix)
{
    MDB_val k = {prefix->len, (void *)prefix->buf};
    capture_change(txn, dbi, &k, NULL, "delp");
}

static void be64_key(uint64_t seq, unsigned char out[8])
{
    uint64_t be = htobe64(seq);
    memcpy(out, &be, 8);
}

static int last_seq(sb_store_t *store, MDB_txn *txn, uint64_t *seq)
{
    MDB_val k = {sizeof(META_CHANGES_LAST) - 1, META_CHANGES_LAST}, v;
    int lmdb = mdb_get(txn, store->meta, &k, &v);
    *seq = 0;
    if (lmdb == MDB_NOTFOUND)
        return 0;
    if (lmdb != 0)
        return sb__lmdb_rc(lmdb);
    if (v.mv_size != sizeof(*seq))
        return SB_E_CORRUPT;
    memcpy(seq, v.mv_data, sizeof(*seq));
    return 0;
}

static int set_last_seq(sb_store_t *store, MDB_txn *txn, uint64_t seq)
{
    MDB_val k = {sizeof(META_CHANGES_LAST) - 1, META_CHANGES_LAST}, v = {sizeof(seq), &seq};
    return sb__lmdb_rc(mdb_put(txn, store->meta, &k, &v, 0));
}

/* changes_org's key of (org, org_seq): org \0 big-endian org_seq. */
static size_t org_index_key(const char *org, uint64_t org_seq, char out[SB_ORG_ID_MAX + 1 + 8])
{
    size_t len = strnlen(org, SB_ORG_ID_MAX);
    memcpy(out, org, len);
    out[len] = '\0';
    be64_key(org_seq, (unsigned char *)out + len + 1);
    return len + 1 + 8;
}

/* The org's last org_seq, under its bare id in changes_org (0: none yet). */
int sb__org_last_seq(sb_store_t *store, MDB_txn *txn, const char *org, uint64_t *last)
{
    MDB_val k = {strnlen(org, SB_ORG_ID_MAX), (void *)org}, v;
    *last = 0;
    int lmdb = mdb_get(txn, store->changes_org, &k, &v);
    if (lmdb == MDB_NOTFOUND)
        return 0;
    if (lmdb != 0)
        return sb__lmdb_rc(lmdb);
    if (v.mv_size != sizeof(*last))
        return SB_E_CORRUPT;
    memcpy(last, v.mv_data, sizeof(*last));
    return 0;
}

int sb__org_seq_raise(sb_store_t *store, MDB_txn *txn, const char *org, uint64_t at_least)
{
    uint64_t last = 0;
    int rc = sb__org_last_seq(store, txn, org, &last);
    if (rc != 0 || last >= at_least)
        return rc;
    MDB_val lk = {strnlen(org, SB_ORG_ID_MAX), (void *)org}, lv = {sizeof(at_least), &at_least};
    return sb__lmdb_rc(mdb_put(txn, store->changes_org, &lk, &lv, 0));
}

int sb__changes_last(sb_store_t *store, MDB_txn *txn, uint64_t *seq)
{
    return last_seq(store, txn, seq);
}

/* Indexes write `index` of entry `seq` as the org's `org_seq`, and makes it
 * the org's last: an org's numbers come in increasing order, in a batch's
 * flush as in the entries applied, so the last put is the greatest. */
static int org_index_put(sb_store_t *store, MDB_txn *txn, const char *org, uint64_t org_seq,
                         uint64_t seq, uint32_t index)
{
    char kb[SB_ORG_ID_MAX + 1 + 8];
    unsigned char vb[12];
    be64_key(seq, vb);
    uint32_t be = htobe32(index);
    memcpy(vb + 8, &be, 4);
    MDB_val k = {org_index_key(org, org_seq, kb), kb}, v = {sizeof(vb), vb};
    int rc = sb__lmdb_rc(mdb_put(txn, store->changes_org, &k, &v, 0));
    MDB_val lk = {strnlen(org, SB_ORG_ID_MAX), (void *)org}, lv = {sizeof(org_seq), &org_seq};
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_put(txn, store->changes_org, &lk, &lv, 0));
    return rc;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, SB_SFID_LEN);
}

/* Packs a record's ids, sorted, each once. */
static int pack_ids(msgpack_packer *pk, sb_capture_t *cap, const sb_change_record_t *r)
{
    if (r->n_ids == 0) /* and perhaps no array at all yet */
        return sb_pack_str(pk, "ids") | msgpack_pack_array(pk, 0);
    char(*ids)[SB_SFID_LEN] = cap->ids + r->ids_start;
    qsort(ids, r->n_ids, SB_SFID_LEN, cmp_id);
    size_t n = 0;
    for (size_t i = 0; i < r->n_ids; i++)
        n += i == 0 || memcmp(ids[i], ids[i - 1], SB_SFID_LEN) != 0;
    int rc = sb_pack_str(pk, "ids") | msgpack_pack_array(pk, n);
    for (size_t i = 0; i < r->n_ids; i++)
        if (i == 0 || memcmp(ids[i], ids[i - 1], SB_SFID_LEN) != 0)
            rc |=
                msgpack_pack_str(pk, SB_SFID_LEN) | msgpack_pack_str_body(pk, ids[i], SB_SFID_LEN);
    return rc;
}

void sb_store_set_publish(sb_store_t *store, sb_store_publish_fn fn, void *ctx)
{
    store->publish = fn;
    store->publish_ctx = ctx;
}

uint64_t sb_store_batch_seq(const sb_store_t *store)
{
    return store->cap.seq;
}

int sb__capture_seq(sb_store_t *store, MDB_txn *txn)
{
    uint64_t last;
    int rc = last_seq(store, txn, &last);
    store->cap.seq = rc == 0 ? last + 1 : 0;
    return rc;
}

int sb__capture_flush(sb_store_t *store, MDB_txn *txn)
{
    sb_capture_t *cap = &store->cap;
    if (cap->failed)
        return -ENOMEM; /* a change could not be recorded: the write must not commit */
    size_t kept = 0;
    for (size_t i = 0; i < cap->n_records; i++)
        kept += cap->records[i].kept || cap->records[i].n_changes;
    if (kept == 0)
        return 0; /* nothing happened: no entry, the sequence is not used */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* A fixed head, so that retention reads seq and time without decoding:
     * 0x94, version, seq (0xcf + 8 bytes), time (0xd3 + 8 bytes). */
    int rc = msgpack_pack_array(&pk, 4);
    rc |= msgpack_pack_uint8(&pk, SB_CHANGES_FORMAT);
    rc |= msgpack_pack_fix_uint64(&pk, cap->seq);
    rc |= msgpack_pack_fix_int64(&pk, sb__now_ms());
    rc |= msgpack_pack_array(&pk, kept);
    if (rc != 0)
        rc = -ENOMEM;
    uint32_t index = 0;
    for (size_t i = 0; rc == 0 && i < cap->n_records; i++) {
        sb_change_record_t *r = &cap->records[i];
        if (!r->kept && !r->n_changes)
            continue;
        /* An org's write has the org's next number (sb_store_change_end
         * chose it), indexed to its place here, in this transaction: the
         * org's numbering and the log agree. */
        if (r->org[0] != '\0') {
            if (r->org_seq == 0) {
                uint64_t last = 0;
                rc = sb__org_last_seq(store, txn, r->org, &last);
                r->org_seq = last + 1;
            }
            if (rc == 0)
                rc = org_index_put(store, txn, r->org, r->org_seq, cap->seq, index);
            if (rc != 0)
                break;
        }
        size_t end = i + 1 < cap->n_records ? cap->records[i + 1].start : cap->bytes.size;
        rc |= msgpack_pack_map(&pk, r->org_seq ? 7 : 6);
        rc |= sb_pack_kv_int(&pk, "time", r->time_ms);
        rc |= sb_pack_kv_str(&pk, "token", r->token_id);
        rc |= sb_pack_kv_str(&pk, "org", r->org);
        rc |= sb_pack_kv_str(&pk, "method", r->method);
        if (r->org_seq)
            rc |= sb_pack_kv_uint(&pk, "org_seq", r->org_seq);
        rc |= pack_ids(&pk, cap, r);
        rc |= sb_pack_str(&pk, "changes");
        rc |= msgpack_pack_array(&pk, r->n_changes);
        rc |= msgpack_sbuffer_write(&sb, cap->bytes.data + r->start, end - r->start);
        if (rc != 0)
            rc = -ENOMEM;
        index++;
    }
    unsigned char kb[8];
    be64_key(cap->seq, kb);
    MDB_val k = {8, kb}, v = {sb.size, sb.data};
    /* Published before it is stored: a refusal leaves nothing behind. */
    if (rc == 0 && store->publish != NULL)
        rc = store->publish(store->publish_ctx, cap->seq, sb.data, sb.size);
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_put(txn, store->changes, &k, &v, MDB_APPEND));
    if (rc == 0)
        rc = set_last_seq(store, txn, cap->seq);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

void sb__capture_free(sb_store_t *store)
{
    free(store->cap.records);
    free(store->cap.ids);
    msgpack_sbuffer_destroy(&store->cap.bytes);
    memset(&store->cap, 0, sizeof(store->cap));
}

/* ---- reading, trimming and applying the log ------------------------------ */

int sb_store_changes_range(sb_store_t *store, uint64_t *first, uint64_t *last, sb_err_t *err)
{
    *first = *last = 0;
    MDB_txn *txn;
    int rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    rc = sb__lmdb_rc(mdb_cursor_open(txn, store->changes, &cur));
    if (rc == 0) {
        MDB_val k, v;
        int lmdb = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (lmdb == 0 && k.mv_size == 8) {
            uint64_t be;
            memcpy(&be, k.mv_data, 8);
            *first = be64toh(be);
        } else if (lmdb != MDB_NOTFOUND) {
            rc = lmdb == 0 ? SB_E_CORRUPT : sb__lmdb_rc(lmdb);
        }
        mdb_cursor_close(cur);
    }
    if (rc == 0)
        rc = last_seq(store, txn, last);
    sb__read_end(store, txn);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

int sb_store_changes_get(sb_store_t *store, uint64_t seq, void **entry, size_t *len, sb_err_t *err)
{
    *entry = NULL;
    *len = 0;
    MDB_txn *txn;
    int rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    unsigned char kb[8];
    be64_key(seq, kb);
    MDB_val k = {8, kb}, v;
    rc = sb__lmdb_rc(mdb_get(txn, store->changes, &k, &v));
    if (rc == 0 && (*entry = malloc(v.mv_size ? v.mv_size : 1)) == NULL)
        rc = -ENOMEM;
    if (rc == 0) {
        memcpy(*entry, v.mv_data, v.mv_size);
        *len = v.mv_size;
    }
    sb__read_end(store, txn);
    if (rc == -ENOENT)
        return sb_err_set(err, rc, "No change %llu is kept.", (unsigned long long)seq);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

/* The entry's time from its fixed head; false when the head is not one. */
static bool entry_time(const MDB_val *v, int64_t *ms)
{
    const unsigned char *p = v->mv_data;
    if (v->mv_size < 20 || p[0] != 0x94 || p[2] != 0xcf || p[11] != 0xd3)
        return false;
    uint64_t be;
    memcpy(&be, p + 12, 8);
    *ms = (int64_t)be64toh(be);
    return true;
}

/* The org writes of an entry: (org, org_seq) pairs, copied out of it. */
typedef struct org_writes {
    size_t n;
    struct {
        char org[SB_ORG_ID_MAX + 1];
        uint64_t org_seq;
        uint32_t index; /* the write's place in the entry */
    } * rows;
} org_writes_t;

/* Collects the (org, org_seq) of each write of an entry. Entries written
 * before org numbering have none. */
static int entry_org_writes(const void *data, size_t len, org_writes_t *out)
{
    out->n = 0;
    out->rows = NULL;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = 0;
    if (msgpack_unpack_next(&u, data, len, NULL) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 4 ||
        u.data.via.array.ptr[3].type != MSGPACK_OBJECT_ARRAY)
        rc = SB_E_CORRUPT;
    const msgpack_object_array *writes = rc == 0 ? &u.data.via.array.ptr[3].via.array : NULL;
    if (rc == 0 && writes->size > 0 &&
        (out->rows = calloc(writes->size, sizeof(*out->rows))) == NULL)
        rc = -ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < writes->size; i++) {
        const msgpack_object *seq = sb_obj_get(&writes->ptr[i], "org_seq");
        const msgpack_object *org = sb_obj_get(&writes->ptr[i], "org");
        if (seq == NULL || seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER || org == NULL)
            continue;
        if (sb_obj_copy_str(org, out->rows[out->n].org, sizeof(out->rows[out->n].org)) != 0) {
            rc = SB_E_CORRUPT;
            break;
        }
        out->rows[out->n].index = i;
        out->rows[out->n++].org_seq = seq->via.u64;
    }
    msgpack_unpacked_destroy(&u);
    if (rc != 0) {
        free(out->rows);
        out->rows = NULL;
        out->n = 0;
    }
    return rc;
}

/* Deletes the changes_org rows of the entry in v (before the entry goes):
 * the org's numbering is trimmed with the log. A copy first: v points at a
 * page that the deletions may move. */
static int unindex_entry(sb_store_t *store, MDB_txn *txn, const MDB_val *v)
{
    org_writes_t w;
    int rc = entry_org_writes(v->mv_data, v->mv_size, &w);
    if (rc == SB_E_CORRUPT)
        return 0; /* not ours to judge here: trimming it is what can be done */
    for (size_t i = 0; rc == 0 && i < w.n; i++) {
        char kb[SB_ORG_ID_MAX + 1 + 8];
        MDB_val k = {org_index_key(w.rows[i].org, w.rows[i].org_seq, kb), kb};
        int lmdb = mdb_del(txn, store->changes_org, &k, NULL);
        rc = lmdb == MDB_NOTFOUND ? 0 : sb__lmdb_rc(lmdb);
    }
    free(w.rows);
    return rc;
}

typedef struct trim_ctx {
    uint64_t keep;
    int64_t keep_ms;
    size_t max;
    size_t trimmed;
} trim_ctx_t;

static int trim_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    (void)err;
    trim_ctx_t *t = vctx;
    t->trimmed = 0;
    MDB_stat st;
    int rc = sb__lmdb_rc(mdb_stat(txn, store->changes, &st));
    MDB_cursor *cur;
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_cursor_open(txn, store->changes, &cur));
    if (rc != 0)
        return rc;
    uint64_t count = st.ms_entries;
    int64_t now = sb__now_ms();
    int64_t cutoff = t->keep_ms > 0 ? now - t->keep_ms : INT64_MIN;
    MDB_val k, v;
    int lmdb = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    /* Trimming starts only a little past the bounds (a thousandth), so that
     * a log at its bound is trimmed by many entries now and then, not by
     * one in a commit of its own after every batch. */
    int64_t first_ms = 0;
    bool start = t->keep > 0 && count > t->keep + t->keep / 1000;
    if (!start && lmdb == 0 && t->keep_ms > 0 && entry_time(&v, &first_ms))
        start = first_ms < cutoff - t->keep_ms / 1000;
    while (start && lmdb == 0 && t->trimmed < t->max) {
        int64_t ms = 0;
        bool too_many = t->keep > 0 && count > t->keep;
        bool too_old = entry_time(&v, &ms) && ms < cutoff;
        if (!too_many && !too_old)
            break;
        int irc = unindex_entry(store, txn, &v);
        if (irc != 0) {
            mdb_cursor_close(cur);
            return irc;
        }
        lmdb = mdb_cursor_del(cur, 0);
        if (lmdb == 0) {
            count--;
            t->trimmed++;
            lmdb = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        }
    }
    mdb_cursor_close(cur);
    return lmdb == 0 || lmdb == MDB_NOTFOUND ? 0 : sb__lmdb_rc(lmdb);
}

int sb_store_changes_trim(sb_store_t *store, uint64_t keep, int64_t keep_ms, size_t max,
                          size_t *trimmed, sb_err_t *err)
{
    trim_ctx_t t = {keep, keep_ms, max, 0};
    *trimmed = 0;
    int rc = sb__write_uncaptured(store, trim_txn, &t, err);
    if (rc == 0)
        *trimmed = t.trimmed;
    return rc;
}

typedef struct apply_ctx {
    const void *entry;
    size_t len;
    uint64_t seq;
} apply_ctx_t;

static int apply_change(sb_store_t *store, MDB_txn *txn, const msgpack_object *c)
{
    if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 4)
        return SB_E_CORRUPT;
    const msgpack_object *o = c->via.array.ptr;
    char op[8], name[32];
    if (sb_obj_copy_str(&o[0], op, sizeof(op)) != 0 ||
        sb_obj_copy_str(&o[1], name, sizeof(name)) != 0 || o[2].type != MSGPACK_OBJECT_BIN ||
        (o[3].type != MSGPACK_OBJECT_BIN && o[3].type != MSGPACK_OBJECT_NIL))
        return SB_E_CORRUPT;
    MDB_dbi dbi = 0;
    bool found = false;
    for (MDB_dbi i = 0; i < SB_DBI_SLOTS && !found; i++)
        if (store->dbi_names[i] && strcmp(store->dbi_names[i], name) == 0) {
            dbi = i;
            found = true;
        }
    if (!found)
        return SB_E_CORRUPT;
    MDB_val k = {o[2].via.bin.size, (void *)o[2].via.bin.ptr};
    MDB_val v = {0, NULL};
    bool has_val = o[3].type == MSGPACK_OBJECT_BIN;
    /* Schema 5's membership keys are 13 bytes, an org's prefix in them 4:
     * an entry logged before the migration has "org \0 user id" (20 bytes
     * and more, or "org \0" for an org's delete), which must not be
     * written beside the new keys. */
    if (dbi == store->user_cc &&
        k.mv_size != (strcmp(op, "delp") == 0 ? SB_ORG_NUM_LEN : SB_MEMBER_KEY_LEN))
        return SB_E_CHANGE_OF_OLDER_SCHEMA;
    if (has_val)
        v = (MDB_val){o[3].via.bin.size, (void *)o[3].via.bin.ptr};
    int lmdb;
    if (strcmp(op, "delp") == 0 && !has_val)
        return sb__del_prefix_unlogged(txn, dbi, k.mv_data, k.mv_size);
    /* The log holds values without their checksums: sealed again here. */
    if (strcmp(op, "put") == 0 && has_val)
        lmdb = put_sealed(txn, dbi, &k, v.mv_data, v.mv_size, 0);
    else if (strcmp(op, "del") == 0)
        lmdb =
            has_val ? del_sealed(txn, dbi, &k, v.mv_data, v.mv_size) : mdb_del(txn, dbi, &k, NULL);
    else
        return SB_E_CORRUPT;
    return sb__lmdb_rc(lmdb);
}

int sb__entry_each_change(const void *entry, size_t len, sb_change_fn fn, void *ctx)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = 0;
    if (msgpack_unpack_next(&u, entry, len, NULL) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 4 ||
        u.data.via.array.ptr[3].type != MSGPACK_OBJECT_ARRAY)
        rc = SB_E_CORRUPT;
    const msgpack_object_array *writes = rc == 0 ? &u.data.via.array.ptr[3].via.array : NULL;
    for (uint32_t i = 0; rc == 0 && i < writes->size; i++) {
        const msgpack_object *changes = sb_obj_get(&writes->ptr[i], "changes");
        if (changes == NULL || changes->type != MSGPACK_OBJECT_ARRAY) {
            rc = SB_E_CORRUPT;
            break;
        }
        for (uint32_t j = 0; rc == 0 && j < changes->via.array.size; j++)
            rc = fn(ctx, &changes->via.array.ptr[j]);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

typedef struct apply_one {
    sb_store_t *store;
    MDB_txn *txn;
} apply_one_t;

static int apply_one(void *ctx, const msgpack_object *change)
{
    apply_one_t *one = ctx;
    return apply_change(one->store, one->txn, change);
}

static int apply_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    apply_ctx_t *a = vctx;
    uint64_t last;
    int rc = last_seq(store, txn, &last);
    if (rc != 0)
        return rc;
    if (a->seq <= last)
        return sb_err_set(err, -EINVAL, "Change %llu is not after the last one applied (%llu).",
                          (unsigned long long)a->seq, (unsigned long long)last);
    apply_one_t one = {store, txn};
    rc = sb__entry_each_change(a->entry, a->len, apply_one, &one);
    if (rc == SB_E_CHANGE_OF_OLDER_SCHEMA)
        sb_err_set(err, rc,
                   "Change %llu holds a membership key of schema 4 (it was logged before the "
                   "primary moved to schema 5), which this store cannot apply: start this "
                   "replica again from a backup of the primary taken after the upgrade.",
                   (unsigned long long)a->seq);
    /* The org numbering comes with the entry: a replica's equals the primary's. */
    org_writes_t w = {0, NULL};
    if (rc == 0)
        rc = entry_org_writes(a->entry, a->len, &w);
    for (size_t i = 0; rc == 0 && i < w.n; i++)
        rc = org_index_put(store, txn, w.rows[i].org, w.rows[i].org_seq, a->seq, w.rows[i].index);
    free(w.rows);
    unsigned char kb[8];
    be64_key(a->seq, kb);
    MDB_val k = {8, kb}, v = {a->len, (void *)a->entry};
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_put(txn, store->changes, &k, &v, 0));
    if (rc == 0)
        rc = set_last_seq(store, txn, a->seq);
    return rc;
}

int sb_store_changes_apply(sb_store_t *store, const void *entry, size_t len, sb_err_t *err)
{
    const MDB_val v = {len, (void *)entry};
    int64_t ms;
    if (!entry_time(&v, &ms))
        return sb_err_set(err, SB_E_CORRUPT, "Not a change-log entry.");
    uint64_t be;
    memcpy(&be, (const unsigned char *)entry + 3, 8);
    apply_ctx_t a = {entry, len, be64toh(be)};
    return sb__write_uncaptured(store, apply_txn, &a, err);
}

typedef struct apply_many_ctx {
    apply_ctx_t *entries;
    size_t n;
} apply_many_ctx_t;

static int apply_many_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    apply_many_ctx_t *m = vctx;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m->n; i++)
        rc = apply_txn(store, txn, &m->entries[i], err);
    return rc;
}

int sb_store_changes_apply_many(sb_store_t *store, const void *const *entries, const size_t *lens,
                                size_t n, sb_err_t *err)
{
    sb_err_clear(err);
    if (n == 0)
        return 0;
    apply_ctx_t *a = calloc(n, sizeof(*a));
    if (a == NULL)
        return sb_err_default(err, -ENOMEM);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const MDB_val v = {lens[i], (void *)entries[i]};
        int64_t ms;
        if (!entry_time(&v, &ms)) {
            rc = sb_err_set(err, SB_E_CORRUPT, "Not a change-log entry.");
            break;
        }
        uint64_t be;
        memcpy(&be, (const unsigned char *)entries[i] + 3, 8);
        a[i] = (apply_ctx_t){entries[i], lens[i], be64toh(be)};
    }
    apply_many_ctx_t m = {a, n};
    if (rc == 0)
        rc = sb__write_uncaptured(store, apply_many_txn, &m, err);
    free(a);
    return rc;
}

/* ---- the org numbering, read (audit and watches) --------------------------- */

int sb_store_org_seq_range(sb_store_t *store, const char *org, uint64_t *first, uint64_t *last,
                           sb_err_t *err)
{
    *first = *last = 0;
    if (strlen(org) > SB_ORG_ID_MAX)
        return sb_err_set(err, -EINVAL, "The org id is longer than %d bytes.", SB_ORG_ID_MAX);
    MDB_txn *txn;
    int rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    rc = sb__org_last_seq(store, txn, org, last);
    MDB_cursor *cur = NULL;
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_cursor_open(txn, store->changes_org, &cur));
    if (rc == 0) {
        char kb[SB_ORG_ID_MAX + 1 + 8];
        size_t klen = org_index_key(org, 0, kb);
        MDB_val k = {klen, kb}, v;
        int lmdb = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (lmdb == 0 && k.mv_size == klen && memcmp(k.mv_data, kb, klen - 8) == 0) {
            uint64_t be;
            memcpy(&be, (const char *)k.mv_data + klen - 8, 8);
            *first = be64toh(be);
        } else if (lmdb != 0 && lmdb != MDB_NOTFOUND) {
            rc = sb__lmdb_rc(lmdb);
        }
        mdb_cursor_close(cur);
    }
    sb__read_end(store, txn);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

int sb_store_org_seq(sb_store_t *store, const char *org, uint64_t *last, sb_err_t *err)
{
    *last = 0;
    if (strlen(org) > SB_ORG_ID_MAX)
        return sb_err_set(err, -EINVAL, "The org id is longer than %d bytes.", SB_ORG_ID_MAX);
    /* Inside a write batch (the writer's thread): its earlier writes count. */
    if (active == &store->cap && store->batch_txn != NULL) {
        int rc = batch_org_last(store, org, store->cap.n_records, last);
        return rc == 0 ? 0 : sb_err_default(err, rc);
    }
    uint64_t first;
    return sb_store_org_seq_range(store, org, &first, last, err);
}

/* One entry, unpacked, kept while consecutive index rows point into it. */
typedef struct scan_entry {
    uint64_t seq; /* 0: none held */
    msgpack_unpacked u;
} scan_entry_t;

/* Loads entry `seq` into e (unless it holds it). -ENOENT when not kept. */
static int scan_load(sb_store_t *store, MDB_txn *txn, scan_entry_t *e, uint64_t seq, size_t *bytes)
{
    if (e->seq == seq)
        return 0;
    e->seq = 0;
    unsigned char kb[8];
    be64_key(seq, kb);
    MDB_val k = {8, kb}, v;
    int rc = sb__lmdb_rc(mdb_get(txn, store->changes, &k, &v));
    if (rc != 0)
        return rc;
    *bytes += v.mv_size;
    /* The unpacked strings point into v, valid as long as the read. */
    if (msgpack_unpack_next(&e->u, v.mv_data, v.mv_size, NULL) != MSGPACK_UNPACK_SUCCESS ||
        e->u.data.type != MSGPACK_OBJECT_ARRAY || e->u.data.via.array.size != 4 ||
        e->u.data.via.array.ptr[3].type != MSGPACK_OBJECT_ARRAY)
        return SB_E_CORRUPT;
    e->seq = seq;
    return 0;
}

static uint64_t write_org_seq(const msgpack_object *w)
{
    const msgpack_object *o = sb_obj_get(w, "org_seq");
    return o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

/* The org's writes, by org_seq, through changes_org. */
static int scan_org(sb_store_t *store, MDB_txn *txn, const sb_changes_scan_t *scan,
                    sb_change_visit_fn fn, void *ctx, uint64_t *next, bool *more)
{
    char kb[SB_ORG_ID_MAX + 1 + 8];
    size_t klen = org_index_key(scan->org, scan->from, kb);
    MDB_cursor *cur;
    int rc = sb__lmdb_rc(mdb_cursor_open(txn, store->changes_org, &cur));
    if (rc != 0)
        return rc;
    scan_entry_t e = {0};
    msgpack_unpacked_init(&e.u);
    MDB_val k = {klen, kb}, v;
    int lmdb = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (scan->descending) {
        /* The row at or before `from`: SET_RANGE found the first at or after. */
        if (lmdb == MDB_NOTFOUND)
            lmdb = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        else if (lmdb == 0 && (k.mv_size != klen || memcmp(k.mv_data, kb, klen) != 0))
            lmdb = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    size_t rows = 0, bytes = 0;
    *more = false;
    while (lmdb == 0 && rc == 0) {
        if (k.mv_size != klen || memcmp(k.mv_data, kb, klen - 8) != 0 || v.mv_size != 12)
            break; /* past the org's rows (or its "last" row) */
        if (rows >= scan->max_rows || bytes >= scan->max_bytes) {
            *more = true;
            break;
        }
        uint64_t be, org_seq, seq;
        uint32_t be32;
        memcpy(&be, (const char *)k.mv_data + klen - 8, 8);
        org_seq = be64toh(be);
        memcpy(&be, v.mv_data, 8);
        seq = be64toh(be);
        memcpy(&be32, (const char *)v.mv_data + 8, 4);
        uint32_t index = be32toh(be32);
        rows++;
        *next = scan->descending ? org_seq - 1 : org_seq + 1;
        rc = scan_load(store, txn, &e, seq, &bytes);
        if (rc == -ENOENT) {
            rc = 0; /* trimmed meanwhile: its row goes with the next trim */
        } else if (rc == 0) {
            const msgpack_object_array *writes = &e.u.data.via.array.ptr[3].via.array;
            if (index >= writes->size)
                rc = SB_E_CORRUPT;
            else {
                sb_change_write_t w = {seq, org_seq, &writes->ptr[index]};
                rc = fn(ctx, &w);
            }
        }
        if (rc == 1) { /* not taken: the next scan starts with it */
            rc = 0;
            *more = true;
            *next = org_seq;
            break;
        }
        if (rc == 0)
            lmdb = mdb_cursor_get(cur, &k, &v, scan->descending ? MDB_PREV : MDB_NEXT);
    }
    if (rc == 0 && *more && scan->descending && *next == 0)
        *more = false;
    msgpack_unpacked_destroy(&e.u);
    mdb_cursor_close(cur);
    if (rc == 0 && lmdb != 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    return rc;
}

/* Every org's writes, by the global sequence. */
static int scan_all(sb_store_t *store, MDB_txn *txn, const sb_changes_scan_t *scan,
                    sb_change_visit_fn fn, void *ctx, uint64_t *next, bool *more)
{
    MDB_cursor *cur;
    int rc = sb__lmdb_rc(mdb_cursor_open(txn, store->changes, &cur));
    if (rc != 0)
        return rc;
    scan_entry_t e = {0};
    msgpack_unpacked_init(&e.u);
    unsigned char kb[8];
    be64_key(scan->from, kb);
    MDB_val k = {8, kb}, v;
    int lmdb = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (scan->descending) {
        if (lmdb == MDB_NOTFOUND)
            lmdb = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        else if (lmdb == 0 && (k.mv_size != 8 || memcmp(k.mv_data, kb, 8) != 0))
            lmdb = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    size_t rows = 0, bytes = 0;
    *more = false;
    while (lmdb == 0 && rc == 0) {
        if (k.mv_size != 8) {
            rc = SB_E_CORRUPT;
            break;
        }
        if (rows >= scan->max_rows || bytes >= scan->max_bytes) {
            *more = true;
            break;
        }
        uint64_t be;
        memcpy(&be, k.mv_data, 8);
        uint64_t seq = be64toh(be);
        rows++;
        *next = scan->descending ? seq - 1 : seq + 1;
        rc = scan_load(store, txn, &e, seq, &bytes);
        const msgpack_object_array *writes = rc == 0 ? &e.u.data.via.array.ptr[3].via.array : NULL;
        bool stop = false;
        /* fn stops at an entry's first write (the entry is not taken: the
         * next scan starts with it) or takes all of it. */
        for (uint32_t i = 0; rc == 0 && !stop && i < writes->size; i++) {
            uint32_t at = scan->descending ? writes->size - 1 - i : i;
            sb_change_write_t w = {seq, write_org_seq(&writes->ptr[at]), &writes->ptr[at]};
            rc = fn(ctx, &w);
            if (rc == 1) {
                stop = true;
                rc = 0;
            }
        }
        if (stop) {
            *more = true;
            *next = seq;
            break;
        }
        if (rc == 0)
            lmdb = mdb_cursor_get(cur, &k, &v, scan->descending ? MDB_PREV : MDB_NEXT);
    }
    if (rc == 0 && *more && scan->descending && *next == 0)
        *more = false;
    msgpack_unpacked_destroy(&e.u);
    mdb_cursor_close(cur);
    if (rc == 0 && lmdb != 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    return rc;
}

int sb_store_changes_scan(sb_store_t *store, const sb_changes_scan_t *scan, sb_change_visit_fn fn,
                          void *ctx, uint64_t *next, bool *more, sb_err_t *err)
{
    *next = scan->from;
    *more = false;
    if (scan->org != NULL && strlen(scan->org) > SB_ORG_ID_MAX)
        return sb_err_set(err, -EINVAL, "The org id is longer than %d bytes.", SB_ORG_ID_MAX);
    MDB_txn *txn;
    int rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    rc = scan->org != NULL ? scan_org(store, txn, scan, fn, ctx, next, more)
                           : scan_all(store, txn, scan, fn, ctx, next, more);
    sb__read_end(store, txn);
    if (rc == SB_E_CORRUPT)
        return sb_err_set(err, rc,
                          "The change log holds an entry that does not decode; run "
                          "sbstore verify on the data directory.");
    return rc == 0 ? 0 : sb_err_default(err, rc);
}
