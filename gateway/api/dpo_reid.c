/* Re-identification (a DPO reverses a token, with a justification, audited) and four-eyes
 * approvals.  The domain of a token is derived from what the DPO names: the agent and purpose
 * it was released to and the dataset and field it came from; the active policy's action for
 * that field gives the linkability domain.  A token of another domain, or an altered token,
 * does not open (AEAD): the answer is the same 404 for every failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpo_internal.h"
#include "ecl/transform.h"

/* What a re-identification names; the strings borrow from the request's JSON. */
struct reid {
    const char *token;
    const char *agent;
    const char *purpose;
    const char *dataset;
    const char *field;
    const char *justification;
};

static const char *
str_member(const json_t *o, const char *key, size_t max)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max) {
        return NULL;
    }
    return json_string_value(v);
}

/* 1 when o is a well-formed re-identification request. */
static int
reid_parse(const json_t *o, struct reid *out)
{
    const char *j;
    size_t n;

    if (!json_is_object(o) || json_object_size(o) != 6) {
        return 0;
    }
    out->token = str_member(o, "token", ECL_TOKEN_MAX_LEN);
    out->agent = str_member(o, "agent", ECL_NAME_MAX_LEN);
    out->purpose = str_member(o, "purpose", ECL_NAME_MAX_LEN);
    out->dataset = str_member(o, "dataset", ECL_NAME_MAX_LEN);
    out->field = str_member(o, "field", ECL_NAME_MAX_LEN);
    j = str_member(o, "justification", ECL_REID_JUSTIFICATION_MAX_LEN);
    out->justification = j;
    if (out->token == NULL || out->agent == NULL || out->purpose == NULL || out->dataset == NULL ||
        out->field == NULL || j == NULL) {
        return 0;
    }
    n = strlen(j);
    if (n < ECL_REID_JUSTIFICATION_MIN_LEN) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)j[i] < 0x20 || j[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* The domain the active policy tokenizes r->field of r->dataset in, for r->agent and
 * r->purpose.  ECL_ERR_NOT_FOUND when the policy does not tokenize that field there. */
static enum ecl_status
reid_domain(struct ecl_app *app, const struct reid *r, struct ecl_domain *out)
{
    const struct ecl_policy_view *v = ecl_policy_holder_acquire(app->policy);
    struct ecl_policy_facts facts;
    struct ecl_decision d;
    enum ecl_status st = ECL_ERR_NOT_FOUND;

    if (v == NULL) {
        return ECL_ERR_NOT_FOUND;
    }
    memset(&facts, 0, sizeof facts);
    facts.agent = r->agent;
    facts.purpose = r->purpose;
    facts.dataset = r->dataset;
    facts.flags = ECL_FACT_ON_BEHALF_OF | ECL_FACT_CASE_ID;
    facts.now = app->now();
    ecl_policy_eval(v->policy, &facts, &d);
    for (size_t i = 0; d.effect == ECL_POLICY_ALLOW && i < d.nfields; i++) {
        const struct ecl_action *a = &d.fields[i].action;

        if (strcmp(d.fields[i].name, r->field) == 0 && a->kind == ECL_ACT_TOKENIZE) {
            st = ecl_domain_init(a->domain, r->agent, r->purpose, a->shared_domain, out);
        }
    }
    ecl_policy_holder_release(app->policy, v);
    return st == ECL_ERR_INVALID ? ECL_ERR_NOT_FOUND : st;
}

/* Opens the token of r: *out is the normalised identifier.  ECL_ERR_NOT_FOUND for anything
 * that is not a token of the named domain. */
static enum ecl_status
reid_open(struct ecl_app *app, const struct reid *r, json_t **out)
{
    struct ecl_domain dom;
    enum ecl_status st = reid_domain(app, r, &dom);

    if (st == ECL_OK) {
        st = ecl_token_open(app->kr, &dom, r->token, strlen(r->token), out);
    }
    return st == ECL_OK ? ECL_OK : ECL_ERR_NOT_FOUND;
}

/* 1 when field is the subject identifier of dataset (the value then names the subject in the
 * audit entry, so that the subject's access report shows the re-identification). */
static int
is_subject_field(struct ecl_app *app, const char *dataset, const char *field)
{
    struct ecl_schema **schemas = NULL;
    size_t n = 0;
    int yes = 0;

    if (ecl_policy_db_schemas(app->store, &schemas, &n) != ECL_OK) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(schemas[i]->name, dataset) == 0) {
            yes = strcmp(schemas[i]->fields[schemas[i]->subject_field].name, field) == 0;
        }
    }
    ecl_policy_db_schemas_free(schemas, n);
    return yes;
}

