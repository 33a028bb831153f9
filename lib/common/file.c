/* Whole-file reads, atomic writes (temporary file + rename), directories. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

int gatrec__read_file(const char *path, char **data, size_t *len)
{
    FILE *f;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    struct stat st;
    int rc;
    if (!path)
        return gatrec__error(GATREC_EINVAL, "no file name given");
    f = fopen(path, "rb");
    if (!f)
        return gatrec__error(errno == ENOENT ? GATREC_ENOENT : GATREC_EIO, "%s: cannot open: %s", path,
                             strerror(errno));
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return gatrec__error(GATREC_EIO, "%s: is a directory", path);
    }
    for (;;) {
        size_t got, want = n + 65536 + 1;
        if (n == 0 && st.st_size > 0 && (size_t)st.st_size + 1 > want)
            want = (size_t)st.st_size + 1; /* one read for a regular file */
        rc = gatrec__reserve((void **)&buf, &cap, want, 1);
        if (rc) {
            free(buf);
            fclose(f);
            return rc;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return gatrec__error(GATREC_EIO, "%s: read error", path);
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return GATREC_OK;
}

int gatrec__write_file_atomic(const char *path, const void *data, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = gatrec__malloc(plen + 16);
    int fd, rc = GATREC_OK;
    const char *p = data;
    struct stat st;
    if (!tmp)
        return GATREC_ENOMEM;
    /* Renaming over a device or a directory (say /dev/stdout) would replace it: refuse. */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        free(tmp);
        return gatrec__error(GATREC_EINVAL, "%s: exists and is not a regular file; not replacing it", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = gatrec__error(errno == ENOENT ? GATREC_ENOENT : GATREC_EIO, "%s: cannot create: %s", tmp,
                           strerror(errno));
        free(tmp);
        return rc;
    }
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = gatrec__error(GATREC_EIO, "%s: write failed: %s", path, strerror(errno));
            break;
        }
        p += w, len -= (size_t)w;
    }
    if (!rc && fsync(fd) != 0)
        rc = gatrec__error(GATREC_EIO, "%s: fsync failed: %s", path, strerror(errno));
    /* mkstemp creates 0600; a saved model or list should be as readable as any other file. */
    if (!rc) {
        mode_t mask = umask(0);
        umask(mask);
        fchmod(fd, 0666 & ~mask);
    }
    if (close(fd) != 0 && !rc)
        rc = gatrec__error(GATREC_EIO, "%s: close failed: %s", path, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = gatrec__error(GATREC_EIO, "%s: rename failed: %s", path, strerror(errno));
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

int gatrec__mkdirs(const char *path)
{
    char *p = gatrec__strdup(path);
    int rc = GATREC_OK;
    if (!p)
        return GATREC_ENOMEM;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                rc = gatrec__error(GATREC_EIO, "%s: cannot create directory: %s", p, strerror(errno));
                break;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    return rc;
}

int gatrec__file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

char *gatrec__path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = gatrec__malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    if (a && dir[a - 1] != '/')
        p[a++] = '/';
    memcpy(p + a, name, b + 1);
    return p;
}
