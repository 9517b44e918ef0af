/*
 * libFuzzer target: the RPC framer. Whatever it calls one complete message
 * must decode with msgpack-c to exactly that many bytes, and the message an
 * envelope parse is run on must not crash it.
 */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>

#include "frame.h"
#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        size_t len;
        int rc = sb_frame_scan(data + off, size - off, 4096, &len);
        if (rc != SB_FRAME_COMPLETE)
            break;
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t used = 0;
        if (msgpack_unpack_next(&u, (const char *)data + off, len, &used) !=
                MSGPACK_UNPACK_SUCCESS ||
            used != len)
            abort(); /* the framer and msgpack-c disagree on where it ends */
        sb_rpc_msg_t msg;
        sb_err_t err;
        sb_rpc_parse(&u.data, &msg, &err);
        msgpack_unpacked_destroy(&u);
        off += len;
    }
    return 0;
}
