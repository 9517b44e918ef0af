/* callcenter.*: create, read, list, change, clone and delete Call Centers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definition.h"
#include "methods.h"
#include "plugin_host.h"
#include "record_codec.h"
#include "renders.h"

/* What a secret setting's value shows as (an empty one stays empty: "not set" is no secret). */
#define SECRET_MASK "********"

/* A value as an answer shows it: masked when `plugins` is given and the Call Center's adapter
 * marks the setting secret. */
static const char *shown(sb_plugin_host_t *plugins, const sb_callcenter_t *cc, const char *section,
                         const sb_cc_item_t *item)
{
    if (plugins != NULL && item->value[0] != '\0' &&
        sb_plugin_host_is_secret(plugins, cc->adapter, section, item->name))
        return SECRET_MASK;
    return item->value;
}

/* Packs `cc`, its secret values masked unless `plugins` is NULL. */
static int pack_cc(msgpack_packer *pk, const sb_callcenter_t *cc, sb_plugin_host_t *plugins)
{
    int rc = msgpack_pack_map(pk, 9);
    rc |= sb_pack_kv_str(pk, "id", cc->id.s);
    rc |= sb_pack_kv_str(pk, "internal_name", sb_callcenter_internal_name(cc));
    rc |= sb_pack_kv_str(pk, "display_name", sb_callcenter_display_name(cc));
    rc |= sb_pack_kv_str(pk, "kind", sb_cc_kind_name(sb_callcenter_kind(cc)));
    rc |= sb_pack_kv_str(pk, "adapter", cc->adapter);
    rc |= sb_pack_kv_str(pk, "compatibility_mode",
                         sb_cc_compat_mode_name(sb_callcenter_compat_mode(cc)));
    rc |= sb_pack_kv_int(pk, "created", cc->created_ms);
    rc |= sb_pack_kv_int(pk, "updated", cc->updated_ms);
    rc |= sb_pack_str(pk, "sections") | msgpack_pack_array(pk, cc->n_sections);
    for (size_t s = 0; s < cc->n_sections; s++) {
        const sb_cc_section_t *section = &cc->sections[s];
        rc |= msgpack_pack_map(pk, 4) | sb_pack_kv_str(pk, "name", section->name) |
              sb_pack_kv_str(pk, "label", section->label) |
              sb_pack_kv_uint(pk, "sort_order", section->sort_order);
        rc |= sb_pack_str(pk, "items") | msgpack_pack_array(pk, section->n_items);
        for (size_t i = 0; i < section->n_items; i++) {
            const sb_cc_item_t *item = &section->items[i];
            rc |= msgpack_pack_map(pk, 4) | sb_pack_kv_str(pk, "name", item->name) |
                  sb_pack_kv_str(pk, "label", item->label) |
                  sb_pack_kv_uint(pk, "sort_order", item->sort_order) |
                  sb_pack_kv_str(pk, "value", shown(plugins, cc, section->name, item));
        }
    }
    return rc;
}

/* {form, filename, xml}: `cc` written as a definition file in `form`. */
static int pack_file(msgpack_packer *pk, const sb_callcenter_t *cc, sb_cc_form_t form,
                     sb_err_t *err)
{
    char *xml = NULL;
    size_t len = 0;
    int rc = sb_definition_export(cc, form, &xml, &len, err);
    if (rc == 0) {
        char filename[300];
        sb_definition_filename(cc, form, filename, sizeof(filename));
        rc = msgpack_pack_map(pk, 3) | sb_pack_kv_str(pk, "form", sb_cc_form_name(form)) |
             sb_pack_kv_str(pk, "filename", filename) | sb_pack_str(pk, "xml") |
             msgpack_pack_str(pk, len) | msgpack_pack_str_body(pk, xml, len);
    }
    free(xml);
    return rc;
}

int sb__pack_callcenter(msgpack_packer *pk, const sb_callcenter_t *cc)
{
    return pack_cc(pk, cc, NULL);
}

/* reveal (callcenter get, export, settings): secret values in clear, for an org admin only. The
 * plugin host that masks them, or NULL when they are revealed. */
