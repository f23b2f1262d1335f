/* Constant-time checks with the ctgrind technique (Adam Langley, 2010): the secret bytes are
 * marked undefined for valgrind memcheck, so every conditional branch or memory index that
 * depends on them is reported as "Conditional jump or move depends on uninitialised value(s)".
 * Results are declassified (marked defined) before the test looks at them.  Run under
 * `valgrind --error-exitcode=99` by ctest (tests ct_equal, ct_principal, ct_control); without
 * valgrind the marks are no-ops and only the functional checks run.
 *   ct_check equal      ecl_crypto_equal on secret buffers: equal, first/last byte differing
 *   ct_check principal  ecl_principal_authenticate with the API key's secret part secret:
 *                       right key, wrong secret, unknown id (same path: dummy row)
 *   ct_check control    a naive early-exit compare: valgrind MUST report it (the negative
 *                       control that shows the technique detects a leak) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valgrind/memcheck.h>

#include "ecl/crypto.h"
#include "store/principals.h"
#include "store/store.h"
#include "testutil.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "ct_check: %s:%d: %s\n", __FILE__, __LINE__, #c);                      \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int
naive_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }
    return 1;
}

static int
equal_secret(int (*eq)(const void *, const void *, size_t), const uint8_t *a, const uint8_t *b,
             size_t n)
{
    uint8_t x[64];
    uint8_t y[64];
    int r;

    memcpy(x, a, n);
    memcpy(y, b, n);
    SECRET(x, n);
    SECRET(y, n);
    r = eq(x, y, n);
    PUBLIC(&r, sizeof r);
    return r;
}

static int
naive_adapter(const void *a, const void *b, size_t n)
{
    return naive_equal(a, b, n);
}

static void
check_equal(int (*eq)(const void *, const void *, size_t))
{
    uint8_t a[64];
    uint8_t b[64];

    for (size_t n = 1; n <= sizeof a; n++) {
        for (size_t i = 0; i < n; i++) {
            a[i] = (uint8_t)(i * 7 + 1);
        }
        memcpy(b, a, n);
        CHECK(equal_secret(eq, a, b, n) == 1);
        b[0] ^= 1;
        CHECK(equal_secret(eq, a, b, n) == 0);
        b[0] ^= 1;
        b[n - 1] ^= 0x80;
        CHECK(equal_secret(eq, a, b, n) == 0);
    }
}

/* Authenticates key with its 43 secret characters marked secret; returns the declassified
 * status. */
static enum ecl_status
auth_secret(struct ecl_store *s, const struct ecl_keyring *kr, const char *key)
{
    char k[ECL_API_KEY_MAX_LEN + 1];
    size_t n = strlen(key);
    struct ecl_principal p;
    enum ecl_status st;

    CHECK(n <= ECL_API_KEY_MAX_LEN && n > ECL_API_SECRET_LEN);
    memcpy(k, key, n + 1);
    SECRET(k + n - 43, 43);
    st = ecl_principal_authenticate(s, kr, k, n, &p);
    PUBLIC(&st, sizeof st);
    return st;
}

static void
check_principal(void)
{
    char *dir = tu_tmpdir();
    struct ecl_keyring *kr = NULL;
    struct ecl_store *s = NULL;
    struct ecl_principal p;
    struct ecl_api_key key;
    char wrong[ECL_API_KEY_MAX_LEN + 1];
    size_t n;

    CHECK(ecl_keyring_create(dir, NULL, NULL) == ECL_OK);
    CHECK(ecl_store_create(dir) == ECL_OK);
    CHECK(ecl_keyring_load(dir, NULL, &kr) == ECL_OK);
    CHECK(ecl_store_open(dir, ECL_STORE_DEFAULT, &s) == ECL_OK);
    CHECK(ecl_principal_add(s, kr, "agent-1", ECL_ROLE_AGENT, 1, &p, &key) == ECL_OK);
    CHECK(auth_secret(s, kr, key.text) == ECL_OK);
    n = strlen(key.text);
    memcpy(wrong, key.text, n + 1);
    wrong[n - 1] = wrong[n - 1] == 'A' ? 'B' : 'A';
    CHECK(auth_secret(s, kr, wrong) == ECL_ERR_DENIED);
    wrong[3] = wrong[3] == '0' ? '1' : '0'; /* another id: the dummy row path */
    CHECK(auth_secret(s, kr, wrong) == ECL_ERR_DENIED);
    ecl_store_close(s);
    ecl_keyring_free(kr);
    tu_rmtree(dir);
    free(dir);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ct_check equal|principal|control\n");
        return 64;
    }
    ecl_crypto_init();
    if (strcmp(argv[1], "equal") == 0) {
        check_equal(ecl_crypto_equal);
    } else if (strcmp(argv[1], "principal") == 0) {
        check_principal();
    } else if (strcmp(argv[1], "control") == 0) {
        check_equal(naive_adapter);
    } else {
        return 64;
    }
    return 0;
}
