/*
 * switchboardd end to end: a real server on a temporary directory, driven by
 * the real client and by raw bytes. Every method of the table is seen both
 * succeeding and refused (the last test checks that), every org-scoped
 * method refuses another org's token exactly as it refuses an org that does
 * not exist, and the framing, limits and durability hold.
 */
#include "sb_test.h"

#include <dirent.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "message.h"
#include "methods.h"
#include "server_harness.h"

/* ---- what each method was seen doing ----------------------------------------- */

#define MAX_SEEN 128
static struct {
    char method[SB_RPC_METHOD_MAX + 1];
    bool ok, refused;
} seen[MAX_SEEN];

static void record(const char *method, int rc)
{
    for (int i = 0; i < MAX_SEEN; i++) {
        if (seen[i].method[0] == '\0')
            snprintf(seen[i].method, sizeof(seen[i].method), "%s", method);
        if (strcmp(seen[i].method, method) == 0) {
            seen[i].ok |= rc == 0;
            seen[i].refused |= rc == SB_CLIENT_REFUSED;
            return;
        }
    }
}

/* Calls and expects `want_name` ("OK" for success); returns the result (owned by *out). */
static void expect(sb_client_t *c, const char *method, json_t *args, const char *want_name,
                   msgpack_unpacked *out)
{
    msgpack_unpacked local;
    msgpack_unpacked *result = out ? out : &local;
    sb_err_t err;
    sb_err_clear(&err);
    int rc = sb_client_call_json(c, method, args, result, &err);
    record(method, rc);
    const char *got = rc == 0 ? "OK" : rc == SB_CLIENT_REFUSED ? c->error_name : "TRANSPORT";
    if (strcmp(got, want_name) != 0)
        fail_msg("%s: got %s (%s), want %s", method, got, err.message, want_name);
    /* Every write that succeeded names the change-log sequence of its commit. */
    const sb_method_t *m = sb_method_find(method);
    const msgpack_object *dry = rc == 0 ? sb_obj_get(&result->data, "dry_run") : NULL;
    bool wrote = dry == NULL || dry->type != MSGPACK_OBJECT_BOOLEAN || !dry->via.boolean;
    if (rc == 0 && m != NULL && m->writes && wrote) {
        /* The admin's write results name the change-log sequence of their
         * commit; an org token's never do (its pace is every org's volume).
         * Only the admin sees the log's range in server.info. */
        const msgpack_object *seq = sb_obj_get(&result->data, "seq");
        msgpack_unpacked info;
        if (sb_client_call_json(c, "server.info", NULL, &info, &err) != 0)
            fail_msg("server.info: %s", err.message);
        bool admin = sb_obj_get(&info.data, "changes") != NULL;
        msgpack_unpacked_destroy(&info);
        if (admin &&
            (seq == NULL || seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER || seq->via.u64 == 0))
            fail_msg("%s: the admin's reply has no seq", method);
        if (!admin && seq != NULL)
            fail_msg("%s: an org token's reply names the global seq", method);
        /* ...but its org's own number for the write, which counts only its org's. */
        const msgpack_object *org_seq = sb_obj_get(&result->data, "org_seq");
        if (!admin && (org_seq == NULL || org_seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
                       org_seq->via.u64 == 0))
            fail_msg("%s: an org token's reply has no org_seq", method);
    }
    if (out == NULL)
        msgpack_unpacked_destroy(&local);
}

/* A string field of a result map. */
static const char *field(const msgpack_unpacked *r, const char *key, char *buf, size_t cap)
{
    const msgpack_object *v = sb_obj_get(&r->data, key);
    if (v == NULL || v->type != MSGPACK_OBJECT_STR)
        return NULL;
    snprintf(buf, cap, "%.*s", (int)v->via.str.size, v->via.str.ptr);
    return buf;
}

static uint64_t number(const msgpack_unpacked *r, const char *key)
{
    const msgpack_object *v = sb_obj_get(&r->data, key);
    return v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : UINT64_MAX;
}

/* ---- the shared server ------------------------------------------------------- */

static sb_harness_t server;
static char acme_admin[128], acme_reader[128], cc_id[32];
static const char *const shared_flags[] = {
    "--durability", "none", "--max-message-bytes", "65536", "--max-batch", "500", NULL};

static int start_server(void **state)
{
    (void)state;
    sb_harness_start(&server, NULL, shared_flags);
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    assert_int_equal(sb_harness_stop(&server), 0);
    sb_harness_cleanup(&server);
    return 0;
}

static void make_token(sb_client_t *admin, const char *org, const char *role, char *out)
{
    msgpack_unpacked r;
    expect(admin, "token.create",
           json_pack("{s:s, s:s, s:s}", "org", org, "role", role, "label", "test"), "OK", &r);
    char buf[128];
    assert_non_null(field(&r, "token", buf, sizeof(buf)));
    strcpy(out, buf);
    msgpack_unpacked_destroy(&r);
}

static void setup_tenants(void **state)
{
    (void)state;
    sb_client_t admin;
    sb_harness_client(&server, &admin, NULL);
    expect(&admin, "org.create", json_pack("{s:s, s:s}", "org", "acme", "name", "Acme"), "OK",
           NULL);
    expect(&admin, "org.create", json_pack("{s:s}", "org", "acme"), "ALREADY_EXISTS", NULL);
    expect(&admin, "org.create", json_pack("{s:s}", "org", "globex"), "OK", NULL);
    make_token(&admin, "acme", "org_admin", acme_admin);
    make_token(&admin, "acme", "read_only", acme_reader);
    expect(&admin, "token.create", json_pack("{s:s, s:s}", "org", "nobody", "role", "read_only"),
           "NOT_FOUND", NULL);
    expect(&admin, "token.create", json_pack("{s:s, s:s}", "org", "acme", "role", "admin"),
           "INVALID_ARGUMENT", NULL);
    sb_client_close(&admin);
}

static void authentication_comes_first(void **state)
{
    (void)state;
    sb_client_t c;
    sb_err_t err;
    assert_int_equal(sb_client_open(&c, server.socket, &err), 0);
    expect(&c, "server.info", NULL, "UNAUTHENTICATED", NULL);
    expect(&c, "token.authenticate", json_pack("{s:s}", "token", "sbt_wrong"), "UNAUTHENTICATED",
           NULL);
    expect(&c, "token.authenticate", json_pack("{s:s}", "token", acme_reader), "OK", NULL);
    expect(&c, "server.info", NULL, "OK", NULL);
    /* A read-only token may ask whether the server is ready (a load balancer's). */
    msgpack_unpacked health;
    expect(&c, "server.health", NULL, "OK", &health);
    assert_true(sb_obj_get(&health.data, "ready") != NULL &&
                sb_obj_get(&health.data, "ready")->type == MSGPACK_OBJECT_BOOLEAN &&
                sb_obj_get(&health.data, "ready")->via.boolean);
    msgpack_unpacked_destroy(&health);
    sb_client_close(&c);
    assert_int_equal(sb_client_open(&c, server.socket, &err), 0);
    expect(&c, "server.health", NULL, "UNAUTHENTICATED", NULL);
    sb_client_close(&c);
    /* Three failures close the connection. */
    assert_int_equal(sb_client_open(&c, server.socket, &err), 0);
    for (int i = 0; i < 3; i++)
        expect(&c, "token.authenticate", json_pack("{s:s}", "token", "sbt_x"), "UNAUTHENTICATED",
               NULL);
    msgpack_unpacked r;
    assert_true(sb_client_call_json(&c, "token.authenticate",
                                    json_pack("{s:s}", "token", acme_reader), &r, &err) < 0);
    msgpack_unpacked_destroy(&r);
    sb_client_close(&c);
}

static void every_method_works_for_its_org(void **state)
{
    (void)state;
    sb_client_t c, reader;
    sb_harness_client(&server, &c, acme_admin);
    sb_harness_client(&server, &reader, acme_reader);
    msgpack_unpacked r;
    char buf[256];

    expect(&c, "org.get", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    expect(&c, "org.list", json_pack("{}"), "OK", &r);
    const msgpack_object *orgs = sb_obj_get(&r.data, "orgs");
    assert_int_equal(orgs->via.array.size, 1); /* its own org only */
    msgpack_unpacked_destroy(&r);

    expect(&c, "callcenter.create",
           json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s}", "org", "acme", "internal_name",
                     "Support", "display_name", "Support", "adapter_url", "https://cti.example.com",
                     "softphone_height", 400, "softphone_width", 300, "compatibility_mode",
                     "Lightning"),
           "OK", &r);
    strcpy(cc_id, field(&r, "id", buf, sizeof(buf)));
    msgpack_unpacked_destroy(&r);
    expect(&c, "callcenter.create",
           json_pack("{s:s, s:s, s:s, s:s, s:i}", "org", "acme", "internal_name", "Tall",
                     "display_name", "Tall", "adapter_url", "https://x", "softphone_height", 9999),
           "OUT_OF_RANGE", NULL);
    expect(&c, "callcenter.get", json_pack("{s:s, s:s}", "org", "acme", "internal_name", "support"),
           "OK", NULL);
    expect(&c, "callcenter.get", json_pack("{s:s, s:s}", "org", "acme", "id", "04v000000000999"),
           "NOT_FOUND", NULL);
    expect(&c, "callcenter.list", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    expect(&c, "callcenter.list", json_pack("{s:s, s:i}", "org", "acme", "limit", 5000),
           "INVALID_ARGUMENT", NULL);
    expect(&c, "callcenter.update",
           json_pack("{s:s, s:s, s:{s:s}}", "org", "acme", "id", cc_id, "values",
                     "/reqGeneralInfo/reqSoftphoneWidth", "640"),
           "OK", NULL);
    expect(&c, "callcenter.update",
           json_pack("{s:s, s:s, s:{s:s}}", "org", "acme", "id", cc_id, "values",
                     "/reqGeneralInfo/reqTimeout", "10"),
           "FIELD_NOT_IN_SET", NULL);
    expect(&c, "callcenter.clone",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "id", cc_id, "internal_name", "Sales"), "OK",
           NULL);
    expect(&c, "callcenter.clone",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "id", cc_id, "internal_name", "SALES"),
           "INTERNAL_NAME_TAKEN", NULL);

    expect(&c, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "acme", "id", "005000000000001", "name", "Ada",
                     "profile", "Agent"),
           "OK", NULL);
    expect(&c, "user.upsert",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "id", "003x", "name", "A"), "INVALID_ID",
           NULL);
    expect(&c, "user.upsert_bulk",
           json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "org", "acme", "users", "id",
                     "005000000000002", "name", "Bo", "id", "005000000000003", "name", "Cy"),
           "OK", NULL);
    expect(&c, "user.upsert_bulk",
           json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "org", "acme", "users", "id",
                     "005000000000004", "name", "Di", "id", "bad", "name", "Ed"),
           "INVALID_ID", NULL);
    expect(&c, "user.get", json_pack("{s:s, s:s}", "org", "acme", "id", "005000000000004"),
           "NOT_FOUND", NULL); /* the refused bulk wrote nothing */
    expect(&c, "user.get", json_pack("{s:s, s:s}", "org", "acme", "id", "005000000000002"), "OK",
           NULL);
    expect(&c, "user.list", json_pack("{s:s, s:i}", "org", "acme", "limit", 2), "OK", &r);
    assert_int_equal(sb_obj_get(&r.data, "users")->via.array.size, 2);
    assert_true(sb_obj_get(&r.data, "more")->via.boolean);
    msgpack_unpacked_destroy(&r);
    expect(&c, "user.list", json_pack("{s:s, s:s}", "org", "acme", "after", "x"), "INVALID_ID",
           NULL);
    /* user.find: the start of a name, any case; a name is needed. */
    expect(&c, "user.find", json_pack("{s:s, s:s}", "org", "acme", "name", "CY"), "OK", &r);
    assert_int_equal(sb_obj_get(&r.data, "users")->via.array.size, 1);
    assert_false(sb_obj_get(&r.data, "more")->via.boolean);
    msgpack_unpacked_destroy(&r);
    expect(&c, "user.find", json_pack("{s:s, s:s}", "org", "acme", "name", ""), "INVALID_VALUE",
           NULL);

    expect(&c, "member.add",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Support", "user",
                     "005000000000001"),
           "OK", NULL);
    expect(&c, "member.add",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Sales", "user",
                     "005000000000001"),
           "ALREADY_MEMBER", NULL);
    expect(&c, "member.move",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Sales", "user",
                     "005000000000001"),
           "OK", &r);
    assert_string_equal(field(&r, "previous", buf, sizeof(buf)), cc_id);
    msgpack_unpacked_destroy(&r);
    expect(&c, "member.move",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Nowhere", "user",
                     "005000000000001"),
           "NOT_FOUND", NULL);
    expect(&c, "member.add_bulk",
           json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "org", "acme", "rows", "user",
                     "005000000000002", "callcenter", cc_id, "user", "005000000000009",
                     "callcenter", cc_id),
           "NOT_FOUND", NULL);
    expect(&c, "member.add_bulk",
           json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "org", "acme", "rows", "user",
                     "005000000000002", "callcenter", cc_id, "user", "005000000000003",
                     "callcenter", "Support"),
           "OK", NULL);
    expect(&c, "member.list", json_pack("{s:s, s:s}", "org", "acme", "callcenter", cc_id), "OK",
           &r);
    assert_int_equal(number(&r, "total"), 2);
    msgpack_unpacked_destroy(&r);
    expect(&c, "member.list", json_pack("{s:s, s:s}", "org", "acme", "callcenter", "Nope"),
           "NOT_FOUND", NULL);
    expect(&c, "member.lookup", json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000002"),
           "OK", NULL);
    expect(&c, "member.lookup", json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000077"),
           "NOT_FOUND", NULL);
    expect(&c, "member.remove",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Support", "user",
                     "005000000000003"),
           "OK", NULL);
    expect(&c, "member.remove",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Support", "user",
                     "005000000000003"),
           "NOT_A_MEMBER", NULL);

    expect(&reader, "softphone.check",
           json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000002"), "OK", &r);
    assert_true(sb_obj_get(&r.data, "softphone")->via.boolean);
    assert_int_equal(number(&r, "softphone_width"), 640);
    msgpack_unpacked_destroy(&r);
    expect(&reader, "softphone.check",
           json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000003"), "OK", &r);
    assert_string_equal(field(&r, "reason", buf, sizeof(buf)), "NOT_A_MEMBER");
    msgpack_unpacked_destroy(&r);
    expect(&reader, "softphone.check", json_pack("{s:s}", "org", "acme"), "INVALID_ARGUMENT", NULL);
    expect(&reader, "softphone.check_batch",
           json_pack("{s:s, s:[s, s, s, s]}", "org", "acme", "users", "005000000000002",
                     "005000000000003", "005000000000099", "nonsense"),
           "OK", &r);
    const msgpack_object *results = sb_obj_get(&r.data, "results");
    assert_int_equal(results->via.array.size, 4);
    const char *reasons[] = {"OK", "NOT_A_MEMBER", "UNKNOWN_USER", "INVALID_USER_ID"};
    for (int i = 0; i < 4; i++) {
        const msgpack_object *reason = sb_obj_get(&results->via.array.ptr[i], "reason");
        assert_int_equal(reason->via.str.size, strlen(reasons[i]));
        assert_memory_equal(reason->via.str.ptr, reasons[i], strlen(reasons[i]));
    }
    msgpack_unpacked_destroy(&r);
    json_t *many = json_array();
    for (int i = 0; i < 501; i++)
        json_array_append_new(many, json_string("005000000000002"));
    expect(&reader, "softphone.check_batch", json_pack("{s:s, s:o}", "org", "acme", "users", many),
           "BATCH_TOO_LARGE", NULL);

    /* A Call Center whose adapter is not loaded shows no softphone, and says why. */
    expect(&c, "callcenter.update",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "id", cc_id, "adapter", "avaya"), "OK",
           NULL);
    expect(&reader, "softphone.check",
           json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000002"), "OK", &r);
    assert_false(sb_obj_get(&r.data, "softphone")->via.boolean);
    assert_string_equal(field(&r, "reason", buf, sizeof(buf)), "ADAPTER_NOT_LOADED");
    assert_non_null(strstr(field(&r, "message", buf, sizeof(buf)), "avaya.so"));
    msgpack_unpacked_destroy(&r);

    /* A read-only token reads, and writes nothing. */
    expect(&reader, "user.upsert",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "id", "005000000000005", "name", "E"),
           "ACCESS_DENIED", NULL);
    expect(&c, "callcenter.delete", json_pack("{s:s, s:s}", "org", "acme", "id", cc_id),
           "CALLCENTER_HAS_MEMBERS", NULL);
    expect(&c, "callcenter.delete",
           json_pack("{s:s, s:s, s:b}", "org", "acme", "id", cc_id, "force", 1), "OK", NULL);
    expect(&c, "server.info", NULL, "OK", &r);
    assert_null(sb_obj_get(&r.data, "counts")); /* counts span orgs: admin only */
    msgpack_unpacked_destroy(&r);
    expect(&c, "token.list", NULL, "ACCESS_DENIED", NULL);
    expect(&c, "org.delete", json_pack("{s:s}", "org", "acme"), "ACCESS_DENIED", NULL);
    expect(&c, "server.nothing", NULL, "UNKNOWN_METHOD", NULL);
    expect(&c, "org.get", json_pack("{s:s, s:s}", "org", "acme", "colour", "red"),
           "INVALID_ARGUMENT", NULL);
    expect(&c, "org.get", json_pack("{s:i}", "org", 7), "INVALID_ARGUMENT", NULL);
    sb_client_close(&c);
    sb_client_close(&reader);
}

