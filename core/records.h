#pragma once
/* The small fixed-size records of the store: orgs, users and access tokens. */

#include <stdbool.h>
#include <stdint.h>

#include "sfid.h"

#define SB_ORG_NAME_MAX 255     /* bytes */
#define SB_USER_NAME_MAX 255    /* bytes */
#define SB_PROFILE_NAME_MAX 255 /* bytes */
#define SB_USER_ATTR_MAX 255    /* bytes of a department, division or role */

/** A tenant. Every other record belongs to exactly one org. */
typedef struct sb_org {
    char id[SB_ORG_ID_MAX + 1];     /* letters, digits, '-', '_' */
    char name[SB_ORG_NAME_MAX + 1]; /* free text, UTF-8 */
    int64_t created_ms;             /* set by the store */
} sb_org_t;

/**
 * A user of an org; the profile picks the softphone layout. Department,
 * division and role are what Salesforce orgs draw populations by, and what
 * assignment rules (rules.h) match: each may be empty, and a record stored
 * before they existed decodes with them empty.
 */
typedef struct sb_user {
    sb_sfid_t id;                          /* 18 characters, key prefix 005 */
    char name[SB_USER_NAME_MAX + 1];       /* UTF-8 */
    char profile[SB_PROFILE_NAME_MAX + 1]; /* UTF-8, may be empty */
    char department[SB_USER_ATTR_MAX + 1]; /* UTF-8, may be empty */
    char division[SB_USER_ATTR_MAX + 1];   /* UTF-8, may be empty */
    char role[SB_USER_ATTR_MAX + 1];       /* UTF-8, may be empty: the user's role's name */
    /* Holds the "Service Cloud Voice" permission set licence, without which
     * a Service Cloud Voice Call Center shows its member no softphone. Set by
     * licence.assign; an upsert keeps it. */
    bool scv_licence;
} sb_user_t;

/* ---- access tokens ----------------------------------------------------- */

typedef enum sb_role {
    SB_ROLE_NONE = 0,
    SB_ROLE_READ_ONLY = 1, /* reads one org */
    SB_ROLE_ORG_ADMIN = 2, /* reads and changes one org */
    SB_ROLE_ADMIN = 3,     /* every org, and the server itself */
} sb_role_t;

#define SB_TOKEN_HASH_BYTES 32
#define SB_TOKEN_ID_MAX 32
#define SB_TOKEN_LABEL_MAX 128

/** What the store keeps of a token: never the token itself, only its hash (the key). */
typedef struct sb_token_record {
    char id[SB_TOKEN_ID_MAX + 1]; /* public handle, for listing and revoking */
    char org[SB_ORG_ID_MAX + 1];  /* "" for an admin token */
    sb_role_t role;
    char label[SB_TOKEN_LABEL_MAX + 1]; /* free text: who or what uses it */
    int64_t created_ms;
} sb_token_record_t;
