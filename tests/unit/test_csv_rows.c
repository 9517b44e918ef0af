/* sbctl's import reader: the rows it keeps, and the file's line and column in every refusal. */
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_rows.h"

static const sbctl_csv_column_t users[] = {
    {"id", SBCTL_CSV_ID, NULL}, {"name", SBCTL_CSV_TEXT, NULL}, {"profile", SBCTL_CSV_TEXT, NULL}};
static const sbctl_csv_column_t contacts[] = {{"id", SBCTL_CSV_ID, NULL},
                                              {"name", SBCTL_CSV_TEXT, NULL},
                                              {"phone", SBCTL_CSV_TEXT, NULL},
                                              {"mobile_phone", SBCTL_CSV_TEXT, NULL},
                                              {"other_phone", SBCTL_CSV_TEXT, NULL},
                                              {"type", SBCTL_CSV_WORD, NULL}};

/* Reads `len` bytes as a user file (or contacts); returns the reader's result. */
static int read_bytes(const char *bytes, size_t len, const sbctl_csv_column_t *columns, int n,
                      sbctl_csv_t *out)
{
    FILE *f = fmemopen((void *)bytes, len, "r");
    assert_non_null(f);
    int rc = sbctl_csv_read(f, columns, n, 2, out);
    fclose(f);
    return rc;
}

#define READ_USERS(text, out) read_bytes(text, sizeof(text) - 1, users, 3, out)

/* The file is refused, and the error starts with `want`. */
static void refused(const char *bytes, size_t len, const char *want)
{
    sbctl_csv_t csv;
    int rc = read_bytes(bytes, len, users, 3, &csv);
    if (rc == 0 || strncmp(csv.error, want, strlen(want)) != 0)
        fail_msg("want an error starting '%s', got %d '%s'", want, rc, csv.error);
    assert_int_equal(csv.n, 0);
    assert_null(csv.rows);
}
#define REFUSED(text, want) refused(text, sizeof(text) - 1, want)

/* A column's alias is a Data Loader export's header for it, in any case;
 * a file naming a column twice, by name and by alias, is refused. */
static void aliases_name_columns(void **state)
{
    (void)state;
    static const sbctl_csv_column_t attrs[] = {{"id", SBCTL_CSV_ID, NULL},
                                               {"name", SBCTL_CSV_TEXT, NULL},
                                               {"profile", SBCTL_CSV_TEXT, "profile.name"},
                                               {"role", SBCTL_CSV_TEXT, "userrole.name"}};
    static const char export[] = "\"ID\",\"NAME\",\"PROFILE.NAME\",\"USERROLE.NAME\"\n"
                                 "\"005000000000001\",\"Ada\",\"Agent\",\"Service Rep\"\n";
    sbctl_csv_t csv;
    assert_int_equal(read_bytes(export, sizeof(export) - 1, attrs, 4, &csv), 0);
    assert_int_equal(csv.n, 1);
    assert_string_equal(csv.rows[0].field[2], "Agent");
    assert_string_equal(csv.rows[0].field[3], "Service Rep");
    sbctl_csv_free(&csv);
    static const char twice[] = "id,name,profile,Profile.Name\n005000000000001,Ada,A,B\n";
    assert_int_equal(read_bytes(twice, sizeof(twice) - 1, attrs, 4, &csv), -1);
    assert_non_null(strstr(csv.error, "the column 'profile' exactly once"));
}

static void rows_and_their_lines(void **state)
{
    (void)state;
    sbctl_csv_t csv;
    /* CRLF, blank lines, leading blanks, a quoted field, columns in another order, no final
     * newline. */
    assert_int_equal(READ_USERS("name,ID\r\nAda,005000000000001\r\n\r\n\n  Bob ,005000000000002\n"
                                "\"Cy, \"\"C\"\"\",005000000000003",
                                &csv),
                     0);
    assert_int_equal(csv.n, 3);
    assert_string_equal(csv.rows[0].field[0], "005000000000001");
    assert_string_equal(csv.rows[0].field[1], "Ada");
    assert_null(csv.rows[0].field[2]);
    assert_int_equal(csv.rows[0].line, 2);
    assert_int_equal(csv.rows[1].line, 5);
    assert_string_equal(csv.rows[1].field[1], "Bob");
    assert_int_equal(csv.rows[2].line, 6);
    assert_string_equal(csv.rows[2].field[1], "Cy, \"C\"");
    sbctl_csv_free(&csv);
    sbctl_csv_free(&csv); /* twice is harmless */

    /* Old Mac line ends (a CR alone), mixed with the others. */
    static const char mac[] = "id,name\r005000000000001,Ada\r\r005000000000002,Bob\r\n"
                              "005000000000003,Cy\n005000000000004,\"D\ri\"\r";
    assert_int_equal(read_bytes(mac, sizeof(mac) - 1, users, 3, &csv), -1);
    assert_string_equal(csv.error, "line 6, column 2 (name): a line break inside a quoted field "
                                   "(byte 0x0d) at byte 2 of the field");
    assert_int_equal(READ_USERS("id,name\r005000000000001,Ada\r\r005000000000002,Bob\r\n"
                                "005000000000003,Cy\n005000000000004,Di\r",
                                &csv),
                     0);
    assert_int_equal(csv.n, 4);
    assert_int_equal(csv.rows[0].line, 2);
    assert_int_equal(csv.rows[1].line, 4);
    assert_int_equal(csv.rows[2].line, 5);
    assert_int_equal(csv.rows[3].line, 6);
    sbctl_csv_free(&csv);

    assert_int_equal(READ_USERS("id,name\n", &csv), 0); /* a header alone: no rows */
    assert_int_equal(csv.n, 0);
    sbctl_csv_free(&csv);
}

