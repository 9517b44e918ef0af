/* user.*: the users of an org, one by one or in bulk. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "methods.h"
#include "renders.h"

int sb__pack_user(msgpack_packer *pk, const sb_user_t *user)
{
    return msgpack_pack_map(pk, 7) | sb_pack_kv_str(pk, "id", user->id.s) |
           sb_pack_kv_str(pk, "name", user->name) | sb_pack_kv_str(pk, "profile", user->profile) |
           sb_pack_kv_str(pk, "department", user->department) |
           sb_pack_kv_str(pk, "division", user->division) | sb_pack_kv_str(pk, "role", user->role) |
           sb_pack_kv_bool(pk, "scv_licence", user->scv_licence);
}

/* Copies a string of a user row into a fixed field; refuses what does not fit. */
static int copy_field(const char *what, size_t row, const char *value, char *dst, size_t cap,
                      sb_err_t *err)
{
    if (value == NULL)
        value = "";
    if (strlen(value) >= cap)
        return sb_err_set(err, SB_E_INVALID_VALUE, "Row %zu: the %s is longer than %zu bytes.", row,
                          what, cap - 1);
    /* Names are text: a control character is a damaged file, not a name. */
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return sb_err_set(err, SB_E_INVALID_VALUE,
                              "Row %zu: the %s has a control character (byte 0x%02x) at byte %zu.",
                              row, what, (unsigned)(unsigned char)*p, (size_t)(p - value) + 1);
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

/* One user from a map {id, name, profile, department, division, role}, or
 * from the call's own arguments. */
static int read_user(sb_call_t *call, const msgpack_object *map, size_t row, sb_user_t *user,
                     sb_err_t *err)
{
    memset(user, 0, sizeof(*user));
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return sb_err_set(err, -EINVAL, "Row %zu: a user is a map {id, name, profile}.", row);
    static const char *const keys[] = {"id", "name", "profile", "department", "division", "role"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        /* sb_obj_str refuses a string with a NUL byte; say so, rather than "missing". */
        const msgpack_object *v = sb_obj_get(map, keys[k]);
        const char *nul = v && v->type == MSGPACK_OBJECT_STR
                              ? memchr(v->via.str.ptr, '\0', v->via.str.size)
                              : NULL;
        if (nul != NULL)
            return sb_err_set(err, SB_E_INVALID_VALUE,
                              "Row %zu: the %s has a NUL byte at byte %zu; it would cut the "
                              "value short.",
                              row, keys[k], (size_t)(nul - v->via.str.ptr) + 1);
    }
    const char *id = sb_obj_str(call, sb_obj_get(map, "id"));
    const char *name = sb_obj_str(call, sb_obj_get(map, "name"));
    const char *profile = sb_obj_str(call, sb_obj_get(map, "profile"));
    if (id == NULL || name == NULL)
        return sb_err_set(err, -EINVAL, "Row %zu: a user needs a string 'id' and 'name'.", row);
    int rc = copy_field("id", row, id, user->id.s, sizeof(user->id.s), err);
    if (rc == 0)
        rc = copy_field("name", row, name, user->name, sizeof(user->name), err);
    if (rc == 0)
        rc = copy_field("profile", row, profile, user->profile, sizeof(user->profile), err);
    /* The attributes rules match (rules.h): optional, "" when left out. */
    if (rc == 0)
        rc = copy_field("department", row, sb_obj_str(call, sb_obj_get(map, "department")),
                        user->department, sizeof(user->department), err);
    if (rc == 0)
        rc = copy_field("division", row, sb_obj_str(call, sb_obj_get(map, "division")),
                        user->division, sizeof(user->division), err);
    if (rc == 0)
        rc = copy_field("role", row, sb_obj_str(call, sb_obj_get(map, "role")), user->role,
                        sizeof(user->role), err);
    return rc;
}

static int user_upsert(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_user_t user, stored;
    int rc = read_user(call, call->args, 1, &user, err);
    if (rc == 0)
        rc = sb_store_user_upsert(call->svc->store, call->org, &user, err);
    if (rc == 0)
        rc = sb_store_user_get(call->svc->store, call->org, user.id.s, &stored, err);
    return rc == 0 ? sb__pack_user(pk, &stored) : rc;
}

struct bulk_ctx {
    sb_call_t *call;
    const sb_user_t *users;
    size_t n;
};

static int upsert_bulk_cb(void *vctx, sb_err_t *err)
{
    struct bulk_ctx *ctx = vctx;
    return sb_store_user_upsert_bulk(ctx->call->svc->store, ctx->call->org, ctx->users, ctx->n,
                                     err);
}

static int user_upsert_bulk(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const msgpack_object *rows = sb_arg_obj(call, "users");
    size_t n = rows->via.array.size;
    if (n == 0 || n > call->svc->config->max_batch)
        return sb_err_set(err, SB_E_BATCH_TOO_LARGE,
                          "user.upsert_bulk takes 1 to %zu users; this request has %zu. Split it.",
                          call->svc->config->max_batch, n);
    sb_user_t *users = calloc(n, sizeof(*users));
    if (users == NULL)
        return sb_err_default(err, -ENOMEM);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = read_user(call, &rows->via.array.ptr[i], i + 1, &users[i], err);
    bool dry_run = sb_arg_bool(call, "dry_run", false);
    struct bulk_ctx ctx = {call, users, n};
    if (rc == 0 && dry_run)
        rc = sb_store_dry_run(call->svc->store, upsert_bulk_cb, &ctx, err);
    else if (rc == 0)
        rc = upsert_bulk_cb(&ctx, err);
    free(users);
    if (rc != 0)
        return rc;
    return dry_run ? msgpack_pack_map(pk, 2) | sb_pack_kv_uint(pk, "checked", n) |
                         sb_pack_kv_bool(pk, "dry_run", true)
                   : msgpack_pack_map(pk, 1) | sb_pack_kv_uint(pk, "upserted", n);
}

static int user_get(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_user_t user;
    int rc = sb_store_user_get(call->svc->store, call->org, sb_arg_str(call, "id"), &user, err);
    return rc == 0 ? sb__pack_user(pk, &user) : rc;
}

static int user_list(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_user_t *rows;
    size_t n;
    bool more;
    int rc = sb_store_user_list(call->svc->store, call->org, sb_arg_str(call, "after"),
                                sb_arg_limit(call), &rows, &n, &more, err);
    if (rc != 0)
        return rc;
    rc = msgpack_pack_map(pk, 2) | sb_pack_str(pk, "users") | msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        rc |= sb__pack_user(pk, &rows[i]);
    rc |= sb_pack_kv_bool(pk, "more", more);
    free(rows);
    return rc;
}

/* Users one user.find request reads at most: a search of a large org is paged by what it
 * reads, not by what it finds, so that no request scans a million users. */
#define USER_FIND_SCAN 10000

bool sb__name_matches(const char *name, const char *prefix)
{
    size_t len = strlen(prefix);
    for (const char *word = name; *word;) {
        if (strncasecmp(word, prefix, len) == 0)
            return true;
        const char *space = strchr(word, ' ');
        if (space == NULL)
            break;
        word = space + 1;
    }
    return len == 0;
}

static int user_find(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const char *prefix = sb_arg_str(call, "name");
    const char *profile = sb_arg_str(call, "profile");
    size_t len = prefix ? strlen(prefix) : 0, limit = sb_arg_limit(call);
    if (len == 0)
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "user.find needs a name to look for: the start of the name or of one of "
                          "its words.");
    /* Checked before the page is allocated (the store checks it only when read). */
    if (limit == 0 || limit > SB_STORE_PAGE_MAX)
        return sb_err_set(err, -EINVAL, "limit is 1 to %d rows a page, not %zu.", SB_STORE_PAGE_MAX,
                          limit);
    sb_user_t *found = calloc(limit, sizeof(*found));
    if (found == NULL)
        return -ENOMEM;
    char after[SB_SFID_LEN + 1] = "";
    const char *given = sb_arg_str(call, "after");
    if (given != NULL)
        snprintf(after, sizeof(after), "%s", given);
    size_t n_found = 0, scanned = 0;
    bool more = true;
    int rc = 0;
    /* Reads pages until the page of results is full, the org is read, or the scan bound is
     * reached; `after` is then the last user read, where the next request goes on. */
    while (rc == 0 && more && n_found < limit && scanned < USER_FIND_SCAN) {
        size_t want = USER_FIND_SCAN - scanned < SB_STORE_PAGE_MAX ? USER_FIND_SCAN - scanned
                                                                   : SB_STORE_PAGE_MAX;
        sb_user_t *rows;
        size_t n;
        rc = sb_store_user_list(call->svc->store, call->org, after[0] ? after : NULL, want, &rows,
                                &n, &more, err);
        if (rc != 0)
            break;
        size_t i = 0;
        for (; i < n && n_found < limit; i++) {
            if (sb__name_matches(rows[i].name, prefix) &&
                (profile == NULL || strcasecmp(rows[i].profile, profile) == 0))
                found[n_found++] = rows[i];
        }
        scanned += i;
        if (i > 0)
            memcpy(after, rows[i - 1].id.s, sizeof(after));
        if (i < n)
            more = true; /* stopped inside the page: the rest of it is still to read */
        free(rows);
    }
    if (rc == 0) {
        rc = msgpack_pack_map(pk, 4) | sb_pack_str(pk, "users") | msgpack_pack_array(pk, n_found);
        for (size_t i = 0; i < n_found; i++)
            rc |= sb__pack_user(pk, &found[i]);
        rc |= sb_pack_kv_bool(pk, "more", more) |
              sb_pack_kv_str(pk, "next_after", more ? after : NULL) |
              sb_pack_kv_uint(pk, "scanned", scanned);
    }
    free(found);
    return rc;
}

