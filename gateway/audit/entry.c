/* Entry format: payload JSON, blind-index tokens, clear header, sealing and opening. */
#include <stdlib.h>
#include <string.h>

#include "ecl/schema.h"
#include "entry.h"

static const char *const kind_names[] = {
    [ECL_AUDIT_RECORD_READ] = "record.read",
    [ECL_AUDIT_RECORD_QUERY] = "record.query",
    [ECL_AUDIT_REIDENTIFY] = "reidentify",
    [ECL_AUDIT_RECORDS_IMPORT] = "records.import",
    [ECL_AUDIT_POLICY_CHANGE] = "policy.change",
    [ECL_AUDIT_PRINCIPAL_CHANGE] = "principal.change",
    [ECL_AUDIT_ERASURE] = "erasure",
    [ECL_AUDIT_OBJECTION] = "objection",
    [ECL_AUDIT_STARTUP] = "startup",
    [ECL_AUDIT_SHUTDOWN] = "shutdown",
    [ECL_AUDIT_KEY_EVENT] = "key.event",
    [ECL_AUDIT_LOG_CREATED] = "log.created",
    [ECL_AUDIT_ACCESS_REFUSED] = "access.refused",
    [ECL_AUDIT_DATASET_INFO] = "dataset.info",
    [ECL_AUDIT_AUDIT_READ] = "audit.read",
    [ECL_AUDIT_POLICY_READ] = "policy.read",
};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == ECL_AUDIT_KIND_COUNT, "kinds");

static const char *const channel_names[] = {
    [ECL_AUDIT_CH_NONE] = "none",
    [ECL_AUDIT_CH_REST] = "rest",
    [ECL_AUDIT_CH_MCP] = "mcp",
    [ECL_AUDIT_CH_CLI] = "cli",
};
_Static_assert(sizeof channel_names / sizeof channel_names[0] == ECL_AUDIT_CHANNEL_COUNT, "ch");

static const char *const decision_names[] = {
    [ECL_AUDIT_NO_DECISION] = "none",
    [ECL_AUDIT_ALLOW] = "allow",
    [ECL_AUDIT_DENY] = "deny",
};
_Static_assert(sizeof decision_names / sizeof decision_names[0] == ECL_AUDIT_DECISION_COUNT, "d");

static const char *const action_names[] = {
    [ECL_ACT_ALLOW] = "allow",           [ECL_ACT_PSEUDONYMIZE] = "pseudonymize",
    [ECL_ACT_TOKENIZE] = "tokenize",     [ECL_ACT_MASK] = "mask",
    [ECL_ACT_GENERALIZE] = "generalize", [ECL_ACT_REDACT] = "redact",
};
_Static_assert(sizeof action_names / sizeof action_names[0] == ECL_ACT_COUNT, "actions");

const char *
ecl_audit_kind_name(enum ecl_audit_kind k)
{
    return (unsigned)k < ECL_AUDIT_KIND_COUNT ? kind_names[k] : "unknown";
}

const char *
ecl_audit_channel_name(enum ecl_audit_channel c)
{
    return (unsigned)c < ECL_AUDIT_CHANNEL_COUNT ? channel_names[c] : "unknown";
}

const char *
ecl_audit_decision_name(enum ecl_audit_decision d)
{
    return (unsigned)d < ECL_AUDIT_DECISION_COUNT ? decision_names[d] : "unknown";
}

void
ecl_audit_token(const uint8_t key[ECL_KEY_LEN], enum ecl_audit_token_domain domain, const char *id,
                size_t id_len, uint8_t out[ECL_AUDIT_TOKEN_LEN])
{
    static const char subject[] = "subject";
    static const char principal[] = "principal";
    uint8_t msg[sizeof principal + ECL_AUDIT_TEXT_MAX_LEN];
    uint8_t full[16];
    const char *d = domain == ECL_AUDIT_TOK_SUBJECT ? subject : principal;
    size_t dn = strlen(d) + 1; /* with its NUL: domain || 0x00 */

    if (id_len > ECL_AUDIT_TEXT_MAX_LEN) {
        id_len = ECL_AUDIT_TEXT_MAX_LEN; /* callers check the limit first */
    }
    memcpy(msg, d, dn);
    memcpy(msg + dn, id, id_len);
    ecl_crypto_blake2b(full, sizeof full, key, ECL_KEY_LEN, msg, dn + id_len);
    memcpy(out, full, ECL_AUDIT_TOKEN_LEN);
    ecl_wipe(msg, sizeof msg);
}

