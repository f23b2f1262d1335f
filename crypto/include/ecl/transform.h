/* Field transforms on the way out (docs/transforms.md): keyed pseudonyms, reversible tokens,
 * masking, generalization and redaction, plus the crypto of the look-up-by-pseudonym index.
 *
 * Layers, from the bottom:
 *  - a linkability domain (struct ecl_domain): an unambiguous byte encoding of (kind, names);
 *  - domain keys derived from a root key (the ECL_KEY_PSEUDONYM or ECL_KEY_TOKEN key of one
 *    version) for one domain: struct ecl_pseudonym_key and struct ecl_token_key.  These are
 *    caller-allocated value types holding secrets: wipe them with the *_wipe functions;
 *  - a per-request context (struct ecl_transform_ctx) that derives domain keys from the keyring
 *    on first use and caches them, and ecl_transform_apply, which applies one policy action to
 *    one field value.
 * Nothing here keeps global state; every function is thread-safe on distinct objects.  A context
 * is used by one thread at a time (the thread serving the request). */
#ifndef ECL_TRANSFORM_H
#define ECL_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ecl/action.h"
#include "ecl/buf.h"
#include "ecl/crypto.h"
#include "ecl/limits.h"
#include "ecl/schema.h"
#include "ecl/status.h"

enum {
    ECL_TOKEN_NONCE_LEN = 24, /* synthetic IV */
};

/* ---- linkability domains ------------------------------------------------------------------ */

/* The encoding is u8 kind (1 agent, 2 purpose, 3 agent+purpose, 4 shared) followed by each name
 * as u8 length || bytes: agent; purpose; agent, purpose; shared name. */
struct ecl_domain {
    enum ecl_link_domain kind;
    size_t enc_len;
    uint8_t enc[ECL_DOMAIN_ENC_MAX];
};

/* Builds the domain of kind from the names it needs (the others may be NULL).  Each needed
 * name must be 1..ECL_NAME_MAX_LEN bytes; ECL_ERR_INVALID otherwise. */
enum ecl_status ecl_domain_init(enum ecl_link_domain kind, const char *agent, const char *purpose,
                                const char *shared, struct ecl_domain *out) ECL_WUR;

/* ---- pseudonyms ---------------------------------------------------------------------------- */

/* The key of one domain in one epoch.  Holds a secret: wipe with ecl_pseudonym_key_wipe. */
struct ecl_pseudonym_key {
    uint32_t epoch;
    struct ecl_domain domain;
    uint8_t key[ECL_KEY_LEN];
};

/* Domain key = BLAKE2b-256(key = root, u8 9 || "pseudonym" || domain encoding), where root is
 * the ECL_KEY_PSEUDONYM key of version epoch (>= 1).  Pure. */
void ecl_pseudonym_key_init(const uint8_t root[ECL_KEY_LEN], uint32_t epoch,
                            const struct ecl_domain *d, struct ecl_pseudonym_key *out);
void ecl_pseudonym_key_wipe(struct ecl_pseudonym_key *k);

/* The pseudonym of a canonical value (ecl_transform_value_canon): BLAKE2b-128 keyed with the
 * domain key.  No allocation; the hot path. */
void ecl_pseudonym_tag(const struct ecl_pseudonym_key *k, const uint8_t *canon, size_t canon_len,
                       uint8_t out[ECL_PSEUDONYM_TAG_LEN]);

/* "ps_" || decimal epoch || "_" || base64url(tag) without padding (22 characters).  out holds
 * ECL_PSEUDONYM_MAX_LEN + 1 bytes; returns the length written (NUL not counted). */
size_t ecl_pseudonym_render(uint32_t epoch, const uint8_t tag[ECL_PSEUDONYM_TAG_LEN],
                            char out[ECL_PSEUDONYM_MAX_LEN + 1]);
/* Parses a rendered pseudonym strictly (the exact rendering only: no leading zeros, no padding,
 * canonical base64url).  ECL_ERR_INVALID otherwise. */
enum ecl_status ecl_pseudonym_parse(const char *s, size_t len, uint32_t *epoch,
                                    uint8_t tag[ECL_PSEUDONYM_TAG_LEN]) ECL_WUR;

/* ---- reversible tokens (deterministic AEAD with a synthetic IV) ----------------------------- */

