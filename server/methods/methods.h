#pragma once
/*
 * The method table: every msgpack-RPC method, its access rule, its
 * arguments, what it returns and how it fails. The table is the single
 * source of docs/protocol.md (switchboardd --protocol-doc prints it, and a
 * test fails when the file and the table disagree).
 *
 * Each file of server/methods/ holds one namespace's handlers and its slice of the
 * table; dispatch.c checks access and arguments and runs them.
 */

#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "error.h"
#include "message.h"
#include "store.h"

/** What every method can see of the server. [borrowed: for the server's lifetime] */
typedef struct sb_service {
    sb_store_t *store;
    const sb_config_t *config;
    int64_t started_ms;
    size_t connections;              /* current count; read on the event loop only */
    struct sb_writer *writer;        /* for its counts */
    struct sb_plugin_host *plugins;  /* the adapters */
    struct sb_renders *renders;      /* their renderings, made ahead of the writes (renders.h) */
    struct sb_answer_cache *answers; /* softphone answers packed once per view; NULL: off */
    struct sb_cluster *cluster;      /* the shard's stream (cluster.h); NULL: standalone */
    /* The event loops (--loops): each serves with its own copy of this
     * service (its own answer cache). Read under the server's lock. */
    unsigned n_loops;
    const size_t *loop_connections;              /* [n_loops] open connections of each */
    struct sb_answer_cache *const *loop_answers; /* [n_loops] each one's answer cache */
} sb_service_t;

/**
 * Loads the plugin directory again, renders every Call Center with members
 * under the new set, and ends the trusted adapters' trial: plugin.reload's
 * prepare step, and SIGHUP's. One at a time (a mutex); a pool thread, never
 * the loop or the writer (adapters run). The softphone views follow on the
 * writer (sb_store_views_refresh). *loaded and *refused count the set.
 */
int sb_plugins_reload(const sb_service_t *svc, size_t *loaded, size_t *refused, sb_err_t *err);

/* ---- softphone answers packed once (softphone.c) ------------------------ */

typedef struct sb_answer_cache sb_answer_cache_t;

/** A cache of `slots` views' answers (--answer-cache-slots); *out NULL for 0 (off). 0 or -ENOMEM.
 */
int sb_answer_cache_new(size_t slots, sb_answer_cache_t **out);
void sb_answer_cache_free(sb_answer_cache_t *cache);
/** Answers served from a packed view, and views packed (server.info). */
void sb_answer_cache_counts(const sb_answer_cache_t *cache, uint64_t *hits, uint64_t *misses);

/**
 * Packs softphone.check's answer for `a`, as sb_store_softphone_find gave it
 * (`user`: the id as asked): from the view's packed answer with the id
 * spliced in when `cache` holds it, else in full (sb_softphone_pack_reference,
 * which may make a->message). Byte for byte the same either way. Event loop
 * only: the cache has no lock.
 */
int sb_softphone_pack(sb_answer_cache_t *cache, msgpack_packer *pk, sb_softphone_answer_t *a,
                      const char *org, const char *user);

/** The answer packed field by field, a->message as it is: what a packed view must equal. */
int sb_softphone_pack_reference(msgpack_packer *pk, const sb_softphone_answer_t *a);

typedef enum sb_arg_type {
    SB_ARG_STRING,
    SB_ARG_INTEGER, /* a non-negative integer */
    SB_ARG_BOOLEAN,
    SB_ARG_ARRAY,
    SB_ARG_MAP,
    SB_ARG_BYTES, /* a string or binary: a file's contents */
} sb_arg_type_t;

typedef struct sb_arg_spec {
    const char *name; /* NULL ends the list */
    sb_arg_type_t type;
    bool required;
    const char *doc;
} sb_arg_spec_t;

/** One request being served. Strings handed out live in `zone`, as long as the call. */
typedef struct sb_call {
    const sb_service_t *svc;
    const msgpack_object *args; /* the argument map, or NULL */
    msgpack_zone *zone;
    sb_token_record_t token;     /* who is calling; role NONE before authentication */
    const char *org;             /* the "org" argument, when the method takes one */
    bool authenticated;          /* set by token.authenticate on success */
    sb_token_record_t new_token; /* ...with the identity it proved */
    /* What the method's prepare step (see sb_method_prepare) left for its run.
     * [owned: freed with prep_free by sb_call_release()] */
    void *prep;
    void (*prep_free)(void *prep);
    bool prep_only; /* set by prepare: nothing to write, the run only answers (a dry run) */
    /* Set by a write that ends access, acted on once it is durable: every
     * connection holding that token (or a token of that org) is closed.
     * [borrowed: the call's zone] */
    const char *ended_token_id;
    const char *ended_org;
    /* For a method that works in slices (returns SB_CALL_MORE): where the
     * next slice starts. 0 on the first call. */
    size_t cursor;
    /* Set by changes.watch: once answered, the connection streams the
     * writes of call->org (NULL: every org's) from watch_from on. */
    bool watch;
    uint64_t watch_from;
    int64_t
        watch_floor_ms; /* writes older than this are not the watcher's (an org's earlier life) */
} sb_call_t;

