/* The key hierarchy: one master key, every other key derived with crypto_kdf (one context per
 * use, subkey id = version), and the audit signing key sealed under a derived key.
 * See SECURITY.md, "Cryptographic inventory". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ecl/crypto.h"
#include "ecl/limits.h"

_Static_assert(ECL_MASTER_KEY_LEN == crypto_kdf_KEYBYTES, "master key size");

static const struct {
    const char *name;
    char ctx[crypto_kdf_CONTEXTBYTES + 1];
} uses[] = {
    [ECL_KEY_RECORD_KEK] = {"record-kek", "ecl-rkek"},
    [ECL_KEY_SUBJECT_INDEX] = {"subject-index", "ecl-sidx"},
    [ECL_KEY_FIELD_INDEX] = {"field-index", "ecl-fidx"},
    [ECL_KEY_PSEUDONYM] = {"pseudonym", "ecl-pseu"},
    [ECL_KEY_TOKEN] = {"token", "ecl-tokn"},
    [ECL_KEY_AUDIT_ENTRY] = {"audit-entry", "ecl-aent"},
    [ECL_KEY_AUDIT_INDEX] = {"audit-index", "ecl-aidx"},
    [ECL_KEY_API_PEPPER] = {"api-key-pepper", "ecl-apik"},
    [ECL_KEY_SIGN_SEAL] = {"audit-sign-seal", "ecl-sign"},
};
_Static_assert(sizeof(uses) / sizeof(uses[0]) == ECL_KEY_USE_COUNT, "one context per key use");

#define KEYRING_FILE  "keyring"
#define MASTER_FILE   "master.key"
#define KEYRING_MAGIC "ecluse-keyring 1"
#define SIGN_SEAL_AD  "ecluse audit signing key v1"
enum { KEYRING_MAX_BYTES = 4096 };

struct ecl_keyring {
    int has_secrets;
    uint8_t master[ECL_MASTER_KEY_LEN];
    uint8_t keys[ECL_KEY_USE_COUNT][ECL_KEY_LEN];
    uint32_t versions[ECL_KEY_USE_COUNT];
    uint8_t log_id[ECL_LOG_ID_LEN];
    char origin[ECL_ORIGIN_MAX_LEN + 1];
    uint8_t sign_pk[ECL_SIGN_PK_LEN];
    uint8_t sign_sk[ECL_SIGN_SK_LEN];
};

const char *
ecl_key_use_name(enum ecl_key_use use)
{
    if ((unsigned)use >= ECL_KEY_USE_COUNT) {
        return "unknown";
    }
    return uses[use].name;
}

void
ecl_kdf_derive(const uint8_t master[ECL_MASTER_KEY_LEN], enum ecl_key_use use, uint32_t version,
               uint8_t out[ECL_KEY_LEN])
{
    if ((unsigned)use >= ECL_KEY_USE_COUNT) {
        abort();
    }
    crypto_kdf_derive_from_key(out, ECL_KEY_LEN, version, uses[use].ctx, master);
}

enum ecl_status
ecl_keyfile_check(int fd, size_t want_len, const char **why)
{
    struct stat sb;

    if (fstat(fd, &sb) != 0) {
        *why = "cannot stat the key file";
        return ECL_ERR_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        *why = "the key file is not a regular file";
        return ECL_ERR_PERM;
    }
    if (sb.st_uid != geteuid()) {
        *why = "the key file is not owned by the user running ecluse";
        return ECL_ERR_PERM;
    }
    if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        *why = "the key file is readable or writable by group or others (chmod 600 it)";
        return ECL_ERR_PERM;
    }
    if (sb.st_size < 0 || (size_t)sb.st_size != want_len) {
        *why = "the key file has the wrong size";
        return ECL_ERR_INVALID;
    }
    return ECL_OK;
}

static enum ecl_status
read_exact(int fd, uint8_t *out, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, out + got, n - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return r == 0 ? ECL_ERR_INVALID : ECL_ERR_IO;
        }
        got += (size_t)r;
    }
    return ECL_OK;
}

static enum ecl_status
write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;

    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return ECL_ERR_IO;
        }
        b += w;
        n -= (size_t)w;
    }
    return ECL_OK;
}

static void
path_join(char *out, size_t cap, const char *dir, const char *file)
{
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = 0;
    }
}

/* Reads the master key from the source.  A file must pass ecl_keyfile_check; an fd must yield
 * exactly 32 bytes and then EOF. */
