#pragma once
/*
 * Access tokens: 32 random bytes, shown to their owner once as
 * "sbt_" + URL-safe base64, and stored only as their BLAKE2b-256 hash
 * (libsodium's generic hash: the tokens are random, so a fast hash is the
 * right one; a password hash would add nothing but cost).
 */

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

#define SB_TOKEN_PREFIX "sbt_"
#define SB_TOKEN_TEXT_MAX 64 /* "sbt_" and 43 characters, with room */

/** Initializes libsodium. Returns 0 or -EIO. */
int sb_token_init(void);

/** A new random token in `text` (NUL-terminated) and its hash. */
void sb_token_generate(char text[SB_TOKEN_TEXT_MAX + 1], uint8_t hash[SB_TOKEN_HASH_BYTES]);

/** A new random public id for a token record ("tk_" and 12 hex digits). */
void sb_token_new_id(char id[SB_TOKEN_ID_MAX + 1]);

/** The hash of `text` (whitespace around it ignored, as when read from a file). */
void sb_token_hash(const char *text, uint8_t hash[SB_TOKEN_HASH_BYTES]);

/** "read_only", "org_admin", "admin". */
const char *sb_role_name(sb_role_t role);
/** Parses a role name. Returns 0 or -EINVAL. */
int sb_role_parse(const char *name, sb_role_t *role);

/**
 * Makes sure the admin token of the data directory exists: reads
 * DATA_DIR/admin.token, or creates it (mode 0600) with a new token, and
 * registers its hash as the one admin token (older admin tokens are
 * revoked). *created says whether a new file was written.
 */
int sb_token_ensure_admin(sb_store_t *store, const char *data_dir, int *created, sb_err_t *err);
