/*
 * libFuzzer target: sbctl's import reader (tools/sbctl/csv_rows.c) on any
 * bytes, as a contact file (every kind of column rule). What it keeps must
 * meet the rules it claims to check: no NUL, no control character, ids of
 * letters and digits, lines that only go forward; what it refuses names a
 * line within the file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_rows.h"

static const sbctl_csv_column_t columns[] = {{"id", SBCTL_CSV_ID, NULL},
                                             {"name", SBCTL_CSV_TEXT, NULL},
                                             {"phone", SBCTL_CSV_TEXT, NULL},
                                             {"mobile_phone", SBCTL_CSV_TEXT, NULL},
                                             {"other_phone", SBCTL_CSV_TEXT, NULL},
                                             {"type", SBCTL_CSV_WORD, "kind"}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *f = fmemopen((void *)data, size, "r");
    if (f == NULL)
        return 0;
    sbctl_csv_t csv;
    /* Half the inputs through the reader of --columns and extra columns (a
     * mapped header, an alias, others ignored), half through the strict one;
     * the last byte chooses, so that the file's own bytes stay whole. */
    sbctl_csv_opts_t opts = {.header = {NULL, "Full Name"}, .ignore_extra = true};
    int rc = data[size - 1] & 1 ? sbctl_csv_read_with(f, columns, 6, 2, &opts, &csv)
                                : sbctl_csv_read(f, columns, 6, 2, &csv);
    fclose(f);
    size_t lines = 1;
    for (size_t i = 0; i < size; i++) /* LF, CRLF and a CR alone end a line */
        lines += data[i] == '\n' || (data[i] == '\r' && (i + 1 == size || data[i + 1] != '\n'));
    if (rc != 0) {
        if (csv.error[0] == '\0' || csv.n != 0)
            abort();
        unsigned long line;
        if (sscanf(csv.error, "line %lu", &line) == 1 && (line == 0 || line > lines))
            abort(); /* a line the file does not have */
        return 0;
    }
    size_t last = 1;
    for (size_t i = 0; i < csv.n; i++) {
        const sbctl_csv_row_t *row = &csv.rows[i];
        if (row->line <= last || row->line > lines)
            abort();
        last = row->line;
        for (int c = 0; c < 6; c++) {
            const char *v = row->field[c];
            for (size_t j = 0; v != NULL && v[j] != '\0'; j++) {
                unsigned char b = (unsigned char)v[j];
                if (b < 0x20 || b == 0x7f)
                    abort();
                if (columns[c].rule == SBCTL_CSV_ID &&
                    !((b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z')))
                    abort();
            }
            if (c < 2 && (v == NULL || v[0] == '\0'))
                abort(); /* a required value */
        }
    }
    sbctl_csv_free(&csv);
    return 0;
}
