/* Principals: who may call the gateway, with which role, authenticated by an API key.
 *
 * An API key is "ek_" || hex(id) || "." || base64url(secret) with an 8-byte random id and a
 * 32-byte random secret.  Only a keyed hash of the secret is stored:
 *   hash = BLAKE2b-256(key = api-key pepper, "ecluse api key v1" || 0x00 || id || secret)
 * so that a copy of the store without the master key cannot test guessed secrets, and a hash
 * cannot be moved from one key id to another.  Rows live in the `principals` named database of
 * the records environment, keyed by the 8-byte id.  Every function is thread-safe; writes take a
 * short LMDB write transaction of their own (callers must not hold one). */
#ifndef ECL_PRINCIPALS_H
#define ECL_PRINCIPALS_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/crypto.h"
#include "ecl/limits.h"
#include "ecl/status.h"
#include "store.h"

enum ecl_role {
    ECL_ROLE_AGENT = 0, /* reads records through the policy */
    ECL_ROLE_AUDITOR,   /* reads and verifies the audit log; never records */
    ECL_ROLE_DPO,       /* manages the policy and re-identification */
    ECL_ROLE_ADMIN,     /* manages principals */
};
#define ECL_ROLE_COUNT 4

/* Stable lowercase name ("agent", ...); "unknown" outside the enum. */
const char *ecl_role_name(enum ecl_role r);
/* Parses a role name; ECL_ERR_INVALID when it is not one. */
enum ecl_status ecl_role_parse(const char *s, enum ecl_role *out) ECL_WUR;

struct ecl_principal {
    uint8_t id[ECL_PRINCIPAL_ID_LEN];
    char name[ECL_NAME_MAX_LEN + 1]; /* [A-Za-z0-9._-], 1..ECL_NAME_MAX_LEN */
    enum ecl_role role;
    uint64_t created; /* Unix seconds */
    uint64_t revoked; /* Unix seconds, 0 while the key is valid */
    uint8_t hash[ECL_HASH_LEN];
};

/* A freshly issued key, shown once: "ek_<16 hex>.<43 base64url>" NUL-terminated.  Lives on the
 * caller's stack; wipe it (ecl_wipe) after printing. */
struct ecl_api_key {
    char text[ECL_API_KEY_MAX_LEN + 1];
};

/* 1 when name is a valid principal name. */
int ecl_principal_name_ok(const char *name);

/* The keyed hash of a secret (see above).  Pure; exposed for known-answer tests. */
void ecl_principal_key_hash(const uint8_t pepper[ECL_KEY_LEN],
                            const uint8_t id[ECL_PRINCIPAL_ID_LEN],
                            const uint8_t secret[ECL_API_SECRET_LEN], uint8_t out[ECL_HASH_LEN]);

/* Parses "ek_<id>.<secret>" into its parts (exact lengths, lowercase hex, base64url without
 * padding).  ECL_ERR_INVALID otherwise.  secret is written only on success; the caller wipes. */
enum ecl_status ecl_api_key_parse(const char *text, size_t len, uint8_t id[ECL_PRINCIPAL_ID_LEN],
                                  uint8_t secret[ECL_API_SECRET_LEN]) ECL_WUR;

/* Creates a principal with a new random key.  ECL_ERR_INVALID for a bad name,
 * ECL_ERR_EXISTS when a non-revoked principal already has that name.  On success *p_out is the
 * stored row and *key_out the key to show once. */
enum ecl_status ecl_principal_add(struct ecl_store *s, const struct ecl_keyring *kr,
                                  const char *name, enum ecl_role role, uint64_t now,
                                  struct ecl_principal *p_out, struct ecl_api_key *key_out) ECL_WUR;

/* Reads one principal by id (a short read transaction).  ECL_ERR_NOT_FOUND when absent. */
enum ecl_status ecl_principal_get(struct ecl_store *s, const uint8_t id[ECL_PRINCIPAL_ID_LEN],
                                  struct ecl_principal *out) ECL_WUR;

/* Finds by "16 hex id" or by name (the non-revoked principal of that name, else the most
 * recent revoked one).  ECL_ERR_NOT_FOUND when nothing matches. */
enum ecl_status ecl_principal_find(struct ecl_store *s, const char *id_or_name,
                                   struct ecl_principal *out) ECL_WUR;

/* Revokes by id; now is the revocation time.  ECL_ERR_NOT_FOUND when absent; revoking an
 * already revoked principal keeps the first time and returns ECL_OK. */
enum ecl_status ecl_principal_revoke(struct ecl_store *s, const uint8_t id[ECL_PRINCIPAL_ID_LEN],
                                     uint64_t now, struct ecl_principal *out) ECL_WUR;

/* Calls fn for every principal in id order inside one read transaction (fn must not call the
 * store).  A non-OK status from fn stops the walk and is returned. */
typedef enum ecl_status (*ecl_principal_fn)(void *arg, const struct ecl_principal *p);
enum ecl_status ecl_principal_list(struct ecl_store *s, ecl_principal_fn fn, void *arg) ECL_WUR;

/* Authenticates an API key: parses it, looks its id up and compares the keyed hash in constant
 * time.  The same work is done whether or not the id exists (an unknown id is compared with a
 * dummy row), and every failure returns the same ECL_ERR_DENIED: malformed, unknown, wrong
 * secret, revoked.  ECL_ERR_IO (and other store errors) when the store cannot be read. */
enum ecl_status ecl_principal_authenticate(struct ecl_store *s, const struct ecl_keyring *kr,
                                           const char *key, size_t key_len,
                                           struct ecl_principal *out) ECL_WUR;

#endif
