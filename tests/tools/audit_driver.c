/* Test-only: writes audit entries into a data directory through the real writer.
 *
 *   audit_driver DIR fill N            N entries from 8 threads, then exits
 *   audit_driver DIR crash THREADS     entries from THREADS threads until killed; prints
 *                                      "ack SEQ" as soon as each entry's done callback fires
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "ecl/crypto.h"

static struct ecl_audit *audit;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static long remaining; /* fill: entries left to write; crash: -1 */
static int print_acks;

static void
ack(void *arg, enum ecl_status st, uint64_t seq)
{
    (void)arg;
    if (st == ECL_OK && print_acks) {
        pthread_mutex_lock(&out_mu);
        printf("ack %llu\n", (unsigned long long)seq);
        fflush(stdout);
        pthread_mutex_unlock(&out_mu);
    }
}

static int
take(void)
{
    int ok;

    pthread_mutex_lock(&out_mu);
    ok = remaining != 0;
    if (remaining > 0) {
        remaining--;
    }
    pthread_mutex_unlock(&out_mu);
    return ok;
}

static void *
producer(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    char principal[32];
    char s1[32];
    char s2[32];
    const char *subjects[2] = {s1, s2};
    struct ecl_audit_field fields[2] = {{"name", ECL_ACT_MASK}, {"income", ECL_ACT_GENERALIZE}};
    struct ecl_audit_event ev;
    uint64_t seq;

    for (unsigned i = 0; take(); i++) {
        snprintf(principal, sizeof principal, "agent-%u", id % 5);
        snprintf(s1, sizeof s1, "SUBJ-%u", (id * 7919 + i) % 17);
        snprintf(s2, sizeof s2, "SUBJ-%u", (id * 31 + i) % 23);
        memset(&ev, 0, sizeof ev);
        ev.kind = i % 10 == 0 ? ECL_AUDIT_RECORD_QUERY : ECL_AUDIT_RECORD_READ;
        ev.channel = ECL_AUDIT_CH_REST;
        ev.principal = principal;
        ev.role = "agent";
        ev.purpose = "benefit-check";
        ev.dataset = "citizens";
        ev.subjects = subjects;
        ev.nsubjects = 1 + i % 2;
        ev.fields = fields;
        ev.nfields = 2;
        ev.decision = i % 7 == 0 ? ECL_AUDIT_DENY : ECL_AUDIT_ALLOW;
        ev.reason = i % 7 == 0 ? "policy.no_matching_rule" : "policy.allow";
        ev.request_id = "req";
        /* append_sync waits for durability; its callback path is the same as submit's */
        if (ecl_audit_append_sync(audit, &ev, &seq) != ECL_OK) {
            fprintf(stderr, "audit_driver: append failed\n");
            exit(1);
        }
        ack(NULL, ECL_OK, seq);
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    struct ecl_keyring *kr = NULL;
    struct ecl_store *store = NULL;
    pthread_t th[256];
    unsigned nth = 8;

    if (argc != 4) {
        fprintf(stderr, "usage: audit_driver DIR fill N | DIR crash THREADS\n");
        return 64;
    }
    ecl_crypto_init();
    if (strcmp(argv[2], "fill") == 0) {
        remaining = atol(argv[3]);
    } else {
        remaining = -1;
        print_acks = 1;
        nth = (unsigned)atoi(argv[3]);
        if (nth == 0 || nth > 256) {
            return 64;
        }
    }
    if (ecl_keyring_load(argv[1], NULL, &kr) != ECL_OK ||
        ecl_store_open(argv[1], ECL_STORE_DEFAULT, &store) != ECL_OK ||
        ecl_audit_open(store, kr, &audit) != ECL_OK) {
        fprintf(stderr, "audit_driver: cannot open %s\n", argv[1]);
        return 1;
    }
    for (unsigned i = 0; i < nth; i++) {
        pthread_create(&th[i], NULL, producer, (void *)(uintptr_t)i);
    }
    for (unsigned i = 0; i < nth; i++) {
        pthread_join(th[i], NULL);
    }
    ecl_audit_close(audit);
    ecl_store_close(store);
    ecl_keyring_free(kr);
    return 0;
}
