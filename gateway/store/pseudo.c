/* The look-up-by-pseudonym index: LMDB key = index key (32 bytes) || dataset name, value = the
 * sealed target, in the audit environment (legacy entries: the records environment).  See
 * pseudo.h. */
#include <string.h>

#include "pseudo.h"
#include "store_internal.h"

enum { PSEUDO_KEY_MAX = ECL_PSEUDO_DB_KEY_MAX };

static int
key_make(const uint8_t key[ECL_PSEUDO_INDEX_KEY_LEN], const char *dataset,
         uint8_t out[PSEUDO_KEY_MAX], size_t *len)
{
    size_t n = dataset != NULL ? strnlen(dataset, ECL_NAME_MAX_LEN + 1) : 0;

    if (n == 0 || n > ECL_NAME_MAX_LEN) {
        return 0;
    }
    memcpy(out, key, ECL_PSEUDO_INDEX_KEY_LEN);
    memcpy(out + ECL_PSEUDO_INDEX_KEY_LEN, dataset, n);
    *len = ECL_PSEUDO_INDEX_KEY_LEN + n;
    return 1;
}

int
ecl_store_pseudo_key(const uint8_t key[ECL_PSEUDO_INDEX_KEY_LEN], const char *dataset,
                     uint8_t out[ECL_PSEUDO_DB_KEY_MAX], size_t *len)
{
    return key_make(key, dataset, out, len);
}

enum ecl_status
ecl_store_pseudo_put(struct ecl_store *s, const struct ecl_pseudo_entry *entries, size_t n)
{
    uint8_t kb[PSEUDO_KEY_MAX];
    MDB_txn *txn = NULL;
    int rc;

    if (s->readonly || !s->has_a_pseudo) {
        return ECL_ERR_PERM;
    }
    if (n > ECL_PSEUDO_PUT_MAX) {
        return ECL_ERR_LIMIT;
    }
    for (size_t i = 0; i < n; i++) {
        size_t klen = 0;
        if (!key_make(entries[i].key, entries[i].dataset, kb, &klen) || entries[i].val == NULL ||
            entries[i].val_len == 0 || entries[i].val_len > ECL_PSEUDO_VALUE_MAX) {
            return ECL_ERR_INVALID;
        }
    }
    if (n == 0) {
        return ECL_OK;
    }
    rc = mdb_txn_begin(s->aud_env, NULL, 0, &txn);
    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t klen = 0;
        (void)key_make(entries[i].key, entries[i].dataset, kb, &klen);
        MDB_val k = {.mv_size = klen, .mv_data = kb};
        MDB_val v = {.mv_size = entries[i].val_len, .mv_data = (void *)entries[i].val};
        rc = mdb_put(txn, s->a_pseudo, &k, &v, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST) {
            rc = 0;
        }
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return ecl_store_mdb_status(rc);
    }
    return ecl_store_mdb_status(mdb_txn_commit(txn));
}

/* One keyed look-up in env's dbi, copied out before the transaction ends (the map pages are
 * only valid inside it). */
static enum ecl_status
get_in(MDB_env *env, MDB_dbi dbi, MDB_val *k, struct ecl_buf *out)
{
    MDB_txn *txn = NULL;
    MDB_val v;
    enum ecl_status st;
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);

    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    rc = mdb_get(txn, dbi, k, &v);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return ecl_store_mdb_status(rc);
    }
    st = v.mv_size <= ECL_PSEUDO_VALUE_MAX ? ecl_buf_append(out, v.mv_data, v.mv_size)
                                           : ECL_ERR_INTERNAL;
    mdb_txn_abort(txn);
    return st;
}

enum ecl_status
ecl_store_pseudo_get(struct ecl_store *s, const uint8_t key[ECL_PSEUDO_INDEX_KEY_LEN],
                     const char *dataset, struct ecl_buf *out)
{
    uint8_t kb[PSEUDO_KEY_MAX];
    size_t klen = 0;
    MDB_val k;
    enum ecl_status st = ECL_ERR_NOT_FOUND;

    if (!key_make(key, dataset, kb, &klen)) {
        return ECL_ERR_INVALID;
    }
    k.mv_size = klen;
    k.mv_data = kb;
    if (s->has_a_pseudo) {
        st = get_in(s->aud_env, s->a_pseudo, &k, out);
    }
    if (st == ECL_ERR_NOT_FOUND) {
        /* entries written before the index moved to the audit environment */
        st = get_in(s->rec_env, s->pseudo, &k, out);
    }
    return st;
}
