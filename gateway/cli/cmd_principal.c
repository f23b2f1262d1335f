/* ecluse principal add|list|revoke: API keys and roles. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cli.h"
#include "store/principals.h"

static void
principal_usage(FILE *f)
{
    fprintf(f, "usage: ecluse [--data DIR] principal add NAME --role agent|auditor|dpo|admin\n"
               "       ecluse [--data DIR] principal list\n"
               "       ecluse [--data DIR] principal revoke ID|NAME\n"
               "\n"
               "add     creates a principal and prints its API key once (only a keyed hash of\n"
               "        the key is stored: a lost key cannot be shown again, revoke it and add\n"
               "        another). NAME: 1 to 64 characters among A-Z a-z 0-9 . _ -\n"
               "list    prints id, name, role, creation and revocation times (never keys)\n"
               "revoke  revokes a key at once, also in a running server\n");
}

static void
fmt_time(uint64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
        snprintf(out, cap, "-");
        return;
    }
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static enum ecl_status
print_one(void *arg, const struct ecl_principal *p)
{
    char hex[2 * ECL_PRINCIPAL_ID_LEN + 1];
    char created[32];
    char revoked[32];

    (void)arg;
    ecl_hex(p->id, sizeof p->id, hex);
    fmt_time(p->created, created, sizeof created);
    fmt_time(p->revoked, revoked, sizeof revoked);
    printf("%-16s  %-24s  %-7s  %-20s  %s\n", hex, p->name, ecl_role_name(p->role), created,
           revoked);
    return ECL_OK;
}

static int
cmd_add(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"role", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    struct ecl_keyring *kr = NULL;
    struct ecl_store *store = NULL;
    struct ecl_principal p;
    struct ecl_api_key key;
    char hex[2 * ECL_PRINCIPAL_ID_LEN + 1];
    const char *role_s = NULL;
    enum ecl_role role;
    enum ecl_status st;
    int c;
    int rc;

    optind = 0; /* glibc: 0 also resets the permutation state (options after NAME) */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'r') {
            principal_usage(stderr);
            return EX_USAGE;
        }
        role_s = optarg;
    }
    if (optind != argc - 1 || role_s == NULL) {
        principal_usage(stderr);
        return EX_USAGE;
    }
    if (ecl_role_parse(role_s, &role) != ECL_OK) {
        fprintf(stderr, "ecluse: --role must be agent, auditor, dpo or admin\n");
        return EX_USAGE;
    }
    if (!ecl_principal_name_ok(argv[optind])) {
        fprintf(stderr, "ecluse: the name must be 1 to %d characters among A-Z a-z 0-9 . _ -\n",
                ECL_NAME_MAX_LEN);
        return EX_DATAERR;
    }
    rc = ecl_cli_open(cli, ECL_STORE_DEFAULT, &kr, &store);
    if (rc != 0) {
        return rc;
    }
    st = ecl_principal_add(store, kr, argv[optind], role, (uint64_t)time(NULL), &p, &key);
    if (st == ECL_ERR_EXISTS) {
        fprintf(stderr, "ecluse: a principal with this name exists and is not revoked\n");
        rc = EX_CANTCREAT;
    } else if (st != ECL_OK) {
        rc = ecl_cli_fail("cannot add the principal", st);
    } else {
        ecl_hex(p.id, sizeof p.id, hex);
        printf("id: %s\nname: %s\nrole: %s\nkey: %s\n", hex, p.name, ecl_role_name(p.role),
               key.text);
        fflush(stdout);
        fprintf(stderr, "ecluse: store this key now; it cannot be shown again\n");
        rc = ecl_cli_audit_principal(store, kr, &p, "added");
    }
    ecl_wipe(&key, sizeof key);
    ecl_store_close(store);
    ecl_keyring_free(kr);
    return rc;
}

int
ecl_cmd_principal(struct ecl_cli *cli, int argc, char **argv)
{
    struct ecl_keyring *kr = NULL;
    struct ecl_store *store = NULL;
    struct ecl_principal p;
    enum ecl_status st;
    int rc;

    if (ecl_cli_wants_help(argc, argv)) {
        principal_usage(stdout);
        return EX_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "add") == 0) {
        return cmd_add(cli, argc - 1, argv + 1);
    }
    if (!(argc == 2 && strcmp(argv[1], "list") == 0) &&
        !(argc == 3 && strcmp(argv[1], "revoke") == 0)) {
        principal_usage(stderr);
        return EX_USAGE;
    }
    rc = ecl_cli_open(cli, ECL_STORE_DEFAULT, &kr, &store);
    if (rc != 0) {
        return rc;
    }
    if (argc == 2) {
        printf("%-16s  %-24s  %-7s  %-20s  %s\n", "ID", "NAME", "ROLE", "CREATED", "REVOKED");
        st = ecl_principal_list(store, print_one, NULL);
        if (st != ECL_OK) {
            rc = ecl_cli_fail("cannot list the principals", st);
        }
    } else {
        st = ecl_principal_find(store, argv[2], &p);
        if (st == ECL_OK) {
            st = ecl_principal_revoke(store, p.id, (uint64_t)time(NULL), &p);
        }
        if (st == ECL_ERR_NOT_FOUND) {
            fprintf(stderr, "ecluse: no principal has this id or name\n");
            rc = EX_NOINPUT;
        } else if (st != ECL_OK) {
            rc = ecl_cli_fail("cannot revoke the principal", st);
        } else {
            char hex[2 * ECL_PRINCIPAL_ID_LEN + 1];
            ecl_hex(p.id, sizeof p.id, hex);
            printf("revoked %s (%s)\n", hex, p.name);
            rc = ecl_cli_audit_principal(store, kr, &p, "revoked");
        }
    }
    ecl_store_close(store);
    ecl_keyring_free(kr);
    return rc;
}
