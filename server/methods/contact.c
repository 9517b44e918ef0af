/* contact.*: the records a call's ANI is matched against, imported in bulk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"

void sb__dialing_of(const sb_callcenter_t *cc, const char *country_code, sb_dialing_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *outside = sb_callcenter_value(cc, SB_CC_DIALING, SB_CC_OUTSIDE_PREFIX);
    const char *ld = sb_callcenter_value(cc, SB_CC_DIALING, SB_CC_LONG_DIST_PREFIX);
    const char *intl = sb_callcenter_value(cc, SB_CC_DIALING, SB_CC_INTL_PREFIX);
    snprintf(out->outside, sizeof(out->outside), "%s", outside ? outside : "");
    snprintf(out->long_distance, sizeof(out->long_distance), "%s", ld ? ld : "");
    snprintf(out->international, sizeof(out->international), "%s", intl ? intl : "");
    snprintf(out->country_code, sizeof(out->country_code), "%s", country_code ? country_code : "1");
}

static int pack_contact(msgpack_packer *pk, const sb_contact_t *c)
{
    int rc = msgpack_pack_map(pk, 4) | sb_pack_kv_str(pk, "id", c->id.s) |
             sb_pack_kv_str(pk, "type", sb_object_name(c->type)) |
             sb_pack_kv_str(pk, "name", c->name) | sb_pack_str(pk, "phones") |
             msgpack_pack_array(pk, c->n_phones);
    for (size_t i = 0; i < c->n_phones; i++)
        rc |= sb_pack_str(pk, c->phones[i]);
    return rc;
}

/* One row {id, name, phones: [raw], type?} into *out, its numbers normalized. */
static int read_contact(sb_call_t *call, const msgpack_object *row, const sb_dialing_t *dialing,
                        sb_contact_t *out, sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    const char *id = sb_obj_str(call, sb_obj_get(row, "id"));
    const char *name = sb_obj_str(call, sb_obj_get(row, "name"));
    const char *type = sb_obj_str(call, sb_obj_get(row, "type"));
    const msgpack_object *phones = sb_obj_get(row, "phones");
    if (row->type != MSGPACK_OBJECT_MAP || id == NULL || name == NULL)
        return sb_err_set(err, -EINVAL, "a contact is a map {id, name, phones, type}.");
    if (sb_contact_type_of(id, &out->type) != 0)
        return sb_err_set(err, SB_E_INVALID_ID,
                          "'%.40s' is not the id of a Contact (003), Account (001), Lead (00Q) or "
                          "Case (500).",
                          id);
    sb_object_t named;
    if (type != NULL && type[0] != '\0' &&
        (sb_object_parse(type, &named) != 0 || named != out->type))
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "the type '%.40s' does not match the id %.18s, which is a %s's.", type,
                          id, sb_object_name(out->type));
    int rc = sb_sfid_normalize(id, sb_contact_prefix(out->type), "contact id", &out->id, err);
    if (rc != 0)
        return rc;
    if (strlen(name) > SB_CONTACT_NAME_MAX)
        return sb_err_set(err, SB_E_INVALID_VALUE, "the name is longer than %d bytes.",
                          SB_CONTACT_NAME_MAX);
    memcpy(out->name, name, strlen(name) + 1);
    if (phones != NULL && phones->type != MSGPACK_OBJECT_ARRAY)
        return sb_err_set(err, -EINVAL, "'phones' is a list of phone numbers.");
    for (uint32_t i = 0; phones && i < phones->via.array.size; i++) {
        const char *raw = sb_obj_str(call, &phones->via.array.ptr[i]);
        if (raw == NULL || raw[0] == '\0')
            continue; /* an empty column */
        if (out->n_phones == SB_CONTACT_PHONES)
            return sb_err_set(err, SB_E_INVALID_VALUE, "a contact keeps at most %d numbers.",
                              SB_CONTACT_PHONES);
        char why[256];
        if (sb_phone_normalize(raw, dialing, out->phones[out->n_phones], why, sizeof(why)) != 0)
            return sb_err_set(err, SB_E_INVALID_VALUE, "%s.", why);
        out->n_phones++;
    }
    return 0;
}

struct bulk_ctx {
    sb_call_t *call;
    const sb_contact_t *contacts;
    size_t n;
};

static int upsert_bulk_cb(void *vctx, sb_err_t *err)
{
    struct bulk_ctx *ctx = vctx;
    return sb_store_contact_upsert_bulk(ctx->call->svc->store, ctx->call->org, ctx->contacts,
                                        ctx->n, err);
}

