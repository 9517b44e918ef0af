/*
 * sbctl user import / member import: a CSV file with a header row, read with
 * libcsv and checked whole before anything is sent; then sent in chunks,
 * each one atomic on the server, with a progress bar on a terminal.
 *
 *   users:    id,name,profile      (profile may be left out)
 *   members:  user,callcenter      (callcenter: an id or an internal name)
 *   contacts: id,name,phone        (mobile_phone, other_phone, type optional)
 *
 * Contacts are sent twice: first every chunk as a dry run, which the server
 * checks and normalizes without writing, then for real. A bad number, which
 * only the server can judge (it reads numbers with the Call Center's dialing
 * prefixes), is then reported with its line before anything is written.
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

#define MAX_COLUMNS 16
#define MAX_FIELD 1024

typedef struct row {
    char *field[6]; /* in the order of the kind's columns */
} row_t;

typedef struct reader {
    const char *const *columns; /* the kind's column names */
    int n_columns, n_required;
    int map[MAX_COLUMNS]; /* file column -> kind column, or -1 */
    int file_columns;
    bool header_done;
    int field_index;
    char *pending[MAX_COLUMNS];
    row_t *rows;
    size_t n, cap;
    size_t record; /* 1 = the header */
    char error[512];
} reader_t;

static void field_cb(void *s, size_t len, void *data)
{
    reader_t *r = data;
    if (r->error[0])
        return;
    if (r->field_index >= MAX_COLUMNS) {
        snprintf(r->error, sizeof(r->error), "record %zu has more than %d fields", r->record,
                 MAX_COLUMNS);
        return;
    }
    if (len > MAX_FIELD) {
        snprintf(r->error, sizeof(r->error), "record %zu: field %d is longer than %d bytes",
                 r->record, r->field_index + 1, MAX_FIELD);
        return;
    }
    r->pending[r->field_index++] = strndup(s ? s : "", len);
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
            if (strcasecmp(r->pending[i], r->columns[c]) == 0) {
                r->map[i] = c;
                found[c]++;
            }
        }
        if (r->map[i] < 0)
            snprintf(r->error, sizeof(r->error),
                     "the header names a column '%s' that this import does not take",
                     r->pending[i]);
    }
    for (int c = 0; c < r->n_required && !r->error[0]; c++)
        if (found[c] != 1)
            snprintf(r->error, sizeof(r->error), "the header needs the column '%s' exactly once",
                     r->columns[c]);
    r->header_done = true;
}

static void row_cb(int terminator, void *data)
{
    (void)terminator;
    reader_t *r = data;
    r->record++;
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
        snprintf(r->error, sizeof(r->error), "record %zu has %d fields; the header has %d",
                 r->record, r->field_index, r->file_columns);
        clear_pending(r);
        return;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        row_t *grown = realloc(r->rows, cap * sizeof(*grown));
        if (grown == NULL) {
            snprintf(r->error, sizeof(r->error), "out of memory at record %zu", r->record);
            clear_pending(r);
            return;
        }
        r->rows = grown;
        r->cap = cap;
    }
    row_t *row = &r->rows[r->n++];
    memset(row, 0, sizeof(*row));
    for (int i = 0; i < r->field_index; i++) {
        row->field[r->map[i]] = r->pending[i];
        r->pending[i] = NULL;
    }
    r->field_index = 0;
    for (int c = 0; c < r->n_required; c++)
        if (row->field[c] == NULL || row->field[c][0] == '\0')
            snprintf(r->error, sizeof(r->error), "record %zu has no %s", r->record, r->columns[c]);
}

