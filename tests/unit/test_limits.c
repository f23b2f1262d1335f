/* The limit counters rebuilt from a synthetic audit log equal the live ones (gateway/api/
 * limits.h): random requests of two agents on two rules over two UTC days, admitted or refused
 * by the live table, each written as the disclosure path writes it; at many points a fresh table
 * rebuilt from the log must hold exactly the live day counters and live minute windows.  Also:
 * an entry with a malformed "counted" stops the rebuild (fail closed) and names the entry. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/limits.h"
#include "audit/audit.h"
#include "store/audit_db.h"
#include "store/principals.h"
#include "testutil.h"

static int64_t clock_s; /* the writer's clock follows the requests' */

static uint64_t
writer_clock(void *arg)
{
    (void)arg;
    return (uint64_t)clock_s * 1000u + 500u;
}

struct env {
    char *dir;
    struct ecl_keyring *kr;
    struct ecl_store *store;
    struct ecl_audit *audit;
    char ids[2][2 * ECL_PRINCIPAL_ID_LEN + 1];
};

static const char *const agents[2] = {"agent-a", "agent-b"};
static const char *const rules[2] = {"rule-x", "rule-y"};

static void
env_open(struct env *e)
{
    memset(e, 0, sizeof *e);
    e->dir = tu_tmpdir();
    assert_int_equal(ecl_keyring_create(e->dir, NULL, "test.example/limits"), ECL_OK);
    assert_int_equal(ecl_store_create(e->dir), ECL_OK);
    assert_int_equal(ecl_keyring_load(e->dir, NULL, &e->kr), ECL_OK);
    assert_int_equal(ecl_store_open(e->dir, ECL_STORE_DEFAULT, &e->store), ECL_OK);
    for (size_t i = 0; i < 2; i++) {
        struct ecl_principal p;
        struct ecl_api_key key;
        assert_int_equal(ecl_principal_add(e->store, e->kr, agents[i], ECL_ROLE_AGENT, 1, &p, &key),
                         ECL_OK);
        ecl_hex(p.id, sizeof p.id, e->ids[i]);
    }
    /* a rate-limit checkpoint every 5 entries, so that rebuilds load one and replay the rest */
    assert_int_equal(setenv("ECLUSE_AUDIT_TEST_LIMITS_EVERY", "5", 1), 0);
    assert_int_equal(ecl_audit_open(e->store, e->kr, &e->audit), ECL_OK);
    ecl_audit_set_clock(e->audit, writer_clock, NULL);
    {
        /* the writer keeps the counters from the start of the log: seq 0 (log.created) is
         * already there, so its first commit also exercises the catch-up */
        struct ecl_audit_limits *t = NULL;
        assert_int_equal(ecl_audit_limits_new(&t), ECL_OK);
        ecl_audit_limits_seed(e->audit, t, 0);
    }
}

static void
env_close(struct env *e)
{
    ecl_audit_close(e->audit);
    ecl_store_close(e->store);
    ecl_keyring_free(e->kr);
    tu_rmtree(e->dir);
    free(e->dir);
}

static void
write_entry(struct env *e, size_t a, size_t r, int decision_allow,
            const struct ecl_audit_counted *counted)
{
    struct ecl_audit_event ev;
    uint64_t seq = 0;

    memset(&ev, 0, sizeof ev);
    ev.kind = r == 0 ? ECL_AUDIT_RECORD_QUERY : ECL_AUDIT_RECORD_READ;
    ev.channel = a == 0 ? ECL_AUDIT_CH_REST : ECL_AUDIT_CH_MCP;
    ev.principal = e->ids[a];
    ev.role = "agent";
    ev.purpose = "p";
    ev.dataset = "d";
    ev.rule_id = rules[r];
    ev.decision = decision_allow ? ECL_AUDIT_ALLOW : ECL_AUDIT_DENY;
    ev.reason = decision_allow ? "ok" : "rate_limited";
    ev.counted = counted;
    assert_int_equal(ecl_audit_append_sync(e->audit, &ev, &seq), ECL_OK);
}

static size_t from_ckpt; /* rebuilds that loaded a checkpoint */

/* The rebuilt table at now equals the live one where the live one still matters; flags: with
 * or without the checkpoint. */
