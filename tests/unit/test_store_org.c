#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void create_get_and_refuse_duplicates(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_org_t org;
    assert_int_equal(sb_store_org_create(fx->store, "initech", NULL, &err), 0);
    assert_int_equal(sb_store_org_get(fx->store, "initech", &org, &err), 0);
    assert_string_equal(org.id, "initech");
    assert_string_equal(org.name, "initech"); /* the name defaults to the id */
    assert_true(org.created_ms > 0);
    assert_rc(sb_store_org_create(fx->store, "initech", "Again", &err), -EEXIST, err);
    assert_string_equal(sb_err_name(err.code), "ALREADY_EXISTS");
    assert_rc(sb_store_org_get(fx->store, "nobody", &org, &err), -ENOENT, err);
    assert_string_equal(org.id, "");
    assert_rc(sb_store_org_create(fx->store, "bad id", NULL, &err), SB_E_INVALID_ID, err);
    assert_rc(sb_store_org_create(fx->store, "ok", "bad \xff", &err), SB_E_INVALID_VALUE, err);
}

static void list_pages_in_order(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    char id[16];
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof(id), "org%02d", i);
        assert_int_equal(sb_store_org_create(fx->store, id, NULL, &err), 0);
    }
    /* 25 + acme + globex, in pages of 10 */
    size_t seen = 0, n;
    bool more = true;
    char after[SB_ORG_ID_MAX + 1] = "";
    char previous[SB_ORG_ID_MAX + 1] = "";
    int pages = 0;
    while (more) {
        sb_org_t *rows;
        assert_int_equal(
            sb_store_org_list(fx->store, seen ? after : NULL, 10, &rows, &n, &more, &err), 0);
        pages++;
        for (size_t i = 0; i < n; i++) {
            assert_true(strcmp(previous, rows[i].id) < 0);
            strcpy(previous, rows[i].id);
        }
        seen += n;
        if (n > 0)
            strcpy(after, rows[n - 1].id);
        free(rows);
    }
    assert_int_equal(seen, 27);
    assert_int_equal(pages, 3);
    sb_org_t *rows;
    assert_rc(sb_store_org_list(fx->store, NULL, 0, &rows, &n, &more, &err), -EINVAL, err);
    assert_rc(sb_store_org_list(fx->store, NULL, SB_STORE_PAGE_MAX + 1, &rows, &n, &more, &err),
              -EINVAL, err);
    /* After the last one: an empty page. */
    assert_int_equal(sb_store_org_list(fx->store, "zzz", 10, &rows, &n, &more, &err), 0);
    assert_int_equal(n, 0);
    assert_null(rows);
    assert_false(more);
}

static void delete_refused_while_org_has_callcenters(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_test_cc(fx->store, "acme", "Support");
    assert_rc(sb_store_org_delete(fx->store, "acme", false, &err), SB_E_ORG_NOT_EMPTY, err);
    assert_non_null(strstr(err.message, "1 Call Center"));
    sb_org_t org;
    assert_int_equal(sb_store_org_get(fx->store, "acme", &org, &err), 0);
    /* An org with only users is empty enough. */
    sb_test_user(fx->store, "globex", 1);
    assert_int_equal(sb_store_org_delete(fx->store, "globex", false, &err), 0);
    assert_rc(sb_store_org_get(fx->store, "globex", &org, &err), -ENOENT, err);
    assert_rc(sb_store_org_delete(fx->store, "globex", false, &err), -ENOENT, err);
}

static void forced_delete_removes_that_org_only(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    /* Org "acm" is a prefix of "acme": its keys must survive acme's delete. */
    assert_int_equal(sb_store_org_create(fx->store, "acm", NULL, &err), 0);
    assert_int_equal(sb_store_org_create(fx->store, "acme2", NULL, &err), 0);
    const char *orgs[] = {"acme", "acm", "acme2", "globex"};
    sb_sfid_t ccs[4];
    for (int i = 0; i < 4; i++) {
        ccs[i] = sb_test_cc(fx->store, orgs[i], "Support");
        for (unsigned u = 1; u <= 3; u++) {
            sb_test_user(fx->store, orgs[i], u);
            char uid[16];
            sb_test_user_id(u, uid);
            assert_int_equal(
                sb_store_member_add(fx->store, orgs[i], ccs[i].s, uid, false, NULL, &err), 0);
        }
    }
    sb_store_stats_t before, after;
    assert_int_equal(sb_store_stats(fx->store, &before, &err), 0);
    assert_int_equal(sb_store_org_delete(fx->store, "acme", true, &err), 0);
    assert_int_equal(sb_store_stats(fx->store, &after, &err), 0);
    assert_int_equal(after.orgs, before.orgs - 1);
    assert_int_equal(after.callcenters, before.callcenters - 1);
    assert_int_equal(after.users, before.users - 3);
    assert_int_equal(after.members, before.members - 3);
    sb_sfid_t cc;
    assert_rc(sb_store_member_lookup(fx->store, "acme", "005000000000001", &cc, &err), -ENOENT,
              err);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(sb_store_member_lookup(fx->store, orgs[i], "005000000000001", &cc, &err),
                         0);
        assert_string_equal(cc.s, ccs[i].s);
        sb_callcenter_t *found;
        assert_int_equal(sb_store_cc_get_by_name(fx->store, orgs[i], "Support", &found, &err), 0);
        sb_callcenter_free(found);
        sb_sfid_t *members;
        size_t n;
        bool more;
        uint64_t total;
        assert_int_equal(sb_store_member_list(fx->store, orgs[i], ccs[i].s, NULL, 10, &members, &n,
                                              &more, &total, &err),
                         0);
        assert_int_equal(total, 3);
        free(members);
    }
    /* The org can be created again, empty. */
    assert_int_equal(sb_store_org_create(fx->store, "acme", NULL, &err), 0);
    sb_callcenter_t *gone;
    assert_rc(sb_store_cc_get_by_name(fx->store, "acme", "Support", &gone, &err), -ENOENT, err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_get_and_refuse_duplicates, sb_test_store_setup,
                                        sb_test_store_teardown),
        cmocka_unit_test_setup_teardown(list_pages_in_order, sb_test_store_setup,
                                        sb_test_store_teardown),
        cmocka_unit_test_setup_teardown(delete_refused_while_org_has_callcenters,
                                        sb_test_store_setup, sb_test_store_teardown),
        cmocka_unit_test_setup_teardown(forced_delete_removes_that_org_only, sb_test_store_setup,
                                        sb_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
