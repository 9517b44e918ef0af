#include "plugin_host.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "message.h"
#include "plugin_child.h"
#include "record_codec.h"
#include "switchboard/adapter.h"
#include "utf8.h"

typedef struct plugin {
    sb_plugin_info_t info;
    void *dl;               /* dlopen handle; NULL when refused */
    const sb_adapter *desc; /* [borrowed: until dlclose] */
    void *state;            /* the plugin's, from init */
    unsigned refs;          /* the set's reference, and one per call in flight */
    /* In process: held around every entry point call. The ABI promises a
     * plugin one thread at a time, and prepare steps run on many. */
    pthread_mutex_t call_lock;
    sb_plugin_child_t *child; /* isolated: the process that runs it; else NULL */
    /* In process: its trial, a child process that ran its init and runs its
     * renders until sb_plugin_host_end_trial(), so that an adapter that
     * crashes there is refused instead of taking the server down. */
    sb_plugin_child_t *trial;
    unsigned trial_calls; /* renders going through the trial now (under the host's lock) */
    bool trial_over;      /* no new call uses the trial */
    bool trial_failed;
    char trial_failure[160];
    /* The settings it marks secret, "\nsection/item\n" each, read once at load (see
     * sb_plugin_host_is_secret); secrets_all: more than fit, so every setting is. */
    char secrets[2048];
    bool secrets_all;
} plugin_t;

struct sb_plugin_host {
    char dir[4096];
    char runner[4096];     /* sb-plugin-runner, for isolated plugins */
    char in_process[1024]; /* "" none, "all", or ",a,b,": the trusted ones */
    unsigned deadline_ms;
    uint64_t generation; /* counts loads: a rendering is only as fresh as its set */
    pthread_mutex_t lock;
    plugin_t **plugins; /* the current set */
    size_t n;
};

/* ---- the services a plugin gets ------------------------------------------ */

static void host_log(int level, const char *adapter, const char *message)
{
    sb_log_level_t l = level <= SB_ADAPTER_LOG_DEBUG  ? SB_LOG_DEBUG
                       : level == SB_ADAPTER_LOG_INFO ? SB_LOG_INFO
                       : level == SB_ADAPTER_LOG_WARN ? SB_LOG_WARN
                                                      : SB_LOG_ERROR;
    sb_log(l, "adapter %s: %s", adapter ? adapter : "?", message ? message : "");
}

static int64_t host_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const sb_host host_services = {
    .struct_size = sizeof(sb_host),
    .abi_major = SB_ADAPTER_ABI_MAJOR,
    .abi_minor = SB_ADAPTER_ABI_MINOR,
    .log = host_log,
    .alloc = malloc,
    .free = free,
    .now_ms = host_now_ms,
};

/* ---- loading ----------------------------------------------------------------- */

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static void refuse(plugin_t *p, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(plugin_t *p, const char *check, const char *fmt, ...)
{
    p->info.loaded = false;
    copy(p->info.check, sizeof(p->info.check), check);
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see error.c
    vsnprintf(p->info.reason, sizeof(p->info.reason), fmt, ap);
    va_end(ap);
}

/* The checks of adapter.h, in its order. Strings of the descriptor are
 * copied into info before anything can close the library. */
static void check_descriptor(plugin_t *p, const sb_adapter *d, const char *stem)
{
    p->info.abi_major = d->abi_major;
    p->info.abi_minor = d->abi_minor;
    if (d->abi_major != SB_ADAPTER_ABI_MAJOR) {
        refuse(p, "major",
               "it was built for adapter ABI %u.x; this server speaks %d.%d. Rebuild it against "
               "this server's switchboard/adapter.h.",
               d->abi_major, SB_ADAPTER_ABI_MAJOR, SB_ADAPTER_ABI_MINOR);
        return;
    }
    if (d->abi_minor > SB_ADAPTER_ABI_MINOR) {
        refuse(p, "minor",
               "it was built for adapter ABI %u.%u, newer than this server's %d.%d. Upgrade the "
               "server, or build the adapter against the older header.",
               d->abi_major, d->abi_minor, SB_ADAPTER_ABI_MAJOR, SB_ADAPTER_ABI_MINOR);
        return;
    }
    if (d->struct_size < SB_ADAPTER_SIZE_1_0) {
        refuse(p, "size",
               "its descriptor is %u bytes; ABI %u.%u needs at least %zu. It was not built with "
               "SB_ADAPTER_DEFINE from switchboard/adapter.h.",
               d->struct_size, d->abi_major, d->abi_minor, (size_t)SB_ADAPTER_SIZE_1_0);
        return;
    }
    copy(p->info.name, sizeof(p->info.name), d->name);
    copy(p->info.vendor, sizeof(p->info.vendor), d->vendor);
    copy(p->info.version, sizeof(p->info.version), d->version);
    copy(p->info.description, sizeof(p->info.description), d->description);
    const struct {
        const char *name;
        const void *fn;
    } entries[] = {
        {"init", (const void *)d->init},
        {"fini", (const void *)d->fini},
        {"describe", (const void *)d->describe},
        {"claim", (const void *)d->claim},
        {"validate", (const void *)d->validate},
        {"render", (const void *)d->render},
        {"call_event", (const void *)d->call_event},
    };
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        if (entries[i].fn == NULL) {
            refuse(p, "entry_points", "its entry point %s is missing; ABI 1.0 needs all seven.",
                   entries[i].name);
            return;
        }
    }
    if (d->name == NULL || strcmp(d->name, stem) != 0) {
        refuse(p, "name",
               "it calls itself '%s' but its file is %s.so; rename one so that they agree.",
               d->name ? d->name : "", stem);
        return;
    }
    p->info.loaded = true;
}

