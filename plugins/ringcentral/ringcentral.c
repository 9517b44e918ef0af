/*
 * ringcentral: RingCentral's Open CTI softphones for Salesforce: the
 * managed package's Visualforce page (/apex/RCPhone, as the RingCentral
 * Embeddable demo's Call Center definition has it, in the corpus) and the
 * RingCentral Embeddable widget itself, hosted by RingCentral.
 * It reaches no RingCentral service.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../common/adapter_util.h"

#define RC "ringCentralSettings"

static int rc_init(const sb_host *host, void **state)
{
    *state = (void *)host;
    return SB_ADAPTER_OK;
}

static void rc_fini(void *state)
{
    (void)state;
}

static const sb_adapter_setting settings[] = {
    {"reqGeneralInfo", "reqAdapterUrl", "CTI Adapter URL", SB_ADAPTER_SETTING_REQUIRED,
     "/apex/RCPhone",
     "the package's page (/apex/RCPhone) or the Embeddable widget, https on ringcentral.com or "
     "ringcentral.github.io"},
    {"reqGeneralInfo", "reqUseApi", "Use CTI API", 0, "true", "true or false"},
    {"reqGeneralInfo", "reqSoftphoneHeight", "Softphone Height", 0, "550", "240 to 2,560"},
    {"reqGeneralInfo", "reqSoftphoneWidth", "Softphone Width", 0, "300", "200 to 1,920"},
    {"reqGeneralInfo", "reqSalesforceCompatibilityMode", "Salesforce Compatibility Mode", 0,
     "Lightning", "Classic, Lightning or Classic_and_Lightning"},
    {RC, "rcAppServer", "RingCentral App Server", 0, "https://platform.ringcentral.com",
     "RingCentral's API server: https on ringcentral.com"},
    {RC, "rcClientId", "RingCentral Client ID", 0, "",
     "empty, or the app's client id: letters, digits, '-' and '_'"},
};

static size_t rc_describe(void *state, const sb_adapter_setting **out)
{
    (void)state;
    *out = settings;
    return sizeof(settings) / sizeof(settings[0]);
}

static bool widget_url(const char *url)
{
    return sbu_https_on(url, "ringcentral.com") || sbu_https_on(url, "ringcentral.github.io");
}

static int rc_claim(void *state, const sb_adapter_callcenter *cc)
{
    (void)state;
    const char *url = sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl");
    if (sbu_has_section(cc, RC) || (url && strstr(url, "/apex/RCPhone")) || widget_url(url))
        return 90;
    if (strncmp(cc->internal_name, "RingCentral", 11) == 0)
        return 60;
    return 0;
}

static int rc_validate(void *state, const sb_adapter_callcenter *cc, const sb_adapter_sink *sink)
{
    (void)state;
    int problems = 0;
    const char *url = sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl");
    problems += sbu_require(sink, (url && strncmp(url, "/apex/", 6) == 0) || widget_url(url),
                            "reqGeneralInfo", "reqAdapterUrl",
                            "the softphone is the package's page (/apex/RCPhone) or the "
                            "Embeddable widget, https on ringcentral.com or ringcentral.github.io");
    const char *server = sbu_value(cc, RC, "rcAppServer");
    problems += sbu_require(
        sink, server == NULL || server[0] == '\0' || sbu_https_on(server, "ringcentral.com"), RC,
        "rcAppServer", "the app server is https on ringcentral.com");
    const char *client = sbu_value(cc, RC, "rcClientId");
    problems += sbu_require(
        sink,
        client == NULL || client[0] == '\0' ||
            sbu_only(client, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"),
        RC, "rcClientId", "the client id is letters, digits, '-' and '_'");
    return problems ? SB_ADAPTER_FAILED : SB_ADAPTER_OK;
}

static int rc_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                     const sb_adapter_sink *sink)
{
    (void)state;
    (void)user;
    char url[2048];
    const char *base = sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl");
    snprintf(url, sizeof(url), "%s", base ? base : "");
    /* The Embeddable widget reads its app server and client id from its URL. */
    const char *server = sbu_value(cc, RC, "rcAppServer");
    const char *client = sbu_value(cc, RC, "rcClientId");
    if (widget_url(base) && server && server[0]) {
        strncat(url,
                strchr(url, '?') ? "&appServer=" : "?appServer=", sizeof(url) - strlen(url) - 1);
        sbu_url_append(url, sizeof(url), server);
        if (client && client[0]) {
            strncat(url, "&clientId=", sizeof(url) - strlen(url) - 1);
            sbu_url_append(url, sizeof(url), client);
        }
    }
    sink->set(sink->ctx, "adapter_url", url);
    return SB_ADAPTER_OK;
}

/* The Embeddable widget's call events (postMessage): {"type": "rc-call-ring-notify" |
 * "rc-call-start-notify" | "rc-call-hold-notify" | "rc-call-resume-notify" |
 * "rc-call-end-notify", "call": {"telephonySessionId" or "sessionId", "direction",
 * "from", "to"}}, where from and to are numbers or {"phoneNumber"}. */
static const char *number_of(json_t *v)
{
    return json_is_string(v) ? json_string_value(v)
                             : json_string_value(json_object_get(v, "phoneNumber"));
}

static int rc_call_event(void *state, const sb_adapter_callcenter *cc, const char *event,
                         const sb_adapter_sink *sink)
{
    (void)state;
    (void)cc;
    json_t *e = json_loads(event ? event : "", 0, NULL);
    const char *type = json_string_value(json_object_get(e, "type"));
    json_t *call = json_object_get(e, "call");
    const char *id = json_string_value(json_object_get(call, "telephonySessionId"));
    if (id == NULL)
        id = json_string_value(json_object_get(call, "sessionId"));
    static const sbu_pair map[] = {
        {"rc-call-ring-notify", "start"}, {"rc-call-start-notify", "accept"},
        {"rc-call-hold-notify", "hold"},  {"rc-call-resume-notify", "resume"},
        {"rc-call-end-notify", "end"},    {NULL, NULL}};
    const char *action = sbu_put_call_action(sink, map, type, id);
    if (action == NULL) {
        json_decref(e);
        return SB_ADAPTER_IGNORED;
    }
    const char *from = number_of(json_object_get(call, "from"));
    const char *to = number_of(json_object_get(call, "to"));
    if (from)
        sink->set(sink->ctx, "from", from);
    if (to)
        sink->set(sink->ctx, "to", to);
    if (strcmp(action, "start") == 0) {
        const char *dir = json_string_value(json_object_get(call, "direction"));
        sink->set(sink->ctx, "call_type",
                  dir && strcmp(dir, "Outbound") == 0 ? "outbound" : "inbound");
    }
    json_decref(e);
    return SB_ADAPTER_OK;
}

SB_ADAPTER_DEFINE(ringcentral, "RingCentral", "1.0.0",
                  "RingCentral's Open CTI softphone (the package's page or the Embeddable widget): "
                  "checks where it lives, renders the widget's URL, maps its call events; it "
                  "reaches no RingCentral service.",
                  .init = rc_init, .fini = rc_fini, .describe = rc_describe, .claim = rc_claim,
                  .validate = rc_validate, .render = rc_render, .call_event = rc_call_event)
