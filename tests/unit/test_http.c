/* The HTTP layer without the CLI: strict path decoding and route matching (tables with
 * boundary rows), the problem tables, and an in-process server for the asynchronous completion
 * path, the readiness hook, the refusal hook and shutdown with a request still suspended. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ecl/crypto.h"
#include "http/http.h"
#include "http/router.h"
#include "testutil.h"

/* ---- path decoding ------------------------------------------------------------------------- */

static void
test_path_decode(void **state)
{
    static const struct {
        const char *raw;
        int ok;
        size_t nseg;
        const char *last;
    } rows[] = {
        {"/", 1, 0, NULL},
        {"/livez", 1, 1, "livez"},
        {"/v1/principals/abc", 1, 3, "abc"},
        {"/a%20b", 1, 1, "a b"},
        {"/%41", 1, 1, "A"},
        {"/%e2%82%ac", 1, 1, "\xe2\x82\xac"},
        {"/%F0%9F%98%80", 1, 1, "\xf0\x9f\x98\x80"},
        {"/a+b", 1, 1, "a+b"}, /* '+' is literal in a path */
        {"/...", 1, 1, "..."},
        {"/.a", 1, 1, ".a"},
        {"", 0, 0, NULL},
        {"livez", 0, 0, NULL},
        {"//", 0, 0, NULL},
        {"/a//b", 0, 0, NULL},
        {"/a/", 0, 0, NULL},
        {"/.", 0, 0, NULL},
        {"/..", 0, 0, NULL},
        {"/a/../b", 0, 0, NULL},
        {"/%2e", 0, 0, NULL},
        {"/%2e%2e", 0, 0, NULL},
        {"/%2E%2E", 0, 0, NULL},
        {"/.%2e", 0, 0, NULL},
        {"/a%2fb", 0, 0, NULL},
        {"/a%2Fb", 0, 0, NULL},
        {"/a%5cb", 0, 0, NULL},
        {"/a\\b", 0, 0, NULL},
        {"/a%00b", 0, 0, NULL},
        {"/a%0ab", 0, 0, NULL},
        {"/a%7f", 0, 0, NULL},
        {"/%", 0, 0, NULL},
        {"/%4", 0, 0, NULL},
        {"/%g0", 0, 0, NULL},
        {"/%c0%ae", 0, 0, NULL},       /* overlong '.' */
        {"/%c0%af", 0, 0, NULL},       /* overlong '/' */
        {"/%e0%80%ae", 0, 0, NULL},    /* 3-byte overlong */
        {"/%ed%a0%80", 0, 0, NULL},    /* surrogate */
        {"/%f4%90%80%80", 0, 0, NULL}, /* > U+10FFFF */
        {"/%ff", 0, 0, NULL},
        {"/%e2%82", 0, 0, NULL}, /* truncated */
        {"/%80", 0, 0, NULL},    /* lone continuation */
    };
    struct ecl_http_path *p = malloc(sizeof *p);

    (void)state;
    assert_non_null(p);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        enum ecl_status st = ecl_http_path_decode(rows[i].raw, strlen(rows[i].raw), p);
        if ((st == ECL_OK) != rows[i].ok) {
            fail_msg("row %zu (%s): status %d", i, rows[i].raw, (int)st);
        }
        if (rows[i].ok) {
            assert_int_equal(p->nseg, rows[i].nseg);
            if (rows[i].last != NULL) {
                assert_string_equal(p->seg[p->nseg - 1], rows[i].last);
            }
        }
    }
    free(p);
}

static void
test_path_limits(void **state)
{
    struct ecl_http_path *p = malloc(sizeof *p);
    char *raw = malloc(ECL_HTTP_MAX_URL_LEN + 2);
    size_t n;

    (void)state;
    assert_non_null(p);
    assert_non_null(raw);
    /* length: max passes, max+1 is refused */
    raw[0] = '/';
    memset(raw + 1, 'a', ECL_HTTP_MAX_URL_LEN);
    assert_int_equal(ecl_http_path_decode(raw, ECL_HTTP_MAX_URL_LEN, p), ECL_OK);
    assert_int_equal(ecl_http_path_decode(raw, ECL_HTTP_MAX_URL_LEN + 1, p), ECL_ERR_LIMIT);
    /* segments: max passes, max+1 is refused */
    n = 0;
    for (int i = 0; i < ECL_HTTP_MAX_PATH_SEGMENTS + 1; i++) {
        raw[n++] = '/';
        raw[n++] = 'x';
    }
    assert_int_equal(ecl_http_path_decode(raw, n - 2, p), ECL_OK);
    assert_int_equal(p->nseg, ECL_HTTP_MAX_PATH_SEGMENTS);
    assert_int_equal(ecl_http_path_decode(raw, n, p), ECL_ERR_LIMIT);
    free(raw);
    free(p);
}

