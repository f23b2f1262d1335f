/* POST /v1/policy/simulate: a proposed policy replayed against the decisions recorded in the
 * audit log over a time window, or evaluated against given requests next to the active policy.
 * Pure evaluation: nothing is stored or activated.  The answer says which agents gain or lose
 * which fields and which requests flip between allow and deny.  Only the recorded outcomes that
 * are the policy's request-level decision are compared: an allow, or a deny whose reason is a
 * request-level reason of the policy engine; a refusal for another reason (not found, field not
 * granted, limits, row checks, internal) is counted as not_compared. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpo_internal.h"

/* {field: action name} of a decision (empty when denied). */
static json_t *
decision_fields(const struct ecl_decision *d)
{
    json_t *o = json_object();

    for (size_t i = 0; o != NULL && d->effect == ECL_POLICY_ALLOW && i < d->nfields; i++) {
        json_object_set_new(o, d->fields[i].name,
                            json_string(ecl_action_kind_name(d->fields[i].action.kind)));
    }
    return o;
}

/* Adds to gained / lost / changed ({field: action} / {field: {"from", "to"}}) what moving from
 * the fields cur to the fields prop changes. */
static void
diff_fields(const json_t *cur, const json_t *prop, json_t *gained, json_t *lost, json_t *changed)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)prop, k, v)
    {
        const json_t *c = json_object_get(cur, k);

        if (c == NULL) {
            json_object_set(gained, k, v);
        } else if (!json_equal(c, v)) {
            json_object_set_new(changed, k, json_pack("{s:O,s:O}", "from", c, "to", v));
        }
    }
    json_object_foreach((json_t *)cur, k, v)
    {
        if (json_object_get(prop, k) == NULL) {
            json_object_set(lost, k, v);
        }
    }
}

static const char *
effect_name(enum ecl_policy_effect e)
{
    switch (e) {
    case ECL_POLICY_ALLOW:
        return "allow";
    case ECL_POLICY_DENY:
        return "deny";
    }
    return "deny";
}

static json_t *
decision_json(const struct ecl_decision *d)
{
    return json_pack("{s:s,s:s,s:s?,s:o}", "decision", effect_name(d->effect), "reason",
                     ecl_policy_reason_name(d->reason), "rule", d->rule_id, "fields",
                     decision_fields(d));
}

/* A present/absent flag of a given request: a non-empty string or true. */
static int
flag_of(const json_t *v)
{
    return json_is_true(v) || (json_is_string(v) && json_string_length(v) > 0);
}

