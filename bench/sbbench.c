/*
 * sbbench: one client program for both sides of every comparison, so that
 * the client's own cost is the same on both (bench/README.md).
 *
 *   sbbench load DIR            make the data set in a store (no server on it)
 *   sbbench fill-redis          copy every user's softphone.check answer into Redis
 *   sbbench inproc DIR          sb_index_check against a bare mdb_get, same keys
 *   sbbench socket              softphone.check or Redis GET/MGET: clients, depth, batch
 *   sbbench writes              durable membership moves, or Redis SET with appendfsync always
 *   sbbench idle                a server's memory per idle connection
 *   sbbench echo                the echo floor: one thread answering each request with the
 *                               bytes of one softphone.check answer (plain epoll)
 *
 * Data options (every command): --users N --orgs M --callcenters K --seed S.
 * Each measurement runs --seconds D after a warm-up of D/5 and prints one
 * line: `ops_per_second <n>` (with --pid, also `server_cpu_ns_per_op <n>`: the
 * server's CPU time over the window per operation); bench/run makes the
 * table, CSV and plot.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dataset.h"
#include "frame.h"
#include "message.h"
#include "softphone_check.h"
#include "switchboard/client.h"
#include "switchboard/index.h"

typedef struct options {
    sb_dataset_t ds;
    const char *dir, *socket, *token, *target, *layout, *mode;
    bool compact; /* socket --batch: check_batch's compact form (expanded by the client) */
    unsigned threads, clients, depth, batch, connections;
    unsigned rounds; /* socket: each client makes exactly this many rounds, untimed (0: timed) */
    bool flush_each; /* socket: each request its own send(2), as the client did before its queue */
    double seconds;
    long pid;
} options_t;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sbbench: ");
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): a false positive, see core/error.c
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the common loop: workers count, the main thread times a window ------ */

typedef struct worker {
    const options_t *opt;
    unsigned index;
    _Atomic uint64_t ops;
    atomic_bool *stop;
    char failure[600];
} worker_t;

typedef void *(*worker_fn)(void *);

/*
 * Nanoseconds process `pid` ran on a CPU, over all its threads: the first
 * field of /proc/PID/task/TID/schedstat (time on the CPU, kernel and user).
 * What the server spends, which the client cannot distort. -1 when unknown.
 */
static long long cpu_ns(long pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/task", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    long long sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char file[160];
        snprintf(file, sizeof(file), "/proc/%ld/task/%.32s/schedstat", pid, e->d_name);
        FILE *f = fopen(file, "r");
        char line[128];
        if (f != NULL) {
            if (fgets(line, sizeof(line), f) != NULL) {
                char *end;
                errno = 0;
                long long ns = strtoll(line, &end, 10);
                if (errno == 0 && end != line && ns > 0)
                    sum += ns; /* a thread that ended meanwhile counts for nothing */
            }
            fclose(f);
        }
    }
    closedir(d);
    return sum;
}

/* measure's: the server's CPU nanoseconds per operation over the window
 * (--pid), or -1 when not asked or not known. */
static double window_cpu_ns_per_op = -1;

/* Runs n workers; returns operations per second over the window after the warm-up. */
static double measure(const options_t *opt, unsigned n, worker_fn fn)
{
    atomic_bool stop = false;
    worker_t *w = calloc(n, sizeof(*w));
    pthread_t *tid = calloc(n, sizeof(*tid));
    if (w == NULL || tid == NULL)
        die("%s", "out of memory");
    for (unsigned i = 0; i < n; i++) {
        w[i].opt = opt;
        w[i].index = i;
        w[i].stop = &stop;
        if (pthread_create(&tid[i], NULL, fn, &w[i]) != 0)
            die("%s", "cannot start a thread");
    }
    struct timespec warm = {(time_t)(opt->seconds / 5),
                            (long)((opt->seconds / 5 - (double)(time_t)(opt->seconds / 5)) * 1e9)};
    nanosleep(&warm, NULL);
    uint64_t before = 0, after = 0;
    long long cpu0 = opt->pid > 0 ? cpu_ns(opt->pid) : -1;
    for (unsigned i = 0; i < n; i++)
        before += atomic_load(&w[i].ops);
    double t0 = now_s();
    struct timespec span = {(time_t)opt->seconds,
                            (long)((opt->seconds - (double)(time_t)opt->seconds) * 1e9)};
    nanosleep(&span, NULL);
    for (unsigned i = 0; i < n; i++)
        after += atomic_load(&w[i].ops);
    double t1 = now_s();
    long long cpu1 = opt->pid > 0 ? cpu_ns(opt->pid) : -1;
    if (cpu0 >= 0 && cpu1 >= cpu0 && after > before)
        window_cpu_ns_per_op = (double)(cpu1 - cpu0) / (double)(after - before);
    atomic_store(&stop, true);
    for (unsigned i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        if (w[i].failure[0])
            die("%s", w[i].failure);
    }
    free(w);
    free(tid);
    return (double)(after - before) / (t1 - t0);
}

