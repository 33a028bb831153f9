/* Internal to the embed layer. */
#ifndef GATREC_EMBED_H
#define GATREC_EMBED_H

#include "../common/common.h"

/* 1 when the embedder learns from a corpus and has not yet (the hashed one before fitting). */
int gatrec__embedder_needs_fit(const gatrec_embedder *e);

#endif
