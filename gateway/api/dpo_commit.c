/* Audit-then-respond for the DPO answers: thin wrappers over commit.c (ecl_api_commit_json_with,
 * ecl_api_commit_problem_body) for a JSON answer with an ETag header, and problems with their
 * own detail and extension members (412, 428, 422 with validation errors). */
#include <stdio.h>

#include "dpo_internal.h"

enum ecl_http_result
ecl_dpo_commit_json(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
                    struct ecl_audit_event *ev, unsigned status, json_t *data, json_t *meta,
                    const char *etag)
{
    char quoted[2 * ECL_HASH_LEN + 3];
    struct ecl_api_header h = {"ETag", quoted};

    if (etag == NULL) {
        return ecl_api_commit_json(app, req, resp, ev, status, data, meta);
    }
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    return ecl_api_commit_json_with(app, req, resp, ev, status, data, meta, &h, 1);
}

enum ecl_http_result
ecl_dpo_commit_problem(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
                       struct ecl_audit_event *ev, enum ecl_http_problem prob, const char *detail,
                       json_t *ext)
{
    unsigned status = ecl_http_problem_status(prob);
    json_t *o = NULL;

    o = json_pack("{s:s,s:s,s:I,s:s,s:s}", "type", ecl_http_problem_type(prob), "title",
                  ecl_http_problem_title(prob), "status", (json_int_t)status, "detail", detail,
                  "instance", ecl_http_req_id(req));
    if (o != NULL && ext != NULL && json_object_update(o, ext) != 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(ext);
    return ecl_api_commit_problem_body(app, req, resp, ev, status, o, 0);
}