/* ---- connections, the same for every command -------------------------- */

/*
 * Connects and authenticates to switchboardd through the public client
 * (abi/switchboard/client.h), as an integrator would; 0 with *out, or -1
 * with the reason in `why`.
 */
static int switchboard_connect(const options_t *opt, sb_client_t **out, char *why, size_t cap)
{
    sb_client_t *c = NULL;
    *out = NULL;
    if (sb_client_new(&c) != 0) {
        snprintf(why, cap, "switchboard: out of memory");
        return -1;
    }
    if (sb_client_connect(c, opt->socket) == 0 && sb_client_authenticate(c, opt->token) == 0) {
        *out = c;
        return 0;
    }
    snprintf(why, cap, "switchboard: %s", sb_client_error_message(c));
    sb_client_free(c);
    return -1;
}

/* Connects to Redis at `path`; NULL with the reason in `why`. */
static redisContext *redis_connect(const char *path, char *why, size_t cap)
{
    redisContext *r = redisConnectUnix(path);
    if (r != NULL && !r->err)
        return r;
    snprintf(why, cap, "redis at %s: %s", path, r ? r->errstr : "no memory");
    redisFree(r);
    return NULL;
}

/* ---- in process: sb_index_check and a bare mdb_get ---------------------- */

static sb_index *shared_index;
static MDB_env *bare_env;
static MDB_dbi bare_user_cc;
static uint32_t *bare_org_nums; /* each dataset org's number (org_ids), read once */

static void *index_worker(void *arg)
{
    worker_t *w = arg;
    sb_index_reader *reader;
    if (sb_index_reader_open(shared_index, &reader) != 0) {
        snprintf(w->failure, sizeof(w->failure), "sb_index_reader_open failed");
        return NULL;
    }
    /* --mode renewed (the default): the copying answer; ref: the referring
     * one; ref-trusted: the referring batch form, one user, whose id (the
     * data set's, 18 characters) is trusted (SB_INDEX_USERS_NORMALIZED). */
    bool ref = strncmp(w->opt->mode, "ref", 3) == 0;
    unsigned flags = strcmp(w->opt->mode, "ref-trusted") == 0 ? SB_INDEX_USERS_NORMALIZED : 0;
    sb_index_answer *a = malloc(sizeof(*a));
    sb_index_ref_answer *r = malloc(sizeof(*r));
    uint64_t rng = w->opt->ds.seed * 7919 + w->index + 1;
    char org[16], user[19];
    const char *users[1] = {user};
    while (a != NULL && r != NULL && !atomic_load_explicit(w->stop, memory_order_relaxed)) {
        uint64_t i = sb_ds_next(&rng, w->opt->ds.users);
        sb_ds_org(&w->opt->ds, i, org);
        sb_ds_user(i, user);
        int rc = ref ? sb_index_check_batch_ref(reader, org, users, 1, r, flags)
                     : sb_index_check(reader, org, user, a);
        if (rc != 0 || !(ref ? r->softphone : a->softphone)) {
            snprintf(w->failure, sizeof(w->failure), "user %s of %s: no softphone", user, org);
            break;
        }
        atomic_fetch_add_explicit(&w->ops, 1, memory_order_relaxed);
    }
    free(a);
    free(r);
    sb_index_reader_close(reader);
    return NULL;
}

/* The same key derivation and transaction discipline (renewed per look-up),
 * one mdb_get of the membership: the floor any check on this index pays. */
static void *bare_worker(void *arg)
{
    worker_t *w = arg;
    MDB_txn *txn;
    if (mdb_txn_begin(bare_env, NULL, MDB_RDONLY, &txn) != 0) {
        snprintf(w->failure, sizeof(w->failure), "mdb_txn_begin failed");
        return NULL;
    }
    mdb_txn_reset(txn);
    uint64_t rng = w->opt->ds.seed * 7919 + w->index + 1;
    uint8_t key[SB_MEMBER_KEY_LEN];
    char user[19];
    bool renew = strcmp(w->opt->mode, "one-txn") != 0;
    if (!renew)
        mdb_txn_renew(txn);
    while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
        /* The store's key (sb_member_key): the org's number, known ahead
         * as a client that checks one org would keep it, and the user. */
        uint64_t i = sb_ds_next(&rng, w->opt->ds.users);
        sb_ds_user(i, user);
        sb_sfid_t id;
        memcpy(id.s, user, sizeof(id.s));
        MDB_val k = {sb_member_key(bare_org_nums[i % w->opt->ds.orgs], &id, key), key}, v;
        if (renew)
            mdb_txn_renew(txn);
        int rc = mdb_get(txn, bare_user_cc, &k, &v);
        if (renew)
            mdb_txn_reset(txn);
        if (rc != 0) {
            snprintf(w->failure, sizeof(w->failure), "mdb_get: %s", mdb_strerror(rc));
            break;
        }
        atomic_fetch_add_explicit(&w->ops, 1, memory_order_relaxed);
    }
    mdb_txn_abort(txn);
    return NULL;
}

