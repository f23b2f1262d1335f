/* Field transforms: published vectors (tests/vectors/transforms.json, computed in Python by
 * gen_transforms.py), stability, unlinkability, token tampering, the look-up index keys. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "ecl/crypto.h"
#include "ecl/transform.h"
#include "testutil.h"

static const char *AGENT = "agent-a";
static const char *PURPOSE = "benefits-check";
static const int64_t NOW = 1718409600; /* 2024-06-15T00:00:00Z */

struct fixture {
    char *dir;
    char *keypath;
    struct ecl_keyring *kr;
    uint8_t master[ECL_MASTER_KEY_LEN];
};

static void
write_file(const char *path, const void *p, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static struct ecl_keyring *
keyring_load(struct fixture *fx)
{
    struct ecl_key_source src = {.kind = ECL_KEY_SOURCE_FILE, .path = fx->keypath};
    struct ecl_keyring *kr = NULL;

    assert_int_equal(ecl_keyring_load(fx->dir, &src, &kr), ECL_OK);
    return kr;
}

/* A keyring whose master key is 00 01 .. 1f, as in the vectors. */
static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    struct ecl_key_source src = {.kind = ECL_KEY_SOURCE_FILE};

    ecl_crypto_init();
    for (int i = 0; i < ECL_MASTER_KEY_LEN; i++) {
        fx->master[i] = (uint8_t)i;
    }
    fx->dir = tu_tmpdir();
    assert_true(asprintf(&fx->keypath, "%s/provisioned.key", fx->dir) > 0);
    write_file(fx->keypath, fx->master, sizeof fx->master, 0600);
    src.path = fx->keypath;
    assert_int_equal(ecl_keyring_create(fx->dir, &src, NULL), ECL_OK);
    fx->kr = keyring_load(fx);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;

    ecl_keyring_free(fx->kr);
    tu_rmtree(fx->dir);
    free(fx->keypath);
    free(fx->dir);
    free(fx);
    return 0;
}

/* ---- reading the vectors -------------------------------------------------------------------- */

static int
name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], s) == 0) {
            return (int)i;
        }
    }
    fail_msg("unknown name %s", s);
    return -1;
}

static const char *const KINDS[] = {"allow", "pseudonymize", "tokenize",
                                    "mask",  "generalize",   "redact"};
static const char *const DOMAINS[] = {"agent", "purpose", "agent_purpose", "shared"};
static const char *const GENS[] = {"date_year", "date_month", "age_band", "number_bucket",
                                   "string_prefix"};
static const char *const TYPES[] = {"string", "integer", "number", "boolean", "date", "enum"};
static const char *const NORMS[] = {"exact", "trim", "email", "digits", "alnum_upper"};

static void
action_from_json(const json_t *j, struct ecl_action *a)
{
    const json_t *v;

    memset(a, 0, sizeof *a);
    a->kind = (enum ecl_action_kind)name_index(KINDS, ECL_ACT_COUNT,
                                               json_string_value(json_object_get(j, "kind")));
    if ((v = json_object_get(j, "domain")) != NULL) {
        a->domain =
            (enum ecl_link_domain)name_index(DOMAINS, ECL_DOMAIN_COUNT, json_string_value(v));
    }
    if ((v = json_object_get(j, "shared_domain")) != NULL) {
        snprintf(a->shared_domain, sizeof a->shared_domain, "%s", json_string_value(v));
    }
    if ((v = json_object_get(j, "gen")) != NULL) {
        a->gen = (enum ecl_generalize_kind)name_index(GENS, ECL_GEN_COUNT, json_string_value(v));
    }
    a->keep_first = (unsigned)json_integer_value(json_object_get(j, "keep_first"));
    a->keep_last = (unsigned)json_integer_value(json_object_get(j, "keep_last"));
    a->band_years = (unsigned)json_integer_value(json_object_get(j, "band_years"));
    a->prefix_len = (unsigned)json_integer_value(json_object_get(j, "prefix_len"));
    a->bucket_width = json_number_value(json_object_get(j, "bucket_width"));
}

static void
field_from_json(const json_t *j, struct ecl_field *f)
{
    const json_t *n = json_object_get(j, "normalize");

    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "f");
    f->type = (enum ecl_field_type)name_index(TYPES, ECL_FT_COUNT,
                                              json_string_value(json_object_get(j, "type")));
    f->normalize = n ? (enum ecl_normalize)name_index(NORMS, ECL_NORM_COUNT, json_string_value(n))
                     : ECL_NORM_EXACT;
}

/* {"$repeat": [[text, count], ...]} or the value itself; a new reference. */
static json_t *
expand(json_t *v)
{
    const json_t *parts = json_is_object(v) ? json_object_get(v, "$repeat") : NULL;
    struct ecl_buf b;
    size_t i;
    json_t *p;
    json_t *out;

    if (parts == NULL) {
        return json_incref(v);
    }
    ecl_buf_init(&b, 1 << 20);
    json_array_foreach(parts, i, p)
    {
        const char *t = json_string_value(json_array_get(p, 0));
        json_int_t n = json_integer_value(json_array_get(p, 1));
        for (json_int_t k = 0; k < n; k++) {
            assert_int_equal(ecl_buf_append_str(&b, t), ECL_OK);
        }
    }
    out = json_stringn((const char *)b.ptr, b.len);
    ecl_buf_free(&b);
    return out;
}

