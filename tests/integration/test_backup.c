/*
 * Backup, restore, verify through the commands an operator runs: sbctl
 * backup against a real server under concurrent writers, sbstore restore and
 * sbstore verify on what it wrote, the server started on the restored
 * directory; the refusals (a running server's directory, a non-empty one, a
 * damaged file, a non-admin token); a stalled backup reader beside other
 * clients; sbctl verify online.
 */
#include "sb_test.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pack.h"
#include "server_harness.h"
#include "store_internal.h"

/* Small replies, so that a backup of a few hundred users takes many chunks. */
static const char *const small_replies[] = {"--durability",
                                            "none",
                                            "--write-low-bytes",
                                            "32768",
                                            "--write-high-bytes",
                                            "65536",
                                            "--write-cap-bytes",
                                            "196608",
                                            NULL};

/* Runs a shell command line; its output (stdout and stderr) into out. Returns the exit status. */
static int run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Calls `method`; fails the test unless it answers. *seq (may be NULL) is the reply's seq. */
static void call_ok(sb_client_t *c, const char *method, json_t *args, uint64_t *seq)
{
    msgpack_unpacked r;
    sb_err_t err;
    int rc = sb_client_call_json(c, method, args, &r, &err);
    if (rc != 0)
        fail_msg("%s: %s", method, err.message);
    const msgpack_object *s = sb_obj_get(&r.data, "seq");
    if (seq != NULL)
        *seq = s && s->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? s->via.u64 : 0;
    msgpack_unpacked_destroy(&r);
}

/* ---- backup under concurrent writers --------------------------------------------- */

#define WRITERS 2
#define MAX_ACKS 20000

typedef struct ack {
    unsigned user;
    bool member; /* member.add (else user.upsert) */
    uint64_t seq;
} ack_t;

typedef struct writer {
    sb_harness_t *h;
    unsigned index;
    atomic_bool *stop;
    ack_t acks[MAX_ACKS];
    atomic_size_t n; /* read by the test's thread while this one writes (ThreadSanitizer) */
} writer_t;

static void *write_loop(void *arg)
{
    writer_t *w = arg;
    sb_client_t c;
    sb_harness_client(w->h, &c, NULL);
    for (unsigned i = 0; !*w->stop && w->n + 2 <= MAX_ACKS; i++) {
        unsigned n = (w->index + 1) * 100000 + i;
        char uid[16];
        sb_test_user_id(n, uid);
        uint64_t seq;
        call_ok(&c, "user.upsert",
                json_pack("{s:s, s:s, s:s}", "org", "acme", "id", uid, "name", "U"), &seq);
        w->acks[w->n++] = (ack_t){n, false, seq};
        if (i % 2 == 0) {
            call_ok(
                &c, "member.add",
                json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Support", "user", uid),
                &seq);
            w->acks[w->n++] = (ack_t){n, true, seq};
        }
    }
    sb_client_close(&c);
    return NULL;
}

static void make_acme(sb_harness_t *h)
{
    sb_client_t c;
    sb_harness_client(h, &c, NULL);
    call_ok(&c, "org.create", json_pack("{s:s}", "org", "acme"), NULL);
    call_ok(&c, "callcenter.create",
            json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s}", "org", "acme", "internal_name",
                      "Support", "display_name", "Support", "adapter_url",
                      "https://cti.example.com", "softphone_height", 400, "softphone_width", 300,
                      "compatibility_mode", "Lightning"),
            NULL);
    sb_client_close(&c);
}

