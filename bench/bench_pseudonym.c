/* Pseudonyms per second on one core, and a collision check over many pseudonyms.
 *
 *   bench_pseudonym rate [N]        N identifiers (default 5,000,000) through: a bare keyed
 *                                   BLAKE2b-128 (baseline), the pseudonym tag, the hot path
 *                                   (ecl_pseudonym_tag + render: cached domain key, no
 *                                   allocation), and the whole ecl_transform_apply (normalise,
 *                                   canonical form, cached domain key, JSON in and out).
 *   bench_pseudonym collisions [N]  N distinct identifiers (default 10,000,000), sorts the
 *                                   128-bit pseudonyms and counts equal neighbours.
 * Prints figures and ratios; asserts nothing about time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ecl/crypto.h"
#include "ecl/transform.h"

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A NIR-like identifier of 15 digits, as its canonical form 's' || digits (16 bytes). */
static size_t
ident(size_t i, uint8_t *out)
{
    return (size_t)snprintf((char *)out, 32, "s1850578%08zu", i);
}

static volatile uint8_t sink;

static int
bench_rate(size_t n)
{
    uint8_t root[ECL_KEY_LEN];
    uint8_t key[ECL_KEY_LEN];
    uint8_t canon[32];
    uint8_t tag[ECL_PSEUDONYM_TAG_LEN];
    char ps[ECL_PSEUDONYM_MAX_LEN + 1];
    struct ecl_domain d;
    struct ecl_pseudonym_key k;
    double t0;
    double base;
    double hot;
    double tag_only;
    double full;

    ecl_crypto_random(root, sizeof root);
    if (ecl_domain_init(ECL_DOMAIN_AGENT_PURPOSE, "agent-a", "benefits-check", NULL, &d) !=
        ECL_OK) {
        return 1;
    }
    ecl_pseudonym_key_init(root, 1, &d, &k);
    ecl_crypto_random(key, sizeof key);

    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        size_t len = ident(i, canon);
        ecl_crypto_blake2b(tag, sizeof tag, key, sizeof key, canon, len);
        sink ^= tag[0];
    }
    base = (double)n / (now_s() - t0);

    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        size_t len = ident(i, canon);
        ecl_pseudonym_tag(&k, canon, len, tag);
        sink ^= tag[0];
    }
    tag_only = (double)n / (now_s() - t0);

    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        size_t len = ident(i, canon);
        ecl_pseudonym_tag(&k, canon, len, tag);
        sink ^= (uint8_t)ecl_pseudonym_render(k.epoch, tag, ps);
    }
    hot = (double)n / (now_s() - t0);

    /* the whole transform, with a real keyring in a temporary directory */
    char dir[] = "/tmp/eclbench.XXXXXX";
    struct ecl_keyring *kr = NULL;
    struct ecl_transform_ctx ctx;
    struct ecl_action act = {.kind = ECL_ACT_PSEUDONYMIZE, .domain = ECL_DOMAIN_AGENT_PURPOSE};
    struct ecl_field f = {.type = ECL_FT_STRING, .normalize = ECL_NORM_DIGITS};
    char text[64];
    size_t nfull = n / 4;

    if (mkdtemp(dir) == NULL || ecl_keyring_create(dir, NULL, NULL) != ECL_OK ||
        ecl_keyring_load(dir, NULL, &kr) != ECL_OK) {
        fprintf(stderr, "bench_pseudonym: cannot create a keyring in %s\n", dir);
        return 1;
    }
    ecl_transform_ctx_init(&ctx, kr, "agent-a", "benefits-check", 1718409600);
    t0 = now_s();
    for (size_t i = 0; i < nfull; i++) {
        snprintf(text, sizeof text, "1 85 05 78 %08zu", i);
        json_t *in = json_string(text);
        json_t *out = NULL;
        if (in == NULL || ecl_transform_apply(&ctx, &act, &f, in, &out) != ECL_OK) {
            return 1;
        }
        sink ^= (uint8_t)json_string_value(out)[5];
        json_decref(out);
        json_decref(in);
    }
    full = (double)nfull / (now_s() - t0);
    ecl_transform_ctx_free(&ctx);
    ecl_keyring_free(kr);
    snprintf(text, sizeof text, "%s/keyring", dir);
    unlink(text);
    snprintf(text, sizeof text, "%s/master.key", dir);
    unlink(text);
    rmdir(dir);
    ecl_pseudonym_key_wipe(&k);

    printf("identifiers: 15 characters (16-byte canonical form), one core\n");
    printf("keyed BLAKE2b-128 from the key each time (baseline): %12.0f /s\n", base);
    printf("pseudonym tag (keyed BLAKE2b-128, domain key):     %12.0f /s  (x%.2f baseline)\n",
           tag_only, tag_only / base);
    printf("pseudonym hot path (tag + render):                 %12.0f /s  (x%.2f baseline)\n", hot,
           hot / base);
    printf("ecl_transform_apply incl. JSON in and out:         %12.0f /s  (x%.2f baseline)\n", full,
           full / base);
    return 0;
}

static int
cmp16(const void *a, const void *b)
{
    return memcmp(a, b, ECL_PSEUDONYM_TAG_LEN);
}

static int
bench_collisions(size_t n)
{
    uint8_t root[ECL_KEY_LEN];
    uint8_t canon[32];
    struct ecl_domain d;
    struct ecl_pseudonym_key k;
    uint8_t(*tags)[ECL_PSEUDONYM_TAG_LEN] = calloc(n, ECL_PSEUDONYM_TAG_LEN);
    size_t coll = 0;
    double t0 = now_s();
    double t1;

    if (tags == NULL || ecl_domain_init(ECL_DOMAIN_AGENT, "agent-a", NULL, NULL, &d) != ECL_OK) {
        fprintf(stderr, "bench_pseudonym: out of memory\n");
        return 1;
    }
    ecl_crypto_random(root, sizeof root);
    ecl_pseudonym_key_init(root, 1, &d, &k);
    for (size_t i = 0; i < n; i++) {
        size_t len = ident(i, canon);
        ecl_pseudonym_tag(&k, canon, len, tags[i]);
    }
    t1 = now_s();
    qsort(tags, n, ECL_PSEUDONYM_TAG_LEN, cmp16);
    for (size_t i = 1; i < n; i++) {
        if (cmp16(tags[i - 1], tags[i]) == 0) {
            coll++;
        }
    }
    printf("%zu pseudonyms of distinct identifiers in %.2f s, sorted in %.2f s\n", n, t1 - t0,
           now_s() - t1);
    printf("collisions: %zu (expected about n^2/2^129 = %.3g)\n", coll,
           (double)n * (double)n / 6.80564733841877e38);
    ecl_pseudonym_key_wipe(&k);
    free(tags);
    return coll == 0 ? 0 : 2;
}

int
main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "rate";
    size_t n = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 0;

    ecl_crypto_init();
    if (strcmp(mode, "rate") == 0) {
        return bench_rate(n ? n : 5000000);
    }
    if (strcmp(mode, "collisions") == 0) {
        return bench_collisions(n ? n : 10000000);
    }
    fprintf(stderr, "usage: bench_pseudonym [rate [N] | collisions [N]]\n");
    return 64;
}
