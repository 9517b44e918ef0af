#pragma once
/*
 * Telling systemd how the server is doing (Type=notify): ready once it
 * listens, reloading around SIGHUP, stopping when it drains, and the
 * watchdog's pings from the event loop, so that a stuck loop stops them.
 * Without systemd (no NOTIFY_SOCKET), every call does nothing.
 */

#include <stdint.h>

/** READY=1, with a status line for `systemctl status`. */
void sb_systemd_ready(const char *status);

/** RELOADING=1 (a SIGHUP is being applied); READY=1 follows with sb_systemd_ready. */
void sb_systemd_reloading(void);

/** STOPPING=1 (draining after SIGTERM or SIGINT). */
void sb_systemd_stopping(void);

/** The watchdog's period in ms when WatchdogSec= is set for this process, else 0. */
uint64_t sb_systemd_watchdog_ms(void);

/** WATCHDOG=1. */
void sb_systemd_watchdog_ping(void);
