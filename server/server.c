#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "log.h"
#include "log_sink.h"
#include "metrics.h"
#include "paths.h"
#include "plugin_host.h"
#include "renders.h"
#include "server_internal.h"
#include "systemd.h"
#include "token.h"

static void on_connection(uv_stream_t *listener, int status)
{
    sb_server_t *server = listener->data;
    sb__server_lock(server);
    if (status != 0) {
        /* EMFILE: libuv closes the waiting connection for us; this can
         * come as fast as clients connect. */
        sb__log_limited(server, &server->refusals_log, SB_LOG_WARN,
                        "a connection was refused: %s (open files: see the limit logged at "
                        "start)",
                        uv_strerror(status));
    } else {
        sb__conn_accept(server);
    }
    sb__server_unlock(server);
}

/* The server's lock (server_internal.h). Recursive: a callback that ends in
 * another of the server's (a request finished inside a prepare step's
 * callback, say) takes it again; the depth is the thread's own. */
static __thread const sb_server_t *lock_owner;
static __thread unsigned lock_depth;

/* How long a thread waits for the lock while others may take it before it
 * is next in turn: long enough that a loop that lets go and takes it again
 * between two steps keeps it (no hand-over per step), short enough that a
 * loop busy with a long pipelined pass cannot hold another's requests for
 * the pass's length (0.37 s measured with a plain mutex). */
#define LOCK_TURN_NS 1000000L

void sb__server_lock(sb_server_t *server)
{
    if (lock_owner == server) {
        lock_depth++;
        return;
    }
    pthread_mutex_lock(&server->gate);
    if (server->held || server->starving > 0) {
        server->waiting++;
        bool starving = false;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += LOCK_TURN_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        /* Anyone may take it while it is free, unless a thread waited past
         * LOCK_TURN_NS: then only such a thread. */
        while (server->held || (server->starving > 0 && !starving)) {
            if (starving) {
                pthread_cond_wait(&server->turn, &server->gate);
            } else if (pthread_cond_timedwait(&server->turn, &server->gate, &until) == ETIMEDOUT) {
                starving = true;
                server->starving++;
            }
        }
        if (starving)
            server->starving--;
        server->waiting--;
    }
    server->held = true;
    pthread_mutex_unlock(&server->gate);
    lock_owner = server;
    lock_depth = 1;
}

void sb__server_unlock(sb_server_t *server)
{
    if (--lock_depth > 0)
        return;
    lock_owner = NULL;
    pthread_mutex_lock(&server->gate);
    server->held = false;
    bool wake = server->waiting > 0;
    pthread_mutex_unlock(&server->gate);
    if (wake)
        pthread_cond_broadcast(&server->turn);
}

void sb__loop_poke(sb_loop_t *loop)
{
    if (!loop->wake_closed)
        uv_async_send(&loop->wake);
}

/* Once a second on each loop: its own connections' timeouts. */
static void loop_ticker_cb(uv_timer_t *timer)
{
    sb_loop_t *loop = timer->data;
    sb__server_lock(loop->server);
    sb__conn_check_timeouts(loop, uv_now(loop->loop));
    sb__server_unlock(loop->server);
    sb_metrics_loop_beat(loop->index); /* /readyz: this loop turns */
}

/* The server-wide duties, on the first loop. */
static void ticker_cb(uv_timer_t *timer)
{
    sb_server_t *server = timer->data;
    sb__server_lock(server);
    sb__conn_server_tick(server);
    sb__server_unlock(server);
    /* Readers in other processes (libswitchboard-index) may die mid-check:
     * their slots would pin old pages, and the file would only grow. */
    int freed = sb_store_readers_check(server->svc.store);
    if (freed > 0)
        sb_log(SB_LOG_INFO, "freed %d reader slot%s of processes that died", freed,
               freed == 1 ? "" : "s");
    /* The loop's heartbeat (/readyz) and the gauges a scrape reads. */
    sb_metrics_sample(server->svc.store, server->svc.plugins, server->svc.cluster);
    /* A replica applied a revocation: its holders' connections end here too. */
    if (sb_cluster_take_tokens_changed(server->svc.cluster))
        sb__conn_revalidate(server);
}