static json_t *
vectors_load(void)
{
    char *path = tu_vector_path("transforms.json");
    size_t len = 0;
    char *text = tu_read_file(path, &len);
    const char *why = NULL;
    json_t *doc = ecl_json_load(text, len, ECL_JSON_MAX_DEPTH, &why, NULL);

    assert_non_null(doc);
    free(text);
    free(path);
    return doc;
}

static enum ecl_status
status_of(const char *s)
{
    if (strcmp(s, "ok") == 0) {
        return ECL_OK;
    }
    if (strcmp(s, "invalid") == 0) {
        return ECL_ERR_INVALID;
    }
    assert_string_equal(s, "limit");
    return ECL_ERR_LIMIT;
}

static void
test_vectors(void **state)
{
    struct fixture *fx = *state;
    json_t *doc = vectors_load();
    const json_t *cases = json_object_get(doc, "cases");
    size_t i;
    json_t *c;
    int tokens = 0;

    assert_true(json_array_size(cases) > 100);
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const json_t *now = json_object_get(c, "now");
        struct ecl_transform_ctx ctx;
        struct ecl_action act;
        struct ecl_field field;
        json_t *in = expand(json_object_get(c, "in"));
        json_t *out = NULL;
        enum ecl_status want = status_of(json_string_value(json_object_get(c, "status")));
        enum ecl_status got;

        action_from_json(json_object_get(c, "action"), &act);
        field_from_json(json_object_get(c, "field"), &field);
        ecl_transform_ctx_init(&ctx, fx->kr, AGENT, PURPOSE,
                               now ? (int64_t)json_integer_value(now) : NOW);
        got = ecl_transform_apply(&ctx, &act, &field, in, &out);
        if (got != want) {
            fail_msg("%s: status %s, want %s", name, ecl_status_name(got), ecl_status_name(want));
        }
        if (want == ECL_OK) {
            const json_t *exp = json_object_get(c, "out");
            const json_t *sha = json_object_get(c, "out_sha256");
            if (sha != NULL) {
                uint8_t want_h[ECL_HASH_LEN];
                uint8_t got_h[ECL_HASH_LEN];
                assert_true(json_is_string(out));
                tu_unhex(json_string_value(sha), want_h, sizeof want_h);
                ecl_crypto_sha256(got_h, json_string_value(out), json_string_length(out));
                assert_memory_equal(got_h, want_h, sizeof got_h);
            } else if (!json_equal(out, (json_t *)exp)) {
                char *a = json_dumps(out, JSON_ENCODE_ANY);
                fail_msg("%s: got %s", name, a);
            }
            if (act.kind == ECL_ACT_TOKENIZE && !json_is_null(in)) {
                /* round trip through the DPO's re-identification path */
                struct ecl_domain d;
                json_t *back = NULL;
                uint8_t c1[ECL_TOKEN_MAX_PLAIN + 1];
                uint8_t c2[ECL_TOKEN_MAX_PLAIN + 1];
                size_t l1 = 0;
                size_t l2 = 0;
                assert_int_equal(ecl_transform_domain(&ctx, &act, &d), ECL_OK);
                assert_int_equal(ecl_token_open(fx->kr, &d, json_string_value(out),
                                                json_string_length(out), &back),
                                 ECL_OK);
                assert_int_equal(ecl_transform_value_canon(&field, in, c1, sizeof c1, &l1), ECL_OK);
                assert_int_equal(ecl_transform_value_canon(&field, back, c2, sizeof c2, &l2),
                                 ECL_OK);
                assert_int_equal(l1, l2);
                assert_memory_equal(c1, c2, l1);
                json_decref(back);
                tokens++;
            }
        }
        json_decref(out);
        json_decref(in);
        ecl_transform_ctx_free(&ctx);
    }
    assert_true(tokens >= 8);
    json_decref(doc);
}

