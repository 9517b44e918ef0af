#include "config.h"

#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "paths.h"

enum kind { PATH, BYTES, COUNT, COUNT0, DURABILITY, LOG_LEVEL, LOG_FORMAT }; /* COUNT0: 0 allowed */

struct setting {
    const char *name; /* the flag without "--", and the config file's key with '_' for '-' */
    enum kind kind;
    size_t offset;
    const char *help;
};

#define AT(field) offsetof(sb_config_t, field)
static const struct setting settings[] = {
    {"data-dir", PATH, AT(data_dir),
     "the data directory (default $SB_DATA_DIR, else ~/.local/share/switchboard)"},
    {"socket", PATH, AT(socket_path), "the Unix socket (default DATA_DIR/switchboard.sock)"},
    {"plugin-dir", PATH, AT(plugin_dir),
     "where adapter plugins load from (default: build/plugins in the build tree, "
     "PREFIX/lib/switchboard/plugins installed)"},
    {"in-process", PATH, AT(in_process),
     "adapters trusted to run inside the server's process: none (default), all, or names "
     "separated by commas; every other adapter runs in its own child process, where a crash "
     "or a hang costs only its own calls"},
    {"plugin-deadline-ms", COUNT, AT(plugin_deadline_ms),
     "how long an isolated adapter's call may take before it is unavailable (2000)"},
    {"max-message-bytes", BYTES, AT(max_message_bytes), "largest msgpack message (1 MiB)"},
    {"max-batch", COUNT, AT(max_batch), "rows in one bulk or batch request (10000)"},
    {"answer-cache-slots", COUNT0, AT(answer_cache_slots),
     "softphone views whose packed answer is kept, so that a member's answer is a copy with the "
     "user's id put in; 0: every answer packed in full (1024)"},
    {"loops", COUNT0, AT(loops),
     "event-loop threads serving connections, each with its own connections, read "
     "transaction and answer cache (writes still go to the one writer thread); 0: the number "
     "of online CPUs, at most 64 (1)"},
    {"changes-keep", COUNT0, AT(changes_keep),
     "change-log entries kept (one per committed write batch); older ones are trimmed; 0: no "
     "bound by count (1000000)"},
    {"changes-keep-hours", COUNT0, AT(changes_keep_hours),
     "hours a change-log entry is kept; older ones are trimmed; 0: no bound by age (168)"},
    {"max-inflight-bytes", BYTES, AT(max_inflight_bytes),
     "bytes of requests a connection may have unanswered before reading pauses; at least "
     "--max-message-bytes (4 MiB)"},
    {"max-inflight", COUNT, AT(max_inflight),
     "requests a connection may have unanswered before reading pauses (64)"},
    {"max-connections", COUNT, AT(max_connections),
     "authenticated connections at once, the admin's reserved ones included (1024)"},
    {"admin-reserved-connections", COUNT0, AT(admin_reserved_connections),
     "of --max-connections, kept for the admin token: org tokens cannot take them (2)"},
    {"max-connections-per-org", COUNT0, AT(max_connections_per_org),
     "of --max-connections, what one org's tokens may hold at once, so that no tenant takes "
     "every slot; 0: no cap of its own (256)"},
    {"max-unauthenticated", COUNT, AT(max_unauthenticated),
     "connections waiting to authenticate, besides --max-connections; when full, the oldest "
     "one is closed for a new one (64)"},
    {"auth-timeout-ms", COUNT, AT(auth_timeout_ms),
     "close a connection that has not authenticated this long after it opened (10000)"},
    {"max-preauth-bytes", BYTES, AT(max_preauth_bytes),
     "largest message before a connection authenticates (4 KiB)"},
    {"idle-timeout-ms", COUNT0, AT(idle_timeout_ms),
     "close an authenticated connection that sends nothing and waits for nothing this long; 0 "
     "never (600000)"},
    {"drain-timeout-ms", COUNT, AT(drain_timeout_ms),
     "on SIGTERM, close the connections still draining after this long and exit (10000)"},
    {"write-high-bytes", BYTES, AT(write_high_bytes),
     "queued reply bytes above which a connection stops being read (1 MiB)"},
    {"write-low-bytes", BYTES, AT(write_low_bytes), "and below which reading resumes (256 KiB)"},
    {"write-cap-bytes", BYTES, AT(write_cap_bytes),
     "queued reply bytes above which the connection is closed (16 MiB)"},
    {"max-unread-bytes", BYTES, AT(max_unread_bytes),
     "replies queued and not yet read by their clients, over every connection; past it a large "
     "reply is answered with REPLY_TOO_LARGE instead (512 MiB)"},
    {"max-unread-bytes-per-org", BYTES, AT(max_unread_bytes_per_org),
     "the same over one org's connections, so that one tenant that never reads cannot hold the "
     "server's memory (128 MiB)"},
    {"write-stall-ms", COUNT, AT(write_stall_ms),
     "close a connection whose queued replies make no progress this long (30000)"},
    {"initial-map-bytes", BYTES, AT(initial_map_bytes), "the store's first map size (64 MiB)"},
    {"max-map-bytes", BYTES, AT(max_map_bytes),
     "the store's largest map size (64 GiB of address space)"},
    {"durability", DURABILITY, AT(durability),
     "full (fsync every commit; the default) or none (for bulk loads and benchmarks)"},
    {"log-level", LOG_LEVEL, AT(log_level), "debug, info (default), warn or error"},
    {"log-format", LOG_FORMAT, AT(log_format),
     "text (lines), json (one object per line), journal (systemd's fields), or auto (the "
     "default: journal when stderr is systemd's journal stream, else text)"},
    {"slow-request-ms", COUNT0, AT(slow_request_ms),
     "log a request whose method ran this long on the event loop, with its method and time; 0: "
     "never (100)"},
    {"metrics-address", PATH, AT(metrics_address),
     "HOST:PORT to serve /metrics (Prometheus), /healthz and /readyz over HTTP, e.g. "
     "127.0.0.1:9464; off unless set"},
    {"cluster", PATH, AT(cluster_urls),
     "NATS JetStream servers (nats://HOST:PORT, comma-separated) that carry the shard's change "
     "log (docs/cluster.md); with --shard or --replica-of; off unless set (standalone)"},
    {"shard", PATH, AT(shard),
     "with --cluster: this server is the shard's primary; every write is published to the "
     "shard's stream before it commits"},
    {"replica-of", PATH, AT(replica_of),
     "with --cluster: this server is a replica of the shard: it applies the shard's stream "
     "and serves reads; writes answer NOT_PRIMARY"},
    {"member", PATH, AT(member),
     "with --cluster: this server's name in the placement bucket (1 to 32 letters, digits, "
     "'-', '_'; default: the shard, '-', and the data directory's base name)"},
    {"min-seq-wait-ms", COUNT0, AT(min_seq_wait_ms),
     "how long a replica holds a read carrying min_seq that it has not applied yet, before it "
     "answers REPLICA_BEHIND (1000)"},
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

int sb_config_defaults(sb_config_t *cfg, sb_err_t *err)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_message_bytes = 1 << 20;
    snprintf(cfg->in_process, sizeof(cfg->in_process), "none");
    cfg->plugin_deadline_ms = 2000;
    cfg->max_batch = 10000;
    cfg->answer_cache_slots = 1024;
    /* One loop unless asked: past the softphone checks, the loops share one
     * lock, and a tenant's long pass on one loop can hold another loop's
     * requests (docs/operating.md, --loops). */
    cfg->loops = 1;
    cfg->changes_keep = 1000000;
    cfg->changes_keep_hours = 168;
    cfg->min_seq_wait_ms = 1000;
    cfg->max_inflight = 64;
    cfg->max_inflight_bytes = 4 << 20;
    cfg->max_connections = 1024;
    cfg->admin_reserved_connections = 2;
    cfg->max_connections_per_org = 256;
    cfg->max_unauthenticated = 64;
    cfg->auth_timeout_ms = 10000;
    cfg->max_preauth_bytes = 4096;
    cfg->idle_timeout_ms = 600000;
    cfg->drain_timeout_ms = 10000;
    cfg->write_high_bytes = 1 << 20;
    cfg->write_low_bytes = 256 << 10;
    cfg->write_cap_bytes = 16 << 20;
    cfg->max_unread_bytes = (size_t)512 << 20;
    cfg->max_unread_bytes_per_org = (size_t)128 << 20;
    cfg->write_stall_ms = 30000;
    cfg->initial_map_bytes = SB_STORE_DEFAULT_INITIAL_MAP;
    cfg->max_map_bytes = SB_STORE_DEFAULT_MAX_MAP;
    cfg->durability = SB_DURABILITY_FULL;
    cfg->log_level = SB_LOG_INFO;
    cfg->log_format = SB_LOG_FORMAT_AUTO;
    cfg->slow_request_ms = 100;
    if (sb_default_data_dir(cfg->data_dir, sizeof(cfg->data_dir)) != 0)
        return sb_err_set(err, -EINVAL,
                          "No data directory: set HOME or SB_DATA_DIR, or pass --data-dir.");
    return 0;
}

