/* softphone.*: does a user see a softphone, which one, and why not. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"

int sb_softphone_pack_reference(msgpack_packer *pk, const sb_softphone_answer_t *a)
{
    const sb_softphone_view_t *v = a->blob ? &a->view : NULL;
    int rc = msgpack_pack_map(pk, 13);
    rc |= sb_pack_kv_str(pk, "user", a->user);
    rc |= sb_pack_kv_bool(pk, "softphone", a->reason == SB_SOFTPHONE_OK);
    rc |= sb_pack_kv_str(pk, "reason", sb_softphone_reason_name(a->reason));
    rc |= sb_pack_kv_str(pk, "message", a->message);
    rc |= sb_pack_str(pk, "callcenter");
    if (v != NULL)
        rc |= msgpack_pack_map(pk, 3) | sb_pack_kv_str(pk, "id", v->cc_id) |
              sb_pack_kv_str(pk, "internal_name", v->internal_name) |
              sb_pack_kv_str(pk, "display_name", v->display_name);
    else
        rc |= msgpack_pack_nil(pk);
    rc |= sb_pack_kv_str(pk, "adapter", v && v->adapter[0] ? v->adapter : NULL);
    rc |= sb_pack_kv_str(pk, "adapter_url", v && a->adapter_url[0] ? a->adapter_url : NULL);
    rc |= sb_pack_str(pk, "softphone_height");
    rc |= v && v->height ? msgpack_pack_uint32(pk, v->height) : msgpack_pack_nil(pk);
    rc |= sb_pack_str(pk, "softphone_width");
    rc |= v && v->width ? msgpack_pack_uint32(pk, v->width) : msgpack_pack_nil(pk);
    rc |= sb_pack_kv_str(pk, "compatibility_mode",
                         v ? sb_cc_compat_mode_name((sb_cc_compat_mode_t)v->mode) : NULL);
    rc |= sb_pack_kv_str(pk, "layout_name", v && v->layout_name[0] ? v->layout_name : NULL);
    rc |= sb_pack_kv_str(pk, "layout_source", v ? sb_layout_source_name(v->layout_source) : NULL);
    rc |= sb_pack_str(pk, "layout");
    if (v != NULL && v->layout != NULL) /* stored as msgpack: copied as it is */
        rc |= pk->callback(pk->data, (const char *)v->layout, v->layout_len);
    else
        rc |= msgpack_pack_nil(pk);
    return rc;
}

/*
 * Answers packed once. The answers of the members who share a view (one Call
 * Center and profile) differ only in the user's id, which is in three places:
 * "user", the sentence, and the adapter URL the adapter rendered for the
 * user. So the whole answer is packed once per view, with a marker of the
 * id's length (18 bytes no UTF-8 string holds) where the id goes, and each
 * later answer is that block copied with the id spliced in at the marker's
 * places: no sentence formatted, nothing else packed. The msgpack headers
 * stay right as the marker is exactly as long as any normalized id.
 *
 * A slot is found by a hash of the org, the Call Center and the profile, and
 * is the view's only if the view's bytes are those the slot was made from
 * (compared whole): a write that changes the view, in whatever snapshot,
 * makes the next answer pack it again. When a slot is made, the spliced
 * block is compared with the answer packed as before for that user; a view
 * whose answer is not exactly that (it cannot be, but the check is cheap
 * once per view) is never served from the block.
 */
#define MARKER_BYTE 0xff
#define SPLICES_MAX 8

typedef struct answer_slot {
    bool used, usable;
    uint64_t made; /* which making of a slot this is (the cache's count): a batch's mark */
    char org[SB_ORG_ID_MAX + 1];
    char profile[SB_PROFILE_NAME_MAX + 1];
    /* The reason is the view's, or the user's own (a Service Cloud Voice
     * member without the licence): users of one view differ by it. */
    sb_softphone_reason_t reason;
    uint8_t *record; /* [owned] the view's bytes the block was made from */
    size_t record_len;
    uint8_t *block; /* [owned] the answer with the marker for the user's id */
    size_t block_len;
    uint32_t splice[SPLICES_MAX]; /* where the id goes in block */
    unsigned splices;
} answer_slot_t;