static void
test_query_decode(void **state)
{
    char out[16];

    (void)state;
    assert_int_equal(ecl_http_query_decode("a+b%2Fc", 7, out, sizeof out), ECL_OK);
    assert_string_equal(out, "a b/c");
    assert_int_equal(ecl_http_query_decode("..", 2, out, sizeof out), ECL_OK);
    assert_int_equal(ecl_http_query_decode("%00", 3, out, sizeof out), ECL_ERR_INVALID);
    assert_int_equal(ecl_http_query_decode("%c3", 3, out, sizeof out), ECL_ERR_INVALID);
    assert_int_equal(ecl_http_query_decode("%zz", 3, out, sizeof out), ECL_ERR_INVALID);
    assert_int_equal(ecl_http_query_decode("123456789012345", 15, out, sizeof out), ECL_OK);
    assert_int_equal(ecl_http_query_decode("1234567890123456", 16, out, sizeof out), ECL_ERR_LIMIT);
}

static enum ecl_http_result
h_text(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    const char *text = arg;

    (void)req;
    if (ecl_http_resp_set(resp, 200, "text/plain", text, strlen(text)) != ECL_OK) {
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
    }
    return ECL_HTTP_DONE;
}

static void
test_router(void **state)
{
    static const struct ecl_http_route routes[] = {
        {ECL_HTTP_GET, "/v1/things", ECL_HTTP_PUBLIC, 0, h_text, (void *)"list"},
        {ECL_HTTP_POST, "/v1/things", ECL_HTTP_PUBLIC, 10, h_text, (void *)"add"},
        {ECL_HTTP_GET, "/v1/things/{id}", ECL_HTTP_PUBLIC, 0, h_text, (void *)"one"},
        {ECL_HTTP_DELETE, "/v1/things/{id}", ECL_HTTP_PUBLIC, 0, h_text, (void *)"del"},
        {ECL_HTTP_GET, "/v1/things/{id}/parts/{part}", ECL_HTTP_PUBLIC, 0, h_text, (void *)"part"},
    };
    static const struct ecl_http_route bad[] = {
        {ECL_HTTP_GET, "no-slash", ECL_HTTP_PUBLIC, 0, h_text, NULL},
    };
    static const struct ecl_http_route bad2[] = {
        {ECL_HTTP_GET, "/trailing/", ECL_HTTP_PUBLIC, 0, h_text, NULL},
    };
    struct ecl_http_router *r = NULL;
    struct ecl_http_router *r2 = NULL;
    struct ecl_http_path *p = malloc(sizeof *p);
    struct ecl_http_match m;
    unsigned allow = 0;
    char text[64];

    (void)state;
    assert_non_null(p);
    assert_int_equal(ecl_http_router_new(routes, 5, &r), ECL_OK);
    assert_int_equal(ecl_http_router_new(bad, 1, &r2), ECL_ERR_INVALID);
    assert_int_equal(ecl_http_router_new(bad2, 1, &r2), ECL_ERR_INVALID);

    assert_int_equal(ecl_http_path_decode("/v1/things/a%20b/parts/7", 24, p), ECL_OK);
    assert_int_equal(ecl_http_router_match(r, ECL_HTTP_GET, p, &m, &allow), ECL_HTTP_MATCH_OK);
    assert_int_equal(m.route, 4);
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.names[0], "id");
    assert_string_equal(m.values[0], "a b");
    assert_string_equal(m.names[1], "part");
    assert_string_equal(m.values[1], "7");

    assert_int_equal(ecl_http_path_decode("/v1/things/x", 12, p), ECL_OK);
    assert_int_equal(ecl_http_router_match(r, ECL_HTTP_HEAD, p, &m, &allow), ECL_HTTP_MATCH_OK);
    assert_int_equal(m.route, 2);
    assert_int_equal(ecl_http_router_match(r, ECL_HTTP_PUT, p, &m, &allow),
                     ECL_HTTP_MATCH_NO_METHOD);
    ecl_http_allow_format(allow, text, sizeof text);
    assert_string_equal(text, "GET, HEAD, DELETE");

    assert_int_equal(ecl_http_path_decode("/v1/things", 10, p), ECL_OK);
    assert_int_equal(ecl_http_router_match(r, ECL_HTTP_POST, p, &m, &allow), ECL_HTTP_MATCH_OK);
    assert_int_equal(m.route, 1);
    assert_int_equal(m.nparams, 0);

    assert_int_equal(ecl_http_path_decode("/v1/thing", 9, p), ECL_OK);
    assert_int_equal(ecl_http_router_match(r, ECL_HTTP_GET, p, &m, &allow), ECL_HTTP_MATCH_NO_PATH);
    assert_int_equal(allow, 0);
    assert_int_equal(ecl_http_path_decode("/v1/things/x/parts", 18, p), ECL_OK);
    assert_int_equal(ecl_http_router_match(r, ECL_HTTP_GET, p, &m, &allow), ECL_HTTP_MATCH_NO_PATH);
    assert_int_equal(ecl_http_method_parse("GET"), ECL_HTTP_GET);
    assert_int_equal(ecl_http_method_parse("get"), -1);
    assert_int_equal(ecl_http_method_parse("TRACE"), -1);
    ecl_http_router_free(r);
    free(p);
}

