/* sbctl's help from the method table; see help.h. */
#include "help.h"

#include <string.h>

/* The commands sbctl adds to the method table's, by group. */
static const struct {
    const char *noun, *verb, *args, *summary, *example;
} extras[] = {
    {"user", "import", "FILE",
     "Upserts the users of a CSV file (id,name,profile): all checked, then written.",
     "sbctl user import users.csv --org acme"},
    {"member", "import", "FILE",
     "Assigns the users of a CSV file (user,callcenter): all checked, then written.",
     "sbctl member import members.csv --org acme --move"},
    {"contact", "import", "FILE",
     "Upserts the contacts of a CSV file (id,name,phone,...): all checked, then written.",
     "sbctl contact import contacts.csv --org acme --callcenter SupportEU"},
    {"org", "move", "ORG --to-socket PATH [--to-token-file F] | ORG --to SHARD (--cluster)",
     "Moves the org to another server (in a cluster, to another shard, switching its placement): "
     "copies it, catches up, pauses its writes for the last catch-up, compares digests, commits "
     "there; the source then answers MOVED for it.",
     "sbctl org move acme --to-socket /srv/switchboard-b/switchboard.sock"},
    {"backup", NULL, "FILE", "Writes a hot backup of the whole store to FILE.",
     "sbctl backup /var/backups/switchboard.sbk"},
    {"doctor", NULL, "", "The same as org doctor.", "sbctl doctor --org acme"},
    {"verify", NULL, "", "The same as server verify; exit 1 when it finds problems.",
     "sbctl verify"},
};
#define N_EXTRAS (sizeof(extras) / sizeof(extras[0]))

/* Global options: the completion scripts and the man page list them. */
static const struct {
    const char *flag, *value, *doc;
} globals[] = {
    {"--socket", "PATH", "the server's Unix socket (default: DIR/switchboard.sock)"},
    {"--data-dir", "DIR", "where the local server's socket and admin token are ($SB_DATA_DIR)"},
    {"--token-file", "FILE",
     "the file holding the token (default: DIR/admin.token; SB_TOKEN wins)"},
    {"--cluster", "URLS",
     "a cluster's NATS servers (nats://HOST:PORT,...; $SB_CLUSTER): every command is routed by "
     "the placement map, an org's writes to its shard's primary, its reads to any member"},
    {"--member", "M",
     "in a cluster: where commands without an org go (default: the first primary)"},
    {"-o", "FORMAT", "table, wide, json, csv or name (also --output FORMAT)"},
    {"--json", NULL, "the same as -o json"},
    {"--local", NULL, "times in the local time zone (default: UTC)"},
    {"--help", NULL, "help; COMMAND --help and GROUP --help too"},
    {"--version", NULL, "sbctl's version"},
};
#define N_GLOBALS (sizeof(globals) / sizeof(globals[0]))

void sbctl_method_words(const char *method, char *out, size_t cap)
{
    snprintf(out, cap, "%s", method);
    for (char *p = out; *p; p++)
        if (*p == '.')
            *p = ' ';
        else if (*p == '_')
            *p = '-';
}

/* Splits "noun.verb_x" into "noun" and "verb-x". */
static void split(const char *method, char *noun, char *verb, size_t cap)
{
    char words[128];
    sbctl_method_words(method, words, sizeof(words));
    const char *space = strchr(words, ' ');
    size_t n = space ? (size_t)(space - words) : strlen(words);
    snprintf(noun, cap, "%.*s", (int)n, words);
    snprintf(verb, cap, "%s", space ? space + 1 : "");
}

/* ---- a group's commands ---------------------------------------------------------- */

/* Prints `words` and `text` wrapped to 100 columns, the text indented under itself. */
static void wrapped(FILE *out, const char *words, const char *text)
{
    enum { INDENT = 31, WIDTH = 100 };
    fprintf(out, "  %-28s ", words);
    size_t col = INDENT;
    if (strlen(words) > 28) {
        fprintf(out, "\n%*s", INDENT, "");
    }
    while (*text) {
        size_t len = strcspn(text, " ");
        if (col > INDENT && col + 1 + len > WIDTH) {
            fprintf(out, "\n%*s", INDENT, "");
            col = INDENT;
        } else if (col > INDENT) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", (int)len, text);
        col += len;
        text += len;
        text += strspn(text, " ");
    }
    fputc('\n', out);
}

typedef struct group_ctx {
    const char *noun;
    FILE *out;
    size_t n;
} group_ctx_t;

