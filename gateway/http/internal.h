/* Shared by the files of gateway/http/ only: the server and request structures. */
#ifndef ECL_HTTP_INTERNAL_H
#define ECL_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <microhttpd.h>

#include "http.h"
#include "metrics.h"
#include "router.h"

/* Status codes counted per route and role; anything else is counted as "other". */
#define ECL_HTTP_COUNTED_STATUSES                                                                  \
    200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 414, 415, 422, 431, 500, 501, 503, 507
enum { NSTATUS = 19, NROLE_LABELS = ECL_ROLE_COUNT + 1 /* + "none" */ };

struct route_stats {
    _Atomic uint64_t count[NROLE_LABELS][NSTATUS];
    struct ecl_hist latency;
};

struct metrics_source {
    ecl_http_metrics_fn fn;
    void *arg;
};

struct tls_state; /* tls.c */

struct ecl_http_server {
    struct MHD_Daemon *daemon;
    struct ecl_http_config cfg;
    struct ecl_http_router *router;
    unsigned port;

    /* one per route, plus one for requests that matched no route */
    struct route_stats *stats;
    _Atomic uint64_t connections;
    _Atomic uint64_t in_flight;
    struct metrics_source sources[ECL_HTTP_METRICS_MAX_SOURCES];
    size_t nsources;

    /* suspended requests, for shutdown */
    pthread_mutex_t pending_mu;
    pthread_cond_t pending_cv;
    struct ecl_http_req *pending_head;
    size_t npending;
    /* shutdown (under async_mu): draining -- no new handler starts, requests are answered 503;
     * closed -- the pending list was answered, so a handler still running when it returns is
     * answered 503 at once instead of suspending (MHD aborts on a suspended connection at
     * MHD_stop_daemon); ndispatching -- handlers running now */
    int draining;
    int closed;
    unsigned threads; /* MHD thread pool size in use */
    size_t ndispatching;

    struct tls_state *tls;
};

enum req_async {
    ASYNC_NONE = 0,  /* synchronous so far */
    ASYNC_RUNNING,   /* the handler returned or will return PENDING; not suspended yet */
    ASYNC_SUSPENDED, /* the connection is suspended, waiting for completion */
    ASYNC_COMPLETED, /* the response is ready; queue it on the next call */
};

struct query_param {
    char *name;
    char *value;
};

struct ecl_http_req {
    struct ecl_http_server *srv;
    struct MHD_Connection *conn;
    enum ecl_http_method method;
    int method_known;
    char id[ECL_HTTP_REQUEST_ID_MAX_LEN + 1];
    uint64_t start_ns;

    size_t route; /* index, or nroutes when none matched */
    const struct ecl_http_route *rt;
    struct ecl_http_path path;
    struct ecl_http_match match;
    struct query_param query[ECL_HTTP_MAX_QUERY_PARAMS];
    size_t nquery;

    int have_principal;
    int auth_tried; /* the Authorization header was checked (have_principal tells the result) */
    int audited;    /* an audit entry describes the answer (refusal hook or a commit path) */
    struct ecl_principal principal;

    struct ecl_buf body;
    uint64_t body_seen; /* bytes received, kept and discarded */
    int body_over;      /* more than the route's cap arrived (chunked) */
    int headers_done;   /* the headers-only call has run */
    int queued;         /* a response has been queued */

    struct ecl_http_resp resp;
    unsigned allow; /* methods for 405 / 501 */

    /* asynchronous completion */
    pthread_mutex_t mu;
    enum req_async async;
    int forced;       /* completed with 503 at shutdown; the late completion is discarded */
    _Atomic int refs; /* MHD's and, while pending, the completer's */
    struct ecl_http_req *pend_next;
    struct ecl_http_req *pend_prev;
};

/* ops.c and principals_api.c reach the server's configuration through the request. */
static inline struct ecl_http_server *
req_server(const struct ecl_http_req *req)
{
    return req->srv;
}

/* metrics text of the layer (server.c) */
enum ecl_status ecl_http_metrics_render(struct ecl_http_server *srv, struct ecl_buf *out) ECL_WUR;

/* tls.c */
enum ecl_status ecl_http_tls_load(const char *cert, const char *key,
                                  struct tls_state **out) ECL_WUR;
void ecl_http_tls_free(struct tls_state *t);
enum ecl_status ecl_http_tls_reload(struct tls_state *t, const char *cert, const char *key) ECL_WUR;
/* The MHD_OPTION_HTTPS_CERT_CALLBACK function (one TLS server per process). */
void *ecl_http_tls_callback(void);
void ecl_http_tls_install(struct tls_state *t);

#endif
