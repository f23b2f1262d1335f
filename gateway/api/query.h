/* The agent's query language and the query cursor (docs/api.md, "Queries").  Pure functions
 * over JSON and a dataset schema; no I/O.  Used by the disclosure path (disclose.c) and by
 * the unit tests and the fuzz target.
 *
 * A where object maps field names to conditions, with the operators of the policy's row
 * conditions (docs/policy.md): a bare scalar or {"eq": v}, {"in": [v, ...]},
 * {"prefix": "..."} (string fields) and {"range": {"min": a, "max": b}} (integer, number and
 * date fields; inclusive, either bound may be left out).  Every condition must hold.  Conditions
 * compare the stored values; strings compare after the field's normalisation, so an eq on an
 * indexed field means the same as its blind-index look-up. */
#ifndef ECL_API_QUERY_H
#define ECL_API_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ecl/crypto.h"
#include "ecl/limits.h"
#include "ecl/schema.h"
#include "ecl/status.h"

enum ecl_query_op {
    ECL_QOP_EQ = 0,
    ECL_QOP_IN,
    ECL_QOP_PREFIX,
    ECL_QOP_RANGE,
};

/* One condition; every pointer borrows from the parsed where object and the schema. */
struct ecl_query_cond {
    const struct ecl_field *field;
    size_t schema_index;
    enum ecl_query_op op;
    const json_t *value; /* EQ: the value; IN: the array */
    const json_t *min;   /* RANGE: inclusive bounds, either may be NULL */
    const json_t *max;
    const char *prefix; /* PREFIX */
    size_t prefix_len;
};

struct ecl_query_where {
    size_t n;
    struct ecl_query_cond conds[ECL_QUERY_MAX_CONDITIONS];
};

/* The members of a query body: {"purpose", "where", "fields", "limit", "cursor"}. */
struct ecl_query_body {
    const char *purpose;  /* required */
    const json_t *where;  /* object or NULL */
    const json_t *fields; /* array of strings or NULL */
    size_t limit;         /* 0 when absent */
    const char *cursor;   /* NULL when absent */
};

/* Checks the shape of a query body (borrowed; out borrows from it): an object with only the
 * known members, purpose a non-empty string, where an object, fields an array of strings,
 * limit an integer from 1 to ECL_HTTP_RECORDS_PER_REQUEST, cursor a string of at most
 * ECL_CURSOR_MAX_LEN bytes.  ECL_ERR_INVALID with *why a static sentence otherwise. */
enum ecl_status ecl_query_body_parse(const json_t *body, struct ecl_query_body *out,
                                     const char **why) ECL_WUR;

/* Parses where (NULL: no condition) against schema.  granted[i] is non-zero when the schema's
 * field i is granted to the caller: a condition on any other field -- unknown to the schema or
 * not granted -- is ECL_ERR_DENIED, so that where cannot probe fields the agent may not see.
 * ECL_ERR_INVALID (*why a static sentence, never the value) for a malformed condition,
 * ECL_ERR_LIMIT beyond ECL_QUERY_MAX_CONDITIONS.  out borrows from where and schema. */
enum ecl_status ecl_query_where_parse(const json_t *where, const struct ecl_schema *schema,
                                      const unsigned char *granted, struct ecl_query_where *out,
                                      const char **why) ECL_WUR;

/* 1 when every condition holds on record (a JSON object of stored values); a missing or null
 * field fails every condition. */
int ecl_query_where_match(const struct ecl_query_where *w, const json_t *record);

/* The condition to drive a blind-index look-up with: an eq or in on an indexed string or enum
 * field; -1 when none. */
long ecl_query_where_index_cond(const struct ecl_query_where *w);

/* ---- cursor ---------------------------------------------------------------------------------
 * An opaque, tamper-proof position: base64url(u16be phase || subject key || tag) where phase
 * is the index of the "in" value being looked up (0 otherwise) and tag = BLAKE2b-128(key =
 * cursor key, bind || u16be phase || subject key).  bind is the caller's hash of what the
 * cursor may continue (agent, dataset, purpose, where, fields), so a cursor works only for the
 * query that produced it. */
enum {
    ECL_CURSOR_TAG_LEN = 16,
    ECL_CURSOR_RAW_LEN = 2 + ECL_SUBJECT_KEY_LEN + ECL_CURSOR_TAG_LEN,
};

/* Writes the NUL-terminated cursor to out (ECL_CURSOR_MAX_LEN + 1 bytes). */
enum ecl_status ecl_query_cursor_encode(const uint8_t key[ECL_KEY_LEN],
                                        const uint8_t bind[ECL_HASH_LEN], unsigned phase,
                                        const uint8_t skey[ECL_SUBJECT_KEY_LEN],
                                        char out[ECL_CURSOR_MAX_LEN + 1]) ECL_WUR;
/* ECL_ERR_INVALID for anything that is not a cursor made with key for bind. */
enum ecl_status ecl_query_cursor_decode(const uint8_t key[ECL_KEY_LEN],
                                        const uint8_t bind[ECL_HASH_LEN], const char *text,
                                        size_t len, unsigned *phase,
                                        uint8_t skey[ECL_SUBJECT_KEY_LEN]) ECL_WUR;

#endif
