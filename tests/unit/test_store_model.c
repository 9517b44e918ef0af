/*
 * The store against a plain in-memory model: thousands of random operations
 * applied to both, with every answer and the full membership state compared
 * after each step (forward look-ups, the reverse index, member counts, and
 * the store-wide counts). SB_TEST_SEED and SB_MODEL_STEPS change the run;
 * a failure prints the seed and step to replay it.
 */
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ORGS = 3, NAMES = 6, USERS = 30 };

typedef struct model_org {
    bool exists;
    bool cc_exists[NAMES];
    sb_sfid_t cc_id[NAMES];
    bool user_exists[USERS];
    int member_of[USERS]; /* index into cc_id, or -1 */
} model_org_t;

typedef struct model {
    model_org_t org[ORGS];
    sb_sfid_t stale[64]; /* ids of deleted Call Centers, to aim at */
    size_t n_stale;
} model_t;

static uint64_t rng_state;
static unsigned long step_no;
static uint64_t seed;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("seed %llu step %lu: ", (unsigned long long)seed, step_no);                \
            fail_msg(__VA_ARGS__);                                                                 \
        }                                                                                          \
    } while (0)

#define EXPECT(rc, want, err)                                                                      \
    CHECK((rc) == (want), "%s:%d got %s \"%s\", want %s", __func__, __LINE__, sb_err_name(rc),     \
          (err).message, sb_err_name(want))

/* How many writes the run expected to succeed and to be refused: a run that
 * exercises only one side proves little, so both are checked at the end. */
static unsigned long writes_ok, writes_refused;

#define EXPECT_WRITE(rc, want, err)                                                                \
    do {                                                                                           \
        int want_ = (want);                                                                        \
        if (want_ == 0)                                                                            \
            writes_ok++;                                                                           \
        else                                                                                       \
            writes_refused++;                                                                      \
        EXPECT(rc, want_, err);                                                                    \
    } while (0)

static const char *org_name(int o)
{
    static const char *const names[ORGS] = {"o0", "o0x", "o1"}; /* o0 is a prefix of o0x */
    return names[o];
}

static const char *cc_name(int c)
{
    static const char *const names[NAMES] = {"Alpha", "Beta", "Gamma", "Delta", "Eps", "Zeta"};
    return names[c];
}

static void user_id(int u, char out[16])
{
    sb_test_user_id((unsigned)u + 1, out);
}

static int model_count(const model_org_t *org, int c)
{
    int n = 0;
    for (int u = 0; u < USERS; u++)
        n += org->member_of[u] == c;
    return n;
}

static void remember_stale(model_t *m, const sb_sfid_t *id)
{
    m->stale[m->n_stale++ % 64] = *id;
}

/* ---- operations ---------------------------------------------------------- */

static void op_org_create(sb_store_t *st, model_t *m)
{
    int o = (int)rnd(ORGS);
    sb_err_t err;
    int rc = sb_store_org_create(st, org_name(o), NULL, &err);
    EXPECT_WRITE(rc, m->org[o].exists ? -EEXIST : 0, err);
    if (rc == 0) {
        memset(&m->org[o], 0, sizeof(m->org[o]));
        m->org[o].exists = true;
        for (int u = 0; u < USERS; u++)
            m->org[o].member_of[u] = -1;
    }
}

static void op_org_delete(sb_store_t *st, model_t *m)
{
    int o = (int)rnd(ORGS);
    bool force = rnd(3) == 0;
    model_org_t *org = &m->org[o];
    bool has_cc = false;
    for (int c = 0; c < NAMES; c++)
        has_cc |= org->cc_exists[c];
    int want = !org->exists ? -ENOENT : (has_cc && !force) ? SB_E_ORG_NOT_EMPTY : 0;
    sb_err_t err;
    EXPECT_WRITE(sb_store_org_delete(st, org_name(o), force, &err), want, err);
    if (want == 0) {
        for (int c = 0; c < NAMES; c++)
            if (org->cc_exists[c])
                remember_stale(m, &org->cc_id[c]);
        memset(org, 0, sizeof(*org));
    }
}

static sb_callcenter_t *definition(const char *name)
{
    sb_cc_fields_t f = {.internal_name = name,
                        .display_name = name,
                        .adapter_url = "https://cti.example.com",
                        .softphone_height = 400};
    sb_callcenter_t *cc = NULL;
    CHECK(sb_callcenter_from_fields(&f, &cc, NULL) == 0, "definition %s", name);
    return cc;
}

