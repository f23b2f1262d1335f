/* Audit-then-respond for the DPO answers that commit.c cannot express: a JSON answer with an
 * ETag header, and problems outside the HTTP layer's table (412, 428, 422 with validation
 * errors).  Same guarantee: the connection stays suspended until the entry is durable, and a
 * failed commit answers 503 without the data. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpo_internal.h"

static const char PROBLEM_BASE[] = "https://ecluse.example/problems/";

struct dpo_pending {
    struct ecl_http_req *req;
    unsigned status;
    const char *content_type; /* static */
    char *head;               /* the body up to where ",\"audit_seq\":N" goes */
    const char *tail;         /* static: what closes the body after audit_seq */
    char etag[2 * ECL_HASH_LEN + 3];
    int first_member; /* audit_seq is the only member of its object: no comma before it */
};

static void
pending_free(struct dpo_pending *p)
{
    if (p->head != NULL) {
        ecl_wipe(p->head, strlen(p->head));
        free(p->head);
    }
    free(p);
}

static void
committed(void *arg, enum ecl_status st, uint64_t seq)
{
    struct dpo_pending *p = arg;
    struct ecl_http_resp resp;
    struct ecl_buf body;
    char num[40];

    ecl_http_resp_init(&resp);
    ecl_buf_init(&body, ECL_HTTP_MAX_RESPONSE_BYTES);
    snprintf(num, sizeof num, "%s\"audit_seq\":%" PRIu64, p->first_member ? "" : ",", seq);
    if (st != ECL_OK) {
        ecl_http_resp_problem(&resp, ECL_PROB_SEALED);
    } else if (ecl_buf_append_str(&body, p->head) != ECL_OK ||
               ecl_buf_append_str(&body, num) != ECL_OK ||
               ecl_buf_append_str(&body, p->tail) != ECL_OK ||
               ecl_http_resp_set(&resp, p->status, p->content_type, body.ptr, body.len) != ECL_OK ||
               (p->etag[0] != 0 && ecl_http_resp_header(&resp, "ETag", p->etag) != ECL_OK)) {
        ecl_http_resp_problem(&resp, ECL_PROB_INTERNAL);
    }
    ecl_buf_free(&body);
    ecl_http_req_complete(p->req, &resp);
    ecl_http_resp_free(&resp);
    pending_free(p);
}

static enum ecl_http_result
submit(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
       struct ecl_audit_event *ev, struct dpo_pending *p)
{
    enum ecl_status st = ecl_audit_submit(app->audit, ev, committed, p);

    if (st == ECL_OK) {
        return ECL_HTTP_PENDING;
    }
    pending_free(p);
    if (st == ECL_ERR_LIMIT) {
        return ecl_api_problem(req, resp, ECL_PROB_UNAVAILABLE, "audit_queue_full");
    }
    return ecl_api_problem(req, resp, ECL_PROB_SEALED, "audit_unavailable");
}

static struct dpo_pending *
pending_new(struct ecl_http_req *req, unsigned status, const char *content_type)
{
    struct dpo_pending *p = calloc(1, sizeof *p);

    if (p != NULL) {
        p->req = req;
        p->status = status;
        p->content_type = content_type;
    }
    return p;
}

enum ecl_http_result
ecl_dpo_commit_json(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
                    struct ecl_audit_event *ev, unsigned status, json_t *data, json_t *meta,
                    const char *etag)
{
    uint8_t digest[ECL_HASH_LEN];
    struct dpo_pending *p = pending_new(req, status, "application/json");
    char *d = NULL;
    char *m = NULL;
    struct ecl_buf head;
    const char *cs = NULL;
    enum ecl_status st = ECL_ERR_NOMEM;

    ecl_buf_init(&head, ECL_HTTP_MAX_RESPONSE_BYTES);
    if (p != NULL && data != NULL && json_is_object(meta)) {
        d = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        m = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    }
    /* {"data":D,"meta":M-without-its-brace  ,"audit_seq":N  }} */
    if (d != NULL && m != NULL && strlen(m) >= 2) {
        st = ecl_buf_append_str(&head, "{\"data\":");
        st = st == ECL_OK ? ecl_buf_append_str(&head, d) : st;
        st = st == ECL_OK ? ecl_buf_append_str(&head, ",\"meta\":") : st;
        st = st == ECL_OK ? ecl_buf_append(&head, m, strlen(m) - 1) : st;
        st = st == ECL_OK ? ecl_buf_cstr(&head, &cs) : st;
    }
    if (st == ECL_OK) {
        p->head = strdup(cs);
        p->tail = "}}";
        p->first_member = strlen(m) == 2;
        if (etag != NULL) {
            snprintf(p->etag, sizeof p->etag, "\"%s\"", etag);
        }
        ecl_api_body_digest(d, strlen(d), m, strlen(m), digest);
        ev->response_digest = digest;
    }
    if (d != NULL) {
        ecl_wipe(d, strlen(d));
    }
    free(d);
    free(m);
    ecl_buf_free(&head);
    json_decref(data);
    json_decref(meta);
    if (p == NULL || p->head == NULL) {
        if (p != NULL) {
            pending_free(p);
        }
        return ecl_api_problem(req, resp, ECL_PROB_INTERNAL, NULL);
    }
    return submit(app, req, resp, ev, p);
}

enum ecl_http_result
ecl_dpo_commit_problem(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
                       struct ecl_audit_event *ev, unsigned status, const char *slug,
                       const char *title, const char *detail, json_t *ext)
{
    struct dpo_pending *p = pending_new(req, status, "application/problem+json");
    char type[128];
    json_t *o = NULL;
    char *s = NULL;

    snprintf(type, sizeof type, "%s%s", PROBLEM_BASE, slug);
    o = json_pack("{s:s,s:s,s:I,s:s,s:s}", "type", type, "title", title, "status",
                  (json_int_t)status, "detail", detail, "instance", ecl_http_req_id(req));
    if (o != NULL && ext != NULL && json_object_update(o, ext) != 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(ext);
    if (o != NULL) {
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
    }
    if (p == NULL || s == NULL || strlen(s) < 2) {
        free(s);
        if (p != NULL) {
            pending_free(p);
        }
        return ecl_api_problem(req, resp, ECL_PROB_INTERNAL, NULL);
    }
    s[strlen(s) - 1] = 0; /* drop the closing brace: audit_seq goes there */
    p->head = s;
    p->tail = "}";
    return submit(app, req, resp, ev, p);
}
