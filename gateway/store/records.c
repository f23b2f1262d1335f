/* The encrypted record store on LMDB: datasets, sealed records, wrapped data keys, blind
 * indexes, objections.  See records.h for the invariants and docs/datasets.md for the layout. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ecl/buf.h"
#include "records.h"
#include "store_internal.h"

enum {
    /* dataset || 0x00 || subject key */
    SKEY_LMDB_MAX = ECL_NAME_MAX_LEN + 1 + ECL_SUBJECT_KEY_LEN,
    /* dataset || 0x00 || field || 0x00 || blind index || subject key */
    IKEY_MAX = 2 * (ECL_NAME_MAX_LEN + 1) + ECL_BLIND_INDEX_LEN + ECL_SUBJECT_KEY_LEN,
    /* "count" || 0x00 || dataset */
    CKEY_MAX = 6 + ECL_NAME_MAX_LEN,
    /* a sealed record: the compact JSON of a validated record never exceeds this */
    SEALED_RECORD_MAX = 2 * ECL_RECORD_MAX_BYTES + ECL_SEALED_OVERHEAD,
    SEALED_OBJECTIONS_MAX = ECL_OBJECTIONS_MAX * (ECL_NAME_MAX_LEN + 3) + 2 + ECL_SEALED_OVERHEAD,
};

#define SCRATCH_DB "import-scratch"

struct ecl_records {
    struct ecl_store *store;
    const struct ecl_keyring *kr;
    pthread_mutex_t lock; /* guards the schema cache */
    struct ecl_schema *schemas[ECL_DATASETS_MAX];
    size_t nschemas;
};

struct ecl_records_batch {
    struct ecl_records *r;
    const struct ecl_schema *schema;
    MDB_txn *txn;
    MDB_dbi scratch;
    uint64_t inserted;
    uint64_t updated;
    int failed;
};

/* ---- small helpers ------------------------------------------------------------------------- */

static size_t
subject_lmdb_key(const char *dataset, const uint8_t skey[ECL_SUBJECT_KEY_LEN],
                 uint8_t out[SKEY_LMDB_MAX])
{
    size_t n = strlen(dataset);

    memcpy(out, dataset, n);
    out[n++] = 0;
    if (skey != NULL) {
        memcpy(out + n, skey, ECL_SUBJECT_KEY_LEN);
        n += ECL_SUBJECT_KEY_LEN;
    }
    return n;
}

/* The index key prefix dataset || 0 || field || 0 || blind index; returns its length. */
static size_t
index_prefix(const char *dataset, const char *field, const uint8_t bidx[ECL_BLIND_INDEX_LEN],
             uint8_t out[IKEY_MAX])
{
    size_t n = strlen(dataset);
    size_t f = strlen(field);

    memcpy(out, dataset, n);
    out[n++] = 0;
    memcpy(out + n, field, f);
    n += f;
    out[n++] = 0;
    memcpy(out + n, bidx, ECL_BLIND_INDEX_LEN);
    return n + ECL_BLIND_INDEX_LEN;
}

static size_t
count_key(const char *dataset, uint8_t out[CKEY_MAX])
{
    size_t n = strlen(dataset);

    memcpy(out, "count", 6);
    memcpy(out + 6, dataset, n);
    return 6 + n;
}

/* Copies the value of key into out (reset first).  ECL_ERR_NOT_FOUND when absent. */
static enum ecl_status
fetch(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, struct ecl_buf *out)
{
    MDB_val k = {klen, (void *)key};
    MDB_val v;
    int rc = mdb_get(txn, dbi, &k, &v);

    ecl_buf_reset(out);
    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    return ecl_buf_append(out, v.mv_data, v.mv_size);
}

static enum ecl_status
put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    MDB_val k = {klen, (void *)key};
    MDB_val v = {vlen, (void *)val};

    return ecl_store_mdb_status(mdb_put(txn, dbi, &k, &v, 0));
}

/* Deletes key; *deleted is 1 when it existed. */
static enum ecl_status
del(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, int *deleted)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(txn, dbi, &k, NULL);

    *deleted = rc == 0;
    return rc == MDB_NOTFOUND ? ECL_OK : ecl_store_mdb_status(rc);
}

static enum ecl_status
count_add(MDB_txn *txn, MDB_dbi meta, const char *dataset, int64_t delta)
{
    uint8_t key[CKEY_MAX];
    size_t klen = count_key(dataset, key);
    MDB_val k = {klen, key};
    MDB_val v;
    uint8_t val[8];
    uint64_t n = 0;
    int rc = mdb_get(txn, meta, &k, &v);

    if (rc == 0 && v.mv_size == 8) {
        n = ecl_get_u64(v.mv_data);
    } else if (rc != MDB_NOTFOUND) {
        return rc == 0 ? ECL_ERR_INTERNAL : ecl_store_mdb_status(rc);
    }
    if (delta < 0 && n < (uint64_t)-delta) {
        return ECL_ERR_INTERNAL;
    }
    n = delta < 0 ? n - (uint64_t)-delta : n + (uint64_t)delta;
    ecl_put_u64(val, n);
    return put(txn, meta, key, klen, val, sizeof val);
}

static enum ecl_status
txn_begin(struct ecl_records *r, unsigned flags, MDB_txn **out)
{
    if (r->store->readonly && (flags & MDB_RDONLY) == 0) {
        return ECL_ERR_PERM;
    }
    return ecl_store_mdb_status(mdb_txn_begin(r->store->rec_env, NULL, flags, out));
}

static enum ecl_status
txn_commit(MDB_txn *txn)
{
    return ecl_store_mdb_status(mdb_txn_commit(txn));
}

static int
dump_cb(const char *buf, size_t size, void *data)
{
    return ecl_buf_append(data, buf, size) == ECL_OK ? 0 : -1;
}

/* ---- keys ---------------------------------------------------------------------------------- */

/* Unwraps a subject's data key with the KEK version recorded in the wrapped blob. */
static enum ecl_status
dk_unwrap(const struct ecl_records *r, const char *dataset, const uint8_t skey[ECL_SUBJECT_KEY_LEN],
          const struct ecl_buf *wrapped, uint8_t dk[ECL_KEY_LEN])
{
    uint8_t old[ECL_KEY_LEN];
    const uint8_t *kek = ecl_keyring_key(r->kr, ECL_KEY_RECORD_KEK);
    uint32_t version = 0;
    enum ecl_status st;

    ECL_GUARD(ecl_record_key_version(wrapped->ptr, wrapped->len, &version));
    if (version != ecl_keyring_version(r->kr, ECL_KEY_RECORD_KEK)) {
        st = ecl_keyring_key_at(r->kr, ECL_KEY_RECORD_KEK, version, old);
        if (st != ECL_OK) {
            goto out;
        }
        kek = old;
    }
    st = ecl_record_key_unwrap(kek, dataset, skey, wrapped->ptr, wrapped->len, dk);
out:
    ecl_wipe(old, sizeof old);
    return st;
}

