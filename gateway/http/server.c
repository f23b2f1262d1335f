/* The libmicrohttpd glue: limits, framing, routing, authentication, body collection,
 * synchronous and asynchronous completion, metrics and the request log.
 *
 * libmicrohttpd 0.9.75 calls the access handler first with the headers only
 * (*upload_data_size == 0), then once per body chunk, then a last time with
 * *upload_data_size == 0.  Every refusal that does not need the body is queued on the first call,
 * before any body byte is read (DESIGN.md section 7). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"

static const unsigned counted_statuses[NSTATUS - 1] = {ECL_HTTP_COUNTED_STATUSES};
static const char *const role_labels[NROLE_LABELS] = {"agent", "auditor", "dpo", "admin", "none"};
_Static_assert(ECL_ROLE_COUNT == 4, "role_labels lists every role then none");

/* Latency buckets in microseconds. */
static const uint64_t latency_bounds[] = {100,     250,     500,     1000,    2500,   5000,
                                          10000,   25000,   50000,   100000,  250000, 500000,
                                          1000000, 2500000, 5000000, 10000000};

/* Asynchronous state of every request of every server: one process-wide mutex (never freed,
 * so that a completion arriving after a forced shutdown is still safe). */
static pthread_mutex_t async_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t async_cv = PTHREAD_COND_INITIALIZER;

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- responses ----------------------------------------------------------------------------- */

void
ecl_http_resp_init(struct ecl_http_resp *r)
{
    memset(r, 0, sizeof *r);
    ecl_buf_init(&r->body, ECL_HTTP_MAX_RESPONSE_BYTES);
}

/* Releases a streamed body that was not handed to libmicrohttpd. */
static void
stream_drop(struct ecl_http_resp *r)
{
    if (r->stream_fn != NULL && r->stream_free != NULL) {
        r->stream_free(r->stream_arg);
    }
    r->stream_fn = NULL;
    r->stream_arg = NULL;
    r->stream_free = NULL;
}

void
ecl_http_resp_free(struct ecl_http_resp *r)
{
    stream_drop(r);
    ecl_buf_free(&r->body);
    r->nheaders = 0;
    r->status = 0;
    r->is_problem = 0;
    r->reason = NULL;
}

static int
header_text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

enum ecl_status
ecl_http_resp_header(struct ecl_http_resp *r, const char *name, const char *value)
{
    struct ecl_http_header *h;

    if (r->nheaders == ECL_HTTP_MAX_RESP_HEADERS) {
        return ECL_ERR_LIMIT;
    }
    if (!header_text_ok(name, sizeof h->name - 1) || !header_text_ok(value, sizeof h->value - 1) ||
        strchr(name, ':') != NULL) {
        return ECL_ERR_INVALID;
    }
    h = &r->headers[r->nheaders++];
    memcpy(h->name, name, strlen(name) + 1);
    memcpy(h->value, value, strlen(value) + 1);
    return ECL_OK;
}

enum ecl_status
ecl_http_resp_set(struct ecl_http_resp *r, unsigned status, const char *content_type,
                  const void *body, size_t len)
{
    stream_drop(r);
    ecl_buf_reset(&r->body);
    r->body.len = 0;
    r->is_problem = 0;
    r->status = status;
    r->content_type = content_type;
    return ecl_buf_append(&r->body, body, len);
}

void
ecl_http_resp_problem(struct ecl_http_resp *r, enum ecl_http_problem p)
{
    stream_drop(r);
    ecl_buf_reset(&r->body);
    r->body.len = 0;
    r->is_problem = 1;
    r->problem = p;
    r->status = ecl_http_problem_status(p);
    r->content_type = "application/problem+json";
}

void
ecl_http_resp_stream(struct ecl_http_resp *r, unsigned status, const char *content_type,
                     ecl_http_stream_fn fill, void *arg, void (*free_fn)(void *arg))
{
    stream_drop(r);
    ecl_buf_reset(&r->body);
    r->body.len = 0;
    r->is_problem = 0;
    r->status = status;
    r->content_type = content_type;
    r->stream_fn = fill;
    r->stream_arg = arg;
    r->stream_free = free_fn;
}

