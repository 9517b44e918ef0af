/*
 * libswitchboard-client, through its public header and its shared library
 * alone (as an integrator links it), against a fake server: a listening
 * socket in a temporary directory whose accepted end the test reads and
 * writes by hand, so that every answer (in order or not, refused, broken,
 * too big, missing) is exactly the one the test means.
 *
 * The test defines send, write, writev, sendmsg and sendto: the shared
 * library's calls resolve to them (an executable's symbols come first), so
 * that every system call the client makes to write is counted, then done
 * by libc's own (RTLD_NEXT).
 */
#include "sb_test.h"

#include <dlfcn.h>
#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <switchboard/client.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the write counter ---------------------------------------------------- */

static int counted_fd = -1;  /* the client's socket */
static unsigned writes_seen; /* write calls of any kind on it */

static void count(int fd)
{
    if (fd >= 0 && fd == counted_fd)
        writes_seen++;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    count(fd);
    ssize_t (*real)(int, const void *, size_t, int) =
        (ssize_t(*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
    return real(fd, buf, len, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
               socklen_t tolen)
{
    count(fd);
    ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t) =
        (ssize_t(*)(int, const void *, size_t, int, const struct sockaddr *, socklen_t))dlsym(
            RTLD_NEXT, "sendto");
    return real(fd, buf, len, flags, to, tolen);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    count(fd);
    ssize_t (*real)(int, const struct msghdr *, int) =
        (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
    return real(fd, msg, flags);
}

ssize_t write(int fd, const void *buf, size_t len)
{
    count(fd);
    ssize_t (*real)(int, const void *, size_t) =
        (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    return real(fd, buf, len);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
    count(fd);
    ssize_t (*real)(int, const struct iovec *, int) =
        (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
    return real(fd, iov, n);
}

typedef struct fake {
    char *dir;
    char path[200];
    int listener, peer; /* the server's ends */
    sb_client_t *c;
} fake_t;

/* A listening socket at dir/switchboard.sock, and a client connected to it. */
static int setup(void **state)
{
    fake_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = sb_test_tmpdir();
    snprintf(f->path, sizeof(f->path), "%s/switchboard.sock", f->dir);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    assert_true(strlen(f->path) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, f->path, strlen(f->path) + 1);
    f->listener = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(f->listener >= 0);
    assert_int_equal(bind(f->listener, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(f->listener, 4), 0);
    assert_int_equal(sb_client_new(&f->c), 0);
    assert_int_equal(sb_client_fd(f->c), -1);
    assert_int_equal(sb_client_connect(f->c, f->path), 0); /* the backlog takes it */
    f->peer = accept(f->listener, NULL, NULL);
    assert_true(f->peer >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fake_t *f = *state;
    sb_client_free(f->c);
    if (f->peer >= 0)
        close(f->peer);
    close(f->listener);
    sb_test_rmdir(f->dir);
    free(f);
    return 0;
}

/* The server writes [1, msgid, error, result]; error NULL: nil, else {code, name, message}. */
static void answer(fake_t *f, uint32_t msgid, const char *error_name, int ok_value)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_uint32(&pk, msgid);
    if (error_name != NULL) {
        msgpack_pack_map(&pk, 3);
        msgpack_pack_str_with_body(&pk, "code", 4);
        msgpack_pack_int(&pk, 3);
        msgpack_pack_str_with_body(&pk, "name", 4);
        msgpack_pack_str_with_body(&pk, error_name, strlen(error_name));
        msgpack_pack_str_with_body(&pk, "message", 7);
        msgpack_pack_str_with_body(&pk, "Not there.", 10);
        msgpack_pack_nil(&pk);
    } else {
        msgpack_pack_nil(&pk);
        msgpack_pack_map(&pk, 1);
        msgpack_pack_str_with_body(&pk, "n", 1);
        msgpack_pack_int(&pk, ok_value);
    }
    assert_int_equal(write(f->peer, b.data, b.size), (ssize_t)b.size);
    msgpack_sbuffer_destroy(&b);
}

static void raw(fake_t *f, const void *bytes, size_t len)
{
    assert_int_equal(write(f->peer, bytes, len), (ssize_t)len);
}

/* The "n" of a result map {n: int}. */
static int64_t n_of(const msgpack_object *o)
{
    assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(o->via.map.size, 1);
    return o->via.map.ptr[0].val.via.i64;
}

static void connecting_says_what_failed(void **state)
{
    (void)state;
    assert_int_equal(sb_client_new(NULL), -EINVAL);
    sb_client_free(NULL);
    sb_client_t *c;
    assert_int_equal(sb_client_new(&c), 0);
    char *dir = sb_test_tmpdir();
    char path[300];
    snprintf(path, sizeof(path), "%s/nothing.sock", dir);
    assert_int_equal(sb_client_connect(c, path), -ENOENT);
    assert_non_null(strstr(sb_client_error_message(c), "Cannot reach switchboardd at"));
    assert_string_equal(sb_client_error_name(c), "");
    char longer[200];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(sb_client_connect(c, longer), -ENAMETOOLONG);
    /* The default is $SB_DATA_DIR's socket. */
    setenv("SB_DATA_DIR", dir, 1);
    assert_int_equal(sb_client_connect(c, NULL), -ENOENT);
    snprintf(path, sizeof(path), "%s/switchboard.sock", dir);
    assert_non_null(strstr(sb_client_error_message(c), path));
    unsetenv("SB_DATA_DIR");
    /* Nothing goes out before a connection. */
    uint32_t msgid;
    msgpack_unpacked r;
    assert_int_equal(sb_client_send(c, "server.info", NULL, 0, &msgid), -ENOTCONN);
    assert_int_equal(sb_client_call(c, "server.info", NULL, 0, &r), -ENOTCONN);
    msgpack_unpacked_destroy(&r);
    assert_int_equal(sb_client_call(c, NULL, NULL, 0, &r), -EINVAL);
    msgpack_unpacked_destroy(&r);
    assert_int_equal(sb_client_send(c, "server.info", NULL, 3, &msgid), -EINVAL);
    assert_int_equal(sb_client_version(), SB_CLIENT_VERSION);
    sb_client_free(c);
    sb_test_rmdir(dir);
}

static void a_call_its_request_and_a_refusal(void **state)
{
    fake_t *f = *state;
    assert_true(sb_client_fd(f->c) >= 0);
    assert_int_equal(sb_client_connect(f->c, f->path), -EISCONN);
    /* Answers are written first: the socket holds them until the client reads. */
    answer(f, 1, NULL, 42);
    answer(f, 2, "NOT_FOUND", 0);
    answer(f, 3, NULL, 7);
    msgpack_sbuffer args;
    msgpack_sbuffer_init(&args);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "org", 3);
    msgpack_pack_str_with_body(&pk, "acme", 4);
    msgpack_unpacked r;
    assert_int_equal(sb_client_call(f->c, "org.get", args.data, args.size, &r), 0);
    assert_int_equal(n_of(&r.data), 42);
    msgpack_unpacked_destroy(&r);
    assert_int_equal(sb_client_call(f->c, "org.get", args.data, args.size, &r), SB_CLIENT_REFUSED);
    msgpack_unpacked_destroy(&r);
    assert_int_equal(sb_client_error_code(f->c), 3);
    assert_string_equal(sb_client_error_name(f->c), "NOT_FOUND");
    assert_string_equal(sb_client_error_message(f->c), "Not there.");
    /* The next success forgets the refusal. */
    assert_int_equal(sb_client_call(f->c, "server.info", NULL, 0, &r), 0);
    msgpack_unpacked_destroy(&r);
    assert_int_equal(sb_client_error_code(f->c), 0);
    assert_string_equal(sb_client_error_name(f->c), "");
    /* What went out: [0, 1, "org.get", [{org: acme}]], ..., [0, 3, "server.info", []]. */
    char in[512];
    ssize_t n = read(f->peer, in, sizeof(in));
    assert_true(n > 0);
    msgpack_unpacked req;
    msgpack_unpacked_init(&req);
    size_t off = 0;
    for (uint32_t id = 1; id <= 3; id++) {
        assert_int_equal(msgpack_unpack_next(&req, in, (size_t)n, &off), MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *a = req.data.via.array.ptr;
        assert_int_equal(req.data.via.array.size, 4);
        assert_int_equal(a[0].via.u64, 0);
        assert_int_equal(a[1].via.u64, id);
        assert_int_equal(a[3].type, MSGPACK_OBJECT_ARRAY);
        assert_int_equal(a[3].via.array.size, id < 3 ? 1 : 0);
    }
    assert_int_equal(off, (size_t)n);
    msgpack_unpacked_destroy(&req);
    msgpack_sbuffer_destroy(&args);
}

static void pipelined_answers_are_matched_by_msgid(void **state)
{
    fake_t *f = *state;
    uint32_t ids[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(sb_client_send(f->c, "softphone.check", NULL, 0, &ids[i]), 0);
    assert_true(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    /* A write answered after a later read: out of order, the refusal in the middle. */
    answer(f, ids[2], NULL, 302);
    answer(f, ids[0], "NOT_FOUND", 0);
    answer(f, ids[1], NULL, 301);
    uint32_t got;
    const msgpack_object *result;
    assert_int_equal(sb_client_recv(f->c, &got, &result), 0);
    assert_int_equal(got, ids[2]);
    assert_int_equal(n_of(result), 302);
    assert_int_equal(sb_client_recv(f->c, &got, &result), SB_CLIENT_REFUSED);
    assert_int_equal(got, ids[0]);
    assert_null(result);
    assert_string_equal(sb_client_error_name(f->c), "NOT_FOUND");
    assert_int_equal(sb_client_recv(f->c, &got, &result), 0);
    assert_int_equal(got, ids[1]);
    assert_int_equal(n_of(result), 301);
}

static void another_requests_answer_is_refused(void **state)
{
    fake_t *f = *state;
    answer(f, 99, NULL, 1);
    msgpack_unpacked r;
    assert_int_equal(sb_client_call(f->c, "server.info", NULL, 0, &r), -EPROTO);
    msgpack_unpacked_destroy(&r);
    assert_non_null(strstr(sb_client_error_message(f->c), "answered request 99"));
}

static void bytes_that_are_not_msgpack(void **state)
{
    fake_t *f = *state;
    raw(f, "\xc1", 1); /* a byte no msgpack message holds */
    uint32_t got;
    const msgpack_object *result;
    assert_int_equal(sb_client_recv(f->c, &got, &result), -EPROTO);
}

static void a_request_is_not_an_answer(void **state)
{
    fake_t *f = *state;
    raw(f, "\x94\x00\x01\xc0\xc0", 5); /* [0, 1, nil, nil]: type 0 */
    uint32_t got;
    const msgpack_object *result;
    assert_int_equal(sb_client_recv(f->c, &got, &result), -EPROTO);
}

static void an_answer_over_the_cap(void **state)
{
    fake_t *f = *state;
    /* [1, 1, nil, str32 of 100 MiB]: refused from its header, nothing buffered. */
    raw(f, "\x94\x01\x01\xc0\xdb\x06\x40\x00\x00", 9);
    uint32_t got;
    const msgpack_object *result;
    assert_int_equal(sb_client_recv(f->c, &got, &result), -EMSGSIZE);
}

static void the_server_closes(void **state)
{
    fake_t *f = *state;
    close(f->peer);
    f->peer = -1;
    uint32_t got;
    const msgpack_object *result;
    assert_int_equal(sb_client_recv(f->c, &got, &result), -ECONNRESET);
    assert_string_equal(sb_client_error_message(f->c), "The server closed the connection.");
}

/* Reads from the peer until `want` whole requests have come; returns their msgids' sum. */
static uint64_t read_requests(fake_t *f, unsigned want)
{
    char in[65536];
    size_t have = 0, off = 0;
    unsigned got = 0;
    uint64_t ids = 0;
    msgpack_unpacked req;
    msgpack_unpacked_init(&req);
    while (got < want) {
        msgpack_unpack_return r = msgpack_unpack_next(&req, in, have, &off);
        if (r == MSGPACK_UNPACK_SUCCESS) {
            assert_int_equal(req.data.via.array.size, 4);
            ids += req.data.via.array.ptr[1].via.u64;
            got++;
            continue;
        }
        assert_true(have < sizeof(in));
        ssize_t n = read(f->peer, in + have, sizeof(in) - have);
        assert_true(n > 0);
        have += (size_t)n;
    }
    assert_int_equal(off, have);
    msgpack_unpacked_destroy(&req);
    return ids;
}

static void a_pipelined_round_goes_out_in_one_write(void **state)
{
    fake_t *f = *state;
    counted_fd = sb_client_fd(f->c);
    /* {org: "acme", user: "005000000000001"} */
    const char args[] = "\x82\xa3"
                        "org"
                        "\xa4"
                        "acme"
                        "\xa4"
                        "user"
                        "\xaf"
                        "005000000000001";
    for (int round = 0; round < 3; round++) {
        writes_seen = 0;
        uint32_t ids[16];
        uint64_t sum = 0;
        for (int i = 0; i < 16; i++) {
            assert_int_equal(
                sb_client_queue(f->c, "softphone.check", args, sizeof(args) - 1, &ids[i]), 0);
            sum += ids[i];
        }
        assert_int_equal(writes_seen, 0); /* queued, not sent */
        for (int i = 0; i < 16; i++)
            answer(f, ids[i], NULL, i);
        for (int i = 0; i < 16; i++) {
            uint32_t got;
            sb_client_answer_t a;
            int64_t n;
            assert_int_equal(sb_client_recv_answer(f->c, &got, &a), 0);
            assert_int_equal(got, ids[i]);
            assert_int_equal(sb_client_answer_int(&a, "n", &n), 0);
            assert_int_equal(n, i);
        }
        assert_int_equal(writes_seen, 1); /* the whole round in one system call */
        assert_int_equal(read_requests(f, 16), sum);
    }
    /* sb_client_send still sends at once, with whatever was queued before it. */
    writes_seen = 0;
    uint32_t a, b;
    assert_int_equal(sb_client_queue(f->c, "server.info", NULL, 0, &a), 0);
    assert_int_equal(sb_client_send(f->c, "server.info", NULL, 0, &b), 0);
    assert_int_equal(writes_seen, 1);
    assert_int_equal(read_requests(f, 2), (uint64_t)a + b);
    assert_int_equal(sb_client_flush(f->c), 0); /* nothing queued: no call */
    assert_int_equal(writes_seen, 1);
    counted_fd = -1;
}

/* {reason: "OK", softphone: true, n: -300, big: 2^40, none: nil,
 *  callcenter: {display_name: "Support"}, users: ["a", [1, 2], "c"]} */
static void answer_rich(fake_t *f, uint32_t msgid)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_uint32(&pk, msgid);
    msgpack_pack_nil(&pk);
    msgpack_pack_map(&pk, 7);
    msgpack_pack_str_with_body(&pk, "reason", 6);
    msgpack_pack_str_with_body(&pk, "OK", 2);
    msgpack_pack_str_with_body(&pk, "softphone", 9);
    msgpack_pack_true(&pk);
    msgpack_pack_str_with_body(&pk, "n", 1);
    msgpack_pack_int(&pk, -300);
    msgpack_pack_str_with_body(&pk, "big", 3);
    msgpack_pack_uint64(&pk, 1ull << 40);
    msgpack_pack_str_with_body(&pk, "none", 4);
    msgpack_pack_nil(&pk);
    msgpack_pack_str_with_body(&pk, "callcenter", 10);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "display_name", 12);
    msgpack_pack_str_with_body(&pk, "Support", 7);
    msgpack_pack_str_with_body(&pk, "users", 5);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_str_with_body(&pk, "c", 1);
    assert_int_equal(write(f->peer, b.data, b.size), (ssize_t)b.size);
    msgpack_sbuffer_destroy(&b);
}

static void answers_as_bytes_are_read_in_place(void **state)
{
    fake_t *f = *state;
    uint32_t id, got;
    assert_int_equal(sb_client_queue(f->c, "softphone.check", NULL, 0, &id), 0);
    answer_rich(f, id);
    sb_client_answer_t a, v, items, item;
    assert_int_equal(sb_client_recv_answer(f->c, &got, &a), 0);
    assert_int_equal(got, id);
    const char *s;
    size_t len;
    bool yes = false;
    int64_t n;
    assert_int_equal(sb_client_answer_str(&a, "reason", &s, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(s, "OK", 2);
    assert_int_equal(sb_client_answer_bool(&a, "softphone", &yes), 0);
    assert_true(yes);
    assert_int_equal(sb_client_answer_int(&a, "n", &n), 0);
    assert_int_equal(n, -300);
    assert_int_equal(sb_client_answer_int(&a, "big", &n), 0);
    assert_int_equal(n, 1ll << 40);
    assert_int_equal(sb_client_answer_str(&a, "none", &s, &len), -ENOENT);
    assert_int_equal(sb_client_answer_str(&a, "absent", &s, &len), -ENOENT);
    assert_int_equal(sb_client_answer_str(&a, "softphone", &s, &len), -EPROTO);
    assert_int_equal(sb_client_answer_find(&a, "callcenter", &v), 0);
    assert_int_equal(sb_client_answer_str(&v, "display_name", &s, &len), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(s, "Support", 7);
    /* An array, item by item; a nested one is skipped whole. */
    uint32_t count;
    assert_int_equal(sb_client_answer_find(&a, "users", &v), 0);
    assert_int_equal(sb_client_answer_items(&v, &count, &items), 0);
    assert_int_equal(count, 3);
    assert_int_equal(sb_client_answer_next(&items, &item), 0);
    assert_int_equal(item.len, 2);
    assert_int_equal(sb_client_answer_next(&items, &item), 0);
    assert_int_equal(item.len, 3);
    assert_int_equal(sb_client_answer_next(&items, &item), 0);
    assert_memory_equal(item.data,
                        "\xa1"
                        "c",
                        2);
    assert_int_equal(sb_client_answer_next(&items, &item), -ENOENT);
    assert_int_equal(sb_client_answer_items(&a, &count, &items), -EPROTO); /* a map */
    /* The bytes decode whole as the object sb_client_recv would give. */
    msgpack_unpacked whole;
    msgpack_unpacked_init(&whole);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&whole, (const char *)a.data, a.len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, a.len);
    assert_int_equal(whole.data.via.map.size, 7);
    msgpack_unpacked_destroy(&whole);
    /* A refusal through the same call. */
    assert_int_equal(sb_client_queue(f->c, "softphone.check", NULL, 0, &id), 0);
    answer(f, id, "NOT_FOUND", 0);
    assert_int_equal(sb_client_recv_answer(f->c, &got, &a), SB_CLIENT_REFUSED);
    assert_int_equal(got, id);
    assert_null(a.data);
    assert_string_equal(sb_client_error_name(f->c), "NOT_FOUND");
    assert_string_equal(sb_client_error_message(f->c), "Not there.");
}

/* The request's argument map, as it went out: its bytes. */
static size_t request_args(fake_t *f, char *out, size_t cap)
{
    char in[4096];
    ssize_t n = read(f->peer, in, sizeof(in));
    assert_true(n > 0);
    msgpack_unpacked req;
    msgpack_unpacked_init(&req);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&req, in, (size_t)n, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, (size_t)n);
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, req.data.via.array.ptr[3].via.array.ptr[0]);
    assert_true(b.size <= cap);
    memcpy(out, b.data, b.size);
    size_t len = b.size;
    msgpack_sbuffer_destroy(&b);
    msgpack_unpacked_destroy(&req);
    return len;
}

/* A compact check_batch answer: two users of view 0, whose block is {user: <id>, n: 7}, and
 * an answer of its own between them. */
static void answer_compact(fake_t *f, uint32_t msgid)
{
    msgpack_sbuffer block;
    msgpack_sbuffer_init(&block);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &block, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "user", 4);
    msgpack_pack_str_with_body(&pk,
                               "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                               "\xff\xff\xff\xff",
                               18);
    msgpack_pack_str_with_body(&pk, "n", 1);
    msgpack_pack_int(&pk, 7);
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_uint32(&pk, msgid);
    msgpack_pack_nil(&pk);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "results", 7);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_str_with_body(&pk, "005000000000001AAA", 18);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "n", 1);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_str_with_body(&pk, "005000000000002AAB", 18);
    msgpack_pack_str_with_body(&pk, "views", 5);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_bin_with_body(&pk, block.data, block.size);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 7); /* 0x82, 0xa4 "user", 0xb2: the id starts at 7 */
    assert_int_equal(write(f->peer, b.data, b.size), (ssize_t)b.size);
    msgpack_sbuffer_destroy(&b);
    msgpack_sbuffer_destroy(&block);
}

/* What the default form of answer_compact's answer is. */
static void default_form(msgpack_sbuffer *b)
{
    msgpack_sbuffer_init(b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "results", 7);
    msgpack_pack_array(&pk, 3);
    for (int i = 0; i < 3; i++) {
        msgpack_pack_map(&pk, i == 1 ? 1 : 2);
        if (i != 1) {
            msgpack_pack_str_with_body(&pk, "user", 4);
            msgpack_pack_str_with_body(&pk, i == 0 ? "005000000000001AAA" : "005000000000002AAB",
                                       18);
        }
        msgpack_pack_str_with_body(&pk, "n", 1);
        msgpack_pack_int(&pk, i == 1 ? 1 : 7);
    }
}

static void a_batch_goes_compact_and_comes_back_expanded(void **state)
{
    fake_t *f = *state;
    /* {org: "acme", users: ["005000000000001"]} */
    const char args[] = "\x82\xa3"
                        "org"
                        "\xa4"
                        "acme"
                        "\xa5"
                        "users"
                        "\x91\xaf"
                        "005000000000001";
    const char with_compact[] = "\x83\xa3"
                                "org"
                                "\xa4"
                                "acme"
                                "\xa5"
                                "users"
                                "\x91\xaf"
                                "005000000000001"
                                "\xa7"
                                "compact"
                                "\xc3";
    char sent[512];
    msgpack_sbuffer want;
    default_form(&want);
    uint32_t id, got;
    sb_client_answer_t a;
    /* The bytes API. */
    assert_int_equal(sb_client_queue(f->c, "softphone.check_batch", args, sizeof(args) - 1, &id),
                     0);
    answer_compact(f, id);
    assert_int_equal(sb_client_recv_answer(f->c, &got, &a), 0);
    assert_int_equal(got, id);
    assert_int_equal(request_args(f, sent, sizeof(sent)), sizeof(with_compact) - 1);
    assert_memory_equal(sent, with_compact, sizeof(with_compact) - 1);
    assert_int_equal(a.len, want.size);
    assert_memory_equal(a.data, want.data, want.size);
    /* The object API, and a call. */
    const msgpack_object *o;
    assert_int_equal(sb_client_send(f->c, "softphone.check_batch", args, sizeof(args) - 1, &id), 0);
    answer_compact(f, id);
    assert_int_equal(sb_client_recv(f->c, &got, &o), 0);
    (void)request_args(f, sent, sizeof(sent));
    msgpack_sbuffer repacked;
    msgpack_sbuffer_init(&repacked);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &repacked, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *o);
    assert_int_equal(repacked.size, want.size);
    assert_memory_equal(repacked.data, want.data, want.size);
    msgpack_sbuffer_destroy(&repacked);
    /* A refused batch forgets its form; one that chose its form is left as it is. */
    assert_int_equal(sb_client_queue(f->c, "softphone.check_batch", args, sizeof(args) - 1, &id),
                     0);
    answer(f, id, "NOT_FOUND", 0);
    assert_int_equal(sb_client_recv_answer(f->c, &got, &a), SB_CLIENT_REFUSED);
    (void)request_args(f, sent, sizeof(sent));
    assert_int_equal(
        sb_client_queue(f->c, "softphone.check_batch", with_compact, sizeof(with_compact) - 1, &id),
        0);
    answer_compact(f, id);
    assert_int_equal(sb_client_recv_answer(f->c, &got, &a), 0);
    assert_int_equal(request_args(f, sent, sizeof(sent)), sizeof(with_compact) - 1);
    sb_client_answer_t views;
    assert_int_equal(sb_client_answer_find(&a, "views", &views), 0); /* raw: not expanded */
    msgpack_sbuffer_destroy(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connecting_says_what_failed),
        cmocka_unit_test_setup_teardown(a_call_its_request_and_a_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(pipelined_answers_are_matched_by_msgid, setup, teardown),
        cmocka_unit_test_setup_teardown(another_requests_answer_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bytes_that_are_not_msgpack, setup, teardown),
        cmocka_unit_test_setup_teardown(a_request_is_not_an_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(an_answer_over_the_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(the_server_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(a_pipelined_round_goes_out_in_one_write, setup, teardown),
        cmocka_unit_test_setup_teardown(answers_as_bytes_are_read_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(a_batch_goes_compact_and_comes_back_expanded, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
