/* RFC 6962 / RFC 9162 trees and C2SP notes: known answers computed independently
 * (tests/vectors/gen_merkle.py), proof generation and verification with their negative cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecl/crypto.h"
#include "testutil.h"

enum { MAXLEAVES = 64, MAXLEVELS = 8 };

struct tree {
    size_t nleaves;
    uint8_t leaf_hash[MAXLEAVES][ECL_HASH_LEN];
    uint8_t nodes[MAXLEVELS][MAXLEAVES][ECL_HASH_LEN];
    int have[MAXLEVELS][MAXLEAVES];
    size_t reads;
};

static struct tree T;

static enum ecl_status
get(void *arg, unsigned level, uint64_t index, uint8_t out[ECL_HASH_LEN])
{
    struct tree *t = arg;

    if (level >= MAXLEVELS || index >= MAXLEAVES || !t->have[level][index]) {
        return ECL_ERR_NOT_FOUND;
    }
    t->reads++;
    memcpy(out, t->nodes[level][index], ECL_HASH_LEN);
    return ECL_OK;
}

static size_t
parse_hashes(char *s, uint8_t (*out)[ECL_HASH_LEN])
{
    size_t n = 0;
    char *save = NULL;

    if (strcmp(s, "-") == 0) {
        return 0;
    }
    for (char *tok = strtok_r(s, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        tu_unhex(tok, out[n++], ECL_HASH_LEN);
    }
    return n;
}

static FILE *
vectors(void)
{
    char *path = tu_vector_path("merkle.txt");
    FILE *f = fopen(path, "r");
    free(path);
    assert_non_null(f);
    return f;
}

/* Builds every leaf and node with the frontier, the way the audit writer does. */
static void
build_tree(void)
{
    FILE *f = vectors();
    char kind[32];
    char a[256];
    char b[8192];
    struct ecl_merkle_frontier fr;
    struct ecl_merkle_node done[ECL_MERKLE_MAX_DEPTH + 1];
    uint8_t leaf[128];

    memset(&T, 0, sizeof T);
    ecl_merkle_frontier_init(&fr);
    while (fscanf(f, "%31s %255s %8191s", kind, a, b) == 3) {
        if (strcmp(kind, "leaf") == 0) {
            size_t n = strcmp(b, "-") == 0 ? 0 : strlen(b) / 2;
            size_t nd = 0;
            if (n > 0) {
                tu_unhex(b, leaf, n);
            }
            ecl_merkle_leaf_hash(leaf, n, T.leaf_hash[T.nleaves]);
            assert_int_equal(ecl_merkle_frontier_append(&fr, T.leaf_hash[T.nleaves], done, &nd),
                             ECL_OK);
            assert_int_equal(done[0].level, 0);
            assert_int_equal(done[0].index, T.nleaves);
            for (size_t i = 0; i < nd; i++) {
                memcpy(T.nodes[done[i].level][done[i].index], done[i].hash, ECL_HASH_LEN);
                T.have[done[i].level][done[i].index] = 1;
            }
            T.nleaves++;
        }
    }
    fclose(f);
    assert_true(T.nleaves >= 8);
}

static void
test_roots(void **state)
{
    FILE *f = vectors();
    char kind[32];
    char a[256];
    char b[8192];
    struct ecl_merkle_frontier fr;
    size_t rows = 0;

    (void)state;
    build_tree();
    ecl_merkle_frontier_init(&fr);
    while (fscanf(f, "%31s %255s %8191s", kind, a, b) == 3) {
        uint8_t want[ECL_HASH_LEN];
        uint8_t got[ECL_HASH_LEN];
        size_t size = strtoul(a, NULL, 10);
        if (strcmp(kind, "root") != 0) {
            continue;
        }
        tu_unhex(b, want, sizeof want);
        while (fr.size < size) {
            assert_int_equal(ecl_merkle_frontier_append(&fr, T.leaf_hash[fr.size], NULL, NULL),
                             ECL_OK);
        }
        ecl_merkle_frontier_root(&fr, got);
        assert_memory_equal(got, want, ECL_HASH_LEN);
        assert_int_equal(ecl_merkle_root(size, get, &T, got), ECL_OK);
        assert_memory_equal(got, want, ECL_HASH_LEN);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, T.nleaves + 1);
}

