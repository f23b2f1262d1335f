/* The operations endpoints and the principal administration endpoints.  The data endpoints of
 * agents, auditors and DPOs are added by the integrator with their own route tables. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecl/crypto.h"
#include "ecl/schema.h"
#include "internal.h"
#include "log.h"

/* Serialises a JSON value into the response (takes the reference). */
static enum ecl_http_result
reply_json(struct ecl_http_resp *resp, unsigned status, json_t *v)
{
    char *s = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

    json_decref(v);
    if (s == NULL || ecl_http_resp_set(resp, status, "application/json", s, strlen(s)) != ECL_OK) {
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
    }
    free(s);
    return ECL_HTTP_DONE;
}

static enum ecl_http_result
reply_status(struct ecl_http_resp *resp, enum ecl_status st)
{
    ecl_http_resp_problem(resp, ecl_http_problem_of_status(st));
    return ECL_HTTP_DONE;
}

/* GET /livez: 200 while the process runs and its threads answer. */
static enum ecl_http_result
h_livez(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    return reply_json(resp, 200, json_pack("{s:s}", "status", "alive"));
}

/* GET /readyz: the integrator's health callback decides (audit log writable, store usable). */
static enum ecl_http_result
h_readyz(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    const struct ecl_http_config *cfg = &req_server(req)->cfg;
    const char *reason = NULL;

    (void)arg;
    if (cfg->health != NULL && !cfg->health(cfg->health_arg, &reason)) {
        ecl_http_resp_problem(resp, ECL_PROB_NOT_READY);
        resp->reason = reason != NULL ? reason : "not ready";
        return ECL_HTTP_DONE;
    }
    return reply_json(resp, 200, json_pack("{s:s}", "status", "ready"));
}

/* GET /metrics: Prometheus text exposition format 0.0.4. */
static enum ecl_http_result
h_metrics(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    enum ecl_status st;

    (void)arg;
    ecl_buf_free(&resp->body);
    ecl_buf_init(&resp->body, ECL_HTTP_METRICS_MAX_BYTES);
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    st = ecl_http_metrics_render(req_server(req), &resp->body);
    if (st != ECL_OK) {
        return reply_status(resp, st);
    }
    return ECL_HTTP_DONE;
}

/* ---- principals (admin) -------------------------------------------------------------------- */

static json_t *
principal_json(const struct ecl_principal *p)
{
    char hex[2 * ECL_PRINCIPAL_ID_LEN + 1];

    ecl_hex(p->id, sizeof p->id, hex);
    return json_pack("{s:s, s:s, s:s, s:I, s:o}", "id", hex, "name", p->name, "role",
                     ecl_role_name(p->role), "created", (json_int_t)p->created, "revoked",
                     p->revoked != 0 ? json_integer((json_int_t)p->revoked) : json_null());
}

static enum ecl_status
list_one(void *arg, const struct ecl_principal *p)
{
    json_t *arr = arg;

    if (json_array_size(arr) >= ECL_PRINCIPALS_MAX) {
        return ECL_ERR_LIMIT;
    }
    return json_array_append_new(arr, principal_json(p)) == 0 ? ECL_OK : ECL_ERR_NOMEM;
}

/* GET /v1/principals */
static enum ecl_http_result
h_principals_list(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    json_t *arr = json_array();
    enum ecl_status st;

    (void)arg;
    if (arr == NULL) {
        return reply_status(resp, ECL_ERR_NOMEM);
    }
    st = ecl_principal_list(req_server(req)->cfg.store, list_one, arr);
    if (st != ECL_OK) {
        json_decref(arr);
        return reply_status(resp, st);
    }
    return reply_json(resp, 200, json_pack("{s:o}", "principals", arr));
}

/* POST /v1/principals {"name": "...", "role": "agent|auditor|dpo|admin"}: the key is in the
 * response, once. */
