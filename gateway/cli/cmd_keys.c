/* ecluse keys show: public key material only. */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "ecl/limits.h"

static void
keys_usage(FILE *f)
{
    fprintf(f, "usage: ecluse [--data DIR] keys show\n"
               "       ecluse [--data DIR] [--master-key-fd N | --master-key-file P] keys check\n"
               "\n"
               "show   prints public key material only: the key version of every use, the audit\n"
               "       log id and origin, the audit public key and its C2SP signed-note verifier\n"
               "       key. Needs no master key.\n"
               "check  loads the master key (checking its file's owner, mode and size) and\n"
               "       verifies that it opens this data directory's audit signing key.\n");
}

int
ecl_cmd_keys(struct ecl_cli *cli, int argc, char **argv)
{
    struct ecl_keyring *kr = NULL;
    struct ecl_buf vkey;
    char hex[2 * ECL_SIGN_PK_LEN + 1];
    const char *s = NULL;
    enum ecl_status st;

    if (ecl_cli_wants_help(argc, argv)) {
        keys_usage(stdout);
        return EX_OK;
    }
    if (argc == 2 && strcmp(argv[1], "check") == 0) {
        int rc = ecl_cli_keyring(cli, &kr);
        if (rc != 0) {
            return rc;
        }
        ecl_keyring_free(kr);
        printf("the master key opens %s\n", cli->data_dir);
        return EX_OK;
    }
    if (argc != 2 || strcmp(argv[1], "show") != 0) {
        keys_usage(stderr);
        return EX_USAGE;
    }
    st = ecl_keyring_load_public(cli->data_dir, &kr);
    if (st != ECL_OK) {
        return ecl_status_exit_code(st);
    }
    ecl_buf_init(&vkey, 512);
    st = ecl_note_verifier_key(ecl_keyring_origin(kr), ecl_keyring_sign_pk(kr), &vkey);
    if (st == ECL_OK) {
        st = ecl_buf_cstr(&vkey, &s);
    }
    if (st != ECL_OK) {
        ecl_buf_free(&vkey);
        ecl_keyring_free(kr);
        return ecl_cli_fail("keys show", st);
    }
    ecl_hex(ecl_keyring_log_id(kr), ECL_LOG_ID_LEN, hex);
    printf("log-id: %s\n", hex);
    printf("origin: %s\n", ecl_keyring_origin(kr));
    ecl_hex(ecl_keyring_sign_pk(kr), ECL_SIGN_PK_LEN, hex);
    printf("audit-public-key: %s\n", hex);
    printf("audit-verifier-key: %s\n", s);
    for (unsigned u = 0; u < ECL_KEY_USE_COUNT; u++) {
        printf("key-version %s: %u\n", ecl_key_use_name((enum ecl_key_use)u),
               ecl_keyring_version(kr, (enum ecl_key_use)u));
    }
    ecl_buf_free(&vkey);
    ecl_keyring_free(kr);
    return EX_OK;
}
