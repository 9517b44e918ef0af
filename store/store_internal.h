#pragma once
/*
 * Shared between the store's files (store.c, org.c, callcenter.c,
 * user.c, member.c, ...) and nobody else: this is where LMDB lives.
 *
 * Databases (all keys begin with the org id, but user_cc's, which begin
 * with the org's number: sb__org_prefix gives an org's prefix in each; the
 * org id never holds a NUL, so "acme\0" can never be a prefix of another
 * org's keys):
 *   meta        "schema_version" -> u32; "next_id:04v" and "next_id:0LQ" -> u64
 *               counters of the ids minted before issue 12 (no longer
 *               written: ids are time and random bits now, see sb__new_id)
 *   orgs        org                     -> org record (msgpack)
 *   callcenters org \0 cc id            -> Call Center record (msgpack)
 *   cc_names    org \0 lower(internal)  -> cc id (18 bytes)
 *   users       org \0 user id          -> user record (msgpack)
 *   user_cc     org number, packed user id -> cc id (18 bytes): the membership;
 *               the key is sb_member_key's 13 bytes (schema 5; "org \0 user
 *               id" before), the org's number from org_ids (org_ids.c)
 *   org_ids     org -> big-endian u32 number; \0 number -> org; \0 -> the next
 *               number to give (schema 5, org_ids.c)
 *   cc_members  org \0 cc id            => user ids (DUPSORT|DUPFIXED, 18 bytes
 *                                          each): the reverse index, whose
 *                                          duplicate count is the member count
 *   tokens      BLAKE2b-256 of a token  -> token record (msgpack): access is
 *                                          server-wide, so not keyed by org
 *   layouts     org \0 layout name      -> layout (msgpack, Switchboard's shape)
 *   layout_of   org \0 profile          -> layout name; profile "" is the default
 *   views       org \0 cc id \0 profile  -> softphone view (softphone_view.h)
 *   contacts    org \0 contact id       -> contact record (msgpack)
 *   phones      org \0 E.164 number     => contact ids (DUPSORT): the ANI match
 *   voicecalls  org \0 voice call id    -> voice-call record (msgpack)
 *   call_keys   org \0 cc id \0 vendor call key -> voice call id (18 bytes)
 *   changes     big-endian u64 sequence -> change-log entry (msgpack, changes.c;
 *               schema 3); meta "changes_last" -> u64, the last sequence used
 *   rules       org \0                  -> the org's assignment rules (msgpack,
 *                                          rules.c): {version, updated, rules}
 *   changes_org org \0 big-endian u64 org_seq -> big-endian u64 sequence, then
 *               big-endian u32: the write's place in that entry (the org's
 *               own numbering of its writes, trimmed with the log);
 *               org (no \0) -> u64, the org's last org_seq (never trimmed)
 *
 * user_cc's value is the Call Center's id followed by the user's profile
 * (schema 2), so that the check finds the view without reading the user;
 * and, for a user with the Service Cloud Voice licence, a NUL and a flags
 * byte (issue 15; softphone_check.h's sb_member_value_split).
 *
 * Every value of the logged databases (all but meta and changes), duplicates
 * included, ends in SB_VALUE_SUM_BYTES of checksum over its key and bytes
 * (schema 4, value.c): sb__put and sb__del_dup add it, sb__get and
 * sb__cursor_get check and strip it, so that the rest of the store never
 * sees it. The change log holds values without it.
 */

#include <lmdb.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>

#include "store.h"
#include "view_cache.h"

/* Plans kept (rules.c): a few, since one plan of SB_RULES_USERS_MAX users
 * holds up to that many changes (about 13 MB). */
#define SB_PLAN_MEMO_SLOTS 2

/* The longest key: a view's, org \0 cc id \0 profile. LMDB allows 511. */
#define SB_KEY_MAX (SB_ORG_ID_MAX + 1 + SB_SFID_LEN + 1 + SB_CC_MAX_NAME_BYTES + 1)

/* Database handles are small integers: the log names a database by the name
 * kept in this slot (NULL for meta and changes, which are not logged). */
#define SB_DBI_SLOTS 32
#define SB_ORG_MEMO_SLOTS 256u
/* Threads with a cached read transaction: every event loop (64 at most) and
 * the opener, with room to spare. */
#define SB_STORE_READERS_MAX 72

