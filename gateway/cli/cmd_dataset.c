/* ecluse dataset create|list|show: dataset schemas (docs/datasets.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ecl/buf.h"
#include "records_cli.h"

static void
dataset_usage(FILE *f)
{
    fprintf(f, "usage: ecluse [--data DIR] dataset create SCHEMA.json\n"
               "       ecluse [--data DIR] dataset list\n"
               "       ecluse [--data DIR] dataset show NAME\n"
               "\n"
               "create  validates a dataset schema (docs/datasets.md) and creates the dataset.\n"
               "        Every problem is reported with its JSON pointer. A dataset's schema\n"
               "        cannot be changed once created.\n"
               "list    prints each dataset's name and number of records.\n"
               "show    prints a dataset's schema in canonical form (defaults filled in).\n");
}

/* Reads a whole schema file, at most ECL_SCHEMA_MAX_BYTES. */
static int
read_schema(const char *path, struct ecl_buf *out)
{
    uint8_t chunk[4096];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "ecluse: cannot open %s: %s\n", path, strerror(errno));
        return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (ecl_buf_append(out, chunk, n) != ECL_OK) {
            fclose(f);
            fprintf(stderr, "ecluse: %s is larger than %d bytes\n", path, ECL_SCHEMA_MAX_BYTES);
            return EX_DATAERR;
        }
    }
    if (ferror(f)) {
        fclose(f);
        fprintf(stderr, "ecluse: cannot read %s\n", path);
        return EX_IOERR;
    }
    fclose(f);
    return 0;
}

static size_t
count_indexed(const struct ecl_schema *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->nfields; i++) {
        n += s->fields[i].indexed ? 1 : 0;
    }
    return n;
}

static int
dataset_create(struct ecl_cli_records *h, const char *path)
{
    const struct ecl_schema *s = NULL;
    struct ecl_diags diags;
    struct ecl_buf doc;
    enum ecl_status st;
    int rc;

    ecl_buf_init(&doc, ECL_SCHEMA_MAX_BYTES);
    rc = read_schema(path, &doc);
    if (rc != 0) {
        ecl_buf_free(&doc);
        return rc;
    }
    ecl_diags_init(&diags);
    st = ecl_records_dataset_create(h->rec, (const char *)doc.ptr, doc.len, &diags, &s);
    ecl_buf_free(&doc);
    if (st == ECL_ERR_EXISTS) {
        fprintf(stderr, "ecluse: a dataset with this name already exists\n");
        return EX_CANTCREAT;
    }
    if (st != ECL_OK && ecl_diags_count(&diags) > 0) {
        for (size_t i = 0; i < diags.n; i++) {
            fprintf(stderr, "ecluse: %s: %s: %s\n", path,
                    diags.items[i].path[0] ? diags.items[i].path : "(document)",
                    diags.items[i].reason);
        }
        if (diags.dropped > 0) {
            fprintf(stderr, "ecluse: %s: %zu more problems not shown\n", path, diags.dropped);
        }
        return EX_DATAERR;
    }
    if (st != ECL_OK) {
        return ecl_cli_fail("cannot create the dataset", st);
    }
    printf("created dataset %s: %zu fields, subject identifier %s, %zu indexed\n", s->name,
           s->nfields, s->fields[s->subject_field].name, count_indexed(s));
    return EX_OK;
}

static int
dataset_list(struct ecl_cli_records *h)
{
    json_t *names = NULL;
    json_t *v;
    size_t i;
    enum ecl_status st = ecl_records_dataset_list(h->rec, &names);

    if (st != ECL_OK) {
        return ecl_cli_fail("cannot list the datasets", st);
    }
    json_array_foreach(names, i, v)
    {
        uint64_t n = 0;
        st = ecl_records_count(h->rec, json_string_value(v), &n);
        if (st != ECL_OK) {
            json_decref(names);
            return ecl_cli_fail("cannot count the records", st);
        }
        printf("%s %llu\n", json_string_value(v), (unsigned long long)n);
    }
    json_decref(names);
    return EX_OK;
}

static int
dataset_show(struct ecl_cli_records *h, const char *name)
{
    const struct ecl_schema *s = NULL;
    enum ecl_status st = ecl_records_dataset_get(h->rec, name, &s);
    char *text;

    if (st == ECL_ERR_NOT_FOUND) {
        fprintf(stderr, "ecluse: no such dataset\n");
        return EX_NOINPUT;
    }
    if (st != ECL_OK) {
        return ecl_cli_fail("cannot read the dataset", st);
    }
    text = json_dumps(ecl_schema_json(s), JSON_INDENT(2));
    if (text == NULL) {
        return ecl_cli_fail("cannot print the schema", ECL_ERR_NOMEM);
    }
    printf("%s\n", text);
    free(text);
    return EX_OK;
}

int
ecl_cmd_dataset(struct ecl_cli *cli, int argc, char **argv)
{
    struct ecl_cli_records h;
    int rc;

    if (ecl_cli_wants_help(argc, argv)) {
        dataset_usage(stdout);
        return EX_OK;
    }
    if (argc < 2 || (strcmp(argv[1], "create") == 0 && argc != 3) ||
        (strcmp(argv[1], "list") == 0 && argc != 2) ||
        (strcmp(argv[1], "show") == 0 && argc != 3) ||
        (strcmp(argv[1], "create") != 0 && strcmp(argv[1], "list") != 0 &&
         strcmp(argv[1], "show") != 0)) {
        dataset_usage(stderr);
        return EX_USAGE;
    }
    rc = ecl_cli_records_open(
        cli, strcmp(argv[1], "create") == 0 ? ECL_STORE_DEFAULT : ECL_STORE_READONLY, &h);
    if (rc != 0) {
        return rc;
    }
    if (strcmp(argv[1], "create") == 0) {
        rc = dataset_create(&h, argv[2]);
    } else if (strcmp(argv[1], "list") == 0) {
        rc = dataset_list(&h);
    } else {
        rc = dataset_show(&h, argv[2]);
    }
    ecl_cli_records_close(&h);
    return rc;
}
