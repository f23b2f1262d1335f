/* Opening and creating the two LMDB environments. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ecl/limits.h"
#include "store_internal.h"

enum { REC_MAX_DBS = 16, AUD_MAX_DBS = 8 };

enum ecl_status
ecl_store_mdb_status(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return ECL_OK;
    case MDB_NOTFOUND:
        return ECL_ERR_NOT_FOUND;
    case MDB_KEYEXIST:
        return ECL_ERR_EXISTS;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
        return ECL_ERR_FULL;
    case ENOMEM:
        return ECL_ERR_NOMEM;
    case EACCES:
        return ECL_ERR_PERM;
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_BAD_VALSIZE:
        return ECL_ERR_LIMIT;
    default:
        return ECL_ERR_IO;
    }
}

static size_t
map_size(const char *var, size_t dflt)
{
    /* A test hook for map-full experiments: a size, not a secret. */
    const char *s = getenv(var);
    char *end = NULL;
    unsigned long long mb;

    if (s == NULL || *s == 0) {
        return dflt;
    }
    mb = strtoull(s, &end, 10);
    if (*end != 0 || mb == 0 || mb > (1ULL << 24)) {
        return dflt;
    }
    return (size_t)mb << 20;
}

static enum ecl_status
env_open(const char *path, size_t mapsize, unsigned maxdbs, int readonly, MDB_env **out)
{
    MDB_env *env = NULL;
    int rc;
    int dead = 0;

    rc = mdb_env_create(&env);
    if (rc == 0) {
        rc = mdb_env_set_mapsize(env, mapsize);
    }
    if (rc == 0) {
        rc = mdb_env_set_maxdbs(env, maxdbs);
    }
    if (rc == 0) {
        rc = mdb_env_set_maxreaders(env, 512);
    }
    if (rc == 0) {
        /* Durable: no MDB_NOSYNC, MDB_NOMETASYNC, MDB_MAPASYNC or MDB_WRITEMAP, ever. */
        unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | (readonly ? MDB_RDONLY : 0);
        rc = mdb_env_open(env, path, flags, 0600);
    }
    if (rc != 0) {
        if (env != NULL) {
            mdb_env_close(env);
        }
        return ecl_store_mdb_status(rc);
    }
    mdb_reader_check(env, &dead);
    *out = env;
    return ECL_OK;
}

static enum ecl_status
dbi_open(MDB_env *env, int readonly, const char *const *names, MDB_dbi *const *dbis, size_t n)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(env, NULL, readonly ? MDB_RDONLY : 0, &txn);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = mdb_dbi_open(txn, names[i], readonly ? 0 : MDB_CREATE, dbis[i]);
    }
    if (rc != 0) {
        if (txn != NULL) {
            mdb_txn_abort(txn);
        }
        return ecl_store_mdb_status(rc);
    }
    return ecl_store_mdb_status(mdb_txn_commit(txn));
}

static enum ecl_status
store_open_dbs(struct ecl_store *s)
{
    const char *const rec_names[] = {"meta",       "datasets",   "records", "datakeys",
                                     "index",      "objections", "pseudo",  "policies",
                                     "principals", "approvals"};
    MDB_dbi *const rec_dbis[] = {&s->meta,       &s->datasets,   &s->records, &s->datakeys,
                                 &s->index,      &s->objections, &s->pseudo,  &s->policies,
                                 &s->principals, &s->approvals};
    const char *const aud_names[] = {"meta",        "entries",     "nodes",
                                     "checkpoints", "idx_subject", "idx_principal"};
    MDB_dbi *const aud_dbis[] = {&s->a_meta,        &s->a_entries,     &s->a_nodes,
                                 &s->a_checkpoints, &s->a_idx_subject, &s->a_idx_principal};
    _Static_assert(sizeof rec_names / sizeof rec_names[0] == sizeof rec_dbis / sizeof rec_dbis[0],
                   "records dbs");
    _Static_assert(sizeof aud_names / sizeof aud_names[0] == sizeof aud_dbis / sizeof aud_dbis[0],
                   "audit dbs");

    const char *const pseudo_name[] = {"pseudo"};
    MDB_dbi *const pseudo_dbi[] = {&s->a_pseudo};
    enum ecl_status st;

    ECL_GUARD(dbi_open(s->rec_env, s->readonly, rec_names, rec_dbis,
                       sizeof rec_names / sizeof rec_names[0]));
    ECL_GUARD(dbi_open(s->aud_env, s->readonly, aud_names, aud_dbis,
                       sizeof aud_names / sizeof aud_names[0]));
    /* added later than the others: a read-only open of an older store goes on without it */
    st = dbi_open(s->aud_env, s->readonly, pseudo_name, pseudo_dbi, 1);
    if (st == ECL_OK) {
        s->has_a_pseudo = 1;
    } else if (!(s->readonly && st == ECL_ERR_NOT_FOUND)) {
        return st;
    }
    return ECL_OK;
}

