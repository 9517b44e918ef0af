/*
 * Damaged data (issue 14): a real data directory of a few hundred records of
 * each kind the store keeps, then damaged copies of it: truncated at several
 * points, emptied, removed, and a bit flipped at 50 seeded positions. For
 * each copy, the store either refuses to open with a sentence that says to
 * restore a backup, or answers every read (each read method, each record)
 * with the undamaged copy's answer or with CORRUPT, never a changed value
 * and never a crash (the suite runs under ASan and UBSan). The read library
 * (libswitchboard-index) is held to the same on each copy.
 *
 * A record reported missing (NOT_FOUND, or a shorter list) is a changed
 * answer too, and fails the test: a flipped byte in a key moves its record,
 * which the checksum (over key and value) shows when a look-up lands next
 * to it (value.c), and the walk of the pages at open shows when it breaks
 * the order of the keys or the bounds a parent page sets (pagewalk.c).
 */
#include "sb_test.h"

#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "datafile.h"
#include "record_codec.h"
#include "store_internal.h"
#include "switchboard/index.h"

#define USERS 300
#define MEMBERS 260 /* users 1..260 are members, the rest are not */
#define CONTACTS 120
#define CALLS 40
#define CCS 4
#define FLIPS 50

/* One read's answer: its code and a hash of what it gave. */
typedef struct answer {
    int rc;
    uint64_t hash;
    uint64_t *rows; /* a list's: each row's hash */
    size_t n_rows;
} answer_t;

typedef struct transcript {
    answer_t *a;
    size_t n, cap;
} transcript_t;

static void add(transcript_t *t, int rc, const void *data, size_t len)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1024;
        t->a = realloc(t->a, t->cap * sizeof(*t->a));
        assert_non_null(t->a);
    }
    t->a[t->n].rc = rc;
    t->a[t->n].hash = rc == 0 ? XXH3_64bits(data, len) : 0;
    t->a[t->n].rows = NULL;
    t->a[t->n].n_rows = 0;
    t->n++;
}

/* A list: the whole, and each row, so that a shorter list can be told from
 * a changed one. */
static void add_rows(transcript_t *t, int rc, const void *rows, size_t n, size_t size)
{
    add(t, rc, rows, n * size);
    answer_t *a = &t->a[t->n - 1];
    if (rc != 0 || n == 0)
        return;
    a->rows = calloc(n, sizeof(*a->rows));
    assert_non_null(a->rows);
    for (size_t i = 0; i < n; i++)
        a->rows[i] = XXH3_64bits((const char *)rows + i * size, size);
    a->n_rows = n;
}

static void transcript_free(transcript_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->a[i].rows);
    free(t->a);
}

static void add_sbuf(transcript_t *t, int rc, msgpack_sbuffer *buf)
{
    add(t, rc, buf->data, buf->size);
    msgpack_sbuffer_clear(buf);
}

static sb_sfid_t ccs[CCS];
static sb_sfid_t call_ids[CALLS]; /* as the first (undamaged) read listed them */
static size_t n_call_ids;
static bool call_ids_known;
static const char *const cc_names[CCS] = {"Support", "Sales", "Billing", "Night"};

/* SB_TEST_SEED replays a run; otherwise a new one each run, printed. */
static unsigned test_seed(void)
{
    const char *env = getenv("SB_TEST_SEED");
    if (env != NULL && env[0] != '\0')
        return (unsigned)strtoul(env, NULL, 10);
    return (unsigned)time(NULL) ^ (unsigned)getpid();
}

static void user_id(unsigned n, char out[16])
{
    sb_test_user_id(n, out);
}

static void contact_id(unsigned n, char out[19])
{
    snprintf(out, 19, "003%012uAAA", n);
}

/* The data directory: two orgs; in acme, CCS Call Centers, USERS users of
 * two profiles, MEMBERS of them members, CONTACTS contacts of two numbers
 * each, CALLS voice calls; a token. */
