/*
 * verify (store/verify.c): a clean store is clean, and each kind of damage
 * it claims to find is found, made behind the store's back with raw LMDB
 * writes (nothing of them reaches the change log, as with a damaged file).
 */
#include "sb_test.h"

#include <endian.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "softphone_check.h"
#include "store_internal.h"

typedef struct fixture {
    char *dir;
    sb_store_t *st;
    sb_sfid_t cc, other_cc; /* acme's Support; beta's Sales */
} fixture_t;

/* acme: Call Center Support with users 1..3 as members (profile Agent);
 * beta: Call Center Sales with user 1. */
static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->dir = sb_test_tmpdir();
    f->st = sb_test_open(f->dir);
    sb_err_t err;
    assert_int_equal(sb_store_org_create(f->st, "acme", "Acme", &err), 0);
    assert_int_equal(sb_store_org_create(f->st, "beta", "Beta", &err), 0);
    f->cc = sb_test_cc(f->st, "acme", "Support");
    f->other_cc = sb_test_cc(f->st, "beta", "Sales");
    for (unsigned u = 1; u <= 3; u++) {
        sb_test_user(f->st, "acme", u);
        char uid[16];
        sb_test_user_id(u, uid);
        assert_int_equal(sb_store_member_add(f->st, "acme", f->cc.s, uid, false, NULL, &err), 0);
    }
    sb_test_user(f->st, "beta", 1);
    assert_int_equal(
        sb_store_member_add(f->st, "beta", f->other_cc.s, "005000000000001", false, NULL, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sb_store_close(f->st);
    sb_test_rmdir(f->dir);
    free(f);
    return 0;
}

/* A raw write transaction on the store's environment: no capture, no checks. */
static MDB_txn *raw_begin(fixture_t *f)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->st->env, NULL, 0, &txn), 0);
    return txn;
}

static void raw_commit(MDB_txn *txn)
{
    assert_int_equal(mdb_txn_commit(txn), 0);
}

/* "org\0part" as an MDB_val over buf. */
/* A put behind the store's back of a value sealed as the store seals it
 * (value.c), so that verify looks past the checksum at what the bytes say. */
static int sealed_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, const MDB_val *v)
{
    uint8_t buf[1024];
    assert_true(v->mv_size + SB_VALUE_SUM_BYTES <= sizeof(buf));
    memcpy(buf, v->mv_data, v->mv_size);
    sb__value_seal(k, v->mv_data, v->mv_size, buf + v->mv_size);
    MDB_val sealed = {v->mv_size + SB_VALUE_SUM_BYTES, buf};
    return mdb_put(txn, dbi, k, &sealed, 0);
}

/* The duplicate v of key k deleted as stored: sealed. */
static int sealed_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, const MDB_val *v)
{
    uint8_t buf[64];
    assert_true(v->mv_size + SB_VALUE_SUM_BYTES <= sizeof(buf));
    memcpy(buf, v->mv_data, v->mv_size);
    sb__value_seal(k, v->mv_data, v->mv_size, buf + v->mv_size);
    MDB_val sealed = {v->mv_size + SB_VALUE_SUM_BYTES, buf};
    return mdb_del(txn, dbi, k, &sealed);
}

/* The membership key (org number, user) of `uid` in `org` as an MDB_val over buf. */
static MDB_val mkey(fixture_t *f, MDB_txn *txn, sb_key_t *buf, const char *org, const char *uid)
{
    sb_sfid_t user;
    assert_int_equal(sb_sfid_normalize(uid, "005", "user id", &user, NULL), 0);
    assert_int_equal(sb__member_key(f->st, txn, org, &user, buf), 0);
    return (MDB_val){buf->len, buf->buf};
}

static MDB_val okey(char *buf, const char *org, const char *part)
{
    size_t o = strlen(org), p = strlen(part);
    memcpy(buf, org, o);
    buf[o] = '\0';
    memcpy(buf + o + 1, part, p);
    return (MDB_val){o + 1 + p, buf};
}

/* The 18-character form of user n's id. */
static void user18(unsigned n, char out[SB_SFID_LEN + 1])
{
    char uid[16];
    sb_test_user_id(n, uid);
    sb_sfid_t id;
    assert_int_equal(sb_sfid_normalize(uid, "005", "user id", &id, NULL), 0);
    memcpy(out, id.s, SB_SFID_LEN + 1);
}

static sb_verify_report_t run(fixture_t *f)
{
    sb_verify_report_t r;
    sb_err_t err;
    assert_int_equal(sb_store_verify(f->st, 0, &r, &err), 0);
    return r;
}

