#include "token.h"

#include <ctype.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "paths.h"

int sb_token_init(void)
{
    return sodium_init() < 0 ? -EIO : 0;
}

void sb_token_hash(const char *text, uint8_t hash[SB_TOKEN_HASH_BYTES])
{
    while (isspace((unsigned char)*text))
        text++;
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    crypto_generichash(hash, SB_TOKEN_HASH_BYTES, (const unsigned char *)text, len, NULL, 0);
}

void sb_token_generate(char text[SB_TOKEN_TEXT_MAX + 1], uint8_t hash[SB_TOKEN_HASH_BYTES])
{
    unsigned char secret[32];
    randombytes_buf(secret, sizeof(secret));
    snprintf(text, SB_TOKEN_TEXT_MAX + 1, "%s", SB_TOKEN_PREFIX);
    sodium_bin2base64(text + strlen(SB_TOKEN_PREFIX),
                      SB_TOKEN_TEXT_MAX + 1 - strlen(SB_TOKEN_PREFIX), secret, sizeof(secret),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret, sizeof(secret));
    sb_token_hash(text, hash);
}

void sb_token_new_id(char id[SB_TOKEN_ID_MAX + 1])
{
    unsigned char raw[6];
    char hex[2 * sizeof(raw) + 1];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    snprintf(id, SB_TOKEN_ID_MAX + 1, "tk_%s", hex);
}

static const char *const role_names[] = {"none", "read_only", "org_admin", "admin"};

const char *sb_role_name(sb_role_t role)
{
    return role_names[role];
}

int sb_role_parse(const char *name, sb_role_t *role)
{
    for (int i = SB_ROLE_READ_ONLY; i <= SB_ROLE_ADMIN; i++) {
        if (name != NULL && strcmp(name, role_names[i]) == 0) {
            *role = (sb_role_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* Writes a new token into `path`, which must not exist yet. */
static int write_admin_file(const char *path, char text[SB_TOKEN_TEXT_MAX + 1],
                            uint8_t hash[SB_TOKEN_HASH_BYTES], sb_err_t *err)
{
    sb_token_generate(text, hash);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return sb_err_set(err, -EIO, "Cannot create %s: %s.", path, strerror(errno));
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        unlink(path);
        return sb_err_set(err, -EIO, "Cannot write %s.", path);
    }
    return 0;
}

int sb_token_ensure_admin(sb_store_t *store, const char *data_dir, int *created, sb_err_t *err)
{
    *created = 0;
    char path[4096];
    if (sb_path_join(path, sizeof(path), data_dir, SB_ADMIN_TOKEN_NAME) != 0)
        return sb_err_set(err, -EINVAL, "The data directory path is too long.");
    char text[SB_TOKEN_TEXT_MAX + 2] = "";
    uint8_t hash[SB_TOKEN_HASH_BYTES];
    FILE *f = fopen(path, "re");
    if (f != NULL) {
        bool read = fgets(text, sizeof(text), f) != NULL;
        fclose(f);
        if (!read || strncmp(text, SB_TOKEN_PREFIX, strlen(SB_TOKEN_PREFIX)) != 0)
            return sb_err_set(err, -EINVAL,
                              "%s does not hold a token; delete it and restart to make a new one.",
                              path);
        sb_token_hash(text, hash);
    } else if (errno == ENOENT) {
        int rc = write_admin_file(path, text, hash, err);
        if (rc != 0)
            return rc;
        *created = 1;
    } else {
        return sb_err_set(err, -EACCES, "Cannot read %s: %s.", path, strerror(errno));
    }
    sodium_memzero(text, sizeof(text));
    sb_token_record_t rec = {.role = SB_ROLE_ADMIN, .created_ms = (int64_t)time(NULL) * 1000};
    snprintf(rec.id, sizeof(rec.id), "admin");
    snprintf(rec.label, sizeof(rec.label), "admin.token in the data directory");
    sb_token_record_t existing;
    if (sb_store_token_find(store, hash, &existing, NULL) == 0 && existing.role == SB_ROLE_ADMIN)
        return 0;
    int rc = sb_store_token_revoke_role(store, SB_ROLE_ADMIN, NULL, err);
    if (rc == 0)
        rc = sb_store_token_put(store, hash, &rec, err);
    return rc;
}
