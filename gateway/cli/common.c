#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"

int
ecl_cli_fail(const char *what, enum ecl_status st)
{
    fprintf(stderr, "ecluse: %s: %s\n", what, ecl_status_name(st));
    return ecl_status_exit_code(st);
}

int
ecl_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return 1;
        }
        if (strcmp(argv[i], "--") == 0) {
            return 0;
        }
    }
    return 0;
}

int
ecl_cli_keyring(struct ecl_cli *cli, struct ecl_keyring **out)
{
    enum ecl_status st =
        ecl_keyring_load(cli->data_dir, cli->have_key_src ? &cli->key_src : NULL, out);
    if (st != ECL_OK) {
        /* the keyring code already said what was wrong */
        return ecl_status_exit_code(st);
    }
    return 0;
}

int
ecl_cli_open(struct ecl_cli *cli, enum ecl_store_flags flags, struct ecl_keyring **kr,
             struct ecl_store **store)
{
    enum ecl_status st;
    int rc = ecl_cli_keyring(cli, kr);

    if (rc != 0) {
        return rc;
    }
    st = ecl_store_open(cli->data_dir, flags, store);
    if (st != ECL_OK) {
        ecl_keyring_free(*kr);
        *kr = NULL;
        return ecl_cli_fail("cannot open the store", st);
    }
    return 0;
}
