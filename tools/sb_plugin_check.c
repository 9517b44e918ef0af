/*
 * sb-plugin-check FILE.so: what a partner runs before shipping an adapter.
 *
 * It makes the host's own checks (ABI major and minor, descriptor size,
 * entry points, name), then calls every entry point with representative
 * inputs (the adapter's own template, which must import, be claimed and
 * validate, and render an adapter URL) and hostile ones (empty, huge,
 * malformed, not UTF-8). Each call runs in a child process with a deadline,
 * so that a crash or a hang is reported, not suffered. It ends with a
 * verdict, and exits 0 (ready to ship), 1 (problems) or 2 (bad usage).
 */
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "definition.h"
#include "log.h"
#include "plugin_host.h"
#include "utf8.h"

#define DEADLINE_SECONDS 2

static int problems, passed;

static void ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  ok    ");
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see core/error.c
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    passed++;
}

static void bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  FAIL  ");
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see core/error.c
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    problems++;
}

typedef int (*probe_fn)(sb_plugin_host_t *host, const char *name, const void *arg);

/* Runs probe in a child with a deadline: 0 when it returned normally (its
 * code in *code), -1 after a crash or a hang, described in why. */
static int contained(probe_fn probe, sb_plugin_host_t *host, const char *name, const void *arg,
                     int *code, char *why, size_t cap)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, cap, "fork failed");
        return -1;
    }
    if (pid == 0) {
        alarm(DEADLINE_SECONDS);
        _exit(probe(host, name, arg) & 0x7f);
    }
    int status;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) {
        *code = WEXITSTATUS(status);
        return 0;
    }
    int sig = WTERMSIG(status);
    if (sig == SIGALRM)
        snprintf(why, cap, "it hung: no answer within %d s", DEADLINE_SECONDS);
    else
        snprintf(why, cap, "it crashed (%s)", strsignal(sig));
    return -1;
}

/* ---- probes: each runs in a child; its exit code is its answer --------------- */

static sb_callcenter_t *hostile_callcenter(int which)
{
    sb_callcenter_t *cc = sb_callcenter_new();
    int s = sb_callcenter_add_section(cc, "reqGeneralInfo", "General", 0);
    if (which == 0)
        return cc; /* no items at all */
    char *big = malloc(SB_CC_MAX_VALUE_BYTES + 1);
    memset(big, which == 1 ? 'x' : '\xff', SB_CC_MAX_VALUE_BYTES);
    big[SB_CC_MAX_VALUE_BYTES] = '\0';
    sb_callcenter_add_item(cc, (size_t)s, "reqInternalName", "", 0, big);
    sb_callcenter_add_item(cc, (size_t)s, "reqAdapterUrl", "", 1, big);
    sb_callcenter_add_item(cc, (size_t)s, "", "", 2, "");
    free(big);
    return cc;
}

static int probe_claim_hostile(sb_plugin_host_t *host, const char *name, const void *arg)
{
    (void)name;
    sb_callcenter_t *cc = hostile_callcenter(*(const int *)arg);
    char best[SB_PLUGIN_NAME_MAX + 1];
    int confidence;
    sb_plugin_host_claim(host, cc, best, &confidence, NULL);
    return 0;
}

static int probe_validate_hostile(sb_plugin_host_t *host, const char *name, const void *arg)
{
    sb_callcenter_t *cc = hostile_callcenter(*(const int *)arg);
    sb_plugin_host_validate(host, name, cc, NULL);
    return 0;
}

static int probe_render_hostile(sb_plugin_host_t *host, const char *name, const void *arg)
{
    sb_callcenter_t *cc = hostile_callcenter(*(const int *)arg);
    sb_plugin_kv_t *kv;
    size_t n;
    sb_plugin_host_render(host, name, cc, "\xff not a user", &kv, &n, NULL);
    return 0;
}

static int probe_event_hostile(sb_plugin_host_t *host, const char *name, const void *arg)
{
    sb_callcenter_t *cc = hostile_callcenter(1);
    sb_plugin_kv_t *kv;
    size_t n;
    sb_plugin_host_call_event(host, name, cc, arg, &kv, &n, NULL);
    return 0;
}