/* Opens a sealed blob and parses it as JSON (a new reference in *out). */
static enum ecl_status
open_json(enum ecl_sealed_kind kind, const uint8_t dk[ECL_KEY_LEN], const char *dataset,
          const uint8_t skey[ECL_SUBJECT_KEY_LEN], const struct ecl_buf *sealed, json_t **out)
{
    struct ecl_buf plain;
    const char *why = NULL;
    json_t *v = NULL;
    enum ecl_status st;

    ecl_buf_init(&plain, SEALED_RECORD_MAX);
    st = ecl_record_open(kind, dk, dataset, skey, sealed->ptr, sealed->len, &plain);
    if (st == ECL_OK) {
        v = ecl_json_load((const char *)plain.ptr, plain.len, ECL_JSON_MAX_DEPTH, &why, NULL);
        st = v != NULL ? ECL_OK : ECL_ERR_INTERNAL;
    }
    ecl_buf_free(&plain);
    if (st == ECL_OK) {
        *out = v;
    }
    return st;
}

/* The text a value is indexed under: strings as they are, integers in decimal, reals with 17
 * significant digits, booleans as true/false.  ECL_ERR_NOT_FOUND for null (not indexed). */
static enum ecl_status
index_text(const json_t *v, char *tmp, size_t cap, const char **s, size_t *len)
{
    int n;

    if (json_is_string(v)) {
        *s = json_string_value(v);
        *len = json_string_length(v);
        return ECL_OK;
    }
    if (json_is_integer(v)) {
        n = snprintf(tmp, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        n = snprintf(tmp, cap, "%.17g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        n = snprintf(tmp, cap, "%s", json_is_true(v) ? "true" : "false");
    } else {
        return ECL_ERR_NOT_FOUND;
    }
    if (n < 0 || (size_t)n >= cap) {
        return ECL_ERR_INTERNAL;
    }
    *s = tmp;
    *len = (size_t)n;
    return ECL_OK;
}

/* Blind index of a value of field f.  ECL_ERR_NOT_FOUND when the normalised value is empty
 * (empty values are not indexed). */
static enum ecl_status
blind_index(const struct ecl_records *r, const char *dataset, const struct ecl_field *f,
            const char *text, size_t len, uint8_t out[ECL_BLIND_INDEX_LEN])
{
    char *norm;
    size_t n;

    if (len > ECL_FIELD_MAX_BYTES) {
        return ECL_ERR_LIMIT;
    }
    norm = malloc(len + 1);
    if (norm == NULL) {
        return ECL_ERR_NOMEM;
    }
    n = ecl_normalize(f->normalize, text, len, norm, len + 1);
    if (n != (size_t)-1 && n > 0) {
        ecl_record_blind_index(ecl_keyring_key(r->kr, ECL_KEY_FIELD_INDEX), dataset, f->name, norm,
                               n, out);
    }
    ecl_wipe(norm, len + 1);
    free(norm);
    if (n == (size_t)-1) {
        return ECL_ERR_INTERNAL;
    }
    return n == 0 ? ECL_ERR_NOT_FOUND : ECL_OK;
}

enum index_op {
    INDEX_PUT = 0,
    INDEX_DEL,
};

/* Puts or deletes the index entries of one record; *count (may be NULL) counts entries that
 * were deleted (INDEX_DEL) or written (INDEX_PUT). */
static enum ecl_status
index_apply(struct ecl_records *r, MDB_txn *txn, const struct ecl_schema *s,
            const uint8_t skey[ECL_SUBJECT_KEY_LEN], const json_t *rec, enum index_op op,
            size_t *count)
{
    uint8_t key[IKEY_MAX];
    uint8_t bidx[ECL_BLIND_INDEX_LEN];
    char tmp[64];
    size_t done = 0;

    for (size_t i = 0; i < s->nfields; i++) {
        const struct ecl_field *f = &s->fields[i];
        const char *text = NULL;
        size_t len = 0;
        size_t klen;
        int gone = 0;
        enum ecl_status st;

        if (!f->indexed) {
            continue;
        }
        st = index_text(json_object_get(rec, f->name), tmp, sizeof tmp, &text, &len);
        if (st == ECL_OK) {
            st = blind_index(r, s->name, f, text, len, bidx);
        }
        ecl_wipe(tmp, sizeof tmp);
        if (st == ECL_ERR_NOT_FOUND) {
            continue;
        }
        ECL_GUARD(st);
        klen = index_prefix(s->name, f->name, bidx, key);
        memcpy(key + klen, skey, ECL_SUBJECT_KEY_LEN);
        klen += ECL_SUBJECT_KEY_LEN;
        switch (op) {
        case INDEX_PUT:
            ECL_GUARD(put(txn, r->store->index, key, klen, "", 0));
            done++;
            break;
        case INDEX_DEL:
            ECL_GUARD(del(txn, r->store->index, key, klen, &gone));
            done += (size_t)gone;
            break;
        }
    }
    if (count != NULL) {
        *count = done;
    }
    return ECL_OK;
}

/* Deletes every index entry of a dataset that points at skey (used when the record cannot be
 * decrypted any more, so its values are unknown).  O(index entries of the dataset). */
static enum ecl_status
index_sweep(struct ecl_records *r, MDB_txn *txn, const char *dataset,
            const uint8_t skey[ECL_SUBJECT_KEY_LEN], size_t *count)
{
    uint8_t prefix[SKEY_LMDB_MAX];
    size_t plen = subject_lmdb_key(dataset, NULL, prefix);
    MDB_cursor *cur = NULL;
    MDB_val k = {plen, prefix};
    MDB_val v;
    size_t done = 0;
    int rc = mdb_cursor_open(txn, r->store->index, &cur);

    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }
    while (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
        const uint8_t *kd = k.mv_data;
        uint8_t copy[IKEY_MAX];
        size_t clen = k.mv_size;

        if (clen < plen + ECL_SUBJECT_KEY_LEN || clen > sizeof copy ||
            memcmp(kd + clen - ECL_SUBJECT_KEY_LEN, skey, ECL_SUBJECT_KEY_LEN) != 0) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        /* delete, then seek again from the deleted key: simpler than trusting the cursor's
         * position after a delete */
        memcpy(copy, kd, clen);
        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            break;
        }
        done++;
        k.mv_size = clen;
        k.mv_data = copy;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return ecl_store_mdb_status(rc);
    }
    *count = done;
    return ECL_OK;
}

