/*
 * Crash durability: a real switchboardd (full durability, as it runs by
 * default) under concurrent writers of several orgs, killed with SIGKILL at
 * a random moment, restarted, and checked:
 *   - every acknowledged write is there (users, memberships, moves, removals);
 *   - a bulk write (user.upsert_bulk, member.add_bulk) is all or nothing;
 *   - the write in flight at the kill is either wholly there or wholly not;
 *   - invariants: every member's user exists, a user is in at most one Call
 *     Center, the two membership indexes agree (member.list and
 *     member.lookup), and the softphone views follow the memberships
 *     (softphone.check_batch names the user's Call Center, or none);
 *   - every acknowledged write's reply `seq` names a change-log entry that
 *     holds a write of its org and method (read from the data directory
 *     once the last server has stopped).
 *
 * Each writer is a process of its own, with its own connection and org, one
 * request at a time, so that at most one of its writes is in flight when
 * the server dies. It records what it sent and what was acknowledged in
 * memory shared with the test, which reads it once the writer has exited.
 *
 * SB_CRASH_TRIALS (default 20), SB_CRASH_WRITERS (4), SB_CRASH_SEED (the
 * time) and SB_CRASH_MAX_MS (the latest kill, 400 ms after the writers
 * start) change the run; docs/development.md has the command for hundreds.
 */
#include "sb_test.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "message.h"
#include "server_harness.h"

#define MAX_WRITERS 16
#define MAX_USERS 30000 /* per writer and trial */
#define MAX_SEQS 8192   /* acknowledged replies' seq, per writer and trial */

enum kind { K_USER, K_USERS_BULK, K_ADD, K_ADD_BULK, K_MOVE, K_REMOVE };
static const char *const kind_names[] = {"user.upsert",     "user.upsert_bulk", "member.add",
                                         "member.add_bulk", "member.move",      "member.remove"};

/* One writer's record, in memory shared with the test. Users are 1..next_user-1. */
typedef struct writer_state {
    uint32_t next_user;
    uint8_t exists[MAX_USERS + 1]; /* acknowledged: 1 */
    uint8_t cc[MAX_USERS + 1];     /* acknowledged membership: 0 none, 1 A, 2 B */
    struct {
        bool active;
        int kind;
        uint32_t first, count;
        uint8_t cc; /* the membership it sets (0 for a removal) */
    } inflight;
    uint64_t acked;
    char failure[512]; /* a refusal the writer did not expect */
    uint64_t last_seq; /* of the last reply */
    struct {
        uint64_t seq;
        uint8_t kind;
    } seqs[MAX_SEQS]; /* of the acknowledged writes, the first MAX_SEQS */
    uint32_t n_seqs;
} writer_state_t;

/* Every acknowledged write of every trial: its seq, org and method. */
typedef struct ack {
    uint64_t seq;
    char org[32];
    uint8_t kind;
} ack_t;

static const char *const cc_names[] = {"", "A", "B"};

static void user_id(uint32_t n, char *out)
{
    snprintf(out, 16, "005%012u", n);
}

/* The number of an 18-character (or 15) user id of this test, or 0. */
static uint32_t user_number(const char *s, size_t len)
{
    if (len < 15 || strncmp(s, "005", 3) != 0)
        return 0;
    uint32_t n = 0;
    for (size_t i = 3; i < 15; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        n = n * 10 + (uint32_t)(s[i] - '0');
    }
    return n;
}

static int env_int(const char *name, int fallback)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : fallback;
}

/* ---- the writers (child processes) ----------------------------------------------------- */

/* Sends one write; true when acknowledged. A transport error (the server died) ends the
 * writer; a refusal is recorded as a failure. */
static bool write_op(sb_client_t *c, writer_state_t *ws, const char *method, json_t *args)
{
    msgpack_unpacked result;
    sb_err_t err;
    sb_err_clear(&err);
    int rc = sb_client_call_json(c, method, args, &result, &err);
    const msgpack_object *seq = rc == 0 ? sb_obj_get(&result.data, "seq") : NULL;
    ws->last_seq = seq && seq->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? seq->via.u64 : 0;
    if (rc == 0 && ws->last_seq == 0)
        snprintf(ws->failure, sizeof(ws->failure), "%s: the reply has no seq", method);
    msgpack_unpacked_destroy(&result);
    if (rc == SB_CLIENT_REFUSED)
        snprintf(ws->failure, sizeof(ws->failure), "%s refused: %s: %.400s", method, c->error_name,
                 err.message);
    return rc == 0;
}

