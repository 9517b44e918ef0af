/* The log: one line per event, whatever bytes a caller put in it. */
#include "sb_test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Runs sb_log with stderr sent to a temporary file and returns what it wrote. */
static void capture(char *out, size_t size, const char *org)
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    sb_log(SB_LOG_INFO, "conn 1: org %s: member.add -> OK", org);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, size - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
}

static void a_callers_newline_cannot_forge_a_line(void **state)
{
    (void)state;
    char out[4096];
    capture(out, sizeof(out), "acme\n2026-12-01T00:00:00.000Z info  conn 2: authenticated\x1b[2J");
    char *first = strchr(out, '\n');
    assert_non_null(first);
    assert_int_equal(first[1], '\0'); /* one line */
    assert_null(strchr(out, '\x1b'));
    assert_non_null(strstr(out, "org acme?2026-12-01"));
}

static void a_huge_argument_makes_one_bounded_line(void **state)
{
    (void)state;
    static char org[70000];
    memset(org, 'A', sizeof(org) - 1);
    char out[8192];
    capture(out, sizeof(out), org);
    assert_true(strlen(out) <= 2048);
    assert_int_equal(out[strlen(out) - 1], '\n');
}

/* A field's value is a caller's bytes too: quoted when it holds a space, a
 * quote or '=', and never a control character. */
static void fields_follow_the_message_and_cannot_forge_a_line(void **state)
{
    (void)state;
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    sb_log_field_t fields[] = {{"org", "acme"},
                               {"id", "a b\n2026-12-01T00:00:00.000Z info  forged"},
                               {"seq", NULL},
                               {"name", "x=\"y\""}};
    sb_log_fields(SB_LOG_INFO, fields, 4, "write: %s", "org.create");
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(tmp);
    char out[4096];
    size_t n = fread(out, 1, sizeof(out) - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    assert_non_null(strstr(out, " info  write: org.create org=acme id=\"a b?2026-12-01"));
    assert_non_null(strstr(out, " name=\"x=\\\"y\\\"\"\n"));
    assert_null(strstr(out, "seq="));
    assert_int_equal(strchr(out, '\n')[1], '\0'); /* one line */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_callers_newline_cannot_forge_a_line),
        cmocka_unit_test(a_huge_argument_makes_one_bounded_line),
        cmocka_unit_test(fields_follow_the_message_and_cannot_forge_a_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