static int cmd_inproc(const options_t *opt)
{
    char why[512];
    if (sb_index_open(opt->dir, &shared_index, why, sizeof(why)) != 0)
        die("%s", why);
    MDB_txn *txn;
    if (mdb_env_create(&bare_env) != 0 || mdb_env_set_maxdbs(bare_env, 24) != 0 ||
        mdb_env_open(bare_env, opt->dir, MDB_RDONLY | MDB_NOTLS | MDB_NORDAHEAD, 0) != 0 ||
        mdb_txn_begin(bare_env, NULL, MDB_RDONLY, &txn) != 0 ||
        mdb_dbi_open(txn, "user_cc", 0, &bare_user_cc) != 0)
        die("cannot open %s with LMDB", opt->dir);
    MDB_dbi org_ids;
    if (mdb_dbi_open(txn, "org_ids", 0, &org_ids) != 0 ||
        (bare_org_nums = calloc(opt->ds.orgs, sizeof(*bare_org_nums))) == NULL)
        die("cannot read the org numbers of %s (schema 5's org_ids)", opt->dir);
    for (uint32_t o = 0; o < opt->ds.orgs; o++) {
        char org[16];
        MDB_val k, v;
        sb_ds_org(&opt->ds, o, org);
        k = (MDB_val){strlen(org), org};
        /* The number, then the value's checksum (the store's; not checked here). */
        if (mdb_get(txn, org_ids, &k, &v) != 0 || v.mv_size < SB_ORG_NUM_LEN)
            die("org %s of the data set has no number in %s: load it again", org, opt->dir);
        bare_org_nums[o] = sb_org_num_read(v.mv_data);
    }
    if (mdb_txn_commit(txn) != 0)
        die("cannot open %s with LMDB", opt->dir);
    double rate =
        measure(opt, opt->threads, strcmp(opt->target, "index") == 0 ? index_worker : bare_worker);
    printf("ops_per_second %.0f\n", rate);
    sb_index_close(shared_index);
    mdb_env_close(bare_env);
    free(bare_org_nums);
    return 0;
}

/* ---- over a socket: Switchboard's client and hiredis, the same loop ------ */

/* A random user of org number `org` (mod M): a request's users are all of
 * one org, and each client keeps to the org of its own number. */
static uint64_t pick_user(const options_t *opt, uint64_t *rng, uint64_t org)
{
    return sb_ds_next(rng, opt->ds.users / opt->ds.orgs) * opt->ds.orgs + org % opt->ds.orgs;
}

/* One Switchboard request, queued: softphone.check, or check_batch of opt->batch users. The
 * round goes out in one write when its first answer is awaited, as hiredis sends its own. */
static int sb_send(worker_t *w, sb_client_t *c, uint64_t *rng, msgpack_sbuffer *args)
{
    const options_t *opt = w->opt;
    uint64_t i = pick_user(opt, rng, w->index);
    char org[16], user[19];
    sb_ds_org(&opt->ds, i, org);
    args->size = 0;
    msgpack_packer pk;
    msgpack_packer_init(&pk, args, msgpack_sbuffer_write);
    /* The default form is named (compact: false); else the client asks for the compact one
     * and expands it, as it does for an application's batch. */
    msgpack_pack_map(&pk, opt->batch > 1 && !opt->compact ? 3 : 2);
    sb_pack_kv_str(&pk, "org", org);
    if (opt->batch > 1 && !opt->compact)
        sb_pack_kv_bool(&pk, "compact", false);
    if (opt->batch <= 1) {
        sb_ds_user(i, user);
        sb_pack_kv_str(&pk, "user", user);
    } else {
        sb_pack_str(&pk, "users");
        msgpack_pack_array(&pk, opt->batch);
        for (unsigned b = 0; b < opt->batch; b++) {
            uint64_t j = pick_user(opt, rng, i);
            sb_ds_user(j, user);
            sb_pack_str(&pk, user);
        }
    }
    uint32_t msgid;
    return sb_client_queue(c, opt->batch <= 1 ? "softphone.check" : "softphone.check_batch",
                           args->data, args->size, &msgid);
}

