/*
 * Every key is built with its length checked where it is built (issue 12,
 * item 1): the store, called directly (past the dispatcher's argument
 * checks), refuses arguments too long for a key with -EINVAL and never
 * writes past its key buffer. Under ASan a missing check is an overflow
 * report; in a release build it smashed the stack.
 */
#include "sb_test.h"

#include <stdlib.h>
#include <string.h>

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

static void a_long_cursor_is_refused(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    size_t n;
    bool more;
    char *after = repeat('A', 600);
    sb_contact_t *contacts;
    assert_rc(sb_store_contact_list(fx->store, "acme", after, 10, &contacts, &n, &more, &err),
              -EINVAL, err);
    assert_non_null(strstr(err.message, "'after'"));
    sb_user_t *users;
    assert_rc(sb_store_user_list(fx->store, "acme", after, 10, &users, &n, &more, &err),
              SB_E_INVALID_ID, err);
    free(after);
}

static void a_long_org_is_refused(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    size_t n;
    bool more;
    char *org = repeat('o', 1000);
    sb_cc_summary_t *ccs;
    assert_rc(sb_store_cc_list(fx->store, org, NULL, 10, &ccs, &n, &more, &err), SB_E_INVALID_ID,
              err);
    sb_contact_t contact;
    assert_rc(sb_store_contact_get(fx->store, org, "003000000000001", &contact, &err),
              SB_E_INVALID_ID, err);
    sb_voicecall_t *call = NULL;
    assert_rc(sb_store_voicecall_get(fx->store, org, "0LQ000000000001", &call, &err),
              SB_E_INVALID_ID, err);
    assert_null(call);
    sb_voicecall_t **calls;
    sb_voicecall_filter_t f = {0};
    assert_rc(sb_store_voicecall_list(fx->store, org, &f, 10, &calls, &n, &more, &err),
              SB_E_INVALID_ID, err);
    free(org);
}

static void a_long_vendor_call_key_is_refused(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_sfid_t cc = sb_test_cc(fx->store, "acme", "Support");
    char *key = repeat('k', 4000);
    sb_call_event_t ev = {.action = SB_CALL_START, .vendor_call_key = key, .call_type = -1};
    sb_voicecall_t *call = NULL;
    bool created;
    int rc = sb_store_call_event(fx->store, "acme", &cc, &ev, &call, &created, &err);
    assert_int_not_equal(rc, 0);
    assert_null(call);
    free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_long_cursor_is_refused, sb_test_store_setup,
                                        sb_test_store_teardown),
        cmocka_unit_test_setup_teardown(a_long_org_is_refused, sb_test_store_setup,
                                        sb_test_store_teardown),
        cmocka_unit_test_setup_teardown(a_long_vendor_call_key_is_refused, sb_test_store_setup,
                                        sb_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
