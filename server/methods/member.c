/* member.*: who belongs to which Call Center. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "methods.h"
#include "renders.h"

/*
 * A Call Center named by id (it starts with a digit: 04v...) or by internal
 * name (it starts with a letter), as operators type either.
 */
static int resolve_cc(sb_call_t *call, const char *text, sb_sfid_t *id, sb_err_t *err)
{
    memset(id, 0, sizeof(*id));
    if (text == NULL)
        return sb_err_set(err, -EINVAL, "Which Call Center? Give its id or internal name.");
    if (isdigit((unsigned char)text[0]))
        return sb_sfid_normalize(text, SB_SFID_PREFIX_CALLCENTER, "Call Center id", id, err);
    sb_callcenter_t *cc = NULL;
    int rc = sb_store_cc_get_by_name(call->svc->store, call->org, text, &cc, err);
    if (rc == 0)
        *id = cc->id;
    sb_callcenter_free(cc);
    return rc;
}

static int pack_assignment(msgpack_packer *pk, const char *user, const sb_sfid_t *cc,
                           const sb_sfid_t *previous)
{
    return msgpack_pack_map(pk, 3) | sb_pack_kv_str(pk, "user", user) |
           sb_pack_kv_str(pk, "callcenter", cc->s) |
           sb_pack_kv_str(pk, "previous", previous && previous->s[0] ? previous->s : NULL);
}

static int add(sb_call_t *call, msgpack_packer *pk, sb_err_t *err, bool move)
{
    sb_sfid_t cc, previous, user;
    const char *user_arg = sb_arg_str(call, "user");
    int rc = resolve_cc(call, sb_arg_str(call, "callcenter"), &cc, err);
    if (rc == 0)
        rc = sb_store_member_add(call->svc->store, call->org, cc.s, user_arg, move, &previous, err);
    if (rc == 0)
        rc = sb_sfid_normalize(user_arg, SB_SFID_PREFIX_USER, "user id", &user, err);
    return rc == 0 ? pack_assignment(pk, user.s, &cc, &previous) : rc;
}

static int member_add(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    return add(call, pk, err, sb_arg_bool(call, "move", false));
}

static int member_move(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    return add(call, pk, err, true);
}

static int member_remove(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_sfid_t cc;
    const char *user = sb_arg_str(call, "user");
    int rc = resolve_cc(call, sb_arg_str(call, "callcenter"), &cc, err);
    if (rc == 0)
        rc = sb_store_member_remove(call->svc->store, call->org, cc.s, user, err);
    return rc == 0 ? pack_assignment(pk, user, &cc, NULL) : rc;
}

struct bulk_ctx {
    sb_call_t *call;
    const sb_member_assignment_t *rows;
    size_t n;
    bool move;
};

static int add_bulk_cb(void *vctx, sb_err_t *err)
{
    struct bulk_ctx *ctx = vctx;
    return sb_store_member_add_bulk(ctx->call->svc->store, ctx->call->org, ctx->rows, ctx->n,
                                    ctx->move, err);
}

static int member_add_bulk(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const msgpack_object *rows = sb_arg_obj(call, "rows");
    size_t n = rows->via.array.size;
    if (n == 0 || n > call->svc->config->max_batch)
        return sb_err_set(err, SB_E_BATCH_TOO_LARGE,
                          "member.add_bulk takes 1 to %zu rows; this request has %zu. Split it.",
                          call->svc->config->max_batch, n);
    sb_member_assignment_t *assignments = calloc(n, sizeof(*assignments));
    sb_sfid_t *ids = calloc(n, sizeof(*ids));
    int rc = assignments && ids ? 0 : sb_err_default(err, -ENOMEM);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const msgpack_object *row = &rows->via.array.ptr[i];
        assignments[i].user = sb_obj_str(call, sb_obj_get(row, "user"));
        const char *cc = sb_obj_str(call, sb_obj_get(row, "callcenter"));
        if (assignments[i].user == NULL || cc == NULL)
            rc = sb_err_set(err, -EINVAL, "Row %zu: a row is a map {user, callcenter}.", i + 1);
        else if ((rc = resolve_cc(call, cc, &ids[i], err)) != 0)
            sb_err_prefix(err, "Row %zu: ", i + 1);
        assignments[i].callcenter = ids[i].s;
    }
    bool dry_run = sb_arg_bool(call, "dry_run", false);
    struct bulk_ctx ctx = {call, assignments, n, sb_arg_bool(call, "move", false)};
    if (rc == 0 && dry_run)
        rc = sb_store_dry_run(call->svc->store, add_bulk_cb, &ctx, err);
    else if (rc == 0)
        rc = add_bulk_cb(&ctx, err);
    free(assignments);
    free(ids);
    if (rc != 0)
        return rc;
    return dry_run ? msgpack_pack_map(pk, 2) | sb_pack_kv_uint(pk, "checked", n) |
                         sb_pack_kv_bool(pk, "dry_run", true)
                   : msgpack_pack_map(pk, 1) | sb_pack_kv_uint(pk, "assigned", n);
}

