/* softphone.*: does a user see a softphone, which one, and why not. */
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "softphone.h"

static int pack_answer(msgpack_packer *pk, const sb_softphone_answer_t *a)
{
    const sb_callcenter_t *cc = a->callcenter;
    int rc = msgpack_pack_map(pk, 10);
    rc |= sb_pack_kv_str(pk, "user", a->user);
    rc |= sb_pack_kv_bool(pk, "softphone", a->reason == SB_SOFTPHONE_OK);
    rc |= sb_pack_kv_str(pk, "reason", sb_softphone_reason_name(a->reason));
    rc |= sb_pack_kv_str(pk, "message", a->message);
    rc |= sb_pack_str(pk, "callcenter");
    if (cc != NULL)
        rc |= msgpack_pack_map(pk, 3) | sb_pack_kv_str(pk, "id", cc->id.s) |
              sb_pack_kv_str(pk, "internal_name", sb_callcenter_internal_name(cc)) |
              sb_pack_kv_str(pk, "display_name", sb_callcenter_display_name(cc));
    else
        rc |= msgpack_pack_nil(pk);
    rc |= sb_pack_kv_str(pk, "adapter", cc ? cc->adapter : NULL);
    rc |= sb_pack_kv_str(pk, "adapter_url",
                         cc ? sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_ADAPTER_URL) : NULL);
    const char *height = cc ? sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_HEIGHT) : NULL;
    const char *width = cc ? sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_WIDTH) : NULL;
    rc |= sb_pack_str(pk, "softphone_height");
    rc |= height && height[0] ? msgpack_pack_uint32(pk, (uint32_t)strtoul(height, NULL, 10))
                              : msgpack_pack_nil(pk);
    rc |= sb_pack_str(pk, "softphone_width");
    rc |= width && width[0] ? msgpack_pack_uint32(pk, (uint32_t)strtoul(width, NULL, 10))
                            : msgpack_pack_nil(pk);
    rc |= sb_pack_kv_str(pk, "compatibility_mode",
                         cc ? sb_cc_compat_mode_name(sb_callcenter_compat_mode(cc)) : NULL);
    return rc;
}

static int check_one(sb_call_t *call, const char *user, msgpack_packer *pk, sb_err_t *err)
{
    sb_softphone_answer_t answer;
    int rc =
        sb_softphone_check(call->svc->store, call->svc->plugins, call->org, user, &answer, err);
    if (rc == 0)
        rc = pack_answer(pk, &answer);
    sb_softphone_answer_destroy(&answer);
    return rc;
}

static int softphone_check(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    return check_one(call, sb_arg_str(call, "user"), pk, err);
}

static int softphone_check_batch(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const msgpack_object *users = sb_arg_obj(call, "users");
    size_t n = users->via.array.size;
    if (n == 0 || n > call->svc->config->max_batch)
        return sb_err_set(err, SB_E_BATCH_TOO_LARGE,
                          "softphone.check_batch takes 1 to %zu users; this request has %zu.",
                          call->svc->config->max_batch, n);
    for (size_t i = 0; i < n; i++)
        if (users->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
            return sb_err_set(err, -EINVAL, "'users' is an array of user id strings (item %zu).",
                              i + 1);
    /* The org is checked before anything is packed, so that an error
     * response never follows half a result. */
    sb_org_t org;
    int rc = sb_store_org_get(call->svc->store, call->org, &org, err);
    if (rc != 0)
        return rc;
    rc = msgpack_pack_map(pk, 1) | sb_pack_str(pk, "results") | msgpack_pack_array(pk, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *user = sb_obj_str(call, &users->via.array.ptr[i]);
        rc = check_one(call, user ? user : "", pk, err);
    }
    return rc;
}

#define ANSWER                                                                                     \
    "{user, softphone: bool, reason: OK | UNKNOWN_USER | NOT_A_MEMBER | INVALID_USER_ID | "        \
    "ADAPTER_NOT_LOADED, "                                                                         \
    "message, callcenter: {id, internal_name, display_name} or nil, adapter, adapter_url, "        \
    "softphone_height, softphone_width, compatibility_mode}"

static const sb_method_t methods[] = {
    {"softphone.check",
     "Whether a user sees a softphone: the Call Center and its softphone when yes, the reason and "
     "what to do when not.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     softphone_check,
     {SB_ARG_ORG, {"user", SB_ARG_STRING, true, "the user id"}},
     ANSWER,
     "NOT_FOUND (the org)"},
    {"softphone.check_batch",
     "softphone.check for many users in one request, in order.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     softphone_check_batch,
     {SB_ARG_ORG, {"users", SB_ARG_ARRAY, true, "[user id], at most --max-batch"}},
     "{results: [answer as softphone.check gives it]}",
     "NOT_FOUND (the org) BATCH_TOO_LARGE"},
};

const sb_method_slice_t sb__softphone_methods = {methods, sizeof(methods) / sizeof(methods[0])};
