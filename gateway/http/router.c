/* Strict request-target decoding and the route table (see router.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

static const char *const method_names[] = {
    [ECL_HTTP_GET] = "GET",         [ECL_HTTP_HEAD] = "HEAD",   [ECL_HTTP_POST] = "POST",
    [ECL_HTTP_PUT] = "PUT",         [ECL_HTTP_PATCH] = "PATCH", [ECL_HTTP_DELETE] = "DELETE",
    [ECL_HTTP_OPTIONS] = "OPTIONS",
};
_Static_assert(sizeof method_names / sizeof method_names[0] == ECL_HTTP_METHOD_COUNT,
               "one name per method");

const char *
ecl_http_method_name(enum ecl_http_method m)
{
    if ((unsigned)m >= ECL_HTTP_METHOD_COUNT) {
        return "OTHER";
    }
    return method_names[m];
}

int
ecl_http_method_parse(const char *s)
{
    for (int i = 0; i < ECL_HTTP_METHOD_COUNT; i++) {
        if (strcmp(s, method_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void
ecl_http_allow_format(unsigned allow, char *out, size_t cap)
{
    size_t len = 0;

    out[0] = 0;
    for (int i = 0; i < ECL_HTTP_METHOD_COUNT; i++) {
        if ((allow & (1u << i)) == 0) {
            continue;
        }
        int n = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", method_names[i]);
        if (n < 0 || (size_t)n >= cap - len) {
            return;
        }
        len += (size_t)n;
    }
}

int
ecl_http_utf8_ok(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t need;
        unsigned cp;
        unsigned min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return 0; /* continuation byte first, overlong 2-byte lead (c0, c1), f5..ff */
        }
        if (n - i <= need) {
            return 0;
        }
        for (size_t k = 1; k <= need; k++) {
            unsigned cc = p[i + k];
            if ((cc & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += need + 1;
    }
    return 1;
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

enum decode_mode { DECODE_SEGMENT, DECODE_QUERY };

/* Decodes raw[0..len) into out (not terminated); *out_len the decoded length. */
static enum ecl_status
pct_decode(const char *raw, size_t len, enum decode_mode mode, char *out, size_t cap,
           size_t *out_len)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '%') {
            if (len - i < 3) {
                return ECL_ERR_INVALID;
            }
            int hi = hexval(raw[i + 1]);
            int lo = hexval(raw[i + 2]);
            if (hi < 0 || lo < 0) {
                return ECL_ERR_INVALID;
            }
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
            if (mode == DECODE_SEGMENT && (c == '/' || c == '\\')) {
                return ECL_ERR_INVALID; /* an encoded separator would change the path */
            }
        } else if (c == '+' && mode == DECODE_QUERY) {
            c = ' ';
        } else if (c == '\\' && mode == DECODE_SEGMENT) {
            return ECL_ERR_INVALID;
        }
        if (c < 0x20 || c == 0x7f) {
            return ECL_ERR_INVALID; /* %00, CR, LF and the other controls */
        }
        if (o >= cap) {
            return ECL_ERR_LIMIT;
        }
        out[o++] = (char)c;
    }
    if (!ecl_http_utf8_ok((const unsigned char *)out, o)) {
        return ECL_ERR_INVALID;
    }
    *out_len = o;
    return ECL_OK;
}

enum ecl_status
ecl_http_path_decode(const char *raw, size_t len, struct ecl_http_path *out)
{
    size_t used = 0;
    size_t i = 1;

    if (len > ECL_HTTP_MAX_URL_LEN) {
        return ECL_ERR_LIMIT;
    }
    if (len == 0 || raw[0] != '/') {
        return ECL_ERR_INVALID;
    }
    out->nseg = 0;
    if (len == 1) {
        return ECL_OK;
    }
    while (i <= len) {
        size_t start = i;
        size_t n = 0;
        while (i < len && raw[i] != '/') {
            i++;
        }
        if (i == start) {
            return ECL_ERR_INVALID; /* empty segment: "//" or a trailing '/' */
        }
        if (out->nseg == ECL_HTTP_MAX_PATH_SEGMENTS) {
            return ECL_ERR_LIMIT;
        }
        ECL_GUARD(pct_decode(raw + start, i - start, DECODE_SEGMENT, out->buf + used,
                             sizeof out->buf - used - 1, &n));
        out->buf[used + n] = 0;
        if (strcmp(out->buf + used, ".") == 0 || strcmp(out->buf + used, "..") == 0 || n == 0) {
            return ECL_ERR_INVALID;
        }
        out->seg[out->nseg++] = out->buf + used;
        used += n + 1;
        i++; /* skip the '/' (or step past the end) */
    }
    return ECL_OK;
}