static int
token_cmp(const void *a, const void *b)
{
    return memcmp(a, b, ECL_AUDIT_TOKEN_LEN);
}

size_t
ecl_audit_tokens_sort(uint8_t *tokens, size_t n)
{
    size_t out = 0;

    if (n == 0) {
        return 0;
    }
    qsort(tokens, n, ECL_AUDIT_TOKEN_LEN, token_cmp);
    for (size_t i = 1; i < n; i++) {
        if (memcmp(tokens + i * ECL_AUDIT_TOKEN_LEN, tokens + out * ECL_AUDIT_TOKEN_LEN,
                   ECL_AUDIT_TOKEN_LEN) != 0) {
            out++;
            memmove(tokens + out * ECL_AUDIT_TOKEN_LEN, tokens + i * ECL_AUDIT_TOKEN_LEN,
                    ECL_AUDIT_TOKEN_LEN);
        }
    }
    return out + 1;
}

static int
text_ok(const char *s)
{
    return s == NULL || strlen(s) <= ECL_AUDIT_TEXT_MAX_LEN;
}

/* json_stringn refuses invalid UTF-8: an event with one is refused as a whole. */
static int
set_str(json_t *o, const char *key, const char *val)
{
    json_t *v;

    if (val == NULL) {
        return 0;
    }
    v = json_string(val);
    return v == NULL || json_object_set_new(o, key, v) != 0 ? -1 : 0;
}

static int
set_hex(json_t *o, const char *key, const uint8_t *p)
{
    char hex[2 * ECL_HASH_LEN + 1];

    if (p == NULL) {
        return 0;
    }
    ecl_hex(p, ECL_HASH_LEN, hex);
    return json_object_set_new(o, key, json_string(hex));
}

static int
event_ok(const struct ecl_audit_event *ev)
{
    const char *const strs[] = {ev->principal,  ev->role,    ev->official, ev->case_ref,
                                ev->purpose,    ev->dataset, ev->rule_id,  ev->reason,
                                ev->request_id, ev->detail};

    if ((unsigned)ev->kind >= ECL_AUDIT_KIND_COUNT ||
        (unsigned)ev->channel >= ECL_AUDIT_CHANNEL_COUNT ||
        (unsigned)ev->decision >= ECL_AUDIT_DECISION_COUNT ||
        ev->nsubjects > ECL_AUDIT_SUBJECTS_PER_ENTRY || ev->nfields > ECL_AUDIT_FIELDS_PER_ENTRY ||
        (ev->nsubjects > 0 && ev->subjects == NULL) || (ev->nfields > 0 && ev->fields == NULL)) {
        return 0;
    }
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (!text_ok(strs[i])) {
            return 0;
        }
    }
    for (size_t i = 0; i < ev->nsubjects; i++) {
        if (ev->subjects[i] == NULL || strlen(ev->subjects[i]) > ECL_SUBJECT_ID_MAX_LEN) {
            return 0;
        }
    }
    for (size_t i = 0; i < ev->nfields; i++) {
        if (ev->fields[i].name == NULL || strlen(ev->fields[i].name) > ECL_NAME_MAX_LEN ||
            (unsigned)ev->fields[i].action >= ECL_ACT_COUNT) {
            return 0;
        }
    }
    return 1;
}

