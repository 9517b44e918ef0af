#include "callcenter.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

sb_callcenter_t *sb_callcenter_new(void)
{
    sb_callcenter_t *cc = calloc(1, sizeof(*cc));
    if (cc == NULL)
        return NULL;
    cc->adapter = strdup("");
    if (cc->adapter == NULL) {
        free(cc);
        return NULL;
    }
    return cc;
}

static void free_section(sb_cc_section_t *section)
{
    for (size_t i = 0; i < section->n_items; i++) {
        free(section->items[i].name);
        free(section->items[i].label);
        free(section->items[i].value);
    }
    free(section->items);
    free(section->name);
    free(section->label);
}

void sb_callcenter_free(sb_callcenter_t *cc)
{
    if (cc == NULL)
        return;
    for (size_t i = 0; i < cc->n_sections; i++)
        free_section(&cc->sections[i]);
    free(cc->sections);
    free(cc->adapter);
    free(cc->custom_settings);
    free(cc);
}

int sb_callcenter_add_section(sb_callcenter_t *cc, const char *name, const char *label,
                              uint32_t sort_order)
{
    if (cc->n_sections >= SB_CC_MAX_SECTIONS)
        return SB_E_INVALID_VALUE;
    sb_cc_section_t *grown = realloc(cc->sections, (cc->n_sections + 1) * sizeof(*grown));
    if (grown == NULL)
        return -ENOMEM;
    cc->sections = grown;
    sb_cc_section_t *section = &cc->sections[cc->n_sections];
    memset(section, 0, sizeof(*section));
    section->name = strdup(name);
    section->label = strdup(label ? label : "");
    section->sort_order = sort_order;
    if (section->name == NULL || section->label == NULL) {
        free_section(section);
        return -ENOMEM;
    }
    return (int)cc->n_sections++;
}

int sb_callcenter_add_item(sb_callcenter_t *cc, size_t section_index, const char *name,
                           const char *label, uint32_t sort_order, const char *value)
{
    sb_cc_section_t *section = &cc->sections[section_index];
    if (section->n_items >= SB_CC_MAX_ITEMS)
        return SB_E_INVALID_VALUE;
    sb_cc_item_t *grown = realloc(section->items, (section->n_items + 1) * sizeof(*grown));
    if (grown == NULL)
        return -ENOMEM;
    section->items = grown;
    sb_cc_item_t *item = &section->items[section->n_items];
    item->name = strdup(name);
    item->label = strdup(label ? label : "");
    item->value = strdup(value ? value : "");
    item->sort_order = sort_order;
    if (item->name == NULL || item->label == NULL || item->value == NULL) {
        free(item->name);
        free(item->label);
        free(item->value);
        return -ENOMEM;
    }
    section->n_items++;
    return 0;
}

int sb_callcenter_set_adapter(sb_callcenter_t *cc, const char *adapter)
{
    char *copy = strdup(adapter ? adapter : "");
    if (copy == NULL)
        return -ENOMEM;
    free(cc->adapter);
    cc->adapter = copy;
    return 0;
}

int sb_callcenter_set_custom_settings(sb_callcenter_t *cc, const char *text)
{
    char *copy = NULL;
    if (text != NULL && (copy = strdup(text)) == NULL)
        return -ENOMEM;
    free(cc->custom_settings);
    cc->custom_settings = copy;
    return 0;
}

const char *sb_cc_form_name(sb_cc_form_t form)
{
    return form == SB_CC_FORM_METADATA ? "metadata" : "import";
}

int sb_cc_form_parse(const char *name, sb_cc_form_t *form)
{
    if (name != NULL && strcmp(name, "import") == 0)
        *form = SB_CC_FORM_IMPORT;
    else if (name != NULL && strcmp(name, "metadata") == 0)
        *form = SB_CC_FORM_METADATA;
    else
        return -EINVAL;
    return 0;
}

