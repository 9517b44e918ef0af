/* Softphone layouts: every refusal, every warning, both shapes, and the codec. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "layout.h"

#define EXAMPLE SB_SOURCE_DIR "/docs/examples/layout.json"

static json_t *example(void)
{
    json_error_t jerr;
    json_t *j = json_load_file(EXAMPLE, 0, &jerr);
    if (j == NULL)
        fail_msg("%s: %s", EXAMPLE, jerr.text);
    return j;
}

/* Parses `j` (consumed) as msgpack; returns the code, *err the refusal. */
static int parse(json_t *j, sb_layout_t *out, sb_err_t *err)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    assert_int_equal(sb_client_pack_json(&pk, j), 0);
    json_decref(j);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, buf.data, buf.size, NULL), MSGPACK_UNPACK_SUCCESS);
    sb_err_clear(err);
    int rc = sb_layout_parse(&u.data, out, err);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

static json_t *at(json_t *root, const char *a, const char *b)
{
    return json_object_get(json_object_get(root, a), b);
}

/* Sets key of the object at path a/b/(c) of a fresh example, and expects a refusal at `field`. */
static void refused(const char *a, const char *b, const char *c, const char *key, json_t *value,
                    const char *field)
{
    json_t *j = example();
    json_t *obj = at(j, a, b);
    if (c != NULL)
        obj = json_object_get(obj, c);
    assert_non_null(obj);
    json_object_set_new(obj, key, value);
    sb_layout_t layout;
    sb_err_t err;
    assert_int_equal(parse(j, &layout, &err), SB_E_INVALID_VALUE);
    if (strcmp(err.field, field) != 0)
        fail_msg("refused at '%s' (%s), want '%s'", err.field, err.message, field);
}

static void the_example_parses_without_warnings(void **state)
{
    (void)state;
    sb_layout_t layout;
    sb_err_t err;
    assert_int_equal(parse(example(), &layout, &err), 0);
    assert_string_equal(layout.name, "Support");
    assert_int_equal(layout.types[SB_CALL_INBOUND].n_objects, 3);
    assert_int_equal(layout.types[SB_CALL_INBOUND].pop[SB_MATCH_NONE].action, SB_POP_NEW_RECORD);
    sb_layout_warnings_t w;
    sb_layout_warn(&layout, &w);
    assert_int_equal(w.n, 0);
}

static void every_rule_refuses_with_its_path(void **state)
{
    (void)state;
    refused("call_types", "inbound", NULL, "fields", json_pack("[s]", "CALLER"),
            "/call_types/inbound/fields");
    refused("call_types", "inbound", NULL, "fields", json_pack("[s, s]", "ANI", "ANI"),
            "/call_types/inbound/fields");
    refused("call_types", "inbound", NULL, "fields", json_pack("[s]", "DURATION"),
            "/call_types/inbound/fields"); /* a call state's field, not a call type's */
    refused("call_types", "inbound", NULL, "colour", json_string("red"),
            "/call_types/inbound/colour");
    refused("call_types", "inbound", "objects", "Opportunity", json_pack("[s]", "Name"),
            "/call_types/inbound/objects/Opportunity");
    refused("call_types", "inbound", "objects", "Contact", json_pack("[s]", "Shoe size"),
            "/call_types/inbound/objects/Contact");
    refused("call_types", "inbound", "screen_pop", "no_match",
            json_pack("{s:s}", "action", "record"),
            "/call_types/inbound/screen_pop/no_match/action");
    refused("call_types", "inbound", "screen_pop", "multiple_matches",
            json_pack("{s:s}", "action", "record"),
            "/call_types/inbound/screen_pop/multiple_matches/action");
    refused("call_types", "inbound", "screen_pop", "no_match",
            json_pack("{s:s}", "action", "new_record"),
            "/call_types/inbound/screen_pop/no_match/object");
    refused("call_types", "inbound", "screen_pop", "no_match",
            json_pack("{s:s, s:s}", "action", "new_record", "object", "Opportunity"),
            "/call_types/inbound/screen_pop/no_match/object");
    refused("call_types", "inbound", "screen_pop", "no_match", json_pack("{s:s}", "action", "flow"),
            "/call_types/inbound/screen_pop/no_match/flow");
    refused("call_types", "inbound", "screen_pop", "single_match",
            json_pack("{s:s, s:s}", "action", "record", "flow", "F"),
            "/call_types/inbound/screen_pop/single_match/flow");
    refused("call_types", "inbound", "screen_pop", "single_match",
            json_pack("{s:s, s:s}", "action", "search", "object", "Contact"),
            "/call_types/inbound/screen_pop/single_match/object");
    refused("call_types", "inbound", "screen_pop", "single_match",
            json_pack("{s:s}", "action", "teleport"),
            "/call_types/inbound/screen_pop/single_match/action");
    refused("call_states", "ringing", NULL, "actions", json_pack("[s]", "dance"),
            "/call_states/ringing/actions");
    refused("call_states", "ringing", NULL, "actions", json_pack("[s, s]", "answer", "answer"),
            "/call_states/ringing/actions");

    json_t *j = example();
    json_object_set_new(json_object_get(j, "call_types"), "conference", json_object());
    sb_layout_t layout;
    sb_err_t err;
    assert_int_equal(parse(j, &layout, &err), SB_E_INVALID_VALUE);
    assert_string_equal(err.field, "/call_types/conference");
    j = example();
    json_object_del(j, "name");
    assert_int_equal(parse(j, &layout, &err), SB_E_INVALID_VALUE);
    assert_string_equal(err.field, "/name");
    j = example();
    json_object_set_new(j, "screen_pops_open_within", json_string("popup"));
    assert_int_equal(parse(j, &layout, &err), SB_E_INVALID_VALUE);
}

