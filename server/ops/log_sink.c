#include "log_sink.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "log.h"

#define SINK_FIELDS_MAX 16
/* Where journald takes native entries (sd_journal_send's socket). */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static const char *const format_names[] = {"auto", "text", "json", "journal"};

int sb_log_format_parse(const char *name, sb_log_format_t *format)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *format = (sb_log_format_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *sb_log_format_name(sb_log_format_t format)
{
    return format >= SB_LOG_FORMAT_AUTO && format <= SB_LOG_FORMAT_JOURNAL ? format_names[format]
                                                                           : "text";
}

/* A JSON string of `text`; bytes that are not UTF-8 become '?' (jansson
 * refuses them, and a line must never be lost for it). */
static json_t *json_text(const char *text)
{
    json_t *s = json_string(text);
    if (s != NULL)
        return s;
    char *copy = strdup(text);
    if (copy == NULL)
        return NULL;
    sb_log_sanitize(copy, 1);
    s = json_string(copy);
    free(copy);
    return s;
}

static void json_sink(sb_log_level_t level, const char *timestamp, const char *message,
                      const sb_log_field_t *fields, size_t n_fields)
{
    json_t *line = json_object();
    if (line == NULL)
        return;
    json_object_set_new(line, "ts", json_string(timestamp));
    json_object_set_new(line, "level", json_string(sb_log_level_name(level)));
    json_object_set_new(line, "msg", json_text(message));
    for (size_t i = 0; i < n_fields; i++)
        if (fields[i].value != NULL)
            json_object_set_new(line, fields[i].key, json_text(fields[i].value));
    /* Compact and with every non-ASCII character escaped: one line, whatever
     * the bytes. */
    char *text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (text == NULL)
        return;
    fprintf(stderr, "%s\n", text); /* one write per line */
    free(text);
}

static void journal_sink(sb_log_level_t level, const char *timestamp, const char *message,
                         const sb_log_field_t *fields, size_t n_fields)
{
    (void)timestamp; /* the journal stamps each entry itself */
    static const int priorities[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
    char head[2][2100];
    struct iovec iov[2 + SINK_FIELDS_MAX];
    char field_text[SINK_FIELDS_MAX][320];
    size_t n = 0;
    snprintf(head[0], sizeof(head[0]), "MESSAGE=%s", message);
    snprintf(head[1], sizeof(head[1]), "PRIORITY=%d", priorities[level]);
    iov[n++] = (struct iovec){head[0], strlen(head[0])};
    iov[n++] = (struct iovec){head[1], strlen(head[1])};
    for (size_t i = 0; i < n_fields && i < SINK_FIELDS_MAX; i++) {
        if (fields[i].value == NULL)
            continue;
        /* The journal's field names are upper case: SB_ORG, SB_SEQ. */
        char *out = field_text[i];
        size_t len = (size_t)snprintf(out, sizeof(field_text[i]), "SB_");
        for (const char *k = fields[i].key; *k != '\0' && len + 2 < sizeof(field_text[i]); k++)
            out[len++] = (char)toupper((unsigned char)*k);
        out[len++] = '=';
        snprintf(out + len, sizeof(field_text[i]) - len, "%s", fields[i].value);
        sb_log_sanitize(out + len, 0);
        iov[n++] = (struct iovec){out, strlen(out)};
    }
    if (sd_journal_sendv(iov, (int)n) < 0) /* the journal went away: plain lines instead */
        fprintf(stderr, "%s %s\n", sb_log_level_name(level), message);
}

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected to stderr: when stderr is still that stream, entries go to the
 * journal with their fields; redirected elsewhere, lines stay lines. */
static bool stderr_is_journal(void)
{
    const char *stream = getenv("JOURNAL_STREAM");
    if (stream == NULL)
        return false;
    char *end;
    errno = 0;
    unsigned long long dev = strtoull(stream, &end, 10);
    if (errno != 0 || end == stream || *end != ':')
        return false;
    const char *rest = end + 1;
    unsigned long long ino = strtoull(rest, &end, 10);
    struct stat st;
    if (errno != 0 || end == rest || *end != '\0' || fstat(STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

sb_log_format_t sb_log_format_use(sb_log_format_t format)
{
    if (format == SB_LOG_FORMAT_AUTO)
        format = stderr_is_journal() ? SB_LOG_FORMAT_JOURNAL : SB_LOG_FORMAT_TEXT;
    switch (format) {
    case SB_LOG_FORMAT_JSON:
        sb_log_set_sink(json_sink);
        break;
    case SB_LOG_FORMAT_JOURNAL:
        /* sd_journal_send drops entries without a word when no journal
         * listens: lines on stderr then, rather than none. */
        if (access(JOURNAL_SOCKET, W_OK) != 0) {
            sb_log_set_sink(NULL);
            sb_warn("--log-format journal: no journal listens at %s; writing text lines to "
                    "standard error instead",
                    JOURNAL_SOCKET);
            return SB_LOG_FORMAT_TEXT;
        }
        sb_log_set_sink(journal_sink);
        break;
    default:
        sb_log_set_sink(NULL);
        format = SB_LOG_FORMAT_TEXT;
        break;
    }
    return format;
}
