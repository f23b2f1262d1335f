/* Prometheus text exposition format (version 0.0.4) helpers and a lock-free histogram, for the
 * HTTP layer's own metrics and for integrator sources (decision counters, audit batch size and
 * commit latency).  Label values must be codes or route patterns: never personal data, raw
 * paths or keys. */
#ifndef ECL_METRICS_H
#define ECL_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ecl/buf.h"
#include "ecl/status.h"

enum { ECL_HIST_MAX_BUCKETS = 16 };

/* Observations are integers in a base unit (microseconds, entries); scale converts them to the
 * exported unit (1e-6 for seconds).  bounds are upper bounds in the base unit, ascending. */
struct ecl_hist {
    uint64_t bounds[ECL_HIST_MAX_BUCKETS];
    size_t nbounds;
    double scale;
    _Atomic uint64_t buckets[ECL_HIST_MAX_BUCKETS + 1]; /* last: +Inf */
    _Atomic uint64_t count;
    _Atomic uint64_t sum;
};

/* Caller-owned; nbounds <= ECL_HIST_MAX_BUCKETS (more are ignored). */
void ecl_hist_init(struct ecl_hist *h, const uint64_t *bounds, size_t nbounds, double scale);
/* Thread-safe, lock-free. */
void ecl_hist_observe(struct ecl_hist *h, uint64_t v);

/* "# HELP name help\n# TYPE name type\n" */
enum ecl_status ecl_metrics_family(struct ecl_buf *out, const char *name, const char *type,
                                   const char *help) ECL_WUR;
/* "name{labels} value\n"; labels is "" or 'k="v",k2="v2"' (already escaped). */
enum ecl_status ecl_metrics_sample(struct ecl_buf *out, const char *name, const char *labels,
                                   double value) ECL_WUR;
/* The _bucket, _sum and _count samples of a histogram (after its family line). */
enum ecl_status ecl_metrics_hist(struct ecl_buf *out, const char *name, const char *labels,
                                 const struct ecl_hist *h) ECL_WUR;

#endif