static int secrets_host(sb_call_t *call, sb_plugin_host_t **plugins, sb_err_t *err)
{
    *plugins = call->svc->plugins;
    if (!sb_arg_bool(call, "reveal", false))
        return 0;
    if (call->token.role < SB_ROLE_ORG_ADMIN)
        return sb_err_set(err, -EACCES,
                          "reveal shows the values of secret settings: it needs an org admin "
                          "token; this token is read-only.");
    *plugins = NULL;
    return 0;
}

/* Replaces, in `cc`, each secret value by the mask (for an export). Returns 0 or -ENOMEM. */
static int mask_in_place(sb_plugin_host_t *plugins, sb_callcenter_t *cc)
{
    for (size_t s = 0; plugins != NULL && cc != NULL && s < cc->n_sections; s++) {
        sb_cc_section_t *section = &cc->sections[s];
        for (size_t i = 0; i < section->n_items; i++) {
            sb_cc_item_t *item = &section->items[i];
            if (shown(plugins, cc, section->name, item) != item->value) {
                char *mask = strdup(SECRET_MASK);
                if (mask == NULL)
                    return -ENOMEM;
                free(item->value);
                item->value = mask;
            }
        }
    }
    return 0;
}

/* Packs `cc` as the result, its secret values masked (or revealed, if asked and allowed), and
 * frees it. */
static int answer(sb_call_t *call, msgpack_packer *pk, sb_callcenter_t *cc, int rc, sb_err_t *err)
{
    sb_plugin_host_t *plugins = NULL;
    if (rc == 0)
        rc = secrets_host(call, &plugins, err);
    if (rc == 0)
        rc = pack_cc(pk, cc, plugins);
    sb_callcenter_free(cc);
    return rc;
}

int sb__load_cc(sb_call_t *call, const char *text, sb_callcenter_t **cc, sb_err_t *err)
{
    if (text != NULL && text[0] != '\0' && !isdigit((unsigned char)text[0]))
        return sb_store_cc_get_by_name(call->svc->store, call->org, text, cc, err);
    return sb_store_cc_get(call->svc->store, call->org, text, cc, err);
}

/* A Call Center's adapter, when loaded, checks its settings; one named but
 * not loaded is accepted (softphone.check says so until it is). */
static int adapter_validates(sb_call_t *call, const sb_callcenter_t *cc, sb_err_t *err)
{
    if (cc->adapter[0] == '\0' || !sb_plugin_host_has(call->svc->plugins, cc->adapter))
        return 0;
    return sb_plugin_host_validate(call->svc->plugins, cc->adapter, cc, err);
}

/* ---- prepare steps: the adapter calls, on the thread pool (methods.h) ---- */

static void free_cc(void *cc)
{
    sb_callcenter_free(cc);
}

/* callcenter.create: the Call Center built from its fields, checked by its adapter. */
static int prepare_create(sb_call_t *call, sb_err_t *err)
{
    const char *use_api = NULL;
    const msgpack_object *use_api_arg = sb_arg_obj(call, "use_api");
    if (use_api_arg != NULL)
        use_api = use_api_arg->via.boolean ? "true" : "false";
    int64_t height = sb_arg_int(call, "softphone_height", 0);
    int64_t width = sb_arg_int(call, "softphone_width", 0);
    int64_t timeout = sb_arg_int(call, "timeout", 0);
    if (height > UINT32_MAX || width > UINT32_MAX || timeout > UINT32_MAX)
        return sb_err_set(err, SB_E_OUT_OF_RANGE,
                          "Softphone height 240 to 2,560, width 200 to 1,920, timeout up to "
                          "2,147,483,647 ms.");
    sb_cc_fields_t fields = {
        .internal_name = sb_arg_str(call, "internal_name"),
        .display_name = sb_arg_str(call, "display_name"),
        .adapter = sb_arg_str(call, "adapter"),
        .adapter_url = sb_arg_str(call, "adapter_url"),
        .vendor_info_api_name = sb_arg_str(call, "vendor_info_api_name"),
        .use_api = use_api,
        .softphone_height = (uint32_t)height,
        .softphone_width = (uint32_t)width,
        .compatibility_mode = sb_arg_str(call, "compatibility_mode"),
        .standby_url = sb_arg_str(call, "standby_url"),
        .timeout_ms = (uint32_t)timeout,
        .outside_prefix = sb_arg_str(call, "outside_prefix"),
        .long_distance_prefix = sb_arg_str(call, "long_distance_prefix"),
        .international_prefix = sb_arg_str(call, "international_prefix"),
    };
    sb_callcenter_t *def = NULL;
    int rc = sb_callcenter_from_fields(&fields, &def, err);
    if (rc == 0)
        rc = adapter_validates(call, def, err);
    if (rc != 0) {
        sb_callcenter_free(def);
        return rc;
    }
    call->prep = def;
    call->prep_free = free_cc;
    return 0;
}