static char *make_directory(void)
{
    char *dir = sb_test_tmpdir();
    sb_store_t *st = sb_test_open(dir);
    sb_err_t err;
    assert_rc(sb_store_org_create(st, "acme", "Acme", &err), 0, err);
    assert_rc(sb_store_org_create(st, "beta", "Beta", &err), 0, err);
    for (size_t i = 0; i < CCS; i++)
        ccs[i] = sb_test_cc(st, "acme", cc_names[i]);
    sb_test_cc(st, "beta", "Support");
    sb_user_t *users = calloc(USERS, sizeof(*users));
    assert_non_null(users);
    for (unsigned u = 1; u <= USERS; u++) {
        user_id(u, users[u - 1].id.s);
        snprintf(users[u - 1].name, sizeof(users[u - 1].name), "User %u", u);
        snprintf(users[u - 1].profile, sizeof(users[u - 1].profile), "%s",
                 u % 3 ? "Agent" : "Supervisor");
    }
    assert_rc(sb_store_user_upsert_bulk(st, "acme", users, USERS, &err), 0, err);
    free(users);
    sb_member_assignment_t *rows = calloc(MEMBERS, sizeof(*rows));
    char(*ids)[16] = calloc(MEMBERS, 16);
    assert_non_null(rows);
    assert_non_null(ids);
    for (unsigned u = 1; u <= MEMBERS; u++) {
        user_id(u, ids[u - 1]);
        rows[u - 1].user = ids[u - 1];
        rows[u - 1].callcenter = ccs[u % CCS].s;
    }
    assert_rc(sb_store_member_add_bulk(st, "acme", rows, MEMBERS, false, &err), 0, err);
    free(rows);
    free(ids);
    sb_contact_t *contacts = calloc(CONTACTS, sizeof(*contacts));
    assert_non_null(contacts);
    for (unsigned c = 0; c < CONTACTS; c++) {
        contact_id(c + 1, contacts[c].id.s);
        contacts[c].type = SB_OBJECT_CONTACT;
        snprintf(contacts[c].name, sizeof(contacts[c].name), "Contact %u", c + 1);
        snprintf(contacts[c].phones[0], sizeof(contacts[c].phones[0]), "+1415555%04u", c);
        snprintf(contacts[c].phones[1], sizeof(contacts[c].phones[1]), "+1212555%04u", c % 40);
        contacts[c].n_phones = 2;
    }
    assert_rc(sb_store_contact_upsert_bulk(st, "acme", contacts, CONTACTS, &err), 0, err);
    free(contacts);
    for (unsigned i = 0; i < CALLS; i++) {
        char key[32], agent[16], from[24];
        snprintf(key, sizeof(key), "call-%u", i);
        user_id(i + 1, agent);
        snprintf(from, sizeof(from), "+1415555%04u", i);
        sb_call_event_t ev = {.action = SB_CALL_START,
                              .vendor_call_key = key,
                              .user = agent,
                              .call_type = -1,
                              .from = from,
                              .to = "+18005550100"};
        sb_voicecall_t *call = NULL;
        assert_rc(sb_store_call_event(st, "acme", &ccs[i % CCS], &ev, &call, NULL, &err), 0, err);
        sb_voicecall_free(call);
    }
    sb_token_record_t tok = {.id = "tok1", .org = "acme", .role = SB_ROLE_ORG_ADMIN, .label = "x"};
    uint8_t hash[SB_TOKEN_HASH_BYTES] = {1, 2, 3};
    assert_rc(sb_store_token_put(st, hash, &tok, &err), 0, err);
    sb_store_close(st);
    return dir;
}

