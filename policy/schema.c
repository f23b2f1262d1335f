/* Dataset schema parsing and value validation.  See docs/datasets.md. */
#include <stdlib.h>
#include <string.h>

#include "ecl/schema.h"

static const char *const type_names[] = {
    [ECL_FT_STRING] = "string",   [ECL_FT_INTEGER] = "integer", [ECL_FT_NUMBER] = "number",
    [ECL_FT_BOOLEAN] = "boolean", [ECL_FT_DATE] = "date",       [ECL_FT_ENUM] = "enum",
};
_Static_assert(sizeof type_names / sizeof type_names[0] == ECL_FT_COUNT, "type names");

static const char *const class_names[] = {
    [ECL_FC_IDENTIFIER] = "identifier", [ECL_FC_QUASI_IDENTIFIER] = "quasi_identifier",
    [ECL_FC_SENSITIVE] = "sensitive",   [ECL_FC_SPECIAL_CATEGORY] = "special_category",
    [ECL_FC_PUBLIC] = "public",
};
_Static_assert(sizeof class_names / sizeof class_names[0] == ECL_FC_COUNT, "class names");

static const char *const norm_names[] = {
    [ECL_NORM_EXACT] = "exact",
    [ECL_NORM_TRIM] = "trim",
    [ECL_NORM_EMAIL] = "email",
    [ECL_NORM_DIGITS] = "digits",
    [ECL_NORM_ALNUM_UPPER] = "alnum_upper",
};
_Static_assert(sizeof norm_names / sizeof norm_names[0] == ECL_NORM_COUNT, "normalize names");

const char *
ecl_field_type_name(enum ecl_field_type t)
{
    return (unsigned)t < ECL_FT_COUNT ? type_names[t] : "unknown";
}

const char *
ecl_field_class_name(enum ecl_field_class c)
{
    return (unsigned)c < ECL_FC_COUNT ? class_names[c] : "unknown";
}

const char *
ecl_normalize_name(enum ecl_normalize n)
{
    return (unsigned)n < ECL_NORM_COUNT ? norm_names[n] : "unknown";
}

static int
lookup(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], s) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int
ecl_is_leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
ecl_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m < 1 || m > 12) {
        return 0;
    }
    return m == 2 && ecl_is_leap_year(y) ? 29 : days[m - 1];
}

static int
digits(const char *s, size_t n, int *out)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

int
ecl_date_parse(const char *s, size_t len, int *y, int *m, int *d)
{
    int yy;
    int mm;
    int dd;

    if (len != 10 || s[4] != '-' || s[7] != '-') {
        return 0;
    }
    if (!digits(s, 4, &yy) || !digits(s + 5, 2, &mm) || !digits(s + 8, 2, &dd)) {
        return 0;
    }
    if (yy < 1 || mm < 1 || mm > 12 || dd < 1 || dd > ecl_days_in_month(yy, mm)) {
        return 0;
    }
    *y = yy;
    *m = mm;
    *d = dd;
    return 1;
}

/* Code points of a valid UTF-8 string (jansson guarantees validity). */
static size_t
utf8_len(const char *s, size_t n)
{
    size_t cps = 0;

    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            cps++;
        }
    }
    return cps;
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

size_t
ecl_normalize(enum ecl_normalize how, const char *in, size_t in_len, char *out, size_t cap)
{
    size_t start = 0;
    size_t end = in_len;
    size_t n = 0;

    if (cap == 0) {
        return (size_t)-1;
    }
    if (how != ECL_NORM_EXACT) {
        while (start < end && is_space(in[start])) {
            start++;
        }
        while (end > start && is_space(in[end - 1])) {
            end--;
        }
    }
    for (size_t i = start; i < end; i++) {
        char c = in[i];
        switch (how) {
        case ECL_NORM_EXACT:
        case ECL_NORM_TRIM:
            break;
        case ECL_NORM_EMAIL:
            if (c >= 'A' && c <= 'Z') {
                c = (char)(c - 'A' + 'a');
            }
            break;
        case ECL_NORM_DIGITS:
            if (c < '0' || c > '9') {
                continue;
            }
            break;
        case ECL_NORM_ALNUM_UPPER:
            if (is_space(c) || c == '-' || c == '.') {
                continue;
            }
            if (c >= 'a' && c <= 'z') {
                c = (char)(c - 'a' + 'A');
            }
            break;
        }
        if (n + 1 >= cap) {
            return (size_t)-1;
        }
        out[n++] = c;
    }
    out[n] = 0;
    return n;
}

