/* Record sealing (crypto/record.c) and the record store (gateway/store/records.c):
 * known-answer vectors, associated-data binding (a ciphertext or a wrapped key copied onto
 * another record does not open), tampering, paging, objections, erasure, upsert. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecl/crypto.h"
#include "store/records.h"
#include "store/store_internal.h"
#include "testutil.h"

/* ---- known answers ------------------------------------------------------------------------- */

static size_t
unhex_opt(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strcmp(hex, "-") == 0 ? 0 : strlen(hex) / 2;
    assert_true(n <= cap);
    if (n > 0) {
        tu_unhex(hex, out, n);
    }
    return n;
}

static void
test_vectors(void **state)
{
    char *path = tu_vector_path("record.txt");
    FILE *f = fopen(path, "r");
    char kind[16];
    char keyhex[65];
    char ds[65];
    char field[65];
    char inhex[1024];
    char outhex[129];
    int subjects = 0;
    int indexes = 0;

    (void)state;
    assert_non_null(f);
    while (fscanf(f, "%15s %64s", kind, keyhex) == 2) {
        uint8_t key[ECL_KEY_LEN];
        uint8_t in[512];
        uint8_t want[ECL_SUBJECT_KEY_LEN];
        uint8_t got[ECL_SUBJECT_KEY_LEN];
        size_t n;

        tu_unhex(keyhex, key, sizeof key);
        if (strcmp(kind, "subject") == 0) {
            assert_int_equal(fscanf(f, "%1023s %128s", inhex, outhex), 2);
            n = unhex_opt(inhex, in, sizeof in);
            tu_unhex(outhex, want, ECL_SUBJECT_KEY_LEN);
            ecl_record_subject_key(key, (const char *)in, n, got);
            assert_memory_equal(got, want, ECL_SUBJECT_KEY_LEN);
            subjects++;
        } else {
            assert_string_equal(kind, "index");
            assert_int_equal(fscanf(f, "%64s %64s %1023s %128s", ds, field, inhex, outhex), 4);
            n = unhex_opt(inhex, in, sizeof in);
            tu_unhex(outhex, want, ECL_BLIND_INDEX_LEN);
            ecl_record_blind_index(key, ds, field, (const char *)in, n, got);
            assert_memory_equal(got, want, ECL_BLIND_INDEX_LEN);
            indexes++;
        }
    }
    fclose(f);
    free(path);
    assert_int_equal(subjects, 10);
    assert_int_equal(indexes, 10);
}

/* ---- wrapping and sealing ------------------------------------------------------------------ */

static void
test_key_wrap_binding(void **state)
{
    uint8_t kek[ECL_KEY_LEN];
    uint8_t kek2[ECL_KEY_LEN];
    uint8_t dk[ECL_KEY_LEN];
    uint8_t got[ECL_KEY_LEN];
    uint8_t a[ECL_SUBJECT_KEY_LEN];
    uint8_t b[ECL_SUBJECT_KEY_LEN];
    uint8_t w[ECL_WRAPPED_KEY_LEN];
    uint8_t w2[ECL_WRAPPED_KEY_LEN];
    uint32_t v = 0;

    (void)state;
    ecl_crypto_random(kek, sizeof kek);
    ecl_crypto_random(kek2, sizeof kek2);
    ecl_crypto_random(a, sizeof a);
    memcpy(b, a, sizeof b);
    b[31] ^= 1;
    ecl_record_datakey_new(dk);
    ecl_record_key_wrap(kek, 7, "citizens", a, dk, w);
    assert_int_equal(ecl_record_key_version(w, sizeof w, &v), ECL_OK);
    assert_int_equal(v, 7);
    assert_int_equal(ecl_record_key_unwrap(kek, "citizens", a, w, sizeof w, got), ECL_OK);
    assert_memory_equal(got, dk, ECL_KEY_LEN);
    /* each binding refuses: subject, dataset, KEK */
    memset(got, 0xaa, sizeof got);
    assert_int_equal(ecl_record_key_unwrap(kek, "citizens", b, w, sizeof w, got), ECL_ERR_CRYPTO);
    assert_int_equal(ecl_record_key_unwrap(kek, "benefits", a, w, sizeof w, got), ECL_ERR_CRYPTO);
    assert_int_equal(ecl_record_key_unwrap(kek2, "citizens", a, w, sizeof w, got), ECL_ERR_CRYPTO);
    for (size_t i = 0; i < sizeof got; i++) {
        assert_int_equal(got[i], 0xaa); /* out untouched on failure */
    }
    /* the KEK version is bound: rewriting it in the header breaks the tag */
    memcpy(w2, w, sizeof w);
    ecl_put_u32(w2 + 1, 8);
    assert_int_equal(ecl_record_key_unwrap(kek, "citizens", a, w2, sizeof w2, got), ECL_ERR_CRYPTO);
    /* every byte of nonce, ciphertext and tag is authenticated */
    for (size_t i = ECL_RECORD_HEADER_LEN; i < sizeof w; i++) {
        memcpy(w2, w, sizeof w);
        w2[i] ^= 0x01;
        assert_int_equal(ecl_record_key_unwrap(kek, "citizens", a, w2, sizeof w2, got),
                         ECL_ERR_CRYPTO);
    }
    /* malformed blobs */
    memcpy(w2, w, sizeof w);
    w2[0] = 2;
    assert_int_equal(ecl_record_key_unwrap(kek, "citizens", a, w2, sizeof w2, got),
                     ECL_ERR_INVALID);
    assert_int_equal(ecl_record_key_unwrap(kek, "citizens", a, w, sizeof w - 1, got),
                     ECL_ERR_INVALID);
    /* two wraps of the same key differ (random nonce) */
    ecl_record_key_wrap(kek, 7, "citizens", a, dk, w2);
    assert_memory_not_equal(w, w2, sizeof w);
}

