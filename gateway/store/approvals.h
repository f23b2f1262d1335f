/* Four-eyes approvals (docs/dpo-guide.md, "Four eyes"): the `approvals` database of the records
 * environment holds one JSON object per request that waits for, or received, a second DPO's
 * decision:
 *   id (ECL_APPROVAL_ID_LEN random bytes) -> {"kind", "state", "requester", "requester_name",
 *     "approver", "approver_name", "created", "expires", "decided", "base_hash", "payload"}
 * payload is what the request carries: the proposed policy document (kind policy) or the
 * re-identification request (kind reidentify: token, domain names, justification).  A revealed
 * identifier is never stored.  State changes are compare-and-set in one write transaction, so
 * an approval is decided once and used once.  Thread-safe like the store. */
#ifndef ECL_APPROVALS_H
#define ECL_APPROVALS_H

#include <stddef.h>
#include <stdint.h>

#include "ecl/buf.h"
#include "ecl/crypto.h"
#include "ecl/limits.h"
#include "ecl/status.h"
#include "store.h"

enum ecl_approval_kind {
    ECL_APPROVAL_POLICY = 0, /* a new policy version, activated on approval */
    ECL_APPROVAL_REIDENTIFY, /* a token reversal, revealed to the requester after approval */
};
#define ECL_APPROVAL_KIND_COUNT 2

enum ecl_approval_state {
    ECL_APPROVAL_PENDING = 0, /* waiting for a second DPO */
    ECL_APPROVAL_APPROVED,    /* approved; a re-identification waits for its requester */
    ECL_APPROVAL_REJECTED,    /* rejected by a second DPO */
    ECL_APPROVAL_DONE,        /* executed: policy activated, or identifier revealed once */
    ECL_APPROVAL_FAILED,      /* approved but could not be executed (stale policy, bad token) */
    ECL_APPROVAL_EXPIRED,     /* never stored: what a pending / approved one is after expires */
};
#define ECL_APPROVAL_STATE_COUNT 6

struct ecl_approval {
    char id[2 * ECL_APPROVAL_ID_LEN + 1]; /* lowercase hex */
    enum ecl_approval_kind kind;
    enum ecl_approval_state state; /* as stored; see ecl_approval_state_at */
    char requester[2 * ECL_PRINCIPAL_ID_LEN + 1];
    char requester_name[ECL_NAME_MAX_LEN + 1];
    char approver[2 * ECL_PRINCIPAL_ID_LEN + 1]; /* "" until decided */
    char approver_name[ECL_NAME_MAX_LEN + 1];
    int64_t created;                      /* seconds since the epoch */
    int64_t expires;                      /* created + ECL_APPROVAL_TTL_S */
    int64_t decided;                      /* 0 until decided */
    char base_hash[2 * ECL_HASH_LEN + 1]; /* kind policy: the active hash it was based on */
};

const char *ecl_approval_kind_name(enum ecl_approval_kind k);
const char *ecl_approval_state_name(enum ecl_approval_state s);
/* The state at time now: PENDING and APPROVED become EXPIRED at a->expires. */
enum ecl_approval_state ecl_approval_state_at(const struct ecl_approval *a, int64_t now);

/* Stores a new approval in state PENDING with a fresh random id, created = now and expires =
 * now + ECL_APPROVAL_TTL_S (kind, requester, requester_name, base_hash taken from *a; payload
 * copied).  Finished approvals older than ECL_APPROVAL_RETAIN_S are deleted in the same
 * transaction; ECL_ERR_LIMIT when ECL_APPROVALS_MAX are still kept.  *out is the stored row. */
enum ecl_status ecl_approval_create(struct ecl_store *s, const struct ecl_approval *a,
                                    const char *payload, size_t payload_len, int64_t now,
                                    struct ecl_approval *out) ECL_WUR;

/* One approval by its hex id; payload (optional) gets its payload appended.
 * ECL_ERR_NOT_FOUND for an unknown or malformed id. */
enum ecl_status ecl_approval_get(struct ecl_store *s, const char *id, struct ecl_approval *out,
                                 struct ecl_buf *payload) ECL_WUR;

/* Compare-and-set: moves approval id from state `from` to `to` at time now, if it is in state
 * `from` and not expired (ECL_ERR_CONFLICT otherwise).  approver / approver_name (may be NULL)
 * are recorded with decided = now.  *out (optional) is the updated row. */
enum ecl_status ecl_approval_transition(struct ecl_store *s, const char *id,
                                        enum ecl_approval_state from, enum ecl_approval_state to,
                                        const char *approver, const char *approver_name,
                                        int64_t now, struct ecl_approval *out) ECL_WUR;

/* Calls fn for every approval (in id order) inside one read transaction; fn must not call the
 * store.  A non-OK status from fn stops the walk and is returned. */
typedef enum ecl_status (*ecl_approval_fn)(void *arg, const struct ecl_approval *a);
enum ecl_status ecl_approval_list(struct ecl_store *s, ecl_approval_fn fn, void *arg) ECL_WUR;

#endif