static enum ecl_status
master_read(const char *dir, const struct ecl_key_source *src, uint8_t out[ECL_MASTER_KEY_LEN])
{
    char path[4096];
    const char *why = NULL;
    uint8_t extra;
    enum ecl_status st;
    int fd;

    if (src != NULL && src->kind == ECL_KEY_SOURCE_FD) {
        st = read_exact(src->fd, out, ECL_MASTER_KEY_LEN);
        if (st == ECL_OK && read(src->fd, &extra, 1) != 0) {
            st = ECL_ERR_INVALID;
        }
        if (st != ECL_OK) {
            fprintf(stderr, "ecluse: the master key descriptor must give exactly %d bytes\n",
                    ECL_MASTER_KEY_LEN);
        }
        return st;
    }
    if (src != NULL && src->path != NULL) {
        snprintf(path, sizeof path, "%s", src->path);
    } else {
        path_join(path, sizeof path, dir, MASTER_FILE);
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        fprintf(stderr, "ecluse: cannot open the master key file %s: %s\n", path, strerror(errno));
        return errno == ENOENT ? ECL_ERR_NOT_FOUND : ECL_ERR_IO;
    }
    st = ecl_keyfile_check(fd, ECL_MASTER_KEY_LEN, &why);
    if (st != ECL_OK) {
        fprintf(stderr, "ecluse: refusing master key file %s: %s\n", path, why);
    } else {
        st = read_exact(fd, out, ECL_MASTER_KEY_LEN);
    }
    close(fd);
    return st;
}

static enum ecl_status
keyring_write(const char *dir, const struct ecl_keyring *kr, const uint8_t *sealed,
              size_t sealed_len)
{
    char path[4096];
    char hex[2 * 256 + 1];
    char line[1024];
    enum ecl_status st = ECL_OK;
    int fd;

    if (sealed_len > 256) {
        return ECL_ERR_INTERNAL;
    }
    path_join(path, sizeof path, dir, KEYRING_FILE);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return errno == EEXIST ? ECL_ERR_EXISTS : ECL_ERR_IO;
    }
    ecl_hex(kr->log_id, sizeof kr->log_id, hex);
    snprintf(line, sizeof line, "%s\nlog-id %s\norigin %s\n", KEYRING_MAGIC, hex, kr->origin);
    st = write_all(fd, line, strlen(line));
    ecl_hex(kr->sign_pk, sizeof kr->sign_pk, hex);
    snprintf(line, sizeof line, "audit-sign-pk %s\n", hex);
    if (st == ECL_OK) {
        st = write_all(fd, line, strlen(line));
    }
    ecl_hex(sealed, sealed_len, hex);
    snprintf(line, sizeof line, "audit-sign-sealed %s\n", hex);
    if (st == ECL_OK) {
        st = write_all(fd, line, strlen(line));
    }
    for (unsigned u = 0; u < ECL_KEY_USE_COUNT && st == ECL_OK; u++) {
        snprintf(line, sizeof line, "version %s %u\n", uses[u].name, kr->versions[u]);
        st = write_all(fd, line, strlen(line));
    }
    if (st == ECL_OK && fsync(fd) != 0) {
        st = ECL_ERR_IO;
    }
    close(fd);
    return st;
}

static void
sign_seal_ad(const uint8_t pk[ECL_SIGN_PK_LEN], uint8_t *ad, size_t *ad_len)
{
    size_t n = strlen(SIGN_SEAL_AD);

    memcpy(ad, SIGN_SEAL_AD, n);
    memcpy(ad + n, pk, ECL_SIGN_PK_LEN);
    *ad_len = n + ECL_SIGN_PK_LEN;
}

static int
origin_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > ECL_ORIGIN_MAX_LEN) {
        return 0;
    }
    /* C2SP note key names: no whitespace, no '+' */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == '+') {
            return 0;
        }
    }
    return 1;
}