enum ecl_status
ecl_http_query_decode(const char *raw, size_t len, char *out, size_t cap)
{
    size_t n = 0;

    if (cap == 0) {
        return ECL_ERR_LIMIT;
    }
    ECL_GUARD(pct_decode(raw, len, DECODE_QUERY, out, cap - 1, &n));
    out[n] = 0;
    return ECL_OK;
}

/* ---- route table --------------------------------------------------------------------------- */

struct compiled {
    struct ecl_http_route route;
    char *storage; /* NUL-separated segments of the pattern */
    const char *seg[ECL_HTTP_MAX_PATH_SEGMENTS];
    int is_param[ECL_HTTP_MAX_PATH_SEGMENTS];
    size_t nseg;
};

struct ecl_http_router {
    struct compiled *routes;
    size_t n;
};

static enum ecl_status
compile(const struct ecl_http_route *rt, struct compiled *c)
{
    size_t len = strlen(rt->pattern);
    char *p;

    c->route = *rt;
    c->nseg = 0;
    if (len == 0 || rt->pattern[0] != '/' || rt->fn == NULL ||
        (unsigned)rt->method >= ECL_HTTP_METHOD_COUNT) {
        return ECL_ERR_INVALID;
    }
    c->storage = malloc(len + 1);
    if (c->storage == NULL) {
        return ECL_ERR_NOMEM;
    }
    memcpy(c->storage, rt->pattern, len + 1);
    p = c->storage + 1;
    while (*p != 0) {
        char *slash = strchr(p, '/');
        size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || c->nseg == ECL_HTTP_MAX_PATH_SEGMENTS) {
            return ECL_ERR_INVALID;
        }
        if (slash != NULL) {
            *slash = 0;
        }
        c->is_param[c->nseg] = p[0] == '{' && p[n - 1] == '}' && n > 2;
        if (c->is_param[c->nseg]) {
            p[n - 1] = 0;
            p++;
        }
        c->seg[c->nseg++] = p;
        if (slash == NULL) {
            break;
        }
        p = slash + 1;
        if (*p == 0) {
            return ECL_ERR_INVALID; /* trailing '/' */
        }
    }
    return ECL_OK;
}

enum ecl_status
ecl_http_router_new(const struct ecl_http_route *routes, size_t n, struct ecl_http_router **out)
{
    struct ecl_http_router *r = calloc(1, sizeof *r);
    enum ecl_status st = ECL_OK;

    if (r == NULL) {
        return ECL_ERR_NOMEM;
    }
    r->routes = calloc(n == 0 ? 1 : n, sizeof *r->routes);
    if (r->routes == NULL) {
        free(r);
        return ECL_ERR_NOMEM;
    }
    r->n = n;
    for (size_t i = 0; i < n && st == ECL_OK; i++) {
        st = compile(&routes[i], &r->routes[i]);
    }
    if (st != ECL_OK) {
        ecl_http_router_free(r);
        return st;
    }
    *out = r;
    return ECL_OK;
}

void
ecl_http_router_free(struct ecl_http_router *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        free(r->routes[i].storage);
    }
    free(r->routes);
    free(r);
}

size_t
ecl_http_router_count(const struct ecl_http_router *r)
{
    return r->n;
}

const struct ecl_http_route *
ecl_http_router_route(const struct ecl_http_router *r, size_t i)
{
    return &r->routes[i].route;
}

static int
path_matches(const struct compiled *c, const struct ecl_http_path *path, struct ecl_http_match *m)
{
    if (c->nseg != path->nseg) {
        return 0;
    }
    m->nparams = 0;
    for (size_t i = 0; i < c->nseg; i++) {
        if (c->is_param[i]) {
            m->names[m->nparams] = c->seg[i];
            m->values[m->nparams] = path->seg[i];
            m->nparams++;
        } else if (strcmp(c->seg[i], path->seg[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

enum ecl_http_match_result
ecl_http_router_match(const struct ecl_http_router *r, enum ecl_http_method method,
                      const struct ecl_http_path *path, struct ecl_http_match *m, unsigned *allow)
{
    enum ecl_http_method want = method == ECL_HTTP_HEAD ? ECL_HTTP_GET : method;
    struct ecl_http_match tmp;
    int found = -1;

    *allow = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (!path_matches(&r->routes[i], path, &tmp)) {
            continue;
        }
        *allow |= 1u << r->routes[i].route.method;
        if (r->routes[i].route.method == ECL_HTTP_GET) {
            *allow |= 1u << ECL_HTTP_HEAD;
        }
        if (found < 0 && r->routes[i].route.method == want) {
            found = (int)i;
            *m = tmp;
            m->route = i;
        }
    }
    if (found >= 0) {
        return ECL_HTTP_MATCH_OK;
    }
    return *allow != 0 ? ECL_HTTP_MATCH_NO_METHOD : ECL_HTTP_MATCH_NO_PATH;
}
