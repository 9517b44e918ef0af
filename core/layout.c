/*
 * Softphone layouts: parsing (with the path of what is wrong), the warnings,
 * and the two wire shapes. The vocabularies are the tables below; Open CTI's
 * names are the second column where it has its own.
 */
#include "layout.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pack.h"
#include "utf8.h"

static const char *const type_names[SB_CALL_TYPES] = {"inbound", "outbound", "internal"};
static const char *const type_opencti[SB_CALL_TYPES] = {"Inbound", "Outbound", "Internal"};
static const char *const state_names[SB_CALL_STATES] = {"ringing", "in_call", "after_call"};
static const char *const field_names[SB_LAYOUT_FIELD_COUNT] = {"ANI",   "DNIS",     "SEGMENT",
                                                               "QUEUE", "DURATION", "RECORD"};
#define SB_CALL_RELATED_FIELDS 4 /* ANI..QUEUE: what a call type may show */
static const char *const action_names[SB_LAYOUT_ACTION_COUNT] = {
    "answer", "decline", "hold", "mute", "transfer", "end", "wrap_up", "log_call"};
static const char *const object_names[SB_LAYOUT_OBJECTS] = {"Contact", "Account", "Lead", "Case"};
static const char *const match_names[SB_MATCHES] = {"no_match", "single_match", "multiple_matches"};
static const char *const match_opencti[SB_MATCHES] = {"NoMatch", "SingleMatch", "MultipleMatches"};
static const char *const pop_names[] = {"none", "record", "search", "new_record", "flow"};
static const char *const pop_opencti[] = {"DoNotPop", "PopToEntity", "PopToSearch", "PopToEntity",
                                          "PopToFlow"};

/* The fields a layout may display for each object, as Salesforce names them (API name, label). */
static const struct object_field {
    const char *api;
    const char *label;
} object_fields[SB_LAYOUT_OBJECTS][SB_LAYOUT_MAX_OBJ_FIELDS + 1] = {
    {{"Name", "Full Name"},
     {"Phone", "Business Phone"},
     {"MobilePhone", "Mobile"},
     {"HomePhone", "Home Phone"},
     {"Email", "Email"},
     {"Title", "Title"},
     {"AccountId", "Account Name"},
     {NULL, NULL}},
    {{"Name", "Account Name"},
     {"Phone", "Phone"},
     {"Type", "Type"},
     {"Industry", "Industry"},
     {"AccountNumber", "Account Number"},
     {NULL, NULL}},
    {{"Name", "Full Name"},
     {"Phone", "Phone"},
     {"MobilePhone", "Mobile"},
     {"Email", "Email"},
     {"Company", "Company"},
     {"Status", "Lead Status"},
     {NULL, NULL}},
    {{"CaseNumber", "Case Number"},
     {"Subject", "Subject"},
     {"Status", "Status"},
     {"Priority", "Priority"},
     {"ContactPhone", "Contact Phone"},
     {NULL, NULL}},
};

static int find_name(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *sb_call_type_name(sb_call_type_t type)
{
    return type_names[type];
}
const char *sb_object_name(sb_object_t object)
{
    return object_names[object];
}
const char *sb_pop_action_name(sb_pop_action_t action)
{
    return pop_names[action];
}
const char *sb_match_name(sb_match_t match)
{
    return match_names[match];
}

int sb_call_type_parse(const char *name, sb_call_type_t *out)
{
    int i = find_name(type_names, SB_CALL_TYPES, name);
    if (i < 0)
        return -EINVAL;
    *out = (sb_call_type_t)i;
    return 0;
}

int sb_object_parse(const char *name, sb_object_t *out)
{
    int i = find_name(object_names, SB_LAYOUT_OBJECTS, name);
    if (i < 0)
        return -EINVAL;
    *out = (sb_object_t)i;
    return 0;
}

/* ---- parsing ------------------------------------------------------------- */

/* A refusal at `path`: the sentence says what is wrong there and what is allowed. */
__attribute__((format(printf, 4, 5))) static int refuse(sb_err_t *err, const char *path,
                                                        const char *key, const char *fmt, ...)
{
    if (err == NULL)
        return SB_E_INVALID_VALUE;
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see error.c
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    sb_err_format(err, SB_E_INVALID_VALUE, "Layout %s%s%s: %s", path, key ? "/" : "",
                  key ? key : "", what);
    snprintf(err->field, sizeof(err->field), "%s%s%s", path, key ? "/" : "", key ? key : "");
    return SB_E_INVALID_VALUE;
}

/* Unlike sb_obj_get, a nil value is returned: in a layout, nil is a wrong value, not an absent one.
 */
static const msgpack_object *get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* Refuses keys of `map` that are not in `allowed` (NULL-ended): a typo must not pass silently. */
static int only_keys(const msgpack_object *map, const char *const *allowed, const char *path,
                     sb_err_t *err)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        char key[64];
        if (sb_obj_copy_str(&map->via.map.ptr[i].key, key, sizeof(key)) != 0)
            return refuse(err, path, NULL, "every key is a short string.");
        bool known = false;
        for (const char *const *a = allowed; *a; a++)
            known |= strcmp(*a, key) == 0;
        if (!known) {
            char list[256] = "";
            for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                         list[0] ? ", " : "", *a);
            return refuse(err, path, key, "unknown key; the keys here are %s.", list);
        }
    }
    return 0;
}

