/*
 * sbstore restore BACKUP DIR [--force]: puts a backup made by `sbctl backup`
 * in place as DIR's store, or changes nothing.
 *
 * Order, so that DIR never holds a half-restored store:
 *   1. the file's trailer (backup.h) must be whole: magic, size;
 *   2. DIR must be empty (but for a failed restore's leftovers) unless
 *      --force, and in use by nobody: its writer lock (the server's flock)
 *      is taken and held to the end, and LMDB's reader table must be empty
 *      (a process of libswitchboard-index reading it);
 *   3. the image is copied to DIR/.restore/data.mdb, hashed on the way and
 *      compared with the trailer's checksum, and fsynced;
 *   4. the copy is verified as a store (store/verify.c), and its sequence
 *      must be the trailer's;
 *   5. only then is it renamed over DIR/data.mdb, the old reader table
 *      (lock.mdb) removed, and DIR fsynced.
 * A failure before 5 leaves DIR's store as it was.
 */
#include <dirent.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "paths.h"
#include "sbstore.h"

#define TMP_DIR ".restore"
#define LOCK_FILE "switchboard.lock" /* the store's writer lock (store.c) */

typedef struct restore {
    const char *backup, *dir;
    bool force;
    int fd;      /* the backup file */
    int lock_fd; /* DIR's writer lock, held to the end */
    sb_backup_trailer_t trailer;
    char tmp[4096], tmp_file[4200], final[4200];
} restore_t;

__attribute__((format(printf, 1, 2))) static int refuse(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sbstore: ", stderr);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see core/error.c
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int read_trailer(restore_t *r)
{
    struct stat st;
    r->fd = open(r->backup, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0 || fstat(r->fd, &st) != 0)
        return refuse("cannot read %s: %s.", r->backup, strerror(errno));
    uint8_t raw[SB_BACKUP_TRAILER_BYTES];
    if (st.st_size < SB_BACKUP_TRAILER_BYTES ||
        pread(r->fd, raw, sizeof(raw), st.st_size - SB_BACKUP_TRAILER_BYTES) != sizeof(raw) ||
        sb_backup_trailer_parse(raw, &r->trailer) != 0)
        return refuse("%s is not a Switchboard backup, or it was cut short: it does not end with "
                      "the trailer sbctl backup writes. Nothing was restored; use another backup.",
                      r->backup);
    if (r->trailer.image_bytes != (uint64_t)st.st_size - SB_BACKUP_TRAILER_BYTES)
        return refuse("%s is damaged: its trailer says %llu bytes of store, the file holds %llu. "
                      "Nothing was restored; use another backup.",
                      r->backup, (unsigned long long)r->trailer.image_bytes,
                      (unsigned long long)(st.st_size - SB_BACKUP_TRAILER_BYTES));
    return 0;
}

/* Entries of DIR that hold data: all but a failed restore's leftovers. */
static int count_entries(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -errno;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strcmp(e->d_name, TMP_DIR) != 0 && strcmp(e->d_name, LOCK_FILE) != 0)
            (*n)++;
    closedir(d);
    return 0;
}

/* mdb_reader_list's lines: a header, then one a reader. */
static int count_line(const char *msg, void *ctx)
{
    if (strncmp(msg, "(no active readers)", 19) != 0)
        (*(int *)ctx)++;
    return 0;
}

/* Processes reading DIR's store through LMDB (0 when it has none). */
static int readers_of(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (access(path, F_OK) != 0)
        return 0;
    MDB_env *env = NULL;
    int lines = 0, dead = 0;
    if (mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 24) == 0 &&
        mdb_env_open(env, dir, MDB_RDONLY, 0600) == 0) {
        mdb_reader_check(env, &dead); /* slots of dead processes do not count */
        mdb_reader_list(env, count_line, &lines);
    }
    mdb_env_close(env);
    return lines > 0 ? lines - 1 : 0;
}

