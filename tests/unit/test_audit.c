/* The audit writer and reader: group commits, recovery, fake clock, fail-closed sealing, the
 * full queue, listing through blind indexes, proofs from stored nodes, and the verifier on an
 * untouched log.  Tampering is covered by tests/integration/test_audit.py. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "entry.h"
#include "ecl/crypto.h"
#include "testutil.h"

struct env {
    char *dir;
    struct ecl_keyring *kr;
    struct ecl_store *store;
    struct ecl_audit *a;
};

static void
env_open(struct env *e, int create)
{
    if (create) {
        e->dir = tu_tmpdir();
        assert_int_equal(ecl_keyring_create(e->dir, NULL, "test.example/audit"), ECL_OK);
        assert_int_equal(ecl_store_create(e->dir), ECL_OK);
    }
    assert_int_equal(ecl_keyring_load(e->dir, NULL, &e->kr), ECL_OK);
    assert_int_equal(ecl_store_open(e->dir, ECL_STORE_DEFAULT, &e->store), ECL_OK);
    assert_int_equal(ecl_audit_open(e->store, e->kr, &e->a), ECL_OK);
}

static void
env_close(struct env *e, int remove)
{
    ecl_audit_close(e->a);
    ecl_store_close(e->store);
    ecl_keyring_free(e->kr);
    e->a = NULL;
    if (remove) {
        tu_rmtree(e->dir);
        free(e->dir);
    }
}

static uint64_t fake_now;

static uint64_t
fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

static void
event_for(struct ecl_audit_event *ev, const char *principal, const char *const *subjects, size_t n)
{
    static const struct ecl_audit_field fields[] = {{"name", ECL_ACT_MASK},
                                                    {"birth_date", ECL_ACT_GENERALIZE}};
    static const uint8_t digest[32] = {0xab};

    memset(ev, 0, sizeof *ev);
    ev->kind = ECL_AUDIT_RECORD_READ;
    ev->channel = ECL_AUDIT_CH_REST;
    ev->principal = principal;
    ev->role = "agent";
    ev->purpose = "benefit-check";
    ev->dataset = "citizens";
    ev->subjects = subjects;
    ev->nsubjects = n;
    ev->fields = fields;
    ev->nfields = 2;
    ev->policy_version = 3;
    ev->rule_id = "r1";
    ev->decision = ECL_AUDIT_ALLOW;
    ev->reason = "policy.allow";
    ev->request_id = "req-1";
    ev->response_digest = digest;
}

static size_t
verify_failures(struct env *e, enum ecl_audit_verify_flags flags)
{
    struct ecl_buf rep;
    size_t nfail = 99;

    ecl_buf_init(&rep, 1 << 20);
    assert_int_equal(ecl_audit_verify(e->store, e->kr, flags, NULL, 0, &rep, &nfail), ECL_OK);
    if (nfail != 0) {
        fwrite(rep.ptr, 1, rep.len, stderr);
    }
    ecl_buf_free(&rep);
    return nfail;
}

struct counter {
    pthread_mutex_t mu;
    size_t calls;
    size_t ok;
    uint64_t seqs[4096];
};

static void
count_done(void *arg, enum ecl_status st, uint64_t seq)
{
    struct counter *c = arg;

    pthread_mutex_lock(&c->mu);
    if (st == ECL_OK && c->ok < sizeof c->seqs / sizeof c->seqs[0]) {
        c->seqs[c->ok] = seq;
    }
    c->ok += st == ECL_OK;
    c->calls++;
    pthread_mutex_unlock(&c->mu);
}

static void
test_append_recover_read(void **state)
{
    struct env e;
    struct ecl_audit_event ev;
    const char *s1[] = {"1850775123456", "2790199654321"};
    const char *s2[] = {"2790199654321"};
    struct counter c;
    uint64_t seq = 0;
    uint64_t size = 0;
    uint64_t next = 0;
    json_t *items;

    (void)state;
    memset(&e, 0, sizeof e);
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.mu, NULL);
    env_open(&e, 1);
    fake_now = 1700000000000ULL;
    ecl_audit_set_clock(e.a, fake_clock, NULL);
    event_for(&ev, "agent-a", s1, 2);
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_OK);
    assert_int_equal(seq, 0);
    for (int i = 0; i < 100; i++) {
        event_for(&ev, i % 2 ? "agent-a" : "agent-b", i % 3 ? s2 : s1, i % 3 ? 1 : 2);
        assert_int_equal(ecl_audit_submit(e.a, &ev, count_done, &c), ECL_OK);
    }
    env_close(&e, 0); /* drains: every callback has run */
    assert_int_equal(c.calls, 100);
    assert_int_equal(c.ok, 100);
    for (size_t i = 0; i < c.ok; i++) {
        assert_int_equal(c.seqs[i], i + 1); /* queue order is seq order */
    }

    /* recovery: a new writer continues the same tree */
    env_open(&e, 0);
    fake_now = 1600000000000ULL; /* the clock went back: times must not */
    ecl_audit_set_clock(e.a, fake_clock, NULL);
    event_for(&ev, "agent-c", NULL, 0);
    ev.kind = ECL_AUDIT_POLICY_CHANGE;
    ev.decision = ECL_AUDIT_NO_DECISION;
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_OK);
    assert_int_equal(seq, 101);
    assert_int_equal(ecl_audit_tree_size(e.store, &size), ECL_OK);
    assert_int_equal(size, 102);

    struct ecl_audit_entry en;
    assert_int_equal(ecl_audit_entry_get(e.store, e.kr, 101, &en), ECL_OK);
    assert_int_equal(en.time_ms, 1700000000000ULL);
    assert_string_equal(json_string_value(json_object_get(en.payload, "kind")), "policy.change");
    ecl_audit_entry_free(&en);
    assert_int_equal(ecl_audit_entry_get(e.store, e.kr, 0, &en), ECL_OK);
    assert_string_equal(json_string_value(json_object_get(en.payload, "principal")), "agent-a");
    assert_int_equal(json_array_size(json_object_get(en.payload, "subjects")), 2);
    ecl_audit_entry_free(&en);
    assert_int_equal(ecl_audit_entry_get(e.store, e.kr, 102, &en), ECL_ERR_NOT_FOUND);

    /* listing by subject through the blind index: entries 0 and i+1 for i % 3 == 0 */
    struct ecl_audit_filter f;
    memset(&f, 0, sizeof f);
    f.subject = "1850775123456";
    items = json_array();
    assert_int_equal(ecl_audit_list(e.store, e.kr, &f, 0, 1000, items, &next), ECL_OK);
    assert_int_equal(json_array_size(items), 1 + 34);
    assert_int_equal(next, UINT64_MAX);
    json_decref(items);
    /* pagination */
    items = json_array();
    assert_int_equal(ecl_audit_list(e.store, e.kr, &f, 0, 10, items, &next), ECL_OK);
    assert_int_equal(json_array_size(items), 10);
    assert_true(next > 0 && next != UINT64_MAX);
    json_decref(items);
    items = json_array();
    assert_int_equal(ecl_audit_list(e.store, e.kr, &f, next, 1000, items, &next), ECL_OK);
    assert_int_equal(json_array_size(items), 25);
    json_decref(items);
    /* by principal, and a principal with a decision filter */
    memset(&f, 0, sizeof f);
    f.principal = "agent-b";
    items = json_array();
    assert_int_equal(ecl_audit_list(e.store, e.kr, &f, 0, 1000, items, &next), ECL_OK);
    assert_int_equal(json_array_size(items), 50);
    json_decref(items);
    memset(&f, 0, sizeof f);
    f.kind = "policy.change";
    items = json_array();
    assert_int_equal(ecl_audit_list(e.store, e.kr, &f, 0, 1000, items, &next), ECL_OK);
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);
    memset(&f, 0, sizeof f);
    f.subject = "nobody";
    items = json_array();
    assert_int_equal(ecl_audit_list(e.store, e.kr, &f, 0, 1000, items, &next), ECL_OK);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);

    /* proofs from stored nodes verify against the roots of the signed checkpoints */
    uint8_t proof[ECL_MERKLE_MAX_DEPTH][ECL_HASH_LEN];
    uint8_t root[ECL_HASH_LEN];
    uint8_t old_root[ECL_HASH_LEN];
    size_t n = 0;
    assert_int_equal(ecl_audit_root(e.store, size, root), ECL_OK);
    for (uint64_t i = 0; i < size; i += 7) {
        assert_int_equal(ecl_audit_root(e.store, i + 1, old_root), ECL_OK);
        assert_int_equal(ecl_audit_proof_consistency(e.store, i + 1, size, proof, &n), ECL_OK);
        assert_int_equal(ecl_merkle_verify_consistency(i + 1, size, old_root, root,
                                                       (const uint8_t(*)[ECL_HASH_LEN])proof, n),
                         ECL_OK);
    }
    assert_int_equal(ecl_audit_proof_inclusion(e.store, size, size, proof, &n), ECL_ERR_INVALID);
    assert_int_equal(ecl_audit_proof_consistency(e.store, 1, size + 1, proof, &n), ECL_ERR_INVALID);

    assert_int_equal(verify_failures(&e, ECL_AUDIT_VERIFY_PUBLIC), 0);
    assert_int_equal(verify_failures(&e, ECL_AUDIT_VERIFY_DECRYPT), 0);
    env_close(&e, 1);
    pthread_mutex_destroy(&c.mu);
}