int sb_callcenter_copy(const sb_callcenter_t *cc, sb_callcenter_t **out)
{
    *out = NULL;
    sb_callcenter_t *copy = sb_callcenter_new();
    if (copy == NULL || sb_callcenter_set_adapter(copy, cc->adapter) != 0)
        goto fail;
    if (sb_callcenter_set_custom_settings(copy, cc->custom_settings) != 0)
        goto fail;
    copy->form = cc->form;
    copy->id = cc->id;
    copy->created_ms = cc->created_ms;
    copy->updated_ms = cc->updated_ms;
    for (size_t s = 0; s < cc->n_sections; s++) {
        const sb_cc_section_t *section = &cc->sections[s];
        int index =
            sb_callcenter_add_section(copy, section->name, section->label, section->sort_order);
        if (index < 0)
            goto fail;
        for (size_t i = 0; i < section->n_items; i++) {
            const sb_cc_item_t *item = &section->items[i];
            if (sb_callcenter_add_item(copy, (size_t)index, item->name, item->label,
                                       item->sort_order, item->value) != 0)
                goto fail;
        }
    }
    *out = copy;
    return 0;
fail:
    sb_callcenter_free(copy);
    return -ENOMEM;
}

/* The k-th of n things by sort order (stable: document order breaks ties). */
static size_t kth_by_sort(const uint32_t *orders, size_t n, size_t k)
{
    for (size_t i = 0; i < n; i++) {
        size_t before = 0;
        for (size_t j = 0; j < n; j++)
            before += orders[j] < orders[i] || (orders[j] == orders[i] && j < i);
        if (before == k)
            return i;
    }
    return 0;
}

static bool same_item(const sb_cc_item_t *a, const sb_cc_item_t *b)
{
    return a->sort_order == b->sort_order && strcmp(a->name, b->name) == 0 &&
           strcmp(a->label, b->label) == 0 && strcmp(a->value, b->value) == 0;
}

bool sb_callcenter_same_definition(const sb_callcenter_t *a, const sb_callcenter_t *b)
{
    if (a->n_sections != b->n_sections)
        return false;
    uint32_t sa[SB_CC_MAX_SECTIONS], sb[SB_CC_MAX_SECTIONS];
    for (size_t s = 0; s < a->n_sections; s++) {
        sa[s] = a->sections[s].sort_order;
        sb[s] = b->sections[s].sort_order;
    }
    for (size_t k = 0; k < a->n_sections; k++) {
        const sb_cc_section_t *x = &a->sections[kth_by_sort(sa, a->n_sections, k)];
        const sb_cc_section_t *y = &b->sections[kth_by_sort(sb, b->n_sections, k)];
        if (x->sort_order != y->sort_order || strcmp(x->name, y->name) != 0 ||
            strcmp(x->label, y->label) != 0 || x->n_items != y->n_items)
            return false;
        uint32_t ia[SB_CC_MAX_ITEMS], ib[SB_CC_MAX_ITEMS];
        for (size_t i = 0; i < x->n_items; i++) {
            ia[i] = x->items[i].sort_order;
            ib[i] = y->items[i].sort_order;
        }
        for (size_t i = 0; i < x->n_items; i++)
            if (!same_item(&x->items[kth_by_sort(ia, x->n_items, i)],
                           &y->items[kth_by_sort(ib, y->n_items, i)]))
                return false;
    }
    return true;
}

static const sb_cc_section_t *find_section(const sb_callcenter_t *cc, const char *name)
{
    for (size_t s = 0; s < cc->n_sections; s++)
        if (strcmp(cc->sections[s].name, name) == 0)
            return &cc->sections[s];
    return NULL;
}

const sb_cc_item_t *sb_callcenter_find(const sb_callcenter_t *cc, const char *section_name,
                                       const char *item_name)
{
    for (size_t s = 0; s < cc->n_sections; s++) {
        const sb_cc_section_t *section = &cc->sections[s];
        if (section_name != NULL && strcmp(section->name, section_name) != 0)
            continue;
        for (size_t i = 0; i < section->n_items; i++)
            if (strcmp(section->items[i].name, item_name) == 0)
                return &section->items[i];
    }
    return NULL;
}

