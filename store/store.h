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
#include "rules.h"
#include "sfid.h"
#include "softphone_view.h"
#include "voicecall.h"

/** The schema versions this build reads; it writes SB_STORE_SCHEMA_VERSION. */
#define SB_STORE_SCHEMA_MIN 1
/* 2: user_cc holds the profile; softphone views; 3: changes; 4: every value carries a checksum;
 * 5: org numbers (org_ids) and compact membership keys */
#define SB_STORE_SCHEMA_VERSION 5

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

/**
 * Gives the calling thread a cached read transaction of its own (the thread
 * that opened the store has one already): its reads renew it instead of
 * beginning and aborting a transaction each, and keep their own memo of the
 * views already checked. For a long-lived thread that reads often (an event
 * loop past the first); call it on that thread, before its first read, and
 * end the thread's use of the store before sb_store_close. Again on the same
 * thread: nothing. Errors: -ENOMEM, -ENOSPC (too many threads already; the
 * thread's reads still work, each in a transaction of its own).
 */
int sb_store_reader_attach(sb_store_t *store, sb_err_t *err);

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
 * {time, token, org, method, org_seq (an org's write), ids (the record ids it
 * touched), changes: [[op, db, key, value]...]}; org_seq and ids are absent
 * from entries written before them.
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

/**
 * Called with each change-log entry as its transaction is about to commit,
 * by the committing thread, with the store's write lock held (so entries come
 * in sequence order): a shard's primary publishes it (server/cluster.c). A
 * non-zero result aborts the transaction and is the write's result; nothing
 * of it is stored. `entry` [borrowed: for the call].
 */
typedef int (*sb_store_publish_fn)(void *ctx, uint64_t seq, const void *entry, size_t len);
/** Sets (or, fn NULL, clears) the publish hook. Before any write is made by another thread. */
void sb_store_set_publish(sb_store_t *store, sb_store_publish_fn fn, void *ctx);

/** The greatest id space: two base-62 digits (62 * 62 - 1). */
#define SB_STORE_ID_SPACE_MAX 3843

/**
 * The shard's number, put into every id minted from now on (the last two
 * base-62 digits of the id's random part), so that ids minted on two
 * shards of a cluster never collide (docs/cluster.md). 0, the default, is a
 * standalone store: the random part is all random, as before. Any thread.
 * -EINVAL for a number past SB_STORE_ID_SPACE_MAX.
 */
int sb_store_set_id_space(sb_store_t *store, unsigned number);

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
/**
 * Applies `n` entries, in order, in one transaction (one commit, one sync):
 * each is kept under its sequence as by sb_store_changes_apply, and all or
 * none of them are. A replica catching up applies what its stream has
 * ready this way. entries[i], lens[i] [borrowed: for the call].
 */
int sb_store_changes_apply_many(sb_store_t *store, const void *const *entries, const size_t *lens,
                                size_t n, sb_err_t *err);

/**
 * The org numbering (changes_org): each org's writes have the org's own
 * strictly increasing number, org_seq, chosen in the write's transaction.
 * An org's token sees only these: the global sequence's pace is every org's
 * write volume. sb_store_change_org_seq is the org_seq of the write that
 * sb_store_change_end just ended (0: not an org's, or not logged). Batch thread.
 */
uint64_t sb_store_change_org_seq(const sb_store_t *store);
/**
 * The org's last org_seq (0 when none): the last committed, or, called by
 * the thread of an open write batch, counting the batch's writes so far.
 */
int sb_store_org_seq(sb_store_t *store, const char *org, uint64_t *last, sb_err_t *err);
/** The org's first org_seq still kept (0: none kept) and its last (0: none yet). */
int sb_store_org_seq_range(sb_store_t *store, const char *org, uint64_t *first, uint64_t *last,
                           sb_err_t *err);

/** One write of the log as a scan hands it out. [borrowed: for the visit] */
typedef struct sb_change_write {
    uint64_t seq;                /* its entry's sequence */
    uint64_t org_seq;            /* its org's number; 0: none (a server-wide write) */
    const msgpack_object *write; /* {time, token, org, method, [org_seq], [ids], changes} */
} sb_change_write_t;