int
ecl_name_ok(const char *s, size_t n)
{

    if (n == 0 || n > ECL_NAME_MAX_LEN) {
        return 0;
    }
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static void
field_clear(struct ecl_field *f)
{
    for (size_t i = 0; i < f->nvalues; i++) {
        free(f->values[i]);
    }
    free(f->values);
    free(f->description);
}

void
ecl_schema_free(struct ecl_schema *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->nfields; i++) {
        field_clear(&s->fields[i]);
    }
    free(s->fields);
    free(s->description);
    json_decref(s->doc);
    free(s);
}

void
ecl_json_check_keys(const json_t *obj, const char *const *allowed, const char *path,
                    struct ecl_diags *diags)
{
    const char *k;
    json_t *v;
    char p[ECL_DIAG_PATH_MAX];

    json_object_foreach((json_t *)obj, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a != NULL; a++) {
            if (strcmp(*a, k) == 0) {
                ok = 1;
            }
        }
        if (!ok) {
            ecl_json_pointer_join(p, sizeof p, path, k);
            ecl_diags_add(diags, p, "unknown key");
        }
    }
}

static char *
dup_str(const json_t *v)
{
    return v != NULL && json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static void
parse_field(const json_t *jf, const char *path, struct ecl_field *f, struct ecl_diags *diags)
{
    static const char *const keys[] = {"name",        "type",      "classification", "indexed",
                                       "required",    "normalize", "values",         "max_length",
                                       "description", NULL};
    char p[ECL_DIAG_PATH_MAX];
    const json_t *v;
    int idx;

    if (!json_is_object(jf)) {
        ecl_diags_add(diags, path, "a field must be an object");
        return;
    }
    ecl_json_check_keys(jf, keys, path, diags);

    v = json_object_get(jf, "name");
    ecl_json_pointer_join(p, sizeof p, path, "name");
    if (!json_is_string(v) || !ecl_name_ok(json_string_value(v), json_string_length(v))) {
        ecl_diags_add(diags, p,
                      "the field name must be 1 to %d letters, digits, '_' or '-', "
                      "starting with a letter",
                      ECL_NAME_MAX_LEN);
    } else {
        memcpy(f->name, json_string_value(v), strlen(json_string_value(v)) + 1);
    }

    v = json_object_get(jf, "type");
    ecl_json_pointer_join(p, sizeof p, path, "type");
    idx = json_is_string(v) ? lookup(type_names, ECL_FT_COUNT, json_string_value(v)) : -1;
    if (idx < 0) {
        ecl_diags_add(diags, p,
                      "the type must be one of string, integer, number, boolean, date, enum");
    } else {
        f->type = (enum ecl_field_type)idx;
    }

    v = json_object_get(jf, "classification");
    ecl_json_pointer_join(p, sizeof p, path, "classification");
    idx = json_is_string(v) ? lookup(class_names, ECL_FC_COUNT, json_string_value(v)) : -1;
    if (idx < 0) {
        ecl_diags_add(diags, p,
                      "the classification must be one of identifier, "
                      "quasi_identifier, sensitive, special_category, public");
    } else {
        f->classification = (enum ecl_field_class)idx;
    }

    v = json_object_get(jf, "normalize");
    ecl_json_pointer_join(p, sizeof p, path, "normalize");
    f->normalize = ECL_NORM_TRIM;
    if (v != NULL) {
        idx = json_is_string(v) ? lookup(norm_names, ECL_NORM_COUNT, json_string_value(v)) : -1;
        if (idx < 0) {
            ecl_diags_add(diags, p,
                          "normalize must be one of exact, trim, email, digits, "
                          "alnum_upper");
        } else {
            f->normalize = (enum ecl_normalize)idx;
        }
    }

    const char *bools[] = {"indexed", "required"};
    int *dst[] = {&f->indexed, &f->required};
    for (int i = 0; i < 2; i++) {
        v = json_object_get(jf, bools[i]);
        ecl_json_pointer_join(p, sizeof p, path, bools[i]);
        if (v != NULL && !json_is_boolean(v)) {
            ecl_diags_add(diags, p, "must be true or false");
        } else {
            *dst[i] = json_is_true(v);
        }
    }

    v = json_object_get(jf, "max_length");
    ecl_json_pointer_join(p, sizeof p, path, "max_length");
    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > ECL_FIELD_MAX_BYTES) {
            ecl_diags_add(diags, p, "max_length must be an integer from 1 to %d",
                          ECL_FIELD_MAX_BYTES);
        } else if (f->type != ECL_FT_STRING) {
            ecl_diags_add(diags, p, "max_length applies to string fields only");
        } else {
            f->max_length = (size_t)json_integer_value(v);
        }
    }

    v = json_object_get(jf, "description");
    ecl_json_pointer_join(p, sizeof p, path, "description");
    if (v != NULL && !json_is_string(v)) {
        ecl_diags_add(diags, p, "the description must be a string");
    } else {
        f->description = dup_str(v);
    }

    v = json_object_get(jf, "values");
    ecl_json_pointer_join(p, sizeof p, path, "values");
    if (f->type == ECL_FT_ENUM) {
        size_t n = json_is_array(v) ? json_array_size(v) : 0;
        if (n == 0 || n > ECL_ENUM_MAX_VALUES) {
            ecl_diags_add(diags, p, "an enum field needs 1 to %d values", ECL_ENUM_MAX_VALUES);
            return;
        }
        f->values = calloc(n, sizeof *f->values);
        if (f->values == NULL) {
            ecl_diags_add(diags, p, "out of memory");
            return;
        }
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);
            char pi[ECL_DIAG_PATH_MAX];
            ecl_json_pointer_index(pi, sizeof pi, p, i);
            if (!json_is_string(e) || json_string_length(e) == 0 ||
                json_string_length(e) > ECL_NAME_MAX_LEN) {
                ecl_diags_add(diags, pi, "an enum value must be a string of 1 to %d bytes",
                              ECL_NAME_MAX_LEN);
                continue;
            }
            for (size_t j = 0; j < f->nvalues; j++) {
                if (strcmp(f->values[j], json_string_value(e)) == 0) {
                    ecl_diags_add(diags, pi, "this enum value is listed twice");
                }
            }
            f->values[f->nvalues] = strdup(json_string_value(e));
            if (f->values[f->nvalues] == NULL) {
                ecl_diags_add(diags, pi, "out of memory");
                return;
            }
            f->nvalues++;
        }
    } else if (v != NULL) {
        ecl_diags_add(diags, p, "values apply to enum fields only");
    }
}

