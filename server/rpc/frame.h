#pragma once
/*
 * The framer: finds where one msgpack message ends in a byte stream, before
 * anything is decoded, and enforces the message size limit.
 *
 * msgpack-c's own unpacker allocates a container's elements as soon as it
 * reads the container's header, so a 5-byte header claiming four billion
 * elements would cost gigabytes. The framer walks only the structure (type
 * bytes and lengths) and refuses any message whose declared contents cannot
 * fit within the limit; the complete, bounded message is then decoded by
 * msgpack-c.
 *
 *   bytes arrive ──> scan ──┬─ complete (length N) ──> decode N bytes, drop them, scan again
 *                           ├─ need more ──────────> wait for the next read
 *                           ├─ bad bytes (-EPROTO) ─> close the connection
 *                           └─ too big (-EMSGSIZE) ─> close the connection
 */

#include <stddef.h>
#include <stdint.h>

#define SB_FRAME_COMPLETE 1
#define SB_FRAME_NEED_MORE 0
#define SB_FRAME_MAX_DEPTH 32 /* containers nested in one message, as msgpack-c decodes them */

/**
 * Scans data[0..len) for one whole msgpack message. Returns SB_FRAME_COMPLETE
 * with its length in *message_len, SB_FRAME_NEED_MORE when the message is not
 * all there yet, -EPROTO for a byte that no msgpack message may hold, or
 * -EMSGSIZE when the message is, or declares that it will be, longer than
 * `max_message` bytes. Never reads past data[len - 1].
 */
int sb_frame_scan(const uint8_t *data, size_t len, size_t max_message, size_t *message_len);

/**
 * The other direction, for the blocking ends (sbctl's client, the plugin
 * child and its runner): sends all of data[0..len) on socket `fd`, again
 * after EINTR, without SIGPIPE. Returns 0 or a negative errno.
 */
int sb_frame_send_all(int fd, const void *data, size_t len);
