/* Principals and API keys in the `principals` database (see principals.h).
 *
 * Row format (version 1), all integers big-endian:
 *   u8 version=1 | u8 role | u64 created | u64 revoked | hash[32] | u8 name_len | name */
#include <string.h>

#include "ecl/buf.h"
#include "principals.h"
#include "store_internal.h"

enum {
    ROW_VERSION = 1,
    ROW_FIXED = 1 + 1 + 8 + 8 + ECL_HASH_LEN + 1,
    ROW_MAX = ROW_FIXED + ECL_NAME_MAX_LEN,
    KEY_PREFIX_LEN = 3,                                    /* "ek_" */
    KEY_SECRET_B64_LEN = (ECL_API_SECRET_LEN * 4 + 2) / 3, /* 43 */
    KEY_TEXT_LEN = KEY_PREFIX_LEN + 2 * ECL_PRINCIPAL_ID_LEN + 1 + KEY_SECRET_B64_LEN,
};
_Static_assert((int)KEY_TEXT_LEN <= (int)ECL_API_KEY_MAX_LEN, "API key text fits");

#define KEY_HASH_CONTEXT "ecluse api key v1"

static const char *const role_names[] = {
    [ECL_ROLE_AGENT] = "agent",
    [ECL_ROLE_AUDITOR] = "auditor",
    [ECL_ROLE_DPO] = "dpo",
    [ECL_ROLE_ADMIN] = "admin",
};
_Static_assert(sizeof role_names / sizeof role_names[0] == ECL_ROLE_COUNT, "one name per role");

const char *
ecl_role_name(enum ecl_role r)
{
    if ((unsigned)r >= ECL_ROLE_COUNT) {
        return "unknown";
    }
    return role_names[r];
}

enum ecl_status
ecl_role_parse(const char *s, enum ecl_role *out)
{
    for (unsigned i = 0; i < ECL_ROLE_COUNT; i++) {
        if (strcmp(s, role_names[i]) == 0) {
            *out = (enum ecl_role)i;
            return ECL_OK;
        }
    }
    return ECL_ERR_INVALID;
}

int
ecl_principal_name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > ECL_NAME_MAX_LEN) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

void
ecl_principal_key_hash(const uint8_t pepper[ECL_KEY_LEN], const uint8_t id[ECL_PRINCIPAL_ID_LEN],
                       const uint8_t secret[ECL_API_SECRET_LEN], uint8_t out[ECL_HASH_LEN])
{
    uint8_t in[sizeof KEY_HASH_CONTEXT + ECL_PRINCIPAL_ID_LEN + ECL_API_SECRET_LEN];

    /* sizeof includes the NUL: the context is NUL-separated from the id */
    memcpy(in, KEY_HASH_CONTEXT, sizeof KEY_HASH_CONTEXT);
    memcpy(in + sizeof KEY_HASH_CONTEXT, id, ECL_PRINCIPAL_ID_LEN);
    memcpy(in + sizeof KEY_HASH_CONTEXT + ECL_PRINCIPAL_ID_LEN, secret, ECL_API_SECRET_LEN);
    ecl_crypto_blake2b(out, ECL_HASH_LEN, pepper, ECL_KEY_LEN, in, sizeof in);
    ecl_wipe(in, sizeof in);
}

static int
is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

enum ecl_status
ecl_api_key_parse(const char *text, size_t len, uint8_t id[ECL_PRINCIPAL_ID_LEN],
                  uint8_t secret[ECL_API_SECRET_LEN])
{
    const char *hex = text + KEY_PREFIX_LEN;
    const char *b64 = hex + 2 * ECL_PRINCIPAL_ID_LEN + 1;
    struct ecl_buf raw;
    enum ecl_status st;

    if (len != KEY_TEXT_LEN || strncmp(text, "ek_", KEY_PREFIX_LEN) != 0 ||
        hex[2 * ECL_PRINCIPAL_ID_LEN] != '.' || !is_lower_hex(hex, 2 * ECL_PRINCIPAL_ID_LEN)) {
        return ECL_ERR_INVALID;
    }
    ecl_buf_init(&raw, ECL_API_SECRET_LEN + 3);
    st = ecl_crypto_b64url_decode(b64, KEY_SECRET_B64_LEN, &raw);
    if (st == ECL_OK && raw.len != ECL_API_SECRET_LEN) {
        st = ECL_ERR_INVALID;
    }
    if (st == ECL_OK) {
        st = ecl_unhex(hex, 2 * ECL_PRINCIPAL_ID_LEN, id, ECL_PRINCIPAL_ID_LEN);
    }
    if (st == ECL_OK) {
        memcpy(secret, raw.ptr, ECL_API_SECRET_LEN);
    } else {
        st = ECL_ERR_INVALID;
    }
    ecl_buf_free(&raw);
    return st;
}