static void backup_under_writers_restores_exactly_its_writes(void **state)
{
    (void)state;
    sb_harness_t h;
    sb_harness_start(&h, NULL, small_replies);
    make_acme(&h);
    atomic_bool stop = false;
    static writer_t writers[WRITERS];
    pthread_t threads[WRITERS];
    for (unsigned w = 0; w < WRITERS; w++) {
        writers[w] = (writer_t){.h = &h, .index = w, .stop = &stop};
        assert_int_equal(pthread_create(&threads[w], NULL, write_loop, &writers[w]), 0);
    }
    while (writers[0].n + writers[1].n < 300) /* writes before, during and after */
        usleep(10000);

    char work[] = "/tmp/sbbackup.XXXXXX", out[16384];
    assert_non_null(mkdtemp(work));
    int rc = run(out, sizeof(out), "SB_TOKEN='%s' '%s' --socket '%s' backup '%s/acme.sbk'", h.token,
                 SB_SBCTL, h.socket, work);
    printf("# %s", out);
    assert_int_equal(rc, 0);
    const char *at = strstr(out, "every write up to change ");
    assert_non_null(at);
    uint64_t seq = strtoull(at + strlen("every write up to change "), NULL, 10);
    size_t before = writers[0].n + writers[1].n;
    while (writers[0].n + writers[1].n < before + 100)
        usleep(10000);
    stop = true;
    for (unsigned w = 0; w < WRITERS; w++)
        pthread_join(threads[w], NULL);
    assert_true(seq > 0);

    /* sbctl refuses to overwrite it without --force. */
    assert_int_equal(run(out, sizeof(out), "SB_TOKEN='%s' '%s' --socket '%s' backup '%s/acme.sbk'",
                         h.token, SB_SBCTL, h.socket, work),
                     2);
    assert_non_null(strstr(out, "--force"));

    rc = run(out, sizeof(out), "'%s' restore '%s/acme.sbk' '%s/restored'", SB_SBSTORE, work, work);
    printf("# %s", out);
    assert_int_equal(rc, 0);
    rc = run(out, sizeof(out), "'%s' verify '%s/restored'", SB_SBSTORE, work);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "clean"));

    /* Exactly the acknowledged writes up to seq, and nothing else. */
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/restored", work);
    sb_store_t *st = sb_test_open(dir);
    uint64_t first, last;
    sb_err_t err;
    assert_int_equal(sb_store_changes_range(st, &first, &last, &err), 0);
    assert_int_equal(last, seq);
    size_t users = 0, members = 0, later = 0;
    for (unsigned w = 0; w < WRITERS; w++) {
        for (size_t i = 0; i < writers[w].n; i++) {
            char uid[16];
            sb_test_user_id(writers[w].acks[i].user, uid);
            bool in = writers[w].acks[i].seq <= seq;
            later += !in;
            sb_sfid_t cc;
            int got = sb_store_member_lookup(st, "acme", uid, &cc, &err);
            if (writers[w].acks[i].member) {
                members += in;
                if (in ? got != 0 : got == 0)
                    fail_msg("member.add of %s (seq %llu) %s the backup at %llu", uid,
                             (unsigned long long)writers[w].acks[i].seq, in ? "missing from" : "in",
                             (unsigned long long)seq);
            } else {
                users += in;
                if (in ? got == -ENOENT : got != -ENOENT)
                    fail_msg("user.upsert of %s (seq %llu) %s the backup at %llu", uid,
                             (unsigned long long)writers[w].acks[i].seq, in ? "missing from" : "in",
                             (unsigned long long)seq);
            }
        }
    }
    sb_store_stats_t stats;
    assert_int_equal(sb_store_stats(st, &stats, &err), 0);
    assert_int_equal(stats.users, users);
    assert_int_equal(stats.members, members);
    assert_true(later > 0); /* writes went on after the backup's point */
    printf("# backup at %llu: %zu users, %zu members of it; %zu acknowledged writes after it\n",
           (unsigned long long)seq, users, members, later);
    sb_store_close(st);

    /* The server starts on the restored directory and serves its data. */
    sb_harness_t r = {.dir = dir};
    sb_harness_start(&r, dir, NULL);
    sb_client_t c;
    sb_harness_client(&r, &c, NULL);
    char uid[16];
    sb_test_user_id(writers[0].acks[0].user, uid);
    call_ok(&c, "user.get", json_pack("{s:s, s:s}", "org", "acme", "id", uid), NULL);
    sb_client_close(&c);
    assert_int_equal(sb_harness_stop(&r), 0); /* its directory is the work directory's */

    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
    run(out, sizeof(out), "rm -rf '%s'", work);
}