static int read_csv(const char *path, reader_t *r)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        snprintf(r->error, sizeof(r->error), "cannot open it: %s", strerror(errno));
        return -1;
    }
    struct csv_parser parser;
    csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL);
    char buf[65536];
    size_t n;
    while (!r->error[0] && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (csv_parse(&parser, buf, n, field_cb, row_cb, r) != n)
            snprintf(r->error, sizeof(r->error), "record %zu: %s", r->record + 1,
                     csv_strerror(csv_error(&parser)));
    }
    if (!r->error[0] && csv_fini(&parser, field_cb, row_cb, r) != 0)
        snprintf(r->error, sizeof(r->error), "record %zu: %s", r->record + 1,
                 csv_strerror(csv_error(&parser)));
    csv_free(&parser);
    clear_pending(r);
    if (f != stdin)
        fclose(f);
    if (!r->error[0] && !r->header_done)
        snprintf(r->error, sizeof(r->error), "it is empty: a header row is needed");
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
    msgpack_pack_map(&pk, users ? 2 : contacts ? 5 + (opts->country_code != NULL) : 3);
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
        sb_pack_kv_bool(&pk, "dry_run", dry_run);
        sb_pack_kv_uint(&pk, "first_line", from + 2); /* line 1 is the header */
        if (opts->country_code != NULL)
            sb_pack_kv_str(&pk, "country_code", opts->country_code);
    }
    if (!users && !contacts)
        sb_pack_kv_bool(&pk, "move", opts->move);
}

/* Sends rows in chunks (as dry runs, or for real). Returns an exit status. */
static int send_chunks(sb_client_t *client, const char *what, const char *org, const char *path,
                       const reader_t *r, const sbctl_import_opts_t *opts, bool dry_run,
                       size_t *done, size_t *requests)
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
        size_t to = *done + opts->chunk < r->n ? *done + opts->chunk : r->n;
        pack_chunk(&buf, what, org, r->rows, *done, to, opts, dry_run);
        msgpack_unpacked result;
        sb_err_t err;
        int rc = sb_client_call(client, method, &buf, &result, &err);
        msgpack_unpacked_destroy(&result);
        (*requests)++;
        if (rc != 0 && dry_run) {
            fprintf(stderr, "sbctl: %s: %s%s%s\nsbctl: nothing was imported.\n", path,
                    rc == SB_CLIENT_REFUSED ? client->error_name : "",
                    rc == SB_CLIENT_REFUSED ? ": " : "", err.message);
            status = rc == SB_CLIENT_REFUSED ? SBCTL_REFUSED : SBCTL_UNREACHABLE;
            break;
        }
        if (rc != 0) {
            if (isatty(STDERR_FILENO))
                fputc('\n', stderr);
            fprintf(stderr,
                    "sbctl: %s: records %zu to %zu were refused, as one request: %s%s%s\n"
                    "sbctl: %zu rows before them were imported; nothing from record %zu on was.\n",
                    path, *done + 2, to + 1, rc == SB_CLIENT_REFUSED ? client->error_name : "",
                    rc == SB_CLIENT_REFUSED ? ": " : "", err.message, *done, *done + 2);
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
    static const char *const user_columns[] = {"id", "name", "profile"};
    static const char *const member_columns[] = {"user", "callcenter"};
    static const char *const contact_columns[] = {"id",           "name",        "phone",
                                                  "mobile_phone", "other_phone", "type"};
    bool users = strcmp(what, "user") == 0, contacts = strcmp(what, "contact") == 0;
    reader_t r = {.columns = users      ? user_columns
                             : contacts ? contact_columns
                                        : member_columns,
                  .n_columns = users      ? 3
                               : contacts ? 6
                                          : 2,
                  .n_required = 2};
    int status = SBCTL_OK;
    if (read_csv(path, &r) != 0) {
        fprintf(stderr, "sbctl: %s: %s; nothing was imported.\n", path, r.error);
        status = SBCTL_USAGE;
        goto out;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t done = 0, requests = 0;
    if (contacts)
        status = send_chunks(client, what, org, path, &r, opts, true, &done, &requests);
    if (status == SBCTL_OK)
        status = send_chunks(client, what, org, path, &r, opts, false, &done, &requests);
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
