/* DPO API: the policy in force, its versions, changes with optimistic concurrency (ETag /
 * If-Match), roll back and forward, and the routes of simulation, re-identification and
 * four-eyes approvals (dpo_simulate.c, dpo_reid.c).  Only the dpo role reaches these routes;
 * every answer waits for its audit entry.  docs/dpo-guide.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpo_internal.h"

#define DPO_ROLES ECL_HTTP_ROLE(ECL_ROLE_DPO)

/* ---- shared helpers ------------------------------------------------------------------------- */

void
ecl_dpo_who(const struct ecl_http_req *req, char id[2 * ECL_PRINCIPAL_ID_LEN + 1],
            const char **name)
{
    const struct ecl_principal *pr = ecl_http_req_principal(req);

    id[0] = 0;
    *name = "";
    if (pr != NULL) {
        ecl_hex(pr->id, sizeof pr->id, id);
        *name = pr->name;
    }
}

json_t *
ecl_dpo_diags_json(const struct ecl_diags *d)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < d->n; i++) {
        if (json_array_append_new(arr, json_pack("{s:s,s:s}", "pointer", d->items[i].path, "reason",
                                                 d->items[i].reason)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    if (arr == NULL) {
        return NULL;
    }
    return json_pack("{s:o,s:I}", "errors", arr, "errors_dropped", (json_int_t)d->dropped);
}

enum ecl_status
ecl_dpo_policy_compile(struct ecl_app *app, const char *json, size_t len, struct ecl_diags *diags,
                       struct ecl_policy **out)
{
    struct ecl_schema **schemas = NULL;
    size_t n = 0;
    enum ecl_status st;

    ECL_GUARD(ecl_policy_db_schemas(app->store, &schemas, &n));
    st = ecl_policy_parse(json, len, (const struct ecl_schema *const *)schemas, n, diags, out);
    ecl_policy_db_schemas_free(schemas, n);
    if (st == ECL_ERR_INVALID && ecl_diags_count(diags) == 0) {
        ecl_diags_add(diags, "", "the policy is not valid");
    }
    return st;
}

enum ecl_http_result
ecl_dpo_invalid_policy(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
                       struct ecl_audit_event *ev, const struct ecl_diags *diags)
{
    json_t *ext = ecl_dpo_diags_json(diags);

    ev->decision = ECL_AUDIT_DENY;
    ev->reason = "invalid_policy";
    if (ext != NULL) {
        json_object_set_new(ext, "code", json_string("invalid_policy"));
    }
    return ecl_dpo_commit_problem(app, req, resp, ev, ECL_PROB_INVALID_POLICY,
                                  "The policy does not validate; see errors.", ext);
}

static json_t *
time_json(int64_t t)
{
    char when[21];

    if (t <= 0 || !ecl_rfc3339_format(t, when)) {
        return json_null();
    }
    return json_string(when);
}

json_t *
ecl_dpo_approval_json(const struct ecl_approval *a, int64_t now)
{
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:o,s:o,s:o,s:o}", "id", a->id, "kind",
                     ecl_approval_kind_name(a->kind), "state",
                     ecl_approval_state_name(ecl_approval_state_at(a, now)), "requested_by", "id",
                     a->requester, "name", a->requester_name, "approved_by",
                     a->approver[0] != 0
                         ? json_pack("{s:s,s:s}", "id", a->approver, "name", a->approver_name)
                         : json_null(),
                     "created", time_json(a->created), "expires", time_json(a->expires), "decided",
                     time_json(a->decided));
}

/* The event of a DPO request: principal, role, channel, request id. */
static void
event_init(struct ecl_http_req *req, enum ecl_audit_kind kind, struct ecl_audit_event *ev,
           char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1])
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ecl_api_event_from_req(req, ev, idbuf);
}

static json_t *
meta_json(const struct ecl_policy_meta *m, uint64_t active)
{
    return json_pack("{s:I,s:s,s:o,s:s,s:b}", "version", (json_int_t)m->version, "hash", m->hash,
                     "created", time_json(m->created), "author", m->author, "active",
                     m->version == active);
}

/* The active version's metadata; ECL_ERR_NOT_FOUND when no policy was ever set. */
static enum ecl_status
active_meta(struct ecl_app *app, struct ecl_policy_meta *out)
{
    uint64_t active = 0;

    ECL_GUARD(ecl_policy_db_active(app->store, &active));
    if (active == 0) {
        return ECL_ERR_NOT_FOUND;
    }
    return ecl_policy_db_get(app->store, active, NULL, out);
}

