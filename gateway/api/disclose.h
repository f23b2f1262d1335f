/* The one egress point: every answer that carries record data (or tells an agent what it may
 * see) goes through ecl_disclose, whatever the channel (REST, MCP).  Steps: authorise (policy
 * decision for agent, purpose, dataset, acting official, case, now), enforce the rule's limits,
 * read, row checks (row conditions, objections), transform the granted fields, build the body,
 * audit-then-release (the body is handed to the caller only after its audit entry is durable).
 *
 * Refusals are audited too, and for a single record "does not exist" and "not allowed" give the
 * same answer (404, code not_found).  Nothing here depends on the HTTP layer. */
#ifndef ECL_DISCLOSE_H
#define ECL_DISCLOSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "app.h"

enum ecl_disclose_op {
    ECL_DISCLOSE_LIST_DATASETS = 0, /* the datasets this agent may use (any purpose) */
    ECL_DISCLOSE_DESCRIBE,          /* one dataset as this agent sees it */
    ECL_DISCLOSE_GET,               /* one record by identifier or the agent's own pseudonym */
    ECL_DISCLOSE_QUERY,             /* records matching where, with fields, limit, cursor */
    ECL_DISCLOSE_EXPLAIN,           /* what this agent may see for a purpose */
};

struct ecl_disclose_req {
    enum ecl_disclose_op op;
    enum ecl_audit_channel channel;        /* ECL_AUDIT_CH_REST or ECL_AUDIT_CH_MCP */
    const struct ecl_principal *principal; /* the authenticated agent (role agent) */
    const char *request_id;
    const char *purpose;  /* GET, QUERY (required); EXPLAIN, DESCRIBE (optional) */
    const char *dataset;  /* GET, QUERY, DESCRIBE */
    const char *official; /* On-Behalf-Of, NULL when absent */
    const char *case_ref; /* X-Case-Id, NULL when absent */
    const char *id;       /* GET: a subject identifier or a pseudonym "ps_..." */
    const json_t *where;  /* QUERY: borrowed, may be NULL (docs/api.md, "Queries") */
    const json_t *fields; /* QUERY: array of field names to return, may be NULL (all granted) */
    size_t limit;         /* QUERY: 0 = the rule's records_per_request */
    const char *cursor;   /* QUERY: opaque cursor from a previous page, may be NULL */
};

enum ecl_disclose_outcome {
    ECL_DISCLOSE_OK = 0,  /* body holds {"data": ..., "meta": {..., "audit_seq": N}} */
    ECL_DISCLOSE_REFUSED, /* a decided refusal: status 4xx, code, message; audited */
    ECL_DISCLOSE_FAILED,  /* the gateway could not answer (sealed, queue full, internal) */
};

struct ecl_disclose_result {
    enum ecl_disclose_outcome outcome;
    unsigned status;      /* HTTP status: 200, 400, 403, 404, 409, 422, 428, 429, 503, 500 */
    const char *code;     /* stable reason code (static), NULL when OK */
    const char *message;  /* a plain sentence (static), never data; NULL when OK */
    unsigned retry_after; /* seconds, for 429 and 503; 0 otherwise */
    const char *body;     /* OK only: the released JSON body (borrowed during the callback) */
    size_t body_len;
    uint64_t audit_seq; /* the entry describing this answer; UINT64_MAX when none */
};

/* Called exactly once per ecl_disclose, from the calling thread or from the audit writer's
 * thread, possibly before ecl_disclose returns.  res and its strings are valid during the call
 * only.  Must not block. */
typedef void (*ecl_disclose_done_fn)(void *arg, const struct ecl_disclose_result *res);

/* Runs one disclosure.  r and everything it points to are borrowed during the call only. */
void ecl_disclose(struct ecl_app *app, const struct ecl_disclose_req *r, ecl_disclose_done_fn done,
                  void *arg);

#endif
