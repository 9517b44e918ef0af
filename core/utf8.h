#pragma once
/* UTF-8 checks for the text fields that have a length in characters. */

#include <stdbool.h>
#include <stddef.h>

/**
 * Checks that the NUL-terminated `s` is well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing above U+10FFFF) and counts its code points into
 * *chars. Returns true when valid; *chars is then set.
 */
bool sb_utf8_count(const char *s, size_t *chars);