static void
compare_one(struct env *e, struct ecl_api_limits *live, int64_t now, unsigned flags,
            size_t *nchecked, uint64_t *entries)
{
    struct ecl_api_limits *re = NULL;
    struct ecl_api_limits_rebuilt rb;
    uint64_t bad = 0;
    int64_t day = now - now % ECL_DAY_S;

    assert_int_equal(ecl_api_limits_new(&re), ECL_OK);
    assert_int_equal(ecl_api_limits_rebuild(re, e->store, e->kr, now, flags, &rb, &bad), ECL_OK);
    assert_non_null(rb.seed);
    ecl_audit_limits_free(rb.seed);
    *entries = rb.entries;
    if (flags == 0 && rb.from_checkpoint) {
        from_ckpt++;
    }
    assert_true(flags == 0 || !rb.from_checkpoint);
    for (size_t a = 0; a < 2; a++) {
        for (size_t r = 0; r < 2; r++) {
            struct ecl_api_limit_counter lv;
            struct ecl_api_limit_counter rv;
            int have_l = ecl_api_limits_get(live, agents[a], rules[r], &lv) == ECL_OK;
            int have_r = ecl_api_limits_get(re, agents[a], rules[r], &rv) == ECL_OK;
            uint64_t lday = have_l && lv.day_start == day ? lv.day_count : 0;
            uint64_t rday = have_r && rv.day_start == day ? rv.day_count : 0;
            int lmin = have_l && lv.minute_start + ECL_MINUTE_S > now;
            int rmin = have_r && rv.minute_start + ECL_MINUTE_S > now;
            assert_int_equal(lday, rday);
            assert_int_equal(lmin, rmin);
            if (lmin) {
                assert_int_equal(lv.minute_start, rv.minute_start);
                assert_int_equal(lv.minute_count, rv.minute_count);
                (*nchecked)++;
            }
            *nchecked += lday > 0;
        }
    }
    ecl_api_limits_free(re);
}

static void
compare(struct env *e, struct ecl_api_limits *live, int64_t now, size_t *nchecked)
{
    uint64_t with = 0;
    uint64_t without = 0;

    compare_one(e, live, now, 0, nchecked, &with);
    compare_one(e, live, now, ECL_API_LIMITS_NO_CHECKPOINT, nchecked, &without);
    assert_true(with <= without);
}

static void
test_rebuild_equals_live(void **state)
{
    struct env e;
    struct ecl_api_limits *live = NULL;
    const struct ecl_policy_limits lim[2] = {{10, 3, 40}, {1, 2, 25}};
    uint64_t rng = 0x243F6A8885A308D3u;
    size_t nchecked = 0;
    size_t refused = 0;

    (void)state;
    env_open(&e);
    assert_int_equal(ecl_api_limits_new(&live), ECL_OK);
    /* 21:00 UTC, after the real clock (the log.created entry): the requests cross midnight */
    clock_s = 1899936000 - 3 * 3600;
    for (size_t i = 0; i < 400; i++) {
        size_t a = tu_rand(&rng, 2);
        size_t r = tu_rand(&rng, 2);
        uint64_t want = 1 + tu_rand(&rng, lim[r].records_per_request);
        uint64_t granted = 0;
        int64_t window = 0;
        unsigned retry = 0;
        clock_s += tu_rand(&rng, 3) == 0 ? tu_rand(&rng, 200) : tu_rand(&rng, 25);
        if (ecl_api_limits_admit(live, agents[a], rules[r], &lim[r], clock_s, want, &granted,
                                 &window, &retry) == ECL_OK) {
            /* released: all, some or none of what was granted (a refusal after admission) */
            uint64_t released = tu_rand(&rng, 4) == 0 ? 0 : tu_rand(&rng, (uint32_t)granted + 1);
            struct ecl_audit_counted c = {clock_s, window, released};
            ecl_api_limits_return(live, agents[a], rules[r], clock_s, granted - released);
            write_entry(&e, a, r, released > 0, &c);
        } else {
            assert_true(retry >= 1);
            write_entry(&e, a, r, 0, NULL);
            refused++;
        }
        if (i % 7 == 0) {
            compare(&e, live, clock_s + (int64_t)tu_rand(&rng, 30), &nchecked);
        }
    }
    assert_true(refused > 20); /* both limits were reached along the way */
    assert_true(nchecked > 200);
    assert_true(from_ckpt > 40); /* most rebuilds loaded a checkpoint */
    ecl_api_limits_free(live);
    env_close(&e);
}