static const sb_method_t methods[] = {
    {"user.upsert",
     "Creates or replaces a user.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     user_upsert,
     {SB_ARG_ORG,
      {"id", SB_ARG_STRING, true, "a Salesforce user id: prefix 005, 15 or 18 characters"},
      {"name", SB_ARG_STRING, true, "the user's name"},
      {"profile", SB_ARG_STRING, false, "the profile, which picks the softphone layout"},
      {"department", SB_ARG_STRING, false, "the department (assignment rules match it)"},
      {"division", SB_ARG_STRING, false, "the division (assignment rules match it)"},
      {"role", SB_ARG_STRING, false, "the role's name (assignment rules match it)"}},
     "the user: {id (18 characters), name, profile, department, division, role, scv_licence "
     "(kept as it was: licence.assign changes it)}",
     "NOT_FOUND INVALID_ID MISSING_FIELD INVALID_VALUE"},
    {"user.upsert_bulk",
     "Creates or replaces many users at once: all or nothing.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     user_upsert_bulk,
     {SB_ARG_ORG,
      {"users", SB_ARG_ARRAY, true,
       "[{id, name, profile, department, division, role}], at most --max-batch rows"},
      {"dry_run", SB_ARG_BOOLEAN, false,
       "check every row against every rule, as the write would, and write nothing"}},
     "{upserted: count}, or {checked: count, dry_run: true}",
     "NOT_FOUND BATCH_TOO_LARGE INVALID_ID MISSING_FIELD INVALID_VALUE"},
    {"user.get",
     "Reads a user.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     user_get,
     {SB_ARG_ORG, {"id", SB_ARG_STRING, true, "the user id"}},
     "the user: {id, name, profile, department, division, role, scv_licence}",
     "NOT_FOUND INVALID_ID"},
    {"user.list",
     "Lists an org's users by id.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     user_list,
     {SB_ARG_ORG, SB_ARGS_PAGE("users")},
     "{users: [user], more}",
     "NOT_FOUND INVALID_ID"},
    {"user.find",
     "Finds an org's users by the start of their name or of a word of it (ASCII letters without "
     "case: 'ada' finds 'Ada Lovelace' and 'lov' finds her too), and by profile. Reads at most "
     "10,000 users a request: when more is true, go on with after: next_after.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     user_find,
     {SB_ARG_ORG,
      {"name", SB_ARG_STRING, true, "the start of the name, or of one of its words"},
      {"profile", SB_ARG_STRING, false, "only users of this profile (case ignored)"},
      SB_ARGS_PAGE("users")},
     "{users: [user] (in id order), more, next_after: where the next request goes on, scanned}",
     "NOT_FOUND INVALID_VALUE"},
};

