/* The MCP endpoint: the Streamable HTTP transport of MCP 2025-11-25 (basic/transports) with
 * JSON responses only, the lifecycle (basic/lifecycle), ping and tools (server/tools), on top of
 * JSON-RPC 2.0.  Each request is handled as a list of steps:
 *
 *   1. Origin (DNS rebinding, 403)       5. JSON-RPC message shape (-32700, -32600, 400)
 *   2. authenticated agent (401)         6. MCP-Protocol-Version header (400)
 *   3. HTTP method (405, DELETE)         7. session: initialize creates one, others need it
 *   4. media types and size (415/406/413)   (400 missing, 404 unknown or another agent's)
 *                                        8. the method: initialize, ping, tools/list, tools/call
 *
 * Protocol problems are JSON-RPC errors; refusals of the policy are tool results with
 * isError true and the REST reason code (server/tools, "Error Handling"). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ecl/buf.h"
#include "ecl/crypto.h"
#include "ecl/json_str.h"
#include "ecl/limits.h"
#include "ecl/schema.h"
#include "mcp_internal.h"

/* Newest first: an initialize asking for one of these gets it. */
static const char *const VERSIONS[] = {"2025-11-25", "2025-06-18", "2025-03-26"};
#define NVERSIONS (sizeof VERSIONS / sizeof VERSIONS[0])
/* basic/transports, "Protocol Version Header": without the header, assume 2025-03-26. */
#define VERSION_WITHOUT_HEADER "2025-03-26"

/* JSON-RPC 2.0 section 5.1, and our server errors in -32000..-32099. */
enum rpc_code {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL_ERROR = -32603,
    RPC_BAD_REQUEST = -32000,       /* transport: header, media type, session missing */
    RPC_SESSION_NOT_FOUND = -32001, /* unknown, ended, expired or another agent's session */
    RPC_FORBIDDEN = -32002,         /* Origin not allowed */
    RPC_UNAUTHORIZED = -32003,      /* no authenticated agent */
    RPC_UNAVAILABLE = -32004,       /* the gateway refuses service (sealed, full) */
};

static const char JSON_TYPE[] = "application/json";

struct ecl_mcp {
    const struct ecl_mcp_backend *backend;
    void *backend_ctx;
    char **origins; /* NULL: loopback only */
    size_t norigins;
    struct tools *tools;
    struct session_table *sessions;
    char server_version[ECL_NAME_MAX_LEN + 1];
    atomic_size_t pending; /* tool calls in flight */
};

struct ecl_mcp_call {
    struct ecl_mcp *m;
    struct ecl_mcp_call_args args; /* borrows from request */
    json_t *request;               /* the JSON-RPC request, owned */
    const json_t *id;              /* borrowed from request */
    char agent[ECL_NAME_MAX_LEN + 1];
    struct ecl_mcp_http_out *out;
    ecl_mcp_done_fn done;
    void *done_arg;
    pthread_mutex_t mu;
    int finished; /* ecl_mcp_call_done has built the response */
    int returned; /* ecl_mcp_handle has returned ECL_MCP_PENDING */
};

/* ---- the response ------------------------------------------------------------------------- */

void
ecl_mcp_http_out_init(struct ecl_mcp_http_out *out)
{
    memset(out, 0, sizeof *out);
    out->status = 500;
    ecl_buf_init(&out->body, ECL_MCP_MAX_RESPONSE_BYTES);
}

void
ecl_mcp_http_out_free(struct ecl_mcp_http_out *out)
{
    ecl_buf_free(&out->body);
    memset(out, 0, sizeof *out);
}

static int
dump_cb(const char *p, size_t n, void *arg)
{
    return ecl_buf_append((struct ecl_buf *)arg, p, n) == ECL_OK ? 0 : -1;
}

/* Sets a JSON body (takes msg).  A body that cannot be built (memory, the response cap)
 * becomes a 500 with a fixed JSON-RPC error, never a truncated body. */
/* The fixed 500 of a response that could not be built, never a truncated body. */
static void
reply_unbuilt(struct ecl_mcp_http_out *out)
{
    static const char fallback[] =
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":"
        "\"The response could not be built\"}}";

    ecl_buf_reset(&out->body);
    out->status = 500;
    out->content_type = JSON_TYPE;
    if (ecl_buf_append(&out->body, fallback, sizeof fallback - 1) != ECL_OK) {
        out->content_type = NULL;
    }
}

static void
reply_json(struct ecl_mcp_http_out *out, unsigned status, json_t *msg)
{
    ecl_buf_reset(&out->body);
    out->status = status;
    out->content_type = JSON_TYPE;
    if (msg == NULL || json_dump_callback(msg, dump_cb, &out->body, JSON_COMPACT) != 0) {
        reply_unbuilt(out);
    }
    json_decref(msg);
}

