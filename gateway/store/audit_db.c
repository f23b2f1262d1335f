/* LMDB access for the audit log: read snapshots and the writer's single durable commit. */
#include <stdlib.h>
#include <string.h>

#include "audit_db.h"
#include "ecl/buf.h"
#include "store_internal.h"

#define META_SIZE_KEY "size"

struct ecl_audit_txn {
    struct ecl_store *s;
    MDB_txn *txn;
};

static MDB_dbi
table_dbi(const struct ecl_store *s, enum ecl_audit_table table)
{
    switch (table) {
    case ECL_AUDIT_T_ENTRIES:
        return s->a_entries;
    case ECL_AUDIT_T_NODES:
        return s->a_nodes;
    case ECL_AUDIT_T_CHECKPOINTS:
        return s->a_checkpoints;
    case ECL_AUDIT_T_IDX_SUBJECT:
        return s->a_idx_subject;
    case ECL_AUDIT_T_IDX_PRINCIPAL:
        return s->a_idx_principal;
    case ECL_AUDIT_T_META:
        return s->a_meta;
    case ECL_AUDIT_T_PSEUDO:
        return s->a_pseudo;
    }
    abort();
}

void
ecl_audit_db_node_key(unsigned level, uint64_t index, uint8_t out[ECL_AUDIT_NODE_KEY_LEN])
{
    out[0] = (uint8_t)level;
    ecl_put_u64(out + 1, index);
}

enum ecl_status
ecl_audit_db_begin(struct ecl_store *s, struct ecl_audit_txn **out)
{
    struct ecl_audit_txn *t = calloc(1, sizeof *t);
    int rc;

    if (t == NULL) {
        return ECL_ERR_NOMEM;
    }
    rc = mdb_txn_begin(s->aud_env, NULL, MDB_RDONLY, &t->txn);
    if (rc != 0) {
        free(t);
        return ecl_store_mdb_status(rc);
    }
    t->s = s;
    *out = t;
    return ECL_OK;
}

void
ecl_audit_db_end(struct ecl_audit_txn *t)
{
    if (t != NULL) {
        mdb_txn_abort(t->txn);
        free(t);
    }
}

enum ecl_status
ecl_audit_db_get(struct ecl_audit_txn *t, enum ecl_audit_table table, const void *key,
                 size_t key_len, struct ecl_view *out)
{
    MDB_val k = {key_len, (void *)(uintptr_t)key};
    MDB_val v;
    int rc = mdb_get(t->txn, table_dbi(t->s, table), &k, &v);

    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    out->ptr = v.mv_data;
    out->len = v.mv_size;
    return ECL_OK;
}

static enum ecl_status
read_size(MDB_txn *txn, const struct ecl_store *s, uint64_t *out)
{
    MDB_val k = {strlen(META_SIZE_KEY), (void *)(uintptr_t)META_SIZE_KEY};
    MDB_val v;
    int rc = mdb_get(txn, s->a_meta, &k, &v);

    if (rc == MDB_NOTFOUND) {
        *out = 0;
        return ECL_OK;
    }
    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    if (v.mv_size != 8) {
        return ECL_ERR_INVALID;
    }
    *out = ecl_get_u64(v.mv_data);
    return ECL_OK;
}

enum ecl_status
ecl_audit_db_size(struct ecl_audit_txn *t, uint64_t *out)
{
    return read_size(t->txn, t->s, out);
}

enum ecl_status
ecl_audit_db_entry(struct ecl_audit_txn *t, uint64_t seq, struct ecl_view *out)
{
    uint8_t key[8];

    ecl_put_u64(key, seq);
    return ecl_audit_db_get(t, ECL_AUDIT_T_ENTRIES, key, sizeof key, out);
}

enum ecl_status
ecl_audit_db_node(struct ecl_audit_txn *t, unsigned level, uint64_t index, uint8_t out[32])
{
    uint8_t key[ECL_AUDIT_NODE_KEY_LEN];
    struct ecl_view v = {NULL, 0};

    ecl_audit_db_node_key(level, index, key);
    ECL_GUARD(ecl_audit_db_get(t, ECL_AUDIT_T_NODES, key, sizeof key, &v));
    if (v.len != 32) {
        return ECL_ERR_INVALID;
    }
    memcpy(out, v.ptr, 32);
    return ECL_OK;
}

enum ecl_status
ecl_audit_db_checkpoint_last(struct ecl_audit_txn *t, uint64_t *size, struct ecl_view *note)
{
    MDB_cursor *c = NULL;
    MDB_val k;
    MDB_val v;
    int rc = mdb_cursor_open(t->txn, t->s->a_checkpoints, &c);

    if (rc == 0) {
        rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
        mdb_cursor_close(c);
    }
    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    if (k.mv_size != 8) {
        return ECL_ERR_INVALID;
    }
    *size = ecl_get_u64(k.mv_data);
    note->ptr = v.mv_data;
    note->len = v.mv_size;
    return ECL_OK;
}