/* ---- restore's refusals -------------------------------------------------------- */

static void restore_refuses_in_use_non_empty_and_damaged(void **state)
{
    (void)state;
    sb_harness_t h;
    sb_harness_start(&h, NULL, small_replies);
    make_acme(&h);
    char work[] = "/tmp/sbbackup.XXXXXX", out[16384];
    assert_non_null(mkdtemp(work));
    assert_int_equal(run(out, sizeof(out), "SB_TOKEN='%s' '%s' --socket '%s' backup '%s/b.sbk'",
                         h.token, SB_SBCTL, h.socket, work),
                     0);

    /* The running server's own directory, even with --force. */
    assert_int_equal(
        run(out, sizeof(out), "'%s' restore '%s/b.sbk' '%s' --force", SB_SBSTORE, work, h.dir), 1);
    assert_non_null(strstr(out, "in use by a running server"));

    /* A directory with something in it. */
    assert_int_equal(
        run(out, sizeof(out), "mkdir '%s/full' && echo x > '%s/full/notes'", work, work), 0);
    assert_int_equal(
        run(out, sizeof(out), "'%s' restore '%s/b.sbk' '%s/full'", SB_SBSTORE, work, work), 1);
    assert_non_null(strstr(out, "not empty"));

    /* One flipped byte in the middle: the checksum catches it. */
    assert_int_equal(run(out, sizeof(out),
                         "cp '%s/b.sbk' '%s/flip.sbk' && printf '\\377' | dd of='%s/flip.sbk' "
                         "bs=1 seek=20000 conv=notrunc status=none",
                         work, work, work),
                     0);
    assert_int_equal(
        run(out, sizeof(out), "'%s' restore '%s/flip.sbk' '%s/r1'", SB_SBSTORE, work, work), 1);
    assert_non_null(strstr(out, "checksum does not match"));
    char path[400];
    snprintf(path, sizeof(path), "%s/r1/data.mdb", work);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0); /* nothing put in place */

    /* Cut short. */
    assert_int_equal(run(out, sizeof(out), "head -c 30000 '%s/b.sbk' > '%s/cut.sbk'", work, work),
                     0);
    assert_int_equal(
        run(out, sizeof(out), "'%s' restore '%s/cut.sbk' '%s/r2'", SB_SBSTORE, work, work), 1);
    assert_non_null(strstr(out, "cut short"));

    /* The server never noticed. */
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    call_ok(&c, "org.get", json_pack("{s:s}", "org", "acme"), NULL);
    sb_client_close(&c);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
    run(out, sizeof(out), "rm -rf '%s'", work);
}

/* ---- who may, and the stalled reader ------------------------------------------------ */

static void only_the_admin_backs_up_or_verifies(void **state)
{
    (void)state;
    sb_harness_t h;
    sb_harness_start(&h, NULL, small_replies);
    make_acme(&h);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    msgpack_unpacked r;
    sb_err_t err;
    assert_int_equal(
        sb_client_call_json(&c, "token.create",
                            json_pack("{s:s, s:s}", "org", "acme", "role", "org_admin"), &r, &err),
        0);
    char token[128];
    assert_int_equal(sb_obj_copy_str(sb_obj_get(&r.data, "token"), token, sizeof(token)), 0);
    msgpack_unpacked_destroy(&r);
    sb_client_close(&c);

    char work[] = "/tmp/sbbackup.XXXXXX", out[16384];
    assert_non_null(mkdtemp(work));
    assert_int_equal(run(out, sizeof(out), "SB_TOKEN='%s' '%s' --socket '%s' backup '%s/b.sbk'",
                         token, SB_SBCTL, h.socket, work),
                     1);
    printf("# org admin: %s", out);
    assert_null(strstr(out, "every write up to"));
    assert_non_null(strstr(out, "ACCESS_DENIED: server.backup needs the admin token"));
    assert_int_equal(
        run(out, sizeof(out), "test -e '%s/b.sbk' || test -e '%s/b.sbk.tmp'", work, work),
        1); /* nothing written */
    assert_int_equal(
        run(out, sizeof(out), "SB_TOKEN='%s' '%s' --socket '%s' verify", token, SB_SBCTL, h.socket),
        1);
    /* The admin's online verify: clean. */
    assert_int_equal(run(out, sizeof(out), "SB_TOKEN='%s' '%s' --socket '%s' verify", h.token,
                         SB_SBCTL, h.socket),
                     0);
    assert_non_null(strstr(out, "clean:"));
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
    run(out, sizeof(out), "rm -rf '%s'", work);
}

