#pragma once
/*
 * Switchboard's error codes: one table, one place.
 *
 * A function that can fail returns 0 or a negative code. Generic failures use
 * a negative errno (-ENOENT, -EINVAL, ...); refusals specific to Switchboard
 * use the SB_E_* values below, which sit far below any errno. Every code that
 * can reach a user has a row in SB_ERROR_TABLE: a stable upper-case name, a
 * stable wire code (what msgpack-RPC clients see), and a default sentence that
 * says what went wrong and what to do.
 *
 * Functions that refuse for a reason worth explaining also fill an sb_err_t
 * with a sentence naming the record at fault ("user 005... already belongs to
 * Call Center Support (04v...)"); callers that do not care pass NULL.
 */

#include <errno.h>
#include <stddef.h>

enum {
    SB_E_BASE = -10000,
    SB_E_SCHEMA_TOO_NEW,
    SB_E_CORRUPT,
    SB_E_ORG_NOT_EMPTY,
    SB_E_CALLCENTER_HAS_MEMBERS,
    SB_E_ALREADY_MEMBER,
    SB_E_NOT_A_MEMBER,
    SB_E_INTERNAL_NAME_TAKEN,
    SB_E_INTERNAL_NAME_IMMUTABLE,
    SB_E_INVALID_INTERNAL_NAME,
    SB_E_INVALID_DISPLAY_NAME,
    SB_E_OUT_OF_RANGE,
    SB_E_INVALID_COMPATIBILITY_MODE,
    SB_E_STANDBY_WITHOUT_TIMEOUT,
    SB_E_FIELD_NOT_IN_SET,
    SB_E_MISSING_FIELD,
    SB_E_INVALID_VALUE,
    SB_E_INVALID_ID,
    SB_E_BATCH_TOO_LARGE,
    SB_E_STORE_LOCKED,
    SB_E_UNKNOWN_METHOD,
    SB_E_UNAUTHENTICATED,
    SB_E_INVALID_DEFINITION,
    SB_E_ADAPTER_UNAVAILABLE,
    SB_E_LAYOUT_IN_USE,
    SB_E_EVENT_IGNORED,
    SB_E_DISK_FULL,
    SB_E_REPLY_TOO_LARGE,
    SB_E_CONNECTION_LIMIT,
    SB_E_CHANGES_TRIMMED,    /* wire 39 (40 unused) */
    SB_E_BACKUP_IN_PROGRESS, /* wire 41 (43, 44 unused) */
    SB_E_BACKUP_GONE,
    SB_E_RULES_INVALID,
    SB_E_PLAN_STALE,
    SB_E_PLAN_TOO_LARGE,
    SB_E_NOT_READY,
    SB_E_NOT_PRIMARY, /* wire 54 (49 to 53 unused) */
    SB_E_REPLICA_BEHIND,
    SB_E_CLUSTER_UNAVAILABLE,
    SB_E_MOVED,
    SB_E_ORG_MOVING,
    SB_E_NOT_CLUSTERED, /* wire 59 */
    SB_E_PROMOTE_REFUSED,
    SB_E_PLACEMENT_CHANGED,
    SB_E_NO_ROUTE,            /* wire 62 */
    SB_E_ORG_NUMBERS_USED_UP, /* wire 67 */
    SB_E_CHANGE_OF_OLDER_SCHEMA,
};

/*
 * X(name, code, wire_code, default sentence)
 * Wire codes are part of the protocol: never renumber a row, only append.
 */