/* Asserts that a problem in `db` says `words`, and returns the report's total. */
static uint64_t expect(fixture_t *f, const char *db, const char *words)
{
    sb_verify_report_t r = run(f);
    bool found = false;
    for (size_t i = 0; i < r.n; i++) {
        if (strcmp(r.problems[i].db, db) == 0 && strstr(r.problems[i].problem, words) != NULL)
            found = true;
        assert_true(r.problems[i].fix[0] != '\0'); /* every problem says what to do */
    }
    if (!found)
        for (size_t i = 0; i < r.n; i++)
            fprintf(stderr, "  found: %s %s: %s\n", r.problems[i].db, r.problems[i].key,
                    r.problems[i].problem);
    assert_true(found);
    uint64_t total = r.total;
    sb_verify_report_destroy(&r);
    return total;
}

static void a_clean_store_is_clean(void **state)
{
    fixture_t *f = *state;
    sb_verify_report_t r = run(f);
    assert_int_equal(r.total, 0);
    assert_int_equal(r.n, 0);
    assert_true(r.records > 10);
    assert_true(r.last_seq > 0);
    sb_verify_report_destroy(&r);
}

static void a_value_that_does_not_decode(void **state)
{
    fixture_t *f = *state;
    char kb[SB_KEY_MAX], uid[SB_SFID_LEN + 1];
    user18(2, uid);
    MDB_txn *txn = raw_begin(f);
    MDB_val k = okey(kb, "acme", uid), v = {5, "\xc1\xc1\xc1\xc1\xc1"};
    assert_int_equal(sealed_put(txn, f->st->users, &k, &v), 0);
    raw_commit(txn);
    expect(f, "users", "does not decode");
    sb_verify_report_t r = run(f);
    assert_string_equal(r.problems[0].key, "acme/005000000000002AAA");
    assert_non_null(strstr(r.problems[0].fix, "sbstore restore"));
    sb_verify_report_destroy(&r);
}

/* A byte changed in a stored value: its checksum names the record. */
static void a_value_whose_checksum_does_not_match(void **state)
{
    fixture_t *f = *state;
    char kb[SB_KEY_MAX], uid[SB_SFID_LEN + 1];
    user18(2, uid);
    MDB_txn *txn = raw_begin(f);
    MDB_val k = okey(kb, "acme", uid), v;
    assert_int_equal(mdb_get(txn, f->st->users, &k, &v), 0);
    uint8_t copy[1024];
    assert_true(v.mv_size <= sizeof(copy));
    memcpy(copy, v.mv_data, v.mv_size);
    copy[v.mv_size / 2] ^= 0x01; /* one bit, in the record's own bytes */
    MDB_val flipped = {v.mv_size, copy};
    assert_int_equal(mdb_put(txn, f->st->users, &k, &flipped, 0), 0);
    raw_commit(txn);
    expect(f, "users", "checksum does not match");
    sb_verify_report_t r = run(f);
    assert_string_equal(r.problems[0].key, "acme/005000000000002AAA");
    sb_verify_report_destroy(&r);
}

static void a_membership_missing_from_the_reverse_index(void **state)
{
    fixture_t *f = *state;
    char kb[SB_KEY_MAX], uid[SB_SFID_LEN + 1];
    user18(1, uid);
    MDB_txn *txn = raw_begin(f);
    MDB_val k = okey(kb, "acme", f->cc.s), v = {SB_SFID_LEN, uid};
    assert_int_equal(sealed_del(txn, f->st->cc_members, &k, &v), 0);
    raw_commit(txn);
    expect(f, "user_cc", "member count is wrong");
}

static void a_reverse_entry_without_its_membership(void **state)
{
    fixture_t *f = *state;
    char uid[SB_SFID_LEN + 1];
    user18(3, uid);
    MDB_txn *txn = raw_begin(f);
    sb_key_t mb;
    MDB_val k = mkey(f, txn, &mb, "acme", uid);
    assert_int_equal(mdb_del(txn, f->st->user_cc, &k, NULL), 0);
    raw_commit(txn);
    expect(f, "cc_members", "names another Call Center or none");
}

static void a_membership_without_its_view(void **state)
{
    fixture_t *f = *state;
    char kb[SB_KEY_MAX];
    size_t len = sb_softphone_view_key(kb, sizeof(kb), "acme", f->cc.s, "Agent");
    MDB_val k = {len, kb};
    MDB_txn *txn = raw_begin(f);
    assert_int_equal(mdb_del(txn, f->st->views, &k, NULL), 0);
    raw_commit(txn);
    expect(f, "user_cc", "no softphone view");
}