static int contact_upsert_bulk(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const msgpack_object *rows = sb_arg_obj(call, "contacts");
    size_t n = rows->via.array.size;
    if (n == 0 || n > call->svc->config->max_batch)
        return sb_err_set(err, SB_E_BATCH_TOO_LARGE,
                          "contact.upsert_bulk takes 1 to %zu contacts; this request has %zu. "
                          "Split it.",
                          call->svc->config->max_batch, n);
    const char *country = sb_arg_str(call, "country_code");
    if (country != NULL && (strlen(country) < 1 || strlen(country) > 3 ||
                            strspn(country, "0123456789") != strlen(country) || country[0] == '0'))
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "The country code is 1 to 3 digits, not starting with 0 (1 for North "
                          "America, 44 for the UK).");
    sb_callcenter_t *cc = NULL;
    int rc = sb__load_cc(call, sb_arg_str(call, "callcenter"), &cc, err);
    if (rc != 0)
        return rc;
    sb_dialing_t dialing;
    sb__dialing_of(cc, country, &dialing);
    sb_callcenter_free(cc);
    sb_contact_t *contacts = calloc(n, sizeof(*contacts));
    if (contacts == NULL)
        return sb_err_default(err, -ENOMEM);
    int64_t first = sb_arg_int(call, "first_line", 0);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = read_contact(call, &rows->via.array.ptr[i], &dialing, &contacts[i], err);
        if (rc != 0 && first > 0)
            sb_err_prefix(err,
                          "Line %lld (nothing was written): ", (long long)first + (long long)i);
        else if (rc != 0)
            sb_err_prefix(err, "Row %zu (nothing was written): ", i + 1);
    }
    bool dry_run = sb_arg_bool(call, "dry_run", false);
    struct bulk_ctx ctx = {call, contacts, n};
    /* A dry run makes the write and drops it, so that it checks what the
     * store checks too (the org, every stored rule), not only the rows. */
    if (rc == 0 && dry_run)
        rc = sb_store_dry_run(call->svc->store, upsert_bulk_cb, &ctx, err);
    else if (rc == 0)
        rc = upsert_bulk_cb(&ctx, err);
    size_t numbers = 0;
    for (size_t i = 0; i < n; i++)
        numbers += contacts[i].n_phones;
    free(contacts);
    if (rc != 0)
        return rc;
    return msgpack_pack_map(pk, 3) | sb_pack_kv_uint(pk, dry_run ? "checked" : "upserted", n) |
           sb_pack_kv_uint(pk, "numbers", numbers) | sb_pack_kv_bool(pk, "dry_run", dry_run);
}

static int contact_get(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_contact_t c;
    int rc = sb_store_contact_get(call->svc->store, call->org, sb_arg_str(call, "id"), &c, err);
    return rc == 0 ? pack_contact(pk, &c) : rc;
}

static int contact_list(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_contact_t *rows;
    size_t n;
    bool more;
    int rc = sb_store_contact_list(call->svc->store, call->org, sb_arg_str(call, "after"),
                                   sb_arg_limit(call), &rows, &n, &more, err);
    if (rc != 0)
        return rc;
    rc = msgpack_pack_map(pk, 2) | sb_pack_str(pk, "contacts") | msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        rc |= pack_contact(pk, &rows[i]);
    rc |= sb_pack_kv_bool(pk, "more", more);
    free(rows);
    return rc;
}

static const sb_method_t methods[] = {
    {"contact.upsert_bulk",
     "Creates or replaces contacts (Contact, Account, Lead, Case) with their phone numbers, "
     "normalized to E.164 with the Call Center's dialing prefixes: all or nothing.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     contact_upsert_bulk,
     {SB_ARG_ORG,
      {"callcenter", SB_ARG_STRING, true,
       "the Call Center whose dialing prefixes read the numbers (id or internal name)"},
      {"contacts", SB_ARG_ARRAY, true,
       "[{id (003, 001, 00Q or 500), name, phones: [number], type (optional, checked)}]"},
      {"country_code", SB_ARG_STRING, false, "the country code of national numbers (default 1)"},
      {"dry_run", SB_ARG_BOOLEAN, false, "check and normalize only; write nothing"},
      {"first_line", SB_ARG_INTEGER, false,
       "the file line of the first contact, so that errors name lines"}},
     "{upserted (or checked): count, numbers: count, dry_run}",
     "NOT_FOUND INVALID_ID INVALID_VALUE BATCH_TOO_LARGE"},
    {"contact.get",
     "A contact and its numbers.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     contact_get,
     {SB_ARG_ORG, {"id", SB_ARG_STRING, true, "the contact's id"}},
     "{id, type, name, phones: [E.164]}",
     "NOT_FOUND INVALID_ID"},
    {"contact.list",
     "The org's contacts, by id, a page at a time.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     contact_list,
     {SB_ARG_ORG, SB_ARGS_PAGE("contacts")},
     "{contacts: [contact], more}",
     "NOT_FOUND (the org)"},
};

const sb_method_slice_t sb__contact_methods = {methods, sizeof(methods) / sizeof(methods[0])};
