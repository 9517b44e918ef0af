/* Loads, then answers nonsense: a claim out of range, a refusal without a
 * reason, a render without an adapter URL. The host must contain all of it. */
#include "mock_common.h"

static int garbage_claim(void *state, const sb_adapter_callcenter *cc)
{
    (void)state;
    (void)cc;
    return 12345;
}

static int garbage_validate(void *state, const sb_adapter_callcenter *cc,
                            const sb_adapter_sink *sink)
{
    (void)state;
    (void)cc;
    (void)sink;
    return -7;
}

static int garbage_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                          const sb_adapter_sink *sink)
{
    (void)state;
    (void)cc;
    (void)user;
    sink->set(sink->ctx, "colour", "\xff\xfe not even UTF-8");
    return SB_ADAPTER_OK;
}

SB_ADAPTER_DEFINE(garbage, "Mock", "6.6.6", "Returns garbage.", MOCK_ENTRY_POINTS,
                  .claim = garbage_claim, .validate = garbage_validate, .render = garbage_render);
