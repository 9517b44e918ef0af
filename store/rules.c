/*
 * Assignment rules (core/rules.h): an org's list, its plan and its apply.
 *
 *   rules   org \0  -> {version, updated, follow, rules: [rule with callcenter_id]}
 *
 * A plan reads the org's users in key order, with each one's membership,
 * and says what the rules would change. It carries a fingerprint: BLAKE2b
 * over the org's id, its stored rules (whose version changes with every
 * put), and every user record and membership value it read. An apply
 * recomputes the fingerprint inside its write transaction and refuses
 * (PLAN_STALE) when it differs, so that what is applied is exactly what the
 * operator read, or nothing. Recomputing reads the org's users once more;
 * SB_RULES_USERS_MAX bounds that read (and the writer's pause).
 *
 * The last plans made are kept with the org's change number (org_seq), so
 * that the pages of one plan cost one pass over the org. This relies on
 * every write of an org's data in a running server being attributed to the
 * org (sb_store_change_begin with its org), which moves that number; writes
 * made with the store API outside a server's batch (sbstore, the bench's
 * loader) run in other processes, whose memo is their own.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "record_codec.h"
#include "softphone_check.h"
#include "store_internal.h"

void sb_rules_plan_free(sb_rules_plan_t *plan)
{
    if (plan == NULL)
        return;
    sb_rules_free(&plan->rules);
    free(plan->changes);
    free(plan->conflicts);
    memset(plan, 0, sizeof(*plan));
}

/* The stored list of `org` into *out (empty when none) and its bytes into
 * *raw (size 0 when none; valid for the transaction). */
int sb__rules_load(sb_store_t *store, MDB_txn *txn, const char *org, sb_rules_t *out, MDB_val *raw)
{
    memset(out, 0, sizeof(*out));
    raw->mv_size = 0;
    raw->mv_data = NULL;
    sb_key_t key;
    int rc = sb__key(&key, org, "");
    if (rc == 0)
        rc = sb__get(txn, store->rules, &key, raw);
    if (rc == -ENOENT) {
        raw->mv_size = 0;
        return 0;
    }
    if (rc != 0)
        return rc;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t off = 0;
    rc = SB_E_CORRUPT;
    if (msgpack_unpack_next(&unpacked, raw->mv_data, raw->mv_size, &off) ==
            MSGPACK_UNPACK_SUCCESS &&
        off == raw->mv_size) {
        const msgpack_object *map = &unpacked.data;
        const msgpack_object *version = sb_obj_get(map, "version");
        const msgpack_object *updated = sb_obj_get(map, "updated");
        const msgpack_object *follow = sb_obj_get(map, "follow"); /* optional */
        if (version != NULL && version->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
            sb_rules_parse(sb_obj_get(map, "rules"), true, out, NULL) == 0) {
            out->version = version->via.u64;
            out->updated_ms = updated != NULL && updated->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                                  ? (int64_t)updated->via.u64
                                  : 0;
            out->follow =
                follow != NULL && follow->type == MSGPACK_OBJECT_BOOLEAN && follow->via.boolean;
            rc = 0;
        }
    }
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}

/* ---- rules.put / rules.get ------------------------------------------------ */

struct put_ctx {
    const char *org;
    sb_rules_t *rules;
};

