#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "plugin_host.h"

/* Latency buckets, in seconds: from a cached read (tens of µs) to an
 * adapter's deadline (seconds). */
static const double bucket_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define N_BUCKETS (sizeof(bucket_s) / sizeof(bucket_s[0]))
/* Writes per group commit: powers of two up to the writer's batch limit. */
static const unsigned batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
#define N_BATCH (sizeof(batch_le) / sizeof(batch_le[0]))
/* Wire error codes are below 100 (core/error.h; 99 is INTERNAL). */
#define N_CODES 100

typedef struct histogram {
    atomic_uint_fast64_t buckets[N_BUCKETS + 1]; /* the last: over the largest bound */
    atomic_uint_fast64_t sum_ns;
} histogram_t;

typedef struct method_counts {
    const sb_method_t *method; /* NULL: the slot of unknown methods */
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t errors[N_CODES]; /* by wire code; [0] unused */
    histogram_t total, loop;
} method_counts_t;

static struct {
    method_counts_t *methods; /* sorted by method pointer; the last is the unknown slot */
    size_t n_methods;         /* known ones */
    _Atomic(const char *) code_names[N_CODES];
    atomic_uint_fast64_t conns_opened, conns_closed, refused[SB_METRICS_REFUSED_N];
    atomic_uint_fast64_t bytes_in, bytes_out;
    atomic_uint_fast64_t commits, commit_writes, batch[N_BATCH + 1];
    histogram_t commit_time;
    atomic_bool writer_alive, store_open, stopping;
    atomic_uint_fast64_t heartbeat_ms; /* CLOCK_MONOTONIC; 0: never */
    /* The other loops' (--loops): a loop stuck in one request stops serving
     * its connections while the first one turns on. */
    atomic_uint_fast64_t loop_beat_ms[SB_METRICS_LOOPS_MAX];
    atomic_uint n_loops;
    pthread_mutex_t sample_lock; /* guards sample: the loop swaps, the HTTP thread copies */
    char *sample;                /* gauges of the last sample, exposition text */
} m = {.sample_lock = PTHREAD_MUTEX_INITIALIZER};

static const char *const refusal_names[SB_METRICS_REFUSED_N] = {"open_files", "unauthenticated",
                                                                "slots", "org_slots"};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void count_method(const sb_method_t *method, void *ctx)
{
    (void)method;
    (*(size_t *)ctx)++;
}

static void add_method(const sb_method_t *method, void *ctx)
{
    size_t *i = ctx;
    m.methods[(*i)++].method = method;
}

static int by_pointer(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const method_counts_t *)a)->method;
    uintptr_t y = (uintptr_t)((const method_counts_t *)b)->method;
    return x < y ? -1 : x > y;
}

int sb_metrics_init(void)
{
    if (m.methods != NULL)
        return 0;
    size_t n = 0;
    sb_method_each(count_method, &n);
    m.methods = calloc(n + 1, sizeof(*m.methods));
    if (m.methods == NULL)
        return -ENOMEM;
    size_t i = 0;
    sb_method_each(add_method, &i);
    /* A request finds its slot by its method's address: one binary search. */
    qsort(m.methods, n, sizeof(*m.methods), by_pointer);
    m.n_methods = n;
    return 0;
}

static method_counts_t *slot_of(const sb_method_t *method)
{
    if (m.methods == NULL)
        return NULL;
    size_t lo = 0, hi = m.n_methods;
    while (method != NULL && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m.methods[mid].method == method)
            return &m.methods[mid];
        if ((uintptr_t)m.methods[mid].method < (uintptr_t)method)
            lo = mid + 1;
        else
            hi = mid;
    }
    return &m.methods[m.n_methods];
}

