/* Dataset schemas (policy/schema.c): every key, every refusal with its JSON pointer, value
 * checks, calendar rules and normalisation.  Table-driven, with boundary rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecl/schema.h"

#define MINI_FIELD "{\"name\":\"id\",\"type\":\"string\",\"classification\":\"identifier\"}"

static struct ecl_schema *
parse_ok(const char *json)
{
    struct ecl_diags d;
    struct ecl_schema *s = NULL;

    ecl_diags_init(&d);
    enum ecl_status st = ecl_schema_parse(json, strlen(json), &d, &s);
    if (st != ECL_OK) {
        for (size_t i = 0; i < d.n; i++) {
            fprintf(stderr, "unexpected: %s: %s\n", d.items[i].path, d.items[i].reason);
        }
    }
    assert_int_equal(st, ECL_OK);
    assert_non_null(s);
    return s;
}

/* Parses json, expects failure and a diagnostic at path whose reason contains want. */
static void
parse_err(const char *json, enum ecl_status want_st, const char *path, const char *want)
{
    struct ecl_diags d;
    struct ecl_schema *s = (struct ecl_schema *)0x1;
    int found = 0;

    ecl_diags_init(&d);
    assert_int_equal(ecl_schema_parse(json, strlen(json), &d, &s), want_st);
    assert_ptr_equal(s, (struct ecl_schema *)0x1); /* untouched on failure */
    for (size_t i = 0; i < d.n; i++) {
        if (strcmp(d.items[i].path, path) == 0 && strstr(d.items[i].reason, want) != NULL) {
            found = 1;
        }
    }
    if (!found) {
        fprintf(stderr, "wanted %s: %s; got:\n", path, want);
        for (size_t i = 0; i < d.n; i++) {
            fprintf(stderr, "  %s: %s\n", d.items[i].path, d.items[i].reason);
        }
    }
    assert_true(found);
}

/* A schema with one field (the subject "id" first, then the field under test). */
static char *
with_field(const char *field_json)
{
    char *p = NULL;
    assert_true(asprintf(&p,
                         "{\"name\":\"ds\",\"subject_id\":\"id\",\"fields\":[" MINI_FIELD ",%s]}",
                         field_json) > 0);
    return p;
}

static void
field_err(const char *field_json, const char *path, const char *want)
{
    char *doc = with_field(field_json);
    parse_err(doc, ECL_ERR_INVALID, path, want);
    free(doc);
}

static const struct ecl_field *
field_ok(struct ecl_schema **s, const char *field_json)
{
    char *doc = with_field(field_json);
    *s = parse_ok(doc);
    free(doc);
    assert_int_equal((*s)->nfields, 2);
    return &(*s)->fields[1];
}

