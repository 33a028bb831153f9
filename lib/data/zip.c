/* A small zip reader (stored and deflated entries, no zip64, no encryption) for GroupLens's
 * archives. Entry names are checked so an archive can never write outside its destination. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dataset.h"
#include "fetch.h"

#define MAX_ENTRY_SIZE ((uint64_t)1 << 30)

static uint32_t le16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
    return le16(p) | le16(p + 2) << 16;
}

/* A relative name of plain components: no "..", no absolute path, no backslash, no NUL. */
static int safe_name(const char *name, size_t n)
{
    if (n == 0 || name[0] == '/' || memchr(name, '\\', n) || memchr(name, '\0', n))
        return 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && name[j] != '/')
            j++;
        if ((j - i == 2 && name[i] == '.' && name[i + 1] == '.') || (j - i == 1 && name[i] == '.'))
            return 0;
        i = j + 1;
    }
    return 1;
}

static int inflate_entry(const unsigned char *src, size_t clen, unsigned char *dst, size_t ulen)
{
    z_stream z;
    int zrc;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
        return GATREC_ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)clen;
    z.next_out = dst;
    z.avail_out = (uInt)ulen;
    zrc = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    return zrc == Z_STREAM_END && z.total_out == ulen ? GATREC_OK : GATREC_EFORMAT;
}

static int extract_entry(const unsigned char *zip, size_t len, const unsigned char *cd, const char *dest,
                         const char *what, size_t *nfiles)
{
    uint32_t flags = le16(cd + 8), method = le16(cd + 10), crc = le32(cd + 16);
    uint64_t clen = le32(cd + 20), ulen = le32(cd + 24), off = le32(cd + 42);
    size_t nlen = le16(cd + 28);
    const char *name = (const char *)cd + 46;
    const unsigned char *lh, *data;
    unsigned char *out = NULL;
    char *rel, *path;
    int rc = GATREC_OK;
    if (!safe_name(name, nlen))
        return gatrec__error(GATREC_EFORMAT, "%s: entry name '%.*s' is not a safe relative path", what,
                             (int)(nlen > 80 ? 80 : nlen), name);
    if (flags & 1)
        return gatrec__error(GATREC_EUNSUPPORTED, "%s: '%.*s' is encrypted", what, (int)nlen, name);
    if (clen == 0xFFFFFFFFu || ulen == 0xFFFFFFFFu || off == 0xFFFFFFFFu)
        return gatrec__error(GATREC_EUNSUPPORTED, "%s: zip64 entries are not supported", what);
    if (ulen > MAX_ENTRY_SIZE)
        return gatrec__error(GATREC_EFORMAT, "%s: '%.*s' claims %llu bytes", what, (int)nlen, name,
                             (unsigned long long)ulen);
    if (off + 30 > len || le32(zip + off) != 0x04034b50u)
        return gatrec__error(GATREC_EFORMAT, "%s: '%.*s' has no local header", what, (int)nlen, name);
    lh = zip + off;
    data = lh + 30 + le16(lh + 26) + le16(lh + 28);
    if (data > zip + len || clen > (uint64_t)(zip + len - data))
        return gatrec__error(GATREC_ETRUNCATED, "%s: '%.*s' runs past the end of the archive", what, (int)nlen, name);
    if (!(rel = gatrec__strndup(name, nlen)))
        return GATREC_ENOMEM;
    path = gatrec__path_join(dest, rel);
    free(rel);
    if (!path)
        return GATREC_ENOMEM;
    if (name[nlen - 1] == '/') {
        rc = gatrec__mkdirs(path);
        free(path);
        return rc;
    }
    {
        char *slash = strrchr(path, '/');
        *slash = '\0';
        rc = gatrec__mkdirs(path);
        *slash = '/';
    }
    if (!rc && !(out = gatrec__malloc((size_t)ulen)))
        rc = GATREC_ENOMEM;
    if (!rc) {
        if (method == 0)
            rc = clen == ulen ? (memcpy(out, data, (size_t)ulen), GATREC_OK) : GATREC_EFORMAT;
        else if (method == 8)
            rc = inflate_entry(data, (size_t)clen, out, (size_t)ulen);
        else
            rc = gatrec__error(GATREC_EUNSUPPORTED, "%s: '%.*s' uses compression method %u", what, (int)nlen, name,
                               method);
        if (rc == GATREC_EFORMAT)
            gatrec__error(rc, "%s: '%.*s' does not decompress", what, (int)nlen, name);
    }
    if (!rc && gatrec__crc32(out, (size_t)ulen) != crc)
        rc = gatrec__error(GATREC_ECHECKSUM, "%s: '%.*s' fails its CRC-32", what, (int)nlen, name);
    if (!rc && !(rc = gatrec__write_file_atomic(path, out, (size_t)ulen)))
        (*nfiles)++;
    free(out);
    free(path);
    return rc;
}

int gatrec__zip_extract_mem(const void *data, size_t len, const char *dest, const char *what, size_t *nfiles)
{
    const unsigned char *zip = data, *eocd = NULL, *cd;
    uint32_t entries, cd_size, cd_off;
    size_t count = 0;
    int rc;
    if (len < 22)
        return gatrec__error(GATREC_EFORMAT, "%s: too short to be a zip archive", what);
    for (size_t back = 22; back <= len && back <= 22 + 65535; back++)
        if (le32(zip + len - back) == 0x06054b50u) {
            eocd = zip + len - back;
            break;
        }
    if (!eocd)
        return gatrec__error(GATREC_EFORMAT, "%s: not a zip archive (no end of central directory)", what);
    entries = le16(eocd + 10);
    cd_size = le32(eocd + 12);
    cd_off = le32(eocd + 16);
    if (entries == 0xFFFF || cd_off == 0xFFFFFFFFu)
        return gatrec__error(GATREC_EUNSUPPORTED, "%s: zip64 archives are not supported", what);
    if ((uint64_t)cd_off + cd_size > (uint64_t)(eocd - zip))
        return gatrec__error(GATREC_ETRUNCATED, "%s: the central directory lies outside the archive", what);
    if ((rc = gatrec__mkdirs(dest)))
        return rc;
    cd = zip + cd_off;
    for (uint32_t e = 0; e < entries; e++) {
        if (cd + 46 > eocd || le32(cd) != 0x02014b50u)
            return gatrec__error(GATREC_EFORMAT, "%s: central directory entry %u is damaged", what, e + 1);
        if (cd + 46 + le16(cd + 28) + le16(cd + 30) + le16(cd + 32) > eocd)
            return gatrec__error(GATREC_EFORMAT, "%s: central directory entry %u overruns", what, e + 1);
        if ((rc = extract_entry(zip, (size_t)(eocd - zip), cd, dest, what, &count)))
            return rc;
        cd += 46 + le16(cd + 28) + le16(cd + 30) + le16(cd + 32);
    }
    if (nfiles)
        *nfiles = count;
    return GATREC_OK;
}

int gatrec__zip_extract(const char *zip_path, const char *dest, size_t *nfiles)
{
    char *data;
    size_t len;
    int rc = gatrec__read_file(zip_path, &data, &len);
    if (rc)
        return rc;
    rc = gatrec__zip_extract_mem(data, len, dest, zip_path, nfiles);
    free(data);
    return rc;
}
