/* Small helpers shared by the cmocka unit tests. */
#ifndef ECL_TESTUTIL_H
#define ECL_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* A fresh directory under $TMPDIR (removed by tu_rmtree); the path is static storage. */
char *tu_tmpdir(void);
void tu_rmtree(const char *path);
/* Opens $ECL_TEST_VECTORS/name; fails the test if missing. */
char *tu_vector_path(const char *name);
/* Parses hex into out (exactly n bytes); fails the test otherwise. */
void tu_unhex(const char *hex, uint8_t *out, size_t n);
/* Reads a whole file into a malloc'd NUL-terminated buffer. */
char *tu_read_file(const char *path, size_t *len);

/* xorshift64: a reproducible generator for table-free random tests; *state must not be 0. */
uint32_t tu_rand(uint64_t *state, uint32_t n);
/* Writes the UTF-8 encoding of cp (a surrogate gives an invalid sequence, as random tests want)
 * to o (room for 4 bytes); returns its length. */
size_t tu_utf8_put(char *o, uint32_t cp);

#endif