static void group_one(const sb_method_t *m, void *vctx)
{
    group_ctx_t *ctx = vctx;
    char noun[64], verb[64];
    split(m->name, noun, verb, sizeof(noun));
    if (strcmp(noun, ctx->noun) != 0)
        return;
    char words[140];
    snprintf(words, sizeof(words), "%s %s", noun, verb);
    wrapped(ctx->out, words, m->summary);
    ctx->n++;
}

bool sbctl_help_group(const char *noun, FILE *out)
{
    group_ctx_t ctx = {noun, out, 0};
    /* Counted first, so that an unknown group prints nothing. */
    FILE *null = fopen("/dev/null", "w");
    group_ctx_t count = {noun, null ? null : out, 0};
    if (null != NULL) {
        sb_method_each(group_one, &count);
        fclose(null);
    }
    for (size_t i = 0; i < N_EXTRAS; i++)
        count.n += extras[i].verb != NULL && strcmp(extras[i].noun, noun) == 0;
    if (count.n == 0)
        return false;
    fprintf(out,
            "usage: sbctl %s COMMAND [OPTIONS]   (sbctl %s COMMAND --help for one)\n\n"
            "Commands:\n",
            noun, noun);
    sb_method_each(group_one, &ctx);
    for (size_t i = 0; i < N_EXTRAS; i++) {
        if (extras[i].verb == NULL || strcmp(extras[i].noun, noun) != 0)
            continue;
        char words[140];
        snprintf(words, sizeof(words), "%s %s %s", noun, extras[i].verb, extras[i].args);
        wrapped(out, words, extras[i].summary);
    }
    return true;
}

/* ---- did you mean ---------------------------------------------------------------- */

/* The edit distance of a and b (insertions, deletions, substitutions, and a swap of two
 * neighbours: "mebmer" is one typo), on their first 63 bytes. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a) < 63 ? strlen(a) : 63, lb = strlen(b) < 63 ? strlen(b) : 63;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* Near enough to be the word meant: two typos, one in a short word. */
static bool near(size_t dist, const char *word)
{
    return dist <= (strlen(word) <= 4 ? 1u : 2u);
}

typedef struct suggest_ctx {
    const char *noun, *verb;
    char best[140];
    size_t best_dist;
} suggest_ctx_t;

static void consider(suggest_ctx_t *ctx, const char *noun, const char *verb)
{
    size_t dn = distance(ctx->noun, noun), dv = distance(ctx->verb, verb);
    if (!near(dn, noun) || !near(dv, verb) || dn + dv >= ctx->best_dist)
        return;
    ctx->best_dist = dn + dv;
    snprintf(ctx->best, sizeof(ctx->best), "%s %s", noun, verb);
}

static void suggest_one(const sb_method_t *m, void *vctx)
{
    char noun[64], verb[64];
    split(m->name, noun, verb, sizeof(noun));
    consider(vctx, noun, verb);
}

bool sbctl_suggest_command(const char *noun, const char *verb, char *out, size_t cap)
{
    suggest_ctx_t ctx = {.noun = noun, .verb = verb, .best_dist = (size_t)-1};
    sb_method_each(suggest_one, &ctx);
    for (size_t i = 0; i < N_EXTRAS; i++)
        if (extras[i].verb != NULL)
            consider(&ctx, extras[i].noun, extras[i].verb);
    if (ctx.best_dist == (size_t)-1)
        return false;
    snprintf(out, cap, "%s", ctx.best);
    return true;
}

const char *sbctl_suggest_flag(const sb_method_t *m, const char *flag)
{
    char name[64];
    snprintf(name, sizeof(name), "%s", flag);
    for (char *p = name; *p; p++)
        if (*p == '-')
            *p = '_';
    const char *best = NULL;
    size_t best_dist = (size_t)-1;
    for (const sb_arg_spec_t *a = m->args; a->name != NULL; a++) {
        size_t d = distance(name, a->name);
        /* A prefix counts too: --call for --callcenter. */
        if (strncmp(a->name, name, strlen(name)) == 0 && strlen(name) >= 3)
            d = 1;
        if (near(d, a->name) && d < best_dist) {
            best = a->name;
            best_dist = d;
        }
    }
    return best;
}

/* ---- examples -------------------------------------------------------------------- */

