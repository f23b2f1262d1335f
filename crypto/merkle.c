/* RFC 6962 / RFC 9162 Merkle trees: hashing, the compact right edge used by the audit writer,
 * proof generation from stored perfect subtrees, and proof verification.  Pure: no I/O. */
#include <string.h>

#include <sodium.h>

#include "ecl/crypto.h"

static const uint8_t LEAF_PREFIX = 0x00;
static const uint8_t NODE_PREFIX = 0x01;

void
ecl_merkle_leaf_hash(const void *leaf, size_t leaf_len, uint8_t out[ECL_HASH_LEN])
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &LEAF_PREFIX, 1);
    crypto_hash_sha256_update(&st, leaf, leaf_len);
    crypto_hash_sha256_final(&st, out);
}

void
ecl_merkle_node_hash(const uint8_t left[ECL_HASH_LEN], const uint8_t right[ECL_HASH_LEN],
                     uint8_t out[ECL_HASH_LEN])
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &NODE_PREFIX, 1);
    crypto_hash_sha256_update(&st, left, ECL_HASH_LEN);
    crypto_hash_sha256_update(&st, right, ECL_HASH_LEN);
    crypto_hash_sha256_final(&st, out);
}

void
ecl_merkle_frontier_init(struct ecl_merkle_frontier *f)
{
    memset(f, 0, sizeof *f);
}

enum ecl_status
ecl_merkle_frontier_append(struct ecl_merkle_frontier *f, const uint8_t leaf_hash[ECL_HASH_LEN],
                           struct ecl_merkle_node *completed, size_t *ncompleted)
{
    uint8_t cur[ECL_HASH_LEN];
    uint64_t idx = f->size;
    unsigned level = 0;
    size_t n = 0;

    if (f->size >= (UINT64_C(1) << 62)) {
        return ECL_ERR_LIMIT;
    }
    memcpy(cur, leaf_hash, ECL_HASH_LEN);
    if (completed != NULL) {
        completed[n].level = 0;
        completed[n].index = idx;
        memcpy(completed[n].hash, cur, ECL_HASH_LEN);
    }
    n++;
    /* the new leaf is a right child at every level where idx is odd */
    while ((idx & 1) != 0) {
        ecl_merkle_node_hash(f->h[level], cur, cur);
        idx >>= 1;
        level++;
        if (completed != NULL) {
            completed[n].level = level;
            completed[n].index = idx;
            memcpy(completed[n].hash, cur, ECL_HASH_LEN);
        }
        n++;
    }
    memcpy(f->h[level], cur, ECL_HASH_LEN);
    f->size++;
    if (ncompleted != NULL) {
        *ncompleted = n;
    }
    return ECL_OK;
}

void
ecl_merkle_frontier_root(const struct ecl_merkle_frontier *f, uint8_t out[ECL_HASH_LEN])
{
    uint8_t r[ECL_HASH_LEN];
    int have = 0;

    if (f->size == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return;
    }
    /* RFC 6962 2.1: fold the perfect subtrees from the right (smallest) to the left */
    for (unsigned l = 0; l < ECL_MERKLE_MAX_DEPTH; l++) {
        if (((f->size >> l) & 1) == 0) {
            continue;
        }
        if (!have) {
            memcpy(r, f->h[l], ECL_HASH_LEN);
            have = 1;
        } else {
            ecl_merkle_node_hash(f->h[l], r, r);
        }
    }
    memcpy(out, r, ECL_HASH_LEN);
}

/* The largest power of two strictly smaller than n (n >= 2). */
static uint64_t
split_point(uint64_t n)
{
    return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

/* MTH(D[lo:hi]) from perfect subtrees: an aligned power-of-two range is one read; any other
 * range is split as RFC 6962 2.1 does.  Ranges in proofs are either aligned or end at the tree
 * size, so a proof reads O(log n) nodes. */
static enum ecl_status
range_hash(ecl_merkle_get_fn get, void *arg, uint64_t lo, uint64_t hi, uint8_t out[ECL_HASH_LEN])
{
    uint64_t n = hi - lo;
    uint8_t left[ECL_HASH_LEN];
    uint8_t right[ECL_HASH_LEN];
    uint64_t k;

    if (n == 0 || lo > hi) {
        return ECL_ERR_INTERNAL;
    }
    if ((n & (n - 1)) == 0 && (lo & (n - 1)) == 0) {
        unsigned level = (unsigned)__builtin_ctzll(n);
        return get(arg, level, lo >> level, out);
    }
    k = split_point(n);
    ECL_GUARD(range_hash(get, arg, lo, lo + k, left));
    ECL_GUARD(range_hash(get, arg, lo + k, hi, right));
    ecl_merkle_node_hash(left, right, out);
    return ECL_OK;
}

static void
reverse(uint8_t (*proof)[ECL_HASH_LEN], size_t n)
{
    uint8_t tmp[ECL_HASH_LEN];

    for (size_t i = 0; i < n / 2; i++) {
        memcpy(tmp, proof[i], ECL_HASH_LEN);
        memcpy(proof[i], proof[n - 1 - i], ECL_HASH_LEN);
        memcpy(proof[n - 1 - i], tmp, ECL_HASH_LEN);
    }
}

enum ecl_status
ecl_merkle_inclusion_proof(uint64_t index, uint64_t size, ecl_merkle_get_fn get, void *arg,
                           uint8_t (*proof)[ECL_HASH_LEN], size_t cap, size_t *nproof)
{
    uint64_t lo = 0;
    uint64_t hi = size;
    size_t n = 0;

    if (index >= size) {
        return ECL_ERR_INVALID;
    }
    /* RFC 9162 2.1.3.1 PATH(m, D[n]), built from the root down and reversed at the end */
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);
        if (n >= cap) {
            return ECL_ERR_LIMIT;
        }
        if (index < lo + k) {
            ECL_GUARD(range_hash(get, arg, lo + k, hi, proof[n]));
            hi = lo + k;
        } else {
            ECL_GUARD(range_hash(get, arg, lo, lo + k, proof[n]));
            lo += k;
        }
        n++;
    }
    reverse(proof, n);
    *nproof = n;
    return ECL_OK;
}

