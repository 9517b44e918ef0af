/* /readyz's verdict (server/ops/metrics.c): every event loop's heartbeat
 * counts, so that one loop stuck in a request makes the server not ready
 * even while the first loop turns on. */
#include "sb_test.h"

#include <string.h>

#include "metrics.h"

static void ready_only_while_every_loop_turns(void **state)
{
    (void)state;
    char why[256];
    sb_metrics_store_open(true);
    sb_metrics_writer_alive(true);
    sb_metrics_stopping(false);
    sb_metrics_loops(3);
    /* The first loop's turn (the sampler), the others never yet. */
    sb_metrics_sample(NULL, NULL, NULL);
    assert_false(sb_metrics_ready(why, sizeof(why)));
    assert_non_null(strstr(why, "event loop 1 has not turned yet"));
    sb_metrics_loop_beat(1);
    assert_false(sb_metrics_ready(why, sizeof(why)));
    assert_non_null(strstr(why, "event loop 2"));
    sb_metrics_loop_beat(2);
    assert_true(sb_metrics_ready(why, sizeof(why)));
    assert_string_equal(why, "ready");
    unsigned which = 99;
    assert_true(sb_metrics_stalest_loop(&which) < SB_METRICS_HEARTBEAT_MAX_MS);
    assert_true(which < 3);
    /* Out-of-range loops are ignored, never written past the table. */
    sb_metrics_loop_beat(SB_METRICS_LOOPS_MAX);
    sb_metrics_loop_beat(0);
    sb_metrics_loops(1);
    assert_true(sb_metrics_ready(why, sizeof(why)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ready_only_while_every_loop_turns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
