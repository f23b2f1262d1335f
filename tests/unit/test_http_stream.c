/* Streamed HTTP bodies (ecl_http_resp_stream): an in-process server whose handlers stream many
 * pieces, fail half-way, complete asynchronously with a stream, replace a stream before sending
 * it, and lose their client half-way.  Checks the bytes (chunked framing decoded here), that the
 * producer's state is released exactly once in every case, and that a piece never exceeds the
 * cap. */
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
#include "testutil.h"

enum { LINES_PER_PIECE = 100 };

static atomic_int frees;
static atomic_int max_piece;

struct gen {
    unsigned lines; /* lines to produce in all */
    unsigned done;
    unsigned fail_at; /* 0: never; else fail when done reaches it */
};

static enum ecl_status
gen_fill(void *arg, struct ecl_buf *out)
{
    struct gen *g = arg;
    char line[64];

    assert_int_equal(out->len, 0);
    if (g->fail_at != 0 && g->done >= g->fail_at) {
        return ECL_ERR_IO;
    }
    for (unsigned i = 0; i < LINES_PER_PIECE && g->done < g->lines; i++, g->done++) {
        int n =
            snprintf(line, sizeof line, "line %08u ................................\n", g->done);
        if (ecl_buf_append(out, line, (size_t)n) != ECL_OK) {
            return ECL_ERR_LIMIT;
        }
    }
    if ((int)out->len > atomic_load(&max_piece)) {
        atomic_store(&max_piece, (int)out->len);
    }
    return ECL_OK;
}

static void
gen_free(void *arg)
{
    free(arg);
    atomic_fetch_add(&frees, 1);
}

static struct gen *
gen_new(const struct ecl_http_req *req)
{
    struct gen *g = calloc(1, sizeof *g);
    const char *n = ecl_http_req_query(req, "n");
    const char *f = ecl_http_req_query(req, "fail");

    assert_non_null(g);
    g->lines = n != NULL ? (unsigned)strtoul(n, NULL, 10) : 10;
    g->fail_at = f != NULL ? (unsigned)strtoul(f, NULL, 10) : 0;
    return g;
}

static enum ecl_http_result
h_stream(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    (void)arg;
    ecl_http_resp_stream(resp, 200, "text/plain", gen_fill, gen_new(req), gen_free);
    return ECL_HTTP_DONE;
}

/* A stream set, then replaced by a buffered body: the stream's state is released unsent. */
static enum ecl_http_result
h_replace(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    (void)arg;
    ecl_http_resp_stream(resp, 200, "text/plain", gen_fill, gen_new(req), gen_free);
    if (ecl_http_resp_set(resp, 200, "text/plain", "plain", 5) != ECL_OK) {
        ecl_http_resp_problem(resp, ECL_PROB_INTERNAL);
    }
    return ECL_HTTP_DONE;
}

struct later {
    struct ecl_http_req *req;
    struct gen *g;
};

static void *
complete_later(void *arg)
{
    struct later *l = arg;
    struct ecl_http_resp resp;
    struct timespec ts = {0, 20 * 1000000L};

    nanosleep(&ts, NULL);
    ecl_http_resp_init(&resp);
    ecl_http_resp_stream(&resp, 200, "application/x-ndjson", gen_fill, l->g, gen_free);
    ecl_http_req_complete(l->req, &resp);
    ecl_http_resp_free(&resp);
    free(l);
    return NULL;
}

static enum ecl_http_result
h_async(struct ecl_http_req *req, struct ecl_http_resp *resp, void *arg)
{
    struct later *l = calloc(1, sizeof *l);
    pthread_t t;

    (void)resp;
    (void)arg;
    assert_non_null(l);
    l->req = req;
    l->g = gen_new(req);
    assert_int_equal(pthread_create(&t, NULL, complete_later, l), 0);
    pthread_detach(t);
    return ECL_HTTP_PENDING;
}

static const struct ecl_http_route routes[] = {
    {ECL_HTTP_GET, "/stream", ECL_HTTP_PUBLIC, 0, h_stream, NULL},
    {ECL_HTTP_GET, "/replace", ECL_HTTP_PUBLIC, 0, h_replace, NULL},
    {ECL_HTTP_GET, "/async", ECL_HTTP_PUBLIC, 0, h_async, NULL},
};

struct fixture {
    char *dir;
    struct ecl_keyring *kr;
    struct ecl_store *store;
    struct ecl_http_server *srv;
    unsigned port;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct ecl_http_config cfg;

