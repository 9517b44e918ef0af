#include "softphone_view.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { N_STRINGS = 8 }; /* cc_id .. detail, then the layout */

static void put_u32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, 4);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return le32toh(v);
}

int sb_softphone_view_encode(const sb_softphone_view_t *view, uint8_t **out, size_t *len)
{
    const char *strings[N_STRINGS - 1] = {view->cc_id,   view->internal_name, view->display_name,
                                          view->adapter, view->adapter_url,   view->layout_name,
                                          view->detail};
    size_t total = SB_VIEW_HEADER_BYTES;
    for (int i = 0; i < N_STRINGS - 1; i++)
        total += strlen(strings[i] ? strings[i] : "") + 1;
    total += view->layout_len;
    if (total > UINT32_MAX)
        return -E2BIG;
    uint8_t *buf = calloc(1, total);
    if (buf == NULL)
        return -ENOMEM;
    put_u32(buf, SB_VIEW_MAGIC);
    buf[4] = (uint8_t)view->reason;
    buf[5] = view->mode;
    buf[6] = (uint8_t)view->layout_source;
    buf[7] = view->scv ? 1 : 0;
    put_u32(buf + 8, view->height);
    put_u32(buf + 12, view->width);
    size_t at = SB_VIEW_HEADER_BYTES;
    for (int i = 0; i < N_STRINGS - 1; i++) {
        const char *s = strings[i] ? strings[i] : "";
        put_u32(buf + 16 + (size_t)4 * i, (uint32_t)at);
        memcpy(buf + at, s, strlen(s) + 1);
        at += strlen(s) + 1;
    }
    put_u32(buf + 16 + (size_t)4 * (N_STRINGS - 1), (uint32_t)at);
    put_u32(buf + 16 + (size_t)4 * N_STRINGS, view->layout_len);
    if (view->layout_len > 0)
        memcpy(buf + at, view->layout, view->layout_len);
    *out = buf;
    *len = total;
    return 0;
}

int sb_softphone_view_decode(const void *data, size_t len, sb_softphone_view_t *out)
{
    const uint8_t *p = data;
    if (len < SB_VIEW_HEADER_BYTES || get_u32(p) != SB_VIEW_MAGIC || p[4] >= SB_SOFTPHONE_REASONS ||
        p[6] > SB_LAYOUT_NONE)
        return -EBADMSG;
    const char **strings[N_STRINGS - 1] = {&out->cc_id,   &out->internal_name, &out->display_name,
                                           &out->adapter, &out->adapter_url,   &out->layout_name,
                                           &out->detail};
    for (int i = 0; i < N_STRINGS - 1; i++) {
        uint32_t off = get_u32(p + 16 + (size_t)4 * i);
        if (off < SB_VIEW_HEADER_BYTES || off >= len || memchr(p + off, '\0', len - off) == NULL)
            return -EBADMSG;
        *strings[i] = (const char *)p + off;
    }
    uint32_t layout_off = get_u32(p + 16 + (size_t)4 * (N_STRINGS - 1));
    uint32_t layout_len = get_u32(p + 16 + (size_t)4 * N_STRINGS);
    if (layout_off > len || layout_len > len - layout_off)
        return -EBADMSG;
    out->reason = (sb_softphone_reason_t)p[4];
    out->mode = p[5];
    out->layout_source = (sb_layout_source_t)p[6];
    out->scv = (p[7] & 1) != 0;
    out->height = get_u32(p + 8);
    out->width = get_u32(p + 12);
    out->layout = layout_len ? p + layout_off : NULL;
    out->layout_len = layout_len;
    return 0;
}

const char *sb_softphone_reason_name(sb_softphone_reason_t reason)
{
    static const char *const names[SB_SOFTPHONE_REASONS] = {"OK",
                                                            "UNKNOWN_USER",
                                                            "NOT_A_MEMBER",
                                                            "INVALID_USER_ID",
                                                            "ADAPTER_NOT_LOADED",
                                                            "ADAPTER_URL_NOT_HTTPS",
                                                            "NO_ADAPTER_URL",
                                                            "ADAPTER_REFUSED",
                                                            "NO_SCV_LICENCE"};
    return (unsigned)reason < SB_SOFTPHONE_REASONS ? names[reason] : "UNKNOWN";
}

size_t sb_softphone_view_key(char *buf, size_t cap, const char *org, const char *cc_id,
                             const char *profile)
{
    size_t org_len = strlen(org), cc_len = strlen(cc_id), profile_len = strlen(profile);
    size_t len = org_len + 1 + cc_len + 1 + profile_len;
    if (len > cap)
        return 0;
    memcpy(buf, org, org_len);
    buf[org_len] = '\0';
    memcpy(buf + org_len + 1, cc_id, cc_len);
    buf[org_len + 1 + cc_len] = '\0';
    memcpy(buf + org_len + 2 + cc_len, profile, profile_len);
    return len;
}

const char *sb_layout_source_name(sb_layout_source_t source)
{
    static const char *const names[] = {"profile", "default", "none"};
    return (unsigned)source <= SB_LAYOUT_NONE ? names[source] : "none";
}

