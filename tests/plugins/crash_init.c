/* Crashes in its init: the host must refuse it, never die of it, in either mode. */
#include <stdlib.h>

#include "mock_common.h"

static int crash_init(const sb_host *host, void **state)
{
    (void)host;
    (void)state;
    abort();
}

SB_ADAPTER_DEFINE(crash_init, "Mock", "1.0.0", "Crashes in init.", MOCK_ENTRY_POINTS,
                  .init = crash_init);
