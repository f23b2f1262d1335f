/* Policy versions in the `policies` database.  See policy_db.h for the layout. */
#include <stdlib.h>
#include <string.h>

#include "policy_db.h"
#include "store_internal.h"

static const char KEY_ACTIVE[] = "active";
static const char KEY_LATEST[] = "latest";

void
ecl_policy_db_hash(const struct ecl_policy *p, char out[2 * ECL_HASH_LEN + 1])
{
    uint8_t h[ECL_HASH_LEN];
    size_t len = 0;
    const char *c = ecl_policy_canonical(p, &len);

    ecl_crypto_blake2b(h, sizeof h, NULL, 0, c, len);
    ecl_hex(h, sizeof h, out);
}

static enum ecl_status
get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *out)
{
    MDB_val k = {strlen(key), (void *)key};
    MDB_val v;
    int rc = mdb_get(txn, dbi, &k, &v);

    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    if (v.mv_size != 8) {
        return ECL_ERR_INTERNAL;
    }
    *out = ecl_get_u64(v.mv_data);
    return ECL_OK;
}

static enum ecl_status
put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t val)
{
    uint8_t b[8];
    MDB_val k = {strlen(key), (void *)key};
    MDB_val v = {sizeof b, b};

    ecl_put_u64(b, val);
    return ecl_store_mdb_status(mdb_put(txn, dbi, &k, &v, 0));
}

