/* Strict request-target decoding and route matching, independent of libmicrohttpd (unit-tested
 * on its own).  Shared by the files of gateway/http/ only. */
#ifndef ECL_HTTP_ROUTER_H
#define ECL_HTTP_ROUTER_H

#include <stddef.h>

#include "ecl/limits.h"
#include "ecl/status.h"
#include "http.h"

/* A decoded path: NUL-separated segments in buf. */
struct ecl_http_path {
    char buf[ECL_HTTP_MAX_URL_LEN + 1];
    const char *seg[ECL_HTTP_MAX_PATH_SEGMENTS];
    size_t nseg;
};

/* Decodes an origin-form path ("/a/b%20c"): percent-decoding done once, strictly.  Refuses
 * (ECL_ERR_INVALID): no leading '/', empty segments (except the lone "/"), malformed '%',
 * %00 or control characters, an encoded '/' or '\', '.' and '..' segments (encoded or not),
 * invalid UTF-8 (overlong forms, surrogates, > U+10FFFF).  ECL_ERR_LIMIT past
 * ECL_HTTP_MAX_URL_LEN bytes or ECL_HTTP_MAX_PATH_SEGMENTS segments. */
enum ecl_status ecl_http_path_decode(const char *raw, size_t len,
                                     struct ecl_http_path *out) ECL_WUR;

/* Decodes one query component ('+' is a space) into out (NUL-terminated, cap bytes with the
 * NUL): same refusals as a path segment except '/', '.' and '..' are allowed. */
enum ecl_status ecl_http_query_decode(const char *raw, size_t len, char *out, size_t cap) ECL_WUR;

/* 1 when the bytes are valid UTF-8 (RFC 3629: no overlong forms, no surrogates). */
int ecl_http_utf8_ok(const unsigned char *p, size_t n);

/* A compiled route table. */
struct ecl_http_router;

enum ecl_status ecl_http_router_new(const struct ecl_http_route *routes, size_t n,
                                    struct ecl_http_router **out) ECL_WUR;
void ecl_http_router_free(struct ecl_http_router *r);
size_t ecl_http_router_count(const struct ecl_http_router *r);
const struct ecl_http_route *ecl_http_router_route(const struct ecl_http_router *r, size_t i);

/* The parameters of a match: names borrowed from the pattern, values from the path. */
struct ecl_http_match {
    size_t route; /* index in the table */
    const char *names[ECL_HTTP_MAX_PATH_SEGMENTS];
    const char *values[ECL_HTTP_MAX_PATH_SEGMENTS];
    size_t nparams;
};

enum ecl_http_match_result {
    ECL_HTTP_MATCH_OK = 0,
    ECL_HTTP_MATCH_NO_PATH,   /* no route has this path: 404 */
    ECL_HTTP_MATCH_NO_METHOD, /* the path exists with other methods: 405, *allow set */
};

/* Matches method (HEAD matches GET routes) and path.  allow receives the bit set of methods
 * (1 << method) the path supports, in every case. */
enum ecl_http_match_result ecl_http_router_match(const struct ecl_http_router *r,
                                                 enum ecl_http_method method,
                                                 const struct ecl_http_path *path,
                                                 struct ecl_http_match *m, unsigned *allow);

/* Parses a method name; -1 when it is not one we know. */
int ecl_http_method_parse(const char *s);

/* "GET, POST" for an allow bit set (out holds at least 64 bytes). */
void ecl_http_allow_format(unsigned allow, char *out, size_t cap);

/* Problem table (problem.c). */
const char *ecl_http_problem_detail(enum ecl_http_problem p);

#endif