/* Evaluates the given requests against both policies.  NULL on a malformed request. */
static json_t *
simulate_requests(struct ecl_app *app, const struct ecl_policy *cur, const struct ecl_policy *prop,
                  const json_t *reqs, const char **why)
{
    json_t *items = json_array();
    size_t i;
    const json_t *r;
    size_t flips = 0;

    if (json_array_size(reqs) == 0 || json_array_size(reqs) > ECL_SIMULATE_MAX_REQUESTS) {
        *why = "requests must hold 1 to 1000 requests";
        goto fail;
    }
    json_array_foreach(reqs, i, r)
    {
        struct ecl_policy_facts f;
        struct ecl_decision dc;
        struct ecl_decision dp;
        const json_t *at = json_object_get(r, "at");
        json_t *gained = json_object();
        json_t *lost = json_object();
        json_t *changed = json_object();
        json_t *cf;
        json_t *pf;
        json_t *item;

        memset(&f, 0, sizeof f);
        f.agent = json_string_value(json_object_get(r, "agent"));
        f.purpose = json_string_value(json_object_get(r, "purpose"));
        f.dataset = json_string_value(json_object_get(r, "dataset"));
        f.flags = (flag_of(json_object_get(r, "on_behalf_of")) ? ECL_FACT_ON_BEHALF_OF : 0u) |
                  (flag_of(json_object_get(r, "case_id")) ? ECL_FACT_CASE_ID : 0u);
        f.now = app->now();
        if (!json_is_object(r) || f.agent == NULL || f.purpose == NULL || f.dataset == NULL ||
            (at != NULL &&
             (!json_is_string(at) ||
              !ecl_rfc3339_parse(json_string_value(at), json_string_length(at), &f.now)))) {
            *why = "each request needs agent, purpose, dataset (strings) and an optional "
                   "RFC 3339 at";
            json_decref(gained);
            json_decref(lost);
            json_decref(changed);
            goto fail;
        }
        memset(&dc, 0, sizeof dc);
        dc.effect = ECL_POLICY_DENY;
        dc.reason = ECL_REASON_NO_RULE;
        if (cur != NULL) {
            ecl_policy_eval(cur, &f, &dc);
        }
        ecl_policy_eval(prop, &f, &dp);
        cf = decision_fields(&dc);
        pf = decision_fields(&dp);
        diff_fields(cf, pf, gained, lost, changed);
        json_decref(cf);
        json_decref(pf);
        if (dc.effect != dp.effect) {
            flips++;
        }
        item = json_pack(
            "{s:s,s:s,s:s,s:b,s:b,s:o,s:o,s:o,s:o,s:o,s:s?}", "agent", f.agent, "purpose",
            f.purpose, "dataset", f.dataset, "on_behalf_of", (f.flags & ECL_FACT_ON_BEHALF_OF) != 0,
            "case_id", (f.flags & ECL_FACT_CASE_ID) != 0, "current", decision_json(&dc), "proposed",
            decision_json(&dp), "gained", gained, "lost", lost, "changed", changed, "flip",
            dc.effect == dp.effect          ? NULL
            : dp.effect == ECL_POLICY_ALLOW ? "deny_to_allow"
                                            : "allow_to_deny");
        if (item == NULL || json_array_append_new(items, item) != 0) {
            *why = NULL;
            goto fail;
        }
    }
    return json_pack("{s:s,s:o,s:I}", "mode", "requests", "results", items, "flips",
                     (json_int_t)flips);
fail:
    json_decref(items);
    return NULL;
}

/* What the window replay accumulates. */
struct replay {
    struct ecl_app *app;
    const struct ecl_policy *prop;
    json_t *groups; /* key -> group object */
    json_t *names;  /* principal id hex -> name */
    size_t entries;
    size_t not_compared; /* entries whose recorded outcome is not the policy's decision */
    int truncated;
};

static const char *
principal_name(struct replay *rp, const char *hex)
{
    struct ecl_principal pr;
    const json_t *n = json_object_get(rp->names, hex);

    if (n == NULL) {
        if (ecl_principal_find(rp->app->store, hex, &pr) == ECL_OK) {
            json_object_set_new(rp->names, hex, json_string(pr.name));
        } else {
            json_object_set_new(rp->names, hex, json_string(hex));
        }
        n = json_object_get(rp->names, hex);
    }
    return json_string_value(n);
}

static void
bump(json_t *o, const char *key)
{
    json_object_set_new(o, key, json_integer(json_integer_value(json_object_get(o, key)) + 1));
}

/* 1 when why is a refusal of the policy's request-level decision (ecl_policy_eval); the row
 * checks (objection, row condition) come after a request-level allow. */
static int
request_level_deny(enum ecl_policy_reason why)
{
    switch (why) {
    case ECL_REASON_UNKNOWN_AGENT:
    case ECL_REASON_UNKNOWN_PURPOSE:
    case ECL_REASON_PURPOSE_NOT_ALLOWED_FOR_AGENT:
    case ECL_REASON_ON_BEHALF_OF_REQUIRED:
    case ECL_REASON_CASE_ID_REQUIRED:
    case ECL_REASON_NO_RULE:
    case ECL_REASON_OUTSIDE_VALIDITY_WINDOW:
        return 1;
    case ECL_REASON_OK:
    case ECL_REASON_OBJECTION:
    case ECL_REASON_ROW_CONDITION:
        return 0;
    }
    return 0;
}

/* What a recorded entry says of the policy's request-level decision. */
enum recorded {
    REC_ALLOW,
    REC_DENY,
    REC_NOT_COMPARED, /* refused after the request-level decision, or no policy reason */
};