enum ecl_status
ecl_audit_payload_build(const struct ecl_audit_event *ev, struct ecl_buf *out)
{
    json_t *o = NULL;
    json_t *subjects = NULL;
    json_t *fields = NULL;
    char *text = NULL;
    enum ecl_status st = ECL_ERR_INVALID;
    int bad = 0;

    if (!event_ok(ev)) {
        return ECL_ERR_INVALID;
    }
    o = json_object();
    subjects = json_array();
    fields = json_array();
    if (o == NULL || subjects == NULL || fields == NULL) {
        st = ECL_ERR_NOMEM;
        goto out;
    }
    bad |= json_object_set_new(o, "v", json_integer(ECL_AUDIT_FORMAT_VERSION));
    bad |= set_str(o, "kind", kind_names[ev->kind]);
    bad |= set_str(o, "channel", channel_names[ev->channel]);
    bad |= set_str(o, "decision", decision_names[ev->decision]);
    bad |= set_str(o, "principal", ev->principal);
    bad |= set_str(o, "role", ev->role);
    bad |= set_str(o, "official", ev->official);
    bad |= set_str(o, "case", ev->case_ref);
    bad |= set_str(o, "purpose", ev->purpose);
    bad |= set_str(o, "dataset", ev->dataset);
    bad |= set_str(o, "rule", ev->rule_id);
    bad |= set_str(o, "reason", ev->reason);
    bad |= set_str(o, "request_id", ev->request_id);
    bad |= set_str(o, "detail", ev->detail);
    bad |= set_hex(o, "response_blake2b", ev->response_digest);
    if (ev->policy_version != 0 || ev->policy_hash != NULL) {
        json_t *pol = json_object();
        bad |= pol == NULL ? -1 : 0;
        if (pol != NULL) {
            bad |=
                json_object_set_new(pol, "version", json_integer((json_int_t)ev->policy_version));
            bad |= set_hex(pol, "hash", ev->policy_hash);
            bad |= json_object_set_new(o, "policy", pol);
        }
    }
    for (size_t i = 0; i < ev->nsubjects; i++) {
        json_t *s = json_string(ev->subjects[i]);
        bad |= s == NULL ? -1 : json_array_append_new(subjects, s);
    }
    for (size_t i = 0; i < ev->nfields; i++) {
        json_t *f = json_object();
        bad |= f == NULL ? -1 : 0;
        if (f != NULL) {
            bad |= set_str(f, "field", ev->fields[i].name);
            bad |= set_str(f, "action", action_names[ev->fields[i].action]);
            bad |= json_array_append_new(fields, f);
        }
    }
    if (json_array_size(subjects) > 0) {
        bad |= json_object_set(o, "subjects", subjects);
    }
    if (json_array_size(fields) > 0) {
        bad |= json_object_set(o, "fields", fields);
    }
    if (bad != 0) {
        goto out; /* invalid UTF-8 or out of memory: refuse the event */
    }
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (text == NULL) {
        st = ECL_ERR_NOMEM;
        goto out;
    }
    st = ecl_buf_append_str(out, text);
out:
    if (text != NULL) {
        ecl_wipe(text, strlen(text));
        free(text);
    }
    json_decref(subjects);
    json_decref(fields);
    json_decref(o);
    return st;
}

static void
header_write(uint8_t *h, const uint8_t log_id[ECL_LOG_ID_LEN], uint64_t seq, uint64_t time_ms,
             uint32_t key_version, const uint8_t principal_token[ECL_AUDIT_TOKEN_LEN],
             const uint8_t *tokens, size_t ntokens)
{
    size_t off = 0;

    memcpy(h, ECL_AUDIT_MAGIC, 4);
    off += 4;
    h[off++] = ECL_AUDIT_FORMAT_VERSION;
    memcpy(h + off, log_id, ECL_LOG_ID_LEN);
    off += ECL_LOG_ID_LEN;
    ecl_put_u64(h + off, seq);
    off += 8;
    ecl_put_u64(h + off, time_ms);
    off += 8;
    ecl_put_u32(h + off, key_version);
    off += 4;
    memcpy(h + off, principal_token, ECL_AUDIT_TOKEN_LEN);
    off += ECL_AUDIT_TOKEN_LEN;
    ecl_put_u16(h + off, (uint16_t)ntokens);
    off += 2;
    if (ntokens > 0) {
        memcpy(h + off, tokens, ntokens * ECL_AUDIT_TOKEN_LEN);
    }
}

enum ecl_status
ecl_audit_leaf_seal(const struct ecl_keyring *kr, uint64_t seq, uint64_t time_ms,
                    const uint8_t principal_token[ECL_AUDIT_TOKEN_LEN], const uint8_t *tokens,
                    size_t ntokens, const uint8_t *payload, size_t payload_len,
                    struct ecl_buf *leaf)
{
    const uint8_t *key = ecl_keyring_key(kr, ECL_KEY_AUDIT_ENTRY);
    size_t hlen = ECL_AUDIT_HEADER_FIXED + ntokens * ECL_AUDIT_TOKEN_LEN;
    struct ecl_buf hdr;
    uint8_t *h = NULL;
    enum ecl_status st;

