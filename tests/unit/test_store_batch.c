/* Group commit: many writes in one transaction, each failing on its own. */
#include "sb_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lookup {
    sb_store_t *store;
    int rc;
};

static void *lookup_user_1(void *arg)
{
    struct lookup *l = arg;
    sb_sfid_t found;
    l->rc = sb_store_member_lookup(l->store, "acme", "005000000000001", &found, NULL);
    return NULL;
}

static void writes_in_a_batch_fail_alone(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_sfid_t cc = sb_test_cc(fx->store, "acme", "Support");
    sb_test_user(fx->store, "acme", 1);
    assert_int_equal(sb_store_batch_begin(fx->store, &err), 0);
    assert_rc(sb_store_batch_begin(fx->store, &err), -EINVAL, err);
    sb_test_user(fx->store, "acme", 2);
    assert_int_equal(
        sb_store_member_add(fx->store, "acme", cc.s, "005000000000001", false, NULL, &err), 0);
    /* A refused bulk inside the batch undoes its own rows only. */
    sb_member_assignment_t rows[] = {{"005000000000002", cc.s}, {"005000000000099", cc.s}};
    assert_rc(sb_store_member_add_bulk(fx->store, "acme", rows, 2, false, &err), -ENOENT, err);
    assert_rc(sb_store_org_create(fx->store, "acme", NULL, &err), -EEXIST, err);
    /* The batch's thread reads its own writes; other threads see none
     * of them before the commit. */
    sb_sfid_t found;
    assert_int_equal(sb_store_member_lookup(fx->store, "acme", "005000000000001", &found, &err), 0);
    pthread_t reader;
    struct lookup lookup = {fx->store, -1};
    assert_int_equal(pthread_create(&reader, NULL, lookup_user_1, &lookup), 0);
    pthread_join(reader, NULL);
    assert_int_equal(lookup.rc, SB_E_NOT_A_MEMBER);
    assert_int_equal(sb_store_batch_commit(fx->store, &err), 0);
    assert_int_equal(sb_store_member_lookup(fx->store, "acme", "005000000000001", &found, &err), 0);
    assert_rc(sb_store_member_lookup(fx->store, "acme", "005000000000002", &found, &err),
              SB_E_NOT_A_MEMBER, err);
    sb_user_t user;
    assert_int_equal(sb_store_user_get(fx->store, "acme", "005000000000002", &user, &err), 0);
    assert_rc(sb_store_batch_commit(fx->store, &err), -EINVAL, err);
}

static void an_aborted_batch_leaves_nothing(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    assert_int_equal(sb_store_batch_begin(fx->store, &err), 0);
    assert_int_equal(sb_store_org_create(fx->store, "initech", NULL, &err), 0);
    sb_store_batch_abort(fx->store);
    sb_store_batch_abort(fx->store); /* no batch: nothing to do */
    sb_org_t org;
    assert_rc(sb_store_org_get(fx->store, "initech", &org, &err), -ENOENT, err);
}

static void a_full_map_inside_a_batch_asks_for_growth(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir();
    sb_store_opts_t opts = {.dir = dir,
                            .initial_map_bytes = 256 << 10,
                            .max_map_bytes = 64 << 20,
                            .durability = SB_DURABILITY_NONE};
    sb_store_t *st;
    sb_err_t err;
    assert_int_equal(sb_store_open(&opts, &st, &err), 0);
    assert_int_equal(sb_store_org_create(st, "acme", NULL, &err), 0);
    enum { BATCH = 2000 }; /* about 600 KiB of rows: more than the first map holds */
    sb_user_t *users = calloc(BATCH, sizeof(*users));
    for (unsigned i = 0; i < BATCH; i++) {
        sb_test_user_id(i + 1, users[i].id.s);
        memset(users[i].name, 'n', 250);
    }
    /* The batch owner's loop: replay after growing until it fits. */
    int rc, tries = 0;
    do {
        assert_int_equal(sb_store_batch_begin(st, &err), 0);
        rc = sb_store_user_upsert_bulk(st, "acme", users, BATCH, &err);
        if (rc == 0)
            rc = sb_store_batch_commit(st, &err);
        else
            sb_store_batch_abort(st);
        if (rc == -ENOSPC) {
            assert_rc(sb_store_grow(st, &err), 0, err);
            tries++;
        }
    } while (rc == -ENOSPC);
    assert_rc(rc, 0, err);
    assert_true(tries >= 1);
    sb_store_stats_t stats;
    assert_int_equal(sb_store_stats(st, &stats, &err), 0);
    assert_int_equal(stats.users, BATCH);
    free(users);
    sb_store_close(st);
    sb_test_rmdir(dir);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sb_test_store_setup, sb_test_store_teardown)
    const struct CMUnitTest tests[] = {
        T(writes_in_a_batch_fail_alone),
        T(an_aborted_batch_leaves_nothing),
        cmocka_unit_test(a_full_map_inside_a_batch_asks_for_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
