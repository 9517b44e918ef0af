#pragma once
/*
 * Phone numbers to E.164 ("+14155550100"), with a Call Center's dialing
 * prefixes: the rules are in phone.c and docs/contacts.md.
 */

#include <stddef.h>

#define SB_E164_MAX 16 /* '+' and at most 15 digits */
#define SB_DIAL_PREFIX_MAX 8

typedef struct sb_dialing {
    char outside[SB_DIAL_PREFIX_MAX + 1];       /* to reach an outside line: "9", or "" */
    char long_distance[SB_DIAL_PREFIX_MAX + 1]; /* before a national number: "1" (NANP), "0" */
    char international[SB_DIAL_PREFIX_MAX + 1]; /* before a country code: "011", "00" */
    char country_code[4];                       /* the Call Center's own: "1", "44" */
} sb_dialing_t;

/**
 * Normalizes `raw` into out (E.164). Returns 0, or -EINVAL with a sentence
 * in why that says what is wrong with the number.
 */
int sb_phone_normalize(const char *raw, const sb_dialing_t *dialing, char out[SB_E164_MAX + 1],
                       char *why, size_t why_cap);
