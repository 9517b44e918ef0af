#pragma once
/* The small fixed-size records of the store: orgs and users. */

#include <stdint.h>

#include "sfid.h"

#define SB_ORG_NAME_MAX 255     /* bytes */
#define SB_USER_NAME_MAX 255    /* bytes */
#define SB_PROFILE_NAME_MAX 255 /* bytes */

/** A tenant. Every other record belongs to exactly one org. */
typedef struct sb_org {
    char id[SB_ORG_ID_MAX + 1];     /* letters, digits, '-', '_' */
    char name[SB_ORG_NAME_MAX + 1]; /* free text, UTF-8 */
    int64_t created_ms;             /* set by the store */
} sb_org_t;

/** A user of an org; the profile picks the softphone layout. */
typedef struct sb_user {
    sb_sfid_t id;                          /* 18 characters, key prefix 005 */
    char name[SB_USER_NAME_MAX + 1];       /* UTF-8 */
    char profile[SB_PROFILE_NAME_MAX + 1]; /* UTF-8, may be empty */
} sb_user_t;
