#pragma once
/*
 * The msgpack form of stored records. Every record is a map with named keys,
 * so that a later schema can add keys that this build skips.
 *
 * Decoders treat their input as untrusted: a value of the wrong type, a string
 * too long for its field, or bytes that are not msgpack give SB_E_CORRUPT.
 */

#include <msgpack.h>
#include <stddef.h>

#include "callcenter.h"
#include "records.h"

/** Appends the encoding of `org` to `buf`. Returns 0 or -ENOMEM. */
int sb_codec_encode_org(const sb_org_t *org, msgpack_sbuffer *buf);
/** Decodes an org. Returns 0 or SB_E_CORRUPT; on failure *org is zeroed. */
int sb_codec_decode_org(const void *data, size_t len, sb_org_t *org);

int sb_codec_encode_user(const sb_user_t *user, msgpack_sbuffer *buf);
int sb_codec_decode_user(const void *data, size_t len, sb_user_t *user);

int sb_codec_encode_callcenter(const sb_callcenter_t *cc, msgpack_sbuffer *buf);
/** Decodes a Call Center. Returns 0, SB_E_CORRUPT or -ENOMEM; *out is NULL on failure. */
int sb_codec_decode_callcenter(const void *data, size_t len, sb_callcenter_t **out);

int sb_codec_encode_token(const sb_token_record_t *rec, msgpack_sbuffer *buf);
int sb_codec_decode_token(const void *data, size_t len, sb_token_record_t *rec);
