/* Helpers shared by the record-store subcommands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "records_cli.h"

int
ecl_cli_records_open(struct ecl_cli *cli, enum ecl_store_flags flags, struct ecl_cli_records *out)
{
    enum ecl_status st;
    int rc;

    memset(out, 0, sizeof *out);
    out->lock_fd = -1;
    if ((flags & ECL_STORE_READONLY) == 0 && !cli->keyring_locked) {
        /* taken before the keyring is loaded: a rotation cannot destroy the KEK version this
         * command is about to wrap data keys under */
        st = ecl_store_lock(cli->data_dir, ECL_LOCK_KEYRING, ECL_LOCK_SHARED, &out->lock_fd);
        if (st == ECL_ERR_CONFLICT) {
            fprintf(stderr,
                    "ecluse: a key rotation is running on %s: try again when it has "
                    "finished\n",
                    cli->data_dir);
            return EX_TEMPFAIL;
        }
        if (st != ECL_OK && st != ECL_ERR_NOT_FOUND) {
            return ecl_cli_fail("cannot lock the keyring", st);
        }
    }
    rc = ecl_cli_open(cli, flags, &out->kr, &out->store);
    if (rc != 0) {
        ecl_store_unlock(out->lock_fd);
        out->lock_fd = -1;
        return rc;
    }
    st = ecl_records_open(out->store, out->kr, &out->rec);
    if (st != ECL_OK) {
        ecl_cli_records_close(out);
        return ecl_cli_fail("cannot open the record store", st);
    }
    return 0;
}

void
ecl_cli_records_close(struct ecl_cli_records *h)
{
    ecl_records_close(h->rec);
    ecl_store_close(h->store);
    ecl_keyring_free(h->kr);
    ecl_store_unlock(h->lock_fd);
    memset(h, 0, sizeof *h);
    h->lock_fd = -1;
}

int
ecl_cli_subject_arg(const char *arg, char out[ECL_SUBJECT_ID_MAX_LEN + 1], size_t *len)
{
    size_t n;

    if (strcmp(arg, "-") != 0) {
        n = strlen(arg);
        if (n > ECL_SUBJECT_ID_MAX_LEN) {
            fprintf(stderr, "ecluse: the subject identifier is longer than %d bytes\n",
                    ECL_SUBJECT_ID_MAX_LEN);
            return EX_DATAERR;
        }
        memcpy(out, arg, n + 1);
        *len = n;
        return 0;
    }
    if (fgets(out, ECL_SUBJECT_ID_MAX_LEN + 1, stdin) == NULL) {
        fprintf(stderr, "ecluse: expected the subject identifier on standard input\n");
        return EX_DATAERR;
    }
    n = strcspn(out, "\r\n");
    if (out[n] == 0 && n == ECL_SUBJECT_ID_MAX_LEN) {
        fprintf(stderr, "ecluse: the subject identifier is longer than %d bytes\n",
                ECL_SUBJECT_ID_MAX_LEN);
        return EX_DATAERR;
    }
    out[n] = 0;
    *len = n;
    return 0;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
progress(void *ctx, uint64_t records, uint64_t bytes)
{
    (void)ctx;
    fprintf(stderr, "\rimporting: %llu records, %.1f MB read", (unsigned long long)records,
            (double)bytes / 1e6);
    fflush(stderr);
}

int
ecl_cli_import_stream(struct ecl_records *rec, const char *dataset, const char *label, FILE *f,
                      enum ecl_import_format format)
{
    struct ecl_import_result res;

    return ecl_cli_import_stream_result(rec, dataset, label, f, format, &res);
}

int
ecl_cli_import_stream_result(struct ecl_records *rec, const char *dataset, const char *label,
                             FILE *f, enum ecl_import_format format, struct ecl_import_result *out)
{
    struct ecl_import_error err;
    struct ecl_import_result res;
    int tty = isatty(STDERR_FILENO);
    double t0 = now_s();
    enum ecl_status st;

    st = ecl_records_import(rec, dataset, f, format, tty ? progress : NULL, NULL, &err, &res);
    if (tty) {
        fprintf(stderr, "\r\033[K");
    }
    if (st != ECL_OK) {
        fprintf(stderr, "ecluse: import: %s", label);
        if (err.line > 0) {
            fprintf(stderr, " line %llu", (unsigned long long)err.line);
        }
        if (err.field[0] != 0) {
            fprintf(stderr, ", field %s", err.field);
        }
        fprintf(stderr, ": %s", err.reason != NULL ? err.reason : ecl_status_name(st));
        if (st == ECL_ERR_LIMIT && err.field[0] == 0) {
            fprintf(stderr, " (%d bytes)", ECL_RECORD_MAX_BYTES);
        }
        if (st == ECL_ERR_CONFLICT && err.other_line > 0) {
            fprintf(stderr, " (first on line %llu)", (unsigned long long)err.other_line);
        }
        fprintf(stderr, "; nothing was imported\n");
        /* a subject given twice is bad input data, not a busy store */
        return st == ECL_ERR_CONFLICT ? EX_DATAERR : ecl_status_exit_code(st);
    }
    printf("imported %llu records into %s (%llu new, %llu updated) in %.1f s\n",
           (unsigned long long)res.records, dataset, (unsigned long long)res.inserted,
           (unsigned long long)res.updated, now_s() - t0);
    *out = res;
    return EX_OK;
}

int
ecl_cli_import_file(struct ecl_records *rec, const char *dataset, const char *path,
                    enum ecl_import_format format, struct ecl_import_result *out)
{
    FILE *f = stdin;
    int rc;

    if (strcmp(path, "-") != 0) {
        f = fopen(path, "rb");
        if (f == NULL) {
            fprintf(stderr, "ecluse: import: cannot open %s: %s\n", path, strerror(errno));
            return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
        }
    }
    rc = ecl_cli_import_stream_result(rec, dataset, path, f, format, out);
    if (f != stdin) {
        fclose(f);
    }
    return rc;
}
