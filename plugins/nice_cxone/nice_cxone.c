/*
 * nice_cxone: NICE CXone Agent for Salesforce (Open CTI), hosted by NICE
 * on nicecxone.com (formerly niceincontact.com). NICE publishes no Call
 * Center definition in the corpus: the settings are what its setup
 * documents. It reaches no NICE service.
 */
#include "../common/vendor_adapter.h"

static const sb_adapter_setting settings[] = {
    {"reqGeneralInfo", "reqAdapterUrl", "CTI Adapter URL", SB_ADAPTER_SETTING_REQUIRED,
     "https://cxagent.nicecxone.com/", "CXone Agent: https on nicecxone.com or niceincontact.com"},
    {"reqGeneralInfo", "reqUseApi", "Use CTI API", 0, "true", "true or false"},
    {"reqGeneralInfo", "reqSoftphoneHeight", "Softphone Height", 0, "640", "240 to 2,560"},
    {"reqGeneralInfo", "reqSoftphoneWidth", "Softphone Width", 0, "400", "200 to 1,920"},
    {"reqGeneralInfo", "reqSalesforceCompatibilityMode", "Salesforce Compatibility Mode", 0,
     "Lightning", "Classic, Lightning or Classic_and_Lightning"},
    {"cxoneSettings", "cxoneBusinessUnit", "Business Unit", SB_ADAPTER_SETTING_REQUIRED, "4600000",
     "the CXone business unit number: digits"},
    {"cxoneSettings", "cxoneAuthDomain", "Authentication Domain", 0, "cxone.niceincontact.com",
     "the host agents sign in at"},
};

static const char *const domains[] = {"nicecxone.com", "niceincontact.com", NULL};

static const sbu_rule rules[] = {
    {"cxoneSettings", "cxoneBusinessUnit", SBU_DIGITS, NULL, true,
     "the business unit is a number (Admin > Business Units)"},
    {"cxoneSettings", "cxoneAuthDomain", SBU_HOST, NULL, false,
     "the authentication domain is a host name"},
    {NULL, NULL, SBU_BOOL, NULL, false, NULL},
};

/* The Agent API's contact events: {"Type": "CallContactEvent", "Status": "Incoming" |
 * "Active" | "Holding" | "Disconnected", "ContactID", "ANI", "DNIS", "IsInbound"}.
 * The status picks the action. */
static const sbu_pair events[] = {{"Incoming", "start"},
                                  {"Active", "accept"},
                                  {"Holding", "hold"},
                                  {"Disconnected", "end"},
                                  {NULL, NULL}};

static const sbu_vendor cxone_table = {
    .name = "nice_cxone",
    .settings = settings,
    .n_settings = sizeof(settings) / sizeof(settings[0]),
    .section = "cxoneSettings",
    .domains = domains,
    .rules = rules,
    .event_type = "Status",
    .event_id = "ContactID",
    .event_from = "ANI",
    .event_to = "DNIS",
    .event_direction = "IsInbound",
    .outbound = "False",
    .event_map = events,
};

SBU_VENDOR_ADAPTER(nice_cxone, "NICE", "1.0.0",
                   "NICE CXone Agent for Salesforce: checks its business unit, maps the Agent "
                   "API's contact events; it reaches no NICE service.",
                   cxone_table)