static void
test_problems(void **state)
{
    struct ecl_buf b;

    (void)state;
    /* every status has a problem with an error status; the mapping is the documented one */
    for (unsigned s = 0; s < ECL_STATUS_COUNT; s++) {
        unsigned code = ecl_http_problem_status(ecl_http_problem_of_status((enum ecl_status)s));
        assert_true(code >= 400 && code <= 599);
    }
    assert_int_equal(ecl_http_problem_status(ecl_http_problem_of_status(ECL_ERR_NOT_FOUND)), 404);
    assert_int_equal(ecl_http_problem_status(ecl_http_problem_of_status(ECL_ERR_DENIED)), 403);
    assert_int_equal(ecl_http_problem_status(ecl_http_problem_of_status(ECL_ERR_SEALED)), 503);
    assert_int_equal(ecl_http_problem_status(ecl_http_problem_of_status(ECL_ERR_EXISTS)), 409);
    /* slugs are unique and URL-safe */
    for (unsigned i = 0; i < ECL_HTTP_PROBLEM_COUNT; i++) {
        const char *a = ecl_http_problem_slug((enum ecl_http_problem)i);
        assert_int_equal(strspn(a, "abcdefghijklmnopqrstuvwxyz-"), strlen(a));
        for (unsigned j = i + 1; j < ECL_HTTP_PROBLEM_COUNT; j++) {
            assert_string_not_equal(a, ecl_http_problem_slug((enum ecl_http_problem)j));
        }
    }
    /* the type is the base and the slug; the code is the slug with '_' */
    for (unsigned i = 0; i < ECL_HTTP_PROBLEM_COUNT; i++) {
        enum ecl_http_problem p = (enum ecl_http_problem)i;
        const char *t = ecl_http_problem_type(p);
        const char *c = ecl_http_problem_code(p);
        const char *sl = ecl_http_problem_slug(p);
        assert_int_equal(strncmp(t, "https://ecluse.example/problems/", 32), 0);
        assert_string_equal(t + 32, sl);
        assert_int_equal(strlen(c), strlen(sl));
        for (size_t k = 0; sl[k] != 0; k++) {
            assert_int_equal(c[k], sl[k] == '-' ? '_' : sl[k]);
        }
    }
    assert_int_equal(ecl_http_problem_of_http(400), ECL_PROB_BAD_REQUEST);
    assert_int_equal(ecl_http_problem_of_http(422), ECL_PROB_LIMIT_EXCEEDED);
    assert_int_equal(ecl_http_problem_of_http(412), ECL_PROB_PRECONDITION_FAILED);
    assert_int_equal(ecl_http_problem_of_http(428), ECL_PROB_PRECONDITION_REQUIRED);
    assert_int_equal(ecl_http_problem_of_http(429), ECL_PROB_RATE_LIMITED);
    assert_int_equal(ecl_http_problem_of_http(418), ECL_PROB_INTERNAL);
    assert_string_equal(ecl_http_problem_slug(ECL_PROB_INVALID_POLICY), "invalid-policy");
    ecl_buf_init(&b, 4096);
    assert_int_equal(ecl_http_problem_body(ECL_PROB_FORBIDDEN, "rid-1", NULL, &b), ECL_OK);
    assert_int_equal(ecl_buf_append_byte(&b, 0), ECL_OK);
    assert_string_equal(
        (const char *)b.ptr,
        "{\"type\":\"https://ecluse.example/problems/forbidden\",\"title\":\"Forbidden\","
        "\"status\":403,\"detail\":\"The principal's role does not allow this request.\","
        "\"instance\":\"rid-1\"}");
    ecl_buf_free(&b);
}

