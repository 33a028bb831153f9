#include <unistd.h>

#include "common.h"

GATREC_API unsigned int gatrec_version(void)
{
    return GATREC_VERSION_NUMBER;
}

GATREC_API const char *gatrec_version_string(void)
{
    return GATREC_VERSION_STRING;
}

int gatrec__default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
