/* Audit-then-respond for the DPO answers: thin wrappers over commit.c (ecl_api_commit_json_with,
 * ecl_api_commit_problem_body) for a JSON answer with an ETag header, and problems outside the
 * HTTP layer's table (412, 428, 422 with validation errors). */
#include <stdio.h>

#include "dpo_internal.h"

static const char PROBLEM_BASE[] = "https://ecluse.example/problems/";

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
                       struct ecl_audit_event *ev, unsigned status, const char *slug,
                       const char *title, const char *detail, json_t *ext)
{
    char type[128];
    json_t *o = NULL;

    snprintf(type, sizeof type, "%s%s", PROBLEM_BASE, slug);
    o = json_pack("{s:s,s:s,s:I,s:s,s:s}", "type", type, "title", title, "status",
                  (json_int_t)status, "detail", detail, "instance", ecl_http_req_id(req));
    if (o != NULL && ext != NULL && json_object_update(o, ext) != 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(ext);
    return ecl_api_commit_problem_body(app, req, resp, ev, status, o, 0);
}