static void warnings_say_what_agents_miss(void **state)
{
    (void)state;
    json_t *j = example();
    json_object_set_new(json_object_get(j, "call_states"), "ringing",
                        json_pack("{s:[s], s:[s]}", "fields", "DNIS", "actions", "decline"));
    json_object_set_new(at(j, "call_states", "in_call"), "actions", json_pack("[s]", "hold"));
    json_object_set_new(at(j, "call_types", "outbound"), "objects", json_object());
    sb_layout_t layout;
    sb_err_t err;
    assert_int_equal(parse(j, &layout, &err), 0);
    sb_layout_warnings_t w;
    sb_layout_warn(&layout, &w);
    assert_int_equal(w.n, 4);
    assert_non_null(strstr(w.text[0], "ANI"));
    assert_non_null(strstr(w.text[1], "answer"));
    assert_non_null(strstr(w.text[2], "end"));
    assert_non_null(strstr(w.text[3], "Outbound"));
}

static void both_shapes_and_the_codec(void **state)
{
    (void)state;
    json_t *j = example();
    json_object_set_new(
        at(j, "call_types", "outbound"), "screen_pop",
        json_pack("{s:{s:s, s:s}}", "no_match", "action", "flow", "flow", "New_Lead_Flow"));
    sb_layout_t layout, again;
    sb_err_t err;
    assert_int_equal(parse(j, &layout, &err), 0);
    assert_int_equal(layout.types[SB_CALL_OUTBOUND].pop[SB_MATCH_SINGLE].action, SB_POP_NONE);
    msgpack_sbuffer buf;
    assert_int_equal(sb_layout_encode(&layout, &buf), 0);
    assert_int_equal(sb_layout_decode(buf.data, buf.size, &again, &err), 0);
    assert_memory_equal(&layout, &again, sizeof(layout));
    msgpack_sbuffer_destroy(&buf);

    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    assert_int_equal(sb_layout_pack_opencti(&pk, &layout), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, buf.data, buf.size, NULL), MSGPACK_UNPACK_SUCCESS);
    /* Outbound: NoMatch pops the flow; SingleMatch does not pop. */
    const msgpack_object *m = &u.data;
    const msgpack_object *outbound = NULL;
    for (uint32_t i = 0; i < m->via.map.size; i++)
        if (m->via.map.ptr[i].key.via.str.size == 8 &&
            memcmp(m->via.map.ptr[i].key.via.str.ptr, "Outbound", 8) == 0)
            outbound = &m->via.map.ptr[i].val;
    assert_non_null(outbound);
    char text[4096];
    size_t len = msgpack_object_print_buffer(text, sizeof(text), *outbound);
    text[len < sizeof(text) ? len : sizeof(text) - 1] = '\0';
    assert_non_null(strstr(text, "\"NoMatch\"=>{\"screenPopType\"=>\"PopToFlow\", "
                                 "\"screenPopData\"=>\"New_Lead_Flow\"}"));
    assert_non_null(strstr(text, "\"SingleMatch\"=>{\"screenPopType\"=>\"DoNotPop\"}"));
    assert_non_null(strstr(text, "\"displayName\"=>\"Full Name\""));
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_example_parses_without_warnings),
        cmocka_unit_test(every_rule_refuses_with_its_path),
        cmocka_unit_test(warnings_say_what_agents_miss),
        cmocka_unit_test(both_shapes_and_the_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
