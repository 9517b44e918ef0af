/* Moving an org between stores (store/org_move.c): pages, catch-up, digest, refusals, purge. */
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "org_move.h"
#include "pack.h"
#include "record_codec.h"

typedef struct two {
    char *dir_a, *dir_b;
    sb_store_t *a, *b;
} two_t;

static int setup(void **state)
{
    two_t *t = calloc(1, sizeof(*t));
    t->dir_a = sb_test_tmpdir();
    t->dir_b = sb_test_tmpdir();
    t->a = sb_test_open(t->dir_a);
    t->b = sb_test_open(t->dir_b);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    two_t *t = *state;
    sb_store_close(t->a);
    sb_store_close(t->b);
    sb_test_rmdir(t->dir_a);
    sb_test_rmdir(t->dir_b);
    free(t);
    return 0;
}

static void token(sb_store_t *st, unsigned n, const char *org, sb_role_t role)
{
    uint8_t hash[SB_TOKEN_HASH_BYTES] = {0};
    memcpy(hash, &n, sizeof(n));
    sb_token_record_t rec = {.role = role, .created_ms = n};
    snprintf(rec.id, sizeof(rec.id), "tok%u", n);
    snprintf(rec.org, sizeof(rec.org), "%s", org);
    sb_err_t err;
    assert_rc(sb_store_token_put(st, hash, &rec, &err), 0, err);
}

/* acme: two Call Centers, users, members, tokens; globex beside it. */
static void fill(sb_store_t *st)
{
    sb_err_t err;
    assert_rc(sb_store_org_create(st, "acme", "Acme", &err), 0, err);
    assert_rc(sb_store_org_create(st, "acmecorp", "Not acme", &err), 0, err);
    assert_rc(sb_store_org_create(st, "globex", "Globex", &err), 0, err);
    sb_sfid_t cc = sb_test_cc(st, "acme", "Support");
    sb_test_cc(st, "acme", "Sales");
    sb_test_cc(st, "globex", "Support");
    sb_test_cc(st, "acmecorp", "Support");
    for (unsigned i = 1; i <= 30; i++) {
        sb_test_user(st, "acme", i);
        sb_test_user(st, i % 2 ? "globex" : "acmecorp", i);
        char id[16];
        sb_test_user_id(i, id);
        if (i <= 12)
            assert_rc(sb_store_member_add(st, "acme", cc.s, id, false, NULL, &err), 0, err);
    }
    token(st, 1, "acme", SB_ROLE_ORG_ADMIN);
    token(st, 2, "globex", SB_ROLE_READ_ONLY);
    token(st, 3, "", SB_ROLE_ADMIN);
    token(st, 4, "acme", SB_ROLE_READ_ONLY);
}

static void digest(sb_store_t *st, const char *org, char hex[2 * SB_MOVE_DIGEST_BYTES + 1],
                   uint64_t *records)
{
    uint8_t raw[SB_MOVE_DIGEST_BYTES];
    sb_err_t err;
    assert_rc(sb_store_org_digest(st, org, raw, records, &err), 0, err);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
}

/* Imports one page into `to`. */
static int import_page(sb_store_t *to, const char *org, const sb_move_page_t *page, sb_err_t *err)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, page->records.data, page->records.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    size_t written;
    int rc = sb_store_org_import(to, org, &u.data, &written, err);
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* Copies `org` from a to b in pages of about `bytes`; the first page's seq. */
static uint64_t copy(two_t *t, const char *org, size_t bytes, size_t *pages)
{
    uint8_t cursor[SB_MOVE_CURSOR_MAX];
    size_t cursor_len = 0;
    uint64_t seq = 0;
    *pages = 0;
    for (bool more = true; more;) {
        sb_move_page_t page;
        sb_err_t err;
        assert_rc(sb_store_org_export(t->a, org, cursor, cursor_len, bytes, &page, &err), 0, err);
        if (*pages == 0)
            seq = page.seq;
        assert_rc(import_page(t->b, org, &page, &err), 0, err);
        more = page.more;
        memcpy(cursor, page.cursor, page.cursor_len);
        cursor_len = page.cursor_len;
        (*pages)++;
        sb_move_page_free(&page);
    }
    return seq;
}

/* The changes from seq + 1 on, imported; the next seq. */
static uint64_t catch_up(two_t *t, const char *org, uint64_t seq, size_t bytes)
{
    for (bool more = true; more;) {
        sb_move_page_t page;
        sb_err_t err;
        assert_rc(sb_store_org_changes(t->a, org, seq + 1, bytes, &page, &err), 0, err);
        assert_rc(import_page(t->b, org, &page, &err), 0, err);
        more = page.more;
        seq = page.next_seq - 1;
        sb_move_page_free(&page);
    }
    return seq;
}

