/* The agent's query language and cursor (query.h). */
#include <stdlib.h>
#include <string.h>

#include "query.h"

enum ecl_status
ecl_query_body_parse(const json_t *body, struct ecl_query_body *out, const char **why)
{
    struct ecl_query_body b;
    const char *k;
    json_t *v;

    memset(&b, 0, sizeof b);
    if (!json_is_object(body)) {
        *why = "the body must be a JSON object";
        return ECL_ERR_INVALID;
    }
    json_object_foreach((json_t *)body, k, v)
    {
        if (strcmp(k, "purpose") == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0 ||
                json_string_length(v) > ECL_NAME_MAX_LEN) {
                *why = "purpose must be a purpose id";
                return ECL_ERR_INVALID;
            }
            b.purpose = json_string_value(v);
        } else if (strcmp(k, "where") == 0) {
            if (!json_is_object(v)) {
                *why = "where must be an object of field conditions";
                return ECL_ERR_INVALID;
            }
            b.where = v;
        } else if (strcmp(k, "fields") == 0) {
            if (!json_is_array(v) || json_array_size(v) == 0 ||
                json_array_size(v) > ECL_SCHEMA_MAX_FIELDS) {
                *why = "fields must be a non-empty array of field names";
                return ECL_ERR_INVALID;
            }
            for (size_t i = 0; i < json_array_size(v); i++) {
                if (!json_is_string(json_array_get(v, i))) {
                    *why = "fields must be a non-empty array of field names";
                    return ECL_ERR_INVALID;
                }
            }
            b.fields = v;
        } else if (strcmp(k, "limit") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > ECL_HTTP_RECORDS_PER_REQUEST) {
                *why = "limit must be an integer from 1 to 1000";
                return ECL_ERR_INVALID;
            }
            b.limit = (size_t)json_integer_value(v);
        } else if (strcmp(k, "cursor") == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0 ||
                json_string_length(v) > ECL_CURSOR_MAX_LEN) {
                *why = "cursor must be the next_cursor of a previous page";
                return ECL_ERR_INVALID;
            }
            b.cursor = json_string_value(v);
        } else {
            *why = "unknown member: the body takes purpose, where, fields, limit and cursor";
            return ECL_ERR_INVALID;
        }
    }
    if (b.purpose == NULL) {
        *why = "purpose is required";
        return ECL_ERR_INVALID;
    }
    *out = b;
    return ECL_OK;
}

/* Checks one value against the field (never null). */
static int
value_ok(const struct ecl_field *f, const json_t *v)
{
    struct ecl_field strict = *f;
    const char *why = NULL;

    strict.required = 1;
    return v != NULL && ecl_schema_check_value(&strict, v, &why) == ECL_OK;
}

static enum ecl_status
cond_parse(const struct ecl_field *f, const json_t *spec, struct ecl_query_cond *c,
           const char **why)
{
    const char *op;
    json_t *arg;

    if (!json_is_object(spec)) {
        if (!value_ok(f, spec)) {
            *why = "a condition value does not fit its field";
            return ECL_ERR_INVALID;
        }
        c->op = ECL_QOP_EQ;
        c->value = spec;
        return ECL_OK;
    }
    if (json_object_size(spec) != 1) {
        *why = "a condition object has exactly one operator: eq, in, prefix or range";
        return ECL_ERR_INVALID;
    }
    json_object_foreach((json_t *)spec, op, arg)
    {
        if (strcmp(op, "eq") == 0) {
            if (!value_ok(f, arg)) {
                *why = "a condition value does not fit its field";
                return ECL_ERR_INVALID;
            }
            c->op = ECL_QOP_EQ;
            c->value = arg;
        } else if (strcmp(op, "in") == 0) {
            if (!json_is_array(arg) || json_array_size(arg) == 0 ||
                json_array_size(arg) > ECL_QUERY_MAX_IN_VALUES) {
                *why = "in takes an array of 1 to 256 values";
                return ECL_ERR_INVALID;
            }
            for (size_t i = 0; i < json_array_size(arg); i++) {
                if (!value_ok(f, json_array_get(arg, i))) {
                    *why = "a condition value does not fit its field";
                    return ECL_ERR_INVALID;
                }
            }
            c->op = ECL_QOP_IN;
            c->value = arg;
        } else if (strcmp(op, "prefix") == 0) {
            if (f->type != ECL_FT_STRING || !json_is_string(arg) || json_string_length(arg) == 0 ||
                json_string_length(arg) > ECL_QUERY_MAX_PREFIX) {
                *why = "prefix takes a string of 1 to 64 bytes, on a string field";
                return ECL_ERR_INVALID;
            }
            c->op = ECL_QOP_PREFIX;
            c->prefix = json_string_value(arg);
            c->prefix_len = json_string_length(arg);
        } else if (strcmp(op, "range") == 0) {
            const char *rk;
            json_t *rv;
            if ((f->type != ECL_FT_INTEGER && f->type != ECL_FT_NUMBER && f->type != ECL_FT_DATE) ||
                !json_is_object(arg) || json_object_size(arg) == 0) {
                *why = "range takes {\"min\", \"max\"} on an integer, number or date field";
                return ECL_ERR_INVALID;
            }
            json_object_foreach(arg, rk, rv)
            {
                if ((strcmp(rk, "min") != 0 && strcmp(rk, "max") != 0) || !value_ok(f, rv)) {
                    *why = "range takes {\"min\", \"max\"} with values that fit the field";
                    return ECL_ERR_INVALID;
                }
            }
            c->op = ECL_QOP_RANGE;
            c->min = json_object_get(arg, "min");
            c->max = json_object_get(arg, "max");
        } else {
            *why = "unknown operator: use eq, in, prefix or range";
            return ECL_ERR_INVALID;
        }
    }
    return ECL_OK;
}