static enum ecl_http_result
store_failure(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
              struct ecl_audit_event *ev, enum ecl_status st)
{
    ev->decision = ECL_AUDIT_DENY;
    ev->reason = ecl_status_name(st);
    return ecl_api_commit_problem(app, req, resp, ev, ecl_http_problem_of_status(st),
                                  ecl_status_name(st), 0);
}

/* ---- GET /v1/policy, GET /v1/policy/versions[/{n}] ----------------------------------------- */

/* Answers one version with its document; etag when it is the active one. */
static enum ecl_http_result
answer_version(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
               uint64_t version, const char *what)
{
    struct ecl_audit_event ev;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    uint8_t hash[ECL_HASH_LEN];
    struct ecl_policy_meta meta;
    struct ecl_buf doc;
    uint64_t active = 0;
    const char *why = NULL;
    json_t *d = NULL;
    json_t *data = NULL;
    enum ecl_status st;
    enum ecl_http_result r;

    event_init(req, ECL_AUDIT_POLICY_READ, &ev, idbuf);
    ev.detail = what;
    ecl_buf_init(&doc, ECL_POLICY_MAX_BYTES);
    st = ecl_policy_db_active(app->store, &active);
    if (st == ECL_OK && version == 0) {
        version = active;
    }
    if (st == ECL_OK && version == 0) {
        st = ECL_ERR_NOT_FOUND;
    }
    if (st == ECL_OK) {
        st = ecl_policy_db_get(app->store, version, &doc, &meta);
    }
    if (st == ECL_OK) {
        d = ecl_json_load((const char *)doc.ptr, doc.len, ECL_JSON_MAX_DEPTH, &why, NULL);
        st = d != NULL ? ECL_OK : ECL_ERR_INTERNAL;
    }
    ecl_buf_free(&doc);
    if (st != ECL_OK) {
        ev.decision = ECL_AUDIT_DENY;
        ev.reason = st == ECL_ERR_NOT_FOUND ? "not_found" : ecl_status_name(st);
        return ecl_api_commit_problem(
            app, req, resp, &ev, ecl_http_problem_of_status(st),
            st == ECL_ERR_NOT_FOUND ? "no_such_version" : ecl_status_name(st), 0);
    }
    data = meta_json(&meta, active);
    if (data != NULL) {
        json_object_set_new(data, "document", d);
    } else {
        json_decref(d);
    }
    ev.decision = ECL_AUDIT_ALLOW;
    ev.policy_version = meta.version;
    if (ecl_unhex(meta.hash, strlen(meta.hash), hash, sizeof hash) == ECL_OK) {
        ev.policy_hash = hash;
    }
    r = ecl_dpo_commit_json(app, req, resp, &ev, 200, data, json_object(),
                            meta.version == active ? meta.hash : NULL);
    return r;
}

static enum ecl_http_result
policy_get(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    return answer_version(arg, req, resp, 0, "policy get");
}

static int
parse_version(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s == NULL || *s < '1' || *s > '9') {
        return 0;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end != 0 || errno != 0 || v > ECL_POLICY_MAX_VERSIONS) {
        return 0;
    }
    *out = v;
    return 1;
}

static enum ecl_http_result
version_get(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    uint64_t v = 0;

    if (!parse_version(ecl_http_req_param(req, "n"), &v)) {
        return ecl_api_problem(req, resp, ECL_PROB_NOT_FOUND, "no_such_version");
    }
    return answer_version(arg, req, resp, v, "policy version get");
}

struct list_ctx {
    json_t *items;
    uint64_t active;
};

static enum ecl_status
list_one(const struct ecl_policy_meta *meta, void *arg)
{
    struct list_ctx *c = arg;

    return json_array_append_new(c->items, meta_json(meta, c->active)) == 0 ? ECL_OK
                                                                            : ECL_ERR_NOMEM;
}

