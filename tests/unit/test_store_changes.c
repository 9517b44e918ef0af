/* The change log: its entries replayed into an empty store give the same store. */
#include "sb_test.h"

#include <lmdb.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "callcenter.h"
#include "voicecall.h"

#define ORGS 4
#define USERS 80
#define CCS 6

static const char *const org_ids[ORGS] = {"acme", "globex", "initech", "umbrella"};
static const char *const cc_names[CCS] = {"Support", "Sales", "EU", "US", "Night", "Day"};
static const char *const profiles[] = {"Agent", "Supervisor", "Night Shift", ""};

typedef struct world {
    sb_store_t *store;
    unsigned seed;
    bool org_alive[ORGS];
    sb_sfid_t cc[ORGS][CCS];
    bool cc_alive[ORGS][CCS];
    size_t writes, refused;
    bool full; /* a write in the batch found the map full */
} world_t;

static unsigned pick(world_t *w, unsigned n)
{
    return (unsigned)(rand_r(&w->seed) % n);
}

static void user_of(world_t *w, sb_user_t *u)
{
    memset(u, 0, sizeof(*u));
    sb_test_user_id(1 + pick(w, USERS), u->id.s);
    snprintf(u->name, sizeof(u->name), "User %u", pick(w, 1000));
    snprintf(u->profile, sizeof(u->profile), "%s", profiles[pick(w, 4)]);
}

/* One random write; it may be refused (a duplicate, a missing record): the
 * log must then hold nothing of it. */