/* "64M", "1GiB", "4096", "16k": bytes with an optional binary suffix. */
static int parse_size(const char *text, bool bytes, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno != 0 || end == text || text[0] == '-')
        return -EINVAL;
    unsigned shift = 0;
    if (bytes && *end != '\0') {
        switch (*end) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        default:
            return -EINVAL;
        }
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0 || strcmp(end, "ib") == 0)
            end += strlen(end);
    }
    if (*end != '\0' || (shift && n > (SIZE_MAX >> shift)))
        return -EINVAL;
    *out = (size_t)(n << shift);
    return 0;
}

static int apply(sb_config_t *cfg, const struct setting *s, const char *value, sb_err_t *err)
{
    void *field = (char *)cfg + s->offset;
    switch (s->kind) {
    case PATH:
        if (value[0] == '\0' || strlen(value) >= PATH_MAX)
            return sb_err_set(err, -EINVAL, "--%s needs a path of 1 to %d bytes.", s->name,
                              PATH_MAX - 1);
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case BYTES:
    case COUNT:
    case COUNT0:
        if (parse_size(value, s->kind == BYTES, field) != 0 ||
            (s->kind != COUNT0 && *(size_t *)field == 0))
            return sb_err_set(err, -EINVAL, "--%s is '%s'; it takes a %s whole number%s.", s->name,
                              value, s->kind == COUNT0 ? "non-negative" : "positive",
                              s->kind == BYTES ? " of bytes (suffix K, M, G)" : "");
        return 0;
    case DURABILITY:
        if (strcmp(value, "full") == 0)
            *(sb_durability_t *)field = SB_DURABILITY_FULL;
        else if (strcmp(value, "none") == 0)
            *(sb_durability_t *)field = SB_DURABILITY_NONE;
        else
            return sb_err_set(err, -EINVAL, "--durability is full or none, not '%s'.", value);
        return 0;
    case LOG_LEVEL:
        if (sb_log_parse_level(value, field) != 0)
            return sb_err_set(err, -EINVAL, "--log-level is debug, info, warn or error, not '%s'.",
                              value);
        return 0;
    case LOG_FORMAT:
        if (sb_log_format_parse(value, field) != 0)
            return sb_err_set(err, -EINVAL,
                              "--log-format is text, json, journal or auto, not '%s'.", value);
        return 0;
    }
    return -EINVAL;
}

