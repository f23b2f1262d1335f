#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ecl/diag.h"

void
ecl_diags_init(struct ecl_diags *d)
{
    d->n = 0;
    d->dropped = 0;
}

void
ecl_diags_add(struct ecl_diags *d, const char *path, const char *fmt, ...)
{
    va_list ap;
    struct ecl_diag *it;

    if (d->n >= ECL_DIAG_MAX) {
        d->dropped++;
        return;
    }
    it = &d->items[d->n++];
    snprintf(it->path, sizeof it->path, "%s", path != NULL ? path : "");
    va_start(ap, fmt);
    vsnprintf(it->reason, sizeof it->reason, fmt, ap);
    va_end(ap);
}

size_t
ecl_diags_count(const struct ecl_diags *d)
{
    return d->n + d->dropped;
}

void
ecl_json_pointer_join(char *out, size_t cap, const char *base, const char *token)
{
    size_t n;

    if (cap == 0) {
        return;
    }
    snprintf(out, cap, "%s/", base);
    n = strlen(out);
    for (const char *p = token; *p != 0 && n + 1 < cap; p++) {
        if ((*p == '~' || *p == '/') && n + 2 < cap) {
            out[n++] = '~';
            out[n++] = *p == '~' ? '0' : '1';
        } else if (*p != '~' && *p != '/') {
            out[n++] = *p;
        } else {
            break;
        }
    }
    out[n] = 0;
}

void
ecl_json_pointer_index(char *out, size_t cap, const char *base, size_t index)
{
    snprintf(out, cap, "%s/%zu", base, index);
}
