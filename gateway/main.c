/* ecluse: wiring only.  Hardens the process, parses the global options and dispatches. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "ecl/crypto.h"

#ifndef ECL_VERSION
#define ECL_VERSION "unknown"
#endif

#define CREDENTIAL_NAME "ecluse-master-key"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: ecluse [--data DIR] [--master-key-fd N | --master-key-file PATH] COMMAND "
            "[ARGS]\n"
            "       ecluse --help | --version\n"
            "\n"
            "Écluse, a privacy-preserving data gateway between AI agents and citizen records.\n"
            "\n"
            "Global options:\n"
            "  --data DIR             data directory (default $ECLUSE_DATA, else ./ecluse-data)\n"
            "  --master-key-fd N      read the 32-byte master key from file descriptor N\n"
            "  --master-key-file PATH read the master key from PATH (for example a systemd\n"
            "                         credential); $CREDENTIALS_DIRECTORY/%s is used\n"
            "                         when present. Never from an environment variable.\n"
            "\n"
            "Commands:\n",
            CREDENTIAL_NAME);
    for (const struct ecl_cmd *c = ecl_commands; c->name != NULL; c++) {
        fprintf(f, "  %-12s %s\n", c->name, c->summary);
    }
    fprintf(f, "\nRun `ecluse COMMAND --help` for a command's options.\n");
}

/* Core dumps could hold keys and personal data: never produce one. */
static void
harden_process(void)
{
    struct rlimit rl = {0, 0};

    umask(077);
    if (setrlimit(RLIMIT_CORE, &rl) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        fprintf(stderr, "ecluse: cannot disable core dumps\n");
        exit(EX_OSERR);
    }
}

static int
parse_fd(const char *s, int *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);

    if (*s == 0 || *end != 0 || v < 0 || v > INT_MAX) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"master-key-fd", required_argument, NULL, 'f'},
        {"master-key-file", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    static char cred_path[4096];
    struct ecl_cli cli;
    const char *env;
    int c;

    harden_process();
    ecl_crypto_init();
    memset(&cli, 0, sizeof cli);
    env = getenv("ECLUSE_DATA");
    cli.data_dir = env != NULL && *env != 0 ? env : "./ecluse-data";

    while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            cli.data_dir = optarg;
            break;
        case 'f':
            if (cli.have_key_src || parse_fd(optarg, &cli.key_src.fd) != 0) {
                fprintf(stderr, "ecluse: --master-key-fd needs one descriptor number\n");
                return EX_USAGE;
            }
            cli.key_src.kind = ECL_KEY_SOURCE_FD;
            cli.have_key_src = 1;
            break;
        case 'k':
            if (cli.have_key_src) {
                fprintf(stderr, "ecluse: give one master key source\n");
                return EX_USAGE;
            }
            cli.key_src.kind = ECL_KEY_SOURCE_FILE;
            cli.key_src.path = optarg;
            cli.have_key_src = 1;
            break;
        case 'h':
            usage(stdout);
            return EX_OK;
        case 'V':
            printf("ecluse %s\n", ECL_VERSION);
            return EX_OK;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (!cli.have_key_src) {
        /* systemd LoadCredential=: the directory comes from the environment, the key from a file */
        env = getenv("CREDENTIALS_DIRECTORY");
        if (env != NULL && *env != 0 &&
            snprintf(cred_path, sizeof cred_path, "%s/%s", env, CREDENTIAL_NAME) <
                (int)sizeof cred_path &&
            access(cred_path, F_OK) == 0) {
            cli.key_src.kind = ECL_KEY_SOURCE_FILE;
            cli.key_src.path = cred_path;
            cli.have_key_src = 1;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EX_USAGE;
    }
    for (const struct ecl_cmd *cmd = ecl_commands; cmd->name != NULL; cmd++) {
        if (strcmp(cmd->name, argv[optind]) == 0) {
            return cmd->fn(&cli, argc - optind, argv + optind);
        }
    }
    fprintf(stderr, "ecluse: unknown command (run `ecluse --help`)\n");
    return EX_USAGE;
}
