/*
 * Assignment rules (rules.h): parsing, the checks that refuse a list that
 * cannot work, and matching a user.
 *
 * The checks reason on the set of values a rule's conditions accept on one
 * field. A condition accepts a finite set (equals, one_of) or every string
 * that starts with one of its prefixes (prefix). A user's fields are
 * independent, so a rule matches nobody exactly when, on some field, no
 * value passes all of its conditions there; and an earlier rule A takes
 * every user of a later rule B exactly when, on each field A names, every
 * value B accepts there passes A's conditions. Both questions have small
 * witnesses: when a string passes a set of conditions, so does one of the
 * values written in them (for prefixes: the longest prefix the string
 * starts with), so the checks only try the values the rules hold.
 */
#include "rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "utf8.h"

static const char *const field_names[SB_RULE_FIELDS] = {"profile", "department", "division",
                                                        "role"};
static const char *const op_names[SB_RULE_OPS] = {"equals", "one_of", "prefix"};

const char *sb_rule_field_name(sb_rule_field_t field)
{
    return field < SB_RULE_FIELDS ? field_names[field] : "?";
}

void sb_rules_free(sb_rules_t *rules)
{
    if (rules == NULL)
        return;
    for (size_t r = 0; rules->rules != NULL && r < rules->n; r++)
        for (size_t c = 0; c < rules->rules[r].n_conditions; c++) {
            sb_rule_condition_t *cond = &rules->rules[r].conditions[c];
            for (size_t v = 0; v < cond->n_values; v++)
                free(cond->values[v]);
            free(cond->values);
        }
    free(rules->rules);
    memset(rules, 0, sizeof(*rules));
}

/* ---- parsing ----------------------------------------------------------- */

/* Refuses with the rule's position (from 1) and name when known. */
__attribute__((format(printf, 4, 5))) static int refuse(sb_err_t *err, size_t index,
                                                        const char *name, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see error.c
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (name != NULL && name[0] != '\0')
        return sb_err_set(err, SB_E_RULES_INVALID, "Rule %zu ('%s'): %s", index + 1, name, why);
    return sb_err_set(err, SB_E_RULES_INVALID, "Rule %zu: %s", index + 1, why);
}

static int only_keys(const msgpack_object *map, const char *const *keys, size_t index,
                     const char *name, const char *what, sb_err_t *err)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        bool known = false;
        for (size_t j = 0; keys[j] != NULL && !known; j++)
            known = k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(keys[j]) &&
                    memcmp(k->via.str.ptr, keys[j], k->via.str.size) == 0;
        if (!known)
            return refuse(err, index, name, "%s has no key '%.*s'.", what,
                          k->type == MSGPACK_OBJECT_STR
                              ? (int)(k->via.str.size > 40 ? 40 : k->via.str.size)
                              : 1,
                          k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : "?");
    }
    return 0;
}

/* One of `names` (n of them) by its text; -1 when none. */
static int name_index(const msgpack_object *obj, const char *const *names, int n)
{
    char text[32];
    if (sb_obj_copy_str(obj, text, sizeof(text)) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(text, names[i]) == 0)
            return i;
    return -1;
}

/* A value a condition compares with: UTF-8 text, no control character, not empty. */
static int parse_value(const msgpack_object *obj, size_t index, const char *name, char **out,
                       sb_err_t *err)
{
    *out = NULL;
    size_t chars;
    if (obj->type != MSGPACK_OBJECT_STR || obj->via.str.size == 0 ||
        obj->via.str.size > SB_USER_ATTR_MAX)
        return refuse(err, index, name,
                      "a value is a string of 1 to %d bytes (a rule that should match every "
                      "user has no conditions).",
                      SB_USER_ATTR_MAX);
    for (uint32_t i = 0; i < obj->via.str.size; i++) {
        unsigned char c = (unsigned char)obj->via.str.ptr[i];
        if (c < 0x20 || c == 0x7f)
            return refuse(err, index, name, "a value has a control character (byte 0x%02x).",
                          (unsigned)c);
    }
    char *copy = strndup(obj->via.str.ptr, obj->via.str.size);
    if (copy == NULL)
        return sb_err_default(err, -ENOMEM);
    if (!sb_utf8_count(copy, &chars)) {
        free(copy);
        return refuse(err, index, name, "a value is not valid UTF-8.");
    }
    *out = copy;
    return 0;
}