static int must_be_map(const msgpack_object *o, const char *path, const char *key, sb_err_t *err)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
        return refuse(err, path, key, "expected a map.");
    return 0;
}

/* A list of names from `names` into out[], in order, each at most once. */
static int parse_names(const msgpack_object *arr, const char *const *names, size_t n_names,
                       unsigned char *out, size_t cap, size_t *n, const char *path, const char *key,
                       sb_err_t *err)
{
    *n = 0;
    if (arr == NULL)
        return 0;
    if (arr->type != MSGPACK_OBJECT_ARRAY)
        return refuse(err, path, key, "expected a list of names.");
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        char name[64];
        int at = sb_obj_copy_str(&arr->via.array.ptr[i], name, sizeof(name)) == 0
                     ? find_name(names, n_names, name)
                     : -1;
        if (at < 0) {
            char list[256] = "";
            for (size_t j = 0; j < n_names; j++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", j ? ", " : "",
                         names[j]);
            return refuse(err, path, key, "item %u is not one of %s.", i + 1, list);
        }
        for (size_t j = 0; j < *n; j++)
            if (out[j] == at)
                return refuse(err, path, key, "'%s' is listed twice.", names[at]);
        if (*n == cap)
            return refuse(err, path, key, "at most %zu names.", cap);
        out[(*n)++] = (unsigned char)at;
    }
    return 0;
}

static int parse_objects(const msgpack_object *map, sb_layout_call_type_t *t, const char *path,
                         sb_err_t *err)
{
    t->n_objects = 0;
    if (map == NULL)
        return 0;
    int rc = must_be_map(map, path, "objects", err);
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/objects", path);
    for (uint32_t i = 0; rc == 0 && i < map->via.map.size; i++) {
        char name[64];
        sb_object_t object;
        bool named = sb_obj_copy_str(&map->via.map.ptr[i].key, name, sizeof(name)) == 0;
        if (!named || sb_object_parse(name, &object) != 0)
            return refuse(err, sub, named ? name : NULL,
                          "unknown object; a softphone searches Contact, Account, Lead or Case.");
        for (size_t j = 0; j < t->n_objects; j++)
            if (t->objects[j].object == object)
                return refuse(err, sub, name, "listed twice.");
        sb_layout_object_t *o = &t->objects[t->n_objects++];
        o->object = object;
        const char *apis[SB_LAYOUT_MAX_OBJ_FIELDS];
        size_t n_apis = 0;
        while (object_fields[object][n_apis].api != NULL)
            apis[n_apis] = object_fields[object][n_apis].api, n_apis++;
        rc = parse_names(&map->via.map.ptr[i].val, apis, n_apis, o->fields,
                         SB_LAYOUT_MAX_OBJ_FIELDS, &o->n_fields, sub, name, err);
    }
    return rc;
}

