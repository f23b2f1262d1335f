/* Audit entries for the administrative commands: every change an operator makes from the
 * command line (policy, principals, erasure, objections, imports) leaves an entry, written
 * while a server may be running on the same data directory (the audit writer re-reads the tree
 * when another process appended).  Entries hold what was done, never personal data in clear:
 * a citizen identifier only inside the encrypted "subjects" member. */
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli.h"
#include "ecl/schema.h"
#include "store/principals.h"
#include "store/records.h"

int
ecl_cli_audit_event(struct ecl_store *store, const struct ecl_keyring *kr,
                    struct ecl_audit_event *ev)
{
    struct ecl_audit *a = NULL;
    struct passwd *pw = getpwuid(geteuid());
    char who[ECL_NAME_MAX_LEN + 8];
    uint64_t seq = 0;
    enum ecl_status st;

    if (pw != NULL && strlen(pw->pw_name) <= ECL_NAME_MAX_LEN) {
        snprintf(who, sizeof who, "cli:%s", pw->pw_name);
    } else {
        snprintf(who, sizeof who, "cli:uid%u", (unsigned)geteuid());
    }
    ev->channel = ECL_AUDIT_CH_CLI;
    ev->principal = who;
    ev->role = "operator";
    st = ecl_audit_open(store, kr, &a);
    if (st == ECL_OK) {
        st = ecl_audit_append_sync(a, ev, &seq);
        ecl_audit_close(a);
    }
    if (st != ECL_OK) {
        fprintf(stderr,
                "ecluse: the change was made but its audit entry could not be written: %s\n",
                ecl_status_name(st));
        return ecl_status_exit_code(st);
    }
    return 0;
}

int
ecl_cli_audit_subject(const struct ecl_schema *s, const char *id, size_t len,
                      char out[ECL_SUBJECT_ID_MAX_LEN + 1])
{
    size_t n = ecl_normalize(s->fields[s->subject_field].normalize, id, len, out,
                             ECL_SUBJECT_ID_MAX_LEN + 1);

    if (n == (size_t)-1 || n == 0) {
        ecl_wipe(out, ECL_SUBJECT_ID_MAX_LEN + 1);
        return -1;
    }
    return 0;
}

int
ecl_cli_audit_policy(struct ecl_store *store, const struct ecl_keyring *kr, uint64_t version,
                     const char *hash_hex, const char *what)
{
    struct ecl_audit_event ev;
    uint8_t hash[ECL_HASH_LEN];
    char detail[128];

    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_POLICY_CHANGE;
    ev.policy_version = version;
    if (hash_hex != NULL && ecl_unhex(hash_hex, strlen(hash_hex), hash, sizeof hash) == ECL_OK) {
        ev.policy_hash = hash;
    }
    snprintf(detail, sizeof detail, "policy version %llu %s", (unsigned long long)version, what);
    ev.detail = detail;
    return ecl_cli_audit_event(store, kr, &ev);
}

int
ecl_cli_audit_import(struct ecl_store *store, const struct ecl_keyring *kr, const char *dataset,
                     const struct ecl_import_result *res)
{
    struct ecl_audit_event ev;
    char detail[160];

    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_RECORDS_IMPORT;
    ev.dataset = dataset;
    snprintf(detail, sizeof detail, "imported %llu records (%llu new, %llu updated)",
             (unsigned long long)res->records, (unsigned long long)res->inserted,
             (unsigned long long)res->updated);
    ev.detail = detail;
    return ecl_cli_audit_event(store, kr, &ev);
}

int
ecl_cli_audit_principal(struct ecl_store *store, const struct ecl_keyring *kr,
                        const struct ecl_principal *p, const char *what)
{
    struct ecl_audit_event ev;
    char hex[2 * ECL_PRINCIPAL_ID_LEN + 1];
    char detail[160];

    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_PRINCIPAL_CHANGE;
    ecl_hex(p->id, sizeof p->id, hex);
    snprintf(detail, sizeof detail, "principal %s (%s, role %s) %s", hex, p->name,
             ecl_role_name(p->role), what);
    ev.detail = detail;
    return ecl_cli_audit_event(store, kr, &ev);
}