    if (key == NULL) {
        return ECL_ERR_PERM;
    }
    if (ntokens > ECL_AUDIT_SUBJECTS_PER_ENTRY ||
        payload_len > ECL_AUDIT_ENTRY_MAX_BYTES - hlen - ECL_AUDIT_NONCE_TAG) {
        return ECL_ERR_LIMIT;
    }
    /* the header lives in its own buffer: growing leaf must not move the associated data */
    ecl_buf_init(&hdr, hlen);
    st = ecl_buf_extend(&hdr, hlen, &h);
    if (st == ECL_OK) {
        header_write(h, ecl_keyring_log_id(kr), seq, time_ms,
                     ecl_keyring_version(kr, ECL_KEY_AUDIT_ENTRY), principal_token, tokens,
                     ntokens);
        st = ecl_buf_append(leaf, hdr.ptr, hdr.len);
    }
    /* the header is the associated data: it cannot be changed without breaking the tag */
    if (st == ECL_OK) {
        st = ecl_crypto_aead_seal(key, hdr.ptr, hdr.len, payload, payload_len, leaf);
    }
    ecl_buf_free(&hdr);
    return st;
}

enum ecl_status
ecl_audit_header_parse(const uint8_t *leaf, size_t len, struct ecl_audit_header *out)
{
    struct ecl_reader r;
    const uint8_t *p = NULL;
    uint16_t n = 0;
    struct ecl_audit_header h;

    memset(&h, 0, sizeof h);
    ecl_reader_init(&r, leaf, len);
    ECL_GUARD(ecl_reader_bytes(&r, 4, &p));
    if (memcmp(p, ECL_AUDIT_MAGIC, 4) != 0) {
        return ECL_ERR_INVALID;
    }
    ECL_GUARD(ecl_reader_u8(&r, &h.version));
    if (h.version != ECL_AUDIT_FORMAT_VERSION) {
        return ECL_ERR_INVALID;
    }
    ECL_GUARD(ecl_reader_bytes(&r, ECL_LOG_ID_LEN, &p));
    memcpy(h.log_id, p, ECL_LOG_ID_LEN);
    ECL_GUARD(ecl_reader_u64(&r, &h.seq));
    ECL_GUARD(ecl_reader_u64(&r, &h.time_ms));
    ECL_GUARD(ecl_reader_u32(&r, &h.key_version));
    ECL_GUARD(ecl_reader_bytes(&r, ECL_AUDIT_TOKEN_LEN, &p));
    memcpy(h.principal_token, p, ECL_AUDIT_TOKEN_LEN);
    ECL_GUARD(ecl_reader_u16(&r, &n));
    if (n > ECL_AUDIT_SUBJECTS_PER_ENTRY) {
        return ECL_ERR_INVALID;
    }
    ECL_GUARD(ecl_reader_bytes(&r, (size_t)n * ECL_AUDIT_TOKEN_LEN, &h.tokens));
    for (size_t i = 1; i < n; i++) {
        if (memcmp(h.tokens + (i - 1) * ECL_AUDIT_TOKEN_LEN, h.tokens + i * ECL_AUDIT_TOKEN_LEN,
                   ECL_AUDIT_TOKEN_LEN) >= 0) {
            return ECL_ERR_INVALID; /* strictly increasing: one canonical header */
        }
    }
    h.ntokens = n;
    h.header_len = r.off;
    if (ecl_reader_left(&r) < ECL_AUDIT_NONCE_TAG) {
        return ECL_ERR_INVALID;
    }
    *out = h;
    return ECL_OK;
}

enum ecl_status
ecl_audit_leaf_open(const struct ecl_keyring *kr, const uint8_t *leaf, size_t len,
                    struct ecl_audit_header *hdr, json_t **payload)
{
    uint8_t key[ECL_KEY_LEN];
    struct ecl_buf plain;
    struct ecl_audit_header h;
    const char *why = NULL;
    int line = 0;
    json_t *j = NULL;
    enum ecl_status st;

    ECL_GUARD(ecl_audit_header_parse(leaf, len, &h));
    ecl_buf_init(&plain, ECL_AUDIT_ENTRY_MAX_BYTES);
    st = ecl_keyring_key_at(kr, ECL_KEY_AUDIT_ENTRY, h.key_version, key);
    if (st != ECL_OK) {
        goto out;
    }
    st = ecl_crypto_aead_open(key, leaf, h.header_len, leaf + h.header_len, len - h.header_len,
                              &plain);
    if (st != ECL_OK) {
        goto out;
    }
    j = ecl_json_load((const char *)plain.ptr, plain.len, ECL_JSON_MAX_DEPTH, &why, &line);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        st = ECL_ERR_INVALID;
        goto out;
    }
    *hdr = h;
    *payload = j;
out:
    ecl_wipe(key, sizeof key);
    ecl_buf_free(&plain);
    return st;
}