static plugin_t *plugin_new(void)
{
    plugin_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->refs = 1;
    pthread_mutex_init(&p->call_lock, NULL);
    return p;
}

static plugin_t *load_one(const char *dir, const char *file)
{
    plugin_t *p = plugin_new();
    if (p == NULL)
        return NULL;
    copy(p->info.file, sizeof(p->info.file), file);
    copy(p->info.mode, sizeof(p->info.mode), "in_process");
    char stem[SB_PLUGIN_NAME_MAX + 1];
    size_t stem_len = strlen(file) - 3;
    copy(stem, stem_len + 1 < sizeof(stem) ? stem_len + 1 : sizeof(stem), file);
    copy(p->info.name, sizeof(p->info.name), stem);
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    /* RTLD_NOW: a missing symbol refuses the plugin now, not mid-call.
     * RTLD_LOCAL: one plugin's symbols never satisfy another's. */
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (p->dl == NULL) {
        const char *why = dlerror();
        refuse(p, "open", "it cannot be loaded: %s.", why ? why : "unknown error");
        return p;
    }
    sb_adapter_entry_fn entry = NULL;
    *(void **)&entry = dlsym(p->dl, SB_ADAPTER_ENTRY_SYMBOL);
    const sb_adapter *d = entry ? entry() : NULL;
    if (d == NULL) {
        refuse(p, "symbol",
               "it exports no " SB_ADAPTER_ENTRY_SYMBOL " (or it returned nothing); define the "
               "adapter with SB_ADAPTER_DEFINE.");
    } else {
        check_descriptor(p, d, stem);
    }
    if (d != NULL && p->info.loaded) {
        int rc = d->init(&host_services, &p->state);
        if (rc != SB_ADAPTER_OK)
            refuse(p, "init", "its init returned %d; its log lines say why.", rc);
    }
    if (!p->info.loaded) {
        dlclose(p->dl);
        p->dl = NULL;
        return p;
    }
    p->desc = d;
    return p;
}

/* An isolated plugin: its child loads it and makes the checks. */
static plugin_t *load_isolated(sb_plugin_host_t *host, const char *file)
{
    plugin_t *p = plugin_new();
    if (p == NULL)
        return NULL;
    copy(p->info.file, sizeof(p->info.file), file);
    snprintf(p->info.name, sizeof(p->info.name), "%.*s", (int)(strlen(file) - 3), file);
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", host->dir, file);
    sb_err_t err;
    sb_err_clear(&err);
    if (sb_plugin_child_start(host->runner, path, host->deadline_ms, &p->child, &p->info, &err) !=
        0) {
        {
            /* A child that could not be started is the set-up's fault; one that
             * died or hung before answering crashed in its init. */
            if (strstr(err.message, "could not be started") != NULL)
                refuse(p, "isolation", "its child process failed at start: %s", err.message);
            else
                refuse(p, "init", "it crashed or hung at start, in its child process: %s",
                       err.message);
        }
    }
    copy(p->info.mode, sizeof(p->info.mode), "isolated");
    if (!p->info.loaded) {
        sb_plugin_child_free(p->child);
        p->child = NULL;
    }
    return p;
}

/* Isolated unless the operator trusts it in process (or no runner is set). */
static bool is_isolated(const sb_plugin_host_t *host, const char *file)
{
    if (host->runner[0] == '\0' || strcmp(host->in_process, "all") == 0)
        return false;
    char needle[SB_PLUGIN_NAME_MAX + 3];
    snprintf(needle, sizeof(needle), ",%.*s,", (int)(strlen(file) - 3), file);
    return strstr(host->in_process, needle) == NULL;
}

void sb_plugin_host_set_isolation(sb_plugin_host_t *host, const char *runner,
                                  const char *in_process, unsigned deadline_ms)
{
    copy(host->runner, sizeof(host->runner), runner);
    host->deadline_ms = deadline_ms;
    if (in_process == NULL || in_process[0] == '\0' || strcmp(in_process, "none") == 0)
        host->in_process[0] = '\0';
    else if (strcmp(in_process, "all") == 0)
        copy(host->in_process, sizeof(host->in_process), "all");
    else
        snprintf(host->in_process, sizeof(host->in_process), ",%s,", in_process);
}

uint64_t sb_plugin_host_generation(sb_plugin_host_t *host)
{
    pthread_mutex_lock(&host->lock);
    uint64_t g = host->generation;
    pthread_mutex_unlock(&host->lock);
    return g;
}

/* A trusted adapter, loaded in the server's process: first in a child, so
 * that an init that crashes costs a refusal, not the server. */
static plugin_t *load_trusted(sb_plugin_host_t *host, const char *file)
{
    sb_plugin_child_t *trial = NULL;
    if (host->runner[0] != '\0') {
        plugin_t *tried = load_isolated(host, file);
        if (tried == NULL || !tried->info.loaded) {
            if (tried != NULL) {
                copy(tried->info.mode, sizeof(tried->info.mode), "in_process");
                if (strcmp(tried->info.check, "init") == 0)
                    refuse(tried, "init",
                           "it crashed or hung in its init when tried in a child process, and "
                           "is not loaded into the server's process (%.200s)",
                           tried->info.reason);
            }
            return tried;
        }
        trial = tried->child;
        free(tried);
    }
    plugin_t *p = load_one(host->dir, file);
    if (p == NULL || !p->info.loaded)
        sb_plugin_child_free(trial);
    else
        p->trial = trial;
    return p;
}

static int remote_checked(plugin_t *p, const char *method, const sb_callcenter_t *cc,
                          msgpack_unpacked *res, sb_err_t *err);
static const msgpack_object *field(const msgpack_object *map, const char *key);

