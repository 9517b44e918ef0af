#pragma once
/*
 * Where the server's log lines go (--log-format): text lines on stderr,
 * JSON objects one per line (jansson), or the systemd journal's own fields
 * (sd_journal_send) when systemd started the server with stderr on the
 * journal. Every format carries the same fields.
 */

typedef enum sb_log_format {
    SB_LOG_FORMAT_AUTO = 0, /* journal when stderr is the journal's stream, else text */
    SB_LOG_FORMAT_TEXT,
    SB_LOG_FORMAT_JSON,
    SB_LOG_FORMAT_JOURNAL,
} sb_log_format_t;

/** Parses "auto", "text", "json" or "journal". Returns 0 or -EINVAL. */
int sb_log_format_parse(const char *name, sb_log_format_t *format);

/** The name of `format` ("json"). */
const char *sb_log_format_name(sb_log_format_t format);

/**
 * Sends the log's lines to `format`'s sink from now on (AUTO resolved as
 * above). Returns the format in effect.
 */
sb_log_format_t sb_log_format_use(sb_log_format_t format);
