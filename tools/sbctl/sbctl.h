#pragma once
/* sbctl's parts: the command line (sbctl.c), printing (output.c), CSV imports (import.c). */

#include <msgpack.h>
#include <stdbool.h>

#include "client.h"

/* Exit statuses, as the README documents them. */
enum {
    SBCTL_OK = 0,
    SBCTL_REFUSED = 1,    /* the server said no */
    SBCTL_USAGE = 2,      /* the command line is wrong */
    SBCTL_UNREACHABLE = 3 /* no server at the socket */
};

/** Prints a method's result for people (tables, "key: value" lines). */
void sbctl_print_human(const char *method, const msgpack_object *result);

/** Prints a result as JSON (with jansson). Returns 0 or -ENOMEM. */
int sbctl_print_json(const msgpack_object *result);

/** `what` is "user" or "member": imports a CSV file in chunks. Returns an exit status. */
int sbctl_import(sb_client_t *client, const char *what, const char *org, const char *path,
                 size_t chunk, bool move, bool json);
