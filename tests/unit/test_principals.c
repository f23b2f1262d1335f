/* Principals and API keys: known-answer hash vectors, key parsing boundaries, and the
 * authentication outcomes (valid, wrong secret, unknown id, revoked, malformed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecl/crypto.h"
#include "store/principals.h"
#include "testutil.h"

static void
test_hash_vectors(void **state)
{
    char *path = tu_vector_path("apikey.txt");
    FILE *f = fopen(path, "r");
    uint8_t master[ECL_MASTER_KEY_LEN];
    uint8_t pepper[ECL_KEY_LEN];
    char text[128];
    char hex[65];
    int rows = 0;

    (void)state;
    assert_non_null(f);
    for (int i = 0; i < ECL_MASTER_KEY_LEN; i++) {
        master[i] = (uint8_t)i;
    }
    ecl_kdf_derive(master, ECL_KEY_API_PEPPER, 1, pepper);
    while (fscanf(f, "%127s %64s", text, hex) == 2) {
        uint8_t id[ECL_PRINCIPAL_ID_LEN];
        uint8_t secret[ECL_API_SECRET_LEN];
        uint8_t want[ECL_HASH_LEN];
        uint8_t got[ECL_HASH_LEN];
        assert_int_equal(ecl_api_key_parse(text, strlen(text), id, secret), ECL_OK);
        tu_unhex(hex, want, sizeof want);
        ecl_principal_key_hash(pepper, id, secret, got);
        assert_memory_equal(got, want, sizeof want);
        /* bound to the id: the same secret under another id hashes differently */
        id[0] ^= 1;
        ecl_principal_key_hash(pepper, id, secret, got);
        assert_memory_not_equal(got, want, sizeof want);
        rows++;
    }
    fclose(f);
    free(path);
    assert_int_equal(rows, 4);
}

static void
test_key_parse(void **state)
{
    static const char good[] = "ek_0001020304050607.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    static const char *const bad[] = {
        "",
        "ek_",
        "ek_0001020304050607.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",   /* 42 */
        "ek_0001020304050607.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A", /* 44 */
        "ek_0001020304050607.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh=",  /* padding */
        "ek_0001020304050607.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+",  /* std alphabet */
        "ek_0001020304050607.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9",  /* non-canonical */
        "ek_000102030405060G.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "ek_000102030405060A.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", /* uppercase hex */
        "ek-0001020304050607.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "ek_0001020304050607:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "EK_0001020304050607.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    };
    uint8_t id[ECL_PRINCIPAL_ID_LEN];
    uint8_t secret[ECL_API_SECRET_LEN];

    (void)state;
    assert_int_equal(ecl_api_key_parse(good, strlen(good), id, secret), ECL_OK);
    assert_int_equal(id[7], 7);
    assert_int_equal(secret[31], 31);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = ecl_api_key_parse(bad[i], strlen(bad[i]), id, secret);
        if (st != ECL_ERR_INVALID) {
            fail_msg("accepted bad key %zu", i);
        }
    }
}

static void
test_names_and_roles(void **state)
{
    char longest[ECL_NAME_MAX_LEN + 2];
    enum ecl_role r;

    (void)state;
    memset(longest, 'a', sizeof longest);
    longest[ECL_NAME_MAX_LEN] = 0;
    assert_true(ecl_principal_name_ok(longest));
    longest[ECL_NAME_MAX_LEN] = 'a';
    longest[ECL_NAME_MAX_LEN + 1] = 0;
    assert_false(ecl_principal_name_ok(longest));
    assert_false(ecl_principal_name_ok(""));
    assert_false(ecl_principal_name_ok("a b"));
    assert_false(ecl_principal_name_ok("a/b"));
    assert_false(ecl_principal_name_ok("\xc3\xa9"));
    assert_true(ecl_principal_name_ok("A-z_0.9"));
    for (unsigned i = 0; i < ECL_ROLE_COUNT; i++) {
        assert_int_equal(ecl_role_parse(ecl_role_name((enum ecl_role)i), &r), ECL_OK);
        assert_int_equal(r, i);
    }
    assert_int_equal(ecl_role_parse("Admin", &r), ECL_ERR_INVALID);
    assert_int_equal(ecl_role_parse("root", &r), ECL_ERR_INVALID);
}

struct env {
    char *dir;
    struct ecl_keyring *kr;
    struct ecl_store *store;
};

static int
env_setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);

    assert_non_null(e);
    e->dir = tu_tmpdir();
    assert_int_equal(ecl_keyring_create(e->dir, NULL, NULL), ECL_OK);
    assert_int_equal(ecl_keyring_load(e->dir, NULL, &e->kr), ECL_OK);
    assert_int_equal(ecl_store_create(e->dir), ECL_OK);
    assert_int_equal(ecl_store_open(e->dir, ECL_STORE_DEFAULT, &e->store), ECL_OK);
    *state = e;
    return 0;
}

