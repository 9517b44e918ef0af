#pragma once
/*
 * The store: orgs, Call Centers, users and memberships in one LMDB
 * environment per data directory.
 *
 * Every write runs in one LMDB write transaction that checks every invariant
 * before it changes anything, so a refused write (or a refused batch) leaves
 * the store exactly as it was. Keys start with the org, so that no scan can
 * cross tenants. Nothing above this module sees an LMDB type or code: errors
 * are the codes of error.h, with a sentence in the sb_err_t.
 *
 * Threads: write functions may be called from any one thread at a time (LMDB
 * serializes writers); read functions use one cached read transaction and
 * must be called from one thread at a time. A writer and a reader may run
 * concurrently.
 *
 * Ownership: every string argument is [borrowed: for the call]. Results are
 * copied into caller storage or returned [owned] as stated on each function.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "callcenter.h"
#include "error.h"
#include "layout.h"
#include "records.h"
#include "sfid.h"
#include "softphone_view.h"
#include "voicecall.h"

/** The schema versions this build reads; it writes SB_STORE_SCHEMA_VERSION. */
#define SB_STORE_SCHEMA_MIN 1
/* 2: user_cc holds the profile; softphone views; 3: changes; 4: every value carries a checksum */
#define SB_STORE_SCHEMA_VERSION 4

#define SB_STORE_PAGE_MAX 1000   /* rows one list call returns at most */
#define SB_STORE_BULK_MAX 100000 /* rows one bulk call takes at most */

typedef struct sb_store sb_store_t;

typedef enum sb_durability {
    /* Every acknowledged write is on disk (fsync at commit). The default. */
    SB_DURABILITY_FULL = 0,
    /* No fsync: a crash of the machine (not of the process) may lose the
     * latest writes. For bulk loads, tests and benchmarks only. */
    SB_DURABILITY_NONE = 1,
} sb_durability_t;

typedef struct sb_store_opts {
    const char *dir;          /* the data directory; created (mode 0700) if missing */
    size_t initial_map_bytes; /* 0: SB_STORE_DEFAULT_INITIAL_MAP */
    size_t max_map_bytes;     /* 0: SB_STORE_DEFAULT_MAX_MAP; the map never grows past it */
    sb_durability_t durability;
} sb_store_opts_t;

#define SB_STORE_DEFAULT_INITIAL_MAP ((size_t)64 << 20) /* 64 MiB */
#define SB_STORE_DEFAULT_MAX_MAP ((size_t)64 << 30)     /* 64 GiB of address space, not disk */

/** Counts for server.info and the tools. */
typedef struct sb_store_stats {
    uint64_t orgs, callcenters, users, members;
    uint64_t map_bytes;     /* the current map size */
    uint64_t max_map_bytes; /* the configured maximum */
    uint64_t used_bytes;    /* pages in use, in bytes */
    uint32_t schema_version;
} sb_store_stats_t;

/** A row of sb_store_cc_list. */
typedef struct sb_cc_summary {
    sb_sfid_t id;
    char internal_name[SB_CC_INTERNAL_NAME_MAX + 1];
    char display_name[SB_CC_DISPLAY_NAME_MAX * 4 + 1]; /* UTF-8: up to 4 bytes a character */
    char adapter[SB_CC_ADAPTER_NAME_MAX + 1];
    uint64_t members;
} sb_cc_summary_t;

/** A row of sb_store_member_add_bulk: put `user` in `callcenter`. [borrowed strings] */
typedef struct sb_member_assignment {
    const char *user;
    const char *callcenter;
} sb_member_assignment_t;

/* ---- lifecycle ------------------------------------------------------- */

/**
 * Opens (creating if needed) the store in opts->dir and takes the directory's
 * writer lock. A fresh directory gets the current schema; a newer schema is
 * refused with SB_E_SCHEMA_TOO_NEW; stale reader slots left by dead processes
 * are cleared. Errors: SB_E_STORE_LOCKED (another process writes there),
 * SB_E_SCHEMA_TOO_NEW, SB_E_CORRUPT, -EACCES, -ENOMEM, -EIO.
 * On success *out is [owned: close with sb_store_close()]; on failure NULL.
 */
