/* Test-only: rewrites a data directory's audit environment the way an attacker with root and
 * the disk could (tests/ may include <lmdb.h>).  Every command commits one transaction.
 *
 *   audit_tamper DIR flip SEQ OFFSET BIT      flip one bit of the stored entry SEQ
 *   audit_tamper DIR delete SEQ               delete entry SEQ
 *   audit_tamper DIR swap SEQ1 SEQ2           exchange two stored entries
 *   audit_tamper DIR truncate N               delete entries >= N (entries only)
 *   audit_tamper DIR truncate-all N           delete entries, nodes, index rows and
 *                                             checkpoints beyond N and set the size: a
 *                                             self-consistent shorter log
 *   audit_tamper DIR idx-del subject|principal K   delete the K-th index row
 *   audit_tamper DIR idx-add subject|principal SEQ inject a row with a made-up token
 *   audit_tamper DIR cp-flip SIZE             flip a bit of checkpoint SIZE's signature
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

static MDB_env *env;
static MDB_txn *txn;
static void *scratch[2]; /* copies written by put(), freed after the commit */

static void
die(const char *what, int rc)
{
    fprintf(stderr, "audit_tamper: %s: %s\n", what, mdb_strerror(rc));
    exit(1);
}

static MDB_dbi
db(const char *name)
{
    MDB_dbi d;
    int rc = mdb_dbi_open(txn, name, 0, &d);
    if (rc != 0) {
        die(name, rc);
    }
    return d;
}

