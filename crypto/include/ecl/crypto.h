/* crypto/: the only module that includes <sodium.h>.  Key hierarchy, primitives and the
 * constructions built on them.  Every function here is thread-safe once ecl_crypto_init() has
 * returned, unless said otherwise. */
#ifndef ECL_CRYPTO_H
#define ECL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/buf.h"
#include "ecl/limits.h"
#include "ecl/status.h"

enum {
    ECL_HASH_LEN = 32,       /* BLAKE2b-256 and SHA-256 output */
    ECL_AEAD_NONCE_LEN = 24, /* XChaCha20-Poly1305 */
    ECL_AEAD_TAG_LEN = 16,
    ECL_SIGN_PK_LEN = 32, /* Ed25519 */
    ECL_SIGN_SK_LEN = 64,
    ECL_SIGN_LEN = 64,
    ECL_LOG_ID_LEN = 16,
    ECL_ORIGIN_MAX_LEN = 128,
};

/* Must be called once in main() before any thread starts.  Aborts the process if libsodium
 * cannot initialise (no secure randomness: nothing we could do would be safe). */
void ecl_crypto_init(void);

/* ---- primitives ---------------------------------------------------------------------------- */

void ecl_crypto_random(void *out, size_t n);
uint32_t ecl_crypto_random_u32(void);
/* BLAKE2b with an optional key (key_len 0 for unkeyed), out_len 16..64. */
void ecl_crypto_blake2b(uint8_t *out, size_t out_len, const uint8_t *key, size_t key_len,
                        const void *in, size_t in_len);
void ecl_crypto_sha256(uint8_t out[ECL_HASH_LEN], const void *in, size_t in_len);
/* Constant time for equal-length inputs; returns 1 when equal. */
int ecl_crypto_equal(const void *a, const void *b, size_t n);
/* Base64 (standard alphabet, padded) and URL-safe base64 without padding. */
enum ecl_status ecl_crypto_b64_encode(const uint8_t *in, size_t in_len,
                                      struct ecl_buf *out) ECL_WUR;
enum ecl_status ecl_crypto_b64_decode(const char *in, size_t in_len, struct ecl_buf *out) ECL_WUR;
enum ecl_status ecl_crypto_b64url_encode(const uint8_t *in, size_t in_len,
                                         struct ecl_buf *out) ECL_WUR;
enum ecl_status ecl_crypto_b64url_decode(const char *in, size_t in_len,
                                         struct ecl_buf *out) ECL_WUR;

/* XChaCha20-Poly1305 with a random nonce.  Appends nonce || ciphertext || tag to out. */
enum ecl_status ecl_crypto_aead_seal(const uint8_t key[ECL_KEY_LEN], const uint8_t *ad,
                                     size_t ad_len, const uint8_t *msg, size_t msg_len,
                                     struct ecl_buf *out) ECL_WUR;
/* Opens nonce || ciphertext || tag; appends the plaintext to out.  ECL_ERR_CRYPTO when the
 * tag, the key or the associated data do not match. */
enum ecl_status ecl_crypto_aead_open(const uint8_t key[ECL_KEY_LEN], const uint8_t *ad,
                                     size_t ad_len, const uint8_t *sealed, size_t sealed_len,
                                     struct ecl_buf *out) ECL_WUR;

/* Guarded secret memory (sodium_malloc): guard pages, mlock, wiped on free. */
void *ecl_secret_alloc(size_t n);
void ecl_secret_free(void *p);
void ecl_secret_readonly(void *p);

/* Ed25519 verification with a public key (needs no keyring). */
int ecl_crypto_sign_verify(const uint8_t pk[ECL_SIGN_PK_LEN], const uint8_t sig[ECL_SIGN_LEN],
                           const void *msg, size_t msg_len);

/* ---- key hierarchy ------------------------------------------------------------------------- */

/* What a derived key is for.  Each use has its own crypto_kdf context; the subkey id is the key
 * version, so rotating a use means bumping its version. */
