/*
 * The audit trail and watches through a real switchboardd: audit.list and
 * changes.watch keep each org to its own writes (and to its own numbering,
 * never the global sequence), a watch resumed from a number misses nothing
 * and repeats nothing while writers run, a watcher that never reads is cut
 * while the server serves others, a watch behind the kept log is told the
 * first number kept, pages follow each other, and "who removed Ada from the
 * EU Call Center, and when" is one sbctl command.
 */
#include "sb_test.h"

#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "message.h"
#include "methods.h"
#include "server_harness.h"

/* Calls `method` and expects `want` ("OK" or an error name); *out (may be NULL) keeps the result.
 */
static void call(sb_client_t *c, const char *method, json_t *args, const char *want,
                 msgpack_unpacked *out)
{
    msgpack_unpacked local;
    msgpack_unpacked *r = out ? out : &local;
    sb_err_t err;
    sb_err_clear(&err);
    int rc = sb_client_call_json(c, method, args, r, &err);
    const char *got = rc == 0 ? "OK" : rc == SB_CLIENT_REFUSED ? c->error_name : "TRANSPORT";
    if (strcmp(got, want) != 0)
        fail_msg("%s: got %s (%s), want %s", method, got, err.message, want);
    if (out == NULL)
        msgpack_unpacked_destroy(&local);
}

static uint64_t num(const msgpack_object *map, const char *key)
{
    const msgpack_object *v = sb_obj_get(map, key);
    return v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : UINT64_MAX;
}

static bool str_eq(const msgpack_object *map, const char *key, const char *want)
{
    const msgpack_object *v = sb_obj_get(map, key);
    return v && v->type == MSGPACK_OBJECT_STR && v->via.str.size == strlen(want) &&
           memcmp(v->via.str.ptr, want, v->via.str.size) == 0;
}

static void make_token(sb_client_t *admin, const char *org, char *out, char *id)
{
    msgpack_unpacked r;
    call(admin, "token.create", json_pack("{s:s, s:s}", "org", org, "role", "org_admin"), "OK", &r);
    const msgpack_object *t = sb_obj_get(&r.data, "token");
    const msgpack_object *i = sb_obj_get(&r.data, "id");
    assert_non_null(t);
    snprintf(out, 128, "%.*s", (int)t->via.str.size, t->via.str.ptr);
    if (id != NULL)
        snprintf(id, 64, "%.*s", (int)i->via.str.size, i->via.str.ptr);
    msgpack_unpacked_destroy(&r);
}

static void user_id(int n, char out[19])
{
    snprintf(out, 19, "005%012dAAA", n);
}

static void upsert(sb_client_t *c, const char *org, int n, msgpack_unpacked *out)
{
    char id[19];
    user_id(n, id);
    call(c, "user.upsert", json_pack("{s:s, s:s, s:s}", "org", org, "id", id, "name", "U"), "OK",
         out);
}

/* The next notification on a watching client: its params map, or fails. */
static const msgpack_object *next_change(sb_client_t *c)
{
    const msgpack_object *msg = NULL;
    int rc = sb_client_next(c, &msg);
    if (rc != 0)
        fail_msg("no notification: %s", sb_client_error_message(c));
    assert_int_equal(msg->via.array.size, 3);
    assert_int_equal(msg->via.array.ptr[0].via.u64, SB_RPC_NOTIFICATION);
    const msgpack_object *name = &msg->via.array.ptr[1];
    if (name->via.str.size != 7 || memcmp(name->via.str.ptr, "changes", 7) != 0)
        fail_msg("a notification %.*s", (int)name->via.str.size, name->via.str.ptr);
    return &msg->via.array.ptr[2];
}

/* Whether a notification arrives on `c` within `ms`. */
static bool readable_within(sb_client_t *c, int ms)
{
    struct pollfd p = {sb_client_fd(c), POLLIN, 0};
    return c->len - c->start > c->consumed || poll(&p, 1, ms) > 0; /* buffered, or on the socket */
}

/* ---- isolation ------------------------------------------------------------------ */

