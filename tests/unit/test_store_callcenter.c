#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static sb_callcenter_t *definition(const char *name)
{
    sb_cc_fields_t f = {
        .internal_name = name,
        .display_name = "Support line",
        .adapter = "demo",
        .adapter_url = "https://cti.example.com/softphone",
        .softphone_height = 400,
        .softphone_width = 300,
        .compatibility_mode = "Lightning",
    };
    sb_callcenter_t *cc;
    assert_int_equal(sb_callcenter_from_fields(&f, &cc, NULL), 0);
    return cc;
}

static void create_assigns_ids_and_keeps_the_definition(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_callcenter_t *def = definition("Support"), *a, *b, *got;
    assert_int_equal(sb_store_cc_create(fx->store, "acme", def, &a, &err), 0);
    assert_int_equal(strlen(a->id.s), 18);
    assert_memory_equal(a->id.s, "04v", 3);
    assert_true(a->created_ms > 0 && a->created_ms == a->updated_ms);
    /* The same name in another org is another Call Center. */
    assert_int_equal(sb_store_cc_create(fx->store, "globex", def, &b, &err), 0);
    assert_string_not_equal(a->id.s, b->id.s);

    assert_int_equal(sb_store_cc_get(fx->store, "acme", a->id.s, &got, &err), 0);
    assert_string_equal(got->adapter, "demo");
    assert_string_equal(sb_callcenter_display_name(got), "Support line");
    assert_int_equal(got->n_sections, def->n_sections);
    assert_int_equal(got->sections[0].n_items, def->sections[0].n_items);
    sb_callcenter_free(got);
    /* 15-character ids are accepted too. */
    char id15[16];
    memcpy(id15, a->id.s, 15);
    id15[15] = '\0';
    assert_int_equal(sb_store_cc_get(fx->store, "acme", id15, &got, &err), 0);
    assert_string_equal(got->id.s, a->id.s);
    sb_callcenter_free(got);
    sb_callcenter_free(def);
    sb_callcenter_free(a);
    sb_callcenter_free(b);
}

static void create_refuses_what_breaks_a_rule(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_callcenter_t *def = definition("Support"), *out = (sb_callcenter_t *)1;
    assert_int_equal(sb_store_cc_create(fx->store, "acme", def, NULL, &err), 0);
    /* Internal names are unique in the org, whatever their case. */
    sb_callcenter_t *upper = definition("SUPPORT");
    assert_rc(sb_store_cc_create(fx->store, "acme", upper, &out, &err), SB_E_INTERNAL_NAME_TAKEN,
              err);
    assert_null(out);
    assert_non_null(strstr(err.message, "04v"));
    /* A definition that breaks a rule is refused by the store too. */
    sb_cc_change_t tall = {"reqGeneralInfo", "reqSoftphoneHeight", "5000"};
    sb_callcenter_t *bad = definition("Other");
    free(bad->sections[0].items[3].value); /* reqSoftphoneHeight */
    assert_string_equal(bad->sections[0].items[3].name, tall.item);
    bad->sections[0].items[3].value = strdup(tall.value);
    assert_rc(sb_store_cc_create(fx->store, "acme", bad, NULL, &err), SB_E_OUT_OF_RANGE, err);
    assert_rc(sb_store_cc_create(fx->store, "nobody", def, NULL, &err), -ENOENT, err);
    sb_store_stats_t stats;
    assert_int_equal(sb_store_stats(fx->store, &stats, &err), 0);
    assert_int_equal(stats.callcenters, 1);
    sb_callcenter_free(def);
    sb_callcenter_free(upper);
    sb_callcenter_free(bad);
}