/* A value for an argument in an example: by its name, else by its type. */
static const char *example_value(const char *noun, const sb_arg_spec_t *a)
{
    static const struct {
        const char *name, *value;
    } values[] = {
        {"org", "acme"},
        {"user", "005000000000001"},
        {"callcenter", "SupportEU"},
        {"internal_name", "SupportEU"},
        {"display_name", "\"Support (EU)\""},
        {"adapter_url", "https://softphone.example.com/cti"},
        {"name", "\"Ada Agent\""},
        {"profile", "Agent"},
        {"role", "read_only"},
        {"file", "SupportUS.xml"},
        {"layout", "@layout.json"},
        {"from", "\"+1 415 555 0100\""},
        {"phone", "\"+1 415 555 0100\""},
        {"token", "sbt_..."},
        {"event", "@event.json"},
        {"users", "005000000000001,005000000000002"},
    };
    if (strcmp(a->name, "id") == 0) {
        if (strcmp(noun, "user") == 0)
            return "005000000000001";
        if (strcmp(noun, "contact") == 0)
            return "003000000000001";
        if (strcmp(noun, "callcenter") == 0)
            return "SupportEU";
        if (strcmp(noun, "org") == 0)
            return "acme";
        return "ID";
    }
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        if (strcmp(values[i].name, a->name) == 0)
            return values[i].value;
    switch (a->type) {
    case SB_ARG_INTEGER:
        return "10";
    case SB_ARG_BOOLEAN:
        return NULL;
    case SB_ARG_ARRAY:
        return "A,B";
    case SB_ARG_MAP:
        return "@FILE.json";
    case SB_ARG_BYTES:
        return "FILE";
    default:
        return "TEXT";
    }
}

