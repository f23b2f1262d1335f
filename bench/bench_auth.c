/* Cost of authenticating one request: parse the key, a short LMDB read transaction for the
 * principal, the keyed BLAKE2b, the constant-time compare.  Prints rates and ratios; asserts
 * nothing.  usage: bench_auth [iterations] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecl/crypto.h"
#include "store/principals.h"

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    char dir[] = "/tmp/ecl-bench-auth.XXXXXX";
    struct ecl_keyring *kr = NULL;
    struct ecl_store *store = NULL;
    struct ecl_principal p;
    struct ecl_principal got;
    struct ecl_api_key key;
    uint8_t id[ECL_PRINCIPAL_ID_LEN];
    uint8_t secret[ECL_API_SECRET_LEN];
    uint8_t hash[ECL_HASH_LEN];
    char cmd[128];
    double t0;
    double r_hash;
    double r_get;
    double r_auth;
    double r_unknown;
    size_t len;

    ecl_crypto_init();
    if (n <= 0 || mkdtemp(dir) == NULL || ecl_keyring_create(dir, NULL, NULL) != ECL_OK ||
        ecl_keyring_load(dir, NULL, &kr) != ECL_OK || ecl_store_create(dir) != ECL_OK ||
        ecl_store_open(dir, ECL_STORE_DEFAULT, &store) != ECL_OK) {
        fprintf(stderr, "bench_auth: setup failed\n");
        return 1;
    }
    for (int i = 0; i < 100; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%d", i);
        if (ecl_principal_add(store, kr, name, ECL_ROLE_AGENT, 1, &p, &key) != ECL_OK) {
            return 1;
        }
    }
    len = strlen(key.text);
    if (ecl_api_key_parse(key.text, len, id, secret) != ECL_OK) {
        return 1;
    }

    t0 = now_s();
    for (long i = 0; i < n; i++) {
        ecl_principal_key_hash(ecl_keyring_key(kr, ECL_KEY_API_PEPPER), id, secret, hash);
    }
    r_hash = (double)n / (now_s() - t0);
    t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (ecl_principal_get(store, id, &got) != ECL_OK) {
            return 1;
        }
    }
    r_get = (double)n / (now_s() - t0);
    t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (ecl_principal_authenticate(store, kr, key.text, len, &got) != ECL_OK) {
            return 1;
        }
    }
    r_auth = (double)n / (now_s() - t0);
    key.text[4] = key.text[4] == '0' ? '1' : '0';
    t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (ecl_principal_authenticate(store, kr, key.text, len, &got) != ECL_ERR_DENIED) {
            return 1;
        }
    }
    r_unknown = (double)n / (now_s() - t0);
    printf("iterations                       %ld (100 principals)\n", n);
    printf("keyed BLAKE2b of the secret      %10.0f /s\n", r_hash);
    printf("LMDB read txn + get principal    %10.0f /s\n", r_get);
    printf("authenticate (valid key)         %10.0f /s  (%.2f us each)\n", r_auth, 1e6 / r_auth);
    printf("authenticate (unknown id)        %10.0f /s  (ratio unknown/valid %.2f)\n", r_unknown,
           r_unknown / r_auth);
    ecl_wipe(&key, sizeof key);
    ecl_store_close(store);
    ecl_keyring_free(kr);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