enum ecl_status
ecl_query_where_parse(const json_t *where, const struct ecl_schema *schema,
                      const unsigned char *granted, struct ecl_query_where *out, const char **why)
{
    struct ecl_query_where *w;
    const char *name;
    json_t *spec;
    enum ecl_status st = ECL_OK;

    if (where == NULL) {
        out->n = 0;
        return ECL_OK;
    }
    if (!json_is_object(where)) {
        *why = "where must be an object of field conditions";
        return ECL_ERR_INVALID;
    }
    if (json_object_size(where) > ECL_QUERY_MAX_CONDITIONS) {
        *why = "where has more conditions than allowed (16)";
        return ECL_ERR_LIMIT;
    }
    /* first the grants, so that a malformed condition on a hidden field says nothing more than
     * a well-formed one */
    json_object_foreach((json_t *)where, name, spec)
    {
        long i = ecl_schema_field_index(schema, name);
        if (i < 0 || !granted[i]) {
            *why = "a condition names a field that is not granted for this purpose";
            return ECL_ERR_DENIED;
        }
    }
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        return ECL_ERR_NOMEM;
    }
    json_object_foreach((json_t *)where, name, spec)
    {
        long i = ecl_schema_field_index(schema, name);
        struct ecl_query_cond *c = &w->conds[w->n];
        c->schema_index = (size_t)i;
        c->field = &schema->fields[i];
        st = cond_parse(c->field, spec, c, why);
        if (st != ECL_OK) {
            break;
        }
        w->n++;
    }
    if (st == ECL_OK) {
        *out = *w;
    }
    free(w);
    return st;
}

/* Strings compare after the field's normalisation (as its blind index does). */
static int
str_eq(const struct ecl_field *f, const char *a, size_t alen, const char *b, size_t blen)
{
    char *na;
    char *nb;
    size_t la;
    size_t lb;
    int eq = 0;

    if (f->normalize == ECL_NORM_EXACT || f->type == ECL_FT_ENUM) {
        return alen == blen && memcmp(a, b, alen) == 0;
    }
    na = malloc(alen + 1);
    nb = malloc(blen + 1);
    if (na != NULL && nb != NULL) {
        la = ecl_normalize(f->normalize, a, alen, na, alen + 1);
        lb = ecl_normalize(f->normalize, b, blen, nb, blen + 1);
        eq = la != (size_t)-1 && lb != (size_t)-1 && la == lb && memcmp(na, nb, la) == 0;
    }
    free(na);
    free(nb);
    return eq;
}

static int
value_eq(const struct ecl_field *f, const json_t *rec, const json_t *want)
{
    switch (f->type) {
    case ECL_FT_STRING:
    case ECL_FT_ENUM:
    case ECL_FT_DATE:
        return json_is_string(rec) && str_eq(f, json_string_value(rec), json_string_length(rec),
                                             json_string_value(want), json_string_length(want));
    case ECL_FT_NUMBER:
        return json_is_number(rec) && json_number_value(rec) == json_number_value(want);
    case ECL_FT_INTEGER:
    case ECL_FT_BOOLEAN:
        return json_equal((json_t *)rec, (json_t *)want);
    }
    return 0;
}

/* -1, 0, 1; rec and bound of the same integer, number or date field. */
static int
value_cmp(const struct ecl_field *f, const json_t *a, const json_t *b)
{
    if (f->type == ECL_FT_DATE) {
        int c = strcmp(json_string_value(a), json_string_value(b));
        return (c > 0) - (c < 0);
    }
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a);
        json_int_t y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    double x = json_number_value(a);
    double y = json_number_value(b);
    return (x > y) - (x < y);
}