const char *sb_callcenter_value(const sb_callcenter_t *cc, const char *section, const char *item)
{
    const sb_cc_item_t *found = sb_callcenter_find(cc, section, item);
    return found ? found->value : NULL;
}

const char *sb_callcenter_internal_name(const sb_callcenter_t *cc)
{
    const char *name = sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_INTERNAL_NAME);
    return name ? name : "";
}

const char *sb_callcenter_display_name(const sb_callcenter_t *cc)
{
    const char *name = sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_DISPLAY_NAME);
    return name ? name : "";
}

sb_cc_kind_t sb_callcenter_kind(const sb_callcenter_t *cc)
{
    return sb_callcenter_find(cc, SB_CC_GENERAL, SB_CC_VENDOR_INFO) ? SB_CC_KIND_SERVICE_CLOUD_VOICE
                                                                    : SB_CC_KIND_OPEN_CTI;
}

const char *sb_cc_kind_name(sb_cc_kind_t kind)
{
    return kind == SB_CC_KIND_SERVICE_CLOUD_VOICE ? "service_cloud_voice" : "open_cti";
}

static const char *const compat_mode_names[] = {
    [SB_CC_COMPAT_CLASSIC] = "Classic",
    [SB_CC_COMPAT_LIGHTNING] = "Lightning",
    [SB_CC_COMPAT_CLASSIC_AND_LIGHTNING] = "Classic_and_Lightning",
};

static int parse_compat_mode(const char *value, sb_cc_compat_mode_t *mode)
{
    for (size_t i = 0; i < sizeof(compat_mode_names) / sizeof(compat_mode_names[0]); i++) {
        if (strcmp(value, compat_mode_names[i]) == 0) {
            *mode = (sb_cc_compat_mode_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

sb_cc_compat_mode_t sb_callcenter_compat_mode(const sb_callcenter_t *cc)
{
    sb_cc_compat_mode_t mode = SB_CC_COMPAT_CLASSIC;
    const char *value = sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_COMPAT_MODE);
    if (value == NULL || parse_compat_mode(value, &mode) != 0)
        return SB_CC_COMPAT_CLASSIC;
    return mode;
}

const char *sb_cc_compat_mode_name(sb_cc_compat_mode_t mode)
{
    return compat_mode_names[mode];
}

/* A strict decimal: digits only, no sign, no spaces, at most 10 digits. */
static int parse_decimal(const char *s, uint64_t *out)
{
    size_t len = strlen(s);
    if (len == 0 || len > 10)
        return -EINVAL;
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -EINVAL;
        n = n * 10 + (uint64_t)(s[i] - '0');
    }
    *out = n;
    return 0;
}

static bool is_set(const char *value)
{
    return value != NULL && value[0] != '\0';
}

static int check_internal_name(const char *name, sb_err_t *err)
{
    if (name == NULL)
        return sb_err_set(err, SB_E_MISSING_FIELD,
                          "The field /" SB_CC_GENERAL "/" SB_CC_INTERNAL_NAME
                          " (the internal name) is required.");
    size_t len = strlen(name);
    if (len == 0 || len > SB_CC_INTERNAL_NAME_MAX || !isalpha((unsigned char)name[0]))
        goto bad;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]))
            goto bad;
    return 0;
bad:
    return sb_err_set(err, SB_E_INVALID_INTERNAL_NAME,
                      "The internal name '%.60s' is not valid: it must be 1 to 40 letters and "
                      "digits (no spaces or underscores) and start with a letter.",
                      name);
}

static int check_display_name(const char *name, sb_err_t *err)
{
    if (name == NULL)
        return sb_err_set(err, SB_E_MISSING_FIELD,
                          "The field /" SB_CC_GENERAL "/" SB_CC_DISPLAY_NAME
                          " (the display name) is required.");
    size_t chars = 0;
    if (!sb_utf8_count(name, &chars))
        return sb_err_set(err, SB_E_INVALID_DISPLAY_NAME,
                          "The display name is not valid UTF-8; save the file as UTF-8.");
    if (chars == 0 || chars > SB_CC_DISPLAY_NAME_MAX)
        return sb_err_set(err, SB_E_INVALID_DISPLAY_NAME,
                          "The display name has %zu characters; it must have 1 to %d.", chars,
                          SB_CC_DISPLAY_NAME_MAX);
    return 0;
}

