#pragma once
/*
 * The softphone check: does this user see a softphone, which one, and why
 * not. For now the answer is the user's Call Center and its softphone
 * fields; the adapter's rendering and the layout join it with the plugin
 * host and the layouts.
 */

#include <stdbool.h>

#include "plugin_host.h"
#include "store.h"

/** Why a user has no softphone, or SB_SOFTPHONE_OK. Names are part of the protocol. */
typedef enum sb_softphone_reason {
    SB_SOFTPHONE_OK = 0,
    SB_SOFTPHONE_UNKNOWN_USER,
    SB_SOFTPHONE_NOT_A_MEMBER,
    SB_SOFTPHONE_INVALID_USER_ID,
    SB_SOFTPHONE_ADAPTER_NOT_LOADED,
} sb_softphone_reason_t;

typedef struct sb_softphone_answer {
    sb_softphone_reason_t reason;
    char user[SB_SFID_LEN + 1];  /* normalized when valid, else as given (truncated) */
    char message[512];           /* what it means and what to do */
    sb_callcenter_t *callcenter; /* [owned] when reason is OK */
} sb_softphone_answer_t;

/** The reason's stable name ("OK", "NOT_A_MEMBER", ...). */
const char *sb_softphone_reason_name(sb_softphone_reason_t reason);

/**
 * Checks `user` of `org`; `plugins` (may be NULL) tells whether the Call
 * Center's adapter is loaded. Returns 0 with the answer in *out (a user who gets
 * no softphone is an answer, not an error), or an error when the org does
 * not exist or the store fails. Release with sb_softphone_answer_destroy().
 */
int sb_softphone_check(sb_store_t *store, sb_plugin_host_t *plugins, const char *org,
                       const char *user, sb_softphone_answer_t *out, sb_err_t *err);

void sb_softphone_answer_destroy(sb_softphone_answer_t *answer);
