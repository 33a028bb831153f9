/* Versioned structs the caller hands in: each one's published sizes, and the one copy that reads
 * no more of the caller's struct than its version has (libgit2's version-checked option copies).
 * A new version of a struct adds its fields at the end, bumps GATREC_X_VERSION in gatrec.h and
 * appends the new size here: test/check_common.c pins every size, so a reordered field or a
 * forgotten entry fails `make check`. */
#include <stddef.h>
#include <string.h>

#include "common.h"

/* sizes[v - 1]: the bytes of version v (the offset of the first field version v + 1 added) */
#define VERSIONS(type, CURRENT, ...)                                                                                   \
    static const size_t type##_sizes[] = {__VA_ARGS__};                                                                \
    const gatrec__versions gatrec__##type##_versions = {#type, CURRENT, type##_sizes};                                 \
    _Static_assert(sizeof type##_sizes / sizeof type##_sizes[0] == CURRENT, #type ": one size per version")

VERSIONS(gatrec_delimited_options, GATREC_DELIMITED_OPTIONS_VERSION, sizeof(gatrec_delimited_options));
VERSIONS(gatrec_graph_options, GATREC_GRAPH_OPTIONS_VERSION, offsetof(gatrec_graph_options, part),
         sizeof(gatrec_graph_options));
VERSIONS(gatrec_eval_options, GATREC_EVAL_OPTIONS_VERSION, offsetof(gatrec_eval_options, min_train_ratings),
         sizeof(gatrec_eval_options));
VERSIONS(gatrec_model_options, GATREC_MODEL_OPTIONS_VERSION, offsetof(gatrec_model_options, epochs),
         offsetof(gatrec_model_options, feature_weight_decay), offsetof(gatrec_model_options, lambda),
         offsetof(gatrec_model_options, inputs), offsetof(gatrec_model_options, optimizer),
         offsetof(gatrec_model_options, dislike_weight), sizeof(gatrec_model_options));
VERSIONS(gatrec_llm_transport, GATREC_LLM_TRANSPORT_VERSION, sizeof(gatrec_llm_transport));
VERSIONS(gatrec_http_options, GATREC_HTTP_OPTIONS_VERSION, sizeof(gatrec_http_options));
VERSIONS(gatrec_llm_options, GATREC_LLM_OPTIONS_VERSION, offsetof(gatrec_llm_options, response_format),
         sizeof(gatrec_llm_options));
VERSIONS(gatrec_profile_options, GATREC_PROFILE_OPTIONS_VERSION, offsetof(gatrec_profile_options, shards),
         offsetof(gatrec_profile_options, limit), sizeof(gatrec_profile_options));
VERSIONS(gatrec_reranker_options, GATREC_RERANKER_OPTIONS_VERSION,
         offsetof(gatrec_reranker_options, temperature) + sizeof(float), /* v1 ends there: padding follows */
         sizeof(gatrec_reranker_options));
VERSIONS(gatrec_embedder_options, GATREC_EMBEDDER_OPTIONS_VERSION, sizeof(gatrec_embedder_options));
VERSIONS(gatrec_request_options, GATREC_REQUEST_OPTIONS_VERSION, offsetof(gatrec_request_options, flags),
         sizeof(gatrec_request_options));
VERSIONS(gatrec_import_options, GATREC_IMPORT_OPTIONS_VERSION, sizeof(gatrec_import_options));

int gatrec__versions_check(const void *src, const gatrec__versions *v)
{
    unsigned int version;
    memcpy(&version, src, sizeof version); /* every versioned struct starts with it */
    if (version == 0 || version > v->current)
        return gatrec__error(GATREC_EINVAL, "%s: unsupported version %u (this libgatrec knows 1 to %u)", v->name,
                             version, v->current);
    return GATREC_OK;
}

int gatrec__versions_read(void *dst, const void *src, const gatrec__versions *v)
{
    unsigned int version;
    int rc;
    if (!src)
        return GATREC_OK;
    if ((rc = gatrec__versions_check(src, v)))
        return rc;
    memcpy(&version, src, sizeof version);
    memcpy(dst, src, v->sizes[version - 1]);
    memcpy(dst, &v->current, sizeof v->current); /* dst is now a whole struct of the current version */
    return GATREC_OK;
}