static void begin(writer_state_t *ws, int kind, uint32_t first, uint32_t count, uint8_t cc)
{
    ws->inflight.kind = kind;
    ws->inflight.first = first;
    ws->inflight.count = count;
    ws->inflight.cc = cc;
    __atomic_store_n(&ws->inflight.active, true, __ATOMIC_SEQ_CST);
}

static void acked(writer_state_t *ws)
{
    uint32_t first = ws->inflight.first, count = ws->inflight.count;
    for (uint32_t u = first; u < first + count; u++) {
        if (ws->inflight.kind == K_USER || ws->inflight.kind == K_USERS_BULK)
            ws->exists[u] = 1;
        else
            ws->cc[u] = ws->inflight.cc;
    }
    ws->acked++;
    if (ws->n_seqs < MAX_SEQS) {
        ws->seqs[ws->n_seqs].seq = ws->last_seq;
        ws->seqs[ws->n_seqs].kind = (uint8_t)ws->inflight.kind;
        ws->n_seqs++;
    }
    __atomic_store_n(&ws->inflight.active, false, __ATOMIC_SEQ_CST);
}

static json_t *user_rows(uint32_t first, uint32_t count)
{
    json_t *rows = json_array();
    for (uint32_t u = first; u < first + count; u++) {
        char id[16];
        user_id(u, id);
        json_array_append_new(rows, json_pack("{s:s, s:s, s:s}", "id", id, "name", "Crash Test",
                                              "profile", u % 2 ? "Agent" : "Supervisor"));
    }
    return rows;
}

/* A random user that the writer has seen acknowledged, or 0. */
static uint32_t some_user(writer_state_t *ws, unsigned *seed, bool member)
{
    for (int tries = 0; tries < 20 && ws->next_user > 1; tries++) {
        uint32_t u = 1 + (uint32_t)rand_r(seed) % (ws->next_user - 1);
        if (ws->exists[u] && (ws->cc[u] != 0) == member)
            return u;
    }
    return 0;
}

static void writer_main(const char *socket, const char *token, const char *org, writer_state_t *ws,
                        unsigned seed)
{
    sb_client_t c;
    sb_err_t err;
    if (sb_client_open(&c, socket, &err) != 0 || sb_client_authenticate(&c, token) != 0)
        _exit(0); /* killed before we got in */
    ws->next_user = 1;
    for (;;) {
        int pick = rand_r(&seed) % 100;
        uint8_t cc = (uint8_t)(1 + rand_r(&seed) % 2);
        uint32_t u;
        bool ok;
        if (pick < 25 && ws->next_user + 1 < MAX_USERS) {
            u = ws->next_user++;
            char id[16];
            user_id(u, id);
            begin(ws, K_USER, u, 1, 0);
            ok = write_op(&c, ws, "user.upsert",
                          json_pack("{s:s, s:s, s:s}", "org", org, "id", id, "name", "Crash Test"));
        } else if (pick < 45 && ws->next_user + 200 < MAX_USERS) {
            /* A bulk of users, then (once acknowledged) all of them into one Call Center. */
            uint32_t count = 20 + (uint32_t)rand_r(&seed) % 180;
            u = ws->next_user;
            ws->next_user += count;
            begin(ws, K_USERS_BULK, u, count, 0);
            ok = write_op(&c, ws, "user.upsert_bulk",
                          json_pack("{s:s, s:o}", "org", org, "users", user_rows(u, count)));
            if (ok) {
                acked(ws);
                json_t *rows = json_array();
                for (uint32_t v = u; v < u + count; v++) {
                    char id[16];
                    user_id(v, id);
                    json_array_append_new(
                        rows, json_pack("{s:s, s:s}", "user", id, "callcenter", cc_names[cc]));
                }
                begin(ws, K_ADD_BULK, u, count, cc);
                ok = write_op(&c, ws, "member.add_bulk",
                              json_pack("{s:s, s:o, s:b}", "org", org, "rows", rows, "move", 1));
            }
        } else if (pick < 65 && (u = some_user(ws, &seed, false)) != 0) {
            char id[16];
            user_id(u, id);
            begin(ws, K_ADD, u, 1, cc);
            ok = write_op(&c, ws, "member.add",
                          json_pack("{s:s, s:s, s:s, s:b}", "org", org, "user", id, "callcenter",
                                    cc_names[cc], "move", 1));
        } else if (pick < 90 && (u = some_user(ws, &seed, true)) != 0) {
            char id[16];
            user_id(u, id);
            cc = (uint8_t)(3 - ws->cc[u]); /* the other one */
            begin(ws, K_MOVE, u, 1, cc);
            ok = write_op(
                &c, ws, "member.move",
                json_pack("{s:s, s:s, s:s}", "org", org, "user", id, "callcenter", cc_names[cc]));
        } else if ((u = some_user(ws, &seed, true)) != 0) {
            char id[16];
            user_id(u, id);
            begin(ws, K_REMOVE, u, 1, 0);
            ok = write_op(&c, ws, "member.remove",
                          json_pack("{s:s, s:s, s:s}", "org", org, "user", id, "callcenter",
                                    cc_names[ws->cc[u]]));
        } else {
            continue;
        }
        if (!ok)
            break; /* the server died (or refused: recorded) */
        acked(ws);
    }
    _exit(0);
}

