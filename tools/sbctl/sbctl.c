/*
 * sbctl: the command line for switchboardd. Every method of the server is a
 * subcommand ("member.add" is "sbctl member add"), built from the server's
 * own method table, so that its options, types and --help cannot drift from
 * the protocol.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "help.h"
#include "message.h"
#include "methods.h"
#include "paths.h"
#include "sbctl.h"
#include "table.h"
#include "version.h"

typedef struct options {
    char socket[4096];
    char data_dir[4096];
    const char *cluster;    /* --cluster / SB_CLUSTER: NATS URLs, routing every command; or NULL */
    const char *member;     /* --member: where commands without an org go in a cluster */
    const char *token_file; /* --token-file: the token's file, or NULL */
    const char *shard;      /* org create --shard: the shard that gets the org */
    bool json;
    int timeout_s;  /* a reply's deadline; 0: none */
    bool all;       /* --all: every page of a list */
    bool exit_code; /* doctor --exit-code: exit 1 when it finds something */
} options_t;

/* Arguments that may also be given without their flag, in this order (names separated by a
 * space: the first word without a flag is the first, and so on). */
static const struct {
    const char *method;
    const char *positional;
} positionals[] = {
    {"cluster.promote", "shard member"},
    {"org.create", "org"},
    {"org.get", "org"},
    {"org.delete", "org"},
    {"callcenter.get", "id"},
    {"callcenter.update", "id"},
    {"callcenter.clone", "id"},
    {"callcenter.delete", "id"},
    {"token.revoke", "id"},
    {"user.get", "id"},
    {"token.authenticate", "token"},
    {"callcenter.import", "file"},
    {"callcenter.export", "id"},
    {"callcenter.settings", "id"},
};

/* Replaces every `from` in s by `to`. */
static void replace_chars(char *s, char from, char to)
{
    for (; *s; s++)
        if (*s == from)
            *s = to;
}

/* "member.add_bulk" as typed: "member add-bulk". */
static void method_words(const char *method, char *out, size_t cap)
{
    snprintf(out, cap, "%s", method);
    replace_chars(out, '.', ' ');
    replace_chars(out, '_', '-');
}

static const char *positional_of(const char *method)
{
    for (size_t i = 0; i < sizeof(positionals) / sizeof(positionals[0]); i++)
        if (strcmp(positionals[i].method, method) == 0)
            return positionals[i].positional;
    return NULL;
}

/* One line per group: its name, then its commands (the table lists a group's methods
 * together). */
typedef struct groups_ctx {
    FILE *out;
    char last[SB_RPC_METHOD_MAX + 1]; /* the group of the line being printed */
} groups_ctx_t;

static void print_command(const sb_method_t *m, void *vctx)
{
    groups_ctx_t *ctx = vctx;
    char words[SB_RPC_METHOD_MAX + 1];
    method_words(m->name, words, sizeof(words));
    char *space = strchr(words, ' ');
    if (space == NULL)
        return;
    *space = '\0';
    if (strcmp(words, ctx->last) != 0) {
        fprintf(ctx->out, "%s  %-11s", ctx->last[0] ? "\n" : "", words);
        snprintf(ctx->last, sizeof(ctx->last), "%s", words);
    }
    fprintf(ctx->out, " %s", space + 1);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sbctl [--socket PATH] [--data-dir DIR] [-o FORMAT] GROUP COMMAND [ARGS]\n"
            "             [--OPTION VALUE ...]\n"
            "       sbctl --cluster URLS [--member M] GROUP COMMAND [ARGS]\n"
            "       sbctl GROUP --help          the group's commands\n"
            "       sbctl GROUP COMMAND --help  a command's options, with an example\n\n"
            "Talks to switchboardd over its Unix socket. It finds the local server's socket and\n"
            "admin token by itself (in $SB_DATA_DIR or ~/.local/share/switchboard); --socket,\n"
            "--token-file FILE and the SB_TOKEN environment variable override them.\n"
            "In a cluster, --cluster URLS (or SB_CLUSTER; NATS, nats://HOST:PORT,...) routes\n"
            "each command by the placement map: an org's writes to its shard's primary, its\n"
            "reads to any member; commands without an org to --member M or the first primary.\n"
            "It needs only the URLs and a token. org create --shard S puts an org on shard S.\n\n"
            "Groups and their commands:\n");
    groups_ctx_t ctx = {.out = out};
    sb_method_each(print_command, &ctx);
    fprintf(out, "\n  (and user import, member import, contact import, licence import: a CSV "
                 "file, all checked first)\n\n");
    fprintf(out, "  %-28s %s\n", "doctor", "The same as org doctor.");
    fprintf(out, "  %-28s %s\n", "backup FILE [--force]",
            "A hot backup of the whole store (docs/operating.md).");
    fprintf(out, "  %-28s %s\n", "verify", "The same as server verify; exit 1 on problems.");
    fprintf(out, "  %-28s %s\n", "audit", "The same as audit list: who changed what, and when.");
    fprintf(out, "  %-28s %s\n", "watch",
            "The same as changes watch: the org's changes as they happen, until Ctrl-C.");
    fprintf(out, "\nExit status: 0 done, 1 refused by the server, 2 bad usage, 3 no server.\n"
                 "-o table|wide|json|csv|name chooses the output: a table that fits the\n"
                 "terminal (100 columns off one), every column, JSON for scripts (--json), CSV,\n"
                 "or the first column only. Times are ISO 8601 in UTC; --local shows local time.\n"
                 "--all reads every page of a list. SB_ORG gives --org a default. Completion:\n"
                 "sbctl --completion bash|zsh; the manual: man sbctl (sbctl --man).\n");
}

static const char *type_hint(sb_arg_type_t type)
{
    static const char *const hints[] = {"TEXT",       "N",         "", "JSON-ARRAY|A,B,C|@FILE",
                                        "JSON|@FILE", "FILE|@FILE"};
    return hints[type];
}

static const sb_arg_spec_t *find_arg(const sb_method_t *m, const char *flag);

static void command_help(const sb_method_t *m)
{
    const char *pos = positional_of(m->name);
    char words[SB_RPC_METHOD_MAX + 1], shown[64] = "";
    method_words(m->name, words, sizeof(words));
    /* "shard member": SHARD MEMBER, the words that may go without their flags. */
    for (size_t i = 0; pos != NULL && pos[i] != '\0' && i + 1 < sizeof(shown); i++) {
        shown[i] = (char)toupper((unsigned char)pos[i]);
        shown[i + 1] = '\0';
    }
    printf("usage: sbctl %s%s%s [OPTIONS]\n\n%s\n\n", words, pos ? " " : "", shown, m->summary);
    for (const sb_arg_spec_t *a = m->args; a->name != NULL; a++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", a->name);
        replace_chars(flag, '_', '-');
        printf("  %-26s %-8s %s%s\n", flag, type_hint(a->type), a->doc,
               a->required ? " (required)" : "");
    }
    if (strcmp(m->name, "callcenter.update") == 0)
        printf("  %-26s %-8s %s\n", "--set /SECTION/ITEM=VALUE", "",
               "change one value (repeat it)");
    if (!m->writes)
        printf("  %-26s %-8s %s\n", "--min-seq", "N",
               "on a replica: answer once change N (a write's seq) is applied");
    printf("\nResult: %s\n", m->result);
    if (m->errors[0])
        printf("Errors: %s\n", m->errors);
    printf("\nExample:\n");
    sbctl_help_example(m, stdout);
    if (strcmp(m->name, "org.doctor") == 0)
        printf("  sbctl doctor --org acme --exit-code   (exit 1 when it finds something)\n");
    if (strcmp(m->name, "org.create") == 0)
        printf("  sbctl --cluster URLS org create acme --shard s2   (a cluster: --shard picks "
               "the shard)\n");
    if (strcmp(m->name, "call.test") == 0)
        printf("  (exit 1 when one of its checks fails)\n");
    if (strstr(m->name, ".list") != NULL && find_arg(m, "after") != NULL)
        printf("  (--all reads every page; -o csv or -o name for a script)\n");
}

/* ---- arguments to msgpack ----------------------------------------------------- */

/* One given argument: its spec and its text (NULL for a bare boolean flag). */
typedef struct given {
    const sb_arg_spec_t *spec;
    const char *text;
    bool negated;
} given_t;