/* A streamed body while libmicrohttpd sends it: one piece buffered at a time. */
struct stream {
    ecl_http_stream_fn fn;
    void *arg;
    void (*free_fn)(void *arg);
    struct ecl_buf piece;
    size_t off;
    int ended;
};

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    size_t n;

    (void)pos;
    while (s->off == s->piece.len) {
        if (s->ended) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        ecl_buf_reset(&s->piece);
        s->piece.len = 0;
        s->off = 0;
        if (s->fn(s->arg, &s->piece) != ECL_OK) {
            s->ended = 1;
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (s->piece.len == 0) {
            s->ended = 1;
        }
    }
    n = s->piece.len - s->off;
    if (n > max) {
        n = max;
    }
    if (n > (size_t)SSIZE_MAX) {
        n = (size_t)SSIZE_MAX;
    }
    memcpy(buf, s->piece.ptr + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void
stream_free(void *cls)
{
    struct stream *s = cls;

    if (s->free_fn != NULL) {
        s->free_fn(s->arg);
    }
    ecl_buf_free(&s->piece);
    free(s);
}

/* Moves r's streamed body into a libmicrohttpd response; NULL on failure (the body released). */
static struct MHD_Response *
stream_response(struct ecl_http_resp *r)
{
    struct stream *s = calloc(1, sizeof *s);
    struct MHD_Response *mr;

    if (s == NULL) {
        stream_drop(r);
        return NULL;
    }
    s->fn = r->stream_fn;
    s->arg = r->stream_arg;
    s->free_fn = r->stream_free;
    r->stream_fn = NULL;
    r->stream_arg = NULL;
    r->stream_free = NULL;
    ecl_buf_init(&s->piece, ECL_HTTP_STREAM_PIECE_MAX);
    mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, ECL_HTTP_STREAM_BLOCK, stream_read, s,
                                           stream_free);
    if (mr == NULL) {
        stream_free(s);
    }
    return mr;
}

/* ---- request accessors --------------------------------------------------------------------- */

enum ecl_http_method
ecl_http_req_method(const struct ecl_http_req *req)
{
    return req->method;
}

const char *
ecl_http_req_route(const struct ecl_http_req *req)
{
    return req->rt != NULL ? req->rt->pattern : "unmatched";
}

const char *
ecl_http_req_id(const struct ecl_http_req *req)
{
    return req->id;
}

const char *
ecl_http_req_param(const struct ecl_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->match.nparams; i++) {
        if (strcmp(req->match.names[i], name) == 0) {
            return req->match.values[i];
        }
    }
    return NULL;
}

const char *
ecl_http_req_query(const struct ecl_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nquery; i++) {
        if (strcmp(req->query[i].name, name) == 0) {
            return req->query[i].value;
        }
    }
    return NULL;
}

const char *
ecl_http_req_header(const struct ecl_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct ecl_view
ecl_http_req_body(const struct ecl_http_req *req)
{
    struct ecl_view v = {req->body.ptr, req->body.len};

    return v;
}

const struct ecl_principal *
ecl_http_req_principal(const struct ecl_http_req *req)
{
    return req->have_principal ? &req->principal : NULL;
}

void
ecl_http_req_refused(struct ecl_http_req *req, unsigned status, const char *reason)
{
    const struct ecl_http_config *cfg = &req->srv->cfg;

    req->audited = 1;
    if (cfg->on_refusal != NULL) {
        cfg->on_refusal(cfg->refusal_arg, req, status, reason);
    }
}

void
ecl_http_req_audited(struct ecl_http_req *req)
{
    req->audited = 1;
}

/* ---- request life cycle -------------------------------------------------------------------- */

static void
req_free(struct ecl_http_req *req)
{
    for (size_t i = 0; i < req->nquery; i++) {
        free(req->query[i].name);
        free(req->query[i].value);
    }
    ecl_buf_free(&req->body);
    ecl_http_resp_free(&req->resp);
    ecl_wipe(req, sizeof *req);
    free(req);
}

static void
req_unref(struct ecl_http_req *req)
{
    if (atomic_fetch_sub(&req->refs, 1) == 1) {
        req_free(req);
    }
}

static int
request_id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > ECL_HTTP_REQUEST_ID_MAX_LEN) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static void
request_id_init(struct ecl_http_req *req)
{
    const char *given = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Request-Id");
    uint8_t rnd[12];

    if (given != NULL && request_id_ok(given)) {
        memcpy(req->id, given, strlen(given) + 1);
        return;
    }
    ecl_crypto_random(rnd, sizeof rnd);
    ecl_hex(rnd, sizeof rnd, req->id);
}

static size_t
status_index(unsigned status)
{
    for (size_t i = 0; i < NSTATUS - 1; i++) {
        if (counted_statuses[i] == status) {
            return i;
        }
    }
    return NSTATUS - 1;
}

static void
account(struct ecl_http_req *req, unsigned status)
{
    struct route_stats *rs =
        &req->srv->stats[req->rt != NULL ? req->route : ecl_http_router_count(req->srv->router)];
    size_t role = req->have_principal ? (size_t)req->principal.role : (size_t)ECL_ROLE_COUNT;
    uint64_t us = (now_ns() - req->start_ns) / 1000u;
    char pid[2 * ECL_PRINCIPAL_ID_LEN + 1];
    struct ecl_logline l;

    atomic_fetch_add_explicit(&rs->count[role][status_index(status)], 1, memory_order_relaxed);
    ecl_hist_observe(&rs->latency, us);

    ecl_log_begin(&l, status >= 500 && status != 501 ? ECL_LOG_ERROR : ECL_LOG_INFO, "request");
    ecl_log_str(&l, "request_id", req->id);
    ecl_log_str(&l, "method", req->method_known ? ecl_http_method_name(req->method) : "OTHER");
    ecl_log_str(&l, "route", ecl_http_req_route(req));
    ecl_log_u64(&l, "status", status);
    ecl_log_double(&l, "duration_ms", (double)us / 1000.0);
    if (req->have_principal) {
        ecl_hex(req->principal.id, sizeof req->principal.id, pid);
        ecl_log_str(&l, "principal", pid);
    }
    ecl_log_end(&l);
}

