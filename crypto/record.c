/* Record sealing: subject keys, blind indexes, per-subject data keys wrapped by the record KEK,
 * and records sealed under their data key.  See docs/datasets.md, "How records are stored". */
#include <string.h>

#include <sodium.h>

#include "ecl/crypto.h"

enum {
    FORMAT_V1 = 1,
    AD_MAX = 32 + 1 + ECL_NAME_MAX_LEN + 1 + ECL_SUBJECT_KEY_LEN + 4,
};

_Static_assert(ECL_SUBJECT_KEY_LEN <= crypto_generichash_BYTES_MAX, "subject key size");
_Static_assert(ECL_BLIND_INDEX_LEN >= crypto_generichash_BYTES_MIN, "blind index size");

static const char *const labels[] = {
    [ECL_SEALED_RECORD] = "ecluse record v1",
    [ECL_SEALED_OBJECTIONS] = "ecluse objections v1",
};
_Static_assert(sizeof labels / sizeof labels[0] == ECL_SEALED_KIND_COUNT, "one label per kind");
#define WRAP_LABEL "ecluse datakey v1"

/* label || 0x00 || dataset || 0x00 || subject key || version (u32 BE).  Names never hold NUL,
 * so the encoding is unambiguous. */
static enum ecl_status
build_ad(const char *label, const char *dataset, const uint8_t skey[ECL_SUBJECT_KEY_LEN],
         uint32_t version, uint8_t ad[AD_MAX], size_t *ad_len)
{
    size_t ln = strlen(label);
    size_t dn = strnlen(dataset, ECL_NAME_MAX_LEN + 1);
    size_t n = 0;

    if (dn == 0 || dn > ECL_NAME_MAX_LEN || ln > 32) {
        return ECL_ERR_INVALID;
    }
    memcpy(ad + n, label, ln);
    n += ln;
    ad[n++] = 0;
    memcpy(ad + n, dataset, dn);
    n += dn;
    ad[n++] = 0;
    memcpy(ad + n, skey, ECL_SUBJECT_KEY_LEN);
    n += ECL_SUBJECT_KEY_LEN;
    ecl_put_u32(ad + n, version);
    n += 4;
    *ad_len = n;
    return ECL_OK;
}

void
ecl_record_subject_key(const uint8_t key[ECL_KEY_LEN], const char *norm, size_t norm_len,
                       uint8_t out[ECL_SUBJECT_KEY_LEN])
{
    crypto_generichash(out, ECL_SUBJECT_KEY_LEN, (const uint8_t *)norm, norm_len, key, ECL_KEY_LEN);
}

void
ecl_record_blind_index(const uint8_t key[ECL_KEY_LEN], const char *dataset, const char *field,
                       const char *norm, size_t norm_len, uint8_t out[ECL_BLIND_INDEX_LEN])
{
    crypto_generichash_state h;
    const uint8_t zero = 0;

    crypto_generichash_init(&h, key, ECL_KEY_LEN, ECL_BLIND_INDEX_LEN);
    crypto_generichash_update(&h, (const uint8_t *)dataset, strlen(dataset));
    crypto_generichash_update(&h, &zero, 1);
    crypto_generichash_update(&h, (const uint8_t *)field, strlen(field));
    crypto_generichash_update(&h, &zero, 1);
    crypto_generichash_update(&h, (const uint8_t *)norm, norm_len);
    crypto_generichash_final(&h, out, ECL_BLIND_INDEX_LEN);
    sodium_memzero(&h, sizeof h);
}

void
ecl_record_datakey_new(uint8_t out[ECL_KEY_LEN])
{
    crypto_aead_xchacha20poly1305_ietf_keygen(out);
}

void
ecl_record_key_wrap(const uint8_t kek[ECL_KEY_LEN], uint32_t kek_version, const char *dataset,
                    const uint8_t skey[ECL_SUBJECT_KEY_LEN], const uint8_t dk[ECL_KEY_LEN],
                    uint8_t out[ECL_WRAPPED_KEY_LEN])
{
    uint8_t ad[AD_MAX];
    size_t ad_len = 0;
    uint8_t *nonce = out + ECL_RECORD_HEADER_LEN;

    /* dataset names are validated by the schema parser; a bad one here is a bug */
    if (build_ad(WRAP_LABEL, dataset, skey, kek_version, ad, &ad_len) != ECL_OK) {
        sodium_misuse();
    }
    out[0] = FORMAT_V1;
    ecl_put_u32(out + 1, kek_version);
    randombytes_buf(nonce, ECL_AEAD_NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + ECL_AEAD_NONCE_LEN, NULL, dk, ECL_KEY_LEN,
                                               ad, ad_len, NULL, nonce, kek);
}

