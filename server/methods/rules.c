/*
 * rules.*: an org's assignment rules (core/rules.h), the plan that says what
 * they would change, and its apply.
 *
 * The slow parts run as prepare steps on the thread pool: checking a list
 * (pairwise over its rules), and a plan (one pass over the org's users).
 * The writer then only resolves the Call Centers of a put, or re-reads the
 * org's fingerprint and makes the plan's changes for an apply.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "renders.h"

static void rules_free(void *rules)
{
    sb_rules_free(rules);
    free(rules);
}

static void plan_free(void *plan)
{
    sb_rules_plan_free(plan);
    free(plan);
}

/* rules.put: parsed and checked on the pool. */
static int prepare_put(sb_call_t *call, sb_err_t *err)
{
    sb_rules_t *rules = calloc(1, sizeof(*rules));
    if (rules == NULL)
        return sb_err_default(err, -ENOMEM);
    int rc = sb_rules_parse(sb_arg_obj(call, "rules"), false, rules, err);
    if (rc == 0)
        rc = sb_rules_check(rules, err);
    if (rc == 0)
        rules->follow = sb_arg_bool(call, "follow_on_write", false);
    if (rc != 0) {
        rules_free(rules);
        return rc;
    }
    call->prep = rules;
    call->prep_free = rules_free;
    return 0;
}

static int pack_rules(msgpack_packer *pk, const sb_rules_t *rules)
{
    return msgpack_pack_map(pk, 4) | sb_pack_kv_uint(pk, "version", rules->version) |
           sb_pack_kv_int(pk, "updated", rules->updated_ms) |
           sb_pack_kv_bool(pk, "follow_on_write", rules->follow) | sb_pack_str(pk, "rules") |
           sb_rules_pack(pk, rules);
}

static int rules_put(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_rules_t *rules = call->prep;
    if (rules == NULL)
        return sb_err_default(err, -EINVAL);
    int rc = sb_store_rules_put(call->svc->store, call->org, rules, err);
    return rc == 0 ? pack_rules(pk, rules) : rc;
}

static int rules_get(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_rules_t rules;
    int rc = sb_store_rules_get(call->svc->store, call->org, &rules, err);
    if (rc == 0)
        rc = pack_rules(pk, &rules);
    sb_rules_free(&rules);
    return rc;
}

/* ---- the plan ------------------------------------------------------------- */

/* A plan and, for the page it answers, the names of the Call Centers its
 * changes leave (rules name those they go to). */
typedef struct plan_prep {
    sb_rules_plan_t plan;
    char (*from_names)[SB_CC_INTERNAL_NAME_MAX + 1]; /* one per change of the page [owned] */
    size_t first, n;                                 /* the page: changes[first, first + n) */
    size_t first_conflict, n_conflicts;
    bool more;
} plan_prep_t;

static void plan_prep_free(void *vprep)
{
    plan_prep_t *prep = vprep;
    sb_rules_plan_free(&prep->plan);
    free(prep->from_names);
    free(prep);
}

_Static_assert(offsetof(sb_rules_change_t, user) == 0 && offsetof(sb_rules_conflict_t, user) == 0,
               "first_after reads a row's user at its start");

/* The first index of `n` rows whose user sorts after `after` ("": 0). */
static size_t first_after(const void *rows, size_t n, size_t size, const char *after)
{
    size_t i = 0;
    while (after[0] && i < n &&
           strcmp(((const sb_sfid_t *)(const void *)((const char *)rows + i * size))->s, after) <=
               0)
        i++;
    return i;
}

