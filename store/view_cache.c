/*
 * The set-associative view cache of the check's readers (view_cache.h).
 */
#include "view_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

int sb__view_cache_init(sb_view_cache_t *cache)
{
    memset(cache, 0, sizeof(*cache));
    /* calloc: every set's epoch 0, which no caller uses, so all read empty.
     * The sets are cache-line aligned (a probe reads one line). */
    cache->sets = aligned_alloc(64, SB_VIEW_CACHE_SETS * sizeof(*cache->sets));
    cache->entries =
        calloc((size_t)SB_VIEW_CACHE_SETS * SB_VIEW_CACHE_WAYS, sizeof(*cache->entries));
    if (cache->sets == NULL || cache->entries == NULL) {
        sb__view_cache_destroy(cache);
        return -ENOMEM;
    }
    memset(cache->sets, 0, SB_VIEW_CACHE_SETS * sizeof(*cache->sets));
    return 0;
}

void sb__view_cache_destroy(sb_view_cache_t *cache)
{
    free(cache->sets);
    free(cache->entries);
    memset(cache, 0, sizeof(*cache));
}

/*
 * Eight bytes at a time, each folded in with a multiply and a shift, then a
 * final mix: a key is some 40 bytes (org, Call Center id, profile), and a
 * byte at a time (FNV-1a) cost more than the rest of the probe.
 */
uint64_t sb__view_cache_hash(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = len * 0x9e3779b97f4a7c15ULL, w;
    for (; len >= sizeof(w); p += sizeof(w), len -= sizeof(w)) {
        memcpy(&w, p, sizeof(w));
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    w = 0;
    for (size_t i = 0; i < len; i++)
        w |= (uint64_t)p[i] << (8 * i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    return h;
}

static inline uint32_t tag_of(uint64_t hash)
{
    return (uint32_t)(hash >> 32) | 1u; /* never 0: 0 marks an empty way */
}

static inline size_t set_of(uint64_t hash)
{
    return (size_t)(hash & (SB_VIEW_CACHE_SETS - 1));
}

const sb_view_cache_entry_t *sb__view_cache_find(sb_view_cache_t *cache, uint64_t epoch,
                                                 uint64_t hash, const void *key, size_t key_len)
{
    size_t s = set_of(hash);
    const sb_view_cache_set_t *set = &cache->sets[s];
    if (set->epoch == epoch) {
        uint32_t tag = tag_of(hash);
        for (unsigned w = 0; w < SB_VIEW_CACHE_WAYS; w++) {
            if (set->tag[w] != tag)
                continue;
            /* The tag is 32 bits of the hash: the key decides. */
            const sb_view_cache_entry_t *e = &cache->entries[s * SB_VIEW_CACHE_WAYS + w];
            if (e->key_len == key_len && memcmp(e->key, key, key_len) == 0) {
                cache->hits++;
                return e;
            }
        }
    }
    cache->misses++;
    return NULL;
}

sb_view_cache_entry_t *sb__view_cache_put(sb_view_cache_t *cache, uint64_t epoch, uint64_t hash,
                                          const void *key, size_t key_len, const void *data,
                                          size_t len)
{
    if (key_len > SB_VIEW_CACHE_KEY_MAX)
        return NULL;
    size_t s = set_of(hash);
    sb_view_cache_set_t *set = &cache->sets[s];
    if (set->epoch != epoch) {
        /* Entries of an older snapshot: their pointers may be gone. */
        memset(set->tag, 0, sizeof(set->tag));
        set->hand = 0;
        set->epoch = epoch;
    }
    unsigned way = SB_VIEW_CACHE_WAYS;
    for (unsigned w = 0; w < SB_VIEW_CACHE_WAYS; w++)
        if (set->tag[w] == 0) {
            way = w;
            break;
        }
    if (way == SB_VIEW_CACHE_WAYS) {
        /* Full: round robin, oldest insert first. Within a snapshot every
         * view is as likely as another (a check's user is the caller's
         * choice), so LRU's bookkeeping on each hit would buy little. */
        way = set->hand;
        set->hand = (uint8_t)((set->hand + 1) % SB_VIEW_CACHE_WAYS);
        cache->evictions++;
    }
    sb_view_cache_entry_t *e = &cache->entries[s * SB_VIEW_CACHE_WAYS + way];
    set->tag[way] = tag_of(hash);
    e->data = data;
    e->len = len;
    e->key_len = (uint32_t)key_len;
    e->decoded = false;
    memcpy(e->key, key, key_len);
    return e;
}

int sb__view_cache_get(sb_view_cache_t *cache, uint64_t epoch, MDB_txn *txn, MDB_dbi views,
                       const MDB_val *key, MDB_val *out, const sb_softphone_view_t **decoded)
{
    uint64_t hash = sb__view_cache_hash(key->mv_data, key->mv_size);
    const sb_view_cache_entry_t *hit =
        sb__view_cache_find(cache, epoch, hash, key->mv_data, key->mv_size);
    if (hit != NULL) {
        out->mv_data = (void *)hit->data;
        out->mv_size = hit->len;
        *decoded = hit->decoded ? &hit->view : NULL;
        return 0;
    }
    *decoded = NULL;
    int rc = sb__value_get(txn, views, key, out);
    if (rc != 0)
        return rc;
    sb_view_cache_entry_t *e = sb__view_cache_put(cache, epoch, hash, key->mv_data, key->mv_size,
                                                  out->mv_data, out->mv_size);
    if (e != NULL && sb_softphone_view_decode(out->mv_data, out->mv_size, &e->view) == 0 &&
        e->view.mode <= SB_CC_COMPAT_CLASSIC_AND_LIGHTNING)
        e->decoded = true;
    *decoded = e != NULL && e->decoded ? &e->view : NULL;
    return 0;
}