/* From the loop, so that a loop that is stuck stops the pings, and systemd
 * restarts the server (WatchdogSec=). */
static void watchdog_cb(uv_timer_t *timer)
{
    (void)timer;
    sb_systemd_watchdog_ping();
}

/* Every loop acts on the server's state (server lock): SIGTERM's stop,
 * the shutdown's closes, the drain deadline's. */
static void poke_all(sb_server_t *server)
{
    for (unsigned i = 0; i < server->n_loops; i++)
        sb__loop_poke(&server->loops[i]);
}

/* Once nothing is in flight: every loop closes its connections (after their
 * replies), then its handles, so that it runs dry (loop_woken). */
static void finish_shutdown(sb_server_t *server)
{
    if (server->closing_conns)
        return;
    server->closing_conns = true;
    poke_all(server);
}

void sb__server_request_done(sb_server_t *server)
{
    server->inflight--;
    if (server->stopping && server->inflight == 0)
        finish_shutdown(server);
}

void sb__server_conn_gone(sb_server_t *server)
{
    if (server->svc.connections == 0)
        poke_all(server); /* the loops may end */
}

/* The shutdown's part on one loop (its thread). Its wake handle stays open
 * until every loop's connections are gone, so that the drain deadline (the
 * first loop's timer) still reaches the others' connections. */
static void loop_shutdown(sb_loop_t *loop)
{
    sb_server_t *server = loop->server;
    if (!loop->shutdown_seen) {
        loop->shutdown_seen = true;
        sb__conn_close_all(loop);
        uv_close((uv_handle_t *)&loop->ticker, NULL);
        sb__conn_handles_close(loop);
        if (loop->index == 0) {
            uv_close((uv_handle_t *)&server->sigterm, NULL);
            uv_close((uv_handle_t *)&server->sigint, NULL);
            uv_close((uv_handle_t *)&server->sighup, NULL);
            uv_close((uv_handle_t *)&server->watchdog, NULL);
            uv_close((uv_handle_t *)&server->ticker, NULL);
            /* No request is in flight on any loop, and none can start. */
            sb_writer_stop(server->writer);
            server->writer = NULL;
            for (unsigned i = 0; i < server->n_loops; i++)
                server->loops[i].svc.writer = NULL;
            server->svc.writer = NULL;
        }
    }
    if (server->svc.connections == 0 && !loop->wake_closed) {
        loop->wake_closed = true;
        uv_close((uv_handle_t *)&loop->wake, NULL);
    }
}

/* Another thread set something for this loop (server lock), and sent wake. */
static void loop_woken(uv_async_t *async)
{
    sb_loop_t *loop = async->data;
    sb_server_t *server = loop->server;
    sb__server_lock(server);
    if (loop->wake_closed) {
        sb__server_unlock(server);
        return;
    }
    sb__conn_woken(loop);
    if (server->stopping && !loop->stop_seen) {
        loop->stop_seen = true;
        sb__conn_stop_reading_all(loop);
    }
    if (loop->close_now_why != NULL) {
        sb__conn_close_now_all(loop, loop->close_now_why);
        loop->close_now_why = NULL;
    }
    if (server->closing_conns)
        loop_shutdown(loop);
    sb__server_unlock(server);
}

/* Draining took too long (a client that does not read its replies keeps
 * its connection's shutdown waiting): close what is left, and stop. */
static void drain_cb(uv_timer_t *timer)
{
    sb_server_t *server = timer->data;
    sb__server_lock(server);
    size_t open = server->svc.connections;
    sb_warn("stopping: %zu connection(s) still open after --drain-timeout-ms (%zu ms); closing "
            "them, unread replies dropped",
            open, server->cfg.drain_timeout_ms);
    for (unsigned i = 0; i < server->n_loops; i++)
        server->loops[i].close_now_why = "the server is stopping and its drain deadline passed";
    poke_all(server);
    if (server->inflight == 0)
        finish_shutdown(server);
    sb__server_unlock(server);
}