static void random_write(world_t *w)
{
    sb_err_t err;
    unsigned o = pick(w, ORGS);
    const char *org = org_ids[o];
    if (!w->org_alive[o]) {
        if (sb_store_org_create(w->store, org, NULL, &err) == 0)
            w->org_alive[o] = true;
        return;
    }
    unsigned c = pick(w, CCS);
    char uid[16];
    sb_test_user_id(1 + pick(w, USERS), uid);
    int rc = 0;
    switch (pick(w, 12)) {
    case 0:
        if (!w->cc_alive[o][c]) {
            sb_cc_fields_t f = {.internal_name = cc_names[c],
                                .display_name = cc_names[c],
                                .adapter_url = "https://cti.example.com/softphone",
                                .softphone_height = 400,
                                .softphone_width = 300};
            sb_callcenter_t *def = NULL, *cc = NULL;
            assert_int_equal(sb_callcenter_from_fields(&f, &def, &err), 0);
            rc = sb_store_cc_create(w->store, org, def, &cc, &err);
            if (rc == 0) {
                w->cc[o][c] = cc->id;
                w->cc_alive[o][c] = true;
            }
            sb_callcenter_free(def);
            sb_callcenter_free(cc);
        } else {
            rc = sb_store_cc_delete(w->store, org, w->cc[o][c].s, pick(w, 2), &err);
            if (rc == 0)
                w->cc_alive[o][c] = false;
        }
        break;
    case 1:
    case 2: {
        sb_user_t u;
        user_of(w, &u);
        rc = sb_store_user_upsert(w->store, org, &u, &err);
        break;
    }
    case 3: {
        sb_user_t users[12];
        size_t n = 1 + pick(w, 12);
        for (size_t i = 0; i < n; i++)
            user_of(w, &users[i]);
        rc = sb_store_user_upsert_bulk(w->store, org, users, n, &err);
        break;
    }
    case 4:
    case 5:
        rc = sb_store_member_add(w->store, org, w->cc[o][c].s, uid, pick(w, 2), NULL, &err);
        break;
    case 6:
        rc = sb_store_member_remove(w->store, org, w->cc[o][c].s, uid, &err);
        break;
    case 7: {
        sb_member_assignment_t rows[8];
        char ids[8][16];
        size_t n = 1 + pick(w, 8);
        for (size_t i = 0; i < n; i++) {
            sb_test_user_id(1 + pick(w, USERS), ids[i]);
            rows[i] = (sb_member_assignment_t){ids[i], w->cc[o][pick(w, CCS)].s};
        }
        rc = sb_store_member_add_bulk(w->store, org, rows, n, pick(w, 2), &err);
        break;
    }
    case 8: {
        sb_contact_t rows[3];
        size_t n = 1 + pick(w, 3);
        memset(rows, 0, sizeof(rows));
        for (size_t i = 0; i < n; i++) {
            snprintf(rows[i].id.s, sizeof(rows[i].id.s), "003%012u", pick(w, 40));
            assert_int_equal(sb_contact_type_of(rows[i].id.s, &rows[i].type), 0);
            snprintf(rows[i].name, sizeof(rows[i].name), "Contact %u", pick(w, 100));
            rows[i].n_phones = 1 + pick(w, 2);
            for (size_t p = 0; p < rows[i].n_phones; p++)
                snprintf(rows[i].phones[p], sizeof(rows[i].phones[p]), "+1555000%04u", pick(w, 30));
        }
        rc = sb_store_contact_upsert_bulk(w->store, org, rows, n, &err);
        break;
    }
    case 9: {
        char key[32];
        snprintf(key, sizeof(key), "call-%u", pick(w, 50));
        sb_call_event_t ev = {.action =
                                  (sb_call_action_t)pick(w, 2) == 0 ? SB_CALL_START : SB_CALL_END,
                              .vendor_call_key = key,
                              .user = uid,
                              .call_type = -1,
                              .from = "+15550001234",
                              .to = "+15559990000",
                              .disposition = "done"};
        rc = sb_store_call_event(w->store, org, &w->cc[o][c], &ev, NULL, NULL, &err);
        break;
    }
    case 10:
        if (pick(w, 40) == 0) {
            rc = sb_store_org_delete(w->store, org, true, &err);
            if (rc == 0) {
                w->org_alive[o] = false;
                memset(w->cc_alive[o], 0, sizeof(w->cc_alive[o]));
            }
        }
        break;
    default: {
        /* A token: server-wide, keyed by its hash. */
        uint8_t hash[SB_TOKEN_HASH_BYTES];
        memset(hash, (int)pick(w, 20), sizeof(hash));
        sb_token_record_t rec = {.role = SB_ROLE_READ_ONLY};
        snprintf(rec.id, sizeof(rec.id), "tok%u", pick(w, 20));
        snprintf(rec.org, sizeof(rec.org), "%s", org);
        if (pick(w, 3) == 0)
            rc = sb_store_token_revoke(w->store, rec.id, &err);
        else
            rc = sb_store_token_put(w->store, hash, &rec, &err);
        break;
    }
    }
    if (rc == 0)
        w->writes++;
    else
        w->refused++;
    w->full |= rc == -ENOSPC;
}

/* Every key and value of every named database of the environment in `dir`,
 * in order, as one byte string ("name\0" then length-prefixed pairs). */
static void dump(const char *dir, bool with_log, char **out, size_t *len)
{
    FILE *f = open_memstream(out, len);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi main_db;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &main_db), 0);
    MDB_cursor *names;
    assert_int_equal(mdb_cursor_open(txn, main_db, &names), 0);
    MDB_val name, unused;
    int rc = mdb_cursor_get(names, &name, &unused, MDB_FIRST);
    size_t dbs = 0;
    while (rc == 0) {
        char db[64];
        assert_true(name.mv_size < sizeof(db));
        memcpy(db, name.mv_data, name.mv_size);
        db[name.mv_size] = '\0';
        rc = mdb_cursor_get(names, &name, &unused, MDB_NEXT);
        if (!with_log && strcmp(db, "changes") == 0)
            continue;
        MDB_dbi dbi;
        assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
        fprintf(f, "%s%c", db, '\0');
        dbs++;
        MDB_cursor *cur;
        MDB_val k, v;
        assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
        int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        while (r == 0) {
            bool counter = strcmp(db, "meta") == 0 && k.mv_size == strlen("reclaim_commits") &&
                           memcmp(k.mv_data, "reclaim_commits", k.mv_size) == 0;
            if (!counter) { /* the store's own bookkeeping, not data */
                fprintf(f, "%zu:", k.mv_size);
                fwrite(k.mv_data, 1, k.mv_size, f);
                fprintf(f, "%zu:", v.mv_size);
                fwrite(v.mv_data, 1, v.mv_size, f);
            }
            r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        assert_int_equal(r, MDB_NOTFOUND);
        mdb_cursor_close(cur);
    }
    assert_true(dbs >= 15);
    mdb_cursor_close(names);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    fclose(f);
}

