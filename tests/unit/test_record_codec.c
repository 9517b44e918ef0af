#include "sb_test.h"

#include <stdlib.h>
#include <string.h>

#include "record_codec.h"

static sb_callcenter_t *sample_cc(void)
{
    sb_cc_fields_t f = {
        .internal_name = "Support1",
        .display_name = "Support \xe2\x98\x8e",
        .adapter = "five9",
        .adapter_url = "https://cti.example.com",
        .softphone_height = 400,
        .softphone_width = 300,
        .outside_prefix = "9",
    };
    sb_callcenter_t *cc;
    assert_int_equal(sb_callcenter_from_fields(&f, &cc, NULL), 0);
    strcpy(cc->id.s, "04v000000000001AAA");
    cc->created_ms = 1700000000000;
    cc->updated_ms = 1700000000123;
    return cc;
}

static void callcenter_round_trip(void **state)
{
    (void)state;
    sb_callcenter_t *cc = sample_cc(), *back;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    assert_int_equal(sb_codec_encode_callcenter(cc, &buf), 0);
    assert_int_equal(sb_codec_decode_callcenter(buf.data, buf.size, &back), 0);
    assert_string_equal(back->id.s, cc->id.s);
    assert_string_equal(back->adapter, "five9");
    assert_int_equal(back->created_ms, cc->created_ms);
    assert_int_equal(back->updated_ms, cc->updated_ms);
    assert_int_equal(back->n_sections, cc->n_sections);
    for (size_t s = 0; s < cc->n_sections; s++) {
        assert_string_equal(back->sections[s].name, cc->sections[s].name);
        assert_string_equal(back->sections[s].label, cc->sections[s].label);
        assert_int_equal(back->sections[s].n_items, cc->sections[s].n_items);
        for (size_t i = 0; i < cc->sections[s].n_items; i++) {
            assert_string_equal(back->sections[s].items[i].name, cc->sections[s].items[i].name);
            assert_string_equal(back->sections[s].items[i].value, cc->sections[s].items[i].value);
            assert_string_equal(back->sections[s].items[i].label, cc->sections[s].items[i].label);
            assert_int_equal(back->sections[s].items[i].sort_order,
                             cc->sections[s].items[i].sort_order);
        }
    }
    /* Re-encoding gives the same bytes. */
    msgpack_sbuffer again;
    msgpack_sbuffer_init(&again);
    assert_int_equal(sb_codec_encode_callcenter(back, &again), 0);
    assert_int_equal(again.size, buf.size);
    assert_memory_equal(again.data, buf.data, buf.size);
    msgpack_sbuffer_destroy(&again);

    /* Every truncation is refused as corrupt, never read past its end. */
    for (size_t len = 0; len < buf.size; len++) {
        sb_callcenter_t *partial = (sb_callcenter_t *)1;
        char *copy = malloc(len ? len : 1);
        memcpy(copy, buf.data, len);
        assert_int_equal(sb_codec_decode_callcenter(copy, len, &partial), SB_E_CORRUPT);
        assert_null(partial);
        free(copy);
    }
    msgpack_sbuffer_destroy(&buf);
    sb_callcenter_free(cc);
    sb_callcenter_free(back);
}

static void org_and_user_round_trip(void **state)
{
    (void)state;
    sb_org_t org = {.id = "acme", .name = "Acme Inc.", .created_ms = 42}, org_back;
    sb_user_t user = {.id = {"005000000000001AAA"}, .name = "Ada", .profile = "Agent"}, user_back;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    assert_int_equal(sb_codec_encode_org(&org, &buf), 0);
    assert_int_equal(sb_codec_decode_org(buf.data, buf.size, &org_back), 0);
    assert_string_equal(org_back.id, "acme");
    assert_string_equal(org_back.name, "Acme Inc.");
    assert_int_equal(org_back.created_ms, 42);
    /* An org is not a user. */
    assert_int_equal(sb_codec_decode_user(buf.data, buf.size, &user_back), SB_E_CORRUPT);
    assert_string_equal(user_back.name, "");
    msgpack_sbuffer_clear(&buf);
    assert_int_equal(sb_codec_encode_user(&user, &buf), 0);
    assert_int_equal(sb_codec_decode_user(buf.data, buf.size, &user_back), 0);
    assert_string_equal(user_back.id.s, user.id.s);
    assert_string_equal(user_back.profile, "Agent");
    msgpack_sbuffer_destroy(&buf);
}

static void foreign_bytes_are_corrupt(void **state)
{
    (void)state;
    sb_org_t org;
    sb_callcenter_t *cc;
    const char garbage[] = "\xc1\xc1\xc1";
    assert_int_equal(sb_codec_decode_org(garbage, 3, &org), SB_E_CORRUPT);
    assert_int_equal(sb_codec_decode_callcenter(garbage, 3, &cc), SB_E_CORRUPT);
    /* A map whose id is too long for its field. */
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "id", 2);
    char long_id[200];
    memset(long_id, 'a', sizeof(long_id));
    msgpack_pack_str_with_body(&pk, long_id, sizeof(long_id));
    msgpack_pack_str_with_body(&pk, "name", 4);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_str_with_body(&pk, "created", 7);
    msgpack_pack_int64(&pk, 1);
    assert_int_equal(sb_codec_decode_org(buf.data, buf.size, &org), SB_E_CORRUPT);
    /* Trailing bytes after the record. */
    sb_org_t ok = {.id = "a", .name = "b"};
    msgpack_sbuffer_clear(&buf);
    sb_codec_encode_org(&ok, &buf);
    msgpack_sbuffer_write(&buf, "\x01", 1);
    assert_int_equal(sb_codec_decode_org(buf.data, buf.size, &org), SB_E_CORRUPT);
    msgpack_sbuffer_destroy(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(callcenter_round_trip),
        cmocka_unit_test(org_and_user_round_trip),
        cmocka_unit_test(foreign_bytes_are_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
