/* layout.*: softphone layouts, their assignment to profiles, and the default. */
#include <stdlib.h>
#include <string.h>

#include "methods.h"

static int pack_warnings(msgpack_packer *pk, const sb_layout_t *layout)
{
    sb_layout_warnings_t w;
    sb_layout_warn(layout, &w);
    int rc = sb_pack_str(pk, "warnings") | msgpack_pack_array(pk, w.n);
    for (size_t i = 0; i < w.n; i++)
        rc |= sb_pack_str(pk, w.text[i]);
    return rc;
}

static int layout_put(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_layout_t *layout = malloc(sizeof(*layout));
    if (layout == NULL)
        return sb_err_default(err, -ENOMEM);
    int rc = sb_layout_parse(sb_arg_obj(call, "layout"), layout, err);
    if (rc == 0)
        rc = sb_store_layout_put(call->svc->store, call->org, layout,
                                 sb_arg_bool(call, "default", false), err);
    if (rc == 0)
        rc = msgpack_pack_map(pk, 2) | sb_pack_str(pk, "layout") | sb_layout_pack(pk, layout) |
             pack_warnings(pk, layout);
    free(layout);
    return rc;
}

static int layout_get(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const char *format = sb_arg_str(call, "format");
    bool opencti = format != NULL && strcmp(format, "opencti") == 0;
    if (format != NULL && !opencti && strcmp(format, "switchboard") != 0)
        return sb_err_set(err, -EINVAL, "format is switchboard (the default) or opencti.");
    sb_layout_t *layout = malloc(sizeof(*layout));
    if (layout == NULL)
        return sb_err_default(err, -ENOMEM);
    int rc =
        sb_store_layout_get(call->svc->store, call->org, sb_arg_str(call, "name"), layout, err);
    if (rc == 0 && opencti)
        rc = sb_layout_pack_opencti(pk, layout);
    else if (rc == 0)
        rc = msgpack_pack_map(pk, 2) | sb_pack_str(pk, "layout") | sb_layout_pack(pk, layout) |
             pack_warnings(pk, layout);
    free(layout);
    return rc;
}

static int layout_list(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_layout_summary_t *rows;
    size_t n;
    sb_layout_assignment_t *assigned;
    size_t n_assigned;
    int rc = sb_store_layout_list(call->svc->store, call->org, &rows, &n, err);
    if (rc != 0)
        return rc;
    rc = sb_store_layout_assignments(call->svc->store, call->org, &assigned, &n_assigned, err);
    if (rc != 0) {
        free(rows);
        return rc;
    }
    rc = msgpack_pack_map(pk, 2) | sb_pack_str(pk, "layouts") | msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        rc |= msgpack_pack_map(pk, 3) | sb_pack_kv_str(pk, "name", rows[i].name) |
              sb_pack_kv_bool(pk, "default", rows[i].is_default) |
              sb_pack_kv_uint(pk, "profiles", rows[i].profiles);
    size_t n_profiles = 0;
    for (size_t i = 0; i < n_assigned; i++)
        n_profiles += assigned[i].profile[0] != '\0';
    rc |= sb_pack_str(pk, "assignments") | msgpack_pack_array(pk, n_profiles);
    for (size_t i = 0; i < n_assigned; i++)
        if (assigned[i].profile[0] != '\0')
            rc |= msgpack_pack_map(pk, 2) | sb_pack_kv_str(pk, "profile", assigned[i].profile) |
                  sb_pack_kv_str(pk, "layout", assigned[i].layout);
    free(rows);
    free(assigned);
    return rc;
}

static int layout_assign(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const char *profile = sb_arg_str(call, "profile");
    const char *layout = sb_arg_str(call, "layout");
    bool unassign = sb_arg_bool(call, "unassign", false);
    if ((layout == NULL) == !unassign)
        return sb_err_set(err, -EINVAL,
                          "Give --layout NAME to assign, or --unassign to remove "
                          "the assignment; not both.");
    if (profile != NULL && profile[0] == '\0')
        return sb_err_set(err, -EINVAL,
                          "The profile is not empty; leave --profile out to set the default.");
    int rc = sb_store_layout_assign(call->svc->store, call->org, profile, layout, err);
    if (rc != 0)
        return rc;
    return msgpack_pack_map(pk, 2) | sb_pack_kv_str(pk, "profile", profile) |
           sb_pack_kv_str(pk, "layout", layout);
}

