/*
 * The ABI's layout, frozen: every offset of ABI 1.0 stays where it is in
 * the current header (fields are only appended), and the current header
 * agrees with the frozen 1.0 copy. A failure here means a field moved:
 * that breaks every partner's plugin. Append instead, and bump the minor.
 */
#include <stddef.h>
#include <stdint.h>

#include "switchboard/adapter.h"

#define FROZEN(type, field, offset)                                                                \
    _Static_assert(offsetof(type, field) == (offset), #type "." #field " moved")

/* x86-64 and other LP64 targets: pointers and size_t are 8 bytes. */
_Static_assert(sizeof(void *) == 8, "the frozen offsets below are for LP64 targets");

FROZEN(sb_adapter, struct_size, 0);
FROZEN(sb_adapter, abi_major, 4);
FROZEN(sb_adapter, abi_minor, 6);
FROZEN(sb_adapter, name, 8);
FROZEN(sb_adapter, vendor, 16);
FROZEN(sb_adapter, version, 24);
FROZEN(sb_adapter, description, 32);
FROZEN(sb_adapter, init, 40);
FROZEN(sb_adapter, fini, 48);
FROZEN(sb_adapter, describe, 56);
FROZEN(sb_adapter, claim, 64);
FROZEN(sb_adapter, validate, 72);
FROZEN(sb_adapter, render, 80);
FROZEN(sb_adapter, call_event, 88);
_Static_assert(SB_ADAPTER_SIZE_1_0 == 96, "the size of an ABI 1.0 descriptor changed");

FROZEN(sb_host, struct_size, 0);
FROZEN(sb_host, abi_major, 4);
FROZEN(sb_host, abi_minor, 6);
FROZEN(sb_host, log, 8);
FROZEN(sb_host, alloc, 16);
FROZEN(sb_host, free, 24);
FROZEN(sb_host, now_ms, 32);

FROZEN(sb_adapter_item, section, 0);
FROZEN(sb_adapter_item, name, 8);
FROZEN(sb_adapter_item, label, 16);
FROZEN(sb_adapter_item, value, 24);

FROZEN(sb_adapter_callcenter, struct_size, 0);
FROZEN(sb_adapter_callcenter, org, 8);
FROZEN(sb_adapter_callcenter, id, 16);
FROZEN(sb_adapter_callcenter, internal_name, 24);
FROZEN(sb_adapter_callcenter, display_name, 32);
FROZEN(sb_adapter_callcenter, items, 40);
FROZEN(sb_adapter_callcenter, n_items, 48);

FROZEN(sb_adapter_setting, section, 0);
FROZEN(sb_adapter_setting, name, 8);
FROZEN(sb_adapter_setting, label, 16);
FROZEN(sb_adapter_setting, flags, 24);
FROZEN(sb_adapter_setting, default_value, 32);
FROZEN(sb_adapter_setting, rule, 40);

FROZEN(sb_adapter_sink, struct_size, 0);
FROZEN(sb_adapter_sink, ctx, 8);
FROZEN(sb_adapter_sink, problem, 16);
FROZEN(sb_adapter_sink, set, 24);

int main(void)
{
    return 0; /* the checks above ran at compile time */
}