static void
test_seal_binding(void **state)
{
    static const char msg[] = "{\"nir\":\"185017512345678\"}";
    uint8_t dk[ECL_KEY_LEN];
    uint8_t dk2[ECL_KEY_LEN];
    uint8_t a[ECL_SUBJECT_KEY_LEN];
    uint8_t b[ECL_SUBJECT_KEY_LEN];
    struct ecl_buf sealed;
    struct ecl_buf plain;
    struct ecl_buf t;

    (void)state;
    ecl_record_datakey_new(dk);
    ecl_record_datakey_new(dk2);
    ecl_crypto_random(a, sizeof a);
    ecl_crypto_random(b, sizeof b);
    ecl_buf_init(&sealed, 4096);
    ecl_buf_init(&plain, 4096);
    ecl_buf_init(&t, 4096);
    assert_int_equal(ecl_record_seal(ECL_SEALED_RECORD, dk, 3, "citizens", a, (const uint8_t *)msg,
                                     strlen(msg), &sealed),
                     ECL_OK);
    assert_int_equal(sealed.len, strlen(msg) + ECL_SEALED_OVERHEAD);
    assert_null(memmem(sealed.ptr, sealed.len, "185017512345678", 15));
    assert_int_equal(ecl_get_u32(sealed.ptr + 1), 3);
    assert_int_equal(
        ecl_record_open(ECL_SEALED_RECORD, dk, "citizens", a, sealed.ptr, sealed.len, &plain),
        ECL_OK);
    assert_int_equal(plain.len, strlen(msg));
    assert_memory_equal(plain.ptr, msg, plain.len);
    ecl_buf_reset(&plain);
    /* another subject, dataset, kind or key: refused, nothing appended */
    assert_int_equal(
        ecl_record_open(ECL_SEALED_RECORD, dk, "citizens", b, sealed.ptr, sealed.len, &plain),
        ECL_ERR_CRYPTO);
    assert_int_equal(
        ecl_record_open(ECL_SEALED_RECORD, dk, "benefits", a, sealed.ptr, sealed.len, &plain),
        ECL_ERR_CRYPTO);
    assert_int_equal(
        ecl_record_open(ECL_SEALED_OBJECTIONS, dk, "citizens", a, sealed.ptr, sealed.len, &plain),
        ECL_ERR_CRYPTO);
    assert_int_equal(
        ecl_record_open(ECL_SEALED_RECORD, dk2, "citizens", a, sealed.ptr, sealed.len, &plain),
        ECL_ERR_CRYPTO);
    assert_int_equal(plain.len, 0);
    /* the subject-index key version in the header is bound */
    assert_int_equal(ecl_buf_append(&t, sealed.ptr, sealed.len), ECL_OK);
    ecl_put_u32(t.ptr + 1, 4);
    assert_int_equal(ecl_record_open(ECL_SEALED_RECORD, dk, "citizens", a, t.ptr, t.len, &plain),
                     ECL_ERR_CRYPTO);
    /* every byte flipped, and every truncation, is refused */
    for (size_t i = 0; i < sealed.len; i++) {
        memcpy(t.ptr, sealed.ptr, sealed.len);
        t.ptr[i] ^= 0x80;
        assert_int_equal(
            ecl_record_open(ECL_SEALED_RECORD, dk, "citizens", a, t.ptr, sealed.len, &plain),
            ECL_ERR_CRYPTO);
    }
    for (size_t n = 0; n < sealed.len; n++) {
        assert_int_equal(
            ecl_record_open(ECL_SEALED_RECORD, dk, "citizens", a, sealed.ptr, n, &plain),
            ECL_ERR_CRYPTO);
    }
    assert_int_equal(plain.len, 0);
    ecl_buf_free(&sealed);
    ecl_buf_free(&plain);
    ecl_buf_free(&t);
}

