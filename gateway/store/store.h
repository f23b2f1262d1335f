/* The store: the only code that sees <lmdb.h>.  Two LMDB environments under the data
 * directory: records/ (datasets, records, wrapped data keys, blind indexes, objections,
 * policies, principals) and audit/ (the audit log, its tree and its indexes).
 * The audit environment is always opened fully durable (no NOSYNC, NOMETASYNC, MAPASYNC or
 * WRITEMAP); so is the records environment. */
#ifndef ECL_STORE_H
#define ECL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/status.h"

struct ecl_store; /* opaque; thread-safe for readers (MDB_NOTLS), one writer at a time */

enum ecl_store_flags {
    ECL_STORE_DEFAULT = 0,
    ECL_STORE_READONLY = 1 << 0, /* offline tools (audit verify on a copy) */
};

/* Creates DIR/records and DIR/audit (mode 0700) and their environments and named databases.
 * DIR must exist and hold no store yet (ECL_ERR_EXISTS otherwise). */
enum ecl_status ecl_store_create(const char *dir) ECL_WUR;

/* Opens both environments of DIR.  map sizes come from ecl/limits.h unless overridden by the
 * environment variables ECLUSE_RECORDS_MAP_MB / ECLUSE_AUDIT_MAP_MB (tests use small maps to
 * provoke map-full).  Clears stale reader slots (mdb_reader_check). */
enum ecl_status ecl_store_open(const char *dir, enum ecl_store_flags flags,
                               struct ecl_store **out) ECL_WUR;
void ecl_store_close(struct ecl_store *s);

/* Clears reader slots left by dead processes; returns how many were cleared. */
int ecl_store_reader_check(struct ecl_store *s);

/* Map use in bytes of each environment (for /metrics). */
void ecl_store_map_usage(struct ecl_store *s, size_t *records_used, size_t *records_size,
                         size_t *audit_used, size_t *audit_size);

/* Advisory locks on the data directory, never waited for (ECL_ERR_CONFLICT when held):
 *  - gateway: exclusive while a gateway serves the directory (one audit writer) and during key
 *    rotation;
 *  - keyring: shared by every command that writes records (it wraps data keys under the loaded
 *    keyring's current KEK), exclusive during a record-KEK rotation, so that no data key is
 *    wrapped under a KEK version that the rotation is about to destroy.
 * *out is the lock's descriptor, released with ecl_store_unlock (or at exit). */
enum ecl_lock_kind {
    ECL_LOCK_GATEWAY = 0,
    ECL_LOCK_KEYRING,
};
enum ecl_lock_mode {
    ECL_LOCK_SHARED = 0,
    ECL_LOCK_EXCLUSIVE,
};
enum ecl_status ecl_store_lock(const char *dir, enum ecl_lock_kind kind, enum ecl_lock_mode mode,
                               int *out) ECL_WUR;
void ecl_store_unlock(int fd);

#endif
