/*
 * What operators read (issue 12, item 10): a refused definition names a real
 * line, and no sentence ends in doubled punctuation, however it was
 * composed ("restore from a backup.." came from "%s." around a sentence).
 */
#include "sb_test.h"

#include <string.h>

#include "definition.h"
#include "error.h"

static void refused_doctype(const char *xml, const char *want)
{
    sb_callcenter_t *cc = NULL;
    sb_warnings_t w = {0};
    sb_err_t err;
    sb_err_clear(&err);
    assert_int_equal(sb_definition_import(xml, strlen(xml), NULL, NULL, &cc, &w, &err),
                     SB_E_INVALID_DEFINITION);
    assert_null(cc);
    if (strstr(err.message, want) == NULL || strstr(err.message, "-1") != NULL)
        fail_msg("\"%s\" does not say \"%s\"", err.message, want);
}

static void a_doctype_names_its_line(void **state)
{
    (void)state;
    refused_doctype("<?xml version=\"1.0\"?>\n\n<!DOCTYPE c [<!ENTITY e \"x\">]>\n<callCenter/>",
                    "line 3: a DOCTYPE");
    refused_doctype("<!DOCTYPE c SYSTEM \"file:///etc/passwd\"><callCenter/>", "line 1: a DOCTYPE");
}

static void no_sentence_ends_in_two_periods(void **state)
{
    (void)state;
    sb_err_t err;
    /* The composition that produced "restore from a backup..". */
    sb_err_format(&err, SB_E_CORRUPT, "Cannot open the store in %s: %s.", "/srv/sb",
                  sb_err_message(SB_E_CORRUPT));
    assert_string_equal(err.message,
                        "Cannot open the store in /srv/sb: A stored record is damaged or could "
                        "not be decoded; restore a backup: sbstore restore BACKUP DATA_DIR "
                        "(docs/operating.md).");
    sb_err_format(&err, -EINVAL, "Wait...");
    assert_string_equal(err.message, "Wait..."); /* an ellipsis is not doubled punctuation */
    /* Every default sentence ends in exactly one period. */
    static const int codes[] = {
#define SB_ERROR_CODE(name, code, wire, message) code,
        SB_ERROR_TABLE(SB_ERROR_CODE)
#undef SB_ERROR_CODE
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *m = sb_err_message(codes[i]);
        size_t len = strlen(m);
        assert_true(len > 2 && m[len - 1] == '.' && m[len - 2] != '.');
        assert_null(strstr(m, ".."));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_doctype_names_its_line),
        cmocka_unit_test(no_sentence_ends_in_two_periods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
