#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_int min_level = SB_LOG_INFO;
static _Atomic(sb_log_sink_fn) sink;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sb_log_set_level(sb_log_level_t level)
{
    atomic_store(&min_level, (int)level);
}

sb_log_level_t sb_log_get_level(void)
{
    return (sb_log_level_t)atomic_load(&min_level);
}

int sb_log_parse_level(const char *name, sb_log_level_t *level)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (sb_log_level_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *sb_log_level_name(sb_log_level_t level)
{
    return level >= SB_LOG_DEBUG && level <= SB_LOG_ERROR ? level_names[level] : "info";
}

void sb_log_set_sink(sb_log_sink_fn fn)
{
    atomic_store(&sink, fn);
}

void sb_log_sanitize(char *text, int ascii)
{
    for (char *p = text; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || (ascii && (unsigned char)*p > 0x7e))
            *p = '?';
}

/* " key=value", the value quoted when it holds a space, a quote or '='. */
static size_t append_field(char *line, size_t len, size_t size, const sb_log_field_t *f)
{
    if (len >= size || f->value == NULL)
        return len;
    bool quote = f->value[0] == '\0' || strpbrk(f->value, " \"=\\") != NULL;
    int n = snprintf(line + len, size - len, " %s=%s", f->key, quote ? "\"" : "");
    if (n < 0 || (size_t)n >= size - len)
        return size;
    len += (size_t)n;
    for (const char *p = f->value; *p != '\0' && len + 2 < size; p++) {
        if (quote && (*p == '"' || *p == '\\'))
            line[len++] = '\\';
        line[len++] = *p;
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            line[len - 1] = '?';
    }
    if (quote && len + 1 < size)
        line[len++] = '"';
    line[len < size ? len : size - 1] = '\0';
    return len;
}

static void vlog(sb_log_level_t level, const sb_log_field_t *fields, size_t n_fields,
                 const char *fmt, va_list ap)
{
    if ((int)level < atomic_load(&min_level))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[64];
    snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    char message[2000]; /* with the stamp and level, a line stays within 2048 bytes */
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see error.c
    vsnprintf(message, sizeof(message), fmt, ap);
    /* Lines carry callers' bytes (org ids, names, methods): a newline or an
     * escape sequence in them must not forge a line or drive a terminal. */
    sb_log_sanitize(message, 0);
    sb_log_sink_fn fn = atomic_load(&sink);
    if (fn != NULL) {
        fn(level, stamp, message, fields, n_fields);
        return;
    }
    char line[2048];
    int n = snprintf(line, sizeof(line), "%s %-5s %s", stamp, level_names[level], message);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    for (size_t i = 0; i < n_fields; i++)
        len = append_field(line, len, sizeof(line), &fields[i]);
    if (len >= sizeof(line) - 1)
        len = sizeof(line) - 2;
    line[len] = '\n';
    /* One write per line, so that lines from two threads never interleave. */
    fwrite(line, 1, len + 1, stderr);
}

void sb_log(sb_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, 0, fmt, ap);
    va_end(ap);
}

void sb_log_fields(sb_log_level_t level, const sb_log_field_t *fields, size_t n_fields,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fields, n_fields, fmt, ap);
    va_end(ap);
}
