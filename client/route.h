#pragma once
/*
 * The cluster client's routing decisions, without NATS: the placement map
 * (docs/cluster.md "The placement bucket") as the watcher last saw it, and
 * which member a request goes to. cluster.c feeds it from the SB_placement
 * bucket's watch and asks it where each call goes; the unit test feeds it by
 * hand. Nothing here locks: the caller holds the map's lock.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_ROUTE_NAME_MAX 32    /* a shard's or a member's name: 1 to 32 of [A-Za-z0-9_-] */
#define SB_ROUTE_ORG_MAX 64     /* an org id (SB_ARG_NAME_MAX) */
#define SB_ROUTE_SOCKET_MAX 107 /* a Unix socket path (sun_path less its NUL) */
#define SB_ROUTE_REPLICAS_MAX 16
#define SB_ROUTE_AVOID_MAX 8 /* members a retry skips (those whose connection failed) */

typedef enum sb_route_role {
    SB_ROUTE_PRIMARY,
    SB_ROUTE_REPLICA,
    SB_ROUTE_FENCED, /* a primary another one took over from: no reads, no writes */
} sb_route_role_t;

/** member.<M>: where a member listens. */
typedef struct sb_route_member {
    char name[SB_ROUTE_NAME_MAX + 1];
    char shard[SB_ROUTE_NAME_MAX + 1];
    char socket[SB_ROUTE_SOCKET_MAX + 1];
    sb_route_role_t role;
    uint64_t epoch;
} sb_route_member_t;

/** shard.<S>: its primary and replicas. */
typedef struct sb_route_shard {
    char name[SB_ROUTE_NAME_MAX + 1];
    char primary[SB_ROUTE_NAME_MAX + 1];
    char replicas[SB_ROUTE_REPLICAS_MAX][SB_ROUTE_NAME_MAX + 1];
    size_t n_replicas;
    uint64_t epoch;
    unsigned next_read; /* the round-robin over the shard's readable members */
} sb_route_shard_t;

/** org.<ORG>: its shard. */
typedef struct sb_route_org {
    char id[SB_ROUTE_ORG_MAX + 1];
    char shard[SB_ROUTE_NAME_MAX + 1];
    bool moving;
} sb_route_org_t;

/** The whole map. Arrays kept sorted by name (binary search); they only grow. */
typedef struct sb_route_map {
    sb_route_org_t *orgs;
    size_t n_orgs, cap_orgs;
    sb_route_shard_t *shards;
    size_t n_shards, cap_shards;
    sb_route_member_t *members;
    size_t n_members, cap_members;
    uint64_t revision; /* the bucket's revision of the last entry applied */
    bool ready;        /* the watch delivered every value the bucket held at its start */
} sb_route_map_t;

void sb_route_map_init(sb_route_map_t *map);
void sb_route_map_destroy(sb_route_map_t *map);

/**
 * Applies one bucket entry: `key` with its JSON value value[0..len), or its
 * deletion (`deleted`; value ignored). Keys other than org.*, shard.* and
 * member.* (shards.next) are ignored. A value that does not read as the
 * format says removes the key's entry (routing on an older value could send
 * writes to a fenced member) and returns -EINVAL with why in why[0..cap).
 * Returns 0, -EINVAL or -ENOMEM.
 */
int sb_route_apply(sb_route_map_t *map, const char *key, const char *value, size_t len,
                   bool deleted, uint64_t revision, char *why, size_t cap);

const sb_route_org_t *sb_route_find_org(const sb_route_map_t *map, const char *org);
sb_route_shard_t *sb_route_find_shard(const sb_route_map_t *map, const char *shard);
const sb_route_member_t *sb_route_find_member(const sb_route_map_t *map, const char *member);

/** Where one request goes. */
typedef struct sb_route_ask {
    const char *org;    /* the request's org, or NULL */
    const char *shard;  /* a shard given by the caller (org.create), or NULL: the org's */
    const char *member; /* for requests with neither: this member, or NULL: the first primary */
    bool writes;        /* the method writes: only a primary takes it */
    const char *const *avoid; /* members not to pick (their connection failed), n_avoid of them */
    size_t n_avoid;
} sb_route_ask_t;

typedef enum sb_route_miss {
    SB_ROUTE_OK,
    SB_ROUTE_NO_ORG,    /* the org is in no shard */
    SB_ROUTE_NO_SHARD,  /* the shard named (or the org's) has no shard.<S> key */
    SB_ROUTE_NO_MEMBER, /* the member named has no member.<M> key, or no shard has a primary */
    SB_ROUTE_NO_SOCKET, /* every member it could take is fenced, avoided, or without a socket */
} sb_route_miss_t;

/**
 * Picks the member for `ask`: the org's (or the given) shard's primary for a
 * write; for a read, the next of the shard's primary and replicas in turn
 * that is not fenced, not avoided and has a socket; without an org or a
 * shard, the given member, else the primary of the first shard by name.
 * *out is the chosen member [borrowed: until the map changes]. Returns
 * SB_ROUTE_OK, or why there is none, with a sentence in why[0..cap).
 */
sb_route_miss_t sb_route_pick(sb_route_map_t *map, const sb_route_ask_t *ask,
                              const sb_route_member_t **out, char *why, size_t cap);

/** Whether `method` writes (the server's method table's `writes` flag, generated). */
bool sb_route_method_writes(const char *method);