static void
test_every_key(void **state)
{
    struct ecl_schema *s;
    const struct ecl_field *f;

    (void)state;
    s = parse_ok("{\"name\":\"citizens-2\",\"description\":\"résidents\",\"subject_id\":\"nir\","
                 "\"fields\":[{\"name\":\"nir\",\"type\":\"string\",\"classification\":"
                 "\"identifier\",\"normalize\":\"digits\",\"max_length\":15,\"required\":false,"
                 "\"indexed\":false,\"description\":\"NIR\"},"
                 "{\"name\":\"sex\",\"type\":\"enum\",\"values\":[\"F\",\"M\"],"
                 "\"classification\":\"quasi_identifier\",\"indexed\":true,\"required\":true},"
                 "{\"name\":\"n\",\"type\":\"integer\",\"classification\":\"sensitive\"},"
                 "{\"name\":\"x\",\"type\":\"number\",\"classification\":\"public\"},"
                 "{\"name\":\"b\",\"type\":\"boolean\",\"classification\":\"special_category\"},"
                 "{\"name\":\"d\",\"type\":\"date\",\"classification\":\"quasi_identifier\","
                 "\"normalize\":\"exact\"}]}");
    assert_string_equal(s->name, "citizens-2");
    assert_string_equal(s->description, "résidents");
    assert_int_equal(s->nfields, 6);
    assert_int_equal(s->subject_field, 0);
    f = &s->fields[0];
    assert_int_equal(f->type, ECL_FT_STRING);
    assert_int_equal(f->classification, ECL_FC_IDENTIFIER);
    assert_int_equal(f->normalize, ECL_NORM_DIGITS);
    assert_int_equal(f->max_length, 15);
    assert_true(f->required); /* the subject identifier is always required */
    assert_false(f->indexed);
    assert_string_equal(f->description, "NIR");
    f = ecl_schema_field(s, "sex");
    assert_non_null(f);
    assert_int_equal(f->type, ECL_FT_ENUM);
    assert_int_equal(f->nvalues, 2);
    assert_string_equal(f->values[1], "M");
    assert_true(f->indexed);
    assert_true(f->required);
    assert_int_equal(f->normalize, ECL_NORM_TRIM); /* the default */
    assert_int_equal(ecl_schema_field(s, "n")->type, ECL_FT_INTEGER);
    assert_int_equal(ecl_schema_field(s, "x")->classification, ECL_FC_PUBLIC);
    assert_int_equal(ecl_schema_field(s, "b")->classification, ECL_FC_SPECIAL_CATEGORY);
    assert_int_equal(ecl_schema_field(s, "d")->normalize, ECL_NORM_EXACT);
    assert_null(ecl_schema_field(s, "nope"));
    assert_int_equal(ecl_schema_field_index(s, "x"), 3);
    assert_int_equal(ecl_schema_field_index(s, "nope"), -1);

    /* the canonical form is complete and parses to the same canonical form */
    const json_t *canon = ecl_schema_json(s);
    assert_string_equal(json_string_value(json_object_get(canon, "subject_id")), "nir");
    const json_t *f1 = json_array_get(json_object_get(canon, "fields"), 1);
    assert_string_equal(json_string_value(json_object_get(f1, "normalize")), "trim");
    assert_true(json_is_false(
        json_object_get(json_array_get(json_object_get(canon, "fields"), 2), "indexed")));
    char *text = json_dumps(canon, JSON_COMPACT);
    struct ecl_schema *again = parse_ok(text);
    assert_true(json_equal((json_t *)canon, (json_t *)ecl_schema_json(again)));
    free(text);
    ecl_schema_free(again);
    ecl_schema_free(s);
}

static void
test_document_errors(void **state)
{
    char big[ECL_SCHEMA_MAX_BYTES + 2];

    (void)state;
    parse_err("", ECL_ERR_INVALID, "", "line");
    parse_err("{\"name\":", ECL_ERR_INVALID, "", "ends too early");
    parse_err("[1]", ECL_ERR_INVALID, "", "must be a JSON object");
    parse_err("{} {}", ECL_ERR_INVALID, "", "data after");
    parse_err("{\"name\":\"a\",\"name\":\"b\"}", ECL_ERR_INVALID, "", "appears twice");
    parse_err(
        "{\"name\":\"a\",\"subject_id\":\"id\",\"fields\":[{\"name\":\"id\",\"name\":\"x\"}]}",
        ECL_ERR_INVALID, "", "appears twice");
    parse_err("{\"name\":\"\xff\"}", ECL_ERR_INVALID, "", "UTF-8");
    /* nesting beyond ECL_JSON_MAX_DEPTH */
    char deep[2 * (ECL_JSON_MAX_DEPTH + 2) + 16];
    size_t n = 0;
    deep[n++] = '{';
    memcpy(deep + n, "\"d\":", 4);
    n += 4;
    for (int i = 0; i < ECL_JSON_MAX_DEPTH + 1; i++) {
        deep[n++] = '[';
    }
    for (int i = 0; i < ECL_JSON_MAX_DEPTH + 1; i++) {
        deep[n++] = ']';
    }
    deep[n++] = '}';
    deep[n] = 0;
    parse_err(deep, ECL_ERR_INVALID, "", "nested too deeply");
    /* size: one byte over the limit is refused before parsing */
    memset(big, ' ', sizeof big);
    big[sizeof big - 1] = 0;
    parse_err(big, ECL_ERR_LIMIT, "", "larger than");
}

