#pragma once
/*
 * The adapters' part of the softphone check. The store computes each
 * softphone view when something it depends on is written (store_view.c);
 * this is the function it calls for the adapter's rendering, which asks the
 * plugin host. The user's id is not known then: the adapter renders for
 * SB_ADAPTER_USER_PLACEHOLDER, and the check puts the id in its place.
 */

#include "plugin_host.h"
#include "store.h"

/**
 * An sb_store_renderer_fn whose ctx is an sb_plugin_host_t: fills `out`
 * with whether the Call Center's adapter is loaded and the URL it renders.
 * An isolated adapter that is down keeps the stored URL (and a log line):
 * its children restart, and a view must not flip to "refused" for that.
 */
void sb_softphone_render(void *plugins, const char *org, const sb_callcenter_t *cc,
                         sb_view_render_t *out);
