#pragma once
/*
 * Salesforce-style record ids.
 *
 * A record id is 15 case-sensitive characters (a 3-character key prefix that
 * names the object, such as `04v` for a Call Center or `005` for a user, then
 * 12 letters and digits) plus a 3-character suffix that encodes which of the
 * first 15 are upper case, so that the 18-character form survives systems that
 * ignore case. Switchboard stores and returns the 18-character form and accepts
 * either form on input.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SB_SFID_LEN 18
#define SB_SFID_PREFIX_CALLCENTER "04v"
#define SB_SFID_PREFIX_USER "005"

/** An 18-character id and its NUL. */
typedef struct sb_sfid {
    char s[SB_SFID_LEN + 1];
} sb_sfid_t;

/**
 * Checks `in` (15 or 18 characters, key prefix `prefix`) and writes its
 * 18-character form to `out`. An 18-character id whose suffix does not match
 * its first 15 characters is refused. `what` names the id in the error
 * sentence ("user id"). Returns 0 or SB_E_INVALID_ID; on failure `out` is
 * zeroed.
 */
/** Whether an 18-character id's suffix is the one its first 15 characters
 * give (the suffix only: sb_sfid_normalize checks the rest). */
bool sb_sfid_suffix_matches(const char id18[SB_SFID_LEN]);

int sb_sfid_normalize(const char *in, const char *prefix, const char *what, sb_sfid_t *out,
                      sb_err_t *err);

/**
 * Writes the id with key prefix `prefix` (3 characters) whose 12-character
 * body encodes `counter` in base 62, with its suffix. Distinct counters give
 * distinct ids. (Before issue 12 the store minted ids this way, from one
 * counter for every org, so that an id told how many records other orgs had:
 * new ids come from sb_sfid_from_time; old ones stay valid.)
 */
void sb_sfid_from_counter(const char *prefix, uint64_t counter, sb_sfid_t *out);

/**
 * Writes the id with key prefix `prefix` (3 characters) whose 12-character
 * body is `ms` (milliseconds since the epoch, modulo 62^7: until the year
 * 2081) in 7 base-62 digits, then `random` modulo 62^5 in 5 more, with its
 * suffix. Ids minted this way sort by creation time to the millisecond and
 * say nothing of how many others exist: the body holds no counter. Unlike
 * counters they stay unique when several servers mint them (62^5 choices
 * in each millisecond, in each org); the store retries on a collision.
 */
void sb_sfid_from_time(const char *prefix, uint64_t ms, uint64_t random, sb_sfid_t *out);

/**
 * Checks an org id: 1 to 64 characters of letters, digits, '-' and '_',
 * starting with a letter or digit. Returns 0 or SB_E_INVALID_ID.
 */
int sb_org_id_check(const char *org, sb_err_t *err);

/* The 12 base-62 characters after an id's key prefix, as a big-endian number:
 * 62^12 < 2^72, so 9 bytes. Base 62's digit order (0-9, A-Z, a-z) is ASCII's,
 * so the packed bodies sort as the ids do. */
#define SB_SFID_PACKED_LEN 9

/**
 * Packs the body of `id` (a normalized id: key prefix, 12 letters or digits,
 * suffix) into out. Returns 0, or SB_E_INVALID_ID when a body character is
 * not a base-62 digit (never for an id sb_sfid_normalize accepted).
 */
int sb_sfid_pack(const sb_sfid_t *id, uint8_t out[SB_SFID_PACKED_LEN]);

/**
 * The 18-character id with key prefix `prefix` (3 characters) whose body
 * `in` packs, its suffix recomputed. Returns 0, or SB_E_CORRUPT when `in`
 * is 62^12 or more (no id packs to it); `out` is zeroed then.
 */
int sb_sfid_unpack(const char *prefix, const uint8_t in[SB_SFID_PACKED_LEN], sb_sfid_t *out);

#define SB_ORG_ID_MAX 64