/* ---- the store ----------------------------------------------------------------------------- */

static const char schema_a[] =
    "{\"name\":\"people\",\"subject_id\":\"id\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"string\",\"classification\":\"identifier\","
    "\"normalize\":\"digits\"},"
    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"identifier\",\"indexed\":true},"
    "{\"name\":\"town\",\"type\":\"string\",\"classification\":\"quasi_identifier\","
    "\"indexed\":true,\"normalize\":\"alnum_upper\"},"
    "{\"name\":\"age\",\"type\":\"integer\",\"classification\":\"quasi_identifier\","
    "\"indexed\":true}]}";
static const char schema_b[] =
    "{\"name\":\"other\",\"subject_id\":\"id\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"string\",\"classification\":\"identifier\","
    "\"normalize\":\"digits\"},"
    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"identifier\"}]}";

struct fixture {
    char *dir;
    struct ecl_keyring *kr;
    struct ecl_store *store;
    struct ecl_records *rec;
};

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    struct ecl_diags d;

    assert_non_null(fx);
    fx->dir = tu_tmpdir();
    assert_int_equal(ecl_keyring_create(fx->dir, NULL, NULL), ECL_OK);
    assert_int_equal(ecl_store_create(fx->dir), ECL_OK);
    assert_int_equal(ecl_keyring_load(fx->dir, NULL, &fx->kr), ECL_OK);
    assert_int_equal(ecl_store_open(fx->dir, ECL_STORE_DEFAULT, &fx->store), ECL_OK);
    assert_int_equal(ecl_records_open(fx->store, fx->kr, &fx->rec), ECL_OK);
    ecl_diags_init(&d);
    assert_int_equal(ecl_records_dataset_create(fx->rec, schema_a, strlen(schema_a), &d, NULL),
                     ECL_OK);
    assert_int_equal(ecl_records_dataset_create(fx->rec, schema_b, strlen(schema_b), &d, NULL),
                     ECL_OK);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;

    ecl_records_close(fx->rec);
    ecl_store_close(fx->store);
    ecl_keyring_free(fx->kr);
    tu_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* Imports JSON Lines text; returns the status and fills err. */
static enum ecl_status
import(struct fixture *fx, const char *dataset, const char *text, struct ecl_import_error *err,
       struct ecl_import_result *res)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    enum ecl_status st;

    assert_non_null(f);
    st = ecl_records_import(fx->rec, dataset, f, ECL_IMPORT_JSONL, NULL, NULL, err, res);
    fclose(f);
    return st;
}

static void
skey_of(struct fixture *fx, const char *dataset, const char *id, uint8_t out[32])
{
    const struct ecl_schema *s = NULL;

    assert_int_equal(ecl_records_dataset_get(fx->rec, dataset, &s), ECL_OK);
    assert_int_equal(ecl_records_subject_key(fx->rec, s, id, strlen(id), out), ECL_OK);
}

