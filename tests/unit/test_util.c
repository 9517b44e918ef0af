#include "sb_test.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "softphone_check.h"
#include "store_internal.h"

char *sb_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/sbtest.XXXXXX", base && base[0] ? base : "/tmp");
    if (mkdtemp(path) == NULL)
        fail_msg("mkdtemp(%s) failed", path);
    return strdup(path);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void sb_test_rmdir(char *dir)
{
    if (dir == NULL)
        return;
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

sb_store_t *sb_test_open(const char *dir)
{
    sb_store_opts_t opts = {.dir = dir, .durability = SB_DURABILITY_NONE};
    sb_store_t *store = NULL;
    sb_err_t err;
    int rc = sb_store_open(&opts, &store, &err);
    if (rc != 0)
        fail_msg("sb_store_open(%s): %s", dir, err.message);
    return store;
}

int sb_test_store_setup(void **state)
{
    sb_test_fixture_t *fx = calloc(1, sizeof(*fx));
    fx->dir = sb_test_tmpdir();
    fx->store = sb_test_open(fx->dir);
    sb_err_t err;
    if (sb_store_org_create(fx->store, "acme", "Acme", &err) != 0 ||
        sb_store_org_create(fx->store, "globex", "Globex", &err) != 0)
        fail_msg("org create: %s", err.message);
    *state = fx;
    return 0;
}

int sb_test_store_teardown(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_store_close(fx->store);
    sb_test_rmdir(fx->dir);
    free(fx);
    return 0;
}

sb_sfid_t sb_test_cc(sb_store_t *store, const char *org, const char *name)
{
    sb_cc_fields_t f = {
        .internal_name = name,
        .display_name = name,
        .adapter_url = "https://cti.example.com/softphone",
        .softphone_height = 400,
        .softphone_width = 300,
    };
    sb_callcenter_t *def = NULL, *cc = NULL;
    sb_err_t err;
    if (sb_callcenter_from_fields(&f, &def, &err) != 0 ||
        sb_store_cc_create(store, org, def, &cc, &err) != 0)
        fail_msg("Call Center %s: %s", name, err.message);
    sb_sfid_t id = cc->id;
    sb_callcenter_free(def);
    sb_callcenter_free(cc);
    return id;
}

void sb_test_user_id(unsigned n, char out[16])
{
    snprintf(out, 16, "005%012u", n);
}

void sb_test_user(sb_store_t *store, const char *org, unsigned n)
{
    sb_user_t user = {.profile = "Agent"};
    sb_test_user_id(n, user.id.s);
    snprintf(user.name, sizeof(user.name), "User %u", n);
    sb_err_t err;
    if (sb_store_user_upsert(store, org, &user, &err) != 0)
        fail_msg("user %u: %s", n, err.message);
}

void sb_test_downgrade_to_schema_4(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi user_cc, org_ids, meta;
    MDB_cursor *cur;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_set_mapsize(env, (size_t)8 << 30), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "user_cc", 0, &user_cc), 0);
    assert_int_equal(mdb_dbi_open(txn, "org_ids", 0, &org_ids), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_cursor_open(txn, user_cc, &cur), 0);
    /* The new keys sort before the old ones (their first byte is below any
     * org id's): each is taken from the front until an old key is first. */
    MDB_val k, v;
    while (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size == SB_MEMBER_KEY_LEN) {
        uint32_t num;
        sb_sfid_t user;
        assert_int_equal(sb_member_key_parse(k.mv_data, k.mv_size, &num, &user), 0);
        uint8_t rk[1 + SB_ORG_NUM_LEN] = {0};
        sb_org_num_put(num, rk + 1);
        MDB_val rkey = {sizeof(rk), rk}, org;
        assert_int_equal(mdb_get(txn, org_ids, &rkey, &org), 0);
        sb_key_t old;
        char name[SB_ORG_ID_MAX + 1];
        assert_true(org.mv_size > SB_VALUE_SUM_BYTES &&
                    org.mv_size - SB_VALUE_SUM_BYTES <= SB_ORG_ID_MAX);
        memcpy(name, org.mv_data, org.mv_size - SB_VALUE_SUM_BYTES);
        name[org.mv_size - SB_VALUE_SUM_BYTES] = '\0';
        assert_int_equal(sb__key(&old, name, user.s), 0);
        unsigned char value[512];
        assert_true(v.mv_size >= SB_VALUE_SUM_BYTES && v.mv_size <= sizeof(value));
        size_t len = v.mv_size - SB_VALUE_SUM_BYTES;
        memcpy(value, v.mv_data, len);
        MDB_val ok = {old.len, old.buf}, ov = {len + SB_VALUE_SUM_BYTES, value};
        sb__value_seal(&ok, value, len, value + len);
        assert_int_equal(mdb_cursor_del(cur, 0), 0);
        assert_int_equal(mdb_put(txn, user_cc, &ok, &ov, 0), 0);
    }
    mdb_cursor_close(cur);
    assert_int_equal(mdb_drop(txn, org_ids, 0), 0); /* emptied, kept: meta lists it */
    uint32_t version = 4;
    MDB_val sk = {strlen("schema_version"), "schema_version"}, sv = {sizeof(version), &version};
    assert_int_equal(mdb_put(txn, meta, &sk, &sv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}