enum ecl_status
ecl_merkle_consistency_proof(uint64_t size1, uint64_t size2, ecl_merkle_get_fn get, void *arg,
                             uint8_t (*proof)[ECL_HASH_LEN], size_t cap, size_t *nproof)
{
    uint64_t lo = 0;
    uint64_t hi = size2;
    uint64_t m = size1;
    int whole = 1; /* b in SUBPROOF: the old tree is the whole subtree so far */
    size_t n = 0;

    if (size1 == 0 || size1 > size2) {
        return ECL_ERR_INVALID;
    }
    /* RFC 9162 2.1.4.1 SUBPROOF(m, D[n], b) */
    for (;;) {
        uint64_t k;
        if (n >= cap) {
            return ECL_ERR_LIMIT;
        }
        if (m == hi - lo) {
            if (!whole) {
                ECL_GUARD(range_hash(get, arg, lo, hi, proof[n]));
                n++;
            }
            break;
        }
        k = split_point(hi - lo);
        if (m <= k) {
            ECL_GUARD(range_hash(get, arg, lo + k, hi, proof[n]));
            hi = lo + k;
        } else {
            ECL_GUARD(range_hash(get, arg, lo, lo + k, proof[n]));
            lo += k;
            m -= k;
            whole = 0;
        }
        n++;
    }
    reverse(proof, n);
    *nproof = n;
    return ECL_OK;
}

enum ecl_status
ecl_merkle_root(uint64_t size, ecl_merkle_get_fn get, void *arg, uint8_t out[ECL_HASH_LEN])
{
    if (size == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return ECL_OK;
    }
    return range_hash(get, arg, 0, size, out);
}

enum ecl_status
ecl_merkle_verify_inclusion(const uint8_t leaf_hash[ECL_HASH_LEN], uint64_t index, uint64_t size,
                            const uint8_t (*proof)[ECL_HASH_LEN], size_t nproof,
                            const uint8_t root[ECL_HASH_LEN])
{
    uint8_t r[ECL_HASH_LEN];
    uint64_t fn = index;
    uint64_t sn;

    /* RFC 9162 2.1.3.2 */
    if (index >= size) {
        return ECL_ERR_CRYPTO;
    }
    sn = size - 1;
    memcpy(r, leaf_hash, ECL_HASH_LEN);
    for (size_t i = 0; i < nproof; i++) {
        if (sn == 0) {
            return ECL_ERR_CRYPTO;
        }
        if ((fn & 1) != 0 || fn == sn) {
            ecl_merkle_node_hash(proof[i], r, r);
            while ((fn & 1) == 0 && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            ecl_merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || !ecl_crypto_equal(r, root, ECL_HASH_LEN)) {
        return ECL_ERR_CRYPTO;
    }
    return ECL_OK;
}

enum ecl_status
ecl_merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t root1[ECL_HASH_LEN],
                              const uint8_t root2[ECL_HASH_LEN],
                              const uint8_t (*proof)[ECL_HASH_LEN], size_t nproof)
{
    uint8_t fr[ECL_HASH_LEN];
    uint8_t sr[ECL_HASH_LEN];
    uint64_t fn;
    uint64_t sn;
    size_t i = 0;

    if (size1 > size2) {
        return ECL_ERR_CRYPTO;
    }
    if (size1 == size2) {
        return nproof == 0 && ecl_crypto_equal(root1, root2, ECL_HASH_LEN) ? ECL_OK
                                                                           : ECL_ERR_CRYPTO;
    }
    if (size1 == 0) {
        return nproof == 0 ? ECL_OK : ECL_ERR_CRYPTO;
    }
    /* RFC 9162 2.1.4.2 */
    if (nproof == 0) {
        return ECL_ERR_CRYPTO;
    }
    fn = size1 - 1;
    sn = size2 - 1;
    if ((size1 & (size1 - 1)) == 0) {
        /* step 1: an exact power of two: the old root is the first hash of the path */
        memcpy(fr, root1, ECL_HASH_LEN);
    } else {
        memcpy(fr, proof[0], ECL_HASH_LEN);
        i = 1;
    }
    memcpy(sr, fr, ECL_HASH_LEN);
    while ((fn & 1) != 0) {
        fn >>= 1;
        sn >>= 1;
    }
    for (; i < nproof; i++) {
        if (sn == 0) {
            return ECL_ERR_CRYPTO;
        }
        if ((fn & 1) != 0 || fn == sn) {
            ecl_merkle_node_hash(proof[i], fr, fr);
            ecl_merkle_node_hash(proof[i], sr, sr);
            while ((fn & 1) == 0 && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            ecl_merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || !ecl_crypto_equal(fr, root1, ECL_HASH_LEN) ||
        !ecl_crypto_equal(sr, root2, ECL_HASH_LEN)) {
        return ECL_ERR_CRYPTO;
    }
    return ECL_OK;
}