const sb_method_slice_t sb__user_methods = {methods, sizeof(methods) / sizeof(methods[0])};

/* ---- prepare: an org whose users follow its rules ---------------------------- */

/* When the org's users follow its rules on write, a written user may join
 * any rule's Call Center: each is rendered ahead, on the pool (renders.h),
 * so that the writer finds its rendering waiting. At most SB_RULES_MAX. */
static int prepare_upsert(sb_call_t *call, sb_err_t *err)
{
    (void)err;
    sb_rules_t rules;
    if (call->svc->renders == NULL ||
        sb_store_rules_get(call->svc->store, call->org, &rules, NULL) != 0)
        return 0; /* the write reports what is wrong */
    for (size_t r = 0; rules.follow && r < rules.n; r++) {
        sb_callcenter_t *cc = NULL;
        if (rules.rules[r].target_id.s[0] != '\0' &&
            sb_store_cc_get(call->svc->store, call->org, rules.rules[r].target_id.s, &cc, NULL) ==
                0)
            sb_softphone_prerender(call->svc->renders, call->org, cc);
        sb_callcenter_free(cc);
    }
    sb_rules_free(&rules);
    return 0;
}

static const sb_method_prep_t preps[] = {
    {"user.upsert", prepare_upsert},
    {"user.upsert_bulk", prepare_upsert},
};

const sb_method_prep_slice_t sb__user_preps = {preps, sizeof(preps) / sizeof(preps[0])};
