/* The key hierarchy: one master key, every other key derived with crypto_kdf (one context per
 * use, subkey id = version), and the audit signing key sealed under a derived key.  The record
 * KEK also needs per-version random material kept (sealed) in the keyring, so that a version can
 * be destroyed (docs/erasure.md).  See SECURITY.md, "Cryptographic inventory". */
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
#define KEK_SEAL_AD   "ecluse record-kek material v1"
#define KEYRING_TMP   "keyring.new"
enum {
    KEYRING_MAX_BYTES = 8192,
    SIGN_SEALED_MAX = 256,
    KEK_SEALED_LEN = ECL_AEAD_NONCE_LEN + ECL_KEK_MATERIAL_LEN + ECL_AEAD_TAG_LEN,
};

struct ecl_keyring {
    int has_secrets;
    uint8_t master[ECL_MASTER_KEY_LEN];
    uint8_t keys[ECL_KEY_USE_COUNT][ECL_KEY_LEN];
    uint32_t versions[ECL_KEY_USE_COUNT];
    uint8_t log_id[ECL_LOG_ID_LEN];
    char origin[ECL_ORIGIN_MAX_LEN + 1];
    uint8_t sign_pk[ECL_SIGN_PK_LEN];
    uint8_t sign_sk[ECL_SIGN_SK_LEN];
    uint8_t sign_sealed[SIGN_SEALED_MAX]; /* the signing key sealed, as in the file */
    size_t sign_sealed_len;
    /* record-KEK versions whose material is present, in file order (ascending) */
    size_t nkek;
    uint32_t kek_version[ECL_KEK_VERSIONS_MAX];
    uint8_t kek_sealed[ECL_KEK_VERSIONS_MAX][KEK_SEALED_LEN];
    uint8_t kek_material[ECL_KEK_VERSIONS_MAX][ECL_KEK_MATERIAL_LEN]; /* with secrets only */
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
fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    enum ecl_status st = ECL_OK;

    if (fd < 0) {
        return ECL_ERR_IO;
    }
    if (fsync(fd) != 0) {
        st = ECL_ERR_IO;
    }
    close(fd);
    return st;
}

/* Overwrites the bytes of a replaced keyring (still open as fd) with zeros and syncs them.  Best
 * effort: a copy-on-write file system or an SSD's flash translation may keep the old blocks. */
static void
wipe_old_file(int fd)
{
    uint8_t zeros[512];
    struct stat sb;
    enum ecl_status st = ECL_OK;

    memset(zeros, 0, sizeof zeros);
    if (fstat(fd, &sb) != 0 || sb.st_size < 0) {
        return;
    }
    for (off_t left = sb.st_size; left > 0 && st == ECL_OK;) {
        size_t n = left < (off_t)sizeof zeros ? (size_t)left : sizeof zeros;
        st = write_all(fd, zeros, n);
        left -= (off_t)n;
    }
    if (st != ECL_OK || fsync(fd) != 0) {
        fprintf(stderr, "ecluse: warning: could not overwrite the replaced keyring's bytes\n");
    }
}

static enum ecl_status
keyring_write_fd(int fd, const struct ecl_keyring *kr)
{
    char hex[2 * SIGN_SEALED_MAX + 1];
    char line[1024];
    enum ecl_status st = ECL_OK;

    ecl_hex(kr->log_id, sizeof kr->log_id, hex);
    snprintf(line, sizeof line, "%s\nlog-id %s\norigin %s\n", KEYRING_MAGIC, hex, kr->origin);
    st = write_all(fd, line, strlen(line));
    ecl_hex(kr->sign_pk, sizeof kr->sign_pk, hex);
    snprintf(line, sizeof line, "audit-sign-pk %s\n", hex);
    if (st == ECL_OK) {
        st = write_all(fd, line, strlen(line));
    }
    ecl_hex(kr->sign_sealed, kr->sign_sealed_len, hex);
    snprintf(line, sizeof line, "audit-sign-sealed %s\n", hex);
    if (st == ECL_OK) {
        st = write_all(fd, line, strlen(line));
    }
    for (unsigned u = 0; u < ECL_KEY_USE_COUNT && st == ECL_OK; u++) {
        snprintf(line, sizeof line, "version %s %u\n", uses[u].name, kr->versions[u]);
        st = write_all(fd, line, strlen(line));
    }
    for (size_t i = 0; i < kr->nkek && st == ECL_OK; i++) {
        ecl_hex(kr->kek_sealed[i], KEK_SEALED_LEN, hex);
        snprintf(line, sizeof line, "record-kek-material %u %s\n", kr->kek_version[i], hex);
        st = write_all(fd, line, strlen(line));
    }
    if (st == ECL_OK && fsync(fd) != 0) {
        st = ECL_ERR_IO;
    }
    return st;
}

