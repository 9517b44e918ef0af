/*
 * switchboard/adapter.h: the partner adapter ABI, version 1.0.
 *
 * A Switchboard adapter is a shared object (NAME.so) in the server's plugin
 * directory that exports one function, sb_adapter_v1, returning a pointer
 * to a descriptor of type sb_adapter. The host checks, in this order:
 *   1. abi_major equals the host's (SB_ADAPTER_ABI_MAJOR);
 *   2. abi_minor is not newer than the host's;
 *   3. struct_size covers every field of that minor version;
 *   4. every mandatory entry point is set (all of version 1.0's are);
 *   5. name equals the file's name without ".so".
 * A plugin that fails a check is refused, and `sbctl plugin list` says which.
 *
 * Rules of this ABI:
 * - Fields are only ever appended, at the end of a struct, with a minor
 *   version bump; a plugin built against 1.0 keeps loading in every 1.x host.
 *   An incompatible change bumps the major version and renames the exported
 *   symbol (sb_adapter_v2).
 * - Every struct that crosses the boundary begins with its own size, as the
 *   side that filled it compiled it.
 * - Strings are NUL-terminated UTF-8. Those the host passes are borrowed for
 *   the call; those the plugin returns in its descriptor and settings live as
 *   long as the plugin is loaded (static storage).
 * - The plugin never frees what the host gave it, and the host never frees
 *   what the plugin returned. Results flow through the sink callbacks, which
 *   copy what they are given.
 * - Entry points may be called from any one thread at a time per plugin.
 *   They must not block for long (a call past the host's deadline makes the
 *   adapter unavailable in isolated mode), and must not reach the network.
 *
 * This header includes only <stddef.h> and <stdint.h> and is C and C++.
 */
#ifndef SWITCHBOARD_ADAPTER_H
#define SWITCHBOARD_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SB_ADAPTER_ABI_MAJOR 1 /* incompatible change: the host refuses a mismatch */
#define SB_ADAPTER_ABI_MINOR 0 /* fields appended: the host accepts plugin minor <= its own */

/* Log levels for sb_host.log. */
#define SB_ADAPTER_LOG_DEBUG 0
#define SB_ADAPTER_LOG_INFO 1
#define SB_ADAPTER_LOG_WARN 2
#define SB_ADAPTER_LOG_ERROR 3

/** What the host offers a plugin; passed to init, valid until fini returns. */
typedef struct sb_host {
    uint32_t struct_size; /* sizeof(sb_host) as the host compiled it */
    uint16_t abi_major;   /* the host's ABI version */
    uint16_t abi_minor;
    /* Logs one line, attributed to the adapter. `message` is borrowed. */
    void (*log)(int level, const char *adapter, const char *message);
    /* Memory, should the plugin want the host's allocator. */
    void *(*alloc)(size_t size);
    void (*free)(void *pointer);
    /* Wall-clock milliseconds since the Unix epoch. */
    int64_t (*now_ms)(void);
} sb_host;

/** One item of a Call Center's definition. All strings borrowed for the call. */
typedef struct sb_adapter_item {
    const char *section; /* "reqGeneralInfo" */
    const char *name;    /* "reqAdapterUrl" */
    const char *label;
    const char *value; /* "" when empty */
} sb_adapter_item;

/** A read-only view of a Call Center, or of a definition file being imported. */
typedef struct sb_adapter_callcenter {
    uint32_t struct_size; /* sizeof as the host compiled it */
    const char *org;      /* "" for a file not yet imported */
    const char *id;       /* "" for a file not yet imported */
    const char *internal_name;
    const char *display_name;
    const sb_adapter_item *items; /* every item, in document order */
    size_t n_items;
} sb_adapter_callcenter;

/* sb_adapter_setting.flags */
#define SB_ADAPTER_SETTING_REQUIRED 1u /* a definition without it is a problem */
/*
 * Its value is a secret (an auth token, a password): the host masks it as
 * "********" in every answer and export (callcenter get, settings, export,
 * and the Call Center echoed by create, import, update and clone), unless an
 * org admin asks with reveal (sbctl --reveal), and never logs it. An adapter
 * that sets it must not put the value in its own log lines or problem
 * sentences either. A new bit of the existing field: the ABI's layout is
 * unchanged, and a host older than this bit ignores it (the value then shows).
 */
#define SB_ADAPTER_SETTING_SECRET 2u

/** A setting the adapter's Call Centers carry; `describe` lists them. Static storage. */
typedef struct sb_adapter_setting {
    const char *section;       /* the definition section it lives in */
    const char *name;          /* the item name */
    const char *label;         /* the label a template gives it */
    uint32_t flags;            /* SB_ADAPTER_SETTING_* */
    const char *default_value; /* what a template holds ("" for none) */
    const char *rule;          /* the rule, in words: "an AWS region such as us-west-2" */
} sb_adapter_setting;

/**
 * Where an entry point puts its results. The host provides it; every
 * callback copies what it is given, so the plugin may pass stack buffers.
 */
typedef struct sb_adapter_sink {
    uint32_t struct_size;
    void *ctx; /* the host's: pass it back */
    /* validate: a problem with setting /section/name (section and name may
     * be NULL for the whole Call Center), in a sentence that says what to do. */
    void (*problem)(void *ctx, const char *section, const char *name, const char *message);
    /* render and call_event: one named result ("adapter_url", "action", ...). */
    void (*set)(void *ctx, const char *key, const char *value);
} sb_adapter_sink;