static int rules_put_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct put_ctx *ctx = vctx;
    int rc = sb__org_must_exist(store, txn, ctx->org, err);
    for (size_t i = 0; rc == 0 && i < ctx->rules->n; i++) {
        sb_rule_t *rule = &ctx->rules->rules[i];
        if (strcmp(rule->target, SB_RULE_NONE) == 0) {
            memset(&rule->target_id, 0, sizeof(rule->target_id));
            continue;
        }
        char name[SB_CC_INTERNAL_NAME_MAX + 1];
        rc = sb__cc_find(store, txn, ctx->org, rule->target, &rule->target_id, name, err);
        if ((rc == -ENOENT || rc == SB_E_INVALID_ID) && err != NULL) {
            char why[sizeof(err->message)];
            memcpy(why, err->message, sizeof(why));
            rc = sb_err_set(err, SB_E_RULES_INVALID, "Rule %zu ('%s'): %s", i + 1, rule->name, why);
        } else if (rc == -ENOENT || rc == SB_E_INVALID_ID) {
            rc = SB_E_RULES_INVALID;
        }
        if (rc == 0) /* the internal name, as the Call Center spells it */
            memcpy(rule->target, name, sizeof(name));
    }
    sb_rules_t current;
    MDB_val raw;
    if (rc == 0 && (rc = sb__rules_load(store, txn, ctx->org, &current, &raw)) == 0) {
        ctx->rules->version = current.version + 1;
        sb_rules_free(&current);
    }
    if (rc != 0)
        return rc;
    ctx->rules->updated_ms = sb__now_ms();
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    rc = msgpack_pack_map(&pk, 4) | sb_pack_kv_uint(&pk, "version", ctx->rules->version) |
         sb_pack_kv_uint(&pk, "updated", (uint64_t)ctx->rules->updated_ms) |
         sb_pack_kv_bool(&pk, "follow", ctx->rules->follow) | sb_pack_str(&pk, "rules");
    rc = rc == 0 ? sb_rules_pack(&pk, ctx->rules) : -ENOMEM;
    sb_key_t key;
    if (rc == 0 && (rc = sb__key(&key, ctx->org, "")) == 0)
        rc = sb__put(txn, store->rules, &key, buf.data, buf.size, 0);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

int sb_store_rules_put(sb_store_t *store, const char *org, sb_rules_t *rules, sb_err_t *err)
{
    sb_err_clear(err);
    struct put_ctx ctx = {org, rules};
    return sb__write(store, rules_put_txn, &ctx, err);
}

