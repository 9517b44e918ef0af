/*
 * The softphone check over a read transaction (softphone_check.h): two
 * B-tree look-ups for a member (user_cc, then views), up to three for
 * anyone else. The hot path of the read library runs through here: nothing
 * is allocated when the caller gives a buffer, nothing is formatted unless
 * the check fails.
 */
#include "softphone_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callcenter.h"
#include "store_internal.h"

_Static_assert(SB_KEY_MAX >= SB_ORG_ID_MAX + 1 + SB_SFID_LEN, "a user's key fits");
_Static_assert(SB_KEY_MAX >= SB_MEMBER_KEY_LEN, "a membership's key fits");

size_t sb_member_key(uint32_t org_num, const sb_sfid_t *user, uint8_t out[SB_MEMBER_KEY_LEN])
{
    sb_org_num_put(org_num, out);
    if (memcmp(user->s, SB_SFID_PREFIX_USER, 3) != 0 ||
        sb_sfid_pack(user, out + SB_ORG_NUM_LEN) != 0) {
        memset(out, 0, SB_MEMBER_KEY_LEN);
        return 0;
    }
    return SB_MEMBER_KEY_LEN;
}

int sb_member_key_parse(const void *key, size_t len, uint32_t *org_num, sb_sfid_t *user)
{
    *org_num = 0;
    memset(user, 0, sizeof(*user));
    if (len != SB_MEMBER_KEY_LEN)
        return SB_E_CORRUPT;
    const uint8_t *k = key;
    if (sb_sfid_unpack(SB_SFID_PREFIX_USER, k + SB_ORG_NUM_LEN, user) != 0)
        return SB_E_CORRUPT;
    *org_num = sb_org_num_read(k);
    return 0;
}

int sb_org_num_find(MDB_txn *txn, MDB_dbi org_ids, const char *org, size_t len, uint32_t *num,
                    MDB_cursor *reuse)
{
    *num = 0;
    MDB_val k = {len, (void *)org}, v;
    int rc = sb__value_find(txn, org_ids, &k, &v, reuse);
    if (rc == 0 && (v.mv_size != SB_ORG_NUM_LEN || sb_org_num_read(v.mv_data) == 0)) {
        sb__value_damaged(txn, org_ids, &k);
        return MDB_CORRUPTED;
    }
    if (rc == 0)
        *num = sb_org_num_read(v.mv_data);
    return rc;
}

static int get_view(MDB_txn *txn, const sb_softphone_tables_t *tables, const MDB_val *key,
                    MDB_val *view, const sb_softphone_view_t **decoded)
{
    *decoded = NULL;
    if (tables->get_view_decoded != NULL)
        return tables->get_view_decoded(tables->get_view_ctx, txn, tables->views, key, view,
                                        decoded);
    if (tables->get_view != NULL)
        return tables->get_view(tables->get_view_ctx, txn, tables->views, key, view);
    return sb__value_get(txn, tables->views, key, view); /* its checksum checked */
}

/* Moves a decoded view's pointers from the bytes at `from` to their copy at `to`. */
static void view_rebase(sb_softphone_view_t *view, const void *from, void *to)
{
    const char *f = from;
    char *t = to;
    const char **strings[] = {&view->cc_id,   &view->internal_name, &view->display_name,
                              &view->adapter, &view->adapter_url,   &view->layout_name,
                              &view->detail};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
        if (*strings[i] != NULL)
            *strings[i] = t + (*strings[i] - f);
    if (view->layout != NULL)
        view->layout = (const uint8_t *)t + (view->layout - (const uint8_t *)f);
}

/* A member: `member` is user_cc's value, the Call Center's id, the profile
 * and the flags. Copies the profile and the view into the caller's storage. */
