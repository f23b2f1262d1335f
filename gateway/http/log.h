/* Structured logs: one JSON object per line on stderr, written with a single write(2) so that
 * lines of different threads never interleave.  There is no call that takes a raw request
 * string: fields are named, and string values should be codes, patterns, ids or pseudonyms.
 * Thread-safe. */
#ifndef ECL_LOG_H
#define ECL_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/limits.h"

enum ecl_log_level {
    ECL_LOG_DEBUG = 0,
    ECL_LOG_INFO,
    ECL_LOG_WARN,
    ECL_LOG_ERROR,
};

/* A line being built on the stack; fields that do not fit are dropped and "truncated":true is
 * added. */
struct ecl_logline {
    char buf[ECL_LOG_LINE_MAX];
    size_t len;
    int truncated;
};

/* Starts a line with "time", "level" and "event". */
void ecl_log_begin(struct ecl_logline *l, enum ecl_log_level level, const char *event);
/* A string field, JSON-escaped (control and non-ASCII bytes as \u00XX). */
void ecl_log_str(struct ecl_logline *l, const char *key, const char *value);
void ecl_log_u64(struct ecl_logline *l, const char *key, uint64_t value);
void ecl_log_double(struct ecl_logline *l, const char *key, double value);
/* Ends the line and writes it to stderr. */
void ecl_log_end(struct ecl_logline *l);

/* One-field convenience: {"time":..,"level":..,"event":event,"msg":msg}. */
void ecl_log_msg(enum ecl_log_level level, const char *event, const char *msg);

#endif
