/* The HTTP layer: the only code that sees <microhttpd.h> (and GnuTLS).  Handlers see a request
 * and a response that do not depend on libmicrohttpd.
 *
 * Life of a request: limits and framing checks on the headers-only call (413 from
 * Content-Length before any body byte is read, 400 for ambiguous framing), strict path decoding
 * and route matching, authentication (Bearer API key) and role check, body collection (capped
 * per route), then the handler.  A handler completes synchronously (ECL_HTTP_DONE) or
 * asynchronously (ECL_HTTP_PENDING: the connection is suspended until some thread calls
 * ecl_http_req_complete). */
#ifndef ECL_HTTP_H
#define ECL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/buf.h"
#include "ecl/limits.h"
#include "ecl/status.h"
#include "store/principals.h"

enum ecl_http_method {
    ECL_HTTP_GET = 0,
    ECL_HTTP_HEAD,
    ECL_HTTP_POST,
    ECL_HTTP_PUT,
    ECL_HTTP_PATCH,
    ECL_HTTP_DELETE,
    ECL_HTTP_OPTIONS,
};
#define ECL_HTTP_METHOD_COUNT 7

const char *ecl_http_method_name(enum ecl_http_method m);

/* Problems (RFC 9457).  Each has a stable type URI, a title, a status and a fixed detail
 * sentence (docs/errors.md).  Problem bodies never echo input or internals. */
enum ecl_http_problem {
    ECL_PROB_BAD_REQUEST = 0,       /* 400 */
    ECL_PROB_INVALID_JSON,          /* 400 */
    ECL_PROB_INVALID_PATH,          /* 400 */
    ECL_PROB_AMBIGUOUS_FRAMING,     /* 400 */
    ECL_PROB_UNAUTHENTICATED,       /* 401 */
    ECL_PROB_FORBIDDEN,             /* 403 */
    ECL_PROB_NOT_FOUND,             /* 404 */
    ECL_PROB_METHOD_NOT_ALLOWED,    /* 405 */
    ECL_PROB_CONFLICT,              /* 409 */
    ECL_PROB_BODY_TOO_LARGE,        /* 413 */
    ECL_PROB_URI_TOO_LONG,          /* 414 */
    ECL_PROB_UNSUPPORTED_MEDIA,     /* 415 */
    ECL_PROB_LIMIT_EXCEEDED,        /* 422 */
    ECL_PROB_HEADERS_TOO_LARGE,     /* 431 */
    ECL_PROB_INTERNAL,              /* 500 */
    ECL_PROB_NOT_IMPLEMENTED,       /* 501 */
    ECL_PROB_UNAVAILABLE,           /* 503 */
    ECL_PROB_NOT_READY,             /* 503 */
    ECL_PROB_SEALED,                /* 503 */
    ECL_PROB_STORAGE_FULL,          /* 507 */
    ECL_PROB_PRECONDITION_FAILED,   /* 412 */
    ECL_PROB_PRECONDITION_REQUIRED, /* 428 */
    ECL_PROB_INVALID_POLICY,        /* 422 */
    ECL_PROB_RATE_LIMITED,          /* 429 */
};
#define ECL_HTTP_PROBLEM_COUNT 24

/* The problem a status becomes when a handler fails with it (the one status-to-HTTP table). */
enum ecl_http_problem ecl_http_problem_of_status(enum ecl_status st);
unsigned ecl_http_problem_status(enum ecl_http_problem p);
const char *ecl_http_problem_slug(enum ecl_http_problem p);
const char *ecl_http_problem_title(enum ecl_http_problem p);
/* The full type URI (https://ecluse.example/problems/<slug>): every problem body of the gateway
 * takes its type from this table, never builds one. */
const char *ecl_http_problem_type(enum ecl_http_problem p);
/* The problem's machine code (the slug with '_': "body_too_large"), used as the reason of the
 * access.refused entry when no more specific code is known. */
const char *ecl_http_problem_code(enum ecl_http_problem p);
/* The generic problem of an HTTP status (400 bad-request, 403 forbidden, 429 rate-limited...);
 * ECL_PROB_INTERNAL for a status without one. */
enum ecl_http_problem ecl_http_problem_of_http(unsigned status);
/* Appends the problem+json body, instance = request id; reason (a static sentence, may be
 * NULL) becomes an extension member. */
enum ecl_status ecl_http_problem_body(enum ecl_http_problem p, const char *request_id,
                                      const char *reason, struct ecl_buf *out) ECL_WUR;

/* ---- responses ----------------------------------------------------------------------------- */

/* A streamed body's producer: appends the next piece (at most ECL_HTTP_STREAM_PIECE_MAX bytes)
 * to out, which is empty on each call.  Appending nothing with ECL_OK ends the body; any other
 * status aborts the response (the client sees a truncated chunked body).  Called from an HTTP
 * thread, one call at a time. */
