/*
 * org.doctor: what will break for an org's users, each finding with how to
 * fix it. It reads through the store's public functions and asks the plugin
 * host about adapters; it changes nothing.
 */
#include "doctor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

__attribute__((format(printf, 4, 5))) static int add(sb_doctor_report_t *r, const char *code,
                                                     const char *subject, const char *fmt, ...)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        sb_doctor_finding_t *grown = realloc(r->findings, cap * sizeof(*grown));
        if (grown == NULL)
            return -ENOMEM;
        r->findings = grown;
        r->cap = cap;
    }
    sb_doctor_finding_t *f = &r->findings[r->n++];
    snprintf(f->code, sizeof(f->code), "%s", code);
    snprintf(f->subject, sizeof(f->subject), "%s", subject);
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see error.c
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
    return 0;
}

void sb_doctor_report_free(sb_doctor_report_t *r)
{
    free(r->findings);
    memset(r, 0, sizeof(*r));
}

/* Profiles seen on users, with counts and examples of users without a Call Center. */
typedef struct profile_use {
    char name[SB_PROFILE_NAME_MAX + 1];
    size_t users, without_cc;
    char example[SB_SFID_LEN + 1];
} profile_use_t;

static profile_use_t *profile_of(profile_use_t **uses, size_t *n, size_t *cap, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*uses)[i].name, name) == 0)
            return &(*uses)[i];
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        profile_use_t *grown = realloc(*uses, c * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        *uses = grown;
        *cap = c;
    }
    profile_use_t *p = &(*uses)[(*n)++];
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    return p;
}

static const char *assigned_layout(const sb_layout_assignment_t *a, size_t n, const char *profile)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].profile, profile) == 0)
            return a[i].layout;
    return NULL;
}

static int by_name_nocase(const void *a, const void *b)
{
    int c = strcasecmp(*(const char *const *)a, *(const char *const *)b);
    return c != 0 ? c : strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Profiles are matched exactly (as Salesforce names them): a layout assigned
 * to 'agent' is not the layout of users of 'Agent'. Finds the profiles,
 * of users or of assignments, that differ only in case, once per group.
 */
static int check_profile_case(const profile_use_t *uses, size_t n_uses,
                              const sb_layout_assignment_t *assigned, size_t n_assigned,
                              sb_doctor_report_t *r)
{
    const char **names = malloc((n_uses + n_assigned + 1) * sizeof(*names));
    if (names == NULL)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < n_uses; i++)
        if (uses[i].name[0])
            names[n++] = uses[i].name;
    for (size_t i = 0; i < n_assigned; i++)
        if (assigned[i].profile[0])
            names[n++] = assigned[i].profile;
    qsort(names, n, sizeof(*names), by_name_nocase);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n;) {
        size_t j = i + 1, distinct = 1;
        char list[600] = "";
        size_t used = (size_t)snprintf(list, sizeof(list), "'%.100s'", names[i]);
        for (; j < n && strcasecmp(names[j], names[i]) == 0; j++) {
            if (strcmp(names[j], names[j - 1]) == 0)
                continue; /* the same name, from a user and an assignment */
            distinct++;
            if (used < sizeof(list))
                used +=
                    (size_t)snprintf(list + used, sizeof(list) - used, " and '%.100s'", names[j]);
        }
        if (distinct > 1) {
            char subject[300];
            snprintf(subject, sizeof(subject), "profile '%s'", names[i]);
            rc = add(r, "PROFILES_DIFFER_IN_CASE", subject,
                     "Profiles %s differ only in case; they are different profiles here (as in "
                     "Salesforce), so a layout assigned to one is not the other's: fix the users' "
                     "profile names (user upsert, user import) or assign each.",
                     list);
        }
        i = j;
    }
    free(names);
    return rc;
}