static int
cond_holds(const struct ecl_query_cond *c, const json_t *v)
{
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    switch (c->op) {
    case ECL_QOP_EQ:
        return value_eq(c->field, v, c->value);
    case ECL_QOP_IN:
        for (size_t i = 0; i < json_array_size(c->value); i++) {
            if (value_eq(c->field, v, json_array_get(c->value, i))) {
                return 1;
            }
        }
        return 0;
    case ECL_QOP_PREFIX:
        return json_is_string(v) && json_string_length(v) >= c->prefix_len &&
               memcmp(json_string_value(v), c->prefix, c->prefix_len) == 0;
    case ECL_QOP_RANGE:
        if (c->field->type == ECL_FT_DATE ? !json_is_string(v) : !json_is_number(v)) {
            return 0;
        }
        if (c->min != NULL && value_cmp(c->field, v, c->min) < 0) {
            return 0;
        }
        if (c->max != NULL && value_cmp(c->field, v, c->max) > 0) {
            return 0;
        }
        return 1;
    }
    return 0;
}

int
ecl_query_where_match(const struct ecl_query_where *w, const json_t *record)
{
    for (size_t i = 0; i < w->n; i++) {
        if (!cond_holds(&w->conds[i], json_object_get(record, w->conds[i].field->name))) {
            return 0;
        }
    }
    return 1;
}

long
ecl_query_where_index_cond(const struct ecl_query_where *w)
{
    for (size_t i = 0; i < w->n; i++) {
        const struct ecl_query_cond *c = &w->conds[i];
        if (c->field->indexed && (c->op == ECL_QOP_EQ || c->op == ECL_QOP_IN) &&
            (c->field->type == ECL_FT_STRING || c->field->type == ECL_FT_ENUM)) {
            return (long)i;
        }
    }
    return -1;
}

static void
cursor_tag(const uint8_t key[ECL_KEY_LEN], const uint8_t bind[ECL_HASH_LEN], const uint8_t *payload,
           uint8_t tag[ECL_CURSOR_TAG_LEN])
{
    uint8_t msg[ECL_HASH_LEN + 2 + ECL_SUBJECT_KEY_LEN];

    memcpy(msg, bind, ECL_HASH_LEN);
    memcpy(msg + ECL_HASH_LEN, payload, 2 + ECL_SUBJECT_KEY_LEN);
    ecl_crypto_blake2b(tag, ECL_CURSOR_TAG_LEN, key, ECL_KEY_LEN, msg, sizeof msg);
}

enum ecl_status
ecl_query_cursor_encode(const uint8_t key[ECL_KEY_LEN], const uint8_t bind[ECL_HASH_LEN],
                        unsigned phase, const uint8_t skey[ECL_SUBJECT_KEY_LEN],
                        char out[ECL_CURSOR_MAX_LEN + 1])
{
    uint8_t raw[ECL_CURSOR_RAW_LEN];
    struct ecl_buf b;
    enum ecl_status st;

    if (phase > 0xffff) {
        return ECL_ERR_LIMIT;
    }
    raw[0] = (uint8_t)(phase >> 8);
    raw[1] = (uint8_t)(phase & 0xff);
    memcpy(raw + 2, skey, ECL_SUBJECT_KEY_LEN);
    cursor_tag(key, bind, raw, raw + 2 + ECL_SUBJECT_KEY_LEN);
    ecl_buf_init(&b, ECL_CURSOR_MAX_LEN);
    st = ecl_crypto_b64url_encode(raw, sizeof raw, &b);
    if (st == ECL_OK) {
        memcpy(out, b.ptr, b.len);
        out[b.len] = 0;
    }
    ecl_buf_free(&b);
    return st;
}

enum ecl_status
ecl_query_cursor_decode(const uint8_t key[ECL_KEY_LEN], const uint8_t bind[ECL_HASH_LEN],
                        const char *text, size_t len, unsigned *phase,
                        uint8_t skey[ECL_SUBJECT_KEY_LEN])
{
    uint8_t tag[ECL_CURSOR_TAG_LEN];
    struct ecl_buf b;
    enum ecl_status st = ECL_ERR_INVALID;

    if (len == 0 || len > ECL_CURSOR_MAX_LEN) {
        return ECL_ERR_INVALID;
    }
    ecl_buf_init(&b, ECL_CURSOR_MAX_LEN);
    if (ecl_crypto_b64url_decode(text, len, &b) == ECL_OK && b.len == ECL_CURSOR_RAW_LEN) {
        cursor_tag(key, bind, b.ptr, tag);
        if (ecl_crypto_equal(tag, (const uint8_t *)b.ptr + 2 + ECL_SUBJECT_KEY_LEN,
                             ECL_CURSOR_TAG_LEN)) {
            const uint8_t *p = b.ptr;
            *phase = (unsigned)p[0] << 8 | p[1];
            memcpy(skey, p + 2, ECL_SUBJECT_KEY_LEN);
            st = ECL_OK;
        }
    }
    ecl_buf_free(&b);
    return st;
}
