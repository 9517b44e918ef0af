#include "pack.h"

#include <string.h>

int sb_pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    return msgpack_pack_str(pk, len) | msgpack_pack_str_body(pk, s, len);
}

int sb_pack_kv_str(msgpack_packer *pk, const char *key, const char *value)
{
    return sb_pack_str(pk, key) | (value ? sb_pack_str(pk, value) : msgpack_pack_nil(pk));
}

int sb_pack_kv_int(msgpack_packer *pk, const char *key, int64_t value)
{
    return sb_pack_str(pk, key) | msgpack_pack_int64(pk, value);
}

int sb_pack_kv_uint(msgpack_packer *pk, const char *key, uint64_t value)
{
    return sb_pack_str(pk, key) | msgpack_pack_uint64(pk, value);
}

int sb_pack_kv_bool(msgpack_packer *pk, const char *key, bool value)
{
    return sb_pack_str(pk, key) | (value ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
}

const msgpack_object *sb_obj_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t len = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == len &&
            memcmp(kv->key.via.str.ptr, key, len) == 0)
            return kv->val.type == MSGPACK_OBJECT_NIL ? NULL : &kv->val;
    }
    return NULL;
}

int sb_obj_copy_str(const msgpack_object *obj, char *buf, size_t cap)
{
    if (obj == NULL || obj->type != MSGPACK_OBJECT_STR || obj->via.str.size >= cap ||
        memchr(obj->via.str.ptr, '\0', obj->via.str.size) != NULL)
        return -1;
    memcpy(buf, obj->via.str.ptr, obj->via.str.size);
    buf[obj->via.str.size] = '\0';
    return 0;
}