/* ---- the check ------------------------------------------------------------------------ */

static sb_client_t checker;

static msgpack_unpacked call_ok(const char *method, json_t *args)
{
    msgpack_unpacked result;
    sb_err_t err;
    sb_err_clear(&err);
    int rc = sb_client_call_json(&checker, method, args, &result, &err);
    if (rc != 0)
        fail_msg("%s: %s %s", method, rc == SB_CLIENT_REFUSED ? checker.error_name : "transport",
                 err.message);
    return result;
}

/* Every user of `org` into present[] (1). */
static void list_users(const char *org, uint8_t *present)
{
    char after[32] = "";
    for (;;) {
        json_t *args = json_pack("{s:s, s:i}", "org", org, "limit", 1000);
        if (after[0])
            json_object_set_new(args, "after", json_string(after));
        msgpack_unpacked r = call_ok("user.list", args);
        const msgpack_object *users = sb_obj_get(&r.data, "users");
        const msgpack_object *more = sb_obj_get(&r.data, "more");
        for (uint32_t i = 0; users && i < users->via.array.size; i++) {
            const msgpack_object *id = sb_obj_get(&users->via.array.ptr[i], "id");
            uint32_t n = user_number(id->via.str.ptr, id->via.str.size);
            if (n == 0 || n > MAX_USERS)
                fail_msg("org %s: a user %.*s this test never wrote", org, (int)id->via.str.size,
                         id->via.str.ptr);
            present[n] = 1;
            snprintf(after, sizeof(after), "%.*s", (int)id->via.str.size, id->via.str.ptr);
        }
        bool go_on = more && more->type == MSGPACK_OBJECT_BOOLEAN && more->via.boolean;
        msgpack_unpacked_destroy(&r);
        if (!go_on)
            return;
    }
}

/* Every member of Call Center cc_names[cc] into member_of[] (cc); a user in two is a failure. */
static void list_members(const char *org, uint8_t cc, uint8_t *member_of, const uint8_t *present)
{
    char after[32] = "";
    uint64_t seen = 0, total = 0;
    for (;;) {
        json_t *args =
            json_pack("{s:s, s:s, s:i}", "org", org, "callcenter", cc_names[cc], "limit", 1000);
        if (after[0])
            json_object_set_new(args, "after", json_string(after));
        msgpack_unpacked r = call_ok("member.list", args);
        const msgpack_object *users = sb_obj_get(&r.data, "users");
        const msgpack_object *more = sb_obj_get(&r.data, "more");
        total = sb_obj_get(&r.data, "total")->via.u64;
        for (uint32_t i = 0; users && i < users->via.array.size; i++) {
            const msgpack_object *id = &users->via.array.ptr[i];
            uint32_t n = user_number(id->via.str.ptr, id->via.str.size);
            if (n == 0 || n > MAX_USERS)
                fail_msg("org %s: a member %.*s this test never wrote", org, (int)id->via.str.size,
                         id->via.str.ptr);
            if (!present[n])
                fail_msg("org %s: member %u of %s is not a user", org, n, cc_names[cc]);
            if (member_of[n] != 0)
                fail_msg("org %s: user %u is a member of A and of B", org, n);
            member_of[n] = cc;
            seen++;
            snprintf(after, sizeof(after), "%.*s", (int)id->via.str.size, id->via.str.ptr);
        }
        bool go_on = more && more->type == MSGPACK_OBJECT_BOOLEAN && more->via.boolean;
        msgpack_unpacked_destroy(&r);
        if (!go_on)
            break;
    }
    if (seen != total)
        fail_msg("org %s: Call Center %s lists %llu members and counts %llu", org, cc_names[cc],
                 (unsigned long long)seen, (unsigned long long)total);
}

