/* org.*: the tenants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "doctor.h"
#include "methods.h"
#include "sfid.h"

/* ---- the placement bucket's org.<ORG> (a cluster's primary) -------------- */

typedef struct org_placement {
    sb_cluster_t *cluster;
    char org[SB_ORG_ID_MAX + 1];
} org_placement_t;

/* The request ended (written or not): the cluster's watch thread settles
 * org.<ORG> against the local store (a failed create's key is undone, a
 * delete is carried to the bucket). */
static void placement_free(void *ctx)
{
    org_placement_t *p = ctx;
    sb_cluster_org_settle(p->cluster, p->org);
    free(p);
}

static int placement_keep(sb_call_t *call, const char *org, sb_err_t *err)
{
    org_placement_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return sb_err_default(err, -ENOMEM);
    p->cluster = call->svc->cluster;
    snprintf(p->org, sizeof(p->org), "%s", org);
    call->prep = p;
    call->prep_free = placement_free;
    return 0;
}

/* org.create on a cluster's primary: org.<ORG> is created (create-only)
 * before the local write, on the thread pool (a NATS request); an id
 * another shard holds is refused as the store refuses one it holds. */
static int prepare_create(sb_call_t *call, sb_err_t *err)
{
    if (call->svc->cluster == NULL)
        return 0;
    const char *org = sb_arg_str(call, "org");
    int rc = sb_org_id_check(org, err);
    if (rc == 0)
        rc = sb_cluster_org_claim(call->svc->cluster, org, err);
    if (rc == 0)
        rc = placement_keep(call, org, err);
    return rc;
}

/* org.delete: the key goes once the delete is done (placement_free). */
static int prepare_delete(sb_call_t *call, sb_err_t *err)
{
    if (call->svc->cluster == NULL || call->org == NULL)
        return 0;
    return placement_keep(call, call->org, err);
}

static int pack_org(msgpack_packer *pk, const sb_org_t *org)
{
    return msgpack_pack_map(pk, 3) | sb_pack_kv_str(pk, "id", org->id) |
           sb_pack_kv_str(pk, "name", org->name) | sb_pack_kv_int(pk, "created", org->created_ms);
}

static int org_create(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const char *id = sb_arg_str(call, "org");
    int rc = sb_store_org_create(call->svc->store, id, sb_arg_str(call, "name"), err);
    sb_org_t org;
    if (rc == 0)
        rc = sb_store_org_get(call->svc->store, id, &org, err);
    return rc == 0 ? pack_org(pk, &org) : rc;
}

static int org_get(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_org_t org;
    int rc = sb_store_org_get(call->svc->store, call->org, &org, err);
    return rc == 0 ? pack_org(pk, &org) : rc;
}

static int org_list(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    /* The page size is checked for every token alike, the org's own too:
     * the same request gets the same refusal whoever sends it. */
    size_t limit = sb_arg_limit(call);
    if (limit == 0 || limit > SB_STORE_PAGE_MAX)
        return sb_err_set(err, -EINVAL, "A page holds 1 to %d rows; %zu was asked for.",
                          SB_STORE_PAGE_MAX, limit);
    if (call->token.role != SB_ROLE_ADMIN) {
        /* An org's token sees its own org and nothing else. */
        sb_org_t org;
        const char *after = sb_arg_str(call, "after");
        bool show = after == NULL || strcmp(call->token.org, after) > 0;
        int rc = show ? sb_store_org_get(call->svc->store, call->token.org, &org, err) : 0;
        if (rc != 0)
            return rc;
        rc = msgpack_pack_map(pk, 2) | sb_pack_str(pk, "orgs") | msgpack_pack_array(pk, show);
        if (show)
            rc |= pack_org(pk, &org);
        return rc | sb_pack_kv_bool(pk, "more", false);
    }
    sb_org_t *rows;
    size_t n;
    bool more;
    int rc = sb_store_org_list(call->svc->store, sb_arg_str(call, "after"), limit, &rows, &n, &more,
                               err);
    if (rc != 0)
        return rc;
    rc = msgpack_pack_map(pk, 2) | sb_pack_str(pk, "orgs") | msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        rc |= pack_org(pk, &rows[i]);
    rc |= sb_pack_kv_bool(pk, "more", more);
    free(rows);
    return rc;
}

static int org_delete(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    int rc =
        sb_store_org_delete(call->svc->store, call->org, sb_arg_bool(call, "force", false), err);
    if (rc == 0)
        call->ended_org = call->org; /* its tokens are gone: so are their connections */
    return rc == 0 ? msgpack_pack_map(pk, 1) | sb_pack_kv_str(pk, "deleted", call->org) : rc;
}