static enum MHD_Result
add_header(struct MHD_Response *mr, const char *name, const char *value)
{
    return MHD_add_response_header(mr, name, value);
}

static void key_check(struct ecl_http_req *req);

/* Queues req->resp.  Problem bodies are built here, with the request id as instance. */
static enum MHD_Result
send_resp(struct ecl_http_req *req)
{
    struct ecl_http_resp *r = &req->resp;
    struct MHD_Response *mr;
    enum MHD_Result ret = MHD_YES;
    int streamed;
    int refusal;
    char allow[96];

    if (r->status < 100 || r->status > 599) {
        ecl_http_resp_problem(r, ECL_PROB_INTERNAL);
    }
    refusal = (r->status >= 400 && r->status < 500) || r->status == 501;
    if (refusal && !req->auth_tried) {
        /* a 4xx decided before authentication (framing, limits, path, method) or on a public
         * route: a key the request carries is still identified, so that the refusal of a valid
         * key is audited; traffic without a key is refused without any lookup */
        key_check(req);
    }
    if (refusal && req->have_principal && !req->audited) {
        /* a 4xx (or 501: an unknown method) to an authenticated principal that no commit path
         * described: one access.refused entry (the handler's static code, else the problem's) */
        const char *code = r->reason;
        if (code == NULL) {
            code = ecl_http_problem_code(r->is_problem ? r->problem
                                                       : ecl_http_problem_of_http(r->status));
        }
        ecl_http_req_refused(req, r->status, code);
    }
    if (r->is_problem) {
        const char *reason = r->reason;
        ecl_buf_reset(&r->body);
        r->body.len = 0;
        if (ecl_http_problem_body(r->problem, req->id, reason, &r->body) != ECL_OK) {
            ecl_buf_reset(&r->body);
            r->body.len = 0;
        }
    }
    streamed = r->stream_fn != NULL && !r->is_problem;
    if (streamed) {
        mr = stream_response(r);
    } else {
        stream_drop(r);
        mr = MHD_create_response_from_buffer(r->body.len, r->body.len ? r->body.ptr : (void *)"",
                                             MHD_RESPMEM_MUST_COPY);
    }
    if (mr == NULL) {
        return MHD_NO;
    }
    if (r->content_type != NULL && (r->body.len > 0 || streamed)) {
        ret &= add_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    }
    ret &= add_header(mr, "X-Request-Id", req->id);
    ret &= add_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret &= add_header(mr, "X-Content-Type-Options", "nosniff");
    if (r->status == 401) {
        ret &= add_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    }
    if ((r->status == 405 || r->status == 501) && req->allow != 0) {
        ecl_http_allow_format(req->allow, allow, sizeof allow);
        ret &= add_header(mr, MHD_HTTP_HEADER_ALLOW, allow);
    }
    if (!req->headers_done || req->body_over || r->status == 413) {
        /* the body (if any) was not read: the connection cannot be reused */
        ret &= add_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        ret &= add_header(mr, r->headers[i].name, r->headers[i].value);
    }
    if (ret == MHD_YES) {
        ret = MHD_queue_response(req->conn, r->status, mr);
    }
    MHD_destroy_response(mr);
    req->queued = 1;
    account(req, r->status);
    return ret;
}

static enum MHD_Result
refuse(struct ecl_http_req *req, enum ecl_http_problem p)
{
    ecl_http_resp_problem(&req->resp, p);
    return send_resp(req);
}

/* ---- headers-only checks ------------------------------------------------------------------- */

struct framing {
    unsigned n_length;
    unsigned n_te;
    int te_chunked;
    int bad_length;
    uint64_t length;
};

static enum MHD_Result
framing_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct framing *f = cls;

    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        uint64_t v = 0;
        size_t n = value != NULL ? strlen(value) : 0;
        f->n_length++;
        if (n == 0 || n > 19) {
            f->bad_length = 1;
        }
        for (size_t i = 0; i < n; i++) {
            if (value[i] < '0' || value[i] > '9') {
                f->bad_length = 1;
                break;
            }
            v = v * 10 + (uint64_t)(value[i] - '0');
        }
        f->length = v;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->n_te++;
        f->te_chunked = value != NULL && strcasecmp(value, "chunked") == 0;
    }
    return MHD_YES;
}

struct query_ctx {
    struct ecl_http_req *req;
    int bad;
};