static enum recorded
recorded_of(const char *decision, const char *reason)
{
    if (strcmp(decision, "allow") == 0) {
        return REC_ALLOW;
    }
    if (strcmp(decision, "deny") != 0 || reason == NULL) {
        return REC_NOT_COMPARED;
    }
    for (unsigned i = 0; i < ECL_REASON_COUNT; i++) {
        enum ecl_policy_reason why = (enum ecl_policy_reason)i;

        if (request_level_deny(why) && strcmp(reason, ecl_policy_reason_name(why)) == 0) {
            return REC_DENY;
        }
    }
    return REC_NOT_COMPARED;
}

static enum ecl_status
replay_entry(struct replay *rp, const json_t *e)
{
    const char *hex = json_string_value(json_object_get(e, "principal"));
    const char *purpose = json_string_value(json_object_get(e, "purpose"));
    const char *dataset = json_string_value(json_object_get(e, "dataset"));
    const char *decision = json_string_value(json_object_get(e, "decision"));
    const json_t *fields = json_object_get(e, "fields");
    struct ecl_policy_facts f;
    struct ecl_decision dp;
    char key[4 * ECL_NAME_MAX_LEN + 16];
    json_t *g;
    json_t *rec;
    json_t *pf;
    size_t i;
    const json_t *fv;
    enum recorded rc;
    int rec_allow;

    if (hex == NULL || purpose == NULL || dataset == NULL || decision == NULL) {
        return ECL_OK; /* refused before a decision: nothing to compare */
    }
    memset(&f, 0, sizeof f);
    f.agent = principal_name(rp, hex);
    f.purpose = purpose;
    f.dataset = dataset;
    f.flags = (json_object_get(e, "official") != NULL ? ECL_FACT_ON_BEHALF_OF : 0u) |
              (json_object_get(e, "case") != NULL ? ECL_FACT_CASE_ID : 0u);
    f.now = (int64_t)(json_integer_value(json_object_get(e, "time_ms")) / 1000);
    if (f.agent == NULL) {
        return ECL_ERR_NOMEM;
    }
    snprintf(key, sizeof key, "%s\x1f%s\x1f%s\x1f%u", f.agent, purpose, dataset, f.flags);
    g = json_object_get(rp->groups, key);
    if (g == NULL) {
        if (json_object_size(rp->groups) >= ECL_SIMULATE_MAX_GROUPS) {
            rp->truncated = 1;
            return ECL_OK;
        }
        g = json_pack(
            "{s:s,s:s,s:s,s:b,s:b,s:I,s:{s:I,s:I},s:{s:I,s:I},s:I,s:I,s:I,s:{},s:{},s:{}}", "agent",
            f.agent, "purpose", purpose, "dataset", dataset, "on_behalf_of",
            (f.flags & ECL_FACT_ON_BEHALF_OF) != 0, "case_id", (f.flags & ECL_FACT_CASE_ID) != 0,
            "entries", (json_int_t)0, "recorded", "allow", (json_int_t)0, "deny", (json_int_t)0,
            "proposed", "allow", (json_int_t)0, "deny", (json_int_t)0, "not_compared",
            (json_int_t)0, "allow_to_deny", (json_int_t)0, "deny_to_allow", (json_int_t)0, "gained",
            "lost", "changed");
        if (g == NULL || json_object_set_new(rp->groups, key, g) != 0) {
            return ECL_ERR_NOMEM;
        }
    }
    rc = recorded_of(decision, json_string_value(json_object_get(e, "reason")));
    if (rc == REC_NOT_COMPARED) {
        /* the policy's decision on this request is not known from the entry (a refusal
         * after the request-level allow releases and records no field): not a policy deny */
        bump(g, "entries");
        bump(g, "not_compared");
        rp->entries++;
        rp->not_compared++;
        return ECL_OK;
    }
    rec_allow = rc == REC_ALLOW;
    ecl_policy_eval(rp->prop, &f, &dp);
    rec = json_object();
    json_array_foreach(fields, i, fv)
    {
        const json_t *n = json_object_get(fv, "field");
        const json_t *a = json_object_get(fv, "action");

        if (rec_allow && json_is_string(n) && json_is_string(a)) {
            json_object_set(rec, json_string_value(n), (json_t *)a);
        }
    }
    pf = decision_fields(&dp);
    if (rec == NULL || pf == NULL) {
        json_decref(rec);
        json_decref(pf);
        return ECL_ERR_NOMEM;
    }
    diff_fields(rec, pf, json_object_get(g, "gained"), json_object_get(g, "lost"),
                json_object_get(g, "changed"));
    json_decref(rec);
    json_decref(pf);
    bump(g, "entries");
    bump(json_object_get(g, "recorded"), rec_allow ? "allow" : "deny");
    bump(json_object_get(g, "proposed"), dp.effect == ECL_POLICY_ALLOW ? "allow" : "deny");
    if (rec_allow && dp.effect != ECL_POLICY_ALLOW) {
        bump(g, "allow_to_deny");
    } else if (!rec_allow && dp.effect == ECL_POLICY_ALLOW) {
        bump(g, "deny_to_allow");
    }
    rp->entries++;
    return ECL_OK;
}