static int check_range(const sb_callcenter_t *cc, const char *item, uint64_t min, uint64_t max,
                       sb_err_t *err)
{
    const char *value = sb_callcenter_value(cc, SB_CC_GENERAL, item);
    if (!is_set(value))
        return 0;
    uint64_t n = 0;
    if (parse_decimal(value, &n) != 0)
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "The field /" SB_CC_GENERAL "/%s is '%.40s'; it must be a whole number "
                          "from %llu to %llu.",
                          item, value, (unsigned long long)min, (unsigned long long)max);
    if (n < min || n > max)
        return sb_err_set(err, SB_E_OUT_OF_RANGE,
                          "The field /" SB_CC_GENERAL "/%s is %llu; it must be from %llu to %llu.",
                          item, (unsigned long long)n, (unsigned long long)min,
                          (unsigned long long)max);
    return 0;
}

/* Dialing prefixes are what a phone dials: digits, '+', '*', '#'. */
static int check_prefix(const sb_cc_section_t *section, const sb_cc_item_t *item, sb_err_t *err)
{
    size_t len = strlen(item->value);
    bool ok = len <= 20;
    for (size_t i = 0; ok && i < len; i++) {
        char c = item->value[i];
        ok = isdigit((unsigned char)c) || c == '+' || c == '*' || c == '#';
    }
    if (!ok)
        return sb_err_set(err, SB_E_INVALID_VALUE,
                          "The dialing prefix /%s/%s is '%.40s'; it may hold up to 20 digits, '+', "
                          "'*' and '#'.",
                          section->name, item->name, item->value);
    return 0;
}

static bool is_prefix_item(const char *name)
{
    return strcmp(name, SB_CC_OUTSIDE_PREFIX) == 0 || strcmp(name, SB_CC_LONG_DIST_PREFIX) == 0 ||
           strcmp(name, SB_CC_INTL_PREFIX) == 0;
}

/* Names, labels and values within their byte limits; section names unique. */
static int check_structure(const sb_callcenter_t *cc, sb_err_t *err)
{
    if (strlen(cc->adapter) > SB_CC_ADAPTER_NAME_MAX)
        return sb_err_set(err, SB_E_INVALID_VALUE, "The adapter name is longer than %d bytes.",
                          SB_CC_ADAPTER_NAME_MAX);
    for (size_t s = 0; s < cc->n_sections; s++) {
        const sb_cc_section_t *section = &cc->sections[s];
        size_t name_len = strlen(section->name);
        if (name_len == 0 || name_len > SB_CC_MAX_NAME_BYTES)
            return sb_err_set(err, SB_E_INVALID_VALUE,
                              "Section %zu has a name of %zu bytes; names have 1 to %d.", s + 1,
                              name_len, SB_CC_MAX_NAME_BYTES);
        if (strlen(section->label) > SB_CC_MAX_LABEL_BYTES)
            return sb_err_set(err, SB_E_INVALID_VALUE,
                              "The label of section %s is longer than %d bytes.", section->name,
                              SB_CC_MAX_LABEL_BYTES);
        for (size_t t = 0; t < s; t++)
            if (strcmp(cc->sections[t].name, section->name) == 0)
                return sb_err_set(err, SB_E_INVALID_VALUE,
                                  "The section name %s appears twice; section names are unique.",
                                  section->name);
        for (size_t i = 0; i < section->n_items; i++) {
            const sb_cc_item_t *item = &section->items[i];
            size_t item_len = strlen(item->name);
            if (item_len == 0 || item_len > SB_CC_MAX_NAME_BYTES)
                return sb_err_set(err, SB_E_INVALID_VALUE,
                                  "Item %zu of section %s has a name of %zu bytes; names have 1 "
                                  "to %d.",
                                  i + 1, section->name, item_len, SB_CC_MAX_NAME_BYTES);
            if (strlen(item->label) > SB_CC_MAX_LABEL_BYTES)
                return sb_err_set(err, SB_E_INVALID_VALUE,
                                  "The label of /%s/%s is longer than %d bytes.", section->name,
                                  item->name, SB_CC_MAX_LABEL_BYTES);
            if (strlen(item->value) > SB_CC_MAX_VALUE_BYTES)
                return sb_err_set(err, SB_E_INVALID_VALUE,
                                  "The value of /%s/%s is longer than %d bytes.", section->name,
                                  item->name, SB_CC_MAX_VALUE_BYTES);
        }
    }
    return 0;
}