static void get_by_name_and_tenant_isolation(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_sfid_t id = sb_test_cc(fx->store, "acme", "Support");
    sb_callcenter_t *got;
    assert_int_equal(sb_store_cc_get_by_name(fx->store, "acme", "support", &got, &err), 0);
    assert_string_equal(got->id.s, id.s);
    assert_string_equal(sb_callcenter_internal_name(got), "Support");
    sb_callcenter_free(got);
    /* Another org's token sees the same NOT_FOUND as for an id that never existed. */
    assert_rc(sb_store_cc_get(fx->store, "globex", id.s, &got, &err), -ENOENT, err);
    assert_null(got);
    assert_rc(sb_store_cc_get_by_name(fx->store, "globex", "Support", &got, &err), -ENOENT, err);
    assert_rc(sb_store_cc_get(fx->store, "acme", "04v000000000999", &got, &err), -ENOENT, err);
    assert_rc(sb_store_cc_get(fx->store, "acme", "005000000000001", &got, &err), SB_E_INVALID_ID,
              err);
    assert_rc(sb_store_cc_get(fx->store, "acme", "04v0000000009", &got, &err), SB_E_INVALID_ID,
              err);
}

static void list_pages_with_member_counts(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_sfid_t ids[12];
    for (int i = 0; i < 12; i++) {
        char name[16];
        snprintf(name, sizeof(name), "Center%d", i);
        ids[i] = sb_test_cc(fx->store, "acme", name);
    }
    sb_test_cc(fx->store, "globex", "NotMine");
    for (unsigned u = 1; u <= 4; u++) {
        sb_test_user(fx->store, "acme", u);
        char uid[16];
        sb_test_user_id(u, uid);
        assert_int_equal(
            sb_store_member_add(fx->store, "acme", ids[u % 2].s, uid, false, NULL, &err), 0);
    }
    sb_cc_summary_t *rows;
    size_t n, total = 0;
    bool more;
    assert_int_equal(sb_store_cc_list(fx->store, "acme", NULL, 5, &rows, &n, &more, &err), 0);
    assert_int_equal(n, 5);
    assert_true(more);
    assert_string_equal(rows[0].id.s, ids[0].s);
    assert_string_equal(rows[0].internal_name, "Center0");
    assert_string_equal(rows[0].adapter, "");
    assert_int_equal(rows[0].members, 2);
    assert_int_equal(rows[1].members, 2);
    assert_int_equal(rows[2].members, 0);
    total += n;
    sb_sfid_t last = rows[n - 1].id;
    free(rows);
    while (more) {
        assert_int_equal(sb_store_cc_list(fx->store, "acme", last.s, 5, &rows, &n, &more, &err), 0);
        for (size_t i = 0; i < n; i++)
            assert_true(strcmp(rows[i].id.s, last.s) > 0);
        total += n;
        last = rows[n - 1].id;
        free(rows);
    }
    assert_int_equal(total, 12);
}

static void update_changes_values_only(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_sfid_t id = sb_test_cc(fx->store, "acme", "Support");
    sb_callcenter_t *out, *got;
    sb_cc_change_t changes[] = {{"reqGeneralInfo", "reqSoftphoneWidth", "640"},
                                {"reqGeneralInfo", "reqDisplayName", "Renamed"}};
    assert_int_equal(sb_store_cc_update(fx->store, "acme", id.s, changes, 2, "five9", &out, &err),
                     0);
    assert_string_equal(sb_callcenter_value(out, NULL, "reqSoftphoneWidth"), "640");
    assert_string_equal(out->adapter, "five9");
    assert_true(out->updated_ms >= out->created_ms);
    sb_callcenter_free(out);

    /* One bad change refuses all of them: nothing is half written. */
    sb_cc_change_t mixed[] = {{"reqGeneralInfo", "reqSoftphoneWidth", "700"},
                              {"reqGeneralInfo", "reqSoftphoneHeight", "100"}};
    assert_rc(sb_store_cc_update(fx->store, "acme", id.s, mixed, 2, NULL, &out, &err),
              SB_E_OUT_OF_RANGE, err);
    assert_null(out);
    sb_cc_change_t add = {"reqGeneralInfo", "reqTimeout", "1000"};
    assert_rc(sb_store_cc_update(fx->store, "acme", id.s, &add, 1, NULL, NULL, &err),
              SB_E_FIELD_NOT_IN_SET, err);
    sb_cc_change_t rename = {"reqGeneralInfo", "reqInternalName", "Other"};
    assert_rc(sb_store_cc_update(fx->store, "acme", id.s, &rename, 1, NULL, NULL, &err),
              SB_E_INTERNAL_NAME_IMMUTABLE, err);
    assert_rc(sb_store_cc_update(fx->store, "globex", id.s, changes, 1, NULL, NULL, &err), -ENOENT,
              err);
    assert_int_equal(sb_store_cc_get(fx->store, "acme", id.s, &got, &err), 0);
    assert_string_equal(sb_callcenter_value(got, NULL, "reqSoftphoneWidth"), "640");
    assert_string_equal(sb_callcenter_value(got, NULL, "reqSoftphoneHeight"), "400");
    assert_string_equal(sb_callcenter_internal_name(got), "Support");
    sb_callcenter_free(got);
}

