/*
 * libswitchboard-client: talk to switchboardd from C without writing a line
 * of msgpack-RPC framing.
 *
 * A blocking client over the server's Unix socket: connect, authenticate
 * with a token, call any method (docs/protocol.md) with its arguments as a
 * packed msgpack map, and read the result as a msgpack object. Requests may
 * be pipelined: send many, then receive the answers, matched by msgid.
 *
 *   sb_client_t *c;
 *   msgpack_unpacked result;
 *   if (sb_client_new(&c) != 0)
 *       return -1;
 *   if (sb_client_connect(c, NULL) != 0 || sb_client_authenticate(c, token) != 0 ||
 *       sb_client_call(c, "server.info", NULL, 0, &result) != 0)
 *       fprintf(stderr, "%s %s\n", sb_client_error_name(c), sb_client_error_message(c));
 *   else
 *       msgpack_object_print(stdout, result.data);
 *   msgpack_unpacked_destroy(&result);
 *   sb_client_free(c);
 *
 * Results are msgpack-c objects (msgpack.h, Debian's libmsgpack-dev): the
 * server's answers are maps and arrays, and an integrator who packs the
 * arguments with msgpack-c reads them with the same library.
 *
 * Threads: a client is one connection; use it from one thread at a time.
 * Open one client per thread, or guard it with a lock.
 *
 * Return codes: 0, SB_CLIENT_REFUSED (the server answered with an error:
 * read it with sb_client_error_code/_name/_message), or a negative errno
 * (the connection failed; sb_client_error_message says how).
 *
 * Link with `pkg-config --cflags --libs switchboard-client`. docs/client.md
 * has the guide.
 */
#ifndef SWITCHBOARD_CLIENT_H
#define SWITCHBOARD_CLIENT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header. The library's SONAME carries the major:
 * libswitchboard-client.so.MAJOR; a minor release only adds functions. */
#define SB_CLIENT_VERSION_MAJOR 0
#define SB_CLIENT_VERSION_MINOR 1
#define SB_CLIENT_VERSION_PATCH 0
#define SB_CLIENT_VERSION                                                                          \
    ((SB_CLIENT_VERSION_MAJOR << 16) | (SB_CLIENT_VERSION_MINOR << 8) | SB_CLIENT_VERSION_PATCH)

/** Returned when the server answered the request with an error (positive, unlike errnos). */
#define SB_CLIENT_REFUSED 1

/** One connection to switchboardd. Opaque: create with sb_client_new. */
typedef struct sb_client sb_client_t;

/** The library's version as SB_CLIENT_VERSION computes it, to compare with the header's. */
unsigned sb_client_version(void);

/**
 * Allocates a client, not yet connected.
 * @param client  out: [owned: free with sb_client_free()]; NULL on failure
 * @return 0, -EINVAL (client is NULL) or -ENOMEM
 */
int sb_client_new(sb_client_t **client);

/**
 * Closes the connection, if any, and frees the client and every result it
 * lent (sb_client_recv's). sb_client_free(NULL) does nothing.
 */
void sb_client_free(sb_client_t *client);

/**
 * Connects to the server's Unix socket.
 * @param client  a client from sb_client_new that is not connected
 * @param path    [copied] the socket; NULL for the local server's default:
 *                $SB_DATA_DIR/switchboard.sock, else
 *                $XDG_DATA_HOME/switchboard/switchboard.sock, else
 *                $HOME/.local/share/switchboard/switchboard.sock
 * @return 0; -EINVAL (client NULL); -EISCONN (already connected);
 *         -ENAMETOOLONG (path longer than a socket address holds);
 *         -ENOENT (NULL path and no HOME); or connect(2)'s errno, e.g.
 *         -ENOENT (no socket there), -ECONNREFUSED (no server listening),
 *         -EACCES. sb_client_error_message says which, in a sentence.
 */
int sb_client_connect(sb_client_t *client, const char *path);

/**
 * token.authenticate: a connection does nothing else until it has.
 * @param token  [copied] an admin or org token (the server's admin token
 *               is in its data directory, admin.token, mode 0600)
 * @return 0, SB_CLIENT_REFUSED (e.g. UNAUTHENTICATED: a wrong token), or a
 *         negative errno as sb_client_call
 */
