#include "renders.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define FINGERPRINT_BYTES 16

/* One Call Center's rendering, as of the content it was rendered from. */
typedef struct entry {
    struct entry *next;
    char *key; /* [owned] "org\0cc id" as one string "org/cc id" */
    uint8_t fingerprint[FINGERPRINT_BYTES];
    bool loaded, refused;
    char *adapter_url; /* [owned] */
    char *detail;      /* [owned] */
} entry_t;

struct sb_renders {
    sb_plugin_host_t *host; /* [borrowed: outlives the cache] */
    pthread_mutex_t lock;
    entry_t **buckets;
    size_t n_buckets, n;
};

int sb_renders_new(sb_plugin_host_t *host, sb_renders_t **out)
{
    *out = NULL;
    sb_renders_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    r->n_buckets = 256;
    r->buckets = calloc(r->n_buckets, sizeof(entry_t *));
    if (r->buckets == NULL) {
        free(r);
        return -ENOMEM;
    }
    r->host = host;
    pthread_mutex_init(&r->lock, NULL);
    *out = r;
    return 0;
}

static void entry_free(entry_t *e)
{
    free(e->key);
    free(e->adapter_url);
    free(e->detail);
    free(e);
}

void sb_renders_free(sb_renders_t *r)
{
    if (r == NULL)
        return;
    for (size_t b = 0; b < r->n_buckets; b++)
        for (entry_t *e = r->buckets[b], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    free(r->buckets);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* What the adapter sees of `cc` (see make_view in plugin_host.c), its name
 * and the plugin set's generation: a rendering is fresh while all are equal. */
static void fingerprint(sb_plugin_host_t *host, const sb_callcenter_t *cc,
                        uint8_t out[FINGERPRINT_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, FINGERPRINT_BYTES);
    uint64_t generation = sb_plugin_host_generation(host);
    crypto_generichash_update(&st, (const unsigned char *)&generation, sizeof(generation));
    const char *fixed[] = {cc->adapter, cc->id.s};
    for (size_t i = 0; i < 2; i++)
        crypto_generichash_update(&st, (const unsigned char *)fixed[i], strlen(fixed[i]) + 1);
    for (size_t s = 0; s < cc->n_sections; s++) {
        const sb_cc_section_t *section = &cc->sections[s];
        for (size_t i = 0; i < section->n_items; i++) {
            const char *parts[] = {section->name, section->items[i].name, section->items[i].label,
                                   section->items[i].value};
            for (size_t k = 0; k < 4; k++)
                crypto_generichash_update(&st, (const unsigned char *)parts[k],
                                          strlen(parts[k]) + 1);
        }
    }
    crypto_generichash_final(&st, out, FINGERPRINT_BYTES);
}

static size_t bucket_of(const sb_renders_t *r, const char *key)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: the key is ours, not a caller's choice */
    for (const char *c = key; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ULL;
    return (size_t)(h % r->n_buckets);
}

static void make_key(char *key, size_t cap, const char *org, const sb_callcenter_t *cc)
{
    snprintf(key, cap, "%s/%s", org, cc->id.s);
}

/* The entry of `key`, or NULL; the lock is held. */
static entry_t *find(sb_renders_t *r, const char *key)
{
    for (entry_t *e = r->buckets[bucket_of(r, key)]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* Doubles the table when it holds more entries than buckets; the lock is held. */
static void grow(sb_renders_t *r)
{
    if (r->n <= r->n_buckets)
        return;
    size_t old_n = r->n_buckets;
    entry_t **old = r->buckets, **fresh = calloc(old_n * 2, sizeof(entry_t *));
    if (fresh == NULL)
        return; /* longer chains, nothing worse */
    r->buckets = fresh;
    r->n_buckets = old_n * 2;
    for (size_t b = 0; b < old_n; b++)
        for (entry_t *e = old[b], *next; e; e = next) {
            next = e->next;
            size_t to = bucket_of(r, e->key);
            e->next = r->buckets[to];
            r->buckets[to] = e;
        }
    free(old);
}

/* Puts (or replaces) the rendering of `key`. */
static void put(sb_renders_t *r, const char *key, const uint8_t fp[FINGERPRINT_BYTES],
                const sb_view_render_t *v)
{
    entry_t *fresh = calloc(1, sizeof(*fresh));
    if (fresh == NULL || (fresh->key = strdup(key)) == NULL ||
        (fresh->adapter_url = strdup(v->adapter_url)) == NULL ||
        (fresh->detail = strdup(v->detail)) == NULL) {
        if (fresh)
            entry_free(fresh);
        return; /* the write falls back to the stored URL */
    }
    memcpy(fresh->fingerprint, fp, FINGERPRINT_BYTES);
    fresh->loaded = v->loaded;
    fresh->refused = v->refused;
    pthread_mutex_lock(&r->lock);
    size_t b = bucket_of(r, key);
    for (entry_t **at = &r->buckets[b]; *at; at = &(*at)->next)
        if (strcmp((*at)->key, key) == 0) {
            entry_t *gone = *at;
            *at = gone->next;
            entry_free(gone);
            r->n--;
            break;
        }
    fresh->next = r->buckets[b];
    r->buckets[b] = fresh;
    r->n++;
    grow(r);
    pthread_mutex_unlock(&r->lock);
}

/* Whether the cache holds a rendering of `key` made from content `fp`: copies it into `out`. */
static bool lookup(sb_renders_t *r, const char *key, const uint8_t fp[FINGERPRINT_BYTES],
                   sb_view_render_t *out)
{
    pthread_mutex_lock(&r->lock);
    entry_t *e = find(r, key);
    bool fresh = e != NULL && memcmp(e->fingerprint, fp, FINGERPRINT_BYTES) == 0;
    if (fresh && out != NULL) {
        out->loaded = e->loaded;
        out->refused = e->refused;
        snprintf(out->adapter_url, sizeof(out->adapter_url), "%s", e->adapter_url);
        snprintf(out->detail, sizeof(out->detail), "%s", e->detail);
    }
    pthread_mutex_unlock(&r->lock);
    return fresh;
}

void sb_softphone_prerender(sb_renders_t *r, const char *org, const sb_callcenter_t *cc)
{
    if (r == NULL || cc->adapter[0] == '\0')
        return;
    char key[SB_ORG_ID_MAX + SB_SFID_LEN + 2];
    make_key(key, sizeof(key), org, cc);
    uint8_t fp[FINGERPRINT_BYTES];
    fingerprint(r->host, cc, fp);
    if (lookup(r, key, fp, NULL))
        return;
    sb_view_render_t *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return;
    const char *url = sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_ADAPTER_URL);
    v->loaded = true;
    snprintf(v->adapter_url, sizeof(v->adapter_url), "%s", url ? url : "");
    sb_plugin_kv_t *kv = NULL;
    size_t n = 0;
    sb_err_t err;
    sb_err_clear(&err);
    int rc =
        sb_plugin_host_render(r->host, cc->adapter, cc, SB_ADAPTER_USER_PLACEHOLDER, &kv, &n, &err);
    bool keep = true;
    if (rc == -ENOENT) { /* not loaded */
        v->loaded = false;
    } else if (rc == SB_E_ADAPTER_UNAVAILABLE) {
        /* Not cached: the next change or refresh asks again. */
        keep = false;
        sb_log(SB_LOG_WARN,
               "adapter %s could not render Call Center %s of org %s (%s); its "
               "softphone keeps the stored adapter URL until the next refresh",
               cc->adapter, cc->id.s, org, err.message);
    } else if (rc != 0) {
        v->refused = true;
        snprintf(v->detail, sizeof(v->detail), "%s", err.message);
    } else {
        for (size_t i = 0; i < n; i++)
            if (strcmp(kv[i].key, "adapter_url") == 0)
                snprintf(v->adapter_url, sizeof(v->adapter_url), "%s", kv[i].value);
    }
    free(kv);
    if (keep)
        put(r, key, fp, v);
    free(v);
}

void sb_softphone_forget(sb_renders_t *r, const char *org, const char *cc_id)
{
    if (r == NULL)
        return;
    char key[SB_ORG_ID_MAX + SB_SFID_LEN + 2];
    snprintf(key, sizeof(key), "%s/%s", org, cc_id);
    pthread_mutex_lock(&r->lock);
    for (entry_t **at = &r->buckets[bucket_of(r, key)]; *at; at = &(*at)->next)
        if (strcmp((*at)->key, key) == 0) {
            entry_t *gone = *at;
            *at = gone->next;
            entry_free(gone);
            r->n--;
            break;
        }
    pthread_mutex_unlock(&r->lock);
}

int sb_softphone_prerender_all(sb_renders_t *r, sb_store_t *store, sb_err_t *err)
{
    char org_after[SB_ORG_ID_MAX + 1] = "";
    bool more_orgs = true;
    int rc = 0;
    while (rc == 0 && more_orgs) {
        sb_org_t *orgs = NULL;
        size_t n_orgs = 0;
        rc = sb_store_org_list(store, org_after[0] ? org_after : NULL, SB_STORE_PAGE_MAX, &orgs,
                               &n_orgs, &more_orgs, err);
        for (size_t o = 0; rc == 0 && o < n_orgs; o++) {
            const char *org = orgs[o].id;
            char cc_after[SB_SFID_LEN + 1] = "";
            bool more = true;
            while (rc == 0 && more) {
                sb_cc_summary_t *rows = NULL;
                size_t n = 0;
                rc = sb_store_cc_list(store, org, cc_after[0] ? cc_after : NULL, SB_STORE_PAGE_MAX,
                                      &rows, &n, &more, err);
                for (size_t i = 0; rc == 0 && i < n; i++) {
                    if (rows[i].members == 0 || rows[i].adapter[0] == '\0')
                        continue; /* no view to render for */
                    sb_callcenter_t *cc = NULL;
                    if (sb_store_cc_get(store, org, rows[i].id.s, &cc, NULL) == 0)
                        sb_softphone_prerender(r, org, cc);
                    sb_callcenter_free(cc);
                }
                if (rc == 0 && n > 0)
                    snprintf(cc_after, sizeof(cc_after), "%s", rows[n - 1].id.s);
                free(rows);
                more = more && n > 0;
            }
        }
        if (rc == 0 && n_orgs > 0)
            snprintf(org_after, sizeof(org_after), "%s", orgs[n_orgs - 1].id);
        more_orgs = more_orgs && n_orgs > 0;
        free(orgs);
    }
    return rc;
}

void sb_softphone_render(void *ctx, const char *org, const sb_callcenter_t *cc,
                         sb_view_render_t *out)
{
    sb_renders_t *r = ctx;
    char key[SB_ORG_ID_MAX + SB_SFID_LEN + 2];
    make_key(key, sizeof(key), org, cc);
    uint8_t fp[FINGERPRINT_BYTES];
    fingerprint(r->host, cc, fp);
    if (lookup(r, key, fp, out)) {
        /* An adapter refused since (a trusted one whose trial failed) serves nothing. */
        if (out->loaded && !sb_plugin_host_has(r->host, cc->adapter))
            out->loaded = false;
        return;
    }
    /* Not rendered ahead: whether the adapter is loaded is known without
     * calling it; the URL stays the stored one until the next rendering. */
    out->loaded = sb_plugin_host_has(r->host, cc->adapter);
    if (out->loaded)
        sb_log(SB_LOG_INFO,
               "Call Center %s of org %s: no fresh rendering by adapter %s; its softphone "
               "keeps the stored adapter URL until the next change or plugin reload",
               cc->id.s, org, cc->adapter);
}