static void signal_cb(uv_signal_t *handle, int signum)
{
    sb_server_t *server = handle->data;
    sb__server_lock(server);
    if (server->stopping) {
        sb__server_unlock(server);
        return;
    }
    sb_info("%s: stopping: no new connections or requests; finishing %zu in flight",
            signum == SIGTERM ? "SIGTERM" : "SIGINT", server->inflight);
    server->stopping = true;
    sb_metrics_stopping(true);
    sb_systemd_stopping();
    /* The deadline does not keep the loop running by itself: once every
     * connection is closed, the server stops without waiting for it. */
    uv_timer_start(&server->drain, drain_cb, server->cfg.drain_timeout_ms, 0);
    uv_unref((uv_handle_t *)&server->drain);
    uv_close((uv_handle_t *)&server->listener, NULL);
    poke_all(server); /* each loop stops reading its connections */
    if (server->inflight == 0)
        finish_shutdown(server);
    sb__server_unlock(server);
}

/* ---- SIGHUP's plugin reload: plugin.reload's two steps, started by the signal ---- */

typedef struct hup_reload {
    sb_write_job_t job; /* first: the writer hands it back */
    uv_work_t work;
    sb_server_t *server;
    int rc;
    sb_err_t err;
    size_t loaded, refused;
} hup_reload_t;

/* Pool thread: the adapters load and render here, never on the loop. */
static void hup_reload_work(uv_work_t *work)
{
    hup_reload_t *h = work->data;
    h->rc = sb_plugins_reload(&h->server->svc, &h->loaded, &h->refused, &h->err);
}

/* Writer thread: the softphone views follow the new set (no adapter runs). */
static int hup_reload_run(sb_write_job_t *job)
{
    hup_reload_t *h = (hup_reload_t *)job;
    sb_store_t *store = h->server->svc.store;
    sb_store_who_t who = {"", "", "plugin.reload"}; /* the server's own, asked by SIGHUP */
    sb_store_change_begin(store, &who);
    h->rc = sb_store_views_refresh(store, NULL, &h->err);
    sb_store_change_end(store, h->rc);
    return h->rc;
}

static void hup_reload_fail(sb_write_job_t *job, int code, const char *message)
{
    hup_reload_t *h = (hup_reload_t *)job;
    h->rc = code;
    snprintf(h->err.message, sizeof(h->err.message), "%s", message);
}

static void hup_reload_finish(hup_reload_t *h);

/* Back on the first loop (the writer's, or the pool's completion): under the
 * server's lock, as every callback. */
static void hup_reload_done(sb_write_job_t *job)
{
    hup_reload_t *h = (hup_reload_t *)job;
    sb_server_t *server = h->server;
    sb__server_lock(server);
    hup_reload_finish(h);
    sb__server_unlock(server);
}

static void hup_reload_finish(hup_reload_t *h)
{
    sb_server_t *server = h->server;
    if (h->rc == 0)
        sb_info("SIGHUP: plugins reloaded from %s: %zu loaded, %zu refused (sbctl plugin list "
                "says why)",
                server->cfg.plugin_dir, h->loaded, h->refused);
    else
        sb_warn("SIGHUP: the plugin reload failed, the running set stays: %s", h->err.message);
    free(h);
    sb__server_request_done(server);
}

static void hup_reload_loaded(uv_work_t *work, int status)
{
    hup_reload_t *h = work->data;
    /* A replica's views come from its primary's log, never from its own writes. */
    if (status == 0 && h->rc == 0 && !sb_cluster_writable(h->server->svc.cluster)) {
        hup_reload_done(&h->job);
        return;
    }
    if (status != 0 || h->rc != 0 || h->server->writer == NULL) {
        if (status != 0 || h->rc == 0)
            snprintf(h->err.message, sizeof(h->err.message), "the server is stopping");
        h->rc = h->rc ? h->rc : -ECANCELED;
        hup_reload_done(&h->job);
        return;
    }
    h->job =
        (sb_write_job_t){.run = hup_reload_run, .fail = hup_reload_fail, .done = hup_reload_done};
    sb_writer_submit(h->server->writer, &h->job);
}

