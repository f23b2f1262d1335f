/* The MCP backend of the running gateway (struct ecl_mcp_backend, gateway/mcp/mcp.h).
 *
 * agent_view: what tools/list tells an agent about its own access, from the active policy (the
 *   rule in force now for each purpose and dataset, as ecl_policy_eval decides it with the
 *   purpose's requirements met) and the dataset schemas.  Not a disclosure: no record is read.
 * call: every tool goes to ecl_disclose, the egress point the REST API uses, with channel mcp;
 *   its result becomes the MCP reply (released body, REST reason code, or failure). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disclose.h"
#include "ecl/schema.h"
#include "mcp_api.h"

/* ---- agent_view ----------------------------------------------------------------------------- */

/* The purpose's obligations object ({"no_training": true, "retain_max_hours": 24, ...}) as the
 * list of strings of the MCP view: "no_training", "retain_max_hours=24".  False flags and zero
 * (not stated) are left out: they oblige to nothing.  The same rule as meta.obligations of the
 * disclose path. */
static json_t *
obligations_list(const json_t *obl)
{
    json_t *list = json_array();
    const char *key;
    json_t *v;
    char item[ECL_NAME_MAX_LEN + 32];

    if (list == NULL) {
        return NULL;
    }
    json_object_foreach((json_t *)obl, key, v)
    {
        int bad = 0;
        if (json_is_true(v)) {
            bad = json_array_append_new(list, json_string(key));
        } else if (json_is_integer(v) && json_integer_value(v) > 0) {
            (void)snprintf(item, sizeof item, "%.*s=%" JSON_INTEGER_FORMAT, ECL_NAME_MAX_LEN, key,
                           json_integer_value(v));
            bad = json_array_append_new(list, json_string(item));
        }
        if (bad) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* The datasets entry called name in list, created (with the schema's description) if new. */
static json_t *
dataset_entry(struct ecl_app *app, json_t *list, const char *name)
{
    const struct ecl_schema *schema = NULL;
    size_t i;
    json_t *d;

    json_array_foreach(list, i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "name")), name) == 0) {
            return d;
        }
    }
    if (ecl_records_dataset_get(app->records, name, &schema) != ECL_OK) {
        schema = NULL; /* a policy may name a dataset not created yet: no description */
    }
    d = json_pack("{s:s,s:o,s:[]}", "name", name, "description",
                  schema != NULL && schema->description != NULL ? json_string(schema->description)
                                                                : json_null(),
                  "purposes");
    if (d == NULL || json_array_append_new(list, d) != 0) {
        return NULL;
    }
    return d;
}

static int
has_purpose(const json_t *dataset, const char *purpose)
{
    size_t i;
    json_t *p;

    json_array_foreach(json_object_get(dataset, "purposes"), i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "purpose")), purpose) == 0) {
            return 1;
        }
    }
    return 0;
}

/* One (purpose, dataset) pair of the explanation: the rule in force now, if any. */
static enum ecl_status
add_grant(struct ecl_app *app, const struct ecl_policy *policy, const char *agent,
          const json_t *purpose, const char *dataset, json_t *list)
{
    const char *pid = json_string_value(json_object_get(purpose, "purpose"));
    int obo = json_is_true(json_object_get(purpose, "require_on_behalf_of"));
    int cas = json_is_true(json_object_get(purpose, "require_case_id"));
    struct ecl_policy_facts facts;
    struct ecl_decision d;
    json_t *entry;
    json_t *fields;
    json_t *p;

    memset(&facts, 0, sizeof facts);
    facts.agent = agent;
    facts.purpose = pid;
    facts.dataset = dataset;
    facts.flags = (obo ? ECL_FACT_ON_BEHALF_OF : 0u) | (cas ? ECL_FACT_CASE_ID : 0u);
    facts.now = app->now();
    ecl_policy_eval(policy, &facts, &d);
    if (d.effect != ECL_POLICY_ALLOW) {
        return ECL_OK; /* outside its validity window now: not shown */
    }
    entry = dataset_entry(app, list, dataset);
    if (entry == NULL) {
        return ECL_ERR_NOMEM;
    }
    if (has_purpose(entry, pid)) {
        return ECL_OK; /* at most one rule applies at a time: the same decision */
    }
    fields = json_object();
    if (fields == NULL) {
        return ECL_ERR_NOMEM;
    }
    for (size_t i = 0; i < d.nfields; i++) {
        if (json_object_set_new(fields, d.fields[i].name,
                                json_string(ecl_action_kind_name(d.fields[i].action.kind))) != 0) {
            json_decref(fields);
            return ECL_ERR_NOMEM;
        }
    }
    /* The policy language has no per-operation grant: a rule in force allows get and query
     * alike (the rule's limits bound both). */
    p = json_pack("{s:s,s:[ss],s:[],s:o,s:o*}", "purpose", pid, "operations", "get", "query",
                  "requires", "fields", fields, "obligations",
                  obligations_list(json_object_get(purpose, "obligations")));
    if (p == NULL) {
        return ECL_ERR_NOMEM;
    }
    if ((obo &&
         json_array_append_new(json_object_get(p, "requires"), json_string("on_behalf_of")) != 0) ||
        (cas && json_array_append_new(json_object_get(p, "requires"), json_string("case")) != 0) ||
        json_object_get(p, "obligations") == NULL) {
        json_decref(p);
        return ECL_ERR_NOMEM;
    }
    return json_array_append_new(json_object_get(entry, "purposes"), p) == 0 ? ECL_OK
                                                                             : ECL_ERR_NOMEM;
}

