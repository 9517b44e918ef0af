/*
 * Schema 5 (store/org_ids.c): org numbers and the compact membership key.
 *
 * The migration test builds a schema 2 directory the way schema 2 wrote it
 * (no checksums, no change log, memberships keyed "org \0 user id") with a
 * million members written by raw LMDB puts, opens it with this build, and
 * counts the members before and after, comparing a sample one by one.
 * SB_TEST_MIGRATION_MEMBERS sets how many (100,000 by default under the
 * sanitizers, which are ten times slower).
 */
#include "sb_test.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record_codec.h"
#include "softphone_check.h"
#include "store_internal.h"

#ifndef SB_TEST_MIGRATION_DEFAULT
#define SB_TEST_MIGRATION_DEFAULT 1000000
#endif

static MDB_env *raw_open(const char *dir, MDB_txn **txn)
{
    MDB_env *env;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_set_mapsize(env, (size_t)8 << 30), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOSYNC, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, txn), 0);
    return env;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Member i (2 and up) of the bulk: its id, minted as the store did before issue 12. */
static void bulk_user(uint64_t i, sb_sfid_t *id)
{
    sb_sfid_from_counter(SB_SFID_PREFIX_USER, i, id);
}

/* Every value of every logged database without its checksum, behind the store's back. */
static void strip_checksums(MDB_txn *txn)
{
    static const char *const dbs[] = {"orgs",       "callcenters", "cc_names", "users",
                                      "user_cc",    "cc_members",  "tokens",   "layouts",
                                      "layout_of",  "views",       "contacts", "phones",
                                      "voicecalls", "call_keys",   "rules",    "changes_org"};
    for (size_t d = 0; d < sizeof(dbs) / sizeof(dbs[0]); d++) {
        MDB_dbi dbi;
        unsigned flags;
        assert_int_equal(mdb_dbi_open(txn, dbs[d], 0, &dbi), 0);
        assert_int_equal(mdb_dbi_flags(txn, dbi, &flags), 0);
        /* Read out, then written back: few records (before the bulk). */
        struct row {
            unsigned char k[512], v[4096];
            size_t kl, vl;
        } *rows = NULL;
        size_t n = 0;
        MDB_cursor *cur;
        MDB_val k, v;
        assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            rows = realloc(rows, (n + 1) * sizeof(*rows));
            assert_non_null(rows);
            assert_true(k.mv_size <= sizeof(rows[n].k) && v.mv_size <= sizeof(rows[n].v));
            assert_true(v.mv_size >= SB_VALUE_SUM_BYTES);
            memcpy(rows[n].k, k.mv_data, k.mv_size);
            memcpy(rows[n].v, v.mv_data, v.mv_size - SB_VALUE_SUM_BYTES);
            rows[n].kl = k.mv_size;
            rows[n++].vl = v.mv_size - SB_VALUE_SUM_BYTES;
        }
        mdb_cursor_close(cur);
        assert_int_equal(mdb_drop(txn, dbi, 0), 0);
        for (size_t i = 0; i < n; i++) {
            MDB_val rk = {rows[i].kl, rows[i].k}, rv = {rows[i].vl, rows[i].v};
            assert_int_equal(mdb_put(txn, dbi, &rk, &rv, 0), 0);
        }
        free(rows);
    }
}

/* "org \0 part" (the store's own sb__key) as an MDB_val over key. */
static MDB_val okey(sb_key_t *key, const char *org, const char *part)
{
    assert_int_equal(sb__key(key, org, part), 0);
    return (MDB_val){key->len, key->buf};
}