/* Notes one secret setting of p's. */
static void add_secret(plugin_t *p, const char *section, size_t section_len, const char *item,
                       size_t item_len)
{
    size_t used = strlen(p->secrets);
    if (used == 0)
        p->secrets[used++] = '\n';
    int n = snprintf(p->secrets + used, sizeof(p->secrets) - used, "%.*s/%.*s\n", (int)section_len,
                     section, (int)item_len, item);
    if (n < 0 || (size_t)n >= sizeof(p->secrets) - used) {
        p->secrets[used] = '\0';
        p->secrets_all = true; /* masking too much beats showing a secret */
    }
}

/* Reads, once at load, which of its settings the adapter marks secret: from
 * its describe (in process) or its child (isolated). */
static void read_secrets(plugin_t *p)
{
    p->secrets[0] = '\0';
    p->secrets_all = false;
    if (p->child != NULL) {
        msgpack_unpacked res;
        msgpack_unpacked_init(&res);
        sb_err_t err;
        sb_err_clear(&err);
        if (remote_checked(p, "settings", NULL, &res, &err) == 0) {
            const msgpack_object *list = field(&res.data, "settings");
            for (uint32_t i = 0;
                 list && list->type == MSGPACK_OBJECT_ARRAY && i < list->via.array.size; i++) {
                const msgpack_object *row = &list->via.array.ptr[i];
                if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size < 7 ||
                    row->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
                    row->via.array.ptr[1].type != MSGPACK_OBJECT_STR ||
                    row->via.array.ptr[6].type != MSGPACK_OBJECT_BOOLEAN ||
                    !row->via.array.ptr[6].via.boolean)
                    continue;
                add_secret(p, row->via.array.ptr[0].via.str.ptr, row->via.array.ptr[0].via.str.size,
                           row->via.array.ptr[1].via.str.ptr, row->via.array.ptr[1].via.str.size);
            }
        }
        msgpack_unpacked_destroy(&res);
        return;
    }
    const sb_adapter_setting *settings = NULL;
    pthread_mutex_lock(&p->call_lock);
    size_t count = p->desc->describe(p->state, &settings);
    pthread_mutex_unlock(&p->call_lock);
    for (size_t i = 0; settings != NULL && i < count; i++)
        if ((settings[i].flags & SB_ADAPTER_SETTING_SECRET) && settings[i].section &&
            settings[i].name)
            add_secret(p, settings[i].section, strlen(settings[i].section), settings[i].name,
                       strlen(settings[i].name));
}

static void unload(plugin_t *p)
{
    sb_plugin_child_free(p->trial);
    if (p->child != NULL) {
        sb_plugin_child_free(p->child);
    } else if (p->dl != NULL) {
        p->desc->fini(p->state);
        dlclose(p->dl);
    }
    pthread_mutex_destroy(&p->call_lock);
    free(p);
}

static void release(sb_plugin_host_t *host, plugin_t *p)
{
    pthread_mutex_lock(&host->lock);
    bool last = --p->refs == 0;
    pthread_mutex_unlock(&host->lock);
    if (last) {
        sb_info("plugin %s: unloaded", p->info.file);
        unload(p);
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* Releases a call's pin, counting the call's time in the adapter's info. */
static void release_call(sb_plugin_host_t *host, plugin_t *p, uint64_t started_ns)
{
    static const unsigned bounds_ms[SB_PLUGIN_CALL_BUCKETS] = SB_PLUGIN_CALL_BOUNDS_MS;
    uint64_t ns = now_ns() - started_ns;
    size_t b = 0;
    while (b < SB_PLUGIN_CALL_BUCKETS && ns > (uint64_t)bounds_ms[b] * 1000000)
        b++;
    pthread_mutex_lock(&host->lock);
    p->info.calls++;
    p->info.call_ns += ns;
    p->info.call_buckets[b]++;
    pthread_mutex_unlock(&host->lock);
    release(host, p);
}

int sb_plugin_host_new(const char *dir, sb_plugin_host_t **out)
{
    *out = NULL;
    sb_plugin_host_t *host = calloc(1, sizeof(*host));
    if (host == NULL)
        return -ENOMEM;
    copy(host->dir, sizeof(host->dir), dir);
    pthread_mutex_init(&host->lock, NULL);
    *out = host;
    return 0;
}

void sb_plugin_host_free(sb_plugin_host_t *host)
{
    if (host == NULL)
        return;
    for (size_t i = 0; i < host->n; i++)
        release(host, host->plugins[i]);
    free(host->plugins);
    pthread_mutex_destroy(&host->lock);
    free(host);
}

static int by_file(const void *a, const void *b)
{
    return strcmp((*(plugin_t *const *)a)->info.file, (*(plugin_t *const *)b)->info.file);
}

int sb_plugin_host_load(sb_plugin_host_t *host, size_t *loaded, size_t *refused, sb_err_t *err)
{
    size_t n = 0, cap = 0, ok = 0;
    plugin_t **set = NULL;
    DIR *d = opendir(host->dir);
    if (d == NULL && errno != ENOENT)
        return sb_err_set(err, -EIO, "Cannot read the plugin directory %s: %s.", host->dir,
                          strerror(errno));
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0 || len - 3 > SB_PLUGIN_NAME_MAX)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            plugin_t **grown =
                realloc(set, cap * sizeof(*grown)); // NOLINT(bugprone-sizeof-expression): pointers
            if (grown == NULL)
                break;
            set = grown;
        }
        plugin_t *p = is_isolated(host, e->d_name) ? load_isolated(host, e->d_name)
                                                   : load_trusted(host, e->d_name);
        if (p == NULL)
            break;
        if (p->info.loaded)
            read_secrets(p);
        set[n++] = p;
    }
    if (d != NULL)
        closedir(d);
    if (n > 1)
        qsort(set, n, sizeof(*set), by_file); // NOLINT(bugprone-sizeof-expression): pointers
    for (size_t i = 0; i < n; i++) {
        plugin_t *p = set[i];
        for (size_t j = 0; j < i && p->info.loaded; j++)
            if (set[j]->info.loaded && strcmp(set[j]->info.name, p->info.name) == 0) {
                sb_plugin_child_free(p->trial);
                p->trial = NULL;
                if (p->child != NULL) {
                    sb_plugin_child_free(p->child);
                    p->child = NULL;
                } else {
                    p->desc->fini(p->state);
                    dlclose(p->dl);
                    p->dl = NULL;
                }
                refuse(p, "duplicate", "another file already loaded the adapter %s.", p->info.name);
            }
        ok += p->info.loaded;
        if (p->info.loaded)
            sb_info("plugin %s: loaded adapter %s %s by %s (ABI %u.%u, %s)", p->info.file,
                    p->info.name, p->info.version, p->info.vendor, p->info.abi_major,
                    p->info.abi_minor, p->child ? "isolated" : "in process");
        else
            sb_warn("plugin %s: refused (%s check): %s", p->info.file, p->info.check,
                    p->info.reason);
    }
    pthread_mutex_lock(&host->lock);
    plugin_t **old = host->plugins;
    size_t old_n = host->n;
    host->plugins = set;
    host->n = n;
    host->generation++;
    pthread_mutex_unlock(&host->lock);
    /* The old set goes once its calls are done. */
    for (size_t i = 0; i < old_n; i++)
        release(host, old[i]);
    free(old);
    if (loaded)
        *loaded = ok;
    if (refused)
        *refused = n - ok;
    return 0;
}

