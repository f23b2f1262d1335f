/* Agent API (REST, docs/api.md): thin wrappers that turn HTTP requests into disclosure requests
 * (disclose.h) and disclosure results into HTTP answers.  Nothing here reads a record: every
 * answer with data comes from ecl_disclose, after its audit entry is durable.  The state of
 * the agent API (limits, pseudonym index writer) lives in disclose.c (ecl_api_agent_init). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disclose.h"
#include "query.h"

/* What the completion needs: the request and its id. */
struct hreq {
    struct ecl_http_req *req;
    char request_id[ECL_HTTP_REQUEST_ID_MAX_LEN + 1];
};

/* An RFC 9457 problem: type and title of the HTTP layer's problem of the status (http.h: one
 * table of types), status, detail (the static message), instance (the request id), code (the
 * disclosure's reason code) and audit_seq.  Never a value from the request. */
static void
problem_resp(struct ecl_http_resp *resp, const char *request_id,
             const struct ecl_disclose_result *res)
{
    char ra[24];
    json_t *o;
    char *s = NULL;
    const char *code = res->code != NULL ? res->code : "internal";
    enum ecl_http_problem p = ecl_http_problem_of_http(res->status);

    o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "type", ecl_http_problem_type(p), "title",
                  ecl_http_problem_title(p), "status", (json_int_t)res->status, "detail",
                  res->message != NULL ? res->message : "", "instance", request_id, "code", code);
    if (o != NULL && res->audit_seq != UINT64_MAX) {
        json_object_set_new(o, "audit_seq", json_integer((json_int_t)res->audit_seq));
    }
    if (o != NULL) {
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
    }
    if (s == NULL ||
        ecl_http_resp_set(resp, res->status, "application/problem+json", s, strlen(s)) != ECL_OK) {
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
    }
    free(s);
    if (res->retry_after > 0) {
        snprintf(ra, sizeof ra, "%u", res->retry_after);
        if (ecl_http_resp_header(resp, "Retry-After", ra) != ECL_OK) {
            ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
        }
    }
}

static void
done(void *arg, const struct ecl_disclose_result *res)
{
    struct hreq *h = arg;
    struct ecl_http_resp resp;

    ecl_http_resp_init(&resp);
    switch (res->outcome) {
    case ECL_DISCLOSE_OK:
        if (ecl_http_resp_set(&resp, res->status, "application/json", res->body, res->body_len) !=
            ECL_OK) {
            ecl_http_resp_problem(&resp, ECL_PROB_INTERNAL);
        }
        break;
    case ECL_DISCLOSE_REFUSED:
    case ECL_DISCLOSE_FAILED:
        problem_resp(&resp, h->request_id, res);
        break;
    }
    ecl_http_req_complete(h->req, &resp);
    ecl_http_resp_free(&resp);
    free(h);
}

/* Fills the request-independent members and runs the disclosure; always PENDING. */
static enum ecl_http_result
run(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
    struct ecl_disclose_req *d)
{
    struct hreq *h = calloc(1, sizeof *h);

    if (h == NULL) {
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
        return ECL_HTTP_DONE;
    }
    h->req = req;
    snprintf(h->request_id, sizeof h->request_id, "%s", ecl_http_req_id(req));
    d->channel = ECL_AUDIT_CH_REST;
    d->principal = ecl_http_req_principal(req);
    d->request_id = ecl_http_req_id(req);
    d->official = ecl_http_req_header(req, "On-Behalf-Of");
    d->case_ref = ecl_http_req_header(req, "X-Case-Id");
    /* every answer of ecl_disclose is described by its own entry (refusals included) */
    ecl_http_req_audited(req);
    ecl_disclose(app, d, done, h);
    return ECL_HTTP_PENDING;
}

static enum ecl_http_result
h_list(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_disclose_req d;

    memset(&d, 0, sizeof d);
    d.op = ECL_DISCLOSE_LIST_DATASETS;
    return run(arg, req, resp, &d);
}

static enum ecl_http_result
h_describe(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_disclose_req d;

    memset(&d, 0, sizeof d);
    d.op = ECL_DISCLOSE_DESCRIBE;
    d.dataset = ecl_http_req_param(req, "ds");
    return run(arg, req, resp, &d);
}

static enum ecl_http_result
h_explain(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_disclose_req d;

    memset(&d, 0, sizeof d);
    d.op = ECL_DISCLOSE_EXPLAIN;
    d.purpose = ecl_http_req_query(req, "purpose");
    return run(arg, req, resp, &d);
}

static enum ecl_http_result
h_get(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_disclose_req d;

    memset(&d, 0, sizeof d);
    d.op = ECL_DISCLOSE_GET;
    d.dataset = ecl_http_req_param(req, "ds");
    d.id = ecl_http_req_param(req, "id");
    d.purpose = ecl_http_req_query(req, "purpose");
    return run(arg, req, resp, &d);
}

static enum ecl_http_result
h_query(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_disclose_req d;
    struct ecl_query_body qb;
    const char *why = NULL;
    json_t *body = ecl_api_parse_body(req, &why);
    enum ecl_http_result res;

    if (body == NULL) {
        return ecl_api_problem(req, resp, ECL_PROB_INVALID_JSON, "invalid_json");
    }
    if (ecl_query_body_parse(body, &qb, &why) != ECL_OK) {
        json_decref(body);
        return ecl_api_problem(req, resp, ECL_PROB_BAD_REQUEST, "invalid_query");
    }
    memset(&d, 0, sizeof d);
    d.op = ECL_DISCLOSE_QUERY;
    d.dataset = ecl_http_req_param(req, "ds");
    d.purpose = qb.purpose;
    d.where = qb.where;
    d.fields = qb.fields;
    d.limit = qb.limit;
    d.cursor = qb.cursor;
    res = run(arg, req, resp, &d);
    json_decref(body); /* borrowed by ecl_disclose during the call only */
    return res;
}

size_t
ecl_api_agent_routes(struct ecl_app *app, struct ecl_http_route *out, size_t cap)
{
    const unsigned agent = ECL_HTTP_ROLE(ECL_ROLE_AGENT);
    const struct ecl_http_route routes[] = {
        {ECL_HTTP_GET, "/v1/datasets", agent, 0, h_list, app},
        {ECL_HTTP_GET, "/v1/datasets/{ds}", agent, 0, h_describe, app},
        {ECL_HTTP_GET, "/v1/datasets/{ds}/records/{id}", agent, 0, h_get, app},
        {ECL_HTTP_POST, "/v1/datasets/{ds}/query", agent, ECL_QUERY_BODY_MAX_BYTES, h_query, app},
        {ECL_HTTP_GET, "/v1/explain", agent, 0, h_explain, app},
    };
    size_t n = sizeof routes / sizeof routes[0];

    if (n > cap) {
        n = cap;
    }
    memcpy(out, routes, n * sizeof routes[0]);
    return n;
}