static void op_cc_create(sb_store_t *st, model_t *m)
{
    int o = (int)rnd(ORGS), c = (int)rnd(NAMES);
    model_org_t *org = &m->org[o];
    sb_callcenter_t *def = definition(cc_name(c)), *out = NULL;
    sb_err_t err;
    int rc = sb_store_cc_create(st, org_name(o), def, &out, &err);
    EXPECT_WRITE(rc,
                 !org->exists        ? -ENOENT
                 : org->cc_exists[c] ? SB_E_INTERNAL_NAME_TAKEN
                                     : 0,
                 err);
    if (rc == 0) {
        org->cc_exists[c] = true;
        org->cc_id[c] = out->id;
    }
    sb_callcenter_free(def);
    sb_callcenter_free(out);
}

static void op_cc_clone(sb_store_t *st, model_t *m)
{
    int o = (int)rnd(ORGS), from = (int)rnd(NAMES), to = (int)rnd(NAMES);
    model_org_t *org = &m->org[o];
    if (!org->cc_exists[from])
        return;
    sb_callcenter_t *out = NULL;
    sb_err_t err;
    int rc = sb_store_cc_clone(st, org_name(o), org->cc_id[from].s, cc_name(to), NULL, &out, &err);
    EXPECT_WRITE(rc, org->cc_exists[to] ? SB_E_INTERNAL_NAME_TAKEN : 0, err);
    if (rc == 0) {
        org->cc_exists[to] = true;
        org->cc_id[to] = out->id;
    }
    sb_callcenter_free(out);
}

static void op_cc_delete(sb_store_t *st, model_t *m)
{
    int o = (int)rnd(ORGS), c = (int)rnd(NAMES);
    bool force = rnd(2) == 0;
    model_org_t *org = &m->org[o];
    sb_err_t err;
    if (!org->cc_exists[c]) {
        if (m->n_stale > 0) /* an id that existed once, maybe in another org */
            EXPECT_WRITE(
                sb_store_cc_delete(st, org_name(o),
                                   m->stale[rnd((uint32_t)(m->n_stale < 64 ? m->n_stale : 64))].s,
                                   force, &err),
                -ENOENT, err);
        return;
    }
    int members = model_count(org, c);
    int want = (members > 0 && !force) ? SB_E_CALLCENTER_HAS_MEMBERS : 0;
    EXPECT_WRITE(sb_store_cc_delete(st, org_name(o), org->cc_id[c].s, force, &err), want, err);
    if (want == 0) {
        for (int u = 0; u < USERS; u++)
            if (org->member_of[u] == c)
                org->member_of[u] = -1;
        org->cc_exists[c] = false;
        remember_stale(m, &org->cc_id[c]);
    }
}

static void op_cc_update(sb_store_t *st, model_t *m)
{
    int o = (int)rnd(ORGS), c = (int)rnd(NAMES);
    model_org_t *org = &m->org[o];
    if (!org->cc_exists[c])
        return;
    char height[16];
    unsigned h = 200 + rnd(2500);
    snprintf(height, sizeof(height), "%u", h);
    sb_cc_change_t change = {"reqGeneralInfo", "reqSoftphoneHeight", height};
    sb_err_t err;
    int want = (h >= 240 && h <= 2560) ? 0 : SB_E_OUT_OF_RANGE;
    EXPECT_WRITE(sb_store_cc_update(st, org_name(o), org->cc_id[c].s, &change, 1, NULL, NULL, &err),
                 want, err);
}

static void op_user_upsert(sb_store_t *st, model_t *m)
{
    int o = (int)rnd(ORGS);
    model_org_t *org = &m->org[o];
    int n = 1 + (int)rnd(5);
    bool poison = rnd(4) == 0;
    sb_user_t users[5];
    memset(users, 0, sizeof(users));
    int picked[5];
    for (int i = 0; i < n; i++) {
        picked[i] = (int)rnd(USERS);
        user_id(picked[i], users[i].id.s);
        strcpy(users[i].name, "Someone");
    }
    if (poison)
        users[rnd((uint32_t)n)].name[0] = '\0'; /* a missing name refuses the batch */
    sb_err_t err;
    int rc = n == 1 ? sb_store_user_upsert(st, org_name(o), &users[0], &err)
                    : sb_store_user_upsert_bulk(st, org_name(o), users, (size_t)n, &err);
    EXPECT_WRITE(rc, !org->exists ? -ENOENT : poison ? SB_E_MISSING_FIELD : 0, err);
    if (rc == 0)
        for (int i = 0; i < n; i++)
            org->user_exists[picked[i]] = true;
}

