/* libFuzzer target for the dataset schema parser (ecl_schema_parse): any input is refused with a
 * status or parsed into a schema whose canonical JSON parses again to the same schema. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ecl/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ecl_diags d;
    struct ecl_schema *s = NULL;
    struct ecl_schema *again = NULL;
    char *canon;

    ecl_diags_init(&d);
    if (ecl_schema_parse((const char *)data, size, &d, &s) != ECL_OK) {
        return 0;
    }
    /* the canonical form is itself a valid schema with the same fields */
    canon = json_dumps(ecl_schema_json(s), JSON_COMPACT);
    if (canon == NULL) {
        abort();
    }
    ecl_diags_init(&d);
    if (ecl_schema_parse(canon, strlen(canon), &d, &again) != ECL_OK ||
        again->nfields != s->nfields || strcmp(again->name, s->name) != 0) {
        abort();
    }
    free(canon);
    ecl_schema_free(again);
    ecl_schema_free(s);
    return 0;
}
