#include "route.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The server's write methods, sorted (generated from its method table by
 * gen_write_methods.c, so that this list cannot drift from the server's). */
#include "write_methods.h"

void sb_route_map_init(sb_route_map_t *map)
{
    memset(map, 0, sizeof(*map));
}

void sb_route_map_destroy(sb_route_map_t *map)
{
    free(map->orgs);
    free(map->shards);
    free(map->members);
    memset(map, 0, sizeof(*map));
}

/* Binary search in an array of records whose first field is their name:
 * the index of `name`, or (as ~index) where it would go. */
static long find_sorted(const void *base, size_t n, size_t size, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp((const char *)base + mid * size, name);
        if (cmp == 0)
            return (long)mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return ~(long)lo;
}

/* The record named `name` in a sorted array, inserted (zeroed, named) when missing. */
static void *upsert_sorted(void **base, size_t *n, size_t *cap, size_t size, const char *name,
                           size_t name_cap)
{
    long at = find_sorted(*base, *n, size, name);
    if (at >= 0)
        return (char *)*base + (size_t)at * size;
    size_t pos = (size_t)~at;
    if (*n == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 16;
        if (grown_cap > SIZE_MAX / size)
            return NULL;
        void *grown = realloc(*base, grown_cap * size);
        if (grown == NULL)
            return NULL;
        *base = grown;
        *cap = grown_cap;
    }
    char *p = (char *)*base + pos * size;
    memmove(p + size, p, (*n - pos) * size);
    memset(p, 0, size);
    snprintf(p, name_cap, "%s", name);
    (*n)++;
    return p;
}

static void remove_sorted(void *base, size_t *n, size_t size, const char *name)
{
    long at = find_sorted(base, *n, size, name);
    if (at < 0)
        return;
    char *p = (char *)base + (size_t)at * size;
    memmove(p, p + size, (*n - (size_t)at - 1) * size);
    (*n)--;
}

const sb_route_org_t *sb_route_find_org(const sb_route_map_t *map, const char *org)
{
    long at = find_sorted(map->orgs, map->n_orgs, sizeof(*map->orgs), org);
    return at >= 0 ? &map->orgs[at] : NULL;
}

sb_route_shard_t *sb_route_find_shard(const sb_route_map_t *map, const char *shard)
{
    long at = find_sorted(map->shards, map->n_shards, sizeof(*map->shards), shard);
    return at >= 0 ? &map->shards[at] : NULL;
}

const sb_route_member_t *sb_route_find_member(const sb_route_map_t *map, const char *member)
{
    long at = find_sorted(map->members, map->n_members, sizeof(*map->members), member);
    return at >= 0 ? &map->members[at] : NULL;
}

/* A shard's or member's name as the format has it: 1 to 32 of [A-Za-z0-9_-]. */
static bool valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* Copies the string `key` of `obj` into dst[0..cap) if it is a name; false if not. */
static bool take_name(json_t *obj, const char *key, char *dst, size_t cap)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (s == NULL || !valid_name(s, cap - 1))
        return false;
    snprintf(dst, cap, "%s", s);
    return true;
}

static bool take_epoch(json_t *obj, uint64_t *out)
{
    json_t *e = json_object_get(obj, "epoch");
    if (!json_is_integer(e) || json_integer_value(e) < 0)
        return false;
    *out = (uint64_t)json_integer_value(e);
    return true;
}

static int parse_shard(sb_route_shard_t *s, json_t *v, char *why, size_t cap)
{
    json_t *replicas = json_object_get(v, "replicas");
    if (!take_epoch(v, &s->epoch) || !take_name(v, "primary", s->primary, sizeof(s->primary)) ||
        (replicas != NULL && !json_is_array(replicas))) {
        snprintf(why, cap,
                 "needs epoch (an integer), primary (a member's name), replicas (an "
                 "array of names)");
        return -EINVAL;
    }
    size_t n = json_array_size(replicas);
    if (n > SB_ROUTE_REPLICAS_MAX) {
        snprintf(why, cap, "lists %zu replicas; this client takes at most %d", n,
                 SB_ROUTE_REPLICAS_MAX);
        return -EINVAL;
    }
    s->n_replicas = 0;
    for (size_t i = 0; i < n; i++) {
        const char *r = json_string_value(json_array_get(replicas, i));
        if (r == NULL || !valid_name(r, SB_ROUTE_NAME_MAX)) {
            snprintf(why, cap, "replica %zu is not a member's name", i);
            return -EINVAL;
        }
        snprintf(s->replicas[s->n_replicas++], sizeof(s->replicas[0]), "%s", r);
    }
    return 0;
}

