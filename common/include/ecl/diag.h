/* Validation diagnostics: a JSON pointer path and a plain reason, never input bytes beyond the
 * path itself (paths name keys of the document being validated, which are not personal data). */
#ifndef ECL_DIAG_H
#define ECL_DIAG_H

#include <stddef.h>

enum { ECL_DIAG_MAX = 64, ECL_DIAG_PATH_MAX = 256, ECL_DIAG_REASON_MAX = 256 };

struct ecl_diag {
    char path[ECL_DIAG_PATH_MAX];     /* RFC 6901 JSON pointer, "" for the whole document */
    char reason[ECL_DIAG_REASON_MAX]; /* a plain sentence */
};

struct ecl_diags {
    struct ecl_diag items[ECL_DIAG_MAX];
    size_t n;       /* items used */
    size_t dropped; /* diagnostics beyond ECL_DIAG_MAX, counted but not kept */
};

void ecl_diags_init(struct ecl_diags *d);
/* Adds a diagnostic; path may be NULL for "".  Formats with vsnprintf (truncates). */
void ecl_diags_add(struct ecl_diags *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t ecl_diags_count(const struct ecl_diags *d);

/* Appends "/token" to a JSON pointer with RFC 6901 escaping (~0, ~1) into out (truncates). */
void ecl_json_pointer_join(char *out, size_t cap, const char *base, const char *token);
void ecl_json_pointer_index(char *out, size_t cap, const char *base, size_t index);

#endif