void sb_plugin_host_end_trial(sb_plugin_host_t *host)
{
    pthread_mutex_lock(&host->lock);
    size_t n = host->n;
    plugin_t **gone = calloc(n ? n : 1, sizeof(*gone)); // NOLINT(bugprone-sizeof-expression)
    size_t n_gone = 0;
    for (size_t i = 0; gone != NULL && i < n; i++) {
        plugin_t *p = host->plugins[i];
        if (p->trial == NULL || p->trial_over)
            continue;
        p->trial_over = true;
        if (!p->trial_failed) {
            /* Its trial child is no longer needed; one still in a call is
             * freed with the plugin (unload). */
            sb_plugin_child_t *trial = p->trial_calls == 0 ? p->trial : NULL;
            if (trial != NULL)
                p->trial = NULL;
            pthread_mutex_unlock(&host->lock);
            sb_plugin_child_free(trial);
            pthread_mutex_lock(&host->lock);
            continue;
        }
        /* A refused copy takes its place; the loaded one is unloaded once
         * the calls that pinned it have returned. */
        plugin_t *refused = calloc(1, sizeof(*refused));
        if (refused == NULL)
            continue;
        refused->refs = 1;
        refused->info = p->info;
        refused->info.loaded = false;
        refuse(refused, "render",
               "it crashed or hung rendering a Call Center when tried in a child process at "
               "load (%.200s); it is not loaded into the server's process. Fix it, or run it "
               "isolated (leave it out of --in-process).",
               p->trial_failure);
        host->plugins[i] = refused;
        gone[n_gone++] = p;
    }
    pthread_mutex_unlock(&host->lock);
    for (size_t i = 0; i < n_gone; i++) {
        sb_warn("plugin %s: refused (render check): it crashed or hung in its trial",
                gone[i]->info.file);
        release(host, gone[i]);
    }
    free(gone);
}

int sb_plugin_host_list(sb_plugin_host_t *host, sb_plugin_info_t **rows, size_t *n)
{
    pthread_mutex_lock(&host->lock);
    *n = host->n;
    *rows = calloc(host->n ? host->n : 1, sizeof(**rows));
    for (size_t i = 0; *rows && i < host->n; i++) {
        (*rows)[i] = host->plugins[i]->info;
        (*rows)[i].available = host->plugins[i]->info.loaded;
        if (host->plugins[i]->child != NULL) {
            bool up;
            sb_plugin_child_status(host->plugins[i]->child, &up, &(*rows)[i].restarts,
                                   (*rows)[i].last_failure, sizeof((*rows)[i].last_failure));
            (*rows)[i].available = up || (*rows)[i].last_failure[0] == '\0';
        }
    }
    pthread_mutex_unlock(&host->lock);
    return *rows ? 0 : -ENOMEM;
}

/* Pins the loaded adapter `name` for a call; NULL when it is not loaded. */
static plugin_t *pin(sb_plugin_host_t *host, const char *name)
{
    plugin_t *found = NULL;
    pthread_mutex_lock(&host->lock);
    for (size_t i = 0; i < host->n && !found; i++)
        if (host->plugins[i]->info.loaded && strcmp(host->plugins[i]->info.name, name) == 0)
            found = host->plugins[i];
    if (found)
        found->refs++;
    pthread_mutex_unlock(&host->lock);
    return found;
}

bool sb_plugin_host_is_secret(sb_plugin_host_t *host, const char *name, const char *section,
                              const char *item)
{
    if (host == NULL || name == NULL || name[0] == '\0')
        return false;
    plugin_t *p = pin(host, name);
    if (p == NULL)
        return false;
    bool secret = p->secrets_all;
    if (!secret && p->secrets[0] != '\0') {
        char needle[600];
        int n = snprintf(needle, sizeof(needle), "\n%s/%s\n", section, item);
        secret = n > 0 && (size_t)n < sizeof(needle) && strstr(p->secrets, needle) != NULL;
    }
    release(host, p);
    return secret;
}

