/* The framer: where a message ends, told apart from "need more" and "bad bytes". */
#include "sb_test.h"

#include <msgpack.h>
#include <string.h>

#include "frame.h"

static void every_prefix_needs_more_and_the_whole_is_complete(void **state)
{
    (void)state;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_uint32(&pk, 70000);
    msgpack_pack_str_with_body(&pk, "member.add_bulk", 15);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "f", 1);
    msgpack_pack_double(&pk, 1.5);
    msgpack_pack_str_with_body(&pk, "b", 1);
    msgpack_pack_bin_with_body(&pk, "\x00\x01", 2);
    msgpack_pack_str_with_body(&pk, "n", 1);
    msgpack_pack_int64(&pk, -5000000000LL);
    size_t len;
    for (size_t cut = 0; cut < buf.size; cut++)
        assert_int_equal(sb_frame_scan((uint8_t *)buf.data, cut, 1 << 20, &len),
                         SB_FRAME_NEED_MORE);
    assert_int_equal(sb_frame_scan((uint8_t *)buf.data, buf.size, 1 << 20, &len),
                     SB_FRAME_COMPLETE);
    assert_int_equal(len, buf.size);
    /* Followed by more bytes: only the first message is measured. */
    msgpack_pack_nil(&pk);
    assert_int_equal(sb_frame_scan((uint8_t *)buf.data, buf.size, 1 << 20, &len),
                     SB_FRAME_COMPLETE);
    assert_int_equal(len, buf.size - 1);
    msgpack_sbuffer_destroy(&buf);
}

static void bad_bytes_and_oversize_are_told_apart(void **state)
{
    (void)state;
    size_t len;
    assert_int_equal(sb_frame_scan((const uint8_t *)"\xc1", 1, 4096, &len), -EPROTO);
    assert_int_equal(sb_frame_scan((const uint8_t *)"\x92\x01\xc1", 3, 4096, &len), -EPROTO);
    /* Declared sizes past the limit are refused before the bytes arrive. */
    assert_int_equal(sb_frame_scan((const uint8_t *)"\xdb\x7f\xff\xff\xff", 5, 4096, &len),
                     -EMSGSIZE);
    assert_int_equal(sb_frame_scan((const uint8_t *)"\xdd\xff\xff\xff\xff", 5, 4096, &len),
                     -EMSGSIZE);
    assert_int_equal(sb_frame_scan((const uint8_t *)"\xdf\x00\x00\x08\x01", 5, 4096, &len),
                     -EMSGSIZE); /* 2049 pairs cannot fit in 4096 bytes */
    assert_int_equal(sb_frame_scan((const uint8_t *)"\xdf\x00\x00\x07\xfd", 5, 4096, &len),
                     SB_FRAME_NEED_MORE); /* 2045 pairs (4090 bytes at least) can */
    /* Nesting: 32 containers decode; a 33rd is refused, as msgpack-c would. */
    uint8_t deep[40];
    memset(deep, 0x91, sizeof(deep));
    deep[32] = 0x01;
    assert_int_equal(sb_frame_scan(deep, 33, 4096, &len), SB_FRAME_COMPLETE);
    deep[32] = 0x90;
    assert_int_equal(sb_frame_scan(deep, 33, 4096, &len), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_prefix_needs_more_and_the_whole_is_complete),
        cmocka_unit_test(bad_bytes_and_oversize_are_told_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
