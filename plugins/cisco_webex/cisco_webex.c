/*
 * cisco_webex: Webex Contact Center's Salesforce connector (Open CTI), as
 * Cisco publishes its Call Center definition (webex-contact-center-crm-
 * connectors, salesforce/cti/OpenCTI.callCenter-meta.xml, in the corpus).
 * It reaches no Webex service.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "../common/adapter_util.h"

#define REQ "wxCCReqData"
#define ACTIVITY "wxCCCallActivity"

static int wx_init(const sb_host *host, void **state)
{
    *state = (void *)host;
    return SB_ADAPTER_OK;
}

static void wx_fini(void *state)
{
    (void)state;
}

static const sb_adapter_setting settings[] = {
    {"reqGeneralInfo", "reqAdapterUrl", "CTI Adapter URL", SB_ADAPTER_SETTING_REQUIRED,
     "https://wxcc-crmconnectors.ciscoccservice.com/salesforce/connector/v1/index.html",
     "the connector's page: https on ciscoccservice.com"},
    {"reqGeneralInfo", "reqUseApi", "Use CTI API", 0, "true", "true or false"},
    {"reqGeneralInfo", "reqSoftphoneHeight", "Softphone Height", 0, "550", "240 to 2,560"},
    {"reqGeneralInfo", "reqSoftphoneWidth", "Softphone Width", 0, "400", "200 to 1,920"},
    {"reqGeneralInfo", "reqSalesforceCompatibilityMode", "Salesforce Compatibility Mode", 0,
     "Lightning", "Lightning (the connector is a Lightning softphone)"},
    {REQ, "openCtiWxCCRegion", "WxCC Region", SB_ADAPTER_SETTING_REQUIRED, "us1",
     "the tenant's data center: us1, us2, eu1, eu2, anz1, ca1, jp1 or sg1"},
    {REQ, "wxccWebRtcDomain", "WxCC WebRTC Domain", 0, "", "empty, or the WebRTC domain's host"},
    {ACTIVITY, "subjectTemplate", "Subject Template", 0, "{direction} Call {activityDatetime}",
     "the subject of the call's activity record, with {direction} and {activityDatetime}"},
    {ACTIVITY, "recordCallLiveNotes", "Record Call Live Notes", 0, "true", "true or false"},
    {ACTIVITY, "disableActivityRecord", "Disable Activity Record Creation", 0, "false",
     "true or false"},
};

static size_t wx_describe(void *state, const sb_adapter_setting **out)
{
    (void)state;
    *out = settings;
    return sizeof(settings) / sizeof(settings[0]);
}

static int wx_claim(void *state, const sb_adapter_callcenter *cc)
{
    (void)state;
    if (sbu_has_section(cc, REQ))
        return 95;
    if (sbu_https_on(sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl"), "ciscoccservice.com"))
        return 90;
    return 0;
}

static bool is_region(const char *r)
{
    static const char *const regions[] = {"us1", "us2", "eu1", "eu2", "anz1",
                                          "ca1", "jp1", "sg1", NULL};
    for (size_t i = 0; r && regions[i]; i++)
        if (strcmp(r, regions[i]) == 0)
            return true;
    return false;
}

static int wx_validate(void *state, const sb_adapter_callcenter *cc, const sb_adapter_sink *sink)
{
    (void)state;
    int problems = 0;
    problems += sbu_require(
        sink, sbu_https_on(sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl"), "ciscoccservice.com"),
        "reqGeneralInfo", "reqAdapterUrl", "the connector's page is https on ciscoccservice.com");
    problems += sbu_require(sink, is_region(sbu_value(cc, REQ, "openCtiWxCCRegion")), REQ,
                            "openCtiWxCCRegion",
                            "the region is a Webex Contact Center data center: us1, us2, eu1, eu2, "
                            "anz1, ca1, jp1 or sg1");
    const char *domain = sbu_value(cc, REQ, "wxccWebRtcDomain");
    problems += sbu_require(sink,
                            domain == NULL || domain[0] == '\0' ||
                                sbu_only(domain, "abcdefghijklmnopqrstuvwxyz0123456789.-"),
                            REQ, "wxccWebRtcDomain", "the WebRTC domain is a host name, or empty");
    /* Every true/false switch of the connector's sections. */
    static const char *const sections[] = {ACTIVITY,
                                           "outdialData",
                                           "advancedScreenPopData",
                                           "objectCreationManagement",
                                           "omnichannelStateSyncConfiguration",
                                           "widgetSettings",
                                           NULL};
    static const char *const switches[] = {"recordCallLiveNotes",
                                           "recordCallLiveSubject",
                                           "changeActivityRecordOwnership",
                                           "assignActivityToSharedRecord",
                                           "disableActivityRecord",
                                           "openCtiEnableCrmSearch",
                                           "openCtiEnableAdvancedScreenPop",
                                           "openCtiFallbackToAni",
                                           "createObjectIncoming",
                                           "createObjectOutgoing",
                                           "openInEditMode",
                                           "enableOmniChannelSync",
                                           "sendBrowserNotifications",
                                           NULL};
    for (size_t s = 0; sections[s]; s++)
        for (size_t k = 0; switches[k]; k++) {
            const char *v = sbu_value(cc, sections[s], switches[k]);
            problems +=
                sbu_require(sink, v == NULL || strcmp(v, "true") == 0 || strcmp(v, "false") == 0,
                            sections[s], switches[k], "this switch is true or false");
        }
    return problems ? SB_ADAPTER_FAILED : SB_ADAPTER_OK;
}

