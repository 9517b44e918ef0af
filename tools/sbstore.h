#pragma once
/* sbstore's commands that live in files of their own. */

#include <stdbool.h>
#include <stdint.h>

/**
 * Verifies the store in `dir` (opening it, so refused while a server holds
 * it) and prints the problems (to stderr when `quiet`) and a summary line.
 * *seq (may be NULL) gets the store's change-log sequence. Returns the exit
 * status: 0 clean, 1 problems found, 2 could not run.
 */
int sbstore_verify_dir(const char *dir, bool quiet, uint64_t *seq);

/** sbstore restore BACKUP DIR [--force] (restore.c): argv after "restore". Returns the exit status.
 */
int sbstore_restore(int argc, char **argv);