/* Writes DIR/keyring atomically: a temporary file (0600) is written and synced, then renamed
 * over the keyring (replace) or linked to it only if absent (create), and DIR is synced.  When
 * replacing, the old file's bytes are then overwritten. */
static enum ecl_status
keyring_write(const char *dir, const struct ecl_keyring *kr, int replace)
{
    char path[4096];
    char tmp[4096];
    enum ecl_status st = ECL_OK;
    int old_fd = -1;
    int fd;

    path_join(path, sizeof path, dir, KEYRING_FILE);
    path_join(tmp, sizeof tmp, dir, KEYRING_TMP);
    if (path[0] == 0 || tmp[0] == 0) {
        return ECL_ERR_LIMIT;
    }
    if (unlink(tmp) != 0 && errno != ENOENT) { /* a leftover of an interrupted update */
        return ECL_ERR_IO;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return ECL_ERR_IO;
    }
    st = keyring_write_fd(fd, kr);
    close(fd);
    if (st == ECL_OK && replace) {
        old_fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (rename(tmp, path) != 0) {
            st = ECL_ERR_IO;
        }
    } else if (st == ECL_OK) {
        if (link(tmp, path) != 0) {
            st = errno == EEXIST ? ECL_ERR_EXISTS : ECL_ERR_IO;
        }
        unlink(tmp);
    }
    if (st == ECL_OK) {
        st = fsync_dir(dir);
    }
    if (st == ECL_OK && old_fd >= 0) {
        wipe_old_file(old_fd);
    }
    if (old_fd >= 0) {
        close(old_fd);
    }
    if (st != ECL_OK) {
        unlink(tmp);
    }
    return st;
}

/* The associated data of a version's sealed material: binds the data directory (log id) and the
 * version, so material cannot be moved to another version or keyring. */
static void
kek_seal_ad(const struct ecl_keyring *kr, uint32_t version, uint8_t *ad, size_t *ad_len)
{
    size_t n = strlen(KEK_SEAL_AD);

    memcpy(ad, KEK_SEAL_AD, n);
    memcpy(ad + n, kr->log_id, ECL_LOG_ID_LEN);
    n += ECL_LOG_ID_LEN;
    ad[n++] = (uint8_t)(version >> 24);
    ad[n++] = (uint8_t)(version >> 16);
    ad[n++] = (uint8_t)(version >> 8);
    ad[n++] = (uint8_t)version;
    *ad_len = n;
}

/* Seals material for version with the keyring seal key (derived from kr->master). */
static enum ecl_status
kek_seal(const struct ecl_keyring *kr, uint32_t version,
         const uint8_t material[ECL_KEK_MATERIAL_LEN], uint8_t out[KEK_SEALED_LEN])
{
    uint8_t seal_key[ECL_KEY_LEN];
    uint8_t ad[64];
    size_t ad_len = 0;
    struct ecl_buf sealed;
    enum ecl_status st;

    ecl_buf_init(&sealed, KEK_SEALED_LEN);
    ecl_kdf_derive(kr->master, ECL_KEY_SIGN_SEAL, 1, seal_key);
    kek_seal_ad(kr, version, ad, &ad_len);
    st = ecl_crypto_aead_seal(seal_key, ad, ad_len, material, ECL_KEK_MATERIAL_LEN, &sealed);
    if (st == ECL_OK && sealed.len != KEK_SEALED_LEN) {
        st = ECL_ERR_INTERNAL;
    }
    if (st == ECL_OK) {
        memcpy(out, sealed.ptr, KEK_SEALED_LEN);
    }
    sodium_memzero(seal_key, sizeof seal_key);
    ecl_buf_free(&sealed);
    return st;
}

