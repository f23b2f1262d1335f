/* Durable audited entries per second with 1, 16, 64 and 256 concurrent producers: each
 * producer submits one entry and waits for its done callback (the entry is durable) before
 * submitting the next, as an HTTP handler does.  Prints figures and ratios; asserts nothing.
 *
 *   bench_audit [--seconds S]         throughput table (fresh data directory per row, in $TMPDIR)
 *   bench_audit fill DIR N            appends N entries to DIR's log as fast as possible
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "ecl/crypto.h"

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

static struct ecl_audit *audit;
static volatile int stop;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
event(struct ecl_audit_event *ev, const char *principal, const char *const *subjects)
{
    static const struct ecl_audit_field fields[] = {
        {"name", ECL_ACT_MASK}, {"birth_date", ECL_ACT_GENERALIZE}, {"income", ECL_ACT_REDACT}};
    static const uint8_t digest[32] = {1};

    memset(ev, 0, sizeof *ev);
    ev->kind = ECL_AUDIT_RECORD_READ;
    ev->channel = ECL_AUDIT_CH_REST;
    ev->principal = principal;
    ev->role = "agent";
    ev->official = "official-42";
    ev->case_ref = "CASE-2024-000123";
    ev->purpose = "benefit-eligibility";
    ev->dataset = "citizens";
    ev->subjects = subjects;
    ev->nsubjects = 1;
    ev->fields = fields;
    ev->nfields = 3;
    ev->policy_version = 7;
    ev->policy_hash = digest;
    ev->rule_id = "caseworkers-read";
    ev->decision = ECL_AUDIT_ALLOW;
    ev->reason = "policy.allow";
    ev->request_id = "01HZX3B9Q6N8J2K4M5P7R9T1VW";
    ev->response_digest = digest;
}

static void
wake(void *arg, enum ecl_status st, uint64_t seq)
{
    struct waiter *w = arg;

    (void)st;
    (void)seq;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *
producer(void *arg)
{
    unsigned long *count = arg;
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct ecl_audit_event ev;
    char principal[32];
    char subject[32];
    const char *subjects[1] = {subject};

    snprintf(principal, sizeof principal, "agent-%lu", (unsigned long)(uintptr_t)count % 7);
    while (!stop) {
        snprintf(subject, sizeof subject, "1850775%06lu", *count % 100000);
        event(&ev, principal, subjects);
        w.done = 0;
        if (ecl_audit_submit(audit, &ev, wake, &w) != ECL_OK) {
            usleep(100);
            continue;
        }
        pthread_mutex_lock(&w.mu);
        while (!w.done) {
            pthread_cond_wait(&w.cv, &w.mu);
        }
        pthread_mutex_unlock(&w.mu);
        (*count)++;
    }
    return NULL;
}

static int
open_dir(const char *dir, int create, struct ecl_keyring **kr, struct ecl_store **store)
{
    if (create &&
        (ecl_keyring_create(dir, NULL, NULL) != ECL_OK || ecl_store_create(dir) != ECL_OK)) {
        return -1;
    }
    if (ecl_keyring_load(dir, NULL, kr) != ECL_OK ||
        ecl_store_open(dir, ECL_STORE_DEFAULT, store) != ECL_OK ||
        ecl_audit_open(*store, *kr, &audit) != ECL_OK) {
        return -1;
    }
    return 0;
}

static double
run_row(unsigned nprod, double seconds, double *avg_batch)
{
    char dir[4096];
    const char *base = getenv("TMPDIR");
    struct ecl_keyring *kr = NULL;
    struct ecl_store *store = NULL;
    pthread_t *th = calloc(nprod, sizeof *th);
    unsigned long *counts = calloc(nprod, sizeof *counts);
    unsigned long total = 0;
    uint64_t entries = 0;
    uint64_t commits = 0;
    double t0;
    double t1;
    char cmd[4200];

    snprintf(dir, sizeof dir, "%s/bench-audit-XXXXXX", base != NULL ? base : "/tmp");
    if (th == NULL || counts == NULL || mkdtemp(dir) == NULL || open_dir(dir, 1, &kr, &store)) {
        fprintf(stderr, "bench_audit: setup failed\n");
        exit(1);
    }
    stop = 0;
    t0 = now_s();
    for (unsigned i = 0; i < nprod; i++) {
        pthread_create(&th[i], NULL, producer, &counts[i]);
    }
    usleep((useconds_t)(seconds * 1e6));
    stop = 1;
    for (unsigned i = 0; i < nprod; i++) {
        pthread_join(th[i], NULL);
        total += counts[i];
    }
    t1 = now_s();
    ecl_audit_stats(audit, &entries, &commits);
    *avg_batch = commits ? (double)entries / (double)commits : 0;
    ecl_audit_close(audit);
    ecl_store_close(store);
    ecl_keyring_free(kr);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_audit: cannot remove %s\n", dir);
    }
    free(th);
    free(counts);
    return (double)total / (t1 - t0);
}

struct inflight {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long n;
    long failed;
};

static void
fill_done(void *arg, enum ecl_status st, uint64_t seq)
{
    struct inflight *f = arg;

    (void)seq;
    pthread_mutex_lock(&f->mu);
    f->n--;
    f->failed += st != ECL_OK;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static int
fill(const char *dir, long n)
{
    struct ecl_keyring *kr = NULL;
    struct ecl_store *store = NULL;
    struct inflight f = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    struct ecl_audit_event ev;
    char subject[32];
    const char *subjects[1] = {subject};
    double t0 = now_s();

    if (open_dir(dir, 0, &kr, &store) != 0) {
        fprintf(stderr, "bench_audit: cannot open %s\n", dir);
        return 1;
    }
    for (long i = 0; i < n; i++) {
        snprintf(subject, sizeof subject, "1850775%06ld", i % 100000);
        event(&ev, i % 2 ? "agent-1" : "agent-2", subjects);
        pthread_mutex_lock(&f.mu);
        while (f.n >= ECL_AUDIT_QUEUE_MAX / 2) {
            pthread_cond_wait(&f.cv, &f.mu);
        }
        f.n++;
        pthread_mutex_unlock(&f.mu);
        if (ecl_audit_submit(audit, &ev, fill_done, &f) != ECL_OK) {
            fprintf(stderr, "bench_audit: submit failed\n");
            return 1;
        }
    }
    ecl_audit_close(audit);
    ecl_store_close(store);
    ecl_keyring_free(kr);
    printf("filled %ld entries in %.1f s (%.0f entries/s)\n", n, now_s() - t0,
           (double)n / (now_s() - t0));
    return f.failed != 0;
}

int
main(int argc, char **argv)
{
    static const unsigned rows[] = {1, 16, 64, 256};
    double seconds = 3.0;
    double base = 0;

    ecl_crypto_init();
    if (argc == 4 && strcmp(argv[1], "fill") == 0) {
        return fill(argv[2], atol(argv[3]));
    }
    if (argc == 3 && strcmp(argv[1], "--seconds") == 0) {
        seconds = atof(argv[2]);
    } else if (argc != 1) {
        fprintf(stderr, "usage: bench_audit [--seconds S] | bench_audit fill DIR N\n");
        return 64;
    }
    printf("%-10s %14s %10s %12s\n", "producers", "entries/s", "avg batch", "vs 1 prod.");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        double batch = 0;
        double rate = run_row(rows[i], seconds, &batch);
        if (i == 0) {
            base = rate;
        }
        printf("%-10u %14.0f %10.1f %11.1fx\n", rows[i], rate, batch, base > 0 ? rate / base : 0);
        fflush(stdout);
    }
    return 0;
}