static enum ecl_status
hash_leaf(void *arg, uint64_t seq, const uint8_t *leaf, size_t len)
{
    (void)seq;
    ecl_merkle_leaf_hash(leaf, len, arg);
    return ECL_OK;
}

static void
test_inclusion_of_each_leaf(void **state)
{
    struct env e;
    struct ecl_audit_event ev;
    uint8_t proof[ECL_MERKLE_MAX_DEPTH][ECL_HASH_LEN];
    uint8_t root[ECL_HASH_LEN];
    uint8_t lh[ECL_HASH_LEN];
    uint64_t seq;
    size_t n = 0;

    (void)state;
    memset(&e, 0, sizeof e);
    env_open(&e, 1);
    event_for(&ev, "p", NULL, 0);
    for (int i = 0; i < 21; i++) {
        assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_OK);
    }
    for (uint64_t size = 1; size <= 21; size++) {
        assert_int_equal(ecl_audit_root(e.store, size, root), ECL_OK);
        for (uint64_t i = 0; i < size; i++) {
            assert_int_equal(ecl_audit_leaves(e.store, i, i + 1, hash_leaf, lh), ECL_OK);
            assert_int_equal(ecl_audit_proof_inclusion(e.store, i, size, proof, &n), ECL_OK);
            assert_int_equal(ecl_merkle_verify_inclusion(
                                 lh, i, size, (const uint8_t(*)[ECL_HASH_LEN])proof, n, root),
                             ECL_OK);
        }
    }
    assert_int_equal(ecl_audit_leaves(e.store, 20, 22, hash_leaf, lh), ECL_ERR_NOT_FOUND);
    assert_int_equal(ecl_audit_leaves(e.store, 0, ECL_AUDIT_LEAVES_PER_CALL + 1, hash_leaf, lh),
                     ECL_ERR_LIMIT);
    env_close(&e, 1);
}

