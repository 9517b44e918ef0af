#pragma once
/*
 * libswitchboard-index: the softphone check in your own process.
 *
 * It opens a running switchboardd's data directory read-only (LMDB,
 * MDB_RDONLY) and answers "does this user see a softphone, and which?"
 * exactly as the server's softphone.check does, from the same precomputed
 * records, without a socket, a system call or an allocation per check.
 * Any number of processes may open the same directory, each with any
 * number of threads; the server keeps writing meanwhile.
 *
 *   sb_index *index;
 *   sb_index_reader *reader;
 *   char why[256];
 *   if (sb_index_open("/var/lib/switchboard", &index, why, sizeof(why)) != 0)
 *       errx(1, "%s", why);
 *   sb_index_reader_open(index, &reader);
 *   sb_index_answer answer;
 *   if (sb_index_check(reader, "acme", "005000000000042", &answer) == 0 && answer.softphone)
 *       printf("%s at %s\n", answer.display_name, answer.adapter_url);
 *   sb_index_reader_close(reader);
 *   sb_index_close(index);
 *
 * Threads: one sb_index per process and directory, shared by every thread;
 * one sb_index_reader per thread (a reader holds one cached LMDB read
 * transaction, renewed for each check or batch, so that every check sees
 * every write committed before it began, and a reader between checks pins
 * nothing, unless it holds a referring answer: see sb_index_ref_answer). A
 * reader may move between threads, never be used by two at once.
 *
 * Link with `pkg-config --cflags --libs switchboard-index`. docs/index.md
 * has the full guide.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The index schema version this library reads (the server's store schema). */
#define SB_INDEX_SCHEMA_VERSION 5

/* Return codes: 0 or one of these (negative). */
#define SB_INDEX_ENOORG (-1)   /* the org does not exist */
#define SB_INDEX_ESCHEMA (-2)  /* the directory's schema is not one this library reads */
#define SB_INDEX_EOPEN (-3)    /* the directory cannot be opened (see the message) */
#define SB_INDEX_ECORRUPT (-4) /* a record is unreadable: restore from a backup */
#define SB_INDEX_EREADERS (-5) /* every reader slot is taken (the server's limit: 1024) */
#define SB_INDEX_EARG (-6)     /* a NULL argument, or an org id that cannot exist */
#define SB_INDEX_ENOMEM (-7)   /* opening a reader found no memory */
#define SB_INDEX_ETOOBIG (-8)  /* a record larger than an answer holds (never by the server) */

/** Why a user sees no softphone: the same codes and names as softphone.check. */
typedef enum sb_index_reason {
    SB_INDEX_OK = 0,
    SB_INDEX_UNKNOWN_USER,
    SB_INDEX_NOT_A_MEMBER,
    SB_INDEX_INVALID_USER_ID,
    SB_INDEX_ADAPTER_NOT_LOADED,
    SB_INDEX_ADAPTER_URL_NOT_HTTPS,
    SB_INDEX_NO_ADAPTER_URL,
    SB_INDEX_ADAPTER_REFUSED,
    SB_INDEX_NO_SCV_LICENCE, /* a Service Cloud Voice Call Center's member without the licence */
} sb_index_reason;

/** Bytes an answer keeps of a Call Center's stored record. */
#define SB_INDEX_RECORD_MAX 16384
/** Bytes of a rendered adapter URL. */
#define SB_INDEX_URL_MAX 2048

/**
 * One answer. Its strings are NUL-terminated UTF-8 inside the answer itself:
 * it stays valid, unchanged, after the check and after the server changes
 * anything, until it is reused.
 */
typedef struct sb_index_answer {
    int softphone;           /* 1: the user sees a softphone */
    sb_index_reason reason;  /* SB_INDEX_OK when softphone is 1 */
    const char *reason_name; /* "OK", "NOT_A_MEMBER", ... (static) */
    char user[19];           /* the 18-character id; when invalid, as given (cut at 18) */
    char profile[256];       /* the user's profile (members only) */
    /* The Call Center (members only; "" otherwise). */
    const char *callcenter_id, *internal_name, *display_name;
    const char *adapter;                        /* the adapter plugin's name, or "" */
    char adapter_url[SB_INDEX_URL_MAX];         /* as the adapter renders it for this user */
    uint32_t softphone_height, softphone_width; /* 0: the softphone's own default */
    const char *compatibility_mode; /* "Classic", "Lightning" or "Classic and Lightning" */
    const char *layout_name;        /* "" when none */
    const char *layout_source;      /* "profile", "default" or "none" */
    const void *layout;             /* msgpack, as layout.get gives it; NULL when none */
    size_t layout_len;
    const char *detail;                        /* an adapter's refusal, or "" */
    size_t record_len;                         /* bytes of record[] in use */
    unsigned char record[SB_INDEX_RECORD_MAX]; /* what the pointers above point into */
} sb_index_answer;

