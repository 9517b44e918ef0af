#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callcenter.h"
#include "utf8.h"

static sb_cc_fields_t valid_fields(void)
{
    return (sb_cc_fields_t){
        .internal_name = "Support1",
        .display_name = "Support",
        .adapter_url = "https://cti.example.com/softphone",
        .use_api = "true",
        .softphone_height = 400,
        .softphone_width = 300,
        .compatibility_mode = "Lightning",
        .outside_prefix = "9",
        .long_distance_prefix = "1",
        .international_prefix = "011",
    };
}

/* Builds from `f` and expects `want`; frees what was built. */
static void expect_build(const sb_cc_fields_t *f, int want, const char *in_message)
{
    sb_callcenter_t *cc = NULL;
    sb_err_t err;
    sb_err_clear(&err);
    assert_rc(sb_callcenter_from_fields(f, &cc, &err), want, err);
    if (want != 0) {
        assert_null(cc);
        if (in_message != NULL && strstr(err.message, in_message) == NULL)
            fail_msg("message \"%s\" does not mention \"%s\"", err.message, in_message);
    } else {
        assert_non_null(cc);
    }
    sb_callcenter_free(cc);
}

static sb_callcenter_t *built(void);

static void standard_sections_and_labels(void **state)
{
    (void)state;
    sb_cc_fields_t f = valid_fields();
    sb_callcenter_t *cc;
    assert_int_equal(sb_callcenter_from_fields(&f, &cc, NULL), 0);
    assert_int_equal(cc->n_sections, 2);
    assert_string_equal(cc->sections[0].name, "reqGeneralInfo");
    assert_string_equal(cc->sections[0].label, "General Information");
    assert_string_equal(cc->sections[1].name, "reqDialingOptions");
    assert_int_equal(cc->sections[1].n_items, 3);
    assert_string_equal(cc->sections[0].items[0].name, "reqInternalName");
    assert_int_equal(cc->sections[0].items[0].sort_order, 0);
    assert_string_equal(sb_callcenter_internal_name(cc), "Support1");
    assert_string_equal(sb_callcenter_value(cc, NULL, "reqSoftphoneHeight"), "400");
    assert_string_equal(sb_callcenter_value(cc, "reqDialingOptions", "reqInternationalPrefix"),
                        "011");
    assert_null(sb_callcenter_value(cc, NULL, "reqStandbyUrl"));
    assert_int_equal(sb_callcenter_kind(cc), SB_CC_KIND_OPEN_CTI);
    assert_int_equal(sb_callcenter_compat_mode(cc), SB_CC_COMPAT_LIGHTNING);
    sb_callcenter_free(cc);
}

static void compatibility_mode_defaults_to_classic(void **state)
{
    (void)state;
    sb_cc_fields_t f = valid_fields();
    f.compatibility_mode = NULL;
    sb_callcenter_t *cc;
    assert_int_equal(sb_callcenter_from_fields(&f, &cc, NULL), 0);
    assert_int_equal(sb_callcenter_compat_mode(cc), SB_CC_COMPAT_CLASSIC);
    assert_string_equal(sb_cc_compat_mode_name(sb_callcenter_compat_mode(cc)), "Classic");
    sb_callcenter_free(cc);
    f.compatibility_mode = "Classic_and_Lightning";
    expect_build(&f, 0, NULL);
    f.compatibility_mode = "lightning";
    expect_build(&f, SB_E_INVALID_COMPATIBILITY_MODE, "lightning");
    f.compatibility_mode = "Mobile";
    expect_build(&f, SB_E_INVALID_COMPATIBILITY_MODE, "Mobile");
}

static void internal_name_rules(void **state)
{
    (void)state;
    sb_cc_fields_t f = valid_fields();
    f.internal_name = "A";
    expect_build(&f, 0, NULL);
    f.internal_name = "Abcdefghij0123456789Abcdefghij0123456789"; /* 40 */
    expect_build(&f, 0, NULL);
    f.internal_name = "Abcdefghij0123456789Abcdefghij01234567890"; /* 41 */
    expect_build(&f, SB_E_INVALID_INTERNAL_NAME, "40");
    f.internal_name = "1Support";
    expect_build(&f, SB_E_INVALID_INTERNAL_NAME, "start with a letter");
    f.internal_name = "Support_Center";
    expect_build(&f, SB_E_INVALID_INTERNAL_NAME, "Support_Center");
    f.internal_name = "Support Center";
    expect_build(&f, SB_E_INVALID_INTERNAL_NAME, NULL);
    f.internal_name = "";
    expect_build(&f, SB_E_INVALID_INTERNAL_NAME, NULL);
    f.internal_name = "Caf\xc3\xa9";
    expect_build(&f, SB_E_INVALID_INTERNAL_NAME, NULL);
}

