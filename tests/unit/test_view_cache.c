/*
 * The read library's view cache (index/view_cache.c) on its own: what a set
 * holds, which entry it evicts, that the full key decides a hit, that a new
 * epoch empties it, and how often it misses on the benchmark's views.
 */
#include <stdio.h>
#include <string.h>

#include "sb_test.h"
#include "view_cache.h"

static int setup(void **state)
{
    static sb_view_cache_t cache;
    if (sb__view_cache_init(&cache) != 0)
        return -1;
    *state = &cache;
    return 0;
}

static int teardown(void **state)
{
    sb__view_cache_destroy(*state);
    return 0;
}

/* find, as the tests read it: true with the entry's data and length. */
static bool find(sb_view_cache_t *cache, uint64_t epoch, uint64_t hash, const void *key,
                 size_t key_len, const void **data, size_t *len)
{
    const sb_view_cache_entry_t *e = sb__view_cache_find(cache, epoch, hash, key, key_len);
    if (e == NULL)
        return false;
    *data = e->data;
    *len = e->len;
    return true;
}

/* A hash whose set is `set` and whose tag is `tag`: the tests choose where a key goes. */
static uint64_t at(uint32_t set, uint32_t tag)
{
    return (uint64_t)tag << 32 | set;
}

static void a_set_holds_as_many_views_as_it_has_ways_then_evicts_the_oldest(void **state)
{
    sb_view_cache_t *cache = *state;
    static char data[SB_VIEW_CACHE_WAYS + 1];
    char key[16];
    for (unsigned i = 0; i < SB_VIEW_CACHE_WAYS; i++) {
        snprintf(key, sizeof(key), "key%u", i);
        assert_non_null(
            sb__view_cache_put(cache, 1, at(7, 100 + i), key, strlen(key), &data[i], i));
    }
    const void *got;
    size_t len;
    for (unsigned i = 0; i < SB_VIEW_CACHE_WAYS; i++) {
        snprintf(key, sizeof(key), "key%u", i);
        assert_true(find(cache, 1, at(7, 100 + i), key, strlen(key), &got, &len));
        assert_ptr_equal(got, &data[i]);
        assert_int_equal(len, i);
    }
    assert_int_equal(cache->evictions, 0);
    /* One more in the same set: the first one in goes, the others stay. */
    assert_non_null(
        sb__view_cache_put(cache, 1, at(7, 999), "late", 4, &data[SB_VIEW_CACHE_WAYS], 1));
    assert_int_equal(cache->evictions, 1);
    assert_false(find(cache, 1, at(7, 100), "key0", 4, &got, &len));
    assert_true(find(cache, 1, at(7, 999), "late", 4, &got, &len));
    assert_ptr_equal(got, &data[SB_VIEW_CACHE_WAYS]);
    for (unsigned i = 1; i < SB_VIEW_CACHE_WAYS; i++) {
        snprintf(key, sizeof(key), "key%u", i);
        assert_true(find(cache, 1, at(7, 100 + i), key, strlen(key), &got, &len));
    }
    /* And the next one in: the second oldest goes, not the newest. */
    assert_non_null(sb__view_cache_put(cache, 1, at(7, 998), "later", 5, &data[0], 1));
    assert_int_equal(cache->evictions, 2);
    assert_false(find(cache, 1, at(7, 101), "key1", 4, &got, &len));
    assert_true(find(cache, 1, at(7, 999), "late", 4, &got, &len));
    assert_true(find(cache, 1, at(7, 998), "later", 5, &got, &len));
    /* Another set is untouched by all this. */
    assert_false(find(cache, 1, at(8, 100), "key0", 4, &got, &len));
}