/*
 * One thread's cached read transaction: reset after each read, renewed by
 * the next, so that a read costs no reader-slot search or allocation and
 * pins no snapshot between reads. With it, the views its snapshot found
 * (view.c, view_cache.h): a snapshot's pages do not change, so a view found
 * once, its checksum checked and decoded, is served from the cache until a
 * commit or a move of the map starts a new epoch. Only its thread touches it.
 */
typedef struct sb_reader {
    pthread_t thread;
    MDB_txn *txn;
    sb_view_cache_t views; /* sets NULL: no memory for it, every view looked up */
    size_t views_snapshot; /* the transaction id and map generation of views_epoch */
    uint64_t views_map_gen;
    uint64_t views_epoch; /* 0 is never valid */
    /* Org numbers its snapshot found (view.c): the check's first look-up,
     * once per org and snapshot. */
    struct sb_org_memo {
        size_t snapshot; /* 0: empty (LMDB's first snapshot is 1 or more) */
        uint64_t map_gen;
        uint32_t num;
        uint8_t len;
        char org[SB_ORG_ID_MAX];
    } org_memo[SB_ORG_MEMO_SLOTS];
} sb_reader_t;

/* An environment's user context: what value.c needs to name a damaged
 * value and to keep a damaged size from reading past the file. */
typedef struct sb_value_env {
    const char *names[SB_DBI_SLOTS]; /* every database's, by handle; NULL: unknown */
    size_t psize;                    /* the environment's page size */
    uintptr_t map;                   /* where the map begins; 0: not known */
    size_t map_size;                 /* its size when located */
} sb_value_env_t;

/**
 * Finds where LMDB mapped `env` (whose user context is an sb_value_env_t),
 * so that a value whose size reaches past the data file is refused, never
 * read (value.c). Call after opening and after every mdb_env_set_mapsize,
 * with no read of the environment running.
 */
void sb__value_env_locate(MDB_env *env);

/* The writes of one job in a write transaction (sb_store_change_begin). */
typedef struct sb_change_record {
    int64_t time_ms;
    char token_id[SB_TOKEN_ID_MAX + 1];
    char org[SB_ORG_ID_MAX + 1];
    char method[64];
    size_t start;     /* its first change's offset in the capture's bytes */
    size_t n_changes; /* msgpack arrays [op, db, key, value] from start on */
    size_t ids_start; /* its first id in the capture's ids */
    size_t n_ids;     /* the ids its changes touched (duplicates until the flush) */
    uint64_t org_seq; /* its org's number for it (sb_store_change_end); 0: none */
    bool named;       /* still open: changes go to it */
    bool kept;        /* logged even without changes (the write succeeded) */
} sb_change_record_t;

/* What the open write transaction changed so far (changes.c). */
typedef struct sb_capture {
    struct sb_store *store;
    uint64_t seq; /* the sequence this transaction commits as */
    sb_change_record_t *records;
    size_t n_records, cap_records;
    msgpack_sbuffer bytes;
    char (*ids)[SB_SFID_LEN]; /* the records' ids, each record's from its ids_start on */
    size_t n_ids, cap_ids;
    bool failed; /* out of memory while recording: the commit is refused */
} sb_capture_t;

/* Where a nested transaction began, to drop its changes when it aborts. */
typedef struct sb_capture_mark {
    size_t n_records, size, last_changes, n_ids, last_ids;
} sb_capture_mark_t;

