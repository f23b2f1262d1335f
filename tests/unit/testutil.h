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

#endif
