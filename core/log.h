#pragma once
/*
 * Logging to stderr: one line per event, with a UTC timestamp and a level.
 * Lines name the connection, org and method where there is one; they never
 * carry a token.
 */

typedef enum sb_log_level {
    SB_LOG_DEBUG = 0,
    SB_LOG_INFO = 1,
    SB_LOG_WARN = 2,
    SB_LOG_ERROR = 3,
} sb_log_level_t;

/** Sets the lowest level that is printed (SB_LOG_INFO by default). */
void sb_log_set_level(sb_log_level_t level);

/** Parses "debug", "info", "warn" or "error". Returns 0 or -EINVAL. */
int sb_log_parse_level(const char *name, sb_log_level_t *level);

/** Prints one line at `level`; `fmt` must not end with a newline. */
void sb_log(sb_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sb_debug(...) sb_log(SB_LOG_DEBUG, __VA_ARGS__)
#define sb_info(...) sb_log(SB_LOG_INFO, __VA_ARGS__)
#define sb_warn(...) sb_log(SB_LOG_WARN, __VA_ARGS__)
#define sb_error(...) sb_log(SB_LOG_ERROR, __VA_ARGS__)