static void
test_epoch_vectors(void **state)
{
    struct fixture *fx = *state;
    json_t *doc = vectors_load();
    size_t i;
    json_t *c;

    json_array_foreach(json_object_get(doc, "epochs"), i, c)
    {
        uint32_t epoch = (uint32_t)json_integer_value(json_object_get(c, "epoch"));
        const char *kind = json_string_value(json_object_get(c, "domain"));
        const char *hex = json_string_value(json_object_get(c, "canon_hex"));
        const char *want = json_string_value(json_object_get(c, "out"));
        uint8_t root[ECL_KEY_LEN];
        uint8_t canon[64];
        uint8_t tag[ECL_PSEUDONYM_TAG_LEN];
        uint8_t tag2[ECL_PSEUDONYM_TAG_LEN];
        char ps[ECL_PSEUDONYM_MAX_LEN + 1];
        uint32_t e2 = 0;
        struct ecl_domain d;
        struct ecl_pseudonym_key k;

        assert_int_equal(ecl_domain_init((enum ecl_link_domain)name_index(DOMAINS, 4, kind), AGENT,
                                         PURPOSE, "case-team", &d),
                         ECL_OK);
        tu_unhex(hex, canon, strlen(hex) / 2);
        ecl_kdf_derive(fx->master, ECL_KEY_PSEUDONYM, epoch, root);
        ecl_pseudonym_key_init(root, epoch, &d, &k);
        ecl_pseudonym_tag(&k, canon, strlen(hex) / 2, tag);
        assert_int_equal(ecl_pseudonym_render(epoch, tag, ps), strlen(want));
        assert_string_equal(ps, want);
        assert_int_equal(ecl_pseudonym_parse(ps, strlen(ps), &e2, tag2), ECL_OK);
        assert_int_equal(e2, epoch);
        assert_memory_equal(tag, tag2, sizeof tag);
        ecl_pseudonym_key_wipe(&k);
    }
    json_decref(doc);
}

static void
test_index_vectors(void **state)
{
    struct fixture *fx = *state;
    json_t *doc = vectors_load();
    size_t i;
    json_t *c;
    int n = 0;

    json_array_foreach(json_object_get(doc, "index"), i, c)
    {
        const char *ps = json_string_value(json_object_get(c, "pseudonym"));
        struct ecl_action act = {.kind = ECL_ACT_PSEUDONYMIZE};
        struct ecl_transform_ctx ctx;
        uint8_t want[ECL_PSEUDO_INDEX_KEY_LEN];
        uint8_t got[ECL_PSEUDO_INDEX_KEY_LEN];

        act.domain = (enum ecl_link_domain)name_index(
            DOMAINS, 4, json_string_value(json_object_get(c, "domain")));
        tu_unhex(json_string_value(json_object_get(c, "index_key")), want, sizeof want);
        ecl_transform_ctx_init(&ctx, fx->kr, AGENT, PURPOSE, NOW);
        assert_int_equal(ecl_transform_pseudo_index_key(&ctx, &act, ps, strlen(ps), got), ECL_OK);
        assert_memory_equal(got, want, sizeof got);
        /* the same pseudonym presented in the agent's other domain maps elsewhere */
        act.domain = act.domain == ECL_DOMAIN_AGENT ? ECL_DOMAIN_PURPOSE : ECL_DOMAIN_AGENT;
        assert_int_equal(ecl_transform_pseudo_index_key(&ctx, &act, ps, strlen(ps), got), ECL_OK);
        assert_memory_not_equal(got, want, sizeof got);
        ecl_transform_ctx_free(&ctx);
        n++;
    }
    assert_int_equal(n, 2);
    json_decref(doc);
}

/* ---- properties ----------------------------------------------------------------------------- */

static json_t *
pseudonymize(struct ecl_transform_ctx *ctx, enum ecl_link_domain dom, const char *shared,
             const char *value)
{
    struct ecl_action act = {.kind = ECL_ACT_PSEUDONYMIZE, .domain = dom};
    struct ecl_field f = {.type = ECL_FT_STRING, .normalize = ECL_NORM_EXACT};
    json_t *in = json_string(value);
    json_t *out = NULL;

    snprintf(act.shared_domain, sizeof act.shared_domain, "%s", shared ? shared : "");
    assert_int_equal(ecl_transform_apply(ctx, &act, &f, in, &out), ECL_OK);
    json_decref(in);
    return out;
}

/* Same value and domain: the same pseudonym in a new context and after reloading the keys;
 * more shared domains than cache slots give the same answers as a fresh context. */
static void
test_stability(void **state)
{
    struct fixture *fx = *state;
    struct ecl_transform_ctx a;
    struct ecl_transform_ctx b;
    struct ecl_keyring *kr2 = keyring_load(fx);
    char name[32];

    ecl_transform_ctx_init(&a, fx->kr, AGENT, PURPOSE, NOW);
    ecl_transform_ctx_init(&b, kr2, AGENT, PURPOSE, NOW + 86400);
    for (int i = 0; i < 3 * ECL_TRANSFORM_DOMAIN_SLOTS; i++) {
        snprintf(name, sizeof name, "team-%d", i % (2 * ECL_TRANSFORM_DOMAIN_SLOTS));
        json_t *x = pseudonymize(&a, ECL_DOMAIN_SHARED, name, "alice");
        struct ecl_transform_ctx fresh;
        ecl_transform_ctx_init(&fresh, fx->kr, "another-agent", "another-purpose", NOW);
        json_t *y = pseudonymize(&b, ECL_DOMAIN_SHARED, name, "alice");
        json_t *z = pseudonymize(&fresh, ECL_DOMAIN_SHARED, name, "alice");
        assert_true(json_equal(x, y));
        assert_true(json_equal(x, z)); /* a shared domain does not depend on agent or purpose */
        json_decref(x);
        json_decref(y);
        json_decref(z);
        ecl_transform_ctx_free(&fresh);
    }
    assert_int_equal(a.npseudo, ECL_TRANSFORM_DOMAIN_SLOTS);
    /* agent domains of two agents differ; so do purpose domains of two purposes */
    struct ecl_transform_ctx other;
    ecl_transform_ctx_init(&other, fx->kr, "agent-b", "other-purpose", NOW);
    for (enum ecl_link_domain d = ECL_DOMAIN_AGENT; d <= ECL_DOMAIN_AGENT_PURPOSE; d++) {
        json_t *x = pseudonymize(&a, d, NULL, "alice");
        json_t *y = pseudonymize(&other, d, NULL, "alice");
        assert_false(json_equal(x, y));
        json_decref(x);
        json_decref(y);
    }
    ecl_transform_ctx_free(&other);
    ecl_transform_ctx_free(&a);
    ecl_transform_ctx_free(&b);
    ecl_keyring_free(kr2);
}