static int pack_value(msgpack_packer *pk, const given_t *g, char *why, size_t cap)
{
    const sb_arg_spec_t *a = g->spec;
    switch (a->type) {
    case SB_ARG_STRING:
        return sb_pack_str(pk, g->text);
    case SB_ARG_BYTES: {
        /* A file's path, or @FILE as a JSON or layout argument takes it ("-", "@-": standard
         * input): its bytes are sent. JSON written inline ({...} or [...]) is sent as it is. */
        const char *text = g->text;
        size_t lead = strspn(text, " \t\r\n");
        if (text[lead] == '{' || text[lead] == '[')
            return msgpack_pack_bin(pk, strlen(text)) |
                   msgpack_pack_bin_body(pk, text, strlen(text));
        const char *path = text[0] == '@' ? text + 1 : text;
        FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
        if (f == NULL) {
            snprintf(why, cap, "cannot read %s: %s", path, strerror(errno));
            return -EINVAL;
        }
        enum { MAX_FILE = 1 << 20 };
        char *data = malloc(MAX_FILE + 1);
        size_t len = data ? fread(data, 1, MAX_FILE + 1, f) : 0;
        if (f != stdin)
            fclose(f);
        int rc = 0;
        if (data == NULL || len > MAX_FILE) {
            snprintf(why, cap, "%s is larger than 1 MiB, the most a definition file may be", path);
            rc = -EINVAL;
        } else {
            rc = msgpack_pack_bin(pk, len) | msgpack_pack_bin_body(pk, data, len);
        }
        free(data);
        return rc;
    }
    case SB_ARG_BOOLEAN:
        if (g->text == NULL)
            return g->negated ? msgpack_pack_false(pk) : msgpack_pack_true(pk);
        if (strcasecmp(g->text, "true") == 0 || strcmp(g->text, "1") == 0)
            return msgpack_pack_true(pk);
        if (strcasecmp(g->text, "false") == 0 || strcmp(g->text, "0") == 0)
            return msgpack_pack_false(pk);
        snprintf(why, cap, "--%s is true or false, not '%s'", a->name, g->text);
        return -EINVAL;
    case SB_ARG_INTEGER: {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(g->text, &end, 10);
        if (errno || *end || end == g->text || g->text[0] == '-') {
            snprintf(why, cap, "--%s takes a whole number, not '%s'", a->name, g->text);
            return -EINVAL;
        }
        return msgpack_pack_uint64(pk, n);
    }
    case SB_ARG_ARRAY:
        if (g->text[0] != '[' && g->text[0] != '@') { /* a,b,c: a list of strings */
            size_t n = 1;
            for (const char *p = g->text; *p; p++)
                n += *p == ',';
            int rc = msgpack_pack_array(pk, n);
            const char *start = g->text;
            for (;;) {
                const char *comma = strchr(start, ',');
                size_t len = comma ? (size_t)(comma - start) : strlen(start);
                rc |= msgpack_pack_str(pk, len) | msgpack_pack_str_body(pk, start, len);
                if (comma == NULL)
                    break;
                start = comma + 1;
            }
            return rc;
        }
        /* fall through: a JSON array */
        __attribute__((fallthrough));
    case SB_ARG_MAP: {
        /* JSON text, or @FILE: the JSON of a file (a layout is easier kept in one). */
        json_error_t jerr;
        json_t *j = g->text[0] == '@' ? json_load_file(g->text + 1, JSON_DECODE_ANY, &jerr)
                                      : json_loads(g->text, JSON_DECODE_ANY, &jerr);
        if (j == NULL || (a->type == SB_ARG_MAP ? !json_is_object(j) : !json_is_array(j))) {
            snprintf(why, cap, "--%s takes a JSON %s (%s)", a->name,
                     a->type == SB_ARG_MAP ? "object" : "array", j ? "of another type" : jerr.text);
            json_decref(j);
            return -EINVAL;
        }
        int rc = sb_client_pack_json(pk, j);
        json_decref(j);
        return rc;
    }
    }
    return -EINVAL;
}

