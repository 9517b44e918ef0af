/* Reading and writing Call Center definition files (see definition.h). */
#include "definition.h"

#include <ctype.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- warnings --------------------------------------------------------------- */

void sb_warnings_free(sb_warnings_t *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->lines[i]);
    free(w->lines);
    w->lines = NULL;
    w->n = 0;
    w->total = 0;
}

static void warn(sb_warnings_t *w, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warn(sb_warnings_t *w, long line, const char *fmt, ...)
{
    /* Counted always, kept only the first few: a file of repeated items
     * would otherwise make hundreds of thousands, and a reply too large to send. */
    w->total++;
    if (w->n >= SB_WARNINGS_KEEP)
        return;
    char text[SB_WARNING_MAX];
    int n = snprintf(text, sizeof(text), "line %ld: ", line);
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see error.c
    vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
    va_end(ap);
    char **grown = realloc(w->lines, (w->n + 1) * sizeof(*grown));
    if (grown == NULL)
        return; /* a warning lost to memory pressure costs nothing else */
    w->lines = grown;
    if ((w->lines[w->n] = strdup(text)) != NULL)
        w->n++;
}

/* ---- reading -------------------------------------------------------------------- */

/* Where each section and item stood, to name the line of a broken rule. */
typedef struct place {
    char path[520]; /* "/section" or "/section/item" */
    long line;
} place_t;

typedef struct reader {
    sb_callcenter_t *cc;
    sb_warnings_t *warnings;
    sb_err_t *err;
    place_t *places;
    size_t n_places, cap_places;
    /* An index of places by path (open addressing, the first place of each
     * path), so that naming the line of every item is not quadratic. */
    size_t *index; /* slots hold place number + 1; 0 is empty */
    size_t n_index, indexed;
    long root_line;
} reader_t;

static void remember(reader_t *r, const char *section, const char *item, long line)
{
    if (r->n_places == r->cap_places) {
        size_t cap = r->cap_places ? r->cap_places * 2 : 64;
        place_t *grown = realloc(r->places, cap * sizeof(*grown));
        if (grown == NULL)
            return;
        r->places = grown;
        r->cap_places = cap;
    }
    snprintf(r->places[r->n_places].path, sizeof(r->places[0].path), "/%.255s%s%.255s", section,
             item ? "/" : "", item ? item : "");
    r->places[r->n_places++].line = line;
}

static size_t hash_text(const char *text)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a; probing copes with a chosen collision */
    for (const char *c = text; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ULL;
    return (size_t)h;
}

/* (Re)builds the index when places were added since; false without memory. */
static bool index_places(reader_t *r)
{
    if (r->index != NULL && r->indexed == r->n_places)
        return true;
    size_t n = 64;
    while (n < r->n_places * 2)
        n *= 2;
    size_t *index = calloc(n, sizeof(*index));
    if (index == NULL)
        return false;
    for (size_t i = 0; i < r->n_places; i++) {
        size_t at = hash_text(r->places[i].path) & (n - 1);
        bool seen = false;
        while (index[at] != 0 && !seen) {
            seen = strcmp(r->places[index[at] - 1].path, r->places[i].path) == 0;
            at = (at + 1) & (n - 1);
        }
        if (!seen)
            index[at] = i + 1;
    }
    free(r->index);
    r->index = index;
    r->n_index = n;
    r->indexed = r->n_places;
    return true;
}

static long line_of(reader_t *r, const char *path)
{
    if (!index_places(r)) {
        for (size_t i = 0; i < r->n_places; i++)
            if (strcmp(r->places[i].path, path) == 0)
                return r->places[i].line;
        return r->root_line;
    }
    for (size_t at = hash_text(path) & (r->n_index - 1); r->index[at] != 0;
         at = (at + 1) & (r->n_index - 1))
        if (strcmp(r->places[r->index[at] - 1].path, path) == 0)
            return r->places[r->index[at] - 1].line;
    return r->root_line;
}

/* Item names seen so far, for the repeated-item warnings in linear time. */
typedef struct name_seen {
    const char *name;     /* [borrowed: the Call Center] NULL: empty slot */
    size_t first_section; /* where it appeared first */
    size_t section;       /* the section `count` counts in */
    size_t count;
} name_seen_t;

static bool named(const xmlNode *node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && strcmp((const char *)node->name, name) == 0;
}

static void refuse_format(reader_t *r, const xmlNode *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse_format(reader_t *r, const xmlNode *node, const char *fmt, ...)
{
    char text[480];
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see error.c
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    sb_err_set(r->err, SB_E_INVALID_DEFINITION, "line %ld: %s",
               node ? (long)xmlGetLineNo(node) : r->root_line, text);
}

/* Records why the file is refused, naming the element's line; worth the
 * code. A macro, so that static analysis sees the code it is worth. */
#define refuse(r, node, ...) (refuse_format((r), (node), __VA_ARGS__), SB_E_INVALID_DEFINITION)

/* The text of an element with no element children: its value. [owned: free()] */
static int text_of(reader_t *r, const xmlNode *node, char **out)
{
    *out = NULL;
    for (const xmlNode *c = node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return refuse(r, c, "<%s> holds a value, not a <%s> element.", node->name, c->name);
    xmlChar *text = xmlNodeGetContent(node);
    *out = strdup(text ? (const char *)text : "");
    xmlFree(text);
    return *out ? 0 : sb_err_default(r->err, -ENOMEM);
}

/* Text outside elements is only white space; comments are fine. */
static int check_only_elements(reader_t *r, const xmlNode *parent)
{
    for (const xmlNode *c = parent->children; c; c = c->next) {
        if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
            continue;
        for (const xmlChar *p = c->content; p && *p; p++)
            if (!isspace(*p))
                return refuse(r, c, "<%s> holds text outside its elements: '%.30s'.", parent->name,
                              (const char *)c->content);
    }
    return 0;
}

static int sort_order_of(reader_t *r, const xmlNode *node, uint32_t *out)
{
    xmlChar *text = xmlGetProp(node, BAD_CAST "sortOrder");
    int rc = 0;
    if (text == NULL) {
        rc = refuse(r, node, "<%s> needs a sortOrder attribute.", node->name);
    } else {
        char *end;
        errno = 0;
        unsigned long n = strtoul((const char *)text, &end, 10);
        if (errno || end == (char *)text || *end || !isdigit(text[0]) || n > 100000)
            rc = refuse(r, node, "<%s sortOrder=\"%.20s\"> is not a whole number.", node->name,
                        (const char *)text);
        *out = (uint32_t)n;
    }
    xmlFree(text);
    return rc;
}

static int attr_of(reader_t *r, const xmlNode *node, const char *attr, char **out)
{
    xmlChar *text = xmlGetProp(node, BAD_CAST attr);
    if (text == NULL) {
        *out = NULL;
        return refuse(r, node, "<%s> needs a %s attribute.", node->name, attr);
    }
    *out = strdup((const char *)text);
    xmlFree(text);
    return *out ? 0 : sb_err_default(r->err, -ENOMEM);
}

/* sortOrder values of n siblings must be 0..n-1, each once. */
static int check_complete(reader_t *r, const xmlNode *parent, const uint32_t *orders, size_t n,
                          const char *what)
{
    for (size_t want = 0; want < n; want++) {
        size_t found = 0;
        for (size_t i = 0; i < n; i++)
            found += orders[i] == want;
        if (found != 1)
            return refuse(r, parent,
                          "the sortOrder values of the %zu %s must be 0 to %zu, each once; %zu "
                          "is %s.",
                          n, what, n - 1, want, found ? "used twice" : "missing");
    }
    return 0;
}

static void warn_label(reader_t *r, long line, const char *what, const char *label)
{
    if (label[0] != '\0' &&
        (isspace((unsigned char)label[0]) || isspace((unsigned char)label[strlen(label) - 1])))
        warn(r->warnings, line, "the label of %s, '%s', has spaces around it; kept as it is.", what,
             label);
}

static int read_import_item(reader_t *r, const xmlNode *node, size_t section, uint32_t *order)
{
    char *name = NULL, *label = NULL, *value = NULL;
    int rc = sort_order_of(r, node, order);
    if (rc == 0)
        rc = attr_of(r, node, "name", &name);
    if (rc == 0)
        rc = attr_of(r, node, "label", &label);
    if (rc == 0)
        rc = text_of(r, node, &value);
    if (rc == 0) {
        rc = sb_callcenter_add_item(r->cc, section, name, label, *order, value);
        if (rc == SB_E_INVALID_VALUE)
            rc = refuse(r, node, "a section holds at most %d items.", SB_CC_MAX_ITEMS);
        else if (rc != 0)
            rc = sb_err_default(r->err, rc);
        remember(r, r->cc->sections[section].name, name, xmlGetLineNo(node));
        warn_label(r, xmlGetLineNo(node), name, label);
    }
    free(name);
    free(label);
    free(value);
    return rc;
}

static int read_import_section(reader_t *r, const xmlNode *node, uint32_t *order)
{
    char *name = NULL, *label = NULL;
    int rc = sort_order_of(r, node, order);
    if (rc == 0)
        rc = attr_of(r, node, "name", &name);
    if (rc == 0)
        rc = attr_of(r, node, "label", &label);
    if (rc == 0)
        rc = check_only_elements(r, node);
    int index = rc == 0 ? sb_callcenter_add_section(r->cc, name, label, *order) : rc;
    if (index == SB_E_INVALID_VALUE)
        rc = refuse(r, node, "a definition holds at most %d sections.", SB_CC_MAX_SECTIONS);
    else if (index < 0)
        rc = rc ? rc : sb_err_default(r->err, index);
    if (rc == 0) {
        remember(r, name, NULL, xmlGetLineNo(node));
        warn_label(r, xmlGetLineNo(node), name, label);
    }
    free(name);
    free(label);
    if (rc != 0)
        return rc;
    uint32_t orders[SB_CC_MAX_ITEMS + 1];
    size_t n = 0;
    for (const xmlNode *c = node->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!named(c, "item"))
            return refuse(r, c, "<%s> is not expected in <section>; only <item>.", c->name);
        if (n > SB_CC_MAX_ITEMS)
            return refuse(r, c, "a section holds at most %d items.", SB_CC_MAX_ITEMS);
        rc = read_import_item(r, c, (size_t)index, &orders[n]);
        if (rc == 0 && n > 0 && orders[n] < orders[n - 1])
            warn(r->warnings, xmlGetLineNo(c),
                 "items of section %s are written out of their sortOrder; kept in sortOrder.",
                 r->cc->sections[index].name);
        n++;
    }
    return rc == 0 ? check_complete(r, node, orders, n, "items of this section") : rc;
}

static int read_import_form(reader_t *r, const xmlNode *root)
{
    int rc = check_only_elements(r, root);
    uint32_t orders[SB_CC_MAX_SECTIONS + 1];
    size_t n = 0;
    for (const xmlNode *c = root->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!named(c, "section"))
            return refuse(r, c, "<%s> is not expected in <callCenter>; only <section>.", c->name);
        if (n > SB_CC_MAX_SECTIONS)
            return refuse(r, c, "a definition holds at most %d sections.", SB_CC_MAX_SECTIONS);
        rc = read_import_section(r, c, &orders[n++]);
    }
    if (rc == 0)
        rc = check_complete(r, root, orders, n, "sections");
    return rc;
}

/* <sections><items><label/><name/><value/></items>...<label/><name/></sections> */
static int read_metadata_section(reader_t *r, const xmlNode *node)
{
    char *name = NULL, *label = NULL;
    int rc = check_only_elements(r, node);
    for (const xmlNode *c = node->children; c && rc == 0; c = c->next) {
        if (named(c, "name") && name == NULL)
            rc = text_of(r, c, &name);
        else if (named(c, "label") && label == NULL)
            rc = text_of(r, c, &label);
        else if (c->type == XML_ELEMENT_NODE && !named(c, "items"))
            rc = refuse(r, c, "<%s> is not expected in <sections> (or comes twice).", c->name);
    }
    if (rc == 0 && name == NULL)
        rc = refuse(r, node, "<sections> needs a <name>.");
    int index = rc == 0 ? sb_callcenter_add_section(r->cc, name, label ? label : "",
                                                    (uint32_t)r->cc->n_sections)
                        : rc;
    if (rc == 0 && index < 0)
        rc = index == SB_E_INVALID_VALUE
                 ? refuse(r, node, "a definition holds at most %d sections.", SB_CC_MAX_SECTIONS)
                 : sb_err_default(r->err, index);
    if (rc == 0) {
        remember(r, name, NULL, xmlGetLineNo(node));
        warn_label(r, xmlGetLineNo(node), name, label ? label : "");
    }
    for (const xmlNode *c = node->children; c && rc == 0; c = c->next) {
        if (!named(c, "items"))
            continue;
        char *iname = NULL, *ilabel = NULL, *value = NULL;
        rc = check_only_elements(r, c);
        for (const xmlNode *f = c->children; f && rc == 0; f = f->next) {
            if (named(f, "name") && iname == NULL)
                rc = text_of(r, f, &iname);
            else if (named(f, "label") && ilabel == NULL)
                rc = text_of(r, f, &ilabel);
            else if (named(f, "value") && value == NULL)
                rc = text_of(r, f, &value);
            else if (f->type == XML_ELEMENT_NODE)
                rc = refuse(r, f, "<%s> is not expected in <items> (or comes twice).", f->name);
        }
        if (rc == 0 && iname == NULL)
            rc = refuse(r, c, "<items> needs a <name>.");
        if (rc == 0) {
            uint32_t order = (uint32_t)r->cc->sections[index].n_items;
            rc = sb_callcenter_add_item(r->cc, (size_t)index, iname, ilabel ? ilabel : "", order,
                                        value ? value : "");
            if (rc == SB_E_INVALID_VALUE)
                rc = refuse(r, c, "a section holds at most %d items.", SB_CC_MAX_ITEMS);
            remember(r, name, iname, xmlGetLineNo(c));
            warn_label(r, xmlGetLineNo(c), iname, ilabel ? ilabel : "");
        }
        free(iname);
        free(ilabel);
        free(value);
    }
    free(name);
    free(label);
    return rc;
}

/* Puts an item at the front of section `s`, shifting the others' sort orders. */
static int prepend_item(sb_callcenter_t *cc, size_t s, const char *name, const char *label,
                        const char *value)
{
    int rc = sb_callcenter_add_item(cc, s, name, label, 0, value);
    if (rc != 0)
        return rc;
    sb_cc_section_t *section = &cc->sections[s];
    sb_cc_item_t added = section->items[section->n_items - 1];
    memmove(section->items + 1, section->items, (section->n_items - 1) * sizeof(*section->items));
    section->items[0] = added;
    for (size_t i = 1; i < section->n_items; i++)
        section->items[i].sort_order++;
    return 0;
}

static int find_section_index(const sb_callcenter_t *cc, const char *name)
{
    for (size_t s = 0; s < cc->n_sections; s++)
        if (strcmp(cc->sections[s].name, name) == 0)
            return (int)s;
    return -1;
}

/* The internal name of a Metadata API file: NAME.callCenter-meta.xml or NAME.callCenter. */
static bool name_from_file(const char *filename, char *out, size_t cap)
{
    if (filename == NULL)
        return false;
    const char *base = strrchr(filename, '/');
    base = base ? base + 1 : filename;
    static const char *const endings[] = {".callCenter-meta.xml", ".callCenter"};
    for (size_t i = 0; i < 2; i++) {
        size_t len = strlen(base), end = strlen(endings[i]);
        if (len > end && strcmp(base + len - end, endings[i]) == 0 && len - end < cap) {
            memcpy(out, base, len - end);
            out[len - end] = '\0';
            return true;
        }
    }
    return false;
}

/* customSettings: a JSON object of strings, kept verbatim; compared with the items. */
static int read_custom_settings(reader_t *r, const xmlNode *node, const char *text)
{
    json_error_t jerr;
    json_t *settings = json_loads(text, 0, &jerr);
    if (settings == NULL || !json_is_object(settings)) {
        json_decref(settings);
        return refuse(r, node, "<customSettings> is not a JSON object (%s).",
                      settings ? "another JSON value" : jerr.text);
    }
    const char *key;
    json_t *value;
    json_object_foreach(settings, key, value)
    {
        const char *item = sb_callcenter_value(r->cc, NULL, key);
        if (!json_is_string(value))
            warn(r->warnings, xmlGetLineNo(node),
                 "customSettings gives %s a value that is not a string.", key);
        else if (item != NULL && strcmp(item, json_string_value(value)) != 0)
            warn(r->warnings, xmlGetLineNo(node),
                 "customSettings gives %s '%s' but its item says '%s'; the item is what "
                 "Switchboard uses, and customSettings is kept as it is for export.",
                 key, json_string_value(value), item);
    }
    json_decref(settings);
    return sb_callcenter_set_custom_settings(r->cc, text) ? sb_err_default(r->err, -ENOMEM) : 0;
}

static int read_metadata_form(reader_t *r, const xmlNode *root, const char *filename,
                              const char *internal_name)
{
    char *fields[5] = {NULL, NULL, NULL, NULL, NULL};
    static const char *const names[5] = {"adapterUrl", "customSettings", "displayName",
                                         "displayNameLabel", "internalNameLabel"};
    const xmlNode *where[5] = {NULL};
    int rc = check_only_elements(r, root);
    for (const xmlNode *c = root->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (named(c, "sections")) {
            rc = read_metadata_section(r, c);
            continue;
        }
        size_t f = 0;
        while (f < 5 && !named(c, names[f]))
            f++;
        if (f == 5 || fields[f] != NULL)
            rc = refuse(r, c, "<%s> is not expected in <CallCenter>%s.", c->name,
                        f < 5 ? " twice" : "");
        else {
            rc = text_of(r, c, &fields[f]);
            where[f] = c;
        }
    }
    if (rc == 0 && fields[1] != NULL)
        rc = read_custom_settings(r, where[1], fields[1]);
    if (rc == 0 && fields[2] == NULL)
        rc = refuse(r, root, "<CallCenter> needs a <displayName>.");
    char name[SB_CC_INTERNAL_NAME_MAX * 4 + 1];
    if (rc == 0 && internal_name == NULL) {
        if (name_from_file(filename, name, sizeof(name)))
            internal_name = name;
        else
            rc = refuse(r, root,
                        "a Metadata API file takes its internal name from its file name "
                        "(NAME.callCenter-meta.xml); this one was given as '%s'. Give the "
                        "internal name explicitly.",
                        filename ? filename : "(no name)");
    }
    int general = rc == 0 ? find_section_index(r->cc, SB_CC_GENERAL) : -1;
    if (rc == 0 && general < 0) {
        warn(r->warnings, r->root_line,
             "there is no reqGeneralInfo section; one is made for the internal and display "
             "names.");
        general = sb_callcenter_add_section(r->cc, SB_CC_GENERAL, "General Information",
                                            (uint32_t)r->cc->n_sections);
        if (general < 0)
            rc = sb_err_default(r->err, general);
    }
    /* The names live in <displayName> and the file name; Switchboard keeps
     * them as the first items of reqGeneralInfo, as the import form has them. */
    if (rc == 0 && (sb_callcenter_find(r->cc, SB_CC_GENERAL, SB_CC_DISPLAY_NAME) ||
                    sb_callcenter_find(r->cc, SB_CC_GENERAL, SB_CC_INTERNAL_NAME)))
        rc = refuse(r, root,
                    "reqInternalName and reqDisplayName are not items in a Metadata API file; "
                    "they are <displayName> and the file name.");
    if (rc == 0)
        rc = prepend_item(r->cc, (size_t)general, SB_CC_DISPLAY_NAME,
                          fields[3] ? fields[3] : "Display Name", fields[2]);
    if (rc == 0)
        rc = prepend_item(r->cc, (size_t)general, SB_CC_INTERNAL_NAME,
                          fields[4] ? fields[4] : "Internal Name", internal_name);
    if (rc == 0) {
        remember(r, SB_CC_GENERAL, SB_CC_INTERNAL_NAME, r->root_line);
        remember(r, SB_CC_GENERAL, SB_CC_DISPLAY_NAME,
                 where[2] ? xmlGetLineNo(where[2]) : r->root_line);
    }
    const char *item_url = rc == 0 ? sb_callcenter_value(r->cc, NULL, SB_CC_ADAPTER_URL) : NULL;
    if (rc == 0 && fields[0] != NULL) {
        if (item_url == NULL) {
            warn(r->warnings, xmlGetLineNo(where[0]),
                 "<adapterUrl> has no reqAdapterUrl item beside it; it becomes one.");
            rc =
                sb_callcenter_add_item(r->cc, (size_t)general, SB_CC_ADAPTER_URL, "CTI Adapter URL",
                                       (uint32_t)r->cc->sections[general].n_items, fields[0]);
        } else if (strcmp(item_url, fields[0]) != 0) {
            warn(r->warnings, xmlGetLineNo(where[0]),
                 "<adapterUrl> says '%s' but the reqAdapterUrl item says '%s'; the item is used.",
                 fields[0], item_url);
        }
    }
    for (size_t f = 0; f < 5; f++)
        free(fields[f]);
    r->cc->form = SB_CC_FORM_METADATA;
    return rc;
}

/* The names: one of each, and (as Salesforce's own template says) at the
 * sortOrder the documentation fixes, since only their labels may change. */
static int check_name_items(reader_t *r)
{
    static const char *const names[2] = {SB_CC_INTERNAL_NAME, SB_CC_DISPLAY_NAME};
    int general = find_section_index(r->cc, SB_CC_GENERAL);
    if (general < 0)
        return 0; /* validation says it is missing */
    const sb_cc_section_t *section = &r->cc->sections[general];
    for (uint32_t k = 0; k < 2; k++) {
        char path[128];
        snprintf(path, sizeof(path), "/%s/%s", SB_CC_GENERAL, names[k]);
        size_t count = 0;
        for (size_t i = 0; i < section->n_items; i++) {
            if (strcmp(section->items[i].name, names[k]) != 0)
                continue;
            if (++count > 1)
                return sb_err_set(r->err, SB_E_INVALID_DEFINITION,
                                  "line %ld: %s appears more than once; a Call Center has one.",
                                  line_of(r, path), names[k]);
            if (section->items[i].sort_order != k)
                return sb_err_set(r->err, SB_E_INVALID_DEFINITION,
                                  "line %ld: %s has sortOrder %u; it keeps %u (only its label "
                                  "may change).",
                                  line_of(r, path), names[k], section->items[i].sort_order, k);
        }
    }
    return 0;
}

/* What real files do that the documentation forbids: accepted, said. */
static void warn_deviations(reader_t *r)
{
    static const char *const known[] = {
        SB_CC_INTERNAL_NAME, SB_CC_DISPLAY_NAME, SB_CC_ADAPTER_URL,    SB_CC_USE_API,
        SB_CC_HEIGHT,        SB_CC_WIDTH,        SB_CC_COMPAT_MODE,    SB_CC_STANDBY_URL,
        SB_CC_TIMEOUT,       SB_CC_VENDOR_INFO,  SB_CC_OUTSIDE_PREFIX, SB_CC_LONG_DIST_PREFIX,
        SB_CC_INTL_PREFIX,
    };
    const sb_callcenter_t *cc = r->cc;
    size_t n_items = 0;
    for (size_t s = 0; s < cc->n_sections; s++)
        n_items += cc->sections[s].n_items;
    size_t n_seen = 64;
    while (n_seen < n_items * 2)
        n_seen *= 2;
    name_seen_t *seen = calloc(n_seen, sizeof(*seen));
    for (size_t s = 0; s < cc->n_sections; s++) {
        const sb_cc_section_t *section = &cc->sections[s];
        char path[300];
        snprintf(path, sizeof(path), "/%s", section->name);
        if (strcmp(section->name, SB_CC_GENERAL) == 0 && section->sort_order != 0)
            warn(r->warnings, line_of(r, path),
                 "reqGeneralInfo has sortOrder %u; the documentation puts it at 0.",
                 section->sort_order);
        for (size_t i = 0; i < section->n_items; i++) {
            const char *name = section->items[i].name;
            snprintf(path, sizeof(path), "/%.140s/%.140s", section->name, name);
            long line = line_of(r, path);
            if (strlen(name) > SB_CC_INTERNAL_NAME_MAX)
                warn(r->warnings, line,
                     "the item name %s has %zu characters, more than the 40 "
                     "the documentation allows.",
                     name, strlen(name));
            name_seen_t *e = NULL;
            for (size_t at = hash_text(name) & (n_seen - 1); seen != NULL;
                 at = (at + 1) & (n_seen - 1)) {
                if (seen[at].name == NULL) {
                    seen[at] = (name_seen_t){name, s, s, 0};
                    e = &seen[at];
                    break;
                }
                if (strcmp(seen[at].name, name) == 0) {
                    e = &seen[at];
                    break;
                }
            }
            size_t earlier = 0;
            if (e != NULL) {
                if (e->section != s) {
                    e->section = s;
                    e->count = 0;
                }
                earlier = e->count++;
            }
            if (earlier == 1) /* said once, at its second appearance */
                warn(r->warnings, line,
                     "the item %s appears more than once in section %s; all are kept, and it "
                     "cannot be changed by its path.",
                     name, section->name);
            /* Said for its first appearance in a section, naming where it was first. */
            if (e != NULL && earlier == 0 && e->first_section != s)
                warn(r->warnings, line, "the item %s is also in section %s.", name,
                     cc->sections[e->first_section].name);
            if (strcmp(name, "reqSalesforceCompatabilityMode") == 0)
                warn(r->warnings, line,
                     "reqSalesforceCompatabilityMode is a misspelling of "
                     "reqSalesforceCompatibilityMode: it is kept, and the compatibility mode is "
                     "Classic, the default.");
            bool is_known = false;
            for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
                is_known |= strcmp(known[k], name) == 0;
            if (!is_known && strncmp(name, "req", 3) == 0 &&
                (strcmp(section->name, SB_CC_GENERAL) == 0 ||
                 strcmp(section->name, SB_CC_DIALING) == 0) &&
                strcmp(name, "reqSalesforceCompatabilityMode") != 0)
                warn(r->warnings, line,
                     "%s starts with 'req' but is not a field Salesforce requires; it is kept "
                     "as an optional setting.",
                     name);
        }
    }
    free(seen);
    if (sb_callcenter_kind(cc) == SB_CC_KIND_OPEN_CTI &&
        sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_ADAPTER_URL) == NULL)
        warn(r->warnings, r->root_line,
             "there is no reqAdapterUrl: this is a desktop (legacy CTI) adapter, and no softphone "
             "shows for it in Lightning.");
}