enum ecl_key_use {
    ECL_KEY_RECORD_KEK = 0, /* wraps per-subject data keys */
    ECL_KEY_SUBJECT_INDEX,  /* keyed hash of subject identifiers */
    ECL_KEY_FIELD_INDEX,    /* blind indexes on indexed fields */
    ECL_KEY_PSEUDONYM,      /* root of the per-domain pseudonym keys */
    ECL_KEY_TOKEN,          /* reversible tokens */
    ECL_KEY_AUDIT_ENTRY,    /* audit payload encryption */
    ECL_KEY_AUDIT_INDEX,    /* audit blind-index tokens */
    ECL_KEY_API_PEPPER,     /* keyed hash of API key secrets */
    ECL_KEY_SIGN_SEAL,      /* seals the audit signing key at rest */
};
#define ECL_KEY_USE_COUNT 9

/* Stable name of a key use ("record-kek", ...), for files and `ecluse keys show`. */
const char *ecl_key_use_name(enum ecl_key_use use);

/* Derives the key for (use, version) from a master key: crypto_kdf_derive_from_key with the
 * use's 8-byte context and subkey id = version.  Pure; exposed for known-answer tests. */
void ecl_kdf_derive(const uint8_t master[ECL_MASTER_KEY_LEN], enum ecl_key_use use,
                    uint32_t version, uint8_t out[ECL_KEY_LEN]);

/* Where the master key comes from.  Never from an environment variable. */
enum ecl_key_source_kind {
    ECL_KEY_SOURCE_FILE = 0, /* a 32-byte file, mode 0600 or stricter, owned by us */
    ECL_KEY_SOURCE_FD,       /* 32 bytes read from an inherited file descriptor */
};
struct ecl_key_source {
    enum ecl_key_source_kind kind;
    const char *path; /* FILE: the key file (a systemd credential path is a file too) */
    int fd;           /* FD */
};

struct ecl_keyring; /* opaque; lives in read-only guarded memory after loading */

/* Creates the key material of a new data directory: DIR/master.key (unless the source is an
 * fd, whose key is then used) and DIR/keyring (versions, log id, origin, audit public key and
 * the sealed audit signing key).  DIR must exist.  Refuses with ECL_ERR_EXISTS if any key file
 * is already there.  origin may be NULL for the default "ecluse/<log id hex>". */
enum ecl_status ecl_keyring_create(const char *dir, const struct ecl_key_source *src,
                                   const char *origin) ECL_WUR;

/* Loads the master key from src and DIR/keyring, checks file modes (no group or other bits,
 * owned by the effective user) and sizes, derives the current key of every use and unseals the
 * audit signing key.  The result is read-only guarded memory; free with ecl_keyring_free. */
enum ecl_status ecl_keyring_load(const char *dir, const struct ecl_key_source *src,
                                 struct ecl_keyring **out) ECL_WUR;

/* Loads only the public part of DIR/keyring (no master key needed): enough for
 * ecl_keyring_sign_pk, ecl_keyring_origin, ecl_keyring_log_id and versions.  Used by the
 * offline verifier. */
enum ecl_status ecl_keyring_load_public(const char *dir, struct ecl_keyring **out) ECL_WUR;

void ecl_keyring_free(struct ecl_keyring *kr);

/* 1 when the keyring holds secrets (loaded with ecl_keyring_load). */
int ecl_keyring_has_secrets(const struct ecl_keyring *kr);

/* The current key of a use (ECL_KEY_LEN bytes, valid until ecl_keyring_free).  NULL for a
 * public-only keyring. */
const uint8_t *ecl_keyring_key(const struct ecl_keyring *kr, enum ecl_key_use use);
uint32_t ecl_keyring_version(const struct ecl_keyring *kr, enum ecl_key_use use);
/* Derives an older (or newer) version of a use into out; the caller wipes out. */
enum ecl_status ecl_keyring_key_at(const struct ecl_keyring *kr, enum ecl_key_use use,
                                   uint32_t version, uint8_t out[ECL_KEY_LEN]) ECL_WUR;

