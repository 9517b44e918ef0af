#pragma once
/* switchboardd: the event loop, the listener, the connections, clean shutdown. */

#include "config.h"

/**
 * Runs the server with `cfg` (made from `argc`, `argv`, which a SIGHUP reads
 * again, with the config file they name) until SIGTERM or SIGINT: opens the store,
 * makes sure the admin token exists, listens, serves, and shuts down
 * cleanly (in-flight requests are answered and committed first). Returns
 * the process exit status: 0 after a clean stop, 1 when it could not start.
 */
int sb_server_run(const sb_config_t *cfg, int argc, char **argv);
