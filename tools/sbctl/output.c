/* How sbctl shows results: tables and lines for people, JSON for scripts. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbctl.h"
#include "table.h"

/* ---- JSON -------------------------------------------------------------------- */

static json_t *to_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR:
        return json_stringn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY: {
        json_t *array = json_array();
        for (uint32_t i = 0; array && i < o->via.array.size; i++)
            json_array_append_new(array, to_json(&o->via.array.ptr[i]));
        return array;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *object = json_object();
        for (uint32_t i = 0; object && i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            char key[256];
            if (kv->key.type == MSGPACK_OBJECT_STR)
                snprintf(key, sizeof(key), "%.*s", (int)kv->key.via.str.size, kv->key.via.str.ptr);
            else
                snprintf(key, sizeof(key), "%u", i);
            json_object_set_new(object, key, to_json(&kv->val));
        }
        return object;
    }
    default:
        return json_null(); /* bin and ext: Switchboard sends neither */
    }
}

int sbctl_print_json(const msgpack_object *result)
{
    json_t *json = to_json(result);
    if (json == NULL)
        return -ENOMEM;
    json_dumpf(json, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
    fputc('\n', stdout);
    json_decref(json);
    return 0;
}

/* ---- for people -------------------------------------------------------------- */

static bool is_scalar(const msgpack_object *o)
{
    return o->type != MSGPACK_OBJECT_ARRAY && o->type != MSGPACK_OBJECT_MAP;
}

/* A scalar as text; a nested map by its most telling field. */
static void scalar_text(const msgpack_object *o, char *out, size_t cap)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        snprintf(out, cap, "-");
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        snprintf(out, cap, "%s", o->via.boolean ? "yes" : "no");
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf(out, cap, "%llu", (unsigned long long)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf(out, cap, "%lld", (long long)o->via.i64);
        break;
    case MSGPACK_OBJECT_STR:
        snprintf(out, cap, "%.*s", (int)o->via.str.size, o->via.str.ptr);
        break;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 13 &&
                memcmp(kv->key.via.str.ptr, "internal_name", 13) == 0) {
                scalar_text(&kv->val, out, cap);
                return;
            }
        }
        snprintf(out, cap, "{...}");
        break;
    default:
        snprintf(out, cap, "[%u]", o->type == MSGPACK_OBJECT_ARRAY ? o->via.array.size : 0);
    }
}

static void key_text(const msgpack_object *key, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s", key->type == MSGPACK_OBJECT_STR ? (int)key->via.str.size : 0,
             key->type == MSGPACK_OBJECT_STR ? key->via.str.ptr : "");
}