static json_t *corpus_file(const char *path)
{
    char full[512];
    snprintf(full, sizeof(full), "%s/%s", SB_CORPUS_DIR, path);
    FILE *f = fopen(full, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", full);
    static char data[1 << 16];
    size_t len = fread(data, 1, sizeof(data), f);
    fclose(f);
    return json_stringn(data, len);
}

static void definition_files_through_the_server(void **state)
{
    (void)state;
    sb_client_t c, admin;
    sb_harness_client(&server, &c, acme_admin);
    sb_harness_client(&server, &admin, NULL);
    msgpack_unpacked r;
    char id[32], buf[256];
    expect(&c, "callcenter.import",
           json_pack("{s:s, s:o, s:s}", "org", "acme", "file",
                     corpus_file("salesforce-open-cti-sample/callcenter.xml"), "filename",
                     "callcenter.xml"),
           "OK", &r);
    const msgpack_object *cc = sb_obj_get(&r.data, "callcenter");
    const msgpack_object *cid = sb_obj_get(cc, "id");
    snprintf(id, sizeof(id), "%.*s", (int)cid->via.str.size, cid->via.str.ptr);
    msgpack_unpacked_destroy(&r);
    /* The same internal name from another publisher: refused in one org... */
    expect(&c, "callcenter.import",
           json_pack("{s:s, s:o, s:s}", "org", "acme", "file",
                     corpus_file("salesforce-open-cti-demo-adapter/OpenCTI.callCenter"), "filename",
                     "OpenCTI.callCenter"),
           "INTERNAL_NAME_TAKEN", NULL);
    /* ...imported in another. */
    expect(&admin, "callcenter.import",
           json_pack("{s:s, s:o, s:s}", "org", "globex", "file",
                     corpus_file("salesforce-open-cti-demo-adapter/OpenCTI.callCenter"), "filename",
                     "OpenCTI.callCenter"),
           "OK", &r);
    assert_string_equal(field(&r, "form", buf, sizeof(buf)), "metadata");
    assert_true(sb_obj_get(&r.data, "warnings")->via.array.size >= 1);
    /* The bundled demo adapter claims Salesforce's demo file. */
    const msgpack_object *imported = sb_obj_get(&r.data, "callcenter");
    const msgpack_object *adapter = sb_obj_get(imported, "adapter");
    assert_int_equal(adapter->via.str.size, 4);
    assert_memory_equal(adapter->via.str.ptr, "demo", 4);
    assert_int_equal(number(&r, "claim"), 95);
    msgpack_unpacked_destroy(&r);
    expect(&c, "callcenter.import",
           json_pack("{s:s, s:o}", "org", "acme", "file",
                     corpus_file("salesforce-demo-scv-connector/sampleContactCenter.xml")),
           "INVALID_INTERNAL_NAME", NULL);
    expect(&c, "callcenter.import",
           json_pack("{s:s, s:o, s:s, s:b}", "org", "acme", "file",
                     corpus_file("salesforce-demo-scv-connector/sampleContactCenter.xml"),
                     "internal_name", "DemoConnector", "dry_run", 1),
           "OK", NULL);
    expect(&c, "callcenter.get",
           json_pack("{s:s, s:s}", "org", "acme", "internal_name", "DemoConnector"), "NOT_FOUND",
           NULL); /* a dry run stores nothing */
    expect(&c, "callcenter.export",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "id", id, "form", "metadata"), "OK", &r);
    assert_string_equal(field(&r, "filename", buf, sizeof(buf)), "OpenCTI.callCenter-meta.xml");
    msgpack_unpacked_destroy(&r);
    expect(&c, "callcenter.export",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "id", id, "form", "pdf"), "INVALID_ARGUMENT",
           NULL);
    expect(&c, "callcenter.settings", json_pack("{s:s, s:s}", "org", "acme", "id", id), "OK", &r);
    const msgpack_object *settings = sb_obj_get(&r.data, "settings");
    const msgpack_object *name = sb_obj_get(settings, "/reqGeneralInfo/reqInternalName");
    assert_non_null(name);
    assert_memory_equal(name->via.str.ptr, "OpenCTI", 7);
    msgpack_unpacked_destroy(&r);
    expect(&c, "callcenter.settings",
           json_pack("{s:s, s:s}", "org", "acme", "id", "04v000000000999"), "NOT_FOUND", NULL);
    sb_client_close(&c);
    sb_client_close(&admin);
}

static void plugins_through_the_server(void **state)
{
    (void)state;
    sb_client_t c, admin;
    sb_harness_client(&server, &c, acme_reader);
    sb_harness_client(&server, &admin, NULL);
    msgpack_unpacked r;
    expect(&c, "plugin.list", NULL, "OK", &r);
    const msgpack_object *plugins = sb_obj_get(&r.data, "plugins");
    bool demo = false;
    for (uint32_t i = 0; i < plugins->via.array.size; i++) {
        const msgpack_object *name = sb_obj_get(&plugins->via.array.ptr[i], "name");
        const msgpack_object *st = sb_obj_get(&plugins->via.array.ptr[i], "state");
        demo |= name->via.str.size == 4 && memcmp(name->via.str.ptr, "demo", 4) == 0 &&
                st->via.str.size == 6 && memcmp(st->via.str.ptr, "loaded", 6) == 0;
    }
    assert_true(demo);
    msgpack_unpacked_destroy(&r);
    expect(&c, "plugin.reload", NULL, "ACCESS_DENIED", NULL);
    sb_client_t stranger;
    sb_err_t cerr;
    assert_int_equal(sb_client_open(&stranger, server.socket, &cerr), 0);
    expect(&stranger, "plugin.list", NULL, "UNAUTHENTICATED", NULL);
    sb_client_close(&stranger);
    expect(&admin, "plugin.reload", NULL, "OK", &r);
    assert_true(number(&r, "loaded") >= 1);
    msgpack_unpacked_destroy(&r);
    /* The demo's template imports, is claimed by it, and validates. */
    expect(&c, "callcenter.template", json_pack("{s:s}", "adapter", "demo"), "OK", &r);
    const msgpack_object *xml = sb_obj_get(&r.data, "xml");
    json_t *file = json_stringn(xml->via.str.ptr, xml->via.str.size);
    msgpack_unpacked_destroy(&r);
    expect(&c, "callcenter.template", json_pack("{s:s}", "adapter", "nope"), "NOT_FOUND", NULL);
    sb_client_t writer;
    sb_harness_client(&server, &writer, acme_admin);
    expect(&writer, "callcenter.import", json_pack("{s:s, s:o}", "org", "acme", "file", file), "OK",
           &r);
    assert_int_equal(number(&r, "claim"), 95);
    msgpack_unpacked_destroy(&r);
    /* The adapter refuses what breaks its rules, naming the setting. */
    sb_err_t err;
    int rc =
        sb_client_call_json(&writer, "callcenter.update",
                            json_pack("{s:s, s:s, s:{s:s}}", "org", "acme", "id", "DemoCallCenter",
                                      "values", "/reqPhoneDemoSettings/reqProvider", "Skype"),
                            &r, &err);
    assert_int_equal(rc, SB_CLIENT_REFUSED);
    assert_string_equal(writer.error_name, "INVALID_VALUE");
    assert_non_null(strstr(err.message, "/reqPhoneDemoSettings/reqProvider"));
    msgpack_unpacked_destroy(&r);
    sb_client_close(&writer);
    sb_client_close(&c);
    sb_client_close(&admin);
}

static void the_admin_methods(void **state)
{
    (void)state;
    sb_client_t admin, c;
    sb_harness_client(&server, &admin, NULL);
    msgpack_unpacked r;
    expect(&admin, "org.list", json_pack("{s:i}", "limit", 0), "INVALID_ARGUMENT", NULL);
    expect(&admin, "org.list", json_pack("{s:i}", "limit", 1), "OK", &r);
    assert_true(sb_obj_get(&r.data, "more")->via.boolean); /* acme, globex */
    msgpack_unpacked_destroy(&r);
    expect(&admin, "server.info", NULL, "OK", &r);
    assert_non_null(sb_obj_get(&r.data, "counts"));
    assert_null(sb_obj_get(&r.data, "cluster")); /* standalone */
    msgpack_unpacked_destroy(&r);
    /* A standalone server has no placement: the cluster methods say so. */
    expect(&admin, "cluster.show", NULL, "NOT_CLUSTERED", NULL);
    expect(&admin, "cluster.promote", json_pack("{s:s, s:s}", "shard", "s1", "member", "s1-b"),
           "NOT_CLUSTERED", NULL);

    /* A revoked token stops working for new connections. */
    char doomed[128], buf[64];
    make_token(&admin, "globex", "read_only", doomed);
    expect(&admin, "token.list", NULL, "OK", &r);
    const msgpack_object *tokens = sb_obj_get(&r.data, "tokens");
    char id[64] = "";
    for (uint32_t i = 0; i < tokens->via.array.size; i++) {
        const msgpack_object *org = sb_obj_get(&tokens->via.array.ptr[i], "org");
        const msgpack_object *tid = sb_obj_get(&tokens->via.array.ptr[i], "id");
        assert_null(sb_obj_get(&tokens->via.array.ptr[i], "token")); /* never the secret */
        if (org && org->type == MSGPACK_OBJECT_STR && org->via.str.size == 6 &&
            memcmp(org->via.str.ptr, "globex", 6) == 0)
            snprintf(id, sizeof(id), "%.*s", (int)tid->via.str.size, tid->via.str.ptr);
    }
    msgpack_unpacked_destroy(&r);
    assert_true(id[0] != '\0');
    expect(&admin, "token.revoke", json_pack("{s:s}", "id", id), "OK", NULL);
    expect(&admin, "token.revoke", json_pack("{s:s}", "id", id), "NOT_FOUND", NULL);
    expect(&admin, "token.revoke", json_pack("{s:s}", "id", "admin"), "INVALID_ARGUMENT", NULL);
    sb_err_t err;
    assert_int_equal(sb_client_open(&c, server.socket, &err), 0);
    expect(&c, "token.authenticate", json_pack("{s:s}", "token", doomed), "UNAUTHENTICATED", NULL);
    sb_client_close(&c);

    /* Deleting an org: refused while it has Call Centers, unless forced. */
    expect(&admin, "org.create", json_pack("{s:s}", "org", "doomed"), "OK", NULL);
    expect(&admin, "callcenter.create",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "doomed", "internal_name", "X", "display_name",
                     "X", "adapter_url", "https://x"),
           "OK", NULL);
    expect(&admin, "org.delete", json_pack("{s:s}", "org", "doomed"), "ORG_NOT_EMPTY", NULL);
    expect(&admin, "org.create", json_pack("{s:s}", "org", "seqs"), "OK", &r);
    uint64_t before = number(&r, "seq");
    msgpack_unpacked_destroy(&r);
    expect(&admin, "org.delete", json_pack("{s:s, s:b}", "org", "doomed", "force", 1), "OK", &r);
    assert_string_equal(field(&r, "deleted", buf, sizeof(buf)), "doomed");
    uint64_t after = number(&r, "seq");
    msgpack_unpacked_destroy(&r);
    assert_true(after > before);
    /* The admin sees the log's range; the last entry is the delete's. */
    expect(&admin, "server.info", NULL, "OK", &r);
    const msgpack_object *changes = sb_obj_get(&r.data, "changes");
    assert_non_null(changes);
    assert_true(sb_obj_get(changes, "first_seq")->via.u64 >= 1);
    assert_true(sb_obj_get(changes, "last_seq")->via.u64 >= after);
    msgpack_unpacked_destroy(&r);
    /* An org's token does not: the global sequence's pace is every org's volume. */
    sb_harness_client(&server, &c, acme_reader);
    expect(&c, "server.info", NULL, "OK", &r);
    assert_null(sb_obj_get(&r.data, "changes"));
    msgpack_unpacked_destroy(&r);
    /* Backup and verify are the admin's (test_backup tests them whole). */
    expect(&c, "server.backup", NULL, "ACCESS_DENIED", NULL);
    expect(&c, "server.verify", NULL, "ACCESS_DENIED", NULL);
    sb_client_close(&c);
    expect(&admin, "server.verify", NULL, "OK", &r);
    assert_true(sb_obj_get(&r.data, "clean")->via.boolean);
    msgpack_unpacked_destroy(&r);
    expect(&admin, "server.backup", NULL, "OK", &r);
    char backup[64];
    field(&r, "backup", backup, sizeof(backup));
    uint64_t bytes = number(&r, "bytes");
    msgpack_unpacked_destroy(&r);
    expect(&admin, "server.backup", NULL, "BACKUP_IN_PROGRESS", NULL); /* one at a time */
    uint64_t at = 0;
    for (bool last = false; !last;) {
        expect(&admin, "server.backup_read",
               json_pack("{s:s, s:I}", "backup", backup, "offset", (json_int_t)at), "OK", &r);
        at += sb_obj_get(&r.data, "data")->via.bin.size;
        last = sb_obj_get(&r.data, "last")->via.boolean;
        msgpack_unpacked_destroy(&r);
    }
    assert_int_equal(at, bytes);
    expect(&admin, "server.backup_read", json_pack("{s:s, s:i}", "backup", backup, "offset", 0),
           "BACKUP_GONE", NULL);
    sb_client_close(&admin);
}

