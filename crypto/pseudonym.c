/* Linkability domains and keyed pseudonyms (docs/transforms.md, "Pseudonyms").
 * A pseudonym is BLAKE2b-128 keyed with a domain key; the domain key is a keyed BLAKE2b of the
 * domain's unambiguous encoding under the pseudonym root key of one epoch.  A PRF under
 * independent keys: pseudonyms of two domains are unrelated. */
#include <string.h>

#include <sodium.h>

#include "ecl/transform.h"
#include "transform_internal.h"

_Static_assert(ECL_PSEUDONYM_TAG_LEN >= crypto_generichash_BYTES_MIN, "pseudonym length");
_Static_assert(ECL_DOMAIN_ENC_MAX >= 1 + 2 * (1 + ECL_NAME_MAX_LEN), "domain encoding size");

enum { B64_TAG_LEN = 22 }; /* base64url of 16 bytes without padding */

#define PSEUDONYM_PREFIX "ps_"
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
#define INDEX_LABEL "pseudo-index"
#define SEAL_LABEL  "pseudo-seal"

void
ecl_transform_subkey(const uint8_t root[ECL_KEY_LEN], const char *label, const uint8_t *ext,
                     size_t ext_len, uint8_t out[ECL_KEY_LEN])
{
    crypto_generichash_state st;
    size_t label_len = strlen(label);
    uint8_t len_byte = (uint8_t)label_len;

    crypto_generichash_init(&st, root, ECL_KEY_LEN, ECL_KEY_LEN);
    crypto_generichash_update(&st, &len_byte, 1);
    crypto_generichash_update(&st, (const uint8_t *)label, label_len);
    if (ext_len > 0) {
        crypto_generichash_update(&st, ext, ext_len);
    }
    crypto_generichash_final(&st, out, ECL_KEY_LEN);
    sodium_memzero(&st, sizeof st);
}

void
ecl_transform_index_keys(const uint8_t root[ECL_KEY_LEN], uint8_t index_key[ECL_KEY_LEN],
                         uint8_t seal_key[ECL_KEY_LEN])
{
    ecl_transform_subkey(root, INDEX_LABEL, NULL, 0, index_key);
    ecl_transform_subkey(root, SEAL_LABEL, NULL, 0, seal_key);
}

static int
name_add(struct ecl_domain *d, const char *name)
{
    size_t n;

    if (name == NULL) {
        return 0;
    }
    n = strlen(name);
    if (n == 0 || n > ECL_NAME_MAX_LEN || d->enc_len > sizeof d->enc - 1 - n) {
        return 0;
    }
    d->enc[d->enc_len++] = (uint8_t)n;
    memcpy(d->enc + d->enc_len, name, n);
    d->enc_len += n;
    return 1;
}

enum ecl_status
ecl_domain_init(enum ecl_link_domain kind, const char *agent, const char *purpose,
                const char *shared, struct ecl_domain *out)
{
    struct ecl_domain d;
    int ok = 0;

    memset(&d, 0, sizeof d);
    d.kind = kind;
    switch (kind) {
    case ECL_DOMAIN_AGENT:
        d.enc[d.enc_len++] = 1;
        ok = name_add(&d, agent);
        break;
    case ECL_DOMAIN_PURPOSE:
        d.enc[d.enc_len++] = 2;
        ok = name_add(&d, purpose);
        break;
    case ECL_DOMAIN_AGENT_PURPOSE:
        d.enc[d.enc_len++] = 3;
        ok = name_add(&d, agent) && name_add(&d, purpose);
        break;
    case ECL_DOMAIN_SHARED:
        d.enc[d.enc_len++] = 4;
        ok = name_add(&d, shared);
        break;
    }
    if (!ok) {
        return ECL_ERR_INVALID;
    }
    *out = d;
    return ECL_OK;
}

void
ecl_pseudonym_key_init(const uint8_t root[ECL_KEY_LEN], uint32_t epoch, const struct ecl_domain *d,
                       struct ecl_pseudonym_key *out)
{
    ecl_transform_subkey(root, "pseudonym", d->enc, d->enc_len, out->key);
    out->epoch = epoch;
    out->domain = *d;
}