static void
reid_event(struct ecl_http_req *req, const struct reid *r, struct ecl_audit_event *ev,
           char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1], struct ecl_audit_field *f)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = ECL_AUDIT_REIDENTIFY;
    ecl_api_event_from_req(req, ev, idbuf);
    ev->purpose = r->purpose;
    ev->dataset = r->dataset;
    f->name = r->field;
    f->action = ECL_ACT_TOKENIZE;
    ev->fields = f;
    ev->nfields = 1;
}

/* Answers the revealed value (audited: reidentify, allow, the justification as detail). */
static enum ecl_http_result
reveal(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
       struct ecl_audit_event *ev, const struct reid *r, json_t *value, const char *detail)
{
    const char *subject = json_is_string(value) ? json_string_value(value) : NULL;

    if (subject != NULL && is_subject_field(app, r->dataset, r->field)) {
        ev->subjects = &subject;
        ev->nsubjects = 1;
    }
    ev->decision = ECL_AUDIT_ALLOW;
    ev->detail = detail;
    return ecl_api_commit_json(
        app, req, resp, ev, 200,
        json_pack("{s:O,s:s,s:s}", "value", value, "dataset", r->dataset, "field", r->field),
        json_pack("{s:s}", "agent", r->agent));
}

static enum ecl_http_result
refuse(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
       struct ecl_audit_event *ev, const char *detail)
{
    ev->decision = ECL_AUDIT_DENY;
    ev->reason = "not_reidentifiable";
    ev->detail = detail;
    return ecl_api_commit_problem(app, req, resp, ev, ECL_PROB_NOT_FOUND, "not_reidentifiable", 0);
}

enum ecl_http_result
ecl_dpo_reidentify(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct ecl_audit_event ev;
    struct ecl_audit_field f;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    char detail[ECL_REID_JUSTIFICATION_MAX_LEN + 96];
    const char *why = NULL;
    json_t *body = ecl_api_parse_body(req, &why);
    json_t *value = NULL;
    struct reid r;
    struct ecl_approval a;
    struct ecl_approval made;
    const char *name = NULL;
    char *payload = NULL;
    enum ecl_status st;
    enum ecl_http_result res;

    if (body == NULL || !reid_parse(body, &r)) {
        json_decref(body);
        return ecl_api_problem(req, resp, ECL_PROB_INVALID_JSON, "reidentify_request");
    }
    reid_event(req, &r, &ev, idbuf, &f);
    st = reid_open(app, &r, &value);
    if (st != ECL_OK) {
        snprintf(detail, sizeof detail, "re-identification refused: %s", r.justification);
        res = refuse(app, req, resp, &ev, detail);
        json_decref(body);
        return res;
    }
    {
        const struct ecl_policy_view *v = ecl_policy_holder_acquire(app->policy);
        unsigned fe = v != NULL ? ecl_policy_four_eyes(v->policy) : 0;

        if (v != NULL) {
            ecl_policy_holder_release(app->policy, v);
        }
        if ((fe & ECL_FOUR_EYES_REIDENTIFY) == 0) {
            snprintf(detail, sizeof detail, "re-identified: %s", r.justification);
            res = reveal(app, req, resp, &ev, &r, value, detail);
            json_decref(value);
            json_decref(body);
            return res;
        }
    }
    /* four eyes: the value is not kept; it is opened again once approved */
    json_decref(value);
    memset(&a, 0, sizeof a);
    a.kind = ECL_APPROVAL_REIDENTIFY;
    ecl_dpo_who(req, a.requester, &name);
    snprintf(a.requester_name, sizeof a.requester_name, "%s", name);
    payload = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    st = payload != NULL
             ? ecl_approval_create(app->store, &a, payload, strlen(payload), app->now(), &made)
             : ECL_ERR_NOMEM;
    free(payload);
    if (st != ECL_OK) {
        json_decref(body);
        ev.decision = ECL_AUDIT_DENY;
        ev.reason = ecl_status_name(st);
        return ecl_api_commit_problem(app, req, resp, &ev, ecl_http_problem_of_status(st),
                                      ecl_status_name(st), 0);
    }
    snprintf(detail, sizeof detail, "re-identification requested, awaiting approval %s: %s",
             made.id, r.justification);
    ev.detail = detail;
    ev.decision = ECL_AUDIT_NO_DECISION;
    res = ecl_api_commit_json(
        app, req, resp, &ev, 202,
        json_pack("{s:o}", "approval", ecl_dpo_approval_json(&made, app->now())), json_object());
    json_decref(body);
    return res;
}

