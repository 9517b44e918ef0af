/* An adapter built against the frozen ABI 1.0 header: every 1.x host loads it. */
#include "adapter_v1_0.h"

static int frozen_init(const sb_host *host, void **state)
{
    *state = (void *)host;
    return SB_ADAPTER_OK;
}

static void frozen_fini(void *state)
{
    (void)state;
}

static const sb_adapter_setting frozen_settings[] = {
    {"reqGeneralInfo", "reqAdapterUrl", "CTI Adapter URL", SB_ADAPTER_SETTING_REQUIRED,
     "https://frozen.example.com/", "an https URL"},
};

static size_t frozen_describe(void *state, const sb_adapter_setting **settings)
{
    (void)state;
    *settings = frozen_settings;
    return 1;
}

static int frozen_claim(void *state, const sb_adapter_callcenter *cc)
{
    (void)state;
    for (size_t i = 0; i < cc->n_items; i++)
        if (cc->items[i].value[0] == 'h' && cc->items[i].value[8] == 'f')
            return 80; /* https://frozen... */
    return 0;
}

static int frozen_validate(void *state, const sb_adapter_callcenter *cc,
                           const sb_adapter_sink *sink)
{
    (void)state;
    (void)cc;
    (void)sink;
    return SB_ADAPTER_OK;
}

static int frozen_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                         const sb_adapter_sink *sink)
{
    (void)state;
    (void)cc;
    (void)user;
    sink->set(sink->ctx, "adapter_url", "https://frozen.example.com/");
    return SB_ADAPTER_OK;
}

static int frozen_call_event(void *state, const sb_adapter_callcenter *cc, const char *event,
                             const sb_adapter_sink *sink)
{
    (void)state;
    (void)cc;
    (void)event;
    (void)sink;
    return SB_ADAPTER_IGNORED;
}

SB_ADAPTER_DEFINE(frozen_v1_0, "Switchboard tests", "1.0.0", "Built against the ABI 1.0 header.",
                  .init = frozen_init, .fini = frozen_fini, .describe = frozen_describe,
                  .claim = frozen_claim, .validate = frozen_validate, .render = frozen_render,
                  .call_event = frozen_call_event)