static void *switchboard_worker(void *arg)
{
    worker_t *w = arg;
    const options_t *opt = w->opt;
    sb_client_t *c;
    if (switchboard_connect(opt, &c, w->failure, sizeof(w->failure)) != 0)
        return NULL;
    msgpack_sbuffer args;
    msgpack_sbuffer_init(&args);
    uint64_t rng = opt->ds.seed * 104729 + w->index + 1;
    for (unsigned round = 0; !atomic_load_explicit(w->stop, memory_order_relaxed) &&
                             (opt->rounds == 0 || round < opt->rounds);
         round++) {
        for (unsigned d = 0; d < opt->depth; d++)
            if (sb_send(w, c, &rng, &args) != 0 || (opt->flush_each && sb_client_flush(c) != 0))
                goto failed;
        /* Answers as their bytes, as hiredis returns GET's: a map, not decoded. */
        for (unsigned d = 0; d < opt->depth; d++) {
            uint32_t msgid;
            sb_client_answer_t answer;
            if (sb_client_recv_answer(c, &msgid, &answer) != 0)
                goto failed;
            if ((answer.data[0] & 0xf0) != 0x80 && answer.data[0] != 0xde)
                goto failed;
        }
        atomic_fetch_add_explicit(&w->ops, (uint64_t)opt->depth * (opt->batch ? opt->batch : 1),
                                  memory_order_relaxed);
    }
    goto done;
failed:
    snprintf(w->failure, sizeof(w->failure), "switchboard: %s",
             sb_client_error_message(c)[0] ? sb_client_error_message(c) : "unexpected answer");
done:
    msgpack_sbuffer_destroy(&args);
    sb_client_free(c);
    return NULL;
}

/* The Redis key of user i: "<org>:<18-character id>". */
static int redis_key(const options_t *opt, uint64_t i, char out[48])
{
    char org[16], user[19];
    sb_ds_org(&opt->ds, i, org);
    sb_ds_user(i, user);
    return snprintf(out, 48, "%s:%s", org, user);
}

static void *redis_worker(void *arg)
{
    worker_t *w = arg;
    const options_t *opt = w->opt;
    redisContext *r = redis_connect(opt->socket, w->failure, sizeof(w->failure));
    if (r == NULL)
        return NULL;
    unsigned batch = opt->batch ? opt->batch : 1;
    char(*keys)[48] = calloc(batch, sizeof(*keys));
    const char **argv = calloc(batch + 1, sizeof(*argv));
    size_t *lens = calloc(batch + 1, sizeof(*lens));
    uint64_t rng = opt->ds.seed * 104729 + w->index + 1;
    while (keys && argv && lens && !atomic_load_explicit(w->stop, memory_order_relaxed)) {
        for (unsigned d = 0; d < opt->depth; d++) {
            uint64_t i = pick_user(opt, &rng, w->index);
            if (batch <= 1) {
                redis_key(opt, i, keys[0]);
                redisAppendCommand(r, "GET %s", keys[0]);
                continue;
            }
            argv[0] = "MGET";
            lens[0] = 4;
            for (unsigned b = 0; b < batch; b++) {
                uint64_t j = pick_user(opt, &rng, i);
                lens[b + 1] = (size_t)redis_key(opt, j, keys[b]);
                argv[b + 1] = keys[b];
            }
            redisAppendCommandArgv(r, (int)batch + 1, argv, lens);
        }
        for (unsigned d = 0; d < opt->depth; d++) {
            redisReply *reply;
            if (redisGetReply(r, (void **)&reply) != REDIS_OK) {
                snprintf(w->failure, sizeof(w->failure), "redis: %s", r->errstr);
                goto done;
            }
            int want = batch <= 1 ? REDIS_REPLY_STRING : REDIS_REPLY_ARRAY;
            if (reply->type != want) {
                snprintf(w->failure, sizeof(w->failure), "redis: a key is missing (load it)");
                freeReplyObject(reply);
                goto done;
            }
            freeReplyObject(reply);
        }
        atomic_fetch_add_explicit(&w->ops, (uint64_t)opt->depth * batch, memory_order_relaxed);
    }
done:
    free(keys);
    free(argv);
    free(lens);
    redisFree(r);
    return NULL;
}

/* Runs n workers to their end (--rounds) and prints how many operations they made: a fixed
 * amount of work, to count a server's instructions per request (callgrind), not to time. */
static void count_rounds(const options_t *opt, unsigned n, worker_fn fn)
{
    atomic_bool stop = false;
    worker_t *w = calloc(n, sizeof(*w));
    pthread_t *tid = calloc(n, sizeof(*tid));
    if (w == NULL || tid == NULL)
        die("%s", "out of memory");
    for (unsigned i = 0; i < n; i++) {
        w[i] = (worker_t){.opt = opt, .index = i, .stop = &stop};
        if (pthread_create(&tid[i], NULL, fn, &w[i]) != 0)
            die("%s", "cannot start a thread");
    }
    uint64_t ops = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        if (w[i].failure[0])
            die("%s", w[i].failure);
        ops += atomic_load(&w[i].ops);
    }
    free(w);
    free(tid);
    printf("ops %llu\n", (unsigned long long)ops);
}

static int cmd_socket(const options_t *opt)
{
    bool redis = strcmp(opt->target, "redis") == 0;
    if (!redis && opt->token == NULL)
        die("%s", "--token is needed for switchboard (the admin token)");
    if (!redis && opt->rounds > 0) {
        count_rounds(opt, opt->clients, switchboard_worker);
        return 0;
    }
    double rate = measure(opt, opt->clients, redis ? redis_worker : switchboard_worker);
    printf("ops_per_second %.0f\n", rate);
    if (window_cpu_ns_per_op >= 0)
        printf("server_cpu_ns_per_op %.0f\n", window_cpu_ns_per_op);
    return 0;
}