static void a_stalled_backup_reader_blocks_nobody(void **state)
{
    (void)state;
    sb_harness_t h;
    sb_harness_start(&h, NULL, small_replies);
    make_acme(&h);
    sb_client_t admin;
    sb_harness_client(&h, &admin, NULL);
    /* Enough users for a backup of many 64 KiB chunks. */
    json_t *users = json_array();
    for (unsigned i = 1; i <= 2000; i++) {
        char uid[16];
        sb_test_user_id(i, uid);
        json_array_append_new(users, json_pack("{s:s, s:s, s:s}", "id", uid, "name",
                                               "A user with a longish name", "profile", "Agent"));
    }
    call_ok(&admin, "user.upsert_bulk", json_pack("{s:s, s:o}", "org", "acme", "users", users),
            NULL);

    /* The slow reader: starts a backup, takes one chunk, then stops reading. */
    sb_client_t slow;
    sb_harness_client(&h, &slow, NULL);
    msgpack_unpacked r;
    sb_err_t err;
    assert_int_equal(sb_client_call_json(&slow, "server.backup", NULL, &r, &err), 0);
    char id[64];
    assert_int_equal(sb_obj_copy_str(sb_obj_get(&r.data, "backup"), id, sizeof(id)), 0);
    uint64_t bytes = sb_obj_get(&r.data, "bytes")->via.u64;
    uint64_t chunk = sb_obj_get(&r.data, "chunk_bytes")->via.u64;
    msgpack_unpacked_destroy(&r);
    assert_true(bytes > 4 * chunk);
    assert_int_equal(sb_client_call_json(&slow, "server.backup_read",
                                         json_pack("{s:s, s:i}", "backup", id, "offset", 0), &r,
                                         &err),
                     0);
    assert_int_equal(sb_obj_get(&r.data, "data")->via.bin.size, chunk);
    msgpack_unpacked_destroy(&r);

    /* Meanwhile: writes and reads go on, and a second backup waits its turn. */
    double t0 = now_s();
    for (unsigned i = 0; i < 50; i++) {
        char uid[16];
        sb_test_user_id(5000 + i, uid);
        call_ok(&admin, "user.upsert",
                json_pack("{s:s, s:s, s:s}", "org", "acme", "id", uid, "name", "New"), NULL);
        call_ok(&admin, "user.get", json_pack("{s:s, s:s}", "org", "acme", "id", uid), NULL);
    }
    double took = now_s() - t0;
    printf("# 100 calls beside a stalled backup reader: %.3f s\n", took);
    assert_true(took < 20); /* a stalled reader would hold them forever; loose for loaded CI */
    assert_int_equal(sb_client_call_json(&admin, "server.backup", NULL, &r, &err),
                     SB_CLIENT_REFUSED);
    assert_string_equal(sb_client_error_name(&admin), "BACKUP_IN_PROGRESS");
    msgpack_unpacked_destroy(&r);

    /* The slow reader resumes and gets the rest, ending the backup. */
    uint64_t at = chunk;
    bool last = false;
    while (!last) {
        assert_int_equal(
            sb_client_call_json(&slow, "server.backup_read",
                                json_pack("{s:s, s:I}", "backup", id, "offset", (json_int_t)at), &r,
                                &err),
            0);
        at += sb_obj_get(&r.data, "data")->via.bin.size;
        last = sb_obj_get(&r.data, "last")->via.boolean;
        msgpack_unpacked_destroy(&r);
    }
    assert_int_equal(at, bytes);
    /* Over: its id reads no more, and a new backup may start. */
    assert_int_equal(sb_client_call_json(&slow, "server.backup_read",
                                         json_pack("{s:s, s:i}", "backup", id, "offset", 0), &r,
                                         &err),
                     SB_CLIENT_REFUSED);
    assert_string_equal(sb_client_error_name(&slow), "BACKUP_GONE");
    msgpack_unpacked_destroy(&r);
    sb_client_close(&slow);
    sb_client_close(&admin);
    char work[] = "/tmp/sbbackup.XXXXXX", out[4096];
    assert_non_null(mkdtemp(work));
    assert_int_equal(run(out, sizeof(out), "SB_TOKEN='%s' '%s' --socket '%s' backup '%s/b.sbk'",
                         h.token, SB_SBCTL, h.socket, work),
                     0);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
    run(out, sizeof(out), "rm -rf '%s'", work);
}

