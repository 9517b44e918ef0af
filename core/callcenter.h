#pragma once
/*
 * The Call Center record and its rules.
 *
 * A Call Center is kept the way its definition file describes it: ordered
 * sections of ordered items, each with a name, a label and a value. The
 * fields Switchboard understands (internal name, adapter URL, softphone size,
 * ...) are particular items of that definition, read through the accessors
 * below, so that nothing a partner wrote is lost and an export gives back what
 * was imported. The set of sections and items is fixed when the Call Center is
 * created; afterwards only values change.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sfid.h"

/* Limits on one definition; they bound memory, not real files (the largest
 * real file has 4 sections and 26 items). */
#define SB_CC_MAX_SECTIONS 64
#define SB_CC_MAX_ITEMS 256         /* per section */
#define SB_CC_MAX_NAME_BYTES 255    /* section and item names */
#define SB_CC_MAX_LABEL_BYTES 1000  /* labels */
#define SB_CC_MAX_VALUE_BYTES 4096  /* item values */
#define SB_CC_INTERNAL_NAME_MAX 40  /* characters */
#define SB_CC_DISPLAY_NAME_MAX 1000 /* characters (code points) */
#define SB_CC_ADAPTER_NAME_MAX 64   /* bytes */

#define SB_CC_HEIGHT_MIN 240
#define SB_CC_HEIGHT_MAX 2560
#define SB_CC_WIDTH_MIN 200
#define SB_CC_WIDTH_MAX 1920

/* The sections and items whose meaning Switchboard knows. */
#define SB_CC_GENERAL "reqGeneralInfo"
#define SB_CC_DIALING "reqDialingOptions"
#define SB_CC_HVCC "reqHvcc"
#define SB_CC_INTERNAL_NAME "reqInternalName"
#define SB_CC_DISPLAY_NAME "reqDisplayName"
#define SB_CC_ADAPTER_URL "reqAdapterUrl"
#define SB_CC_USE_API "reqUseApi"
#define SB_CC_HEIGHT "reqSoftphoneHeight"
#define SB_CC_WIDTH "reqSoftphoneWidth"
#define SB_CC_COMPAT_MODE "reqSalesforceCompatibilityMode"
#define SB_CC_STANDBY_URL "reqStandbyUrl"
#define SB_CC_TIMEOUT "reqTimeout"
#define SB_CC_VENDOR_INFO "reqVendorInfoApiName"
#define SB_CC_OUTSIDE_PREFIX "reqOutsidePrefix"
#define SB_CC_LONG_DIST_PREFIX "reqLongDistPrefix"
#define SB_CC_INTL_PREFIX "reqInternationalPrefix"

typedef enum sb_cc_kind {
    SB_CC_KIND_OPEN_CTI = 0,            /* an adapter URL loaded in the softphone */
    SB_CC_KIND_SERVICE_CLOUD_VOICE = 1, /* reqVendorInfoApiName and a reqHvcc section */
} sb_cc_kind_t;

typedef enum sb_cc_compat_mode {
    SB_CC_COMPAT_CLASSIC = 0, /* the default when the item is absent */
    SB_CC_COMPAT_LIGHTNING,
    SB_CC_COMPAT_CLASSIC_AND_LIGHTNING,
} sb_cc_compat_mode_t;

typedef struct sb_cc_item {
    char *name;  /* [owned: by the Call Center] */
    char *label; /* [owned: by the Call Center] */
    char *value; /* [owned: by the Call Center] "" when empty */
    uint32_t sort_order;
} sb_cc_item_t;

typedef struct sb_cc_section {
    char *name;  /* [owned: by the Call Center] */
    char *label; /* [owned: by the Call Center] */
    uint32_t sort_order;
    sb_cc_item_t *items; /* [owned: by the Call Center] in document order */
    size_t n_items;
} sb_cc_section_t;

/** The two forms of definition files (see docs/definitions.md). */
typedef enum sb_cc_form {
    SB_CC_FORM_IMPORT = 0,   /* <callCenter><section sortOrder name label><item ...>value */
    SB_CC_FORM_METADATA = 1, /* <CallCenter xmlns=".../metadata"><sections><items>... */
} sb_cc_form_t;

typedef struct sb_callcenter {
    sb_sfid_t id;              /* set by the store on create */
    char *adapter;             /* [owned] the adapter plugin's name; "" when none is named */
    int64_t created_ms;        /* set by the store */
    int64_t updated_ms;        /* set by the store */
    sb_cc_section_t *sections; /* [owned] in document order */
    size_t n_sections;
    sb_cc_form_t form;     /* the form it was imported in (or created: import) */
    char *custom_settings; /* [owned] a Metadata API file's customSettings, verbatim, or NULL */
} sb_callcenter_t;

/**
 * What `sb_callcenter_from_fields` builds a Call Center from: the fields an
 * operator types. NULL strings and zero numbers are left out of the field set.
 */