static void
test_top_level_keys(void **state)
{
    char *doc = NULL;
    char *fields = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    parse_err("{\"name\":\"a\",\"subject_id\":\"id\",\"fields\":[" MINI_FIELD "],\"colour\":1}",
              ECL_ERR_INVALID, "/colour", "unknown key");
    parse_err("{\"name\":\"a\",\"subject_id\":\"id\",\"fields\":[" MINI_FIELD "],\"a/b~\":1}",
              ECL_ERR_INVALID, "/a~1b~0", "unknown key");
    parse_err("{\"subject_id\":\"id\",\"fields\":[" MINI_FIELD "]}", ECL_ERR_INVALID, "/name",
              "dataset name");
    parse_err("{\"name\":7,\"subject_id\":\"id\",\"fields\":[" MINI_FIELD "]}", ECL_ERR_INVALID,
              "/name", "dataset name");
    parse_err("{\"name\":\"9a\",\"subject_id\":\"id\",\"fields\":[" MINI_FIELD "]}",
              ECL_ERR_INVALID, "/name", "starting with a letter");
    parse_err("{\"name\":\"a b\",\"subject_id\":\"id\",\"fields\":[" MINI_FIELD "]}",
              ECL_ERR_INVALID, "/name", "dataset name");
    parse_err("{\"name\":\"a\",\"description\":1,\"subject_id\":\"id\",\"fields\":[" MINI_FIELD
              "]}",
              ECL_ERR_INVALID, "/description", "must be a string");
    parse_err("{\"name\":\"a\",\"subject_id\":\"id\"}", ECL_ERR_INVALID, "/fields",
              "array of 1 to");
    parse_err("{\"name\":\"a\",\"subject_id\":\"id\",\"fields\":[]}", ECL_ERR_INVALID, "/fields",
              "array of 1 to");
    parse_err("{\"name\":\"a\",\"subject_id\":\"id\",\"fields\":{}}", ECL_ERR_INVALID, "/fields",
              "array of 1 to");
    parse_err("{\"name\":\"a\",\"subject_id\":\"id\",\"fields\":[" MINI_FIELD ",3]}",
              ECL_ERR_INVALID, "/fields/1", "must be an object");
    parse_err("{\"name\":\"a\",\"subject_id\":\"id\",\"fields\":[" MINI_FIELD "," MINI_FIELD "]}",
              ECL_ERR_INVALID, "/fields/1/name", "two fields have this name");

    /* name length: 64 accepted, 65 refused */
    char name[ECL_NAME_MAX_LEN + 2];
    memset(name, 'a', sizeof name);
    name[ECL_NAME_MAX_LEN] = 0;
    assert_true(asprintf(&doc,
                         "{\"name\":\"%s\",\"subject_id\":\"id\",\"fields\":[" MINI_FIELD "]}",
                         name) > 0);
    ecl_schema_free(parse_ok(doc));
    free(doc);
    name[ECL_NAME_MAX_LEN] = 'a';
    name[ECL_NAME_MAX_LEN + 1] = 0;
    assert_true(asprintf(&doc,
                         "{\"name\":\"%s\",\"subject_id\":\"id\",\"fields\":[" MINI_FIELD "]}",
                         name) > 0);
    parse_err(doc, ECL_ERR_INVALID, "/name", "dataset name");
    free(doc);

    /* field count: ECL_SCHEMA_MAX_FIELDS accepted, one more refused */
    for (int extra = 0; extra < 2; extra++) {
        f = open_memstream(&fields, &len);
        assert_non_null(f);
        fputs(MINI_FIELD, f);
        for (int i = 1; i < ECL_SCHEMA_MAX_FIELDS + extra; i++) {
            fprintf(f, ",{\"name\":\"f%d\",\"type\":\"integer\",\"classification\":\"public\"}", i);
        }
        fclose(f);
        assert_true(
            asprintf(&doc, "{\"name\":\"a\",\"subject_id\":\"id\",\"fields\":[%s]}", fields) > 0);
        if (extra == 0) {
            struct ecl_schema *s = parse_ok(doc);
            assert_int_equal(s->nfields, ECL_SCHEMA_MAX_FIELDS);
            ecl_schema_free(s);
        } else {
            parse_err(doc, ECL_ERR_INVALID, "/fields", "array of 1 to");
        }
        free(doc);
        free(fields);
    }
}

