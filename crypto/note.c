/* C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys, and C2SP checkpoint
 * bodies (https://c2sp.org/tlog-checkpoint). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ecl/crypto.h"

#define EM_DASH_PREFIX "\xe2\x80\x94 " /* U+2014 and one space */
enum { SIG_TYPE_ED25519 = 0x01, MAX_SIG_LINES = 100 };

static int
name_ok(const char *name, size_t n)
{
    if (n == 0 || n > ECL_ORIGIN_MAX_LEN) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c == 0x7f || c == '+') {
            return 0;
        }
    }
    return 1;
}

static void
key_id(const char *name, size_t n, const uint8_t pk[ECL_SIGN_PK_LEN],
       uint8_t out[ECL_NOTE_KEY_ID_LEN])
{
    crypto_hash_sha256_state st;
    uint8_t hash[ECL_HASH_LEN];
    const uint8_t sep[2] = {0x0a, SIG_TYPE_ED25519};

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, n);
    crypto_hash_sha256_update(&st, sep, sizeof sep);
    crypto_hash_sha256_update(&st, pk, ECL_SIGN_PK_LEN);
    crypto_hash_sha256_final(&st, hash);
    memcpy(out, hash, ECL_NOTE_KEY_ID_LEN);
}

void
ecl_note_key_id(const char *name, const uint8_t pk[ECL_SIGN_PK_LEN],
                uint8_t out[ECL_NOTE_KEY_ID_LEN])
{
    key_id(name, strlen(name), pk, out);
}

enum ecl_status
ecl_note_verifier_key(const char *name, const uint8_t pk[ECL_SIGN_PK_LEN], struct ecl_buf *out)
{
    uint8_t id[ECL_NOTE_KEY_ID_LEN];
    uint8_t material[1 + ECL_SIGN_PK_LEN];
    char hexid[2 * ECL_NOTE_KEY_ID_LEN + 1];

    if (!name_ok(name, strlen(name))) {
        return ECL_ERR_INVALID;
    }
    ecl_note_key_id(name, pk, id);
    ecl_hex(id, sizeof id, hexid);
    material[0] = SIG_TYPE_ED25519;
    memcpy(material + 1, pk, ECL_SIGN_PK_LEN);
    ECL_GUARD(ecl_buf_append_str(out, name));
    ECL_GUARD(ecl_buf_append_byte(out, '+'));
    ECL_GUARD(ecl_buf_append_str(out, hexid));
    ECL_GUARD(ecl_buf_append_byte(out, '+'));
    return ecl_crypto_b64_encode(material, sizeof material, out);
}

enum ecl_status
ecl_note_verifier_key_parse(const char *vkey, size_t len, size_t *name_len,
                            uint8_t pk[ECL_SIGN_PK_LEN])
{
    const char *p1 = memchr(vkey, '+', len);
    const char *p2;
    uint8_t id[ECL_NOTE_KEY_ID_LEN];
    uint8_t want[ECL_NOTE_KEY_ID_LEN];
    struct ecl_buf raw;
    enum ecl_status st = ECL_ERR_INVALID;
    size_t n;

    if (p1 == NULL) {
        return ECL_ERR_INVALID;
    }
    n = (size_t)(p1 - vkey);
    p2 = memchr(p1 + 1, '+', len - n - 1);
    if (p2 == NULL || p2 - p1 != 1 + 2 * ECL_NOTE_KEY_ID_LEN || !name_ok(vkey, n) ||
        ecl_unhex(p1 + 1, 2 * ECL_NOTE_KEY_ID_LEN, id, sizeof id) != ECL_OK) {
        return ECL_ERR_INVALID;
    }
    ecl_buf_init(&raw, 64);
    if (ecl_crypto_b64_decode(p2 + 1, len - (size_t)(p2 + 1 - vkey), &raw) == ECL_OK &&
        raw.len == 1 + ECL_SIGN_PK_LEN && raw.ptr[0] == SIG_TYPE_ED25519) {
        key_id(vkey, n, raw.ptr + 1, want);
        if (ecl_crypto_equal(id, want, sizeof id)) {
            memcpy(pk, raw.ptr + 1, ECL_SIGN_PK_LEN);
            *name_len = n;
            st = ECL_OK;
        }
    }
    ecl_buf_free(&raw);
    return st;
}

/* The text of a note: non-empty, ends with '\n', no blank line, no control character other
 * than '\n' (signed-note "Text"). */
static int
text_ok(const char *text, size_t len)
{
    if (len == 0 || text[len - 1] != '\n') {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f) {
            return 0;
        }
        if (c == '\n' && i + 1 < len && text[i + 1] == '\n') {
            return 0;
        }
    }
    return 1;
}

enum ecl_status
ecl_note_sign(const struct ecl_keyring *kr, const char *text, size_t text_len, struct ecl_buf *out)
{
    const char *name = ecl_keyring_origin(kr);
    uint8_t blob[ECL_NOTE_KEY_ID_LEN + ECL_SIGN_LEN];

    if (!text_ok(text, text_len) || !name_ok(name, strlen(name))) {
        return ECL_ERR_INVALID;
    }
    ecl_note_key_id(name, ecl_keyring_sign_pk(kr), blob);
    ECL_GUARD(ecl_keyring_sign(kr, text, text_len, blob + ECL_NOTE_KEY_ID_LEN));
    ECL_GUARD(ecl_buf_append(out, text, text_len));
    ECL_GUARD(ecl_buf_append_str(out, "\n" EM_DASH_PREFIX));
    ECL_GUARD(ecl_buf_append_str(out, name));
    ECL_GUARD(ecl_buf_append_byte(out, ' '));
    ECL_GUARD(ecl_crypto_b64_encode(blob, sizeof blob, out));
    return ecl_buf_append_byte(out, '\n');
}