static enum MHD_Result
query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct query_ctx *q = cls;
    struct ecl_http_req *req = q->req;
    size_t klen = strlen(key);
    size_t vlen = value != NULL ? strlen(value) : 0;
    struct query_param *p;

    (void)kind;
    if (req->nquery == ECL_HTTP_MAX_QUERY_PARAMS) {
        q->bad = 1;
        return MHD_NO;
    }
    p = &req->query[req->nquery];
    p->name = malloc(klen + 1);
    p->value = malloc(vlen + 1);
    if (p->name == NULL || p->value == NULL ||
        ecl_http_query_decode(key, klen, p->name, klen + 1) != ECL_OK ||
        ecl_http_query_decode(value != NULL ? value : "", vlen, p->value, vlen + 1) != ECL_OK) {
        free(p->name);
        free(p->value);
        p->name = NULL;
        p->value = NULL;
        q->bad = 1;
        return MHD_NO;
    }
    req->nquery++;
    return MHD_YES;
}

static int
json_content_type(const char *ct)
{
    static const char want[] = "application/json";
    size_t n = sizeof want - 1;

    if (ct == NULL || strncasecmp(ct, want, n) != 0) {
        return 0;
    }
    return ct[n] == 0 || ct[n] == ';' || ct[n] == ' ';
}

/* Checks Authorization: Bearer <key> once: ECL_OK (req->principal set), ECL_ERR_DENIED (no
 * header, not Bearer, unknown or revoked key; *reason says which) or a store error. */
static enum ecl_status
key_lookup(struct ecl_http_req *req, const char **reason)
{
    struct ecl_http_server *srv = req->srv;
    const char *h =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    enum ecl_status st = ECL_ERR_DENIED;

    req->auth_tried = 1;
    *reason = "missing_credentials";
    if (h != NULL) {
        *reason = "invalid_credentials";
        if (strncasecmp(h, "Bearer ", 7) == 0) {
            const char *tok = h + 7;
            while (*tok == ' ') {
                tok++;
            }
            st = ecl_principal_authenticate(srv->cfg.store, srv->cfg.kr, tok, strlen(tok),
                                            &req->principal);
        }
    }
    if (st == ECL_OK) {
        req->have_principal = 1;
    }
    return st;
}

/* Before a refusal decided without authentication: identifies a valid key, silently (the
 * refusal stays what it is; an invalid key changes nothing). */
static void
key_check(struct ecl_http_req *req)
{
    const char *reason = NULL;

    if (req->conn == NULL || MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_AUTHORIZATION) == NULL) {
        req->auth_tried = 1;
        return;
    }
    if (key_lookup(req, &reason) != ECL_OK) {
        memset(&req->principal, 0, sizeof req->principal);
    }
}

/* Authorization: Bearer <key>.  Every failure is the same 401. */
static enum MHD_Result
authenticate(struct ecl_http_req *req)
{
    const char *reason = NULL;
    enum ecl_status st = key_lookup(req, &reason);

    if (st == ECL_OK) {
        if ((req->rt->roles & ECL_HTTP_ROLE(req->principal.role)) == 0) {
            ecl_http_req_refused(req, 403, "role_not_allowed");
            return refuse(req, ECL_PROB_FORBIDDEN);
        }
        return MHD_YES;
    }
    if (st != ECL_ERR_DENIED) {
        ecl_log_msg(ECL_LOG_ERROR, "auth_store", ecl_status_name(st));
        return refuse(req, ecl_http_problem_of_status(st));
    }
    ecl_http_req_refused(req, 401, reason);
    return refuse(req, ECL_PROB_UNAUTHENTICATED);
}

/* Everything decided from the request line and headers.  Queues a refusal or returns MHD_YES
 * with req->queued still 0 to read the body. */
