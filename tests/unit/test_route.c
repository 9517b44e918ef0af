/*
 * The cluster client's routing decisions (client/route.c) without NATS: the
 * placement map fed by hand with the bucket's keys as docs/cluster.md has
 * them, and the member each kind of request goes to.
 */
#include "sb_test.h"

#include <string.h>

#include "route.h"

static void put(sb_route_map_t *map, const char *key, const char *json, uint64_t rev)
{
    char why[256];
    assert_int_equal(sb_route_apply(map, key, json, strlen(json), false, rev, why, sizeof(why)), 0);
}

/* Two shards: s1 (primary a1, no replica), s2 (primary b1, replicas b2 and b3). */
static void two_shards(sb_route_map_t *map)
{
    sb_route_map_init(map);
    put(map, "shards.next", "{\"next\": 3}", 1);
    put(map, "shard.s1", "{\"epoch\": 1, \"primary\": \"a1\", \"replicas\": [], \"number\": 1}", 2);
    put(map, "shard.s2",
        "{\"epoch\": 4, \"primary\": \"b1\", \"replicas\": [\"b2\", \"b3\"], \"number\": 2}", 3);
    put(map, "member.a1",
        "{\"shard\": \"s1\", \"socket\": \"/run/a1.sock\", \"role\": \"primary\", \"epoch\": 1}",
        4);
    put(map, "member.b1",
        "{\"shard\": \"s2\", \"socket\": \"/run/b1.sock\", \"role\": \"primary\", \"epoch\": 4}",
        5);
    put(map, "member.b2",
        "{\"shard\": \"s2\", \"socket\": \"/run/b2.sock\", \"role\": \"replica\", \"epoch\": 4}",
        6);
    put(map, "member.b3",
        "{\"shard\": \"s2\", \"socket\": \"/run/b3.sock\", \"role\": \"replica\", \"epoch\": 4}",
        7);
    put(map, "org.acme", "{\"shard\": \"s2\", \"state\": \"serving\"}", 8);
    put(map, "org.zeta", "{\"shard\": \"s1\", \"state\": \"serving\"}", 9);
}

static const char *pick(sb_route_map_t *map, const sb_route_ask_t *ask)
{
    const sb_route_member_t *m;
    char why[512];
    sb_route_miss_t miss = sb_route_pick(map, ask, &m, why, sizeof(why));
    if (miss != SB_ROUTE_OK)
        return NULL;
    assert_non_null(m);
    return m->name;
}

static void writes_go_to_the_orgs_primary(void **state)
{
    (void)state;
    sb_route_map_t map;
    two_shards(&map);
    assert_int_equal(map.revision, 9);
    sb_route_ask_t ask = {.org = "acme", .writes = true};
    for (int i = 0; i < 5; i++)
        assert_string_equal(pick(&map, &ask), "b1");
    ask.org = "zeta";
    assert_string_equal(pick(&map, &ask), "a1");
    /* A promote: the bucket names another primary, and writes follow it. */
    put(&map, "shard.s2", "{\"epoch\": 5, \"primary\": \"b2\", \"replicas\": [\"b3\"]}", 10);
    ask.org = "acme";
    assert_string_equal(pick(&map, &ask), "b2");
    /* A moved org follows its key. */
    put(&map, "org.acme", "{\"shard\": \"s1\", \"state\": \"serving\"}", 11);
    assert_string_equal(pick(&map, &ask), "a1");
    sb_route_map_destroy(&map);
}

