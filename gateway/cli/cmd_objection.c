/* ecluse objection add|remove|list: GDPR Art. 21 objections per subject and dataset. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "audit/audit.h"
#include "records_cli.h"

static void
objection_usage(FILE *f)
{
    fprintf(f, "usage: ecluse [--data DIR] objection add --dataset NAME SUBJECT_ID PURPOSE\n"
               "       ecluse [--data DIR] objection remove --dataset NAME SUBJECT_ID PURPOSE\n"
               "       ecluse [--data DIR] objection list --dataset NAME SUBJECT_ID\n"
               "\n"
               "Records that a citizen objects (GDPR Art. 21) to the use of their record in\n"
               "dataset NAME for PURPOSE (a purpose name of the policy). The policy engine\n"
               "refuses that purpose for that subject. Objections are encrypted with the\n"
               "subject's data key and erased with the record. SUBJECT_ID \"-\" reads the\n"
               "identifier from standard input.\n");
}

/* The objection entry: the purpose, the change, the identifier only inside the encrypted
 * payload. */
static int
audit_objection(struct ecl_cli_records *h, const char *dataset, const char *norm,
                const char *purpose, enum ecl_objection_op op, enum ecl_change changed)
{
    struct ecl_audit_event ev;
    const char *subjects[1] = {norm};
    const char *what = op == ECL_OBJECTION_ADD
                           ? (changed == ECL_CHANGED ? "recorded" : "already recorded")
                           : (changed == ECL_CHANGED ? "removed" : "not recorded");
    char detail[96];

    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_OBJECTION;
    ev.dataset = dataset;
    ev.purpose = purpose;
    ev.subjects = subjects;
    ev.nsubjects = 1;
    snprintf(detail, sizeof detail, "objection %s", what);
    ev.detail = detail;
    return ecl_cli_audit_event(h->store, h->kr, &ev);
}

int
ecl_cmd_objection(struct ecl_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"dataset", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ecl_cli_records h;
    const struct ecl_schema *s = NULL;
    struct ecl_purposes purposes;
    uint8_t skey[ECL_SUBJECT_KEY_LEN];
    char id[ECL_SUBJECT_ID_MAX_LEN + 1];
    char norm[ECL_SUBJECT_ID_MAX_LEN + 1];
    const char *dataset = NULL;
    const char *verb;
    enum ecl_change changed = ECL_UNCHANGED;
    enum ecl_objection_op op = ECL_OBJECTION_ADD;
    size_t len = 0;
    enum ecl_status st;
    int list;
    int c;
    int rc;

    if (ecl_cli_wants_help(argc, argv)) {
        objection_usage(stdout);
        return EX_OK;
    }
    if (argc < 2) {
        objection_usage(stderr);
        return EX_USAGE;
    }
    verb = argv[1];
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dataset = optarg;
            break;
        default:
            objection_usage(stderr);
            return EX_USAGE;
        }
    }
    argc -= 1 + optind;
    argv += 1 + optind;
    list = strcmp(verb, "list") == 0;
    if (strcmp(verb, "remove") == 0) {
        op = ECL_OBJECTION_REMOVE;
    }
    if (dataset == NULL || (list && argc != 1) || (!list && argc != 2) ||
        (!list && strcmp(verb, "add") != 0 && strcmp(verb, "remove") != 0)) {
        objection_usage(stderr);
        return EX_USAGE;
    }
    rc = ecl_cli_subject_arg(argv[0], id, &len);
    if (rc != 0) {
        return rc;
    }
    rc = ecl_cli_records_open(cli, list ? ECL_STORE_READONLY : ECL_STORE_DEFAULT, &h);
    if (rc != 0) {
        ecl_wipe(id, sizeof id);
        return rc;
    }
    st = ecl_records_dataset_get(h.rec, dataset, &s);
    if (st == ECL_OK) {
        st = ecl_records_subject_key(h.rec, s, id, len, skey);
    }
    if (st == ECL_OK && !list && ecl_cli_audit_subject(s, id, len, norm) != 0) {
        st = ECL_ERR_INVALID;
    }
    ecl_wipe(id, sizeof id);
    if (st == ECL_OK && list) {
        st = ecl_records_objections_get(h.rec, dataset, skey, &purposes);
    } else if (st == ECL_OK) {
        st = ecl_records_objection_set(h.rec, dataset, skey, op, argv[1], &changed);
    }
    if (st == ECL_OK && !list) {
        rc = audit_objection(&h, dataset, norm, argv[1], op, changed);
    }
    ecl_wipe(norm, sizeof norm);
    ecl_cli_records_close(&h);
    if (st == ECL_OK && rc != 0) {
        return rc;
    }
    switch (st) {
    case ECL_OK:
        break;
    case ECL_ERR_NOT_FOUND:
        fprintf(stderr, "ecluse: no such dataset or record\n");
        return EX_NOINPUT;
    case ECL_ERR_INVALID:
        fprintf(stderr,
                "ecluse: the purpose must be 1 to %d letters, digits, '_' or '-', "
                "starting with a letter (or the identifier is empty)\n",
                ECL_NAME_MAX_LEN);
        return EX_DATAERR;
    case ECL_ERR_LIMIT:
        fprintf(stderr, "ecluse: at most %d objections per subject and dataset\n",
                ECL_OBJECTIONS_MAX);
        return EX_DATAERR;
    case ECL_ERR_NOMEM:
    case ECL_ERR_EXISTS:
    case ECL_ERR_CRYPTO:
    case ECL_ERR_IO:
    case ECL_ERR_PERM:
    case ECL_ERR_FULL:
    case ECL_ERR_SEALED:
    case ECL_ERR_DENIED:
    case ECL_ERR_CONFLICT:
    case ECL_ERR_INTERNAL:
        return ecl_cli_fail("objection", st);
    }
    if (list) {
        for (size_t i = 0; i < purposes.n; i++) {
            printf("%s\n", purposes.names[i]);
        }
        return EX_OK;
    }
    if (op == ECL_OBJECTION_ADD) {
        printf("objection to %s %s\n", argv[1],
               changed == ECL_CHANGED ? "recorded" : "was already recorded");
    } else {
        printf("objection to %s %s\n", argv[1],
               changed == ECL_CHANGED ? "removed" : "was not recorded");
    }
    return EX_OK;
}
