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

    /* HTTP */
    ECL_HTTP_MAX_CONNECTIONS = 1024,
    ECL_HTTP_MAX_CONNECTIONS_PER_IP = 512,
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

/* MCP endpoint (gateway/mcp, docs/mcp.md) */
enum {
    ECL_MCP_MAX_SESSIONS = 1024,           /* live sessions, all agents */
    ECL_MCP_MAX_SESSIONS_PER_AGENT = 32,   /* beyond it the agent's idlest session is ended */
    ECL_MCP_SESSION_IDLE_S = 1800,         /* an idle session ends after this */
    ECL_MCP_SESSION_ID_BYTES = 16,         /* random bytes in a session id */
    ECL_MCP_MAX_BODY_BYTES = 64 << 10,     /* one JSON-RPC message */
    ECL_MCP_MAX_RESPONSE_BYTES = 64 << 20, /* one response (a query page of records) */
    ECL_MCP_MAX_ORIGINS = 32,              /* configured allowed origins */
    ECL_MCP_ORIGIN_MAX_LEN = 256,          /* one Origin value */
    ECL_MCP_HEADER_MAX_LEN = 256,          /* Mcp-Session-Id, MCP-Protocol-Version */
    ECL_MCP_CODE_MAX_LEN = 64,             /* a refusal reason code */
    ECL_MCP_MESSAGE_MAX_LEN = 256,         /* a refusal message */
    ECL_MCP_TEXT_MAX_BYTES = 1 << 20,      /* the text rendering of one tool result */
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
    ECL_POLICY_WATCH_INTERVAL_MS = 1000,    /* serve: how often the stored active policy is
                                               compared with the one in force */
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

/* pseudonyms, tokens and field transforms (docs/transforms.md) */
enum {
    ECL_PSEUDONYM_TAG_LEN = 16, /* 128-bit keyed BLAKE2b pseudonym */
    ECL_PSEUDONYM_MAX_LEN = 40, /* "ps_" epoch "_" 22 base64url characters, and margin */
    ECL_DOMAIN_ENC_MAX = 2 + 2 * (1 + ECL_NAME_MAX_LEN), /* encoded linkability domain */
    ECL_TOKEN_MAX_PLAIN = 1 + ECL_FIELD_MAX_BYTES,       /* kind byte || canonical value */
    ECL_TOKEN_MAX_LEN = 3 + ((4 + 24 + ECL_TOKEN_MAX_PLAIN + 16) / 3 + 1) * 4, /* "tk_..." */
    ECL_TRANSFORM_DOMAIN_SLOTS = 8,  /* derived domain keys cached per request context */
    ECL_AGE_BAND_TOP = 90,           /* ages from here on are released as "90+" */
    ECL_PSEUDO_INDEX_KEY_LEN = 32,   /* key of the pseudonym look-up index */
    ECL_PSEUDO_SUBJECT_KEY_MAX = 64, /* subject key stored in a pseudonym index entry */
    ECL_PSEUDO_PUT_MAX = 4096,       /* index entries written in one transaction */
    ECL_PSEUDO_VALUE_MAX = 256,      /* sealed value of one index entry */
};

/* the record store (gateway/store/records.h) */
enum {
    ECL_DATASETS_MAX = 64,            /* datasets in one store (schema cache size) */
    ECL_OBJECTIONS_MAX = 32,          /* purposes one subject may object to, per dataset */
    ECL_RECORDS_PAGE_MAX = 1000,      /* subject keys per scan or look-up page */
    ECL_IMPORT_PROGRESS_EVERY = 4096, /* records between two progress reports */
    ECL_DEMO_MAX_SIZE = 10000000,     /* people in a generated demo population */
};

/* streamed HTTP bodies and the auditor API (gateway/api/auditor.c) */
enum {
    ECL_HTTP_STREAM_BLOCK = 32 << 10,    /* bytes handed to libmicrohttpd per read */
    ECL_HTTP_STREAM_PIECE_MAX = 4 << 20, /* bytes one fill call may produce */
    ECL_AUDITOR_PAGE_DEFAULT = 100,      /* entries per page without ?limit */
    ECL_AUDITOR_PAGE_MAX = 1000,         /* ?limit of GET /v1/audit/entries */
    ECL_AUDITOR_EXPORT_BATCH = 64,       /* entries decrypted per export fill */
    ECL_AUDITOR_REPORT_MAX = 10000,      /* accesses in one Art. 15 report */
    ECL_AUDITOR_POLICY_CACHE = 16,       /* policy versions kept while building a report */
};

/* listening socket (gateway/http): pending connections the kernel queues before accept; MHD's
 * default is SOMAXCONN from the C headers (128), and a burst of more connections than that
 * (a client pool opening at once) gets its SYNs dropped and retried a second later. The
 * kernel caps it at net.core.somaxconn. */
enum {
    ECL_HTTP_LISTEN_BACKLOG = 1024,
};

/* the agent API and the disclosure path (gateway/api/disclose.c, docs/api.md) */
enum {
    ECL_QUERY_SCAN_MAX = 5000,           /* records examined (decrypted) by one query request */
    ECL_QUERY_MAX_CONDITIONS = 16,       /* field conditions of one query's where */
    ECL_QUERY_MAX_IN_VALUES = 256,       /* values of one "in" condition */
    ECL_QUERY_MAX_PREFIX = 64,           /* bytes of a "prefix" condition */
    ECL_QUERY_BODY_MAX_BYTES = 64 << 10, /* one query request body */
    ECL_CURSOR_MAX_LEN = 128,            /* an opaque query cursor (base64url) */
    ECL_ACTOR_REF_MAX_LEN = 128,         /* On-Behalf-Of and X-Case-Id values */
    ECL_LIMIT_STRIPES = 16,              /* mutexes of the per-(agent, rule) rate counters */
    ECL_LIMIT_COUNTERS_MAX = 65536,      /* (agent, rule) counters kept in memory */
};

/* the DPO API (gateway/api/dpo*.c) and its approvals (gateway/store/approvals.h) */
enum {
    ECL_APPROVAL_ID_LEN = 16,              /* random bytes of an approval id (32 hex digits) */
    ECL_APPROVAL_TTL_S = 24 * 3600,        /* an approval is usable for a day after its request */
    ECL_APPROVAL_RETAIN_S = 7 * 24 * 3600, /* finished approvals are kept (listed) a week */
    ECL_APPROVALS_MAX = 1000,              /* approvals kept in the store */
    ECL_REID_JUSTIFICATION_MIN_LEN = 10,   /* bytes of a re-identification justification */
    ECL_REID_JUSTIFICATION_MAX_LEN = 500,
    ECL_DPO_JSON_MAX_BYTES = 64 << 10, /* body of re-identification and approval requests */
    ECL_SIMULATE_MAX_BODY_BYTES = (4 << 20) + (1 << 20), /* a policy and a window or requests */
    ECL_SIMULATE_MAX_REQUESTS = 1000,                    /* given requests of one simulation */
    ECL_SIMULATE_MAX_ENTRIES = 100000, /* audit entries replayed by one simulation */
    ECL_SIMULATE_MAX_GROUPS = 1000,    /* distinct (agent, purpose, dataset, flags) reported */
};

/* one fsync per disclosure (perf): the pseudonym index rows an audit entry carries, and the
 * smallest HTTP thread pool (gateway/audit/writer.c, gateway/http/server.c) */
enum {
    ECL_AUDIT_PSEUDO_PER_ENTRY = ECL_AUDIT_SUBJECTS_PER_ENTRY, /* one per released subject */
    ECL_HTTP_THREADS_MIN = 2, /* --threads 1 is raised to 2: one thread stalls past 64 conns */
    ECL_AUDIT_TEST_DELAY_MAX_MS = 10000, /* ECLUSE_AUDIT_TEST_COMMIT_DELAY_MS (tests only) */
};

/* destroyable record-KEK versions (crypto/keys.c, ecluse keys rotate, docs/erasure.md) */
enum {
    ECL_KEK_VERSIONS_MAX = 16,   /* record-KEK versions whose material a keyring holds */
    ECL_KEK_REWRAP_BATCH = 1000, /* data keys rewrapped per write transaction by default */
    ECL_KEK_REWRAP_BATCH_MAX = 100000,
    /* answers: nesting encoded by ecl_api_json_dump itself (deeper: jansson's json_dumps) and
     * object members sorted on the stack (more: on the heap) */
    ECL_JSON_DUMP_MAX_DEPTH = 64,
    ECL_JSON_DUMP_STACK_KEYS = 32,
    ECL_META_CACHE_SLOTS = 64, /* encoded meta of record answers kept per (policy, rule, purpose) */
};

/* per-(agent, rule) limit counters rebuilt from the audit log at start-up (gateway/api/limits.c,
 * docs/api.md "Limits"): more entries since the start of the UTC day than this and the gateway
 * refuses to start rather than guess (fail closed) */
enum {
    ECL_LIMIT_REBUILD_ENTRIES_MAX = 5000000,            /* entries read back at start-up (~80 s):
                                                         * after the checkpoint, or the whole day
                                                         * without one */
    ECL_AUDIT_COUNTED_RECORDS_MAX = ECL_QUERY_SCAN_MAX, /* records one "counted" may name */
    ECL_LIMIT_REBUILD_PRINCIPALS_MAX = 4096,            /* distinct principals named in that tail */
};

/* the checkpoint of the limit counters the audit writer keeps in the audit environment
 * (gateway/audit/limits_ckpt.c, docs/audit-format.md "Rate-limit checkpoint"): start-up loads it
 * and replays only the entries after it */
enum {
    ECL_AUDIT_LIMITS_CHECKPOINT_S = 10,               /* at most this long between checkpoints */
    ECL_AUDIT_LIMITS_CHECKPOINT_ENTRIES = 20000,      /* or this many entries, whichever first */
    ECL_AUDIT_LIMITS_CHECKPOINT_MAX_BYTES = 16 << 20, /* one serialized checkpoint */
    ECL_AUDIT_LIMITS_CATCHUP_MAX = 1000000, /* others' entries the writer folds in one batch */
};

#endif