/* ---- the echo floor --------------------------------------------------- */

/*
 * `echo`: one thread, plain epoll, answering every msgpack-RPC request on a
 * Unix socket with the bytes of one softphone.check answer, fetched once from
 * switchboardd (--target its socket, --token): the least any server can do
 * for the same bytes in and out, so that `socket` figures can be read as a
 * fraction of it. Driven by `socket --target switchboard --socket ECHO` (the
 * same client and discipline; the authentication is answered alike).
 */
typedef struct echo_conn {
    int fd;
    uint8_t in[65536];
    size_t in_len;
    uint8_t *out;
    size_t out_len, out_cap;
} echo_conn_t;

/* The msgid of request frame[0..len): [0, msgid, method, params]. 0 with *n
 * the msgid's bytes (from frame + 2), -1 when it is not such a request. */
static int echo_msgid(const uint8_t *frame, size_t len, size_t *n)
{
    if (len < 3 || frame[0] != 0x94 || frame[1] != 0x00)
        return -1;
    uint8_t t = frame[2];
    *n = t <= 0x7f ? 1 : t == 0xcc ? 2 : t == 0xcd ? 3 : t == 0xce ? 5 : 0;
    return *n == 0 || 2 + *n > len ? -1 : 0;
}

/* Appends the answer to request `frame` to c->out; -1 on a bad request or no memory. */
static int echo_answer(echo_conn_t *c, const uint8_t *frame, size_t len, const uint8_t *answer,
                       size_t answer_len)
{
    size_t id_len;
    if (echo_msgid(frame, len, &id_len) != 0)
        return -1;
    size_t need = 2 + id_len + 1 + answer_len;
    if (c->out_cap - c->out_len < need) {
        size_t cap = c->out_cap ? c->out_cap * 2 : 65536;
        while (cap - c->out_len < need)
            cap *= 2;
        uint8_t *grown = realloc(c->out, cap);
        if (grown == NULL)
            return -1;
        c->out = grown;
        c->out_cap = cap;
    }
    uint8_t *o = c->out + c->out_len;
    o[0] = 0x94;
    o[1] = 0x01;
    memcpy(o + 2, frame + 2, id_len);
    o[2 + id_len] = 0xc0;
    memcpy(o + 3 + id_len, answer, answer_len);
    c->out_len += need;
    return 0;
}

/* Reads what there is, answers every whole request, writes the answers in
 * one write (blocking for the rest, as a client reads them all). -1: close. */
static int echo_serve(echo_conn_t *c, const uint8_t *answer, size_t answer_len)
{
    for (;;) {
        size_t room = sizeof(c->in) - c->in_len;
        if (room == 0)
            return -1; /* a request larger than the buffer: not one of the benchmark's */
        ssize_t n = read(c->fd, c->in + c->in_len, room);
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        c->in_len += (size_t)n;
        size_t off = 0, msg_len;
        int rc;
        while ((rc = sb_frame_scan(c->in + off, c->in_len - off, sizeof(c->in), &msg_len)) ==
               SB_FRAME_COMPLETE) {
            if (echo_answer(c, c->in + off, msg_len, answer, answer_len) != 0)
                return -1;
            off += msg_len;
        }
        if (rc < 0)
            return -1;
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
        if (c->out_len > 0 && sb_frame_send_all(c->fd, c->out, c->out_len) != 0)
            return -1;
        c->out_len = 0;
        if ((size_t)n < room)
            return 0; /* a short read: nothing more now */
    }
}

static volatile sig_atomic_t echo_stop;
static void echo_on_term(int sig)
{
    (void)sig;
    echo_stop = 1;
}

