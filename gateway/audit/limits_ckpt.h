/* Internal to gateway/audit/: the writer's side of the rate-limit checkpoint (limits_ckpt.c). */
#ifndef ECL_AUDIT_LIMITS_CKPT_H
#define ECL_AUDIT_LIMITS_CKPT_H

#include <stdint.h>

#include "audit.h"
#include "ecl/buf.h"

/* The key of the checkpoint row in the audit meta table (next to "size"). */
#define ECL_AUDIT_LIMITS_META_KEY "limits"

/* Drops the keys that can only count again from zero: day over and window ended at the latest
 * request merged. */
void ecl_audit_limits_prune(struct ecl_audit_limits *t);
/* Appends the sealed checkpoint of t, covering the entries with seq < next, to out. */
enum ecl_status ecl_audit_limits_seal(const struct ecl_keyring *kr,
                                      const struct ecl_audit_limits *t, uint64_t next,
                                      struct ecl_buf *out) ECL_WUR;

#endif
