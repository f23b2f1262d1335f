/* Audit-then-respond: the only way a handler answers with data or a decided refusal.  The
 * response is held back (the connection suspended) until the audit entry that describes it is
 * durable; if the entry cannot be written, no data leaves (invariant 2, SECURITY.md). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "ecl/schema.h"
#include "json_dump.h"

/* ---- the channel-independent core ------------------------------------------------------- */

/* What the writer's callback needs to finish one answer. */
struct core {
    ecl_api_commit_fn done;
    void *arg;
    /* the dumped data and meta (meta without its closing brace is completed with audit_seq);
     * both NULL for an answer without a body */
    char *data;
    char *meta;
};

static void
core_free(struct core *c)
{
    if (c->data != NULL) {
        ecl_wipe(c->data, strlen(c->data));
        free(c->data);
    }
    free(c->meta);
    free(c);
}

void
ecl_api_body_digest(const char *data_json, size_t data_len, const char *meta_json, size_t meta_len,
                    uint8_t out[ECL_HASH_LEN])
{
    /* BLAKE2b-256 over {"data":D,"meta":M}, streamed through a small buffer so that the body is
     * not built twice */
    struct ecl_buf b;

    ecl_buf_init(&b, SIZE_MAX);
    if (ecl_buf_append_str(&b, "{\"data\":") != ECL_OK ||
        ecl_buf_append(&b, data_json, data_len) != ECL_OK ||
        ecl_buf_append_str(&b, ",\"meta\":") != ECL_OK ||
        ecl_buf_append(&b, meta_json, meta_len) != ECL_OK ||
        ecl_buf_append_str(&b, "}") != ECL_OK) {
        /* out of memory: a digest that cannot match any body */
        memset(out, 0, ECL_HASH_LEN);
        ecl_buf_free(&b);
        return;
    }
    ecl_crypto_blake2b(out, ECL_HASH_LEN, NULL, 0, b.ptr, b.len);
    ecl_buf_free(&b);
}

/* {"data":D,"meta":M without its closing brace,"audit_seq":N}} */
static enum ecl_status
body_build(const struct core *c, uint64_t seq, struct ecl_buf *body)
{
    char num[24];
    size_t mlen = strlen(c->meta);

    snprintf(num, sizeof num, "%" PRIu64, seq);
    /* meta is a non-empty JSON object: "{...}" -> "{...,"audit_seq":N}" */
    if (mlen < 2) {
        return ECL_ERR_INTERNAL;
    }
    ECL_GUARD(ecl_buf_append_str(body, "{\"data\":"));
    ECL_GUARD(ecl_buf_append_str(body, c->data));
    ECL_GUARD(ecl_buf_append_str(body, ",\"meta\":"));
    ECL_GUARD(ecl_buf_append(body, c->meta, mlen - 1));
    ECL_GUARD(ecl_buf_append_str(body, mlen > 2 ? ",\"audit_seq\":" : "\"audit_seq\":"));
    ECL_GUARD(ecl_buf_append_str(body, num));
    return ecl_buf_append_str(body, "}}");
}

/* The writer thread's callback: the entry is durable (st ECL_OK) or the commit failed. */
static void
core_committed(void *arg, enum ecl_status st, uint64_t seq)
{
    struct core *c = arg;
    struct ecl_buf body;

    if (st != ECL_OK) {
        /* the writer seals the log when a commit fails */
        c->done(c->arg, ECL_ERR_SEALED, 0, NULL, 0);
    } else if (c->data == NULL) {
        c->done(c->arg, ECL_OK, seq, NULL, 0);
    } else {
        ecl_buf_init(&body, ECL_HTTP_MAX_RESPONSE_BYTES);
        if (body_build(c, seq, &body) == ECL_OK) {
            c->done(c->arg, ECL_OK, seq, (const char *)body.ptr, body.len);
        } else {
            c->done(c->arg, ECL_ERR_NOMEM, seq, NULL, 0);
        }
        ecl_buf_free(&body);
    }
    core_free(c);
}

/* json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY), the same bytes, through the
 * faster encoder (json_dump.h): a malloc'd C string or NULL. */
static char *
dump(const json_t *v)
{
    struct ecl_buf b;
    const char *s = NULL;

    ecl_buf_init(&b, SIZE_MAX); /* uncapped as json_dumps was: body_build applies the cap */
    if (ecl_api_json_dump(v, &b) != ECL_OK || ecl_buf_cstr(&b, &s) != ECL_OK) {
        ecl_buf_free(&b);
        return NULL;
    }
    return (char *)b.ptr; /* taken from the buffer: core_free wipes and frees it */
}