static const sb_arg_spec_t *find_arg(const sb_method_t *m, const char *flag)
{
    char name[64];
    if (strlen(flag) >= sizeof(name)) /* longer than any argument's name */
        return NULL;
    memcpy(name, flag, strlen(flag) + 1);
    replace_chars(name, '-', '_');
    for (const sb_arg_spec_t *a = m->args; a->name != NULL; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

/* Builds the argument map from argv[first..]. Returns an exit status. */
static int build_args(const sb_method_t *m, int argc, char **argv, int first, msgpack_sbuffer *out)
{
    given_t given[SB_METHOD_MAX_ARGS];
    size_t n_given = 0;
    const char *sets[256];
    size_t n_sets = 0;
    uint64_t min_seq = 0;
    bool has_min_seq = false;
    const char *pos = positional_of(m->name);
    for (int i = first; i < argc; i++) {
        const char *word = argv[i];
        if (strncmp(word, "--", 2) != 0) {
            /* The next positional name not given already (by its flag, before this word). */
            const sb_arg_spec_t *a = NULL;
            while (a == NULL && pos != NULL) {
                char name[64];
                size_t len = strcspn(pos, " ");
                snprintf(name, sizeof(name), "%.*s", (int)len, pos);
                pos = pos[len] == ' ' ? pos + len + 1 : NULL;
                a = find_arg(m, name);
                for (size_t k = 0; a != NULL && k < n_given; k++)
                    if (given[k].spec == a)
                        a = NULL;
            }
            if (a == NULL || n_given == SB_METHOD_MAX_ARGS) {
                fprintf(stderr, "sbctl: unexpected '%s'; see sbctl ... --help.\n", word);
                return SBCTL_USAGE;
            }
            /* callcenter get NAME: a name starts with a letter, an id with a digit. */
            const sb_arg_spec_t *by_name = find_arg(m, "internal_name");
            if (by_name != NULL && strcmp(m->name, "callcenter.get") == 0 &&
                isalpha((unsigned char)word[0]))
                a = by_name;
            given[n_given++] = (given_t){a, word, false};
            continue;
        }
        char flag[64];
        snprintf(flag, sizeof(flag), "%s", word + 2);
        char *eq = strchr(flag, '=');
        const char *inline_value = NULL;
        if (eq) {
            *eq = '\0';
            inline_value = word + 2 + (eq - flag) + 1;
        }
        if (strcmp(flag, "min-seq") == 0 && !m->writes) {
            /* Any read: a replica answers once it has applied that change (a write's seq). */
            const char *v = inline_value ? inline_value : (i + 1 < argc ? argv[++i] : NULL);
            char *end = NULL;
            errno = 0;
            unsigned long long n =
                v != NULL && v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
            if (v == NULL || end == NULL || *end != '\0' || errno != 0) {
                fprintf(stderr, "sbctl: --min-seq takes a change's sequence (a write's seq: 0 "
                                "or more).\n");
                return SBCTL_USAGE;
            }
            min_seq = n;
            has_min_seq = true;
            continue;
        }
        if (strcmp(flag, "set") == 0 && strcmp(m->name, "callcenter.update") == 0) {
            const char *v = inline_value ? inline_value : (i + 1 < argc ? argv[++i] : NULL);
            if (v == NULL || strchr(v, '=') == NULL || n_sets == 256) {
                fprintf(stderr, "sbctl: --set takes /SECTION/ITEM=VALUE.\n");
                return SBCTL_USAGE;
            }
            sets[n_sets++] = v;
            continue;
        }
        bool negated = strncmp(flag, "no-", 3) == 0;
        const sb_arg_spec_t *a = find_arg(m, negated ? flag + 3 : flag);
        if (a == NULL || (negated && a->type != SB_ARG_BOOLEAN)) {
            char words[SB_RPC_METHOD_MAX + 1];
            sbctl_method_words(m->name, words, sizeof(words));
            const char *near = sbctl_suggest_flag(m, flag);
            fprintf(stderr, "sbctl: %s has no option --%s", words, flag);
            if (near != NULL) {
                char nearflag[64];
                snprintf(nearflag, sizeof(nearflag), "%s", near);
                replace_chars(nearflag, '_', '-');
                fprintf(stderr, "; did you mean --%s?\n", nearflag);
            } else {
                fprintf(stderr, "; sbctl %s --help lists them.\n", words);
            }
            return SBCTL_USAGE;
        }
        const char *value = inline_value;
        if (value == NULL && a->type != SB_ARG_BOOLEAN) {
            if (i + 1 >= argc) {
                fprintf(stderr, "sbctl: --%s needs a value.\n", flag);
                return SBCTL_USAGE;
            }
            value = argv[++i];
        }
        if (n_given == SB_METHOD_MAX_ARGS) {
            fprintf(stderr, "sbctl: too many options.\n");
            return SBCTL_USAGE;
        }
        given[n_given++] = (given_t){a, value, negated};
    }
    /* Each argument once: "org get acme --org b" names two. */
    for (size_t i = 0; i < n_given; i++)
        for (size_t k = i + 1; k < n_given; k++)
            if (given[i].spec == given[k].spec) {
                fprintf(stderr,
                        "sbctl: %s is given twice (its word and --%s, or the flag "
                        "twice); give it once.\n",
                        given[i].spec->name, given[i].spec->name);
                return SBCTL_USAGE;
            }
    /* SB_ORG gives --org a default. */
    const sb_arg_spec_t *org = find_arg(m, "org");
    const char *env_org = getenv("SB_ORG");
    bool has_org = false;
    for (size_t i = 0; i < n_given; i++)
        has_org |= given[i].spec == org;
    if (org && !has_org && env_org && env_org[0] && n_given < SB_METHOD_MAX_ARGS)
        given[n_given++] = (given_t){org, env_org, false};
    for (const sb_arg_spec_t *a = m->args; a->name != NULL; a++) {
        bool found = false;
        for (size_t i = 0; i < n_given; i++)
            found |= given[i].spec == a;
        if (a->required && !found) {
            fprintf(stderr, "sbctl: %s needs --%s (%s); see --help.\n", m->name, a->name, a->doc);
            return SBCTL_USAGE;
        }
    }
    /* A file sent by path is named by it too, unless a name is given. */
    const sb_arg_spec_t *filename = find_arg(m, "filename");
    const char *file_path = NULL;
    bool has_filename = false;
    for (size_t i = 0; i < n_given; i++) {
        has_filename |= given[i].spec == filename;
        if (given[i].spec->type == SB_ARG_BYTES && strcmp(given[i].text, "-") != 0)
            file_path = given[i].text;
    }
    if (filename && file_path && !has_filename && n_given < SB_METHOD_MAX_ARGS) {
        const char *base = strrchr(file_path, '/');
        given[n_given++] = (given_t){filename, base ? base + 1 : file_path, false};
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n_given + (n_sets > 0) + has_min_seq);
    if (has_min_seq)
        sb_pack_kv_uint(&pk, "min_seq", min_seq);
    for (size_t i = 0; i < n_given; i++) {
        char why[256];
        sb_pack_str(&pk, given[i].spec->name);
        if (pack_value(&pk, &given[i], why, sizeof(why)) != 0) {
            fprintf(stderr, "sbctl: %s.\n", why);
            return SBCTL_USAGE;
        }
    }
    if (n_sets > 0) {
        sb_pack_str(&pk, "values");
        msgpack_pack_map(&pk, n_sets);
        for (size_t i = 0; i < n_sets; i++) {
            const char *eq = strchr(sets[i], '=');
            msgpack_pack_str(&pk, (size_t)(eq - sets[i]));
            msgpack_pack_str_body(&pk, sets[i], (size_t)(eq - sets[i]));
            sb_pack_str(&pk, eq + 1);
        }
    }
    return SBCTL_OK;
}

/* ---- connecting ----------------------------------------------------------------- */

/*
 * The token: SB_TOKEN, else --token-file, else the admin token of the data
 * directory (the local server's, or in a cluster a local member's). Returns
 * it in buf[0..cap) (newline dropped), or SBCTL_USAGE with why on stderr.
 */
static int read_token(const options_t *o, char *buf, size_t cap)
{
    const char *token = getenv("SB_TOKEN");
    if (token != NULL && token[0] != '\0') {
        if (strlen(token) >= cap) {
            fprintf(stderr, "sbctl: SB_TOKEN is longer than a token (%zu bytes at most).\n",
                    cap - 1);
            return SBCTL_USAGE;
        }
        snprintf(buf, cap, "%s", token);
        return SBCTL_OK;
    }
    char path[4096 + 32];
    if (o->token_file != NULL)
        snprintf(path, sizeof(path), "%s", o->token_file);
    else
        snprintf(path, sizeof(path), "%s/%s", o->data_dir, SB_ADMIN_TOKEN_NAME);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (o->token_file != NULL)
            fprintf(stderr, "sbctl: cannot read the token file %s: %s.\n", path, strerror(errno));
        else
            fprintf(stderr,
                    "sbctl: no token: set SB_TOKEN or give --token-file FILE, or run as the "
                    "server's user so that sbctl can read %s.\n",
                    path);
        return SBCTL_USAGE;
    }
    if (fgets(buf, (int)cap, f) == NULL)
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return SBCTL_OK;
}

/* One command's connection: the local server's, or in a cluster the member its request is
 * routed to. */
typedef struct sbctl_conn {
    sb_client_t local;
    sb_client_cluster_t *cluster; /* --cluster: the routed handle; NULL otherwise */
    sb_client_t *client;          /* what calls use: &local, or a member's [borrowed: cluster] */
} sbctl_conn_t;

static void sbctl_close(sbctl_conn_t *c)
{
    if (c->cluster != NULL)
        sb_client_cluster_free(c->cluster);
    else
        sb_client_close(&c->local);
    c->cluster = NULL;
    c->client = NULL;
}

/* The failure of the last call, on stderr (and with --json as an error object): the call on
 * `client`, or when it is NULL the cluster handle's (routing, or a routed call). */
static int report_failure(const options_t *o, const sb_client_cluster_t *cluster,
                          const sb_client_t *client, int rc)
{
    int code = client ? sb_client_error_code(client) : sb_client_cluster_error_code(cluster);
    const char *name =
        client ? sb_client_error_name(client) : sb_client_cluster_error_name(cluster);
    const char *message =
        client ? sb_client_error_message(client) : sb_client_cluster_error_message(cluster);
    if (rc == SB_CLIENT_REFUSED) {
        if (o->json) {
            json_t *e = json_pack("{s:{s:i, s:s, s:s}}", "error", "code", code, "name", name,
                                  "message", message);
            json_dumpf(e, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
            json_decref(e);
        }
        fprintf(stderr, "sbctl: %s: %s\n", name, message);
        return SBCTL_REFUSED;
    }
    fprintf(stderr, "sbctl: %s\n", rc == -ENOMEM ? "out of memory" : message);
    return SBCTL_UNREACHABLE;
}

/* With --cluster: the routed handle (NATS, the placement bucket's watch). */
static int open_cluster(const options_t *o, sbctl_conn_t *c)
{
    char token[256];
    int status = read_token(o, token, sizeof(token));
    if (status != SBCTL_OK)
        return status;
    int rc = sb_client_cluster_new(&c->cluster, o->cluster, token);
    memset(token, 0, sizeof(token));
    if (rc != 0) {
        fprintf(stderr, "sbctl: %s\n",
                c->cluster ? sb_client_cluster_error_message(c->cluster) : "out of memory");
        return rc == -EINVAL ? SBCTL_USAGE : SBCTL_UNREACHABLE;
    }
    if (o->member != NULL && sb_client_cluster_set_member(c->cluster, o->member) != 0) {
        fprintf(stderr, "sbctl: --member takes a member's name (32 bytes at most).\n");
        return SBCTL_USAGE;
    }
    sb__client_cluster_set_timeout(c->cluster, o->timeout_s);
    return SBCTL_OK;
}

/*
 * Opens the local server's socket (--socket) and authenticates with the
 * token (read_token). On failure `client` may be open: sb_client_close it.
 */
static int connect_and_authenticate(const options_t *o, sb_client_t *client)
{
    sb_err_t err;
    if (sb_client_open(client, o->socket, &err) != 0) {
        fprintf(stderr,
                "sbctl: %s\nsbctl: start the server with ./scripts/start (or switchboardd "
                "--data-dir DIR), or point sbctl at it with --socket PATH (a cluster: "
                "--cluster URLS).\n",
                err.message);
        return SBCTL_UNREACHABLE;
    }
    if (o->timeout_s > 0) {
        struct timeval tv = {.tv_sec = o->timeout_s};
        setsockopt(client->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(client->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    char token[256];
    int status = read_token(o, token, sizeof(token));
    if (status != SBCTL_OK)
        return status;
    int rc = sb_client_authenticate(client, token);
    memset(token, 0, sizeof(token));
    return rc == 0 ? SBCTL_OK : report_failure(o, NULL, client, rc);
}

/*
 * Connects for a command that calls `method` with `args` (NULL: none): the
 * local server, or in a cluster the member the request routes to (its
 * org's shard; --member or the first primary without an org). Whatever it
 * returns, release `c` with sbctl_close.
 */
static int sbctl_connect(const options_t *o, sbctl_conn_t *c, const char *method,
                         const msgpack_sbuffer *args)
{
    memset(c, 0, sizeof(*c));
    if (o->cluster != NULL) {
        int status = open_cluster(o, c);
        if (status != SBCTL_OK)
            return status;
        int rc = sb__client_cluster_route(c->cluster, o->shard, method, args ? args->data : NULL,
                                          args ? args->size : 0, &c->client);
        return rc == 0 ? SBCTL_OK : report_failure(o, c->cluster, NULL, rc);
    }
    int status = connect_and_authenticate(o, &c->local);
    if (status == SBCTL_OK || c->local.fd >= 0)
        c->client = &c->local; /* released by sbctl_close, also after a refusal */
    return status;
}

/* The page after `page`: its next_after, else its rows' last id (a string, or a map's "id"). */
static bool next_after(const msgpack_object *page, char *out, size_t cap)
{
    const msgpack_object *next = sb_obj_get(page, "next_after");
    if (next != NULL && next->type == MSGPACK_OBJECT_STR) {
        snprintf(out, cap, "%.*s", (int)next->via.str.size, next->via.str.ptr);
        return next->via.str.size > 0 && next->via.str.size < cap;
    }
    for (uint32_t i = 0; page->type == MSGPACK_OBJECT_MAP && i < page->via.map.size; i++) {
        const msgpack_object *rows = &page->via.map.ptr[i].val;
        if (rows->type != MSGPACK_OBJECT_ARRAY || rows->via.array.size == 0)
            continue;
        const msgpack_object *last = &rows->via.array.ptr[rows->via.array.size - 1];
        const msgpack_object *id = last->type == MSGPACK_OBJECT_MAP ? sb_obj_get(last, "id") : last;
        if (id == NULL || id->type != MSGPACK_OBJECT_STR || id->via.str.size >= cap)
            return false;
        snprintf(out, cap, "%.*s", (int)id->via.str.size, id->via.str.ptr);
        return true;
    }
    return false;
}

/* Packs `args` (a map) with "after" set to `after` and "limit" to 1000 unless given. */
static void args_after(msgpack_sbuffer *out, const msgpack_sbuffer *args, const char *after)
{
    msgpack_unpacked in;
    msgpack_unpacked_init(&in);
    size_t off = 0;
    msgpack_sbuffer_clear(out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    bool ok = args != NULL && args->size > 0 &&
              msgpack_unpack_next(&in, args->data, args->size, &off) == MSGPACK_UNPACK_SUCCESS &&
              in.data.type == MSGPACK_OBJECT_MAP;
    uint32_t n = ok ? in.data.via.map.size : 0;
    bool has_limit = ok && sb_obj_get(&in.data, "limit") != NULL;
    bool has_after = ok && sb_obj_get(&in.data, "after") != NULL;
    msgpack_pack_map(&pk, n + (after != NULL && !has_after) + !has_limit);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &in.data.via.map.ptr[i];
        msgpack_pack_object(&pk, kv->key);
        if (after != NULL && kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 5 &&
            memcmp(kv->key.via.str.ptr, "after", 5) == 0)
            sb_pack_str(&pk, after);
        else
            msgpack_pack_object(&pk, kv->val);
    }
    if (after != NULL && !has_after)
        sb_pack_kv_str(&pk, "after", after);
    if (!has_limit)
        sb_pack_kv_uint(&pk, "limit", 1000);
    msgpack_unpacked_destroy(&in);
}

/* Packs, for each array of the last page, the rows of every page under that key (first page
 * first); the last page's other fields as they are. */
static void pack_merged(msgpack_packer *pk, const msgpack_unpacked *pages, size_t n)
{
    const msgpack_object *last = &pages[n - 1].data;
    msgpack_pack_map(pk, last->via.map.size);
    for (uint32_t i = 0; i < last->via.map.size; i++) {
        const msgpack_object_kv *kv = &last->via.map.ptr[i];
        msgpack_pack_object(pk, kv->key);
        if (kv->val.type != MSGPACK_OBJECT_ARRAY || kv->key.type != MSGPACK_OBJECT_STR) {
            msgpack_pack_object(pk, kv->val);
            continue;
        }
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int)kv->key.via.str.size, kv->key.via.str.ptr);
        size_t total = 0;
        for (size_t p = 0; p < n; p++) {
            const msgpack_object *rows = sb_obj_get(&pages[p].data, key);
            total += rows && rows->type == MSGPACK_OBJECT_ARRAY ? rows->via.array.size : 0;
        }
        msgpack_pack_array(pk, total);
        for (size_t p = 0; p < n; p++) {
            const msgpack_object *rows = sb_obj_get(&pages[p].data, key);
            for (uint32_t r = 0;
                 rows && rows->type == MSGPACK_OBJECT_ARRAY && r < rows->via.array.size; r++)
                msgpack_pack_object(pk, rows->via.array.ptr[r]);
        }
    }
}

/* A list too long for one answer: --all stops there and says so. */
#define ALL_MAX_PAGES 1000

/*
 * --all: calls a list method page after page (--after the last row of each)
 * until one says there is no more, and gives one result holding every page's
 * rows. Returns sb_client_call()'s status.
 */
static int call_all_pages(sb_client_t *client, const sb_method_t *m, const msgpack_sbuffer *args,
                          msgpack_unpacked *result)
{
    msgpack_unpacked_init(result);
    msgpack_unpacked *pages = calloc(ALL_MAX_PAGES, sizeof(*pages));
    if (pages == NULL)
        return -ENOMEM;
    msgpack_sbuffer page_args;
    msgpack_sbuffer_init(&page_args);
    char after[256] = "";
    size_t n = 0;
    int rc = 0;
    while (n < ALL_MAX_PAGES) {
        args_after(&page_args, args, after[0] ? after : NULL);
        rc = sb_client_call(client, m->name, page_args.data, page_args.size, &pages[n]);
        if (rc != 0) {
            msgpack_unpacked_destroy(&pages[n]);
            break;
        }
        const msgpack_object *more = sb_obj_get(&pages[n].data, "more");
        char next[256];
        bool go_on = pages[n].data.type == MSGPACK_OBJECT_MAP && more != NULL &&
                     more->type == MSGPACK_OBJECT_BOOLEAN && more->via.boolean &&
                     next_after(&pages[n].data, next, sizeof(next)) && strcmp(next, after) != 0;
        n++;
        if (!go_on)
            break;
        snprintf(after, sizeof(after), "%s", next);
    }
    if (rc == 0 && n == ALL_MAX_PAGES)
        fprintf(stderr, "sbctl: --all stopped after %d pages; more follow (--after %s)\n",
                ALL_MAX_PAGES, after);
    if (rc == 0 && n > 0 && pages[n - 1].data.type == MSGPACK_OBJECT_MAP) {
        msgpack_sbuffer merged;
        msgpack_sbuffer_init(&merged);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &merged, msgpack_sbuffer_write);
        pack_merged(&pk, pages, n);
        size_t off = 0;
        /* The result's strings point into merged.data: the zone frees it with the result. */
        if (msgpack_unpack_next(result, merged.data, merged.size, &off) == MSGPACK_UNPACK_SUCCESS &&
            result->zone != NULL &&
            msgpack_zone_push_finalizer(result->zone, free, merged.data) == true)
            merged.data = NULL;
        else
            rc = -ENOMEM;
        msgpack_sbuffer_destroy(&merged);
    }
    for (size_t p = 0; p < n; p++)
        msgpack_unpacked_destroy(&pages[p]);
    free(pages);
    msgpack_sbuffer_destroy(&page_args);
    return rc;
}

static int run_method(const options_t *o, const sb_method_t *m, const msgpack_sbuffer *args)
{
    sbctl_conn_t c;
    msgpack_unpacked result;
    msgpack_unpacked_init(&result);
    int rc, status;
    if (o->cluster != NULL && !o->all) {
        /* One call, routed with the cluster client's retries (NOT_PRIMARY, MOVED, ORG_MOVING). */
        memset(&c, 0, sizeof(c));
        status = open_cluster(o, &c);
        if (status != SBCTL_OK) {
            sbctl_close(&c);
            return status;
        }
        const void *data = args ? args->data : NULL;
        size_t size = args ? args->size : 0;
        msgpack_unpacked_destroy(&result);
        c.client = NULL; /* the handle's calls: their failures are its own */
        rc = o->shard
                 ? sb_client_cluster_call_shard(c.cluster, o->shard, m->name, data, size, &result)
                 : sb_client_cluster_call(c.cluster, m->name, data, size, &result);
    } else {
        status = sbctl_connect(o, &c, m->name, args);
        if (status != SBCTL_OK) {
            msgpack_unpacked_destroy(&result);
            sbctl_close(&c);
            return status;
        }
        msgpack_unpacked_destroy(&result);
        rc = o->all ? call_all_pages(c.client, m, args, &result)
                    : sb_client_call(c.client, m->name, args ? args->data : NULL,
                                     args ? args->size : 0, &result);
    }
    if (rc == 0) {
        if (o->json)
            sbctl_print_json(&result.data);
        else
            sbctl_print_human(m->name, &result.data);
        /* verify's answer is a finding: problems make the exit status 1, as sbstore's. */
        const msgpack_object *clean = sb_obj_get(&result.data, "clean");
        if (strcmp(m->name, "server.verify") == 0 && clean != NULL &&
            clean->type == MSGPACK_OBJECT_BOOLEAN && !clean->via.boolean)
            status = SBCTL_REFUSED;
        /* A test call whose check failed is a failure, for a script as for a person. */
        const msgpack_object *passed = sb_obj_get(&result.data, "passed");
        if (strcmp(m->name, "call.test") == 0 && passed != NULL &&
            passed->type == MSGPACK_OBJECT_BOOLEAN && !passed->via.boolean)
            status = SBCTL_REFUSED;
        /* doctor --exit-code: a finding is a failure (for cron, monitoring). */
        const msgpack_object *findings = sb_obj_get(&result.data, "findings");
        if (o->exit_code && findings != NULL && findings->type == MSGPACK_OBJECT_ARRAY &&
            findings->via.array.size > 0)
            status = SBCTL_REFUSED;
    } else {
        /* A routed call's failure is the handle's; one on a connection (--all), the client's. */
        status = report_failure(o, c.cluster, c.client, rc);
    }
    msgpack_unpacked_destroy(&result);
    sbctl_close(&c);
    return status;
}

/* sbctl backup FILE [--force] */
static int run_backup(const options_t *o, int argc, char **argv, int first)
{
    const char *file = NULL;
    bool force = false;
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: sbctl backup FILE [--force]\n\n"
                   "Takes a hot backup of the whole store while the server serves (admin token):\n"
                   "a compacted copy holding every write up to one change-log sequence. Writes\n"
                   "FILE.tmp, checks the checksum, fsyncs, renames it to FILE, and prints the\n"
                   "size, the sequence and the checksum. An existing FILE is kept unless\n"
                   "--force. Restore it with: sbstore restore FILE DATA_DIR.\n");
            return SBCTL_OK;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if (file == NULL && (argv[i][0] != '-' || argv[i][1] == '\0')) {
            file = argv[i];
        } else {
            fprintf(stderr, "sbctl: backup takes FILE [--force]; not '%s'.\n", argv[i]);
            return SBCTL_USAGE;
        }
    }
    if (file == NULL) {
        fprintf(stderr, "sbctl: backup needs FILE: where to write the backup.\n");
        return SBCTL_USAGE;
    }
    sbctl_conn_t c;
    int status = sbctl_connect(o, &c, "server.backup", NULL);
    if (status == SBCTL_OK)
        status = sbctl_backup(c.client, file, force, o->json);
    sbctl_close(&c);
    return status;
}

