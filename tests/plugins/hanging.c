/*
 * Loads, then never answers a claim of an empty Call Center, and hangs on a
 * call event that says "hang" (a hostile-tenant test times other tenants'
 * writes while it hangs).
 */
#include <string.h>
#include <unistd.h>

#include "mock_common.h"

static int hang_claim(void *state, const sb_adapter_callcenter *cc)
{
    (void)state;
    while (cc->n_items == 0)
        sleep(1);
    return 0;
}

static int hang_call_event(void *state, const sb_adapter_callcenter *cc, const char *event,
                           const sb_adapter_sink *sink)
{
    while (strstr(event, "hang") != NULL)
        sleep(1);
    return mock_call_event(state, cc, event, sink);
}

SB_ADAPTER_DEFINE(hanging, "Mock", "1.0.0", "Hangs on claims and events.", MOCK_ENTRY_POINTS,
                  .claim = hang_claim, .call_event = hang_call_event);
