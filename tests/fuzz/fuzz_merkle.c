/* libFuzzer target for the Merkle proof verifiers (crypto/merkle.c, RFC 9162 2.1.3.2 and
 * 2.1.4.2) with fuzzed proofs against real trees.  A tree of n leaves (1..64, leaf i = the byte
 * i) is built; the input gives n, the leaf index or the two sizes, and the proof hashes.  An
 * accepted inclusion proof must be for the real leaf at that index of the real tree; an accepted
 * consistency proof must join the real roots of both sizes.  The genuine proofs must verify. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecl/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAXN = 64 };

struct tree {
    uint64_t n;
    uint8_t root[MAXN + 1][ECL_HASH_LEN]; /* root of the first k leaves */
    struct ecl_merkle_node nodes[2 * MAXN];
    size_t nnodes;
};

static struct tree T;

static enum ecl_status
get(void *arg, unsigned level, uint64_t index, uint8_t out[ECL_HASH_LEN])
{
    const struct tree *t = arg;

    for (size_t i = 0; i < t->nnodes; i++) {
        if (t->nodes[i].level == level && t->nodes[i].index == index) {
            memcpy(out, t->nodes[i].hash, ECL_HASH_LEN);
            return ECL_OK;
        }
    }
    return ECL_ERR_NOT_FOUND;
}

static void
build(uint64_t n)
{
    struct ecl_merkle_frontier f;
    struct ecl_merkle_node done[ECL_MERKLE_MAX_DEPTH + 1];

    memset(&T, 0, sizeof T);
    ecl_merkle_frontier_init(&f);
    ecl_merkle_frontier_root(&f, T.root[0]);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t leaf = (uint8_t)i;
        uint8_t h[ECL_HASH_LEN];
        size_t k = 0;

        ecl_merkle_leaf_hash(&leaf, 1, h);
        if (ecl_merkle_frontier_append(&f, h, done, &k) != ECL_OK) {
            abort();
        }
        for (size_t j = 0; j < k; j++) {
            T.nodes[T.nnodes++] = done[j];
        }
        ecl_merkle_frontier_root(&f, T.root[i + 1]);
    }
    T.n = n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t proof[ECL_MERKLE_MAX_DEPTH + 2][ECL_HASH_LEN];
    uint8_t good[ECL_MERKLE_MAX_DEPTH][ECL_HASH_LEN];
    uint8_t leaf_hash[ECL_HASH_LEN];
    size_t nproof;
    size_t ngood = 0;
    uint64_t a;
    uint64_t b;
    uint8_t leaf;

    if (size < 4) {
        return 0;
    }
    build(1 + data[1] % MAXN);
    a = data[2];
    b = data[3];
    nproof = (size - 4) / ECL_HASH_LEN;
    if (nproof > ECL_MERKLE_MAX_DEPTH + 2) {
        nproof = ECL_MERKLE_MAX_DEPTH + 2;
    }
    memcpy(proof, data + 4, nproof * ECL_HASH_LEN);
    if ((data[0] & 1) == 0) {
        /* inclusion of leaf (b) at index a in the tree of T.n leaves */
        leaf = (uint8_t)b;
        ecl_merkle_leaf_hash(&leaf, 1, leaf_hash);
        if (ecl_merkle_verify_inclusion(leaf_hash, a, T.n, (const uint8_t(*)[ECL_HASH_LEN])proof,
                                        nproof, T.root[T.n]) == ECL_OK &&
            (a >= T.n || b != a)) {
            abort(); /* a forged inclusion proof */
        }
        if (a < T.n) {
            leaf = (uint8_t)a;
            ecl_merkle_leaf_hash(&leaf, 1, leaf_hash);
            if (ecl_merkle_inclusion_proof(a, T.n, get, &T, good, ECL_MERKLE_MAX_DEPTH, &ngood) !=
                    ECL_OK ||
                ecl_merkle_verify_inclusion(leaf_hash, a, T.n, (const uint8_t(*)[ECL_HASH_LEN])good,
                                            ngood, T.root[T.n]) != ECL_OK) {
                abort(); /* the genuine proof must verify */
            }
        }
        return 0;
    }
    /* consistency from size a to size b (both at most T.n for real roots) */
    if (a > T.n || b > T.n) {
        return 0;
    }
    if (ecl_merkle_verify_consistency(a, b, T.root[a], T.root[b],
                                      (const uint8_t(*)[ECL_HASH_LEN])proof, nproof) == ECL_OK &&
        a > b) {
        abort();
    }
    /* the same proof must never join a real root to a forged one (from size 0 every tree is an
     * extension: RFC 9162 2.1.4.2 accepts any root2 with an empty proof) */
    if (a > 0 && b > 0) {
        uint8_t forged[ECL_HASH_LEN];

        memcpy(forged, T.root[b], ECL_HASH_LEN);
        forged[data[0] % ECL_HASH_LEN] ^= 0x80;
        if (ecl_merkle_verify_consistency(
                a, b, T.root[a], forged, (const uint8_t(*)[ECL_HASH_LEN])proof, nproof) == ECL_OK) {
            abort();
        }
    }
    if (a > 0 && a <= b) {
        if (ecl_merkle_consistency_proof(a, b, get, &T, good, ECL_MERKLE_MAX_DEPTH, &ngood) !=
                ECL_OK ||
            ecl_merkle_verify_consistency(a, b, T.root[a], T.root[b],
                                          (const uint8_t(*)[ECL_HASH_LEN])good, ngood) != ECL_OK) {
            abort();
        }
    }
    return 0;
}