static void each_org_sees_its_own_writes_and_numbers(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t admin, acme, globex;
    sb_harness_client(&h, &admin, NULL);
    call(&admin, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    call(&admin, "org.create", json_pack("{s:s}", "org", "globex"), "OK", NULL);
    char acme_token[128], globex_token[128];
    make_token(&admin, "acme", acme_token, NULL);
    make_token(&admin, "globex", globex_token, NULL);
    sb_harness_client(&h, &acme, acme_token);
    sb_harness_client(&h, &globex, globex_token);

    /* Watchers of each org, from the start. */
    sb_client_t watch_acme, watch_globex;
    sb_harness_client(&h, &watch_acme, acme_token);
    sb_harness_client(&h, &watch_globex, globex_token);
    call(&watch_acme, "changes.watch", json_pack("{s:i}", "from", 1), "OK", NULL);
    call(&watch_globex, "changes.watch", json_pack("{}"), "OK", NULL);
    call(&watch_acme, "changes.watch", json_pack("{s:s}", "org", "globex"), "NOT_FOUND", NULL);
    call(&admin, "changes.watch", json_pack("{s:s}", "org", "nosuchorg"), "NOT_FOUND", NULL);

    /* Interleaved writes: each org's replies count its own writes, 1, 2, 3...,
     * and an org's token never sees the global seq; the admin sees both. */
    msgpack_unpacked r;
    for (int i = 1; i <= 5; i++) {
        upsert(&acme, "acme", i, &r);
        assert_int_equal(num(&r.data, "org_seq"), (uint64_t)i);
        assert_null(sb_obj_get(&r.data, "seq"));
        msgpack_unpacked_destroy(&r);
        upsert(&globex, "globex", i, &r);
        assert_int_equal(num(&r.data, "org_seq"), (uint64_t)i);
        assert_null(sb_obj_get(&r.data, "seq"));
        msgpack_unpacked_destroy(&r);
    }
    upsert(&admin, "acme", 6, &r);
    assert_int_equal(num(&r.data, "org_seq"), 6);
    assert_true(num(&r.data, "seq") > 6); /* every org's writes and the tokens' count */
    msgpack_unpacked_destroy(&r);

    /* audit.list: acme's own writes, newest first, numbered 6..1, no global seq. */
    call(&acme, "audit.list", json_pack("{s:s}", "org", "acme"), "OK", &r);
    const msgpack_object *entries = sb_obj_get(&r.data, "entries");
    assert_int_equal(entries->via.array.size, 6);
    for (uint32_t i = 0; i < 6; i++) {
        const msgpack_object *e = &entries->via.array.ptr[i];
        assert_true(str_eq(e, "org", "acme"));
        assert_int_equal(num(e, "org_seq"), 6 - i);
        assert_null(sb_obj_get(e, "seq"));
        assert_true(str_eq(e, "method", "user.upsert"));
    }
    msgpack_unpacked_destroy(&r);
    call(&acme, "audit.list", json_pack("{}"), "OK", &r); /* its own org by default */
    assert_int_equal(sb_obj_get(&r.data, "entries")->via.array.size, 6);
    msgpack_unpacked_destroy(&r);
    call(&acme, "audit.list", json_pack("{s:s}", "org", "globex"), "NOT_FOUND", NULL);
    call(&acme, "audit.list", json_pack("{s:s}", "org", "nosuchorg"), "NOT_FOUND", NULL);
    /* The admin: every org, with both numbers. */
    call(&admin, "audit.list", json_pack("{s:s}", "method", "user.upsert"), "OK", &r);
    entries = sb_obj_get(&r.data, "entries");
    assert_int_equal(entries->via.array.size, 11);
    for (uint32_t i = 0; i < entries->via.array.size; i++)
        assert_true(num(&entries->via.array.ptr[i], "seq") != UINT64_MAX);
    msgpack_unpacked_destroy(&r);

    /* The watchers: acme's 6 writes in order on acme's, globex's 5 on globex's. */
    for (uint64_t i = 1; i <= 6; i++) {
        const msgpack_object *n = next_change(&watch_acme);
        assert_true(str_eq(n, "org", "acme"));
        assert_int_equal(num(n, "seq"), i);
        assert_null(sb_obj_get(n, "log_seq"));
        assert_null(sb_obj_get(n, "org_seq"));
    }
    for (uint64_t i = 1; i <= 5; i++) {
        const msgpack_object *n = next_change(&watch_globex);
        assert_true(str_eq(n, "org", "globex"));
        assert_int_equal(num(n, "seq"), i);
    }
    assert_false(readable_within(&watch_acme, 200));
    assert_false(readable_within(&watch_globex, 50));

    sb_client_close(&watch_acme);
    sb_client_close(&watch_globex);
    sb_client_close(&acme);
    sb_client_close(&globex);
    sb_client_close(&admin);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* An org deleted and made again under its id (another tenant, perhaps) goes
 * on with the numbers, but its tokens see none of the earlier org's writes. */
static void a_new_org_under_an_old_id_sees_only_its_own(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t admin, old, fresh, w;
    sb_harness_client(&h, &admin, NULL);
    call(&admin, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    char token[128];
    make_token(&admin, "acme", token, NULL);
    sb_harness_client(&h, &old, token);
    for (int i = 1; i <= 3; i++)
        upsert(&old, "acme", i, NULL);
    sb_client_close(&old);
    call(&admin, "org.delete", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    struct timespec tick = {0, 5000000}; /* the new org is created a few ms later */
    nanosleep(&tick, NULL);
    call(&admin, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    make_token(&admin, "acme", token, NULL);
    sb_harness_client(&h, &fresh, token);
    msgpack_unpacked r;
    upsert(&fresh, "acme", 10, &r);
    /* The numbers go on: 1 to 3 the upserts, 4 the org's delete, 5 this. */
    assert_int_equal(num(&r.data, "org_seq"), 5);
    msgpack_unpacked_destroy(&r);
    call(&fresh, "audit.list", json_pack("{}"), "OK", &r);
    const msgpack_object *entries = sb_obj_get(&r.data, "entries");
    assert_int_equal(entries->via.array.size, 1);
    assert_int_equal(num(&entries->via.array.ptr[0], "org_seq"), 5);
    msgpack_unpacked_destroy(&r);
    sb_harness_client(&h, &w, token);
    call(&w, "changes.watch", json_pack("{s:i}", "from", 1), "OK", NULL);
    const msgpack_object *n = next_change(&w);
    assert_int_equal(num(n, "seq"), 5);
    assert_false(readable_within(&w, 200));
    /* The admin still sees every write of both. */
    call(&admin, "audit.list", json_pack("{s:s}", "org", "acme"), "OK", &r);
    assert_int_equal(sb_obj_get(&r.data, "entries")->via.array.size, 5);
    msgpack_unpacked_destroy(&r);
    sb_client_close(&w);
    sb_client_close(&fresh);
    sb_client_close(&admin);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* ---- a resumed watch, with writers running ---------------------------------------- */

#define WRITERS 2
#define WRITES_EACH 150

typedef struct writer_arg {
    sb_harness_t *h;
    const char *token;
    int first;
} writer_arg_t;

static void *writer_main(void *varg)
{
    writer_arg_t *a = varg;
    sb_client_t c;
    sb_harness_client(a->h, &c, a->token);
    for (int i = 0; i < WRITES_EACH; i++)
        upsert(&c, "acme", a->first + i, NULL);
    sb_client_close(&c);
    return NULL;
}

static void a_resumed_watch_misses_nothing(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t admin;
    sb_harness_client(&h, &admin, NULL);
    call(&admin, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    char token[128];
    make_token(&admin, "acme", token, NULL);
    sb_client_close(&admin);

    pthread_t threads[WRITERS];
    writer_arg_t args[WRITERS];
    for (int t = 0; t < WRITERS; t++) {
        args[t] = (writer_arg_t){&h, token, 1 + t * WRITES_EACH};
        assert_int_equal(pthread_create(&threads[t], NULL, writer_main, &args[t]), 0);
    }
    /* seen[n]: how many times org_seq n came; users[k]: user k's writes seen. */
    int total = WRITERS * WRITES_EACH;
    int *seen = calloc((size_t)total + 2, sizeof(int));
    int *users = calloc((size_t)total + 2, sizeof(int));
    uint64_t next = 1;
    /* Three watches in turn, each cut after a share, each resumed from the
     * number after the last one it delivered. */
    for (int round = 0; round < 3; round++) {
        sb_client_t w;
        sb_harness_client(&h, &w, token);
        call(&w, "changes.watch", json_pack("{s:i}", "from", (json_int_t)next), "OK", NULL);
        int share = round < 2 ? total / 3 : total - (int)next + 1;
        for (int i = 0; i < share; i++) {
            const msgpack_object *n = next_change(&w);
            uint64_t seq = num(n, "seq");
            assert_int_equal(seq, next); /* in order, nothing skipped */
            assert_true(seq <= (uint64_t)total);
            seen[seq]++;
            const msgpack_object *ids = sb_obj_get(n, "ids");
            assert_int_equal(ids->via.array.size, 1);
            int k = atoi(ids->via.array.ptr[0].via.str.ptr + 3);
            assert_true(k >= 1 && k <= total);
            users[k]++;
            next = seq + 1;
        }
        sb_client_close(&w);
    }
    for (int t = 0; t < WRITERS; t++)
        pthread_join(threads[t], NULL);
    for (int i = 1; i <= total; i++) {
        assert_int_equal(seen[i], 1);
        assert_int_equal(users[i], 1);
    }
    free(seen);
    free(users);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* Many watchers catching up at once share the loop's turns (a budget per
 * turn, resumed after the last one served): each gets every write, in order. */
static void many_watchers_catch_up_together(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t admin;
    sb_harness_client(&h, &admin, NULL);
    call(&admin, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    /* Bulk writes: a pass reads up to 1 MiB of them, past one turn's budget. */
    enum { WRITES = 60, WATCHERS = 12 };
    for (int b = 0; b < WRITES; b++) {
        json_t *rows = json_array();
        for (int i = 0; i < 200; i++) {
            char id[19];
            user_id(b * 200 + i + 1, id);
            json_array_append_new(rows, json_pack("{s:s, s:s}", "id", id, "name", "U"));
        }
        call(&admin, "user.upsert_bulk", json_pack("{s:s, s:o}", "org", "acme", "users", rows),
             "OK", NULL);
    }
    sb_client_t w[WATCHERS];
    for (int k = 0; k < WATCHERS; k++) {
        sb_harness_client(&h, &w[k], NULL);
        call(&w[k], "changes.watch", json_pack("{s:s, s:i}", "org", "acme", "from", 1), "OK", NULL);
    }
    for (int k = 0; k < WATCHERS; k++) {
        for (uint64_t i = 1; i <= WRITES; i++) {
            if (!readable_within(&w[k], 10000))
                fail_msg("watcher %d waits for write %llu", k, (unsigned long long)i);
            assert_int_equal(num(next_change(&w[k]), "seq"), i);
        }
        sb_client_close(&w[k]);
    }
    sb_client_close(&admin);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* ---- a watcher that never reads ---------------------------------------------------- */

static size_t pack_request(msgpack_sbuffer *buf, uint32_t msgid, const char *method,
                           const char *key, const char *text, int64_t number)
{
    msgpack_sbuffer_clear(buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_uint32(&pk, msgid);
    sb_pack_str(&pk, method);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 1);
    sb_pack_str(&pk, key);
    if (text != NULL)
        sb_pack_str(&pk, text);
    else
        msgpack_pack_int64(&pk, number);
    return buf->size;
}

static void a_watcher_that_never_reads_is_cut(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability",
                                        "none",
                                        "--write-high-bytes",
                                        "65536",
                                        "--write-low-bytes",
                                        "16384",
                                        "--write-cap-bytes",
                                        "1048576",
                                        "--write-stall-ms",
                                        "1000",
                                        NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t admin;
    sb_harness_client(&h, &admin, NULL);
    call(&admin, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    /* 60 bulk writes of 1000 users: 60 notifications of 1000 keys, about
     * 2 MB, past the cap: sent all at once, they would close the connection
     * for passing --write-cap-bytes instead of pausing at the high mark. */
    for (int b = 0; b < 60; b++) {
        json_t *rows = json_array();
        for (int i = 0; i < 1000; i++) {
            char id[19];
            user_id(b * 1000 + i + 1, id);
            json_array_append_new(rows, json_pack("{s:s, s:s}", "id", id, "name", "U"));
        }
        call(&admin, "user.upsert_bulk", json_pack("{s:s, s:o}", "org", "acme", "users", rows),
             "OK", NULL);
    }
    int fd = sb_harness_raw(&h);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    pack_request(&buf, 1, "token.authenticate", "token", h.token, 0);
    assert_int_equal(sb_frame_send_all(fd, buf.data, buf.size), 0);
    msgpack_sbuffer_clear(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_uint32(&pk, 2);
    sb_pack_str(&pk, "changes.watch");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 2);
    sb_pack_kv_str(&pk, "org", "acme");
    sb_pack_kv_uint(&pk, "from", 1);
    assert_int_equal(sb_frame_send_all(fd, buf.data, buf.size), 0);
    /* Never read: paused at the high mark, then cut after --write-stall-ms. */
    struct timespec wait = {2, 500000000};
    nanosleep(&wait, NULL);
    sb_client_t other;
    sb_harness_client(&h, &other, NULL);
    call(&other, "server.info", NULL, "OK", NULL);
    upsert(&other, "acme", 99999, NULL);
    sb_client_close(&other);
    assert_true(sb_harness_closed_within(fd, 3000));
    char cmd[4300];
    snprintf(cmd, sizeof(cmd),
             "grep -q 'not read its replies' %s/server.log && ! grep -q 'passed --write-cap-bytes' "
             "%s/server.log",
             h.dir, h.dir);
    assert_int_equal(system(cmd), 0);
    close(fd);
    msgpack_sbuffer_destroy(&buf);
    sb_client_close(&admin);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* ---- behind the log, and pages ----------------------------------------------------- */

static void behind_the_log_and_pages(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", "--changes-keep", "20", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t admin, acme;
    sb_harness_client(&h, &admin, NULL);
    call(&admin, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    char token[128];
    make_token(&admin, "acme", token, NULL);
    sb_harness_client(&h, &acme, token);
    for (int i = 1; i <= 60; i++)
        upsert(&acme, "acme", i, NULL);

    /* The log keeps about 20 entries: watching from 1 is refused, naming the
     * first kept, from which a watch starts and runs to the last. */
    call(&acme, "changes.watch", json_pack("{s:i}", "from", 1), "CHANGES_TRIMMED", NULL);
    const char *at = strstr(sb_client_error_message(&acme), "the first kept is ");
    assert_non_null(at);
    uint64_t first = strtoull(at + strlen("the first kept is "), NULL, 10);
    assert_true(first > 30 && first <= 60);
    call(&acme, "changes.watch", json_pack("{s:i}", "from", (json_int_t)first - 1),
         "CHANGES_TRIMMED", NULL);
    call(&acme, "changes.watch", json_pack("{s:i}", "from", 62), "INVALID_ARGUMENT", NULL);
    sb_client_t w;
    sb_harness_client(&h, &w, token);
    call(&w, "changes.watch", json_pack("{s:i}", "from", (json_int_t)first), "OK", NULL);
    for (uint64_t i = first; i <= 60; i++)
        assert_int_equal(num(next_change(&w), "seq"), i);
    sb_client_close(&w);

    /* Pages of 7, newest first, each from the last page's next: every kept
     * write once, in order, and the trimmed ones are not listed. */
    uint64_t expect = 60, cursor = 0;
    int pages = 0;
    for (;;) {
        msgpack_unpacked r;
        json_t *args = json_pack("{s:i}", "limit", 7);
        if (cursor)
            json_object_set_new(args, "cursor", json_integer((json_int_t)cursor));
        call(&acme, "audit.list", args, "OK", &r);
        const msgpack_object *entries = sb_obj_get(&r.data, "entries");
        for (uint32_t i = 0; i < entries->via.array.size; i++)
            assert_int_equal(num(&entries->via.array.ptr[i], "org_seq"), expect--);
        const msgpack_object *more = sb_obj_get(&r.data, "more");
        pages++;
        bool again = more->via.boolean;
        if (again) {
            assert_int_equal(entries->via.array.size, 7);
            cursor = num(&r.data, "next");
        }
        msgpack_unpacked_destroy(&r);
        if (!again)
            break;
    }
    assert_int_equal(expect, first - 1);
    assert_int_equal(pages, (int)((60 - first + 1 + 6) / 7));
    /* Oldest first, and a bad limit. */
    msgpack_unpacked r;
    call(&acme, "audit.list", json_pack("{s:b, s:i}", "oldest_first", 1, "limit", 1), "OK", &r);
    assert_int_equal(num(&sb_obj_get(&r.data, "entries")->via.array.ptr[0], "org_seq"), first);
    msgpack_unpacked_destroy(&r);
    call(&acme, "audit.list", json_pack("{s:i}", "limit", 0), "INVALID_ARGUMENT", NULL);
    call(&acme, "audit.list", json_pack("{s:s}", "since", "yesterday"), "INVALID_ARGUMENT", NULL);

    sb_client_close(&acme);
    sb_client_close(&admin);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* ---- who removed Ada? ------------------------------------------------------------- */

static void who_removed_ada_is_one_command(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t admin, ops, intern;
    sb_harness_client(&h, &admin, NULL);
    call(&admin, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    char ops_token[128], ops_id[64], intern_token[128], intern_id[64];
    make_token(&admin, "acme", ops_token, ops_id);
    make_token(&admin, "acme", intern_token, intern_id);
    sb_harness_client(&h, &ops, ops_token);
    sb_harness_client(&h, &intern, intern_token);
    for (const char *const *name = (const char *const[]){"EU", "US", NULL}; *name; name++)
        call(&ops, "callcenter.create",
             json_pack("{s:s, s:s, s:s, s:s}", "org", "acme", "internal_name", *name,
                       "display_name", *name, "adapter_url", "https://cti.example.com"),
             "OK", NULL);
    const char *ada = "005000000000001AAA", *bob = "005000000000002AAA";
    call(&ops, "user.upsert", json_pack("{s:s, s:s, s:s}", "org", "acme", "id", ada, "name", "Ada"),
         "OK", NULL);
    call(&ops, "user.upsert", json_pack("{s:s, s:s, s:s}", "org", "acme", "id", bob, "name", "Bob"),
         "OK", NULL);
    call(&ops, "member.add",
         json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "EU", "user", ada), "OK", NULL);
    call(&ops, "member.add",
         json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "EU", "user", bob), "OK", NULL);
    call(&ops, "member.add",
         json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "US", "user", bob),
         "ALREADY_MEMBER", NULL);
    /* Bob leaves EU (by ops); Ada leaves EU (by the intern), joins US, leaves US (by ops). */
    call(&ops, "member.remove",
         json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "EU", "user", bob), "OK", NULL);
    call(&intern, "member.remove",
         json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "EU", "user", ada), "OK", NULL);
    call(&ops, "member.add",
         json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "US", "user", ada), "OK", NULL);
    call(&ops, "member.remove",
         json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "US", "user", ada), "OK", NULL);

    char *dir = sb_test_tmpdir();
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "SB_TOKEN='%s' '%s' --socket '%s' audit --org acme --since 2026-11-01 --user %s "
             "--callcenter EU --method member.remove >'%s/out' 2>'%s/err'",
             ops_token, SB_SBCTL, h.socket, ada, dir, dir);
    assert_int_equal(system(cmd), 0);
    /* One line under the header: the intern's token removed Ada, and when. */
    snprintf(cmd, sizeof(cmd),
             "test $(wc -l <'%s/out') -eq 2 && grep -q 'member.remove' '%s/out' && "
             "grep -q '%s' '%s/out' && ! grep -q '%s' '%s/out' && "
             "grep -qE '^20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:]{8} ' '%s/out'",
             dir, dir, intern_id, dir, ops_id, dir, dir);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof(cmd), "cat '%s/out' '%s/err' >&2", dir, dir);
        if (system(cmd) != 0)
            print_error("(could not show the output)\n");
        fail_msg("sbctl audit did not name the intern's token alone");
    }
    /* sbctl watch prints a write as it happens. */
    snprintf(cmd, sizeof(cmd),
             "SB_TOKEN='%s' timeout 5 '%s' --socket '%s' watch --org acme >'%s/watch' "
             "2>'%s/werr' & sleep 1",
             ops_token, SB_SBCTL, h.socket, dir, dir);
    assert_int_equal(system(cmd), 0);
    call(&ops, "member.add",
         json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "EU", "user", ada), "OK", NULL);
    snprintf(cmd, sizeof(cmd),
             "for i in $(seq 40); do grep -q 'member.add.*%s' '%s/watch' && exit 0; sleep 0.1; "
             "done; cat '%s/watch' '%s/werr' >&2; exit 1",
             ada, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    sb_test_rmdir(dir);
    sb_client_close(&intern);
    sb_client_close(&ops);
    sb_client_close(&admin);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_org_sees_its_own_writes_and_numbers),
        cmocka_unit_test(a_new_org_under_an_old_id_sees_only_its_own),
        cmocka_unit_test(a_resumed_watch_misses_nothing),
        cmocka_unit_test(many_watchers_catch_up_together),
        cmocka_unit_test(a_watcher_that_never_reads_is_cut),
        cmocka_unit_test(behind_the_log_and_pages),
        cmocka_unit_test(who_removed_ada_is_one_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