static void
row_encode(const struct ecl_principal *p, uint8_t row[ROW_MAX], size_t *len)
{
    size_t n = strlen(p->name);

    row[0] = ROW_VERSION;
    row[1] = (uint8_t)p->role;
    ecl_put_u64(row + 2, p->created);
    ecl_put_u64(row + 10, p->revoked);
    memcpy(row + 18, p->hash, ECL_HASH_LEN);
    row[18 + ECL_HASH_LEN] = (uint8_t)n;
    memcpy(row + ROW_FIXED, p->name, n);
    *len = ROW_FIXED + n;
}

static enum ecl_status
row_decode(const uint8_t *id, const uint8_t *row, size_t len, struct ecl_principal *out)
{
    struct ecl_reader r;
    struct ecl_principal p;
    const uint8_t *hash = NULL;
    const uint8_t *name = NULL;
    uint8_t version = 0;
    uint8_t role = 0;
    uint8_t name_len = 0;

    memset(&p, 0, sizeof p);
    ecl_reader_init(&r, row, len);
    ECL_GUARD(ecl_reader_u8(&r, &version));
    ECL_GUARD(ecl_reader_u8(&r, &role));
    ECL_GUARD(ecl_reader_u64(&r, &p.created));
    ECL_GUARD(ecl_reader_u64(&r, &p.revoked));
    ECL_GUARD(ecl_reader_bytes(&r, ECL_HASH_LEN, &hash));
    ECL_GUARD(ecl_reader_u8(&r, &name_len));
    ECL_GUARD(ecl_reader_bytes(&r, name_len, &name));
    if (version != ROW_VERSION || role >= ECL_ROLE_COUNT || name_len == 0 ||
        name_len > ECL_NAME_MAX_LEN || ecl_reader_left(&r) != 0) {
        return ECL_ERR_INVALID;
    }
    memcpy(p.id, id, ECL_PRINCIPAL_ID_LEN);
    memcpy(p.hash, hash, ECL_HASH_LEN);
    memcpy(p.name, name, name_len);
    p.role = (enum ecl_role)role;
    if (!ecl_principal_name_ok(p.name)) {
        return ECL_ERR_INVALID;
    }
    *out = p;
    return ECL_OK;
}

static enum ecl_status
get_in(MDB_txn *txn, MDB_dbi dbi, const uint8_t id[ECL_PRINCIPAL_ID_LEN], struct ecl_principal *out)
{
    MDB_val k = {ECL_PRINCIPAL_ID_LEN, (void *)id};
    MDB_val v;
    int rc = mdb_get(txn, dbi, &k, &v);

    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    return row_decode(id, v.mv_data, v.mv_size, out);
}

enum ecl_status
ecl_principal_get(struct ecl_store *s, const uint8_t id[ECL_PRINCIPAL_ID_LEN],
                  struct ecl_principal *out)
{
    MDB_txn *txn = NULL;
    enum ecl_status st;
    int rc = mdb_txn_begin(s->rec_env, NULL, MDB_RDONLY, &txn);

    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    st = get_in(txn, s->principals, id, out);
    mdb_txn_abort(txn);
    return st;
}

/* Walks every row of a transaction; fn returns non-OK to stop. */
static enum ecl_status
walk(MDB_txn *txn, MDB_dbi dbi, ecl_principal_fn fn, void *arg)
{
    MDB_cursor *cur = NULL;
    MDB_val k;
    MDB_val v;
    struct ecl_principal p;
    enum ecl_status st = ECL_OK;
    int rc = mdb_cursor_open(txn, dbi, &cur);

    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != ECL_PRINCIPAL_ID_LEN) {
            st = ECL_ERR_INVALID;
            break;
        }
        st = row_decode(k.mv_data, v.mv_data, v.mv_size, &p);
        if (st == ECL_OK) {
            st = fn(arg, &p);
        }
        if (st != ECL_OK) {
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (st == ECL_OK && rc != MDB_NOTFOUND) {
        st = ecl_store_mdb_status(rc);
    }
    mdb_cursor_close(cur);
    return st;
}