/* Overwrites dbi[dataset || 0 || dst] with the value of dbi[dataset' || 0 || src]. */
static void
copy_value(struct fixture *fx, MDB_dbi dbi, const char *from_ds, const uint8_t *src,
           const char *to_ds, const uint8_t *dst)
{
    uint8_t kf[128];
    uint8_t kt[128];
    size_t nf = strlen(from_ds) + 1;
    size_t nt = strlen(to_ds) + 1;
    MDB_txn *txn = NULL;
    MDB_val k;
    MDB_val v;
    uint8_t copy[4096];

    memcpy(kf, from_ds, nf);
    memcpy(kf + nf, src, 32);
    memcpy(kt, to_ds, nt);
    memcpy(kt + nt, dst, 32);
    assert_int_equal(mdb_txn_begin(fx->store->rec_env, NULL, 0, &txn), 0);
    k.mv_size = nf + 32;
    k.mv_data = kf;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    assert_true(v.mv_size <= sizeof copy);
    memcpy(copy, v.mv_data, v.mv_size);
    v.mv_data = copy;
    k.mv_size = nt + 32;
    k.mv_data = kt;
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static void
test_moved_ciphertext_fails(void **state)
{
    struct fixture *fx = *state;
    struct ecl_import_error err;
    struct ecl_import_result res;
    uint8_t a[32];
    uint8_t b[32];
    json_t *rec = NULL;

    assert_int_equal(import(fx, "people",
                            "{\"id\":\"1\",\"name\":\"Alice\",\"town\":\"Brest\",\"age\":30}\n"
                            "{\"id\":\"2\",\"name\":\"Bob\",\"town\":\"Paris\",\"age\":40}\n",
                            &err, &res),
                     ECL_OK);
    assert_int_equal(import(fx, "other", "{\"id\":\"1\",\"name\":\"Alice\"}\n", &err, &res),
                     ECL_OK);
    skey_of(fx, "people", "1", a);
    skey_of(fx, "people", "2", b);
    assert_int_equal(ecl_records_get(fx->rec, "people", b, &rec), ECL_OK);
    assert_string_equal(json_string_value(json_object_get(rec, "name")), "Bob");
    json_decref(rec);

    /* the sealed record of A copied onto B: B's data key and subject key do not open it */
    copy_value(fx, fx->store->records, "people", a, "people", b);
    assert_int_equal(ecl_records_get(fx->rec, "people", b, &rec), ECL_ERR_CRYPTO);
    /* A's wrapped key copied onto B as well: the wrap is bound to A's subject key */
    copy_value(fx, fx->store->datakeys, "people", a, "people", b);
    assert_int_equal(ecl_records_get(fx->rec, "people", b, &rec), ECL_ERR_CRYPTO);
    /* the same subject in another dataset: the dataset name is bound */
    copy_value(fx, fx->store->records, "people", a, "other", a);
    assert_int_equal(ecl_records_get(fx->rec, "other", a, &rec), ECL_ERR_CRYPTO);
    copy_value(fx, fx->store->datakeys, "people", a, "other", a);
    assert_int_equal(ecl_records_get(fx->rec, "other", a, &rec), ECL_ERR_CRYPTO);
    /* A itself is intact */
    assert_int_equal(ecl_records_get(fx->rec, "people", a, &rec), ECL_OK);
    json_decref(rec);
    /* an upsert of B refuses to overwrite a record it cannot authenticate: nothing changes */
    assert_int_equal(import(fx, "people", "{\"id\":\"2\",\"name\":\"Bob2\"}\n", &err, &res),
                     ECL_ERR_CRYPTO);
    assert_int_equal(err.line, 1);
    /* erasure still removes B's index entries (by a sweep, since its values are unreadable) */
    struct ecl_erase_result er;
    uint8_t keys[4][32];
    size_t n = 0;
    assert_int_equal(ecl_records_erase(fx->rec, "people", b, &er), ECL_OK);
    assert_int_equal(er.index_entries, 3);
    assert_true(er.record && er.data_key);
    assert_int_equal(ecl_records_lookup(fx->rec, "people", "name", "Bob", 3, NULL, 4, keys, &n),
                     ECL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ecl_records_lookup(fx->rec, "people", "name", "Alice", 5, NULL, 4, keys, &n),
                     ECL_OK);
    assert_int_equal(n, 1);
    assert_memory_equal(keys[0], a, 32);
}

static int
cmp32(const void *x, const void *y)
{
    return memcmp(x, y, 32);
}

static void
test_scan_and_lookup_pages(void **state)
{
    struct fixture *fx = *state;
    struct ecl_import_error err;
    struct ecl_import_result res;
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    uint8_t all[30][32];
    uint8_t page[10][32];
    uint8_t want[30][32];
    size_t n = 0;
    size_t total = 0;
    uint64_t count = 0;

    assert_non_null(m);
    for (int i = 0; i < 30; i++) {
        fprintf(m, "{\"id\":\"%d\",\"name\":\"N%d\",\"town\":\"%s\",\"age\":%d}\n", 100 + i, i,
                i % 3 == 0 ? "saint-lo" : "Caen", i % 2);
    }
    fclose(m);
    assert_int_equal(import(fx, "people", text, &err, &res), ECL_OK);
    free(text);
    assert_int_equal(res.inserted, 30);
    assert_int_equal(ecl_records_count(fx->rec, "people", &count), ECL_OK);
    assert_int_equal(count, 30);
    for (int i = 0; i < 30; i++) {
        char id[8];
        snprintf(id, sizeof id, "%d", 100 + i);
        skey_of(fx, "people", id, want[i]);
    }
    qsort(want, 30, 32, cmp32);
    /* scan in pages of 10: 10, 10, 10, then 0; in byte order, nothing twice */
    for (int p = 0; p < 4; p++) {
        assert_int_equal(
            ecl_records_scan(fx->rec, "people", total ? all[total - 1] : NULL, 10, page, &n),
            ECL_OK);
        assert_int_equal(n, p < 3 ? 10 : 0);
        memcpy(all[total], page, n * 32);
        total += n;
    }
    assert_memory_equal(all, want, sizeof want);
    assert_int_equal(ecl_records_scan(fx->rec, "people", NULL, ECL_RECORDS_PAGE_MAX + 1, page, &n),
                     ECL_ERR_LIMIT);
    /* look-up through the normalised value: "SAINT LO", "Saint-Lô"... alnum_upper folds
     * spaces, '-' and ASCII case */
    total = 0;
    for (int p = 0; p < 3; p++) {
        assert_int_equal(ecl_records_lookup(fx->rec, "people", "town", " Saint lo", 9,
                                            total ? all[total - 1] : NULL, 4, page, &n),
                         ECL_OK);
        memcpy(all[total], page, n * 32);
        total += n;
    }
    assert_int_equal(total, 10);
    for (size_t i = 1; i < total; i++) {
        assert_true(memcmp(all[i - 1], all[i], 32) < 0);
    }
    /* integer fields are indexed by their decimal text */
    assert_int_equal(ecl_records_lookup(fx->rec, "people", "age", "1", 1, NULL, 10, page, &n),
                     ECL_OK);
    assert_int_equal(n, 10);
    assert_int_equal(ecl_records_lookup(fx->rec, "other", "nosuch", "x", 1, NULL, 10, page, &n),
                     ECL_ERR_NOT_FOUND);
    assert_int_equal(ecl_records_lookup(fx->rec, "people", "id", "1", 1, NULL, 10, page, &n),
                     ECL_ERR_INVALID);
    assert_int_equal(ecl_records_scan(fx->rec, "nosuch", NULL, 10, page, &n), ECL_ERR_NOT_FOUND);
}

static void
test_batch_rules(void **state)
{
    struct fixture *fx = *state;
    struct ecl_import_error err;
    struct ecl_import_result res;
    uint64_t count = 7;

    /* the same subject twice (after normalisation) is refused, with both lines */
    assert_int_equal(import(fx, "people",
                            "{\"id\":\"12\",\"name\":\"A\"}\n\n{\"id\":\"3\",\"name\":\"B\"}\n"
                            "{\"id\":\"1-2\",\"name\":\"C\"}\n",
                            &err, &res),
                     ECL_ERR_CONFLICT);
    assert_int_equal(err.line, 4);
    assert_int_equal(err.other_line, 1);
    assert_string_equal(err.field, "id");
    assert_int_equal(ecl_records_count(fx->rec, "people", &count), ECL_OK);
    assert_int_equal(count, 0);
    /* an identifier empty once normalised */
    assert_int_equal(import(fx, "people", "{\"id\":\"abc\",\"name\":\"A\"}\n", &err, &res),
                     ECL_ERR_INVALID);
    assert_string_equal(err.field, "id");
    /* an unknown field whose name is not a field name is not echoed */
    assert_int_equal(import(fx, "people", "{\"id\":\"1\",\"Jean Dupont\":1}\n", &err, &res),
                     ECL_ERR_INVALID);
    assert_string_equal(err.field, "");
    /* upsert keeps one record, replaces the index entries */
    assert_int_equal(import(fx, "people", "{\"id\":\"5\",\"name\":\"Old\"}\n", &err, &res), ECL_OK);
    assert_int_equal(import(fx, "people", "{\"id\":\"5\",\"name\":\"New\"}\n", &err, &res), ECL_OK);
    assert_int_equal(res.updated, 1);
    assert_int_equal(res.inserted, 0);
    uint8_t page[4][32];
    size_t n = 9;
    assert_int_equal(ecl_records_lookup(fx->rec, "people", "name", "Old", 3, NULL, 4, page, &n),
                     ECL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ecl_records_lookup(fx->rec, "people", "name", "New", 3, NULL, 4, page, &n),
                     ECL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ecl_records_count(fx->rec, "people", &count), ECL_OK);
    assert_int_equal(count, 1);
}

static void
test_objections_and_erase(void **state)
{
    struct fixture *fx = *state;
    struct ecl_import_error err;
    struct ecl_import_result res;
    struct ecl_purposes p;
    struct ecl_erase_result er;
    enum ecl_change ch;
    uint8_t a[32];
    uint8_t ghost[32];
    json_t *rec = NULL;
    char name[16];

    assert_int_equal(
        import(fx, "people", "{\"id\":\"7\",\"name\":\"Eve\",\"town\":\"Gap\"}\n", &err, &res),
        ECL_OK);
    skey_of(fx, "people", "7", a);
    skey_of(fx, "people", "8", ghost);
    assert_int_equal(ecl_records_objections_get(fx->rec, "people", a, &p), ECL_OK);
    assert_int_equal(p.n, 0);
    /* the disclosure path's read: record and objections in one snapshot */
    json_t *got = NULL;
    p.n = 99;
    assert_int_equal(ecl_records_get_checked(fx->rec, "people", a, &got, &p), ECL_OK);
    assert_int_equal(p.n, 0);
    assert_non_null(got);
    json_decref(got);
    got = NULL;
    assert_int_equal(ecl_records_get_checked(fx->rec, "people", ghost, &got, &p),
                     ECL_ERR_NOT_FOUND);
    assert_null(got);
    assert_int_equal(
        ecl_records_objection_set(fx->rec, "people", a, ECL_OBJECTION_ADD, "zeta", &ch), ECL_OK);
    assert_int_equal(ch, ECL_CHANGED);
    assert_int_equal(
        ecl_records_objection_set(fx->rec, "people", a, ECL_OBJECTION_ADD, "alpha", &ch), ECL_OK);
    assert_int_equal(
        ecl_records_objection_set(fx->rec, "people", a, ECL_OBJECTION_ADD, "zeta", &ch), ECL_OK);
    assert_int_equal(ch, ECL_UNCHANGED);
    assert_int_equal(ecl_records_objections_get(fx->rec, "people", a, &p), ECL_OK);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.names[0], "alpha");
    assert_string_equal(p.names[1], "zeta");
    assert_int_equal(ecl_records_get_checked(fx->rec, "people", a, &got, &p), ECL_OK);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.names[0], "alpha");
    assert_non_null(json_object_get(got, "name"));
    json_decref(got);
    got = NULL;
    /* bad names, unknown subjects, the cap */
    assert_int_equal(ecl_records_objection_set(fx->rec, "people", a, ECL_OBJECTION_ADD, "a b", &ch),
                     ECL_ERR_INVALID);
    assert_int_equal(
        ecl_records_objection_set(fx->rec, "people", ghost, ECL_OBJECTION_ADD, "alpha", &ch),
        ECL_ERR_NOT_FOUND);
    assert_int_equal(ecl_records_objections_get(fx->rec, "people", ghost, &p), ECL_OK);
    assert_int_equal(p.n, 0);
    for (int i = 2; i < ECL_OBJECTIONS_MAX; i++) {
        snprintf(name, sizeof name, "p%d", i);
        assert_int_equal(
            ecl_records_objection_set(fx->rec, "people", a, ECL_OBJECTION_ADD, name, &ch), ECL_OK);
    }
    assert_int_equal(
        ecl_records_objection_set(fx->rec, "people", a, ECL_OBJECTION_ADD, "extra", &ch),
        ECL_ERR_LIMIT);
    assert_int_equal(
        ecl_records_objection_set(fx->rec, "people", a, ECL_OBJECTION_REMOVE, "p5", &ch), ECL_OK);
    assert_int_equal(ch, ECL_CHANGED);
    assert_int_equal(ecl_records_objections_get(fx->rec, "people", a, &p), ECL_OK);
    assert_int_equal(p.n, ECL_OBJECTIONS_MAX - 1);
    /* an objection list moved to another subject does not open */
    assert_int_equal(import(fx, "people", "{\"id\":\"9\",\"name\":\"Zed\"}\n", &err, &res), ECL_OK);
    uint8_t z[32];
    skey_of(fx, "people", "9", z);
    copy_value(fx, fx->store->objections, "people", a, "people", z);
    assert_int_equal(ecl_records_objections_get(fx->rec, "people", z, &p), ECL_ERR_CRYPTO);
    /* and the combined read refuses the record with it: nothing is released unchecked */
    assert_int_equal(ecl_records_get_checked(fx->rec, "people", z, &got, &p), ECL_ERR_CRYPTO);
    assert_null(got);

    /* erasure: everything goes, in one transaction; then idempotent */
    assert_int_equal(ecl_records_erase(fx->rec, "people", a, &er), ECL_OK);
    assert_true(er.record);
    assert_true(er.data_key);
    assert_true(er.objections);
    assert_int_equal(er.index_entries, 2);
    assert_int_equal(ecl_records_get(fx->rec, "people", a, &rec), ECL_ERR_NOT_FOUND);
    assert_int_equal(ecl_records_objections_get(fx->rec, "people", a, &p), ECL_OK);
    assert_int_equal(p.n, 0);
    assert_int_equal(ecl_records_erase(fx->rec, "people", a, &er), ECL_OK);
    assert_false(er.record || er.data_key || er.objections || er.index_entries);
    assert_int_equal(ecl_records_erase(fx->rec, "nosuch", a, &er), ECL_ERR_NOT_FOUND);
}