struct sb_store {
    MDB_env *env;
    MDB_dbi meta, orgs, callcenters, cc_names, users, user_cc, cc_members, tokens;
    MDB_dbi layouts, layout_of, views, contacts, phones, voicecalls, call_keys;
    MDB_dbi changes, rules, changes_org, org_ids;
    const char *dbi_names[SB_DBI_SLOTS];
    /* Every database's name, meta and changes too, and the page size: the
     * environment's user context (value.c). */
    sb_value_env_t value_env;
    sb_capture_t cap;            /* only touched inside a write transaction */
    sb_store_publish_fn publish; /* each entry before its commit; NULL: none */
    void *publish_ctx;
    /* The shard's number (1..SB_STORE_ID_SPACE_MAX) in every id minted
     * here, so that two shards never mint the same id; 0: standalone. */
    _Atomic uint32_t id_space;
    sb_store_renderer_fn renderer; /* the adapters' part of a view; NULL: none */
    void *renderer_ctx;
    size_t map_bytes;
    size_t max_map_bytes;
    /* Readers and writers hold it shared; growing the map holds it
     * exclusively, because mdb_env_set_mapsize needs no live transaction
     * in this process. */
    pthread_rwlock_t resize_lock;
    /* Whether some org of this store has a move state (org_move.c): 0 not
     * known yet, 1 none, 2 some. The dispatch asks for every request; while
     * 1, the answer needs no read. */
    _Atomic int moves_known;
    /* The threads that keep a cached read transaction of their own: the one
     * that opened the store (the first event loop) and each thread that
     * called sb_store_reader_attach (the other loops). Entries are only
     * appended (readers_lock), and published by n_readers (release); a
     * thread finds its own by a short scan, and only it touches it. Other
     * threads (the thread pool, which makes adapter calls and checks
     * definitions ahead of a write) begin a transaction of their own per read. */
    struct sb_reader *readers[SB_STORE_READERS_MAX];
    size_t n_readers; /* atomic: written under readers_lock, read by any thread */
    pthread_mutex_t readers_lock;
    uint64_t map_gen; /* bumped each time the map moves (grow, adopt) */
    int lock_fd;      /* the data directory's writer lock (flock) */
    /* Group commit: while a batch is open, writes from the thread that opened
     * it run in nested transactions of batch_txn (see sb_store_batch_begin).
     * Only that thread touches it; store.c keeps the owner thread-local. */
    MDB_txn *batch_txn;
    /* The last plans made (rules.c), each with the org's change number it
     * was made at: an operator paging through a plan gets every page from
     * one computation while the org does not change. */
    pthread_mutex_t plan_lock;
    struct sb_plan_memo {
        char org[SB_ORG_ID_MAX + 1]; /* "": empty slot */
        uint64_t org_seq;
        uint64_t used; /* plan_clock when last served: the least recent goes */
        sb_rules_plan_t plan;
    } plan_memo[SB_PLAN_MEMO_SLOTS];
    uint64_t plan_clock;
    char dir[4096];
};

/** The org's last change number (org_seq; 0: none yet), changes.c. */
int sb__org_last_seq(sb_store_t *store, MDB_txn *txn, const char *org, uint64_t *last);
/** Frees the plans rules.c keeps (sb_store_close). */
void sb__plan_memo_free(sb_store_t *store);

/** A key buffer and its length. */
typedef struct sb_key {
    char buf[SB_KEY_MAX];
    size_t len;
} sb_key_t;

/**
 * Builds "org" (part NULL) or "org\0part" in key->buf, whose size bounds it.
 * Returns 0, or -EINVAL (INVALID_ARGUMENT) with key->len 0 and nothing copied
 * when the key would not fit: callers check lengths at the method's edge
 * too, but the copy is checked here, where it happens.
 */
int sb__key(sb_key_t *key, const char *org, const char *part) __attribute__((warn_unused_result));

/** cc_names' key of a Call Center: org \0 its internal name in lower case (-EINVAL: too long). */
int sb__cc_name_key(sb_key_t *key, const char *org, const char *internal_name)
    __attribute__((warn_unused_result));
/** call_keys' key of a voice call: org \0 cc id \0 vendor call key (-EINVAL: too long). */
int sb__call_key(sb_key_t *key, const char *org, const sb_sfid_t *cc, const char *vendor_key)
    __attribute__((warn_unused_result));
/* ---- org numbers and the membership key (org_ids.c) ---- */
/** The number of `org`: 0, -ENOENT (none), SB_E_CORRUPT, or another code. */
int sb__org_num(sb_store_t *store, MDB_txn *txn, const char *org, uint32_t *num);
/**
 * user_cc's key of (org, user) into *key (sb_member_key, with the org's
 * number): 0, SB_E_CORRUPT when the org (which must exist) has no number,
 * -EINVAL for an id that is not a user's, or another code.
 */
int sb__member_key(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *user,
                   sb_key_t *key) __attribute__((warn_unused_result));
/** Gives new org `org` the next number: 0, SB_E_ORG_NUMBERS_USED_UP, or another code. */
int sb__org_num_give(sb_store_t *store, MDB_txn *txn, const char *org, uint32_t *num,
                     sb_err_t *err);
/** Forgets the number of `org` (deleted); the number is never given again. */
int sb__org_num_drop(sb_store_t *store, MDB_txn *txn, const char *org);
/** Schema 4 to 5: numbers every org and rekeys every membership (org_ids.c). */
int sb__migrate_4_to_5(sb_store_t *store, MDB_txn *txn, const char *dir);

/** Translates an LMDB or errno result to a code of error.h. */
int sb__lmdb_rc(int rc);

/** A write step run inside a write transaction by sb__write(). */
typedef int (*sb_write_fn)(sb_store_t *store, MDB_txn *txn, void *ctx, sb_err_t *err);