/* The views: softphone.check_batch names each user's Call Center, or none; member.lookup too. */
static void check_views(const char *org, uint32_t users, const uint8_t *present,
                        const uint8_t *member_of, unsigned *seed)
{
    for (uint32_t first = 1; first < users; first += 1000) {
        json_t *ids = json_array();
        uint32_t last = first + 1000 < users ? first + 1000 : users;
        for (uint32_t u = first; u < last; u++) {
            char id[16];
            user_id(u, id);
            json_array_append_new(ids, json_string(id));
        }
        msgpack_unpacked r =
            call_ok("softphone.check_batch", json_pack("{s:s, s:o}", "org", org, "users", ids));
        const msgpack_object *results = sb_obj_get(&r.data, "results");
        assert_int_equal(results->via.array.size, last - first);
        for (uint32_t i = 0; i < results->via.array.size; i++) {
            uint32_t u = first + i;
            const msgpack_object *cc = sb_obj_get(&results->via.array.ptr[i], "callcenter");
            const msgpack_object *name =
                cc && cc->type == MSGPACK_OBJECT_MAP ? sb_obj_get(cc, "internal_name") : NULL;
            const char *want = cc_names[present[u] ? member_of[u] : 0];
            size_t got_len = name ? name->via.str.size : 0;
            if (got_len != strlen(want) || (name && memcmp(name->via.str.ptr, want, got_len)))
                fail_msg("org %s: the softphone view of user %u names '%.*s', the membership "
                         "'%s'",
                         org, u, (int)got_len, name ? name->via.str.ptr : "", want);
        }
        msgpack_unpacked_destroy(&r);
    }
    /* The other index, user to Call Center, for a sample. */
    for (int i = 0; i < 30 && users > 1; i++) {
        uint32_t u = 1 + (uint32_t)rand_r(seed) % (users - 1);
        char id[16];
        user_id(u, id);
        msgpack_unpacked r;
        sb_err_t err;
        int rc = sb_client_call_json(&checker, "member.lookup",
                                     json_pack("{s:s, s:s}", "org", org, "user", id), &r, &err);
        bool member = rc == 0;
        msgpack_unpacked_destroy(&r);
        if (member != (present[u] && member_of[u] != 0))
            fail_msg("org %s: member.lookup of user %u says %s, member.list %s", org, u,
                     member ? "member" : checker.error_name,
                     present[u] && member_of[u] ? cc_names[member_of[u]] : "none");
    }
}

static bool covers(const writer_state_t *ws, uint32_t u, bool creates)
{
    bool create_kind = ws->inflight.kind == K_USER || ws->inflight.kind == K_USERS_BULK;
    return ws->inflight.active && create_kind == creates && u >= ws->inflight.first &&
           u < ws->inflight.first + ws->inflight.count;
}

/* What the writer was told against what the server has. Returns whether the write in flight
 * was found applied. */