static int
cmp16(const void *a, const void *b)
{
    return memcmp(a, b, ECL_PSEUDONYM_TAG_LEN);
}

/* 100,000 identifiers pseudonymized in two domains share no pseudonym (and none collides
 * inside a domain). */
static void
test_unlinkability(void **state)
{
    struct fixture *fx = *state;
    enum { N = 100000 };
    uint8_t(*t[2])[ECL_PSEUDONYM_TAG_LEN];
    struct ecl_pseudonym_key k[2];
    struct ecl_domain d[2];
    const uint8_t *root = ecl_keyring_key(fx->kr, ECL_KEY_PSEUDONYM);
    uint8_t canon[32];

    assert_int_equal(ecl_domain_init(ECL_DOMAIN_AGENT, AGENT, NULL, NULL, &d[0]), ECL_OK);
    assert_int_equal(ecl_domain_init(ECL_DOMAIN_PURPOSE, NULL, AGENT, NULL, &d[1]), ECL_OK);
    for (int j = 0; j < 2; j++) {
        t[j] = calloc(N, ECL_PSEUDONYM_TAG_LEN);
        assert_non_null(t[j]);
        ecl_pseudonym_key_init(root, 1, &d[j], &k[j]);
        for (int i = 0; i < N; i++) {
            int n = snprintf((char *)canon, sizeof canon, "s1%014d", i);
            ecl_pseudonym_tag(&k[j], canon, (size_t)n, t[j][i]);
        }
        qsort(t[j], N, ECL_PSEUDONYM_TAG_LEN, cmp16);
        for (int i = 1; i < N; i++) {
            assert_true(cmp16(t[j][i - 1], t[j][i]) < 0);
        }
    }
    for (size_t a = 0, b = 0; a < N && b < N;) {
        int c = cmp16(t[0][a], t[1][b]);
        assert_int_not_equal(c, 0);
        if (c < 0) {
            a++;
        } else {
            b++;
        }
    }
    for (int j = 0; j < 2; j++) {
        ecl_pseudonym_key_wipe(&k[j]);
        free(t[j]);
    }
}

static char *
tokenize(struct ecl_transform_ctx *ctx, enum ecl_link_domain dom, const char *value)
{
    struct ecl_action act = {.kind = ECL_ACT_TOKENIZE, .domain = dom};
    struct ecl_field f = {.type = ECL_FT_STRING, .normalize = ECL_NORM_DIGITS};
    json_t *in = json_string(value);
    json_t *out = NULL;
    char *s;

    assert_int_equal(ecl_transform_apply(ctx, &act, &f, in, &out), ECL_OK);
    s = strdup(json_string_value(out));
    json_decref(in);
    json_decref(out);
    return s;
}

static enum ecl_status
open_in(struct fixture *fx, enum ecl_link_domain dom, const char *tok, size_t len)
{
    struct ecl_domain d;
    json_t *v = NULL;
    enum ecl_status st;

    assert_int_equal(ecl_domain_init(dom, AGENT, PURPOSE, NULL, &d), ECL_OK);
    st = ecl_token_open(fx->kr, &d, tok, len, &v);
    if (st == ECL_OK) {
        assert_string_equal(json_string_value(v), "185057800608436");
        json_decref(v);
    }
    return st;
}

