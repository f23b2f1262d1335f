/* The encrypted citizen record store (docs/datasets.md, docs/erasure.md).
 *
 * Invariants:
 * - The store never holds a plaintext subject identifier or field value.  A subject is known by
 *   its subject key (keyed BLAKE2b-256 of the normalised identifier, the same in every dataset);
 *   LMDB keys are dataset || 0x00 || subject key.
 * - Each record is the validated JSON object, compact, sealed with XChaCha20-Poly1305 under the
 *   subject's own random data key; the data key is wrapped by the record KEK.  Erasing a subject
 *   deletes the wrapped key (crypto-shredding), the ciphertext, index entries and objections in
 *   one transaction.
 * - Indexed fields have blind-index entries: dataset || 0 || field || 0 || blind index (16 B)
 *   || subject key.
 * - Reads use short read transactions and copy what they need before ending them; nothing here
 *   holds a transaction across a call.
 *
 * Thread-safety: a struct ecl_records may be shared by threads.  Reads run concurrently.  Writes
 * (dataset create, batch writes, erase, objections) take LMDB's single writer lock: they
 * serialise with each other (also across processes) and must never be started by a thread that
 * already holds a write transaction on the same store (LMDB would deadlock). */
#ifndef ECL_RECORDS_H
#define ECL_RECORDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "ecl/crypto.h"
#include "ecl/diag.h"
#include "ecl/schema.h"
#include "ecl/status.h"
#include "store/store.h"

struct ecl_records; /* opaque */

/* Opens the record layer over an open store.  Borrows store and kr (a keyring with secrets):
 * both must outlive the result.  ECL_ERR_PERM for a public-only keyring. */
enum ecl_status ecl_records_open(struct ecl_store *store, const struct ecl_keyring *kr,
                                 struct ecl_records **out) ECL_WUR;
/* Frees the handle and every cached schema.  No call may be in progress. */
void ecl_records_close(struct ecl_records *r);

/* ---- datasets ------------------------------------------------------------------------------ */

/* Parses a schema document (ecl_schema_parse: problems go to diags) and stores its canonical
 * JSON under the schema's name.  ECL_ERR_EXISTS when a dataset of that name exists,
 * ECL_ERR_LIMIT beyond ECL_DATASETS_MAX.  *out (optional, may be NULL) is the cached schema,
 * valid until ecl_records_close. */
enum ecl_status ecl_records_dataset_create(struct ecl_records *r, const char *json, size_t len,
                                           struct ecl_diags *diags,
                                           const struct ecl_schema **out) ECL_WUR;
/* The schema of a dataset, parsed once and cached (datasets are immutable once created).  The
 * result is borrowed and valid until ecl_records_close.  ECL_ERR_NOT_FOUND when absent. */
enum ecl_status ecl_records_dataset_get(struct ecl_records *r, const char *name,
                                        const struct ecl_schema **out) ECL_WUR;
/* A new JSON array of the dataset names in byte order (the caller json_decref's it). */
enum ecl_status ecl_records_dataset_list(struct ecl_records *r, json_t **out) ECL_WUR;
/* Number of records of a dataset (a counter kept in the same transactions as the records). */
enum ecl_status ecl_records_count(struct ecl_records *r, const char *dataset,
                                  uint64_t *out) ECL_WUR;

/* ---- subjects and reads -------------------------------------------------------------------- */

/* The subject key of an identifier: normalised with the schema's subject field rule, then keyed
 * BLAKE2b-256.  ECL_ERR_INVALID when the identifier is empty after normalisation,
 * ECL_ERR_LIMIT beyond ECL_SUBJECT_ID_MAX_LEN bytes.  Does not touch the store. */
enum ecl_status ecl_records_subject_key(struct ecl_records *r, const struct ecl_schema *schema,
                                        const char *id, size_t id_len,
                                        uint8_t out[ECL_SUBJECT_KEY_LEN]) ECL_WUR;

/* Reads and decrypts one record: a new JSON object the caller json_decref's (it holds personal
 * data: drop it as soon as possible).  ECL_ERR_NOT_FOUND when the dataset or the record does
 * not exist (or was erased), ECL_ERR_CRYPTO when the stored blobs do not authenticate (tampering
 * or a blob moved from another record). */
enum ecl_status ecl_records_get(struct ecl_records *r, const char *dataset,
                                const uint8_t skey[ECL_SUBJECT_KEY_LEN], json_t **out) ECL_WUR;
struct ecl_purposes; /* below, with the objections */

/* The record and, in the same read snapshot and with one unwrap of the data key, the subject's
 * objections in this dataset (objections->n = 0 when none).  The disclosure path's read: the
 * policy's row check needs both.  objections may be NULL (= ecl_records_get). */
