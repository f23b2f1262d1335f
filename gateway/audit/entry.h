/* Internal to gateway/audit/: the byte layout of a stored entry (docs/audit-format.md). */
#ifndef ECL_AUDIT_ENTRY_H
#define ECL_AUDIT_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "audit.h"
#include "ecl/buf.h"
#include "ecl/crypto.h"

#define ECL_AUDIT_MAGIC "ECLA"
enum {
    ECL_AUDIT_FORMAT_VERSION = 1,
    ECL_AUDIT_HEADER_FIXED = 4 + 1 + ECL_LOG_ID_LEN + 8 + 8 + 4 + ECL_AUDIT_TOKEN_LEN + 2,
    ECL_AUDIT_NONCE_TAG = ECL_AEAD_NONCE_LEN + ECL_AEAD_TAG_LEN,
};

/* A parsed clear header; tokens borrows the leaf. */
struct ecl_audit_header {
    uint8_t version;
    uint8_t log_id[ECL_LOG_ID_LEN];
    uint64_t seq;
    uint64_t time_ms;
    uint32_t key_version;
    uint8_t principal_token[ECL_AUDIT_TOKEN_LEN];
    size_t ntokens;
    const uint8_t *tokens; /* ntokens * ECL_AUDIT_TOKEN_LEN bytes, strictly increasing */
    size_t header_len;     /* bytes of the header (the associated data) */
};

/* Blind-index token of an identifier: BLAKE2b-128 keyed with the audit-index key over
 * domain || 0x00 || id, truncated to ECL_AUDIT_TOKEN_LEN bytes. */
enum ecl_audit_token_domain { ECL_AUDIT_TOK_SUBJECT = 0, ECL_AUDIT_TOK_PRINCIPAL };
void ecl_audit_token(const uint8_t key[ECL_KEY_LEN], enum ecl_audit_token_domain domain,
                     const char *id, size_t id_len, uint8_t out[ECL_AUDIT_TOKEN_LEN]);

/* Checks an event against the limits and builds its compact JSON payload into out. */
enum ecl_status ecl_audit_payload_build(const struct ecl_audit_event *ev,
                                        struct ecl_buf *out) ECL_WUR;

/* Sorts and de-duplicates n tokens in place; returns the new count. */
size_t ecl_audit_tokens_sort(uint8_t *tokens, size_t n);

/* Builds header || nonce || ciphertext into leaf (appended). */
enum ecl_status ecl_audit_leaf_seal(const struct ecl_keyring *kr, uint64_t seq, uint64_t time_ms,
                                    const uint8_t principal_token[ECL_AUDIT_TOKEN_LEN],
                                    const uint8_t *tokens, size_t ntokens, const uint8_t *payload,
                                    size_t payload_len, struct ecl_buf *leaf) ECL_WUR;

/* Parses the clear header of a leaf (no key needed). */
enum ecl_status ecl_audit_header_parse(const uint8_t *leaf, size_t len,
                                       struct ecl_audit_header *out) ECL_WUR;

/* Decrypts a leaf with the audit-entry key of its header's version; *payload is a new JSON
 * object.  ECL_ERR_CRYPTO when it does not authenticate. */
enum ecl_status ecl_audit_leaf_open(const struct ecl_keyring *kr, const uint8_t *leaf, size_t len,
                                    struct ecl_audit_header *hdr, json_t **payload) ECL_WUR;

#endif