static enum ecl_status
replay_kind(struct replay *rp, const char *kind, uint64_t since_ms, uint64_t until_ms)
{
    struct ecl_audit_filter flt;
    uint64_t cursor = 0;
    uint64_t next = 0;
    size_t i;
    const json_t *e;

    memset(&flt, 0, sizeof flt);
    flt.kind = kind;
    flt.since_ms = since_ms;
    flt.until_ms = until_ms;
    while (cursor != UINT64_MAX) {
        json_t *items = json_array();
        enum ecl_status st;

        if (items == NULL) {
            return ECL_ERR_NOMEM;
        }
        if (rp->entries >= ECL_SIMULATE_MAX_ENTRIES) {
            rp->truncated = 1;
            json_decref(items);
            return ECL_OK;
        }
        st = ecl_audit_list(rp->app->store, rp->app->kr, &flt, cursor, ECL_AUDIT_LIST_MAX, items,
                            &next);
        json_array_foreach(items, i, e)
        {
            if (st == ECL_OK) {
                st = replay_entry(rp, e);
            }
        }
        json_decref(items);
        ECL_GUARD(st);
        cursor = next;
    }
    return ECL_OK;
}

/* Per agent: the fields (dataset/field) it would gain or lose. */
static json_t *
agents_summary(const json_t *groups)
{
    json_t *agents = json_object();
    const char *k;
    const char *fk;
    json_t *g;
    json_t *fv;

    json_object_foreach((json_t *)groups, k, g)
    {
        const char *agent = json_string_value(json_object_get(g, "agent"));
        const char *ds = json_string_value(json_object_get(g, "dataset"));
        json_t *a = json_object_get(agents, agent);
        char name[2 * ECL_NAME_MAX_LEN + 2];

        if (a == NULL) {
            a = json_pack("{s:{},s:{}}", "gained", "lost");
            json_object_set_new(agents, agent, a);
        }
        json_object_foreach(json_object_get(g, "gained"), fk, fv)
        {
            snprintf(name, sizeof name, "%s/%s", ds, fk);
            json_object_set(json_object_get(a, "gained"), name, fv);
        }
        json_object_foreach(json_object_get(g, "lost"), fk, fv)
        {
            snprintf(name, sizeof name, "%s/%s", ds, fk);
            json_object_set(json_object_get(a, "lost"), name, fv);
        }
    }
    return agents;
}

