/* RFC 9457 problem details: one table of problems, one table from status to problem.  Every
 * detail is a fixed sentence: a problem body never echoes the request or an internal message.
 * The list is documented in docs/errors.md (keep both in step). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

#define PROBLEM_BASE "https://ecluse.example/problems/"

static const struct {
    unsigned status;
    const char *slug;
    const char *title;
    const char *detail;
} problems[] = {
    [ECL_PROB_BAD_REQUEST] = {400, "bad-request", "Bad request",
                              "The request is malformed or does not validate."},
    [ECL_PROB_INVALID_JSON] = {400, "invalid-json", "Invalid JSON body",
                               "The body is not valid UTF-8 JSON, repeats a key, nests too "
                               "deeply or does not have the expected members."},
    [ECL_PROB_INVALID_PATH] = {400, "invalid-path", "Invalid request path",
                               "The request path is not a valid, canonical path."},
    [ECL_PROB_AMBIGUOUS_FRAMING] = {400, "ambiguous-framing", "Ambiguous message framing",
                                    "The request has more than one Content-Length, or both "
                                    "Content-Length and Transfer-Encoding, or an unsupported "
                                    "Transfer-Encoding."},
    [ECL_PROB_UNAUTHENTICATED] = {401, "unauthenticated", "Authentication required",
                                  "A valid API key is required (Authorization: Bearer)."},
    [ECL_PROB_FORBIDDEN] = {403, "forbidden", "Forbidden",
                            "The principal's role does not allow this request."},
    [ECL_PROB_NOT_FOUND] = {404, "not-found", "Not found", "There is no such resource."},
    [ECL_PROB_METHOD_NOT_ALLOWED] = {405, "method-not-allowed", "Method not allowed",
                                     "The resource does not support this method; see Allow."},
    [ECL_PROB_CONFLICT] = {409, "conflict", "Conflict",
                           "The request conflicts with the current state of the resource."},
    [ECL_PROB_BODY_TOO_LARGE] = {413, "body-too-large", "Request body too large",
                                 "The request body exceeds the limit of this endpoint."},
    [ECL_PROB_URI_TOO_LONG] = {414, "uri-too-long", "URI too long",
                               "The request target exceeds the limit."},
    [ECL_PROB_UNSUPPORTED_MEDIA] = {415, "unsupported-media-type", "Unsupported media type",
                                    "The body must be application/json."},
    [ECL_PROB_LIMIT_EXCEEDED] = {422, "limit-exceeded", "Limit exceeded",
                                 "The request exceeds a documented limit."},
    [ECL_PROB_HEADERS_TOO_LARGE] = {431, "headers-too-large", "Request headers too large",
                                    "The request headers exceed the limit."},
    [ECL_PROB_INTERNAL] = {500, "internal", "Internal error",
                           "The gateway could not complete the request."},
    [ECL_PROB_NOT_IMPLEMENTED] = {501, "not-implemented", "Not implemented",
                                  "The gateway does not implement this method."},
    [ECL_PROB_UNAVAILABLE] = {503, "unavailable", "Service unavailable",
                              "The gateway cannot serve this request now; retry later."},
    [ECL_PROB_NOT_READY] = {503, "not-ready", "Not ready",
                            "The gateway is not ready to serve requests."},
    [ECL_PROB_SEALED] = {503, "sealed", "Gateway sealed",
                         "The gateway stopped serving after an audit failure."},
    [ECL_PROB_STORAGE_FULL] = {507, "storage-full", "Insufficient storage",
                               "The gateway's storage is full."},
};
_Static_assert(sizeof problems / sizeof problems[0] == ECL_HTTP_PROBLEM_COUNT,
               "one row per problem");

/* The one table from status to HTTP. */
static const enum ecl_http_problem status_problems[] = {
    [ECL_OK] = ECL_PROB_INTERNAL, /* a handler that fails with ECL_OK is a bug */
    [ECL_ERR_NOMEM] = ECL_PROB_UNAVAILABLE,
    [ECL_ERR_INVALID] = ECL_PROB_BAD_REQUEST,
    [ECL_ERR_NOT_FOUND] = ECL_PROB_NOT_FOUND,
    [ECL_ERR_EXISTS] = ECL_PROB_CONFLICT,
    [ECL_ERR_CRYPTO] = ECL_PROB_INTERNAL,
    [ECL_ERR_IO] = ECL_PROB_UNAVAILABLE,
    [ECL_ERR_PERM] = ECL_PROB_INTERNAL,
    [ECL_ERR_LIMIT] = ECL_PROB_LIMIT_EXCEEDED,
    [ECL_ERR_FULL] = ECL_PROB_STORAGE_FULL,
    [ECL_ERR_SEALED] = ECL_PROB_SEALED,
    [ECL_ERR_DENIED] = ECL_PROB_FORBIDDEN,
    [ECL_ERR_CONFLICT] = ECL_PROB_CONFLICT,
    [ECL_ERR_INTERNAL] = ECL_PROB_INTERNAL,
};
_Static_assert(sizeof status_problems / sizeof status_problems[0] == ECL_STATUS_COUNT,
               "one problem per status");

enum ecl_http_problem
ecl_http_problem_of_status(enum ecl_status st)
{
    if ((unsigned)st >= ECL_STATUS_COUNT) {
        return ECL_PROB_INTERNAL;
    }
    return status_problems[st];
}

static unsigned
idx(enum ecl_http_problem p)
{
    return (unsigned)p < ECL_HTTP_PROBLEM_COUNT ? (unsigned)p : (unsigned)ECL_PROB_INTERNAL;
}

unsigned
ecl_http_problem_status(enum ecl_http_problem p)
{
    return problems[idx(p)].status;
}

const char *
ecl_http_problem_slug(enum ecl_http_problem p)
{
    return problems[idx(p)].slug;
}

const char *
ecl_http_problem_title(enum ecl_http_problem p)
{
    return problems[idx(p)].title;
}

const char *
ecl_http_problem_detail(enum ecl_http_problem p)
{
    return problems[idx(p)].detail;
}

enum ecl_status
ecl_http_problem_body(enum ecl_http_problem p, const char *request_id, const char *reason,
                      struct ecl_buf *out)
{
    char type[128];
    unsigned i = idx(p);
    json_t *o;
    char *s;
    enum ecl_status st;

    if (strlen(PROBLEM_BASE) + strlen(problems[i].slug) >= sizeof type) {
        return ECL_ERR_INTERNAL;
    }
    memcpy(type, PROBLEM_BASE, sizeof PROBLEM_BASE - 1);
    memcpy(type + sizeof PROBLEM_BASE - 1, problems[i].slug, strlen(problems[i].slug) + 1);
    o = json_pack("{s:s, s:s, s:I, s:s, s:s}", "type", type, "title", problems[i].title, "status",
                  (json_int_t)problems[i].status, "detail", problems[i].detail, "instance",
                  request_id);
    if (o == NULL) {
        return ECL_ERR_NOMEM;
    }
    if (reason != NULL && json_object_set_new(o, "reason", json_string(reason)) != 0) {
        json_decref(o);
        return ECL_ERR_NOMEM;
    }
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s == NULL) {
        return ECL_ERR_NOMEM;
    }
    st = ecl_buf_append_str(out, s);
    free(s);
    return st;
}
