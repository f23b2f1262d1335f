/* The MCP endpoint of the running gateway: POST and DELETE /mcp (mcp_routes.c) and the backend
 * that answers tool calls through the disclose path (mcp_backend.c).  docs/mcp.md. */
#ifndef ECL_API_MCP_H
#define ECL_API_MCP_H

#include <stddef.h>

#include "app.h"
#include "mcp/mcp.h"

/* Creates app->mcp with the gateway's backend (called by ecl_app_open once the policy holder and
 * the audit writer are open).  ECL_ERR_NOMEM or ECL_ERR_INVALID. */
enum ecl_status ecl_api_mcp_init(struct ecl_app *app) ECL_WUR;
/* Frees app->mcp.  Call it after the HTTP server has stopped and the audit writer has drained
 * (ecl_audit_close runs every pending callback, so no tool call is in flight any more). */
void ecl_api_mcp_free(struct ecl_app *app);

/* The /mcp routes (arg = app): at most cap written, returns how many. */
size_t ecl_api_mcp_routes(struct ecl_app *app, struct ecl_http_route *out, size_t cap);

/* The backend (mcp_backend.c): agent_view from the active policy, call through ecl_disclose
 * with channel mcp.  ctx = the app. */
extern const struct ecl_mcp_backend ecl_api_mcp_backend;

/* The principal of the request being handled on this thread, set by the /mcp handler around
 * ecl_mcp_handle: the MCP layer calls backend->call synchronously from ecl_mcp_handle, and the
 * disclose path needs the authenticated principal, not only its name.  NULL outside. */
const struct ecl_http_req *ecl_api_mcp_current_req(void);

#endif
