/* Reversible tokens: deterministic authenticated encryption with a synthetic IV (SIV, RFC 5297's
 * idea with BLAKE2b as the PRF and XChaCha20-Poly1305 as the cipher).  docs/transforms.md,
 * "Tokens", explains the construction and what it leaks (equality, within one domain). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ecl/transform.h"
#include "transform_internal.h"

_Static_assert(ECL_TOKEN_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "siv size");

#define TOKEN_PREFIX "tk_"
enum {
    PREFIX_LEN = sizeof TOKEN_PREFIX - 1,
    HEADER_LEN = 4 + ECL_TOKEN_NONCE_LEN,
    RAW_MAX = HEADER_LEN + ECL_TOKEN_MAX_PLAIN + ECL_AEAD_TAG_LEN,
    AD_MAX = 4 + ECL_DOMAIN_ENC_MAX,
};

void
ecl_token_key_init(const uint8_t root[ECL_KEY_LEN], uint32_t version, const struct ecl_domain *d,
                   struct ecl_token_key *out)
{
    out->version = version;
    out->domain = *d;
    ecl_transform_subkey(root, "token-siv", d->enc, d->enc_len, out->mac);
    ecl_transform_subkey(root, "token-enc", d->enc, d->enc_len, out->enc);
}

void
ecl_token_key_wipe(struct ecl_token_key *k)
{
    sodium_memzero(k, sizeof *k);
}

/* ad = u32be version || domain encoding */
static size_t
token_ad(const struct ecl_token_key *k, uint8_t ad[AD_MAX])
{
    ecl_put_u32(ad, k->version);
    memcpy(ad + 4, k->domain.enc, k->domain.enc_len);
    return 4 + k->domain.enc_len;
}

/* siv = BLAKE2b-192(key = mac, ad || plain) */
static void
token_siv(const struct ecl_token_key *k, const uint8_t *ad, size_t ad_len, const uint8_t *plain,
          size_t plain_len, uint8_t siv[ECL_TOKEN_NONCE_LEN])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, k->mac, sizeof k->mac, ECL_TOKEN_NONCE_LEN);
    crypto_generichash_update(&st, ad, ad_len);
    crypto_generichash_update(&st, plain, plain_len);
    crypto_generichash_final(&st, siv, ECL_TOKEN_NONCE_LEN);
    sodium_memzero(&st, sizeof st);
}

enum ecl_status
ecl_token_seal(const struct ecl_token_key *k, const uint8_t *plain, size_t plain_len,
               struct ecl_buf *out)
{
    uint8_t ad[AD_MAX];
    size_t ad_len = token_ad(k, ad);
    size_t start = out->len;
    struct ecl_buf raw;
    uint8_t *p = NULL;
    unsigned long long clen = 0;
    enum ecl_status st;

    if (plain_len > ECL_TOKEN_MAX_PLAIN) {
        return ECL_ERR_LIMIT;
    }
    ecl_buf_init(&raw, RAW_MAX);
    st = ecl_buf_extend(&raw, HEADER_LEN + plain_len + ECL_AEAD_TAG_LEN, &p);
    if (st != ECL_OK) {
        goto out;
    }
    ecl_put_u32(p, k->version);
    token_siv(k, ad, ad_len, plain, plain_len, p + 4);
    crypto_aead_xchacha20poly1305_ietf_encrypt(p + HEADER_LEN, &clen, plain, plain_len, ad, ad_len,
                                               NULL, p + 4, k->enc);
    st = ecl_buf_append_str(out, TOKEN_PREFIX);
    if (st == ECL_OK) {
        st = ecl_crypto_b64url_encode(raw.ptr, raw.len, out);
    }
out:
    if (st != ECL_OK) {
        out->len = start;
    }
    ecl_buf_free(&raw);
    return st;
}