const uint8_t *ecl_keyring_log_id(const struct ecl_keyring *kr);
const char *ecl_keyring_origin(const struct ecl_keyring *kr);
const uint8_t *ecl_keyring_sign_pk(const struct ecl_keyring *kr);
/* Ed25519 signature with the audit signing key.  ECL_ERR_PERM for a public-only keyring. */
enum ecl_status ecl_keyring_sign(const struct ecl_keyring *kr, const void *msg, size_t msg_len,
                                 uint8_t sig[ECL_SIGN_LEN]) ECL_WUR;

/* Checks that a secret file is a regular file, owned by the effective user, with no group or
 * other permission bits, and exactly want_len bytes long.  Messages name the problem, never the
 * content. */
enum ecl_status ecl_keyfile_check(int fd, size_t want_len, const char **why) ECL_WUR;

/* ---- records (crypto/record.c, docs/datasets.md "How records are stored") ----------------- */

/* Sizes of the record constructions.  A wrapped data key is
 *   0x01 || KEK version (u32 BE) || nonce || XChaCha20-Poly1305(data key) || tag
 * and a sealed record or objection list is
 *   0x01 || subject-index key version (u32 BE) || nonce || ciphertext || tag. */
enum {
    ECL_SUBJECT_KEY_LEN = 32, /* keyed BLAKE2b-256 of a normalised subject identifier */
    ECL_BLIND_INDEX_LEN = 16, /* keyed BLAKE2b-128 of dataset, field, normalised value */
    ECL_RECORD_HEADER_LEN = 5,
    ECL_WRAPPED_KEY_LEN =
        ECL_RECORD_HEADER_LEN + ECL_AEAD_NONCE_LEN + ECL_KEY_LEN + ECL_AEAD_TAG_LEN,
    ECL_SEALED_OVERHEAD = ECL_RECORD_HEADER_LEN + ECL_AEAD_NONCE_LEN + ECL_AEAD_TAG_LEN,
};

/* What a sealed blob holds: each kind has its own associated-data label, so a sealed record
 * never opens as an objection list and the reverse. */
enum ecl_sealed_kind {
    ECL_SEALED_RECORD = 0,
    ECL_SEALED_OBJECTIONS,
};
#define ECL_SEALED_KIND_COUNT 2

/* Subject key: BLAKE2b-256 keyed with the subject-index key (ECL_KEY_SUBJECT_INDEX) over the
 * normalised identifier.  The same in every dataset.  Pure, thread-safe. */
void ecl_record_subject_key(const uint8_t key[ECL_KEY_LEN], const char *norm, size_t norm_len,
                            uint8_t out[ECL_SUBJECT_KEY_LEN]);

/* Blind index: BLAKE2b-128 keyed with the field-index key (ECL_KEY_FIELD_INDEX) over
 * dataset || 0x00 || field || 0x00 || normalised value.  dataset and field are NUL-terminated
 * names (no NUL inside).  Pure, thread-safe. */
void ecl_record_blind_index(const uint8_t key[ECL_KEY_LEN], const char *dataset, const char *field,
                            const char *norm, size_t norm_len, uint8_t out[ECL_BLIND_INDEX_LEN]);

/* A fresh random 256-bit data key (the caller wipes it). */
void ecl_record_datakey_new(uint8_t out[ECL_KEY_LEN]);

/* Wraps a data key under the record KEK of version kek_version.  The associated data binds
 * "ecluse datakey v1", the dataset, the subject key and the KEK version, so a wrapped key
 * copied to another subject or dataset does not unwrap. */
void ecl_record_key_wrap(const uint8_t kek[ECL_KEY_LEN], uint32_t kek_version, const char *dataset,
                         const uint8_t skey[ECL_SUBJECT_KEY_LEN], const uint8_t dk[ECL_KEY_LEN],
                         uint8_t out[ECL_WRAPPED_KEY_LEN]);
