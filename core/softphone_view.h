#pragma once
/*
 * The softphone view: the answer of the softphone check for the members of
 * one Call Center who share one profile, computed when something it depends
 * on is written (the Call Center, the adapter's rendering, the layouts) and
 * stored in the `views` database. A check reads the user's membership and
 * then this view: two B-tree look-ups, no plugin code, nothing to compute.
 *
 * Stored form (little-endian, so that any process on the machine reads it
 * without decoding into allocated memory): a fixed header, then the
 * strings, each NUL-terminated, then the layout as msgpack in Switchboard's
 * own shape. The header's offsets are from the start of the value:
 *
 *   u32 magic "SBV1"   u8 reason   u8 mode   u8 layout_source   u8 flags
 *   (flags: 1 = a Service Cloud Voice Call Center; views written before
 *   issue 15 hold 0 there, until the server's start refreshes them)
 *   u32 height         u32 width
 *   u32 offsets of: cc_id internal_name display_name adapter adapter_url
 *                   layout_name detail layout   (8 x u32)
 *   u32 layout_len
 *
 * The rendered adapter URL holds SB_ADAPTER_USER_PLACEHOLDER where the
 * adapter put the user's id; the reader puts the id in its place.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sfid.h"

/** Why a user has no softphone, or SB_SOFTPHONE_OK. Names are part of the protocol. */
typedef enum sb_softphone_reason {
    SB_SOFTPHONE_OK = 0,
    SB_SOFTPHONE_UNKNOWN_USER,
    SB_SOFTPHONE_NOT_A_MEMBER,
    SB_SOFTPHONE_INVALID_USER_ID,
    SB_SOFTPHONE_ADAPTER_NOT_LOADED,
    SB_SOFTPHONE_ADAPTER_URL_NOT_HTTPS, /* Lightning needs https */
    SB_SOFTPHONE_NO_ADAPTER_URL,        /* an Open CTI Call Center without one */
    SB_SOFTPHONE_ADAPTER_REFUSED,       /* the adapter could not render it; detail says why */
    SB_SOFTPHONE_NO_SCV_LICENCE, /* a Service Cloud Voice Call Center's member without the licence
                                  */
    SB_SOFTPHONE_REASONS
} sb_softphone_reason_t;

/** Where the layout of a view came from. */
typedef enum sb_layout_source {
    SB_LAYOUT_FROM_PROFILE = 0, /* assigned to the user's profile */
    SB_LAYOUT_FROM_DEFAULT,     /* the org's default: the profile has none */
    SB_LAYOUT_NONE,             /* no layout for the profile and no default */
} sb_layout_source_t;

/** The placeholder an adapter's rendering holds where the user's id goes. */
#define SB_ADAPTER_USER_PLACEHOLDER "__SB_USER_ID__"

#define SB_VIEW_MAGIC 0x31564253u /* "SBV1" */
#define SB_VIEW_HEADER_BYTES 52
#define SB_VIEW_URL_MAX 2048 /* bytes of a rendered adapter URL */

/** A view; when decoded, its pointers point into the stored value. */
typedef struct sb_softphone_view {
    sb_softphone_reason_t reason; /* OK, or one of the Call Center's reasons */
    uint8_t mode;                 /* sb_cc_compat_mode_t */
    bool scv;                     /* a Service Cloud Voice Call Center: members need the licence */
    sb_layout_source_t layout_source;
    uint32_t height, width;
    const char *cc_id, *internal_name, *display_name, *adapter;
    const char *adapter_url; /* with the placeholder */
    const char *layout_name; /* "" when none */
    const char *detail;      /* the adapter's refusal, or "" */
    const uint8_t *layout;   /* msgpack, Switchboard's shape; NULL when none */
    uint32_t layout_len;
} sb_softphone_view_t;

/**
 * The key of a view in the `views` database, shared by the store and the
 * in-process read library: org \0 Call Center id \0 profile. Writes it to
 * buf and returns its length, or 0 when it does not fit in `cap`.
 */
size_t sb_softphone_view_key(char *buf, size_t cap, const char *org, const char *cc_id,
                             const char *profile);

/** Encodes `view` into *out [owned: free()], *len bytes. */
int sb_softphone_view_encode(const sb_softphone_view_t *view, uint8_t **out, size_t *len);

/**
 * Decodes a stored view without copying: out's strings point into `data`.
 * Checks the magic and that every offset and string lies inside it.
 * Returns 0, or -EBADMSG.
 */
int sb_softphone_view_decode(const void *data, size_t len, sb_softphone_view_t *out);

/** The reason's stable name ("OK", "NOT_A_MEMBER", ...). */
const char *sb_softphone_reason_name(sb_softphone_reason_t reason);

/** The layout source's name: "profile", "default" or "none". */
const char *sb_layout_source_name(sb_layout_source_t source);

/**
 * Whether Lightning loads `url` as secure: https, or relative to the org's
 * own (https) domain, such as a Visualforce page's "/apex/...".
 */
bool sb_softphone_url_is_https(const char *url);

/**
 * Copies `url` into buf with every placeholder replaced by `user`. Returns
 * 0, or -ENOSPC when it does not fit (buf then holds "").
 */
int sb_softphone_url_for(const char *url, const char *user, char *buf, size_t cap);

/**
 * The sentence for an answer: what it means and what the operator should
 * do. `view` is NULL for the reasons found before a view (unknown user,
 * not a member, invalid id).
 */
void sb_softphone_explain(sb_softphone_reason_t reason, const sb_softphone_view_t *view,
                          const char *org, const char *user, const char *profile, char *buf,
                          size_t cap);
