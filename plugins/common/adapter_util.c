#include "adapter_util.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

const char *sbu_value(const sb_adapter_callcenter *cc, const char *section, const char *name)
{
    for (size_t i = 0; i < cc->n_items; i++)
        if ((section == NULL || strcmp(cc->items[i].section, section) == 0) &&
            strcmp(cc->items[i].name, name) == 0)
            return cc->items[i].value;
    return NULL;
}

bool sbu_has_section(const sb_adapter_callcenter *cc, const char *section)
{
    for (size_t i = 0; i < cc->n_items; i++)
        if (strcmp(cc->items[i].section, section) == 0)
            return true;
    return false;
}

bool sbu_https_on(const char *url, const char *domain)
{
    if (url == NULL || strncmp(url, "https://", 8) != 0)
        return false;
    const char *host = url + 8;
    size_t host_len = strcspn(host, "/:?#");
    size_t domain_len = strlen(domain);
    if (host_len < domain_len || strncmp(host + host_len - domain_len, domain, domain_len) != 0)
        return false;
    return host_len == domain_len || host[host_len - domain_len - 1] == '.';
}

bool sbu_only(const char *s, const char *allowed)
{
    return s != NULL && *s != '\0' && strspn(s, allowed) == strlen(s);
}

bool sbu_is_uuid(const char *s)
{
    static const int dashes[] = {8, 13, 18, 23};
    if (s == NULL || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == dashes[0] || i == dashes[1] || i == dashes[2] || i == dashes[3];
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

void sbu_url_append(char *out, size_t cap, const char *text)
{
    size_t n = strlen(out);
    for (; text && *text && n + 4 < cap; text++) {
        unsigned char c = (unsigned char)*text;
        if (isalnum(c) || strchr("-_.~", c))
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", c);
    }
    out[n] = '\0';
}

int sbu_require(const sb_adapter_sink *sink, bool ok, const char *section, const char *name,
                const char *message)
{
    if (ok)
        return 0;
    sink->problem(sink->ctx, section, name, message);
    return 1;
}

const char *sbu_put_call_action(const sb_adapter_sink *sink, const sbu_pair *map, const char *kind,
                                const char *id)
{
    const char *action = NULL;
    for (size_t i = 0; kind && map[i].from && action == NULL; i++)
        if (strcmp(kind, map[i].from) == 0)
            action = map[i].to;
    if (action == NULL || id == NULL)
        return NULL;
    sink->set(sink->ctx, "action", action);
    sink->set(sink->ctx, "vendor_call_key", id);
    return action;
}

int sbu_map_json_event(const char *event, const char *kind_key, const char *id_key,
                       const sbu_pair *map, const sbu_pair *passed, const sb_adapter_sink *sink)
{
    json_t *e = json_loads(event ? event : "", 0, NULL);
    const char *kind = json_string_value(json_object_get(e, kind_key));
    const char *id = json_string_value(json_object_get(e, id_key));
    if (sbu_put_call_action(sink, map, kind, id) == NULL) {
        json_decref(e);
        return SB_ADAPTER_IGNORED;
    }
    for (size_t i = 0; passed && passed[i].from; i++) {
        const char *v = json_string_value(json_object_get(e, passed[i].from));
        if (v != NULL)
            sink->set(sink->ctx, passed[i].to, v);
    }
    json_decref(e);
    return SB_ADAPTER_OK;
}
