/*
 * talkdesk: Talkdesk for Salesforce (Open CTI), the Talkdesk agent app
 * embedded from the account's own domain (ACCOUNT.mytalkdesk.com). Talkdesk
 * publishes no Call Center definition in the corpus: the settings are what
 * its setup documents. It reaches no Talkdesk service.
 */
#include "../common/vendor_adapter.h"

static const sb_adapter_setting settings[] = {
    {"reqGeneralInfo", "reqAdapterUrl", "CTI Adapter URL", SB_ADAPTER_SETTING_REQUIRED,
     "https://mycompany.mytalkdesk.com/", "the account's Talkdesk: https on mytalkdesk.com"},
    {"reqGeneralInfo", "reqUseApi", "Use CTI API", 0, "true", "true or false"},
    {"reqGeneralInfo", "reqSoftphoneHeight", "Softphone Height", 0, "620", "240 to 2,560"},
    {"reqGeneralInfo", "reqSoftphoneWidth", "Softphone Width", 0, "360", "200 to 1,920"},
    {"reqGeneralInfo", "reqSalesforceCompatibilityMode", "Salesforce Compatibility Mode", 0,
     "Lightning", "Classic, Lightning or Classic_and_Lightning"},
    {"talkdeskSettings", "talkdeskAccount", "Talkdesk Account", SB_ADAPTER_SETTING_REQUIRED,
     "mycompany", "the account's name, as in ACCOUNT.mytalkdesk.com"},
    {"talkdeskSettings", "talkdeskLogCalls", "Log Calls as Tasks", 0, "true", "true or false"},
};

static const char *const domains[] = {"mytalkdesk.com", "talkdeskapp.com", NULL};

static const sbu_rule rules[] = {
    {"talkdeskSettings", "talkdeskAccount", SBU_HOST, NULL, true,
     "the account is its name in ACCOUNT.mytalkdesk.com: lower-case letters, digits and '-'"},
    {"talkdeskSettings", "talkdeskLogCalls", SBU_BOOL, NULL, false, "this is true or false"},
    {NULL, NULL, SBU_BOOL, NULL, false, NULL},
};

/* Talkdesk's call events as its integrations receive them: {"event": "call_ringing" |
 * "call_answered" | "call_on_hold" | "call_resumed" | "call_finished", "data":
 * {"call_id", "contact_phone_number", "talkdesk_phone_number", "type": "inbound" |
 * "outbound"}} */
static const sbu_pair events[] = {{"call_ringing", "start"}, {"call_answered", "accept"},
                                  {"call_on_hold", "hold"},  {"call_resumed", "resume"},
                                  {"call_finished", "end"},  {NULL, NULL}};

static const sbu_vendor talkdesk_table = {
    .name = "talkdesk",
    .settings = settings,
    .n_settings = sizeof(settings) / sizeof(settings[0]),
    .section = "talkdeskSettings",
    .domains = domains,
    .rules = rules,
    .event_type = "event",
    .event_id = "data.call_id",
    .event_from = "data.contact_phone_number",
    .event_to = "data.talkdesk_phone_number",
    .event_direction = "data.type",
    .outbound = "outbound",
    .event_map = events,
};

SBU_VENDOR_ADAPTER(talkdesk, "Talkdesk", "1.0.0",
                   "Talkdesk for Salesforce: checks its account and page, maps its call events; it "
                   "reaches no Talkdesk service.",
                   talkdesk_table)
