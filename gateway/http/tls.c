/* TLS certificates for libmicrohttpd through MHD_OPTION_HTTPS_CERT_CALLBACK, so that SIGHUP can
 * swap them without restarting: the callback reads an atomic pointer to the current
 * credentials.  Replaced credentials are kept until the server stops (a handshake in progress
 * may still use them; reloads are rare, each costs a few kilobytes).
 *
 * MHD's certificate callback has no closure argument: one TLS server per process. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "internal.h"
#include "log.h"

struct creds {
    gnutls_pcert_st pcert[ECL_HTTP_TLS_MAX_CERTS];
    unsigned npcert;
    gnutls_privkey_t key;
    struct creds *older;
};

struct tls_state {
    pthread_mutex_t mu; /* serialises reloads */
    struct creds *current;
};

static _Atomic(struct creds *) active;

static void
creds_free(struct creds *c)
{
    while (c != NULL) {
        struct creds *next = c->older;
        for (unsigned i = 0; i < c->npcert; i++) {
            gnutls_pcert_deinit(&c->pcert[i]);
        }
        if (c->key != NULL) {
            gnutls_privkey_deinit(c->key);
        }
        free(c);
        c = next;
    }
}

/* 1 when the private key signs what the certificate's public key verifies. */
static int
key_matches(struct creds *c)
{
    static const unsigned char msg[] = "ecluse tls key check";
    gnutls_datum_t data = {(unsigned char *)msg, sizeof msg};
    gnutls_datum_t sig = {NULL, 0};
    int algo = gnutls_pubkey_get_pk_algorithm(c->pcert[0].pubkey, NULL);
    gnutls_sign_algorithm_t sa;
    int ok;

    if (algo == GNUTLS_PK_EDDSA_ED25519 || algo == GNUTLS_PK_EDDSA_ED448) {
        sa = gnutls_pk_to_sign((gnutls_pk_algorithm_t)algo, GNUTLS_DIG_UNKNOWN);
    } else {
        sa = gnutls_pk_to_sign((gnutls_pk_algorithm_t)algo, GNUTLS_DIG_SHA256);
    }
    if (gnutls_privkey_sign_data2(c->key, sa, 0, &data, &sig) < 0) {
        return 0;
    }
    ok = gnutls_pubkey_verify_data2(c->pcert[0].pubkey, sa, 0, &data, &sig) >= 0;
    gnutls_free(sig.data);
    return ok;
}

static enum ecl_status
creds_load(const char *cert, const char *key, struct creds **out)
{
    gnutls_datum_t cd = {NULL, 0};
    gnutls_datum_t kd = {NULL, 0};
    struct creds *c = calloc(1, sizeof *c);
    enum ecl_status st = ECL_ERR_INVALID;
    unsigned n = ECL_HTTP_TLS_MAX_CERTS;

    if (c == NULL) {
        return ECL_ERR_NOMEM;
    }
    if (gnutls_load_file(cert, &cd) < 0 || gnutls_load_file(key, &kd) < 0) {
        ecl_log_msg(ECL_LOG_ERROR, "tls", "cannot read the certificate or key file");
        st = ECL_ERR_IO;
        goto out;
    }
    if (cd.size > ECL_HTTP_TLS_MAX_FILE_BYTES || kd.size > ECL_HTTP_TLS_MAX_FILE_BYTES) {
        st = ECL_ERR_LIMIT;
        goto out;
    }
    if (gnutls_pcert_list_import_x509_raw(c->pcert, &n, &cd, GNUTLS_X509_FMT_PEM, 0) < 0 ||
        n == 0) {
        ecl_log_msg(ECL_LOG_ERROR, "tls", "the certificate file holds no valid PEM certificate");
        goto out;
    }
    c->npcert = n;
    if (gnutls_privkey_init(&c->key) < 0 ||
        gnutls_privkey_import_x509_raw(c->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
        ecl_log_msg(ECL_LOG_ERROR, "tls", "the key file holds no valid PEM private key");
        goto out;
    }
    if (!key_matches(c)) {
        ecl_log_msg(ECL_LOG_ERROR, "tls", "the private key does not match the certificate");
        goto out;
    }
    *out = c;
    c = NULL;
    st = ECL_OK;
out:
    if (kd.data != NULL) {
        ecl_wipe(kd.data, kd.size);
        gnutls_free(kd.data);
    }
    gnutls_free(cd.data);
    creds_free(c);
    return st;
}

static int
cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
              const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
              unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    struct creds *c = atomic_load(&active);

    (void)session;
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (c == NULL) {
        return -1;
    }
    *pcert = c->pcert;
    *pcert_length = c->npcert;
    *pkey = c->key;
    return 0;
}

void *
ecl_http_tls_callback(void)
{
    /* MHD takes the function through its variadic option list as a pointer */
    return (void *)cert_callback;
}

enum ecl_status
ecl_http_tls_load(const char *cert, const char *key, struct tls_state **out)
{
    struct tls_state *t = calloc(1, sizeof *t);
    enum ecl_status st;

    if (t == NULL) {
        return ECL_ERR_NOMEM;
    }
    st = creds_load(cert, key, &t->current);
    if (st != ECL_OK) {
        free(t);
        return st;
    }
    pthread_mutex_init(&t->mu, NULL);
    *out = t;
    return ECL_OK;
}

void
ecl_http_tls_install(struct tls_state *t)
{
    atomic_store(&active, t->current);
}

enum ecl_status
ecl_http_tls_reload(struct tls_state *t, const char *cert, const char *key)
{
    struct creds *c = NULL;
    enum ecl_status st = creds_load(cert, key, &c);

    if (st != ECL_OK) {
        return st;
    }
    pthread_mutex_lock(&t->mu);
    c->older = t->current;
    t->current = c;
    atomic_store(&active, c);
    pthread_mutex_unlock(&t->mu);
    return ECL_OK;
}

void
ecl_http_tls_free(struct tls_state *t)
{
    struct creds *expected = t->current;

    atomic_compare_exchange_strong(&active, &expected, NULL);
    creds_free(t->current);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
