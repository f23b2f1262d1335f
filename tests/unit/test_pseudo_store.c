/* The look-up-by-pseudonym index in LMDB: batched puts, keyed gets, another domain's pseudonym
 * resolves to nothing, and the database file holds no subject key or dataset target in clear. */
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
#include "ecl/transform.h"
#include "store/pseudo.h"
#include "testutil.h"

enum { NSUBJ = 1000 };

struct fixture {
    char *dir;
    struct ecl_keyring *kr;
    struct ecl_store *st;
};

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);

    ecl_crypto_init();
    fx->dir = tu_tmpdir();
    assert_int_equal(ecl_keyring_create(fx->dir, NULL, NULL), ECL_OK);
    assert_int_equal(ecl_keyring_load(fx->dir, NULL, &fx->kr), ECL_OK);
    assert_int_equal(ecl_store_create(fx->dir), ECL_OK);
    assert_int_equal(ecl_store_open(fx->dir, ECL_STORE_DEFAULT, &fx->st), ECL_OK);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;

    ecl_store_close(fx->st);
    ecl_keyring_free(fx->kr);
    tu_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static const struct ecl_field NIR = {
    .name = "nir", .type = ECL_FT_STRING, .normalize = ECL_NORM_DIGITS};

/* The pseudonym an agent receives for subject i, and its index key in the agent's domain. */
static void
disclose(struct ecl_transform_ctx *ctx, const struct ecl_action *act, int i,
         char ps[ECL_PSEUDONYM_MAX_LEN + 1], uint8_t ik[ECL_PSEUDO_INDEX_KEY_LEN])
{
    char nir[32];
    json_t *in;
    json_t *out = NULL;

    snprintf(nir, sizeof nir, "1 85 05 78 %09d", i);
    in = json_string(nir);
    assert_int_equal(ecl_transform_apply(ctx, act, &NIR, in, &out), ECL_OK);
    snprintf(ps, ECL_PSEUDONYM_MAX_LEN + 1, "%s", json_string_value(out));
    assert_int_equal(ecl_transform_pseudo_index_key(ctx, act, ps, strlen(ps), ik), ECL_OK);
    json_decref(in);
    json_decref(out);
}

static void
subject_key(int i, uint8_t out[32])
{
    for (int b = 0; b < 32; b++) {
        out[b] = (uint8_t)(0x5a ^ (i * 31 + b * 7));
    }
    memcpy(out, "SUBJ", 4);
    ecl_put_u32(out + 4, (uint32_t)i);
}