static void
root_of(uint64_t size, uint8_t out[ECL_HASH_LEN])
{
    assert_int_equal(ecl_merkle_root(size, get, &T, out), ECL_OK);
}

static void
test_inclusion(void **state)
{
    FILE *f = vectors();
    char kind[32];
    char a[256];
    char b[8192];
    uint64_t index;
    uint64_t size;
    size_t rows = 0;

    (void)state;
    build_tree();
    while (fscanf(f, "%31s %255s", kind, a) == 2) {
        uint8_t want[ECL_MERKLE_MAX_DEPTH + 1][ECL_HASH_LEN];
        uint8_t got[ECL_MERKLE_MAX_DEPTH + 1][ECL_HASH_LEN];
        uint8_t root[ECL_HASH_LEN];
        size_t nwant;
        size_t ngot = 0;
        const uint8_t(*p)[ECL_HASH_LEN] = (const uint8_t(*)[ECL_HASH_LEN])got;

        if (strcmp(kind, "inclusion") != 0) {
            assert_int_equal(fscanf(f, "%8191s", b), 1);
            continue;
        }
        index = strtoull(a, NULL, 10);
        assert_int_equal(fscanf(f, "%" SCNu64 " %8191s", &size, b), 2);
        nwant = parse_hashes(b, want);
        T.reads = 0;
        assert_int_equal(
            ecl_merkle_inclusion_proof(index, size, get, &T, got, ECL_MERKLE_MAX_DEPTH, &ngot),
            ECL_OK);
        assert_int_equal(ngot, nwant);
        assert_memory_equal(got, want, ngot * ECL_HASH_LEN);
        assert_true(T.reads <= 2 * 6 + 2); /* O(log n) node reads */
        root_of(size, root);
        assert_int_equal(
            ecl_merkle_verify_inclusion(T.leaf_hash[index], index, size, p, ngot, root), ECL_OK);
        /* wrong leaf */
        assert_int_equal(ecl_merkle_verify_inclusion(T.leaf_hash[(index + 1) % T.nleaves], index,
                                                     size, p, ngot, root),
                         ECL_ERR_CRYPTO);
        /* wrong index */
        if (size > 1) {
            assert_int_equal(
                ecl_merkle_verify_inclusion(T.leaf_hash[index], index ^ 1, size, p, ngot, root),
                ECL_ERR_CRYPTO);
        }
        assert_int_equal(ecl_merkle_verify_inclusion(T.leaf_hash[index], size, size, p, ngot, root),
                         ECL_ERR_CRYPTO);
        /* wrong size: the size is bound through the root, so each claim comes with the root
         * of the size it claims (with the same root, RFC 9162 paths of many sizes coincide) */
        if (size < T.nleaves) {
            uint8_t other[ECL_HASH_LEN];
            root_of(size + 1, other);
            assert_int_equal(
                ecl_merkle_verify_inclusion(T.leaf_hash[index], index, size + 1, p, ngot, other),
                ECL_ERR_CRYPTO);
        }
        if (size > index + 1) {
            uint8_t other[ECL_HASH_LEN];
            root_of(size - 1, other);
            assert_int_equal(
                ecl_merkle_verify_inclusion(T.leaf_hash[index], index, size - 1, p, ngot, other),
                ECL_ERR_CRYPTO);
        }
        /* truncated proof, extra trailing hash */
        if (ngot > 0) {
            assert_int_equal(
                ecl_merkle_verify_inclusion(T.leaf_hash[index], index, size, p, ngot - 1, root),
                ECL_ERR_CRYPTO);
        }
        memcpy(got[ngot], root, ECL_HASH_LEN);
        assert_int_equal(
            ecl_merkle_verify_inclusion(T.leaf_hash[index], index, size, p, ngot + 1, root),
            ECL_ERR_CRYPTO);
        /* wrong root */
        root[0] ^= 1;
        assert_int_equal(
            ecl_merkle_verify_inclusion(T.leaf_hash[index], index, size, p, ngot, root),
            ECL_ERR_CRYPTO);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, T.nleaves * (T.nleaves + 1) / 2);
    assert_int_equal(ecl_merkle_inclusion_proof(3, 3, get, &T, NULL, 0, &rows), ECL_ERR_INVALID);
}