static int check_users(sb_store_t *store, const char *org, const sb_layout_assignment_t *assigned,
                       size_t n_assigned, sb_doctor_report_t *r, sb_err_t *err)
{
    profile_use_t *uses = NULL;
    size_t n_uses = 0, cap_uses = 0;
    char after[SB_SFID_LEN + 1] = "";
    bool more = true;
    int rc = 0;
    while (rc == 0 && more) {
        sb_user_t *rows;
        size_t n;
        rc = sb_store_user_list(store, org, after[0] ? after : NULL, SB_STORE_PAGE_MAX, &rows, &n,
                                &more, err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            profile_use_t *p = profile_of(&uses, &n_uses, &cap_uses, rows[i].profile);
            if (p == NULL) {
                rc = -ENOMEM;
                break;
            }
            p->users++;
            sb_sfid_t cc;
            int member = sb_store_member_lookup(store, org, rows[i].id.s, &cc, NULL);
            if (member == SB_E_NOT_A_MEMBER) {
                if (p->without_cc++ == 0)
                    memcpy(p->example, rows[i].id.s, sizeof(p->example));
            } else if (member != 0) {
                rc = sb_err_default(err, member);
            }
        }
        if (rc == 0 && n > 0)
            memcpy(after, rows[n - 1].id.s, sizeof(after));
        free(rows);
    }
    const char *default_layout = assigned_layout(assigned, n_assigned, "");
    /* A layout assigned to a profile no user has: a typo of a profile's name, or a leftover. */
    for (size_t j = 0; rc == 0 && j < n_assigned; j++) {
        const char *profile = assigned[j].profile;
        bool used = profile[0] == '\0';
        for (size_t i = 0; !used && i < n_uses; i++)
            used = strcmp(uses[i].name, profile) == 0;
        if (used)
            continue;
        char subject[300];
        snprintf(subject, sizeof(subject), "profile '%s'", profile);
        rc = add(r, "LAYOUT_PROFILE_WITHOUT_USERS", subject,
                 "Layout '%s' is assigned to profile '%s', which no user has, so nobody gets it "
                 "that way: check the profile's name (names match exactly, case included), or "
                 "remove the assignment (layout assign --profile '%s' --unassign).",
                 assigned[j].layout, profile, profile);
    }
    if (rc == 0)
        rc = check_profile_case(uses, n_uses, assigned, n_assigned, r);
    for (size_t i = 0; rc == 0 && i < n_uses; i++) {
        const profile_use_t *p = &uses[i];
        const char *own = p->name[0] ? assigned_layout(assigned, n_assigned, p->name) : NULL;
        char subject[300];
        snprintf(subject, sizeof(subject), "profile '%s'", p->name);
        if (own != NULL && p->without_cc > 0)
            rc = add(r, "USERS_WITHOUT_CALLCENTER", subject,
                     "%zu user(s) of profile '%s' (such as %s) have softphone layout '%s' but "
                     "belong to no Call Center, so they see no softphone: add them to one "
                     "(member add, or member import).",
                     p->without_cc, p->name, p->example, own);
        if (rc == 0 && own == NULL && default_layout == NULL)
            rc = add(r, "PROFILE_WITHOUT_LAYOUT", subject,
                     "%zu user(s) have profile '%s', which has no softphone layout, and the org "
                     "has no default: their softphones show no call information. Assign one "
                     "(layout assign --profile '%s' --layout NAME) or make one the default "
                     "(layout assign --layout NAME).",
                     p->users, p->name, p->name);
    }
    free(uses);
    return rc;
}

/* The members of Call Center `cc` without the Service Cloud Voice licence:
 * their count, and the first of them. */
static int unlicensed_members(sb_store_t *store, const char *org, const sb_sfid_t *cc,
                              size_t *count, char example[SB_SFID_LEN + 1], sb_err_t *err)
{
    *count = 0;
    example[0] = '\0';
    char after[SB_SFID_LEN + 1] = "";
    bool more = true;
    int rc = 0;
    while (rc == 0 && more) {
        sb_sfid_t *rows;
        size_t n;
        uint64_t total;
        rc = sb_store_member_list(store, org, cc->s, after[0] ? after : NULL, SB_STORE_PAGE_MAX,
                                  &rows, &n, &more, &total, err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            sb_user_t user;
            rc = sb_store_user_get(store, org, rows[i].s, &user, err);
            if (rc == 0 && !user.scv_licence && (*count)++ == 0)
                memcpy(example, rows[i].s, SB_SFID_LEN + 1);
        }
        if (rc == 0 && n > 0)
            memcpy(after, rows[n - 1].s, sizeof(after));
        free(rows);
    }
    return rc;
}

