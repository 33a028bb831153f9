/* Status descriptions and the thread-local last error (after libgit2's git_error_last). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

static _Thread_local char last_message[1024];
static _Thread_local int last_status;

GATREC_API const char *gatrec_strerror(int status)
{
    switch (status) {
    case GATREC_OK: return "success";
    case GATREC_ERROR: return "failure";
    case GATREC_ENOMEM: return "out of memory";
    case GATREC_EINVAL: return "invalid argument";
    case GATREC_ENOENT: return "no such file or directory";
    case GATREC_EIO: return "input/output error";
    case GATREC_EEMPTY: return "no records";
    case GATREC_EFIELDS: return "too few fields";
    case GATREC_ENUMBER: return "not a number";
    case GATREC_ERATING: return "rating out of range";
    case GATREC_EDUPLICATE: return "duplicate entry";
    case GATREC_EOVERFLOW: return "number too large";
    case GATREC_ENOTFOUND: return "not found";
    case GATREC_EFORMAT: return "bad format (of a file, or of an answer)";
    case GATREC_EVERSION: return "unsupported format version";
    case GATREC_ECHECKSUM: return "checksum mismatch";
    case GATREC_ETRUNCATED: return "truncated file";
    case GATREC_ENETWORK: return "network failure";
    case GATREC_ECANCELLED: return "cancelled";
    case GATREC_EUSER: return "host callback failed";
    case GATREC_EUNSUPPORTED: return "not supported";
    default: return "unknown status";
    }
}

GATREC_API const char *gatrec_last_error(void)
{
    return last_message[0] ? last_message : "no error";
}

int gatrec__error_is_set(void)
{
    return last_message[0] != '\0';
}

GATREC_API int gatrec_last_error_status(void)
{
    return last_status;
}

GATREC_API void gatrec_error_clear(void)
{
    last_message[0] = '\0';
    last_status = GATREC_OK;
}

int gatrec__error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    last_status = status;
    return status;
}

int gatrec__error_context(int status, const char *fmt, ...)
{
    char prefix[512], old[sizeof last_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_message, sizeof old);
    snprintf(last_message, sizeof last_message, "%s: %s", prefix,
             old[0] ? old : gatrec_strerror(status));
    last_status = status;
    return status;
}
