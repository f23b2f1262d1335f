/* Key hierarchy: derivation vectors, distinct contexts, keyring files and their checks. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ecl/crypto.h"
#include "testutil.h"

static void
test_kdf_vectors(void **state)
{
    char *path = tu_vector_path("kdf.txt");
    FILE *f = fopen(path, "r");
    uint8_t master[ECL_MASTER_KEY_LEN];
    char name[64];
    char hex[65];
    unsigned long version;
    int rows = 0;

    (void)state;
    assert_non_null(f);
    for (int i = 0; i < ECL_MASTER_KEY_LEN; i++) {
        master[i] = (uint8_t)i;
    }
    while (fscanf(f, "%63s %lu %64s", name, &version, hex) == 3) {
        uint8_t want[ECL_KEY_LEN];
        uint8_t got[ECL_KEY_LEN];
        int use = -1;
        for (int u = 0; u < ECL_KEY_USE_COUNT; u++) {
            if (strcmp(ecl_key_use_name((enum ecl_key_use)u), name) == 0) {
                use = u;
            }
        }
        assert_true(use >= 0);
        tu_unhex(hex, want, sizeof want);
        ecl_kdf_derive(master, (enum ecl_key_use)use, (uint32_t)version, got);
        assert_memory_equal(got, want, sizeof want);
        rows++;
    }
    fclose(f);
    free(path);
    assert_int_equal(rows, ECL_KEY_USE_COUNT * 3);
}

static void
test_kdf_distinct(void **state)
{
    uint8_t master[ECL_MASTER_KEY_LEN] = {0};
    uint8_t keys[ECL_KEY_USE_COUNT * 2][ECL_KEY_LEN];

    (void)state;
    for (int u = 0; u < ECL_KEY_USE_COUNT; u++) {
        ecl_kdf_derive(master, (enum ecl_key_use)u, 1, keys[2 * u]);
        ecl_kdf_derive(master, (enum ecl_key_use)u, 2, keys[2 * u + 1]);
    }
    for (int i = 0; i < ECL_KEY_USE_COUNT * 2; i++) {
        for (int j = i + 1; j < ECL_KEY_USE_COUNT * 2; j++) {
            assert_memory_not_equal(keys[i], keys[j], ECL_KEY_LEN);
        }
    }
}

static char *
join(const char *dir, const char *file)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", dir, file) > 0);
    return p;
}

static void
test_keyring_roundtrip(void **state)
{
    char *dir = tu_tmpdir();
    struct ecl_keyring *kr = NULL;
    struct ecl_keyring *pub = NULL;
    uint8_t sig[ECL_SIGN_LEN];
    uint8_t old[ECL_KEY_LEN];

    (void)state;
    assert_int_equal(ecl_keyring_create(dir, NULL, "test.example/log"), ECL_OK);
    assert_int_equal(ecl_keyring_create(dir, NULL, NULL), ECL_ERR_EXISTS);
    assert_int_equal(ecl_keyring_load(dir, NULL, &kr), ECL_OK);
    assert_true(ecl_keyring_has_secrets(kr));
    assert_string_equal(ecl_keyring_origin(kr), "test.example/log");
    for (int u = 0; u < ECL_KEY_USE_COUNT; u++) {
        assert_non_null(ecl_keyring_key(kr, (enum ecl_key_use)u));
        assert_int_equal(ecl_keyring_version(kr, (enum ecl_key_use)u), 1);
    }
    assert_int_equal(ecl_keyring_key_at(kr, ECL_KEY_RECORD_KEK, 1, old), ECL_OK);
    assert_memory_equal(old, ecl_keyring_key(kr, ECL_KEY_RECORD_KEK), ECL_KEY_LEN);
    assert_int_equal(ecl_keyring_sign(kr, "msg", 3, sig), ECL_OK);
    assert_true(ecl_crypto_sign_verify(ecl_keyring_sign_pk(kr), sig, "msg", 3));
    assert_false(ecl_crypto_sign_verify(ecl_keyring_sign_pk(kr), sig, "msh", 3));

    assert_int_equal(ecl_keyring_load_public(dir, &pub), ECL_OK);
    assert_false(ecl_keyring_has_secrets(pub));
    assert_null(ecl_keyring_key(pub, ECL_KEY_AUDIT_ENTRY));
    assert_int_equal(ecl_keyring_sign(pub, "msg", 3, sig), ECL_ERR_PERM);
    assert_memory_equal(ecl_keyring_sign_pk(pub), ecl_keyring_sign_pk(kr), ECL_SIGN_PK_LEN);
    ecl_keyring_free(pub);
    ecl_keyring_free(kr);
    tu_rmtree(dir);
    free(dir);
}

static void
test_master_key_checks(void **state)
{
    char *dir = tu_tmpdir();
    char *mk = join(dir, "master.key");
    struct ecl_keyring *kr = NULL;
    int fd;

    (void)state;
    assert_int_equal(ecl_keyring_create(dir, NULL, NULL), ECL_OK);
    /* group-readable: refused */
    assert_int_equal(chmod(mk, 0640), 0);
    assert_int_equal(ecl_keyring_load(dir, NULL, &kr), ECL_ERR_PERM);
    /* world-readable: refused */
    assert_int_equal(chmod(mk, 0604), 0);
    assert_int_equal(ecl_keyring_load(dir, NULL, &kr), ECL_ERR_PERM);
    assert_int_equal(chmod(mk, 0600), 0);
    assert_int_equal(ecl_keyring_load(dir, NULL, &kr), ECL_OK);
    ecl_keyring_free(kr);
    /* wrong size: refused */
    fd = open(mk, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    assert_int_equal(ecl_keyring_load(dir, NULL, &kr), ECL_ERR_INVALID);
    assert_int_equal(truncate(mk, 31), 0);
    assert_int_equal(ecl_keyring_load(dir, NULL, &kr), ECL_ERR_INVALID);
    /* a different (but well-formed) master key does not open the signing key */
    assert_int_equal(truncate(mk, 0), 0);
    assert_int_equal(truncate(mk, 32), 0);
    assert_int_equal(ecl_keyring_load(dir, NULL, &kr), ECL_ERR_CRYPTO);
    free(mk);
    tu_rmtree(dir);
    free(dir);
}

