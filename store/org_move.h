#pragma once
/*
 * Moving an org between servers (issue 19; docs/cluster.md, "Moving an
 * org"): the org's records read out in pages, written in on the other side,
 * compared by a digest, and the org's move state, which the server's
 * dispatch consults on every request for the org.
 *
 * A record, as the pages carry it (msgpack):
 *   [db, suffix, values]
 *     db      the database's name (store_internal.h lists them)
 *     suffix  the key after the org's prefix (sb__org_prefix): "" for the
 *             org's one key (orgs, and rules' "org\0"); the whole key for tokens, which
 *             are not keyed by org
 *     values  the key's values without their checksums: one, several for a
 *             database with duplicates, none for a key that is gone (the
 *             target deletes it); nil: every key beginning with prefix +
 *             suffix is gone (a logged prefix delete)
 * The target deletes the key and puts every value, so that a record says
 * everything about its key and applying it twice changes nothing.
 */
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/** Where a socket path or shard name that a moved org went to ends. */
#define SB_MOVE_TO_MAX 255
/** The longest page cursor: a database index and a key. */
#define SB_MOVE_CURSOR_MAX 520

typedef enum sb_org_move_state {
    SB_ORG_MOVE_NONE = 0,      /* serving as usual */
    SB_ORG_MOVE_RECEIVING = 1, /* target: records arriving; hidden from the org's tokens */
    SB_ORG_MOVE_FROZEN = 2,    /* source: writes answer ORG_MOVING, reads go on */
    SB_ORG_MOVE_MOVED = 3,     /* source: every request answers MOVED naming `to` */
} sb_org_move_state_t;

typedef struct sb_org_move {
    sb_org_move_state_t state;
    char to[SB_MOVE_TO_MAX + 1]; /* MOVED's destination; "" otherwise */
} sb_org_move_t;

/** "none", "receiving", "frozen" or "moved". */
const char *sb_org_move_state_name(sb_org_move_state_t state);

/**
 * The move state of `org`. Cheap while no org of this store was ever in a
 * move (a flag, no read): the dispatch asks it on every request.
 */
int sb_store_org_move_get(sb_store_t *store, const char *org, sb_org_move_t *out, sb_err_t *err);

/**
 * Sets the move state of `org` (kept in meta, so that it outlives a
 * restart): NONE forgets it. `to` only for MOVED. Checks the transition:
 * FROZEN only from NONE with the org present; RECEIVING only from NONE
 * with the org absent (ORG_EXISTS otherwise); MOVED only from FROZEN or
 * MOVED (to the same place).
 */
int sb_store_org_move_set(sb_store_t *store, const char *org, sb_org_move_state_t state,
                          const char *to, sb_err_t *err);

/** A page of records (packed as a msgpack array of records) and where the next starts. */
typedef struct sb_move_page {
    msgpack_sbuffer records;            /* the array, packed [owned: sb_move_page_free] */
    size_t n;                           /* records in it */
    size_t bytes;                       /* their packed size */
    bool more;                          /* another page follows */
    uint8_t cursor[SB_MOVE_CURSOR_MAX]; /* export: where the next page starts */
    size_t cursor_len;
    uint64_t seq;      /* export: the change-log sequence of the page's snapshot */
    uint64_t next_seq; /* changes: the first entry the next page reads */
    uint64_t last_seq; /* changes: the log's last sequence in the snapshot */
    uint64_t org_seq;  /* the org's last own number (changes_org) in the snapshot */
} sb_move_page_t;

void sb_move_page_free(sb_move_page_t *page);

/**
 * One page of the org's records, from `cursor` (len 0: the start) on, about
 * `max_bytes` at most (one record at least), in one read snapshot whose
 * sequence is page->seq. Records of later pages may be newer than the
 * first page's seq: the changes since it (sb_store_org_changes) bring every
 * key written after it again.
 */
int sb_store_org_export(sb_store_t *store, const char *org, const uint8_t *cursor,
                        size_t cursor_len, size_t max_bytes, sb_move_page_t *page, sb_err_t *err);

/**
 * The org's keys that the change-log entries from `from` on touched, with
 * their current values (a record each, in the log's order; a prefix delete
 * as a nil record before the keys written after it), about `max_bytes` at
 * most, whole entries only. -ERANGE (CHANGES_TRIMMED's sentence) when the
 * log no longer holds entry `from`.
 */
int sb_store_org_changes(sb_store_t *store, const char *org, uint64_t from, size_t max_bytes,
                         sb_move_page_t *page, sb_err_t *err);

/**
 * Writes `records` (an array of records as above) for `org`, each key
 * built with the org's prefix here; through sb__put and sb__del, so that
 * the values are sealed and the changes logged. Refuses a record of a
 * database that does not move, a key that does not fit, a token of another
 * org or an admin token, with nothing written.
 */
int sb_store_org_import(sb_store_t *store, const char *org, const msgpack_object *records,
                        size_t *written, sb_err_t *err);

/**
 * Deletes up to `max` of the org's records (every database but tokens when
 * `keep_tokens`) through the log; *left says whether some remain.
 */
int sb_store_org_purge(sb_store_t *store, const char *org, bool keep_tokens, size_t max, bool *left,
                       sb_err_t *err);

/** Raises the org's own numbering to at least `org_seq` (the source's last). */
int sb_store_org_seq_raise(sb_store_t *store, const char *org, uint64_t org_seq, sb_err_t *err);

#define SB_MOVE_DIGEST_BYTES 32

/**
 * BLAKE2b-256 over the org's records in one snapshot, in the export's
 * canonical order (orgs first, then the databases by name; keys in key
 * order; a key's duplicates in their order), each as the lengths and bytes
 * of db, suffix and value. *records counts them.
 */
int sb_store_org_digest(sb_store_t *store, const char *org, uint8_t out[SB_MOVE_DIGEST_BYTES],
                        uint64_t *records, sb_err_t *err);
