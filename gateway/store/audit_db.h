/* The audit environment's tables: all LMDB access for the audit log (gateway/audit/ never sees
 * <lmdb.h>).  Layout (docs/audit-format.md, "Storage"):
 *
 *   entries       seq (u64 BE)                   -> leaf bytes (header || nonce || ciphertext)
 *   nodes         level (u8) || index (u64 BE)   -> SHA-256 of that perfect subtree (32 bytes)
 *   checkpoints   tree size (u64 BE)             -> signed note (C2SP checkpoint)
 *   idx_subject   token (8) || seq (u64 BE)      -> ""
 *   idx_principal token (8) || seq (u64 BE)      -> ""
 *   meta          "size"                         -> tree size (u64 BE)
 *   pseudo        index key (32) || dataset      -> sealed target (the look-up-by-pseudonym
 *                                                   index, pseudo.h; not part of the log: the
 *                                                   verifier ignores it)
 *
 * Read snapshots are LMDB read transactions (MDB_NOTLS: any thread, one at a time); views they
 * return are valid until ecl_audit_db_end.  Writes happen only in ecl_audit_db_commit, one
 * durable transaction per call. */
#ifndef ECL_AUDIT_DB_H
#define ECL_AUDIT_DB_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/buf.h"
#include "ecl/status.h"
#include "store.h"

enum ecl_audit_table {
    ECL_AUDIT_T_ENTRIES = 0,
    ECL_AUDIT_T_NODES,
    ECL_AUDIT_T_CHECKPOINTS,
    ECL_AUDIT_T_IDX_SUBJECT,
    ECL_AUDIT_T_IDX_PRINCIPAL,
    ECL_AUDIT_T_META,
    ECL_AUDIT_T_PSEUDO, /* written with MDB_NOOVERWRITE; an existing key is kept, not an error */
};
#define ECL_AUDIT_TABLE_COUNT 7

enum { ECL_AUDIT_NODE_KEY_LEN = 9, ECL_AUDIT_IDX_KEY_LEN = 16 };

struct ecl_audit_txn; /* a read snapshot of the audit environment */

enum ecl_status ecl_audit_db_begin(struct ecl_store *s, struct ecl_audit_txn **out) ECL_WUR;
void ecl_audit_db_end(struct ecl_audit_txn *t);

/* The tree size recorded in meta (0 for a new log). */
enum ecl_status ecl_audit_db_size(struct ecl_audit_txn *t, uint64_t *out) ECL_WUR;
/* Looks a key up; ECL_ERR_NOT_FOUND when absent.  *out borrows the snapshot. */
enum ecl_status ecl_audit_db_get(struct ecl_audit_txn *t, enum ecl_audit_table table,
                                 const void *key, size_t key_len, struct ecl_view *out) ECL_WUR;
enum ecl_status ecl_audit_db_entry(struct ecl_audit_txn *t, uint64_t seq,
                                   struct ecl_view *out) ECL_WUR;
enum ecl_status ecl_audit_db_node(struct ecl_audit_txn *t, unsigned level, uint64_t index,
                                  uint8_t out[32]) ECL_WUR;
/* The checkpoint with the largest size; ECL_ERR_NOT_FOUND for a log without one. */
enum ecl_status ecl_audit_db_checkpoint_last(struct ecl_audit_txn *t, uint64_t *size,
                                             struct ecl_view *note) ECL_WUR;
/* Number of rows of a table. */
enum ecl_status ecl_audit_db_count(struct ecl_audit_txn *t, enum ecl_audit_table table,
                                   size_t *out) ECL_WUR;

/* Calls fn for every row whose key is >= from (from_len 0: from the first row), in key order,
 * until fn returns nonzero or the rows end.  Views are valid during the call only. */
typedef int (*ecl_audit_db_row_fn)(void *arg, struct ecl_view key, struct ecl_view val);
enum ecl_status ecl_audit_db_scan(struct ecl_audit_txn *t, enum ecl_audit_table table,
                                  const void *from, size_t from_len, ecl_audit_db_row_fn fn,
                                  void *arg) ECL_WUR;

void ecl_audit_db_node_key(unsigned level, uint64_t index, uint8_t out[ECL_AUDIT_NODE_KEY_LEN]);

/* One row to write.  Entries, nodes and checkpoints are append-only: writing an existing key is
 * refused (ECL_ERR_EXISTS) and nothing of the batch is written. */
struct ecl_audit_db_row {
    enum ecl_audit_table table;
    struct ecl_view key;
    struct ecl_view val;
};

/* Writes rows and sets meta "size" to new_size in one write transaction, then commits it durably
 * (fsync).  ECL_ERR_CONFLICT, with nothing written, when meta "size" is not old_size (another
 * process wrote to the log).  Any other failure (ECL_ERR_FULL for a full map or disk, ECL_ERR_IO)
 * means the batch is not committed.  Called by the audit writer thread only. */
enum ecl_status ecl_audit_db_commit(struct ecl_store *s, uint64_t old_size, uint64_t new_size,
                                    const struct ecl_audit_db_row *rows, size_t nrows) ECL_WUR;

/* The same in two steps, for a writer that must read the current tree state under the write
 * lock (another process may write to the log too): ecl_audit_db_begin_write starts a write
 * transaction (waiting for any other process's write to finish) whose handle the read
 * functions above accept, and ecl_audit_db_commit_txn writes rows, commits durably and frees
 * the handle whatever the outcome (ecl_audit_db_end aborts it instead). */
enum ecl_status ecl_audit_db_begin_write(struct ecl_store *s, struct ecl_audit_txn **out) ECL_WUR;
enum ecl_status ecl_audit_db_commit_txn(struct ecl_audit_txn *t, uint64_t old_size,
                                        uint64_t new_size, const struct ecl_audit_db_row *rows,
                                        size_t nrows) ECL_WUR;

#endif
