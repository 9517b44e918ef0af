#include "frame.h"

#include <errno.h>
#include <sys/socket.h>

/* Big-endian unsigned of `width` bytes at p. */
static uint64_t read_be(const uint8_t *p, int width)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++)
        v = (v << 8) | p[i];
    return v;
}

/*
 * How one type byte is laid out: a header of `head` bytes in all (the type
 * byte included), then either a fixed payload, a payload whose length is the
 * big-endian number of `len_width` bytes after the type byte, or a count of
 * `per_count` nested items of that number.
 */
struct layout {
    uint8_t head;      /* header bytes, type byte included */
    uint8_t len_width; /* 0, or width of a length/count field after the type byte */
    uint8_t fixed;     /* payload bytes when there is no length field */
    uint8_t per_count; /* 0: length is bytes; 1: array items; 2: map pairs */
    uint8_t extra;     /* ext: the type byte after the length */
};

static int layout_of(uint8_t b, struct layout *l, uint64_t *inline_count)
{
    *l = (struct layout){.head = 1};
    *inline_count = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0; /* fixint, nil, bool */
    if (b >= 0x80 && b <= 0x8f) {
        l->per_count = 2;
        *inline_count = b & 0x0f;
        return 0;
    }
    if (b >= 0x90 && b <= 0x9f) {
        l->per_count = 1;
        *inline_count = b & 0x0f;
        return 0;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        l->fixed = b & 0x1f;
        return 0;
    }
    switch (b) {
    case 0xc4:
    case 0xc5:
    case 0xc6: /* bin 8/16/32 */
        l->len_width = (uint8_t)(1u << (b - 0xc4));
        break;
    case 0xc7:
    case 0xc8:
    case 0xc9: /* ext 8/16/32 */
        l->len_width = (uint8_t)(1u << (b - 0xc7));
        l->extra = 1;
        break;
    case 0xca:
        l->fixed = 4;
        break; /* float 32 */
    case 0xcb:
        l->fixed = 8;
        break; /* float 64 */
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: /* uint 8..64 */
        l->fixed = (uint8_t)(1u << (b - 0xcc));
        break;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: /* int 8..64 */
        l->fixed = (uint8_t)(1u << (b - 0xd0));
        break;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: /* fixext 1..16 */
        l->fixed = (uint8_t)(1 + (1u << (b - 0xd4)));
        break;
    case 0xd9:
    case 0xda:
    case 0xdb: /* str 8/16/32 */
        l->len_width = (uint8_t)(1u << (b - 0xd9));
        break;
    case 0xdc:
    case 0xdd: /* array 16/32 */
        l->len_width = (uint8_t)(2u << (b - 0xdc));
        l->per_count = 1;
        break;
    case 0xde:
    case 0xdf: /* map 16/32 */
        l->len_width = (uint8_t)(2u << (b - 0xde));
        l->per_count = 2;
        break;
    default: /* 0xc1: never used */
        return -EPROTO;
    }
    l->head = (uint8_t)(1 + l->len_width + l->extra);
    return 0;
}

int sb_frame_scan(const uint8_t *data, size_t len, size_t max_message, size_t *message_len)
{
    *message_len = 0;
    size_t pos = 0;
    /* items[d]: items still to read in the d-th open container (items[0]:
     * the message itself). Each item takes at least one byte, so their sum
     * bounds what the message may still declare. */
    uint64_t items[SB_FRAME_MAX_DEPTH + 1] = {1};
    uint64_t pending = 1;
    int depth = 0;
    while (pending > 0) {
        while (items[depth] == 0)
            depth--; /* that container is complete */
        if (pending > max_message - pos)
            return -EMSGSIZE; /* more items declared than bytes allowed */
        if (pos >= len)
            return SB_FRAME_NEED_MORE;
        struct layout l;
        uint64_t count;
        if (layout_of(data[pos], &l, &count) != 0)
            return -EPROTO;
        if (l.head > max_message - pos)
            return -EMSGSIZE;
        if (l.head > len - pos)
            return SB_FRAME_NEED_MORE;
        uint64_t payload = l.fixed;
        if (l.len_width > 0) {
            uint64_t n = read_be(data + pos + 1, l.len_width);
            if (l.per_count)
                count = n;
            else
                payload = n;
        }
        pos += l.head;
        pending--;
        items[depth]--;
        if (l.per_count) {
            /* msgpack-c decodes containers nested at most 32 deep. */
            if (depth + 1 > SB_FRAME_MAX_DEPTH)
                return -EPROTO;
            items[++depth] = count * l.per_count; /* count < 2^32: no overflow */
            pending += items[depth];
            continue;
        }
        if (payload > max_message - pos)
            return -EMSGSIZE;
        if (payload > len - pos)
            return SB_FRAME_NEED_MORE;
        pos += payload;
    }
    *message_len = pos;
    return SB_FRAME_COMPLETE;
}

int sb_frame_send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