/* Reads the first line of a token file into buf; false (said) when it cannot. */
static bool read_token_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr,
                "sbctl: cannot read the target's token from %s: %s (give it with "
                "--to-token-file F).\n",
                path, strerror(errno));
        return false;
    }
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!ok || buf[0] == '\0')
        fprintf(stderr, "sbctl: %s holds no token.\n", path);
    return ok && buf[0] != '\0';
}

/*
 * sbctl --cluster URLS org move ORG --to SHARD: the source is the org's
 * shard's primary and the target SHARD's, both as the placement map names
 * them, over the cluster handle's connections (one admin token, cluster-wide);
 * the move switches org.<ORG> in the bucket just before the commit.
 */
static int run_move_cluster(const options_t *o, const char *org, const char *shard)
{
    if (strlen(shard) > 32) {
        fprintf(stderr, "sbctl: --to takes a shard's name (32 bytes at most).\n");
        return SBCTL_USAGE;
    }
    sbctl_conn_t c;
    memset(&c, 0, sizeof(c));
    int status = open_cluster(o, &c);
    char from[64];
    int rc =
        status == SBCTL_OK ? sb__client_cluster_org_shard(c.cluster, org, from, sizeof(from)) : 0;
    if (status == SBCTL_OK && rc != 0)
        status = report_failure(o, c.cluster, NULL, rc);
    if (status == SBCTL_OK && strcmp(from, shard) == 0) {
        fprintf(stderr, "sbctl: org %s is on shard %s already: nothing to move.\n", org, shard);
        status = SBCTL_USAGE;
    }
    msgpack_sbuffer args;
    msgpack_sbuffer_init(&args);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    sb_pack_kv_str(&pk, "org", org);
    /* Both connections are the handle's: they stay open (and their pointers good) while no
     * member's socket changes in the map, which the move's few seconds do not see. */
    sb_client_t *src = NULL, *dst = NULL;
    char src_member[40] = "", dst_member[40] = "";
    if (status == SBCTL_OK) {
        rc = sb__client_cluster_route(c.cluster, NULL, "move.freeze", args.data, args.size, &src);
        snprintf(src_member, sizeof(src_member), "%s", sb_client_cluster_last_member(c.cluster));
        if (rc != 0)
            status = report_failure(o, c.cluster, NULL, rc);
    }
    if (status == SBCTL_OK) {
        rc = sb__client_cluster_route(c.cluster, shard, "move.import", args.data, args.size, &dst);
        snprintf(dst_member, sizeof(dst_member), "%s", sb_client_cluster_last_member(c.cluster));
        if (rc != 0)
            status = report_failure(o, c.cluster, NULL, rc);
    }
    msgpack_sbuffer_destroy(&args);
    if (status == SBCTL_OK) {
        if (!o->json)
            printf("moving org %s from shard %s (primary %s) to shard %s (primary %s)\n", org, from,
                   src_member, shard, dst_member);
        char to[48];
        snprintf(to, sizeof(to), "shard %s", shard);
        sbctl_move_target_t target = {
            .dst = dst, .to = to, .cluster = c.cluster, .from_shard = from, .to_shard = shard};
        status = sbctl_org_move(src, &target, org, o->json);
    }
    sbctl_close(&c);
    return status;
}

