/*
 * libFuzzer target: every method of the method table, through the real
 * dispatch (sb_dispatch_check, then sb_dispatch_run), with arguments built
 * from the input as structured msgpack: the method's own argument names with
 * values that are plausible (the org, ids of records that exist), too long,
 * of the wrong type, extreme integers, or nested maps and arrays.
 *
 * The store is a temporary directory opened once, with the bundled adapters
 * loaded in-process and a few records made at start (two orgs, a Call
 * Center, users, a membership, contacts, a call) so that calls reach past
 * "not found". Writes run as the server runs them: submitted to a real
 * writer thread, whose answer comes back on a libuv loop that this target
 * runs until the job is done. Three callers take turns: the admin, an org
 * admin of "acme" and a read-only token of "acme".
 *
 * Input layout: [method][caller] then, per argument of the method's spec,
 * an operation byte and its operands (see gen_value); then maybe one unknown
 * argument. Input that runs out reads as zeros.
 */
#include <ftw.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "methods.h"
#include "plugin_host.h"
#include "renders.h"
#include "token.h"
#include "writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef SB_FUZZ_PLUGIN_DIR
#define SB_FUZZ_PLUGIN_DIR ""
#endif

enum { MAX_METHODS = 128, MAX_DEPTH = 4, MAX_LONG = 4096 };

/* Strings worth trying in any string slot: what the store holds, plus forms
 * each argument's rule knows. */
static const char *const words[] = {"acme",
                                    "beta",
                                    "Support",
                                    "support2",
                                    "demo",
                                    "004000000000001",
                                    "005000000000001",
                                    "005000000000001AAA",
                                    "005000000000002",
                                    "04v000000000001",
                                    "003000000000001",
                                    "001000000000001",
                                    "00Q000000000001",
                                    "500000000000001",
                                    "key-1",
                                    "key-2",
                                    "2026-01-01T00:00:00Z",
                                    "9999-12-31T23:59:59Z",
                                    "1970-01-01T00:00:00Z",
                                    "-1",
                                    "9223372036854775807",
                                    "18446744073709551616",
                                    "inbound",
                                    "outbound",
                                    "internal",
                                    "read_only",
                                    "org_admin",
                                    "Lightning",
                                    "Classic",
                                    "https://example.com/cti",
                                    "http://x",
                                    "/General Information/Display Name",
                                    "/General Information/CTI Adapter URL",
                                    "+14155550100",
                                    "415-555-0100",
                                    "1",
                                    "import",
                                    "metadata",
                                    "switchboard",
                                    "opencti",
                                    "default",
                                    "all",
                                    "",
                                    "agent",
                                    "completed",
                                    "\xff\xfe",
                                    "a\x01b",
                                    "%s%n%x",
                                    "../../etc/passwd",
                                    "Sales Profile"};
static const char *const keys[] = {
    "id",     "name",    "profile", "user",       "callcenter",      "phones",     "type",
    "calls",  "at",      "inbound", "outbound",   "internal",        "call_types", "ringing",
    "fields", "actions", "objects", "screen_pop", "vendor_call_key", "event",      "x"};

typedef struct cursor {
    const uint8_t *p;
    size_t left;
} cursor_t;

static uint8_t take(cursor_t *c)
{
    if (c->left == 0)
        return 0;
    c->left--;
    return *c->p++;
}

static uint64_t take64(cursor_t *c)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | take(c);
    return v;
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void gen_value(cursor_t *c, msgpack_packer *pk, int depth);

