#pragma once
/*
 * Small msgpack helpers that records, the store and the wire all use:
 * reading a key of a map, copying a string with its bound checked, and
 * packing strings and key-value pairs.
 */

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- reading helpers ---------------------------------------------------- */

/** The value of `key` in map `map`, or NULL (also when it is nil, or map is not a map). */
const msgpack_object *sb_obj_get(const msgpack_object *map, const char *key);
/** Copies string `obj` into buf; -1 when it is not a string, holds a NUL, or does not fit. */
int sb_obj_copy_str(const msgpack_object *obj, char *buf, size_t cap);

/* ---- packing helpers ---------------------------------------------------- */

/** Packs a NUL-terminated string. */
int sb_pack_str(msgpack_packer *pk, const char *s);
/** Packs a key and a string value; a NULL value packs nil. */
int sb_pack_kv_str(msgpack_packer *pk, const char *key, const char *value);
int sb_pack_kv_int(msgpack_packer *pk, const char *key, int64_t value);
int sb_pack_kv_uint(msgpack_packer *pk, const char *key, uint64_t value);
int sb_pack_kv_bool(msgpack_packer *pk, const char *key, bool value);