enum ecl_status
ecl_principal_list(struct ecl_store *s, ecl_principal_fn fn, void *arg)
{
    MDB_txn *txn = NULL;
    enum ecl_status st;
    int rc = mdb_txn_begin(s->rec_env, NULL, MDB_RDONLY, &txn);

    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    st = walk(txn, s->principals, fn, arg);
    mdb_txn_abort(txn);
    return st;
}

struct name_search {
    const char *name;
    struct ecl_principal found;
    int have; /* 0 none, 1 a revoked one, 2 the active one */
};

static enum ecl_status
name_match(void *arg, const struct ecl_principal *p)
{
    struct name_search *ns = arg;

    if (strcmp(p->name, ns->name) != 0) {
        return ECL_OK;
    }
    if (p->revoked == 0) {
        ns->found = *p;
        ns->have = 2;
    } else if (ns->have == 0 || (ns->have == 1 && p->revoked > ns->found.revoked)) {
        ns->found = *p;
        ns->have = 1;
    }
    return ECL_OK;
}

enum ecl_status
ecl_principal_find(struct ecl_store *s, const char *id_or_name, struct ecl_principal *out)
{
    uint8_t id[ECL_PRINCIPAL_ID_LEN];
    struct name_search ns;
    size_t n = strlen(id_or_name);

    if (n == 2 * ECL_PRINCIPAL_ID_LEN && is_lower_hex(id_or_name, n) &&
        ecl_unhex(id_or_name, n, id, sizeof id) == ECL_OK) {
        enum ecl_status st = ecl_principal_get(s, id, out);
        if (st != ECL_ERR_NOT_FOUND) {
            return st;
        }
    }
    if (!ecl_principal_name_ok(id_or_name)) {
        return ECL_ERR_NOT_FOUND;
    }
    memset(&ns, 0, sizeof ns);
    ns.name = id_or_name;
    ECL_GUARD(ecl_principal_list(s, name_match, &ns));
    if (ns.have == 0) {
        return ECL_ERR_NOT_FOUND;
    }
    *out = ns.found;
    return ECL_OK;
}

static enum ecl_status
active_name_taken(void *arg, const struct ecl_principal *p)
{
    const char *name = arg;

    return p->revoked == 0 && strcmp(p->name, name) == 0 ? ECL_ERR_EXISTS : ECL_OK;
}

enum ecl_status
ecl_principal_add(struct ecl_store *s, const struct ecl_keyring *kr, const char *name,
                  enum ecl_role role, uint64_t now, struct ecl_principal *p_out,
                  struct ecl_api_key *key_out)
{
    const uint8_t *pepper = ecl_keyring_key(kr, ECL_KEY_API_PEPPER);
    uint8_t secret[ECL_API_SECRET_LEN];
    uint8_t row[ROW_MAX];
    char hex[2 * ECL_PRINCIPAL_ID_LEN + 1];
    struct ecl_principal p;
    struct ecl_api_key key;
    struct ecl_buf b64;
    MDB_txn *txn = NULL;
    MDB_val k;
    MDB_val v;
    size_t row_len = 0;
    enum ecl_status st = ECL_OK;
    int rc;

    memset(&p, 0, sizeof p);
    memset(&key, 0, sizeof key);
    ecl_buf_init(&b64, KEY_SECRET_B64_LEN + 4);
    if (pepper == NULL || (unsigned)role >= ECL_ROLE_COUNT) {
        st = ECL_ERR_INTERNAL;
        goto out;
    }
    if (!ecl_principal_name_ok(name)) {
        st = ECL_ERR_INVALID;
        goto out;
    }
    memcpy(p.name, name, strlen(name) + 1);
    p.role = role;
    p.created = now;
    ecl_crypto_random(secret, sizeof secret);