/**
 * Called for each write; returns 0 to go on, 1 to stop before this write
 * (the page is full: the next scan's `from` is its number), or an error.
 * Scanning every org's log, it may stop only at an entry's first write.
 */
typedef int (*sb_change_visit_fn)(void *ctx, const sb_change_write_t *w);

/** What sb_store_changes_scan visits. */
typedef struct sb_changes_scan {
    const char *org;  /* NULL: every org's writes, by seq; else the org's, by org_seq */
    uint64_t from;    /* the first number visited (the last, when descending) */
    bool descending;  /* newest first */
    size_t max_rows;  /* writes (org) or entries (every org) examined at most */
    size_t max_bytes; /* stored entry bytes read at most (one entry is read anyway) */
} sb_changes_scan_t;

/**
 * Visits the log's writes in one read transaction, from `from` on, until fn
 * stops it, the bounds are reached, or the log ends. *next is the `from` of
 * the next scan (the number past the last examined, or of the write fn
 * stopped at), *more whether rows may follow.
 * Returns 0, fn's error, or the store's.
 */
int sb_store_changes_scan(sb_store_t *store, const sb_changes_scan_t *scan, sb_change_visit_fn fn,
                          void *ctx, uint64_t *next, bool *more, sb_err_t *err);

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

/* ---- verify (store/verify.c) ------------------------------------------- */

/** The problems a verify report keeps by default; the rest are only counted. */
#define SB_VERIFY_DEFAULT_MAX 100

/** One problem verify found: where, what, and what to do about it. */
typedef struct sb_verify_problem {
    char db[16];       /* the LMDB database, e.g. "user_cc" */
    char key[160];     /* the key, printable: org/id, other bytes as \xNN */
    char problem[256]; /* what is wrong */
    char fix[256];     /* what to do */
} sb_verify_problem_t;

typedef struct sb_verify_report {
    sb_verify_problem_t *problems; /* [owned: sb_verify_report_destroy()] the first `max` */
    size_t n, max;
    uint64_t total;    /* problems found, kept or not */
    uint64_t records;  /* records examined */
    uint64_t last_seq; /* the change log's last sequence in the snapshot */
} sb_verify_report_t;

/**
 * Checks every record of the store in one read snapshot: each value decodes;
 * memberships (user_cc) and the reverse index (cc_members) agree, so member
 * counts match; each membership has its user, its Call Center and its
 * softphone view; every key's org exists; every reference (cc_names,
 * layout_of, phones, call_keys, a record's own id) stays inside the key's
 * org; the change log's entries decode, carry their key's sequence and none
 * is past meta changes_last. Keeps the first `max_problems` (0: the
 * default) in *out and counts the rest. Returns 0 whether or not problems
 * were found (out->total says), or an error when the walk could not run.
 * Any thread; the thread that opened the store uses its cached transaction.
 */
int sb_store_verify(sb_store_t *store, size_t max_problems, sb_verify_report_t *out, sb_err_t *err);
/** Frees the problems of a report; a zeroed report does nothing. */
void sb_verify_report_destroy(sb_verify_report_t *report);
/** The map and reader slots, for the server's metrics (no transaction: cheap). */
typedef struct sb_store_usage {
    uint64_t used_bytes;    /* pages in use, in bytes */
    uint64_t map_bytes;     /* the current map size */
    uint64_t max_map_bytes; /* the configured maximum */
    unsigned readers;       /* reader slots taken (this process's and others') */
    unsigned max_readers;   /* reader slots in the lock file */
} sb_store_usage_t;

/** Fills *usage (zeroes when LMDB cannot say). */
void sb_store_usage(sb_store_t *store, sb_store_usage_t *usage);

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
 * Gives (scv_licence true) or takes back the "Service Cloud Voice" permission
 * set licence of `n` users (1..SB_STORE_BULK_MAX) atomically: one unknown
 * user and nothing changes (the error names the row, from 1). A member's
 * softphone check reads it at once.
 */
int sb_store_licence_assign(sb_store_t *store, const char *org, const char *const *users, size_t n,
                            bool scv_licence, sb_err_t *err);

/* ---- assignment rules (store/rules.c; core/rules.h) ---------------------- */