static void
test_master_key_fd(void **state)
{
    char *dir = tu_tmpdir();
    uint8_t master[ECL_MASTER_KEY_LEN];
    struct ecl_key_source src = {.kind = ECL_KEY_SOURCE_FD};
    struct ecl_keyring *kr = NULL;
    int p[2];

    (void)state;
    for (int i = 0; i < ECL_MASTER_KEY_LEN; i++) {
        master[i] = (uint8_t)(0xa0 + i);
    }
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], master, sizeof master), (ssize_t)sizeof master);
    close(p[1]);
    src.fd = p[0];
    assert_int_equal(ecl_keyring_create(dir, &src, NULL), ECL_OK);
    close(p[0]);
    /* no master.key file was written */
    char *mk = join(dir, "master.key");
    assert_int_not_equal(access(mk, F_OK), 0);
    free(mk);

    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], master, sizeof master), (ssize_t)sizeof master);
    close(p[1]);
    src.fd = p[0];
    assert_int_equal(ecl_keyring_load(dir, &src, &kr), ECL_OK);
    close(p[0]);
    uint8_t want[ECL_KEY_LEN];
    ecl_kdf_derive(master, ECL_KEY_AUDIT_ENTRY, 1, want);
    assert_memory_equal(ecl_keyring_key(kr, ECL_KEY_AUDIT_ENTRY), want, ECL_KEY_LEN);
    ecl_keyring_free(kr);

    /* too short a key on the descriptor */
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], master, 31), 31);
    close(p[1]);
    src.fd = p[0];
    assert_int_equal(ecl_keyring_load(dir, &src, &kr), ECL_ERR_INVALID);
    close(p[0]);
    tu_rmtree(dir);
    free(dir);
}

static void
test_bad_origin(void **state)
{
    char *dir = tu_tmpdir();

    (void)state;
    assert_int_equal(ecl_keyring_create(dir, NULL, "has space"), ECL_ERR_INVALID);
    assert_int_equal(ecl_keyring_create(dir, NULL, "a+b"), ECL_ERR_INVALID);
    assert_int_equal(ecl_keyring_create(dir, NULL, ""), ECL_ERR_INVALID);
    tu_rmtree(dir);
    free(dir);
}

/* KEK_v = keyed BLAKE2b-256 (key: the crypto_kdf subkey of version v, message: material_v),
 * against vectors computed with hashlib (tests/vectors/gen_kek.py). */
static void
test_kek_vectors(void **state)
{
    char *path = tu_vector_path("kek.txt");
    FILE *f = fopen(path, "r");
    uint8_t master[ECL_MASTER_KEY_LEN];
    char mhex[65];
    char hex[65];
    unsigned long version;
    int rows = 0;

    (void)state;
    assert_non_null(f);
    for (int i = 0; i < ECL_MASTER_KEY_LEN; i++) {
        master[i] = (uint8_t)i;
    }
    while (fscanf(f, "%lu %64s %64s", &version, mhex, hex) == 3) {
        uint8_t material[ECL_KEK_MATERIAL_LEN];
        uint8_t want[ECL_KEY_LEN];
        uint8_t got[ECL_KEY_LEN];
        uint8_t base[ECL_KEY_LEN];
        tu_unhex(mhex, material, sizeof material);
        tu_unhex(hex, want, sizeof want);
        ecl_record_kek_derive(master, (uint32_t)version, material, got);
        assert_memory_equal(got, want, sizeof want);
        /* neither the plain KDF subkey nor another material gives the KEK */
        ecl_kdf_derive(master, ECL_KEY_RECORD_KEK, (uint32_t)version, base);
        assert_memory_not_equal(base, want, sizeof want);
        material[0] ^= 1;
        ecl_record_kek_derive(master, (uint32_t)version, material, got);
        assert_memory_not_equal(got, want, sizeof want);
        rows++;
    }
    fclose(f);
    free(path);
    assert_int_equal(rows, 3);
}