int sb_client_authenticate(sb_client_t *client, const char *token);

/**
 * Calls `method` and waits for its answer. Do not mix with unanswered
 * sb_client_send requests: this call takes the next answer as its own
 * (-EPROTO if it is not).
 * @param method    [copied] e.g. "softphone.check" (docs/protocol.md)
 * @param args      [copied] a packed msgpack map of named arguments, as
 *                  msgpack_sbuffer.data holds it; NULL for none
 * @param args_len  its length in bytes (0 with NULL)
 * @param result    out: initialised by the call whatever it returns;
 *                  on 0, result->data is the method's result;
 *                  [owned: release with msgpack_unpacked_destroy()]
 * @return 0; SB_CLIENT_REFUSED; -EINVAL (a NULL client, method or result,
 *         or args NULL with a length); -ENOTCONN; -ENOMEM; -EPIPE,
 *         -ECONNRESET (the server closed the connection; it does on a
 *         framing error, at its limits, and when it stops); -EPROTO (the
 *         answer is not msgpack-RPC, or answers another request);
 *         -EMSGSIZE (an answer over the client's limit, 64 MiB); or
 *         another errno of send(2)/recv(2). After a negative errno the
 *         connection is unusable: free the client.
 */
int sb_client_call(sb_client_t *client, const char *method, const void *args, size_t args_len,
                   msgpack_unpacked *result);

/**
 * Pipelining: sends a request without waiting for its answer.
 * @param args, args_len  as sb_client_call
 * @param msgid           out: the id its answer will carry
 * @return 0, or a negative errno as sb_client_call. The server bounds the
 *         requests in flight per connection (server.info: max_in_flight):
 *         receive answers before sending more than that.
 */
int sb_client_send(sb_client_t *client, const char *method, const void *args, size_t args_len,
                   uint32_t *msgid);

/**
 * Waits for the next answer to a request sent with sb_client_send. The
 * server answers reads in the order sent, but a write only after its commit
 * (possibly after later reads), so match answers by *msgid.
 * @param msgid   out: the id of the request this answers
 * @param result  out: on 0, the result; [borrowed: valid until the next
 *                sb_client_recv, sb_client_call or sb_client_free on this
 *                client]; NULL otherwise
 * @return 0; SB_CLIENT_REFUSED (*msgid is set: that request was refused);
 *         or a negative errno as sb_client_call
 */
int sb_client_recv(sb_client_t *client, uint32_t *msgid, const msgpack_object **result);

/*
 * The lean path: what a program that pipelines many requests uses (sbbench
 * does). Requests are queued in the client's output buffer and go out
 * together in one send(2) when the caller waits for an answer (or calls
 * sb_client_flush); answers are lent as their msgpack bytes, and read with
 * the accessors below, which decode only the keys asked for. Neither
 * direction allocates once the client's buffers have grown to the size of a
 * round.
 *
 *   for (i = 0; i < 16; i++)
 *       sb_client_queue(c, "softphone.check", args[i], len[i], &ids[i]);
 *   for (i = 0; i < 16; i++) {            // the first receive sends all 16 at once
 *       sb_client_answer_t a;
 *       const char *reason; size_t n;
 *       if (sb_client_recv_answer(c, &msgid, &a) == 0 &&
 *           sb_client_answer_str(&a, "reason", &reason, &n) == 0)
 *           printf("%u: %.*s\n", msgid, (int)n, reason);
 *   }
 */

/**
 * Queues a request without sending it: it goes out, with every request
 * queued before it, at the next sb_client_flush, sb_client_send,
 * sb_client_call or receive (sb_client_recv, sb_client_recv_answer). The
 * queue holds at most 256 KiB: a request past that flushes what is queued
 * first. Do not poll(2) for its answer before flushing.
 * @param args, args_len, msgid  as sb_client_send
 * @return 0, or a negative errno as sb_client_send
 */
int sb_client_queue(sb_client_t *client, const char *method, const void *args, size_t args_len,
                    uint32_t *msgid);

/**
 * Sends every queued request now, in one send(2) when the socket takes it
 * whole. 0 with nothing queued.
 * @return 0, or a negative errno as sb_client_send
 */
