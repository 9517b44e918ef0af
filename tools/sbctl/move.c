/*
 * sbctl org move ORG --to-socket PATH: moves an org from the server sbctl
 * talks to (the source) to another (the target), with the move.* methods
 * (server/methods/move.c; docs/cluster.md, "Moving an org"):
 *
 *   1. the org's records, a page at a time from the source's snapshot at
 *      change S, imported on the target (the org "receiving" there);
 *   2. the changes since S, imported, round after round while many arrive;
 *   3. the source frozen (the org's writes answer ORG_MOVING), the last
 *      changes imported, the two digests compared;
 *   4. in a cluster, the placement bucket's org.<ORG> switched from the
 *      source's shard to the target's (a compare-and-set: the step that
 *      decides the move; between two servers given by socket there is no
 *      placement), the target committed, the source marked moved (MOVED
 *      naming the target) and its records deleted a batch per call.
 *
 * Any failure before the commit unfreezes the source and drops the
 * receiving org on the target (move.abort on both), and says what happened;
 * a commit refused after the switch switches the placement back first.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pack.h"
#include "sbctl.h"

/* A catch-up round that brings at most this many records is the last before
 * the freeze: the pause then covers only what a few milliseconds write. */
#define MOVE_CALM_RECORDS 200
#define MOVE_MAX_ROUNDS 20