enum ecl_status
ecl_token_version(const char *token, size_t token_len, uint32_t *out)
{
    uint8_t head[6];
    size_t bin_len = 0;

    /* the first 8 base64url characters are the first 6 bytes, without padding bits */
    if (token_len < PREFIX_LEN + 8 || strncmp(token, TOKEN_PREFIX, PREFIX_LEN) != 0) {
        return ECL_ERR_CRYPTO;
    }
    if (sodium_base642bin(head, sizeof head, token + PREFIX_LEN, 8, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        bin_len != sizeof head) {
        return ECL_ERR_CRYPTO;
    }
    *out = ecl_get_u32(head);
    return ECL_OK;
}

enum ecl_status
ecl_token_open_key(const struct ecl_token_key *k, const char *token, size_t token_len,
                   struct ecl_buf *out)
{
    uint8_t ad[AD_MAX];
    size_t ad_len = token_ad(k, ad);
    uint8_t siv[ECL_TOKEN_NONCE_LEN];
    struct ecl_buf raw;
    struct ecl_buf plain;
    uint8_t *p = NULL;
    unsigned long long plen = 0;
    size_t mlen;
    enum ecl_status st = ECL_ERR_CRYPTO;

    ecl_buf_init(&raw, RAW_MAX);
    ecl_buf_init(&plain, ECL_TOKEN_MAX_PLAIN);
    if (token_len < PREFIX_LEN || token_len > ECL_TOKEN_MAX_LEN ||
        strncmp(token, TOKEN_PREFIX, PREFIX_LEN) != 0) {
        goto out;
    }
    if (ecl_crypto_b64url_decode(token + PREFIX_LEN, token_len - PREFIX_LEN, &raw) != ECL_OK ||
        raw.len < HEADER_LEN + ECL_AEAD_TAG_LEN || ecl_get_u32(raw.ptr) != k->version) {
        st = ECL_ERR_CRYPTO;
        goto out;
    }
    mlen = raw.len - HEADER_LEN - ECL_AEAD_TAG_LEN;
    if (ecl_buf_extend(&plain, mlen, &p) != ECL_OK) {
        st = ECL_ERR_CRYPTO;
        goto out;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(mlen ? p : NULL, &plen, NULL,
                                                   raw.ptr + HEADER_LEN, raw.len - HEADER_LEN, ad,
                                                   ad_len, raw.ptr + 4, k->enc) != 0 ||
        plen != mlen) {
        st = ECL_ERR_CRYPTO;
        goto out;
    }
    /* SIV check: the nonce must be the PRF of the plaintext (the tag alone would accept a
     * ciphertext sealed by the key holder under any nonce). */
    token_siv(k, ad, ad_len, plain.ptr, plain.len, siv);
    if (!ecl_crypto_equal(siv, raw.ptr + 4, sizeof siv)) {
        st = ECL_ERR_CRYPTO;
        goto out;
    }
    st = ecl_buf_append(out, plain.ptr, plain.len);
out:
    sodium_memzero(siv, sizeof siv);
    ecl_buf_free(&plain);
    ecl_buf_free(&raw);
    return st;
}

/* The JSON value of a canonical form (ecl_transform_value_canon). */
static enum ecl_status
canon_to_json(const uint8_t *c, size_t len, json_t **out)
{
    char num[64];
    char *end = NULL;
    json_t *v = NULL;

    if (len < 1) {
        return ECL_ERR_CRYPTO;
    }
    switch (c[0]) {
    case 's':
    case 'd':
        v = json_stringn((const char *)c + 1, len - 1);
        break;
    case 'b':
        if (len == 5 && strncmp((const char *)c + 1, "true", 4) == 0) {
            v = json_true();
        } else if (len == 6 && strncmp((const char *)c + 1, "false", 5) == 0) {
            v = json_false();
        }
        break;
    case 'i':
    case 'n':
        if (len - 1 >= sizeof num || len < 2) {
            return ECL_ERR_CRYPTO;
        }
        memcpy(num, c + 1, len - 1);
        num[len - 1] = 0;
        errno = 0;
        if (c[0] == 'i') {
            long long i = strtoll(num, &end, 10);
            if (errno == 0 && *end == 0) {
                v = json_integer((json_int_t)i);
            }
        } else {
            double d = strtod(num, &end);
            if (errno == 0 && *end == 0) {
                v = json_real(d);
            }
        }
        break;
    default:
        break;
    }
    if (v == NULL) {
        return ECL_ERR_CRYPTO;
    }
    *out = v;
    return ECL_OK;
}

enum ecl_status
ecl_token_open(const struct ecl_keyring *kr, const struct ecl_domain *d, const char *token,
               size_t token_len, json_t **out)
{
    uint8_t root[ECL_KEY_LEN];
    struct ecl_token_key key;
    struct ecl_buf plain;
    uint32_t version = 0;
    enum ecl_status st;

    memset(&key, 0, sizeof key);
    ecl_buf_init(&plain, ECL_TOKEN_MAX_PLAIN);
    st = ecl_token_version(token, token_len, &version);
    if (st != ECL_OK) {
        goto out;
    }
    if (version == 0 || version > ecl_keyring_version(kr, ECL_KEY_TOKEN)) {
        st = ECL_ERR_CRYPTO;
        goto out;
    }
    st = ecl_keyring_key_at(kr, ECL_KEY_TOKEN, version, root);
    if (st != ECL_OK) {
        goto out;
    }
    ecl_token_key_init(root, version, d, &key);
    st = ecl_token_open_key(&key, token, token_len, &plain);
    if (st == ECL_OK) {
        st = canon_to_json(plain.ptr, plain.len, out);
    }
out:
    ecl_buf_free(&plain);
    ecl_token_key_wipe(&key);
    sodium_memzero(root, sizeof root);
    return st;
}
