/*
 * libswitchboard-index against a real switchboardd: on random data the
 * library and softphone.check agree for every user; a reader keeps working
 * while the server grows its map and writes; a reader process killed
 * mid-read blocks nothing; a referring answer holds its snapshot until the
 * reader's next call, and no longer; a directory the library cannot read is refused
 * with a sentence that says why.
 */
#include "sb_test.h"

#include <jansson.h>
#include <lmdb.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "message.h"
#include "server_harness.h"
#include "switchboard/index.h"

static void call(sb_client_t *c, const char *method, json_t *args, msgpack_unpacked *out)
{
    msgpack_unpacked local;
    sb_err_t err;
    sb_err_clear(&err);
    if (sb_client_call_json(c, method, args, out ? out : &local, &err) != 0)
        fail_msg("%s: %s", method, err.message);
    if (out == NULL)
        msgpack_unpacked_destroy(&local);
}

/* A reproducible generator (xorshift64*), so that a failure can be replayed. */
static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32) % n;
}

static void user_id(unsigned org, unsigned n, char out[16])
{
    snprintf(out, 16, "005%06u%06u", org, n);
}

/* ---- the server's answer and the library's, field by field -------------- */

static void str_equal(const msgpack_object *m, const char *key, const char *want, const char *who)
{
    const msgpack_object *v = sb_obj_get(m, key);
    bool server_nil = v == NULL || v->type == MSGPACK_OBJECT_NIL;
    if (server_nil && want[0] == '\0')
        return;
    if (server_nil || v->type != MSGPACK_OBJECT_STR || v->via.str.size != strlen(want) ||
        memcmp(v->via.str.ptr, want, v->via.str.size) != 0)
        fail_msg("%s: %s: the server says '%.*s', the library '%s'", who, key,
                 server_nil || v->type != MSGPACK_OBJECT_STR ? 3 : (int)v->via.str.size,
                 server_nil                      ? "nil"
                 : v->type != MSGPACK_OBJECT_STR ? "???"
                                                 : v->via.str.ptr,
                 want);
}

static void num_equal(const msgpack_object *m, const char *key, uint32_t want, const char *who)
{
    const msgpack_object *v = sb_obj_get(m, key);
    uint64_t got = v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : 0;
    if (got != want)
        fail_msg("%s: %s: the server says %llu, the library %u", who, key, (unsigned long long)got,
                 want);
}

static void agree(const msgpack_object *s, const sb_index_answer *a, const char *org)
{
    char who[64];
    snprintf(who, sizeof(who), "%s/%s", org, a->user);
    str_equal(s, "user", a->user, who);
    const msgpack_object *softphone = sb_obj_get(s, "softphone");
    assert_int_equal(softphone->via.boolean, a->softphone != 0);
    str_equal(s, "reason", a->reason_name, who);
    char message[1024];
    sb_index_explain(a, org, message, sizeof(message));
    str_equal(s, "message", message, who);
    const msgpack_object *cc = sb_obj_get(s, "callcenter");
    if (cc == NULL || cc->type == MSGPACK_OBJECT_NIL) {
        assert_string_equal(a->callcenter_id, "");
    } else {
        str_equal(cc, "id", a->callcenter_id, who);
        str_equal(cc, "internal_name", a->internal_name, who);
        str_equal(cc, "display_name", a->display_name, who);
    }
    str_equal(s, "adapter", a->adapter, who);
    str_equal(s, "adapter_url", a->adapter_url, who);
    num_equal(s, "softphone_height", a->softphone_height, who);
    num_equal(s, "softphone_width", a->softphone_width, who);
    str_equal(s, "compatibility_mode", a->compatibility_mode, who);
    str_equal(s, "layout_name", a->layout_name, who);
    str_equal(s, "layout_source", a->layout_source, who);
    const msgpack_object *layout = sb_obj_get(s, "layout");
    if (layout == NULL || layout->type == MSGPACK_OBJECT_NIL) {
        assert_null(a->layout);
    } else {
        assert_non_null(a->layout);
        msgpack_unpacked mine;
        msgpack_unpacked_init(&mine);
        assert_int_equal(msgpack_unpack_next(&mine, a->layout, a->layout_len, NULL),
                         MSGPACK_UNPACK_SUCCESS);
        if (!msgpack_object_equal(mine.data, *layout))
            fail_msg("%s: the layouts differ", who);
        msgpack_unpacked_destroy(&mine);
    }
}