/* Every read method, on every record: the answers in order. */
static void read_everything(sb_store_t *st, transcript_t *t)
{
    sb_err_t err;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    const char *orgs[] = {"acme", "beta"};
    for (size_t o = 0; o < 2; o++) {
        sb_org_t org;
        memset(&org, 0, sizeof(org));
        int rc = sb_store_org_get(st, orgs[o], &org, &err);
        if (rc == 0)
            rc = sb_codec_encode_org(&org, &buf);
        add_sbuf(t, rc, &buf);
    }
    sb_org_t *org_rows = NULL;
    size_t n = 0;
    bool more = false;
    int rc = sb_store_org_list(st, NULL, 100, &org_rows, &n, &more, &err);
    add_rows(t, rc, org_rows, n, sizeof(*org_rows));
    free(org_rows);
    sb_cc_summary_t *cc_rows = NULL;
    rc = sb_store_cc_list(st, "acme", NULL, 100, &cc_rows, &n, &more, &err);
    add_rows(t, rc, cc_rows, n, sizeof(*cc_rows));
    free(cc_rows);
    for (size_t i = 0; i < CCS; i++) {
        sb_callcenter_t *cc = NULL;
        rc = sb_store_cc_get(st, "acme", ccs[i].s, &cc, &err);
        if (rc == 0)
            rc = sb_codec_encode_callcenter(cc, &buf);
        add_sbuf(t, rc, &buf);
        sb_callcenter_free(cc);
        cc = NULL;
        rc = sb_store_cc_get_by_name(st, "acme", cc_names[i], &cc, &err);
        if (rc == 0)
            rc = sb_codec_encode_callcenter(cc, &buf);
        add_sbuf(t, rc, &buf);
        sb_callcenter_free(cc);
        sb_sfid_t *members = NULL;
        uint64_t total = 0;
        rc = sb_store_member_list(st, "acme", ccs[i].s, NULL, 1000, &members, &n, &more, &total,
                                  &err);
        add_rows(t, rc, members, n, sizeof(*members));
        free(members);
    }
    sb_user_t *user_rows = NULL;
    rc = sb_store_user_list(st, "acme", NULL, 1000, &user_rows, &n, &more, &err);
    add_rows(t, rc, user_rows, n, sizeof(*user_rows));
    free(user_rows);
    for (unsigned u = 1; u <= USERS; u++) {
        char uid[16];
        user_id(u, uid);
        sb_user_t user;
        memset(&user, 0, sizeof(user));
        rc = sb_store_user_get(st, "acme", uid, &user, &err);
        if (rc == 0)
            rc = sb_codec_encode_user(&user, &buf);
        add_sbuf(t, rc, &buf);
        sb_sfid_t cc = {{0}};
        rc = sb_store_member_lookup(st, "acme", uid, &cc, &err);
        add(t, rc, cc.s, sizeof(cc.s));
        sb_softphone_answer_t a;
        rc = sb_store_softphone_check(st, "acme", uid, &a, &err);
        if (rc == 0) {
            msgpack_sbuffer_write(&buf, (const char *)&a.reason, sizeof(a.reason));
            msgpack_sbuffer_write(&buf, a.profile, strlen(a.profile));
            msgpack_sbuffer_write(&buf, a.message, strlen(a.message));
            msgpack_sbuffer_write(&buf, a.adapter_url, strlen(a.adapter_url));
            if (a.blob != NULL)
                msgpack_sbuffer_write(&buf, a.blob, strlen(a.view.cc_id) + 1);
            sb_softphone_answer_destroy(&a);
        }
        add_sbuf(t, rc, &buf);
    }
    sb_contact_t *contact_rows = NULL;
    rc = sb_store_contact_list(st, "acme", NULL, 1000, &contact_rows, &n, &more, &err);
    add_rows(t, rc, contact_rows, n, sizeof(*contact_rows));
    free(contact_rows);
    for (unsigned c = 1; c <= CONTACTS; c++) {
        char id[19];
        contact_id(c, id);
        sb_contact_t contact;
        memset(&contact, 0, sizeof(contact));
        rc = sb_store_contact_get(st, "acme", id, &contact, &err);
        add(t, rc, &contact, sizeof(contact));
    }
    /* The list as one answer; each call by the ids the undamaged copy listed. */
    sb_voicecall_t **calls = NULL;
    sb_voicecall_filter_t f = {0};
    sb_sfid_t resume;
    rc = sb_store_voicecall_list(st, "acme", &f, 100, &calls, &n, &more, &resume, &err);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    uint64_t *packed = calloc(CALLS + 1, sizeof(*packed));
    assert_non_null(packed);
    for (size_t i = 0; rc == 0 && i < n && i <= CALLS; i++) {
        if (n_call_ids < CALLS && !call_ids_known)
            call_ids[n_call_ids++] = calls[i]->id;
        sb_voicecall_pack(&pk, calls[i]);
        packed[i] = XXH3_64bits(buf.data, buf.size);
        msgpack_sbuffer_clear(&buf);
    }
    call_ids_known = true;
    add_rows(t, rc, packed, rc == 0 && n <= CALLS ? n : 0, sizeof(*packed));
    free(packed);
    for (size_t i = 0; rc == 0 && i < n; i++)
        sb_voicecall_free(calls[i]);
    free(calls);
    for (size_t i = 0; i < n_call_ids; i++) {
        sb_voicecall_t *one = NULL;
        int got = sb_store_voicecall_get(st, "acme", call_ids[i].s, &one, &err);
        if (got == 0)
            sb_voicecall_pack(&pk, one);
        add_sbuf(t, got, &buf);
        sb_voicecall_free(one);
    }
    sb_token_record_t *toks = NULL;
    rc = sb_store_token_list(st, &toks, &n, &err);
    add_rows(t, rc, toks, n, sizeof(*toks));
    free(toks);
    msgpack_sbuffer_destroy(&buf);
}