static enum ecl_http_result
h_principals_add(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_view body = ecl_http_req_body(req);
    struct ecl_principal p;
    struct ecl_api_key key;
    const char *why = NULL;
    const char *name = NULL;
    const char *role_s = NULL;
    enum ecl_role role;
    enum ecl_status st;
    json_t *doc;
    json_t *out;
    json_error_t jerr;

    (void)arg;
    doc = ecl_json_load((const char *)body.ptr, body.len, ECL_HTTP_JSON_MAX_DEPTH, &why, NULL);
    if (doc == NULL) {
        ecl_http_resp_problem(resp, ECL_PROB_INVALID_JSON);
        return ECL_HTTP_DONE;
    }
    if (json_unpack_ex(doc, &jerr, JSON_STRICT, "{s:s, s:s}", "name", &name, "role", &role_s) !=
            0 ||
        !ecl_principal_name_ok(name) || ecl_role_parse(role_s, &role) != ECL_OK) {
        json_decref(doc);
        ecl_http_resp_problem(resp, ECL_PROB_INVALID_JSON);
        return ECL_HTTP_DONE;
    }
    st = ecl_principal_add(req_server(req)->cfg.store, req_server(req)->cfg.kr, name, role,
                           (uint64_t)time(NULL), &p, &key);
    json_decref(doc);
    if (st != ECL_OK) {
        return reply_status(resp, st);
    }
    out = principal_json(&p);
    if (out == NULL || json_object_set_new(out, "key", json_string(key.text)) != 0) {
        json_decref(out);
        ecl_wipe(&key, sizeof key);
        return reply_status(resp, ECL_ERR_NOMEM);
    }
    ecl_wipe(&key, sizeof key);
    /* the dumped copy of the key lives in resp->body, which is wiped when freed */
    reply_json(resp, 201, out);
    return ECL_HTTP_DONE;
}

/* DELETE /v1/principals/{id}: revoke.  An id that is not 16 hex characters is "not found". */
static enum ecl_http_result
h_principals_revoke(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    const char *hex = ecl_http_req_param(req, "id");
    uint8_t id[ECL_PRINCIPAL_ID_LEN];
    struct ecl_principal p;
    enum ecl_status st;

    (void)arg;
    if (hex == NULL || strlen(hex) != 2 * ECL_PRINCIPAL_ID_LEN ||
        ecl_unhex(hex, strlen(hex), id, sizeof id) != ECL_OK) {
        return reply_status(resp, ECL_ERR_NOT_FOUND);
    }
    st = ecl_principal_revoke(req_server(req)->cfg.store, id, (uint64_t)time(NULL), &p);
    if (st != ECL_OK) {
        return reply_status(resp, st);
    }
    return reply_json(resp, 200, principal_json(&p));
}

const struct ecl_http_route ecl_http_ops_routes[] = {
    {ECL_HTTP_GET, "/livez", ECL_HTTP_PUBLIC, 0, h_livez, NULL},
    {ECL_HTTP_GET, "/readyz", ECL_HTTP_PUBLIC, 0, h_readyz, NULL},
    {ECL_HTTP_GET, "/metrics", ECL_HTTP_PUBLIC, 0, h_metrics, NULL},
    {ECL_HTTP_GET, "/v1/principals", ECL_HTTP_ROLE(ECL_ROLE_ADMIN), 0, h_principals_list, NULL},
    {ECL_HTTP_POST, "/v1/principals", ECL_HTTP_ROLE(ECL_ROLE_ADMIN), ECL_HTTP_JSON_MAX_BYTES,
     h_principals_add, NULL},
    {ECL_HTTP_DELETE, "/v1/principals/{id}", ECL_HTTP_ROLE(ECL_ROLE_ADMIN), 0, h_principals_revoke,
     NULL},
};
const size_t ecl_http_ops_nroutes = sizeof ecl_http_ops_routes / sizeof ecl_http_ops_routes[0];
