#pragma once
/*
 * An isolated plugin: the plugin runs in a child process (sb-plugin-runner)
 * that loads it and answers msgpack-RPC calls over a socket pair. A call
 * that crashes the child, or gets no answer before the deadline, fails with
 * SB_E_ADAPTER_UNAVAILABLE; the child is killed and started again on a later
 * call, after a back-off that doubles from 250 ms up to 30 s.
 *
 *   host thread                       child (sb-plugin-runner NAME.so)
 *   call(method, args) ──request──>   the in-process host, on its one plugin
 *        poll(deadline)  <─response──
 *   EOF / timeout: kill, back off, UNAVAILABLE
 */

#include <msgpack.h>
#include <stdbool.h>

#include "error.h"
#include "plugin_host.h"

typedef struct sb_plugin_child sb_plugin_child_t;

/**
 * Starts `runner` on the plugin file `so_path` and asks it what it loaded:
 * *info is the child's view (loaded, or refused with its check). *out is
 * [owned: sb_plugin_child_free()] even when the plugin was refused.
 */
int sb_plugin_child_start(const char *runner, const char *so_path, unsigned deadline_ms,
                          sb_plugin_child_t **out, sb_plugin_info_t *info, sb_err_t *err);

/** Stops the child and frees; NULL does nothing. */
void sb_plugin_child_free(sb_plugin_child_t *child);

/**
 * Calls `method` with `args` (a packed map, or NULL) and waits up to the
 * deadline. Returns 0 with the result in *result (msgpack_unpacked_destroy
 * it), or SB_E_ADAPTER_UNAVAILABLE. One call at a time per child: callers
 * from several threads wait their turn.
 */
int sb_plugin_child_call(sb_plugin_child_t *child, const char *method, const msgpack_sbuffer *args,
                         msgpack_unpacked *result, sb_err_t *err);

/** How the child is doing: running now, times restarted, the last failure ("" none). Never waits
 * for a call. */
void sb_plugin_child_status(sb_plugin_child_t *child, bool *up, unsigned *restarts,
                            char *last_failure, size_t cap);
