/* Shared by the DPO handler files (dpo.c, dpo_simulate.c, dpo_reid.c) only. */
#ifndef ECL_DPO_INTERNAL_H
#define ECL_DPO_INTERNAL_H

#include <pthread.h>

#include "app.h"
#include "ecl/diag.h"
#include "store/approvals.h"
#include "store/policy_db.h"

struct ecl_api_dpo_state {
    /* serialises policy changes: the If-Match check, the store write and the publication */
    pthread_mutex_t mu;
};

/* Audit-then-respond like ecl_api_commit_json (same body and digest rule), with an optional
 * ETag response header (etag: the bare hex hash, NULL for none). */
enum ecl_http_result ecl_dpo_commit_json(struct ecl_app *app, struct ecl_http_req *req,
                                         struct ecl_http_resp *resp, struct ecl_audit_event *ev,
                                         unsigned status, json_t *data, json_t *meta,
                                         const char *etag);
/* Audit-then-respond with a problem of the HTTP layer's table (type, title, status: 412, 428,
 * 422 with validation errors...), a fixed detail sentence, and ext (taken, may be NULL; its
 * "code" member is the machine reason code) merged in as extension members; audit_seq is
 * added. */
enum ecl_http_result ecl_dpo_commit_problem(struct ecl_app *app, struct ecl_http_req *req,
                                            struct ecl_http_resp *resp, struct ecl_audit_event *ev,
                                            enum ecl_http_problem prob, const char *detail,
                                            json_t *ext);

/* {"errors": [{"pointer", "reason"}...], "errors_dropped": n}: a new object. */
json_t *ecl_dpo_diags_json(const struct ecl_diags *d);
/* Parses and validates a policy document against the store's datasets.  On ECL_ERR_INVALID the
 * reasons are in diags. */
enum ecl_status ecl_dpo_policy_compile(struct ecl_app *app, const char *json, size_t len,
                                       struct ecl_diags *diags, struct ecl_policy **out) ECL_WUR;
/* Answers 422 invalid-policy with the diagnostics, audited as ev (decision deny). */
enum ecl_http_result ecl_dpo_invalid_policy(struct ecl_app *app, struct ecl_http_req *req,
                                            struct ecl_http_resp *resp, struct ecl_audit_event *ev,
                                            const struct ecl_diags *diags);
/* An approval as the API shows it (never a revealed value).  A new object. */
json_t *ecl_dpo_approval_json(const struct ecl_approval *a, int64_t now);
/* The authenticated principal's id (hex) and name. */
void ecl_dpo_who(const struct ecl_http_req *req, char id[2 * ECL_PRINCIPAL_ID_LEN + 1],
                 const char **name);

/* Executes an approved policy change (payload of an ECL_APPROVAL_POLICY approval) with the lock
 * held: stores / activates, publishes.  *meta is the active version afterwards. */
enum ecl_status ecl_dpo_policy_apply(struct ecl_app *app, const char *payload, size_t len,
                                     const char *author, struct ecl_diags *diags,
                                     struct ecl_policy_meta *meta) ECL_WUR;

/* Route handlers (arg = app). */
enum ecl_http_result ecl_dpo_simulate(struct ecl_http_req *req, struct ecl_http_resp *resp,
                                      void *arg);
enum ecl_http_result ecl_dpo_reidentify(struct ecl_http_req *req, struct ecl_http_resp *resp,
                                        void *arg);
enum ecl_http_result ecl_dpo_approvals_list(struct ecl_http_req *req, struct ecl_http_resp *resp,
                                            void *arg);
enum ecl_http_result ecl_dpo_approval_get(struct ecl_http_req *req, struct ecl_http_resp *resp,
                                          void *arg);
enum ecl_http_result ecl_dpo_approval_decide(struct ecl_http_req *req, struct ecl_http_resp *resp,
                                             void *arg);

#endif
