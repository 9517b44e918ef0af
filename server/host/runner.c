/*
 * sb-plugin-runner NAME.so: the child process of an isolated plugin. It
 * loads the one plugin with the in-process host (so every check is the
 * same) and answers the server's calls, msgpack-RPC on file descriptor 3,
 * until the server closes it. If the plugin crashes or hangs, this process
 * is what dies or is killed; the server carries on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "message.h"
#include "plugin_host.h"
#include "record_codec.h"

#define CHANNEL 3
#define MAX_REQUEST (16 << 20)

static sb_plugin_host_t *host;
static char name[SB_PLUGIN_NAME_MAX + 1];
static char link_dir[64];     /* the temporary directory the host loads the plugin from */
static char plugin_dir[4096]; /* the directory the server named it in */

/* The loader's reason names the file by the path it opened, our temporary
 * link: say the server's plugin directory instead, as an in-process load
 * would, so that the server can mask it for org tokens. */
static void reason_in_plugin_dir(const char *reason, char *out, size_t cap)
{
    const char *at = link_dir[0] ? strstr(reason, link_dir) : NULL;
    if (at == NULL) {
        snprintf(out, cap, "%s", reason);
        return;
    }
    snprintf(out, cap, "%.*s%s%s", (int)(at - reason), reason, plugin_dir, at + strlen(link_dir));
}

static const msgpack_object *arg(const msgpack_object *args, const char *key)
{
    for (uint32_t i = 0; args && args->type == MSGPACK_OBJECT_MAP && i < args->via.map.size; i++) {
        const msgpack_object_kv *kv = &args->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, strlen(key)) == 0)
            return &kv->val;
    }
    return NULL;
}

static sb_callcenter_t *arg_cc(const msgpack_object *args)
{
    const msgpack_object *v = arg(args, "cc");
    sb_callcenter_t *cc = NULL;
    if (v && v->type == MSGPACK_OBJECT_BIN)
        sb_codec_decode_callcenter(v->via.bin.ptr, v->via.bin.size, &cc);
    return cc ? cc : sb_callcenter_new();
}

/* A NUL-terminated copy of a string argument. [owned: free()] */
static char *arg_str(const msgpack_object *args, const char *key)
{
    const msgpack_object *v = arg(args, key);
    if (v == NULL || v->type != MSGPACK_OBJECT_STR)
        return strdup("");
    return strndup(v->via.str.ptr, v->via.str.size);
}

static void pack_outcome(msgpack_packer *pk, int rc, const sb_err_t *err)
{
    sb_pack_kv_int(pk, "code", rc);
    sb_pack_kv_str(pk, "message", rc ? err->message : "");
}

static void pack_kv(msgpack_packer *pk, const sb_plugin_kv_t *kv, size_t n)
{
    sb_pack_str(pk, "kv");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array(pk, 2);
        sb_pack_str(pk, kv[i].key);
        sb_pack_str(pk, kv[i].value);
    }
}

