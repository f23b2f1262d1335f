/* Policy versions in the store (docs/policy.md, "Versions").  The `policies` database of the
 * records environment holds:
 *   version (u64 big-endian, 8 bytes) -> JSON {"author", "created", "hash", "document"}
 *   "active" -> u64 big-endian: the version in force
 *   "latest" -> u64 big-endian: the highest version stored
 * "document" is the policy's canonical form (ecl_policy_canonical) and "hash" the lowercase
 * hex BLAKE2b-256 of exactly those bytes, so anyone can recompute it (b2sum -l 256).
 * Versions are never modified or deleted; activating one only moves "active".
 * Thread-safe like the store: any number of readers, writes serialised by LMDB. */
#ifndef ECL_POLICY_DB_H
#define ECL_POLICY_DB_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/buf.h"
#include "ecl/crypto.h"
#include "ecl/diag.h"
#include "ecl/policy.h"
#include "ecl/schema.h"
#include "ecl/status.h"
#include "store.h"

struct ecl_policy_meta {
    uint64_t version;
    int64_t created; /* seconds since the epoch, UTC */
    char author[ECL_POLICY_AUTHOR_MAX_LEN + 1];
    char hash[2 * ECL_HASH_LEN + 1];
};

/* The content hash of a compiled policy: hex BLAKE2b-256 of its canonical form. */
void ecl_policy_db_hash(const struct ecl_policy *p, char out[2 * ECL_HASH_LEN + 1]);

/* Stores p as a new version (latest + 1) with its author (1..ECL_POLICY_AUTHOR_MAX_LEN bytes,
 * no control characters) and time, and makes it the active version, in one transaction.
 * *out gets the stored metadata.  ECL_ERR_LIMIT beyond ECL_POLICY_MAX_VERSIONS. */
enum ecl_status ecl_policy_db_put(struct ecl_store *s, const struct ecl_policy *p,
                                  const char *author, int64_t created,
                                  struct ecl_policy_meta *out) ECL_WUR;

/* The active version number; ECL_ERR_NOT_FOUND when no policy was ever set. */
enum ecl_status ecl_policy_db_active(struct ecl_store *s, uint64_t *out) ECL_WUR;

/* One version: its canonical document appended to doc (when doc is not NULL) and its metadata
 * in *meta (when not NULL).  ECL_ERR_NOT_FOUND for an unknown version. */
enum ecl_status ecl_policy_db_get(struct ecl_store *s, uint64_t version, struct ecl_buf *doc,
                                  struct ecl_policy_meta *meta) ECL_WUR;

/* Calls fn for every stored version in ascending order; stops early (returning fn's status)
 * when fn returns something other than ECL_OK. */
typedef enum ecl_status (*ecl_policy_db_visit_fn)(const struct ecl_policy_meta *meta, void *arg);
enum ecl_status ecl_policy_db_list(struct ecl_store *s, ecl_policy_db_visit_fn fn,
                                   void *arg) ECL_WUR;

/* Reads and compiles a version (0 = the active one) against the store's datasets.  A stored
 * version can stop validating when datasets change: then ECL_ERR_INVALID with the reasons in
 * diags.  *out is a new policy (ecl_policy_free); *meta (optional) its metadata. */
enum ecl_status ecl_policy_db_load(struct ecl_store *s, uint64_t version, struct ecl_diags *diags,
                                   struct ecl_policy **out, struct ecl_policy_meta *meta) ECL_WUR;

/* Makes a stored version the active one, after checking that it still compiles against the
 * store's datasets (ECL_ERR_INVALID with reasons in diags otherwise).  Rolls back or forward. */
enum ecl_status ecl_policy_db_activate(struct ecl_store *s, uint64_t version,
                                       struct ecl_diags *diags) ECL_WUR;

/* The schemas of every dataset of the store, read from the `datasets` database (name ->
 * canonical schema JSON).  A small reader of our own so that the policy does not depend on the
 * record store's handle (which needs the keyring); it reads the same bytes that
 * ecl_records_dataset_create writes.  *out is a new array of *n schemas
 * (ecl_policy_db_schemas_free). */
enum ecl_status ecl_policy_db_schemas(struct ecl_store *s, struct ecl_schema ***out,
                                      size_t *n) ECL_WUR;
void ecl_policy_db_schemas_free(struct ecl_schema **schemas, size_t n);

#endif
