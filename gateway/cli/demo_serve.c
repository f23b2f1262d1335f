/* ecluse demo, second half: the demo policy, fresh demo keys, and serving.  The demo keys are
 * rotated at every start (the old ones are revoked), so that no API secret is ever kept on
 * disk: only their keyed hashes are stored, as for every principal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "api/app.h"
#include "assets.h"
#include "http/log.h"
#include "cli.h"
#include "records_cli.h"
#include "store/policy_db.h"
#include "store/principals.h"

/* The principals of the demo: the policy's agents, two DPOs (four-eyes), an auditor, an
 * admin. */
static const struct {
    const char *name;
    enum ecl_role role;
} demo_principals[] = {
    {"service-desk-assistant", ECL_ROLE_AGENT},
    {"eligibility-assistant", ECL_ROLE_AGENT},
    {"statistics-bot", ECL_ROLE_AGENT},
    {"fraud-detector", ECL_ROLE_AGENT},
    {"winter-outreach-bot", ECL_ROLE_AGENT},
    {"dpo-alice", ECL_ROLE_DPO},
    {"dpo-bob", ECL_ROLE_DPO},
    {"auditor-carol", ECL_ROLE_AUDITOR},
    {"admin", ECL_ROLE_ADMIN},
};
#define NDEMO (sizeof demo_principals / sizeof demo_principals[0])

int
ecl_demo_ensure_policy(struct ecl_cli *cli)
{
    struct ecl_cli_records h;
    struct ecl_store *store;
    struct ecl_schema **schemas = NULL;
    struct ecl_policy *p = NULL;
    struct ecl_policy_meta meta;
    struct ecl_diags diags;
    uint64_t active = 0;
    size_t n = 0;
    enum ecl_status st;

    int rc = ecl_cli_records_open(cli, ECL_STORE_DEFAULT, &h);

    if (rc != 0) {
        return rc;
    }
    store = h.store;
    st = ecl_policy_db_active(store, &active);
    if (st == ECL_OK && active > 0) {
        ecl_cli_records_close(&h);
        return 0;
    }
    ecl_diags_init(&diags);
    st = ecl_policy_db_schemas(store, &schemas, &n);
    if (st == ECL_OK) {
        st = ecl_policy_parse(ecl_asset_policy, ecl_asset_policy_len,
                              (const struct ecl_schema *const *)schemas, n, &diags, &p);
    }
    if (st == ECL_OK) {
        st = ecl_policy_db_put(store, p, "ecluse-demo", (int64_t)time(NULL), &meta);
    }
    if (st == ECL_OK) {
        st = ecl_policy_db_activate(store, meta.version, &diags);
    }
    if (st == ECL_OK) {
        printf("demo policy stored and activated as version %llu (hash %s)\n",
               (unsigned long long)meta.version, meta.hash);
        /* like `ecluse policy set`: the auditor sees which policy the demo started with */
        rc = ecl_cli_audit_policy(store, h.kr, meta.version, meta.hash, "set and activated");
    }
    ecl_policy_free(p);
    if (schemas != NULL) {
        ecl_policy_db_schemas_free(schemas, n);
    }
    ecl_cli_records_close(&h);
    if (st == ECL_OK) {
        return rc;
    }
    if (st != ECL_OK) {
        for (size_t i = 0; i < diags.n; i++) {
            fprintf(stderr, "ecluse: demo policy: %s: %s\n", diags.items[i].path,
                    diags.items[i].reason);
        }
        return ecl_cli_fail("cannot set the demo policy", st);
    }
    return 0;
}

/* Revokes the previous demo key of each demo principal and creates a new one. */
static int
rotate_keys(struct ecl_app *app, struct ecl_api_key keys[NDEMO])
{
    uint64_t now = (uint64_t)time(NULL);

    for (size_t i = 0; i < NDEMO; i++) {
        struct ecl_principal p;
        struct ecl_audit_event ev;
        char hex[2 * ECL_PRINCIPAL_ID_LEN + 1];
        uint64_t seq = 0;
        enum ecl_status st = ecl_principal_find(app->store, demo_principals[i].name, &p);

        if (st == ECL_OK && p.revoked == 0) {
            st = ecl_principal_revoke(app->store, p.id, now, &p);
            if (st != ECL_OK) {
                return ecl_cli_fail("cannot rotate the demo keys", st);
            }
        } else if (st != ECL_OK && st != ECL_ERR_NOT_FOUND) {
            return ecl_cli_fail("cannot read the principals", st);
        }
        st = ecl_principal_add(app->store, app->kr, demo_principals[i].name,
                               demo_principals[i].role, now, &p, &keys[i]);
        if (st != ECL_OK) {
            return ecl_cli_fail("cannot create the demo keys", st);
        }
        memset(&ev, 0, sizeof ev);
        ev.kind = ECL_AUDIT_PRINCIPAL_CHANGE;
        ev.channel = ECL_AUDIT_CH_CLI;
        ecl_hex(p.id, sizeof p.id, hex);
        ev.principal = hex;
        ev.role = ecl_role_name(p.role);
        ev.detail = "demo key rotated at start-up";
        st = ecl_audit_append_sync(app->audit, &ev, &seq);
        if (st != ECL_OK) {
            return ecl_cli_fail("cannot record the key rotation", st);
        }
    }
    return 0;
}