/* ---- the checks ------------------------------------------------------------------ */

static void check_settings(sb_plugin_host_t *host, const char *name)
{
    sb_plugin_setting_copy_t *settings;
    size_t n;
    sb_err_t err;
    if (sb_plugin_host_settings(host, name, &settings, &n, &err) != 0) {
        bad("describe: %s", err.message);
        return;
    }
    if (n == 0)
        bad("describe declares no setting: a partner's Call Center carries at least its adapter "
            "URL or its Service Cloud Voice settings");
    int before = problems;
    for (size_t i = 0; i < n; i++) {
        const sb_plugin_setting_copy_t *s = &settings[i];
        size_t chars;
        if (s->section[0] == '\0' || s->name[0] == '\0')
            bad("describe: setting %zu has no section or no name", i + 1);
        else if (!sb_utf8_count(s->label, &chars) || !sb_utf8_count(s->default_value, &chars) ||
                 !sb_utf8_count(s->rule, &chars))
            bad("describe: /%s/%s holds text that is not UTF-8", s->section, s->name);
        else if (s->rule[0] == '\0')
            bad("describe: /%s/%s says no rule: tell operators what a good value is", s->section,
                s->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(settings[j].section, s->section) == 0 &&
                strcmp(settings[j].name, s->name) == 0)
                bad("describe: /%s/%s is declared twice", s->section, s->name);
    }
    if (problems == before && n > 0)
        ok("describe: %zu settings, each with a section, a name, a label and a rule", n);
    free(settings);
}

static void check_template(sb_plugin_host_t *host, const char *name)
{
    sb_callcenter_t *tmpl = NULL, *back = NULL;
    sb_err_t err;
    if (sb_plugin_host_template(host, name, &tmpl, &err) != 0) {
        bad("template: %s", err.message);
        return;
    }
    char *xml = NULL;
    size_t len;
    sb_warnings_t w = {0};
    char filename[300];
    sb_definition_filename(tmpl, SB_CC_FORM_IMPORT, filename, sizeof(filename));
    if (sb_definition_export(tmpl, SB_CC_FORM_IMPORT, &xml, &len, &err) != 0 ||
        sb_definition_import(xml, len, filename, NULL, &back, &w, &err) != 0) {
        bad("template: the definition built from describe's defaults does not import: %s",
            err.message);
        goto out;
    }
    ok("template: the definition file a partner would ship imports (%zu warning%s)", w.n,
       w.n == 1 ? "" : "s");
    for (size_t i = 0; i < w.n; i++)
        printf("          warning: %s\n", w.lines[i]);
    char best[SB_PLUGIN_NAME_MAX + 1];
    int confidence = 0;
    if (sb_plugin_host_claim(host, back, best, &confidence, &err) != 0 || strcmp(best, name) != 0)
        bad("claim: the adapter does not claim its own template (best claim: '%s', %d)", best,
            confidence);
    else
        ok("claim: its own template, %d of 100", confidence);
    if (sb_plugin_host_validate(host, name, back, &err) != 0)
        bad("validate: its own template has problems: %s", err.message);
    else
        ok("validate: its own template has no problem");
    sb_plugin_kv_t *kv = NULL;
    size_t n = 0;
    if (sb_plugin_host_render(host, name, back, "005000000000001AAA", &kv, &n, &err) != 0) {
        bad("render: %s", err.message);
    } else {
        for (size_t i = 0; i < n; i++)
            if (strcmp(kv[i].key, "adapter_url") == 0)
                ok("render: adapter_url %s", kv[i].value);
    }
    free(kv);
out:
    sb_warnings_free(&w);
    free(xml);
    sb_callcenter_free(tmpl);
    sb_callcenter_free(back);
}