static enum MHD_Result
on_headers(struct ecl_http_req *req, const char *url, const char *method)
{
    struct ecl_http_server *srv = req->srv;
    struct framing f;
    struct query_ctx q = {req, 0};
    enum ecl_status st;
    int m;

    request_id_init(req);
    m = ecl_http_method_parse(method);
    req->method_known = m >= 0;
    req->method = m >= 0 ? (enum ecl_http_method)m : ECL_HTTP_GET;
    if (strlen(url) > ECL_HTTP_MAX_URL_LEN) {
        return refuse(req, ECL_PROB_URI_TOO_LONG);
    }
    memset(&f, 0, sizeof f);
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, framing_header, &f);
    if (f.n_length > 1 || (f.n_length > 0 && f.n_te > 0) || f.n_te > 1 ||
        (f.n_te == 1 && !f.te_chunked) || f.bad_length) {
        return refuse(req, ECL_PROB_AMBIGUOUS_FRAMING);
    }
    st = ecl_http_path_decode(url, strlen(url), &req->path);
    if (st == ECL_ERR_LIMIT) {
        return refuse(req, ECL_PROB_URI_TOO_LONG);
    }
    if (st != ECL_OK) {
        return refuse(req, ECL_PROB_INVALID_PATH);
    }
    if (m < 0) {
        /* unknown method: 501, with the methods the path supports */
        struct ecl_http_match tmp;
        (void)ecl_http_router_match(srv->router, ECL_HTTP_GET, &req->path, &tmp, &req->allow);
        return refuse(req, ECL_PROB_NOT_IMPLEMENTED);
    }
    switch (ecl_http_router_match(srv->router, req->method, &req->path, &req->match, &req->allow)) {
    case ECL_HTTP_MATCH_OK:
        break;
    case ECL_HTTP_MATCH_NO_PATH:
        return refuse(req, ECL_PROB_NOT_FOUND);
    case ECL_HTTP_MATCH_NO_METHOD:
        return refuse(req, ECL_PROB_METHOD_NOT_ALLOWED);
    }
    req->route = req->match.route;
    req->rt = ecl_http_router_route(srv->router, req->route);

    /* limits first: an oversized body is refused before any key lookup of a request without
     * one (send_resp still identifies a key that is present, for the audit) */
    if ((f.n_length == 1 && f.length > req->rt->max_body) ||
        (f.te_chunked && req->rt->max_body == 0)) {
        return refuse(req, ECL_PROB_BODY_TOO_LARGE);
    }
    if (req->rt->roles != ECL_HTTP_PUBLIC) {
        enum MHD_Result r = authenticate(req);
        if (r != MHD_YES || req->queued) {
            return r;
        }
    }
    if ((f.n_length == 1 && f.length > 0) || f.te_chunked) {
        if (!json_content_type(MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                           MHD_HTTP_HEADER_CONTENT_TYPE))) {
            return refuse(req, ECL_PROB_UNSUPPORTED_MEDIA);
        }
    }
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_arg, &q);
    if (q.bad) {
        return refuse(req, ECL_PROB_BAD_REQUEST);
    }
    ecl_buf_init(&req->body, req->rt->max_body);
    return MHD_YES;
}

/* ---- dispatch and asynchronous completion --------------------------------------------------- */

static void
pending_add(struct ecl_http_req *req)
{
    struct ecl_http_server *srv = req->srv;

    req->pend_prev = NULL;
    req->pend_next = srv->pending_head;
    if (srv->pending_head != NULL) {
        srv->pending_head->pend_prev = req;
    }
    srv->pending_head = req;
    srv->npending++;
}

static void
pending_remove(struct ecl_http_req *req)
{
    struct ecl_http_server *srv = req->srv;

    if (req->pend_prev != NULL) {
        req->pend_prev->pend_next = req->pend_next;
    } else {
        srv->pending_head = req->pend_next;
    }
    if (req->pend_next != NULL) {
        req->pend_next->pend_prev = req->pend_prev;
    }
    req->pend_next = NULL;
    req->pend_prev = NULL;
    srv->npending--;
    pthread_cond_broadcast(&async_cv);
}

static enum MHD_Result
dispatch(struct ecl_http_req *req)
{
    struct ecl_http_server *srv = req->srv;
    enum ecl_http_result r;

    pthread_mutex_lock(&async_mu);
    if (srv->draining) {
        /* stopping: start nothing new (keep-alive clients keep sending) */
        pthread_mutex_unlock(&async_mu);
        ecl_http_resp_problem(&req->resp, ECL_PROB_UNAVAILABLE);
        return send_resp(req);
    }
    srv->ndispatching++;
    req->async = ASYNC_RUNNING;
    atomic_fetch_add(&req->refs, 1); /* the completer's */
    pthread_mutex_unlock(&async_mu);

    r = req->rt->fn(req, &req->resp, req->rt->arg);

    pthread_mutex_lock(&async_mu);
    srv->ndispatching--;
    pthread_cond_broadcast(&async_cv);
    if (r == ECL_HTTP_DONE) {
        req->async = ASYNC_NONE;
        pthread_mutex_unlock(&async_mu);
        atomic_fetch_sub(&req->refs, 1); /* MHD's reference remains */
        return send_resp(req);
    }
    if (req->async == ASYNC_COMPLETED) {
        /* completed before we could suspend: answer now */
        pthread_mutex_unlock(&async_mu);
        return send_resp(req);
    }
    if (srv->closed) {
        /* the stop already answered the pending list: never suspend now; the completer's late
         * call is discarded (forced) */
        req->forced = 1;
        req->async = ASYNC_COMPLETED;
        pthread_mutex_unlock(&async_mu);
        ecl_http_resp_problem(&req->resp, ECL_PROB_UNAVAILABLE);
        return send_resp(req);
    }
    req->async = ASYNC_SUSPENDED;
    pending_add(req);
    MHD_suspend_connection(req->conn);
    pthread_mutex_unlock(&async_mu);
    return MHD_YES;
}

void
ecl_http_req_complete(struct ecl_http_req *req, struct ecl_http_resp *resp)
{
    pthread_mutex_lock(&async_mu);
    if (req->forced) {
        /* shutdown already answered 503; the connection may be gone */
        pthread_mutex_unlock(&async_mu);
        ecl_http_resp_free(resp);
        req_unref(req);
        return;
    }
    ecl_http_resp_free(&req->resp);
    req->resp = *resp;
    ecl_http_resp_init(resp);
    if (req->async == ASYNC_SUSPENDED) {
        pending_remove(req);
        req->async = ASYNC_COMPLETED;
        MHD_resume_connection(req->conn);
    } else {
        req->async = ASYNC_COMPLETED;
    }
    pthread_mutex_unlock(&async_mu);
    req_unref(req);
}

