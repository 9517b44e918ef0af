/*
 * sbctl user import / member import / contact import: a CSV file with a
 * header row, read with libcsv and checked whole before anything is sent.
 *
 *   users:    id,name,profile,department,division,role (only id and name
 *             are required; a Data Loader export's Id, Name, Profile.Name,
 *             Department, Division and UserRole.Name are taken as they are)
 *   members:  user,callcenter      (callcenter: an id or an internal name)
 *   contacts: id,name,phone        (mobile_phone, other_phone, type optional)
 *   licences: user                 (a Data Loader export of
 *             PermissionSetLicenseAssign's AssigneeId is taken as it is)
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
 * report says which lines were written, and the --from-line N that resumes.
 *
 * A UTF-8 byte-order mark is skipped; header columns the import does not
 * take are ignored with a warning; --columns kind=Header names the header's
 * columns, and --data-loader reads a Salesforce Data Loader export of users
 * (Id, Name, Profile.Name). Every message names the file's own lines.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "csv_rows.h"
#include "message.h"
#include "sbctl.h"

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
static void pack_chunk(msgpack_sbuffer *buf, const char *what, const char *org,
                       const sbctl_csv_row_t *rows, size_t from, size_t to,
                       const sbctl_import_opts_t *opts, bool dry_run)
{
    bool users = strcmp(what, "user") == 0, contacts = strcmp(what, "contact") == 0;
    msgpack_sbuffer_clear(buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    if (strcmp(what, "licence") == 0) {
        /* licence.assign: a list of user ids, given or taken back. */
        msgpack_pack_map(&pk, 4);
        sb_pack_kv_str(&pk, "org", org);
        sb_pack_str(&pk, "users");
        msgpack_pack_array(&pk, to - from);
        for (size_t i = from; i < to; i++)
            sb_pack_str(&pk, rows[i].field[0]);
        sb_pack_kv_bool(&pk, "revoke", opts->revoke);
        sb_pack_kv_bool(&pk, "dry_run", dry_run);
        return;
    }
    msgpack_pack_map(&pk, users ? 3 : contacts ? 4 + (opts->country_code != NULL) : 4);
    sb_pack_kv_str(&pk, "org", org);
    sb_pack_str(&pk, users ? "users" : contacts ? "contacts" : "rows");
    msgpack_pack_array(&pk, to - from);
    for (size_t i = from; i < to; i++) {
        const sbctl_csv_row_t *row = &rows[i];
        if (users) {
            msgpack_pack_map(&pk, 6);
            sb_pack_kv_str(&pk, "id", row->field[0]);
            sb_pack_kv_str(&pk, "name", row->field[1]);
            sb_pack_kv_str(&pk, "profile", row->field[2] ? row->field[2] : "");
            sb_pack_kv_str(&pk, "department", row->field[3] ? row->field[3] : "");
            sb_pack_kv_str(&pk, "division", row->field[4] ? row->field[4] : "");
            sb_pack_kv_str(&pk, "role", row->field[5] ? row->field[5] : "");
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
static void refused(const char *path, const sbctl_csv_t *r, size_t from, size_t to, int rc,
                    const sb_client_t *client, bool dry_run, size_t done,
                    const sbctl_import_opts_t *opts)
{
    const char *message = sb_client_error_message(client);
    const char *name = rc == SB_CLIENT_REFUSED ? sb_client_error_name(client) : "";
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
    if (dry_run || done == 0) {
        fprintf(stderr, "sbctl: nothing was imported.\n");
        return;
    }
    /* Some requests were written: the file's lines they held, and how to
     * go on from the first line that was not (after fixing what was refused). */
    fprintf(stderr,
            "sbctl: %s: lines %zu to %zu were imported (%zu record%s; they passed the check, then "
            "this request was refused: another writer, or the server's state changed); nothing "
            "from line %zu on was.\n"
            "sbctl: to import the rest, fix line %zu if need be and run: %s --from-line %zu\n",
            path, r->rows[0].line, r->rows[from - 1].line, done, done == 1 ? "" : "s",
            r->rows[from].line, r->rows[from].line,
            opts->command ? opts->command : "sbctl ... import FILE", r->rows[from].line);
}

/* The server's limits on one request, so that a file goes in as few requests as it can. */
typedef struct limits {
    size_t rows, bytes;
} limits_t;

static limits_t server_limits(sb_client_t *client, const sbctl_import_opts_t *opts)
{
    limits_t l = {opts->chunk ? opts->chunk : 1000, 1 << 20}; /* the server's defaults */
    msgpack_unpacked result;
    if (sb_client_call(client, "server.info", NULL, 0, &result) == 0) {
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
                       const sbctl_csv_t *r, const sbctl_import_opts_t *opts,
                       const limits_t *limits, bool dry_run, size_t *done, size_t *requests)
{
    static const struct {
        const char *what, *method;
    } methods[] = {{"user", "user.upsert_bulk"},
                   {"member", "member.add_bulk"},
                   {"contact", "contact.upsert_bulk"},
                   {"licence", "licence.assign"}};
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
        int rc = sb_client_call(client, method, buf.data, buf.size, &result);
        msgpack_unpacked_destroy(&result);
        (*requests)++;
        if (rc != 0) {
            refused(path, r, *done, to, rc, client, dry_run, *done, opts);
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

/* --columns id=Id,profile=Profile.Name: the header's name of each column named. */
static int map_columns(const char *spec, const sbctl_csv_column_t *columns, int n_columns,
                       sbctl_csv_opts_t *out, char **owned)
{
    const char *p = spec;
    while (*p) {
        const char *eq = strchr(p, '='), *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        int c = -1;
        for (int i = 0; eq != NULL && eq < end && i < n_columns; i++)
            if (strlen(columns[i].name) == (size_t)(eq - p) &&
                strncmp(columns[i].name, p, (size_t)(eq - p)) == 0)
                c = i;
        if (c < 0 || eq + 1 == end) {
            fprintf(stderr,
                    "sbctl: --columns takes COLUMN=HEADER,...; '%.*s' is not one (the columns: ",
                    (int)(end - p), p);
            for (int i = 0; i < n_columns; i++)
                fprintf(stderr, "%s%s", i ? ", " : "", columns[i].name);
            fprintf(stderr, "); nothing was imported.\n");
            return -1;
        }
        /* A copy of that piece of `spec` [owned: owned[c], freed by the caller]. */
        char *name = strndup(eq + 1, (size_t)(end - eq - 1));
        if (name == NULL)
            return -1;
        free(owned[c]);
        owned[c] = name;
        out->header[c] = name;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

/* --from-line N: the records that start before line N are dropped (written
 * by an earlier run that stopped there). */
static void skip_before(sbctl_csv_t *r, size_t line)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->rows[i].line >= line) {
            r->rows[kept++] = r->rows[i];
            continue;
        }
        for (int c = 0; c < SBCTL_CSV_KIND_COLUMNS; c++)
            free(r->rows[i].field[c]);
    }
    r->n = kept;
}

int sbctl_import(sb_client_t *client, const char *what, const char *org, const char *path,
                 const sbctl_import_opts_t *opts, bool json)
{
    /* The aliases are the headers of a Data Loader export of User with
     * Id, Name, Profile.Name, Department, Division and UserRole.Name. */
    static const sbctl_csv_column_t user_columns[] = {{"id", SBCTL_CSV_ID, NULL},
                                                      {"name", SBCTL_CSV_TEXT, NULL},
                                                      {"profile", SBCTL_CSV_TEXT, "profile.name"},
                                                      {"department", SBCTL_CSV_TEXT, NULL},
                                                      {"division", SBCTL_CSV_TEXT, NULL},
                                                      {"role", SBCTL_CSV_TEXT, "userrole.name"}};
    static const sbctl_csv_column_t member_columns[] = {{"user", SBCTL_CSV_ID, NULL},
                                                        {"callcenter", SBCTL_CSV_ID, NULL}};
    static const sbctl_csv_column_t contact_columns[] = {{"id", SBCTL_CSV_ID, NULL},
                                                         {"name", SBCTL_CSV_TEXT, NULL},
                                                         {"phone", SBCTL_CSV_TEXT, NULL},
                                                         {"mobile_phone", SBCTL_CSV_TEXT, NULL},
                                                         {"other_phone", SBCTL_CSV_TEXT, NULL},
                                                         {"type", SBCTL_CSV_WORD, NULL}};
    static const sbctl_csv_column_t licence_columns[] = {{"user", SBCTL_CSV_ID, "assigneeid"}};
    bool users = strcmp(what, "user") == 0, contacts = strcmp(what, "contact") == 0;
    bool licences = strcmp(what, "licence") == 0;
    const sbctl_csv_column_t *columns = users      ? user_columns
                                        : contacts ? contact_columns
                                        : licences ? licence_columns
                                                   : member_columns;
    int n_columns = users ? 6 : contacts ? 6 : licences ? 1 : 2;
    sbctl_csv_t r = {0};
    int status = SBCTL_OK;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "sbctl: %s: cannot open it: %s; nothing was imported.\n", path,
                strerror(errno));
        return SBCTL_USAGE;
    }
    sbctl_csv_opts_t csv_opts = {.ignore_extra = true};
    if (opts->data_loader && users) {
        csv_opts.header[0] = "Id";
        csv_opts.header[1] = "Name";
        csv_opts.header[2] = "Profile.Name";
    }
    char *owned[SBCTL_CSV_KIND_COLUMNS] = {0};
    if (opts->columns != NULL &&
        map_columns(opts->columns, columns, n_columns, &csv_opts, owned) != 0) {
        for (int c = 0; c < SBCTL_CSV_KIND_COLUMNS; c++)
            free(owned[c]);
        if (f != stdin)
            fclose(f);
        return SBCTL_USAGE;
    }
    int rc = sbctl_csv_read_with(f, columns, n_columns, licences ? 1 : 2, &csv_opts, &r);
    for (int c = 0; c < SBCTL_CSV_KIND_COLUMNS; c++)
        free(owned[c]);
    if (f != stdin)
        fclose(f);
    /* A user twice in a member file: which Call Center would win? */
    if (rc == 0 && !users && !contacts && !licences && sbctl_csv_unique_ids(&r, "user") != 0)
        strncat(r.error, ": a user belongs to one Call Center",
                sizeof(r.error) - strlen(r.error) - 1);
    if (r.error[0]) {
        fprintf(stderr, "sbctl: %s: %s; nothing was imported.\n", path, r.error);
        status = SBCTL_USAGE;
        goto out;
    }
    if (r.warning[0])
        fprintf(stderr, "sbctl: %s: warning: %s (the import takes %s; --columns names others)\n",
                path, r.warning,
                users      ? "id, name, profile"
                : contacts ? "id, name, phone, mobile_phone, other_phone, type"
                           : "user, callcenter");
    if (opts->from_line > 0)
        skip_before(&r, opts->from_line);
    if (r.n == 0) {
        fprintf(stderr, "sbctl: %s: no records%s; nothing was imported.\n", path,
                opts->from_line > 0 ? " from that line on" : "");
        status = opts->from_line > 0 ? SBCTL_USAGE : SBCTL_OK;
        if (status == SBCTL_OK && !json)
            printf("imported 0 records from %s\n", path);
        goto out;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t done = 0, requests = 0;
    limits_t limits = server_limits(client, opts);
    status = send_chunks(client, what, org, path, &r, opts, &limits, true, &done, &requests);
    /* For tests only: a named pipe read to its end between the check and the
     * write, so that a test can change the server's state there, which is
     * what the partial-write report is for. */
    const char *between = getenv("SBCTL_TEST_BETWEEN");
    FILE *pipe = status == SBCTL_OK && between != NULL ? fopen(between, "r") : NULL;
    if (pipe != NULL) {
        while (fgetc(pipe) != EOF)
            ;
        fclose(pipe);
    }
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
                   : licences ? (opts->revoke ? "licence revocations" : "licences")
                              : "memberships",
                   path, requests, requests == 1 ? "" : "s", secs,
                   secs > 0 ? (double)done / secs : 0.0);
    }
out:
    sbctl_csv_free(&r);
    return status;
}