struct sb_answer_cache {
    size_t n; /* slots */
    /* Written by the cache's own loop only; read by server.info on any loop
     * (--loops), hence atomics, bumped without a locked add (one writer). */
    _Atomic uint64_t hits, misses;
    uint64_t made;
    answer_slot_t slot[];
};

static void bump(_Atomic uint64_t *counter)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

int sb_answer_cache_new(size_t slots, sb_answer_cache_t **out)
{
    *out = NULL;
    if (slots == 0)
        return 0; /* off: every answer is packed in full */
    if (slots > (SIZE_MAX - sizeof(sb_answer_cache_t)) / sizeof(answer_slot_t))
        return -EINVAL;
    sb_answer_cache_t *c = calloc(1, sizeof(*c) + slots * sizeof(answer_slot_t));
    if (c == NULL)
        return -ENOMEM;
    c->n = slots;
    *out = c;
    return 0;
}

void sb_answer_cache_free(sb_answer_cache_t *c)
{
    for (size_t i = 0; c != NULL && i < c->n; i++) {
        free(c->slot[i].record);
        free(c->slot[i].block);
    }
    free(c);
}

void sb_answer_cache_counts(const sb_answer_cache_t *c, uint64_t *hits, uint64_t *misses)
{
    *hits = c ? atomic_load_explicit(&c->hits, memory_order_relaxed) : 0;
    *misses = c ? atomic_load_explicit(&c->misses, memory_order_relaxed) : 0;
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return (h ^ 0xff) * 0x100000001b3ull; /* a separator: "ab","c" is not "a","bc" */
}

static answer_slot_t *slot_of(sb_answer_cache_t *c, const char *org, const sb_softphone_answer_t *a)
{
    uint64_t h = fnv(fnv(fnv(0xcbf29ce484222325ull, org), a->view.cc_id), a->profile);
    h = (h ^ (uint64_t)a->reason) * 0x100000001b3ull;
    return &c->slot[h % c->n];
}

static bool slot_is(const answer_slot_t *s, const char *org, const sb_softphone_answer_t *a)
{
    return s->used && s->reason == a->reason && s->record_len == a->blob_len &&
           strcmp(s->org, org) == 0 && strcmp(s->profile, a->profile) == 0 &&
           memcmp(s->record, a->blob, a->blob_len) == 0;
}

/* Writes block with `user` at its splices: the answer, in one copy per run between them. */
static int write_spliced(msgpack_packer *pk, const answer_slot_t *s, const char *user)
{
    size_t at = 0;
    int rc = 0;
    for (unsigned i = 0; rc == 0 && i < s->splices; i++) {
        rc = pk->callback(pk->data, (const char *)s->block + at, s->splice[i] - at) |
             pk->callback(pk->data, user, SB_SFID_LEN);
        at = s->splice[i] + SB_SFID_LEN;
    }
    return rc | pk->callback(pk->data, (const char *)s->block + at, s->block_len - at);
}

/* Makes slot s for a's view: the block with the marker, its splices, and
 * whether it gives exactly `real` (the answer packed in full for a's user). */
