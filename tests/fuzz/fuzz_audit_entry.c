/* libFuzzer target for the audit entry decoder (gateway/audit/entry.c): the clear header parser
 * and the authenticated decryption of a stored leaf, with a keyring created once in a temporary
 * directory.  The first input byte picks the path:
 *   even: the input is a stored leaf as an attacker with the disk could write it; it must be
 *         refused (header) or fail to authenticate, never crash;
 *   odd:  the input is a payload sealed with the real key (what a bug in the writer could
 *         store); opening the leaf must give back a JSON object or a clean refusal. */
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ecl/buf.h"
#include "ecl/crypto.h"
#include "entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char DIR_[] = "/tmp/ecl-fuzz-audit.XXXXXX";
static struct ecl_keyring *KR;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
teardown(void)
{
    ecl_keyring_free(KR);
    (void)nftw(DIR_, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
    ecl_crypto_init();
    if (mkdtemp(DIR_) == NULL || ecl_keyring_create(DIR_, NULL, NULL) != ECL_OK ||
        ecl_keyring_load(DIR_, NULL, &KR) != ECL_OK) {
        abort();
    }
    atexit(teardown);
}

static void
open_leaf(const uint8_t *leaf, size_t len, int must_authenticate)
{
    struct ecl_audit_header h;
    json_t *payload = NULL;
    enum ecl_status st;

    if (ecl_audit_header_parse(leaf, len, &h) == ECL_OK) {
        if (h.ntokens > ECL_AUDIT_SUBJECTS_PER_ENTRY || h.ntokens * ECL_AUDIT_TOKEN_LEN > len) {
            abort(); /* the parser let a token count past the leaf through */
        }
    }
    st = ecl_audit_leaf_open(KR, leaf, len, &h, &payload);
    if (st == ECL_OK) {
        if (!json_is_object(payload)) {
            abort();
        }
        json_decref(payload);
    } else if (must_authenticate && st == ECL_ERR_CRYPTO) {
        abort(); /* a leaf sealed with the real key must authenticate */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t principal[ECL_AUDIT_TOKEN_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct ecl_buf leaf;
    uint8_t tokens[4 * ECL_AUDIT_TOKEN_LEN];
    size_t ntokens;

    if (KR == NULL) {
        setup();
    }
    if (size < 1) {
        return 0;
    }
    if ((data[0] & 1) == 0) {
        open_leaf(data + 1, size - 1, 0);
        return 0;
    }
    /* a real leaf around a fuzzed payload, with up to 4 fuzzed tokens */
    ntokens = (size_t)(data[0] >> 1) % 5;
    if (size - 1 < ntokens * ECL_AUDIT_TOKEN_LEN) {
        return 0;
    }
    memcpy(tokens, data + 1, ntokens * ECL_AUDIT_TOKEN_LEN);
    ntokens = ecl_audit_tokens_sort(tokens, ntokens);
    ecl_buf_init(&leaf, ECL_AUDIT_ENTRY_MAX_BYTES);
    if (ecl_audit_leaf_seal(KR, 7, 1700000000000ULL, principal, tokens, ntokens,
                            data + 1 + ntokens * ECL_AUDIT_TOKEN_LEN,
                            size - 1 - ntokens * ECL_AUDIT_TOKEN_LEN, &leaf) == ECL_OK) {
        open_leaf(leaf.ptr, leaf.len, 1);
    }
    ecl_buf_free(&leaf);
    return 0;
}