/* move.import of `records` (an export's, msgpack: JSON cannot carry its bytes) into `org`. */
static void import_records(sb_client_t *c, const char *org, const msgpack_object *records,
                           const char *want_name)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    sb_pack_kv_str(&pk, "org", org);
    sb_pack_str(&pk, "records");
    msgpack_pack_object(&pk, *records);
    msgpack_unpacked r;
    int rc = sb_client_call(c, "move.import", buf.data, buf.size, &r);
    record("move.import", rc);
    const char *got = rc == 0 ? "OK" : rc == SB_CLIENT_REFUSED ? c->error_name : "TRANSPORT";
    if (strcmp(got, want_name) != 0)
        fail_msg("move.import into %s: %s, not %s (%s)", org, got, want_name, c->error_message);
    msgpack_unpacked_destroy(&r);
    msgpack_sbuffer_destroy(&buf);
}

/* The move.* methods on one server (org_move tests a move between two):
 * mv1 exported, deleted, imported back from its records; each state's answers. */
static void the_move_methods(void **state)
{
    (void)state;
    sb_client_t admin, c;
    sb_harness_client(&server, &admin, NULL);
    sb_harness_client(&server, &c, acme_reader);
    msgpack_unpacked r, ex;
    json_t *mv1 = json_pack("{s:s}", "org", "mv1");
    expect(&admin, "org.create", json_pack("{s:s}", "org", "mv1"), "OK", NULL);
    expect(&admin, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "mv1", "id", "005000000000001", "name", "A",
                     "profile", "Agent"),
           "OK", NULL);
    char mv1_token[128];
    make_token(&admin, "mv1", "read_only", mv1_token); /* moves with the org */
    /* Its own org's token too: the admin's alone. */
    expect(&c, "move.export", json_pack("{s:s}", "org", "acme"), "ACCESS_DENIED", NULL);
    expect(&admin, "move.export", json_incref(mv1), "OK", &ex);
    uint64_t seq = number(&ex, "seq");
    const msgpack_object *records = sb_obj_get(&ex.data, "records");
    assert_int_equal(records->via.array.size, 3); /* the org, its user, its token */
    expect(&admin, "move.changes", json_pack("{s:s, s:i}", "org", "mv1", "seq", 0),
           "INVALID_ARGUMENT", NULL);
    expect(&admin, "move.changes",
           json_pack("{s:s, s:I}", "org", "mv1", "seq", (json_int_t)seq + 1), "OK", &r);
    assert_int_equal(sb_obj_get(&r.data, "records")->via.array.size, 0);
    msgpack_unpacked_destroy(&r);
    char d1[80], d2[80], st[16];
    expect(&c, "move.digest", json_pack("{s:s}", "org", "acme"), "ACCESS_DENIED", NULL);
    expect(&admin, "move.digest", json_incref(mv1), "OK", &r);
    field(&r, "digest", d1, sizeof(d1));
    msgpack_unpacked_destroy(&r);
    import_records(&admin, "mv1", records, "ALREADY_EXISTS");  /* here and serving */
    import_records(&admin, "acme", records, "ALREADY_EXISTS"); /* likewise */
    /* Gone, then brought back from its own records. */
    expect(&admin, "org.delete", json_pack("{s:s, s:b}", "org", "mv1", "force", 1), "OK", NULL);
    import_records(&admin, "mv2", records, "INVALID_ARGUMENT"); /* not mv2's org record */
    import_records(&admin, "mv1", records, "OK");
    msgpack_unpacked_destroy(&ex);
    /* Receiving: the admin reads it, its writes wait for the commit; its own tokens are told
     * to retry (in a cluster the placement may name this server already). */
    expect(&admin, "user.get", json_pack("{s:s, s:s}", "org", "mv1", "id", "005000000000001"), "OK",
           NULL);
    sb_client_t tenant;
    sb_harness_client(&server, &tenant, mv1_token);
    expect(&tenant, "user.get", json_pack("{s:s, s:s}", "org", "mv1", "id", "005000000000001"),
           "ORG_MOVING", NULL);
    expect(&admin, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "mv1", "id", "005000000000002", "name", "B",
                     "profile", "Agent"),
           "ORG_MOVING", NULL);
    expect(&admin, "move.digest", json_incref(mv1), "OK", &r);
    assert_string_equal(field(&r, "digest", d2, sizeof(d2)), d1); /* the same records */
    assert_string_equal(field(&r, "state", st, sizeof(st)), "receiving");
    msgpack_unpacked_destroy(&r);
    expect(&admin, "move.commit", json_pack("{s:s, s:i}", "org", "mv1", "org_seq", 50), "OK", NULL);
    expect(&tenant, "user.get", json_pack("{s:s, s:s}", "org", "mv1", "id", "005000000000001"),
           "OK", NULL);
    sb_client_close(&tenant);
    expect(&admin, "move.commit", json_incref(mv1), "ORG_MOVING", NULL);
    expect(&admin, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "mv1", "id", "005000000000002", "name", "B",
                     "profile", "Agent"),
           "OK", &r);
    assert_true(number(&r, "org_seq") > 50); /* its numbering continues past the source's */
    msgpack_unpacked_destroy(&r);
    /* Frozen: reads go on, writes wait; an abort lets them go on. */
    expect(&admin, "move.freeze", json_pack("{s:s}", "org", "nosuch"), "NOT_FOUND", NULL);
    expect(&admin, "move.done", json_pack("{s:s, s:s}", "org", "mv1", "to", "/elsewhere"),
           "ORG_MOVING", NULL); /* not frozen */
    expect(&admin, "move.freeze", json_incref(mv1), "OK", NULL);
    expect(&admin, "org.get", json_incref(mv1), "OK", NULL);
    expect(&admin, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "mv1", "id", "005000000000003", "name", "C",
                     "profile", "Agent"),
           "ORG_MOVING", NULL);
    expect(&admin, "move.abort", json_incref(mv1), "OK", NULL);
    expect(&admin, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "mv1", "id", "005000000000003", "name", "C",
                     "profile", "Agent"),
           "OK", NULL);
    /* Moved: MOVED for everything, a committed move is not undone. */
    expect(&admin, "move.freeze", json_incref(mv1), "OK", NULL);
    expect(&admin, "move.done", json_pack("{s:s, s:s}", "org", "mv1", "to", "/elsewhere"), "OK",
           &r);
    assert_false(sb_obj_get(&r.data, "left")->via.boolean);
    msgpack_unpacked_destroy(&r);
    expect(&admin, "org.get", json_incref(mv1), "MOVED", NULL);
    expect(&admin, "org.create", json_incref(mv1), "MOVED", NULL);
    expect(&admin, "move.abort", json_incref(mv1), "MOVED", NULL);
    json_decref(mv1);
    sb_client_close(&c);
    sb_client_close(&admin);
}

/* audit.list and changes.watch for an org's token: its own org only (test_audit has the rest). */
static void audit_and_watch_for_its_org(void **state)
{
    (void)state;
    sb_client_t c, w;
    sb_harness_client(&server, &c, acme_reader);
    msgpack_unpacked r;
    expect(&c, "audit.list", json_pack("{s:s, s:i}", "org", "acme", "limit", 5), "OK", &r);
    const msgpack_object *entries = sb_obj_get(&r.data, "entries");
    assert_true(entries->via.array.size > 0);
    for (uint32_t i = 0; i < entries->via.array.size; i++) {
        const msgpack_object *org = sb_obj_get(&entries->via.array.ptr[i], "org");
        assert_int_equal(org->via.str.size, 4);
        assert_memory_equal(org->via.str.ptr, "acme", 4);
        assert_null(sb_obj_get(&entries->via.array.ptr[i], "seq"));
    }
    msgpack_unpacked_destroy(&r);
    expect(&c, "audit.list", json_pack("{s:s}", "org", "globex"), "NOT_FOUND", NULL);
    expect(&c, "changes.watch", json_pack("{s:s}", "org", "globex"), "NOT_FOUND", NULL);
    expect(&c, "changes.watch", json_pack("{s:i}", "from", 1000000), "INVALID_ARGUMENT", NULL);
    sb_harness_client(&server, &w, acme_reader);
    expect(&w, "changes.watch", json_pack("{s:s, s:i}", "org", "acme", "from", 1), "OK", NULL);
    const msgpack_object *msg;
    assert_int_equal(sb_client_next(&w, &msg), 0);
    assert_int_equal(msg->via.array.ptr[0].via.u64, SB_RPC_NOTIFICATION);
    sb_client_close(&w);
    sb_client_close(&c);
}

/* Required arguments of the right types, with harmless values. */
/* ---- layouts, contacts, calls ---------------------------------------------------- */

static json_t *support_layout(void)
{
    json_error_t jerr;
    json_t *layout = json_load_file(SB_SOURCE_DIR "/docs/examples/layout.json", 0, &jerr);
    if (layout == NULL)
        fail_msg("docs/examples/layout.json: %s", jerr.text);
    return layout;
}

/* The map at `key` of a result, or fails. */
static const msgpack_object *map_at(const msgpack_object *o, const char *key)
{
    const msgpack_object *v = sb_obj_get(o, key);
    if (v == NULL)
        fail_msg("no '%s' in the result", key);
    return v;
}

static void str_at(const msgpack_object *o, const char *key, char *buf, size_t cap)
{
    const msgpack_object *v = map_at(o, key);
    snprintf(buf, cap, "%.*s", v->type == MSGPACK_OBJECT_STR ? (int)v->via.str.size : 0,
             v->type == MSGPACK_OBJECT_STR ? v->via.str.ptr : "");
}

static void layouts_through_the_server(void **state)
{
    (void)state;
    sb_client_t c, reader;
    sb_harness_client(&server, &c, acme_admin);
    sb_harness_client(&server, &reader, acme_reader);
    msgpack_unpacked r;
    char buf[512];
    expect(&c, "layout.put",
           json_pack("{s:s, s:o, s:b}", "org", "acme", "layout", support_layout(), "default", 1),
           "OK", &r);
    assert_int_equal(map_at(&r.data, "warnings")->via.array.size, 0);
    msgpack_unpacked_destroy(&r);

    /* A layout that cannot work is refused with the path of what is wrong. */
    json_t *bad = support_layout();
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(bad, "call_types"), "inbound"),
                        "screen_pop"),
        "no_match", json_pack("{s:s}", "action", "flow"));
    expect(&c, "layout.put", json_pack("{s:s, s:o}", "org", "acme", "layout", bad), "INVALID_VALUE",
           &r);
    msgpack_unpacked_destroy(&r);

    /* One that hides what agents need is kept, with warnings. */
    json_t *quiet = support_layout();
    json_object_set_new(quiet, "name", json_string("Quiet"));
    json_object_set_new(json_object_get(quiet, "call_states"), "ringing",
                        json_pack("{s:[s], s:[s]}", "fields", "DNIS", "actions", "answer"));
    expect(&c, "layout.put", json_pack("{s:s, s:o}", "org", "acme", "layout", quiet), "OK", &r);
    assert_int_equal(map_at(&r.data, "warnings")->via.array.size, 1);
    msgpack_unpacked_destroy(&r);

    expect(&reader, "layout.get",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "name", "Support", "format", "opencti"),
           "OK", &r);
    const msgpack_object *inbound = map_at(&r.data, "Inbound");
    str_at(map_at(map_at(inbound, "screenPopSettings"), "NoMatch"), "screenPopType", buf,
           sizeof(buf));
    assert_string_equal(buf, "PopToEntity");
    str_at(map_at(map_at(inbound, "screenPopSettings"), "MultipleMatches"), "screenPopType", buf,
           sizeof(buf));
    assert_string_equal(buf, "PopToSearch");
    assert_int_equal(map_at(inbound, "callRelatedFields")->via.array.size, 3);
    msgpack_unpacked_destroy(&r);
    expect(&reader, "layout.get", json_pack("{s:s, s:s}", "org", "acme", "name", "Nope"),
           "NOT_FOUND", NULL);
    expect(&reader, "layout.list", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    expect(&reader, "layout.list", json_pack("{s:s}", "org", "nowhere"), "NOT_FOUND", NULL);
    expect(&c, "layout.assign",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "profile", "Night Shift", "layout", "Quiet"),
           "OK", NULL);
    expect(&c, "layout.assign",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "profile", "Agent", "layout", "Nope"),
           "NOT_FOUND", NULL);

    /* The check names the layout and where it came from. */
    expect(&c, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "acme", "id", "005000000000041", "name",
                     "Night", "profile", "Night Shift"),
           "OK", NULL);
    expect(&c, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "acme", "id", "005000000000042", "name", "Day",
                     "profile", "Agent"),
           "OK", NULL);
    expect(&c, "callcenter.create",
           json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "org", "acme", "internal_name",
                     "Desk", "display_name", "Desk", "adapter_url", "https://cti.example.com/desk",
                     "compatibility_mode", "Lightning", "outside_prefix", "9",
                     "long_distance_prefix", "1", "international_prefix", "011"),
           "OK", NULL);
    for (int i = 1; i <= 2; i++)
        expect(&c, "member.add",
               json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Desk", "user",
                         i == 1 ? "005000000000041" : "005000000000042"),
               "OK", NULL);
    expect(&reader, "softphone.check",
           json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000041"), "OK", &r);
    str_at(&r.data, "layout_name", buf, sizeof(buf));
    assert_string_equal(buf, "Quiet");
    str_at(&r.data, "layout_source", buf, sizeof(buf));
    assert_string_equal(buf, "profile");
    msgpack_unpacked_destroy(&r);
    expect(&reader, "softphone.check",
           json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000042"), "OK", &r);
    str_at(&r.data, "layout_source", buf, sizeof(buf));
    assert_string_equal(buf, "default");
    str_at(&r.data, "adapter_url", buf, sizeof(buf));
    assert_string_equal(buf, "https://cti.example.com/desk");
    msgpack_unpacked_destroy(&r);

    /* A profile change moves the user to the default, and a URL change reaches every member. */
    expect(&c, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "acme", "id", "005000000000041", "name",
                     "Night", "profile", "Agent"),
           "OK", NULL);
    expect(&c, "callcenter.update",
           json_pack("{s:s, s:s, s:{s:s}}", "org", "acme", "id", "Desk", "values",
                     "/reqGeneralInfo/reqAdapterUrl", "http://cti.example.com/desk"),
           "OK", NULL);
    expect(&reader, "softphone.check",
           json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000041"), "OK", &r);
    str_at(&r.data, "layout_source", buf, sizeof(buf));
    assert_string_equal(buf, "default");
    str_at(&r.data, "reason", buf, sizeof(buf));
    assert_string_equal(buf, "ADAPTER_URL_NOT_HTTPS");
    msgpack_unpacked_destroy(&r);

    expect(&c, "layout.delete", json_pack("{s:s, s:s}", "org", "acme", "name", "Quiet"),
           "LAYOUT_IN_USE", NULL);
    expect(&c, "layout.delete",
           json_pack("{s:s, s:s, s:b}", "org", "acme", "name", "Quiet", "force", 1), "OK", NULL);
    expect(&c, "layout.assign",
           json_pack("{s:s, s:s, s:b}", "org", "acme", "profile", "Night Shift", "unassign", 1),
           "NOT_FOUND", NULL);
    expect(&c, "layout.assign",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "profile", "Agent", "layout", "Support"),
           "OK", NULL);
    sb_client_close(&c);
    sb_client_close(&reader);
}