static void serve(const char *method, const msgpack_object *args, msgpack_packer *pk)
{
    sb_err_t err;
    sb_err_clear(&err);
    if (strcmp(method, "hello") == 0) {
        sb_plugin_info_t *rows = NULL;
        size_t n = 0;
        sb_plugin_host_list(host, &rows, &n);
        const sb_plugin_info_t *p = n ? &rows[0] : NULL;
        msgpack_pack_map(pk, 9);
        sb_pack_kv_bool(pk, "loaded", p && p->loaded);
        sb_pack_kv_str(pk, "name", p ? p->name : name);
        sb_pack_kv_str(pk, "vendor", p ? p->vendor : "");
        sb_pack_kv_str(pk, "version", p ? p->version : "");
        sb_pack_kv_str(pk, "description", p ? p->description : "");
        sb_pack_kv_str(pk, "check", p ? p->check : "open");
        char reason[sizeof(p->reason) + sizeof(plugin_dir)];
        reason_in_plugin_dir(p ? p->reason : "the runner could not read it", reason,
                             sizeof(reason));
        sb_pack_kv_str(pk, "reason", reason);
        sb_pack_kv_uint(pk, "abi_major", p ? p->abi_major : 0);
        sb_pack_kv_uint(pk, "abi_minor", p ? p->abi_minor : 0);
        free(rows);
        return;
    }
    if (strcmp(method, "settings") == 0) {
        sb_plugin_setting_copy_t *s = NULL;
        size_t n = 0;
        int rc = sb_plugin_host_settings(host, name, &s, &n, &err);
        msgpack_pack_map(pk, 3);
        pack_outcome(pk, rc, &err);
        sb_pack_str(pk, "settings");
        msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++) {
            msgpack_pack_array(pk, 7);
            sb_pack_str(pk, s[i].section);
            sb_pack_str(pk, s[i].name);
            sb_pack_str(pk, s[i].label);
            sb_pack_str(pk, s[i].default_value);
            sb_pack_str(pk, s[i].rule);
            s[i].required ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
            s[i].secret ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        }
        free(s);
        return;
    }
    if (strcmp(method, "template") == 0) {
        sb_callcenter_t *cc = NULL;
        int rc = sb_plugin_host_template(host, name, &cc, &err);
        msgpack_sbuffer buf;
        msgpack_sbuffer_init(&buf);
        if (rc == 0)
            sb_codec_encode_callcenter(cc, &buf);
        msgpack_pack_map(pk, 3);
        pack_outcome(pk, rc, &err);
        sb_pack_str(pk, "cc");
        msgpack_pack_bin(pk, buf.size);
        msgpack_pack_bin_body(pk, buf.data, buf.size);
        msgpack_sbuffer_destroy(&buf);
        sb_callcenter_free(cc);
        return;
    }
    sb_callcenter_t *cc = arg_cc(args);
    if (strcmp(method, "claim") == 0) {
        char best[SB_PLUGIN_NAME_MAX + 1];
        int confidence = 0;
        sb_plugin_host_claim(host, cc, best, &confidence, &err);
        msgpack_pack_map(pk, 1);
        sb_pack_kv_int(pk, "confidence", confidence);
    } else if (strcmp(method, "validate") == 0) {
        int rc = sb_plugin_host_validate(host, name, cc, &err);
        msgpack_pack_map(pk, 2);
        pack_outcome(pk, rc, &err);
    } else if (strcmp(method, "render") == 0 || strcmp(method, "call_event") == 0) {
        char *text = arg_str(args, strcmp(method, "render") == 0 ? "user" : "event");
        sb_plugin_kv_t *kv = NULL;
        size_t n = 0;
        int rc = strcmp(method, "render") == 0
                     ? sb_plugin_host_render(host, name, cc, text, &kv, &n, &err)
                     : sb_plugin_host_call_event(host, name, cc, text, &kv, &n, &err);
        msgpack_pack_map(pk, 3);
        pack_outcome(pk, rc, &err);
        pack_kv(pk, kv, n);
        free(kv);
        free(text);
    } else {
        msgpack_pack_nil(pk);
    }
    sb_callcenter_free(cc);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sb-plugin-runner NAME.so (started by switchboardd)\n");
        return 2;
    }
    sb_log_set_level(SB_LOG_WARN);
    /* The host loads directories: give it one holding this file alone. */
    char dir[] = "/tmp/sb-plugin-runner.XXXXXX";
    const char *base = strrchr(argv[1], '/');
    base = base ? base + 1 : argv[1];
    snprintf(name, sizeof(name), "%.*s", (int)(strlen(base) > 3 ? strlen(base) - 3 : 0), base);
    char link_path[4400];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(link_dir, sizeof(link_dir), "%s", dir);
    if (base == argv[1])
        snprintf(plugin_dir, sizeof(plugin_dir), ".");
    else
        snprintf(plugin_dir, sizeof(plugin_dir), "%.*s", (int)(base - 1 - argv[1]), argv[1]);
    snprintf(link_path, sizeof(link_path), "%s/%s", dir, base);
    if (symlink(argv[1], link_path) != 0 || sb_plugin_host_new(dir, &host) != 0 ||
        sb_plugin_host_load(host, NULL, NULL, NULL) != 0)
        return 1;
    unlink(link_path);
    rmdir(dir);

    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        size_t msg_len;
        int framed = sb_frame_scan(buf, len, MAX_REQUEST, &msg_len);
        if (framed == SB_FRAME_NEED_MORE) {
            if (cap - len < 65536) {
                uint8_t *grown = realloc(buf, cap + 65536);
                if (grown == NULL)
                    break;
                buf = grown;
                cap += 65536;
            }
            ssize_t n = recv(CHANNEL, buf + len, cap - len, 0);
            if (n <= 0)
                break; /* the server closed: done */
            len += (size_t)n;
            continue;
        }
        if (framed != SB_FRAME_COMPLETE)
            break;
        msgpack_unpacked req;
        msgpack_unpacked_init(&req);
        size_t off = 0;
        sb_rpc_msg_t msg;
        sb_err_t err;
        bool ok =
            msgpack_unpack_next(&req, (const char *)buf, msg_len, &off) == MSGPACK_UNPACK_SUCCESS &&
            sb_rpc_parse(&req.data, &msg, &err) == 0;
        if (ok) {
            msgpack_sbuffer out;
            msgpack_sbuffer_init(&out);
            msgpack_packer pk;
            msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
            sb_rpc_pack_result_head(&pk, msg.msgid);
            serve(msg.method, msg.args, &pk);
            ok = sb_frame_send_all(CHANNEL, out.data, out.size) == 0;
            msgpack_sbuffer_destroy(&out);
        }
        msgpack_unpacked_destroy(&req);
        memmove(buf, buf + msg_len, len - msg_len);
        len -= msg_len;
        if (!ok)
            break;
    }
    free(buf);
    sb_plugin_host_free(host);
    return 0;
}
