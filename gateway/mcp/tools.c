/* The five tools: their definitions (mcp_tools.json, embedded), the per-agent tools/list, the
 * arguments handed to the backend and the short text rendering of results.  The definitions
 * are the contract documented in docs/mcp.md (a test checks that the two agree). */
#include <stdlib.h>
#include <string.h>

#include "ecl/buf.h"
#include "ecl/limits.h"
#include "ecl/schema.h"
#include "mcp_internal.h"

extern const char ecl_asset_mcp_tools[];
extern const size_t ecl_asset_mcp_tools_len;

static const char *const TOOL_NAMES[ECL_MCP_TOOL_COUNT] = {
    [ECL_MCP_TOOL_LIST_DATASETS] = "list_datasets",
    [ECL_MCP_TOOL_DESCRIBE_DATASET] = "describe_dataset",
    [ECL_MCP_TOOL_GET_RECORD] = "get_record",
    [ECL_MCP_TOOL_QUERY_RECORDS] = "query_records",
    [ECL_MCP_TOOL_EXPLAIN_ACCESS] = "explain_access",
};

struct tools {
    json_t *doc;                      /* {"tools": [...]} in enum ecl_mcp_tool order */
    json_t *tool[ECL_MCP_TOOL_COUNT]; /* borrowed from doc */
    const json_t *view_schema;        /* list_datasets' data schema: the agent view */
};

const char *
ecl_mcp_tool_name(enum ecl_mcp_tool t)
{
    switch (t) {
    case ECL_MCP_TOOL_LIST_DATASETS:
    case ECL_MCP_TOOL_DESCRIBE_DATASET:
    case ECL_MCP_TOOL_GET_RECORD:
    case ECL_MCP_TOOL_QUERY_RECORDS:
    case ECL_MCP_TOOL_EXPLAIN_ACCESS:
        return TOOL_NAMES[t];
    }
    return "unknown";
}

enum ecl_status
tools_load(struct tools **out)
{
    const char *why = NULL;
    struct tools *t;
    json_t *list;

    t = calloc(1, sizeof *t);
    if (t == NULL) {
        return ECL_ERR_NOMEM;
    }
    t->doc =
        ecl_json_load(ecl_asset_mcp_tools, ecl_asset_mcp_tools_len, ECL_JSON_MAX_DEPTH, &why, NULL);
    list = json_object_get(t->doc, "tools");
    if (!json_is_array(list) || json_array_size(list) != ECL_MCP_TOOL_COUNT) {
        tools_free(t);
        return ECL_ERR_INTERNAL;
    }
    for (size_t i = 0; i < ECL_MCP_TOOL_COUNT; i++) {
        json_t *tool = json_array_get(list, i);
        json_t *out_schema = json_object_get(tool, "outputSchema");
        if (!json_is_string(json_object_get(tool, "name")) ||
            strcmp(json_string_value(json_object_get(tool, "name")), TOOL_NAMES[i]) != 0 ||
            !json_is_string(json_object_get(tool, "description")) ||
            !jschema_supported(json_object_get(tool, "inputSchema")) ||
            !jschema_supported(out_schema)) {
            tools_free(t);
            return ECL_ERR_INTERNAL;
        }
        t->tool[i] = tool;
    }
    t->view_schema = json_object_get(
        json_object_get(json_object_get(t->tool[ECL_MCP_TOOL_LIST_DATASETS], "outputSchema"),
                        "properties"),
        "data");
    if (t->view_schema == NULL) {
        tools_free(t);
        return ECL_ERR_INTERNAL;
    }
    *out = t;
    return ECL_OK;
}

void
tools_free(struct tools *t)
{
    if (t == NULL) {
        return;
    }
    json_decref(t->doc);
    free(t);
}

const json_t *
tools_doc(const struct tools *t)
{
    return t->doc;
}

int
tools_find(const struct tools *t, const char *name, enum ecl_mcp_tool *out)
{
    (void)t;
    for (size_t i = 0; i < ECL_MCP_TOOL_COUNT; i++) {
        if (strcmp(name, TOOL_NAMES[i]) == 0) {
            *out = (enum ecl_mcp_tool)i;
            return 1;
        }
    }
    return 0;
}

