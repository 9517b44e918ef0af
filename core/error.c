#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { INTERNAL_WIRE_CODE = 99 };

struct error_row {
    int code;
    int wire_code;
    const char *name;
    const char *message;
};

static const struct error_row error_rows[] = {
#define SB_ERROR_ROW(name, code, wire, message) {code, wire, #name, message},
    SB_ERROR_TABLE(SB_ERROR_ROW)
#undef SB_ERROR_ROW
};

static const struct error_row *find_row(int code)
{
    for (size_t i = 0; i < sizeof(error_rows) / sizeof(error_rows[0]); i++)
        if (error_rows[i].code == code)
            return &error_rows[i];
    return NULL;
}

void sb_err_clear(sb_err_t *err)
{
    if (err == NULL)
        return;
    err->code = 0;
    err->message[0] = '\0';
    err->field[0] = '\0';
}

void sb_err_field(sb_err_t *err, const char *section, const char *item)
{
    if (err != NULL)
        snprintf(err->field, sizeof(err->field), "/%.255s%s%.255s", section, item ? "/" : "",
                 item ? item : "");
}

/* The damaged record the next CORRUPT sentence names (sb_err_note_corrupt):
 * per thread, as each thread fills its own sb_err_t. */
static __thread char corrupt_note[256];

void sb_err_note_corrupt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see sb_err_format
    vsnprintf(corrupt_note, sizeof(corrupt_note), fmt, ap);
    va_end(ap);
}

void sb_err_note_clear(void)
{
    corrupt_note[0] = '\0';
}

/* Appends the noted damaged record to a CORRUPT sentence, once. */
static void add_corrupt_note(sb_err_t *err)
{
    if (corrupt_note[0] == '\0')
        return;
    size_t len = strlen(err->message);
    snprintf(err->message + len, sizeof(err->message) - len, " Damaged: %s.", corrupt_note);
    corrupt_note[0] = '\0';
}

void sb_err_format(sb_err_t *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    /* clang-analyzer 14 reports this va_list as uninitialized after va_start:
     * a false positive of its valist checker. */
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    /* "...: %s." around a sentence that has its own period ends in "..":
     * one is dropped where every message is made (an ellipsis stays). */
    size_t len = strlen(err->message);
    if (len >= 2 && err->message[len - 1] == '.' && err->message[len - 2] == '.' &&
        (len == 2 || err->message[len - 3] != '.'))
        err->message[len - 1] = '\0';
    err->code = code;
    err->field[0] = '\0';
    if (code == SB_E_CORRUPT)
        add_corrupt_note(err);
}

void sb_err_prefix(sb_err_t *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    char prefix[128];
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): see sb_err_format
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    /* Shift the sentence right by the prefix; what passes the end is cut. */
    size_t plen = strlen(prefix), cap = sizeof(err->message);
    size_t mlen = strnlen(err->message, cap - 1);
    if (plen > cap - 1)
        plen = cap - 1;
    if (mlen > cap - 1 - plen)
        mlen = cap - 1 - plen;
    memmove(err->message + plen, err->message, mlen);
    memcpy(err->message, prefix, plen);
    err->message[plen + mlen] = '\0';
}

void sb_err_fill_default(sb_err_t *err, int code)
{
    if (err != NULL && (err->code != code || err->message[0] == '\0'))
        sb_err_format(err, code, "%s", sb_err_message(code));
}

const char *sb_err_name(int code)
{
    const struct error_row *row = find_row(code);
    return row ? row->name : "INTERNAL";
}

int sb_err_wire_code(int code)
{
    const struct error_row *row = find_row(code);
    return row ? row->wire_code : INTERNAL_WIRE_CODE;
}

const char *sb_err_message(int code)
{
    const struct error_row *row = find_row(code);
    return row ? row->message : "An internal error occurred; the server log says more.";
}