static int parse_pop(const msgpack_object *o, sb_match_t match, sb_pop_rule_t *rule,
                     const char *path, sb_err_t *err)
{
    memset(rule, 0, sizeof(*rule));
    const char *key = match_names[match];
    if (o == NULL)
        return 0; /* not given: do not pop */
    static const char *const keys[] = {"action", "object", "flow", NULL};
    int rc = must_be_map(o, path, key, err);
    char sub[160];
    snprintf(sub, sizeof(sub), "%s/%s", path, key);
    if (rc == 0)
        rc = only_keys(o, keys, sub, err);
    if (rc != 0)
        return rc;
    char action[32];
    int at = sb_obj_copy_str(get(o, "action"), action, sizeof(action)) == 0
                 ? find_name(pop_names, sizeof(pop_names) / sizeof(pop_names[0]), action)
                 : -1;
    if (at < 0)
        return refuse(err, sub, "action",
                      "expected one of none, record, search, new_record, flow.");
    rule->action = (sb_pop_action_t)at;
    if (rule->action == SB_POP_RECORD && match != SB_MATCH_SINGLE)
        return refuse(err, sub, "action",
                      "'record' pops the one matching record, so it only applies to "
                      "single_match; use search, new_record, flow or none here.");
    if (rule->action == SB_POP_NEW_RECORD) {
        char object[32];
        if (sb_obj_copy_str(get(o, "object"), object, sizeof(object)) != 0 ||
            sb_object_parse(object, &rule->object) != 0)
            return refuse(err, sub, "object",
                          "a new_record pop needs the object to create: Contact, Account, Lead "
                          "or Case.");
    } else if (get(o, "object") != NULL) {
        return refuse(err, sub, "object", "only a new_record pop takes an object.");
    }
    if (rule->action == SB_POP_FLOW) {
        if (sb_obj_copy_str(get(o, "flow"), rule->target, sizeof(rule->target)) != 0 ||
            rule->target[0] == '\0')
            return refuse(err, sub, "flow",
                          "a flow pop needs the flow's API name (at most %d bytes).",
                          SB_LAYOUT_TARGET_MAX);
    } else if (get(o, "flow") != NULL) {
        return refuse(err, sub, "flow", "only a flow pop takes a flow.");
    }
    return 0;
}

static int parse_call_type(const msgpack_object *o, sb_layout_call_type_t *t, const char *path,
                           sb_err_t *err)
{
    static const char *const keys[] = {"fields", "objects", "screen_pop", NULL};
    static const char *const pop_keys[] = {"no_match", "single_match", "multiple_matches", NULL};
    int rc = must_be_map(o, path, NULL, err);
    if (rc == 0)
        rc = only_keys(o, keys, path, err);
    if (rc == 0)
        rc = parse_names(get(o, "fields"), field_names, SB_CALL_RELATED_FIELDS, t->fields,
                         SB_LAYOUT_MAX_FIELDS, &t->n_fields, path, "fields", err);
    if (rc == 0)
        rc = parse_objects(get(o, "objects"), t, path, err);
    const msgpack_object *pop = get(o, "screen_pop");
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/screen_pop", path);
    if (rc == 0 && pop != NULL) {
        rc = must_be_map(pop, path, "screen_pop", err);
        if (rc == 0)
            rc = only_keys(pop, pop_keys, sub, err);
    }
    for (int m = 0; rc == 0 && m < SB_MATCHES; m++)
        rc = parse_pop(get(pop, match_names[m]), (sb_match_t)m, &t->pop[m], sub, err);
    return rc;
}

static int parse_call_state(const msgpack_object *o, sb_layout_call_state_t *s, const char *path,
                            sb_err_t *err)
{
    static const char *const keys[] = {"fields", "actions", NULL};
    int rc = must_be_map(o, path, NULL, err);
    if (rc == 0)
        rc = only_keys(o, keys, path, err);
    if (rc == 0)
        rc = parse_names(get(o, "fields"), field_names, SB_LAYOUT_FIELD_COUNT, s->fields,
                         SB_LAYOUT_MAX_FIELDS, &s->n_fields, path, "fields", err);
    if (rc == 0)
        rc = parse_names(get(o, "actions"), action_names, SB_LAYOUT_ACTION_COUNT, s->actions,
                         SB_LAYOUT_MAX_ACTIONS, &s->n_actions, path, "actions", err);
    return rc;
}

