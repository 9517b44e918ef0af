#include "dataset.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callcenter.h"
#include "client.h"
#include "layout.h"
#include "store.h"

void sb_ds_org(const sb_dataset_t *ds, uint64_t i, char out[16])
{
    snprintf(out, 16, "org%u", (unsigned)(i % ds->orgs));
}

void sb_ds_user(uint64_t i, char out[19])
{
    char id15[24];
    snprintf(id15, sizeof(id15), "005%012llu", (unsigned long long)(i % 1000000000000ULL));
    sb_sfid_t id;
    sb_sfid_normalize(id15, SB_SFID_PREFIX_USER, "user id", &id, NULL);
    memcpy(out, id.s, 19);
}

/* splitmix64: a well-mixed hash of (seed, i). */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint32_t sb_ds_cc_slot(const sb_dataset_t *ds, uint64_t i)
{
    return (uint32_t)(mix(ds->seed ^ mix(i)) % (ds->callcenters / ds->orgs));
}

void sb_ds_cc_name(const sb_dataset_t *ds, uint32_t org_index, uint32_t slot, char out[24])
{
    snprintf(out, 24, "CC%u", slot * ds->orgs + org_index);
}

uint64_t sb_ds_next(uint64_t *state, uint64_t n)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return ((x * 2685821657736338717ULL) >> 11) % n;
}

static int fail(const char *what, const sb_err_t *err)
{
    fprintf(stderr, "sbbench load: %s: %s\n", what, err->message);
    return -1;
}

/* The example layout, parsed as layout.put parses it. */
static int read_layout(const char *path, sb_layout_t *layout)
{
    json_error_t jerr;
    json_t *json = json_load_file(path, 0, &jerr);
    if (json == NULL) {
        fprintf(stderr, "sbbench load: %s: %s\n", path, jerr.text);
        return -1;
    }
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    int rc = sb_client_pack_json(&pk, json);
    json_decref(json);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    sb_err_t err;
    sb_err_clear(&err);
    if (rc == 0 && msgpack_unpack_next(&u, buf.data, buf.size, &off) == MSGPACK_UNPACK_SUCCESS)
        rc = sb_layout_parse(&u.data, layout, &err);
    else
        rc = sb_err_set(&err, -EINVAL, "cannot pack the layout");
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
    return rc == 0 ? 0 : fail(path, &err);
}

/* An org, its Call Centers and its default layout. */
static int load_org(const sb_dataset_t *ds, sb_store_t *store, uint32_t o,
                    const sb_layout_t *layout, sb_sfid_t *cc_ids)
{
    char org[16];
    sb_err_t err;
    sb_ds_org(ds, o, org);
    if (sb_store_org_create(store, org, NULL, &err) != 0)
        return fail(org, &err);
    for (uint32_t slot = 0; slot < ds->callcenters / ds->orgs; slot++) {
        char name[24];
        sb_ds_cc_name(ds, o, slot, name);
        sb_cc_fields_t fields = {
            .internal_name = name,
            .display_name = name,
            .adapter_url = "https://softphone.example.com/cti",
            .softphone_height = 500,
            .softphone_width = 320,
            .compatibility_mode = "Lightning",
        };
        sb_callcenter_t *def = NULL, *cc = NULL;
        if (sb_callcenter_from_fields(&fields, &def, &err) != 0 ||
            sb_store_cc_create(store, org, def, &cc, &err) != 0) {
            sb_callcenter_free(def);
            return fail(name, &err);
        }
        cc_ids[slot] = cc->id;
        sb_callcenter_free(def);
        sb_callcenter_free(cc);
    }
    if (sb_store_layout_put(store, org, layout, true, &err) != 0)
        return fail("layout", &err);
    return 0;
}

/* Users o, o + M, o + 2M, ... of org o, in bulk calls of up to `chunk`. */
static int load_members(const sb_dataset_t *ds, sb_store_t *store, uint32_t o,
                        const sb_sfid_t *cc_ids, sb_user_t *users, sb_member_assignment_t *rows,
                        size_t chunk)
{
    char org[16];
    sb_err_t err;
    sb_ds_org(ds, o, org);
    uint64_t i = o;
    while (i < ds->users) {
        size_t n = 0;
        for (; n < chunk && i < ds->users; n++, i += ds->orgs) {
            memset(&users[n], 0, sizeof(users[n]));
            sb_ds_user(i, users[n].id.s);
            snprintf(users[n].name, sizeof(users[n].name), "User %llu", (unsigned long long)i);
            snprintf(users[n].profile, sizeof(users[n].profile), "Agent");
            rows[n].user = users[n].id.s;
            rows[n].callcenter = cc_ids[sb_ds_cc_slot(ds, i)].s;
        }
        if (sb_store_user_upsert_bulk(store, org, users, n, &err) != 0 ||
            sb_store_member_add_bulk(store, org, rows, n, false, &err) != 0)
            return fail(org, &err);
    }
    return 0;
}

int sb_ds_load(const sb_dataset_t *ds, const char *dir, const char *layout_json)
{
    if (ds->orgs == 0 || ds->callcenters < 2 * ds->orgs) {
        fprintf(stderr, "sbbench load: give at least two Call Centers per org (K >= 2M)\n");
        return -1;
    }
    sb_layout_t *layout = malloc(sizeof(*layout));
    if (layout == NULL || read_layout(layout_json, layout) != 0) {
        free(layout);
        return -1;
    }
    sb_store_opts_t opts = {.dir = dir, .durability = SB_DURABILITY_NONE};
    sb_store_t *store;
    sb_err_t err;
    if (sb_store_open(&opts, &store, &err) != 0) {
        free(layout);
        return fail(dir, &err);
    }
    const size_t chunk = 50000;
    uint32_t per_org = ds->callcenters / ds->orgs;
    sb_sfid_t *cc_ids = calloc(per_org, sizeof(*cc_ids));
    sb_user_t *users = calloc(chunk, sizeof(*users));
    sb_member_assignment_t *rows = calloc(chunk, sizeof(*rows));
    int rc = cc_ids && users && rows ? 0 : -1;
    for (uint32_t o = 0; rc == 0 && o < ds->orgs; o++) {
        rc = load_org(ds, store, o, layout, cc_ids);
        if (rc == 0)
            rc = load_members(ds, store, o, cc_ids, users, rows, chunk);
        if (o % 10 == 9 || o + 1 == ds->orgs)
            fprintf(stderr, "\rsbbench load: %u of %u orgs", o + 1, ds->orgs);
    }
    fprintf(stderr, "\n");
    free(cc_ids);
    free(users);
    free(rows);
    free(layout);
    sb_store_close(store);
    return rc;
}