static void display_name_rules(void **state)
{
    (void)state;
    sb_cc_fields_t f = valid_fields();
    /* 1,000 characters of two bytes each is fine: the limit counts characters. */
    char *name = malloc(2001 * 2);
    for (int i = 0; i < 1000; i++)
        memcpy(name + 2 * i, "\xc3\xa9", 2);
    name[2000] = '\0';
    f.display_name = name;
    expect_build(&f, 0, NULL);
    memcpy(name + 2000, "x", 2);
    expect_build(&f, SB_E_INVALID_DISPLAY_NAME, "1001");
    f.display_name = "";
    expect_build(&f, SB_E_INVALID_DISPLAY_NAME, NULL);
    f.display_name = "bad \xff utf8";
    expect_build(&f, SB_E_INVALID_DISPLAY_NAME, "UTF-8");
    free(name);
}

static void softphone_size_ranges(void **state)
{
    (void)state;
    sb_cc_fields_t f = valid_fields();
    const struct {
        uint32_t height, width;
        int want;
    } cases[] = {
        {240, 200, 0},
        {2560, 1920, 0},
        {239, 300, SB_E_OUT_OF_RANGE},
        {2561, 300, SB_E_OUT_OF_RANGE},
        {400, 199, SB_E_OUT_OF_RANGE},
        {400, 1921, SB_E_OUT_OF_RANGE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f.softphone_height = cases[i].height;
        f.softphone_width = cases[i].width;
        expect_build(&f, cases[i].want, cases[i].want ? "must be from" : NULL);
    }
}

static void standby_url_and_timeout_together(void **state)
{
    (void)state;
    sb_cc_fields_t f = valid_fields();
    f.standby_url = "https://standby.example.com";
    expect_build(&f, SB_E_STANDBY_WITHOUT_TIMEOUT, "without a timeout");
    f.timeout_ms = 10000;
    expect_build(&f, 0, NULL);
    f.standby_url = NULL;
    expect_build(&f, SB_E_STANDBY_WITHOUT_TIMEOUT, "without a standby URL");
}

static void required_fields_by_kind(void **state)
{
    (void)state;
    sb_cc_fields_t f = valid_fields();
    f.adapter_url = NULL;
    expect_build(&f, SB_E_MISSING_FIELD, "adapter URL");
    /* ...but a stored definition without one is kept: legacy desktop
     * adapters (AMC's CTI toolkit) have none. */
    sb_callcenter_t *legacy = built();
    legacy->sections[0].items[2].name[0] = 'x'; /* reqAdapterUrl -> xeqAdapterUrl */
    assert_null(sb_callcenter_value(legacy, SB_CC_GENERAL, SB_CC_ADAPTER_URL));
    assert_int_equal(sb_callcenter_validate(legacy, NULL), 0);
    sb_callcenter_free(legacy);

    /* Service Cloud Voice: a vendor info and a reqHvcc section, no adapter URL. */
    sb_cc_fields_t scv = {
        .internal_name = "VoiceCenter",
        .display_name = "Voice",
        .vendor_info_api_name = "amazon_connect_vendor",
        .long_distance_prefix = "+1",
    };
    sb_callcenter_t *cc;
    assert_int_equal(sb_callcenter_from_fields(&scv, &cc, NULL), 0);
    assert_int_equal(sb_callcenter_kind(cc), SB_CC_KIND_SERVICE_CLOUD_VOICE);
    assert_string_equal(sb_cc_kind_name(sb_callcenter_kind(cc)), "service_cloud_voice");
    assert_non_null(sb_callcenter_find(cc, "reqHvcc", "reqLongDistPrefix"));
    sb_callcenter_free(cc);
    scv.vendor_info_api_name = "";
    expect_build(&scv, SB_E_MISSING_FIELD, "reqVendorInfoApiName");
}

static void the_field_at_fault_is_named(void **state)
{
    (void)state;
    sb_callcenter_t *cc = built();
    sb_err_t err;
    sb_cc_change_t tall = {"reqGeneralInfo", "reqSoftphoneHeight", "3000"};
    assert_rc(sb_callcenter_apply(cc, &tall, 1, &err), SB_E_OUT_OF_RANGE, err);
    assert_string_equal(err.field, "/reqGeneralInfo/reqSoftphoneHeight");
    sb_cc_change_t prefix = {"reqDialingOptions", "reqOutsidePrefix", "9-"};
    tall.value = "400";
    sb_cc_change_t both[] = {tall, prefix};
    assert_rc(sb_callcenter_apply(cc, both, 2, &err), SB_E_INVALID_VALUE, err);
    assert_string_equal(err.field, "/reqDialingOptions/reqOutsidePrefix");
    sb_callcenter_free(cc);
}

static void values_of_known_fields(void **state)
{
    (void)state;
    sb_cc_fields_t f = valid_fields();
    f.use_api = "yes";
    expect_build(&f, SB_E_INVALID_VALUE, "true or false");
    f.use_api = "FALSE";
    expect_build(&f, 0, NULL);
    f.outside_prefix = "9,";
    expect_build(&f, SB_E_INVALID_VALUE, "reqOutsidePrefix");
    f.outside_prefix = "+*#0";
    expect_build(&f, 0, NULL);
}

static sb_callcenter_t *built(void)
{
    sb_cc_fields_t f = valid_fields();
    sb_callcenter_t *cc = NULL;
    assert_int_equal(sb_callcenter_from_fields(&f, &cc, NULL), 0);
    return cc;
}

static void number_fields_are_strict(void **state)
{
    (void)state;
    const char *bad[] = {"40O", "-400", "+400", " 400", "400.0", "99999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sb_callcenter_t *cc = built();
        sb_cc_change_t change = {"reqGeneralInfo", "reqSoftphoneHeight", bad[i]};
        sb_err_t err;
        assert_rc(sb_callcenter_apply(cc, &change, 1, &err), SB_E_INVALID_VALUE, err);
        sb_callcenter_free(cc);
    }
}

static void field_set_is_fixed(void **state)
{
    (void)state;
    sb_callcenter_t *cc = built();
    sb_err_t err;
    sb_cc_change_t add = {"reqGeneralInfo", "reqStandbyUrl", "https://x"};
    assert_rc(sb_callcenter_apply(cc, &add, 1, &err), SB_E_FIELD_NOT_IN_SET, err);
    assert_non_null(strstr(err.message, "/reqGeneralInfo/reqStandbyUrl"));
    sb_cc_change_t other_section = {"reqDialingOptions", "reqSoftphoneHeight", "500"};
    assert_rc(sb_callcenter_apply(cc, &other_section, 1, &err), SB_E_FIELD_NOT_IN_SET, err);
    sb_cc_change_t ok[] = {{"reqGeneralInfo", "reqSoftphoneHeight", "500"},
                           {"reqDialingOptions", "reqOutsidePrefix", "0"}};
    assert_int_equal(sb_callcenter_apply(cc, ok, 2, &err), 0);
    assert_string_equal(sb_callcenter_value(cc, NULL, "reqSoftphoneHeight"), "500");
    assert_string_equal(sb_callcenter_value(cc, NULL, "reqOutsidePrefix"), "0");
    sb_callcenter_free(cc);
}

static void internal_name_never_changes(void **state)
{
    (void)state;
    sb_callcenter_t *cc = built();
    sb_err_t err;
    sb_cc_change_t rename = {"reqGeneralInfo", "reqInternalName", "Other"};
    assert_rc(sb_callcenter_apply(cc, &rename, 1, &err), SB_E_INTERNAL_NAME_IMMUTABLE, err);
    sb_cc_change_t same = {"reqGeneralInfo", "reqInternalName", "Support1"};
    assert_int_equal(sb_callcenter_apply(cc, &same, 1, &err), 0);
    sb_callcenter_free(cc);
}

static void duplicate_sections_are_refused_duplicate_items_kept(void **state)
{
    (void)state;
    sb_callcenter_t *cc = built();
    sb_err_t err;
    /* The same item twice in one section happens in real files: kept, but
     * ambiguous to change by path. */
    assert_int_equal(sb_callcenter_add_item(cc, 1, "reqOutsidePrefix", "again", 3, "8"), 0);
    assert_int_equal(sb_callcenter_validate(cc, &err), 0);
    sb_cc_change_t change = {"reqDialingOptions", "reqOutsidePrefix", "7"};
    assert_rc(sb_callcenter_apply(cc, &change, 1, &err), -EINVAL, err);
    assert_non_null(strstr(err.message, "2 times"));
    assert_true(sb_callcenter_add_section(cc, "reqDialingOptions", "x", 2) >= 0);
    assert_rc(sb_callcenter_validate(cc, &err), SB_E_INVALID_VALUE, err);
    assert_non_null(strstr(err.message, "appears twice"));
    sb_callcenter_free(cc);
}

static void limits_on_size(void **state)
{
    (void)state;
    sb_callcenter_t *cc = built();
    sb_err_t err;
    char *big = malloc(SB_CC_MAX_VALUE_BYTES + 2);
    memset(big, 'x', SB_CC_MAX_VALUE_BYTES + 1);
    big[SB_CC_MAX_VALUE_BYTES + 1] = '\0';
    assert_int_equal(sb_callcenter_add_item(cc, 1, "custom", "Custom", 3, big), 0);
    assert_rc(sb_callcenter_validate(cc, &err), SB_E_INVALID_VALUE, err);
    free(big);
    sb_callcenter_free(cc);

    cc = built();
    for (int i = (int)cc->n_sections; i < SB_CC_MAX_SECTIONS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "s%d", i);
        assert_true(sb_callcenter_add_section(cc, name, "", (uint32_t)i) >= 0);
    }
    assert_int_equal(sb_callcenter_add_section(cc, "one_more", "", 99), SB_E_INVALID_VALUE);
    sb_callcenter_free(cc);
}

