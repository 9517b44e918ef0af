#pragma once
/*
 * What a finished request leaves for operators: its counters and latencies
 * (metrics.h), and its log line. At info: every successful write (who, the
 * org, the method, the ids it touched, its change-log sequence) and every
 * refusal worth an operator's eye (a permission, a limit, the store or an
 * adapter failing); other requests at debug. A request whose method ran
 * longer than --slow-request-ms on the loop is logged at warn. Never a
 * token's secret, nor an adapter's settings: only the ids of a whitelist of
 * arguments.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "methods.h"

typedef struct sb_request_report {
    uint64_t conn_id;
    const sb_method_t *method; /* NULL: an unknown method */
    const char *method_name;   /* as the client named it */
    sb_call_t *call;           /* its arguments (read) and token */
    int rc;                    /* 0 or the error code it was answered with */
    uint64_t seq;              /* a write's change-log sequence; 0: none */
    uint64_t total_ns;         /* from its read to its reply (a write: until durable) */
    uint64_t loop_ns;          /* its method's time on the event loop */
    size_t slow_ms;            /* --slow-request-ms; 0: never */
    bool quiet;                /* counted, not logged: it has a rate-limited line of its own */
} sb_request_report_t;

/** Counts and logs a finished request. Loop thread. */
void sb_request_report(const sb_request_report_t *report);
