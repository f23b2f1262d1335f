/* Borrowed views and owned, always-capped buffers (curl's dynbuf).  An owned buffer is wiped
 * when it grows or is freed, so personal data never lingers in freed heap memory. */
#ifndef ECL_BUF_H
#define ECL_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/status.h"

struct ecl_view {
    const uint8_t *ptr;
    size_t len;
};

struct ecl_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
    size_t max; /* len never exceeds max */
};

/* Caller-owned; no allocation until the first append. */
void ecl_buf_init(struct ecl_buf *b, size_t max);
/* Wipes and frees; the buffer is empty and reusable afterwards. */
void ecl_buf_free(struct ecl_buf *b);
/* Wipes the content but keeps the allocation. */
void ecl_buf_reset(struct ecl_buf *b);
/* Wipes what follows offset len and shortens the buffer to len (a no-op when it is not longer):
 * how a writer takes back a partial append on error. */
void ecl_buf_truncate(struct ecl_buf *b, size_t len);
enum ecl_status ecl_buf_append(struct ecl_buf *b, const void *p, size_t n) ECL_WUR;
enum ecl_status ecl_buf_append_str(struct ecl_buf *b, const char *s) ECL_WUR;
enum ecl_status ecl_buf_append_byte(struct ecl_buf *b, uint8_t c) ECL_WUR;
/* Extends len by n zeroed bytes and points out at them (valid until the next growth). */
enum ecl_status ecl_buf_extend(struct ecl_buf *b, size_t n, uint8_t **out) ECL_WUR;
/* NUL-terminates without counting the NUL in len (for C-string use). */
enum ecl_status ecl_buf_cstr(struct ecl_buf *b, const char **out) ECL_WUR;

/* Overflow-checked arithmetic: ECL_ERR_LIMIT on overflow. */
enum ecl_status ecl_size_add(size_t a, size_t b, size_t *out) ECL_WUR;
enum ecl_status ecl_size_mul(size_t a, size_t b, size_t *out) ECL_WUR;

/* Wipe memory in a way the compiler cannot elide. */
void ecl_wipe(void *p, size_t n);

/* Bounds-checked big-endian reader and writer for binary formats. */
struct ecl_reader {
    const uint8_t *p;
    size_t len;
    size_t off;
};
void ecl_reader_init(struct ecl_reader *r, const uint8_t *p, size_t len);
enum ecl_status ecl_reader_u8(struct ecl_reader *r, uint8_t *out) ECL_WUR;
enum ecl_status ecl_reader_u16(struct ecl_reader *r, uint16_t *out) ECL_WUR;
enum ecl_status ecl_reader_u32(struct ecl_reader *r, uint32_t *out) ECL_WUR;
enum ecl_status ecl_reader_u64(struct ecl_reader *r, uint64_t *out) ECL_WUR;
/* Borrows n bytes from the reader's input. */
enum ecl_status ecl_reader_bytes(struct ecl_reader *r, size_t n, const uint8_t **out) ECL_WUR;
size_t ecl_reader_left(const struct ecl_reader *r);

void ecl_put_u16(uint8_t *p, uint16_t v);
void ecl_put_u32(uint8_t *p, uint32_t v);
void ecl_put_u64(uint8_t *p, uint64_t v);
uint32_t ecl_get_u32(const uint8_t *p);
uint64_t ecl_get_u64(const uint8_t *p);

/* Lowercase hex; out must hold 2*n+1 bytes. */
void ecl_hex(const uint8_t *p, size_t n, char *out);
/* Parses exactly n bytes of hex (2*n characters). */
enum ecl_status ecl_unhex(const char *s, size_t slen, uint8_t *out, size_t n) ECL_WUR;

#endif
