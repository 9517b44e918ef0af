/* sbctl's tables, on libsmartcols; see table.h. */
#include "table.h"

#include <errno.h>
#include <libsmartcols.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

sbctl_view_t sbctl_view = {.format = SBCTL_FORMAT_TABLE};

#define MAX_COLUMNS 32 /* a list printer's columns: more are a mistake */

struct sbctl_table {
    struct libscols_table *tb;
    struct libscols_line *line; /* the last row */
    unsigned flags[MAX_COLUMNS];
    int n_columns;
};

int sbctl_format_parse(const char *text, sbctl_format_t *out)
{
    static const char *const names[] = {"table", "wide", "json", "csv", "name"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (sbctl_format_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

void sbctl_time_text(uint64_t ms, char *out, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!sbctl_view.local) {
        gmtime_r(&secs, &tm);
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return;
    }
    localtime_r(&secs, &tm);
    char zone[8];
    strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof(zone), "%z", &tm); /* +0100: ISO 8601 writes +01:00 */
    size_t len = strlen(out);
    if (strlen(zone) == 5 && len + 7 <= cap)
        snprintf(out + len, cap - len, "%.3s:%.2s", zone, zone + 3);
}

sbctl_table_t *sbctl_table_new(void)
{
    sbctl_table_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->tb = scols_new_table();
    if (t->tb == NULL) {
        free(t);
        return NULL;
    }
    scols_table_set_column_separator(t->tb, "  ");
    return t;
}

int sbctl_table_column(sbctl_table_t *t, const char *name, unsigned flags)
{
    if (t->n_columns == MAX_COLUMNS)
        return -EINVAL;
    char head[64];
    snprintf(head, sizeof(head), "%s", name);
    for (char *p = head; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p == '_' ? '-' : *p);
    int scols_flags = (flags & SBCTL_COL_TRUNC ? SCOLS_FL_TRUNC : 0) |
                      (flags & SBCTL_COL_RIGHT ? SCOLS_FL_RIGHT : 0);
    /* A wide-only column is kept but hidden on a narrow table (CSV still has it). */
    if ((flags & SBCTL_COL_WIDE) && sbctl_view.format == SBCTL_FORMAT_TABLE)
        scols_flags |= SCOLS_FL_HIDDEN;
    /* No width hint, no cut by libsmartcols: fit() cuts (see there). */
    if (scols_table_new_column(t->tb, head, 0, scols_flags & ~SCOLS_FL_TRUNC) == NULL)
        return -ENOMEM;
    t->flags[t->n_columns] = flags;
    return t->n_columns++;
}

int sbctl_table_row(sbctl_table_t *t)
{
    t->line = scols_table_new_line(t->tb, NULL);
    return t->line ? 0 : -ENOMEM;
}

int sbctl_table_cell(sbctl_table_t *t, int column, const char *text)
{
    if (t->line == NULL || column < 0 || column >= t->n_columns)
        return -EINVAL;
    return scols_line_set_data(t->line, (size_t)column, text) == 0 ? 0 : -ENOMEM;
}

/* The width a table may take: the terminal's, $COLUMNS, or 100 (a pipe, a file, a test). */
static size_t table_width(void)
{
    if (sbctl_view.width > 0)
        return sbctl_view.width;
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *columns = getenv("COLUMNS");
    long n = columns ? strtol(columns, NULL, 10) : 0;
    return n >= 20 && n <= 1000 ? (size_t)n : 100;
}

/* A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
static void csv_field(FILE *out, const char *s)
{
    if (s == NULL)
        s = "";
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static const char *cell_text(struct libscols_line *ln, int column)
{
    struct libscols_cell *cell = scols_line_get_cell(ln, (size_t)column);
    const char *s = cell ? scols_cell_get_data(cell) : NULL;
    return s ? s : "";
}

/* Columns a string takes on a terminal (a byte that is not UTF-8: one). */
static size_t display_width(const char *s)
{
    size_t width = 0;
    mbstate_t st;
    memset(&st, 0, sizeof(st));
    while (*s) {
        wchar_t wc;
        size_t len = mbrtowc(&wc, s, MB_CUR_MAX, &st);
        if (len == (size_t)-1 || len == (size_t)-2 || len == 0) {
            memset(&st, 0, sizeof(st));
            width++;
            s++;
            continue;
        }
        int w = wcwidth(wc);
        width += w > 0 ? (size_t)w : 0;
        s += len;
    }
    return width;
}

/* `s` cut to `cols` display columns, the last one an ellipsis, into out. */
static void cut_to(const char *s, size_t cols, char *out, size_t cap)
{
    size_t width = 0, used = 0;
    mbstate_t st;
    memset(&st, 0, sizeof(st));
    while (*s && cols > 0) {
        wchar_t wc;
        size_t len = mbrtowc(&wc, s, MB_CUR_MAX, &st);
        int w = 1;
        if (len == (size_t)-1 || len == (size_t)-2 || len == 0) {
            memset(&st, 0, sizeof(st));
            len = 1;
        } else if ((w = wcwidth(wc)) < 0) {
            w = 0;
        }
        if (width + (size_t)w > cols - 1 || used + len + 4 > cap)
            break;
        memcpy(out + used, s, len);
        used += len;
        width += (size_t)w;
        s += len;
    }
    snprintf(out + used, cap - used, "%s", cols > 0 ? "\xe2\x80\xa6" : ""); /* … */
}

/*
 * Fits the table to `width` columns by cutting cells: free text first, down
 * to 10 columns, then names down to 20, then both down to their header's
 * width (ids, codes and numbers are never cut: a cut id is another id).
 */
static void fit(sbctl_table_t *t, size_t n, size_t width)
{
    size_t w[MAX_COLUMNS] = {0}, total = 0;
    int shown = 0;
    for (int c = 0; c < t->n_columns; c++) {
        struct libscols_column *col = scols_table_get_column(t->tb, (size_t)c);
        if ((t->flags[c] & SBCTL_COL_WIDE) != 0)
            continue;
        w[c] = display_width(scols_column_get_name(col));
        for (size_t i = 0; i < n; i++) {
            size_t cw = display_width(cell_text(scols_table_get_line(t->tb, i), c));
            w[c] = cw > w[c] ? cw : w[c];
        }
        total += w[c];
        shown++;
    }
    total += shown > 1 ? 2 * (size_t)(shown - 1) : 0;
    /* Three rounds, each taking what is over from the widest cuttable column first. */
    static const struct {
        unsigned flags;
        size_t floor;
    } rounds[] = {
        {SBCTL_COL_LONG, 10}, {SBCTL_COL_TRUNC, 20}, {SBCTL_COL_LONG | SBCTL_COL_TRUNC, 0}};
    size_t cut[MAX_COLUMNS];
    memcpy(cut, w, sizeof(cut));
    for (size_t r = 0; r < sizeof(rounds) / sizeof(rounds[0]) && total > width; r++) {
        for (;;) {
            int widest = -1;
            for (int c = 0; c < t->n_columns; c++) {
                struct libscols_column *col = scols_table_get_column(t->tb, (size_t)c);
                size_t floor = rounds[r].floor ? rounds[r].floor
                                               : display_width(scols_column_get_name(col)) + 1;
                if ((t->flags[c] & rounds[r].flags) && !(t->flags[c] & SBCTL_COL_WIDE) &&
                    cut[c] > floor && (widest < 0 || cut[c] > cut[widest]))
                    widest = c;
            }
            if (widest < 0 || total <= width)
                break;
            cut[widest]--;
            total--;
        }
    }
    char text[4096];
    for (int c = 0; c < t->n_columns; c++) {
        if (cut[c] >= w[c])
            continue;
        for (size_t i = 0; i < n; i++) {
            struct libscols_line *ln = scols_table_get_line(t->tb, i);
            const char *s = cell_text(ln, c);
            if (display_width(s) <= cut[c])
                continue;
            cut_to(s, cut[c], text, sizeof(text));
            scols_line_set_data(ln, (size_t)c, text);
        }
    }
}

void sbctl_table_print(sbctl_table_t *t, FILE *out)
{
    size_t n = scols_table_get_nlines(t->tb);
    if (sbctl_view.format == SBCTL_FORMAT_CSV) {
        for (int c = 0; c < t->n_columns; c++) {
            struct libscols_column *col = scols_table_get_column(t->tb, (size_t)c);
            if (c)
                fputc(',', out);
            /* The header as the column's name: lower case, as the import reads it. */
            char head[64];
            snprintf(head, sizeof(head), "%s", col ? scols_column_get_name(col) : "");
            for (char *p = head; *p; p++)
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p == '-' ? '_' : *p);
            csv_field(out, head);
        }
        fputc('\n', out);
    }
    if (n == 0) {
        if (sbctl_view.format == SBCTL_FORMAT_TABLE || sbctl_view.format == SBCTL_FORMAT_WIDE)
            fprintf(out, "(none)\n");
        return;
    }
    if (sbctl_view.format == SBCTL_FORMAT_CSV || sbctl_view.format == SBCTL_FORMAT_NAME) {
        for (size_t i = 0; i < n; i++) {
            struct libscols_line *ln = scols_table_get_line(t->tb, i);
            for (int c = 0; c < (sbctl_view.format == SBCTL_FORMAT_NAME ? 1 : t->n_columns); c++) {
                if (c)
                    fputc(',', out);
                if (sbctl_view.format == SBCTL_FORMAT_CSV)
                    csv_field(out, cell_text(ln, c));
                else
                    fputs(cell_text(ln, c), out);
            }
            fputc('\n', out);
        }
        return;
    }
    /* The table is fitted here, not by libsmartcols (whose cuts fall on short names
     * first); it only lays out the cells, by their display width. */
    scols_table_set_termforce(t->tb, SCOLS_TERMFORCE_NEVER);
    if (sbctl_view.format == SBCTL_FORMAT_TABLE)
        fit(t, n, table_width());
    scols_table_set_stream(t->tb, out);
    scols_print_table(t->tb);
}

void sbctl_table_free(sbctl_table_t *t)
{
    if (t == NULL)
        return;
    scols_unref_table(t->tb);
    free(t);
}
