/* ecl_api_json_dump: jansson's compact, sorted encoding without jansson's dumper (json_dump.h).
 * Strings: '"' and '\\' escaped, control characters as \b \f \n \r \t or \u00XX (uppercase
 * hex), everything else (UTF-8 included, '/' and DEL) as it is; invalid UTF-8 fails as in
 * jansson.  Object members in memcmp order of the keys, shorter first on a common prefix
 * (jansson's compare_keys).  Reals and subtrees deeper than ECL_JSON_DUMP_MAX_DEPTH are handed to
 * json_dumps itself, so their text is jansson's by construction. */
#include <stdlib.h>
#include <string.h>

#include "ecl/json_str.h"
#include "ecl/limits.h"
#include "json_dump.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

static enum ecl_status
put_str(struct ecl_buf *b, const char *s, size_t len)
{
    return ecl_json_str_append(b, s, len, ECL_JSON_STR_UTF8);
}

static enum ecl_status
put_int(struct ecl_buf *b, json_int_t v)
{
    return ecl_json_int_append(b, (int64_t)v);
}

/* The value as json_dumps writes it (reals, deep subtrees). */
static enum ecl_status
put_jansson(struct ecl_buf *b, const json_t *v)
{
    char *s = json_dumps(v, DUMP_FLAGS);
    enum ecl_status st;

    if (s == NULL) {
        return ECL_ERR_INVALID;
    }
    st = ecl_buf_append_str(b, s);
    ecl_wipe(s, strlen(s));
    free(s);
    return st;
}

struct member {
    const char *key;
    size_t len;
    json_t *value;
};

static int
member_cmp(const void *a, const void *b)
{
    const struct member *x = a;
    const struct member *y = b;
    int r = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

    if (r != 0) {
        return r;
    }
    return x->len < y->len ? -1 : x->len > y->len ? 1 : 0;
}

static enum ecl_status put_value(struct ecl_buf *b, const json_t *v, unsigned depth);

static enum ecl_status
put_object(struct ecl_buf *b, const json_t *o, unsigned depth)
{
    struct member stack[ECL_JSON_DUMP_STACK_KEYS];
    struct member *m = stack;
    size_t n = json_object_size(o);
    size_t i = 0;
    enum ecl_status st = ECL_OK;
    void *it;

    if (n == 0) {
        return ecl_buf_append(b, "{}", 2);
    }
    if (n > ECL_JSON_DUMP_STACK_KEYS) {
        m = malloc(n * sizeof *m);
        if (m == NULL) {
            return ECL_ERR_NOMEM;
        }
    }
    for (it = json_object_iter((json_t *)o); it != NULL && i < n;
         it = json_object_iter_next((json_t *)o, it)) {
        m[i].key = json_object_iter_key(it);
        m[i].len = json_object_iter_key_len(it);
        m[i].value = json_object_iter_value(it);
        i++;
    }
    n = i;
    if (n > 1) {
        qsort(m, n, sizeof *m, member_cmp);
    }
    for (i = 0; i < n && st == ECL_OK; i++) {
        st = ecl_buf_append_byte(b, i == 0 ? '{' : ',');
        if (st == ECL_OK) {
            st = put_str(b, m[i].key, m[i].len);
        }
        if (st == ECL_OK) {
            st = ecl_buf_append_byte(b, ':');
        }
        if (st == ECL_OK) {
            st = put_value(b, m[i].value, depth + 1);
        }
    }
    if (st == ECL_OK) {
        st = ecl_buf_append_byte(b, '}');
    }
    if (m != stack) {
        free(m);
    }
    return st;
}

static enum ecl_status
put_value(struct ecl_buf *b, const json_t *v, unsigned depth)
{
    if (depth > ECL_JSON_DUMP_MAX_DEPTH) {
        return put_jansson(b, v);
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return put_object(b, v, depth);
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (n == 0) {
            return ecl_buf_append(b, "[]", 2);
        }
        for (size_t i = 0; i < n; i++) {
            ECL_GUARD(ecl_buf_append_byte(b, i == 0 ? '[' : ','));
            ECL_GUARD(put_value(b, json_array_get(v, i), depth + 1));
        }
        return ecl_buf_append_byte(b, ']');
    }
    case JSON_STRING:
        return put_str(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return put_int(b, json_integer_value(v));
    case JSON_REAL:
        return put_jansson(b, v);
    case JSON_TRUE:
        return ecl_buf_append(b, "true", 4);
    case JSON_FALSE:
        return ecl_buf_append(b, "false", 5);
    case JSON_NULL:
        return ecl_buf_append(b, "null", 4);
    }
    return ECL_ERR_INVALID;
}

enum ecl_status
ecl_api_json_dump(const json_t *v, struct ecl_buf *out)
{
    size_t start = out->len;
    enum ecl_status st;

    if (v == NULL) {
        return ECL_ERR_INVALID;
    }
    st = put_value(out, v, 0);
    if (st != ECL_OK) {
        ecl_buf_truncate(out, start);
    }
    return st;
}