int sb_store_rules_get(sb_store_t *store, const char *org, sb_rules_t *out, sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    sb_err_clear(err);
    MDB_txn *txn;
    int rc = sb_org_id_check(org, err);
    if (rc == 0)
        rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    rc = sb__org_must_exist(store, txn, org, err);
    MDB_val raw;
    if (rc == 0)
        rc = sb__rules_load(store, txn, org, out, &raw);
    sb__read_end(store, txn);
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

/* ---- following the rules on write ---------------------------------------------- */

int sb__rules_follow(sb_store_t *store, MDB_txn *txn, const char *org, const sb_rules_t *rules,
                     const sb_user_t *user, sb_err_t *err)
{
    if (!rules->follow)
        return 0;
    sb_rules_match_t m;
    sb_rules_match(rules, user, &m);
    if (m.conflict || m.rule == SB_RULE_NO_MATCH)
        return 0; /* the rules decide nothing: the user stays where they are */
    const sb_rule_t *rule = &rules->rules[m.rule];
    const sb_sfid_t *target = &rule->target_id;
    int rc = sb__member_assign(store, txn, org, &user->id, target->s[0] ? target : NULL, err);
    if (rc == -ENOENT) /* the user was just written: the Call Center is what is missing */
        return sb_err_set(err, SB_E_RULES_INVALID,
                          "User %s follows rule '%s' to Call Center '%s' (%s), which was deleted; "
                          "nothing was written. Put the rules again without it (rules put).",
                          user->id.s, rule->name, rule->target, target->s);
    if (rc != 0)
        sb_err_prefix(err, "Following rule '%s': ", rule->name);
    return rc;
}

/* ---- the plan ----------------------------------------------------------- */

static int grow(void **array, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *grown = realloc(*array, c * size);
    if (grown == NULL)
        return -ENOMEM;
    *array = grown;
    *cap = c;
    return 0;
}

static void hash_val(crypto_generichash_state *h, const void *data, size_t len)
{
    uint64_t n = len; /* the length first: no two sequences of values hash alike */
    crypto_generichash_update(h, (const unsigned char *)&n, sizeof(n));
    if (len > 0)
        crypto_generichash_update(h, data, len);
}

static void sfid_of(const MDB_val *val, sb_sfid_t *out)
{
    memcpy(out->s, val->mv_data, SB_SFID_LEN);
    out->s[SB_SFID_LEN] = '\0';
}

/*
 * One pass over the users of `org`: the fingerprint into fp, and with `plan`
 * (its rules loaded) what the rules would change. Refuses an org of more than
 * SB_RULES_USERS_MAX users.
 */
static int scan_org(sb_store_t *store, MDB_txn *txn, const char *org, const MDB_val *rules_raw,
                    sb_rules_plan_t *plan, char fp[SB_RULES_FINGERPRINT_LEN + 1], sb_err_t *err)
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, SB_RULES_FINGERPRINT_LEN / 2);
    hash_val(&h, org, strlen(org));
    hash_val(&h, rules_raw->mv_data, rules_raw->mv_size);
    sb_key_t prefix;
    MDB_cursor *cur;
    uint32_t num; /* the org's, in its members' keys */
    uint8_t mkey[SB_MEMBER_KEY_LEN];
    int rc = sb__key(&prefix, org, "");
    if (rc == 0 && (rc = sb__org_num(store, txn, org, &num)) == -ENOENT)
        rc = SB_E_CORRUPT; /* the org exists (the caller checked): it has a number */
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_cursor_open(txn, store->users, &cur));
    if (rc != 0)
        return sb_err_default(err, rc);
    size_t cap_changes = 0, cap_conflicts = 0, users = 0;
    MDB_val k = {prefix.len, prefix.buf}, v;
    int lmdb = sb__cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && lmdb == 0 && k.mv_size >= prefix.len &&
           memcmp(k.mv_data, prefix.buf, prefix.len) == 0) {
        if (++users > SB_RULES_USERS_MAX) {
            rc = sb_err_set(err, SB_E_PLAN_TOO_LARGE,
                            "The org '%s' has more than %d users, the most a rules plan reads "
                            "(it bounds how long an apply holds the writer).",
                            org, SB_RULES_USERS_MAX);
            break;
        }
        hash_val(&h, k.mv_data, k.mv_size);
        hash_val(&h, v.mv_data, v.mv_size);
        /* The user's membership: users' key is org \0 user id. */
        sb_sfid_t uid;
        if (k.mv_size != prefix.len + SB_SFID_LEN) {
            sb__value_damaged(txn, store->users, &k);
            rc = SB_E_CORRUPT;
            break;
        }
        memcpy(uid.s, (const char *)k.mv_data + prefix.len, SB_SFID_LEN);
        uid.s[SB_SFID_LEN] = '\0';
        MDB_val key = {sb_member_key(num, &uid, mkey), mkey}, member;
        int found =
            key.mv_size == 0 ? MDB_CORRUPTED : sb__value_get(txn, store->user_cc, &key, &member);
        if (found == 0 && member.mv_size < SB_SFID_LEN)
            found = SB_E_CORRUPT;
        if (found != 0 && found != MDB_NOTFOUND) {
            rc = sb__lmdb_rc(found);
            break;
        }
        hash_val(&h, found == 0 ? member.mv_data : "-", found == 0 ? member.mv_size : 1);
        if (plan != NULL) {
            sb_user_t user;
            sb_sfid_t current = {{0}};
            if (found == 0)
                sfid_of(&member, &current);
            if ((rc = sb_codec_decode_user(v.mv_data, v.mv_size, &user)) != 0)
                break;
            sb_rules_match_t m;
            sb_rules_match(&plan->rules, &user, &m);
            plan->users++;
            if (m.conflict) {
                if ((rc = grow((void **)&plan->conflicts, &cap_conflicts, plan->n_conflicts,
                               sizeof(*plan->conflicts))) != 0)
                    break;
                sb_rules_conflict_t *c = &plan->conflicts[plan->n_conflicts++];
                c->user = user.id;
                c->rules[0] = (uint32_t)m.exclusive[0];
                c->rules[1] = (uint32_t)m.exclusive[1];
            } else if (m.rule == SB_RULE_NO_MATCH) {
                if (plan->unmatched < SB_RULES_EXAMPLES)
                    plan->unmatched_examples[plan->unmatched] = user.id;
                plan->unmatched++;
            } else {
                const sb_sfid_t *target = &plan->rules.rules[m.rule].target_id;
                if (strcmp(target->s, current.s) == 0) {
                    plan->unchanged++;
                } else {
                    if ((rc = grow((void **)&plan->changes, &cap_changes, plan->n_changes,
                                   sizeof(*plan->changes))) != 0)
                        break;
                    sb_rules_change_t *c = &plan->changes[plan->n_changes++];
                    c->user = user.id;
                    c->from = current;
                    c->to = *target;
                    c->rule = (uint32_t)m.rule;
                    c->kind = current.s[0] == '\0'   ? SB_RULES_ADD
                              : target->s[0] == '\0' ? SB_RULES_REMOVE
                                                     : SB_RULES_MOVE;
                    plan->adds += c->kind == SB_RULES_ADD;
                    plan->moves += c->kind == SB_RULES_MOVE;
                    plan->removes += c->kind == SB_RULES_REMOVE;
                }
            }
        }
        lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && lmdb != 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    unsigned char digest[SB_RULES_FINGERPRINT_LEN / 2];
    crypto_generichash_final(&h, digest, sizeof(digest));
    sodium_bin2hex(fp, SB_RULES_FINGERPRINT_LEN + 1, digest, sizeof(digest));
    return rc == 0 ? 0 : sb_err_default(err, rc);
}

