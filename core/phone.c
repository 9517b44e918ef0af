/*
 * E.164 normalization. A number is written in one of four ways, tried in
 * this order:
 *   +CC NUMBER            already international: kept;
 *   [outside] intl CC N   the international prefix (after the outside-line
 *                         prefix, if dialed with it) stands for '+';
 *   long-distance N       a national number with its trunk prefix: the
 *                         Call Center's country code replaces the prefix;
 *   N                     a national number: the country code goes first.
 * Separators (space, '-', '.', '(', ')', '/') are dropped; anything else that
 * is not a digit is refused, as is a result outside E.164's 8 to 15 digits
 * or one that starts with 0. An outside-line prefix alone before a national
 * number is kept as dialed: "9175550100" is a New York number, not "9" and
 * a short one.
 */
#include "phone.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool starts_with(const char *s, const char *prefix)
{
    return prefix[0] != '\0' && strncmp(s, prefix, strlen(prefix)) == 0;
}

int sb_phone_normalize(const char *raw, const sb_dialing_t *dialing, char out[SB_E164_MAX + 1],
                       char *why, size_t why_cap)
{
    char digits[64];
    size_t n = 0;
    bool plus = false;
    out[0] = '\0';
    for (const char *p = raw; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n + 1 >= sizeof(digits))
                break;
            digits[n++] = *p;
        } else if (*p == '+' && n == 0 && !plus) {
            plus = true;
        } else if (strchr(" -.()/", *p) == NULL) {
            snprintf(why, why_cap,
                     "'%.40s' holds '%c', which is not part of a phone number (digits, a leading "
                     "+, and spaces, dashes, dots or brackets)",
                     raw, *p);
            return -EINVAL;
        }
    }
    digits[n] = '\0';
    const char *national = digits;
    char cc[8] = "";
    if (!plus) {
        const char *rest = digits;
        if (starts_with(rest, dialing->outside) &&
            starts_with(rest + strlen(dialing->outside), dialing->international))
            rest += strlen(dialing->outside);
        if (starts_with(rest, dialing->international)) {
            national = rest + strlen(dialing->international);
        } else {
            national = starts_with(rest, dialing->long_distance)
                           ? rest + strlen(dialing->long_distance)
                           : rest;
            snprintf(cc, sizeof(cc), "%s", dialing->country_code);
        }
    }
    size_t total = strlen(cc) + strlen(national);
    if (total < 8 || total > 15 || (cc[0] == '\0' && national[0] == '0')) {
        snprintf(why, why_cap,
                 "'%.40s' is not a phone number E.164 can hold (a country code and 8 to 15 "
                 "digits in all)",
                 raw);
        return -EINVAL;
    }
    out[0] = '+';
    memcpy(out + 1, cc, strlen(cc));
    memcpy(out + 1 + strlen(cc), national, strlen(national) + 1); /* total <= 15 */
    return 0;
}