    rc = mdb_txn_begin(s->rec_env, NULL, 0, &txn);
    if (rc != 0) {
        st = ecl_store_mdb_status(rc);
        goto out;
    }
    st = walk(txn, s->principals, active_name_taken, (void *)name);
    if (st != ECL_OK) {
        goto out;
    }
    /* a fresh random id; 64 bits make a collision unlikely, MDB_NOOVERWRITE makes it harmless */
    for (int tries = 0;; tries++) {
        ecl_crypto_random(p.id, sizeof p.id);
        ecl_principal_key_hash(pepper, p.id, secret, p.hash);
        row_encode(&p, row, &row_len);
        k.mv_size = sizeof p.id;
        k.mv_data = p.id;
        v.mv_size = row_len;
        v.mv_data = row;
        rc = mdb_put(txn, s->principals, &k, &v, MDB_NOOVERWRITE);
        if (rc != MDB_KEYEXIST || tries == 4) {
            break;
        }
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc != 0) {
        st = ecl_store_mdb_status(rc);
        goto out;
    }
    st = ecl_crypto_b64url_encode(secret, sizeof secret, &b64);
    if (st != ECL_OK || b64.len != KEY_SECRET_B64_LEN) {
        st = st != ECL_OK ? st : ECL_ERR_INTERNAL;
        goto out;
    }
    ecl_hex(p.id, sizeof p.id, hex);
    memcpy(key.text, "ek_", KEY_PREFIX_LEN);
    memcpy(key.text + KEY_PREFIX_LEN, hex, 2 * ECL_PRINCIPAL_ID_LEN);
    key.text[KEY_PREFIX_LEN + 2 * ECL_PRINCIPAL_ID_LEN] = '.';
    memcpy(key.text + KEY_PREFIX_LEN + 2 * ECL_PRINCIPAL_ID_LEN + 1, b64.ptr, b64.len);
    key.text[KEY_TEXT_LEN] = 0;
    *p_out = p;
    *key_out = key;
out:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    ecl_buf_free(&b64);
    ecl_wipe(&key, sizeof key);
    ecl_wipe(secret, sizeof secret);
    return st;
}

enum ecl_status
ecl_principal_revoke(struct ecl_store *s, const uint8_t id[ECL_PRINCIPAL_ID_LEN], uint64_t now,
                     struct ecl_principal *out)
{
    struct ecl_principal p;
    uint8_t row[ROW_MAX];
    size_t row_len = 0;
    MDB_txn *txn = NULL;
    MDB_val k = {ECL_PRINCIPAL_ID_LEN, (void *)id};
    MDB_val v;
    enum ecl_status st;
    int rc = mdb_txn_begin(s->rec_env, NULL, 0, &txn);

    if (rc != 0) {
        return ecl_store_mdb_status(rc);
    }
    st = get_in(txn, s->principals, id, &p);
    if (st == ECL_OK && p.revoked == 0) {
        p.revoked = now == 0 ? 1 : now;
        row_encode(&p, row, &row_len);
        v.mv_size = row_len;
        v.mv_data = row;
        rc = mdb_put(txn, s->principals, &k, &v, 0);
        if (rc == 0) {
            rc = mdb_txn_commit(txn);
            txn = NULL;
        }
        st = ecl_store_mdb_status(rc);
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    if (st == ECL_OK) {
        *out = p;
    }
    return st;
}

enum ecl_status
ecl_principal_authenticate(struct ecl_store *s, const struct ecl_keyring *kr, const char *key,
                           size_t key_len, struct ecl_principal *out)
{
    /* compared against when the id is unknown, so that both paths hash and compare */
    static const uint8_t dummy_hash[ECL_HASH_LEN] = {0};
    const uint8_t *pepper = ecl_keyring_key(kr, ECL_KEY_API_PEPPER);
    uint8_t id[ECL_PRINCIPAL_ID_LEN];
    uint8_t secret[ECL_API_SECRET_LEN];
    uint8_t hash[ECL_HASH_LEN];
    struct ecl_principal p;
    const uint8_t *want = dummy_hash;
    enum ecl_status st;
    int found = 0;
    int equal;

    if (pepper == NULL) {
        return ECL_ERR_INTERNAL;
    }
    if (ecl_api_key_parse(key, key_len, id, secret) != ECL_OK) {
        return ECL_ERR_DENIED;
    }
    st = ecl_principal_get(s, id, &p);
    if (st == ECL_OK) {
        found = 1;
        want = p.hash;
    } else if (st != ECL_ERR_NOT_FOUND) {
        goto out;
    }
    ecl_principal_key_hash(pepper, id, secret, hash);
    equal = ecl_crypto_equal(hash, want, ECL_HASH_LEN);
    st = ECL_ERR_DENIED;
    if (found && equal && p.revoked == 0) {
        *out = p;
        st = ECL_OK;
    }
out:
    ecl_wipe(secret, sizeof secret);
    ecl_wipe(hash, sizeof hash);
    return st;
}