/* A string or a value of another type, from one operation byte. */
static void gen_value(cursor_t *c, msgpack_packer *pk, int depth)
{
    uint8_t op = take(c);
    switch (op % 10) {
    case 0: /* a known word */
        pack_cstr(pk, words[take(c) % (sizeof(words) / sizeof(words[0]))]);
        break;
    case 1: { /* a long string of one byte repeated: the key builders' test */
        size_t n = ((size_t)take(c) << 8 | take(c)) % MAX_LONG;
        char fill = (char)(take(c) % 2 ? 'A' + take(c) % 26 : '0' + take(c) % 10);
        char *s = malloc(n ? n : 1);
        if (s == NULL)
            abort();
        memset(s, fill, n);
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, s, n);
        free(s);
        break;
    }
    case 2: { /* the input's own bytes */
        size_t n = take(c);
        if (n > c->left)
            n = c->left;
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, c->p, n);
        c->p += n;
        c->left -= n;
        break;
    }
    case 3: { /* integers at the edges */
        static const int64_t edges[] = {0,
                                        1,
                                        -1,
                                        239,
                                        240,
                                        2560,
                                        2561,
                                        1000,
                                        1001,
                                        INT32_MAX,
                                        INT64_MAX,
                                        INT64_MIN,
                                        1767225600000,
                                        253402300799999,
                                        -253402300799999};
        uint8_t which = take(c);
        if (which < 16 * 15)
            msgpack_pack_int64(pk, edges[which % (sizeof(edges) / sizeof(edges[0]))]);
        else if (which % 2)
            msgpack_pack_uint64(pk, UINT64_MAX - take(c));
        else
            msgpack_pack_int64(pk, (int64_t)take64(c));
        break;
    }
    case 4:
        msgpack_pack_uint64(pk, take64(c));
        break;
    case 5:
        if (take(c) % 2)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case 6: { /* an array of values */
        size_t n = depth < MAX_DEPTH ? take(c) % 6 : 0;
        msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++)
            gen_value(c, pk, depth + 1);
        break;
    }
    case 7: { /* a map with plausible keys */
        size_t n = depth < MAX_DEPTH ? take(c) % 6 : 0;
        msgpack_pack_map(pk, n);
        for (size_t i = 0; i < n; i++) {
            uint8_t k = take(c);
            if (k < 240)
                pack_cstr(pk, keys[k % (sizeof(keys) / sizeof(keys[0]))]);
            else
                gen_value(c, pk, depth + 1); /* a key that is not a string */
            gen_value(c, pk, depth + 1);
        }
        break;
    }
    case 8: { /* a bin of the input's bytes */
        size_t n = take(c);
        if (n > c->left)
            n = c->left;
        msgpack_pack_bin(pk, n);
        msgpack_pack_bin_body(pk, c->p, n);
        c->p += n;
        c->left -= n;
        break;
    }
    default:
        msgpack_pack_nil(pk);
        break;
    }
}

/* ---- the server's pieces -------------------------------------------------- */

static sb_service_t svc;
static sb_config_t cfg;
static uv_loop_t *loop;

typedef struct fuzz_job {
    sb_write_job_t job;
    sb_call_t *call;
    const sb_method_t *m;
    msgpack_sbuffer *reply;
    int rc;
    bool done;
} fuzz_job_t;

static int job_run(sb_write_job_t *job)
{
    fuzz_job_t *j = (fuzz_job_t *)job;
    j->rc = sb_dispatch_run(j->call, j->m, 1, j->reply);
    return j->rc;
}

static void job_fail(sb_write_job_t *job, int code, const char *message)
{
    fuzz_job_t *j = (fuzz_job_t *)job;
    (void)message;
    j->rc = code;
}

static void job_done(sb_write_job_t *job)
{
    ((fuzz_job_t *)job)->done = true;
}

/* Runs one call as conn.c does: checked, then run here or on the writer. */
static int call_method(const char *method, const sb_token_record_t *token, const char *args,
                       size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    if (msgpack_unpack_next(&u, args, len, &off) != MSGPACK_UNPACK_SUCCESS)
        abort(); /* this target packed it: it must decode */
    sb_call_t call = {.svc = &svc,
                      .args = u.data.type == MSGPACK_OBJECT_MAP ? &u.data : NULL,
                      .zone = u.zone,
                      .token = *token};
    msgpack_sbuffer reply;
    msgpack_sbuffer_init(&reply);
    sb_err_t err;
    sb_err_clear(&err);
    const sb_method_t *m;
    int rc = sb_dispatch_check(&call, method, &m, &err);
    if (rc == 0 && m->writes) {
        fuzz_job_t j = {.job = {.run = job_run, .fail = job_fail, .done = job_done},
                        .call = &call,
                        .m = m,
                        .reply = &reply};
        sb_writer_submit(svc.writer, &j.job);
        while (!j.done)
            uv_run(loop, UV_RUN_ONCE);
        rc = j.rc;
    } else if (rc == 0) {
        rc = sb_dispatch_run(&call, m, 1, &reply);
    }
    if (rc == 0) { /* a result must be one whole msgpack value */
        msgpack_unpacked r;
        msgpack_unpacked_init(&r);
        size_t used = 0;
        if (msgpack_unpack_next(&r, reply.data, reply.size, &used) != MSGPACK_UNPACK_SUCCESS ||
            used != reply.size)
            abort();
        msgpack_unpacked_destroy(&r);
    }
    msgpack_sbuffer_destroy(&reply);
    msgpack_unpacked_destroy(&u);
    return rc;
}

static const sb_token_record_t callers[] = {
    {.id = "admin", .org = "", .role = SB_ROLE_ADMIN},
    {.id = "orgadmin", .org = "acme", .role = SB_ROLE_ORG_ADMIN},
    {.id = "reader", .org = "acme", .role = SB_ROLE_READ_ONLY},
};

