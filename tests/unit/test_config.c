/* The server's settings: defaults, the config file, flags over the file, refusals. */
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static int parse(sb_config_t *cfg, int argc, const char **argv, sb_config_action_t *action,
                 sb_err_t *err)
{
    int rc = sb_config_defaults(cfg, err);
    if (rc == 0)
        rc = sb_config_from_args(cfg, argc, (char **)argv, action, err);
    if (rc == 0 && *action == SB_CONFIG_RUN)
        rc = sb_config_resolve(cfg, "switchboardd", err);
    return rc;
}

static void defaults_work_with_no_flags(void **state)
{
    (void)state;
    setenv("SB_DATA_DIR", "/tmp/sb-config-test", 1);
    sb_config_t cfg;
    sb_config_action_t action;
    sb_err_t err;
    const char *argv[] = {"switchboardd"};
    assert_rc(parse(&cfg, 1, argv, &action, &err), 0, err);
    assert_int_equal(action, SB_CONFIG_RUN);
    assert_string_equal(cfg.data_dir, "/tmp/sb-config-test");
    assert_string_equal(cfg.socket_path, "/tmp/sb-config-test/switchboard.sock");
    assert_true(strstr(cfg.plugin_dir, "plugins") != NULL);
    assert_int_equal(cfg.max_message_bytes, 1 << 20);
    assert_int_equal(cfg.durability, SB_DURABILITY_FULL);
}

static void flags_win_over_the_file(void **state)
{
    (void)state;
    char *dir = sb_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof(path), "%s/switchboard.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"max_batch\": 200, \"durability\": \"none\", \"log_level\": \"warn\", "
               "\"max_map_bytes\": \"2G\", \"socket\": \"/tmp/x.sock\"}");
    fclose(f);
    sb_config_t cfg;
    sb_config_action_t action;
    sb_err_t err;
    const char *argv[] = {"switchboardd", "--max-batch", "300", "--config", path};
    assert_rc(parse(&cfg, 5, argv, &action, &err), 0, err);
    assert_int_equal(cfg.max_batch, 300); /* the flag, though it stands before --config */
    assert_int_equal(cfg.durability, SB_DURABILITY_NONE);
    assert_int_equal(cfg.log_level, SB_LOG_WARN);
    assert_int_equal(cfg.max_map_bytes, (size_t)2 << 30);
    assert_string_equal(cfg.socket_path, "/tmp/x.sock");

    f = fopen(path, "w");
    fprintf(f, "{\"max_bacth\": 1}");
    fclose(f);
    assert_rc(parse(&cfg, 5, argv, &action, &err), -EINVAL, err);
    assert_non_null(strstr(err.message, "unknown setting 'max_bacth'"));
    f = fopen(path, "w");
    fprintf(f, "{\"durability\": \"sometimes\"}");
    fclose(f);
    assert_rc(parse(&cfg, 5, argv, &action, &err), -EINVAL, err);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, "full or none"));
    f = fopen(path, "w");
    fprintf(f, "not json");
    fclose(f);
    assert_rc(parse(&cfg, 5, argv, &action, &err), -EINVAL, err);
    sb_test_rmdir(dir);
}

static void bad_flags_are_refused(void **state)
{
    (void)state;
    sb_config_t cfg;
    sb_config_action_t action;
    sb_err_t err;
    const char *unknown[] = {"switchboardd", "--colour", "red"};
    assert_rc(parse(&cfg, 3, unknown, &action, &err), -EINVAL, err);
    const char *zero[] = {"switchboardd", "--max-inflight", "0"};
    assert_rc(parse(&cfg, 3, zero, &action, &err), -EINVAL, err);
    const char *size[] = {"switchboardd", "--max-message-bytes", "12X"};
    assert_rc(parse(&cfg, 3, size, &action, &err), -EINVAL, err);
    const char *marks[] = {"switchboardd", "--write-low-bytes", "2M"};
    assert_rc(parse(&cfg, 3, marks, &action, &err), -EINVAL, err);
    assert_non_null(strstr(err.message, "marks must grow"));
    char long_dir[200];
    memset(long_dir, 'd', sizeof(long_dir) - 1);
    long_dir[0] = '/';
    long_dir[sizeof(long_dir) - 1] = '\0';
    const char *too_long[] = {"switchboardd", "--data-dir", long_dir};
    assert_rc(parse(&cfg, 3, too_long, &action, &err), -ENAMETOOLONG, err);
    assert_non_null(strstr(err.message, "at most 107"));
    /* --member names a member of a cluster: alone it is refused. */
    const char *member[] = {"switchboardd", "--member", "s1-a"};
    assert_rc(parse(&cfg, 3, member, &action, &err), -EINVAL, err);
    assert_non_null(strstr(err.message, "--member"));
    const char *help[] = {"switchboardd", "--help"};
    assert_rc(parse(&cfg, 2, help, &action, &err), 0, err);
    assert_int_equal(action, SB_CONFIG_HELP);
}

