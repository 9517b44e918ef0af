#pragma once
/*
 * Backups (docs/operating.md, "Backup and restore"): a compacted copy of the
 * store's LMDB file, and the file `sbctl backup` writes, which is that copy
 * (the image) followed by a fixed 64-byte trailer:
 *
 *   offset  0  "SBBACKUP"                  magic
 *           8  u32 big-endian              format (SB_BACKUP_FORMAT)
 *          12  u32                         0 (reserved)
 *          16  u64 big-endian              the change-log sequence the copy is
 *                                          consistent at (meta changes_last)
 *          24  u64 big-endian              the image's size in bytes
 *          32  32 bytes                    BLAKE2b-256 of the image
 *
 * A trailer, not a header, so that the image streams into the file as it
 * arrives and the checksum is known only at its end.
 */

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

#define SB_BACKUP_FORMAT 1
#define SB_BACKUP_TRAILER_BYTES 64
#define SB_BACKUP_HASH_BYTES 32

typedef struct sb_backup_trailer {
    uint64_t seq;
    uint64_t image_bytes;
    uint8_t hash[SB_BACKUP_HASH_BYTES];
} sb_backup_trailer_t;

/** Writes `t` as the 64 bytes of the format above. */
void sb_backup_trailer_pack(const sb_backup_trailer_t *t, uint8_t out[SB_BACKUP_TRAILER_BYTES]);
/** Reads a trailer: 0, or -EBADMSG when the magic or format is not this build's. */
int sb_backup_trailer_parse(const uint8_t in[SB_BACKUP_TRAILER_BYTES], sb_backup_trailer_t *t);

/** A hash as lower-case hex (2 * SB_BACKUP_HASH_BYTES characters and a NUL). */
void sb_backup_hash_hex(const uint8_t hash[SB_BACKUP_HASH_BYTES],
                        char out[2 * SB_BACKUP_HASH_BYTES + 1]);

/**
 * Writes a compacted copy of the store's environment to `fd` (from its
 * current offset), in a read snapshot of its own: writers go on meanwhile.
 * Any thread. Returns 0, or -EIO/-ENOSPC/-ENOMEM with a sentence in err.
 */
int sb_store_backup_copy(sb_store_t *store, int fd, sb_err_t *err);

/**
 * Reads the change-log sequence (meta changes_last) of the LMDB image in
 * file `path`, opened read-only without a lock file. Returns 0 (*seq 0 when
 * the store never logged a write), or SB_E_CORRUPT / -EIO with a sentence.
 */
int sb_backup_image_seq(const char *path, uint64_t *seq, sb_err_t *err);
