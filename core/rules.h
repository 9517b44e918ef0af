#pragma once
/*
 * Assignment rules: which Call Center each user of an org belongs to, said
 * once for a population instead of user by user.
 *
 * An org has one ordered list. Each rule is a condition on a user's
 * attributes (profile, department, division, role: all the conditions must
 * hold) and a target: a Call Center, or none (the user belongs to no Call
 * Center). The first rule that matches a user decides, except that a user
 * matched by two rules marked exclusive is a conflict: neither decides, and
 * the plan reports it instead of choosing in silence.
 *
 * Shape (the wire's, and the stored one's, which adds the resolved ids):
 *
 *   [{name, when: [{field: profile | department | division | role,
 *                   op: equals | one_of | prefix, values: [text]}],
 *     callcenter: internal name | id | "none", exclusive: bool}]
 *
 * `equals` takes one value, `one_of` and `prefix` one or more; values are
 * compared byte for byte (case counts). A rule without conditions matches
 * every user. This file parses, checks and matches; the store keeps the list
 * (store/rules.c) and resolves the Call Centers.
 */

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callcenter.h"
#include "error.h"
#include "records.h"
#include "sfid.h"

#define SB_RULES_MAX 100          /* rules in an org's list */
#define SB_RULE_CONDITIONS_MAX 4  /* conditions of one rule */
#define SB_RULE_VALUES_MAX 32     /* values of one condition */
#define SB_RULE_NAME_MAX 64       /* bytes of a rule's name */
#define SB_RULES_VALUES_MAX 1000  /* values of all the conditions of a list: bounds the checks */
#define SB_RULE_NONE "none"       /* the target that takes users out of every Call Center */
#define SB_RULE_NO_MATCH SIZE_MAX /* sb_rules_match: no rule matched */

typedef enum sb_rule_field {
    SB_RULE_FIELD_PROFILE = 0,
    SB_RULE_FIELD_DEPARTMENT,
    SB_RULE_FIELD_DIVISION,
    SB_RULE_FIELD_ROLE,
    SB_RULE_FIELDS
} sb_rule_field_t;

typedef enum sb_rule_op {
    SB_RULE_OP_EQUALS = 0,
    SB_RULE_OP_ONE_OF,
    SB_RULE_OP_PREFIX,
    SB_RULE_OPS
} sb_rule_op_t;

typedef struct sb_rule_condition {
    sb_rule_field_t field;
    sb_rule_op_t op;
    char **values; /* [owned: freed with the rules] n_values NUL-terminated UTF-8 strings */
    size_t n_values;
} sb_rule_condition_t;

typedef struct sb_rule {
    char name[SB_RULE_NAME_MAX + 1];
    sb_rule_condition_t conditions[SB_RULE_CONDITIONS_MAX];
    size_t n_conditions;
    /* As given ("none", an internal name or an id); the store keeps the
     * Call Center's internal name here once resolved. */
    char target[SB_CC_INTERNAL_NAME_MAX + 1];
    sb_sfid_t target_id; /* resolved by the store; "" for none or before */
    bool exclusive;
} sb_rule_t;

/** An org's rules. */
typedef struct sb_rules {
    sb_rule_t *rules; /* [owned: free with sb_rules_free()] */
    size_t n;
    uint64_t version; /* 1 for the first list put, one more for each next; 0: none yet */
    bool follow; /* users follow the rules when they are written (rules.put's follow_on_write) */
    int64_t updated_ms;
} sb_rules_t;

/**
 * Parses a list of rules from `list` (an array as above). With `stored`,
 * also reads each rule's "callcenter_id" and the version (from the stored
 * map's caller, see store/rules.c). Checks the shape and the bounds only;
 * sb_rules_check judges the list. Returns 0, or SB_E_RULES_INVALID (or
 * -ENOMEM) with `err` naming the rule and what is wrong; *out is then empty.
 */
int sb_rules_parse(const msgpack_object *list, bool stored, sb_rules_t *out, sb_err_t *err);

/**
 * Refuses a list that cannot work as written: two rules of one name, a
 * rule that can never match (its conditions on one field exclude each
 * other), or a rule shadowed by an earlier one (every user it matches, an
 * earlier rule matches first). Returns 0 or SB_E_RULES_INVALID with `err`
 * naming the rules.
 */
int sb_rules_check(const sb_rules_t *rules, sb_err_t *err);

/** What the rules say of one user. */
typedef struct sb_rules_match {
    size_t rule;         /* the first rule that matches, or SB_RULE_NO_MATCH */
    bool conflict;       /* matched by two exclusive rules: `rule` does not decide */
    size_t exclusive[2]; /* when conflict: the first two exclusive rules that match */
} sb_rules_match_t;

/** Matches `user` against `rules`. */
void sb_rules_match(const sb_rules_t *rules, const sb_user_t *user, sb_rules_match_t *out);

/** Packs the rules, each with its "callcenter_id" ("" for none, or before the store resolved it).
 */
int sb_rules_pack(msgpack_packer *pk, const sb_rules_t *rules);

/** "profile", "department", ... */
const char *sb_rule_field_name(sb_rule_field_t field);

/** Frees what the rules hold; leaves *rules empty. sb_rules_free(NULL) does nothing. */
void sb_rules_free(sb_rules_t *rules);