static void the_key_decides_not_the_hash(void **state)
{
    sb_view_cache_t *cache = *state;
    int a = 0, b = 0;
    assert_non_null(sb__view_cache_put(cache, 1, at(3, 42), "org1\0cc\0Agent", 13, &a, 1));
    const void *got;
    size_t len;
    /* Same hash, another key (a collision of 64 bits): a miss, never a's view. */
    assert_false(find(cache, 1, at(3, 42), "org2\0cc\0Agent", 13, &got, &len));
    assert_false(find(cache, 1, at(3, 42), "org1\0cc\0Agen", 12, &got, &len));
    assert_non_null(sb__view_cache_put(cache, 1, at(3, 42), "org2\0cc\0Agent", 13, &b, 2));
    assert_true(find(cache, 1, at(3, 42), "org1\0cc\0Agent", 13, &got, &len));
    assert_ptr_equal(got, &a);
    assert_true(find(cache, 1, at(3, 42), "org2\0cc\0Agent", 13, &got, &len));
    assert_ptr_equal(got, &b);
}

static void a_new_epoch_serves_nothing_of_the_last(void **state)
{
    sb_view_cache_t *cache = *state;
    int a = 0;
    uint64_t h = sb__view_cache_hash("k", 1);
    assert_non_null(sb__view_cache_put(cache, 5, h, "k", 1, &a, 1));
    const void *got;
    size_t len;
    assert_true(find(cache, 5, h, "k", 1, &got, &len));
    assert_false(find(cache, 6, h, "k", 1, &got, &len));
    /* Filling the set again in the new epoch starts from an empty set. */
    assert_non_null(sb__view_cache_put(cache, 6, h, "k", 1, &a, 1));
    assert_true(find(cache, 6, h, "k", 1, &got, &len));
    assert_false(find(cache, 5, h, "k", 1, &got, &len));
    assert_int_equal(cache->evictions, 0);
}

static void a_key_longer_than_an_entry_is_not_kept(void **state)
{
    sb_view_cache_t *cache = *state;
    char key[SB_VIEW_CACHE_KEY_MAX + 1];
    memset(key, 'x', sizeof(key));
    int a = 0;
    uint64_t h = sb__view_cache_hash(key, sizeof(key));
    assert_null(sb__view_cache_put(cache, 1, h, key, sizeof(key), &a, 1));
    const void *got;
    size_t len;
    assert_false(find(cache, 1, h, key, sizeof(key), &got, &len));
    assert_non_null(sb__view_cache_put(cache, 1, h, key, SB_VIEW_CACHE_KEY_MAX, &a, 1));
}

/*
 * The benchmark's views (bench/dataset.h: 1,000 Call Centers over 100 orgs,
 * profile Agent; the key as the store builds it): once each is in, every
 * look-up hits. The direct-mapped cache of 1,024 slots this replaced kept
 * only about 630 of them.
 */
static void the_benchmarks_views_all_fit(void **state)
{
    sb_view_cache_t *cache = *state;
    enum { VIEWS = 1000, ORGS = 100 };
    static char keys[VIEWS][64];
    static size_t lens[VIEWS];
    for (unsigned k = 0; k < VIEWS; k++) {
        /* org \0 an 18-character Call Center id \0 profile */
        int n = snprintf(keys[k], sizeof(keys[k]), "org%u%c0LV%015u%cAgent", k % ORGS, 0, k, 0);
        lens[k] = (size_t)n;
        sb__view_cache_put(cache, 1, sb__view_cache_hash(keys[k], lens[k]), keys[k], lens[k],
                           keys[k], 1);
    }
    unsigned hits = 0;
    const void *got;
    size_t len;
    for (unsigned k = 0; k < VIEWS; k++)
        hits += find(cache, 1, sb__view_cache_hash(keys[k], lens[k]), keys[k], lens[k], &got, &len);
    print_message("%u of %u views kept, %llu evictions\n", hits, VIEWS,
                  (unsigned long long)cache->evictions);
    assert_int_equal(hits, VIEWS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            a_set_holds_as_many_views_as_it_has_ways_then_evicts_the_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(the_key_decides_not_the_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(a_new_epoch_serves_nothing_of_the_last, setup, teardown),
        cmocka_unit_test_setup_teardown(a_key_longer_than_an_entry_is_not_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(the_benchmarks_views_all_fit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