/* A method's return value asking to be called again on a later turn of the
 * event loop, so that one request cannot hold the loop for long: it has
 * packed part of its result and will pack the rest. Reads only. */
#define SB_CALL_MORE 1

typedef int (*sb_method_fn)(sb_call_t *call, msgpack_packer *pk, sb_err_t *err);

/**
 * A method's prepare step: the slow part of a request that needs no
 * write transaction (adapter calls, parsing a definition file). It runs on
 * libuv's thread pool before the method's fn, so that neither the event
 * loop nor the writer thread ever waits for an adapter: an adapter that
 * hangs until its deadline delays only the requests that need it. It may
 * read the store (its own read transaction) and must leave in call->prep
 * what the fn needs; the fn re-checks in its write only what must hold
 * atomically. Returns 0, or an error that answers the request (no fn).
 */
typedef int (*sb_prepare_fn)(sb_call_t *call, sb_err_t *err);

typedef struct sb_method_prep {
    const char *name; /* the method */
    sb_prepare_fn prepare;
} sb_method_prep_t;

#define SB_METHOD_MAX_ARGS 20

/** The longest "org", "id", "user", "callcenter" or "after" argument: dispatch refuses longer. */
#define SB_ARG_NAME_MAX 64

typedef struct sb_method {
    const char *name;
    const char *summary;
    sb_role_t role;  /* the least role that may call it (SB_ROLE_NONE: anyone) */
    bool writes;     /* runs on the writer thread, answered once durable */
    bool org_scoped; /* takes "org"; a token of another org sees NOT_FOUND */
    sb_method_fn fn;
    sb_arg_spec_t args[SB_METHOD_MAX_ARGS];
    const char *result; /* what the result holds */
    const char *errors; /* the error names it can return, besides the common ones */
} sb_method_t;

/** The method named `name`, or NULL. */
const sb_method_t *sb_method_find(const char *name);

/** Calls `fn` for every method, in the order of the table. */
void sb_method_each(void (*fn)(const sb_method_t *m, void *ctx), void *ctx);

/**
 * Refuses a request for an org in a move (move.c): MOVED once it moved,
 * ORG_MOVING for a write while it is frozen or being received, NOT_FOUND
 * for a receiving org's own tokens. Run before every method's fn (inside
 * the writer's batch for a write); the move.* methods are let through.
 */
int sb_move_check(sb_call_t *call, const sb_method_t *m, sb_err_t *err);

/** Prints docs/protocol.md. */
void sb_protocol_doc(FILE *out);

/* ---- arguments (checked against the spec before the handler runs) ------- */

/** String argument `key` as a NUL-terminated copy in the call's zone, or NULL when absent or nil.
 */
const char *sb_arg_str(sb_call_t *call, const char *key);
/** Integer argument `key`, or `fallback` when absent or nil. */
int64_t sb_arg_int(sb_call_t *call, const char *key, int64_t fallback);
/** Boolean argument `key`, or `fallback` when absent or nil. */
bool sb_arg_bool(sb_call_t *call, const char *key, bool fallback);
/** Array or map argument `key`, or NULL when absent or nil. */
const msgpack_object *sb_arg_obj(sb_call_t *call, const char *key);
/** A msgpack string object as a NUL-terminated copy in the call's zone; NULL if not a string or
 * holding a NUL. */
const char *sb_obj_str(sb_call_t *call, const msgpack_object *obj);
/** Bytes argument `key` (a str or bin): its data and length, or NULL when absent. [borrowed: the
 * call] */
const char *sb_arg_bytes(sb_call_t *call, const char *key, size_t *len);

/** The page size argument "limit": default 100, at most SB_STORE_PAGE_MAX. */
size_t sb_arg_limit(sb_call_t *call);

/* ---- dispatch ------------------------------------------------------------ */

/** The prepare step of `m`, or NULL when it has none (the fn does all the work). */
sb_prepare_fn sb_method_prepare(const sb_method_t *m);

/** Frees what a prepare step left in `call` (call->prep); safe to call twice. */
void sb_call_release(sb_call_t *call);

/**
 * Checks that the caller may call `method` with these arguments: a known
 * method, authenticated (except token.authenticate), the org in reach of
 * the token (NOT_FOUND otherwise, exactly as for an org that does not
 * exist), a sufficient role, and arguments of the spec (no unknown names,
 * the required ones present, every type right). Sets call->org.
 */