typedef struct move_run {
    sb_client_t *src;
    const sbctl_move_target_t *target; /* the target's client, what MOVED names, the shards */
    const char *org;
    const char *fail_after; /* the test hook's step, or NULL */
    uint64_t exported, pages, caught_up, rounds, final_records, org_seq, seq;
    char digest[80];
    uint64_t digest_records;
    double freeze_ms, moved_ms, started_ms;
    bool frozen;
    bool switched; /* the placement names the target shard now */
} move_run_t;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static uint64_t get_uint(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = sb_obj_get(map, key);
    return o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

static bool get_bool(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = sb_obj_get(map, key);
    return o != NULL && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

/* Calls `method` with {org, then `extra` packed by the caller}: 0, or prints
 * which side refused what and returns -1. */
static int call(sb_client_t *c, const char *side, const char *method, const msgpack_sbuffer *args,
                msgpack_unpacked *result)
{
    int rc = sb_client_call(c, method, args->data, args->size, result);
    if (rc == 0 && result->data.type == MSGPACK_OBJECT_MAP)
        return 0;
    if (rc == SB_CLIENT_REFUSED)
        fprintf(stderr, "sbctl: the %s refused %s: %s: %s\n", side, method, sb_client_error_name(c),
                sb_client_error_message(c));
    else if (rc == 0)
        fprintf(stderr, "sbctl: the %s's answer to %s is not a map.\n", side, method);
    else
        fprintf(stderr, "sbctl: the %s did not answer %s: %s\n", side, method,
                sb_client_error_message(c));
    return rc == SB_CLIENT_REFUSED ? -1 : -2;
}

/* Packs {org[, key: value]} into buf (cleared). */
static void args_org(msgpack_sbuffer *buf, const char *org, size_t extra, msgpack_packer *pk)
{
    msgpack_sbuffer_clear(buf);
    msgpack_packer_init(pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map(pk, 1 + extra);
    sb_pack_kv_str(pk, "org", org);
}

/* Imports the records of `page` (a move.export or move.changes answer) on the target. */
static int import_page(move_run_t *m, const msgpack_object *page, uint64_t *count)
{
    const msgpack_object *records = sb_obj_get(page, "records");
    if (records == NULL || records->type != MSGPACK_OBJECT_ARRAY) {
        fprintf(stderr, "sbctl: the source's page has no records: not a server this sbctl "
                        "knows.\n");
        return -1;
    }
    *count = records->via.array.size;
    if (records->via.array.size == 0)
        return 0;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    args_org(&buf, m->org, 1, &pk);
    sb_pack_str(&pk, "records");
    msgpack_pack_object(&pk, *records);
    msgpack_unpacked r;
    msgpack_unpacked_init(&r);
    int rc = call(m->target->dst, "target", "move.import", &buf, &r);
    msgpack_unpacked_destroy(&r);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

/* Whether the test hook asks to fail after `step` (SBCTL_MOVE_FAIL_AFTER). */
static bool hook(const move_run_t *m, const char *step)
{
    if (m->fail_after == NULL || strcmp(m->fail_after, step) != 0)
        return false;
    fprintf(stderr,
            "sbctl: stopping after the %s step, as SBCTL_MOVE_FAIL_AFTER asks (a test's "
            "hook).\n",
            step);
    return true;
}

static int export_all(move_run_t *m)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    int rc = 0;
    uint8_t cursor[1024];
    size_t cursor_len = 0;
    for (bool more = true; rc == 0 && more;) {
        msgpack_packer pk;
        args_org(&buf, m->org, cursor_len ? 1 : 0, &pk);
        if (cursor_len) {
            sb_pack_str(&pk, "cursor");
            msgpack_pack_bin(&pk, cursor_len);
            msgpack_pack_bin_body(&pk, cursor, cursor_len);
        }
        msgpack_unpacked r;
        msgpack_unpacked_init(&r);
        rc = call(m->src, "source", "move.export", &buf, &r);
        uint64_t n = 0;
        if (rc == 0) {
            if (m->pages == 0)
                m->seq = get_uint(&r.data, "seq");
            rc = import_page(m, &r.data, &n);
            more = get_bool(&r.data, "more");
            const msgpack_object *c = sb_obj_get(&r.data, "cursor");
            if (more && (c == NULL || c->type != MSGPACK_OBJECT_BIN || c->via.bin.size == 0 ||
                         c->via.bin.size > sizeof(cursor))) {
                fprintf(stderr, "sbctl: the source's export page has no usable cursor.\n");
                rc = -1;
            } else if (more) {
                cursor_len = c->via.bin.size;
                memcpy(cursor, c->via.bin.ptr, cursor_len);
            }
        }
        msgpack_unpacked_destroy(&r);
        m->exported += n;
        m->pages++;
    }
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

/* One round of changes from m->seq + 1 on, to the log's end; *records counts them. */
static int catch_up(move_run_t *m, uint64_t *records)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    int rc = 0;
    *records = 0;
    for (bool more = true; rc == 0 && more;) {
        msgpack_packer pk;
        args_org(&buf, m->org, 1, &pk);
        sb_pack_kv_uint(&pk, "seq", m->seq + 1);
        msgpack_unpacked r;
        msgpack_unpacked_init(&r);
        rc = call(m->src, "source", "move.changes", &buf, &r);
        uint64_t n = 0;
        if (rc == 0)
            rc = import_page(m, &r.data, &n);
        if (rc == 0) {
            uint64_t next = get_uint(&r.data, "next");
            if (next == 0) {
                fprintf(stderr, "sbctl: the source's changes page has no next sequence.\n");
                rc = -1;
            } else {
                m->seq = next - 1;
                m->org_seq = get_uint(&r.data, "org_seq");
                more = get_bool(&r.data, "more");
            }
        }
        msgpack_unpacked_destroy(&r);
        *records += n;
    }
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

static int digest_of(move_run_t *m, sb_client_t *c, const char *side, char *hex, size_t cap,
                     uint64_t *records)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    args_org(&buf, m->org, 0, &pk);
    msgpack_unpacked r;
    msgpack_unpacked_init(&r);
    int rc = call(c, side, "move.digest", &buf, &r);
    const msgpack_object *d = rc == 0 ? sb_obj_get(&r.data, "digest") : NULL;
    if (rc == 0 && (d == NULL || d->type != MSGPACK_OBJECT_STR || d->via.str.size >= cap)) {
        fprintf(stderr, "sbctl: the %s's digest is not one this sbctl reads.\n", side);
        rc = -1;
    } else if (rc == 0) {
        snprintf(hex, cap, "%.*s", (int)d->via.str.size, d->via.str.ptr);
        *records = get_uint(&r.data, "records");
    }
    msgpack_unpacked_destroy(&r);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

/* A call of one move.* method with {org} alone (or {org, key: str}). */
static int simple(move_run_t *m, sb_client_t *c, const char *side, const char *method,
                  const char *key, const char *value, uint64_t num, msgpack_unpacked *r)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    args_org(&buf, m->org, key ? 1 : 0, &pk);
    if (key != NULL && value != NULL)
        sb_pack_kv_str(&pk, key, value);
    else if (key != NULL)
        sb_pack_kv_uint(&pk, key, num);
    int rc = call(c, side, method, &buf, r);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

/*
 * The placement switch, in a cluster: the compare-and-set of org.<ORG> from
 * the source's shard to the target's. From here on the cluster's clients
 * route the org to the target (the source still answers its reads, and
 * ORG_MOVING to its writes, which the clients retry until the commit).
 * Between two servers given by socket there is nothing to switch: MOVED
 * naming the target's socket is what tells clients.
 */
static int switch_placement(move_run_t *m)
{
    const sbctl_move_target_t *t = m->target;
    if (t->cluster == NULL)
        return 0;
    int rc = sb__client_cluster_org_place(t->cluster, m->org, t->from_shard, t->to_shard);
    if (rc == -EINPROGRESS) {
        /* Undoing both sides now could strand the org behind a key that names the target. */
        fprintf(stderr,
                "sbctl: %s\nsbctl: the move of %s is left where it stopped: frozen on shard %s, "
                "receiving on shard %s. Once NATS answers, look at org.%s (sbctl cluster show "
                "counts the orgs): naming %s, run sbctl move commit --org %s on %s's primary, "
                "then sbctl move done --org %s --to 'shard %s' on %s's until left is false; "
                "naming %s, run sbctl move abort --org %s on both.\n",
                sb_client_cluster_error_message(t->cluster), m->org, t->from_shard, t->to_shard,
                m->org, t->to_shard, m->org, t->to_shard, m->org, t->to_shard, t->from_shard,
                t->from_shard, m->org);
        return -3;
    }
    if (rc != 0) {
        fprintf(stderr, "sbctl: the placement was not switched to shard %s: %s\n", t->to_shard,
                sb_client_cluster_error_message(t->cluster));
        return -1;
    }
    m->switched = true;
    return 0;
}

/* The commit was refused after the switch: the placement names the source again. */
static int switch_back(move_run_t *m)
{
    const sbctl_move_target_t *t = m->target;
    if (!m->switched)
        return 0;
    int rc = sb__client_cluster_org_place(t->cluster, m->org, t->to_shard, t->from_shard);
    if (rc == 0) {
        m->switched = false;
        return 0;
    }
    fprintf(stderr,
            "sbctl: the placement still names shard %s and could not be switched back to %s (%s): "
            "the org is not undone on either side; once NATS answers, run this move again "
            "(or sbctl move abort --org %s on both, then put org.%s back with NATS's tools).\n",
            t->to_shard, t->from_shard, sb_client_cluster_error_message(t->cluster), m->org,
            m->org);
    return -1;
}

/* Undoes a move that did not commit: the placement switched back (when it was switched),
 * then the source unfrozen and the target's org dropped; none of it when the switch back
 * fails (said why). */
static void roll_back(move_run_t *m)
{
    if (switch_back(m) != 0)
        return;
    msgpack_unpacked r;
    msgpack_unpacked_init(&r);
    int s = simple(m, m->src, "source", "move.abort", NULL, NULL, 0, &r);
    msgpack_unpacked_destroy(&r);
    msgpack_unpacked_init(&r);
    int t = simple(m, m->target->dst, "target", "move.abort", NULL, NULL, 0, &r);
    msgpack_unpacked_destroy(&r);
    fprintf(stderr, "sbctl: the move of %s did not happen: ", m->org);
    if (s == 0)
        fprintf(stderr, "the source serves it as before (its writes resumed); ");
    else
        fprintf(stderr,
                "the source could not be told to resume its writes (run sbctl move abort "
                "--org %s on it); ",
                m->org);
    if (t == 0)
        fprintf(stderr, "nothing it received stays on the target.\n");
    else
        fprintf(stderr,
                "the target could not be told to drop what it received (run sbctl move "
                "abort --org %s on it).\n",
                m->org);
}

static void report(const move_run_t *m, bool json, double done_ms)
{
    double paused = m->moved_ms - m->freeze_ms;
    if (json) {
        json_t *o =
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:f, s:f}", "org", m->org,
                      "to", m->target->to, "exported", (json_int_t)m->exported, "pages",
                      (json_int_t)m->pages, "rounds", (json_int_t)m->rounds, "caught_up",
                      (json_int_t)m->caught_up, "final_records", (json_int_t)m->final_records,
                      "digest", m->digest, "records", (json_int_t)m->digest_records,
                      "writes_paused_ms", paused, "total_ms", done_ms - m->started_ms);
        if (o != NULL) {
            json_dumpf(o, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
            json_decref(o);
        }
        return;
    }
    printf("moved org %s to %s\n", m->org, m->target->to);
    printf("  copied %llu records in %llu pages, then %llu changed records in %llu catch-up "
           "rounds\n",
           (unsigned long long)m->exported, (unsigned long long)m->pages,
           (unsigned long long)m->caught_up, (unsigned long long)m->rounds);
    printf("  froze its writes, brought the last %llu records, digests equal: blake2b:%s (%llu "
           "records)\n",
           (unsigned long long)m->final_records, m->digest, (unsigned long long)m->digest_records);
    if (m->target->cluster != NULL)
        printf("  switched the placement: org.%s names shard %s (was %s)\n", m->org,
               m->target->to_shard, m->target->from_shard);
    printf("  committed on the target; the source answers MOVED and deleted the org's records "
           "(its tokens stay, answering MOVED)\n");
    printf("  writes paused %.1f ms (freeze to MOVED); the move took %.1f ms\n", paused,
           done_ms - m->started_ms);
}

int sbctl_org_move(sb_client_t *src, const sbctl_move_target_t *target, const char *org, bool json)
{
    sb_client_t *dst = target->dst;
    const char *to = target->to;
    move_run_t m = {.src = src, .target = target, .org = org};
    m.fail_after = getenv("SBCTL_MOVE_FAIL_AFTER");
    if (m.fail_after != NULL && m.fail_after[0] == '\0')
        m.fail_after = NULL;
    m.started_ms = now_ms();
    /* 1-2: copy, then catch up while the org keeps serving. */
    int rc = export_all(&m);
    if (rc == 0 && hook(&m, "export"))
        rc = -1;
    for (uint64_t n = MOVE_CALM_RECORDS + 1;
         rc == 0 && m.rounds < MOVE_MAX_ROUNDS && n > MOVE_CALM_RECORDS; m.rounds++) {
        rc = catch_up(&m, &n);
        m.caught_up += n;
    }
    /* 3: freeze, the last changes, the digests. */
    msgpack_unpacked r;
    msgpack_unpacked_init(&r);
    if (rc == 0 && (rc = simple(&m, src, "source", "move.freeze", NULL, NULL, 0, &r)) == 0) {
        m.frozen = true;
        m.freeze_ms = now_ms();
    }
    msgpack_unpacked_destroy(&r);
    if (rc == 0 && hook(&m, "freeze"))
        rc = -1;
    if (rc == 0)
        rc = catch_up(&m, &m.final_records);
    char theirs[80];
    uint64_t their_records = 0;
    if (rc == 0)
        rc = digest_of(&m, src, "source", m.digest, sizeof(m.digest), &m.digest_records);
    if (rc == 0)
        rc = digest_of(&m, dst, "target", theirs, sizeof(theirs), &their_records);
    if (rc == 0 && strcmp(m.digest, theirs) != 0) {
        fprintf(stderr,
                "sbctl: the org's records differ after the catch-up: source blake2b:%s (%llu "
                "records), target blake2b:%s (%llu records).\n",
                m.digest, (unsigned long long)m.digest_records, theirs,
                (unsigned long long)their_records);
        rc = -1;
    }
    if (rc == 0 && hook(&m, "digest"))
        rc = -1;
    /* 4: the switch, then the commit: after it, the target serves the org. */
    if (rc == 0 && (rc = switch_placement(&m)) == -3)
        return SBCTL_UNREACHABLE; /* not known whether it switched: nothing undone (said why) */
    if (rc == 0 && m.switched && hook(&m, "switch"))
        rc = -1;
    if (rc != 0) {
        roll_back(&m);
        return rc == -2 ? SBCTL_UNREACHABLE : SBCTL_REFUSED;
    }
    msgpack_unpacked_init(&r);
    rc = simple(&m, dst, "target", "move.commit", "org_seq", NULL, m.org_seq, &r);
    msgpack_unpacked_destroy(&r);
    if (rc == -1) {
        roll_back(&m);
        return SBCTL_REFUSED;
    }
    if (rc != 0) {
        /* Unknown whether it committed: undoing now could leave the org on
         * both or on neither. */
        fprintf(stderr,
                "sbctl: the target's answer to the commit was lost: see sbctl move digest --org "
                "%s on the target (state none: it committed; run sbctl move done --org %s --to "
                "'%s' on the source; receiving: run sbctl move commit --org %s on the target%s).\n",
                org, org, to, org,
                m.switched ? ", which the placement names already" : ", or move abort on both");
        return SBCTL_UNREACHABLE;
    }
    /* The source: MOVED from the first call on; its records go a batch per call. */
    bool left = true;
    for (bool first = true; left; first = false) {
        msgpack_unpacked_init(&r);
        rc = simple(&m, src, "source", "move.done", "to", to, 0, &r);
        left = rc == 0 && get_bool(&r.data, "left");
        msgpack_unpacked_destroy(&r);
        if (first)
            m.moved_ms = now_ms();
        if (rc != 0) {
            fprintf(stderr,
                    "sbctl: the org serves on the target now; the source was not told (or not "
                    "fully): run sbctl move done --org %s --to %s on it until left is false.\n",
                    org, to);
            return rc == -2 ? SBCTL_UNREACHABLE : SBCTL_REFUSED;
        }
    }
    report(&m, json, now_ms());
    return SBCTL_OK;
}