bool sb_plugin_host_has(sb_plugin_host_t *host, const char *name)
{
    plugin_t *p = pin(host, name);
    if (p)
        release(host, p);
    return p != NULL;
}

/* ---- the adapter's view of a Call Center -------------------------------------- */

typedef struct view {
    sb_adapter_callcenter cc;
    sb_adapter_item *items;
} view_t;

static int make_view(const sb_callcenter_t *cc, const char *org, view_t *v)
{
    size_t n = 0;
    for (size_t s = 0; s < cc->n_sections; s++)
        n += cc->sections[s].n_items;
    v->items = calloc(n ? n : 1, sizeof(*v->items));
    if (v->items == NULL)
        return -ENOMEM;
    size_t k = 0;
    for (size_t s = 0; s < cc->n_sections; s++)
        for (size_t i = 0; i < cc->sections[s].n_items; i++)
            v->items[k++] =
                (sb_adapter_item){cc->sections[s].name, cc->sections[s].items[i].name,
                                  cc->sections[s].items[i].label, cc->sections[s].items[i].value};
    v->cc = (sb_adapter_callcenter){.struct_size = sizeof(sb_adapter_callcenter),
                                    .org = org ? org : "",
                                    .id = cc->id.s,
                                    .internal_name = sb_callcenter_internal_name(cc),
                                    .display_name = sb_callcenter_display_name(cc),
                                    .items = v->items,
                                    .n_items = n};
    return 0;
}

/* ---- isolated plugins: the same calls, over the child's channel ---------------- */

/* Calls `method` on the child with the Call Center (as its stored record)
 * and one more string argument. */
static int remote(plugin_t *p, const char *method, const sb_callcenter_t *cc, const char *key,
                  const char *text, msgpack_unpacked *res, sb_err_t *err)
{
    msgpack_sbuffer args, record;
    msgpack_sbuffer_init(&args);
    msgpack_sbuffer_init(&record);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (cc ? 1 : 0) + (key ? 1 : 0));
    if (cc) {
        sb_codec_encode_callcenter(cc, &record);
        sb_pack_str(&pk, "cc");
        msgpack_pack_bin(&pk, record.size);
        msgpack_pack_bin_body(&pk, record.data, record.size);
    }
    if (key)
        sb_pack_kv_str(&pk, key, text ? text : "");
    int rc = sb_plugin_child_call(p->child, method, &args, res, err);
    msgpack_sbuffer_destroy(&args);
    msgpack_sbuffer_destroy(&record);
    return rc;
}

static const msgpack_object *field(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++)
        if (map->via.map.ptr[i].key.type == MSGPACK_OBJECT_STR &&
            map->via.map.ptr[i].key.via.str.size == strlen(key) &&
            memcmp(map->via.map.ptr[i].key.via.str.ptr, key, strlen(key)) == 0)
            return &map->via.map.ptr[i].val;
    return NULL;
}

static void str_field(const msgpack_object *map, const char *key, char *dst, size_t cap)
{
    const msgpack_object *v = field(map, key);
    if (v && v->type == MSGPACK_OBJECT_STR)
        snprintf(dst, cap, "%.*s", (int)v->via.str.size, v->via.str.ptr);
    else
        dst[0] = '\0';
}