static int slot_make(answer_slot_t *s, uint64_t made, const char *org,
                     const sb_softphone_answer_t *a, const msgpack_sbuffer *real)
{
    sb_softphone_answer_t t; /* the answer of the marker */
    t = *a;
    char marker[SB_SFID_LEN + 1];
    memset(marker, MARKER_BYTE, SB_SFID_LEN);
    marker[SB_SFID_LEN] = '\0';
    memcpy(t.user, marker, sizeof(marker));
    if (sb_softphone_url_for(a->view.adapter_url, marker, t.adapter_url, SB_VIEW_URL_MAX) != 0)
        t.adapter_url[0] = '\0'; /* as the check does */
    sb_softphone_answer_explain(&t, org, marker);
    msgpack_sbuffer block;
    msgpack_sbuffer_init(&block);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &block, msgpack_sbuffer_write);
    uint8_t *record = malloc(a->blob_len);
    if (sb_softphone_pack_reference(&pk, &t) != 0 || record == NULL) {
        msgpack_sbuffer_destroy(&block);
        free(record);
        return -ENOMEM;
    }
    free(s->record);
    free(s->block);
    memcpy(record, a->blob, a->blob_len);
    *s = (answer_slot_t){
        .used = true, .reason = a->reason, .record = record, .record_len = a->blob_len};
    s->made = made;
    snprintf(s->org, sizeof(s->org), "%s", org);
    snprintf(s->profile, sizeof(s->profile), "%s", a->profile);
    s->block_len = block.size;
    s->block = (uint8_t *)msgpack_sbuffer_release(&block);
    /* Every place of the marker, never overlapping. */
    for (size_t at = 0; s->splices <= SPLICES_MAX && at + SB_SFID_LEN <= s->block_len;) {
        const uint8_t *m = memmem(s->block + at, s->block_len - at, marker, SB_SFID_LEN);
        if (m == NULL)
            break;
        if (s->splices < SPLICES_MAX)
            s->splice[s->splices] = (uint32_t)(m - s->block);
        s->splices++;
        at = (size_t)(m - s->block) + SB_SFID_LEN;
    }
    if (s->splices > SPLICES_MAX || s->block_len != real->size || s->block_len > UINT32_MAX)
        return 0; /* not usable: packed in full each time */
    /* The check: spliced with this user, the block is the answer packed in full. */
    msgpack_sbuffer spliced;
    msgpack_sbuffer_init(&spliced);
    msgpack_packer spk;
    msgpack_packer_init(&spk, &spliced, msgpack_sbuffer_write);
    s->usable = write_spliced(&spk, s, a->user) == 0 && spliced.size == real->size &&
                memcmp(spliced.data, real->data, real->size) == 0;
    msgpack_sbuffer_destroy(&spliced);
    return 0;
}

/*
 * check_batch's compact form: each view a batch's members share goes once,
 * after the results, as its packed block and the places of the user's id in
 * it; each of those members' results is [view index, user id]. The views are
 * copied as the batch first uses them: a write that changes a view between
 * two slices of the batch makes another entry, never changes one sent.
 * [owned by the call: call->prep]
 */
typedef struct compact_view {
    uint64_t made; /* the slot's making it was copied from */
    uint8_t *block;
    size_t block_len;
    uint32_t splice[SPLICES_MAX];
    unsigned splices;
} compact_view_t;

typedef struct compact_state {
    compact_view_t *views;
    size_t n, cap;
} compact_state_t;

static void compact_free(void *p)
{
    compact_state_t *c = p;
    for (size_t i = 0; c != NULL && i < c->n; i++)
        free(c->views[i].block);
    if (c != NULL)
        free(c->views);
    free(c);
}

/* Packs [index of s's view in the batch, user], adding the view on its first use. */
static int compact_ref(compact_state_t *c, const answer_slot_t *s, msgpack_packer *pk,
                       const char *user)
{
    size_t i = 0;
    while (i < c->n && c->views[i].made != s->made)
        i++;
    if (i == c->n) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 8;
            compact_view_t *grown = realloc(c->views, cap * sizeof(*grown));
            if (grown == NULL)
                return -ENOMEM;
            c->views = grown;
            c->cap = cap;
        }
        compact_view_t *v = &c->views[c->n];
        *v = (compact_view_t){.made = s->made, .block_len = s->block_len, .splices = s->splices};
        memcpy(v->splice, s->splice, sizeof(v->splice));
        if ((v->block = malloc(s->block_len)) == NULL)
            return -ENOMEM;
        memcpy(v->block, s->block, s->block_len);
        c->n++;
    }
    return msgpack_pack_array(pk, 2) | msgpack_pack_uint64(pk, i) | sb_pack_str(pk, user);
}

/* The views of a compact batch: [[bin: the packed answer, [offsets of the user's id]]]. */
static int compact_pack_views(const compact_state_t *c, msgpack_packer *pk)
{
    size_t n = c != NULL ? c->n : 0;
    int rc = sb_pack_str(pk, "views") | msgpack_pack_array(pk, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const compact_view_t *v = &c->views[i];
        rc = msgpack_pack_array(pk, 2) | msgpack_pack_bin_with_body(pk, v->block, v->block_len) |
             msgpack_pack_array(pk, v->splices);
        for (unsigned k = 0; rc == 0 && k < v->splices; k++)
            rc = msgpack_pack_uint32(pk, v->splice[k]);
    }
    return rc;
}