static int cc_create(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const sb_callcenter_t *def = call->prep;
    if (def == NULL)
        return sb_err_default(err, -EINVAL);
    sb_callcenter_t *cc = NULL;
    int rc = sb_store_cc_create(call->svc->store, call->org, def, &cc, err);
    return answer(call, pk, cc, rc, err);
}

static int cc_get(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const char *id = sb_arg_str(call, "id");
    const char *name = sb_arg_str(call, "internal_name");
    if ((id == NULL) == (name == NULL))
        return sb_err_set(err, -EINVAL, "callcenter.get takes either 'id' or 'internal_name'.");
    sb_callcenter_t *cc = NULL;
    int rc = id ? sb_store_cc_get(call->svc->store, call->org, id, &cc, err)
                : sb_store_cc_get_by_name(call->svc->store, call->org, name, &cc, err);
    return answer(call, pk, cc, rc, err);
}

static int cc_list(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_cc_summary_t *rows;
    size_t n;
    bool more;
    int rc = sb_store_cc_list(call->svc->store, call->org, sb_arg_str(call, "after"),
                              sb_arg_limit(call), &rows, &n, &more, err);
    if (rc != 0)
        return rc;
    rc = msgpack_pack_map(pk, 2) | sb_pack_str(pk, "callcenters") | msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        rc |= msgpack_pack_map(pk, 5) | sb_pack_kv_str(pk, "id", rows[i].id.s) |
              sb_pack_kv_str(pk, "internal_name", rows[i].internal_name) |
              sb_pack_kv_str(pk, "display_name", rows[i].display_name) |
              sb_pack_kv_str(pk, "adapter", rows[i].adapter) |
              sb_pack_kv_uint(pk, "members", rows[i].members);
    rc |= sb_pack_kv_bool(pk, "more", more);
    free(rows);
    return rc;
}

/* "values": {"/section/item": "value", ...} into changes (strings in the zone). */
static int parse_values(sb_call_t *call, const msgpack_object *values, sb_cc_change_t **out,
                        size_t *n, sb_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (values == NULL)
        return 0;
    size_t count = values->via.map.size;
    sb_cc_change_t *changes =
        msgpack_zone_malloc(call->zone, (count ? count : 1) * sizeof(*changes));
    if (changes == NULL)
        return sb_err_default(err, -ENOMEM);
    for (size_t i = 0; i < count; i++) {
        const char *path = sb_obj_str(call, &values->via.map.ptr[i].key);
        const char *value = sb_obj_str(call, &values->via.map.ptr[i].val);
        if (path == NULL || value == NULL)
            return sb_err_set(err, -EINVAL,
                              "'values' maps field paths (\"/section/item\") to strings.");
        char *section = msgpack_zone_malloc(call->zone, strlen(path) + 1);
        if (section == NULL)
            return sb_err_default(err, -ENOMEM);
        const char *rest = path[0] == '/' ? path + 1 : path;
        memcpy(section, rest, strlen(rest) + 1);
        char *slash = strchr(section, '/');
        if (slash == NULL || slash == section || slash[1] == '\0' || strchr(slash + 1, '/'))
            return sb_err_set(err, -EINVAL,
                              "The field path '%.100s' is not of the form /section/item.", path);
        *slash = '\0';
        changes[i] = (sb_cc_change_t){section, slash + 1, value};
    }
    *out = changes;
    *n = count;
    return 0;
}

/* callcenter.update: the change tried on a copy and checked by the adapter
 * (which renders it too), as of the Call Center's record `base`. */
typedef struct update_prep {
    sb_cc_change_t *changes; /* [borrowed: the call's zone] */
    size_t n;
    const char *adapter; /* [borrowed: the call's zone] */
    sb_sfid_t id;
    msgpack_sbuffer base; /* the record the check was made on */
} update_prep_t;