static void
test_subject_id_rules(void **state)
{
    struct ecl_schema *s;

    (void)state;
    parse_err("{\"name\":\"a\",\"fields\":[" MINI_FIELD "]}", ECL_ERR_INVALID, "/subject_id",
              "must name the subject identifier");
    parse_err("{\"name\":\"a\",\"subject_id\":1,\"fields\":[" MINI_FIELD "]}", ECL_ERR_INVALID,
              "/subject_id", "must name the subject identifier");
    parse_err("{\"name\":\"a\",\"subject_id\":\"nope\",\"fields\":[" MINI_FIELD "]}",
              ECL_ERR_INVALID, "/subject_id", "names no field");
    parse_err("{\"name\":\"a\",\"subject_id\":\"id\",\"fields\":[{\"name\":\"id\",\"type\":"
              "\"integer\",\"classification\":\"identifier\"}]}",
              ECL_ERR_INVALID, "/subject_id", "must be a string field");
    parse_err("{\"name\":\"a\",\"subject_id\":\"id\",\"fields\":[{\"name\":\"id\",\"type\":"
              "\"enum\",\"values\":[\"x\"],\"classification\":\"identifier\"}]}",
              ECL_ERR_INVALID, "/subject_id", "must be a string field");
    parse_err("{\"name\":\"a\",\"subject_id\":\"id\",\"fields\":[{\"name\":\"id\",\"type\":"
              "\"date\",\"classification\":\"identifier\"}]}",
              ECL_ERR_INVALID, "/subject_id", "must be a string field");
    /* the subject may be any field, not only the first; it becomes required */
    s = parse_ok("{\"name\":\"a\",\"subject_id\":\"k\",\"fields\":[{\"name\":\"n\",\"type\":"
                 "\"integer\",\"classification\":\"public\"},{\"name\":\"k\",\"type\":"
                 "\"string\",\"classification\":\"identifier\",\"required\":false}]}");
    assert_int_equal(s->subject_field, 1);
    assert_true(s->fields[1].required);
    assert_false(s->fields[0].required);
    ecl_schema_free(s);
}

