/* The policy engine (docs/policy.md): parse and validate a DPO's policy document against the
 * dataset schemas, compile it into an immutable object with hashed look-ups, and evaluate
 * requests against it.  Pure: no I/O, no clock (the time is a parameter), no randomness.
 *
 * Lifetime: a compiled policy is immutable from ecl_policy_parse until ecl_policy_free; any
 * number of threads may call the const functions on it at the same time.  Decisions and plans
 * borrow from the policy: they are valid while the policy lives. */
#ifndef ECL_POLICY_H
#define ECL_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ecl/action.h"
#include "ecl/diag.h"
#include "ecl/schema.h"
#include "ecl/status.h"

struct ecl_policy;      /* opaque, immutable */
struct ecl_policy_rule; /* opaque, one rule of a compiled policy */

/* Why a request or a row was allowed or refused.  The names are stable machine-readable codes
 * (API problem details, audit entries); never renumber, append only. */
enum ecl_policy_reason {
    ECL_REASON_OK = 0,
    ECL_REASON_UNKNOWN_AGENT,
    ECL_REASON_UNKNOWN_PURPOSE,
    ECL_REASON_PURPOSE_NOT_ALLOWED_FOR_AGENT,
    ECL_REASON_ON_BEHALF_OF_REQUIRED,
    ECL_REASON_CASE_ID_REQUIRED,
    ECL_REASON_NO_RULE,
    ECL_REASON_OUTSIDE_VALIDITY_WINDOW,
    ECL_REASON_OBJECTION,
    ECL_REASON_ROW_CONDITION,
};
#define ECL_REASON_COUNT 10

/* "ok", "unknown_agent", ... (never NULL). */
const char *ecl_policy_reason_name(enum ecl_policy_reason r);
/* A plain sentence for the agent; never names a record value (never NULL). */
const char *ecl_policy_reason_text(enum ecl_policy_reason r);

enum ecl_policy_effect {
    ECL_POLICY_DENY = 0, /* the default */
    ECL_POLICY_ALLOW,
};

/* GDPR Art. 6(1) lawful bases. */
enum ecl_legal_basis {
    ECL_BASIS_ART6_1_A = 0, /* consent */
    ECL_BASIS_ART6_1_B,     /* contract */
    ECL_BASIS_ART6_1_C,     /* legal obligation */
    ECL_BASIS_ART6_1_D,     /* vital interests */
    ECL_BASIS_ART6_1_E,     /* public task */
    ECL_BASIS_ART6_1_F,     /* legitimate interests */
};
#define ECL_BASIS_COUNT 6

/* What the agent commits to with every answer of a purpose. */
struct ecl_obligations {
    int no_training;           /* the data may not be used to train a model */
    int no_onward_transfer;    /* the data may not be passed to a third party */
    uint32_t retain_max_hours; /* 0 = not stated */
};

struct ecl_policy_limits {
    uint32_t records_per_request;
    uint32_t requests_per_minute; /* per agent */
    uint32_t records_per_day;     /* per agent */
};

/* One granted field: its name, its index in the dataset's schema, and what happens to it. */
struct ecl_plan_field {
    const char *name;
    size_t schema_index;
    struct ecl_action action;
};

/* Policy-wide four-eyes settings. */
enum ecl_four_eyes {
    ECL_FOUR_EYES_NONE = 0,
    ECL_FOUR_EYES_POLICY = 1 << 0,     /* a policy change needs a second DPO's approval */
    ECL_FOUR_EYES_REIDENTIFY = 1 << 1, /* a re-identification (token reversal) too */
};

/* The facts of a request. */
enum ecl_fact_flags {
    ECL_FACT_NONE = 0,
    ECL_FACT_ON_BEHALF_OF = 1 << 0, /* an acting official is named (On-Behalf-Of) */
    ECL_FACT_CASE_ID = 1 << 1,      /* a case reference is given */
};

struct ecl_policy_facts {
    const char *agent;   /* principal name */
    const char *purpose; /* declared purpose id */
    const char *dataset;
    unsigned flags; /* enum ecl_fact_flags */
    int64_t now;    /* seconds since the Unix epoch, UTC */
};

