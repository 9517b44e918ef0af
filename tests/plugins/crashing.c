/* Loads, then crashes on a call event: sb-plugin-check must report it and live. */
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

SB_ADAPTER_DEFINE(crashing, "Mock", "1.0.0", "Crashes on events.", MOCK_ENTRY_POINTS,
                  .call_event = crash_call_event);
