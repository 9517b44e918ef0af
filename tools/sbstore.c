/*
 * sbstore: a small tool over the store, for a smoke run on a data directory
 * and for a look at its counts. (sbctl, which talks to the server, is the
 * operators' everyday tool; this one opens the store directly, so it refuses
 * to run while a server holds the directory.)
 *
 *   sbstore smoke DIR   create an org, a Call Center, users and memberships,
 *                       show the refusals the store must make, and check
 *                       every answer; exit 0 when all were as expected
 *   sbstore stats DIR   print the counts and sizes of the store in DIR
 *   sbstore verify DIR  check every record and invariant (store/verify.c);
 *                       exit 0 clean, 1 problems found, 2 could not run
 *   sbstore restore BACKUP DIR [--force]
 *                       put a backup made by `sbctl backup` in place (restore.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbstore.h"
#include "store.h"

static int failures;

/* Prints one step and checks that it returned `want` (0 or an error code). */
static void step(const char *what, int rc, int want, const sb_err_t *err)
{
    bool ok = rc == want;
    failures += !ok;
    if (rc == 0)
        printf("%s  %s\n", ok ? "ok  " : "FAIL", what);
    else
        printf("%s  %s -> %s: %s\n", ok ? "ok  " : "FAIL", what, sb_err_name(rc), err->message);
    if (!ok)
        printf("      expected %s\n", want == 0 ? "success" : sb_err_name(want));
}

static int smoke(const char *dir)
{
    sb_store_opts_t opts = {.dir = dir};
    sb_store_t *store;
    sb_err_t err;
    int rc = sb_store_open(&opts, &store, &err);
    if (rc != 0) {
        fprintf(stderr, "sbstore: %s\n", err.message);
        return 1;
    }
    printf("store open in %s\n", dir);
    sb_store_org_delete(store, "smoke", true, NULL); /* a rerun starts afresh */

    step("create org smoke", sb_store_org_create(store, "smoke", "Smoke Test Org", &err), 0, &err);
    step("create org smoke again", sb_store_org_create(store, "smoke", NULL, &err), -EEXIST, &err);

    sb_cc_fields_t fields = {
        .internal_name = "SupportCenter",
        .display_name = "Support Call Center",
        .adapter_url = "https://softphone.example.com/cti",
        .use_api = "true",
        .softphone_height = 400,
        .softphone_width = 300,
        .compatibility_mode = "Lightning",
        .outside_prefix = "9",
        .long_distance_prefix = "1",
        .international_prefix = "011",
    };
    sb_callcenter_t *def = NULL, *cc = NULL, *sales = NULL;
    step("build Call Center SupportCenter", sb_callcenter_from_fields(&fields, &def, &err), 0,
         &err);
    if (def == NULL)
        goto out;
    step("create Call Center SupportCenter", sb_store_cc_create(store, "smoke", def, &cc, &err), 0,
         &err);
    step("create Call Center SupportCenter again",
         sb_store_cc_create(store, "smoke", def, NULL, &err), SB_E_INTERNAL_NAME_TAKEN, &err);
    if (cc == NULL)
        goto out;
    printf("      id %s, kind %s, mode %s\n", cc->id.s, sb_cc_kind_name(sb_callcenter_kind(cc)),
           sb_cc_compat_mode_name(sb_callcenter_compat_mode(cc)));
    step("clone it as SalesCenter",
         sb_store_cc_clone(store, "smoke", cc->id.s, "SalesCenter", "Sales", &sales, &err), 0,
         &err);

    sb_cc_change_t too_tall = {SB_CC_GENERAL, SB_CC_HEIGHT, "9000"};
    step("set softphone height 9000",
         sb_store_cc_update(store, "smoke", cc->id.s, &too_tall, 1, NULL, NULL, &err),
         SB_E_OUT_OF_RANGE, &err);

    sb_user_t users[3] = {
        {.id = {"005000000000001"}, .name = "Ada Agent", .profile = "Agent"},
        {.id = {"005000000000002"}, .name = "Bo Agent", .profile = "Agent"},
        {.id = {"005000000000003"}, .name = "Cy Supervisor", .profile = "Supervisor"},
    };
    step("upsert 3 users", sb_store_user_upsert_bulk(store, "smoke", users, 3, &err), 0, &err);
    sb_member_assignment_t rows[] = {
        {"005000000000001", cc->id.s},
        {"005000000000002", cc->id.s},
    };
    step("add 2 members to SupportCenter",
         sb_store_member_add_bulk(store, "smoke", rows, 2, false, &err), 0, &err);
    if (sales != NULL) {
        step("add user 1 to SalesCenter",
             sb_store_member_add(store, "smoke", sales->id.s, "005000000000001", false, NULL, &err),
             SB_E_ALREADY_MEMBER, &err);
        step("move user 1 to SalesCenter",
             sb_store_member_add(store, "smoke", sales->id.s, "005000000000001", true, NULL, &err),
             0, &err);
    }
    sb_sfid_t found;
    step("look up user 2", sb_store_member_lookup(store, "smoke", "005000000000002", &found, &err),
         0, &err);
    printf("      user 2 is in %s\n", found.s);
    step("look up user 3", sb_store_member_lookup(store, "smoke", "005000000000003", &found, &err),
         SB_E_NOT_A_MEMBER, &err);
    step("delete SupportCenter", sb_store_cc_delete(store, "smoke", cc->id.s, false, &err),
         SB_E_CALLCENTER_HAS_MEMBERS, &err);
    step("delete org smoke", sb_store_org_delete(store, "smoke", false, &err), SB_E_ORG_NOT_EMPTY,
         &err);

    sb_store_stats_t stats;
    if (sb_store_stats(store, &stats, &err) == 0)
        printf("store: %llu orgs, %llu Call Centers, %llu users, %llu members, %llu bytes used\n",
               (unsigned long long)stats.orgs, (unsigned long long)stats.callcenters,
               (unsigned long long)stats.users, (unsigned long long)stats.members,
               (unsigned long long)stats.used_bytes);
out:
    sb_callcenter_free(def);
    sb_callcenter_free(cc);
    sb_callcenter_free(sales);
    sb_store_close(store);
    printf("%s: %d step(s) failed\n", failures ? "SMOKE FAILED" : "smoke passed", failures);
    return failures ? 1 : 0;
}