static int parse_condition(const msgpack_object *obj, size_t index, const char *name,
                           sb_rule_condition_t *cond, sb_err_t *err)
{
    static const char *const keys[] = {"field", "op", "values", NULL};
    if (obj->type != MSGPACK_OBJECT_MAP)
        return refuse(err, index, name, "a condition is a map {field, op, values}.");
    int rc = only_keys(obj, keys, index, name, "a condition {field, op, values}", err);
    if (rc != 0)
        return rc;
    const msgpack_object *field = sb_obj_get(obj, "field");
    const msgpack_object *op = sb_obj_get(obj, "op");
    const msgpack_object *values = sb_obj_get(obj, "values");
    int f = field ? name_index(field, field_names, SB_RULE_FIELDS) : -1;
    int o = op ? name_index(op, op_names, SB_RULE_OPS) : -1;
    if (f < 0)
        return refuse(err, index, name,
                      "a condition's field is profile, department, division or role.");
    if (o < 0)
        return refuse(err, index, name, "a condition's op is equals, one_of or prefix.");
    cond->field = (sb_rule_field_t)f;
    cond->op = (sb_rule_op_t)o;
    if (values == NULL || values->type != MSGPACK_OBJECT_ARRAY || values->via.array.size == 0 ||
        values->via.array.size > SB_RULE_VALUES_MAX)
        return refuse(err, index, name, "a condition's values are a list of 1 to %d strings.",
                      SB_RULE_VALUES_MAX);
    if (cond->op == SB_RULE_OP_EQUALS && values->via.array.size != 1)
        return refuse(err, index, name,
                      "equals takes one value; one_of takes several (this one has %u).",
                      (unsigned)values->via.array.size);
    cond->values = calloc(values->via.array.size, sizeof(*cond->values));
    if (cond->values == NULL)
        return sb_err_default(err, -ENOMEM);
    for (uint32_t i = 0; i < values->via.array.size; i++) {
        rc = parse_value(&values->via.array.ptr[i], index, name, &cond->values[i], err);
        if (rc != 0)
            return rc;
        cond->n_values++;
    }
    return 0;
}

