/*
 * audit.* and changes.*: what users see of the change log (docs/store.md).
 *
 * An org's token sees its org's writes only, numbered by the org's own
 * org_seq: the global sequence's pace is every org's write volume. The
 * admin sees every org's, and the global seq beside the org's number.
 * Scans are bounded per request (rows and bytes examined), like
 * voicecall.list's: a filter that matches nothing returns an empty page with
 * `more` and the `next` cursor, never a walk of the whole log on the loop.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "methods.h"

/* What one audit.list examines at most, filtered out or not. */
#define AUDIT_SCAN_ROWS 10000
#define AUDIT_SCAN_BYTES (8u << 20)
/* Ids and changes one item lists at most; the counts say how many there are. */
#define ITEM_IDS_MAX 32
#define ITEM_CHANGES_MAX 1000

/* ---- time arguments ------------------------------------------------------------ */

/* "2026-11-01", "2026-11-01T09:30", "2026-11-01T09:30:15Z" (UTC), or
 * milliseconds since the epoch. */
static int parse_time(const char *text, int64_t *ms)
{
    size_t len = strlen(text);
    bool digits = len > 0 && len <= 15;
    for (size_t i = 0; digits && i < len; i++)
        digits = isdigit((unsigned char)text[i]) != 0;
    if (digits) {
        *ms = strtoll(text, NULL, 10);
        return 0;
    }
    struct tm tm = {0};
    const char *end = strptime(text, "%Y-%m-%d", &tm);
    if (end != NULL && (*end == 'T' || *end == ' ')) {
        const char *t = strptime(end + 1, "%H:%M:%S", &tm);
        end = t != NULL ? t : strptime(end + 1, "%H:%M", &tm);
    }
    if (end != NULL && *end == 'Z')
        end++;
    if (end == NULL || *end != '\0' || tm.tm_year < 70 || tm.tm_year > 1100)
        return -EINVAL;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

static int time_arg(sb_call_t *call, const char *name, int64_t *ms, sb_err_t *err)
{
    const char *text = sb_arg_str(call, name);
    if (text == NULL)
        return 0;
    if (parse_time(text, ms) != 0)
        return sb_err_set(err, -EINVAL,
                          "The argument '%s' is a date (2026-11-01), a UTC time "
                          "(2026-11-01T09:30:00Z) or milliseconds since 1970, not '%.64s'.",
                          name, text);
    return 0;
}

/* ---- one write, packed --------------------------------------------------------- */

static const msgpack_object *field(const msgpack_object *w, const char *name,
                                   msgpack_object_type type)
{
    const msgpack_object *o = sb_obj_get(w, name);
    return o != NULL && o->type == type ? o : NULL;
}

static int pack_obj_or_str(msgpack_packer *pk, const msgpack_object *o)
{
    return o != NULL ? msgpack_pack_object(pk, *o) : sb_pack_str(pk, "");
}

/* A key as text: what follows the org, parts joined by '/', other bytes as
 * \xHH. A token's key is its hash: never shown. */
static int pack_key_text(msgpack_packer *pk, const char *db, const msgpack_object *key)
{
    if (strcmp(db, "tokens") == 0 || key->type != MSGPACK_OBJECT_BIN)
        return sb_pack_str(pk, "");
    const char *p = key->via.bin.ptr;
    size_t len = key->via.bin.size;
    const char *nul = memchr(p, '\0', len);
    size_t start = nul != NULL ? (size_t)(nul - p) + 1 : len; /* org alone: "" */
    char text[4 * 512 + 1];
    size_t n = 0;
    for (size_t i = start; i < len && n + 5 < sizeof(text); i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\0')
            text[n++] = '/';
        else if (isprint(c) && c != '\\')
            text[n++] = (char)c;
        else
            n += (size_t)snprintf(text + n, sizeof(text) - n, "\\x%02x", c);
    }
    return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, text, n);
}

