/* Audit-then-respond: the only way a handler answers with data or a decided refusal.  The
 * response is held back (the connection suspended) until the audit entry that describes it is
 * durable; if the entry cannot be written, no data leaves (invariant 2, SECURITY.md). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "ecl/schema.h"

/* What the writer's callback needs to finish one request. */
struct pending {
    struct ecl_http_req *req;
    unsigned status;
    /* JSON answer: the dumped data and meta (meta without its closing brace is completed with
     * audit_seq); problem answer: p and code */
    char *data;
    char *meta;
    int is_problem;
    enum ecl_http_problem problem;
    const char *code;
    unsigned retry_after;
    char request_id[ECL_HTTP_REQUEST_ID_MAX_LEN + 1];
};

static void
pending_free(struct pending *p)
{
    if (p->data != NULL) {
        ecl_wipe(p->data, strlen(p->data));
        free(p->data);
    }
    free(p->meta);
    free(p);
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

static void
problem_into(struct ecl_http_resp *resp, enum ecl_http_problem p, const char *request_id,
             const char *code, int have_seq, uint64_t seq, unsigned retry_after)
{
    struct ecl_buf body;
    json_t *o = NULL;
    char *s = NULL;
    char ra[24];

    ecl_buf_init(&body, 4096);
    if (ecl_http_problem_body(p, request_id, NULL, &body) == ECL_OK) {
        o = json_loadb((const char *)body.ptr, body.len, 0, NULL);
    }
    if (o != NULL) {
        if (code != NULL) {
            json_object_set_new(o, "code", json_string(code));
        }
        if (have_seq) {
            json_object_set_new(o, "audit_seq", json_integer((json_int_t)seq));
        }
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
    }
    if (s == NULL || ecl_http_resp_set(resp, ecl_http_problem_status(p), "application/problem+json",
                                       s, strlen(s)) != ECL_OK) {
        ecl_http_resp_problem(resp, p);
    }
    free(s);
    ecl_buf_free(&body);
    if (retry_after > 0) {
        snprintf(ra, sizeof ra, "%u", retry_after);
        if (ecl_http_resp_header(resp, "Retry-After", ra) != ECL_OK) {
            ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
        }
    }
}

/* The writer thread's callback: the entry is durable (st ECL_OK) or the commit failed. */
static void
committed(void *arg, enum ecl_status st, uint64_t seq)
{
    struct pending *p = arg;
    struct ecl_http_resp resp;
    struct ecl_buf body;
    char num[24];
    size_t mlen;

    ecl_http_resp_init(&resp);
    if (st != ECL_OK) {
        /* nothing leaves: the gateway is sealed from now on (the writer says why on /readyz) */
        problem_into(&resp, ECL_PROB_SEALED, p->request_id, "audit_unavailable", 0, 0, 0);
    } else if (p->is_problem) {
        problem_into(&resp, p->problem, p->request_id, p->code, 1, seq, p->retry_after);
    } else {
        ecl_buf_init(&body, ECL_HTTP_MAX_RESPONSE_BYTES);
        snprintf(num, sizeof num, "%" PRIu64, seq);
        mlen = strlen(p->meta);
        /* meta is a non-empty JSON object: "{...}" -> "{...,"audit_seq":N}" */
        if (mlen < 2 || ecl_buf_append_str(&body, "{\"data\":") != ECL_OK ||
            ecl_buf_append_str(&body, p->data) != ECL_OK ||
            ecl_buf_append_str(&body, ",\"meta\":") != ECL_OK ||
            ecl_buf_append(&body, p->meta, mlen - 1) != ECL_OK ||
            ecl_buf_append_str(&body, mlen > 2 ? ",\"audit_seq\":" : "\"audit_seq\":") != ECL_OK ||
            ecl_buf_append_str(&body, num) != ECL_OK || ecl_buf_append_str(&body, "}}") != ECL_OK ||
            ecl_http_resp_set(&resp, p->status, "application/json", body.ptr, body.len) != ECL_OK) {
            ecl_http_resp_problem(&resp, ECL_PROB_INTERNAL);
        }
        ecl_buf_free(&body);
    }
    ecl_http_req_complete(p->req, &resp);
    ecl_http_resp_free(&resp);
    pending_free(p);
}

static enum ecl_http_result
submit(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
       struct ecl_audit_event *ev, struct pending *p)
{
    enum ecl_status st = ecl_audit_submit(app->audit, ev, committed, p);

    if (st == ECL_OK) {
        return ECL_HTTP_PENDING;
    }
    pending_free(p);
    if (st == ECL_ERR_LIMIT) {
        /* the queue is full: refuse rather than wait without bound */
        problem_into(resp, ECL_PROB_UNAVAILABLE, ecl_http_req_id(req), "audit_queue_full", 0, 0, 1);
    } else if (st == ECL_ERR_SEALED) {
        problem_into(resp, ECL_PROB_SEALED, ecl_http_req_id(req), "audit_unavailable", 0, 0, 0);
    } else {
        problem_into(resp, ECL_PROB_INTERNAL, ecl_http_req_id(req), NULL, 0, 0, 0);
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

enum ecl_http_result
ecl_api_commit_json(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
                    struct ecl_audit_event *ev, unsigned status, json_t *data, json_t *meta)
{
    uint8_t digest[ECL_HASH_LEN];
    struct pending *p = pending_new(req, status);

    if (p != NULL && data != NULL && meta != NULL && json_is_object(meta)) {
        p->data = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        p->meta = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    }
    json_decref(data);
    json_decref(meta);
    if (p == NULL || p->data == NULL || p->meta == NULL) {
        if (p != NULL) {
            pending_free(p);
        }
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
        return ECL_HTTP_DONE;
    }
    ecl_api_body_digest(p->data, strlen(p->data), p->meta, strlen(p->meta), digest);
    ev->response_digest = digest;
    return submit(app, req, resp, ev, p);
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
    p->problem = prob;
    p->code = code;
    p->retry_after = retry_after;
    return submit(app, req, resp, ev, p);
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
    problem_into(resp, p, ecl_http_req_id(req), code, 0, 0, 0);
    return ECL_HTTP_DONE;
}