static void
reply_empty(struct ecl_mcp_http_out *out, unsigned status)
{
    ecl_buf_reset(&out->body);
    out->status = status;
    out->content_type = NULL;
}

/* A JSON-RPC error response; id may be NULL (sent as null).  data is taken. */
static void
reply_error(struct ecl_mcp_http_out *out, unsigned status, const json_t *id, enum rpc_code code,
            const char *message, json_t *data)
{
    json_t *err = json_pack("{s:i,s:s}", "code", (int)code, "message", message);

    if (err != NULL && data != NULL) {
        json_object_set(err, "data", data);
    }
    json_decref(data);
    reply_json(out, status,
               err == NULL ? NULL
                           : json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id",
                                       id != NULL ? id : json_null(), "error", err));
}

static void
reply_result(struct ecl_mcp_http_out *out, const json_t *id, json_t *result)
{
    reply_json(out, 200,
               result == NULL
                   ? NULL
                   : json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

static unsigned
failure_status(enum ecl_status st)
{
    switch (st) {
    case ECL_ERR_SEALED:
    case ECL_ERR_FULL:
    case ECL_ERR_IO:
        return 503;
    case ECL_OK:
    case ECL_ERR_NOMEM:
    case ECL_ERR_INVALID:
    case ECL_ERR_NOT_FOUND:
    case ECL_ERR_EXISTS:
    case ECL_ERR_CRYPTO:
    case ECL_ERR_PERM:
    case ECL_ERR_LIMIT:
    case ECL_ERR_DENIED:
    case ECL_ERR_CONFLICT:
    case ECL_ERR_INTERNAL:
        break;
    }
    return 500;
}

static void
reply_failure(struct ecl_mcp_http_out *out, const json_t *id, enum ecl_status st)
{
    unsigned status = failure_status(st);

    reply_error(out, status, id, status == 503 ? RPC_UNAVAILABLE : RPC_INTERNAL_ERROR,
                status == 503 ? "The gateway is unavailable" : "Internal error",
                json_pack("{s:s}", "status", ecl_status_name(st)));
}

/* ---- creation ----------------------------------------------------------------------------- */

static uint64_t
monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
ecl_mcp_free(struct ecl_mcp *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->norigins; i++) {
        free(m->origins[i]);
    }
    free(m->origins);
    session_table_free(m->sessions);
    tools_free(m->tools);
    free(m);
}

enum ecl_status
ecl_mcp_new(const struct ecl_mcp_config *cfg, struct ecl_mcp **out)
{
    struct ecl_mcp *m;
    const char *version = cfg->server_version != NULL ? cfg->server_version : "0";
    uint64_t idle_ms =
        cfg->session_idle_ms != 0 ? cfg->session_idle_ms : (uint64_t)ECL_MCP_SESSION_IDLE_S * 1000u;
    enum ecl_status st;

    if (cfg->backend == NULL || cfg->backend->agent_view == NULL || cfg->backend->call == NULL ||
        cfg->n_allowed_origins > ECL_MCP_MAX_ORIGINS ||
        (cfg->n_allowed_origins > 0 && cfg->allowed_origins == NULL) ||
        strlen(version) > ECL_NAME_MAX_LEN) {
        return ECL_ERR_INVALID;
    }
    for (size_t i = 0; i < cfg->n_allowed_origins; i++) {
        if (cfg->allowed_origins[i] == NULL ||
            strlen(cfg->allowed_origins[i]) > ECL_MCP_ORIGIN_MAX_LEN) {
            return ECL_ERR_INVALID;
        }
    }
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        return ECL_ERR_NOMEM;
    }
    m->backend = cfg->backend;
    m->backend_ctx = cfg->backend_ctx;
    memcpy(m->server_version, version, strlen(version) + 1);
    atomic_init(&m->pending, 0);
    if (cfg->allowed_origins != NULL) {
        m->origins = calloc(cfg->n_allowed_origins + 1, sizeof *m->origins);
        st = m->origins != NULL ? ECL_OK : ECL_ERR_NOMEM;
        for (size_t i = 0; st == ECL_OK && i < cfg->n_allowed_origins; i++) {
            m->origins[i] = strdup(cfg->allowed_origins[i]);
            if (m->origins[i] == NULL) {
                st = ECL_ERR_NOMEM;
            }
            m->norigins = i + 1;
        }
        if (st != ECL_OK) {
            goto fail;
        }
    }
    st = tools_load(&m->tools);
    if (st != ECL_OK) {
        goto fail;
    }
    st = session_table_new(cfg->max_sessions != 0 ? cfg->max_sessions : ECL_MCP_MAX_SESSIONS,
                           idle_ms, cfg->random != NULL ? cfg->random : ecl_crypto_random,
                           cfg->now_ms != NULL ? cfg->now_ms : monotonic_ms, &m->sessions);
    if (st != ECL_OK) {
        goto fail;
    }
    *out = m;
    return ECL_OK;
fail:
    ecl_mcp_free(m);
    return st;
}