/* One answer: spliced from its view's block, a reference to the view (compact
 * != NULL), or packed in full. */
static int pack_one(sb_answer_cache_t *cache, msgpack_packer *pk, sb_softphone_answer_t *a,
                    const char *org, const char *user, compact_state_t *compact)
{
    /* Only a view's answers are alike between users; a normalized id only. */
    bool cacheable = cache != NULL && a->blob != NULL && strlen(a->user) == SB_SFID_LEN;
    answer_slot_t *s = cacheable ? slot_of(cache, org, a) : NULL;
    if (s != NULL && s->usable && slot_is(s, org, a)) {
        bump(&cache->hits);
        return compact ? compact_ref(compact, s, pk, a->user) : write_spliced(pk, s, a->user);
    }
    sb_softphone_answer_explain(a, org, user);
    if (s == NULL || slot_is(s, org, a)) /* no cache, or a view whose block is not usable */
        return sb_softphone_pack_reference(pk, a);
    bump(&cache->misses);
    msgpack_sbuffer real;
    msgpack_sbuffer_init(&real);
    msgpack_packer rpk;
    msgpack_packer_init(&rpk, &real, msgpack_sbuffer_write);
    int rc = sb_softphone_pack_reference(&rpk, a);
    if (rc == 0)
        rc = slot_make(s, ++cache->made, org, a, &real);
    if (rc == 0 && compact != NULL && s->usable)
        rc = compact_ref(compact, s, pk, a->user);
    else if (rc == 0)
        rc = pk->callback(pk->data, real.data, real.size);
    msgpack_sbuffer_destroy(&real);
    return rc;
}

int sb_softphone_pack(sb_answer_cache_t *cache, msgpack_packer *pk, sb_softphone_answer_t *a,
                      const char *org, const char *user)
{
    return pack_one(cache, pk, a, org, user, NULL);
}

static int check_one(sb_call_t *call, const char *user, msgpack_packer *pk, sb_err_t *err)
{
    sb_softphone_answer_t answer;
    int rc = sb_store_softphone_find(call->svc->store, call->org, user, &answer, err);
    if (rc == 0)
        rc = pack_one(call->svc->answers, pk, &answer, call->org, user, call->prep);
    sb_softphone_answer_destroy(&answer);
    return rc;
}

static int softphone_check(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    return check_one(call, sb_arg_str(call, "user"), pk, err);
}

/* Users checked per turn of the event loop: a batch of 10,000 would hold the
 * loop for about half a second (every other tenant waiting); 256 keep each
 * turn near 15 ms on a loaded machine. Each check takes its own read
 * transaction, as a single check does, so that none is held across turns:
 * the answers of one batch may come from different snapshots, exactly as
 * the same checks sent one by one would. */
#define BATCH_SLICE 256

