/*
 * verify: every record of the store checked in one read snapshot, and every
 * invariant that ties the databases together (docs/operating.md, "Backup and
 * restore", lists them and what to do about each).
 *
 * The walk visits each database in key order with one cursor. Every value
 * goes through decode_value(), the one place that decodes what is stored, so
 * that a check added to the decoders (a record checksum) is checked here too.
 * Cross-references are then looked up in the same snapshot, always under the
 * key's own org: a reference that resolves only under another org is a
 * record of one org reachable from another, and is reported as missing.
 */
#include <endian.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "record_codec.h"
#include "softphone_check.h"
#include "store_internal.h"

/* What every kind of problem tells the operator to do. */
#define FIX_RESTORE                                                                                \
    "restore the last clean backup (sbstore restore BACKUP DATA_DIR, docs/operating.md)"
#define FIX_REWRITE                                                                                \
    "write the record again through sbctl (or delete it); if many are wrong, " FIX_RESTORE

typedef enum kind {
    K_ORG,
    K_CC,
    K_CC_NAME,
    K_USER,
    K_MEMBER,
    K_CC_MEMBER,
    K_TOKEN,
    K_LAYOUT,
    K_LAYOUT_OF,
    K_VIEW,
    K_CONTACT,
    K_PHONE,
    K_VOICECALL,
    K_CALL_KEY,
    K_CHANGE,
    K_RULES,  /* an org's assignment rules: its checksum and its org (rules.c decodes them) */
    K_ORG_ID, /* org_ids: an org's number, both ways, and the next to give */
} kind_t;

typedef struct verify {
    sb_store_t *store;
    MDB_txn *txn;
    sb_verify_report_t *out;
    const char *db; /* the database being walked */
    /* The org of the previous key, and whether it exists: keys come sorted
     * by org, so one look-up serves a run of keys. */
    char org[SB_ORG_ID_MAX + 1];
    bool org_known, org_exists;
    uint64_t prev_seq; /* the change log's previous entry */
    uint32_t next_num; /* org_ids' next number to give (its first key); 0: none left */
    sb_sfid_t member;  /* the user of the membership key being checked */
} verify_t;

/* What decode_value found in a value that the cross checks need. */
typedef struct decoded {
    char id[SB_SFID_LEN + 1]; /* a record's own id, or the id a reference names */
    char org[SB_ORG_ID_MAX + 1];
    uint64_t seq;
    /* What the records' look-up tables must hold of them (their completeness). */
    char cc_name[SB_CC_INTERNAL_NAME_MAX + 1];       /* a Call Center's internal name */
    char phones[SB_CONTACT_PHONES][SB_E164_MAX + 1]; /* a contact's numbers */
    size_t n_phones;
    sb_sfid_t call_cc;                  /* a voice call's Call Center */
    char call_key[SB_CALL_KEY_MAX + 1]; /* and its vendor call key */
} decoded_t;

/* The key as printable text: NUL as '/', other unprintable bytes as \xNN. */
static void printable(const MDB_val *k, char *buf, size_t cap)
{
    size_t at = 0, i = 0;
    const unsigned char *p = k->mv_data;
    for (; i < k->mv_size && at + 5 < cap; i++) {
        if (p[i] == '\0')
            buf[at++] = '/';
        else if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            buf[at++] = (char)p[i];
        else
            at += (size_t)snprintf(buf + at, cap - at, "\\x%02x", p[i]);
    }
    if (i < k->mv_size && cap > 4) /* cut: say so */
        memcpy(buf + cap - 4, "...", 4);
    else
        buf[at] = '\0';
}

__attribute__((format(printf, 4, 5))) static void problem(verify_t *v, const MDB_val *key,
                                                          const char *fix, const char *fmt, ...)
{
    sb_verify_report_t *out = v->out;
    out->total++;
    if (out->n >= out->max)
        return;
    sb_verify_problem_t *p = &out->problems[out->n++];
    snprintf(p->db, sizeof(p->db), "%s", v->db);
    if (strcmp(v->db, "user_cc") == 0) /* binary keys: as "org/user id" */
        sb__key_shown(v->txn, v->store->user_cc, key, p->key, sizeof(p->key));
    else
        printable(key, p->key, sizeof(p->key));
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see core/error.c
    vsnprintf(p->problem, sizeof(p->problem), fmt, ap);
    va_end(ap);
    snprintf(p->fix, sizeof(p->fix), "%s", fix);
}

