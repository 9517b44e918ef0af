#pragma once
/*
 * Softphone layouts: what an agent's softphone shows for each call type
 * (inbound, outbound, internal) and each call state (ringing, in call,
 * after call), and where a call pops (the screen-pop rule).
 *
 * A layout is a fixed-size value: every list holds names from a closed
 * vocabulary (the tables in layout.c), kept in the order the operator gave.
 * It has two shapes on the wire: Switchboard's own (snake_case, the one
 * layout.put takes and the store keeps) and the shape Open CTI's
 * getSoftphoneLayout returns (Inbound/Outbound/Internal, each with
 * callRelatedFields, objects, screenPopSettings).
 */

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define SB_LAYOUT_NAME_MAX 80       /* bytes */
#define SB_LAYOUT_TARGET_MAX 80     /* a flow's API name, in bytes */
#define SB_LAYOUT_MAX_FIELDS 8      /* per list of fields */
#define SB_LAYOUT_MAX_ACTIONS 8     /* per call state */
#define SB_LAYOUT_OBJECTS 4         /* Contact, Account, Lead, Case */
#define SB_LAYOUT_MAX_OBJ_FIELDS 10 /* fields shown per object */
#define SB_LAYOUT_WARNINGS_MAX 16

typedef enum sb_call_type {
    SB_CALL_INBOUND = 0,
    SB_CALL_OUTBOUND,
    SB_CALL_INTERNAL,
    SB_CALL_TYPES
} sb_call_type_t;

typedef enum sb_call_state {
    SB_STATE_RINGING = 0,
    SB_STATE_IN_CALL,
    SB_STATE_AFTER_CALL,
    SB_CALL_STATES
} sb_call_state_t;

/* The call-related fields; call states may also show DURATION and RECORD. */
typedef enum sb_layout_field {
    SB_FIELD_ANI = 0,
    SB_FIELD_DNIS,
    SB_FIELD_SEGMENT,
    SB_FIELD_QUEUE,
    SB_FIELD_DURATION,
    SB_FIELD_RECORD,
    SB_LAYOUT_FIELD_COUNT
} sb_layout_field_t;

typedef enum sb_layout_action {
    SB_ACTION_ANSWER = 0,
    SB_ACTION_DECLINE,
    SB_ACTION_HOLD,
    SB_ACTION_MUTE,
    SB_ACTION_TRANSFER,
    SB_ACTION_END,
    SB_ACTION_WRAP_UP,
    SB_ACTION_LOG_CALL,
    SB_LAYOUT_ACTION_COUNT
} sb_layout_action_t;

/** The records a call can pop to; also the kinds of contacts. */
typedef enum sb_object {
    SB_OBJECT_CONTACT = 0,
    SB_OBJECT_ACCOUNT,
    SB_OBJECT_LEAD,
    SB_OBJECT_CASE,
} sb_object_t;

typedef enum sb_match {
    SB_MATCH_NONE = 0,
    SB_MATCH_SINGLE,
    SB_MATCH_MULTIPLE,
    SB_MATCHES
} sb_match_t;

typedef enum sb_pop_action {
    SB_POP_NONE = 0,   /* do not pop */
    SB_POP_RECORD,     /* the one matching record (single match only) */
    SB_POP_SEARCH,     /* the search page, with the matches */
    SB_POP_NEW_RECORD, /* a new record of `object` */
    SB_POP_FLOW,       /* the flow named `target` */
} sb_pop_action_t;

typedef struct sb_pop_rule {
    sb_pop_action_t action;
    sb_object_t object;                    /* SB_POP_NEW_RECORD */
    char target[SB_LAYOUT_TARGET_MAX + 1]; /* SB_POP_FLOW: the flow's API name */
} sb_pop_rule_t;

typedef struct sb_layout_object {
    sb_object_t object;
    unsigned char fields[SB_LAYOUT_MAX_OBJ_FIELDS]; /* indexes into the object's field table */
    size_t n_fields;
} sb_layout_object_t;

typedef struct sb_layout_call_type {
    unsigned char fields[SB_LAYOUT_MAX_FIELDS]; /* sb_layout_field_t, ANI..QUEUE only */
    size_t n_fields;
    sb_layout_object_t objects[SB_LAYOUT_OBJECTS]; /* searched, in this order */
    size_t n_objects;
    sb_pop_rule_t pop[SB_MATCHES];
} sb_layout_call_type_t;

typedef struct sb_layout_call_state {
    unsigned char fields[SB_LAYOUT_MAX_FIELDS]; /* sb_layout_field_t */
    size_t n_fields;
    unsigned char actions[SB_LAYOUT_MAX_ACTIONS]; /* sb_layout_action_t */
    size_t n_actions;
} sb_layout_call_state_t;

typedef struct sb_layout {
    char name[SB_LAYOUT_NAME_MAX + 1];
    bool new_window; /* screen pops open in a new window rather than the existing one */
    sb_layout_call_type_t types[SB_CALL_TYPES];
    sb_layout_call_state_t states[SB_CALL_STATES];
} sb_layout_t;

/** What a layout hides from agents: allowed, but said. */
typedef struct sb_layout_warnings {
    char text[SB_LAYOUT_WARNINGS_MAX][256];
    size_t n;
} sb_layout_warnings_t;

/**
 * Reads a layout in Switchboard's shape from a msgpack map, refusing what
 * cannot work (an unknown field, object, action or call type; a pop rule
 * without its target; a rule that cannot apply, such as popping to "the"
 * record when several match) with SB_E_INVALID_VALUE and the path of the
 * offending value ("/call_types/inbound/screen_pop/no_match").
 */
int sb_layout_parse(const msgpack_object *map, sb_layout_t *out, sb_err_t *err);

/** What the layout hides that agents need (no ANI while ringing, no way to end a call). */
void sb_layout_warn(const sb_layout_t *layout, sb_layout_warnings_t *out);

/** Packs the layout in Switchboard's own shape (the one sb_layout_parse reads). */
int sb_layout_pack(msgpack_packer *pk, const sb_layout_t *layout);

/** Packs the layout in the shape of Open CTI's getSoftphoneLayout returnValue. */
int sb_layout_pack_opencti(msgpack_packer *pk, const sb_layout_t *layout);

/** A layout the store can hold: packed, then read back by the same code. */
int sb_layout_encode(const sb_layout_t *layout, msgpack_sbuffer *out);
int sb_layout_decode(const void *data, size_t len, sb_layout_t *out, sb_err_t *err);

/** Checks a layout name: 1 to SB_LAYOUT_NAME_MAX bytes of UTF-8, no control characters. */
int sb_layout_check_name(const char *name, sb_err_t *err);

/* Names, as the wire spells them. */
const char *sb_call_type_name(sb_call_type_t type); /* "inbound" */
int sb_call_type_parse(const char *name, sb_call_type_t *out);
const char *sb_object_name(sb_object_t object);          /* "Contact" */
int sb_object_parse(const char *name, sb_object_t *out); /* exact, as Salesforce spells it */
const char *sb_pop_action_name(sb_pop_action_t action);  /* "new_record" */
const char *sb_match_name(sb_match_t match);             /* "single_match" */

/** True when the call state shows `field` / the call type shows call-related `field`. */
bool sb_layout_state_shows(const sb_layout_t *layout, sb_call_state_t state,
                           sb_layout_field_t field);
bool sb_layout_state_has_action(const sb_layout_t *layout, sb_call_state_t state,
                                sb_layout_action_t action);
/** True when call type `type` searches object `object`. */
bool sb_layout_searches(const sb_layout_t *layout, sb_call_type_t type, sb_object_t object);
