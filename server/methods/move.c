/*
 * move.*: moving an org from this server to another (docs/cluster.md,
 * "Moving an org"; sbctl org move drives them). Admin only.
 *
 * Source: move.export pages the org's records from one snapshot (sequence
 * S), move.changes pages the keys the log touched after S with their
 * current values, move.freeze pauses the org's writes (ORG_MOVING), and
 * move.done marks it moved (MOVED naming where to) and deletes its records
 * through the log a batch per call. Target: move.import writes pages (the
 * first makes the org "receiving": its tokens are told ORG_MOVING), move.commit
 * makes it serve. Either side: move.abort undoes (unfreezes the source;
 * drops the receiving org on the target), move.digest compares.
 *
 * The state is kept in the store (org_move.h) and checked for every
 * request that names an org (sb_move_check, from the dispatch), inside the
 * writer's batch for writes: a write that passed before move.freeze commits
 * before it, one after it is refused, and none slips between.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "org_move.h"

/* What one page carries at most: it must fit the reply and, passed on as
 * move.import's argument, the target's message limit (the same defaults). */
#define MOVE_PAGE_MAX (256 << 10)
/* Records one move.done deletes at most: a bounded write per call. */
#define MOVE_PURGE_BATCH 2000

static size_t page_bytes(const sb_call_t *call)
{
    size_t max = sb_config_reply_max(call->svc->config) / 2;
    size_t msg = call->svc->config->max_message_bytes / 2;
    if (msg < max)
        max = msg;
    if (max > MOVE_PAGE_MAX)
        max = MOVE_PAGE_MAX;
    return max < 4096 ? 4096 : max;
}

int sb_move_check(sb_call_t *call, const sb_method_t *m, sb_err_t *err)
{
    const char *org = call->org;
    if (org == NULL && sb_obj_get(call->args, "org") != NULL)
        org = sb_arg_str(call, "org"); /* org.create, token.create: an org, not scoped */
    if (org == NULL)
        return 0;
    sb_org_move_t mv;
    int rc = sb_store_org_move_get(call->svc->store, org, &mv, err);
    /* The move's own steps judge the state themselves; asked only now,
     * off the path of an org in no move (every request but a few). */
    if (rc != 0 || mv.state == SB_ORG_MOVE_NONE || strncmp(m->name, "move.", 5) == 0)
        return rc;
    switch (mv.state) {
    case SB_ORG_MOVE_NONE:
        return 0;
    case SB_ORG_MOVE_MOVED:
        return sb_err_set(err, SB_E_MOVED,
                          "The org '%.64s' was moved to %s: send its requests there.", org, mv.to);
    case SB_ORG_MOVE_FROZEN:
        if (!m->writes)
            return 0;
        return sb_err_set(err, SB_E_ORG_MOVING,
                          "The org '%.64s' is being moved; its writes pause for the final "
                          "catch-up: retry in a moment.",
                          org);
    case SB_ORG_MOVE_RECEIVING:
        /* Not here yet for its tenants (the org's own tokens, imported with it): in a cluster
         * the placement may name this shard already, between the switch and the commit, so
         * they are told to retry (a client retries ORG_MOVING), not that their org is gone.
         * The admin may look, not write. */
        if (call->token.role != SB_ROLE_ADMIN)
            return sb_err_set(err, SB_E_ORG_MOVING,
                              "The org '%.64s' is being moved here and serves once the move "
                              "commits: retry in a moment.",
                              org);
        if (!m->writes)
            return 0;
        return sb_err_set(err, SB_E_ORG_MOVING,
                          "The org '%.64s' is being moved here; it takes writes once the move "
                          "commits (move.commit) or is dropped (move.abort).",
                          org);
    }
    return 0;
}

static int pack_page_records(msgpack_packer *pk, const sb_move_page_t *page)
{
    /* Already msgpack: written as it is. */
    return sb_pack_str(pk, "records") |
           pk->callback(pk->data, page->records.data, page->records.size);
}