typedef enum ecl_status (*ecl_http_stream_fn)(void *arg, struct ecl_buf *out);

struct ecl_http_header {
    char name[32];
    char value[ECL_HTTP_HEADER_VALUE_MAX_LEN + 1];
};

/* A response; caller-owned (init/free).  The body is a wiped buffer capped at
 * ECL_HTTP_MAX_RESPONSE_BYTES. */
struct ecl_http_resp {
    unsigned status;
    const char *content_type; /* static string */
    struct ecl_buf body;
    struct ecl_http_header headers[ECL_HTTP_MAX_RESP_HEADERS];
    size_t nheaders;
    enum ecl_http_problem problem; /* when set by ecl_http_resp_problem */
    int is_problem;
    const char *reason; /* optional static sentence added as the "reason" member of a problem */
    /* streamed body (ecl_http_resp_stream): owned by the response until it is sent */
    ecl_http_stream_fn stream_fn;
    void *stream_arg;
    void (*stream_free)(void *arg);
};

void ecl_http_resp_init(struct ecl_http_resp *r);
void ecl_http_resp_free(struct ecl_http_resp *r);
/* Adds a header (name and value: printable ASCII, no CR/LF).  ECL_ERR_LIMIT when full. */
enum ecl_status ecl_http_resp_header(struct ecl_http_resp *r, const char *name,
                                     const char *value) ECL_WUR;
/* Sets status and a copy of a body.  content_type must be a static string. */
enum ecl_status ecl_http_resp_set(struct ecl_http_resp *r, unsigned status,
                                  const char *content_type, const void *body, size_t len) ECL_WUR;
/* Sets a problem+json body; instance is filled with the request id when the response is
 * sent, so a handler needs no request to build one.  Never fails (falls back to a fixed body). */
void ecl_http_resp_problem(struct ecl_http_resp *r, enum ecl_http_problem p);
/* Sets status and a streamed body (chunked transfer encoding): fill produces it piece by piece
 * while it is sent, so memory does not grow with the body (one piece and one
 * ECL_HTTP_STREAM_BLOCK at a time).  The response takes arg: free_fn (may be NULL) releases it
 * exactly once, after the last fill, when the connection ends early, or when the response is
 * freed or set to something else without being sent.  content_type must be a static string. */
void ecl_http_resp_stream(struct ecl_http_resp *r, unsigned status, const char *content_type,
                          ecl_http_stream_fn fill, void *arg, void (*free_fn)(void *arg));

/* ---- requests ------------------------------------------------------------------------------ */

struct ecl_http_req; /* opaque; valid during the handler and until ecl_http_req_complete */

enum ecl_http_method ecl_http_req_method(const struct ecl_http_req *req);
/* The route pattern that matched ("/v1/principals/{id}"); safe for logs and metrics. */
const char *ecl_http_req_route(const struct ecl_http_req *req);
/* The request id (validated X-Request-Id or generated); NUL-terminated. */
const char *ecl_http_req_id(const struct ecl_http_req *req);
/* A decoded path parameter of the route ({name}); NULL when the route has none. */
const char *ecl_http_req_param(const struct ecl_http_req *req, const char *name);
/* A decoded query parameter; NULL when absent.  Repeated parameters: the first. */
const char *ecl_http_req_query(const struct ecl_http_req *req, const char *name);
/* A request header (case-insensitive name); NULL when absent.  Valid during the handler only
 * (not after a PENDING return: copy what an asynchronous completion needs). */
const char *ecl_http_req_header(const struct ecl_http_req *req, const char *name);
/* The request body (empty when none); valid until completion. */
struct ecl_view ecl_http_req_body(const struct ecl_http_req *req);
/* The authenticated principal; NULL on public routes. */
const struct ecl_principal *ecl_http_req_principal(const struct ecl_http_req *req);

/* Reports a refusal decided by a handler (for example a policy denial) to the refusal hook, so
 * that it is audited like the layer's own 401 and 403.  reason is a static code. */
void ecl_http_req_refused(struct ecl_http_req *req, unsigned status, const char *reason);
/* Marks the request as audited by its handler (the commit paths of the integrator call it when
 * they submit the entry that describes the answer).  Every other 4xx (and 501) answer to a request
 * with a valid API key goes to the refusal hook once, when it is sent. */
void ecl_http_req_audited(struct ecl_http_req *req);

/* Completes a request whose handler returned ECL_HTTP_PENDING.  Thread-safe; callable from any
 * thread, exactly once per pending request, even before the handler has returned.  Takes the
 * response's content (resp is left empty); the request must not be used afterwards. */
void ecl_http_req_complete(struct ecl_http_req *req, struct ecl_http_resp *resp);

/* ---- routes -------------------------------------------------------------------------------- */

enum ecl_http_result {
    ECL_HTTP_DONE = 0, /* resp is filled */
    ECL_HTTP_PENDING,  /* resp untouched; ecl_http_req_complete will be called */
};

