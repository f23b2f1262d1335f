/* Policy engine throughput: decisions per second on a generated policy of 50 agents, 20
 * purposes and 3 datasets.  Also writes the same policy as a Cedar policy set and the same
 * requests with the engine's decisions, so that bench/cedar/bench.mjs can check that Cedar
 * decides identically and time it (bench/policy.sh runs both and prints the ratio).
 *
 *   bench_policy OUTDIR [SECONDS]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assets.h"
#include "ecl/policy.h"

enum { AGENTS = 50, PURPOSES = 20, PURPOSES_PER_AGENT = 5, REQUESTS = 4096 };

static const char housing_schema[] =
    "{\"name\":\"housing\",\"subject_id\":\"nir\",\"fields\":["
    "{\"name\":\"nir\",\"type\":\"string\",\"classification\":\"identifier\"},"
    "{\"name\":\"tenant_name\",\"type\":\"string\",\"classification\":\"identifier\"},"
    "{\"name\":\"address\",\"type\":\"string\",\"classification\":\"identifier\"},"
    "{\"name\":\"postcode\",\"type\":\"string\",\"classification\":\"quasi_identifier\"},"
    "{\"name\":\"moved_in\",\"type\":\"date\",\"classification\":\"quasi_identifier\"},"
    "{\"name\":\"rent\",\"type\":\"integer\",\"classification\":\"sensitive\"},"
    "{\"name\":\"rooms\",\"type\":\"integer\",\"classification\":\"quasi_identifier\"},"
    "{\"name\":\"social_housing\",\"type\":\"boolean\",\"classification\":\"sensitive\"},"
    "{\"name\":\"landlord\",\"type\":\"string\",\"classification\":\"public\"},"
    "{\"name\":\"phone\",\"type\":\"string\",\"classification\":\"identifier\"},"
    "{\"name\":\"arrears\",\"type\":\"number\",\"classification\":\"sensitive\"}]}";

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t
next_rand(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

/* An action that fits the field (10 fields per rule, mixed like the demo's benchmark rule). */
static json_t *
action_for(const struct ecl_field *f, size_t k)
{
    switch (f->type) {
    case ECL_FT_STRING:
        if (k % 3 == 0) {
            return json_pack("{s:s,s:s}", "action", "pseudonymize", "domain", "agent_purpose");
        }
        if (k % 3 == 1) {
            return json_pack("{s:s,s:i}", "action", "mask", "keep_last", 2);
        }
        return json_string("allow");
    case ECL_FT_DATE:
        return json_pack("{s:s,s:s,s:i}", "action", "generalize", "to", "age_band", "width", 10);
    case ECL_FT_INTEGER:
    case ECL_FT_NUMBER:
        return json_pack("{s:s,s:s,s:i}", "action", "generalize", "to", "bucket", "width", 100);
    case ECL_FT_BOOLEAN:
    case ECL_FT_ENUM:
        return json_string("allow");
    }
    return json_string("redact");
}