static int member_view(MDB_txn *txn, const sb_softphone_tables_t *tables,
                       const sb_softphone_org_t *org, const MDB_val *member,
                       sb_softphone_found_t *found)
{
    size_t profile_len;
    unsigned flags;
    if (sb_member_value_split(member->mv_data, member->mv_size, &profile_len, &flags) != 0)
        return SB_E_CORRUPT;
    memcpy(found->profile, (const char *)member->mv_data + SB_SFID_LEN, profile_len);
    found->profile[profile_len] = '\0';
    char cc[SB_SFID_LEN + 1];
    memcpy(cc, member->mv_data, SB_SFID_LEN);
    cc[SB_SFID_LEN] = '\0';
    char key[SB_KEY_MAX];
    MDB_val k = {sb_softphone_view_key(key, sizeof(key), org->id, cc, found->profile), key}, v;
    if (k.mv_size == 0)
        return -EINVAL; /* never: the org is checked and the profile bounded */
    const sb_softphone_view_t *decoded;
    int rc = get_view(txn, tables, &k, &v, &decoded);
    if (rc == MDB_NOTFOUND)
        return SB_E_CORRUPT; /* the store writes it with the membership */
    if (rc != 0)
        return sb__lmdb_rc(rc);
    /* Copied, so that the answer outlives the transaction; or, asked to
     * refer, decoded where it lies (the caller keeps the transaction). */
    bool allocated = !found->refer && found->record == NULL;
    if (found->refer) {
        found->record = v.mv_data;
    } else if (allocated) {
        if ((found->record = malloc(v.mv_size)) == NULL)
            return -ENOMEM;
    } else if (v.mv_size > found->record_cap) {
        return -E2BIG;
    }
    if (!found->refer)
        memcpy(found->record, v.mv_data, v.mv_size);
    sb_softphone_view_t *view = &found->view;
    if (decoded != NULL) {
        /* Decoded once for this snapshot: its pointers moved to the copy. */
        *view = *decoded;
        if (!found->refer)
            view_rebase(view, v.mv_data, found->record);
    } else if (sb_softphone_view_decode(found->record, v.mv_size, view) != 0 ||
               view->mode > SB_CC_COMPAT_CLASSIC_AND_LIGHTNING) {
        if (allocated)
            free(found->record);
        if (allocated || found->refer)
            found->record = NULL;
        return SB_E_CORRUPT;
    }
    found->record_len = v.mv_size;
    found->reason = view->reason;
    /* Salesforce shows no softphone of a Service Cloud Voice Call Center to a
     * member without the licence, whatever else holds: the user's own fix. */
    if (view->scv && (flags & SB_MEMBER_SCV_LICENCE) == 0)
        found->reason = SB_SOFTPHONE_NO_SCV_LICENCE;
    if (sb_softphone_url_for(view->adapter_url, found->user, found->adapter_url, SB_VIEW_URL_MAX) !=
        0)
        found->adapter_url[0] = '\0'; /* longer than an answer holds: none rather than cut */
    return 0;
}