static json_t *
field_json(const struct ecl_field *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(f->name));
    json_object_set_new(o, "type", json_string(ecl_field_type_name(f->type)));
    json_object_set_new(o, "classification", json_string(ecl_field_class_name(f->classification)));
    json_object_set_new(o, "normalize", json_string(ecl_normalize_name(f->normalize)));
    json_object_set_new(o, "indexed", json_boolean(f->indexed));
    json_object_set_new(o, "required", json_boolean(f->required));
    if (f->max_length > 0) {
        json_object_set_new(o, "max_length", json_integer((json_int_t)f->max_length));
    }
    if (f->type == ECL_FT_ENUM) {
        json_t *a = json_array();
        for (size_t i = 0; i < f->nvalues; i++) {
            json_array_append_new(a, json_string(f->values[i]));
        }
        json_object_set_new(o, "values", a);
    }
    if (f->description != NULL) {
        json_object_set_new(o, "description", json_string(f->description));
    }
    return o;
}

static json_t *
schema_json(const struct ecl_schema *s)
{
    json_t *o = json_object();
    json_t *fields = json_array();

    if (o == NULL || fields == NULL) {
        json_decref(o);
        json_decref(fields);
        return NULL;
    }
    json_object_set_new(o, "name", json_string(s->name));
    if (s->description != NULL) {
        json_object_set_new(o, "description", json_string(s->description));
    }
    json_object_set_new(o, "subject_id", json_string(s->fields[s->subject_field].name));
    for (size_t i = 0; i < s->nfields; i++) {
        json_array_append_new(fields, field_json(&s->fields[i]));
    }
    json_object_set_new(o, "fields", fields);
    return o;
}

