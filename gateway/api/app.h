/* The running gateway: everything a request handler needs, opened once by `ecluse serve` /
 * `ecluse demo`, and the helpers every handler shares (audit-then-respond, JSON bodies).
 *
 * One egress point: the agent handlers (REST) and the MCP backend both call the disclosure
 * path (disclose.h); nothing else reads records for an agent. */
#ifndef ECL_APP_H
#define ECL_APP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "ecl/crypto.h"
#include "ecl/policy.h"
#include "http/http.h"
#include "policy_holder.h"
#include "store/records.h"
#include "store/store.h"

struct ecl_mcp;
struct ecl_api_agent_state;
struct ecl_api_dpo_state;

struct ecl_app {
    const char *data_dir;
    struct ecl_store *store;           /* owned */
    struct ecl_keyring *kr;            /* owned, with secrets */
    struct ecl_records *records;       /* owned */
    struct ecl_audit *audit;           /* owned: the writer thread */
    struct ecl_policy_holder *policy;  /* owned: the active compiled policy */
    struct ecl_http_server *http;      /* owned while serving */
    struct ecl_mcp *mcp;               /* owned, may be NULL */
    struct ecl_api_agent_state *agent; /* owned by agent.c: limits, pseudonym index writer */
    struct ecl_api_dpo_state *dpo;     /* owned by dpo.c */
    int64_t (*now)(void); /* wall clock, seconds (tests of validity windows use real time) */
    int lock_fd;          /* flock on DATA/gateway.lock: one gateway per data directory */
};

/* Opens the store, the keyring (with secrets), the records, the audit writer (recording a
 * start-up entry) and publishes the active policy (if any).  Prints what is wrong and returns a
 * sysexits code on failure; 0 on success. */
int ecl_app_open(struct ecl_app *app, const char *data_dir, const struct ecl_key_source *src);
/* Stops the HTTP server if it runs, records a shutdown entry, closes everything. */
void ecl_app_close(struct ecl_app *app);

/* Loads the active policy version from the store and publishes it (policy set / activate). */
enum ecl_status ecl_app_reload_policy(struct ecl_app *app) ECL_WUR;
/* Compares the stored active policy version with the one in force and reloads when they
 * differ (a version activated with the command line, or by another process): *reloaded is the
 * version now in force, 0 when nothing changed.  One LMDB read when nothing changed. */
enum ecl_status ecl_app_sync_policy(struct ecl_app *app, uint64_t *reloaded) ECL_WUR;

/* Starts the HTTP server with every route (operations, principals, agent, auditor, DPO, MCP). */
enum ecl_status ecl_app_start_http(struct ecl_app *app, struct ecl_http_config *cfg) ECL_WUR;

/* ---- route tables, one per handler file ------------------------------------------------------ */

/* Each writes at most cap routes into out (arg = app) and returns how many it wrote. */
size_t ecl_api_agent_routes(struct ecl_app *app, struct ecl_http_route *out, size_t cap);
size_t ecl_api_auditor_routes(struct ecl_app *app, struct ecl_http_route *out, size_t cap);
size_t ecl_api_dpo_routes(struct ecl_app *app, struct ecl_http_route *out, size_t cap);
/* Start and stop of each handler file's own state (called by ecl_app_open/close). */
enum ecl_status ecl_api_agent_init(struct ecl_app *app) ECL_WUR;
void ecl_api_agent_free(struct ecl_app *app);
enum ecl_status ecl_api_dpo_init(struct ecl_app *app) ECL_WUR;
void ecl_api_dpo_free(struct ecl_app *app);

/* ---- shared helpers ------------------------------------------------------------------------- */

/* Fills the principal-dependent members of an audit event from a request (principal id as hex
 * into idbuf, role, request id, channel REST). */
void ecl_api_event_from_req(const struct ecl_http_req *req, struct ecl_audit_event *ev,
                            char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1]);

/* Audit-then-respond, the channel-independent core used by the HTTP wrappers below and by the
 * disclosure path (REST and MCP).  Takes data and meta: for an answer with a body, data (any
 * JSON value) and meta (an object) are serialised (compact, sorted keys) and ev->response_digest
 * is set, for the submission only, to BLAKE2b-256("{\"data\":" D ",\"meta\":" M "}") -- the
 * body without meta.audit_seq; both NULL for an answer without a body (a refusal: the caller's
 * ev->response_digest is kept).  Submits ev and returns ECL_OK: done is then called exactly once
 * from the audit writer's thread, with
 *   ECL_OK          the entry is durable (seq); body is {"data":D,"meta":M + "audit_seq":N}
 *                   (borrowed during the call, wiped afterwards), or NULL for no body;
 *   ECL_ERR_SEALED  the commit failed (the log is sealed): nothing may leave;
 *   ECL_ERR_NOMEM   the entry is durable but the body could not be built (over
 *                   ECL_HTTP_MAX_RESPONSE_BYTES or out of memory).
 * Otherwise done is not called and the result says why nothing was submitted: ECL_ERR_LIMIT
 * (queue full), ECL_ERR_SEALED, ECL_ERR_NOMEM (data/meta missing or not serialisable),
 * ECL_ERR_INTERNAL (the log refused the event).  done must not block.  Thread-safe. */