/* Whether `p` lies inside the copying answer's own record. */
static bool in_record(const sb_index_answer *a, const void *p)
{
    const unsigned char *u = p;
    return u >= a->record && u < a->record + a->record_len;
}

/* A referring answer says what the copying one says, field by field; the
 * copying one's view lies inside it (it outlives the snapshot). */
static void same_answer(const sb_index_answer *a, const sb_index_ref_answer *r)
{
    const char *who = a->user;
    if (a->record_len > 0) {
        const void *inside[] = {a->callcenter_id, a->internal_name, a->display_name,
                                a->adapter,       a->layout_name,   a->detail};
        for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++)
            if (!in_record(a, inside[i]))
                fail_msg("%s: a string of the copying answer is outside it", who);
        if (a->layout != NULL && !in_record(a, a->layout))
            fail_msg("%s: the copying answer's layout is outside it", who);
    }
    assert_int_equal(r->softphone, a->softphone);
    assert_int_equal(r->reason, a->reason);
    assert_string_equal(r->reason_name, a->reason_name);
    assert_string_equal(r->user, a->user);
    assert_string_equal(r->profile, a->profile);
    assert_string_equal(r->callcenter_id, a->callcenter_id);
    assert_string_equal(r->internal_name, a->internal_name);
    assert_string_equal(r->display_name, a->display_name);
    assert_string_equal(r->adapter, a->adapter);
    assert_string_equal(r->adapter_url, a->adapter_url);
    assert_int_equal(r->softphone_height, a->softphone_height);
    assert_int_equal(r->softphone_width, a->softphone_width);
    assert_string_equal(r->compatibility_mode, a->compatibility_mode);
    assert_string_equal(r->layout_name, a->layout_name);
    assert_string_equal(r->layout_source, a->layout_source);
    assert_string_equal(r->detail, a->detail);
    assert_int_equal(r->layout_len, a->layout_len);
    if (a->layout == NULL)
        assert_null(r->layout);
    else if (memcmp(r->layout, a->layout, a->layout_len) != 0)
        fail_msg("%s: the referring answer's layout differs", who);
    assert_int_equal(r->record_len, a->record_len);
    if (a->record_len == 0) {
        assert_null(r->record);
    } else {
        if (memcmp(r->record, a->record, a->record_len) != 0)
            fail_msg("%s: the referring answer's record differs", who);
        /* It refers: the bytes are not the answer's own. */
        assert_true((const unsigned char *)r->record < (const unsigned char *)r ||
                    (const unsigned char *)r->record >= (const unsigned char *)(r + 1));
    }
}

/* ---- random orgs, Call Centers, layouts, users and memberships ------------ */

#define ORGS 3
#define USERS 80

static const char *const profiles[] = {"Agent", "Night Shift", "", "Sales"};

static json_t *layout(const char *name, bool ani_while_ringing)
{
    json_error_t jerr;
    json_t *l = json_load_file(SB_SOURCE_DIR "/docs/examples/layout.json", 0, &jerr);
    if (l == NULL)
        fail_msg("docs/examples/layout.json: %s", jerr.text);
    json_object_set_new(l, "name", json_string(name));
    if (!ani_while_ringing)
        json_object_set_new(json_object_get(l, "call_states"), "ringing",
                            json_pack("{s:[s], s:[s]}", "fields", "DNIS", "actions", "answer"));
    return l;
}