/* Starts the reload; counted as a request, so that a drain waits for it. */
static void hup_reload_start(sb_server_t *server)
{
    hup_reload_t *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        sb_warn("SIGHUP: no memory to reload the plugins; the running set stays");
        return;
    }
    h->server = server;
    h->work.data = h;
    sb_err_clear(&h->err);
    server->inflight++;
    if (uv_queue_work(server->loop, &h->work, hup_reload_work, hup_reload_loaded) != 0) {
        free(h);
        sb__server_request_done(server);
        sb_warn("SIGHUP: the plugin reload could not start; the running set stays");
    }
}

/* SIGHUP: the command line and its config file are read again, and what
 * may change while serving is applied (sb_config_reload); the rest is named
 * as needing a restart. Connections and requests carry on throughout. */
static void sighup_cb(uv_signal_t *handle, int signum)
{
    (void)signum;
    sb_server_t *server = handle->data;
    sb__server_lock(server);
    if (server->stopping) {
        sb__server_unlock(server);
        return;
    }
    sb_systemd_reloading();
    sb_config_t next;
    sb_config_action_t action;
    sb_err_t err;
    sb_err_clear(&err);
    int rc = sb_config_defaults(&next, &err);
    if (rc == 0)
        rc = sb_config_from_args(&next, server->argc, server->argv, &action, &err);
    if (rc == 0)
        rc = sb_config_resolve(&next, server->argv[0], &err);
    if (rc != 0) {
        sb_warn("SIGHUP: nothing reloaded, the running settings stay: %s", err.message);
        sb_systemd_ready("serving (the last reload failed: see the log)");
        sb__server_unlock(server);
        return;
    }
    char changed[2048], restart[512];
    sb_config_reload(&server->cfg, &next, changed, sizeof(changed), restart, sizeof(restart));
    const sb_config_t *cfg = &server->cfg;
    sb_log_set_level(cfg->log_level);
    sb_log_format_use(cfg->log_format);
    sb_writer_retain(server->writer, cfg->changes_keep,
                     (int64_t)cfg->changes_keep_hours * 3600 * 1000);
    sb_info("SIGHUP: settings reloaded: %s", changed[0] ? changed : "nothing changed");
    if (restart[0])
        sb_warn("SIGHUP: these settings changed but apply only after a restart: %s", restart);
    /* The plugin directory is read again (new, changed and removed adapters),
     * as sbctl plugin reload does: its own path changes only with a restart. */
    hup_reload_start(server);
    sb_systemd_ready("serving");
    sb__server_unlock(server);
}

/* Every connection is a file descriptor: raise the soft limit to the hard
 * one, so that --max-connections fits where the system allows it, and say
 * so when it does not. */
static void raise_open_files(sb_server_t *server)
{
    const sb_config_t *cfg = &server->cfg;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = old;
    }
    /* Past the files already open (the store, the plugins, the log) and
     * some room for what opens later (plugin children's sockets after a
     * restart, a backup's files), connections are refused with a log line
     * before accept() itself fails, which libuv handles without a word. */
    size_t open_now = 64; /* when /proc cannot say */
    DIR *fds = opendir("/proc/self/fd");
    if (fds != NULL) {
        open_now = 0;
        while (readdir(fds) != NULL)
            open_now++;
        closedir(fds);
    }
    size_t reserve = open_now + 32;
    if (rl.rlim_cur != RLIM_INFINITY)
        server->fd_connections = rl.rlim_cur > reserve ? (size_t)rl.rlim_cur - reserve : 1;
    size_t need = cfg->max_connections + cfg->max_unauthenticated + reserve;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        sb_warn("the open-files limit is %llu, and --max-connections %zu with "
                "--max-unauthenticated %zu need about %zu: connections past it are refused "
                "(raise LimitNOFILE= or ulimit -n, or lower --max-connections)",
                (unsigned long long)rl.rlim_cur, cfg->max_connections, cfg->max_unauthenticated,
                need);
    else
        sb_info("open files: up to %llu (%zu open at start): room for %zu connections",
                (unsigned long long)rl.rlim_cur, open_now, server->fd_connections);
}

/* The socket's directory must be the server's own unless the operator chose
 * another socket path. */