/* The read library's answers for every user. */
static int index_everything(const char *dir, transcript_t *t, char *why, size_t cap)
{
    sb_index *index = NULL;
    int rc = sb_index_open(dir, &index, why, cap);
    if (rc != 0)
        return rc;
    sb_index_reader *reader = NULL;
    rc = sb_index_reader_open(index, &reader);
    if (rc == 0) {
        sb_index_answer *a = malloc(sizeof(*a));
        assert_non_null(a);
        for (unsigned u = 1; u <= USERS; u++) {
            char uid[16];
            user_id(u, uid);
            int got = sb_index_check(reader, "acme", uid, a);
            size_t len = 0;
            unsigned char bytes[sizeof(a->profile) + sizeof(a->record) + 8];
            if (got == 0) {
                memcpy(bytes, &a->reason, sizeof(a->reason));
                len = sizeof(a->reason);
                memcpy(bytes + len, a->profile, strlen(a->profile));
                len += strlen(a->profile);
                memcpy(bytes + len, a->record, a->record_len);
                len += a->record_len;
            }
            add(t, got, bytes, len);
        }
        free(a);
        sb_index_reader_close(reader);
    }
    sb_index_close(index);
    return rc;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* A copy of `dir`'s data file and marker (not its lock file) in a new directory. */
static char *copy_directory(const char *dir)
{
    char *copy = sb_test_tmpdir();
    char from[4200], to[4200];
    static const char *files[] = {"data.mdb", SB_MARKER_FILE};
    for (size_t i = 0; i < 2; i++) {
        snprintf(from, sizeof(from), "%s/%s", dir, files[i]);
        snprintf(to, sizeof(to), "%s/%s", copy, files[i]);
        copy_file(from, to);
    }
    return copy;
}

static off_t data_size(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

typedef struct tally {
    unsigned refused, opened, corrupt_answers, index_refused;
} tally_t;

/* Opens the damaged copy `dir` and holds every answer to the reference's. */
static void judge(const char *dir, const transcript_t *ref, const transcript_t *iref,
                  const char *what, tally_t *tally)
{
    sb_store_opts_t opts = {.dir = dir, .durability = SB_DURABILITY_NONE};
    sb_store_t *st = NULL;
    sb_err_t err;
    int rc = sb_store_open(&opts, &st, &err);
    if (rc != 0) {
        tally->refused++;
        /* A refusal says what to do: restore. */
        if (strstr(err.message, "restore") == NULL && strstr(err.message, "Restore") == NULL)
            fail_msg("%s: refused without saying to restore: %s", what, err.message);
    } else {
        tally->opened++;
        transcript_t t = {0};
        read_everything(st, &t);
        sb_store_close(st);
        assert_int_equal(t.n, ref->n);
        for (size_t i = 0; i < t.n; i++) {
            if (t.a[i].rc == ref->a[i].rc && t.a[i].hash == ref->a[i].hash)
                continue;
            if (t.a[i].rc == SB_E_CORRUPT) {
                tally->corrupt_answers++;
                continue;
            }
            fail_msg("%s: read %zu answered %s (hash %llx, %zu rows), the undamaged copy %s "
                     "(hash %llx, %zu rows)",
                     what, i, sb_err_name(t.a[i].rc), (unsigned long long)t.a[i].hash,
                     t.a[i].n_rows, sb_err_name(ref->a[i].rc), (unsigned long long)ref->a[i].hash,
                     ref->a[i].n_rows);
        }
        transcript_free(&t);
    }
    /* The read library: refused at open, or the true answer, or ECORRUPT. */
    transcript_t it = {0};
    char why[512] = "";
    rc = index_everything(dir, &it, why, sizeof(why));
    if (rc != 0) {
        tally->index_refused++;
    } else {
        assert_int_equal(it.n, iref->n);
        for (size_t i = 0; i < it.n; i++)
            if (!(it.a[i].rc == iref->a[i].rc && it.a[i].hash == iref->a[i].hash) &&
                it.a[i].rc != SB_INDEX_ECORRUPT)
                fail_msg("%s: the read library's check %zu answered %d, the undamaged copy %d",
                         what, i, it.a[i].rc, iref->a[i].rc);
    }
    transcript_free(&it);
}

static void truncate_to(const char *dir, off_t size)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    assert_int_equal(truncate(path, size), 0);
}

static void refused_with(const char *dir, const char *words)
{
    sb_store_opts_t opts = {.dir = dir};
    sb_store_t *st = NULL;
    sb_err_t err;
    assert_int_equal(sb_store_open(&opts, &st, &err), SB_E_CORRUPT);
    assert_null(st);
    if (strstr(err.message, words) == NULL || strstr(err.message, "data.mdb") == NULL ||
        strstr(err.message, "sbstore restore") == NULL)
        fail_msg("refused, but not with '%s', the file and the restore: %s", words, err.message);
    char why[512] = "";
    sb_index *index = NULL;
    assert_int_equal(sb_index_open(dir, &index, why, sizeof(why)), SB_INDEX_ECORRUPT);
    assert_non_null(strstr(why, words));
}

static void truncated_emptied_and_removed_files_are_refused(void **state)
{
    (void)state;
    char *dir = make_directory();
    off_t size = data_size(dir);
    /* Truncated: through the meta pages, in the middle, a page short, a byte short. */
    const off_t cuts[] = {100, 4096 + 100, 3 * 4096, size / 2, size - 4096, size - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        char *copy = copy_directory(dir);
        truncate_to(copy, cuts[i]);
        refused_with(copy, cuts[i] < 2 * 4096 ? "meta page" : "truncated");
        sb_test_rmdir(copy);
    }
    /* Emptied to 0 bytes: lost, not new. */
    char *copy = copy_directory(dir);
    truncate_to(copy, 0);
    refused_with(copy, "empty (0 bytes)");
    sb_test_rmdir(copy);
    /* Removed. */
    copy = copy_directory(dir);
    char path[4200];
    snprintf(path, sizeof(path), "%s/data.mdb", copy);
    assert_int_equal(unlink(path), 0);
    refused_with(copy, "missing");
    sb_test_rmdir(copy);
    sb_test_rmdir(dir);
}

static void flipped_bits_are_refused_or_corrupt_never_served(void **state)
{
    (void)state;
    char *dir = make_directory();
    transcript_t ref = {0}, iref = {0};
    sb_store_t *st = sb_test_open(dir);
    read_everything(st, &ref);
    sb_store_close(st);
    char why[512];
    assert_int_equal(index_everything(dir, &iref, why, sizeof(why)), 0);
    off_t size = data_size(dir);
    unsigned seed = test_seed();
    print_message("seed %u (SB_TEST_SEED replays it)\n", seed);
    srand(seed);
    tally_t tally = {0};
    for (unsigned i = 0; i < FLIPS; i++) {
        char *copy = copy_directory(dir);
        off_t at = (off_t)(((uint64_t)rand() << 16 ^ (uint64_t)rand()) % (uint64_t)size);
        unsigned bit = (unsigned)rand() % 8;
        char path[4200], what[64];
        snprintf(path, sizeof(path), "%s/data.mdb", copy);
        int fd = open(path, O_RDWR);
        assert_true(fd >= 0);
        unsigned char byte;
        assert_int_equal(pread(fd, &byte, 1, at), 1);
        byte ^= (unsigned char)(1u << bit);
        assert_int_equal(pwrite(fd, &byte, 1, at), 1);
        close(fd);
        snprintf(what, sizeof(what), "bit %u of byte %lld", bit, (long long)at);
        if (getenv("SB_TEST_KEEP"))
            print_message("%s: %s\n", what, copy);
        judge(copy, &ref, &iref, what, &tally);
        sb_test_rmdir(copy);
    }
    print_message("%u copies refused at open, %u opened; %u answers CORRUPT; the read library "
                  "refused %u\n",
                  tally.refused, tally.opened, tally.corrupt_answers, tally.index_refused);
    transcript_free(&ref);
    transcript_free(&iref);
    sb_test_rmdir(dir);
}

/* A bit flipped inside a known record's value: CORRUPT naming that record,
 * from the store and from the read library. */
static void a_flipped_view_is_corrupt_by_name(void **state)
{
    (void)state;
    char *dir = make_directory();
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi views;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 24), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "views", 0, &views), 0);
    /* User 3 is a Supervisor in ccs[3]: the view of (ccs[3], Supervisor). */
    char key[128];
    int klen = snprintf(key, sizeof(key), "acme%c%s%cSupervisor", '\0', ccs[3].s, '\0');
    MDB_val k = {(size_t)klen, key}, v;
    assert_int_equal(mdb_get(txn, views, &k, &v), 0);
    unsigned char *copy = malloc(v.mv_size);
    assert_non_null(copy);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[v.mv_size / 3] ^= 0x10;
    MDB_val nv = {v.mv_size, copy};
    assert_int_equal(mdb_put(txn, views, &k, &nv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(copy);

    sb_store_t *st = sb_test_open(dir);
    sb_softphone_answer_t a;
    sb_err_t err;
    char uid[16];
    user_id(3, uid);
    assert_rc(sb_store_softphone_check(st, "acme", uid, &a, &err), SB_E_CORRUPT, err);
    char named[128];
    snprintf(named, sizeof(named), "views/acme/%s/Supervisor", ccs[3].s);
    if (strstr(err.message, named) == NULL)
        fail_msg("CORRUPT, but not naming %s: %s", named, err.message);
    /* Agents of the same Call Center have a view of their own: whole. */
    user_id(7, uid);
    assert_rc(sb_store_softphone_check(st, "acme", uid, &a, &err), 0, err);
    assert_int_equal(a.reason, SB_SOFTPHONE_OK);
    sb_softphone_answer_destroy(&a);
    sb_store_close(st);

    sb_index *index;
    sb_index_reader *reader;
    char why[256];
    assert_int_equal(sb_index_open(dir, &index, why, sizeof(why)), 0);
    assert_int_equal(sb_index_reader_open(index, &reader), 0);
    sb_index_answer *ia = malloc(sizeof(*ia));
    assert_non_null(ia);
    user_id(3, uid);
    assert_int_equal(sb_index_check(reader, "acme", uid, ia), SB_INDEX_ECORRUPT);
    user_id(7, uid);
    assert_int_equal(sb_index_check(reader, "acme", uid, ia), 0);
    assert_int_equal(ia->reason, SB_INDEX_OK);
    free(ia);
    sb_index_reader_close(reader);
    sb_index_close(index);
    sb_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(truncated_emptied_and_removed_files_are_refused),
        cmocka_unit_test(flipped_bits_are_refused_or_corrupt_never_served),
        cmocka_unit_test(a_flipped_view_is_corrupt_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
