/* cluster.*: the placement of shards and members (docs/cluster.md). */
#include <stdlib.h>

#include "cluster.h"
#include "methods.h"

static int not_clustered(sb_err_t *err)
{
    return sb_err_set(err, SB_E_NOT_CLUSTERED,
                      "This server is not in a cluster (started without --cluster): there is no "
                      "placement to show or change.");
}

/* From the member's copy of the placement bucket: no NATS request, so it
 * may run on the event loop. */
static int cluster_show(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    if (call->svc->cluster == NULL)
        return not_clustered(err);
    return sb_cluster_show(call->svc->cluster, pk);
}

/* The compare-and-set of shard.<S> talks to NATS: on the thread pool. */
static int prepare_promote(sb_call_t *call, sb_err_t *err)
{
    if (call->svc->cluster == NULL)
        return not_clustered(err);
    sb_cluster_promoted_t *done = calloc(1, sizeof(*done));
    if (done == NULL)
        return sb_err_default(err, -ENOMEM);
    int rc = sb_cluster_promote(call->svc->cluster, sb_arg_str(call, "shard"),
                                sb_arg_str(call, "member"), done, err);
    if (rc != 0) {
        free(done);
        return rc;
    }
    call->prep = done;
    call->prep_free = free;
    return 0;
}

static int cluster_promote(sb_call_t *call, msgpack_packer *pk, sb_err_t *err)
{
    const sb_cluster_promoted_t *done = call->prep;
    if (done == NULL)
        return call->svc->cluster == NULL ? not_clustered(err) : sb_err_default(err, -EINVAL);
    return msgpack_pack_map(pk, 4) | sb_pack_kv_str(pk, "shard", sb_arg_str(call, "shard")) |
           sb_pack_kv_str(pk, "primary", sb_arg_str(call, "member")) |
           sb_pack_kv_uint(pk, "epoch", done->epoch) |
           sb_pack_kv_str(pk, "old_primary", done->old_primary);
}

static const sb_method_t methods[] = {
    {"cluster.show",
     "The cluster's placement as this member sees it (its copy of the placement bucket, kept "
     "current by a watch): each shard with its number, epoch, primary, replicas and how many "
     "orgs it holds; each member with its role, applied change, socket and when it last "
     "reported. A server started without --cluster answers NOT_CLUSTERED.",
     SB_ROLE_ADMIN,
     false,
     false,
     cluster_show,
     {{NULL, 0, false, NULL}},
     "{member: this server's name, shards: [{shard, number, epoch, primary, replicas: [member], "
     "orgs: count}], members: [{member, shard, role: primary | replica | fenced, epoch, applied, "
     "socket, error: why a replica stopped following (\"\" while it follows), age_ms: since it "
     "last reported (every 2 s)}]}",
     "NOT_CLUSTERED"},
    {"cluster.promote",
     "Fails a shard over: names MEMBER the shard's primary at the next epoch and the old primary "
     "one of its replicas (one compare-and-set in the placement bucket). The member must be a "
     "replica of the shard that follows its stream without error, reported within the last 10 "
     "s, and is at most 1000 changes behind the stream; it then applies the stream to its end "
     "and takes writes. The old primary, if it still runs, is fenced (it takes no more writes) "
     "and follows the stream as a replica. Any member of the cluster may be asked.",
     SB_ROLE_ADMIN,
     false,
     false,
     cluster_promote,
     {{"shard", SB_ARG_STRING, true, "the shard to fail over"},
      {"member", SB_ARG_STRING, true, "its replica to make the primary (cluster show lists them)"}},
     "{shard, primary: the member promoted, epoch: the shard's new epoch, old_primary}",
     "NOT_CLUSTERED PROMOTE_REFUSED PLACEMENT_CHANGED CLUSTER_UNAVAILABLE NOT_FOUND"},
};

const sb_method_slice_t sb__cluster_methods = {methods, sizeof(methods) / sizeof(methods[0])};

static const sb_method_prep_t preps[] = {
    {"cluster.promote", prepare_promote},
};

const sb_method_prep_slice_t sb__cluster_preps = {preps, sizeof(preps) / sizeof(preps[0])};