static void
test_token_tamper(void **state)
{
    struct fixture *fx = *state;
    struct ecl_transform_ctx ctx;
    char *tok;
    char *tok2;
    size_t len;
    struct ecl_buf raw;
    struct ecl_buf enc;

    ecl_transform_ctx_init(&ctx, fx->kr, AGENT, PURPOSE, NOW);
    tok = tokenize(&ctx, ECL_DOMAIN_AGENT_PURPOSE, "1 85 05 78 006 084 36");
    tok2 = tokenize(&ctx, ECL_DOMAIN_AGENT_PURPOSE, "185 0578 0060 8436");
    assert_string_equal(tok, tok2); /* deterministic on the normalised value */
    len = strlen(tok);
    assert_int_equal(open_in(fx, ECL_DOMAIN_AGENT_PURPOSE, tok, len), ECL_OK);
    /* another domain */
    assert_int_equal(open_in(fx, ECL_DOMAIN_AGENT, tok, len), ECL_ERR_CRYPTO);
    assert_int_equal(open_in(fx, ECL_DOMAIN_PURPOSE, tok, len), ECL_ERR_CRYPTO);
    /* every single character altered, two ways */
    for (size_t i = 0; i < len; i++) {
        const char *subst[] = {"A", "_"};
        for (int s = 0; s < 2; s++) {
            char saved = tok[i];
            tok[i] = tok[i] == subst[s][0] ? 'B' : subst[s][0];
            if (open_in(fx, ECL_DOMAIN_AGENT_PURPOSE, tok, len) != ECL_ERR_CRYPTO) {
                fail_msg("token altered at %zu opens", i);
            }
            tok[i] = saved;
        }
    }
    /* truncated at every length, and extended */
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(open_in(fx, ECL_DOMAIN_AGENT_PURPOSE, tok, n), ECL_ERR_CRYPTO);
    }
    tok2 = realloc(tok2, len + 2);
    memcpy(tok2, tok, len);
    memcpy(tok2 + len, "AA", 2);
    assert_int_equal(open_in(fx, ECL_DOMAIN_AGENT_PURPOSE, tok2, len + 2), ECL_ERR_CRYPTO);
    /* every single bit of the decoded token flipped, re-encoded (so the base64 is valid) */
    ecl_buf_init(&raw, 4096);
    ecl_buf_init(&enc, 4096);
    assert_int_equal(ecl_crypto_b64url_decode(tok + 3, len - 3, &raw), ECL_OK);
    for (size_t i = 0; i < raw.len * 8; i++) {
        raw.ptr[i / 8] ^= (uint8_t)(1u << (i % 8));
        ecl_buf_reset(&enc);
        assert_int_equal(ecl_buf_append_str(&enc, "tk_"), ECL_OK);
        assert_int_equal(ecl_crypto_b64url_encode(raw.ptr, raw.len, &enc), ECL_OK);
        assert_int_equal(open_in(fx, ECL_DOMAIN_AGENT_PURPOSE, (const char *)enc.ptr, enc.len),
                         ECL_ERR_CRYPTO);
        raw.ptr[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    /* versions: 0, 2 (after the current one), and the key of version 2 on a version-1 token */
    for (uint32_t v = 0; v <= 2; v += 2) {
        ecl_put_u32(raw.ptr, v);
        ecl_buf_reset(&enc);
        assert_int_equal(ecl_buf_append_str(&enc, "tk_"), ECL_OK);
        assert_int_equal(ecl_crypto_b64url_encode(raw.ptr, raw.len, &enc), ECL_OK);
        assert_int_equal(open_in(fx, ECL_DOMAIN_AGENT_PURPOSE, (const char *)enc.ptr, enc.len),
                         ECL_ERR_CRYPTO);
    }
    {
        uint8_t root[ECL_KEY_LEN];
        struct ecl_token_key k2;
        struct ecl_buf plain;
        struct ecl_domain d;
        assert_int_equal(
            ecl_transform_domain(
                &ctx,
                &(struct ecl_action){.kind = ECL_ACT_TOKENIZE, .domain = ECL_DOMAIN_AGENT_PURPOSE},
                &d),
            ECL_OK);
        ecl_kdf_derive(fx->master, ECL_KEY_TOKEN, 2, root);
        ecl_token_key_init(root, 2, &d, &k2);
        ecl_buf_init(&plain, 1024);
        assert_int_equal(ecl_token_open_key(&k2, tok, len, &plain), ECL_ERR_CRYPTO);
        assert_int_equal(plain.len, 0);
        /* A ciphertext that authenticates under the right key but with a nonce that is not the
         * synthetic IV of its plaintext: the SIV check refuses it. */
        uint8_t forged[4 + 24 + 17 + 16];
        unsigned long long clen = 0;
        uint8_t ad[4 + ECL_DOMAIN_ENC_MAX];
        ecl_kdf_derive(fx->master, ECL_KEY_TOKEN, 1, root);
        ecl_token_key_init(root, 1, &d, &k2);
        ecl_put_u32(ad, 1);
        memcpy(ad + 4, d.enc, d.enc_len);
        ecl_put_u32(forged, 1);
        randombytes_buf(forged + 4, 24);
        crypto_aead_xchacha20poly1305_ietf_encrypt(forged + 28, &clen,
                                                   (const uint8_t *)"s185057800608436", 16, ad,
                                                   4 + d.enc_len, NULL, forged + 4, k2.enc);
        ecl_buf_reset(&enc);
        assert_int_equal(ecl_buf_append_str(&enc, "tk_"), ECL_OK);
        assert_int_equal(ecl_crypto_b64url_encode(forged, 28 + (size_t)clen, &enc), ECL_OK);
        assert_int_equal(ecl_token_open_key(&k2, (const char *)enc.ptr, enc.len, &plain),
                         ECL_ERR_CRYPTO);
        /* ...while the same key opens the genuine token */
        assert_int_equal(ecl_token_open_key(&k2, tok, len, &plain), ECL_OK);
        assert_int_equal(plain.len, 16);
        ecl_token_key_wipe(&k2);
        ecl_buf_free(&plain);
    }
    ecl_buf_free(&raw);
    ecl_buf_free(&enc);
    free(tok);
    free(tok2);
    ecl_transform_ctx_free(&ctx);
}

static void
test_pseudonym_parse(void **state)
{
    static const char *const bad[] = {
        "",
        "ps_",
        "ps_1",
        "ps_1_",
        "px_1_boQ4NTystDbvNBNaJWUttg",
        "PS_1_boQ4NTystDbvNBNaJWUttg",
        "ps_01_boQ4NTystDbvNBNaJWUttg",
        "ps_0_boQ4NTystDbvNBNaJWUttg",
        "ps_4294967296_boQ4NTystDbvNBNaJWUttg",
        "ps_-1_boQ4NTystDbvNBNaJWUttg",
        "ps_1-boQ4NTystDbvNBNaJWUttg",
        "ps_1_boQ4NTystDbvNBNaJWUtt",
        "ps_1_boQ4NTystDbvNBNaJWUttgA",
        "ps_1_boQ4NTystDbvNBNaJWUttg==",
        "ps_1_boQ4NTystDbvNBNaJWUtth", /* non-zero padding bits */
        "ps_1_boQ4NTystDbvNBNaJWUtt+",
        "ps_1_boQ4NTystDbvNBNaJWUtt/",
        "ps_1_boQ4NTystDbvNBNaJW Utt",
    };
    uint8_t tag[ECL_PSEUDONYM_TAG_LEN];
    uint32_t e = 0;

    (void)state;
    assert_int_equal(ecl_pseudonym_parse("ps_1_boQ4NTystDbvNBNaJWUttg", 27, &e, tag), ECL_OK);
    assert_int_equal(e, 1);
    assert_int_equal(ecl_pseudonym_parse("ps_4294967295_boQ4NTystDbvNBNaJWUttg", 36, &e, tag),
                     ECL_OK);
    assert_int_equal(e, 4294967295u);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e = 7;
        if (ecl_pseudonym_parse(bad[i], strlen(bad[i]), &e, tag) != ECL_ERR_INVALID) {
            fail_msg("accepted %s", bad[i]);
        }
        assert_int_equal(e, 7);
    }
}

