/* ecluse keys show | check | rotate record-kek | destroy record-kek VERSION
 * (destroyable record-KEK versions: docs/erasure.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sysexits.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli.h"
#include "ecl/limits.h"
#include "records_cli.h"

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
               "       verifies that it opens this data directory's audit signing key.\n"
               "\n"
               "       ecluse [--data DIR] keys rotate record-kek [--keep-old] [--batch N]\n"
               "       ecluse [--data DIR] keys destroy record-kek VERSION\n"
               "\n"
               "rotate   makes a new record-KEK version current, rewraps every data key under it\n"
               "         (N per transaction; safe to interrupt and run again, which resumes),\n"
               "         then destroys the older versions' key material, so that data keys\n"
               "         wrapped under them, in any old copy of the store, can never be\n"
               "         unwrapped again (--keep-old postpones that). Needs the master key;\n"
               "         refuses while a gateway serves DIR.\n"
               "destroy  destroys one older record-KEK version; refuses while a data key is\n"
               "         still wrapped under it.\n"
               "Old copies of DIR/keyring must be destroyed too: docs/erasure.md.\n");
}

/* No gateway may serve and no command may write records during a rotation: the gateway lock
 * and the keyring lock, both exclusive.  *out holds both descriptors. */
static int
lock_data_dir(struct ecl_cli *cli, int out[2])
{
    enum ecl_status st =
        ecl_store_lock(cli->data_dir, ECL_LOCK_GATEWAY, ECL_LOCK_EXCLUSIVE, &out[0]);

    if (st == ECL_ERR_CONFLICT) {
        fprintf(stderr, "ecluse: a gateway is serving %s: stop it before changing keys\n",
                cli->data_dir);
        return EX_TEMPFAIL;
    }
    if (st != ECL_OK) {
        return ecl_cli_fail("cannot lock the data directory", st);
    }
    st = ecl_store_lock(cli->data_dir, ECL_LOCK_KEYRING, ECL_LOCK_EXCLUSIVE, &out[1]);
    if (st != ECL_OK) {
        ecl_store_unlock(out[0]);
        if (st == ECL_ERR_CONFLICT) {
            fprintf(stderr,
                    "ecluse: another command is writing records in %s: try again when it "
                    "has finished\n",
                    cli->data_dir);
            return EX_TEMPFAIL;
        }
        return ecl_cli_fail("cannot lock the keyring", st);
    }
    cli->keyring_locked = 1;
    return 0;
}

static void
unlock_data_dir(struct ecl_cli *cli, int fds[2])
{
    ecl_store_unlock(fds[1]);
    ecl_store_unlock(fds[0]);
    cli->keyring_locked = 0;
}

static int
audit_key_event(struct ecl_cli_records *h, const char *detail)
{
    struct ecl_audit_event ev;

    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_KEY_EVENT;
    ev.detail = detail;
    return ecl_cli_audit_event(h->store, h->kr, &ev);
}

/* Destroys record-KEK version v after checking, with h open, that no data key uses it. */
static int
destroy_version(struct ecl_cli *cli, struct ecl_cli_records *h, uint32_t v)
{
    char detail[128];
    uint64_t left = 0;
    enum ecl_status st = ecl_records_kek_count(h->rec, v, v, &left);

    if (st != ECL_OK) {
        return ecl_cli_fail("keys destroy", st);
    }
    if (left > 0) {
        fprintf(stderr,
                "ecluse: %llu data keys are still wrapped under record-kek version %u: run "
                "`ecluse keys rotate record-kek` first\n",
                (unsigned long long)left, v);
        return EX_DATAERR;
    }
    st = ecl_keyring_kek_destroy(cli->data_dir, h->kr, v);
    if (st == ECL_ERR_NOT_FOUND) {
        fprintf(stderr, "ecluse: record-kek version %u is already destroyed\n", v);
        return EX_DATAERR;
    }
    if (st == ECL_ERR_INVALID) {
        fprintf(stderr, "ecluse: record-kek version %u is the current version\n", v);
        return EX_DATAERR;
    }
    if (st != ECL_OK) {
        return ecl_cli_fail("keys destroy", st);
    }
    printf("record-kek version %u destroyed\n", v);
    snprintf(detail, sizeof detail, "record-kek version %u destroyed (key material erased)", v);
    return audit_key_event(h, detail);
}

static int
keys_destroy(struct ecl_cli *cli, int argc, char **argv)
{
    struct ecl_cli_records h;
    char *end = NULL;
    unsigned long v;
    int lock[2] = {-1, -1};
    int rc;

    if (argc != 3 || strcmp(argv[1], "record-kek") != 0) {
        keys_usage(stderr);
        return EX_USAGE;
    }
    errno = 0;
    v = strtoul(argv[2], &end, 10);
    if (errno != 0 || end == argv[2] || *end != 0 || v == 0 || v > UINT32_MAX) {
        fprintf(stderr, "ecluse: keys destroy: VERSION must be a positive integer\n");
        return EX_USAGE;
    }
    rc = lock_data_dir(cli, lock);
    if (rc != 0) {
        return rc;
    }
    rc = ecl_cli_records_open(cli, ECL_STORE_DEFAULT, &h);
    if (rc == 0) {
        rc = destroy_version(cli, &h, (uint32_t)v);
        ecl_cli_records_close(&h);
    }
    unlock_data_dir(cli, lock);
    return rc;
}