/* Copies entries first..last of `from` into `to` through the apply path. */
static void replay(sb_store_t *from, sb_store_t *to, uint64_t first, uint64_t last)
{
    sb_err_t err;
    for (uint64_t seq = first; seq <= last; seq++) {
        void *entry;
        size_t len;
        assert_rc(sb_store_changes_get(from, seq, &entry, &len, &err), 0, err);
        assert_rc(sb_store_changes_apply(to, entry, len, &err), 0, err);
        /* In order only: the same entry again is refused. */
        assert_rc(sb_store_changes_apply(to, entry, len, &err), -EINVAL, err);
        free(entry);
    }
}

static int dry_write(void *ctx, sb_err_t *err)
{
    sb_user_t u = {.name = "Dry", .profile = "Agent"};
    sb_test_user_id(USERS + 1, u.id.s);
    return sb_store_user_upsert(ctx, "acme", &u, err);
}

static void the_log_replayed_gives_the_same_store(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir(), *copy = sb_test_tmpdir();
    sb_err_t err;
    /* A small map: writes outside a batch grow it and replay their
     * transaction, which must log once. */
    sb_store_opts_t opts = {
        .dir = dir, .initial_map_bytes = 256 << 10, .durability = SB_DURABILITY_NONE};
    /* SB_TEST_SEED=n repeats a run the output names. */
    const char *given = getenv("SB_TEST_SEED");
    world_t w = {.seed = given ? (unsigned)strtoul(given, NULL, 10) : (unsigned)time(NULL)};
    unsigned seed = w.seed;
    printf("seed %u\n", seed);
    assert_rc(sb_store_open(&opts, &w.store, &err), 0, err);
    int replays = 0;
    for (int round = 0; round < 700; round++) {
        unsigned kind = pick(&w, 4);
        if (kind == 0) { /* writes alone: each its own transaction and entry */
            for (int i = 0; i < 5; i++)
                random_write(&w);
            continue;
        }
        /* A batch, as the writer runs it: each job's record, refused jobs
         * among them; sometimes dropped whole, sometimes with a dry run;
         * replayed from the start after the map grew. */
        world_t before = w;
    again:
        w = before;
        assert_rc(sb_store_batch_begin(w.store, &err), 0, err);
        uint64_t seq = sb_store_batch_seq(w.store);
        assert_true(seq > 0);
        for (int i = 0; i < 8; i++) {
            sb_store_who_t who = {"tok1", org_ids[i % ORGS], "test.random"};
            sb_store_change_begin(w.store, &who);
            size_t refused = w.refused;
            random_write(&w);
            sb_store_change_end(w.store, w.refused == refused ? 0 : -EINVAL);
        }
        if (kind == 2) /* it may fail (acme gone, the map full): it writes nothing anyway */
            w.full |= sb_store_dry_run(w.store, dry_write, w.store, &err) == -ENOSPC;
        if (kind == 3 && pick(&w, 4) == 0) {
            sb_store_batch_abort(w.store);
            /* Nothing of it was written: the world is as before it, and
             * the random numbers go on. */
            unsigned next = w.seed;
            w = before;
            w.seed = next;
            continue;
        }
        int rc = w.full ? -ENOSPC : sb_store_batch_commit(w.store, &err);
        if (w.full)
            sb_store_batch_abort(w.store);
        if (rc == -ENOSPC) {
            assert_rc(sb_store_grow(w.store, &err), 0, err);
            replays++;
            goto again;
        }
        assert_rc(rc, 0, err);
    }
    printf("%d batches replayed after the map grew\n", replays);
    uint64_t first, last;
    assert_rc(sb_store_changes_range(w.store, &first, &last, &err), 0, err);
    assert_int_equal(first, 1);
    if (last <= 300)
        fail_msg("seed %u: only %llu entries", seed, (unsigned long long)last);
    assert_true(w.writes > 1000);

    sb_store_t *replica = sb_test_open(copy);
    replay(w.store, replica, first, last);
    sb_store_close(replica);
    sb_store_close(w.store);

    /* The same databases, byte for byte, the log included (a replica keeps
     * the primary's entries under the same sequences). */
    char *a, *b;
    size_t alen, blen;
    dump(dir, true, &a, &alen);
    dump(copy, true, &b, &blen);
    if (alen != blen || memcmp(a, b, alen) != 0)
        fail_msg("seed %u: the replayed store differs (%zu and %zu bytes)", seed, alen, blen);
    free(a);
    free(b);
    printf("%zu writes (%zu refused) in %llu entries\n", w.writes, w.refused,
           (unsigned long long)last);
    sb_test_rmdir(dir);
    sb_test_rmdir(copy);
}

