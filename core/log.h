#pragma once
/*
 * Logging: one line per event, with a UTC timestamp and a level. Lines name
 * the connection, org and method where there is one; they never carry a
 * token's secret. By default, text lines on stderr; the server may hand
 * them to another sink (JSON lines, the systemd journal: server/ops/).
 */

#include <stddef.h>

typedef enum sb_log_level {
    SB_LOG_DEBUG = 0,
    SB_LOG_INFO = 1,
    SB_LOG_WARN = 2,
    SB_LOG_ERROR = 3,
} sb_log_level_t;

/** A named value of a line ("org", "seq"). [borrowed: for the call] */
typedef struct sb_log_field {
    const char *key;   /* lower case, [a-z_] */
    const char *value; /* NULL: the field is left out */
} sb_log_field_t;

/**
 * Where lines go. `message` has no control characters; `timestamp` is
 * ISO 8601 UTC with milliseconds. Called on whichever thread logs: a sink
 * writes each line in one write, so that lines never interleave.
 */
typedef void (*sb_log_sink_fn)(sb_log_level_t level, const char *timestamp, const char *message,
                               const sb_log_field_t *fields, size_t n_fields);

/** Sets the lowest level that is printed (SB_LOG_INFO by default). Any thread. */
void sb_log_set_level(sb_log_level_t level);

/** The lowest level printed now. */
sb_log_level_t sb_log_get_level(void);

/** Parses "debug", "info", "warn" or "error". Returns 0 or -EINVAL. */
int sb_log_parse_level(const char *name, sb_log_level_t *level);

/** The name of `level` ("info"). */
const char *sb_log_level_name(sb_log_level_t level);

/** Sends lines to `sink`; NULL: text lines on stderr (the default). */
void sb_log_set_sink(sb_log_sink_fn sink);

/**
 * Replaces control characters (and, when `ascii`, bytes past 0x7e) with '?':
 * a caller's bytes in a line must not forge a line or drive a terminal.
 */
void sb_log_sanitize(char *text, int ascii);

/** Prints one line at `level`; `fmt` must not end with a newline. */
void sb_log(sb_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * Prints one line at `level` with named fields: in text, " key=value" after
 * the message; as JSON or in the journal, fields of their own.
 */
void sb_log_fields(sb_log_level_t level, const sb_log_field_t *fields, size_t n_fields,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define sb_debug(...) sb_log(SB_LOG_DEBUG, __VA_ARGS__)
#define sb_info(...) sb_log(SB_LOG_INFO, __VA_ARGS__)
#define sb_warn(...) sb_log(SB_LOG_WARN, __VA_ARGS__)
#define sb_error(...) sb_log(SB_LOG_ERROR, __VA_ARGS__)