/* ---- libmicrohttpd callbacks --------------------------------------------------------------- */

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct ecl_http_server *srv = cls;
    struct ecl_http_req *req = *con_cls;
    int completed;

    (void)version;
    if (req == NULL) {
        req = calloc(1, sizeof *req);
        if (req == NULL) {
            return MHD_NO;
        }
        req->srv = srv;
        req->conn = conn;
        req->start_ns = now_ns();
        req->route = ecl_http_router_count(srv->router);
        atomic_init(&req->refs, 1);
        ecl_http_resp_init(&req->resp);
        ecl_buf_init(&req->body, 0);
        *con_cls = req;
        atomic_fetch_add(&srv->in_flight, 1);
        enum MHD_Result r = on_headers(req, url, method);
        req->headers_done = 1;
        return r;
    }
    if (req->queued) {
        *upload_data_size = 0; /* a refusal is on its way: ignore the rest */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        uint64_t cap = req->rt->max_body;
        *upload_data_size = 0;
        req->body_seen += n;
        if (!req->body_over && ecl_buf_append(&req->body, upload_data, n) != ECL_OK) {
            req->body_over = 1;
            ecl_buf_free(&req->body);
        }
        if (req->body_over && req->body_seen / ECL_HTTP_DISCARD_MAX_FACTOR > cap) {
            return MHD_NO; /* a chunked body that does not stop: drop the connection */
        }
        return MHD_YES;
    }
    pthread_mutex_lock(&async_mu);
    completed = req->async == ASYNC_COMPLETED;
    pthread_mutex_unlock(&async_mu);
    if (completed) {
        return send_resp(req); /* resumed */
    }
    if (req->body_over) {
        return refuse(req, ECL_PROB_BODY_TOO_LARGE);
    }
    return dispatch(req);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct ecl_http_server *srv = cls;
    struct ecl_http_req *req = *con_cls;

    (void)conn;
    (void)toe;
    if (req == NULL) {
        return;
    }
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
    req_unref(req);
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
    struct ecl_http_server *srv = cls;

    (void)conn;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&srv->connections, 1);
    } else {
        atomic_fetch_sub(&srv->connections, 1);
    }
}

/* MHD's messages go to our log as one escaped string, truncated. */
__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
        msg[--n] = 0;
    }
    ecl_log_msg(ECL_LOG_WARN, "mhd", msg);
}

/* We decode the path and the query ourselves, strictly and once: MHD must not unescape. */
static size_t
no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

/* ---- metrics ------------------------------------------------------------------------------- */

static void
label_escape(const char *in, char *out, size_t cap)
{
    size_t o = 0;

    for (; *in != 0 && o + 3 < cap; in++) {
        if (*in == '"' || *in == '\\') {
            out[o++] = '\\';
        }
        out[o++] = *in == '\n' ? ' ' : *in;
    }
    out[o] = 0;
}

