/*
 * acme_phone: a complete Switchboard adapter for a made-up telephony vendor,
 * as a partner writes one (docs/plugins.md walks through it). Build it with
 *   cc $(pkg-config --cflags --libs switchboard-adapter) acme_phone.c -o acme_phone.so
 * and check it with
 *   sb-plugin-check ./acme_phone.so
 */
#include <stdio.h>
#include <string.h>
#include <switchboard/adapter.h>

static int acme_init(const sb_host *host, void **state)
{
    *state = (void *)host; /* keep the host's services for logging */
    return SB_ADAPTER_OK;
}

static void acme_fini(void *state)
{
    (void)state;
}

/* What an Acme Phone Call Center carries, with the defaults a template gets. */
static const sb_adapter_setting settings[] = {
    {"reqGeneralInfo", "reqAdapterUrl", "CTI Adapter URL", SB_ADAPTER_SETTING_REQUIRED,
     "https://softphone.acmephone.example/cti", "an https URL on acmephone.example"},
    {"reqGeneralInfo", "reqSoftphoneHeight", "Softphone Height", 0, "500", "240 to 2,560"},
    {"reqGeneralInfo", "reqSoftphoneWidth", "Softphone Width", 0, "320", "200 to 1,920"},
    {"reqGeneralInfo", "reqSalesforceCompatibilityMode", "Salesforce Compatibility Mode", 0,
     "Lightning", "Classic, Lightning or Classic_and_Lightning"},
    {"acmeSettings", "acmeTenant", "Acme Tenant", SB_ADAPTER_SETTING_REQUIRED, "my-company",
     "your Acme tenant: lower-case letters, digits and '-'"},
};

static size_t acme_describe(void *state, const sb_adapter_setting **out)
{
    (void)state;
    *out = settings;
    return sizeof(settings) / sizeof(settings[0]);
}

static const char *value_of(const sb_adapter_callcenter *cc, const char *name)
{
    for (size_t i = 0; i < cc->n_items; i++)
        if (strcmp(cc->items[i].name, name) == 0)
            return cc->items[i].value;
    return NULL;
}

/* Mine when it carries an Acme tenant. */
static int acme_claim(void *state, const sb_adapter_callcenter *cc)
{
    (void)state;
    return value_of(cc, "acmeTenant") != NULL ? 90 : 0;
}

static int acme_validate(void *state, const sb_adapter_callcenter *cc, const sb_adapter_sink *sink)
{
    (void)state;
    int problems = 0;
    const char *url = value_of(cc, "reqAdapterUrl");
    if (url == NULL || strncmp(url, "https://", 8) != 0 ||
        strstr(url, ".acmephone.example") == NULL) {
        sink->problem(sink->ctx, "reqGeneralInfo", "reqAdapterUrl",
                      "the adapter URL is an https URL on acmephone.example");
        problems++;
    }
    const char *tenant = value_of(cc, "acmeTenant");
    if (tenant == NULL || tenant[0] == '\0' ||
        strspn(tenant, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(tenant)) {
        sink->problem(sink->ctx, "acmeSettings", "acmeTenant",
                      "the tenant is lower-case letters, digits and '-'");
        problems++;
    }
    return problems ? SB_ADAPTER_FAILED : SB_ADAPTER_OK;
}

static int acme_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                       const sb_adapter_sink *sink)
{
    (void)state;
    char url[1024];
    snprintf(url, sizeof(url), "%s?tenant=%s&agent=%s", value_of(cc, "reqAdapterUrl"),
             value_of(cc, "acmeTenant"), user);
    sink->set(sink->ctx, "adapter_url", url);
    return SB_ADAPTER_OK;
}

static int acme_call_event(void *state, const sb_adapter_callcenter *cc, const char *event,
                           const sb_adapter_sink *sink)
{
    (void)state;
    (void)cc;
    /* Acme sends "RING <call id> <from>" and "HANGUP <call id>" lines. */
    char id[64], from[64];
    if (sscanf(event, "RING %63s %63s", id, from) == 2) {
        sink->set(sink->ctx, "action", "start");
        sink->set(sink->ctx, "vendor_call_key", id);
        sink->set(sink->ctx, "from", from);
        sink->set(sink->ctx, "call_type", "inbound");
        return SB_ADAPTER_OK;
    }
    if (sscanf(event, "HANGUP %63s", id) == 1) {
        sink->set(sink->ctx, "action", "end");
        sink->set(sink->ctx, "vendor_call_key", id);
        return SB_ADAPTER_OK;
    }
    return SB_ADAPTER_IGNORED;
}

SB_ADAPTER_DEFINE(acme_phone, "Acme Phone (an example)", "0.1.0",
                  "An example adapter for a made-up vendor; it reaches nothing.", .init = acme_init,
                  .fini = acme_fini, .describe = acme_describe, .claim = acme_claim,
                  .validate = acme_validate, .render = acme_render, .call_event = acme_call_event)
