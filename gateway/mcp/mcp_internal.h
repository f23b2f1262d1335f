/* Internal interfaces of gateway/mcp between its files; not for other modules. */
#ifndef ECL_MCP_INTERNAL_H
#define ECL_MCP_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ecl/buf.h"
#include "ecl/status.h"
#include "mcp/mcp.h"

/* ---- jschema.c: the subset of JSON Schema our tool schemas use ----------------------------- */

/* 1 when every keyword of schema (recursively) is one jschema_valid understands. */
int jschema_supported(const json_t *schema);
/* 1 when v matches schema.  On mismatch *where (may be NULL) names the first failing keyword,
 * a static string: never a value. */
int jschema_valid(const json_t *schema, const json_t *v, const char **where);

/* ---- session.c: the bounded, thread-safe session table ------------------------------------- */

struct session_table;

enum session_lookup {
    SESSION_FOUND = 0,
    SESSION_UNKNOWN, /* never existed, ended, expired, or belongs to another agent */
};

enum ecl_status session_table_new(size_t max, uint64_t idle_ms, void (*rnd)(void *, size_t),
                                  uint64_t (*now_ms)(void), struct session_table **out) ECL_WUR;
void session_table_free(struct session_table *t);
/* Creates a session for agent with the negotiated version (index into the supported list);
 * writes its id (ECL_MCP_SESSION_ID_LEN + 1 bytes).  ECL_ERR_FULL when every slot is live. */
enum ecl_status session_create(struct session_table *t, const char *agent, unsigned version,
                               char id_out[ECL_MCP_SESSION_ID_LEN + 1]) ECL_WUR;
/* Finds the session id of agent, refreshes its idle timer and gives its version. */
enum session_lookup session_touch(struct session_table *t, const char *id, const char *agent,
                                  unsigned *version);
/* Ends the session id of agent. */
enum session_lookup session_end(struct session_table *t, const char *id, const char *agent);
size_t session_count(struct session_table *t);

/* ---- tools.c: definitions, per-agent listing, arguments, results --------------------------- */

struct tools;

enum ecl_status tools_load(struct tools **out) ECL_WUR;
void tools_free(struct tools *t);
const json_t *tools_doc(const struct tools *t);
/* The tool called name, 1 when found. */
int tools_find(const struct tools *t, const char *name, enum ecl_mcp_tool *out);
const json_t *tools_input_schema(const struct tools *t, enum ecl_mcp_tool tool);
const json_t *tools_output_schema(const struct tools *t, enum ecl_mcp_tool tool);
/* The tools/list result for an agent whose policy view is view (see agent_view in mcp.h):
 * the tools it may use, with descriptions naming its datasets, purposes, pseudonymized and
 * tokenized fields and obligations.  ECL_ERR_INVALID when view is not of the documented
 * shape (fail closed). */
enum ecl_status tools_list_for(const struct tools *t, const json_t *view, json_t **out) ECL_WUR;
/* Fills args from a validated arguments object (borrowed from it). */
void tools_args_from(enum ecl_mcp_tool tool, const json_t *arguments,
                     struct ecl_mcp_call_args *args);
/* The text item of a successful structured result into text (reset first): a one-line summary,
 * then json (json_len bytes), the compact JSON text of result.  ECL_ERR_LIMIT beyond text's cap. */
enum ecl_status tools_render_text(enum ecl_mcp_tool tool, const json_t *result, const char *json,
                                  size_t json_len, struct ecl_buf *text) ECL_WUR;

/* ---- mcp.c: the answer to a successful tool call ------------------------------------------- */

enum tool_ok_outcome {
    TOOL_OK_BUILT = 0, /* out holds the JSON-RPC response */
    TOOL_OK_TEXT,      /* the text item could not be built: answer a failure (out reset) */
    TOOL_OK_TOO_BIG,   /* the response could not be built (cap, memory): out reset */
};

/* The bytes of the JSON-RPC response to a successful tools/call, written into out (reset first):
 *   {"jsonrpc":"2.0","id":ID,"result":{"content":[{"type":"text","text":TEXT}],
 *    "structuredContent":JSON,"isError":false}}
 * where JSON is json (json_len bytes, the compact text of result, spliced as it is) and TEXT the
 * JSON string of tools_render_text's text: the same bytes jansson gives for that object with
 * JSON_COMPACT, without parsing or serialising result again.  Checks nothing: the caller has
 * checked result against the tool's outputSchema. */
enum tool_ok_outcome tool_ok_response(enum ecl_mcp_tool tool, const json_t *id,
                                      const json_t *result, const char *json, size_t json_len,
                                      struct ecl_buf *out);

#endif
