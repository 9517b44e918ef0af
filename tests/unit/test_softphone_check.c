/*
 * The softphone check over a read transaction (store/softphone_check.c), as
 * its second caller uses it: a data directory the store wrote, then opened
 * with an environment and table handles of the test's own, as
 * libswitchboard-index opens it. The reasons and their order, the caller's
 * buffers and view look-up, and what a broken record gives.
 */
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "sb_test.h"
#include "softphone_check.h"

typedef struct fixture {
    char *dir;
    char cc[SB_SFID_LEN + 1];
    MDB_env *env;
    MDB_txn *txn; /* a write transaction: the tests may break records inside it */
    sb_softphone_tables_t tables;
    unsigned view_gets; /* calls of count_gets */
} fixture_t;

/* The caller's storage for one answer. */
typedef struct answer {
    char user[SB_SFID_LEN + 1];
    char profile[SB_PROFILE_NAME_MAX + 1];
    char adapter_url[SB_VIEW_URL_MAX];
    unsigned char record[4096];
    sb_softphone_found_t found;
} answer_t;

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));
    fx->dir = sb_test_tmpdir();
    sb_store_t *st = sb_test_open(fx->dir);
    sb_err_t err;
    assert_rc(sb_store_org_create(st, "acme", "Acme", &err), 0, err);
    sb_sfid_t cc = sb_test_cc(st, "acme", "Support");
    memcpy(fx->cc, cc.s, sizeof(fx->cc));
    /* 1: a member; 2: a user of acme in no Call Center; 3: nobody. */
    for (unsigned u = 1; u <= 2; u++)
        sb_test_user(st, "acme", u);
    char uid[16];
    sb_test_user_id(1, uid);
    assert_rc(sb_store_member_add(st, "acme", cc.s, uid, false, NULL, &err), 0, err);
    sb_store_close(st); /* one environment per process and directory: LMDB's rule */

    assert_int_equal(mdb_env_create(&fx->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(fx->env, 24), 0);
    assert_int_equal(mdb_env_open(fx->env, fx->dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &fx->txn), 0);
    assert_int_equal(mdb_dbi_open(fx->txn, "orgs", 0, &fx->tables.orgs), 0);
    assert_int_equal(mdb_dbi_open(fx->txn, "users", 0, &fx->tables.users), 0);
    assert_int_equal(mdb_dbi_open(fx->txn, "user_cc", 0, &fx->tables.user_cc), 0);
    assert_int_equal(mdb_dbi_open(fx->txn, "views", 0, &fx->tables.views), 0);
    assert_int_equal(mdb_dbi_open(fx->txn, "org_ids", 0, &fx->tables.org_ids), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    mdb_txn_abort(fx->txn); /* what a test broke is never kept */
    mdb_env_close(fx->env);
    sb_test_rmdir(fx->dir);
    free(fx);
    return 0;
}

static int check(fixture_t *fx, const char *org, const char *user, answer_t *a, sb_err_t *err)
{
    sb_softphone_org_t o;
    sb_softphone_org_init(&o, org);
    a->found = (sb_softphone_found_t){.user = a->user,
                                      .profile = a->profile,
                                      .adapter_url = a->adapter_url,
                                      .record = a->record,
                                      .record_cap = sizeof(a->record)};
    sb_err_clear(err);
    return sb_softphone_check_txn(fx->txn, &fx->tables, &o, user, &a->found, err);
}

static void each_reason_in_its_order(void **state)
{
    fixture_t *fx = *state;
    answer_t a;
    sb_err_t err;
    char uid[16];

    sb_test_user_id(1, uid);
    assert_rc(check(fx, "acme", uid, &a, &err), 0, err);
    assert_int_equal(a.found.reason, SB_SOFTPHONE_OK);
    assert_string_equal(a.user, "005000000000001AAA");
    assert_string_equal(a.profile, "Agent");
    assert_true(a.found.record_len > 0);
    assert_string_equal(a.found.view.cc_id, fx->cc);
    assert_true((const unsigned char *)a.found.view.cc_id >= a.record &&
                (const unsigned char *)a.found.view.cc_id < a.record + sizeof(a.record));
    assert_string_equal(a.adapter_url, "https://cti.example.com/softphone");

    sb_test_user_id(2, uid);
    assert_rc(check(fx, "acme", uid, &a, &err), 0, err);
    assert_int_equal(a.found.reason, SB_SOFTPHONE_NOT_A_MEMBER);
    assert_int_equal(a.found.record_len, 0);
    assert_string_equal(a.profile, "");
    assert_string_equal(a.adapter_url, "");

    sb_test_user_id(3, uid);
    assert_rc(check(fx, "acme", uid, &a, &err), 0, err);
    assert_int_equal(a.found.reason, SB_SOFTPHONE_UNKNOWN_USER);

    assert_int_equal(check(fx, "nowhere", uid, &a, &err), -ENOENT);
    assert_non_null(strstr(err.message, "'nowhere' does not exist"));

    /* The user's id first, whatever the org: then the org's form. */
    assert_rc(check(fx, "not an org!", "005-not-an-id", &a, &err), 0, err);
    assert_int_equal(a.found.reason, SB_SOFTPHONE_INVALID_USER_ID);
    assert_string_equal(a.user, "005-not-an-id");
    assert_int_equal(check(fx, "not an org!", uid, &a, &err), SB_E_INVALID_ID);
    assert_non_null(strstr(err.message, "not an org!"));
    assert_rc(check(fx, "acme", NULL, &a, &err), 0, err);
    assert_int_equal(a.found.reason, SB_SOFTPHONE_INVALID_USER_ID);
    assert_string_equal(a.user, "");
}

static int count_gets(void *ctx, MDB_txn *txn, MDB_dbi views, const MDB_val *key, MDB_val *view)
{
    fixture_t *fx = ctx;
    fx->view_gets++;
    MDB_val k = *key;
    return mdb_get(txn, views, &k, view);
}

static int never_found(void *ctx, MDB_txn *txn, MDB_dbi views, const MDB_val *key, MDB_val *view)
{
    (void)ctx, (void)txn, (void)views, (void)key, (void)view;
    return MDB_NOTFOUND;
}

static void the_view_goes_where_the_caller_says(void **state)
{
    fixture_t *fx = *state;
    answer_t a;
    sb_err_t err;
    char member[16], other[16];
    sb_test_user_id(1, member);
    sb_test_user_id(2, other);

    /* The caller's look-up of the view, once per member, never for others. */
    fx->tables.get_view = count_gets;
    fx->tables.get_view_ctx = fx;
    assert_rc(check(fx, "acme", member, &a, &err), 0, err);
    assert_int_equal(fx->view_gets, 1);
    assert_rc(check(fx, "acme", other, &a, &err), 0, err);
    assert_int_equal(fx->view_gets, 1);
    /* A member whose view the look-up does not find is a broken index. */
    fx->tables.get_view = never_found;
    assert_int_equal(check(fx, "acme", member, &a, &err), SB_E_CORRUPT);
    assert_non_null(strstr(err.message, "unreadable"));
    fx->tables.get_view = NULL;

    /* A buffer too small: refused, nothing half made. */
    sb_softphone_org_t o;
    sb_softphone_org_init(&o, "acme");
    char user[SB_SFID_LEN + 1], profile[SB_PROFILE_NAME_MAX + 1], url[SB_VIEW_URL_MAX];
    unsigned char tiny[16];
    sb_softphone_found_t found = {
        .user = user, .profile = profile, .adapter_url = url, .record = tiny, .record_cap = 16};
    assert_int_equal(sb_softphone_check_txn(fx->txn, &fx->tables, &o, member, &found, &err),
                     -E2BIG);
    assert_int_equal(found.record_len, 0);
    assert_string_equal(profile, "");
    assert_ptr_equal(found.record, tiny);

    /* No buffer: the check allocates one, the caller's to free. */
    found.record = NULL;
    found.record_cap = 0;
    assert_rc(sb_softphone_check_txn(fx->txn, &fx->tables, &o, member, &found, &err), 0, err);
    assert_non_null(found.record);
    assert_true(found.record_len > 0);
    assert_string_equal(found.view.cc_id, fx->cc);
    free(found.record);
    /* ... and nothing for a non-member. */
    found.record = NULL;
    assert_rc(sb_softphone_check_txn(fx->txn, &fx->tables, &o, other, &found, &err), 0, err);
    assert_null(found.record);
    assert_int_equal(found.reason, SB_SOFTPHONE_NOT_A_MEMBER);
}

static void a_broken_record_is_corrupt(void **state)
{
    fixture_t *fx = *state;
    answer_t a;
    sb_err_t err;
    char uid[16];
    sb_test_user_id(1, uid);
    /* User 1's membership key: acme's number, then the packed id. */
    uint32_t num;
    assert_int_equal(sb_org_num_find(fx->txn, fx->tables.org_ids, "acme", 4, &num, NULL), 0);
    uint8_t key[SB_MEMBER_KEY_LEN];
    sb_sfid_t user = {"005000000000001AAA"};
    MDB_val k = {sb_member_key(num, &user, key), key}, v;
    assert_int_equal(k.mv_size, SB_MEMBER_KEY_LEN);

    /* A view whose compatibility mode is none there is. */
    assert_rc(check(fx, "acme", uid, &a, &err), 0, err);
    char vkey[128];
    MDB_val vk = {sb_softphone_view_key(vkey, sizeof(vkey), "acme", fx->cc, "Agent"), vkey};
    unsigned char bad[sizeof(a.record)];
    memcpy(bad, a.record, a.found.record_len);
    bad[5] = 9; /* the mode byte (softphone_view.h) */
    v = (MDB_val){a.found.record_len, bad};
    assert_int_equal(mdb_put(fx->txn, fx->tables.views, &vk, &v, 0), 0);
    assert_int_equal(check(fx, "acme", uid, &a, &err), SB_E_CORRUPT);
    assert_int_equal(a.found.record_len, 0);

    /* A membership shorter than a Call Center's id. */
    v = (MDB_val){5, "04v00"};
    assert_int_equal(mdb_put(fx->txn, fx->tables.user_cc, &k, &v, 0), 0);
    assert_int_equal(check(fx, "acme", uid, &a, &err), SB_E_CORRUPT);
    assert_non_null(strstr(err.message, "005000000000001AAA"));

    /* An org that lost its number: its members' keys cannot be made. */
    MDB_val ok = {4, "acme"};
    assert_int_equal(mdb_del(fx->txn, fx->tables.org_ids, &ok, NULL), 0);
    assert_int_equal(check(fx, "acme", uid, &a, &err), SB_E_CORRUPT);
    /* ... and an org that does not exist is still no org. */
    assert_int_equal(check(fx, "nobody", uid, &a, &err), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(each_reason_in_its_order, setup, teardown),
        cmocka_unit_test_setup_teardown(the_view_goes_where_the_caller_says, setup, teardown),
        cmocka_unit_test_setup_teardown(a_broken_record_is_corrupt, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