static void
test_consistency(void **state)
{
    FILE *f = vectors();
    char kind[32];
    char a[256];
    char b[8192];
    uint64_t m;
    uint64_t n;
    size_t rows = 0;

    (void)state;
    build_tree();
    while (fscanf(f, "%31s %255s", kind, a) == 2) {
        uint8_t want[ECL_MERKLE_MAX_DEPTH + 1][ECL_HASH_LEN];
        uint8_t got[ECL_MERKLE_MAX_DEPTH + 1][ECL_HASH_LEN];
        uint8_t r1[ECL_HASH_LEN];
        uint8_t r2[ECL_HASH_LEN];
        size_t nwant;
        size_t ngot = 0;
        const uint8_t(*p)[ECL_HASH_LEN] = (const uint8_t(*)[ECL_HASH_LEN])got;

        if (strcmp(kind, "consistency") != 0) {
            assert_int_equal(fscanf(f, "%8191s", b), 1);
            if (strcmp(kind, "inclusion") == 0) {
                assert_int_equal(fscanf(f, "%8191s", b), 1);
            }
            continue;
        }
        m = strtoull(a, NULL, 10);
        assert_int_equal(fscanf(f, "%" SCNu64 " %8191s", &n, b), 2);
        nwant = parse_hashes(b, want);
        assert_int_equal(
            ecl_merkle_consistency_proof(m, n, get, &T, got, ECL_MERKLE_MAX_DEPTH, &ngot), ECL_OK);
        assert_int_equal(ngot, nwant);
        assert_memory_equal(got, want, ngot * ECL_HASH_LEN);
        root_of(m, r1);
        root_of(n, r2);
        assert_int_equal(ecl_merkle_verify_consistency(m, n, r1, r2, p, ngot), ECL_OK);
        if (m != n) {
            /* swapped roots, wrong sizes, truncated and extended proofs, wrong old root */
            assert_int_equal(ecl_merkle_verify_consistency(m, n, r2, r1, p, ngot), ECL_ERR_CRYPTO);
            assert_int_equal(ecl_merkle_verify_consistency(n, m, r1, r2, p, ngot), ECL_ERR_CRYPTO);
            if (n < T.nleaves) {
                uint8_t other[ECL_HASH_LEN];
                root_of(n + 1, other);
                assert_int_equal(ecl_merkle_verify_consistency(m, n + 1, r1, other, p, ngot),
                                 ECL_ERR_CRYPTO);
            }
            if (m > 1) {
                uint8_t other[ECL_HASH_LEN];
                root_of(m - 1, other);
                assert_int_equal(ecl_merkle_verify_consistency(m - 1, n, other, r2, p, ngot),
                                 ECL_ERR_CRYPTO);
            }
            assert_int_equal(ecl_merkle_verify_consistency(m, n, r1, r2, p, ngot - 1),
                             ECL_ERR_CRYPTO);
            memcpy(got[ngot], r2, ECL_HASH_LEN);
            assert_int_equal(ecl_merkle_verify_consistency(m, n, r1, r2, p, ngot + 1),
                             ECL_ERR_CRYPTO);
            r1[5] ^= 0x80;
            assert_int_equal(ecl_merkle_verify_consistency(m, n, r1, r2, p, ngot), ECL_ERR_CRYPTO);
        } else {
            r2[0] ^= 1;
            assert_int_equal(ecl_merkle_verify_consistency(m, n, r1, r2, p, 0), ECL_ERR_CRYPTO);
        }
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, T.nleaves * (T.nleaves + 1) / 2);
}

/* ---- notes ---------------------------------------------------------------------------------- */

struct note_vec {
    char name[128];
    uint8_t pk[ECL_SIGN_PK_LEN];
    char vkey[256];
    char note[1024];
    size_t note_len;
};