static void a_record_of_an_org_that_does_not_exist(void **state)
{
    fixture_t *f = *state;
    char kb[SB_KEY_MAX];
    MDB_txn *txn = raw_begin(f);
    /* A copy of acme's Call Center under org ghost. */
    MDB_val k = okey(kb, "acme", f->cc.s), v;
    assert_int_equal(mdb_get(txn, f->st->callcenters, &k, &v), 0);
    char ghost[SB_KEY_MAX];
    MDB_val gk = okey(ghost, "ghost", f->cc.s);
    assert_int_equal(sealed_put(txn, f->st->callcenters, &gk, &v), 0);
    raw_commit(txn);
    expect(f, "callcenters", "org ghost, which does not exist");
}

static void a_reference_into_another_org(void **state)
{
    fixture_t *f = *state;
    char uid[SB_SFID_LEN + 1];
    user18(2, uid);
    /* acme's user 2 made a member of beta's Call Center: reachable from acme. */
    char value[SB_SFID_LEN + 5];
    memcpy(value, f->other_cc.s, SB_SFID_LEN);
    memcpy(value + SB_SFID_LEN, "Agent", 5);
    MDB_txn *txn = raw_begin(f);
    sb_key_t mb;
    MDB_val k = mkey(f, txn, &mb, "acme", uid), v = {sizeof(value), value};
    assert_int_equal(sealed_put(txn, f->st->user_cc, &k, &v), 0);
    raw_commit(txn);
    expect(f, "user_cc", "which org acme does not have");
}

/* Schema 5: an org that lost its number, and members whose number names no org. */
static void an_org_number_lost(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn = raw_begin(f);
    uint32_t num;
    assert_int_equal(sb__org_num(f->st, txn, "beta", &num), 0);
    uint8_t rk[1 + SB_ORG_NUM_LEN] = {0};
    sb_org_num_put(num, rk + 1);
    MDB_val rkey = {sizeof(rk), rk};
    assert_int_equal(mdb_del(txn, f->st->org_ids, &rkey, NULL), 0);
    raw_commit(txn);
    expect(f, "user_cc", "number is no org's");
    expect(f, "org_ids", "does not name it back");
    txn = raw_begin(f);
    MDB_val fkey = {4, "beta"};
    assert_int_equal(mdb_del(txn, f->st->org_ids, &fkey, NULL), 0);
    raw_commit(txn);
    expect(f, "orgs", "has no number");
}

static void a_record_under_another_id(void **state)
{
    fixture_t *f = *state;
    char kb[SB_KEY_MAX], uid[SB_SFID_LEN + 1], uid3[SB_SFID_LEN + 1];
    user18(1, uid);
    user18(3, uid3);
    MDB_txn *txn = raw_begin(f);
    MDB_val k = okey(kb, "acme", uid), v;
    assert_int_equal(mdb_get(txn, f->st->users, &k, &v), 0);
    v.mv_size -= SB_VALUE_SUM_BYTES; /* its bytes, sealed again under the other key below */
    char kb3[SB_KEY_MAX];
    MDB_val k3 = okey(kb3, "acme", uid3);
    assert_int_equal(sealed_put(txn, f->st->users, &k3, &v), 0);
    raw_commit(txn);
    expect(f, "users", "it is not this key's");
}

static void a_change_log_entry_out_of_place(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn = raw_begin(f);
    MDB_cursor *cur;
    MDB_val k, v;
    assert_int_equal(mdb_cursor_open(txn, f->st->changes, &cur), 0);
    assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_LAST), 0);
    uint64_t be;
    memcpy(&be, k.mv_data, 8);
    /* The last entry copied under a sequence past changes_last. */
    uint64_t next = htobe64(be64toh(be) + 5);
    MDB_val nk = {8, &next};
    void *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    MDB_val nv = {v.mv_size, copy};
    mdb_cursor_close(cur);
    assert_int_equal(mdb_put(txn, f->st->changes, &nk, &nv, 0), 0);
    /* And a garbled one in the middle. */
    uint64_t one = htobe64(1);
    MDB_val k1 = {8, &one}, bad = {3, "\x93\x01\x02"};
    assert_int_equal(mdb_put(txn, f->st->changes, &k1, &bad, 0), 0);
    raw_commit(txn);
    free(copy);
    expect(f, "changes", "past the last sequence");
    expect(f, "changes", "does not decode");
}

/* The look-up tables must find their records: a Call Center by its
 * internal name, a contact by each of its numbers, a voice call by its
 * vendor call key. Each entry removed behind the store's back is found. */
