#include "vendor_adapter.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

void sbu_vendor_fini(void *state)
{
    (void)state;
}

size_t sbu_vendor_describe_n(void *state, const sb_adapter_setting **out)
{
    const sbu_vendor *v = state;
    *out = v->settings;
    return v->n_settings;
}

static bool on_vendor_domain(const sbu_vendor *v, const char *url)
{
    for (size_t i = 0; v->domains[i]; i++)
        if (sbu_https_on(url, v->domains[i]))
            return true;
    return false;
}

int sbu_vendor_claim(void *state, const sb_adapter_callcenter *cc)
{
    const sbu_vendor *v = state;
    if (sbu_has_section(cc, v->section))
        return 95;
    if (on_vendor_domain(v, sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl")))
        return 90;
    return 0;
}

static bool one_of(const char *value, const char *choices)
{
    size_t len = strlen(value);
    for (const char *p = choices; *p;) {
        size_t n = strcspn(p, "|");
        if (n == len && strncmp(p, value, n) == 0)
            return true;
        p += n + (p[n] == '|');
    }
    return false;
}

static bool rule_holds(const sbu_rule *r, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return !r->required;
    switch (r->kind) {
    case SBU_HOST:
        return sbu_only(value, "abcdefghijklmnopqrstuvwxyz0123456789.-");
    case SBU_DIGITS:
        return sbu_only(value, "0123456789");
    case SBU_BOOL:
        return strcmp(value, "true") == 0 || strcmp(value, "false") == 0;
    case SBU_ONE_OF:
        return one_of(value, r->choices);
    case SBU_TOKEN:
        return sbu_only(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
    }
    return false;
}

int sbu_vendor_validate(void *state, const sb_adapter_callcenter *cc, const sb_adapter_sink *sink)
{
    const sbu_vendor *v = state;
    char message[256];
    snprintf(message, sizeof(message), "the adapter page is https on %s%s%s", v->domains[0],
             v->domains[1] ? " or another of the vendor's domains, such as " : "",
             v->domains[1] ? v->domains[1] : "");
    int problems =
        sbu_require(sink, on_vendor_domain(v, sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl")),
                    "reqGeneralInfo", "reqAdapterUrl", message);
    for (const sbu_rule *r = v->rules; r && r->section; r++)
        problems += sbu_require(sink, rule_holds(r, sbu_value(cc, r->section, r->name)), r->section,
                                r->name, r->message);
    return problems ? SB_ADAPTER_FAILED : SB_ADAPTER_OK;
}

int sbu_vendor_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                      const sb_adapter_sink *sink)
{
    (void)state;
    const char *url = sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl");
    sink->set(sink->ctx, "adapter_url", url ? url : "");
    sink->set(sink->ctx, "agent", user);
    return SB_ADAPTER_OK;
}

/* The string at a dotted path of a JSON object ("callData.callId"), or NULL. */
static const char *at_path(json_t *root, const char *path)
{
    if (path == NULL)
        return NULL;
    json_t *node = root;
    char key[64];
    while (node && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        node = json_object_get(node, key);
        path += n + (path[n] == '.');
    }
    return json_string_value(node);
}

int sbu_vendor_call_event(void *state, const sb_adapter_callcenter *cc, const char *event,
                          const sb_adapter_sink *sink)
{
    (void)cc;
    const sbu_vendor *v = state;
    json_t *e = json_loads(event ? event : "", 0, NULL);
    const char *type = at_path(e, v->event_type);
    const char *id = at_path(e, v->event_id);
    const char *action = sbu_put_call_action(sink, v->event_map, type, id);
    if (action == NULL) {
        json_decref(e);
        return SB_ADAPTER_IGNORED;
    }
    const char *from = at_path(e, v->event_from), *to = at_path(e, v->event_to);
    if (from)
        sink->set(sink->ctx, "from", from);
    if (to)
        sink->set(sink->ctx, "to", to);
    if (strcmp(action, "start") == 0) {
        const char *dir = at_path(e, v->event_direction);
        sink->set(sink->ctx, "call_type",
                  dir && v->outbound && strcmp(dir, v->outbound) == 0 ? "outbound" : "inbound");
    }
    json_decref(e);
    return SB_ADAPTER_OK;
}