static enum ecl_status
open_at(const char *dir, int readonly, struct ecl_store **out)
{
    char rec[4096];
    char aud[4096];
    struct ecl_store *s;
    enum ecl_status st;

    if (snprintf(rec, sizeof rec, "%s/records", dir) >= (int)sizeof rec ||
        snprintf(aud, sizeof aud, "%s/audit", dir) >= (int)sizeof aud) {
        return ECL_ERR_LIMIT;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        return ECL_ERR_NOMEM;
    }
    s->readonly = readonly;
    st = env_open(rec, map_size("ECLUSE_RECORDS_MAP_MB", ECL_RECORDS_MAP_SIZE), REC_MAX_DBS,
                  readonly, &s->rec_env);
    if (st == ECL_OK) {
        st = env_open(aud, map_size("ECLUSE_AUDIT_MAP_MB", ECL_AUDIT_MAP_SIZE), AUD_MAX_DBS,
                      readonly, &s->aud_env);
    }
    if (st == ECL_OK) {
        st = store_open_dbs(s);
    }
    if (st != ECL_OK) {
        ecl_store_close(s);
        return st;
    }
    *out = s;
    return ECL_OK;
}

enum ecl_status
ecl_store_create(const char *dir)
{
    char path[4096];
    struct ecl_store *s = NULL;

    for (int i = 0; i < 2; i++) {
        const char *sub = i == 0 ? "records" : "audit";
        if (snprintf(path, sizeof path, "%s/%s", dir, sub) >= (int)sizeof path) {
            return ECL_ERR_LIMIT;
        }
        if (mkdir(path, 0700) != 0) {
            return errno == EEXIST ? ECL_ERR_EXISTS : ECL_ERR_IO;
        }
    }
    ECL_GUARD(open_at(dir, 0, &s));
    ecl_store_close(s);
    return ECL_OK;
}

enum ecl_status
ecl_store_open(const char *dir, enum ecl_store_flags flags, struct ecl_store **out)
{
    return open_at(dir, (flags & ECL_STORE_READONLY) != 0, out);
}

void
ecl_store_close(struct ecl_store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->rec_env != NULL) {
        mdb_env_close(s->rec_env);
    }
    if (s->aud_env != NULL) {
        mdb_env_close(s->aud_env);
    }
    free(s);
}

int
ecl_store_reader_check(struct ecl_store *s)
{
    int a = 0;
    int b = 0;

    mdb_reader_check(s->rec_env, &a);
    mdb_reader_check(s->aud_env, &b);
    return a + b;
}

static void
usage(MDB_env *env, size_t *used, size_t *size)
{
    MDB_envinfo info;
    MDB_stat st;

    *used = 0;
    *size = 0;
    if (mdb_env_info(env, &info) == 0 && mdb_env_stat(env, &st) == 0) {
        *size = info.me_mapsize;
        *used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
    }
}

void
ecl_store_map_usage(struct ecl_store *s, size_t *records_used, size_t *records_size,
                    size_t *audit_used, size_t *audit_size)
{
    usage(s->rec_env, records_used, records_size);
    usage(s->aud_env, audit_used, audit_size);
}