static void reads_take_turns_and_skip_fenced(void **state)
{
    (void)state;
    sb_route_map_t map;
    two_shards(&map);
    sb_route_ask_t ask = {.org = "acme"};
    const char *seen[6];
    for (int i = 0; i < 6; i++)
        seen[i] = pick(&map, &ask);
    assert_string_equal(seen[0], "b1");
    assert_string_equal(seen[1], "b2");
    assert_string_equal(seen[2], "b3");
    assert_string_equal(seen[3], "b1");
    /* b2 fenced: never picked; the others still alternate. */
    put(&map, "member.b2",
        "{\"shard\": \"s2\", \"socket\": \"/run/b2.sock\", \"role\": \"fenced\", \"epoch\": 4}",
        12);
    int b1 = 0, b3 = 0;
    for (int i = 0; i < 6; i++) {
        const char *m = pick(&map, &ask);
        assert_non_null(m);
        assert_string_not_equal(m, "b2");
        b1 += strcmp(m, "b1") == 0;
        b3 += strcmp(m, "b3") == 0;
    }
    assert_int_equal(b1, 3);
    assert_int_equal(b3, 3);
    /* A member whose connection failed is avoided by the retry. */
    const char *avoid[] = {"b1"};
    ask.avoid = avoid;
    ask.n_avoid = 1;
    for (int i = 0; i < 3; i++)
        assert_string_equal(pick(&map, &ask), "b3");
    /* A write never goes to a replica, even when the primary is avoided. */
    ask.writes = true;
    assert_null(pick(&map, &ask));
    /* A member without a member key (no socket known) is skipped for reads. */
    ask.writes = false;
    ask.n_avoid = 0;
    char why[256];
    assert_int_equal(sb_route_apply(&map, "member.b3", NULL, 0, true, 13, why, sizeof(why)), 0);
    for (int i = 0; i < 3; i++)
        assert_string_equal(pick(&map, &ask), "b1");
    sb_route_map_destroy(&map);
}

static void requests_without_org(void **state)
{
    (void)state;
    sb_route_map_t map;
    two_shards(&map);
    /* The primary of the first shard by name. */
    sb_route_ask_t ask = {.writes = false};
    assert_string_equal(pick(&map, &ask), "a1");
    ask.writes = true;
    assert_string_equal(pick(&map, &ask), "a1");
    /* A member named by the caller. */
    ask.member = "b3";
    assert_string_equal(pick(&map, &ask), "b3");
    ask.member = "nobody";
    const sb_route_member_t *m;
    char why[512];
    assert_int_equal(sb_route_pick(&map, &ask, &m, why, sizeof(why)), SB_ROUTE_NO_MEMBER);
    assert_non_null(strstr(why, "nobody"));
    /* A shard named by the caller (org.create --shard): its primary for the write. */
    ask.member = NULL;
    ask.shard = "s2";
    ask.org = "newco";
    assert_string_equal(pick(&map, &ask), "b1");
    ask.shard = "s9";
    assert_int_equal(sb_route_pick(&map, &ask, &m, why, sizeof(why)), SB_ROUTE_NO_SHARD);
    sb_route_map_destroy(&map);
}

static void unknown_and_deleted(void **state)
{
    (void)state;
    sb_route_map_t map;
    two_shards(&map);
    const sb_route_member_t *m;
    char why[512];
    sb_route_ask_t ask = {.org = "nope"};
    assert_int_equal(sb_route_pick(&map, &ask, &m, why, sizeof(why)), SB_ROUTE_NO_ORG);
    assert_null(m);
    assert_non_null(strstr(why, "nope"));
    /* org.delete removes the key, and the org with it. */
    assert_int_equal(sb_route_apply(&map, "org.acme", NULL, 0, true, 20, why, sizeof(why)), 0);
    ask.org = "acme";
    assert_int_equal(sb_route_pick(&map, &ask, &m, why, sizeof(why)), SB_ROUTE_NO_ORG);
    assert_null(sb_route_find_org(&map, "acme"));
    assert_non_null(sb_route_find_org(&map, "zeta"));
    /* A primary without a member key: the write has nowhere to go. */
    assert_int_equal(sb_route_apply(&map, "member.a1", NULL, 0, true, 21, why, sizeof(why)), 0);
    ask.org = "zeta";
    ask.writes = true;
    assert_int_equal(sb_route_pick(&map, &ask, &m, why, sizeof(why)), SB_ROUTE_NO_SOCKET);
    assert_non_null(strstr(why, "a1"));
    assert_int_equal(map.revision, 21);
    sb_route_map_destroy(&map);
}

