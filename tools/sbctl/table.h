#pragma once
/*
 * How sbctl shows rows to people and to scripts: one table, printed with
 * libsmartcols (display width, so that "Zoë Ångström" and "山田太郎" stay
 * aligned; the terminal's width, cutting the columns that may be cut) or as
 * CSV or as names, as -o chose. A list printer makes a table, its columns,
 * then its rows, and prints it: a new command needs only those few calls.
 * Times are shown one way everywhere (sbctl_time_text()).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** -o FORMAT: what a command prints. */
typedef enum sbctl_format {
    SBCTL_FORMAT_TABLE, /* a table that fits the terminal (100 columns off a terminal) */
    SBCTL_FORMAT_WIDE,  /* a table of every column, nothing cut */
    SBCTL_FORMAT_JSON,  /* the server's answer as JSON (the same as --json) */
    SBCTL_FORMAT_CSV,   /* the table's rows as CSV, with a header row */
    SBCTL_FORMAT_NAME,  /* the first column only, a line per row: for scripts and xargs */
} sbctl_format_t;

/** How every command prints: set once from the command line. */
typedef struct sbctl_view {
    sbctl_format_t format;
    bool local;   /* --local: times in the local time zone, not UTC */
    size_t width; /* columns a table may take; 0: the terminal's, else $COLUMNS, else 100 */
    bool detail;  /* softphone check --layout: the whole answer, as -o wide */
} sbctl_view_t;

extern sbctl_view_t sbctl_view;

/** Reads "table", "wide", "json", "csv" or "name". Returns 0 or -EINVAL. */
int sbctl_format_parse(const char *text, sbctl_format_t *out);

/** A time (milliseconds since 1970) as ISO 8601: "2026-12-01T04:15:12Z", or with
 * --local its offset: "2026-12-01T05:15:12+01:00". */
void sbctl_time_text(uint64_t ms, char *out, size_t cap);

/** Column flags. */
enum {
    SBCTL_COL_TRUNC = 1 << 0, /* may be cut to fit the width (names, URLs, messages) */
    SBCTL_COL_WIDE = 1 << 1,  /* shown only with -o wide (and in CSV) */
    SBCTL_COL_RIGHT = 1 << 2, /* numbers */
    SBCTL_COL_LONG = 1 << 3,  /* free text (a reason, a message): cut first, to what is left */
};

typedef struct sbctl_table sbctl_table_t;

/** A new empty table [owned: free with sbctl_table_free()], or NULL for want of memory. */
sbctl_table_t *sbctl_table_new(void);

/** Adds a column (its header is upper-cased on a table). Returns its index, or -ENOMEM. */
int sbctl_table_column(sbctl_table_t *t, const char *name, unsigned flags);

/** Starts a row; its cells are empty until set. Returns 0 or -ENOMEM. */
int sbctl_table_row(sbctl_table_t *t);

/** Sets a cell of the last row (copied). Returns 0, -EINVAL or -ENOMEM. */
int sbctl_table_cell(sbctl_table_t *t, int column, const char *text);

/** Prints the table to `out` as sbctl_view.format says ("(none)" for no rows). */
void sbctl_table_print(sbctl_table_t *t, FILE *out);

void sbctl_table_free(sbctl_table_t *t);