/* Returns rc, naming /section/item as the field at fault when rc fails. */
static int at(int rc, sb_err_t *err, const char *section, const char *item)
{
    if (rc != 0)
        sb_err_field(err, section, item);
    return rc;
}

int sb_callcenter_validate(const sb_callcenter_t *cc, sb_err_t *err)
{
    int rc = check_structure(cc, err);
    if (rc != 0)
        return rc;
    if (find_section(cc, SB_CC_GENERAL) == NULL)
        return sb_err_set(err, SB_E_MISSING_FIELD,
                          "The section " SB_CC_GENERAL " (General Information) is required.");
    rc = check_internal_name(sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_INTERNAL_NAME), err);
    if (rc != 0)
        return at(rc, err, SB_CC_GENERAL, SB_CC_INTERNAL_NAME);
    rc = check_display_name(sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_DISPLAY_NAME), err);
    if (rc != 0)
        return at(rc, err, SB_CC_GENERAL, SB_CC_DISPLAY_NAME);

    /* An Open CTI Call Center without an adapter URL is kept (legacy desktop
     * adapters have none); the softphone check says what that means. */
    if (sb_callcenter_kind(cc) == SB_CC_KIND_SERVICE_CLOUD_VOICE) {
        if (!is_set(sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_VENDOR_INFO)))
            return at(sb_err_set(err, SB_E_MISSING_FIELD,
                                 "The field /" SB_CC_GENERAL "/" SB_CC_VENDOR_INFO
                                 " of a Service Cloud Voice Call Center must name the vendor "
                                 "info."),
                      err, SB_CC_GENERAL, SB_CC_VENDOR_INFO);
        if (find_section(cc, SB_CC_HVCC) == NULL)
            return sb_err_set(err, SB_E_MISSING_FIELD,
                              "A Service Cloud Voice Call Center needs the section " SB_CC_HVCC
                              " (SCV Settings).");
    }

    const char *use_api = sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_USE_API);
    if (is_set(use_api) && strcasecmp(use_api, "true") != 0 && strcasecmp(use_api, "false") != 0)
        return at(sb_err_set(err, SB_E_INVALID_VALUE,
                             "The field /" SB_CC_GENERAL "/" SB_CC_USE_API
                             " is '%.40s'; it must be true or false.",
                             use_api),
                  err, SB_CC_GENERAL, SB_CC_USE_API);
    if ((rc = check_range(cc, SB_CC_HEIGHT, SB_CC_HEIGHT_MIN, SB_CC_HEIGHT_MAX, err)) != 0)
        return at(rc, err, SB_CC_GENERAL, SB_CC_HEIGHT);
    if ((rc = check_range(cc, SB_CC_WIDTH, SB_CC_WIDTH_MIN, SB_CC_WIDTH_MAX, err)) != 0)
        return at(rc, err, SB_CC_GENERAL, SB_CC_WIDTH);

    const char *mode = sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_COMPAT_MODE);
    sb_cc_compat_mode_t parsed;
    if (is_set(mode) && parse_compat_mode(mode, &parsed) != 0)
        return at(sb_err_set(err, SB_E_INVALID_COMPATIBILITY_MODE,
                             "The compatibility mode '%.40s' is not one of Classic, Lightning, "
                             "Classic_and_Lightning.",
                             mode),
                  err, SB_CC_GENERAL, SB_CC_COMPAT_MODE);

    bool standby = is_set(sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_STANDBY_URL));
    const char *timeout = sb_callcenter_value(cc, SB_CC_GENERAL, SB_CC_TIMEOUT);
    if (standby != is_set(timeout))
        return at(sb_err_set(err, SB_E_STANDBY_WITHOUT_TIMEOUT,
                             standby ? "A standby URL is set without a timeout; set "
                                       "/" SB_CC_GENERAL "/" SB_CC_TIMEOUT " too, or clear both."
                                     : "A timeout is set without a standby URL; set "
                                       "/" SB_CC_GENERAL "/" SB_CC_STANDBY_URL
                                       " too, or clear both."),
                  err, SB_CC_GENERAL, standby ? SB_CC_STANDBY_URL : SB_CC_TIMEOUT);
    uint64_t timeout_ms = 0;
    if (is_set(timeout) &&
        (parse_decimal(timeout, &timeout_ms) != 0 || timeout_ms == 0 || timeout_ms > INT32_MAX))
        return at(sb_err_set(err, SB_E_INVALID_VALUE,
                             "The timeout '%.40s' must be a whole number of milliseconds from 1 "
                             "to %d.",
                             timeout, INT32_MAX),
                  err, SB_CC_GENERAL, SB_CC_TIMEOUT);

    for (size_t s = 0; s < cc->n_sections; s++) {
        const sb_cc_section_t *section = &cc->sections[s];
        for (size_t i = 0; i < section->n_items; i++)
            if (is_prefix_item(section->items[i].name) &&
                (rc = check_prefix(section, &section->items[i], err)) != 0)
                return at(rc, err, section->name, section->items[i].name);
    }
    return 0;
}