static const struct setting *find_setting(const char *name)
{
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (strcmp(settings[i].name, name) == 0)
            return &settings[i];
    return NULL;
}

/* A JSON object of settings: keys as the flags with '_' for '-'; values are
 * strings or numbers. */
static int load_file(sb_config_t *cfg, const char *path, sb_err_t *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return sb_err_set(err, -EINVAL, "Cannot read the config file %s: %s (line %d).", path,
                          jerr.text, jerr.line);
    int rc = 0;
    if (!json_is_object(root))
        rc = sb_err_set(err, -EINVAL, "The config file %s must hold one JSON object.", path);
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (rc != 0)
            break;
        char name[64];
        snprintf(name, sizeof(name), "%s", key);
        for (char *p = name; *p; p++)
            if (*p == '_')
                *p = '-';
        const struct setting *s = find_setting(name);
        if (s == NULL) {
            rc = sb_err_set(err, -EINVAL, "The config file %s has an unknown setting '%s'.", path,
                            key);
            break;
        }
        char text[PATH_MAX];
        if (json_is_string(value))
            snprintf(text, sizeof(text), "%s", json_string_value(value));
        else if (json_is_integer(value) && json_integer_value(value) >= 0)
            snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(value));
        else {
            rc = sb_err_set(err, -EINVAL, "In %s, '%s' must be a string or a whole number.", path,
                            key);
            break;
        }
        rc = apply(cfg, s, text, err);
        if (rc != 0)
            sb_err_prefix(err, "In the config file %s: ", path);
    }
    json_decref(root);
    return rc;
}

