/*
 * Softphone views (softphone_view.h): computed at write time, read by the
 * check in two look-ups (softphone_check.c, which the read library shares).
 *
 *   user_cc  (org number, user)   -> cc id (18 bytes) + the user's profile
 *   views    org\0cc id\0profile  -> the view of that Call Center for that profile
 *
 * A view exists for every (Call Center, profile) pair that some member has;
 * sb__view_ensure makes it when a member arrives with a new pair. Whatever a
 * view depends on refreshes the views it touches, in the same transaction:
 * a Call Center's change (its views), a layout's change or assignment (the
 * org's views), the adapter set (every view: sb_store_views_refresh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record_codec.h"
#include "softphone_check.h"
#include "store_internal.h"

void sb_store_set_renderer(sb_store_t *store, sb_store_renderer_fn fn, void *ctx)
{
    store->renderer = fn;
    store->renderer_ctx = ctx;
}

/* The key of a view (SB_KEY_MAX holds the longest): -EINVAL when it does not fit. */
static int view_key(sb_key_t *key, const char *org, const char *cc, const char *profile)
{
    key->len = sb_softphone_view_key(key->buf, sizeof(key->buf), org, cc, profile);
    return key->len == 0 ? -EINVAL : 0;
}

/* A number item of the general section; 0 when absent (the softphone's own default applies). */
static uint32_t general_number(const sb_callcenter_t *cc, const char *item)
{
    const char *v = sb_callcenter_value(cc, SB_CC_GENERAL, item);
    return v ? (uint32_t)strtoul(v, NULL, 10) : 0;
}

/* Computes the view of Call Center `cc` for `profile` into an encoded blob [owned: free()]. */
static int compute(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *cc_id,
                   const char *profile, uint8_t **blob, size_t *len)
{
    sb_callcenter_t *cc = NULL;
    int rc = sb__cc_load(store, txn, org, cc_id, &cc, NULL);
    if (rc != 0)
        return rc;
    MDB_val layout = {0, NULL};
    char layout_name[SB_LAYOUT_NAME_MAX + 1] = "";
    sb_layout_source_t source;
    rc = sb__layout_resolve(store, txn, org, profile, layout_name, &source, &layout);
    if (rc != 0) {
        sb_callcenter_free(cc);
        return rc;
    }
    sb_view_render_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        sb_callcenter_free(cc);
        return -ENOMEM;
    }
    const char *url = sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_ADAPTER_URL);
    r->loaded = true;
    snprintf(r->adapter_url, sizeof(r->adapter_url), "%s", url ? url : "");
    if (store->renderer != NULL && cc->adapter[0] != '\0')
        store->renderer(store->renderer_ctx, org, cc, r);

    sb_cc_compat_mode_t mode = sb_callcenter_compat_mode(cc);
    sb_softphone_view_t v = {
        .reason = SB_SOFTPHONE_OK,
        .mode = (uint8_t)mode,
        .scv = sb_callcenter_kind(cc) == SB_CC_KIND_SERVICE_CLOUD_VOICE,
        .layout_source = source,
        .height = general_number(cc, SB_CC_HEIGHT),
        .width = general_number(cc, SB_CC_WIDTH),
        .cc_id = cc_id->s,
        .internal_name = sb_callcenter_internal_name(cc),
        .display_name = sb_callcenter_display_name(cc),
        .adapter = cc->adapter,
        .adapter_url = r->adapter_url,
        .layout_name = layout_name,
        .detail = r->detail,
        .layout = layout.mv_data,
        .layout_len = (uint32_t)layout.mv_size,
    };
    if (cc->adapter[0] != '\0' && !r->loaded)
        v.reason = SB_SOFTPHONE_ADAPTER_NOT_LOADED;
    else if (r->refused)
        v.reason = SB_SOFTPHONE_ADAPTER_REFUSED;
    else if (sb_callcenter_kind(cc) == SB_CC_KIND_OPEN_CTI && r->adapter_url[0] == '\0')
        v.reason = SB_SOFTPHONE_NO_ADAPTER_URL;
    else if (mode != SB_CC_COMPAT_CLASSIC && r->adapter_url[0] != '\0' &&
             !sb_softphone_url_is_https(r->adapter_url))
        v.reason = SB_SOFTPHONE_ADAPTER_URL_NOT_HTTPS;
    rc = sb_softphone_view_encode(&v, blob, len);
    free(r);
    sb_callcenter_free(cc);
    return rc;
}

static int put_view(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *cc,
                    const char *profile)
{
    uint8_t *blob;
    size_t len;
    int rc = compute(store, txn, org, cc, profile, &blob, &len);
    if (rc != 0)
        return rc;
    sb_key_t key;
    MDB_val old;
    if ((rc = view_key(&key, org, cc->s, profile)) == 0) {
        /* A view as it is already stored is not written again: a refresh
         * (every start, every plugin reload) changes, and logs, only what
         * differs, and a replica's log stays its primary's. A view that is
         * missing or damaged (derived data) is written anew. */
        int found = sb__get(txn, store->views, &key, &old);
        if (found != 0 && found != -ENOENT)
            sb_err_note_clear(); /* healed here: no later error is about it */
        if (found != 0 || old.mv_size != len || memcmp(old.mv_data, blob, len) != 0)
            rc = sb__put(txn, store->views, &key, blob, len, 0);
    }
    free(blob);
    return rc;
}

