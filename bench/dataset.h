#pragma once
/*
 * The benchmark's data, reproducible from a seed: N users over M orgs and K
 * Call Centers. Every side of every comparison derives the same keys from
 * the same numbers, so nothing but the seed and the sizes is shared.
 *
 *   user i      org "org<i % M>", id 005 + i in 12 digits (15 characters;
 *               18 once normalized, as the server stores it)
 *   Call Center k (0 <= k < K) belongs to org k % M, named "CC<k>"; K >= 2M
 *               so that every org has at least two (the write benchmark
 *               moves users between them)
 *   membership  user i is a member of its org's Call Center number
 *               hash(seed, i) % (K / M)
 */

#include <stdint.h>

typedef struct sb_dataset {
    uint64_t users;       /* N */
    uint32_t orgs;        /* M */
    uint32_t callcenters; /* K */
    uint64_t seed;
} sb_dataset_t;

/** The org of user i ("org<n>"). */
void sb_ds_org(const sb_dataset_t *ds, uint64_t i, char out[16]);

/** The 18-character id of user i. */
void sb_ds_user(uint64_t i, char out[19]);

/** Which of its org's Call Centers user i belongs to (0 .. K/M - 1). */
uint32_t sb_ds_cc_slot(const sb_dataset_t *ds, uint64_t i);

/** The internal name of slot `slot` of org `org_index` ("CC<k>"). */
void sb_ds_cc_name(const sb_dataset_t *ds, uint32_t org_index, uint32_t slot, char out[24]);

/** A fast per-thread generator (xorshift64*): uniform in [0, n). */
uint64_t sb_ds_next(uint64_t *state, uint64_t n);

/**
 * Creates the data in the store at `dir` (no server may run on it): the
 * orgs, their Call Centers, the default layout of docs/examples/layout.json
 * (`layout_json`) in every org, the users (profile Agent) and their
 * memberships, in bulk. Prints progress to stderr. Returns 0 or -1.
 */
int sb_ds_load(const sb_dataset_t *ds, const char *dir, const char *layout_json);
