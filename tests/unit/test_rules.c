/*
 * Assignment rules: what the checks refuse, how a user is matched, and the
 * store's plan and apply against a plain model (randomized, its seed
 * printed: SB_TEST_SEED=N repeats a run), stale plans, org isolation, and the
 * user attributes the rules read.
 */
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pack.h"
#include "record_codec.h"
#include "rules.h"
#include "store_internal.h"

/* The lists below are written tersely: a rule left without `exclusive`, or a
 * condition with fewer values, means false and none. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- building lists ------------------------------------------------------ */

/* A rule as a test writes it: up to 2 conditions, each with up to 3 values. */
typedef struct test_cond {
    const char *field, *op;
    const char *values[3];
} test_cond_t;

typedef struct test_rule {
    const char *name;
    test_cond_t when[2];
    const char *callcenter;
    bool exclusive;
} test_rule_t;

static void pack_list(msgpack_sbuffer *buf, const test_rule_t *rules, size_t n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    for (size_t r = 0; r < n; r++) {
        size_t conds = 0;
        while (conds < 2 && rules[r].when[conds].field != NULL)
            conds++;
        msgpack_pack_map(&pk, 4);
        sb_pack_kv_str(&pk, "name", rules[r].name);
        sb_pack_kv_str(&pk, "callcenter", rules[r].callcenter);
        sb_pack_kv_bool(&pk, "exclusive", rules[r].exclusive);
        sb_pack_str(&pk, "when");
        msgpack_pack_array(&pk, conds);
        for (size_t c = 0; c < conds; c++) {
            const test_cond_t *cond = &rules[r].when[c];
            size_t values = 0;
            while (values < 3 && cond->values[values] != NULL)
                values++;
            msgpack_pack_map(&pk, 3);
            sb_pack_kv_str(&pk, "field", cond->field);
            sb_pack_kv_str(&pk, "op", cond->op);
            sb_pack_str(&pk, "values");
            msgpack_pack_array(&pk, values);
            for (size_t v = 0; v < values; v++)
                sb_pack_str(&pk, cond->values[v]);
        }
    }
}

/* Parses (and with `check`, checks) a list; returns the first refusal or 0. */
static int build(const test_rule_t *rules, size_t n, bool check, sb_rules_t *out, sb_err_t *err)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    pack_list(&buf, rules, n);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, buf.data, buf.size, NULL), MSGPACK_UNPACK_SUCCESS);
    int rc = sb_rules_parse(&u.data, false, out, err);
    if (rc == 0 && check && (rc = sb_rules_check(out, err)) != 0)
        sb_rules_free(out);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

/* A list refused, its sentence holding `why`. */
static void refused(const test_rule_t *rules, size_t n, const char *why)
{
    sb_rules_t list;
    sb_err_t err;
    assert_rc(build(rules, n, true, &list, &err), SB_E_RULES_INVALID, err);
    if (strstr(err.message, why) == NULL)
        fail_msg("'%s' not in \"%s\"", why, err.message);
}

static void accepted(const test_rule_t *rules, size_t n)
{
    sb_rules_t list;
    sb_err_t err;
    assert_rc(build(rules, n, true, &list, &err), 0, err);
    sb_rules_free(&list);
}