static enum ecl_http_result
versions_list(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct ecl_audit_event ev;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    struct list_ctx c = {json_array(), 0};
    enum ecl_status st;

    event_init(req, ECL_AUDIT_POLICY_READ, &ev, idbuf);
    ev.detail = "policy versions list";
    st = ecl_policy_db_active(app->store, &c.active);
    if (st == ECL_ERR_NOT_FOUND) {
        st = ECL_OK;
    }
    st = st == ECL_OK && c.items != NULL ? ecl_policy_db_list(app->store, list_one, &c) : st;
    if (st != ECL_OK || c.items == NULL) {
        json_decref(c.items);
        return store_failure(app, req, resp, &ev, st != ECL_OK ? st : ECL_ERR_NOMEM);
    }
    ev.decision = ECL_AUDIT_ALLOW;
    ev.policy_version = c.active;
    return ecl_api_commit_json(
        app, req, resp, &ev, 200,
        json_pack("{s:o,s:I}", "versions", c.items, "active", (json_int_t)c.active), json_object());
}

/* ---- changes ------------------------------------------------------------------------------- */

/* The active policy's four-eyes flags (none without a policy). */
static unsigned
four_eyes(struct ecl_app *app)
{
    const struct ecl_policy_view *v = ecl_policy_holder_acquire(app->policy);
    unsigned f = 0;

    if (v != NULL) {
        f = ecl_policy_four_eyes(v->policy);
        ecl_policy_holder_release(app->policy, v);
    }
    return f;
}

/* Checks the request's If-Match against the active hash (cur, "" without a policy):
 * 0 when it matches, 428 when absent, 412 when stale.  With no policy yet, If-None-Match: *
 * stands for it (creating the first version). */
static unsigned
precondition(struct ecl_http_req *req, const char *cur, int required)
{
    const char *im = ecl_http_req_header(req, "If-Match");
    const char *inm = ecl_http_req_header(req, "If-None-Match");
    char want[2 * ECL_HASH_LEN + 3];

    if (im == NULL) {
        if (cur[0] == 0 && inm != NULL && strcmp(inm, "*") == 0) {
            return 0;
        }
        return required ? 428 : 0;
    }
    if (cur[0] == 0) {
        return 412;
    }
    snprintf(want, sizeof want, "\"%s\"", cur);
    return strcmp(im, want) == 0 || strcmp(im, "*") == 0 ? 0 : 412;
}

static enum ecl_http_result
precondition_problem(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
                     struct ecl_audit_event *ev, unsigned code, const char *cur)
{
    ev->decision = ECL_AUDIT_DENY;
    if (code == 428) {
        ev->reason = "precondition_required";
        return ecl_dpo_commit_problem(
            app, req, resp, ev, ECL_PROB_PRECONDITION_REQUIRED,
            "A policy change needs If-Match with the ETag of the active policy.",
            json_pack("{s:s}", "code", "if_match_required"));
    }
    ev->reason = "precondition_failed";
    return ecl_dpo_commit_problem(
        app, req, resp, ev, ECL_PROB_PRECONDITION_FAILED,
        "The active policy changed since the ETag given in If-Match; read it again.",
        json_pack("{s:s,s:s}", "code", "stale_etag", "current_etag", cur));
}

enum ecl_status
ecl_dpo_policy_apply(struct ecl_app *app, const char *payload, size_t len, const char *author,
                     struct ecl_diags *diags, struct ecl_policy_meta *meta)
{
    const char *why = NULL;
    json_t *o = ecl_json_load(payload, len, ECL_JSON_MAX_DEPTH, &why, NULL);
    const json_t *doc = json_object_get(o, "document");
    const json_t *ver = json_object_get(o, "version");
    struct ecl_policy *p = NULL;
    enum ecl_status st = ECL_ERR_INTERNAL;

    if (json_is_string(doc)) {
        st =
            ecl_dpo_policy_compile(app, json_string_value(doc), json_string_length(doc), diags, &p);
        if (st == ECL_OK) {
            st = ecl_policy_db_put(app->store, p, author, app->now(), meta);
            ecl_policy_free(p);
        }
    } else if (json_is_integer(ver) && json_integer_value(ver) > 0) {
        st = ecl_policy_db_activate(app->store, (uint64_t)json_integer_value(ver), diags);
        if (st == ECL_OK) {
            st = active_meta(app, meta);
        }
    }
    json_decref(o);
    if (st == ECL_OK) {
        st = ecl_app_reload_policy(app);
    }
    return st;
}

