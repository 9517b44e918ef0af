/* The environment: persistence, schema versions, the writer lock, map growth. */
#include "sb_test.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_internal.h"

/* Org acme with Call Center Support and members 1 to `n` (profile Agent). */
static sb_sfid_t acme_with_members(sb_store_t *st, unsigned n)
{
    sb_err_t err;
    assert_int_equal(sb_store_org_create(st, "acme", "Acme", &err), 0);
    sb_sfid_t cc = sb_test_cc(st, "acme", "Support");
    for (unsigned u = 1; u <= n; u++) {
        sb_test_user(st, "acme", u);
        char uid[16];
        sb_test_user_id(u, uid);
        assert_int_equal(sb_store_member_add(st, "acme", cc.s, uid, false, NULL, &err), 0);
    }
    return cc;
}

static void data_survives_close_and_reopen(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir();
    sb_store_opts_t opts = {.dir = dir}; /* full durability, as the server runs */
    sb_store_t *st;
    sb_err_t err;
    assert_int_equal(sb_store_open(&opts, &st, &err), 0);
    sb_sfid_t cc = acme_with_members(st, 20);
    sb_store_close(st);

    assert_int_equal(sb_store_open(&opts, &st, &err), 0);
    sb_store_stats_t stats;
    assert_int_equal(sb_store_stats(st, &stats, &err), 0);
    assert_int_equal(stats.orgs, 1);
    assert_int_equal(stats.callcenters, 1);
    assert_int_equal(stats.users, 20);
    assert_int_equal(stats.members, 20);
    assert_int_equal(stats.schema_version, SB_STORE_SCHEMA_VERSION);
    sb_sfid_t found;
    assert_int_equal(sb_store_member_lookup(st, "acme", "005000000000020", &found, &err), 0);
    assert_string_equal(found.s, cc.s);
    /* Ids keep counting from where they were: no id is ever handed out twice. */
    sb_sfid_t next = sb_test_cc(st, "acme", "Sales");
    assert_true(strcmp(next.s, cc.s) > 0);
    sb_store_close(st);
    sb_test_rmdir(dir);
}

static void a_second_writer_is_refused(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir();
    sb_store_t *first = sb_test_open(dir), *second = (sb_store_t *)1;
    sb_store_opts_t opts = {.dir = dir};
    sb_err_t err;
    assert_rc(sb_store_open(&opts, &second, &err), SB_E_STORE_LOCKED, err);
    assert_null(second);
    char pid[32];
    snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
    assert_non_null(strstr(err.message, pid));
    sb_store_close(first);
    assert_int_equal(sb_store_open(&opts, &second, &err), 0);
    sb_store_close(second);
    sb_test_rmdir(dir);
}

/* The store's environment opened directly, with a transaction begun: to
 * change or read it behind the store's back. */
static MDB_env *raw_open(const char *dir, unsigned flags, MDB_txn **txn)
{
    MDB_env *env;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, flags, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, flags, txn), 0);
    return env;
}

/* Writes a schema version into the environment behind the store's back. */
static void write_schema_version(const char *dir, uint32_t version)
{
    MDB_txn *txn;
    MDB_dbi meta;
    MDB_env *env = raw_open(dir, 0, &txn);
    assert_int_equal(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta), 0);
    MDB_val k = {strlen("schema_version"), "schema_version"}, v = {sizeof(version), &version};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void a_newer_schema_is_refused(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir();
    sb_store_close(sb_test_open(dir));
    write_schema_version(dir, SB_STORE_SCHEMA_VERSION + 1);
    sb_store_opts_t opts = {.dir = dir};
    sb_store_t *st = (sb_store_t *)1;
    sb_err_t err;
    assert_rc(sb_store_open(&opts, &st, &err), SB_E_SCHEMA_TOO_NEW, err);
    assert_null(st);
    char says[64];
    snprintf(says, sizeof(says), "reads versions %d to %d", SB_STORE_SCHEMA_MIN,
             SB_STORE_SCHEMA_VERSION);
    assert_non_null(strstr(err.message, says));
    write_schema_version(dir, 0);
    assert_rc(sb_store_open(&opts, &st, &err), SB_E_CORRUPT, err);
    write_schema_version(dir, SB_STORE_SCHEMA_VERSION);
    assert_int_equal(sb_store_open(&opts, &st, &err), 0);
    sb_store_close(st);
    sb_test_rmdir(dir);
}