/* The index value: sealed, bound to its index key, epoch checked. */
static void
test_index_seal(void **state)
{
    struct fixture *fx = *state;
    struct ecl_transform_ctx ctx;
    struct ecl_action act = {.kind = ECL_ACT_PSEUDONYMIZE, .domain = ECL_DOMAIN_AGENT_PURPOSE};
    struct ecl_pseudo_target t = {.dataset = "citizens", .subject_key_len = 32};
    struct ecl_pseudo_target got;
    uint8_t ik[ECL_PSEUDO_INDEX_KEY_LEN];
    uint8_t ik2[ECL_PSEUDO_INDEX_KEY_LEN];
    struct ecl_buf sealed;
    json_t *ps;

    memset(t.subject_key, 0xab, 32);
    ecl_transform_ctx_init(&ctx, fx->kr, AGENT, PURPOSE, NOW);
    ps = pseudonymize(&ctx, ECL_DOMAIN_AGENT_PURPOSE, NULL, "alice");
    assert_int_equal(ecl_transform_pseudo_index_key(&ctx, &act, json_string_value(ps),
                                                    json_string_length(ps), ik),
                     ECL_OK);
    ecl_buf_init(&sealed, 1024);
    assert_int_equal(ecl_transform_pseudo_seal(&ctx, ik, &t, &sealed), ECL_OK);
    /* no plaintext in the sealed value */
    assert_null(memmem(sealed.ptr, sealed.len, "citizens", 8));
    assert_int_equal(ecl_transform_pseudo_open(&ctx, ik, sealed.ptr, sealed.len, &got), ECL_OK);
    assert_string_equal(got.dataset, "citizens");
    assert_int_equal(got.subject_key_len, 32);
    assert_memory_equal(got.subject_key, t.subject_key, 32);
    /* moved under another index key */
    memcpy(ik2, ik, sizeof ik2);
    ik2[0] ^= 1;
    assert_int_equal(ecl_transform_pseudo_open(&ctx, ik2, sealed.ptr, sealed.len, &got),
                     ECL_ERR_CRYPTO);
    /* every byte altered */
    for (size_t i = 0; i < sealed.len; i++) {
        sealed.ptr[i] ^= 0x40;
        assert_int_equal(ecl_transform_pseudo_open(&ctx, ik, sealed.ptr, sealed.len, &got),
                         ECL_ERR_CRYPTO);
        sealed.ptr[i] ^= 0x40;
    }
    assert_int_equal(ecl_transform_pseudo_open(&ctx, ik, sealed.ptr, 3, &got), ECL_ERR_CRYPTO);
    /* a pseudonym of a future epoch, and a non-pseudonym */
    assert_int_equal(
        ecl_transform_pseudo_index_key(&ctx, &act, "ps_2_boQ4NTystDbvNBNaJWUttg", 27, ik2),
        ECL_ERR_NOT_FOUND);
    assert_int_equal(ecl_transform_pseudo_index_key(&ctx, &act, "tk_AAAA", 7, ik2),
                     ECL_ERR_INVALID);
    /* bad targets */
    t.subject_key_len = 0;
    assert_int_equal(ecl_transform_pseudo_seal(&ctx, ik, &t, &sealed), ECL_ERR_INVALID);
    t.subject_key_len = ECL_PSEUDO_SUBJECT_KEY_MAX + 1;
    assert_int_equal(ecl_transform_pseudo_seal(&ctx, ik, &t, &sealed), ECL_ERR_INVALID);
    ecl_buf_free(&sealed);
    json_decref(ps);
    ecl_transform_ctx_free(&ctx);
}