static int check_data_dir(const sb_config_t *cfg, bool default_socket, sb_err_t *err)
{
    struct stat st;
    if (stat(cfg->data_dir, &st) != 0)
        return sb_err_set(err, -EIO, "Cannot stat %s: %s.", cfg->data_dir, strerror(errno));
    if (default_socket && (st.st_mode & 077) != 0)
        return sb_err_set(err, -EACCES,
                          "The data directory %s can be entered by other users (mode %03o), and "
                          "the socket lives there: run 'chmod 700 %s', or pass --socket.",
                          cfg->data_dir, (unsigned)(st.st_mode & 0777), cfg->data_dir);
    return 0;
}

/* A socket file left by a server that died is removed; a live one is not. */
static int clear_stale_socket(const char *path, sb_err_t *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return sb_err_set(err, -EEXIST, "%s exists and is not a socket; move it away.", path);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path))
        return sb_err_set(err, -ENAMETOOLONG, "The socket path %s is too long.", path);
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    if (fd >= 0)
        close(fd);
    if (live)
        return sb_err_set(err, SB_E_STORE_LOCKED,
                          "Another server is listening on %s; stop it or pass another --socket.",
                          path);
    unlink(path);
    return 0;
}

/* How many loops: --loops, or the online CPUs; 1 to SB_LOOPS_MAX. */
static unsigned loops_wanted(const sb_config_t *cfg)
{
    size_t n = cfg->loops;
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (size_t)cpus : 1;
    }
    return n > SB_LOOPS_MAX ? SB_LOOPS_MAX : (unsigned)n;
}

/* A loop past the first: its thread runs it until its handles are closed. */
_Static_assert(SB_LOOPS_MAX <= SB_METRICS_LOOPS_MAX, "/readyz watches every loop");

static void loop_thread(void *arg)
{
    sb_loop_t *loop = arg;
    sb_metrics_loop_beat(loop->index); /* started: its ticker beats from here on */
    /* Its reads renew a read transaction of its own, as the first loop's do,
     * instead of beginning and aborting one each (the store ends after the
     * loops are joined). Without one they still work, only slower. */
    sb_err_t err;
    if (sb_store_reader_attach(loop->server->svc.store, &err) != 0)
        sb_warn("loop %u: %s", loop->index, err.message);
    uv_run(loop->loop, UV_RUN_DEFAULT);
}

/* Each loop's answer cache (the first loop's is the server's svc.answers). */
static int loops_caches(sb_server_t *server, sb_err_t *err)
{
    for (unsigned i = 0; i < server->n_loops; i++) {
        int rc = sb_answer_cache_new(server->cfg.answer_cache_slots, &server->loop_answers[i]);
        if (rc != 0)
            return sb_err_set(err, rc, "No memory for --answer-cache-slots %zu.",
                              server->cfg.answer_cache_slots);
    }
    server->svc.answers = server->loop_answers[0];
    server->svc.n_loops = server->n_loops;
    server->svc.loop_connections = server->loop_connections;
    server->svc.loop_answers = server->loop_answers;
    return 0;
}

/* Starts the loops' handles, and the threads of those past the first. A
 * thread that cannot start leaves its loop unused (fewer loops). */
static void loops_start(sb_server_t *server)
{
    for (unsigned i = 0; i < server->n_loops; i++) {
        sb_loop_t *loop = &server->loops[i];
        loop->server = server;
        loop->index = i;
        if (i == 0) {
            loop->loop = server->loop;
        } else if (uv_loop_init(&loop->own_loop) == 0) {
            loop->loop = &loop->own_loop;
        } else {
            sb_warn("--loops %u: loop %u could not start; serving with %u", server->n_loops, i, i);
            server->n_loops = server->svc.n_loops = i;
            break;
        }
        loop->svc = server->svc;
        loop->svc.answers = server->loop_answers[i];
        uv_async_init(loop->loop, &loop->wake, loop_woken);
        loop->wake.data = loop;
        uv_timer_init(loop->loop, &loop->ticker);
        loop->ticker.data = loop;
        uv_timer_start(&loop->ticker, loop_ticker_cb, 1000, 1000);
        sb__conn_handles_init(loop);
    }
    for (unsigned i = 1; i < server->n_loops; i++) {
        sb_loop_t *loop = &server->loops[i];
        loop->thread_started = uv_thread_create(&loop->thread, loop_thread, loop) == 0;
        if (loop->thread_started)
            continue;
        /* No connection has come yet: this loop and the ones after it are
         * closed here, and the server serves with the loops that run. */
        sb_warn("--loops %u: the thread of loop %u could not start; serving with %u loop(s)",
                server->n_loops, i, i);
        sb__server_lock(server); /* the loops started read n_loops */
        for (unsigned j = i; j < server->n_loops; j++) {
            sb_loop_t *unused = &server->loops[j];
            uv_close((uv_handle_t *)&unused->wake, NULL);
            uv_close((uv_handle_t *)&unused->ticker, NULL);
            sb__conn_handles_close(unused);
            uv_run(unused->loop, UV_RUN_DEFAULT);
            uv_loop_close(unused->loop);
        }
        server->n_loops = server->svc.n_loops = i;
        for (unsigned j = 0; j < i; j++)
            server->loops[j].svc.n_loops = i;
        sb__server_unlock(server);
        break;
    }
    sb_metrics_loops(server->n_loops);
}

