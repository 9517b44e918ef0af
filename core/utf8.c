#include "utf8.h"

#include <stdint.h>

bool sb_utf8_count(const char *s, size_t *chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t count = 0;
    while (*p != 0) {
        uint32_t cp;
        int extra;
        if (p[0] < 0x80) {
            p++;
            count++;
            continue;
        } else if ((p[0] & 0xE0) == 0xC0) {
            cp = p[0] & 0x1F;
            extra = 1;
        } else if ((p[0] & 0xF0) == 0xE0) {
            cp = p[0] & 0x0F;
            extra = 2;
        } else if ((p[0] & 0xF8) == 0xF0) {
            cp = p[0] & 0x07;
            extra = 3;
        } else {
            return false;
        }
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xC0) != 0x80) /* also stops at the NUL */
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        static const uint32_t smallest[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < smallest[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += extra + 1;
        count++;
    }
    *chars = count;
    return true;
}