/* A batch replayed after the map grew logs its writes once, as the same sequence. */
static void a_replayed_batch_logs_once(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_store_who_t who = {"tokA", "acme", "user.upsert"};
    uint64_t seqs[2];
    for (int attempt = 0; attempt < 2; attempt++) {
        assert_int_equal(sb_store_batch_begin(fx->store, &err), 0);
        seqs[attempt] = sb_store_batch_seq(fx->store);
        sb_store_change_begin(fx->store, &who);
        sb_test_user(fx->store, "acme", 7);
        sb_store_change_end(fx->store, 0);
        if (attempt == 0) {
            sb_store_batch_abort(fx->store); /* as the writer does on a full map */
            assert_int_equal(sb_store_grow(fx->store, &err), 0);
        }
    }
    assert_int_equal(seqs[0], seqs[1]);
    assert_int_equal(sb_store_batch_commit(fx->store, &err), 0);
    void *entry;
    size_t len;
    assert_rc(sb_store_changes_get(fx->store, seqs[1], &entry, &len, &err), 0, err);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, entry, len, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(u.data.via.array.size, 4);
    assert_int_equal(u.data.via.array.ptr[1].via.u64, seqs[1]);
    const msgpack_object *writes = &u.data.via.array.ptr[3];
    assert_int_equal(writes->via.array.size, 1);
    const msgpack_object_map *write = &writes->via.array.ptr[0].via.map;
    size_t changes = 0;
    for (uint32_t i = 0; i < write->size; i++) {
        const msgpack_object_kv *kv = &write->ptr[i];
        if (kv->key.via.str.size == 7 && memcmp(kv->key.via.str.ptr, "changes", 7) == 0)
            changes = kv->val.via.array.size;
        if (kv->key.via.str.size == 5 && memcmp(kv->key.via.str.ptr, "token", 5) == 0)
            assert_memory_equal(kv->val.via.str.ptr, "tokA", 4);
    }
    assert_int_equal(changes, 1); /* the user record, once */
    msgpack_unpacked_destroy(&u);
    free(entry);
}

