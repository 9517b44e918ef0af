/* softphone.*: does a user see a softphone, which one, and why not. */
#include <stdlib.h>
#include <string.h>

#include "methods.h"

static int pack_answer(msgpack_packer *pk, const sb_softphone_answer_t *a)
{
    const sb_softphone_view_t *v = a->blob ? &a->view : NULL;
    int rc = msgpack_pack_map(pk, 13);
    rc |= sb_pack_kv_str(pk, "user", a->user);
    rc |= sb_pack_kv_bool(pk, "softphone", a->reason == SB_SOFTPHONE_OK);
    rc |= sb_pack_kv_str(pk, "reason", sb_softphone_reason_name(a->reason));
    rc |= sb_pack_kv_str(pk, "message", a->message);
    rc |= sb_pack_str(pk, "callcenter");
    if (v != NULL)
        rc |= msgpack_pack_map(pk, 3) | sb_pack_kv_str(pk, "id", v->cc_id) |
              sb_pack_kv_str(pk, "internal_name", v->internal_name) |
              sb_pack_kv_str(pk, "display_name", v->display_name);
    else
        rc |= msgpack_pack_nil(pk);
    rc |= sb_pack_kv_str(pk, "adapter", v && v->adapter[0] ? v->adapter : NULL);
    rc |= sb_pack_kv_str(pk, "adapter_url", v && a->adapter_url[0] ? a->adapter_url : NULL);
    rc |= sb_pack_str(pk, "softphone_height");
    rc |= v && v->height ? msgpack_pack_uint32(pk, v->height) : msgpack_pack_nil(pk);
    rc |= sb_pack_str(pk, "softphone_width");
    rc |= v && v->width ? msgpack_pack_uint32(pk, v->width) : msgpack_pack_nil(pk);
    rc |= sb_pack_kv_str(pk, "compatibility_mode",
                         v ? sb_cc_compat_mode_name((sb_cc_compat_mode_t)v->mode) : NULL);
    rc |= sb_pack_kv_str(pk, "layout_name", v && v->layout_name[0] ? v->layout_name : NULL);
    rc |= sb_pack_kv_str(pk, "layout_source", v ? sb_layout_source_name(v->layout_source) : NULL);
    rc |= sb_pack_str(pk, "layout");
    if (v != NULL && v->layout != NULL) /* stored as msgpack: copied as it is */
        rc |= pk->callback(pk->data, (const char *)v->layout, v->layout_len);
    else
        rc |= msgpack_pack_nil(pk);
    return rc;
}

static int check_one(sb_call_t *call, const char *user, msgpack_packer *pk, sb_err_t *err)
{
    sb_softphone_answer_t answer;
    int rc = sb_store_softphone_check(call->svc->store, call->org, user, &answer, err);
    if (rc == 0)
        rc = pack_answer(pk, &answer);
    sb_softphone_answer_destroy(&answer);
    return rc;
}

static int softphone_check(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    return check_one(call, sb_arg_str(call, "user"), pk, err);
}

/* Users checked per turn of the event loop: a batch of 10,000 would hold the
 * loop for about half a second (every other tenant waiting); 256 keep each
 * turn near 15 ms on a loaded machine. Each check takes its own read
 * transaction, as a single check does, so that none is held across turns:
 * the answers of one batch may come from different snapshots, exactly as
 * the same checks sent one by one would. */
#define BATCH_SLICE 256

static int softphone_check_batch(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const msgpack_object *users = sb_arg_obj(call, "users");
    size_t n = users->via.array.size;
    if (call->cursor == 0) {
        if (n == 0 || n > call->svc->config->max_batch)
            return sb_err_set(err, SB_E_BATCH_TOO_LARGE,
                              "softphone.check_batch takes 1 to %zu users; this request has %zu.",
                              call->svc->config->max_batch, n);
        for (size_t i = 0; i < n; i++)
            if (users->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
                return sb_err_set(err, -EINVAL,
                                  "'users' is an array of user id strings (item %zu).", i + 1);
        /* The org is checked before anything is packed, so that an error
         * response never follows half a result. */
        sb_org_t org;
        int rc = sb_store_org_get(call->svc->store, call->org, &org, err);
        if (rc != 0)
            return rc;
        rc = msgpack_pack_map(pk, 1) | sb_pack_str(pk, "results") | msgpack_pack_array(pk, n);
        if (rc != 0)
            return -ENOMEM;
    }
    /* The reply grows in memory until it is whole: past the largest reply
     * the connection may be sent, stop early with an error that says how
     * much would have fitted, rather than finish work nobody can receive. */
    const msgpack_sbuffer *reply = pk->data;
    size_t max = sb_config_reply_max(call->svc->config);
    size_t end = call->cursor + BATCH_SLICE < n ? call->cursor + BATCH_SLICE : n;
    int rc = 0;
    for (size_t i = call->cursor; rc == 0 && i < end; i++) {
        const char *user = sb_obj_str(call, &users->via.array.ptr[i]);
        rc = check_one(call, user ? user : "", pk, err);
        if (rc == 0 && reply->size > max)
            return sb_err_set(err, SB_E_REPLY_TOO_LARGE,
                              "The answers for this batch pass %zu bytes after %zu of its %zu "
                              "users, the largest reply this server sends (--write-cap-bytes "
                              "minus --write-high-bytes); send batches of at most %zu users.",
                              max, i + 1, n, i > 1 ? i / 2 : 1);
    }
    if (rc != 0)
        return rc;
    call->cursor = end;
    return end < n ? SB_CALL_MORE : 0;
}

#define ANSWER                                                                                     \
    "{user, softphone: bool, reason: OK | UNKNOWN_USER | NOT_A_MEMBER | INVALID_USER_ID | "        \
    "ADAPTER_NOT_LOADED | ADAPTER_URL_NOT_HTTPS | NO_ADAPTER_URL | ADAPTER_REFUSED, message: "     \
    "what it means and what to do, callcenter: {id, internal_name, display_name} or nil, "         \
    "adapter, adapter_url (as the adapter renders it for this user), softphone_height, "           \
    "softphone_width, compatibility_mode, layout_name, layout_source: profile | default | none, "  \
    "layout (as layout.get gives it) or nil}"

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
     "softphone.check for many users in one request, in order. Served 256 users per turn of the "
     "server's loop, so that other requests are answered meanwhile; each check reads the latest "
     "data, so a batch that runs while data changes may mix answers from before and after.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     softphone_check_batch,
     {SB_ARG_ORG, {"users", SB_ARG_ARRAY, true, "[user id], at most --max-batch"}},
     "{results: [answer as softphone.check gives it]}",
     "NOT_FOUND (the org) BATCH_TOO_LARGE REPLY_TOO_LARGE (the answers would pass the largest "
     "reply; "
     "the message says how many users fit)"},
};

const sb_method_slice_t sb__softphone_methods = {methods, sizeof(methods) / sizeof(methods[0])};