static int
author_ok(const char *a)
{
    size_t n = strlen(a);

    if (n == 0 || n > ECL_POLICY_AUTHOR_MAX_LEN) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)a[i] < 0x20 || a[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* Parses a stored value into meta (version set by the caller) and, optionally, the document. */
static enum ecl_status
decode(const MDB_val *v, uint64_t version, struct ecl_buf *doc, struct ecl_policy_meta *meta)
{
    const char *why = NULL;
    json_t *o = ecl_json_load(v->mv_data, v->mv_size, 2, &why, NULL);
    const json_t *author;
    const json_t *hash;
    const json_t *created;
    const json_t *d;
    enum ecl_status st = ECL_ERR_INTERNAL;

    if (o == NULL) {
        return ECL_ERR_INTERNAL;
    }
    author = json_object_get(o, "author");
    hash = json_object_get(o, "hash");
    created = json_object_get(o, "created");
    d = json_object_get(o, "document");
    if (!json_is_string(author) || json_string_length(author) > ECL_POLICY_AUTHOR_MAX_LEN ||
        !json_is_string(hash) || json_string_length(hash) != 2 * ECL_HASH_LEN ||
        !json_is_string(created) || !json_is_string(d)) {
        goto out;
    }
    if (meta != NULL) {
        memset(meta, 0, sizeof *meta);
        meta->version = version;
        if (!ecl_rfc3339_parse(json_string_value(created), json_string_length(created),
                               &meta->created)) {
            goto out;
        }
        memcpy(meta->author, json_string_value(author), json_string_length(author) + 1);
        memcpy(meta->hash, json_string_value(hash), 2 * ECL_HASH_LEN + 1);
    }
    st = ECL_OK;
    if (doc != NULL) {
        st = ecl_buf_append(doc, json_string_value(d), json_string_length(d));
    }
out:
    json_decref(o);
    return st;
}

enum ecl_status
ecl_policy_db_put(struct ecl_store *s, const struct ecl_policy *p, const char *author,
                  int64_t created, struct ecl_policy_meta *out)
{
    struct ecl_policy_meta meta;
    char when[21];
    uint8_t kb[8];
    size_t len = 0;
    const char *canon = ecl_policy_canonical(p, &len);
    json_t *o = NULL;
    char *val = NULL;
    MDB_txn *txn = NULL;
    uint64_t latest = 0;
    enum ecl_status st;

    if (!author_ok(author) || !ecl_rfc3339_format(created, when)) {
        return ECL_ERR_INVALID;
    }
    memset(&meta, 0, sizeof meta);
    memcpy(meta.author, author, strlen(author) + 1);
    meta.created = created;
    ecl_policy_db_hash(p, meta.hash);
    o = json_pack("{s:s,s:s,s:s,s:s%}", "author", author, "created", when, "hash", meta.hash,
                  "document", canon, len);
    val = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (val == NULL) {
        st = ECL_ERR_NOMEM;
        goto out;
    }
    st = ecl_store_mdb_status(mdb_txn_begin(s->rec_env, NULL, 0, &txn));
    if (st != ECL_OK) {
        txn = NULL;
        goto out;
    }
    st = get_u64(txn, s->policies, KEY_LATEST, &latest);
    if (st == ECL_ERR_NOT_FOUND) {
        latest = 0;
        st = ECL_OK;
    }
    if (st == ECL_OK && latest >= ECL_POLICY_MAX_VERSIONS) {
        st = ECL_ERR_LIMIT;
    }
    if (st == ECL_OK) {
        MDB_val k = {sizeof kb, kb};
        MDB_val v = {strlen(val), val};
        meta.version = latest + 1;
        ecl_put_u64(kb, meta.version);
        st = ecl_store_mdb_status(mdb_put(txn, s->policies, &k, &v, MDB_NOOVERWRITE));
    }
    if (st == ECL_OK) {
        st = put_u64(txn, s->policies, KEY_LATEST, meta.version);
    }
    if (st == ECL_OK) {
        st = put_u64(txn, s->policies, KEY_ACTIVE, meta.version);
    }
    if (st == ECL_OK) {
        st = ecl_store_mdb_status(mdb_txn_commit(txn));
        txn = NULL;
    }
    if (st == ECL_OK) {
        *out = meta;
    }
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    free(val);
    json_decref(o);
    return st;
}

enum ecl_status
ecl_policy_db_active(struct ecl_store *s, uint64_t *out)
{
    MDB_txn *txn = NULL;
    enum ecl_status st = ecl_store_mdb_status(mdb_txn_begin(s->rec_env, NULL, MDB_RDONLY, &txn));

    if (st != ECL_OK) {
        return st;
    }
    st = get_u64(txn, s->policies, KEY_ACTIVE, out);
    mdb_txn_abort(txn);
    return st;
}

enum ecl_status
ecl_policy_db_get(struct ecl_store *s, uint64_t version, struct ecl_buf *doc,
                  struct ecl_policy_meta *meta)
{
    uint8_t kb[8];
    MDB_val k = {sizeof kb, kb};
    MDB_val v;
    MDB_txn *txn = NULL;
    enum ecl_status st = ecl_store_mdb_status(mdb_txn_begin(s->rec_env, NULL, MDB_RDONLY, &txn));

    if (st != ECL_OK) {
        return st;
    }
    ecl_put_u64(kb, version);
    st = ecl_store_mdb_status(mdb_get(txn, s->policies, &k, &v));
    if (st == ECL_OK) {
        st = decode(&v, version, doc, meta);
    }
    mdb_txn_abort(txn);
    return st;
}

enum ecl_status
ecl_policy_db_list(struct ecl_store *s, ecl_policy_db_visit_fn fn, void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k;
    MDB_val v;
    int rc;
    enum ecl_status st = ecl_store_mdb_status(mdb_txn_begin(s->rec_env, NULL, MDB_RDONLY, &txn));

    if (st != ECL_OK) {
        return st;
    }
    rc = mdb_cursor_open(txn, s->policies, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    while (rc == 0 && st == ECL_OK) {
        /* versions are the 8-byte keys; "active" and "latest" are not versions */
        if (k.mv_size == 8) {
            struct ecl_policy_meta meta;
            st = decode(&v, ecl_get_u64(k.mv_data), NULL, &meta);
            if (st == ECL_OK) {
                st = fn(&meta, arg);
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (st == ECL_OK && rc != MDB_NOTFOUND) {
        st = ecl_store_mdb_status(rc);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return st;
}

void
ecl_policy_db_schemas_free(struct ecl_schema **schemas, size_t n)
{
    for (size_t i = 0; schemas != NULL && i < n; i++) {
        ecl_schema_free(schemas[i]);
    }
    free(schemas);
}

enum ecl_status
ecl_policy_db_schemas(struct ecl_store *s, struct ecl_schema ***out, size_t *n)
{
    struct ecl_schema **list = calloc(ECL_POLICY_MAX_DATASETS, sizeof *list);
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k;
    MDB_val v;
    size_t count = 0;
    int rc;
    enum ecl_status st;

    if (list == NULL) {
        return ECL_ERR_NOMEM;
    }
    st = ecl_store_mdb_status(mdb_txn_begin(s->rec_env, NULL, MDB_RDONLY, &txn));
    if (st != ECL_OK) {
        txn = NULL;
        goto out;
    }
    rc = mdb_cursor_open(txn, s->datasets, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    while (rc == 0 && st == ECL_OK) {
        struct ecl_diags d;
        ecl_diags_init(&d);
        if (count >= ECL_POLICY_MAX_DATASETS) {
            st = ECL_ERR_LIMIT;
            break;
        }
        /* a stored schema that does not parse is corruption, not user input */
        if (ecl_schema_parse(v.mv_data, v.mv_size, &d, &list[count]) != ECL_OK) {
            st = ECL_ERR_INTERNAL;
            break;
        }
        count++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (st == ECL_OK && rc != MDB_NOTFOUND) {
        st = ecl_store_mdb_status(rc);
    }
out:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    if (st != ECL_OK) {
        ecl_policy_db_schemas_free(list, count);
        return st;
    }
    *out = list;
    *n = count;
    return ECL_OK;
}

enum ecl_status
ecl_policy_db_load(struct ecl_store *s, uint64_t version, struct ecl_diags *diags,
                   struct ecl_policy **out, struct ecl_policy_meta *meta)
{
    struct ecl_schema **schemas = NULL;
    struct ecl_policy_meta m;
    struct ecl_buf doc;
    size_t n = 0;
    enum ecl_status st = ECL_OK;

    ecl_buf_init(&doc, ECL_POLICY_MAX_BYTES);
    if (version == 0) {
        st = ecl_policy_db_active(s, &version);
    }
    if (st == ECL_OK) {
        st = ecl_policy_db_get(s, version, &doc, &m);
    }
    if (st == ECL_OK) {
        st = ecl_policy_db_schemas(s, &schemas, &n);
    }
    if (st == ECL_OK) {
        st = ecl_policy_parse((const char *)doc.ptr, doc.len,
                              (const struct ecl_schema *const *)schemas, n, diags, out);
    }
    if (st == ECL_OK && meta != NULL) {
        *meta = m;
    }
    ecl_policy_db_schemas_free(schemas, n);
    ecl_buf_free(&doc);
    return st;
}

enum ecl_status
ecl_policy_db_activate(struct ecl_store *s, uint64_t version, struct ecl_diags *diags)
{
    struct ecl_policy *p = NULL;
    MDB_txn *txn = NULL;
    uint8_t kb[8];
    MDB_val k = {sizeof kb, kb};
    MDB_val v;
    enum ecl_status st;

    if (version == 0) {
        return ECL_ERR_NOT_FOUND;
    }
    ECL_GUARD(ecl_policy_db_load(s, version, diags, &p, NULL));
    ecl_policy_free(p);
    st = ecl_store_mdb_status(mdb_txn_begin(s->rec_env, NULL, 0, &txn));
    if (st != ECL_OK) {
        return st;
    }
    /* the version must still exist in this transaction */
    ecl_put_u64(kb, version);
    st = ecl_store_mdb_status(mdb_get(txn, s->policies, &k, &v));
    if (st == ECL_OK) {
        st = put_u64(txn, s->policies, KEY_ACTIVE, version);
    }
    if (st == ECL_OK) {
        st = ecl_store_mdb_status(mdb_txn_commit(txn));
    } else {
        mdb_txn_abort(txn);
    }
    return st;
}