static void a_nul_is_refused_where_it_is(void **state)
{
    (void)state;
    REFUSED("id,name\n005000000000001,Ada\n005000000000002,Ada\0Evil\n",
            "line 3, column 2 (name): a NUL byte (byte 0x00) at byte 4 of the field");
    REFUSED("id,name\n005000000000001,Ada\n005000000000015\0junk,X\n",
            "line 3, column 1 (id): a NUL byte");
    /* In a quoted field that spans lines: the NUL's own line. */
    REFUSED("id,name\n005000000000001,\"one\ntw\0o\nthree\"\n", "line 3, column 2 (name): a NUL");
    /* In the header. */
    REFUSED("id,na\0me\n005000000000001,Ada\n", "line 1, column 2 (header): a NUL byte");
}

static void every_byte_meets_its_column_rule(void **state)
{
    (void)state;
    REFUSED("id,name\n005000000000001,\"one\ntwo\"\n",
            "line 2, column 2 (name): a line break inside a quoted field");
    REFUSED("id,name\n005000000000001,Ad\ta\n", "line 2, column 2 (name): a control character");
    REFUSED("id,name\n005000000000001,Ada\x7f\n", "line 2, column 2 (name): a control character");
    REFUSED("id,name\n005000000000001,\xc3\x28\n",
            "line 2, column 2 (name): the field is not valid UTF-8");
    REFUSED("id,name\n00500000000-001,Ada\n",
            "line 2, column 1 (id): a character other than a letter or a digit");
    sbctl_csv_t csv;
    static const char utf8[] = "id,name\n005000000000001,Zo\xc3\xab \xe6\x9d\x8e\n";
    assert_int_equal(read_bytes(utf8, sizeof(utf8) - 1, users, 3, &csv), 0);
    sbctl_csv_free(&csv);
    static const char type[] = "id,name,type\n003000000000001,Ada,Contact1\n";
    assert_int_equal(read_bytes(type, sizeof(type) - 1, contacts, 6, &csv), -1);
    assert_string_equal(csv.error, "line 2, column 3 (type): a character other than a letter "
                                   "(byte 0x31) at byte 8 of the field");
}

static void records_are_named_by_their_first_line(void **state)
{
    (void)state;
    REFUSED("id,name\n\n005000000000001,Ok\n\n\n005000000000002\n", "line 6 has 1 fields");
    REFUSED("id,name\n005000000000001,Ok,extra\n", "line 2 has more fields than the header's 2");
    REFUSED("id,name\n005000000000001,\n", "line 2 has no name");
    REFUSED("id,name\n005000000000001,Ok\n005000000000002", "line 3 has 1 fields");
    REFUSED("id,name\n005000000000001,\"never closed\n\n", "line 2: a quoted field");
    REFUSED("id,name\n005000000000001,Ok\n005000000000002,B\"ob\n", "line 3: a stray quote");
    REFUSED("", "it is empty");
    REFUSED("id,nom\n", "line 1: the header names a column 'nom'");
    REFUSED("name,profile\n", "line 1: the header needs the column 'id' exactly once");
    REFUSED("id,name,ID\n", "line 1: the header needs the column 'id' exactly once");
}

/* A too-long field is named on its own line (it was one record early). */
static void a_long_field_is_named_on_its_line(void **state)
{
    (void)state;
    char text[4096];
    int n =
        snprintf(text, sizeof(text), "id,name\n005000000000001,Ok\n005000000000002,%01100d\n", 0);
    refused(text, (size_t)n, "line 3, column 2 (name): the field is longer than 1024 bytes");
}

