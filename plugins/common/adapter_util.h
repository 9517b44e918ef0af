/*
 * Helpers the bundled adapters share, compiled into each (a plugin links
 * nothing of the server's): reading a Call Center's items, checking forms
 * of values, building URLs, reading a vendor's JSON event.
 */
#ifndef SB_ADAPTER_UTIL_H
#define SB_ADAPTER_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "switchboard/adapter.h"

/** The value of /section/name (section NULL: any), or NULL. */
const char *sbu_value(const sb_adapter_callcenter *cc, const char *section, const char *name);

/** Whether any item lies in `section`. */
bool sbu_has_section(const sb_adapter_callcenter *cc, const char *section);

/** Whether `url` is https on `domain` or one of its subdomains. */
bool sbu_https_on(const char *url, const char *domain);

/** Whether `s` has only characters of `allowed` (and is not empty). */
bool sbu_only(const char *s, const char *allowed);

/** Whether `s` is a UUID (8-4-4-4-12 hex digits). */
bool sbu_is_uuid(const char *s);

/** Appends `text` to `out` (of `cap` bytes), percent-encoded for a query string. */
void sbu_url_append(char *out, size_t cap, const char *text);

/** Reports a problem with /section/name unless `ok`; returns 1 for a problem, else 0. */
int sbu_require(const sb_adapter_sink *sink, bool ok, const char *section, const char *name,
                const char *message);

/**
 * Maps a vendor's JSON event: `kind_key` names the event's type field and
 * `id_key` its call id; `map` pairs vendor types with actions (NULL-ended);
 * `passed` pairs vendor fields with result names (NULL-ended). Returns
 * SB_ADAPTER_OK or SB_ADAPTER_IGNORED.
 */
typedef struct sbu_pair {
    const char *from, *to;
} sbu_pair;
int sbu_map_json_event(const char *event, const char *kind_key, const char *id_key,
                       const sbu_pair *map, const sbu_pair *passed, const sb_adapter_sink *sink);

/**
 * What every mapped event starts with: puts the action `map` gives `kind`
 * and the call's key `id` in the sink, and returns the action. Returns
 * NULL, putting nothing, when `kind` is not mapped or `id` is missing: the
 * event is then SB_ADAPTER_IGNORED.
 */
const char *sbu_put_call_action(const sb_adapter_sink *sink, const sbu_pair *map, const char *kind,
                                const char *id);

#endif