static void make_org(sb_client_t *c, unsigned o)
{
    char org[16];
    snprintf(org, sizeof(org), "org%u", o);
    call(c, "org.create", json_pack("{s:s}", "org", org), NULL);
    /* Call Centers that show a softphone and ones that do not, for each reason. */
    static const struct {
        const char *name, *url, *mode, *adapter;
    } ccs[] = {
        {"Desk", "https://cti.example.com/desk", "Lightning", NULL},
        {"Plain", "http://cti.example.com/plain", "Lightning", NULL},
        {"Classic", "http://cti.example.com/classic", "Classic", NULL},
        {"Gone", "https://cti.example.com/gone", "Lightning", "avaya"},
    };
    /* The demo adapter's real file: its rendering carries the user's id. */
    FILE *f = fopen(SB_CORPUS_DIR "/salesforce-open-cti-demo-adapter/OpenCTI.callCenter", "rb");
    assert_non_null(f);
    static char file[1 << 16];
    size_t len = fread(file, 1, sizeof(file), f);
    fclose(f);
    call(c, "callcenter.import",
         json_pack("{s:s, s:s%, s:s}", "org", org, "file", file, len, "internal_name", "Demo"),
         NULL);
    /* A Service Cloud Voice Call Center: its members need the licence. */
    f = fopen(SB_CORPUS_DIR
              "/salesforce-scv-examples/amazon_connect_partner_telephony_cc_import.xml",
              "rb");
    assert_non_null(f);
    len = fread(file, 1, sizeof(file), f);
    fclose(f);
    call(c, "callcenter.import",
         json_pack("{s:s, s:s%, s:s}", "org", org, "file", file, len, "internal_name", "Voice"),
         NULL);
    for (size_t i = 0; i < sizeof(ccs) / sizeof(ccs[0]); i++) {
        json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:s}", "org", org, "internal_name",
                                 ccs[i].name, "display_name", ccs[i].name, "adapter_url",
                                 ccs[i].url, "compatibility_mode", ccs[i].mode);
        if (rnd(2))
            json_object_set_new(args, "softphone_height", json_integer(300 + rnd(400)));
        call(c, "callcenter.create", args, NULL);
        if (ccs[i].adapter)
            call(c, "callcenter.update",
                 json_pack("{s:s, s:s, s:s}", "org", org, "id", ccs[i].name, "adapter",
                           ccs[i].adapter),
                 NULL);
    }
    /* Layouts: a default in some orgs, one for a profile in others. */
    if (o % 2 == 0)
        call(c, "layout.put",
             json_pack("{s:s, s:o, s:b}", "org", org, "layout", layout("Support", true), "default",
                       1),
             NULL);
    if (o != 1) {
        call(c, "layout.put", json_pack("{s:s, s:o}", "org", org, "layout", layout("Quiet", false)),
             NULL);
        call(c, "layout.assign",
             json_pack("{s:s, s:s, s:s}", "org", org, "profile", "Night Shift", "layout", "Quiet"),
             NULL);
    }
    json_t *users = json_array(), *rows = json_array(), *licensed = json_array();
    for (unsigned u = 0; u < USERS; u++) {
        char id[16];
        user_id(o, u, id);
        json_array_append_new(
            users, json_pack("{s:s, s:s, s:s}", "id", id, "name", id, "profile", profiles[rnd(4)]));
        unsigned which = rnd(6);
        if (rnd(4) != 0)
            json_array_append_new(rows, json_pack("{s:s, s:s}", "user", id, "callcenter",
                                                  which == 4   ? "Demo"
                                                  : which == 5 ? "Voice"
                                                               : ccs[which].name));
        if (rnd(2))
            json_array_append_new(licensed, json_string(id));
    }
    call(c, "user.upsert_bulk", json_pack("{s:s, s:o}", "org", org, "users", users), NULL);
    call(c, "member.add_bulk", json_pack("{s:s, s:o}", "org", org, "rows", rows), NULL);
    if (json_array_size(licensed) > 0)
        call(c, "licence.assign", json_pack("{s:s, s:o}", "org", org, "users", licensed), NULL);
    else
        json_decref(licensed);
}