int sb__view_ensure(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *cc,
                    const char *profile)
{
    sb_key_t key;
    MDB_val val;
    int rc = view_key(&key, org, cc->s, profile);
    if (rc == 0)
        rc = sb__get(txn, store->views, &key, &val);
    if (rc == -ENOENT)
        return put_view(store, txn, org, cc, profile);
    return rc;
}

int sb__views_refresh(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *cc)
{
    sb_key_t prefix;
    prefix.len = 0;
    if (org != NULL) {
        int rc = sb__key(&prefix, org, cc ? cc->s : NULL);
        if (rc != 0 || prefix.len == sizeof(prefix.buf))
            return rc != 0 ? rc : -EINVAL;
        prefix.buf[prefix.len++] = '\0';
    }
    MDB_cursor *cur;
    int rc = sb__lmdb_rc(mdb_cursor_open(txn, store->views, &cur));
    if (rc != 0)
        return rc;
    /* Collect the keys first: rewriting while iterating would move the cursor. */
    size_t n = 0, cap = 0;
    sb_key_t *keys = NULL;
    MDB_val k = {prefix.len, prefix.buf}, v;
    int lmdb = mdb_cursor_get(cur, &k, &v, prefix.len ? MDB_SET_RANGE : MDB_FIRST);
    while (lmdb == 0 && k.mv_size >= prefix.len && memcmp(k.mv_data, prefix.buf, prefix.len) == 0) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            sb_key_t *grown = realloc(keys, cap * sizeof(*keys));
            if (grown == NULL) {
                rc = -ENOMEM;
                break;
            }
            keys = grown;
        }
        if (k.mv_size > sizeof(keys[n].buf)) {
            rc = SB_E_CORRUPT;
            break;
        }
        memcpy(keys[n].buf, k.mv_data, k.mv_size);
        keys[n++].len = k.mv_size;
        lmdb = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && lmdb != 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        /* org \0 cc(18) \0 profile */
        const char *key = keys[i].buf;
        size_t org_len = strnlen(key, keys[i].len);
        if (org_len + 1 + SB_SFID_LEN + 1 > keys[i].len) {
            rc = SB_E_CORRUPT;
            break;
        }
        char org_id[SB_ORG_ID_MAX + 1], profile[SB_PROFILE_NAME_MAX + 1];
        sb_sfid_t cc_id;
        size_t profile_len = keys[i].len - (org_len + 2 + SB_SFID_LEN);
        if (org_len > SB_ORG_ID_MAX || profile_len > SB_PROFILE_NAME_MAX) {
            rc = SB_E_CORRUPT;
            break;
        }
        memcpy(org_id, key, org_len);
        org_id[org_len] = '\0';
        memcpy(cc_id.s, key + org_len + 1, SB_SFID_LEN);
        cc_id.s[SB_SFID_LEN] = '\0';
        memcpy(profile, key + org_len + 2 + SB_SFID_LEN, profile_len);
        profile[profile_len] = '\0';
        rc = put_view(store, txn, org_id, &cc_id, profile);
    }
    free(keys);
    return rc;
}

int sb__views_drop(sb_store_t *store, MDB_txn *txn, const char *org, const sb_sfid_t *cc)
{
    sb_key_t prefix;
    int rc = sb__key(&prefix, org, cc->s);
    if (rc != 0 || prefix.len == sizeof(prefix.buf))
        return rc != 0 ? rc : -EINVAL;
    prefix.buf[prefix.len++] = '\0';
    return sb__del_prefix(txn, store->views, &prefix);
}

static int refresh_txn(sb_store_t *store, MDB_txn *txn, void *ctx, sb_err_t *err)
{
    (void)err;
    return sb__views_refresh(store, txn, ctx, NULL);
}

int sb_store_views_refresh(sb_store_t *store, const char *org, sb_err_t *err)
{
    return sb__write(store, refresh_txn, (void *)org, err);
}

/* ---- the check: the server's side of softphone_check.c --------------------------- */

void sb_softphone_answer_destroy(sb_softphone_answer_t *answer)
{
    if (answer->blob != answer->record)
        free(answer->blob);
    answer->blob = NULL;
}

/*
 * The check's look-up of a view (sb_softphone_view_get_decoded_fn): through
 * this thread's view cache (view_cache.h, the read library's too), so that
 * members of one Call Center and profile, who share a view, cost one B-tree
 * search, one checksum and one decode per snapshot instead of one each
 * check (the search alone was a sixth of a check's instructions,
 * bench/RESULTS.md). A commit or a move of the map starts a new epoch.
 */
