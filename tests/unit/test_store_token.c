#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hash_of(unsigned n, uint8_t hash[SB_TOKEN_HASH_BYTES])
{
    memset(hash, 0, SB_TOKEN_HASH_BYTES);
    memcpy(hash, &n, sizeof(n));
}

static void put(sb_store_t *st, unsigned n, const char *org, sb_role_t role)
{
    uint8_t hash[SB_TOKEN_HASH_BYTES];
    hash_of(n, hash);
    sb_token_record_t rec = {.role = role, .created_ms = n};
    snprintf(rec.id, sizeof(rec.id), "tok%u", n);
    snprintf(rec.org, sizeof(rec.org), "%s", org);
    sb_err_t err;
    assert_rc(sb_store_token_put(st, hash, &rec, &err), 0, err);
}

static size_t count(sb_store_t *st)
{
    sb_token_record_t *rows;
    size_t n;
    assert_int_equal(sb_store_token_list(st, &rows, &n, NULL), 0);
    free(rows);
    return n;
}

static void put_find_revoke(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    put(fx->store, 1, "acme", SB_ROLE_ORG_ADMIN);
    put(fx->store, 2, "", SB_ROLE_ADMIN);
    uint8_t hash[SB_TOKEN_HASH_BYTES];
    hash_of(1, hash);
    sb_token_record_t rec;
    assert_int_equal(sb_store_token_find(fx->store, hash, &rec, &err), 0);
    assert_string_equal(rec.org, "acme");
    assert_int_equal(rec.role, SB_ROLE_ORG_ADMIN);
    hash_of(3, hash);
    assert_rc(sb_store_token_find(fx->store, hash, &rec, &err), -ENOENT, err);
    /* An org-scoped token needs its org. */
    sb_token_record_t orphan = {.id = "x", .org = "nobody", .role = SB_ROLE_READ_ONLY};
    assert_rc(sb_store_token_put(fx->store, hash, &orphan, &err), -ENOENT, err);
    sb_token_record_t bad_role = {.id = "x", .org = "acme", .role = 9};
    assert_rc(sb_store_token_put(fx->store, hash, &bad_role, &err), -EINVAL, err);
    assert_int_equal(sb_store_token_revoke(fx->store, "tok1", &err), 0);
    assert_rc(sb_store_token_revoke(fx->store, "tok1", &err), -ENOENT, err);
    assert_int_equal(count(fx->store), 1);
}

static void revoking_a_role_and_deleting_an_org(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    /* Adjacent records, so that deleting under a cursor must not skip any. */
    for (unsigned i = 1; i <= 6; i++)
        put(fx->store, i, "", SB_ROLE_ADMIN);
    for (unsigned i = 7; i <= 12; i++)
        put(fx->store, i, i % 2 ? "acme" : "globex", SB_ROLE_READ_ONLY);
    uint8_t keep[SB_TOKEN_HASH_BYTES];
    hash_of(4, keep);
    assert_int_equal(sb_store_token_revoke_role(fx->store, SB_ROLE_ADMIN, keep, &err), 0);
    assert_int_equal(count(fx->store), 7);
    sb_token_record_t rec;
    assert_int_equal(sb_store_token_find(fx->store, keep, &rec, &err), 0);
    /* Deleting an org takes its tokens with it, and no other org's. */
    assert_int_equal(sb_store_org_delete(fx->store, "acme", true, &err), 0);
    assert_int_equal(count(fx->store), 4);
    uint8_t hash[SB_TOKEN_HASH_BYTES];
    hash_of(8, hash);
    assert_int_equal(sb_store_token_find(fx->store, hash, &rec, &err), 0);
    assert_string_equal(rec.org, "globex");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, sb_test_store_setup, sb_test_store_teardown)
    const struct CMUnitTest tests[] = {
        T(put_find_revoke),
        T(revoking_a_role_and_deleting_an_org),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
