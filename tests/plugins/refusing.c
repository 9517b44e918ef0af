/* Loads and validates like `good`, but will not render a softphone for
 * Call Centers in the "us" region: the server must show no softphone for
 * them and say the adapter refused, with the adapter's own words. */
#include "mock_common.h"

static int refusing_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                           const sb_adapter_sink *sink)
{
    const char *region = mock_value(cc, "mockRegion");
    if (region != NULL && strcmp(region, "us") == 0) {
        sink->problem(sink->ctx, "mockSettings", "mockRegion",
                      "this account has no softphone licence in the us region");
        return SB_ADAPTER_FAILED;
    }
    return mock_render(state, cc, user, sink);
}

SB_ADAPTER_DEFINE(refusing, "Mock Vendor", "1.0.0", "Refuses to render in one region.",
                  MOCK_ENTRY_POINTS, .render = refusing_render);
