#pragma once
/*
 * The doctor: what will break for an org's users before they hit it. Each
 * finding has a stable code, the record it is about, and a sentence that
 * says what will happen and how to fix it (docs/operating.md lists them).
 */

#include "plugin_host.h"
#include "store.h"

typedef struct sb_doctor_finding {
    char code[40];     /* USERS_WITHOUT_CALLCENTER, CALLCENTER_WITHOUT_MEMBERS, ... */
    char subject[300]; /* "Call Center 'Support'", "profile 'Agent'", "layout 'Quiet'" */
    char message[1024];
} sb_doctor_finding_t;

typedef struct sb_doctor_report {
    sb_doctor_finding_t *findings; /* [owned] */
    size_t n, cap;
} sb_doctor_report_t;

/** Examines `org`; `plugins` (may be NULL) answers for the adapters. */
int sb_doctor_run(sb_store_t *store, sb_plugin_host_t *plugins, const char *org,
                  sb_doctor_report_t *out, sb_err_t *err);
void sb_doctor_report_free(sb_doctor_report_t *report);