typedef enum ecl_http_result (*ecl_http_handler)(struct ecl_http_req *req,
                                                 struct ecl_http_resp *resp, void *arg);

/* Role sets for routes. */
#define ECL_HTTP_ROLE(r)  (1u << (r))
#define ECL_HTTP_PUBLIC   0u /* no authentication */
#define ECL_HTTP_ANY_ROLE ((1u << ECL_ROLE_COUNT) - 1u)

struct ecl_http_route {
    enum ecl_http_method method;
    const char *pattern; /* "/v1/principals/{id}": literal segments and {name} parameters */
    unsigned roles;      /* ECL_HTTP_PUBLIC or a set of ECL_HTTP_ROLE() */
    size_t max_body;     /* 0: the request must have no body */
    ecl_http_handler fn;
    void *arg;
};

/* ---- the server ---------------------------------------------------------------------------- */

/* Called for every 401 and 403 (and ecl_http_req_refused), and for every other 4xx (and 501)
 * answer to a request with a valid API key that no commit path audited (ecl_http_req_audited),
 * before the response is sent, from an HTTP thread; at most once per request.  req is valid during
 * the call. The integrator submits the audit event here. */
typedef void (*ecl_http_refusal_fn)(void *arg, const struct ecl_http_req *req, unsigned status,
                                    const char *reason);
/* Readiness: returns 1 when ready, or 0 and a static sentence in *reason (shown in /readyz). */
typedef int (*ecl_http_health_fn)(void *arg, const char **reason);
/* Appends Prometheus text-format families to out (see metrics.h). */
typedef enum ecl_status (*ecl_http_metrics_fn)(void *arg, struct ecl_buf *out);

enum ecl_http_flags {
    ECL_HTTP_DEFAULT = 0,
    ECL_HTTP_ALLOW_INSECURE = 1 << 0, /* plain HTTP on a non-loopback address */
};

struct ecl_http_config {
    const char *listen;         /* "ADDR:PORT" (IPv4 or [IPv6]); port 0 = ephemeral */
    unsigned threads;           /* 0 = number of cores */
    unsigned conn_timeout;      /* seconds; 0 = ECL_HTTP_CONNECTION_TIMEOUT_S */
    unsigned shutdown_grace_ms; /* wait for suspended requests; 0 = ECL_HTTP_SHUTDOWN_GRACE_S */
    const char *tls_cert;       /* PEM chain; NULL = plain HTTP */
    const char *tls_key;        /* PEM key */
    enum ecl_http_flags flags;
    struct ecl_store *store;      /* principals (authentication), map usage */
    const struct ecl_keyring *kr; /* api-key pepper */
    const struct ecl_http_route *routes;
    size_t nroutes;
    ecl_http_refusal_fn on_refusal; /* may be NULL */
    void *refusal_arg;
    ecl_http_health_fn health; /* may be NULL: always ready */
    void *health_arg;
};

struct ecl_http_server;

/* Starts the server (its threads run until ecl_http_server_stop).  Routes are copied.  Errors:
 * ECL_ERR_INVALID (bad listen address, route pattern, TLS files), ECL_ERR_PERM (plain HTTP
 * on a non-loopback address without ECL_HTTP_ALLOW_INSECURE), ECL_ERR_IO (cannot bind). */
enum ecl_status ecl_http_server_start(const struct ecl_http_config *cfg,
                                      struct ecl_http_server **out) ECL_WUR;
/* The bound port (useful with port 0). */
unsigned ecl_http_server_port(const struct ecl_http_server *srv);
/* The worker threads in use: cfg.threads raised to ECL_HTTP_THREADS_MIN, capped at
 * ECL_HTTP_MAX_THREADS (0: the number of cores). */
unsigned ecl_http_server_threads(const struct ecl_http_server *srv);
/* Re-reads the TLS certificate and key files; new handshakes use them, established
 * connections are untouched.  On failure the old ones stay in use.  Thread-safe. */
enum ecl_status ecl_http_server_reload_tls(struct ecl_http_server *srv) ECL_WUR;
/* Adds a metrics source (before traffic starts; not thread-safe with /metrics). */
enum ecl_status ecl_http_server_add_metrics(struct ecl_http_server *srv, ecl_http_metrics_fn fn,
                                            void *arg) ECL_WUR;
/* Waits up to the shutdown grace for suspended requests (answering 503 to those still
 * waiting: their completer's later ecl_http_req_complete is then a safe no-op), stops the
 * threads and frees the server.  Call it before stopping whatever completes requests (the
 * audit writer). */
void ecl_http_server_stop(struct ecl_http_server *srv);

/* The operations routes (/livez, /readyz, /metrics) and the principal administration routes
 * (/v1/principals...); the integrator concatenates them with the data routes. */
extern const struct ecl_http_route ecl_http_ops_routes[];
extern const size_t ecl_http_ops_nroutes;

#endif