static void the_library_and_the_server_agree_for_every_user(void **state)
{
    (void)state;
    const char *seed_env = getenv("SB_TEST_SEED");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL);
    rng_state = seed ? seed : 1;
    print_message("seed %llu (SB_TEST_SEED replays it)\n", (unsigned long long)seed);
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    for (unsigned o = 0; o < ORGS; o++)
        make_org(&c, o);

    sb_index *index;
    sb_index_reader *reader;
    char why[512];
    if (sb_index_open(h.dir, &index, why, sizeof(why)) != 0)
        fail_msg("sb_index_open: %s", why);
    assert_int_equal(sb_index_reader_open(index, &reader), 0);
    /* Every user, some the server does not know, and ids that are not ids. */
    enum { EXTRA = 4, N = USERS + EXTRA };
    char ids[N][16];
    const char *users[N];
    sb_index_answer *batch = calloc(N, sizeof(*batch));
    sb_index_ref_answer *refs = calloc(N, sizeof(*refs));
    assert_non_null(batch);
    assert_non_null(refs);
    unsigned reasons_seen = 0;
    for (unsigned o = 0; o < ORGS; o++) {
        char org[16];
        snprintf(org, sizeof(org), "org%u", o);
        json_t *list = json_array();
        for (unsigned u = 0; u < N; u++) {
            if (u < USERS + 2)
                user_id(o, u, ids[u]);
            else
                snprintf(ids[u], sizeof(ids[u]), "%s", u == USERS + 2 ? "nonsense" : "");
            users[u] = ids[u];
            json_array_append_new(list, json_string(ids[u]));
        }
        msgpack_unpacked r;
        call(&c, "softphone.check_batch", json_pack("{s:s, s:o}", "org", org, "users", list), &r);
        const msgpack_object *results = sb_obj_get(&r.data, "results");
        assert_int_equal(results->via.array.size, N);
        assert_int_equal(sb_index_check_batch(reader, org, users, N, batch), 0);
        for (unsigned u = 0; u < N; u++) {
            agree(&results->via.array.ptr[u], &batch[u], org);
            reasons_seen |= 1u << batch[u].reason;
            /* One at a time gives the same as the batch. */
            sb_index_answer one;
            assert_int_equal(sb_index_check(reader, org, users[u], &one), 0);
            agree(&results->via.array.ptr[u], &one, org);
        }
        msgpack_unpacked_destroy(&r);
        /* The referring forms say the same. */
        assert_int_equal(sb_index_check_batch_ref(reader, org, users, N, refs, 0), 0);
        for (unsigned u = 0; u < N; u++)
            same_answer(&batch[u], &refs[u]);
        for (unsigned u = 0; u < N; u++) {
            assert_int_equal(sb_index_check_ref(reader, org, users[u], &refs[0]), 0);
            same_answer(&batch[u], &refs[0]);
        }
        /* Trusted ids, as the answers gave them: the same answers for the
         * valid ones, without their checksums computed. */
        const char *normalized[N];
        unsigned which[N], m = 0;
        for (unsigned u = 0; u < N; u++)
            if (batch[u].reason != SB_INDEX_INVALID_USER_ID) {
                normalized[m] = batch[u].user;
                which[m++] = u;
            }
        assert_true(m >= USERS);
        assert_int_equal(
            sb_index_check_batch_ref(reader, org, normalized, m, refs, SB_INDEX_USERS_NORMALIZED),
            0);
        for (unsigned j = 0; j < m; j++)
            same_answer(&batch[which[j]], &refs[j]);
        sb_index_reader_release(reader);
    }
    /* A flag this library does not know is refused, not ignored. */
    assert_int_equal(sb_index_check_batch_ref(reader, "org0", users, 1, refs, 2), SB_INDEX_EARG);
    /* The data was made to give every reason but ADAPTER_REFUSED and
     * NO_ADAPTER_URL (test_server covers those, with a mock adapter). */
    unsigned want = (1u << SB_INDEX_OK) | (1u << SB_INDEX_UNKNOWN_USER) |
                    (1u << SB_INDEX_NOT_A_MEMBER) | (1u << SB_INDEX_INVALID_USER_ID) |
                    (1u << SB_INDEX_ADAPTER_NOT_LOADED) | (1u << SB_INDEX_ADAPTER_URL_NOT_HTTPS) |
                    (1u << SB_INDEX_NO_SCV_LICENCE);
    assert_int_equal(reasons_seen & want, want);

    /* An org that does not exist is an error, as the server's NOT_FOUND. */
    sb_index_answer one;
    assert_int_equal(sb_index_check(reader, "nowhere", "005000000000001", &one), SB_INDEX_ENOORG);
    assert_int_equal(sb_index_check(reader, "not an org!", "005000000000001", &one), SB_INDEX_EARG);
    /* Each acknowledged write is seen by the next check. */
    assert_int_equal(sb_index_check(reader, "org0", "005999999000001", &one), 0);
    assert_int_equal(one.reason, SB_INDEX_UNKNOWN_USER);
    call(&c, "user.upsert",
         json_pack("{s:s, s:s, s:s}", "org", "org0", "id", "005999999000001", "name", "New"), NULL);
    assert_int_equal(sb_index_check(reader, "org0", "005999999000001", &one), 0);
    assert_int_equal(one.reason, SB_INDEX_NOT_A_MEMBER);
    call(&c, "member.add",
         json_pack("{s:s, s:s, s:s}", "org", "org0", "callcenter", "Desk", "user",
                   "005999999000001"),
         NULL);
    assert_int_equal(sb_index_check(reader, "org0", "005999999000001", &one), 0);
    assert_true(one.softphone);
    assert_string_equal(one.internal_name, "Desk");
    /* A Call Center's change reaches the next check: no view is kept past
     * the snapshot it was found in. */
    call(&c, "callcenter.update",
         json_pack("{s:s, s:s, s:{s:s}}", "org", "org0", "id", "Desk", "values",
                   "/reqGeneralInfo/reqDisplayName", "Front Desk"),
         NULL);
    assert_int_equal(sb_index_check(reader, "org0", "005999999000001", &one), 0);
    assert_string_equal(one.display_name, "Front Desk");
    /* Trusted ids that are not what an answer gave: a short one is checked
     * as usual; an 18-character one with a wrong checksum finds no record
     * (never an answer under the wrong id, also with schema 5's keys, which
     * hold the 12 characters after 005 only), where the untrusted form says
     * INVALID_USER_ID. */
    {
        sb_index_answer member;
        assert_int_equal(sb_index_check(reader, "org0", "005999999000001", &member), 0);
        assert_true(member.softphone);
        char wrong[19];
        memcpy(wrong, member.user, sizeof(wrong));
        wrong[17] = wrong[17] == 'A' ? 'B' : 'A';
        const char *odd[] = {"005999999000001", "nonsense", wrong};
        assert_int_equal(
            sb_index_check_batch_ref(reader, "org0", odd, 3, refs, SB_INDEX_USERS_NORMALIZED), 0);
        same_answer(&member, &refs[0]);
        assert_int_equal(refs[1].reason, SB_INDEX_INVALID_USER_ID);
        assert_int_equal(refs[2].reason, SB_INDEX_UNKNOWN_USER);
        assert_int_equal(sb_index_check_ref(reader, "org0", wrong, &refs[2]), 0);
        assert_int_equal(refs[2].reason, SB_INDEX_INVALID_USER_ID);
        sb_index_reader_release(reader);
    }
    free(batch);
    free(refs);
    sb_index_reader_close(reader);
    sb_index_close(index);
    sb_client_close(&c);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* ---- a reader while the server grows the map and writes ------------------ */

