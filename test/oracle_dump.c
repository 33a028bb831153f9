/* Writes small random GAT and attn networks, their forward values and gradients (through libgatrec's
 * own network code and kernels) for test/oracle.py, which recomputes them with PyTorch autograd.
 * Usage: oracle_dump KERNELS > FILE */
#include <stdio.h>
#include <stdlib.h>

#include "../lib/model/train.h"

static const struct {
    const char *layers;
    int flags;
    size_t dim;
} nets[] = {
    {"6x2,5x2,4x1", 0, 7},
    {"4x3m,4x2", GATREC_GAT_NO_LAYERNORM, 4},
    {"3x2,6x1m", GATREC_GAT_NO_SELF_LOOPS | GATREC_GAT_NO_EDGE_ATTR, 5},
    {"5x1,5x1", GATREC_GAT_NO_RESIDUAL, 5},
};

static const struct {
    int inputs, flags, layers;
} anets[] = {
    {GATREC_INPUTS_ID_TEXT, 0, 2},
    {GATREC_INPUTS_TEXT, GATREC_ATTN_NO_EDGE_ATTR, 3},
    {GATREC_INPUTS_ID, 0, 1},
    {GATREC_INPUTS_ID_TEXT, GATREC_ATTN_UNIFORM, 2},
};

static void put(const char *tag, const float *v, size_t n)
{
    printf("%s %zu", tag, n);
    for (size_t k = 0; k < n; k++)
        printf(" %.9g", v[k]);
    printf("\n");
}

/* Every tensor of a network's parameters (or gradient) as "TAG name|n v1 v2 ..." lines. */
static void put_tensors(const char *tag, const float *base, const gatrec__tensor *ts, size_t nt)
{
    for (size_t t = 0; t < nt; t++) {
        printf("%s %s|", tag, ts[t].name);
        put("", base + ts[t].off, ts[t].len);
    }
}

/* A small random bipartite graph: about two thirds of the pairs, ratings 1..5. */
static gatrec_graph *random_graph(size_t nu, size_t ni, uint64_t seed, int32_t *u, int32_t *it, float *r, size_t *n)
{
    gatrec_graph *g = NULL;
    *n = 0;
    for (size_t a = 0; a < nu; a++)
        for (size_t b = 0; b < ni; b++)
            if (gatrec__rng_below(seed, 1, a * ni + b, 3) != 0) {
                u[*n] = (int32_t)a;
                it[*n] = (int32_t)b;
                r[*n] = (float)(1 + gatrec__rng_below(seed, 2, *n, 5));
                (*n)++;
            }
    if (gatrec_graph_from_edges(nu, ni, *n, u, it, r, NULL, &g))
        fprintf(stderr, "%s\n", gatrec_last_error());
    return g;
}

/* The attn networks: random parameters (the trained init has att = 0), random text. */
static int dump_attn(const char *kernels)
{
    for (size_t c = 0; c < sizeof anets / sizeof *anets; c++) {
        size_t nu = 6, ni = 8, n, np, nt, dim, N = nu + ni, f = 5;
        int32_t u[48], it[48];
        float r[48], feat[14 * 5], *theta, *grad, *R;
        const float *emb;
        const gatrec__tensor *ts;
        gatrec__attn_probe *p;
        gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
        uint64_t seed = 2000 + c;
        gatrec_graph *g = random_graph(nu, ni, seed, u, it, r, &n);
        if (!g)
            return 1;
        for (size_t k = 0; k < N * f; k++)
            feat[k] = (float)gatrec__rng_below(seed, 4, k, 2001) / 1000.0f - 1.0f;
        o.kind = GATREC_MODEL_ATTN;
        o.seed = seed;
        o.dim = 6;
        o.attention_dim = 3;
        o.propagation = anets[c].layers;
        o.inputs = anets[c].inputs;
        o.attn_flags = anets[c].flags;
        o.kernels = kernels;
        o.threads = 2;
        o.dislike_weight = c % 2 ? -1.0f : 0.5f; /* the star rule on and off (2 stars or fewer push away) */
        if (o.inputs != GATREC_INPUTS_ID) {
            o.features = feat;
            o.feature_dim = f;
        }
        if (gatrec__attn_probe_new(g, &o, &p))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        theta = gatrec__attn_probe_params(p, &grad, &np, &ts, &nt);
        for (size_t k = 0; k < np; k++)
            theta[k] = (float)gatrec__rng_below(seed, 5, k, 2001) / 2000.0f - 0.5f;
        if (gatrec__attn_probe_forward(p, 0, 0, &emb, &dim))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        R = malloc(N * dim * sizeof *R);
        for (size_t k = 0; k < N * dim; k++)
            R[k] = (float)gatrec__rng_below(seed, 3, k, 2001) / 1000.0f - 1.0f;
        printf("anet %d %d %d %zu %zu %zu 0.2 %zu %zu %g\n", o.inputs, o.attn_flags, o.propagation, nu, ni, n, dim, f,
               o.dislike_weight > 0 ? o.dislike_weight : 0.0);
        for (size_t e = 0; e < n; e++)
            printf("edge %d %d %g\n", u[e], it[e], r[e]);
        put("feat", feat, N * f);
        put_tensors("param", theta, ts, nt);
        put("emb", emb, N * dim);
        put("R", R, N * dim);
        if (gatrec__attn_probe_backward(p, R))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        put_tensors("grad", grad, ts, nt);
        printf("end\n");
        free(R);
        gatrec__attn_probe_free(p);
        gatrec_graph_free(g);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *kernels = argc > 1 ? argv[1] : "fast";
    for (size_t c = 0; c < sizeof nets / sizeof *nets; c++) {
        size_t nu = 6, ni = 8, n, np, nt, dim, N = nu + ni;
        int32_t u[48], it[48];
        float r[48], *theta, *grad, *R;
        const float *emb;
        const gatrec__tensor *ts;
        gatrec__gat_probe *p;
        gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
        uint64_t seed = 1000 + c;
        gatrec_graph *g = random_graph(nu, ni, seed, u, it, r, &n);
        if (!g)
            return 1;
        o.kind = GATREC_MODEL_GAT;
        o.seed = seed;
        o.dim = nets[c].dim;
        o.layers = nets[c].layers;
        o.gat_flags = nets[c].flags;
        o.kernels = kernels;
        o.attention_slope = 0.2f;
        o.activation_slope = 0.05f;
        o.threads = 2;
        if (gatrec__gat_probe_new(g, &o, &p) || gatrec__gat_probe_forward(p, 0, 0, &emb, &dim))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        theta = gatrec__gat_probe_params(p, &grad, &np, &ts, &nt);
        R = malloc(N * dim * sizeof *R);
        for (size_t k = 0; k < N * dim; k++)
            R[k] = (float)gatrec__rng_below(seed, 3, k, 2001) / 1000.0f - 1.0f;
        printf("net %s %d %zu %zu %zu 0.2 0.05\n", nets[c].layers, nets[c].flags, nu, ni, n);
        for (size_t e = 0; e < n; e++)
            printf("edge %d %d %g\n", u[e], it[e], r[e]);
        put_tensors("param", theta, ts, nt);
        put("emb", emb, N * dim);
        put("R", R, N * dim);
        if (gatrec__gat_probe_backward(p, R))
            return fprintf(stderr, "%s\n", gatrec_last_error()), 1;
        put_tensors("grad", grad, ts, nt);
        printf("end\n");
        free(R);
        gatrec__gat_probe_free(p);
        gatrec_graph_free(g);
    }
    return dump_attn(kernels);
}