/* Keys of one domain at one version of ECL_KEY_TOKEN: mac = BLAKE2b-256(root, u8 9 ||
 * "token-siv" || domain), enc = BLAKE2b-256(root, u8 9 || "token-enc" || domain).  Secrets:
 * wipe with ecl_token_key_wipe. */
struct ecl_token_key {
    uint32_t version;
    struct ecl_domain domain;
    uint8_t mac[ECL_KEY_LEN];
    uint8_t enc[ECL_KEY_LEN];
};

void ecl_token_key_init(const uint8_t root[ECL_KEY_LEN], uint32_t version,
                        const struct ecl_domain *d, struct ecl_token_key *out);
void ecl_token_key_wipe(struct ecl_token_key *k);

/* Seals a canonical value into "tk_" || base64url(u32be version || siv || ciphertext || tag),
 * appended to out.  ad = u32be version || domain encoding; siv = BLAKE2b-192(mac, ad || plain);
 * ciphertext = XChaCha20-Poly1305(enc, nonce = siv, ad).  Deterministic.  ECL_ERR_LIMIT when
 * plain is longer than ECL_TOKEN_MAX_PLAIN, or when out's cap is reached. */
enum ecl_status ecl_token_seal(const struct ecl_token_key *k, const uint8_t *plain,
                               size_t plain_len, struct ecl_buf *out) ECL_WUR;
/* Opens a token with the key of its domain and version: checks the prefix, the version (it must
 * equal k->version), the AEAD tag and the synthetic IV (recomputed from the plaintext, compared in
 * constant time).  Appends the canonical value to out.  Every failure is ECL_ERR_CRYPTO (or
 * ECL_ERR_NOMEM / ECL_ERR_LIMIT for out), and out is unchanged then. */
enum ecl_status ecl_token_open_key(const struct ecl_token_key *k, const char *token,
                                   size_t token_len, struct ecl_buf *out) ECL_WUR;
/* The version a token claims (no authentication: use it only to pick the key). */
enum ecl_status ecl_token_version(const char *token, size_t token_len, uint32_t *out) ECL_WUR;

/* For the DPO re-identification endpoint: opens token in domain d with the keyring's token key
 * of the token's version (which must be between 1 and the current version).  *out is a new JSON
 * value of the token's type (string, integer, real or boolean) holding the normalised value the
 * token was made from.  ECL_ERR_CRYPTO for any token that is not a valid token of d. */
enum ecl_status ecl_token_open(const struct ecl_keyring *kr, const struct ecl_domain *d,
                               const char *token, size_t token_len, json_t **out) ECL_WUR;

/* ---- canonical values ---------------------------------------------------------------------- */

/* The bytes that pseudonyms and tokens are computed over: one kind byte and a canonical text.
 *   string, enum: 's' || the string normalised per field->normalize (ecl_normalize)
 *   date:         'd' || "YYYY-MM-DD" (must be a valid date)
 *   integer:      'i' || decimal, '-' for negatives, no leading zeros
 *   number:       'n' || decimal integer when integral and |v| < 2^53, otherwise the shortest
 *                 "%.{1..17}g" that reads back as the same double; -0 is "0"
 *   boolean:      'b' || "true" / "false"
 * The JSON type must match the field type (a number field also takes integers).  Writes at most
 * cap bytes to out and the length to *len.  ECL_ERR_INVALID for a wrong type, an invalid date or
 * null; ECL_ERR_LIMIT when the value does not fit (cap >= ECL_TOKEN_MAX_PLAIN + 1 fits every
 * value of at most ECL_FIELD_MAX_BYTES bytes; longer strings are ECL_ERR_LIMIT). */
enum ecl_status ecl_transform_value_canon(const struct ecl_field *field, const json_t *in,
                                          uint8_t *out, size_t cap, size_t *len) ECL_WUR;

/* ---- the per-request context --------------------------------------------------------------- */

struct ecl_transform_ctx {
    const struct ecl_keyring *keyring; /* borrowed; must outlive the context */
    const char *agent;                 /* borrowed: the principal's agent id */
    const char *purpose;               /* borrowed: the request's purpose id */
    int64_t now;                       /* request time, unix seconds (age bands) */
    /* private: domain keys derived on first use (secrets, wiped by ecl_transform_ctx_free) */
    size_t npseudo;
    size_t ntoken;
    struct ecl_pseudonym_key pseudo[ECL_TRANSFORM_DOMAIN_SLOTS];
    struct ecl_token_key token[ECL_TRANSFORM_DOMAIN_SLOTS];
    uint32_t index_epoch; /* 0 until the index keys below are derived */
    uint8_t index_key[ECL_KEY_LEN];
    uint8_t seal_key[ECL_KEY_LEN];
};