const json_t *
tools_input_schema(const struct tools *t, enum ecl_mcp_tool tool)
{
    return json_object_get(t->tool[tool], "inputSchema");
}

const json_t *
tools_output_schema(const struct tools *t, enum ecl_mcp_tool tool)
{
    return json_object_get(t->tool[tool], "outputSchema");
}

/* ---- per-agent listing -------------------------------------------------------------------- */

static int
has_string(const json_t *array, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(array, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Appends ", " between items of a list being written. */
static enum ecl_status
sep(struct ecl_buf *b, int *first)
{
    if (*first) {
        *first = 0;
        return ECL_OK;
    }
    return ecl_buf_append_str(b, ", ");
}

/* "pseudonymized (ps_...): a, b" for the fields of a purpose with the given action. */
static enum ecl_status
fields_with(struct ecl_buf *b, const json_t *fields, const char *action, const char *label)
{
    const char *k;
    json_t *v;
    int first = 1;

    json_object_foreach((json_t *)fields, k, v)
    {
        if (strcmp(json_string_value(v), action) != 0) {
            continue;
        }
        if (first) {
            ECL_GUARD(ecl_buf_append_str(b, "; "));
            ECL_GUARD(ecl_buf_append_str(b, label));
            ECL_GUARD(ecl_buf_append_str(b, ": "));
        }
        ECL_GUARD(sep(b, &first));
        ECL_GUARD(ecl_buf_append_str(b, k));
    }
    return ECL_OK;
}

static enum ecl_status
string_list(struct ecl_buf *b, const json_t *array, const char *between)
{
    size_t i;
    json_t *v;

    json_array_foreach(array, i, v)
    {
        if (i > 0) {
            ECL_GUARD(ecl_buf_append_str(b, between));
        }
        ECL_GUARD(ecl_buf_append_str(b, json_string_value(v)));
    }
    return ECL_OK;
}

/* The "your access" paragraph: datasets, purposes, operations, requirements, which fields come
 * back as pseudonyms or tokens, and the obligations.  detail 0 names datasets and purposes
 * only. */
static enum ecl_status
describe_access(struct ecl_buf *b, const json_t *datasets, int detail)
{
    size_t i;
    size_t j;
    json_t *ds;
    json_t *p;

    if (json_array_size(datasets) == 0) {
        return ecl_buf_append_str(b, "\n\nYour policy grants you no dataset at the moment.");
    }
    ECL_GUARD(ecl_buf_append_str(b, "\n\nYour access:"));
    json_array_foreach(datasets, i, ds)
    {
        ECL_GUARD(ecl_buf_append_str(b, "\n- dataset "));
        ECL_GUARD(ecl_buf_append_str(b, json_string_value(json_object_get(ds, "name"))));
        json_array_foreach(json_object_get(ds, "purposes"), j, p)
        {
            const json_t *ops = json_object_get(p, "operations");
            const json_t *req = json_object_get(p, "requires");
            const json_t *fields = json_object_get(p, "fields");
            const json_t *obl = json_object_get(p, "obligations");

            ECL_GUARD(ecl_buf_append_str(b, j == 0 ? ", purpose " : "; purpose "));
            ECL_GUARD(ecl_buf_append_str(b, json_string_value(json_object_get(p, "purpose"))));
            if (!detail) {
                continue;
            }
            ECL_GUARD(ecl_buf_append_str(b, " ("));
            ECL_GUARD(json_array_size(ops) > 0 ? string_list(b, ops, ", ")
                                               : ecl_buf_append_str(b, "no record access"));
            if (json_array_size(req) > 0) {
                ECL_GUARD(ecl_buf_append_str(b, "; requires "));
                ECL_GUARD(string_list(b, req, " and "));
            }
            ECL_GUARD(fields_with(b, fields, "pseudonymize", "pseudonyms (ps_...)"));
            ECL_GUARD(fields_with(b, fields, "tokenize", "tokens (tk_...)"));
            ECL_GUARD(fields_with(b, fields, "mask", "masked"));
            ECL_GUARD(fields_with(b, fields, "generalize", "generalized"));
            ECL_GUARD(fields_with(b, fields, "redact", "redacted (null)"));
            if (json_array_size(obl) > 0) {
                ECL_GUARD(ecl_buf_append_str(b, "; obligations: "));
                ECL_GUARD(string_list(b, obl, "; "));
            }
            ECL_GUARD(ecl_buf_append_str(b, ")"));
        }
    }
    return ECL_OK;
}

static enum ecl_status
listed_tool(const json_t *def, const json_t *datasets, int detail, json_t *list)
{
    struct ecl_buf b;
    const char *s = NULL;
    json_t *tool = NULL;
    enum ecl_status st;

    ecl_buf_init(&b, ECL_MCP_TEXT_MAX_BYTES);
    st = ecl_buf_append_str(&b, json_string_value(json_object_get(def, "description")));
    if (st == ECL_OK) {
        st = describe_access(&b, datasets, detail);
    }
    if (st == ECL_OK) {
        st = ecl_buf_cstr(&b, &s);
    }
    if (st != ECL_OK) {
        goto out;
    }
    tool = json_deep_copy(def);
    if (tool == NULL || json_object_set_new(tool, "description", json_string(s)) != 0 ||
        json_array_append(list, tool) != 0) {
        st = ECL_ERR_NOMEM;
    }
out:
    json_decref(tool);
    ecl_buf_free(&b);
    return st;
}

enum ecl_status
tools_list_for(const struct tools *t, const json_t *view, json_t **out)
{
    const json_t *datasets = json_object_get(view, "datasets");
    int visible[ECL_MCP_TOOL_COUNT] = {0};
    size_t i;
    size_t j;
    json_t *ds;
    json_t *p;
    json_t *list;
    json_t *result;
    enum ecl_status st = ECL_OK;

    if (!json_is_object(view) || datasets == NULL ||
        !jschema_valid(t->view_schema, datasets, NULL)) {
        return ECL_ERR_INVALID;
    }
    /* Record tools appear only when some purpose grants the operation: an agent is not shown
     * tools it cannot use.  Calling a hidden tool still goes to the policy (and the audit). */
    visible[ECL_MCP_TOOL_LIST_DATASETS] = 1;
    visible[ECL_MCP_TOOL_EXPLAIN_ACCESS] = 1;
    json_array_foreach(datasets, i, ds)
    {
        visible[ECL_MCP_TOOL_DESCRIBE_DATASET] = 1;
        json_array_foreach(json_object_get(ds, "purposes"), j, p)
        {
            const json_t *ops = json_object_get(p, "operations");
            visible[ECL_MCP_TOOL_GET_RECORD] |= has_string(ops, "get");
            visible[ECL_MCP_TOOL_QUERY_RECORDS] |= has_string(ops, "query");
        }
    }
    list = json_array();
    if (list == NULL) {
        return ECL_ERR_NOMEM;
    }
    for (size_t k = 0; k < ECL_MCP_TOOL_COUNT && st == ECL_OK; k++) {
        int detail = k == ECL_MCP_TOOL_GET_RECORD || k == ECL_MCP_TOOL_QUERY_RECORDS ||
                     k == ECL_MCP_TOOL_EXPLAIN_ACCESS;
        if (visible[k]) {
            st = listed_tool(t->tool[k], datasets, detail, list);
        }
    }
    if (st != ECL_OK) {
        json_decref(list);
        return st;
    }
    result = json_pack("{s:o}", "tools", list);
    if (result == NULL) {
        return ECL_ERR_NOMEM;
    }
    *out = result;
    return ECL_OK;
}

/* ---- arguments ---------------------------------------------------------------------------- */

static const char *
str_arg(const json_t *arguments, const char *key)
{
    return json_string_value(json_object_get(arguments, key)); /* NULL when absent */
}

void
tools_args_from(enum ecl_mcp_tool tool, const json_t *arguments, struct ecl_mcp_call_args *args)
{
    const json_t *limit = json_object_get(arguments, "limit");

    args->tool = tool;
    args->dataset = str_arg(arguments, "dataset");
    args->purpose = str_arg(arguments, "purpose");
    args->id = str_arg(arguments, "id");
    args->pseudonym = str_arg(arguments, "pseudonym");
    args->where = json_object_get(arguments, "where");
    args->fields = json_object_get(arguments, "fields");
    /* inputSchema bounds limit to 1..ECL_HTTP_RECORDS_PER_REQUEST */
    args->limit = json_is_integer(limit) && json_integer_value(limit) > 0
                      ? (size_t)json_integer_value(limit)
                      : 0;
    args->cursor = str_arg(arguments, "cursor");
    args->on_behalf_of = str_arg(arguments, "on_behalf_of");
    args->case_ref = str_arg(arguments, "case");
}

/* ---- text rendering ----------------------------------------------------------------------- */

static enum ecl_status
append_u64(struct ecl_buf *b, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof tmp;

    tmp[--n] = 0;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return ecl_buf_append_str(b, tmp + n);
}

static enum ecl_status
summary(struct ecl_buf *b, enum ecl_mcp_tool tool, const json_t *result)
{
    const json_t *data = json_object_get(result, "data");
    const json_t *meta = json_object_get(result, "meta");
    const json_t *rule = json_object_get(meta, "rule_id");
    const json_t *next = json_object_get(meta, "next_cursor");
    const json_t *obl = json_object_get(meta, "obligations");

    switch (tool) {
    case ECL_MCP_TOOL_LIST_DATASETS:
        ECL_GUARD(append_u64(b, json_array_size(data)));
        ECL_GUARD(ecl_buf_append_str(b, " dataset(s) available to you."));
        break;
    case ECL_MCP_TOOL_DESCRIBE_DATASET:
        ECL_GUARD(ecl_buf_append_str(b, "Dataset "));
        ECL_GUARD(ecl_buf_append_str(b, json_string_value(json_object_get(data, "name"))));
        ECL_GUARD(ecl_buf_append_str(b, ": "));
        ECL_GUARD(append_u64(b, json_array_size(json_object_get(data, "fields"))));
        ECL_GUARD(ecl_buf_append_str(b, " field(s), "));
        ECL_GUARD(append_u64(b, json_array_size(json_object_get(data, "purposes"))));
        ECL_GUARD(ecl_buf_append_str(b, " purpose(s) granted to you."));
        break;
    case ECL_MCP_TOOL_GET_RECORD:
        ECL_GUARD(ecl_buf_append_str(b, "1 record (rule "));
        ECL_GUARD(ecl_buf_append_str(b, json_string_value(rule)));
        ECL_GUARD(ecl_buf_append_str(b, ")."));
        break;
    case ECL_MCP_TOOL_QUERY_RECORDS:
        ECL_GUARD(append_u64(b, json_array_size(data)));
        ECL_GUARD(ecl_buf_append_str(b, " record(s) (rule "));
        ECL_GUARD(ecl_buf_append_str(b, json_string_value(rule)));
        ECL_GUARD(ecl_buf_append_str(b, json_is_string(next)
                                            ? "); more pages: pass meta.next_cursor as cursor."
                                            : "); no more pages."));
        break;
    case ECL_MCP_TOOL_EXPLAIN_ACCESS:
        ECL_GUARD(ecl_buf_append_str(b, "Purpose "));
        ECL_GUARD(ecl_buf_append_str(b, json_string_value(json_object_get(data, "purpose"))));
        ECL_GUARD(ecl_buf_append_str(b, ": "));
        ECL_GUARD(append_u64(b, json_array_size(json_object_get(data, "datasets"))));
        ECL_GUARD(ecl_buf_append_str(b, " dataset(s)."));
        break;
    }
    if (json_array_size(obl) > 0) {
        ECL_GUARD(ecl_buf_append_str(b, " Obligations: "));
        ECL_GUARD(string_list(b, obl, "; "));
        ECL_GUARD(ecl_buf_append_str(b, "."));
    }
    ECL_GUARD(ecl_buf_append_str(b, " Values ps_... are pseudonyms, tk_... tokens. Audit entry "));
    ECL_GUARD(append_u64(b, (uint64_t)json_integer_value(json_object_get(meta, "audit_seq"))));
    return ecl_buf_append_str(b, ".\n");
}

enum ecl_status
tools_render_text(enum ecl_mcp_tool tool, const json_t *result, const char *json, size_t json_len,
                  struct ecl_buf *text)
{
    /* A one-line summary, then the structured result as JSON (MCP server/tools: a tool that
     * returns structured content SHOULD also return it serialised in a text block). */
    ecl_buf_reset(text);
    ECL_GUARD(summary(text, tool, result));
    return ecl_buf_append(text, json, json_len);
}