/* The KEK version a wrapped key was made with (to pick the KEK).  ECL_ERR_INVALID when the
 * blob is not a wrapped key of this format. */
enum ecl_status ecl_record_key_version(const uint8_t *wrapped, size_t wrapped_len,
                                       uint32_t *out) ECL_WUR;
/* Unwraps into out (written only on success).  ECL_ERR_CRYPTO when the KEK, the dataset, the
 * subject key or the blob do not match; ECL_ERR_INVALID for a malformed blob. */
enum ecl_status ecl_record_key_unwrap(const uint8_t kek[ECL_KEY_LEN], const char *dataset,
                                      const uint8_t skey[ECL_SUBJECT_KEY_LEN],
                                      const uint8_t *wrapped, size_t wrapped_len,
                                      uint8_t out[ECL_KEY_LEN]) ECL_WUR;

/* Seals msg under a subject's data key; appends the blob to out.  The associated data binds
 * the kind's label, the dataset, the subject key and sidx_version (the version of the
 * subject-index key the subject key was computed with). */
enum ecl_status ecl_record_seal(enum ecl_sealed_kind kind, const uint8_t dk[ECL_KEY_LEN],
                                uint32_t sidx_version, const char *dataset,
                                const uint8_t skey[ECL_SUBJECT_KEY_LEN], const uint8_t *msg,
                                size_t msg_len, struct ecl_buf *out) ECL_WUR;
/* Opens a blob made by ecl_record_seal; appends the plaintext to out (nothing on failure).
 * ECL_ERR_CRYPTO when anything bound does not match (another record, dataset or kind). */
enum ecl_status ecl_record_open(enum ecl_sealed_kind kind, const uint8_t dk[ECL_KEY_LEN],
                                const char *dataset, const uint8_t skey[ECL_SUBJECT_KEY_LEN],
                                const uint8_t *sealed, size_t sealed_len,
                                struct ecl_buf *out) ECL_WUR;
/* ---- Merkle tree (RFC 6962 / RFC 9162), crypto/merkle.c --------------------------------------
 * SHA-256; leaf hash = SHA-256(0x00 || leaf), interior node = SHA-256(0x01 || left || right);
 * the empty tree's root is SHA-256(""). Everything here is pure and thread-safe. */

/* A complete (perfect) subtree: level 0 is a leaf hash, level l covers leaves
 * [index << l, (index + 1) << l). */
struct ecl_merkle_node {
    unsigned level;
    uint64_t index;
    uint8_t hash[ECL_HASH_LEN];
};

/* The right edge of a tree ("compact range"): for each set bit l of size, h[l] is the hash of the
 * perfect subtree of 2^l leaves ending where the next lower set bit's subtree begins. */
struct ecl_merkle_frontier {
    uint64_t size;
    uint8_t h[ECL_MERKLE_MAX_DEPTH][ECL_HASH_LEN];
};

void ecl_merkle_leaf_hash(const void *leaf, size_t leaf_len, uint8_t out[ECL_HASH_LEN]);
void ecl_merkle_node_hash(const uint8_t left[ECL_HASH_LEN], const uint8_t right[ECL_HASH_LEN],
                          uint8_t out[ECL_HASH_LEN]);

void ecl_merkle_frontier_init(struct ecl_merkle_frontier *f);
/* Appends one leaf hash.  completed[0..*ncompleted) receives every perfect subtree this leaf
 * completes, the leaf itself first (at most ECL_MERKLE_MAX_DEPTH + 1 rows); completed may be
 * NULL.  ECL_ERR_LIMIT when the tree already holds 2^62 leaves. */
enum ecl_status ecl_merkle_frontier_append(struct ecl_merkle_frontier *f,
                                           const uint8_t leaf_hash[ECL_HASH_LEN],
                                           struct ecl_merkle_node *completed,
                                           size_t *ncompleted) ECL_WUR;