static int layout_delete(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    int rc = sb_store_layout_delete(call->svc->store, call->org, sb_arg_str(call, "name"),
                                    sb_arg_bool(call, "force", false), err);
    return rc == 0
               ? msgpack_pack_map(pk, 1) | sb_pack_kv_str(pk, "deleted", sb_arg_str(call, "name"))
               : rc;
}

#define LAYOUT_SHAPE                                                                               \
    "{name, screen_pops_open_within: existing_window | new_window, call_types: {inbound, "         \
    "outbound, internal: {fields: [ANI, DNIS, SEGMENT, QUEUE], objects: {Contact | Account | "     \
    "Lead | Case: [field]}, screen_pop: {no_match, single_match, multiple_matches: {action: none " \
    "| record | search | new_record | flow, object (new_record), flow (flow)}}}}, call_states: "   \
    "{ringing, in_call, after_call: {fields: [ANI, DNIS, SEGMENT, QUEUE, DURATION, RECORD], "      \
    "actions: [answer, decline, hold, mute, transfer, end, wrap_up, log_call]}}}"

static const sb_method_t methods[] = {
    {"layout.put",
     "Creates or replaces a softphone layout; refuses one that cannot work and warns where it "
     "hides what agents need.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     layout_put,
     {SB_ARG_ORG,
      {"layout", SB_ARG_MAP, true, "the layout (docs/layouts.md): " LAYOUT_SHAPE},
      {"default", SB_ARG_BOOLEAN, false, "also make it the org's default layout"}},
     "{layout, warnings: [sentence]}",
     "NOT_FOUND (the org) INVALID_VALUE (with the path of the value at fault)"},
    {"layout.get",
     "A softphone layout, in Switchboard's shape or the shape Open CTI's getSoftphoneLayout "
     "returns.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     layout_get,
     {SB_ARG_ORG,
      {"name", SB_ARG_STRING, true, "the layout's name"},
      {"format", SB_ARG_STRING, false, "switchboard (default) or opencti"}},
     "switchboard: {layout, warnings}; opencti: {Inbound, Outbound, Internal: {callRelatedFields, "
     "objects: {Object: [{apiName, displayName}]}, screenPopSettings: {screenPopsOpenWithin, "
     "NoMatch, SingleMatch, MultipleMatches: {screenPopType, screenPopData}}}}",
     "NOT_FOUND"},
    {"layout.list",
     "The org's softphone layouts, which is the default, and which profile has which.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     layout_list,
     {SB_ARG_ORG},
     "{layouts: [{name, default, profiles: count}], assignments: [{profile, layout}]}",
     "NOT_FOUND (the org)"},
    {"layout.assign",
     "Gives a profile its softphone layout (without --profile: makes it the org's default), or "
     "removes the profile's own (--unassign) so that its users get the default.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     layout_assign,
     {SB_ARG_ORG,
      {"profile", SB_ARG_STRING, false, "the profile; leave out for the org's default"},
      {"layout", SB_ARG_STRING, false, "the layout's name"},
      {"unassign", SB_ARG_BOOLEAN, false, "remove the profile's (or the default) assignment"}},
     "{profile, layout}",
     "NOT_FOUND (the org, the layout, or the assignment to remove)"},
    {"layout.delete",
     "Deletes a softphone layout; refused while it is assigned, unless forced.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     layout_delete,
     {SB_ARG_ORG,
      {"name", SB_ARG_STRING, true, "the layout's name"},
      {"force", SB_ARG_BOOLEAN, false, "also remove its assignments"}},
     "{deleted: name}",
     "NOT_FOUND LAYOUT_IN_USE"},
};

const sb_method_slice_t sb__layout_methods = {methods, sizeof(methods) / sizeof(methods[0])};