static int wx_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                     const sb_adapter_sink *sink)
{
    (void)state;
    const char *url = sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl");
    sink->set(sink->ctx, "adapter_url", url ? url : "");
    const char *region = sbu_value(cc, REQ, "openCtiWxCCRegion");
    if (region)
        sink->set(sink->ctx, "region", region);
    sink->set(sink->ctx, "agent", user);
    return SB_ADAPTER_OK;
}

/* The Desktop SDK's agentContact events, as the connector forwards them:
 * {"type": "eAgentOfferContact" | "eAgentContactAssigned" | "eAgentContactHeld" |
 *  "eAgentContactUnHeld" | "eAgentContactEnded", "data": {"interactionId",
 *  "interaction": {"callAssociatedDetails": {"ani", "dn"}, "contactDirection": {"type"}}}} */
static int wx_call_event(void *state, const sb_adapter_callcenter *cc, const char *event,
                         const sb_adapter_sink *sink)
{
    (void)state;
    (void)cc;
    json_t *e = json_loads(event ? event : "", 0, NULL);
    const char *type = json_string_value(json_object_get(e, "type"));
    json_t *data = json_object_get(e, "data");
    const char *id = json_string_value(json_object_get(data, "interactionId"));
    static const sbu_pair map[] = {
        {"eAgentOfferContact", "start"}, {"eAgentContactAssigned", "accept"},
        {"eAgentContactHeld", "hold"},   {"eAgentContactUnHeld", "resume"},
        {"eAgentContactEnded", "end"},   {NULL, NULL}};
    const char *action = sbu_put_call_action(sink, map, type, id);
    if (action == NULL) {
        json_decref(e);
        return SB_ADAPTER_IGNORED;
    }
    json_t *interaction = json_object_get(data, "interaction");
    json_t *details = json_object_get(interaction, "callAssociatedDetails");
    const char *ani = json_string_value(json_object_get(details, "ani"));
    const char *dn = json_string_value(json_object_get(details, "dn"));
    if (ani)
        sink->set(sink->ctx, "from", ani);
    if (dn)
        sink->set(sink->ctx, "to", dn);
    if (strcmp(action, "start") == 0) {
        const char *dir = json_string_value(
            json_object_get(json_object_get(interaction, "contactDirection"), "type"));
        sink->set(sink->ctx, "call_type",
                  dir && strcmp(dir, "OUTBOUND") == 0 ? "outbound" : "inbound");
    }
    json_decref(e);
    return SB_ADAPTER_OK;
}

SB_ADAPTER_DEFINE(cisco_webex, "Cisco (Webex Contact Center)", "1.0.0",
                  "Webex Contact Center's Salesforce connector: checks its region and switches, "
                  "maps the Desktop SDK's contact events; it reaches no Webex service.",
                  .init = wx_init, .fini = wx_fini, .describe = wx_describe, .claim = wx_claim,
                  .validate = wx_validate, .render = wx_render, .call_event = wx_call_event)
