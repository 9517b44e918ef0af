/*
 * Answers packed once (server/methods/softphone.c): a view's answer is
 * packed once with a marker where the user's id goes, and later answers are
 * that block with the id spliced in. For every reason a view can give, every
 * compatibility mode and every layout source, the spliced answer must be the
 * bytes of the answer packed field by field (today's), for the user who made
 * the block and for other users of the same view; a view that changes is
 * packed again; without a cache every answer is today's.
 */
#include <stdlib.h>
#include <string.h>

#include "callcenter.h"
#include "methods.h"
#include "sb_test.h"

static const uint8_t layout[] = {0x81, 0xa4, 'n', 'a', 'm', 'e', 0xa4, 'M', 'a', 'i', 'n'};

/* A member's answer for `user` of a view made from `v`, as sb_store_softphone_find gives it. */
static void member_answer(sb_softphone_answer_t *a, const sb_softphone_view_t *v, const char *user,
                          const char *profile)
{
    memset(a, 0, sizeof(*a));
    uint8_t *blob;
    size_t len;
    assert_int_equal(sb_softphone_view_encode(v, &blob, &len), 0);
    a->blob = blob;
    a->blob_len = len;
    assert_int_equal(sb_softphone_view_decode(blob, len, &a->view), 0);
    a->reason = a->view.reason;
    snprintf(a->user, sizeof(a->user), "%s", user);
    snprintf(a->profile, sizeof(a->profile), "%s", profile);
    if (sb_softphone_url_for(a->view.adapter_url, user, a->adapter_url, SB_VIEW_URL_MAX) != 0)
        a->adapter_url[0] = '\0';
}