enum ecl_status ecl_records_get_checked(struct ecl_records *r, const char *dataset,
                                        const uint8_t skey[ECL_SUBJECT_KEY_LEN], json_t **out,
                                        struct ecl_purposes *objections) ECL_WUR;
/* The same by subject identifier (computes the subject key with the dataset's rule). */
enum ecl_status ecl_records_get_by_id(struct ecl_records *r, const char *dataset, const char *id,
                                      size_t id_len, json_t **out) ECL_WUR;

/* Pages through a dataset's subject keys in byte order.  after is NULL for the first page, else
 * the last key of the previous page (the cursor); keys receives at most max keys (max <=
 * ECL_RECORDS_PAGE_MAX); *n is how many.  Fewer than max means the end was reached. */
enum ecl_status ecl_records_scan(struct ecl_records *r, const char *dataset, const uint8_t *after,
                                 size_t max, uint8_t (*keys)[ECL_SUBJECT_KEY_LEN],
                                 size_t *n) ECL_WUR;
/* Equality look-up through a field's blind index: the subject keys whose value of field,
 * normalised with the field's rule, equals value normalised the same way.  Same paging as
 * ecl_records_scan (stable order: subject key bytes).  ECL_ERR_INVALID when the field is not
 * indexed, ECL_ERR_NOT_FOUND when the dataset or field does not exist.  Values are compared
 * through a 128-bit keyed hash: see docs/datasets.md for why false matches are negligible. */
enum ecl_status ecl_records_lookup(struct ecl_records *r, const char *dataset, const char *field,
                                   const char *value, size_t value_len, const uint8_t *after,
                                   size_t max, uint8_t (*keys)[ECL_SUBJECT_KEY_LEN],
                                   size_t *n) ECL_WUR;

/* ---- batch writes (the importer; one LMDB write transaction for the whole batch) ---------- */

struct ecl_records_batch; /* opaque; used by one thread */

/* Starts a write transaction for one dataset.  Until commit or abort, the calling thread holds
 * the store's write lock.  ECL_ERR_NOT_FOUND when the dataset does not exist. */
enum ecl_status ecl_records_batch_begin(struct ecl_records *r, const char *dataset,
                                        struct ecl_records_batch **out) ECL_WUR;
/* Puts one record that has already been validated against the dataset's schema (borrowed):
 * inserts it, or updates it when the subject exists (upsert: same data key, resealed, index
 * entries replaced).  ECL_ERR_CONFLICT when the same subject was already put in this batch;
 * *first_line (may be NULL) is then the line given for it.  line is only remembered for that.
 * After any failure the batch can only be aborted. */
enum ecl_status ecl_records_batch_put(struct ecl_records_batch *b, const json_t *record,
                                      uint64_t line, uint64_t *first_line) ECL_WUR;
/* Commits (fsync) and frees the batch; *inserted / *updated (may be NULL) count the records
 * put.  On failure nothing was written and the batch is freed. */
enum ecl_status ecl_records_batch_commit(struct ecl_records_batch *b, uint64_t *inserted,
                                         uint64_t *updated) ECL_WUR;
/* Aborts and frees: the store is left exactly as before ecl_records_batch_begin.  NULL ok. */
void ecl_records_batch_abort(struct ecl_records_batch *b);

/* ---- import of a file ---------------------------------------------------------------------- */

enum ecl_import_format {
    ECL_IMPORT_JSONL = 0, /* one JSON object per line */
    ECL_IMPORT_CSV,       /* RFC 4180 with a header row naming the fields */
};

/* Where an import failed: never the value, only where and why. */
struct ecl_import_error {
    uint64_t line;                    /* 1-based line (where the record starts); 0 = none */
    char field[ECL_NAME_MAX_LEN + 1]; /* the field concerned, "" when none */
    const char *reason;               /* a static sentence */
    uint64_t other_line;              /* a subject given twice: the line that gave it first */
};

struct ecl_import_result {
    uint64_t records; /* records read */
    uint64_t inserted;
    uint64_t updated;
};

/* Called every ECL_IMPORT_PROGRESS_EVERY records with the counts so far. */
typedef void (*ecl_import_progress_fn)(void *ctx, uint64_t records, uint64_t bytes);

/* Streams in (borrowed, read to the end or to the first error), validates every record against
 * the dataset's schema and writes them all in one transaction: on any error nothing is written
 * and *err says where (line, field, reason); the status is ECL_ERR_INVALID or ECL_ERR_LIMIT for
 * bad input (exit 65), ECL_ERR_CONFLICT for a subject given twice, ECL_ERR_IO for a read error.
 * Memory does not grow with the file (one record of at most ECL_RECORD_MAX_BYTES at a time;
 * duplicate detection uses a scratch LMDB database dropped in the same transaction).  An empty
 * file is refused.  progress may be NULL. */
