/*
 * A data file checked before it is mapped (datafile.h). LMDB 0.9 trusts its
 * file: a data.mdb shorter than its meta page says is mapped anyway, and the
 * first read past its end is a SIGBUS; a data.mdb of 0 bytes is a new, empty
 * store. Both are refused here, with a sentence an operator can act on.
 *
 * LMDB's meta page (lmdb's mdb.c, MDB_meta after a 16-byte page header, on
 * 64-bit builds): magic at 16, version at 20, the fixed map address at 24
 * (always 0: Switchboard never asks for MDB_FIXEDMAP, and value.c trusts
 * the map address LMDB reports from it), the free database's md_pad
 * (the page size) at 40, the roots of the free and main databases at 80 and
 * 128, the last page used at 136, the transaction id at 144.
 */
#include "datafile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

_Static_assert(sizeof(size_t) == 8, "the meta page offsets are those of 64-bit LMDB");

#define META_MAGIC 0xBEEFC0DEu
#define META_VERSION 1u
#define META_AT_MAGIC 16
#define META_AT_VERSION 20
#define META_AT_ADDRESS 24
#define META_AT_PSIZE 40
#define META_AT_FREE_ROOT 80
#define META_AT_MAIN_ROOT 128
#define META_AT_LAST_PG 136
#define META_AT_TXNID 144
#define META_BYTES 152
#define NO_PAGE UINT64_MAX /* P_INVALID: an empty database's root */

#define RESTORE_HOW                                                                                \
    "restore the data directory from a backup (sbstore restore BACKUP DIR, with a backup made by " \
    "sbctl backup; see docs/operating.md, \"Damaged data\")"

typedef struct meta {
    uint32_t psize;
    uint64_t last_pg, txnid;
} meta_t;

static uint32_t u32_at(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t u64_at(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Reads the meta page at `offset`; true when it is one LMDB can use. */
static bool read_meta(int fd, off_t offset, meta_t *m)
{
    unsigned char b[META_BYTES];
    if (pread(fd, b, sizeof(b), offset) != (ssize_t)sizeof(b))
        return false;
    m->psize = u32_at(b + META_AT_PSIZE);
    m->last_pg = u64_at(b + META_AT_LAST_PG);
    m->txnid = u64_at(b + META_AT_TXNID);
    uint64_t roots[2] = {u64_at(b + META_AT_FREE_ROOT), u64_at(b + META_AT_MAIN_ROOT)};
    if (u32_at(b + META_AT_MAGIC) != META_MAGIC || u32_at(b + META_AT_VERSION) != META_VERSION ||
        u64_at(b + META_AT_ADDRESS) != 0)
        return false;
    if (m->psize < 512 || m->psize > 65536 || (m->psize & (m->psize - 1)) != 0)
        return false;
    if (m->last_pg < 1 || m->last_pg > UINT64_MAX / 65536 - 1) /* (last + 1) * psize fits */
        return false;
    for (size_t i = 0; i < 2; i++)
        if (roots[i] != NO_PAGE && (roots[i] < 2 || roots[i] > m->last_pg))
            return false;
    return true;
}

static bool marker_there(const char *dir)
{
    char path[4200];
    struct stat st;
    return snprintf(path, sizeof(path), "%s/%s", dir, SB_MARKER_FILE) < (int)sizeof(path) &&
           stat(path, &st) == 0;
}

int sb__data_file_check(const char *dir, bool *fresh, char *why, size_t cap)
{
    *fresh = false;
    char scratch[1];
    if (why == NULL || cap == 0) {
        why = scratch;
        cap = sizeof(scratch);
    }
    char path[4200];
    if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >= (int)sizeof(path)) {
        snprintf(why, cap, "The data directory path is too long.");
        return -EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 && errno != ENOENT) {
        int e = errno;
        snprintf(why, cap, "Cannot read the data file %s: %s.", path, strerror(e));
        return e == EACCES || e == EPERM ? -EACCES : -EIO;
    }
    if (fd < 0 || (fstat(fd, &st) == 0 && st.st_size == 0)) {
        bool missing = fd < 0;
        if (fd >= 0)
            close(fd);
        if (!marker_there(dir)) {
            *fresh = true;
            return 0;
        }
        snprintf(why, cap,
                 "The data file %s is %s, yet %s held a Switchboard store (its %s is there): "
                 "the data is lost, not new. Stop here and " RESTORE_HOW
                 "; an empty store is not started in its place.",
                 path, missing ? "missing" : "empty (0 bytes)", dir, SB_MARKER_FILE);
        return SB_E_CORRUPT;
    }
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        snprintf(why, cap, "Cannot read the data file %s: %s.", path, strerror(errno));
        close(fd);
        return -EIO;
    }
    uint64_t size = (uint64_t)st.st_size;
    /* Meta page 0 says the page size; when it is damaged, meta page 1 is
     * looked for where the usual page sizes put it. */
    meta_t m[2];
    bool ok0 = read_meta(fd, 0, &m[0]);
    bool ok1 = false;
    uint32_t sizes[] = {ok0 ? m[0].psize : 4096, 4096, 8192, 16384, 65536};
    for (size_t i = 0; !ok1 && i < sizeof(sizes) / sizeof(sizes[0]); i++)
        ok1 = read_meta(fd, (off_t)sizes[i], &m[1]) && m[1].psize == sizes[i];
    close(fd);
    if (!ok0 || !ok1 || m[0].psize != m[1].psize) {
        snprintf(why, cap,
                 "The data file %s is damaged: LMDB's meta page %s is unreadable (%llu bytes "
                 "in the file). Stop here and " RESTORE_HOW ".",
                 path,
                 !ok0 && !ok1 ? "0 and 1"
                 : !ok0       ? "0"
                              : "1",
                 (unsigned long long)size);
        return SB_E_CORRUPT;
    }
    /* Every page either meta names must be in the file: LMDB maps the
     * file's size and reads any page up to the last, and a page past the
     * end is a SIGBUS, not an error. */
    uint64_t last = m[0].last_pg > m[1].last_pg ? m[0].last_pg : m[1].last_pg;
    uint64_t need = (last + 1) * m[0].psize;
    if (size < need) {
        snprintf(why, cap,
                 "The data file %s is truncated: it holds %llu bytes, and its last page (%llu) "
                 "needs %llu. Stop here and " RESTORE_HOW ".",
                 path, (unsigned long long)size, (unsigned long long)last,
                 (unsigned long long)need);
        rc = SB_E_CORRUPT;
    }
    return rc;
}

int sb__data_file_mark(const char *dir)
{
    char path[4200];
    if (snprintf(path, sizeof(path), "%s/%s", dir, SB_MARKER_FILE) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    unsigned char id[16];
    if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
        return -EIO;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? 0 : -errno;
    char text[80];
    int len = snprintf(text, sizeof(text), "switchboard store ");
    for (size_t i = 0; i < sizeof(id); i++)
        len += snprintf(text + len, sizeof(text) - (size_t)len, "%02x", id[i]);
    text[len++] = '\n';
    int rc = write(fd, text, (size_t)len) == len && fsync(fd) == 0 ? 0 : -EIO;
    close(fd);
    return rc;
}
