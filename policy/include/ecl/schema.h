/* Dataset schemas (docs/datasets.md): the vocabulary shared by the store (validation on import),
 * the policy (reference checks) and the API (describe a dataset).  Pure: parsing works on a
 * buffer, never on a file.  A parsed schema is immutable and may be shared between threads. */
#ifndef ECL_SCHEMA_H
#define ECL_SCHEMA_H

#include <stddef.h>

#include <jansson.h>

#include "ecl/diag.h"
#include "ecl/limits.h"
#include "ecl/status.h"

enum ecl_field_type {
    ECL_FT_STRING = 0,
    ECL_FT_INTEGER,
    ECL_FT_NUMBER,
    ECL_FT_BOOLEAN,
    ECL_FT_DATE, /* "YYYY-MM-DD", a valid proleptic Gregorian date */
    ECL_FT_ENUM, /* a string from the field's list of values */
};
#define ECL_FT_COUNT 6

enum ecl_field_class {
    ECL_FC_IDENTIFIER = 0,   /* identifies a person directly (NIR, email, IBAN, name) */
    ECL_FC_QUASI_IDENTIFIER, /* identifies in combination (birth date, postcode, sex) */
    ECL_FC_SENSITIVE,        /* income, benefits */
    ECL_FC_SPECIAL_CATEGORY, /* GDPR Art. 9: health, disability */
    ECL_FC_PUBLIC,
};
#define ECL_FC_COUNT 5

/* How a value is normalised before it is hashed (subject keys, blind indexes, pseudonyms). */
enum ecl_normalize {
    ECL_NORM_EXACT = 0,   /* the value as given */
    ECL_NORM_TRIM,        /* leading and trailing ASCII white space removed */
    ECL_NORM_EMAIL,       /* trimmed, ASCII letters folded to lower case */
    ECL_NORM_DIGITS,      /* every character that is not an ASCII digit removed (NIR, phone) */
    ECL_NORM_ALNUM_UPPER, /* spaces removed, ASCII letters upper-cased (IBAN, postcodes) */
};
#define ECL_NORM_COUNT 5

struct ecl_field {
    char name[ECL_NAME_MAX_LEN + 1];
    enum ecl_field_type type;
    enum ecl_field_class classification;
    enum ecl_normalize normalize;
    int indexed;       /* equality look-up through a blind index */
    int required;      /* must be present and not null in every record */
    size_t max_length; /* strings: code points, 0 = ECL_FIELD_MAX_BYTES bytes */
    char **values;     /* ECL_FT_ENUM: the allowed values */
    size_t nvalues;
    char *description; /* may be NULL */
};

struct ecl_schema {
    char name[ECL_NAME_MAX_LEN + 1];
    char *description;    /* may be NULL */
    size_t subject_field; /* index in fields of the subject identifier (required, string) */
    struct ecl_field *fields;
    size_t nfields;
    json_t *doc; /* the canonical JSON form (ecl_schema_to_json), owned */
};

/* Parses and validates a schema document (UTF-8 JSON, at most ECL_SCHEMA_MAX_BYTES).
 * Duplicate and unknown keys are refused; every problem goes into diags with its JSON pointer.
 * On success *out is a new schema (free with ecl_schema_free); on failure ECL_ERR_INVALID
 * (or ECL_ERR_LIMIT / ECL_ERR_NOMEM) and *out is untouched. */
enum ecl_status ecl_schema_parse(const char *json, size_t len, struct ecl_diags *diags,
                                 struct ecl_schema **out) ECL_WUR;
void ecl_schema_free(struct ecl_schema *s);

/* The field called name, or NULL. */
const struct ecl_field *ecl_schema_field(const struct ecl_schema *s, const char *name);
/* Index of the field called name, or -1. */
long ecl_schema_field_index(const struct ecl_schema *s, const char *name);

/* Canonical JSON of the schema (borrowed; valid while s lives). */
const json_t *ecl_schema_json(const struct ecl_schema *s);

/* Validates one value for a field: type, enum membership, date validity, length, UTF-8
 * (jansson strings are always valid UTF-8).  null is accepted only for fields that are not
 * required.  On failure returns ECL_ERR_INVALID and *why is a static sentence that never
 * quotes the value. */
enum ecl_status ecl_schema_check_value(const struct ecl_field *f, const json_t *v,
                                       const char **why) ECL_WUR;

/* Normalises a string for hashing per f->normalize into out (at most cap-1 bytes, NUL
 * terminated); returns the length, or (size_t)-1 when it does not fit. */
size_t ecl_normalize(enum ecl_normalize how, const char *in, size_t in_len, char *out, size_t cap);

/* Calendar helpers (pure). */
/* Parses "YYYY-MM-DD"; 1 when valid (year 0001-9999, real day of month). */
int ecl_date_parse(const char *s, size_t len, int *y, int *m, int *d);
int ecl_is_leap_year(int y);
int ecl_days_in_month(int y, int m);

/* 1 when s (n bytes) is a valid name of a dataset, field, purpose or agent: 1 to
 * ECL_NAME_MAX_LEN ASCII letters, digits, '_' or '-', starting with a letter. */
int ecl_name_ok(const char *s, size_t n);

/* Adds an "unknown key" diagnostic (at the key's JSON pointer under path) for every member of
 * obj whose key is not in allowed (NULL-terminated). */
void ecl_json_check_keys(const json_t *obj, const char *const *allowed, const char *path,
                         struct ecl_diags *diags);

const char *ecl_field_type_name(enum ecl_field_type t);
const char *ecl_field_class_name(enum ecl_field_class c);
const char *ecl_normalize_name(enum ecl_normalize n);

/* Loads JSON from a buffer with Écluse's rules: JSON_REJECT_DUPLICATES, an explicit length,
 * and a nesting cap (ECL_JSON_MAX_DEPTH).  Never exposes jansson's error text (it quotes the
 * input): *why is a static sentence, *line the 1-based line of the error when known. */
json_t *ecl_json_load(const char *buf, size_t len, size_t max_depth, const char **why, int *line);
/* Depth of a JSON value (a scalar is 0, [] is 1). */
size_t ecl_json_depth(const json_t *v, size_t stop_at);

#endif
