/*
 * sbctl user import / member import / contact import: a CSV file with a
 * header row, read with libcsv and checked whole before anything is sent.
 *
 *   users:    id,name,profile      (profile may be left out)
 *   members:  user,callcenter      (callcenter: an id or an internal name)
 *   contacts: id,name,phone        (mobile_phone, other_phone, type optional)
 *
 * Nothing of a refused file is written. Three passes:
 *   1. the file: every byte of every field against its column's rule (a NUL
 *      byte, a control character, bad UTF-8 are refused, never cut short),
 *      the column count, the required columns, a user twice in a member
 *      file; errors name the file's physical line (that of the byte at
 *      fault, also inside a quoted field that spans lines) and the column;
 *   2. the server: every chunk as a dry run, which makes the write in a
 *      transaction it then drops, so that every rule only the server can
 *      judge (an unknown Call Center, a user who is a member elsewhere, a
 *      phone number read with the Call Center's prefixes) is checked before
 *      the first write; a refused row is reported with its line;
 *   3. the write: the whole file in one request (one transaction) when it
 *      fits the server's limits (server.info: max_batch, max_message_bytes),
 *      else chunk by chunk, each one atomic.
 * When a file takes more than one request, what is left between 2 and 3 is
 * a race with other writers (or a lost connection, a crash): then the
 * report says which lines were written.
 */
#include <csv.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "rpc.h"
#include "sbctl.h"
#include "utf8.h"

#define MAX_COLUMNS 16
#define MAX_FIELD 1024

/* What a column's bytes may be. */
typedef enum rule {
    RULE_ID,   /* a record id or an internal name: ASCII letters and digits */
    RULE_TEXT, /* a name, a phone number: UTF-8 without control characters */
    RULE_WORD, /* a type: ASCII letters */
} rule_t;

typedef struct column {
    const char *name;
    rule_t rule;
} column_t;

typedef struct row {
    char *field[6]; /* in the order of the kind's columns */
    size_t line;    /* the physical line the record starts on */
} row_t;

typedef struct reader {
    const column_t *columns; /* the kind's columns */
    int n_columns, n_required;
    int map[MAX_COLUMNS]; /* file column -> kind column, or -1 */
    int file_columns;
    bool header_done;
    int field_index;
    char *pending[MAX_COLUMNS];
    row_t *rows;
    size_t n, cap;
    size_t line;        /* the physical line being parsed, from 1 */
    size_t record_line; /* the line the current record started on */
    bool awaiting;      /* between records: the next non-blank byte starts one */
    bool ended_line;    /* the last piece fed ended with a newline */
    char error[640];
} reader_t;

static const char *column_name(const reader_t *r, int file_column)
{
    if (!r->header_done)
        return "header";
    return r->map[file_column] >= 0 ? r->columns[r->map[file_column]].name : "?";
}

/* The line of byte `at` of a field that ends on the current line. */
static size_t line_of(const reader_t *r, const char *s, size_t len, size_t at)
{
    size_t after = 0;
    for (size_t i = at; i < len; i++)
        after += s[i] == '\n';
    return r->line - after;
}