/* A done callback that holds the writer until released: the queue fills up behind it. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int entered;
};

static void
gate_done(void *arg, enum ecl_status st, uint64_t seq)
{
    struct gate *g = arg;

    (void)st;
    (void)seq;
    pthread_mutex_lock(&g->mu);
    g->entered = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

static void
test_queue_full_refuses(void **state)
{
    struct env e;
    struct ecl_audit_event ev;
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    struct counter *c = calloc(1, sizeof *c);
    size_t accepted = 0;

    (void)state;
    assert_non_null(c);
    pthread_mutex_init(&c->mu, NULL);
    memset(&e, 0, sizeof e);
    env_open(&e, 1);
    event_for(&ev, "p", NULL, 0);
    assert_int_equal(ecl_audit_submit(e.a, &ev, gate_done, &g), ECL_OK);
    pthread_mutex_lock(&g.mu);
    while (!g.entered) {
        pthread_cond_wait(&g.cv, &g.mu);
    }
    pthread_mutex_unlock(&g.mu);
    /* the writer is held: exactly ECL_AUDIT_QUEUE_MAX more fit, the next is refused */
    for (;;) {
        enum ecl_status st = ecl_audit_submit(e.a, &ev, count_done, c);
        if (st != ECL_OK) {
            assert_int_equal(st, ECL_ERR_LIMIT);
            break;
        }
        accepted++;
    }
    assert_int_equal(accepted, ECL_AUDIT_QUEUE_MAX);
    pthread_mutex_lock(&g.mu);
    g.open = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    env_close(&e, 0);
    assert_int_equal(c->calls, ECL_AUDIT_QUEUE_MAX); /* refused ones get no callback */
    assert_int_equal(c->ok, ECL_AUDIT_QUEUE_MAX);
    env_open(&e, 0);
    assert_int_equal(verify_failures(&e, ECL_AUDIT_VERIFY_DECRYPT), 0);
    env_close(&e, 1);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void
