#include "record_codec.h"

#include <stdlib.h>
#include <string.h>

/* ---- encoding ---------------------------------------------------------- */

static int pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    return msgpack_pack_str(pk, len) | msgpack_pack_str_body(pk, s, len);
}

/* A key and a string value. */
static int pack_kv_str(msgpack_packer *pk, const char *key, const char *value)
{
    return pack_str(pk, key) | pack_str(pk, value);
}

static int pack_kv_i64(msgpack_packer *pk, const char *key, int64_t value)
{
    return pack_str(pk, key) | msgpack_pack_int64(pk, value);
}

static int done(int packer_status)
{
    /* msgpack-c packers return -1 only when the buffer cannot grow. */
    return packer_status == 0 ? 0 : -ENOMEM;
}

int sb_codec_encode_org(const sb_org_t *org, msgpack_sbuffer *buf)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 3);
    rc |= pack_kv_str(&pk, "id", org->id);
    rc |= pack_kv_str(&pk, "name", org->name);
    rc |= pack_kv_i64(&pk, "created", org->created_ms);
    return done(rc);
}

int sb_codec_encode_user(const sb_user_t *user, msgpack_sbuffer *buf)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    /* The attributes only when set: the record of a user without them is
     * byte for byte what it was before they existed. */
    const char *attr_keys[3] = {"department", "division", "role"};
    const char *attrs[3] = {user->department, user->division, user->role};
    uint32_t n = 3;
    for (int i = 0; i < 3; i++)
        n += attrs[i][0] != '\0';
    n += user->scv_licence;
    int rc = msgpack_pack_map(&pk, n);
    rc |= pack_kv_str(&pk, "id", user->id.s);
    rc |= pack_kv_str(&pk, "name", user->name);
    rc |= pack_kv_str(&pk, "profile", user->profile);
    for (int i = 0; i < 3; i++)
        if (attrs[i][0] != '\0')
            rc |= pack_kv_str(&pk, attr_keys[i], attrs[i]);
    if (user->scv_licence)
        rc |= pack_str(&pk, "scv_licence") | msgpack_pack_true(&pk);
    return done(rc);
}

int sb_codec_encode_token(const sb_token_record_t *rec, msgpack_sbuffer *buf)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 5);
    rc |= pack_kv_str(&pk, "id", rec->id);
    rc |= pack_kv_str(&pk, "org", rec->org);
    rc |= pack_kv_i64(&pk, "role", rec->role);
    rc |= pack_kv_str(&pk, "label", rec->label);
    rc |= pack_kv_i64(&pk, "created", rec->created_ms);
    return done(rc);
}

int sb_codec_encode_callcenter(const sb_callcenter_t *cc, msgpack_sbuffer *buf)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, cc->custom_settings ? 7 : 6);
    rc |= pack_kv_str(&pk, "id", cc->id.s);
    rc |= pack_kv_str(&pk, "adapter", cc->adapter);
    rc |= pack_kv_i64(&pk, "form", cc->form);
    if (cc->custom_settings)
        rc |= pack_kv_str(&pk, "custom_settings", cc->custom_settings);
    rc |= pack_kv_i64(&pk, "created", cc->created_ms);
    rc |= pack_kv_i64(&pk, "updated", cc->updated_ms);
    rc |= pack_str(&pk, "sections");
    rc |= msgpack_pack_array(&pk, cc->n_sections);
    for (size_t s = 0; s < cc->n_sections; s++) {
        const sb_cc_section_t *section = &cc->sections[s];
        rc |= msgpack_pack_map(&pk, 4);
        rc |= pack_kv_str(&pk, "name", section->name);
        rc |= pack_kv_str(&pk, "label", section->label);
        rc |= pack_kv_i64(&pk, "order", section->sort_order);
        rc |= pack_str(&pk, "items");
        rc |= msgpack_pack_array(&pk, section->n_items);
        for (size_t i = 0; i < section->n_items; i++) {
            const sb_cc_item_t *item = &section->items[i];
            rc |= msgpack_pack_map(&pk, 4);
            rc |= pack_kv_str(&pk, "name", item->name);
            rc |= pack_kv_str(&pk, "label", item->label);
            rc |= pack_kv_i64(&pk, "order", item->sort_order);
            rc |= pack_kv_str(&pk, "value", item->value);
        }
    }
    return done(rc);
}

/* ---- decoding ---------------------------------------------------------- */

/* The value of `key` in map `obj`, or NULL. */
static const msgpack_object *map_get(const msgpack_object *obj, const char *key)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t key_len = strlen(key);
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == key_len &&
            memcmp(kv->key.via.str.ptr, key, key_len) == 0)
            return &kv->val;
    }
    return NULL;
}

