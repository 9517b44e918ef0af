/*
 * call.*: the events of a call, in Switchboard's words or in the vendor's
 * (call.event, through the Call Center's adapter), each changing the call's
 * voice-call record; voicecall.*: reading those records; call.test: a test
 * call that checks the last step of a set-up end to end.
 */
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "methods.h"
#include "plugin_host.h"

/*
 * "2026-11-24T10:00:00Z", with optional fractions and offset, or
 * milliseconds. 0 when neither is given; -1 when the text is neither, or a
 * time int64 milliseconds cannot hold (the range of a call's times is the
 * store's to check: SB_CALL_TIME_MIN_MS and SB_CALL_TIME_AHEAD_MS).
 */
static int64_t parse_time(const char *text)
{
    if (text == NULL || text[0] == '\0')
        return 0;
    if (strspn(text, "0123456789") == strlen(text)) {
        errno = 0;
        long long ms = strtoll(text, NULL, 10);
        return errno == ERANGE ? -1 : (int64_t)ms; /* 20 digits: not a time */
    }
    struct tm tm = {0};
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    /* Years 0 to 9999 only: timegm's seconds times 1000 then stay in int64. */
    if (rest == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return -1;
    int64_t ms = (int64_t)timegm(&tm) * 1000;
    if (*rest == '.') {
        int64_t frac = 0, scale = 100;
        for (rest++; isdigit((unsigned char)*rest); rest++, scale /= 10)
            frac += scale > 0 ? (*rest - '0') * scale : 0;
        ms += frac;
    }
    if (*rest == '+' || *rest == '-') {
        int64_t sign = *rest == '-' ? -1 : 1;
        char *end;
        long hh = strtol(rest + 1, &end, 10), mm = 0;
        if (end == rest + 1 || hh < 0 || hh > 23)
            return -1;
        if (*end == ':')
            mm = strtol(end + 1, &end, 10);
        if (mm < 0 || mm > 59 || *end != '\0')
            return -1;
        ms -= sign * ((int64_t)hh * 3600 + (int64_t)mm * 60) * 1000;
    } else if (*rest != 'Z' && *rest != '\0') {
        return -1;
    }
    return ms;
}

/* An ANI or DNIS: E.164 when the Call Center's prefixes read it, else as given ("anonymous"). */
static const char *number(sb_call_t *call, const sb_dialing_t *dialing, const char *raw)
{
    if (raw == NULL || raw[0] == '\0')
        return raw;
    char *out = msgpack_zone_malloc(call->zone, SB_E164_MAX + 1);
    char why[160];
    if (out != NULL && sb_phone_normalize(raw, dialing, out, why, sizeof(why)) == 0)
        return out;
    return raw;
}

static int pack_call(msgpack_packer *pk, const sb_voicecall_t *c, bool created)
{
    return msgpack_pack_map(pk, 2) | sb_pack_kv_bool(pk, "created", created) |
           sb_pack_str(pk, "voicecall") | sb_voicecall_pack(pk, c);
}

/* Applies `ev` to the call of the "callcenter" argument and answers with the record. */
static int run_event(sb_call_t *call, const sb_callcenter_t *cc, sb_call_event_t *ev,
                     msgpack_packer *pk, sb_err_t *err)
{
    sb_dialing_t dialing;
    sb__dialing_of(cc, NULL, &dialing);
    ev->from = number(call, &dialing, ev->from);
    ev->to = number(call, &dialing, ev->to);
    sb_voicecall_t *c = NULL;
    bool created = false;
    int rc = sb_store_call_event(call->svc->store, call->org, &cc->id, ev, &c, &created, err);
    if (rc == 0)
        rc = pack_call(pk, c, created);
    sb_voicecall_free(c);
    return rc;
}

/* The event of a call.* method, from its arguments. */
static int event_from_args(sb_call_t *call, sb_call_action_t action, sb_call_event_t *ev,
                           sb_err_t *err)
{
    memset(ev, 0, sizeof(*ev));
    ev->action = action;
    ev->call_type = -1;
    ev->vendor_call_key = sb_arg_str(call, "vendor_call_key");
    ev->user = sb_arg_str(call, "user");
    ev->from = sb_arg_str(call, "from");
    ev->to = sb_arg_str(call, "to");
    ev->text = sb_arg_str(call, "text");
    ev->speaker = sb_arg_str(call, "speaker");
    ev->segment_id = sb_arg_str(call, "segment_id");
    ev->disposition = sb_arg_str(call, "disposition");
    const char *type = sb_arg_str(call, "call_type");
    sb_call_type_t t;
    if (type != NULL) {
        if (sb_call_type_parse(type, &t) != 0)
            return sb_err_set(err, SB_E_INVALID_VALUE,
                              "call_type is inbound, outbound or internal, not '%.40s'.", type);
        ev->call_type = (int)t;
    }
    ev->at_ms = parse_time(sb_arg_str(call, "at"));
    if (ev->at_ms < 0)
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "'at' is an ISO 8601 time (2026-11-24T10:00:00Z) or milliseconds since "
                          "1970.");
    return 0;
}

