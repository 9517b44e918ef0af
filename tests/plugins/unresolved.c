/* Needs a function no library provides: dlopen with RTLD_NOW refuses it. */
#include "mock_common.h"

extern int sb_mock_function_nobody_defines(void);

static int unresolved_init(const sb_host *host, void **state)
{
    *state = (void *)host;
    return sb_mock_function_nobody_defines();
}

SB_ADAPTER_DEFINE(unresolved, "Mock", "1.0.0", "Cannot load.", MOCK_ENTRY_POINTS,
                  .init = unresolved_init);
