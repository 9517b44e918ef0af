/*
 * Hostile lengths and numbers against a real switchboardd (issue 12, items 1
 * and 10): arguments longer than any key they are built into, call times at
 * the ends of int64, and ids that must reveal nothing of other tenants. Each
 * request is answered with an error that names the argument, and the server
 * is still there afterwards to answer the next one.
 */
#include "sb_test.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "message.h"
#include "server_harness.h"

static sb_harness_t server;
static char reader_token[128], globex_admin[128];

/* Calls and expects the error `want` ("OK" for success); the message into msg when given. */
static void expect(sb_client_t *c, const char *method, json_t *args, const char *want, char *msg,
                   size_t cap)
{
    msgpack_unpacked r;
    sb_err_t err;
    sb_err_clear(&err);
    int rc = sb_client_call_json(c, method, args, &r, &err);
    const char *got = rc == 0 ? "OK" : rc == SB_CLIENT_REFUSED ? c->error_name : "TRANSPORT";
    if (strcmp(got, want) != 0)
        fail_msg("%s: got %s (%s), want %s", method, got, err.message, want);
    if (msg != NULL)
        snprintf(msg, cap, "%s", err.message);
    if (rc == 0)
        msgpack_unpacked_destroy(&r);
}

/* The server still answers: a crash would show as TRANSPORT on a new connection too. */
static void still_alive(void)
{
    sb_client_t c;
    sb_harness_client(&server, &c, NULL);
    expect(&c, "server.info", json_object(), "OK", NULL, 0);
    sb_client_close(&c);
}

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

static void make_token(sb_client_t *admin, const char *org, const char *role, char *out)
{
    msgpack_unpacked r;
    sb_err_t err;
    sb_err_clear(&err);
    assert_int_equal(sb_client_call_json(admin, "token.create",
                                         json_pack("{s:s, s:s}", "org", org, "role", role), &r,
                                         &err),
                     0);
    const msgpack_object *t = sb_obj_get(&r.data, "token");
    assert_non_null(t);
    snprintf(out, 128, "%.*s", (int)t->via.str.size, t->via.str.ptr);
    msgpack_unpacked_destroy(&r);
}

static int start(void **state)
{
    (void)state;
    static const char *const flags[] = {"--durability", "none", NULL};
    sb_harness_start(&server, NULL, flags);
    sb_client_t admin;
    sb_harness_client(&server, &admin, NULL);
    expect(&admin, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL, 0);
    expect(&admin, "org.create", json_pack("{s:s}", "org", "globex"), "OK", NULL, 0);
    make_token(&admin, "acme", "read_only", reader_token);
    make_token(&admin, "globex", "org_admin", globex_admin);
    sb_client_close(&admin);
    return 0;
}

static int stop(void **state)
{
    (void)state;
    assert_int_equal(sb_harness_stop(&server), 0);
    sb_harness_cleanup(&server);
    return 0;
}

/* Issue 12 item 1: a read-only token's `after` of 400+ bytes smashed sb__list's key. */
static void a_long_cursor_is_refused_by_name(void **state)
{
    (void)state;
    sb_client_t c;
    sb_harness_client(&server, &c, reader_token);
    static const size_t lengths[] = {65, 400, 600, 4000};
    static const char *const lists[] = {"contact.list", "user.list", "callcenter.list"};
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        char *after = repeat('A', lengths[i]);
        for (size_t m = 0; m < sizeof(lists) / sizeof(lists[0]); m++) {
            char msg[512];
            expect(&c, lists[m], json_pack("{s:s, s:s}", "org", "acme", "after", after),
                   "INVALID_ARGUMENT", msg, sizeof(msg));
            assert_non_null(strstr(msg, "'after'"));
        }
        free(after);
    }
    /* 64 bytes pass the edge: the list answers (an empty page). */
    char *after = repeat('z', 64);
    expect(&c, "contact.list", json_pack("{s:s, s:s}", "org", "acme", "after", after), "OK", NULL,
           0);
    free(after);
    sb_client_close(&c);
    still_alive();
}

/* Issue 12 item 1: an admin's org id of 1,000 characters crashed these six. */
static void a_long_org_id_is_refused_by_name(void **state)
{
    (void)state;
    sb_client_t c;
    sb_harness_client(&server, &c, NULL);
    char *org = repeat('o', 1000);
    static const char *const methods[] = {"callcenter.list", "user.list",      "contact.list",
                                          "contact.get",     "voicecall.list", "voicecall.get",
                                          "org.get",         "softphone.check"};
    for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
        json_t *args = json_pack("{s:s}", "org", org);
        if (strcmp(methods[m], "contact.get") == 0 || strcmp(methods[m], "voicecall.get") == 0)
            json_object_set_new(args, "id", json_string("003000000000001"));
        if (strcmp(methods[m], "softphone.check") == 0)
            json_object_set_new(args, "user", json_string("005000000000001"));
        char msg[512];
        expect(&c, methods[m], args, "INVALID_ARGUMENT", msg, sizeof(msg));
        assert_non_null(strstr(msg, "'org'"));
    }
    free(org);
    sb_client_close(&c);
    still_alive();
}