static int stats(const char *dir)
{
    sb_store_opts_t opts = {.dir = dir};
    sb_store_t *store;
    sb_err_t err;
    sb_store_stats_t st;
    int rc = sb_store_open(&opts, &store, &err);
    if (rc == 0)
        rc = sb_store_stats(store, &st, &err);
    sb_store_close(store);
    if (rc != 0) {
        fprintf(stderr, "sbstore: %s\n", err.message);
        return 1;
    }
    printf(
        "schema version  %u\norgs            %llu\ncall centers    %llu\nusers           "
        "%llu\nmembers         %llu\nused bytes      %llu\nmap bytes       %llu\nmax map bytes   "
        "%llu\n",
        st.schema_version, (unsigned long long)st.orgs, (unsigned long long)st.callcenters,
        (unsigned long long)st.users, (unsigned long long)st.members,
        (unsigned long long)st.used_bytes, (unsigned long long)st.map_bytes,
        (unsigned long long)st.max_map_bytes);
    return 0;
}

/* Prints a verify report: one paragraph a problem, then the count. */
static void print_report(const sb_verify_report_t *r, FILE *out)
{
    for (size_t i = 0; i < r->n; i++)
        fprintf(out, "problem  %s %s: %s\n         what to do: %s\n", r->problems[i].db,
                r->problems[i].key, r->problems[i].problem, r->problems[i].fix);
    if (r->total > r->n)
        fprintf(out, "... and %llu more problems (the first %zu are shown)\n",
                (unsigned long long)(r->total - r->n), r->n);
}

int sbstore_verify_dir(const char *dir, bool quiet, uint64_t *seq)
{
    sb_store_opts_t opts = {.dir = dir};
    sb_store_t *store;
    sb_err_t err;
    sb_verify_report_t report;
    int rc = sb_store_open(&opts, &store, &err);
    if (rc == 0)
        rc = sb_store_verify(store, 0, &report, &err);
    sb_store_close(store);
    if (rc != 0) {
        fprintf(stderr, "sbstore: verify could not run: %s\n", err.message);
        return 2;
    }
    print_report(&report, quiet ? stderr : stdout);
    printf("%s: %llu records checked, %llu problems, change log at sequence %llu\n",
           report.total ? "PROBLEMS" : "clean", (unsigned long long)report.records,
           (unsigned long long)report.total, (unsigned long long)report.last_seq);
    int status = report.total ? 1 : 0;
    if (seq != NULL)
        *seq = report.last_seq;
    sb_verify_report_destroy(&report);
    return status;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "smoke") == 0)
        return smoke(argv[2]);
    if (argc == 3 && strcmp(argv[1], "stats") == 0)
        return stats(argv[2]);
    if (argc == 3 && strcmp(argv[1], "verify") == 0)
        return sbstore_verify_dir(argv[2], false, NULL);
    if (argc >= 2 && strcmp(argv[1], "restore") == 0)
        return sbstore_restore(argc - 2, argv + 2);
    fprintf(stderr,
            "usage: sbstore smoke DIR    (a smoke run of the store in DIR)\n"
            "       sbstore stats DIR    (counts and sizes of the store in DIR)\n"
            "       sbstore verify DIR   (check every record; exit 0 clean, 1 problems, 2 could "
            "not run)\n"
            "       sbstore restore BACKUP DIR [--force]\n"
            "                            (put a backup made by sbctl backup in place in DIR)\n");
    return 2;
}