static bool check_writer(const char *org, const writer_state_t *ws, unsigned *seed)
{
    static uint8_t present[MAX_USERS + 1], member_of[MAX_USERS + 1];
    memset(present, 0, sizeof(present));
    memset(member_of, 0, sizeof(member_of));
    if (ws->failure[0])
        fail_msg("org %s: %s", org, ws->failure);
    list_users(org, present);
    list_members(org, 1, member_of, present);
    list_members(org, 2, member_of, present);
    uint32_t applied = 0;
    for (uint32_t u = 1; u <= MAX_USERS; u++) {
        if (u >= ws->next_user) {
            if (present[u])
                fail_msg("org %s: user %u exists, never sent", org, u);
            continue;
        }
        if (covers(ws, u, true)) {
            applied += present[u];
        } else if (present[u] != ws->exists[u]) {
            fail_msg("org %s: user %u %s, acknowledged %s", org, u,
                     present[u] ? "exists" : "is lost", ws->exists[u] ? "created" : "nothing");
        }
        if (covers(ws, u, false)) {
            if (member_of[u] == ws->inflight.cc && member_of[u] != ws->cc[u])
                applied++;
            else if (member_of[u] != ws->cc[u])
                fail_msg("org %s: user %u in '%s': neither before (%s) nor after (%s) %s", org, u,
                         cc_names[member_of[u]], cc_names[ws->cc[u]], cc_names[ws->inflight.cc],
                         kind_names[ws->inflight.kind]);
        } else if (present[u] && member_of[u] != ws->cc[u]) {
            fail_msg("org %s: user %u in '%s', acknowledged in '%s'", org, u,
                     cc_names[member_of[u]], cc_names[ws->cc[u]]);
        }
    }
    /* All or nothing: a bulk in flight is wholly there or wholly not. */
    if (ws->inflight.active && applied != 0 && applied != ws->inflight.count)
        fail_msg("org %s: %s of %u rows in flight at the kill: %u applied", org,
                 kind_names[ws->inflight.kind], ws->inflight.count, applied);
    check_views(org, ws->next_user, present, member_of, seed);
    return ws->inflight.active && applied != 0;
}