void sbctl_help_example(const sb_method_t *m, FILE *out)
{
    char words[140], noun[64], verb[64];
    sbctl_method_words(m->name, words, sizeof(words));
    split(m->name, noun, verb, sizeof(noun));
    fprintf(out, "  sbctl %s", words);
    for (const sb_arg_spec_t *a = m->args; a->name != NULL; a++) {
        if (!a->required)
            continue;
        char flag[64];
        snprintf(flag, sizeof(flag), "%s", a->name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        const char *value = example_value(noun, a);
        fprintf(out, " --%s%s%s", flag, value ? " " : "", value ? value : "");
    }
    fputc('\n', out);
}

/* ---- completion ------------------------------------------------------------------ */

typedef struct words_ctx {
    FILE *out;
    const char *noun; /* NULL: list the groups */
    char last[64];
    bool zsh;
} words_ctx_t;

static void noun_one(const sb_method_t *m, void *vctx)
{
    words_ctx_t *ctx = vctx;
    char noun[64], verb[64];
    split(m->name, noun, verb, sizeof(noun));
    if (ctx->noun == NULL) {
        if (strcmp(noun, ctx->last) != 0) /* the table lists a group's methods together */
            fprintf(ctx->out, " %s", noun);
        snprintf(ctx->last, sizeof(ctx->last), "%s", noun);
    } else if (strcmp(noun, ctx->noun) == 0) {
        fprintf(ctx->out, " %s", verb);
    }
}

/* Each group's case line: "    org) verbs='create get ...' ;;" */
static void group_case(const sb_method_t *m, void *vctx)
{
    words_ctx_t *ctx = vctx;
    char noun[64], verb[64];
    split(m->name, noun, verb, sizeof(noun));
    if (strcmp(noun, ctx->last) == 0)
        return;
    snprintf(ctx->last, sizeof(ctx->last), "%s", noun);
    words_ctx_t inner = {.out = ctx->out, .noun = noun};
    fprintf(ctx->out, "    %s) verbs='", noun);
    sb_method_each(noun_one, &inner);
    for (size_t i = 0; i < N_EXTRAS; i++)
        if (extras[i].verb != NULL && strcmp(extras[i].noun, noun) == 0)
            fprintf(ctx->out, " %s", extras[i].verb);
    fprintf(ctx->out, "' ;;\n");
}

/* Each command's case line: "    org.create) flags='--org --name' ;;" */
static void command_case(const sb_method_t *m, void *vctx)
{
    words_ctx_t *ctx = vctx;
    char noun[64], verb[64];
    split(m->name, noun, verb, sizeof(noun));
    fprintf(ctx->out, "    %s.%s) flags='", noun, verb);
    for (const sb_arg_spec_t *a = m->args; a->name != NULL; a++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "%s", a->name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(ctx->out, "%s--%s", a == m->args ? "" : " ", flag);
    }
    /* org create --shard: sbctl's own flag (which shard of a cluster gets the org); any read's
     * --min-seq (a replica answers once it has applied that change). */
    fprintf(ctx->out, "%s%s%s--help' ;;\n", m->args[0].name ? " " : "",
            strcmp(m->name, "org.create") == 0 ? "--shard " : "", m->writes ? "" : "--min-seq ");
}

/* The shell function's body, the same for bash and zsh (both read it): sets `words_` to what
 * may come next. */
static void completion_body(FILE *out)
{
    words_ctx_t ctx = {.out = out};
    fprintf(out, "  local noun= verb= w i skip=0\n"
                 "  for ((i = 1; i < cword; i++)); do\n"
                 "    w=${line[i]}\n"
                 "    if ((skip)); then skip=0; continue; fi\n"
                 "    case $w in\n"
                 "      --socket|--data-dir|--token-file|--cluster|--member|-o|--output) skip=1 "
                 ";;\n"
                 "      -*) ;;\n"
                 "      *) if [ -z \"$noun\" ]; then noun=$w; elif [ -z \"$verb\" ]; then "
                 "verb=$w; fi ;;\n"
                 "    esac\n"
                 "  done\n"
                 "  case $prev in\n"
                 "    -o|--output) words_='table wide json csv name'; return ;;\n"
                 "    --socket|--data-dir|--token-file) words_=FILE; return ;;\n"
                 "    --cluster|--member|--shard) words_=; return ;;\n"
                 "  esac\n"
                 "  if [ -z \"$noun\" ]; then\n"
                 "    words_='");
    sb_method_each(noun_one, &ctx);
    for (size_t i = 0; i < N_EXTRAS; i++)
        if (extras[i].verb == NULL)
            fprintf(out, " %s", extras[i].noun);
    for (size_t i = 0; i < N_GLOBALS; i++)
        fprintf(out, " %s", globals[i].flag);
    fprintf(out, "'\n    return\n  fi\n  local verbs=\n  case $noun in\n");
    ctx.last[0] = '\0';
    sb_method_each(group_case, &ctx);
    fprintf(out, "  esac\n"
                 "  if [ -z \"$verb\" ] && [ -n \"$verbs\" ]; then words_=\"$verbs --help\"; "
                 "return; fi\n"
                 "  local flags='--help'\n"
                 "  case $noun.$verb in\n");
    sb_method_each(command_case, &ctx);
    fprintf(out,
            "    user.import) flags='--org --columns --data-loader --from-line --chunk --help' "
            ";;\n"
            "    member.import) flags='--org --columns --move --from-line --chunk --help' ;;\n"
            "    contact.import) flags='--org --callcenter --country-code --columns "
            "--from-line --chunk --help' ;;\n"
            "  esac\n"
            "  words_=\"$flags -o --json --local\"\n");
}

bool sbctl_print_completion(const char *shell, FILE *out)
{
    bool bash = strcmp(shell, "bash") == 0, zsh = strcmp(shell, "zsh") == 0;
    if (!bash && !zsh)
        return false;
    if (zsh)
        fprintf(out, "#compdef sbctl\n");
    fprintf(out,
            "# %s completion for sbctl, generated from the server's method table by\n"
            "# `sbctl --completion %s` (a test fails when this file and the table differ).\n",
            shell, shell);
    fprintf(out, "_sbctl_words() { # cword prev line...: sets words_\n"
                 "  local cword=$1 prev=$2; shift 2\n"
                 "  local -a line=(\"$@\")\n");
    if (zsh) /* zsh arrays count from 1; bash's from 0: the same loop reads line[i] */
        fprintf(out, "  setopt localoptions ksharrays\n");
    completion_body(out);
    fprintf(out, "}\n");
    if (bash) {
        fprintf(out, "_sbctl() {\n"
                     "  local cur=${COMP_WORDS[COMP_CWORD]} words_=\n"
                     "  _sbctl_words \"$COMP_CWORD\" \"${COMP_WORDS[COMP_CWORD-1]}\" "
                     "\"${COMP_WORDS[@]}\"\n"
                     "  if [ \"$words_\" = FILE ]; then COMPREPLY=($(compgen -f -- \"$cur\")); "
                     "return; fi\n"
                     "  COMPREPLY=($(compgen -W \"$words_\" -- \"$cur\"))\n"
                     "}\n"
                     "complete -o default -F _sbctl sbctl\n");
    } else {
        fprintf(out, "_sbctl() {\n"
                     "  local words_=\n"
                     "  _sbctl_words $((CURRENT - 1)) \"${words[CURRENT-1]}\" \"${words[@]}\"\n"
                     "  if [[ $words_ == FILE ]]; then _files; return; fi\n"
                     "  compadd -- ${=words_}\n"
                     "}\n"
                     "_sbctl \"$@\"\n");
    }
    return true;
}

/* ---- the man page ---------------------------------------------------------------- */

/* Text for roff: a backslash doubled, a leading dot or quote kept from being a request, a
 * dash as \- (a minus, so that --org can be searched and pasted). */
static void roff(FILE *out, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", out);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else
            fputc(*s, out);
    }
}