enum { OPT_CONFIG = 1000, OPT_HELP, OPT_VERSION, OPT_PROTOCOL_DOC };

int sb_config_from_args(sb_config_t *cfg, int argc, char **argv, sb_config_action_t *action,
                        sb_err_t *err)
{
    *action = SB_CONFIG_RUN;
    struct option longopts[N_SETTINGS + 5];
    for (size_t i = 0; i < N_SETTINGS; i++)
        longopts[i] = (struct option){settings[i].name, required_argument, NULL, (int)i};
    longopts[N_SETTINGS] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    longopts[N_SETTINGS + 1] = (struct option){"help", no_argument, NULL, OPT_HELP};
    longopts[N_SETTINGS + 2] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    longopts[N_SETTINGS + 3] = (struct option){"protocol-doc", no_argument, NULL, OPT_PROTOCOL_DOC};
    longopts[N_SETTINGS + 4] = (struct option){0};

    /* Pass 1: the config file, so that flags override it wherever they stand. */
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == OPT_CONFIG) {
            int rc = load_file(cfg, optarg, err);
            if (rc != 0)
                return rc;
        }
    }
    /* Pass 2: the flags. */
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt >= 0 && opt < (int)N_SETTINGS) {
            int rc = apply(cfg, &settings[opt], optarg, err);
            if (rc != 0)
                return rc;
        } else if (opt == OPT_HELP || opt == 'h') {
            *action = SB_CONFIG_HELP;
        } else if (opt == OPT_VERSION) {
            *action = SB_CONFIG_VERSION;
        } else if (opt == OPT_PROTOCOL_DOC) {
            *action = SB_CONFIG_PROTOCOL_DOC;
        } else if (opt != OPT_CONFIG) {
            return sb_err_set(err, -EINVAL, "Unknown or incomplete option '%s'; see --help.",
                              argv[optind - 1]);
        }
    }
    if (optind < argc)
        return sb_err_set(err, -EINVAL, "Unexpected argument '%s'; see --help.", argv[optind]);
    return 0;
}