/**
 * Runs `fn` in a new write transaction and commits it when fn returns 0;
 * aborts it otherwise. When the map is full, grows it (doubling, up to the
 * maximum) and runs fn again from the start; at the maximum, fails with
 * -ENOSPC (STORE_FULL). fn must therefore keep no state across calls.
 */
int sb__write(sb_store_t *store, sb_write_fn fn, void *ctx, sb_err_t *err);

/** The calling thread's cached read transaction's entry, or NULL when it has none. */
sb_reader_t *sb__reader(sb_store_t *store);

/** Starts a read on the cached read transaction. Pair with sb__read_end(). */
int sb__read_begin(sb_store_t *store, MDB_txn **txn, sb_err_t *err);
void sb__read_end(sb_store_t *store, MDB_txn *txn);

/* ---- the values' checksums (value.c) ---- */
#define SB_VALUE_SUM_BYTES 4

/** The trailer that seals `len` bytes of `data` stored at `key`. */
void sb__value_seal(const MDB_val *key, const void *data, size_t len,
                    uint8_t trailer[SB_VALUE_SUM_BYTES]);
/**
 * Checks one stored value of a logged database (as LMDB returned it, at
 * `key`) against its checksum and strips the checksum from *val. Returns 0,
 * or SB_E_CORRUPT with *val unchanged when the value is too short for a
 * checksum or the checksum does not match. What a verifier calls on each
 * record it walks; it names nothing (sb__value_damaged does).
 */
int sb__value_open(const MDB_val *key, MDB_val *val) __attribute__((warn_unused_result));
/**
 * Key `key` of database `dbi` as an operator reads it into out (cap bytes,
 * NUL-terminated, cut when longer): a membership's as "org/user id", others
 * with their NULs as '/' and other unprintable bytes as \xNN. Returns the
 * length written.
 */
size_t sb__key_shown(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key, char *out, size_t cap);
/** Notes record (dbi, key) as damaged for the next CORRUPT sentence (sb_err_note_corrupt). */
void sb__value_damaged(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key);
/**
 * mdb_get, then sb__value_open: LMDB's codes (0, MDB_NOTFOUND, ...), and
 * MDB_CORRUPTED (SB_E_CORRUPT once translated) for a damaged value, noted.
 * *val [borrowed: until the transaction ends], without its checksum.
 */
int sb__value_get(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key, MDB_val *val);
/**
 * sb__value_get, whose check of the records beside a key not found renews
 * `reuse` (a read-only cursor on dbi; NULL: opens one) instead of opening a
 * cursor: the read library's checks allocate nothing.
 */
int sb__value_find(MDB_txn *txn, MDB_dbi dbi, const MDB_val *key, MDB_val *val, MDB_cursor *reuse);
/**
 * mdb_cursor_get, then sb__value_open on the value it lands on: LMDB's codes,
 * and MDB_CORRUPTED for a damaged value, noted. Reads of values in logged
 * databases go through here (or sb__get); reads of keys alone need not.
 */
int sb__cursor_get(MDB_cursor *cur, MDB_val *key, MDB_val *val, MDB_cursor_op op);

/** mdb_get translated and its checksum checked: 0, -ENOENT, SB_E_CORRUPT, or another code. */
int sb__get(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *key, MDB_val *val);
/** mdb_put translated (flags as LMDB's), the value sealed with its checksum. */
int sb__put(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *key, const void *data, size_t len,
            unsigned flags);
/** mdb_del of a key (all its duplicates); -ENOENT when absent. */
int sb__del(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *key);
/** mdb_del of one duplicate (key, data); -ENOENT when absent. */
int sb__del_dup(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *key, const void *data, size_t len);
/** mdb_cursor_del of the cursor's whole key (flags as LMDB's), translated. */
int sb__cursor_del(MDB_cursor *cur, unsigned flags);
/*
 * These four and sb__del_prefix, and nothing else, change the logged databases: each records
 * what it did in the change log of the write transaction in progress
 * (changes.c). A write to a logged database that bypasses them would be
 * missing from the log, and replicas would diverge.
 */