typedef void (*ecl_api_commit_fn)(void *arg, enum ecl_status st, uint64_t seq, const char *body,
                                  size_t body_len);
enum ecl_status ecl_api_commit(struct ecl_app *app, struct ecl_audit_event *ev, json_t *data,
                               json_t *meta, ecl_api_commit_fn done, void *arg) ECL_WUR;
/* The same with meta already encoded (meta_json: a JSON object as ecl_api_commit would encode
 * it, meta_len bytes, borrowed during the call), for answers whose meta is cached. */
enum ecl_status ecl_api_commit_meta_json(struct ecl_app *app, struct ecl_audit_event *ev,
                                         json_t *data, const char *meta_json, size_t meta_len,
                                         ecl_api_commit_fn done, void *arg) ECL_WUR;

/* An extra response header (both strings borrowed during the call; copied). */
struct ecl_api_header {
    const char *name;
    const char *value;
};

/* Audit-then-respond for a JSON answer {"data": data, "meta": meta} over HTTP (ecl_api_commit):
 * takes both references and returns ECL_HTTP_PENDING; once the entry is durable the request is
 * completed with status and the body {"data":D,"meta":M + "audit_seq"}.  When the log refuses
 * the entry (sealed, queue full) or the commit fails, the answer is a 503 problem and no data
 * leaves. */
enum ecl_http_result ecl_api_commit_json(struct ecl_app *app, struct ecl_http_req *req,
                                         struct ecl_http_resp *resp, struct ecl_audit_event *ev,
                                         unsigned status, json_t *data, json_t *meta);
/* The same with up to ECL_HTTP_MAX_RESP_HEADERS extra headers on the successful answer (ETag). */
enum ecl_http_result
ecl_api_commit_json_with(struct ecl_app *app, struct ecl_http_req *req, struct ecl_http_resp *resp,
                         struct ecl_audit_event *ev, unsigned status, json_t *data, json_t *meta,
                         const struct ecl_api_header *headers, size_t nheaders);

/* Audit-then-respond for a refusal decided by a handler (policy denial, not found, limit):
 * submits ev, waits for the commit and answers the problem p with extension members
 * "code" (a stable reason code) and "audit_seq".  retry_after > 0 adds Retry-After.  The
 * refusal also reaches the HTTP layer's refusal accounting (metrics). */
enum ecl_http_result ecl_api_commit_problem(struct ecl_app *app, struct ecl_http_req *req,
                                            struct ecl_http_resp *resp, struct ecl_audit_event *ev,
                                            enum ecl_http_problem p, const char *code,
                                            unsigned retry_after);
/* The same for a problem the HTTP layer's table does not have (412, 428, 422 with validation
 * errors): problem (taken) is the whole problem+json object, extension members included;
 * "audit_seq" is appended and it is answered with status. */
enum ecl_http_result ecl_api_commit_problem_body(struct ecl_app *app, struct ecl_http_req *req,
                                                 struct ecl_http_resp *resp,
                                                 struct ecl_audit_event *ev, unsigned status,
                                                 json_t *problem, unsigned retry_after);

/* The digest rule of ecl_api_commit_json, for tests and other channels. */
void ecl_api_body_digest(const char *data_json, size_t data_len, const char *meta_json,
                         size_t meta_len, uint8_t out[ECL_HASH_LEN]);

/* Parses a JSON request body with Écluse's rules (duplicates refused, depth cap, size cap
 * already enforced by the route).  NULL and a static sentence in *why on failure. */
json_t *ecl_api_parse_body(struct ecl_http_req *req, const char **why);

/* A synchronous JSON answer (no audit): status and a compact dump of v (taken). */
enum ecl_http_result ecl_api_json(struct ecl_http_resp *resp, unsigned status, json_t *v);
/* A synchronous problem answer with an optional stable code member. */
enum ecl_http_result ecl_api_problem(struct ecl_http_req *req, struct ecl_http_resp *resp,
                                     enum ecl_http_problem p, const char *code);

#endif
