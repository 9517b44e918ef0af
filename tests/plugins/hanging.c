/* Loads, then never answers a claim of an empty Call Center. */
#include <unistd.h>

#include "mock_common.h"

static int hang_claim(void *state, const sb_adapter_callcenter *cc)
{
    (void)state;
    while (cc->n_items == 0)
        sleep(1);
    return 0;
}

SB_ADAPTER_DEFINE(hanging, "Mock", "1.0.0", "Hangs on claims.", MOCK_ENTRY_POINTS,
                  .claim = hang_claim);