    assert_non_null(f);
    f->dir = tu_tmpdir();
    assert_int_equal(ecl_keyring_create(f->dir, NULL, NULL), ECL_OK);
    assert_int_equal(ecl_keyring_load(f->dir, NULL, &f->kr), ECL_OK);
    assert_int_equal(ecl_store_create(f->dir), ECL_OK);
    assert_int_equal(ecl_store_open(f->dir, ECL_STORE_DEFAULT, &f->store), ECL_OK);
    memset(&cfg, 0, sizeof cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.threads = 2;
    cfg.shutdown_grace_ms = 300;
    cfg.store = f->store;
    cfg.kr = f->kr;
    cfg.routes = routes;
    cfg.nroutes = sizeof routes / sizeof routes[0];
    assert_int_equal(ecl_http_server_start(&cfg, &f->srv), ECL_OK);
    f->port = ecl_http_server_port(f->srv);
    atomic_store(&frees, 0);
    atomic_store(&max_piece, 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    ecl_http_server_stop(f->srv);
    ecl_store_close(f->store);
    ecl_keyring_free(f->kr);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static int
connect_to(unsigned port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* GET path; the whole raw response (headers and body) into a malloc'd buffer. */
static char *
get_raw(unsigned port, const char *path, size_t *len)
{
    char req[256];
    size_t cap = 1 << 16;
    size_t got = 0;
    char *buf = malloc(cap);
    int fd = connect_to(port);
    int n =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);

    assert_non_null(buf);
    assert_int_equal(write(fd, req, (size_t)n), n);
    for (;;) {
        ssize_t r;
        if (cap - got < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        r = read(fd, buf + got, cap - got - 1);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    *len = got;
    return buf;
}

/* Decodes a chunked body in place; returns its length, or -1 when the framing is incomplete
 * (no terminating zero-size chunk). */
static long
dechunk(char *body, size_t len)
{
    size_t in = 0;
    size_t out = 0;

    for (;;) {
        char *end = NULL;
        unsigned long sz;
        char *crlf = strstr(body + in, "\r\n");
        if (crlf == NULL) {
            return -1;
        }
        sz = strtoul(body + in, &end, 16);
        if (end == body + in) {
            return -1;
        }
        in = (size_t)(crlf - body) + 2;
        if (sz == 0) {
            return (long)out;
        }
        if (in + sz + 2 > len) {
            return -1;
        }
        memmove(body + out, body + in, sz);
        out += sz;
        in += sz + 2;
    }
}

static void
wait_frees(int n)
{
    struct timespec ts = {0, 10 * 1000000L};

    for (int i = 0; i < 300 && atomic_load(&frees) < n; i++) {
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&frees), n);
}

static void
check_lines(const char *body, long len, unsigned lines)
{
    char line[64];
    long off = 0;

    for (unsigned i = 0; i < lines; i++) {
        int n = snprintf(line, sizeof line, "line %08u ................................\n", i);
        assert_true(off + n <= len);
        assert_memory_equal(body + off, line, (size_t)n);
        off += n;
    }
    assert_int_equal(off, len);
}

static void
test_stream_many_blocks(void **state)
{
    struct fixture *f = *state;
    size_t len = 0;
    /* 20000 lines of 47 bytes: about 940 kB, many ECL_HTTP_STREAM_BLOCKs and pieces */
    char *raw = get_raw(f->port, "/stream?n=20000", &len);
    char *body = strstr(raw, "\r\n\r\n");
    long blen;

    assert_non_null(body);
    assert_true(strncmp(raw, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strstr(raw, "Transfer-Encoding: chunked"));
    assert_non_null(strstr(raw, "Content-Type: text/plain"));
    body += 4;
    blen = dechunk(body, len - (size_t)(body - raw));
    check_lines(body, blen, 20000);
    assert_true(atomic_load(&max_piece) <= ECL_HTTP_STREAM_PIECE_MAX);
    free(raw);
    wait_frees(1);

    /* an empty stream is a valid empty body */
    raw = get_raw(f->port, "/stream?n=0", &len);
    body = strstr(raw, "\r\n\r\n") + 4;
    assert_int_equal(dechunk(body, len - (size_t)(body - raw)), 0);
    free(raw);
    wait_frees(2);
}

static void
test_stream_failure_truncates(void **state)
{
    struct fixture *f = *state;
    size_t len = 0;
    char *raw = get_raw(f->port, "/stream?n=100000&fail=3000", &len);
    char *body = strstr(raw, "\r\n\r\n");

    assert_non_null(body);
    body += 4;
    /* the body stops without the final zero-size chunk: the client knows it is incomplete */
    assert_int_equal(dechunk(body, len - (size_t)(body - raw)), -1);
    free(raw);
    wait_frees(1);
}

static void
test_stream_async_and_replace(void **state)
{
    struct fixture *f = *state;
    size_t len = 0;
    char *raw = get_raw(f->port, "/async?n=1234", &len);
    char *body = strstr(raw, "\r\n\r\n") + 4;

    assert_non_null(strstr(raw, "Content-Type: application/x-ndjson"));
    check_lines(body, dechunk(body, len - (size_t)(body - raw)), 1234);
    free(raw);
    wait_frees(1);

    raw = get_raw(f->port, "/replace?n=5", &len);
    assert_non_null(strstr(raw, "Content-Length: 5"));
    assert_non_null(strstr(raw, "\r\n\r\nplain"));
    free(raw);
    wait_frees(2);
}

static void
test_stream_client_gone(void **state)
{
    struct fixture *f = *state;
    const char *req = "GET /stream?n=2000000 HTTP/1.1\r\nHost: t\r\n\r\n";
    char buf[4096];
    int fd = connect_to(f->port);

    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    assert_true(read(fd, buf, sizeof buf) > 0);
    close(fd); /* about 94 MB were to come: the producer must be released anyway */
    wait_frees(1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_many_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_failure_truncates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_async_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_client_gone, setup, teardown),
    };
    ecl_crypto_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
