/*
 * Voice calls: created by a call's first event, changed by the rest.
 *
 *   voicecalls  org\0voice call id             -> the record (msgpack)
 *   call_keys   org\0cc id\0vendor call key    -> voice call id
 *
 * Every event runs in one write transaction: find the call by its vendor
 * key (or create it), apply the event so that order and repetition do not
 * matter (voicecall.h), decide the screen pop once the agent and the ANI
 * are known, and write it back.
 */
#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "record_codec.h"
#include "store_internal.h"
#include "voicecall.h"

static const char *const action_names[SB_CALL_ACTIONS] = {"start",  "accept",     "hold",
                                                          "resume", "transcript", "end"};

const char *sb_call_action_name(sb_call_action_t action)
{
    return action_names[action];
}

int sb_call_action_parse(const char *name, sb_call_action_t *out)
{
    for (int i = 0; name && i < SB_CALL_ACTIONS; i++)
        if (strcmp(action_names[i], name) == 0) {
            *out = (sb_call_action_t)i;
            return 0;
        }
    return -EINVAL;
}

void sb_voicecall_free(sb_voicecall_t *call)
{
    if (call == NULL)
        return;
    for (size_t i = 0; i < call->n_segments; i++)
        free(call->segments[i].text);
    free(call->segments);
    free(call);
}

/* ---- codec --------------------------------------------------------------------- */

static int pack_time(msgpack_packer *pk, const char *key, int64_t ms)
{
    return sb_pack_str(pk, key) | (ms ? msgpack_pack_int64(pk, ms) : msgpack_pack_nil(pk));
}

int sb_voicecall_pack(msgpack_packer *pk, const sb_voicecall_t *c)
{
    int rc = msgpack_pack_map(pk, 19) | sb_pack_kv_str(pk, "id", c->id.s) |
             sb_pack_kv_str(pk, "callcenter", c->callcenter.s) |
             sb_pack_kv_str(pk, "user", c->user.s[0] ? c->user.s : NULL) |
             sb_pack_kv_str(pk, "vendor_call_key", c->vendor_call_key) |
             sb_pack_kv_str(pk, "call_type", sb_call_type_name(c->type)) |
             sb_pack_kv_str(pk, "from", c->from[0] ? c->from : NULL) |
             sb_pack_kv_str(pk, "to", c->to[0] ? c->to : NULL) |
             pack_time(pk, "start", c->start_ms) | pack_time(pk, "accept", c->accept_ms) |
             pack_time(pk, "end", c->end_ms) | sb_pack_str(pk, "duration_s");
    rc |= c->duration_s >= 0 ? msgpack_pack_int64(pk, c->duration_s) : msgpack_pack_nil(pk);
    rc |= sb_pack_kv_str(pk, "status", c->status) | sb_pack_kv_uint(pk, "holds", c->holds) |
          sb_pack_kv_str(pk, "disposition", c->disposition[0] ? c->disposition : NULL) |
          sb_pack_kv_str(pk, "parent", c->parent.s[0] ? c->parent.s : NULL) |
          sb_pack_str(pk, "screen_pop");
    if (c->pop_decided)
        rc |= msgpack_pack_map(pk, 4) | sb_pack_kv_str(pk, "action", c->pop) |
              sb_pack_kv_str(pk, "target", c->pop_target[0] ? c->pop_target : NULL) |
              sb_pack_kv_uint(pk, "matches", c->matches) |
              sb_pack_kv_str(pk, "layout", c->layout[0] ? c->layout : NULL);
    else
        rc |= msgpack_pack_nil(pk);
    rc |= sb_pack_str(pk, "transcript") | msgpack_pack_array(pk, c->n_segments);
    for (size_t i = 0; i < c->n_segments; i++) {
        const sb_transcript_segment_t *s = &c->segments[i];
        rc |= msgpack_pack_map(pk, 4) | sb_pack_kv_str(pk, "id", s->id) |
              sb_pack_kv_int(pk, "at", s->at_ms) | sb_pack_kv_str(pk, "speaker", s->speaker) |
              sb_pack_kv_str(pk, "text", s->text);
    }
    rc |=
        sb_pack_kv_int(pk, "created", c->created_ms) | sb_pack_kv_int(pk, "updated", c->updated_ms);
    return rc;
}

