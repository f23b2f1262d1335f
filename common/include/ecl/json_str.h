/* JSON strings written byte for byte as jansson's dumper writes them, without building a
 * jansson tree: the audit payload (with JSON_ENSURE_ASCII) and the answers (UTF-8 kept) are
 * encoded straight into a capped buffer on the request path.  Pure. */
#ifndef ECL_JSON_STR_H
#define ECL_JSON_STR_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/buf.h"
#include "ecl/status.h"

/* Length (1 to 4) of the UTF-8 sequence at s (left >= 1 bytes) and its code point in *cp;
 * 0 when it is not valid UTF-8 by jansson's rules: no overlong forms, no surrogates, nothing
 * above U+10FFFF. */
size_t ecl_utf8_next(const unsigned char *s, size_t left, uint32_t *cp);

enum ecl_json_str_flags {
    ECL_JSON_STR_UTF8 = 0,  /* non-ASCII written as it is (jansson's default) */
    ECL_JSON_STR_ASCII = 1, /* non-ASCII as \uXXXX, surrogate pairs beyond the BMP
                               (JSON_ENSURE_ASCII) */
};

/* Appends s (n bytes) as a quoted JSON string: \" \\ \b \f \n \r \t, other control characters
 * as \u00XX (uppercase hex), '/' and DEL as they are.  ECL_ERR_INVALID (and out possibly
 * partly written: callers discard it) when s is not valid UTF-8. */
enum ecl_status ecl_json_str_append(struct ecl_buf *out, const char *s, size_t n,
                                    enum ecl_json_str_flags flags) ECL_WUR;
/* Appends v in decimal, as jansson writes an integer (INT64_MIN included). */
enum ecl_status ecl_json_int_append(struct ecl_buf *out, int64_t v) ECL_WUR;

#endif
