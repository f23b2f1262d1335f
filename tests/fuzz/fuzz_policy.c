/* libFuzzer target: the policy parser, validator and compiler on arbitrary bytes, then every
 * evaluation entry point on whatever compiled (demo schemas as the datasets). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "assets.h"
#include "ecl/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ecl_schema *schemas[2];

static void
load_schemas(void)
{
    struct ecl_diags d;

    ecl_diags_init(&d);
    if (ecl_schema_parse(ecl_asset_citizens_schema, ecl_asset_citizens_schema_len, &d,
                         &schemas[0]) != ECL_OK ||
        ecl_schema_parse(ecl_asset_benefits_schema, ecl_asset_benefits_schema_len, &d,
                         &schemas[1]) != ECL_OK) {
        abort();
    }
}

static void
exercise(const struct ecl_policy *p)
{
    static const char *const agents[] = {
        "service-desk-assistant", "eligibility-assistant", "statistics-bot", "a", "b", "a1", "a2"};
    static const char *const purposes[] = {
        "citizen_services", "benefit_eligibility", "p", "q", "p1", "p2"};
    static const char *const datasets[] = {"citizens", "benefits"};
    json_t *row = json_pack("{s:s,s:s,s:i,s:s}", "postcode", "75011", "sex", "F", "dependants", 2,
                            "birth_date", "1950-01-01");
    const char *objected = "p";

    for (size_t a = 0; a < sizeof agents / sizeof agents[0]; a++) {
        json_t *ex = NULL;
        if (ecl_policy_explain(p, agents[a], NULL, &ex) == ECL_OK) {
            json_decref(ex);
        }
        for (size_t u = 0; u < sizeof purposes / sizeof purposes[0]; u++) {
            for (size_t d = 0; d < 2; d++) {
                struct ecl_policy_facts f = {agents[a], purposes[u], datasets[d], 3, 1750000000};
                struct ecl_decision dec;
                ecl_policy_eval(p, &f, &dec);
                (void)ecl_policy_row_check(&dec, row, &objected, 1);
                (void)ecl_policy_row_check(&dec, row, NULL, 0);
            }
        }
    }
    json_decref(row);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ecl_policy *p = NULL;
    struct ecl_diags d;

    if (schemas[0] == NULL) {
        load_schemas();
    }
    ecl_diags_init(&d);
    if (ecl_policy_parse((const char *)data, size, (const struct ecl_schema *const *)schemas, 2, &d,
                         &p) == ECL_OK) {
        exercise(p);
        ecl_policy_free(p);
    }
    return 0;
}