static void copy_is_deep(void **state)
{
    (void)state;
    sb_callcenter_t *cc = built(), *copy;
    assert_int_equal(sb_callcenter_copy(cc, &copy), 0);
    sb_cc_change_t change = {"reqGeneralInfo", "reqSoftphoneWidth", "500"};
    assert_int_equal(sb_callcenter_apply(copy, &change, 1, NULL), 0);
    assert_string_equal(sb_callcenter_value(cc, NULL, "reqSoftphoneWidth"), "300");
    assert_string_equal(sb_callcenter_value(copy, NULL, "reqSoftphoneWidth"), "500");
    sb_callcenter_free(cc);
    sb_callcenter_free(copy);
    sb_callcenter_free(NULL);
}

static void utf8_counting(void **state)
{
    (void)state;
    size_t n = 0;
    assert_true(sb_utf8_count("", &n) && n == 0);
    assert_true(sb_utf8_count("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", &n) && n == 4);
    assert_false(sb_utf8_count("\xc0\xaf", &n));         /* overlong */
    assert_false(sb_utf8_count("\xed\xa0\x80", &n));     /* surrogate */
    assert_false(sb_utf8_count("\xf4\x90\x80\x80", &n)); /* above U+10FFFF */
    assert_false(sb_utf8_count("\xe2\x82", &n));         /* truncated */
    assert_false(sb_utf8_count("\x80", &n));             /* lone continuation */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(standard_sections_and_labels),
        cmocka_unit_test(compatibility_mode_defaults_to_classic),
        cmocka_unit_test(internal_name_rules),
        cmocka_unit_test(display_name_rules),
        cmocka_unit_test(softphone_size_ranges),
        cmocka_unit_test(standby_url_and_timeout_together),
        cmocka_unit_test(required_fields_by_kind),
        cmocka_unit_test(values_of_known_fields),
        cmocka_unit_test(the_field_at_fault_is_named),
        cmocka_unit_test(number_fields_are_strict),
        cmocka_unit_test(field_set_is_fixed),
        cmocka_unit_test(internal_name_never_changes),
        cmocka_unit_test(duplicate_sections_are_refused_duplicate_items_kept),
        cmocka_unit_test(limits_on_size),
        cmocka_unit_test(copy_is_deep),
        cmocka_unit_test(utf8_counting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
