/* The rows of an import's CSV file, checked whole; see csv_rows.h. */
#include "csv_rows.h"

#include <csv.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

typedef struct reader {
    const sbctl_csv_column_t *columns; /* the kind's columns */
    int n_columns, n_required;
    const sbctl_csv_opts_t *opts;
    int map[SBCTL_CSV_MAX_COLUMNS]; /* file column -> kind column, or -1 */
    int file_columns;
    bool header_done;
    int field_index;
    char *pending[SBCTL_CSV_MAX_COLUMNS];
    sbctl_csv_row_t *rows;
    size_t n, cap;
    size_t line;        /* the physical line being parsed, from 1 */
    size_t record_line; /* the line the current record started on */
    bool awaiting;      /* between records: the next non-blank byte starts one */
    bool ended_line;    /* the last piece fed ended a line */
    bool after_cr;      /* ... with a CR: a LF next is the same line end (CRLF) */
    char error[640];
    char warning[640];
} reader_t;

static const char *column_name(const reader_t *r, int file_column)
{
    if (!r->header_done)
        return "header";
    return r->map[file_column] >= 0 ? r->columns[r->map[file_column]].name : "?";
}

/* The name the header gives the kind's column c. */
static const char *header_name(const reader_t *r, int c)
{
    return r->opts->header[c] != NULL ? r->opts->header[c] : r->columns[c].name;
}

/* The line of byte `at` of a field that ends on the current line. Lines end
 * with LF, CRLF or a CR alone, as feed() counts them. */
