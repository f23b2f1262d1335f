/* ecluse erase: GDPR Art. 17 erasure by crypto-shredding (docs/erasure.md). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "audit/audit.h"
#include "records_cli.h"

static void
erase_usage(FILE *f)
{
    fprintf(f, "usage: ecluse [--data DIR] erase --dataset NAME SUBJECT_ID\n"
               "\n"
               "Erases a subject from one dataset (GDPR Art. 17), in one transaction: destroys\n"
               "the subject's wrapped data key, so the record can never be decrypted again, and\n"
               "deletes the ciphertext, its blind-index entries and its objections. Running it\n"
               "again is harmless (exit 0, nothing left to erase). SUBJECT_ID \"-\" reads the\n"
               "identifier from standard input. What erasure does not cover: docs/erasure.md.\n");
}

/* The erasure entry: the identifier only inside the encrypted payload, what was removed. */
static int
audit_erasure(struct ecl_cli_records *h, const char *dataset, const char *norm,
              const struct ecl_erase_result *res)
{
    struct ecl_audit_event ev;
    const char *subjects[1] = {norm};
    char detail[160];

    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_ERASURE;
    ev.dataset = dataset;
    ev.subjects = subjects;
    ev.nsubjects = 1;
    snprintf(detail, sizeof detail,
             "erasure: data key %s, record %s, %zu index entries deleted, objections %s",
             res->data_key ? "destroyed" : "absent", res->record ? "deleted" : "absent",
             res->index_entries, res->objections ? "deleted" : "none");
    ev.detail = detail;
    return ecl_cli_audit_event(h->store, h->kr, &ev);
}

int
ecl_cmd_erase(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dataset", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ecl_cli_records h;
    const struct ecl_schema *s = NULL;
    struct ecl_erase_result res;
    uint8_t skey[ECL_SUBJECT_KEY_LEN];
    char id[ECL_SUBJECT_ID_MAX_LEN + 1];
    char norm[ECL_SUBJECT_ID_MAX_LEN + 1];
    const char *dataset = NULL;
    size_t len = 0;
    enum ecl_status st;
    int c;
    int rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dataset = optarg;
            break;
        case 'h':
            erase_usage(stdout);
            return EX_OK;
        default:
            erase_usage(stderr);
            return EX_USAGE;
        }
    }
    if (dataset == NULL || optind != argc - 1) {
        erase_usage(stderr);
        return EX_USAGE;
    }
    rc = ecl_cli_subject_arg(argv[optind], id, &len);
    if (rc != 0) {
        return rc;
    }
    rc = ecl_cli_records_open(cli, ECL_STORE_DEFAULT, &h);
    if (rc != 0) {
        ecl_wipe(id, sizeof id);
        return rc;
    }
    st = ecl_records_dataset_get(h.rec, dataset, &s);
    if (st == ECL_OK) {
        st = ecl_records_subject_key(h.rec, s, id, len, skey);
    }
    if (st == ECL_OK && ecl_cli_audit_subject(s, id, len, norm) != 0) {
        st = ECL_ERR_INVALID;
    }
    ecl_wipe(id, sizeof id);
    if (st == ECL_OK) {
        st = ecl_records_erase(h.rec, dataset, skey, &res);
    }
    if (st == ECL_OK) {
        rc = audit_erasure(&h, dataset, norm, &res);
    }
    ecl_wipe(norm, sizeof norm);
    ecl_cli_records_close(&h);
    if (st == ECL_ERR_NOT_FOUND) {
        fprintf(stderr, "ecluse: no such dataset\n");
        return EX_NOINPUT;
    }
    if (st == ECL_ERR_INVALID) {
        fprintf(stderr, "ecluse: the subject identifier is empty once normalised\n");
        return EX_DATAERR;
    }
    if (st != ECL_OK) {
        return ecl_cli_fail("erase", st);
    }
    if (rc != 0) {
        return rc;
    }
    if (!res.record && !res.data_key && res.index_entries == 0 && !res.objections) {
        printf("nothing to erase: nothing of this subject is left in %s\n", dataset);
        return EX_OK;
    }
    printf("erased from %s: data key %s, record %s, %zu index entries deleted, objections %s\n",
           dataset, res.data_key ? "destroyed" : "absent", res.record ? "deleted" : "absent",
           res.index_entries, res.objections ? "deleted" : "none");
    return EX_OK;
}
