/* The MCP backend of the running gateway (struct ecl_mcp_backend, gateway/mcp/mcp.h).
 *
 * agent_view: what tools/list tells an agent about its own access: ecl_api_view_datasets
 *   (view.h), the same list as list_datasets.  Not a disclosure: no record is read.
 * call: every tool goes to ecl_disclose, the egress point the REST API uses, with channel mcp;
 *   its result becomes the MCP reply (released body, REST reason code, or failure). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disclose.h"
#include "ecl/schema.h"
#include "mcp_api.h"
#include "view.h"

/* ---- agent_view ----------------------------------------------------------------------------- */

static enum ecl_status
agent_view(void *ctx, const char *agent, json_t **out)
{
    struct ecl_app *app = ctx;
    const struct ecl_policy_view *pv = ecl_policy_holder_acquire(app->policy);
    json_t *list = NULL;
    json_t *view = NULL;
    enum ecl_status st;

    st = ecl_api_view_datasets(app, pv != NULL ? pv->policy : NULL, agent, app->now(), &list);
    if (pv != NULL) {
        ecl_policy_holder_release(app->policy, pv);
    }
    if (st != ECL_OK) {
        return st;
    }
    view = json_pack("{s:o}", "datasets", list);
    if (view == NULL) {
        return ECL_ERR_NOMEM;
    }
    *out = view;
    return ECL_OK;
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
        /* sent as they are, the tree only feeds the outputSchema check and the summary line:
         * commit.c wrote them with jansson's compact bytes, so they are what the tree dumps
         * to (tests/unit/test_mcp_answer.c) */
        reply.body = res->body;
        reply.body_len = res->body_len;
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