/* Initialises a context (it may live on the stack: about 3.5 KiB).  Borrows everything.  The
 * keyring must hold secrets for pseudonyms, tokens and the index. */
void ecl_transform_ctx_init(struct ecl_transform_ctx *ctx, const struct ecl_keyring *kr,
                            const char *agent, const char *purpose, int64_t now);
/* Wipes the cached keys.  The context can be initialised again afterwards. */
void ecl_transform_ctx_free(struct ecl_transform_ctx *ctx);

/* The domain an action refers to, in this context's agent and purpose. */
enum ecl_status ecl_transform_domain(const struct ecl_transform_ctx *ctx,
                                     const struct ecl_action *act, struct ecl_domain *out) ECL_WUR;

/* Applies act to the value in of field (in: a borrowed JSON value of the record; field: its
 * schema entry).  *out is a new reference owned by the caller.  null in gives null out for every
 * action.  ECL_ERR_INVALID when the value has the wrong type for the action or the field, or the
 * action's parameters are out of range; ECL_ERR_PERM when the keyring has no secrets; the caller
 * must then not release the field (fail closed).  Exact semantics: docs/transforms.md. */
enum ecl_status ecl_transform_apply(struct ecl_transform_ctx *ctx, const struct ecl_action *act,
                                    const struct ecl_field *field, const json_t *in,
                                    json_t **out) ECL_WUR;

/* ---- look-up by pseudonym ------------------------------------------------------------------ */

/* Index key of a pseudonym string in the domain of act (as seen by this context's agent and
 * purpose): BLAKE2b-256(key = index key of the pseudonym's epoch, domain encoding || u32be
 * epoch || tag), where the index key of an epoch = BLAKE2b-256(pseudonym root of that epoch,
 * u8 12 || "pseudo-index").  A pseudonym of another domain gives an unrelated index key, so it
 * resolves to nothing.  ECL_ERR_INVALID for a string that is not a pseudonym, ECL_ERR_NOT_FOUND
 * for an epoch after the current one. */
enum ecl_status ecl_transform_pseudo_index_key(struct ecl_transform_ctx *ctx,
                                               const struct ecl_action *act, const char *pseudonym,
                                               size_t len,
                                               uint8_t out[ECL_PSEUDO_INDEX_KEY_LEN]) ECL_WUR;

/* What an index entry points at. */
struct ecl_pseudo_target {
    char dataset[ECL_NAME_MAX_LEN + 1];
    uint8_t subject_key[ECL_PSEUDO_SUBJECT_KEY_MAX];
    size_t subject_key_len;
};

/* Seals the value of an index entry: u32be epoch || XChaCha20-Poly1305 (random nonce) of
 * (u8 dataset length || dataset || subject key) under the seal key of the current pseudonym
 * epoch (BLAKE2b-256(root, u8 11 || "pseudo-seal")), with ad = "ecluse pseudo-index v1" ||
 * index_key, so a value moved to another entry does not open.  Appends to out. */
enum ecl_status ecl_transform_pseudo_seal(struct ecl_transform_ctx *ctx,
                                          const uint8_t index_key[ECL_PSEUDO_INDEX_KEY_LEN],
                                          const struct ecl_pseudo_target *target,
                                          struct ecl_buf *out) ECL_WUR;
/* Opens a sealed index value found under index_key.  ECL_ERR_CRYPTO when it does not open. */
enum ecl_status ecl_transform_pseudo_open(struct ecl_transform_ctx *ctx,
                                          const uint8_t index_key[ECL_PSEUDO_INDEX_KEY_LEN],
                                          const uint8_t *sealed, size_t sealed_len,
                                          struct ecl_pseudo_target *out) ECL_WUR;

/* ---- pure helpers (exposed for tests) ------------------------------------------------------- */

/* Civil date (UTC) of unix time t, proleptic Gregorian. */
void ecl_transform_civil(int64_t t, int *y, int *m, int *d);
/* Renders a double per the "number" rule of ecl_transform_value_canon into out (>= 32 bytes);
 * returns the length. */
size_t ecl_transform_num_render(double v, char *out, size_t cap);

#endif
