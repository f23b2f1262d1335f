/* ecluse record get|find: an operator's tool that prints decrypted records. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "records_cli.h"

static void
record_usage(FILE *f)
{
    fprintf(f,
            "usage: ecluse [--data DIR] record get --dataset NAME SUBJECT_ID\n"
            "       ecluse [--data DIR] record find --dataset NAME [--limit N] FIELD VALUE\n"
            "\n"
            "Operator tool: prints decrypted records as JSON, one per line. It bypasses the\n"
            "policy and is meant for the data controller's administrators only (it needs the\n"
            "master key). SUBJECT_ID \"-\" reads the identifier from standard input, which keeps\n"
            "it out of the process list.\n"
            "\n"
            "get   the record of one subject (exit 66 when there is none)\n"
            "find  the records whose indexed FIELD equals VALUE (after the field's\n"
            "      normalisation), at most N (default 100) in subject-key order\n");
}

static int
print_record(json_t *rec)
{
    int rc = json_dumpf(rec, stdout, JSON_COMPACT);

    json_decref(rec);
    if (rc != 0 || fputc('\n', stdout) == EOF) {
        return EX_IOERR;
    }
    return EX_OK;
}

static int
record_get(struct ecl_cli_records *h, const char *dataset, const char *arg)
{
    char id[ECL_SUBJECT_ID_MAX_LEN + 1];
    size_t len = 0;
    json_t *rec = NULL;
    enum ecl_status st;
    int rc = ecl_cli_subject_arg(arg, id, &len);

    if (rc != 0) {
        return rc;
    }
    st = ecl_records_get_by_id(h->rec, dataset, id, len, &rec);
    ecl_wipe(id, sizeof id);
    if (st == ECL_ERR_NOT_FOUND) {
        fprintf(stderr, "ecluse: no such record\n");
        return EX_NOINPUT;
    }
    if (st == ECL_ERR_INVALID) {
        fprintf(stderr, "ecluse: the subject identifier is empty once normalised\n");
        return EX_DATAERR;
    }
    if (st != ECL_OK) {
        return ecl_cli_fail("cannot read the record", st);
    }
    return print_record(rec);
}

static int
record_find(struct ecl_cli_records *h, const char *dataset, const char *field, const char *value,
            size_t limit)
{
    uint8_t(*keys)[ECL_SUBJECT_KEY_LEN] = calloc(ECL_RECORDS_PAGE_MAX, sizeof *keys);
    uint8_t after[ECL_SUBJECT_KEY_LEN];
    size_t printed = 0;
    size_t n = 0;
    int have_after = 0;
    enum ecl_status st = ECL_OK;
    int rc = EX_OK;

    if (keys == NULL) {
        return ecl_cli_fail("find", ECL_ERR_NOMEM);
    }
    while (printed < limit && rc == EX_OK) {
        size_t want =
            limit - printed < ECL_RECORDS_PAGE_MAX ? limit - printed : ECL_RECORDS_PAGE_MAX;
        st = ecl_records_lookup(h->rec, dataset, field, value, strlen(value),
                                have_after ? after : NULL, want, keys, &n);
        if (st != ECL_OK) {
            break;
        }
        for (size_t i = 0; i < n && rc == EX_OK; i++) {
            json_t *rec = NULL;
            st = ecl_records_get(h->rec, dataset, keys[i], &rec);
            if (st != ECL_OK) {
                break;
            }
            rc = print_record(rec);
            printed++;
        }
        if (st != ECL_OK || n < want) {
            break;
        }
        memcpy(after, keys[n - 1], sizeof after);
        have_after = 1;
    }
    free(keys);
    if (st == ECL_ERR_NOT_FOUND) {
        fprintf(stderr, "ecluse: no such dataset or field\n");
        return EX_NOINPUT;
    }
    if (st == ECL_ERR_INVALID) {
        fprintf(stderr, "ecluse: this field is not indexed\n");
        return EX_USAGE;
    }
    if (st != ECL_OK) {
        return ecl_cli_fail("find", st);
    }
    return rc;
}

int
ecl_cmd_record(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dataset", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ecl_cli_records h;
    const char *dataset = NULL;
    const char *verb;
    unsigned long limit = 100;
    char *end = NULL;
    int c;
    int rc;

    if (ecl_cli_wants_help(argc, argv)) {
        record_usage(stdout);
        return EX_OK;
    }
    if (argc < 2) {
        record_usage(stderr);
        return EX_USAGE;
    }
    verb = argv[1];
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dataset = optarg;
            break;
        case 'l':
            limit = strtoul(optarg, &end, 10);
            if (*optarg == 0 || *end != 0 || limit == 0 || limit > 1000000) {
                fprintf(stderr, "ecluse: --limit is a number from 1 to 1000000\n");
                return EX_USAGE;
            }
            break;
        default:
            record_usage(stderr);
            return EX_USAGE;
        }
    }
    argc -= 1 + optind;
    argv += 1 + optind;
    if (dataset == NULL || (strcmp(verb, "get") == 0 && argc != 1) ||
        (strcmp(verb, "find") == 0 && argc != 2) ||
        (strcmp(verb, "get") != 0 && strcmp(verb, "find") != 0)) {
        record_usage(stderr);
        return EX_USAGE;
    }
    rc = ecl_cli_records_open(cli, ECL_STORE_READONLY, &h);
    if (rc != 0) {
        return rc;
    }
    if (strcmp(verb, "get") == 0) {
        rc = record_get(&h, dataset, argv[0]);
    } else {
        rc = record_find(&h, dataset, argv[0], argv[1], limit);
    }
    ecl_cli_records_close(&h);
    return rc;
}