enum ecl_status
ecl_http_metrics_render(struct ecl_http_server *srv, struct ecl_buf *out)
{
    size_t nroutes = ecl_http_router_count(srv->router);
    char labels[512];
    char route[256];
    size_t ru = 0;
    size_t rs = 0;
    size_t au = 0;
    size_t as = 0;
    size_t npending;

    ECL_GUARD(ecl_metrics_family(out, "ecluse_http_requests_total", "counter",
                                 "HTTP requests by route pattern, method, role and status."));
    for (size_t i = 0; i <= nroutes; i++) {
        const struct ecl_http_route *rt =
            i < nroutes ? ecl_http_router_route(srv->router, i) : NULL;
        label_escape(rt != NULL ? rt->pattern : "unmatched", route, sizeof route);
        for (size_t role = 0; role < NROLE_LABELS; role++) {
            for (size_t s = 0; s < NSTATUS; s++) {
                uint64_t v =
                    atomic_load_explicit(&srv->stats[i].count[role][s], memory_order_relaxed);
                char status[8];
                if (v == 0) {
                    continue;
                }
                if (s < NSTATUS - 1) {
                    snprintf(status, sizeof status, "%u", counted_statuses[s]);
                } else {
                    snprintf(status, sizeof status, "other");
                }
                snprintf(labels, sizeof labels,
                         "route=\"%s\",method=\"%s\",role=\"%s\",status=\"%s\"", route,
                         rt != NULL ? ecl_http_method_name(rt->method) : "any", role_labels[role],
                         status);
                ECL_GUARD(ecl_metrics_sample(out, "ecluse_http_requests_total", labels, (double)v));
            }
        }
    }
    ECL_GUARD(ecl_metrics_family(out, "ecluse_http_request_duration_seconds", "histogram",
                                 "Time from the request headers to the queued response."));
    for (size_t i = 0; i <= nroutes; i++) {
        const struct ecl_http_route *rt =
            i < nroutes ? ecl_http_router_route(srv->router, i) : NULL;
        label_escape(rt != NULL ? rt->pattern : "unmatched", route, sizeof route);
        snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\"", route,
                 rt != NULL ? ecl_http_method_name(rt->method) : "any");
        ECL_GUARD(ecl_metrics_hist(out, "ecluse_http_request_duration_seconds", labels,
                                   &srv->stats[i].latency));
    }
    ECL_GUARD(
        ecl_metrics_family(out, "ecluse_http_connections", "gauge", "Open client connections."));
    ECL_GUARD(ecl_metrics_sample(out, "ecluse_http_connections", "",
                                 (double)atomic_load(&srv->connections)));
    ECL_GUARD(ecl_metrics_family(out, "ecluse_http_requests_in_flight", "gauge",
                                 "Requests received and not yet finished."));
    ECL_GUARD(ecl_metrics_sample(out, "ecluse_http_requests_in_flight", "",
                                 (double)atomic_load(&srv->in_flight)));
    pthread_mutex_lock(&async_mu);
    npending = srv->npending;
    pthread_mutex_unlock(&async_mu);
    ECL_GUARD(ecl_metrics_family(out, "ecluse_http_requests_suspended", "gauge",
                                 "Requests waiting for an asynchronous completion (audit)."));
    ECL_GUARD(ecl_metrics_sample(out, "ecluse_http_requests_suspended", "", (double)npending));
    if (srv->cfg.store != NULL) {
        ecl_store_map_usage(srv->cfg.store, &ru, &rs, &au, &as);
        ECL_GUARD(ecl_metrics_family(out, "ecluse_store_map_used_bytes", "gauge",
                                     "LMDB map pages in use, in bytes."));
        ECL_GUARD(
            ecl_metrics_sample(out, "ecluse_store_map_used_bytes", "env=\"records\"", (double)ru));
        ECL_GUARD(
            ecl_metrics_sample(out, "ecluse_store_map_used_bytes", "env=\"audit\"", (double)au));
        ECL_GUARD(ecl_metrics_family(out, "ecluse_store_map_size_bytes", "gauge",
                                     "LMDB map size, in bytes."));
        ECL_GUARD(
            ecl_metrics_sample(out, "ecluse_store_map_size_bytes", "env=\"records\"", (double)rs));
        ECL_GUARD(
            ecl_metrics_sample(out, "ecluse_store_map_size_bytes", "env=\"audit\"", (double)as));
    }
    for (size_t i = 0; i < srv->nsources; i++) {
        ECL_GUARD(srv->sources[i].fn(srv->sources[i].arg, out));
    }
    return ECL_OK;
}

enum ecl_status
ecl_http_server_add_metrics(struct ecl_http_server *srv, ecl_http_metrics_fn fn, void *arg)
{
    if (srv->nsources == ECL_HTTP_METRICS_MAX_SOURCES) {
        return ECL_ERR_LIMIT;
    }
    srv->sources[srv->nsources].fn = fn;
    srv->sources[srv->nsources].arg = arg;
    srv->nsources++;
    return ECL_OK;
}

/* ---- start and stop ------------------------------------------------------------------------ */

static enum ecl_status
parse_listen(const char *s, struct sockaddr_storage *ss, int *ipv6, int *loopback)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t hl;
    char *end = NULL;
    unsigned long port;

    if (colon == NULL) {
        return ECL_ERR_INVALID;
    }
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        h = s + 1;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof host) {
        return ECL_ERR_INVALID;
    }
    memcpy(host, h, hl);
    host[hl] = 0;
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (colon[1] == 0 || *end != 0 || errno != 0 || port > 65535) {
        return ECL_ERR_INVALID;
    }
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *ipv6 = 0;
        *loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
        return ECL_OK;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *ipv6 = 1;
        *loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
        return ECL_OK;
    }
    return ECL_ERR_INVALID;
}

static void
server_free(struct ecl_http_server *srv)
{
    if (srv->tls != NULL) {
        ecl_http_tls_free(srv->tls);
    }
    ecl_http_router_free(srv->router);
    free(srv->stats);
    free(srv);
}