#define SB_RULES_USERS_MAX 200000   /* users of an org a plan reads */
#define SB_RULES_APPLY_MAX 100000   /* changes one apply makes */
#define SB_RULES_FINGERPRINT_LEN 32 /* hex characters */
#define SB_RULES_EXAMPLES 5         /* users a plan names that no rule matches */

typedef enum sb_rules_change_kind {
    SB_RULES_ADD = 0, /* the user belongs to no Call Center yet */
    SB_RULES_MOVE,    /* from one Call Center to another */
    SB_RULES_REMOVE,  /* out of its Call Center (a rule's target is none) */
} sb_rules_change_kind_t;

typedef struct sb_rules_change {
    sb_sfid_t user, from, to; /* from, to: "" for none */
    uint32_t rule;            /* the rule that decides, an index into the plan's rules */
    sb_rules_change_kind_t kind;
} sb_rules_change_t;

typedef struct sb_rules_conflict {
    sb_sfid_t user;
    uint32_t rules[2]; /* the first two exclusive rules that match */
} sb_rules_conflict_t;

/** What applying an org's rules would change, and what it was computed from. */
typedef struct sb_rules_plan {
    sb_rules_t rules; /* the rules it applies [owned] */
    char fingerprint[SB_RULES_FINGERPRINT_LEN + 1];
    uint64_t users, unchanged, unmatched, adds, moves, removes;
    sb_rules_change_t *changes; /* in user id order [owned] */
    size_t n_changes;
    sb_rules_conflict_t *conflicts; /* in user id order [owned] */
    size_t n_conflicts;
    sb_sfid_t unmatched_examples[SB_RULES_EXAMPLES]; /* the first min(unmatched, 5) */
} sb_rules_plan_t;

/**
 * Replaces the rules of `org` with `rules`, which the caller checked with
 * sb_rules_check (on a thread that may take the time: see rules.put), resolving
 * each target (an internal name or an id; "none") to its Call Center: on
 * success rules->rules[i].target holds the internal name and target_id the
 * id, and rules->version the new version. Returns 0, -ENOENT (the org),
 * SB_E_RULES_INVALID (naming the rule: also an unknown Call Center).
 */
int sb_store_rules_put(sb_store_t *store, const char *org, sb_rules_t *rules, sb_err_t *err);
/** The rules of `org` (empty, version 0, when none were put). *out [owned: sb_rules_free()]. */
int sb_store_rules_get(sb_store_t *store, const char *org, sb_rules_t *out, sb_err_t *err);
/**
 * Computes the plan of `org`'s rules over its users and memberships, in one
 * read transaction. *out [owned: sb_rules_plan_free()]. Returns 0, -ENOENT,
 * SB_E_RULES_INVALID (a rule's Call Center was deleted), SB_E_PLAN_TOO_LARGE
 * (more than SB_RULES_USERS_MAX users).
 */
int sb_store_rules_plan(sb_store_t *store, const char *org, sb_rules_plan_t *out, sb_err_t *err);
/**
 * Applies `plan` in one write transaction, all or nothing, after checking
 * that the org's fingerprint is still the plan's: SB_E_PLAN_STALE when not.
 * SB_E_PLAN_TOO_LARGE past SB_RULES_APPLY_MAX changes.
 */
int sb_store_rules_apply(sb_store_t *store, const char *org, const sb_rules_plan_t *plan,
                         sb_err_t *err);
void sb_rules_plan_free(sb_rules_plan_t *plan);

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
    void *blob;      /* [owned] what view points into: record, or allocated; NULL: no view */
    size_t blob_len; /* its bytes */
    unsigned char record[2048]; /* the view, when it fits (most do): no allocation per check */
    char adapter_url[SB_VIEW_URL_MAX]; /* rendered for this user */
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

/**
 * sb_store_softphone_check without the sentence: out->message is "" (the
 * server packs the answers of a view once, sentence included, and splices
 * each user's id in; server/methods/softphone.c). Same returns.
 */
int sb_store_softphone_find(sb_store_t *store, const char *org, const char *user,
                            sb_softphone_answer_t *out, sb_err_t *err);

/** Writes answer->message, the sentence sb_store_softphone_check gives (`user` as asked). */
void sb_softphone_answer_explain(sb_softphone_answer_t *answer, const char *org, const char *user);

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
