/* plugin.*: the partner adapters the server has loaded, or refused. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "plugin_host.h"
#include "renders.h"

/*
 * `text` with every occurrence of `path` replaced by "<plugin dir>", in the
 * call's zone; `text` itself when the path is empty or absent, NULL when
 * the zone is out of memory. A loader's error ("/srv/.../x.so: cannot open
 * ...") names the server's directories, which only the admin may see.
 */
static const char *without_path(sb_call_t *call, const char *text, const char *path)
{
    static const char stand_in[] = "<plugin dir>";
    size_t plen = strlen(path), hits = 0;
    if (text == NULL || plen == 0)
        return text;
    for (const char *at = strstr(text, path); at != NULL; at = strstr(at + plen, path))
        hits++;
    if (hits == 0)
        return text;
    /* The result is never longer than the text plus the stand-ins. */
    char *out = msgpack_zone_malloc(call->zone, strlen(text) + hits * sizeof(stand_in) + 1);
    if (out == NULL)
        return NULL;
    char *w = out;
    for (const char *at; (at = strstr(text, path)) != NULL; text = at + plen) {
        memcpy(w, text, (size_t)(at - text));
        w += at - text;
        memcpy(w, stand_in, sizeof(stand_in) - 1);
        w += sizeof(stand_in) - 1;
    }
    memcpy(w, text, strlen(text) + 1);
    return out;
}

static int plugin_list(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_plugin_info_t *rows;
    size_t n;
    if (sb_plugin_host_list(call->svc->plugins, &rows, &n) != 0)
        return sb_err_default(err, -ENOMEM);
    /* Only the admin sees the server's paths: the plugin directory is nil
     * for an org's token, and any path in a loader's message is masked. */
    bool admin = call->token.role == SB_ROLE_ADMIN;
    const char *dir = call->svc->config->plugin_dir;
    const char *runner = call->svc->config->plugin_runner;
    int rc = msgpack_pack_map(pk, 2) | sb_pack_kv_str(pk, "dir", admin ? dir : NULL) |
             sb_pack_str(pk, "plugins") | msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        const sb_plugin_info_t *p = &rows[i];
        const char *reason = p->loaded ? p->description : p->reason;
        const char *failure = p->last_failure[0] ? p->last_failure : NULL;
        if (!admin) {
            /* An adapter is shared by every org: its restarts and last
             * failure may tell of another tenant's calls, so only the
             * admin sees them. */
            failure = NULL;
            reason = without_path(call, without_path(call, reason, runner), dir);
            if (reason == NULL && !p->loaded) {
                rc = -ENOMEM;
                break;
            }
        }
        char abi[16];
        snprintf(abi, sizeof(abi), "%u.%u", p->abi_major, p->abi_minor);
        rc |= msgpack_pack_map(pk, 12) | sb_pack_kv_str(pk, "file", p->file) |
              sb_pack_kv_str(pk, "name", p->name) | sb_pack_kv_str(pk, "version", p->version) |
              sb_pack_kv_str(pk, "vendor", p->vendor) | sb_pack_kv_str(pk, "abi", abi) |
              sb_pack_kv_str(pk, "mode", p->mode) |
              sb_pack_kv_str(pk, "state", p->loaded ? "loaded" : "refused") |
              sb_pack_kv_str(pk, "check", p->loaded ? NULL : p->check) |
              sb_pack_kv_str(pk, "reason", reason) |
              sb_pack_kv_bool(pk, "available", p->available) | sb_pack_str(pk, "restarts") |
              (admin ? msgpack_pack_uint32(pk, p->restarts) : msgpack_pack_nil(pk)) |
              sb_pack_kv_str(pk, "last_failure", failure);
    }
    free(rows);
    return rc == -ENOMEM ? sb_err_default(err, rc) : rc;
}

/* plugin.reload, off the writer: load the set, have its adapters render
 * every Call Center with members (trusted ones in their trial), end the trial. */
typedef struct reload_prep {
    size_t loaded, refused;
} reload_prep_t;

int sb_plugins_reload(const sb_service_t *svc, size_t *loaded, size_t *refused, sb_err_t *err)
{
    *loaded = *refused = 0;
    /* One reload at a time: prepare steps run on several pool threads (and
     * SIGHUP starts one too), and two loads at once would initialise one
     * dlopen handle twice, or end one set's trial while the other swaps the
     * set. */
    static pthread_mutex_t reloading = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&reloading);
    int rc = sb_plugin_host_load(svc->plugins, NULL, NULL, err);
    if (rc == 0 && svc->renders != NULL)
        rc = sb_softphone_prerender_all(svc->renders, svc->store, err);
    sb_plugin_host_end_trial(svc->plugins);
    pthread_mutex_unlock(&reloading);
    sb_plugin_info_t *rows = NULL;
    size_t n = 0;
    if (rc == 0 && sb_plugin_host_list(svc->plugins, &rows, &n) != 0)
        rc = sb_err_default(err, -ENOMEM);
    for (size_t i = 0; rc == 0 && i < n; i++)
        *loaded += rows[i].loaded;
    *refused = rc == 0 ? n - *loaded : 0;
    free(rows);
    return rc;
}

static int prepare_reload(sb_call_t *call, sb_err_t *err)
{
    reload_prep_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return sb_err_default(err, -ENOMEM);
    int rc = sb_plugins_reload(call->svc, &p->loaded, &p->refused, err);
    if (rc != 0) {
        free(p);
        return rc;
    }
    call->prep = p;
    call->prep_free = free;
    return 0;
}

static int plugin_reload(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const reload_prep_t *p = call->prep;
    if (p == NULL)
        return sb_err_default(err, -EINVAL);
    /* On the writer thread: the softphone views follow the new set, from
     * the renderings made ahead (no adapter runs here). */
    int rc = sb_store_views_refresh(call->svc->store, NULL, err);
    if (rc != 0)
        return rc;
    return msgpack_pack_map(pk, 2) | sb_pack_kv_uint(pk, "loaded", p->loaded) |
           sb_pack_kv_uint(pk, "refused", p->refused);
}

static const sb_method_t methods[] = {
    {"plugin.list",
     "Every adapter plugin file in the plugin directory: loaded, or refused with the check that "
     "failed and why.",
     SB_ROLE_READ_ONLY,
     false,
     false,
     plugin_list,
     {{NULL, 0, false, NULL}},
     "{dir (nil for an org's token: only the admin sees the server's paths), plugins: [{file, "
     "name, version, vendor, abi, mode, state: loaded | refused, check: "
     "the failed check (major, minor, size, entry_points, name, symbol, open, init, render, "
     "isolation, duplicate) "
     "or nil, reason: the refusal, or the adapter's description, available: false while an "
     "isolated adapter's process is down, restarts and last_failure (nil for an org's token: an "
     "adapter is shared by every org)}]}",
     ""},
    {"plugin.reload",
     "Loads the plugin directory again: new files are loaded, removed ones unloaded once no call "
     "uses them; every softphone view is rendered again.",
     SB_ROLE_ADMIN,
     true,
     false,
     plugin_reload,
     {{NULL, 0, false, NULL}},
     "{loaded: count, refused: count}",
     "IO_ERROR"},
};

const sb_method_slice_t sb__plugin_methods = {methods, sizeof(methods) / sizeof(methods[0])};

static const sb_method_prep_t preps[] = {
    {"plugin.reload", prepare_reload},
};

const sb_method_prep_slice_t sb__plugin_preps = {preps, sizeof(preps) / sizeof(preps[0])};