/* "del user_cc 1, del cc_members 1": what a write did, by operation and database. */
static int pack_summary(msgpack_packer *pk, const msgpack_object *changes)
{
    struct {
        char op[8], db[24];
        size_t n;
    } rows[24];
    size_t n_rows = 0, other = 0;
    for (uint32_t i = 0; changes != NULL && i < changes->via.array.size; i++) {
        const msgpack_object *c = &changes->via.array.ptr[i];
        char op[8], db[24];
        if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 4 ||
            sb_obj_copy_str(&c->via.array.ptr[0], op, sizeof(op)) != 0 ||
            sb_obj_copy_str(&c->via.array.ptr[1], db, sizeof(db)) != 0) {
            other++;
            continue;
        }
        size_t r = 0;
        while (r < n_rows && (strcmp(rows[r].op, op) != 0 || strcmp(rows[r].db, db) != 0))
            r++;
        if (r == n_rows && n_rows == sizeof(rows) / sizeof(rows[0])) {
            other++;
            continue;
        }
        if (r == n_rows) {
            memcpy(rows[r].op, op, sizeof(op));
            memcpy(rows[r].db, db, sizeof(db));
            rows[r].n = 0;
            n_rows++;
        }
        rows[r].n++;
    }
    char text[1024];
    size_t len = 0;
    for (size_t r = 0; r < n_rows && len < sizeof(text); r++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s %s %zu", r ? ", " : "",
                                rows[r].op, rows[r].db, rows[r].n);
    if (other > 0 && len < sizeof(text))
        len +=
            (size_t)snprintf(text + len, sizeof(text) - len, "%s%zu other", len ? ", " : "", other);
    if (n_rows == 0 && other == 0)
        len = (size_t)snprintf(text, sizeof(text), "no change");
    if (len >= sizeof(text))
        len = sizeof(text) - 1;
    return msgpack_pack_str(pk, len) | msgpack_pack_str_body(pk, text, len);
}

int sb__pack_change(msgpack_packer *pk, const sb_change_write_t *w, sb_change_view_t view)
{
    const msgpack_object *m = w->write;
    const msgpack_object *ids = field(m, "ids", MSGPACK_OBJECT_ARRAY);
    const msgpack_object *changes = field(m, "changes", MSGPACK_OBJECT_ARRAY);
    uint32_t n_ids = ids ? ids->via.array.size : 0;
    uint32_t n_changes = changes ? changes->via.array.size : 0;
    bool admin = view != SB_CHANGE_ORG_WATCH && view != SB_CHANGE_ORG_AUDIT;
    bool watch = view == SB_CHANGE_ORG_WATCH || view == SB_CHANGE_ADMIN_ORG_WATCH ||
                 view == SB_CHANGE_ADMIN_WATCH;
    uint32_t shown_ids = n_ids < ITEM_IDS_MAX ? n_ids : ITEM_IDS_MAX;
    const msgpack_object *time = sb_obj_get(m, "time");
    int rc = msgpack_pack_map(pk, 8 + (admin ? 1 : 0) + (shown_ids < n_ids) + (watch ? 1 : 0));
    rc |= sb_pack_str(pk, "org") | pack_obj_or_str(pk, field(m, "org", MSGPACK_OBJECT_STR));
    /* The org's number for an org's view; the admin watching every org
     * follows the global sequence (seq), with the org's beside it. */
    if (view == SB_CHANGE_ADMIN_WATCH) {
        rc |= sb_pack_kv_uint(pk, "seq", w->seq) | sb_pack_kv_uint(pk, "org_seq", w->org_seq);
    } else {
        rc |= sb_pack_kv_uint(pk, watch ? "seq" : "org_seq", w->org_seq);
        if (admin)
            rc |= sb_pack_kv_uint(pk, watch ? "log_seq" : "seq", w->seq);
    }
    rc |= sb_pack_str(pk, "time");
    rc |= time != NULL ? msgpack_pack_object(pk, *time) : msgpack_pack_int64(pk, 0);
    rc |= sb_pack_str(pk, "token") | pack_obj_or_str(pk, field(m, "token", MSGPACK_OBJECT_STR));
    rc |= sb_pack_str(pk, "method") | pack_obj_or_str(pk, field(m, "method", MSGPACK_OBJECT_STR));
    rc |= sb_pack_str(pk, "ids") | msgpack_pack_array(pk, shown_ids);
    for (uint32_t i = 0; i < shown_ids; i++)
        rc |= msgpack_pack_object(pk, ids->via.array.ptr[i]);
    if (shown_ids < n_ids)
        rc |= sb_pack_kv_uint(pk, "ids_total", n_ids);
    rc |= sb_pack_str(pk, "summary") | pack_summary(pk, changes);
    if (watch) {
        /* Which keys changed (values are not sent: read the record). */
        uint32_t shown = n_changes < ITEM_CHANGES_MAX ? n_changes : ITEM_CHANGES_MAX;
        rc |= sb_pack_str(pk, "changes") | msgpack_pack_array(pk, shown);
        for (uint32_t i = 0; i < shown; i++) {
            const msgpack_object *c = &changes->via.array.ptr[i];
            char db[24] = "";
            if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 4 ||
                sb_obj_copy_str(&c->via.array.ptr[1], db, sizeof(db)) != 0) {
                rc |= msgpack_pack_nil(pk);
                continue;
            }
            rc |= msgpack_pack_array(pk, 3) | msgpack_pack_object(pk, c->via.array.ptr[0]);
            rc |= sb_pack_str(pk, db) | pack_key_text(pk, db, &c->via.array.ptr[2]);
        }
    }
    rc |= sb_pack_kv_uint(pk, "changes_total", n_changes);
    return rc == 0 ? 0 : -ENOMEM;
}