/* ---- an in-process server ------------------------------------------------------------------ */

struct fixture {
    char *dir;
    struct ecl_keyring *kr;
    struct ecl_store *store;
    struct ecl_http_server *srv;
    unsigned port;
    char admin_key[ECL_API_KEY_MAX_LEN + 1];
    char agent_key[ECL_API_KEY_MAX_LEN + 1];
};

static atomic_int ready_flag = 1;
static atomic_int refusals;
static atomic_int refusals_with_principal;
static const char *_Atomic last_reason;
static struct ecl_http_req *_Atomic parked; /* a request nobody completes until the test does */

static int
health(void *arg, const char **reason)
{
    (void)arg;
    if (!atomic_load(&ready_flag)) {
        *reason = "the audit log cannot be written";
        return 0;
    }
    return 1;
}

static void
on_refusal(void *arg, const struct ecl_http_req *req, unsigned status, const char *reason)
{
    (void)arg;
    /* 401 and 403, and any other 4xx to an authenticated principal (never asserted here: an
     * HTTP thread; the test counts instead) */
    if ((status == 401 || status == 403 ||
         (status >= 400 && status < 500 && ecl_http_req_principal(req) != NULL)) &&
        ecl_http_req_id(req) != NULL && reason != NULL) {
        atomic_store(&last_reason, reason);
    } else {
        atomic_store(&last_reason, "unexpected");
    }
    atomic_fetch_add(&refusals, 1);
    if (ecl_http_req_principal(req) != NULL) {
        atomic_fetch_add(&refusals_with_principal, 1);
    }
}

struct later {
    struct ecl_http_req *req;
    unsigned delay_ms;
};