/* The line of the first "<!DOCTYPE" in the first `len` bytes; 0 when absent. */
static long doctype_line(const char *xml, size_t len)
{
    static const char decl[] = "<!DOCTYPE";
    long line = 1;
    for (size_t i = 0; i + sizeof(decl) - 1 <= len; i++) {
        if (memcmp(xml + i, decl, sizeof(decl) - 1) == 0)
            return line;
        line += xml[i] == '\n';
    }
    return 0;
}

int sb_definition_import(const char *xml, size_t len, const char *filename,
                         const char *internal_name, sb_callcenter_t **out, sb_warnings_t *warnings,
                         sb_err_t *err)
{
    *out = NULL;
    memset(warnings, 0, sizeof(*warnings));
    sb_err_clear(err);
    if (len > SB_DEFINITION_MAX_BYTES)
        return sb_err_set(err, SB_E_INVALID_DEFINITION,
                          "The file has %zu bytes; a definition file has at most %d.", len,
                          SB_DEFINITION_MAX_BYTES);
    if (len > INT32_MAX)
        return sb_err_default(err, SB_E_INVALID_DEFINITION);
    reader_t r = {.warnings = warnings, .err = err, .root_line = 1};
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (ctxt == NULL)
        return sb_err_default(err, -ENOMEM);
    /* No network, no entity substitution, no DTD loading; libxml2's own
     * limits on depth and entity amplification stay on (no XML_PARSE_HUGE). */
    xmlDocPtr doc =
        xmlCtxtReadMemory(ctxt, xml, (int)len, filename ? filename : "definition.xml", NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int rc = 0;
    if (doc == NULL) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char msg[300] = "not well-formed XML";
        if (e && e->message) {
            snprintf(msg, sizeof(msg), "%s", e->message);
            msg[strcspn(msg, "\n")] = '\0';
        }
        rc = sb_err_set(err, SB_E_INVALID_DEFINITION,
                        "line %d: the file is not well-formed XML: %s.", e ? e->line : 0, msg);
        goto out;
    }
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (doc->intSubset != NULL || doc->extSubset != NULL) {
        /* libxml2 keeps no line for a DTD node (xmlGetLineNo says -1): the
         * line is counted in the bytes, up to the declaration. */
        long line = doctype_line(xml, len);
        char where[40] = "at the start of the file";
        if (line > 0)
            snprintf(where, sizeof(where), "line %ld", line);
        rc = sb_err_set(err, SB_E_INVALID_DEFINITION,
                        "%s: a DOCTYPE is not accepted in a definition file (no entities, "
                        "no external references).",
                        where);
        goto out;
    }
    if (root == NULL || (!named(root, "callCenter") && !named(root, "CallCenter"))) {
        rc = sb_err_set(err, SB_E_INVALID_DEFINITION,
                        "line %ld: the root element is <%s>; a definition file's is <callCenter> "
                        "(import form) or <CallCenter> (Metadata API form).",
                        root ? (long)xmlGetLineNo(root) : 1L, root ? (const char *)root->name : "");
        goto out;
    }
    r.root_line = xmlGetLineNo(root);
    size_t sections = 0, metadata_sections = 0;
    for (const xmlNode *c = root->children; c; c = c->next) {
        sections += named(c, "section");
        metadata_sections += named(c, "sections");
    }
    if (sections && metadata_sections) {
        rc = sb_err_set(err, SB_E_INVALID_DEFINITION,
                        "line %ld: the file mixes <section> (import form) and <sections> "
                        "(Metadata API form); a file is in one form.",
                        r.root_line);
        goto out;
    }
    bool metadata = metadata_sections > 0 || (sections == 0 && named(root, "CallCenter"));
    bool has_ns = root->ns != NULL && root->ns->href != NULL &&
                  strcmp((const char *)root->ns->href, SB_METADATA_NAMESPACE) == 0;
    if (!metadata && has_ns)
        warn(warnings, r.root_line,
             "the file declares the Metadata API namespace but is in the import form; it is "
             "read as the import form.");
    r.cc = sb_callcenter_new();
    if (r.cc == NULL) {
        rc = sb_err_default(err, -ENOMEM);
        goto out;
    }
    rc = metadata ? read_metadata_form(&r, root, filename, internal_name)
                  : read_import_form(&r, root);
    if (rc == 0 && !metadata && internal_name != NULL) {
        sb_cc_item_t *item =
            (sb_cc_item_t *)sb_callcenter_find(r.cc, SB_CC_GENERAL, SB_CC_INTERNAL_NAME);
        if (item != NULL) {
            warn(warnings, line_of(&r, "/" SB_CC_GENERAL "/" SB_CC_INTERNAL_NAME),
                 "the internal name '%s' in the file is replaced by '%s', as asked.", item->value,
                 internal_name);
            char *copy = strdup(internal_name);
            if (copy == NULL)
                rc = sb_err_default(err, -ENOMEM);
            else {
                free(item->value);
                item->value = copy;
            }
        }
    }
    if (rc == 0)
        rc = check_name_items(&r);
    if (rc == 0) {
        rc = sb_callcenter_validate(r.cc, err);
        if (rc != 0) {
            /* Name the element and the line of the rule that broke. */
            long line = err->field[0] ? line_of(&r, err->field) : r.root_line;
            const char *item = strrchr(err->field, '/');
            char where[300];
            snprintf(where, sizeof(where), "line %ld, %s%s%s: ", line,
                     err->field[0] ? "<item name=\"" : "<callCenter>",
                     err->field[0] && item ? item + 1 : "", err->field[0] ? "\">" : "");
            sb_err_prefix(err, "%s", where);
        }
    }
    if (rc == 0)
        warn_deviations(&r);
out:
    if (rc != 0) {
        sb_callcenter_free(r.cc);
        sb_warnings_free(warnings);
    } else {
        *out = r.cc;
    }
    free(r.places);
    free(r.index);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}

