/*
 * five9: Five9's Plus Adapter for Salesforce (Open CTI), whose page Five9
 * hosts on its regional domains. Five9 publishes no Call Center definition
 * in the corpus: the settings are what its adapter's setup documents.
 * It reaches no Five9 service.
 */
#include "../common/vendor_adapter.h"

static const sb_adapter_setting settings[] = {
    {"reqGeneralInfo", "reqAdapterUrl", "CTI Adapter URL", SB_ADAPTER_SETTING_REQUIRED,
     "https://app.five9.com/clients/integrations/adt.li.main.html",
     "Five9's adapter page: https on five9.com, five9.eu or five9.ca"},
    {"reqGeneralInfo", "reqUseApi", "Use CTI API", 0, "true", "true or false"},
    {"reqGeneralInfo", "reqSoftphoneHeight", "Softphone Height", 0, "600", "240 to 2,560"},
    {"reqGeneralInfo", "reqSoftphoneWidth", "Softphone Width", 0, "350", "200 to 1,920"},
    {"reqGeneralInfo", "reqSalesforceCompatibilityMode", "Salesforce Compatibility Mode", 0,
     "Lightning", "Classic, Lightning or Classic_and_Lightning"},
    {"five9Settings", "five9Domain", "Five9 Domain", SB_ADAPTER_SETTING_REQUIRED, "app.five9.com",
     "the Five9 data center: app.five9.com, app.five9.eu or app.five9.ca"},
    {"five9Settings", "five9Campaign", "Default Outbound Campaign", 0, "",
     "empty, or a campaign name: letters, digits, '-' and '_'"},
};

static const char *const domains[] = {"five9.com", "five9.eu", "five9.ca", NULL};

static const sbu_rule rules[] = {
    {"five9Settings", "five9Domain", SBU_ONE_OF, "app.five9.com|app.five9.eu|app.five9.ca", true,
     "the domain is Five9's data center: app.five9.com, app.five9.eu or app.five9.ca"},
    {"five9Settings", "five9Campaign", SBU_TOKEN, NULL, false,
     "the campaign is letters, digits, '-' and '_'"},
    {NULL, NULL, SBU_BOOL, NULL, false, NULL},
};

/* Five9's CRM SDK interaction events: {"event": "callStarted" | "callAccepted" |
 * "callFinished", "callData": {"callId", "ani", "dnis", "type": "INBOUND" | "OUTBOUND"}} */
static const sbu_pair events[] = {
    {"callStarted", "start"}, {"callAccepted", "accept"}, {"callFinished", "end"}, {NULL, NULL}};

static const sbu_vendor five9_table = {
    .name = "five9",
    .settings = settings,
    .n_settings = sizeof(settings) / sizeof(settings[0]),
    .section = "five9Settings",
    .domains = domains,
    .rules = rules,
    .event_type = "event",
    .event_id = "callData.callId",
    .event_from = "callData.ani",
    .event_to = "callData.dnis",
    .event_direction = "callData.type",
    .outbound = "OUTBOUND",
    .event_map = events,
};

SBU_VENDOR_ADAPTER(five9, "Five9", "1.0.0",
                   "Five9's Plus Adapter (Open CTI): checks its page and data center, maps the CRM "
                   "SDK's call events; it reaches no Five9 service.",
                   five9_table)
