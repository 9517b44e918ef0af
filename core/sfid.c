#include "sfid.h"

#include <ctype.h>
#include <string.h>

static const char suffix_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Each suffix character encodes, as a 5-bit number, which of 5 characters
 * of the 15-character id are upper-case letters (the first one as bit 0). */
static void compute_suffix(const char id15[15], char suffix[3])
{
    for (int chunk = 0; chunk < 3; chunk++) {
        unsigned bits = 0;
        for (int i = 0; i < 5; i++) {
            char c = id15[chunk * 5 + i];
            if (c >= 'A' && c <= 'Z')
                bits |= 1u << i;
        }
        suffix[chunk] = suffix_alphabet[bits];
    }
}

bool sb_sfid_suffix_matches(const char id18[SB_SFID_LEN])
{
    char suffix[3];
    compute_suffix(id18, suffix);
    return memcmp(suffix, id18 + 15, 3) == 0;
}

int sb_sfid_normalize(const char *in, const char *prefix, const char *what, sb_sfid_t *out,
                      sb_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (in == NULL)
        return sb_err_set(err, SB_E_INVALID_ID, "The %s is missing.", what);
    size_t len = strnlen(in, SB_SFID_LEN + 1);
    if (len != 15 && len != 18)
        return sb_err_set(err, SB_E_INVALID_ID,
                          "The %s '%.40s' has %zu characters; it needs 15 or 18 "
                          "(prefix %s, then letters and digits).",
                          what, in, len, prefix);
    for (size_t i = 0; i < len; i++) {
        if (!isalnum((unsigned char)in[i]))
            return sb_err_set(err, SB_E_INVALID_ID,
                              "The %s '%s' has a character other than a letter or a digit at "
                              "position %zu.",
                              what, in, i + 1);
    }
    if (strncmp(in, prefix, 3) != 0)
        return sb_err_set(err, SB_E_INVALID_ID,
                          "The %s '%s' does not start with %s, the key prefix of that kind of "
                          "record.",
                          what, in, prefix);
    char suffix[3];
    compute_suffix(in, suffix);
    if (len == 18) {
        for (int i = 0; i < 3; i++) {
            if (toupper((unsigned char)in[15 + i]) != suffix[i])
                return sb_err_set(err, SB_E_INVALID_ID,
                                  "The %s '%s' has a checksum suffix that does not match its "
                                  "first 15 characters (expected %.3s); check it was copied whole.",
                                  what, in, suffix);
        }
    }
    memcpy(out->s, in, 15);
    memcpy(out->s + 15, suffix, 3);
    out->s[SB_SFID_LEN] = '\0';
    return 0;
}

void sb_sfid_from_counter(const char *prefix, uint64_t counter, sb_sfid_t *out)
{
    memcpy(out->s, prefix, 3);
    /* 62^12 exceeds 2^64, so twelve digits hold every counter. */
    for (int i = 14; i >= 3; i--) {
        out->s[i] = base62[counter % 62];
        counter /= 62;
    }
    compute_suffix(out->s, out->s + 15);
    out->s[SB_SFID_LEN] = '\0';
}

void sb_sfid_from_time(const char *prefix, uint64_t ms, uint64_t random, sb_sfid_t *out)
{
    static const uint64_t time_span = 3521614606208ULL; /* 62^7 */
    static const uint64_t random_span = 916132832ULL;   /* 62^5 */
    memcpy(out->s, prefix, 3);
    ms %= time_span;
    random %= random_span; /* a bias of 5e-11 from the modulo: harmless here */
    for (int i = 14; i >= 10; i--) {
        out->s[i] = base62[random % 62];
        random /= 62;
    }
    for (int i = 9; i >= 3; i--) {
        out->s[i] = base62[ms % 62];
        ms /= 62;
    }
    compute_suffix(out->s, out->s + 15);
    out->s[SB_SFID_LEN] = '\0';
}

int sb_org_id_check(const char *org, sb_err_t *err)
{
    if (org == NULL || org[0] == '\0')
        return sb_err_set(err, SB_E_INVALID_ID, "The org id is missing.");
    size_t len = strnlen(org, SB_ORG_ID_MAX + 1);
    if (len > SB_ORG_ID_MAX)
        return sb_err_set(err, SB_E_INVALID_ID,
                          "The org id '%.64s...' is longer than %d characters.", org,
                          SB_ORG_ID_MAX);
    if (!isalnum((unsigned char)org[0]))
        return sb_err_set(err, SB_E_INVALID_ID,
                          "The org id '%s' must start with a letter or a digit.", org);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)org[i];
        if (!isalnum(c) && c != '-' && c != '_')
            return sb_err_set(err, SB_E_INVALID_ID,
                              "The org id '%s' may hold only letters, digits, '-' and '_'.", org);
    }
    return 0;
}

/* A base-62 digit's value, or -1. Letters first: most of an id's digits. */
static int digit62(unsigned char c)
{
    if ((unsigned)(c - 'a') < 26u)
        return c - 'a' + 36;
    if ((unsigned)(c - 'A') < 26u)
        return c - 'A' + 10;
    if ((unsigned)(c - '0') < 10u)
        return c - '0';
    return -1;
}

int sb_sfid_pack(const sb_sfid_t *id, uint8_t out[SB_SFID_PACKED_LEN])
{
    /* Two halves of 6 digits (62^6 < 2^36), joined in 128 bits. */
    uint64_t hi = 0, lo = 0;
    for (int i = 3; i < 15; i++) {
        int d = digit62((unsigned char)id->s[i]);
        if (d < 0) {
            memset(out, 0, SB_SFID_PACKED_LEN);
            return SB_E_INVALID_ID;
        }
        if (i < 9)
            hi = hi * 62 + (uint64_t)d;
        else
            lo = lo * 62 + (uint64_t)d;
    }
    unsigned __int128 v = (unsigned __int128)hi * 56800235584ULL + lo; /* 62^6 */
    /* Below 2^72: one byte above a 64-bit word, written big-endian (the
     * read library packs an id per check: no loop over 128-bit shifts). */
    uint64_t low = (uint64_t)v;
    out[0] = (uint8_t)(v >> 64);
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)(low >> (56 - 8 * i));
    return 0;
}

int sb_sfid_unpack(const char *prefix, const uint8_t in[SB_SFID_PACKED_LEN], sb_sfid_t *out)
{
    unsigned __int128 v = 0;
    for (int i = 0; i < SB_SFID_PACKED_LEN; i++)
        v = v << 8 | in[i];
    const unsigned __int128 span = (unsigned __int128)56800235584ULL * 56800235584ULL; /* 62^12 */
    if (v >= span) {
        memset(out, 0, sizeof(*out));
        return SB_E_CORRUPT;
    }
    memcpy(out->s, prefix, 3);
    for (int i = 14; i >= 3; i--) {
        out->s[i] = base62[(unsigned)(v % 62)];
        v /= 62;
    }
    compute_suffix(out->s, out->s + 15);
    out->s[SB_SFID_LEN] = '\0';
    return 0;
}