#define DEPT(op, ...)                                                                              \
    {                                                                                              \
        "department", op,                                                                          \
        {                                                                                          \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

static void shapes_refused(void **state)
{
    (void)state;
    refused((test_rule_t[]){{"a", {{"title", "equals", {"x"}}}, "S", false}}, 1,
            "field is profile, department, division or role");
    refused((test_rule_t[]){{"a", {{"role", "like", {"x"}}}, "S", false}}, 1,
            "op is equals, one_of or prefix");
    refused((test_rule_t[]){{"a", {DEPT("equals", "x", "y")}, "S", false}}, 1,
            "equals takes one value");
    refused((test_rule_t[]){{"a", {DEPT("prefix", "")}, "S", false}}, 1, "1 to 255 bytes");
    refused((test_rule_t[]){{"a", {DEPT("one_of", "a\tb")}, "S", false}}, 1, "control character");
    refused((test_rule_t[]){{"", {{0}}, "S", false}}, 1, "needs a name");
    refused((test_rule_t[]){{"a", {{0}}, "", false}}, 1, "needs a callcenter");
    refused((test_rule_t[]){{"a", {DEPT("equals", "x")}, "S", false},
                            {"a", {DEPT("equals", "y")}, "S", false}},
            2, "names are unique");
    /* More rules than an org keeps. */
    test_rule_t many[SB_RULES_MAX + 1];
    char names[SB_RULES_MAX + 1][24];
    for (size_t i = 0; i <= SB_RULES_MAX; i++) {
        snprintf(names[i], sizeof(names[i]), "r%u", (unsigned)i);
        many[i] = (test_rule_t){names[i], {DEPT("equals", names[i])}, "S", false};
    }
    refused(many, SB_RULES_MAX + 1, "at most 100 rules");
    accepted(many, SB_RULES_MAX);
}

static void never_matching_refused(void **state)
{
    (void)state;
    refused((test_rule_t[]){{"a", {DEPT("equals", "Sales"), DEPT("equals", "Service")}, "S"}}, 1,
            "can never match");
    refused((test_rule_t[]){{"a", {DEPT("equals", "Sales"), DEPT("prefix", "Serv")}, "S"}}, 1,
            "can never match");
    refused((test_rule_t[]){{"a", {DEPT("prefix", "Sa"), DEPT("prefix", "Se")}, "S"}}, 1,
            "can never match");
    accepted((test_rule_t[]){{"a", {DEPT("prefix", "S"), DEPT("prefix", "Sal")}, "S"}}, 1);
    accepted((test_rule_t[]){{"a", {DEPT("one_of", "a", "b"), DEPT("equals", "b")}, "S"}}, 1);
    accepted((test_rule_t[]){{"a", {DEPT("equals", "Sales"), {"role", "equals", {"Rep"}}}, "S"}},
             1);
}

static void shadowed_refused(void **state)
{
    (void)state;
    /* A rule without conditions takes every user: nothing may follow it. */
    refused((test_rule_t[]){{"all", {{0}}, "S"}, {"b", {DEPT("equals", "x")}, "S"}}, 2,
            "rule 1 ('all') matches first");
    refused((test_rule_t[]){{"a", {DEPT("prefix", "Sal")}, "S"},
                            {"b", {DEPT("equals", "Sales"), {"role", "equals", {"Rep"}}}, "T"}},
            2, "rule 1 ('a') matches first");
    refused((test_rule_t[]){{"a", {DEPT("prefix", "S")}, "S"}, {"b", {DEPT("prefix", "Sa")}, "T"}},
            2, "matches first");
    refused(
        (test_rule_t[]){{"a", {DEPT("one_of", "x", "y")}, "S"}, {"b", {DEPT("equals", "y")}, "T"}},
        2, "matches first");
    refused((test_rule_t[]){{"a", {DEPT("equals", "x")}, "S", true},
                            {"b", {DEPT("equals", "x")}, "T", true}},
            2, "both exclusive");
    /* Narrower first, wider after: both decide for someone. */
    accepted(
        (test_rule_t[]){{"a", {DEPT("equals", "Sales")}, "S"}, {"b", {DEPT("prefix", "Sal")}, "T"}},
        2);
    accepted((test_rule_t[]){{"a", {DEPT("prefix", "Sa")}, "S"}, {"b", {DEPT("prefix", "S")}, "T"}},
             2);
    /* Conditions on other fields, or more of them on the earlier rule. */
    accepted(
        (test_rule_t[]){{"a", {DEPT("equals", "x")}, "S"}, {"b", {{"role", "equals", {"x"}}}, "T"}},
        2);
    accepted((test_rule_t[]){{"a", {DEPT("equals", "x"), {"role", "equals", {"r"}}}, "S"},
                             {"b", {DEPT("equals", "x")}, "T"}},
             2);
    /* A prefix is never within a finite set. */
    accepted(
        (test_rule_t[]){{"a", {DEPT("one_of", "S", "Sa")}, "S"}, {"b", {DEPT("prefix", "S")}, "T"}},
        2);
}

static void matching(void **state)
{
    (void)state;
    sb_rules_t list;
    sb_err_t err;
    assert_rc(build((test_rule_t[]){{"sales", {DEPT("prefix", "Sales")}, "S", true},
                                    {"emea", {{"division", "equals", {"EMEA"}}}, "E", false},
                                    {"reps", {{"role", "one_of", {"Rep", "Lead"}}}, "R", true},
                                    {"rest", {{0}}, "none", false}},
                    4, true, &list, &err),
              0, err);
    sb_user_t user = {.department = "Sales EU", .division = "EMEA"};
    sb_rules_match_t m;
    sb_rules_match(&list, &user, &m);
    assert_int_equal(m.rule, 0);
    assert_false(m.conflict);
    /* Two exclusive rules: a conflict, even with a rule between them. */
    snprintf(user.role, sizeof(user.role), "Lead");
    sb_rules_match(&list, &user, &m);
    assert_true(m.conflict);
    assert_int_equal(m.exclusive[0], 0);
    assert_int_equal(m.exclusive[1], 2);
    /* A non-exclusive rule first, then one exclusive: the first decides. */
    snprintf(user.department, sizeof(user.department), "Service");
    sb_rules_match(&list, &user, &m);
    assert_false(m.conflict);
    assert_int_equal(m.rule, 1);
    /* Case counts. */
    sb_user_t other = {.department = "sales"};
    sb_rules_match(&list, &other, &m);
    assert_int_equal(m.rule, 3);
    sb_rules_free(&list);
}

/* A user record written before the attributes existed decodes with them
 * empty; one without attributes is written as it was. */
static void user_attributes_optional(void **state)
{
    (void)state;
    msgpack_sbuffer old;
    msgpack_sbuffer_init(&old);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &old, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    sb_pack_kv_str(&pk, "id", "005000000000001AAA");
    sb_pack_kv_str(&pk, "name", "Ada");
    sb_pack_kv_str(&pk, "profile", "Agent");
    sb_user_t user;
    memset(&user, 'x', sizeof(user));
    assert_int_equal(sb_codec_decode_user(old.data, old.size, &user), 0);
    assert_string_equal(user.department, "");
    assert_string_equal(user.role, "");
    msgpack_sbuffer now;
    msgpack_sbuffer_init(&now);
    assert_int_equal(sb_codec_encode_user(&user, &now), 0);
    assert_int_equal(now.size, old.size);
    assert_memory_equal(now.data, old.data, old.size);
    snprintf(user.division, sizeof(user.division), "EMEA");
    msgpack_sbuffer_clear(&now);
    assert_int_equal(sb_codec_encode_user(&user, &now), 0);
    sb_user_t back;
    assert_int_equal(sb_codec_decode_user(now.data, now.size, &back), 0);
    assert_string_equal(back.division, "EMEA");
    assert_string_equal(back.department, "");
    msgpack_sbuffer_destroy(&old);
    msgpack_sbuffer_destroy(&now);
}

/* ---- the store: plan and apply against a model -------------------------------- */

typedef struct rules_fixture {
    sb_test_fixture_t base;
    sb_sfid_t cc[3];
} rules_fixture_t;

static const char *const cc_names[3] = {"Sales", "Service", "BackOffice"};

static int setup(void **state)
{
    sb_test_store_setup(state);
    rules_fixture_t *fx = realloc(*state, sizeof(*fx));
    for (int i = 0; i < 3; i++)
        fx->cc[i] = sb_test_cc(fx->base.store, "acme", cc_names[i]);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    return sb_test_store_teardown(state);
}

/* Small pools, so that random rules and users meet. */
static const char *const pool[SB_RULE_FIELDS][4] = {
    {"Agent", "Supervisor", "Admin", ""},
    {"Sales", "Sales EU", "Service", ""},
    {"EMEA", "AMER", "APAC", ""},
    {"Rep", "Lead", "Service Rep", ""},
};
static const char *const prefixes[] = {"S", "Sa", "Se", "A", "E", "L", "Sales", "Serv"};
static const char *const fields[] = {"profile", "department", "division", "role"};

static const char *pick(const char *const *from, size_t n)
{
    return from[(size_t)rand() % n];
}

/* A random list of 1 to 6 rules that passes the checks (tries until one does). */
static void random_rules(sb_rules_t *out)
{
    static char names[6][24];
    for (int attempt = 0;; attempt++) {
        test_rule_t rules[6];
        size_t n = 1 + (size_t)rand() % 6;
        memset(rules, 0, sizeof(rules));
        for (size_t r = 0; r < n; r++) {
            snprintf(names[r], sizeof(names[r]), "r%u", (unsigned)r + 1);
            rules[r].name = names[r];
            rules[r].callcenter = rand() % 5 == 0 ? "none" : cc_names[rand() % 3];
            rules[r].exclusive = rand() % 3 == 0;
            size_t conds = (size_t)rand() % 3;
            for (size_t c = 0; c < conds; c++) {
                int f = rand() % SB_RULE_FIELDS;
                int op = rand() % 3;
                test_cond_t *cond = &rules[r].when[c];
                cond->field = fields[f];
                cond->op = op == 0 ? "equals" : op == 1 ? "one_of" : "prefix";
                size_t values = op == 0 ? 1 : 1 + (size_t)rand() % 3;
                for (size_t v = 0; v < values; v++)
                    cond->values[v] = op == 2 ? pick(prefixes, 8) : pick(pool[f], 3);
            }
        }
        sb_err_t err;
        if (build(rules, n, true, out, &err) == 0)
            return;
        assert_true(attempt < 10000);
    }
}

/* The plain model: every rule tried, the exclusive ones counted. */
static const char *model_field(const sb_user_t *u, sb_rule_field_t f)
{
    return f == SB_RULE_FIELD_PROFILE      ? u->profile
           : f == SB_RULE_FIELD_DEPARTMENT ? u->department
           : f == SB_RULE_FIELD_DIVISION   ? u->division
                                           : u->role;
}

static bool model_matches(const sb_rule_t *rule, const sb_user_t *u)
{
    for (size_t c = 0; c < rule->n_conditions; c++) {
        const sb_rule_condition_t *cond = &rule->conditions[c];
        const char *value = model_field(u, cond->field);
        bool any = false;
        for (size_t v = 0; v < cond->n_values; v++) {
            size_t len = strlen(cond->values[v]);
            any |= cond->op == SB_RULE_OP_PREFIX
                       ? strlen(value) >= len && memcmp(value, cond->values[v], len) == 0
                       : strcmp(value, cond->values[v]) == 0;
        }
        if (!any)
            return false;
    }
    return true;
}

/* -1: conflict, -2: no rule, else the deciding rule. */
static int model_decide(const sb_rules_t *rules, const sb_user_t *u)
{
    int first = -2, exclusive = 0;
    for (size_t r = 0; r < rules->n; r++) {
        if (!model_matches(&rules->rules[r], u))
            continue;
        if (first == -2)
            first = (int)r;
        exclusive += rules->rules[r].exclusive;
    }
    return exclusive >= 2 ? -1 : first;
}

#define MODEL_USERS 150

static void random_users(sb_store_t *st, const char *org, sb_user_t *users, size_t n,
                         const sb_sfid_t *ccs)
{
    sb_err_t err;
    for (size_t i = 0; i < n; i++) {
        sb_user_t *u = &users[i];
        memset(u, 0, sizeof(*u));
        snprintf(u->id.s, sizeof(u->id.s), "005%012u", (unsigned)i + 1);
        snprintf(u->name, sizeof(u->name), "User %zu", i + 1);
        snprintf(u->profile, sizeof(u->profile), "%s", pick(pool[0], 4));
        snprintf(u->department, sizeof(u->department), "%s", pick(pool[1], 4));
        snprintf(u->division, sizeof(u->division), "%s", pick(pool[2], 4));
        snprintf(u->role, sizeof(u->role), "%s", pick(pool[3], 4));
    }
    assert_rc(sb_store_user_upsert_bulk(st, org, users, n, &err), 0, err);
    for (size_t i = 0; i < n; i++) {
        int where = rand() % 4; /* 3: no Call Center */
        if (where < 3)
            assert_rc(sb_store_member_add(st, org, ccs[where].s, users[i].id.s, true, NULL, &err),
                      0, err);
        /* The stored id is the normalized one, which the plan names. */
        sb_sfid_t id = users[i].id;
        assert_rc(sb_store_user_get(st, org, id.s, &users[i], &err), 0, err);
    }
}

static void current_cc(sb_store_t *st, const char *org, const sb_user_t *u, sb_sfid_t *cc)
{
    sb_err_t err;
    int rc = sb_store_member_lookup(st, org, u->id.s, cc, &err);
    if (rc == SB_E_NOT_A_MEMBER)
        memset(cc, 0, sizeof(*cc));
    else
        assert_rc(rc, 0, err);
}

static void plan_matches_model(void **state)
{
    rules_fixture_t *fx = *state;
    sb_store_t *st = fx->base.store;
    const char *seed_env = getenv("SB_TEST_SEED");
    unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10) : (unsigned)time(NULL);
    printf("plan_matches_model: seed %u (SB_TEST_SEED=%u repeats it)\n", seed, seed);
    srand(seed);
    sb_user_t *users = calloc(MODEL_USERS, sizeof(*users));
    random_users(st, "acme", users, MODEL_USERS, fx->cc);
    sb_err_t err;
    for (int round = 0; round < 25; round++) {
        sb_rules_t rules;
        random_rules(&rules);
        assert_rc(sb_store_rules_put(st, "acme", &rules, &err), 0, err);
        sb_rules_plan_t plan;
        assert_rc(sb_store_rules_plan(st, "acme", &plan, &err), 0, err);
        /* Every user where the model says, and each change the plan lists. */
        uint64_t adds = 0, moves = 0, removes = 0, unchanged = 0, unmatched = 0, conflicts = 0;
        size_t next_change = 0, next_conflict = 0;
        for (size_t i = 0; i < MODEL_USERS; i++) {
            const sb_user_t *u = &users[i];
            sb_sfid_t now;
            current_cc(st, "acme", u, &now);
            int d = model_decide(&rules, u);
            if (d == -1) {
                conflicts++;
                assert_true(next_conflict < plan.n_conflicts);
                assert_string_equal(plan.conflicts[next_conflict++].user.s, u->id.s);
                continue;
            }
            if (d == -2) {
                unmatched++;
                continue;
            }
            const char *to = rules.rules[d].target_id.s;
            if (strcmp(to, now.s) == 0) {
                unchanged++;
                continue;
            }
            assert_true(next_change < plan.n_changes);
            const sb_rules_change_t *c = &plan.changes[next_change++];
            assert_string_equal(c->user.s, u->id.s);
            assert_string_equal(c->to.s, to);
            assert_string_equal(c->from.s, now.s);
            assert_int_equal(c->rule, d);
            adds += now.s[0] == '\0';
            removes += now.s[0] != '\0' && to[0] == '\0';
            moves += now.s[0] != '\0' && to[0] != '\0';
        }
        assert_int_equal(next_change, plan.n_changes);
        assert_int_equal(next_conflict, plan.n_conflicts);
        assert_int_equal(plan.users, MODEL_USERS);
        assert_int_equal(plan.adds, adds);
        assert_int_equal(plan.moves, moves);
        assert_int_equal(plan.removes, removes);
        assert_int_equal(plan.unchanged, unchanged);
        assert_int_equal(plan.unmatched, unmatched);
        assert_int_equal(plan.n_conflicts, conflicts);
        /* A plan made stale by a write is refused, and changes nothing. */
        if (round % 3 == 0 && plan.n_changes > 0) {
            sb_user_t *u = &users[(size_t)rand() % MODEL_USERS];
            snprintf(u->name, sizeof(u->name), "Renamed %d", round);
            assert_rc(sb_store_user_upsert(st, "acme", u, &err), 0, err);
            sb_sfid_t before;
            current_cc(st, "acme", &users[0], &before);
            assert_rc(sb_store_rules_apply(st, "acme", &plan, &err), SB_E_PLAN_STALE, err);
            sb_sfid_t after;
            current_cc(st, "acme", &users[0], &after);
            assert_string_equal(before.s, after.s);
            sb_rules_plan_free(&plan);
            assert_rc(sb_store_rules_plan(st, "acme", &plan, &err), 0, err);
        }
        assert_rc(sb_store_rules_apply(st, "acme", &plan, &err), 0, err);
        /* Applied: everyone the rules decide for is where the model says. */
        for (size_t i = 0; i < MODEL_USERS; i++) {
            int d = model_decide(&rules, &users[i]);
            if (d < 0)
                continue;
            sb_sfid_t now;
            current_cc(st, "acme", &users[i], &now);
            assert_string_equal(now.s, rules.rules[d].target_id.s);
        }
        sb_rules_plan_t again;
        assert_rc(sb_store_rules_plan(st, "acme", &again, &err), 0, err);
        assert_int_equal(again.n_changes, 0);
        sb_rules_plan_free(&again);
        sb_rules_plan_free(&plan);
        sb_rules_free(&rules);
        /* Some users change between rounds. */
        for (int k = 0; k < 5; k++) {
            sb_user_t *u = &users[(size_t)rand() % MODEL_USERS];
            snprintf(u->department, sizeof(u->department), "%s", pick(pool[1], 4));
            assert_rc(sb_store_user_upsert(st, "acme", u, &err), 0, err);
        }
    }
    free(users);
}

/* A changed rule list makes a plan stale too; an apply of nothing works. */
static void stale_after_rules_put(void **state)
{
    rules_fixture_t *fx = *state;
    sb_store_t *st = fx->base.store;
    sb_err_t err;
    sb_test_user(st, "acme", 1);
    sb_rules_t rules;
    assert_rc(build((test_rule_t[]){{"all", {{0}}, "Sales"}}, 1, true, &rules, &err), 0, err);
    assert_rc(sb_store_rules_put(st, "acme", &rules, &err), 0, err);
    assert_int_equal(rules.version, 1);
    sb_rules_plan_t plan;
    assert_rc(sb_store_rules_plan(st, "acme", &plan, &err), 0, err);
    assert_int_equal(plan.adds, 1);
    assert_rc(sb_store_rules_put(st, "acme", &rules, &err), 0, err);
    assert_int_equal(rules.version, 2);
    assert_rc(sb_store_rules_apply(st, "acme", &plan, &err), SB_E_PLAN_STALE, err);
    sb_rules_plan_free(&plan);
    sb_rules_free(&rules);
    /* A rule's Call Center must exist in the org. */
    assert_rc(build((test_rule_t[]){{"x", {{0}}, "Nowhere"}}, 1, true, &rules, &err), 0, err);
    assert_rc(sb_store_rules_put(st, "acme", &rules, &err), SB_E_RULES_INVALID, err);
    assert_non_null(strstr(err.message, "Rule 1 ('x')"));
    sb_rules_free(&rules);
}

/* A write as the server makes it: in a batch, attributed to its org, so
 * that the org's change number moves (store/changes.c). */
static void write_as(sb_store_t *st, const char *org)
{
    sb_err_t err;
    assert_rc(sb_store_batch_begin(st, &err), 0, err);
    sb_store_who_t who = {"tk_test", org, "test"};
    sb_store_change_begin(st, &who);
}

static void written(sb_store_t *st)
{
    sb_err_t err;
    sb_store_change_end(st, 0);
    assert_rc(sb_store_batch_commit(st, &err), 0, err);
}

/* The pages of one plan come from one computation while the org does not
 * change: a user deleted behind the store's back (no change number moves)
 * still shows in the plan kept; any write of the org makes it anew; another
 * org's writes do not; a deleted and re-created org never gets the old plan. */
static void plan_pages_share_one_computation(void **state)
{
    rules_fixture_t *fx = *state;
    sb_store_t *st = fx->base.store;
    sb_err_t err;
    write_as(st, "acme");
    for (unsigned u = 1; u <= 3; u++)
        sb_test_user(st, "acme", u);
    written(st);
    sb_rules_t rules;
    assert_rc(build((test_rule_t[]){{"all", {{0}}, "Sales"}}, 1, true, &rules, &err), 0, err);
    write_as(st, "acme");
    assert_rc(sb_store_rules_put(st, "acme", &rules, &err), 0, err);
    written(st);
    sb_rules_plan_t plan;
    assert_rc(sb_store_rules_plan(st, "acme", &plan, &err), 0, err);
    assert_int_equal(plan.adds, 3);
    sb_rules_plan_free(&plan);
    /* Behind the store's back: user 3's record goes, nothing is logged. */
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
    sb_key_t key;
    assert_int_equal(sb__key(&key, "acme", "005000000000003AAA"), 0);
    assert_int_equal(mdb_del(txn, st->users, &(MDB_val){key.len, key.buf}, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    assert_rc(sb_store_rules_plan(st, "acme", &plan, &err), 0, err);
    assert_int_equal(plan.adds, 3); /* the plan kept */
    assert_int_equal(plan.rules.n, 1);
    assert_string_equal(plan.rules.rules[0].name, "all");
    sb_rules_plan_free(&plan);
    write_as(st, "globex"); /* another org's write */
    sb_test_cc(st, "globex", "GlobexSales");
    written(st);
    assert_rc(sb_store_rules_plan(st, "acme", &plan, &err), 0, err);
    assert_int_equal(plan.adds, 3);
    sb_rules_plan_free(&plan);
    write_as(st, "acme"); /* the org's own write: the plan is made anew */
    sb_test_user(st, "acme", 4);
    written(st);
    assert_rc(sb_store_rules_plan(st, "acme", &plan, &err), 0, err);
    assert_int_equal(plan.adds, 3); /* users 1, 2 and 4 */
    assert_int_equal(plan.users, 3);
    sb_rules_plan_free(&plan);
    write_as(st, "acme");
    assert_rc(sb_store_org_delete(st, "acme", true, &err), 0, err);
    written(st);
    write_as(st, "acme");
    assert_rc(sb_store_org_create(st, "acme", "Acme again", &err), 0, err);
    written(st);
    assert_rc(sb_store_rules_plan(st, "acme", &plan, &err), 0, err);
    assert_int_equal(plan.users, 0);
    assert_int_equal(plan.n_changes, 0);
    sb_rules_plan_free(&plan);
    sb_rules_free(&rules);
}

/* One org's rules and plans never see another's users, Call Centers or writes. */
static void orgs_isolated(void **state)
{
    rules_fixture_t *fx = *state;
    sb_store_t *st = fx->base.store;
    sb_err_t err;
    sb_sfid_t globex_cc = sb_test_cc(st, "globex", "GlobexSales");
    for (unsigned u = 1; u <= 3; u++) {
        sb_test_user(st, "acme", u);
        sb_test_user(st, "globex", u + 10);
    }
    sb_rules_t rules;
    /* acme cannot name globex's Call Center, by name or by id. */
    assert_rc(build((test_rule_t[]){{"x", {{0}}, "GlobexSales"}}, 1, true, &rules, &err), 0, err);
    assert_rc(sb_store_rules_put(st, "acme", &rules, &err), SB_E_RULES_INVALID, err);
    sb_rules_free(&rules);
    assert_rc(build((test_rule_t[]){{"x", {{0}}, globex_cc.s}}, 1, true, &rules, &err), 0, err);
    assert_rc(sb_store_rules_put(st, "acme", &rules, &err), SB_E_RULES_INVALID, err);
    sb_rules_free(&rules);
    assert_rc(build((test_rule_t[]){{"all", {{0}}, "Sales"}}, 1, true, &rules, &err), 0, err);
    assert_rc(sb_store_rules_put(st, "acme", &rules, &err), 0, err);
    sb_rules_free(&rules);
    sb_rules_t theirs;
    assert_rc(sb_store_rules_get(st, "globex", &theirs, &err), 0, err);
    assert_int_equal(theirs.n, 0);
    assert_int_equal(theirs.version, 0);
    sb_rules_plan_t plan;
    assert_rc(sb_store_rules_plan(st, "acme", &plan, &err), 0, err);
    assert_int_equal(plan.users, 3);
    assert_int_equal(plan.adds, 3);
    /* A write in globex leaves acme's plan good. */
    sb_test_user(st, "globex", 20);
    assert_rc(sb_store_member_add(st, "globex", globex_cc.s, "005000000000020", false, NULL, &err),
              0, err);
    assert_rc(sb_store_rules_apply(st, "acme", &plan, &err), 0, err);
    sb_rules_plan_free(&plan);
    assert_rc(sb_store_rules_plan(st, "globex", &plan, &err), 0, err);
    assert_int_equal(plan.users, 4);
    assert_int_equal(plan.unmatched, 4);
    assert_int_equal(plan.n_changes, 0);
    sb_rules_plan_free(&plan);
    /* Deleting the org deletes its rules. */
    assert_rc(sb_store_org_delete(st, "acme", true, &err), 0, err);
    assert_rc(sb_store_org_create(st, "acme", "Acme again", &err), 0, err);
    assert_rc(sb_store_rules_get(st, "acme", &rules, &err), 0, err);
    assert_int_equal(rules.version, 0);
    sb_rules_free(&rules);
}

/* With follow on, a written user goes where the rules decide, in the same
 * write; a conflict or no match leaves the user where they are. */
static void users_follow_the_rules_on_write(void **state)
{
    rules_fixture_t *fx = *state;
    sb_store_t *st = fx->base.store;
    sb_err_t err;
    sb_rules_t rules;
    assert_rc(build((test_rule_t[]){{"sales", {DEPT("equals", "Sales")}, "Sales", true},
                                    {"reps", {{"role", "equals", {"Rep"}}}, "Service", true},
                                    {"gone", {DEPT("equals", "Gone")}, "none"}},
                    3, true, &rules, &err),
              0, err);
    sb_user_t u = {.name = "Ada", .department = "Sales"};
    snprintf(u.id.s, sizeof(u.id.s), "005000000000001");
    /* Off: writing changes no membership. */
    assert_rc(sb_store_rules_put(st, "acme", &rules, &err), 0, err);
    assert_rc(sb_store_user_upsert(st, "acme", &u, &err), 0, err);
    sb_sfid_t cc;
    current_cc(st, "acme", &u, &cc);
    assert_string_equal(cc.s, "");
    rules.follow = true;
    assert_rc(sb_store_rules_put(st, "acme", &rules, &err), 0, err);
    sb_rules_t back;
    assert_rc(sb_store_rules_get(st, "acme", &back, &err), 0, err);
    assert_true(back.follow);
    sb_rules_free(&back);
    assert_rc(sb_store_user_upsert(st, "acme", &u, &err), 0, err);
    current_cc(st, "acme", &u, &cc);
    assert_string_equal(cc.s, fx->cc[0].s);
    /* A conflict (Sales and Rep, both exclusive) leaves the user in Sales. */
    snprintf(u.role, sizeof(u.role), "Rep");
    assert_rc(sb_store_user_upsert(st, "acme", &u, &err), 0, err);
    current_cc(st, "acme", &u, &cc);
    assert_string_equal(cc.s, fx->cc[0].s);
    /* A move, then out of every Call Center; in bulk too. */
    snprintf(u.department, sizeof(u.department), "Support");
    assert_rc(sb_store_user_upsert(st, "acme", &u, &err), 0, err);
    current_cc(st, "acme", &u, &cc);
    assert_string_equal(cc.s, fx->cc[1].s);
    snprintf(u.department, sizeof(u.department), "Gone");
    snprintf(u.role, sizeof(u.role), "Ex");
    sb_user_t two[2] = {u, {.name = "Bo", .department = "Sales"}};
    snprintf(two[1].id.s, sizeof(two[1].id.s), "005000000000002");
    assert_rc(sb_store_user_upsert_bulk(st, "acme", two, 2, &err), 0, err);
    current_cc(st, "acme", &two[0], &cc);
    assert_string_equal(cc.s, "");
    current_cc(st, "acme", &two[1], &cc);
    assert_string_equal(cc.s, fx->cc[0].s);
    /* A rule's Call Center is not deleted from under the rule, forced or not:
     * the delete names the rule, and nothing changes. */
    assert_rc(sb_store_cc_delete(st, "acme", fx->cc[0].s, true, &err), SB_E_RULES_INVALID, err);
    assert_non_null(strstr(err.message, "assignment rule 'sales'"));
    current_cc(st, "acme", &two[1], &cc);
    assert_string_equal(cc.s, fx->cc[0].s);
    sb_rules_plan_t plan;
    assert_rc(sb_store_rules_plan(st, "acme", &plan, &err), 0, err);
    sb_rules_plan_free(&plan);
    sb_rules_free(&rules);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shapes_refused),
        cmocka_unit_test(never_matching_refused),
        cmocka_unit_test(shadowed_refused),
        cmocka_unit_test(matching),
        cmocka_unit_test(user_attributes_optional),
        cmocka_unit_test_setup_teardown(plan_matches_model, setup, teardown),
        cmocka_unit_test_setup_teardown(stale_after_rules_put, setup, teardown),
        cmocka_unit_test_setup_teardown(plan_pages_share_one_computation, setup, teardown),
        cmocka_unit_test_setup_teardown(orgs_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(users_follow_the_rules_on_write, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