static void update_prep_free(void *ctx)
{
    update_prep_t *u = ctx;
    msgpack_sbuffer_destroy(&u->base);
    free(u);
}

static int prepare_update(sb_call_t *call, sb_err_t *err)
{
    sb_cc_change_t *changes;
    size_t n;
    int rc = parse_values(call, sb_arg_obj(call, "values"), &changes, &n, err);
    const char *adapter = sb_arg_str(call, "adapter");
    if (rc == 0 && n == 0 && adapter == NULL)
        rc = sb_err_set(err, -EINVAL, "callcenter.update needs 'values', 'adapter' or both.");
    /* The change is tried on a copy first, so that the adapter can refuse it
     * before anything is written. */
    sb_callcenter_t *cc = NULL, *trial = NULL;
    if (rc == 0)
        rc = sb__load_cc(call, sb_arg_str(call, "id"), &cc, err);
    if (rc == 0)
        rc = sb_callcenter_copy(cc, &trial) == 0 ? 0 : sb_err_default(err, -ENOMEM);
    if (rc == 0)
        rc = sb_callcenter_apply(trial, changes, n, err);
    if (rc == 0 && adapter != NULL)
        rc = sb_callcenter_set_adapter(trial, adapter) == 0 ? 0 : sb_err_default(err, -ENOMEM);
    if (rc == 0)
        rc = adapter_validates(call, trial, err);
    if (rc == 0 && call->svc->renders != NULL)
        sb_softphone_prerender(call->svc->renders, call->org, trial);
    sb_callcenter_free(trial);
    update_prep_t *u = rc == 0 ? calloc(1, sizeof(*u)) : NULL;
    if (rc == 0 && u == NULL)
        rc = sb_err_default(err, -ENOMEM);
    if (rc == 0) {
        *u = (update_prep_t){.changes = changes, .n = n, .adapter = adapter, .id = cc->id};
        msgpack_sbuffer_init(&u->base);
        if (sb_codec_encode_callcenter(cc, &u->base) != 0) {
            update_prep_free(u);
            rc = sb_err_default(err, -ENOMEM);
        } else {
            call->prep = u;
            call->prep_free = update_prep_free;
        }
    }
    sb_callcenter_free(cc);
    return rc;
}

static int cc_update(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const update_prep_t *u = call->prep;
    if (u == NULL)
        return sb_err_default(err, -EINVAL);
    /* The adapter checked the change against the record as it was then;
     * the write goes ahead only on that same record. */
    sb_callcenter_t *cc = NULL;
    int rc = sb_store_cc_get(call->svc->store, call->org, u->id.s, &cc, err);
    msgpack_sbuffer now;
    msgpack_sbuffer_init(&now);
    if (rc == 0 && sb_codec_encode_callcenter(cc, &now) != 0)
        rc = sb_err_default(err, -ENOMEM);
    if (rc == 0 && (now.size != u->base.size || memcmp(now.data, u->base.data, now.size) != 0))
        rc = sb_err_set(err, -EAGAIN,
                        "The Call Center %s changed while its adapter checked this change; "
                        "nothing was written. Retry.",
                        u->id.s);
    msgpack_sbuffer_destroy(&now);
    sb_callcenter_free(cc);
    sb_callcenter_t *updated = NULL;
    if (rc == 0)
        rc = sb_store_cc_update(call->svc->store, call->org, u->id.s, u->changes, u->n, u->adapter,
                                &updated, err);
    return answer(call, pk, updated, rc, err);
}

/* callcenter.template: the adapter's declared settings, asked off the loop. */
static int prepare_template(sb_call_t *call, sb_err_t *err)
{
    sb_callcenter_t *cc = NULL;
    int rc = sb_plugin_host_template(call->svc->plugins, sb_arg_str(call, "adapter"), &cc, err);
    if (rc == 0) {
        call->prep = cc;
        call->prep_free = free_cc;
    }
    return rc;
}