/* Refuses rules whose Call Center was deleted since they were put. */
static int targets_exist(sb_store_t *store, MDB_txn *txn, const char *org, const sb_rules_t *rules,
                         sb_err_t *err)
{
    for (size_t i = 0; i < rules->n; i++) {
        const sb_rule_t *rule = &rules->rules[i];
        if (rule->target_id.s[0] == '\0')
            continue;
        sb_key_t key;
        MDB_val val;
        int rc = sb__key(&key, org, rule->target_id.s);
        if (rc == 0)
            rc = sb__get(txn, store->callcenters, &key, &val);
        if (rc == -ENOENT)
            return sb_err_set(err, SB_E_RULES_INVALID,
                              "Rule %zu ('%s'): its Call Center '%s' (%s) was deleted; put the "
                              "rules again without it.",
                              i + 1, rule->name, rule->target, rule->target_id.s);
        if (rc != 0)
            return sb_err_default(err, rc);
    }
    return 0;
}

/* ---- plans kept between pages -------------------------------------------- */

/* Copies what a plan found (not its rules, which the caller loads) into
 * *to; -ENOMEM leaves *to without arrays. */
static int plan_copy_found(sb_rules_plan_t *to, const sb_rules_plan_t *from)
{
    sb_rules_t rules = to->rules;
    *to = *from;
    to->rules = rules;
    to->changes = NULL;
    to->conflicts = NULL;
    if (from->n_changes > 0 &&
        (to->changes = malloc(from->n_changes * sizeof(*from->changes))) == NULL)
        return -ENOMEM;
    if (from->n_conflicts > 0 &&
        (to->conflicts = malloc(from->n_conflicts * sizeof(*from->conflicts))) == NULL)
        return -ENOMEM;
    if (from->n_changes > 0)
        memcpy(to->changes, from->changes, from->n_changes * sizeof(*from->changes));
    if (from->n_conflicts > 0)
        memcpy(to->conflicts, from->conflicts, from->n_conflicts * sizeof(*from->conflicts));
    return 0;
}

/* A plan of `org` made at its change number `org_seq`, copied into *out
 * (whose rules the caller loaded in the same snapshot): true when kept.
 * Any write of the org (its users, memberships, Call Centers, rules) moves
 * its change number, so a plan kept under the same number is still the
 * plan: paging through one costs a copy a page, not a pass over the org. */
static bool plan_memo_get(sb_store_t *store, const char *org, uint64_t org_seq,
                          sb_rules_plan_t *out)
{
    bool hit = false;
    pthread_mutex_lock(&store->plan_lock);
    for (size_t i = 0; i < SB_PLAN_MEMO_SLOTS && !hit; i++) {
        struct sb_plan_memo *m = &store->plan_memo[i];
        if (m->org[0] == '\0' || m->org_seq != org_seq || strcmp(m->org, org) != 0)
            continue;
        if (plan_copy_found(out, &m->plan) == 0) {
            m->used = ++store->plan_clock;
            hit = true;
        } else { /* out of memory: computed again, as without the memo */
            free(out->changes);
            free(out->conflicts);
            sb_rules_t rules = out->rules;
            memset(out, 0, sizeof(*out));
            out->rules = rules;
        }
    }
    pthread_mutex_unlock(&store->plan_lock);
    return hit;
}