static int
keys_rotate(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"keep-old", no_argument, NULL, 'k'},
        {"batch", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    struct ecl_cli_records h;
    struct ecl_kek_rewrap_pos pos;
    char detail[160];
    unsigned long batch = ECL_KEK_REWRAP_BATCH;
    uint64_t old = 0;
    uint64_t total = 0;
    uint32_t current;
    int keep_old = 0;
    int done = 0;
    int lock[2] = {-1, -1};
    int opened = 0;
    int rc;
    int c;
    enum ecl_status st = ECL_OK;

    optind = 0; /* full re-initialisation: options may follow `record-kek` */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'k') {
            keep_old = 1;
        } else if (c == 'b') {
            char *end = NULL;
            errno = 0;
            batch = strtoul(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != 0 || batch == 0 ||
                batch > ECL_KEK_REWRAP_BATCH_MAX) {
                fprintf(stderr, "ecluse: keys rotate: --batch must be 1 to %d\n",
                        ECL_KEK_REWRAP_BATCH_MAX);
                return EX_USAGE;
            }
        } else {
            keys_usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind != argc - 1 || strcmp(argv[optind], "record-kek") != 0) {
        fprintf(stderr, "ecluse: keys rotate: only `record-kek` can be rotated\n");
        return EX_USAGE;
    }
    rc = lock_data_dir(cli, lock);
    if (rc != 0) {
        return rc;
    }
    rc = ecl_cli_records_open(cli, ECL_STORE_DEFAULT, &h);
    if (rc != 0) {
        goto out;
    }
    opened = 1;
    current = ecl_keyring_version(h.kr, ECL_KEY_RECORD_KEK);
    st = current > 1 ? ecl_records_kek_count(h.rec, 1, current - 1, &old) : ECL_OK;
    if (st != ECL_OK) {
        goto out;
    }
    if (old > 0) {
        printf("resuming: %llu data keys still wrapped under older record-kek versions\n",
               (unsigned long long)old);
    } else {
        /* a new version; the keyring is reloaded so that the record layer wraps under it */
        st = ecl_keyring_kek_rotate(cli->data_dir, h.kr, &current);
        if (st != ECL_OK) {
            goto out;
        }
        ecl_cli_records_close(&h);
        opened = 0;
        rc = ecl_cli_records_open(cli, ECL_STORE_DEFAULT, &h);
        if (rc != 0) {
            goto out;
        }
        opened = 1;
        printf("record-kek version %u is current\n", current);
        snprintf(detail, sizeof detail, "record-kek version %u created and made current", current);
        rc = audit_key_event(&h, detail);
        if (rc != 0) {
            goto out;
        }
    }
    memset(&pos, 0, sizeof pos);
    while (!done) {
        uint64_t n = 0;
        st = ecl_records_kek_rewrap(h.rec, &pos, batch, &n, &done);
        if (st != ECL_OK) {
            goto out;
        }
        total += n;
        printf("rewrapped %llu data keys\n", (unsigned long long)total);
        fflush(stdout);
    }
    st = ecl_records_kek_count(h.rec, 1, current - 1, &old);
    if (st != ECL_OK) {
        goto out;
    }
    if (old > 0) {
        fprintf(stderr,
                "ecluse: %llu data keys are still under older versions (written during "
                "the rotation?): run the rotation again\n",
                (unsigned long long)old);
        rc = EX_TEMPFAIL;
        goto out;
    }
    snprintf(detail, sizeof detail, "record-kek rotation to version %u: %llu data keys rewrapped",
             current, (unsigned long long)total);
    rc = audit_key_event(&h, detail);
    for (uint32_t v = 1; v < current && rc == 0 && !keep_old; v++) {
        if (ecl_keyring_kek_present(h.kr, v)) {
            rc = destroy_version(cli, &h, v);
        }
    }
    if (rc == 0 && keep_old) {
        printf("older record-kek versions kept (--keep-old): erased subjects stay readable in "
               "old copies of the store until they are destroyed\n");
    }
out:
    if (st != ECL_OK) {
        rc = ecl_cli_fail("keys rotate", st);
    }
    if (opened) {
        ecl_cli_records_close(&h);
    }
    unlock_data_dir(cli, lock);
    return rc;
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
    if (argc >= 2 && strcmp(argv[1], "rotate") == 0) {
        return keys_rotate(cli, argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "destroy") == 0) {
        return keys_destroy(cli, argc - 1, argv + 1);
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
    for (uint32_t v = 1; v <= ecl_keyring_version(kr, ECL_KEY_RECORD_KEK); v++) {
        printf("record-kek %u: %s\n", v, ecl_keyring_kek_present(kr, v) ? "present" : "destroyed");
    }
    ecl_buf_free(&vkey);
    ecl_keyring_free(kr);
    return EX_OK;
}
