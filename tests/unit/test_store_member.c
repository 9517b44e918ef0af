#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct members_fixture {
    sb_test_fixture_t base;
    sb_sfid_t support, sales;
} members_fixture_t;

static int setup(void **state)
{
    sb_test_store_setup(state);
    members_fixture_t *fx = realloc(*state, sizeof(*fx));
    fx->support = sb_test_cc(fx->base.store, "acme", "Support");
    fx->sales = sb_test_cc(fx->base.store, "acme", "Sales");
    for (unsigned u = 1; u <= 5; u++)
        sb_test_user(fx->base.store, "acme", u);
    *state = fx;
    return 0;
}

static uint64_t count(members_fixture_t *fx, const sb_sfid_t *cc)
{
    sb_sfid_t *rows;
    size_t n;
    bool more;
    uint64_t total;
    sb_err_t err;
    assert_int_equal(sb_store_member_list(fx->base.store, "acme", cc->s, NULL, SB_STORE_PAGE_MAX,
                                          &rows, &n, &more, &total, &err),
                     0);
    assert_int_equal(n, total);
    free(rows);
    return total;
}

static void add_lookup_remove(void **state)
{
    members_fixture_t *fx = *state;
    sb_store_t *st = fx->base.store;
    sb_err_t err;
    sb_sfid_t cc, previous;
    assert_int_equal(
        sb_store_member_add(st, "acme", fx->support.s, "005000000000001", false, &previous, &err),
        0);
    assert_string_equal(previous.s, "");
    assert_int_equal(sb_store_member_lookup(st, "acme", "005000000000001AAA", &cc, &err), 0);
    assert_string_equal(cc.s, fx->support.s);
    /* Adding again to the same Call Center changes nothing. */
    assert_int_equal(
        sb_store_member_add(st, "acme", fx->support.s, "005000000000001", false, NULL, &err), 0);
    assert_int_equal(count(fx, &fx->support), 1);
    /* Removing from the wrong Call Center is refused. */
    assert_rc(sb_store_member_remove(st, "acme", fx->sales.s, "005000000000001", &err),
              SB_E_NOT_A_MEMBER, err);
    assert_int_equal(sb_store_member_remove(st, "acme", fx->support.s, "005000000000001", &err), 0);
    assert_rc(sb_store_member_remove(st, "acme", fx->support.s, "005000000000001", &err),
              SB_E_NOT_A_MEMBER, err);
    assert_rc(sb_store_member_lookup(st, "acme", "005000000000001", &cc, &err), SB_E_NOT_A_MEMBER,
              err);
    assert_int_equal(count(fx, &fx->support), 0);
}

static void one_callcenter_per_user_per_org(void **state)
{
    members_fixture_t *fx = *state;
    sb_store_t *st = fx->base.store;
    sb_err_t err;
    sb_sfid_t cc, previous;
    assert_int_equal(
        sb_store_member_add(st, "acme", fx->support.s, "005000000000001", false, NULL, &err), 0);
    assert_rc(
        sb_store_member_add(st, "acme", fx->sales.s, "005000000000001", false, &previous, &err),
        SB_E_ALREADY_MEMBER, err);
    /* The refusal names the Call Center the user is in. */
    assert_non_null(strstr(err.message, "'Support'"));
    assert_non_null(strstr(err.message, fx->support.s));
    assert_string_equal(previous.s, "");
    assert_int_equal(sb_store_member_lookup(st, "acme", "005000000000001", &cc, &err), 0);
    assert_string_equal(cc.s, fx->support.s);
    /* The move is one step: out of Support, into Sales. */
    assert_int_equal(
        sb_store_member_add(st, "acme", fx->sales.s, "005000000000001", true, &previous, &err), 0);
    assert_string_equal(previous.s, fx->support.s);
    assert_int_equal(sb_store_member_lookup(st, "acme", "005000000000001", &cc, &err), 0);
    assert_string_equal(cc.s, fx->sales.s);
    assert_int_equal(count(fx, &fx->support), 0);
    assert_int_equal(count(fx, &fx->sales), 1);
}