typedef struct reader_thread {
    sb_index *index;
    atomic_bool *stop;
    bool refer; /* checks by reference, and reads the answer again after a pause */
    long checks;
    char failure[256];
} reader_thread_t;

/* The referring form while maps move: the answer is read again after the
 * thread gave up the CPU, when another thread may be adopting a grown map.
 * The remap must wait for this reader (its answer points into the map). */
static bool check_by_reference(sb_index_reader *reader, sb_index_ref_answer *r)
{
    if (sb_index_check_ref(reader, "grow", "005000000000001", r) != 0 || !r->softphone)
        return false;
    sched_yield();
    usleep(50);
    return strcmp(r->internal_name, "Desk") == 0 && strcmp(r->display_name, "Desk") == 0 &&
           r->record != NULL && r->record_len > 0;
}

static void *keep_checking(void *arg)
{
    reader_thread_t *t = arg;
    sb_index_reader *reader;
    int rc = sb_index_reader_open(t->index, &reader);
    if (rc != 0) {
        snprintf(t->failure, sizeof(t->failure), "reader_open: %s", sb_index_strerror(rc));
        return NULL;
    }
    sb_index_answer *a = malloc(sizeof(*a));
    sb_index_ref_answer *r = malloc(sizeof(*r));
    while (a != NULL && r != NULL && !atomic_load(t->stop)) {
        if (t->refer) {
            if (!check_by_reference(reader, r)) {
                snprintf(t->failure, sizeof(t->failure), "referring check %ld failed", t->checks);
                break;
            }
            t->checks++;
            continue;
        }
        rc = sb_index_check(reader, "grow", "005000000000001", a);
        if (rc != 0 || !a->softphone || strcmp(a->internal_name, "Desk") != 0) {
            snprintf(t->failure, sizeof(t->failure), "check %ld: rc %d (%s), reason %s", t->checks,
                     rc, sb_index_strerror(rc), rc == 0 ? a->reason_name : "-");
            break;
        }
        t->checks++;
    }
    free(a);
    free(r);
    sb_index_reader_close(reader);
    return NULL;
}

