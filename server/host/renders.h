#pragma once
/*
 * The adapters' part of the softphone check. The store computes each
 * softphone view when something it depends on is written (store/view.c),
 * inside the write's transaction on the writer thread. Adapter code never
 * runs there: an adapter that hangs until its deadline would hold every
 * tenant's writes. Instead the adapter renders a Call Center ahead of the
 * write, on the thread pool (a method's prepare step) or at start, and the
 * result waits in this cache; the store's renderer only looks it up.
 *
 *   prepare (thread pool)                 write (writer thread)
 *   sb_softphone_prerender(org, cc) ──>  cache  ──> sb_softphone_render(org, cc)
 *                                        keyed by org and Call Center, fresh
 *                                        while the Call Center's content, its
 *                                        adapter and the plugin set are the same
 *
 * The user's id is not known then: the adapter renders for
 * SB_ADAPTER_USER_PLACEHOLDER, and the check puts the id in its place.
 */

#include "plugin_host.h"
#include "store.h"

typedef struct sb_renders sb_renders_t;

/** A cache of the adapters' renderings. *out [owned: sb_renders_free()]. */
int sb_renders_new(sb_plugin_host_t *host, sb_renders_t **out);

/** Frees the cache; NULL does nothing. */
void sb_renders_free(sb_renders_t *renders);

/**
 * Makes sure the cache holds a fresh rendering of `cc` (of `org`): when it
 * does not, asks the adapter, which may take up to an isolated adapter's
 * deadline. Any thread but the writer's. An isolated adapter that is down
 * leaves nothing in the cache (the view keeps the stored URL, see below).
 */
void sb_softphone_prerender(sb_renders_t *renders, const char *org, const sb_callcenter_t *cc);

/**
 * Renders every Call Center that has members, in every org (start, and
 * after the plugin set changed). Any thread but the writer's; reads the store.
 */
int sb_softphone_prerender_all(sb_renders_t *renders, sb_store_t *store, sb_err_t *err);

/** Drops the rendering of Call Center `cc_id` of `org` (it was deleted). Any thread. */
void sb_softphone_forget(sb_renders_t *renders, const char *org, const char *cc_id);

/**
 * An sb_store_renderer_fn whose ctx is an sb_renders_t: fills `out` from
 * the cache, and never calls an adapter. Without a fresh rendering (an
 * isolated adapter that was down, or a race with plugin.reload) the view
 * keeps the stored adapter URL, with a log line, exactly as when an
 * isolated adapter is down: its next change or refresh renders it again.
 */
void sb_softphone_render(void *renders, const char *org, const sb_callcenter_t *cc,
                         sb_view_render_t *out);