int sb_layout_check_name(const char *name, sb_err_t *err)
{
    size_t len = name ? strlen(name) : 0, chars;
    if (len == 0 || len > SB_LAYOUT_NAME_MAX || !sb_utf8_count(name, &chars))
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "A layout name is 1 to %d bytes of UTF-8; pick another name.",
                          SB_LAYOUT_NAME_MAX);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return sb_err_set(err, SB_E_INVALID_VALUE,
                              "A layout name holds no control characters; pick another name.");
    return 0;
}

/* A section that lists one map per name of `names` ("call_types", "call_states"). */
static int parse_section(const msgpack_object *root, const char *key, const char *const *names,
                         size_t n, void *slots, size_t slot_size,
                         int (*parse_one)(const msgpack_object *, void *, const char *, sb_err_t *),
                         sb_err_t *err)
{
    const msgpack_object *section = get(root, key);
    if (section == NULL)
        return 0;
    char path[64];
    snprintf(path, sizeof(path), "/%s", key);
    int rc = must_be_map(section, "", key, err);
    const char *allowed[SB_CALL_TYPES + 1] = {names[0], names[1], names[2], NULL};
    if (rc == 0)
        rc = only_keys(section, allowed, path, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const msgpack_object *one = get(section, names[i]);
        char sub[96];
        snprintf(sub, sizeof(sub), "%s/%s", path, names[i]);
        if (one != NULL)
            rc = parse_one(one, (char *)slots + i * slot_size, sub, err);
    }
    return rc;
}

static int parse_type_slot(const msgpack_object *o, void *slot, const char *path, sb_err_t *err)
{
    return parse_call_type(o, slot, path, err);
}

static int parse_state_slot(const msgpack_object *o, void *slot, const char *path, sb_err_t *err)
{
    return parse_call_state(o, slot, path, err);
}

int sb_layout_parse(const msgpack_object *map, sb_layout_t *out, sb_err_t *err)
{
    static const char *const keys[] = {"name", "screen_pops_open_within", "call_types",
                                       "call_states", NULL};
    memset(out, 0, sizeof(*out));
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "A layout is a map {name, call_types, call_states}; docs/layouts.md "
                          "shows one.");
    int rc = only_keys(map, keys, "", err);
    if (rc != 0)
        return rc;
    const msgpack_object *name = get(map, "name");
    if (sb_obj_copy_str(name, out->name, sizeof(out->name)) != 0)
        return refuse(err, "", "name", "a layout needs a name of 1 to %d bytes.",
                      SB_LAYOUT_NAME_MAX);
    rc = sb_layout_check_name(out->name, err);
    if (rc != 0)
        return rc;
    const msgpack_object *within = get(map, "screen_pops_open_within");
    if (within != NULL) {
        char w[32];
        if (sb_obj_copy_str(within, w, sizeof(w)) != 0 ||
            (strcmp(w, "existing_window") != 0 && strcmp(w, "new_window") != 0))
            return refuse(err, "", "screen_pops_open_within",
                          "expected existing_window or new_window.");
        out->new_window = strcmp(w, "new_window") == 0;
    }
    rc = parse_section(map, "call_types", type_names, SB_CALL_TYPES, out->types,
                       sizeof(out->types[0]), parse_type_slot, err);
    if (rc == 0)
        rc = parse_section(map, "call_states", state_names, SB_CALL_STATES, out->states,
                           sizeof(out->states[0]), parse_state_slot, err);
    return rc;
}

/* ---- questions and warnings ------------------------------------------------------ */

bool sb_layout_state_shows(const sb_layout_t *layout, sb_call_state_t state,
                           sb_layout_field_t field)
{
    const sb_layout_call_state_t *s = &layout->states[state];
    for (size_t i = 0; i < s->n_fields; i++)
        if (s->fields[i] == field)
            return true;
    return false;
}

bool sb_layout_state_has_action(const sb_layout_t *layout, sb_call_state_t state,
                                sb_layout_action_t action)
{
    const sb_layout_call_state_t *s = &layout->states[state];
    for (size_t i = 0; i < s->n_actions; i++)
        if (s->actions[i] == action)
            return true;
    return false;
}