/* sbctl org move ORG --to-socket PATH [--to-token-file F], or in a cluster ORG --to SHARD */
static int run_move(const options_t *o, int argc, char **argv, int first)
{
    const char *org = NULL, *to_socket = NULL, *token_file = NULL, *shard = NULL;
    for (int i = first; i < argc; i++) {
        bool has_value = i + 1 < argc;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: sbctl org move ORG --to-socket PATH [--to-token-file F]\n"
                   "       sbctl --cluster URLS org move ORG --to SHARD\n\n"
                   "Moves the org from this server to the one at PATH (admin tokens on both):\n"
                   "copies its records, catches up with the writes made meanwhile, pauses its\n"
                   "writes (ORG_MOVING) for the last catch-up, compares both sides' digests,\n"
                   "commits on the target, and makes this server answer MOVED for it and delete\n"
                   "its records. Any failure before the commit leaves it serving here and\n"
                   "nothing of it on the target. The target's token is read from F (default:\n"
                   "admin.token beside PATH). In a cluster, --to SHARD moves it from its shard's\n"
                   "primary to SHARD's, and the placement bucket's org.<ORG> is switched to\n"
                   "SHARD just before the commit. docs/cluster.md, \"Moving an org\".\n\n"
                   "Examples:\n"
                   "  sbctl org move acme --to-socket /srv/switchboard-b/switchboard.sock\n"
                   "  sbctl --cluster nats://127.0.0.1:4222 org move acme --to s2\n");
            return SBCTL_OK;
        } else if (strcmp(argv[i], "--to-socket") == 0 && has_value) {
            to_socket = argv[++i];
        } else if (strcmp(argv[i], "--to-token-file") == 0 && has_value) {
            token_file = argv[++i];
        } else if (strcmp(argv[i], "--to") == 0 && has_value) {
            shard = argv[++i];
        } else if ((strcmp(argv[i], "--org") == 0) && has_value && org == NULL) {
            org = argv[++i];
        } else if (org == NULL && argv[i][0] != '-') {
            org = argv[i];
        } else {
            fprintf(stderr,
                    "sbctl: org move takes ORG --to-socket PATH [--to-token-file F] (in a "
                    "cluster: ORG --to SHARD); not '%s'.\n",
                    argv[i]);
            return SBCTL_USAGE;
        }
    }
    const char *env_org = getenv("SB_ORG");
    if (org == NULL && env_org != NULL && env_org[0] != '\0')
        org = env_org;
    if (o->cluster != NULL) {
        if (org == NULL || shard == NULL || to_socket != NULL || token_file != NULL) {
            fprintf(stderr, "sbctl: in a cluster, org move takes ORG --to SHARD (the shard that "
                            "is to hold it; sbctl cluster lists them).\n");
            return SBCTL_USAGE;
        }
        return run_move_cluster(o, org, shard);
    }
    if (shard != NULL) {
        fprintf(stderr, "sbctl: --to SHARD moves an org between a cluster's shards: give the "
                        "cluster with --cluster URLS (or SB_CLUSTER), or the target server "
                        "with --to-socket PATH.\n");
        return SBCTL_USAGE;
    }
    if (org == NULL || to_socket == NULL) {
        fprintf(stderr, "sbctl: org move needs ORG and --to-socket PATH (the target server's "
                        "socket).\n");
        return SBCTL_USAGE;
    }
    char to[PATH_MAX];
    if (realpath(to_socket, to) == NULL) {
        fprintf(stderr, "sbctl: there is no target socket at %s: %s.\n", to_socket,
                strerror(errno));
        return SBCTL_UNREACHABLE;
    }
    char src_real[PATH_MAX];
    if (realpath(o->socket, src_real) != NULL && strcmp(src_real, to) == 0) {
        fprintf(stderr, "sbctl: the target is the server the org is on (%s): nothing to move.\n",
                to);
        return SBCTL_USAGE;
    }
    char default_token[PATH_MAX + 16], token[256];
    if (token_file == NULL) {
        snprintf(default_token, sizeof(default_token), "%s", to);
        char *slash = strrchr(default_token, '/');
        snprintf(slash ? slash + 1 : default_token,
                 sizeof(default_token) - (size_t)(slash ? slash + 1 - default_token : 0), "%s",
                 SB_ADMIN_TOKEN_NAME);
        token_file = default_token;
    }
    if (!read_token_file(token_file, token, sizeof(token)))
        return SBCTL_USAGE;
    sb_client_t src, dst;
    int status = connect_and_authenticate(o, &src);
    sb_err_t err;
    if (status == SBCTL_OK && sb_client_open(&dst, to, &err) != 0) {
        fprintf(stderr, "sbctl: the target: %s\n", err.message);
        sb_client_close(&src);
        memset(token, 0, sizeof(token));
        return SBCTL_UNREACHABLE;
    } else if (status != SBCTL_OK) {
        sb_client_close(&src);
        memset(token, 0, sizeof(token));
        return status;
    }
    int rc = sb_client_authenticate(&dst, token);
    memset(token, 0, sizeof(token));
    if (rc != 0) {
        fprintf(stderr, "sbctl: the target refused its token (%s): %s\n", token_file,
                sb_client_error_message(&dst));
        status = rc == SB_CLIENT_REFUSED ? SBCTL_REFUSED : SBCTL_UNREACHABLE;
    } else {
        sbctl_move_target_t target = {.dst = &dst, .to = to};
        status = sbctl_org_move(&src, &target, org, o->json);
    }
    sb_client_close(&dst);
    sb_client_close(&src);
    return status;
}

