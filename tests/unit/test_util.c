#include "sb_test.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *sb_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/sbtest.XXXXXX", base && base[0] ? base : "/tmp");
    if (mkdtemp(path) == NULL)
        fail_msg("mkdtemp(%s) failed", path);
    return strdup(path);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void sb_test_rmdir(char *dir)
{
    if (dir == NULL)
        return;
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

sb_store_t *sb_test_open(const char *dir)
{
    sb_store_opts_t opts = {.dir = dir, .durability = SB_DURABILITY_NONE};
    sb_store_t *store = NULL;
    sb_err_t err;
    int rc = sb_store_open(&opts, &store, &err);
    if (rc != 0)
        fail_msg("sb_store_open(%s): %s", dir, err.message);
    return store;
}

int sb_test_store_setup(void **state)
{
    sb_test_fixture_t *fx = calloc(1, sizeof(*fx));
    fx->dir = sb_test_tmpdir();
    fx->store = sb_test_open(fx->dir);
    sb_err_t err;
    if (sb_store_org_create(fx->store, "acme", "Acme", &err) != 0 ||
        sb_store_org_create(fx->store, "globex", "Globex", &err) != 0)
        fail_msg("org create: %s", err.message);
    *state = fx;
    return 0;
}

int sb_test_store_teardown(void **state)
{
    sb_test_fixture_t *fx = *state;
    sb_store_close(fx->store);
    sb_test_rmdir(fx->dir);
    free(fx);
    return 0;
}

sb_sfid_t sb_test_cc(sb_store_t *store, const char *org, const char *name)
{
    sb_cc_fields_t f = {
        .internal_name = name,
        .display_name = name,
        .adapter_url = "https://cti.example.com/softphone",
        .softphone_height = 400,
        .softphone_width = 300,
    };
    sb_callcenter_t *def = NULL, *cc = NULL;
    sb_err_t err;
    if (sb_callcenter_from_fields(&f, &def, &err) != 0 ||
        sb_store_cc_create(store, org, def, &cc, &err) != 0)
        fail_msg("Call Center %s: %s", name, err.message);
    sb_sfid_t id = cc->id;
    sb_callcenter_free(def);
    sb_callcenter_free(cc);
    return id;
}

void sb_test_user_id(unsigned n, char out[16])
{
    snprintf(out, 16, "005%012u", n);
}

void sb_test_user(sb_store_t *store, const char *org, unsigned n)
{
    sb_user_t user = {.profile = "Agent"};
    sb_test_user_id(n, user.id.s);
    snprintf(user.name, sizeof(user.name), "User %u", n);
    sb_err_t err;
    if (sb_store_user_upsert(store, org, &user, &err) != 0)
        fail_msg("user %u: %s", n, err.message);
}