static void a_call_center_its_name_does_not_find(void **state)
{
    fixture_t *f = *state;
    char kb[SB_KEY_MAX];
    MDB_txn *txn = raw_begin(f);
    MDB_val k = okey(kb, "acme", "support"); /* cc_names keeps the name in lower case */
    assert_int_equal(mdb_del(txn, f->st->cc_names, &k, NULL), 0);
    raw_commit(txn);
    expect(f, "callcenters", "internal name 'Support' does not find it");
}

static void a_contact_its_number_does_not_find(void **state)
{
    fixture_t *f = *state;
    sb_err_t err;
    sb_contact_t c = {.type = SB_OBJECT_CONTACT, .name = "Casey", .n_phones = 2};
    snprintf(c.id.s, sizeof(c.id.s), "003000000000001AAA");
    snprintf(c.phones[0], sizeof(c.phones[0]), "+14155550100");
    snprintf(c.phones[1], sizeof(c.phones[1]), "+14155550101");
    assert_int_equal(sb_store_contact_upsert_bulk(f->st, "acme", &c, 1, &err), 0);
    sb_verify_report_t clean = run(f);
    assert_int_equal(clean.total, 0);
    sb_verify_report_destroy(&clean);
    char kb[SB_KEY_MAX];
    MDB_txn *txn = raw_begin(f);
    MDB_val k = okey(kb, "acme", "+14155550101"), id = {SB_SFID_LEN, c.id.s};
    assert_int_equal(sealed_del(txn, f->st->phones, &k, &id), 0);
    raw_commit(txn);
    expect(f, "contacts", "number +14155550101 does not find it");
}

static void a_voice_call_its_key_does_not_find(void **state)
{
    fixture_t *f = *state;
    sb_err_t err;
    sb_call_event_t ev = {.action = SB_CALL_START, .vendor_call_key = "vendor-1", .call_type = -1};
    sb_voicecall_t *call = NULL;
    assert_int_equal(sb_store_call_event(f->st, "acme", &f->cc, &ev, &call, NULL, &err), 0);
    sb_voicecall_free(call);
    sb_verify_report_t clean = run(f);
    assert_int_equal(clean.total, 0);
    sb_verify_report_destroy(&clean);
    sb_key_t ck;
    assert_int_equal(sb__call_key(&ck, "acme", &f->cc, "vendor-1"), 0);
    MDB_txn *txn = raw_begin(f);
    MDB_val k = {ck.len, ck.buf};
    assert_int_equal(mdb_del(txn, f->st->call_keys, &k, NULL), 0);
    raw_commit(txn);
    expect(f, "voicecalls", "vendor call key 'vendor-1' does not find it");
}

static void output_is_bounded(void **state)
{
    fixture_t *f = *state;
    MDB_txn *txn = raw_begin(f);
    for (unsigned i = 0; i < 300; i++) {
        char kb[SB_KEY_MAX], id[32];
        snprintf(id, sizeof(id), "x%03u", i);
        MDB_val k = okey(kb, "acme", id), v = {1, "\xc1"};
        assert_int_equal(sealed_put(txn, f->st->layouts, &k, &v), 0);
    }
    raw_commit(txn);
    sb_verify_report_t r;
    sb_err_t err;
    assert_int_equal(sb_store_verify(f->st, 10, &r, &err), 0);
    assert_int_equal(r.n, 10);
    assert_int_equal(r.total, 300);
    sb_verify_report_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_clean_store_is_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(a_value_that_does_not_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(a_value_whose_checksum_does_not_match, setup, teardown),
        cmocka_unit_test_setup_teardown(a_membership_missing_from_the_reverse_index, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_reverse_entry_without_its_membership, setup, teardown),
        cmocka_unit_test_setup_teardown(a_membership_without_its_view, setup, teardown),
        cmocka_unit_test_setup_teardown(a_record_of_an_org_that_does_not_exist, setup, teardown),
        cmocka_unit_test_setup_teardown(a_call_center_its_name_does_not_find, setup, teardown),
        cmocka_unit_test_setup_teardown(a_contact_its_number_does_not_find, setup, teardown),
        cmocka_unit_test_setup_teardown(a_voice_call_its_key_does_not_find, setup, teardown),
        cmocka_unit_test_setup_teardown(a_reference_into_another_org, setup, teardown),
        cmocka_unit_test_setup_teardown(an_org_number_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(a_record_under_another_id, setup, teardown),
        cmocka_unit_test_setup_teardown(a_change_log_entry_out_of_place, setup, teardown),
        cmocka_unit_test_setup_teardown(output_is_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