/* A fixed request from a printf-like list of key/value strings. */
static void setup_call(const char *method, int n, ...)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (size_t)n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        pack_cstr(&pk, va_arg(ap, const char *));
        const char *v = va_arg(ap, const char *);
        if (strcmp(v, "#") == 0) { /* a packed value follows: its bytes, then its length */
            const char *raw = va_arg(ap, const char *);
            msgpack_sbuffer_write(&sb, raw, va_arg(ap, size_t));
        } else {
            pack_cstr(&pk, v);
        }
    }
    va_end(ap);
    call_method(method, &callers[0], sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static const sb_method_t *methods[MAX_METHODS];
static size_t n_methods;

static void add_method(const sb_method_t *m, void *ctx)
{
    (void)ctx;
    if (n_methods < MAX_METHODS)
        methods[n_methods++] = m;
}

static char store_dir[] = "/tmp/sb-fuzz-dispatch-XXXXXX";

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* At a normal exit (-max_total_time), the temporary store goes; after a
 * crash it stays, with the state that led to it. */
static void remove_store(void)
{
    nftw(store_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    char *dir = mkdtemp(store_dir);
    sb_err_t err;
    sb_err_clear(&err);
    if (dir == NULL || sb_token_init() != 0 || sb_config_defaults(&cfg, &err) != 0)
        abort();
    atexit(remove_store);
    cfg.max_batch = 64; /* enough for the shapes, small enough to stay fast */
    sb_store_opts_t opts = {.dir = dir,
                            .initial_map_bytes = 16u << 20,
                            .max_map_bytes = 256u << 20,
                            .durability = SB_DURABILITY_NONE};
    svc.config = &cfg;
    if (sb_store_open(&opts, &svc.store, &err) != 0 ||
        sb_plugin_host_new(SB_FUZZ_PLUGIN_DIR, &svc.plugins) != 0)
        abort();
    size_t loaded = 0, refused = 0;
    if (SB_FUZZ_PLUGIN_DIR[0] != '\0')
        sb_plugin_host_load(svc.plugins, &loaded, &refused, &err);
    sb_store_set_renderer(svc.store, sb_softphone_render, svc.plugins);
    loop = uv_default_loop();
    if (sb_writer_start(loop, svc.store, 64, &svc.writer) != 0)
        abort();
    sb_method_each(add_method, NULL);
    /* Records to reach past "not found": the ids below are in `words`. */
    setup_call("org.create", 1, "org", "acme");
    setup_call("org.create", 1, "org", "beta");
    setup_call("callcenter.create", 5, "org", "acme", "internal_name", "Support", "display_name",
               "Support", "adapter", "demo", "adapter_url", "https://example.com/cti");
    setup_call("user.upsert", 4, "org", "acme", "id", "005000000000001", "name", "Ada", "profile",
               "Sales Profile");
    setup_call("member.add", 3, "org", "acme", "callcenter", "Support", "user", "005000000000001");
    /* [{id: 003000000000001, name: Bo, phones: [+14155550100]}] */
    static const char contacts[] = "\x91\x83\xa2id\xaf"
                                   "003000000000001"
                                   "\xa4name\xa2"
                                   "Bo\xa6phones\x91\xac+14155550100";
    setup_call("contact.upsert_bulk", 3, "org", "acme", "callcenter", "Support", "contacts", "#",
               contacts, sizeof(contacts) - 1);
    setup_call("call.start", 5, "org", "acme", "callcenter", "Support", "vendor_call_key", "key-1",
               "from", "+14155550100", "user", "005000000000001");
    fprintf(stderr, "fuzz_dispatch: %zu methods, %zu adapters loaded, store in %s\n", n_methods,
            loaded, dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        ready = true;
    }
    cursor_t c = {data, size};
    const sb_method_t *m = methods[take(&c) % n_methods];
    const sb_token_record_t *caller = &callers[take(&c) % 3];
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* Which of the spec's arguments are given: one bit each. */
    uint32_t given =
        (uint32_t)take(&c) << 24 | (uint32_t)take(&c) << 16 | (uint32_t)take(&c) << 8 | take(&c);
    given = ~given; /* zeros (input that ran out) give every argument */
    size_t n_args = 0, count = 0;
    while (m->args[n_args].name != NULL)
        n_args++;
    for (size_t i = 0; i < n_args; i++)
        count += given >> i & 1;
    bool extra = take(&c) == 0xff;
    msgpack_pack_map(&pk, count + extra);
    for (size_t i = 0; i < n_args; i++) {
        if (!(given >> i & 1))
            continue;
        pack_cstr(&pk, m->args[i].name);
        /* The org mostly names a real one, so that calls get past the check. */
        if (strcmp(m->args[i].name, "org") == 0 && take(&c) < 192)
            pack_cstr(&pk, caller->org[0] ? caller->org : "acme");
        else
            gen_value(&c, &pk, 0);
    }
    if (extra) {
        pack_cstr(&pk, "no_such_argument");
        gen_value(&c, &pk, 0);
    }
    call_method(m->name, caller, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return 0;
}
