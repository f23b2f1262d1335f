/* Test-only: prepares what the DPO API tests need while the agent API is not there to produce
 * it, with the real key material of a data directory (the server must not run meanwhile).
 *
 *   dpo_seed DIR token AGENT PURPOSE DATASET FIELD DOMAIN VALUE
 *       prints the token the tokenize action (domain agent|purpose|agent_purpose) gives VALUE
 *       (a JSON value) of DATASET's FIELD when released to AGENT for PURPOSE
 *   dpo_seed DIR events < lines
 *       appends one record.read entry per JSON line {"principal", "purpose", "dataset",
 *       "decision", "fields": [[name, action]...], "official"?, "case"?, "reason"?} through the
 *       writer
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "ecl/schema.h"
#include "ecl/transform.h"
#include "store/policy_db.h"

static int
token(struct ecl_store *s, struct ecl_keyring *kr, char **a)
{
    struct ecl_schema **schemas = NULL;
    size_t n = 0;
    struct ecl_transform_ctx ctx;
    struct ecl_action act;
    json_t *in = json_loads(a[8], JSON_DECODE_ANY, NULL);
    json_t *out = NULL;
    int rc = 1;

    memset(&act, 0, sizeof act);
    act.kind = ECL_ACT_TOKENIZE;
    act.domain = strcmp(a[7], "agent") == 0     ? ECL_DOMAIN_AGENT
                 : strcmp(a[7], "purpose") == 0 ? ECL_DOMAIN_PURPOSE
                                                : ECL_DOMAIN_AGENT_PURPOSE;
    if (in == NULL || ecl_policy_db_schemas(s, &schemas, &n) != ECL_OK) {
        json_decref(in);
        return 1;
    }
    ecl_transform_ctx_init(&ctx, kr, a[3], a[4], 0);
    for (size_t i = 0; i < n; i++) {
        const struct ecl_field *f = ecl_schema_field(schemas[i], a[6]);

        if (strcmp(schemas[i]->name, a[5]) == 0 && f != NULL &&
            ecl_transform_apply(&ctx, &act, f, in, &out) == ECL_OK) {
            printf("%s\n", json_string_value(out));
            json_decref(out);
            rc = 0;
        }
    }
    ecl_transform_ctx_free(&ctx);
    ecl_policy_db_schemas_free(schemas, n);
    json_decref(in);
    return rc;
}

static enum ecl_action_kind
action_of(const char *s)
{
    for (int k = 0; k < ECL_ACT_COUNT; k++) {
        if (strcmp(ecl_action_kind_name((enum ecl_action_kind)k), s) == 0) {
            return (enum ecl_action_kind)k;
        }
    }
    return ECL_ACT_REDACT;
}

static int
events(struct ecl_store *s, struct ecl_keyring *kr)
{
    struct ecl_audit *a = NULL;
    char line[8192];
    int rc = 0;

    if (ecl_audit_open(s, kr, &a) != ECL_OK) {
        return 1;
    }
    while (rc == 0 && fgets(line, sizeof line, stdin) != NULL) {
        const char *why = NULL;
        json_t *o = ecl_json_load(line, strlen(line), 8, &why, NULL);
        struct ecl_audit_field fields[64];
        struct ecl_audit_event ev;
        const json_t *fs = json_object_get(o, "fields");
        const json_t *fv;
        size_t i;
        uint64_t seq = 0;

        if (o == NULL) {
            rc = 1;
            break;
        }
        memset(&ev, 0, sizeof ev);
        ev.kind = ECL_AUDIT_RECORD_READ;
        ev.channel = ECL_AUDIT_CH_REST;
        ev.principal = json_string_value(json_object_get(o, "principal"));
        ev.role = "agent";
        ev.purpose = json_string_value(json_object_get(o, "purpose"));
        ev.dataset = json_string_value(json_object_get(o, "dataset"));
        ev.official = json_string_value(json_object_get(o, "official"));
        ev.case_ref = json_string_value(json_object_get(o, "case"));
        ev.reason = json_string_value(json_object_get(o, "reason"));
        ev.decision = strcmp(json_string_value(json_object_get(o, "decision")), "allow") == 0
                          ? ECL_AUDIT_ALLOW
                          : ECL_AUDIT_DENY;
        json_array_foreach(fs, i, fv)
        {
            if (i < 64) {
                fields[i].name = json_string_value(json_array_get(fv, 0));
                fields[i].action = action_of(json_string_value(json_array_get(fv, 1)));
                ev.nfields = i + 1;
            }
        }
        ev.fields = fields;
        if (ecl_audit_append_sync(a, &ev, &seq) != ECL_OK) {
            rc = 1;
        }
        json_decref(o);
    }
    ecl_audit_close(a);
    return rc;
}

int
main(int argc, char **argv)
{
    struct ecl_store *s = NULL;
    struct ecl_keyring *kr = NULL;
    int rc = 64;

    ecl_crypto_init();
    if (argc < 3) {
        return 64;
    }
    if (ecl_keyring_load(argv[1], NULL, &kr) != ECL_OK ||
        ecl_store_open(argv[1], ECL_STORE_DEFAULT, &s) != ECL_OK) {
        fprintf(stderr, "dpo_seed: cannot open %s\n", argv[1]);
        rc = 66;
    } else if (strcmp(argv[2], "token") == 0 && argc == 9) {
        rc = token(s, kr, argv);
    } else if (strcmp(argv[2], "events") == 0 && argc == 3) {
        rc = events(s, kr);
    }
    if (s != NULL) {
        ecl_store_close(s);
    }
    if (kr != NULL) {
        ecl_keyring_free(kr);
    }
    return rc;
}
