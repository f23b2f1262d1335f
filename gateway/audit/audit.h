/* The audit log (docs/audit-format.md): one encrypted, hash-chained entry per decision and
 * administrative event, written by one writer thread in durable group commits, each commit
 * ending with a signed C2SP checkpoint.  Fail closed: a failed commit seals the log.
 *
 * Thread safety: ecl_audit_submit, ecl_audit_append_sync and ecl_audit_health may be called
 * from any thread.  The read functions (ecl_audit_entry_get ... ecl_audit_proof_*) take the
 * store and keyring only and may run in any thread, concurrently with the writer (LMDB
 * snapshots). */
#ifndef ECL_AUDIT_H
#define ECL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ecl/action.h"
#include "ecl/buf.h"
#include "ecl/crypto.h"
#include "ecl/status.h"
#include "store/pseudo.h"
#include "store/store.h"

enum ecl_audit_kind {
    ECL_AUDIT_RECORD_READ = 0, /* record.read */
    ECL_AUDIT_RECORD_QUERY,    /* record.query */
    ECL_AUDIT_REIDENTIFY,      /* reidentify: a token reversed by a DPO */
    ECL_AUDIT_RECORDS_IMPORT,  /* records.import */
    ECL_AUDIT_POLICY_CHANGE,   /* policy.change */
    ECL_AUDIT_PRINCIPAL_CHANGE,
    ECL_AUDIT_ERASURE,
    ECL_AUDIT_OBJECTION,
    ECL_AUDIT_STARTUP,
    ECL_AUDIT_SHUTDOWN,
    ECL_AUDIT_KEY_EVENT,
    ECL_AUDIT_LOG_CREATED,
    ECL_AUDIT_ACCESS_REFUSED, /* access.refused: 401/403 and other refusals before a decision */
    ECL_AUDIT_DATASET_INFO,   /* dataset.info: dataset list, description, explain */
    ECL_AUDIT_AUDIT_READ,     /* audit.read: an auditor read the log */
    ECL_AUDIT_POLICY_READ,    /* policy.read: a DPO read policies, approvals or simulated one */
};
#define ECL_AUDIT_KIND_COUNT 16

enum ecl_audit_channel {
    ECL_AUDIT_CH_NONE = 0, /* the gateway itself (start-up, shutdown) */
    ECL_AUDIT_CH_REST,
    ECL_AUDIT_CH_MCP,
    ECL_AUDIT_CH_CLI,
};
#define ECL_AUDIT_CHANNEL_COUNT 4

enum ecl_audit_decision {
    ECL_AUDIT_NO_DECISION = 0, /* administrative events */
    ECL_AUDIT_ALLOW,
    ECL_AUDIT_DENY,
};
#define ECL_AUDIT_DECISION_COUNT 3

/* A field released by the action, with the transform applied to it. */
struct ecl_audit_field {
    const char *name;
    enum ecl_action_kind action;
};

/* One look-up-by-pseudonym index row (ecl_transform_pseudo_index_key, ecl_transform_pseudo_seal
 * of the released pseudonym). */
struct ecl_audit_pseudo {
    uint8_t key[ECL_PSEUDO_INDEX_KEY_LEN];
    uint8_t val[ECL_PSEUDO_VALUE_MAX];
    size_t val_len; /* 1..ECL_PSEUDO_VALUE_MAX */
};

/* What a request admitted against its rule's limits counted (record.read, record.query;
 * docs/api.md "Limits"): the entry carries it so that the gateway can rebuild its per-(agent,
 * rule) counters from the log at start-up (ecl_api_limits_rebuild). */
struct ecl_audit_counted {
    int64_t at;       /* the request's clock, Unix seconds (its UTC day is the day counted) */
    int64_t window;   /* start of the requests_per_minute window it was counted in, seconds */
    uint64_t records; /* records released, counted against records_per_day */
};

/* What a caller fills in.  Every pointer is borrowed for the duration of the call only
 * (ecl_audit_submit copies what it needs); NULL strings are left out of the entry.  Strings are
 * UTF-8, at most ECL_AUDIT_TEXT_MAX_LEN bytes.  Never put released values here: subjects are
 * identifiers, fields are names. */