/* The outcome the child reported: its code, with its sentence. */
static int remote_outcome(const msgpack_object *res, sb_err_t *err)
{
    const msgpack_object *code = field(res, "code");
    int rc = 0;
    if (code && code->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        rc = (int)code->via.i64;
    else if (code == NULL || code->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return sb_err_set(err, SB_E_ADAPTER_UNAVAILABLE,
                          "The adapter's process answered nonsense.");
    if (rc != 0) {
        char message[sizeof(err->message)];
        str_field(res, "message", message, sizeof(message));
        sb_err_set(err, rc, "%s", message);
    }
    return rc;
}

/* A call whose answer carries an outcome: the transport's error, or the child's. */
static int remote_checked(plugin_t *p, const char *method, const sb_callcenter_t *cc,
                          msgpack_unpacked *res, sb_err_t *err)
{
    int rc = remote(p, method, cc, NULL, NULL, res, err);
    return rc == 0 ? remote_outcome(&res->data, err) : rc;
}

static int remote_kv(const msgpack_object *res, sb_plugin_kv_t **out, size_t *n)
{
    const msgpack_object *kv = field(res, "kv");
    size_t count = kv && kv->type == MSGPACK_OBJECT_ARRAY ? kv->via.array.size : 0;
    *out = calloc(count ? count : 1, sizeof(**out));
    if (*out == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        const msgpack_object *pair = &kv->via.array.ptr[i];
        if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2 ||
            pair->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
            pair->via.array.ptr[1].type != MSGPACK_OBJECT_STR)
            continue;
        snprintf((*out)[*n].key, sizeof((*out)[0].key), "%.*s",
                 (int)pair->via.array.ptr[0].via.str.size, pair->via.array.ptr[0].via.str.ptr);
        snprintf((*out)[*n].value, sizeof((*out)[0].value), "%.*s",
                 (int)pair->via.array.ptr[1].via.str.size, pair->via.array.ptr[1].via.str.ptr);
        (*n)++;
    }
    return 0;
}

static int remote_claim(plugin_t *p, const sb_callcenter_t *cc)
{
    msgpack_unpacked res;
    int confidence = 0;
    if (remote(p, "claim", cc, NULL, NULL, &res, NULL) == 0) {
        const msgpack_object *c = field(&res.data, "confidence");
        if (c && c->type == MSGPACK_OBJECT_POSITIVE_INTEGER && c->via.u64 <= 100)
            confidence = (int)c->via.u64;
    }
    msgpack_unpacked_destroy(&res);
    return confidence;
}

/* render and call_event: an outcome and results. */
static int remote_results(plugin_t *p, const char *method, const sb_callcenter_t *cc,
                          const char *key, const char *text, sb_plugin_kv_t **out, size_t *n,
                          sb_err_t *err)
{
    msgpack_unpacked res;
    int rc = remote(p, method, cc, key, text, &res, err);
    if (rc == 0)
        rc = remote_outcome(&res.data, err);
    if (rc == 0 && remote_kv(&res.data, out, n) != 0)
        rc = sb_err_default(err, -ENOMEM);
    msgpack_unpacked_destroy(&res);
    return rc;
}

/* Each plugin snapshot pinned for the claim round. */
int sb_plugin_host_claim(sb_plugin_host_t *host, const sb_callcenter_t *cc,
                         char best[SB_PLUGIN_NAME_MAX + 1], int *confidence, sb_err_t *err)
{
    best[0] = '\0';
    *confidence = 0;
    pthread_mutex_lock(&host->lock);
    size_t n = host->n;
    plugin_t **pinned =
        calloc(n ? n : 1, sizeof(*pinned)); // NOLINT(bugprone-sizeof-expression): pointers
    for (size_t i = 0; pinned && i < n; i++) {
        pinned[i] = host->plugins[i];
        pinned[i]->refs++;
    }
    pthread_mutex_unlock(&host->lock);
    if (pinned == NULL)
        return sb_err_default(err, -ENOMEM);
    view_t v;
    int rc = make_view(cc, NULL, &v);
    char tie[SB_PLUGIN_NAME_MAX + 1] = "";
    for (size_t i = 0; rc == 0 && i < n; i++) {
        plugin_t *p = pinned[i];
        if (!p->info.loaded)
            continue;
        int c;
        if (p->child != NULL) {
            c = remote_claim(p, cc);
        } else {
            pthread_mutex_lock(&p->call_lock);
            c = p->desc->claim(p->state, &v.cc);
            pthread_mutex_unlock(&p->call_lock);
        }
        c = c < 0 ? 0 : c > 100 ? 100 : c;
        if (c > *confidence) {
            *confidence = c;
            copy(best, SB_PLUGIN_NAME_MAX + 1, p->info.name);
            tie[0] = '\0';
        } else if (c > 0 && c == *confidence) {
            copy(tie, sizeof(tie), p->info.name);
        }
    }
    for (size_t i = 0; i < n; i++)
        release(host, pinned[i]);
    free(pinned);
    free(v.items);
    if (rc != 0)
        return sb_err_default(err, rc);
    if (tie[0] != '\0')
        return sb_err_set(err, -EEXIST,
                          "The adapters %s and %s both claim this file, equally sure (%d of "
                          "100); name the one that serves it (--adapter).",
                          best, tie, *confidence);
    return 0;
}

/* What validate and render hand their sink. */
typedef struct collect {
    char problems[480];
    size_t n_problems;
    size_t n_rejected; /* results that were not UTF-8 */
    sb_plugin_kv_t *kv;
    size_t n_kv, cap_kv;
} collect_t;

static void on_problem(void *ctx, const char *section, const char *name, const char *message)
{
    collect_t *c = ctx;
    size_t used = strlen(c->problems);
    if (used + 4 < sizeof(c->problems))
        snprintf(c->problems + used, sizeof(c->problems) - used, "%s%s%s%s%s%s",
                 c->n_problems ? "; " : "", section ? "/" : "", section ? section : "",
                 name ? "/" : "", name ? name : "", section || name ? ": " : "");
    used = strlen(c->problems);
    if (used + 1 < sizeof(c->problems))
        snprintf(c->problems + used, sizeof(c->problems) - used, "%s", message ? message : "");
    c->n_problems++;
}

static void on_set(void *ctx, const char *key, const char *value)
{
    collect_t *c = ctx;
    size_t chars;
    if (key == NULL || value == NULL || !sb_utf8_count(key, &chars) ||
        !sb_utf8_count(value, &chars)) {
        c->n_rejected++;
        return;
    }
    if (c->n_kv == 64)
        return; /* an adapter that sets more than 64 results loses the rest */
    if (c->n_kv == c->cap_kv) {
        size_t cap = c->cap_kv ? c->cap_kv * 2 : 8;
        sb_plugin_kv_t *grown = realloc(c->kv, cap * sizeof(*grown));
        if (grown == NULL)
            return;
        c->kv = grown;
        c->cap_kv = cap;
    }
    copy(c->kv[c->n_kv].key, sizeof(c->kv[0].key), key);
    copy(c->kv[c->n_kv].value, sizeof(c->kv[0].value), value);
    c->n_kv++;
}

static sb_adapter_sink make_sink(collect_t *c)
{
    return (sb_adapter_sink){
        .struct_size = sizeof(sb_adapter_sink), .ctx = c, .problem = on_problem, .set = on_set};
}

int sb_plugin_host_validate(sb_plugin_host_t *host, const char *name, const sb_callcenter_t *cc,
                            sb_err_t *err)
{
    uint64_t started = now_ns();
    plugin_t *p = pin(host, name);
    if (p == NULL)
        return sb_err_set(err, -ENOENT, "The adapter '%s' is not loaded.", name);
    if (p->child != NULL) {
        msgpack_unpacked res;
        int rc = remote_checked(p, "validate", cc, &res, err);
        msgpack_unpacked_destroy(&res);
        release_call(host, p, started);
        return rc;
    }
    view_t v;
    collect_t c = {.n_problems = 0};
    int rc = make_view(cc, NULL, &v);
    if (rc == 0) {
        sb_adapter_sink sink = make_sink(&c);
        pthread_mutex_lock(&p->call_lock);
        int verdict = p->desc->validate(p->state, &v.cc, &sink);
        pthread_mutex_unlock(&p->call_lock);
        if (verdict != SB_ADAPTER_OK && c.n_problems == 0)
            on_problem(&c, NULL, NULL, "the adapter refused it without saying why");
        free(v.items);
    }
    release_call(host, p, started);
    free(c.kv);
    if (rc != 0)
        return sb_err_default(err, rc);
    if (c.n_problems > 0)
        return sb_err_set(err, SB_E_INVALID_VALUE, "The adapter %s finds %zu problem%s: %s.", name,
                          c.n_problems, c.n_problems == 1 ? "" : "s", c.problems);
    return 0;
}

/* render and call_event: a call whose results come through the sink. */
typedef enum results_kind { RESULTS_RENDER, RESULTS_EVENT } results_kind;

static int results_call(sb_plugin_host_t *host, const char *name, const sb_callcenter_t *cc,
                        results_kind kind, const char *text, sb_plugin_kv_t **out, size_t *n,
                        sb_err_t *err)
{
    *out = NULL;
    *n = 0;
    uint64_t started = now_ns();
    plugin_t *p = pin(host, name);
    if (p == NULL)
        return sb_err_set(err, -ENOENT, "The adapter '%s' is not loaded.", name);
    pthread_mutex_lock(&host->lock);
    bool on_trial = p->trial != NULL && !p->trial_over && kind == RESULTS_RENDER;
    if (on_trial)
        p->trial_calls++;
    pthread_mutex_unlock(&host->lock);
    if (on_trial) {
        plugin_t tried = *p;
        tried.child = p->trial;
        int rc = remote_results(&tried, "render", cc, "user", text, out, n, err);
        pthread_mutex_lock(&host->lock);
        if (rc == SB_E_ADAPTER_UNAVAILABLE && !p->trial_failed) {
            snprintf(p->trial_failure, sizeof(p->trial_failure), "%.150s", err->message);
            p->trial_failed = true;
        }
        p->trial_calls--;
        pthread_mutex_unlock(&host->lock);
        release_call(host, p, started);
        return rc;
    }
    if (p->child != NULL) {
        int rc = kind == RESULTS_RENDER
                     ? remote_results(p, "render", cc, "user", text, out, n, err)
                     : remote_results(p, "call_event", cc, "event", text, out, n, err);
        release_call(host, p, started);
        return rc;
    }
    view_t v;
    collect_t c = {.n_problems = 0};
    int rc = make_view(cc, NULL, &v);
    if (rc == 0) {
        sb_adapter_sink sink = make_sink(&c);
        pthread_mutex_lock(&p->call_lock);
        int verdict = kind == RESULTS_RENDER ? p->desc->render(p->state, &v.cc, text, &sink)
                                             : p->desc->call_event(p->state, &v.cc, text, &sink);
        pthread_mutex_unlock(&p->call_lock);
        if (kind == RESULTS_EVENT && verdict == SB_ADAPTER_IGNORED)
            rc = sb_err_set(err, -ENOMSG, "The adapter %s does not map this event.", name);
        else if (verdict != SB_ADAPTER_OK)
            rc = sb_err_set(err, SB_E_INVALID_VALUE, "The adapter %s failed to %s: %s", name,
                            kind == RESULTS_RENDER ? "render" : "map the event",
                            c.problems[0] ? c.problems : "it did not say why.");
        free(v.items);
    } else {
        rc = sb_err_default(err, rc);
    }
    release_call(host, p, started);
    if (rc != 0) {
        free(c.kv);
        return rc;
    }
    if (kind == RESULTS_RENDER && c.n_rejected > 0)
        sb_warn("adapter %s: %zu result(s) that were not UTF-8 were dropped", name, c.n_rejected);
    *out = c.kv;
    *n = c.n_kv;
    return 0;
}

int sb_plugin_host_render(sb_plugin_host_t *host, const char *name, const sb_callcenter_t *cc,
                          const char *user, sb_plugin_kv_t **out, size_t *n, sb_err_t *err)
{
    int rc = results_call(host, name, cc, RESULTS_RENDER, user, out, n, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*out)[i].key, "adapter_url") == 0)
            return 0;
    free(*out);
    *out = NULL;
    *n = 0;
    return sb_err_set(err, SB_E_INVALID_VALUE,
                      "The adapter %s rendered no adapter_url (results that are not UTF-8 are "
                      "dropped); its partner must fix it.",
                      name);
}