test_map_full_seals(void **state)
{
    struct env e;
    struct ecl_audit_event ev;
    const char **subjects = calloc(ECL_AUDIT_SUBJECTS_PER_ENTRY, sizeof *subjects);
    static char ids[ECL_AUDIT_SUBJECTS_PER_ENTRY][200];
    const char *why = NULL;
    enum ecl_status st = ECL_OK;
    uint64_t seq = 0;
    uint64_t last_ok = 0;
    int n = 0;
    const char *prev_map;
    char saved_map[32] = "";
    int had_map;

    (void)state;
    assert_non_null(subjects);
    for (int i = 0; i < ECL_AUDIT_SUBJECTS_PER_ENTRY; i++) {
        memset(ids[i], 'a' + i % 26, sizeof ids[i] - 1);
        snprintf(ids[i], 12, "%011d", i);
        ids[i][11] = 'x';
        subjects[i] = ids[i];
    }
    memset(&e, 0, sizeof e);
    e.dir = tu_tmpdir();
    assert_int_equal(ecl_keyring_create(e.dir, NULL, NULL), ECL_OK);
    assert_int_equal(ecl_store_create(e.dir), ECL_OK);
    /* a 2 MiB map fills quickly; the caller's setting (scripts/memcheck sets a small map that
     * valgrind can reserve) is restored for the tests that follow */
    prev_map = getenv("ECLUSE_AUDIT_MAP_MB");
    had_map = prev_map != NULL;
    if (had_map) {
        snprintf(saved_map, sizeof saved_map, "%s", prev_map);
    }
    setenv("ECLUSE_AUDIT_MAP_MB", "2", 1);
    env_open(&e, 0);
    event_for(&ev, "p", subjects, ECL_AUDIT_SUBJECTS_PER_ENTRY);
    assert_int_equal(ecl_audit_health(e.a, &why), 1);
    while (n++ < 1000) {
        st = ecl_audit_append_sync(e.a, &ev, &seq);
        if (st != ECL_OK) {
            break;
        }
        last_ok = seq;
    }
    assert_int_equal(st, ECL_ERR_FULL);
    assert_int_equal(ecl_audit_health(e.a, &why), 0);
    assert_non_null(why);
    assert_non_null(strstr(why, "full"));
    /* sealed for good: even a tiny entry is refused, no retry */
    event_for(&ev, "p", NULL, 0);
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_ERR_SEALED);
    env_close(&e, 0);
    if (had_map) {
        setenv("ECLUSE_AUDIT_MAP_MB", saved_map, 1);
    } else {
        unsetenv("ECLUSE_AUDIT_MAP_MB");
    }
    /* everything acknowledged is there and verifies; nothing half-written */
    assert_int_equal(ecl_keyring_load(e.dir, NULL, &e.kr), ECL_OK);
    assert_int_equal(ecl_store_open(e.dir, ECL_STORE_READONLY, &e.store), ECL_OK);
    assert_int_equal(ecl_audit_tree_size(e.store, &seq), ECL_OK);
    assert_int_equal(seq, last_ok + 1);
    assert_int_equal(verify_failures(&e, ECL_AUDIT_VERIFY_DECRYPT), 0);
    ecl_store_close(e.store);
    ecl_keyring_free(e.kr);
    tu_rmtree(e.dir);
    free(e.dir);
    free(subjects);
}

