/* A well-built adapter: loads, claims files with a mockRegion, validates it. */
#include "mock_common.h"

SB_ADAPTER_DEFINE(good, "Mock Vendor", "1.0.0", "A mock adapter for the host's tests.",
                  MOCK_ENTRY_POINTS);
