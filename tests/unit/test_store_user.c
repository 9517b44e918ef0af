#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void upsert_creates_then_replaces(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_user_t user = {.id = {"005000000000001"}, .name = "Ada", .profile = "Agent"}, got;
    assert_int_equal(sb_store_user_upsert(fx->store, "acme", &user, &err), 0);
    assert_int_equal(sb_store_user_get(fx->store, "acme", "005000000000001AAA", &got, &err), 0);
    assert_string_equal(got.id.s, "005000000000001AAA"); /* stored in the 18-character form */
    assert_string_equal(got.profile, "Agent");
    strcpy(user.profile, "Supervisor");
    assert_int_equal(sb_store_user_upsert(fx->store, "acme", &user, &err), 0);
    assert_int_equal(sb_store_user_get(fx->store, "acme", "005000000000001", &got, &err), 0);
    assert_string_equal(got.profile, "Supervisor");
    sb_store_stats_t stats;
    assert_int_equal(sb_store_stats(fx->store, &stats, &err), 0);
    assert_int_equal(stats.users, 1);
    /* Users belong to their org. */
    assert_rc(sb_store_user_get(fx->store, "globex", "005000000000001", &got, &err), -ENOENT, err);
    assert_rc(sb_store_user_upsert(fx->store, "nobody", &user, &err), -ENOENT, err);
}

static void upsert_refuses_bad_users(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_user_t bad_id = {.id = {"003000000000001"}, .name = "Contact"};
    assert_rc(sb_store_user_upsert(fx->store, "acme", &bad_id, &err), SB_E_INVALID_ID, err);
    sb_user_t no_name = {.id = {"005000000000001"}, .name = ""};
    assert_rc(sb_store_user_upsert(fx->store, "acme", &no_name, &err), SB_E_MISSING_FIELD, err);
    sb_user_t bad_text = {.id = {"005000000000001"}, .name = "A\xff"};
    assert_rc(sb_store_user_upsert(fx->store, "acme", &bad_text, &err), SB_E_INVALID_VALUE, err);
}

static void bulk_is_all_or_nothing(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    enum { N = 500 };
    sb_user_t *users = calloc(N, sizeof(*users));
    for (unsigned i = 0; i < N; i++) {
        sb_test_user_id(i + 1, users[i].id.s);
        snprintf(users[i].name, sizeof(users[i].name), "User %u", i + 1);
    }
    strcpy(users[N - 1].id.s, "005BAD");
    assert_rc(sb_store_user_upsert_bulk(fx->store, "acme", users, N, &err), SB_E_INVALID_ID, err);
    assert_non_null(strstr(err.message, "Row 500"));
    sb_store_stats_t stats;
    assert_int_equal(sb_store_stats(fx->store, &stats, &err), 0);
    assert_int_equal(stats.users, 0);
    sb_test_user_id(N, users[N - 1].id.s);
    assert_int_equal(sb_store_user_upsert_bulk(fx->store, "acme", users, N, &err), 0);
    assert_int_equal(sb_store_stats(fx->store, &stats, &err), 0);
    assert_int_equal(stats.users, N);
    assert_rc(sb_store_user_upsert_bulk(fx->store, "acme", users, 0, &err), SB_E_BATCH_TOO_LARGE,
              err);
    assert_rc(sb_store_user_upsert_bulk(fx->store, "acme", users, SB_STORE_BULK_MAX + 1, &err),
              SB_E_BATCH_TOO_LARGE, err);

    /* Listing pages through all of them, in id order, and no other org's. */
    sb_test_user(fx->store, "globex", 9999);
    size_t seen = 0, n;
    bool more = true;
    sb_sfid_t last = {{0}};
    while (more) {
        sb_user_t *rows;
        assert_int_equal(
            sb_store_user_list(fx->store, "acme", seen ? last.s : NULL, 64, &rows, &n, &more, &err),
            0);
        for (size_t i = 0; i < n; i++)
            assert_true(strcmp(rows[i].id.s, last.s) > 0 && (last = rows[i].id, 1));
        seen += n;
        free(rows);
    }
    assert_int_equal(seen, N);
    free(users);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sb_test_store_setup, sb_test_store_teardown)
    const struct CMUnitTest tests[] = {
        T(upsert_creates_then_replaces),
        T(upsert_refuses_bad_users),
        T(bulk_is_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
