/* libFuzzer target for the pseudonym and token parsers (crypto/transform.c) and the base64
 * decoders: ecl_pseudonym_parse (a parsed pseudonym renders back to the same bytes: one
 * spelling only), ecl_token_version and ecl_token_open_key with a fixed key (a fuzzed token
 * never opens: the fuzzer has no key; a token sealed from the input opens to the input). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecl/buf.h"
#include "ecl/crypto.h"
#include "ecl/transform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ecl_token_key K;
static int ready;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s;
    size_t len;
    uint32_t epoch = 0;
    uint32_t version = 0;
    uint8_t tag[ECL_PSEUDONYM_TAG_LEN];
    char back[ECL_PSEUDONYM_MAX_LEN + 1];
    struct ecl_buf out;
    struct ecl_buf tok;

    if (!ready) {
        struct ecl_domain d;
        uint8_t root[ECL_KEY_LEN];

        ecl_crypto_init();
        memset(root, 0x42, sizeof root);
        if (ecl_domain_init(ECL_DOMAIN_PURPOSE, NULL, "benefits", NULL, &d) != ECL_OK) {
            abort();
        }
        ecl_token_key_init(root, 1, &d, &K);
        ready = 1;
    }
    if (size < 1) {
        return 0;
    }
    s = (const char *)data + 1;
    len = size - 1;
    ecl_buf_init(&out, ECL_TOKEN_MAX_PLAIN);
    switch (data[0] % 4) {
    case 0:
        if (ecl_pseudonym_parse(s, len, &epoch, tag) == ECL_OK &&
            (ecl_pseudonym_render(epoch, tag, back) != len || memcmp(back, s, len) != 0)) {
            abort();
        }
        break;
    case 1:
        if (ecl_token_version(s, len, &version) == ECL_OK && len < 11) {
            abort(); /* "tk_" and 8 characters at least */
        }
        if (ecl_token_open_key(&K, s, len, &out) == ECL_OK) {
            abort(); /* a forged token opened */
        }
        break;
    case 2:
        ecl_buf_init(&tok, ECL_TOKEN_MAX_LEN);
        if (ecl_token_seal(&K, data + 1, len, &tok) == ECL_OK) {
            if (ecl_token_open_key(&K, (const char *)tok.ptr, tok.len, &out) != ECL_OK ||
                out.len != len || (len > 0 && memcmp(out.ptr, data + 1, len) != 0)) {
                abort();
            }
            /* one flipped character must not open */
            tok.ptr[3 + (data[0] >> 2) % (tok.len - 3)] ^= 0x01;
            ecl_buf_reset(&out);
            if (ecl_token_open_key(&K, (const char *)tok.ptr, tok.len, &out) == ECL_OK &&
                (out.len != len || (len > 0 && memcmp(out.ptr, data + 1, len) != 0))) {
                abort();
            }
        }
        ecl_buf_free(&tok);
        break;
    default:
        if (ecl_crypto_b64url_decode(s, len, &out) == ECL_OK && out.len > len) {
            abort();
        }
        ecl_buf_reset(&out);
        if (ecl_crypto_b64_decode(s, len, &out) == ECL_OK && out.len > len) {
            abort();
        }
        break;
    }
    ecl_buf_free(&out);
    return 0;
}
