/* The server built without libnats (standalone only): --cluster is refused. */
#include "cluster.h"

#include <string.h>

int sb_cluster_open(const sb_cluster_opts_t *opts, sb_store_t *store, sb_cluster_t **out,
                    sb_err_t *err)
{
    (void)opts;
    (void)store;
    *out = NULL;
    return sb_err_set(err, -ENOTSUP,
                      "This switchboardd was built without libnats: --cluster needs it "
                      "(SB_WITH_CLUSTER=1 scripts/install-deps, then build again).");
}

int sb_cluster_start(sb_cluster_t *cluster, sb_err_t *err)
{
    (void)cluster;
    sb_err_clear(err);
    return 0;
}

void sb_cluster_free(sb_cluster_t *cluster)
{
    (void)cluster;
}

bool sb_cluster_writable(const sb_cluster_t *cluster)
{
    (void)cluster;
    return true;
}

void sb_cluster_status(sb_cluster_t *cluster, sb_cluster_status_t *out)
{
    (void)cluster;
    memset(out, 0, sizeof(*out));
}

int sb_cluster_resync(void *ctx)
{
    (void)ctx;
    return 0;
}

bool sb_cluster_wait_applied(sb_cluster_t *cluster, uint64_t seq, unsigned wait_ms)
{
    (void)cluster;
    (void)seq;
    (void)wait_ms;
    return true;
}

bool sb_cluster_take_tokens_changed(sb_cluster_t *cluster)
{
    (void)cluster;
    return false;
}

int sb_cluster_show(sb_cluster_t *cluster, msgpack_packer *pk)
{
    (void)cluster;
    (void)pk;
    return -ENOTSUP;
}

int sb_cluster_promote(sb_cluster_t *cluster, const char *shard, const char *member,
                       sb_cluster_promoted_t *out, sb_err_t *err)
{
    (void)cluster;
    (void)shard;
    (void)member;
    memset(out, 0, sizeof(*out));
    return sb_err_set(err, SB_E_NOT_CLUSTERED, "This switchboardd was built without libnats.");
}

int sb_cluster_org_claim(sb_cluster_t *cluster, const char *org, sb_err_t *err)
{
    (void)cluster;
    (void)org;
    (void)err;
    return 0;
}

void sb_cluster_org_settle(sb_cluster_t *cluster, const char *org)
{
    (void)cluster;
    (void)org;
}