static const msgpack_object *voicecall_of(const msgpack_unpacked *r)
{
    return map_at(&r->data, "voicecall");
}

static void call_step(sb_client_t *c, const char *method, json_t *args, msgpack_unpacked *r)
{
    json_object_set_new(args, "org", json_string("acme"));
    json_object_set_new(args, "callcenter", json_string("Desk"));
    expect(c, method, args, "OK", r);
}

/* A view larger than the answer's own buffer for it (a long adapter URL) is read all the same. */
static void a_large_view_is_read_whole(void **state)
{
    (void)state;
    sb_client_t c;
    sb_harness_client(&server, &c, acme_admin);
    char url[2001];
    int n = snprintf(url, sizeof(url), "https://cti.example.com/");
    memset(url + n, 'x', sizeof(url) - 1 - (size_t)n);
    url[sizeof(url) - 1] = '\0';
    expect(&c, "callcenter.create",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "acme", "internal_name", "Long", "display_name",
                     "Long", "adapter_url", url),
           "OK", NULL);
    expect(&c, "user.upsert",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "id", "005000000000077", "name", "Long"),
           "OK", NULL);
    expect(&c, "member.add",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Long", "user",
                     "005000000000077"),
           "OK", NULL);
    for (int i = 0; i < 2; i++) { /* packed, then spliced */
        msgpack_unpacked r;
        char got[2100];
        expect(&c, "softphone.check",
               json_pack("{s:s, s:s}", "org", "acme", "user", "005000000000077"), "OK", &r);
        str_at(&r.data, "adapter_url", got, sizeof(got));
        assert_string_equal(got, url);
        msgpack_unpacked_destroy(&r);
    }
    sb_client_close(&c);
}

static void contacts_and_calls_through_the_server(void **state)
{
    (void)state;
    sb_client_t c, reader;
    sb_harness_client(&server, &c, acme_admin);
    sb_harness_client(&server, &reader, acme_reader);
    msgpack_unpacked r;
    char buf[512];
    expect(&c, "callcenter.update",
           json_pack("{s:s, s:s, s:{s:s}}", "org", "acme", "id", "Desk", "values",
                     "/reqGeneralInfo/reqAdapterUrl", "https://cti.example.com/desk"),
           "OK", NULL);

    /* Contacts: numbers read with the Call Center's prefixes; a bad row writes nothing. */
    json_t *rows = json_pack(
        "[{s:s, s:s, s:[s]}, {s:s, s:s, s:[s, s]}, {s:s, s:s, s:[s]}, {s:s, s:s, s:[s]}, "
        "{s:s, s:s, s:[s]}]",
        "id", "003000000000001", "name", "Ada Lovelace", "phones", "(415) 555-0100", "id",
        "001000000000001", "name", "Analytical Engines", "phones", "1 415 555 0199",
        "+44 20 7946 0000", "id", "00Q000000000001", "name", "Lead One", "phones", "415.555.0177",
        "id", "003000000000002", "name", "Grace Hopper", "phones", "4155550177", "id",
        "500000000000001", "name", "Case 1", "phones", "+1 (415) 555-0177");
    json_t *bad_rows = json_deep_copy(rows);
    json_array_append_new(bad_rows, json_pack("{s:s, s:s, s:[s]}", "id", "003000000000003", "name",
                                              "Nope", "phones", "call me maybe"));
    expect(&c, "contact.upsert_bulk",
           json_pack("{s:s, s:s, s:o, s:i}", "org", "acme", "callcenter", "Desk", "contacts",
                     bad_rows, "first_line", 2),
           "INVALID_VALUE", NULL);
    expect(&reader, "contact.get", json_pack("{s:s, s:s}", "org", "acme", "id", "003000000000001"),
           "NOT_FOUND", NULL);
    expect(&c, "contact.upsert_bulk",
           json_pack("{s:s, s:s, s:o}", "org", "acme", "callcenter", "Desk", "contacts", rows),
           "OK", NULL);
    expect(&reader, "contact.get", json_pack("{s:s, s:s}", "org", "acme", "id", "001000000000001"),
           "OK", &r);
    const msgpack_object *phones = map_at(&r.data, "phones");
    assert_int_equal(phones->via.array.size, 2);
    assert_memory_equal(phones->via.array.ptr[0].via.str.ptr, "+14155550199", 12);
    assert_memory_equal(phones->via.array.ptr[1].via.str.ptr, "+442079460000", 13);
    msgpack_unpacked_destroy(&r);
    expect(&reader, "contact.list", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    expect(&reader, "contact.list", json_pack("{s:s, s:i}", "org", "acme", "limit", 0),
           "INVALID_ARGUMENT", NULL);

    /* A whole call: one match pops the record; the transcript keeps its order. */
    call_step(&c, "call.start",
              json_pack("{s:s, s:s, s:s, s:s, s:s}", "vendor_call_key", "K1", "from",
                        "415-555-0100", "to", "+18005550000", "user", "005000000000042", "at",
                        "2026-11-24T10:00:00Z"),
              &r);
    assert_true(sb_obj_get(&r.data, "created")->via.boolean);
    str_at(voicecall_of(&r), "from", buf, sizeof(buf));
    assert_string_equal(buf, "+14155550100");
    str_at(voicecall_of(&r), "parent", buf, sizeof(buf));
    assert_string_equal(buf, "003000000000001AAA");
    char call_id[32];
    str_at(voicecall_of(&r), "id", call_id, sizeof(call_id));
    assert_memory_equal(call_id, "0LQ", 3);
    msgpack_unpacked_destroy(&r);
    call_step(&c, "call.accept",
              json_pack("{s:s, s:s}", "vendor_call_key", "K1", "at", "2026-11-24T10:00:05Z"), NULL);
    /* Segments out of order, and one repeated. */
    call_step(&c, "call.transcript",
              json_pack("{s:s, s:s, s:s, s:s}", "vendor_call_key", "K1", "text", "second",
                        "segment_id", "s2", "at", "2026-11-24T10:00:20Z"),
              NULL);
    call_step(&c, "call.transcript",
              json_pack("{s:s, s:s, s:s, s:s}", "vendor_call_key", "K1", "text", "first",
                        "segment_id", "s1", "at", "2026-11-24T10:00:10Z"),
              NULL);
    call_step(&c, "call.transcript",
              json_pack("{s:s, s:s, s:s, s:s}", "vendor_call_key", "K1", "text", "second",
                        "segment_id", "s2", "at", "2026-11-24T10:00:20Z"),
              NULL);
    call_step(&c, "call.hold", json_pack("{s:s}", "vendor_call_key", "K1"), NULL);
    call_step(&c, "call.resume", json_pack("{s:s}", "vendor_call_key", "K1"), NULL);
    call_step(&c, "call.end",
              json_pack("{s:s, s:s, s:s}", "vendor_call_key", "K1", "at", "2026-11-24T10:01:05Z",
                        "disposition", "resolved"),
              NULL);
    /* A repeated end and a late start change nothing that was recorded. */
    call_step(&c, "call.end",
              json_pack("{s:s, s:s, s:s}", "vendor_call_key", "K1", "at", "2026-11-24T10:09:00Z",
                        "disposition", "other"),
              NULL);
    call_step(&c, "call.start",
              json_pack("{s:s, s:s, s:s}", "vendor_call_key", "K1", "from", "+19999999999", "at",
                        "2026-11-24T10:00:30Z"),
              &r);
    assert_false(sb_obj_get(&r.data, "created")->via.boolean);
    msgpack_unpacked_destroy(&r);
    expect(&reader, "voicecall.get", json_pack("{s:s, s:s}", "org", "acme", "id", call_id), "OK",
           &r);
    assert_int_equal(number(&r, "duration_s"), 60);
    assert_int_equal(number(&r, "holds"), 1);
    str_at(&r.data, "disposition", buf, sizeof(buf));
    assert_string_equal(buf, "resolved");
    str_at(&r.data, "status", buf, sizeof(buf));
    assert_string_equal(buf, "ended");
    str_at(&r.data, "from", buf, sizeof(buf));
    assert_string_equal(buf, "+14155550100");
    const msgpack_object *transcript = map_at(&r.data, "transcript");
    assert_int_equal(transcript->via.array.size, 2);
    str_at(&transcript->via.array.ptr[0], "text", buf, sizeof(buf));
    assert_string_equal(buf, "first");
    msgpack_unpacked_destroy(&r);

    /* Two matches of the searched objects (the Lead is not searched for inbound calls): the
     * layout pops the search page, and there is no parent. */
    call_step(&c, "call.start",
              json_pack("{s:s, s:s, s:s}", "vendor_call_key", "K2", "from", "4155550177", "user",
                        "005000000000042"),
              &r);
    const msgpack_object *pop = map_at(voicecall_of(&r), "screen_pop");
    str_at(pop, "action", buf, sizeof(buf));
    assert_string_equal(buf, "search");
    assert_int_equal(sb_obj_get(pop, "matches")->via.u64, 2);
    const msgpack_object *parent = sb_obj_get(voicecall_of(&r), "parent");
    assert_true(parent == NULL || parent->type == MSGPACK_OBJECT_NIL);
    msgpack_unpacked_destroy(&r);
    call_step(&c, "call.start",
              json_pack("{s:s, s:s, s:s}", "vendor_call_key", "K3", "from", "+15550000000", "user",
                        "005000000000042"),
              &r);
    str_at(map_at(voicecall_of(&r), "screen_pop"), "action", buf, sizeof(buf));
    assert_string_equal(buf, "new_record");
    msgpack_unpacked_destroy(&r);
    call_step(&c, "call.end", json_pack("{s:s}", "vendor_call_key", "K3"), &r);
    str_at(voicecall_of(&r), "disposition", buf, sizeof(buf));
    assert_string_equal(buf, "missed");
    msgpack_unpacked_destroy(&r);

    /* An outbound call to an unknown number: the layout says not to pop at all. */
    call_step(&c, "call.start",
              json_pack("{s:s, s:s, s:s, s:s}", "vendor_call_key", "K4", "to", "+15550000001",
                        "user", "005000000000042", "call_type", "outbound"),
              &r);
    pop = map_at(voicecall_of(&r), "screen_pop");
    str_at(pop, "action", buf, sizeof(buf));
    assert_string_equal(buf, "none");
    assert_int_equal(sb_obj_get(pop, "matches")->via.u64, 0);
    parent = sb_obj_get(voicecall_of(&r), "parent");
    assert_true(parent == NULL || parent->type == MSGPACK_OBJECT_NIL);
    msgpack_unpacked_destroy(&r);

    /* A profile whose layout pops a flow for unknown callers: the record names the flow. */
    json_t *flows = support_layout();
    json_object_set_new(flows, "name", json_string("Flows"));
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(flows, "call_types"), "inbound"),
                        "screen_pop"),
        "no_match", json_pack("{s:s, s:s}", "action", "flow", "flow", "New_Caller_Intake"));
    expect(&c, "layout.put", json_pack("{s:s, s:o}", "org", "acme", "layout", flows), "OK", NULL);
    expect(&c, "layout.assign",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "profile", "Intake", "layout", "Flows"),
           "OK", NULL);
    expect(&c, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "acme", "id", "005000000000043", "name",
                     "Intake", "profile", "Intake"),
           "OK", NULL);
    expect(&c, "member.add",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Desk", "user",
                     "005000000000043"),
           "OK", NULL);
    call_step(&c, "call.start",
              json_pack("{s:s, s:s, s:s}", "vendor_call_key", "K5", "from", "+15550000002", "user",
                        "005000000000043"),
              &r);
    pop = map_at(voicecall_of(&r), "screen_pop");
    str_at(pop, "action", buf, sizeof(buf));
    assert_string_equal(buf, "flow");
    str_at(pop, "target", buf, sizeof(buf));
    assert_string_equal(buf, "New_Caller_Intake");
    msgpack_unpacked_destroy(&r);
    /* The same caller to a default-layout agent gets the default's rule, not the flow. */
    call_step(&c, "call.start",
              json_pack("{s:s, s:s, s:s}", "vendor_call_key", "K6", "from", "+15550000002", "user",
                        "005000000000042"),
              &r);
    str_at(map_at(voicecall_of(&r), "screen_pop"), "action", buf, sizeof(buf));
    assert_string_equal(buf, "new_record");
    msgpack_unpacked_destroy(&r);
    expect(&c, "member.remove",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Desk", "user",
                     "005000000000043"),
           "OK", NULL);

    expect(&c, "call.start",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Desk", "from", "+1"),
           "INVALID_ARGUMENT", NULL);
    expect(&c, "call.accept",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "acme", "callcenter", "Desk", "vendor_call_key",
                     "K1", "user", "not-a-user"),
           "INVALID_ID", NULL);
    expect(&c, "call.hold",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Nowhere", "vendor_call_key",
                     "K1"),
           "NOT_FOUND", NULL);
    expect(&c, "call.resume",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "acme", "callcenter", "Desk", "vendor_call_key",
                     "K1", "at", "yesterday"),
           "INVALID_VALUE", NULL);
    expect(
        &c, "call.transcript",
        json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Desk", "vendor_call_key", "K1"),
        "INVALID_ARGUMENT", NULL);
    expect(&c, "call.end",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Desk", "vendor_call_key", ""),
           "MISSING_FIELD", NULL);
    expect(
        &reader, "call.end",
        json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "Desk", "vendor_call_key", "K9"),
        "ACCESS_DENIED", NULL);

    expect(&reader, "voicecall.list",
           json_pack("{s:s, s:s, s:i}", "org", "acme", "user", "005000000000042", "limit", 2), "OK",
           &r);
    assert_int_equal(map_at(&r.data, "voicecalls")->via.array.size, 2);
    assert_true(sb_obj_get(&r.data, "more")->via.boolean);
    msgpack_unpacked_destroy(&r);
    expect(&reader, "voicecall.list",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "since", "2026-11-24T10:00:00Z", "until",
                     "2026-11-24T10:00:01Z"),
           "OK", &r);
    assert_int_equal(map_at(&r.data, "voicecalls")->via.array.size, 1);
    msgpack_unpacked_destroy(&r);
    expect(&reader, "voicecall.list", json_pack("{s:s, s:s}", "org", "acme", "since", "soon"),
           "INVALID_VALUE", NULL);
    expect(&reader, "voicecall.get",
           json_pack("{s:s, s:s}", "org", "acme", "id", "0LQ000000000999"), "NOT_FOUND", NULL);

    /* The test call checks each step and says which failed. */
    expect(&c, "call.test",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "user", "005000000000042", "from",
                     "+1 415 555 0100"),
           "OK", &r);
    assert_true(sb_obj_get(&r.data, "passed")->via.boolean);
    msgpack_unpacked_destroy(&r);
    expect(&c, "call.test",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "user", "005000000000042", "from",
                     "+1 212 555 0000"),
           "OK", &r);
    assert_false(sb_obj_get(&r.data, "passed")->via.boolean);
    const msgpack_object *checks = map_at(&r.data, "checks");
    assert_true(sb_obj_get(&checks->via.array.ptr[3], "ok")->via.boolean);
    assert_false(sb_obj_get(&checks->via.array.ptr[4], "ok")->via.boolean);
    msgpack_unpacked_destroy(&r);
    expect(&c, "call.test",
           json_pack("{s:s, s:s, s:s}", "org", "nowhere", "user", "005000000000042", "from", "1"),
           "NOT_FOUND", NULL);

    /* Service Cloud Voice's Telephony REST shape, through the amazon_connect adapter. */
    expect(&c, "callcenter.import",
           json_pack("{s:s, s:o, s:s}", "org", "acme", "file",
                     corpus_file(
                         "salesforce-scv-examples/amazon_connect_partner_telephony_cc_import.xml"),
                     "internal_name", "VoiceAC"),
           "OK", NULL);
    const char *create = "{\"callCenterApiName\": \"VoiceAC\", \"vendorCallKey\": \"scv-1\", "
                         "\"to\": \"+18005550000\", \"from\": \"+14155550100\", "
                         "\"initiationMethod\": \"Inbound\", \"startTime\": "
                         "\"2026-11-24T11:00:00.000Z\", \"participants\": [{\"participantKey\": "
                         "\"+14155550100\", \"type\": \"END_USER\"}]}";
    expect(&c, "call.event",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "acme", "callcenter", "VoiceAC", "event",
                     create, "user", "005000000000042"),
           "OK", &r);
    assert_true(sb_obj_get(&r.data, "created")->via.boolean);
    msgpack_unpacked_destroy(&r);
    expect(&c, "call.event",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "VoiceAC", "event",
                     "{\"vendorCallKey\": \"scv-1\", \"endTime\": \"2026-11-24T11:02:00Z\", "
                     "\"disconnectReason\": \"CUSTOMER_DISCONNECT\"}"),
           "OK", &r);
    assert_int_equal(number(voicecall_of(&r) ? &r : &r, "created") == 0, 0);
    const msgpack_object *vc = voicecall_of(&r);
    const msgpack_object *d = sb_obj_get(vc, "duration_s");
    assert_int_equal(d->via.u64, 120);
    str_at(vc, "disposition", buf, sizeof(buf));
    assert_string_equal(buf, "CUSTOMER_DISCONNECT");
    msgpack_unpacked_destroy(&r);
    expect(&c, "call.event",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "VoiceAC", "event",
                     "{\"callCenterApiName\": \"Other\", \"vendorCallKey\": \"scv-2\"}"),
           "INVALID_VALUE", NULL);
    expect(&c, "call.event",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "callcenter", "VoiceAC", "event",
                     "{\"detail\": {\"eventType\": \"QUEUED\", \"contactId\": \"x\"}}"),
           "EVENT_IGNORED", NULL);
    sb_client_close(&c);
    sb_client_close(&reader);
}

