/* Prometheus text format helpers (see metrics.h). */
#include <stdio.h>
#include <string.h>

#include "metrics.h"

void
ecl_hist_init(struct ecl_hist *h, const uint64_t *bounds, size_t nbounds, double scale)
{
    memset(h, 0, sizeof *h);
    h->nbounds = nbounds > ECL_HIST_MAX_BUCKETS ? ECL_HIST_MAX_BUCKETS : nbounds;
    memcpy(h->bounds, bounds, h->nbounds * sizeof bounds[0]);
    h->scale = scale;
    for (size_t i = 0; i <= ECL_HIST_MAX_BUCKETS; i++) {
        atomic_init(&h->buckets[i], 0);
    }
    atomic_init(&h->count, 0);
    atomic_init(&h->sum, 0);
}

void
ecl_hist_observe(struct ecl_hist *h, uint64_t v)
{
    size_t i = 0;

    while (i < h->nbounds && v > h->bounds[i]) {
        i++;
    }
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

enum ecl_status
ecl_metrics_family(struct ecl_buf *out, const char *name, const char *type, const char *help)
{
    ECL_GUARD(ecl_buf_append_str(out, "# HELP "));
    ECL_GUARD(ecl_buf_append_str(out, name));
    ECL_GUARD(ecl_buf_append_byte(out, ' '));
    ECL_GUARD(ecl_buf_append_str(out, help));
    ECL_GUARD(ecl_buf_append_str(out, "\n# TYPE "));
    ECL_GUARD(ecl_buf_append_str(out, name));
    ECL_GUARD(ecl_buf_append_byte(out, ' '));
    ECL_GUARD(ecl_buf_append_str(out, type));
    return ecl_buf_append_byte(out, '\n');
}

enum ecl_status
ecl_metrics_sample(struct ecl_buf *out, const char *name, const char *labels, double value)
{
    char num[64];

    snprintf(num, sizeof num, " %.15g\n", value);
    ECL_GUARD(ecl_buf_append_str(out, name));
    if (labels != NULL && *labels != 0) {
        ECL_GUARD(ecl_buf_append_byte(out, '{'));
        ECL_GUARD(ecl_buf_append_str(out, labels));
        ECL_GUARD(ecl_buf_append_byte(out, '}'));
    }
    return ecl_buf_append_str(out, num);
}

enum ecl_status
ecl_metrics_hist(struct ecl_buf *out, const char *name, const char *labels,
                 const struct ecl_hist *h)
{
    char metric[160];
    char lab[512];
    uint64_t cum = 0;
    const char *sep = labels != NULL && *labels != 0 ? "," : "";

    if (labels == NULL) {
        labels = "";
    }
    snprintf(metric, sizeof metric, "%s_bucket", name);
    for (size_t i = 0; i <= h->nbounds; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < h->nbounds) {
            snprintf(lab, sizeof lab, "%s%sle=\"%.15g\"", labels, sep,
                     (double)h->bounds[i] * h->scale);
        } else {
            snprintf(lab, sizeof lab, "%s%sle=\"+Inf\"", labels, sep);
        }
        ECL_GUARD(ecl_metrics_sample(out, metric, lab, (double)cum));
    }
    snprintf(metric, sizeof metric, "%s_sum", name);
    ECL_GUARD(
        ecl_metrics_sample(out, metric, labels,
                           (double)atomic_load_explicit(&h->sum, memory_order_relaxed) * h->scale));
    snprintf(metric, sizeof metric, "%s_count", name);
    return ecl_metrics_sample(out, metric, labels, (double)cum);
}