static uint64_t map_bytes(sb_client_t *c)
{
    msgpack_unpacked r;
    call(c, "server.info", NULL, &r);
    const msgpack_object *v = sb_obj_get(sb_obj_get(&r.data, "store"), "map_bytes");
    uint64_t bytes = v->via.u64;
    msgpack_unpacked_destroy(&r);
    return bytes;
}

/* An org with one Call Center, Desk (https), and one member of it, 005000000000001. */
static void org_with_one_member(sb_client_t *c, const char *org)
{
    call(c, "org.create", json_pack("{s:s}", "org", org), NULL);
    call(c, "callcenter.create",
         json_pack("{s:s, s:s, s:s, s:s}", "org", org, "internal_name", "Desk", "display_name",
                   "Desk", "adapter_url", "https://cti.example.com/desk"),
         NULL);
    call(c, "user.upsert",
         json_pack("{s:s, s:s, s:s}", "org", org, "id", "005000000000001", "name", "One"), NULL);
    call(c, "member.add",
         json_pack("{s:s, s:s, s:s}", "org", org, "callcenter", "Desk", "user", "005000000000001"),
         NULL);
}

static void a_reader_keeps_working_while_the_map_grows(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", "--initial-map-bytes", "1048576",
                                        NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    org_with_one_member(&c, "grow");
    uint64_t first_map = map_bytes(&c);

    sb_index *index;
    char why[512];
    if (sb_index_open(h.dir, &index, why, sizeof(why)) != 0)
        fail_msg("sb_index_open: %s", why);
    atomic_bool stop = false;
    reader_thread_t threads[2] = {{.index = index, .stop = &stop},
                                  {.index = index, .stop = &stop, .refer = true}};
    pthread_t tid[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&tid[i], NULL, keep_checking, &threads[i]), 0);
    sb_index_reader *mine;
    assert_int_equal(sb_index_reader_open(index, &mine), 0);
    sb_index_answer *a = malloc(sizeof(*a));
    assert_non_null(a);
    /* 30,000 users and memberships, in writes of 2,000: the map doubles from 1 MiB several times.
     */
    for (unsigned round = 0; round < 15; round++) {
        json_t *users = json_array(), *rows = json_array();
        char id[16];
        for (unsigned u = 0; u < 2000; u++) {
            snprintf(id, sizeof(id), "005%04u%08u", round + 1, u);
            json_array_append_new(users, json_pack("{s:s, s:s, s:s}", "id", id, "name",
                                                   "a user with a long enough name to take room",
                                                   "profile", "Agent"));
            json_array_append_new(rows, json_pack("{s:s, s:s}", "user", id, "callcenter", "Desk"));
        }
        call(&c, "user.upsert_bulk", json_pack("{s:s, s:o}", "org", "grow", "users", users), NULL);
        call(&c, "member.add_bulk", json_pack("{s:s, s:o}", "org", "grow", "rows", rows), NULL);
        /* The last member written is seen by the next check, whatever the map did. */
        assert_int_equal(sb_index_check(mine, "grow", id, a), 0);
        assert_true(a->softphone);
    }
    uint64_t last_map = map_bytes(&c);
    assert_true(last_map >= 4 * first_map);
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++) {
        pthread_join(tid[i], NULL);
        if (threads[i].failure[0])
            fail_msg("reader thread %d: %s", i, threads[i].failure);
        assert_true(threads[i].checks > 0);
    }
    print_message("map %llu -> %llu bytes; reader threads made %ld and %ld checks\n",
                  (unsigned long long)first_map, (unsigned long long)last_map, threads[0].checks,
                  threads[1].checks);
    free(a);
    sb_index_reader_close(mine);
    sb_index_close(index);
    sb_client_close(&c);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* ---- a referring answer's lifetime ---------------------------------------- */

