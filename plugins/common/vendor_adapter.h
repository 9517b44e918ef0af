/*
 * A table-driven adapter, for vendors whose Call Centers are an Open CTI
 * page on the vendor's domains plus a settings section: one `sbu_vendor`
 * table says what the settings are, which domains the page lives on, which
 * further rules apply, and how the vendor's call events read; the entry
 * points below do the rest. SBU_VENDOR_ADAPTER defines the plugin.
 */
#ifndef SB_VENDOR_ADAPTER_H
#define SB_VENDOR_ADAPTER_H

#include "adapter_util.h"

typedef enum sbu_rule_kind {
    SBU_HOST,   /* a host name: lower-case letters, digits, '.', '-' */
    SBU_DIGITS, /* one or more digits */
    SBU_BOOL,   /* true or false */
    SBU_ONE_OF, /* one of `choices`, separated by '|' */
    SBU_TOKEN,  /* letters, digits, '-' and '_' */
} sbu_rule_kind;

typedef struct sbu_rule {
    const char *section, *name;
    sbu_rule_kind kind;
    const char *choices; /* SBU_ONE_OF */
    bool required;       /* absent or empty is a problem */
    const char *message;
} sbu_rule;

typedef struct sbu_vendor {
    const char *name;                   /* the adapter's name, for log lines */
    const sb_adapter_setting *settings; /* what describe returns */
    size_t n_settings;
    const char *section;        /* the vendor's own section: a file with it is claimed (95) */
    const char *const *domains; /* the page is https on one of these (claimed: 90) */
    const sbu_rule *rules;      /* further rules, ended by a NULL section */
    /* Events: JSON with dotted paths ("callData.callId"). */
    const char *event_type, *event_id, *event_from, *event_to, *event_direction;
    const char *outbound;      /* the direction value of an outbound call */
    const sbu_pair *event_map; /* vendor event type -> action, NULL-ended */
} sbu_vendor;

size_t sbu_vendor_describe_n(void *state, const sb_adapter_setting **out);
int sbu_vendor_claim(void *state, const sb_adapter_callcenter *cc);
int sbu_vendor_validate(void *state, const sb_adapter_callcenter *cc, const sb_adapter_sink *sink);
int sbu_vendor_render(void *state, const sb_adapter_callcenter *cc, const char *user,
                      const sb_adapter_sink *sink);
int sbu_vendor_call_event(void *state, const sb_adapter_callcenter *cc, const char *event,
                          const sb_adapter_sink *sink);
void sbu_vendor_fini(void *state);

/* Defines the plugin for the table `table` (an sbu_vendor). */
#define SBU_VENDOR_ADAPTER(adapter_name, vendor_name, version, description, table)                 \
    static int adapter_name##_init(const sb_host *host, void **state)                              \
    {                                                                                              \
        (void)host;                                                                                \
        *state = (void *)&(table);                                                                 \
        return SB_ADAPTER_OK;                                                                      \
    }                                                                                              \
    SB_ADAPTER_DEFINE(adapter_name, vendor_name, version, description,                             \
                      .init = adapter_name##_init, .fini = sbu_vendor_fini,                        \
                      .describe = sbu_vendor_describe_n, .claim = sbu_vendor_claim,                \
                      .validate = sbu_vendor_validate, .render = sbu_vendor_render,                \
                      .call_event = sbu_vendor_call_event)

#endif