/* Lines that straddle the reader's 64 KiB reads are counted once. */
static void lines_across_reads(void **state)
{
    (void)state;
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len, "id,name\n");
    for (int i = 2; i < 9000; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s005%012d,Name number %d\n",
                                i % 7 == 0 ? "\n" : "", i, i);
    len += (size_t)snprintf(text + len, cap - len, "005000000000001,Bad\x01\n");
    sbctl_csv_t csv;
    assert_int_equal(read_bytes(text, len, users, 3, &csv), -1);
    /* 8,998 records and 1,285 blank lines before the bad one. */
    size_t lines = 1 + 8998 + 1285 + 1;
    char want[64];
    snprintf(want, sizeof(want), "line %zu, column 2", lines);
    if (strncmp(csv.error, want, strlen(want)) != 0)
        fail_msg("want '%s', got '%s'", want, csv.error);
    /* And without the bad line, every record's line is right. */
    len -= strlen("005000000000001,Bad\x01\n");
    assert_int_equal(read_bytes(text, len, users, 3, &csv), 0);
    assert_int_equal(csv.n, 8998);
    size_t line = 2;
    for (size_t i = 0; i < csv.n; i++) {
        if ((i + 2) % 7 == 0)
            line++;
        assert_int_equal(csv.rows[i].line, line);
        line++;
    }
    sbctl_csv_free(&csv);
    free(text);
}

static void an_id_twice_names_both_lines(void **state)
{
    (void)state;
    sbctl_csv_t csv;
    assert_int_equal(READ_USERS("id,name\n005000000000001,A\n005000000000002,B\n\n"
                                "005000000000001AAA,C\n",
                                &csv),
                     0);
    assert_int_equal(sbctl_csv_unique_ids(&csv, "user"), -1);
    assert_string_equal(csv.error,
                        "line 5 names the user 005000000000001AAA again (first on line 2)");
    sbctl_csv_free(&csv);
    assert_int_equal(READ_USERS("id,name\n005000000000001,A\n005000000000002,B\n", &csv), 0);
    assert_int_equal(sbctl_csv_unique_ids(&csv, "user"), 0);
    sbctl_csv_free(&csv);
}

/* A byte-order mark is skipped; extra columns ignored and named; headers renamed. */
static void excel_and_data_loader_headers(void **state)
{
    (void)state;
    sbctl_csv_t csv;
    static const char bom[] = "\xef\xbb\xbfid,name\r\n005000000000001,Zo\xc3\xab\r\n";
    assert_int_equal(read_bytes(bom, sizeof(bom) - 1, users, 3, &csv), 0);
    assert_int_equal(csv.n, 1);
    assert_int_equal(csv.rows[0].line, 2);
    sbctl_csv_free(&csv);
    /* Only at the very start: a mark inside a name is the name's. */
    static const char late[] = "id,name\n005000000000001,\xef\xbb\xbfZo\n";
    assert_int_equal(read_bytes(late, sizeof(late) - 1, users, 3, &csv), 0);
    assert_string_equal(csv.rows[0].field[1], "\xef\xbb\xbfZo");
    sbctl_csv_free(&csv);

    static const char loader[] =
        "\"ID\",\"EMAIL\",\"NAME\",\"PROFILE.NAME\",\"NOTE\"\n"
        "\"005000000000001AAA\",\"a@b\",\"Ada\",\"Sales Agent\",\"x\x01\"\n";
    sbctl_csv_opts_t opts = {.ignore_extra = true, .header = {NULL, NULL, "Profile.Name"}};
    FILE *f = fmemopen((void *)loader, sizeof(loader) - 1, "r");
    assert_int_equal(sbctl_csv_read_with(f, users, 3, 2, &opts, &csv), 0);
    fclose(f);
    assert_int_equal(csv.n, 1);
    assert_string_equal(csv.rows[0].field[2], "Sales Agent");
    assert_string_equal(csv.warning, "columns ignored: EMAIL, NOTE");
    sbctl_csv_free(&csv);
    /* Strict (sbctl_csv_read): the same file is refused for its first extra column. */
    f = fmemopen((void *)loader, sizeof(loader) - 1, "r");
    assert_int_equal(sbctl_csv_read(f, users, 3, 2, &csv), -1);
    fclose(f);
    assert_string_equal(csv.error,
                        "line 1: the header names a column 'EMAIL' that this import does not take");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_and_their_lines),
        cmocka_unit_test(aliases_name_columns),
        cmocka_unit_test(excel_and_data_loader_headers),
        cmocka_unit_test(a_nul_is_refused_where_it_is),
        cmocka_unit_test(every_byte_meets_its_column_rule),
        cmocka_unit_test(records_are_named_by_their_first_line),
        cmocka_unit_test(a_long_field_is_named_on_its_line),
        cmocka_unit_test(lines_across_reads),
        cmocka_unit_test(an_id_twice_names_both_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