static int prepare_plan(sb_call_t *call, sb_err_t *err)
{
    sb_sfid_t after = {{0}};
    const char *after_text = sb_arg_str(call, "after");
    int rc = after_text != NULL
                 ? sb_sfid_normalize(after_text, SB_SFID_PREFIX_USER, "user id", &after, err)
                 : 0;
    if (rc != 0)
        return rc;
    size_t limit = sb_arg_limit(call);
    plan_prep_t *prep = calloc(1, sizeof(*prep));
    if (prep == NULL)
        return sb_err_default(err, -ENOMEM);
    rc = sb_store_rules_plan(call->svc->store, call->org, &prep->plan, err);
    if (rc != 0) {
        free(prep);
        return rc;
    }
    /* sb_rules_change_t and sb_rules_conflict_t begin with the user's id. */
    const sb_rules_plan_t *plan = &prep->plan;
    prep->first = first_after(plan->changes, plan->n_changes, sizeof(*plan->changes), after.s);
    prep->n = plan->n_changes - prep->first < limit ? plan->n_changes - prep->first : limit;
    prep->first_conflict =
        first_after(plan->conflicts, plan->n_conflicts, sizeof(*plan->conflicts), after.s);
    prep->n_conflicts = plan->n_conflicts - prep->first_conflict < limit
                            ? plan->n_conflicts - prep->first_conflict
                            : limit;
    prep->more = prep->first + prep->n < plan->n_changes ||
                 prep->first_conflict + prep->n_conflicts < plan->n_conflicts;
    if (prep->n > 0 && (prep->from_names = calloc(prep->n, sizeof(*prep->from_names))) == NULL) {
        plan_prep_free(prep);
        return sb_err_default(err, -ENOMEM);
    }
    for (size_t i = 0; i < prep->n; i++) {
        const sb_rules_change_t *c = &plan->changes[prep->first + i];
        if (c->from.s[0] == '\0')
            continue;
        /* A rule's target, a name seen already on this page, or a look-up. */
        const char *name = NULL;
        for (size_t r = 0; r < plan->rules.n && name == NULL; r++)
            if (strcmp(plan->rules.rules[r].target_id.s, c->from.s) == 0)
                name = plan->rules.rules[r].target;
        for (size_t k = 0; k < i && name == NULL; k++)
            if (strcmp(plan->changes[prep->first + k].from.s, c->from.s) == 0)
                name = prep->from_names[k];
        sb_callcenter_t *cc = NULL;
        if (name == NULL && sb_store_cc_get(call->svc->store, call->org, c->from.s, &cc, NULL) == 0)
            name = sb_callcenter_internal_name(cc);
        snprintf(prep->from_names[i], sizeof(prep->from_names[i]), "%s", name ? name : c->from.s);
        sb_callcenter_free(cc);
    }
    call->prep = prep;
    call->prep_free = plan_prep_free;
    return 0;
}

static const char *const change_names[] = {"add", "move", "remove"};

static int rules_plan(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const plan_prep_t *prep = call->prep;
    if (prep == NULL)
        return sb_err_default(err, -EINVAL);
    const sb_rules_plan_t *plan = &prep->plan;
    const sb_rule_t *rules = plan->rules.rules;
    int rc = msgpack_pack_map(pk, 7) | sb_pack_kv_uint(pk, "rules_version", plan->rules.version) |
             sb_pack_kv_str(pk, "fingerprint", plan->fingerprint) | sb_pack_str(pk, "counts") |
             msgpack_pack_map(pk, 7) | sb_pack_kv_uint(pk, "users", plan->users) |
             sb_pack_kv_uint(pk, "add", plan->adds) | sb_pack_kv_uint(pk, "move", plan->moves) |
             sb_pack_kv_uint(pk, "remove", plan->removes) |
             sb_pack_kv_uint(pk, "unchanged", plan->unchanged) |
             sb_pack_kv_uint(pk, "conflicts", plan->n_conflicts) |
             sb_pack_kv_uint(pk, "unmatched", plan->unmatched);
    rc |= sb_pack_str(pk, "changes") | msgpack_pack_array(pk, prep->n);
    for (size_t i = 0; i < prep->n; i++) {
        const sb_rules_change_t *c = &plan->changes[prep->first + i];
        const sb_rule_t *rule = &rules[c->rule];
        rc |= msgpack_pack_map(pk, 5) | sb_pack_kv_str(pk, "user", c->user.s) |
              sb_pack_kv_str(pk, "change", change_names[c->kind]) |
              sb_pack_kv_str(pk, "from", prep->from_names[i]) |
              sb_pack_kv_str(pk, "to", c->kind == SB_RULES_REMOVE ? "" : rule->target) |
              sb_pack_kv_str(pk, "rule", rule->name);
    }
    rc |= sb_pack_str(pk, "conflicts") | msgpack_pack_array(pk, prep->n_conflicts);
    for (size_t i = 0; i < prep->n_conflicts; i++) {
        const sb_rules_conflict_t *c = &plan->conflicts[prep->first_conflict + i];
        rc |= msgpack_pack_map(pk, 2) | sb_pack_kv_str(pk, "user", c->user.s) |
              sb_pack_str(pk, "rules") | msgpack_pack_array(pk, 2) |
              sb_pack_str(pk, rules[c->rules[0]].name) | sb_pack_str(pk, rules[c->rules[1]].name);
    }
    size_t examples = plan->unmatched < SB_RULES_EXAMPLES ? plan->unmatched : SB_RULES_EXAMPLES;
    rc |= sb_pack_str(pk, "unmatched_examples") | msgpack_pack_array(pk, examples);
    for (size_t i = 0; i < examples; i++)
        rc |= sb_pack_str(pk, plan->unmatched_examples[i].s);
    return rc | sb_pack_kv_bool(pk, "more", prep->more);
}

/* ---- the apply ------------------------------------------------------------ */

/* rules.apply: the plan again, on the pool; refused at once when it is not
 * the one the caller read, and the Call Centers it fills rendered ahead. */
