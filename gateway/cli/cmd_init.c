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

#include "audit/audit.h"
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

/* A master key given on a descriptor can be read only once, but init needs it twice (to create
 * the keyring, then to load it and write the first audit entry): read it once into guarded
 * memory and hand each step its own private pipe holding a copy. */
static int
key_pipe(const uint8_t *key, struct ecl_key_source *out)
{
    int p[2];
    ssize_t w;

    if (pipe2(p, O_CLOEXEC) != 0) {
        return -1;
    }
    w = write(p[1], key, ECL_MASTER_KEY_LEN);
    close(p[1]);
    if (w != ECL_MASTER_KEY_LEN) {
        close(p[0]);
        return -1;
    }
    out->kind = ECL_KEY_SOURCE_FD;
    out->fd = p[0];
    out->path = NULL;
    return 0;
}

static enum ecl_status
fd_key_read(int fd, uint8_t *key)
{
    size_t got = 0;
    uint8_t extra;

    while (got < ECL_MASTER_KEY_LEN) {
        ssize_t r = read(fd, key + got, ECL_MASTER_KEY_LEN - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return ECL_ERR_INVALID;
        }
        got += (size_t)r;
    }
    return read(fd, &extra, 1) == 0 ? ECL_OK : ECL_ERR_INVALID;
}

/* The first audit entry of the new log: its creation, with the key versions. */
static enum ecl_status
record_creation(const char *dir, const struct ecl_key_source *src)
{
    struct ecl_keyring *kr = NULL;
    struct ecl_store *store = NULL;
    struct ecl_audit *a = NULL;
    struct ecl_audit_event ev;
    uint64_t seq = 0;
    enum ecl_status st;

    st = ecl_keyring_load(dir, src, &kr);
    if (st == ECL_OK) {
        st = ecl_store_open(dir, ECL_STORE_DEFAULT, &store);
    }
    if (st == ECL_OK) {
        st = ecl_audit_open(store, kr, &a);
    }
    if (st == ECL_OK) {
        memset(&ev, 0, sizeof ev);
        ev.kind = ECL_AUDIT_LOG_CREATED;
        ev.channel = ECL_AUDIT_CH_CLI;
        ev.detail = "data directory created: new master key use versions 1, new audit signing "
                    "key, empty record store";
        st = ecl_audit_append_sync(a, &ev, &seq);
    }
    ecl_audit_close(a);
    ecl_store_close(store);
    ecl_keyring_free(kr);
    return st;
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
    const struct ecl_key_source *src = cli->have_key_src ? &cli->key_src : NULL;
    struct ecl_key_source src1;
    struct ecl_key_source src2;
    uint8_t *fdkey = NULL;
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
    if (src != NULL && src->kind == ECL_KEY_SOURCE_FD) {
        fdkey = ecl_secret_alloc(ECL_MASTER_KEY_LEN);
        st = fdkey == NULL ? ECL_ERR_NOMEM : fd_key_read(src->fd, fdkey);
        if (st == ECL_OK && (key_pipe(fdkey, &src1) != 0 || key_pipe(fdkey, &src2) != 0)) {
            st = ECL_ERR_IO;
        }
        ecl_secret_free(fdkey); /* wipes */
        if (st != ECL_OK) {
            remove_tree(tmp);
            fprintf(stderr, "ecluse: the master key descriptor must give exactly %d bytes\n",
                    ECL_MASTER_KEY_LEN);
            return ecl_status_exit_code(st);
        }
    } else {
        src1 = src != NULL ? *src : (struct ecl_key_source){ECL_KEY_SOURCE_FILE, NULL, -1};
        src2 = src1;
    }
    st = ecl_keyring_create(tmp, src != NULL ? &src1 : NULL, origin);
    if (st != ECL_OK) {
        remove_tree(tmp);
        return ecl_cli_fail("cannot create the keys", st);
    }
    st = ecl_store_create(tmp);
    if (st != ECL_OK) {
        remove_tree(tmp);
        return ecl_cli_fail("cannot create the store", st);
    }
    st = record_creation(tmp, src != NULL ? &src2 : NULL);
    if (src != NULL && src->kind == ECL_KEY_SOURCE_FD) {
        close(src1.fd);
        close(src2.fd);
    }
    if (st != ECL_OK) {
        remove_tree(tmp);
        return ecl_cli_fail("cannot write the first audit entry", st);
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