/* sbctl watch: changes.watch, then each notification on a line (JSON with
 * --json) until Ctrl-C, the server closes, or the watch ends. */
static int run_watch(const options_t *o, const msgpack_sbuffer *args)
{
    sbctl_conn_t c;
    int status = sbctl_connect(o, &c, "changes.watch", args);
    if (status != SBCTL_OK) {
        sbctl_close(&c);
        return status;
    }
    sb_client_t *client = c.client;
    msgpack_unpacked result;
    int rc = sb_client_call(client, "changes.watch", args->data, args->size, &result);
    if (rc == 0) {
        char org[72] = "every org";
        uint64_t from = 0, first = 0, last = 0;
        for (uint32_t i = 0; result.data.type == MSGPACK_OBJECT_MAP && i < result.data.via.map.size;
             i++) {
            const msgpack_object_kv *kv = &result.data.via.map.ptr[i];
            char key[16];
            snprintf(key, sizeof(key), "%.*s", (int)kv->key.via.str.size, kv->key.via.str.ptr);
            if (strcmp(key, "org") == 0 && kv->val.type == MSGPACK_OBJECT_STR)
                snprintf(org, sizeof(org), "%.*s", (int)kv->val.via.str.size, kv->val.via.str.ptr);
            else if (kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                *(strcmp(key, "from") == 0    ? &from
                  : strcmp(key, "first") == 0 ? &first
                                              : &last) = kv->val.via.u64;
        }
        fprintf(stderr,
                "sbctl: watching %s from change %llu (the first kept is %llu, the last so far "
                "%llu); Ctrl-C stops.\n",
                org, (unsigned long long)from, (unsigned long long)first, (unsigned long long)last);
    }
    msgpack_unpacked_destroy(&result);
    if (rc == SB_CLIENT_REFUSED) {
        fprintf(stderr, "sbctl: %s: %s\n", sb_client_error_name(client),
                sb_client_error_message(client));
        sbctl_close(&c);
        return SBCTL_REFUSED;
    }
    if (rc == 0 && !o->json)
        printf("%-19s  %-12s %6s  %-10s %-24s %-39s %s\n", "TIME (UTC)", "ORG", "#", "TOKEN",
               "METHOD", "IDS", "CHANGES");
    fflush(stdout);
    while (rc == 0) {
        const msgpack_object *msg;
        rc = sb_client_next(client, &msg);
        if (rc != 0)
            break;
        const msgpack_object *p = msg->via.array.ptr;
        if (msg->via.array.size != 3 || p[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            p[0].via.u64 != SB_RPC_NOTIFICATION || p[1].type != MSGPACK_OBJECT_STR)
            continue;
        bool error = p[1].via.str.size == 13 && memcmp(p[1].via.str.ptr, "changes.error", 13) == 0;
        if (error) {
            const msgpack_object *e = &p[2];
            for (uint32_t i = 0; e->type == MSGPACK_OBJECT_MAP && i < e->via.map.size; i++)
                if (e->via.map.ptr[i].val.type == MSGPACK_OBJECT_STR &&
                    e->via.map.ptr[i].key.via.str.size == 7)
                    fprintf(stderr, "sbctl: the watch ended: %.*s\n",
                            (int)e->via.map.ptr[i].val.via.str.size,
                            e->via.map.ptr[i].val.via.str.ptr);
            sbctl_close(&c);
            return SBCTL_REFUSED;
        }
        if (o->json)
            sbctl_print_json(&p[2]);
        else
            sbctl_print_change(&p[2]);
        fflush(stdout);
    }
    fprintf(stderr, "sbctl: %s\n", sb_client_error_message(client));
    sbctl_close(&c);
    return SBCTL_UNREACHABLE;
}

/* sbctl user import FILE / sbctl member import FILE */
static int run_import(const options_t *o, const char *what, int argc, char **argv, int first)
{
    const char *file = NULL, *org = getenv("SB_ORG");
    sbctl_import_opts_t opts = {.chunk = 0};
    bool chunk_given = false;
    bool contacts = strcmp(what, "contact") == 0;
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 && contacts) {
            printf("usage: sbctl contact import FILE --org ORG --callcenter CC [--country-code N] "
                   "[--chunk N]\n\n"
                   "Reads a CSV file with a header row (id,name,phone; mobile_phone,\n"
                   "other_phone and type may follow). The numbers are read with the dialing\n"
                   "prefixes of Call Center CC and the country code N (default 1) and stored in\n"
                   "E.164. Every chunk is checked by the server first; a bad row is reported\n"
                   "with its line, and then nothing of the file is written. The whole file\n"
                   "goes in one request (one transaction) when it fits the server's limits;\n"
                   "--chunk N sends N rows per request. Other columns are ignored with a\n"
                   "warning; --columns phone=Phone,... names the header's columns;\n"
                   "--from-line N imports the records from line N of the file on.\n\n"
                   "Example:\n"
                   "  sbctl contact import contacts.csv --org acme --callcenter SupportEU\n");
            return SBCTL_OK;
        } else if (strcmp(argv[i], "--callcenter") == 0 && i + 1 < argc && contacts) {
            opts.callcenter = argv[++i];
        } else if (strcmp(argv[i], "--country-code") == 0 && i + 1 < argc && contacts) {
            opts.country_code = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0) {
            bool u = strcmp(what, "user") == 0;
            printf(
                "usage: sbctl %s import FILE --org ORG [--columns COL=HEADER,...]%s\n"
                "       [--from-line N] [--chunk N]\n\n"
                "Reads a CSV file with a header row (%s) and checks every\n"
                "field; has the server check every row (a dry run); then writes. A refused\n"
                "file writes nothing, and the error names the file's line and column. The\n"
                "whole file goes in one request (one transaction) when it fits the server's\n"
                "--max-batch and --max-message-bytes; else, or with --chunk N, in requests\n"
                "of at most N rows, each one atomic: if one of them is refused after others\n"
                "were written, the message names the lines written and the --from-line N\n"
                "that imports the rest. A UTF-8 byte-order mark (Excel) is skipped; other\n"
                "columns are ignored with a warning; --columns names the header's columns\n"
                "(case does not matter).%s A progress bar shows on a terminal; a summary\n"
                "ends it. FILE '-' reads standard input.\n\n"
                "Examples:\n"
                "  sbctl %s import %s.csv --org acme\n"
                "  %s\n",
                what,
                u                              ? " [--data-loader]"
                : strcmp(what, "member") == 0  ? " [--move]"
                : strcmp(what, "licence") == 0 ? " [--revoke]"
                                               : "",
                u ? "id,name[,profile,department,division,role]; all but id and name may be left "
                    "out"
                : strcmp(what, "licence") == 0
                    ? "user: the users given the Service Cloud Voice licence"
                    : "user,callcenter; a Call Center by id or name",
                u ? "\n--data-loader reads a Salesforce Data Loader export of users (its Id,\n"
                    "Name and Profile.Name columns; the others are ignored)."
                  : "",
                what,
                u                              ? "users"
                : strcmp(what, "licence") == 0 ? "licences"
                                               : "members",
                u ? "sbctl user import extract.csv --org acme --data-loader"
                  : "sbctl member import m.csv --org acme --columns user=UserId,callcenter=CC");
            return SBCTL_OK;
        } else if (strcmp(argv[i], "--org") == 0 && i + 1 < argc) {
            org = argv[++i];
        } else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc) {
            opts.chunk = strtoul(argv[++i], NULL, 10);
            chunk_given = true;
        } else if (strcmp(argv[i], "--move") == 0 && strcmp(what, "member") == 0) {
            opts.move = true;
        } else if (strcmp(argv[i], "--revoke") == 0 && strcmp(what, "licence") == 0) {
            opts.revoke = true;
        } else if (strcmp(argv[i], "--data-loader") == 0 && strcmp(what, "user") == 0) {
            opts.data_loader = true;
        } else if (strcmp(argv[i], "--columns") == 0 && i + 1 < argc) {
            opts.columns = argv[++i];
        } else if (strcmp(argv[i], "--from-line") == 0 && i + 1 < argc) {
            char *end;
            opts.from_line = strtoul(argv[++i], &end, 10);
            if (*end != '\0' || opts.from_line == 0) {
                fprintf(stderr, "sbctl: --from-line takes a line of the file, from 1; not '%s'.\n",
                        argv[i]);
                return SBCTL_USAGE;
            }
        } else if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
            file = argv[i];
        } else {
            fprintf(stderr, "sbctl: %s import takes FILE --org ORG [--chunk N]; not '%s'.\n", what,
                    argv[i]);
            return SBCTL_USAGE;
        }
    }
    if (contacts && opts.callcenter == NULL) {
        fprintf(stderr, "sbctl: contact import needs --callcenter CC: its dialing prefixes read "
                        "the numbers.\n");
        return SBCTL_USAGE;
    }
    if (file == NULL || org == NULL || (chunk_given && opts.chunk == 0)) {
        fprintf(stderr, "sbctl: %s import needs FILE and --org ORG (and a --chunk above 0).\n",
                what);
        return SBCTL_USAGE;
    }
    /* The command as typed, less --from-line: what a partial import tells to run again. */
    char command[2048];
    int len = snprintf(command, sizeof(command), "sbctl %s import %s", what, file);
    for (int i = first; i < argc && len > 0 && (size_t)len < sizeof(command); i++) {
        if (strcmp(argv[i], "--from-line") == 0) {
            i++;
            continue;
        }
        if (argv[i] == file)
            continue;
        len += snprintf(command + len, sizeof(command) - (size_t)len, " %s", argv[i]);
    }
    if (getenv("SB_ORG") != NULL && org == getenv("SB_ORG") && len > 0 &&
        (size_t)len < sizeof(command))
        snprintf(command + len, sizeof(command) - (size_t)len, " --org %s", org);
    opts.command = len > 0 && (size_t)len < sizeof(command) ? command : NULL;
    /* In a cluster, the org's shard's primary takes the whole import (each chunk a write). */
    msgpack_sbuffer route;
    msgpack_sbuffer_init(&route);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &route, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, org != NULL ? 1 : 0);
    if (org != NULL)
        sb_pack_kv_str(&pk, "org", org);
    sbctl_conn_t c;
    int status = sbctl_connect(o, &c, "user.upsert_bulk", &route);
    msgpack_sbuffer_destroy(&route);
    if (status == SBCTL_OK)
        status = sbctl_import(c.client, what, org, file, &opts, o->json);
    sbctl_close(&c);
    return status;
}