enum ecl_status
ecl_schema_parse(const char *json, size_t len, struct ecl_diags *diags, struct ecl_schema **out)
{
    static const char *const keys[] = {"name", "description", "subject_id", "fields", NULL};
    struct ecl_schema *s = NULL;
    const char *why = NULL;
    size_t before = ecl_diags_count(diags);
    const json_t *v;
    json_t *root;
    int line = 0;

    if (len > ECL_SCHEMA_MAX_BYTES) {
        ecl_diags_add(diags, "", "the schema is larger than %d bytes", ECL_SCHEMA_MAX_BYTES);
        return ECL_ERR_LIMIT;
    }
    root = ecl_json_load(json, len, ECL_JSON_MAX_DEPTH, &why, &line);
    if (root == NULL) {
        ecl_diags_add(diags, "", "line %d: %s", line, why);
        return ECL_ERR_INVALID;
    }
    if (!json_is_object(root)) {
        ecl_diags_add(diags, "", "a schema must be a JSON object");
        json_decref(root);
        return ECL_ERR_INVALID;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        json_decref(root);
        return ECL_ERR_NOMEM;
    }
    ecl_json_check_keys(root, keys, "", diags);

    v = json_object_get(root, "name");
    if (!json_is_string(v) || !ecl_name_ok(json_string_value(v), json_string_length(v))) {
        ecl_diags_add(diags, "/name",
                      "the dataset name must be 1 to %d letters, digits, '_' or "
                      "'-', starting with a letter",
                      ECL_NAME_MAX_LEN);
    } else {
        memcpy(s->name, json_string_value(v), strlen(json_string_value(v)) + 1);
    }
    v = json_object_get(root, "description");
    if (v != NULL && !json_is_string(v)) {
        ecl_diags_add(diags, "/description", "the description must be a string");
    }
    s->description = dup_str(v);

    v = json_object_get(root, "fields");
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > ECL_SCHEMA_MAX_FIELDS) {
        ecl_diags_add(diags, "/fields", "fields must be an array of 1 to %d fields",
                      ECL_SCHEMA_MAX_FIELDS);
    } else {
        s->fields = calloc(json_array_size(v), sizeof *s->fields);
        if (s->fields == NULL) {
            ecl_schema_free(s);
            json_decref(root);
            return ECL_ERR_NOMEM;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            char p[ECL_DIAG_PATH_MAX];
            ecl_json_pointer_index(p, sizeof p, "/fields", i);
            parse_field(json_array_get(v, i), p, &s->fields[i], diags);
            s->nfields = i + 1;
            for (size_t j = 0; j < i; j++) {
                if (s->fields[i].name[0] != 0 &&
                    strcmp(s->fields[i].name, s->fields[j].name) == 0) {
                    char pn[ECL_DIAG_PATH_MAX];
                    ecl_json_pointer_join(pn, sizeof pn, p, "name");
                    ecl_diags_add(diags, pn, "two fields have this name");
                }
            }
        }
    }

    v = json_object_get(root, "subject_id");
    if (!json_is_string(v)) {
        ecl_diags_add(diags, "/subject_id", "subject_id must name the subject identifier field");
    } else {
        long idx = s->fields != NULL ? ecl_schema_field_index(s, json_string_value(v)) : -1;
        if (idx < 0) {
            ecl_diags_add(diags, "/subject_id", "subject_id names no field of this dataset");
        } else if (s->fields[idx].type != ECL_FT_STRING) {
            ecl_diags_add(diags, "/subject_id", "the subject identifier must be a string field");
        } else {
            s->subject_field = (size_t)idx;
            s->fields[idx].required = 1;
        }
    }
    json_decref(root);
    if (ecl_diags_count(diags) != before) {
        ecl_schema_free(s);
        return ECL_ERR_INVALID;
    }
    s->doc = schema_json(s);
    if (s->doc == NULL) {
        ecl_schema_free(s);
        return ECL_ERR_NOMEM;
    }
    *out = s;
    return ECL_OK;
}