/* How many reader slots of this process hold a snapshot now (mdb_stat -r,
 * another process: opening the environment twice in one would drop its
 * locks). */
static int held_snapshots(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "mdb_stat -r '%s'", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[256];
    int held = 0;
    bool table = false;
    while (fgets(line, sizeof(line), p) != NULL) {
        table = table || strncmp(line, "Reader Table Status", 19) == 0;
        int pid;
        char thread[64], txnid[64];
        if (sscanf(line, "%d %63s %63s", &pid, thread, txnid) == 3 && pid == (int)getpid() &&
            strcmp(txnid, "-") != 0)
            held++;
    }
    pclose(p); /* its status is not 0 when the table is empty */
    assert_true(table);
    return held;
}

static void rename_desk(sb_client_t *c, const char *name)
{
    call(c, "callcenter.update",
         json_pack("{s:s, s:s, s:{s:s}}", "org", "life", "id", "Desk", "values",
                   "/reqGeneralInfo/reqDisplayName", name),
         NULL);
}

static void a_referring_answer_lives_until_the_readers_next_call(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    org_with_one_member(&c, "life");
    sb_index *index;
    sb_index_reader *reader;
    char why[512];
    if (sb_index_open(h.dir, &index, why, sizeof(why)) != 0)
        fail_msg("sb_index_open: %s", why);
    assert_int_equal(sb_index_reader_open(index, &reader), 0);
    static sb_index_ref_answer r;
    static sb_index_answer a;
    static unsigned char before[SB_INDEX_RECORD_MAX];

    /* Between calls a reader pins nothing; a referring answer holds its snapshot. */
    static sb_index_answer kept;
    assert_int_equal(sb_index_check(reader, "life", "005000000000001", &kept), 0);
    assert_int_equal(sb_index_check(reader, "life", "005000000000001", &a), 0);
    assert_int_equal(held_snapshots(h.dir), 0);
    assert_int_equal(sb_index_check_ref(reader, "life", "005000000000001", &r), 0);
    assert_string_equal(r.display_name, "Desk");
    assert_int_equal(held_snapshots(h.dir), 1);
    assert_true(r.record_len > 0 && r.record_len <= sizeof(before));
    memcpy(before, r.record, r.record_len);
    const char *display_name = r.display_name;

    /* The server rewrites the view many times (its old pages would be
     * reused if nothing held them): the held answer does not change. */
    char name[32];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "Desk %d", i);
        rename_desk(&c, name);
    }
    assert_ptr_equal(r.display_name, display_name);
    assert_string_equal(r.display_name, "Desk");
    assert_memory_equal(r.record, before, r.record_len);
    /* A copying answer made before outlives all of it, in its own bytes. */
    assert_string_equal(kept.display_name, "Desk");
    assert_string_equal(kept.internal_name, "Desk");

    /* The reader's next call ends it and sees the writes: the view cache
     * serves nothing of the old snapshot. */
    assert_int_equal(sb_index_check_ref(reader, "life", "005000000000001", &r), 0);
    assert_string_equal(r.display_name, "Desk 39");
    rename_desk(&c, "Front Desk");
    assert_int_equal(sb_index_check(reader, "life", "005000000000001", &a), 0);
    assert_string_equal(a.display_name, "Front Desk");
    assert_int_equal(held_snapshots(h.dir), 0); /* the copying call released it */

    /* sb_index_reader_release ends it without a check; twice is harmless. */
    assert_int_equal(sb_index_check_ref(reader, "life", "005000000000001", &r), 0);
    assert_string_equal(r.display_name, "Front Desk");
    assert_int_equal(held_snapshots(h.dir), 1);
    sb_index_reader_release(reader);
    assert_int_equal(held_snapshots(h.dir), 0);
    sb_index_reader_release(reader);
    /* Closing a reader that holds one ends it too. */
    assert_int_equal(sb_index_check_ref(reader, "life", "005000000000001", &r), 0);
    assert_int_equal(held_snapshots(h.dir), 1);
    sb_index_reader_close(reader);
    assert_int_equal(held_snapshots(h.dir), 0);

    sb_index_close(index);
    sb_client_close(&c);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* ---- a reader process killed mid-read ------------------------------------ */