size_t
ecl_mcp_pending(struct ecl_mcp *m)
{
    return atomic_load(&m->pending);
}

size_t
ecl_mcp_session_count(struct ecl_mcp *m)
{
    return session_count(m->sessions);
}

const json_t *
ecl_mcp_tools(const struct ecl_mcp *m)
{
    return tools_doc(m->tools);
}

/* ---- HTTP facts --------------------------------------------------------------------------- */

/* Default allow-list: a loopback origin, http or https, any port (basic/transports,
 * "Security Warning": validate Origin against DNS rebinding). */
static int
loopback_origin(const char *o)
{
    static const char *const hosts[] = {"localhost", "127.0.0.1", "[::1]"};
    const char *p;

    if (strncmp(o, "http://", 7) == 0) {
        p = o + 7;
    } else if (strncmp(o, "https://", 8) == 0) {
        p = o + 8;
    } else {
        return 0;
    }
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        size_t n = strlen(hosts[i]);
        if (strncmp(p, hosts[i], n) != 0) {
            continue;
        }
        p += n;
        if (*p == 0) {
            return 1;
        }
        if (*p != ':' || p[1] == 0 || strlen(p + 1) > 5) {
            return 0;
        }
        for (p++; *p != 0; p++) {
            if (*p < '0' || *p > '9') {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

static int
origin_allowed(const struct ecl_mcp *m, const char *origin)
{
    if (origin == NULL) {
        return 1; /* not a browser: nothing to rebind */
    }
    if (m->origins == NULL) {
        return loopback_origin(origin);
    }
    for (size_t i = 0; i < m->norigins; i++) {
        if (strcmp(origin, m->origins[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* 1 when a media type list (Accept, or a Content-Type when single) holds one of the wanted
 * types, compared without parameters and case-insensitively. */
static int
media_has(const char *list, const char *const *wanted, size_t nwanted, int single)
{
    const char *p = list;

    while (*p != 0) {
        const char *start;
        size_t n;

        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        start = p;
        while (*p != 0 && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') {
            p++;
        }
        n = (size_t)(p - start);
        for (size_t i = 0; i < nwanted; i++) {
            if (n > 0 && n == strlen(wanted[i]) && strncasecmp(start, wanted[i], n) == 0) {
                return 1;
            }
        }
        if (single) {
            return 0;
        }
        while (*p != 0 && *p != ',') {
            p++;
        }
    }
    return 0;
}

static int
version_index(const char *v, unsigned *out)
{
    for (unsigned i = 0; i < NVERSIONS; i++) {
        if (strcmp(v, VERSIONS[i]) == 0) {
            *out = i;
            return 1;
        }
    }
    return 0;
}

static json_t *
supported_versions(void)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < NVERSIONS; i++) {
        json_array_append_new(a, json_string(VERSIONS[i]));
    }
    return a;
}

/* ---- JSON-RPC messages -------------------------------------------------------------------- */

enum msg_kind {
    MSG_REQUEST = 0,
    MSG_NOTIFICATION,
    MSG_RESPONSE,
};

static int
valid_id(const json_t *id)
{
    /* MCP basic/index: "Requests MUST include a string or integer ID", never null. */
    return json_is_string(id) || json_is_integer(id);
}

/* JSON-RPC 2.0 section 4 and 5: a request, a notification or a response. */
static int
classify(const json_t *msg, enum msg_kind *kind)
{
    const json_t *v = json_object_get(msg, "jsonrpc");
    const json_t *id = json_object_get(msg, "id");
    const json_t *method = json_object_get(msg, "method");

    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0) {
        return 0;
    }
    if (method != NULL) {
        if (!json_is_string(method) || (id != NULL && !valid_id(id))) {
            return 0;
        }
        *kind = id != NULL ? MSG_REQUEST : MSG_NOTIFICATION;
        return 1;
    }
    if (valid_id(id) &&
        (json_object_get(msg, "result") != NULL) != (json_object_get(msg, "error") != NULL)) {
        *kind = MSG_RESPONSE;
        return 1;
    }
    return 0;
}

/* ---- methods ------------------------------------------------------------------------------ */

static const char INSTRUCTIONS[] =
    "Écluse releases citizen records under a policy. Every record call names a purpose; some "
    "purposes also need on_behalf_of (the official you act for) and case (a case reference). "
    "Values starting with ps_ are pseudonyms: stable for you, usable with get_record's pseudonym "
    "argument, never the real identifier. Values starting with tk_ are tokens only a data "
    "protection officer can reverse. null means redacted. Follow the obligations listed in "
    "meta.obligations of each result. Every call is recorded in an audit log.";

static void
do_initialize(struct ecl_mcp *m, const struct ecl_mcp_http_in *in, const json_t *id,
              const json_t *params, struct ecl_mcp_http_out *out)
{
    const json_t *pv = json_object_get(params, "protocolVersion");
    unsigned version;
    json_t *data;
    enum ecl_status st;

    if (!json_is_object(params) || !json_is_string(pv)) {
        reply_error(out, 200, id, RPC_INVALID_PARAMS, "initialize needs params.protocolVersion",
                    NULL);
        return;
    }
    if (!version_index(json_string_value(pv), &version)) {
        /* basic/lifecycle, "Error Handling": the supported versions in data.  The requested
         * value is echoed only when short (it is a version string, not personal data). */
        data = json_pack("{s:o}", "supported", supported_versions());
        if (data != NULL && json_string_length(pv) <= 32) {
            json_object_set_new(data, "requested",
                                json_stringn(json_string_value(pv), json_string_length(pv)));
        }
        reply_error(out, 200, id, RPC_INVALID_PARAMS, "Unsupported protocol version", data);
        return;
    }
    st = session_create(m->sessions, in->agent, version, out->session_id);
    if (st != ECL_OK) {
        out->session_id[0] = 0;
        reply_error(out, 503, id, RPC_UNAVAILABLE, "Too many MCP sessions, retry later", NULL);
        return;
    }
    reply_result(out, id,
                 json_pack("{s:s,s:{s:{s:b}},s:{s:s,s:s,s:s},s:s}", "protocolVersion",
                           VERSIONS[version], "capabilities", "tools", "listChanged", 0,
                           "serverInfo", "name", "ecluse", "title", "Écluse", "version",
                           m->server_version, "instructions", INSTRUCTIONS));
    if (out->status != 200) {
        /* The client will never learn the id: do not keep the session. */
        (void)session_end(m->sessions, out->session_id, in->agent);
        out->session_id[0] = 0;
    }
}

static void
do_tools_list(struct ecl_mcp *m, const char *agent, const json_t *id, const json_t *params,
              struct ecl_mcp_http_out *out)
{
    json_t *view = NULL;
    json_t *result = NULL;
    enum ecl_status st;

    /* server/utilities/pagination: we never hand out cursors, so any cursor is invalid. */
    if (json_object_get(params, "cursor") != NULL) {
        reply_error(out, 200, id, RPC_INVALID_PARAMS, "Invalid cursor", NULL);
        return;
    }
    st = m->backend->agent_view(m->backend_ctx, agent, &view);
    if (st == ECL_OK) {
        st = tools_list_for(m->tools, view, &result);
        if (st == ECL_ERR_INVALID) {
            st = ECL_ERR_INTERNAL; /* the backend broke its contract: fail closed */
        }
    }
    json_decref(view);
    if (st != ECL_OK) {
        reply_failure(out, id, st);
        return;
    }
    reply_result(out, id, result);
}

/* A tool result: content (a text item), structuredContent and isError. */
static json_t *
tool_result(json_t *text, json_t *structured, int is_error)
{
    return json_pack("{s:[{s:s,s:o}],s:o,s:b}", "content", "type", "text", "text", text,
                     "structuredContent", structured, "isError", is_error);
}

static int
valid_code(const char *code)
{
    size_t n = code != NULL ? strlen(code) : 0;

    if (n == 0 || n > ECL_MCP_CODE_MAX_LEN) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = code[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return 1;
}

/* The refusal as a tool result: {"error": {code, message, audit_seq?}}, isError true. */
static json_t *
refusal_result(const char *code, const char *message, int has_seq, uint64_t seq)
{
    char msg[ECL_MCP_MESSAGE_MAX_LEN + 1];
    size_t n = strnlen(message, ECL_MCP_MESSAGE_MAX_LEN);
    json_t *err;
    json_t *text;

    /* Cut on a UTF-8 character boundary. */
    while (n > 0 && n < strlen(message) && ((unsigned char)message[n] & 0xC0) == 0x80) {
        n--;
    }
    memcpy(msg, message, n);
    msg[n] = 0;
    err = json_pack("{s:s,s:s}", "code", code, "message", msg);
    if (err == NULL) {
        return NULL;
    }
    if (has_seq && (seq > (uint64_t)INT64_MAX ||
                    json_object_set_new(err, "audit_seq", json_integer((json_int_t)seq)) != 0)) {
        json_decref(err);
        return NULL;
    }
    text = json_sprintf("Refused (%s): %s", code, msg);
    if (text == NULL) {
        json_decref(err);
        return NULL;
    }
    return tool_result(text, json_pack("{s:o}", "error", err), 1);
}

static void
call_free(struct ecl_mcp_call *c)
{
    atomic_fetch_sub(&c->m->pending, 1);
    pthread_mutex_destroy(&c->mu);
    json_decref(c->request);
    free(c);
}

const struct ecl_mcp_call_args *
ecl_mcp_call_args(const struct ecl_mcp_call *call)
{
    return &call->args;
}

/* Grows b once to hold n more bytes (as far as its cap allows) so that the appends that follow
 * do not grow it step by step, each step copying and wiping the previous block.  Only a hint:
 * when it cannot, the appends grow b or fail themselves. */
static void
reserve(struct ecl_buf *b, size_t n)
{
    uint8_t *p;
    size_t len = b->len;

    if (b->len <= b->max && n > b->max - b->len) {
        n = b->max - b->len;
    }
    if (n > 0 && ecl_buf_extend(b, n, &p) == ECL_OK) {
        ecl_buf_truncate(b, len);
    }
}

enum tool_ok_outcome
tool_ok_response(enum ecl_mcp_tool tool, const json_t *id, const json_t *result, const char *json,
                 size_t json_len, struct ecl_buf *out)
{
    struct ecl_buf text;
    enum tool_ok_outcome res = TOOL_OK_TOO_BIG;
    enum ecl_status st;

    ecl_buf_reset(out);
    ecl_buf_init(&text, ECL_MCP_MAX_RESPONSE_BYTES);
    reserve(&text, json_len <= SIZE_MAX - 512 ? json_len + 512 : json_len);
    if (tools_render_text(tool, result, json, json_len, &text) != ECL_OK) {
        res = TOOL_OK_TEXT;
        goto out;
    }
    /* The members in the order tool_result and reply_result give them (jansson keeps insertion
     * order), written as jansson's compact dump writes them. */
    /* the envelope, the text with room for its escapes (a quote becomes two bytes), the JSON */
    if (text.len <= (SIZE_MAX - 512) / 2 && json_len <= SIZE_MAX - 512 - text.len - text.len / 2) {
        reserve(out, 512 + text.len + text.len / 2 + json_len);
    }
    if (ecl_buf_append_str(out, "{\"jsonrpc\":\"2.0\",\"id\":") != ECL_OK ||
        json_dump_callback(id, dump_cb, out, JSON_COMPACT | JSON_ENCODE_ANY) != 0 ||
        ecl_buf_append_str(out, ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":") !=
            ECL_OK) {
        goto out;
    }
    st = ecl_json_str_append(out, (const char *)text.ptr, text.len, ECL_JSON_STR_UTF8);
    if (st == ECL_ERR_INVALID) {
        res = TOOL_OK_TEXT; /* not UTF-8: json_stringn would have refused it */
        goto out;
    }
    if (st != ECL_OK || ecl_buf_append_str(out, "}],\"structuredContent\":") != ECL_OK ||
        ecl_buf_append(out, json, json_len) != ECL_OK ||
        ecl_buf_append_str(out, ",\"isError\":false}}") != ECL_OK) {
        goto out;
    }
    res = TOOL_OK_BUILT;
out:
    if (res != TOOL_OK_BUILT) {
        ecl_buf_reset(out);
    }
    ecl_buf_free(&text);
    return res;
}

/* A successful result (checked against the outputSchema) as the response, into out: from the
 * bytes it was parsed from when the backend gave them, else from its compact dump. */
static void
reply_tool_ok(struct ecl_mcp_http_out *out, enum ecl_mcp_tool tool, const json_t *id,
              const struct ecl_mcp_reply *r)
{
    struct ecl_buf dumped;
    const char *json = r->body;
    size_t json_len = r->body_len;
    enum tool_ok_outcome res = TOOL_OK_TEXT;

    ecl_buf_init(&dumped, ECL_MCP_MAX_RESPONSE_BYTES);
    if (json == NULL) {
        if (json_dump_callback(r->result, dump_cb, &dumped, JSON_COMPACT) != 0) {
            goto out;
        }
        json = (const char *)dumped.ptr;
        json_len = dumped.len;
    }
    res = tool_ok_response(tool, id, r->result, json, json_len, &out->body);
out:
    switch (res) {
    case TOOL_OK_BUILT:
        out->status = 200;
        out->content_type = JSON_TYPE;
        break;
    case TOOL_OK_TEXT:
        reply_failure(out, id, ECL_ERR_NOMEM);
        break;
    case TOOL_OK_TOO_BIG:
        reply_unbuilt(out);
        break;
    }
    ecl_buf_free(&dumped);
}

/* The response to a finished call, into c->out. */
static void
call_respond(struct ecl_mcp_call *c, const struct ecl_mcp_reply *r)
{
    const json_t *schema = tools_output_schema(c->m->tools, c->args.tool);
    json_t *res;

    switch (r->kind) {
    case ECL_MCP_REPLY_OK:
        /* The server MUST conform to its outputSchema (server/tools): check before sending,
         * and send nothing of a result that does not. */
        if (!json_is_object(r->result) || json_object_get(r->result, "data") == NULL ||
            !jschema_valid(schema, r->result, NULL)) {
            reply_failure(c->out, c->id, ECL_ERR_INTERNAL);
            return;
        }
        reply_tool_ok(c->out, c->args.tool, c->id, r);
        return;
    case ECL_MCP_REPLY_REFUSED:
        if (!valid_code(r->code) || r->message == NULL) {
            reply_failure(c->out, c->id, ECL_ERR_INTERNAL);
            return;
        }
        res = refusal_result(r->code, r->message, r->has_audit_seq, r->audit_seq);
        if (res == NULL) {
            reply_failure(c->out, c->id, ECL_ERR_NOMEM);
            return;
        }
        reply_result(c->out, c->id, res);
        return;
    case ECL_MCP_REPLY_FAILED:
        reply_failure(c->out, c->id, r->status == ECL_OK ? ECL_ERR_INTERNAL : r->status);
        return;
    }
    reply_failure(c->out, c->id, ECL_ERR_INTERNAL);
}

void
ecl_mcp_call_done(struct ecl_mcp_call *c, const struct ecl_mcp_reply *r)
{
    int returned;

    call_respond(c, r);
    json_decref(r->result);
    pthread_mutex_lock(&c->mu);
    c->finished = 1;
    returned = c->returned;
    pthread_mutex_unlock(&c->mu);
    /* If ecl_mcp_handle has not returned yet it sees finished and answers at once; it owns
     * the call from here and we must not touch it.  Otherwise the call is released before
     * done runs, so that the caller may free everything (even the ecl_mcp) from done on. */
    if (returned) {
        ecl_mcp_done_fn done = c->done;
        void *done_arg = c->done_arg;
        struct ecl_mcp_http_out *out = c->out;
        call_free(c);
        done(done_arg, out);
    }
}

/* Takes request (the whole JSON-RPC message; id and params point into it). */
static enum ecl_mcp_outcome
do_tools_call(struct ecl_mcp *m, const char *agent, json_t *request, const json_t *id,
              const json_t *params, struct ecl_mcp_http_out *out, ecl_mcp_done_fn done,
              void *done_arg)
{
    const json_t *name = json_object_get(params, "name");
    const json_t *arguments = json_object_get(params, "arguments");
    const char *where = NULL;
    enum ecl_mcp_tool tool;
    struct ecl_mcp_call *c;
    int finished;

    if (!json_is_object(params) || !json_is_string(name)) {
        reply_error(out, 200, id, RPC_INVALID_PARAMS, "tools/call needs params.name", NULL);
        json_decref(request);
        return ECL_MCP_DONE;
    }
    if (!tools_find(m->tools, json_string_value(name), &tool)) {
        reply_error(out, 200, id, RPC_INVALID_PARAMS, "Unknown tool", NULL);
        json_decref(request);
        return ECL_MCP_DONE;
    }
    if (arguments != NULL && !json_is_object(arguments)) {
        reply_error(out, 200, id, RPC_INVALID_PARAMS, "params.arguments must be an object", NULL);
        json_decref(request);
        return ECL_MCP_DONE;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        reply_failure(out, id, ECL_ERR_NOMEM);
        json_decref(request);
        return ECL_MCP_DONE;
    }
    atomic_fetch_add(&m->pending, 1);
    c->m = m;
    c->request = request;
    c->id = id;
    c->out = out;
    c->done = done;
    c->done_arg = done_arg;
    memcpy(c->agent, agent, strlen(agent) + 1); /* length checked by ecl_mcp_handle */
    if (arguments == NULL) {
        arguments = json_object();
        if (arguments == NULL ||
            json_object_set_new((json_t *)params, "arguments", (json_t *)arguments) != 0) {
            reply_failure(out, id, ECL_ERR_NOMEM);
            call_free(c);
            return ECL_MCP_DONE;
        }
    }
    /* server/tools: input validation errors are tool execution errors (isError), so that the
     * model can correct itself; they reach no record and disclose nothing. */
    if (!jschema_valid(tools_input_schema(m->tools, tool), arguments, &where)) {
        char msg[ECL_MCP_MESSAGE_MAX_LEN];
        json_t *res;
        (void)snprintf(msg, sizeof msg, "The arguments do not match the tool's inputSchema (%s).",
                       where);
        res = refusal_result("invalid_argument", msg, 0, 0);
        if (res == NULL) {
            reply_failure(out, id, ECL_ERR_NOMEM);
        } else {
            reply_result(out, id, res);
        }
        call_free(c);
        return ECL_MCP_DONE;
    }
    tools_args_from(tool, arguments, &c->args);
    c->args.agent = c->agent;

    m->backend->call(m->backend_ctx, c);

    pthread_mutex_lock(&c->mu);
    finished = c->finished;
    c->returned = 1;
    pthread_mutex_unlock(&c->mu);
    if (finished) {
        call_free(c);
        return ECL_MCP_DONE;
    }
    return ECL_MCP_PENDING;
}

/* ---- the endpoint ------------------------------------------------------------------------- */

/* Step 7 for every message but initialize: the session, and the version it negotiated. */
static int
check_session(struct ecl_mcp *m, const struct ecl_mcp_http_in *in, struct ecl_mcp_http_out *out)
{
    unsigned negotiated;
    unsigned sent;
    const char *header =
        in->protocol_version != NULL ? in->protocol_version : VERSION_WITHOUT_HEADER;

    if (in->session_id == NULL) {
        reply_error(out, 400, NULL, RPC_BAD_REQUEST, "Mcp-Session-Id header is required", NULL);
        return 0;
    }
    if (session_touch(m->sessions, in->session_id, in->agent, &negotiated) != SESSION_FOUND) {
        /* basic/transports: 404 tells the client to start a new session. */
        reply_error(out, 404, NULL, RPC_SESSION_NOT_FOUND, "Session not found", NULL);
        return 0;
    }
    /* basic/transports, "Protocol Version Header": the version negotiated at initialize. */
    if (!version_index(header, &sent) || sent != negotiated) {
        reply_error(out, 400, NULL, RPC_BAD_REQUEST,
                    "MCP-Protocol-Version does not match the negotiated version",
                    json_pack("{s:s}", "negotiated", VERSIONS[negotiated]));
        return 0;
    }
    return 1;
}

static void
handle_delete(struct ecl_mcp *m, const struct ecl_mcp_http_in *in, struct ecl_mcp_http_out *out)
{
    if (!check_session(m, in, out)) {
        return;
    }
    if (session_end(m->sessions, in->session_id, in->agent) != SESSION_FOUND) {
        reply_error(out, 404, NULL, RPC_SESSION_NOT_FOUND, "Session not found", NULL);
        return;
    }
    reply_empty(out, 204);
}

static enum ecl_mcp_outcome
handle_post(struct ecl_mcp *m, const struct ecl_mcp_http_in *in, struct ecl_mcp_http_out *out,
            ecl_mcp_done_fn done, void *done_arg)
{
    static const char *const json_only[] = {"application/json"};
    static const char *const acceptable[] = {"application/json", "application/*", "*/*"};
    const char *why = NULL;
    const char *method;
    const json_t *id;
    const json_t *params;
    json_t *msg;
    enum msg_kind kind;
    unsigned ignored;
    enum ecl_mcp_outcome outcome = ECL_MCP_DONE;

    /* Step 4: media types and size. */
    if (in->content_type == NULL || !media_has(in->content_type, json_only, 1, 1)) {
        reply_error(out, 415, NULL, RPC_BAD_REQUEST, "Content-Type must be application/json", NULL);
        return ECL_MCP_DONE;
    }
    if (in->accept != NULL && !media_has(in->accept, acceptable, 3, 0)) {
        reply_error(out, 406, NULL, RPC_BAD_REQUEST, "Accept must allow application/json", NULL);
        return ECL_MCP_DONE;
    }
    if (in->body_len > ECL_MCP_MAX_BODY_BYTES) {
        reply_error(out, 413, NULL, RPC_BAD_REQUEST, "The message is too large", NULL);
        return ECL_MCP_DONE;
    }
    /* Step 5: one JSON-RPC message (2025-06-18 removed batching). */
    msg = ecl_json_load((const char *)in->body, in->body_len, ECL_JSON_MAX_DEPTH, &why, NULL);
    if (msg == NULL) {
        reply_error(out, 400, NULL, RPC_PARSE_ERROR, "Parse error", NULL);
        return ECL_MCP_DONE;
    }
    if (json_is_array(msg)) {
        reply_error(out, 400, NULL, RPC_INVALID_REQUEST, "Batches are not supported", NULL);
        goto out;
    }
    id = json_object_get(msg, "id");
    if (!json_is_object(msg) || !classify(msg, &kind)) {
        reply_error(out, 400, valid_id(id) ? id : NULL, RPC_INVALID_REQUEST, "Invalid Request",
                    NULL);
        goto out;
    }
    /* Step 6: a version header we do not speak is refused whatever the message. */
    if (in->protocol_version != NULL && !version_index(in->protocol_version, &ignored)) {
        reply_error(out, 400, NULL, RPC_BAD_REQUEST, "Unsupported MCP-Protocol-Version",
                    json_pack("{s:o}", "supported", supported_versions()));
        goto out;
    }
    method = kind == MSG_RESPONSE ? "" : json_string_value(json_object_get(msg, "method"));
    params = json_object_get(msg, "params");
    /* Step 7: sessions. */
    if (kind == MSG_REQUEST && strcmp(method, "initialize") == 0) {
        if (in->session_id != NULL) {
            reply_error(out, 400, id, RPC_INVALID_REQUEST,
                        "initialize must not carry an Mcp-Session-Id", NULL);
            goto out;
        }
        do_initialize(m, in, id, params, out);
        goto out;
    }
    if (!check_session(m, in, out)) {
        goto out;
    }
    if (kind != MSG_REQUEST) {
        /* Notifications (initialized, cancelled, ...) and responses: accepted, no body. */
        reply_empty(out, 202);
        goto out;
    }
    /* Step 8: the method. */
    if (params != NULL && !json_is_object(params)) {
        reply_error(out, 200, id, RPC_INVALID_PARAMS, "params must be an object", NULL);
    } else if (strcmp(method, "ping") == 0) {
        reply_result(out, id, json_object());
    } else if (strcmp(method, "tools/list") == 0) {
        do_tools_list(m, in->agent, id, params, out);
    } else if (strcmp(method, "tools/call") == 0) {
        /* The call takes the message: jansson values must not be shared between threads
         * (the backend may complete on another one). */
        outcome = do_tools_call(m, in->agent, msg, id, params, out, done, done_arg);
        msg = NULL;
    } else {
        reply_error(out, 200, id, RPC_METHOD_NOT_FOUND, "Method not found", NULL);
    }
out:
    json_decref(msg);
    return outcome;
}

enum ecl_mcp_outcome
ecl_mcp_handle(struct ecl_mcp *m, const struct ecl_mcp_http_in *in, struct ecl_mcp_http_out *out,
               ecl_mcp_done_fn done, void *done_arg)
{
    out->session_id[0] = 0;
    out->allow = NULL;
    /* Step 1: Origin, before anything else (basic/transports, "Security Warning"). */
    if (!origin_allowed(m, in->origin)) {
        reply_error(out, 403, NULL, RPC_FORBIDDEN, "Origin not allowed", NULL);
        return ECL_MCP_DONE;
    }
    if ((in->session_id != NULL && strlen(in->session_id) > ECL_MCP_HEADER_MAX_LEN) ||
        (in->protocol_version != NULL && strlen(in->protocol_version) > ECL_MCP_HEADER_MAX_LEN)) {
        reply_error(out, 400, NULL, RPC_BAD_REQUEST, "A header is too long", NULL);
        return ECL_MCP_DONE;
    }
    /* Step 2: the HTTP layer authenticated the bearer key; sessions never do. */
    if (in->agent == NULL || in->agent[0] == 0 || strlen(in->agent) > ECL_NAME_MAX_LEN) {
        reply_error(out, 401, NULL, RPC_UNAUTHORIZED, "Authentication required", NULL);
        return ECL_MCP_DONE;
    }
    /* Step 3: the method.  No server-initiated stream: GET is 405 (basic/transports). */
    switch (in->method) {
    case ECL_MCP_POST:
        return handle_post(m, in, out, done, done_arg);
    case ECL_MCP_DELETE:
        handle_delete(m, in, out);
        return ECL_MCP_DONE;
    case ECL_MCP_GET:
    case ECL_MCP_OTHER:
        break;
    }
    reply_error(out, 405, NULL, RPC_BAD_REQUEST, "Method not allowed", NULL);
    out->allow = "POST, DELETE";
    return ECL_MCP_DONE;
}