static sb_cc_item_t *find_unique_item(sb_callcenter_t *cc, const char *section_name,
                                      const char *item_name, int *matches)
{
    sb_cc_item_t *found = NULL;
    *matches = 0;
    for (size_t s = 0; s < cc->n_sections; s++) {
        sb_cc_section_t *section = &cc->sections[s];
        if (strcmp(section->name, section_name) != 0)
            continue;
        for (size_t i = 0; i < section->n_items; i++) {
            if (strcmp(section->items[i].name, item_name) == 0) {
                if (found == NULL)
                    found = &section->items[i];
                (*matches)++;
            }
        }
    }
    return found;
}

int sb_callcenter_apply(sb_callcenter_t *cc, const sb_cc_change_t *changes, size_t n_changes,
                        sb_err_t *err)
{
    for (size_t c = 0; c < n_changes; c++) {
        const sb_cc_change_t *change = &changes[c];
        if (change->section == NULL || change->item == NULL || change->value == NULL)
            return sb_err_set(err, -EINVAL, "Change %zu lacks a section, an item or a value.",
                              c + 1);
        int matches = 0;
        sb_cc_item_t *item = find_unique_item(cc, change->section, change->item, &matches);
        if (item == NULL)
            return sb_err_set(err, SB_E_FIELD_NOT_IN_SET,
                              "This Call Center has no field /%.255s/%.255s, and fields cannot be "
                              "added after creation; create a new Call Center with it.",
                              change->section, change->item);
        if (matches > 1)
            return sb_err_set(err, -EINVAL,
                              "The field /%.255s/%.255s appears %d times in this Call Center; "
                              "change it by re-importing the definition.",
                              change->section, change->item, matches);
        if (strcmp(change->section, SB_CC_GENERAL) == 0 &&
            strcmp(change->item, SB_CC_INTERNAL_NAME) == 0 &&
            strcmp(change->value, item->value) != 0)
            return sb_err_set(err, SB_E_INTERNAL_NAME_IMMUTABLE,
                              "The internal name '%s' cannot change; clone the Call Center under "
                              "the new name instead.",
                              item->value);
        char *value = strdup(change->value);
        if (value == NULL)
            return sb_err_default(err, -ENOMEM);
        free(item->value);
        item->value = value;
    }
    return sb_callcenter_validate(cc, err);
}