/* The answer to a request.  Everything it points at borrows from the policy.  On a denial,
 * nfields is 0 and fields, obligations and obligations_json are NULL. */
struct ecl_decision {
    enum ecl_policy_effect effect;
    enum ecl_policy_reason reason;
    const char *rule_id; /* the matching rule (also set for outside_validity_window), or NULL */
    const struct ecl_plan_field *fields; /* granted fields only, in schema order */
    size_t nfields;
    struct ecl_policy_limits limits;
    const struct ecl_obligations *obligations;
    const json_t *obligations_json; /* the purpose's obligations object, to return to the agent */
    const struct ecl_policy_rule *rule; /* for ecl_policy_row_check */
};

/* Parses, validates and compiles a policy document (UTF-8 JSON, at most ECL_POLICY_MAX_BYTES)
 * against the given dataset schemas (borrowed for the duration of the call only).  Duplicate and
 * unknown keys, dangling references, actions that do not fit a field's type and ambiguous rules
 * are refused; each problem is added to diags with its JSON pointer.  All or nothing: on
 * success *out is a new policy (ecl_policy_free); otherwise ECL_ERR_INVALID, ECL_ERR_LIMIT or
 * ECL_ERR_NOMEM and *out is untouched. */
enum ecl_status ecl_policy_parse(const char *json, size_t len,
                                 const struct ecl_schema *const *schemas, size_t nschemas,
                                 struct ecl_diags *diags, struct ecl_policy **out) ECL_WUR;
void ecl_policy_free(struct ecl_policy *p);

/* The canonical form (keys sorted, compact, UTF-8): what a version's content hash is computed
 * over.  Borrowed; NUL-terminated; *len gets its length. */
const char *ecl_policy_canonical(const struct ecl_policy *p, size_t *len);
/* The document (borrowed, read-only). */
const json_t *ecl_policy_json(const struct ecl_policy *p);
/* enum ecl_four_eyes flags. */
unsigned ecl_policy_four_eyes(const struct ecl_policy *p);
size_t ecl_policy_rule_count(const struct ecl_policy *p);

/* Decides a request.  Default deny: *out is always written.  Cost: three hash look-ups and a
 * scan of the rules of this (agent, purpose, dataset) only.  Thread-safe. */
void ecl_policy_eval(const struct ecl_policy *p, const struct ecl_policy_facts *facts,
                     struct ecl_decision *out);

/* Decides one row of an allowed decision: ECL_REASON_OBJECTION when the subject objected to the
 * decision's purpose (objected: the subject's objected purpose ids, borrowed), then
 * ECL_REASON_ROW_CONDITION when a condition of the rule does not hold on record (a JSON object
 * of field name -> value; a missing or null field fails every condition), else ECL_REASON_OK.
 * A denied decision gives ECL_REASON_NO_RULE.  Thread-safe. */
enum ecl_policy_reason ecl_policy_row_check(const struct ecl_decision *d, const json_t *record,
                                            const char *const *objected, size_t nobjected);

/* What an agent may see: for each purpose it may invoke (or only `purpose` when not NULL), its
 * legal basis, obligations and requirements, and each rule's dataset, fields and actions,
 * conditions, limits and validity window.  *out is a new JSON object (json_decref).
 * ECL_ERR_NOT_FOUND when the agent is unknown or may not invoke the purpose. */
enum ecl_status ecl_policy_explain(const struct ecl_policy *p, const char *agent,
                                   const char *purpose, json_t **out) ECL_WUR;

/* Action helpers. */
const char *ecl_action_kind_name(enum ecl_action_kind k);
/* The action as it is written in a policy document (new JSON object, NULL on no memory). */
json_t *ecl_action_to_json(const struct ecl_action *a);

/* Parses an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SSZ" into seconds since the epoch; 1 when
 * valid. */
int ecl_rfc3339_parse(const char *s, size_t len, int64_t *out);
/* Formats seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ" (out holds 21 bytes); 0 when the
 * time is outside years 0001-9999. */
int ecl_rfc3339_format(int64_t t, char out[21]);

#endif
