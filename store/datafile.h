#pragma once
/*
 * The data file's checks before LMDB maps it (datafile.c): shared by the
 * store (sb_store_open, so switchboardd and sbstore) and the read library
 * (sb_index_open), which links it alone, as it needs libc and nothing else.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The marker a store writes when it makes its data file: "new" and "lost"
 * differ by it. */
#define SB_MARKER_FILE "switchboard.id"

/**
 * Checks `dir`'s data.mdb before it is mapped, so that a damaged file is
 * refused with a sentence instead of a SIGBUS or an empty store:
 *   - missing or 0 bytes while `dir` holds the marker: lost;
 *   - smaller than LMDB's newest meta page says (its last page): truncated;
 *   - either of LMDB's two meta pages unreadable (magic, version, page
 *     size, last page, roots): damaged.
 * *fresh is true when neither data.mdb (or an empty one) nor the marker is
 * there: a new store. Returns 0, or SB_E_CORRUPT with the sentence in why
 * (naming the file and saying how to restore a backup), or -EIO / -EACCES
 * when the file cannot be read.
 */
int sb__data_file_check(const char *dir, bool *fresh, char *why, size_t cap);

/** Writes the marker in `dir` unless it is there. Returns 0 or a negative errno. */
int sb__data_file_mark(const char *dir);

/**
 * Walks every page that snapshot `txnid` of `dir`'s data.mdb reaches (0:
 * the newest commit), checking each page's structure, the order of its
 * keys and each database's (and each key's duplicate) counts, before LMDB
 * reads them (pagewalk.c). A caller other than the only writer holds a read
 * transaction of that snapshot meanwhile, so that its pages stay as they
 * are. Returns 0, SB_E_CORRUPT with the sentence in why (the file, the page,
 * the database, and how to restore), or -EIO / -ENOMEM.
 */
int sb__data_file_walk(const char *dir, uint64_t txnid, char *why, size_t cap);