/* One standard item: appended only when it has a value. */
struct field_row {
    const char *name;
    const char *label;
    const char *value;
};

static int add_rows(sb_callcenter_t *cc, const char *section, const char *label,
                    const struct field_row *rows, size_t n_rows, bool always)
{
    size_t present = 0;
    for (size_t i = 0; i < n_rows; i++)
        present += rows[i].value != NULL;
    if (present == 0 && !always)
        return 0;
    int index = sb_callcenter_add_section(cc, section, label, (uint32_t)cc->n_sections);
    if (index < 0)
        return index;
    uint32_t order = 0;
    for (size_t i = 0; i < n_rows; i++) {
        if (rows[i].value == NULL)
            continue;
        int rc = sb_callcenter_add_item(cc, (size_t)index, rows[i].name, rows[i].label, order++,
                                        rows[i].value);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int sb_callcenter_from_fields(const sb_cc_fields_t *f, sb_callcenter_t **out, sb_err_t *err)
{
    *out = NULL;
    char height[16], width[16], timeout[16];
    snprintf(height, sizeof(height), "%u", f->softphone_height);
    snprintf(width, sizeof(width), "%u", f->softphone_width);
    snprintf(timeout, sizeof(timeout), "%u", f->timeout_ms);
    bool scv = f->vendor_info_api_name != NULL;
    if (!scv && (f->adapter_url == NULL || f->adapter_url[0] == '\0'))
        return sb_err_set(err, SB_E_MISSING_FIELD,
                          "An Open CTI Call Center needs its CTI adapter URL (adapter_url); a "
                          "Service Cloud Voice one names its vendor info instead.");

    const struct field_row general[] = {
        {SB_CC_INTERNAL_NAME, "InternalName", f->internal_name ? f->internal_name : ""},
        {SB_CC_DISPLAY_NAME, "Display Name", f->display_name ? f->display_name : ""},
        {SB_CC_VENDOR_INFO, "Conversation Vendor Info Developer Name", f->vendor_info_api_name},
        {SB_CC_ADAPTER_URL, "CTI Adapter URL", f->adapter_url},
        {SB_CC_USE_API, "Use CTI API", f->use_api},
        {SB_CC_HEIGHT, "Softphone Height", f->softphone_height ? height : NULL},
        {SB_CC_WIDTH, "Softphone Width", f->softphone_width ? width : NULL},
        {SB_CC_COMPAT_MODE, "Salesforce Compatibility Mode", f->compatibility_mode},
        {SB_CC_STANDBY_URL, "Standby URL", f->standby_url},
        {SB_CC_TIMEOUT, "Timeout", f->timeout_ms ? timeout : NULL},
    };
    const struct field_row dialing[] = {
        {SB_CC_OUTSIDE_PREFIX, "Outside Prefix", f->outside_prefix},
        {SB_CC_LONG_DIST_PREFIX, "Long Distance Prefix", f->long_distance_prefix},
        {SB_CC_INTL_PREFIX, "International Prefix", f->international_prefix},
    };

    sb_callcenter_t *cc = sb_callcenter_new();
    int rc = cc ? 0 : -ENOMEM;
    if (rc == 0)
        rc = sb_callcenter_set_adapter(cc, f->adapter);
    if (rc == 0)
        rc = add_rows(cc, SB_CC_GENERAL, "General Information", general,
                      sizeof(general) / sizeof(general[0]), true);
    /* Service Cloud Voice keeps its dialing settings in its own section. */
    if (rc == 0)
        rc = scv ? add_rows(cc, SB_CC_HVCC, "SCV Settings", dialing,
                            sizeof(dialing) / sizeof(dialing[0]), true)
                 : add_rows(cc, SB_CC_DIALING, "Dialing Options", dialing,
                            sizeof(dialing) / sizeof(dialing[0]), false);
    if (rc != 0) {
        sb_callcenter_free(cc);
        return sb_err_default(err, rc);
    }
    rc = sb_callcenter_validate(cc, err);
    if (rc != 0) {
        sb_callcenter_free(cc);
        return rc;
    }
    *out = cc;
    return 0;
}
