/*
 * Several event loops (--loops): connections spread over them, and what is
 * server-wide stays so across them: an org's share of the connection slots,
 * a revocation closing every connection of the token, a watcher on one loop
 * woken by a write made on another, and a stop that ends every loop.
 */
#include "sb_test.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "message.h"
#include "server_harness.h"

/* Calls and returns the outcome's name: "OK", the error's name, or "CLOSED". */
static const char *call(sb_client_t *c, const char *method, json_t *args, msgpack_unpacked *out)
{
    static char name[64];
    msgpack_unpacked local;
    sb_err_t err;
    sb_err_clear(&err);
    int rc = sb_client_call_json(c, method, args, out ? out : &local, &err);
    if (rc == 0)
        snprintf(name, sizeof(name), "OK");
    else if (rc == SB_CLIENT_REFUSED)
        snprintf(name, sizeof(name), "%s", c->error_name);
    else
        snprintf(name, sizeof(name), "CLOSED");
    if (out == NULL && rc == 0)
        msgpack_unpacked_destroy(&local);
    return name;
}

static void make_token(sb_client_t *admin, const char *org, char *out, char *id)
{
    msgpack_unpacked r;
    assert_string_equal(
        call(admin, "token.create", json_pack("{s:s, s:s}", "org", org, "role", "org_admin"), &r),
        "OK");
    const msgpack_object *t = sb_obj_get(&r.data, "token");
    const msgpack_object *i = sb_obj_get(&r.data, "id");
    assert_non_null(t);
    assert_non_null(i);
    snprintf(out, 128, "%.*s", (int)t->via.str.size, t->via.str.ptr);
    if (id != NULL)
        snprintf(id, 64, "%.*s", (int)i->via.str.size, i->via.str.ptr);
    msgpack_unpacked_destroy(&r);
}

/* server.info's connections per loop (the admin's view), into counts[]; returns the loops. */
static unsigned loop_counts(sb_client_t *admin, size_t *counts, unsigned max)
{
    msgpack_unpacked r;
    assert_string_equal(call(admin, "server.info", NULL, &r), "OK");
    const msgpack_object *loops = sb_obj_get(&r.data, "loops");
    assert_non_null(loops);
    assert_int_equal(loops->type, MSGPACK_OBJECT_ARRAY);
    unsigned n = loops->via.array.size;
    assert_true(n <= max);
    for (unsigned i = 0; i < n; i++) {
        const msgpack_object *c = sb_obj_get(&loops->via.array.ptr[i], "connections");
        assert_non_null(c);
        counts[i] = (size_t)c->via.u64;
    }
    msgpack_unpacked_destroy(&r);
    return n;
}

