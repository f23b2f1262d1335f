/* The lock-free policy holder: readers and a publisher race; under ASan a use-after-free or a
 * leak fails the test, and the reclamation count shows retired policies are really freed. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "assets.h"
#include "policy_holder.h"

enum { READERS = 4, VERSIONS = 150 };

static struct ecl_schema *schemas[2];
static struct ecl_policy_holder *holder;
static atomic_int done;
static const char hash0[] = "0000000000000000000000000000000000000000000000000000000000000000";

static struct ecl_policy *
demo_policy(void)
{
    struct ecl_policy *p = NULL;
    struct ecl_diags d;

    ecl_diags_init(&d);
    assert_int_equal(ecl_policy_parse(ecl_asset_policy, ecl_asset_policy_len,
                                      (const struct ecl_schema *const *)schemas, 2, &d, &p),
                     ECL_OK);
    return p;
}

static void *
reader(void *arg)
{
    struct ecl_policy_facts f = {"service-desk-assistant", "citizen_services", "citizens", 0,
                                 1750000000};
    uint64_t last = 0;
    atomic_size_t *n = arg;

    while (!atomic_load(&done)) {
        const struct ecl_policy_view *v = ecl_policy_holder_acquire(holder);
        struct ecl_decision dec;
        if (v == NULL) {
            continue;
        }
        /* versions never go backwards for one reader */
        if (v->version < last) {
            atomic_store(n, SIZE_MAX);
            ecl_policy_holder_release(holder, v);
            return NULL;
        }
        last = v->version;
        ecl_policy_eval(v->policy, &f, &dec);
        if (dec.effect != ECL_POLICY_ALLOW || dec.nfields != 10) {
            atomic_store(n, SIZE_MAX);
        }
        ecl_policy_holder_release(holder, v);
        if (atomic_load(n) != SIZE_MAX) {
            atomic_fetch_add(n, 1);
        }
    }
    return NULL;
}

static void
test_race(void **state)
{
    pthread_t th[READERS];
    atomic_size_t counts[READERS];
    struct ecl_diags d;
    size_t published = 0;
    size_t live = 0;

    (void)state;
    ecl_diags_init(&d);
    assert_int_equal(
        ecl_schema_parse(ecl_asset_citizens_schema, ecl_asset_citizens_schema_len, &d, &schemas[0]),
        ECL_OK);
    assert_int_equal(
        ecl_schema_parse(ecl_asset_benefits_schema, ecl_asset_benefits_schema_len, &d, &schemas[1]),
        ECL_OK);
    assert_int_equal(ecl_policy_holder_new(&holder), ECL_OK);
    assert_null(ecl_policy_holder_acquire(holder));
    for (int i = 0; i < READERS; i++) {
        atomic_init(&counts[i], 0);
        assert_int_equal(pthread_create(&th[i], NULL, reader, &counts[i]), 0);
    }
    for (uint64_t v = 1; v <= VERSIONS; v++) {
        assert_int_equal(ecl_policy_holder_publish(holder, demo_policy(), v, hash0), ECL_OK);
    }
    /* every reader really raced with the publisher: let each make some reads */
    for (int i = 0; i < READERS; i++) {
        while (atomic_load(&counts[i]) < 100) {
            sched_yield();
        }
    }
    atomic_store(&done, 1);
    for (int i = 0; i < READERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_not_equal(atomic_load(&counts[i]), SIZE_MAX);
    }
    /* every retired policy was freed as soon as nobody held it: only the current one lives */
    ecl_policy_holder_stats(holder, &published, &live);
    assert_int_equal(published, VERSIONS);
    assert_int_equal(live, 1);
    const struct ecl_policy_view *v = ecl_policy_holder_acquire(holder);
    assert_non_null(v);
    assert_int_equal(v->version, VERSIONS);
    /* a held reference keeps a retired policy alive, its release frees it */
    assert_int_equal(ecl_policy_holder_publish(holder, demo_policy(), VERSIONS + 1, hash0), ECL_OK);
    ecl_policy_holder_stats(holder, &published, &live);
    assert_int_equal(live, 2);
    assert_non_null(ecl_policy_rule_count(v->policy) == 8 ? v : NULL);
    ecl_policy_holder_release(holder, v);
    ecl_policy_holder_stats(holder, &published, &live);
    assert_int_equal(live, 1);
    /* a malformed hash is refused and the policy is not leaked */
    assert_int_equal(ecl_policy_holder_publish(holder, demo_policy(), 999, "abc"), ECL_ERR_INVALID);
    ecl_policy_holder_free(holder);
    ecl_schema_free(schemas[0]);
    ecl_schema_free(schemas[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
