/* Entry points shared by the mock plugins: a small, well-behaved adapter. */
#include <stdio.h>
#include <string.h>

#include "switchboard/adapter.h"

static int mock_init(const sb_host *host, void **state)
{
    *state = (void *)host;
    return SB_ADAPTER_OK;
}

static void mock_fini(void *state)
{
    (void)state;
}

static const sb_adapter_setting mock_settings[] = {
    {"reqGeneralInfo", "reqAdapterUrl", "CTI Adapter URL", SB_ADAPTER_SETTING_REQUIRED,
     "https://mock.example.com/softphone", "an https URL"},
    {"mockSettings", "mockRegion", "Region", SB_ADAPTER_SETTING_REQUIRED, "eu", "eu or us"},
};

static size_t mock_describe(void *state, const sb_adapter_setting **settings)
{
    (void)state;
    *settings = mock_settings;
    return sizeof(mock_settings) / sizeof(mock_settings[0]);
}

static const char *mock_value(const sb_adapter_callcenter *cc, const char *name)
{
    for (size_t i = 0; i < cc->n_items; i++)
        if (strcmp(cc->items[i].name, name) == 0)
            return cc->items[i].value;
    return NULL;
}

static int mock_claim(void *state, const sb_adapter_callcenter *cc)
{
    (void)state;
    return mock_value(cc, "mockRegion") ? 90 : 0;
}

static int mock_validate(void *state, const sb_adapter_callcenter *cc, const sb_adapter_sink *sink)
{
    (void)state;
    const char *region = mock_value(cc, "mockRegion");
    if (region == NULL || (strcmp(region, "eu") != 0 && strcmp(region, "us") != 0)) {
        sink->problem(sink->ctx, "mockSettings", "mockRegion", "the region is eu or us");
        return SB_ADAPTER_FAILED;
    }
    return SB_ADAPTER_OK;
}

static int mock_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                       const sb_adapter_sink *sink)
{
    (void)state;
    char url[512];
    const char *base = mock_value(cc, "reqAdapterUrl");
    snprintf(url, sizeof(url), "%s?user=%s", base ? base : "", user);
    sink->set(sink->ctx, "adapter_url", url);
    return SB_ADAPTER_OK;
}

static int mock_call_event(void *state, const sb_adapter_callcenter *cc, const char *event,
                           const sb_adapter_sink *sink)
{
    (void)state;
    (void)cc;
    if (strstr(event, "\"ring\"") == NULL)
        return SB_ADAPTER_IGNORED;
    sink->set(sink->ctx, "action", "start");
    return SB_ADAPTER_OK;
}

#define MOCK_ENTRY_POINTS                                                                          \
    .init = mock_init, .fini = mock_fini, .describe = mock_describe, .claim = mock_claim,          \
    .validate = mock_validate, .render = mock_render, .call_event = mock_call_event
