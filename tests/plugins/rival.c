/* Claims the same files as good, exactly as sure: a tie the operator must settle. */
#include "mock_common.h"

SB_ADAPTER_DEFINE(rival, "Mock Rival", "1.0.0", "Claims what good claims.", MOCK_ENTRY_POINTS);