/* ---- open, datasets ------------------------------------------------------------------------ */

enum ecl_status
ecl_records_open(struct ecl_store *store, const struct ecl_keyring *kr, struct ecl_records **out)
{
    struct ecl_records *r;

    if (!ecl_keyring_has_secrets(kr)) {
        return ECL_ERR_PERM;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        return ECL_ERR_NOMEM;
    }
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return ECL_ERR_NOMEM;
    }
    r->store = store;
    r->kr = kr;
    *out = r;
    return ECL_OK;
}

void
ecl_records_close(struct ecl_records *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->nschemas; i++) {
        ecl_schema_free(r->schemas[i]);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* Adds a parsed schema to the cache (taking it) or, when another thread was faster, frees it
 * and returns the cached one. */
static enum ecl_status
cache_add(struct ecl_records *r, struct ecl_schema *s, const struct ecl_schema **out)
{
    enum ecl_status st = ECL_OK;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->nschemas; i++) {
        if (strcmp(r->schemas[i]->name, s->name) == 0) {
            ecl_schema_free(s);
            *out = r->schemas[i];
            pthread_mutex_unlock(&r->lock);
            return ECL_OK;
        }
    }
    if (r->nschemas >= ECL_DATASETS_MAX) {
        ecl_schema_free(s);
        st = ECL_ERR_LIMIT;
    } else {
        r->schemas[r->nschemas++] = s;
        *out = s;
    }
    pthread_mutex_unlock(&r->lock);
    return st;
}

static const struct ecl_schema *
cache_find(struct ecl_records *r, const char *name)
{
    const struct ecl_schema *found = NULL;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->nschemas && found == NULL; i++) {
        if (strcmp(r->schemas[i]->name, name) == 0) {
            found = r->schemas[i];
        }
    }
    pthread_mutex_unlock(&r->lock);
    return found;
}

enum ecl_status
ecl_records_dataset_create(struct ecl_records *r, const char *json, size_t len,
                           struct ecl_diags *diags, const struct ecl_schema **out)
{
    struct ecl_schema *s = NULL;
    const struct ecl_schema *cached = NULL;
    MDB_txn *txn = NULL;
    MDB_stat stat;
    char *canon = NULL;
    enum ecl_status st;

    ECL_GUARD(ecl_schema_parse(json, len, diags, &s));
    canon = json_dumps(ecl_schema_json(s), JSON_COMPACT);
    if (canon == NULL) {
        st = ECL_ERR_NOMEM;
        goto out;
    }
    st = txn_begin(r, 0, &txn);
    if (st != ECL_OK) {
        goto out;
    }
    st = ecl_store_mdb_status(mdb_stat(txn, r->store->datasets, &stat));
    if (st == ECL_OK && stat.ms_entries >= ECL_DATASETS_MAX) {
        st = ECL_ERR_LIMIT;
    }
    if (st == ECL_OK) {
        MDB_val k = {strlen(s->name), s->name};
        MDB_val v = {strlen(canon), canon};
        st = ecl_store_mdb_status(mdb_put(txn, r->store->datasets, &k, &v, MDB_NOOVERWRITE));
    }
    if (st == ECL_OK) {
        st = txn_commit(txn);
        txn = NULL;
    }
    if (st == ECL_OK) {
        st = cache_add(r, s, &cached);
        s = NULL;
    }
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    free(canon);
    ecl_schema_free(s);
    if (st == ECL_OK && out != NULL) {
        *out = cached;
    }
    return st;
}

enum ecl_status
ecl_records_dataset_get(struct ecl_records *r, const char *name, const struct ecl_schema **out)
{
    const struct ecl_schema *found = NULL;
    struct ecl_schema *s = NULL;
    struct ecl_diags diags;
    struct ecl_buf doc;
    MDB_txn *txn = NULL;
    enum ecl_status st;

    if (!ecl_name_ok(name, strnlen(name, ECL_NAME_MAX_LEN + 1))) {
        return ECL_ERR_NOT_FOUND;
    }
    found = cache_find(r, name);
    if (found != NULL) {
        *out = found;
        return ECL_OK;
    }
    ecl_buf_init(&doc, ECL_SCHEMA_MAX_BYTES);
    st = txn_begin(r, MDB_RDONLY, &txn);
    if (st == ECL_OK) {
        st = fetch(txn, r->store->datasets, (const uint8_t *)name, strlen(name), &doc);
        mdb_txn_abort(txn);
    }
    if (st == ECL_OK) {
        ecl_diags_init(&diags);
        /* a stored schema that no longer parses is corruption, not bad input */
        st = ecl_schema_parse((const char *)doc.ptr, doc.len, &diags, &s) == ECL_OK
                 ? ECL_OK
                 : ECL_ERR_INTERNAL;
    }
    if (st == ECL_OK) {
        st = cache_add(r, s, &found);
    }
    ecl_buf_free(&doc);
    if (st == ECL_OK) {
        *out = found;
    }
    return st;
}

enum ecl_status
ecl_records_dataset_list(struct ecl_records *r, json_t **out)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k;
    MDB_val v;
    json_t *names = json_array();
    enum ecl_status st;
    int rc;

    if (names == NULL) {
        return ECL_ERR_NOMEM;
    }
    st = txn_begin(r, MDB_RDONLY, &txn);
    if (st != ECL_OK) {
        json_decref(names);
        return st;
    }
    rc = mdb_cursor_open(txn, r->store->datasets, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    while (rc == 0) {
        if (json_array_append_new(names, json_stringn(k.mv_data, k.mv_size)) != 0) {
            rc = ENOMEM;
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND) {
        json_decref(names);
        return ecl_store_mdb_status(rc);
    }
    *out = names;
    return ECL_OK;
}

enum ecl_status
ecl_records_count(struct ecl_records *r, const char *dataset, uint64_t *out)
{
    const struct ecl_schema *s = NULL;
    uint8_t key[CKEY_MAX];
    size_t klen;
    MDB_txn *txn = NULL;
    MDB_val k;
    MDB_val v;
    uint64_t n = 0;
    int rc;

    ECL_GUARD(ecl_records_dataset_get(r, dataset, &s));
    klen = count_key(s->name, key);
    k.mv_size = klen;
    k.mv_data = key;
    ECL_GUARD(txn_begin(r, MDB_RDONLY, &txn));
    rc = mdb_get(txn, r->store->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8) {
        n = ecl_get_u64(v.mv_data);
    }
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return ecl_store_mdb_status(rc);
    }
    *out = n;
    return ECL_OK;
}

