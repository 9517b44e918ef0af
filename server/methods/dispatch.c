/* The method table's lookup, access checks, argument checks, and running a call. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"

static const sb_method_slice_t *const slices[] = {
    &sb__token_methods,     &sb__org_methods,     &sb__callcenter_methods, &sb__user_methods,
    &sb__member_methods,    &sb__rules_methods,   &sb__licence_methods,    &sb__layout_methods,
    &sb__softphone_methods, &sb__contact_methods, &sb__call_methods,       &sb__plugin_methods,
    &sb__server_methods,    &sb__backup_methods,  &sb__audit_methods,      &sb__cluster_methods,
    &sb__move_methods,
};

/*
 * Every method by name in an open-addressed table, with its prepare step:
 * both are looked up on every request, and a binary search of the names
 * plus a scan of the prepare tables (a strcmp each) cost about 1,000
 * instructions a check (bench/RESULTS.md); a hash of the name and one
 * strcmp cost some 60. Built once; never written after.
 */
#define METHODS_MAX 128
#define METHOD_SLOTS 256 /* a power of two, at least twice METHODS_MAX: probes stay short */

typedef struct method_slot {
    const sb_method_t *method; /* NULL: an empty slot */
    sb_prepare_fn prepare;
} method_slot_t;

static method_slot_t slots[METHOD_SLOTS];
static size_t n_methods;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static const sb_method_prep_slice_t *const prep_slices[] = {
    &sb__callcenter_preps, &sb__call_preps,    &sb__plugin_preps,
    &sb__org_preps,        &sb__member_preps,  &sb__rules_preps,
    &sb__backup_preps,     &sb__cluster_preps, &sb__move_preps,
};

