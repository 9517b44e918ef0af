#include "server_harness.h"

#include "sb_test.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Servers still running when the test program ends (a failed assertion
 * skips the test's own stop): killed, so that none outlives the test. */
static pid_t running[16];

static void kill_leftovers(void)
{
    for (size_t i = 0; i < 16; i++)
        if (running[i] > 0)
            kill(running[i], SIGKILL);
}

static void remember_pid(pid_t pid, pid_t old)
{
    static bool registered;
    if (!registered && atexit(kill_leftovers) == 0)
        registered = true;
    for (size_t i = 0; i < 16; i++)
        if (running[i] == old) {
            running[i] = pid;
            return;
        }
}

void sb_harness_start(sb_harness_t *h, const char *dir, const char *const *flags)
{
    if (dir == NULL) {
        memset(h, 0, sizeof(*h));
        h->dir = sb_test_tmpdir();
    }
    if (snprintf(h->socket, sizeof(h->socket), "%s/switchboard.sock", h->dir) >=
        (int)sizeof(h->socket))
        fail_msg("the temporary directory's path is too long for a socket");
    char log[4200];
    snprintf(log, sizeof(log), "%s/server.log", h->dir);
    /* Two event loops unless a test asks otherwise (a later --loops wins):
     * every test's connections spread over two threads, as on a server with
     * several cores. SB_TEST_LOOPS changes the default (1: the old single loop). */
    const char *loops = getenv("SB_TEST_LOOPS") ? getenv("SB_TEST_LOOPS") : "2";
    const char *argv[36] = {SB_SWITCHBOARDD, "--data-dir", h->dir, "--loops", loops};
    int argc = 5;
    for (int i = 0; flags && flags[i] && argc < 34; i++)
        argv[argc++] = flags[i];
    argv[argc] = NULL;
    h->pid = fork();
    if (h->pid == 0) {
        /* Neither output may stay tied to the test's: a test runner waits
         * for its pipes to close. */
        FILE *out = freopen(log, "a", stderr);
        out = freopen("/dev/null", "w", stdout);
        (void)out;
        execv(SB_SWITCHBOARDD, (char *const *)argv);
        _exit(127);
    }
    remember_pid(h->pid, 0);
    /* Ready when the admin token can authenticate. */
    for (int tries = 0; tries < 200; tries++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/admin.token", h->dir);
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            if (fgets(h->token, sizeof(h->token), f) == NULL)
                h->token[0] = '\0';
            fclose(f);
            h->token[strcspn(h->token, "\n")] = '\0';
            sb_client_t c;
            if (h->token[0]) {
                int rc = sb_client_open(&c, h->socket, NULL);
                if (rc == 0)
                    rc = sb_client_authenticate(&c, h->token);
                sb_client_close(&c);
                if (rc == 0)
                    return;
            }
        }
        int status;
        if (waitpid(h->pid, &status, WNOHANG) == h->pid)
            fail_msg("switchboardd exited at start (status %d); see %s", status, log);
        sleep_ms(25);
    }
    fail_msg("switchboardd did not come up; see %s", log);
}

int sb_harness_stop(sb_harness_t *h)
{
    int status = -1;
    if (h->pid > 0) {
        kill(h->pid, SIGTERM);
        waitpid(h->pid, &status, 0);
        remember_pid(0, h->pid);
        h->pid = 0;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void sb_harness_kill(sb_harness_t *h)
{
    if (h->pid > 0) {
        kill(h->pid, SIGKILL);
        waitpid(h->pid, NULL, 0);
        remember_pid(0, h->pid);
        h->pid = 0;
    }
}

void sb_harness_cleanup(sb_harness_t *h)
{
    sb_harness_kill(h);
    sb_test_rmdir(h->dir);
    h->dir = NULL;
}

void sb_harness_client(sb_harness_t *h, sb_client_t *c, const char *token)
{
    sb_err_t err;
    if (sb_client_open(c, h->socket, &err) != 0)
        fail_msg("connect: %s", err.message);
    if (sb_client_authenticate(c, token ? token : h->token) != 0)
        fail_msg("authenticate: %s %s", sb_client_error_name(c), sb_client_error_message(c));
}

int sb_harness_raw(sb_harness_t *h)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, h->socket, sizeof(h->socket));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
        fail_msg("raw connect to %s failed", h->socket);
    return fd;
}

bool sb_harness_closed_within(int fd, int ms)
{
    char buf[65536];
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed > ms)
            return false;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(ms - elapsed)) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
    }
}