static int cc_template(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const sb_callcenter_t *cc = call->prep;
    sb_cc_form_t form = SB_CC_FORM_IMPORT;
    const char *form_name = sb_arg_str(call, "form");
    int rc = 0;
    if (form_name != NULL && sb_cc_form_parse(form_name, &form) != 0)
        rc = sb_err_set(err, -EINVAL, "The form is import or metadata, not '%.40s'.", form_name);
    if (rc == 0 && cc == NULL)
        rc = sb_err_default(err, -EINVAL);
    if (rc == 0)
        rc = pack_file(pk, cc, form, err);
    return rc;
}

static int cc_clone(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_callcenter_t *cc = NULL;
    int rc = sb_store_cc_clone(call->svc->store, call->org, sb_arg_str(call, "id"),
                               sb_arg_str(call, "internal_name"), sb_arg_str(call, "display_name"),
                               &cc, err);
    return answer(call, pk, cc, rc, err);
}

static int cc_delete(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_callcenter_t *cc = NULL; /* by id or internal name, as the other callcenter methods */
    int rc = sb__load_cc(call, sb_arg_str(call, "id"), &cc, err);
    sb_sfid_t id = cc ? cc->id : (sb_sfid_t){{0}};
    sb_callcenter_free(cc);
    if (rc == 0)
        rc = sb_store_cc_delete(call->svc->store, call->org, id.s,
                                sb_arg_bool(call, "force", false), err);
    if (rc == 0) /* its rendering is of no more use (a failed commit only costs a re-render) */
        sb_softphone_forget(call->svc->renders, call->org, id.s);
    return rc == 0 ? msgpack_pack_map(pk, 1) | sb_pack_kv_str(pk, "deleted", id.s) : rc;
}

/* callcenter.import: the file read and checked, its adapter claimed and
 * asked, all before the write (a dry run needs no write at all). */
typedef struct import_prep {
    sb_callcenter_t *def; /* [owned] */
    sb_warnings_t warnings;
    int confidence;
    bool dry_run;
    char adapter_problems[sizeof(((sb_err_t *)0)->message) + 80];
} import_prep_t;

static void import_prep_free(void *ctx)
{
    import_prep_t *p = ctx;
    sb_callcenter_free(p->def);
    sb_warnings_free(&p->warnings);
    free(p);
}

static int prepare_import(sb_call_t *call, sb_err_t *err)
{
    import_prep_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return sb_err_default(err, -ENOMEM);
    size_t len;
    const char *file = sb_arg_bytes(call, "file", &len);
    int rc = sb_definition_import(file, len, sb_arg_str(call, "filename"),
                                  sb_arg_str(call, "internal_name"), &p->def, &p->warnings, err);
    /* The adapter: the one named, else the best claim of the loaded ones. */
    const char *adapter = sb_arg_str(call, "adapter");
    char claimed[SB_PLUGIN_NAME_MAX + 1] = "";
    if (rc == 0 && adapter == NULL) {
        rc = sb_plugin_host_claim(call->svc->plugins, p->def, claimed, &p->confidence, err);
        adapter = claimed[0] ? claimed : NULL;
    }
    if (rc == 0 && adapter != NULL)
        rc = sb_callcenter_set_adapter(p->def, adapter) == 0 ? 0 : sb_err_default(err, -ENOMEM);
    /* An adapter named by the operator refuses what breaks its rules. One
     * that claimed the file says so as a warning: vendors' templates carry
     * placeholders, and the file imports as Salesforce would take it. */
    if (rc == 0 && claimed[0] != '\0') {
        sb_err_t why;
        sb_err_clear(&why);
        if (adapter_validates(call, p->def, &why) != 0)
            snprintf(p->adapter_problems, sizeof(p->adapter_problems),
                     "%s Fix them (callcenter update) before its users take calls.", why.message);
    } else if (rc == 0) {
        rc = adapter_validates(call, p->def, err);
    }
    p->dry_run = sb_arg_bool(call, "dry_run", false);
    if (rc != 0) {
        import_prep_free(p);
        return rc;
    }
    call->prep = p;
    call->prep_free = import_prep_free;
    call->prep_only = p->dry_run; /* nothing to write: answered on the loop */
    return 0;
}