/* ---- subjects and reads -------------------------------------------------------------------- */

enum ecl_status
ecl_records_subject_key(struct ecl_records *r, const struct ecl_schema *schema, const char *id,
                        size_t id_len, uint8_t out[ECL_SUBJECT_KEY_LEN])
{
    char norm[ECL_SUBJECT_ID_MAX_LEN + 1];
    size_t n;

    if (id_len > ECL_SUBJECT_ID_MAX_LEN) {
        return ECL_ERR_LIMIT;
    }
    n = ecl_normalize(schema->fields[schema->subject_field].normalize, id, id_len, norm,
                      sizeof norm);
    if (n == (size_t)-1 || n == 0) {
        ecl_wipe(norm, sizeof norm);
        return n == 0 ? ECL_ERR_INVALID : ECL_ERR_LIMIT;
    }
    ecl_record_subject_key(ecl_keyring_key(r->kr, ECL_KEY_SUBJECT_INDEX), norm, n, out);
    ecl_wipe(norm, sizeof norm);
    return ECL_OK;
}

static enum ecl_status purposes_from_json(const json_t *a, struct ecl_purposes *out);

enum ecl_status
ecl_records_get_checked(struct ecl_records *r, const char *dataset,
                        const uint8_t skey[ECL_SUBJECT_KEY_LEN], json_t **out,
                        struct ecl_purposes *objections)
{
    const struct ecl_schema *s = NULL;
    uint8_t key[SKEY_LMDB_MAX];
    uint8_t dk[ECL_KEY_LEN];
    size_t klen;
    struct ecl_buf wrapped;
    struct ecl_buf sealed;
    struct ecl_buf sealed_obj;
    MDB_txn *txn = NULL;
    json_t *rec = NULL;
    json_t *a = NULL;
    enum ecl_status st;

    ECL_GUARD(ecl_records_dataset_get(r, dataset, &s));
    klen = subject_lmdb_key(s->name, skey, key);
    ecl_buf_init(&wrapped, ECL_WRAPPED_KEY_LEN);
    ecl_buf_init(&sealed, SEALED_RECORD_MAX);
    ecl_buf_init(&sealed_obj, SEALED_OBJECTIONS_MAX);
    /* one short read transaction (one snapshot of record and objections): copy the blobs out,
     * then end it before any crypto; the data key is unwrapped once for both */
    st = txn_begin(r, MDB_RDONLY, &txn);
    if (st != ECL_OK) {
        goto out;
    }
    st = fetch(txn, r->store->datakeys, key, klen, &wrapped);
    if (st == ECL_OK) {
        st = fetch(txn, r->store->records, key, klen, &sealed);
    }
    if (st == ECL_OK && objections != NULL) {
        st = fetch(txn, r->store->objections, key, klen, &sealed_obj);
        if (st == ECL_ERR_NOT_FOUND) {
            st = ECL_OK; /* no objection: sealed_obj stays empty */
        }
    }
    mdb_txn_abort(txn);
    if (st != ECL_OK) {
        goto out;
    }
    st = dk_unwrap(r, s->name, skey, &wrapped, dk);
    if (st == ECL_OK) {
        st = open_json(ECL_SEALED_RECORD, dk, s->name, skey, &sealed, &rec);
    }
    if (st == ECL_OK && objections != NULL) {
        objections->n = 0;
        if (sealed_obj.len > 0) {
            st = open_json(ECL_SEALED_OBJECTIONS, dk, s->name, skey, &sealed_obj, &a);
            if (st == ECL_OK) {
                st = purposes_from_json(a, objections);
            }
        }
    }
out:
    json_decref(a);
    ecl_wipe(dk, sizeof dk);
    ecl_buf_free(&wrapped);
    ecl_buf_free(&sealed);
    ecl_buf_free(&sealed_obj);
    if (st == ECL_OK) {
        *out = rec;
    } else {
        json_decref(rec);
    }
    return st;
}

enum ecl_status
ecl_records_get(struct ecl_records *r, const char *dataset, const uint8_t skey[ECL_SUBJECT_KEY_LEN],
                json_t **out)
{
    return ecl_records_get_checked(r, dataset, skey, out, NULL);
}

enum ecl_status
ecl_records_get_by_id(struct ecl_records *r, const char *dataset, const char *id, size_t id_len,
                      json_t **out)
{
    const struct ecl_schema *s = NULL;
    uint8_t skey[ECL_SUBJECT_KEY_LEN];

    ECL_GUARD(ecl_records_dataset_get(r, dataset, &s));
    ECL_GUARD(ecl_records_subject_key(r, s, id, id_len, skey));
    return ecl_records_get(r, dataset, skey, out);
}

/* Reads up to max subject keys from the keys prefix || skey of dbi, strictly after
 * prefix || after when after is not NULL. */
static enum ecl_status
prefix_page(struct ecl_records *r, MDB_dbi dbi, const uint8_t *prefix, size_t plen,
            const uint8_t *after, size_t max, uint8_t (*keys)[ECL_SUBJECT_KEY_LEN], size_t *n)
{
    uint8_t start[IKEY_MAX];
    size_t slen = plen;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k;
    MDB_val v;
    size_t got = 0;
    int rc;

    if (max > ECL_RECORDS_PAGE_MAX || plen > IKEY_MAX - ECL_SUBJECT_KEY_LEN) {
        return ECL_ERR_LIMIT;
    }
    memcpy(start, prefix, plen);
    if (after != NULL) {
        memcpy(start + plen, after, ECL_SUBJECT_KEY_LEN);
        slen += ECL_SUBJECT_KEY_LEN;
    }
    k.mv_size = slen;
    k.mv_data = start;
    ECL_GUARD(txn_begin(r, MDB_RDONLY, &txn));
    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }
    if (rc == 0 && after != NULL && k.mv_size == slen && memcmp(k.mv_data, start, slen) == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    while (rc == 0 && got < max) {
        if (k.mv_size != plen + ECL_SUBJECT_KEY_LEN || memcmp(k.mv_data, prefix, plen) != 0) {
            break;
        }
        memcpy(keys[got++], (const uint8_t *)k.mv_data + plen, ECL_SUBJECT_KEY_LEN);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return ecl_store_mdb_status(rc);
    }
    *n = got;
    return ECL_OK;
}