static void hostile_values_are_refused(void **state)
{
    (void)state;
    sb_route_map_t map;
    char why[256];
    static const struct {
        const char *key, *json;
    } bad[] = {
        {"shard.s2", "not json"},
        {"shard.s2", "[1, 2]"},
        {"shard.s2", "{\"epoch\": -1, \"primary\": \"b1\"}"},
        {"shard.s2", "{\"epoch\": 1, \"primary\": \"b/1\"}"},
        {"shard.s2", "{\"epoch\": 1, \"primary\": \"b1\", \"replicas\": [7]}"},
        {"shard.s2", "{\"epoch\": 1, \"primary\": \"b1\", \"replicas\": [\"b2\",\"b2\",\"b2\","
                     "\"b2\",\"b2\",\"b2\",\"b2\",\"b2\",\"b2\",\"b2\",\"b2\",\"b2\",\"b2\",\"b2\","
                     "\"b2\",\"b2\",\"b2\"]}"},
        {"member.b1", "{\"shard\": \"s2\", \"socket\": \"relative.sock\", \"role\": \"primary\"}"},
        {"member.b1", "{\"shard\": \"s2\", \"socket\": \"/a.sock\", \"role\": \"king\"}"},
        {"org.acme", "{\"shard\": 2}"},
        {"org.", "{\"shard\": \"s1\"}"},
        {"member.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "{}"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        two_shards(&map);
        assert_int_equal(sb_route_apply(&map, bad[i].key, bad[i].json, strlen(bad[i].json), false,
                                        30, why, sizeof(why)),
                         -EINVAL);
        assert_true(why[0] != '\0');
        sb_route_map_destroy(&map);
    }
    /* A socket path longer than a socket address holds. */
    two_shards(&map);
    char json[400];
    char path[200];
    memset(path, 'x', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    snprintf(json, sizeof(json), "{\"shard\": \"s2\", \"socket\": \"%s\", \"role\": \"replica\"}",
             path);
    assert_int_equal(
        sb_route_apply(&map, "member.b2", json, strlen(json), false, 31, why, sizeof(why)),
        -EINVAL);
    /* The bad value removed the member: reads go on over the others. */
    assert_null(sb_route_find_member(&map, "b2"));
    sb_route_ask_t ask = {.org = "acme"};
    for (int i = 0; i < 4; i++)
        assert_string_not_equal(pick(&map, &ask), "b2");
    sb_route_map_destroy(&map);
}

static void many_orgs_stay_sorted(void **state)
{
    (void)state;
    sb_route_map_t map;
    two_shards(&map);
    char key[32];
    for (int i = 999; i >= 0; i--) {
        snprintf(key, sizeof(key), "org.o%03d", i);
        put(&map, key, i % 2 ? "{\"shard\": \"s1\"}" : "{\"shard\": \"s2\"}", 100 + (uint64_t)i);
    }
    assert_int_equal(map.n_orgs, 1002);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "o%03d", i);
        const sb_route_org_t *o = sb_route_find_org(&map, key);
        assert_non_null(o);
        assert_string_equal(o->shard, i % 2 ? "s1" : "s2");
    }
    sb_route_map_destroy(&map);
}

static void write_flags_come_from_the_servers_table(void **state)
{
    (void)state;
    assert_true(sb_route_method_writes("user.upsert"));
    assert_true(sb_route_method_writes("org.create"));
    assert_true(sb_route_method_writes("member.add"));
    assert_false(sb_route_method_writes("user.get"));
    assert_false(sb_route_method_writes("softphone.check"));
    assert_false(sb_route_method_writes("server.info"));
    assert_false(sb_route_method_writes("no.such"));
    assert_false(sb_route_method_writes(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writes_go_to_the_orgs_primary),
        cmocka_unit_test(reads_take_turns_and_skip_fenced),
        cmocka_unit_test(requests_without_org),
        cmocka_unit_test(unknown_and_deleted),
        cmocka_unit_test(hostile_values_are_refused),
        cmocka_unit_test(many_orgs_stay_sorted),
        cmocka_unit_test(write_flags_come_from_the_servers_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