static int cc_import(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const import_prep_t *p = call->prep;
    if (p == NULL)
        return sb_err_default(err, -EINVAL);
    const sb_callcenter_t *def = p->def;
    sb_callcenter_t *cc = NULL;
    int rc = 0;
    if (!p->dry_run)
        rc = sb_store_cc_create(call->svc->store, call->org, def, &cc, err);
    if (rc == 0) {
        /* The reply is bounded by construction: at most SB_WARNINGS_KEEP
         * warnings of at most SB_WARNING_MAX bytes and two of ours, a
         * sentence for the rest, and the Call Center (at most a 1 MiB file's). */
        bool unclaimed = def->adapter[0] == '\0';
        bool problems = p->adapter_problems[0] != '\0';
        size_t more = p->warnings.total - p->warnings.n;
        size_t total = p->warnings.total + unclaimed + problems;
        rc = msgpack_pack_map(pk, 6) | sb_pack_kv_bool(pk, "dry_run", p->dry_run) |
             sb_pack_kv_str(pk, "form", sb_cc_form_name(def->form)) |
             sb_pack_kv_int(pk, "claim", p->confidence) |
             sb_pack_kv_uint(pk, "warnings_total", total);
        rc |= sb_pack_str(pk, "warnings") |
              msgpack_pack_array(pk, p->warnings.n + unclaimed + problems + (more > 0));
        if (problems)
            rc |= sb_pack_str(pk, p->adapter_problems);
        for (size_t i = 0; i < p->warnings.n; i++)
            rc |= sb_pack_str(pk, p->warnings.lines[i]);
        if (more > 0) {
            char line[160];
            snprintf(line, sizeof(line),
                     "... and %zu more warnings of the same kinds (only the first %zu are "
                     "listed).",
                     more, p->warnings.n);
            rc |= sb_pack_str(pk, line);
        }
        if (unclaimed)
            rc |= sb_pack_str(pk, "no loaded adapter claims this file; it has no adapter until "
                                  "one is named (callcenter update --adapter).");
        rc |= sb_pack_str(pk, "callcenter") | pack_cc(pk, cc ? cc : def, call->svc->plugins);
    }
    sb_callcenter_free(cc);
    return rc;
}

static int cc_export(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_callcenter_t *cc = NULL;
    int rc = sb__load_cc(call, sb_arg_str(call, "id"), &cc, err);
    sb_cc_form_t form = cc ? cc->form : SB_CC_FORM_IMPORT;
    const char *form_name = sb_arg_str(call, "form");
    if (rc == 0 && form_name != NULL && sb_cc_form_parse(form_name, &form) != 0)
        rc = sb_err_set(err, -EINVAL, "The form is import or metadata, not '%.40s'.", form_name);
    sb_plugin_host_t *plugins = NULL;
    if (rc == 0)
        rc = secrets_host(call, &plugins, err);
    if (rc == 0 && mask_in_place(plugins, cc) != 0)
        rc = sb_err_default(err, -ENOMEM);
    if (rc == 0)
        rc = pack_file(pk, cc, form, err);
    sb_callcenter_free(cc);
    return rc;
}

/* The shape of Open CTI's getCallCenterSettings: "/section/item" -> value. */
static int cc_settings(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_callcenter_t *cc = NULL;
    sb_plugin_host_t *plugins = NULL;
    int rc = secrets_host(call, &plugins, err);
    if (rc == 0)
        rc = sb__load_cc(call, sb_arg_str(call, "id"), &cc, err);
    if (rc != 0)
        return rc;
    size_t n = 0;
    for (size_t s = 0; s < cc->n_sections; s++)
        for (size_t i = 0; i < cc->sections[s].n_items; i++)
            n += sb_callcenter_find(cc, cc->sections[s].name, cc->sections[s].items[i].name) ==
                 &cc->sections[s].items[i]; /* a repeated item: its first value */
    rc = msgpack_pack_map(pk, 1) | sb_pack_str(pk, "settings") | msgpack_pack_map(pk, n);
    for (size_t s = 0; s < cc->n_sections; s++) {
        const sb_cc_section_t *section = &cc->sections[s];
        for (size_t i = 0; i < section->n_items; i++) {
            if (sb_callcenter_find(cc, section->name, section->items[i].name) != &section->items[i])
                continue;
            char path[520];
            snprintf(path, sizeof(path), "/%s/%s", section->name, section->items[i].name);
            rc |= sb_pack_kv_str(pk, path, shown(plugins, cc, section->name, &section->items[i]));
        }
    }
    sb_callcenter_free(cc);
    return rc;
}

