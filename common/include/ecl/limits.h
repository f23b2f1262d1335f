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

/* HTTP layer (gateway/http): framing, parsing and authentication limits. */
enum {
    ECL_HTTP_MAX_THREADS = 64,              /* --threads */
    ECL_HTTP_MAX_PATH_SEGMENTS = 16,        /* segments of a request path */
    ECL_HTTP_MAX_QUERY_PARAMS = 32,         /* query parameters of one request */
    ECL_HTTP_MAX_RESP_HEADERS = 8,          /* extra headers of one response */
    ECL_HTTP_HEADER_VALUE_MAX_LEN = 256,    /* an extra response header's value */
    ECL_HTTP_JSON_MAX_BYTES = 64 << 10,     /* a JSON body of the principal and ops endpoints */
    ECL_HTTP_JSON_MAX_DEPTH = 16,           /* nesting of a JSON request body */
    ECL_HTTP_DISCARD_MAX_FACTOR = 2,        /* chunked body: drop the connection past cap*factor */
    ECL_HTTP_REQUEST_ID_MAX_LEN = 64,       /* X-Request-Id */
    ECL_HTTP_SHUTDOWN_GRACE_S = 10,         /* waiting for suspended requests at shutdown */
    ECL_HTTP_TLS_MAX_CERTS = 8,             /* certificates in a --tls-cert chain */
    ECL_HTTP_TLS_MAX_FILE_BYTES = 1 << 20,  /* a certificate chain or key file */
    ECL_HTTP_METRICS_MAX_BYTES = 1 << 20,   /* /metrics text */
    ECL_HTTP_MAX_RESPONSE_BYTES = 16 << 20, /* one response body */
    ECL_HTTP_METRICS_MAX_SOURCES = 16,      /* integrator metric sources */
    ECL_LOG_LINE_MAX = 1024,                /* one JSON log line */

    /* principals and API keys */
    ECL_PRINCIPAL_ID_LEN = 8,    /* key id: 16 hex characters */
    ECL_API_SECRET_LEN = 32,     /* secret: 43 base64url characters */
    ECL_API_KEY_MAX_LEN = 80,    /* "ek_" + 16 + "." + 43 */
    ECL_PRINCIPALS_MAX = 100000, /* principals listed at once */
};

/* LMDB map sizes (virtual address space reserved, not disk used). */
#define ECL_RECORDS_MAP_SIZE ((size_t)64 << 30)
#define ECL_AUDIT_MAP_SIZE   ((size_t)64 << 30)

#endif
