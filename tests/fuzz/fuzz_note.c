/* libFuzzer target for the signed-note and checkpoint parsers (crypto/note.c, C2SP
 * signed-note and tlog-checkpoint): ecl_note_verify against the audit key of the data directory
 * that signed corpus/note/signed_checkpoint, ecl_checkpoint_parse and
 * ecl_note_verifier_key_parse.  The first byte picks the parser.  The only text that may verify
 * is the one that key really signed (the fuzzer has no secret key); a parsed checkpoint must be
 * in its one canonical form (it round-trips through ecl_checkpoint_format). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecl/buf.h"
#include "ecl/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* `ecluse keys show` of the directory that signed the corpus's note (its master key is gone) */
#define ORIGIN "ecluse/d4bf6bdbd41fc6bc"
static const uint8_t PK[ECL_SIGN_PK_LEN] = {
    0x70, 0xf4, 0xf6, 0x0c, 0xd2, 0xc2, 0x25, 0x52, 0xe6, 0x48, 0x7b, 0xb3, 0xa6, 0xe2, 0xdf, 0x8f,
    0x29, 0xdb, 0xfb, 0x06, 0xdb, 0x5f, 0x04, 0xc0, 0xb5, 0x62, 0xc6, 0x56, 0x2e, 0x26, 0x7a, 0xab};
static const char SIGNED[] = ORIGIN "\n1\nuTVJED7S3iFjpE5aVajqZvEmmEo41LCgWBcHKEzUUp8=\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text;
    size_t len;
    size_t text_len = 0;
    size_t name_len = 0;
    uint64_t n = 0;
    uint8_t root[ECL_HASH_LEN];
    uint8_t pk[ECL_SIGN_PK_LEN];
    struct ecl_buf out;

    if (size < 1) {
        return 0;
    }
    text = (const char *)data + 1;
    len = size - 1;
    switch (data[0] % 3) {
    case 0:
        if (ecl_note_verify(text, len, ORIGIN, PK, &text_len) == ECL_OK &&
            (text_len != sizeof SIGNED - 1 || memcmp(text, SIGNED, text_len) != 0)) {
            abort(); /* a forgery: the fuzzer has no signing key */
        }
        break;
    case 1:
        if (ecl_checkpoint_parse(text, len, ORIGIN, &n, root) == ECL_OK) {
            ecl_buf_init(&out, ECL_NOTE_MAX_BYTES);
            if (ecl_checkpoint_format(ORIGIN, n, root, &out) != ECL_OK || out.len > len ||
                memcmp(out.ptr, text, out.len) != 0) {
                abort(); /* only the canonical form is accepted */
            }
            ecl_buf_free(&out);
        }
        break;
    default:
        if (ecl_note_verifier_key_parse(text, len, &name_len, pk) == ECL_OK && name_len >= len) {
            abort();
        }
        break;
    }
    return 0;
}