/* ---- writing -------------------------------------------------------------------- */

/* The indexes of n things sorted by sort order (stable). */
static void order_by_sort(const uint32_t *orders, size_t n, size_t *index)
{
    for (size_t i = 0; i < n; i++)
        index[i] = i;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && orders[index[j - 1]] > orders[index[j]]; j--) {
            size_t t = index[j];
            index[j] = index[j - 1];
            index[j - 1] = t;
        }
}

static int write_import_form(xmlTextWriterPtr w, const sb_callcenter_t *cc)
{
    int rc = xmlTextWriterStartElement(w, BAD_CAST "callCenter");
    for (size_t s = 0; rc >= 0 && s < cc->n_sections; s++) {
        const sb_cc_section_t *section = &cc->sections[s];
        rc = xmlTextWriterStartElement(w, BAD_CAST "section");
        if (rc >= 0)
            rc = xmlTextWriterWriteFormatAttribute(w, BAD_CAST "sortOrder", "%u",
                                                   section->sort_order);
        if (rc >= 0)
            rc = xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST section->name);
        if (rc >= 0)
            rc = xmlTextWriterWriteAttribute(w, BAD_CAST "label", BAD_CAST section->label);
        for (size_t i = 0; rc >= 0 && i < section->n_items; i++) {
            const sb_cc_item_t *item = &section->items[i];
            rc = xmlTextWriterStartElement(w, BAD_CAST "item");
            if (rc >= 0)
                rc = xmlTextWriterWriteFormatAttribute(w, BAD_CAST "sortOrder", "%u",
                                                       item->sort_order);
            if (rc >= 0)
                rc = xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST item->name);
            if (rc >= 0)
                rc = xmlTextWriterWriteAttribute(w, BAD_CAST "label", BAD_CAST item->label);
            if (rc >= 0)
                rc = xmlTextWriterWriteString(w, BAD_CAST item->value);
            if (rc >= 0)
                rc = xmlTextWriterFullEndElement(w);
        }
        if (rc >= 0)
            rc = xmlTextWriterEndElement(w);
    }
    if (rc >= 0)
        rc = xmlTextWriterEndElement(w);
    return rc;
}