/*
 * The output options, wherever they are on the line: --json, -o FORMAT
 * (--output FORMAT, -oFORMAT, --output=FORMAT), --local. Takes them out of
 * argv[from..]. Returns an exit status.
 */
static int output_options(options_t *o, int *argc, char **argv, int from)
{
    for (int k = from; k < *argc; k++) {
        const char *format = NULL;
        int words = 1;
        if (strcmp(argv[k], "--") == 0)
            break;
        if (strcmp(argv[k], "--json") == 0) {
            format = "json";
        } else if (strcmp(argv[k], "--local") == 0) {
            sbctl_view.local = true;
        } else if (strcmp(argv[k], "-o") == 0 || strcmp(argv[k], "--output") == 0) {
            if (k + 1 >= *argc) {
                fprintf(stderr, "sbctl: %s takes table, wide, json, csv or name.\n", argv[k]);
                return SBCTL_USAGE;
            }
            format = argv[k + 1];
            words = 2;
        } else if (strncmp(argv[k], "--output=", 9) == 0) {
            format = argv[k] + 9;
        } else if (strncmp(argv[k], "-o", 2) == 0 && argv[k][2] != '\0' && argv[k][2] != '-') {
            format = argv[k] + 2;
        } else {
            continue;
        }
        if (format != NULL && sbctl_format_parse(format, &sbctl_view.format) != 0) {
            fprintf(stderr, "sbctl: -o takes table, wide, json, csv or name; not '%s'.\n", format);
            return SBCTL_USAGE;
        }
        if (format != NULL)
            o->json = sbctl_view.format == SBCTL_FORMAT_JSON;
        memmove(&argv[k], &argv[k + words], (size_t)(*argc - k - words) * sizeof(*argv));
        *argc -= words;
        k--;
    }
    return SBCTL_OK;
}