struct ecl_audit_event {
    enum ecl_audit_kind kind;
    enum ecl_audit_channel channel;
    const char *principal; /* principal id (indexed with a blind token) */
    const char *role;
    const char *official; /* acting official, when given */
    const char *case_ref; /* case reference, when given */
    const char *purpose;
    const char *dataset;
    /* subject identifiers, normalised as the dataset's schema normalises them (the blind index
     * token is computed over these bytes); at most ECL_AUDIT_SUBJECTS_PER_ENTRY */
    const char *const *subjects;
    size_t nsubjects;
    const struct ecl_audit_field *fields; /* at most ECL_AUDIT_FIELDS_PER_ENTRY */
    size_t nfields;
    uint64_t policy_version;    /* 0: none */
    const uint8_t *policy_hash; /* ECL_HASH_LEN bytes or NULL */
    const char *rule_id;
    enum ecl_audit_decision decision;
    const char *reason; /* reason code, e.g. "policy.no_matching_rule" */
    const char *request_id;
    const uint8_t *response_digest; /* BLAKE2b-256 of the released body, or NULL */
    const char *detail;             /* administrative events: a sentence without personal data */
    /* look-up-by-pseudonym index rows of dataset (store/pseudo.h) written in the same LMDB
     * transaction as this entry, so a pseudonym is resolvable iff the entry that released it is
     * durable; a row whose key exists is kept.  At most ECL_AUDIT_PSEUDO_PER_ENTRY; not part of
     * the entry (the verifier ignores the index). */
    const struct ecl_audit_pseudo *pseudo;
    size_t npseudo;
    /* NULL unless the request was admitted against the rule's limits; at, window >= 0 and
     * records <= ECL_AUDIT_COUNTED_RECORDS_MAX */
    const struct ecl_audit_counted *counted;
};

struct ecl_audit; /* opaque: the writer */

/* Called exactly once per submitted event, from the writer thread, after the transaction
 * holding its entry committed durably (st ECL_OK, seq of the entry) or failed (st the error,
 * seq 0).  Must not block for long and must not call ecl_audit_close. */
typedef void (*ecl_audit_done_fn)(void *arg, enum ecl_status st, uint64_t seq);

/* Recovers the tree state from the store (O(log n) reads), checks that the last checkpoint
 * matches it, and starts the writer thread.  store must be writable and outlive the writer; kr
 * must hold secrets and outlive it.  ECL_ERR_INVALID when the stored state is inconsistent. */
enum ecl_status ecl_audit_open(struct ecl_store *store, const struct ecl_keyring *kr,
                               struct ecl_audit **out) ECL_WUR;
/* Refuses new submissions, drains the queue (every pending done callback runs), joins the
 * thread and frees.  NULL is a no-op. */
void ecl_audit_close(struct ecl_audit *a);
/* Non-blocking: validates and copies ev, computes its blind-index tokens and queues it.
 * ECL_ERR_LIMIT when the queue holds ECL_AUDIT_QUEUE_MAX entries, ECL_ERR_SEALED when the log
 * is sealed or closing, ECL_ERR_INVALID for an event over a limit.  On any error done is not
 * called. */
enum ecl_status ecl_audit_submit(struct ecl_audit *a, const struct ecl_audit_event *ev,
                                 ecl_audit_done_fn done, void *arg) ECL_WUR;
/* Submits and blocks until the entry is durable; *seq is its sequence number. */
enum ecl_status ecl_audit_append_sync(struct ecl_audit *a, const struct ecl_audit_event *ev,
                                      uint64_t *seq) ECL_WUR;
/* 1 when the log accepts entries; 0 when sealed, with *why a static sentence. */
int ecl_audit_health(struct ecl_audit *a, const char **why);
/* Test hook: the clock the writer stamps entries with (milliseconds since the Unix epoch).
 * Entry times never decrease even when the clock does.  Call before the first submit. */
void ecl_audit_set_clock(struct ecl_audit *a, uint64_t (*now_ms)(void *arg), void *arg);
/* Committed entries so far, commits so far (for metrics and the benchmark). */
void ecl_audit_stats(struct ecl_audit *a, uint64_t *entries, uint64_t *commits);

/* ---- reading --------------------------------------------------------------------------- */

/* A decrypted entry. */
struct ecl_audit_entry {
    uint64_t seq;
    uint64_t time_ms;
    uint32_t key_version;
    json_t *payload; /* owned; the decrypted JSON object (docs/audit-format.md) */
};
void ecl_audit_entry_free(struct ecl_audit_entry *e);
/* {"seq":..,"time":"RFC 3339",.. payload members}: a new reference. */
json_t *ecl_audit_entry_to_json(const struct ecl_audit_entry *e);

/* Decrypts the entry seq.  kr must hold secrets.  ECL_ERR_NOT_FOUND, ECL_ERR_CRYPTO (does not
 * decrypt), ECL_ERR_INVALID (malformed). */
enum ecl_status ecl_audit_entry_get(struct ecl_store *s, const struct ecl_keyring *kr, uint64_t seq,
                                    struct ecl_audit_entry *out) ECL_WUR;

