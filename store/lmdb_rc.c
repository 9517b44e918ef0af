/*
 * LMDB's result codes in the store's terms (error.h): the one translation,
 * in a file of its own so that what the read library links out of the store
 * (softphone_check.c) needs nothing of store.c.
 */
#include "store_internal.h"

int sb__lmdb_rc(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return -ENOENT;
    case MDB_KEYEXIST:
        return -EEXIST;
    case MDB_MAP_FULL:
        return -ENOSPC; /* sb__write grows the map and retries */
    case MDB_TXN_FULL:
        return SB_E_BATCH_TOO_LARGE;
    case MDB_READERS_FULL:
        return -EAGAIN;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
    case MDB_BAD_VALSIZE:
        return SB_E_CORRUPT;
    case ENOMEM:
        return -ENOMEM;
    case EACCES:
    case EPERM:
        return -EACCES;
    case ENOSPC: /* the disk is full (a write or fsync failed): growing the map would not help */
    case EDQUOT:
        return SB_E_DISK_FULL;
    default:
        return -EIO;
    }
}