static enum ecl_status
agent_view(void *ctx, const char *agent, json_t **out)
{
    struct ecl_app *app = ctx;
    const struct ecl_policy_view *pv = ecl_policy_holder_acquire(app->policy);
    json_t *explained = NULL;
    json_t *list = json_array();
    json_t *view = NULL;
    enum ecl_status st = ECL_OK;
    size_t i;
    size_t j;
    json_t *purpose;
    json_t *grant;

    if (list == NULL) {
        st = ECL_ERR_NOMEM;
        goto out;
    }
    if (pv != NULL) {
        st = ecl_policy_explain(pv->policy, agent, NULL, &explained);
        if (st == ECL_ERR_NOT_FOUND) {
            st = ECL_OK; /* an agent the policy does not name may use nothing */
        }
    }
    json_array_foreach(json_object_get(explained, "purposes"), i, purpose)
    {
        json_array_foreach(json_object_get(purpose, "grants"), j, grant)
        {
            const char *ds = json_string_value(json_object_get(grant, "dataset"));
            if (st == ECL_OK && ds != NULL) {
                st = add_grant(app, pv->policy, agent, purpose, ds, list);
            }
        }
    }
    if (st != ECL_OK) {
        goto out;
    }
    view = json_pack("{s:O}", "datasets", list);
    if (view == NULL) {
        st = ECL_ERR_NOMEM;
        goto out;
    }
    *out = view;
out:
    json_decref(explained);
    json_decref(list);
    if (pv != NULL) {
        ecl_policy_holder_release(app->policy, pv);
    }
    return st;
}

/* ---- call ----------------------------------------------------------------------------------- */

static enum ecl_disclose_op
op_of(enum ecl_mcp_tool t)
{
    switch (t) {
    case ECL_MCP_TOOL_LIST_DATASETS:
        return ECL_DISCLOSE_LIST_DATASETS;
    case ECL_MCP_TOOL_DESCRIBE_DATASET:
        return ECL_DISCLOSE_DESCRIBE;
    case ECL_MCP_TOOL_GET_RECORD:
        return ECL_DISCLOSE_GET;
    case ECL_MCP_TOOL_QUERY_RECORDS:
        return ECL_DISCLOSE_QUERY;
    case ECL_MCP_TOOL_EXPLAIN_ACCESS:
        return ECL_DISCLOSE_EXPLAIN;
    }
    return ECL_DISCLOSE_EXPLAIN;
}

static void
fail(struct ecl_mcp_call *call, enum ecl_status st)
{
    struct ecl_mcp_reply reply;

    memset(&reply, 0, sizeof reply);
    reply.kind = ECL_MCP_REPLY_FAILED;
    reply.status = st;
    ecl_mcp_call_done(call, &reply);
}

/* The disclose path's answer (on the calling thread or the audit writer's). */
static void
disclosed(void *arg, const struct ecl_disclose_result *res)
{
    struct ecl_mcp_call *call = arg;
    struct ecl_mcp_reply reply;
    const char *why = NULL;

    memset(&reply, 0, sizeof reply);
    switch (res->outcome) {
    case ECL_DISCLOSE_OK:
        /* The released body as it was audited: {"data": ..., "meta": {..., "audit_seq"}}. */
        reply.kind = ECL_MCP_REPLY_OK;
        reply.result = ecl_json_load(res->body, res->body_len, ECL_JSON_MAX_DEPTH, &why, NULL);
        if (reply.result == NULL) {
            fail(call, ECL_ERR_INTERNAL);
            return;
        }
        break;
    case ECL_DISCLOSE_REFUSED:
        reply.kind = ECL_MCP_REPLY_REFUSED;
        reply.code = res->code;
        reply.message = res->message;
        reply.has_audit_seq = res->audit_seq != UINT64_MAX;
        reply.audit_seq = res->audit_seq != UINT64_MAX ? res->audit_seq : 0;
        break;
    case ECL_DISCLOSE_FAILED:
        reply.kind = ECL_MCP_REPLY_FAILED;
        reply.status = res->status == 503 ? ECL_ERR_SEALED : ECL_ERR_INTERNAL;
        break;
    }
    ecl_mcp_call_done(call, &reply);
}

static void
call(void *ctx, struct ecl_mcp_call *c)
{
    struct ecl_app *app = ctx;
    const struct ecl_mcp_call_args *a = ecl_mcp_call_args(c);
    const struct ecl_http_req *req = ecl_api_mcp_current_req();
    const struct ecl_principal *pr = req != NULL ? ecl_http_req_principal(req) : NULL;
    struct ecl_disclose_req r;

    /* The principal authenticated on this very request, and the agent the MCP layer names. */
    if (pr == NULL || pr->role != ECL_ROLE_AGENT || strcmp(pr->name, a->agent) != 0) {
        fail(c, ECL_ERR_INTERNAL);
        return;
    }
    memset(&r, 0, sizeof r);
    r.op = op_of(a->tool);
    r.channel = ECL_AUDIT_CH_MCP;
    r.principal = pr;
    r.request_id = ecl_http_req_id(req);
    r.purpose = a->purpose;
    r.dataset = a->dataset;
    r.official = a->on_behalf_of;
    r.case_ref = a->case_ref;
    r.id = a->pseudonym != NULL ? a->pseudonym : a->id;
    r.where = a->where;
    r.fields = a->fields;
    r.limit = a->limit;
    r.cursor = a->cursor;
    ecl_disclose(app, &r, disclosed, c);
}

const struct ecl_mcp_backend ecl_api_mcp_backend = {
    .agent_view = agent_view,
    .call = call,
};
