/* The look-up-by-pseudonym index (docs/transforms.md, "Look-up by pseudonym"): the named
 * database "pseudo" of the AUDIT environment maps index key || dataset name to a sealed
 * (dataset, subject key).  Index keys and sealed values come from crypto/
 * (ecl_transform_pseudo_index_key, ecl_transform_pseudo_seal); the store holds no pseudonym and
 * no subject key in clear, and resolves a pseudonym by one keyed look-up, never by trying
 * candidates.
 *
 * The gateway writes an entry in the same LMDB transaction as the audit entry that released the
 * pseudonym (struct ecl_audit_event.pseudo, gateway/audit/writer.c): a pseudonym is resolvable
 * if and only if the audit entry that released it is durable, and a disclosure costs one fsync,
 * not two.  Stores written before that kept the index in the records environment's "pseudo"
 * database; ecl_store_pseudo_get still reads it as a fallback. */
#ifndef ECL_STORE_PSEUDO_H
#define ECL_STORE_PSEUDO_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/buf.h"
#include "ecl/limits.h"
#include "ecl/status.h"
#include "store.h"

struct ecl_pseudo_entry {
    uint8_t key[ECL_PSEUDO_INDEX_KEY_LEN]; /* ecl_transform_pseudo_index_key */
    const char *dataset;                   /* 1..ECL_NAME_MAX_LEN bytes, borrowed */
    const uint8_t *val;                    /* ecl_transform_pseudo_seal output, borrowed */
    size_t val_len;                        /* 1..ECL_PSEUDO_VALUE_MAX */
};

enum { ECL_PSEUDO_DB_KEY_MAX = ECL_PSEUDO_INDEX_KEY_LEN + ECL_NAME_MAX_LEN };

/* The database key of an entry (index key || dataset) into out; *len its length.  0 when the
 * dataset name is empty or longer than ECL_NAME_MAX_LEN. */
int ecl_store_pseudo_key(const uint8_t key[ECL_PSEUDO_INDEX_KEY_LEN], const char *dataset,
                         uint8_t out[ECL_PSEUDO_DB_KEY_MAX], size_t *len) ECL_WUR;

/* Records n entries (0..ECL_PSEUDO_PUT_MAX) in one write transaction: all or none.  An entry
 * whose key is already present is kept as it is (the same pseudonym of the same dataset names
 * the same subject), so repeated disclosures do not rewrite the index.  Starts its own write
 * transaction: call it from the thread that does the records writes, never inside another
 * write transaction of the same thread.  ECL_ERR_INVALID for a bad entry (nothing written),
 * ECL_ERR_LIMIT beyond ECL_PSEUDO_PUT_MAX, ECL_ERR_FULL when the map is full. */
enum ecl_status ecl_store_pseudo_put(struct ecl_store *s, const struct ecl_pseudo_entry *entries,
                                     size_t n) ECL_WUR;

/* Appends the sealed value recorded under (key, dataset) to out.  ECL_ERR_NOT_FOUND when there
 * is none.  A short read transaction; thread-safe. */
enum ecl_status ecl_store_pseudo_get(struct ecl_store *s,
                                     const uint8_t key[ECL_PSEUDO_INDEX_KEY_LEN],
                                     const char *dataset, struct ecl_buf *out) ECL_WUR;

#endif