int sb_dispatch_check(sb_call_t *call, const char *method, const sb_method_t **out, sb_err_t *err);

/**
 * Runs `m` and packs the whole response for `msgid` into `out` (cleared
 * first): the result, or the error. Returns the method's code.
 */
int sb_dispatch_run(sb_call_t *call, const sb_method_t *m, uint32_t msgid, msgpack_sbuffer *out);

/**
 * Adds `seq: seq` to the result map of the response in `out` (as packed by
 * sb_dispatch_run for `msgid`): a write's reply names the change-log entry of
 * its commit. -EINVAL when the result is not a map.
 */
int sb_dispatch_add_seq(msgpack_sbuffer *out, uint32_t msgid, uint64_t seq);
/** The same with any key: `key: value` (org_seq: the org's number of the write). */
int sb_dispatch_add_uint(msgpack_sbuffer *out, uint32_t msgid, const char *key, uint64_t value);

/**
 * Runs the next slice of `m` after sb_dispatch_run (or this) returned
 * SB_CALL_MORE, packing on after what `out` holds; on an error, `out` is
 * replaced by the error response. Returns SB_CALL_MORE again, 0, or the code.
 */
int sb_dispatch_continue(sb_call_t *call, const sb_method_t *m, uint32_t msgid,
                         msgpack_sbuffer *out);

/** The table slices, one per namespace file. */
typedef struct sb_method_slice {
    const sb_method_t *methods;
    size_t n;
} sb_method_slice_t;

/** The prepare steps of a namespace (sb_method_prepare finds them by method name). */
typedef struct sb_method_prep_slice {
    const sb_method_prep_t *preps;
    size_t n;
} sb_method_prep_slice_t;

extern const sb_method_prep_slice_t sb__callcenter_preps, sb__call_preps, sb__plugin_preps,
    sb__org_preps, sb__member_preps, sb__rules_preps, sb__user_preps, sb__backup_preps,
    sb__cluster_preps, sb__move_preps;

extern const sb_method_slice_t sb__org_methods, sb__callcenter_methods, sb__user_methods,
    sb__member_methods, sb__softphone_methods, sb__server_methods, sb__token_methods,
    sb__plugin_methods, sb__layout_methods, sb__contact_methods, sb__call_methods,
    sb__rules_methods, sb__licence_methods, sb__backup_methods, sb__audit_methods,
    sb__cluster_methods, sb__move_methods;

/* Argument specs shared by the namespaces. */
#define SB_ARG_ORG                                                                                 \
    {                                                                                              \
        "org", SB_ARG_STRING, true, "the org id"                                                   \
    }
#define SB_ARGS_PAGE(what)                                                                         \
    {"after", SB_ARG_STRING, false,                                                                \
     "list " what " after this id (the last of the previous page)"},                               \
    {                                                                                              \
        "limit", SB_ARG_INTEGER, false, "rows in the page, 1 to 1000 (default 100)"                \
    }

/** Who reads a write of the change log, and so what of it is packed. */
typedef enum sb_change_view {
    SB_CHANGE_ORG_AUDIT,       /* an org's token, audit.list: org_seq only */
    SB_CHANGE_ADMIN_AUDIT,     /* the admin, audit.list: org_seq and seq */
    SB_CHANGE_ORG_WATCH,       /* an org's token watching its org: seq is the org_seq */
    SB_CHANGE_ADMIN_ORG_WATCH, /* the admin watching one org: seq is the org_seq, log_seq */
    SB_CHANGE_ADMIN_WATCH,     /* the admin watching every org: seq is the global one */
} sb_change_view_t;

/** A write's time (ms), 0 when it has none. */
int64_t sb__change_time(const sb_change_write_t *w);

/** Packs one write of the log as audit.list's item or a changes notification's map (audit.c). */
int sb__pack_change(msgpack_packer *pk, const sb_change_write_t *w, sb_change_view_t view);

/* Common packers shared by the namespaces. */
int sb__pack_callcenter(msgpack_packer *pk, const sb_callcenter_t *cc);
int sb__pack_user(msgpack_packer *pk, const sb_user_t *user);
/** Whether `name`, or one of its words, starts with `prefix` (ASCII letters
 * without case; an empty prefix matches every name): user.find, member.list. */
bool sb__name_matches(const char *name, const char *prefix);

/** A Call Center by id (it starts with a digit: 04v...) or by internal name. *cc [owned]. */
int sb__load_cc(sb_call_t *call, const char *text, sb_callcenter_t **cc, sb_err_t *err);
/** The dialing prefixes of `cc`, with `country_code` ("1" when NULL). */
void sb__dialing_of(const sb_callcenter_t *cc, const char *country_code, sb_dialing_t *out);