int sb_store_open(const sb_store_opts_t *opts, sb_store_t **out, sb_err_t *err);

/** Closes the store and releases its lock; NULL does nothing. */
void sb_store_close(sb_store_t *store);

/** The data directory the store was opened in. [borrowed: until close] */
const char *sb_store_dir(const sb_store_t *store);

/* ---- group commit ---------------------------------------------------- */

/**
 * Opens a write batch: until sb_store_batch_commit or _abort, every write
 * call made by this thread runs in a nested transaction of one shared write
 * transaction, so that many writes are made durable by one commit. A write
 * that fails inside the batch undoes its own changes only.
 *
 * A write that finds the map full inside a batch fails with -ENOSPC: the
 * owner aborts the batch, calls sb_store_grow, and replays it (or, when the
 * map cannot grow, runs each write alone to give each its own answer).
 * Other threads' writes wait for the batch to end. Reads by the batch's own
 * thread see the batch's writes; other threads' reads see the last commit.
 */
int sb_store_batch_begin(sb_store_t *store, sb_err_t *err);
/** Commits the batch (durably, unless opened with SB_DURABILITY_NONE). */
int sb_store_batch_commit(sb_store_t *store, sb_err_t *err);
/** Drops the batch and everything written in it; no batch open does nothing. */
void sb_store_batch_abort(sb_store_t *store);
/** Doubles the map up to its maximum; -ENOSPC (STORE_FULL) at the maximum. No batch may be open. */
int sb_store_grow(sb_store_t *store, sb_err_t *err);

/**
 * Commits one small write of the store's own (a counter in its meta
 * database), so that pages freed by the last commit become reusable: LMDB
 * hands out the pages a transaction freed only once a later transaction has
 * committed. The writer calls it when a write finds the map full at its
 * maximum, before it refuses with STORE_FULL. No batch may be open.
 * Returns 0, -ENOSPC when even this write does not fit, or the store's error.
 */
int sb_store_reclaim(sb_store_t *store, sb_err_t *err);

/* ---- the change log (store/changes.c; docs/store.md) ---------------------
 *
 * Every committed write transaction that changed a record (a batch, or a
 * write outside one) is stored with the next sequence number in the same
 * transaction: entry = msgpack [format, seq, time ms, [write...]], write =
 * {time, token, org, method, changes: [[op, db, key, value]...]}.
 */
#define SB_CHANGES_FORMAT 1

/** Who makes the writes that follow (never a token's secret). Strings are copied. */
typedef struct sb_store_who {
    const char *token_id; /* the token's public id; "" or NULL: the server's own */
    const char *org;      /* the org the write is for; "" for server-wide */
    const char *method;   /* e.g. "user.upsert" */
} sb_store_who_t;

/**
 * Starts the record of one write (one job) in the open batch: the changes
 * made until sb_store_change_end are attributed to `who`. Writes outside
 * these calls are logged with empty who. Does nothing outside a batch.
 */
void sb_store_change_begin(sb_store_t *store, const sb_store_who_t *who);
/** Ends the write's record: with rc 0 it is logged even if it changed nothing. */
void sb_store_change_end(sb_store_t *store, int rc);
/** The sequence the open batch commits as (0 when none is open). Batch thread. */
uint64_t sb_store_batch_seq(const sb_store_t *store);

/** The first and last sequence kept (0, 0: none yet; first 0 and last n: all trimmed). */
int sb_store_changes_range(sb_store_t *store, uint64_t *first, uint64_t *last, sb_err_t *err);
/** A copy of entry `seq`. *entry [owned: free()]. -ENOENT when not kept. */
int sb_store_changes_get(sb_store_t *store, uint64_t seq, void **entry, size_t *len, sb_err_t *err);
/**
 * Deletes the oldest entries while more than `keep` are kept (0: no bound)
 * or the oldest is older than `keep_ms` (0: no bound), at most `max` of them,
 * in one transaction of its own. *trimmed is how many. No batch may be open.
 */