static int claim_dir(restore_t *r)
{
    struct stat st;
    if (stat(r->dir, &st) != 0) {
        if (errno != ENOENT || mkdir(r->dir, 0700) != 0)
            return refuse("cannot make %s: %s.", r->dir, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return refuse("%s is not a directory.", r->dir);
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", r->dir, LOCK_FILE);
    r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (r->lock_fd < 0)
        return refuse("cannot open %s: %s.", path, strerror(errno));
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t got = pread(r->lock_fd, pid, sizeof(pid) - 1, 0);
        pid[got > 0 ? got : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        return refuse("%s is in use by a running server (pid %s): stop it first. Nothing was "
                      "restored.",
                      r->dir, pid[0] ? pid : "unknown");
    }
    int readers = readers_of(r->dir);
    if (readers > 0)
        return refuse("%s is being read by %d other process(es) (libswitchboard-index): stop "
                      "them first. Nothing was restored.",
                      r->dir, readers);
    size_t n;
    if (count_entries(r->dir, &n) != 0)
        return refuse("cannot read %s: %s.", r->dir, strerror(errno));
    if (n > 0 && !r->force)
        return refuse("%s is not empty (%zu entries): restore into an empty directory, or add "
                      "--force to replace the store in it. Nothing was restored.",
                      r->dir, n);
    return 0;
}

/* Removes DIR/.restore and what a store opened there left in it. */
static void remove_tmp(restore_t *r)
{
    static const char *const names[] = {"data.mdb", "lock.mdb", LOCK_FILE};
    char path[4300];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", r->tmp, names[i]);
        unlink(path);
    }
    rmdir(r->tmp);
}

static int copy_image(restore_t *r)
{
    remove_tmp(r); /* a failed restore's */
    if (mkdir(r->tmp, 0700) != 0)
        return refuse("cannot make %s: %s.", r->tmp, strerror(errno));
    int out = open(r->tmp_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0)
        return refuse("cannot write %s: %s.", r->tmp_file, strerror(errno));
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, SB_BACKUP_HASH_BYTES);
    static uint8_t buf[1 << 20];
    int status = 0;
    for (uint64_t at = 0; status == 0 && at < r->trailer.image_bytes;) {
        uint64_t left = r->trailer.image_bytes - at;
        ssize_t got = pread(r->fd, buf, left < sizeof(buf) ? left : sizeof(buf), (off_t)at);
        if (got <= 0) {
            status = refuse("cannot read %s: %s.", r->backup, got < 0 ? strerror(errno) : "short");
            break;
        }
        crypto_generichash_update(&st, buf, (size_t)got);
        if (write(out, buf, (size_t)got) != got)
            status = refuse("cannot write %s: %s.", r->tmp_file, strerror(errno));
        at += (uint64_t)got;
    }
    uint8_t hash[SB_BACKUP_HASH_BYTES];
    crypto_generichash_final(&st, hash, sizeof(hash));
    if (status == 0 && fsync(out) != 0)
        status = refuse("cannot write %s: %s.", r->tmp_file, strerror(errno));
    close(out);
    if (status == 0 && sodium_memcmp(hash, r->trailer.hash, sizeof(hash)) != 0)
        status = refuse("%s is damaged: its checksum does not match (its bytes changed after "
                        "sbctl backup wrote it). Nothing was restored; use another backup.",
                        r->backup);
    return status;
}

static int put_in_place(restore_t *r)
{
    char old_lock[4200];
    snprintf(old_lock, sizeof(old_lock), "%s/lock.mdb", r->dir);
    if (rename(r->tmp_file, r->final) != 0)
        return refuse("cannot rename %s to %s: %s.", r->tmp_file, r->final, strerror(errno));
    /* The old store's reader table: LMDB makes a new one at the next open. */
    unlink(old_lock);
    int dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the rename is durable */
        close(dfd);
    }
    return 0;
}

int sbstore_restore(int argc, char **argv)
{
    restore_t r = {.fd = -1, .lock_fd = -1};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            r.force = true;
        else if (r.backup == NULL)
            r.backup = argv[i];
        else if (r.dir == NULL)
            r.dir = argv[i];
        else
            r.backup = NULL; /* too many: usage */
    }
    if (r.backup == NULL || r.dir == NULL) {
        fprintf(stderr, "usage: sbstore restore BACKUP DATA_DIR [--force]\n");
        return 2;
    }
    if (sodium_init() < 0)
        return refuse("libsodium cannot start.");
    if (snprintf(r.tmp, sizeof(r.tmp), "%s/%s", r.dir, TMP_DIR) >= (int)sizeof(r.tmp))
        return refuse("the data directory's path is too long.");
    snprintf(r.tmp_file, sizeof(r.tmp_file), "%s/data.mdb", r.tmp);
    snprintf(r.final, sizeof(r.final), "%s/data.mdb", r.dir);
    int status = read_trailer(&r);
    if (status == 0)
        status = claim_dir(&r);
    if (status == 0)
        status = copy_image(&r);
    bool copied = status == 0;
    uint64_t seq = 0;
    if (copied) {
        printf("checking the backup's store (sbstore verify):\n");
        int v = sbstore_verify_dir(r.tmp, true, &seq);
        if (v != 0)
            status =
                refuse("the backup %s; nothing was restored. Use another backup.",
                       v == 1 ? "holds the problems listed above" : "cannot be opened as a store");
        else if (seq != r.trailer.seq)
            status = refuse("%s is damaged: its store is at change %llu, its trailer says %llu. "
                            "Nothing was restored; use another backup.",
                            r.backup, (unsigned long long)seq, (unsigned long long)r.trailer.seq);
    }
    if (status == 0)
        status = put_in_place(&r);
    if (r.tmp[0] != '\0' && r.lock_fd >= 0)
        remove_tmp(&r);
    if (status == 0) {
        char token[4200];
        snprintf(token, sizeof(token), "%s/%s", r.dir, SB_ADMIN_TOKEN_NAME);
        printf("restored %s into %s: %llu bytes, every write up to change %llu.\n", r.backup, r.dir,
               (unsigned long long)r.trailer.image_bytes, (unsigned long long)seq);
        printf("start the server on it: switchboardd --data-dir %s\n", r.dir);
        if (access(token, F_OK) != 0)
            printf("%s has no %s: the server makes a new admin token at start (the "
                   "backup's org tokens stay valid).\n",
                   r.dir, SB_ADMIN_TOKEN_NAME);
    }
    if (r.fd >= 0)
        close(r.fd);
    if (r.lock_fd >= 0)
        close(r.lock_fd);
    return status;
}
