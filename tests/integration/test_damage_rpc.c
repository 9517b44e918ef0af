/*
 * A damaged record, as a client of a real server meets it: softphone.check
 * and user.get answer CORRUPT naming the record (database and key), the
 * records beside it are served, and the server goes on. The damage is made
 * behind the server's back, in its running data file, by another process's
 * LMDB write of the record's bytes with one bit flipped.
 */
#include "sb_test.h"

#include <jansson.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "server_harness.h"
#include "softphone_check.h"
#include "store.h"

/* Flips one bit of the value of `key` in database `db` of `dir`. */
static void flip(const char *dir, const char *db, const char *org, const char *id)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 24), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    char key[64];
    int klen = snprintf(key, sizeof(key), "%s%c%s", org, '\0', id);
    MDB_val k = {(size_t)klen, key}, v;
    if (strcmp(db, "user_cc") == 0) { /* schema 5: (org number, user) */
        MDB_dbi org_ids;
        MDB_val ok = {strlen(org), (void *)org}, num;
        assert_int_equal(mdb_dbi_open(txn, "org_ids", 0, &org_ids), 0);
        assert_int_equal(mdb_get(txn, org_ids, &ok, &num), 0);
        sb_sfid_t user;
        memcpy(user.s, id, sizeof(user.s));
        k.mv_size = sb_member_key(sb_org_num_read(num.mv_data), &user, (uint8_t *)key);
        assert_int_equal(k.mv_size, SB_MEMBER_KEY_LEN);
    }
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    unsigned char bytes[512];
    assert_true(v.mv_size <= sizeof(bytes));
    memcpy(bytes, v.mv_data, v.mv_size);
    bytes[2] ^= 0x01;
    MDB_val nv = {v.mv_size, bytes};
    assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* The call's error name, and its message into msg. */
static const char *call(sb_client_t *c, const char *method, json_t *args, char *msg, size_t cap)
{
    static char name[64];
    msgpack_unpacked r;
    sb_err_t err;
    sb_err_clear(&err);
    int rc = sb_client_call_json(c, method, args, &r, &err);
    snprintf(msg, cap, "%s", err.message);
    if (rc == 0) {
        msgpack_unpacked_destroy(&r);
        snprintf(name, sizeof(name), "OK");
    } else {
        snprintf(name, sizeof(name), "%s", rc == SB_CLIENT_REFUSED ? c->error_name : "CLOSED");
    }
    return name;
}

static void a_damaged_record_is_corrupt_by_name_over_the_socket(void **state)
{
    (void)state;
    /* Org acme, Call Center Support, users 1 to 3, members 1 and 2. */
    char *dir = sb_test_tmpdir();
    sb_store_t *st = sb_test_open(dir);
    sb_err_t err;
    assert_int_equal(sb_store_org_create(st, "acme", "Acme", &err), 0);
    sb_sfid_t cc = sb_test_cc(st, "acme", "Support");
    for (unsigned u = 1; u <= 3; u++) {
        sb_test_user(st, "acme", u);
        char uid[16];
        sb_test_user_id(u, uid);
        if (u <= 2)
            assert_int_equal(sb_store_member_add(st, "acme", cc.s, uid, false, NULL, &err), 0);
    }
    sb_store_close(st);

    sb_harness_t h;
    memset(&h, 0, sizeof(h));
    h.dir = dir; /* the harness's to remove */
    sb_harness_start(&h, h.dir, NULL);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    char msg[1024];
    assert_string_equal(call(&c, "softphone.check",
                             json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000001"), msg,
                             sizeof(msg)),
                        "OK");

    /* User 1's membership and user 3's record, damaged while it runs. */
    flip(h.dir, "user_cc", "acme", "005000000000001AAA");
    flip(h.dir, "users", "acme", "005000000000003AAA");
    assert_string_equal(call(&c, "softphone.check",
                             json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000001"), msg,
                             sizeof(msg)),
                        "CORRUPT");
    if (strstr(msg, "user_cc/acme/005000000000001AAA") == NULL)
        fail_msg("CORRUPT, but not naming the membership: %s", msg);
    assert_string_equal(call(&c, "user.get",
                             json_pack("{s:s, s:s}", "org", "acme", "id", "005000000000003"), msg,
                             sizeof(msg)),
                        "CORRUPT");
    if (strstr(msg, "users/acme/005000000000003AAA") == NULL)
        fail_msg("CORRUPT, but not naming the user: %s", msg);
    /* The records beside them are served, by the same server. */
    assert_string_equal(call(&c, "softphone.check",
                             json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000002"), msg,
                             sizeof(msg)),
                        "OK");
    assert_string_equal(call(&c, "user.get",
                             json_pack("{s:s, s:s}", "org", "acme", "id", "005000000000002"), msg,
                             sizeof(msg)),
                        "OK");
    sb_client_close(&c);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_damaged_record_is_corrupt_by_name_over_the_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