static void man_command(const sb_method_t *m, void *vctx)
{
    FILE *out = vctx;
    char words[140];
    sbctl_method_words(m->name, words, sizeof(words));
    fprintf(out, ".TP\n.B sbctl %s\n", words);
    roff(out, m->summary);
    fputc('\n', out);
    for (const sb_arg_spec_t *a = m->args; a->name != NULL; a++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", a->name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        fputs(".br\n\\fB", out);
        roff(out, flag);
        fputs("\\fR ", out);
        roff(out, a->doc);
        fputs(a->required ? " (required)\n" : "\n", out);
    }
    fputs(".br\nExample:\n.br\n", out);
    char line[512];
    FILE *mem = fmemopen(line, sizeof(line), "w");
    if (mem != NULL) {
        sbctl_help_example(m, mem);
        fclose(mem);
        line[sizeof(line) - 1] = '\0';
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        roff(out, line + 2);
        fputc('\n', out);
    }
}

void sbctl_print_man(FILE *out)
{
    fputs(".\\\" Generated from the server's method table by `sbctl --man`: do not edit.\n"
          ".TH SBCTL 1 \"\" \"Switchboard\" \"Switchboard\"\n"
          ".SH NAME\nsbctl \\- the command line of switchboardd\n"
          ".SH SYNOPSIS\n.B sbctl\n[\\fIOPTIONS\\fR] \\fIGROUP COMMAND\\fR [\\fB\\-\\-OPTION\\fR "
          "\\fIVALUE\\fR ...]\n.br\n.B sbctl\n\\fIGROUP\\fR \\-\\-help\n"
          ".SH DESCRIPTION\nsbctl talks to switchboardd over its Unix socket. Every method of the "
          "server is a command (\\fBmember.add\\fR is \\fBsbctl member add\\fR), made from the "
          "server's method table. It finds the local server's socket and admin token by itself "
          "(in $SB_DATA_DIR or ~/.local/share/switchboard). With \\fB\\-\\-cluster\\fR it "
          "needs only a cluster's NATS servers and a token: it reads the placement map and sends "
          "each command to the member that serves it; \\fBsbctl org create \\-\\-shard\\fR "
          "\\fIS\\fR puts a new org on shard \\fIS\\fR. Every command that only reads also "
          "takes \\fB\\-\\-min\\-seq\\fR \\fIN\\fR (with the admin token): a replica answers "
          "once it has applied change \\fIN\\fR, a write's \\fBseq\\fR, or says "
          "REPLICA_BEHIND.\n"
          ".SH OPTIONS\n",
          out);
    for (size_t i = 0; i < N_GLOBALS; i++) {
        fputs(".TP\n\\fB", out);
        roff(out, globals[i].flag);
        fputs("\\fR", out);
        if (globals[i].value)
            fprintf(out, " \\fI%s\\fR", globals[i].value);
        fputc('\n', out);
        roff(out, globals[i].doc);
        fputc('\n', out);
    }
    fputs(".SH COMMANDS\n", out);
    sb_method_each(man_command, out);
    for (size_t i = 0; i < N_EXTRAS; i++) {
        fprintf(out, ".TP\n.B sbctl %s%s%s %s\n", extras[i].noun, extras[i].verb ? " " : "",
                extras[i].verb ? extras[i].verb : "", extras[i].args);
        roff(out, extras[i].summary);
        fputs("\n.br\nExample:\n.br\n", out);
        roff(out, extras[i].example);
        fputc('\n', out);
    }
    fputs(".SH EXIT STATUS\n0 done, 1 refused by the server (or a check that failed), 2 bad "
          "usage, 3 no server.\n"
          ".SH ENVIRONMENT\n.TP\n.B SB_DATA_DIR\nthe local server's data directory\n"
          ".TP\n.B SB_TOKEN\na token to use instead of the local admin token\n"
          ".TP\n.B SB_CLUSTER\nthe default of \\-\\-cluster\n"
          ".TP\n.B SB_ORG\nthe default of \\-\\-org\n"
          ".SH SEE ALSO\n\\fBswitchboardd\\fR(8); docs/operating.md and docs/protocol.md of "
          "Switchboard\n",
          out);
}