void
ecl_pseudonym_key_wipe(struct ecl_pseudonym_key *k)
{
    sodium_memzero(k, sizeof *k);
}

void
ecl_pseudonym_tag(const struct ecl_pseudonym_key *k, const uint8_t *canon, size_t canon_len,
                  uint8_t out[ECL_PSEUDONYM_TAG_LEN])
{
    /* One-shot keyed BLAKE2b.  (Copying a keyed init state saves nothing with libsodium 1.0.18:
     * its init only buffers the key block, compressed with the message; measured slower.) */
    crypto_generichash(out, ECL_PSEUDONYM_TAG_LEN, canon, canon_len, k->key, sizeof k->key);
}

size_t
ecl_pseudonym_render(uint32_t epoch, const uint8_t tag[ECL_PSEUDONYM_TAG_LEN],
                     char out[ECL_PSEUDONYM_MAX_LEN + 1])
{
    char digits[10];
    size_t nd = 0;
    size_t n = sizeof PSEUDONYM_PREFIX - 1;

    /* by hand rather than snprintf: this runs once per released pseudonym */
    do {
        digits[nd++] = (char)('0' + epoch % 10);
        epoch /= 10;
    } while (epoch > 0);
    memcpy(out, PSEUDONYM_PREFIX, n);
    while (nd > 0) {
        out[n++] = digits[--nd];
    }
    out[n++] = '_';
    /* RFC 4648 section 5 without padding.  A table look-up (not constant time) is fine here: the
     * rendered pseudonym is the public output itself. */
    for (size_t i = 0; i < ECL_PSEUDONYM_TAG_LEN; i += 3) {
        uint32_t v = (uint32_t)tag[i] << 16;
        size_t left = ECL_PSEUDONYM_TAG_LEN - i;
        if (left > 1) {
            v |= (uint32_t)tag[i + 1] << 8;
        }
        if (left > 2) {
            v |= tag[i + 2];
        }
        out[n++] = B64URL[(v >> 18) & 63];
        out[n++] = B64URL[(v >> 12) & 63];
        if (left > 1) {
            out[n++] = B64URL[(v >> 6) & 63];
        }
        if (left > 2) {
            out[n++] = B64URL[v & 63];
        }
    }
    out[n] = 0;
    return n;
}

enum ecl_status
ecl_pseudonym_parse(const char *s, size_t len, uint32_t *epoch, uint8_t tag[ECL_PSEUDONYM_TAG_LEN])
{
    const size_t plen = sizeof PSEUDONYM_PREFIX - 1;
    char again[ECL_PSEUDONYM_MAX_LEN + 1];
    uint8_t bin[ECL_PSEUDONYM_TAG_LEN];
    uint64_t e = 0;
    size_t i = plen;
    size_t bin_len = 0;
    const char *end = NULL;

    if (len < plen || len > ECL_PSEUDONYM_MAX_LEN || strncmp(s, PSEUDONYM_PREFIX, plen) != 0) {
        return ECL_ERR_INVALID;
    }
    while (i < len && s[i] >= '0' && s[i] <= '9' && i - plen < 10) {
        e = e * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    if (i == plen || e == 0 || e > UINT32_MAX || i >= len || s[i] != '_' ||
        len - i - 1 != B64_TAG_LEN) {
        return ECL_ERR_INVALID;
    }
    if (sodium_base642bin(bin, sizeof bin, s + i + 1, B64_TAG_LEN, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        bin_len != sizeof bin || end != s + len) {
        return ECL_ERR_INVALID;
    }
    /* Only the exact rendering is a pseudonym (no leading zeros, canonical trailing bits). */
    if (ecl_pseudonym_render((uint32_t)e, bin, again) != len || !ecl_crypto_equal(again, s, len)) {
        return ECL_ERR_INVALID;
    }
    *epoch = (uint32_t)e;
    memcpy(tag, bin, sizeof bin);
    return ECL_OK;
}