static void pages_bring_the_org_and_nothing_else(void **state)
{
    two_t *t = *state;
    fill(t->a);
    char da[80], db[80], dg[80];
    uint64_t na, nb, ng;
    digest(t->a, "acme", da, &na);
    digest(t->a, "globex", dg, &ng);
    assert_true(na > 60);
    assert_string_not_equal(da, dg);
    size_t pages;
    copy(t, "acme", 64, &pages); /* a record or two a page: every cursor is used */
    assert_true(pages > 20);
    digest(t->b, "acme", db, &nb);
    assert_string_equal(da, db);
    assert_int_equal(na, nb);
    /* Nothing of the neighbours: not globex, not acmecorp (whose id starts with acme). */
    digest(t->b, "globex", dg, &ng);
    assert_int_equal(ng, 0);
    digest(t->b, "acmecorp", dg, &ng);
    assert_int_equal(ng, 0);
    sb_org_move_t mv;
    sb_err_t err;
    assert_rc(sb_store_org_move_get(t->b, "acme", &mv, &err), 0, err);
    assert_int_equal(mv.state, SB_ORG_MOVE_RECEIVING);
    /* Importing the same pages again changes nothing. */
    copy(t, "acme", 1 << 20, &pages);
    assert_int_equal(pages, 1);
    digest(t->b, "acme", db, &nb);
    assert_string_equal(da, db);
}

static void changes_since_bring_every_later_write(void **state)
{
    two_t *t = *state;
    fill(t->a);
    sb_err_t err;
    /* A Call Center with a member, hence a view, before the snapshot: its
     * delete after it removes the view by a prefix delete alone. */
    sb_sfid_t sales = sb_test_cc(t->a, "acme", "Sales2");
    char id[16];
    sb_test_user_id(30, id);
    assert_rc(sb_store_member_add(t->a, "acme", sales.s, id, false, NULL, &err), 0, err);
    size_t pages;
    uint64_t seq = copy(t, "acme", 4096, &pages);
    /* After the snapshot: new users, a member moved out, a Call Center
     * deleted with its views (a prefix delete), a token revoked, another
     * org's writes in between. */
    for (unsigned i = 100; i < 110; i++) {
        sb_test_user(t->a, "acme", i);
        sb_test_user(t->a, "globex", i);
    }
    sb_test_user_id(100, id);
    assert_rc(sb_store_member_add(t->a, "acme", sales.s, id, false, NULL, &err), 0, err);
    assert_rc(sb_store_cc_delete(t->a, "acme", sales.s, true, &err), 0, err);
    assert_rc(sb_store_token_revoke(t->a, "tok4", &err), 0, err);
    token(t->a, 5, "acme", SB_ROLE_READ_ONLY);
    char da[80], db[80];
    uint64_t na, nb;
    digest(t->a, "acme", da, &na);
    digest(t->b, "acme", db, &nb);
    assert_string_not_equal(da, db);
    uint64_t next = catch_up(t, "acme", seq, 128); /* small pages: whole entries each */
    digest(t->b, "acme", db, &nb);
    assert_string_equal(da, db);
    assert_int_equal(na, nb);
    /* Nothing new: an empty page, and the same place. */
    assert_int_equal(catch_up(t, "acme", next, 128), next);
    /* A log trimmed past the sequence asked for says so. */
    size_t trimmed;
    assert_rc(sb_store_changes_trim(t->a, 1, 0, 100000, &trimmed, &err), 0, err);
    sb_move_page_t page;
    assert_rc(sb_store_org_changes(t->a, "acme", seq + 1, 4096, &page, &err), SB_E_CHANGES_TRIMMED,
              err);
}

/* Packs one record [db, suffix, values] (values: n byte strings; -1: nil). */
static void record(msgpack_packer *pk, const char *db, const void *suffix, size_t len,
                   const void *const *vals, const size_t *lens, int n)
{
    msgpack_pack_array(pk, 3);
    sb_pack_str(pk, db);
    msgpack_pack_bin(pk, len);
    msgpack_pack_bin_body(pk, suffix, len);
    if (n < 0) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        msgpack_pack_bin(pk, lens[i]);
        msgpack_pack_bin_body(pk, vals[i], lens[i]);
    }
}

/* Imports [a good user record, then `bad`] and expects `want`, with nothing written. */
static void refused(two_t *t, int want, const char *db, const void *suffix, size_t len,
                    const void *const *vals, const size_t *lens, int n)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    const void *v[1] = {"\x81\xa2id\xa1x"};
    size_t l[1] = {6};
    record(&pk, "users", "005000000000001AAA", 18, v, l, 1);
    record(&pk, db, suffix, len, vals, lens, n);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, buf.data, buf.size, NULL), MSGPACK_UNPACK_SUCCESS);
    size_t written = 99;
    sb_err_t err;
    assert_rc(sb_store_org_import(t->b, "acme", &u.data, &written, &err), want, err);
    assert_int_equal(written, 0);
    assert_true(err.message[0] != '\0');
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
    char hex[80];
    uint64_t n_records;
    digest(t->b, "acme", hex, &n_records);
    assert_int_equal(n_records, 0);
    sb_org_move_t mv;
    assert_rc(sb_store_org_move_get(t->b, "acme", &mv, &err), 0, err);
    assert_int_equal(mv.state, SB_ORG_MOVE_NONE);
}