/* Whether org.doctor of `org` reports `code` about `subject`. */
static bool doctor_finds(sb_client_t *c, const char *org, const char *code, const char *subject)
{
    msgpack_unpacked r;
    expect(c, "org.doctor", json_pack("{s:s}", "org", org), "OK", &r);
    const msgpack_object *findings = map_at(&r.data, "findings");
    bool found = false;
    char got_code[64], got_subject[320];
    for (uint32_t i = 0; i < findings->via.array.size; i++) {
        str_at(&findings->via.array.ptr[i], "code", got_code, sizeof(got_code));
        str_at(&findings->via.array.ptr[i], "subject", got_subject, sizeof(got_subject));
        found |= strcmp(got_code, code) == 0 && strstr(got_subject, subject) != NULL;
    }
    msgpack_unpacked_destroy(&r);
    return found;
}

static void the_doctor_finds_what_will_break(void **state)
{
    (void)state;
    sb_client_t c;
    sb_harness_client(&server, &c, NULL);
    expect(&c, "org.create", json_pack("{s:s}", "org", "clinic"), "OK", NULL);
    expect(&c, "org.doctor", json_pack("{s:s}", "org", "nowhere"), "NOT_FOUND", NULL);
    expect(&c, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "clinic", "id", "005000000000201", "name", "Sv",
                     "profile", "Supervisor"),
           "OK", NULL);
    expect(&c, "callcenter.create",
           json_pack("{s:s, s:s, s:s, s:s, s:s}", "org", "clinic", "internal_name", "Front",
                     "display_name", "Front", "adapter_url", "http://cti.example.com",
                     "compatibility_mode", "Lightning"),
           "OK", NULL);
    /* No layout anywhere; a Call Center nobody is in; a Lightning URL that is not https. */
    assert_true(doctor_finds(&c, "clinic", "PROFILE_WITHOUT_LAYOUT", "Supervisor"));
    assert_true(doctor_finds(&c, "clinic", "CALLCENTER_WITHOUT_MEMBERS", "Front"));
    assert_true(doctor_finds(&c, "clinic", "LIGHTNING_URL_NOT_HTTPS", "Front"));
    json_t *quiet = support_layout();
    json_object_set_new(quiet, "name", json_string("Quiet"));
    json_object_set_new(json_object_get(quiet, "call_states"), "ringing",
                        json_pack("{s:[s], s:[s]}", "fields", "DNIS", "actions", "answer"));
    expect(&c, "layout.put", json_pack("{s:s, s:o}", "org", "clinic", "layout", quiet), "OK", NULL);
    expect(
        &c, "layout.assign",
        json_pack("{s:s, s:s, s:s}", "org", "clinic", "profile", "Supervisor", "layout", "Quiet"),
        "OK", NULL);
    assert_false(doctor_finds(&c, "clinic", "PROFILE_WITHOUT_LAYOUT", "Supervisor"));
    assert_true(doctor_finds(&c, "clinic", "USERS_WITHOUT_CALLCENTER", "Supervisor"));
    assert_true(doctor_finds(&c, "clinic", "LAYOUT_HIDES_ANI", "Quiet"));
    expect(&c, "layout.put", json_pack("{s:s, s:o}", "org", "clinic", "layout", support_layout()),
           "OK", NULL);
    expect(
        &c, "layout.assign",
        json_pack("{s:s, s:s, s:s}", "org", "clinic", "profile", "Supervisor", "layout", "Support"),
        "OK", NULL);
    expect(&c, "layout.delete", json_pack("{s:s, s:s}", "org", "clinic", "name", "Quiet"), "OK",
           NULL);
    assert_false(doctor_finds(&c, "clinic", "LAYOUT_HIDES_ANI", "Quiet"));
    expect(&c, "member.add",
           json_pack("{s:s, s:s, s:s}", "org", "clinic", "callcenter", "Front", "user",
                     "005000000000201"),
           "OK", NULL);
    assert_false(doctor_finds(&c, "clinic", "USERS_WITHOUT_CALLCENTER", "Supervisor"));
    assert_false(doctor_finds(&c, "clinic", "CALLCENTER_WITHOUT_MEMBERS", "Front"));
    expect(&c, "callcenter.update",
           json_pack("{s:s, s:s, s:{s:s}, s:s}", "org", "clinic", "id", "Front", "values",
                     "/reqGeneralInfo/reqAdapterUrl", "https://cti.example.com", "adapter",
                     "avaya"),
           "OK", NULL);
    assert_false(doctor_finds(&c, "clinic", "LIGHTNING_URL_NOT_HTTPS", "Front"));
    assert_true(doctor_finds(&c, "clinic", "ADAPTER_NOT_LOADED", "Front"));
    expect(&c, "callcenter.update",
           json_pack("{s:s, s:s, s:s}", "org", "clinic", "id", "Front", "adapter", ""), "OK", NULL);
    assert_false(doctor_finds(&c, "clinic", "ADAPTER_NOT_LOADED", "Front"));
    /* An adapter that rejects the settings: the AWS template, still holding its placeholders. */
    expect(&c, "callcenter.import",
           json_pack("{s:s, s:o, s:s}", "org", "clinic", "file",
                     corpus_file(
                         "salesforce-scv-examples/amazon_connect_partner_telephony_cc_import.xml"),
                     "internal_name", "VoiceAC"),
           "OK", NULL);
    assert_true(doctor_finds(&c, "clinic", "SETTINGS_REJECTED", "VoiceAC"));
    expect(&c, "callcenter.delete", json_pack("{s:s, s:s}", "org", "clinic", "id", "VoiceAC"), "OK",
           NULL);
    assert_false(doctor_finds(&c, "clinic", "SETTINGS_REJECTED", "VoiceAC"));
    expect(&c, "org.doctor", json_pack("{s:s}", "org", "clinic"), "OK", NULL);
    sb_client_close(&c);
}

/* The reason of `user`'s softphone check in org `org`. */
static void reason_of(sb_client_t *c, const char *org, const char *user, char *buf, size_t cap)
{
    msgpack_unpacked r;
    expect(c, "softphone.check", json_pack("{s:s, s:s}", "org", org, "user", user), "OK", &r);
    str_at(&r.data, "reason", buf, cap);
    msgpack_unpacked_destroy(&r);
}

static void plan_of(sb_client_t *c, const char *org, char *fingerprint, uint64_t *changes)
{
    msgpack_unpacked r;
    expect(c, "rules.plan", json_pack("{s:s}", "org", org), "OK", &r);
    str_at(&r.data, "fingerprint", fingerprint, 64);
    const msgpack_object *counts = map_at(&r.data, "counts");
    *changes = sb_obj_get(counts, "add")->via.u64 + sb_obj_get(counts, "move")->via.u64 +
               sb_obj_get(counts, "remove")->via.u64;
    msgpack_unpacked_destroy(&r);
}

/* Assignment rules and the Service Cloud Voice licence, as an org's admin
 * uses them: rules refused and put, a plan read, a stale one refused, the
 * fresh one applied; a member of a Service Cloud Voice Call Center without
 * the licence, through the check and the doctor, then with it. */