static void
load_note(struct note_vec *v)
{
    char *path = tu_vector_path("note.txt");
    FILE *f = fopen(path, "r");
    char k[16];
    char val[2048];
    struct ecl_buf raw;

    free(path);
    assert_non_null(f);
    memset(v, 0, sizeof *v);
    while (fscanf(f, "%15s %2047s", k, val) == 2) {
        if (strcmp(k, "name") == 0) {
            snprintf(v->name, sizeof v->name, "%.127s", val);
        } else if (strcmp(k, "pk") == 0) {
            tu_unhex(val, v->pk, sizeof v->pk);
        } else if (strcmp(k, "vkey") == 0) {
            snprintf(v->vkey, sizeof v->vkey, "%.255s", val);
        } else if (strcmp(k, "note") == 0) {
            ecl_buf_init(&raw, sizeof v->note - 1);
            assert_int_equal(ecl_crypto_b64_decode(val, strlen(val), &raw), ECL_OK);
            memcpy(v->note, raw.ptr, raw.len);
            v->note_len = raw.len;
            ecl_buf_free(&raw);
        }
    }
    fclose(f);
    assert_true(v->note_len > 0);
}

static void
test_note_vector(void **state)
{
    struct note_vec v;
    struct ecl_buf vk;
    uint8_t pk[ECL_SIGN_PK_LEN];
    uint8_t root[ECL_HASH_LEN];
    uint8_t want_root[ECL_HASH_LEN];
    size_t name_len = 0;
    size_t text_len = 0;
    uint64_t size = 0;
    char copy[1024];

    (void)state;
    load_note(&v);
    ecl_buf_init(&vk, 256);
    assert_int_equal(ecl_note_verifier_key(v.name, v.pk, &vk), ECL_OK);
    assert_int_equal(vk.len, strlen(v.vkey));
    assert_memory_equal(vk.ptr, v.vkey, vk.len);
    ecl_buf_free(&vk);
    assert_int_equal(ecl_note_verifier_key_parse(v.vkey, strlen(v.vkey), &name_len, pk), ECL_OK);
    assert_int_equal(name_len, strlen(v.name));
    assert_memory_equal(pk, v.pk, sizeof pk);
    /* a verifier key whose id does not match its key */
    memcpy(copy, v.vkey, strlen(v.vkey) + 1);
    copy[name_len + 1] = copy[name_len + 1] == '0' ? '1' : '0';
    assert_int_equal(ecl_note_verifier_key_parse(copy, strlen(copy), &name_len, pk),
                     ECL_ERR_INVALID);

    assert_int_equal(ecl_note_verify(v.note, v.note_len, v.name, v.pk, &text_len), ECL_OK);
    assert_int_equal(ecl_checkpoint_parse(v.note, text_len, v.name, &size, root), ECL_OK);
    assert_int_equal(size, 8);
    tu_unhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328", want_root, 32);
    assert_memory_equal(root, want_root, sizeof root);

    /* one changed byte of the text, of the signature; another key name; a hyphen for the dash */
    memcpy(copy, v.note, v.note_len);
    copy[strlen(v.name) + 1] = '9';
    assert_int_equal(ecl_note_verify(copy, v.note_len, v.name, v.pk, &text_len), ECL_ERR_CRYPTO);
    memcpy(copy, v.note, v.note_len);
    copy[v.note_len - 5] = copy[v.note_len - 5] == 'A' ? 'B' : 'A';
    assert_int_not_equal(ecl_note_verify(copy, v.note_len, v.name, v.pk, &text_len), ECL_OK);
    assert_int_equal(ecl_note_verify(v.note, v.note_len, "other.example/log", v.pk, &text_len),
                     ECL_ERR_CRYPTO);
    memcpy(copy, v.note, v.note_len);
    char *dash = strstr(copy, "\xe2\x80\x94");
    assert_non_null(dash);
    memcpy(dash, "--", 2);
    memmove(dash + 2, dash + 3, v.note_len - (size_t)(dash + 3 - copy));
    assert_int_equal(ecl_note_verify(copy, v.note_len - 1, v.name, v.pk, &text_len),
                     ECL_ERR_INVALID);
    assert_int_equal(ecl_note_verify(v.note, v.note_len - 1, v.name, v.pk, &text_len),
                     ECL_ERR_INVALID);
}