/* ---- approvals ----------------------------------------------------------------------------- */

/* What the approval asks for, shown to every DPO (never the revealed value). */
static json_t *
approval_full_json(const struct ecl_approval *a, const struct ecl_buf *payload, int64_t now)
{
    json_t *o = ecl_dpo_approval_json(a, now);
    const char *why = NULL;
    json_t *p =
        ecl_json_load((const char *)payload->ptr, payload->len, ECL_JSON_MAX_DEPTH, &why, NULL);
    json_t *req = NULL;

    if (o == NULL || p == NULL) {
        json_decref(o);
        json_decref(p);
        return NULL;
    }
    if (a->kind == ECL_APPROVAL_REIDENTIFY) {
        req = json_deep_copy(p);
        json_object_del(req, "token"); /* the token itself stays with the requester */
    } else if (json_is_string(json_object_get(p, "document"))) {
        const json_t *d = json_object_get(p, "document");

        req = json_pack("{s:o}", "document",
                        ecl_json_load(json_string_value(d), json_string_length(d),
                                      ECL_JSON_MAX_DEPTH, &why, NULL));
    } else {
        req = json_pack("{s:O}", "activate", json_object_get(p, "version"));
    }
    json_object_set_new(o, "request", req != NULL ? req : json_null());
    json_object_set_new(o, "base_etag", json_string(a->base_hash));
    json_decref(p);
    return o;
}

struct list_ctx {
    json_t *items;
    int64_t now;
};

static enum ecl_status
list_one(void *arg, const struct ecl_approval *a)
{
    struct list_ctx *c = arg;

    return json_array_append_new(c->items, ecl_dpo_approval_json(a, c->now)) == 0 ? ECL_OK
                                                                                  : ECL_ERR_NOMEM;
}

static int
by_created_desc(const void *x, const void *y)
{
    const char *cx = json_string_value(json_object_get(*(json_t *const *)x, "created"));
    const char *cy = json_string_value(json_object_get(*(json_t *const *)y, "created"));

    return strcmp(cy != NULL ? cy : "", cx != NULL ? cx : "");
}

enum ecl_http_result
ecl_dpo_approvals_list(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct ecl_audit_event ev;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    struct list_ctx c = {json_array(), app->now()};
    json_t **v = NULL;
    json_t *sorted = json_array();
    size_t n;
    enum ecl_status st;

    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_POLICY_READ;
    ecl_api_event_from_req(req, &ev, idbuf);
    ev.detail = "approvals list";
    st = c.items != NULL && sorted != NULL ? ecl_approval_list(app->store, list_one, &c)
                                           : ECL_ERR_NOMEM;
    n = c.items != NULL ? json_array_size(c.items) : 0;
    v = st == ECL_OK && n > 0 ? calloc(n, sizeof *v) : NULL;
    if (st == ECL_OK && n > 0 && v == NULL) {
        st = ECL_ERR_NOMEM;
    }
    if (st == ECL_OK && n > 0) {
        for (size_t i = 0; i < n; i++) {
            v[i] = json_array_get(c.items, i);
        }
        qsort(v, n, sizeof *v, by_created_desc);
        for (size_t i = 0; i < n; i++) {
            json_array_append(sorted, v[i]);
        }
    }
    free(v);
    json_decref(c.items);
    if (st != ECL_OK) {
        json_decref(sorted);
        ev.decision = ECL_AUDIT_DENY;
        return ecl_api_commit_problem(app, req, resp, &ev, ecl_http_problem_of_status(st),
                                      ecl_status_name(st), 0);
    }
    ev.decision = ECL_AUDIT_ALLOW;
    return ecl_api_commit_json(app, req, resp, &ev, 200, json_pack("{s:o}", "approvals", sorted),
                               json_object());
}

