/* The public header alone must compile as strict C99 and as C++ (make test-abi does both). */
#include "gatrec.h"

#ifdef __cplusplus
static_assert(sizeof(gatrec_metrics) > 0, "gatrec_metrics is complete");
#endif

int gatrec_headertest_uses_every_init_macro(void);
int gatrec_headertest_uses_every_init_macro(void)
{
    gatrec_delimited_options d = GATREC_DELIMITED_OPTIONS_INIT;
    gatrec_graph_options g = GATREC_GRAPH_OPTIONS_INIT;
    gatrec_eval_options e = GATREC_EVAL_OPTIONS_INIT;
    gatrec_model_options m = GATREC_MODEL_OPTIONS_INIT;
    return (int)(d.version + g.version + e.version + m.version) + GATREC_VERSION_NUMBER;
}