/* Every (database, key, value) of the databases that carry checksums: all
 * but meta and changes. */
typedef struct raw_row {
    char db[16];
    size_t klen, vlen;
    unsigned char key[512], val[4096];
} raw_row_t;

static const char *const sealed_dbs[] = {
    "orgs",    "callcenters", "cc_names", "users",    "user_cc", "cc_members", "tokens",
    "layouts", "layout_of",   "views",    "contacts", "phones",  "voicecalls", "call_keys"};

static size_t raw_rows(const char *dir, raw_row_t **out)
{
    MDB_txn *txn;
    MDB_env *env = raw_open(dir, MDB_RDONLY, &txn);
    size_t n = 0, cap = 0;
    raw_row_t *rows = NULL;
    for (size_t d = 0; d < sizeof(sealed_dbs) / sizeof(sealed_dbs[0]); d++) {
        MDB_dbi dbi;
        MDB_cursor *cur;
        assert_int_equal(mdb_dbi_open(txn, sealed_dbs[d], 0, &dbi), 0);
        assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
        MDB_val k, v;
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                rows = realloc(rows, cap * sizeof(*rows));
                assert_non_null(rows);
            }
            assert_true(k.mv_size <= sizeof(rows[n].key) && v.mv_size <= sizeof(rows[n].val));
            snprintf(rows[n].db, sizeof(rows[n].db), "%s", sealed_dbs[d]);
            rows[n].klen = k.mv_size;
            rows[n].vlen = v.mv_size;
            memcpy(rows[n].key, k.mv_data, k.mv_size);
            memcpy(rows[n].val, v.mv_data, v.mv_size);
            n++;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    *out = rows;
    return n;
}

/*
 * Turns a schema 5 directory into what schema 3 wrote, behind the store's
 * back: schema 4's membership keys, every value without its four bytes of
 * checksum.
 */