static int call_action(sb_call_t *call, sb_call_action_t action, msgpack_packer *pk, sb_err_t *err)
{
    sb_call_event_t ev;
    int rc = event_from_args(call, action, &ev, err);
    sb_callcenter_t *cc = NULL;
    if (rc == 0)
        rc = sb__load_cc(call, sb_arg_str(call, "callcenter"), &cc, err);
    if (rc == 0)
        rc = run_event(call, cc, &ev, pk, err);
    sb_callcenter_free(cc);
    return rc;
}

static int call_start(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    return call_action(call, SB_CALL_START, pk, err);
}
static int call_accept(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    return call_action(call, SB_CALL_ACCEPT, pk, err);
}
static int call_hold(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    return call_action(call, SB_CALL_HOLD, pk, err);
}
static int call_resume(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    return call_action(call, SB_CALL_RESUME, pk, err);
}
static int call_transcript(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    return call_action(call, SB_CALL_TRANSCRIPT, pk, err);
}
static int call_end(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    return call_action(call, SB_CALL_END, pk, err);
}

static const char *kv_get(const sb_plugin_kv_t *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

/* call.event's adapter call, made before the write: what the adapter made
 * of the event, and which Call Center and adapter it was. */
typedef struct event_prep {
    sb_sfid_t cc_id;
    char adapter[SB_PLUGIN_NAME_MAX + 1];
    sb_plugin_kv_t *kv; /* [owned] */
    size_t n;
} event_prep_t;

static void event_prep_free(void *ctx)
{
    event_prep_t *p = ctx;
    free(p->kv);
    free(p);
}

static int prepare_event(sb_call_t *call, sb_err_t *err)
{
    size_t len;
    const char *bytes = sb_arg_bytes(call, "event", &len);
    char *event = msgpack_zone_malloc(call->zone, len + 1);
    if (event == NULL)
        return sb_err_default(err, -ENOMEM);
    memcpy(event, bytes, len);
    event[len] = '\0';
    sb_callcenter_t *cc = NULL;
    int rc = sb__load_cc(call, sb_arg_str(call, "callcenter"), &cc, err);
    if (rc != 0)
        return rc;
    sb_plugin_kv_t *kv = NULL;
    size_t n = 0;
    if (cc->adapter[0] == '\0')
        rc = sb_err_set(err, SB_E_INVALID_VALUE,
                        "The Call Center '%s' names no adapter to read vendor events; use the "
                        "call.start ... call.end methods instead.",
                        sb_callcenter_internal_name(cc));
    else
        rc = sb_plugin_host_call_event(call->svc->plugins, cc->adapter, cc, event, &kv, &n, err);
    if (rc == -ENOENT)
        rc = sb_err_set(err, SB_E_ADAPTER_UNAVAILABLE,
                        "The adapter '%s' of Call Center '%s' is not loaded; plugin list says why.",
                        cc->adapter, sb_callcenter_internal_name(cc));
    else if (rc == -ENOMSG)
        rc = sb_err_set(err, SB_E_EVENT_IGNORED,
                        "The adapter '%s' does not map this event; its README lists the events "
                        "it reads. Nothing was changed.",
                        cc->adapter);
    event_prep_t *p = rc == 0 ? calloc(1, sizeof(*p)) : NULL;
    if (rc == 0 && p == NULL)
        rc = sb_err_default(err, -ENOMEM);
    if (rc == 0) {
        p->cc_id = cc->id;
        snprintf(p->adapter, sizeof(p->adapter), "%s", cc->adapter);
        p->kv = kv;
        p->n = n;
        kv = NULL;
        call->prep = p;
        call->prep_free = event_prep_free;
    }
    free(kv);
    sb_callcenter_free(cc);
    return rc;
}

/* call.event: the vendor's own event, translated by the Call Center's adapter
 * (prepare_event), applied to the voice call in the write. */
static int call_event(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const event_prep_t *p = call->prep;
    if (p == NULL)
        return sb_err_default(err, -EINVAL);
    const sb_plugin_kv_t *kv = p->kv;
    size_t n = p->n;
    sb_callcenter_t *cc = NULL;
    int rc = sb_store_cc_get(call->svc->store, call->org, p->cc_id.s, &cc, err);
    /* The adapter read the event for the Call Center as it was; one that
     * names another adapter now would have read it otherwise. */
    if (rc == 0 && strcmp(cc->adapter, p->adapter) != 0)
        rc = sb_err_set(err, -EAGAIN,
                        "The Call Center '%s' changed its adapter while the event was read; "
                        "nothing was changed. Retry.",
                        sb_callcenter_internal_name(cc));
    sb_call_event_t ev = {.call_type = -1};
    if (rc == 0) {
        const char *action = kv_get(kv, n, "action");
        if (sb_call_action_parse(action, &ev.action) != 0)
            rc = sb_err_set(err, SB_E_INVALID_VALUE,
                            "The adapter '%s' answered the action '%s', which is not one of "
                            "start, accept, hold, resume, transcript, end.",
                            cc->adapter, action ? action : "");
    }
    if (rc == 0) {
        ev.vendor_call_key = kv_get(kv, n, "vendor_call_key");
        ev.user = sb_arg_str(call, "user") ? sb_arg_str(call, "user") : kv_get(kv, n, "user");
        ev.from = kv_get(kv, n, "from");
        ev.to = kv_get(kv, n, "to");
        ev.text = kv_get(kv, n, "text");
        ev.speaker = kv_get(kv, n, "speaker");
        ev.segment_id = kv_get(kv, n, "segment_id");
        ev.disposition = kv_get(kv, n, "disposition");
        sb_call_type_t t;
        if (kv_get(kv, n, "call_type") && sb_call_type_parse(kv_get(kv, n, "call_type"), &t) == 0)
            ev.call_type = (int)t;
        ev.at_ms = parse_time(kv_get(kv, n, "at"));
        if (ev.at_ms < 0)
            ev.at_ms = 0; /* an adapter's time we cannot read: the time it arrived */
        rc = run_event(call, cc, &ev, pk, err);
    }
    sb_callcenter_free(cc);
    return rc;
}

/* ---- voicecall.* --------------------------------------------------------------- */

static int voicecall_get(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_voicecall_t *c = NULL;
    int rc = sb_store_voicecall_get(call->svc->store, call->org, sb_arg_str(call, "id"), &c, err);
    if (rc == 0)
        rc = sb_voicecall_pack(pk, c);
    sb_voicecall_free(c);
    return rc;
}

static int voicecall_list(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    sb_voicecall_filter_t f = {0};
    sb_sfid_t user, cc_id;
    int rc = 0;
    const char *user_arg = sb_arg_str(call, "user");
    if (user_arg != NULL &&
        (rc = sb_sfid_normalize(user_arg, SB_SFID_PREFIX_USER, "user id", &user, err)) == 0)
        f.user = user.s;
    const char *cc_arg = sb_arg_str(call, "callcenter");
    if (rc == 0 && cc_arg != NULL) {
        sb_callcenter_t *cc = NULL;
        rc = sb__load_cc(call, cc_arg, &cc, err);
        if (rc == 0) {
            cc_id = cc->id;
            f.callcenter = cc_id.s;
        }
        sb_callcenter_free(cc);
    }
    f.since_ms = parse_time(sb_arg_str(call, "since"));
    f.until_ms = parse_time(sb_arg_str(call, "until"));
    if (rc == 0 && (f.since_ms < 0 || f.until_ms < 0))
        rc = sb_err_set(err, SB_E_INVALID_VALUE,
                        "since and until are ISO 8601 times or milliseconds since 1970.");
    f.after = sb_arg_str(call, "after");
    sb_voicecall_t **rows = NULL;
    size_t n = 0;
    bool more = false;
    sb_sfid_t resume;
    if (rc == 0)
        rc = sb_store_voicecall_list(call->svc->store, call->org, &f, sb_arg_limit(call), &rows, &n,
                                     &more, &resume, err);
    if (rc != 0)
        return rc;
    rc = msgpack_pack_map(pk, 3) | sb_pack_str(pk, "voicecalls") | msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        rc |= sb_voicecall_pack(pk, rows[i]);
        sb_voicecall_free(rows[i]);
    }
    free(rows);
    /* next_after: where the next page starts, past calls filtered out, since
     * a scan that stopped at its bound returns a short (even empty) page. */
    return rc | sb_pack_kv_bool(pk, "more", more) | sb_pack_str(pk, "next_after") |
           (more ? sb_pack_str(pk, resume.s) : msgpack_pack_nil(pk));
}

