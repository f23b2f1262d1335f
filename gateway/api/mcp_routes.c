/* POST and DELETE /mcp: the HTTP side of the MCP endpoint (docs/mcp.md).  The HTTP layer has
 * authenticated the agent's bearer key and capped the body before this runs; the MCP layer
 * (gateway/mcp) does the transport rules, sessions and JSON-RPC; tool calls go to the backend
 * (mcp_backend.c) and complete after their audit entry is durable.
 *
 * GET /mcp is not routed: the router answers 405 with "Allow: DELETE, POST" (the server never
 * opens a stream of its own). */
#include <stdlib.h>
#include <string.h>

#include "mcp_api.h"

/* One request in flight: the MCP layer writes into out until the response is complete. */
struct exchange {
    struct ecl_http_req *req;
    struct ecl_mcp_http_out out;
};

static _Thread_local const struct ecl_http_req *current_req;

const struct ecl_http_req *
ecl_api_mcp_current_req(void)
{
    return current_req;
}

/* Copies the MCP layer's answer into the HTTP response. */
static void
resp_from_out(struct ecl_http_req *req, const struct ecl_mcp_http_out *out,
              struct ecl_http_resp *resp)
{
    enum ecl_status st;

    if (out->content_type != NULL && out->body.len > 0) {
        st = ecl_http_resp_set(resp, out->status, "application/json", out->body.ptr, out->body.len);
    } else {
        st = ecl_http_resp_set(resp, out->status, NULL, "", 0);
    }
    if (st == ECL_OK && out->session_id[0] != 0) {
        st = ecl_http_resp_header(resp, "Mcp-Session-Id", out->session_id);
    }
    if (st != ECL_OK) {
        /* never a truncated answer */
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
        return;
    }
    /* The MCP layer's own refusals (Origin) are audited like the HTTP layer's 401 and 403. */
    if (out->status == 401 || out->status == 403) {
        ecl_http_req_refused(req, out->status,
                             out->status == 403 ? "origin_not_allowed" : "unauthenticated");
    }
}

static void
exchange_free(struct exchange *ex)
{
    ecl_mcp_http_out_free(&ex->out);
    free(ex);
}

/* The MCP layer's completion of a pending tool call (from the audit writer's thread). */
static void
mcp_done(void *arg, struct ecl_mcp_http_out *out)
{
    struct exchange *ex = arg;
    struct ecl_http_resp resp;

    ecl_http_resp_init(&resp);
    resp_from_out(ex->req, out, &resp);
    ecl_http_req_complete(ex->req, &resp);
    ecl_http_resp_free(&resp);
    exchange_free(ex);
}

static enum ecl_http_result
mcp_handler(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_app *app = arg;
    const struct ecl_principal *pr = ecl_http_req_principal(req);
    struct ecl_view body = ecl_http_req_body(req);
    struct ecl_mcp_http_in in;
    struct exchange *ex;
    enum ecl_mcp_outcome outcome;

    if (app->mcp == NULL || pr == NULL) {
        return ecl_api_problem(req, resp, ECL_PROB_INTERNAL, NULL);
    }
    ex = calloc(1, sizeof *ex);
    if (ex == NULL) {
        return ecl_api_problem(req, resp, ECL_PROB_INTERNAL, NULL);
    }
    ex->req = req;
    ecl_mcp_http_out_init(&ex->out);

    memset(&in, 0, sizeof in);
    in.method = ecl_http_req_method(req) == ECL_HTTP_DELETE ? ECL_MCP_DELETE : ECL_MCP_POST;
    in.agent = pr->name;
    in.session_id = ecl_http_req_header(req, "Mcp-Session-Id");
    in.protocol_version = ecl_http_req_header(req, "MCP-Protocol-Version");
    in.origin = ecl_http_req_header(req, "Origin");
    in.accept = ecl_http_req_header(req, "Accept");
    in.content_type = ecl_http_req_header(req, "Content-Type");
    in.body = body.ptr;
    in.body_len = body.len;

    current_req = req;
    outcome = ecl_mcp_handle(app->mcp, &in, &ex->out, mcp_done, ex);
    current_req = NULL;
    switch (outcome) {
    case ECL_MCP_DONE:
        resp_from_out(req, &ex->out, resp);
        exchange_free(ex);
        return ECL_HTTP_DONE;
    case ECL_MCP_PENDING:
        /* mcp_done completes req (perhaps already has: the HTTP layer accepts that) */
        return ECL_HTTP_PENDING;
    }
    return ECL_HTTP_PENDING;
}

size_t
ecl_api_mcp_routes(struct ecl_app *app, struct ecl_http_route *out, size_t cap)
{
    const struct ecl_http_route routes[] = {
        {ECL_HTTP_POST, "/mcp", ECL_HTTP_ROLE(ECL_ROLE_AGENT), ECL_MCP_MAX_BODY_BYTES, mcp_handler,
         app},
        {ECL_HTTP_DELETE, "/mcp", ECL_HTTP_ROLE(ECL_ROLE_AGENT), 0, mcp_handler, app},
    };
    size_t n = sizeof routes / sizeof routes[0];

    if (n > cap) {
        return 0;
    }
    memcpy(out, routes, sizeof routes);
    return n;
}

enum ecl_status
ecl_api_mcp_init(struct ecl_app *app)
{
    struct ecl_mcp_config cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.backend = &ecl_api_mcp_backend;
    cfg.backend_ctx = app;
    cfg.server_version = ECL_VERSION;
    return ecl_mcp_new(&cfg, &app->mcp);
}

void
ecl_api_mcp_free(struct ecl_app *app)
{
    if (app->mcp != NULL) {
        ecl_mcp_free(app->mcp);
        app->mcp = NULL;
    }
}