/* A public-only keyring cannot pseudonymize or tokenize. */
static void
test_no_secrets(void **state)
{
    struct fixture *fx = *state;
    struct ecl_keyring *pub = NULL;
    struct ecl_transform_ctx ctx;
    struct ecl_action act = {.kind = ECL_ACT_PSEUDONYMIZE, .domain = ECL_DOMAIN_AGENT};
    struct ecl_field f = {.type = ECL_FT_STRING};
    json_t *in = json_string("alice");
    json_t *out = NULL;
    struct ecl_domain d;

    assert_int_equal(ecl_keyring_load_public(fx->dir, &pub), ECL_OK);
    ecl_transform_ctx_init(&ctx, pub, AGENT, PURPOSE, NOW);
    assert_int_equal(ecl_transform_apply(&ctx, &act, &f, in, &out), ECL_ERR_PERM);
    act.kind = ECL_ACT_TOKENIZE;
    assert_int_equal(ecl_transform_apply(&ctx, &act, &f, in, &out), ECL_ERR_PERM);
    assert_null(out);
    assert_int_equal(ecl_domain_init(ECL_DOMAIN_AGENT, AGENT, NULL, NULL, &d), ECL_OK);
    /* names: empty, too long, missing */
    assert_int_equal(ecl_domain_init(ECL_DOMAIN_AGENT, "", NULL, NULL, &d), ECL_ERR_INVALID);
    assert_int_equal(ecl_domain_init(ECL_DOMAIN_SHARED, AGENT, PURPOSE, NULL, &d), ECL_ERR_INVALID);
    assert_int_equal(ecl_domain_init(ECL_DOMAIN_AGENT_PURPOSE, AGENT,
                                     "01234567890123456789012345678901234567890123456789012345678"
                                     "901234",
                                     NULL, &d),
                     ECL_ERR_INVALID);
    ecl_transform_ctx_free(&ctx);
    ecl_keyring_free(pub);
    json_decref(in);
}

/* After a rotation (keyring versions bumped), new pseudonyms carry epoch 2 and match the
 * published epoch-2 vector; old tokens still open; old pseudonyms still index. */