static void
test_field_keys(void **state)
{
    struct ecl_schema *s = NULL;
    const struct ecl_field *f;
    char field[256];

    (void)state;
    field_err("{\"name\":\"x\",\"type\":\"string\",\"classification\":\"public\",\"colour\":1}",
              "/fields/1/colour", "unknown key");
    field_err("{\"type\":\"string\",\"classification\":\"public\"}", "/fields/1/name",
              "field name");
    field_err("{\"name\":\"_x\",\"type\":\"string\",\"classification\":\"public\"}",
              "/fields/1/name", "field name");
    field_err("{\"name\":\"x\",\"classification\":\"public\"}", "/fields/1/type",
              "the type must be one of");
    field_err("{\"name\":\"x\",\"type\":\"text\",\"classification\":\"public\"}", "/fields/1/type",
              "the type must be one of");
    field_err("{\"name\":\"x\",\"type\":[\"string\"],\"classification\":\"public\"}",
              "/fields/1/type", "the type must be one of");
    field_err("{\"name\":\"x\",\"type\":\"string\"}", "/fields/1/classification",
              "the classification must be");
    field_err("{\"name\":\"x\",\"type\":\"string\",\"classification\":\"secret\"}",
              "/fields/1/classification", "the classification must be");
    field_err("{\"name\":\"x\",\"type\":\"string\",\"classification\":\"public\",\"normalize\":"
              "\"lower\"}",
              "/fields/1/normalize", "normalize must be one of");
    field_err("{\"name\":\"x\",\"type\":\"string\",\"classification\":\"public\",\"normalize\":"
              "1}",
              "/fields/1/normalize", "normalize must be one of");
    field_err("{\"name\":\"x\",\"type\":\"string\",\"classification\":\"public\",\"indexed\":"
              "\"yes\"}",
              "/fields/1/indexed", "true or false");
    field_err("{\"name\":\"x\",\"type\":\"string\",\"classification\":\"public\",\"required\":1}",
              "/fields/1/required", "true or false");
    field_err("{\"name\":\"x\",\"type\":\"string\",\"classification\":\"public\",\"description\":"
              "false}",
              "/fields/1/description", "must be a string");
    /* max_length: 1 and ECL_FIELD_MAX_BYTES accepted; 0, max+1, real, string refused */
    field_err("{\"name\":\"x\",\"type\":\"string\",\"classification\":\"public\",\"max_length\":0}",
              "/fields/1/max_length", "integer from 1");
    snprintf(field, sizeof field,
             "{\"name\":\"x\",\"type\":\"string\",\"classification\":\"public\",\"max_length\":%d}",
             ECL_FIELD_MAX_BYTES + 1);
    field_err(field, "/fields/1/max_length", "integer from 1");
    field_err("{\"name\":\"x\",\"type\":\"string\",\"classification\":\"public\",\"max_length\":"
              "5.0}",
              "/fields/1/max_length", "integer from 1");
    field_err("{\"name\":\"x\",\"type\":\"integer\",\"classification\":\"public\",\"max_length\":"
              "5}",
              "/fields/1/max_length", "string fields only");
    snprintf(field, sizeof field,
             "{\"name\":\"x\",\"type\":\"string\",\"classification\":\"public\",\"max_length\":%d}",
             ECL_FIELD_MAX_BYTES);
    f = field_ok(&s, field);
    assert_int_equal(f->max_length, ECL_FIELD_MAX_BYTES);
    ecl_schema_free(s);
    f = field_ok(&s, "{\"name\":\"x\",\"type\":\"string\",\"classification\":\"public\","
                     "\"max_length\":1,\"normalize\":\"alnum_upper\",\"indexed\":true}");
    assert_int_equal(f->max_length, 1);
    assert_int_equal(f->normalize, ECL_NORM_ALNUM_UPPER);
    assert_true(f->indexed);
    ecl_schema_free(s);
    /* several problems in one document are all reported */
    struct ecl_diags d;
    struct ecl_schema *out = NULL;
    const char *many = "{\"name\":\"1\",\"subject_id\":\"id\",\"fields\":[" MINI_FIELD
                       ",{\"name\":\"x\",\"type\":\"t\",\"classification\":\"c\"}],\"z\":0}";
    ecl_diags_init(&d);
    assert_int_equal(ecl_schema_parse(many, strlen(many), &d, &out), ECL_ERR_INVALID);
    assert_int_equal(ecl_diags_count(&d), 4);
}