static int check_callcenters(sb_store_t *store, sb_plugin_host_t *plugins, const char *org,
                             sb_doctor_report_t *r, sb_err_t *err)
{
    char after[SB_SFID_LEN + 1] = "";
    bool more = true;
    int rc = 0;
    while (rc == 0 && more) {
        sb_cc_summary_t *rows;
        size_t n;
        rc = sb_store_cc_list(store, org, after[0] ? after : NULL, SB_STORE_PAGE_MAX, &rows, &n,
                              &more, err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            char subject[80];
            snprintf(subject, sizeof(subject), "Call Center '%s'", rows[i].internal_name);
            if (rows[i].members == 0)
                rc = add(r, "CALLCENTER_WITHOUT_MEMBERS", subject,
                         "Call Center '%s' has no members, so nobody takes its calls: add users "
                         "(member add --callcenter %s), or delete it if it is not used.",
                         rows[i].internal_name, rows[i].internal_name);
            sb_callcenter_t *cc = NULL;
            if (rc == 0)
                rc = sb_store_cc_get(store, org, rows[i].id.s, &cc, err);
            if (rc != 0)
                break;
            if (cc->adapter[0] != '\0' && plugins && !sb_plugin_host_has(plugins, cc->adapter)) {
                rc = add(r, "ADAPTER_NOT_LOADED", subject,
                         "Call Center '%s' uses adapter '%s', which is not loaded, so its members "
                         "see no softphone: put %s.so in the plugin directory and run plugin "
                         "reload (plugin list says why it was refused).",
                         rows[i].internal_name, cc->adapter, cc->adapter);
            } else if (cc->adapter[0] != '\0' && plugins) {
                sb_err_t why;
                sb_err_clear(&why);
                if (sb_plugin_host_validate(plugins, cc->adapter, cc, &why) != 0)
                    rc = add(r, "SETTINGS_REJECTED", subject,
                             "The adapter '%s' rejects Call Center '%s': %s Fix the settings "
                             "(callcenter update --set /SECTION/ITEM=VALUE).",
                             cc->adapter, rows[i].internal_name, why.message);
            }
            const char *url = sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_ADAPTER_URL);
            if (rc == 0 && sb_callcenter_compat_mode(cc) != SB_CC_COMPAT_CLASSIC && url && url[0] &&
                !sb_softphone_url_is_https(url))
                rc = add(r, "LIGHTNING_URL_NOT_HTTPS", subject,
                         "Call Center '%s' runs in Lightning, but its adapter URL '%.200s' is not "
                         "https, so Lightning shows no softphone: change "
                         "/reqGeneralInfo/reqAdapterUrl to an https URL.",
                         rows[i].internal_name, url);
            size_t unlicensed = 0;
            char example[SB_SFID_LEN + 1];
            if (rc == 0 && sb_callcenter_kind(cc) == SB_CC_KIND_SERVICE_CLOUD_VOICE &&
                rows[i].members > 0)
                rc = unlicensed_members(store, org, &rows[i].id, &unlicensed, example, err);
            if (rc == 0 && unlicensed > 0)
                rc = add(r, "MEMBERS_WITHOUT_SCV_LICENCE", subject,
                         "%zu member(s) of Call Center '%s' (such as %s) have no Service Cloud "
                         "Voice licence, so they see no softphone: assign them the \"Service "
                         "Cloud Voice\" permission set licence (licence assign, or licence "
                         "import).",
                         unlicensed, rows[i].internal_name, example);
            sb_callcenter_free(cc);
        }
        if (rc == 0 && n > 0)
            memcpy(after, rows[n - 1].id.s, sizeof(after));
        free(rows);
    }
    return rc;
}

static int check_layouts(sb_store_t *store, const char *org, sb_doctor_report_t *r, sb_err_t *err)
{
    sb_layout_summary_t *rows;
    size_t n;
    int rc = sb_store_layout_list(store, org, &rows, &n, err);
    sb_layout_t *layout = malloc(sizeof(*layout));
    if (rc == 0 && layout == NULL)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = sb_store_layout_get(store, org, rows[i].name, layout, err);
        char subject[120];
        snprintf(subject, sizeof(subject), "layout '%s'", rows[i].name);
        if (rc == 0 && !sb_layout_state_shows(layout, SB_STATE_RINGING, SB_FIELD_ANI))
            rc = add(r, "LAYOUT_HIDES_ANI", subject,
                     "Layout '%s' does not show the caller's number (ANI) while a call rings, so "
                     "agents answer blind: add ANI to /call_states/ringing/fields (layout put).",
                     rows[i].name);
    }
    free(layout);
    free(rows);
    return rc;
}

