/*
 * A store at its limits, through a real switchboardd: at --max-map-bytes,
 * the room that deletes made is used by the next large write (not only after
 * some unrelated small write committed); and a full disk is reported as such,
 * with the data directory, not as a bare IO_ERROR; the change log is
 * trimmed to --changes-keep by the writer.
 */
#include "sb_test.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack.h"
#include "server_harness.h"

/* Calls `method`; returns "OK" or the error's name (a static buffer), and the message. */
static const char *call(sb_client_t *c, const char *method, json_t *args, char *message, size_t cap)
{
    static char name[64];
    msgpack_unpacked result;
    sb_err_t err;
    sb_err_clear(&err);
    int rc = sb_client_call_json(c, method, args, &result, &err);
    msgpack_unpacked_destroy(&result);
    snprintf(name, sizeof(name), "%s",
             rc == 0                   ? "OK"
             : rc == SB_CLIENT_REFUSED ? c->error_name
                                       : "TRANSPORT");
    if (message != NULL)
        snprintf(message, cap, "%s", err.message);
    return name;
}

/* n users from `first` on, with names of `name_len` bytes. */
static json_t *users(const char *org, size_t first, size_t n, size_t name_len)
{
    json_t *rows = json_array();
    char name[512];
    memset(name, 'n', name_len);
    name[name_len] = '\0';
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "005%012zu", first + i);
        json_array_append_new(rows, json_pack("{s:s, s:s}", "id", id, "name", name));
    }
    return json_pack("{s:s, s:o}", "org", org, "users", rows);
}

/* Fills org `org` with chunks of users until the store is full; returns how
 * many users fit. */
static size_t fill(sb_client_t *c, const char *org, size_t chunk, size_t name_len)
{
    size_t stored = 0;
    for (int i = 0; i < 10000; i++) {
        char message[512];
        const char *got = call(c, "user.upsert_bulk", users(org, stored + 1, chunk, name_len),
                               message, sizeof(message));
        if (strcmp(got, "STORE_FULL") == 0)
            return stored;
        if (strcmp(got, "OK") != 0)
            fail_msg("filling %s: %s: %s", org, got, message);
        stored += chunk;
    }
    fail_msg("the store never filled");
    return 0;
}