/* The root of the tree of f->size leaves. */
void ecl_merkle_frontier_root(const struct ecl_merkle_frontier *f, uint8_t out[ECL_HASH_LEN]);

/* Reads the hash of the perfect subtree (level, index); the tree must hold it.  Proof generation
 * calls it O(log n) times. */
typedef enum ecl_status (*ecl_merkle_get_fn)(void *arg, unsigned level, uint64_t index,
                                             uint8_t out[ECL_HASH_LEN]);

/* RFC 9162 2.1.3.1: the inclusion proof of leaf index in the tree of size leaves.  proof has room
 * for cap hashes (ECL_MERKLE_MAX_DEPTH is always enough).  ECL_ERR_INVALID when index >= size. */
enum ecl_status ecl_merkle_inclusion_proof(uint64_t index, uint64_t size, ecl_merkle_get_fn get,
                                           void *arg, uint8_t (*proof)[ECL_HASH_LEN], size_t cap,
                                           size_t *nproof) ECL_WUR;
/* RFC 9162 2.1.4.1: the consistency proof from size1 to size2 (0 < size1 <= size2). */
enum ecl_status ecl_merkle_consistency_proof(uint64_t size1, uint64_t size2, ecl_merkle_get_fn get,
                                             void *arg, uint8_t (*proof)[ECL_HASH_LEN], size_t cap,
                                             size_t *nproof) ECL_WUR;
/* The root hash of the tree of size leaves from perfect subtrees read with get. */
enum ecl_status ecl_merkle_root(uint64_t size, ecl_merkle_get_fn get, void *arg,
                                uint8_t out[ECL_HASH_LEN]) ECL_WUR;

/* RFC 9162 2.1.3.2.  ECL_OK when the proof shows leaf_hash at index in the tree with root;
 * ECL_ERR_CRYPTO otherwise (wrong leaf, index, size, root, or a short or long proof). */
enum ecl_status ecl_merkle_verify_inclusion(const uint8_t leaf_hash[ECL_HASH_LEN], uint64_t index,
                                            uint64_t size, const uint8_t (*proof)[ECL_HASH_LEN],
                                            size_t nproof,
                                            const uint8_t root[ECL_HASH_LEN]) ECL_WUR;
/* RFC 9162 2.1.4.2.  ECL_OK when the tree (size2, root2) is an append-only extension of
 * (size1, root1).  size1 == size2 needs an empty proof and equal roots; size1 == 0 needs an
 * empty proof.  ECL_ERR_CRYPTO otherwise. */
enum ecl_status ecl_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                                              const uint8_t root1[ECL_HASH_LEN],
                                              const uint8_t root2[ECL_HASH_LEN],
                                              const uint8_t (*proof)[ECL_HASH_LEN],
                                              size_t nproof) ECL_WUR;

/* ---- signed notes and checkpoints (C2SP signed-note, tlog-checkpoint), crypto/note.c ---------
 * A note is text (lines ending in '\n') followed by a blank line and signature lines
 * "— <key name> <base64(key id (4 bytes) || Ed25519 signature)>\n" (U+2014 em dash).  Key id =
 * SHA-256(key name || 0x0A || 0x01 || public key)[:4].  Thread-safe. */

enum { ECL_NOTE_KEY_ID_LEN = 4 };

void ecl_note_key_id(const char *name, const uint8_t pk[ECL_SIGN_PK_LEN],
                     uint8_t out[ECL_NOTE_KEY_ID_LEN]);
/* Appends the verifier key "name+hexid+base64(0x01 || pk)" to out (no newline). */
enum ecl_status ecl_note_verifier_key(const char *name, const uint8_t pk[ECL_SIGN_PK_LEN],
                                      struct ecl_buf *out) ECL_WUR;
/* Parses a verifier key; *name_len bytes of vkey are the name.  ECL_ERR_INVALID when it is not
 * an Ed25519 verifier key or its id does not match its name and key. */
