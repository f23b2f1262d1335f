/* ecluse serve: the HTTP server with the operations and principal routes.  Signals are handled
 * synchronously by the main thread (sigtimedwait): SIGTERM and SIGINT stop gracefully, SIGHUP
 * reloads the TLS certificate and key and the active policy; every ECL_POLICY_WATCH_INTERVAL_MS
 * the main thread also picks up a policy version activated with the command line. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cli.h"
#include "http/http.h"
#include "api/app.h"
#include "ecl/limits.h"
#include "store/policy_db.h"
#include "http/log.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"

static void
serve_usage(FILE *f)
{
    fprintf(
        f,
        "usage: ecluse [--data DIR] serve [--listen ADDR:PORT] [--threads N]\n"
        "                                 [--tls-cert FILE --tls-key FILE]\n"
        "                                 [--allow-insecure-http] [--connection-timeout S]\n"
        "\n"
        "  --listen ADDR:PORT      address to bind (default %s; [::1]:PORT for IPv6;\n"
        "                          port 0 picks a free port, printed in the \"listening\" log)\n"
        "  --threads N             HTTP worker threads (default: number of cores, min 2,\n"
        "                          max %d; 1 is raised to 2)\n"
        "  --tls-cert FILE         PEM certificate chain (TLS 1.2 and 1.3 only)\n"
        "  --tls-key FILE          PEM private key; SIGHUP re-reads both files\n"
        "  --allow-insecure-http   allow plain HTTP on a non-loopback address\n"
        "  --connection-timeout S  close connections idle for S seconds (default %d)\n"
        "\n"
        "Logs are JSON lines on stderr. SIGTERM or SIGINT stops gracefully.\n",
        DEFAULT_LISTEN, ECL_HTTP_MAX_THREADS, ECL_HTTP_CONNECTION_TIMEOUT_S);
}

static int
parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end = NULL;
    unsigned long v;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    v = strtoul(s, &end, 10);
    if (*end != 0 || v == 0 || v > max) {
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* Signals are handled synchronously by the thread that called this, through sigwait: block
 * them before any other thread starts (every thread inherits the mask). */
void
ecl_serve_block_signals(void)
{
    sigset_t sigs;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void
ecl_serve_loop(struct ecl_app *app, const struct ecl_http_config *cfg)
{
    struct ecl_logline l;
    enum ecl_status st;
    sigset_t sigs;
    uint64_t failed_version = 0; /* a stored active version that failed to load */
    int sig = 0;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    ecl_log_begin(&l, ECL_LOG_INFO, "listening");
    ecl_log_str(&l, "listen", cfg->listen);
    ecl_log_u64(&l, "port", ecl_http_server_port(app->http));
    ecl_log_str(&l, "tls", cfg->tls_cert != NULL ? "on" : "off");
    ecl_log_u64(&l, "threads", ecl_http_server_threads(app->http));
    ecl_log_end(&l);

    for (;;) {
        struct timespec tick = {ECL_POLICY_WATCH_INTERVAL_MS / 1000,
                                (ECL_POLICY_WATCH_INTERVAL_MS % 1000) * 1000000L};
        uint64_t reloaded = 0;

        sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig < 0) {
            /* no signal this tick: a version activated with the command line (or by another
             * process) is picked up here; a failed reload is retried only once the stored
             * active version changes again, so it is logged once */
            uint64_t active = 0;
            if (errno != EAGAIN || ecl_policy_db_active(app->store, &active) != ECL_OK ||
                active == failed_version) {
                continue;
            }
            st = ecl_app_sync_policy(app, &reloaded);
            if (st != ECL_OK) {
                failed_version = active;
                ecl_log_msg(ECL_LOG_ERROR, "reload",
                            "the stored active policy changed but cannot be loaded; the previous "
                            "policy stays in force");
            } else if (reloaded != 0) {
                failed_version = 0;
                ecl_log_begin(&l, ECL_LOG_INFO, "reload");
                ecl_log_str(&l, "msg", "active policy changed in the store; now in force");
                ecl_log_u64(&l, "policy_version", reloaded);
                ecl_log_end(&l);
            }
            continue;
        }
        if (sig != SIGHUP) {
            break;
        }
        st = cfg->tls_cert != NULL ? ecl_http_server_reload_tls(app->http) : ECL_OK;
        ecl_log_msg(st == ECL_OK ? ECL_LOG_INFO : ECL_LOG_ERROR, "reload",
                    st == ECL_OK ? "TLS certificate and key reloaded"
                                 : "TLS reload failed; the previous certificate stays in use");
        /* a policy activated with the CLI takes effect on SIGHUP */
        st = ecl_app_reload_policy(app);
        ecl_log_msg(st == ECL_OK ? ECL_LOG_INFO : ECL_LOG_ERROR, "reload",
                    st == ECL_OK ? "active policy reloaded"
                                 : "policy reload failed; the previous policy stays in force");
    }
    ecl_log_msg(ECL_LOG_INFO, "stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
}

int
ecl_cmd_serve(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"allow-insecure-http", no_argument, NULL, 'i'},
        {"connection-timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ecl_http_config cfg;
    struct ecl_app app;
    enum ecl_status st;
    int c;
    int rc;

    memset(&cfg, 0, sizeof cfg);
    cfg.listen = DEFAULT_LISTEN;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            cfg.listen = optarg;
            break;
        case 't':
            if (parse_uint(optarg, ECL_HTTP_MAX_THREADS, &cfg.threads) != 0) {
                fprintf(stderr, "ecluse: --threads must be 1 to %d\n", ECL_HTTP_MAX_THREADS);
                return EX_USAGE;
            }
            break;
        case 'c':
            cfg.tls_cert = optarg;
            break;
        case 'k':
            cfg.tls_key = optarg;
            break;
        case 'i':
            cfg.flags |= ECL_HTTP_ALLOW_INSECURE;
            break;
        case 'T':
            if (parse_uint(optarg, 3600, &cfg.conn_timeout) != 0) {
                fprintf(stderr, "ecluse: --connection-timeout must be 1 to 3600 seconds\n");
                return EX_USAGE;
            }
            break;
        case 'h':
            serve_usage(stdout);
            return EX_OK;
        default:
            serve_usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc || (cfg.tls_cert == NULL) != (cfg.tls_key == NULL)) {
        serve_usage(stderr);
        return EX_USAGE;
    }
    ecl_serve_block_signals();
    rc = ecl_app_open(&app, cli->data_dir, cli->have_key_src ? &cli->key_src : NULL);
    if (rc != 0) {
        return rc;
    }

    st = ecl_app_start_http(&app, &cfg);
    if (st == ECL_ERR_PERM) {
        fprintf(stderr, "ecluse: plain HTTP only on a loopback address; give --tls-cert and "
                        "--tls-key, or --allow-insecure-http\n");
        rc = EX_USAGE;
        goto out;
    }
    if (st != ECL_OK) {
        fprintf(stderr, "ecluse: cannot start the server on %s: %s\n", cfg.listen,
                ecl_status_name(st));
        rc = st == ECL_ERR_INVALID ? EX_USAGE : EX_UNAVAILABLE;
        goto out;
    }
    ecl_serve_loop(&app, &cfg);
    rc = EX_OK;
out:
    ecl_app_close(&app);
    if (rc == EX_OK) {
        ecl_log_msg(ECL_LOG_INFO, "stopped", "graceful shutdown complete");
    }
    return rc;
}