/* The look-up-by-pseudonym index rows an event carries are committed in the entry's own
 * transaction: a row exists exactly when its entry does.  Acknowledged entries have all their
 * rows; the entry whose commit failed (full map) has none; an existing row is kept; events with
 * bad rows are refused whole. */
static void
pseudo_rows_fill(struct ecl_audit_pseudo *rows, size_t n, unsigned ev_no, uint8_t fill)
{
    for (size_t i = 0; i < n; i++) {
        memset(&rows[i], 0, sizeof rows[i]);
        rows[i].key[0] = (uint8_t)(ev_no >> 8);
        rows[i].key[1] = (uint8_t)ev_no;
        rows[i].key[2] = (uint8_t)(i >> 8);
        rows[i].key[3] = (uint8_t)i;
        rows[i].val_len = 200;
        memset(rows[i].val, fill, rows[i].val_len);
        rows[i].val[0] = (uint8_t)ev_no;
    }
}

/* Rows of rows[0..n) present with their value: n, or how many are present at all when some
 * are missing (0 when none is). */
static size_t
pseudo_rows_present(struct ecl_store *st, const struct ecl_audit_pseudo *rows, size_t n)
{
    struct ecl_buf b;
    size_t found = 0;

    ecl_buf_init(&b, ECL_PSEUDO_VALUE_MAX);
    for (size_t i = 0; i < n; i++) {
        ecl_buf_reset(&b);
        enum ecl_status gst = ecl_store_pseudo_get(st, rows[i].key, "citizens", &b);
        if (gst == ECL_OK) {
            assert_int_equal(b.len, rows[i].val_len);
            assert_memory_equal(b.ptr, rows[i].val, b.len);
            found++;
        } else {
            assert_int_equal(gst, ECL_ERR_NOT_FOUND);
        }
    }
    ecl_buf_free(&b);
    return found;
}

