/*
 * Loads, then crashes on a call event (sb-plugin-check must report it and
 * live), and in render for a Call Center whose adapter URL says
 * "crash-render" (the host's trial of a trusted adapter must refuse it).
 */
#include <stdlib.h>

#include "mock_common.h"

static int crash_call_event(void *state, const sb_adapter_callcenter *cc, const char *event,
                            const sb_adapter_sink *sink)
{
    (void)state;
    (void)cc;
    (void)sink;
    if (event[0] == '{')
        abort();
    return SB_ADAPTER_IGNORED;
}

static int crash_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                        const sb_adapter_sink *sink)
{
    const char *url = mock_value(cc, "reqAdapterUrl");
    if (url != NULL && strstr(url, "crash-render") != NULL)
        abort();
    return mock_render(state, cc, user, sink);
}

SB_ADAPTER_DEFINE(crashing, "Mock", "1.0.0", "Crashes on events.", MOCK_ENTRY_POINTS,
                  .call_event = crash_call_event, .render = crash_render);