static void
test_malformed_counted_fails_closed(void **state)
{
    struct env e;
    struct ecl_api_limits *l = NULL;
    struct ecl_api_limits_rebuilt rb;
    struct ecl_audit_counted good = {0, 0, 2};
    struct ecl_audit_event ev;
    uint64_t seq = 0;
    uint64_t bad = 0;

    (void)state;
    env_open(&e);
    clock_s = 1899940000;
    good.at = clock_s;
    good.window = clock_s;
    write_entry(&e, 0, 0, 1, &good);
    /* "counted" on an entry that is not a read or a query: not written by the gateway */
    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_DATASET_INFO;
    ev.principal = e.ids[0];
    ev.rule_id = rules[0];
    ev.counted = &good;
    assert_int_equal(ecl_audit_append_sync(e.audit, &ev, &seq), ECL_OK);
    write_entry(&e, 1, 1, 1, &good);
    assert_int_equal(ecl_api_limits_new(&l), ECL_OK);
    assert_int_equal(
        ecl_api_limits_rebuild(l, e.store, e.kr, clock_s, ECL_API_LIMITS_NO_CHECKPOINT, &rb, &bad),
        ECL_ERR_INVALID);
    assert_int_equal(bad, seq);
    ecl_api_limits_free(l);
    env_close(&e);
}

/* The checkpoint row as stored (copied into out, *len) or, with put, replaced by out. */
static void
ckpt_row(struct env *e, uint8_t *out, size_t cap, size_t *len, int put)
{
    struct ecl_audit_txn *t = NULL;
    struct ecl_view v = {NULL, 0};
    uint64_t size = 0;

    if (!put) {
        assert_int_equal(ecl_audit_db_begin(e->store, &t), ECL_OK);
        assert_int_equal(ecl_audit_db_get(t, ECL_AUDIT_T_META, "limits", 6, &v), ECL_OK);
        assert_true(v.len <= cap);
        memcpy(out, v.ptr, v.len);
        *len = v.len;
        ecl_audit_db_end(t);
        return;
    }
    {
        struct ecl_audit_db_row row = {
            ECL_AUDIT_T_META, {(const uint8_t *)"limits", 6}, {out, *len}};
        assert_int_equal(ecl_audit_db_begin_write(e->store, &t), ECL_OK);
        assert_int_equal(ecl_audit_db_size(t, &size), ECL_OK);
        assert_int_equal(ecl_audit_db_commit_txn(t, size, size, &row, 1), ECL_OK);
    }
}

/* Rebuilds at now with and without the checkpoint: the same counters for every (agent, rule);
 * returns whether the checkpoint was used. */
static int
same_with_and_without(struct env *e, int64_t now)
{
    struct ecl_api_limits *t[2] = {NULL, NULL};
    struct ecl_api_limits_rebuilt rb[2];
    uint64_t bad = 0;

    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(ecl_api_limits_new(&t[i]), ECL_OK);
        assert_int_equal(ecl_api_limits_rebuild(t[i], e->store, e->kr, now,
                                                i == 0 ? 0 : ECL_API_LIMITS_NO_CHECKPOINT, &rb[i],
                                                &bad),
                         ECL_OK);
        ecl_audit_limits_free(rb[i].seed);
    }
    for (size_t a = 0; a < 2; a++) {
        for (size_t r = 0; r < 2; r++) {
            struct ecl_api_limit_counter v[2];
            int have[2];
            for (unsigned i = 0; i < 2; i++) {
                have[i] = ecl_api_limits_get(t[i], agents[a], rules[r], &v[i]) == ECL_OK;
                if (!have[i]) {
                    memset(&v[i], 0, sizeof v[i]);
                }
            }
            assert_int_equal(v[0].day_count, v[1].day_count);
            assert_int_equal(v[0].minute_count, v[1].minute_count);
            if (v[0].minute_count > 0) {
                assert_int_equal(v[0].minute_start, v[1].minute_start);
            }
        }
    }
    ecl_api_limits_free(t[0]);
    ecl_api_limits_free(t[1]);
    assert_int_equal(rb[1].from_checkpoint, 0);
    return rb[0].from_checkpoint;
}