/* ---- call.test ------------------------------------------------------------------- */

/* One item of the validation step: what was checked, whether it passed, and in words. */
static int pack_check(msgpack_packer *pk, const char *name, bool ok, const char *detail)
{
    return msgpack_pack_map(pk, 3) | sb_pack_kv_str(pk, "check", name) |
           sb_pack_kv_bool(pk, "ok", ok) | sb_pack_kv_str(pk, "detail", detail);
}

/*
 * A test call: checks the user's softphone, then places an inbound call from
 * `from` to the user through the call.* path (start, accept, two transcript
 * segments, end) and checks the record it left.
 */
static int call_test(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const char *user = sb_arg_str(call, "user");
    const char *from = sb_arg_str(call, "from");
    sb_softphone_answer_t answer;
    int rc = sb_store_softphone_check(call->svc->store, call->org, user, &answer, err);
    if (rc != 0)
        return rc;
    char detail[5][800];
    bool ok[5] = {false};
    ok[0] = answer.reason == SB_SOFTPHONE_OK;
    snprintf(detail[0], sizeof(detail[0]), "%s", answer.message);
    sb_callcenter_t *cc = NULL;
    sb_voicecall_t *c = NULL;
    if (answer.blob != NULL)
        rc = sb_store_cc_get(call->svc->store, call->org, answer.view.cc_id, &cc, err);
    if (rc == 0 && cc != NULL) {
        sb_dialing_t dialing;
        sb__dialing_of(cc, NULL, &dialing);
        char key[64], ani[SB_E164_MAX + 1] = "", why[256] = "";
        /* Distinct keys from random bits, not a counter of the server's test
         * calls: a counter in the key told a tenant how many other tenants ran. */
        uint64_t nonce;
        randombytes_buf(&nonce, sizeof(nonce));
        snprintf(key, sizeof(key), "switchboard-test-%lld-%016llx", (long long)time(NULL),
                 (unsigned long long)nonce);
        bool ani_ok = sb_phone_normalize(from, &dialing, ani, why, sizeof(why)) == 0;
        static const struct {
            sb_call_action_t action;
            const char *speaker, *text, *segment;
        } steps[] = {
            {SB_CALL_START, NULL, NULL, NULL},
            {SB_CALL_ACCEPT, NULL, NULL, NULL},
            {SB_CALL_TRANSCRIPT, "customer", "Hello, this is a Switchboard test call.", "test-1"},
            {SB_CALL_TRANSCRIPT, "agent", "Hello, the test call reached you.", "test-2"},
            {SB_CALL_END, NULL, NULL, NULL}};
        int64_t t0 = (int64_t)time(NULL) * 1000;
        for (size_t i = 0; rc == 0 && i < sizeof(steps) / sizeof(steps[0]); i++) {
            sb_call_event_t ev = {.action = steps[i].action,
                                  .vendor_call_key = key,
                                  .user = answer.user,
                                  .call_type = SB_CALL_INBOUND,
                                  .from = ani_ok ? ani : from,
                                  .at_ms = t0 + (int64_t)i * 1000,
                                  .text = steps[i].text,
                                  .speaker = steps[i].speaker,
                                  .segment_id = steps[i].segment,
                                  .disposition = "test call"};
            sb_voicecall_free(c);
            c = NULL;
            rc = sb_store_call_event(call->svc->store, call->org, &cc->id, &ev, &c, NULL, err);
        }
        if (rc == 0) {
            ok[1] = true;
            snprintf(detail[1], sizeof(detail[1]), "Voice call %s was created and ended (%lld s).",
                     c->id.s, (long long)c->duration_s);
            ok[2] = ani_ok && strcmp(c->from, ani) == 0;
            if (ani_ok)
                snprintf(detail[2], sizeof(detail[2]), "The record's ANI is %s%s.", c->from,
                         ok[2] ? "" : ", not the number called from");
            else
                snprintf(detail[2], sizeof(detail[2]), "The number called from: %s.", why);
            ok[3] = c->n_segments == 2 && strcmp(c->segments[0].id, "test-1") == 0;
            snprintf(detail[3], sizeof(detail[3]), "The transcript holds %zu of 2 segments%s.",
                     c->n_segments, ok[3] ? ", in order" : "");
            ok[4] = c->parent.s[0] != '\0';
            if (ok[4])
                snprintf(detail[4], sizeof(detail[4]), "The parent record is %s (layout '%s').",
                         c->parent.s, c->layout);
            else if (!c->pop_decided || c->layout[0] == '\0')
                snprintf(detail[4], sizeof(detail[4]),
                         "No parent record: the user's profile has no softphone layout to pick "
                         "one; create one (layout put --default).");
            else
                snprintf(detail[4], sizeof(detail[4]),
                         "No parent record: %u record(s) of the objects layout '%s' searches "
                         "have number %s, so it pops '%s'. Import a contact with that number "
                         "(contact import) to tie calls from it to a record.",
                         c->matches, c->layout, c->from, c->pop);
        }
    }
    if (rc == 0 && cc == NULL)
        for (int i = 1; i < 5; i++)
            snprintf(detail[i], sizeof(detail[i]),
                     "Not tried: the user has no softphone to take the call.");
    if (rc == 0) {
        static const char *const names[5] = {"softphone", "record", "ani", "transcript", "parent"};
        bool all = ok[0] && ok[1] && ok[2] && ok[3] && ok[4];
        rc = msgpack_pack_map(pk, 3) | sb_pack_kv_bool(pk, "passed", all) |
             sb_pack_str(pk, "checks") | msgpack_pack_array(pk, 5);
        for (int i = 0; i < 5; i++)
            rc |= pack_check(pk, names[i], ok[i], detail[i]);
        rc |= sb_pack_str(pk, "voicecall");
        rc |= c ? sb_voicecall_pack(pk, c) : msgpack_pack_nil(pk);
    }
    sb_voicecall_free(c);
    sb_callcenter_free(cc);
    sb_softphone_answer_destroy(&answer);
    return rc;
}