/* Copies string `key` into a fixed buffer of `cap` bytes (with its NUL). */
static int get_str_into(const msgpack_object *map, const char *key, char *dst, size_t cap)
{
    const msgpack_object *val = map_get(map, key);
    if (val == NULL || val->type != MSGPACK_OBJECT_STR || val->via.str.size >= cap ||
        memchr(val->via.str.ptr, '\0', val->via.str.size) != NULL)
        return SB_E_CORRUPT;
    memcpy(dst, val->via.str.ptr, val->via.str.size);
    dst[val->via.str.size] = '\0';
    return 0;
}

/* A heap copy of string `key`; SB_E_CORRUPT when absent or not a string. */
static int get_str_dup(const msgpack_object *map, const char *key, char **dst)
{
    *dst = NULL;
    const msgpack_object *val = map_get(map, key);
    if (val == NULL || val->type != MSGPACK_OBJECT_STR ||
        memchr(val->via.str.ptr, '\0', val->via.str.size) != NULL)
        return SB_E_CORRUPT;
    *dst = strndup(val->via.str.ptr, val->via.str.size);
    return *dst ? 0 : -ENOMEM;
}

static int get_i64(const msgpack_object *map, const char *key, int64_t *out)
{
    const msgpack_object *val = map_get(map, key);
    if (val == NULL)
        return SB_E_CORRUPT;
    if (val->type == MSGPACK_OBJECT_POSITIVE_INTEGER && val->via.u64 <= INT64_MAX)
        *out = (int64_t)val->via.u64;
    else if (val->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = val->via.i64;
    else
        return SB_E_CORRUPT;
    return 0;
}

static int get_u32(const msgpack_object *map, const char *key, uint32_t *out)
{
    int64_t v = 0;
    if (get_i64(map, key, &v) != 0 || v < 0 || v > UINT32_MAX)
        return SB_E_CORRUPT;
    *out = (uint32_t)v;
    return 0;
}

/* Runs `decode` on the single msgpack object in data[0..len). */
static int with_object(const void *data, size_t len,
                       int (*decode)(const msgpack_object *obj, void *out), void *out)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t off = 0;
    int rc = SB_E_CORRUPT;
    if (msgpack_unpack_next(&unpacked, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len)
        rc = decode(&unpacked.data, out);
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}

static int decode_org(const msgpack_object *obj, void *out)
{
    sb_org_t *org = out;
    int rc = get_str_into(obj, "id", org->id, sizeof(org->id));
    if (rc == 0)
        rc = get_str_into(obj, "name", org->name, sizeof(org->name));
    if (rc == 0)
        rc = get_i64(obj, "created", &org->created_ms);
    return rc;
}

int sb_codec_decode_org(const void *data, size_t len, sb_org_t *org)
{
    memset(org, 0, sizeof(*org));
    int rc = with_object(data, len, decode_org, org);
    if (rc != 0)
        memset(org, 0, sizeof(*org));
    return rc;
}

static int decode_user(const msgpack_object *obj, void *out)
{
    sb_user_t *user = out;
    int rc = get_str_into(obj, "id", user->id.s, sizeof(user->id.s));
    if (rc == 0)
        rc = get_str_into(obj, "name", user->name, sizeof(user->name));
    if (rc == 0)
        rc = get_str_into(obj, "profile", user->profile, sizeof(user->profile));
    /* Optional: records written before the attributes existed have none. */
    if (rc == 0 && map_get(obj, "department") != NULL)
        rc = get_str_into(obj, "department", user->department, sizeof(user->department));
    if (rc == 0 && map_get(obj, "division") != NULL)
        rc = get_str_into(obj, "division", user->division, sizeof(user->division));
    if (rc == 0 && map_get(obj, "role") != NULL)
        rc = get_str_into(obj, "role", user->role, sizeof(user->role));
    const msgpack_object *licence = map_get(obj, "scv_licence");
    if (rc == 0 && licence != NULL) {
        if (licence->type != MSGPACK_OBJECT_BOOLEAN)
            return SB_E_CORRUPT;
        user->scv_licence = licence->via.boolean;
    }
    return rc;
}

int sb_codec_decode_user(const void *data, size_t len, sb_user_t *user)
{
    memset(user, 0, sizeof(*user));
    int rc = with_object(data, len, decode_user, user);
    if (rc != 0)
        memset(user, 0, sizeof(*user));
    return rc;
}

static int decode_token(const msgpack_object *obj, void *out)
{
    sb_token_record_t *rec = out;
    int64_t role = 0;
    int rc = get_str_into(obj, "id", rec->id, sizeof(rec->id));
    if (rc == 0)
        rc = get_str_into(obj, "org", rec->org, sizeof(rec->org));
    if (rc == 0)
        rc = get_str_into(obj, "label", rec->label, sizeof(rec->label));
    if (rc == 0)
        rc = get_i64(obj, "created", &rec->created_ms);
    if (rc == 0)
        rc = get_i64(obj, "role", &role);
    if (rc == 0 && (role < SB_ROLE_READ_ONLY || role > SB_ROLE_ADMIN))
        rc = SB_E_CORRUPT;
    rec->role = (sb_role_t)role;
    return rc;
}

int sb_codec_decode_token(const void *data, size_t len, sb_token_record_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    int rc = with_object(data, len, decode_token, rec);
    if (rc != 0)
        memset(rec, 0, sizeof(*rec));
    return rc;
}

static int decode_item(const msgpack_object *obj, sb_callcenter_t *cc, size_t section)
{
    char *name = NULL, *label = NULL, *value = NULL;
    uint32_t order = 0;
    int rc = get_str_dup(obj, "name", &name);
    if (rc == 0)
        rc = get_str_dup(obj, "label", &label);
    if (rc == 0)
        rc = get_str_dup(obj, "value", &value);
    if (rc == 0)
        rc = get_u32(obj, "order", &order);
    if (rc == 0)
        rc = sb_callcenter_add_item(cc, section, name, label, order, value);
    free(name);
    free(label);
    free(value);
    return rc == SB_E_INVALID_VALUE ? SB_E_CORRUPT : rc;
}

static int decode_section(const msgpack_object *obj, sb_callcenter_t *cc)
{
    char *name = NULL, *label = NULL;
    uint32_t order = 0;
    int rc = get_str_dup(obj, "name", &name);
    if (rc == 0)
        rc = get_str_dup(obj, "label", &label);
    if (rc == 0)
        rc = get_u32(obj, "order", &order);
    int index = rc == 0 ? sb_callcenter_add_section(cc, name, label, order) : rc;
    free(name);
    free(label);
    if (index < 0)
        return index == SB_E_INVALID_VALUE ? SB_E_CORRUPT : index;
    const msgpack_object *items = map_get(obj, "items");
    if (items == NULL || items->type != MSGPACK_OBJECT_ARRAY)
        return SB_E_CORRUPT;
    for (uint32_t i = 0; i < items->via.array.size; i++) {
        rc = decode_item(&items->via.array.ptr[i], cc, (size_t)index);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int decode_callcenter(const msgpack_object *obj, void *out)
{
    sb_callcenter_t *cc = out;
    char *adapter = NULL;
    int rc = get_str_into(obj, "id", cc->id.s, sizeof(cc->id.s));
    if (rc == 0)
        rc = get_str_dup(obj, "adapter", &adapter);
    if (rc == 0) {
        free(cc->adapter);
        cc->adapter = adapter;
        rc = get_i64(obj, "created", &cc->created_ms);
    }
    if (rc == 0)
        rc = get_i64(obj, "updated", &cc->updated_ms);
    /* Optional keys, added in schema 1 after its first records: absent means
     * the default. */
    int64_t form = SB_CC_FORM_IMPORT;
    if (rc == 0 && map_get(obj, "form") != NULL)
        rc = get_i64(obj, "form", &form);
    if (rc == 0 && form != SB_CC_FORM_IMPORT && form != SB_CC_FORM_METADATA)
        rc = SB_E_CORRUPT;
    cc->form = (sb_cc_form_t)form;
    if (rc == 0 && map_get(obj, "custom_settings") != NULL) {
        char *text = NULL;
        rc = get_str_dup(obj, "custom_settings", &text);
        if (rc == 0) {
            free(cc->custom_settings);
            cc->custom_settings = text;
        }
    }
    if (rc != 0)
        return rc;
    const msgpack_object *sections = map_get(obj, "sections");
    if (sections == NULL || sections->type != MSGPACK_OBJECT_ARRAY)
        return SB_E_CORRUPT;
    for (uint32_t s = 0; s < sections->via.array.size; s++) {
        rc = decode_section(&sections->via.array.ptr[s], cc);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int sb_codec_decode_callcenter(const void *data, size_t len, sb_callcenter_t **out)
{
    *out = NULL;
    sb_callcenter_t *cc = sb_callcenter_new();
    if (cc == NULL)
        return -ENOMEM;
    int rc = with_object(data, len, decode_callcenter, cc);
    if (rc != 0) {
        sb_callcenter_free(cc);
        return rc;
    }
    *out = cc;
    return 0;
}