static void
test_pseudo_rows_with_entry(void **state)
{
    enum { NEV = 64 };
    struct env e;
    struct ecl_audit_event ev;
    struct ecl_audit_pseudo *rows = calloc(ECL_AUDIT_PSEUDO_PER_ENTRY, sizeof *rows);
    struct ecl_audit_pseudo again;
    uint64_t seqs[NEV];
    uint64_t seq = 0;
    uint64_t size = 0;
    enum ecl_status st = ECL_OK;
    unsigned n = 0;

    (void)state;
    assert_non_null(rows);
    memset(&e, 0, sizeof e);
    e.dir = tu_tmpdir();
    assert_int_equal(ecl_keyring_create(e.dir, NULL, NULL), ECL_OK);
    assert_int_equal(ecl_store_create(e.dir), ECL_OK);
    setenv("ECLUSE_AUDIT_MAP_MB", "2", 1);
    env_open(&e, 0);
    event_for(&ev, "p", NULL, 0);

    /* refused whole: too many rows, an empty or oversized value, no dataset */
    pseudo_rows_fill(rows, 2, 999, 0x11);
    ev.pseudo = rows;
    ev.npseudo = ECL_AUDIT_PSEUDO_PER_ENTRY + 1;
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_ERR_INVALID);
    ev.npseudo = 2;
    rows[1].val_len = 0;
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_ERR_INVALID);
    rows[1].val_len = ECL_PSEUDO_VALUE_MAX + 1;
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_ERR_INVALID);
    rows[1].val_len = 200;
    ev.dataset = NULL;
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_ERR_INVALID);
    ev.dataset = "citizens";
    assert_int_equal(pseudo_rows_present(e.store, rows, 2), 0);

    /* an existing row is kept as it is (and the entry still commits) */
    ev.npseudo = 1;
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_OK);
    again = rows[0];
    again.val[1] = 0x99;
    ev.pseudo = &again;
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_OK);
    assert_int_equal(pseudo_rows_present(e.store, rows, 1), 1);

    /* fill the map: every acknowledged entry's rows are there, the failed one's are not */
    ev.pseudo = rows;
    ev.npseudo = ECL_AUDIT_PSEUDO_PER_ENTRY;
    for (n = 0; n < NEV; n++) {
        pseudo_rows_fill(rows, ECL_AUDIT_PSEUDO_PER_ENTRY, n, 0x5a);
        st = ecl_audit_append_sync(e.a, &ev, &seqs[n]);
        if (st != ECL_OK) {
            break;
        }
        assert_int_equal(pseudo_rows_present(e.store, rows, ECL_AUDIT_PSEUDO_PER_ENTRY),
                         ECL_AUDIT_PSEUDO_PER_ENTRY);
    }
    assert_true(n > 0 && n < NEV);
    assert_int_equal(st, ECL_ERR_FULL);
    env_close(&e, 0);
    unsetenv("ECLUSE_AUDIT_MAP_MB");
    assert_int_equal(ecl_keyring_load(e.dir, NULL, &e.kr), ECL_OK);
    assert_int_equal(ecl_store_open(e.dir, ECL_STORE_READONLY, &e.store), ECL_OK);
    assert_int_equal(ecl_audit_tree_size(e.store, &size), ECL_OK);
    assert_int_equal(size, seqs[n - 1] + 1); /* the failed entry is not in the log... */
    assert_int_equal(pseudo_rows_present(e.store, rows, ECL_AUDIT_PSEUDO_PER_ENTRY), 0);
    for (unsigned i = 0; i < n; i++) { /* ...nor its rows; the others' rows survive reopening */
        pseudo_rows_fill(rows, ECL_AUDIT_PSEUDO_PER_ENTRY, i, 0x5a);
        assert_int_equal(pseudo_rows_present(e.store, rows, ECL_AUDIT_PSEUDO_PER_ENTRY),
                         ECL_AUDIT_PSEUDO_PER_ENTRY);
    }
    /* the index is not part of the log: the log still verifies */
    assert_int_equal(verify_failures(&e, ECL_AUDIT_VERIFY_DECRYPT), 0);
    ecl_store_close(e.store);
    ecl_keyring_free(e.kr);
    tu_rmtree(e.dir);
    free(e.dir);
    free(rows);
}

