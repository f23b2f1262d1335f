/* The agent query language (gateway/api/query.h): body shape, where parsing against a schema
 * and its grants, condition evaluation, and the cursor codec (round trip, tamper, binding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api/query.h"
#include "assets.h"
#include "ecl/crypto.h"

static struct ecl_schema *schema;
static unsigned char all[ECL_SCHEMA_MAX_FIELDS];

static int
setup(void **state)
{
    struct ecl_diags d;
    (void)state;
    ecl_crypto_init();
    ecl_diags_init(&d);
    memset(all, 1, sizeof all);
    return ecl_schema_parse(ecl_asset_citizens_schema, ecl_asset_citizens_schema_len, &d,
                            &schema) == ECL_OK
               ? 0
               : -1;
}

static int
teardown(void **state)
{
    (void)state;
    ecl_schema_free(schema);
    return 0;
}

static enum ecl_status
parse(const char *where, struct ecl_query_where *w, json_t **keep)
{
    const char *why = NULL;
    *keep = json_loads(where, 0, NULL);
    return ecl_query_where_parse(*keep, schema, all, w, &why);
}

static void
test_body(void **state)
{
    static const struct {
        const char *json;
        enum ecl_status want;
    } rows[] = {
        {"{\"purpose\":\"p\"}", ECL_OK},
        {"{\"purpose\":\"p\",\"where\":{},\"fields\":[\"a\"],\"limit\":1000,\"cursor\":\"x\"}",
         ECL_OK},
        {"{}", ECL_ERR_INVALID},
        {"[]", ECL_ERR_INVALID},
        {"{\"purpose\":\"p\",\"limit\":0}", ECL_ERR_INVALID},
        {"{\"purpose\":\"p\",\"limit\":1001}", ECL_ERR_INVALID},
        {"{\"purpose\":\"p\",\"limit\":1.5}", ECL_ERR_INVALID},
        {"{\"purpose\":\"p\",\"fields\":[]}", ECL_ERR_INVALID},
        {"{\"purpose\":\"p\",\"fields\":[1]}", ECL_ERR_INVALID},
        {"{\"purpose\":\"p\",\"where\":[]}", ECL_ERR_INVALID},
        {"{\"purpose\":\"p\",\"other\":1}", ECL_ERR_INVALID},
        {"{\"purpose\":\"\"}", ECL_ERR_INVALID},
    };
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *j = json_loads(rows[i].json, 0, NULL);
        struct ecl_query_body b;
        const char *why = NULL;
        assert_non_null(j);
        assert_int_equal(ecl_query_body_parse(j, &b, &why), rows[i].want);
        json_decref(j);
    }
}

static void
test_where(void **state)
{
    static const struct {
        const char *where;
        enum ecl_status st;
        int match; /* against rec below */
    } rows[] = {
        {"{}", ECL_OK, 1},
        {"{\"postcode\":\"75011\"}", ECL_OK, 1},
        {"{\"email\":\"X@Example.NET\"}", ECL_OK, 1}, /* the field's normalisation */
        {"{\"postcode\":{\"eq\":\"75012\"}}", ECL_OK, 0},
        {"{\"sex\":{\"in\":[\"M\",\"F\"]}}", ECL_OK, 1},
        {"{\"sex\":{\"in\":[\"M\"]}}", ECL_OK, 0},
        {"{\"commune\":{\"prefix\":\"Par\"}}", ECL_OK, 1},
        {"{\"commune\":{\"prefix\":\"Lyo\"}}", ECL_OK, 0},
        {"{\"birth_date\":{\"range\":{\"min\":\"1950-01-01\",\"max\":\"1950-12-31\"}}}", ECL_OK, 1},
        {"{\"birth_date\":{\"range\":{\"min\":\"1950-06-16\"}}}", ECL_OK, 0},
        {"{\"birth_date\":{\"range\":{\"max\":\"1950-06-15\"}}}", ECL_OK, 1},
        {"{\"disability\":true}", ECL_OK, 0},
        {"{\"iban\":\"FR7630001007941234567890185\"}", ECL_OK, 0}, /* not in the record */
        {"{\"sex\":\"X\"}", ECL_ERR_INVALID, 0},                   /* not an enum value */
        {"{\"sex\":{\"eq\":\"F\",\"in\":[\"F\"]}}", ECL_ERR_INVALID, 0},
        {"{\"sex\":{\"like\":\"F\"}}", ECL_ERR_INVALID, 0},
        {"{\"sex\":{\"prefix\":\"F\"}}", ECL_ERR_INVALID, 0}, /* prefix on an enum */
        {"{\"commune\":{\"range\":{\"min\":\"a\"}}}", ECL_ERR_INVALID, 0},
        {"{\"birth_date\":{\"range\":{\"low\":\"1950-01-01\"}}}", ECL_ERR_INVALID, 0},
        {"{\"sex\":{\"in\":[]}}", ECL_ERR_INVALID, 0},
        {"{\"sex\":null}", ECL_ERR_INVALID, 0},
        {"{\"nosuch\":1}", ECL_ERR_DENIED, 0},
    };
    const char *rec_json = "{\"postcode\":\"75011\",\"sex\":\"F\",\"commune\":\"Paris\","
                           "\"birth_date\":\"1950-06-15\",\"disability\":false,"
                           "\"email\":\"x@example.net\"}";
    json_t *rec = json_loads(rec_json, 0, NULL);
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct ecl_query_where w;
        json_t *keep = NULL;
        assert_int_equal(parse(rows[i].where, &w, &keep), rows[i].st);
        if (rows[i].st == ECL_OK) {
            assert_int_equal(ecl_query_where_match(&w, rec), rows[i].match);
        }
        json_decref(keep);
    }
    json_decref(rec);
}