/* Whether the packed reply holds `needle` anywhere (a path in any field). */
static bool reply_holds(const msgpack_unpacked *r, const char *needle)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, r->data);
    bool found = memmem(buf.data, buf.size, needle, strlen(needle)) != NULL;
    msgpack_sbuffer_destroy(&buf);
    return found;
}

/* Issue 12 item 9: plugin.list showed an org's token the server's plugin path. */
static void plugin_paths_are_the_admins_only(void **state)
{
    (void)state;
    /* A plugin directory with a file the loader refuses, naming its path. */
    char tmpl[] = "/tmp/sb-bounds-plugins-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char link[512];
    snprintf(link, sizeof(link), "%s/broken.so", dir);
    FILE *f = fopen(link, "w");
    assert_non_null(f);
    fputs("not an ELF file\n", f); /* dlopen's error names the file with its path */
    fclose(f);
    const char *const flags[] = {"--durability", "none", "--plugin-dir", dir, NULL};
    sb_harness_t h;
    sb_harness_start(&h, NULL, flags);
    sb_client_t admin, reader;
    sb_harness_client(&h, &admin, NULL);
    expect(&admin, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL, 0);
    char token[128];
    make_token(&admin, "acme", "read_only", token);
    sb_harness_client(&h, &reader, token);
    msgpack_unpacked r;
    sb_err_t err;
    assert_int_equal(sb_client_call_json(&admin, "plugin.list", json_object(), &r, &err), 0);
    char named[600];
    snprintf(named, sizeof(named), "%s/broken.so", dir);
    assert_true(reply_holds(&r, named)); /* the admin sees why, with the path */
    msgpack_unpacked_destroy(&r);
    assert_int_equal(sb_client_call_json(&reader, "plugin.list", json_object(), &r, &err), 0);
    const msgpack_object *d = sb_obj_get(&r.data, "dir");
    assert_true(d == NULL || d->type == MSGPACK_OBJECT_NIL); /* sb_obj_get reads nil as absent */
    assert_false(reply_holds(&r, dir));
    assert_true(reply_holds(&r, "<plugin dir>/broken.so")); /* the reason, masked */
    /* A shared adapter's restarts and failures may tell of other tenants' calls. */
    const msgpack_object *plugins = sb_obj_get(&r.data, "plugins");
    assert_non_null(plugins);
    assert_int_equal(plugins->type, MSGPACK_OBJECT_ARRAY);
    for (uint32_t i = 0; i < plugins->via.array.size; i++) {
        assert_null(sb_obj_get(&plugins->via.array.ptr[i], "restarts"));
        assert_null(sb_obj_get(&plugins->via.array.ptr[i], "last_failure"));
    }
    msgpack_unpacked_destroy(&r);
    sb_client_close(&reader);
    sb_client_close(&admin);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
    unlink(link);
    rmdir(dir);
}

/* Issue 12 item 9: org.list skipped its page-size check for org tokens. */
static void org_list_checks_the_page_for_every_token(void **state)
{
    (void)state;
    sb_client_t admin, reader;
    sb_harness_client(&server, &admin, NULL);
    sb_harness_client(&server, &reader, reader_token);
    char as_admin[512], as_reader[512];
    expect(&admin, "org.list", json_pack("{s:i}", "limit", 5000), "INVALID_ARGUMENT", as_admin,
           sizeof(as_admin));
    expect(&reader, "org.list", json_pack("{s:i}", "limit", 5000), "INVALID_ARGUMENT", as_reader,
           sizeof(as_reader));
    assert_string_equal(as_admin, as_reader);
    expect(&reader, "org.list", json_pack("{s:i}", "limit", 0), "INVALID_ARGUMENT", NULL, 0);
    expect(&reader, "org.list", json_pack("{s:i}", "limit", 1), "OK", NULL, 0);
    sb_client_close(&reader);
    sb_client_close(&admin);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(org_list_checks_the_page_for_every_token),
        cmocka_unit_test(plugin_paths_are_the_admins_only),
        cmocka_unit_test(a_long_cursor_is_refused_by_name),
        cmocka_unit_test(a_long_org_id_is_refused_by_name),
    };
    return cmocka_run_group_tests_name("bounds", tests, start, stop);
}