int sb_store_changes_trim(sb_store_t *store, uint64_t keep, int64_t keep_ms, size_t max,
                          size_t *trimmed, sb_err_t *err);
/**
 * Applies an entry's physical changes in one transaction, and keeps the
 * entry under its sequence (a replica's log equals the primary's). Refuses
 * an entry not after the last applied with -EINVAL, a malformed one with
 * SB_E_CORRUPT. No business rule runs.
 */
int sb_store_changes_apply(sb_store_t *store, const void *entry, size_t len, sb_err_t *err);

/** What sb_store_dry_run runs: a function of the batch's thread. */
typedef int (*sb_dry_run_fn)(void *ctx, sb_err_t *err);

/**
 * Runs fn inside the open batch, in a nested transaction that is always
 * dropped: fn's writes check every rule the store has (and see what the
 * batch wrote so far), then nothing of them stays. For dry runs of bulk
 * writes. Returns fn's result; -EINVAL when this thread holds no batch.
 */
int sb_store_dry_run(sb_store_t *store, sb_dry_run_fn fn, void *ctx, sb_err_t *err);

/**
 * Frees the reader slots of processes that died holding them (a reader
 * killed mid-check, e.g. of libswitchboard-index), so that their old
 * snapshots stop pinning pages. Returns how many were freed.
 */
int sb_store_readers_check(sb_store_t *store);

/** Fills *stats. Returns 0 or an error. */
int sb_store_stats(sb_store_t *store, sb_store_stats_t *stats, sb_err_t *err);

/* ---- orgs ------------------------------------------------------------ */

/** Creates org `id` named `name` (NULL or "": the id). -EEXIST when it exists. */
int sb_store_org_create(sb_store_t *store, const char *id, const char *name, sb_err_t *err);
/** Copies org `id` into *out. -ENOENT when it does not exist. */
int sb_store_org_get(sb_store_t *store, const char *id, sb_org_t *out, sb_err_t *err);
/**
 * Lists up to `limit` (1..SB_STORE_PAGE_MAX) orgs whose id sorts after
 * `after` (NULL: from the start). *rows is [owned: free()] (NULL when *n is 0);
 * *more says whether a further page exists.
 */
int sb_store_org_list(sb_store_t *store, const char *after, size_t limit, sb_org_t **rows,
                      size_t *n, bool *more, sb_err_t *err);
/**
 * Deletes org `id`. Refused with SB_E_ORG_NOT_EMPTY while it has Call Centers,
 * unless `force`, which removes every record of that org and nothing else.
 */
int sb_store_org_delete(sb_store_t *store, const char *id, bool force, sb_err_t *err);

/* ---- Call Centers ------------------------------------------------------ */

/**
 * Creates a Call Center in `org` from the definition `def` (its id and times
 * are ignored): validated, internal name unique in the org (case-insensitive),
 * a new 04v id assigned. On success *out (may be NULL) is the stored record
 * [owned: sb_callcenter_free()].
 */
int sb_store_cc_create(sb_store_t *store, const char *org, const sb_callcenter_t *def,
                       sb_callcenter_t **out, sb_err_t *err);
/** Gets Call Center `id` (15 or 18 characters). *out [owned: sb_callcenter_free()]. */
int sb_store_cc_get(sb_store_t *store, const char *org, const char *id, sb_callcenter_t **out,
                    sb_err_t *err);
/** Gets a Call Center by internal name (case-insensitive). */
int sb_store_cc_get_by_name(sb_store_t *store, const char *org, const char *internal_name,
                            sb_callcenter_t **out, sb_err_t *err);
/** Lists Call Centers by id after `after` (NULL: from the start); see sb_store_org_list. */
int sb_store_cc_list(sb_store_t *store, const char *org, const char *after, size_t limit,
                     sb_cc_summary_t **rows, size_t *n, bool *more, sb_err_t *err);
/**
 * Changes values of existing fields (see sb_callcenter_apply) and, when
 * `adapter` is not NULL, the adapter name. All or nothing. *out (may be NULL)
 * is the updated record [owned].
 */
