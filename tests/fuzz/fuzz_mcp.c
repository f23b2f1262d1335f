/* libFuzzer target for the MCP endpoint's JSON-RPC dispatcher (gateway/mcp).  The first input
 * byte chooses the HTTP facts (session or none, protocol version header, method, agent); the
 * rest is the body.  A live session is opened once so that fuzzed messages reach the methods
 * and the tool argument checks, and a synchronous test backend answers the tool calls. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ecl/crypto.h"
#include "mcp/mcp.h"

static enum ecl_status
view(void *ctx, const char *agent, json_t **out)
{
    (void)ctx;
    (void)agent;
    *out = json_loads("{\"datasets\":[{\"name\":\"citizens\",\"description\":null,\"purposes\":"
                      "[{\"purpose\":\"p\",\"operations\":[\"get\",\"query\"],\"requires\":[],"
                      "\"fields\":{\"nir\":\"pseudonymize\"},\"obligations\":[\"o\"]}]}]}",
                      0, NULL);
    return *out != NULL ? ECL_OK : ECL_ERR_NOMEM;
}

static void
call(void *ctx, struct ecl_mcp_call *c)
{
    const struct ecl_mcp_call_args *a = ecl_mcp_call_args(c);
    struct ecl_mcp_reply r;

    (void)ctx;
    memset(&r, 0, sizeof r);
    if (a->purpose != NULL && strcmp(a->purpose, "p") != 0) {
        r.kind = ECL_MCP_REPLY_REFUSED;
        r.code = "purpose_not_allowed";
        r.message = "no";
    } else {
        r.kind = ECL_MCP_REPLY_OK;
        r.result =
            json_pack("{s:{s:s},s:{s:i,s:s,s:i,s:s,s:{s:s},s:[],s:n}}", "data", "nir", "ps_x",
                      "meta", "policy_version", 1, "policy_hash", "h", "audit_seq", 1, "rule_id",
                      "r", "fields", "nir", "pseudonymize", "obligations", "next_cursor");
    }
    ecl_mcp_call_done(c, &r);
}

static const struct ecl_mcp_backend BACKEND = {view, call};
static struct ecl_mcp *M;
static char SID[ECL_MCP_SESSION_ID_LEN + 1];

static void
fixed_random(void *out, size_t n)
{
    memset(out, 0x5a, n); /* reproducible runs; only one session is ever opened */
}

static void
setup(void)
{
    static const char init[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
                               "\"params\":{\"protocolVersion\":\"2025-11-25\"}}";
    struct ecl_mcp_config cfg = {0};
    struct ecl_mcp_http_in in = {0};
    struct ecl_mcp_http_out out;

    cfg.backend = &BACKEND;
    cfg.random = fixed_random;
    if (ecl_mcp_new(&cfg, &M) != ECL_OK) {
        abort();
    }
    in.method = ECL_MCP_POST;
    in.agent = "alice";
    in.content_type = "application/json";
    in.body = (const uint8_t *)init;
    in.body_len = sizeof init - 1;
    ecl_mcp_http_out_init(&out);
    if (ecl_mcp_handle(M, &in, &out, NULL, NULL) != ECL_MCP_DONE || out.status != 200) {
        abort();
    }
    memcpy(SID, out.session_id, sizeof SID);
    ecl_mcp_http_out_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const versions[] = {"2025-11-25", NULL, "2025-03-26", "x"};
    static const enum ecl_mcp_method methods[] = {ECL_MCP_POST, ECL_MCP_POST, ECL_MCP_POST,
                                                  ECL_MCP_DELETE};
    struct ecl_mcp_http_in in = {0};
    struct ecl_mcp_http_out out;
    uint8_t sel;

    if (M == NULL) {
        setup();
    }
    if (size == 0) {
        return 0;
    }
    sel = data[0];
    in.method = methods[(sel >> 2) & 3];
    if (in.method == ECL_MCP_DELETE) {
        in.method = ECL_MCP_POST; /* never end the shared session */
    }
    in.agent = (sel & 0x10) ? "bob" : "alice";
    in.session_id = (sel & 0x20) ? NULL : SID;
    in.protocol_version = versions[sel & 3];
    in.content_type = "application/json";
    in.accept = (sel & 0x40) ? "application/json, text/event-stream" : NULL;
    in.origin = (sel & 0x80) ? "http://localhost:1" : NULL;
    in.body = data + 1;
    in.body_len = size - 1;
    ecl_mcp_http_out_init(&out);
    /* The backend completes synchronously: a pending outcome would be a bug. */
    if (ecl_mcp_handle(M, &in, &out, NULL, NULL) != ECL_MCP_DONE) {
        abort();
    }
    if (out.body.len > 0) {
        json_t *v = json_loadb((const char *)out.body.ptr, out.body.len, 0, NULL);
        if (v == NULL) {
            abort(); /* every body we send is JSON */
        }
        json_decref(v);
    }
    ecl_mcp_http_out_free(&out);
    return 0;
}