static void connection_limits_hold_together(void **state)
{
    (void)state;
    sb_config_t cfg;
    sb_config_action_t action;
    sb_err_t err;
    const char *none[] = {"switchboardd"};
    assert_rc(parse(&cfg, 1, none, &action, &err), 0, err);
    assert_int_equal(cfg.admin_reserved_connections, 2);
    assert_int_equal(cfg.max_preauth_bytes, 4096);
    assert_int_equal(cfg.auth_timeout_ms, 10000);
    assert_int_equal(cfg.idle_timeout_ms, 600000);
    assert_int_equal(cfg.drain_timeout_ms, 10000);
    assert_int_equal(sb_config_reply_max(&cfg), (16 << 20) - (1 << 20));
    /* 0 turns the idle limit off, and reserves nothing for the admin. */
    const char *zeros[] = {"switchboardd", "--idle-timeout-ms", "0", "--admin-reserved-connections",
                           "0"};
    assert_rc(parse(&cfg, 5, zeros, &action, &err), 0, err);
    assert_int_equal(cfg.idle_timeout_ms, 0);
    /* ...but a deadline of 0 would close every connection at once. */
    const char *deadline[] = {"switchboardd", "--auth-timeout-ms", "0"};
    assert_rc(parse(&cfg, 3, deadline, &action, &err), -EINVAL, err);
    const char *reserved[] = {"switchboardd", "--max-connections", "2",
                              "--admin-reserved-connections", "2"};
    assert_rc(parse(&cfg, 5, reserved, &action, &err), -EINVAL, err);
    assert_non_null(strstr(err.message, "--admin-reserved-connections"));
    const char *preauth[] = {"switchboardd", "--max-preauth-bytes", "2M"};
    assert_rc(parse(&cfg, 3, preauth, &action, &err), -EINVAL, err);
    assert_non_null(strstr(err.message, "--max-preauth-bytes"));
}

/* SIGHUP's reload: what may change while serving is copied and named with
 * its old and new values; the rest is named as needing a restart and left. */
static void a_reload_applies_only_what_may_change(void **state)
{
    (void)state;
    sb_config_t running, next;
    sb_config_action_t action;
    sb_err_t err;
    const char *before[] = {"switchboardd"};
    assert_rc(parse(&running, 1, before, &action, &err), 0, err);
    const char *after[] = {"switchboardd",  "--log-level",    "debug", "--log-format",
                           "json",          "--max-inflight", "32",    "--slow-request-ms",
                           "250",           "--max-batch",    "500",   "--metrics-address",
                           "127.0.0.1:9464"};
    assert_rc(parse(&next, 13, after, &action, &err), 0, err);
    char changed[2048], restart[512];
    sb_config_reload(&running, &next, changed, sizeof(changed), restart, sizeof(restart));
    assert_non_null(strstr(changed, "--log-level info -> debug"));
    assert_non_null(strstr(changed, "--log-format auto -> json"));
    assert_non_null(strstr(changed, "--max-inflight 64 -> 32"));
    assert_non_null(strstr(changed, "--slow-request-ms 100 -> 250"));
    assert_string_equal(restart, "max-batch, metrics-address");
    assert_int_equal(running.log_level, SB_LOG_DEBUG);
    assert_int_equal(running.log_format, SB_LOG_FORMAT_JSON);
    assert_int_equal(running.max_inflight, 32);
    assert_int_equal(running.slow_request_ms, 250);
    assert_int_equal(running.max_batch, 10000);       /* needs a restart: unchanged */
    assert_string_equal(running.metrics_address, ""); /* likewise */
    /* Nothing new: nothing named. */
    sb_config_reload(&running, &running, changed, sizeof(changed), restart, sizeof(restart));
    assert_string_equal(changed, "");
    assert_string_equal(restart, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connection_limits_hold_together),
        cmocka_unit_test(defaults_work_with_no_flags),
        cmocka_unit_test(flags_win_over_the_file),
        cmocka_unit_test(bad_flags_are_refused),
        cmocka_unit_test(a_reload_applies_only_what_may_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
