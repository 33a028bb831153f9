/* Whole-file reads, atomic writes (temporary file + rename), directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

int gatrec__open_read(const char *path, FILE **out)
{
    struct stat st;
    FILE *f;
    *out = NULL;
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
    *out = f;
    return GATREC_OK;
}

int gatrec__read_file(const char *path, char **data, size_t *len)
{
    FILE *f;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    struct stat st;
    int rc;
    if ((rc = gatrec__open_read(path, &f)))
        return rc;
    if (fstat(fileno(f), &st) != 0)
        st.st_size = 0;
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

/* The temporaries being written now, for gatrec_remove_temporaries() to unlink from a signal
 * handler: a slot is FREE, being FILLED, or READY (its path whole). More writes at once than
 * slots: the others are left to the next write's sweep. */
enum { TEMP_FREE, TEMP_FILLED, TEMP_READY, TEMP_SLOTS = 16 };
static struct {
    atomic_int state;
    char path[4096];
} temps[TEMP_SLOTS];

int gatrec__temp_register(const char *path)
{
    size_t n = strlen(path);
    for (int k = 0; k < TEMP_SLOTS && n < sizeof temps[k].path; k++) {
        int expect = TEMP_FREE;
        if (atomic_compare_exchange_strong(&temps[k].state, &expect, TEMP_FILLED)) {
            memcpy(temps[k].path, path, n + 1);
            atomic_store(&temps[k].state, TEMP_READY);
            return k;
        }
    }
    return -1;
}

void gatrec__temp_release(int slot)
{
    if (slot >= 0)
        atomic_store(&temps[slot].state, TEMP_FREE);
}

GATREC_API size_t gatrec_remove_temporaries(void)
{
    size_t removed = 0;
    for (int k = 0; k < TEMP_SLOTS; k++) /* unlink and atomic loads only: async-signal-safe */
        if (atomic_load(&temps[k].state) == TEMP_READY && unlink(temps[k].path) == 0)
            removed++;
    return removed;
}

int gatrec__stale_temporary(const char *name, size_t base_len)
{
    char *end;
    long pid;
    if (strncmp(name + base_len, ".tmp.", 5) != 0)
        return 0;
    pid = strtol(name + base_len + 5, &end, 10);
    return pid > 0 && *end == '.' && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Temporaries of `path` ("<path>.tmp.<pid>.<n>") that a process which is gone left behind. */
static void sweep_stale_temps(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t blen = strlen(base);
    char dir[4096], file[8192];
    DIR *d;
    struct dirent *e;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
    if (!(d = opendir(dir)))
        return;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, base, blen) == 0 && gatrec__stale_temporary(e->d_name, blen)) {
            snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
            unlink(file);
        }
    closedir(d);
}

int gatrec__write_file_atomic(const char *path, const void *data, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = gatrec__malloc(plen + 32);
    int fd, rc = GATREC_OK;
    const char *p = data;
    struct stat st;
    if (!tmp)
        return GATREC_ENOMEM;
    if (!plen) {
        free(tmp);
        return gatrec__error(GATREC_EINVAL, "an empty path: nowhere to write");
    }
    /* Renaming over a device or a directory (say /dev/stdout) would replace it: refuse. */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        free(tmp);
        return gatrec__error(GATREC_EINVAL, "%s: exists and is not a regular file; not replacing it", path);
    }
    sweep_stale_temps(path);
    /* open(O_EXCL, 0666) rather than mkstemp: the file gets the host's umask like any other it
     * writes, without reading the umask (umask() is process-wide and would race other threads). */
    for (unsigned attempt = 0;; attempt++) {
        static _Atomic unsigned counter;
        snprintf(tmp, plen + 32, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST || attempt >= 100)
            break;
    }
    if (fd < 0) {
        rc = gatrec__error(errno == ENOENT ? GATREC_ENOENT : GATREC_EIO, "%s: cannot create a file beside it: %s", path,
                           strerror(errno));
        free(tmp);
        return rc;
    }
    int slot = gatrec__temp_register(tmp);
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
    if (close(fd) != 0 && !rc)
        rc = gatrec__error(GATREC_EIO, "%s: close failed: %s", path, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = gatrec__error(GATREC_EIO, "%s: rename failed: %s", path, strerror(errno));
    if (rc)
        unlink(tmp);
    gatrec__temp_release(slot);
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

int gatrec__envelope_begin(gatrec__buf *b, const char magic[8], uint32_t version, uint32_t kind)
{
    int rc;
    if ((rc = gatrec__buf_put(b, magic, 8)) || (rc = gatrec__buf_put_u32(b, version)) ||
        (rc = gatrec__buf_put_u32(b, kind)))
        return rc;
    return gatrec__buf_put_u64(b, 0);
}

int gatrec__envelope_finish(gatrec__buf *b)
{
    gatrec__buf_end_section(b, GATREC__ENVELOPE_HEADER - 8); /* the payload length, as a section's */
    return gatrec__buf_put_u32(b, gatrec__crc32(b->data + GATREC__ENVELOPE_HEADER, b->len - GATREC__ENVELOPE_HEADER));
}

int gatrec__envelope_read(const char *path, const char magic[8], const char *what, uint32_t max_version, char **data,
                          gatrec__reader *payload, uint32_t *kind)
{
    const size_t H = GATREC__ENVELOPE_HEADER;
    gatrec__reader r;
    uint32_t version;
    uint64_t plen;
    size_t len;
    int rc;
    if ((rc = gatrec__read_file(path, data, &len)))
        return rc;
    r.p = (const unsigned char *)*data;
    r.end = r.p + len;
    r.bad = 0;
    if (len < 8 ? memcmp(*data, magic, len) != 0 || len == 0 : memcmp(*data, magic, 8) != 0)
        rc = gatrec__error(GATREC_EFORMAT, "%s: not a gatrec %s file", path, what);
    else if (len < H)
        rc = gatrec__error(GATREC_ETRUNCATED, "%s: the file ends inside its header (%zu bytes)", path, len);
    if (rc)
        goto fail;
    gatrec__read_bytes(&r, 8);
    version = gatrec__read_u32(&r);
    *kind = gatrec__read_u32(&r);
    plen = gatrec__read_u64(&r);
    if (version > max_version || version == 0)
        rc = gatrec__error(GATREC_EVERSION, "%s: format version %u; this library (%s) reads up to %u", path, version,
                           GATREC_VERSION_STRING, max_version);
    else if (plen > len - H || len - H - plen < 4)
        rc = gatrec__error(GATREC_ETRUNCATED, "%s: %zu bytes, but the header announces %llu", path, len,
                           (unsigned long long)(plen + H + 4));
    else if (len - H - plen > 4) /* the checksum covers the payload only: anything after it is damage */
        rc = gatrec__error(GATREC_EFORMAT, "%s: %zu bytes follow the %s's end (%llu bytes): the file was appended "
                           "to or damaged", path, len - H - (size_t)plen - 4, what, (unsigned long long)(plen + H + 4));
    if (!rc) {
        gatrec__reader tail = {r.p + plen, r.end, 0};
        if (gatrec__read_u32(&tail) != gatrec__crc32(r.p, (size_t)plen))
            rc = gatrec__error(GATREC_ECHECKSUM, "%s: checksum mismatch: the file is corrupted", path);
    }
    if (rc)
        goto fail;
    payload->p = r.p;
    payload->end = r.p + plen;
    payload->bad = 0;
    return GATREC_OK;
fail:
    free(*data);
    *data = NULL;
    return rc;
}