enum ecl_status
ecl_records_scan(struct ecl_records *r, const char *dataset, const uint8_t *after, size_t max,
                 uint8_t (*keys)[ECL_SUBJECT_KEY_LEN], size_t *n)
{
    const struct ecl_schema *s = NULL;
    uint8_t prefix[SKEY_LMDB_MAX];
    size_t plen;

    ECL_GUARD(ecl_records_dataset_get(r, dataset, &s));
    plen = subject_lmdb_key(s->name, NULL, prefix);
    return prefix_page(r, r->store->records, prefix, plen, after, max, keys, n);
}

enum ecl_status
ecl_records_lookup(struct ecl_records *r, const char *dataset, const char *field, const char *value,
                   size_t value_len, const uint8_t *after, size_t max,
                   uint8_t (*keys)[ECL_SUBJECT_KEY_LEN], size_t *n)
{
    const struct ecl_schema *s = NULL;
    const struct ecl_field *f;
    uint8_t bidx[ECL_BLIND_INDEX_LEN];
    uint8_t prefix[IKEY_MAX];
    size_t plen;
    enum ecl_status st;

    ECL_GUARD(ecl_records_dataset_get(r, dataset, &s));
    f = ecl_schema_field(s, field);
    if (f == NULL) {
        return ECL_ERR_NOT_FOUND;
    }
    if (!f->indexed) {
        return ECL_ERR_INVALID;
    }
    st = blind_index(r, s->name, f, value, value_len, bidx);
    if (st == ECL_ERR_NOT_FOUND) {
        *n = 0; /* an empty value is never indexed */
        return ECL_OK;
    }
    ECL_GUARD(st);
    plen = index_prefix(s->name, f->name, bidx, prefix);
    return prefix_page(r, r->store->index, prefix, plen, after, max, keys, n);
}

/* ---- batch writes -------------------------------------------------------------------------- */

enum ecl_status
ecl_records_batch_begin(struct ecl_records *r, const char *dataset, struct ecl_records_batch **out)
{
    const struct ecl_schema *s = NULL;
    struct ecl_records_batch *b;
    enum ecl_status st;
    int rc;

    ECL_GUARD(ecl_records_dataset_get(r, dataset, &s));
    b = calloc(1, sizeof *b);
    if (b == NULL) {
        return ECL_ERR_NOMEM;
    }
    b->r = r;
    b->schema = s;
    st = txn_begin(r, 0, &b->txn);
    if (st != ECL_OK) {
        free(b);
        return st;
    }
    /* Duplicate detection without memory growing with the file: a scratch database in the same
     * transaction, emptied now and dropped before commit (an abort drops it too). */
    rc = mdb_dbi_open(b->txn, SCRATCH_DB, MDB_CREATE, &b->scratch);
    if (rc == 0) {
        rc = mdb_drop(b->txn, b->scratch, 0);
    }
    if (rc != 0) {
        mdb_txn_abort(b->txn);
        free(b);
        return ecl_store_mdb_status(rc);
    }
    *out = b;
    return ECL_OK;
}

/* Remembers that skey was put at line; ECL_ERR_CONFLICT with the first line when it was. */
static enum ecl_status
scratch_mark(struct ecl_records_batch *b, const uint8_t skey[ECL_SUBJECT_KEY_LEN], uint64_t line,
             uint64_t *first_line)
{
    uint8_t val[8];
    MDB_val k = {ECL_SUBJECT_KEY_LEN, (void *)skey};
    MDB_val v = {sizeof val, val};
    int rc;

    ecl_put_u64(val, line);
    rc = mdb_put(b->txn, b->scratch, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        if (first_line != NULL && v.mv_size == 8) {
            *first_line = ecl_get_u64(v.mv_data);
        }
        return ECL_ERR_CONFLICT;
    }
    return ecl_store_mdb_status(rc);
}

static enum ecl_status
batch_put(struct ecl_records_batch *b, const json_t *record, uint64_t line, uint64_t *first_line)
{
    struct ecl_records *r = b->r;
    const struct ecl_schema *s = b->schema;
    const json_t *id = json_object_get(record, s->fields[s->subject_field].name);
    uint8_t skey[ECL_SUBJECT_KEY_LEN];
    uint8_t key[SKEY_LMDB_MAX];
    uint8_t dk[ECL_KEY_LEN];
    uint8_t wrapped_new[ECL_WRAPPED_KEY_LEN];
    uint32_t kek_version = ecl_keyring_version(r->kr, ECL_KEY_RECORD_KEK);
    uint32_t old_version = 0;
    size_t klen;
    struct ecl_buf wrapped;
    struct ecl_buf blob;
    struct ecl_buf plain;
    json_t *old = NULL;
    enum ecl_status st;

    if (!json_is_string(id)) {
        return ECL_ERR_INVALID;
    }
    ECL_GUARD(ecl_records_subject_key(r, s, json_string_value(id), json_string_length(id), skey));
    ECL_GUARD(scratch_mark(b, skey, line, first_line));
    klen = subject_lmdb_key(s->name, skey, key);
    ecl_buf_init(&wrapped, ECL_WRAPPED_KEY_LEN);
    ecl_buf_init(&blob, SEALED_RECORD_MAX);
    ecl_buf_init(&plain, 2 * ECL_RECORD_MAX_BYTES);

    st = fetch(b->txn, r->store->datakeys, key, klen, &wrapped);
    if (st == ECL_OK) {
        /* upsert: keep the data key, drop the old index entries */
        st = dk_unwrap(r, s->name, skey, &wrapped, dk);
        if (st == ECL_OK) {
            st = ecl_record_key_version(wrapped.ptr, wrapped.len, &old_version);
        }
        if (st == ECL_OK) {
            st = fetch(b->txn, r->store->records, key, klen, &blob);
        }
        if (st == ECL_OK) {
            st = open_json(ECL_SEALED_RECORD, dk, s->name, skey, &blob, &old);
        }
        if (st == ECL_OK) {
            st = index_apply(r, b->txn, s, skey, old, INDEX_DEL, NULL);
        }
        if (st == ECL_OK && old_version != kek_version) {
            ecl_record_key_wrap(ecl_keyring_key(r->kr, ECL_KEY_RECORD_KEK), kek_version, s->name,
                                skey, dk, wrapped_new);
            st = put(b->txn, r->store->datakeys, key, klen, wrapped_new, sizeof wrapped_new);
        }
        b->updated++;
    } else if (st == ECL_ERR_NOT_FOUND) {
        ecl_record_datakey_new(dk);
        ecl_record_key_wrap(ecl_keyring_key(r->kr, ECL_KEY_RECORD_KEK), kek_version, s->name, skey,
                            dk, wrapped_new);
        st = put(b->txn, r->store->datakeys, key, klen, wrapped_new, sizeof wrapped_new);
        b->inserted++;
    }
    if (st != ECL_OK) {
        goto out;
    }
    if (json_dump_callback(record, dump_cb, &plain, JSON_COMPACT) != 0) {
        st = ECL_ERR_LIMIT;
        goto out;
    }
    ecl_buf_reset(&blob);
    st = ecl_record_seal(ECL_SEALED_RECORD, dk, ecl_keyring_version(r->kr, ECL_KEY_SUBJECT_INDEX),
                         s->name, skey, plain.ptr, plain.len, &blob);
    if (st == ECL_OK) {
        st = put(b->txn, r->store->records, key, klen, blob.ptr, blob.len);
    }
    if (st == ECL_OK) {
        st = index_apply(r, b->txn, s, skey, record, INDEX_PUT, NULL);
    }
out:
    json_decref(old);
    ecl_wipe(dk, sizeof dk);
    ecl_buf_free(&wrapped);
    ecl_buf_free(&blob);
    ecl_buf_free(&plain);
    return st;
}

