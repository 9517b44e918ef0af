#pragma once
/*
 * The plugin host: loads partner adapters (abi/switchboard/adapter.h) from
 * the plugin directory, refuses what it cannot trust (with the check that
 * failed), and calls them for the server.
 *
 * Lifetime: every call pins its plugin; plugin.reload swaps in a new set,
 * and a plugin that left the set is finalized and unloaded only when its
 * last call has returned. Calls may come from any thread.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callcenter.h"
#include "error.h"

#define SB_PLUGIN_NAME_MAX 64

/** What plugin.list shows of one plugin file. */
/* The bounds of an adapter call's latency buckets, in ms: a cached
 * in-process render to an isolated call cut at its deadline. */
#define SB_PLUGIN_CALL_BOUNDS_MS                                                                   \
    {                                                                                              \
        1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000                                          \
    }
#define SB_PLUGIN_CALL_BUCKETS 11

typedef struct sb_plugin_info {
    char file[256]; /* the file name, "five9.so" */
    char name[SB_PLUGIN_NAME_MAX + 1];
    char vendor[128];
    char version[32];
    char description[256];
    unsigned abi_major, abi_minor;
    bool loaded;            /* false: refused */
    char check[32];         /* the check that refused it: open, symbol, major, minor, size,
                               entry_points, name, init, render, isolation, duplicate; "" when
                               loaded */
    char reason[384];       /* a sentence: why, and what to do */
    char mode[16];          /* "in_process" or "isolated" */
    bool available;         /* isolated: its child is running or may start now */
    unsigned restarts;      /* isolated: times its child was started again */
    char last_failure[160]; /* isolated: why its child last failed, or "" */
    /* Its calls (validate, render, call_event, template, settings) since this
     * set was loaded: how many, their time, and how many took at most each
     * of SB_PLUGIN_CALL_BOUNDS_MS (the last: longer). For the metrics. */
    uint64_t calls, call_ns;
    uint64_t call_buckets[SB_PLUGIN_CALL_BUCKETS + 1];
} sb_plugin_info_t;

typedef struct sb_plugin_host sb_plugin_host_t;

/** A host for the plugins of `dir` (nothing is loaded yet). *out [owned: sb_plugin_host_free()]. */
int sb_plugin_host_new(const char *dir, sb_plugin_host_t **out);

/**
 * Runs every plugin isolated: each in a child process started from
 * `runner` (sb-plugin-runner), whose calls fail with
 * SB_E_ADAPTER_UNAVAILABLE after `deadline_ms` without an answer; except
 * those named in `in_process` ("all", or names separated by commas; "" or
 * "none" for none), which the operator trusts to run in the server's
 * process. A trusted plugin is first tried in a child process (its init,
 * and its renders until sb_plugin_host_end_trial): one that crashes there
 * is refused, never loaded into the server. Without a runner ("") every
 * plugin runs in process, untried. Takes effect at the next load.
 */
void sb_plugin_host_set_isolation(sb_plugin_host_t *host, const char *runner,
                                  const char *in_process, unsigned deadline_ms);

/**
 * Ends the trial of the trusted plugins of the current set (call it after
 * the renders that follow a load: sb_softphone_prerender_all). One whose
 * trial crashed or hung is refused with the check "render"; the others
 * render in process from now on.
 */
void sb_plugin_host_end_trial(sb_plugin_host_t *host);

/** Counts the loads: a result rendered under an older set is stale. */
uint64_t sb_plugin_host_generation(sb_plugin_host_t *host);

/** Finalizes and unloads every plugin (no call may be in flight); NULL does nothing. */
void sb_plugin_host_free(sb_plugin_host_t *host);

/**
 * (Re)loads every NAME.so in the directory and makes it the current set;
 * plugins no longer in it are unloaded once idle. *loaded and *refused (may
 * be NULL) count the outcome. A directory that does not exist is an empty set.
 */
int sb_plugin_host_load(sb_plugin_host_t *host, size_t *loaded, size_t *refused, sb_err_t *err);

/** The current set, loaded and refused, by file name. *rows [owned: free()]. */
int sb_plugin_host_list(sb_plugin_host_t *host, sb_plugin_info_t **rows, size_t *n);

/** Whether an adapter named `name` is loaded. */
bool sb_plugin_host_has(sb_plugin_host_t *host, const char *name);

/**
 * Asks every loaded adapter how sure it is that `cc` is its own. *best gets
 * the name of the highest claim above 0 ("" when none claims). When two
 * share the highest claim, returns -EEXIST with a sentence naming them.
 */
int sb_plugin_host_claim(sb_plugin_host_t *host, const sb_callcenter_t *cc,
                         char best[SB_PLUGIN_NAME_MAX + 1], int *confidence, sb_err_t *err);

/**
 * Has adapter `name` validate `cc`. Returns 0 when it finds no problem, or
 * SB_E_INVALID_VALUE with every problem in the sentence; -ENOENT when the
 * adapter is not loaded.
 */
int sb_plugin_host_validate(sb_plugin_host_t *host, const char *name, const sb_callcenter_t *cc,
                            sb_err_t *err);

/** One result an adapter set through its sink. */
typedef struct sb_plugin_kv {
    char key[64];
    char value[2048];
} sb_plugin_kv_t;

/**
 * Has adapter `name` render its part of the softphone check of `user`.
 * *out [owned: free()] holds what it set (adapter_url at least).
 */
int sb_plugin_host_render(sb_plugin_host_t *host, const char *name, const sb_callcenter_t *cc,
                          const char *user, sb_plugin_kv_t **out, size_t *n, sb_err_t *err);

/**
 * Has adapter `name` translate one vendor call event (`event`, the vendor's
 * JSON). Returns 0 with the voice-call changes in *out [owned: free()];
 * -ENOENT when the adapter is not loaded; -ENOMSG when it does not map this
 * event; SB_E_INVALID_VALUE when it fails.
 */
int sb_plugin_host_call_event(sb_plugin_host_t *host, const char *name, const sb_callcenter_t *cc,
                              const char *event, sb_plugin_kv_t **out, size_t *n, sb_err_t *err);

/** Copies out the settings adapter `name` declares. *out [owned: free()]; strings truncated to 255.
 */
typedef struct sb_plugin_setting_copy {
    char section[256], name[256], label[256], default_value[256], rule[256];
    bool required;
    bool secret; /* SB_ADAPTER_SETTING_SECRET */
} sb_plugin_setting_copy_t;
int sb_plugin_host_settings(sb_plugin_host_t *host, const char *name,
                            sb_plugin_setting_copy_t **out, size_t *n, sb_err_t *err);

/**
 * Whether adapter `name` marks setting /section/item secret. Read from what
 * the adapter declared when it was loaded: no call into the adapter, so it
 * may be asked on the event loop. False when the adapter is not loaded.
 */
bool sb_plugin_host_is_secret(sb_plugin_host_t *host, const char *name, const char *section,
                              const char *item);

/**
 * The settings adapter `name` declares, as a Call Center definition a
 * partner would ship (its sections and items with their defaults, under a
 * generated internal and display name). *out [owned].
 */
int sb_plugin_host_template(sb_plugin_host_t *host, const char *name, sb_callcenter_t **out,
                            sb_err_t *err);