/* Splits "org\0rest": false when the key holds no NUL or the org is too long. */
static bool split_org(const MDB_val *k, char org[SB_ORG_ID_MAX + 1], MDB_val *rest)
{
    const char *p = k->mv_data;
    const char *nul = memchr(p, '\0', k->mv_size);
    size_t len = nul ? (size_t)(nul - p) : 0;
    if (nul == NULL || len == 0 || len > SB_ORG_ID_MAX)
        return false;
    memcpy(org, p, len);
    org[len] = '\0';
    rest->mv_data = (char *)nul + 1;
    rest->mv_size = k->mv_size - len - 1;
    return true;
}

/*
 * Splits a membership key (sb_member_key): the org whose number it begins
 * with (org_ids' reverse entry) and the user's id, into v->member, which
 * *rest points to. False when the key is no membership key or the number is
 * no org's.
 */
static bool split_member(verify_t *v, const MDB_val *k, char org[SB_ORG_ID_MAX + 1], MDB_val *rest)
{
    uint32_t num;
    if (sb_member_key_parse(k->mv_data, k->mv_size, &num, &v->member) != 0)
        return false;
    uint8_t rk[1 + SB_ORG_NUM_LEN] = {0};
    sb_org_num_put(num, rk + 1);
    MDB_val key = {sizeof(rk), rk}, val;
    if (sb__value_get(v->txn, v->store->org_ids, &key, &val) != 0 || val.mv_size == 0 ||
        val.mv_size > SB_ORG_ID_MAX)
        return false;
    memcpy(org, val.mv_data, val.mv_size);
    org[val.mv_size] = '\0';
    uint32_t forward;
    if (sb_org_id_check(org, NULL) != 0 ||
        sb_org_num_find(v->txn, v->store->org_ids, org, val.mv_size, &forward, NULL) != 0 ||
        forward != num)
        return false;
    rest->mv_data = v->member.s;
    rest->mv_size = SB_SFID_LEN;
    return true;
}

/* Whether dbi holds "org\0part" (part of part_len bytes). */
static bool has(verify_t *v, MDB_dbi dbi, const char *org, const void *part, size_t part_len)
{
    char buf[SB_KEY_MAX];
    size_t olen = strlen(org);
    if (olen + 1 + part_len > sizeof(buf))
        return false;
    memcpy(buf, org, olen);
    buf[olen] = '\0';
    memcpy(buf + olen + 1, part, part_len);
    MDB_val k = {olen + 1 + part_len, buf}, val;
    return sb__value_get(v->txn, dbi, &k, &val) == 0;
}

static bool org_exists(verify_t *v, const char *org)
{
    if (v->org_known && strcmp(v->org, org) == 0)
        return v->org_exists;
    MDB_val k = {strlen(org), (void *)org}, val;
    snprintf(v->org, sizeof(v->org), "%s", org);
    v->org_known = true;
    v->org_exists = sb__value_get(v->txn, v->store->orgs, &k, &val) == 0;
    return v->org_exists;
}

/* An 18-character id stored as a value (a reference): its form only. */
static int decode_id(const MDB_val *val, decoded_t *d)
{
    if (val->mv_size < SB_SFID_LEN)
        return SB_E_CORRUPT;
    memcpy(d->id, val->mv_data, SB_SFID_LEN);
    d->id[SB_SFID_LEN] = '\0';
    char prefix[4]; /* the form only: which kind the id names, its database says */
    memcpy(prefix, d->id, 3);
    prefix[3] = '\0';
    sb_sfid_t norm;
    return sb_sfid_normalize(d->id, prefix, "id", &norm, NULL) == 0 ? 0 : SB_E_CORRUPT;
}