static int parse_member(sb_route_member_t *m, json_t *v, char *why, size_t cap)
{
    const char *socket = json_string_value(json_object_get(v, "socket"));
    const char *role = json_string_value(json_object_get(v, "role"));
    if (!take_name(v, "shard", m->shard, sizeof(m->shard)) || socket == NULL || socket[0] != '/' ||
        strlen(socket) > SB_ROUTE_SOCKET_MAX || role == NULL) {
        snprintf(why, cap,
                 "needs shard (a name), socket (an absolute path of at most %d bytes) and role",
                 SB_ROUTE_SOCKET_MAX);
        return -EINVAL;
    }
    if (strcmp(role, "primary") == 0)
        m->role = SB_ROUTE_PRIMARY;
    else if (strcmp(role, "replica") == 0)
        m->role = SB_ROUTE_REPLICA;
    else if (strcmp(role, "fenced") == 0)
        m->role = SB_ROUTE_FENCED;
    else {
        snprintf(why, cap, "role is '%.32s', not primary, replica or fenced", role);
        return -EINVAL;
    }
    m->epoch = 0;
    (void)take_epoch(v, &m->epoch); /* informative: the shard's key decides */
    snprintf(m->socket, sizeof(m->socket), "%s", socket);
    return 0;
}

static int parse_org(sb_route_org_t *o, json_t *v, char *why, size_t cap)
{
    const char *state = json_string_value(json_object_get(v, "state"));
    if (!take_name(v, "shard", o->shard, sizeof(o->shard))) {
        snprintf(why, cap, "needs shard (a shard's name)");
        return -EINVAL;
    }
    o->moving = state != NULL && strcmp(state, "moving") == 0;
    return 0;
}

int sb_route_apply(sb_route_map_t *map, const char *key, const char *value, size_t len,
                   bool deleted, uint64_t revision, char *why, size_t cap)
{
    why[0] = '\0';
    if (revision > map->revision)
        map->revision = revision;
    enum { ORG, SHARD, MEMBER } kind;
    const char *name;
    size_t max;
    if (strncmp(key, "org.", 4) == 0) {
        kind = ORG, name = key + 4, max = SB_ROUTE_ORG_MAX;
    } else if (strncmp(key, "shard.", 6) == 0) {
        kind = SHARD, name = key + 6, max = SB_ROUTE_NAME_MAX;
    } else if (strncmp(key, "member.", 7) == 0) {
        kind = MEMBER, name = key + 7, max = SB_ROUTE_NAME_MAX;
    } else {
        return 0; /* shards.next and what later versions add */
    }
    size_t name_len = strlen(name);
    if (name_len == 0 || name_len > max) {
        snprintf(why, cap, "key %.80s: the name is empty or longer than %zu bytes", key, max);
        return -EINVAL;
    }
    if (deleted) {
        if (kind == ORG)
            remove_sorted(map->orgs, &map->n_orgs, sizeof(*map->orgs), name);
        else if (kind == SHARD)
            remove_sorted(map->shards, &map->n_shards, sizeof(*map->shards), name);
        else
            remove_sorted(map->members, &map->n_members, sizeof(*map->members), name);
        return 0;
    }
    json_error_t jerr;
    json_t *v = json_loadb(value, len, 0, &jerr);
    int rc = -EINVAL;
    if (!json_is_object(v)) {
        snprintf(why, cap, "key %s: the value is not a JSON object", key);
    } else if (kind == ORG) {
        sb_route_org_t o;
        memset(&o, 0, sizeof(o));
        snprintf(o.id, sizeof(o.id), "%s", name);
        rc = parse_org(&o, v, why, cap);
        sb_route_org_t *at = rc == 0 ? upsert_sorted((void **)&map->orgs, &map->n_orgs,
                                                     &map->cap_orgs, sizeof(o), name, sizeof(o.id))
                                     : NULL;
        if (at != NULL)
            *at = o;
        else if (rc == 0)
            rc = -ENOMEM;
    } else if (kind == SHARD) {
        sb_route_shard_t s;
        memset(&s, 0, sizeof(s));
        snprintf(s.name, sizeof(s.name), "%s", name);
        rc = parse_shard(&s, v, why, cap);
        sb_route_shard_t *at =
            rc == 0 ? upsert_sorted((void **)&map->shards, &map->n_shards, &map->cap_shards,
                                    sizeof(s), name, sizeof(s.name))
                    : NULL;
        if (at != NULL) {
            s.next_read = at->next_read; /* the turn goes on across updates */
            *at = s;
        } else if (rc == 0) {
            rc = -ENOMEM;
        }
    } else {
        sb_route_member_t m;
        memset(&m, 0, sizeof(m));
        snprintf(m.name, sizeof(m.name), "%s", name);
        rc = parse_member(&m, v, why, cap);
        sb_route_member_t *at =
            rc == 0 ? upsert_sorted((void **)&map->members, &map->n_members, &map->cap_members,
                                    sizeof(m), name, sizeof(m.name))
                    : NULL;
        if (at != NULL)
            *at = m;
        else if (rc == 0)
            rc = -ENOMEM;
    }
    json_decref(v);
    if (rc == -EINVAL) {
        char detail[200];
        snprintf(detail, sizeof(detail), "%s", why);
        snprintf(why, cap, "placement key %.80s: %s; the key is ignored until it is fixed", key,
                 detail);
        (void)sb_route_apply(map, key, NULL, 0, true, revision, detail, sizeof(detail));
    } else if (rc == -ENOMEM) {
        snprintf(why, cap, "out of memory keeping placement key %.80s", key);
    }
    return rc;
}

