/* The compiled form of a policy, shared by the files of policy/ only.  Every string points into
 * the policy's own JSON document (doc), which is never modified after parsing. */
#ifndef ECL_POLICY_INTERNAL_H
#define ECL_POLICY_INTERNAL_H

#include <stdint.h>

#include "ecl/policy.h"

enum cond_op {
    COND_EQ = 0,
    COND_IN,
    COND_RANGE,
    COND_PREFIX,
};

struct cond {
    const char *field;
    enum ecl_field_type type;
    enum cond_op op;
    const json_t *value; /* EQ: the value; IN: the array of values */
    const json_t *min;   /* RANGE: inclusive bounds, either may be NULL */
    const json_t *max;
    const char *prefix; /* PREFIX */
    size_t prefix_len;
};

struct purpose {
    const char *id;
    const char *description;
    enum ecl_legal_basis basis;
    struct ecl_obligations ob;
    const json_t *ob_json;
};

struct agent {
    const char *id;
    const json_t *src;
    size_t *purposes; /* indexes into policy->purposes */
    size_t npurposes;
    unsigned require; /* enum ecl_fact_flags that must be present */
};

struct ecl_policy_rule {
    const char *id;
    const json_t *src;
    size_t purpose;
    const char *purpose_id;
    const char *dataset;
    int64_t not_before; /* INT64_MIN when absent */
    int64_t not_after;  /* INT64_MAX when absent; the window is closed: [not_before, not_after] */
    struct ecl_policy_limits limits;
    struct ecl_plan_field *fields;
    size_t nfields;
    struct cond *conds;
    size_t nconds;
};

/* The rules of one (agent, purpose, dataset), sorted by not_before; their windows never
 * overlap (the validator refuses that), so at most one applies at any time. */
struct triple {
    size_t agent;
    size_t purpose;
    const char *dataset;
    uint64_t hash;
    size_t *rules;
    size_t nrules;
};

/* Open addressing; slot value = index + 1, 0 = empty. */
struct htab {
    uint64_t *hashes;
    uint32_t *slots;
    size_t mask;
};

struct ecl_policy {
    json_t *doc;
    char *canonical;
    size_t canonical_len;
    unsigned four_eyes;
    struct purpose *purposes;
    size_t npurposes;
    struct agent *agents;
    size_t nagents;
    struct ecl_policy_rule *rules;
    size_t nrules;
    struct triple *triples;
    size_t ntriples;
    struct htab h_purposes;
    struct htab h_agents;
    struct htab h_triples;
};

uint64_t ecl_policy_hash_str(uint64_t h, const char *s);
uint64_t ecl_policy_hash_u64(uint64_t h, uint64_t v);
#define ECL_POLICY_HASH_SEED 0xcbf29ce484222325ULL

/* Index of the purpose / agent with this id, or -1. */
long ecl_policy_find_purpose(const struct ecl_policy *p, const char *id);
long ecl_policy_find_agent(const struct ecl_policy *p, const char *id);
/* The triple, or NULL. */
const struct triple *ecl_policy_find_triple(const struct ecl_policy *p, size_t agent,
                                            size_t purpose, const char *dataset);

#endif