int sb_softphone_check_txn(MDB_txn *txn, const sb_softphone_tables_t *tables,
                           const sb_softphone_org_t *org, const char *user,
                           sb_softphone_found_t *found, sb_err_t *err)
{
    found->reason = SB_SOFTPHONE_OK;
    found->record_len = 0;
    found->profile[0] = '\0';
    found->adapter_url[0] = '\0';
    sb_sfid_t id;
    if (found->user_normalized && user != NULL && strnlen(user, SB_SFID_LEN + 1) == SB_SFID_LEN) {
        /* Trusted (a batch of ids the caller's earlier answers gave): not
         * normalized again. The length is still checked (the key below
         * copies SB_SFID_LEN bytes), and the suffix, cheaply: the key holds
         * only the 12 characters after 005, so an id with another suffix
         * would find that user and be answered under the wrong id. */
        memcpy(id.s, user, SB_SFID_LEN + 1);
        if (!sb_sfid_suffix_matches(id.s)) {
            found->reason = SB_SOFTPHONE_UNKNOWN_USER;
            snprintf(found->user, SB_SFID_LEN + 1, "%s", user); /* as given */
            return 0;
        }
    } else if (user == NULL ||
               sb_sfid_normalize(user, SB_SFID_PREFIX_USER, "user id", &id, NULL) != 0) {
        found->reason = SB_SOFTPHONE_INVALID_USER_ID;
        snprintf(found->user, SB_SFID_LEN + 1, "%s", user ? user : ""); /* as given */
        return 0;
    }
    memcpy(found->user, id.s, SB_SFID_LEN + 1);
    if (org->rc != 0)
        return sb_org_id_check(org->id, err); /* the sentence, now that it is needed */
    if (org->len > SB_ORG_ID_MAX) /* checked by sb_softphone_org_init; the copy is checked here */
        return sb_err_default(err, -EINVAL);

    /* The org's number, then (number, user): the key of user_cc. `lmdb`
     * holds LMDB's codes, `rc` the store's. */
    uint32_t num;
    uint8_t mkey[SB_MEMBER_KEY_LEN];
    MDB_val v;
    int rc = 0;
    int lmdb =
        tables->get_org_num != NULL
            ? tables->get_org_num(tables->get_org_num_ctx, txn, tables->org_ids, org->id, org->len,
                                  &num)
            : sb_org_num_find(txn, tables->org_ids, org->id, org->len, &num, tables->cursors[3]);
    if (lmdb == MDB_NOTFOUND) {
        /* No number: no org (-ENOENT), or one whose number was lost. */
        MDB_val ok = {org->len, (void *)org->id};
        lmdb = sb__value_find(txn, tables->orgs, &ok, &v, tables->cursors[0]);
        rc = lmdb == 0 ? SB_E_CORRUPT : sb__lmdb_rc(lmdb);
    } else if (lmdb == 0) {
        MDB_val mk = {sb_member_key(num, &id, mkey), mkey};
        if (mk.mv_size == 0)
            rc = -EINVAL; /* never: the id was normalized */
        else
            lmdb = sb__value_find(txn, tables->user_cc, &mk, &v, tables->cursors[2]);
    }
    if (rc != 0) {
        /* answered above */
    } else if (lmdb == 0) {
        rc = member_view(txn, tables, org, &v, found);
    } else if (lmdb == MDB_NOTFOUND) {
        /* Not a member: a known user, or an unknown one of an org that
         * exists (it has a number). Each is checked as read
         * (sb__value_get): "not found" is an answer, and a damaged record
         * beside where a key should be makes it CORRUPT. users' key is
         * org \0 user. */
        char key[SB_ORG_ID_MAX + 1 + SB_SFID_LEN];
        memcpy(key, org->id, org->len);
        key[org->len] = '\0';
        memcpy(key + org->len + 1, id.s, SB_SFID_LEN);
        MDB_val k = {org->len + 1 + SB_SFID_LEN, key};
        lmdb = sb__value_find(txn, tables->users, &k, &v, tables->cursors[1]);
        if (lmdb == MDB_NOTFOUND) {
            MDB_val ok = {org->len, (void *)org->id};
            lmdb = sb__value_find(txn, tables->orgs, &ok, &v, tables->cursors[0]);
            if (lmdb == 0)
                found->reason = SB_SOFTPHONE_UNKNOWN_USER;
        } else if (lmdb == 0) {
            found->reason = SB_SOFTPHONE_NOT_A_MEMBER;
        }
        rc = sb__lmdb_rc(lmdb);
    } else {
        rc = sb__lmdb_rc(lmdb);
    }
    if (rc == 0)
        return 0;
    found->reason = SB_SOFTPHONE_OK; /* nothing half made: the user's id alone stays */
    found->record_len = 0;
    found->profile[0] = '\0';
    found->adapter_url[0] = '\0';
    if (rc == -ENOENT)
        return sb_err_set(err, -ENOENT, "The org '%s' does not exist.", org->id);
    if (rc == SB_E_CORRUPT)
        return sb_err_set(err, SB_E_CORRUPT,
                          "The softphone index of user %s in org '%s' is unreadable; restore "
                          "from a backup.",
                          id.s, org->id);
    if (rc == -E2BIG)
        return sb_err_set(err, -E2BIG,
                          "The softphone view of user %s in org '%s' is larger than an answer "
                          "holds (%zu bytes).",
                          id.s, org->id, found->record_cap);
    return sb_err_default(err, rc);
}
