/* A faster json_dumps for answers: the exact bytes of
 * json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) (jansson 2.14), written into a
 * capped struct ecl_buf without jansson's per-key look-ups and callbacks.  Used for the data and
 * meta of every answer (commit.c); tests/unit/test_json_dump.c compares it with jansson over
 * random trees. */
#ifndef ECL_API_JSON_DUMP_H
#define ECL_API_JSON_DUMP_H

#include <jansson.h>

#include "ecl/buf.h"

/* Appends the encoding of v to out.  ECL_ERR_INVALID where jansson's json_dumps would fail (a
 * string that is not valid UTF-8), ECL_ERR_LIMIT when out's cap is reached, ECL_ERR_NOMEM.  On
 * failure out is left as it was. */
enum ecl_status ecl_api_json_dump(const json_t *v, struct ecl_buf *out) ECL_WUR;

#endif