int64_t sb__change_time(const sb_change_write_t *w)
{
    const msgpack_object *time = sb_obj_get(w->write, "time");
    return time == NULL                                    ? 0
           : time->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)time->via.u64
           : time->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? time->via.i64
                                                           : 0;
}

/*
 * The writes an org's token may see begin with its org's creation: an org
 * deleted and made again under the same id (by another tenant, perhaps)
 * keeps its numbering, but the writes of the one before are not the new
 * one's to read. INT64_MIN for the admin, who sees them all.
 */
static int org_floor(sb_call_t *call, const char *org, int64_t *floor_ms, sb_err_t *err)
{
    *floor_ms = INT64_MIN;
    if (call->token.role == SB_ROLE_ADMIN || org == NULL)
        return 0;
    sb_org_t found;
    int rc = sb_store_org_get(call->svc->store, org, &found, err);
    if (rc == 0)
        *floor_ms = found.created_ms;
    return rc;
}

/* ---- audit.list ------------------------------------------------------------------ */

/* Whether `ids` holds `id` (18 characters; 15 match the first 15). */
static bool ids_hold(const msgpack_object *ids, const char *id)
{
    size_t len = strlen(id);
    for (uint32_t i = 0; ids != NULL && i < ids->via.array.size; i++) {
        const msgpack_object *o = &ids->via.array.ptr[i];
        if (o->type == MSGPACK_OBJECT_STR && o->via.str.size >= len &&
            memcmp(o->via.str.ptr, id, len) == 0)
            return true;
    }
    return false;
}

typedef struct audit_ctx {
    sb_change_view_t view;
    int64_t since_ms, until_ms;
    const char *method, *user, *callcenter;
    size_t limit, n;
    uint64_t last_seq; /* the entry of the last write taken */
    int64_t floor_ms;  /* org_floor */
    msgpack_sbuffer items;
    msgpack_packer ipk;
} audit_ctx_t;

