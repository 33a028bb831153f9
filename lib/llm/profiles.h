/* The profile store: one text per user and per item, by dataset id. */
#ifndef GATREC_PROFILES_H
#define GATREC_PROFILES_H

#include "../common/common.h"

struct gatrec_profiles {
    gatrec__idmap ids[2]; /* GATREC_NODE_USER, GATREC_NODE_ITEM */
    char **text[2];       /* by index of ids[kind] */
    size_t cap[2];
};

#endif