/* Filters of ecl_audit_list: NULL / 0 fields do not filter. */
struct ecl_audit_filter {
    const char *principal; /* through the principal blind index */
    const char *subject;   /* through the subject blind index (normalised identifier) */
    const char *purpose;
    const char *dataset;
    const char *kind;     /* "record.read", ... */
    const char *decision; /* "allow", "deny", "none" */
    uint64_t since_ms;    /* time >= since_ms */
    uint64_t until_ms;    /* time < until_ms; 0: no bound */
};

/* Entries with seq >= cursor that match f, in seq order: at most limit (<= ECL_AUDIT_LIST_MAX)
 * objects as ecl_audit_entry_to_json makes them, appended to the array items.  Examines at most
 * ECL_AUDIT_SCAN_MAX entries; *next is the cursor of the next page, UINT64_MAX at the end.
 * Blind-index false matches are filtered after decryption. */
enum ecl_status ecl_audit_list(struct ecl_store *s, const struct ecl_keyring *kr,
                               const struct ecl_audit_filter *f, uint64_t cursor, size_t limit,
                               json_t *items, uint64_t *next) ECL_WUR;

/* Calls fn with each entry decrypted, from the newest back towards seq 0, all in one snapshot,
 * until fn returns nonzero (stop) or seq 0 was given.  e (and its payload) is borrowed during
 * the call only.  Nothing is skipped: an entry that does not decrypt (ECL_ERR_CRYPTO), is not
 * where it should be or whose time is after its successor's (ECL_ERR_INVALID) ends the walk with
 * that error, the entries before it in the walk having been given to fn.  kr must hold secrets
 * (ECL_ERR_PERM).  Any thread. */
typedef int (*ecl_audit_entry_fn)(void *arg, const struct ecl_audit_entry *e);
enum ecl_status ecl_audit_each_back(struct ecl_store *s, const struct ecl_keyring *kr,
                                    ecl_audit_entry_fn fn, void *arg) ECL_WUR;

/* Calls fn with the raw leaf bytes of seq start .. end-1 (end - start <= ECL_AUDIT_LEAVES_PER_CALL,
 * end <= tree size).  No key needed. */
typedef enum ecl_status (*ecl_audit_leaf_fn)(void *arg, uint64_t seq, const uint8_t *leaf,
                                             size_t len);
enum ecl_status ecl_audit_leaves(struct ecl_store *s, uint64_t start, uint64_t end,
                                 ecl_audit_leaf_fn fn, void *arg) ECL_WUR;
/* Appends the latest signed checkpoint (a C2SP signed note) to out.  ECL_ERR_NOT_FOUND for an
 * empty log. */
enum ecl_status ecl_audit_checkpoint_latest(struct ecl_store *s, struct ecl_buf *out) ECL_WUR;
enum ecl_status ecl_audit_tree_size(struct ecl_store *s, uint64_t *out) ECL_WUR;

/* Proofs from stored tree nodes (O(log n) reads): RFC 9162 2.1.3.1 and 2.1.4.1.  proof has room
 * for ECL_MERKLE_MAX_DEPTH hashes.  ECL_ERR_INVALID when the sizes are out of range. */
enum ecl_status ecl_audit_proof_inclusion(struct ecl_store *s, uint64_t seq, uint64_t size,
                                          uint8_t (*proof)[ECL_HASH_LEN], size_t *nproof) ECL_WUR;
enum ecl_status ecl_audit_proof_consistency(struct ecl_store *s, uint64_t size1, uint64_t size2,
                                            uint8_t (*proof)[ECL_HASH_LEN], size_t *nproof) ECL_WUR;
/* The root of the tree of size leaves, from stored nodes. */
enum ecl_status ecl_audit_root(struct ecl_store *s, uint64_t size,
                               uint8_t out[ECL_HASH_LEN]) ECL_WUR;

/* ---- offline verification ---------------------------------------------------------------- */

enum ecl_audit_verify_flags {
    ECL_AUDIT_VERIFY_PUBLIC = 0,  /* public key only: leaves, tree, checkpoints, indexes */
    ECL_AUDIT_VERIFY_DECRYPT = 1, /* also decrypt every entry and rebuild the blind indexes */
};

/* Checks the whole log (docs/audit-format.md, "Verification").  kr may be public-only unless
 * ECL_AUDIT_VERIFY_DECRYPT.  trusted (may be NULL) is a signed checkpoint kept elsewhere: the
 * log must be an append-only extension of it.  Writes a line per check and per failure ("FAIL
 * <check> seq=<n>: <reason>") to report.  *nfail is the number of failures; ECL_OK means the
 * run completed (look at *nfail), any other status means it could not run. */
