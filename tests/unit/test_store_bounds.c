/*
 * The store's bounds, called directly (past the dispatcher's argument
 * checks). Every key is built with its length checked where it is built
 * (issue 12, item 1): arguments too long for a key are refused and nothing
 * is written past a key buffer (under ASan a missing check is an overflow
 * report; in a release build it smashed the stack). Call times are
 * range-checked before any arithmetic on them (item 10): a duration that
 * overflowed int64 aborted the sanitized build.
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
    sb_sfid_t resume;
    assert_rc(sb_store_voicecall_list(fx->store, org, &f, 10, &calls, &n, &more, &resume, &err),
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

static void call_times_are_range_checked(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_sfid_t cc = sb_test_cc(fx->store, "acme", "Support");
    static const int64_t refused[] = {INT64_MAX, INT64_MIN, -1, 1, 946684799999LL, INT64_MAX / 2};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        sb_call_event_t ev = {
            .action = SB_CALL_END, .vendor_call_key = "k", .call_type = -1, .at_ms = refused[i]};
        sb_voicecall_t *call = NULL;
        assert_rc(sb_store_call_event(fx->store, "acme", &cc, &ev, &call, NULL, &err),
                  SB_E_OUT_OF_RANGE, err);
        assert_null(call);
    }
    /* The widest span allowed: from 2000-01-01 to now, a sane duration. */
    sb_call_event_t start = {
        .action = SB_CALL_START, .vendor_call_key = "k", .call_type = -1, .at_ms = 946684800000LL};
    sb_voicecall_t *call = NULL;
    assert_int_equal(sb_store_call_event(fx->store, "acme", &cc, &start, &call, NULL, &err), 0);
    sb_voicecall_free(call);
    sb_call_event_t end = {.action = SB_CALL_END, .vendor_call_key = "k", .call_type = -1};
    assert_int_equal(sb_store_call_event(fx->store, "acme", &cc, &end, &call, NULL, &err), 0);
    assert_true(call->duration_s > 25LL * 365 * 86400 && call->duration_s < 200LL * 365 * 86400);
    sb_voicecall_free(call);
}

static void long_transcript_ids_and_speakers_are_refused_not_cut(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_err_t err;
    sb_sfid_t cc = sb_test_cc(fx->store, "acme", "Support");
    sb_call_event_t start = {.action = SB_CALL_START, .vendor_call_key = "t", .call_type = -1};
    sb_voicecall_t *call = NULL;
    assert_int_equal(sb_store_call_event(fx->store, "acme", &cc, &start, &call, NULL, &err), 0);
    sb_voicecall_free(call);
    /* Two ids that share their first 64 bytes were one segment once cut. */
    char *id = repeat('s', 70);
    sb_call_event_t seg = {.action = SB_CALL_TRANSCRIPT,
                           .vendor_call_key = "t",
                           .call_type = -1,
                           .segment_id = id,
                           .speaker = "agent",
                           .text = "hello"};
    call = NULL;
    assert_rc(sb_store_call_event(fx->store, "acme", &cc, &seg, &call, NULL, &err),
              SB_E_INVALID_VALUE, err);
    assert_null(call);
    char *speaker = repeat('p', 40);
    seg.segment_id = "s1";
    seg.speaker = speaker;
    assert_rc(sb_store_call_event(fx->store, "acme", &cc, &seg, &call, NULL, &err),
              SB_E_INVALID_VALUE, err);
    seg.speaker = "agent";
    assert_int_equal(sb_store_call_event(fx->store, "acme", &cc, &seg, &call, NULL, &err), 0);
    sb_voicecall_free(call);
    free(speaker);
    free(id);
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
        cmocka_unit_test_setup_teardown(call_times_are_range_checked, sb_test_store_setup,
                                        sb_test_store_teardown),
        cmocka_unit_test_setup_teardown(long_transcript_ids_and_speakers_are_refused_not_cut,
                                        sb_test_store_setup, sb_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
