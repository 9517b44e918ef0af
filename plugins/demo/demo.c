/*
 * demo: Salesforce's Open CTI demo adapter (the reference Open CTI
 * softphone, a Visualforce page that simulates calls, optionally through
 * Twilio). Switchboard's reference adapter: what a partner adapter does,
 * with nothing of a vendor's cloud behind it.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../common/adapter_util.h"

static const sb_host *host;

static int demo_init(const sb_host *h, void **state)
{
    host = h;
    *state = NULL;
    host->log(SB_ADAPTER_LOG_DEBUG, "demo", "ready: simulated calls only");
    return SB_ADAPTER_OK;
}

static void demo_fini(void *state)
{
    (void)state;
}

/* As Salesforce's demo adapter package ships its Call Center
 * (developerforce/open-cti-demo-adapter, src/callCenters/OpenCTI.callCenter). */
static const sb_adapter_setting settings[] = {
    {"reqGeneralInfo", "reqAdapterUrl", "CTI Adapter URL", SB_ADAPTER_SETTING_REQUIRED,
     "/apex/demoAdapterPage", "the demo's Visualforce page (/apex/...) or an https URL"},
    {"reqGeneralInfo", "reqUseApi", "Use CTI API", 0, "true", "true or false"},
    {"reqGeneralInfo", "reqSoftphoneHeight", "Softphone Height", 0, "550", "240 to 2,560"},
    {"reqGeneralInfo", "reqSoftphoneWidth", "Softphone Width", 0, "400", "200 to 1,920"},
    {"reqGeneralInfo", "reqSalesforceCompatibilityMode", "Salesforce Compatibility Mode", 0,
     "Classic_and_Lightning", "Classic, Lightning or Classic_and_Lightning"},
    {"reqDialingOptions", "reqOutsidePrefix", "Outside Prefix", 0, "9", "digits"},
    {"reqDialingOptions", "reqLongDistPrefix", "Long Distance Prefix", 0, "1", "digits"},
    {"reqDialingOptions", "reqInternationalPrefix", "International Prefix", 0, "01", "digits"},
    {"reqPhoneDemoSettings", "reqIncomingNumber", "Simulated Incoming Phone Number",
     SB_ADAPTER_SETTING_REQUIRED, "(415) 555-1212", "a phone number: digits, spaces, ( ) + -"},
    {"reqPhoneDemoSettings", "reqProvider", "CTI Provider", SB_ADAPTER_SETTING_REQUIRED,
     "DummyProvider", "DummyProvider (simulated calls) or Twilio"},
    {"reqPhoneDemoSettings", "reqProviderAccount", "Provider Account", 0, "",
     "with Twilio: the account SID, AC and 32 hex digits"},
    {"reqPhoneDemoSettings", "reqProviderAuthToken", "Provider Auth Token",
     SB_ADAPTER_SETTING_SECRET, "", "with Twilio: the auth token, 32 hex digits"},
    {"reqPhoneDemoSettings", "reqProviderCallerNumber", "Provider Caller Number", 0, "",
     "with Twilio: the number calls come from"},
};

static size_t demo_describe(void *state, const sb_adapter_setting **out)
{
    (void)state;
    *out = settings;
    return sizeof(settings) / sizeof(settings[0]);
}

static int demo_claim(void *state, const sb_adapter_callcenter *cc)
{
    (void)state;
    if (sbu_has_section(cc, "reqPhoneDemoSettings"))
        return 95; /* the demo's own settings section */
    const char *url = sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl");
    if (url != NULL && strstr(url, "demoAdapter") != NULL)
        return 70; /* its Visualforce page */
    return 0;
}

static bool all_of(const char *s, const char *allowed_punct, int (*class)(int))
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s; s++)
        if (!class((unsigned char)*s) && strchr(allowed_punct, *s) == NULL)
            return false;
    return true;
}

