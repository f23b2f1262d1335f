/* The Model Context Protocol layer of Écluse (docs/mcp.md): MCP 2025-11-25 over the Streamable
 * HTTP transport, also accepting 2025-06-18 and 2025-03-26 at initialize.  Transport-independent:
 * it takes already-parsed HTTP facts (method, a few headers, the body, the authenticated agent)
 * and gives back a status, headers and a JSON body.  It never decides who may see what: every
 * tool call goes to a backend (struct ecl_mcp_backend), which the gateway implements with the
 * same internal "disclose" path as the REST API (one egress point).
 *
 * Sessions (Mcp-Session-Id) only route protocol state; they never authenticate.  Every request
 * must carry the agent's bearer key, checked by the HTTP layer before ecl_mcp_handle, and a
 * session presented by another agent is "not found".  Thread-safe: ecl_mcp_handle may run on
 * every thread of the HTTP layer's pool at once. */
#ifndef ECL_MCP_H
#define ECL_MCP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ecl/buf.h"
#include "ecl/limits.h"
#include "ecl/status.h"

/* Hex of ECL_MCP_SESSION_ID_BYTES random bytes behind an 8-hex-digit slot number. */
#define ECL_MCP_SESSION_ID_LEN (8 + 2 * ECL_MCP_SESSION_ID_BYTES)

enum ecl_mcp_method {
    ECL_MCP_POST = 0,
    ECL_MCP_GET,
    ECL_MCP_DELETE,
    ECL_MCP_OTHER, /* any other HTTP method: 405 */
};

/* One HTTP request to the MCP endpoint, borrowed for the duration of ecl_mcp_handle only. */
struct ecl_mcp_http_in {
    enum ecl_mcp_method method;
    const char *agent;            /* authenticated agent id (never NULL once authenticated) */
    const char *session_id;       /* Mcp-Session-Id header, NULL when absent */
    const char *protocol_version; /* MCP-Protocol-Version header, NULL when absent */
    const char *origin;           /* Origin header, NULL when absent */
    const char *accept;           /* Accept header, NULL when absent */
    const char *content_type;     /* Content-Type header, NULL when absent */
    const uint8_t *body;          /* the request body (POST), may be NULL when body_len is 0 */
    size_t body_len;
};

/* The HTTP response.  Caller-owned; initialise with ecl_mcp_http_out_init, release with
 * ecl_mcp_http_out_free (wipes the body: it may hold personal data). */
struct ecl_mcp_http_out {
    unsigned status;                             /* 200, 202, 400, 401, 403, 404, ... */
    char session_id[ECL_MCP_SESSION_ID_LEN + 1]; /* "" or the Mcp-Session-Id to set */
    const char *content_type;                    /* "application/json", or NULL (no body) */
    const char *allow;                           /* Allow header for 405, else NULL */
    struct ecl_buf body;                         /* JSON text (not NUL-terminated) */
};

void ecl_mcp_http_out_init(struct ecl_mcp_http_out *out);
void ecl_mcp_http_out_free(struct ecl_mcp_http_out *out);

/* ---- the backend: what the gateway implements with its disclose path ---------------------- */

enum ecl_mcp_tool {
    ECL_MCP_TOOL_LIST_DATASETS = 0,
    ECL_MCP_TOOL_DESCRIBE_DATASET,
    ECL_MCP_TOOL_GET_RECORD,
    ECL_MCP_TOOL_QUERY_RECORDS,
    ECL_MCP_TOOL_EXPLAIN_ACCESS,
};
#define ECL_MCP_TOOL_COUNT 5

/* The stable tool name ("get_record", ...).  Never NULL. */
const char *ecl_mcp_tool_name(enum ecl_mcp_tool t);

/* The arguments of one tool call, checked against the tool's inputSchema (types and required
 * members only: whether the agent may use a dataset or purpose is the backend's decision, so
 * that refusals carry the REST reason code and are audited).  Everything is borrowed and valid
 * until ecl_mcp_call_done has been called; NULL when not given. */
struct ecl_mcp_call_args {
    enum ecl_mcp_tool tool;
    const char *agent;        /* the authenticated agent */
    const char *dataset;      /* describe_dataset, get_record, query_records */
    const char *purpose;      /* get_record, query_records, explain_access */
    const char *id;           /* get_record: subject identifier (exclusive with pseudonym) */
    const char *pseudonym;    /* get_record: the agent's own "ps_..." pseudonym */
    const json_t *where;      /* query_records: object, same syntax as REST */
    const json_t *fields;     /* query_records: array of field names */
    size_t limit;             /* query_records: 0 when not given (backend's default) */
    const char *cursor;       /* query_records */
    const char *on_behalf_of; /* get_record, query_records: the official the agent acts for */
    const char *case_ref;     /* get_record, query_records: the case reference */
};

struct ecl_mcp_call; /* one tool call in flight, opaque */

/* The borrowed arguments of a call in flight. */
const struct ecl_mcp_call_args *ecl_mcp_call_args(const struct ecl_mcp_call *call);

enum ecl_mcp_reply_kind {
    ECL_MCP_REPLY_OK = 0,  /* result holds {"data": ..., "meta": ...} */
    ECL_MCP_REPLY_REFUSED, /* the policy (or validation) refused: a tool result, isError true */
    ECL_MCP_REPLY_FAILED,  /* the gateway failed (sealed, I/O): a JSON-RPC error, HTTP 5xx */
};

