#include <stdlib.h>
#include <string.h>

#include "ecl/buf.h"

void
ecl_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0) {
        explicit_bzero(p, n);
    }
}

void
ecl_buf_init(struct ecl_buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void
ecl_buf_free(struct ecl_buf *b)
{
    if (b->ptr != NULL) {
        ecl_wipe(b->ptr, b->cap);
        free(b->ptr);
    }
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
}

void
ecl_buf_reset(struct ecl_buf *b)
{
    if (b->ptr != NULL) {
        ecl_wipe(b->ptr, b->len);
    }
    b->len = 0;
}

void
ecl_buf_truncate(struct ecl_buf *b, size_t len)
{
    if (b->ptr != NULL && b->len > len) {
        ecl_wipe(b->ptr + len, b->len - len);
        b->len = len;
    }
}

enum ecl_status
ecl_size_add(size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b) {
        return ECL_ERR_LIMIT;
    }
    *out = a + b;
    return ECL_OK;
}

enum ecl_status
ecl_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) {
        return ECL_ERR_LIMIT;
    }
    *out = a * b;
    return ECL_OK;
}

/* Grows to hold need bytes plus a NUL.  Never realloc: the old block is wiped then freed. */
static enum ecl_status
buf_reserve(struct ecl_buf *b, size_t need)
{
    size_t want;
    uint8_t *p;

    if (need > b->max) {
        return ECL_ERR_LIMIT;
    }
    ECL_GUARD(ecl_size_add(need, 1, &want));
    if (want <= b->cap) {
        return ECL_OK;
    }
    if (b->cap > 0 && b->cap <= SIZE_MAX / 2 && b->cap * 2 > want) {
        want = b->cap * 2;
    }
    if (want < 64) {
        want = 64;
    }
    if (b->max < SIZE_MAX && want > b->max + 1) {
        want = b->max + 1;
    }
    p = malloc(want);
    if (p == NULL) {
        return ECL_ERR_NOMEM;
    }
    if (b->ptr != NULL) {
        memcpy(p, b->ptr, b->len);
        ecl_wipe(b->ptr, b->cap);
        free(b->ptr);
    }
    b->ptr = p;
    b->cap = want;
    return ECL_OK;
}

enum ecl_status
ecl_buf_append(struct ecl_buf *b, const void *p, size_t n)
{
    size_t need;

    if (n == 0) {
        return ECL_OK;
    }
    ECL_GUARD(ecl_size_add(b->len, n, &need));
    ECL_GUARD(buf_reserve(b, need));
    memcpy(b->ptr + b->len, p, n);
    b->len = need;
    return ECL_OK;
}

enum ecl_status
ecl_buf_extend(struct ecl_buf *b, size_t n, uint8_t **out)
{
    size_t need;

    ECL_GUARD(ecl_size_add(b->len, n, &need));
    ECL_GUARD(buf_reserve(b, need));
    memset(b->ptr + b->len, 0, n);
    *out = b->ptr + b->len;
    b->len = need;
    return ECL_OK;
}

enum ecl_status
ecl_buf_append_str(struct ecl_buf *b, const char *s)
{
    return ecl_buf_append(b, s, strlen(s));
}

enum ecl_status
ecl_buf_append_byte(struct ecl_buf *b, uint8_t c)
{
    return ecl_buf_append(b, &c, 1);
}

enum ecl_status
ecl_buf_cstr(struct ecl_buf *b, const char **out)
{
    ECL_GUARD(buf_reserve(b, b->len));
    b->ptr[b->len] = 0;
    *out = (const char *)b->ptr;
    return ECL_OK;
}

void
ecl_reader_init(struct ecl_reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
}

size_t
ecl_reader_left(const struct ecl_reader *r)
{
    return r->len - r->off;
}

enum ecl_status
ecl_reader_bytes(struct ecl_reader *r, size_t n, const uint8_t **out)
{
    if (n > r->len - r->off) {
        return ECL_ERR_INVALID;
    }
    *out = r->p + r->off;
    r->off += n;
    return ECL_OK;
}

enum ecl_status
ecl_reader_u8(struct ecl_reader *r, uint8_t *out)
{
    const uint8_t *p;

    ECL_GUARD(ecl_reader_bytes(r, 1, &p));
    *out = p[0];
    return ECL_OK;
}

enum ecl_status
ecl_reader_u16(struct ecl_reader *r, uint16_t *out)
{
    const uint8_t *p;

    ECL_GUARD(ecl_reader_bytes(r, 2, &p));
    *out = (uint16_t)((unsigned)p[0] << 8 | p[1]);
    return ECL_OK;
}

enum ecl_status
ecl_reader_u32(struct ecl_reader *r, uint32_t *out)
{
    const uint8_t *p;

    ECL_GUARD(ecl_reader_bytes(r, 4, &p));
    *out = ecl_get_u32(p);
    return ECL_OK;
}

enum ecl_status
ecl_reader_u64(struct ecl_reader *r, uint64_t *out)
{
    const uint8_t *p;

    ECL_GUARD(ecl_reader_bytes(r, 8, &p));
    *out = ecl_get_u64(p);
    return ECL_OK;
}

void
ecl_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void
ecl_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

void
ecl_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint32_t
ecl_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t
ecl_get_u64(const uint8_t *p)
{
    return (uint64_t)ecl_get_u32(p) << 32 | ecl_get_u32(p + 4);
}

void
ecl_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

enum ecl_status
ecl_unhex(const char *s, size_t slen, uint8_t *out, size_t n)
{
    if (n > SIZE_MAX / 2 || slen != 2 * n) {
        return ECL_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]);
        int lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return ECL_ERR_INVALID;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return ECL_OK;
}
