/* Every limit of Écluse, named in one place.  A limit that is not here is a bug. */
#ifndef ECL_LIMITS_H
#define ECL_LIMITS_H

#include <stddef.h>
#include <stdint.h>

enum {
    /* keys */
    ECL_KEY_LEN = 32,
    ECL_MASTER_KEY_LEN = 32,

    /* JSON documents */
    ECL_JSON_MAX_DEPTH = 32,        /* nesting of any JSON we parse */
    ECL_SCHEMA_MAX_BYTES = 1 << 20, /* dataset schema file */
    ECL_SCHEMA_MAX_FIELDS = 256,    /* fields in one dataset */
    ECL_NAME_MAX_LEN = 64,          /* dataset, field, purpose, agent, rule ids */
    ECL_ENUM_MAX_VALUES = 256,      /* values of one enum field */
    ECL_POLICY_MAX_BYTES = 4 << 20, /* policy document */

    /* records and import */
    ECL_RECORD_MAX_BYTES = 64 << 10, /* one record (one JSON line / CSV row) */
    ECL_FIELD_MAX_BYTES = 16 << 10,  /* one field value */
    ECL_SUBJECT_ID_MAX_LEN = 256,    /* subject identifier */
    ECL_IMPORT_BATCH_RECORDS = 4096, /* records per import write transaction */

    /* HTTP */
    ECL_HTTP_MAX_CONNECTIONS = 1024,
    ECL_HTTP_MAX_CONNECTIONS_PER_IP = 256,
    ECL_HTTP_CONNECTION_TIMEOUT_S = 15,
    ECL_HTTP_MAX_HEADER_BYTES = 16 << 10,
    ECL_HTTP_MAX_URL_LEN = 4096,
    ECL_HTTP_MAX_BODY_BYTES = 1 << 20,
    ECL_HTTP_MAX_POLICY_BODY_BYTES = 4 << 20,
    ECL_HTTP_RECORDS_PER_REQUEST = 1000,

    /* audit */
    ECL_AUDIT_QUEUE_MAX = 8192, /* entries waiting for the writer */
    ECL_AUDIT_BATCH_MAX = 1024, /* entries per commit */
    ECL_AUDIT_SUBJECTS_PER_ENTRY = 1000,
    ECL_AUDIT_LEAVES_PER_CALL = 1000,
};

/* policy documents (docs/policy.md) */
enum {
    ECL_POLICY_MAX_PURPOSES = 256,
    ECL_POLICY_MAX_AGENTS = 4096,
    ECL_POLICY_MAX_RULES = 16384,
    ECL_POLICY_MAX_AGENTS_PER_RULE = 256,
    ECL_POLICY_MAX_CONDITIONS = 32,     /* row conditions of one rule */
    ECL_POLICY_MAX_IN_VALUES = 256,     /* values of one "in" condition */
    ECL_POLICY_MAX_TEXT = 1024,         /* description, organisation: bytes */
    ECL_POLICY_MAX_MASK_KEEP = 64,      /* mask: keep_first / keep_last */
    ECL_POLICY_MAX_PREFIX = 64,         /* generalize prefix length, condition prefix */
    ECL_POLICY_MAX_AGE_BAND = 150,      /* years */
    ECL_POLICY_MAX_RETAIN_HOURS = 8760, /* one year */
    ECL_POLICY_MAX_RATE_PER_MINUTE = 1000000,
    ECL_POLICY_MAX_RECORDS_PER_DAY = 1000000000,
    ECL_POLICY_MAX_VERSIONS = 100000, /* stored policy versions */
    ECL_POLICY_MAX_DATASETS = 64,     /* schemas a policy is validated against */
    ECL_POLICY_AUTHOR_MAX_LEN = 64,   /* author name stored with a version */
};

/* LMDB map sizes (virtual address space reserved, not disk used). */
#define ECL_RECORDS_MAP_SIZE ((size_t)64 << 30)
#define ECL_AUDIT_MAP_SIZE   ((size_t)64 << 30)

#endif
