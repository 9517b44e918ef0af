/*
 * A walk of every page a snapshot of data.mdb reaches, before LMDB is let
 * loose on it (datafile.h). LMDB 0.9 trusts its pages: a damaged node
 * offset or key size in a page sends a cursor through memory that is not
 * the page, and the process crashes (test_store_damage found it for about
 * one random bit flip in two thousand). The checksums of the values
 * (value.c) cannot help there: LMDB crashes before a value is returned. So
 * the structure is checked here, once, where a damaged page is a sentence:
 *
 *   - each page is where its header says (mp_pgno), of the kind its parent
 *     expects, inside the file, reached once;
 *   - each node, key and value lies inside its page, branch children and
 *     overflow pages inside the file;
 *   - the keys of each page (and the duplicates of each key) are in order;
 *   - each database's entry count (and each key's duplicate count, which
 *     cc_members' member counts are) equals the entries the walk found.
 *
 * It reads the file through a read-only mapping of its own, never past the
 * last page the meta names (datafile.c checked the file holds it).
 *
 * The page and node layout is LMDB 0.9's (mdb.c), on 64-bit builds:
 *   page:  mp_pgno u64 @0, mp_pad u16 @8, mp_flags u16 @10,
 *          mp_lower u16 @12, mp_upper u16 @14 (overflow: mp_pages u32 @12),
 *          then mp_ptrs u16[] @16: node offsets from the page's start
 *   node:  mn_lo u16 @0, mn_hi u16 @2, mn_flags u16 @4, mn_ksize u16 @6,
 *          key @8, then its value (leaf) ; a branch node's child page is
 *          mn_lo | mn_hi << 16 | mn_flags << 32
 *   MDB_db: md_pad u32 @0, md_flags u16 @4, md_depth u16 @6, then u64s:
 *          branch @8, leaf @16, overflow @24 pages, entries @32, root @40
 */
#include "datafile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#define P_BRANCH 0x01
#define P_LEAF 0x02
#define P_OVERFLOW 0x04
#define P_LEAF2 0x20
#define P_SUBP 0x40
#define F_BIGDATA 0x01
#define F_SUBDATA 0x02
#define F_DUPDATA 0x04
#define DB_DUPSORT 0x04 /* MDB_DUPSORT, in md_flags */
#define DB_REVERSEKEY 0x02
#define DB_INTEGERKEY 0x08 /* MDB_INTEGERKEY: the free pages' database, keyed by txnid */
#define DB_DUPFIXED 0x10
#define DB_INTEGERDUP 0x20
#define DB_REVERSEDUP 0x40
#define HDR 16
#define NODE 8
#define DB_BYTES 48
#define NO_PAGE UINT64_MAX
#define MAX_DEPTH 32

typedef struct walk {
    const unsigned char *map;
    size_t psize;
    uint64_t last; /* the last page of the snapshot */
    uint8_t *seen; /* a bit per page */
    char *why;
    size_t cap;
    const char *path;
    char db[64]; /* the database being walked, for the sentence */
} walk_t;