enum ecl_status
ecl_keyring_create(const char *dir, const struct ecl_key_source *src, const char *origin)
{
    struct ecl_keyring *kr;
    uint8_t seal_key[ECL_KEY_LEN];
    uint8_t ad[64];
    size_t ad_len = 0;
    struct ecl_buf sealed;
    char path[4096];
    char hex[2 * ECL_LOG_ID_LEN + 1];
    enum ecl_status st = ECL_OK;
    int fd = -1;

    if (origin != NULL && !origin_ok(origin)) {
        fprintf(stderr,
                "ecluse: the origin must be 1 to %d printable characters without "
                "spaces or '+'\n",
                ECL_ORIGIN_MAX_LEN);
        return ECL_ERR_INVALID;
    }
    kr = sodium_malloc(sizeof *kr);
    if (kr == NULL) {
        return ECL_ERR_NOMEM;
    }
    sodium_memzero(kr, sizeof *kr);
    ecl_buf_init(&sealed, 256);

    path_join(path, sizeof path, dir, KEYRING_FILE);
    if (access(path, F_OK) == 0) {
        st = ECL_ERR_EXISTS;
        goto out;
    }
    if (src != NULL && (src->kind == ECL_KEY_SOURCE_FD || src->path != NULL)) {
        /* a provisioned key (descriptor, credential file): use it, write no master.key */
        st = master_read(dir, src, kr->master);
        if (st != ECL_OK) {
            goto out;
        }
    } else {
        path_join(path, sizeof path, dir, MASTER_FILE);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            st = errno == EEXIST ? ECL_ERR_EXISTS : ECL_ERR_IO;
            goto out;
        }
        crypto_kdf_keygen(kr->master);
        st = write_all(fd, kr->master, sizeof kr->master);
        if (st == ECL_OK && fsync(fd) != 0) {
            st = ECL_ERR_IO;
        }
        close(fd);
        if (st != ECL_OK) {
            goto out;
        }
    }
    for (unsigned u = 0; u < ECL_KEY_USE_COUNT; u++) {
        kr->versions[u] = 1;
    }
    randombytes_buf(kr->log_id, sizeof kr->log_id);
    if (origin != NULL) {
        snprintf(kr->origin, sizeof kr->origin, "%s", origin);
    } else {
        ecl_hex(kr->log_id, 8, hex);
        snprintf(kr->origin, sizeof kr->origin, "ecluse/%s", hex);
    }
    crypto_sign_keypair(kr->sign_pk, kr->sign_sk);
    ecl_kdf_derive(kr->master, ECL_KEY_SIGN_SEAL, 1, seal_key);
    sign_seal_ad(kr->sign_pk, ad, &ad_len);
    st = ecl_crypto_aead_seal(seal_key, ad, ad_len, kr->sign_sk, sizeof kr->sign_sk, &sealed);
    if (st == ECL_OK) {
        st = keyring_write(dir, kr, sealed.ptr, sealed.len);
    }
out:
    sodium_memzero(seal_key, sizeof seal_key);
    ecl_buf_free(&sealed);
    sodium_free(kr);
    return st;
}