enum ecl_status
ecl_note_verify(const char *note, size_t len, const char *name, const uint8_t pk[ECL_SIGN_PK_LEN],
                size_t *text_len)
{
    size_t name_n = strlen(name);
    size_t prefix_n = strlen(EM_DASH_PREFIX);
    size_t split = 0;
    size_t pos;
    int found = 0;
    int lines = 0;
    uint8_t want_id[ECL_NOTE_KEY_ID_LEN];
    enum ecl_status st = ECL_ERR_CRYPTO;

    if (len == 0 || len > ECL_NOTE_MAX_BYTES || note[len - 1] != '\n') {
        return ECL_ERR_INVALID;
    }
    /* the signatures follow the last blank line */
    for (size_t i = len - 1; i > 0; i--) {
        if (note[i] == '\n' && note[i - 1] == '\n') {
            split = i;
            found = 1;
            break;
        }
    }
    if (!found || !text_ok(note, split)) {
        return ECL_ERR_INVALID;
    }
    ecl_note_key_id(name, pk, want_id);
    pos = split + 1;
    while (pos < len) {
        const char *line = note + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = (size_t)(nl - line);
        struct ecl_buf blob;
        const char *sp;

        if (++lines > MAX_SIG_LINES || n < prefix_n || memchr(line, 0, n) != NULL ||
            strncmp(line, EM_DASH_PREFIX, prefix_n) != 0) {
            return ECL_ERR_INVALID;
        }
        sp = memchr(line + prefix_n, ' ', n - prefix_n);
        if (sp == NULL) {
            return ECL_ERR_INVALID;
        }
        pos += n + 1;
        if ((size_t)(sp - (line + prefix_n)) != name_n ||
            strncmp(line + prefix_n, name, name_n) != 0) {
            continue; /* another signer's line */
        }
        ecl_buf_init(&blob, 256);
        if (ecl_crypto_b64_decode(sp + 1, (size_t)(nl - sp - 1), &blob) != ECL_OK) {
            ecl_buf_free(&blob);
            return ECL_ERR_INVALID;
        }
        if (blob.len == ECL_NOTE_KEY_ID_LEN + ECL_SIGN_LEN &&
            ecl_crypto_equal(blob.ptr, want_id, ECL_NOTE_KEY_ID_LEN)) {
            /* Go's note.Open: the first line with this name and key id decides */
            int ok = ecl_crypto_sign_verify(pk, blob.ptr + ECL_NOTE_KEY_ID_LEN, note, split);
            ecl_buf_free(&blob);
            if (!ok) {
                return ECL_ERR_CRYPTO;
            }
            *text_len = split;
            return ECL_OK;
        }
        ecl_buf_free(&blob);
    }
    return st;
}

enum ecl_status
ecl_checkpoint_format(const char *origin, uint64_t size, const uint8_t root[ECL_HASH_LEN],
                      struct ecl_buf *out)
{
    char num[24];

    snprintf(num, sizeof num, "%llu", (unsigned long long)size);
    ECL_GUARD(ecl_buf_append_str(out, origin));
    ECL_GUARD(ecl_buf_append_byte(out, '\n'));
    ECL_GUARD(ecl_buf_append_str(out, num));
    ECL_GUARD(ecl_buf_append_byte(out, '\n'));
    ECL_GUARD(ecl_crypto_b64_encode(root, ECL_HASH_LEN, out));
    return ecl_buf_append_byte(out, '\n');
}

/* Returns the line starting at *pos (without its '\n') and advances past it. */
static int
next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
    const char *nl;

    if (*pos >= len) {
        return 0;
    }
    nl = memchr(text + *pos, '\n', len - *pos);
    if (nl == NULL) {
        return 0;
    }
    *line = text + *pos;
    *n = (size_t)(nl - *line);
    *pos += *n + 1;
    return 1;
}

enum ecl_status
ecl_checkpoint_parse(const char *text, size_t len, const char *origin, uint64_t *size,
                     uint8_t root[ECL_HASH_LEN])
{
    const char *line = NULL;
    size_t n = 0;
    size_t pos = 0;
    uint64_t v = 0;
    struct ecl_buf raw;
    enum ecl_status st = ECL_ERR_INVALID;

    if (!next_line(text, len, &pos, &line, &n) || n != strlen(origin) ||
        strncmp(line, origin, n) != 0) {
        return ECL_ERR_INVALID;
    }
    /* tree size: decimal, no sign, no leading zero (except "0") */
    if (!next_line(text, len, &pos, &line, &n) || n == 0 || n > 20 || (n > 1 && line[0] == '0')) {
        return ECL_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(line[i] - '0');
        if (line[i] < '0' || line[i] > '9' || v > (UINT64_MAX - d) / 10) {
            return ECL_ERR_INVALID;
        }
        v = v * 10 + d;
    }
    if (!next_line(text, len, &pos, &line, &n)) {
        return ECL_ERR_INVALID;
    }
    ecl_buf_init(&raw, 64);
    if (ecl_crypto_b64_decode(line, n, &raw) == ECL_OK && raw.len == ECL_HASH_LEN) {
        memcpy(root, raw.ptr, ECL_HASH_LEN);
        *size = v;
        st = ECL_OK;
    }
    ecl_buf_free(&raw);
    return st;
}