enum ecl_status
ecl_record_key_version(const uint8_t *wrapped, size_t wrapped_len, uint32_t *out)
{
    if (wrapped_len != ECL_WRAPPED_KEY_LEN || wrapped[0] != FORMAT_V1) {
        return ECL_ERR_INVALID;
    }
    *out = ecl_get_u32(wrapped + 1);
    return ECL_OK;
}

enum ecl_status
ecl_record_key_unwrap(const uint8_t kek[ECL_KEY_LEN], const char *dataset,
                      const uint8_t skey[ECL_SUBJECT_KEY_LEN], const uint8_t *wrapped,
                      size_t wrapped_len, uint8_t out[ECL_KEY_LEN])
{
    uint8_t ad[AD_MAX];
    size_t ad_len = 0;
    uint8_t dk[ECL_KEY_LEN];
    uint32_t version;
    const uint8_t *nonce = wrapped + ECL_RECORD_HEADER_LEN;
    enum ecl_status st;

    ECL_GUARD(ecl_record_key_version(wrapped, wrapped_len, &version));
    ECL_GUARD(build_ad(WRAP_LABEL, dataset, skey, version, ad, &ad_len));
    st = ECL_OK;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(dk, NULL, NULL, nonce + ECL_AEAD_NONCE_LEN,
                                                   ECL_KEY_LEN + ECL_AEAD_TAG_LEN, ad, ad_len,
                                                   nonce, kek) != 0) {
        st = ECL_ERR_CRYPTO;
        goto out;
    }
    memcpy(out, dk, ECL_KEY_LEN);
out:
    sodium_memzero(dk, sizeof dk);
    return st;
}

enum ecl_status
ecl_record_seal(enum ecl_sealed_kind kind, const uint8_t dk[ECL_KEY_LEN], uint32_t sidx_version,
                const char *dataset, const uint8_t skey[ECL_SUBJECT_KEY_LEN], const uint8_t *msg,
                size_t msg_len, struct ecl_buf *out)
{
    uint8_t ad[AD_MAX];
    size_t ad_len = 0;
    uint8_t header[ECL_RECORD_HEADER_LEN];
    size_t start = out->len;
    enum ecl_status st;

    if ((unsigned)kind >= ECL_SEALED_KIND_COUNT) {
        return ECL_ERR_INTERNAL;
    }
    ECL_GUARD(build_ad(labels[kind], dataset, skey, sidx_version, ad, &ad_len));
    header[0] = FORMAT_V1;
    ecl_put_u32(header + 1, sidx_version);
    ECL_GUARD(ecl_buf_append(out, header, sizeof header));
    st = ecl_crypto_aead_seal(dk, ad, ad_len, msg, msg_len, out);
    if (st != ECL_OK) {
        out->len = start;
    }
    return st;
}

enum ecl_status
ecl_record_open(enum ecl_sealed_kind kind, const uint8_t dk[ECL_KEY_LEN], const char *dataset,
                const uint8_t skey[ECL_SUBJECT_KEY_LEN], const uint8_t *sealed, size_t sealed_len,
                struct ecl_buf *out)
{
    uint8_t ad[AD_MAX];
    size_t ad_len = 0;

    if ((unsigned)kind >= ECL_SEALED_KIND_COUNT) {
        return ECL_ERR_INTERNAL;
    }
    if (sealed_len < ECL_SEALED_OVERHEAD || sealed[0] != FORMAT_V1) {
        return ECL_ERR_CRYPTO;
    }
    ECL_GUARD(build_ad(labels[kind], dataset, skey, ecl_get_u32(sealed + 1), ad, &ad_len));
    return ecl_crypto_aead_open(dk, ad, ad_len, sealed + ECL_RECORD_HEADER_LEN,
                                sealed_len - ECL_RECORD_HEADER_LEN, out);
}