/* Keeps a copy of `plan` in the least recently served slot. */
static void plan_memo_put(sb_store_t *store, const char *org, uint64_t org_seq,
                          const sb_rules_plan_t *plan)
{
    sb_rules_plan_t copy = {0};
    if (plan_copy_found(&copy, plan) != 0) {
        free(copy.changes);
        return; /* not kept: the next page computes it again */
    }
    memset(&copy.rules, 0, sizeof(copy.rules)); /* loaded with each page */
    pthread_mutex_lock(&store->plan_lock);
    struct sb_plan_memo *slot = &store->plan_memo[0];
    for (size_t i = 1; i < SB_PLAN_MEMO_SLOTS; i++)
        if (store->plan_memo[i].used < slot->used)
            slot = &store->plan_memo[i];
    sb_rules_plan_free(&slot->plan);
    snprintf(slot->org, sizeof(slot->org), "%s", org);
    slot->org_seq = org_seq;
    slot->used = ++store->plan_clock;
    slot->plan = copy;
    pthread_mutex_unlock(&store->plan_lock);
}

void sb__plan_memo_free(sb_store_t *store)
{
    for (size_t i = 0; i < SB_PLAN_MEMO_SLOTS; i++) {
        sb_rules_plan_free(&store->plan_memo[i].plan); /* leaves the plan empty */
        store->plan_memo[i].org[0] = '\0';
    }
}

int sb_store_rules_plan(sb_store_t *store, const char *org, sb_rules_plan_t *out, sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    sb_err_clear(err);
    MDB_txn *txn;
    int rc = sb_org_id_check(org, err);
    if (rc == 0)
        rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    rc = sb__org_must_exist(store, txn, org, err);
    MDB_val raw;
    uint64_t org_seq = 0;
    if (rc == 0 && (rc = sb__rules_load(store, txn, org, &out->rules, &raw)) != 0)
        rc = sb_err_default(err, rc);
    if (rc == 0 && (rc = sb__org_last_seq(store, txn, org, &org_seq)) != 0)
        rc = sb_err_default(err, rc);
    bool kept = rc == 0 && org_seq != 0 && plan_memo_get(store, org, org_seq, out);
    if (rc == 0 && !kept)
        rc = targets_exist(store, txn, org, &out->rules, err);
    if (rc == 0 && !kept)
        rc = scan_org(store, txn, org, &raw, out, out->fingerprint, err);
    sb__read_end(store, txn);
    if (rc == 0 && !kept && org_seq != 0)
        plan_memo_put(store, org, org_seq, out);
    if (rc != 0)
        sb_rules_plan_free(out);
    return rc;
}

/* ---- the apply ---------------------------------------------------------- */

struct apply_ctx {
    const char *org;
    const sb_rules_plan_t *plan;
};

static int rules_apply_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct apply_ctx *ctx = vctx;
    int rc = sb__org_must_exist(store, txn, ctx->org, err);
    if (rc != 0)
        return rc;
    sb_rules_t rules;
    MDB_val raw;
    char fp[SB_RULES_FINGERPRINT_LEN + 1];
    if ((rc = sb__rules_load(store, txn, ctx->org, &rules, &raw)) != 0)
        return sb_err_default(err, rc);
    sb_rules_free(&rules); /* only its bytes count, in the fingerprint */
    if ((rc = scan_org(store, txn, ctx->org, &raw, NULL, fp, err)) != 0)
        return rc;
    if (strcmp(fp, ctx->plan->fingerprint) != 0)
        return sb_err_set(err, SB_E_PLAN_STALE,
                          "The org '%s' changed since this plan was made (its users, memberships "
                          "or rules); nothing was applied. Make the plan again and read it.",
                          ctx->org);
    for (size_t i = 0; rc == 0 && i < ctx->plan->n_changes; i++) {
        const sb_rules_change_t *c = &ctx->plan->changes[i];
        rc = sb__member_assign(store, txn, ctx->org, &c->user,
                               c->kind == SB_RULES_REMOVE ? NULL : &c->to, err);
        if (rc != 0)
            sb_err_prefix(err, "User %s (nothing was applied): ", c->user.s);
    }
    return rc;
}

int sb_store_rules_apply(sb_store_t *store, const char *org, const sb_rules_plan_t *plan,
                         sb_err_t *err)
{
    sb_err_clear(err);
    if (plan->n_changes > SB_RULES_APPLY_MAX)
        return sb_err_set(err, SB_E_PLAN_TOO_LARGE,
                          "The plan has %zu changes; one apply makes at most %d. Apply the rules "
                          "in steps: put the first rules, apply, then put the next.",
                          plan->n_changes, SB_RULES_APPLY_MAX);
    struct apply_ctx ctx = {org, plan};
    return sb__write(store, rules_apply_txn, &ctx, err);
}