/* Parses DIR/keyring.  The sealed signing key is returned in sealed (raw bytes). */
static enum ecl_status
keyring_parse(const char *dir, struct ecl_keyring *kr, uint8_t *sealed, size_t sealed_cap,
              size_t *sealed_len)
{
    char path[4096];
    char text[KEYRING_MAX_BYTES + 1];
    const char *why = NULL;
    struct stat sb;
    ssize_t n;
    int fd;
    int have_id = 0;
    int have_pk = 0;
    enum ecl_status st = ECL_OK;

    path_join(path, sizeof path, dir, KEYRING_FILE);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        fprintf(stderr, "ecluse: no keyring in %s (run `ecluse init` first)\n", dir);
        return errno == ENOENT ? ECL_ERR_NOT_FOUND : ECL_ERR_IO;
    }
    if (fstat(fd, &sb) != 0 || sb.st_size < 0 || sb.st_size > KEYRING_MAX_BYTES) {
        close(fd);
        fprintf(stderr, "ecluse: the keyring file %s is not valid\n", path);
        return ECL_ERR_INVALID;
    }
    st = ecl_keyfile_check(fd, (size_t)sb.st_size, &why);
    if (st != ECL_OK) {
        close(fd);
        fprintf(stderr, "ecluse: refusing keyring file %s: %s\n", path, why);
        return st;
    }
    n = read(fd, text, KEYRING_MAX_BYTES);
    close(fd);
    if (n < 0) {
        return ECL_ERR_IO;
    }
    text[n] = 0;
    *sealed_len = 0;

    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    if (line == NULL || strcmp(line, KEYRING_MAGIC) != 0) {
        fprintf(stderr, "ecluse: %s is not an ecluse keyring\n", path);
        return ECL_ERR_INVALID;
    }
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        char *sp = strchr(line, ' ');
        if (sp == NULL) {
            st = ECL_ERR_INVALID;
            break;
        }
        *sp = 0;
        const char *val = sp + 1;
        if (strcmp(line, "log-id") == 0) {
            st = ecl_unhex(val, strlen(val), kr->log_id, sizeof kr->log_id);
            have_id = 1;
        } else if (strcmp(line, "origin") == 0) {
            st = origin_ok(val) ? ECL_OK : ECL_ERR_INVALID;
            snprintf(kr->origin, sizeof kr->origin, "%s", val);
        } else if (strcmp(line, "audit-sign-pk") == 0) {
            st = ecl_unhex(val, strlen(val), kr->sign_pk, sizeof kr->sign_pk);
            have_pk = 1;
        } else if (strcmp(line, "audit-sign-sealed") == 0) {
            size_t len = strlen(val) / 2;
            st = len <= sealed_cap ? ecl_unhex(val, strlen(val), sealed, len) : ECL_ERR_INVALID;
            *sealed_len = len;
        } else if (strcmp(line, "version") == 0) {
            char name[64];
            unsigned v = 0;
            st = ECL_ERR_INVALID;
            if (sscanf(val, "%63s %u", name, &v) == 2 && v >= 1) {
                for (unsigned u = 0; u < ECL_KEY_USE_COUNT; u++) {
                    if (strcmp(name, uses[u].name) == 0) {
                        kr->versions[u] = v;
                        st = ECL_OK;
                    }
                }
            }
        } else {
            st = ECL_ERR_INVALID;
        }
        if (st != ECL_OK) {
            break;
        }
    }
    for (unsigned u = 0; u < ECL_KEY_USE_COUNT && st == ECL_OK; u++) {
        if (kr->versions[u] == 0) {
            st = ECL_ERR_INVALID;
        }
    }
    if (st == ECL_OK && (!have_id || !have_pk || kr->origin[0] == 0)) {
        st = ECL_ERR_INVALID;
    }
    if (st != ECL_OK) {
        fprintf(stderr, "ecluse: the keyring file %s is not valid\n", path);
    }
    return st;
}

enum ecl_status
ecl_keyring_load_public(const char *dir, struct ecl_keyring **out)
{
    struct ecl_keyring *kr = sodium_malloc(sizeof *kr);
    uint8_t sealed[256];
    size_t sealed_len = 0;
    enum ecl_status st;

    if (kr == NULL) {
        return ECL_ERR_NOMEM;
    }
    sodium_memzero(kr, sizeof *kr);
    st = keyring_parse(dir, kr, sealed, sizeof sealed, &sealed_len);
    if (st != ECL_OK) {
        sodium_free(kr);
        return st;
    }
    sodium_mprotect_readonly(kr);
    *out = kr;
    return ECL_OK;
}