/* The requester of an approved re-identification fetches the identifier: once. */
static enum ecl_http_result
fetch_value(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
            const struct ecl_approval *a, const struct ecl_buf *payload)
{
    struct ecl_audit_event ev;
    struct ecl_audit_field f;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    char detail[ECL_REID_JUSTIFICATION_MAX_LEN + 160];
    const char *why = NULL;
    json_t *body =
        ecl_json_load((const char *)payload->ptr, payload->len, ECL_JSON_MAX_DEPTH, &why, NULL);
    json_t *value = NULL;
    struct reid r;
    enum ecl_status st;
    enum ecl_http_result res;

    if (body == NULL || !reid_parse(body, &r)) {
        json_decref(body);
        return ecl_api_problem(req, resp, ECL_PROB_INTERNAL, NULL);
    }
    reid_event(req, &r, &ev, idbuf, &f);
    st = reid_open(app, &r, &value);
    /* claim the approval: of two concurrent fetches only one succeeds */
    if (ecl_approval_transition(app->store, a->id, ECL_APPROVAL_APPROVED,
                                st == ECL_OK ? ECL_APPROVAL_DONE : ECL_APPROVAL_FAILED, NULL, NULL,
                                app->now(), NULL) != ECL_OK) {
        json_decref(value);
        snprintf(detail, sizeof detail, "approval %s already used: %s", a->id, r.justification);
        res = refuse(app, req, resp, &ev, detail);
        json_decref(body);
        return res;
    }
    if (st != ECL_OK) {
        snprintf(detail, sizeof detail, "approval %s: the token no longer opens: %s", a->id,
                 r.justification);
        res = refuse(app, req, resp, &ev, detail);
        json_decref(body);
        return res;
    }
    snprintf(detail, sizeof detail, "re-identified with approval %s by %s: %s", a->id,
             a->approver_name, r.justification);
    res = reveal(app, req, resp, &ev, &r, value, detail);
    json_decref(value);
    json_decref(body);
    return res;
}

enum ecl_http_result
ecl_dpo_approval_get(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct ecl_audit_event ev;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    char me[2 * ECL_PRINCIPAL_ID_LEN + 1];
    const char *name = NULL;
    struct ecl_approval a;
    struct ecl_buf payload;
    json_t *o = NULL;
    int64_t now = app->now();
    enum ecl_status st;
    enum ecl_http_result res;

    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_POLICY_READ;
    ecl_api_event_from_req(req, &ev, idbuf);
    ev.detail = "approval get";
    ecl_buf_init(&payload, ECL_POLICY_MAX_BYTES + ECL_DPO_JSON_MAX_BYTES);
    st = ecl_approval_get(app->store, ecl_http_req_param(req, "id"), &a, &payload);
    if (st != ECL_OK) {
        ecl_buf_free(&payload);
        ev.decision = ECL_AUDIT_DENY;
        ev.reason = "not_found";
        return ecl_api_commit_problem(app, req, resp, &ev, ecl_http_problem_of_status(st),
                                      "no_such_approval", 0);
    }
    ecl_dpo_who(req, me, &name);
    if (a.kind == ECL_APPROVAL_REIDENTIFY && strcmp(a.requester, me) == 0 &&
        ecl_approval_state_at(&a, now) == ECL_APPROVAL_APPROVED) {
        res = fetch_value(app, req, resp, &a, &payload);
        ecl_buf_free(&payload);
        return res;
    }
    o = approval_full_json(&a, &payload, now);
    ecl_buf_free(&payload);
    if (o == NULL) {
        return ecl_api_problem(req, resp, ECL_PROB_INTERNAL, NULL);
    }
    ev.decision = ECL_AUDIT_ALLOW;
    return ecl_api_commit_json(app, req, resp, &ev, 200, o, json_object());
}