static void *
complete_later(void *arg)
{
    struct later *l = arg;
    struct ecl_http_resp resp;
    struct timespec ts = {(time_t)(l->delay_ms / 1000), (long)(l->delay_ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
    ecl_http_resp_init(&resp);
    if (ecl_http_resp_set(&resp, 200, "text/plain", "slow", 4) != ECL_OK) {
        ecl_http_resp_problem(&resp, ECL_PROB_INTERNAL);
    }
    /* what the audit writer's callback will do: complete from its own thread */
    ecl_http_req_complete(l->req, &resp);
    ecl_http_resp_free(&resp);
    free(l);
    return NULL;
}

static enum ecl_http_result
h_slow(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct later *l = malloc(sizeof *l);
    pthread_t t;

    (void)resp;
    (void)arg;
    assert_non_null(l);
    l->req = req;
    l->delay_ms = 400;
    assert_int_equal(pthread_create(&t, NULL, complete_later, l), 0);
    pthread_detach(t);
    return ECL_HTTP_PENDING;
}

/* Completes before returning PENDING: the response must still be sent once. */
static enum ecl_http_result
h_early(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct ecl_http_resp r;

    (void)resp;
    (void)arg;
    ecl_http_resp_init(&r);
    if (ecl_http_resp_set(&r, 200, "text/plain", "early", 5) != ECL_OK) {
        ecl_http_resp_problem(&r, ECL_PROB_INTERNAL);
    }
    ecl_http_req_complete(req, &r);
    ecl_http_resp_free(&r);
    return ECL_HTTP_PENDING;
}

static enum ecl_http_result
h_park(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    (void)resp;
    (void)arg;
    atomic_store(&parked, req);
    return ECL_HTTP_PENDING;
}

static enum ecl_http_result
h_whoami(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    const struct ecl_principal *p = ecl_http_req_principal(req);
    const char *q = ecl_http_req_query(req, "q");
    char out[128];
    int n;

    (void)arg;
    assert_non_null(p);
    n = snprintf(out, sizeof out, "%s %s %s", p->name, ecl_role_name(p->role), q ? q : "-");
    if (ecl_http_resp_set(resp, 200, "text/plain", out, (size_t)n) != ECL_OK) {
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
    }
    return ECL_HTTP_DONE;
}

/* A decided 422: ?q=audited marks the request as audited (as a commit path does). */
static enum ecl_http_result
h_decide(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    const char *q = ecl_http_req_query(req, "q");

    (void)arg;
    if (q != NULL && strcmp(q, "audited") == 0) {
        ecl_http_req_audited(req);
    }
    ecl_http_resp_problem(resp, ECL_PROB_LIMIT_EXCEEDED);
    resp->reason = "too_many_things";
    return ECL_HTTP_DONE;
}

static const struct ecl_http_route test_routes[] = {
    {ECL_HTTP_GET, "/fast", ECL_HTTP_PUBLIC, 0, h_text, (void *)"fast"},
    {ECL_HTTP_GET, "/slow", ECL_HTTP_PUBLIC, 0, h_slow, NULL},
    {ECL_HTTP_GET, "/early", ECL_HTTP_PUBLIC, 0, h_early, NULL},
    {ECL_HTTP_GET, "/park", ECL_HTTP_PUBLIC, 0, h_park, NULL},
    {ECL_HTTP_GET, "/whoami", ECL_HTTP_ROLE(ECL_ROLE_AGENT) | ECL_HTTP_ROLE(ECL_ROLE_DPO), 0,
     h_whoami, NULL},
    {ECL_HTTP_GET, "/decide", ECL_HTTP_ROLE(ECL_ROLE_AGENT), 0, h_decide, NULL},
};

static int
fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct ecl_http_route routes[16];
    struct ecl_http_config cfg;
    struct ecl_principal p;
    struct ecl_api_key key;
    size_t n = 0;

    assert_non_null(f);
    f->dir = tu_tmpdir();
    assert_int_equal(ecl_keyring_create(f->dir, NULL, NULL), ECL_OK);
    assert_int_equal(ecl_keyring_load(f->dir, NULL, &f->kr), ECL_OK);
    assert_int_equal(ecl_store_create(f->dir), ECL_OK);
    assert_int_equal(ecl_store_open(f->dir, ECL_STORE_DEFAULT, &f->store), ECL_OK);
    assert_int_equal(ecl_principal_add(f->store, f->kr, "root", ECL_ROLE_ADMIN, 1, &p, &key),
                     ECL_OK);
    memcpy(f->admin_key, key.text, sizeof f->admin_key);
    assert_int_equal(ecl_principal_add(f->store, f->kr, "bot", ECL_ROLE_AGENT, 1, &p, &key),
                     ECL_OK);
    memcpy(f->agent_key, key.text, sizeof f->agent_key);

    for (size_t i = 0; i < ecl_http_ops_nroutes; i++) {
        routes[n++] = ecl_http_ops_routes[i];
    }
    for (size_t i = 0; i < sizeof test_routes / sizeof test_routes[0]; i++) {
        routes[n++] = test_routes[i];
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.threads = 2;
    cfg.shutdown_grace_ms = 300;
    cfg.store = f->store;
    cfg.kr = f->kr;
    cfg.routes = routes;
    cfg.nroutes = n;
    cfg.on_refusal = on_refusal;
    cfg.health = health;
    assert_int_equal(ecl_http_server_start(&cfg, &f->srv), ECL_OK);
    f->port = ecl_http_server_port(f->srv);
    assert_true(f->port > 0);
    *state = f;
    return 0;
}

static int
fixture_teardown(void **state)
{
    struct fixture *f = *state;

    if (f->srv != NULL) {
        ecl_http_server_stop(f->srv);
    }
    ecl_store_close(f->store);
    ecl_keyring_free(f->kr);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* One request on a new connection ("Connection: close"); returns the status, copies the body. */
static int
http_get(unsigned port, const char *path, const char *key, char *body, size_t cap)
{
    struct sockaddr_in a;
    enum { BUF = 256 * 1024 };
    char req[512];
    char *buf = malloc(BUF);
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int status = -1;
    int n;

    assert_true(fd >= 0);
    assert_non_null(buf);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s%s%s\r\n",
                 path, key ? "Authorization: Bearer " : "", key ? key : "", key ? "\r\n" : "");
    assert_int_equal(write(fd, req, (size_t)n), n);
    for (;;) {
        ssize_t r = read(fd, buf + got, BUF - 1 - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1) {
        status = -1;
    }
    if (body != NULL) {
        const char *b = strstr(buf, "\r\n\r\n");
        snprintf(body, cap, "%s", b != NULL ? b + 4 : "");
    }
    free(buf);
    return status;
}

static uint64_t
ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct slow_client {
    unsigned port;
    int status;
    char body[64];
    uint64_t ms;
};

static void *
slow_client(void *arg)
{
    struct slow_client *c = arg;
    uint64_t t0 = ms_now();

    c->status = http_get(c->port, "/slow", NULL, c->body, sizeof c->body);
    c->ms = ms_now() - t0;
    return NULL;
}

static void
test_async_completion(void **state)
{
    struct fixture *f = *state;
    struct slow_client clients[4];
    pthread_t t[4];
    enum { CAP = 128 * 1024 };
    char *body = malloc(CAP);
    uint64_t t0;
    uint64_t fast_ms;

    for (int i = 0; i < 4; i++) {
        memset(&clients[i], 0, sizeof clients[i]);
        clients[i].port = f->port;
        assert_int_equal(pthread_create(&t[i], NULL, slow_client, &clients[i]), 0);
    }
    usleep(100000);
    /* while four requests are suspended, others are served at once (2 threads only) */
    t0 = ms_now();
    for (int i = 0; i < 20; i++) {
        assert_int_equal(http_get(f->port, "/fast", NULL, body, CAP), 200);
        assert_string_equal(body, "fast");
    }
    fast_ms = ms_now() - t0;
    assert_true(fast_ms < 250);
    assert_int_equal(http_get(f->port, "/metrics", NULL, body, CAP), 200);
    assert_non_null(strstr(body, "ecluse_http_requests_suspended 4\n"));
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(clients[i].status, 200);
        assert_string_equal(clients[i].body, "slow");
        assert_true(clients[i].ms >= 350);
    }
    /* completed before the handler returned */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(http_get(f->port, "/early", NULL, body, CAP), 200);
        assert_string_equal(body, "early");
    }
    assert_int_equal(http_get(f->port, "/metrics", NULL, body, CAP), 200);
    assert_non_null(strstr(body, "ecluse_http_requests_suspended 0\n"));
    free(body);
}

static void
test_readyz_flips(void **state)
{
    struct fixture *f = *state;
    char body[2048];

    assert_int_equal(http_get(f->port, "/readyz", NULL, body, sizeof body), 200);
    assert_string_equal(body, "{\"status\":\"ready\"}");
    atomic_store(&ready_flag, 0);
    assert_int_equal(http_get(f->port, "/readyz", NULL, body, sizeof body), 503);
    assert_non_null(strstr(body, "problems/not-ready"));
    assert_non_null(strstr(body, "\"reason\":\"the audit log cannot be written\""));
    assert_int_equal(http_get(f->port, "/livez", NULL, body, sizeof body), 200);
    atomic_store(&ready_flag, 1);
    assert_int_equal(http_get(f->port, "/readyz", NULL, body, sizeof body), 200);
}

static void
test_refusal_hook_and_roles(void **state)
{
    struct fixture *f = *state;
    char body[2048];
    int before = atomic_load(&refusals);
    int before_p = atomic_load(&refusals_with_principal);

    assert_int_equal(http_get(f->port, "/whoami", NULL, body, sizeof body), 401);
    assert_int_equal(http_get(f->port, "/whoami", "ek_nonsense", body, sizeof body), 401);
    assert_int_equal(http_get(f->port, "/whoami", f->admin_key, body, sizeof body), 403);
    assert_int_equal(http_get(f->port, "/v1/principals", f->agent_key, body, sizeof body), 403);
    assert_int_equal(atomic_load(&refusals) - before, 4);
    assert_int_equal(atomic_load(&refusals_with_principal) - before_p, 2);
    /* allowed: no refusal; the handler sees the principal and the decoded query */
    assert_int_equal(http_get(f->port, "/whoami?q=a%20b", f->agent_key, body, sizeof body), 200);
    assert_string_equal(body, "bot agent a b");
    assert_int_equal(atomic_load(&refusals) - before, 4);
    /* every other 4xx to a valid key is reported once, with a reason code */
    assert_int_equal(http_get(f->port, "/whoami?q=%00", f->agent_key, body, sizeof body), 400);
    assert_int_equal(atomic_load(&refusals) - before, 5);
    assert_int_equal(atomic_load(&refusals_with_principal) - before_p, 3);
    assert_string_equal(atomic_load(&last_reason), "bad_request");
    /* decided before authentication (no route): the key is still identified */
    assert_int_equal(http_get(f->port, "/nowhere", f->agent_key, body, sizeof body), 404);
    assert_int_equal(atomic_load(&refusals_with_principal) - before_p, 4);
    assert_string_equal(atomic_load(&last_reason), "not_found");
    /* ... but not without a key, nor with a key that does not authenticate */
    assert_int_equal(http_get(f->port, "/nowhere", NULL, body, sizeof body), 404);
    assert_int_equal(http_get(f->port, "/nowhere", "ek_nonsense", body, sizeof body), 404);
    assert_int_equal(atomic_load(&refusals) - before, 6);
    /* a handler's refusal: its own code; none when a commit path already audited it */
    assert_int_equal(http_get(f->port, "/decide", f->agent_key, body, sizeof body), 422);
    assert_int_equal(atomic_load(&refusals) - before, 7);
    assert_string_equal(atomic_load(&last_reason), "too_many_things");
    assert_int_equal(http_get(f->port, "/decide?q=audited", f->agent_key, body, sizeof body), 422);
    assert_int_equal(atomic_load(&refusals) - before, 7);
    assert_int_equal(atomic_load(&refusals_with_principal) - before_p, 5);
}

struct parked_client {
    unsigned port;
    int status;
};

static void *
park_client(void *arg)
{
    struct parked_client *c = arg;

    c->status = http_get(c->port, "/park", NULL, NULL, 0);
    return NULL;
}

static void
test_shutdown_with_suspended_request(void **state)
{
    struct fixture *f = *state;
    struct parked_client c = {f->port, 0};
    struct ecl_http_resp resp;
    struct ecl_http_req *req;
    pthread_t t;

    atomic_store(&parked, NULL);
    assert_int_equal(pthread_create(&t, NULL, park_client, &c), 0);
    while (atomic_load(&parked) == NULL) {
        usleep(10000);
    }
    /* the grace (300 ms) expires: the client gets 503, the server stops */
    ecl_http_server_stop(f->srv);
    f->srv = NULL;
    pthread_join(t, NULL);
    assert_int_equal(c.status, 503);
    /* the late completion (the audit writer finishing) is safe and frees the request */
    req = atomic_load(&parked);
    ecl_http_resp_init(&resp);
    assert_int_equal(ecl_http_resp_set(&resp, 200, "text/plain", "late", 4), ECL_OK);
    ecl_http_req_complete(req, &resp);
    ecl_http_resp_free(&resp);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_decode),
        cmocka_unit_test(test_path_limits),
        cmocka_unit_test(test_query_decode),
        cmocka_unit_test(test_router),
        cmocka_unit_test(test_problems),
        cmocka_unit_test_setup_teardown(test_async_completion, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_readyz_flips, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_hook_and_roles, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_with_suspended_request, fixture_setup,
                                        fixture_teardown),
    };
    ecl_crypto_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
