/* server.*: what the server is, and how it is doing. */
#include <time.h>

#include "cluster.h"
#include "methods.h"
#include "metrics.h"
#include "version.h"
#include "writer.h"

static int server_info(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const sb_config_t *cfg = call->svc->config;
    bool admin = call->token.role == SB_ROLE_ADMIN;
    sb_store_stats_t stats;
    uint64_t first = 0, last = 0;
    if (admin) {
        int rc = sb_store_stats(call->svc->store, &stats, err);
        if (rc == 0)
            rc = sb_store_changes_range(call->svc->store, &first, &last, err);
        if (rc != 0)
            return rc;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t uptime_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - call->svc->started_ms;
    /* The applied sequence counts every org's writes: the admin's only. */
    const sb_cluster_t *cluster = admin ? call->svc->cluster : NULL;
    int rc = msgpack_pack_map(pk, (admin ? 10 : 4) + (cluster != NULL));
    rc |= sb_pack_kv_str(pk, "version", SB_VERSION);
    if (cluster != NULL) {
        /* The shard's member this server is (docs/cluster.md). */
        sb_cluster_status_t st;
        sb_cluster_status(call->svc->cluster, &st);
        rc |= sb_pack_str(pk, "cluster") | msgpack_pack_map(pk, 10);
        rc |= sb_pack_kv_str(pk, "role", st.replica ? "replica" : st.fenced ? "fenced" : "primary");
        rc |= sb_pack_kv_str(pk, "shard", st.shard);
        rc |= sb_pack_kv_str(pk, "member", st.member);
        rc |= sb_pack_kv_str(pk, "primary", st.primary);
        rc |= sb_pack_kv_uint(pk, "number", st.number);
        rc |= sb_pack_kv_uint(pk, "epoch", st.epoch);
        rc |= sb_pack_kv_uint(pk, "applied_seq", st.applied);
        rc |= sb_pack_kv_uint(pk, "lag", st.lag);
        rc |= sb_pack_kv_bool(pk, "following", st.replica && st.error[0] == '\0');
        rc |= sb_pack_kv_str(pk, "error", st.error);
    }
    rc |= sb_pack_kv_int(pk, "uptime_s", uptime_ms / 1000);
    rc |= sb_pack_kv_str(pk, "durability", cfg->durability == SB_DURABILITY_FULL ? "full" : "none");
    rc |= sb_pack_str(pk, "limits") | msgpack_pack_map(pk, 9);
    rc |= sb_pack_kv_uint(pk, "max_message_bytes", cfg->max_message_bytes);
    rc |= sb_pack_kv_uint(pk, "max_batch", cfg->max_batch);
    rc |= sb_pack_kv_uint(pk, "max_inflight", cfg->max_inflight);
    rc |= sb_pack_kv_uint(pk, "max_connections", cfg->max_connections);
    rc |= sb_pack_kv_uint(pk, "write_high_bytes", cfg->write_high_bytes);
    rc |= sb_pack_kv_uint(pk, "write_low_bytes", cfg->write_low_bytes);
    rc |= sb_pack_kv_uint(pk, "write_cap_bytes", cfg->write_cap_bytes);
    rc |= sb_pack_kv_uint(pk, "write_stall_ms", cfg->write_stall_ms);
    rc |= sb_pack_kv_uint(pk, "page_max", SB_STORE_PAGE_MAX);
    if (admin) {
        /* Counts span every org: only the admin sees them. */
        rc |= sb_pack_str(pk, "counts") | msgpack_pack_map(pk, 5);
        rc |= sb_pack_kv_uint(pk, "orgs", stats.orgs);
        rc |= sb_pack_kv_uint(pk, "callcenters", stats.callcenters);
        rc |= sb_pack_kv_uint(pk, "users", stats.users);
        rc |= sb_pack_kv_uint(pk, "members", stats.members);
        size_t connections = 0;
        for (unsigned i = 0; i < call->svc->n_loops; i++)
            connections += call->svc->loop_connections[i];
        rc |= sb_pack_kv_uint(pk, "connections",
                              call->svc->n_loops ? connections : call->svc->connections);
        rc |= sb_pack_str(pk, "store") | msgpack_pack_map(pk, 5);
        rc |= sb_pack_kv_str(pk, "data_dir", cfg->data_dir);
        rc |= sb_pack_kv_uint(pk, "schema_version", stats.schema_version);
        rc |= sb_pack_kv_uint(pk, "used_bytes", stats.used_bytes);
        rc |= sb_pack_kv_uint(pk, "map_bytes", stats.map_bytes);
        rc |= sb_pack_kv_uint(pk, "max_map_bytes", stats.max_map_bytes);
        /* Group commit at work: how many writes shared how many commits. */
        size_t commits = 0, writes = 0;
        if (call->svc->writer != NULL)
            sb_writer_counts(call->svc->writer, &commits, &writes);
        rc |= sb_pack_str(pk, "writer") | msgpack_pack_map(pk, 2);
        rc |= sb_pack_kv_uint(pk, "commits", commits);
        rc |= sb_pack_kv_uint(pk, "writes", writes);
        /* The sequence is global: its pace is every org's write volume, so
         * only the admin sees the range (docs/store.md). */
        rc |= sb_pack_str(pk, "changes") | msgpack_pack_map(pk, 2);
        rc |= sb_pack_kv_uint(pk, "first_seq", first);
        rc |= sb_pack_kv_uint(pk, "last_seq", last);
        /* Answers served from a view packed once, and views packed (softphone.c). */
        uint64_t hits = 0, packed = 0;
        for (unsigned i = 0; i < call->svc->n_loops; i++) {
            uint64_t h, p;
            sb_answer_cache_counts(call->svc->loop_answers[i], &h, &p);
            hits += h;
            packed += p;
        }
        if (call->svc->n_loops == 0)
            sb_answer_cache_counts(call->svc->answers, &hits, &packed);
        rc |= sb_pack_str(pk, "answers") | msgpack_pack_map(pk, 2);
        rc |= sb_pack_kv_uint(pk, "spliced", hits);
        rc |= sb_pack_kv_uint(pk, "packed", packed);
        /* The event loops (--loops) and the connections each serves now. */
        rc |= sb_pack_str(pk, "loops") | msgpack_pack_array(pk, call->svc->n_loops);
        for (unsigned i = 0; i < call->svc->n_loops; i++)
            rc |= msgpack_pack_map(pk, 1) |
                  sb_pack_kv_uint(pk, "connections", call->svc->loop_connections[i]);
    }
    return rc;
}

/* server.health: what /readyz says, over the socket. It runs on the event
 * loop, so an answer at all means the loop turns; a loop that is stuck
 * leaves the caller to its timeout (sbctl server health: 5 s). */
static int server_health(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    (void)call;
    char why[160];
    if (!sb_metrics_ready(why, sizeof(why)))
        return sb_err_set(err, SB_E_NOT_READY, "Not ready: %s.", why);
    uint64_t age = sb_metrics_heartbeat_age_ms();
    int rc = msgpack_pack_map(pk, 3);
    rc |= sb_pack_str(pk, "ready") | msgpack_pack_true(pk);
    rc |= sb_pack_kv_str(pk, "status", why);
    rc |= sb_pack_kv_uint(pk, "loop_heartbeat_ms", age);
    return rc;
}

static const sb_method_t methods[] = {
    {"server.info",
     "The server's version, uptime, durability and limits; for the admin also the counts across "
     "orgs and the store's sizes.",
     SB_ROLE_READ_ONLY,
     false,
     false,
     server_info,
     {{NULL, 0, false, NULL}},
     "{version, uptime_s, durability, limits: {max_message_bytes, max_batch, max_inflight, "
     "max_connections, write_high_bytes, write_low_bytes, write_cap_bytes, write_stall_ms, "
     "page_max}, counts (admin): {orgs, callcenters, users, members, connections}, store "
     "(admin): {data_dir, schema_version, used_bytes, map_bytes, max_map_bytes}, writer (admin): "
     "{commits, writes: group commits and the writes they held}, changes (admin): {first_seq, "
     "last_seq: the change log's oldest and newest entry kept; first_seq 0: none kept}, answers "
     "(admin): {spliced, packed: softphone answers copied from a view's packed answer, and views "
     "packed (--answer-cache-slots), over every loop}, loops (admin): [{connections}: each event "
     "loop (--loops) and the connections it serves], cluster (admin, with --cluster): {role: "
     "primary, replica or fenced, shard, member: this server's name in the placement bucket, "
     "primary: the shard's primary as the bucket names it, number: the shard's number (in its "
     "ids), epoch, applied_seq: the last change in this store, lag: "
     "the stream's changes a replica has not applied, following: a replica applying its stream, "
     "error: why it stopped}}",
     ""},
    {"server.health",
     "Whether the server is ready to serve: its store open, its writer thread alive, its event "
     "loop turning (the same checks as the metrics endpoint's /readyz). sbctl server health "
     "exits 0 when ready, 1 otherwise.",
     SB_ROLE_READ_ONLY,
     false,
     false,
     server_health,
     {{NULL, 0, false, NULL}},
     "{ready: true, status, loop_heartbeat_ms: since the loop's once-a-second timer last ran}",
     "NOT_READY"},
};

const sb_method_slice_t sb__server_methods = {methods, sizeof(methods) / sizeof(methods[0])};