static void
test_rotation(void **state)
{
    struct fixture *fx = *state;
    struct ecl_transform_ctx ctx;
    struct ecl_action act = {.kind = ECL_ACT_PSEUDONYMIZE, .domain = ECL_DOMAIN_AGENT};
    struct ecl_field nir = {.type = ECL_FT_STRING, .normalize = ECL_NORM_DIGITS};
    json_t *in = json_string("1 85 05 78 006 084 36");
    json_t *out = NULL;
    char *tok1;
    char *path = NULL;
    size_t len = 0;
    char *text;
    char *p;
    uint8_t ik[ECL_PSEUDO_INDEX_KEY_LEN];
    struct ecl_keyring *kr2;

    ecl_transform_ctx_init(&ctx, fx->kr, AGENT, PURPOSE, NOW);
    tok1 = tokenize(&ctx, ECL_DOMAIN_AGENT_PURPOSE, "185057800608436");
    ecl_transform_ctx_free(&ctx);

    assert_true(asprintf(&path, "%s/keyring", fx->dir) > 0);
    text = tu_read_file(path, &len);
    assert_non_null(p = strstr(text, "version pseudonym 1"));
    p[strlen("version pseudonym ")] = '2';
    assert_non_null(p = strstr(text, "version token 1"));
    p[strlen("version token ")] = '2';
    write_file(path, text, len, 0600);
    kr2 = keyring_load(fx);

    ecl_transform_ctx_init(&ctx, kr2, AGENT, PURPOSE, NOW);
    assert_int_equal(ecl_transform_apply(&ctx, &act, &nir, in, &out), ECL_OK);
    assert_string_equal(json_string_value(out),
                        "ps_2_jyiHx-ddVDHaj-uqO949ZA"); /* transforms.json */
    assert_int_equal(open_in(fx, ECL_DOMAIN_AGENT_PURPOSE, tok1, strlen(tok1)), ECL_OK);
    {
        struct ecl_domain d;
        json_t *v = NULL;
        assert_int_equal(ecl_domain_init(ECL_DOMAIN_AGENT_PURPOSE, AGENT, PURPOSE, NULL, &d),
                         ECL_OK);
        assert_int_equal(ecl_token_open(kr2, &d, tok1, strlen(tok1), &v), ECL_OK);
        json_decref(v);
        char *tok2 = tokenize(&ctx, ECL_DOMAIN_AGENT_PURPOSE, "185057800608436");
        assert_string_not_equal(tok1, tok2);
        assert_int_equal(ecl_token_open(kr2, &d, tok2, strlen(tok2), &v), ECL_OK);
        json_decref(v);
        /* the old keyring (version 1) does not open version-2 tokens */
        assert_int_equal(ecl_token_open(fx->kr, &d, tok2, strlen(tok2), &v), ECL_ERR_CRYPTO);
        free(tok2);
    }
    assert_int_equal(
        ecl_transform_pseudo_index_key(&ctx, &act, "ps_1_boQ4NTystDbvNBNaJWUttg", 27, ik), ECL_OK);
    assert_int_equal(ecl_transform_pseudo_index_key(&ctx, &act, json_string_value(out),
                                                    json_string_length(out), ik),
                     ECL_OK);
    ecl_transform_ctx_free(&ctx);
    ecl_keyring_free(kr2);
    json_decref(in);
    json_decref(out);
    free(text);
    free(path);
    free(tok1);
}

static void
test_helpers(void **state)
{
    static const struct {
        int64_t t;
        int y, m, d;
    } days[] = {
        {0, 1970, 1, 1},
        {-1, 1969, 12, 31},
        {951782400, 2000, 2, 29},
        {-62135596800LL, 1, 1, 1},
        {253402300799LL, 9999, 12, 31},
    };
    static const struct {
        double v;
        const char *s;
    } nums[] = {{0.0, "0"},
                {-0.0, "0"},
                {1500.0, "1500"},
                {-2.5, "-2.5"},
                {0.1, "0.1"},
                {1e300, "1e+300"},
                {1e-7, "1e-07"},
                {1.0 / 3, "0.3333333333333333"},
                {9007199254740992.0, "9007199254740992"}};
    char buf[64];

    (void)state;
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        int y;
        int m;
        int d;
        ecl_transform_civil(days[i].t, &y, &m, &d);
        assert_int_equal(y, days[i].y);
        assert_int_equal(m, days[i].m);
        assert_int_equal(d, days[i].d);
    }
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        assert_int_equal(ecl_transform_num_render(nums[i].v, buf, sizeof buf), strlen(nums[i].s));
        assert_string_equal(buf, nums[i].s);
    }
}

/* Random and near-miss inputs to the two parsers of agent-supplied strings: nothing crashes,
 * nothing is accepted (a poor man's fuzzer until tests/fuzz has targets for them). */
static void
test_parsers_random(void **state)
{
    struct fixture *fx = *state;
    static const char alphabet[] = "ps_tk0123456789ABCDEFabcdef-_=+/ ";
    struct ecl_domain d;
    char s[128];
    uint8_t tag[ECL_PSEUDONYM_TAG_LEN];
    uint32_t e = 0;
    json_t *v = NULL;

    assert_int_equal(ecl_domain_init(ECL_DOMAIN_AGENT, AGENT, NULL, NULL, &d), ECL_OK);
    for (int i = 0; i < 20000; i++) {
        size_t n = ecl_crypto_random_u32() % sizeof s;
        for (size_t j = 0; j < n; j++) {
            s[j] = alphabet[ecl_crypto_random_u32() % (sizeof alphabet - 1)];
        }
        if (i % 2 == 0 && n >= 3) {
            memcpy(s, i % 4 == 0 ? "ps_" : "tk_", 3);
        }
        if (ecl_pseudonym_parse(s, n, &e, tag) == ECL_OK) {
            char again[ECL_PSEUDONYM_MAX_LEN + 1];
            assert_int_equal(ecl_pseudonym_render(e, tag, again), n);
            assert_memory_equal(again, s, n);
        }
        assert_int_equal(ecl_token_open(fx->kr, &d, s, n, &v), ECL_ERR_CRYPTO);
    }
    assert_null(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),         cmocka_unit_test(test_epoch_vectors),
        cmocka_unit_test(test_index_vectors),   cmocka_unit_test(test_stability),
        cmocka_unit_test(test_unlinkability),   cmocka_unit_test(test_token_tamper),
        cmocka_unit_test(test_pseudonym_parse), cmocka_unit_test(test_index_seal),
        cmocka_unit_test(test_no_secrets),      cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_parsers_random),  cmocka_unit_test(test_rotation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