static void rules_and_licences_through_the_server(void **state)
{
    (void)state;
    sb_client_t admin, c;
    sb_harness_client(&server, &admin, NULL);
    expect(&admin, "org.create", json_pack("{s:s}", "org", "multi"), "OK", NULL);
    char token[128];
    make_token(&admin, "multi", "org_admin", token);
    sb_client_close(&admin);
    sb_harness_client(&server, &c, token);
    expect(&c, "callcenter.create",
           json_pack("{s:s, s:s, s:s, s:s, s:s}", "org", "multi", "internal_name", "Sales",
                     "display_name", "Sales", "adapter_url", "https://cti.example.com",
                     "compatibility_mode", "Lightning"),
           "OK", NULL);
    expect(&c, "callcenter.import",
           json_pack("{s:s, s:o, s:s}", "org", "multi", "file",
                     corpus_file(
                         "salesforce-scv-examples/amazon_connect_partner_telephony_cc_import.xml"),
                     "internal_name", "Service"),
           "OK", NULL);
    expect(&c, "user.upsert_bulk",
           json_pack("{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, "
                     "{s:s, s:s}]}",
                     "org", "multi", "users", "id", "005000000000301", "name", "Sal", "department",
                     "Sales", "id", "005000000000302", "name", "Sam", "department", "Service",
                     "role", "Service Rep", "id", "005000000000303", "name", "Cy", "department",
                     "Sales", "role", "Service Lead", "id", "005000000000304", "name", "Nobody"),
           "OK", NULL);
    /* Refused: an unknown Call Center, a shadowed rule. */
    expect(&c, "rules.put",
           json_pack("{s:s, s:[{s:s, s:s}]}", "org", "multi", "rules", "name", "x", "callcenter",
                     "Nowhere"),
           "RULES_INVALID", NULL);
    expect(&c, "rules.put",
           json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s, s:[{s:s, s:s, s:[s]}]}]}", "org", "multi",
                     "rules", "name", "all", "callcenter", "Sales", "name", "late", "callcenter",
                     "Service", "when", "field", "role", "op", "prefix", "values", "Service"),
           "RULES_INVALID", NULL);
    json_t *rules = json_pack(
        "[{s:s, s:s, s:b, s:[{s:s, s:s, s:[s]}]}, {s:s, s:s, s:b, s:[{s:s, s:s, s:[s]}]}]", "name",
        "sales", "callcenter", "Sales", "exclusive", 1, "when", "field", "department", "op",
        "equals", "values", "Sales", "name", "service", "callcenter", "Service", "exclusive", 1,
        "when", "field", "role", "op", "prefix", "values", "Service");
    expect(&c, "rules.put", json_pack("{s:s, s:o}", "org", "multi", "rules", rules), "OK", NULL);
    msgpack_unpacked r;
    expect(&c, "rules.get", json_pack("{s:s}", "org", "multi"), "OK", &r);
    assert_int_equal(number(&r, "version"), 1);
    msgpack_unpacked_destroy(&r);
    /* 301 to Sales, 302 to Service; 303 is a conflict; 304 matches nothing. */
    assert_true(doctor_finds(&c, "multi", "MEMBERSHIPS_CONTRADICT_RULES", "rules"));
    assert_true(doctor_finds(&c, "multi", "RULES_CONFLICT", "rules"));
    assert_true(doctor_finds(&c, "multi", "USERS_NO_RULE_MATCHES", "rules"));
    char fp[64], stale[64];
    uint64_t changes;
    plan_of(&c, "multi", stale, &changes);
    assert_int_equal(changes, 2);
    expect(&c, "rules.apply", json_pack("{s:s, s:s}", "org", "multi", "fingerprint", "00"),
           "PLAN_STALE", NULL);
    /* A write after the plan: the plan read is not the one that would apply. */
    expect(&c, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "multi", "id", "005000000000304", "name",
                     "Nobody", "department", "Sales"),
           "OK", NULL);
    expect(&c, "rules.apply", json_pack("{s:s, s:s}", "org", "multi", "fingerprint", stale),
           "PLAN_STALE", NULL);
    char buf[64];
    reason_of(&c, "multi", "005000000000301", buf, sizeof(buf));
    assert_string_equal(buf, "NOT_A_MEMBER"); /* nothing of it was applied */
    plan_of(&c, "multi", fp, &changes);
    assert_int_equal(changes, 3);
    expect(&c, "rules.apply", json_pack("{s:s, s:s}", "org", "multi", "fingerprint", fp), "OK", &r);
    assert_int_equal(number(&r, "applied"), 3);
    msgpack_unpacked_destroy(&r);
    assert_false(doctor_finds(&c, "multi", "MEMBERSHIPS_CONTRADICT_RULES", "rules"));
    reason_of(&c, "multi", "005000000000301", buf, sizeof(buf));
    assert_string_equal(buf, "OK");
    /* Service is a Service Cloud Voice Call Center: 302 needs the licence. */
    reason_of(&c, "multi", "005000000000302", buf, sizeof(buf));
    assert_string_equal(buf, "NO_SCV_LICENCE");
    assert_true(doctor_finds(&c, "multi", "MEMBERS_WITHOUT_SCV_LICENCE", "Service"));
    expect(
        &c, "licence.assign",
        json_pack("{s:s, s:[s, s]}", "org", "multi", "users", "005000000000302", "005000000000399"),
        "NOT_FOUND", NULL);
    reason_of(&c, "multi", "005000000000302", buf, sizeof(buf));
    assert_string_equal(buf, "NO_SCV_LICENCE"); /* all or nothing */
    expect(&c, "licence.assign",
           json_pack("{s:s, s:[s]}", "org", "multi", "users", "005000000000302"), "OK", NULL);
    reason_of(&c, "multi", "005000000000302", buf, sizeof(buf));
    assert_string_not_equal(buf, "NO_SCV_LICENCE");
    assert_false(doctor_finds(&c, "multi", "MEMBERS_WITHOUT_SCV_LICENCE", "Service"));
    /* An upsert keeps the licence; licence.assign --revoke takes it back. */
    expect(&c, "user.upsert",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "multi", "id", "005000000000302", "name", "Sam",
                     "profile", "Agent"),
           "OK", &r);
    assert_true(sb_obj_get(&r.data, "scv_licence")->via.boolean);
    msgpack_unpacked_destroy(&r);
    reason_of(&c, "multi", "005000000000302", buf, sizeof(buf));
    assert_string_not_equal(buf, "NO_SCV_LICENCE");
    expect(&c, "licence.assign",
           json_pack("{s:s, s:[s], s:b}", "org", "multi", "users", "005000000000302", "revoke", 1),
           "OK", NULL);
    reason_of(&c, "multi", "005000000000302", buf, sizeof(buf));
    assert_string_equal(buf, "NO_SCV_LICENCE");
    sb_client_close(&c);
}

static json_t *plausible_args(const sb_method_t *m, const char *org)
{
    json_t *args = json_object();
    for (const sb_arg_spec_t *a = m->args; a->name != NULL; a++) {
        if (!a->required)
            continue;
        json_t *v =
            a->type == SB_ARG_STRING || a->type == SB_ARG_BYTES ? json_string("04v000000000001")
            : a->type == SB_ARG_INTEGER                         ? json_integer(1)
            : a->type == SB_ARG_BOOLEAN                         ? json_true()
            : a->type == SB_ARG_ARRAY ? json_pack("[{s:s, s:s, s:s}]", "id", "005000000000001",
                                                  "name", "x", "user", "005000000000001")
                                      : json_object();
        json_object_set_new(args, a->name, v);
    }
    json_object_set_new(args, "org", json_string(org));
    return args;
}

struct isolation {
    sb_client_t *client;
    int checked;
};

static void check_isolation(const sb_method_t *m, void *vctx)
{
    struct isolation *ctx = vctx;
    if (!m->org_scoped)
        return;
    /* globex exists, but not for acme's token: the answer must be the one
     * for an org that does not exist at all. */
    msgpack_unpacked r1, r2;
    sb_err_t e1, e2;
    int rc1 = sb_client_call_json(ctx->client, m->name, plausible_args(m, "globex"), &r1, &e1);
    char name1[64];
    snprintf(name1, sizeof(name1), "%s", ctx->client->error_name);
    int rc2 = sb_client_call_json(ctx->client, m->name, plausible_args(m, "nosuchorg"), &r2, &e2);
    msgpack_unpacked_destroy(&r1);
    msgpack_unpacked_destroy(&r2);
    record(m->name, rc1);
    if (rc1 != SB_CLIENT_REFUSED || strcmp(name1, "NOT_FOUND") != 0)
        fail_msg("%s on another org: %s %s", m->name, name1, e1.message);
    assert_int_equal(rc2, SB_CLIENT_REFUSED);
    char *globex = strstr(e1.message, "globex");
    char *nosuch = strstr(e2.message, "nosuchorg");
    assert_non_null(globex);
    assert_non_null(nosuch);
    /* The same sentence, but for the org's name. */
    assert_int_equal(globex - e1.message, nosuch - e2.message);
    assert_string_equal(globex + strlen("globex"), nosuch + strlen("nosuchorg"));
    ctx->checked++;
}

static void another_orgs_data_is_not_found(void **state)
{
    (void)state;
    sb_client_t c;
    sb_harness_client(&server, &c, acme_admin);
    struct isolation ctx = {&c, 0};
    sb_method_each(check_isolation, &ctx);
    assert_true(ctx.checked >= 15);
    sb_client_close(&c);
}

/* ---- raw bytes ------------------------------------------------------------------ */

static size_t pack_request(msgpack_sbuffer *buf, uint32_t msgid, const char *method,
                           const char *token)
{
    msgpack_sbuffer_clear(buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_uint32(&pk, msgid);
    sb_pack_str(&pk, method);
    msgpack_pack_array(&pk, token ? 1 : 0);
    if (token) {
        msgpack_pack_map(&pk, 1);
        sb_pack_kv_str(&pk, "token", token);
    }
    return buf->size;
}

/* Reads one response from fd; returns its msgid and whether it is an error. */
static uint32_t read_response(int fd, bool *is_error)
{
    static uint8_t buf[1 << 20];
    static size_t len;
    for (;;) {
        size_t msg_len;
        if (sb_frame_scan(buf, len, sizeof(buf), &msg_len) == SB_FRAME_COMPLETE) {
            msgpack_unpacked u;
            msgpack_unpacked_init(&u);
            size_t off = 0;
            assert_int_equal(msgpack_unpack_next(&u, (char *)buf, msg_len, &off),
                             MSGPACK_UNPACK_SUCCESS);
            uint32_t msgid = (uint32_t)u.data.via.array.ptr[1].via.u64;
            *is_error = u.data.via.array.ptr[2].type != MSGPACK_OBJECT_NIL;
            msgpack_unpacked_destroy(&u);
            memmove(buf, buf + msg_len, len - msg_len);
            len -= msg_len;
            return msgid;
        }
        ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (n <= 0)
            fail_msg("the server closed the connection");
        len += (size_t)n;
    }
}

static void a_message_split_at_every_byte(void **state)
{
    (void)state;
    int fd = sb_harness_raw(&server);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    size_t len = pack_request(&buf, 1, "token.authenticate", server.token);
    bool err;
    for (size_t cut = 1; cut < len; cut++) {
        pack_request(&buf, (uint32_t)cut, "token.authenticate", server.token);
        assert_int_equal(send(fd, buf.data, cut, 0), (ssize_t)cut);
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
        assert_int_equal(send(fd, buf.data + cut, len - cut, 0), (ssize_t)(len - cut));
        assert_int_equal(read_response(fd, &err), cut); /* answered once, in full */
        assert_false(err);
    }
    /* One byte at a time, three requests in a row. */
    msgpack_sbuffer all;
    msgpack_sbuffer_init(&all);
    for (uint32_t id = 1000; id < 1003; id++) {
        pack_request(&buf, id, "server.info", NULL);
        msgpack_sbuffer_write(&all, buf.data, buf.size);
    }
    for (size_t i = 0; i < all.size; i++)
        assert_int_equal(send(fd, all.data + i, 1, 0), 1);
    for (uint32_t id = 1000; id < 1003; id++) {
        assert_int_equal(read_response(fd, &err), id);
        assert_false(err);
    }
    msgpack_sbuffer_destroy(&all);
    msgpack_sbuffer_destroy(&buf);
    close(fd);
}

static void garbage_and_oversize_close_only_their_connection(void **state)
{
    (void)state;
    sb_client_t bystander;
    sb_harness_client(&server, &bystander, NULL);
    const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\xc1", 1},                 /* never-used type byte */
        {"\x93\x00\x01\x02", 4},     /* a well-framed array that is no request */
        {"\xdb\x7f\xff\xff\xff", 5}, /* a string of 2 GiB declared */
        {"\xdd\xff\xff\xff\xff", 5}, /* an array of 4 billion items declared */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int fd = sb_harness_raw(&server);
        assert_int_equal(send(fd, bad[i].bytes, bad[i].len, 0), (ssize_t)bad[i].len);
        if (!sb_harness_closed_within(fd, 3000))
            fail_msg("case %zu: the connection stayed open", i);
        close(fd);
    }
    /* A real message past --max-message-bytes (64 KiB here). */
    int fd = sb_harness_raw(&server);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    char *big = calloc(1, 70000);
    memset(big, 'x', 69999);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_int(&pk, 1);
    sb_pack_str(&pk, "token.authenticate");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 1);
    sb_pack_kv_str(&pk, "token", big);
    send(fd, buf.data, buf.size, MSG_NOSIGNAL);
    assert_true(sb_harness_closed_within(fd, 3000));
    close(fd);
    free(big);
    msgpack_sbuffer_destroy(&buf);
    /* The other connection never noticed. */
    expect(&bystander, "server.info", NULL, "OK", NULL);
    sb_client_close(&bystander);
}

/* A NUL byte in a bulk row is refused, never cut at ("Ada\0Evil" became "Ada"); a dry run of a
 * bulk write checks the store's rules and writes nothing. */
static void bulk_rows_are_refused_whole(void **state)
{
    (void)state;
    sb_client_t c;
    sb_harness_client(&server, &c, acme_admin);
    json_t *rows =
        json_pack("[{s:s, s:o}]", "id", "005000000000777", "name", json_stringn("Ada\0Evil", 8));
    msgpack_unpacked r;
    sb_err_t err;
    assert_int_equal(sb_client_call_json(&c, "user.upsert_bulk",
                                         json_pack("{s:s, s:o}", "org", "acme", "users", rows), &r,
                                         &err),
                     SB_CLIENT_REFUSED);
    msgpack_unpacked_destroy(&r);
    assert_string_equal(c.error_name, "INVALID_VALUE");
    assert_non_null(strstr(err.message, "Row 1: the name has a NUL byte at byte 4"));
    expect(&c, "user.get", json_pack("{s:s, s:s}", "org", "acme", "id", "005000000000777"),
           "NOT_FOUND", NULL);
    /* A dry run answers as the write would, and leaves nothing. */
    expect(&c, "user.upsert_bulk",
           json_pack("{s:s, s:[{s:s, s:s}], s:b}", "org", "acme", "users", "id", "005000000000777",
                     "name", "Ada", "dry_run", 1),
           "OK", NULL);
    expect(&c, "user.get", json_pack("{s:s, s:s}", "org", "acme", "id", "005000000000777"),
           "NOT_FOUND", NULL);
    expect(&c, "member.add_bulk",
           json_pack("{s:s, s:[{s:s, s:s}], s:b}", "org", "acme", "rows", "user", "005000000000777",
                     "callcenter", cc_id, "dry_run", 1),
           "NOT_FOUND", NULL); /* the user does not exist: only the store knows */
    sb_client_close(&c);
}

static void bad_requests_get_errors_and_the_connection_stays(void **state)
{
    (void)state;
    int fd = sb_harness_raw(&server);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    /* params that are not [map] */
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_int(&pk, 7);
    sb_pack_str(&pk, "server.info");
    msgpack_pack_int(&pk, 5);
    /* a notification: executed, never answered */
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, 2);
    sb_pack_str(&pk, "server.info");
    msgpack_pack_array(&pk, 0);
    send(fd, buf.data, buf.size, 0);
    pack_request(&buf, 8, "no.such", NULL);
    send(fd, buf.data, buf.size, 0);
    pack_request(&buf, 9, "token.authenticate", server.token);
    send(fd, buf.data, buf.size, 0);
    bool err;
    assert_int_equal(read_response(fd, &err), 7);
    assert_true(err);
    assert_int_equal(read_response(fd, &err), 8);
    assert_true(err);
    assert_int_equal(read_response(fd, &err), 9);
    assert_false(err);
    msgpack_sbuffer_destroy(&buf);
    close(fd);
}

static void pipelined_requests_are_all_answered(void **state)
{
    (void)state;
    int fd = sb_harness_raw(&server);
    msgpack_sbuffer buf, all;
    msgpack_sbuffer_init(&buf);
    msgpack_sbuffer_init(&all);
    pack_request(&buf, 0, "token.authenticate", server.token);
    msgpack_sbuffer_write(&all, buf.data, buf.size);
    enum { N = 300 }; /* well past the 64 in flight: reading pauses, then resumes */
    for (uint32_t id = 1; id <= N; id++) {
        pack_request(&buf, id, "server.info", NULL);
        msgpack_sbuffer_write(&all, buf.data, buf.size);
    }
    assert_int_equal(send(fd, all.data, all.size, 0), (ssize_t)all.size);
    bool answered[N + 1] = {false}, err;
    for (int i = 0; i <= N; i++) {
        uint32_t id = read_response(fd, &err);
        assert_true(id <= N && !answered[id]);
        assert_false(err);
        answered[id] = true;
    }
    msgpack_sbuffer_destroy(&buf);
    msgpack_sbuffer_destroy(&all);
    close(fd);
}

