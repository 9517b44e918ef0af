/*
 * Renders as the good mock does, but notices when two calls overlap: the
 * ABI promises a plugin one thread at a time, and a render that finds
 * another one running fails, saying so.
 */
#include <stdatomic.h>
#include <time.h>

#include "mock_common.h"

static atomic_int inside;

static int exclusive_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                            const sb_adapter_sink *sink)
{
    int others = atomic_fetch_add(&inside, 1);
    struct timespec pause = {0, 2 * 1000 * 1000}; /* long enough for another thread to come in */
    nanosleep(&pause, NULL);
    int rc = others == 0 ? mock_render(state, cc, user, sink) : SB_ADAPTER_FAILED;
    if (others != 0)
        sink->problem(sink->ctx, NULL, NULL, "another call was running in this plugin");
    atomic_fetch_sub(&inside, 1);
    return rc;
}

SB_ADAPTER_DEFINE(one_at_a_time, "Mock", "1.0.0", "Fails a render that overlaps another.",
                  MOCK_ENTRY_POINTS, .render = exclusive_render);