/* A key that holds a time in milliseconds since 1970. */
static bool is_time_key(const char *key)
{
    static const char *const keys[] = {"created", "updated", "start",   "accept",
                                       "end",     "at",      "started", "ended"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    size_t len = strlen(key);
    return len > 3 && strcmp(key + len - 3, "_at") == 0;
}

/* A cell's text: a time as every time is shown, else the scalar. */
static void cell_text(const char *key, const msgpack_object *o, char *out, size_t cap)
{
    /* Past 1973 in milliseconds: an offset into a call (a transcript's) is not a date. */
    if (is_time_key(key) && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        o->via.u64 > 100000000000ULL)
        sbctl_time_text(o->via.u64, out, cap);
    else
        scalar_text(o, out, cap);
}

/* How a list's column is shown: ids and codes whole; text may be cut to fit,
 * and what a person rarely reads only with -o wide. */
static unsigned column_flags(const char *key, const msgpack_object *sample)
{
    static const char *const whole[] = {"id",  "user", "callcenter", "internal_name", "code",
                                        "org", "role", "state",      "type",          "version"};
    static const char *const wide[] = {"path",        "sha256", "abi",     "file",  "adapter_url",
                                       "description", "detail", "updated", "vendor"};
    for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
        if (strcmp(key, wide[i]) == 0)
            return SBCTL_COL_WIDE | SBCTL_COL_TRUNC;
    if (sample != NULL &&
        (sample->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
         sample->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) &&
        !is_time_key(key))
        return SBCTL_COL_RIGHT;
    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
        if (strcmp(key, whole[i]) == 0)
            return 0;
    static const char *const long_text[] = {"reason",       "message", "summary",
                                            "last_failure", "label",   "error"};
    for (size_t i = 0; i < sizeof(long_text) / sizeof(long_text[0]); i++)
        if (strcmp(key, long_text[i]) == 0)
            return SBCTL_COL_LONG;
    size_t len = strlen(key);
    if (is_time_key(key) || (len > 3 && strcmp(key + len - 3, "_id") == 0))
        return 0;
    return SBCTL_COL_TRUNC;
}

/* An array of maps as a table whose columns are the first row's keys (a
 * cell of a row found by its key: rows need not list them in one order). */
static void print_table(const msgpack_object *rows)
{
    sbctl_table_t *t = sbctl_table_new();
    if (t == NULL) {
        fprintf(stderr, "sbctl: out of memory\n");
        return;
    }
    const msgpack_object *first = rows->via.array.size ? &rows->via.array.ptr[0] : NULL;
    if (first == NULL || first->type != MSGPACK_OBJECT_MAP) {
        /* A list of scalars (ids): one column. */
        sbctl_table_column(t, "value", 0);
        for (uint32_t r = 0; r < rows->via.array.size; r++) {
            char cell[512];
            scalar_text(&rows->via.array.ptr[r], cell, sizeof(cell));
            if (sbctl_table_row(t) == 0)
                sbctl_table_cell(t, 0, cell);
        }
        sbctl_table_print(t, stdout);
        sbctl_table_free(t);
        return;
    }
    uint32_t ncols = first->via.map.size < 16 ? first->via.map.size : 16;
    char head[16][64];
    for (uint32_t c = 0; c < ncols; c++) {
        key_text(&first->via.map.ptr[c].key, head[c], sizeof(head[c]));
        sbctl_table_column(t, head[c], column_flags(head[c], &first->via.map.ptr[c].val));
    }
    char cell[1024];
    for (uint32_t r = 0; r < rows->via.array.size; r++) {
        const msgpack_object *row = &rows->via.array.ptr[r];
        if (sbctl_table_row(t) != 0)
            break;
        for (uint32_t i = 0; row->type == MSGPACK_OBJECT_MAP && i < row->via.map.size; i++) {
            char key[64];
            key_text(&row->via.map.ptr[i].key, key, sizeof(key));
            for (uint32_t c = 0; c < ncols; c++) {
                if (strcmp(key, head[c]) == 0) {
                    cell_text(key, &row->via.map.ptr[i].val, cell, sizeof(cell));
                    sbctl_table_cell(t, (int)c, cell);
                    break;
                }
            }
        }
    }
    sbctl_table_print(t, stdout);
    sbctl_table_free(t);
}

/* A Call Center's definition: one line per item, the way its file reads. */
static void print_sections(const msgpack_object *sections)
{
    for (uint32_t s = 0; s < sections->via.array.size; s++) {
        const msgpack_object *section = &sections->via.array.ptr[s];
        char name[256] = "", label[256] = "";
        const msgpack_object *items = NULL;
        for (uint32_t i = 0; section->type == MSGPACK_OBJECT_MAP && i < section->via.map.size;
             i++) {
            char key[32];
            key_text(&section->via.map.ptr[i].key, key, sizeof(key));
            if (strcmp(key, "name") == 0)
                scalar_text(&section->via.map.ptr[i].val, name, sizeof(name));
            else if (strcmp(key, "label") == 0)
                scalar_text(&section->via.map.ptr[i].val, label, sizeof(label));
            else if (strcmp(key, "items") == 0)
                items = &section->via.map.ptr[i].val;
        }
        printf("  [%s] %s\n", name, label);
        for (uint32_t i = 0; items && i < items->via.array.size; i++) {
            const msgpack_object *item = &items->via.array.ptr[i];
            char iname[256] = "", value[1024] = "", ilabel[256] = "";
            for (uint32_t k = 0; item->type == MSGPACK_OBJECT_MAP && k < item->via.map.size; k++) {
                char key[32];
                key_text(&item->via.map.ptr[k].key, key, sizeof(key));
                if (strcmp(key, "name") == 0)
                    scalar_text(&item->via.map.ptr[k].val, iname, sizeof(iname));
                else if (strcmp(key, "value") == 0)
                    scalar_text(&item->via.map.ptr[k].val, value, sizeof(value));
                else if (strcmp(key, "label") == 0)
                    scalar_text(&item->via.map.ptr[k].val, ilabel, sizeof(ilabel));
            }
            printf("    /%s/%-28s = %s   (%s)\n", name, iname, value, ilabel);
        }
    }
}

static void print_map(const msgpack_object *map, int indent)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        char key[64], text[1024];
        key_text(&kv->key, key, sizeof(key));
        if (strcmp(key, "sections") == 0 && kv->val.type == MSGPACK_OBJECT_ARRAY) {
            printf("%*ssections:\n", indent, "");
            print_sections(&kv->val);
        } else if (kv->val.type == MSGPACK_OBJECT_MAP) {
            printf("%*s%s:\n", indent, "", key);
            print_map(&kv->val, indent + 2);
        } else if (kv->val.type == MSGPACK_OBJECT_ARRAY &&
                   (kv->val.via.array.size == 0 || is_scalar(&kv->val.via.array.ptr[0]))) {
            /* A list of names on one line: "fields  ANI, DNIS". */
            printf("%*s%-20s ", indent, "", key);
            for (uint32_t j = 0; j < kv->val.via.array.size; j++) {
                scalar_text(&kv->val.via.array.ptr[j], text, sizeof(text));
                printf("%s%s", j ? ", " : "", text);
            }
            printf("%s\n", kv->val.via.array.size ? "" : "(none)");
        } else if (kv->val.type == MSGPACK_OBJECT_ARRAY) {
            printf("%*s%s:\n", indent, "", key);
            print_table(&kv->val);
        } else {
            cell_text(key, &kv->val, text, sizeof(text));
            printf("%*s%-20s %s\n", indent, "", key, text);
        }
    }
}

