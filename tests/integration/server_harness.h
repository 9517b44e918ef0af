#pragma once
/*
 * Runs a real switchboardd on a temporary data directory for a test, and
 * talks to it with the real client (client/client.h) or raw bytes.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "client.h"

typedef struct sb_harness {
    char *dir;        /* the data directory (owned) */
    char socket[108]; /* sun_path */
    char token[128];  /* the admin token */
    pid_t pid;
} sb_harness_t;

/**
 * Starts switchboardd on `dir` (NULL: a new temporary directory) with the
 * extra flags (NULL-terminated), waits until it answers, reads the admin
 * token. Fails the test when it cannot.
 */
void sb_harness_start(sb_harness_t *h, const char *dir, const char *const *flags);

/** SIGTERM, then waits; returns the exit status. Keeps the directory. */
int sb_harness_stop(sb_harness_t *h);

/** SIGKILL, then waits. Keeps the directory. */
void sb_harness_kill(sb_harness_t *h);

/** Removes the directory. */
void sb_harness_cleanup(sb_harness_t *h);

/** A client connected and authenticated with `token` (NULL: the admin's). */
void sb_harness_client(sb_harness_t *h, sb_client_t *c, const char *token);

/** A raw socket connected to the server. */
int sb_harness_raw(sb_harness_t *h);

/** Whether the peer closed `fd` within `ms` milliseconds (reading and dropping what comes). */
bool sb_harness_closed_within(int fd, int ms);