static void report_free(void *ctx)
{
    sb_doctor_report_free(ctx);
    free(ctx);
}

/* org.doctor asks the adapters to validate each Call Center: on the thread
 * pool, so that a slow adapter never holds the event loop. */
static int prepare_doctor(sb_call_t *call, sb_err_t *err)
{
    sb_doctor_report_t *report = calloc(1, sizeof(*report));
    if (report == NULL)
        return sb_err_default(err, -ENOMEM);
    int rc = sb_store_org_get(call->svc->store, call->org, &(sb_org_t){0}, err);
    if (rc == 0)
        rc = sb_doctor_run(call->svc->store, call->svc->plugins, call->org, report, err);
    if (rc != 0) {
        free(report);
        return rc;
    }
    call->prep = report;
    call->prep_free = report_free;
    return 0;
}

static int org_doctor(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const sb_doctor_report_t *report = call->prep;
    if (report == NULL)
        return sb_err_default(err, -EINVAL);
    int rc = msgpack_pack_map(pk, 2) | sb_pack_kv_bool(pk, "healthy", report->n == 0) |
             sb_pack_str(pk, "findings") | msgpack_pack_array(pk, report->n);
    for (size_t i = 0; i < report->n; i++)
        rc |= msgpack_pack_map(pk, 3) | sb_pack_kv_str(pk, "code", report->findings[i].code) |
              sb_pack_kv_str(pk, "subject", report->findings[i].subject) |
              sb_pack_kv_str(pk, "message", report->findings[i].message);
    return rc;
}

static const sb_method_t methods[] = {
    {"org.doctor",
     "Lists what will break for the org's users (softphones that will not show, calls without "
     "information), each finding with how to fix it.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     org_doctor,
     {SB_ARG_ORG},
     "{healthy: bool, findings: [{code: USERS_WITHOUT_CALLCENTER | CALLCENTER_WITHOUT_MEMBERS | "
     "PROFILE_WITHOUT_LAYOUT | LAYOUT_HIDES_ANI | ADAPTER_NOT_LOADED | SETTINGS_REJECTED | "
     "LIGHTNING_URL_NOT_HTTPS | MEMBERS_WITHOUT_SCV_LICENCE | MEMBERSHIPS_CONTRADICT_RULES | "
     "USERS_NO_RULE_MATCHES | RULES_CONFLICT | RULES_NOT_CHECKED | LAYOUT_PROFILE_WITHOUT_USERS | "
     "PROFILES_DIFFER_IN_CASE, subject, message}]}",
     "NOT_FOUND (the org)"},
    {"org.create",
     "Creates an org (a tenant).",
     SB_ROLE_ADMIN,
     true,
     false,
     org_create,
     {{"org", SB_ARG_STRING, true, "the new org's id: 1 to 64 letters, digits, '-', '_'"},
      {"name", SB_ARG_STRING, false, "its display name (default: the id)"}},
     "the org: {id, name, created}",
     "ALREADY_EXISTS (also an org id another shard of the cluster holds) INVALID_ID "
     "INVALID_VALUE"},
    {"org.get",
     "Reads an org.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     org_get,
     {SB_ARG_ORG},
     "the org: {id, name, created}",
     "NOT_FOUND"},
    {"org.list",
     "Lists orgs by id; an org's token sees its own org only.",
     SB_ROLE_READ_ONLY,
     false,
     false,
     org_list,
     {SB_ARGS_PAGE("orgs")},
     "{orgs: [org], more: whether another page follows}",
     "INVALID_ARGUMENT"},
    {"org.delete",
     "Deletes an org. Refused while it has Call Centers unless forced; a forced delete removes "
     "every record and token of that org and nothing else. Every connection of the org's tokens "
     "is closed as soon as the delete is durable, before this reply is sent.",
     SB_ROLE_ADMIN,
     true,
     true,
     org_delete,
     {SB_ARG_ORG, {"force", SB_ARG_BOOLEAN, false, "delete the org with everything in it"}},
     "{deleted: org id}",
     "NOT_FOUND ORG_NOT_EMPTY"},
};

const sb_method_slice_t sb__org_methods = {methods, sizeof(methods) / sizeof(methods[0])};

static const sb_method_prep_t preps[] = {
    {"org.doctor", prepare_doctor},
    {"org.create", prepare_create},
    {"org.delete", prepare_delete},
};

const sb_method_prep_slice_t sb__org_preps = {preps, sizeof(preps) / sizeof(preps[0])};
