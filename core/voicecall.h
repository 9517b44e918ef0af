#pragma once
/*
 * Contacts (the records a call can be tied to) and voice calls (the record
 * a call leaves), as the store keeps them, and the events that change a
 * voice call. How events combine (store/voicecall.c): every event is applied
 * so that order and repetition do not matter for what is recorded. A
 * repeated vendor call key is the same call; a time already set is kept
 * (the earliest wins); transcript segments are ordered by their time and
 * kept once per segment id; an ended call stays ended.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "phone.h"
#include "sfid.h"

#define SB_CONTACT_NAME_MAX 255
#define SB_CONTACT_PHONES 4 /* numbers kept per contact */

#define SB_SFID_PREFIX_CONTACT "003"
#define SB_SFID_PREFIX_ACCOUNT "001"
#define SB_SFID_PREFIX_LEAD "00Q"
#define SB_SFID_PREFIX_CASE "500"
#define SB_SFID_PREFIX_VOICECALL "0LQ"

typedef struct sb_contact {
    sb_sfid_t id;     /* its key prefix names its object */
    sb_object_t type; /* Contact, Account, Lead or Case */
    char name[SB_CONTACT_NAME_MAX + 1];
    char phones[SB_CONTACT_PHONES][SB_E164_MAX + 1]; /* E.164 */
    size_t n_phones;
} sb_contact_t;

/** The object an id's key prefix names (003 Contact, 001 Account, 00Q Lead, 500 Case). */
int sb_contact_type_of(const char *id, sb_object_t *out);
/** The key prefix of an object's ids. */
const char *sb_contact_prefix(sb_object_t type);

#define SB_CALL_KEY_MAX 128
#define SB_CALL_NUMBER_MAX 40
#define SB_CALL_TEXT_MAX 4096            /* bytes of one transcript segment */
#define SB_CALL_TRANSCRIPT_MAX (1 << 20) /* bytes of a call's whole transcript */
#define SB_CALL_SEGMENTS_MAX 2000        /* per call: a long call's transcript fits */
/*
 * The times a call event may carry: from 2000-01-01 to a day past the
 * server's clock (a vendor's clock may run ahead; a call cannot start next
 * week). Refusing the rest keeps every difference of two times, and so every
 * duration, far inside int64.
 */
#define SB_CALL_TIME_MIN_MS 946684800000LL /* 2000-01-01T00:00:00Z */
#define SB_CALL_TIME_AHEAD_MS 86400000LL   /* a day past the server's clock */

typedef enum sb_call_action {
    SB_CALL_START = 0,
    SB_CALL_ACCEPT,
    SB_CALL_HOLD,
    SB_CALL_RESUME,
    SB_CALL_TRANSCRIPT,
    SB_CALL_END,
    SB_CALL_ACTIONS
} sb_call_action_t;

const char *sb_call_action_name(sb_call_action_t action);
int sb_call_action_parse(const char *name, sb_call_action_t *out);

/** One event of a call. Strings [borrowed]; NULL or 0 when not given. */
typedef struct sb_call_event {
    sb_call_action_t action;
    const char *vendor_call_key; /* required: unique per Call Center */
    const char *user;            /* the agent (start, accept) */
    int call_type;               /* sb_call_type_t, or -1 (start: inbound) */
    const char *from, *to;       /* ANI, DNIS */
    int64_t at_ms;               /* when it happened; 0: now */
    const char *text;            /* transcript */
    const char *speaker;         /* transcript: "agent", "customer"... */
    const char *segment_id;      /* transcript: repeated ids are kept once */
    const char *disposition;     /* end */
} sb_call_event_t;

typedef struct sb_transcript_segment {
    char id[65];
    int64_t at_ms;
    char speaker[32];
    char *text; /* [owned by the voice call] */
} sb_transcript_segment_t;

typedef struct sb_voicecall {
    sb_sfid_t id; /* key prefix 0LQ */
    sb_sfid_t callcenter;
    sb_sfid_t user; /* "" until an agent is known */
    char vendor_call_key[SB_CALL_KEY_MAX + 1];
    sb_call_type_t type;
    char from[SB_CALL_NUMBER_MAX + 1];   /* ANI, E.164 when it could be normalized */
    char to[SB_CALL_NUMBER_MAX + 1];     /* DNIS */
    int64_t start_ms, accept_ms, end_ms; /* 0: not yet */
    int64_t duration_s;                  /* -1 until the call ended */
    char status[16];                     /* ringing, in_call, on_hold, ended */
    unsigned holds;
    char disposition[65];
    /* The screen pop, decided once the agent and the ANI are known. */
    bool pop_decided;
    char pop[16];                        /* none, record, search, new_record, flow */
    char pop_target[81];                 /* the object of a new record, or the flow */
    uint32_t matches;                    /* records that matched the ANI */
    sb_sfid_t parent;                    /* the matching record a single-match pop chose, or "" */
    char layout[SB_LAYOUT_NAME_MAX + 1]; /* the layout whose rule applied */
    sb_transcript_segment_t *segments;   /* [owned] ordered by time */
    size_t n_segments;
    int64_t created_ms, updated_ms;
} sb_voicecall_t;

void sb_voicecall_free(sb_voicecall_t *call);