static int move_export(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    size_t cursor_len = 0;
    const char *cursor = sb_arg_bytes(call, "cursor", &cursor_len);
    sb_move_page_t page;
    int rc = sb_store_org_export(call->svc->store, call->org, (const uint8_t *)cursor, cursor_len,
                                 page_bytes(call), &page, err);
    if (rc != 0)
        return rc;
    rc = msgpack_pack_map(pk, 6) | sb_pack_kv_uint(pk, "seq", page.seq) |
         sb_pack_kv_uint(pk, "org_seq", page.org_seq) | sb_pack_kv_uint(pk, "count", page.n) |
         pack_page_records(pk, &page) | sb_pack_kv_bool(pk, "more", page.more) |
         sb_pack_str(pk, "cursor");
    if (page.more)
        rc |= msgpack_pack_bin(pk, page.cursor_len) |
              msgpack_pack_bin_body(pk, page.cursor, page.cursor_len);
    else
        rc |= msgpack_pack_nil(pk);
    sb_move_page_free(&page);
    return rc == 0 ? 0 : sb_err_default(err, -ENOMEM);
}

static int move_changes(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    int64_t seq = sb_arg_int(call, "seq", 0);
    if (seq < 1 || seq == INT64_MAX)
        return sb_err_set(err, -EINVAL, "seq is 1 or more: the first change not yet brought over.");
    sb_move_page_t page;
    int rc = sb_store_org_changes(call->svc->store, call->org, (uint64_t)seq, page_bytes(call),
                                  &page, err);
    if (rc != 0)
        return rc;
    rc = msgpack_pack_map(pk, 6) | sb_pack_kv_uint(pk, "next", page.next_seq) |
         sb_pack_kv_uint(pk, "last", page.last_seq) | sb_pack_kv_uint(pk, "org_seq", page.org_seq) |
         sb_pack_kv_uint(pk, "count", page.n) | pack_page_records(pk, &page) |
         sb_pack_kv_bool(pk, "more", page.more);
    sb_move_page_free(&page);
    return rc == 0 ? 0 : sb_err_default(err, -ENOMEM);
}

static int pack_state(msgpack_packer *pk, const char *org, sb_org_move_state_t state, size_t extra)
{
    return msgpack_pack_map(pk, 2 + extra) | sb_pack_kv_str(pk, "org", org) |
           sb_pack_kv_str(pk, "state", sb_org_move_state_name(state));
}

static int move_import(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    size_t written = 0;
    int rc = sb_store_org_import(call->svc->store, call->org, sb_arg_obj(call, "records"), &written,
                                 err);
    if (rc != 0)
        return rc;
    return pack_state(pk, call->org, SB_ORG_MOVE_RECEIVING, 1) |
           sb_pack_kv_uint(pk, "written", written);
}

static int move_freeze(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    int rc = sb_store_org_move_set(call->svc->store, call->org, SB_ORG_MOVE_FROZEN, NULL, err);
    return rc != 0 ? rc : pack_state(pk, call->org, SB_ORG_MOVE_FROZEN, 0);
}

static int move_commit(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_org_move_t mv;
    int rc = sb_store_org_move_get(call->svc->store, call->org, &mv, err);
    if (rc == 0 && mv.state != SB_ORG_MOVE_RECEIVING)
        return sb_err_set(err, SB_E_ORG_MOVING,
                          "The org '%s' is %s here, not receiving: nothing to commit.", call->org,
                          sb_org_move_state_name(mv.state));
    int64_t org_seq = sb_arg_int(call, "org_seq", 0);
    if (rc == 0 && org_seq > 0)
        rc = sb_store_org_seq_raise(call->svc->store, call->org, (uint64_t)org_seq, err);
    if (rc == 0)
        rc = sb_store_org_move_set(call->svc->store, call->org, SB_ORG_MOVE_NONE, NULL, err);
    return rc != 0 ? rc : pack_state(pk, call->org, SB_ORG_MOVE_NONE, 0);
}