#define REVEAL_ARG                                                                                 \
    {                                                                                              \
        "reveal", SB_ARG_BOOLEAN, false,                                                           \
            "show the values of settings the adapter marks secret, masked as ******** otherwise "  \
            "(an org admin token)"                                                                 \
    }
#define CC_RESULT                                                                                  \
    "the Call Center: {id, internal_name, display_name, kind, adapter, compatibility_mode, "       \
    "created, updated, sections: [{name, label, sort_order, items: [{name, label, sort_order, "    \
    "value}]}]}"
#define FIELD_ERRORS                                                                               \
    "INVALID_INTERNAL_NAME INVALID_DISPLAY_NAME OUT_OF_RANGE INVALID_COMPATIBILITY_MODE "          \
    "STANDBY_WITHOUT_TIMEOUT MISSING_FIELD INVALID_VALUE"

static const sb_method_t methods[] = {
    {"callcenter.create",
     "Creates a Call Center from its fields, with Salesforce's standard sections and labels.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     cc_create,
     {SB_ARG_ORG,
      {"internal_name", SB_ARG_STRING, true, "1 to 40 letters and digits, starting with a letter"},
      {"display_name", SB_ARG_STRING, true, "1 to 1,000 characters"},
      {"adapter", SB_ARG_STRING, false, "the adapter plugin that serves it"},
      {"adapter_url", SB_ARG_STRING, false, "the CTI adapter URL (required for Open CTI)"},
      {"vendor_info_api_name", SB_ARG_STRING, false,
       "makes it a Service Cloud Voice Call Center (no adapter URL then)"},
      {"use_api", SB_ARG_BOOLEAN, false, "Use CTI API"},
      {"softphone_height", SB_ARG_INTEGER, false, "240 to 2,560"},
      {"softphone_width", SB_ARG_INTEGER, false, "200 to 1,920"},
      {"compatibility_mode", SB_ARG_STRING, false,
       "Classic (default), Lightning, "
       "Classic_and_Lightning"},
      {"standby_url", SB_ARG_STRING, false, "only together with timeout"},
      {"timeout", SB_ARG_INTEGER, false, "milliseconds before the standby URL is used"},
      {"outside_prefix", SB_ARG_STRING, false, "dialing prefix for outside lines"},
      {"long_distance_prefix", SB_ARG_STRING, false, "dialing prefix for long distance"},
      {"international_prefix", SB_ARG_STRING, false, "dialing prefix for international"}},
     CC_RESULT,
     "NOT_FOUND INTERNAL_NAME_TAKEN " FIELD_ERRORS},
    {"callcenter.get",
     "Reads a Call Center by id or by internal name.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     cc_get,
     {SB_ARG_ORG,
      {"id", SB_ARG_STRING, false, "its 15- or 18-character id"},
      {"internal_name", SB_ARG_STRING, false, "or its internal name (any case)"},
      REVEAL_ARG},
     CC_RESULT,
     "NOT_FOUND INVALID_ID"},
    {"callcenter.list",
     "Lists an org's Call Centers by id, with their member counts.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     cc_list,
     {SB_ARG_ORG, SB_ARGS_PAGE("Call Centers")},
     "{callcenters: [{id, internal_name, display_name, adapter, members}], more}",
     "NOT_FOUND INVALID_ID"},
    {"callcenter.update",
     "Changes values of fields the Call Center has (its field set is fixed at creation), and its "
     "adapter; all or nothing.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     cc_update,
     {SB_ARG_ORG,
      {"id", SB_ARG_STRING, true, "the Call Center"},
      {"values", SB_ARG_MAP, false, "{\"/section/item\": \"new value\", ...}"},
      {"adapter", SB_ARG_STRING, false, "a new adapter plugin name"}},
     CC_RESULT,
     "NOT_FOUND FIELD_NOT_IN_SET INTERNAL_NAME_IMMUTABLE BUSY (changed meanwhile: "
     "retry) " FIELD_ERRORS},
    {"callcenter.clone",
     "Creates a Call Center with the same adapter, sections and items under a new internal name; "
     "members are not copied.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     cc_clone,
     {SB_ARG_ORG,
      {"id", SB_ARG_STRING, true, "the Call Center to copy"},
      {"internal_name", SB_ARG_STRING, true, "the new one's internal name"},
      {"display_name", SB_ARG_STRING, false, "the new one's display name (default: the same)"}},
     CC_RESULT,
     "NOT_FOUND INTERNAL_NAME_TAKEN INVALID_INTERNAL_NAME"},
    {"callcenter.import",
     "Creates a Call Center from a definition file, in either form (told by its structure). A "
     "file that breaks a rule is refused with the rule, the element and its line; what real files "
     "do that the documentation forbids is accepted with warnings.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     cc_import,
     {SB_ARG_ORG,
      {"file", SB_ARG_BYTES, true,
       "the file's bytes: at most 1 MiB, and the request within --max-message-bytes"},
      {"filename", SB_ARG_STRING, false,
       "its name: a Metadata API file (NAME.callCenter-meta.xml) takes its internal name from it"},
      {"internal_name", SB_ARG_STRING, false, "the internal name, instead of the file's"},
      {"adapter", SB_ARG_STRING, false, "the adapter plugin that serves it"},
      {"dry_run", SB_ARG_BOOLEAN, false, "check the file and answer, but store nothing"}},
     "{dry_run, form: import | metadata, claim: the claiming adapter's confidence, "
     "warnings_total: how many warnings the file gave, warnings: [sentence] (the first 100, then "
     "one that counts the rest), callcenter: the Call Center as callcenter.get gives it (without "
     "id when dry_run)}",
     "NOT_FOUND INVALID_DEFINITION INTERNAL_NAME_TAKEN " FIELD_ERRORS},
    {"callcenter.export",
     "Writes a Call Center as a definition file, in the form it came in or the one asked for.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     cc_export,
     {SB_ARG_ORG,
      {"id", SB_ARG_STRING, true, "the Call Center's id, or its internal name"},
      {"form", SB_ARG_STRING, false, "import or metadata (default: the form it was imported in)"},
      REVEAL_ARG},
     "{form, filename: the name a partner would give the file, xml: the file}",
     "NOT_FOUND INVALID_ID INVALID_ARGUMENT"},
    {"callcenter.settings",
     "A Call Center's settings as Open CTI's getCallCenterSettings returns them: a flat map of "
     "/section/item to value (a repeated item gives its first value).",
     SB_ROLE_READ_ONLY,
     false,
     true,
     cc_settings,
     {SB_ARG_ORG,
      {"id", SB_ARG_STRING, true, "the Call Center's id, or its internal name"},
      REVEAL_ARG},
     "{settings: {\"/reqGeneralInfo/reqInternalName\": value, ...}}",
     "NOT_FOUND INVALID_ID"},
    {"callcenter.template",
     "The definition file a partner would ship for an adapter: the settings it declares, with "
     "their defaults. It imports cleanly.",
     SB_ROLE_READ_ONLY,
     false,
     false,
     cc_template,
     {{"adapter", SB_ARG_STRING, true, "a loaded adapter's name"},
      {"form", SB_ARG_STRING, false, "import (default) or metadata"}},
     "{form, filename, xml}",
     "NOT_FOUND (the adapter) INVALID_ARGUMENT"},
    {"callcenter.delete",
     "Deletes a Call Center; refused while it has members unless forced (which removes them).",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     cc_delete,
     {SB_ARG_ORG,
      {"id", SB_ARG_STRING, true, "the Call Center's id, or its internal name"},
      {"force", SB_ARG_BOOLEAN, false, "delete it with its memberships"}},
     "{deleted: id}",
     "NOT_FOUND CALLCENTER_HAS_MEMBERS RULES_INVALID (an assignment rule's target)"},
};

const sb_method_slice_t sb__callcenter_methods = {methods, sizeof(methods) / sizeof(methods[0])};

static const sb_method_prep_t preps[] = {
    {"callcenter.create", prepare_create},
    {"callcenter.update", prepare_update},
    {"callcenter.import", prepare_import},
    {"callcenter.template", prepare_template},
};

const sb_method_prep_slice_t sb__callcenter_preps = {preps, sizeof(preps) / sizeof(preps[0])};