static int cmd_echo(const options_t *opt)
{
    if (opt->token == NULL || strcmp(opt->target, "switchboard") == 0)
        die("%s", "echo needs --target SWITCHBOARD_SOCKET (for one answer's bytes) and --token");
    /* One answer's bytes, as softphone.check gives them. */
    options_t from = *opt;
    from.socket = opt->target;
    from.batch = 0;
    sb_client_t *sb;
    char why[600];
    if (switchboard_connect(&from, &sb, why, sizeof(why)) != 0)
        die("%s", why);
    /* The request a socket client sends (sb_send), for one user of the first org. */
    worker_t w = {.opt = &from};
    uint64_t rng = opt->ds.seed;
    msgpack_sbuffer args;
    msgpack_sbuffer_init(&args);
    uint32_t msgid;
    sb_client_answer_t a;
    if (sb_send(&w, sb, &rng, &args) != 0 || sb_client_recv_answer(sb, &msgid, &a) != 0)
        die("echo: softphone.check: %s", sb_client_error_message(sb));
    uint8_t *answer = malloc(a.len);
    if (answer == NULL)
        die("%s", "out of memory");
    memcpy(answer, a.data, a.len);
    size_t answer_len = a.len;
    sb_client_free(sb);
    msgpack_sbuffer_destroy(&args);

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(opt->socket) >= sizeof(addr.sun_path))
        die("echo: the socket path %s is too long", opt->socket);
    memcpy(addr.sun_path, opt->socket, strlen(opt->socket) + 1);
    unlink(opt->socket);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 512) != 0)
        die("echo: cannot listen on %s: %s", opt->socket, strerror(errno));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
        die("echo: epoll: %s", strerror(errno));
    signal(SIGTERM, echo_on_term);
    signal(SIGINT, echo_on_term);
    signal(SIGPIPE, SIG_IGN);
    printf("echo_answer_bytes %zu\n", answer_len);
    fflush(stdout);
    struct epoll_event events[64];
    while (!echo_stop) {
        int n = epoll_wait(ep, events, 64, 200);
        for (int i = 0; i < n; i++) {
            echo_conn_t *c = events[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    echo_conn_t *nc = calloc(1, sizeof(*nc));
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
                    if (nc == NULL || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) != 0) {
                        free(nc);
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                }
                continue;
            }
            if (echo_serve(c, answer, answer_len) != 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                free(c->out);
                free(c);
            }
        }
    }
    close(ep);
    close(lfd);
    unlink(opt->socket);
    free(answer);
    return 0;
}

/* ---- durable writes --------------------------------------------------- */

/* Client c moves the users of its own slice of org0 between two of org0's
 * Call Centers: every request is a real, durable change. Bulk mode moves
 * opt->batch users per request (member.add_bulk with move). */
static void *switchboard_writer(void *arg)
{
    worker_t *w = arg;
    const options_t *opt = w->opt;
    sb_client_t *c;
    if (switchboard_connect(opt, &c, w->failure, sizeof(w->failure)) != 0)
        return NULL;
    uint64_t per_org = opt->ds.users / opt->ds.orgs;
    uint64_t slice = per_org / opt->clients, first = slice * w->index;
    unsigned batch = opt->batch ? opt->batch : 1;
    msgpack_sbuffer args;
    msgpack_sbuffer_init(&args);
    msgpack_unpacked r;
    char user[19], cc[24];
    for (uint64_t round = 0; !atomic_load_explicit(w->stop, memory_order_relaxed); round++) {
        args.size = 0;
        msgpack_packer pk;
        msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
        uint64_t at = first + (round * batch) % (slice > batch ? slice - batch : 1);
        /* Every pass over the slice flips the users to the other Call Center. */
        uint32_t flip = (uint32_t)((round * batch) / (slice > batch ? slice - batch : 1)) + 1;
        if (batch <= 1) {
            uint64_t i = at * opt->ds.orgs;
            sb_ds_user(i, user);
            sb_ds_cc_name(&opt->ds, 0, (sb_ds_cc_slot(&opt->ds, i) + flip) % 2, cc);
            msgpack_pack_map(&pk, 3);
            sb_pack_kv_str(&pk, "org", "org0");
            sb_pack_kv_str(&pk, "callcenter", cc);
            sb_pack_kv_str(&pk, "user", user);
        } else {
            msgpack_pack_map(&pk, 3);
            sb_pack_kv_str(&pk, "org", "org0");
            sb_pack_kv_bool(&pk, "move", true);
            sb_pack_str(&pk, "rows");
            msgpack_pack_array(&pk, batch);
            for (unsigned b = 0; b < batch; b++) {
                uint64_t i = (at + b) * opt->ds.orgs;
                sb_ds_user(i, user);
                sb_ds_cc_name(&opt->ds, 0, (sb_ds_cc_slot(&opt->ds, i) + flip) % 2, cc);
                msgpack_pack_map(&pk, 2);
                sb_pack_kv_str(&pk, "user", user);
                sb_pack_kv_str(&pk, "callcenter", cc);
            }
        }
        int rc = sb_client_call(c, batch <= 1 ? "member.move" : "member.add_bulk", args.data,
                                args.size, &r);
        if (rc != 0) {
            msgpack_unpacked_destroy(&r);
            snprintf(w->failure, sizeof(w->failure), "write: %s", sb_client_error_message(c));
            break;
        }
        msgpack_unpacked_destroy(&r);
        atomic_fetch_add_explicit(&w->ops, batch, memory_order_relaxed);
    }
    msgpack_sbuffer_destroy(&args);
    sb_client_free(c);
    return NULL;
}