static int move_done(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const char *to = sb_arg_str(call, "to");
    if (to == NULL || to[0] == '\0')
        return sb_err_set(err, -EINVAL, "to names where the org went (a socket path or a shard).");
    int rc = sb_store_org_move_set(call->svc->store, call->org, SB_ORG_MOVE_MOVED, to, err);
    bool left = false;
    /* Its tokens stay: they authenticate and learn MOVED, and nothing else. */
    if (rc == 0)
        rc = sb_store_org_purge(call->svc->store, call->org, true, MOVE_PURGE_BATCH, &left, err);
    if (rc != 0)
        return rc;
    return pack_state(pk, call->org, SB_ORG_MOVE_MOVED, 2) | sb_pack_kv_str(pk, "to", to) |
           sb_pack_kv_bool(pk, "left", left);
}

static int move_abort(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_store_t *store = call->svc->store;
    sb_org_move_t mv;
    int rc = sb_store_org_move_get(store, call->org, &mv, err);
    if (rc != 0)
        return rc;
    if (mv.state == SB_ORG_MOVE_MOVED)
        return sb_err_set(err, SB_E_MOVED,
                          "The org '%s' was moved to %s already: a committed move is not undone.",
                          call->org, mv.to);
    bool left = mv.state == SB_ORG_MOVE_RECEIVING;
    /* The receiving org goes whole, tokens too: the target is as before. */
    while (rc == 0 && left)
        rc = sb_store_org_purge(store, call->org, false, SB_STORE_BULK_MAX, &left, err);
    if (rc == 0 && mv.state != SB_ORG_MOVE_NONE)
        rc = sb_store_org_move_set(store, call->org, SB_ORG_MOVE_NONE, NULL, err);
    if (rc != 0)
        return rc;
    return pack_state(pk, call->org, SB_ORG_MOVE_NONE, 1) |
           sb_pack_kv_str(pk, "was", sb_org_move_state_name(mv.state));
}

/* What move.digest answers (call->prep): computed on the pool. */
typedef struct digest {
    char hex[2 * SB_MOVE_DIGEST_BYTES + 1];
    uint64_t records;
    sb_org_move_t mv;
} digest_t;

static int prepare_digest(sb_call_t *call, sb_err_t *err)
{
    digest_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return sb_err_default(err, -ENOMEM);
    const char *org = sb_arg_str(call, "org");
    uint8_t raw[SB_MOVE_DIGEST_BYTES];
    int rc = org == NULL ? sb_err_default(err, -ENOMEM)
                         : sb_store_org_digest(call->svc->store, org, raw, &d->records, err);
    if (rc == 0)
        rc = sb_store_org_move_get(call->svc->store, org, &d->mv, err);
    if (rc != 0) {
        free(d);
        return rc;
    }
    sodium_bin2hex(d->hex, sizeof(d->hex), raw, sizeof(raw));
    call->prep = d;
    call->prep_free = free;
    return 0;
}

static int move_digest(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const digest_t *d = call->prep;
    if (d == NULL)
        return sb_err_default(err, -EINVAL);
    return pack_state(pk, call->org, d->mv.state, 3) | sb_pack_kv_str(pk, "to", d->mv.to) |
           sb_pack_kv_str(pk, "digest", d->hex) | sb_pack_kv_uint(pk, "records", d->records);
}

#define RECORDS_DOC                                                                                \
    "records: [[db, key suffix (bytes after the org's prefix), [values] (none: the key is gone; "  \
    "nil: every key under the suffix is gone)]]"

