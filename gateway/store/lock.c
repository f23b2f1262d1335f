/* Advisory locks on the data directory (flock, released when the process exits). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "store.h"

static const char *const lock_names[] = {
    [ECL_LOCK_GATEWAY] = "gateway.lock",
    [ECL_LOCK_KEYRING] = "keyring.lock",
};

enum ecl_status
ecl_store_lock(const char *dir, enum ecl_lock_kind kind, enum ecl_lock_mode mode, int *out)
{
    char path[4096];
    int fd;

    if (snprintf(path, sizeof path, "%s/%s", dir, lock_names[kind]) >= (int)sizeof path) {
        return ECL_ERR_LIMIT;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return errno == ENOENT ? ECL_ERR_NOT_FOUND : ECL_ERR_IO;
    }
    if (flock(fd, (mode == ECL_LOCK_SHARED ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
        close(fd);
        return ECL_ERR_CONFLICT;
    }
    *out = fd;
    return ECL_OK;
}

void
ecl_store_unlock(int fd)
{
    if (fd > 2) { /* never a standard stream, even from a zero-initialised holder */
        close(fd);
    }
}
