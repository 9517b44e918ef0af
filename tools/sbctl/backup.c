/*
 * sbctl backup FILE: pulls a hot backup from the server (server.backup,
 * then server.backup_read chunk by chunk) into FILE.tmp, checks its
 * checksum, appends the trailer (store/backup.h), fsyncs, and renames it to
 * FILE. The server's user may not be the operator's: the bytes come over the
 * connection and this process writes them, with its own rights.
 */
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "pack.h"
#include "sbctl.h"

/* The map value of `key` in `map`, or NULL. */
static const msgpack_object *get(const msgpack_object *map, const char *key)
{
    return sb_obj_get(map, key);
}

static int refused(sb_client_t *client, int rc)
{
    if (rc == SB_CLIENT_REFUSED) {
        fprintf(stderr, "sbctl: %s: %s\n", sb_client_error_name(client),
                sb_client_error_message(client));
        return SBCTL_REFUSED;
    }
    fprintf(stderr, "sbctl: %s\n", sb_client_error_message(client));
    return SBCTL_UNREACHABLE;
}

/* Syncs the directory holding `path`, so that a rename in it is durable. */
static void sync_parent(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", path);
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

/* Reads the backup's chunks into fd, hashing them; returns an exit status. */
static int pull(sb_client_t *client, const char *id, uint64_t bytes, int fd,
                uint8_t hash[SB_BACKUP_HASH_BYTES], const char *tmp)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, SB_BACKUP_HASH_BYTES);
    uint64_t at = 0;
    bool last = false;
    while (!last) {
        msgpack_sbuffer args;
        msgpack_sbuffer_init(&args);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        sb_pack_kv_str(&pk, "backup", id);
        sb_pack_kv_uint(&pk, "offset", at);
        msgpack_unpacked result;
        int rc = sb_client_call(client, "server.backup_read", args.data, args.size, &result);
        msgpack_sbuffer_destroy(&args);
        if (rc != 0) {
            msgpack_unpacked_destroy(&result);
            return refused(client, rc);
        }
        const msgpack_object *data = get(&result.data, "data");
        const msgpack_object *end = get(&result.data, "last");
        if (data == NULL || data->type != MSGPACK_OBJECT_BIN || end == NULL ||
            end->type != MSGPACK_OBJECT_BOOLEAN || (data->via.bin.size == 0 && !end->via.boolean) ||
            at + data->via.bin.size > bytes) {
            msgpack_unpacked_destroy(&result);
            fprintf(stderr, "sbctl: the server sent a chunk that does not fit the backup.\n");
            return SBCTL_REFUSED;
        }
        crypto_generichash_update(&st, (const uint8_t *)data->via.bin.ptr, data->via.bin.size);
        bool written =
            write(fd, data->via.bin.ptr, data->via.bin.size) == (ssize_t)data->via.bin.size;
        at += data->via.bin.size;
        last = end->via.boolean;
        msgpack_unpacked_destroy(&result);
        if (!written) {
            fprintf(stderr, "sbctl: cannot write %s: %s.\n", tmp, strerror(errno));
            return SBCTL_REFUSED;
        }
    }
    crypto_generichash_final(&st, hash, SB_BACKUP_HASH_BYTES);
    if (at != bytes) {
        fprintf(stderr, "sbctl: the backup ended after %llu of its %llu bytes.\n",
                (unsigned long long)at, (unsigned long long)bytes);
        return SBCTL_REFUSED;
    }
    return SBCTL_OK;
}

int sbctl_backup(sb_client_t *client, const char *file, bool force, bool json)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", file) >= (int)sizeof(tmp)) {
        fprintf(stderr, "sbctl: the backup file's path is too long.\n");
        return SBCTL_USAGE;
    }
    struct stat st;
    if (!force && stat(file, &st) == 0) {
        fprintf(stderr, "sbctl: %s exists; choose another name, or add --force to replace it.\n",
                file);
        return SBCTL_USAGE;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "sbctl: libsodium cannot start.\n");
        return SBCTL_USAGE;
    }
    msgpack_unpacked started;
    int rc = sb_client_call(client, "server.backup", NULL, 0, &started);
    if (rc != 0) {
        msgpack_unpacked_destroy(&started);
        return refused(client, rc);
    }
    const msgpack_object *id = get(&started.data, "backup"), *bytes = get(&started.data, "bytes");
    const msgpack_object *seq = get(&started.data, "seq"), *sum = get(&started.data, "checksum");
    char id_text[64] = "", sum_text[2 * SB_BACKUP_HASH_BYTES + 1] = "";
    if (id == NULL || sb_obj_copy_str(id, id_text, sizeof(id_text)) != 0 || sum == NULL ||
        sb_obj_copy_str(sum, sum_text, sizeof(sum_text)) != 0 || bytes == NULL ||
        bytes->type != MSGPACK_OBJECT_POSITIVE_INTEGER || seq == NULL ||
        seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        msgpack_unpacked_destroy(&started);
        fprintf(stderr, "sbctl: the server's answer to server.backup is not one this sbctl "
                        "reads.\n");
        return SBCTL_REFUSED;
    }
    sb_backup_trailer_t trailer = {.seq = seq->via.u64, .image_bytes = bytes->via.u64};
    msgpack_unpacked_destroy(&started);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "sbctl: cannot write %s: %s.\n", tmp, strerror(errno));
        return SBCTL_USAGE;
    }
    int status = pull(client, id_text, trailer.image_bytes, fd, trailer.hash, tmp);
    char got[2 * SB_BACKUP_HASH_BYTES + 1];
    sb_backup_hash_hex(trailer.hash, got);
    if (status == SBCTL_OK && strcmp(got, sum_text) != 0) {
        fprintf(stderr, "sbctl: the backup's bytes do not match the server's checksum: not "
                        "kept; run sbctl backup again.\n");
        status = SBCTL_REFUSED;
    }
    uint8_t raw[SB_BACKUP_TRAILER_BYTES];
    sb_backup_trailer_pack(&trailer, raw);
    if (status == SBCTL_OK && (write(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw) || fsync(fd))) {
        fprintf(stderr, "sbctl: cannot write %s: %s.\n", tmp, strerror(errno));
        status = SBCTL_REFUSED;
    }
    close(fd);
    if (status == SBCTL_OK && rename(tmp, file) != 0) {
        fprintf(stderr, "sbctl: cannot rename %s to %s: %s.\n", tmp, file, strerror(errno));
        status = SBCTL_REFUSED;
    }
    if (status != SBCTL_OK) {
        unlink(tmp);
        return status;
    }
    sync_parent(file);
    uint64_t total = trailer.image_bytes + SB_BACKUP_TRAILER_BYTES;
    if (json)
        printf("{\"file\": \"%s\", \"bytes\": %llu, \"seq\": %llu, \"checksum\": \"blake2b:%s\"}\n",
               file, (unsigned long long)total, (unsigned long long)trailer.seq, got);
    else
        printf("backup %s: %llu bytes, every write up to change %llu, checksum blake2b:%s\n", file,
               (unsigned long long)total, (unsigned long long)trailer.seq, got);
    return SBCTL_OK;
}