enum ecl_status
ecl_records_batch_put(struct ecl_records_batch *b, const json_t *record, uint64_t line,
                      uint64_t *first_line)
{
    enum ecl_status st;

    if (b->failed) {
        return ECL_ERR_INTERNAL;
    }
    st = batch_put(b, record, line, first_line);
    if (st != ECL_OK) {
        b->failed = 1;
    }
    return st;
}

enum ecl_status
ecl_records_batch_commit(struct ecl_records_batch *b, uint64_t *inserted, uint64_t *updated)
{
    enum ecl_status st = ECL_OK;

    if (b->failed) {
        ecl_records_batch_abort(b);
        return ECL_ERR_INTERNAL;
    }
    if (b->inserted > INT64_MAX) {
        st = ECL_ERR_LIMIT;
    }
    if (st == ECL_OK) {
        st = count_add(b->txn, b->r->store->meta, b->schema->name, (int64_t)b->inserted);
    }
    if (st == ECL_OK) {
        st = ecl_store_mdb_status(mdb_drop(b->txn, b->scratch, 1));
    }
    if (st != ECL_OK) {
        ecl_records_batch_abort(b);
        return st;
    }
    st = txn_commit(b->txn);
    if (st == ECL_OK) {
        if (inserted != NULL) {
            *inserted = b->inserted;
        }
        if (updated != NULL) {
            *updated = b->updated;
        }
    }
    free(b);
    return st;
}

void
ecl_records_batch_abort(struct ecl_records_batch *b)
{
    if (b == NULL) {
        return;
    }
    mdb_txn_abort(b->txn);
    free(b);
}

/* ---- erasure ------------------------------------------------------------------------------- */

/* Deletes the index entries of the subject: computed from the decrypted record when it still
 * opens, else by a sweep of the dataset's index. */
static enum ecl_status
erase_index(struct ecl_records *r, MDB_txn *txn, const struct ecl_schema *s,
            const uint8_t skey[ECL_SUBJECT_KEY_LEN], const uint8_t *key, size_t klen, size_t *count)
{
    struct ecl_buf wrapped;
    struct ecl_buf sealed;
    uint8_t dk[ECL_KEY_LEN];
    json_t *rec = NULL;
    enum ecl_status st;
    enum ecl_status found;

    ecl_buf_init(&wrapped, ECL_WRAPPED_KEY_LEN);
    ecl_buf_init(&sealed, SEALED_RECORD_MAX);
    found = fetch(txn, r->store->datakeys, key, klen, &wrapped);
    st = found;
    if (st == ECL_OK) {
        st = dk_unwrap(r, s->name, skey, &wrapped, dk);
    }
    if (st == ECL_OK) {
        st = fetch(txn, r->store->records, key, klen, &sealed);
    }
    if (st == ECL_OK) {
        st = open_json(ECL_SEALED_RECORD, dk, s->name, skey, &sealed, &rec);
    }
    if (st == ECL_OK) {
        st = index_apply(r, txn, s, skey, rec, INDEX_DEL, count);
    } else if (found == ECL_ERR_NOT_FOUND || st == ECL_ERR_CRYPTO || st == ECL_ERR_INVALID ||
               st == ECL_ERR_NOT_FOUND) {
        /* the values are unknown (no key, no record, or a blob that does not open) */
        st = index_sweep(r, txn, s->name, skey, count);
    }
    json_decref(rec);
    ecl_wipe(dk, sizeof dk);
    ecl_buf_free(&wrapped);
    ecl_buf_free(&sealed);
    return st;
}

enum ecl_status
ecl_records_erase(struct ecl_records *r, const char *dataset,
                  const uint8_t skey[ECL_SUBJECT_KEY_LEN], struct ecl_erase_result *out)
{
    const struct ecl_schema *s = NULL;
    struct ecl_erase_result res = {0, 0, 0, 0};
    uint8_t key[SKEY_LMDB_MAX];
    size_t klen;
    MDB_txn *txn = NULL;
    enum ecl_status st;

    ECL_GUARD(ecl_records_dataset_get(r, dataset, &s));
    klen = subject_lmdb_key(s->name, skey, key);
    ECL_GUARD(txn_begin(r, 0, &txn));
    st = erase_index(r, txn, s, skey, key, klen, &res.index_entries);
    if (st == ECL_OK) {
        st = del(txn, r->store->datakeys, key, klen, &res.data_key);
    }
    if (st == ECL_OK) {
        st = del(txn, r->store->records, key, klen, &res.record);
    }
    if (st == ECL_OK) {
        st = del(txn, r->store->objections, key, klen, &res.objections);
    }
    if (st == ECL_OK && res.record) {
        st = count_add(txn, r->store->meta, s->name, -1);
    }
    if (st != ECL_OK) {
        mdb_txn_abort(txn);
        return st;
    }
    ECL_GUARD(txn_commit(txn));
    *out = res;
    return ECL_OK;
}

/* ---- objections ---------------------------------------------------------------------------- */