/* ---- the change log's capture (changes.c), driven by store.c ---- */
/** Starts capturing this thread's write transaction on `store`. */
void sb__capture_start(sb_store_t *store);
void sb__capture_stop(sb_store_t *store);
void sb__capture_mark(const sb_store_t *store, sb_capture_mark_t *mark);
void sb__capture_rewind(sb_store_t *store, const sb_capture_mark_t *mark);
/** Records "delete every key starting with prefix" (sb__del_prefix's change). */
void sb__capture_del_prefix(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *prefix);
/** Reads the last sequence in txn: the capture commits as the next. */
int sb__capture_seq(sb_store_t *store, MDB_txn *txn);
/** Stores the capture's entry (if anything was captured) in txn, before its commit. */
int sb__capture_flush(sb_store_t *store, MDB_txn *txn);
void sb__capture_free(sb_store_t *store);
/** sb__write without a capture: the log's own upkeep (trimming, applying). */
int sb__write_uncaptured(sb_store_t *store, sb_write_fn fn, void *ctx, sb_err_t *err);

/** Refuses with -ENOENT unless org `org` exists; checks its form first. */
int sb__org_must_exist(sb_store_t *store, MDB_txn *txn, const char *org, sb_err_t *err);

/** Loads Call Center `id` (normalized) of `org`. *out [owned]. */
int sb__cc_load(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *id,
                sb_callcenter_t **out, sb_err_t *err);

/**
 * Call Center `text` of `org`, by id (it starts with a digit) or internal
 * name: its normalized id and internal name. -ENOENT (with a sentence) when
 * there is none.
 */
int sb__cc_find(sb_store_t *store, MDB_txn *txn, const char *org, const char *text, sb_sfid_t *id,
                char internal_name[SB_CC_INTERNAL_NAME_MAX + 1], sb_err_t *err);

/**
 * Puts `user` (normalized, existing) in Call Center `cc` (normalized,
 * existing), moving it from the one it is in; or, with cc NULL, takes it out
 * of the one it is in (none: nothing to do). Inside the caller's write.
 */
int sb__member_assign(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *user,
                      const sb_sfid_t *cc, sb_err_t *err);

/**
 * The stored rules of `org` into *out (empty, version 0, when none) and their
 * bytes into *raw (size 0 when none; valid for the transaction).
 */
int sb__rules_load(sb_store_t *store, MDB_txn *txn, const char *org, sb_rules_t *out, MDB_val *raw);

/**
 * When the org's rules are followed on write (rules->follow), puts `user`
 * (just written) where they decide: nothing for a conflict or no match.
 */
int sb__rules_follow(sb_store_t *store, MDB_txn *txn, const char *org, const sb_rules_t *rules,
                     const sb_user_t *user, sb_err_t *err);

/** Members of Call Center `id`: the duplicate count in cc_members. */
int sb__cc_member_count(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *id,
                        uint64_t *count);

/** Wall-clock milliseconds since the epoch. */
int64_t sb__now_ms(void);

/** Checks a page limit: 1..SB_STORE_PAGE_MAX. */
int sb__check_limit(size_t limit, sb_err_t *err);

/** Called by sb__page for each row; returns 0 to go on, or an error code. */
typedef int (*sb_row_fn)(MDB_txn *txn, const MDB_val *key, const MDB_val *val, size_t index,
                         void *ctx);

/**
 * Visits up to `limit` rows of `dbi` whose keys start with `prefix`, from
 * `start` on (the row equal to `start` is skipped when `exclusive`), in key
 * order. *count is the number visited; *more says whether another row
 * follows. Returns 0 or the first error (fn's or LMDB's).
 */
int sb__page(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *prefix, const sb_key_t *start,
             bool exclusive, size_t limit, sb_row_fn fn, void *ctx, size_t *count, bool *more);

/** What sb__list hands each row function as `ctx`. */
typedef struct sb_list_ctx {
    sb_store_t *store;
    const char *org; /* NULL when listing orgs */
    void *rows;      /* the caller's array of rows */
} sb_list_ctx_t;

/**
 * One page of a list call: checks `limit`, allocates `limit` rows of
 * `row_size` bytes, and runs sb__page over the keys of `org` (every key when
 * org is NULL) after `after` (already normalized; NULL: from the start),
 * with an sb_list_ctx_t as ctx. Fills *rows [owned: free()], *n and *more as
 * the public list functions promise.
 */
int sb__list(sb_store_t *store, const char *org, MDB_dbi dbi, const char *after, size_t limit,
             size_t row_size, sb_row_fn fn, void **rows, size_t *n, bool *more, sb_err_t *err);

/** Deletes the tokens of `org` (all of its roles). */
int sb__token_delete_org(sb_store_t *store, MDB_txn *txn, const char *org);

/** Deletes every key of `dbi` that starts with `prefix`. */
int sb__del_prefix(MDB_txn *txn, MDB_dbi dbi, const sb_key_t *prefix);
/** The deletion of sb__del_prefix without its change-log record: for
 * applying a logged "delp" (a replica deletes the same keys). */