static int member_list(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_sfid_t cc, *rows = NULL;
    size_t n = 0;
    bool more = false;
    uint64_t total = 0;
    int rc = resolve_cc(call, sb_arg_str(call, "callcenter"), &cc, err);
    if (rc == 0)
        rc = sb_store_member_list(call->svc->store, call->org, cc.s, sb_arg_str(call, "after"),
                                  sb_arg_limit(call), &rows, &n, &more, &total, err);
    if (rc != 0)
        return rc;
    /* Each member's name and profile, for a person to read and for the filters: a user
     * deleted since has them empty. The filters keep a page's rows that match, so a page
     * may hold fewer than --limit; next_after goes on after the page's last member. */
    const char *name = sb_arg_str(call, "name"), *profile = sb_arg_str(call, "profile");
    sb_user_t *users = calloc(n ? n : 1, sizeof(*users));
    bool *keep = calloc(n ? n : 1, sizeof(*keep));
    size_t kept = 0;
    if (users == NULL || keep == NULL)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sb_err_t why;
        sb_err_clear(&why);
        if (sb_store_user_get(call->svc->store, call->org, rows[i].s, &users[i], &why) != 0)
            memset(&users[i], 0, sizeof(users[i]));
        keep[i] = (name == NULL || sb__name_matches(users[i].name, name)) &&
                  (profile == NULL || strcasecmp(users[i].profile, profile) == 0);
        kept += keep[i];
    }
    if (rc == 0) {
        rc = msgpack_pack_map(pk, 6) | sb_pack_kv_str(pk, "callcenter", cc.s) |
             sb_pack_str(pk, "users") | msgpack_pack_array(pk, kept);
        for (size_t i = 0; i < n; i++)
            if (keep[i])
                rc |= sb_pack_str(pk, rows[i].s);
        rc |= sb_pack_str(pk, "members") | msgpack_pack_array(pk, kept);
        for (size_t i = 0; i < n; i++)
            if (keep[i])
                rc |= msgpack_pack_map(pk, 3) | sb_pack_kv_str(pk, "user", rows[i].s) |
                      sb_pack_kv_str(pk, "name", users[i].name) |
                      sb_pack_kv_str(pk, "profile", users[i].profile);
        rc |= sb_pack_kv_uint(pk, "total", total) | sb_pack_kv_bool(pk, "more", more) |
              sb_pack_kv_str(pk, "next_after", more && n > 0 ? rows[n - 1].s : NULL);
    }
    free(users);
    free(keep);
    free(rows);
    return rc;
}

static int member_lookup(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_sfid_t cc;
    const char *user = sb_arg_str(call, "user");
    int rc = sb_store_member_lookup(call->svc->store, call->org, user, &cc, err);
    return rc == 0 ? pack_assignment(pk, user, &cc, NULL) : rc;
}

#define CC_ARG                                                                                     \
    {                                                                                              \
        "callcenter", SB_ARG_STRING, true, "the Call Center's id or internal name"                 \
    }
#define USER_ARG                                                                                   \
    {                                                                                              \
        "user", SB_ARG_STRING, true, "the user id"                                                 \
    }
#define ASSIGNMENT "{user, callcenter, previous: the Call Center the user left, or nil}"

