#pragma once
/*
 * The server's settings: defaults that work with no flags, an optional JSON
 * config file, and command-line flags, applied in that order. One table in
 * config.c names every setting once, for the flags, the file and --help.
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"
#include "log.h"
#include "log_sink.h"
#include "store.h"

typedef struct sb_config {
    char data_dir[PATH_MAX];
    char socket_path[PATH_MAX];   /* "" until resolved: data_dir/switchboard.sock */
    char plugin_dir[PATH_MAX];    /* "" until resolved: next to the executable */
    char plugin_runner[PATH_MAX]; /* resolved: sb-plugin-runner beside the server */
    char in_process[1024];        /* plugins trusted in the server's process: none, all,
                                     a,b,c; every other one runs in a child process */
    size_t plugin_deadline_ms;    /* an isolated plugin's call gets this long to answer */
    size_t max_message_bytes;     /* one msgpack message, either way */
    size_t max_batch;             /* rows in one bulk or batch request */
    size_t answer_cache_slots;    /* views whose softphone answer is kept packed (0: off) */
    size_t loops;                 /* event-loop threads (0: the online CPUs; see server.c) */
    size_t changes_keep;          /* change-log entries kept (0: no bound by count) */
    size_t changes_keep_hours;    /* ...and for how long (0: no bound by age) */
    size_t max_inflight;          /* requests read but not answered, per connection */
    size_t max_inflight_bytes;    /* their message bytes, per connection (at least one message) */
    size_t max_connections;       /* authenticated connections at once */
    size_t admin_reserved_connections; /* of max_connections, kept for the admin token */
    size_t max_connections_per_org; /* of max_connections, one org's tokens at once (0: no cap) */
    size_t max_unauthenticated;     /* connections not yet authenticated, besides max_connections */
    size_t auth_timeout_ms;         /* a connection authenticates within this, or is closed */
    size_t max_preauth_bytes;       /* largest message before authentication */
    size_t idle_timeout_ms;         /* close an authenticated connection idle this long; 0: never */
    size_t drain_timeout_ms;        /* on SIGTERM, close what is left after this long */
    size_t write_high_bytes;        /* pause reading a connection above this many queued bytes */
    size_t write_low_bytes;         /* resume below this */
    size_t write_cap_bytes;         /* close the connection above this */
    size_t max_unread_bytes;        /* replies queued over every connection at once */
    size_t max_unread_bytes_per_org; /* ...and over one org's connections */
    size_t write_stall_ms; /* close a connection whose queued replies do not move this long */
    size_t initial_map_bytes;
    size_t max_map_bytes;
    sb_durability_t durability;
    sb_log_level_t log_level;
    sb_log_format_t log_format;
    size_t slow_request_ms; /* log a request whose method ran this long on the loop; 0: never */
    char metrics_address[PATH_MAX]; /* HOST:PORT of /metrics, /healthz, /readyz; "": none */
    char cluster_urls[PATH_MAX];    /* NATS servers of the shards' streams; "": standalone */
    char shard[PATH_MAX];           /* the shard this server is the primary of; "" */
    char replica_of[PATH_MAX];      /* the shard this server is a replica of; "" */
    char member[PATH_MAX];          /* this member's name in the placement bucket; "": default */
    size_t min_seq_wait_ms;         /* a replica's wait for a read's min_seq */
} sb_config_t;

/**
 * The largest one reply may be: what fits under --write-cap-bytes beside the
 * --write-high-bytes a connection may already have queued when it is read.
 * A larger reply becomes a REPLY_TOO_LARGE error, never a closed connection.
 */
static inline size_t sb_config_reply_max(const sb_config_t *cfg)
{
    return cfg->write_cap_bytes - cfg->write_high_bytes;
}

/** What the command line asked for besides settings. */
typedef enum sb_config_action {
    SB_CONFIG_RUN = 0,
    SB_CONFIG_HELP,
    SB_CONFIG_VERSION,
    SB_CONFIG_PROTOCOL_DOC,
} sb_config_action_t;

/** Fills the defaults (the data directory from sb_default_data_dir). */
int sb_config_defaults(sb_config_t *cfg, sb_err_t *err);

/**
 * Applies --config FILE (if given) and then every flag. `argv0` locates the
 * default plugin directory. Returns 0 or -EINVAL with a sentence in err.
 */
int sb_config_from_args(sb_config_t *cfg, int argc, char **argv, sb_config_action_t *action,
                        sb_err_t *err);

/** Fills socket_path and plugin_dir when not given, and checks the limits' coherence. */
int sb_config_resolve(sb_config_t *cfg, const char *argv0, sb_err_t *err);

/**
 * A SIGHUP's reload: copies into `running` the settings of `next` that may
 * change while serving (the table marks them: the log's level and format,
 * the slow-request threshold, limits read only on the event loop), and names
 * them with their old and new values in `changed` ("" when none); settings
 * that differ but need a restart are named in `restart` ("" when none).
 * Loop thread.
 */
void sb_config_reload(sb_config_t *running, const sb_config_t *next, char *changed,
                      size_t changed_size, char *restart, size_t restart_size);

/** Prints the usage text, every flag with its default. */
void sb_config_usage(FILE *out);