static void observe(histogram_t *h, uint64_t ns)
{
    size_t b = 0;
    while (b < N_BUCKETS && (double)ns > bucket_s[b] * 1e9)
        b++;
    atomic_fetch_add_explicit(&h->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void sb_metrics_request(const sb_method_t *method, int rc, uint64_t total_ns, uint64_t loop_ns)
{
    method_counts_t *s = slot_of(method);
    if (s == NULL)
        return;
    atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
    if (rc != 0) {
        int code = sb_err_wire_code(rc);
        if (code <= 0 || code >= N_CODES)
            code = N_CODES - 1;
        atomic_store_explicit(&m.code_names[code], sb_err_name(rc), memory_order_relaxed);
        atomic_fetch_add_explicit(&s->errors[code], 1, memory_order_relaxed);
    }
    observe(&s->total, total_ns);
    if (method != NULL && !method->writes)
        observe(&s->loop, loop_ns);
}

void sb_metrics_conn_opened(void)
{
    atomic_fetch_add_explicit(&m.conns_opened, 1, memory_order_relaxed);
}

void sb_metrics_conn_closed(void)
{
    atomic_fetch_add_explicit(&m.conns_closed, 1, memory_order_relaxed);
}

void sb_metrics_conn_refused(sb_metrics_refusal_t why)
{
    if (why < SB_METRICS_REFUSED_N)
        atomic_fetch_add_explicit(&m.refused[why], 1, memory_order_relaxed);
}

void sb_metrics_bytes_in(size_t n)
{
    atomic_fetch_add_explicit(&m.bytes_in, n, memory_order_relaxed);
}

void sb_metrics_bytes_out(size_t n)
{
    atomic_fetch_add_explicit(&m.bytes_out, n, memory_order_relaxed);
}

void sb_metrics_commit(size_t writes, uint64_t ns)
{
    size_t b = 0;
    while (b < N_BATCH && writes > batch_le[b])
        b++;
    atomic_fetch_add_explicit(&m.batch[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m.commits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m.commit_writes, writes, memory_order_relaxed);
    observe(&m.commit_time, ns);
}

void sb_metrics_writer_alive(bool alive)
{
    atomic_store(&m.writer_alive, alive);
}

void sb_metrics_store_open(bool open)
{
    atomic_store(&m.store_open, open);
}

void sb_metrics_stopping(bool stopping)
{
    atomic_store(&m.stopping, stopping);
}

static uint64_t age_of(uint64_t beat, uint64_t now)
{
    return beat == 0 ? UINT64_MAX : now > beat ? now - beat : 0;
}

void sb_metrics_loops(unsigned n)
{
    atomic_store(&m.n_loops, n < SB_METRICS_LOOPS_MAX ? n : SB_METRICS_LOOPS_MAX);
}

void sb_metrics_loop_beat(unsigned index)
{
    if (index > 0 && index < SB_METRICS_LOOPS_MAX)
        atomic_store(&m.loop_beat_ms[index], mono_ms());
}

uint64_t sb_metrics_heartbeat_age_ms(void)
{
    return sb_metrics_stalest_loop(NULL);
}

uint64_t sb_metrics_stalest_loop(unsigned *index)
{
    uint64_t now = mono_ms();
    uint64_t worst = age_of(atomic_load(&m.heartbeat_ms), now);
    unsigned which = 0;
    unsigned n = atomic_load(&m.n_loops);
    for (unsigned i = 1; i < n; i++) {
        uint64_t age = age_of(atomic_load(&m.loop_beat_ms[i]), now);
        if (age > worst) {
            worst = age;
            which = i;
        }
    }
    if (index != NULL)
        *index = which;
    return worst;
}

bool sb_metrics_ready(char *why, size_t why_size)
{
    const char *reason = NULL;
    char age_text[96];
    unsigned loop = 0;
    uint64_t age = sb_metrics_stalest_loop(&loop);
    if (atomic_load(&m.stopping))
        reason = "the server is stopping";
    else if (!atomic_load(&m.store_open))
        reason = "the store is not open";
    else if (!atomic_load(&m.writer_alive))
        reason = "the writer thread is not running";
    else if (age > SB_METRICS_HEARTBEAT_MAX_MS) {
        if (age == UINT64_MAX)
            snprintf(age_text, sizeof(age_text), "event loop %u has not turned yet", loop);
        else
            snprintf(age_text, sizeof(age_text), "event loop %u has not turned for %llu ms", loop,
                     (unsigned long long)age);
        reason = age_text;
    }
    if (why_size > 0)
        snprintf(why, why_size, "%s", reason ? reason : "ready");
    return reason == NULL;
}

/* ---- the exposition text ------------------------------------------------- */

typedef struct text {
    char *buf;
    size_t len, cap;
    int rc;
} text_t;

static void put(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_t *t, const char *fmt, ...)
{
    if (t->rc != 0)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see error.c
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->rc = -EINVAL;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2;
        while (cap - t->len <= (size_t)n)
            cap *= 2;
        char *grown = realloc(t->buf, cap);
        if (grown == NULL) {
            t->rc = -ENOMEM;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
}

/* A label value as the format asks: backslash, quote and newline escaped. */
static void put_label(text_t *t, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            put(t, "\\%c", *p);
        else if (*p == '\n')
            put(t, "\\n");
        else
            put(t, "%c", *p);
    }
}

static uint64_t load(atomic_uint_fast64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void put_histogram(text_t *t, const char *name, const char *label, const char *value,
                          histogram_t *h)
{
    uint64_t cumulative = 0;
    const char *sep = label ? "," : "";
    for (size_t b = 0; b <= N_BUCKETS; b++) {
        cumulative += load(&h->buckets[b]);
        put(t, "%s_bucket{", name);
        if (label) {
            put(t, "%s=\"", label);
            put_label(t, value);
            put(t, "\"");
        }
        if (b < N_BUCKETS)
            put(t, "%sle=\"%g\"} %llu\n", sep, bucket_s[b], (unsigned long long)cumulative);
        else
            put(t, "%sle=\"+Inf\"} %llu\n", sep, (unsigned long long)cumulative);
    }
    const char *open = label ? "{" : "";
    const char *close = label ? "\"}" : "";
    put(t, "%s_sum%s%s%s", name, open, label ? label : "", label ? "=\"" : "");
    if (label)
        put_label(t, value);
    put(t, "%s %.9f\n", close, (double)load(&h->sum_ns) / 1e9);
    put(t, "%s_count%s%s%s", name, open, label ? label : "", label ? "=\"" : "");
    if (label)
        put_label(t, value);
    put(t, "%s %llu\n", close, (unsigned long long)cumulative);
}

static const char *method_name(const method_counts_t *s)
{
    return s->method ? s->method->name : "unknown";
}

static void put_requests(text_t *t)
{
    size_t n = m.methods ? m.n_methods + 1 : 0;
    put(t, "# HELP switchboard_requests_total Requests answered, by method.\n"
           "# TYPE switchboard_requests_total counter\n");
    for (size_t i = 0; i < n; i++) {
        put(t, "switchboard_requests_total{method=\"%s\"} %llu\n", method_name(&m.methods[i]),
            (unsigned long long)load(&m.methods[i].requests));
    }
    put(t, "# HELP switchboard_request_errors_total Requests answered with an error, by method "
           "and error name.\n"
           "# TYPE switchboard_request_errors_total counter\n");
    for (size_t i = 0; i < n; i++) {
        for (int code = 1; code < N_CODES; code++) {
            uint64_t v = load(&m.methods[i].errors[code]);
            const char *name = atomic_load_explicit(&m.code_names[code], memory_order_relaxed);
            if (v == 0 || name == NULL)
                continue;
            put(t, "switchboard_request_errors_total{method=\"%s\",error=\"%s\"} %llu\n",
                method_name(&m.methods[i]), name, (unsigned long long)v);
        }
    }
    put(t, "# HELP switchboard_request_duration_seconds Time from a request's read to its "
           "reply (a write's: until durable), by method.\n"
           "# TYPE switchboard_request_duration_seconds histogram\n");
    for (size_t i = 0; i < n; i++)
        if (load(&m.methods[i].requests) > 0)
            put_histogram(t, "switchboard_request_duration_seconds", "method",
                          method_name(&m.methods[i]), &m.methods[i].total);
    put(t, "# HELP switchboard_request_loop_seconds Time a read's method ran on the event loop, "
           "by method.\n"
           "# TYPE switchboard_request_loop_seconds histogram\n");
    for (size_t i = 0; i < n; i++)
        if (load(&m.methods[i].requests) > 0 && m.methods[i].method != NULL &&
            !m.methods[i].method->writes)
            put_histogram(t, "switchboard_request_loop_seconds", "method",
                          method_name(&m.methods[i]), &m.methods[i].loop);
}

static void put_server(text_t *t)
{
    uint64_t opened = load(&m.conns_opened), closed = load(&m.conns_closed);
    put(t,
        "# HELP switchboard_connections_opened_total Connections accepted.\n"
        "# TYPE switchboard_connections_opened_total counter\n"
        "switchboard_connections_opened_total %llu\n"
        "# HELP switchboard_connections_open Connections open now.\n"
        "# TYPE switchboard_connections_open gauge\n"
        "switchboard_connections_open %llu\n"
        "# HELP switchboard_connections_refused_total Connections refused or closed at once, by "
        "the limit that refused them.\n"
        "# TYPE switchboard_connections_refused_total counter\n",
        (unsigned long long)opened, (unsigned long long)(opened > closed ? opened - closed : 0));
    for (int r = 0; r < SB_METRICS_REFUSED_N; r++)
        put(t, "switchboard_connections_refused_total{reason=\"%s\"} %llu\n", refusal_names[r],
            (unsigned long long)load(&m.refused[r]));
    put(t,
        "# HELP switchboard_received_bytes_total Bytes read from clients.\n"
        "# TYPE switchboard_received_bytes_total counter\n"
        "switchboard_received_bytes_total %llu\n"
        "# HELP switchboard_sent_bytes_total Reply bytes queued for clients.\n"
        "# TYPE switchboard_sent_bytes_total counter\n"
        "switchboard_sent_bytes_total %llu\n"
        "# HELP switchboard_writer_commits_total Group commits of the writer thread.\n"
        "# TYPE switchboard_writer_commits_total counter\n"
        "switchboard_writer_commits_total %llu\n"
        "# HELP switchboard_writer_writes_total Writes the group commits held.\n"
        "# TYPE switchboard_writer_writes_total counter\n"
        "switchboard_writer_writes_total %llu\n"
        "# HELP switchboard_writer_batch_writes Writes per group commit.\n"
        "# TYPE switchboard_writer_batch_writes histogram\n",
        (unsigned long long)load(&m.bytes_in), (unsigned long long)load(&m.bytes_out),
        (unsigned long long)load(&m.commits), (unsigned long long)load(&m.commit_writes));
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= N_BATCH; b++) {
        cumulative += load(&m.batch[b]);
        if (b < N_BATCH)
            put(t, "switchboard_writer_batch_writes_bucket{le=\"%u\"} %llu\n", batch_le[b],
                (unsigned long long)cumulative);
        else
            put(t, "switchboard_writer_batch_writes_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cumulative);
    }
    put(t,
        "switchboard_writer_batch_writes_sum %llu\n"
        "switchboard_writer_batch_writes_count %llu\n"
        "# HELP switchboard_writer_commit_seconds Time of a group commit, its writes and its "
        "fsync.\n"
        "# TYPE switchboard_writer_commit_seconds histogram\n",
        (unsigned long long)load(&m.commit_writes), (unsigned long long)cumulative);
    put_histogram(t, "switchboard_writer_commit_seconds", NULL, NULL, &m.commit_time);
    char why[128];
    bool ready = sb_metrics_ready(why, sizeof(why));
    uint64_t age = sb_metrics_heartbeat_age_ms();
    put(t,
        "# HELP switchboard_writer_up Whether the writer thread runs.\n"
        "# TYPE switchboard_writer_up gauge\n"
        "switchboard_writer_up %d\n"
        "# HELP switchboard_ready Whether /readyz answers ready.\n"
        "# TYPE switchboard_ready gauge\n"
        "switchboard_ready %d\n"
        "# HELP switchboard_loop_heartbeat_age_seconds Time since the event loop last turned "
        "its once-a-second timer.\n"
        "# TYPE switchboard_loop_heartbeat_age_seconds gauge\n"
        "switchboard_loop_heartbeat_age_seconds %.3f\n",
        atomic_load(&m.writer_alive) ? 1 : 0, ready ? 1 : 0,
        age == UINT64_MAX ? 0.0 : (double)age / 1000);
}

int sb_metrics_render(char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    text_t t = {.buf = malloc(16384), .cap = 16384};
    if (t.buf == NULL)
        return -ENOMEM;
    t.buf[0] = '\0';
    put_requests(&t);
    put_server(&t);
    pthread_mutex_lock(&m.sample_lock);
    if (m.sample != NULL)
        put(&t, "%s", m.sample);
    pthread_mutex_unlock(&m.sample_lock);
    if (t.rc != 0) {
        free(t.buf);
        return t.rc;
    }
    *out = t.buf;
    *len = t.len;
    return 0;
}

/* ---- the loop's once-a-second sample --------------------------------------- */

static void put_plugins(text_t *t, sb_plugin_host_t *plugins)
{
    sb_plugin_info_t *rows = NULL;
    size_t n = 0;
    if (plugins == NULL || sb_plugin_host_list(plugins, &rows, &n) != 0)
        return;
    put(t, "# HELP switchboard_plugin_up Whether an adapter is loaded and available (an "
           "isolated one's child running or free to start).\n"
           "# TYPE switchboard_plugin_up gauge\n");
    for (size_t i = 0; i < n; i++) {
        put(t, "switchboard_plugin_up{adapter=\"");
        put_label(t, rows[i].name[0] ? rows[i].name : rows[i].file);
        put(t, "\",mode=\"%s\"} %d\n", rows[i].loaded ? rows[i].mode : "refused",
            rows[i].loaded && rows[i].available ? 1 : 0);
    }
    put(t, "# HELP switchboard_plugin_restarts_total Times an isolated adapter's child process "
           "was started again.\n"
           "# TYPE switchboard_plugin_restarts_total counter\n");
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].loaded)
            continue;
        put(t, "switchboard_plugin_restarts_total{adapter=\"");
        put_label(t, rows[i].name);
        put(t, "\"} %u\n", rows[i].restarts);
    }
    put(t, "# HELP switchboard_plugin_call_seconds An adapter's calls (validate, render, "
           "call_event, template, settings) since its set was loaded.\n"
           "# TYPE switchboard_plugin_call_seconds histogram\n");
    static const unsigned bounds_ms[SB_PLUGIN_CALL_BUCKETS] = SB_PLUGIN_CALL_BOUNDS_MS;
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].loaded)
            continue;
        uint64_t cumulative = 0;
        for (size_t b = 0; b <= SB_PLUGIN_CALL_BUCKETS; b++) {
            cumulative += rows[i].call_buckets[b];
            put(t, "switchboard_plugin_call_seconds_bucket{adapter=\"");
            put_label(t, rows[i].name);
            if (b < SB_PLUGIN_CALL_BUCKETS)
                put(t, "\",le=\"%g\"} %llu\n", bounds_ms[b] / 1000.0,
                    (unsigned long long)cumulative);
            else
                put(t, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
        }
        put(t, "switchboard_plugin_call_seconds_sum{adapter=\"");
        put_label(t, rows[i].name);
        put(t, "\"} %.9f\nswitchboard_plugin_call_seconds_count{adapter=\"",
            (double)rows[i].call_ns / 1e9);
        put_label(t, rows[i].name);
        put(t, "\"} %llu\n", (unsigned long long)rows[i].calls);
    }
    free(rows);
}

