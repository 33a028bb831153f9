/* Internal to the embed layer. */
#ifndef GATREC_EMBED_H
#define GATREC_EMBED_H

#include "../common/common.h"

/* 1 when the embedder learns from a corpus and has not yet (the hashed one before fitting). */
int gatrec__embedder_needs_fit(const gatrec_embedder *e);
/* The embedder's state as bytes (what gatrec_embedder_save writes), and back; `what` names the
 * bytes in errors. A model keeps an embedder this way (model.c). */
int gatrec__embedder_serialize(const gatrec_embedder *e, gatrec__buf *b);
int gatrec__embedder_parse(const void *bytes, size_t len, const char *what, gatrec_embedder **out);

#endif