static int decode_change(const MDB_val *key, const MDB_val *val, decoded_t *d)
{
    if (key->mv_size != 8)
        return SB_E_CORRUPT;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = msgpack_unpack_next(&u, val->mv_data, val->mv_size, NULL) == MSGPACK_UNPACK_SUCCESS
                 ? 0
                 : SB_E_CORRUPT;
    const msgpack_object *a = &u.data;
    if (rc == 0 && (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 4 ||
                    a->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
                    a->via.array.ptr[3].type != MSGPACK_OBJECT_ARRAY))
        rc = SB_E_CORRUPT;
    if (rc == 0)
        d->seq = a->via.array.ptr[1].via.u64;
    const msgpack_object_array *writes = rc == 0 ? &a->via.array.ptr[3].via.array : NULL;
    for (uint32_t i = 0; rc == 0 && i < writes->size; i++) {
        const msgpack_object *changes = sb_obj_get(&writes->ptr[i], "changes");
        if (changes == NULL || changes->type != MSGPACK_OBJECT_ARRAY)
            rc = SB_E_CORRUPT;
        for (uint32_t j = 0; rc == 0 && j < changes->via.array.size; j++) {
            const msgpack_object *c = &changes->via.array.ptr[j];
            if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 4 ||
                c->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
                c->via.array.ptr[1].type != MSGPACK_OBJECT_STR ||
                c->via.array.ptr[2].type != MSGPACK_OBJECT_BIN)
                rc = SB_E_CORRUPT;
        }
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

/*
 * The one place where verify decodes a stored value, by the kind of its
 * database: 0 with what the cross checks need in *d, SB_E_CORRUPT, or
 * -ENOMEM. A per-record checksum belongs here, before the decoders.
 */
static int decode_value(kind_t kind, const MDB_val *key, const MDB_val *val, decoded_t *d)
{
    memset(d, 0, sizeof(*d));
    int rc = 0;
    switch (kind) {
    case K_ORG: {
        sb_org_t org;
        rc = sb_codec_decode_org(val->mv_data, val->mv_size, &org);
        if (rc == 0)
            snprintf(d->org, sizeof(d->org), "%s", org.id);
        break;
    }
    case K_CC: {
        sb_callcenter_t *cc = NULL;
        rc = sb_codec_decode_callcenter(val->mv_data, val->mv_size, &cc);
        if (rc == 0) {
            snprintf(d->id, sizeof(d->id), "%s", cc->id.s);
            snprintf(d->cc_name, sizeof(d->cc_name), "%s", sb_callcenter_internal_name(cc));
        }
        sb_callcenter_free(cc);
        break;
    }
    case K_USER: {
        sb_user_t user;
        rc = sb_codec_decode_user(val->mv_data, val->mv_size, &user);
        if (rc == 0)
            snprintf(d->id, sizeof(d->id), "%s", user.id.s);
        break;
    }
    case K_TOKEN: {
        sb_token_record_t rec;
        rc = sb_codec_decode_token(val->mv_data, val->mv_size, &rec);
        if (rc == 0)
            snprintf(d->org, sizeof(d->org), "%s", rec.org);
        break;
    }
    case K_LAYOUT: {
        sb_layout_t *layout = calloc(1, sizeof(*layout));
        if (layout == NULL)
            return -ENOMEM;
        rc = sb_layout_decode(val->mv_data, val->mv_size, layout, NULL) == 0 ? 0 : SB_E_CORRUPT;
        free(layout);
        break;
    }
    case K_LAYOUT_OF:
        rc = val->mv_size >= 1 && val->mv_size <= SB_LAYOUT_NAME_MAX &&
                     memchr(val->mv_data, '\0', val->mv_size) == NULL
                 ? 0
                 : SB_E_CORRUPT;
        break;
    case K_VIEW: {
        sb_softphone_view_t view;
        rc = sb_softphone_view_decode(val->mv_data, val->mv_size, &view) == 0 ? 0 : SB_E_CORRUPT;
        break;
    }
    case K_CONTACT: {
        sb_contact_t *c = calloc(1, sizeof(*c));
        if (c == NULL)
            return -ENOMEM;
        rc = sb__contact_decode(val->mv_data, val->mv_size, c);
        if (rc == 0) {
            snprintf(d->id, sizeof(d->id), "%s", c->id.s);
            d->n_phones = c->n_phones <= SB_CONTACT_PHONES ? c->n_phones : SB_CONTACT_PHONES;
            for (size_t i = 0; i < d->n_phones; i++)
                snprintf(d->phones[i], sizeof(d->phones[i]), "%s", c->phones[i]);
        }
        free(c);
        break;
    }
    case K_VOICECALL: {
        sb_voicecall_t *call = NULL;
        rc = sb__voicecall_decode(val->mv_data, val->mv_size, &call);
        if (rc == 0) {
            snprintf(d->id, sizeof(d->id), "%s", call->id.s);
            d->call_cc = call->callcenter;
            snprintf(d->call_key, sizeof(d->call_key), "%s", call->vendor_call_key);
        }
        sb_voicecall_free(call);
        break;
    }
    case K_CC_NAME:
    case K_CC_MEMBER:
    case K_PHONE:
    case K_CALL_KEY:
        rc = val->mv_size == SB_SFID_LEN ? decode_id(val, d) : SB_E_CORRUPT;
        break;
    case K_MEMBER: { /* the Call Center's id, the user's profile, maybe a NUL and flags */
        size_t plen;
        unsigned flags;
        rc = sb_member_value_split(val->mv_data, val->mv_size, &plen, &flags);
        if (rc == 0)
            rc = decode_id(&(MDB_val){SB_SFID_LEN, val->mv_data}, d);
        break;
    }
    case K_RULES:
        rc = 0;
        break;
    case K_ORG_ID: /* a number (4 bytes) or, for a reverse entry, an org id */
        rc = (key->mv_size > 0 && ((const char *)key->mv_data)[0] == '\0' && key->mv_size > 1)
                 ? (val->mv_size > 0 && val->mv_size <= SB_ORG_ID_MAX ? 0 : SB_E_CORRUPT)
                 : (val->mv_size == SB_ORG_NUM_LEN ? 0 : SB_E_CORRUPT);
        break;
    case K_CHANGE:
        rc = decode_change(key, val, d);
        break;
    }
    return rc == -ENOMEM ? rc : rc != 0 ? SB_E_CORRUPT : 0;
}

/* The key's own id (the part after the org) equals the id inside the value. */
static void check_own_id(verify_t *v, const MDB_val *key, const MDB_val *rest, const decoded_t *d,
                         const char *what)
{
    if (rest->mv_size != strlen(d->id) || memcmp(rest->mv_data, d->id, rest->mv_size) != 0)
        problem(v, key, FIX_RESTORE, "the %s stored here says its id is %s: it is not this key's",
                what, d->id);
}

/*
 * One entry of org_ids: the counter (key \0) comes first and is kept; a
 * reverse entry (\0 number) names an org whose number it is, below the
 * counter; an org's entry names a number whose reverse entry names it back.
 */
static void check_org_id(verify_t *v, const MDB_val *key, const MDB_val *val)
{
    sb_store_t *s = v->store;
    const char *k = key->mv_data;
    if (key->mv_size == 1 && k[0] == '\0') {
        v->next_num = sb_org_num_read(val->mv_data);
        return;
    }
    if (k[0] == '\0') {
        uint32_t num, forward;
        if (key->mv_size != 1 + SB_ORG_NUM_LEN) {
            problem(v, key, FIX_RESTORE, "the key is no org number's");
            return;
        }
        num = sb_org_num_read((const uint8_t *)k + 1);
        if (num == 0 || (v->next_num != 0 && num >= v->next_num))
            problem(v, key, FIX_RESTORE,
                    "org number %u was never given (the next to give is %u): a new org would "
                    "take it again",
                    num, v->next_num);
        if (sb_org_num_find(v->txn, s->org_ids, val->mv_data, val->mv_size, &forward, NULL) != 0 ||
            forward != num)
            problem(v, key, FIX_RESTORE, "org number %u names an org that has another number", num);
        return;
    }
    uint8_t rk[1 + SB_ORG_NUM_LEN] = {0};
    memcpy(rk + 1, val->mv_data, SB_ORG_NUM_LEN);
    MDB_val rkey = {sizeof(rk), rk}, back;
    char org[SB_ORG_ID_MAX + 1];
    bool fits = key->mv_size <= SB_ORG_ID_MAX;
    if (fits) {
        memcpy(org, k, key->mv_size);
        org[key->mv_size] = '\0';
    }
    if (!fits || !org_exists(v, org))
        problem(v, key, "delete the org's records (sbctl org delete ORG --force) or " FIX_RESTORE,
                "the number of an org that does not exist");
    else if (sb__value_get(v->txn, s->org_ids, &rkey, &back) != 0 || back.mv_size != key->mv_size ||
             memcmp(back.mv_data, k, key->mv_size) != 0)
        problem(v, key, FIX_RESTORE,
                "the org's number %u does not name it back (org_ids' reverse entry)",
                sb_org_num_read(val->mv_data));
}

/* The cross checks of one record, after its value decoded. */
static void check_refs(verify_t *v, kind_t kind, const MDB_val *key, const MDB_val *val,
                       const char *org, const MDB_val *rest, const decoded_t *d)
{
    sb_store_t *s = v->store;
    switch (kind) {
    case K_ORG: {
        if (key->mv_size != strlen(d->org) || memcmp(key->mv_data, d->org, key->mv_size) != 0)
            problem(v, key, FIX_RESTORE, "the org stored here says its id is %s", d->org);
        uint32_t num;
        if (key->mv_size <= SB_ORG_ID_MAX &&
            sb_org_num_find(v->txn, s->org_ids, key->mv_data, key->mv_size, &num, NULL) != 0)
            problem(v, key, FIX_RESTORE,
                    "the org has no number (org_ids): its members' softphones cannot be found");
        break;
    }
    case K_ORG_ID:
        check_org_id(v, key, val);
        break;
    case K_CC: {
        check_own_id(v, key, rest, d, "Call Center");
        /* Its internal name finds it (callcenter.get by name, imports). */
        sb_key_t nk;
        MDB_val nv;
        if (sb__cc_name_key(&nk, org, d->cc_name) != 0 ||
            sb__value_get(v->txn, s->cc_names, &(MDB_val){nk.len, nk.buf}, &nv) != 0 ||
            nv.mv_size != SB_SFID_LEN || memcmp(nv.mv_data, d->id, SB_SFID_LEN) != 0)
            problem(v, key, FIX_REWRITE,
                    "the Call Center's internal name '%s' does not find it (cc_names lacks it "
                    "or names another Call Center): look-ups by name fail",
                    d->cc_name);
        break;
    }
    case K_USER:
        check_own_id(v, key, rest, d, "user");
        break;
    case K_CONTACT:
        check_own_id(v, key, rest, d, "contact");
        /* Each of its numbers finds it (the ANI match of a screen pop). */
        for (size_t i = 0; i < d->n_phones; i++) {
            sb_key_t pk;
            uint8_t sealed[SB_SFID_LEN + SB_VALUE_SUM_BYTES];
            bool found = false;
            if (sb__key(&pk, org, d->phones[i]) == 0 && strlen(d->id) == SB_SFID_LEN) {
                MDB_val k = {pk.len, pk.buf};
                memcpy(sealed, d->id, SB_SFID_LEN);
                sb__value_seal(&k, d->id, SB_SFID_LEN, sealed + SB_SFID_LEN);
                MDB_val dv = {sizeof(sealed), sealed};
                MDB_cursor *cur = NULL;
                if (mdb_cursor_open(v->txn, s->phones, &cur) == 0) {
                    found = mdb_cursor_get(cur, &k, &dv, MDB_GET_BOTH) == 0;
                    mdb_cursor_close(cur);
                }
            }
            if (!found)
                problem(v, key, FIX_REWRITE,
                        "the contact's number %s does not find it (phones lacks it): calls from "
                        "that number do not pop the contact",
                        d->phones[i]);
        }
        break;
    case K_VOICECALL: {
        check_own_id(v, key, rest, d, "voice call");
        /* Its vendor call key finds it: a repeated event is the same call,
         * never a second one. */
        sb_key_t ck;
        MDB_val cv;
        if (d->call_key[0] != '\0' &&
            (sb__call_key(&ck, org, &d->call_cc, d->call_key) != 0 ||
             sb__value_get(v->txn, s->call_keys, &(MDB_val){ck.len, ck.buf}, &cv) != 0 ||
             cv.mv_size != SB_SFID_LEN || memcmp(cv.mv_data, d->id, SB_SFID_LEN) != 0))
            problem(v, key, FIX_REWRITE,
                    "the call's vendor call key '%s' does not find it (call_keys lacks it or "
                    "names another call): the vendor's next event would make a second call",
                    d->call_key);
        break;
    }
    case K_CC_NAME:
        if (!has(v, s->callcenters, org, d->id, SB_SFID_LEN))
            problem(v, key, FIX_REWRITE,
                    "the internal name points to Call Center %s, which org %s does not have", d->id,
                    org);
        break;
    case K_MEMBER: {
        char profile[SB_PROFILE_NAME_MAX + 1];
        size_t plen;
        unsigned flags;
        if (sb_member_value_split(val->mv_data, val->mv_size, &plen, &flags) != 0)
            break; /* decode_value refused it already */
        memcpy(profile, (const char *)val->mv_data + SB_SFID_LEN, plen);
        profile[plen] = '\0';
        if (!has(v, s->users, org, rest->mv_data, rest->mv_size))
            problem(v, key, FIX_REWRITE, "a membership of a user that org %s does not have", org);
        if (!has(v, s->callcenters, org, d->id, SB_SFID_LEN))
            problem(v, key, FIX_REWRITE,
                    "the user is a member of Call Center %s, which org %s does not have", d->id,
                    org);
        MDB_val rk;
        char kb[SB_KEY_MAX];
        size_t olen = strlen(org);
        memcpy(kb, org, olen);
        kb[olen] = '\0';
        memcpy(kb + olen + 1, d->id, SB_SFID_LEN);
        rk = (MDB_val){olen + 1 + SB_SFID_LEN, kb};
        /* The duplicate as stored: the user's id sealed with its checksum. */
        uint8_t sealed[SB_SFID_LEN + SB_VALUE_SUM_BYTES];
        bool fits = rest->mv_size == SB_SFID_LEN;
        if (fits) {
            memcpy(sealed, rest->mv_data, SB_SFID_LEN);
            sb__value_seal(&rk, rest->mv_data, SB_SFID_LEN, sealed + SB_SFID_LEN);
        }
        MDB_val rv = {sizeof(sealed), sealed};
        MDB_cursor *cur = NULL;
        bool reverse = false;
        if (fits && mdb_cursor_open(v->txn, s->cc_members, &cur) == 0) {
            reverse = mdb_cursor_get(cur, &rk, &rv, MDB_GET_BOTH) == 0;
            mdb_cursor_close(cur);
        }
        if (!reverse)
            problem(v, key, FIX_REWRITE,
                    "the user is a member of Call Center %s, but that Call Center's member list "
                    "(cc_members) lacks the user: its member count is wrong",
                    d->id);
        char vk[SB_KEY_MAX];
        size_t vlen = sb_softphone_view_key(vk, sizeof(vk), org, d->id, profile);
        MDB_val vkey = {vlen, vk}, vval;
        if (vlen == 0 || sb__value_get(v->txn, s->views, &vkey, &vval) != 0)
            problem(v, key,
                    "recompute the views: restart the server (it refreshes every view) "
                    "or update the Call Center",
                    "no softphone view for Call Center %s and profile '%s': the softphone check "
                    "answers for this user from nothing",
                    d->id, profile);
        break;
    }
    case K_CC_MEMBER: {
        if (rest->mv_size != SB_SFID_LEN ||
            !has(v, s->callcenters, org, rest->mv_data, SB_SFID_LEN))
            problem(v, key, FIX_REWRITE,
                    "members listed for a Call Center that org %s does not "
                    "have",
                    org);
        sb_sfid_t user;
        memcpy(user.s, d->id, SB_SFID_LEN + 1);
        sb_key_t mk;
        MDB_val uv;
        bool ok = sb__member_key(s, v->txn, org, &user, &mk) == 0 &&
                  sb__value_get(v->txn, s->user_cc, &(MDB_val){mk.len, mk.buf}, &uv) == 0 &&
                  uv.mv_size >= SB_SFID_LEN && rest->mv_size == SB_SFID_LEN &&
                  memcmp(uv.mv_data, rest->mv_data, SB_SFID_LEN) == 0;
        if (!ok)
            problem(v, key, FIX_REWRITE,
                    "user %s is listed as a member, but the user's membership (user_cc) names "
                    "another Call Center or none: the member count is wrong",
                    d->id);
        break;
    }
    case K_TOKEN:
        /* A moved org's tokens stay behind on purpose: they learn MOVED. */
        if (d->org[0] != '\0' && !org_exists(v, d->org) &&
            !sb__org_moved_away(v->store, v->txn, d->org))
            problem(v, key, "revoke the token (sbctl token revoke ID)",
                    "a token of org %s, which does not exist", d->org);
        break;
    case K_LAYOUT_OF:
        if (!has(v, s->layouts, org, val->mv_data, val->mv_size))
            problem(v, key, FIX_REWRITE,
                    "the profile is assigned a layout that org %s does not "
                    "have",
                    org);
        break;
    case K_VIEW: {
        const char *nul = memchr(rest->mv_data, '\0', rest->mv_size);
        size_t cclen = nul ? (size_t)(nul - (const char *)rest->mv_data) : rest->mv_size;
        if (!has(v, s->callcenters, org, rest->mv_data, cclen))
            problem(v, key, "restart the server: it recomputes every view",
                    "a softphone view of a Call Center that org %s does not have", org);
        break;
    }
    case K_PHONE:
        if (!has(v, s->contacts, org, d->id, SB_SFID_LEN))
            problem(v, key, FIX_REWRITE,
                    "the number points to contact %s, which org %s does not have", d->id, org);
        break;
    case K_CALL_KEY:
        if (!has(v, s->voicecalls, org, d->id, SB_SFID_LEN))
            problem(v, key, FIX_REWRITE,
                    "the vendor call key points to voice call %s, which org %s does not have",
                    d->id, org);
        break;
    case K_RULES: /* its org exists (the walk checked it); rules.c checks the rest on load */
        break;
    case K_CHANGE: {
        uint64_t be, seq;
        memcpy(&be, key->mv_data, 8);
        seq = be64toh(be);
        if (d->seq != seq)
            problem(v, key, FIX_RESTORE, "the entry says it is change %llu",
                    (unsigned long long)d->seq);
        if (seq <= v->prev_seq)
            problem(v, key, FIX_RESTORE, "the change log is out of order");
        if (seq > v->out->last_seq)
            problem(v, key, FIX_RESTORE,
                    "the entry is past the last sequence the store records (meta changes_last "
                    "%llu): new writes would reuse its number",
                    (unsigned long long)v->out->last_seq);
        v->prev_seq = seq;
        break;
    }
    case K_LAYOUT:
        break;
    }
}

static int walk(verify_t *v, const char *db, MDB_dbi dbi, kind_t kind, bool org_keyed)
{
    MDB_cursor *cur = NULL;
    int rc = sb__lmdb_rc(mdb_cursor_open(v->txn, dbi, &cur));
    MDB_val key, val;
    v->db = db;
    int lmdb = rc == 0 ? mdb_cursor_get(cur, &key, &val, MDB_FIRST) : MDB_NOTFOUND;
    for (; rc == 0 && lmdb == 0; lmdb = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        v->out->records++;
        char org[SB_ORG_ID_MAX + 1] = "";
        MDB_val rest = {0, NULL};
        if (kind == K_MEMBER && !split_member(v, &key, org, &rest)) {
            problem(v, &key, FIX_RESTORE,
                    "the key is not a membership's (an org's number, then a user id) or its "
                    "number is no org's (org_ids)");
            continue;
        }
        if (org_keyed && kind != K_MEMBER && !split_org(&key, org, &rest)) {
            problem(v, &key, FIX_RESTORE, "the key does not start with an org id");
            continue;
        }
        if (org_keyed && !org_exists(v, org)) {
            problem(v, &key,
                    "delete the org's records (sbctl org delete ORG --force) or " FIX_RESTORE,
                    "a record of org %s, which does not exist", org);
            continue;
        }
        /* Every database but meta and the log seals its values (value.c). */
        if (v->store->dbi_names[dbi] != NULL && sb__value_open(&key, &val) != 0) {
            problem(v, &key, FIX_RESTORE,
                    "the value's checksum does not match its bytes (%zu bytes): it is damaged",
                    val.mv_size);
            continue;
        }
        decoded_t d;
        rc = decode_value(kind, &key, &val, &d);
        if (rc == SB_E_CORRUPT) {
            rc = 0;
            problem(v, &key, FIX_REWRITE, "the value (%zu bytes) does not decode", val.mv_size);
            continue;
        }
        if (rc == 0)
            check_refs(v, kind, &key, &val, org, &rest, &d);
    }
    if (rc == 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    mdb_cursor_close(cur);
    return rc;
}

int sb_store_verify(sb_store_t *store, size_t max_problems, sb_verify_report_t *out, sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    out->max = max_problems ? max_problems : SB_VERIFY_DEFAULT_MAX;
    out->problems = calloc(out->max, sizeof(*out->problems));
    if (out->problems == NULL)
        return sb_err_default(err, -ENOMEM);
    MDB_txn *txn;
    int rc = sb__read_begin(store, &txn, err);
    if (rc != 0) {
        sb_verify_report_destroy(out);
        return rc;
    }
    verify_t v = {.store = store, .txn = txn, .out = out};
    MDB_val k = {sizeof("changes_last") - 1, "changes_last"}, val;
    if (mdb_get(txn, store->meta, &k, &val) == 0 && val.mv_size == sizeof(uint64_t))
        memcpy(&out->last_seq, val.mv_data, sizeof(uint64_t));
    const struct {
        const char *name;
        MDB_dbi dbi;
        kind_t kind;
        bool org_keyed;
    } dbs[] = {
        {"orgs", store->orgs, K_ORG, false},
        {"callcenters", store->callcenters, K_CC, true},
        {"cc_names", store->cc_names, K_CC_NAME, true},
        {"users", store->users, K_USER, true},
        {"user_cc", store->user_cc, K_MEMBER, true},
        {"cc_members", store->cc_members, K_CC_MEMBER, true},
        {"tokens", store->tokens, K_TOKEN, false},
        {"layouts", store->layouts, K_LAYOUT, true},
        {"layout_of", store->layout_of, K_LAYOUT_OF, true},
        {"views", store->views, K_VIEW, true},
        {"contacts", store->contacts, K_CONTACT, true},
        {"phones", store->phones, K_PHONE, true},
        {"voicecalls", store->voicecalls, K_VOICECALL, true},
        {"call_keys", store->call_keys, K_CALL_KEY, true},
        {"rules", store->rules, K_RULES, true},
        {"org_ids", store->org_ids, K_ORG_ID, false},
        {"changes", store->changes, K_CHANGE, false},
    };
    for (size_t i = 0; rc == 0 && i < sizeof(dbs) / sizeof(dbs[0]); i++)
        rc = walk(&v, dbs[i].name, dbs[i].dbi, dbs[i].kind, dbs[i].org_keyed);
    sb__read_end(store, txn);
    if (rc != 0) {
        sb_err_set(err, rc, "Verify could not read the store: %s", sb_err_message(rc));
        sb_verify_report_destroy(out);
    }
    return rc;
}

void sb_verify_report_destroy(sb_verify_report_t *report)
{
    if (report == NULL)
        return;
    free(report->problems);
    memset(report, 0, sizeof(*report));
}