/* The server's check finds views through its thread's view cache (store/view.c): a view
 * served again within one snapshot is the same, each Call Center's members get their own,
 * and the next write's snapshot serves the changed view, never the cached one. */
static void the_check_serves_the_view_a_write_changed(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_sfid_t support = sb_test_cc(fx->store, "acme", "Support");
    sb_sfid_t sales = sb_test_cc(fx->store, "acme", "Sales");
    sb_test_user(fx->store, "acme", 1);
    sb_test_user(fx->store, "acme", 2);
    assert_rc(
        sb_store_member_add(fx->store, "acme", support.s, "005000000000001", false, NULL, &err), 0,
        err);
    assert_rc(sb_store_member_add(fx->store, "acme", sales.s, "005000000000002", false, NULL, &err),
              0, err);
    sb_softphone_answer_t a;
    for (int round = 0; round < 3; round++) {
        assert_rc(sb_store_softphone_check(fx->store, "acme", "005000000000001", &a, &err), 0, err);
        assert_string_equal(a.view.cc_id, support.s);
        assert_int_equal(a.view.width, 300);
        sb_softphone_answer_destroy(&a);
        assert_rc(sb_store_softphone_check(fx->store, "acme", "005000000000002", &a, &err), 0, err);
        assert_string_equal(a.view.cc_id, sales.s);
        sb_softphone_answer_destroy(&a);
    }
    sb_cc_change_t wider = {"reqGeneralInfo", "reqSoftphoneWidth", "640"};
    assert_rc(sb_store_cc_update(fx->store, "acme", support.s, &wider, 1, NULL, NULL, &err), 0,
              err);
    assert_rc(sb_store_softphone_check(fx->store, "acme", "005000000000001", &a, &err), 0, err);
    assert_int_equal(a.view.width, 640);
    sb_softphone_answer_destroy(&a);
    assert_rc(sb_store_softphone_check(fx->store, "acme", "005000000000002", &a, &err), 0, err);
    assert_string_equal(a.view.cc_id, sales.s);
    assert_int_equal(a.view.width, 300);
    sb_softphone_answer_destroy(&a);
}

static void clone_copies_the_definition_not_the_members(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_sfid_t id = sb_test_cc(fx->store, "acme", "Support");
    sb_test_user(fx->store, "acme", 1);
    assert_int_equal(
        sb_store_member_add(fx->store, "acme", id.s, "005000000000001", false, NULL, &err), 0);
    sb_callcenter_t *copy, *orig;
    assert_int_equal(
        sb_store_cc_clone(fx->store, "acme", id.s, "SupportEU", "Support EU", &copy, &err), 0);
    assert_string_not_equal(copy->id.s, id.s);
    assert_string_equal(sb_callcenter_internal_name(copy), "SupportEU");
    assert_string_equal(sb_callcenter_display_name(copy), "Support EU");
    assert_int_equal(sb_store_cc_get(fx->store, "acme", id.s, &orig, &err), 0);
    assert_int_equal(copy->n_sections, orig->n_sections);
    assert_string_equal(sb_callcenter_value(copy, NULL, "reqAdapterUrl"),
                        sb_callcenter_value(orig, NULL, "reqAdapterUrl"));
    sb_sfid_t *members;
    size_t n;
    bool more;
    uint64_t total;
    assert_int_equal(sb_store_member_list(fx->store, "acme", copy->id.s, NULL, 10, &members, &n,
                                          &more, &total, &err),
                     0);
    assert_int_equal(total, 0);
    sb_callcenter_free(copy);
    sb_callcenter_free(orig);
    /* A clone's name follows the same rules. */
    assert_rc(sb_store_cc_clone(fx->store, "acme", id.s, "supporteu", NULL, &copy, &err),
              SB_E_INTERNAL_NAME_TAKEN, err);
    assert_rc(sb_store_cc_clone(fx->store, "acme", id.s, "Bad Name", NULL, &copy, &err),
              SB_E_INVALID_INTERNAL_NAME, err);
    assert_rc(sb_store_cc_clone(fx->store, "acme", id.s, NULL, NULL, &copy, &err),
              SB_E_MISSING_FIELD, err);
    assert_rc(sb_store_cc_clone(fx->store, "globex", id.s, "Mine", NULL, &copy, &err), -ENOENT,
              err);
}