int sb__del_prefix_unlogged(MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t len);

/* ---- moving an org (org_move.c) ---- */

/** What sb__org_prefix says of a database's keys of an org. */
enum {
    SB_ORG_KEYS_PREFIX = 0, /* the org's keys are those that begin with the prefix */
    SB_ORG_KEYS_EXACT = 1,  /* the org's one key is the prefix (orgs) */
    SB_ORG_KEYS_VALUE = 2,  /* not keyed by org (tokens): each record names its org */
};

/**
 * The prefix of `org`'s keys in `dbi` into *out: the one place that knows
 * how an org's keys begin (the move builds every key through it, so that a
 * change of the key layout changes only this). Returns SB_ORG_KEYS_PREFIX,
 * SB_ORG_KEYS_EXACT or SB_ORG_KEYS_VALUE (out empty); -ENOENT for a
 * database that holds no org's records (meta, the log), and for user_cc
 * when the org has no number (schema 5: its keys begin with the org's
 * number, org_ids.c); -EINVAL for org_ids (each store numbers its orgs
 * itself: not moved) and for an org id that does not fit a key.
 */
int sb__org_prefix(sb_store_t *store, MDB_txn *txn, MDB_dbi dbi, const char *org, sb_key_t *out);

/** Called for each change [op, db, key, value] of a log entry; 0 goes on. */
typedef int (*sb_change_fn)(void *ctx, const msgpack_object *change);
/**
 * Walks a change-log entry's changes in order (changes.c): fn's first
 * error, or SB_E_CORRUPT for an entry that is not one.
 */
int sb__entry_each_change(const void *entry, size_t len, sb_change_fn fn, void *ctx);

/** Whether `org` was moved to another server (its state MOVED; its tokens stay). */
bool sb__org_moved_away(sb_store_t *store, MDB_txn *txn, const char *org);

/** Raises the org's last own number to `at_least` when it is lower (not logged). */
int sb__org_seq_raise(sb_store_t *store, MDB_txn *txn, const char *org, uint64_t at_least);
/** The log's last sequence in txn (meta changes_last; 0: none). */
int sb__changes_last(sb_store_t *store, MDB_txn *txn, uint64_t *seq);

/* ---- softphone views (store/view.c) and layouts (store/layout.c) ---- */

/** Makes the view of (cc, profile) unless it exists. */
int sb__view_ensure(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *cc,
                    const char *profile);
/** Recomputes the views of Call Center `cc` (NULL: of the org; org NULL: every view). */
int sb__views_refresh(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *cc);
/** Deletes the views of Call Center `cc`. */
int sb__views_drop(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *cc);
/**
 * The layout of `profile`: its own, else the org's default. Fills name,
 * *source and *layout (the stored msgpack, valid for the transaction; empty
 * when the source is SB_LAYOUT_NONE).
 */
int sb__layout_resolve(sb_store_t *store, MDB_txn *txn, const char *org, const char *profile,
                       char name[SB_LAYOUT_NAME_MAX + 1], sb_layout_source_t *source,
                       MDB_val *layout);
/** The membership value: cc id, profile, and the licence flag (sb_member_value_split). */
int sb__member_put(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *user,
                   const sb_sfid_t *cc, const char *profile, bool scv_licence);

/**
 * A new id with key prefix `prefix` for a record of `org` in `dbi`: the
 * time and random bits (sb_sfid_from_time), never a counter shared by the
 * orgs; drawn again when `org` already has a record with it. -EAGAIN when
 * four draws all collide (a broken random source).
 */
int sb__new_id(sb_store_t *store, MDB_txn *txn, MDB_dbi dbi, const char *org, const char *prefix,
               sb_sfid_t *id);

/** Up to `cap` contacts whose number is `e164` into out; *count is how many there are. */
int sb__contact_match(sb_store_t *store, MDB_txn *txn, const char *org, const char *e164,
                      sb_contact_t *out, size_t cap, size_t *count);

/* ---- the decoders that verify.c checks every record with ---- */
/** A stored contact: 0 or SB_E_CORRUPT (contact.c). */
int sb__contact_decode(const void *data, size_t len, sb_contact_t *c);
/** A stored voice call: 0, SB_E_CORRUPT or -ENOMEM; *out [owned: sb_voicecall_free()]. */
int sb__voicecall_decode(const void *data, size_t len, sb_voicecall_t **out);
