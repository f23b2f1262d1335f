/* Thin, misuse-resistant wrappers over libsodium. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ecl/crypto.h"
#include "ecl/limits.h"

_Static_assert(ECL_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(ECL_AEAD_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");
_Static_assert(ECL_AEAD_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag");
_Static_assert(ECL_SIGN_PK_LEN == crypto_sign_PUBLICKEYBYTES, "pk");
_Static_assert(ECL_SIGN_SK_LEN == crypto_sign_SECRETKEYBYTES, "sk");
_Static_assert(ECL_SIGN_LEN == crypto_sign_BYTES, "sig");
_Static_assert(ECL_HASH_LEN == crypto_hash_sha256_BYTES, "sha256");

void
ecl_crypto_init(void)
{
    if (sodium_init() < 0) {
        abort();
    }
}

void
ecl_crypto_random(void *out, size_t n)
{
    randombytes_buf(out, n);
}

uint32_t
ecl_crypto_random_u32(void)
{
    return randombytes_random();
}

void
ecl_crypto_blake2b(uint8_t *out, size_t out_len, const uint8_t *key, size_t key_len, const void *in,
                   size_t in_len)
{
    /* Sizes are fixed by our callers; a wrong one is a programming error. */
    if (out_len < crypto_generichash_BYTES_MIN || out_len > crypto_generichash_BYTES_MAX ||
        (key_len != 0 && (key_len < crypto_generichash_KEYBYTES_MIN ||
                          key_len > crypto_generichash_KEYBYTES_MAX))) {
        abort();
    }
    crypto_generichash(out, out_len, in, in_len, key_len ? key : NULL, key_len);
}

void
ecl_crypto_sha256(uint8_t out[ECL_HASH_LEN], const void *in, size_t in_len)
{
    crypto_hash_sha256(out, in, in_len);
}

int
ecl_crypto_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

static enum ecl_status
b64_encode(const uint8_t *in, size_t in_len, int variant, struct ecl_buf *out)
{
    size_t n = sodium_base64_encoded_len(in_len, variant);
    struct ecl_buf tmp;
    const char *s;
    enum ecl_status st;

    if (in_len > ECL_RECORDS_MAP_SIZE) {
        return ECL_ERR_LIMIT;
    }
    uint8_t *dst = NULL;

    ecl_buf_init(&tmp, n);
    st = ecl_buf_extend(&tmp, n, &dst);
    if (st == ECL_OK) {
        sodium_bin2base64((char *)dst, n, in, in_len, variant);
        st = ecl_buf_cstr(&tmp, &s);
    }
    if (st == ECL_OK) {
        st = ecl_buf_append(out, s, strlen(s));
    }
    ecl_buf_free(&tmp);
    return st;
}

/* 1 when no byte has the high bit set, without a branch on the bytes (API key secrets pass
 * here).  libsodium 1.0.18's decoder maps every byte 0x80..0xff to a 6-bit value instead of
 * refusing it (found by tests/fuzz/fuzz_note.c: a second spelling of a checkpoint root, and so
 * of API keys and tokens); the ASCII bytes outside the alphabet it does refuse. */
static int
b64_ascii(const char *in, size_t in_len)
{
    unsigned high = 0;

    for (size_t i = 0; i < in_len; i++) {
        high |= (unsigned char)in[i];
    }
    return (high & 0x80u) == 0;
}

static enum ecl_status
b64_decode(const char *in, size_t in_len, int variant, struct ecl_buf *out)
{
    size_t max = in_len / 4 * 3 + 3;
    size_t bin_len = 0;
    const char *end = NULL;
    struct ecl_buf tmp;
    enum ecl_status st = ECL_OK;

    uint8_t *dst = NULL;

    if (!b64_ascii(in, in_len)) {
        return ECL_ERR_INVALID;
    }
    ecl_buf_init(&tmp, max);
    st = ecl_buf_extend(&tmp, max, &dst);
    if (st == ECL_OK && max > 0) {
        if (sodium_base642bin(tmp.ptr, max, in, in_len, NULL, &bin_len, &end, variant) != 0 ||
            end != in + in_len) {
            st = ECL_ERR_INVALID;
        }
    }
    if (st == ECL_OK) {
        st = ecl_buf_append(out, tmp.ptr, bin_len);
    }
    ecl_buf_free(&tmp);
    return st;
}

enum ecl_status
ecl_crypto_b64_encode(const uint8_t *in, size_t in_len, struct ecl_buf *out)
{
    return b64_encode(in, in_len, sodium_base64_VARIANT_ORIGINAL, out);
}

enum ecl_status
ecl_crypto_b64_decode(const char *in, size_t in_len, struct ecl_buf *out)
{
    return b64_decode(in, in_len, sodium_base64_VARIANT_ORIGINAL, out);
}

enum ecl_status
ecl_crypto_b64url_encode(const uint8_t *in, size_t in_len, struct ecl_buf *out)
{
    return b64_encode(in, in_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING, out);
}

enum ecl_status
ecl_crypto_b64url_decode(const char *in, size_t in_len, struct ecl_buf *out)
{
    return b64_decode(in, in_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING, out);
}

enum ecl_status
ecl_crypto_aead_seal(const uint8_t key[ECL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                     const uint8_t *msg, size_t msg_len, struct ecl_buf *out)
{
    uint8_t nonce[ECL_AEAD_NONCE_LEN];
    size_t total;
    unsigned long long clen = 0;

    ECL_GUARD(ecl_size_add(msg_len, ECL_AEAD_NONCE_LEN + ECL_AEAD_TAG_LEN, &total));
    randombytes_buf(nonce, sizeof nonce);
    uint8_t *dst = NULL;

    ECL_GUARD(ecl_buf_extend(out, total, &dst));
    memcpy(dst, nonce, sizeof nonce);
    crypto_aead_xchacha20poly1305_ietf_encrypt(dst + ECL_AEAD_NONCE_LEN, &clen, msg, msg_len, ad,
                                               ad_len, NULL, nonce, key);
    return ECL_OK;
}

enum ecl_status
ecl_crypto_aead_open(const uint8_t key[ECL_KEY_LEN], const uint8_t *ad, size_t ad_len,
                     const uint8_t *sealed, size_t sealed_len, struct ecl_buf *out)
{
    size_t start = out->len;
    size_t mlen;
    unsigned long long plen = 0;

    if (sealed_len < ECL_AEAD_NONCE_LEN + ECL_AEAD_TAG_LEN) {
        return ECL_ERR_CRYPTO;
    }
    uint8_t *dst = NULL;

    mlen = sealed_len - ECL_AEAD_NONCE_LEN - ECL_AEAD_TAG_LEN;
    ECL_GUARD(ecl_buf_extend(out, mlen, &dst));
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            mlen ? dst : NULL, &plen, NULL, sealed + ECL_AEAD_NONCE_LEN,
            sealed_len - ECL_AEAD_NONCE_LEN, ad, ad_len, sealed, key) != 0) {
        ecl_buf_truncate(out, start);
        return ECL_ERR_CRYPTO;
    }
    return ECL_OK;
}

void *
ecl_secret_alloc(size_t n)
{
    return sodium_malloc(n);
}

void
ecl_secret_free(void *p)
{
    sodium_free(p);
}

void
ecl_secret_readonly(void *p)
{
    sodium_mprotect_readonly(p);
}

int
ecl_crypto_sign_verify(const uint8_t pk[ECL_SIGN_PK_LEN], const uint8_t sig[ECL_SIGN_LEN],
                       const void *msg, size_t msg_len)
{
    return crypto_sign_verify_detached(sig, msg, msg_len, pk) == 0;
}