int sb_config_resolve(sb_config_t *cfg, const char *argv0, sb_err_t *err)
{
    if (cfg->shard[0] != '\0' && cfg->replica_of[0] != '\0')
        return sb_err_set(err, -EINVAL, "--shard and --replica-of exclude each other.");
    if ((cfg->shard[0] != '\0' || cfg->replica_of[0] != '\0') != (cfg->cluster_urls[0] != '\0'))
        return sb_err_set(err, -EINVAL,
                          "--cluster needs --shard (a primary) or --replica-of (a replica), "
                          "and they need --cluster.");
    if (cfg->member[0] != '\0' && cfg->cluster_urls[0] == '\0')
        return sb_err_set(err, -EINVAL,
                          "--member names a member of a cluster: it needs --cluster.");
    if (cfg->socket_path[0] == '\0' && sb_path_join(cfg->socket_path, sizeof(cfg->socket_path),
                                                    cfg->data_dir, SB_SOCKET_NAME) != 0)
        return sb_err_set(err, -EINVAL, "The data directory path is too long.");
    struct sockaddr_un sun;
    if (strlen(cfg->socket_path) >= sizeof(sun.sun_path))
        return sb_err_set(err, -ENAMETOOLONG,
                          "The socket path %s has %zu bytes; Unix sockets allow at most %zu here. "
                          "Pass a shorter --socket or --data-dir.",
                          cfg->socket_path, strlen(cfg->socket_path), sizeof(sun.sun_path) - 1);
    /* In the build tree build/server/switchboardd loads build/plugins;
     * installed, PREFIX/bin/switchboardd loads PREFIX/lib/switchboard/plugins.
     * sb-plugin-runner, for isolated plugins, lies beside the server. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        snprintf(exe, sizeof(exe), "%s", argv0);
    else
        exe[n] = '\0';
    char *dir = dirname(exe);
    snprintf(cfg->plugin_runner, sizeof(cfg->plugin_runner), "%.4000s/sb-plugin-runner", dir);
    if (cfg->plugin_dir[0] == '\0') {
        struct stat st;
        char build_tree[PATH_MAX];
        snprintf(build_tree, sizeof(build_tree), "%.4000s/../plugins", dir);
        bool in_build_tree = stat(build_tree, &st) == 0 && S_ISDIR(st.st_mode);
        if (snprintf(cfg->plugin_dir, sizeof(cfg->plugin_dir), "%s/%s", dir,
                     in_build_tree ? "../plugins" : "../lib/switchboard/plugins") >=
            (int)sizeof(cfg->plugin_dir))
            return sb_err_set(err, -EINVAL, "The server's path is too long.");
    }
    if (cfg->write_low_bytes >= cfg->write_high_bytes ||
        cfg->write_high_bytes >= cfg->write_cap_bytes)
        return sb_err_set(err, -EINVAL,
                          "The write marks must grow: --write-low-bytes < --write-high-bytes < "
                          "--write-cap-bytes.");
    if (cfg->max_unread_bytes_per_org > cfg->max_unread_bytes)
        return sb_err_set(err, -EINVAL,
                          "--max-unread-bytes-per-org (%zu) is more than --max-unread-bytes (%zu): "
                          "one org's share is part of the whole.",
                          cfg->max_unread_bytes_per_org, cfg->max_unread_bytes);
    if (cfg->max_batch > SB_STORE_BULK_MAX)
        return sb_err_set(err, -EINVAL, "--max-batch is at most %d.", SB_STORE_BULK_MAX);
    if (cfg->initial_map_bytes > cfg->max_map_bytes)
        cfg->initial_map_bytes = cfg->max_map_bytes;
    if (cfg->max_message_bytes < 4096)
        return sb_err_set(err, -EINVAL, "--max-message-bytes is at least 4096.");
    if (cfg->admin_reserved_connections >= cfg->max_connections)
        return sb_err_set(err, -EINVAL,
                          "--admin-reserved-connections (%zu) must be below --max-connections "
                          "(%zu): org tokens need at least one connection.",
                          cfg->admin_reserved_connections, cfg->max_connections);
    if (cfg->max_preauth_bytes < 256 || cfg->max_preauth_bytes > cfg->max_message_bytes)
        return sb_err_set(err, -EINVAL,
                          "--max-preauth-bytes is between 256 (a token.authenticate request) "
                          "and --max-message-bytes.");
    return 0;
}

/* What a SIGHUP applies while serving: settings read only on the event loop
 * (or, for the change log's retention, handed to the writer under its
 * lock). The rest are read by other threads, or shape what was built at
 * start (the store's map, the listener, the plugin host): they need a
 * restart. */
static const char *const reloadable[] = {
    "log-level",
    "log-format",
    "slow-request-ms",
    "max-inflight",
    "max-inflight-bytes",
    "max-unauthenticated",
    "auth-timeout-ms",
    "idle-timeout-ms",
    "drain-timeout-ms",
    "write-stall-ms",
    "changes-keep",
    "changes-keep-hours",
    "max-connections-per-org",
};

static bool is_reloadable(const char *name)
{
    for (size_t i = 0; i < sizeof(reloadable) / sizeof(reloadable[0]); i++)
        if (strcmp(reloadable[i], name) == 0)
            return true;
    return false;
}

/* A setting's value as text, for the reload's log line. */
static void setting_text(const sb_config_t *cfg, const struct setting *s, char *out, size_t size)
{
    const void *field = (const char *)cfg + s->offset;
    switch (s->kind) {
    case PATH:
        snprintf(out, size, "%s", (const char *)field);
        return;
    case BYTES:
    case COUNT:
    case COUNT0:
        snprintf(out, size, "%zu", *(const size_t *)field);
        return;
    case DURABILITY:
        snprintf(out, size, "%s",
                 *(const sb_durability_t *)field == SB_DURABILITY_FULL ? "full" : "none");
        return;
    case LOG_LEVEL:
        snprintf(out, size, "%s", sb_log_level_name(*(const sb_log_level_t *)field));
        return;
    case LOG_FORMAT:
        snprintf(out, size, "%s", sb_log_format_name(*(const sb_log_format_t *)field));
        return;
    }
    out[0] = '\0';
}

/* Appends `text` to `list`, comma separated, cut (with "...") when full. */
static void list_add(char *list, size_t size, const char *text)
{
    size_t len = strlen(list);
    if (len + 4 >= size)
        return;
    int n = snprintf(list + len, size - len, "%s%s", len ? ", " : "", text);
    if (n < 0 || (size_t)n >= size - len)
        snprintf(list + size - 4, 4, "...");
}

void sb_config_reload(sb_config_t *running, const sb_config_t *next, char *changed,
                      size_t changed_size, char *restart, size_t restart_size)
{
    changed[0] = restart[0] = '\0';
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        char old_text[PATH_MAX], new_text[PATH_MAX];
        setting_text(running, s, old_text, sizeof(old_text));
        setting_text(next, s, new_text, sizeof(new_text));
        if (strcmp(old_text, new_text) == 0)
            continue;
        if (!is_reloadable(s->name)) {
            list_add(restart, restart_size, s->name);
            continue;
        }
        char line[PATH_MAX];
        snprintf(line, sizeof(line), "--%s %.1000s -> %.1000s", s->name, old_text, new_text);
        list_add(changed, changed_size, line);
        /* Every reloadable setting is a number or an enum of int size. */
        void *dst = (char *)running + s->offset;
        const void *src = (const char *)next + s->offset;
        if (s->kind == LOG_LEVEL)
            *(sb_log_level_t *)dst = *(const sb_log_level_t *)src;
        else if (s->kind == LOG_FORMAT)
            *(sb_log_format_t *)dst = *(const sb_log_format_t *)src;
        else
            *(size_t *)dst = *(const size_t *)src;
    }
}