static void a_schema_2_directory_of_many_members_is_migrated(void **state)
{
    (void)state;
    uint64_t n = SB_TEST_MIGRATION_DEFAULT;
    const char *given = getenv("SB_TEST_MIGRATION_MEMBERS");
    if (given != NULL)
        n = strtoull(given, NULL, 10);
    assert_true(n >= 10);
    char *dir = sb_test_tmpdir();
    sb_err_t err;

    /* Two orgs with a Call Center each and one member (so that each has
     * its view), written by this build; then taken back to schema 2. */
    sb_store_t *st = sb_test_open(dir);
    const char *orgs[2] = {"acme", "beta"};
    sb_sfid_t ccs[2];
    for (int o = 0; o < 2; o++) {
        assert_rc(sb_store_org_create(st, orgs[o], NULL, &err), 0, err);
        ccs[o] = sb_test_cc(st, orgs[o], "Support");
        sb_test_user(st, orgs[o], 1);
        assert_rc(sb_store_member_add(st, orgs[o], ccs[o].s, "005000000000001", false, NULL, &err),
                  0, err);
    }
    sb_store_close(st);
    sb_test_downgrade_to_schema_4(dir);
    MDB_txn *txn;
    MDB_env *env = raw_open(dir, &txn);
    strip_checksums(txn);
    MDB_dbi meta, changes, users, user_cc, cc_members;
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "changes", 0, &changes), 0);
    assert_int_equal(mdb_drop(txn, changes, 0), 0);
    MDB_val lk = {strlen("changes_last"), "changes_last"};
    mdb_del(txn, meta, &lk, NULL);
    uint32_t version = 2;
    MDB_val vk = {strlen("schema_version"), "schema_version"}, vv = {sizeof(version), &version};
    assert_int_equal(mdb_put(txn, meta, &vk, &vv, 0), 0);

    /* The bulk: n more members, half in each org, as schema 2 keyed them. */
    double t0 = now_s();
    assert_int_equal(mdb_dbi_open(txn, "users", 0, &users), 0);
    assert_int_equal(mdb_dbi_open(txn, "user_cc", 0, &user_cc), 0);
    assert_int_equal(mdb_dbi_open(txn, "cc_members", 0, &cc_members), 0);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    for (uint64_t i = 2; i < n + 2; i++) {
        int o = i < n / 2 + 2 ? 0 : 1; /* in key order: acme's, then beta's */
        sb_user_t u = {.profile = "Agent"};
        bulk_user(i, &u.id);
        snprintf(u.name, sizeof(u.name), "User %llu", (unsigned long long)i);
        msgpack_sbuffer_clear(&buf);
        assert_int_equal(sb_codec_encode_user(&u, &buf), 0);
        sb_key_t kb;
        char member[SB_SFID_LEN + 5];
        MDB_val k = okey(&kb, orgs[o], u.id.s), v = {buf.size, buf.data};
        assert_int_equal(mdb_put(txn, users, &k, &v, 0), 0);
        memcpy(member, ccs[o].s, SB_SFID_LEN);
        memcpy(member + SB_SFID_LEN, "Agent", 5);
        v = (MDB_val){sizeof(member), member};
        assert_int_equal(mdb_put(txn, user_cc, &k, &v, 0), 0);
        sb_key_t cb;
        MDB_val ck = okey(&cb, orgs[o], ccs[o].s), cv = {SB_SFID_LEN, u.id.s};
        assert_int_equal(mdb_put(txn, cc_members, &ck, &cv, 0), 0);
    }
    msgpack_sbuffer_destroy(&buf);
    MDB_stat before;
    assert_int_equal(mdb_stat(txn, user_cc, &before), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(before.ms_entries, n + 2);
    double t1 = now_s();

    /* Opened by this build: schema 2 to 3, 3 to 4 (checksums), 4 to 5. */
    sb_store_opts_t opts = {.dir = dir, .durability = SB_DURABILITY_NONE};
    assert_rc(sb_store_open(&opts, &st, &err), 0, err);
    double t2 = now_s();
    print_message("# %llu members: schema 2 written in %.1f s, migrated to 5 in %.1f s\n",
                  (unsigned long long)n + 2, t1 - t0, t2 - t1);
    sb_store_stats_t stats;
    assert_rc(sb_store_stats(st, &stats, &err), 0, err);
    assert_int_equal(stats.schema_version, 5);
    assert_int_equal(stats.members, n + 2);

    /* Every key is the new one, and each org's count is its own. */
    MDB_txn *rt;
    assert_int_equal(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &rt), 0);
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t per_org[3] = {0};
    assert_int_equal(mdb_cursor_open(rt, st->user_cc, &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint32_t num;
        sb_sfid_t user;
        assert_int_equal(sb_member_key_parse(k.mv_data, k.mv_size, &num, &user), 0);
        assert_true(num >= 1 && num <= 2);
        per_org[num]++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(rt);
    /* Numbered in the order of the org ids: acme 1, beta 2. */
    assert_int_equal(per_org[1], 1 + n / 2);
    assert_int_equal(per_org[2], n + 2 - (1 + n / 2));

    /* A sample, one by one: the Call Center, the list's total, the check. */
    for (uint64_t i = 2; i < n + 2; i += n / 97 + 1) {
        int o = i < n / 2 + 2 ? 0 : 1;
        sb_sfid_t id, cc;
        bulk_user(i, &id);
        assert_rc(sb_store_member_lookup(st, orgs[o], id.s, &cc, &err), 0, err);
        assert_string_equal(cc.s, ccs[o].s);
        assert_rc(sb_store_member_lookup(st, orgs[1 - o], id.s, &cc, &err), -ENOENT, err);
        sb_softphone_answer_t a;
        assert_rc(sb_store_softphone_check(st, orgs[o], id.s, &a, &err), 0, err);
        assert_int_equal(a.reason, SB_SOFTPHONE_OK);
        assert_string_equal(a.profile, "Agent");
        sb_softphone_answer_destroy(&a);
    }
    sb_sfid_t *rows;
    size_t got;
    bool more;
    uint64_t total;
    assert_rc(
        sb_store_member_list(st, "acme", ccs[0].s, NULL, 10, &rows, &got, &more, &total, &err), 0,
        err);
    assert_int_equal(total, 1 + n / 2);
    free(rows);
    /* The writes that follow use the new keys: a move and a remove. */
    sb_sfid_t last;
    bulk_user(n + 1, &last);
    assert_rc(sb_store_member_remove(st, "beta", ccs[1].s, last.s, &err), 0, err);
    assert_rc(sb_store_stats(st, &stats, &err), 0, err);
    assert_int_equal(stats.members, n + 1);
    if (n <= 200000) { /* verify reads every record: seconds a million */
        sb_verify_report_t r;
        assert_rc(sb_store_verify(st, 0, &r, &err), 0, err);
        for (size_t i = 0; i < r.n; i++)
            print_message("# %s %s: %s\n", r.problems[i].db, r.problems[i].key,
                          r.problems[i].problem);
        assert_int_equal(r.total, 0);
        sb_verify_report_destroy(&r);
    }
    sb_store_close(st);
    sb_test_rmdir(dir);
}

/* Numbers are given on create, dropped on delete and never given again;
 * a deleted org's memberships go with it. */
static void org_numbers_are_never_reused(void **state)
{
    sb_test_fixture_t *fx = *state; /* acme and globex */
    sb_err_t err;
    MDB_txn *txn;
    uint32_t acme, globex, again;
    assert_int_equal(mdb_txn_begin(fx->store->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sb__org_num(fx->store, txn, "acme", &acme), 0);
    assert_int_equal(sb__org_num(fx->store, txn, "globex", &globex), 0);
    mdb_txn_abort(txn);
    assert_true(acme != 0 && globex != 0 && acme != globex);

    sb_sfid_t cc = sb_test_cc(fx->store, "globex", "Support");
    sb_test_user(fx->store, "globex", 7);
    assert_rc(sb_store_member_add(fx->store, "globex", cc.s, "005000000000007", false, NULL, &err),
              0, err);
    sb_softphone_answer_t before; /* the server's memo now holds globex's first number */
    assert_rc(sb_store_softphone_check(fx->store, "globex", "005000000000007", &before, &err), 0,
              err);
    assert_int_equal(before.reason, SB_SOFTPHONE_OK);
    sb_softphone_answer_destroy(&before);
    assert_rc(sb_store_org_delete(fx->store, "globex", true, &err), 0, err);
    assert_rc(sb_store_org_create(fx->store, "globex", NULL, &err), 0, err);
    assert_int_equal(mdb_txn_begin(fx->store->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sb__org_num(fx->store, txn, "globex", &again), 0);
    assert_true(again > globex && again > acme); /* a new number */
    /* Nothing of the old globex is left under its old number. */
    sb_key_t prefix;
    sb_org_num_put(globex, (uint8_t *)prefix.buf);
    MDB_cursor *cur;
    MDB_val k = {SB_ORG_NUM_LEN, prefix.buf}, v;
    assert_int_equal(mdb_cursor_open(txn, fx->store->user_cc, &cur), 0);
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    assert_true(rc == MDB_NOTFOUND || memcmp(k.mv_data, prefix.buf, SB_ORG_NUM_LEN) != 0);
    mdb_cursor_close(cur);
    /* The prefix another helper's code asks for: the number in user_cc,
     * "org \0" elsewhere, none where no prefix is one org's. */
    assert_int_equal(sb__org_prefix(fx->store, txn, fx->store->user_cc, "globex", &prefix), 0);
    assert_int_equal(prefix.len, SB_ORG_NUM_LEN);
    assert_int_equal(sb_org_num_read((const uint8_t *)prefix.buf), again);
    assert_int_equal(sb__org_prefix(fx->store, txn, fx->store->users, "globex", &prefix), 0);
    assert_int_equal(prefix.len, 7);
    assert_memory_equal(prefix.buf, "globex", 7);
    assert_int_equal(sb__org_prefix(fx->store, txn, fx->store->orgs, "globex", &prefix),
                     SB_ORG_KEYS_EXACT);
    assert_int_equal(sb__org_prefix(fx->store, txn, fx->store->org_ids, "globex", &prefix),
                     -EINVAL);
    assert_int_equal(sb__org_prefix(fx->store, txn, fx->store->user_cc, "nobody", &prefix),
                     -ENOENT);
    mdb_txn_abort(txn);
    /* The old member is no member of the new org. */
    sb_sfid_t where;
    assert_int_equal(sb_store_member_lookup(fx->store, "globex", "005000000000007", &where, &err),
                     -ENOENT);
    /* The server's check keeps the numbers its snapshot found (view.c): the
     * new org's member is found under the new number, not the old. */
    sb_softphone_answer_t a;
    assert_rc(sb_store_softphone_check(fx->store, "globex", "005000000000007", &a, &err), 0, err);
    assert_int_equal(a.reason, SB_SOFTPHONE_UNKNOWN_USER);
    sb_softphone_answer_destroy(&a);
    sb_sfid_t cc2 = sb_test_cc(fx->store, "globex", "Sales");
    sb_test_user(fx->store, "globex", 7);
    assert_rc(sb_store_member_add(fx->store, "globex", cc2.s, "005000000000007", false, NULL, &err),
              0, err);
    assert_rc(sb_store_softphone_check(fx->store, "globex", "005000000000007", &a, &err), 0, err);
    assert_int_equal(a.reason, SB_SOFTPHONE_OK);
    assert_string_equal(a.view.cc_id, cc2.s);
    sb_softphone_answer_destroy(&a);
}

/* A change logged before the migration holds an old membership key: a
 * replica refuses it, rather than write it beside the new keys. */
static void an_old_membership_key_is_not_applied(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    char key[64];
    int klen = snprintf(key, sizeof(key), "acme%c005000000000001AAA", '\0');
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    /* [format, seq, time, [{changes: [[op, db, key, value]]}]] as changes.c logs. */
    uint64_t first, last;
    assert_rc(sb_store_changes_range(fx->store, &first, &last, &err), 0, err);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint8(&pk, SB_CHANGES_FORMAT);
    msgpack_pack_fix_uint64(&pk, last + 1);
    msgpack_pack_fix_int64(&pk, 1764547200000);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "changes", 7);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_str_with_body(&pk, "put", 3);
    msgpack_pack_str_with_body(&pk, "user_cc", 7);
    msgpack_pack_bin_with_body(&pk, key, (size_t)klen);
    msgpack_pack_bin_with_body(&pk, "04v000000000001AAAAgent", 23);
    assert_int_equal(sb_store_changes_apply(fx->store, buf.data, buf.size, &err),
                     SB_E_CHANGE_OF_OLDER_SCHEMA);
    assert_non_null(strstr(err.message, "schema 4"));
    msgpack_sbuffer_destroy(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_schema_2_directory_of_many_members_is_migrated),
        cmocka_unit_test_setup_teardown(org_numbers_are_never_reused, sb_test_store_setup,
                                        sb_test_store_teardown),
        cmocka_unit_test_setup_teardown(an_old_membership_key_is_not_applied, sb_test_store_setup,
                                        sb_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