/* Digests and submits c (its data and meta are set; both NULL for a bodiless answer). */
static enum ecl_status
core_submit(struct ecl_app *app, struct ecl_audit_event *ev, struct core *c, ecl_api_commit_fn done,
            void *arg)
{
    uint8_t digest[ECL_HASH_LEN];
    const uint8_t *caller_digest = ev->response_digest;
    enum ecl_status st;

    c->done = done;
    c->arg = arg;
    if (c->data != NULL) {
        ecl_api_body_digest(c->data, strlen(c->data), c->meta, strlen(c->meta), digest);
        ev->response_digest = digest;
    }
    st = ecl_audit_submit(app->audit, ev, core_committed, c);
    ev->response_digest = caller_digest; /* digest dies with this frame */
    if (st == ECL_OK) {
        return ECL_OK;
    }
    core_free(c);
    return st == ECL_ERR_LIMIT || st == ECL_ERR_SEALED ? st : ECL_ERR_INTERNAL;
}

enum ecl_status
ecl_api_commit(struct ecl_app *app, struct ecl_audit_event *ev, json_t *data, json_t *meta,
               ecl_api_commit_fn done, void *arg)
{
    int bodiless = data == NULL && meta == NULL;
    struct core *c = calloc(1, sizeof *c);

    if (c != NULL && data != NULL && json_is_object(meta)) {
        c->data = dump(data);
        c->meta = dump(meta);
    }
    json_decref(data);
    json_decref(meta);
    if (c == NULL || (!bodiless && (c->data == NULL || c->meta == NULL))) {
        if (c != NULL) {
            core_free(c);
        }
        return ECL_ERR_NOMEM;
    }
    return core_submit(app, ev, c, done, arg);
}

enum ecl_status
ecl_api_commit_meta_json(struct ecl_app *app, struct ecl_audit_event *ev, json_t *data,
                         const char *meta_json, size_t meta_len, ecl_api_commit_fn done, void *arg)
{
    struct core *c = calloc(1, sizeof *c);

    if (c != NULL && data != NULL && meta_json != NULL && meta_len >= 2 && meta_json[0] == '{') {
        c->data = dump(data);
        c->meta = malloc(meta_len + 1);
        if (c->meta != NULL) {
            memcpy(c->meta, meta_json, meta_len);
            c->meta[meta_len] = 0;
        }
    }
    json_decref(data);
    if (c == NULL || c->data == NULL || c->meta == NULL) {
        if (c != NULL) {
            core_free(c);
        }
        return ECL_ERR_NOMEM;
    }
    return core_submit(app, ev, c, done, arg);
}

/* ---- the HTTP wrappers ------------------------------------------------------------------- */

/* What the core's callback needs to complete one request. */
struct pending {
    struct ecl_http_req *req;
    unsigned status;
    /* problem answer: the body without audit_seq (NULL when it could not be built: then the
     * plain problem `fallback` is sent) */
    int is_problem;
    json_t *problem;
    enum ecl_http_problem fallback;
    unsigned retry_after;
    /* JSON answer: extra response headers */
    char *hname[ECL_HTTP_MAX_RESP_HEADERS];
    char *hvalue[ECL_HTTP_MAX_RESP_HEADERS];
    size_t nheaders;
    char request_id[ECL_HTTP_REQUEST_ID_MAX_LEN + 1];
};

static void
pending_free(struct pending *p)
{
    for (size_t i = 0; i < p->nheaders; i++) {
        free(p->hname[i]);
        free(p->hvalue[i]);
    }
    json_decref(p->problem);
    free(p);
}