void sb_config_usage(FILE *out)
{
    fprintf(out, "usage: switchboardd [--config FILE] [--FLAG VALUE ...]\n\n"
                 "Serves Switchboard's msgpack-RPC protocol on a Unix socket. With no flags it\n"
                 "keeps its data in ~/.local/share/switchboard and listens on switchboard.sock "
                 "there.\n\n");
    for (size_t i = 0; i < N_SETTINGS; i++)
        fprintf(out, "  --%-20s %s\n", settings[i].name, settings[i].help);
    fprintf(out, "  --%-20s %s\n", "config FILE",
            "a JSON object of the settings above (keys with '_' for '-'); flags win");
    fprintf(out, "  --%-20s %s\n", "protocol-doc", "print docs/protocol.md from the method table");
    fprintf(out, "  --%-20s %s\n", "version", "print the version");
    fprintf(out, "  --%-20s %s\n", "help", "print this text");
    fprintf(out, "\nSignals: SIGTERM and SIGINT stop the server cleanly (in-flight requests are "
                 "answered first; connections still draining after --drain-timeout-ms are "
                 "closed). SIGHUP reads the config file and flags again and applies what may "
                 "change while serving (the log's level and format, --slow-request-ms and the "
                 "limits marked so in docs/operating.md), logging what changed.\n");
}