/* FNV-1a: method names are short. */
static uint32_t name_hash(const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* The prepare step of `m`, from the tables themselves. */
static sb_prepare_fn prepare_scan(const sb_method_t *m)
{
    for (size_t s = 0; s < sizeof(prep_slices) / sizeof(prep_slices[0]); s++)
        for (size_t i = 0; i < prep_slices[s]->n; i++)
            if (strcmp(prep_slices[s]->preps[i].name, m->name) == 0)
                return prep_slices[s]->preps[i].prepare;
    return NULL;
}

static void slots_build(void)
{
    for (size_t s = 0; s < sizeof(slices) / sizeof(slices[0]); s++)
        for (size_t i = 0; i < slices[s]->n; i++) {
            const sb_method_t *m = &slices[s]->methods[i];
            if (++n_methods > METHODS_MAX)
                abort(); /* raise METHODS_MAX with the table: a test calls every method */
            size_t at = name_hash(m->name) & (METHOD_SLOTS - 1);
            while (slots[at].method != NULL)
                at = (at + 1) & (METHOD_SLOTS - 1);
            slots[at] = (method_slot_t){m, prepare_scan(m)};
        }
}

static const method_slot_t *slot_of(const char *name)
{
    pthread_once(&slots_once, slots_build);
    for (size_t at = name_hash(name) & (METHOD_SLOTS - 1);; at = (at + 1) & (METHOD_SLOTS - 1)) {
        if (slots[at].method == NULL)
            return NULL;
        if (strcmp(slots[at].method->name, name) == 0)
            return &slots[at];
    }
}

const sb_method_t *sb_method_find(const char *name)
{
    const method_slot_t *slot = slot_of(name);
    return slot != NULL ? slot->method : NULL;
}

void sb_method_each(void (*fn)(const sb_method_t *m, void *ctx), void *ctx)
{
    for (size_t s = 0; s < sizeof(slices) / sizeof(slices[0]); s++)
        for (size_t i = 0; i < slices[s]->n; i++)
            fn(&slices[s]->methods[i], ctx);
}

sb_prepare_fn sb_method_prepare(const sb_method_t *m)
{
    if (m == NULL)
        return NULL;
    /* Found by name, as the prepare tables name their methods. */
    const method_slot_t *slot = slot_of(m->name);
    return slot != NULL ? slot->prepare : NULL;
}

void sb_call_release(sb_call_t *call)
{
    if (call->prep != NULL && call->prep_free != NULL)
        call->prep_free(call->prep);
    call->prep = NULL;
    call->prep_free = NULL;
}

/* ---- arguments ------------------------------------------------------------- */

const char *sb_obj_str(sb_call_t *call, const msgpack_object *obj)
{
    if (obj == NULL || obj->type != MSGPACK_OBJECT_STR ||
        memchr(obj->via.str.ptr, '\0', obj->via.str.size) != NULL)
        return NULL;
    char *copy = msgpack_zone_malloc(call->zone, obj->via.str.size + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, obj->via.str.ptr, obj->via.str.size);
    copy[obj->via.str.size] = '\0';
    return copy;
}

const char *sb_arg_str(sb_call_t *call, const char *key)
{
    return sb_obj_str(call, sb_obj_get(call->args, key));
}

int64_t sb_arg_int(sb_call_t *call, const char *key, int64_t fallback)
{
    const msgpack_object *obj = sb_obj_get(call->args, key);
    if (obj == NULL || obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER || obj->via.u64 > INT64_MAX)
        return fallback;
    return (int64_t)obj->via.u64;
}

bool sb_arg_bool(sb_call_t *call, const char *key, bool fallback)
{
    const msgpack_object *obj = sb_obj_get(call->args, key);
    return obj != NULL && obj->type == MSGPACK_OBJECT_BOOLEAN ? obj->via.boolean : fallback;
}

const msgpack_object *sb_arg_obj(sb_call_t *call, const char *key)
{
    return sb_obj_get(call->args, key);
}

size_t sb_arg_limit(sb_call_t *call)
{
    return (size_t)sb_arg_int(call, "limit", 100);
}

const char *sb_arg_bytes(sb_call_t *call, const char *key, size_t *len)
{
    const msgpack_object *obj = sb_obj_get(call->args, key);
    *len = 0;
    if (obj == NULL)
        return NULL;
    if (obj->type == MSGPACK_OBJECT_BIN) {
        *len = obj->via.bin.size;
        return obj->via.bin.ptr;
    }
    if (obj->type == MSGPACK_OBJECT_STR) {
        *len = obj->via.str.size;
        return obj->via.str.ptr;
    }
    return NULL;
}

static const char *type_name(sb_arg_type_t type)
{
    static const char *const names[] = {"a string",  "a non-negative integer",
                                        "a boolean", "an array",
                                        "a map",     "a string or binary"};
    return names[type];
}

static bool type_matches(const msgpack_object *obj, sb_arg_type_t type)
{
    switch (type) {
    case SB_ARG_STRING:
        return obj->type == MSGPACK_OBJECT_STR &&
               memchr(obj->via.str.ptr, '\0', obj->via.str.size) == NULL;
    case SB_ARG_INTEGER:
        return obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
    case SB_ARG_BOOLEAN:
        return obj->type == MSGPACK_OBJECT_BOOLEAN;
    case SB_ARG_ARRAY:
        return obj->type == MSGPACK_OBJECT_ARRAY;
    case SB_ARG_MAP:
        return obj->type == MSGPACK_OBJECT_MAP;
    case SB_ARG_BYTES:
        return obj->type == MSGPACK_OBJECT_STR || obj->type == MSGPACK_OBJECT_BIN;
    }
    return false;
}

/*
 * The longest value an argument that names a record can have, whatever the
 * method: an org id (64), a record id (15 or 18), an internal name (40), a
 * token id (32), a page cursor (one of those). Refusing longer ones here
 * names the argument, before any key is built from it (the store checks
 * every key's length again where it is built). 0: no limit of this kind.
 */
static size_t name_arg_max(const char *name)
{
    static const char *const names[] = {"org", "after", "id", "user", "callcenter"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return SB_ARG_NAME_MAX;
    return 0;
}

static int check_args(const sb_method_t *m, const msgpack_object *args, sb_err_t *err)
{
    /* Every given argument is known and of its type (nil counts as absent). */
    for (uint32_t i = 0; args != NULL && i < args->via.map.size; i++) {
        const msgpack_object_kv *kv = &args->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return sb_err_set(err, -EINVAL, "Argument names of %s are strings.", m->name);
        /* Any read may carry min_seq (a write's seq): a replica answers it
         * once it has applied that change (docs/cluster.md). */
        if (!m->writes && kv->key.via.str.size == 7 &&
            memcmp(kv->key.via.str.ptr, "min_seq", 7) == 0) {
            if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return sb_err_set(err, -EINVAL,
                                  "The argument 'min_seq' of %s is a non-negative integer.",
                                  m->name);
            continue;
        }
        const sb_arg_spec_t *spec = NULL;
        for (const sb_arg_spec_t *a = m->args; a->name != NULL; a++)
            if (strlen(a->name) == kv->key.via.str.size &&
                memcmp(a->name, kv->key.via.str.ptr, kv->key.via.str.size) == 0)
                spec = a;
        if (spec == NULL)
            return sb_err_set(err, -EINVAL, "%s takes no argument '%.*s'; see docs/protocol.md.",
                              m->name, (int)(kv->key.via.str.size > 64 ? 64 : kv->key.via.str.size),
                              kv->key.via.str.ptr);
        if (kv->val.type != MSGPACK_OBJECT_NIL && !type_matches(&kv->val, spec->type))
            return sb_err_set(err, -EINVAL, "The argument '%s' of %s is %s.", spec->name, m->name,
                              type_name(spec->type));
        size_t max = name_arg_max(spec->name);
        if (kv->val.type == MSGPACK_OBJECT_STR && max > 0 && kv->val.via.str.size > max)
            return sb_err_set(err, -EINVAL,
                              "The argument '%s' of %s is at most %zu bytes; this one has %u.",
                              spec->name, m->name, max, (unsigned)kv->val.via.str.size);
    }
    for (const sb_arg_spec_t *a = m->args; a->name != NULL; a++)
        if (a->required && sb_obj_get(args, a->name) == NULL)
            return sb_err_set(err, -EINVAL, "%s needs the argument '%s' (%s).", m->name, a->name,
                              type_name(a->type));
    return 0;
}

int sb_dispatch_check(sb_call_t *call, const char *method, const sb_method_t **out, sb_err_t *err)
{
    *out = NULL;
    const sb_method_t *m = sb_method_find(method);
    if (m == NULL)
        return sb_err_set(err, SB_E_UNKNOWN_METHOD,
                          "There is no method '%s'; docs/protocol.md lists them.", method);
    if (m->role != SB_ROLE_NONE && call->token.role == SB_ROLE_NONE)
        return sb_err_set(err, SB_E_UNAUTHENTICATED,
                          "Authenticate first: call token.authenticate with your token.");
    int rc = check_args(m, call->args, err);
    if (rc != 0)
        return rc;
    if (m->org_scoped) {
        call->org = sb_arg_str(call, "org");
        if (call->org == NULL)
            return sb_err_default(err, -ENOMEM);
        /* Another org's data is reported exactly like data that does not
         * exist, so that a token learns nothing of other tenants. */
        if (call->token.role != SB_ROLE_ADMIN && strcmp(call->org, call->token.org) != 0)
            return sb_err_set(err, -ENOENT, "The org '%.64s' does not exist.", call->org);
    }
    if (call->token.role < m->role)
        return sb_err_set(err, -EACCES, "%s needs %s; this token is %s.", m->name,
                          m->role == SB_ROLE_ADMIN ? "the admin token" : "an org admin token",
                          call->token.role == SB_ROLE_READ_ONLY ? "read-only" : "an org admin's");
    *out = m;
    return 0;
}

int sb_dispatch_add_seq(msgpack_sbuffer *out, uint32_t msgid, uint64_t seq)
{
    return sb_dispatch_add_uint(out, msgid, "seq", seq);
}

int sb_dispatch_add_uint(msgpack_sbuffer *out, uint32_t msgid, const char *key, uint64_t value)
{
    /* The head's length: packed again, as sb_dispatch_run packed it. */
    msgpack_sbuffer head;
    msgpack_sbuffer_init(&head);
    msgpack_packer hp;
    msgpack_packer_init(&hp, &head, msgpack_sbuffer_write);
    int rc = sb_rpc_pack_result_head(&hp, msgid) == 0 ? 0 : -ENOMEM;
    size_t at = head.size;
    msgpack_sbuffer_destroy(&head);
    if (rc != 0)
        return rc;
    if (out->size <= at)
        return -EINVAL;
    unsigned char *p = (unsigned char *)out->data + at;
    /* The result map is the response's last object: one more pair goes at
     * the end, and its count in the map's header. */
    if (*p >= 0x80 && *p < 0x8f) {
        (*p)++;
    } else if (*p == 0x8f) { /* 15 pairs: a fixmap holds no more, map 16 does */
        static const unsigned char map16[3] = {0xde, 0x00, 0x10};
        if (msgpack_sbuffer_write(out, "\0\0", 2) != 0)
            return -ENOMEM;
        p = (unsigned char *)out->data + at;
        memmove(p + 3, p + 1, out->size - at - 3);
        memcpy(p, map16, sizeof(map16));
    } else if (*p == 0xde && (p[1] != 0xff || p[2] != 0xff)) {
        unsigned n = ((unsigned)p[1] << 8 | p[2]) + 1;
        p[1] = (unsigned char)(n >> 8);
        p[2] = (unsigned char)n;
    } else {
        return -EINVAL; /* not a map (or a map 32: no write returns one) */
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    return sb_pack_kv_uint(&pk, key, value) == 0 ? 0 : -ENOMEM;
}

int sb_dispatch_run(sb_call_t *call, const sb_method_t *m, uint32_t msgid, msgpack_sbuffer *out)
{
    msgpack_sbuffer_clear(out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    sb_err_t err;
    sb_err_clear(&err);
    /* Here, not in sb_dispatch_check: a write is checked inside the
     * writer's batch, after every write queued before a move.freeze. */
    int rc = sb_move_check(call, m, &err);
    if (rc == 0)
        rc = sb_rpc_pack_result_head(&pk, msgid) == 0 ? m->fn(call, &pk, &err) : -ENOMEM;
    if (rc != 0 && rc != SB_CALL_MORE) {
        msgpack_sbuffer_clear(out);
        sb_rpc_pack_error(&pk, msgid, rc, err.message);
    }
    return rc;
}

int sb_dispatch_continue(sb_call_t *call, const sb_method_t *m, uint32_t msgid,
                         msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    sb_err_t err;
    sb_err_clear(&err);
    int rc = m->fn(call, &pk, &err);
    if (rc != 0 && rc != SB_CALL_MORE) {
        msgpack_sbuffer_clear(out);
        sb_rpc_pack_error(&pk, msgid, rc, err.message);
    }
    return rc;
}