int sb_client_flush(sb_client_t *client);

/**
 * An answer as its bytes: one msgpack object (a map, an array, a string,
 * ...) at data[0..len). [borrowed: from the client's read buffer, valid
 * until the next receive, sb_client_call or sb_client_free on the client
 * it came from] Decode it whole with msgpack_unpack_next(), or read parts
 * with the sb_client_answer_* accessors, which decode nothing else.
 */
typedef struct sb_client_answer {
    const uint8_t *data;
    size_t len;
} sb_client_answer_t;

/**
 * sb_client_recv, lending the result as its bytes instead of decoding it
 * (flushes queued requests first).
 * @param msgid   out: the id of the request this answers
 * @param answer  out: on 0, the result's bytes; {NULL, 0} otherwise
 * @return 0; SB_CLIENT_REFUSED (*msgid set; the error as sb_client_recv);
 *         or a negative errno as sb_client_recv
 */
int sb_client_recv_answer(sb_client_t *client, uint32_t *msgid, sb_client_answer_t *answer);

/**
 * The value of `key` in the map `map`, as its bytes (nil included).
 * @return 0; -ENOENT (no such key); -EPROTO (map is not a map); -EINVAL
 */
int sb_client_answer_find(const sb_client_answer_t *map, const char *key,
                          sb_client_answer_t *value);

/**
 * The string under `key` in `map`. [borrowed: as the answer's bytes; not
 * NUL-terminated] -ENOENT also when the value is nil; -EPROTO when it is
 * not a string (or map not a map).
 */
int sb_client_answer_str(const sb_client_answer_t *map, const char *key, const char **str,
                         size_t *len);

/** The boolean under `key` in `map`; errors as sb_client_answer_str. */
int sb_client_answer_bool(const sb_client_answer_t *map, const char *key, bool *value);

/** The integer under `key` in `map` (unsigned ones above INT64_MAX: -ERANGE); errors as _str. */
int sb_client_answer_int(const sb_client_answer_t *map, const char *key, int64_t *value);

/**
 * Opens the array `array`: *count items, whose bytes *items holds, to take
 * one at a time with sb_client_answer_next.
 * @return 0, -EPROTO (not an array) or -EINVAL
 */
int sb_client_answer_items(const sb_client_answer_t *array, uint32_t *count,
                           sb_client_answer_t *items);

/**
 * Takes the first item off `items` (from sb_client_answer_items) into *item.
 * @return 0; -ENOENT (no item left); -EPROTO (bytes that are not msgpack)
 */
int sb_client_answer_next(sb_client_answer_t *items, sb_client_answer_t *item);

/**
 * The server's error code after SB_CLIENT_REFUSED (a stable integer,
 * docs/protocol.md); 0 when the last call was not refused.
 */
int sb_client_error_code(const sb_client_t *client);

/**
 * The server's error name after SB_CLIENT_REFUSED (e.g. "NOT_FOUND"); ""
 * otherwise. [borrowed: valid until the next call on this client]
 */
const char *sb_client_error_name(const sb_client_t *client);

/**
 * A sentence for the last failure: the server's message after
 * SB_CLIENT_REFUSED, what went wrong after a negative errno, "" after
 * success. Truncated at 1 KiB. [borrowed: valid until the next call on this client]
 */
const char *sb_client_error_message(const sb_client_t *client);

/** The connection's file descriptor (for poll(2)); -1 when not connected. Do not close it. */
int sb_client_fd(const sb_client_t *client);

