/* The fastest thing our own stack can do: libmicrohttpd with the gateway's threading flags
 * (internal polling thread pool, epoll, suspend/resume allowed, same pool size and connection
 * limits) answering every request with one fixed JSON body of a given size, without parsing,
 * authentication, storage, crypto or audit.  bench/run measures it with wrk in the same run as
 * `ecluse serve` and reports the ratio gateway / bare.
 *
 * usage: bench_bare_responder PORT THREADS BODY_BYTES
 * Binds 127.0.0.1 (PORT 0 picks a free one), as `ecluse serve --listen 127.0.0.1:0`.
 * Prints "listening PORT" on stdout once it accepts connections; SIGTERM or SIGINT stops it. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecl/limits.h"

#define BARE_MAX_BODY (1u << 20)

static struct MHD_Response *response;

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **req)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (*req == NULL) {
        /* first call: headers only, as the gateway's first call */
        *req = (void *)1;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(c, MHD_HTTP_OK, response);
}

/* A JSON object of exactly len bytes: {"data":"xxxx..."} */
static char *
make_body(size_t len)
{
    static const char head[] = "{\"data\":\"";
    static const char tail[] = "\"}";
    size_t fixed = sizeof head - 1 + sizeof tail - 1;
    char *b;

    if (len < fixed || len > BARE_MAX_BODY) {
        return NULL;
    }
    b = malloc(len);
    if (b == NULL) {
        return NULL;
    }
    memcpy(b, head, sizeof head - 1);
    memset(b + sizeof head - 1, 'x', len - fixed);
    memcpy(b + len - (sizeof tail - 1), tail, sizeof tail - 1);
    return b;
}

int
main(int argc, char **argv)
{
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    struct sockaddr_in sin;
    sigset_t sigs;
    char *body;
    unsigned long port;
    unsigned long threads;
    unsigned long len;
    int sig = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: bench_bare_responder PORT THREADS BODY_BYTES\n");
        return 64;
    }
    port = strtoul(argv[1], NULL, 10);
    threads = strtoul(argv[2], NULL, 10);
    len = strtoul(argv[3], NULL, 10);
    if (port > 65535 || threads == 0 || threads > ECL_HTTP_MAX_THREADS) {
        fprintf(stderr, "bench_bare_responder: bad port or thread count\n");
        return 64;
    }
    body = make_body(len);
    if (body == NULL) {
        fprintf(stderr, "bench_bare_responder: body size must be 11 to %u bytes\n", BARE_MAX_BODY);
        return 64;
    }
    response = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
    if (response == NULL ||
        MHD_add_response_header(response, "Content-Type", "application/json") != MHD_YES) {
        return 70;
    }
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_access, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)ECL_HTTP_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)ECL_HTTP_MAX_CONNECTIONS_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)ECL_HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)ECL_HTTP_MAX_HEADER_BYTES, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)ECL_HTTP_LISTEN_BACKLOG, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "bench_bare_responder: cannot start on port %lu\n", port);
        return 69;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening %u\n", info != NULL ? (unsigned)info->port : (unsigned)port);
    fflush(stdout);
    sigwait(&sigs, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(response);
    free(body);
    return 0;
}
