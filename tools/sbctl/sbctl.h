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

/** Prints one write of the change log (audit.list's item, a changes notification) on a line. */
void sbctl_print_change(const msgpack_object *change);

/** Prints a result as JSON (with jansson). Returns 0 or -ENOMEM. */
int sbctl_print_json(const msgpack_object *result);

typedef struct sbctl_import_opts {
    size_t chunk;             /* rows per request; 0: as many as the server's limits take */
    bool move;                /* members: move users between Call Centers */
    bool revoke;              /* licences: take them back */
    const char *callcenter;   /* contacts: whose dialing prefixes read the numbers */
    const char *country_code; /* contacts: of national numbers, or NULL */
    const char *columns;      /* "id=Id,profile=Profile.Name": the header's names, or NULL */
    bool data_loader;         /* users: a Salesforce Data Loader export (Id,Name,Profile.Name) */
    size_t from_line;         /* import the records from this line of the file on; 0: all */
    const char *command;      /* how the import was typed, for the resume hint [borrowed] */
} sbctl_import_opts_t;

/** `what` is "user", "member", "contact" or "licence": imports a CSV file in chunks. Returns an
 * exit status.
 */
int sbctl_import(sb_client_t *client, const char *what, const char *org, const char *path,
                 const sbctl_import_opts_t *opts, bool json);

/**
 * sbctl backup FILE: pulls a hot backup over `client` into FILE (via
 * FILE.tmp, fsynced, renamed); refuses an existing FILE unless `force`.
 * Prints the size, sequence and checksum. Returns an exit status.
 */
int sbctl_backup(sb_client_t *client, const char *file, bool force, bool json);

/** Where sbctl org move sends an org. [borrowed: for the call] */
typedef struct sbctl_move_target {
    sb_client_t *dst; /* the target server (its primary, in a cluster), authenticated */
    const char *to;   /* what MOVED names: the target's socket, or "shard S" */
    /* In a cluster (--to SHARD): the handle whose placement bucket the move switches, the
     * org's shard and the target shard; all NULL between two servers given by socket. */
    sb_client_cluster_t *cluster;
    const char *from_shard, *to_shard;
} sbctl_move_target_t;

/**
 * sbctl org move: moves `org` from the server of `src` to `target`'s (both
 * authenticated as the admin); in a cluster, the placement bucket's
 * org.<ORG> is switched to the target shard just before the target commits
 * (and switched back when the commit is refused). On a failure before the
 * commit, undoes it on both. Prints what it did and how long the org's
 * writes paused. Returns an exit status.
 */
int sbctl_org_move(sb_client_t *src, const sbctl_move_target_t *target, const char *org, bool json);
