/*
 * One source for the refused plugins, each built with one of these defined:
 * WRONG_MAJOR, NEWER_MINOR, TOO_SHORT, MISSING_ENTRY, MISNAMED, NO_SYMBOL.
 */
#include "mock_common.h"

#define NAME_STRING(x) #x
#define NAME(x) NAME_STRING(x)

static const sb_adapter descriptor = {
#if defined(TOO_SHORT)
    .struct_size = 16,
#else
    .struct_size = sizeof(sb_adapter),
#endif
#if defined(WRONG_MAJOR)
    .abi_major = SB_ADAPTER_ABI_MAJOR + 1,
#else
    .abi_major = SB_ADAPTER_ABI_MAJOR,
#endif
#if defined(NEWER_MINOR)
    .abi_minor = SB_ADAPTER_ABI_MINOR + 1,
#else
    .abi_minor = SB_ADAPTER_ABI_MINOR,
#endif
#if defined(MISNAMED)
    .name = "somebody_else",
#else
    .name = NAME(PLUGIN_NAME),
#endif
    .vendor = "Mock",
    .version = "0.0.1",
    .description = "A plugin the host must refuse.",
    MOCK_ENTRY_POINTS,
#if defined(MISSING_ENTRY)
    .validate = NULL,
#endif
};

#if defined(NO_SYMBOL)
SB_ADAPTER_EXPORT const sb_adapter *sb_adapter_v0(void);
SB_ADAPTER_EXPORT const sb_adapter *sb_adapter_v0(void)
#else
SB_ADAPTER_EXPORT const sb_adapter *sb_adapter_v1(void);
SB_ADAPTER_EXPORT const sb_adapter *sb_adapter_v1(void)
#endif
{
    return &descriptor;
}
