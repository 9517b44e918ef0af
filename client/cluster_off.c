/*
 * The cluster client of a libswitchboard-client built without libnats: every
 * entry point answers, and says how to get one that routes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "client.h"

#define SB_CLIENT_API __attribute__((visibility("default")))

#define WITHOUT_NATS                                                                               \
    "This libswitchboard-client was built without libnats, so it has no cluster mode: install "    \
    "libnats-dev (SB_WITH_CLUSTER=1 scripts/install-deps) and build it again."

/* Only ever a handle that tells why it could not be made. */
struct sb_client_cluster {
    int unused;
};

SB_CLIENT_API int sb_client_cluster_new(sb_client_cluster_t **out, const char *urls,
                                        const char *token)
{
    (void)urls;
    (void)token;
    if (out == NULL)
        return -EINVAL;
    *out = calloc(1, sizeof(**out));
    return *out == NULL ? -ENOMEM : -ENOTSUP;
}

SB_CLIENT_API void sb_client_cluster_free(sb_client_cluster_t *cl)
{
    free(cl);
}

SB_CLIENT_API int sb_client_cluster_set_member(sb_client_cluster_t *cl, const char *member)
{
    (void)cl;
    (void)member;
    return -ENOTSUP;
}

SB_CLIENT_API int sb_client_cluster_call(sb_client_cluster_t *cl, const char *method,
                                         const void *args, size_t args_len,
                                         msgpack_unpacked *result)
{
    (void)cl, (void)method, (void)args, (void)args_len;
    if (result != NULL)
        msgpack_unpacked_init(result);
    return -ENOTSUP;
}

SB_CLIENT_API int sb_client_cluster_call_shard(sb_client_cluster_t *cl, const char *shard,
                                               const char *method, const void *args,
                                               size_t args_len, msgpack_unpacked *result)
{
    (void)shard;
    return sb_client_cluster_call(cl, method, args, args_len, result);
}

SB_CLIENT_API const char *sb_client_cluster_last_member(const sb_client_cluster_t *cl)
{
    (void)cl;
    return "";
}

SB_CLIENT_API int sb_client_cluster_error_code(const sb_client_cluster_t *cl)
{
    (void)cl;
    return 0;
}

SB_CLIENT_API const char *sb_client_cluster_error_name(const sb_client_cluster_t *cl)
{
    (void)cl;
    return "";
}

SB_CLIENT_API const char *sb_client_cluster_error_message(const sb_client_cluster_t *cl)
{
    (void)cl;
    return WITHOUT_NATS;
}

int sb__client_cluster_route(sb_client_cluster_t *cl, const char *shard, const char *method,
                             const void *args, size_t args_len, sb_client_t **client)
{
    (void)cl, (void)shard, (void)method, (void)args, (void)args_len;
    *client = NULL;
    return -ENOTSUP;
}

void sb__client_cluster_set_timeout(sb_client_cluster_t *cl, int seconds)
{
    (void)cl, (void)seconds;
}

int sb__client_cluster_org_shard(sb_client_cluster_t *cl, const char *org, char *shard, size_t cap)
{
    (void)cl, (void)org;
    if (cap > 0)
        shard[0] = '\0';
    return -ENOTSUP;
}

int sb__client_cluster_org_place(sb_client_cluster_t *cl, const char *org, const char *from,
                                 const char *to)
{
    (void)cl, (void)org, (void)from, (void)to;
    return -ENOTSUP;
}