static int prepare_apply(sb_call_t *call, sb_err_t *err)
{
    const char *fingerprint = sb_arg_str(call, "fingerprint");
    sb_rules_plan_t *plan = calloc(1, sizeof(*plan));
    if (plan == NULL)
        return sb_err_default(err, -ENOMEM);
    int rc = sb_store_rules_plan(call->svc->store, call->org, plan, err);
    if (rc == 0 && (fingerprint == NULL || strcmp(fingerprint, plan->fingerprint) != 0))
        rc = sb_err_set(err, SB_E_PLAN_STALE,
                        "The org '%s' changed since this plan was made (its users, memberships "
                        "or rules), or the fingerprint is not a plan's; nothing was applied. Make "
                        "the plan again and read it.",
                        call->org);
    for (size_t r = 0; rc == 0 && call->svc->renders != NULL && r < plan->rules.n; r++) {
        const sb_rule_t *rule = &plan->rules.rules[r];
        sb_callcenter_t *cc = NULL;
        if (rule->target_id.s[0] != '\0' &&
            sb_store_cc_get(call->svc->store, call->org, rule->target_id.s, &cc, NULL) == 0)
            sb_softphone_prerender(call->svc->renders, call->org, cc);
        sb_callcenter_free(cc);
    }
    if (rc != 0) {
        plan_free(plan);
        return rc;
    }
    call->prep = plan;
    call->prep_free = plan_free;
    return 0;
}

static int rules_apply(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const sb_rules_plan_t *plan = call->prep;
    if (plan == NULL)
        return sb_err_default(err, -EINVAL);
    int rc = sb_store_rules_apply(call->svc->store, call->org, plan, err);
    if (rc != 0)
        return rc;
    return msgpack_pack_map(pk, 5) | sb_pack_kv_uint(pk, "applied", plan->n_changes) |
           sb_pack_kv_uint(pk, "add", plan->adds) | sb_pack_kv_uint(pk, "move", plan->moves) |
           sb_pack_kv_uint(pk, "remove", plan->removes) |
           sb_pack_kv_uint(pk, "conflicts", plan->n_conflicts);
}

#define RULES_SHAPE                                                                                \
    "[{name, when: [{field: profile | department | division | role, op: equals | one_of | "        \
    "prefix, values: [text]}], callcenter: internal name | id | none, exclusive: bool}]"

static const sb_method_t methods[] = {
    {"rules.put",
     "Replaces the org's assignment rules (first match wins; a user matched by two exclusive "
     "rules is a conflict); refuses a list that cannot work: an unknown Call Center, a rule that "
     "can never match, a rule shadowed by an earlier one.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     rules_put,
     {SB_ARG_ORG,
      {"rules", SB_ARG_ARRAY, true,
       "the rules, in order (docs/multi-callcenter.md), at most 100: " RULES_SHAPE},
      {"follow_on_write", SB_ARG_BOOLEAN, false,
       "users written from now on (user.upsert, user.upsert_bulk, user import) go where the "
       "rules decide, in the same write"}},
     "{version, updated, follow_on_write, rules}",
     "NOT_FOUND (the org) RULES_INVALID (naming the rule and why)"},
    {"rules.get",
     "The org's assignment rules and their version (0 and none before the first put).",
     SB_ROLE_READ_ONLY,
     false,
     true,
     rules_get,
     {SB_ARG_ORG},
     "{version, updated, follow_on_write, rules: [{name, callcenter, exclusive, callcenter_id, "
     "when}]}",
     "NOT_FOUND (the org)"},
    {"rules.plan",
     "What applying the org's rules would change (additions, moves, removals, each with the rule "
     "that decides), the conflicts, and a fingerprint of what it was computed from.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     rules_plan,
     {SB_ARG_ORG, SB_ARGS_PAGE("changes and conflicts of users")},
     "{rules_version, fingerprint, counts: {users, add, move, remove, unchanged, conflicts, "
     "unmatched}, changes: [{user, change: add | move | remove, from, to, rule}], conflicts: "
     "[{user, rules: [name, name]}], unmatched_examples: [user id], more}",
     "NOT_FOUND (the org) RULES_INVALID (a rule's Call Center was deleted) PLAN_TOO_LARGE "
     "(more than 200,000 users)"},
    {"rules.apply",
     "Applies the plan whose fingerprint is given, in one transaction: all of it, or nothing "
     "when the org's users, memberships or rules changed since (PLAN_STALE). Conflicted and "
     "unmatched users are left as they are.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     rules_apply,
     {SB_ARG_ORG, {"fingerprint", SB_ARG_STRING, true, "the fingerprint of the plan to apply"}},
     "{applied: count, add, move, remove, conflicts: left as they are}",
     "NOT_FOUND PLAN_STALE PLAN_TOO_LARGE (more than 100,000 changes) RULES_INVALID"},
};

const sb_method_slice_t sb__rules_methods = {methods, sizeof(methods) / sizeof(methods[0])};

static const sb_method_prep_t preps[] = {
    {"rules.put", prepare_put},
    {"rules.plan", prepare_plan},
    {"rules.apply", prepare_apply},
};

const sb_method_prep_slice_t sb__rules_preps = {preps, sizeof(preps) / sizeof(preps[0])};