int main(int argc, char **argv)
{
    options_t o = {.json = false};
    /* The user's locale, so that a table counts "Zoë" as 3 columns and "山田" as 4; a C
     * locale (a cron job, a test) reads UTF-8 still: names are UTF-8 on the wire. */
    setlocale(LC_ALL, "");
    if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
        setlocale(LC_CTYPE, "C.UTF-8");
    int out_status = output_options(&o, &argc, argv, 1);
    if (out_status != SBCTL_OK)
        return out_status;
    if (sb_default_data_dir(o.data_dir, sizeof(o.data_dir)) != 0)
        snprintf(o.data_dir, sizeof(o.data_dir), ".");
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if ((strcmp(argv[i], "--socket") == 0 || strcmp(argv[i], "--data-dir") == 0) &&
            i + 1 < argc) {
            /* A cut path would name another file: refuse it instead. */
            bool socket = strcmp(argv[i], "--socket") == 0;
            char *dst = socket ? o.socket : o.data_dir;
            size_t cap = socket ? sizeof(o.socket) : sizeof(o.data_dir);
            if (strlen(argv[i + 1]) >= cap) {
                fprintf(stderr, "sbctl: %s takes a path of at most %zu bytes.\n", argv[i], cap - 1);
                return SBCTL_USAGE;
            }
            memcpy(dst, argv[i + 1], strlen(argv[i + 1]) + 1);
            i++;
        } else if ((strcmp(argv[i], "--cluster") == 0 || strcmp(argv[i], "--member") == 0 ||
                    strcmp(argv[i], "--token-file") == 0) &&
                   i + 1 < argc) {
            const char **dst = strcmp(argv[i], "--cluster") == 0  ? &o.cluster
                               : strcmp(argv[i], "--member") == 0 ? &o.member
                                                                  : &o.token_file;
            *dst = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return SBCTL_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("sbctl %s\n", SB_VERSION);
            return SBCTL_OK;
        } else if (strcmp(argv[i], "--man") == 0) {
            sbctl_print_man(stdout);
            return SBCTL_OK;
        } else if (strcmp(argv[i], "--completion") == 0) {
            if (i + 1 < argc && sbctl_print_completion(argv[i + 1], stdout))
                return SBCTL_OK;
            fprintf(stderr, "sbctl: --completion takes bash or zsh.\n");
            return SBCTL_USAGE;
        } else {
            fprintf(stderr, "sbctl: unknown option '%s'; see sbctl --help.\n", argv[i]);
            return SBCTL_USAGE;
        }
    }
    if (o.socket[0] == '\0')
        sb_path_join(o.socket, sizeof(o.socket), o.data_dir, SB_SOCKET_NAME);
    /* SB_CLUSTER: every command routed through the cluster, as --cluster does. */
    const char *env_cluster = getenv("SB_CLUSTER");
    if (o.cluster == NULL && env_cluster != NULL && env_cluster[0] != '\0')
        o.cluster = env_cluster;
    if (o.cluster == NULL && o.member != NULL) {
        fprintf(stderr, "sbctl: --member names a member of a cluster: give --cluster URLS too.\n");
        return SBCTL_USAGE;
    }
    if (i < argc && strcmp(argv[i], "backup") == 0)
        return run_backup(&o, argc, argv, i + 1);
    /* "sbctl doctor" is "sbctl org doctor": the command operators reach for first;
     * "sbctl verify" is "sbctl server verify"; "sbctl audit" is "sbctl audit
     * list", "sbctl watch" "sbctl changes watch". */
    bool doctor = i < argc && strcmp(argv[i], "doctor") == 0;
    bool verify = i < argc && strcmp(argv[i], "verify") == 0;
    bool audit =
        i < argc && strcmp(argv[i], "audit") == 0 && (i + 1 >= argc || argv[i + 1][0] == '-');
    bool watch = i < argc && strcmp(argv[i], "watch") == 0;
    bool one_word = doctor || verify || audit || watch; /* a command of one word */
    if (!one_word && i + 1 >= argc) {
        /* "sbctl org": the group's commands. */
        if (i < argc && sbctl_help_group(argv[i], stderr))
            return SBCTL_USAGE;
        usage(i < argc ? stdout : stderr);
        return i < argc && strcmp(argv[i], "help") == 0 ? SBCTL_OK : SBCTL_USAGE;
    }
    /* "sbctl org --help", "sbctl help org": the group's commands. */
    if (!one_word && (strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0 ||
                      strcmp(argv[i + 1], "help") == 0)) {
        if (sbctl_help_group(argv[i], stdout))
            return SBCTL_OK;
    }
    if (!one_word && strcmp(argv[i], "help") == 0 && sbctl_help_group(argv[i + 1], stdout))
        return SBCTL_OK;
    const char *noun = audit    ? "audit"
                       : watch  ? "changes"
                       : doctor ? "org"
                       : verify ? "server"
                                : argv[i];
    const char *verb = audit    ? "list"
                       : watch  ? "watch"
                       : doctor ? "doctor"
                       : verify ? "verify"
                                : argv[i + 1];
    int first = one_word ? i + 1 : i + 2;
    if (strcmp(verb, "import") == 0 &&
        (strcmp(noun, "user") == 0 || strcmp(noun, "member") == 0 || strcmp(noun, "contact") == 0 ||
         strcmp(noun, "licence") == 0))
        return run_import(&o, noun, argc, argv, first);
    if (strcmp(noun, "org") == 0 && strcmp(verb, "move") == 0)
        return run_move(&o, argc, argv, first);
    char method[SB_RPC_METHOD_MAX + 1];
    snprintf(method, sizeof(method), "%s.%s", noun, verb);
    replace_chars(method, '-', '_');
    const sb_method_t *m = sb_method_find(method);
    if (m == NULL) {
        char near[140];
        if (sbctl_suggest_command(noun, verb, near, sizeof(near)))
            fprintf(stderr, "sbctl: there is no command '%s %s'; did you mean 'sbctl %s'?\n", noun,
                    verb, near);
        else if (sbctl_help_group(noun, stderr))
            fprintf(stderr, "sbctl: there is no command '%s %s'; those above are.\n", noun, verb);
        else
            fprintf(stderr, "sbctl: there is no command '%s %s'; sbctl --help lists them.\n", noun,
                    verb);
        return SBCTL_USAGE;
    }
    for (int k = first; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            command_help(m);
            return SBCTL_OK;
        }
    }
    /* For scripts and load balancers: an answer within 5 s, and 0 (ready) or
     * 1 (anything else: not ready, no server, no answer). */
    bool health = strcmp(m->name, "server.health") == 0;
    if (health)
        o.timeout_s = 5;
    /* doctor --exit-code: sbctl's flag, not the method's. */
    for (int k = first; strcmp(m->name, "org.doctor") == 0 && k < argc; k++) {
        if (strcmp(argv[k], "--exit-code") == 0) {
            o.exit_code = true;
            memmove(&argv[k], &argv[k + 1], (size_t)(argc - k - 1) * sizeof(*argv));
            argc--;
            k--;
        }
    }
    /* org create --shard S: which shard of a cluster gets the org (sbctl's flag: the server
     * that takes the request is the shard). */
    for (int k = first; strcmp(m->name, "org.create") == 0 && k < argc; k++) {
        if (strcmp(argv[k], "--shard") != 0)
            continue;
        if (k + 1 >= argc || o.cluster == NULL) {
            fprintf(stderr, k + 1 >= argc ? "sbctl: --shard takes a shard's name.\n"
                                          : "sbctl: --shard picks a shard of a cluster: give "
                                            "--cluster URLS (or SB_CLUSTER) too.\n");
            return SBCTL_USAGE;
        }
        o.shard = argv[k + 1];
        memmove(&argv[k], &argv[k + 2], (size_t)(argc - k - 2) * sizeof(*argv));
        argc -= 2;
        k--;
    }
    if (strcmp(m->name, "org.create") == 0 && o.cluster != NULL && o.shard == NULL) {
        fprintf(stderr, "sbctl: in a cluster, org create needs --shard S: the shard that gets "
                        "the org.\n");
        return SBCTL_USAGE;
    }
    /* --all: every page of a list (sbctl's flag: the method takes --after). */
    for (int k = first; k < argc; k++) {
        if (strcmp(argv[k], "--all") != 0)
            continue;
        if (find_arg(m, "after") == NULL) {
            fprintf(stderr, "sbctl: --all reads every page of a list; %s %s has no pages.\n", noun,
                    verb);
            return SBCTL_USAGE;
        }
        o.all = true;
        memmove(&argv[k], &argv[k + 1], (size_t)(argc - k - 1) * sizeof(*argv));
        argc--;
        k--;
    }
    /* softphone check --layout: the whole answer, the layout with it (sbctl's flag, not the
     * method's). */
    for (int k = first; strcmp(m->name, "softphone.check") == 0 && k < argc; k++) {
        if (strcmp(argv[k], "--layout") == 0) {
            sbctl_view.detail = true;
            memmove(&argv[k], &argv[k + 1], (size_t)(argc - k - 1) * sizeof(*argv));
            argc--;
            k--;
        }
    }
    msgpack_sbuffer args;
    msgpack_sbuffer_init(&args);
    int status = build_args(m, argc, argv, first, &args);
    if (status == SBCTL_OK && strcmp(m->name, "changes.watch") == 0)
        status = run_watch(&o, &args);
    else if (status == SBCTL_OK)
        status = run_method(&o, m, &args);
    if (health && status == SBCTL_UNREACHABLE)
        status = SBCTL_REFUSED;
    msgpack_sbuffer_destroy(&args);
    return status;
}