/*
 * Cluster mode (docs/cluster.md "Routing"): one handle for every shard of a
 * cluster. It connects to NATS, reads the placement bucket (SB_placement)
 * and watches it on a thread of its own, and sends each call to the right
 * member over a connection it opens on first use and keeps:
 *   - a request whose arguments carry "org" goes to the org's shard: a write
 *     (a method the server's table marks as writing) to the shard's primary,
 *     a read to the primary and its replicas in turn (fenced ones skipped);
 *   - a request without an org goes to the member set with
 *     sb_client_cluster_set_member, else to the primary of the first shard
 *     by name; sb_client_cluster_call_shard names the shard instead (an
 *     org.create);
 *   - NOT_PRIMARY or MOVED: it waits (up to 2 s) for the watch to bring a
 *     newer placement, and retries, 3 times at most; ORG_MOVING: it backs off
 *     and retries for up to 10 s; CLUSTER_UNAVAILABLE and other refusals are
 *     returned as they are;
 *   - a member whose connection fails is dropped; a read is retried on
 *     another member of the shard, a write is not (it may have been applied).
 *
 *   sb_client_cluster_t *cl;
 *   if (sb_client_cluster_new(&cl, "nats://127.0.0.1:14221", token) == 0 &&
 *       sb_client_cluster_call(cl, "user.get", args, len, &result) == 0)
 *       ...
 *   sb_client_cluster_free(cl);
 *
 * Threads: a handle is used from one thread at a time, as a client is (its
 * watcher thread is its own business). A library built without libnats
 * answers sb_client_cluster_new with -ENOTSUP and a sentence that says so.
 * Return codes as sb_client_call's; a request the placement map has no
 * member for is refused locally with NO_ROUTE (62).
 */

/** A routed client over a cluster's members. Opaque. */
typedef struct sb_client_cluster sb_client_cluster_t;

/**
 * Connects to NATS, reads the whole placement bucket (waiting up to 5 s for
 * it), and starts watching it.
 * @param cluster  out: [owned: free with sb_client_cluster_free()]; on
 *                 failure, a handle that only tells why (error_message), or
 *                 NULL when out of memory
 * @param urls     [copied] NATS servers, comma-separated nats://HOST:PORT
 * @param token    [copied] the token every member connection authenticates
 *                 with (the cluster-wide admin token, or an org's token)
 * @return 0; -EINVAL (a NULL or empty argument); -ENOTSUP (the library was
 *         built without libnats); -ENOMEM; -ECONNREFUSED (no NATS server
 *         answered); -ENOENT (no placement bucket: no server of the cluster
 *         ever started); -ETIMEDOUT (the bucket's values did not arrive)
 */
int sb_client_cluster_new(sb_client_cluster_t **cluster, const char *urls, const char *token);

/**
 * Stops the watch and closes every member connection. NULL does nothing.
 * The libnats library itself stays open (nats_Close is the program's call).
 */
void sb_client_cluster_free(sb_client_cluster_t *cluster);

/**
 * Where requests without an org go (server.info, token.*): a member's name
 * as the placement map has it, or NULL for the default (the primary of the
 * first shard by name). [copied]
 * @return 0 or -EINVAL (longer than 32 bytes)
 */
int sb_client_cluster_set_member(sb_client_cluster_t *cluster, const char *member);

/**
 * sb_client_call, routed as the comment above says.
 * @param result  out: as sb_client_call's [owned: msgpack_unpacked_destroy()]
 * @return as sb_client_call; SB_CLIENT_REFUSED with NO_ROUTE when the map
 *         has no member for it
 */
int sb_client_cluster_call(sb_client_cluster_t *cluster, const char *method, const void *args,
                           size_t args_len, msgpack_unpacked *result);

/**
 * sb_client_call to shard `shard` (its primary for a write, a member in
 * turn for a read), whatever the arguments' org: for org.create, which
 * puts the new org on that shard. Retries as sb_client_cluster_call.
 * @param shard  [copied] a shard's name
 */
int sb_client_cluster_call_shard(sb_client_cluster_t *cluster, const char *shard,
                                 const char *method, const void *args, size_t args_len,
                                 msgpack_unpacked *result);

/** The member that answered the last call; "" before any. [borrowed: until the next call] */
const char *sb_client_cluster_last_member(const sb_client_cluster_t *cluster);

/** As sb_client_error_code, for the last call or sb_client_cluster_new. */
int sb_client_cluster_error_code(const sb_client_cluster_t *cluster);

/** As sb_client_error_name. [borrowed: until the next call on this handle] */
const char *sb_client_cluster_error_name(const sb_client_cluster_t *cluster);

/** As sb_client_error_message. [borrowed: until the next call on this handle] */
const char *sb_client_cluster_error_message(const sb_client_cluster_t *cluster);

#ifdef __cplusplus
}
#endif

#endif /* SWITCHBOARD_CLIENT_H */