/* Rotation adds a version; destroying the old one makes it unusable, in a reload too, while the
 * current one keeps working; tampered material refuses the keyring. */
static void
test_kek_rotate_destroy(void **state)
{
    char *dir = tu_tmpdir();
    char *kpath = join(dir, "keyring");
    struct ecl_keyring *kr = NULL;
    struct ecl_keyring *kr2 = NULL;
    struct ecl_keyring *pub = NULL;
    uint8_t k1[ECL_KEY_LEN];
    uint8_t k1b[ECL_KEY_LEN];
    uint8_t k2[ECL_KEY_LEN];
    uint8_t out[ECL_KEY_LEN];
    uint32_t v = 0;
    struct stat sb;
    char text[8192];
    FILE *f;
    size_t n;

    (void)state;
    assert_int_equal(ecl_keyring_create(dir, NULL, NULL), ECL_OK);
    assert_int_equal(ecl_keyring_load(dir, NULL, &kr), ECL_OK);
    assert_true(ecl_keyring_kek_present(kr, 1));
    assert_false(ecl_keyring_kek_present(kr, 2));
    memcpy(k1, ecl_keyring_key(kr, ECL_KEY_RECORD_KEK), ECL_KEY_LEN);
    assert_int_equal(ecl_keyring_key_at(kr, ECL_KEY_RECORD_KEK, 2, out), ECL_ERR_CRYPTO);
    assert_int_equal(ecl_keyring_kek_destroy(dir, kr, 1), ECL_ERR_INVALID); /* current */
    assert_int_equal(ecl_keyring_kek_rotate(dir, kr, &v), ECL_OK);
    assert_int_equal(v, 2);
    ecl_keyring_free(kr);

    assert_int_equal(ecl_keyring_load(dir, NULL, &kr), ECL_OK);
    assert_int_equal(ecl_keyring_version(kr, ECL_KEY_RECORD_KEK), 2);
    assert_int_equal(ecl_keyring_key_at(kr, ECL_KEY_RECORD_KEK, 1, k1b), ECL_OK);
    assert_memory_equal(k1, k1b, ECL_KEY_LEN); /* version 1 unchanged by the rotation */
    memcpy(k2, ecl_keyring_key(kr, ECL_KEY_RECORD_KEK), ECL_KEY_LEN);
    assert_memory_not_equal(k1, k2, ECL_KEY_LEN);
    assert_int_equal(stat(kpath, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    assert_int_equal(ecl_keyring_kek_destroy(dir, kr, 1), ECL_OK);
    assert_int_equal(ecl_keyring_kek_destroy(dir, kr, 2), ECL_ERR_INVALID);
    assert_int_equal(ecl_keyring_kek_destroy(dir, kr, 0), ECL_ERR_INVALID);
    ecl_keyring_free(kr);
    assert_int_equal(ecl_keyring_load(dir, NULL, &kr), ECL_OK);
    assert_false(ecl_keyring_kek_present(kr, 1));
    assert_int_equal(ecl_keyring_key_at(kr, ECL_KEY_RECORD_KEK, 1, out), ECL_ERR_CRYPTO);
    assert_int_equal(ecl_keyring_kek_destroy(dir, kr, 1), ECL_ERR_NOT_FOUND);
    assert_int_equal(ecl_keyring_key_at(kr, ECL_KEY_RECORD_KEK, 2, out), ECL_OK);
    assert_memory_equal(out, k2, ECL_KEY_LEN);
    assert_int_equal(ecl_keyring_load_public(dir, &pub), ECL_OK);
    assert_false(ecl_keyring_kek_present(pub, 1));
    assert_true(ecl_keyring_kek_present(pub, 2));
    ecl_keyring_free(pub);

    /* tamper: flip one hex digit of the sealed material */
    f = fopen(kpath, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *m = strstr(text, "record-kek-material 2 ");
    assert_non_null(m);
    m += strlen("record-kek-material 2 ") + 40;
    *m = *m == '0' ? '1' : '0';
    f = fopen(kpath, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
    assert_int_equal(ecl_keyring_load(dir, NULL, &kr2), ECL_ERR_CRYPTO);
    /* a keyring without material for its current version is refused */
    *strstr(text, "record-kek-material 2 ") = 0;
    f = fopen(kpath, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    assert_int_equal(ecl_keyring_load(dir, NULL, &kr2), ECL_ERR_INVALID);
    ecl_keyring_free(kr);
    tu_rmtree(dir);
    free(kpath);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdf_vectors),       cmocka_unit_test(test_kdf_distinct),
        cmocka_unit_test(test_keyring_roundtrip), cmocka_unit_test(test_master_key_checks),
        cmocka_unit_test(test_master_key_fd),     cmocka_unit_test(test_bad_origin),
        cmocka_unit_test(test_kek_vectors),       cmocka_unit_test(test_kek_rotate_destroy),
    };
    ecl_crypto_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
