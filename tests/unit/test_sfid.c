#include "sb_test.h"

#include <string.h>

#include "sfid.h"

static void suffix_matches_salesforce(void **state)
{
    (void)state;
    /* Published examples of 15- and 18-character Salesforce ids. */
    sb_sfid_t id;
    assert_int_equal(sb_sfid_normalize("0015000000Gv7qJ", "001", "id", &id, NULL), 0);
    assert_string_equal(id.s, "0015000000Gv7qJAAR");
    assert_int_equal(sb_sfid_normalize("001A0000006Vm9r", "001", "id", &id, NULL), 0);
    assert_string_equal(id.s, "001A0000006Vm9rIAC");
}

static void eighteen_characters_are_checked(void **state)
{
    (void)state;
    sb_sfid_t id;
    sb_err_t err;
    assert_int_equal(sb_sfid_normalize("001A0000006Vm9rIAC", "001", "id", &id, &err), 0);
    assert_string_equal(id.s, "001A0000006Vm9rIAC");
    /* The suffix is case-insensitive by design... */
    assert_int_equal(sb_sfid_normalize("001A0000006Vm9riac", "001", "id", &id, &err), 0);
    assert_string_equal(id.s, "001A0000006Vm9rIAC");
    /* ...but must match the first 15 characters. */
    assert_rc(sb_sfid_normalize("001A0000006Vm9rAAA", "001", "id", &id, &err), SB_E_INVALID_ID,
              err);
    assert_non_null(strstr(err.message, "IAC"));
    assert_string_equal(id.s, "");
}

static void malformed_ids_are_refused(void **state)
{
    (void)state;
    sb_sfid_t id;
    sb_err_t err;
    const char *bad[] = {NULL,
                         "",
                         "005",
                         "005000000000001A",
                         "00500000000000 ",
                         "005-00000000001",
                         "0050000000000012345"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_rc(sb_sfid_normalize(bad[i], "005", "user id", &id, &err), SB_E_INVALID_ID, err);
    assert_rc(sb_sfid_normalize("04v000000000001", "005", "user id", &id, &err), SB_E_INVALID_ID,
              err);
    assert_non_null(strstr(err.message, "does not start with 005"));
}

static void counters_give_distinct_valid_ids(void **state)
{
    (void)state;
    sb_sfid_t a, b, back;
    sb_sfid_from_counter("04v", 1, &a);
    assert_string_equal(a.s, "04v000000000001AAA");
    for (uint64_t n = 0; n < 5000; n += 7) {
        sb_sfid_from_counter("04v", n, &a);
        sb_sfid_from_counter("04v", n + 1, &b);
        assert_string_not_equal(a.s, b.s);
        assert_int_equal(sb_sfid_normalize(a.s, "04v", "id", &back, NULL), 0);
        assert_string_equal(back.s, a.s);
    }
    sb_sfid_from_counter("04v", UINT64_MAX, &a);
    assert_int_equal(sb_sfid_normalize(a.s, "04v", "id", &back, NULL), 0);
}

/* Issue 12 item 9: the body is the time and random bits, in base 62, sorting by time. */
static void time_ids_sort_by_time_and_normalize(void **state)
{
    (void)state;
    sb_sfid_t a, b, back;
    sb_sfid_from_time("0LQ", 0, 0, &a);
    assert_string_equal(a.s, "0LQ000000000000GAA"); /* L and Q are upper case */
    sb_sfid_from_time("04v", 1, 61, &a);            /* time ...01, random ...0z */
    assert_memory_equal(a.s, "04v00000010000z", 15);
    uint64_t ms = 1764547200000ULL; /* 2025-12-01 */
    for (uint64_t i = 0; i < 5000; i += 7) {
        sb_sfid_from_time("04v", ms + i, UINT64_MAX - i, &a);
        sb_sfid_from_time("04v", ms + i + 1, i, &b);
        assert_true(strncmp(a.s, b.s, 15) < 0); /* a later millisecond sorts after */
        assert_int_equal(sb_sfid_normalize(a.s, "04v", "id", &back, NULL), 0);
        assert_string_equal(back.s, a.s);
    }
}

/* The 12 characters after the key prefix in 9 bytes: back to the same id,
 * in the same order, and bytes no id packs to are refused. */
static void bodies_pack_in_nine_bytes(void **state)
{
    (void)state;
    const char *ids[] = {"005000000000000", "005000000000001", "005000000000009", "00500000000000A",
                         "00500000000000Z", "00500000000000a", "00500000000000z", "005000000000010",
                         "005Ab3dEfGhIjKl", "005zzzzzzzzzzzy", "005zzzzzzzzzzzz"};
    uint8_t prev[SB_SFID_PACKED_LEN] = {0};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        sb_sfid_t id, back;
        uint8_t packed[SB_SFID_PACKED_LEN];
        assert_int_equal(sb_sfid_normalize(ids[i], "005", "user id", &id, NULL), 0);
        assert_int_equal(sb_sfid_pack(&id, packed), 0);
        assert_int_equal(sb_sfid_unpack("005", packed, &back), 0);
        assert_string_equal(back.s, id.s); /* the suffix recomputed */
        if (i > 0)                         /* the ids are listed in order: so are their bytes */
            assert_true(memcmp(prev, packed, sizeof(packed)) < 0);
        memcpy(prev, packed, sizeof(packed));
    }
    /* 62^12 - 1 is the largest body; 62^12 is none. */
    uint8_t max[SB_SFID_PACKED_LEN], over[SB_SFID_PACKED_LEN];
    memcpy(max, prev, sizeof(max));
    memcpy(over, prev, sizeof(over));
    for (int i = SB_SFID_PACKED_LEN - 1; i >= 0 && ++over[i] == 0; i--)
        ;
    sb_sfid_t out;
    assert_int_equal(sb_sfid_unpack("005", max, &out), 0);
    assert_string_equal(out.s, "005zzzzzzzzzzzzAAA");
    assert_int_equal(sb_sfid_unpack("005", over, &out), SB_E_CORRUPT);
    assert_string_equal(out.s, "");
    memset(over, 0xff, sizeof(over));
    assert_int_equal(sb_sfid_unpack("005", over, &out), SB_E_CORRUPT);
    /* A body with a character that is no base-62 digit does not pack. */
    sb_sfid_t bad = {"005000000000-01AAA"};
    uint8_t packed[SB_SFID_PACKED_LEN];
    assert_int_equal(sb_sfid_pack(&bad, packed), SB_E_INVALID_ID);
}