static void
test_enum_rules(void **state)
{
    struct ecl_schema *s = NULL;
    const struct ecl_field *f;
    char *vals = NULL;
    char *field = NULL;
    size_t len = 0;
    FILE *m;

    (void)state;
    field_err("{\"name\":\"e\",\"type\":\"enum\",\"classification\":\"public\"}",
              "/fields/1/values", "needs 1 to");
    field_err("{\"name\":\"e\",\"type\":\"enum\",\"values\":[],\"classification\":\"public\"}",
              "/fields/1/values", "needs 1 to");
    field_err("{\"name\":\"e\",\"type\":\"enum\",\"values\":\"a\",\"classification\":\"public\"}",
              "/fields/1/values", "needs 1 to");
    field_err("{\"name\":\"e\",\"type\":\"enum\",\"values\":[\"a\",\"a\"],\"classification\":"
              "\"public\"}",
              "/fields/1/values/1", "listed twice");
    field_err("{\"name\":\"e\",\"type\":\"enum\",\"values\":[\"a\",\"\"],\"classification\":"
              "\"public\"}",
              "/fields/1/values/1", "string of 1 to");
    field_err("{\"name\":\"e\",\"type\":\"enum\",\"values\":[\"a\",2],\"classification\":"
              "\"public\"}",
              "/fields/1/values/1", "string of 1 to");
    field_err("{\"name\":\"e\",\"type\":\"enum\",\"values\":[\"a\",\"01234567890123456789012345"
              "678901234567890123456789012345678901234\"],\"classification\":\"public\"}",
              "/fields/1/values/1", "string of 1 to");
    field_err("{\"name\":\"s\",\"type\":\"string\",\"values\":[\"a\"],\"classification\":"
              "\"public\"}",
              "/fields/1/values", "enum fields only");
    /* ECL_ENUM_MAX_VALUES values accepted, one more refused */
    for (int extra = 0; extra < 2; extra++) {
        m = open_memstream(&vals, &len);
        assert_non_null(m);
        for (int i = 0; i < ECL_ENUM_MAX_VALUES + extra; i++) {
            fprintf(m, "%s\"v%d\"", i ? "," : "", i);
        }
        fclose(m);
        assert_true(asprintf(&field,
                             "{\"name\":\"e\",\"type\":\"enum\",\"values\":[%s],"
                             "\"classification\":\"public\"}",
                             vals) > 0);
        if (extra == 0) {
            f = field_ok(&s, field);
            assert_int_equal(f->nvalues, ECL_ENUM_MAX_VALUES);
            ecl_schema_free(s);
        } else {
            field_err(field, "/fields/1/values", "needs 1 to");
        }
        free(field);
        free(vals);
    }
}

static void
check(const struct ecl_field *f, const char *json, enum ecl_status want)
{
    const char *why = NULL;
    json_error_t err;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &err);

    assert_non_null(v);
    enum ecl_status st = ecl_schema_check_value(f, v, &why);
    if (st != want) {
        fprintf(stderr, "value %s: got %d want %d\n", json, st, want);
    }
    assert_int_equal(st, want);
    if (st != ECL_OK) {
        assert_non_null(why);
        /* the reason never quotes the value */
        assert_null(strstr(why, "Zzq"));
    }
    json_decref(v);
}