static void
test_read_only_and_datasets(void **state)
{
    struct fixture *fx = *state;
    struct ecl_diags d;
    const struct ecl_schema *s = NULL;
    json_t *names = NULL;
    struct ecl_keyring *pub = NULL;
    struct ecl_records *r = NULL;

    ecl_diags_init(&d);
    assert_int_equal(ecl_records_dataset_create(fx->rec, schema_a, strlen(schema_a), &d, NULL),
                     ECL_ERR_EXISTS);
    assert_int_equal(ecl_records_dataset_create(fx->rec, "{}", 2, &d, NULL), ECL_ERR_INVALID);
    assert_true(ecl_diags_count(&d) > 0);
    assert_int_equal(ecl_records_dataset_list(fx->rec, &names), ECL_OK);
    assert_int_equal(json_array_size(names), 2);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "other");
    json_decref(names);
    assert_int_equal(ecl_records_dataset_get(fx->rec, "nosuch", &s), ECL_ERR_NOT_FOUND);
    assert_int_equal(ecl_records_dataset_get(fx->rec, "../x", &s), ECL_ERR_NOT_FOUND);
    /* a second handle reads the schema from the store, not from the first one's cache */
    assert_int_equal(ecl_records_open(fx->store, fx->kr, &r), ECL_OK);
    assert_int_equal(ecl_records_dataset_get(r, "people", &s), ECL_OK);
    assert_int_equal(s->nfields, 4);
    ecl_records_close(r);
    /* a public-only keyring cannot open the record layer */
    assert_int_equal(ecl_keyring_load_public(fx->dir, &pub), ECL_OK);
    assert_int_equal(ecl_records_open(fx->store, pub, &r), ECL_ERR_PERM);
    ecl_keyring_free(pub);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_key_wrap_binding),
        cmocka_unit_test(test_seal_binding),
        cmocka_unit_test_setup_teardown(test_moved_ciphertext_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_and_lookup_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_objections_and_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_and_datasets, setup, teardown),
    };
    ecl_crypto_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