#define CALL_ARGS(extra...)                                                                        \
    {                                                                                              \
        SB_ARG_ORG, {"callcenter", SB_ARG_STRING, true, "the Call Center's id or internal name"},  \
            {"vendor_call_key", SB_ARG_STRING, true, "the telephony platform's key for the call"}, \
            {"at", SB_ARG_STRING, false, "when: ISO 8601 or milliseconds (default: now)"}, extra   \
    }
#define CALL_ERRORS "NOT_FOUND MISSING_FIELD INVALID_VALUE INVALID_ID"
#define CALL_RESULT "{created: whether this event created the call, voicecall}"

static const sb_method_t methods[] = {
    {"call.start",
     "A call starts: creates its voice-call record (or completes it, for a repeated or late "
     "start).",
     SB_ROLE_ORG_ADMIN, true, true, call_start,
     CALL_ARGS({"call_type", SB_ARG_STRING, false, "inbound (default), outbound or internal"},
               {"from", SB_ARG_STRING, false, "the caller's number (ANI)"},
               {"to", SB_ARG_STRING, false, "the number called (DNIS)"},
               {"user", SB_ARG_STRING, false, "the agent, when known"}),
     CALL_RESULT, CALL_ERRORS},
    {"call.accept",
     "The agent accepts the call; the screen pop of the agent's layout picks the parent record.",
     SB_ROLE_ORG_ADMIN, true, true, call_accept,
     CALL_ARGS({"user", SB_ARG_STRING, false, "the agent"}), CALL_RESULT, CALL_ERRORS},
    {"call.hold", "The call is put on hold.", SB_ROLE_ORG_ADMIN, true, true, call_hold, CALL_ARGS(),
     CALL_RESULT, CALL_ERRORS},
    {"call.resume", "The call comes back from hold.", SB_ROLE_ORG_ADMIN, true, true, call_resume,
     CALL_ARGS(), CALL_RESULT, CALL_ERRORS},
    {"call.transcript", "A transcript segment: kept in time order, once per segment id.",
     SB_ROLE_ORG_ADMIN, true, true, call_transcript,
     CALL_ARGS({"text", SB_ARG_STRING, true,
                "what was said: at most 4096 bytes, and a call keeps at most 1 MiB of transcript"},
               {"speaker", SB_ARG_STRING, false, "agent, customer, ..."},
               {"segment_id", SB_ARG_STRING, false, "the segment's id: a repeat is kept once"}),
     CALL_RESULT, CALL_ERRORS},
    {"call.end",
     "The call ends: end time, duration and disposition are set (a repeated end changes nothing).",
     SB_ROLE_ORG_ADMIN, true, true, call_end,
     CALL_ARGS({"disposition", SB_ARG_STRING, false,
                "how it ended (default: completed, or missed if never accepted)"}),
     CALL_RESULT, CALL_ERRORS},
    {"call.event",
     "A call event in the telephony vendor's own shape (for Service Cloud Voice, the Telephony "
     "REST API's voice call create and update bodies), translated by the Call Center's adapter.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     call_event,
     {SB_ARG_ORG,
      {"callcenter", SB_ARG_STRING, true, "the Call Center's id or internal name"},
      {"event", SB_ARG_BYTES, true, "the vendor's event, JSON"},
      {"user", SB_ARG_STRING, false, "the agent, when the event does not name one"}},
     CALL_RESULT,
     CALL_ERRORS " ADAPTER_UNAVAILABLE EVENT_IGNORED BUSY (the adapter changed meanwhile: retry)"},
    {"call.test",
     "Places a test call to a user and checks each item of the validation step: softphone, "
     "record, ANI, transcript, parent record.",
     SB_ROLE_ORG_ADMIN,
     true,
     true,
     call_test,
     {SB_ARG_ORG,
      {"user", SB_ARG_STRING, true, "the test user"},
      {"from", SB_ARG_STRING, true, "the number the test call comes from"}},
     "{passed, checks: [{check: softphone | record | ani | transcript | parent, ok, detail}], "
     "voicecall or nil}",
     "NOT_FOUND"},
    {"voicecall.get",
     "A voice-call record.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     voicecall_get,
     {SB_ARG_ORG, {"id", SB_ARG_STRING, true, "the voice call's id (0LQ...)"}},
     "{id, callcenter, user, vendor_call_key, call_type, from, to, start, accept, end, "
     "duration_s, status, holds, disposition, parent, screen_pop: {action, target, matches, "
     "layout}, transcript: [{id, at, speaker, text}], created, updated}",
     "NOT_FOUND INVALID_ID"},
    {"voicecall.list",
     "Voice calls in the order they were created, by user, Call Center and start time, a page at a "
     "time.",
     SB_ROLE_READ_ONLY,
     false,
     true,
     voicecall_list,
     {SB_ARG_ORG,
      {"user", SB_ARG_STRING, false, "only this agent's calls"},
      {"callcenter", SB_ARG_STRING, false, "only this Call Center's calls"},
      {"since", SB_ARG_STRING, false, "calls that started at or after this time"},
      {"until", SB_ARG_STRING, false, "calls that started before this time"},
      SB_ARGS_PAGE("voice calls")},
     "{voicecalls: [voicecall], more, next_after: the after of the next page while more (a "
     "filtered page may be short, even empty: at most 10,000 calls or 8 MiB are examined per "
     "request)}",
     "NOT_FOUND INVALID_ID INVALID_VALUE"},
};

const sb_method_slice_t sb__call_methods = {methods, sizeof(methods) / sizeof(methods[0])};

static const sb_method_prep_t preps[] = {
    {"call.event", prepare_event},
};

const sb_method_prep_slice_t sb__call_preps = {preps, sizeof(preps) / sizeof(preps[0])};