typedef struct sb_cc_fields {
    const char *internal_name;        /* required */
    const char *display_name;         /* required */
    const char *adapter;              /* adapter plugin name, or NULL */
    const char *adapter_url;          /* open_cti: required */
    const char *vendor_info_api_name; /* service_cloud_voice: required (selects that kind) */
    const char *use_api;              /* "true" / "false", or NULL */
    uint32_t softphone_height;        /* 0: absent */
    uint32_t softphone_width;         /* 0: absent */
    const char *compatibility_mode;   /* or NULL */
    const char *standby_url;          /* only with timeout */
    uint32_t timeout_ms;              /* 0: absent */
    const char *outside_prefix, *long_distance_prefix, *international_prefix; /* or NULL */
} sb_cc_fields_t;

/** One value change: the item `/section/item` gets `value`. [borrowed strings] */
typedef struct sb_cc_change {
    const char *section;
    const char *item;
    const char *value;
} sb_cc_change_t;

/** Allocates an empty Call Center. Returns NULL when out of memory. [owned: sb_callcenter_free()]
 */
sb_callcenter_t *sb_callcenter_new(void);

/** Frees `cc` and all it owns; NULL does nothing. */
void sb_callcenter_free(sb_callcenter_t *cc);

/** Deep copy. Returns 0 or -ENOMEM; on failure *out is NULL. */
int sb_callcenter_copy(const sb_callcenter_t *cc, sb_callcenter_t **out);

/**
 * Appends a section (copied strings). Returns its index, or -ENOMEM, or
 * SB_E_INVALID_VALUE past SB_CC_MAX_SECTIONS.
 */
int sb_callcenter_add_section(sb_callcenter_t *cc, const char *name, const char *label,
                              uint32_t sort_order);

/** Appends an item (copied strings) to section `section`. Returns 0, -ENOMEM or SB_E_INVALID_VALUE.
 */
int sb_callcenter_add_item(sb_callcenter_t *cc, size_t section, const char *name, const char *label,
                           uint32_t sort_order, const char *value);

/** Sets the Metadata API customSettings text (copied; NULL: none). Returns 0 or -ENOMEM. */
int sb_callcenter_set_custom_settings(sb_callcenter_t *cc, const char *text);

/** "import" or "metadata". */
const char *sb_cc_form_name(sb_cc_form_t form);
/** Parses a form name. Returns 0 or -EINVAL. */
int sb_cc_form_parse(const char *name, sb_cc_form_t *form);

/** Sets the adapter name (copied; NULL means none). Returns 0 or -ENOMEM. */
int sb_callcenter_set_adapter(sb_callcenter_t *cc, const char *adapter);

/**
 * Builds a Call Center from typed fields, with Salesforce's standard sections
 * and labels, and validates it. Returns 0 or the validation error; on failure
 * *out is NULL.
 */
int sb_callcenter_from_fields(const sb_cc_fields_t *fields, sb_callcenter_t **out, sb_err_t *err);

/**
 * The item `/section/item`, or NULL. When `section` is NULL, the first item of
 * that name in any section. [borrowed: valid while cc is unchanged]
 */
const sb_cc_item_t *sb_callcenter_find(const sb_callcenter_t *cc, const char *section,
                                       const char *item);

/** The value of item `item` in section `section` (may be NULL: any), or NULL when absent. */
const char *sb_callcenter_value(const sb_callcenter_t *cc, const char *section, const char *item);

/** The internal name ("" when absent, which validation refuses). [borrowed] */
const char *sb_callcenter_internal_name(const sb_callcenter_t *cc);

/** The display name ("" when absent). [borrowed] */
const char *sb_callcenter_display_name(const sb_callcenter_t *cc);

/** The kind, derived from the definition: service_cloud_voice when it names a vendor info. */
sb_cc_kind_t sb_callcenter_kind(const sb_callcenter_t *cc);

/** "open_cti" or "service_cloud_voice". */
const char *sb_cc_kind_name(sb_cc_kind_t kind);

/** The compatibility mode (Classic when the item is absent or unknown). */
sb_cc_compat_mode_t sb_callcenter_compat_mode(const sb_callcenter_t *cc);

/** "Classic", "Lightning" or "Classic_and_Lightning". */
const char *sb_cc_compat_mode_name(sb_cc_compat_mode_t mode);

/**
 * Whether a and b define the same Call Center: the same sections and items,
 * taken in sort order, with the same names, labels, sort orders and values
 * (ids, times, the adapter and the form are not compared).
 */
bool sb_callcenter_same_definition(const sb_callcenter_t *a, const sb_callcenter_t *b);

/**
 * Checks every field rule: the internal name's form, the display name's
 * length, the required fields of the kind, the softphone size ranges, the
 * compatibility mode, standby URL and timeout together, the dialing prefixes,
 * unique section names, and the size limits above. Returns 0 or the first
 * broken rule's code, with a sentence naming the field in `err`.
 */
int sb_callcenter_validate(const sb_callcenter_t *cc, sb_err_t *err);

/**
 * Applies `changes` to `cc` in place: each must name an item of the existing
 * field set (SB_E_FIELD_NOT_IN_SET otherwise) and may not change the internal
 * name (SB_E_INTERNAL_NAME_IMMUTABLE). The result is validated. On failure cc
 * may be partly changed: callers apply changes to a copy.
 */
int sb_callcenter_apply(sb_callcenter_t *cc, const sb_cc_change_t *changes, size_t n_changes,
                        sb_err_t *err);