static void
test_check_value(void **state)
{
    struct ecl_schema *s = parse_ok(
        "{\"name\":\"a\",\"subject_id\":\"id\",\"fields\":[" MINI_FIELD
        ",{\"name\":\"s\",\"type\":\"string\",\"classification\":\"public\",\"max_length\":3},"
        "{\"name\":\"i\",\"type\":\"integer\",\"classification\":\"public\",\"required\":true},"
        "{\"name\":\"n\",\"type\":\"number\",\"classification\":\"public\"},"
        "{\"name\":\"b\",\"type\":\"boolean\",\"classification\":\"public\"},"
        "{\"name\":\"d\",\"type\":\"date\",\"classification\":\"public\"},"
        "{\"name\":\"e\",\"type\":\"enum\",\"values\":[\"A\",\"B\"],\"classification\":"
        "\"public\"}]}");
    const struct ecl_field *id = ecl_schema_field(s, "id");
    const struct ecl_field *fs = ecl_schema_field(s, "s");
    const struct ecl_field *fi = ecl_schema_field(s, "i");
    const struct ecl_field *fn = ecl_schema_field(s, "n");
    const struct ecl_field *fb = ecl_schema_field(s, "b");
    const struct ecl_field *fd = ecl_schema_field(s, "d");
    const struct ecl_field *fe = ecl_schema_field(s, "e");
    const char *why = NULL;

    (void)state;
    /* null and absent: only for fields that are not required */
    check(fs, "null", ECL_OK);
    assert_int_equal(ecl_schema_check_value(fs, NULL, &why), ECL_OK);
    check(fi, "null", ECL_ERR_INVALID);
    assert_int_equal(ecl_schema_check_value(fi, NULL, &why), ECL_ERR_INVALID);
    assert_string_equal(why, "this field is required");
    check(id, "\"\"", ECL_ERR_INVALID); /* required strings may not be empty */
    check(fs, "\"\"", ECL_OK);
    /* strings: max_length counts code points, not bytes */
    check(fs, "\"abc\"", ECL_OK);
    check(fs, "\"éèê\"", ECL_OK);
    check(fs, "\"abcd\"", ECL_ERR_INVALID);
    check(fs, "\"Zzqé\"", ECL_ERR_INVALID);
    check(fs, "3", ECL_ERR_INVALID);
    check(fs, "[\"a\"]", ECL_ERR_INVALID);
    /* the global value cap: ECL_FIELD_MAX_BYTES accepted, one more refused */
    {
        char *big = malloc(ECL_FIELD_MAX_BYTES + 2);
        json_t *v;
        memset(big, 'x', ECL_FIELD_MAX_BYTES + 1);
        v = json_stringn(big, ECL_FIELD_MAX_BYTES);
        assert_int_equal(ecl_schema_check_value(id, v, &why), ECL_OK);
        json_decref(v);
        v = json_stringn(big, ECL_FIELD_MAX_BYTES + 1);
        assert_int_equal(ecl_schema_check_value(id, v, &why), ECL_ERR_LIMIT);
        json_decref(v);
        free(big);
    }
    /* integers, numbers, booleans */
    check(fi, "0", ECL_OK);
    check(fi, "-9223372036854775808", ECL_OK);
    check(fi, "1.5", ECL_ERR_INVALID);
    check(fi, "1.0", ECL_ERR_INVALID);
    check(fi, "\"1\"", ECL_ERR_INVALID);
    check(fi, "true", ECL_ERR_INVALID);
    check(fn, "1", ECL_OK);
    check(fn, "-1.5e3", ECL_OK);
    check(fn, "\"1.5\"", ECL_ERR_INVALID);
    check(fb, "true", ECL_OK);
    check(fb, "false", ECL_OK);
    check(fb, "0", ECL_ERR_INVALID);
    check(fb, "\"true\"", ECL_ERR_INVALID);
    /* dates and enums */
    check(fd, "\"2024-02-29\"", ECL_OK);
    check(fd, "\"2023-02-29\"", ECL_ERR_INVALID);
    check(fd, "20240229", ECL_ERR_INVALID);
    check(fe, "\"A\"", ECL_OK);
    check(fe, "\"a\"", ECL_ERR_INVALID);
    check(fe, "\"A \"", ECL_ERR_INVALID);
    check(fe, "1", ECL_ERR_INVALID);
    ecl_schema_free(s);
}

static void
test_dates(void **state)
{
    static const struct {
        const char *s;
        int ok;
    } rows[] = {
        {"2024-02-29", 1}, /* leap year */
        {"2023-02-29", 0}, /* not a leap year */
        {"2000-02-29", 1}, /* divisible by 400 */
        {"1900-02-29", 0}, /* divisible by 100, not 400 */
        {"2100-02-29", 0}, {"2400-02-29", 1},  {"2023-02-28", 1},  {"2024-02-30", 0},
        {"2023-04-30", 1}, {"2023-04-31", 0},  {"2023-12-31", 1},  {"2023-12-32", 0},
        {"2023-01-31", 1}, {"2023-06-31", 0},  {"2023-09-31", 0},  {"2023-11-31", 0},
        {"0001-01-01", 1}, {"0000-01-01", 0},  {"9999-12-31", 1},  {"2023-00-10", 0},
        {"2023-13-01", 0}, {"2023-01-00", 0},  {"2023-1-01", 0},   {"2023-01-1", 0},
        {"2023/01/01", 0}, {"+023-01-01", 0},  {"2023-01-01T", 0}, {"2023-0a-01", 0},
        {"", 0},           {" 2023-01-01", 0},
    };
    int y = 0;
    int m = 0;
    int d = 0;

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int got = ecl_date_parse(rows[i].s, strlen(rows[i].s), &y, &m, &d);
        if (got != rows[i].ok) {
            fprintf(stderr, "date %s\n", rows[i].s);
        }
        assert_int_equal(got, rows[i].ok);
    }
    assert_true(ecl_date_parse("2024-02-29", 10, &y, &m, &d));
    assert_int_equal(y, 2024);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
    /* the length is explicit: a valid prefix of a longer buffer is not a date */
    assert_false(ecl_date_parse("2024-02-29", 9, &y, &m, &d));
    assert_true(ecl_is_leap_year(2024));
    assert_false(ecl_is_leap_year(2023));
    assert_false(ecl_is_leap_year(1900));
    assert_true(ecl_is_leap_year(2000));
    assert_int_equal(ecl_days_in_month(2024, 2), 29);
    assert_int_equal(ecl_days_in_month(2023, 2), 28);
    assert_int_equal(ecl_days_in_month(2023, 0), 0);
    assert_int_equal(ecl_days_in_month(2023, 13), 0);
}