static bool str_is(const msgpack_object *o, const char *s)
{
    return o != NULL && o->type == MSGPACK_OBJECT_STR && strlen(s) == o->via.str.size &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static int audit_visit(void *vctx, const sb_change_write_t *w)
{
    audit_ctx_t *a = vctx;
    const msgpack_object *m = w->write;
    /* A full page stops at an entry's first write: the writes of one entry
     * (one commit) stay on one page, which may pass the limit by them. */
    if (a->n >= a->limit && w->seq != a->last_seq)
        return 1;
    int64_t t = sb__change_time(w);
    if (t < a->floor_ms || (a->since_ms && t < a->since_ms) || (a->until_ms && t >= a->until_ms))
        return 0;
    if (a->method != NULL && !str_is(sb_obj_get(m, "method"), a->method))
        return 0;
    const msgpack_object *ids = field(m, "ids", MSGPACK_OBJECT_ARRAY);
    if (a->user != NULL && !ids_hold(ids, a->user))
        return 0;
    if (a->callcenter != NULL && !ids_hold(ids, a->callcenter))
        return 0;
    a->n++;
    a->last_seq = w->seq;
    return sb__pack_change(&a->ipk, w, a->view);
}

static int audit_list(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    bool admin = call->token.role == SB_ROLE_ADMIN;
    const char *org = sb_arg_str(call, "org");
    /* An org's token reads its own org, and no other exists for it. */
    if (!admin && org != NULL && strcmp(org, call->token.org) != 0)
        return sb_err_set(err, -ENOENT, "The org '%.64s' does not exist.", org);
    if (!admin)
        org = call->token.org;
    call->org = org;
    audit_ctx_t a = {.view = admin ? SB_CHANGE_ADMIN_AUDIT : SB_CHANGE_ORG_AUDIT,
                     .method = sb_arg_str(call, "method"),
                     .user = sb_arg_str(call, "user"),
                     .limit = sb_arg_limit(call)};
    int rc = 0;
    if (a.limit < 1 || a.limit > SB_STORE_PAGE_MAX)
        rc = sb_err_set(err, -EINVAL, "The limit is 1 to %d.", SB_STORE_PAGE_MAX);
    if (rc == 0)
        rc = org_floor(call, org, &a.floor_ms, err);
    if (rc == 0)
        rc = time_arg(call, "since", &a.since_ms, err);
    if (rc == 0)
        rc = time_arg(call, "until", &a.until_ms, err);
    if (rc != 0)
        return rc;
    const char *cc = sb_arg_str(call, "callcenter");
    if (cc != NULL && org == NULL)
        return sb_err_set(err, -EINVAL, "Filtering by Call Center needs --org: ids are per org.");
    if (cc != NULL && cc[0] != '\0' && !isdigit((unsigned char)cc[0])) {
        /* A name: the Call Center as it is now (an id finds deleted ones too). */
        sb_callcenter_t *found = NULL;
        rc = sb__load_cc(call, cc, &found, err);
        if (rc != 0)
            return rc;
        char *id = msgpack_zone_malloc(call->zone, SB_SFID_LEN + 1);
        if (id == NULL) {
            sb_callcenter_free(found);
            return sb_err_default(err, -ENOMEM);
        }
        memcpy(id, found->id.s, SB_SFID_LEN + 1);
        sb_callcenter_free(found);
        cc = id;
    }
    a.callcenter = cc;
    bool oldest_first = sb_arg_bool(call, "oldest_first", false);
    int64_t cursor = sb_arg_int(call, "cursor", 0);
    sb_changes_scan_t scan = {.org = org,
                              .from = cursor > 0     ? (uint64_t)cursor
                                      : oldest_first ? 0
                                                     : UINT64_MAX,
                              .descending = !oldest_first,
                              .max_rows = AUDIT_SCAN_ROWS,
                              .max_bytes = AUDIT_SCAN_BYTES};
    msgpack_sbuffer_init(&a.items);
    msgpack_packer_init(&a.ipk, &a.items, msgpack_sbuffer_write);
    uint64_t next = 0;
    bool more = false;
    rc = sb_store_changes_scan(call->svc->store, &scan, audit_visit, &a, &next, &more, err);
    if (rc == 0) {
        rc = msgpack_pack_map(pk, more ? 3 : 2);
        rc |= sb_pack_str(pk, "entries") | msgpack_pack_array(pk, a.n);
        /* The items, packed while counting them, follow their array's head. */
        if (rc == 0 && a.items.size)
            rc = pk->callback(pk->data, a.items.data, a.items.size);
        rc |= sb_pack_kv_bool(pk, "more", more);
        if (more)
            rc |= sb_pack_kv_uint(pk, "next", next);
        if (rc != 0)
            rc = sb_err_default(err, -ENOMEM);
    }
    msgpack_sbuffer_destroy(&a.items);
    return rc;
}

/* ---- changes.watch ---------------------------------------------------------------- */

static int changes_watch(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    bool admin = call->token.role == SB_ROLE_ADMIN;
    const char *org = sb_arg_str(call, "org");
    if (!admin && org != NULL && strcmp(org, call->token.org) != 0)
        return sb_err_set(err, -ENOENT, "The org '%.64s' does not exist.", org);
    if (!admin)
        org = call->token.org;
    call->org = org;
    uint64_t first = 0, last = 0;
    sb_org_t found;
    int rc = org != NULL ? sb_store_org_get(call->svc->store, org, &found, err) : 0;
    if (rc != 0)
        return rc; /* a watch of an org that does not exist would wait for nothing */
    rc = org != NULL ? sb_store_org_seq_range(call->svc->store, org, &first, &last, err)
                     : sb_store_changes_range(call->svc->store, &first, &last, err);
    if (rc != 0)
        return rc;
    const msgpack_object *from_obj = sb_obj_get(call->args, "from");
    uint64_t from = from_obj != NULL && from_obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                        ? from_obj->via.u64
                        : last + 1;
    uint64_t kept = first != 0 ? first : last + 1; /* the first still kept, or the next */
    if (from == 0)
        from = 1;
    if (from < kept)
        return sb_err_set(err, SB_E_CHANGES_TRIMMED,
                          "Change %llu is no longer kept: the first kept is %llu (the log keeps "
                          "--changes-keep entries for --changes-keep-hours); watch from %llu, "
                          "and read the records themselves for what came before.",
                          (unsigned long long)from, (unsigned long long)kept,
                          (unsigned long long)kept);
    if (from > last + 1)
        return sb_err_set(
            err, -EINVAL, "There is no change %llu yet: the last is %llu; watch from %llu at most.",
            (unsigned long long)from, (unsigned long long)last, (unsigned long long)last + 1);
    rc = org_floor(call, org, &call->watch_floor_ms, err);
    if (rc != 0)
        return rc;
    call->watch = true;
    call->watch_from = from;
    int prc = msgpack_pack_map(pk, 4);
    prc |= sb_pack_str(pk, "org") | (org ? sb_pack_str(pk, org) : msgpack_pack_nil(pk));
    prc |= sb_pack_kv_uint(pk, "from", from);
    prc |= sb_pack_kv_uint(pk, "first", kept);
    prc |= sb_pack_kv_uint(pk, "last", last);
    return prc == 0 ? 0 : sb_err_default(err, -ENOMEM);
}

static const sb_method_t methods[] = {
    {"audit.list",
     "Who changed what, and when: the org's writes from the change log, newest first, filtered "
     "by time, method, user or Call Center. An org's token reads its own org; the admin every "
     "org, or one with --org.",
     SB_ROLE_READ_ONLY,
     false,
     false,
     audit_list,
     {{"org", SB_ARG_STRING, false,
       "the org (an org's token: its own; the admin: every org when absent)"},
      {"since", SB_ARG_STRING, false,
       "writes at or after this time: 2026-11-01, 2026-11-01T09:30:00Z (UTC) or epoch ms"},
      {"until", SB_ARG_STRING, false, "writes before this time (same forms)"},
      {"method", SB_ARG_STRING, false, "only writes by this method, e.g. member.remove"},
      {"user", SB_ARG_STRING, false, "only writes that touched this user id"},
      {"callcenter", SB_ARG_STRING, false,
       "only writes that touched this Call Center (id, or internal name of an existing one)"},
      {"oldest_first", SB_ARG_BOOLEAN, false, "oldest first (default: newest first)"},
      {"cursor", SB_ARG_INTEGER, false, "where the page starts: the `next` of the previous page"},
      {"limit", SB_ARG_INTEGER, false, "entries in the page, 1 to 1000 (default 100)"},
      {NULL, 0, false, NULL}},
     "{entries: [{org, org_seq, seq (admin: the global sequence), time (ms), token (its id, "
     "never its secret), method, ids: the users, Call Centers, contacts and calls it touched "
     "(32 at most; ids_total when more), summary: its changes by operation and database, "
     "changes_total}], more, next: the cursor of the next page, while more}. One call examines "
     "at most 10,000 writes or 8 MiB of the log: a page may be short (even empty) with more "
     "true; ask again from next.",
     "CHANGES_TRIMMED"},
    {"changes.watch",
     "Streams the org's writes to this connection as msgpack-RPC notifications "
     "[2, \"changes\", {...}], from a number on, in order, nothing skipped, until the "
     "connection closes. The admin may watch one org or, without --org, every org.",
     SB_ROLE_READ_ONLY,
     false,
     false,
     changes_watch,
     {{"org", SB_ARG_STRING, false,
       "the org (an org's token: its own; the admin: every org when absent)"},
      {"from", SB_ARG_INTEGER, false,
       "the first number sent (the org's org_seq; every org: the global seq); absent: the next "
       "write's"},
      {NULL, 0, false, NULL}},
     "{org, from, first: the first number still kept, last: the last so far}; then, for each "
     "write, the notification [2, \"changes\", {org, seq: the org's org_seq (watching every "
     "org: the global seq, and org_seq), log_seq (admin watching an org), time, token, method, "
     "ids, summary, changes: [[op, db, key]...] (the keys as text after the org, no values; "
     "1000 at most), changes_total}]. A watch that falls behind the kept log gets "
     "[2, \"changes.error\", {code, name, message}] and ends. One watch per connection: a new "
     "one replaces it. A watcher that does not read is paused, then cut by --write-stall-ms.",
     "CHANGES_TRIMMED"},
};

const sb_method_slice_t sb__audit_methods = {methods, sizeof(methods) / sizeof(methods[0])};
