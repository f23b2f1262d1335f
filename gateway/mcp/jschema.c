/* The subset of JSON Schema (draft 2020-12 and draft-07 agree on it) that the tool schemas of
 * mcp_tools.json use.  The server checks tool arguments against inputSchema and its own results
 * against outputSchema (MCP 2025-11-25 server/tools: "Servers MUST provide structured results
 * that conform to this schema").  jschema_supported() refuses any other keyword at start-up, so
 * a schema can never silently be checked less strictly than a client checks it. */
#include <string.h>

#include "mcp_internal.h"

static const char *const KEYWORDS[] = {
    "type",        "properties", "required",  "additionalProperties",
    "items",       "enum",       "oneOf",     "minimum",
    "maximum",     "minLength",  "maxLength", "maxItems",
    "description", "title",
};

static int
is_keyword(const char *k)
{
    for (size_t i = 0; i < sizeof KEYWORDS / sizeof KEYWORDS[0]; i++) {
        if (strcmp(k, KEYWORDS[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int
jschema_supported(const json_t *schema)
{
    const char *k;
    json_t *v;

    if (!json_is_object(schema)) {
        return 0;
    }
    json_object_foreach((json_t *)schema, k, v)
    {
        if (!is_keyword(k)) {
            return 0;
        }
        if (strcmp(k, "properties") == 0) {
            const char *pk;
            json_t *pv;
            if (!json_is_object(v)) {
                return 0;
            }
            json_object_foreach(v, pk, pv)
            {
                if (!jschema_supported(pv)) {
                    return 0;
                }
            }
        } else if (strcmp(k, "items") == 0 ||
                   (strcmp(k, "additionalProperties") == 0 && !json_is_boolean(v))) {
            if (!jschema_supported(v)) {
                return 0;
            }
        } else if (strcmp(k, "oneOf") == 0) {
            size_t i;
            json_t *sub;
            if (!json_is_array(v) || json_array_size(v) == 0) {
                return 0;
            }
            json_array_foreach(v, i, sub)
            {
                if (!jschema_supported(sub)) {
                    return 0;
                }
            }
        }
    }
    return 1;
}

static int
type_matches(const char *type, const json_t *v)
{
    if (strcmp(type, "object") == 0) {
        return json_is_object(v);
    }
    if (strcmp(type, "array") == 0) {
        return json_is_array(v);
    }
    if (strcmp(type, "string") == 0) {
        return json_is_string(v);
    }
    if (strcmp(type, "integer") == 0) {
        return json_is_integer(v);
    }
    if (strcmp(type, "number") == 0) {
        return json_is_number(v);
    }
    if (strcmp(type, "boolean") == 0) {
        return json_is_boolean(v);
    }
    if (strcmp(type, "null") == 0) {
        return json_is_null(v);
    }
    return 0;
}

static int
check_type(const json_t *type, const json_t *v)
{
    size_t i;
    json_t *t;

    if (json_is_string(type)) {
        return type_matches(json_string_value(type), v);
    }
    json_array_foreach(type, i, t)
    {
        if (json_is_string(t) && type_matches(json_string_value(t), v)) {
            return 1;
        }
    }
    return 0;
}

/* Code points of a UTF-8 string (jansson only holds valid UTF-8). */
static size_t
utf8_len(const char *s, size_t n)
{
    size_t cp = 0;

    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            cp++;
        }
    }
    return cp;
}

static int
check_number_bound(const json_t *bound, const json_t *v, int is_min)
{
    double b;
    double x;

    if (!json_is_number(v) || !json_is_number(bound)) {
        return 1; /* only constrains numbers */
    }
    b = json_number_value(bound);
    x = json_number_value(v);
    return is_min ? x >= b : x <= b;
}

static int
check_object(const json_t *schema, const json_t *v, const char **where)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *req = json_object_get(schema, "required");
    const json_t *addl = json_object_get(schema, "additionalProperties");
    const char *k;
    json_t *x;
    size_t i;

    if (!json_is_object(v)) {
        return 1;
    }
    json_array_foreach(req, i, x)
    {
        if (!json_is_string(x) || json_object_get(v, json_string_value(x)) == NULL) {
            *where = "required";
            return 0;
        }
    }
    json_object_foreach((json_t *)v, k, x)
    {
        const json_t *sub = props != NULL ? json_object_get(props, k) : NULL;
        if (sub == NULL && addl != NULL) {
            if (json_is_false(addl)) {
                *where = "additionalProperties";
                return 0;
            }
            sub = json_is_object(addl) ? addl : NULL;
        }
        if (sub != NULL && !jschema_valid(sub, x, where)) {
            return 0;
        }
    }
    return 1;
}

static int
check_array(const json_t *schema, const json_t *v, const char **where)
{
    const json_t *items = json_object_get(schema, "items");
    const json_t *max = json_object_get(schema, "maxItems");
    size_t i;
    json_t *x;

    if (!json_is_array(v)) {
        return 1;
    }
    if (json_is_integer(max) && json_integer_value(max) >= 0 &&
        json_array_size(v) > (size_t)json_integer_value(max)) {
        *where = "maxItems";
        return 0;
    }
    if (items == NULL) {
        return 1;
    }
    json_array_foreach(v, i, x)
    {
        if (!jschema_valid(items, x, where)) {
            return 0;
        }
    }
    return 1;
}

static int
check_string(const json_t *schema, const json_t *v, const char **where)
{
    const json_t *minl = json_object_get(schema, "minLength");
    const json_t *maxl = json_object_get(schema, "maxLength");
    size_t n;

    if (!json_is_string(v)) {
        return 1;
    }
    n = utf8_len(json_string_value(v), json_string_length(v));
    if (json_is_integer(minl) && json_integer_value(minl) > 0 &&
        n < (size_t)json_integer_value(minl)) {
        *where = "minLength";
        return 0;
    }
    if (json_is_integer(maxl) && json_integer_value(maxl) >= 0 &&
        n > (size_t)json_integer_value(maxl)) {
        *where = "maxLength";
        return 0;
    }
    return 1;
}

static int
check_enum(const json_t *values, const json_t *v)
{
    size_t i;
    json_t *x;

    json_array_foreach(values, i, x)
    {
        if (json_equal(x, v)) {
            return 1;
        }
    }
    return 0;
}

static int
check_one_of(const json_t *subs, const json_t *v, const char **where)
{
    size_t i;
    size_t matches = 0;
    json_t *s;
    const char *ignored = NULL;

    json_array_foreach(subs, i, s)
    {
        if (jschema_valid(s, v, &ignored)) {
            matches++;
        }
    }
    if (matches != 1) {
        *where = "oneOf";
        return 0;
    }
    return 1;
}

int
jschema_valid(const json_t *schema, const json_t *v, const char **where)
{
    const char *dummy = NULL;
    const json_t *x;

    if (where == NULL) {
        where = &dummy;
    }
    x = json_object_get(schema, "type");
    if (x != NULL && !check_type(x, v)) {
        *where = "type";
        return 0;
    }
    x = json_object_get(schema, "enum");
    if (x != NULL && !check_enum(x, v)) {
        *where = "enum";
        return 0;
    }
    x = json_object_get(schema, "minimum");
    if (x != NULL && !check_number_bound(x, v, 1)) {
        *where = "minimum";
        return 0;
    }
    x = json_object_get(schema, "maximum");
    if (x != NULL && !check_number_bound(x, v, 0)) {
        *where = "maximum";
        return 0;
    }
    if (!check_string(schema, v, where) || !check_array(schema, v, where) ||
        !check_object(schema, v, where)) {
        return 0;
    }
    x = json_object_get(schema, "oneOf");
    if (x != NULL && !check_one_of(x, v, where)) {
        return 0;
    }
    return 1;
}
