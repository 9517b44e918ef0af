/*
 * genesys_cloud: Genesys Cloud for Salesforce, the Embeddable Framework's
 * client that Genesys hosts per region (apps.mypurecloud.com, apps.usw2.pure.cloud,
 * ...). Genesys publishes no Call Center definition in the corpus: the
 * settings are what its integration's setup documents. It reaches no
 * Genesys service.
 */
#include "../common/vendor_adapter.h"

static const sb_adapter_setting settings[] = {
    {"reqGeneralInfo", "reqAdapterUrl", "CTI Adapter URL", SB_ADAPTER_SETTING_REQUIRED,
     "https://apps.mypurecloud.com/crm/index.html?crm=salesforce",
     "the client for the org's region: https on mypurecloud.com, pure.cloud, mypurecloud.ie, "
     "mypurecloud.de, mypurecloud.jp or mypurecloud.com.au"},
    {"reqGeneralInfo", "reqUseApi", "Use CTI API", 0, "true", "true or false"},
    {"reqGeneralInfo", "reqSoftphoneHeight", "Softphone Height", 0, "600", "240 to 2,560"},
    {"reqGeneralInfo", "reqSoftphoneWidth", "Softphone Width", 0, "300", "200 to 1,920"},
    {"reqGeneralInfo", "reqSalesforceCompatibilityMode", "Salesforce Compatibility Mode", 0,
     "Lightning", "Classic, Lightning or Classic_and_Lightning"},
    {"genesysSettings", "genesysRegion", "Genesys Cloud Region", SB_ADAPTER_SETTING_REQUIRED,
     "mypurecloud.com",
     "the region's domain: mypurecloud.com, usw2.pure.cloud, cac1.pure.cloud, mypurecloud.ie, "
     "euw2.pure.cloud, mypurecloud.de, aps1.pure.cloud, apne2.pure.cloud, mypurecloud.com.au or "
     "mypurecloud.jp"},
    {"genesysSettings", "genesysOrgId", "Genesys Cloud Organization ID", 0, "",
     "empty, or the organization's id (a UUID written as letters, digits and '-')"},
};

static const char *const domains[] = {
    "mypurecloud.com",    "pure.cloud", "mypurecloud.ie", "mypurecloud.de", "mypurecloud.jp",
    "mypurecloud.com.au", NULL};

static const sbu_rule rules[] = {
    {"genesysSettings", "genesysRegion", SBU_ONE_OF,
     "mypurecloud.com|usw2.pure.cloud|cac1.pure.cloud|mypurecloud.ie|euw2.pure.cloud|"
     "mypurecloud.de|aps1.pure.cloud|apne2.pure.cloud|mypurecloud.com.au|mypurecloud.jp",
     true, "the region is one of Genesys Cloud's region domains"},
    {"genesysSettings", "genesysOrgId", SBU_TOKEN, NULL, false,
     "the organization id is letters, digits and '-'"},
    {NULL, NULL, SBU_BOOL, NULL, false, NULL},
};

/* The Embeddable Framework's interaction events: {"type": "Interaction", "category":
 * "add" | "connect" | "hold" | "unhold" | "disconnect", "data": {"id", "ani",
 * "calledNumber", "direction": "Inbound" | "Outbound"}} */
static const sbu_pair events[] = {{"add", "start"},     {"connect", "accept"}, {"hold", "hold"},
                                  {"unhold", "resume"}, {"disconnect", "end"}, {NULL, NULL}};

static const sbu_vendor genesys_table = {
    .name = "genesys_cloud",
    .settings = settings,
    .n_settings = sizeof(settings) / sizeof(settings[0]),
    .section = "genesysSettings",
    .domains = domains,
    .rules = rules,
    .event_type = "category",
    .event_id = "data.id",
    .event_from = "data.ani",
    .event_to = "data.calledNumber",
    .event_direction = "data.direction",
    .outbound = "Outbound",
    .event_map = events,
};

SBU_VENDOR_ADAPTER(genesys_cloud, "Genesys", "1.0.0",
                   "Genesys Cloud for Salesforce (the Embeddable Framework client): checks its "
                   "region, maps interaction events; it reaches no Genesys service.",
                   genesys_table)