/* A string field into dst; nil or absent is "". -1 when it does not fit. */
static int get_str(const msgpack_object *map, const char *key, char *dst, size_t cap)
{
    const msgpack_object *o = sb_obj_get(map, key);
    dst[0] = '\0';
    return o == NULL ? 0 : sb_obj_copy_str(o, dst, cap);
}

static int64_t get_int(const msgpack_object *map, const char *key, int64_t fallback)
{
    const msgpack_object *o = sb_obj_get(map, key);
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)o->via.u64;
    if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return o->via.i64;
    return fallback;
}

static int decode(const void *data, size_t len, sb_voicecall_t **out)
{
    *out = NULL;
    sb_voicecall_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS ? 0 : SB_E_CORRUPT;
    const msgpack_object *m = &u.data;
    char type[16] = "";
    if (rc == 0 &&
        (get_str(m, "id", c->id.s, sizeof(c->id.s)) |
         get_str(m, "callcenter", c->callcenter.s, sizeof(c->callcenter.s)) |
         get_str(m, "user", c->user.s, sizeof(c->user.s)) |
         get_str(m, "vendor_call_key", c->vendor_call_key, sizeof(c->vendor_call_key)) |
         get_str(m, "call_type", type, sizeof(type)) |
         get_str(m, "from", c->from, sizeof(c->from)) | get_str(m, "to", c->to, sizeof(c->to)) |
         get_str(m, "status", c->status, sizeof(c->status)) |
         get_str(m, "disposition", c->disposition, sizeof(c->disposition)) |
         get_str(m, "parent", c->parent.s, sizeof(c->parent.s))) != 0)
        rc = SB_E_CORRUPT;
    sb_call_type_t t;
    if (rc == 0 && sb_call_type_parse(type, &t) != 0)
        rc = SB_E_CORRUPT;
    if (rc == 0) {
        c->type = t;
        c->start_ms = get_int(m, "start", 0);
        c->accept_ms = get_int(m, "accept", 0);
        c->end_ms = get_int(m, "end", 0);
        c->duration_s = get_int(m, "duration_s", -1);
        c->holds = (unsigned)get_int(m, "holds", 0);
        c->created_ms = get_int(m, "created", 0);
        c->updated_ms = get_int(m, "updated", 0);
        const msgpack_object *pop = sb_obj_get(m, "screen_pop");
        if (pop != NULL && pop->type == MSGPACK_OBJECT_MAP) {
            c->pop_decided = true;
            if (get_str(pop, "action", c->pop, sizeof(c->pop)) |
                get_str(pop, "target", c->pop_target, sizeof(c->pop_target)) |
                get_str(pop, "layout", c->layout, sizeof(c->layout)))
                rc = SB_E_CORRUPT;
            c->matches = (uint32_t)get_int(pop, "matches", 0);
        }
    }
    const msgpack_object *segs = rc == 0 ? sb_obj_get(m, "transcript") : NULL;
    if (rc == 0 && (segs == NULL || segs->type != MSGPACK_OBJECT_ARRAY))
        rc = SB_E_CORRUPT;
    if (rc == 0 && segs->via.array.size > 0) {
        c->segments = calloc(segs->via.array.size, sizeof(*c->segments));
        if (c->segments == NULL)
            rc = -ENOMEM;
    }
    for (uint32_t i = 0; rc == 0 && i < segs->via.array.size; i++) {
        const msgpack_object *s = &segs->via.array.ptr[i];
        sb_transcript_segment_t *seg = &c->segments[c->n_segments++];
        const msgpack_object *text = sb_obj_get(s, "text");
        if (get_str(s, "id", seg->id, sizeof(seg->id)) |
                get_str(s, "speaker", seg->speaker, sizeof(seg->speaker)) ||
            text == NULL || text->type != MSGPACK_OBJECT_STR) {
            rc = SB_E_CORRUPT;
            break;
        }
        seg->at_ms = get_int(s, "at", 0);
        seg->text = strndup(text->via.str.ptr, text->via.str.size);
        if (seg->text == NULL)
            rc = -ENOMEM;
    }
    msgpack_unpacked_destroy(&u);
    if (rc != 0) {
        sb_voicecall_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int sb__voicecall_decode(const void *data, size_t len, sb_voicecall_t **out)
{
    return decode(data, len, out);
}

static int put_call(sb_store_t *store, MDB_txn *txn, const char *org, const sb_voicecall_t *c)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    int rc = sb_voicecall_pack(&pk, c) ? -ENOMEM : 0;
    sb_key_t key;
    if (rc == 0)
        rc = sb__key(&key, org, c->id.s);
    if (rc == 0)
        rc = sb__put(txn, store->voicecalls, &key, buf.data, buf.size, 0);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

/* ---- applying events ------------------------------------------------------------ */

static void set_if_empty(char *dst, size_t cap, const char *value)
{
    if (dst[0] == '\0' && value != NULL && value[0] != '\0')
        snprintf(dst, cap, "%s", value);
}

/* The earliest of two times, 0 meaning "not set". */
static int64_t earliest(int64_t have, int64_t given)
{
    return have == 0 || (given != 0 && given < have) ? given : have;
}

static void recompute(sb_voicecall_t *c)
{
    int64_t from = c->accept_ms ? c->accept_ms : c->start_ms, span;
    /* New events are range-checked (event_txn), but a stored call may hold
     * any int64: the difference is checked, never trusted. */
    if (c->end_ms == 0)
        c->duration_s = -1;
    else if (from == 0 || __builtin_sub_overflow(c->end_ms, from, &span) || span < 0)
        c->duration_s = 0;
    else
        c->duration_s = span / 1000 + (span % 1000 >= 500);
}

/* Inserts a segment in time order; a repeated id is kept once. */
static int add_segment(sb_voicecall_t *c, const sb_call_event_t *ev, int64_t at, sb_err_t *err)
{
    char id[65];
    const char *given = ev->segment_id ? ev->segment_id : "";
    /* Cut, two long ids that share their first 64 bytes would be one
     * segment, and a long speaker another speaker: refused, never cut. */
    if (strlen(given) >= sizeof(id))
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "A transcript segment's id is at most %zu bytes; this one has %zu.",
                          sizeof(id) - 1, strlen(given));
    if (ev->speaker && strlen(ev->speaker) >= sizeof(c->segments[0].speaker))
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "A transcript segment's speaker is at most %zu bytes; this one has %zu.",
                          sizeof(c->segments[0].speaker) - 1, strlen(ev->speaker));
    snprintf(id, sizeof(id), "%s", given);
    if (id[0] == '\0') /* no id: the time and the text are its identity */
        snprintf(id, sizeof(id), "t%lld-%zu", (long long)at, strlen(ev->text));
    size_t text_len = strlen(ev->text), total = text_len;
    for (size_t i = 0; i < c->n_segments; i++) {
        if (strcmp(c->segments[i].id, id) == 0)
            return 0;
        total += strlen(c->segments[i].text);
    }
    /* Each append rewrites the whole record on the writer thread, and every
     * read of the call decodes it: unbounded text made one tenant's appends
     * stall every tenant's writes and grew a record past any reply. */
    if (text_len > SB_CALL_TEXT_MAX)
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "A transcript segment's text is at most %d bytes; this one has %zu.",
                          SB_CALL_TEXT_MAX, text_len);
    if (total > SB_CALL_TRANSCRIPT_MAX)
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "The voice call %s keeps at most %d bytes of transcript; this segment "
                          "would make %zu.",
                          c->id.s, SB_CALL_TRANSCRIPT_MAX, total);
    if (c->n_segments >= SB_CALL_SEGMENTS_MAX)
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "The voice call %s has %d transcript segments, the most one call keeps.",
                          c->id.s, SB_CALL_SEGMENTS_MAX);
    sb_transcript_segment_t *grown = realloc(c->segments, (c->n_segments + 1) * sizeof(*grown));
    if (grown == NULL)
        return -ENOMEM;
    c->segments = grown;
    size_t at_index = c->n_segments;
    while (at_index > 0 && c->segments[at_index - 1].at_ms > at)
        at_index--;
    memmove(&c->segments[at_index + 1], &c->segments[at_index],
            (c->n_segments - at_index) * sizeof(*grown));
    sb_transcript_segment_t *s = &c->segments[at_index];
    memset(s, 0, sizeof(*s));
    memcpy(s->id, id, sizeof(s->id));
    s->at_ms = at;
    snprintf(s->speaker, sizeof(s->speaker), "%s", ev->speaker ? ev->speaker : "");
    s->text = strdup(ev->text);
    c->n_segments++;
    return s->text ? 0 : -ENOMEM;
}