int sb_store_cc_update(sb_store_t *store, const char *org, const char *id,
                       const sb_cc_change_t *changes, size_t n_changes, const char *adapter,
                       sb_callcenter_t **out, sb_err_t *err);
/**
 * Creates a Call Center with the same adapter, sections and items as `id`,
 * under `internal_name` and, when not NULL, `display_name`. Members are not
 * copied. *out (may be NULL) is the new record [owned].
 */
int sb_store_cc_clone(sb_store_t *store, const char *org, const char *id, const char *internal_name,
                      const char *display_name, sb_callcenter_t **out, sb_err_t *err);
/**
 * Deletes Call Center `id`. Refused with SB_E_CALLCENTER_HAS_MEMBERS while it
 * has members, unless `force`, which removes its memberships too.
 */
int sb_store_cc_delete(sb_store_t *store, const char *org, const char *id, bool force,
                       sb_err_t *err);

/* ---- users ----------------------------------------------------------- */

/** Creates or replaces user `user->id` (15 or 18 characters, prefix 005). */
int sb_store_user_upsert(sb_store_t *store, const char *org, const sb_user_t *user, sb_err_t *err);
/** Upserts `n` users (1..SB_STORE_BULK_MAX) atomically: one bad row and none is written. */
int sb_store_user_upsert_bulk(sb_store_t *store, const char *org, const sb_user_t *users, size_t n,
                              sb_err_t *err);
int sb_store_user_get(sb_store_t *store, const char *org, const char *id, sb_user_t *out,
                      sb_err_t *err);
/** Lists users by id after `after`; see sb_store_org_list. */
int sb_store_user_list(sb_store_t *store, const char *org, const char *after, size_t limit,
                       sb_user_t **rows, size_t *n, bool *more, sb_err_t *err);

/* ---- membership -------------------------------------------------------- */

/**
 * Makes `user` a member of Call Center `cc`. A user belongs to at most one
 * Call Center in an org: when the user belongs to another one the call is
 * refused with SB_E_ALREADY_MEMBER naming it, unless `move`, which moves the
 * user atomically. Adding a user to the Call Center it is in already succeeds
 * and changes nothing. *previous (may be NULL) receives the Call Center the
 * user left, or an empty id.
 */
int sb_store_member_add(sb_store_t *store, const char *org, const char *cc, const char *user,
                        bool move, sb_sfid_t *previous, sb_err_t *err);
/** Removes `user` from `cc`; SB_E_NOT_A_MEMBER when the user is not in it. */
int sb_store_member_remove(sb_store_t *store, const char *org, const char *cc, const char *user,
                           sb_err_t *err);
/**
 * Applies `n` assignments (1..SB_STORE_BULK_MAX) atomically, each as
 * sb_store_member_add with `move`: one refused row and nothing changes; the
 * error names the row (counting from 1).
 */
int sb_store_member_add_bulk(sb_store_t *store, const char *org, const sb_member_assignment_t *rows,
                             size_t n, bool move, sb_err_t *err);
/**
 * Lists the members of `cc` by user id after `after` (NULL: from the start);
 * *total is the Call Center's member count. *rows [owned: free()].
 */
int sb_store_member_list(sb_store_t *store, const char *org, const char *cc, const char *after,
                         size_t limit, sb_sfid_t **rows, size_t *n, bool *more, uint64_t *total,
                         sb_err_t *err);
/**
 * The Call Center of `user`: 0 and *cc set; -ENOENT when the user does not
 * exist; SB_E_NOT_A_MEMBER when the user exists but belongs to none.
 */
int sb_store_member_lookup(sb_store_t *store, const char *org, const char *user, sb_sfid_t *cc,
                           sb_err_t *err);

/* ---- softphone layouts ------------------------------------------------ */

/**
 * Creates or replaces layout `layout->name` of `org` (parsed and checked by
 * layout.c); `make_default` also makes it the org's default. Every softphone
 * view of the org is recomputed in the same transaction.
 */
int sb_store_layout_put(sb_store_t *store, const char *org, const sb_layout_t *layout,
                        bool make_default, sb_err_t *err);