enum ecl_status ecl_audit_verify(struct ecl_store *s, const struct ecl_keyring *kr,
                                 enum ecl_audit_verify_flags flags, const char *trusted,
                                 size_t trusted_len, struct ecl_buf *report, size_t *nfail) ECL_WUR;

/* Stable names ("record.read", "rest", "allow") used in payloads and filters. */
const char *ecl_audit_kind_name(enum ecl_audit_kind k);
const char *ecl_audit_channel_name(enum ecl_audit_channel c);
const char *ecl_audit_decision_name(enum ecl_audit_decision d);

/* ---- rate-limit checkpoint (docs/audit-format.md "Rate-limit checkpoint") ------------------ */

/* The per-(principal id, rule) limit counters as the committed entries define them: for each
 * key, the latest UTC day of a request's clock ("at") and the records counted in it, the latest
 * requests_per_minute window and the admissions counted in it.  Merging entries is order-free,
 * so a table loaded from a checkpoint plus the entries after it equals the table of all entries.
 * The audit writer keeps one (writer thread only) once seeded, and writes it sealed to the
 * audit meta table in the same transaction as a group commit: not an entry, not in the Merkle
 * tree, not evidence (the verifier ignores it). */
struct ecl_audit_limits; /* opaque */

struct ecl_audit_limit_row {
    const char *principal; /* principal id, hex */
    const char *rule;
    int64_t day_start; /* 00:00 UTC of the latest day counted; -1: none */
    uint64_t day_count;
    int64_t minute_start; /* start of the latest minute window; -1: none */
    uint32_t minute_count;
};

enum ecl_status ecl_audit_limits_new(struct ecl_audit_limits **out) ECL_WUR;
void ecl_audit_limits_free(struct ecl_audit_limits *t);
/* Merges one counted request: records into the day of at, one admission into window (< 0:
 * none).  ECL_ERR_LIMIT when the table holds ECL_LIMIT_COUNTERS_MAX keys, ECL_ERR_INVALID for
 * a name too long. */
enum ecl_status ecl_audit_limits_add(struct ecl_audit_limits *t, const char *principal,
                                     const char *rule, int64_t at, int64_t window,
                                     uint64_t records) ECL_WUR;
/* Sets a key's row as given (a checkpoint's row); same errors. */
enum ecl_status ecl_audit_limits_put(struct ecl_audit_limits *t,
                                     const struct ecl_audit_limit_row *row) ECL_WUR;
/* Calls fn for every row until it returns nonzero; the row is borrowed during the call. */
typedef int (*ecl_audit_limits_fn)(void *arg, const struct ecl_audit_limit_row *row);
void ecl_audit_limits_each(const struct ecl_audit_limits *t, ecl_audit_limits_fn fn, void *arg);
/* The latest "at" merged (-1: none). */
int64_t ecl_audit_limits_latest(const struct ecl_audit_limits *t);

/* What an entry counted against its rule's limits, as the rebuild reads it: 1 with *at,
 * *window (-1: unknown) and *records when it counts (an admitted record.read/record.query with
 * "counted", or an allowed one of an older gateway: its time, 1 record for a read, its subjects
 * for a query); 0 when it does not; -1 when its "counted" is malformed. */
int ecl_audit_entry_counted(const struct ecl_audit_entry *e, int64_t *at, int64_t *window,
                            uint64_t *records);

/* Reads and opens the checkpoint: *out (new table), *next (it covers the entries with seq <
 * *next).  ECL_ERR_NOT_FOUND when there is none (an older data directory, or no gateway wrote
 * one yet); ECL_ERR_CRYPTO when it does not authenticate (tampered, or another key);
 * ECL_ERR_INVALID when it is malformed or covers entries the log does not have.  kr must hold
 * secrets. */
enum ecl_status ecl_audit_limits_checkpoint_read(struct ecl_store *s, const struct ecl_keyring *kr,
                                                 struct ecl_audit_limits **out,
                                                 uint64_t *next) ECL_WUR;

/* Hands the writer t (taken, even on error) as the table of the entries with seq < next: from
 * its next commit on, the writer merges the entries it commits (and any that another process
 * appended, decrypting them) and writes a checkpoint every ECL_AUDIT_LIMITS_CHECKPOINT_S
 * seconds or ECL_AUDIT_LIMITS_CHECKPOINT_ENTRIES entries (ECLUSE_AUDIT_TEST_LIMITS_EVERY=n,
 * tests: every n entries).  A writer never seeded writes none. */
void ecl_audit_limits_seed(struct ecl_audit *a, struct ecl_audit_limits *t, uint64_t next);

#endif
