/* The compiled policy in force, published to request threads without a lock on the read path.
 *
 * Readers: ecl_policy_holder_acquire takes a reference to the current snapshot (two atomic
 * operations and a re-check, no lock, no allocation); ecl_policy_holder_release drops it.  A
 * request uses one snapshot from start to end, so it never sees half of two policies.
 * Writer: ecl_policy_holder_publish swaps in a new snapshot (writers are serialised by a mutex
 * that readers never touch).
 *
 * Memory reclamation (docs/policy.md, "Publishing a new version"): each snapshot has a
 * reference count.  A reader increments the count of the snapshot it loaded, then checks that
 * it is still current; if not, it drops the reference and retries.  A retired snapshot's
 * compiled policy is freed as soon as its count is zero (by the publisher, or by the last
 * reader to release it).  The small snapshot header itself (about 120 bytes) is kept until
 * ecl_policy_holder_free, because a reader that lost the race may still increment and
 * decrement its count after the policy is gone: the memory held is therefore bounded by the
 * number of activations, not by the size of the retired policies. */
#ifndef ECL_POLICY_HOLDER_H
#define ECL_POLICY_HOLDER_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/crypto.h"
#include "ecl/policy.h"
#include "ecl/status.h"

/* What a reader sees; read-only, valid until ecl_policy_holder_release. */
struct ecl_policy_view {
    const struct ecl_policy *policy;
    uint64_t version;
    char hash[2 * ECL_HASH_LEN + 1];
};

struct ecl_policy_holder; /* opaque */

enum ecl_status ecl_policy_holder_new(struct ecl_policy_holder **out) ECL_WUR;
/* Frees every snapshot and policy.  No reader may hold a reference any more. */
void ecl_policy_holder_free(struct ecl_policy_holder *h);

/* Publishes policy (taken: the holder frees it, also on failure) as the current snapshot.
 * hash is the version's content hash (hex).  Thread-safe. */
enum ecl_status ecl_policy_holder_publish(struct ecl_policy_holder *h, struct ecl_policy *policy,
                                          uint64_t version, const char *hash) ECL_WUR;

/* The current snapshot with a reference taken, or NULL when nothing was published yet.
 * Lock-free; thread-safe.  Every non-NULL result must be released exactly once. */
const struct ecl_policy_view *ecl_policy_holder_acquire(struct ecl_policy_holder *h);
void ecl_policy_holder_release(struct ecl_policy_holder *h, const struct ecl_policy_view *v);

/* Snapshots published so far, and compiled policies still allocated (current + retired ones
 * that a reader still holds).  For tests and /metrics. */
void ecl_policy_holder_stats(struct ecl_policy_holder *h, size_t *published, size_t *live);

#endif