/* The problem body of p with its "code" member (may be NULL): a new object or NULL. */
static json_t *
problem_json(enum ecl_http_problem p, const char *request_id, const char *code)
{
    struct ecl_buf body;
    json_t *o = NULL;

    ecl_buf_init(&body, 4096);
    if (ecl_http_problem_body(p, request_id, NULL, &body) == ECL_OK) {
        o = json_loadb((const char *)body.ptr, body.len, 0, NULL);
    }
    ecl_buf_free(&body);
    if (o != NULL && code != NULL && json_object_set_new(o, "code", json_string(code)) != 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* Answers the problem body o (borrowed; NULL: the plain problem fallback) with status, adding
 * audit_seq when have_seq, and Retry-After when retry_after > 0. */
static void
problem_send(struct ecl_http_resp *resp, json_t *o, unsigned status, enum ecl_http_problem fallback,
             int have_seq, uint64_t seq, unsigned retry_after)
{
    char *s = NULL;
    char ra[24];

    if (o != NULL && have_seq) {
        json_object_set_new(o, "audit_seq", json_integer((json_int_t)seq));
    }
    if (o != NULL) {
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    if (s == NULL ||
        ecl_http_resp_set(resp, status, "application/problem+json", s, strlen(s)) != ECL_OK) {
        ecl_http_resp_problem(resp, fallback);
    }
    free(s);
    if (retry_after > 0) {
        snprintf(ra, sizeof ra, "%u", retry_after);
        if (ecl_http_resp_header(resp, "Retry-After", ra) != ECL_OK) {
            ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
        }
    }
}

static void
problem_into(struct ecl_http_resp *resp, enum ecl_http_problem p, const char *request_id,
             const char *code, unsigned retry_after)
{
    json_t *o = problem_json(p, request_id, code);

    problem_send(resp, o, ecl_http_problem_status(p), p, 0, 0, retry_after);
    json_decref(o);
}

/* The core's callback: completes the suspended request. */
static void
http_committed(void *arg, enum ecl_status st, uint64_t seq, const char *body, size_t body_len)
{
    struct pending *p = arg;
    struct ecl_http_resp resp;

    ecl_http_resp_init(&resp);
    if (st == ECL_ERR_SEALED) {
        /* nothing leaves: the gateway is sealed from now on (the writer says why on /readyz) */
        problem_into(&resp, ECL_PROB_SEALED, p->request_id, "audit_unavailable", 0);
    } else if (st != ECL_OK) {
        ecl_http_resp_problem(&resp, ECL_PROB_INTERNAL);
    } else if (p->is_problem) {
        problem_send(&resp, p->problem, p->status, p->fallback, 1, seq, p->retry_after);
    } else if (ecl_http_resp_set(&resp, p->status, "application/json", body, body_len) != ECL_OK) {
        ecl_http_resp_problem(&resp, ECL_PROB_INTERNAL);
    } else {
        for (size_t i = 0; i < p->nheaders; i++) {
            if (ecl_http_resp_header(&resp, p->hname[i], p->hvalue[i]) != ECL_OK) {
                ecl_http_resp_problem(&resp, ECL_PROB_INTERNAL);
                break;
            }
        }
    }
    ecl_http_req_complete(p->req, &resp);
    ecl_http_resp_free(&resp);
    pending_free(p);
}

/* Hands the answer to the core: PENDING, or DONE with the refusal of the log in resp. */
static enum ecl_http_result
http_submit(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
            struct ecl_audit_event *ev, json_t *data, json_t *meta, struct pending *p)
{
    enum ecl_status st = ecl_api_commit(app, ev, data, meta, http_committed, p);

    if (st == ECL_OK) {
        ecl_http_req_audited(req); /* this entry describes the answer: no access.refused too */
        return ECL_HTTP_PENDING;
    }
    pending_free(p);
    if (st == ECL_ERR_LIMIT) {
        /* the queue is full: refuse rather than wait without bound */
        problem_into(resp, ECL_PROB_UNAVAILABLE, ecl_http_req_id(req), "audit_queue_full", 1);
    } else if (st == ECL_ERR_SEALED) {
        problem_into(resp, ECL_PROB_SEALED, ecl_http_req_id(req), "audit_unavailable", 0);
    } else if (st == ECL_ERR_NOMEM) {
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
    } else {
        problem_into(resp, ECL_PROB_INTERNAL, ecl_http_req_id(req), NULL, 0);
    }
    return ECL_HTTP_DONE;
}

static struct pending *
pending_new(struct ecl_http_req *req, unsigned status)
{
    struct pending *p = calloc(1, sizeof *p);

    if (p == NULL) {
        return NULL;
    }
    p->req = req;
    p->status = status;
    snprintf(p->request_id, sizeof p->request_id, "%s", ecl_http_req_id(req));
    return p;
}

static enum ecl_status
pending_headers(struct pending *p, const struct ecl_api_header *headers, size_t nheaders)
{
    if (nheaders > ECL_HTTP_MAX_RESP_HEADERS) {
        return ECL_ERR_LIMIT;
    }
    for (; p->nheaders < nheaders; p->nheaders++) {
        p->hname[p->nheaders] = strdup(headers[p->nheaders].name);
        p->hvalue[p->nheaders] = strdup(headers[p->nheaders].value);
        if (p->hname[p->nheaders] == NULL || p->hvalue[p->nheaders] == NULL) {
            p->nheaders++; /* pending_free releases the pair */
            return ECL_ERR_NOMEM;
        }
    }
    return ECL_OK;
}

enum ecl_http_result
ecl_api_commit_json_with(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
                         struct ecl_audit_event *ev, unsigned status, json_t *data, json_t *meta,
                         const struct ecl_api_header *headers, size_t nheaders)
{
    struct pending *p = pending_new(req, status);

    if (p == NULL || data == NULL || !json_is_object(meta) ||
        pending_headers(p, headers, nheaders) != ECL_OK) {
        if (p != NULL) {
            pending_free(p);
        }
        json_decref(data);
        json_decref(meta);
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
        return ECL_HTTP_DONE;
    }
    return http_submit(app, req, resp, ev, data, meta, p);
}

enum ecl_http_result
ecl_api_commit_json(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
                    struct ecl_audit_event *ev, unsigned status, json_t *data, json_t *meta)
{
    return ecl_api_commit_json_with(app, req, resp, ev, status, data, meta, NULL, 0);
}

enum ecl_http_result
ecl_api_commit_problem_body(struct ecl_app *app, struct ecl_http_req *req,
                            struct ecl_http_resp *resp, struct ecl_audit_event *ev, unsigned status,
                            json_t *problem, unsigned retry_after)
{
    struct pending *p = pending_new(req, status);

    if (p == NULL || !json_is_object(problem)) {
        if (p != NULL) {
            pending_free(p);
        }
        json_decref(problem);
        return ecl_api_problem(req, resp, ECL_PROB_INTERNAL, NULL);
    }
    p->is_problem = 1;
    p->problem = problem;
    p->fallback = ECL_PROB_INTERNAL;
    p->retry_after = retry_after;
    return http_submit(app, req, resp, ev, NULL, NULL, p);
}

enum ecl_http_result
ecl_api_commit_problem(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
                       struct ecl_audit_event *ev, enum ecl_http_problem prob, const char *code,
                       unsigned retry_after)
{
    struct pending *p = pending_new(req, ecl_http_problem_status(prob));

    if (p == NULL) {
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
        return ECL_HTTP_DONE;
    }
    p->is_problem = 1;
    /* NULL when out of memory: the entry is still written and the plain problem sent */
    p->problem = problem_json(prob, p->request_id, code);
    p->fallback = prob;
    p->retry_after = retry_after;
    return http_submit(app, req, resp, ev, NULL, NULL, p);
}

void
ecl_api_event_from_req(const struct ecl_http_req *req, struct ecl_audit_event *ev,
                       char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1])
{
    const struct ecl_principal *pr = ecl_http_req_principal(req);

    ev->channel = ECL_AUDIT_CH_REST;
    ev->request_id = ecl_http_req_id(req);
    if (pr != NULL) {
        ecl_hex(pr->id, sizeof pr->id, idbuf);
        ev->principal = idbuf;
        ev->role = ecl_role_name(pr->role);
    }
}

json_t *
ecl_api_parse_body(struct ecl_http_req *req, const char **why)
{
    struct ecl_view body = ecl_http_req_body(req);

    if (body.len == 0) {
        *why = "a JSON body is required";
        return NULL;
    }
    return ecl_json_load((const char *)body.ptr, body.len, ECL_JSON_MAX_DEPTH, why, NULL);
}

enum ecl_http_result
ecl_api_json(struct ecl_http_resp *resp, unsigned status, json_t *v)
{
    char *s = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

    json_decref(v);
    if (s == NULL || ecl_http_resp_set(resp, status, "application/json", s, strlen(s)) != ECL_OK) {
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
    }
    free(s);
    return ECL_HTTP_DONE;
}

enum ecl_http_result
ecl_api_problem(struct ecl_http_req *req, struct ecl_http_resp *resp, enum ecl_http_problem p,
                const char *code)
{
    problem_into(resp, p, ecl_http_req_id(req), code, 0);
    resp->reason = code; /* the reason of the access.refused entry of a 4xx (http.h) */
    return ECL_HTTP_DONE;
}