/* Opens the sealed material of entry i into kr->kek_material[i]. */
static enum ecl_status
kek_open(struct ecl_keyring *kr, size_t i)
{
    uint8_t seal_key[ECL_KEY_LEN];
    uint8_t ad[64];
    size_t ad_len = 0;
    struct ecl_buf plain;
    enum ecl_status st;

    ecl_buf_init(&plain, ECL_KEK_MATERIAL_LEN);
    ecl_kdf_derive(kr->master, ECL_KEY_SIGN_SEAL, 1, seal_key);
    kek_seal_ad(kr, kr->kek_version[i], ad, &ad_len);
    st = ecl_crypto_aead_open(seal_key, ad, ad_len, kr->kek_sealed[i], KEK_SEALED_LEN, &plain);
    if (st == ECL_OK && plain.len != ECL_KEK_MATERIAL_LEN) {
        st = ECL_ERR_CRYPTO;
    }
    if (st == ECL_OK) {
        memcpy(kr->kek_material[i], plain.ptr, ECL_KEK_MATERIAL_LEN);
    }
    sodium_memzero(seal_key, sizeof seal_key);
    ecl_buf_free(&plain);
    return st;
}

static int
kek_index(const struct ecl_keyring *kr, uint32_t version)
{
    for (size_t i = 0; i < kr->nkek; i++) {
        if (kr->kek_version[i] == version) {
            return (int)i;
        }
    }
    return -1;
}

void
ecl_record_kek_derive(const uint8_t master[ECL_MASTER_KEY_LEN], uint32_t version,
                      const uint8_t material[ECL_KEK_MATERIAL_LEN], uint8_t out[ECL_KEY_LEN])
{
    uint8_t base[ECL_KEY_LEN];

    ecl_kdf_derive(master, ECL_KEY_RECORD_KEK, version, base);
    ecl_crypto_blake2b(out, ECL_KEY_LEN, base, sizeof base, material, ECL_KEK_MATERIAL_LEN);
    sodium_memzero(base, sizeof base);
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
    uint8_t material[ECL_KEK_MATERIAL_LEN];
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
    ecl_buf_init(&sealed, SIGN_SEALED_MAX);

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
        memcpy(kr->sign_sealed, sealed.ptr, sealed.len);
        kr->sign_sealed_len = sealed.len;
        randombytes_buf(material, sizeof material);
        kr->kek_version[0] = 1;
        kr->nkek = 1;
        st = kek_seal(kr, 1, material, kr->kek_sealed[0]);
    }
    if (st == ECL_OK) {
        st = keyring_write(dir, kr, 0);
    }
out:
    sodium_memzero(material, sizeof material);
    sodium_memzero(seal_key, sizeof seal_key);
    ecl_buf_free(&sealed);
    sodium_free(kr);
    return st;
}

/* Parses DIR/keyring (public part and sealed blobs). */
static enum ecl_status
keyring_parse(const char *dir, struct ecl_keyring *kr)
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
    kr->sign_sealed_len = 0;
    kr->nkek = 0;

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
            st = len <= sizeof kr->sign_sealed ? ecl_unhex(val, strlen(val), kr->sign_sealed, len)
                                               : ECL_ERR_INVALID;
            kr->sign_sealed_len = len;
        } else if (strcmp(line, "record-kek-material") == 0) {
            char hexval[2 * KEK_SEALED_LEN + 2];
            unsigned v = 0;
            st = ECL_ERR_INVALID;
            if (kr->nkek < ECL_KEK_VERSIONS_MAX && sscanf(val, "%u %145s", &v, hexval) == 2 &&
                v >= 1 && (kr->nkek == 0 || v > kr->kek_version[kr->nkek - 1])) {
                st = ecl_unhex(hexval, strlen(hexval), kr->kek_sealed[kr->nkek], KEK_SEALED_LEN);
                kr->kek_version[kr->nkek] = v;
                kr->nkek++;
            }
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
    if (st == ECL_OK && kr->nkek > 0 &&
        kr->kek_version[kr->nkek - 1] > kr->versions[ECL_KEY_RECORD_KEK]) {
        st = ECL_ERR_INVALID;
    }
    if (st != ECL_OK) {
        fprintf(stderr, "ecluse: the keyring file %s is not valid\n", path);
        return st;
    }
    if (kek_index(kr, kr->versions[ECL_KEY_RECORD_KEK]) < 0) {
        fprintf(stderr,
                "ecluse: the keyring %s has no material for its current record-kek version %u "
                "(destroyed, or a keyring older than destroyable record KEKs)\n",
                path, kr->versions[ECL_KEY_RECORD_KEK]);
        st = ECL_ERR_INVALID;
    }
    return st;
}