/* What adding user u to Call Center c does to `org`: the code, applied. */
static int model_add(model_org_t *org, int c, bool c_exists, int u, bool move)
{
    if (!c_exists)
        return -ENOENT;
    if (!org->user_exists[u])
        return -ENOENT;
    if (org->member_of[u] != -1 && org->member_of[u] != c && !move)
        return SB_E_ALREADY_MEMBER;
    org->member_of[u] = c;
    return 0;
}

static void op_member_add(sb_store_t *st, model_t *m)
{
    int o = (int)rnd(ORGS), c = (int)rnd(NAMES), u = (int)rnd(USERS);
    bool move = rnd(2) == 0;
    model_org_t *org = &m->org[o];
    char uid[16];
    user_id(u, uid);
    /* A Call Center that does not exist here: a stale id, or one of another org. */
    const char *cc = org->cc_exists[c] ? org->cc_id[c].s
                     : m->n_stale      ? m->stale[0].s
                                       : "04v00000000ZZZZ";
    sb_err_t err;
    model_org_t after = *org;
    int want = !org->exists ? -ENOENT : model_add(&after, c, org->cc_exists[c], u, move);
    EXPECT_WRITE(sb_store_member_add(st, org_name(o), cc, uid, move, NULL, &err), want, err);
    if (want == 0)
        *org = after;
}

static void op_member_bulk(sb_store_t *st, model_t *m)
{
    int o = (int)rnd(ORGS);
    model_org_t *org = &m->org[o];
    if (!org->exists)
        return;
    int n = 1 + (int)rnd(8);
    bool move = rnd(2) == 0;
    sb_member_assignment_t rows[8];
    char uids[8][16];
    model_org_t after = *org;
    int want = 0;
    for (int i = 0; i < n; i++) {
        int c = (int)rnd(NAMES), u = (int)rnd(USERS);
        user_id(u, uids[i]);
        rows[i].user = uids[i];
        rows[i].callcenter = org->cc_exists[c] ? org->cc_id[c].s : "04v00000000ZZZZ";
        if (want == 0)
            want = model_add(&after, c, org->cc_exists[c], u, move);
    }
    sb_err_t err;
    EXPECT_WRITE(sb_store_member_add_bulk(st, org_name(o), rows, (size_t)n, move, &err), want, err);
    if (want == 0)
        *org = after;
}

static void op_member_remove(sb_store_t *st, model_t *m)
{
    int o = (int)rnd(ORGS), c = (int)rnd(NAMES), u = (int)rnd(USERS);
    model_org_t *org = &m->org[o];
    if (!org->cc_exists[c] || !org->user_exists[u])
        return;
    char uid[16];
    user_id(u, uid);
    sb_err_t err;
    int want = org->member_of[u] == c ? 0 : SB_E_NOT_A_MEMBER;
    EXPECT_WRITE(sb_store_member_remove(st, org_name(o), org->cc_id[c].s, uid, &err), want, err);
    if (want == 0)
        org->member_of[u] = -1;
}

/* ---- comparison ------------------------------------------------------------ */