enum ecl_http_result
ecl_dpo_approval_decide(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct ecl_audit_event ev;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    char me[2 * ECL_PRINCIPAL_ID_LEN + 1];
    char detail[256];
    uint8_t hash[ECL_HASH_LEN];
    const char *name = NULL;
    const char *why = NULL;
    json_t *body = ecl_api_parse_body(req, &why);
    const json_t *d = json_object_get(body, "decision");
    const char *id = ecl_http_req_param(req, "id");
    struct ecl_approval a;
    struct ecl_policy_meta cur;
    struct ecl_policy_meta meta;
    struct ecl_diags diags;
    struct ecl_buf payload;
    int approve;
    int64_t now = app->now();
    enum ecl_status st;

    if (body == NULL || json_object_size(body) != 1 || !json_is_string(d) ||
        (strcmp(json_string_value(d), "approve") != 0 &&
         strcmp(json_string_value(d), "reject") != 0)) {
        json_decref(body);
        return ecl_api_problem(req, resp, ECL_PROB_INVALID_JSON, "decision_required");
    }
    approve = strcmp(json_string_value(d), "approve") == 0;
    json_decref(body);
    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_POLICY_CHANGE;
    ecl_api_event_from_req(req, &ev, idbuf);
    ecl_buf_init(&payload, ECL_POLICY_MAX_BYTES + ECL_DPO_JSON_MAX_BYTES);
    st = ecl_approval_get(app->store, id, &a, &payload);
    if (st != ECL_OK) {
        ecl_buf_free(&payload);
        ev.decision = ECL_AUDIT_DENY;
        ev.reason = "not_found";
        ev.detail = "approval decision";
        return ecl_api_commit_problem(app, req, resp, &ev, ecl_http_problem_of_status(st),
                                      "no_such_approval", 0);
    }
    ev.kind = a.kind == ECL_APPROVAL_POLICY ? ECL_AUDIT_POLICY_CHANGE : ECL_AUDIT_REIDENTIFY;
    ecl_dpo_who(req, me, &name);
    ev.detail = detail;
    if (strcmp(a.requester, me) == 0) {
        ecl_buf_free(&payload);
        snprintf(detail, sizeof detail, "approval %s: the requester cannot decide it", a.id);
        ev.decision = ECL_AUDIT_DENY;
        ev.reason = "own_request";
        ecl_http_req_refused(req, 403, "own_request");
        return ecl_api_commit_problem(app, req, resp, &ev, ECL_PROB_FORBIDDEN, "own_request", 0);
    }
    if (!approve || a.kind == ECL_APPROVAL_REIDENTIFY) {
        st = ecl_approval_transition(app->store, a.id, ECL_APPROVAL_PENDING,
                                     approve ? ECL_APPROVAL_APPROVED : ECL_APPROVAL_REJECTED, me,
                                     name, now, &a);
        snprintf(detail, sizeof detail, "approval %s (%s requested by %s) %s by %s", id,
                 ecl_approval_kind_name(a.kind), a.requester_name,
                 approve ? "approved" : "rejected", name);
    } else {
        /* a policy change is executed at once, under the change lock, if the policy it was
         * based on is still the active one */
        pthread_mutex_lock(&app->dpo->mu);
        memset(&cur, 0, sizeof cur);
        st = ecl_policy_db_active(app->store, &cur.version);
        if (st == ECL_OK) {
            st = ecl_policy_db_get(app->store, cur.version, NULL, &cur);
        } else if (st == ECL_ERR_NOT_FOUND) {
            st = ECL_OK;
        }
        if (st == ECL_OK) {
            st = ecl_approval_transition(app->store, a.id, ECL_APPROVAL_PENDING,
                                         ECL_APPROVAL_APPROVED, me, name, now, &a);
        }
        if (st == ECL_OK && strcmp(cur.hash, a.base_hash) != 0) {
            st = ECL_ERR_CONFLICT; /* the policy changed since the request */
        }
        ecl_diags_init(&diags);
        if (st == ECL_OK) {
            st = ecl_dpo_policy_apply(app, (const char *)payload.ptr, payload.len, a.requester_name,
                                      &diags, &meta);
        }
        if (a.state == ECL_APPROVAL_APPROVED &&
            ecl_approval_transition(app->store, a.id, ECL_APPROVAL_APPROVED,
                                    st == ECL_OK ? ECL_APPROVAL_DONE : ECL_APPROVAL_FAILED, NULL,
                                    NULL, now, &a) != ECL_OK) {
            st = st == ECL_OK ? ECL_ERR_INTERNAL : st;
        }
        pthread_mutex_unlock(&app->dpo->mu);
        if (st == ECL_OK) {
            ev.policy_version = meta.version;
            if (ecl_unhex(meta.hash, strlen(meta.hash), hash, sizeof hash) == ECL_OK) {
                ev.policy_hash = hash;
            }
        }
        snprintf(detail, sizeof detail,
                 "approval %s (policy change requested by %s) approved by %s: %s", id,
                 a.requester_name, name, st == ECL_OK ? "activated" : "not applied");
    }
    ecl_buf_free(&payload);
    if (st == ECL_ERR_INVALID && a.kind == ECL_APPROVAL_POLICY) {
        return ecl_dpo_invalid_policy(app, req, resp, &ev, &diags);
    }
    if (st != ECL_OK) {
        ev.decision = ECL_AUDIT_DENY;
        ev.reason = st == ECL_ERR_CONFLICT ? "approval_not_pending" : ecl_status_name(st);
        return ecl_api_commit_problem(
            app, req, resp, &ev, ecl_http_problem_of_status(st),
            st == ECL_ERR_CONFLICT ? "approval_not_pending" : ecl_status_name(st), 0);
    }
    ev.decision = approve ? ECL_AUDIT_ALLOW : ECL_AUDIT_DENY;
    ev.reason = approve ? NULL : "rejected";
    return ecl_api_commit_json(app, req, resp, &ev, 200,
                               json_pack("{s:o}", "approval", ecl_dpo_approval_json(&a, now)),
                               json_object());
}