static json_t *
simulate_window(struct ecl_app *app, const struct ecl_policy *prop, const json_t *w,
                const char **why, enum ecl_status *st)
{
    const json_t *s = json_object_get(w, "since");
    const json_t *u = json_object_get(w, "until");
    int64_t since = 0;
    int64_t until = 0;
    struct replay rp = {app, prop, json_object(), json_object(), 0, 0, 0};
    json_t *arr = json_array();
    const char *k;
    json_t *g;
    json_t *out = NULL;

    *st = ECL_OK;
    if (!json_is_object(w) || json_object_size(w) != 2 || !json_is_string(s) ||
        !json_is_string(u) ||
        !ecl_rfc3339_parse(json_string_value(s), json_string_length(s), &since) ||
        !ecl_rfc3339_parse(json_string_value(u), json_string_length(u), &until) || since < 0 ||
        until <= since || until > INT64_MAX / 1000) {
        *why = "window needs since < until, RFC 3339 times";
        goto out;
    }
    *st = replay_kind(&rp, "record.read", (uint64_t)since * 1000, (uint64_t)until * 1000);
    if (*st == ECL_OK) {
        *st = replay_kind(&rp, "record.query", (uint64_t)since * 1000, (uint64_t)until * 1000);
    }
    if (*st != ECL_OK || arr == NULL) {
        goto out;
    }
    json_object_foreach(rp.groups, k, g)
    {
        json_array_append(arr, g);
    }
    out = json_pack("{s:s,s:O,s:I,s:I,s:b,s:O,s:o}", "mode", "window", "window", w, "entries",
                    (json_int_t)rp.entries, "not_compared", (json_int_t)rp.not_compared,
                    "truncated", rp.truncated, "groups", arr, "agents", agents_summary(rp.groups));
out:
    json_decref(arr);
    json_decref(rp.groups);
    json_decref(rp.names);
    return out;
}

enum ecl_http_result
ecl_dpo_simulate(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    struct ecl_audit_event ev;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    char detail[128];
    const char *why = NULL;
    json_t *body = ecl_api_parse_body(req, &why);
    const json_t *pol = json_object_get(body, "policy");
    const json_t *w = json_object_get(body, "window");
    const json_t *reqs = json_object_get(body, "requests");
    const struct ecl_policy_view *v = NULL;
    struct ecl_policy *prop = NULL;
    struct ecl_diags diags;
    char *doc = NULL;
    json_t *data = NULL;
    enum ecl_status st = ECL_OK;
    enum ecl_http_result r;

    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_POLICY_READ;
    ecl_api_event_from_req(req, &ev, idbuf);
    if (body == NULL || json_object_size(body) != 2 || !json_is_object(pol) ||
        (w == NULL) == (reqs == NULL)) {
        json_decref(body);
        return ecl_api_problem(req, resp, ECL_PROB_INVALID_JSON, "simulate_request");
    }
    ecl_diags_init(&diags);
    doc = json_dumps(pol, JSON_COMPACT);
    st = doc != NULL ? ecl_dpo_policy_compile(app, doc, strlen(doc), &diags, &prop) : ECL_ERR_NOMEM;
    free(doc);
    if (st != ECL_OK) {
        json_decref(body);
        ev.detail = "policy simulation: the proposed policy does not validate";
        if (st == ECL_ERR_INVALID) {
            return ecl_dpo_invalid_policy(app, req, resp, &ev, &diags);
        }
        return ecl_api_problem(req, resp, ecl_http_problem_of_status(st), NULL);
    }
    v = ecl_policy_holder_acquire(app->policy);
    why = NULL;
    if (reqs != NULL) {
        data = simulate_requests(app, v != NULL ? v->policy : NULL, prop, reqs, &why);
    } else {
        data = simulate_window(app, prop, w, &why, &st);
    }
    if (data != NULL && v != NULL) {
        json_object_set_new(
            data, "active",
            json_pack("{s:I,s:s}", "version", (json_int_t)v->version, "hash", v->hash));
        ev.policy_version = v->version;
    }
    if (v != NULL) {
        ecl_policy_holder_release(app->policy, v);
    }
    ecl_policy_free(prop);
    json_decref(body);
    if (data == NULL) {
        if (why != NULL) {
            return ecl_api_problem(req, resp, ECL_PROB_INVALID_JSON, "simulate_request");
        }
        return ecl_api_problem(req, resp,
                               ecl_http_problem_of_status(st != ECL_OK ? st : ECL_ERR_NOMEM), NULL);
    }
    snprintf(detail, sizeof detail, "policy simulation (%s), nothing stored",
             reqs != NULL ? "given requests" : "audit window");
    ev.detail = detail;
    ev.decision = ECL_AUDIT_ALLOW;
    r = ecl_api_commit_json(app, req, resp, &ev, 200, data, json_object());
    return r;
}