static void *redis_writer(void *arg)
{
    worker_t *w = arg;
    redisContext *r = redis_connect(w->opt->socket, w->failure, sizeof(w->failure));
    if (r == NULL)
        return NULL;
    char key[48];
    for (uint64_t n = 0; !atomic_load_explicit(w->stop, memory_order_relaxed); n++) {
        snprintf(key, sizeof(key), "w:%u:%llu", w->index, (unsigned long long)(n % 100000));
        redisReply *reply = redisCommand(r, "SET %s %s", key, n % 2 ? "CC0" : "CC1");
        if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
            snprintf(w->failure, sizeof(w->failure), "redis SET failed");
            freeReplyObject(reply);
            break;
        }
        freeReplyObject(reply);
        atomic_fetch_add_explicit(&w->ops, 1, memory_order_relaxed);
    }
    redisFree(r);
    return NULL;
}

static int cmd_writes(const options_t *opt)
{
    bool redis = strcmp(opt->target, "redis") == 0;
    if (!redis && opt->token == NULL)
        die("%s", "--token is needed for switchboard (the admin token)");
    double rate = measure(opt, opt->clients, redis ? redis_writer : switchboard_writer);
    printf("ops_per_second %.0f\n", rate);
    if (window_cpu_ns_per_op >= 0)
        printf("server_cpu_ns_per_op %.0f\n", window_cpu_ns_per_op);
    return 0;
}

/* ---- Redis gets what Switchboard answers ------------------------------- */

/* For every user, softphone.check_batch's answer, packed, under the user's
 * key: Redis then serves the same bytes Switchboard does. */
static int cmd_fill_redis(const options_t *opt)
{
    sb_client_t *c;
    char why[600];
    if (switchboard_connect(opt, &c, why, sizeof(why)) != 0)
        die("%s", why);
    redisContext *r = redis_connect(opt->target, why, sizeof(why));
    if (r == NULL)
        die("%s", why);
    msgpack_sbuffer args, value;
    msgpack_sbuffer_init(&args);
    msgpack_sbuffer_init(&value);
    for (uint32_t o = 0; o < opt->ds.orgs; o++) {
        char org[16];
        sb_ds_org(&opt->ds, o, org);
        for (uint64_t i = o; i < opt->ds.users;) {
            args.size = 0;
            msgpack_packer pk;
            msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
            uint64_t ids[100];
            unsigned n = 0;
            for (; n < 100 && i < opt->ds.users; n++, i += opt->ds.orgs)
                ids[n] = i;
            msgpack_pack_map(&pk, 2);
            sb_pack_kv_str(&pk, "org", org);
            sb_pack_str(&pk, "users");
            msgpack_pack_array(&pk, n);
            char user[19], key[48];
            for (unsigned b = 0; b < n; b++) {
                sb_ds_user(ids[b], user);
                sb_pack_str(&pk, user);
            }
            msgpack_unpacked res;
            if (sb_client_call(c, "softphone.check_batch", args.data, args.size, &res) != 0)
                die("%s", sb_client_error_message(c));
            const msgpack_object *results = sb_obj_get(&res.data, "results");
            for (unsigned b = 0; results && b < n; b++) {
                value.size = 0;
                msgpack_packer vpk;
                msgpack_packer_init(&vpk, &value, msgpack_sbuffer_write);
                msgpack_pack_object(&vpk, results->via.array.ptr[b]);
                redis_key(opt, ids[b], key);
                redisAppendCommand(r, "SET %s %b", key, value.data, value.size);
            }
            for (unsigned b = 0; b < n; b++) {
                redisReply *reply;
                if (redisGetReply(r, (void **)&reply) != REDIS_OK)
                    die("redis: %s", r->errstr);
                freeReplyObject(reply);
            }
            msgpack_unpacked_destroy(&res);
        }
    }
    msgpack_sbuffer_destroy(&args);
    msgpack_sbuffer_destroy(&value);
    redisFree(r);
    sb_client_free(c);
    return 0;
}

/* ---- memory per idle connection ----------------------------------------- */

