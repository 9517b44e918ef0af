#include "request_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "metrics.h"

/* Arguments that name what a request touched: ids only, never a token (the
 * "token" argument of token.authenticate is its secret) nor settings. */
static const char *const target_args[] = {"id", "user", "callcenter", "layout", "adapter"};
#define N_TARGETS (sizeof(target_args) / sizeof(target_args[0]))

/* Refusals an operator may need to act on: access, limits, the store, an
 * adapter. The rest (a missing record, a malformed argument) are the
 * client's to read in its reply, and go to debug. */
static sb_log_level_t refusal_level(int rc)
{
    switch (rc) {
    case -ENOSPC:
    case -ENOMEM:
    case -EIO:
    case SB_E_CORRUPT:
    case SB_E_DISK_FULL:
        return SB_LOG_WARN;
    case -EACCES:
    case -EAGAIN:
    case SB_E_SCHEMA_TOO_NEW:
    case SB_E_ADAPTER_UNAVAILABLE:
    case SB_E_REPLY_TOO_LARGE:
    case SB_E_CONNECTION_LIMIT:
    case -EMSGSIZE:
        return SB_LOG_INFO;
    default:
        /* An unknown code is the server's own fault. */
        return strcmp(sb_err_name(rc), "INTERNAL") == 0 ? SB_LOG_WARN : SB_LOG_DEBUG;
    }
}

/* `v` in decimal into out[size], without printf's parsing (a line per write
 * formats several numbers). Returns the length, or 0 when it does not fit. */
static size_t put_u64(char *out, size_t size, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (n + 1 > size)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    out[n] = '\0';
    return n;
}

/* Nanoseconds as milliseconds with three decimals ("3.120"). */
static void put_ms(char *out, size_t size, uint64_t ns)
{
    uint64_t us = ns / 1000;
    size_t n = put_u64(out, size, us / 1000);
    if (n == 0 || n + 5 > size)
        return;
    out[n] = '.';
    out[n + 1] = (char)('0' + us % 1000 / 100);
    out[n + 2] = (char)('0' + us % 100 / 10);
    out[n + 3] = (char)('0' + us % 10);
    out[n + 4] = '\0';
}

void sb_request_report(const sb_request_report_t *r)
{
    /* A request refused before its method was looked up for it (its access
     * or its arguments) still counts under the method it named. */
    const sb_method_t *method = r->method;
    if (method == NULL && r->method_name != NULL)
        method = sb_method_find(r->method_name);
    sb_metrics_request(method, r->rc, r->total_ns, r->loop_ns);
    if (r->quiet)
        return;
    /* Most requests leave no line at the default level: they cost the
     * counters above and this test, not the formatting below. */
    bool write = r->rc == 0 && method != NULL && method->writes;
    sb_log_level_t level = write ? SB_LOG_INFO : r->rc != 0 ? refusal_level(r->rc) : SB_LOG_DEBUG;
    bool slow = r->slow_ms > 0 && r->loop_ns >= (uint64_t)r->slow_ms * 1000000;
    if (level < sb_log_get_level() && !slow)
        return;
    const char *name = r->method_name != NULL ? r->method_name : "-";
    sb_call_t *call = r->call;
    char conn[24], seq[24], ms[32];
    put_u64(conn, sizeof(conn), r->conn_id);
    put_u64(seq, sizeof(seq), r->seq);
    put_ms(ms, sizeof(ms), r->total_ns);
    /* The org the request is about: its "org" argument (org.create takes one
     * without being scoped by it), else its token's. */
    const char *org = call->org ? call->org : sb_arg_str(call, "org");
    if (org == NULL && call->token.org[0] != '\0')
        org = call->token.org;
    sb_log_field_t fields[6 + N_TARGETS] = {
        {"conn", conn},
        {"token", call->token.id[0] ? call->token.id : NULL},
        {"org", org},
        {"method", name},
    };
    size_t n = 4;
    if (level < sb_log_get_level()) {
        /* only the slow line below */
    } else if (write) {
        for (size_t i = 0; i < N_TARGETS; i++)
            fields[n++] = (sb_log_field_t){target_args[i], sb_arg_str(call, target_args[i])};
        fields[n++] = (sb_log_field_t){"seq", r->seq ? seq : NULL};
        fields[n++] = (sb_log_field_t){"ms", ms};
        sb_log_fields(SB_LOG_INFO, fields, n, "write: %s", name);
    } else if (r->rc != 0) {
        fields[n++] = (sb_log_field_t){"error", sb_err_name(r->rc)};
        sb_log_fields(level, fields, n, "refused: %s -> %s", name, sb_err_name(r->rc));
    } else {
        sb_log_fields(SB_LOG_DEBUG, fields, n, "%s -> OK", name);
    }
    if (slow) {
        char loop_ms[32];
        put_ms(loop_ms, sizeof(loop_ms), r->loop_ns);
        sb_log_field_t slow_fields[] = {
            {"conn", conn}, {"org", org}, {"method", name}, {"loop_ms", loop_ms}, {"ms", ms}};
        sb_log_fields(SB_LOG_WARN, slow_fields, sizeof(slow_fields) / sizeof(slow_fields[0]),
                      "slow request: %s ran %s ms on the event loop (--slow-request-ms %zu)", name,
                      loop_ms, r->slow_ms);
    }
}