static void org_ids(void **state)
{
    (void)state;
    sb_err_t err;
    assert_int_equal(sb_org_id_check("acme", &err), 0);
    assert_int_equal(sb_org_id_check("00D5g000004Xyz1", &err), 0);
    assert_int_equal(sb_org_id_check("acme-eu_2", &err), 0);
    char longest[SB_ORG_ID_MAX + 2];
    memset(longest, 'a', SB_ORG_ID_MAX);
    longest[SB_ORG_ID_MAX] = '\0';
    assert_int_equal(sb_org_id_check(longest, &err), 0);
    longest[SB_ORG_ID_MAX] = 'a';
    longest[SB_ORG_ID_MAX + 1] = '\0';
    assert_rc(sb_org_id_check(longest, &err), SB_E_INVALID_ID, err);
    assert_rc(sb_org_id_check("", &err), SB_E_INVALID_ID, err);
    assert_rc(sb_org_id_check(NULL, &err), SB_E_INVALID_ID, err);
    assert_rc(sb_org_id_check("-acme", &err), SB_E_INVALID_ID, err);
    assert_rc(sb_org_id_check("ac me", &err), SB_E_INVALID_ID, err);
    assert_rc(sb_org_id_check("acme/x", &err), SB_E_INVALID_ID, err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(suffix_matches_salesforce),
        cmocka_unit_test(eighteen_characters_are_checked),
        cmocka_unit_test(malformed_ids_are_refused),
        cmocka_unit_test(counters_give_distinct_valid_ids),
        cmocka_unit_test(time_ids_sort_by_time_and_normalize),
        cmocka_unit_test(bodies_pack_in_nine_bytes),
        cmocka_unit_test(org_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
