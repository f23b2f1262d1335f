/* libFuzzer target: a query request body (gateway/api/query.h) through the JSON loader, the
 * body parser, the where parser against the demo citizens schema, and the evaluator. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "api/query.h"
#include "assets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ecl_schema *schema;
    static unsigned char granted[ECL_SCHEMA_MAX_FIELDS];
    struct ecl_query_body qb;
    struct ecl_query_where w;
    const char *why = NULL;
    json_t *body;
    json_t *rec;

    if (schema == NULL) {
        struct ecl_diags d;
        ecl_diags_init(&d);
        if (ecl_schema_parse(ecl_asset_citizens_schema, ecl_asset_citizens_schema_len, &d,
                             &schema) != ECL_OK) {
            return 0;
        }
        for (size_t i = 0; i < schema->nfields; i++) {
            granted[i] = (unsigned char)(i % 3 != 2);
        }
    }
    body = ecl_json_load((const char *)data, size, ECL_JSON_MAX_DEPTH, &why, NULL);
    if (body == NULL) {
        return 0;
    }
    if (ecl_query_body_parse(body, &qb, &why) == ECL_OK &&
        ecl_query_where_parse(qb.where, schema, granted, &w, &why) == ECL_OK) {
        rec = json_pack("{s:s, s:s, s:s, s:s, s:b}", "postcode", "75011", "sex", "F", "commune",
                        "Paris", "birth_date", "1950-06-15", "disability", 0);
        (void)ecl_query_where_match(&w, rec);
        (void)ecl_query_where_index_cond(&w);
        json_decref(rec);
    }
    json_decref(body);
    return 0;
}