static long rss_kib(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* Opens --connections connections (authenticated for Switchboard, as an
 * application would hold them), waits, and prints the server's RSS growth
 * per connection in bytes. */
static int cmd_idle(const options_t *opt)
{
    bool redis = strcmp(opt->target, "redis") == 0;
    long before = rss_kib(opt->pid);
    sb_client_t **sb = calloc(opt->connections, sizeof(sb_client_t *));
    redisContext **rc = calloc(opt->connections, sizeof(redisContext *));
    char why[600];
    for (unsigned i = 0; sb && rc && i < opt->connections; i++) {
        if (redis) {
            rc[i] = redis_connect(opt->socket, why, sizeof(why));
            redisReply *reply = rc[i] ? redisCommand(rc[i], "PING") : NULL;
            if (reply == NULL)
                die("cannot hold Redis connections: %s", rc[i] ? "PING failed" : why);
            freeReplyObject(reply);
        } else if (switchboard_connect(opt, &sb[i], why, sizeof(why)) != 0) {
            die("%s", why);
        }
    }
    sleep(1);
    long after = rss_kib(opt->pid);
    printf("bytes_per_connection %.0f\n",
           (double)(after - before) * 1024.0 / (double)opt->connections);
    for (unsigned i = 0; sb && rc && i < opt->connections; i++) {
        if (redis)
            redisFree(rc[i]);
        else
            sb_client_free(sb[i]);
    }
    free(sb);
    free(rc);
    return 0;
}

/* ---- options ------------------------------------------------------------ */

static void usage(void)
{
    fprintf(
        stderr,
        "usage: sbbench COMMAND [options]   (bench/README.md)\n"
        "  load DIR --layout FILE          make the data set in a store\n"
        "  fill-redis --socket SB --token T --target REDIS_SOCKET\n"
        "  inproc DIR --target index|bare [--mode renewed|one-txn|ref|ref-trusted] --threads T\n"
        "  socket --target switchboard|redis --socket S [--token T] --clients C "
        "--depth D [--batch B]\n"
        "         [--form default|compact] [--rounds R [--flush-each]]  (R rounds per "
        "client, untimed: prints ops)\n"
        "  writes --target switchboard|redis --socket S [--token T] --clients C [--batch B]\n"
        "  idle --target switchboard|redis --socket S [--token T] --pid P --connections N\n"
        "  echo --socket ECHO --target SWITCHBOARD_SOCKET --token T  (the echo floor)\n"
        "  socket and writes with --pid P: also the server's CPU ns per operation\n"
        "data: --users N --orgs M --callcenters K --seed S; timing: --seconds D\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *command = argv[1];
    options_t opt = {
        .ds = {.users = 100000, .orgs = 10, .callcenters = 100, .seed = 1},
        .target = "switchboard",
        .mode = "renewed",
        .threads = 1,
        .clients = 1,
        .depth = 1,
        .connections = 1000,
        .seconds = 2,
    };
    static const struct option longs[] = {
        {"users", 1, 0, 'n'},       {"orgs", 1, 0, 'm'},    {"callcenters", 1, 0, 'k'},
        {"seed", 1, 0, 's'},        {"socket", 1, 0, 'S'},  {"token", 1, 0, 'T'},
        {"target", 1, 0, 't'},      {"layout", 1, 0, 'L'},  {"mode", 1, 0, 'M'},
        {"threads", 1, 0, 'j'},     {"clients", 1, 0, 'c'}, {"depth", 1, 0, 'd'},
        {"batch", 1, 0, 'b'},       {"seconds", 1, 0, 'D'}, {"pid", 1, 0, 'p'},
        {"connections", 1, 0, 'C'}, {"rounds", 1, 0, 'R'},  {"flush-each", 0, 0, 'F'},
        {"form", 1, 0, 'f'},        {0, 0, 0, 0},
    };
    optind = 2;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'n':
            opt.ds.users = strtoull(optarg, NULL, 10);
            break;
        case 'm':
            opt.ds.orgs = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'k':
            opt.ds.callcenters = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 's':
            opt.ds.seed = strtoull(optarg, NULL, 10);
            break;
        case 'S':
            opt.socket = optarg;
            break;
        case 'T':
            opt.token = optarg;
            break;
        case 't':
            opt.target = optarg;
            break;
        case 'L':
            opt.layout = optarg;
            break;
        case 'M':
            opt.mode = optarg;
            break;
        case 'j':
            opt.threads = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'c':
            opt.clients = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'd':
            opt.depth = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'b':
            opt.batch = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'D':
            opt.seconds = strtod(optarg, NULL);
            break;
        case 'p':
            opt.pid = strtol(optarg, NULL, 10);
            break;
        case 'C':
            opt.connections = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'R':
            opt.rounds = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'F':
            opt.flush_each = true;
            break;
        case 'f':
            opt.compact = strcmp(optarg, "compact") == 0;
            break;
        default:
            usage();
        }
    }
    if (optind < argc)
        opt.dir = argv[optind];
    if (opt.ds.users == 0 || opt.ds.orgs == 0 || opt.ds.users < opt.ds.orgs || opt.threads == 0 ||
        opt.clients == 0 || opt.depth == 0 || opt.seconds <= 0)
        usage();
    if (strcmp(command, "load") == 0 && opt.dir && opt.layout)
        return sb_ds_load(&opt.ds, opt.dir, opt.layout) == 0 ? 0 : 1;
    if (strcmp(command, "inproc") == 0 && opt.dir)
        return cmd_inproc(&opt);
    if (strcmp(command, "socket") == 0 && opt.socket)
        return cmd_socket(&opt);
    if (strcmp(command, "writes") == 0 && opt.socket)
        return cmd_writes(&opt);
    if (strcmp(command, "fill-redis") == 0 && opt.socket && opt.token)
        return cmd_fill_redis(&opt);
    if (strcmp(command, "idle") == 0 && opt.socket && opt.pid > 0)
        return cmd_idle(&opt);
    if (strcmp(command, "echo") == 0 && opt.socket)
        return cmd_echo(&opt);
    usage();
}