static int write_text_element(xmlTextWriterPtr w, const char *name, const char *text)
{
    return xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST text);
}

/* The customSettings of a Call Center that was not imported in the Metadata
 * API form: its general settings, as Salesforce writes them. */
static char *generated_custom_settings(const sb_callcenter_t *cc)
{
    static const char *const keys[] = {SB_CC_TIMEOUT, SB_CC_STANDBY_URL, SB_CC_HEIGHT,
                                       SB_CC_WIDTH,   SB_CC_USE_API,     SB_CC_COMPAT_MODE};
    json_t *settings = json_object();
    for (size_t k = 0; settings && k < sizeof(keys) / sizeof(keys[0]); k++) {
        const char *value = sb_callcenter_value(cc, SB_CC_GENERAL, keys[k]);
        if (value != NULL)
            json_object_set_new(settings, keys[k], json_string(value));
    }
    char *text = settings ? json_dumps(settings, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(settings);
    return text;
}

static int write_metadata_form(xmlTextWriterPtr w, const sb_callcenter_t *cc)
{
    const sb_cc_item_t *internal = sb_callcenter_find(cc, SB_CC_GENERAL, SB_CC_INTERNAL_NAME);
    const sb_cc_item_t *display = sb_callcenter_find(cc, SB_CC_GENERAL, SB_CC_DISPLAY_NAME);
    const char *url = sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_ADAPTER_URL);
    char *generated = cc->custom_settings ? NULL : generated_custom_settings(cc);
    const char *settings = cc->custom_settings ? cc->custom_settings : generated;
    int rc = xmlTextWriterStartElement(w, BAD_CAST "CallCenter");
    if (rc >= 0)
        rc = xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST SB_METADATA_NAMESPACE);
    if (rc >= 0 && url)
        rc = write_text_element(w, "adapterUrl", url);
    if (rc >= 0 && settings && strcmp(settings, "{}") != 0)
        rc = write_text_element(w, "customSettings", settings);
    if (rc >= 0)
        rc = write_text_element(w, "displayName", display ? display->value : "");
    if (rc >= 0)
        rc = write_text_element(w, "displayNameLabel", display ? display->label : "Display Name");
    if (rc >= 0)
        rc = write_text_element(w, "internalNameLabel",
                                internal ? internal->label : "Internal Name");
    size_t sorder[SB_CC_MAX_SECTIONS];
    uint32_t sorts[SB_CC_MAX_SECTIONS];
    for (size_t s = 0; s < cc->n_sections; s++)
        sorts[s] = cc->sections[s].sort_order;
    order_by_sort(sorts, cc->n_sections, sorder);
    for (size_t k = 0; rc >= 0 && k < cc->n_sections; k++) {
        const sb_cc_section_t *section = &cc->sections[sorder[k]];
        size_t iorder[SB_CC_MAX_ITEMS];
        uint32_t isorts[SB_CC_MAX_ITEMS];
        for (size_t i = 0; i < section->n_items; i++)
            isorts[i] = section->items[i].sort_order;
        order_by_sort(isorts, section->n_items, iorder);
        rc = xmlTextWriterStartElement(w, BAD_CAST "sections");
        for (size_t j = 0; rc >= 0 && j < section->n_items; j++) {
            const sb_cc_item_t *item = &section->items[iorder[j]];
            if (item == internal || item == display)
                continue; /* they are <displayName> and the file name */
            rc = xmlTextWriterStartElement(w, BAD_CAST "items");
            if (rc >= 0)
                rc = write_text_element(w, "label", item->label);
            if (rc >= 0)
                rc = write_text_element(w, "name", item->name);
            if (rc >= 0)
                rc = write_text_element(w, "value", item->value);
            if (rc >= 0)
                rc = xmlTextWriterEndElement(w);
        }
        if (rc >= 0)
            rc = write_text_element(w, "label", section->label);
        if (rc >= 0)
            rc = write_text_element(w, "name", section->name);
        if (rc >= 0)
            rc = xmlTextWriterEndElement(w);
    }
    if (rc >= 0)
        rc = xmlTextWriterEndElement(w);
    free(generated);
    return rc;
}