static void
test_invalid_events_refused(void **state)
{
    struct env e;
    struct ecl_audit_event ev;
    const char *bad_utf8[] = {"\xff\xfe"};
    const char *many[ECL_AUDIT_SUBJECTS_PER_ENTRY + 1];
    char long_text[ECL_AUDIT_TEXT_MAX_LEN + 2];
    struct counter c;
    uint64_t seq;

    (void)state;
    memset(&c, 0, sizeof c);
    for (size_t i = 0; i < sizeof many / sizeof many[0]; i++) {
        many[i] = "x";
    }
    memset(long_text, 'a', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = 0;
    memset(&e, 0, sizeof e);
    env_open(&e, 1);
    event_for(&ev, "p", bad_utf8, 1);
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_ERR_INVALID);
    event_for(&ev, "p", many, ECL_AUDIT_SUBJECTS_PER_ENTRY + 1);
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_ERR_INVALID);
    event_for(&ev, "p", many, ECL_AUDIT_SUBJECTS_PER_ENTRY); /* max: accepted (dedup to 1) */
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_OK);
    event_for(&ev, long_text, NULL, 0);
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_ERR_INVALID);
    event_for(&ev, "p", NULL, 0);
    ev.kind = (enum ecl_audit_kind)ECL_AUDIT_KIND_COUNT;
    assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_ERR_INVALID);
    event_for(&ev, "p", NULL, 0);
    assert_int_equal(ecl_audit_submit(e.a, &ev, NULL, NULL), ECL_ERR_INVALID);
    assert_int_equal(ecl_audit_health(e.a, NULL), 1); /* refusing input does not seal */
    env_close(&e, 1);
}

static void
test_identifiers_not_stored_in_clear(void **state)
{
    struct env e;
    struct ecl_audit_event ev;
    const char *subj[] = {"2790199654321"};
    char path[4096];
    char *data;
    size_t len = 0;
    uint64_t seq;

    (void)state;
    memset(&e, 0, sizeof e);
    env_open(&e, 1);
    event_for(&ev, "agent-secret-name", subj, 1);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(ecl_audit_append_sync(e.a, &ev, &seq), ECL_OK);
    }
    env_close(&e, 0);
    snprintf(path, sizeof path, "%s/audit/data.mdb", e.dir);
    data = tu_read_file(path, &len);
    assert_true(len > 0);
    assert_null(memmem(data, len, "2790199654321", 13));
    assert_null(memmem(data, len, "agent-secret-name", 17));
    assert_null(memmem(data, len, "benefit-check", 13));
    free(data);
    tu_rmtree(e.dir);
    free(e.dir);
}

/* Blind-index tokens against Python's hashlib (docs/audit-format.md, "Test vectors"):
 * blake2b(domain || 0x00 || id, digest_size=16, key=audit-index key)[:8]. */
static void
test_token_vectors(void **state)
{
    uint8_t master[ECL_MASTER_KEY_LEN];
    uint8_t key[ECL_KEY_LEN];
    uint8_t want_key[ECL_KEY_LEN];
    uint8_t tok[ECL_AUDIT_TOKEN_LEN];
    uint8_t want[ECL_AUDIT_TOKEN_LEN];

    (void)state;
    for (int i = 0; i < ECL_MASTER_KEY_LEN; i++) {
        master[i] = (uint8_t)i;
    }
    ecl_kdf_derive(master, ECL_KEY_AUDIT_INDEX, 1, key);
    tu_unhex("db4521f5683f149d18b4cd251f1a1be16a769d05c812f2066300534176761128", want_key, 32);
    assert_memory_equal(key, want_key, sizeof key);
    ecl_audit_token(key, ECL_AUDIT_TOK_SUBJECT, "1850775123456", 13, tok);
    tu_unhex("6223b1cd917c56d3", want, sizeof want);
    assert_memory_equal(tok, want, sizeof tok);
    ecl_audit_token(key, ECL_AUDIT_TOK_PRINCIPAL, "agent-a", 7, tok);
    tu_unhex("9eb7118f4995884d", want, sizeof want);
    assert_memory_equal(tok, want, sizeof tok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_recover_read),
        cmocka_unit_test(test_inclusion_of_each_leaf),
        cmocka_unit_test(test_queue_full_refuses),
        cmocka_unit_test(test_map_full_seals),
        cmocka_unit_test(test_pseudo_rows_with_entry),
        cmocka_unit_test(test_invalid_events_refused),
        cmocka_unit_test(test_identifiers_not_stored_in_clear),
        cmocka_unit_test(test_token_vectors),
    };
    ecl_crypto_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