struct ecl_mcp_reply {
    enum ecl_mcp_reply_kind kind;
    json_t *result;         /* OK: the structured result; ownership passes to the MCP layer */
    const char *code;       /* REFUSED: the REST reason code, [a-z0-9_], copied */
    const char *message;    /* REFUSED: a sentence without personal data, copied */
    int has_audit_seq;      /* REFUSED: 1 when the refusal has an audit entry */
    uint64_t audit_seq;     /* REFUSED: its sequence number */
    enum ecl_status status; /* FAILED: ECL_ERR_SEALED/FULL/IO give 503, others 500 */
    /* OK, optional: the JSON text result was parsed from, borrowed until ecl_mcp_call_done
     * returns.  When given, the answer carries these bytes as they are (structuredContent and
     * the text item) instead of serialising result again: they must be what
     * json_dumps(result, JSON_COMPACT) gives, which holds for any text jansson itself wrote
     * compactly (the disclose path's bodies).  NULL: result is serialised. */
    const char *body;
    size_t body_len;
};

/* Finishes a tool call: exactly once per call, from any thread, possibly before the backend
 * function has returned.  Takes reply->result.  A result that does not match the tool's
 * outputSchema is dropped and answered with a JSON-RPC internal error (fail closed).  The call
 * must not be used afterwards. */
void ecl_mcp_call_done(struct ecl_mcp_call *call, const struct ecl_mcp_reply *reply);

/* Implemented by the gateway.  Every function may be called from any thread at once. */
struct ecl_mcp_backend {
    /* What the agent may do, for tools/list and the tool descriptions: synchronous, not a
     * disclosure (it shows the agent its own policy).  Sets *out to a new object
     *   {"datasets": [{"name": str, "description": str|null,
     *                  "purposes": [{"purpose": str, "operations": ["get"|"query"...],
     *                                "requires": ["on_behalf_of"|"case"...],
     *                                "fields": {name: action}, "obligations": [str...]}]}]}
     * (the same shape as list_datasets' data, see docs/mcp.md). */
    enum ecl_status (*agent_view)(void *ctx, const char *agent, json_t **out);
    /* Starts one tool call (args in ecl_mcp_call_args(call), args->tool says which) and
     * returns; the answer comes through ecl_mcp_call_done, now or later, from any thread.
     * Record tools go through the disclose path: decision, transforms, audit entry with
     * channel "mcp", made durable before the reply. */
    void (*call)(void *ctx, struct ecl_mcp_call *call);
};

/* ---- the MCP endpoint --------------------------------------------------------------------- */

struct ecl_mcp_config {
    const struct ecl_mcp_backend *backend; /* required, borrowed for the life of the ecl_mcp */
    void *backend_ctx;
    /* Accepted Origin values (exact, e.g. "https://console.example.org"); a request without
     * Origin is always accepted (non-browser clients).  NULL: only http(s)://localhost and
     * http(s)://127.0.0.1 / [::1], with any port.  Copied. */
    const char *const *allowed_origins;
    size_t n_allowed_origins;
    size_t max_sessions;                 /* 0: ECL_MCP_MAX_SESSIONS */
    uint64_t session_idle_ms;            /* 0: ECL_MCP_SESSION_IDLE_S seconds */
    void (*random)(void *out, size_t n); /* NULL: ecl_crypto_random (tests inject) */
    uint64_t (*now_ms)(void);            /* NULL: CLOCK_MONOTONIC (tests inject) */
    const char *server_version;          /* serverInfo.version, NULL: "0" */
};

struct ecl_mcp; /* opaque */

/* Loads the tool definitions and allocates the session table.  ECL_ERR_INVALID for a bad
 * configuration (no backend, too many or too long origins). */
enum ecl_status ecl_mcp_new(const struct ecl_mcp_config *cfg, struct ecl_mcp **out) ECL_WUR;
/* Every pending call must have completed (see ecl_mcp_pending). */
void ecl_mcp_free(struct ecl_mcp *m);

/* Tool calls in flight (handled, not yet completed): shutdown waits for 0.  Thread-safe. */
size_t ecl_mcp_pending(struct ecl_mcp *m);

enum ecl_mcp_outcome {
    ECL_MCP_DONE = 0, /* out holds the response now; done will not be called */
    ECL_MCP_PENDING,  /* a tool call is in flight: done(done_arg, out) will be called once */
};

typedef void (*ecl_mcp_done_fn)(void *done_arg, struct ecl_mcp_http_out *out);

/* Handles one HTTP request on the MCP endpoint.  out (initialised by the caller) must stay
 * valid until the response is complete.  Never fails: every problem becomes a response
 * (a JSON-RPC error, 4xx or 5xx).  With ECL_MCP_PENDING, done runs on the backend's completing
 * thread and may run before ecl_mcp_handle has returned to its caller: the HTTP layer must
 * accept "resume before suspend" (take its connection lock around both). */
enum ecl_mcp_outcome ecl_mcp_handle(struct ecl_mcp *m, const struct ecl_mcp_http_in *in,
                                    struct ecl_mcp_http_out *out, ecl_mcp_done_fn done,
                                    void *done_arg);

/* Number of live sessions (expired ones are not counted).  Thread-safe. */
size_t ecl_mcp_session_count(struct ecl_mcp *m);

/* The tool definitions of docs/mcp.md, {"tools": [...]} (borrowed, immutable). */
const json_t *ecl_mcp_tools(const struct ecl_mcp *m);

#endif