static int softphone_check_batch(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const msgpack_object *users = sb_arg_obj(call, "users");
    size_t n = users->via.array.size;
    if (call->cursor == 0) {
        if (n == 0 || n > call->svc->config->max_batch)
            return sb_err_set(err, SB_E_BATCH_TOO_LARGE,
                              "softphone.check_batch takes 1 to %zu users; this request has %zu.",
                              call->svc->config->max_batch, n);
        for (size_t i = 0; i < n; i++)
            if (users->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
                return sb_err_set(err, -EINVAL,
                                  "'users' is an array of user id strings (item %zu).", i + 1);
        /* The org is checked before anything is packed, so that an error
         * response never follows half a result. */
        sb_org_t org;
        int rc = sb_store_org_get(call->svc->store, call->org, &org, err);
        if (rc != 0)
            return rc;
        /* The compact form needs the packed views: without the cache, today's form. */
        bool compact = sb_arg_bool(call, "compact", false) && call->svc->answers != NULL;
        if (compact && (call->prep = calloc(1, sizeof(compact_state_t))) == NULL)
            return -ENOMEM;
        if (compact)
            call->prep_free = compact_free;
        rc = msgpack_pack_map(pk, compact ? 2 : 1) | sb_pack_str(pk, "results") |
             msgpack_pack_array(pk, n);
        if (rc != 0)
            return -ENOMEM;
    }
    /* The reply grows in memory until it is whole: past the largest reply
     * the connection may be sent, stop early with an error that says how
     * much would have fitted, rather than finish work nobody can receive. */
    const msgpack_sbuffer *reply = pk->data;
    size_t max = sb_config_reply_max(call->svc->config);
    size_t end = call->cursor + BATCH_SLICE < n ? call->cursor + BATCH_SLICE : n;
    int rc = 0;
    for (size_t i = call->cursor; rc == 0 && i < end; i++) {
        const char *user = sb_obj_str(call, &users->via.array.ptr[i]);
        rc = check_one(call, user ? user : "", pk, err);
        if (rc == 0 && reply->size > max)
            return sb_err_set(err, SB_E_REPLY_TOO_LARGE,
                              "The answers for this batch pass %zu bytes after %zu of its %zu "
                              "users, the largest reply this server sends (--write-cap-bytes "
                              "minus --write-high-bytes); send batches of at most %zu users.",
                              max, i + 1, n, i > 1 ? i / 2 : 1);
    }
    if (rc != 0)
        return rc;
    call->cursor = end;
    if (end < n)
        return SB_CALL_MORE;
    if (call->prep != NULL && compact_pack_views(call->prep, pk) != 0)
        return -ENOMEM;
    if (reply->size > max)
        return sb_err_set(err, SB_E_REPLY_TOO_LARGE,
                          "The answers for this batch pass %zu bytes, the largest reply this "
                          "server sends (--write-cap-bytes minus --write-high-bytes); send "
                          "smaller batches.",
                          max);
    return 0;
}

#define ANSWER                                                                                     \
    "{user, softphone: bool, reason: OK | UNKNOWN_USER | NOT_A_MEMBER | INVALID_USER_ID | "        \
    "ADAPTER_NOT_LOADED | ADAPTER_URL_NOT_HTTPS | NO_ADAPTER_URL | ADAPTER_REFUSED, message: "     \
    "what it means and what to do, callcenter: {id, internal_name, display_name} or nil, "         \
    "adapter, adapter_url (as the adapter renders it for this user), softphone_height, "           \
    "softphone_width, compatibility_mode, layout_name, layout_source: profile | default | none, "  \
    "layout (as layout.get gives it) or nil}"

static const sb_method_t methods[] = {
    {"softphone.check",
     "Whether a user sees a softphone: the Call Center and its softphone when yes, the reason and "
     "what to do when not.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     softphone_check,
     {SB_ARG_ORG, {"user", SB_ARG_STRING, true, "the user id"}},
     ANSWER,
     "NOT_FOUND (the org)"},
    {"softphone.check_batch",
     "softphone.check for many users in one request, in order. Served 256 users per turn of the "
     "server's loop, so that other requests are answered meanwhile; each check reads the latest "
     "data, so a batch that runs while data changes may mix answers from before and after.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     softphone_check_batch,
     {SB_ARG_ORG,
      {"users", SB_ARG_ARRAY, true, "[user id], at most --max-batch"},
      {"compact", SB_ARG_BOOLEAN, false,
       "true: each Call Center view the users share is sent once (the compact form, below); "
       "libswitchboard-client asks for it and gives back the default form"}},
     "{results: [answer as softphone.check gives it]}; compact: {results: [answer, or [view, "
     "user id] for a member whose view is in views], views: [[bin: the answer of view's members, "
     "packed, with 18 bytes 0xff at each place the user's id goes, [those byte offsets]]]}: put "
     "the user's id at the offsets of views[view] for that user's answer, byte for byte the "
     "default form's",
     "NOT_FOUND (the org) BATCH_TOO_LARGE REPLY_TOO_LARGE (the answers would pass the largest "
     "reply; "
     "the message says how many users fit)"},
};

const sb_method_slice_t sb__softphone_methods = {methods, sizeof(methods) / sizeof(methods[0])};
