#include "sb_test.h"

#include <string.h>

#include "error.h"

static const int all_codes[] = {
#define SB_ERROR_CODE(name, code, wire, message) code,
    SB_ERROR_TABLE(SB_ERROR_CODE)
#undef SB_ERROR_CODE
};
static const size_t n_codes = sizeof(all_codes) / sizeof(all_codes[0]);

static void names_and_wire_codes_are_unique(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_codes; i++) {
        for (size_t j = i + 1; j < n_codes; j++) {
            assert_int_not_equal(all_codes[i], all_codes[j]);
            assert_string_not_equal(sb_err_name(all_codes[i]), sb_err_name(all_codes[j]));
            assert_int_not_equal(sb_err_wire_code(all_codes[i]), sb_err_wire_code(all_codes[j]));
        }
    }
}

static void every_project_code_has_a_row(void **state)
{
    (void)state;
    for (int code = SB_E_BASE + 1; code <= SB_E_ADAPTER_UNAVAILABLE; code++) {
        assert_string_not_equal(sb_err_name(code), "INTERNAL");
        assert_true(strlen(sb_err_message(code)) > 10);
    }
}

static void names_are_upper_case_words(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_codes; i++) {
        const char *name = sb_err_name(all_codes[i]);
        for (const char *p = name; *p; p++)
            assert_true((*p >= 'A' && *p <= 'Z') || *p == '_');
    }
}

static void wire_codes_are_stable(void **state)
{
    (void)state;
    /* The protocol promises these numbers; a renumbered row breaks clients. */
    assert_int_equal(sb_err_wire_code(-ENOENT), 1);
    assert_string_equal(sb_err_name(-ENOENT), "NOT_FOUND");
    assert_int_equal(sb_err_wire_code(SB_E_ALREADY_MEMBER), 12);
    assert_int_equal(sb_err_wire_code(-EAGAIN), 27);
    assert_int_equal(sb_err_wire_code(-12345), 99);
    assert_string_equal(sb_err_name(-12345), "INTERNAL");
}

static void set_formats_and_returns_the_code(void **state)
{
    (void)state;
    sb_err_t err;
    sb_err_clear(&err);
    assert_int_equal(sb_err_set(&err, -EINVAL, "bad %s %d", "thing", 7), -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    assert_string_equal(err.message, "bad thing 7");
    /* The default keeps a specific sentence for the same code... */
    sb_err_default(&err, -EINVAL);
    assert_string_equal(err.message, "bad thing 7");
    /* ...and replaces it for another code. */
    sb_err_default(&err, -ENOENT);
    assert_string_equal(err.message, sb_err_message(-ENOENT));
    assert_int_equal(sb_err_set(NULL, -EIO, "ignored"), -EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_and_wire_codes_are_unique),
        cmocka_unit_test(every_project_code_has_a_row),
        cmocka_unit_test(names_are_upper_case_words),
        cmocka_unit_test(wire_codes_are_stable),
        cmocka_unit_test(set_formats_and_returns_the_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