/* The common path of PUT and activate: precondition, four-eyes, apply.  payload is the
 * change as an approval stores it ({"document": canonical} or {"version": n}); p (optional)
 * the compiled policy of a PUT for the hash. */
static enum ecl_http_result
change(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
       struct ecl_audit_event *ev, const char *payload, int if_match_required)
{
    struct ecl_api_dpo_state *s = app->dpo;
    struct ecl_policy_meta cur;
    struct ecl_policy_meta meta;
    struct ecl_approval a;
    struct ecl_approval made;
    struct ecl_diags diags;
    const char *name = NULL;
    char detail[160];
    uint8_t hash[ECL_HASH_LEN];
    unsigned pre;
    enum ecl_status st;
    enum ecl_http_result r;

    pthread_mutex_lock(&s->mu);
    memset(&cur, 0, sizeof cur);
    st = active_meta(app, &cur);
    if (st == ECL_ERR_NOT_FOUND) {
        st = ECL_OK;
    }
    if (st != ECL_OK) {
        pthread_mutex_unlock(&s->mu);
        return store_failure(app, req, resp, ev, st);
    }
    pre = precondition(req, cur.hash, if_match_required);
    if (pre != 0) {
        pthread_mutex_unlock(&s->mu);
        return precondition_problem(app, req, resp, ev, pre, cur.hash);
    }
    if ((four_eyes(app) & ECL_FOUR_EYES_POLICY) != 0) {
        memset(&a, 0, sizeof a);
        a.kind = ECL_APPROVAL_POLICY;
        ecl_dpo_who(req, a.requester, &name);
        snprintf(a.requester_name, sizeof a.requester_name, "%s", name);
        memcpy(a.base_hash, cur.hash, sizeof a.base_hash);
        st = ecl_approval_create(app->store, &a, payload, strlen(payload), app->now(), &made);
        pthread_mutex_unlock(&s->mu);
        if (st != ECL_OK) {
            return store_failure(app, req, resp, ev, st);
        }
        snprintf(detail, sizeof detail, "policy change requested, awaiting approval %s", made.id);
        ev->detail = detail;
        ev->decision = ECL_AUDIT_NO_DECISION;
        return ecl_api_commit_json(
            app, req, resp, ev, 202,
            json_pack("{s:o}", "approval", ecl_dpo_approval_json(&made, app->now())),
            json_object());
    }
    ecl_diags_init(&diags);
    ecl_dpo_who(req, a.requester, &name);
    st = ecl_dpo_policy_apply(app, payload, strlen(payload), name, &diags, &meta);
    pthread_mutex_unlock(&s->mu);
    if (st == ECL_ERR_INVALID) {
        return ecl_dpo_invalid_policy(app, req, resp, ev, &diags);
    }
    if (st != ECL_OK) {
        return store_failure(app, req, resp, ev, st);
    }
    snprintf(detail, sizeof detail, "policy version %llu activated (was %llu)",
             (unsigned long long)meta.version, (unsigned long long)cur.version);
    ev->detail = detail;
    ev->decision = ECL_AUDIT_ALLOW;
    ev->policy_version = meta.version;
    if (ecl_unhex(meta.hash, strlen(meta.hash), hash, sizeof hash) == ECL_OK) {
        ev->policy_hash = hash;
    }
    r = ecl_dpo_commit_json(app, req, resp, ev, 200, meta_json(&meta, meta.version), json_object(),
                            meta.hash);
    return r;
}

static enum ecl_http_result
policy_put(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct ecl_audit_event ev;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    struct ecl_view body = ecl_http_req_body(req);
    struct ecl_diags diags;
    struct ecl_policy *p = NULL;
    size_t clen = 0;
    const char *canon;
    json_t *payload = NULL;
    char *ps = NULL;
    enum ecl_status st;
    enum ecl_http_result r;

    event_init(req, ECL_AUDIT_POLICY_CHANGE, &ev, idbuf);
    ev.detail = "policy change";
    if (ecl_http_req_header(req, "If-Match") == NULL &&
        ecl_http_req_header(req, "If-None-Match") == NULL) {
        return precondition_problem(app, req, resp, &ev, 428, "");
    }
    ecl_diags_init(&diags);
    st = ecl_dpo_policy_compile(app, (const char *)body.ptr, body.len, &diags, &p);
    if (st == ECL_ERR_INVALID) {
        return ecl_dpo_invalid_policy(app, req, resp, &ev, &diags);
    }
    if (st != ECL_OK) {
        return store_failure(app, req, resp, &ev, st);
    }
    canon = ecl_policy_canonical(p, &clen);
    payload = json_pack("{s:s%}", "document", canon, clen);
    ecl_policy_free(p);
    ps = payload != NULL ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (ps == NULL) {
        return ecl_api_problem(req, resp, ECL_PROB_INTERNAL, NULL);
    }
    r = change(app, req, resp, &ev, ps, 1);
    free(ps);
    return r;
}