// clang-format off
#define SB_ERROR_TABLE(X)                                                                          \
    X(NOT_FOUND, -ENOENT, 1, "The record does not exist (or is not visible to this token).")      \
    X(ALREADY_EXISTS, -EEXIST, 2, "A record with that id already exists; pick another id.")       \
    X(INVALID_ARGUMENT, -EINVAL, 3, "An argument is missing or malformed; see --help.")           \
    X(STORE_FULL, -ENOSPC, 4,                                                                      \
      "The store reached its configured maximum size; raise the maximum map size or free space.")  \
    X(NO_MEMORY, -ENOMEM, 5, "The server ran out of memory; retry with a smaller request.")       \
    X(IO_ERROR, -EIO, 6, "The store could not read or write its files; check the data directory " \
                         "and the disk.")                                                          \
    X(ACCESS_DENIED, -EACCES, 7, "Permission denied on the data directory or its files.")         \
    X(SCHEMA_TOO_NEW, SB_E_SCHEMA_TOO_NEW, 8,                                                      \
      "The data directory was written by a newer Switchboard; upgrade this build.")                \
    X(CORRUPT, SB_E_CORRUPT, 9,                                                                    \
      "A stored record is damaged or could not be decoded; restore a backup: sbstore restore "    \
      "BACKUP DATA_DIR (docs/operating.md).")                                                      \
    X(ORG_NOT_EMPTY, SB_E_ORG_NOT_EMPTY, 10,                                                       \
      "The org still has Call Centers; delete them first or force the delete.")                    \
    X(CALLCENTER_HAS_MEMBERS, SB_E_CALLCENTER_HAS_MEMBERS, 11,                                     \
      "The Call Center still has members; remove them first or force the delete.")                 \
    X(ALREADY_MEMBER, SB_E_ALREADY_MEMBER, 12,                                                     \
      "The user already belongs to another Call Center; ask to move the user instead.")            \
    X(NOT_A_MEMBER, SB_E_NOT_A_MEMBER, 13, "The user is not a member of that Call Center.")       \
    X(INTERNAL_NAME_TAKEN, SB_E_INTERNAL_NAME_TAKEN, 14,                                           \
      "Another Call Center in this org already uses that internal name; pick another.")            \
    X(INTERNAL_NAME_IMMUTABLE, SB_E_INTERNAL_NAME_IMMUTABLE, 15,                                   \
      "The internal name of a Call Center never changes; clone it under a new name instead.")      \
    X(INVALID_INTERNAL_NAME, SB_E_INVALID_INTERNAL_NAME, 16,                                       \
      "An internal name is 1 to 40 letters and digits and starts with a letter.")                  \
    X(INVALID_DISPLAY_NAME, SB_E_INVALID_DISPLAY_NAME, 17,                                         \
      "A display name is 1 to 1,000 characters of valid UTF-8.")                                   \
    X(OUT_OF_RANGE, SB_E_OUT_OF_RANGE, 18,                                                         \
      "A number is outside its range: softphone height 240 to 2,560, width 200 to 1,920.")         \
    X(INVALID_COMPATIBILITY_MODE, SB_E_INVALID_COMPATIBILITY_MODE, 19,                             \
      "Compatibility mode is one of Classic, Lightning, Classic_and_Lightning.")                   \
    X(STANDBY_WITHOUT_TIMEOUT, SB_E_STANDBY_WITHOUT_TIMEOUT, 20,                                   \
      "A standby URL and a timeout are set together or not at all.")                               \
    X(FIELD_NOT_IN_SET, SB_E_FIELD_NOT_IN_SET, 21,                                                 \
      "The field set of a Call Center is fixed when it is created; only existing fields change.")  \
    X(MISSING_FIELD, SB_E_MISSING_FIELD, 22, "A required field is missing.")                      \
    X(INVALID_VALUE, SB_E_INVALID_VALUE, 23, "A field's value is not of the form it needs.")      \
    X(INVALID_ID, SB_E_INVALID_ID, 24, "An id is malformed; see the id rules in docs/store.md.")  \
    X(BATCH_TOO_LARGE, SB_E_BATCH_TOO_LARGE, 25, "The batch has too many entries; split it.")     \
    X(STORE_LOCKED, SB_E_STORE_LOCKED, 26,                                                         \
      "Another process has this data directory open for writing; stop it or use another "          \
      "directory.")                                                                                \
    X(BUSY, -EAGAIN, 27, "The store is busy (all reader slots are taken); retry shortly.")        \
    X(PROTOCOL_ERROR, -EPROTO, 28, "The bytes are not a msgpack-RPC request; see docs/protocol.md.") \
    X(UNKNOWN_METHOD, SB_E_UNKNOWN_METHOD, 29,                                                     \
      "There is no such method; docs/protocol.md lists them.")                                     \
    X(UNAUTHENTICATED, SB_E_UNAUTHENTICATED, 30,                                                   \
      "Authenticate first with token.authenticate and a valid token.")                             \
    X(MESSAGE_TOO_LARGE, -EMSGSIZE, 31, "The message is larger than the server's limit.")     \
    X(INVALID_DEFINITION, SB_E_INVALID_DEFINITION, 32,                                             \
      "The file is not a Call Center definition; docs/definitions.md describes both forms.")    \
    X(ADAPTER_UNAVAILABLE, SB_E_ADAPTER_UNAVAILABLE, 33,                                           \
      "The adapter crashed or did not answer in time; it restarts by itself, retry shortly.")     \
    X(LAYOUT_IN_USE, SB_E_LAYOUT_IN_USE, 34,                                                       \
      "The layout is assigned; assign its profiles another layout first, or force the delete.")   \
    X(EVENT_IGNORED, SB_E_EVENT_IGNORED, 35,                                                       \
      "The Call Center's adapter does not map this event; see the adapter's README for its events.") \
    X(DISK_FULL, SB_E_DISK_FULL, 36,                                                               \
      "The disk (or quota) that holds the data directory is full; free space there, nothing of "  \
      "this write was stored.")                                                                   \
    X(REPLY_TOO_LARGE, SB_E_REPLY_TOO_LARGE, 37,                                                   \
      "The reply would pass the server's reply size limit; ask for less (a smaller batch or page).") \
    X(CONNECTION_LIMIT, SB_E_CONNECTION_LIMIT, 38,                                                 \
      "Every connection slot open to this token is taken; close a connection or ask the admin "    \
      "to raise --max-connections.")                                                               \
    X(CHANGES_TRIMMED, SB_E_CHANGES_TRIMMED, 39,                                                   \
      "The changes asked for are no longer kept (--changes-keep, --changes-keep-hours); start "     \
      "again from the first one kept, which the message names.")                                 \
    X(BACKUP_IN_PROGRESS, SB_E_BACKUP_IN_PROGRESS, 41,                                             \
      "A backup is being taken already (one at a time); retry when it ends, or 60 s after its "   \
      "reader stopped reading.")                                                                   \
    X(BACKUP_GONE, SB_E_BACKUP_GONE, 42,                                                           \
      "That backup is over (finished, replaced, or its reader stopped for 60 s); start a new one " \
      "with sbctl backup FILE.")                                                                   \
    X(RULES_INVALID, SB_E_RULES_INVALID, 45,                                                       \
      "The assignment rules cannot work as written; the message names the rule and why.")         \
    X(PLAN_STALE, SB_E_PLAN_STALE, 46,                                                             \
      "The org's users, memberships or rules changed since the plan was made; make the plan "     \
      "again, read it, and apply the new one.")                                                    \
    X(PLAN_TOO_LARGE, SB_E_PLAN_TOO_LARGE, 47,                                                     \
      "The plan is larger than one apply takes; apply the rules in steps (a few rules at a time).") \
    X(NOT_READY, SB_E_NOT_READY, 48,                                                               \
      "The server answers but is not ready to serve (its store, writer or event loop); see its "  \
      "log.")                                                                                      \
    X(NOT_PRIMARY, SB_E_NOT_PRIMARY, 54,                                                           \
      "This server is not its shard's primary (a replica, or a primary another one took over "    \
      "from): send writes to the shard's primary.")                                              \
    X(REPLICA_BEHIND, SB_E_REPLICA_BEHIND, 55,                                                     \
      "This replica has not applied the change asked for (min_seq) within the wait; retry, or "   \
      "read from the primary.")                                                                    \
    X(CLUSTER_UNAVAILABLE, SB_E_CLUSTER_UNAVAILABLE, 56,                                           \
      "The shard's stream (NATS JetStream) did not take the write: too few NATS nodes answer; "   \
      "nothing of this write was stored, retry.")                                                 \
    X(MOVED, SB_E_MOVED, 57,                                                                       \
      "This org lives on another shard now (it was moved): send its requests to the shard the "   \
      "answer names (a cluster client does it by itself).")                                       \
    X(ORG_MOVING, SB_E_ORG_MOVING, 58,                                                             \
      "This org is being moved to another shard and its writes pause for the final catch-up; "    \
      "retry in a moment.")                                                                       \
    X(NOT_CLUSTERED, SB_E_NOT_CLUSTERED, 59,                                                       \
      "This server is not in a cluster (it was started without --cluster): the cluster methods "  \
      "need a member of a cluster.")                                                              \
    X(PROMOTE_REFUSED, SB_E_PROMOTE_REFUSED, 60,                                                   \
      "That member cannot become the shard's primary: it must be a replica of the shard that "    \
      "follows its stream without error, reported within the last seconds, and not far behind; " \
      "see sbctl cluster show.")                                                                  \
    X(PLACEMENT_CHANGED, SB_E_PLACEMENT_CHANGED, 61,                                               \
      "The placement bucket changed while this request used it (another change won the "          \
      "compare-and-set); look again (sbctl cluster show) and retry.") \
    X(NO_ROUTE, SB_E_NO_ROUTE, 62,                                                                 \
      "A cluster client found no member for the request in the placement map (the org is in no "  \
      "shard, or its shard has no member that answers): check sbctl cluster, or name the shard.") \
    X(ORG_NUMBERS_USED_UP, SB_E_ORG_NUMBERS_USED_UP, 67,                                           \
      "This store has given out all of its 4,294,967,295 org numbers (each org created takes one, "\
      "never reused), so it takes no new org: create new orgs on another shard.")                 \
    X(CHANGE_OF_OLDER_SCHEMA, SB_E_CHANGE_OF_OLDER_SCHEMA, 68,                                     \
      "The change was logged before its store moved to schema 5 (its membership keys have the "   \
      "old form), so this store cannot apply it: start the replica again from a backup of the "   \
      "primary taken after the upgrade.")