int sb_plugin_host_call_event(sb_plugin_host_t *host, const char *name, const sb_callcenter_t *cc,
                              const char *event, sb_plugin_kv_t **out, size_t *n, sb_err_t *err)
{
    return results_call(host, name, cc, RESULTS_EVENT, event, out, n, err);
}

int sb_plugin_host_template(sb_plugin_host_t *host, const char *name, sb_callcenter_t **out,
                            sb_err_t *err)
{
    *out = NULL;
    uint64_t started = now_ns();
    plugin_t *p = pin(host, name);
    if (p == NULL)
        return sb_err_set(err, -ENOENT, "The adapter '%s' is not loaded.", name);
    if (p->child != NULL) {
        msgpack_unpacked res;
        int rc = remote_checked(p, "template", NULL, &res, err);
        const msgpack_object *record = rc == 0 ? field(&res.data, "cc") : NULL;
        if (rc == 0 &&
            (record == NULL || record->type != MSGPACK_OBJECT_BIN ||
             sb_codec_decode_callcenter(record->via.bin.ptr, record->via.bin.size, out) != 0))
            rc = sb_err_set(err, SB_E_ADAPTER_UNAVAILABLE, "The adapter's template is unreadable.");
        msgpack_unpacked_destroy(&res);
        release_call(host, p, started);
        return rc;
    }
    const sb_adapter_setting *settings = NULL;
    pthread_mutex_lock(&p->call_lock);
    size_t n = p->desc->describe(p->state, &settings);
    pthread_mutex_unlock(&p->call_lock);
    sb_callcenter_t *cc = sb_callcenter_new();
    int rc = cc ? 0 : -ENOMEM;
    /* A generated name: the adapter's letters and digits, then CallCenter. */
    char internal[SB_CC_INTERNAL_NAME_MAX + 1] = "";
    size_t k = 0;
    for (const char *c = p->info.name; *c && k < 30; c++) {
        if (!isalnum((unsigned char)*c))
            continue;
        internal[k] = (char)(k == 0 ? toupper((unsigned char)*c) : *c);
        k++;
    }
    internal[k] = '\0';
    snprintf(internal + k, sizeof(internal) - k, "CallCenter");
    if (!isalpha((unsigned char)internal[0]))
        internal[0] = 'A';
    char display[300];
    snprintf(display, sizeof(display), "%s Call Center", p->info.vendor);
    int general =
        rc == 0 ? sb_callcenter_add_section(cc, SB_CC_GENERAL, "General Information", 0) : -1;
    if (general >= 0) {
        rc = sb_callcenter_add_item(cc, (size_t)general, SB_CC_INTERNAL_NAME, "InternalName", 0,
                                    internal);
        if (rc == 0)
            rc = sb_callcenter_add_item(cc, (size_t)general, SB_CC_DISPLAY_NAME, "Display Name", 1,
                                        display);
    }
    for (size_t i = 0; rc == 0 && settings && i < n; i++) {
        const sb_adapter_setting *s = &settings[i];
        if (s->section == NULL || s->name == NULL)
            continue;
        int index = -1;
        for (size_t j = 0; j < cc->n_sections; j++)
            if (strcmp(cc->sections[j].name, s->section) == 0)
                index = (int)j;
        if (index < 0)
            index = sb_callcenter_add_section(cc, s->section, s->section, (uint32_t)cc->n_sections);
        if (index < 0) {
            rc = index;
            break;
        }
        if (sb_callcenter_find(cc, s->section, s->name) != NULL)
            continue; /* the names above, or a setting listed twice */
        rc = sb_callcenter_add_item(cc, (size_t)index, s->name, s->label ? s->label : s->name,
                                    (uint32_t)cc->sections[index].n_items,
                                    s->default_value ? s->default_value : "");
    }
    if (rc == 0)
        rc = sb_callcenter_set_adapter(cc, p->info.name);
    release_call(host, p, started);
    if (rc != 0) {
        sb_callcenter_free(cc);
        return sb_err_default(err, rc);
    }
    *out = cc;
    return 0;
}