static void every_method_was_seen_succeeding_and_refused(void **state)
{
    (void)state;
    int missing = 0;
    for (int i = 0; i < MAX_SEEN && seen[i].method[0]; i++) {
        /* cluster.* succeed only on a member of a cluster (NATS): this
         * server sees them refused; cluster_shards.py sees them succeed. */
        bool needs_cluster = strncmp(seen[i].method, "cluster.", 8) == 0;
        if (sb_method_find(seen[i].method) &&
            ((!seen[i].ok && !needs_cluster) || !seen[i].refused)) {
            print_error("%s: seen %s\n", seen[i].method,
                        seen[i].ok ? "succeeding only" : "refused only");
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

static void count_method(const sb_method_t *m, void *ctx)
{
    int *unseen = ctx;
    for (int i = 0; i < MAX_SEEN && seen[i].method[0]; i++)
        if (strcmp(seen[i].method, m->name) == 0)
            return;
    print_error("%s was never called\n", m->name);
    (*unseen)++;
}

/* The method look-up (a sorted table): every method of the table is found by its name over
 * the socket, and no other name. Unauthenticated, a found method is refused UNAUTHENTICATED
 * before it runs (a connection gets 3 such refusals: one connection per name); a name not
 * found is UNKNOWN_METHOD. */
static int call_unauthenticated(const char *method, char *name, size_t cap)
{
    sb_client_t c;
    assert_int_equal(sb_client_open(&c, server.socket, NULL), 0);
    msgpack_unpacked r;
    int rc = sb_client_call(&c, method, NULL, 0, &r);
    msgpack_unpacked_destroy(&r);
    snprintf(name, cap, "%s", sb_client_error_name(&c));
    sb_client_close(&c);
    return rc;
}

static void look_up(const sb_method_t *m, void *vctx)
{
    unsigned *found = vctx;
    assert_ptr_equal(sb_method_find(m->name), m);
    char name[64];
    int rc = call_unauthenticated(m->name, name, sizeof(name));
    if (rc != SB_CLIENT_REFUSED || strcmp(name, "UNKNOWN_METHOD") == 0)
        fail_msg("%s: %d %s", m->name, rc, name);
    (*found)++;
}

static void every_method_is_found_by_its_name_and_no_other(void **state)
{
    (void)state;
    unsigned found = 0;
    sb_method_each(look_up, &found);
    assert_true(found > 50);
    /* Each method's prepare step comes with it (the table of preps, looked up once). */
    static const char *const prepared[] = {"org.create", "move.digest", "cluster.promote",
                                           "callcenter.import"};
    for (size_t i = 0; i < sizeof(prepared) / sizeof(prepared[0]); i++)
        if (sb_method_prepare(sb_method_find(prepared[i])) == NULL)
            fail_msg("%s has no prepare step", prepared[i]);
    assert_null(sb_method_prepare(sb_method_find("softphone.check")));
    assert_null(sb_method_prepare(sb_method_find("org.get")));
    assert_null(sb_method_find("")); /* on the wire, an empty name is a malformed request */
    static const char *const unknown[] = {"a",        "org",      "org.ge",     "org.gett",
                                          "ORG.GET",  "org.get ", " org.get",   "zzzz",
                                          "token.aa", "aaaa",     "user.list0", "voicecall.zz"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_null(sb_method_find(unknown[i]));
        char name[64];
        assert_int_equal(call_unauthenticated(unknown[i], name, sizeof(name)), SB_CLIENT_REFUSED);
        assert_string_equal(name, "UNKNOWN_METHOD");
    }
}

static void no_method_was_left_out(void **state)
{
    (void)state;
    int unseen = 0;
    sb_method_each(count_method, &unseen);
    assert_int_equal(unseen, 0);
}

/* ---- limits that need their own server ----------------------------------------- */

static void a_client_that_never_reads_is_cut_off(void **state)
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
                                        "8388608",
                                        "--write-stall-ms",
                                        "1000",
                                        NULL};
    sb_harness_start(&h, NULL, flags);
    int fd = sb_harness_raw(&h);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    msgpack_sbuffer buf, all;
    msgpack_sbuffer_init(&buf);
    msgpack_sbuffer_init(&all);
    pack_request(&buf, 0, "token.authenticate", h.token);
    msgpack_sbuffer_write(&all, buf.data, buf.size);
    for (uint32_t id = 1; id <= 20000; id++) {
        pack_request(&buf, id, "server.info", NULL);
        msgpack_sbuffer_write(&all, buf.data, buf.size);
    }
    /* Send without ever reading; the server stops reading us, so sends stall. */
    size_t sent = 0;
    while (sent < all.size) {
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 500) <= 0)
            break;
        ssize_t n = send(fd, all.data + sent, all.size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    assert_true(sent < all.size); /* back-pressure reached the client */
    /* Stalled replies: cut off after --write-stall-ms, not kept forever. */
    struct timespec wait = {2, 500000000};
    nanosleep(&wait, NULL);
    sb_client_t other;
    sb_harness_client(&h, &other, NULL);
    expect(&other, "server.info", NULL, "OK", NULL);
    sb_client_close(&other);
    assert_true(sb_harness_closed_within(fd, 3000));
    char log[4300];
    snprintf(log, sizeof(log), "grep -q 'not read its replies' %s/server.log", h.dir);
    assert_int_equal(system(log), 0);
    close(fd);
    msgpack_sbuffer_destroy(&buf);
    msgpack_sbuffer_destroy(&all);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

static void acknowledged_writes_survive_restart_and_kill(void **state)
{
    (void)state;
    sb_harness_t h;
    sb_harness_start(&h, NULL, NULL); /* full durability */
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    expect(&c, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    expect(&c, "user.upsert",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "id", "005000000000001", "name", "A"), "OK",
           NULL);
    sb_client_close(&c);
    assert_int_equal(sb_harness_stop(&h), 0); /* clean stop */

    sb_harness_start(&h, h.dir, NULL);
    sb_harness_client(&h, &c, NULL);
    expect(&c, "user.get", json_pack("{s:s, s:s}", "org", "acme", "id", "005000000000001"), "OK",
           NULL);
    /* Acknowledged, then killed at once: still there. */
    expect(&c, "user.upsert",
           json_pack("{s:s, s:s, s:s}", "org", "acme", "id", "005000000000002", "name", "B"), "OK",
           NULL);
    sb_harness_kill(&h);
    sb_client_close(&c);

    sb_harness_start(&h, h.dir, NULL);
    sb_harness_client(&h, &c, NULL);
    expect(&c, "user.get", json_pack("{s:s, s:s}", "org", "acme", "id", "005000000000002"), "OK",
           NULL);
    sb_client_close(&c);
    /* A second server on the same directory is refused. */
    char cmd[4400];
    snprintf(cmd, sizeof(cmd), "%s --data-dir %s 2>%s/second.log", SB_SWITCHBOARDD, h.dir, h.dir);
    assert_int_not_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "grep -q 'in use by another process' %s/second.log", h.dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

static void concurrent_writes_share_commits(void **state)
{
    (void)state;
    sb_harness_t h;
    sb_harness_start(&h, NULL, NULL); /* full durability: every commit is an fsync */
    sb_client_t admin;
    sb_harness_client(&h, &admin, NULL);
    expect(&admin, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    enum { CLIENTS = 16, WRITES = 25 };
    int fds[CLIENTS];
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    for (int c = 0; c < CLIENTS; c++) {
        fds[c] = sb_harness_raw(&h);
        msgpack_sbuffer all;
        msgpack_sbuffer_init(&all);
        pack_request(&buf, 0, "token.authenticate", h.token);
        msgpack_sbuffer_write(&all, buf.data, buf.size);
        for (int w = 1; w <= WRITES; w++) {
            msgpack_sbuffer_clear(&buf);
            msgpack_packer pk;
            msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
            char id[16], name[16];
            snprintf(id, sizeof(id), "005%012d", c * 100 + w);
            snprintf(name, sizeof(name), "U%d", c * 100 + w);
            msgpack_pack_array(&pk, 4);
            msgpack_pack_int(&pk, 0);
            msgpack_pack_int(&pk, w);
            sb_pack_str(&pk, "user.upsert");
            msgpack_pack_array(&pk, 1);
            msgpack_pack_map(&pk, 3);
            sb_pack_kv_str(&pk, "org", "acme");
            sb_pack_kv_str(&pk, "id", id);
            sb_pack_kv_str(&pk, "name", name);
            msgpack_sbuffer_write(&all, buf.data, buf.size);
        }
        assert_int_equal(send(fds[c], all.data, all.size, 0), (ssize_t)all.size);
        msgpack_sbuffer_destroy(&all);
    }
    bool err;
    for (int c = 0; c < CLIENTS; c++) {
        for (int w = 0; w <= WRITES; w++) {
            read_response(fds[c], &err);
            assert_false(err);
        }
        close(fds[c]);
    }
    msgpack_sbuffer_destroy(&buf);
    msgpack_unpacked r;
    expect(&admin, "server.info", NULL, "OK", &r);
    const msgpack_object *writer = sb_obj_get(&r.data, "writer");
    uint64_t commits = sb_obj_get(writer, "commits")->via.u64;
    uint64_t writes = sb_obj_get(writer, "writes")->via.u64;
    print_message("%llu writes in %llu group commits\n", (unsigned long long)writes,
                  (unsigned long long)commits);
    assert_int_equal(writes, 1 + CLIENTS * WRITES);
    assert_true(commits < writes / 2); /* the writes shared their commits */
    msgpack_unpacked_destroy(&r);
    expect(&admin, "user.list", json_pack("{s:s, s:i}", "org", "acme", "limit", 1000), "OK", &r);
    assert_int_equal(sb_obj_get(&r.data, "users")->via.array.size, CLIENTS * WRITES);
    msgpack_unpacked_destroy(&r);
    sb_client_close(&admin);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* A field of plugin `name` in plugin.list, as text. */
static const char *plugin_field(sb_client_t *c, const char *name, const char *key, char *buf,
                                size_t cap)
{
    msgpack_unpacked r;
    expect(c, "plugin.list", NULL, "OK", &r);
    const msgpack_object *plugins = sb_obj_get(&r.data, "plugins");
    buf[0] = '\0';
    for (uint32_t i = 0; i < plugins->via.array.size; i++) {
        const msgpack_object *n = sb_obj_get(&plugins->via.array.ptr[i], "name");
        if (n->via.str.size != strlen(name) || memcmp(n->via.str.ptr, name, n->via.str.size) != 0)
            continue;
        const msgpack_object *v = sb_obj_get(&plugins->via.array.ptr[i], key);
        if (v && v->type == MSGPACK_OBJECT_STR)
            snprintf(buf, cap, "%.*s", (int)v->via.str.size, v->via.str.ptr);
        else if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            snprintf(buf, cap, "%llu", (unsigned long long)v->via.u64);
    }
    msgpack_unpacked_destroy(&r);
    return buf;
}

/* Kills (SIGKILL) the child of `parent` whose command line mentions `what`. */
static bool kill_child_running(pid_t parent, const char *what)
{
    DIR *proc = opendir("/proc");
    struct dirent *e;
    bool killed = false;
    while (proc && (e = readdir(proc)) != NULL && !killed) {
        char path[300], stat_line[512], cmdline[4096];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        bool read = fgets(stat_line, sizeof(stat_line), f) != NULL;
        fclose(f);
        const char *after = read ? strrchr(stat_line, ')') : NULL;
        int ppid = 0;
        if (after == NULL || sscanf(after, ") %*c %d", &ppid) != 1 || ppid != parent)
            continue;
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        f = fopen(path, "r");
        size_t n = f ? fread(cmdline, 1, sizeof(cmdline) - 1, f) : 0;
        if (f)
            fclose(f);
        for (size_t i = 0; i < n; i++)
            cmdline[i] = cmdline[i] ? cmdline[i] : ' ';
        cmdline[n] = '\0';
        if (strstr(cmdline, what) != NULL)
            killed = kill((pid_t)atoi(e->d_name), SIGKILL) == 0;
    }
    if (proc)
        closedir(proc);
    return killed;
}

static void pipelined_big_replies_pause_instead_of_piling_up(void **state)
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
                                        NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    expect(&c, "org.create", json_pack("{s:s}", "org", "acme"), "OK", NULL);
    expect(&c, "callcenter.create",
           json_pack("{s:s, s:s, s:s, s:s}", "org", "acme", "internal_name", "Support",
                     "display_name", "Support", "adapter_url", "https://cti.example.com"),
           "OK", NULL);
    sb_client_close(&c);
    /* 3,000 exports of about 1 KB each, pipelined in one write: 3 MB of
     * replies, three times the cap. The server must stop reading at the
     * high mark, not queue them all and cut the client off. */
    int fd = sb_harness_raw(&h);
    msgpack_sbuffer buf, all;
    msgpack_sbuffer_init(&buf);
    msgpack_sbuffer_init(&all);
    pack_request(&buf, 0, "token.authenticate", h.token);
    msgpack_sbuffer_write(&all, buf.data, buf.size);
    enum { N = 3000 };
    for (uint32_t id = 1; id <= N; id++) {
        msgpack_sbuffer_clear(&buf);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, 4);
        msgpack_pack_int(&pk, 0);
        msgpack_pack_uint32(&pk, id);
        sb_pack_str(&pk, "callcenter.export");
        msgpack_pack_array(&pk, 1);
        msgpack_pack_map(&pk, 2);
        sb_pack_kv_str(&pk, "org", "acme");
        sb_pack_kv_str(&pk, "id", "Support");
        msgpack_sbuffer_write(&all, buf.data, buf.size);
    }
    size_t sent = 0;
    bool err;
    int answered = 0;
    /* Send and read at once, the way a pipelining client does; then read
     * the rest. A server that stalls makes recv time out, and the test fail. */
    struct timeval patience = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
    while (sent < all.size) {
        ssize_t n = send(fd, all.data + sent, all.size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            read_response(fd, &err);
            assert_false(err);
            answered++;
        }
    }
    while (answered <= N) {
        read_response(fd, &err);
        assert_false(err);
        answered++;
    }
    assert_int_equal(answered, N + 1);
    msgpack_sbuffer_destroy(&buf);
    msgpack_sbuffer_destroy(&all);
    close(fd);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* Adds `user` of org tel to `cc`, and checks that the softphone check says
 * `reason` with `says` in its message. */
static void joins_and_sees(sb_client_t *c, const char *cc, const char *user, const char *reason,
                           const char *says)
{
    msgpack_unpacked r;
    char buf[512];
    expect(c, "member.add",
           json_pack("{s:s, s:s, s:s}", "org", "tel", "callcenter", cc, "user", user), "OK", NULL);
    expect(c, "softphone.check", json_pack("{s:s, s:s}", "org", "tel", "user", user), "OK", &r);
    assert_false(sb_obj_get(&r.data, "softphone")->via.boolean);
    str_at(&r.data, "reason", buf, sizeof(buf));
    assert_string_equal(buf, reason);
    str_at(&r.data, "message", buf, sizeof(buf));
    if (strstr(buf, says) == NULL)
        fail_msg("the %s message does not say '%s': %s", reason, says, buf);
    msgpack_unpacked_destroy(&r);
}

/* The two reasons for no softphone that need their own server: an Open CTI
 * Call Center without an adapter URL (AMC's legacy file has none), and an
 * adapter that refuses to render (the `refusing` mock, alone in its plugin
 * directory, refuses the "us" region). */
/* ---- answers packed once are today's answers, byte for byte ----------------- */

/* Appends one answer's bytes, refusals as their error name. */
static void keep_answer(sb_client_t *c, msgpack_sbuffer *out)
{
    uint32_t msgid;
    sb_client_answer_t a;
    int rc = sb_client_recv_answer(c, &msgid, &a);
    assert_true(rc == 0 || rc == SB_CLIENT_REFUSED);
    if (rc == 0)
        msgpack_sbuffer_write(out, (const char *)a.data, a.len);
    else
        msgpack_sbuffer_write(out, c->error_name, strlen(c->error_name) + 1);
}

/*
 * Every org's users' softphone.check answers, each asked twice (the second
 * of a view's users and every later one are spliced when the cache is on),
 * then check_batch of them all, twice, with an unknown and an invalid id:
 * their bytes, in order, appended to out. Returns the answers spliced.
 */
static uint64_t all_answers(sb_harness_t *h, msgpack_sbuffer *out, bool cache_on)
{
    sb_client_t c;
    sb_harness_client(h, &c, NULL);
    msgpack_unpacked orgs, users;
    expect(&c, "org.list", json_pack("{}"), "OK", &orgs);
    const msgpack_object *olist = sb_obj_get(&orgs.data, "orgs");
    for (uint32_t o = 0; o < olist->via.array.size; o++) {
        char org[64];
        assert_int_equal(
            sb_obj_copy_str(sb_obj_get(&olist->via.array.ptr[o], "id"), org, sizeof(org)), 0);
        expect(&c, "user.list", json_pack("{s:s}", "org", org), "OK", &users);
        const msgpack_object *ulist = sb_obj_get(&users.data, "users");
        json_t *ids = json_pack("[s, s]", "005000000000999", "005nope");
        for (uint32_t u = 0; u < ulist->via.array.size; u++) {
            char id[64];
            assert_int_equal(
                sb_obj_copy_str(sb_obj_get(&ulist->via.array.ptr[u], "id"), id, sizeof(id)), 0);
            json_array_append_new(ids, json_string(id));
        }
        for (int twice = 0; twice < 2; twice++) {
            size_t i;
            json_t *id;
            json_array_foreach(ids, i, id)
            {
                msgpack_sbuffer args;
                msgpack_sbuffer_init(&args);
                msgpack_packer pk;
                msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
                msgpack_pack_map(&pk, 2);
                sb_pack_kv_str(&pk, "org", org);
                sb_pack_kv_str(&pk, "user", json_string_value(id));
                uint32_t msgid;
                assert_int_equal(
                    sb_client_queue(&c, "softphone.check", args.data, args.size, &msgid), 0);
                msgpack_sbuffer_destroy(&args);
            }
            for (i = 0; i < json_array_size(ids); i++)
                keep_answer(&c, out);
        }
        for (int twice = 0; twice < 2; twice++) {
            msgpack_sbuffer args;
            msgpack_sbuffer_init(&args);
            msgpack_packer pk;
            msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
            json_t *call = json_pack("{s:s, s:O}", "org", org, "users", ids);
            assert_int_equal(sb_client_pack_json(&pk, call), 0);
            json_decref(call);
            uint32_t msgid;
            assert_int_equal(
                sb_client_queue(&c, "softphone.check_batch", args.data, args.size, &msgid), 0);
            msgpack_sbuffer_destroy(&args);
            keep_answer(&c, out);
        }
        /* The batches above went in the compact form (the client asks for it) and came back
         * expanded; asked for explicitly, the compact form is what the server sends: each
         * view once (none without the cache, which makes them: then the default form). */
        msgpack_unpacked raw;
        expect(&c, "softphone.check_batch",
               json_pack("{s:s, s:O, s:b}", "org", org, "users", ids, "compact", 1), "OK", &raw);
        const msgpack_object *views = sb_obj_get(&raw.data, "views");
        size_t members = 0;
        const msgpack_object *results = sb_obj_get(&raw.data, "results");
        for (uint32_t i = 0; i < results->via.array.size; i++)
            members += results->via.array.ptr[i].type == MSGPACK_OBJECT_ARRAY;
        if (cache_on) {
            assert_non_null(views);
            assert_true(views->via.array.size <= members);
        } else {
            assert_null(views);
            assert_int_equal(members, 0);
        }
        print_message("%s: %zu users, %zu answered by reference to %u views\n", org,
                      json_array_size(ids), members, views ? views->via.array.size : 0);
        msgpack_unpacked_destroy(&raw);
        json_decref(ids);
        msgpack_unpacked_destroy(&users);
    }
    msgpack_unpacked_destroy(&orgs);
    msgpack_unpacked info;
    expect(&c, "server.info", NULL, "OK", &info);
    uint64_t spliced =
        number(&(msgpack_unpacked){.data = *sb_obj_get(&info.data, "answers")}, "spliced");
    msgpack_unpacked_destroy(&info);
    sb_client_close(&c);
    return spliced;
}

/*
 * Restarts h on its data with `flags`, the answer cache on, and keeps every
 * answer; again with --answer-cache-slots 0 (every answer packed field by
 * field, as before the cache); the two must be the same bytes. Leaves h
 * running with the cache off.
 */
static void cached_answers_are_todays(sb_harness_t *h, const char *const *flags)
{
    const char *off[16];
    size_t n = 0;
    for (; flags[n] != NULL && n < 13; n++)
        off[n] = flags[n];
    off[n++] = "--answer-cache-slots";
    off[n++] = "0";
    off[n] = NULL;
    msgpack_sbuffer cached, full;
    msgpack_sbuffer_init(&cached);
    msgpack_sbuffer_init(&full);
    assert_int_equal(sb_harness_stop(h), 0);
    sb_harness_start(h, h->dir, flags);
    uint64_t spliced = all_answers(h, &cached, true);
    assert_int_equal(sb_harness_stop(h), 0);
    sb_harness_start(h, h->dir, off);
    assert_int_equal(all_answers(h, &full, false), 0);
    print_message("%zu bytes of answers, %llu spliced with the cache on\n", cached.size,
                  (unsigned long long)spliced);
    assert_true(spliced > 0);
    assert_int_equal(cached.size, full.size);
    assert_memory_equal(cached.data, full.data, full.size);
    msgpack_sbuffer_destroy(&cached);
    msgpack_sbuffer_destroy(&full);
}

static void the_answers_are_the_same_bytes_with_or_without_the_cache(void **state)
{
    (void)state;
    cached_answers_are_todays(&server, shared_flags);
}

static void no_adapter_url_and_a_refusing_adapter(void **state)
{
    (void)state;
    char *plugins = sb_test_tmpdir();
    char link[600];
    snprintf(link, sizeof(link), "%s/refusing.so", plugins);
    assert_int_equal(symlink(SB_MOCK_PLUGIN_DIR "/refusing.so", link), 0);
    sb_harness_t h;
    const char *const flags[] = {"--durability", "none", "--plugin-dir", plugins, NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    msgpack_unpacked r;
    char buf[512];
    expect(&c, "org.create", json_pack("{s:s}", "org", "tel"), "OK", NULL);
    for (int i = 1; i <= 2; i++) {
        char id[16];
        snprintf(id, sizeof(id), "00500000000030%d", i);
        expect(&c, "user.upsert", json_pack("{s:s, s:s, s:s}", "org", "tel", "id", id, "name", id),
               "OK", NULL);
    }

    expect(&c, "callcenter.import",
           json_pack("{s:s, s:o, s:s}", "org", "tel", "file",
                     corpus_file("amc-technology/AMCSalesForceCallCenter.callCenter"),
                     "internal_name", "AMC"),
           "OK", NULL);
    joins_and_sees(&c, "AMC", "005000000000301", "NO_ADAPTER_URL", "import the file again");
    /* The file has no reqAdapterUrl item, and items are not added after creation. */
    expect(&c, "callcenter.update",
           json_pack("{s:s, s:s, s:{s:s}}", "org", "tel", "id", "AMC", "values",
                     "/reqGeneralInfo/reqAdapterUrl", "https://amc.example.com/softphone"),
           "FIELD_NOT_IN_SET", NULL);

    const char *file =
        "<callCenter>\n"
        "  <section sortOrder=\"0\" name=\"reqGeneralInfo\" label=\"General Information\">\n"
        "    <item sortOrder=\"0\" name=\"reqInternalName\" label=\"Internal Name\">Mock</item>\n"
        "    <item sortOrder=\"1\" name=\"reqDisplayName\" label=\"Display Name\">Mock</item>\n"
        "    <item sortOrder=\"2\" name=\"reqAdapterUrl\" label=\"CTI Adapter URL\">"
        "https://mock.example.com/softphone</item>\n"
        "  </section>\n"
        "  <section sortOrder=\"1\" name=\"mockSettings\" label=\"Mock\">\n"
        "    <item sortOrder=\"0\" name=\"mockRegion\" label=\"Region\">us</item>\n"
        "  </section>\n"
        "</callCenter>\n";
    expect(&c, "callcenter.import",
           json_pack("{s:s, s:s, s:s}", "org", "tel", "file", file, "adapter", "refusing"), "OK",
           NULL);
    joins_and_sees(&c, "Mock", "005000000000302", "ADAPTER_REFUSED",
                   "no softphone licence in the us region");
    /* A region the adapter serves: it renders, and the check gives the user's own URL. */
    expect(&c, "callcenter.update",
           json_pack("{s:s, s:s, s:{s:s}}", "org", "tel", "id", "Mock", "values",
                     "/mockSettings/mockRegion", "eu"),
           "OK", NULL);
    expect(&c, "softphone.check", json_pack("{s:s, s:s}", "org", "tel", "user", "005000000000302"),
           "OK", &r);
    assert_true(sb_obj_get(&r.data, "softphone")->via.boolean);
    str_at(&r.data, "adapter_url", buf, sizeof(buf));
    assert_string_equal(buf, "https://mock.example.com/softphone?user=005000000000302AAA");
    msgpack_unpacked_destroy(&r);
    /* More members of both views: answers packed once are today's bytes, with the user's own
     * URL, then with the refusal again. */
    for (int i = 3; i <= 4; i++) {
        char id[16];
        snprintf(id, sizeof(id), "00500000000030%d", i);
        expect(&c, "user.upsert", json_pack("{s:s, s:s, s:s}", "org", "tel", "id", id, "name", id),
               "OK", NULL);
        expect(&c, "member.add",
               json_pack("{s:s, s:s, s:s}", "org", "tel", "callcenter", i == 3 ? "Mock" : "AMC",
                         "user", id),
               "OK", NULL);
    }
    sb_client_close(&c);
    cached_answers_are_todays(&h, flags);
    sb_harness_client(&h, &c, NULL);
    expect(&c, "callcenter.update",
           json_pack("{s:s, s:s, s:{s:s}}", "org", "tel", "id", "Mock", "values",
                     "/mockSettings/mockRegion", "us"),
           "OK", NULL);
    sb_client_close(&c);
    cached_answers_are_todays(&h, flags);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
    sb_test_rmdir(plugins);
}

static void an_isolated_adapter_that_dies_costs_only_its_calls(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", NULL}; /* isolated by default */
    sb_harness_start(&h, NULL, flags);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    char buf[256];
    assert_string_equal(plugin_field(&c, "demo", "mode", buf, sizeof(buf)), "isolated");
    expect(&c, "callcenter.template", json_pack("{s:s}", "adapter", "demo"), "OK", NULL);
    /* Kill the demo adapter's process behind the server's back. */
    assert_true(kill_child_running(h.pid, "demo.so"));
    expect(&c, "callcenter.template", json_pack("{s:s}", "adapter", "demo"), "ADAPTER_UNAVAILABLE",
           NULL);
    expect(&c, "server.info", NULL, "OK", NULL); /* the server carries on */
    struct timespec wait = {0, 500000000};
    nanosleep(&wait, NULL);
    expect(&c, "callcenter.template", json_pack("{s:s}", "adapter", "demo"), "OK", NULL);
    assert_string_equal(plugin_field(&c, "demo", "restarts", buf, sizeof(buf)), "1");
    sb_client_close(&c);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(setup_tenants),
        cmocka_unit_test(authentication_comes_first),
        cmocka_unit_test(every_method_works_for_its_org),
        cmocka_unit_test(the_admin_methods),
        cmocka_unit_test(the_move_methods),
        cmocka_unit_test(audit_and_watch_for_its_org),
        cmocka_unit_test(definition_files_through_the_server),
        cmocka_unit_test(plugins_through_the_server),
        cmocka_unit_test(layouts_through_the_server),
        cmocka_unit_test(a_large_view_is_read_whole),
        cmocka_unit_test(contacts_and_calls_through_the_server),
        cmocka_unit_test(the_doctor_finds_what_will_break),
        cmocka_unit_test(rules_and_licences_through_the_server),
        cmocka_unit_test(another_orgs_data_is_not_found),
        cmocka_unit_test(a_message_split_at_every_byte),
        cmocka_unit_test(garbage_and_oversize_close_only_their_connection),
        cmocka_unit_test(bulk_rows_are_refused_whole),
        cmocka_unit_test(bad_requests_get_errors_and_the_connection_stays),
        cmocka_unit_test(pipelined_requests_are_all_answered),
        cmocka_unit_test(the_answers_are_the_same_bytes_with_or_without_the_cache),
        cmocka_unit_test(every_method_was_seen_succeeding_and_refused),
        cmocka_unit_test(no_method_was_left_out),
        cmocka_unit_test(every_method_is_found_by_its_name_and_no_other),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(a_client_that_never_reads_is_cut_off),
        cmocka_unit_test(acknowledged_writes_survive_restart_and_kill),
        cmocka_unit_test(concurrent_writes_share_commits),
        cmocka_unit_test(pipelined_big_replies_pause_instead_of_piling_up),
        cmocka_unit_test(an_isolated_adapter_that_dies_costs_only_its_calls),
        cmocka_unit_test(no_adapter_url_and_a_refusing_adapter),
    };
    int failed = cmocka_run_group_tests_name("shared server", shared, start_server, stop_server);
    failed += cmocka_run_group_tests_name("own server", own, NULL, NULL);
    return failed;
}