static void delete_refused_while_it_has_members(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_sfid_t id = sb_test_cc(fx->store, "acme", "Support");
    sb_test_user(fx->store, "acme", 1);
    sb_test_user(fx->store, "acme", 2);
    sb_member_assignment_t rows[] = {{"005000000000001", id.s}, {"005000000000002", id.s}};
    assert_int_equal(sb_store_member_add_bulk(fx->store, "acme", rows, 2, false, &err), 0);
    assert_rc(sb_store_cc_delete(fx->store, "acme", id.s, false, &err), SB_E_CALLCENTER_HAS_MEMBERS,
              err);
    assert_non_null(strstr(err.message, "2 member"));
    assert_rc(sb_store_cc_delete(fx->store, "globex", id.s, true, &err), -ENOENT, err);
    assert_int_equal(sb_store_cc_delete(fx->store, "acme", id.s, true, &err), 0);
    sb_sfid_t cc;
    assert_rc(sb_store_member_lookup(fx->store, "acme", "005000000000001", &cc, &err),
              SB_E_NOT_A_MEMBER, err);
    sb_store_stats_t stats;
    assert_int_equal(sb_store_stats(fx->store, &stats, &err), 0);
    assert_int_equal(stats.members, 0);
    assert_int_equal(stats.users, 2); /* users stay */
    /* The name is free again; the new Call Center gets a new id. */
    sb_sfid_t again = sb_test_cc(fx->store, "acme", "Support");
    assert_string_not_equal(again.s, id.s);
    assert_int_equal(sb_store_cc_delete(fx->store, "acme", again.s, false, &err), 0);
    assert_rc(sb_store_cc_delete(fx->store, "acme", again.s, false, &err), -ENOENT, err);
}

/* The time in an id minted by the store (sb_sfid_from_time): its 7 base-62 digits after the prefix.
 */
static uint64_t id_ms(const sb_sfid_t *id)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t v = 0;
    for (int i = 3; i < 10; i++)
        v = v * 62 + (uint64_t)(strchr(digits, id->s[i]) - digits);
    return v;
}

/*
 * Issue 12 item 9: ids came from one counter shared by the orgs, so that the
 * difference of two of one org's ids counted the others' Call Centers. Now
 * the body is the creation time and random bits: the same history in two
 * stores gives other ids, and what globex does between two of acme's
 * creations changes nothing a tenant can read.
 */