/* Return values of the entry points that can fail. */
#define SB_ADAPTER_OK 0
#define SB_ADAPTER_FAILED (-1)  /* the input cannot be used; the sink said why */
#define SB_ADAPTER_IGNORED (-2) /* call_event: not an event this adapter maps */

/** The descriptor: returned by sb_adapter_v1, static storage, valid until the plugin is unloaded.
 */
typedef struct sb_adapter {
    uint32_t struct_size;    /* sizeof(sb_adapter) as the plugin compiled it: first, always */
    uint16_t abi_major;      /* SB_ADAPTER_ABI_MAJOR as the plugin compiled it */
    uint16_t abi_minor;      /* SB_ADAPTER_ABI_MINOR as the plugin compiled it */
    const char *name;        /* the file's name without ".so": [a-z0-9_]+ */
    const char *vendor;      /* "Five9, Inc." */
    const char *version;     /* the adapter's own version, "1.2.0" */
    const char *description; /* one sentence: what it does and what it does not */

    /* Called once after loading; *state is handed to every other call. */
    int (*init)(const sb_host *host, void **state);
    /* Called once before unloading, when no call is in flight. */
    void (*fini)(void *state);

    /* The settings this adapter's Call Centers carry: *settings points to
     * an array of the returned count, static storage. */
    size_t (*describe)(void *state, const sb_adapter_setting **settings);

    /* How sure the adapter is that a definition is one of its own: 0 (not
     * mine) to 100 (certainly mine). The best claim wins an import; a tie
     * asks the operator to choose. */
    int (*claim)(void *state, const sb_adapter_callcenter *cc);

    /* Reports every problem with the Call Center's settings through
     * sink->problem. Returns SB_ADAPTER_OK when there is none. */
    int (*validate)(void *state, const sb_adapter_callcenter *cc, const sb_adapter_sink *sink);

    /* The adapter's part of the softphone check: at least
     * sink->set("adapter_url", ...). The host renders each Call Center when
     * it is written (not at each check), with `user` set to the placeholder
     * "__SB_USER_ID__"; each check puts the user's id where it appears. */
    int (*render)(void *state, const sb_adapter_callcenter *cc, const char *user,
                  const sb_adapter_sink *sink);

    /* Translates one vendor call event (JSON text, the vendor's own shape)
     * into voice-call changes through sink->set: "action" (start, accept,
     * hold, resume, transcript, end), "vendor_call_key", and as the action
     * needs "call_type" (inbound, outbound, internal), "from", "to", "at"
     * (ISO 8601 or milliseconds), "user" (the agent's user id), "text",
     * "speaker", "segment_id" (a transcript segment's own id), and
     * "disposition". Returns SB_ADAPTER_IGNORED for events it does not map,
     * SB_ADAPTER_FAILED (with sink->problem) for one it refuses. */
    int (*call_event)(void *state, const sb_adapter_callcenter *cc, const char *event,
                      const sb_adapter_sink *sink);
    /* ABI 1.1 fields are appended here, never inserted above. */
} sb_adapter;

/** The size of an sb_adapter of ABI 1.0: a 1.0 plugin's descriptor is at least this large. */
#define SB_ADAPTER_SIZE_1_0 (offsetof(sb_adapter, call_event) + sizeof(void (*)(void)))

/** The exported function's name and type. */
#define SB_ADAPTER_ENTRY_SYMBOL "sb_adapter_v1"
typedef const sb_adapter *(*sb_adapter_entry_fn)(void);

#if defined(__GNUC__)
#define SB_ADAPTER_EXPORT __attribute__((visibility("default")))
#else
#define SB_ADAPTER_EXPORT
#endif

/**
 * Defines the descriptor and the one exported function. Use it once per
 * plugin, with the entry points as designated initializers:
 *
 *   SB_ADAPTER_DEFINE(five9, "Five9, Inc.", "1.0.0", "Five9's Open CTI adapter.",
 *                     .init = five9_init, .fini = five9_fini, ...);
 *
 * Build with -fvisibility=hidden: `nm -D --defined-only five9.so` then shows
 * sb_adapter_v1 alone.
 */
#define SB_ADAPTER_DEFINE(adapter_name, adapter_vendor, adapter_version, adapter_description, ...) \
    static const sb_adapter sb_adapter_descriptor_ = {.struct_size = sizeof(sb_adapter),           \
                                                      .abi_major = SB_ADAPTER_ABI_MAJOR,           \
                                                      .abi_minor = SB_ADAPTER_ABI_MINOR,           \
                                                      .name = #adapter_name,                       \
                                                      .vendor = adapter_vendor,                    \
                                                      .version = adapter_version,                  \
                                                      .description = adapter_description,          \
                                                      __VA_ARGS__};                                \
    SB_ADAPTER_EXPORT const sb_adapter *sb_adapter_v1(void);                                       \
    SB_ADAPTER_EXPORT const sb_adapter *sb_adapter_v1(void)                                        \
    {                                                                                              \
        return &sb_adapter_descriptor_;                                                            \
    }

#ifdef __cplusplus
}
#endif

#endif /* SWITCHBOARD_ADAPTER_H */
