/* Opening and closing the running gateway, its health and its refusal accounting. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "http/log.h"
#include "mcp_api.h"
#include "store/policy_db.h"

enum { APP_MAX_ROUTES = 128 };

static int64_t
wall_now(void)
{
    return (int64_t)time(NULL);
}

static enum ecl_status
startup_event(struct ecl_app *app, enum ecl_audit_kind kind, const char *detail)
{
    struct ecl_audit_event ev;
    uint64_t seq = 0;

    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.channel = ECL_AUDIT_CH_NONE;
    ev.detail = detail;
    return ecl_audit_append_sync(app->audit, &ev, &seq);
}

enum ecl_status
ecl_app_sync_policy(struct ecl_app *app, uint64_t *reloaded)
{
    const struct ecl_policy_view *v;
    uint64_t active = 0;
    uint64_t serving = 0;
    enum ecl_status st;

    *reloaded = 0;
    st = ecl_policy_db_active(app->store, &active);
    if (st == ECL_ERR_NOT_FOUND || (st == ECL_OK && active == 0)) {
        return ECL_OK;
    }
    ECL_GUARD(st);
    v = ecl_policy_holder_acquire(app->policy);
    if (v != NULL) {
        serving = v->version;
        ecl_policy_holder_release(app->policy, v);
    }
    if (serving == active) {
        return ECL_OK;
    }
    ECL_GUARD(ecl_app_reload_policy(app));
    *reloaded = active;
    return ECL_OK;
}

enum ecl_status
ecl_app_reload_policy(struct ecl_app *app)
{
    struct ecl_diags diags;
    struct ecl_policy *p = NULL;
    struct ecl_policy_meta meta;
    uint64_t active = 0;
    enum ecl_status st;

    st = ecl_policy_db_active(app->store, &active);
    if (st == ECL_ERR_NOT_FOUND || (st == ECL_OK && active == 0)) {
        return ECL_OK; /* no policy yet: everything is denied */
    }
    ECL_GUARD(st);
    ecl_diags_init(&diags);
    ECL_GUARD(ecl_policy_db_load(app->store, 0, &diags, &p, &meta));
    st = ecl_policy_holder_publish(app->policy, p, meta.version, meta.hash);
    if (st != ECL_OK) {
        ecl_policy_free(p);
    }
    return st;
}

int
ecl_app_open(struct ecl_app *app, const char *data_dir, const struct ecl_key_source *src)
{
    enum ecl_status st;

    memset(app, 0, sizeof *app);
    app->data_dir = data_dir;
    app->now = wall_now;
    /* one gateway per data directory: two audit writers would refuse each other's commits */
    app->lock_fd = -1;
    st = ecl_store_lock(data_dir, ECL_LOCK_GATEWAY, ECL_LOCK_EXCLUSIVE, &app->lock_fd);
    if (st == ECL_ERR_CONFLICT) {
        fprintf(stderr, "ecluse: another gateway is serving %s\n", data_dir);
        return EX_TEMPFAIL;
    }
    if (st != ECL_OK) {
        fprintf(stderr, "ecluse: cannot lock %s: %s\n", data_dir, ecl_status_name(st));
        return ecl_status_exit_code(st);
    }
    st = ecl_keyring_load(data_dir, src, &app->kr);
    if (st != ECL_OK) {
        return ecl_status_exit_code(st);
    }
    st = ecl_store_open(data_dir, ECL_STORE_DEFAULT, &app->store);
    if (st == ECL_OK) {
        st = ecl_records_open(app->store, app->kr, &app->records);
    }
    if (st == ECL_OK) {
        st = ecl_audit_open(app->store, app->kr, &app->audit);
    }
    if (st == ECL_OK) {
        st = ecl_policy_holder_new(&app->policy);
    }
    if (st == ECL_OK) {
        st = ecl_app_reload_policy(app);
        if (st != ECL_OK) {
            fprintf(stderr, "ecluse: the active policy does not load: %s\n", ecl_status_name(st));
        }
    }
    if (st == ECL_OK) {
        st = startup_event(app, ECL_AUDIT_STARTUP, "gateway started");
    }
    if (st == ECL_OK) {
        st = ecl_api_agent_init(app);
    }
    if (st == ECL_OK) {
        st = ecl_api_dpo_init(app);
    }
    if (st == ECL_OK) {
        st = ecl_api_mcp_init(app);
    }
    if (st != ECL_OK) {
        fprintf(stderr, "ecluse: cannot open %s: %s\n", data_dir, ecl_status_name(st));
        ecl_app_close(app);
        return ecl_status_exit_code(st);
    }
    return 0;
}