static enum ecl_status
purposes_from_json(const json_t *a, struct ecl_purposes *out)
{
    size_t i;
    json_t *v;

    if (!json_is_array(a) || json_array_size(a) > ECL_OBJECTIONS_MAX) {
        return ECL_ERR_INTERNAL;
    }
    out->n = 0;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || !ecl_name_ok(json_string_value(v), json_string_length(v))) {
            return ECL_ERR_INTERNAL;
        }
        memcpy(out->names[out->n], json_string_value(v), json_string_length(v) + 1);
        out->n++;
    }
    return ECL_OK;
}

/* Reads the objections of a subject whose data key is dk (n = 0 when none). */
static enum ecl_status
objections_read(MDB_txn *txn, struct ecl_records *r, const char *dataset,
                const uint8_t skey[ECL_SUBJECT_KEY_LEN], const uint8_t *key, size_t klen,
                const uint8_t dk[ECL_KEY_LEN], struct ecl_purposes *out)
{
    struct ecl_buf sealed;
    json_t *a = NULL;
    enum ecl_status st;

    ecl_buf_init(&sealed, SEALED_OBJECTIONS_MAX);
    st = fetch(txn, r->store->objections, key, klen, &sealed);
    if (st == ECL_ERR_NOT_FOUND) {
        out->n = 0;
        st = ECL_OK;
    } else if (st == ECL_OK) {
        st = open_json(ECL_SEALED_OBJECTIONS, dk, dataset, skey, &sealed, &a);
        if (st == ECL_OK) {
            st = purposes_from_json(a, out);
        }
    }
    json_decref(a);
    ecl_buf_free(&sealed);
    return st;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Applies op to the list; 1 when it changed. */
static enum ecl_status
purposes_apply(struct ecl_purposes *p, enum ecl_objection_op op, const char *purpose,
               enum ecl_change *changed)
{
    size_t at = p->n;

    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->names[i], purpose) == 0) {
            at = i;
        }
    }
    *changed = ECL_UNCHANGED;
    switch (op) {
    case ECL_OBJECTION_ADD:
        if (at < p->n) {
            return ECL_OK;
        }
        if (p->n >= ECL_OBJECTIONS_MAX) {
            return ECL_ERR_LIMIT;
        }
        memcpy(p->names[p->n], purpose, strlen(purpose) + 1);
        p->n++;
        qsort(p->names, p->n, sizeof p->names[0], cmp_names);
        break;
    case ECL_OBJECTION_REMOVE:
        if (at == p->n) {
            return ECL_OK;
        }
        memmove(p->names[at], p->names[at + 1], (p->n - at - 1) * sizeof p->names[0]);
        p->n--;
        break;
    }
    *changed = ECL_CHANGED;
    return ECL_OK;
}

static enum ecl_status
objections_write(MDB_txn *txn, struct ecl_records *r, const char *dataset,
                 const uint8_t skey[ECL_SUBJECT_KEY_LEN], const uint8_t *key, size_t klen,
                 const uint8_t dk[ECL_KEY_LEN], const struct ecl_purposes *p)
{
    struct ecl_buf plain;
    struct ecl_buf sealed;
    json_t *a = NULL;
    enum ecl_status st = ECL_OK;
    int gone = 0;

    if (p->n == 0) {
        return del(txn, r->store->objections, key, klen, &gone);
    }
    a = json_array();
    for (size_t i = 0; a != NULL && i < p->n && st == ECL_OK; i++) {
        st = json_array_append_new(a, json_string(p->names[i])) == 0 ? ECL_OK : ECL_ERR_NOMEM;
    }
    if (a == NULL) {
        return ECL_ERR_NOMEM;
    }
    ecl_buf_init(&plain, SEALED_OBJECTIONS_MAX);
    ecl_buf_init(&sealed, SEALED_OBJECTIONS_MAX);
    if (st == ECL_OK && json_dump_callback(a, dump_cb, &plain, JSON_COMPACT) != 0) {
        st = ECL_ERR_LIMIT;
    }
    if (st == ECL_OK) {
        st = ecl_record_seal(ECL_SEALED_OBJECTIONS, dk,
                             ecl_keyring_version(r->kr, ECL_KEY_SUBJECT_INDEX), dataset, skey,
                             plain.ptr, plain.len, &sealed);
    }
    if (st == ECL_OK) {
        st = put(txn, r->store->objections, key, klen, sealed.ptr, sealed.len);
    }
    json_decref(a);
    ecl_buf_free(&plain);
    ecl_buf_free(&sealed);
    return st;
}

enum ecl_status
ecl_records_objection_set(struct ecl_records *r, const char *dataset,
                          const uint8_t skey[ECL_SUBJECT_KEY_LEN], enum ecl_objection_op op,
                          const char *purpose, enum ecl_change *out)
{
    const struct ecl_schema *s = NULL;
    struct ecl_purposes *p = NULL;
    struct ecl_buf wrapped;
    uint8_t key[SKEY_LMDB_MAX];
    uint8_t dk[ECL_KEY_LEN];
    enum ecl_change changed = ECL_UNCHANGED;
    size_t klen;
    MDB_txn *txn = NULL;
    enum ecl_status st;

    if (!ecl_name_ok(purpose, strnlen(purpose, ECL_NAME_MAX_LEN + 1))) {
        return ECL_ERR_INVALID;
    }
    ECL_GUARD(ecl_records_dataset_get(r, dataset, &s));
    klen = subject_lmdb_key(s->name, skey, key);
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        return ECL_ERR_NOMEM;
    }
    ecl_buf_init(&wrapped, ECL_WRAPPED_KEY_LEN);
    st = txn_begin(r, 0, &txn);
    if (st != ECL_OK) {
        goto out;
    }
    st = fetch(txn, r->store->datakeys, key, klen, &wrapped);
    if (st == ECL_OK) {
        st = dk_unwrap(r, s->name, skey, &wrapped, dk);
    }
    if (st == ECL_OK) {
        st = objections_read(txn, r, s->name, skey, key, klen, dk, p);
    }
    if (st == ECL_OK) {
        st = purposes_apply(p, op, purpose, &changed);
    }
    if (st == ECL_OK && changed == ECL_CHANGED) {
        st = objections_write(txn, r, s->name, skey, key, klen, dk, p);
        if (st == ECL_OK) {
            st = txn_commit(txn);
            txn = NULL;
        }
    }
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    ecl_wipe(dk, sizeof dk);
    ecl_buf_free(&wrapped);
    free(p);
    if (st == ECL_OK) {
        *out = changed;
    }
    return st;
}