/* After the first loop ran dry: the others' threads end once theirs do. */
static void loops_join(sb_server_t *server)
{
    for (unsigned i = 1; i < server->n_loops; i++) {
        sb_loop_t *loop = &server->loops[i];
        uv_thread_join(&loop->thread); /* every loop past n_loops was closed at start */
        uv_loop_close(loop->loop);
    }
    for (unsigned i = 0; i < server->n_loops; i++)
        sb__conn_spares_free(&server->loops[i]);
}

static int start_listening(sb_server_t *server, sb_err_t *err)
{
    const char *path = server->cfg.socket_path;
    int rc = clear_stale_socket(path, err);
    if (rc != 0)
        return rc;
    uv_pipe_init(server->loop, &server->listener, 0);
    server->listener.data = server;
    rc = uv_pipe_bind(&server->listener, path);
    if (rc == 0) {
        chmod(path, 0600);
        rc = uv_listen((uv_stream_t *)&server->listener, 128, on_connection);
    }
    if (rc != 0) {
        uv_close((uv_handle_t *)&server->listener, NULL);
        return sb_err_set(err, -EIO, "Cannot listen on %s: %s.", path, uv_strerror(rc));
    }
    return 0;
}

/* --cluster with --shard or --replica-of (docs/cluster.md): before the
 * first write of the server's own (the admin token), so that a primary
 * publishes it and a replica refuses it. A replica serves with its
 * primary's admin token: it may not make one of its own. */
static int open_cluster(sb_server_t *server, sb_store_t *store, sb_err_t *err)
{
    const sb_config_t *cfg = &server->cfg;
    if (cfg->cluster_urls[0] == '\0')
        return 0;
    bool replica = cfg->replica_of[0] != '\0';
    if (replica) {
        char token[PATH_MAX];
        sb_path_join(token, sizeof(token), cfg->data_dir, SB_ADMIN_TOKEN_NAME);
        if (access(token, F_OK) != 0)
            return sb_err_set(err, -EINVAL,
                              "A replica has no admin token of its own: copy %s from the "
                              "shard's primary's data directory to %s.",
                              SB_ADMIN_TOKEN_NAME, token);
    }
    sb_cluster_opts_t opts = {.urls = cfg->cluster_urls,
                              .shard = replica ? cfg->replica_of : cfg->shard,
                              .replica = replica,
                              .member = cfg->member,
                              .data_dir = cfg->data_dir,
                              .socket = cfg->socket_path};
    return sb_cluster_open(&opts, store, &server->svc.cluster, err);
}