static size_t line_of(const reader_t *r, const char *s, size_t len, size_t at)
{
    size_t after = 0;
    for (size_t i = at; i < len; i++)
        after += s[i] == '\n' || (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n'));
    return r->line - after;
}

/* Checks a field's bytes against its column's rule; fills r->error. */
static void check_field(reader_t *r, const char *s, size_t len)
{
    int col = r->field_index;
    sbctl_csv_rule_t rule =
        r->header_done && r->map[col] >= 0 ? r->columns[r->map[col]].rule : SBCTL_CSV_TEXT;
    /* A NUL first, wherever it is in the field: it is what a C string
     * would silently cut the value at. */
    const char *nul = memchr(s, '\0', len);
    for (size_t i = nul ? (size_t)(nul - s) : 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *why = NULL;
        if (c == '\0')
            why = "a NUL byte";
        else if (rule == SBCTL_CSV_ID &&
                 !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            why = "a character other than a letter or a digit";
        else if (rule == SBCTL_CSV_WORD && !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            why = "a character other than a letter";
        else if (c == '\n' || c == '\r')
            why = "a line break inside a quoted field";
        else if (c < 0x20 || c == 0x7f)
            why = "a control character";
        if (why != NULL) {
            snprintf(r->error, sizeof(r->error),
                     "line %zu, column %d (%s): %s (byte 0x%02x) at byte %zu of the field",
                     line_of(r, s, len, i), col + 1, column_name(r, col), why, c, i + 1);
            return;
        }
    }
    if (rule == SBCTL_CSV_TEXT) {
        char *copy = strndup(s, len);
        size_t chars;
        if (copy != NULL && !sb_utf8_count(copy, &chars))
            snprintf(r->error, sizeof(r->error),
                     "line %zu, column %d (%s): the field is not valid UTF-8",
                     line_of(r, s, len, 0), col + 1, column_name(r, col));
        free(copy);
    }
}

static void field_cb(void *vs, size_t len, void *data)
{
    reader_t *r = data;
    const char *s = vs;
    if (r->error[0])
        return;
    if (r->field_index >= SBCTL_CSV_MAX_COLUMNS) {
        snprintf(r->error, sizeof(r->error), "line %zu has more than %d fields", r->record_line,
                 SBCTL_CSV_MAX_COLUMNS);
        return;
    }
    if (r->header_done && r->field_index >= r->file_columns) {
        snprintf(r->error, sizeof(r->error), "line %zu has more fields than the header's %d",
                 r->record_line, r->file_columns);
        return;
    }
    if (r->header_done && r->map[r->field_index] < 0) {
        /* An ignored column: neither checked nor kept (a Data Loader
         * export's other fields may hold anything). */
        r->pending[r->field_index++] = NULL;
        return;
    }
    if (len > SBCTL_CSV_MAX_FIELD) {
        snprintf(r->error, sizeof(r->error),
                 "line %zu, column %d (%s): the field is longer than %d bytes",
                 line_of(r, s, len, 0), r->field_index + 1, column_name(r, r->field_index),
                 SBCTL_CSV_MAX_FIELD);
        return;
    }
    check_field(r, s ? s : "", s ? len : 0);
    if (r->error[0])
        return;
    r->pending[r->field_index] = strndup(s ? s : "", s ? len : 0);
    if (r->pending[r->field_index] == NULL) {
        snprintf(r->error, sizeof(r->error), "out of memory at line %zu", r->line);
        return;
    }
    r->field_index++;
}

static void clear_pending(reader_t *r)
{
    for (int i = 0; i < r->field_index; i++) {
        free(r->pending[i]);
        r->pending[i] = NULL;
    }
    r->field_index = 0;
}

static void header(reader_t *r)
{
    r->file_columns = r->field_index;
    int found[SBCTL_CSV_KIND_COLUMNS] = {0};
    size_t ignored = 0;
    for (int i = 0; i < r->field_index; i++) {
        r->map[i] = -1;
        /* A header named by --columns (or --data-loader) is that column's
         * alone, and that column takes no other: "profile=Role" reads Role as
         * the profile, not as the column named role. */
        for (int c = 0; c < r->n_columns && r->map[i] < 0; c++)
            if (r->opts->header[c] != NULL && strcasecmp(r->pending[i], r->opts->header[c]) == 0)
                r->map[i] = c;
        for (int c = 0; c < r->n_columns && r->map[i] < 0; c++) {
            if (r->opts->header[c] != NULL)
                continue;
            if (strcasecmp(r->pending[i], r->columns[c].name) == 0 ||
                (r->columns[c].alias != NULL &&
                 strcasecmp(r->pending[i], r->columns[c].alias) == 0)) {
                r->map[i] = c;
                found[c]++;
            }
        }
        if (r->map[i] >= 0 && r->opts->header[r->map[i]] != NULL)
            found[r->map[i]]++;
        if (r->map[i] >= 0 || r->error[0])
            continue;
        if (!r->opts->ignore_extra) {
            snprintf(r->error, sizeof(r->error),
                     "line %zu: the header names a column '%.60s' that this import does not take",
                     r->record_line, r->pending[i]);
            continue;
        }
        /* Named in the warning while it has room; counted always. */
        size_t used = strlen(r->warning);
        if (ignored == 0)
            snprintf(r->warning, sizeof(r->warning), "columns ignored: %.60s", r->pending[i]);
        else if (used + strlen(r->pending[i]) + 8 < sizeof(r->warning))
            snprintf(r->warning + used, sizeof(r->warning) - used, ", %s", r->pending[i]);
        else if (strstr(r->warning, ", ...") == NULL)
            snprintf(r->warning + used, sizeof(r->warning) - used, ", ...");
        ignored++;
    }
    for (int c = 0; c < r->n_columns && !r->error[0]; c++)
        if ((c < r->n_required && found[c] != 1) || found[c] > 1)
            snprintf(r->error, sizeof(r->error),
                     "line %zu: the header needs the column '%s' exactly once%s%.400s%s",
                     r->record_line, header_name(r, c), ignored ? " (" : "", r->warning,
                     ignored ? ")" : "");
    r->header_done = true;
}

static void row_cb(int terminator, void *data)
{
    (void)terminator;
    reader_t *r = data;
    r->awaiting = true;
    if (r->error[0]) {
        clear_pending(r);
        return;
    }
    if (!r->header_done) {
        header(r);
        clear_pending(r);
        return;
    }
    if (r->field_index != r->file_columns) {
        snprintf(r->error, sizeof(r->error), "line %zu has %d fields; the header has %d",
                 r->record_line, r->field_index, r->file_columns);
        clear_pending(r);
        return;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        sbctl_csv_row_t *grown = realloc(r->rows, cap * sizeof(*grown));
        if (grown == NULL) {
            snprintf(r->error, sizeof(r->error), "out of memory at line %zu", r->record_line);
            clear_pending(r);
            return;
        }
        r->rows = grown;
        r->cap = cap;
    }
    sbctl_csv_row_t *row = &r->rows[r->n++];
    memset(row, 0, sizeof(*row));
    row->line = r->record_line;
    for (int i = 0; i < r->field_index; i++) {
        if (r->map[i] >= 0)
            row->field[r->map[i]] = r->pending[i];
        else
            free(r->pending[i]); /* NULL: an ignored column keeps nothing */
        r->pending[i] = NULL;
    }
    r->field_index = 0;
    for (int c = 0; c < r->n_required && !r->error[0]; c++)
        if (row->field[c] == NULL || row->field[c][0] == '\0')
            snprintf(r->error, sizeof(r->error), "line %zu has no %s", row->line,
                     r->columns[c].name);
}

static const char *parse_error(struct csv_parser *parser)
{
    if (csv_error(parser) == CSV_EPARSE)
        return "a stray quote (a field that holds a quote is quoted whole, its quotes doubled)";
    return csv_strerror(csv_error(parser));
}

/* Feeds one piece of one physical line (it ends at the line's LF or CR, or
 * before it). libcsv says nothing of lines: the reader counts them (LF, CRLF
 * and a CR alone each end one, as libcsv ends records at each), and a record
 * starts at the first byte libcsv does not skip (blank lines and leading
 * blanks are skipped). */
static void feed(reader_t *r, struct csv_parser *parser, const char *piece, size_t len)
{
    if (r->awaiting && len > strspn(piece, " \t\r\n")) {
        r->record_line = r->line;
        r->awaiting = false;
    }
    if (csv_parse(parser, piece, len, field_cb, row_cb, r) != len && !r->error[0])
        snprintf(r->error, sizeof(r->error), "line %zu: %s", r->line, parse_error(parser));
    bool lf = len > 0 && piece[len - 1] == '\n', cr = len > 0 && piece[len - 1] == '\r';
    /* A piece "\n" right after a CR ends the line the CR already counted. */
    if (cr || (lf && !(len == 1 && r->after_cr)))
        r->line++;
    r->ended_line = lf || cr;
    r->after_cr = cr;
}

static int read_file(FILE *f, reader_t *r)
{
    r->line = 1;
    r->record_line = 1;
    r->awaiting = true;
    struct csv_parser parser;
    csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL);
    /* One byte more than a read, for a terminating NUL: strcspn here and
     * strspn in feed() stop there (or at a NUL of the file's, which only
     * ends a piece early: the next one goes on with the same line). */
    char buf[65536 + 1];
    size_t n;
    bool first = true;
    while (!r->error[0] && (n = fread(buf, 1, sizeof(buf) - 1, f)) > 0) {
        buf[n] = '\0';
        size_t start = 0;
        /* A UTF-8 byte-order mark, as Excel writes one before the header:
         * not part of the first column's name. */
        if (first && n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
            start = 3;
        first = false;
        for (size_t off = start; off < n && !r->error[0];) {
            size_t len = strcspn(buf + off, "\r\n");
            len = off + len < n ? len + 1 : n - off; /* with its line end (or NUL) */
            char keep = buf[off + len];
            buf[off + len] = '\0';
            feed(r, &parser, buf + off, len);
            buf[off + len] = keep;
            off += len;
        }
    }
    if (!r->error[0] && ferror(f))
        snprintf(r->error, sizeof(r->error), "cannot read it: %s", strerror(errno));
    if (r->ended_line && r->line > 1)
        r->line--; /* csv_fini ends the last line, which its newline already counted */
    if (!r->error[0] && csv_fini(&parser, field_cb, row_cb, r) != 0)
        snprintf(r->error, sizeof(r->error), "line %zu: %s", r->record_line,
                 csv_error(&parser) == CSV_EPARSE
                     ? "a quoted field of this record is never closed (a quote is missing)"
                     : parse_error(&parser));
    csv_free(&parser);
    clear_pending(r);
    if (!r->error[0] && !r->header_done)
        snprintf(r->error, sizeof(r->error), "it is empty: a header row is needed");
    return r->error[0] ? -1 : 0;
}

static const sbctl_csv_row_t *sort_rows;
static int by_id(const void *a, const void *b)
{
    const sbctl_csv_row_t *x = &sort_rows[*(const size_t *)a], *y = &sort_rows[*(const size_t *)b];
    /* Ids compare on their first 15 characters: an 18-character id is the
     * same record as its 15-character form. */
    int c = strncmp(x->field[0], y->field[0], 15);
    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

int sbctl_csv_unique_ids(sbctl_csv_t *csv, const char *what)
{
    if (csv->n < 2)
        return 0;
    size_t *order = malloc(csv->n * sizeof(*order));
    if (order == NULL) {
        snprintf(csv->error, sizeof(csv->error), "out of memory");
        return -1;
    }
    for (size_t i = 0; i < csv->n; i++)
        order[i] = i;
    sort_rows = csv->rows;
    qsort(order, csv->n, sizeof(*order), by_id);
    for (size_t i = 1; i < csv->n && !csv->error[0]; i++) {
        const sbctl_csv_row_t *a = &csv->rows[order[i - 1]], *b = &csv->rows[order[i]];
        if (strncmp(a->field[0], b->field[0], 15) == 0)
            snprintf(csv->error, sizeof(csv->error),
                     "line %zu names the %s %.18s again (first on line %zu)", b->line, what,
                     b->field[0], a->line);
    }
    free(order);
    return csv->error[0] ? -1 : 0;
}

int sbctl_csv_read_with(FILE *f, const sbctl_csv_column_t *columns, int n_columns, int n_required,
                        const sbctl_csv_opts_t *opts, sbctl_csv_t *out)
{
    memset(out, 0, sizeof(*out));
    /* Large (a file column map and its pending fields): on the heap. */
    reader_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(out->error, sizeof(out->error), "out of memory");
        return -1;
    }
    r->columns = columns;
    r->n_columns = n_columns;
    r->n_required = n_required;
    r->opts = opts;
    int rc = read_file(f, r);
    memcpy(out->error, r->error, sizeof(out->error));
    memcpy(out->warning, r->warning, sizeof(out->warning));
    out->rows = r->rows;
    out->n = r->n;
    free(r);
    if (rc != 0)
        sbctl_csv_free(out);
    return rc;
}

int sbctl_csv_read(FILE *f, const sbctl_csv_column_t *columns, int n_columns, int n_required,
                   sbctl_csv_t *out)
{
    static const sbctl_csv_opts_t strict = {.ignore_extra = false};
    return sbctl_csv_read_with(f, columns, n_columns, n_required, &strict, out);
}

void sbctl_csv_free(sbctl_csv_t *csv)
{
    for (size_t i = 0; i < csv->n; i++)
        for (int c = 0; c < SBCTL_CSV_KIND_COLUMNS; c++)
            free(csv->rows[i].field[c]);
    free(csv->rows);
    csv->rows = NULL;
    csv->n = 0;
}