bool sb_softphone_url_is_https(const char *url)
{
    return strncasecmp(url, "https://", 8) == 0 || (url[0] == '/' && url[1] != '/');
}

int sb_softphone_url_for(const char *url, const char *user, char *buf, size_t cap)
{
    const size_t ph = sizeof(SB_ADAPTER_USER_PLACEHOLDER) - 1;
    size_t ulen = strlen(user), at = 0;
    while (*url) {
        const char *hit = strstr(url, SB_ADAPTER_USER_PLACEHOLDER);
        size_t plain = hit ? (size_t)(hit - url) : strlen(url);
        size_t need = plain + (hit ? ulen : 0);
        if (at + need >= cap) {
            if (cap > 0)
                buf[0] = '\0';
            return -ENOSPC;
        }
        memcpy(buf + at, url, plain);
        at += plain;
        if (hit) {
            memcpy(buf + at, user, ulen);
            at += ulen;
            url = hit + ph;
        } else {
            url += plain;
        }
    }
    if (at >= cap)
        return -ENOSPC;
    buf[at] = '\0';
    return 0;
}

void sb_softphone_explain(sb_softphone_reason_t reason, const sb_softphone_view_t *view,
                          const char *org, const char *user, const char *profile, char *buf,
                          size_t cap)
{
    const char *cc = view ? view->internal_name : "";
    const char *adapter = view ? view->adapter : "";
    switch (reason) {
    case SB_SOFTPHONE_OK:
        if (view == NULL)
            snprintf(buf, cap, "User %s gets a softphone.", user);
        else if (view->layout_source == SB_LAYOUT_FROM_PROFILE)
            snprintf(buf, cap,
                     "User %s gets the softphone of Call Center '%s' with layout '%s' (assigned "
                     "to profile '%s').",
                     user, cc, view->layout_name, profile);
        else if (view->layout_source == SB_LAYOUT_FROM_DEFAULT)
            snprintf(buf, cap,
                     "User %s gets the softphone of Call Center '%s' with the org's default "
                     "layout '%s': profile '%s' has no layout of its own.",
                     user, cc, view->layout_name, profile);
        else
            snprintf(buf, cap,
                     "User %s gets the softphone of Call Center '%s', but with no softphone "
                     "layout: profile '%s' has none and the org has no default. Create one "
                     "(layout put --default).",
                     user, cc, profile);
        return;
    case SB_SOFTPHONE_UNKNOWN_USER:
        snprintf(buf, cap,
                 "Switchboard does not know user %.18s in org '%s'; upsert the user, then add "
                 "them to a Call Center.",
                 user, org);
        return;
    case SB_SOFTPHONE_NOT_A_MEMBER:
        snprintf(buf, cap,
                 "User %s is not a member of any Call Center in org '%s', so no softphone shows; "
                 "add them to one (member add).",
                 user, org);
        return;
    case SB_SOFTPHONE_INVALID_USER_ID:
        snprintf(buf, cap,
                 "'%.40s' is not a Salesforce user id (005 and 15 or 18 letters and digits); "
                 "check the id.",
                 user);
        return;
    case SB_SOFTPHONE_ADAPTER_NOT_LOADED:
        snprintf(buf, cap,
                 "User %s belongs to Call Center '%s', but its adapter '%s' is not loaded, so no "
                 "softphone shows: put %s.so in the plugin directory and run plugin reload (see "
                 "plugin list for why it was refused).",
                 user, cc, adapter, adapter);
        return;
    case SB_SOFTPHONE_ADAPTER_URL_NOT_HTTPS:
        snprintf(buf, cap,
                 "User %s belongs to Call Center '%s', a Lightning Call Center whose adapter URL "
                 "is not https, so Lightning refuses to show the softphone: change "
                 "/reqGeneralInfo/reqAdapterUrl to an https URL (callcenter update).",
                 user, cc);
        return;
    case SB_SOFTPHONE_NO_ADAPTER_URL:
        snprintf(buf, cap,
                 "User %s belongs to Call Center '%s', which has no adapter URL, so no softphone "
                 "can load: set /reqGeneralInfo/reqAdapterUrl (callcenter update) or, when its "
                 "definition file has no such item, import the file again with one.",
                 user, cc);
        return;
    case SB_SOFTPHONE_ADAPTER_REFUSED:
        snprintf(buf, cap,
                 "User %s belongs to Call Center '%s', but its adapter '%s' cannot render the "
                 "softphone: %s Fix the Call Center's settings (callcenter update).",
                 user, cc, adapter, view && view->detail[0] ? view->detail : "it gave no reason.");
        return;
    case SB_SOFTPHONE_NO_SCV_LICENCE:
        snprintf(buf, cap,
                 "User %s belongs to Call Center '%s', a Service Cloud Voice Call Center, but has "
                 "no Service Cloud Voice licence, so no softphone shows; assign the user the "
                 "\"Service Cloud Voice\" permission set licence (licence assign).",
                 user, cc);
        return;
    case SB_SOFTPHONE_REASONS:
        break;
    }
    snprintf(buf, cap, "No answer for user %s.", user);
}