enum ecl_status
ecl_records_objections_get(struct ecl_records *r, const char *dataset,
                           const uint8_t skey[ECL_SUBJECT_KEY_LEN], struct ecl_purposes *out)
{
    const struct ecl_schema *s = NULL;
    struct ecl_buf wrapped;
    struct ecl_buf sealed;
    uint8_t key[SKEY_LMDB_MAX];
    uint8_t dk[ECL_KEY_LEN];
    size_t klen;
    MDB_txn *txn = NULL;
    json_t *a = NULL;
    enum ecl_status st;

    ECL_GUARD(ecl_records_dataset_get(r, dataset, &s));
    klen = subject_lmdb_key(s->name, skey, key);
    ecl_buf_init(&wrapped, ECL_WRAPPED_KEY_LEN);
    ecl_buf_init(&sealed, SEALED_OBJECTIONS_MAX);
    st = txn_begin(r, MDB_RDONLY, &txn);
    if (st != ECL_OK) {
        goto out;
    }
    st = fetch(txn, r->store->objections, key, klen, &sealed);
    if (st == ECL_OK) {
        st = fetch(txn, r->store->datakeys, key, klen, &wrapped);
    }
    mdb_txn_abort(txn);
    if (st == ECL_ERR_NOT_FOUND) {
        out->n = 0;
        st = ECL_OK;
        goto out;
    }
    if (st == ECL_OK) {
        st = dk_unwrap(r, s->name, skey, &wrapped, dk);
    }
    if (st == ECL_OK) {
        st = open_json(ECL_SEALED_OBJECTIONS, dk, s->name, skey, &sealed, &a);
    }
    if (st == ECL_OK) {
        st = purposes_from_json(a, out);
    }
out:
    json_decref(a);
    ecl_wipe(dk, sizeof dk);
    ecl_buf_free(&wrapped);
    ecl_buf_free(&sealed);
    return st;
}

/* ---- record-KEK rotation ------------------------------------------------------------------- */

enum ecl_status
ecl_records_kek_count(struct ecl_records *r, uint32_t lo, uint32_t hi, uint64_t *out)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k;
    MDB_val v;
    uint64_t n = 0;
    enum ecl_status st;
    int rc;

    ECL_GUARD(txn_begin(r, MDB_RDONLY, &txn));
    st = ecl_store_mdb_status(mdb_cursor_open(txn, r->store->datakeys, &cur));
    if (st != ECL_OK) {
        goto out;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && st == ECL_OK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint32_t version = 0;
        st = ecl_record_key_version(v.mv_data, v.mv_size, &version);
        if (st == ECL_OK && version >= lo && version <= hi) {
            n++;
        }
    }
    if (st == ECL_OK && rc != MDB_NOTFOUND) {
        st = ecl_store_mdb_status(rc);
    }
out:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (st == ECL_OK) {
        *out = n;
    }
    return st;
}

/* Rewraps the data key of one row (key k, wrapped value v) under the current KEK into out. */
static enum ecl_status
rewrap_one(const struct ecl_records *r, const MDB_val *k, const MDB_val *v, uint32_t version,
           uint8_t out[ECL_WRAPPED_KEY_LEN])
{
    char dataset[ECL_NAME_MAX_LEN + 1];
    uint8_t old[ECL_KEY_LEN];
    uint8_t dk[ECL_KEY_LEN];
    const uint8_t *kb = k->mv_data;
    size_t dl = strnlen(k->mv_data, k->mv_size);
    enum ecl_status st;

    if (dl == 0 || dl > ECL_NAME_MAX_LEN || k->mv_size != dl + 1 + ECL_SUBJECT_KEY_LEN) {
        return ECL_ERR_INTERNAL;
    }
    memcpy(dataset, kb, dl);
    dataset[dl] = 0;
    st = ecl_keyring_key_at(r->kr, ECL_KEY_RECORD_KEK, version, old);
    if (st == ECL_OK) {
        st = ecl_record_key_unwrap(old, dataset, kb + dl + 1, v->mv_data, v->mv_size, dk);
    }
    if (st == ECL_OK) {
        ecl_record_key_wrap(ecl_keyring_key(r->kr, ECL_KEY_RECORD_KEK),
                            ecl_keyring_version(r->kr, ECL_KEY_RECORD_KEK), dataset, kb + dl + 1,
                            dk, out);
    }
    ecl_wipe(old, sizeof old);
    ecl_wipe(dk, sizeof dk);
    return st;
}

enum ecl_status
ecl_records_kek_rewrap(struct ecl_records *r, struct ecl_kek_rewrap_pos *pos, size_t max,
                       uint64_t *rewrapped, int *done)
{
    struct ecl_kek_rewrap_pos at = *pos;
    uint32_t current = ecl_keyring_version(r->kr, ECL_KEY_RECORD_KEK);
    uint8_t wrapped_new[ECL_WRAPPED_KEY_LEN];
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k;
    MDB_val v;
    uint64_t n = 0;
    enum ecl_status st;
    int rc;

    if (ecl_keyring_key(r->kr, ECL_KEY_RECORD_KEK) == NULL) {
        return ECL_ERR_PERM;
    }
    ECL_GUARD(txn_begin(r, 0, &txn));
    st = ecl_store_mdb_status(mdb_cursor_open(txn, r->store->datakeys, &cur));
    if (st != ECL_OK) {
        goto out;
    }
    if (at.len == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    } else {
        k.mv_size = at.len;
        k.mv_data = at.key;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == at.len && memcmp(k.mv_data, at.key, at.len) == 0) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
    }
    while (rc == 0 && n < max) {
        uint32_t version = 0;
        if (k.mv_size > sizeof at.key) {
            st = ECL_ERR_INTERNAL;
            goto out;
        }
        memcpy(at.key, k.mv_data, k.mv_size);
        at.len = k.mv_size;
        st = ecl_record_key_version(v.mv_data, v.mv_size, &version);
        if (st == ECL_OK && version != current) {
            st = rewrap_one(r, &k, &v, version, wrapped_new);
            if (st == ECL_OK) {
                MDB_val nv = {sizeof wrapped_new, wrapped_new};
                st = ecl_store_mdb_status(mdb_cursor_put(cur, &k, &nv, MDB_CURRENT));
            }
            n++;
        }
        if (st != ECL_OK) {
            goto out;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        st = ecl_store_mdb_status(rc);
        goto out;
    }
    mdb_cursor_close(cur);
    cur = NULL;
    st = txn_commit(txn);
    txn = NULL;
    if (st == ECL_OK) {
        *pos = at;
        *rewrapped = n;
        *done = rc == MDB_NOTFOUND;
    }
out:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return st;
}