static void
test_normalize(void **state)
{
    static const struct {
        enum ecl_normalize how;
        const char *in;
        const char *out;
    } rows[] = {
        {ECL_NORM_EXACT, " Ab c ", " Ab c "},
        {ECL_NORM_TRIM, " \t Ab c \r\n", "Ab c"},
        {ECL_NORM_TRIM, "   ", ""},
        {ECL_NORM_TRIM, "Élise", "Élise"},
        {ECL_NORM_EMAIL, " Marie.DUPONT@Example.FR ", "marie.dupont@example.fr"},
        {ECL_NORM_EMAIL, "ÉMILE@x.fr", "Émile@x.fr"}, /* only ASCII letters are folded */
        {ECL_NORM_DIGITS, "1 85 01 75 123 456 78",
         "18501751234567"
         "8"},
        {ECL_NORM_DIGITS, "+33 6 12-34.56", "336123456"},
        {ECL_NORM_DIGITS, "abc", ""},
        {ECL_NORM_ALNUM_UPPER, " fr76 3000-6000.01 ",
         "FR7630006000"
         "01"},
        {ECL_NORM_ALNUM_UPPER, "2a004", "2A004"},
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t n = ecl_normalize(rows[i].how, rows[i].in, strlen(rows[i].in), out, sizeof out);
        assert_int_equal(n, strlen(rows[i].out));
        assert_string_equal(out, rows[i].out);
    }
    /* capacity: exactly enough (len + NUL) works, one byte less does not */
    assert_int_equal(ecl_normalize(ECL_NORM_EXACT, "abcd", 4, out, 5), 4);
    assert_string_equal(out, "abcd");
    assert_int_equal(ecl_normalize(ECL_NORM_EXACT, "abcd", 4, out, 4), (size_t)-1);
    assert_int_equal(ecl_normalize(ECL_NORM_EXACT, "", 0, out, 0), (size_t)-1);
    assert_int_equal(ecl_normalize(ECL_NORM_EXACT, "", 0, out, 1), 0);
    /* the length is explicit: bytes after in_len are ignored */
    assert_int_equal(ecl_normalize(ECL_NORM_DIGITS, "12345", 3, out, sizeof out), 3);
    assert_string_equal(out, "123");
    /* names */
    assert_string_equal(ecl_normalize_name(ECL_NORM_ALNUM_UPPER), "alnum_upper");
    assert_string_equal(ecl_field_type_name(ECL_FT_DATE), "date");
    assert_string_equal(ecl_field_class_name(ECL_FC_SPECIAL_CATEGORY), "special_category");
    assert_string_equal(ecl_field_type_name((enum ecl_field_type)99), "unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key),      cmocka_unit_test(test_document_errors),
        cmocka_unit_test(test_top_level_keys), cmocka_unit_test(test_subject_id_rules),
        cmocka_unit_test(test_field_keys),     cmocka_unit_test(test_enum_rules),
        cmocka_unit_test(test_check_value),    cmocka_unit_test(test_dates),
        cmocka_unit_test(test_normalize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