/* A string of a map, or "". */
static void text_of(const msgpack_object *map, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
        char k[32];
        key_text(&map->via.map.ptr[i].key, k, sizeof(k));
        if (strcmp(k, key) == 0)
            scalar_text(&map->via.map.ptr[i].val, out, cap);
    }
}

static const msgpack_object *value_of(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
        char k[32];
        key_text(&map->via.map.ptr[i].key, k, sizeof(k));
        if (strcmp(k, key) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* The answer of softphone.check, short: yes or no, the Call Center, its
 * adapter URL, the layout's name and the sentence once. The whole answer
 * (the layout itself) with -o wide or --layout. */
static void print_softphone(const msgpack_object *answer)
{
    if (sbctl_view.format != SBCTL_FORMAT_WIDE && !sbctl_view.detail) {
        char softphone[8], reason[64], message[1024], cc[320] = "-", url[1024], layout[256];
        text_of(answer, "softphone", softphone, sizeof(softphone));
        text_of(answer, "reason", reason, sizeof(reason));
        text_of(answer, "message", message, sizeof(message));
        text_of(answer, "adapter_url", url, sizeof(url));
        text_of(answer, "layout_name", layout, sizeof(layout));
        const msgpack_object *c = value_of(answer, "callcenter");
        if (c != NULL && c->type == MSGPACK_OBJECT_MAP) {
            char display[200], internal[100];
            text_of(c, "display_name", display, sizeof(display));
            text_of(c, "internal_name", internal, sizeof(internal));
            snprintf(cc, sizeof(cc), "%s (%s)", display, internal);
        }
        printf("softphone    %s%s%s%s\n", softphone, strcmp(softphone, "yes") ? " (" : "",
               strcmp(softphone, "yes") ? reason : "", strcmp(softphone, "yes") ? ")" : "");
        printf("Call Center  %s\nadapter URL  %s\nlayout       %s\n\n%s\n", cc,
               url[0] && strcmp(url, "-") != 0 ? url : "-", layout[0] ? layout : "-", message);
        return;
    }
    char softphone[8] = "", reason[64] = "", message[1024] = "";
    for (uint32_t i = 0; i < answer->via.map.size; i++) {
        char key[32];
        key_text(&answer->via.map.ptr[i].key, key, sizeof(key));
        if (strcmp(key, "softphone") == 0)
            scalar_text(&answer->via.map.ptr[i].val, softphone, sizeof(softphone));
        else if (strcmp(key, "reason") == 0)
            scalar_text(&answer->via.map.ptr[i].val, reason, sizeof(reason));
        else if (strcmp(key, "message") == 0)
            scalar_text(&answer->via.map.ptr[i].val, message, sizeof(message));
    }
    /* The sentence is in the map below: said once. */
    printf("softphone: %s%s%s%s\n\n", softphone, strcmp(softphone, "yes") ? " (" : "",
           strcmp(softphone, "yes") ? reason : "", strcmp(softphone, "yes") ? ")" : "");
    print_map(answer, 0);
}

/* org.doctor: each finding, then how to fix it. */
static void print_doctor(const msgpack_object *result)
{
    const msgpack_object *findings = value_of(result, "findings");
    size_t n = findings && findings->type == MSGPACK_OBJECT_ARRAY ? findings->via.array.size : 0;
    if (n == 0) {
        printf("No findings: nothing here will break for users.\n");
        return;
    }
    printf("%zu finding%s:\n", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        char code[64], subject[320], message[1100];
        text_of(&findings->via.array.ptr[i], "code", code, sizeof(code));
        text_of(&findings->via.array.ptr[i], "subject", subject, sizeof(subject));
        text_of(&findings->via.array.ptr[i], "message", message, sizeof(message));
        printf("\n%s  %s\n  %s\n", code, subject, message);
    }
}

/* server.verify: the summary, then each problem and what to do (as sbstore verify prints). */
static void print_verify(const msgpack_object *result)
{
    const msgpack_object *problems = value_of(result, "problems");
    size_t n = problems && problems->type == MSGPACK_OBJECT_ARRAY ? problems->via.array.size : 0;
    for (size_t i = 0; i < n; i++) {
        char db[32], key[200], problem[300], fix[300];
        text_of(&problems->via.array.ptr[i], "db", db, sizeof(db));
        text_of(&problems->via.array.ptr[i], "key", key, sizeof(key));
        text_of(&problems->via.array.ptr[i], "problem", problem, sizeof(problem));
        text_of(&problems->via.array.ptr[i], "fix", fix, sizeof(fix));
        printf("problem  %s %s: %s\n         what to do: %s\n", db, key, problem, fix);
    }
    char clean[8], records[32], count[32], seq[32];
    text_of(result, "clean", clean, sizeof(clean));
    text_of(result, "records", records, sizeof(records));
    text_of(result, "problem_count", count, sizeof(count));
    text_of(result, "seq", seq, sizeof(seq));
    if (strtoull(count, NULL, 10) > n)
        printf("... and %llu more problems (the first %zu are shown)\n",
               strtoull(count, NULL, 10) - n, n);
    printf("%s: %s records checked, %s problems, change log at sequence %s\n",
           strcmp(clean, "yes") == 0 ? "clean" : "PROBLEMS", records, count, seq);
}

/* call.test: each check of the validation step, then the record. */
static void print_call_test(const msgpack_object *result)
{
    char passed[8];
    text_of(result, "passed", passed, sizeof(passed));
    printf("test call: %s\n\n", strcmp(passed, "yes") == 0 ? "PASSED" : "FAILED");
    const msgpack_object *checks = value_of(result, "checks");
    for (uint32_t i = 0;
         checks && checks->type == MSGPACK_OBJECT_ARRAY && i < checks->via.array.size; i++) {
        char name[32], ok[8], detail[900];
        text_of(&checks->via.array.ptr[i], "check", name, sizeof(name));
        text_of(&checks->via.array.ptr[i], "ok", ok, sizeof(ok));
        text_of(&checks->via.array.ptr[i], "detail", detail, sizeof(detail));
        printf("  [%s] %-10s %s\n", strcmp(ok, "yes") == 0 ? " ok " : "FAIL", name, detail);
    }
    const msgpack_object *call = value_of(result, "voicecall");
    if (call != NULL && call->type == MSGPACK_OBJECT_MAP) {
        printf("\nvoice call:\n");
        print_map(call, 2);
    }
}

/* A count of a map, or 0. */
static unsigned long long count_of(const msgpack_object *map, const char *key)
{
    const msgpack_object *v = map ? value_of(map, key) : NULL;
    return v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (unsigned long long)v->via.u64 : 0;
}

/* rules.plan: the counts first, as a person reads a plan, then each change
 * and each conflict, then how to apply it. */
static void print_rules_plan(const msgpack_object *result)
{
    const msgpack_object *counts = value_of(result, "counts");
    char fingerprint[64], more[8];
    text_of(result, "fingerprint", fingerprint, sizeof(fingerprint));
    text_of(result, "more", more, sizeof(more));
    printf("Plan of rules version %llu over %llu users:\n", count_of(result, "rules_version"),
           count_of(counts, "users"));
    printf("  %llu to add, %llu to move, %llu to remove; %llu unchanged\n", count_of(counts, "add"),
           count_of(counts, "move"), count_of(counts, "remove"), count_of(counts, "unchanged"));
    printf("  %llu conflicts (left as they are), %llu users no rule matches (left as they "
           "are)\n",
           count_of(counts, "conflicts"), count_of(counts, "unmatched"));
    const msgpack_object *changes = value_of(result, "changes");
    size_t n = changes && changes->type == MSGPACK_OBJECT_ARRAY ? changes->via.array.size : 0;
    if (n > 0)
        printf("\nChanges:\n");
    for (size_t i = 0; i < n; i++) {
        char user[32], change[16], from[64], to[64], rule[80];
        const msgpack_object *c = &changes->via.array.ptr[i];
        text_of(c, "user", user, sizeof(user));
        text_of(c, "change", change, sizeof(change));
        text_of(c, "from", from, sizeof(from));
        text_of(c, "to", to, sizeof(to));
        text_of(c, "rule", rule, sizeof(rule));
        printf("  %-6s %s  %s -> %s  (rule '%s')\n", change, user, from[0] ? from : "(none)",
               to[0] ? to : "(none)", rule);
    }
    const msgpack_object *conflicts = value_of(result, "conflicts");
    n = conflicts && conflicts->type == MSGPACK_OBJECT_ARRAY ? conflicts->via.array.size : 0;
    if (n > 0)
        printf("\nConflicts (matched by two exclusive rules):\n");
    for (size_t i = 0; i < n; i++) {
        char user[32], a[80] = "", b[80] = "";
        const msgpack_object *c = &conflicts->via.array.ptr[i];
        text_of(c, "user", user, sizeof(user));
        const msgpack_object *rules = value_of(c, "rules");
        if (rules && rules->type == MSGPACK_OBJECT_ARRAY && rules->via.array.size == 2) {
            scalar_text(&rules->via.array.ptr[0], a, sizeof(a));
            scalar_text(&rules->via.array.ptr[1], b, sizeof(b));
        }
        printf("  %s  rules '%s' and '%s'\n", user, a, b);
    }
    if (strcmp(more, "yes") == 0)
        printf("\nMore changes follow: add --after with the last user above.\n");
    printf("\nfingerprint: %s\n", fingerprint);
    if (count_of(counts, "add") + count_of(counts, "move") + count_of(counts, "remove") > 0)
        printf("Apply it with: sbctl rules apply --fingerprint %s\n", fingerprint);
}

/* rules.get and rules.put: each rule on a line, as it reads. */
static void print_rules(const msgpack_object *result)
{
    char follow[8];
    text_of(result, "follow_on_write", follow, sizeof(follow));
    printf("Rules version %llu (users follow them on write: %s); the first that matches "
           "decides:\n",
           count_of(result, "version"), follow);
    const msgpack_object *rules = value_of(result, "rules");
    size_t n = rules && rules->type == MSGPACK_OBJECT_ARRAY ? rules->via.array.size : 0;
    if (n == 0)
        printf("  (none)\n");
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *rule = &rules->via.array.ptr[i];
        char name[80], cc[64], exclusive[8];
        text_of(rule, "name", name, sizeof(name));
        text_of(rule, "callcenter", cc, sizeof(cc));
        text_of(rule, "exclusive", exclusive, sizeof(exclusive));
        printf("  %zu. %s%s: ", i + 1, name, strcmp(exclusive, "yes") == 0 ? " (exclusive)" : "");
        const msgpack_object *when = value_of(rule, "when");
        size_t conds = when && when->type == MSGPACK_OBJECT_ARRAY ? when->via.array.size : 0;
        if (conds == 0)
            printf("every user");
        for (size_t c = 0; c < conds; c++) {
            const msgpack_object *cond = &when->via.array.ptr[c];
            char field[32], op[16];
            text_of(cond, "field", field, sizeof(field));
            text_of(cond, "op", op, sizeof(op));
            printf("%s%s %s", c ? " and " : "", field, op);
            const msgpack_object *values = value_of(cond, "values");
            for (uint32_t v = 0;
                 values && values->type == MSGPACK_OBJECT_ARRAY && v < values->via.array.size;
                 v++) {
                char text[300];
                scalar_text(&values->via.array.ptr[v], text, sizeof(text));
                printf("%s'%s'", v ? ", " : " ", text);
            }
        }
        printf(" -> %s\n", strcmp(cc, "none") == 0 ? "no Call Center" : cc);
    }
}

void sbctl_print_change(const msgpack_object *change)
{
    char org[72], seq[24], token[40], method[72], summary[1100], ids[640] = "";
    text_of(change, "org", org, sizeof(org));
    text_of(change, "org_seq", seq, sizeof(seq));
    if (seq[0] == '\0') /* a notification of one org's watch: seq is the org's */
        text_of(change, "seq", seq, sizeof(seq));
    text_of(change, "token", token, sizeof(token));
    text_of(change, "method", method, sizeof(method));
    text_of(change, "summary", summary, sizeof(summary));
    const msgpack_object *time = value_of(change, "time");
    char when[32] = "-";
    if (time != NULL && time->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        time_t s = (time_t)(time->via.u64 / 1000);
        struct tm tm;
        if (gmtime_r(&s, &tm) != NULL)
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    }
    const msgpack_object *list = value_of(change, "ids");
    size_t len = 0;
    for (uint32_t i = 0; list && list->type == MSGPACK_OBJECT_ARRAY && i < list->via.array.size &&
                         len + 40 < sizeof(ids);
         i++) {
        char id[32];
        scalar_text(&list->via.array.ptr[i], id, sizeof(id));
        len += (size_t)snprintf(ids + len, sizeof(ids) - len, "%s%s", i ? "," : "", id);
    }
    const msgpack_object *total = value_of(change, "ids_total");
    if (total != NULL && total->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        snprintf(ids + len, sizeof(ids) - len, " (of %llu)", (unsigned long long)total->via.u64);
    printf("%-19s  %-12s %6s  %-10s %-24s %-39s %s\n", when, org, seq, token[0] ? token : "-",
           method[0] ? method : "-", ids[0] ? ids : "-", summary);
}

/* audit.list: one line per write, then where the next page starts. */
static void print_audit(const msgpack_object *result)
{
    const msgpack_object *entries = value_of(result, "entries");
    size_t n = entries && entries->type == MSGPACK_OBJECT_ARRAY ? entries->via.array.size : 0;
    printf("%-19s  %-12s %6s  %-10s %-24s %-39s %s\n", "TIME (UTC)", "ORG", "#", "TOKEN", "METHOD",
           "IDS", "CHANGES");
    for (size_t i = 0; i < n; i++)
        sbctl_print_change(&entries->via.array.ptr[i]);
    char more[8], next[24];
    text_of(result, "more", more, sizeof(more));
    text_of(result, "next", next, sizeof(next));
    if (n == 0)
        printf("(no change matches)\n");
    if (strcmp(more, "yes") == 0)
        printf("more: the next page starts at --cursor %s\n", next);
}

void sbctl_print_human(const char *method, const msgpack_object *result)
{
    if (result->type == MSGPACK_OBJECT_MAP &&
        (strcmp(method, "rules.get") == 0 || strcmp(method, "rules.put") == 0)) {
        print_rules(result);
        return;
    }
    if (result->type == MSGPACK_OBJECT_MAP && strcmp(method, "rules.plan") == 0) {
        print_rules_plan(result);
        return;
    }
    if (result->type == MSGPACK_OBJECT_MAP && strcmp(method, "audit.list") == 0) {
        print_audit(result);
        return;
    }
    if (result->type == MSGPACK_OBJECT_MAP && strcmp(method, "org.doctor") == 0) {
        print_doctor(result);
        return;
    }
    if (result->type == MSGPACK_OBJECT_MAP && strcmp(method, "server.verify") == 0) {
        print_verify(result);
        return;
    }
    if (result->type == MSGPACK_OBJECT_MAP && strcmp(method, "call.test") == 0) {
        print_call_test(result);
        return;
    }
    if (result->type != MSGPACK_OBJECT_MAP) {
        char text[1024];
        scalar_text(result, text, sizeof(text));
        printf("%s\n", text);
        return;
    }
    if (strcmp(method, "softphone.check") == 0) {
        print_softphone(result);
        return;
    }
    if (strcmp(method, "callcenter.export") == 0 || strcmp(method, "callcenter.template") == 0) {
        /* The file itself, so that "> FILE" saves it; its name on stderr. */
        for (uint32_t i = 0; i < result->via.map.size; i++) {
            char key[32];
            key_text(&result->via.map.ptr[i].key, key, sizeof(key));
            const msgpack_object *v = &result->via.map.ptr[i].val;
            if (strcmp(key, "xml") == 0 && v->type == MSGPACK_OBJECT_STR)
                fwrite(v->via.str.ptr, 1, v->via.str.size, stdout);
            else if (strcmp(key, "filename") == 0 && v->type == MSGPACK_OBJECT_STR)
                fprintf(stderr, "sbctl: a partner would name this file %.*s\n",
                        (int)v->via.str.size, v->via.str.ptr);
        }
        return;
    }
    if (strcmp(method, "callcenter.import") == 0) {
        const msgpack_object *warnings = NULL, *cc = NULL, *total = NULL;
        for (uint32_t i = 0; i < result->via.map.size; i++) {
            char key[32];
            key_text(&result->via.map.ptr[i].key, key, sizeof(key));
            if (strcmp(key, "warnings") == 0)
                warnings = &result->via.map.ptr[i].val;
            else if (strcmp(key, "warnings_total") == 0)
                total = &result->via.map.ptr[i].val;
            else if (strcmp(key, "callcenter") == 0)
                cc = &result->via.map.ptr[i].val;
        }
        for (uint32_t i = 0; warnings && i < warnings->via.array.size; i++) {
            char text[700];
            scalar_text(&warnings->via.array.ptr[i], text, sizeof(text));
            fprintf(stderr, "warning: %s\n", text);
        }
        /* The server lists the first warnings of a file and counts them all. */
        if (total != NULL && total->type == MSGPACK_OBJECT_POSITIVE_INTEGER && warnings != NULL &&
            total->via.u64 > warnings->via.array.size)
            fprintf(stderr, "sbctl: %llu warnings in all; the first ones are listed above\n",
                    (unsigned long long)total->via.u64);
        if (cc != NULL && cc->type == MSGPACK_OBJECT_MAP)
            print_map(cc, 0);
        return;
    }
    /* A list: its rows as a table, then the other fields (more, total...).
     * "members" (ids with names) is read before a list of bare ids. */
    bool is_list = strstr(method, ".list") != NULL || strstr(method, ".find") != NULL ||
                   strcmp(method, "softphone.check_batch") == 0;
    const msgpack_object *rows = is_list ? value_of(result, "members") : NULL;
    if (rows != NULL && rows->type != MSGPACK_OBJECT_ARRAY)
        rows = NULL;
    for (uint32_t i = 0; is_list && i < result->via.map.size && rows == NULL; i++)
        if (result->via.map.ptr[i].val.type == MSGPACK_OBJECT_ARRAY)
            rows = &result->via.map.ptr[i].val;
    if (rows == NULL) {
        print_map(result, 0);
        return;
    }
    print_table(rows);
    /* CSV and names are rows only (for a pipe); a page's end goes to stderr. */
    bool rows_only =
        sbctl_view.format == SBCTL_FORMAT_CSV || sbctl_view.format == SBCTL_FORMAT_NAME;
    /* layout.list: which profile has which layout, under the layouts. */
    const msgpack_object *assigned =
        strcmp(method, "layout.list") == 0 ? value_of(result, "assignments") : NULL;
    if (!rows_only && assigned != NULL && assigned->type == MSGPACK_OBJECT_ARRAY &&
        assigned->via.array.size > 0) {
        printf("\n");
        print_table(assigned);
    }
    for (uint32_t i = 0; i < result->via.map.size; i++) {
        const msgpack_object_kv *kv = &result->via.map.ptr[i];
        if (&kv->val == rows || !is_scalar(&kv->val))
            continue;
        char key[64], text[256];
        key_text(&kv->key, key, sizeof(key));
        scalar_text(&kv->val, text, sizeof(text));
        if (!rows_only)
            printf("%s: %s\n", key, text);
        else if (strcmp(key, "more") == 0 && strcmp(text, "yes") == 0)
            fprintf(stderr, "sbctl: more rows follow: --after the last one, or --limit\n");
    }
}