static void connections_spread_over_loops(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", "--loops", "3", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t c[6];
    for (int i = 0; i < 6; i++)
        sb_harness_client(&h, &c[i], NULL);
    size_t counts[8];
    assert_int_equal(loop_counts(&c[0], counts, 8), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(counts[i], 2);
    /* Every loop answers, the softphone checks included (they run outside the server's lock). */
    assert_string_equal(call(&c[0], "org.create", json_pack("{s:s}", "org", "acme"), NULL), "OK");
    for (int i = 0; i < 6; i++) {
        assert_string_equal(call(&c[i], "org.get", json_pack("{s:s}", "org", "acme"), NULL), "OK");
        assert_string_equal(
            call(&c[i], "softphone.check",
                 json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000001AAA"), NULL),
            "OK");
    }
    /* A loop whose connections closed takes the next ones. */
    sb_client_close(&c[1]);
    sb_client_close(&c[4]);
    for (int tries = 0; tries < 200; tries++) { /* the server sees the hang-ups */
        loop_counts(&c[0], counts, 8);
        if (counts[0] + counts[1] + counts[2] == 4)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sb_client_t again[2];
    for (int i = 0; i < 2; i++)
        sb_harness_client(&h, &again[i], NULL);
    assert_int_equal(loop_counts(&c[0], counts, 8), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(counts[i], 2);
    for (int i = 0; i < 6; i++)
        if (i != 1 && i != 4)
            sb_client_close(&c[i]);
    sb_client_close(&again[0]);
    sb_client_close(&again[1]);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

static void org_share_and_revocation_span_loops(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {
        "--durability", "none", "--loops", "2", "--max-connections-per-org", "2", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t admin;
    sb_harness_client(&h, &admin, NULL);
    assert_string_equal(call(&admin, "org.create", json_pack("{s:s}", "org", "acme"), NULL), "OK");
    char token[128], token_id[64];
    make_token(&admin, "acme", token, token_id);
    sb_client_t t[3];
    sb_harness_client(&h, &t[0], token);
    sb_harness_client(&h, &t[1], token);
    size_t counts[4];
    assert_int_equal(loop_counts(&admin, counts, 4), 2);
    /* One loop has the admin's and one of the org's, the other the other
     * (the least loaded loop takes a connection; among equals, the next). */
    assert_int_equal(counts[0] + counts[1], 3);
    assert_true(counts[0] == 1 || counts[1] == 1);
    /* The org's third connection is refused, whichever loop it lands on. */
    sb_err_t err;
    assert_int_equal(sb_client_open(&t[2], h.socket, &err), 0);
    assert_int_equal(sb_client_authenticate(&t[2], token), SB_CLIENT_REFUSED);
    assert_string_equal(t[2].error_name, "CONNECTION_LIMIT");
    sb_client_close(&t[2]);

    /* Revoking the token closes its connections on both loops. */
    assert_string_equal(call(&admin, "token.revoke", json_pack("{s:s}", "id", token_id), NULL),
                        "OK");
    for (int i = 0; i < 2; i++) {
        assert_string_equal(call(&t[i], "org.get", json_pack("{s:s}", "org", "acme"), NULL),
                            "CLOSED");
        sb_client_close(&t[i]);
    }
    assert_string_equal(call(&admin, "server.info", NULL, NULL), "OK");
    sb_client_close(&admin);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

static void a_watch_hears_writes_of_another_loop(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", "--loops", "2", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t admin, watcher;
    sb_harness_client(&h, &admin, NULL);
    sb_harness_client(&h, &watcher, NULL);
    size_t counts[4];
    assert_int_equal(loop_counts(&admin, counts, 4), 2);
    assert_int_equal(counts[0], 1);
    assert_int_equal(counts[1], 1); /* the watcher is on the second loop, the writer on the first */
    assert_string_equal(call(&watcher, "changes.watch", json_pack("{s:i}", "from", 1), NULL), "OK");
    /* Each write wakes the watcher's loop at once: twenty writes, each
     * waiting for its notification, take far less than the 20 s they would
     * if only the watcher's loop's once-a-second tick found them (10 s on
     * average). */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 20; i++) {
        char org[16];
        snprintf(org, sizeof(org), "org%d", i);
        assert_string_equal(call(&admin, "org.create", json_pack("{s:s}", "org", org), NULL), "OK");
        /* The admin's watch: one notification a write. */
        const msgpack_object *msg = NULL;
        if (sb_client_next(&watcher, &msg) != 0)
            fail_msg("no notification: %s", sb_client_error_message(&watcher));
        assert_int_equal(msg->via.array.ptr[0].via.u64, SB_RPC_NOTIFICATION);
        const msgpack_object *name = &msg->via.array.ptr[1];
        assert_int_equal(name->via.str.size, 7);
        assert_memory_equal(name->via.str.ptr, "changes", 7);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (took > 6.0)
        fail_msg("20 writes and their notifications took %.1f s", took);
    sb_client_close(&watcher);
    sb_client_close(&admin);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

static void a_stop_ends_every_loop(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", "--loops", "3", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t c[5];
    for (int i = 0; i < 5; i++)
        sb_harness_client(&h, &c[i], NULL);
    size_t counts[4];
    assert_int_equal(loop_counts(&c[0], counts, 4), 3);
    for (int i = 0; i < 3; i++)
        assert_true(counts[i] >= 1);
    /* SIGTERM with connections open on every loop: each loop closes its
     * own, and the server exits 0 (a loop left running would hold it). */
    assert_int_equal(sb_harness_stop(&h), 0);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(call(&c[i], "server.info", NULL, NULL), "CLOSED");
        sb_client_close(&c[i]);
    }
    sb_harness_cleanup(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connections_spread_over_loops),
        cmocka_unit_test(org_share_and_revocation_span_loops),
        cmocka_unit_test(a_watch_hears_writes_of_another_loop),
        cmocka_unit_test(a_stop_ends_every_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