int sb_store_layout_get(sb_store_t *store, const char *org, const char *name, sb_layout_t *out,
                        sb_err_t *err);
/** A row of sb_store_layout_list: a layout and where it applies. */
typedef struct sb_layout_summary {
    char name[SB_LAYOUT_NAME_MAX + 1];
    bool is_default;
    size_t profiles; /* profiles it is assigned to */
} sb_layout_summary_t;
/** Every layout of `org`, by name (an org has few). *rows [owned: free()]. */
int sb_store_layout_list(sb_store_t *store, const char *org, sb_layout_summary_t **rows, size_t *n,
                         sb_err_t *err);
/** A profile and its layout; profile "" is the default. */
typedef struct sb_layout_assignment {
    char profile[SB_PROFILE_NAME_MAX + 1];
    char layout[SB_LAYOUT_NAME_MAX + 1];
} sb_layout_assignment_t;
/** Every assignment of `org`, by profile; the default first. *rows [owned: free()]. */
int sb_store_layout_assignments(sb_store_t *store, const char *org, sb_layout_assignment_t **rows,
                                size_t *n, sb_err_t *err);
/**
 * Assigns layout `layout` to `profile` ("" or NULL: makes it the default);
 * `layout` NULL removes the profile's assignment (its users get the default).
 */
int sb_store_layout_assign(sb_store_t *store, const char *org, const char *profile,
                           const char *layout, sb_err_t *err);
/**
 * Deletes layout `name`. Refused with SB_E_LAYOUT_IN_USE while it is assigned
 * (naming where), unless `force`, which removes its assignments too.
 */
int sb_store_layout_delete(sb_store_t *store, const char *org, const char *name, bool force,
                           sb_err_t *err);

/* ---- the softphone check ----------------------------------------------- */

/** What the adapter makes of a Call Center's softphone; see sb_store_set_renderer. */
typedef struct sb_view_render {
    bool loaded;                       /* the adapter is loaded (prefilled: true) */
    bool refused;                      /* the adapter could not render it; detail says why */
    char adapter_url[SB_VIEW_URL_MAX]; /* prefilled: the stored adapter URL */
    char detail[512];
} sb_view_render_t;
typedef void (*sb_store_renderer_fn)(void *ctx, const char *org, const sb_callcenter_t *cc,
                                     sb_view_render_t *out);

/**
 * Sets the function that renders the adapter's part of a softphone view,
 * called inside write transactions for Call Centers that name an adapter.
 * Without one, a view takes the stored adapter URL as it is.
 */
void sb_store_set_renderer(sb_store_t *store, sb_store_renderer_fn fn, void *ctx);

/** Recomputes every softphone view of `org` (NULL: of every org), e.g. after the adapters changed.
 */
int sb_store_views_refresh(sb_store_t *store, const char *org, sb_err_t *err);

/** The softphone check's answer. */
typedef struct sb_softphone_answer {
    sb_softphone_reason_t reason;
    char user[SB_SFID_LEN + 1];            /* normalized when valid, else as given (truncated) */
    char profile[SB_PROFILE_NAME_MAX + 1]; /* members only */
    char message[768];                     /* what it means and what to do */
    sb_softphone_view_t view;              /* members: their Call Center's view */
    void *blob;                            /* [owned] what view points into; NULL: no view */
    char adapter_url[SB_VIEW_URL_MAX];     /* rendered for this user */
} sb_softphone_answer_t;

/**
 * Does `user` of `org` see a softphone? Two look-ups: the membership, then
 * the view (sb_softphone_check_txn, softphone_check.h, over the cached read
 * transaction: the same function the read library calls). Returns 0 with the
 * answer in *out (a user without a softphone is an answer, not an error), or
 * -ENOENT when the org does not exist. Release with
 * sb_softphone_answer_destroy().
 */
int sb_store_softphone_check(sb_store_t *store, const char *org, const char *user,
                             sb_softphone_answer_t *out, sb_err_t *err);
void sb_softphone_answer_destroy(sb_softphone_answer_t *answer);

/* ---- contacts and voice calls ------------------------------------------ */

