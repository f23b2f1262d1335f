/* RFC 9457 problem details: one table of problems, one table from status to problem.  Every
 * detail is a fixed sentence: a problem body never echoes the request or an internal message.
 * The list is documented in docs/errors.md (keep both in step). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

#define PROBLEM_BASE "https://ecluse.example/problems/"

/* type is PROBLEM_BASE + slug (T), code the slug with '_' */
#define T(slug) PROBLEM_BASE slug

static const struct {
    unsigned status;
    const char *type;
    const char *code;
    const char *title;
    const char *detail;
} problems[] = {
    [ECL_PROB_BAD_REQUEST] = {400, T("bad-request"), "bad_request", "Bad request",
                              "The request is malformed or does not validate."},
    [ECL_PROB_INVALID_JSON] = {400, T("invalid-json"), "invalid_json", "Invalid JSON body",
                               "The body is not valid UTF-8 JSON, repeats a key, nests too "
                               "deeply or does not have the expected members."},
    [ECL_PROB_INVALID_PATH] = {400, T("invalid-path"), "invalid_path", "Invalid request path",
                               "The request path is not a valid, canonical path."},
    [ECL_PROB_AMBIGUOUS_FRAMING] = {400, T("ambiguous-framing"), "ambiguous_framing",
                                    "Ambiguous message framing",
                                    "The request has more than one Content-Length, or both "
                                    "Content-Length and Transfer-Encoding, or an unsupported "
                                    "Transfer-Encoding."},
    [ECL_PROB_UNAUTHENTICATED] = {401, T("unauthenticated"), "unauthenticated",
                                  "Authentication required",
                                  "A valid API key is required (Authorization: Bearer)."},
    [ECL_PROB_FORBIDDEN] = {403, T("forbidden"), "forbidden", "Forbidden",
                            "The principal's role does not allow this request."},
    [ECL_PROB_NOT_FOUND] = {404, T("not-found"), "not_found", "Not found",
                            "There is no such resource."},
    [ECL_PROB_METHOD_NOT_ALLOWED] = {405, T("method-not-allowed"), "method_not_allowed",
                                     "Method not allowed",
                                     "The resource does not support this method; see Allow."},
    [ECL_PROB_CONFLICT] = {409, T("conflict"), "conflict", "Conflict",
                           "The request conflicts with the current state of the resource."},
    [ECL_PROB_BODY_TOO_LARGE] = {413, T("body-too-large"), "body_too_large",
                                 "Request body too large",
                                 "The request body exceeds the limit of this endpoint."},
    [ECL_PROB_URI_TOO_LONG] = {414, T("uri-too-long"), "uri_too_long", "URI too long",
                               "The request target exceeds the limit."},
    [ECL_PROB_UNSUPPORTED_MEDIA] = {415, T("unsupported-media-type"), "unsupported_media_type",
                                    "Unsupported media type", "The body must be application/json."},
    [ECL_PROB_LIMIT_EXCEEDED] = {422, T("limit-exceeded"), "limit_exceeded", "Limit exceeded",
                                 "The request exceeds a documented limit."},
    [ECL_PROB_HEADERS_TOO_LARGE] = {431, T("headers-too-large"), "headers_too_large",
                                    "Request headers too large",
                                    "The request headers exceed the limit."},
    [ECL_PROB_INTERNAL] = {500, T("internal"), "internal", "Internal error",
                           "The gateway could not complete the request."},
    [ECL_PROB_NOT_IMPLEMENTED] = {501, T("not-implemented"), "not_implemented", "Not implemented",
                                  "The gateway does not implement this method."},
    [ECL_PROB_UNAVAILABLE] = {503, T("unavailable"), "unavailable", "Service unavailable",
                              "The gateway cannot serve this request now; retry later."},
    [ECL_PROB_NOT_READY] = {503, T("not-ready"), "not_ready", "Not ready",
                            "The gateway is not ready to serve requests."},
    [ECL_PROB_SEALED] = {503, T("sealed"), "sealed", "Gateway sealed",
                         "The gateway stopped serving after an audit failure."},
    [ECL_PROB_STORAGE_FULL] = {507, T("storage-full"), "storage_full", "Insufficient storage",
                               "The gateway's storage is full."},
    [ECL_PROB_PRECONDITION_FAILED] = {412, T("precondition-failed"), "precondition_failed",
                                      "Precondition failed",
                                      "The resource changed since the ETag given in If-Match; "
                                      "read it again."},
    [ECL_PROB_PRECONDITION_REQUIRED] = {428, T("precondition-required"), "precondition_required",
                                        "Precondition required",
                                        "This change needs If-Match with the current ETag."},
    [ECL_PROB_INVALID_POLICY] = {422, T("invalid-policy"), "invalid_policy", "Invalid policy",
                                 "The policy does not validate; see errors."},
    [ECL_PROB_RATE_LIMITED] = {429, T("rate-limited"), "rate_limited", "Too many requests",
                               "A limit of this rule is reached; retry later."},
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
    return problems[idx(p)].type + sizeof PROBLEM_BASE - 1;
}

const char *
ecl_http_problem_type(enum ecl_http_problem p)
{
    return problems[idx(p)].type;
}

const char *
ecl_http_problem_code(enum ecl_http_problem p)
{
    return problems[idx(p)].code;
}

enum ecl_http_problem
ecl_http_problem_of_http(unsigned status)
{
    /* the generic problem of each status; a status shared by several problems maps to the
     * first, most general one of the table */
    for (unsigned i = 0; i < ECL_HTTP_PROBLEM_COUNT; i++) {
        if (problems[i].status == status) {
            return (enum ecl_http_problem)i;
        }
    }
    return ECL_PROB_INTERNAL;
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
    unsigned i = idx(p);
    json_t *o;
    char *s;
    enum ecl_status st;

    o = json_pack("{s:s, s:s, s:I, s:s, s:s}", "type", problems[i].type, "title", problems[i].title,
                  "status", (json_int_t)problems[i].status, "detail", problems[i].detail,
                  "instance", request_id);
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