static void
test_put_get(void **state)
{
    struct fixture *fx = *state;
    struct ecl_transform_ctx a;
    struct ecl_transform_ctx b;
    struct ecl_action act = {.kind = ECL_ACT_PSEUDONYMIZE, .domain = ECL_DOMAIN_AGENT_PURPOSE};
    struct ecl_pseudo_entry *e = calloc(NSUBJ, sizeof *e);
    struct ecl_buf *vals = calloc(NSUBJ, sizeof *vals);
    static char ps[NSUBJ][ECL_PSEUDONYM_MAX_LEN + 1];
    struct ecl_buf got;

    assert_non_null(e);
    assert_non_null(vals);
    ecl_transform_ctx_init(&a, fx->kr, "agent-a", "benefits-check", 1718409600);
    ecl_transform_ctx_init(&b, fx->kr, "agent-b", "benefits-check", 1718409600);
    for (int i = 0; i < NSUBJ; i++) {
        struct ecl_pseudo_target t = {.dataset = "citizens", .subject_key_len = 32};
        subject_key(i, t.subject_key);
        disclose(&a, &act, i, ps[i], e[i].key);
        ecl_buf_init(&vals[i], ECL_PSEUDO_VALUE_MAX);
        assert_int_equal(ecl_transform_pseudo_seal(&a, e[i].key, &t, &vals[i]), ECL_OK);
        e[i].dataset = "citizens";
        e[i].val = vals[i].ptr;
        e[i].val_len = vals[i].len;
    }
    /* one transaction for the whole batch; a second put of the same entries changes nothing */
    assert_int_equal(ecl_store_pseudo_put(fx->st, e, NSUBJ), ECL_OK);
    assert_int_equal(ecl_store_pseudo_put(fx->st, e, 10), ECL_OK);
    assert_int_equal(ecl_store_pseudo_put(fx->st, e, 0), ECL_OK);

    ecl_buf_init(&got, ECL_PSEUDO_VALUE_MAX);
    for (int i = 0; i < NSUBJ; i++) {
        uint8_t ik[ECL_PSEUDO_INDEX_KEY_LEN];
        uint8_t want[32];
        struct ecl_pseudo_target t;
        /* the agent presents its pseudonym: one keyed look-up */
        assert_int_equal(ecl_transform_pseudo_index_key(&a, &act, ps[i], strlen(ps[i]), ik),
                         ECL_OK);
        ecl_buf_reset(&got);
        assert_int_equal(ecl_store_pseudo_get(fx->st, ik, "citizens", &got), ECL_OK);
        assert_int_equal(ecl_transform_pseudo_open(&a, ik, got.ptr, got.len, &t), ECL_OK);
        subject_key(i, want);
        assert_string_equal(t.dataset, "citizens");
        assert_int_equal(t.subject_key_len, 32);
        assert_memory_equal(t.subject_key, want, 32);
        /* the same string from another agent (another domain) resolves to nothing */
        assert_int_equal(ecl_transform_pseudo_index_key(&b, &act, ps[i], strlen(ps[i]), ik),
                         ECL_OK);
        ecl_buf_reset(&got);
        assert_int_equal(ecl_store_pseudo_get(fx->st, ik, "citizens", &got), ECL_ERR_NOT_FOUND);
        assert_int_equal(got.len, 0);
    }
    /* the other agent's own pseudonym of subject 0 differs and is not indexed */
    {
        char ps_b[ECL_PSEUDONYM_MAX_LEN + 1];
        uint8_t ik[ECL_PSEUDO_INDEX_KEY_LEN];
        disclose(&b, &act, 0, ps_b, ik);
        assert_string_not_equal(ps_b, ps[0]);
        assert_int_equal(ecl_store_pseudo_get(fx->st, ik, "citizens", &got), ECL_ERR_NOT_FOUND);
    }
    /* another dataset */
    assert_int_equal(ecl_store_pseudo_get(fx->st, e[0].key, "benefits", &got), ECL_ERR_NOT_FOUND);

    /* refusals: a bad entry anywhere writes nothing */
    {
        struct ecl_pseudo_entry bad[2] = {e[0], e[1]};
        uint8_t fresh[ECL_PSEUDO_INDEX_KEY_LEN];
        memset(fresh, 0x77, sizeof fresh);
        memcpy(bad[0].key, fresh, sizeof fresh);
        bad[1].dataset = "";
        assert_int_equal(ecl_store_pseudo_put(fx->st, bad, 2), ECL_ERR_INVALID);
        assert_int_equal(ecl_store_pseudo_get(fx->st, fresh, "citizens", &got), ECL_ERR_NOT_FOUND);
        bad[1] = e[1];
        bad[1].val_len = ECL_PSEUDO_VALUE_MAX + 1;
        assert_int_equal(ecl_store_pseudo_put(fx->st, bad, 2), ECL_ERR_INVALID);
        bad[1].val_len = 0;
        assert_int_equal(ecl_store_pseudo_put(fx->st, bad, 2), ECL_ERR_INVALID);
        assert_int_equal(ecl_store_pseudo_get(fx->st, fresh, "citizens", &got), ECL_ERR_NOT_FOUND);
        assert_int_equal(ecl_store_pseudo_put(fx->st, e, ECL_PSEUDO_PUT_MAX + 1), ECL_ERR_LIMIT);
        assert_int_equal(ecl_store_pseudo_get(fx->st, fresh, NULL, &got), ECL_ERR_INVALID);
    }
    ecl_buf_free(&got);
    for (int i = 0; i < NSUBJ; i++) {
        ecl_buf_free(&vals[i]);
    }
    free(vals);
    free(e);
    ecl_transform_ctx_free(&a);
    ecl_transform_ctx_free(&b);
}

/* Nothing in the index's database file gives away a subject key or a pseudonym. */
static void
test_no_plaintext_on_disk(void **state)
{
    struct fixture *fx = *state;
    char *path = NULL;
    size_t len = 0;
    char *data;
    uint8_t sk[32];
    struct ecl_transform_ctx a;
    struct ecl_action act = {.kind = ECL_ACT_PSEUDONYMIZE, .domain = ECL_DOMAIN_AGENT_PURPOSE};
    char ps[ECL_PSEUDONYM_MAX_LEN + 1];
    uint8_t ik[ECL_PSEUDO_INDEX_KEY_LEN];
    uint8_t tag[ECL_PSEUDONYM_TAG_LEN];
    uint32_t epoch = 0;

    ecl_store_close(fx->st);
    /* the index lives in the audit environment (pseudo.h) */
    assert_true(asprintf(&path, "%s/audit/data.mdb", fx->dir) > 0);
    data = tu_read_file(path, &len);
    ecl_transform_ctx_init(&a, fx->kr, "agent-a", "benefits-check", 1718409600);
    for (int i = 0; i < NSUBJ; i += 97) {
        subject_key(i, sk);
        assert_null(memmem(data, len, sk, 8));
        disclose(&a, &act, i, ps, ik);
        assert_int_equal(ecl_pseudonym_parse(ps, strlen(ps), &epoch, tag), ECL_OK);
        assert_null(memmem(data, len, tag, sizeof tag));
        assert_null(memmem(data, len, ps, strlen(ps)));
        assert_non_null(memmem(data, len, ik, sizeof ik)); /* the index key is the look-up key */
    }
    assert_null(memmem(data, len, "SUBJ", 4));
    ecl_transform_ctx_free(&a);
    free(data);
    free(path);
    assert_int_equal(ecl_store_open(fx->dir, ECL_STORE_DEFAULT, &fx->st), ECL_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_no_plaintext_on_disk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
