#pragma once
/*
 * The rows of an import's CSV file (sbctl user/member/contact import), read
 * with libcsv and checked whole: every field's bytes against its column's
 * rule, the header, the field counts, the required values. Every error names
 * the file's physical line (the line of the byte at fault, also inside a
 * quoted field that spans lines; blank lines count) and the column.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SBCTL_CSV_MAX_COLUMNS 512 /* columns a file may have (a Data Loader export has many) */
#define SBCTL_CSV_MAX_FIELD 1024  /* bytes of one field */
#define SBCTL_CSV_KIND_COLUMNS 6  /* columns an import kind may take */

/** What a column's bytes may be. */
typedef enum sbctl_csv_rule {
    SBCTL_CSV_ID,   /* a record id or an internal name: ASCII letters and digits */
    SBCTL_CSV_TEXT, /* a name, a phone number: UTF-8 without control characters */
    SBCTL_CSV_WORD, /* a type: ASCII letters */
} sbctl_csv_rule_t;

/** A column an import takes. [borrowed: name and alias, for the read] */
typedef struct sbctl_csv_column {
    const char *name;
    sbctl_csv_rule_t rule;
    const char *alias; /* another header that names it (a Data Loader export's), or NULL */
} sbctl_csv_column_t;

/** One record. */
typedef struct sbctl_csv_row {
    char *field[SBCTL_CSV_KIND_COLUMNS]; /* in the kind's column order; NULL when absent [owned] */
    size_t line;                         /* the physical line the record starts on, from 1 */
} sbctl_csv_row_t;

/** A file's records. */
typedef struct sbctl_csv {
    sbctl_csv_row_t *rows; /* [owned: free with sbctl_csv_free()] */
    size_t n;
    char error[640];   /* why the file was refused: "line 7, column 2 (name): ..." */
    char warning[640]; /* what was read but not used: "columns ignored: Email, Phone" */
} sbctl_csv_t;

/** How a file's header is read (sbctl_csv_read_with()). */
typedef struct sbctl_csv_opts {
    /* The header name of each of the kind's columns, in its order, or NULL
     * for the column's own name: "Profile.Name" for profile. [borrowed] */
    const char *header[SBCTL_CSV_KIND_COLUMNS];
    /* A header column the kind does not take is ignored (its fields are
     * neither checked nor kept) and named in out->warning, instead of
     * refusing the file. */
    bool ignore_extra;
} sbctl_csv_opts_t;

/**
 * Reads every record of `f` after its header row. The header names columns
 * of `columns` (any order, case-insensitive); the first `n_required` must be
 * there and hold a value in every record. Returns 0, or -1 with the reason in
 * out->error (out->rows is then empty).
 */
int sbctl_csv_read(FILE *f, const sbctl_csv_column_t *columns, int n_columns, int n_required,
                   sbctl_csv_t *out);

/**
 * sbctl_csv_read() with header names and extra columns as `opts` says. A
 * UTF-8 byte-order mark at the start of the file (as Excel writes one) is
 * skipped by both.
 */
int sbctl_csv_read_with(FILE *f, const sbctl_csv_column_t *columns, int n_columns, int n_required,
                        const sbctl_csv_opts_t *opts, sbctl_csv_t *out);

/**
 * Refuses a value of column 0 found twice (ids compared on their first 15
 * characters, as an 18-character id is its 15-character form); the error
 * names both lines. Returns 0 or -1 with out->error set.
 */
int sbctl_csv_unique_ids(sbctl_csv_t *csv, const char *what);

/** Frees the rows; the struct may be read again (empty). */
void sbctl_csv_free(sbctl_csv_t *csv);