static bool avoided(const sb_route_ask_t *ask, const char *member)
{
    for (size_t i = 0; i < ask->n_avoid; i++)
        if (strcmp(ask->avoid[i], member) == 0)
            return true;
    return false;
}

/* The member `name` if a request may go there: known, with a socket, not fenced, not avoided. */
static const sb_route_member_t *usable(const sb_route_map_t *map, const sb_route_ask_t *ask,
                                       const char *name)
{
    const sb_route_member_t *m = sb_route_find_member(map, name);
    if (m == NULL || m->role == SB_ROUTE_FENCED || avoided(ask, name))
        return NULL;
    return m;
}

sb_route_miss_t sb_route_pick(sb_route_map_t *map, const sb_route_ask_t *ask,
                              const sb_route_member_t **out, char *why, size_t cap)
{
    *out = NULL;
    const char *shard_name = ask->shard;
    if (shard_name == NULL && ask->org != NULL) {
        const sb_route_org_t *o = sb_route_find_org(map, ask->org);
        if (o == NULL) {
            snprintf(why, cap,
                     "Org %.64s is in no shard of the cluster's placement map: check its id, "
                     "or create it on a shard (sbctl --cluster URLS org create ORG --shard S).",
                     ask->org);
            return SB_ROUTE_NO_ORG;
        }
        shard_name = o->shard;
    }
    if (shard_name == NULL) {
        /* No org: the member asked for, else the primary of the first shard by name. */
        if (ask->member != NULL) {
            *out = usable(map, ask, ask->member);
            if (*out != NULL)
                return SB_ROUTE_OK;
            snprintf(why, cap,
                     "Member %.32s is not in the cluster's placement map, or is fenced, or did "
                     "not answer: name another one.",
                     ask->member);
            return SB_ROUTE_NO_MEMBER;
        }
        for (size_t i = 0; i < map->n_shards; i++) {
            *out = usable(map, ask, map->shards[i].primary);
            if (*out != NULL)
                return SB_ROUTE_OK;
        }
        snprintf(why, cap,
                 "No shard of the cluster has a primary that can be reached: is any "
                 "switchboardd running with --cluster?");
        return SB_ROUTE_NO_MEMBER;
    }
    sb_route_shard_t *s = sb_route_find_shard(map, shard_name);
    if (s == NULL) {
        snprintf(why, cap,
                 "Shard %.32s is not in the cluster's placement map: is its primary running?",
                 shard_name);
        return SB_ROUTE_NO_SHARD;
    }
    if (ask->writes) {
        *out = usable(map, ask, s->primary);
        if (*out != NULL)
            return SB_ROUTE_OK;
        snprintf(why, cap,
                 "Shard %s's primary %s has no socket in the placement map, is fenced, or did "
                 "not answer: promote another member (sbctl cluster promote).",
                 s->name, s->primary);
        return SB_ROUTE_NO_SOCKET;
    }
    /* A read: the primary and the replicas in turn, from where the last read left off. */
    size_t n = 1 + s->n_replicas;
    for (size_t k = 0; k < n; k++) {
        size_t i = (s->next_read + k) % n;
        const char *name = i == 0 ? s->primary : s->replicas[i - 1];
        *out = usable(map, ask, name);
        if (*out != NULL) {
            s->next_read = (unsigned)((i + 1) % n);
            return SB_ROUTE_OK;
        }
    }
    snprintf(why, cap,
             "No member of shard %s can take a read: each is fenced, without a socket in the "
             "placement map, or did not answer.",
             s->name);
    return SB_ROUTE_NO_SOCKET;
}

static int compare_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool sb_route_method_writes(const char *method)
{
    return method != NULL &&
           bsearch(&method, sb_route_write_methods,
                   sizeof(sb_route_write_methods) / sizeof(sb_route_write_methods[0]),
                   sizeof(sb_route_write_methods[0]), compare_name) != NULL;
}
