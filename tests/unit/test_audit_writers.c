/* Two audit writers on one log in two processes (a running server and an `ecluse`
 * administrative command): the writer that finds the log advanced by the other re-reads the
 * tree and commits after it.  Sequential and concurrent interleavings; the log verifies
 * (public and decrypting) and every entry is where its writer was told. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "ecl/crypto.h"
#include "testutil.h"

struct env {
    char *dir;
    struct ecl_keyring *kr;
    struct ecl_store *store;
    struct ecl_audit *a;
};

static int
env_open(struct env *e)
{
    if (ecl_keyring_load(e->dir, NULL, &e->kr) != ECL_OK ||
        ecl_store_open(e->dir, ECL_STORE_DEFAULT, &e->store) != ECL_OK ||
        ecl_audit_open(e->store, e->kr, &e->a) != ECL_OK) {
        return -1;
    }
    return 0;
}

static void
env_close(struct env *e)
{
    ecl_audit_close(e->a);
    ecl_store_close(e->store);
    ecl_keyring_free(e->kr);
    e->a = NULL;
    e->store = NULL;
    e->kr = NULL;
}

/* Appends n events whose detail names the writer and the count; returns 0 when every append
 * succeeded and its entry reads back with that detail. */
static int
append_n(struct env *e, const char *who, int n)
{
    for (int i = 0; i < n; i++) {
        struct ecl_audit_event ev;
        struct ecl_audit_entry got;
        char detail[64];
        uint64_t seq = 0;
        json_t *d;
        int same;

        memset(&ev, 0, sizeof ev);
        ev.kind = ECL_AUDIT_POLICY_CHANGE;
        ev.channel = ECL_AUDIT_CH_CLI;
        ev.principal = who;
        snprintf(detail, sizeof detail, "%s %d", who, i);
        ev.detail = detail;
        enum ecl_status st = ecl_audit_append_sync(e->a, &ev, &seq);
        if (st != ECL_OK) {
            fprintf(stderr, "%s: append %d: %s\n", who, i, ecl_status_name(st));
            return -1;
        }
        if (ecl_audit_entry_get(e->store, e->kr, seq, &got) != ECL_OK) {
            return -1;
        }
        d = json_object_get(got.payload, "detail");
        same = json_is_string(d) && strcmp(json_string_value(d), detail) == 0;
        ecl_audit_entry_free(&got);
        if (!same) {
            return -1;
        }
    }
    return 0;
}

static pid_t
spawn_writer(const char *dir, const char *who, int n)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        struct env c;
        int rc;

        memset(&c, 0, sizeof c);
        c.dir = (char *)dir;
        rc = env_open(&c) == 0 && append_n(&c, who, n) == 0 ? 0 : 1;
        env_close(&c);
        _exit(rc);
    }
    return pid;
}

static int
child_status(pid_t pid)
{
    int status = 0;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void
check_log(struct env *e, uint64_t size)
{
    struct ecl_buf rep;
    uint64_t got = 0;
    size_t nfail = 99;

    assert_int_equal(ecl_audit_tree_size(e->store, &got), ECL_OK);
    assert_int_equal(got, size);
    ecl_buf_init(&rep, 1 << 20);
    assert_int_equal(
        ecl_audit_verify(e->store, e->kr, ECL_AUDIT_VERIFY_DECRYPT, NULL, 0, &rep, &nfail), ECL_OK);
    if (nfail != 0) {
        fwrite(rep.ptr, 1, rep.len, stderr);
    }
    assert_int_equal(nfail, 0);
    ecl_buf_free(&rep);
}

static void
test_sequential_other_process(void **state)
{
    struct env e;

    (void)state;
    memset(&e, 0, sizeof e);
    e.dir = tu_tmpdir();
    assert_int_equal(ecl_keyring_create(e.dir, NULL, "test.example/writers"), ECL_OK);
    assert_int_equal(ecl_store_create(e.dir), ECL_OK);
    assert_int_equal(env_open(&e), 0);
    assert_int_equal(append_n(&e, "server", 3), 0);
    /* another process appends while this writer is open and idle */
    assert_int_equal(child_status(spawn_writer(e.dir, "cli", 5)), 0);
    /* this writer's state is stale: it must notice, re-read and append after the others */
    assert_int_equal(append_n(&e, "server-after", 2), 0);
    check_log(&e, 10);
    env_close(&e);
    tu_rmtree(e.dir);
    free(e.dir);
}

static void
test_concurrent_processes(void **state)
{
    struct env e;
    pid_t a;
    pid_t b;

    (void)state;
    memset(&e, 0, sizeof e);
    e.dir = tu_tmpdir();
    assert_int_equal(ecl_keyring_create(e.dir, NULL, "test.example/writers"), ECL_OK);
    assert_int_equal(ecl_store_create(e.dir), ECL_OK);
    assert_int_equal(env_open(&e), 0);
    assert_int_equal(append_n(&e, "server", 1), 0);
    a = spawn_writer(e.dir, "cli-a", 20);
    b = spawn_writer(e.dir, "cli-b", 20);
    assert_int_equal(append_n(&e, "server", 20), 0);
    assert_int_equal(child_status(a), 0);
    assert_int_equal(child_status(b), 0);
    check_log(&e, 61);
    env_close(&e);
    tu_rmtree(e.dir);
    free(e.dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequential_other_process),
        cmocka_unit_test(test_concurrent_processes),
    };
    ecl_crypto_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
