/* ecluse init: a new data directory with its keys and its LMDB environments. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"

static void
init_usage(FILE *f)
{
    fprintf(f, "usage: ecluse [--data DIR] init [--origin NAME]\n"
               "\n"
               "Creates DIR (mode 0700) with a new 256-bit master key (master.key, mode 0600,\n"
               "unless --master-key-fd or --master-key-file gives one), the audit signing key\n"
               "sealed under it, and empty record and audit stores. Refuses an existing DIR.\n"
               "Everything is built in a temporary sibling directory and renamed into place, so\n"
               "a failed init leaves nothing behind.\n"
               "\n"
               "  --origin NAME   the audit log's checkpoint origin (default ecluse/<log id>)\n");
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
remove_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
ecl_cmd_init(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"origin", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *origin = NULL;
    char tmp[4096];
    enum ecl_status st;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            origin = optarg;
            break;
        case 'h':
            init_usage(stdout);
            return EX_OK;
        default:
            init_usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        init_usage(stderr);
        return EX_USAGE;
    }
    if (access(cli->data_dir, F_OK) == 0) {
        fprintf(stderr, "ecluse: %s already exists; init refuses to touch it\n", cli->data_dir);
        return EX_CANTCREAT;
    }
    if (snprintf(tmp, sizeof tmp, "%s.init-XXXXXX", cli->data_dir) >= (int)sizeof tmp ||
        mkdtemp(tmp) == NULL) {
        fprintf(stderr, "ecluse: cannot create a directory next to %s: %s\n", cli->data_dir,
                strerror(errno));
        return EX_CANTCREAT;
    }
    st = ecl_keyring_create(tmp, cli->have_key_src ? &cli->key_src : NULL, origin);
    if (st != ECL_OK) {
        remove_tree(tmp);
        return ecl_cli_fail("cannot create the keys", st);
    }
    st = ecl_store_create(tmp);
    if (st != ECL_OK) {
        remove_tree(tmp);
        return ecl_cli_fail("cannot create the store", st);
    }
    /* RENAME_NOREPLACE: a directory that appeared meanwhile is never replaced */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, cli->data_dir, RENAME_NOREPLACE) != 0) {
        int err = errno;
        remove_tree(tmp);
        fprintf(stderr, "ecluse: cannot create %s: %s\n", cli->data_dir, strerror(err));
        return EX_CANTCREAT;
    }
    printf("initialised %s\n", cli->data_dir);
    return EX_OK;
}
