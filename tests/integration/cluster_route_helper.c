/*
 * The routing test's helper (tests/integration/cluster_routing.py):
 *
 *   cluster_route_helper URLS bucket             creates SB_placement as the format says
 *   cluster_route_helper URLS put KEY JSON       writes a placement key
 *   cluster_route_helper URLS del KEY            deletes one
 *   cluster_route_helper URLS call N METHOD JSON [SHARD|- [PAUSE_MS]]
 *       N calls through one libswitchboard-client cluster handle (the token
 *       in SB_TOKEN), PAUSE_MS apart; prints a line per call:
 *       "MEMBER rc CODE NAME"
 *
 * The placement keys are the servers' to write (the placement work); until
 * they do, the test writes them here, in their format.
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static int bucket_cmd(const char *urls, const char *cmd, int argc, char **argv)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    kvStore *kv = NULL;
    natsStatus s = natsConnection_ConnectTo(&nc, urls);
    if (s == NATS_OK)
        s = natsConnection_JetStream(&js, nc, NULL);
    if (s == NATS_OK && strcmp(cmd, "bucket") == 0) {
        kvConfig cfg;
        kvConfig_Init(&cfg);
        cfg.Bucket = "SB_placement";
        cfg.History = 8;
        cfg.StorageType = js_FileStorage;
        cfg.Replicas = 3;
        s = js_CreateKeyValue(&kv, js, &cfg);
    } else if (s == NATS_OK) {
        s = js_KeyValue(&kv, js, "SB_placement");
        if (s == NATS_OK && strcmp(cmd, "put") == 0 && argc == 2)
            s = kvStore_PutString(NULL, kv, argv[0], argv[1]);
        else if (s == NATS_OK && strcmp(cmd, "del") == 0 && argc == 1)
            s = kvStore_Delete(kv, argv[0]);
        else if (s == NATS_OK)
            s = NATS_INVALID_ARG;
    }
    if (s != NATS_OK)
        fprintf(stderr, "cluster_route_helper %s: %s\n", cmd, natsStatus_GetText(s));
    kvStore_Destroy(kv);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return s == NATS_OK ? 0 : 1;
}

static int call_cmd(const char *urls, int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int n = (int)strtol(argv[0], NULL, 10);
    const char *method = argv[1];
    const char *shard = argc > 3 && strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
    int pause_ms = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 0;
    json_error_t jerr;
    json_t *args = json_loads(argv[2], 0, &jerr);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    if (args == NULL || sb_client_pack_json(&pk, args) != 0) {
        fprintf(stderr, "cluster_route_helper: the arguments are not JSON: %s\n", jerr.text);
        return 2;
    }
    json_decref(args);
    const char *token = getenv("SB_TOKEN");
    sb_client_cluster_t *cl = NULL;
    int rc = sb_client_cluster_new(&cl, urls, token ? token : "");
    if (rc != 0) {
        fprintf(stderr, "cluster_route_helper: %s\n",
                cl ? sb_client_cluster_error_message(cl) : "out of memory");
        sb_client_cluster_free(cl);
        return 1;
    }
    int failed = 0;
    for (int i = 0; i < n; i++) {
        msgpack_unpacked result;
        rc = shard ? sb_client_cluster_call_shard(cl, shard, method, buf.data, buf.size, &result)
                   : sb_client_cluster_call(cl, method, buf.data, buf.size, &result);
        printf("%s %d %d %s\n",
               sb_client_cluster_last_member(cl)[0] ? sb_client_cluster_last_member(cl) : "-", rc,
               sb_client_cluster_error_code(cl),
               rc == 0                               ? "OK"
               : sb_client_cluster_error_name(cl)[0] ? sb_client_cluster_error_name(cl)
                                                     : "-");
        if (rc != 0) {
            fprintf(stderr, "cluster_route_helper: %s\n", sb_client_cluster_error_message(cl));
            failed = 1;
        }
        fflush(stdout);
        msgpack_unpacked_destroy(&result);
        if (pause_ms > 0 && i + 1 < n)
            nats_Sleep(pause_ms);
    }
    msgpack_sbuffer_destroy(&buf);
    sb_client_cluster_free(cl);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: cluster_route_helper URLS bucket|put|del|call ...\n");
        return 2;
    }
    int rc = strcmp(argv[2], "call") == 0 ? call_cmd(argv[1], argc - 3, argv + 3)
                                          : bucket_cmd(argv[1], argv[2], argc - 3, argv + 3);
    nats_Close();
    return rc;
}
