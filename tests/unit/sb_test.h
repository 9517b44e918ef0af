#pragma once
/*
 * The one place <cmocka.h> is included: it needs these four headers before
 * it, an order that include sorting would break.
 */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on

#include "store.h"

/** A fresh temporary directory under $TMPDIR; aborts the test on failure. [owned: free()] */
char *sb_test_tmpdir(void);

/** Removes `dir` and everything below it, then frees the string. */
void sb_test_rmdir(char *dir);

/** Opens a store in `dir` without fsync (tests do not need crash durability). */
sb_store_t *sb_test_open(const char *dir);

/** Asserts that `rc` is `want`, printing the error's name and sentence when not. */
#define assert_rc(rc, want, err)                                                                   \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        if (rc_ != (want))                                                                         \
            fail_msg("got %s (%d) \"%s\", want %s", sb_err_name(rc_), rc_, (err).message,          \
                     sb_err_name(want));                                                           \
    } while (0)

/** A store in a fresh directory, with orgs "acme" and "globex". */
typedef struct sb_test_fixture {
    char *dir;
    sb_store_t *store;
} sb_test_fixture_t;

/** cmocka setup and teardown for an sb_test_fixture_t in *state. */
int sb_test_store_setup(void **state);
int sb_test_store_teardown(void **state);

/** Creates a valid Open CTI Call Center named `name` in `org`; returns its id. */
sb_sfid_t sb_test_cc(sb_store_t *store, const char *org, const char *name);

/** The 15-character user id for number `n` ("005" and 12 digits). */
void sb_test_user_id(unsigned n, char out[16]);

/** Upserts user number `n` in `org` (profile "Agent"). */
void sb_test_user(sb_store_t *store, const char *org, unsigned n);

/**
 * Turns a schema 5 directory (closed) into what schema 4 wrote, behind the
 * store's back: every membership keyed "org \0 user id" again (its value
 * resealed for that key), org_ids emptied, schema_version 4.
 */
void sb_test_downgrade_to_schema_4(const char *dir);