static void
test_checkpoint_parse(void **state)
{
    static const struct {
        const char *text;
        enum ecl_status want;
    } rows[] = {
        {"o\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtwvlgz+Nw7/RgQyg=\n", ECL_OK},
        {"o\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtwvlgz+Nw7/RgQyg=\nextension\n", ECL_OK},
        {"p\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtwvlgz+Nw7/RgQyg=\n", ECL_ERR_INVALID},
        {"o\n08\nXcnaeacGWamtVZy3Ad7Zoqudgjqtwvlgz+Nw7/RgQyg=\n", ECL_ERR_INVALID},
        {"o\n-8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtwvlgz+Nw7/RgQyg=\n", ECL_ERR_INVALID},
        {"o\n18446744073709551616\nXcnaeacGWamtVZy3Ad7Zoqudgjqtwvlgz+Nw7/RgQyg=\n",
         ECL_ERR_INVALID},
        {"o\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtwvlgz+Nw7/RgQ=\n", ECL_ERR_INVALID},
        {"o\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtwvlgz+Nw7/RgQyg=", ECL_ERR_INVALID},
        {"o\n\nXcnaeacGWamtVZy3Ad7Zoqudgjqtwvlgz+Nw7/RgQyg=\n", ECL_ERR_INVALID},
    };
    uint8_t root[ECL_HASH_LEN];
    uint64_t size;

    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_int_equal(ecl_checkpoint_parse(rows[i].text, strlen(rows[i].text), "o", &size, root),
                         rows[i].want);
    }
}

static void
test_note_sign_roundtrip(void **state)
{
    char *dir = tu_tmpdir();
    struct ecl_keyring *kr = NULL;
    struct ecl_keyring *pub = NULL;
    struct ecl_buf note;
    struct ecl_buf body;
    uint8_t root[ECL_HASH_LEN] = {1, 2, 3};
    size_t text_len = 0;

    (void)state;
    assert_int_equal(ecl_keyring_create(dir, NULL, "test.example/log"), ECL_OK);
    assert_int_equal(ecl_keyring_load(dir, NULL, &kr), ECL_OK);
    assert_int_equal(ecl_keyring_load_public(dir, &pub), ECL_OK);
    ecl_buf_init(&note, ECL_NOTE_MAX_BYTES);
    ecl_buf_init(&body, ECL_NOTE_MAX_BYTES);
    assert_int_equal(ecl_checkpoint_format("test.example/log", 42, root, &body), ECL_OK);
    assert_int_equal(ecl_note_sign(kr, (const char *)body.ptr, body.len, &note), ECL_OK);
    assert_int_equal(ecl_note_verify((const char *)note.ptr, note.len, "test.example/log",
                                     ecl_keyring_sign_pk(pub), &text_len),
                     ECL_OK);
    assert_int_equal(text_len, body.len);
    /* a public-only keyring cannot sign; a text with a blank line is not a note text */
    ecl_buf_reset(&note);
    assert_int_equal(ecl_note_sign(pub, (const char *)body.ptr, body.len, &note), ECL_ERR_PERM);
    assert_int_equal(ecl_note_sign(kr, "a\n\nb\n", 5, &note), ECL_ERR_INVALID);
    assert_int_equal(ecl_note_sign(kr, "no newline", 10, &note), ECL_ERR_INVALID);
    ecl_buf_free(&note);
    ecl_buf_free(&body);
    ecl_keyring_free(kr);
    ecl_keyring_free(pub);
    tu_rmtree(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roots),
        cmocka_unit_test(test_inclusion),
        cmocka_unit_test(test_consistency),
        cmocka_unit_test(test_note_vector),
        cmocka_unit_test(test_checkpoint_parse),
        cmocka_unit_test(test_note_sign_roundtrip),
    };
    ecl_crypto_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