// clang-format on

/** Filled by functions that refuse; `message` is always NUL-terminated. */
typedef struct sb_err {
    int code;          /* 0 or the negative code that was returned */
    char message[512]; /* a sentence for the operator */
    char field[520];   /* "/section/item" at fault, when a Call Center field is; else "" */
} sb_err_t;

/** Resets `err` (may be NULL) to success. */
void sb_err_clear(sb_err_t *err);

/** Fills `err` (may be NULL) with `code` and a formatted sentence. */
void sb_err_format(sb_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Names the Call Center field at fault ("/section/item"; item may be NULL for a section). */
void sb_err_field(sb_err_t *err, const char *section, const char *item);

/** Puts a formatted prefix ("Row 7: ") in front of the sentence `err` holds. */
void sb_err_prefix(sb_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Fills `err` with `code` and its default sentence, unless it already holds a sentence for it. */
void sb_err_fill_default(sb_err_t *err, int code);

/*
 * The two forms used in `return` statements: they record the error and are
 * worth `code`, so that `return sb_err_set(err, -EINVAL, "...")` reads as one
 * step. They are macros (evaluating `code` once) so that static analysis sees
 * the value they return.
 */
#define sb_err_set(err, code, ...)                                                                 \
    __extension__({                                                                                \
        int sb_code_ = (code);                                                                     \
        sb_err_format((err), sb_code_, __VA_ARGS__);                                               \
        sb_code_;                                                                                  \
    })
#define sb_err_default(err, code)                                                                  \
    __extension__({                                                                                \
        int sb_code_ = (code);                                                                     \
        sb_err_fill_default((err), sb_code_);                                                      \
        sb_code_;                                                                                  \
    })

/**
 * Names the damaged record behind the next CORRUPT error made on this thread
 * ("users/acme/005..."): the store's reads call it where a checksum fails,
 * deep below the function that fills the sb_err_t. The next sb_err_format or
 * sb_err_fill_default of SB_E_CORRUPT on this thread says it (and forgets
 * it); sb_err_note_clear forgets it unsaid (a read that begins anew).
 */
void sb_err_note_corrupt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sb_err_note_clear(void);

/** The stable upper-case name of `code` ("NOT_FOUND"); "INTERNAL" for an unknown code. */
const char *sb_err_name(int code);

/** The stable wire code of `code`; 99 (INTERNAL) for an unknown code. */
int sb_err_wire_code(int code);

/** The default sentence for `code`. [borrowed: static storage] */
const char *sb_err_message(int code);
