/* The plugin host against mock plugins built as real .so files. */
#include "sb_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "definition.h"
#include "plugin_host.h"
#include "renders.h"

/* A plugin directory holding copies of the named mock plugins. */
static char *plugin_dir(const char *const *names)
{
    char *dir = sb_test_tmpdir();
    for (size_t i = 0; names[i]; i++) {
        char cmd[9000];
        snprintf(cmd, sizeof(cmd), "cp '%s/%s.so' '%s/'", SB_MOCK_PLUGIN_DIR, names[i], dir);
        if (system(cmd) != 0)
            fail_msg("%s failed", cmd);
    }
    return dir;
}

static const sb_plugin_info_t *find(const sb_plugin_info_t *rows, size_t n, const char *file)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].file, file) == 0)
            return &rows[i];
    fail_msg("%s is not listed", file);
    return NULL;
}

static void each_check_refuses_its_plugin(void **state)
{
    (void)state;
    static const char *const names[] = {"good",      "wrong_major",   "newer_minor",
                                        "too_short", "missing_entry", "misnamed",
                                        "no_symbol", "unresolved",    NULL};
    char *dir = plugin_dir(names);
    sb_plugin_host_t *host;
    assert_int_equal(sb_plugin_host_new(dir, &host), 0);
    size_t loaded, refused;
    sb_err_t err;
    assert_int_equal(sb_plugin_host_load(host, &loaded, &refused, &err), 0);
    assert_int_equal(loaded, 1);
    assert_int_equal(refused, 7);
    sb_plugin_info_t *rows;
    size_t n;
    assert_int_equal(sb_plugin_host_list(host, &rows, &n), 0);
    assert_int_equal(n, 8);
    const struct {
        const char *file, *check, *says;
    } want[] = {
        {"wrong_major.so", "major", "ABI 2.x"},
        {"newer_minor.so", "minor", "newer than this server's"},
        {"too_short.so", "size", "is 16 bytes"},
        {"missing_entry.so", "entry_points", "validate is missing"},
        {"misnamed.so", "name", "calls itself 'somebody_else'"},
        {"no_symbol.so", "symbol", "exports no sb_adapter_v1"},
        {"unresolved.so", "open", "sb_mock_function_nobody_defines"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const sb_plugin_info_t *p = find(rows, n, want[i].file);
        assert_false(p->loaded);
        assert_string_equal(p->check, want[i].check);
        if (strstr(p->reason, want[i].says) == NULL)
            fail_msg("%s: \"%s\" does not say \"%s\"", want[i].file, p->reason, want[i].says);
    }
    const sb_plugin_info_t *good = find(rows, n, "good.so");
    assert_true(good->loaded);
    assert_string_equal(good->name, "good");
    assert_string_equal(good->vendor, "Mock Vendor");
    assert_string_equal(good->mode, "in_process");
    assert_int_equal(good->abi_major, 1);
    assert_true(sb_plugin_host_has(host, "good"));
    assert_false(sb_plugin_host_has(host, "wrong_major"));
    free(rows);
    sb_plugin_host_free(host);
    sb_test_rmdir(dir);
}

static sb_callcenter_t *with_region(const char *region)
{
    char xml[1024];
    snprintf(xml, sizeof(xml),
             "<callCenter><section sortOrder=\"0\" name=\"reqGeneralInfo\" label=\"G\">"
             "<item sortOrder=\"0\" name=\"reqInternalName\" label=\"I\">Mock</item>"
             "<item sortOrder=\"1\" name=\"reqDisplayName\" label=\"D\">Mock</item>"
             "<item sortOrder=\"2\" name=\"reqAdapterUrl\" label=\"U\">https://m.example.com</item>"
             "</section><section sortOrder=\"1\" name=\"mockSettings\" label=\"M\">"
             "<item sortOrder=\"0\" name=\"mockRegion\" label=\"R\">%s</item></section>"
             "</callCenter>",
             region);
    sb_callcenter_t *cc;
    sb_warnings_t w;
    sb_err_t err;
    if (sb_definition_import(xml, strlen(xml), "m.xml", NULL, &cc, &w, &err) != 0)
        fail_msg("%s", err.message);
    sb_warnings_free(&w);
    return cc;
}

static void claims_validation_render_and_templates(void **state)
{
    (void)state;
    static const char *const names[] = {"good", "garbage", NULL};
    char *dir = plugin_dir(names);
    sb_plugin_host_t *host;
    sb_err_t err;
    assert_int_equal(sb_plugin_host_new(dir, &host), 0);
    assert_int_equal(sb_plugin_host_load(host, NULL, NULL, &err), 0);
    sb_callcenter_t *cc = with_region("eu");
    char best[SB_PLUGIN_NAME_MAX + 1];
    int confidence;
    /* garbage claims 12345: held to 100, and it wins. */
    assert_int_equal(sb_plugin_host_claim(host, cc, best, &confidence, &err), 0);
    assert_string_equal(best, "garbage");
    assert_int_equal(confidence, 100);
    assert_int_equal(sb_plugin_host_validate(host, "good", cc, &err), 0);
    assert_rc(sb_plugin_host_validate(host, "garbage", cc, &err), SB_E_INVALID_VALUE, err);
    assert_non_null(strstr(err.message, "without saying why"));
    sb_callcenter_t *bad = with_region("mars");
    assert_rc(sb_plugin_host_validate(host, "good", bad, &err), SB_E_INVALID_VALUE, err);
    assert_non_null(strstr(err.message, "/mockSettings/mockRegion: the region is eu or us"));
    assert_rc(sb_plugin_host_validate(host, "nobody", cc, &err), -ENOENT, err);
    sb_plugin_kv_t *kv;
    size_t n;
    assert_int_equal(sb_plugin_host_render(host, "good", cc, "005000000000001AAA", &kv, &n, &err),
                     0);
    assert_int_equal(n, 1);
    assert_string_equal(kv[0].key, "adapter_url");
    assert_string_equal(kv[0].value, "https://m.example.com?user=005000000000001AAA");
    free(kv);
    assert_rc(sb_plugin_host_render(host, "garbage", cc, "005000000000001AAA", &kv, &n, &err),
              SB_E_INVALID_VALUE, err);
    assert_non_null(
        strstr(err.message, "rendered no adapter_url (results that are not UTF-8 are dropped)"));
    /* The template a partner would ship imports cleanly, and good claims it. */
    sb_callcenter_t *tmpl;
    assert_int_equal(sb_plugin_host_template(host, "good", &tmpl, &err), 0);
    assert_string_equal(sb_callcenter_internal_name(tmpl), "GoodCallCenter");
    char *xml;
    size_t len;
    assert_int_equal(sb_definition_export(tmpl, SB_CC_FORM_IMPORT, &xml, &len, &err), 0);
    sb_callcenter_t *back;
    sb_warnings_t w;
    assert_rc(sb_definition_import(xml, len, "GoodCallCenter.xml", NULL, &back, &w, &err), 0, err);
    assert_int_equal(sb_plugin_host_validate(host, "good", back, &err), 0);
    sb_warnings_free(&w);
    free(xml);
    sb_callcenter_free(back);
    sb_callcenter_free(tmpl);
    sb_callcenter_free(bad);
    sb_callcenter_free(cc);
    sb_plugin_host_free(host);
    sb_test_rmdir(dir);
}

static void a_tie_asks_the_operator(void **state)
{
    (void)state;
    static const char *const names[] = {"good", "rival", NULL};
    char *dir = plugin_dir(names);
    sb_plugin_host_t *host;
    sb_err_t err;
    assert_int_equal(sb_plugin_host_new(dir, &host), 0);
    assert_int_equal(sb_plugin_host_load(host, NULL, NULL, &err), 0);
    sb_callcenter_t *cc = with_region("us");
    char best[SB_PLUGIN_NAME_MAX + 1];
    int confidence;
    assert_rc(sb_plugin_host_claim(host, cc, best, &confidence, &err), -EEXIST, err);
    assert_non_null(strstr(err.message, "--adapter"));
    /* Reload after one is gone: the other is the only claim left. */
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm '%s/rival.so'", dir);
    assert_int_equal(system(cmd), 0);
    size_t loaded;
    assert_int_equal(sb_plugin_host_load(host, &loaded, NULL, &err), 0);
    assert_int_equal(loaded, 1);
    assert_int_equal(sb_plugin_host_claim(host, cc, best, &confidence, &err), 0);
    assert_string_equal(best, "good");
    sb_callcenter_free(cc);
    sb_plugin_host_free(host);
    sb_test_rmdir(dir);
}

/* ---- isolated mode ---------------------------------------------------------------- */

static sb_plugin_host_t *isolated_host(const char *dir, unsigned deadline_ms)
{
    sb_plugin_host_t *host;
    sb_err_t err;
    assert_int_equal(sb_plugin_host_new(dir, &host), 0);
    sb_plugin_host_set_isolation(host, SB_PLUGIN_RUNNER, "none", deadline_ms);
    assert_rc(sb_plugin_host_load(host, NULL, NULL, &err), 0, err);
    return host;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void isolated_plugins_answer_as_in_process(void **state)
{
    (void)state;
    static const char *const names[] = {"good", "wrong_major", NULL};
    char *dir = plugin_dir(names);
    sb_plugin_host_t *host = isolated_host(dir, 2000);
    sb_plugin_info_t *rows;
    size_t n;
    sb_err_t err;
    assert_int_equal(sb_plugin_host_list(host, &rows, &n), 0);
    const sb_plugin_info_t *good = find(rows, n, "good.so");
    assert_true(good->loaded);
    assert_string_equal(good->mode, "isolated");
    assert_string_equal(good->vendor, "Mock Vendor");
    const sb_plugin_info_t *major = find(rows, n, "wrong_major.so");
    assert_false(major->loaded);
    assert_string_equal(major->check, "major"); /* the child made the same checks */
    free(rows);
    sb_callcenter_t *cc = with_region("eu");
    char best[SB_PLUGIN_NAME_MAX + 1];
    int confidence;
    assert_int_equal(sb_plugin_host_claim(host, cc, best, &confidence, &err), 0);
    assert_string_equal(best, "good");
    assert_int_equal(confidence, 90);
    assert_int_equal(sb_plugin_host_validate(host, "good", cc, &err), 0);
    sb_callcenter_t *bad = with_region("mars");
    assert_rc(sb_plugin_host_validate(host, "good", bad, &err), SB_E_INVALID_VALUE, err);
    assert_non_null(strstr(err.message, "the region is eu or us"));
    sb_plugin_kv_t *kv;
    assert_int_equal(sb_plugin_host_render(host, "good", cc, "005000000000001AAA", &kv, &n, &err),
                     0);
    assert_int_equal(n, 1);
    assert_string_equal(kv[0].value, "https://m.example.com?user=005000000000001AAA");
    free(kv);
    sb_callcenter_t *tmpl;
    assert_rc(sb_plugin_host_template(host, "good", &tmpl, &err), 0, err);
    assert_string_equal(sb_callcenter_internal_name(tmpl), "GoodCallCenter");
    sb_plugin_setting_copy_t *settings;
    assert_rc(sb_plugin_host_settings(host, "good", &settings, &n, &err), 0, err);
    assert_int_equal(n, 2);
    assert_string_equal(settings[1].name, "mockRegion");
    assert_true(settings[1].required);
    free(settings);
    sb_callcenter_free(tmpl);
    sb_callcenter_free(bad);
    sb_callcenter_free(cc);
    sb_plugin_host_free(host);
    sb_test_rmdir(dir);
}

static void isolated_plugins_are_refused_by_the_same_checks(void **state)
{
    (void)state;
    static const char *const names[] = {"wrong_major",   "newer_minor", "too_short",
                                        "missing_entry", "misnamed",    "no_symbol",
                                        "unresolved",    "garbage",     NULL};
    char *dir = plugin_dir(names);
    sb_plugin_host_t *host = isolated_host(dir, 2000);
    sb_plugin_info_t *rows;
    size_t n;
    assert_int_equal(sb_plugin_host_list(host, &rows, &n), 0);
    const struct {
        const char *file, *check;
    } want[] = {{"wrong_major.so", "major"}, {"newer_minor.so", "minor"},
                {"too_short.so", "size"},    {"missing_entry.so", "entry_points"},
                {"misnamed.so", "name"},     {"no_symbol.so", "symbol"},
                {"unresolved.so", "open"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const sb_plugin_info_t *p = find(rows, n, want[i].file);
        assert_false(p->loaded);
        assert_string_equal(p->check, want[i].check);
        assert_string_equal(p->mode, "isolated");
    }
    /* garbage loads, and its nonsense is contained the same way across the process line. */
    assert_true(find(rows, n, "garbage.so")->loaded);
    free(rows);
    sb_callcenter_t *cc = with_region("eu");
    sb_err_t err;
    sb_plugin_kv_t *kv;
    assert_rc(sb_plugin_host_validate(host, "garbage", cc, &err), SB_E_INVALID_VALUE, err);
    assert_rc(sb_plugin_host_render(host, "garbage", cc, "005000000000001AAA", &kv, &n, &err),
              SB_E_INVALID_VALUE, err);
    char best[SB_PLUGIN_NAME_MAX + 1];
    int confidence;
    assert_int_equal(sb_plugin_host_claim(host, cc, best, &confidence, &err), 0);
    assert_int_equal(confidence, 100);
    sb_callcenter_free(cc);
    sb_plugin_host_free(host);
    sb_test_rmdir(dir);
}

static void a_crash_costs_only_its_calls_and_the_child_restarts(void **state)
{
    (void)state;
    static const char *const names[] = {"crashing", NULL};
    char *dir = plugin_dir(names);
    sb_plugin_host_t *host = isolated_host(dir, 2000);
    sb_callcenter_t *cc = with_region("eu");
    sb_plugin_kv_t *kv;
    size_t n;
    sb_err_t err;
    assert_rc(
        sb_plugin_host_call_event(host, "crashing", cc, "{\"event\":\"ring\"}", &kv, &n, &err),
        SB_E_ADAPTER_UNAVAILABLE, err);
    assert_non_null(strstr(err.message, "crashed"));
    /* Backing off: unavailable at once, without starting a child. */
    assert_rc(sb_plugin_host_validate(host, "crashing", cc, &err), SB_E_ADAPTER_UNAVAILABLE, err);
    sb_plugin_info_t *rows;
    assert_int_equal(sb_plugin_host_list(host, &rows, &n), 0);
    assert_false(rows[0].available);
    assert_non_null(strstr(rows[0].last_failure, "crashed"));
    free(rows);
    sleep_ms(400);
    /* After the back-off a new child answers. */
    assert_rc(sb_plugin_host_validate(host, "crashing", cc, &err), 0, err);
    assert_int_equal(sb_plugin_host_list(host, &rows, &n), 0);
    assert_true(rows[0].available);
    assert_int_equal(rows[0].restarts, 1);
    free(rows);
    sb_callcenter_free(cc);
    sb_plugin_host_free(host);
    sb_test_rmdir(dir);
}

static void a_hang_is_cut_at_the_deadline(void **state)
{
    (void)state;
    static const char *const names[] = {"hanging", "good", NULL};
    char *dir = plugin_dir(names);
    sb_plugin_host_t *host = isolated_host(dir, 300);
    sb_callcenter_t *empty = sb_callcenter_new();
    char best[SB_PLUGIN_NAME_MAX + 1];
    int confidence;
    sb_err_t err;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* hanging never answers this claim: it counts as no claim, after the deadline. */
    assert_rc(sb_plugin_host_claim(host, empty, best, &confidence, &err), 0, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 250 && ms < 2000);
    assert_int_equal(confidence, 0);
    sb_plugin_info_t *rows;
    size_t n;
    assert_int_equal(sb_plugin_host_list(host, &rows, &n), 0);
    const sb_plugin_info_t *hanging = find(rows, n, "hanging.so");
    assert_non_null(strstr(hanging->last_failure, "deadline"));
    assert_true(find(rows, n, "good.so")->available); /* the other one carries on */
    free(rows);
    sb_callcenter_free(empty);
    sb_plugin_host_free(host);
    sb_test_rmdir(dir);
}

/* ---- trusted adapters: in process, after a trial in a child ------------------------ */

static sb_plugin_host_t *trusting_host(const char *dir, const char *in_process)
{
    sb_plugin_host_t *host;
    sb_err_t err;
    assert_int_equal(sb_plugin_host_new(dir, &host), 0);
    sb_plugin_host_set_isolation(host, SB_PLUGIN_RUNNER, in_process, 1000);
    assert_rc(sb_plugin_host_load(host, NULL, NULL, &err), 0, err);
    return host;
}

/* An init that crashes is a refused plugin in both modes, and this process lives on. */
static void a_crash_in_init_is_a_refusal_in_both_modes(void **state)
{
    (void)state;
    static const char *const names[] = {"crash_init", "good", NULL};
    char *dir = plugin_dir(names);
    const char *modes[] = {"none", "crash_init,good"};
    for (size_t m = 0; m < 2; m++) {
        sb_plugin_host_t *host = trusting_host(dir, modes[m]);
        sb_plugin_info_t *rows;
        size_t n;
        assert_int_equal(sb_plugin_host_list(host, &rows, &n), 0);
        const sb_plugin_info_t *p = find(rows, n, "crash_init.so");
        assert_false(p->loaded);
        assert_string_equal(p->check, "init");
        assert_non_null(strstr(p->reason, "crashed"));
        assert_string_equal(p->mode, m == 0 ? "isolated" : "in_process");
        const sb_plugin_info_t *good = find(rows, n, "good.so");
        assert_true(good->loaded);
        assert_string_equal(good->mode, m == 0 ? "isolated" : "in_process");
        free(rows);
        assert_false(sb_plugin_host_has(host, "crash_init"));
        sb_plugin_host_end_trial(host);
        sb_plugin_host_free(host);
    }
    sb_test_rmdir(dir);
}

static sb_callcenter_t *with_url(const char *url)
{
    sb_callcenter_t *cc = with_region("eu");
    sb_cc_change_t change = {"reqGeneralInfo", "reqAdapterUrl", url};
    sb_err_t err;
    if (sb_callcenter_apply(cc, &change, 1, &err) != 0)
        fail_msg("%s", err.message);
    return cc;
}

/* A trusted adapter whose render crashes in its trial is refused, and
 * never runs that render in this process; one whose trial went well
 * renders in process afterwards. */
static void a_crash_in_a_trial_render_refuses_a_trusted_adapter(void **state)
{
    (void)state;
    static const char *const names[] = {"crashing", "good", NULL};
    char *dir = plugin_dir(names);
    sb_plugin_host_t *host = trusting_host(dir, "crashing,good");
    sb_callcenter_t *deadly = with_url("https://x.example.com/crash-render");
    sb_callcenter_t *fine = with_url("https://x.example.com/fine");
    sb_plugin_kv_t *kv = NULL;
    size_t n;
    sb_err_t err;
    assert_rc(sb_plugin_host_render(host, "good", fine, "005000000000001AAA", &kv, &n, &err), 0,
              err);
    free(kv);
    assert_rc(sb_plugin_host_render(host, "crashing", deadly, "005000000000001AAA", &kv, &n, &err),
              SB_E_ADAPTER_UNAVAILABLE, err);
    uint64_t before = sb_plugin_host_generation(host);
    sb_plugin_host_end_trial(host);
    /* The other adapters' renderings stay fresh: the set's generation is the same. */
    assert_int_equal(sb_plugin_host_generation(host), before);
    sb_plugin_info_t *rows;
    assert_int_equal(sb_plugin_host_list(host, &rows, &n), 0);
    const sb_plugin_info_t *p = find(rows, n, "crashing.so");
    assert_false(p->loaded);
    assert_string_equal(p->check, "render");
    assert_true(find(rows, n, "good.so")->loaded);
    free(rows);
    assert_false(sb_plugin_host_has(host, "crashing"));
    /* In process now, without its trial child. */
    assert_rc(sb_plugin_host_render(host, "good", fine, "005000000000001AAA", &kv, &n, &err), 0,
              err);
    assert_string_equal(kv[0].value, "https://x.example.com/fine?user=005000000000001AAA");
    free(kv);
    sb_callcenter_free(deadly);
    sb_callcenter_free(fine);
    sb_plugin_host_free(host);
    sb_test_rmdir(dir);
}

/* The store's renderer (on the writer thread) takes renderings made ahead and
 * never calls the adapter: without one, the stored URL stays. */
static void the_writer_renders_from_the_cache_only(void **state)
{
    (void)state;
    static const char *const names[] = {"good", NULL};
    char *dir = plugin_dir(names);
    sb_plugin_host_t *host;
    sb_err_t err;
    assert_int_equal(sb_plugin_host_new(dir, &host), 0);
    assert_rc(sb_plugin_host_load(host, NULL, NULL, &err), 0, err);
    sb_renders_t *renders;
    assert_int_equal(sb_renders_new(host, &renders), 0);
    sb_callcenter_t *cc = with_url("https://r.example.com/a");
    assert_int_equal(sb_callcenter_set_adapter(cc, "good"), 0);
    sb_view_render_t v = {.loaded = true};
    snprintf(v.adapter_url, sizeof(v.adapter_url), "stored");
    sb_softphone_render(renders, "acme", cc, &v);
    assert_true(v.loaded);
    assert_string_equal(v.adapter_url, "stored"); /* not rendered ahead: not asked now */
    sb_softphone_prerender(renders, "acme", cc);
    sb_softphone_render(renders, "acme", cc, &v);
    assert_string_equal(v.adapter_url, "https://r.example.com/a?user=" SB_ADAPTER_USER_PLACEHOLDER);
    /* Another org's Call Center with the same id is another rendering. */
    snprintf(v.adapter_url, sizeof(v.adapter_url), "stored");
    sb_softphone_render(renders, "other", cc, &v);
    assert_string_equal(v.adapter_url, "stored");
    /* A change makes the rendering stale until it is rendered again. */
    sb_cc_change_t change = {"reqGeneralInfo", "reqAdapterUrl", "https://r.example.com/b"};
    assert_rc(sb_callcenter_apply(cc, &change, 1, &err), 0, err);
    sb_softphone_render(renders, "acme", cc, &v);
    assert_string_equal(v.adapter_url, "stored");
    sb_softphone_prerender(renders, "acme", cc);
    sb_softphone_render(renders, "acme", cc, &v);
    assert_string_equal(v.adapter_url, "https://r.example.com/b?user=" SB_ADAPTER_USER_PLACEHOLDER);
    /* A reload makes every rendering stale. */
    assert_rc(sb_plugin_host_load(host, NULL, NULL, &err), 0, err);
    snprintf(v.adapter_url, sizeof(v.adapter_url), "stored");
    sb_softphone_render(renders, "acme", cc, &v);
    assert_string_equal(v.adapter_url, "stored");
    sb_softphone_forget(renders, "acme", cc->id.s);
    sb_callcenter_free(cc);
    sb_renders_free(renders);
    sb_plugin_host_free(host);
    sb_test_rmdir(dir);
}

/* ---- one thread at a time in a plugin ------------------------------------- */

typedef struct render_worker {
    sb_plugin_host_t *host;
    const sb_callcenter_t *cc;
    int failures;
    char why[600];
} render_worker_t;

static void *render_many(void *arg)
{
    render_worker_t *w = arg;
    for (int i = 0; i < 20; i++) {
        sb_plugin_kv_t *kv = NULL;
        size_t n = 0;
        sb_err_t err;
        if (sb_plugin_host_render(w->host, "one_at_a_time", w->cc, "005000000000001AAA", &kv, &n,
                                  &err) != 0) {
            w->failures++;
            snprintf(w->why, sizeof(w->why), "%s", err.message);
        }
        free(kv);
    }
    return NULL;
}

/* Prepare steps call adapters from libuv's many pool threads; the ABI
 * promises a plugin one thread at a time, so an in-process plugin's calls
 * are taken in turn. */
static void an_in_process_plugin_is_called_one_thread_at_a_time(void **state)
{
    (void)state;
    static const char *const names[] = {"one_at_a_time", NULL};
    char *dir = plugin_dir(names);
    sb_plugin_host_t *host;
    sb_err_t err;
    assert_int_equal(sb_plugin_host_new(dir, &host), 0);
    assert_int_equal(sb_plugin_host_load(host, NULL, NULL, &err), 0);
    sb_callcenter_t *cc = with_region("eu");
    render_worker_t workers[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (render_worker_t){.host = host, .cc = cc};
        assert_int_equal(pthread_create(&threads[i], NULL, render_many, &workers[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        if (workers[i].failures != 0)
            fail_msg("%d renders failed: %s", workers[i].failures, workers[i].why);
    }
    sb_callcenter_free(cc);
    sb_plugin_host_free(host);
    sb_test_rmdir(dir);
}

static void no_directory_is_an_empty_set(void **state)
{
    (void)state;
    sb_plugin_host_t *host;
    sb_err_t err;
    assert_int_equal(sb_plugin_host_new("/nonexistent/plugins", &host), 0);
    size_t loaded = 9;
    assert_int_equal(sb_plugin_host_load(host, &loaded, NULL, &err), 0);
    assert_int_equal(loaded, 0);
    sb_plugin_host_free(host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_check_refuses_its_plugin),
        cmocka_unit_test(claims_validation_render_and_templates),
        cmocka_unit_test(a_tie_asks_the_operator),
        cmocka_unit_test(an_in_process_plugin_is_called_one_thread_at_a_time),
        cmocka_unit_test(no_directory_is_an_empty_set),
        cmocka_unit_test(a_crash_in_init_is_a_refusal_in_both_modes),
        cmocka_unit_test(a_crash_in_a_trial_render_refuses_a_trusted_adapter),
        cmocka_unit_test(the_writer_renders_from_the_cache_only),
        cmocka_unit_test(isolated_plugins_answer_as_in_process),
        cmocka_unit_test(isolated_plugins_are_refused_by_the_same_checks),
        cmocka_unit_test(a_crash_costs_only_its_calls_and_the_child_restarts),
        cmocka_unit_test(a_hang_is_cut_at_the_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