enum ecl_status
ecl_audit_db_count(struct ecl_audit_txn *t, enum ecl_audit_table table, size_t *out)
{
    MDB_stat st;
    int rc = mdb_stat(t->txn, table_dbi(t->s, table), &st);

    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    *out = st.ms_entries;
    return ECL_OK;
}

enum ecl_status
ecl_audit_db_scan(struct ecl_audit_txn *t, enum ecl_audit_table table, const void *from,
                  size_t from_len, ecl_audit_db_row_fn fn, void *arg)
{
    MDB_cursor *c = NULL;
    MDB_val k = {from_len, (void *)(uintptr_t)from};
    MDB_val v;
    int rc = mdb_cursor_open(t->txn, table_dbi(t->s, table), &c);

    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    rc = mdb_cursor_get(c, &k, &v, from_len > 0 ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0) {
        struct ecl_view kv = {k.mv_data, k.mv_size};
        struct ecl_view vv = {v.mv_data, v.mv_size};
        if (fn(arg, kv, vv) != 0) {
            break;
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return ecl_store_mdb_status(rc);
    }
    return ECL_OK;
}

enum ecl_status
ecl_audit_db_begin_write(struct ecl_store *s, struct ecl_audit_txn **out)
{
    struct ecl_audit_txn *t;
    int rc;

    if (s->readonly) {
        return ECL_ERR_PERM;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL) {
        return ECL_ERR_NOMEM;
    }
    rc = mdb_txn_begin(s->aud_env, NULL, 0, &t->txn);
    if (rc != 0) {
        free(t);
        return ecl_store_mdb_status(rc);
    }
    t->s = s;
    *out = t;
    return ECL_OK;
}

static enum ecl_status commit_in(MDB_txn *txn, struct ecl_store *s, uint64_t old_size,
                                 uint64_t new_size, const struct ecl_audit_db_row *rows,
                                 size_t nrows);

enum ecl_status
ecl_audit_db_commit_txn(struct ecl_audit_txn *t, uint64_t old_size, uint64_t new_size,
                        const struct ecl_audit_db_row *rows, size_t nrows)
{
    enum ecl_status st = commit_in(t->txn, t->s, old_size, new_size, rows, nrows);

    free(t); /* commit_in committed or aborted the transaction */
    return st;
}

enum ecl_status
ecl_audit_db_commit(struct ecl_store *s, uint64_t old_size, uint64_t new_size,
                    const struct ecl_audit_db_row *rows, size_t nrows)
{
    MDB_txn *txn = NULL;
    int rc;

    if (s->readonly) {
        return ECL_ERR_PERM;
    }
    rc = mdb_txn_begin(s->aud_env, NULL, 0, &txn);
    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    return commit_in(txn, s, old_size, new_size, rows, nrows);
}

static enum ecl_status
commit_in(MDB_txn *txn, struct ecl_store *s, uint64_t old_size, uint64_t new_size,
          const struct ecl_audit_db_row *rows, size_t nrows)
{
    uint64_t cur = 0;
    uint8_t size_be[8];
    MDB_val k;
    MDB_val v;
    enum ecl_status st;
    int rc;

    st = read_size(txn, s, &cur);
    if (st == ECL_OK && cur != old_size) {
        st = ECL_ERR_CONFLICT;
    }
    for (size_t i = 0; i < nrows && st == ECL_OK; i++) {
        /* entries and checkpoints have increasing keys: MDB_APPEND fills pages completely and
         * refuses a key that is not past the last one; everything else is never overwritten */
        unsigned flags = rows[i].table == ECL_AUDIT_T_META ? 0 : MDB_NOOVERWRITE;
        if (rows[i].table == ECL_AUDIT_T_ENTRIES || rows[i].table == ECL_AUDIT_T_CHECKPOINTS) {
            flags = MDB_APPEND;
        }
        k.mv_size = rows[i].key.len;
        k.mv_data = (void *)(uintptr_t)rows[i].key.ptr;
        v.mv_size = rows[i].val.len;
        v.mv_data = (void *)(uintptr_t)rows[i].val.ptr;
        rc = mdb_put(txn, table_dbi(s, rows[i].table), &k, &v, flags);
        if (rc == MDB_KEYEXIST && rows[i].table == ECL_AUDIT_T_PSEUDO) {
            rc = 0; /* the same pseudonym of the same dataset names the same subject */
        }
        st = ecl_store_mdb_status(rc);
    }
    if (st == ECL_OK) {
        ecl_put_u64(size_be, new_size);
        k.mv_size = strlen(META_SIZE_KEY);
        k.mv_data = (void *)(uintptr_t)META_SIZE_KEY;
        v.mv_size = sizeof size_be;
        v.mv_data = size_be;
        st = ecl_store_mdb_status(mdb_put(txn, s->a_meta, &k, &v, 0));
    }
    if (st != ECL_OK) {
        mdb_txn_abort(txn);
        return st;
    }
    /* mdb_txn_commit frees the transaction even when it fails; the environment is durable
     * (no NOSYNC), so success means the data and the meta page are on disk. */
    return ecl_store_mdb_status(mdb_txn_commit(txn));
}