/** Upserts `n` contacts (already normalized: E.164 numbers) atomically. */
int sb_store_contact_upsert_bulk(sb_store_t *store, const char *org, const sb_contact_t *rows,
                                 size_t n, sb_err_t *err);
int sb_store_contact_get(sb_store_t *store, const char *org, const char *id, sb_contact_t *out,
                         sb_err_t *err);
/** Lists contacts by id after `after`; see sb_store_org_list. */
int sb_store_contact_list(sb_store_t *store, const char *org, const char *after, size_t limit,
                          sb_contact_t **rows, size_t *n, bool *more, sb_err_t *err);

/**
 * Applies one event to the voice call of (Call Center `cc`, the event's
 * vendor call key), creating it on its first event. *out (may be NULL) is
 * the call as written [owned: sb_voicecall_free()]; *created (may be NULL)
 * says whether this event created it.
 */
int sb_store_call_event(sb_store_t *store, const char *org, const sb_sfid_t *cc,
                        const sb_call_event_t *ev, sb_voicecall_t **out, bool *created,
                        sb_err_t *err);
/** Voice call `id` (prefix 0LQ). *out [owned: sb_voicecall_free()]. */
int sb_store_voicecall_get(sb_store_t *store, const char *org, const char *id, sb_voicecall_t **out,
                           sb_err_t *err);
/** Which voice calls voicecall.list returns; NULL or 0 fields do not filter. */
typedef struct sb_voicecall_filter {
    const char *user;           /* 18-character id */
    const char *callcenter;     /* 18-character id */
    int64_t since_ms, until_ms; /* start time in [since, until) */
    const char *after;          /* the last id of the previous page */
} sb_voicecall_filter_t;
/* What one voicecall.list examines at most, filtered out or not: the scan
 * runs on the event loop, and a filter that matches nothing would otherwise
 * decode every call of the org (300,000 calls held the loop 0.43 s a request). */
#define SB_VOICECALL_SCAN_ROWS 10000
#define SB_VOICECALL_SCAN_BYTES (8u << 20) /* stored bytes; one call is examined anyway */
/**
 * Up to `limit` voice calls in creation order. *rows: an array of [owned]
 * calls, itself free(). The scan stops early at SB_VOICECALL_SCAN_ROWS or
 * SB_VOICECALL_SCAN_BYTES examined: then *more is true and `resume` holds the
 * last id examined (the `after` of the next page); otherwise resume->s is "".
 */
int sb_store_voicecall_list(sb_store_t *store, const char *org, const sb_voicecall_filter_t *f,
                            size_t limit, sb_voicecall_t ***rows, size_t *n, bool *more,
                            sb_sfid_t *resume, sb_err_t *err);
/** Packs a voice call as the protocol shows it. */
int sb_voicecall_pack(msgpack_packer *pk, const sb_voicecall_t *call);

/* ---- access tokens ----------------------------------------------------- */

/**
 * Stores `rec` under `hash`. An org-scoped token's org must exist (-ENOENT).
 * Replaces a record with the same hash.
 */
int sb_store_token_put(sb_store_t *store, const uint8_t hash[SB_TOKEN_HASH_BYTES],
                       const sb_token_record_t *rec, sb_err_t *err);
/** Finds the record of `hash`: 0, or -ENOENT. */
int sb_store_token_find(sb_store_t *store, const uint8_t hash[SB_TOKEN_HASH_BYTES],
                        sb_token_record_t *out, sb_err_t *err);
/** Every token record (there are few), ordered by hash. *rows [owned: free()]. */
int sb_store_token_list(sb_store_t *store, sb_token_record_t **rows, size_t *n, sb_err_t *err);
/** Deletes the token with id `id`: 0, or -ENOENT. */
int sb_store_token_revoke(sb_store_t *store, const char *id, sb_err_t *err);
/** Deletes every token of role `role` except the one of `keep` (may be NULL). */
int sb_store_token_revoke_role(sb_store_t *store, sb_role_t role,
                               const uint8_t keep[SB_TOKEN_HASH_BYTES], sb_err_t *err);