static int
env_teardown(void **state)
{
    struct env *e = *state;

    ecl_store_close(e->store);
    ecl_keyring_free(e->kr);
    tu_rmtree(e->dir);
    free(e->dir);
    free(e);
    return 0;
}

static enum ecl_status
count_one(void *arg, const struct ecl_principal *p)
{
    (void)p;
    (*(int *)arg)++;
    return ECL_OK;
}

static void
test_add_authenticate_revoke(void **state)
{
    struct env *e = *state;
    struct ecl_principal p;
    struct ecl_principal q;
    struct ecl_principal got;
    struct ecl_api_key key;
    struct ecl_api_key key2;
    char text[ECL_API_KEY_MAX_LEN + 1];
    size_t n;
    int count = 0;

    assert_int_equal(ecl_principal_add(e->store, e->kr, "alice", ECL_ROLE_AGENT, 1000, &p, &key),
                     ECL_OK);
    n = strlen(key.text);
    assert_int_equal(n, 63);
    assert_int_equal(ecl_principal_authenticate(e->store, e->kr, key.text, n, &got), ECL_OK);
    assert_memory_equal(got.id, p.id, sizeof p.id);
    assert_string_equal(got.name, "alice");
    assert_int_equal(got.role, ECL_ROLE_AGENT);
    assert_int_equal(got.created, 1000);

    /* a name can have one active principal */
    assert_int_equal(ecl_principal_add(e->store, e->kr, "alice", ECL_ROLE_ADMIN, 1001, &q, &key2),
                     ECL_ERR_EXISTS);
    assert_int_equal(ecl_principal_add(e->store, e->kr, "bad name", ECL_ROLE_ADMIN, 1, &q, &key2),
                     ECL_ERR_INVALID);

    /* every wrong variant is the same ECL_ERR_DENIED */
    memcpy(text, key.text, n + 1);
    text[n - 2] = text[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(ecl_principal_authenticate(e->store, e->kr, text, n, &got), ECL_ERR_DENIED);
    memcpy(text, key.text, n + 1);
    text[3] = text[3] == '0' ? '1' : '0'; /* unknown id, right secret */
    assert_int_equal(ecl_principal_authenticate(e->store, e->kr, text, n, &got), ECL_ERR_DENIED);
    assert_int_equal(ecl_principal_authenticate(e->store, e->kr, key.text, n - 1, &got),
                     ECL_ERR_DENIED);
    assert_int_equal(ecl_principal_authenticate(e->store, e->kr, "", 0, &got), ECL_ERR_DENIED);

    /* find by name and by id, then revoke */
    assert_int_equal(ecl_principal_find(e->store, "alice", &got), ECL_OK);
    assert_memory_equal(got.id, p.id, sizeof p.id);
    ecl_hex(p.id, sizeof p.id, text);
    assert_int_equal(ecl_principal_find(e->store, text, &got), ECL_OK);
    assert_int_equal(ecl_principal_find(e->store, "bob", &got), ECL_ERR_NOT_FOUND);
    assert_int_equal(ecl_principal_revoke(e->store, p.id, 2000, &got), ECL_OK);
    assert_int_equal(got.revoked, 2000);
    assert_int_equal(ecl_principal_revoke(e->store, p.id, 3000, &got), ECL_OK);
    assert_int_equal(got.revoked, 2000); /* the first revocation time stays */
    assert_int_equal(ecl_principal_authenticate(e->store, e->kr, key.text, n, &got),
                     ECL_ERR_DENIED);
    got.id[0] = (uint8_t)~p.id[0];
    assert_int_equal(ecl_principal_revoke(e->store, got.id, 1, &q), ECL_ERR_NOT_FOUND);

    /* the name is free again; the list holds both */
    assert_int_equal(ecl_principal_add(e->store, e->kr, "alice", ECL_ROLE_DPO, 4000, &q, &key2),
                     ECL_OK);
    assert_int_equal(ecl_principal_find(e->store, "alice", &got), ECL_OK);
    assert_memory_equal(got.id, q.id, sizeof q.id);
    assert_int_equal(ecl_principal_list(e->store, count_one, &count), ECL_OK);
    assert_int_equal(count, 2);
    ecl_wipe(&key, sizeof key);
    ecl_wipe(&key2, sizeof key2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_key_parse),
        cmocka_unit_test(test_names_and_roles),
        cmocka_unit_test_setup_teardown(test_add_authenticate_revoke, env_setup, env_teardown),
    };
    ecl_crypto_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