int sb_definition_export(const sb_callcenter_t *cc, sb_cc_form_t form, char **xml, size_t *len,
                         sb_err_t *err)
{
    *xml = NULL;
    *len = 0;
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    int rc = w ? 0 : -1;
    if (rc >= 0)
        rc = xmlTextWriterSetIndent(w, 1);
    if (rc >= 0)
        rc = xmlTextWriterSetIndentString(w, BAD_CAST "    ");
    if (rc >= 0)
        rc = xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL);
    if (rc >= 0)
        rc = form == SB_CC_FORM_METADATA ? write_metadata_form(w, cc) : write_import_form(w, cc);
    if (rc >= 0)
        rc = xmlTextWriterEndDocument(w);
    if (w != NULL)
        xmlFreeTextWriter(w); /* flushes into buf */
    if (rc >= 0) {
        *len = (size_t)xmlBufferLength(buf);
        *xml = malloc(*len + 1);
        if (*xml != NULL) {
            memcpy(*xml, xmlBufferContent(buf), *len);
            (*xml)[*len] = '\0';
        }
    }
    if (buf != NULL)
        xmlBufferFree(buf);
    if (*xml == NULL) {
        *len = 0;
        return sb_err_default(err, -ENOMEM);
    }
    return 0;
}

void sb_definition_filename(const sb_callcenter_t *cc, sb_cc_form_t form, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", sb_callcenter_internal_name(cc),
             form == SB_CC_FORM_METADATA ? ".callCenter-meta.xml" : ".xml");
}