static const sb_method_t methods[] = {
    {"move.export",
     "Moving an org, source: one page of the org's records from one read snapshot; the first "
     "page's seq is where move.changes starts. (sbctl org move runs the whole move.)",
     SB_ROLE_ADMIN,
     false,
     true,
     move_export,
     {SB_ARG_ORG, {"cursor", SB_ARG_BYTES, false, "the previous page's cursor (none: the start)"}},
     "{seq: the change-log sequence of the snapshot, org_seq: the org's last own number, "
     "count, " RECORDS_DOC ", more: bool, cursor: the next page's, or nil}",
     "INVALID_ARGUMENT INVALID_ID"},
    {"move.changes",
     "Moving an org, source: the org's keys that the change-log entries from seq on touched, with "
     "their current values, whole entries to a page.",
     SB_ROLE_ADMIN,
     false,
     true,
     move_changes,
     {SB_ARG_ORG,
      {"seq", SB_ARG_INTEGER, true,
       "the first entry to read: the export's seq + 1, "
       "then the previous page's next"}},
     "{next: the seq the next page starts at, last: the log's last seq, org_seq, "
     "count, " RECORDS_DOC ", more: bool}",
     "CHANGES_TRIMMED (start the move again) INVALID_ARGUMENT"},
    {"move.import",
     "Moving an org, target: writes a page of records (through the log). The first makes the org "
     "'receiving': its own tokens get ORG_MOVING (retry) and the admin's writes too, until "
     "move.commit.",
     SB_ROLE_ADMIN,
     true,
     true,
     move_import,
     {SB_ARG_ORG, {"records", SB_ARG_ARRAY, true, "a page's records, as move.export gives them"}},
     "{org, state: receiving, written: records written}",
     "ALREADY_EXISTS (the org is here and not receiving) INVALID_ARGUMENT PERMISSION_DENIED"},
    {"move.freeze",
     "Moving an org, source: its writes answer ORG_MOVING from now on; reads go on.",
     SB_ROLE_ADMIN,
     true,
     true,
     move_freeze,
     {SB_ARG_ORG},
     "{org, state: frozen}",
     "NOT_FOUND ORG_MOVING"},
    {"move.commit",
     "Moving an org, target: the receiving org serves (its numbering raised to the source's).",
     SB_ROLE_ADMIN,
     true,
     true,
     move_commit,
     {SB_ARG_ORG,
      {"org_seq", SB_ARG_INTEGER, false, "the source's last number of the org's writes"}},
     "{org, state: none}",
     "ORG_MOVING (not receiving)"},
    {"move.done",
     "Moving an org, source, after the target's commit: every request for the org answers MOVED "
     "naming `to` from now on, and its records (not its tokens) are deleted through the log, a "
     "batch per call: call it again while left is true.",
     SB_ROLE_ADMIN,
     true,
     true,
     move_done,
     {SB_ARG_ORG, {"to", SB_ARG_STRING, true, "where it went: the target's socket or shard"}},
     "{org, state: moved, to, left: bool (records remain: call again)}",
     "ORG_MOVING (not frozen) INVALID_ARGUMENT"},
    {"move.abort",
     "Moving an org, either side, before the commit: a frozen org serves again; a receiving org "
     "is deleted with all its records and tokens.",
     SB_ROLE_ADMIN,
     true,
     true,
     move_abort,
     {SB_ARG_ORG},
     "{org, state: none, was: what it was}",
     "MOVED (committed already)"},
    {"move.digest",
     "BLAKE2b-256 over the org's records in a canonical order: equal on two servers when the "
     "org's data is; and the org's move state here.",
     SB_ROLE_ADMIN,
     false,
     true,
     move_digest,
     {SB_ARG_ORG},
     "{org, state: none | receiving | frozen | moved, to, digest: hex, records: how many}",
     "INVALID_ID"},
};

const sb_method_slice_t sb__move_methods = {methods, sizeof(methods) / sizeof(methods[0])};

static const sb_method_prep_t preps[] = {
    {"move.digest", prepare_digest},
};

const sb_method_prep_slice_t sb__move_preps = {preps, sizeof(preps) / sizeof(preps[0])};