static void compare(sb_store_t *st, const model_t *m)
{
    sb_err_t err;
    uint64_t orgs = 0, ccs = 0, users = 0, members = 0;
    for (int o = 0; o < ORGS; o++) {
        const model_org_t *org = &m->org[o];
        if (!org->exists) {
            sb_org_t got;
            EXPECT(sb_store_org_get(st, org_name(o), &got, &err), -ENOENT, err);
            continue;
        }
        orgs++;
        for (int u = 0; u < USERS; u++) {
            char uid[16];
            user_id(u, uid);
            sb_sfid_t cc;
            int rc = sb_store_member_lookup(st, org_name(o), uid, &cc, &err);
            users += org->user_exists[u];
            if (!org->user_exists[u]) {
                EXPECT(rc, -ENOENT, err);
            } else if (org->member_of[u] < 0) {
                EXPECT(rc, SB_E_NOT_A_MEMBER, err);
            } else {
                EXPECT(rc, 0, err);
                CHECK(strcmp(cc.s, org->cc_id[org->member_of[u]].s) == 0, "user %s in %s, want %s",
                      uid, cc.s, org->cc_id[org->member_of[u]].s);
                members++;
            }
        }
        for (int c = 0; c < NAMES; c++) {
            if (!org->cc_exists[c])
                continue;
            ccs++;
            sb_sfid_t *rows;
            size_t n;
            bool more;
            uint64_t total;
            EXPECT(sb_store_member_list(st, org_name(o), org->cc_id[c].s, NULL, SB_STORE_PAGE_MAX,
                                        &rows, &n, &more, &total, &err),
                   0, err);
            CHECK(total == (uint64_t)model_count(org, c) && n == total,
                  "%s/%s has %llu members (listed %zu), want %d", org_name(o), cc_name(c),
                  (unsigned long long)total, n, model_count(org, c));
            for (size_t i = 0; i < n; i++) {
                int u = atoi(rows[i].s + 3) - 1; /* "005" + 12 digits + suffix */
                CHECK(u >= 0 && u < USERS && org->member_of[u] == c, "%s listed in %s", rows[i].s,
                      cc_name(c));
            }
            free(rows);
        }
    }
    sb_store_stats_t stats;
    EXPECT(sb_store_stats(st, &stats, &err), 0, err);
    CHECK(stats.orgs == orgs && stats.callcenters == ccs && stats.users == users &&
              stats.members == members,
          "stats %llu/%llu/%llu/%llu, model %llu/%llu/%llu/%llu", (unsigned long long)stats.orgs,
          (unsigned long long)stats.callcenters, (unsigned long long)stats.users,
          (unsigned long long)stats.members, (unsigned long long)orgs, (unsigned long long)ccs,
          (unsigned long long)users, (unsigned long long)members);
}

static void random_operations_agree_with_the_model(void **state)
{
    (void)state;
    const char *env_seed = getenv("SB_TEST_SEED");
    const char *env_steps = getenv("SB_MODEL_STEPS");
    seed = env_seed ? strtoull(env_seed, NULL, 10) : 20261123;
    unsigned long steps = env_steps ? strtoul(env_steps, NULL, 10) : 4000;
    rng_state = seed ? seed : 1;
    print_message("model run: seed %llu, %lu steps\n", (unsigned long long)seed, steps);

    char *dir = sb_test_tmpdir();
    sb_store_t *st = sb_test_open(dir);
    model_t *m = calloc(1, sizeof(*m));
    /* Weights: membership changes dominate, as in real use; org deletes are
     * rare enough that most steps act on populated orgs. */
    const struct {
        void (*op)(sb_store_t *, model_t *);
        unsigned weight;
    } ops[] = {
        {op_org_create, 2},  {op_org_delete, 1},    {op_cc_create, 4},   {op_cc_clone, 2},
        {op_cc_delete, 2},   {op_cc_update, 2},     {op_user_upsert, 6}, {op_member_add, 12},
        {op_member_bulk, 5}, {op_member_remove, 4},
    };
    unsigned total_weight = 0;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        total_weight += ops[i].weight;
    unsigned long outcomes = 0;
    for (step_no = 1; step_no <= steps; step_no++) {
        unsigned pick = rnd(total_weight);
        size_t i = 0;
        while (pick >= ops[i].weight)
            pick -= ops[i++].weight;
        ops[i].op(st, m);
        compare(st, m);
        outcomes++;
        if (step_no % 1000 == 0) {
            /* Now and then, the state must also survive a reopen. */
            sb_store_close(st);
            st = sb_test_open(dir);
            compare(st, m);
        }
    }
    assert_int_equal(outcomes, steps);
    print_message("writes: %lu expected to succeed, %lu expected to be refused\n", writes_ok,
                  writes_refused);
    /* Both sides must be well exercised for the comparison to mean much. */
    assert_true(writes_ok > steps / 4);
    assert_true(writes_refused > steps / 8);
    free(m);
    sb_store_close(st);
    sb_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_operations_agree_with_the_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