static void hostile_records_are_refused_whole(void **state)
{
    two_t *t = *state;
    sb_err_t err;
    msgpack_sbuffer tok;
    msgpack_sbuffer_init(&tok);
    sb_token_record_t other = {.id = "t", .org = "globex", .role = SB_ROLE_ORG_ADMIN};
    sb_token_record_t admin = {.id = "a", .org = "", .role = SB_ROLE_ADMIN};
    uint8_t hash[SB_TOKEN_HASH_BYTES] = {7};
    const void *v[2] = {"\x80", "\x80"};
    size_t l[2] = {1, 1};
    refused(t, -EINVAL, "meta", "x", 1, v, l, 1);                    /* does not move */
    refused(t, -EINVAL, "changes", "x", 1, v, l, 1);                 /* the log */
    refused(t, -EINVAL, "nosuchdb", "x", 1, v, l, 1);                /* unknown */
    refused(t, -EINVAL, "orgs", "x", 1, v, l, 1);                    /* one key per org */
    refused(t, -EINVAL, "users", "005000000000002AAA", 18, v, l, 2); /* one value per key */
    refused(t, -EINVAL, "orgs", "", 0, v, l, -1);                    /* no prefix to delete */
    refused(t, -EINVAL, "orgs", "", 0, v, l, 1);                     /* not acme's org record */
    char big[600]; /* past any key (LMDB allows 511) */
    memset(big, 'x', sizeof(big));
    refused(t, -EINVAL, "users", big, sizeof(big), v, l, 1); /* does not fit a key */
    assert_int_equal(sb_codec_encode_token(&other, &tok), 0);
    const void *tv[1] = {tok.data};
    size_t tl[1] = {tok.size};
    refused(t, -EACCES, "tokens", hash, sizeof(hash), tv, tl, 1); /* another org's token */
    msgpack_sbuffer_clear(&tok);
    assert_int_equal(sb_codec_encode_token(&admin, &tok), 0);
    tv[0] = tok.data;
    tl[0] = tok.size;
    refused(t, -EACCES, "tokens", hash, sizeof(hash), tv, tl, 1); /* the admin's */
    msgpack_sbuffer_destroy(&tok);
    /* An org that is here already (and not receiving) is not overwritten. */
    assert_rc(sb_store_org_create(t->b, "acme", "Here", &err), 0, err);
    fill(t->a);
    sb_move_page_t page;
    assert_rc(sb_store_org_export(t->a, "acme", NULL, 0, 1 << 20, &page, &err), 0, err);
    assert_rc(import_page(t->b, "acme", &page, &err), -EEXIST, err);
    sb_move_page_free(&page);
    sb_org_t org;
    assert_rc(sb_store_org_get(t->b, "acme", &org, &err), 0, err);
    assert_string_equal(org.name, "Here");
}

static void purge_in_batches_and_states(void **state)
{
    two_t *t = *state;
    fill(t->a);
    sb_err_t err;
    char before[80], hex[80];
    uint64_t n, n_globex;
    digest(t->a, "globex", before, &n_globex);
    /* Marking moved needs a frozen org; freezing, an org that exists. */
    assert_rc(sb_store_org_move_set(t->a, "acme", SB_ORG_MOVE_MOVED, "/b.sock", &err),
              SB_E_ORG_MOVING, err);
    assert_rc(sb_store_org_move_set(t->a, "nobody", SB_ORG_MOVE_FROZEN, NULL, &err), -ENOENT, err);
    assert_rc(sb_store_org_move_set(t->a, "acme", SB_ORG_MOVE_FROZEN, NULL, &err), 0, err);
    assert_rc(sb_store_org_move_set(t->a, "acme", SB_ORG_MOVE_MOVED, "/b.sock", &err), 0, err);
    sb_org_move_t mv;
    assert_rc(sb_store_org_move_get(t->a, "acme", &mv, &err), 0, err);
    assert_int_equal(mv.state, SB_ORG_MOVE_MOVED);
    assert_string_equal(mv.to, "/b.sock");
    size_t calls = 0;
    for (bool left = true; left; calls++)
        assert_rc(sb_store_org_purge(t->a, "acme", true, 7, &left, &err), 0, err);
    assert_true(calls > 5);
    digest(t->a, "acme", hex, &n);
    assert_int_equal(n, 2); /* its two tokens stay, to learn MOVED */
    digest(t->a, "globex", hex, &n);
    assert_string_equal(hex, before);
    digest(t->a, "acmecorp", hex, &n);
    assert_true(n > 10);
    /* The state outlives a restart. */
    sb_store_close(t->a);
    t->a = sb_test_open(t->dir_a);
    assert_rc(sb_store_org_move_get(t->a, "acme", &mv, &err), 0, err);
    assert_int_equal(mv.state, SB_ORG_MOVE_MOVED);
    assert_rc(sb_store_org_move_get(t->a, "globex", &mv, &err), 0, err);
    assert_int_equal(mv.state, SB_ORG_MOVE_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pages_bring_the_org_and_nothing_else, setup, teardown),
        cmocka_unit_test_setup_teardown(changes_since_bring_every_later_write, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_records_are_refused_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(purge_in_batches_and_states, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
