/* libFuzzer target for the import line parsers (gateway/store/import.c): JSON Lines and CSV
 * records read through a FILE (fmemopen), validated against the demo citizens schema and put in
 * a store opened once in a temporary directory.  The first input byte picks the format (even:
 * JSON Lines, odd: CSV); the rest is the file.  An import either succeeds or fails with a line
 * number and a reason; nothing may crash or leak. */
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "ecl/crypto.h"
#include "ecl/diag.h"
#include "store/records.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char DIR_[] = "/tmp/ecl-fuzz-import.XXXXXX";
static struct ecl_keyring *KR;
static struct ecl_store *STORE;
static struct ecl_records *REC;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
teardown(void)
{
    ecl_records_close(REC);
    ecl_store_close(STORE);
    ecl_keyring_free(KR);
    (void)nftw(DIR_, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
    struct ecl_diags d;

    ecl_crypto_init();
    if (mkdtemp(DIR_) == NULL || ecl_keyring_create(DIR_, NULL, NULL) != ECL_OK ||
        ecl_store_create(DIR_) != ECL_OK || ecl_keyring_load(DIR_, NULL, &KR) != ECL_OK ||
        ecl_store_open(DIR_, ECL_STORE_DEFAULT, &STORE) != ECL_OK ||
        ecl_records_open(STORE, KR, &REC) != ECL_OK) {
        abort();
    }
    ecl_diags_init(&d);
    if (ecl_records_dataset_create(REC, ecl_asset_citizens_schema, ecl_asset_citizens_schema_len,
                                   &d, NULL) != ECL_OK) {
        abort();
    }
    atexit(teardown);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ecl_import_error err;
    struct ecl_import_result res;
    enum ecl_import_format fmt;
    FILE *f;

    if (REC == NULL) {
        setup();
    }
    if (size < 2) {
        return 0;
    }
    fmt = (data[0] & 1) ? ECL_IMPORT_CSV : ECL_IMPORT_JSONL;
    f = fmemopen((void *)(uintptr_t)(data + 1), size - 1, "rb");
    if (f == NULL) {
        abort();
    }
    if (ecl_records_import(REC, "citizens", f, fmt, NULL, NULL, &err, &res) != ECL_OK &&
        err.reason == NULL) {
        abort(); /* every refusal says why */
    }
    fclose(f);
    return 0;
}