/* The shard member's gauges (docs/cluster.md). */
static void put_cluster(text_t *t, sb_cluster_t *cluster)
{
    if (cluster == NULL)
        return;
    sb_cluster_status_t st;
    sb_cluster_status(cluster, &st);
    const char *role = st.replica ? "replica" : st.fenced ? "fenced" : "primary";
    put(t,
        "# HELP switchboard_cluster_role The shard member this server is (1 for its role).\n"
        "# TYPE switchboard_cluster_role gauge\n"
        "switchboard_cluster_role{shard=\"%s\",member=\"%s\",role=\"%s\"} 1\n"
        "# HELP switchboard_cluster_epoch The shard's epoch in the placement bucket (a "
        "replica: the last it saw).\n"
        "# TYPE switchboard_cluster_epoch gauge\n"
        "switchboard_cluster_epoch %llu\n"
        "# HELP switchboard_cluster_applied_seq The last change in this server's store.\n"
        "# TYPE switchboard_cluster_applied_seq gauge\n"
        "switchboard_cluster_applied_seq %llu\n"
        "# HELP switchboard_cluster_lag_changes A replica's changes in its stream not applied "
        "yet.\n"
        "# TYPE switchboard_cluster_lag_changes gauge\n"
        "switchboard_cluster_lag_changes %llu\n"
        "# HELP switchboard_cluster_following 1 while a replica applies its stream; 0 once it "
        "stopped on an error (server.info says which).\n"
        "# TYPE switchboard_cluster_following gauge\n"
        "switchboard_cluster_following %d\n",
        st.shard, st.member, role, (unsigned long long)st.epoch, (unsigned long long)st.applied,
        (unsigned long long)st.lag, st.replica && st.error[0] == '\0' ? 1 : 0);
}

