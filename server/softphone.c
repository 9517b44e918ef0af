#include "softphone.h"

#include <stdio.h>
#include <string.h>

const char *sb_softphone_reason_name(sb_softphone_reason_t reason)
{
    static const char *const names[] = {"OK", "UNKNOWN_USER", "NOT_A_MEMBER", "INVALID_USER_ID",
                                        "ADAPTER_NOT_LOADED"};
    return names[reason];
}

int sb_softphone_check(sb_store_t *store, sb_plugin_host_t *plugins, const char *org,
                       const char *user, sb_softphone_answer_t *out, sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->user, sizeof(out->user), "%s", user ? user : "");
    sb_sfid_t cc_id;
    sb_err_t why;
    int rc = sb_store_member_lookup(store, org, user, &cc_id, &why);
    sb_sfid_t normalized;
    if (rc != SB_E_INVALID_ID &&
        sb_sfid_normalize(user, SB_SFID_PREFIX_USER, "user id", &normalized, NULL) == 0)
        memcpy(out->user, normalized.s, sizeof(out->user));
    if (rc == SB_E_INVALID_ID) {
        out->reason = SB_SOFTPHONE_INVALID_USER_ID;
        snprintf(out->message, sizeof(out->message), "%s", why.message);
        return 0;
    }
    if (rc == -ENOENT) {
        /* The org's absence is an error of the request; the user's is an answer. */
        sb_org_t found;
        int org_rc = sb_store_org_get(store, org, &found, err);
        if (org_rc != 0)
            return org_rc;
        out->reason = SB_SOFTPHONE_UNKNOWN_USER;
        snprintf(out->message, sizeof(out->message),
                 "Switchboard does not know user %.18s in org '%s'; upsert the user, then add "
                 "them to a Call Center.",
                 out->user, org);
        return 0;
    }
    if (rc == SB_E_NOT_A_MEMBER) {
        out->reason = SB_SOFTPHONE_NOT_A_MEMBER;
        snprintf(out->message, sizeof(out->message),
                 "User %s is not a member of any Call Center in org '%s', so no softphone shows; "
                 "add them to one (member add).",
                 out->user, org);
        return 0;
    }
    if (rc != 0) {
        if (err != NULL)
            *err = why;
        return rc;
    }
    rc = sb_store_cc_get(store, org, cc_id.s, &out->callcenter, err);
    if (rc != 0)
        return rc;
    const char *adapter = out->callcenter->adapter;
    if (plugins != NULL && adapter[0] != '\0' && !sb_plugin_host_has(plugins, adapter)) {
        out->reason = SB_SOFTPHONE_ADAPTER_NOT_LOADED;
        snprintf(out->message, sizeof(out->message),
                 "User %s belongs to Call Center '%s', but its adapter '%s' is not loaded, so no "
                 "softphone shows: put %s.so in the plugin directory and run plugin reload (see "
                 "plugin list for why it was refused).",
                 out->user, sb_callcenter_internal_name(out->callcenter), adapter, adapter);
        return 0;
    }
    out->reason = SB_SOFTPHONE_OK;
    snprintf(out->message, sizeof(out->message), "User %s gets the softphone of Call Center '%s'.",
             out->user, sb_callcenter_internal_name(out->callcenter));
    return 0;
}

void sb_softphone_answer_destroy(sb_softphone_answer_t *answer)
{
    sb_callcenter_free(answer->callcenter);
    answer->callcenter = NULL;
}
