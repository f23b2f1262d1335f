#include "ecl/json_str.h"

size_t
ecl_utf8_next(const unsigned char *s, size_t left, uint32_t *cp)
{
    unsigned char u = s[0];
    size_t n;
    uint32_t v;

    if (u < 0x80) {
        *cp = u;
        return 1;
    }
    if (u >= 0xC2 && u <= 0xDF) {
        n = 2;
        v = u & 0x1Fu;
    } else if (u >= 0xE0 && u <= 0xEF) {
        n = 3;
        v = u & 0x0Fu;
    } else if (u >= 0xF0 && u <= 0xF4) {
        n = 4;
        v = u & 0x07u;
    } else {
        return 0;
    }
    if (n > left) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 3 && v < 0x800) ||
        (n == 4 && v < 0x10000)) {
        return 0;
    }
    *cp = v;
    return n;
}

static void
put_u4(char *o, uint32_t v)
{
    static const char hexd[] = "0123456789ABCDEF";

    o[0] = '\\';
    o[1] = 'u';
    o[2] = hexd[(v >> 12) & 0xF];
    o[3] = hexd[(v >> 8) & 0xF];
    o[4] = hexd[(v >> 4) & 0xF];
    o[5] = hexd[v & 0xF];
}

enum ecl_status
ecl_json_str_append(struct ecl_buf *out, const char *s, size_t n, enum ecl_json_str_flags flags)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = n;
    size_t run = 0; /* bytes at p written as they are */

    ECL_GUARD(ecl_buf_append_byte(out, '"'));
    while (run < left) {
        unsigned char u = p[run];
        uint32_t cp = 0;
        char seq[12];
        size_t slen = 2;
        size_t len;

        if (u >= 0x20 && u != '"' && u != '\\' && (u < 0x80 || flags == ECL_JSON_STR_UTF8)) {
            if (u < 0x80) {
                run++;
                continue;
            }
            len = ecl_utf8_next(p + run, left - run, &cp);
            if (len == 0) {
                return ECL_ERR_INVALID;
            }
            run += len;
            continue;
        }
        ECL_GUARD(ecl_buf_append(out, p, run));
        p += run;
        left -= run;
        run = 0;
        len = ecl_utf8_next(p, left, &cp);
        if (len == 0) {
            return ECL_ERR_INVALID;
        }
        seq[0] = '\\';
        switch (cp) {
        case '"':
            seq[1] = '"';
            break;
        case '\\':
            seq[1] = '\\';
            break;
        case '\b':
            seq[1] = 'b';
            break;
        case '\f':
            seq[1] = 'f';
            break;
        case '\n':
            seq[1] = 'n';
            break;
        case '\r':
            seq[1] = 'r';
            break;
        case '\t':
            seq[1] = 't';
            break;
        default:
            if (cp < 0x10000) {
                put_u4(seq, cp);
                slen = 6;
            } else {
                /* a surrogate pair (RFC 8259 section 7) */
                uint32_t v = cp - 0x10000;
                put_u4(seq, 0xD800 | (v >> 10));
                put_u4(seq + 6, 0xDC00 | (v & 0x3FF));
                slen = 12;
            }
            break;
        }
        ECL_GUARD(ecl_buf_append(out, seq, slen));
        p += len;
        left -= len;
    }
    ECL_GUARD(ecl_buf_append(out, p, run));
    return ecl_buf_append_byte(out, '"');
}

enum ecl_status
ecl_json_int_append(struct ecl_buf *b, int64_t v)
{
    char num[24];
    size_t i = sizeof num;
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        num[--i] = (char)('0' + (int)(m % 10));
        m /= 10;
    } while (m > 0);
    if (v < 0) {
        num[--i] = '-';
    }
    return ecl_buf_append(b, num + i, sizeof num - i);
}