static void
be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t
get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Deletes every row of dbi for which keep() says 0. */
static void
prune(MDB_dbi d, int (*drop)(const MDB_val *k, uint64_t n), uint64_t n)
{
    MDB_cursor *c;
    MDB_val k;
    MDB_val v;
    int rc = mdb_cursor_open(txn, d, &c);

    if (rc != 0) {
        die("cursor", rc);
    }
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (drop(&k, n)) {
            if ((rc = mdb_cursor_del(c, 0)) != 0) {
                die("del", rc);
            }
            rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
            if (rc == MDB_NOTFOUND) {
                break;
            }
            if (rc == 0) {
                continue;
            }
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
}

static int
drop_seq(const MDB_val *k, uint64_t n)
{
    return get64(k->mv_data) >= n;
}

static int
drop_node(const MDB_val *k, uint64_t n)
{
    const uint8_t *p = k->mv_data;
    uint64_t end = (get64(p + 1) + 1) << p[0]; /* the node covers leaves up to end */
    return end > n;
}

static int
drop_cp(const MDB_val *k, uint64_t n)
{
    return get64(k->mv_data) > n;
}

static int
drop_idx(const MDB_val *k, uint64_t n)
{
    return get64((const uint8_t *)k->mv_data + 8) >= n;
}

static void
put(MDB_dbi d, MDB_val *k, MDB_val *v)
{
    int rc = mdb_put(txn, d, k, v, 0);
    if (rc != 0) {
        die("put", rc);
    }
}

int
main(int argc, char **argv)
{
    char path[4096];
    uint8_t key[16];
    uint8_t key2[8];
    MDB_val k = {8, key};
    MDB_val k2 = {8, key2};
    MDB_val v;
    MDB_val v2;
    int rc;

    if (argc < 4) {
        fprintf(stderr, "usage: audit_tamper DIR COMMAND ARGS (see the source)\n");
        return 64;
    }
    snprintf(path, sizeof path, "%s/audit", argv[1]);
    if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 8)) != 0 ||
        (rc = mdb_env_set_mapsize(env, (size_t)64 << 30)) != 0 ||
        (rc = mdb_env_open(env, path, 0, 0600)) != 0 ||
        (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
        die("open", rc);
    }
    const char *cmd = argv[2];
    if (strcmp(cmd, "flip") == 0 && argc == 6) {
        MDB_dbi d = db("entries");
        be64(key, strtoull(argv[3], NULL, 10));
        if ((rc = mdb_get(txn, d, &k, &v)) != 0) {
            die("get", rc);
        }
        uint8_t *copy = malloc(v.mv_size);
        scratch[0] = copy;
        memcpy(copy, v.mv_data, v.mv_size);
        size_t off = strtoul(argv[4], NULL, 10) % v.mv_size;
        copy[off] ^= (uint8_t)(1u << (atoi(argv[5]) & 7));
        v.mv_data = copy;
        put(d, &k, &v);
    } else if (strcmp(cmd, "delete") == 0) {
        be64(key, strtoull(argv[3], NULL, 10));
        if ((rc = mdb_del(txn, db("entries"), &k, NULL)) != 0) {
            die("del", rc);
        }
    } else if (strcmp(cmd, "swap") == 0 && argc == 5) {
        MDB_dbi d = db("entries");
        be64(key, strtoull(argv[3], NULL, 10));
        be64(key2, strtoull(argv[4], NULL, 10));
        if ((rc = mdb_get(txn, d, &k, &v)) != 0 || (rc = mdb_get(txn, d, &k2, &v2)) != 0) {
            die("get", rc);
        }
        void *a = malloc(v.mv_size);
        void *b = malloc(v2.mv_size);
        scratch[0] = a;
        scratch[1] = b;
        memcpy(a, v.mv_data, v.mv_size);
        memcpy(b, v2.mv_data, v2.mv_size);
        MDB_val va = {v.mv_size, a};
        MDB_val vb = {v2.mv_size, b};
        put(d, &k, &vb);
        put(d, &k2, &va);
    } else if (strcmp(cmd, "truncate") == 0) {
        prune(db("entries"), drop_seq, strtoull(argv[3], NULL, 10));
    } else if (strcmp(cmd, "truncate-all") == 0) {
        uint64_t n = strtoull(argv[3], NULL, 10);
        uint8_t size[8];
        MDB_val mk = {4, (void *)(uintptr_t) "size"};
        MDB_val mv = {8, size};
        prune(db("entries"), drop_seq, n);
        prune(db("nodes"), drop_node, n);
        prune(db("checkpoints"), drop_cp, n);
        prune(db("idx_subject"), drop_idx, n);
        prune(db("idx_principal"), drop_idx, n);
        be64(size, n);
        put(db("meta"), &mk, &mv);
    } else if (strcmp(cmd, "idx-del") == 0 && argc == 5) {
        MDB_dbi d = db(strcmp(argv[3], "subject") == 0 ? "idx_subject" : "idx_principal");
        MDB_cursor *c;
        long want = atol(argv[4]);
        mdb_cursor_open(txn, d, &c);
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        for (long i = 0; rc == 0 && i < want; i++) {
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        if (rc != 0 || (rc = mdb_cursor_del(c, 0)) != 0) {
            die("idx-del", rc);
        }
        mdb_cursor_close(c);
    } else if (strcmp(cmd, "idx-add") == 0 && argc == 5) {
        MDB_dbi d = db(strcmp(argv[3], "subject") == 0 ? "idx_subject" : "idx_principal");
        memcpy(key, "\x13\x37\xbe\xef\x00\x42\x42\x42", 8);
        be64(key + 8, strtoull(argv[4], NULL, 10));
        MDB_val ik = {16, key};
        MDB_val iv = {0, key};
        put(d, &ik, &iv);
    } else if (strcmp(cmd, "cp-flip") == 0) {
        MDB_dbi d = db("checkpoints");
        be64(key, strtoull(argv[3], NULL, 10));
        if ((rc = mdb_get(txn, d, &k, &v)) != 0) {
            die("get", rc);
        }
        char *copy = malloc(v.mv_size);
        scratch[0] = copy;
        memcpy(copy, v.mv_data, v.mv_size);
        /* a base64 character of the signature, well inside the last line */
        copy[v.mv_size - 10] = copy[v.mv_size - 10] == 'A' ? 'B' : 'A';
        v.mv_data = copy;
        put(d, &k, &v);
    } else {
        fprintf(stderr, "audit_tamper: unknown command\n");
        return 64;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        die("commit", rc);
    }
    mdb_env_close(env);
    free(scratch[0]);
    free(scratch[1]);
    return 0;
}