static void check_hostile(sb_plugin_host_t *host, const char *name)
{
    static const int kinds[] = {0, 1, 2};
    static const char *const kind_names[] = {"a Call Center with no items", "values of 4,096 bytes",
                                             "values that are not UTF-8"};
    const struct {
        const char *what;
        probe_fn fn;
    } probes[] = {{"claim", probe_claim_hostile},
                  {"validate", probe_validate_hostile},
                  {"render", probe_render_hostile}};
    int before = problems;
    char why[128];
    int code;
    for (size_t p = 0; p < 3; p++)
        for (size_t k = 0; k < 3; k++)
            if (contained(probes[p].fn, host, name, &kinds[k], &code, why, sizeof(why)) != 0)
                bad("%s with %s: %s", probes[p].what, kind_names[k], why);
    static char huge[100001];
    memset(huge, '[', sizeof(huge) - 1);
    const char *events[] = {
        "", "{", "null", "[]", "{\"event\": 42}", "\xff\xfe", "{\"event\":\"ring\"}", huge};
    for (size_t e = 0; e < sizeof(events) / sizeof(events[0]); e++)
        if (contained(probe_event_hostile, host, name, events[e], &code, why, sizeof(why)) != 0)
            bad("call_event with a malformed event (case %zu): %s", e + 1, why);
    if (problems == before)
        ok("hostile inputs: claim, validate, render and call_event survive empty, huge, "
           "malformed and non-UTF-8 input");
}

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: sb-plugin-check FILE.so\n\n"
                        "Runs the host's checks on an adapter plugin and calls every entry point "
                        "with\nrepresentative and hostile inputs. Exit 0: ready to ship; 1: "
                        "problems.\n");
        return argc == 2 ? 0 : 2;
    }
    sb_log_set_level(SB_LOG_ERROR);
    char real[PATH_MAX];
    if (realpath(argv[1], real) == NULL) {
        fprintf(stderr, "sb-plugin-check: cannot find %s\n", argv[1]);
        return 2;
    }
    const char *base = strrchr(real, '/') + 1;
    size_t len = strlen(base);
    if (len < 4 || strcmp(base + len - 3, ".so") != 0) {
        fprintf(stderr, "sb-plugin-check: %s is not a NAME.so file\n", argv[1]);
        return 2;
    }
    /* The host loads directories: give it one holding this file alone. */
    char dir[] = "/tmp/sb-plugin-check.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 2;
    char link_path[PATH_MAX + 64];
    snprintf(link_path, sizeof(link_path), "%s/%s", dir, base);
    if (symlink(real, link_path) != 0)
        return 2;
    char name[SB_PLUGIN_NAME_MAX + 1];
    snprintf(name, sizeof(name), "%.*s", (int)(len - 3), base);

    printf("sb-plugin-check %s\n", real);
    sb_plugin_host_t *host;
    sb_err_t err;
    sb_plugin_info_t *rows = NULL;
    size_t n = 0;
    if (sb_plugin_host_new(dir, &host) != 0 || sb_plugin_host_load(host, NULL, NULL, &err) != 0 ||
        sb_plugin_host_list(host, &rows, &n) != 0 || n != 1) {
        bad("the host could not read the plugin");
    } else if (!rows[0].loaded) {
        bad("the host refuses it (%s check): %s", rows[0].check, rows[0].reason);
    } else {
        ok("the host's checks: ABI %u.%u, descriptor size, entry points, name '%s'",
           rows[0].abi_major, rows[0].abi_minor, rows[0].name);
        printf("        %s %s by %s: %s\n", rows[0].name, rows[0].version, rows[0].vendor,
               rows[0].description);
        check_settings(host, name);
        check_template(host, name);
        check_hostile(host, name);
    }
    free(rows);
    sb_plugin_host_free(host);
    unlink(link_path);
    rmdir(dir);
    if (problems == 0)
        printf("PASS: %d checks passed; %s is ready to ship.\n", passed, name);
    else
        printf("FAIL: %d problem%s, %d checks passed; fix the lines marked FAIL.\n", problems,
               problems == 1 ? "" : "s", passed);
    return problems == 0 ? 0 : 1;
}