/*
 * The screen pop: the layout of the agent's profile says, for the call's
 * type, which objects are searched and what to do for no, one or several
 * matches of the customer's number.
 */
static int decide_pop(sb_store_t *store, MDB_txn *txn, const char *org, sb_voicecall_t *c)
{
    const char *number = c->type == SB_CALL_OUTBOUND ? c->to : c->from;
    if (c->pop_decided || c->user.s[0] == '\0' || number[0] == '\0')
        return 0;
    sb_key_t ukey;
    MDB_val uval;
    sb_user_t user;
    int rc = sb__key(&ukey, org, c->user.s);
    if (rc == 0)
        rc = sb__get(txn, store->users, &ukey, &uval);
    if (rc == -ENOENT)
        return 0; /* an agent Switchboard does not know: no layout, no pop yet */
    if (rc == 0 && sb_codec_decode_user(uval.mv_data, uval.mv_size, &user) != 0)
        rc = SB_E_CORRUPT;
    MDB_val stored;
    sb_layout_source_t source;
    if (rc == 0)
        rc = sb__layout_resolve(store, txn, org, user.profile, c->layout, &source, &stored);
    if (rc != 0)
        return rc;
    c->pop_decided = true;
    snprintf(c->pop, sizeof(c->pop), "none");
    if (source == SB_LAYOUT_NONE)
        return 0;
    sb_layout_t *layout = malloc(sizeof(*layout));
    sb_contact_t *found = calloc(16, sizeof(*found));
    if (layout == NULL || found == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        rc = sb_layout_decode(stored.mv_data, stored.mv_size, layout, NULL);
    size_t n = 0;
    if (rc == 0)
        rc = sb__contact_match(store, txn, org, number, found, 16, &n);
    if (rc == 0) {
        /* Only the objects this call type searches count. */
        size_t kept = 0;
        for (size_t i = 0; i < n && i < 16; i++)
            if (sb_layout_searches(layout, c->type, found[i].type))
                found[kept++] = found[i];
        c->matches = (uint32_t)kept;
        sb_match_t match = kept == 0   ? SB_MATCH_NONE
                           : kept == 1 ? SB_MATCH_SINGLE
                                       : SB_MATCH_MULTIPLE;
        const sb_pop_rule_t *rule = &layout->types[c->type].pop[match];
        snprintf(c->pop, sizeof(c->pop), "%s", sb_pop_action_name(rule->action));
        if (rule->action == SB_POP_RECORD)
            c->parent = found[0].id;
        else if (rule->action == SB_POP_NEW_RECORD)
            snprintf(c->pop_target, sizeof(c->pop_target), "%s", sb_object_name(rule->object));
        else if (rule->action == SB_POP_FLOW)
            snprintf(c->pop_target, sizeof(c->pop_target), "%s", rule->target);
    }
    free(layout);
    free(found);
    return rc;
}

static int apply(sb_store_t *store, MDB_txn *txn, const char *org, sb_voicecall_t *c,
                 const sb_call_event_t *ev, sb_err_t *err)
{
    int64_t at = ev->at_ms ? ev->at_ms : sb__now_ms();
    bool ended = strcmp(c->status, "ended") == 0;
    if (ev->user != NULL && ev->user[0] != '\0') {
        sb_sfid_t agent; /* checked every time; the first agent stays the call's */
        int rc = sb_sfid_normalize(ev->user, SB_SFID_PREFIX_USER, "user id", &agent, err);
        if (rc != 0)
            return rc;
        if (c->user.s[0] == '\0')
            c->user = agent;
    }
    if (ev->call_type >= 0 && ev->action == SB_CALL_START)
        c->type = (sb_call_type_t)ev->call_type;
    set_if_empty(c->from, sizeof(c->from), ev->from);
    set_if_empty(c->to, sizeof(c->to), ev->to);
    switch (ev->action) {
    case SB_CALL_START:
        c->start_ms = earliest(c->start_ms, at);
        break;
    case SB_CALL_ACCEPT:
        c->accept_ms = earliest(c->accept_ms, at);
        if (!ended && strcmp(c->status, "on_hold") != 0)
            snprintf(c->status, sizeof(c->status), "in_call");
        break;
    case SB_CALL_HOLD:
        if (!ended && strcmp(c->status, "on_hold") != 0) {
            snprintf(c->status, sizeof(c->status), "on_hold");
            c->holds++;
        }
        break;
    case SB_CALL_RESUME:
        if (!ended && strcmp(c->status, "on_hold") == 0)
            snprintf(c->status, sizeof(c->status), "in_call");
        break;
    case SB_CALL_TRANSCRIPT: {
        if (ev->text == NULL || ev->text[0] == '\0')
            return sb_err_set(err, -EINVAL, "A transcript event needs its text.");
        int rc = add_segment(c, ev, at, err);
        if (rc != 0)
            return rc;
        break;
    }
    case SB_CALL_END:
        c->end_ms = earliest(c->end_ms, at);
        snprintf(c->status, sizeof(c->status), "ended");
        set_if_empty(c->disposition, sizeof(c->disposition), ev->disposition);
        break;
    case SB_CALL_ACTIONS:
        break;
    }
    if (strcmp(c->status, "ended") == 0 && c->disposition[0] == '\0' && c->end_ms)
        snprintf(c->disposition, sizeof(c->disposition), "%s",
                 c->accept_ms ? "completed" : "missed");
    recompute(c);
    return decide_pop(store, txn, org, c);
}

/* org \0 cc \0 vendor key; -EINVAL (nothing copied) when it does not fit the key. */
static int call_key(sb_key_t *key, const char *org, const sb_sfid_t *cc, const char *vendor_key)
{
    int rc = sb__key(key, org, cc->s);
    if (rc != 0)
        return rc;
    size_t n = strnlen(vendor_key, sizeof(key->buf));
    if (n >= sizeof(key->buf) - key->len) { /* the NUL separator and the key */
        key->len = 0;
        return -EINVAL;
    }
    key->buf[key->len++] = '\0';
    memcpy(key->buf + key->len, vendor_key, n);
    key->len += n;
    return 0;
}

int sb__call_key(sb_key_t *key, const char *org, const sb_sfid_t *cc, const char *vendor_key)
{
    return call_key(key, org, cc, vendor_key);
}

struct event_ctx {
    const char *org;
    sb_sfid_t cc;
    const sb_call_event_t *ev;
    sb_voicecall_t *result;
    bool created;
};

static int event_txn(sb_store_t *store, MDB_txn *txn, void *vctx, sb_err_t *err)
{
    struct event_ctx *ctx = vctx;
    sb_voicecall_free(ctx->result);
    ctx->result = NULL;
    ctx->created = false;
    const sb_call_event_t *ev = ctx->ev;
    size_t key_len = ev->vendor_call_key ? strlen(ev->vendor_call_key) : 0;
    if (key_len == 0 || key_len > SB_CALL_KEY_MAX || memchr(ev->vendor_call_key, '\0', key_len))
        return sb_err_set(err, SB_E_MISSING_FIELD,
                          "A call event needs its vendor call key (1 to %d bytes).",
                          SB_CALL_KEY_MAX);
    int64_t now = sb__now_ms();
    if (ev->at_ms != 0 &&
        (ev->at_ms < SB_CALL_TIME_MIN_MS || ev->at_ms > now + SB_CALL_TIME_AHEAD_MS))
        return sb_err_set(err, SB_E_OUT_OF_RANGE,
                          "A call event's time is from 2000-01-01 to a day past the server's "
                          "clock; %lld ms since 1970 is not.",
                          (long long)ev->at_ms);
    if ((ev->from && strlen(ev->from) > SB_CALL_NUMBER_MAX) ||
        (ev->to && strlen(ev->to) > SB_CALL_NUMBER_MAX))
        return sb_err_set(err, SB_E_INVALID_VALUE, "A phone number is at most %d bytes.",
                          SB_CALL_NUMBER_MAX);
    sb_callcenter_t *cc = NULL;
    int rc = sb__org_must_exist(store, txn, ctx->org, err);
    if (rc == 0)
        rc = sb__cc_load(store, txn, ctx->org, &ctx->cc, &cc, err);
    sb_callcenter_free(cc);
    if (rc != 0)
        return rc;
    sb_key_t key;
    MDB_val idval;
    sb_voicecall_t *c = NULL;
    if ((rc = call_key(&key, ctx->org, &ctx->cc, ev->vendor_call_key)) != 0)
        return sb_err_set(err, rc, "The vendor call key is too long for a key.");
    rc = sb__get(txn, store->call_keys, &key, &idval);
    if (rc == 0) {
        sb_key_t vkey;
        char id[SB_SFID_LEN + 1];
        if (idval.mv_size != SB_SFID_LEN)
            return SB_E_CORRUPT;
        memcpy(id, idval.mv_data, SB_SFID_LEN);
        id[SB_SFID_LEN] = '\0';
        MDB_val val;
        if ((rc = sb__key(&vkey, ctx->org, id)) == 0)
            rc = sb__get(txn, store->voicecalls, &vkey, &val);
        if (rc == 0)
            rc = decode(val.mv_data, val.mv_size, &c);
        else if (rc == -ENOENT)
            rc = SB_E_CORRUPT;
    } else if (rc == -ENOENT) {
        /* The first event of this call, whichever it is. */
        c = calloc(1, sizeof(*c));
        rc = c ? sb__new_id(store, txn, store->voicecalls, ctx->org, SB_SFID_PREFIX_VOICECALL,
                            &c->id)
               : -ENOMEM;
        if (rc == 0) {
            c->callcenter = ctx->cc;
            snprintf(c->vendor_call_key, sizeof(c->vendor_call_key), "%s", ev->vendor_call_key);
            c->type = SB_CALL_INBOUND;
            c->duration_s = -1;
            snprintf(c->status, sizeof(c->status), "ringing");
            c->created_ms = sb__now_ms();
            rc = sb__put(txn, store->call_keys, &key, c->id.s, SB_SFID_LEN, 0);
            ctx->created = true;
        }
    }
    if (rc == 0)
        rc = apply(store, txn, ctx->org, c, ev, err);
    if (rc == 0) {
        c->updated_ms = sb__now_ms();
        rc = put_call(store, txn, ctx->org, c);
    }
    if (rc != 0) {
        sb_voicecall_free(c);
        return rc;
    }
    ctx->result = c;
    return 0;
}

int sb_store_call_event(sb_store_t *store, const char *org, const sb_sfid_t *cc,
                        const sb_call_event_t *ev, sb_voicecall_t **out, bool *created,
                        sb_err_t *err)
{
    struct event_ctx ctx = {org, *cc, ev, NULL, false};
    int rc = sb__write(store, event_txn, &ctx, err);
    if (rc != 0) {
        sb_voicecall_free(ctx.result);
        return rc;
    }
    if (created)
        *created = ctx.created;
    if (out)
        *out = ctx.result;
    else
        sb_voicecall_free(ctx.result);
    return 0;
}

int sb_store_voicecall_get(sb_store_t *store, const char *org, const char *id, sb_voicecall_t **out,
                           sb_err_t *err)
{
    *out = NULL;
    sb_sfid_t norm;
    int rc = sb_sfid_normalize(id, SB_SFID_PREFIX_VOICECALL, "voice call id", &norm, err);
    MDB_txn *txn;
    if (rc == 0)
        rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    rc = sb__org_must_exist(store, txn, org, err);
    sb_key_t key;
    MDB_val val;
    if (rc == 0)
        rc = sb__key(&key, org, norm.s);
    if (rc == 0 && (rc = sb__get(txn, store->voicecalls, &key, &val)) == -ENOENT)
        sb_err_set(err, -ENOENT, "The voice call %s does not exist in org '%s'.", norm.s, org);
    if (rc == 0)
        rc = decode(val.mv_data, val.mv_size, out);
    sb__read_end(store, txn);
    return rc;
}

int sb_store_voicecall_list(sb_store_t *store, const char *org, const sb_voicecall_filter_t *f,
                            size_t limit, sb_voicecall_t ***rows, size_t *n, bool *more,
                            sb_sfid_t *resume, sb_err_t *err)
{
    *rows = NULL;
    *n = 0;
    *more = false;
    resume->s[0] = '\0';
    size_t scanned_rows = 0, scanned_bytes = 0;
    int rc = sb__check_limit(limit, err);
    sb_sfid_t after;
    if (rc == 0 && f->after && f->after[0])
        rc = sb_sfid_normalize(f->after, SB_SFID_PREFIX_VOICECALL, "voice call id", &after, err);
    MDB_txn *txn;
    if (rc == 0)
        rc = sb__read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    sb_voicecall_t **out = calloc(limit, sizeof(sb_voicecall_t *));
    rc = out ? sb__org_must_exist(store, txn, org, err) : -ENOMEM;
    MDB_cursor *cur = NULL;
    if (rc == 0)
        rc = sb__lmdb_rc(mdb_cursor_open(txn, store->voicecalls, &cur));
    sb_key_t prefix = {.len = 0}, start = {.len = 0};
    if (rc == 0)
        rc = sb__key(&prefix, org, "");
    if (rc == 0 && f->after && f->after[0])
        rc = sb__key(&start, org, after.s);
    else if (rc == 0)
        start = prefix;
    MDB_val k = {start.len, start.buf}, v;
    int lmdb = rc == 0 ? sb__cursor_get(cur, &k, &v, MDB_SET_RANGE) : MDB_NOTFOUND;
    /* Ids grow with time, so id order is creation order. */
    while (rc == 0 && lmdb == 0 && k.mv_size >= prefix.len &&
           memcmp(k.mv_data, prefix.buf, prefix.len) == 0) {
        if (f->after && f->after[0] && k.mv_size == start.len &&
            memcmp(k.mv_data, start.buf, start.len) == 0) {
            lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        /* Bounded before decoding: the caller goes on from the last id examined. */
        if (scanned_rows > 0 && (scanned_rows >= SB_VOICECALL_SCAN_ROWS ||
                                 scanned_bytes + v.mv_size > SB_VOICECALL_SCAN_BYTES)) {
            *more = true;
            break;
        }
        sb_voicecall_t *c;
        rc = decode(v.mv_data, v.mv_size, &c);
        if (rc != 0)
            break;
        scanned_rows++;
        scanned_bytes += v.mv_size;
        bool keep = (!f->user || strcmp(c->user.s, f->user) == 0) &&
                    (!f->callcenter || strcmp(c->callcenter.s, f->callcenter) == 0) &&
                    (!f->since_ms || (c->start_ms ? c->start_ms : c->created_ms) >= f->since_ms) &&
                    (!f->until_ms || (c->start_ms ? c->start_ms : c->created_ms) < f->until_ms);
        if (keep && *n == limit) {
            *more = true;
            sb_voicecall_free(c);
            break;
        }
        *resume = c->id; /* handled: returned or filtered out */
        if (keep)
            out[(*n)++] = c;
        else
            sb_voicecall_free(c);
        lmdb = sb__cursor_get(cur, &k, &v, MDB_NEXT);
    }
    /* The walk ended on a damaged record, not at the org's last call. */
    if (rc == 0 && !*more && lmdb != 0 && lmdb != MDB_NOTFOUND)
        rc = sb__lmdb_rc(lmdb);
    if (cur)
        mdb_cursor_close(cur);
    sb__read_end(store, txn);
    if (rc == 0 && !*more)
        resume->s[0] = '\0';
    if (rc != 0) {
        for (size_t i = 0; out && i < *n; i++)
            sb_voicecall_free(out[i]);
        free(out);
        *n = 0;
        return sb_err_default(err, rc);
    }
    *rows = out;
    return 0;
}