static void refusals_for_unknown_records(void **state)
{
    members_fixture_t *fx = *state;
    sb_store_t *st = fx->base.store;
    sb_err_t err;
    sb_sfid_t cc;
    assert_rc(sb_store_member_add(st, "acme", fx->support.s, "005000000000099", false, NULL, &err),
              -ENOENT, err);
    assert_non_null(strstr(err.message, "upsert the user first"));
    assert_rc(
        sb_store_member_add(st, "acme", "04v000000000999", "005000000000001", false, NULL, &err),
        -ENOENT, err);
    assert_rc(sb_store_member_add(st, "acme", fx->support.s, "00500000000000", false, NULL, &err),
              SB_E_INVALID_ID, err);
    /* globex sees none of acme's records. */
    sb_test_user(st, "globex", 1);
    assert_rc(
        sb_store_member_add(st, "globex", fx->support.s, "005000000000001", false, NULL, &err),
        -ENOENT, err);
    assert_rc(sb_store_member_lookup(st, "acme", "005000000000099", &cc, &err), -ENOENT, err);
    assert_rc(sb_store_member_lookup(st, "nobody", "005000000000001", &cc, &err), -ENOENT, err);
    sb_sfid_t *rows;
    size_t n;
    bool more;
    uint64_t total;
    assert_rc(
        sb_store_member_list(st, "globex", fx->support.s, NULL, 10, &rows, &n, &more, &total, &err),
        -ENOENT, err);
}

static void bulk_is_all_or_nothing(void **state)
{
    members_fixture_t *fx = *state;
    sb_store_t *st = fx->base.store;
    sb_err_t err;
    sb_sfid_t cc;
    assert_int_equal(
        sb_store_member_add(st, "acme", fx->sales.s, "005000000000005", false, NULL, &err), 0);
    sb_member_assignment_t rows[] = {
        {"005000000000001", fx->support.s},
        {"005000000000002", fx->support.s},
        {"005000000000003", fx->sales.s},
        {"005000000000005", fx->support.s}, /* already in Sales */
    };
    assert_rc(sb_store_member_add_bulk(st, "acme", rows, 4, false, &err), SB_E_ALREADY_MEMBER, err);
    assert_non_null(strstr(err.message, "Row 4"));
    assert_non_null(strstr(err.message, "'Sales'"));
    assert_int_equal(count(fx, &fx->support), 0);
    assert_int_equal(count(fx, &fx->sales), 1);
    assert_rc(sb_store_member_lookup(st, "acme", "005000000000001", &cc, &err), SB_E_NOT_A_MEMBER,
              err);
    /* With move, the whole batch goes through. */
    assert_int_equal(sb_store_member_add_bulk(st, "acme", rows, 4, true, &err), 0);
    assert_int_equal(count(fx, &fx->support), 3);
    assert_int_equal(count(fx, &fx->sales), 1);
    /* An unknown user anywhere in the batch refuses all of it. */
    sb_member_assignment_t with_unknown[] = {{"005000000000004", fx->sales.s},
                                             {"005000000000777", fx->sales.s}};
    assert_rc(sb_store_member_add_bulk(st, "acme", with_unknown, 2, true, &err), -ENOENT, err);
    assert_non_null(strstr(err.message, "Row 2"));
    assert_int_equal(count(fx, &fx->sales), 1);
    assert_rc(sb_store_member_add_bulk(st, "acme", rows, 0, true, &err), SB_E_BATCH_TOO_LARGE, err);
}

static void members_list_in_pages(void **state)
{
    members_fixture_t *fx = *state;
    sb_store_t *st = fx->base.store;
    sb_err_t err;
    enum { N = 250 };
    sb_user_t *users = calloc(N, sizeof(*users));
    sb_member_assignment_t *rows = calloc(N, sizeof(*rows));
    for (unsigned i = 0; i < N; i++) {
        sb_test_user_id(1000 + i, users[i].id.s);
        strcpy(users[i].name, "Bulk");
        rows[i].user = users[i].id.s;
        rows[i].callcenter = fx->support.s;
    }
    assert_int_equal(sb_store_user_upsert_bulk(st, "acme", users, N, &err), 0);
    assert_int_equal(sb_store_member_add_bulk(st, "acme", rows, N, false, &err), 0);
    size_t seen = 0, n;
    bool more = true;
    uint64_t total = 0;
    sb_sfid_t last = {{0}};
    int pages = 0;
    while (more) {
        sb_sfid_t *page;
        assert_int_equal(sb_store_member_list(st, "acme", fx->support.s, seen ? last.s : NULL, 100,
                                              &page, &n, &more, &total, &err),
                         0);
        for (size_t i = 0; i < n; i++) {
            assert_true(strcmp(page[i].s, last.s) > 0);
            last = page[i];
        }
        seen += n;
        pages++;
        free(page);
    }
    assert_int_equal(seen, N);
    assert_int_equal(total, N);
    assert_int_equal(pages, 3);
    free(users);
    free(rows);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, sb_test_store_teardown)
    const struct CMUnitTest tests[] = {
        T(add_lookup_remove),
        T(one_callcenter_per_user_per_org),
        T(refusals_for_unknown_records),
        T(bulk_is_all_or_nothing),
        T(members_list_in_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
