#include "systemd.h"

#include <systemd/sd-daemon.h>
#include <time.h>

void sb_systemd_ready(const char *status)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void sb_systemd_reloading(void)
{
    /* MONOTONIC_USEC lets a systemd that knows Type=notify-reload match
     * this reload to its request; older ones ignore it. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sd_notifyf(0, "RELOADING=1\nSTATUS=reloading its settings\nMONOTONIC_USEC=%llu",
               (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

void sb_systemd_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=draining: answering what is in flight");
}

uint64_t sb_systemd_watchdog_ms(void)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0)
        return 0;
    return usec / 1000 > 0 ? usec / 1000 : 1;
}

void sb_systemd_watchdog_ping(void)
{
    sd_notify(0, "WATCHDOG=1");
}
