#pragma once
/*
 * The cache of the views a snapshot found, one per reader of the read
 * library (index/index.c) and of the server (store/view.c):
 * set-associative, SB_VIEW_CACHE_SETS sets of SB_VIEW_CACHE_WAYS ways, keyed
 * by a 64-bit hash of the view's key, with the full key compared on a hit.
 *
 * Why a cache at all: members of one Call Center with one profile share a
 * view, and an org has few, so the second look-up of most checks finds a
 * view this snapshot already found. Why set-associative: the 1,024-slot
 * direct-mapped cache it replaces missed 37% of the time on the benchmark's
 * 1,000 views (two keys in one slot evict each other for good); 8 ways of
 * 512 sets hold 4,096 views, and a key collides only with 7 others.
 *
 * Validity: an entry belongs to an epoch (the caller's count of snapshots
 * and map moves). Each set records the epoch its entries were made in; a set
 * of an older epoch reads as empty and is emptied at the next insert, so a
 * new epoch costs nothing up front. The data pointers are the caller's
 * (pages of the map the snapshot pins): the cache never reads them.
 *
 * Internal (sb__ names; libswitchboard-index exports none of them), and
 * tested alone by tests/unit/test_view_cache.c.
 */

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "softphone_view.h"

#define SB_VIEW_CACHE_WAYS 8
#define SB_VIEW_CACHE_SET_BITS 9
#define SB_VIEW_CACHE_SETS (1u << SB_VIEW_CACHE_SET_BITS)
/* Longer keys (a profile name near its 255-byte bound) are not cached: they
 * are looked up in the views table each time. */
#define SB_VIEW_CACHE_KEY_MAX 120

typedef struct sb_view_cache_entry {
    const void *data; /* [borrowed: valid while the set's epoch is the caller's] */
    size_t len;
    uint32_t key_len;
    /* The view decoded once, its pointers into `data` (so that a hit skips
     * the decode too); set by the caller after put, when decoded is true. */
    bool decoded;
    sb_softphone_view_t view;
    char key[SB_VIEW_CACHE_KEY_MAX];
} sb_view_cache_entry_t;

/* One cache line: what a probe reads before it touches an entry. */
typedef struct __attribute__((aligned(64))) sb_view_cache_set {
    uint64_t epoch;                   /* the entries are this epoch's; 0: never filled */
    uint32_t tag[SB_VIEW_CACHE_WAYS]; /* the hash's top 32 bits, | 1; 0: an empty way */
    uint8_t hand;                     /* the next way to evict (round robin) */
} sb_view_cache_set_t;

typedef struct sb_view_cache {
    sb_view_cache_set_t *sets;        /* [owned] SB_VIEW_CACHE_SETS */
    sb_view_cache_entry_t *entries;   /* [owned] SB_VIEW_CACHE_SETS * SB_VIEW_CACHE_WAYS */
    uint64_t hits, misses, evictions; /* since init: for tests and measurement */
} sb_view_cache_t;

/** Allocates an empty cache. 0 or -ENOMEM (then nothing is held). */
int sb__view_cache_init(sb_view_cache_t *cache);

/** Frees what init allocated; a zeroed cache is fine. */
void sb__view_cache_destroy(sb_view_cache_t *cache);

/** The hash of a key: its low bits pick the set, its top 32 bits are the tag. */
uint64_t sb__view_cache_hash(const void *key, size_t len);

/**
 * Finds `key` (hashed `hash`) among the entries of `epoch` (never 0): its
 * entry [borrowed: until the next put], or NULL.
 */
const sb_view_cache_entry_t *sb__view_cache_find(sb_view_cache_t *cache, uint64_t epoch,
                                                 uint64_t hash, const void *key, size_t key_len);

/**
 * Remembers `data` for `key` in `epoch` (never 0): in an empty way of its
 * set, else in place of the set's oldest insert. Returns the entry, not yet
 * decoded [borrowed: until the next put], or NULL for a key longer than
 * SB_VIEW_CACHE_KEY_MAX (not kept).
 */
sb_view_cache_entry_t *sb__view_cache_put(sb_view_cache_t *cache, uint64_t epoch, uint64_t hash,
                                          const void *key, size_t key_len, const void *data,
                                          size_t len);

/**
 * The check's look-up of a view through `cache` (sb_softphone_view_get_decoded_fn's work, for
 * the read library and the server alike): a hit serves the bytes already checked and their
 * decoding; a miss reads the view from `views` with its checksum checked (sb__value_get, so once
 * per epoch), keeps it and decodes it once. A view that does not decode is not kept decoded: the
 * check decodes it again and refuses it. *decoded NULL when not decoded. Returns 0 or LMDB's /
 * the value's error (MDB_NOTFOUND for no view).
 */
int sb__view_cache_get(sb_view_cache_t *cache, uint64_t epoch, MDB_txn *txn, MDB_dbi views,
                       const MDB_val *key, MDB_val *out, const sb_softphone_view_t **decoded);