/**
 * A referring answer (sb_index_check_ref): the same fields as sb_index_answer,
 * but the Call Center's strings, the layout and `record` point at the view
 * in the server's map instead of a copy, so that an answer is about 2.3 KiB
 * and a check copies nothing of the view. user, profile and adapter_url
 * are the answer's own.
 *
 * Lifetime [borrowed: valid until the reader's next call (any check,
 * sb_index_reader_release, sb_index_reader_close)]. Until then the reader
 * holds its snapshot: the server cannot reuse that snapshot's pages (its
 * file may grow), and a thread of this process that must adopt a map the
 * server grew waits for the release. So release soon, and never hold an
 * answer of one reader while the same thread checks with another.
 */
typedef struct sb_index_ref_answer {
    int softphone;           /* 1: the user sees a softphone */
    sb_index_reason reason;  /* SB_INDEX_OK when softphone is 1 */
    const char *reason_name; /* "OK", "NOT_A_MEMBER", ... (static) */
    char user[19];           /* the answer's own: the 18-character id, or as given (cut) */
    char profile[256];       /* the answer's own: the user's profile (members only) */
    /* The Call Center, in the map (members only; "" otherwise). */
    const char *callcenter_id, *internal_name, *display_name;
    const char *adapter;                        /* in the map: the adapter's name, or "" */
    char adapter_url[SB_INDEX_URL_MAX];         /* the answer's own: rendered for this user */
    uint32_t softphone_height, softphone_width; /* 0: the softphone's own default */
    const char *compatibility_mode;             /* static: "Classic", "Lightning", ... */
    const char *layout_name;                    /* in the map; "" when none */
    const char *layout_source;                  /* static: "profile", "default" or "none" */
    const void *layout;                         /* in the map: msgpack; NULL when none */
    size_t layout_len;
    const char *detail; /* in the map: an adapter's refusal, or "" */
    const void *record; /* in the map: the view's stored bytes; NULL when no view */
    size_t record_len;  /* bytes at record */
} sb_index_ref_answer;

/**
 * A flag of sb_index_check_batch_ref: every users[i] is an 18-character id
 * exactly as an earlier answer's `user` gave it, so that its checksum is not
 * computed again. Only the length is checked; an id that is not what an
 * answer gave finds no record (UNKNOWN_USER or NOT_A_MEMBER, never another
 * user's), where the unflagged form says INVALID_USER_ID.
 */
#define SB_INDEX_USERS_NORMALIZED 1u

typedef struct sb_index sb_index;
typedef struct sb_index_reader sb_index_reader;

/**
 * Opens the data directory `dir` of a switchboardd read-only. Clears the
 * reader slots of processes that died, and checks the schema version.
 * Returns 0, SB_INDEX_EOPEN or SB_INDEX_ESCHEMA with a sentence in `why`
 * (may be NULL) saying what was wrong and what to do.
 */
int sb_index_open(const char *dir, sb_index **out, char *why, size_t why_len);

/** Closes the index. Every reader of it must be closed first. */
void sb_index_close(sb_index *index);

/** A reader for one thread at a time. 0, SB_INDEX_ENOMEM or SB_INDEX_EREADERS. */
int sb_index_reader_open(sb_index *index, sb_index_reader **out);

/** Closes a reader, ending the snapshot it holds, if any. */
void sb_index_reader_close(sb_index_reader *reader);

/**
 * Does `user` (15 or 18 characters) of `org` see a softphone? Fills *answer
 * and returns 0 (whatever the answer; an invalid user id is the reason
 * SB_INDEX_INVALID_USER_ID), or SB_INDEX_ENOORG, SB_INDEX_ECORRUPT, ...
 */
int sb_index_check(sb_index_reader *reader, const char *org, const char *user,
                   sb_index_answer *answer);

/**
 * The same for `n` users of one org in one read transaction: answers[i]
 * for users[i]. Returns 0 when every answer was made; otherwise the first
 * error, and the answers from that user on are not filled.
 */
int sb_index_check_batch(sb_index_reader *reader, const char *org, const char *const *users,
                         size_t n, sb_index_answer *answers);

/**
 * sb_index_check, answering by reference (sb_index_ref_answer: see its
 * lifetime). Ends the snapshot the reader held, if any, and holds the new
 * one until the reader's next call.
 */
int sb_index_check_ref(sb_index_reader *reader, const char *org, const char *user,
                       sb_index_ref_answer *answer);

/**
 * sb_index_check_batch by reference: every answer refers to one snapshot,
 * held until the reader's next call. `flags`: 0 or
 * SB_INDEX_USERS_NORMALIZED; another bit is SB_INDEX_EARG.
 */
int sb_index_check_batch_ref(sb_index_reader *reader, const char *org, const char *const *users,
                             size_t n, sb_index_ref_answer *answers, unsigned flags);

/**
 * Ends the snapshot a referring answer holds (its answers die). Does nothing
 * when the reader holds none.
 */
void sb_index_reader_release(sb_index_reader *reader);

/** sb_index_explain for a referring answer (still valid). */
void sb_index_explain_ref(const sb_index_ref_answer *answer, const char *org, char *buf,
                          size_t cap);

/**
 * The operator's sentence for an answer, as softphone.check's `message`:
 * what it means and what to do. Not on the hot path: it formats.
 */
void sb_index_explain(const sb_index_answer *answer, const char *org, char *buf, size_t cap);

/** A sentence for a return code. */
const char *sb_index_strerror(int rc);

#ifdef __cplusplus
}
#endif