/* Retention: by count, bounded work per trim. */
static void old_entries_are_trimmed(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    for (unsigned i = 1; i <= 30; i++)
        sb_test_user(fx->store, "acme", i);
    uint64_t first, last;
    assert_int_equal(sb_store_changes_range(fx->store, &first, &last, &err), 0);
    size_t trimmed;
    assert_int_equal(sb_store_changes_trim(fx->store, 10, 0, 5, &trimmed, &err), 0);
    assert_int_equal(trimmed, 5);
    uint64_t first2, last2;
    assert_int_equal(sb_store_changes_range(fx->store, &first2, &last2, &err), 0);
    assert_int_equal(first2, first + 5);
    assert_int_equal(last2, last);
    assert_int_equal(sb_store_changes_trim(fx->store, 10, 0, 100, &trimmed, &err), 0);
    assert_int_equal(sb_store_changes_range(fx->store, &first2, &last2, &err), 0);
    assert_int_equal(last2 - first2 + 1, 10);
    /* By age: everything is younger than an hour. */
    assert_int_equal(sb_store_changes_trim(fx->store, 0, 3600 * 1000, 100, &trimmed, &err), 0);
    assert_int_equal(trimmed, 0);
}

/* Each org's writes have the org's own numbers, chosen in the batch, and
 * trimming an entry takes its writes out of the org's index. */
static void each_org_numbers_its_writes(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    uint64_t last = 99;
    assert_rc(sb_store_org_seq(fx->store, "acme", &last, &err), 0, err);
    assert_int_equal(last, 0);
    for (unsigned round = 0; round < 10; round++) {
        assert_rc(sb_store_batch_begin(fx->store, &err), 0, err);
        for (unsigned i = 0; i < 3; i++) {
            const char *org = i == 1 ? "globex" : "acme";
            sb_store_who_t who = {"tok", org, "user.upsert"};
            sb_store_change_begin(fx->store, &who);
            sb_test_user(fx->store, org, round * 3 + i + 1);
            sb_store_change_end(fx->store, 0);
            /* acme: 1, 2 in the first batch, 3, 4 in the next...; globex: 1, 2, 3... */
            assert_int_equal(sb_store_change_org_seq(fx->store),
                             i == 1 ? round + 1 : round * 2 + (i == 0 ? 1 : 2));
        }
        /* The batch's own thread sees its org's numbers so far. */
        assert_rc(sb_store_org_seq(fx->store, "acme", &last, &err), 0, err);
        assert_int_equal(last, round * 2 + 2);
        /* A refused write keeps no number. */
        sb_store_who_t who = {"tok", "acme", "user.upsert"};
        sb_store_change_begin(fx->store, &who);
        sb_store_change_end(fx->store, -EINVAL);
        assert_int_equal(sb_store_change_org_seq(fx->store), 0);
        assert_rc(sb_store_batch_commit(fx->store, &err), 0, err);
    }
    uint64_t first = 0;
    assert_rc(sb_store_org_seq_range(fx->store, "acme", &first, &last, &err), 0, err);
    assert_int_equal(first, 1);
    assert_int_equal(last, 20);
    size_t trimmed;
    assert_rc(sb_store_changes_trim(fx->store, 4, 0, 100, &trimmed, &err), 0, err);
    assert_true(trimmed > 0);
    assert_rc(sb_store_org_seq_range(fx->store, "acme", &first, &last, &err), 0, err);
    assert_int_equal(first, 13); /* the last 4 batches' acme writes: 13 to 20 */
    assert_int_equal(last, 20);
    assert_rc(sb_store_org_seq_range(fx->store, "globex", &first, &last, &err), 0, err);
    assert_int_equal(first, 7);
    assert_int_equal(last, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_log_replayed_gives_the_same_store),
        cmocka_unit_test_setup_teardown(a_replayed_batch_logs_once, sb_test_store_setup,
                                        sb_test_store_teardown),
        cmocka_unit_test_setup_teardown(each_org_numbers_its_writes, sb_test_store_setup,
                                        sb_test_store_teardown),
        cmocka_unit_test_setup_teardown(old_entries_are_trimmed, sb_test_store_setup,
                                        sb_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