static void
test_where_grants_and_index(void **state)
{
    unsigned char granted[ECL_SCHEMA_MAX_FIELDS];
    struct ecl_query_where w;
    const char *why = NULL;
    json_t *j = json_loads("{\"commune\":\"Paris\",\"postcode\":{\"in\":[\"75011\"]}}", 0, NULL);
    json_t *bad = json_loads("{\"email\":{\"bogus\":1}}", 0, NULL);
    (void)state;
    memset(granted, 0, sizeof granted);
    granted[ecl_schema_field_index(schema, "commune")] = 1;
    /* a condition on a field that is not granted is refused whatever its shape */
    assert_int_equal(ecl_query_where_parse(j, schema, granted, &w, &why), ECL_ERR_DENIED);
    assert_int_equal(ecl_query_where_parse(bad, schema, granted, &w, &why), ECL_ERR_DENIED);
    granted[ecl_schema_field_index(schema, "postcode")] = 1;
    assert_int_equal(ecl_query_where_parse(j, schema, granted, &w, &why), ECL_OK);
    assert_int_equal(w.n, 2);
    /* commune is not indexed, postcode is */
    assert_int_equal(ecl_query_where_index_cond(&w), w.conds[0].field->indexed ? 0 : 1);
    assert_string_equal(w.conds[ecl_query_where_index_cond(&w)].field->name, "postcode");
    json_decref(j);
    json_decref(bad);
}

static void
test_cursor(void **state)
{
    uint8_t key[ECL_KEY_LEN];
    uint8_t bind[ECL_HASH_LEN];
    uint8_t other[ECL_HASH_LEN];
    uint8_t skey[ECL_SUBJECT_KEY_LEN];
    uint8_t got[ECL_SUBJECT_KEY_LEN];
    char c[ECL_CURSOR_MAX_LEN + 1];
    char t[ECL_CURSOR_MAX_LEN + 1];
    unsigned phase = 99;
    (void)state;
    memset(key, 7, sizeof key);
    memset(bind, 1, sizeof bind);
    memset(other, 2, sizeof other);
    for (size_t i = 0; i < sizeof skey; i++) {
        skey[i] = (uint8_t)i;
    }
    assert_int_equal(ecl_query_cursor_encode(key, bind, 3, skey, c), ECL_OK);
    assert_int_equal(ecl_query_cursor_decode(key, bind, c, strlen(c), &phase, got), ECL_OK);
    assert_int_equal(phase, 3);
    assert_memory_equal(got, skey, sizeof skey);
    /* bound to the query */
    assert_int_equal(ecl_query_cursor_decode(key, other, c, strlen(c), &phase, got),
                     ECL_ERR_INVALID);
    /* every single-character change is refused */
    for (size_t i = 0; i < strlen(c); i++) {
        memcpy(t, c, sizeof t);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_int_equal(ecl_query_cursor_decode(key, bind, t, strlen(t), &phase, got),
                         ECL_ERR_INVALID);
    }
    /* truncated, empty, too long, another key */
    assert_int_equal(ecl_query_cursor_decode(key, bind, c, strlen(c) - 1, &phase, got),
                     ECL_ERR_INVALID);
    assert_int_equal(ecl_query_cursor_decode(key, bind, c, 0, &phase, got), ECL_ERR_INVALID);
    key[0] ^= 1;
    assert_int_equal(ecl_query_cursor_decode(key, bind, c, strlen(c), &phase, got),
                     ECL_ERR_INVALID);
    assert_int_equal(ecl_query_cursor_encode(key, bind, 0x10000, skey, c), ECL_ERR_LIMIT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_where),
        cmocka_unit_test(test_where_grants_and_index),
        cmocka_unit_test(test_cursor),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
