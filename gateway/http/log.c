/* JSON log lines on stderr (see log.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *const level_names[] = {
    [ECL_LOG_DEBUG] = "debug",
    [ECL_LOG_INFO] = "info",
    [ECL_LOG_WARN] = "warn",
    [ECL_LOG_ERROR] = "error",
};

/* Keeps room for the closing "}\n" and the truncation marker. */
enum { RESERVE = 24 };

static void
put(struct ecl_logline *l, const char *s, size_t n)
{
    if (l->truncated || n > sizeof l->buf - RESERVE - l->len) {
        l->truncated = 1;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void
put_escaped(struct ecl_logline *l, const char *s)
{
    char tmp[8];

    put(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++) {
        if (*p == '"' || *p == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)*p;
            put(l, tmp, 2);
        } else if (*p < 0x20 || *p >= 0x7f) {
            snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)*p);
            put(l, tmp, 6);
        } else {
            put(l, (const char *)p, 1);
        }
    }
    put(l, "\"", 1);
}

static void
key(struct ecl_logline *l, const char *k)
{
    put(l, ",", 1);
    put_escaped(l, k);
    put(l, ":", 1);
}

void
ecl_log_begin(struct ecl_logline *l, enum ecl_log_level level, const char *event)
{
    struct timespec ts;
    struct tm tm;
    char t[64];

    l->len = 0;
    l->truncated = 0;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(t, sizeof t, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    put(l, "{\"time\":", 8);
    put_escaped(l, t);
    key(l, "level");
    put_escaped(l, (unsigned)level <= ECL_LOG_ERROR ? level_names[level] : "error");
    key(l, "event");
    put_escaped(l, event);
}

void
ecl_log_str(struct ecl_logline *l, const char *k, const char *value)
{
    size_t save = l->len;

    key(l, k);
    put_escaped(l, value != NULL ? value : "");
    if (l->truncated) {
        l->len = save; /* never a key without its value */
    }
}

void
ecl_log_u64(struct ecl_logline *l, const char *k, uint64_t value)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)value);

    size_t save = l->len;

    key(l, k);
    put(l, tmp, (size_t)n);
    if (l->truncated) {
        l->len = save;
    }
}

void
ecl_log_double(struct ecl_logline *l, const char *k, double value)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%.3f", value);

    size_t save = l->len;

    key(l, k);
    put(l, tmp, n > 0 ? (size_t)n : 0);
    if (l->truncated) {
        l->len = save;
    }
}

void
ecl_log_end(struct ecl_logline *l)
{
    const char *p = l->buf;
    size_t n;

    if (l->truncated) {
        /* RESERVE bytes were kept for this */
        memcpy(l->buf + l->len, ",\"truncated\":true", 17);
        l->len += 17;
    }
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    n = l->len;
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

void
ecl_log_msg(enum ecl_log_level level, const char *event, const char *msg)
{
    struct ecl_logline l;

    ecl_log_begin(&l, level, event);
    ecl_log_str(&l, "msg", msg);
    ecl_log_end(&l);
}