static void the_room_deletes_made_is_used_by_the_next_large_write(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", "--initial-map-bytes", "1048576",
                                        "--max-map-bytes", "2097152", "--max-message-bytes",
                                        "4194304",
                                        /* The log keeps what every write
                                         * wrote: only the newest entry
                                         * here, so that the filler's room
                                         * is freed by its delete. */
                                        "--changes-keep", "1", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    assert_string_equal(call(&c, "org.create", json_pack("{s:s}", "org", "filler"), NULL, 0), "OK");
    assert_string_equal(call(&c, "org.create", json_pack("{s:s}", "org", "other"), NULL, 0), "OK");
    size_t fitted = fill(&c, "filler", 200, 200);
    assert_true(fitted >= 1000);
    /* A write of much of what fitted cannot fit now (its records, and its
     * log entry: the records again, and the ids they touched)... */
    size_t big = fitted * 2 / 5;
    char message[512];
    assert_string_equal(
        call(&c, "user.upsert_bulk", users("other", 1, big, 200), message, sizeof(message)),
        "STORE_FULL");
    /* ...and fits as soon as the filler is gone, with no other write in between. */
    assert_string_equal(call(&c, "org.delete", json_pack("{s:s, s:b}", "org", "filler", "force", 1),
                             message, sizeof(message)),
                        "OK");
    const char *got =
        call(&c, "user.upsert_bulk", users("other", 1, big, 200), message, sizeof(message));
    if (strcmp(got, "OK") != 0)
        fail_msg("the large write after the delete: %s: %s", got, message);
    sb_client_close(&c);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* A 2 MiB tmpfs as the data directory: the disk fills long before the map. */
static void a_full_disk_is_named_with_the_data_directory(void **state)
{
    (void)state;
    char dir[] = "/tmp/sb-diskfull.XXXXXX";
    assert_non_null(mkdtemp(dir));
    if (mount("tmpfs", dir, "tmpfs", 0, "size=2m,mode=0700") != 0) {
        int e = errno;
        rmdir(dir);
        /* The translation itself (ENOSPC to DISK_FULL) is in test_store_env. */
        printf("# skipped: cannot mount a tmpfs here (%s); needs root\n", strerror(e));
        skip();
    }
    char data[64];
    snprintf(data, sizeof(data), "%s/data", dir);
    sb_harness_t h;
    memset(&h, 0, sizeof(h));
    h.dir = strdup(data);
    assert_int_equal(mkdir(data, 0700), 0);
    static const char *const flags[] = {"--initial-map-bytes", "1048576", "--max-map-bytes",
                                        "67108864", NULL};
    sb_harness_start(&h, h.dir, flags);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    assert_string_equal(call(&c, "org.create", json_pack("{s:s}", "org", "acme"), NULL, 0), "OK");
    /* Room to give back once the disk is full. */
    char filler[128];
    snprintf(filler, sizeof(filler), "%s/filler", dir);
    FILE *f = fopen(filler, "w");
    assert_non_null(f);
    static char block[256 << 10];
    assert_int_equal(fwrite(block, 1, sizeof(block), f), sizeof(block));
    fclose(f);
    const char *got = "OK";
    char message[512] = "";
    size_t stored = 0;
    for (int i = 0; i < 1000 && strcmp(got, "OK") == 0; i++) {
        got = call(&c, "user.upsert_bulk", users("acme", stored + 1, 200, 200), message,
                   sizeof(message));
        stored += 200;
    }
    if (strcmp(got, "DISK_FULL") != 0)
        fail_msg("a full disk answered %s: %s", got, message);
    if (strstr(message, data) == NULL)
        fail_msg("the message does not name the data directory %s: %s", data, message);
    /* Reads go on; with room again, writes go on, without a restart. */
    assert_string_equal(call(&c, "org.get", json_pack("{s:s}", "org", "acme"), NULL, 0), "OK");
    assert_int_equal(unlink(filler), 0);
    got = call(&c, "user.upsert_bulk", users("acme", 900000, 10, 20), message, sizeof(message));
    if (strcmp(got, "OK") != 0)
        fail_msg("a write once the disk has room: %s: %s", got, message);
    sb_client_close(&c);
    sb_harness_stop(&h);
    sb_harness_cleanup(&h);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
}

/* The writer trims the change log after its commits: server.info's range
 * holds --changes-keep entries at most, and moves on with the writes. */
static void the_change_log_keeps_what_it_is_told(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", "--changes-keep", "5", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    assert_string_equal(call(&c, "org.create", json_pack("{s:s}", "org", "acme"), NULL, 0), "OK");
    for (size_t i = 1; i <= 30; i++)
        assert_string_equal(call(&c, "user.upsert_bulk", users("acme", i, 1, 10), NULL, 0), "OK");
    msgpack_unpacked r;
    sb_err_t err;
    assert_int_equal(sb_client_call_json(&c, "server.info", NULL, &r, &err), 0);
    const msgpack_object *changes = sb_obj_get(&r.data, "changes");
    assert_non_null(changes);
    uint64_t first = sb_obj_get(changes, "first_seq")->via.u64;
    uint64_t last = sb_obj_get(changes, "last_seq")->via.u64;
    msgpack_unpacked_destroy(&r);
    /* Each reply comes after its commit's trim: at most 5 entries are kept. */
    if (last < 31 || first < 2 || last - first + 1 > 5)
        fail_msg("the log keeps %llu to %llu", (unsigned long long)first, (unsigned long long)last);
    sb_client_close(&c);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_room_deletes_made_is_used_by_the_next_large_write),
        cmocka_unit_test(a_full_disk_is_named_with_the_data_directory),
        cmocka_unit_test(the_change_log_keeps_what_it_is_told),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