enum ecl_status
ecl_keyring_load_public(const char *dir, struct ecl_keyring **out)
{
    struct ecl_keyring *kr = sodium_malloc(sizeof *kr);
    enum ecl_status st;

    if (kr == NULL) {
        return ECL_ERR_NOMEM;
    }
    sodium_memzero(kr, sizeof *kr);
    st = keyring_parse(dir, kr);
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
    st = keyring_parse(dir, kr);
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
    st = ecl_crypto_aead_open(seal_key, ad, ad_len, kr->sign_sealed, kr->sign_sealed_len, &sk);
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
    for (size_t i = 0; i < kr->nkek; i++) {
        st = kek_open(kr, i);
        if (st != ECL_OK) {
            fprintf(stderr,
                    "ecluse: the master key does not open the record-kek material of "
                    "version %u in the keyring\n",
                    kr->kek_version[i]);
            goto out;
        }
    }
    ecl_record_kek_derive(kr->master, kr->versions[ECL_KEY_RECORD_KEK],
                          kr->kek_material[kek_index(kr, kr->versions[ECL_KEY_RECORD_KEK])],
                          kr->keys[ECL_KEY_RECORD_KEK]);
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
    if (use == ECL_KEY_RECORD_KEK) {
        int i = kek_index(kr, version);
        if (i < 0) {
            return ECL_ERR_CRYPTO; /* destroyed (or never made): nothing can unwrap under it */
        }
        ecl_record_kek_derive(kr->master, version, kr->kek_material[i], out);
        return ECL_OK;
    }
    ecl_kdf_derive(kr->master, use, version, out);
    return ECL_OK;
}

int
ecl_keyring_kek_present(const struct ecl_keyring *kr, uint32_t version)
{
    return kek_index(kr, version) >= 0;
}

enum ecl_status
ecl_keyring_kek_rotate(const char *dir, const struct ecl_keyring *kr, uint32_t *new_version)
{
    struct ecl_keyring *nk;
    uint8_t material[ECL_KEK_MATERIAL_LEN];
    uint32_t v = kr->versions[ECL_KEY_RECORD_KEK];
    enum ecl_status st;

    if (!kr->has_secrets) {
        return ECL_ERR_PERM;
    }
    if (kr->nkek >= ECL_KEK_VERSIONS_MAX || v == UINT32_MAX) {
        return ECL_ERR_LIMIT;
    }
    nk = sodium_malloc(sizeof *nk);
    if (nk == NULL) {
        return ECL_ERR_NOMEM;
    }
    memcpy(nk, kr, sizeof *nk);
    randombytes_buf(material, sizeof material);
    st = kek_seal(nk, v + 1, material, nk->kek_sealed[nk->nkek]);
    if (st == ECL_OK) {
        nk->kek_version[nk->nkek] = v + 1;
        nk->nkek++;
        nk->versions[ECL_KEY_RECORD_KEK] = v + 1;
        st = keyring_write(dir, nk, 1);
    }
    sodium_memzero(material, sizeof material);
    sodium_free(nk);
    if (st == ECL_OK) {
        *new_version = v + 1;
    }
    return st;
}

enum ecl_status
ecl_keyring_kek_destroy(const char *dir, const struct ecl_keyring *kr, uint32_t version)
{
    struct ecl_keyring *nk;
    int i = kek_index(kr, version);
    enum ecl_status st;

    if (version == 0 || version == kr->versions[ECL_KEY_RECORD_KEK]) {
        return ECL_ERR_INVALID;
    }
    if (i < 0) {
        return ECL_ERR_NOT_FOUND;
    }
    nk = sodium_malloc(sizeof *nk);
    if (nk == NULL) {
        return ECL_ERR_NOMEM;
    }
    memcpy(nk, kr, sizeof *nk);
    for (size_t j = (size_t)i; j + 1 < nk->nkek; j++) {
        nk->kek_version[j] = nk->kek_version[j + 1];
        memcpy(nk->kek_sealed[j], nk->kek_sealed[j + 1], KEK_SEALED_LEN);
        memcpy(nk->kek_material[j], nk->kek_material[j + 1], ECL_KEK_MATERIAL_LEN);
    }
    nk->nkek--;
    sodium_memzero(nk->kek_material[nk->nkek], ECL_KEK_MATERIAL_LEN);
    st = keyring_write(dir, nk, 1);
    sodium_free(nk);
    return st;
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