static int server_find_view(void *ctx, MDB_txn *txn, MDB_dbi views, const MDB_val *key,
                            MDB_val *view, const sb_softphone_view_t **decoded)
{
    sb_store_t *store = ctx;
    sb_reader_t *reader = sb__reader(store);
    *decoded = NULL;
    if (reader == NULL || txn != reader->txn || reader->views.sets == NULL)
        return sb__value_get(txn, views, key, view);
    size_t snapshot = mdb_txn_id(txn);
    if (reader->views_epoch == 0 || snapshot != reader->views_snapshot ||
        store->map_gen != reader->views_map_gen) {
        reader->views_snapshot = snapshot;
        reader->views_map_gen = store->map_gen;
        reader->views_epoch++;
    }
    return sb__view_cache_get(&reader->views, reader->views_epoch, txn, views, key, view, decoded);
}

/*
 * The check's look-up of an org's number (sb_softphone_org_num_fn): from
 * the memo when this thread's cached snapshot already found it (a number does not
 * change while its org exists, and a snapshot's orgs do not change).
 */
static int server_get_org_num(void *ctx, MDB_txn *txn, MDB_dbi org_ids, const char *org, size_t len,
                              uint32_t *num)
{
    sb_store_t *store = ctx;
    sb_reader_t *reader = sb__reader(store);
    if (reader == NULL || txn != reader->txn || len == 0 || len > SB_ORG_ID_MAX)
        return sb_org_num_find(txn, org_ids, org, len, num, NULL);
    uint32_t h = 2166136261u; /* FNV-1a: org ids are short */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)org[i]) * 16777619u;
    struct sb_org_memo *m = &reader->org_memo[h % SB_ORG_MEMO_SLOTS];
    size_t snapshot = mdb_txn_id(txn);
    if (m->snapshot == snapshot && m->map_gen == store->map_gen && m->len == len &&
        memcmp(m->org, org, len) == 0) {
        *num = m->num;
        return 0;
    }
    int rc = sb_org_num_find(txn, org_ids, org, len, num, NULL);
    if (rc == 0) {
        m->snapshot = snapshot;
        m->map_gen = store->map_gen;
        m->num = *num;
        m->len = (uint8_t)len;
        memcpy(m->org, org, len);
    }
    return rc;
}

int sb_store_softphone_find(sb_store_t *store, const char *org, const char *user,
                            sb_softphone_answer_t *out, sb_err_t *err)
{
    /* Not the buffers (8 KiB): the check writes the user's, profile's and URL's. */
    out->reason = SB_SOFTPHONE_OK;
    out->user[0] = out->profile[0] = out->message[0] = out->adapter_url[0] = '\0';
    out->view = (sb_softphone_view_t){0};
    out->blob = NULL;
    out->blob_len = 0;
    sb_softphone_org_t o;
    (void)sb_softphone_org_init(&o, org); /* an invalid org is the check's to report */
    MDB_txn *txn;
    int rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    const sb_softphone_tables_t tables = {.orgs = store->orgs,
                                          .users = store->users,
                                          .user_cc = store->user_cc,
                                          .views = store->views,
                                          .org_ids = store->org_ids,
                                          .get_view_decoded = server_find_view,
                                          .get_view_ctx = store,
                                          .get_org_num = server_get_org_num,
                                          .get_org_num_ctx = store};
    /* The view into the answer's own buffer; a larger one (a large layout) allocated. */
    sb_softphone_found_t found = {.user = out->user,
                                  .profile = out->profile,
                                  .adapter_url = out->adapter_url,
                                  .record = out->record,
                                  .record_cap = sizeof(out->record)};
    sb_err_t first;
    sb_err_clear(&first);
    rc = sb_softphone_check_txn(txn, &tables, &o, user, &found, &first);
    if (rc == -E2BIG) {
        found.record = NULL;
        found.record_cap = 0;
        rc = sb_softphone_check_txn(txn, &tables, &o, user, &found, err);
    } else if (rc != 0 && err != NULL) {
        *err = first;
    }
    sb__read_end(store, txn);
    if (rc != 0)
        return rc;
    out->reason = found.reason;
    if (found.record_len > 0) {
        out->blob = found.record; /* out->record, or allocated by the check: ours now */
        out->blob_len = found.record_len;
        out->view = found.view;
    }
    return 0;
}

void sb_softphone_answer_explain(sb_softphone_answer_t *answer, const char *org, const char *user)
{
    /* An invalid id is named as it was given, whole, not as the answer cuts it. */
    const char *named =
        answer->reason == SB_SOFTPHONE_INVALID_USER_ID ? (user ? user : "") : answer->user;
    sb_softphone_explain(answer->reason, answer->blob ? &answer->view : NULL, org, named,
                         answer->profile, answer->message, sizeof(answer->message));
}

int sb_store_softphone_check(sb_store_t *store, const char *org, const char *user,
                             sb_softphone_answer_t *out, sb_err_t *err)
{
    int rc = sb_store_softphone_find(store, org, user, out, err);
    if (rc == 0)
        sb_softphone_answer_explain(out, org, user);
    return rc;
}