static void
test_tampered_checkpoint_fails_closed(void **state)
{
    struct env e;
    struct ecl_api_limits *l = NULL;
    struct ecl_api_limits_rebuilt rb;
    static uint8_t row[1 << 16];
    static uint8_t orig[1 << 16];
    size_t len = 0;
    uint64_t bad = 0;

    (void)state;
    env_open(&e);
    clock_s = 1899940000;
    for (size_t i = 0; i < 6; i++) {
        struct ecl_audit_counted c = {clock_s, clock_s, 1};
        write_entry(&e, i % 2, 1, 1, &c);
    }
    assert_true(same_with_and_without(&e, clock_s + 1));
    ckpt_row(&e, orig, sizeof orig, &len, 0);
    assert_true(len > 16 + 40);
    assert_memory_equal(orig, "ECLL", 4);
    /* a ciphertext byte, the covered seq (associated data), the magic: all fail closed */
    for (size_t k = 0; k < 3; k++) {
        size_t at = k == 0 ? 16 + 30 : (k == 1 ? 15 : 0);
        memcpy(row, orig, len);
        row[at] ^= 0x01;
        ckpt_row(&e, row, sizeof row, &len, 1);
        assert_int_equal(ecl_api_limits_new(&l), ECL_OK);
        bad = 0;
        assert_int_equal(ecl_api_limits_rebuild(l, e.store, e.kr, clock_s + 1, 0, &rb, &bad),
                         ECL_ERR_CRYPTO);
        assert_int_equal(bad, ECL_API_LIMITS_BAD_CHECKPOINT);
        ecl_api_limits_free(l);
    }
    /* a truncated row too */
    len = 10;
    ckpt_row(&e, orig, sizeof orig, &len, 1);
    assert_int_equal(ecl_api_limits_new(&l), ECL_OK);
    assert_int_equal(ecl_api_limits_rebuild(l, e.store, e.kr, clock_s + 1, 0, &rb, &bad),
                     ECL_ERR_CRYPTO);
    ecl_api_limits_free(l);
    /* ignoring it, the day's walk still works */
    assert_int_equal(ecl_api_limits_new(&l), ECL_OK);
    assert_int_equal(ecl_api_limits_rebuild(l, e.store, e.kr, clock_s + 1,
                                            ECL_API_LIMITS_NO_CHECKPOINT, &rb, &bad),
                     ECL_OK);
    ecl_audit_limits_free(rb.seed);
    ecl_api_limits_free(l);
    env_close(&e);
}

static void
test_checkpoint_ahead_of_the_clock_is_ignored(void **state)
{
    struct env e;

    (void)state;
    env_open(&e);
    clock_s = 1899940000;
    for (size_t i = 0; i < 6; i++) {
        struct ecl_audit_counted c = {clock_s + (int64_t)i * 30, clock_s + (int64_t)i * 30, 2};
        write_entry(&e, 0, i % 2, 1, &c);
    }
    /* the clock went back before requests the checkpoint counted: the day's walk instead */
    assert_false(same_with_and_without(&e, clock_s + 40));
    assert_true(same_with_and_without(&e, clock_s + 200));
    env_close(&e);
}

static void
test_checkpoint_covers_other_writers(void **state)
{
    struct env e;
    struct ecl_audit *mine;
    struct ecl_audit *other = NULL;
    struct ecl_api_limits *l = NULL;
    struct ecl_api_limits_rebuilt rb;
    uint64_t bad = 0;
    uint64_t size = 0;

    (void)state;
    env_open(&e);
    clock_s = 1899940000;
    write_entry(&e, 0, 0, 1, &(struct ecl_audit_counted){clock_s, clock_s, 3});
    /* another process's writer (an ecluse command next to the server) is never seeded */
    assert_int_equal(ecl_audit_open(e.store, e.kr, &other), ECL_OK);
    ecl_audit_set_clock(other, writer_clock, NULL);
    mine = e.audit;
    e.audit = other;
    for (size_t i = 0; i < 7; i++) {
        struct ecl_audit_counted c = {clock_s + 1, clock_s, 4};
        write_entry(&e, 1, i % 2, 1, &c);
    }
    e.audit = mine;
    ecl_audit_close(other);
    /* the seeded writer folds them into its counters before its next checkpoint */
    write_entry(&e, 0, 0, 1, &(struct ecl_audit_counted){clock_s + 2, clock_s, 1});
    assert_int_equal(ecl_audit_tree_size(e.store, &size), ECL_OK);
    assert_int_equal(ecl_api_limits_new(&l), ECL_OK);
    assert_int_equal(ecl_api_limits_rebuild(l, e.store, e.kr, clock_s + 3, 0, &rb, &bad), ECL_OK);
    assert_true(rb.from_checkpoint);
    assert_int_equal(rb.checkpoint_next, size);
    assert_int_equal(rb.entries, 0); /* nothing after it to replay */
    ecl_audit_limits_free(rb.seed);
    {
        struct ecl_api_limit_counter v;
        assert_int_equal(ecl_api_limits_get(l, agents[1], rules[0], &v), ECL_OK);
        assert_int_equal(v.day_count, 16);
        assert_int_equal(ecl_api_limits_get(l, agents[0], rules[0], &v), ECL_OK);
        assert_int_equal(v.day_count, 4);
        assert_int_equal(v.minute_count, 2);
    }
    ecl_api_limits_free(l);
    assert_true(same_with_and_without(&e, clock_s + 3));
    env_close(&e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rebuild_equals_live),
        cmocka_unit_test(test_malformed_counted_fails_closed),
        cmocka_unit_test(test_tampered_checkpoint_fails_closed),
        cmocka_unit_test(test_checkpoint_ahead_of_the_clock_is_ignored),
        cmocka_unit_test(test_checkpoint_covers_other_writers),
    };
    ecl_crypto_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