static enum ecl_http_result
policy_activate(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct ecl_audit_event ev;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    const char *why = NULL;
    json_t *body = ecl_api_parse_body(req, &why);
    const json_t *v = json_object_get(body, "version");
    char payload[64];
    struct ecl_policy_meta meta;
    json_int_t n;

    event_init(req, ECL_AUDIT_POLICY_CHANGE, &ev, idbuf);
    ev.detail = "policy activation";
    if (body == NULL || json_object_size(body) != 1 || !json_is_integer(v)) {
        json_decref(body);
        return ecl_api_problem(req, resp, ECL_PROB_INVALID_JSON, "version_required");
    }
    n = json_integer_value(v);
    json_decref(body);
    if (n < 1 || n > ECL_POLICY_MAX_VERSIONS ||
        ecl_policy_db_get(app->store, (uint64_t)n, NULL, &meta) != ECL_OK) {
        ev.decision = ECL_AUDIT_DENY;
        ev.reason = "not_found";
        return ecl_api_commit_problem(app, req, resp, &ev, ECL_PROB_NOT_FOUND, "no_such_version",
                                      0);
    }
    snprintf(payload, sizeof payload, "{\"version\":%lld}", (long long)n);
    return change(app, req, resp, &ev, payload, 0);
}

/* ---- lifecycle and routes ------------------------------------------------------------------ */

enum ecl_status
ecl_api_dpo_init(struct ecl_app *app)
{
    struct ecl_api_dpo_state *s = calloc(1, sizeof *s);

    if (s == NULL) {
        return ECL_ERR_NOMEM;
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return ECL_ERR_NOMEM;
    }
    app->dpo = s;
    return ECL_OK;
}

void
ecl_api_dpo_free(struct ecl_app *app)
{
    if (app->dpo != NULL) {
        pthread_mutex_destroy(&app->dpo->mu);
        free(app->dpo);
        app->dpo = NULL;
    }
}

size_t
ecl_api_dpo_routes(struct ecl_app *app, struct ecl_http_route *out, size_t cap)
{
    const struct ecl_http_route routes[] = {
        {ECL_HTTP_GET, "/v1/policy", DPO_ROLES, 0, policy_get, app},
        {ECL_HTTP_PUT, "/v1/policy", DPO_ROLES, ECL_HTTP_MAX_POLICY_BODY_BYTES, policy_put, app},
        {ECL_HTTP_GET, "/v1/policy/versions", DPO_ROLES, 0, versions_list, app},
        {ECL_HTTP_GET, "/v1/policy/versions/{n}", DPO_ROLES, 0, version_get, app},
        {ECL_HTTP_POST, "/v1/policy/activate", DPO_ROLES, ECL_DPO_JSON_MAX_BYTES, policy_activate,
         app},
        {ECL_HTTP_POST, "/v1/policy/simulate", DPO_ROLES, ECL_SIMULATE_MAX_BODY_BYTES,
         ecl_dpo_simulate, app},
        {ECL_HTTP_POST, "/v1/reidentify", DPO_ROLES, ECL_DPO_JSON_MAX_BYTES, ecl_dpo_reidentify,
         app},
        {ECL_HTTP_GET, "/v1/approvals", DPO_ROLES, 0, ecl_dpo_approvals_list, app},
        {ECL_HTTP_GET, "/v1/approvals/{id}", DPO_ROLES, 0, ecl_dpo_approval_get, app},
        {ECL_HTTP_POST, "/v1/approvals/{id}", DPO_ROLES, ECL_DPO_JSON_MAX_BYTES,
         ecl_dpo_approval_decide, app},
    };
    size_t n = sizeof routes / sizeof routes[0];

    if (n > cap) {
        n = cap;
    }
    memcpy(out, routes, n * sizeof routes[0]);
    return n;
}