static void ids_tell_nothing_of_other_orgs(void **state)
{
    sb_test_fixture_t *fx = *state;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    uint64_t before = (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
    sb_sfid_t first = sb_test_cc(fx->store, "acme", "First");
    for (int i = 0; i < 30; i++) {
        char name[16];
        snprintf(name, sizeof(name), "Theirs%d", i);
        sb_test_cc(fx->store, "globex", name);
    }
    sb_sfid_t second = sb_test_cc(fx->store, "acme", "Second");
    clock_gettime(CLOCK_REALTIME, &t);
    uint64_t after = (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
    /* No counter: neither id is one a counter (old or new) would give. */
    for (uint64_t n = 0; n < 1000; n++) {
        sb_sfid_t counted;
        sb_sfid_from_counter("04v", n, &counted);
        assert_string_not_equal(first.s, counted.s);
        assert_string_not_equal(second.s, counted.s);
    }
    /* The body is the creation time (to the millisecond, bounded by the
     * clock around the calls), and the second sorts after the first. */
    assert_true(id_ms(&first) >= before && id_ms(&first) <= after);
    assert_true(id_ms(&second) >= id_ms(&first) && id_ms(&second) <= after + 1);
    assert_true(strcmp(first.s, second.s) < 0);
    /* The same history in another store mints other ids: the rest is random. */
    char *dir = sb_test_tmpdir();
    sb_store_t *other = sb_test_open(dir);
    sb_err_t err;
    assert_int_equal(sb_store_org_create(other, "acme", NULL, &err), 0);
    sb_sfid_t again = sb_test_cc(other, "acme", "First");
    assert_string_not_equal(again.s, first.s);
    sb_store_close(other);
    sb_test_rmdir(dir);
}

/* Ids of one org keep their creation order inside one millisecond too. */
static void ids_of_one_org_sort_in_creation_order(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_sfid_t previous = {{0}};
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof(name), "Quick%d", i);
        sb_sfid_t id = sb_test_cc(fx->store, "acme", name);
        assert_true(strcmp(previous.s, id.s) < 0);
        previous = id;
    }
}

/* The value of an id's last two base-62 digits: its id space (a shard's number). */
static unsigned id_space_of(const sb_sfid_t *id)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    return (unsigned)((strchr(digits, id->s[13]) - digits) * 62 +
                      (strchr(digits, id->s[14]) - digits));
}

/*
 * Issue 19: two shards of a cluster mint ids in their own spaces, so that an
 * org moved between them (or any two of their ids) never collide: every id
 * minted with an id space carries the shard's number in its last two random
 * digits, also the ids stepped after the org's last one within a
 * millisecond, which still sort in creation order.
 */
static void ids_carry_the_shards_number(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    assert_int_equal(sb_store_set_id_space(fx->store, SB_STORE_ID_SPACE_MAX + 1), -EINVAL);
    assert_int_equal(sb_store_set_id_space(fx->store, 1234), 0);
    sb_sfid_t previous = {{0}};
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof(name), "Space%d", i);
        sb_sfid_t id = sb_test_cc(fx->store, "acme", name);
        assert_int_equal(id_space_of(&id), 1234);
        assert_true(strcmp(previous.s, id.s) < 0);
        previous = id;
    }
    /* Another shard, the same org and the same instant: its own space. */
    char *dir = sb_test_tmpdir();
    sb_store_t *other = sb_test_open(dir);
    assert_int_equal(sb_store_set_id_space(other, 3843), 0);
    assert_int_equal(sb_store_org_create(other, "acme", NULL, &err), 0);
    sb_sfid_t theirs = sb_test_cc(other, "acme", "Space0");
    assert_int_equal(id_space_of(&theirs), 3843);
    sb_store_close(other);
    sb_test_rmdir(dir);
    /* Back to standalone: the id space is not forced (random digits). */
    assert_int_equal(sb_store_set_id_space(fx->store, 0), 0);
    int in_space = 0;
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof(name), "Free%d", i);
        sb_sfid_t id = sb_test_cc(fx->store, "globex", name);
        in_space += id_space_of(&id) == 1234;
    }
    assert_true(in_space < 8);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sb_test_store_setup, sb_test_store_teardown)
    const struct CMUnitTest tests[] = {
        T(create_assigns_ids_and_keeps_the_definition),
        T(create_refuses_what_breaks_a_rule),
        T(get_by_name_and_tenant_isolation),
        T(list_pages_with_member_counts),
        T(update_changes_values_only),
        T(the_check_serves_the_view_a_write_changed),
        T(clone_copies_the_definition_not_the_members),
        T(delete_refused_while_it_has_members),
        T(ids_tell_nothing_of_other_orgs),
        T(ids_of_one_org_sort_in_creation_order),
        T(ids_carry_the_shards_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