enum ecl_status
ecl_http_server_start(const struct ecl_http_config *cfg, struct ecl_http_server **out)
{
    struct ecl_http_server *srv;
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    unsigned threads = cfg->threads;
    unsigned timeout = cfg->conn_timeout != 0 ? cfg->conn_timeout : ECL_HTTP_CONNECTION_TIMEOUT_S;
    const union MHD_DaemonInfo *info;
    int ipv6 = 0;
    int loopback = 0;
    enum ecl_status st;

    if (cfg->store == NULL || cfg->kr == NULL || cfg->listen == NULL) {
        return ECL_ERR_INVALID;
    }
    ECL_GUARD(parse_listen(cfg->listen, &ss, &ipv6, &loopback));
    if (cfg->tls_cert == NULL && !loopback && (cfg->flags & ECL_HTTP_ALLOW_INSECURE) == 0) {
        return ECL_ERR_PERM;
    }
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        return ECL_ERR_INVALID;
    }
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    if (threads < ECL_HTTP_THREADS_MIN) {
        /* one MHD thread stalls once more than 64 connections are open (docs/operations.md) */
        threads = ECL_HTTP_THREADS_MIN;
    }
    if (threads > ECL_HTTP_MAX_THREADS) {
        threads = ECL_HTTP_MAX_THREADS;
    }
    srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        return ECL_ERR_NOMEM;
    }
    srv->cfg = *cfg;
    srv->threads = threads;
    st = ecl_http_router_new(cfg->routes, cfg->nroutes, &srv->router);
    if (st != ECL_OK) {
        free(srv);
        return st;
    }
    srv->stats = calloc(cfg->nroutes + 1, sizeof *srv->stats);
    if (srv->stats == NULL) {
        server_free(srv);
        return ECL_ERR_NOMEM;
    }
    for (size_t i = 0; i <= cfg->nroutes; i++) {
        ecl_hist_init(&srv->stats[i].latency, latency_bounds,
                      sizeof latency_bounds / sizeof latency_bounds[0], 1e-6);
    }
    if (cfg->tls_cert != NULL) {
        st = ecl_http_tls_load(cfg->tls_cert, cfg->tls_key, &srv->tls);
        if (st != ECL_OK) {
            server_free(srv);
            return st;
        }
        ecl_http_tls_install(srv->tls);
        flags |= MHD_USE_TLS;
    }
    if (ipv6) {
        flags |= MHD_USE_IPv6;
    }

    /* The same options twice: MHD takes them as variadic arguments, TLS adds two. */
#define ECL_MHD_COMMON_OPTIONS                                                                     \
    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,     \
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,                         \
        (unsigned)ECL_HTTP_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,                    \
        (unsigned)ECL_HTTP_MAX_CONNECTIONS_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, timeout,         \
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ECL_HTTP_MAX_HEADER_BYTES,                     \
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,              \
        on_connection, srv, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, srv,                        \
        MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_LISTEN_BACKLOG_SIZE,                      \
        (unsigned)ECL_HTTP_LISTEN_BACKLOG
    if (srv->tls != NULL) {
        srv->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, on_access, srv, ECL_MHD_COMMON_OPTIONS,
            MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
            MHD_OPTION_HTTPS_CERT_CALLBACK, ecl_http_tls_callback(), MHD_OPTION_END);
    } else {
        srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, srv, ECL_MHD_COMMON_OPTIONS,
                                       MHD_OPTION_END);
    }
#undef ECL_MHD_COMMON_OPTIONS
    if (srv->daemon == NULL) {
        server_free(srv);
        return ECL_ERR_IO;
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info != NULL ? info->port : 0;
    *out = srv;
    return ECL_OK;
}

unsigned
ecl_http_server_port(const struct ecl_http_server *srv)
{
    return srv->port;
}

unsigned
ecl_http_server_threads(const struct ecl_http_server *srv)
{
    return srv->threads;
}

enum ecl_status
ecl_http_server_reload_tls(struct ecl_http_server *srv)
{
    if (srv->tls == NULL) {
        return ECL_ERR_INVALID;
    }
    return ecl_http_tls_reload(srv->tls, srv->cfg.tls_cert, srv->cfg.tls_key);
}

void
ecl_http_server_stop(struct ecl_http_server *srv)
{
    struct timespec deadline;
    int forced = 0;

    if (srv == NULL) {
        return;
    }
    uint64_t grace_ms = srv->cfg.shutdown_grace_ms != 0 ? srv->cfg.shutdown_grace_ms
                                                        : ECL_HTTP_SHUTDOWN_GRACE_S * 1000u;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)(grace_ms / 1000u);
    deadline.tv_nsec += (long)(grace_ms % 1000u) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&async_mu);
    srv->draining = 1;
    while (srv->npending > 0 || srv->ndispatching > 0) {
        if (pthread_cond_timedwait(&async_cv, &async_mu, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    srv->closed = 1;
    /* answer 503 to whatever still waits; its completer's late call is then discarded */
    while (srv->pending_head != NULL) {
        struct ecl_http_req *req = srv->pending_head;
        pending_remove(req);
        req->forced = 1;
        req->async = ASYNC_COMPLETED;
        ecl_http_resp_problem(&req->resp, ECL_PROB_UNAVAILABLE);
        MHD_resume_connection(req->conn);
        forced++;
    }
    pthread_mutex_unlock(&async_mu);
    if (forced > 0) {
        ecl_log_msg(ECL_LOG_ERROR, "shutdown", "suspended requests answered 503 at shutdown");
        usleep(100000); /* let the threads send the 503s */
    }
    MHD_stop_daemon(srv->daemon);
    server_free(srv);
}