static void
die(const char *what)
{
    fprintf(stderr, "bench_policy: %s\n", what);
    exit(1);
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    static const int64_t nb = 1735689600; /* 2025-01-01T00:00:00Z */
    static const int64_t na = 1798761599; /* 2026-12-31T23:59:59Z */
    struct ecl_schema *schemas[3];
    struct ecl_diags d;
    struct ecl_policy *p = NULL;
    json_t *doc = json_object();
    json_t *purposes = json_array();
    json_t *agents = json_array();
    json_t *rules = json_array();
    json_t *cedar = json_object();
    json_t *reqs = json_array();
    struct ecl_policy_facts facts[REQUESTS];
    char agent_ids[AGENTS + 2][16];
    char purpose_ids[PURPOSES][16];
    unsigned require[AGENTS] = {0};
    char path[4096];
    char *text;
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    size_t nrules = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: bench_policy OUTDIR [SECONDS]\n");
        return 64;
    }
    ecl_diags_init(&d);
    if (ecl_schema_parse(ecl_asset_citizens_schema, ecl_asset_citizens_schema_len, &d,
                         &schemas[0]) != ECL_OK ||
        ecl_schema_parse(ecl_asset_benefits_schema, ecl_asset_benefits_schema_len, &d,
                         &schemas[1]) != ECL_OK ||
        ecl_schema_parse(housing_schema, strlen(housing_schema), &d, &schemas[2]) != ECL_OK) {
        die("schemas");
    }

    /* ---- the generated policy, in both languages ---- */
    json_object_set_new(doc, "format", json_integer(1));
    for (int i = 0; i < PURPOSES; i++) {
        snprintf(purpose_ids[i], sizeof purpose_ids[i], "purpose%02d", i);
        json_array_append_new(purposes,
                              json_pack("{s:s,s:s,s:s,s:{s:b,s:i}}", "id", purpose_ids[i],
                                        "description", "generated", "legal_basis", "art6_1_e",
                                        "obligations", "no_training", 1, "retain_max_hours", 24));
    }
    for (int a = 0; a < AGENTS + 2; a++) {
        snprintf(agent_ids[a], sizeof agent_ids[a], "agent%02d", a); /* 50, 51: unknown */
    }
    for (int a = 0; a < AGENTS; a++) {
        json_t *ps = json_array();
        require[a] = (a % 5 == 1 ? ECL_FACT_ON_BEHALF_OF : 0) | (a % 7 == 2 ? ECL_FACT_CASE_ID : 0);
        for (int k = 0; k < PURPOSES_PER_AGENT; k++) {
            int pu = (a + k * 7) % PURPOSES;
            json_array_append_new(ps, json_string(purpose_ids[pu]));
            for (int ds = 0; ds < 3; ds++) {
                const struct ecl_schema *s = schemas[ds];
                json_t *fields = json_object();
                json_t *rule;
                char rid[128];
                char cond[256];
                char ctext[2048];
                int windowed = (a + k + ds) % 4 == 0;

                if ((a + k + ds) % 3 == 0) {
                    continue; /* no rule: default deny */
                }
                for (size_t f = 0; f < 10 && f < s->nfields; f++) {
                    json_object_set_new(fields, s->fields[f].name, action_for(&s->fields[f], f));
                }
                snprintf(rid, sizeof rid, "r-%s-%s-%s", agent_ids[a], purpose_ids[pu], s->name);
                rule = json_pack("{s:s,s:[s],s:s,s:s,s:o,s:{s:i,s:i,s:i}}", "id", rid, "agents",
                                 agent_ids[a], "purpose", purpose_ids[pu], "dataset", s->name,
                                 "fields", fields, "limits", "records_per_request", 100,
                                 "requests_per_minute", 600, "records_per_day", 100000);
                if (windowed) {
                    json_object_set_new(rule, "valid",
                                        json_pack("{s:s,s:s}", "not_before", "2025-01-01T00:00:00Z",
                                                  "not_after", "2026-12-31T23:59:59Z"));
                }
                json_array_append_new(rules, rule);
                nrules++;
                /* the same rule in Cedar: principal, purpose as the action, dataset as the
                 * resource; requirements and window as conditions on the context */
                snprintf(cond, sizeof cond, "true%s%s%s",
                         (require[a] & ECL_FACT_ON_BEHALF_OF) ? " && context.obo" : "",
                         (require[a] & ECL_FACT_CASE_ID) ? " && context.case_id" : "",
                         windowed ? " && context.now >= 1735689600 && context.now <= 1798761599"
                                  : "");
                snprintf(ctext, sizeof ctext,
                         "permit (principal == Agent::\"%s\", action == Action::\"%s\", "
                         "resource == Dataset::\"%s\") when { %s };",
                         agent_ids[a], purpose_ids[pu], s->name, cond);
                json_object_set_new(cedar, rid, json_string(ctext));
            }
        }
        json_array_append_new(
            agents, json_pack("{s:s,s:s,s:s,s:o,s:b,s:b}", "id", agent_ids[a], "description",
                              "generated", "organisation", "bench", "purposes", ps,
                              "require_on_behalf_of", (require[a] & ECL_FACT_ON_BEHALF_OF) != 0,
                              "require_case_id", (require[a] & ECL_FACT_CASE_ID) != 0));
    }
    json_object_set_new(doc, "purposes", purposes);
    json_object_set_new(doc, "agents", agents);
    json_object_set_new(doc, "rules", rules);
    text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL) {
        die("no memory");
    }
    ecl_diags_init(&d);
    if (ecl_policy_parse(text, strlen(text), (const struct ecl_schema *const *)schemas, 3, &d,
                         &p) != ECL_OK) {
        for (size_t i = 0; i < d.n; i++) {
            fprintf(stderr, "%s: %s\n", d.items[i].path, d.items[i].reason);
        }
        die("the generated policy does not validate");
    }
    free(text);

    /* ---- requests: every agent (and two unknown ones), purpose, dataset, flags, time ---- */
    size_t allowed = 0;
    for (int i = 0; i < REQUESTS; i++) {
        struct ecl_decision dec;
        int a = (int)(next_rand() % (AGENTS + 2));
        int pu = (int)(next_rand() % PURPOSES);
        int ds = (int)(next_rand() % 3);
        unsigned flags = (unsigned)(next_rand() % 4);
        /* bias towards the agent's own purposes so that about half are allowed */
        if (a < AGENTS && next_rand() % 4 != 0) {
            pu = (a + (int)(next_rand() % PURPOSES_PER_AGENT) * 7) % PURPOSES;
            flags |= next_rand() % 4 != 0 ? require[a] : 0;
        }
        facts[i] = (struct ecl_policy_facts){agent_ids[a], purpose_ids[pu], schemas[ds]->name,
                                             flags, next_rand() % 3 == 0 ? na + 86400 : nb + 1};
        ecl_policy_eval(p, &facts[i], &dec);
        allowed += dec.effect == ECL_POLICY_ALLOW;
        json_array_append_new(
            reqs, json_pack("{s:s,s:s,s:s,s:{s:b,s:b,s:I},s:s,s:s?}", "principal", agent_ids[a],
                            "action", purpose_ids[pu], "resource", schemas[ds]->name, "context",
                            "obo", (flags & ECL_FACT_ON_BEHALF_OF) != 0, "case_id",
                            (flags & ECL_FACT_CASE_ID) != 0, "now", (json_int_t)facts[i].now,
                            "expect", dec.effect == ECL_POLICY_ALLOW ? "allow" : "deny", "rule",
                            dec.effect == ECL_POLICY_ALLOW ? dec.rule_id : NULL));
    }
    snprintf(path, sizeof path, "%s/policy.json", argv[1]);
    if (json_dump_file(doc, path, JSON_INDENT(1)) != 0) {
        die("cannot write policy.json");
    }
    snprintf(path, sizeof path, "%s/cedar.json", argv[1]);
    if (json_dump_file(cedar, path, JSON_INDENT(1)) != 0) {
        die("cannot write cedar.json");
    }
    snprintf(path, sizeof path, "%s/requests.json", argv[1]);
    if (json_dump_file(reqs, path, 0) != 0) {
        die("cannot write requests.json");
    }

    /* ---- timing: warm-up, then whole passes over the requests for about `seconds` ---- */
    uint64_t sum = 0;
    size_t n = 0;
    double t0;
    double t1;
    for (int w = 0; w < 10; w++) {
        for (int i = 0; i < REQUESTS; i++) {
            struct ecl_decision dec;
            ecl_policy_eval(p, &facts[i], &dec);
            sum += dec.nfields;
        }
    }
    t0 = now_s();
    do {
        for (int r = 0; r < 50; r++) {
            for (int i = 0; i < REQUESTS; i++) {
                struct ecl_decision dec;
                ecl_policy_eval(p, &facts[i], &dec);
                sum += dec.nfields + (uint64_t)dec.effect;
            }
            n += REQUESTS;
        }
        t1 = now_s();
    } while (t1 - t0 < seconds);
    printf("policy: %zu agents, %d purposes, 3 datasets, %zu rules; %d requests, %zu allowed\n",
           (size_t)AGENTS, PURPOSES, nrules, REQUESTS, allowed);
    printf("ecluse decisions/s: %.0f (%zu decisions in %.2f s, checksum %" PRIu64 ")\n",
           (double)n / (t1 - t0), n, t1 - t0, sum);
    json_decref(doc);
    json_decref(cedar);
    json_decref(reqs);
    ecl_policy_free(p);
    for (int i = 0; i < 3; i++) {
        ecl_schema_free(schemas[i]);
    }
    return 0;
}