static const sb_method_t methods[] = {
    {"member.add",
     "Puts a user in a Call Center. A user belongs to one Call Center per org: a user in another "
     "one is refused (the error names it) unless 'move' is true.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     member_add,
     {SB_ARG_ORG,
      CC_ARG,
      USER_ARG,
      {"move", SB_ARG_BOOLEAN, false, "move the user from their Call Center, atomically"}},
     ASSIGNMENT,
     "NOT_FOUND ALREADY_MEMBER INVALID_ID"},
    {"member.move",
     "Moves a user into a Call Center, out of any other, atomically.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     member_move,
     {SB_ARG_ORG, CC_ARG, USER_ARG},
     ASSIGNMENT,
     "NOT_FOUND INVALID_ID"},
    {"member.remove",
     "Takes a user out of a Call Center.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     member_remove,
     {SB_ARG_ORG, CC_ARG, USER_ARG},
     "{user, callcenter, previous: nil}",
     "NOT_FOUND NOT_A_MEMBER INVALID_ID"},
    {"member.add_bulk",
     "Applies many assignments in one transaction: one refused row and nothing changes (the "
     "error names the row).",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     member_add_bulk,
     {SB_ARG_ORG,
      {"rows", SB_ARG_ARRAY, true, "[{user, callcenter}], at most --max-batch rows"},
      {"move", SB_ARG_BOOLEAN, false, "move users who belong to another Call Center"},
      {"dry_run", SB_ARG_BOOLEAN, false,
       "check every row against every rule, as the write would, and write nothing"}},
     "{assigned: count}, or {checked: count, dry_run: true}",
     "NOT_FOUND ALREADY_MEMBER BATCH_TOO_LARGE INVALID_ID"},
    {"member.list",
     "Lists the members of a Call Center by user id, with their names and profiles and their "
     "count; filtered by name or profile if asked.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     member_list,
     {SB_ARG_ORG,
      CC_ARG,
      {"name", SB_ARG_STRING, false,
       "only members whose name, or a word of it, starts with this (ASCII without case)"},
      {"profile", SB_ARG_STRING, false, "only members of this profile (case ignored)"},
      SB_ARGS_PAGE("users")},
     "{callcenter, users: [user id], members: [{user, name, profile}] (the same users), total "
     "(of the Call Center), more, next_after}",
     "NOT_FOUND INVALID_ID"},
    {"member.lookup",
     "The Call Center a user belongs to.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     member_lookup,
     {SB_ARG_ORG, USER_ARG},
     "{user, callcenter, previous: nil}",
     "NOT_FOUND (unknown user) NOT_A_MEMBER INVALID_ID"},
};

const sb_method_slice_t sb__member_methods = {methods, sizeof(methods) / sizeof(methods[0])};

/* ---- prepare: the adapters render the Call Centers that get members -------- */

/* Renders Call Center `text` ahead of the write, so that a view it makes
 * finds its adapter's rendering waiting (renders.h). One that cannot be
 * loaded is the write's to report. */
static void prerender(sb_call_t *call, const char *text)
{
    if (text == NULL || call->svc->renders == NULL)
        return;
    sb_callcenter_t *cc = NULL;
    if (sb__load_cc(call, text, &cc, NULL) == 0)
        sb_softphone_prerender(call->svc->renders, call->org, cc);
    sb_callcenter_free(cc);
}

static int prepare_add(sb_call_t *call, sb_err_t *err)
{
    (void)err;
    prerender(call, sb_arg_str(call, "callcenter"));
    return 0;
}

/* At most this many distinct Call Centers of one bulk request are rendered
 * ahead; a bulk request names one or a few. */
#define BULK_PRERENDER_MAX 64

static int prepare_add_bulk(sb_call_t *call, sb_err_t *err)
{
    (void)err;
    const msgpack_object *rows = sb_arg_obj(call, "rows");
    const char *seen[BULK_PRERENDER_MAX];
    size_t n_seen = 0;
    for (uint32_t i = 0; rows != NULL && i < rows->via.array.size; i++) {
        const msgpack_object *cc = sb_obj_get(&rows->via.array.ptr[i], "callcenter");
        if (cc == NULL || cc->type != MSGPACK_OBJECT_STR)
            continue;
        bool known = false;
        for (size_t k = 0; k < n_seen && !known; k++)
            known = strlen(seen[k]) == cc->via.str.size &&
                    memcmp(seen[k], cc->via.str.ptr, cc->via.str.size) == 0;
        if (known)
            continue;
        if (n_seen == BULK_PRERENDER_MAX)
            break;
        const char *text = sb_obj_str(call, cc);
        if (text == NULL)
            continue;
        seen[n_seen++] = text;
        prerender(call, text);
    }
    return 0;
}

static const sb_method_prep_t preps[] = {
    {"member.add", prepare_add},
    {"member.move", prepare_add},
    {"member.add_bulk", prepare_add_bulk},
};

const sb_method_prep_slice_t sb__member_preps = {preps, sizeof(preps) / sizeof(preps[0])};