void
ecl_app_close(struct ecl_app *app)
{
    if (app->http != NULL) {
        ecl_http_server_stop(app->http); /* before the writer: it completes suspended requests */
        app->http = NULL;
    }
    ecl_api_dpo_free(app);
    ecl_api_agent_free(app);
    if (app->audit != NULL) {
        const char *why = NULL;
        if (!ecl_audit_health(app->audit, &why)) {
            ecl_log_msg(ECL_LOG_ERROR, "shutdown", why);
        } else {
            enum ecl_status st = startup_event(app, ECL_AUDIT_SHUTDOWN, "gateway stopped");
            if (st != ECL_OK) {
                ecl_log_msg(ECL_LOG_ERROR, "shutdown", ecl_status_name(st));
            }
        }
        ecl_audit_close(app->audit);
    }
    ecl_api_mcp_free(app); /* after the writer drained: no tool call is in flight */
    if (app->policy != NULL) {
        ecl_policy_holder_free(app->policy);
    }
    if (app->records != NULL) {
        ecl_records_close(app->records);
    }
    if (app->store != NULL) {
        ecl_store_close(app->store);
    }
    if (app->kr != NULL) {
        ecl_keyring_free(app->kr);
    }
    if (app->lock_fd > 0) {
        ecl_store_unlock(app->lock_fd);
    }
    memset(app, 0, sizeof *app);
}

/* Ready while the audit log accepts entries and both LMDB maps have room. */
static int
health(void *arg, const char **reason)
{
    struct ecl_app *app = arg;
    size_t ru = 0;
    size_t rs = 0;
    size_t au = 0;
    size_t as = 0;

    if (!ecl_audit_health(app->audit, reason)) {
        return 0;
    }
    ecl_store_map_usage(app->store, &ru, &rs, &au, &as);
    if (as == 0 || au > as / 100 * 95) {
        *reason = "the audit log is nearly full";
        return 0;
    }
    if (rs == 0 || ru > rs / 100 * 95) {
        *reason = "the record store is unavailable or nearly full";
        return 0;
    }
    return 1;
}

static void
refusal_done(void *arg, enum ecl_status st, uint64_t seq)
{
    (void)arg;
    (void)seq;
    if (st != ECL_OK) {
        ecl_log_msg(ECL_LOG_ERROR, "audit", "a refusal entry could not be committed");
    }
}

/* Every 401 and 403 of the HTTP layer becomes an audit entry.  The refusal carries no data, so
 * the answer does not wait for the commit. */
static void
on_refusal(void *arg, const struct ecl_http_req *req, unsigned status, const char *reason)
{
    struct ecl_app *app = arg;
    struct ecl_audit_event ev;
    char idbuf[2 * ECL_PRINCIPAL_ID_LEN + 1];
    char detail[64];

    memset(&ev, 0, sizeof ev);
    ev.kind = ECL_AUDIT_ACCESS_REFUSED;
    ecl_api_event_from_req(req, &ev, idbuf);
    if (strcmp(ecl_http_req_route(req), "/mcp") == 0) {
        ev.channel = ECL_AUDIT_CH_MCP; /* an MCP client's 401/403 (key, role, Origin) */
    }
    ev.decision = ECL_AUDIT_DENY;
    ev.reason = reason;
    snprintf(detail, sizeof detail, "HTTP %u on %s", status, ecl_http_req_route(req));
    ev.detail = detail;
    if (ecl_audit_submit(app->audit, &ev, refusal_done, NULL) != ECL_OK) {
        ecl_log_msg(ECL_LOG_ERROR, "audit", "a refusal entry could not be queued");
    }
}

enum ecl_status
ecl_app_start_http(struct ecl_app *app, struct ecl_http_config *cfg)
{
    struct ecl_http_route *routes = calloc(APP_MAX_ROUTES, sizeof *routes);
    size_t n = 0;
    enum ecl_status st;

    if (routes == NULL) {
        return ECL_ERR_NOMEM;
    }
    for (size_t i = 0; i < ecl_http_ops_nroutes && n < APP_MAX_ROUTES; i++) {
        routes[n++] = ecl_http_ops_routes[i];
    }
    n += ecl_api_agent_routes(app, routes + n, APP_MAX_ROUTES - n);
    n += ecl_api_auditor_routes(app, routes + n, APP_MAX_ROUTES - n);
    n += ecl_api_dpo_routes(app, routes + n, APP_MAX_ROUTES - n);
    n += ecl_api_mcp_routes(app, routes + n, APP_MAX_ROUTES - n);
    cfg->store = app->store;
    cfg->kr = app->kr;
    cfg->routes = routes;
    cfg->nroutes = n;
    cfg->on_refusal = on_refusal;
    cfg->refusal_arg = app;
    cfg->health = health;
    cfg->health_arg = app;
    st = ecl_http_server_start(cfg, &app->http); /* copies the routes */
    free(routes);
    return st;
}