/* Whether change-log entry `seq` holds a write of `org` by `method`. */
static bool entry_has(sb_store_t *store, uint64_t seq, const char *org, const char *method)
{
    void *entry;
    size_t len;
    sb_err_t err;
    if (sb_store_changes_get(store, seq, &entry, &len, &err) != 0)
        return false;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    bool found = false;
    if (msgpack_unpack_next(&u, entry, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 4 &&
        u.data.via.array.ptr[1].via.u64 == seq &&
        u.data.via.array.ptr[3].type == MSGPACK_OBJECT_ARRAY) {
        const msgpack_object_array *writes = &u.data.via.array.ptr[3].via.array;
        for (uint32_t i = 0; i < writes->size && !found; i++) {
            char o[64], m[64];
            const msgpack_object *wo = sb_obj_get(&writes->ptr[i], "org");
            const msgpack_object *wm = sb_obj_get(&writes->ptr[i], "method");
            found = wo && wm && sb_obj_copy_str(wo, o, sizeof(o)) == 0 &&
                    sb_obj_copy_str(wm, m, sizeof(m)) == 0 && strcmp(o, org) == 0 &&
                    strcmp(m, method) == 0;
        }
    }
    msgpack_unpacked_destroy(&u);
    free(entry);
    return found;
}

/* ---- the trials ----------------------------------------------------------------------- */

static void setup_org(const char *org)
{
    msgpack_unpacked r = call_ok("org.create", json_pack("{s:s}", "org", org));
    msgpack_unpacked_destroy(&r);
    for (int cc = 1; cc <= 2; cc++) {
        r = call_ok("callcenter.create",
                    json_pack("{s:s, s:s, s:s, s:s}", "org", org, "internal_name", cc_names[cc],
                              "display_name", cc_names[cc], "adapter_url",
                              "https://softphone.example.com/cti"));
        msgpack_unpacked_destroy(&r);
    }
}

static void acknowledged_writes_survive_kill_9(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    int trials = env_int("SB_CRASH_TRIALS", 20);
    int writers = env_int("SB_CRASH_WRITERS", 4);
    int max_ms = env_int("SB_CRASH_MAX_MS", 400);
    unsigned seed = (unsigned)env_int("SB_CRASH_SEED", (int)(time(NULL) % 1000000));
    if (writers < 1 || writers > MAX_WRITERS)
        fail_msg("SB_CRASH_WRITERS is 1 to %d", MAX_WRITERS);
    printf("# crash durability: %d trials, %d writers, kill within %d ms, SB_CRASH_SEED=%u\n",
           trials, writers, max_ms, seed);
    fflush(stdout); /* before any fork, so that no child prints it again */
    writer_state_t *states = mmap(NULL, sizeof(writer_state_t) * (size_t)writers,
                                  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(states != MAP_FAILED);

    sb_harness_t h;
    sb_harness_start(&h, NULL, NULL); /* full durability, the default */
    sb_harness_client(&h, &checker, NULL);
    uint64_t acked = 0, in_flight = 0, in_flight_applied = 0;
    size_t n_acks = 0, cap_acks = 1024;
    ack_t *acks = malloc(cap_acks * sizeof(*acks));
    assert_non_null(acks);
    for (int t = 0; t < trials; t++) {
        char orgs[MAX_WRITERS][32];
        for (int w = 0; w < writers; w++) {
            snprintf(orgs[w], sizeof(orgs[w]), "t%dw%d", t, w);
            setup_org(orgs[w]);
        }
        memset(states, 0, sizeof(writer_state_t) * (size_t)writers);
        pid_t pids[MAX_WRITERS];
        for (int w = 0; w < writers; w++) {
            pids[w] = fork();
            assert_true(pids[w] >= 0);
            if (pids[w] == 0)
                writer_main(h.socket, h.token, orgs[w], &states[w],
                            seed * 7919u + (unsigned)t * 31u + (unsigned)w);
        }
        unsigned ms = (unsigned)rand_r(&seed) % (unsigned)(max_ms + 1);
        usleep(ms * 1000);
        /* The server must still be up: a death of its own (a sanitizer's abort, say) is a
         * failure, not a kill. */
        int status;
        if (waitpid(h.pid, &status, WNOHANG) == h.pid)
            fail_msg("trial %d: the server died before the kill (status 0x%x); see %s/server.log",
                     t, (unsigned)status, h.dir);
        sb_client_close(&checker);
        sb_harness_kill(&h);
        for (int w = 0; w < writers; w++)
            waitpid(pids[w], NULL, 0);

        sb_harness_start(&h, h.dir, NULL);
        sb_harness_client(&h, &checker, NULL);
        for (int w = 0; w < writers; w++) {
            acked += states[w].acked;
            in_flight += states[w].inflight.active;
            in_flight_applied += check_writer(orgs[w], &states[w], &seed);
            for (uint32_t i = 0; i < states[w].n_seqs; i++) {
                if (n_acks == cap_acks) {
                    cap_acks *= 2;
                    acks = realloc(acks, cap_acks * sizeof(*acks));
                    assert_non_null(acks);
                }
                acks[n_acks].seq = states[w].seqs[i].seq;
                acks[n_acks].kind = states[w].seqs[i].kind;
                snprintf(acks[n_acks].org, sizeof(acks[n_acks].org), "%.31s", orgs[w]);
                n_acks++;
            }
        }
    }
    /* Every org of every trial still holds the invariants after all the kills. */
    for (int t = 0; t < trials; t++) {
        for (int w = 0; w < writers; w++) {
            static uint8_t present[MAX_USERS + 1], member_of[MAX_USERS + 1];
            memset(present, 0, sizeof(present));
            memset(member_of, 0, sizeof(member_of));
            char org[32];
            snprintf(org, sizeof(org), "t%dw%d", t, w);
            list_users(org, present);
            list_members(org, 1, member_of, present);
            list_members(org, 2, member_of, present);
        }
    }
    printf("# %llu acknowledged writes checked; %llu in flight at a kill, %llu of them applied\n",
           (unsigned long long)acked, (unsigned long long)in_flight,
           (unsigned long long)in_flight_applied);
    assert_true(acked > 0);
    sb_client_close(&checker);
    assert_int_equal(sb_harness_stop(&h), 0);
    /* The log and the data agree across the kills: every acknowledged write
     * is in the entry its reply named (nothing is trimmed at the defaults). */
    sb_store_t *store = sb_test_open(h.dir);
    for (size_t i = 0; i < n_acks; i++)
        if (!entry_has(store, acks[i].seq, acks[i].org, kind_names[acks[i].kind]))
            fail_msg("%s of org %s was acknowledged with seq %llu, which the log lacks",
                     kind_names[acks[i].kind], acks[i].org, (unsigned long long)acks[i].seq);
    printf("# %zu acknowledged replies' seq found in the change log\n", n_acks);
    sb_store_close(store);
    free(acks);
    sb_harness_cleanup(&h);
    munmap(states, sizeof(writer_state_t) * (size_t)writers);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(acknowledged_writes_survive_kill_9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