/* Today's bytes: the sentence, then every field packed. */
static void reference(sb_softphone_answer_t *a, const char *org, msgpack_sbuffer *out)
{
    msgpack_sbuffer_init(out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    sb_softphone_answer_explain(a, org, a->user);
    assert_int_equal(sb_softphone_pack_reference(&pk, a), 0);
}

/* The bytes through the cache (NULL: none). */
static void through(sb_answer_cache_t *cache, sb_softphone_answer_t *a, const char *org,
                    msgpack_sbuffer *out)
{
    msgpack_sbuffer_init(out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    a->message[0] = '\0'; /* as sb_store_softphone_find leaves it */
    assert_int_equal(sb_softphone_pack(cache, &pk, a, org, a->user), 0);
}

static void same_bytes(const msgpack_sbuffer *want, const msgpack_sbuffer *got)
{
    assert_int_equal(got->size, want->size);
    assert_memory_equal(got->data, want->data, want->size);
}

static void every_reason_mode_and_source_is_byte_identical(void **state)
{
    (void)state;
    static const char *const users[] = {"005000000000001AAA", "005000000000002AAB",
                                        "005ZZZZZZZZZZZZAAC"};
    sb_answer_cache_t *cache;
    assert_int_equal(sb_answer_cache_new(64, &cache), 0);
    unsigned cases = 0;
    for (int reason = SB_SOFTPHONE_OK; reason < SB_SOFTPHONE_REASONS; reason++) {
        /* The reasons found before any view are never a view's. */
        if (reason == SB_SOFTPHONE_UNKNOWN_USER || reason == SB_SOFTPHONE_NOT_A_MEMBER ||
            reason == SB_SOFTPHONE_INVALID_USER_ID)
            continue;
        for (int mode = SB_CC_COMPAT_CLASSIC; mode <= SB_CC_COMPAT_CLASSIC_AND_LIGHTNING; mode++)
            for (int source = SB_LAYOUT_FROM_PROFILE; source <= SB_LAYOUT_NONE; source++)
                for (int url = 0; url < 3; url++) {
                    sb_softphone_view_t v = {
                        .reason = (sb_softphone_reason_t)reason,
                        .mode = (uint8_t)mode,
                        .layout_source = (sb_layout_source_t)source,
                        .height = url == 1 ? 0 : 400,
                        .width = url == 1 ? 0 : 300,
                        .cc_id = "04v000000000001AAA",
                        .internal_name = "Support",
                        .display_name = "Support \xc3\xa9quipe", /* UTF-8 */
                        .adapter = url == 2 ? "" : "demo",
                        /* the id twice in one URL, none, or no URL at all */
                        .adapter_url =
                            url == 0 ? "https://cti.example.com/a?u=" SB_ADAPTER_USER_PLACEHOLDER
                                       "&again=" SB_ADAPTER_USER_PLACEHOLDER
                            : url == 1 ? "http://cti.example.com/plain"
                                       : "",
                        .layout_name = source == SB_LAYOUT_NONE ? "" : "Main",
                        .detail = reason == SB_SOFTPHONE_ADAPTER_REFUSED && url ? "no host." : "",
                        .layout = source == SB_LAYOUT_NONE ? NULL : layout,
                        .layout_len = source == SB_LAYOUT_NONE ? 0 : sizeof(layout),
                    };
                    for (unsigned u = 0; u < 3; u++) {
                        sb_softphone_answer_t a;
                        msgpack_sbuffer want, got, plain;
                        member_answer(&a, &v, users[u], "Agents");
                        reference(&a, "acme", &want);
                        through(cache, &a, "acme", &got); /* u 0: packs; 1, 2: spliced */
                        same_bytes(&want, &got);
                        through(NULL, &a, "acme", &plain);
                        same_bytes(&want, &plain);
                        msgpack_sbuffer_destroy(&want);
                        msgpack_sbuffer_destroy(&got);
                        msgpack_sbuffer_destroy(&plain);
                        sb_softphone_answer_destroy(&a);
                        cases++;
                    }
                }
    }
    uint64_t hits, packed;
    sb_answer_cache_counts(cache, &hits, &packed);
    print_message("%u answers compared; %llu spliced, %llu views packed\n", cases,
                  (unsigned long long)hits, (unsigned long long)packed);
    assert_int_equal(packed, cases / 3);   /* once per view */
    assert_int_equal(hits, 2 * cases / 3); /* every other user of it spliced */
    sb_answer_cache_free(cache);
}

static void a_changed_view_or_another_profile_is_packed_again(void **state)
{
    (void)state;
    sb_answer_cache_t *cache;
    assert_int_equal(sb_answer_cache_new(1, &cache), 0); /* one slot: every view shares it */
    sb_softphone_view_t v = {.cc_id = "04v000000000001AAA",
                             .internal_name = "Support",
                             .display_name = "Support",
                             .adapter = "demo",
                             .adapter_url = "https://cti.example.com/",
                             .layout_name = "Main",
                             .layout = layout,
                             .layout_len = sizeof(layout)};
    const char *names[] = {"Support", "Sales", "Support"};
    const char *profiles[] = {"Agents", "Agents", "Managers"};
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 3; i++) {
            v.display_name = names[i]; /* a write changed the view (or changed it back) */
            sb_softphone_answer_t a;
            msgpack_sbuffer want, got;
            member_answer(&a, &v, "005000000000001AAA", profiles[i]);
            reference(&a, round ? "globex" : "acme", &want);
            through(cache, &a, round ? "globex" : "acme", &got);
            same_bytes(&want, &got);
            msgpack_sbuffer_destroy(&want);
            msgpack_sbuffer_destroy(&got);
            sb_softphone_answer_destroy(&a);
        }
    uint64_t hits, packed;
    sb_answer_cache_counts(cache, &hits, &packed);
    assert_int_equal(hits, 0);
    assert_int_equal(packed, 6);
    sb_answer_cache_free(cache);
}

/* Answers without a view (not a member, unknown, an invalid id) are packed in full. */
static void answers_without_a_view_are_packed_in_full(void **state)
{
    (void)state;
    sb_answer_cache_t *cache;
    assert_int_equal(sb_answer_cache_new(8, &cache), 0);
    const sb_softphone_reason_t reasons[] = {SB_SOFTPHONE_UNKNOWN_USER, SB_SOFTPHONE_NOT_A_MEMBER,
                                             SB_SOFTPHONE_INVALID_USER_ID};
    for (int i = 0; i < 3; i++) {
        sb_softphone_answer_t a;
        memset(&a, 0, sizeof(a));
        a.reason = reasons[i];
        snprintf(a.user, sizeof(a.user), "%s", i == 2 ? "0x5nope" : "005000000000001AAA");
        msgpack_sbuffer want, got;
        reference(&a, "acme", &want);
        through(cache, &a, "acme", &got);
        same_bytes(&want, &got);
        msgpack_sbuffer_destroy(&want);
        msgpack_sbuffer_destroy(&got);
    }
    uint64_t hits, packed;
    sb_answer_cache_counts(cache, &hits, &packed);
    assert_int_equal(hits + packed, 0);
    sb_answer_cache_free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_reason_mode_and_source_is_byte_identical),
        cmocka_unit_test(a_changed_view_or_another_profile_is_packed_again),
        cmocka_unit_test(answers_without_a_view_are_packed_in_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