static void downgrade_to_schema_3(const char *dir)
{
    sb_test_downgrade_to_schema_4(dir);
    raw_row_t *rows;
    size_t n = raw_rows(dir, &rows);
    MDB_txn *txn;
    MDB_env *env = raw_open(dir, 0, &txn);
    for (size_t d = 0; d < sizeof(sealed_dbs) / sizeof(sealed_dbs[0]); d++) {
        MDB_dbi dbi;
        assert_int_equal(mdb_dbi_open(txn, sealed_dbs[d], 0, &dbi), 0);
        assert_int_equal(mdb_drop(txn, dbi, 0), 0); /* emptied, kept */
    }
    for (size_t i = 0; i < n; i++) {
        MDB_dbi dbi;
        assert_int_equal(mdb_dbi_open(txn, rows[i].db, 0, &dbi), 0);
        assert_true(rows[i].vlen >= SB_VALUE_SUM_BYTES);
        MDB_val k = {rows[i].klen, rows[i].key},
                v = {rows[i].vlen - SB_VALUE_SUM_BYTES, rows[i].val};
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(rows);
    write_schema_version(dir, 3);
}

/*
 * Turns a schema 5 directory into what schema 1 wrote, behind the store's
 * back: no checksums (schema 3), and memberships hold the Call Center's id alone and there are no
 * views. `orphan`, when set, adds a membership of a user the users table lacks.
 */
static void downgrade_to_schema_1(const char *dir, const char *orphan)
{
    downgrade_to_schema_3(dir);
    MDB_txn *txn;
    MDB_dbi user_cc, views;
    MDB_cursor *cur;
    MDB_env *env = raw_open(dir, 0, &txn);
    assert_int_equal(mdb_dbi_open(txn, "user_cc", 0, &user_cc), 0);
    assert_int_equal(mdb_dbi_open(txn, "views", 0, &views), 0);
    assert_int_equal(mdb_cursor_open(txn, user_cc, &cur), 0);
    /* Read them all first, then write: no put through the walking cursor. */
    struct {
        char key[64];
        size_t len;
    } members[64];
    size_t n = 0;
    MDB_val k, v;
    char cc[SB_SFID_LEN];
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        assert_true(v.mv_size > SB_SFID_LEN); /* schema 2: the profile follows */
        assert_true(n < 64 && k.mv_size <= sizeof(members[n].key));
        memcpy(members[n].key, k.mv_data, k.mv_size);
        members[n++].len = k.mv_size;
        memcpy(cc, v.mv_data, SB_SFID_LEN);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    assert_int_equal(rc, MDB_NOTFOUND);
    mdb_cursor_close(cur);
    for (size_t i = 0; i < n; i++) {
        MDB_val key = {members[i].len, members[i].key}, old = {SB_SFID_LEN, cc};
        assert_int_equal(mdb_put(txn, user_cc, &key, &old, 0), 0);
    }
    if (orphan != NULL) {
        char key[64];
        int len = snprintf(key, sizeof(key), "acme%c%s", '\0', orphan);
        MDB_val ok = {(size_t)len, key}, ov = {SB_SFID_LEN, cc};
        assert_int_equal(mdb_put(txn, user_cc, &ok, &ov, 0), 0);
    }
    assert_int_equal(mdb_drop(txn, views, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    write_schema_version(dir, 1);
}

static uint32_t read_schema_version(const char *dir)
{
    MDB_txn *txn;
    MDB_dbi meta;
    MDB_env *env = raw_open(dir, MDB_RDONLY, &txn);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val k = {strlen("schema_version"), "schema_version"}, v;
    assert_int_equal(mdb_get(txn, meta, &k, &v), 0);
    uint32_t version;
    assert_int_equal(v.mv_size, sizeof(version));
    memcpy(&version, v.mv_data, sizeof(version));
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return version;
}

/* A directory of 30 Agents and one Night Shift user, all in Support. */
static sb_sfid_t thirty_one_members(const char *dir)
{
    sb_store_t *st = sb_test_open(dir);
    sb_err_t err;
    sb_sfid_t cc = acme_with_members(st, 30);
    sb_user_t night = {.name = "Night", .profile = "Night Shift"};
    sb_test_user_id(31, night.id.s);
    assert_int_equal(sb_store_user_upsert(st, "acme", &night, &err), 0);
    assert_int_equal(sb_store_member_add(st, "acme", cc.s, night.id.s, false, NULL, &err), 0);
    sb_store_close(st);
    return cc;
}

static void a_schema_1_directory_is_migrated(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir();
    sb_err_t err;
    sb_store_t *st;
    thirty_one_members(dir);

    /* A membership of a user who is not there: the migration stops, and
     * leaves the directory exactly as schema 1 wrote it. */
    downgrade_to_schema_1(dir, "005000000000099AAA");
    sb_store_opts_t opts = {.dir = dir};
    st = (sb_store_t *)1;
    assert_int_not_equal(sb_store_open(&opts, &st, &err), 0);
    assert_null(st);
    assert_non_null(strstr(err.message, "from schema 1 to 2 failed"));
    assert_non_null(strstr(err.message, "nothing was changed"));
    assert_int_equal(read_schema_version(dir), 1);

    /* Without it, every membership gains its user's profile and a view. */
    sb_test_rmdir(dir);
    dir = sb_test_tmpdir();
    sb_sfid_t cc = thirty_one_members(dir);
    downgrade_to_schema_1(dir, NULL);
    opts.dir = dir;
    assert_rc(sb_store_open(&opts, &st, &err), 0, err);
    sb_store_stats_t stats;
    assert_int_equal(sb_store_stats(st, &stats, &err), 0);
    assert_int_equal(stats.schema_version, SB_STORE_SCHEMA_VERSION);
    assert_int_equal(stats.members, 31);
    for (unsigned u = 1; u <= 31; u++) {
        char uid[16];
        sb_test_user_id(u, uid);
        sb_softphone_answer_t answer;
        assert_int_equal(sb_store_softphone_check(st, "acme", uid, &answer, &err), 0);
        if (answer.reason != SB_SOFTPHONE_OK)
            fail_msg("user %u: %s", u, answer.message);
        assert_string_equal(answer.profile, u == 31 ? "Night Shift" : "Agent");
        assert_string_equal(answer.view.cc_id, cc.s);
        sb_softphone_answer_destroy(&answer);
    }
    sb_sfid_t found;
    assert_int_equal(sb_store_member_lookup(st, "acme", "005000000000031", &found, &err), 0);
    assert_string_equal(found.s, cc.s);
    sb_store_close(st);
    assert_int_equal(read_schema_version(dir), SB_STORE_SCHEMA_VERSION);
    sb_test_rmdir(dir);
}

/* Schema 2 had no change log: the upgrade adds an empty one, and the first
 * write after it is sequence 1. */
static void a_schema_2_directory_gains_a_change_log(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir();
    sb_err_t err;
    thirty_one_members(dir);
    downgrade_to_schema_3(dir); /* schema 2 had no checksums and schema 4's keys */
    MDB_txn *txn;
    MDB_dbi changes, meta;
    MDB_env *env = raw_open(dir, 0, &txn);
    assert_int_equal(mdb_dbi_open(txn, "changes", 0, &changes), 0);
    assert_int_equal(mdb_drop(txn, changes, 1), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val k = {strlen("changes_last"), "changes_last"};
    assert_int_equal(mdb_del(txn, meta, &k, NULL), 0);
    /* Schema 4 records its databases; schema 2 had no such record. */
    MDB_val dk = {strlen("databases"), "databases"};
    assert_int_equal(mdb_del(txn, meta, &dk, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    write_schema_version(dir, 2);

    sb_store_t *st = sb_test_open(dir);
    assert_int_equal(read_schema_version(dir), SB_STORE_SCHEMA_VERSION);
    uint64_t first = 9, last = 9;
    assert_int_equal(sb_store_changes_range(st, &first, &last, &err), 0);
    assert_int_equal(first, 0);
    assert_int_equal(last, 0);
    sb_test_user(st, "acme", 40);
    assert_int_equal(sb_store_changes_range(st, &first, &last, &err), 0);
    assert_int_equal(first, 1);
    assert_int_equal(last, 1);
    sb_store_close(st);
    sb_test_rmdir(dir);
}

/* Schema 3 had no checksums: the upgrade adds one to every value of every
 * kind, in one transaction, and changes no byte of any value. */
static void a_schema_3_directory_gains_checksums(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir();
    sb_err_t err;
    thirty_one_members(dir);
    sb_store_t *st = sb_test_open(dir);
    sb_contact_t c = {.type = SB_OBJECT_CONTACT, .name = "Ada", .n_phones = 2};
    snprintf(c.id.s, sizeof(c.id.s), "003000000000001AAA");
    snprintf(c.phones[0], sizeof(c.phones[0]), "+14155550100");
    snprintf(c.phones[1], sizeof(c.phones[1]), "+14155550101");
    assert_rc(sb_store_contact_upsert_bulk(st, "acme", &c, 1, &err), 0, err);
    sb_store_close(st);

    raw_row_t *before, *after;
    size_t n = raw_rows(dir, &before);
    assert_true(n > 100); /* orgs, Call Centers, users, both membership indexes, views, ... */
    downgrade_to_schema_3(dir);
    st = sb_test_open(dir); /* migrates */
    sb_store_close(st);
    assert_int_equal(read_schema_version(dir), SB_STORE_SCHEMA_VERSION);
    /* The same rows, each value with the checksum the store writes today. */
    assert_int_equal(raw_rows(dir, &after), n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(after[i].db, before[i].db);
        assert_memory_equal(after[i].key, before[i].key, before[i].klen);
        assert_int_equal(after[i].vlen, before[i].vlen);
        assert_memory_equal(after[i].val, before[i].val, before[i].vlen);
    }
    free(before);
    free(after);

    st = sb_test_open(dir);
    sb_sfid_t found;
    assert_rc(sb_store_member_lookup(st, "acme", "005000000000031", &found, &err), 0, err);
    sb_contact_t got;
    assert_rc(sb_store_contact_get(st, "acme", c.id.s, &got, &err), 0, err);
    assert_int_equal(got.n_phones, 2);
    sb_store_close(st);
    sb_test_rmdir(dir);
}

/* One flipped bit in a stored value: CORRUPT naming its database and key,
 * never the record with the changed byte. */
static void a_flipped_byte_names_the_record(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir();
    sb_err_t err;
    thirty_one_members(dir);
    MDB_txn *txn;
    MDB_dbi users;
    MDB_env *env = raw_open(dir, 0, &txn);
    assert_int_equal(mdb_dbi_open(txn, "users", 0, &users), 0);
    char key[64];
    sb_sfid_t id;
    assert_int_equal(
        sb_sfid_normalize("005000000000007", SB_SFID_PREFIX_USER, "user id", &id, NULL), 0);
    int klen = snprintf(key, sizeof(key), "acme%c%s", '\0', id.s);
    MDB_val k = {(size_t)klen, key}, v;
    assert_int_equal(mdb_get(txn, users, &k, &v), 0);
    unsigned char copy[512];
    assert_true(v.mv_size <= sizeof(copy));
    memcpy(copy, v.mv_data, v.mv_size);
    copy[v.mv_size / 2] ^= 0x04;
    MDB_val nv = {v.mv_size, copy};
    assert_int_equal(mdb_put(txn, users, &k, &nv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    sb_store_t *st = sb_test_open(dir);
    sb_user_t user;
    assert_rc(sb_store_user_get(st, "acme", "005000000000007", &user, &err), SB_E_CORRUPT, err);
    if (strstr(err.message, "users/acme/005000000000007") == NULL)
        fail_msg("%s", err.message);
    /* Its neighbours are whole. */
    assert_rc(sb_store_user_get(st, "acme", "005000000000008", &user, &err), 0, err);
    /* A later error of another record does not name this one. */
    assert_rc(sb_store_user_get(st, "acme", "005000000000099", &user, &err), -ENOENT, err);
    assert_null(strstr(err.message, "005000000000007"));
    sb_store_close(st);
    sb_test_rmdir(dir);
}

static void the_data_directory_must_be_usable(void **state)
{
    (void)state;
    /* Missing parents are made, as the default ~/.local/share/switchboard needs. */
    char *base = sb_test_tmpdir();
    char nested[4200];
    snprintf(nested, sizeof(nested), "%s/a/b/data", base);
    sb_store_t *made = sb_test_open(nested);
    sb_store_close(made);
    sb_test_rmdir(base);
    sb_store_t *st;
    sb_err_t err;
    sb_store_opts_t none = {.dir = NULL};
    assert_rc(sb_store_open(&none, &st, &err), -EINVAL, err);
    sb_store_opts_t file = {.dir = "/etc/hostname"};
    assert_rc(sb_store_open(&file, &st, &err), -EINVAL, err);
    assert_non_null(strstr(err.message, "not a directory"));
}

static void the_map_grows_then_refuses_cleanly(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir();
    sb_store_opts_t opts = {.dir = dir,
                            .initial_map_bytes = 256 << 10,
                            .max_map_bytes = 2 << 20,
                            .durability = SB_DURABILITY_NONE};
    sb_store_t *st;
    sb_err_t err;
    assert_int_equal(sb_store_open(&opts, &st, &err), 0);
    assert_int_equal(sb_store_org_create(st, "acme", NULL, &err), 0);
    enum { BATCH = 200 };
    sb_user_t users[BATCH];
    memset(users, 0, sizeof(users));
    unsigned next = 1;
    uint64_t stored = 0;
    int rc = 0;
    size_t first_map = 0;
    while (rc == 0) {
        for (unsigned i = 0; i < BATCH; i++) {
            sb_test_user_id(next + i, users[i].id.s);
            memset(users[i].name, 'n', 200); /* fat rows fill the map sooner */
        }
        rc = sb_store_user_upsert_bulk(st, "acme", users, BATCH, &err);
        if (rc == 0) {
            stored += BATCH;
            next += BATCH;
        }
        sb_store_stats_t stats;
        assert_int_equal(sb_store_stats(st, &stats, &err), 0);
        if (first_map == 0)
            first_map = stats.map_bytes;
        assert_true(stats.map_bytes <= opts.max_map_bytes);
    }
    assert_rc(rc, -ENOSPC, err);
    assert_string_equal(sb_err_name(rc), "STORE_FULL");
    assert_non_null(strstr(err.message, "maximum map size"));
    sb_store_stats_t stats;
    assert_int_equal(sb_store_stats(st, &stats, &err), 0);
    assert_int_equal(stats.map_bytes, opts.max_map_bytes); /* it grew all the way */
    assert_true(first_map < stats.map_bytes);
    assert_int_equal(stats.users, stored); /* the refused batch wrote nothing */
    assert_true(stored > 1000);
    /* Reads still work on a full store. */
    sb_user_t got;
    assert_int_equal(sb_store_user_get(st, "acme", "005000000000001", &got, &err), 0);
    sb_store_close(st);

    /* A larger maximum lets the same batch in. */
    opts.max_map_bytes = 8 << 20;
    assert_int_equal(sb_store_open(&opts, &st, &err), 0);
    assert_int_equal(sb_store_user_upsert_bulk(st, "acme", users, BATCH, &err), 0);
    assert_int_equal(sb_store_stats(st, &stats, &err), 0);
    assert_int_equal(stats.users, stored + BATCH);
    sb_store_close(st);
    sb_test_rmdir(dir);
}

/* A full disk (ENOSPC, EDQUOT from a write or fsync) is not a full map. */
static void a_full_disk_is_told_apart_from_a_full_map(void **state)
{
    (void)state;
    assert_int_equal(sb__lmdb_rc(MDB_MAP_FULL), -ENOSPC);
    assert_string_equal(sb_err_name(sb__lmdb_rc(MDB_MAP_FULL)), "STORE_FULL");
    assert_int_equal(sb__lmdb_rc(ENOSPC), SB_E_DISK_FULL);
    assert_int_equal(sb__lmdb_rc(EDQUOT), SB_E_DISK_FULL);
    assert_string_equal(sb_err_name(SB_E_DISK_FULL), "DISK_FULL");
    assert_int_equal(sb__lmdb_rc(EIO), -EIO);
}

struct dry_ctx {
    sb_store_t *st;
    bool saw_own_write;
};

static int dry_write(void *vctx, sb_err_t *err)
{
    struct dry_ctx *ctx = vctx;
    sb_user_t user = {0}, got;
    sb_test_user_id(7, user.id.s);
    snprintf(user.name, sizeof(user.name), "Dry");
    int rc = sb_store_user_upsert(ctx->st, "acme", &user, err);
    ctx->saw_own_write = rc == 0 && sb_store_user_get(ctx->st, "acme", user.id.s, &got, err) == 0;
    return rc;
}

/* A dry run makes its write (and sees it), and nothing of it stays. */
static void a_dry_run_writes_nothing(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir();
    sb_store_opts_t opts = {.dir = dir, .durability = SB_DURABILITY_NONE};
    sb_store_t *st;
    sb_err_t err;
    assert_int_equal(sb_store_open(&opts, &st, &err), 0);
    assert_int_equal(sb_store_org_create(st, "acme", NULL, &err), 0);
    struct dry_ctx ctx = {st, false};
    assert_int_equal(sb_store_dry_run(st, dry_write, &ctx, &err), -EINVAL); /* no batch */
    assert_int_equal(sb_store_batch_begin(st, &err), 0);
    assert_int_equal(sb_store_dry_run(st, dry_write, &ctx, &err), 0);
    assert_true(ctx.saw_own_write);
    assert_int_equal(sb_store_batch_commit(st, &err), 0);
    sb_user_t got;
    char id[16];
    sb_test_user_id(7, id);
    assert_int_equal(sb_store_user_get(st, "acme", id, &got, &err), -ENOENT);
    sb_store_close(st);
    sb_test_rmdir(dir);
}

/* A thread that reads: attached (an event loop past the first) or not. */
typedef struct reading_thread {
    sb_store_t *st;
    bool attach;
    int failures;
    MDB_txn *first_txn, *last_txn; /* its cached transaction after its first and last read */
    bool has_reader;
} reading_thread_t;

static void *read_many(void *arg)
{
    reading_thread_t *t = arg;
    sb_err_t err;
    if (t->attach && sb_store_reader_attach(t->st, &err) != 0)
        t->failures++;
    if (t->attach && sb_store_reader_attach(t->st, &err) != 0) /* again: nothing */
        t->failures++;
    for (unsigned i = 0; i < 500; i++) {
        char uid[16];
        sb_test_user_id(1 + i % 20, uid);
        sb_sfid_t found;
        if (sb_store_member_lookup(t->st, "acme", uid, &found, &err) != 0)
            t->failures++;
        sb_reader_t *r = sb__reader(t->st);
        t->has_reader = r != NULL;
        if (r != NULL && i == 0)
            t->first_txn = r->txn;
        if (r != NULL)
            t->last_txn = r->txn;
    }
    return NULL;
}

/* Each event loop keeps one read transaction, renewed by each of its reads
 * (issue 16): an attached thread's reads reuse one handle, concurrently with
 * another's and with the opener's; a thread not attached reads in
 * transactions of its own. */
static void each_reading_thread_keeps_its_own_read_transaction(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir();
    sb_store_t *st = sb_test_open(dir);
    acme_with_members(st, 20);
    reading_thread_t t[3] = {{st, true, 0, NULL, NULL, false},
                             {st, true, 0, NULL, NULL, false},
                             {st, false, 0, NULL, NULL, false}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, read_many, &t[i]), 0);
    reading_thread_t opener = {st, false, 0, NULL, NULL, false};
    read_many(&opener); /* the opener has one without asking */
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(t[i].failures, 0);
        assert_true(t[i].has_reader);
        assert_non_null(t[i].first_txn);
        assert_ptr_equal(t[i].first_txn, t[i].last_txn);
    }
    assert_ptr_not_equal(t[0].first_txn, t[1].first_txn);
    assert_int_equal(t[2].failures, 0);
    assert_false(t[2].has_reader);
    assert_true(opener.has_reader);
    assert_non_null(opener.first_txn);
    assert_ptr_equal(opener.first_txn, opener.last_txn);
    assert_ptr_not_equal(opener.first_txn, t[0].first_txn);
    sb_store_close(st);
    sb_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(data_survives_close_and_reopen),
        cmocka_unit_test(a_second_writer_is_refused),
        cmocka_unit_test(a_newer_schema_is_refused),
        cmocka_unit_test(a_schema_1_directory_is_migrated),
        cmocka_unit_test(a_schema_2_directory_gains_a_change_log),
        cmocka_unit_test(a_schema_3_directory_gains_checksums),
        cmocka_unit_test(a_flipped_byte_names_the_record),
        cmocka_unit_test(the_data_directory_must_be_usable),
        cmocka_unit_test(the_map_grows_then_refuses_cleanly),
        cmocka_unit_test(a_full_disk_is_told_apart_from_a_full_map),
        cmocka_unit_test(a_dry_run_writes_nothing),
        cmocka_unit_test(each_reading_thread_keeps_its_own_read_transaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