/* Checks a field's bytes against its column's rule; fills r->error. */
static void check_field(reader_t *r, const char *s, size_t len)
{
    int col = r->field_index;
    rule_t rule = r->header_done && r->map[col] >= 0 ? r->columns[r->map[col]].rule : RULE_TEXT;
    /* A NUL first, wherever it is in the field: it is what a C string
     * would silently cut the value at. */
    const char *nul = memchr(s, '\0', len);
    for (size_t i = nul ? (size_t)(nul - s) : 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *why = NULL;
        if (c == '\0')
            why = "a NUL byte";
        else if (rule == RULE_ID &&
                 !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            why = "a character other than a letter or a digit";
        else if (rule == RULE_WORD && !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
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
    if (rule == RULE_TEXT) {
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
    if (r->field_index >= MAX_COLUMNS) {
        snprintf(r->error, sizeof(r->error), "line %zu has more than %d fields", r->record_line,
                 MAX_COLUMNS);
        return;
    }
    if (r->header_done && r->field_index >= r->file_columns) {
        snprintf(r->error, sizeof(r->error), "line %zu has more fields than the header's %d",
                 r->record_line, r->file_columns);
        return;
    }
    if (len > MAX_FIELD) {
        snprintf(r->error, sizeof(r->error),
                 "line %zu, column %d (%s): the field is longer than %d bytes",
                 line_of(r, s, len, 0), r->field_index + 1, column_name(r, r->field_index),
                 MAX_FIELD);
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
    int found[MAX_COLUMNS] = {0};
    for (int i = 0; i < r->field_index; i++) {
        r->map[i] = -1;
        for (int c = 0; c < r->n_columns; c++) {
            if (strcasecmp(r->pending[i], r->columns[c].name) == 0) {
                r->map[i] = c;
                found[c]++;
            }
        }
        if (r->map[i] < 0 && !r->error[0])
            snprintf(r->error, sizeof(r->error),
                     "line %zu: the header names a column '%.60s' that this import does not take",
                     r->record_line, r->pending[i]);
    }
    for (int c = 0; c < r->n_columns && !r->error[0]; c++)
        if ((c < r->n_required && found[c] != 1) || found[c] > 1)
            snprintf(r->error, sizeof(r->error),
                     "line %zu: the header needs the column '%s' exactly once", r->record_line,
                     r->columns[c].name);
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
        row_t *grown = realloc(r->rows, cap * sizeof(*grown));
        if (grown == NULL) {
            snprintf(r->error, sizeof(r->error), "out of memory at line %zu", r->record_line);
            clear_pending(r);
            return;
        }
        r->rows = grown;
        r->cap = cap;
    }
    row_t *row = &r->rows[r->n++];
    memset(row, 0, sizeof(*row));
    row->line = r->record_line;
    for (int i = 0; i < r->field_index; i++) {
        row->field[r->map[i]] = r->pending[i];
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

/* Feeds one piece of one physical line (it ends at the line's '\n' or
 * before it). libcsv says nothing of lines: the reader counts them, and a
 * record starts at the first byte libcsv does not skip (blank lines and
 * leading blanks are skipped). */
static void feed(reader_t *r, struct csv_parser *parser, const char *piece, size_t len)
{
    if (r->awaiting && len > strspn(piece, " \t\r\n")) {
        r->record_line = r->line;
        r->awaiting = false;
    }
    if (csv_parse(parser, piece, len, field_cb, row_cb, r) != len && !r->error[0])
        snprintf(r->error, sizeof(r->error), "line %zu: %s", r->line, parse_error(parser));
    r->ended_line = len > 0 && piece[len - 1] == '\n';
    if (r->ended_line)
        r->line++;
}

static int read_csv(const char *path, reader_t *r)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        snprintf(r->error, sizeof(r->error), "cannot open it: %s", strerror(errno));
        return -1;
    }
    r->line = 1;
    r->record_line = 1;
    r->awaiting = true;
    struct csv_parser parser;
    csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL);
    /* One byte more than a read: strspn in feed() needs a terminated piece. */
    char buf[65536 + 1];
    size_t n;
    while (!r->error[0] && (n = fread(buf, 1, sizeof(buf) - 1, f)) > 0) {
        for (size_t off = 0; off < n && !r->error[0];) {
            const char *nl = memchr(buf + off, '\n', n - off);
            size_t len = nl ? (size_t)(nl - (buf + off)) + 1 : n - off;
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
    if (f != stdin)
        fclose(f);
    if (!r->error[0] && !r->header_done)
        snprintf(r->error, sizeof(r->error), "it is empty: a header row is needed");
    return r->error[0] ? -1 : 0;
}

/* Member files: a user twice is refused (which Call Center would win?). */
static const row_t *sort_rows;
static int by_user(const void *a, const void *b)
{
    const row_t *x = &sort_rows[*(const size_t *)a], *y = &sort_rows[*(const size_t *)b];
    /* Ids compare on their first 15 characters: an 18-character id is the
     * same record as its 15-character form. */
    int c = strncmp(x->field[0], y->field[0], 15);
    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

static int check_duplicates(reader_t *r)
{
    if (r->n < 2)
        return 0;
    size_t *order = malloc(r->n * sizeof(*order));
    if (order == NULL) {
        snprintf(r->error, sizeof(r->error), "out of memory");
        return -1;
    }
    for (size_t i = 0; i < r->n; i++)
        order[i] = i;
    sort_rows = r->rows;
    qsort(order, r->n, sizeof(*order), by_user);
    for (size_t i = 1; i < r->n && !r->error[0]; i++) {
        const row_t *a = &r->rows[order[i - 1]], *b = &r->rows[order[i]];
        if (strncmp(a->field[0], b->field[0], 15) == 0)
            snprintf(r->error, sizeof(r->error),
                     "line %zu names the user %.18s again (first on line %zu): a user belongs to "
                     "one Call Center",
                     b->line, b->field[0], a->line);
    }
    free(order);
    return r->error[0] ? -1 : 0;
}

static void progress(size_t done, size_t total)
{
    if (!isatty(STDERR_FILENO))
        return;
    int width = 40, filled = total ? (int)(done * (size_t)width / total) : width;
    fprintf(stderr, "\r[%.*s%*s] %3d%%  %zu/%zu rows", filled,
            "########################################", width - filled, "",
            total ? (int)(done * 100 / total) : 100, done, total);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Packs the request for rows[from..to). */
static void pack_chunk(msgpack_sbuffer *buf, const char *what, const char *org, const row_t *rows,
                       size_t from, size_t to, const sbctl_import_opts_t *opts, bool dry_run)
{
    bool users = strcmp(what, "user") == 0, contacts = strcmp(what, "contact") == 0;
    msgpack_sbuffer_clear(buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, users ? 3 : contacts ? 4 + (opts->country_code != NULL) : 4);
    sb_pack_kv_str(&pk, "org", org);
    sb_pack_str(&pk, users ? "users" : contacts ? "contacts" : "rows");
    msgpack_pack_array(&pk, to - from);
    for (size_t i = from; i < to; i++) {
        const row_t *row = &rows[i];
        if (users) {
            msgpack_pack_map(&pk, 3);
            sb_pack_kv_str(&pk, "id", row->field[0]);
            sb_pack_kv_str(&pk, "name", row->field[1]);
            sb_pack_kv_str(&pk, "profile", row->field[2] ? row->field[2] : "");
        } else if (contacts) {
            msgpack_pack_map(&pk, 4);
            sb_pack_kv_str(&pk, "id", row->field[0]);
            sb_pack_kv_str(&pk, "name", row->field[1]);
            sb_pack_kv_str(&pk, "type", row->field[5] ? row->field[5] : "");
            size_t n = 0;
            for (int c = 2; c <= 4; c++)
                n += row->field[c] != NULL && row->field[c][0] != '\0';
            sb_pack_str(&pk, "phones");
            msgpack_pack_array(&pk, n);
            for (int c = 2; c <= 4; c++)
                if (row->field[c] != NULL && row->field[c][0] != '\0')
                    sb_pack_str(&pk, row->field[c]);
        } else {
            msgpack_pack_map(&pk, 2);
            sb_pack_kv_str(&pk, "user", row->field[0]);
            sb_pack_kv_str(&pk, "callcenter", row->field[1]);
        }
    }
    if (contacts) {
        sb_pack_kv_str(&pk, "callcenter", opts->callcenter);
        if (opts->country_code != NULL)
            sb_pack_kv_str(&pk, "country_code", opts->country_code);
    }
    if (!users && !contacts)
        sb_pack_kv_bool(&pk, "move", opts->move);
    /* No first_line: a record can span lines, so the server's row numbers
     * are turned into the file's lines here (refused()). */
    sb_pack_kv_bool(&pk, "dry_run", dry_run);
}

/*
 * Reports a refused chunk rows[from..to): a server message that starts with
 * "Row N" (the row in the request) names the file's line instead.
 */
static void refused(const char *path, const reader_t *r, size_t from, size_t to, int rc,
                    const sb_client_t *client, const char *message, bool dry_run, size_t done)
{
    const char *name = rc == SB_CLIENT_REFUSED ? client->error_name : "";
    const char *sep = rc == SB_CLIENT_REFUSED ? ": " : "";
    size_t row = 0;
    const char *rest = message;
    char *end = NULL;
    if (strncmp(message, "Row ", 4) == 0)
        row = strtoul(message + 4, &end, 10);
    if (end != NULL && end != message + 4 && row >= 1 && row <= to - from) {
        const char *colon = strstr(end, ": ");
        rest = colon ? colon + 2 : end;
    } else if (to - from == 1) {
        row = 1;
    } else {
        row = 0;
    }
    if (isatty(STDERR_FILENO) && !dry_run)
        fputc('\n', stderr);
    if (row > 0)
        fprintf(stderr, "sbctl: %s: line %zu: %s%s%s\n", path, r->rows[from + row - 1].line, name,
                sep, rest);
    else
        fprintf(stderr,
                "sbctl: %s: the records of lines %zu to %zu were refused, as one request: "
                "%s%s%s\n",
                path, r->rows[from].line, r->rows[to - 1].line, name, sep, message);
    if (dry_run || done == 0)
        fprintf(stderr, "sbctl: nothing was imported.\n");
    else
        fprintf(stderr,
                "sbctl: the %zu records before line %zu were imported (they passed the check, "
                "then this one changed: another writer?); nothing from line %zu on was.\n",
                done, r->rows[from].line, r->rows[from].line);
}

/* The server's limits on one request, so that a file goes in as few requests as it can. */
typedef struct limits {
    size_t rows, bytes;
} limits_t;

static limits_t server_limits(sb_client_t *client, const sbctl_import_opts_t *opts)
{
    limits_t l = {opts->chunk ? opts->chunk : 1000, 1 << 20}; /* the server's defaults */
    msgpack_unpacked result;
    sb_err_t err;
    if (sb_client_call(client, "server.info", NULL, &result, &err) == 0) {
        const msgpack_object *limits = sb_obj_get(&result.data, "limits");
        const msgpack_object *batch = limits ? sb_obj_get(limits, "max_batch") : NULL;
        const msgpack_object *bytes = limits ? sb_obj_get(limits, "max_message_bytes") : NULL;
        if (batch && batch->type == MSGPACK_OBJECT_POSITIVE_INTEGER && opts->chunk == 0)
            l.rows = (size_t)batch->via.u64;
        if (bytes && bytes->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            l.bytes = (size_t)bytes->via.u64;
    }
    msgpack_unpacked_destroy(&result);
    if (l.rows == 0)
        l.rows = 1;
    return l;
}

/* Room for the request's envelope around the arguments: [0, msgid, method, [args]]. */
#define ENVELOPE_BYTES 64

/* Sends rows in chunks (as dry runs, or for real). Returns an exit status. */
static int send_chunks(sb_client_t *client, const char *what, const char *org, const char *path,
                       const reader_t *r, const sbctl_import_opts_t *opts, const limits_t *limits,
                       bool dry_run, size_t *done, size_t *requests)
{
    static const struct {
        const char *what, *method;
    } methods[] = {{"user", "user.upsert_bulk"},
                   {"member", "member.add_bulk"},
                   {"contact", "contact.upsert_bulk"}};
    const char *method = NULL;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(methods[i].what, what) == 0)
            method = methods[i].method;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    int status = SBCTL_OK;
    *done = 0;
    if (!dry_run)
        progress(0, r->n);
    while (*done < r->n) {
        size_t to = *done + limits->rows < r->n ? *done + limits->rows : r->n;
        pack_chunk(&buf, what, org, r->rows, *done, to, opts, dry_run);
        /* Over the server's message cap: halve until it fits (one row always goes). */
        while (buf.size + ENVELOPE_BYTES > limits->bytes && to - *done > 1) {
            to = *done + (to - *done) / 2;
            pack_chunk(&buf, what, org, r->rows, *done, to, opts, dry_run);
        }
        msgpack_unpacked result;
        sb_err_t err;
        int rc = sb_client_call(client, method, &buf, &result, &err);
        msgpack_unpacked_destroy(&result);
        (*requests)++;
        if (rc != 0) {
            refused(path, r, *done, to, rc, client, err.message, dry_run, *done);
            status = rc == SB_CLIENT_REFUSED ? SBCTL_REFUSED : SBCTL_UNREACHABLE;
            break;
        }
        *done = to;
        if (!dry_run)
            progress(*done, r->n);
    }
    msgpack_sbuffer_destroy(&buf);
    return status;
}

int sbctl_import(sb_client_t *client, const char *what, const char *org, const char *path,
                 const sbctl_import_opts_t *opts, bool json)
{
    static const column_t user_columns[] = {
        {"id", RULE_ID}, {"name", RULE_TEXT}, {"profile", RULE_TEXT}};
    static const column_t member_columns[] = {{"user", RULE_ID}, {"callcenter", RULE_ID}};
    static const column_t contact_columns[] = {{"id", RULE_ID},
                                               {"name", RULE_TEXT},
                                               {"phone", RULE_TEXT},
                                               {"mobile_phone", RULE_TEXT},
                                               {"other_phone", RULE_TEXT},
                                               {"type", RULE_WORD}};
    bool users = strcmp(what, "user") == 0, contacts = strcmp(what, "contact") == 0;
    reader_t r = {.columns = users      ? user_columns
                             : contacts ? contact_columns
                                        : member_columns,
                  .n_columns = users      ? 3
                               : contacts ? 6
                                          : 2,
                  .n_required = 2};
    int status = SBCTL_OK;
    if (read_csv(path, &r) != 0 || (!users && !contacts && check_duplicates(&r) != 0)) {
        fprintf(stderr, "sbctl: %s: %s; nothing was imported.\n", path, r.error);
        status = SBCTL_USAGE;
        goto out;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t done = 0, requests = 0;
    limits_t limits = server_limits(client, opts);
    status = send_chunks(client, what, org, path, &r, opts, &limits, true, &done, &requests);
    if (status == SBCTL_OK)
        status = send_chunks(client, what, org, path, &r, opts, &limits, false, &done, &requests);
    double secs = seconds_since(&start);
    if (status == SBCTL_OK) {
        if (json) {
            json_t *summary = json_pack("{s:I, s:I, s:f}", "imported", (json_int_t)done, "requests",
                                        (json_int_t)requests, "seconds", secs);
            json_dumpf(summary, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
            json_decref(summary);
        } else
            printf("imported %zu %s from %s in %zu request%s (%.2f s, %.0f rows/s)\n", done,
                   users      ? "users"
                   : contacts ? "contacts"
                              : "memberships",
                   path, requests, requests == 1 ? "" : "s", secs,
                   secs > 0 ? (double)done / secs : 0.0);
    }
out:
    for (size_t i = 0; i < r.n; i++)
        for (int c = 0; c < 6; c++)
            free(r.rows[i].field[c]);
    free(r.rows);
    return status;
}