int sb_server_run(const sb_config_t *cfg, int argc, char **argv)
{
    sb_server_t *server = calloc(1, sizeof(*server));
    if (server == NULL)
        return 1;
    server->cfg = *cfg;
    pthread_mutex_init(&server->gate, NULL);
    pthread_condattr_t attr; /* the waits' deadlines on the monotonic clock */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&server->turn, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&server->ended.lock, NULL);
    server->n_loops = loops_wanted(cfg);
    server->argc = argc;
    server->argv = argv;
    /* Adapter calls and definition checks wait on libuv's thread pool (a
     * method's prepare step): more threads than libuv's 4, so that requests
     * held by a hanging adapter (up to its deadline) leave room for the rest.
     * The pool starts with the first work queued; an operator's value wins. */
    setenv("UV_THREADPOOL_SIZE", "16", 0);
    server->loop = uv_default_loop();
    sb_log_set_level(cfg->log_level);
    sb_log_format_use(cfg->log_format);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    server->svc = (sb_service_t){.config = &server->cfg,
                                 .started_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000};
    sb_err_t err;
    sb_err_clear(&err);
    int exit_code = 1;
    sb_store_t *store = NULL;
    sb_store_opts_t opts = {.dir = cfg->data_dir,
                            .initial_map_bytes = cfg->initial_map_bytes,
                            .max_map_bytes = cfg->max_map_bytes,
                            .durability = cfg->durability};
    char default_socket[PATH_MAX];
    sb_path_join(default_socket, sizeof(default_socket), cfg->data_dir, SB_SOCKET_NAME);
    int created = 0, rc = sb_token_init();
    if (rc != 0)
        sb_err_set(&err, rc, "libsodium could not initialize.");
    if (rc == 0 && (rc = sb_metrics_init()) != 0)
        sb_err_default(&err, rc);
    if (rc == 0)
        rc = sb_store_open(&opts, &store, &err);
    if (rc == 0)
        rc = check_data_dir(cfg, strcmp(default_socket, cfg->socket_path) == 0, &err);
    if (rc == 0)
        rc = open_cluster(server, store, &err);
    if (rc == 0)
        rc = sb_token_ensure_admin(store, cfg->data_dir, &created, &err);
    server->svc.store = store;
    if (rc == 0 && (rc = sb_plugin_host_new(cfg->plugin_dir, &server->svc.plugins)) != 0)
        sb_err_default(&err, rc);
    if (rc == 0)
        sb_plugin_host_set_isolation(server->svc.plugins, cfg->plugin_runner, cfg->in_process,
                                     (unsigned)cfg->plugin_deadline_ms);
    if (rc == 0 && (rc = sb_renders_new(server->svc.plugins, &server->svc.renders)) != 0)
        sb_err_default(&err, rc);
    if (rc == 0)
        rc = loops_caches(server, &err);
    size_t plugins_loaded = 0, plugins_refused = 0;
    if (rc == 0)
        rc = sb_plugin_host_load(server->svc.plugins, &plugins_loaded, &plugins_refused, &err);
    if (rc == 0) {
        /* The adapters may differ from the last run's: every view is rendered
         * again. The adapters render first (trusted ones still in their trial
         * child: one that crashes there is refused, not the server's end);
         * the views then take the renderings without calling any adapter. */
        rc = sb_softphone_prerender_all(server->svc.renders, store, &err);
        sb_plugin_host_end_trial(server->svc.plugins);
        sb_store_set_renderer(store, sb_softphone_render, server->svc.renders);
    }
    /* A replica's views come from its primary's log: a write of its own is
     * refused (its publish hook), and with it the start. */
    if (rc == 0 && sb_cluster_writable(server->svc.cluster))
        rc = sb_store_views_refresh(store, NULL, &err);
    if (rc == 0) {
        size_t n = 0;
        sb_plugin_info_t *rows = NULL;
        if (sb_plugin_host_list(server->svc.plugins, &rows, &n) == 0) {
            plugins_loaded = 0;
            for (size_t i = 0; i < n; i++)
                plugins_loaded += rows[i].loaded;
            plugins_refused = n - plugins_loaded;
        }
        free(rows);
    }
    if (rc == 0)
        rc = sb_writer_start(server->loop, store, 1024, &server->writer);
    if (rc == 0)
        sb_writer_retain(server->writer, cfg->changes_keep,
                         (int64_t)cfg->changes_keep_hours * 3600 * 1000);
    /* Any member may become the primary (cluster.promote): each has the resync. */
    if (rc == 0 && server->svc.cluster != NULL)
        sb_writer_resync(server->writer, sb_cluster_resync, server->svc.cluster);
    if (rc == 0)
        rc = sb_cluster_start(server->svc.cluster, &err);
    server->svc.writer = server->writer;
    sb_metrics_store_open(store != NULL);
    unsigned metrics_port = 0;
    if (rc == 0 && cfg->metrics_address[0] != '\0')
        rc = sb_metrics_http_start(cfg->metrics_address, &server->http, &metrics_port, &err);
    if (rc == 0)
        rc = start_listening(server, &err);
    if (rc != 0) {
        fprintf(stderr, "switchboardd: %s\n", err.message[0] ? err.message : sb_err_message(rc));
        if (server->writer)
            sb_writer_stop(server->writer);
        uv_run(server->loop, UV_RUN_DEFAULT); /* closes what was opened */
        goto out;
    }
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up is a write error, not a death */
    uv_signal_init(server->loop, &server->sigterm);
    uv_signal_init(server->loop, &server->sigint);
    server->sigterm.data = server->sigint.data = server;
    uv_signal_start(&server->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&server->sigint, signal_cb, SIGINT);
    uv_signal_init(server->loop, &server->sighup);
    server->sighup.data = server;
    uv_signal_start(&server->sighup, sighup_cb, SIGHUP);
    uv_timer_init(server->loop, &server->watchdog);
    uint64_t watchdog_ms = sb_systemd_watchdog_ms();
    if (watchdog_ms > 0) /* twice a period, as sd_watchdog_enabled(3) advises */
        uv_timer_start(&server->watchdog, watchdog_cb, 0, watchdog_ms / 2 ? watchdog_ms / 2 : 1);
    uv_timer_init(server->loop, &server->ticker);
    server->ticker.data = server;
    uv_timer_start(&server->ticker, ticker_cb, 1000, 1000);
    uv_timer_init(server->loop, &server->drain);
    server->drain.data = server;
    raise_open_files(server);

    char token_path[PATH_MAX];
    sb_path_join(token_path, sizeof(token_path), cfg->data_dir, SB_ADMIN_TOKEN_NAME);
    sb_info("switchboardd listening on %s (data in %s, durability %s)", cfg->socket_path,
            cfg->data_dir, cfg->durability == SB_DURABILITY_FULL ? "full" : "none");
    sb_info("the admin token is in %s%s (mode 0600; sbctl reads it by itself)", token_path,
            created ? ", made just now" : "");
    sb_info("%zu adapter plugin(s) loaded and %zu refused from %s", plugins_loaded, plugins_refused,
            cfg->plugin_dir);
    if (server->http != NULL) {
        /* The port bound, which --metrics-address may leave to the system (0). */
        const char *colon = strrchr(cfg->metrics_address, ':');
        int host_len = colon ? (int)(colon - cfg->metrics_address) : 0;
        sb_info("metrics on http://%.*s:%u/metrics, health on /healthz and /readyz", host_len,
                cfg->metrics_address, metrics_port);
    }
    sb_info("try: sbctl%s%s server info",
            strcmp(default_socket, cfg->socket_path) ? " --socket " : "",
            strcmp(default_socket, cfg->socket_path) ? cfg->socket_path : "");
    sb_metrics_sample(store, server->svc.plugins, server->svc.cluster); /* ready at once */
    loops_start(server);
    sb_info("serving on %u event loop%s (--loops)", server->n_loops,
            server->n_loops == 1 ? "" : "s");
    sb_systemd_ready("serving");
    uv_run(server->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&server->drain, NULL);
    uv_run(server->loop, UV_RUN_DEFAULT);
    loops_join(server);
    unlink(cfg->socket_path);
    sb_metrics_http_stop(server->http);
    server->http = NULL;
    sb_info("stopped cleanly");
    exit_code = 0;
out:
    sb_metrics_http_stop(server->http);
    sb_metrics_store_open(false);
    if (store != NULL)
        sb_store_set_renderer(store, NULL, NULL);
    sb_renders_free(server->svc.renders);
    sb_plugin_host_free(server->svc.plugins);
    for (unsigned i = 0; i < SB_LOOPS_MAX; i++)
        sb_answer_cache_free(server->loop_answers[i]);
    sb_cluster_free(server->svc.cluster); /* after the writer: it publishes through it */
    sb_store_close(store);
    uv_loop_close(server->loop);
    pthread_mutex_destroy(&server->ended.lock);
    pthread_mutex_destroy(&server->gate);
    pthread_cond_destroy(&server->turn);
    free(server);
    return exit_code;
}