void sb_metrics_sample(sb_store_t *store, sb_plugin_host_t *plugins, sb_cluster_t *cluster)
{
    atomic_store(&m.heartbeat_ms, mono_ms());
    text_t t = {.buf = malloc(4096), .cap = 4096};
    if (t.buf == NULL)
        return;
    t.buf[0] = '\0';
    if (store != NULL) {
        sb_store_usage_t u;
        sb_store_usage(store, &u);
        put(&t,
            "# HELP switchboard_store_used_bytes Pages of the store in use.\n"
            "# TYPE switchboard_store_used_bytes gauge\n"
            "switchboard_store_used_bytes %llu\n"
            "# HELP switchboard_store_map_bytes The store's map size now.\n"
            "# TYPE switchboard_store_map_bytes gauge\n"
            "switchboard_store_map_bytes %llu\n"
            "# HELP switchboard_store_map_max_bytes The largest map size allowed "
            "(--max-map-bytes).\n"
            "# TYPE switchboard_store_map_max_bytes gauge\n"
            "switchboard_store_map_max_bytes %llu\n"
            "# HELP switchboard_store_readers Reader slots taken (the server's and other "
            "processes').\n"
            "# TYPE switchboard_store_readers gauge\n"
            "switchboard_store_readers %u\n"
            "# HELP switchboard_store_readers_max Reader slots in the store's lock file.\n"
            "# TYPE switchboard_store_readers_max gauge\n"
            "switchboard_store_readers_max %u\n",
            (unsigned long long)u.used_bytes, (unsigned long long)u.map_bytes,
            (unsigned long long)u.max_map_bytes, u.readers, u.max_readers);
        uint64_t first = 0, last = 0;
        sb_err_t err;
        if (sb_store_changes_range(store, &first, &last, &err) == 0)
            put(&t,
                "# HELP switchboard_changes_last_seq The change log's newest sequence number.\n"
                "# TYPE switchboard_changes_last_seq gauge\n"
                "switchboard_changes_last_seq %llu\n",
                (unsigned long long)last);
    }
    put_plugins(&t, plugins);
    put_cluster(&t, cluster);
    if (t.rc != 0) {
        free(t.buf);
        return;
    }
    pthread_mutex_lock(&m.sample_lock);
    char *old = m.sample;
    m.sample = t.buf;
    pthread_mutex_unlock(&m.sample_lock);
    free(old);
}