enum ecl_status ecl_note_verifier_key_parse(const char *vkey, size_t len, size_t *name_len,
                                            uint8_t pk[ECL_SIGN_PK_LEN]) ECL_WUR;
/* Signs text (non-empty, '\n'-terminated, no blank line) with the keyring's audit key under the
 * key name ecl_keyring_origin(kr); appends the whole signed note to out. */
enum ecl_status ecl_note_sign(const struct ecl_keyring *kr, const char *text, size_t text_len,
                              struct ecl_buf *out) ECL_WUR;
/* Verifies a signed note against one key: ECL_OK when a signature line with this name and key
 * id verifies over the text; *text_len is then the length of the signed text.  ECL_ERR_INVALID
 * for a malformed note, ECL_ERR_CRYPTO when no line by this key verifies. */
enum ecl_status ecl_note_verify(const char *note, size_t len, const char *name,
                                const uint8_t pk[ECL_SIGN_PK_LEN], size_t *text_len) ECL_WUR;

/* tlog-checkpoint body: "<origin>\n<size>\n<base64 root>\n"; appended to out. */
enum ecl_status ecl_checkpoint_format(const char *origin, uint64_t size,
                                      const uint8_t root[ECL_HASH_LEN],
                                      struct ecl_buf *out) ECL_WUR;
/* Parses the first three lines of a checkpoint body (extension lines are allowed and ignored);
 * the origin must equal origin.  ECL_ERR_INVALID otherwise. */
enum ecl_status ecl_checkpoint_parse(const char *text, size_t len, const char *origin,
                                     uint64_t *size, uint8_t root[ECL_HASH_LEN]) ECL_WUR;

/* ---- Destroyable record-KEK versions (docs/erasure.md, SECURITY.md) -------------------------
 * Every record-KEK version v has 32 random bytes of "KEK material" in DIR/keyring, sealed
 * (XChaCha20-Poly1305) under the keyring seal key derived from the master key.  The KEK is
 *   KEK_v = BLAKE2b-256(key = ecl_kdf_derive(master, ECL_KEY_RECORD_KEK, v), msg = material_v)
 * so it needs both the master key and material_v: rewriting the keyring without material_v
 * destroys version v, and every data key wrapped under it, in every copy of the store.  A
 * version without material in the keyring is destroyed: ecl_keyring_key_at refuses it with
 * ECL_ERR_CRYPTO. */
enum { ECL_KEK_MATERIAL_LEN = 32 };

void ecl_record_kek_derive(const uint8_t master[ECL_MASTER_KEY_LEN], uint32_t version,
                           const uint8_t material[ECL_KEK_MATERIAL_LEN], uint8_t out[ECL_KEY_LEN]);

/* 1 when the keyring holds material for this record-KEK version (public information). */
int ecl_keyring_kek_present(const struct ecl_keyring *kr, uint32_t version);

/* Adds material for record-KEK version current+1 and makes it current: DIR/keyring is rewritten
 * atomically (temporary file 0600, fsync, rename, fsync of DIR).  kr must hold secrets and come
 * from DIR; it is not changed (load the keyring again).  ECL_ERR_LIMIT when the keyring already
 * holds ECL_KEK_VERSIONS_MAX versions. */
enum ecl_status ecl_keyring_kek_rotate(const char *dir, const struct ecl_keyring *kr,
                                       uint32_t *new_version) ECL_WUR;

/* Destroys record-KEK version: DIR/keyring is rewritten atomically without its material, and the
 * replaced file's bytes are overwritten (best effort: see docs/erasure.md).  The caller checks
 * that no data key is still wrapped under version.  ECL_ERR_NOT_FOUND when it is already
 * destroyed, ECL_ERR_INVALID for the current version or 0. */
enum ecl_status ecl_keyring_kek_destroy(const char *dir, const struct ecl_keyring *kr,
                                        uint32_t version) ECL_WUR;

#endif