enum ecl_status ecl_records_import(struct ecl_records *r, const char *dataset, FILE *in,
                                   enum ecl_import_format format, ecl_import_progress_fn progress,
                                   void *progress_ctx, struct ecl_import_error *err,
                                   struct ecl_import_result *out) ECL_WUR;

/* Validates one record (a JSON object) against a schema: no unknown field, every field's value
 * checked with ecl_schema_check_value, required fields present.  On failure *err's field and
 * reason are set (line untouched). */
enum ecl_status ecl_records_validate(const struct ecl_schema *schema, const json_t *record,
                                     struct ecl_import_error *err) ECL_WUR;

/* ---- erasure (GDPR Art. 17) ---------------------------------------------------------------- */

/* What an erasure removed (for the audit entry and the operator's message). */
struct ecl_erase_result {
    int record;           /* 1 when a sealed record was deleted */
    int data_key;         /* 1 when a wrapped data key was destroyed */
    size_t index_entries; /* blind-index entries deleted */
    int objections;       /* 1 when an objection list was deleted */
};

/* Erases a subject from one dataset in one write transaction: destroys the wrapped data key
 * (so the record and objections can never be decrypted again), deletes the ciphertext, the
 * subject's index entries and objections.  Idempotent: erasing an absent subject succeeds with
 * an all-zero result.  ECL_ERR_NOT_FOUND only when the dataset does not exist. */
enum ecl_status ecl_records_erase(struct ecl_records *r, const char *dataset,
                                  const uint8_t skey[ECL_SUBJECT_KEY_LEN],
                                  struct ecl_erase_result *out) ECL_WUR;

/* ---- objections (GDPR Art. 21) ------------------------------------------------------------- */

/* The purposes a subject objected to in one dataset, in byte order (a caller-owned value). */
struct ecl_purposes {
    size_t n;
    char names[ECL_OBJECTIONS_MAX][ECL_NAME_MAX_LEN + 1];
};

enum ecl_objection_op {
    ECL_OBJECTION_ADD = 0,
    ECL_OBJECTION_REMOVE,
};

enum ecl_change {
    ECL_UNCHANGED = 0,
    ECL_CHANGED,
};

/* Adds or removes one purpose (a name: letters, digits, '_', '-', at most ECL_NAME_MAX_LEN)
 * from a subject's objections in one dataset.  The list is sealed under the subject's data key,
 * so the subject's record must exist (ECL_ERR_NOT_FOUND otherwise) and erasure shreds it too.
 * ECL_ERR_INVALID for a bad purpose name, ECL_ERR_LIMIT beyond ECL_OBJECTIONS_MAX purposes.
 * *out tells whether the list changed (adding a present purpose or removing an absent one is
 * not an error). */
enum ecl_status ecl_records_objection_set(struct ecl_records *r, const char *dataset,
                                          const uint8_t skey[ECL_SUBJECT_KEY_LEN],
                                          enum ecl_objection_op op, const char *purpose,
                                          enum ecl_change *out) ECL_WUR;
/* The subject's objections in one dataset (n = 0 when none, or when the subject does not
 * exist: the policy engine treats both alike).  For the policy engine: a purpose in the list
 * must not be used for this subject. */
enum ecl_status ecl_records_objections_get(struct ecl_records *r, const char *dataset,
                                           const uint8_t skey[ECL_SUBJECT_KEY_LEN],
                                           struct ecl_purposes *out) ECL_WUR;

/* ---- record-KEK rotation (ecluse keys rotate, docs/erasure.md) ---------------------------- */

/* Counts the wrapped data keys (every dataset) whose record-KEK version is in [lo, hi]. */
enum ecl_status ecl_records_kek_count(struct ecl_records *r, uint32_t lo, uint32_t hi,
                                      uint64_t *out) ECL_WUR;

/* Where a rewrap pass stands: the last data-key row handled.  Zero it to start a pass. */
struct ecl_kek_rewrap_pos {
    uint8_t key[ECL_NAME_MAX_LEN + 1 + ECL_SUBJECT_KEY_LEN];
    size_t len; /* 0: start from the first row */
};

/* In one write transaction, rewraps under the keyring's current record-KEK version up to max
 * data keys that are wrapped under another version, in row order after pos, and advances pos.
 * A wrapped key is replaced in the same transaction that unwrapped it, so an interruption loses
 * nothing and a new pass resumes.  *done is 1 when the last row was reached.  ECL_ERR_CRYPTO
 * when a key is wrapped under a destroyed version. */
enum ecl_status ecl_records_kek_rewrap(struct ecl_records *r, struct ecl_kek_rewrap_pos *pos,
                                       size_t max, uint64_t *rewrapped, int *done) ECL_WUR;

#endif