static void
print_banner(const struct ecl_app *app, const char *base, const struct ecl_api_key keys[NDEMO],
             const char *nir, const char *postcode)
{
    printf("\nÉcluse demo gateway on %s (data: %s)\n\n", base, app->data_dir);
    printf("Demo keys (new at every start; the previous ones are revoked):\n");
    for (size_t i = 0; i < NDEMO; i++) {
        printf("  %-24s %-8s %s\n", demo_principals[i].name, ecl_role_name(demo_principals[i].role),
               keys[i].text);
    }
    printf("\nTry (an agent, then an auditor, then a DPO):\n\n");
    printf("  curl -s -H 'Authorization: Bearer %s' %s/v1/datasets\n\n", keys[0].text, base);
    if (nir != NULL) {
        printf("  curl -s -H 'Authorization: Bearer %s' \\\n"
               "    '%s/v1/datasets/citizens/records/%s?purpose=citizen_services'\n\n",
               keys[0].text, base, nir);
    }
    if (postcode != NULL) {
        printf("  curl -s -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n"
               "    -d '{\"purpose\":\"official_statistics\",\"where\":{\"postcode\":\"%s\"},"
               "\"limit\":5}' \\\n"
               "    %s/v1/datasets/citizens/query\n\n",
               keys[2].text, postcode, base);
    }
    printf("  curl -s -H 'Authorization: Bearer %s' %s/v1/audit/checkpoint\n\n", keys[7].text,
           base);
    printf("  curl -s -H 'Authorization: Bearer %s' %s/v1/policy\n\n", keys[5].text, base);
    printf("  ecluse --data %s audit verify\n\n", app->data_dir);
    printf("MCP endpoint: %s/mcp (Authorization: Bearer <agent key>); docs/mcp.md\n", base);
    printf("Stop with Ctrl-C.\n\n");
    fflush(stdout);
}

/* The identifier and postcode of the first generated person, for the example requests. */
static void
first_person(uint64_t seed, char *out, size_t cap, char *postcode, size_t pcap)
{
    struct ecl_demo_stats stats;
    char *cbuf = NULL;
    char *bbuf = NULL;
    size_t clen = 0;
    size_t blen = 0;
    FILE *c = open_memstream(&cbuf, &clen);
    FILE *b = open_memstream(&bbuf, &blen);

    out[0] = 0;
    postcode[0] = 0;
    if (c != NULL && b != NULL && ecl_demo_generate(seed, 1, c, b, &stats) == ECL_OK &&
        fflush(c) == 0) {
        json_t *rec = json_loadb(cbuf, strcspn(cbuf, "\n"), 0, NULL);
        const char *nir = json_string_value(json_object_get(rec, "nir"));
        const char *pc = json_string_value(json_object_get(rec, "postcode"));
        if (nir != NULL) {
            snprintf(out, cap, "%s", nir);
        }
        if (pc != NULL) {
            snprintf(postcode, pcap, "%s", pc);
        }
        json_decref(rec);
    }
    if (c != NULL) {
        fclose(c);
    }
    if (b != NULL) {
        fclose(b);
    }
    free(cbuf);
    free(bbuf);
}

int
ecl_demo_serve(struct ecl_cli *cli, uint64_t seed, const char *listen, unsigned threads)
{
    struct ecl_api_key keys[NDEMO];
    struct ecl_http_config cfg;
    struct ecl_app app;
    char base[128];
    char nir[32];
    char postcode[16];
    int rc;

    ecl_serve_block_signals();
    rc = ecl_app_open(&app, cli->data_dir, cli->have_key_src ? &cli->key_src : NULL);
    if (rc != 0) {
        return rc;
    }
    memset(keys, 0, sizeof keys);
    rc = rotate_keys(&app, keys);
    if (rc == 0) {
        memset(&cfg, 0, sizeof cfg);
        cfg.listen = listen;
        cfg.threads = threads;
        enum ecl_status st = ecl_app_start_http(&app, &cfg);
        if (st != ECL_OK) {
            fprintf(stderr, "ecluse: cannot serve on %s: %s\n", listen, ecl_status_name(st));
            rc = st == ECL_ERR_INVALID || st == ECL_ERR_PERM ? EX_USAGE : EX_UNAVAILABLE;
        }
    }
    if (rc == 0) {
        const char *colon = strrchr(listen, ':');
        snprintf(base, sizeof base, "http://%.*s:%u", colon != NULL ? (int)(colon - listen) : 0,
                 listen, ecl_http_server_port(app.http));
        first_person(seed, nir, sizeof nir, postcode, sizeof postcode);
        print_banner(&app, base, keys, nir[0] != 0 ? nir : NULL,
                     postcode[0] != 0 ? postcode : NULL);
        ecl_serve_loop(&app, &cfg);
    }
    ecl_wipe(keys, sizeof keys);
    ecl_app_close(&app);
    if (rc == 0) {
        ecl_log_msg(ECL_LOG_INFO, "stopped", "graceful shutdown complete");
    }
    return rc;
}