enum ecl_status
ecl_keyring_load(const char *dir, const struct ecl_key_source *src, struct ecl_keyring **out)
{
    struct ecl_keyring *kr = sodium_malloc(sizeof *kr);
    uint8_t sealed[256];
    size_t sealed_len = 0;
    uint8_t seal_key[ECL_KEY_LEN];
    uint8_t ad[64];
    size_t ad_len = 0;
    uint8_t check_pk[ECL_SIGN_PK_LEN];
    struct ecl_buf sk;
    enum ecl_status st;

    if (kr == NULL) {
        return ECL_ERR_NOMEM;
    }
    sodium_memzero(kr, sizeof *kr);
    ecl_buf_init(&sk, ECL_SIGN_SK_LEN);
    st = keyring_parse(dir, kr, sealed, sizeof sealed, &sealed_len);
    if (st != ECL_OK) {
        goto out;
    }
    st = master_read(dir, src, kr->master);
    if (st != ECL_OK) {
        goto out;
    }
    for (unsigned u = 0; u < ECL_KEY_USE_COUNT; u++) {
        ecl_kdf_derive(kr->master, (enum ecl_key_use)u, kr->versions[u], kr->keys[u]);
    }
    ecl_kdf_derive(kr->master, ECL_KEY_SIGN_SEAL, 1, seal_key);
    sign_seal_ad(kr->sign_pk, ad, &ad_len);
    st = ecl_crypto_aead_open(seal_key, ad, ad_len, sealed, sealed_len, &sk);
    if (st != ECL_OK || sk.len != ECL_SIGN_SK_LEN) {
        fprintf(stderr, "ecluse: the master key does not open this data directory's audit "
                        "signing key (wrong master key?)\n");
        st = ECL_ERR_CRYPTO;
        goto out;
    }
    memcpy(kr->sign_sk, sk.ptr, ECL_SIGN_SK_LEN);
    crypto_sign_ed25519_sk_to_pk(check_pk, kr->sign_sk);
    if (sodium_memcmp(check_pk, kr->sign_pk, sizeof check_pk) != 0) {
        st = ECL_ERR_CRYPTO;
        goto out;
    }
    kr->has_secrets = 1;
out:
    sodium_memzero(seal_key, sizeof seal_key);
    ecl_buf_free(&sk);
    if (st != ECL_OK) {
        sodium_free(kr);
        return st;
    }
    sodium_mprotect_readonly(kr);
    *out = kr;
    return ECL_OK;
}

void
ecl_keyring_free(struct ecl_keyring *kr)
{
    if (kr != NULL) {
        sodium_free(kr); /* sodium_free wipes, even read-only memory */
    }
}

int
ecl_keyring_has_secrets(const struct ecl_keyring *kr)
{
    return kr->has_secrets;
}

const uint8_t *
ecl_keyring_key(const struct ecl_keyring *kr, enum ecl_key_use use)
{
    if (!kr->has_secrets || (unsigned)use >= ECL_KEY_USE_COUNT) {
        return NULL;
    }
    return kr->keys[use];
}

uint32_t
ecl_keyring_version(const struct ecl_keyring *kr, enum ecl_key_use use)
{
    if ((unsigned)use >= ECL_KEY_USE_COUNT) {
        return 0;
    }
    return kr->versions[use];
}

enum ecl_status
ecl_keyring_key_at(const struct ecl_keyring *kr, enum ecl_key_use use, uint32_t version,
                   uint8_t out[ECL_KEY_LEN])
{
    if (!kr->has_secrets) {
        return ECL_ERR_PERM;
    }
    if ((unsigned)use >= ECL_KEY_USE_COUNT || version == 0) {
        return ECL_ERR_INVALID;
    }
    ecl_kdf_derive(kr->master, use, version, out);
    return ECL_OK;
}

const uint8_t *
ecl_keyring_log_id(const struct ecl_keyring *kr)
{
    return kr->log_id;
}

const char *
ecl_keyring_origin(const struct ecl_keyring *kr)
{
    return kr->origin;
}

const uint8_t *
ecl_keyring_sign_pk(const struct ecl_keyring *kr)
{
    return kr->sign_pk;
}

enum ecl_status
ecl_keyring_sign(const struct ecl_keyring *kr, const void *msg, size_t msg_len,
                 uint8_t sig[ECL_SIGN_LEN])
{
    if (!kr->has_secrets) {
        return ECL_ERR_PERM;
    }
    crypto_sign_detached(sig, NULL, msg, msg_len, kr->sign_sk);
    return ECL_OK;
}