long
ecl_schema_field_index(const struct ecl_schema *s, const char *name)
{
    for (size_t i = 0; i < s->nfields; i++) {
        if (strcmp(s->fields[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

const struct ecl_field *
ecl_schema_field(const struct ecl_schema *s, const char *name)
{
    long i = ecl_schema_field_index(s, name);
    return i < 0 ? NULL : &s->fields[i];
}

const json_t *
ecl_schema_json(const struct ecl_schema *s)
{
    return s->doc;
}

enum ecl_status
ecl_schema_check_value(const struct ecl_field *f, const json_t *v, const char **why)
{
    int y;
    int m;
    int d;

    if (v == NULL || json_is_null(v)) {
        if (f->required) {
            *why = "this field is required";
            return ECL_ERR_INVALID;
        }
        return ECL_OK;
    }
    switch (f->type) {
    case ECL_FT_STRING:
        if (!json_is_string(v)) {
            *why = "expected a string";
            return ECL_ERR_INVALID;
        }
        if (json_string_length(v) > ECL_FIELD_MAX_BYTES) {
            *why = "the value is too long";
            return ECL_ERR_LIMIT;
        }
        if (f->max_length > 0 &&
            utf8_len(json_string_value(v), json_string_length(v)) > f->max_length) {
            *why = "the value is longer than the field's max_length";
            return ECL_ERR_INVALID;
        }
        if (json_string_length(v) == 0) {
            if (f->required) {
                *why = "this field is required and may not be empty";
                return ECL_ERR_INVALID;
            }
        }
        return ECL_OK;
    case ECL_FT_INTEGER:
        if (!json_is_integer(v)) {
            *why = "expected an integer";
            return ECL_ERR_INVALID;
        }
        return ECL_OK;
    case ECL_FT_NUMBER:
        if (!json_is_number(v)) {
            *why = "expected a number";
            return ECL_ERR_INVALID;
        }
        return ECL_OK;
    case ECL_FT_BOOLEAN:
        if (!json_is_boolean(v)) {
            *why = "expected true or false";
            return ECL_ERR_INVALID;
        }
        return ECL_OK;
    case ECL_FT_DATE:
        if (!json_is_string(v) ||
            !ecl_date_parse(json_string_value(v), json_string_length(v), &y, &m, &d)) {
            *why = "expected a valid date as YYYY-MM-DD";
            return ECL_ERR_INVALID;
        }
        return ECL_OK;
    case ECL_FT_ENUM:
        if (json_is_string(v)) {
            for (size_t i = 0; i < f->nvalues; i++) {
                if (strcmp(f->values[i], json_string_value(v)) == 0) {
                    return ECL_OK;
                }
            }
        }
        *why = "the value is not one of the field's enum values";
        return ECL_ERR_INVALID;
    }
    *why = "unknown field type";
    return ECL_ERR_INTERNAL;
}