/* How many reader slots of dead processes the environment holds now (and frees). */
static int dead_reader_slots(const char *dir)
{
    MDB_env *env;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 24), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0), 0);
    int dead = 0;
    assert_int_equal(mdb_reader_check(env, &dead), 0);
    mdb_env_close(env);
    return dead;
}

static void a_reader_killed_mid_read_blocks_nothing(void **state)
{
    (void)state;
    sb_harness_t h;
    static const char *const flags[] = {"--durability", "none", NULL};
    sb_harness_start(&h, NULL, flags);
    sb_client_t c;
    sb_harness_client(&h, &c, NULL);
    call(&c, "org.create", json_pack("{s:s}", "org", "kill"), NULL);
    call(&c, "user.upsert",
         json_pack("{s:s, s:s, s:s}", "org", "kill", "id", "005000000000001", "name", "One"), NULL);

    /* Children that check without a pause, killed at once: most die inside
     * a check, holding a snapshot. */
    for (int round = 0; round < 5; round++) {
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            sb_index *index;
            sb_index_reader *reader;
            static sb_index_answer a;
            if (sb_index_open(h.dir, &index, NULL, 0) != 0 ||
                sb_index_reader_open(index, &reader) != 0)
                _exit(1);
            (void)!write(ready[1], "r", 1);
            for (;;)
                sb_index_check(reader, "kill", "005000000000001", &a);
        }
        char byte;
        assert_int_equal(read(ready[0], &byte, 1), 1);
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(ready[0]);
        close(ready[1]);
    }
    /* The server goes on writing (LMDB writers never wait for readers)... */
    for (int i = 0; i < 50; i++) {
        char id[16];
        snprintf(id, sizeof(id), "0050000000%05d", i + 2);
        call(&c, "user.upsert", json_pack("{s:s, s:s, s:s}", "org", "kill", "id", id, "name", id),
             NULL);
    }
    /* ...and within its next tick frees the dead readers' slots, so that
     * their snapshots stop pinning pages. */
    struct timespec tick = {1, 500 * 1000000L};
    nanosleep(&tick, NULL);
    assert_int_equal(dead_reader_slots(h.dir), 0);
    char log[4200];
    snprintf(log, sizeof(log), "grep -q 'reader slot' %s/server.log", h.dir);
    assert_int_equal(system(log), 0);
    sb_client_close(&c);
    assert_int_equal(sb_harness_stop(&h), 0);
    sb_harness_cleanup(&h);
}

/* ---- what the library refuses to read -------------------------------------- */

static void a_directory_it_cannot_read_is_refused_with_a_reason(void **state)
{
    (void)state;
    sb_index *index = (sb_index *)1;
    char why[512];
    char *dir = sb_test_tmpdir();
    assert_int_equal(sb_index_open(dir, &index, why, sizeof(why)), SB_INDEX_EOPEN);
    assert_null(index);
    assert_non_null(strstr(why, "--data-dir"));

    /* A store of a schema this library does not read. */
    sb_store_close(sb_test_open(dir));
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 24), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    uint32_t version = SB_INDEX_SCHEMA_VERSION + 1;
    MDB_val k = {strlen("schema_version"), "schema_version"}, v = {sizeof(version), &version};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(sb_index_open(dir, &index, why, sizeof(why)), SB_INDEX_ESCHEMA);
    assert_non_null(strstr(why, "schema version 6"));
    assert_non_null(strstr(why, "same release"));
    assert_int_equal(sb_index_open(NULL, &index, why, sizeof(why)), SB_INDEX_EARG);
    sb_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_library_and_the_server_agree_for_every_user),
        cmocka_unit_test(a_reader_keeps_working_while_the_map_grows),
        cmocka_unit_test(a_referring_answer_lives_until_the_readers_next_call),
        cmocka_unit_test(a_reader_killed_mid_read_blocks_nothing),
        cmocka_unit_test(a_directory_it_cannot_read_is_refused_with_a_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