int sb_plugin_host_settings(sb_plugin_host_t *host, const char *name,
                            sb_plugin_setting_copy_t **out, size_t *n, sb_err_t *err)
{
    *out = NULL;
    *n = 0;
    uint64_t started = now_ns();
    plugin_t *p = pin(host, name);
    if (p == NULL)
        return sb_err_set(err, -ENOENT, "The adapter '%s' is not loaded.", name);
    if (p->child != NULL) {
        msgpack_unpacked res;
        int rc = remote_checked(p, "settings", NULL, &res, err);
        const msgpack_object *list = rc == 0 ? field(&res.data, "settings") : NULL;
        size_t count = list && list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0;
        if (rc == 0 && (*out = calloc(count ? count : 1, sizeof(**out))) == NULL)
            rc = sb_err_default(err, -ENOMEM);
        for (size_t i = 0; rc == 0 && i < count; i++) {
            const msgpack_object *row = &list->via.array.ptr[i];
            if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size < 6)
                continue;
            sb_plugin_setting_copy_t *c = &(*out)[*n];
            char *dst[5] = {c->section, c->name, c->label, c->default_value, c->rule};
            for (int k = 0; k < 5; k++)
                if (row->via.array.ptr[k].type == MSGPACK_OBJECT_STR)
                    snprintf(dst[k], 256, "%.*s", (int)row->via.array.ptr[k].via.str.size,
                             row->via.array.ptr[k].via.str.ptr);
            c->required = row->via.array.ptr[5].type == MSGPACK_OBJECT_BOOLEAN &&
                          row->via.array.ptr[5].via.boolean;
            c->secret = row->via.array.size > 6 &&
                        row->via.array.ptr[6].type == MSGPACK_OBJECT_BOOLEAN &&
                        row->via.array.ptr[6].via.boolean;
            (*n)++;
        }
        msgpack_unpacked_destroy(&res);
        release_call(host, p, started);
        return rc;
    }
    const sb_adapter_setting *settings = NULL;
    pthread_mutex_lock(&p->call_lock);
    size_t count = p->desc->describe(p->state, &settings);
    pthread_mutex_unlock(&p->call_lock);
    if (settings == NULL)
        count = 0;
    *out = calloc(count ? count : 1, sizeof(**out));
    for (size_t i = 0; *out && i < count; i++) {
        sb_plugin_setting_copy_t *c = &(*out)[i];
        copy(c->section, sizeof(c->section), settings[i].section);
        copy(c->name, sizeof(c->name), settings[i].name);
        copy(c->label, sizeof(c->label), settings[i].label);
        copy(c->default_value, sizeof(c->default_value), settings[i].default_value);
        copy(c->rule, sizeof(c->rule), settings[i].rule);
        c->required = settings[i].flags & SB_ADAPTER_SETTING_REQUIRED;
        c->secret = settings[i].flags & SB_ADAPTER_SETTING_SECRET;
    }
    release_call(host, p, started);
    if (*out == NULL)
        return sb_err_default(err, -ENOMEM);
    *n = count;
    return 0;
}
