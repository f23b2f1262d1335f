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
    ECL_AUDIT_ENTRY_MAX_BYTES = 1 << 20, /* one stored entry (header || nonce || ciphertext) */
    ECL_AUDIT_FIELDS_PER_ENTRY = 256,    /* released fields named in one entry */
    ECL_AUDIT_TEXT_MAX_LEN = 1024,       /* one free-text string of an entry (reason, detail) */
    ECL_AUDIT_TOKEN_LEN = 8,             /* blind-index token: truncated keyed BLAKE2b */
    ECL_AUDIT_LIST_MAX = 1000,           /* entries returned by one list call */
    ECL_AUDIT_SCAN_MAX = 100000,         /* entries examined by one list call */
    ECL_AUDIT_VERIFY_MAX_FAILURES = 100, /* failures reported by one verify run */
    ECL_MERKLE_MAX_DEPTH = 64,           /* levels of a tree of up to 2^64 leaves */
    ECL_NOTE_MAX_BYTES = 4096,           /* one signed note (checkpoint) */
};

/* LMDB map sizes (virtual address space reserved, not disk used). */
#define ECL_RECORDS_MAP_SIZE ((size_t)64 << 30)
#define ECL_AUDIT_MAP_SIZE   ((size_t)64 << 30)

#endif
