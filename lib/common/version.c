
#include "common.h"

GATREC_API unsigned int gatrec_version(void)
{
    return GATREC_VERSION_NUMBER;
}

GATREC_API const char *gatrec_version_string(void)
{
    return GATREC_VERSION_STRING;
}