/* Up to three user ids of `n` rows whose first field is a user id, as "a, b, c". */
static void examples(const void *rows, size_t n, size_t size, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < n && i < 3; i++) {
        const sb_sfid_t *user = (const sb_sfid_t *)(const void *)((const char *)rows + i * size);
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%s", i ? ", " : "", user->s);
    }
}

/* The assignment rules against the memberships: what the plan would change,
 * the users it leaves out, and its conflicts. Nothing when the org has no
 * rules: its memberships are then made by hand, and nothing contradicts. */
static int check_rules(sb_store_t *store, const char *org, sb_doctor_report_t *r, sb_err_t *err)
{
    sb_rules_t rules;
    int rc = sb_store_rules_get(store, org, &rules, err);
    uint64_t version = rules.version;
    sb_rules_free(&rules);
    if (rc != 0 || version == 0)
        return rc;
    sb_rules_plan_t plan;
    sb_err_t why;
    rc = sb_store_rules_plan(store, org, &plan, &why);
    if (rc == SB_E_RULES_INVALID || rc == SB_E_PLAN_TOO_LARGE)
        return add(r, "RULES_NOT_CHECKED", "the assignment rules",
                   "The rules could not be checked against the memberships: %s", why.message);
    if (rc != 0) {
        if (err != NULL)
            *err = why;
        return rc;
    }
    char list[80];
    if (rc == 0 && plan.n_changes > 0) {
        examples(plan.changes, plan.n_changes, sizeof(*plan.changes), list, sizeof(list));
        rc = add(r, "MEMBERSHIPS_CONTRADICT_RULES", "the assignment rules",
                 "%zu user(s) are not where the rules put them (%llu to add, %llu to move, %llu to "
                 "remove; e.g. %s). Read the plan (rules plan) and apply it, or change the rules.",
                 plan.n_changes, (unsigned long long)plan.adds, (unsigned long long)plan.moves,
                 (unsigned long long)plan.removes, list);
    }
    if (rc == 0 && plan.unmatched > 0) {
        examples(plan.unmatched_examples,
                 plan.unmatched < SB_RULES_EXAMPLES ? plan.unmatched : SB_RULES_EXAMPLES,
                 sizeof(plan.unmatched_examples[0]), list, sizeof(list));
        rc = add(
            r, "USERS_NO_RULE_MATCHES", "the assignment rules",
            "No rule matches %llu user(s) (e.g. %s): the rules leave them where they are. Add a "
            "rule for them (a last rule without conditions matches everyone left).",
            (unsigned long long)plan.unmatched, list);
    }
    if (rc == 0 && plan.n_conflicts > 0) {
        const sb_rules_conflict_t *c = &plan.conflicts[0];
        examples(plan.conflicts, plan.n_conflicts, sizeof(*plan.conflicts), list, sizeof(list));
        rc = add(r, "RULES_CONFLICT", "the assignment rules",
                 "%zu user(s) are matched by two exclusive rules (e.g. %s: rules '%s' and '%s'); "
                 "the rules decide nothing for them. Narrow one of the rules.",
                 plan.n_conflicts, list, plan.rules.rules[c->rules[0]].name,
                 plan.rules.rules[c->rules[1]].name);
    }
    sb_rules_plan_free(&plan);
    return rc;
}

int sb_doctor_run(sb_store_t *store, sb_plugin_host_t *plugins, const char *org,
                  sb_doctor_report_t *out, sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    sb_layout_assignment_t *assigned = NULL;
    size_t n_assigned = 0;
    int rc = sb_store_layout_assignments(store, org, &assigned, &n_assigned, err);
    if (rc == 0)
        rc = check_users(store, org, assigned, n_assigned, out, err);
    if (rc == 0)
        rc = check_callcenters(store, plugins, org, out, err);
    if (rc == 0)
        rc = check_layouts(store, org, out, err);
    if (rc == 0)
        rc = check_rules(store, org, out, err);
    free(assigned);
    if (rc != 0)
        sb_doctor_report_free(out);
    return rc;
}