/* ---- sbstore verify's exit status on a damaged copy ------------------------------------ */

static void sbstore_verify_reports_a_damaged_store(void **state)
{
    (void)state;
    sb_harness_t h;
    sb_harness_start(&h, NULL, small_replies);
    make_acme(&h);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    call_ok(&c, "user.upsert",
            json_pack("{s:s, s:s, s:s}", "org", "acme", "id", "005000000000001", "name", "Ada"),
            NULL);
    call_ok(&c, "member.add",
            json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Support", "user",
                      "005000000000001"),
            NULL);
    sb_client_close(&c);
    assert_int_equal(sb_harness_stop(&h), 0);

    char out[16384];
    assert_int_equal(run(out, sizeof(out), "'%s' verify '%s'", SB_SBSTORE, h.dir), 0);
    /* Behind the store's back: the member list loses Ada, her membership stays. */
    sb_store_t *st = sb_test_open(h.dir);
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    assert_int_equal(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, st->cc_members, &cur), 0);
    assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
    assert_int_equal(mdb_cursor_del(cur, 0), 0);
    mdb_cursor_close(cur);
    assert_int_equal(mdb_txn_commit(txn), 0);
    sb_store_close(st);
    assert_int_equal(run(out, sizeof(out), "'%s' verify '%s'", SB_SBSTORE, h.dir), 1);
    printf("# %s", out);
    assert_non_null(strstr(out, "problem  user_cc acme/005000000000001AAA"));
    assert_non_null(strstr(out, "what to do"));
    assert_non_null(strstr(out, "PROBLEMS: "));
    /* Online too: the server started on it says the same, and sbctl exits 1. */
    sb_harness_start(&h, h.dir, NULL);
    assert_int_equal(run(out, sizeof(out), "SB_TOKEN='%s' '%s' --socket '%s' verify", h.token,
                         SB_SBCTL, h.socket),
                     1);
    assert_non_null(strstr(out, "problem  user_cc acme/005000000000001AAA"));
    /* A backup of it copies the damage, and restore refuses to put it in place. */
    char work[] = "/tmp/sbbackup.XXXXXX";
    assert_non_null(mkdtemp(work));
    assert_int_equal(run(out, sizeof(out), "SB_TOKEN='%s' '%s' --socket '%s' backup '%s/b.sbk'",
                         h.token, SB_SBCTL, h.socket, work),
                     0);
    assert_int_equal(
        run(out, sizeof(out), "'%s' restore '%s/b.sbk' '%s/r'", SB_SBSTORE, work, work), 1);
    assert_non_null(strstr(out, "holds the problems listed above"));
    char path[400];
    snprintf(path, sizeof(path), "%s/r/data.mdb", work);
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
    run(out, sizeof(out), "rm -rf '%s'", work);
}

int main(void)
{
    /* Line by line: the harness's fork would otherwise write a pending buffer twice. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backup_under_writers_restores_exactly_its_writes),
        cmocka_unit_test(restore_refuses_in_use_non_empty_and_damaged),
        cmocka_unit_test(only_the_admin_backs_up_or_verifies),
        cmocka_unit_test(a_stalled_backup_reader_blocks_nobody),
        cmocka_unit_test(sbstore_verify_reports_a_damaged_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