static uint16_t u16_at(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

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

__attribute__((format(printf, 3, 4))) static int damaged(walk_t *w, uint64_t pgno, const char *fmt,
                                                         ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see core/error.c
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(w->why, w->cap,
             "The data file %s is damaged: page %llu (database %s) %s. Stop here and restore "
             "the data directory from a backup (sbstore restore BACKUP DIR, with a backup made "
             "by sbctl backup; see docs/operating.md, \"Damaged data\").",
             w->path, (unsigned long long)pgno, w->db[0] ? w->db : "(main)", what);
    return SB_E_CORRUPT;
}

/* LMDB's order: native integers for MDB_INTEGERKEY, else bytes, then length. */
static int key_cmp(unsigned db_flags, const unsigned char *a, size_t alen, const unsigned char *b,
                   size_t blen)
{
    if ((db_flags & DB_INTEGERKEY) && alen == 8 && blen == 8) {
        uint64_t x = u64_at(a), y = u64_at(b);
        return (x > y) - (x < y);
    }
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* Takes page `pgno` (and `count` pages from it) as reached: in the file,
 * never reached before. */
static int take(walk_t *w, uint64_t pgno, uint64_t count, uint64_t from)
{
    if (pgno < 2 || pgno > w->last || count == 0 || count > w->last - pgno + 1)
        return damaged(w, from, "points at page %llu (x%llu), outside the file's %llu pages",
                       (unsigned long long)pgno, (unsigned long long)count,
                       (unsigned long long)w->last + 1);
    for (uint64_t p = pgno; p < pgno + count; p++) {
        if (w->seen[p / 8] & (1u << (p % 8)))
            return damaged(w, from, "reaches page %llu a second time", (unsigned long long)p);
        w->seen[p / 8] |= (uint8_t)(1u << (p % 8));
    }
    return 0;
}

/* The keys a page may hold, from its parents' separators: lo <= key < hi
 * (NULL: no bound). A separator damaged so that a search would turn the
 * wrong way at it leaves some key outside its page's range. */
typedef struct range {
    const unsigned char *lo, *hi;
    size_t lo_len, hi_len;
} range_t;

static const range_t everything = {NULL, NULL, 0, 0};

static bool in_range(unsigned db_flags, const range_t *r, const unsigned char *first,
                     size_t first_len, const unsigned char *last, size_t last_len);

static int walk_tree(walk_t *w, uint64_t root, unsigned db_flags, uint32_t fixed, uint64_t *entries,
                     int depth);

/* An overflow value: `size` bytes from page pgno on. */
static int check_overflow(walk_t *w, uint64_t pgno, uint64_t size, uint64_t from)
{
    if (pgno < 2 || pgno > w->last)
        return damaged(w, from, "names overflow page %llu, outside the file",
                       (unsigned long long)pgno);
    const unsigned char *p = w->map + pgno * w->psize;
    uint32_t pages = u32_at(p + 12);
    if (u64_at(p) != pgno || !(u16_at(p + 10) & P_OVERFLOW) || pages == 0 ||
        size > (uint64_t)pages * w->psize - HDR)
        return damaged(w, pgno, "is not the overflow page its value needs");
    return take(w, pgno, pages, from);
}

/*
 * The nodes of one leaf page (or sub-page) at `p`, `len` bytes, in order:
 * each inside, keys ascending. Counts the entries into *entries, walking
 * each key's duplicates (a sub-page or a sub-database) when the database
 * has them. `fixed`: the key size of a P_LEAF2 page.
 */
static int check_leaf(walk_t *w, const unsigned char *p, size_t len, uint64_t pgno,
                      unsigned db_flags, uint32_t fixed, uint64_t *entries, int depth,
                      const range_t *range)
{
    uint16_t flags = u16_at(p + 10), lower = u16_at(p + 12), upper = u16_at(p + 14);
    if (lower < HDR || lower > upper || upper > len || (lower & 1))
        return damaged(w, pgno, "has a header that does not fit it");
    size_t n = (size_t)(lower - HDR) / 2;
    if (flags & P_LEAF2) {
        /* Fixed-size keys one after another, from the header on. */
        /* LMDB keeps upper at len - n * (fixed - 2): each key took `fixed`
         * bytes from the free space, its slot's 2 bytes included. */
        if (fixed < 2 || HDR + n * fixed > len || (size_t)upper + n * (fixed - 2) != len)
            return damaged(w, pgno, "holds a number of fixed-size keys that does not fit it");
        for (size_t i = 1; i < n; i++)
            if (memcmp(p + HDR + (i - 1) * fixed, p + HDR + i * fixed, fixed) >= 0)
                return damaged(w, pgno, "has keys out of order");
        if (n > 0 && !in_range(0, range, p + HDR, fixed, p + HDR + (n - 1) * fixed, fixed))
            return damaged(w, pgno, "holds keys its parent page does not lead to");
        *entries += n;
        return 0;
    }
    const unsigned char *prev = NULL;
    size_t prev_len = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        size_t at = u16_at(p + HDR + 2 * i);
        if (at < upper || at + NODE > len)
            return damaged(w, pgno, "has node %zu outside it", i);
        const unsigned char *node = p + at;
        uint16_t nflags = u16_at(node + 4), ksize = u16_at(node + 6);
        uint64_t dsize = u16_at(node) | (uint64_t)u16_at(node + 2) << 16;
        if (at + NODE + ksize > len)
            return damaged(w, pgno, "has key %zu running out of it", i);
        /* LMDB packs nodes from upper to the end, each of even size. */
        uint64_t in_page = NODE + ksize + ((nflags & F_BIGDATA) ? 8 : dsize);
        used += (size_t)((in_page + 1) & ~(uint64_t)1);
        const unsigned char *key = node + NODE;
        if (prev != NULL && key_cmp(db_flags, prev, prev_len, key, ksize) >= 0)
            return damaged(w, pgno, "has keys out of order");
        prev = key;
        prev_len = ksize;
        const unsigned char *data = key + ksize;
        size_t room = len - (at + NODE + ksize);
        if (nflags & F_BIGDATA) {
            if (room < 8)
                return damaged(w, pgno, "has value %zu running out of it", i);
            int rc = check_overflow(w, u64_at(data), dsize, pgno);
            if (rc != 0)
                return rc;
            (*entries)++;
            continue;
        }
        if (dsize > room)
            return damaged(w, pgno, "has value %zu running out of it", i);
        if ((nflags & F_DUPDATA) && !(db_flags & DB_DUPSORT))
            return damaged(w, pgno, "has duplicates in a database without them");
        if ((nflags & F_SUBDATA) && (nflags & F_DUPDATA)) {
            /* A key's duplicates in a database of their own. */
            if (dsize != DB_BYTES)
                return damaged(w, pgno, "has a duplicates record of the wrong size");
            uint64_t dups = 0;
            unsigned sub_flags = u16_at(data + 4);
            /* What LMDB makes of the database's own flags for a key's
             * duplicates (mdb_xcursor_init0): anything else changes how
             * they compare, and look-ups miss them. */
            unsigned want = ((db_flags & DB_DUPFIXED) ? DB_DUPFIXED : 0) |
                            ((db_flags & DB_INTEGERDUP) ? DB_INTEGERKEY : 0) |
                            ((db_flags & DB_REVERSEDUP) ? DB_REVERSEKEY : 0);
            if (sub_flags != want)
                return damaged(w, pgno, "has key %zu's duplicates with flags %#x, not %#x", i,
                               sub_flags, want);
            int rc = walk_tree(w, u64_at(data + 40), sub_flags, u32_at(data), &dups, depth + 1);
            if (rc != 0)
                return rc;
            if (dups != u64_at(data + 32))
                return damaged(w, pgno, "says key %zu has %llu duplicates; it has %llu", i,
                               (unsigned long long)u64_at(data + 32), (unsigned long long)dups);
            *entries += dups;
        } else if (nflags & F_DUPDATA) {
            /* A key's few duplicates in a sub-page, inside the value. */
            if (dsize < HDR || !(u16_at(data + 10) & P_SUBP))
                return damaged(w, pgno, "has a duplicates sub-page that is not one");
            uint64_t dups = 0;
            int rc = check_leaf(w, data, (size_t)dsize, pgno, 0, u16_at(data + 8), &dups, depth,
                                &everything);
            if (rc != 0)
                return rc;
            *entries += dups;
        } else if ((nflags & F_SUBDATA) && dsize != DB_BYTES) {
            return damaged(w, pgno, "has a database record of the wrong size");
        } else {
            (*entries)++;
        }
    }
    if (used != len - upper)
        return damaged(w, pgno, "holds %zu bytes of nodes where its header says %zu", used,
                       len - upper);
    if (n > 0) {
        const unsigned char *first = p + u16_at(p + HDR);
        if (!in_range(db_flags, range, first + NODE, u16_at(first + 6), prev, prev_len))
            return damaged(w, pgno, "holds keys its parent page does not lead to");
    }
    return 0;
}

/* The main database's leaves name the other databases: each is walked. */
static int walk_named(walk_t *w, const unsigned char *p, uint64_t pgno, int depth)
{
    size_t n = (size_t)(u16_at(p + 12) - HDR) / 2;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *node = p + u16_at(p + HDR + 2 * i);
        if (!(u16_at(node + 4) & F_SUBDATA))
            continue;
        uint16_t ksize = u16_at(node + 6);
        const unsigned char *db = node + NODE + ksize;
        char saved[sizeof(w->db)];
        memcpy(saved, w->db, sizeof(saved));
        snprintf(w->db, sizeof(w->db), "%.*s", (int)(ksize < 60 ? ksize : 60),
                 (const char *)node + NODE);
        uint64_t entries = 0;
        int rc = walk_tree(w, u64_at(db + 40), u16_at(db + 4), u32_at(db), &entries, depth + 1);
        if (rc == 0 && entries != u64_at(db + 32))
            rc = damaged(w, pgno, "says database %s has %llu entries; it has %llu", w->db,
                         (unsigned long long)u64_at(db + 32), (unsigned long long)entries);
        memcpy(w->db, saved, sizeof(saved));
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int walk_page(walk_t *w, uint64_t pgno, unsigned db_flags, uint32_t fixed, uint64_t *entries,
                     int depth, bool main_db, const range_t *range)
{
    if (depth > MAX_DEPTH)
        return damaged(w, pgno, "is deeper than any LMDB tree");
    int rc = take(w, pgno, 1, pgno);
    if (rc != 0)
        return rc;
    const unsigned char *p = w->map + pgno * w->psize;
    uint16_t flags = u16_at(p + 10);
    if (u64_at(p) != pgno)
        return damaged(w, pgno, "says it is page %llu", (unsigned long long)u64_at(p));
    if (flags & P_BRANCH) {
        uint16_t lower = u16_at(p + 12), upper = u16_at(p + 14);
        if (lower < HDR + 2 || lower > upper || upper > w->psize || (lower & 1))
            return damaged(w, pgno, "has a header that does not fit it");
        size_t n = (size_t)(lower - HDR) / 2;
        const unsigned char *prev = NULL;
        size_t prev_len = 0, used = 0;
        for (size_t i = 0; i < n; i++) {
            size_t at = u16_at(p + HDR + 2 * i);
            if (at < upper || at + NODE > w->psize)
                return damaged(w, pgno, "has node %zu outside it", i);
            const unsigned char *node = p + at;
            uint16_t ksize = u16_at(node + 6);
            if (at + NODE + ksize > w->psize)
                return damaged(w, pgno, "has key %zu running out of it", i);
            /* The first key of a branch is not used (LMDB leaves it empty). */
            if (i > 1 && key_cmp(db_flags, prev, prev_len, node + NODE, ksize) >= 0)
                return damaged(w, pgno, "has keys out of order");
            prev = node + NODE;
            prev_len = ksize;
            used += (size_t)((NODE + ksize + 1) & ~1u);
            uint64_t child =
                u16_at(node) | (uint64_t)u16_at(node + 2) << 16 | (uint64_t)u16_at(node + 4) << 32;
            /* Child i holds keys from separator i (the page's own lower
             * bound for the first) up to separator i + 1 (its upper bound
             * for the last). */
            range_t sub = *range;
            if (i > 0) {
                if (!in_range(db_flags, range, node + NODE, ksize, node + NODE, ksize))
                    return damaged(w, pgno, "has a separator outside what its parent leads to");
                sub.lo = node + NODE;
                sub.lo_len = ksize;
            }
            if (i + 1 < n) {
                size_t next = u16_at(p + HDR + 2 * (i + 1));
                if (next < upper || next + NODE > w->psize ||
                    next + NODE + u16_at(p + next + 6) > w->psize)
                    return damaged(w, pgno, "has node %zu outside it", i + 1);
                sub.hi = p + next + NODE;
                sub.hi_len = u16_at(p + next + 6);
            }
            rc = walk_page(w, child, db_flags, fixed, entries, depth + 1, main_db, &sub);
            if (rc != 0)
                return rc;
        }
        if (used != w->psize - upper)
            return damaged(w, pgno, "holds %zu bytes of nodes where its header says %zu", used,
                           w->psize - upper);
        return 0;
    }
    if (!(flags & P_LEAF))
        return damaged(w, pgno, "is neither a branch nor a leaf of its tree");
    rc = check_leaf(w, p, w->psize, pgno, db_flags, fixed, entries, depth, range);
    if (rc == 0 && main_db)
        rc = walk_named(w, p, pgno, depth);
    return rc;
}

static int walk_tree(walk_t *w, uint64_t root, unsigned db_flags, uint32_t fixed, uint64_t *entries,
                     int depth)
{
    if (root == NO_PAGE)
        return 0; /* an empty database */
    return walk_page(w, root, db_flags, fixed, entries, depth, false, &everything);
}

static bool in_range(unsigned db_flags, const range_t *r, const unsigned char *first,
                     size_t first_len, const unsigned char *last, size_t last_len)
{
    return (r->lo == NULL || key_cmp(db_flags, r->lo, r->lo_len, first, first_len) <= 0) &&
           (r->hi == NULL || key_cmp(db_flags, last, last_len, r->hi, r->hi_len) < 0);
}

int sb__data_file_walk(const char *dir, uint64_t txnid, char *why, size_t cap)
{
    char scratch[1];
    if (why == NULL || cap == 0) {
        why = scratch;
        cap = sizeof(scratch);
    }
    char path[4200];
    if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >= (int)sizeof(path))
        return -EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, cap, "Cannot read the data file %s: %s.", path, strerror(errno));
        return -EIO;
    }
    /* The snapshot: the meta page of `txnid` (0: the newer). datafile.c
     * checked both, and that the file holds every page they name. */
    unsigned char m[2][152];
    int rc = 0;
    uint32_t psize = 0;
    if (pread(fd, m[0], sizeof(m[0]), 0) != (ssize_t)sizeof(m[0]))
        rc = -EIO;
    if (rc == 0) {
        psize = u32_at(m[0] + 40);
        if (psize < 512 || psize > 65536 || (psize & (psize - 1)) != 0 ||
            pread(fd, m[1], sizeof(m[1]), psize) != (ssize_t)sizeof(m[1]))
            rc = -EIO;
    }
    int pick = 0;
    if (rc == 0) {
        pick = u64_at(m[1] + 144) > u64_at(m[0] + 144) ? 1 : 0;
        if (txnid != 0 && u64_at(m[pick] + 144) != txnid)
            pick = 1 - pick;
        if (txnid != 0 && u64_at(m[pick] + 144) != txnid)
            rc = -EAGAIN; /* a newer commit came: no meta page holds this snapshot any more */
    }
    struct stat st;
    uint64_t last = rc == 0 ? u64_at(m[pick] + 136) : 0;
    if (rc == 0 && (fstat(fd, &st) != 0 || (uint64_t)st.st_size < (last + 1) * psize))
        rc = -EIO;
    if (rc != 0) {
        close(fd);
        if (rc == -EAGAIN)
            return 0; /* not this snapshot's pages to judge: LMDB's reader keeps them */
        snprintf(why, cap,
                 "The data file %s is damaged: its meta pages cannot be read. Stop here and "
                 "restore the data directory from a backup (sbstore restore BACKUP DIR, with a "
                 "backup made by sbctl backup; see docs/operating.md, \"Damaged data\").",
                 path);
        return SB_E_CORRUPT;
    }
    size_t bytes = (size_t)((last + 1) * psize);
    void *map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(why, cap, "Cannot map the data file %s: %s.", path, strerror(errno));
        return -EIO;
    }
    walk_t w = {.map = map, .psize = psize, .last = last, .why = why, .cap = cap, .path = path};
    w.seen = calloc((size_t)(last / 8 + 1), 1);
    if (w.seen == NULL) {
        munmap(map, bytes);
        return -ENOMEM;
    }
    /* The free pages' database (what the writer reuses), then the main
     * database, whose leaves name every other. */
    static const struct {
        size_t at;
        const char *name;
    } roots[] = {{40, "(free pages)"}, {88, ""}};
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        const unsigned char *db = m[pick] + roots[i].at;
        snprintf(w.db, sizeof(w.db), "%s", roots[i].name);
        uint64_t root = u64_at(db + 40), entries = 0;
        if (root != NO_PAGE)
            rc = walk_page(&w, root, u16_at(db + 4), u32_at(db), &entries, 0, i == 1, &everything);
        if (rc == 0 && entries != u64_at(db + 32))
            rc = damaged(&w, root, "says it holds %llu entries; it holds %llu",
                         (unsigned long long)u64_at(db + 32), (unsigned long long)entries);
    }
    free(w.seen);
    munmap(map, bytes);
    return rc;
}