bool sb_layout_searches(const sb_layout_t *layout, sb_call_type_t type, sb_object_t object)
{
    const sb_layout_call_type_t *t = &layout->types[type];
    for (size_t i = 0; i < t->n_objects; i++)
        if (t->objects[i].object == object)
            return true;
    return false;
}

__attribute__((format(printf, 2, 3))) static void warn(sb_layout_warnings_t *out, const char *fmt,
                                                       ...)
{
    if (out->n == SB_LAYOUT_WARNINGS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see error.c
    vsnprintf(out->text[out->n++], sizeof(out->text[0]), fmt, ap);
    va_end(ap);
}

void sb_layout_warn(const sb_layout_t *layout, sb_layout_warnings_t *out)
{
    out->n = 0;
    if (!sb_layout_state_shows(layout, SB_STATE_RINGING, SB_FIELD_ANI))
        warn(out, "While a call rings, agents do not see who calls (ANI): add ANI to "
                  "/call_states/ringing/fields.");
    if (!sb_layout_state_has_action(layout, SB_STATE_RINGING, SB_ACTION_ANSWER))
        warn(out, "While a call rings, agents cannot answer it: add answer to "
                  "/call_states/ringing/actions.");
    if (!sb_layout_state_has_action(layout, SB_STATE_IN_CALL, SB_ACTION_END))
        warn(out, "During a call, agents have no way to end it: add end to "
                  "/call_states/in_call/actions.");
    for (int t = 0; t < SB_CALL_TYPES; t++) {
        const sb_layout_call_type_t *type = &layout->types[t];
        if (t != SB_CALL_INTERNAL && type->n_objects == 0 &&
            (type->pop[SB_MATCH_SINGLE].action != SB_POP_NONE ||
             type->pop[SB_MATCH_MULTIPLE].action != SB_POP_NONE))
            warn(out,
                 "%s calls search no object, so their single and multiple match pops never "
                 "happen: add objects to /call_types/%s/objects.",
                 type_opencti[t], type_names[t]);
    }
}

/* ---- packing ------------------------------------------------------------------- */

static int pack_names(msgpack_packer *pk, const char *const *names, const unsigned char *list,
                      size_t n)
{
    int rc = msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        rc |= sb_pack_str(pk, names[list[i]]);
    return rc;
}

static int pack_pop(msgpack_packer *pk, const sb_pop_rule_t *rule)
{
    size_t n = 1 + (rule->action == SB_POP_NEW_RECORD) + (rule->action == SB_POP_FLOW);
    int rc = msgpack_pack_map(pk, n) | sb_pack_kv_str(pk, "action", pop_names[rule->action]);
    if (rule->action == SB_POP_NEW_RECORD)
        rc |= sb_pack_kv_str(pk, "object", object_names[rule->object]);
    if (rule->action == SB_POP_FLOW)
        rc |= sb_pack_kv_str(pk, "flow", rule->target);
    return rc;
}

int sb_layout_pack(msgpack_packer *pk, const sb_layout_t *layout)
{
    int rc = msgpack_pack_map(pk, 4) | sb_pack_kv_str(pk, "name", layout->name) |
             sb_pack_kv_str(pk, "screen_pops_open_within",
                            layout->new_window ? "new_window" : "existing_window");
    rc |= sb_pack_str(pk, "call_types") | msgpack_pack_map(pk, SB_CALL_TYPES);
    for (int t = 0; t < SB_CALL_TYPES; t++) {
        const sb_layout_call_type_t *type = &layout->types[t];
        rc |= sb_pack_str(pk, type_names[t]) | msgpack_pack_map(pk, 3) | sb_pack_str(pk, "fields") |
              pack_names(pk, field_names, type->fields, type->n_fields);
        rc |= sb_pack_str(pk, "objects") | msgpack_pack_map(pk, type->n_objects);
        for (size_t o = 0; o < type->n_objects; o++) {
            const sb_layout_object_t *obj = &type->objects[o];
            rc |=
                sb_pack_str(pk, object_names[obj->object]) | msgpack_pack_array(pk, obj->n_fields);
            for (size_t f = 0; f < obj->n_fields; f++)
                rc |= sb_pack_str(pk, object_fields[obj->object][obj->fields[f]].api);
        }
        rc |= sb_pack_str(pk, "screen_pop") | msgpack_pack_map(pk, SB_MATCHES);
        for (int m = 0; m < SB_MATCHES; m++)
            rc |= sb_pack_str(pk, match_names[m]) | pack_pop(pk, &type->pop[m]);
    }
    rc |= sb_pack_str(pk, "call_states") | msgpack_pack_map(pk, SB_CALL_STATES);
    for (int s = 0; s < SB_CALL_STATES; s++) {
        const sb_layout_call_state_t *state = &layout->states[s];
        rc |= sb_pack_str(pk, state_names[s]) | msgpack_pack_map(pk, 2) |
              sb_pack_str(pk, "fields") |
              pack_names(pk, field_names, state->fields, state->n_fields) |
              sb_pack_str(pk, "actions") |
              pack_names(pk, action_names, state->actions, state->n_actions);
    }
    return rc;
}

static int pack_opencti_pop(msgpack_packer *pk, const sb_pop_rule_t *rule)
{
    bool data = rule->action == SB_POP_NEW_RECORD || rule->action == SB_POP_FLOW;
    int rc = msgpack_pack_map(pk, 1 + data) |
             sb_pack_kv_str(pk, "screenPopType", pop_opencti[rule->action]);
    if (data)
        rc |=
            sb_pack_kv_str(pk, "screenPopData",
                           rule->action == SB_POP_FLOW ? rule->target : object_names[rule->object]);
    return rc;
}

int sb_layout_pack_opencti(msgpack_packer *pk, const sb_layout_t *layout)
{
    int rc = msgpack_pack_map(pk, SB_CALL_TYPES);
    for (int t = 0; t < SB_CALL_TYPES; t++) {
        const sb_layout_call_type_t *type = &layout->types[t];
        rc |= sb_pack_str(pk, type_opencti[t]) | msgpack_pack_map(pk, 3) |
              sb_pack_str(pk, "callRelatedFields") |
              pack_names(pk, field_names, type->fields, type->n_fields);
        rc |= sb_pack_str(pk, "objects") | msgpack_pack_map(pk, type->n_objects);
        for (size_t o = 0; o < type->n_objects; o++) {
            const sb_layout_object_t *obj = &type->objects[o];
            rc |=
                sb_pack_str(pk, object_names[obj->object]) | msgpack_pack_array(pk, obj->n_fields);
            for (size_t f = 0; f < obj->n_fields; f++) {
                const struct object_field *of = &object_fields[obj->object][obj->fields[f]];
                rc |= msgpack_pack_map(pk, 2) | sb_pack_kv_str(pk, "apiName", of->api) |
                      sb_pack_kv_str(pk, "displayName", of->label);
            }
        }
        rc |= sb_pack_str(pk, "screenPopSettings") | msgpack_pack_map(pk, 1 + SB_MATCHES) |
              sb_pack_kv_str(pk, "screenPopsOpenWithin",
                             layout->new_window ? "NewWindow" : "ExistingWindow");
        for (int m = 0; m < SB_MATCHES; m++)
            rc |= sb_pack_str(pk, match_opencti[m]) | pack_opencti_pop(pk, &type->pop[m]);
    }
    return rc;
}

int sb_layout_encode(const sb_layout_t *layout, msgpack_sbuffer *out)
{
    msgpack_sbuffer_init(out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = sb_layout_pack(&pk, layout);
    if (rc != 0) {
        msgpack_sbuffer_destroy(out);
        return -ENOMEM;
    }
    return 0;
}

int sb_layout_decode(const void *data, size_t len, sb_layout_t *out, sb_err_t *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 2048))
        return -ENOMEM;
    msgpack_object obj;
    size_t off = 0;
    int rc = msgpack_unpack(data, len, &off, &zone, &obj) == MSGPACK_UNPACK_SUCCESS
                 ? sb_layout_parse(&obj, out, err)
                 : sb_err_set(err, SB_E_CORRUPT, "A stored layout cannot be read.");
    msgpack_zone_destroy(&zone);
    return rc == 0 ? 0 : SB_E_CORRUPT;
}
