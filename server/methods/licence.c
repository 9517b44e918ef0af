/*
 * licence.*: the "Service Cloud Voice" permission set licence, which a
 * member of a Service Cloud Voice Call Center needs to see its softphone
 * (Salesforce's rule: add the user to the Call Center and assign the
 * licence). Assigned in bulk, all or nothing, like memberships.
 */
#include <stdlib.h>
#include <string.h>

#include "methods.h"

struct assign_ctx {
    sb_call_t *call;
    const char *const *users;
    size_t n;
    bool scv_licence;
};

static int assign_cb(void *vctx, sb_err_t *err)
{
    struct assign_ctx *ctx = vctx;
    return sb_store_licence_assign(ctx->call->svc->store, ctx->call->org, ctx->users, ctx->n,
                                   ctx->scv_licence, err);
}

static int licence_assign(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const msgpack_object *rows = sb_arg_obj(call, "users");
    size_t n = rows->via.array.size;
    if (n == 0 || n > call->svc->config->max_batch)
        return sb_err_set(err, SB_E_BATCH_TOO_LARGE,
                          "licence.assign takes 1 to %zu users; this request has %zu. Split it.",
                          call->svc->config->max_batch, n);
    const char **users = calloc(n, sizeof(*users));
    if (users == NULL)
        return sb_err_default(err, -ENOMEM);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if ((users[i] = sb_obj_str(call, &rows->via.array.ptr[i])) == NULL)
            rc = sb_err_set(err, -EINVAL, "Row %zu: a user is a user id (a string).", i + 1);
    bool revoke = sb_arg_bool(call, "revoke", false);
    bool dry_run = sb_arg_bool(call, "dry_run", false);
    struct assign_ctx ctx = {call, users, n, !revoke};
    if (rc == 0 && dry_run)
        rc = sb_store_dry_run(call->svc->store, assign_cb, &ctx, err);
    else if (rc == 0)
        rc = assign_cb(&ctx, err);
    free(users);
    if (rc != 0)
        return rc;
    return dry_run
               ? msgpack_pack_map(pk, 2) | sb_pack_kv_uint(pk, "checked", n) |
                     sb_pack_kv_bool(pk, "dry_run", true)
               : msgpack_pack_map(pk, 2) | sb_pack_kv_str(pk, "licence", "Service Cloud Voice") |
                     sb_pack_kv_uint(pk, revoke ? "revoked" : "assigned", n);
}

static const sb_method_t methods[] = {
    {"licence.assign",
     "Assigns the \"Service Cloud Voice\" permission set licence to many users at once (or takes "
     "it back with --revoke): all or nothing. A member of a Service Cloud Voice Call Center "
     "without it sees no softphone (NO_SCV_LICENCE).",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     licence_assign,
     {SB_ARG_ORG,
      {"users", SB_ARG_ARRAY, true, "[user id], at most --max-batch"},
      {"revoke", SB_ARG_BOOLEAN, false, "take the licence back instead"},
      {"dry_run", SB_ARG_BOOLEAN, false,
       "check every row against every rule, as the write would, and write nothing"}},
     "{licence, assigned: count} or {licence, revoked: count}, or {checked: count, dry_run: true}",
     "NOT_FOUND (the org, or a user: the error names the row) BATCH_TOO_LARGE INVALID_ID"},
};

const sb_method_slice_t sb__licence_methods = {methods, sizeof(methods) / sizeof(methods[0])};