static int parse_rule(const msgpack_object *obj, size_t index, bool stored, sb_rule_t *rule,
                      sb_err_t *err)
{
    static const char *const keys[] = {"name", "when", "callcenter", "exclusive", NULL};
    static const char *const stored_keys[] = {"name",      "when",          "callcenter",
                                              "exclusive", "callcenter_id", NULL};
    if (obj->type != MSGPACK_OBJECT_MAP)
        return refuse(err, index, NULL, "a rule is a map {name, when, callcenter, exclusive}.");
    const msgpack_object *name = sb_obj_get(obj, "name");
    if (name == NULL || sb_obj_copy_str(name, rule->name, sizeof(rule->name)) != 0 ||
        rule->name[0] == '\0')
        return refuse(err, index, NULL, "a rule needs a name of 1 to %d bytes.", SB_RULE_NAME_MAX);
    for (const char *p = rule->name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return refuse(err, index, NULL, "a rule's name has a control character.");
    int rc = only_keys(obj, stored ? stored_keys : keys, index, rule->name,
                       "a rule {name, when, callcenter, exclusive}", err);
    if (rc != 0)
        return rc;
    const msgpack_object *target = sb_obj_get(obj, "callcenter");
    if (target == NULL || sb_obj_copy_str(target, rule->target, sizeof(rule->target)) != 0 ||
        rule->target[0] == '\0')
        return refuse(err, index, rule->name,
                      "a rule needs a callcenter: an internal name, an id, or \"none\".");
    const msgpack_object *exclusive = sb_obj_get(obj, "exclusive");
    if (exclusive != NULL && exclusive->type != MSGPACK_OBJECT_BOOLEAN)
        return refuse(err, index, rule->name, "exclusive is true or false.");
    rule->exclusive = exclusive != NULL && exclusive->via.boolean;
    const msgpack_object *id = stored ? sb_obj_get(obj, "callcenter_id") : NULL;
    if (id != NULL && sb_obj_copy_str(id, rule->target_id.s, sizeof(rule->target_id.s)) != 0)
        return refuse(err, index, rule->name, "a stored Call Center id is unreadable.");
    const msgpack_object *when = sb_obj_get(obj, "when");
    if (when == NULL)
        return 0; /* no conditions: every user */
    if (when->type != MSGPACK_OBJECT_ARRAY || when->via.array.size > SB_RULE_CONDITIONS_MAX)
        return refuse(err, index, rule->name, "when is a list of at most %d conditions.",
                      SB_RULE_CONDITIONS_MAX);
    for (uint32_t i = 0; i < when->via.array.size; i++) {
        /* Counted before parsing, so that a refused condition's values are freed. */
        rule->n_conditions++;
        rc = parse_condition(&when->via.array.ptr[i], index, rule->name, &rule->conditions[i], err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int sb_rules_parse(const msgpack_object *list, bool stored, sb_rules_t *out, sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY)
        return sb_err_set(err, SB_E_RULES_INVALID,
                          "The rules are a list [{name, when, callcenter, exclusive}]; "
                          "docs/multi-callcenter.md shows one.");
    if (list->via.array.size > SB_RULES_MAX)
        return sb_err_set(err, SB_E_RULES_INVALID,
                          "An org has at most %d rules; this list has %u. Merge rules with one_of "
                          "or prefix.",
                          SB_RULES_MAX, (unsigned)list->via.array.size);
    int rc = 0;
    if (list->via.array.size > 0 &&
        (out->rules = calloc(list->via.array.size, sizeof(*out->rules))) == NULL)
        rc = sb_err_default(err, -ENOMEM);
    size_t values = 0;
    for (uint32_t i = 0; rc == 0 && i < list->via.array.size; i++) {
        out->n++;
        rc = parse_rule(&list->via.array.ptr[i], i, stored, &out->rules[i], err);
        for (size_t c = 0; rc == 0 && c < out->rules[i].n_conditions; c++)
            values += out->rules[i].conditions[c].n_values;
        /* The checks compare values pairwise: their total bounds that work. */
        if (rc == 0 && values > SB_RULES_VALUES_MAX)
            rc = sb_err_set(err, SB_E_RULES_INVALID,
                            "The rules hold more than %d values in all; merge rules with prefix.",
                            SB_RULES_VALUES_MAX);
    }
    if (rc != 0)
        sb_rules_free(out);
    return rc;
}

/* ---- matching ---------------------------------------------------------- */

static const char *user_field(const sb_user_t *user, sb_rule_field_t field)
{
    switch (field) {
    case SB_RULE_FIELD_PROFILE:
        return user->profile;
    case SB_RULE_FIELD_DEPARTMENT:
        return user->department;
    case SB_RULE_FIELD_DIVISION:
        return user->division;
    case SB_RULE_FIELD_ROLE:
        return user->role;
    default:
        return "";
    }
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Whether `value` passes `cond`. */
static bool passes(const sb_rule_condition_t *cond, const char *value)
{
    for (size_t v = 0; v < cond->n_values; v++)
        if (cond->op == SB_RULE_OP_PREFIX ? starts_with(value, cond->values[v])
                                          : strcmp(value, cond->values[v]) == 0)
            return true;
    return false;
}

static bool rule_matches(const sb_rule_t *rule, const sb_user_t *user)
{
    for (size_t c = 0; c < rule->n_conditions; c++)
        if (!passes(&rule->conditions[c], user_field(user, rule->conditions[c].field)))
            return false;
    return true;
}

void sb_rules_match(const sb_rules_t *rules, const sb_user_t *user, sb_rules_match_t *out)
{
    out->rule = SB_RULE_NO_MATCH;
    out->conflict = false;
    out->exclusive[0] = out->exclusive[1] = SB_RULE_NO_MATCH;
    size_t n_exclusive = 0;
    for (size_t r = 0; r < rules->n; r++) {
        const sb_rule_t *rule = &rules->rules[r];
        /* Past the first match only the exclusive rules still matter. */
        if (out->rule != SB_RULE_NO_MATCH && !rule->exclusive)
            continue;
        if (!rule_matches(rule, user))
            continue;
        if (out->rule == SB_RULE_NO_MATCH)
            out->rule = r;
        if (rule->exclusive) {
            out->exclusive[n_exclusive++] = r;
            if (n_exclusive == 2) {
                out->conflict = true;
                return;
            }
        }
    }
}

/* ---- checks ------------------------------------------------------------ */

/* Whether `value` passes every condition of `rule` on `field`. */
static bool passes_field(const sb_rule_t *rule, sb_rule_field_t field, const char *value)
{
    for (size_t c = 0; c < rule->n_conditions; c++)
        if (rule->conditions[c].field == field && !passes(&rule->conditions[c], value))
            return false;
    return true;
}

/* Whether `rule` names `field` in a finite condition (equals, one_of). */
static bool finite_on(const sb_rule_t *rule, sb_rule_field_t field)
{
    for (size_t c = 0; c < rule->n_conditions; c++)
        if (rule->conditions[c].field == field && rule->conditions[c].op != SB_RULE_OP_PREFIX)
            return true;
    return false;
}

/* Whether some value passes every condition of `rule` on `field`: one of
 * the values written in them does when any does (see the top). */
static bool field_satisfiable(const sb_rule_t *rule, sb_rule_field_t field)
{
    bool named = false;
    for (size_t c = 0; c < rule->n_conditions; c++) {
        const sb_rule_condition_t *cond = &rule->conditions[c];
        if (cond->field != field)
            continue;
        named = true;
        for (size_t v = 0; v < cond->n_values; v++)
            if (passes_field(rule, field, cond->values[v]))
                return true;
    }
    return !named;
}

/*
 * Whether every value `later` accepts on `field` passes condition `cond` of
 * the earlier rule. `later` accepts: when it has a finite condition there,
 * the witnesses that pass all its conditions (a finite set); otherwise (only
 * prefixes, or none) every string starting with one of its witnesses, or
 * every string at all.
 */
static bool field_within(const sb_rule_t *later, const sb_rule_condition_t *cond)
{
    sb_rule_field_t field = cond->field;
    bool finite = finite_on(later, field), named = false;
    for (size_t c = 0; c < later->n_conditions; c++) {
        const sb_rule_condition_t *mine = &later->conditions[c];
        if (mine->field != field)
            continue;
        named = true;
        for (size_t v = 0; v < mine->n_values; v++) {
            const char *w = mine->values[v];
            if (!passes_field(later, field, w))
                continue; /* not a value `later` accepts */
            if (finite) {
                if (!passes(cond, w))
                    return false;
            } else {
                /* Every string starting with w: within `cond` only when it
                 * is a prefix condition with a value that w starts with. */
                bool covered = false;
                for (size_t k = 0; cond->op == SB_RULE_OP_PREFIX && k < cond->n_values; k++)
                    covered |= starts_with(w, cond->values[k]);
                if (!covered)
                    return false;
            }
        }
    }
    return named; /* no condition there: `later` accepts any value, `cond` does not */
}

/* Whether `earlier` matches every user `later` matches (later is satisfiable). */
static bool shadows(const sb_rule_t *earlier, const sb_rule_t *later)
{
    for (size_t c = 0; c < earlier->n_conditions; c++)
        if (!field_within(later, &earlier->conditions[c]))
            return false;
    return true;
}

int sb_rules_check(const sb_rules_t *rules, sb_err_t *err)
{
    for (size_t r = 0; r < rules->n; r++) {
        const sb_rule_t *rule = &rules->rules[r];
        for (size_t e = 0; e < r; e++)
            if (strcmp(rules->rules[e].name, rule->name) == 0)
                return refuse(err, r, rule->name, "rule %zu has the same name; names are unique.",
                              e + 1);
        for (int f = 0; f < SB_RULE_FIELDS; f++)
            if (!field_satisfiable(rule, (sb_rule_field_t)f))
                return refuse(err, r, rule->name,
                              "it can never match: no %s passes all of its conditions on it.",
                              field_names[f]);
        for (size_t e = 0; e < r; e++)
            if (shadows(&rules->rules[e], rule))
                return refuse(err, r, rule->name,
                              "it can never decide: every user it matches, rule %zu ('%s') "
                              "matches first%s. Move it above that rule, or narrow that rule.",
                              e + 1, rules->rules[e].name,
                              rules->rules[e].exclusive && rule->exclusive
                                  ? " (both exclusive: every such user would be a conflict)"
                                  : "");
    }
    return 0;
}

/* ---- packing ----------------------------------------------------------- */

int sb_rules_pack(msgpack_packer *pk, const sb_rules_t *rules)
{
    int rc = msgpack_pack_array(pk, rules->n);
    for (size_t r = 0; r < rules->n; r++) {
        const sb_rule_t *rule = &rules->rules[r];
        rc |= msgpack_pack_map(pk, 5) | sb_pack_kv_str(pk, "name", rule->name) |
              sb_pack_kv_str(pk, "callcenter", rule->target) |
              sb_pack_kv_bool(pk, "exclusive", rule->exclusive) |
              sb_pack_kv_str(pk, "callcenter_id", rule->target_id.s); /* "" for none */
        rc |= sb_pack_str(pk, "when") | msgpack_pack_array(pk, rule->n_conditions);
        for (size_t c = 0; c < rule->n_conditions; c++) {
            const sb_rule_condition_t *cond = &rule->conditions[c];
            rc |= msgpack_pack_map(pk, 3) | sb_pack_kv_str(pk, "field", field_names[cond->field]) |
                  sb_pack_kv_str(pk, "op", op_names[cond->op]) | sb_pack_str(pk, "values") |
                  msgpack_pack_array(pk, cond->n_values);
            for (size_t v = 0; v < cond->n_values; v++)
                rc |= sb_pack_str(pk, cond->values[v]);
        }
    }
    return rc == 0 ? 0 : -ENOMEM;
}
