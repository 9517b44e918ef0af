/* switchboardd: the Switchboard server. See `switchboardd --help`. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#include "config.h"
#include "methods.h"
#include "server.h"
#include "version.h"

/* Started with standard input, output or error closed, the server's first
 * files would take their numbers: the log would go into a client's socket,
 * and libuv refuses to run its loop on descriptor 0 to 2. */
static void open_standard_files(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int null = open("/dev/null", O_RDWR);
        if (null >= 0 && null != fd) {
            dup2(null, fd);
            close(null);
        }
    }
}

int main(int argc, char **argv)
{
    open_standard_files();
    sb_config_t cfg;
    sb_err_t err;
    sb_config_action_t action;
    /* Requests and replies come and go by the hundred thousand a second:
     * keep freed memory for the next ones rather than giving it back to the
     * kernel and faulting it in again (measured: about 7% more look-ups a
     * second with pipelining clients, bench/RESULTS.md). What a burst
     * leaves behind (a thousand large messages) is handed back by the
     * server's once-a-second check, which trims the heap after 8 MiB or more
     * of buffers were freed (sb__conn_check_timeouts in conn.c). */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    if (sb_config_defaults(&cfg, &err) != 0 ||
        sb_config_from_args(&cfg, argc, argv, &action, &err) != 0 ||
        (action == SB_CONFIG_RUN && sb_config_resolve(&cfg, argv[0], &err) != 0)) {
        fprintf(stderr, "switchboardd: %s\n", err.message);
        return 2;
    }
    switch (action) {
    case SB_CONFIG_HELP:
        sb_config_usage(stdout);
        return 0;
    case SB_CONFIG_VERSION:
        printf("switchboardd %s\n", SB_VERSION);
        return 0;
    case SB_CONFIG_PROTOCOL_DOC:
        sb_protocol_doc(stdout);
        return 0;
    case SB_CONFIG_RUN:
        break;
    }
    return sb_server_run(&cfg, argc, argv);
}