static bool is_hex_run(const char *s, size_t n)
{
    if (s == NULL || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int demo_validate(void *state, const sb_adapter_callcenter *cc, const sb_adapter_sink *sink)
{
    (void)state;
    int problems = 0;
    const char *url = sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl");
    if (url == NULL || (strncmp(url, "https://", 8) != 0 && strncmp(url, "/apex/", 6) != 0)) {
        sink->problem(sink->ctx, "reqGeneralInfo", "reqAdapterUrl",
                      "the adapter URL is the demo's Visualforce page (/apex/demoAdapterPage) or "
                      "an https URL");
        problems++;
    }
    const char *number = sbu_value(cc, "reqPhoneDemoSettings", "reqIncomingNumber");
    if (!all_of(number, " ()+-.", isdigit)) {
        sink->problem(sink->ctx, "reqPhoneDemoSettings", "reqIncomingNumber",
                      "the simulated incoming number is a phone number: digits, spaces, ( ) + -");
        problems++;
    }
    const char *provider = sbu_value(cc, "reqPhoneDemoSettings", "reqProvider");
    if (provider == NULL ||
        (strcmp(provider, "DummyProvider") != 0 && strcmp(provider, "Twilio") != 0)) {
        sink->problem(sink->ctx, "reqPhoneDemoSettings", "reqProvider",
                      "the provider is DummyProvider (simulated calls) or Twilio");
        problems++;
    } else if (strcmp(provider, "Twilio") == 0) {
        const char *account = sbu_value(cc, "reqPhoneDemoSettings", "reqProviderAccount");
        if (account == NULL || strncmp(account, "AC", 2) != 0 || !is_hex_run(account + 2, 32)) {
            sink->problem(sink->ctx, "reqPhoneDemoSettings", "reqProviderAccount",
                          "with Twilio, the account is a SID: AC and 32 hex digits");
            problems++;
        }
        if (!is_hex_run(sbu_value(cc, "reqPhoneDemoSettings", "reqProviderAuthToken"), 32)) {
            sink->problem(sink->ctx, "reqPhoneDemoSettings", "reqProviderAuthToken",
                          "with Twilio, the auth token is 32 hex digits");
            problems++;
        }
    }
    return problems ? SB_ADAPTER_FAILED : SB_ADAPTER_OK;
}

static int demo_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                       const sb_adapter_sink *sink)
{
    (void)state;
    const char *url = sbu_value(cc, "reqGeneralInfo", "reqAdapterUrl");
    if (url == NULL) {
        sink->problem(sink->ctx, "reqGeneralInfo", "reqAdapterUrl", "there is no adapter URL");
        return SB_ADAPTER_FAILED;
    }
    char rendered[2048];
    snprintf(rendered, sizeof(rendered), "%s%sprovider=", url, strchr(url, '?') ? "&" : "?");
    sbu_url_append(rendered, sizeof(rendered),
                   sbu_value(cc, "reqPhoneDemoSettings", "reqProvider"));
    strncat(rendered, "&user=", sizeof(rendered) - strlen(rendered) - 1);
    sbu_url_append(rendered, sizeof(rendered), user);
    sink->set(sink->ctx, "adapter_url", rendered);
    const char *number = sbu_value(cc, "reqPhoneDemoSettings", "reqIncomingNumber");
    if (number != NULL)
        sink->set(sink->ctx, "simulated_incoming_number", number);
    return SB_ADAPTER_OK;
}

/* The demo page's events: {"event": "ring" | "answer" | "hold" | "resume" |
 * "transcript" | "hangup", "callId", "from", "to", "text", "reason"}. */
static int demo_call_event(void *state, const sb_adapter_callcenter *cc, const char *event,
                           const sb_adapter_sink *sink)
{
    (void)state;
    (void)cc;
    json_t *e = json_loads(event ? event : "", 0, NULL);
    const char *kind = json_string_value(json_object_get(e, "event"));
    const char *call_id = json_string_value(json_object_get(e, "callId"));
    static const struct {
        const char *event, *action;
    } map[] = {{"ring", "start"},    {"answer", "accept"},         {"hold", "hold"},
               {"resume", "resume"}, {"transcript", "transcript"}, {"hangup", "end"}};
    const char *action = NULL;
    for (size_t i = 0; kind && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(kind, map[i].event) == 0)
            action = map[i].action;
    if (action == NULL || call_id == NULL) {
        json_decref(e);
        return SB_ADAPTER_IGNORED;
    }
    sink->set(sink->ctx, "action", action);
    sink->set(sink->ctx, "vendor_call_key", call_id);
    static const char *const passed[] = {"from", "to", "text"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = json_string_value(json_object_get(e, passed[i]));
        if (v != NULL)
            sink->set(sink->ctx, passed[i], v);
    }
    if (strcmp(action, "start") == 0)
        sink->set(sink->ctx, "call_type", "inbound");
    if (strcmp(action, "end") == 0) {
        const char *reason = json_string_value(json_object_get(e, "reason"));
        sink->set(sink->ctx, "disposition", reason ? reason : "completed");
    }
    json_decref(e);
    return SB_ADAPTER_OK;
}

SB_ADAPTER_DEFINE(demo, "Salesforce (Open CTI demo)", "1.0.0",
                  "The Open CTI reference adapter: a demo softphone page with simulated calls; it "
                  "reaches no telephony service.",
                  .init = demo_init, .fini = demo_fini, .describe = demo_describe,
                  .claim = demo_claim, .validate = demo_validate, .render = demo_render,
                  .call_event = demo_call_event)
