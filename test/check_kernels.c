/* The GAT kernels and network: fast == reference, gradients == central finite differences,
 * bitwise the same results for 1 and 2 threads. The PyTorch oracle is test/oracle.py. */
#include <math.h>

#include "../lib/kernels/kernels.h"
#include "../lib/model/train.h"
#include "check_util.h"

/* Relative tolerance of fast against reference: float sums in a different order. */
#define KERNEL_RTOL 1e-4

static float urand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xFFFFFF) / 16777216.0f * 2.0f - 1.0f;
}

static float *rand_vec(size_t n, uint64_t *s)
{
    float *v = malloc((n + 1) * sizeof *v);
    for (size_t k = 0; k < n; k++)
        v[k] = urand(s);
    return v;
}

/* A random directed graph with 0..maxdeg in-edges per node, grouped by target and by source. */
typedef struct rgraph {
    gatrec__edges e;
    size_t *off, *soff;
    int32_t *src, *dst;
    uint32_t *sedge;
    float *attr;
} rgraph;

static void rgraph_make(rgraph *r, size_t n, size_t maxdeg, uint64_t *s)
{
    size_t m = 0;
    r->off = calloc(n + 1, sizeof *r->off);
    r->src = malloc((n * maxdeg + 1) * sizeof *r->src);
    r->dst = malloc((n * maxdeg + 1) * sizeof *r->dst);
    r->attr = malloc((n * maxdeg + 1) * sizeof *r->attr);
    for (size_t t = 0; t < n; t++) {
        size_t deg = (size_t)((urand(s) + 1.0f) * 0.5f * (float)(maxdeg + 1));
        if (deg > maxdeg)
            deg = maxdeg;
        r->off[t] = m;
        for (size_t k = 0; k < deg; k++, m++) {
            r->src[m] = (int32_t)((urand(s) + 1.0f) * 0.5f * (float)n) % (int32_t)n;
            r->dst[m] = (int32_t)t;
            r->attr[m] = 1.0f + 2.0f * (urand(s) + 1.0f);
        }
    }
    r->off[n] = m;
    r->soff = calloc(n + 2, sizeof *r->soff);
    r->sedge = malloc((m + 1) * sizeof *r->sedge);
    for (size_t k = 0; k < m; k++)
        r->soff[(size_t)r->src[k] + 2]++;
    for (size_t v = 2; v < n + 2; v++)
        r->soff[v] += r->soff[v - 1];
    for (size_t k = 0; k < m; k++)
        r->sedge[r->soff[(size_t)r->src[k] + 1]++] = (uint32_t)k;
    r->e = (gatrec__edges){n, m, r->off, r->src, r->attr, r->soff, r->sedge, r->dst};
}

static void rgraph_free(rgraph *r)
{
    free(r->off);
    free(r->soff);
    free(r->src);
    free(r->dst);
    free(r->sedge);
    free(r->attr);
}

static void assert_close(const char *what, const float *a, const float *b, size_t n, double rtol)
{
    double scale = 1e-6;
    for (size_t k = 0; k < n; k++)
        scale = fmax(scale, fabs((double)b[k]));
    for (size_t k = 0; k < n; k++)
        ck_assert_msg(fabs((double)a[k] - b[k]) <= rtol * scale, "%s[%zu]: fast %.9g, reference %.9g (scale %g)", what, k,
                      a[k], b[k], scale);
}

/* The outputs and gradients of one GATv2 layer through a kernel table. */
typedef struct gat_io {
    float *alpha, *out, *dxl, *dxr, *dwe, *datt, *dbias, *work;
} gat_io;

static void run_gat(const gatrec__kernels *K, int threads, const rgraph *r, const gatrec__gat_shape *sh, float **in,
                    const float *dout, gat_io *io)
{
    size_t n = r->e.n, m = r->e.m, H = sh->heads, hc = H * sh->ch, ow = gatrec__gat_out_width(sh);
    io->alpha = calloc(m * H + 1, sizeof(float));
    io->out = calloc(n * ow, sizeof(float));
    io->dxl = calloc(n * hc, sizeof(float));
    io->dxr = calloc(n * hc, sizeof(float));
    io->dwe = calloc(hc, sizeof(float));
    io->datt = calloc(hc, sizeof(float));
    io->dbias = calloc(ow, sizeof(float));
    io->work = calloc(m * H + 1, sizeof(float));
    ck_assert_ok(K->gat_forward(threads, &r->e, sh, in[0], in[1], in[2], in[3], in[4], io->alpha, io->out));
    ck_assert_ok(K->gat_backward(threads, &r->e, sh, in[0], in[1], in[2], in[3], io->alpha, dout, io->dxl, io->dxr,
                                 io->dwe, io->datt, io->dbias, io->work));
}

static void free_io(gat_io *io)
{
    free(io->alpha);
    free(io->out);
    free(io->dxl);
    free(io->dxr);
    free(io->dwe);
    free(io->datt);
    free(io->dbias);
    free(io->work);
}

static const gatrec__gat_shape shapes[] = {
    {1, 3, 1, 0.2f, 1}, {4, 8, 1, 0.2f, 1}, {3, 5, 0, 0.1f, 1}, {2, 16, 1, 0.2f, 0}, {2, 9, 0, 0.3f, 0},
};

START_TEST(gat_fast_matches_reference)
{
    uint64_t s = 7 + (uint64_t)_i;
    const gatrec__gat_shape *sh = &shapes[_i];
    size_t n = 150, hc = sh->heads * sh->ch, ow = gatrec__gat_out_width(sh);
    rgraph r;
    gat_io ref, fast, fast1;
    rgraph_make(&r, n, 12, &s);
    float *in[5] = {rand_vec(n * hc, &s), rand_vec(n * hc, &s), rand_vec(hc, &s), rand_vec(hc, &s), rand_vec(ow, &s)};
    float *dout = rand_vec(n * ow, &s);
    run_gat(&gatrec__kernels_reference, 1, &r, sh, in, dout, &ref);
    run_gat(&gatrec__kernels_fast, 2, &r, sh, in, dout, &fast);
    run_gat(&gatrec__kernels_fast, 1, &r, sh, in, dout, &fast1);
    assert_close("alpha", fast.alpha, ref.alpha, r.e.m * sh->heads, KERNEL_RTOL);
    assert_close("out", fast.out, ref.out, n * ow, KERNEL_RTOL);
    assert_close("dxl", fast.dxl, ref.dxl, n * hc, KERNEL_RTOL);
    assert_close("dxr", fast.dxr, ref.dxr, n * hc, KERNEL_RTOL);
    assert_close("datt", fast.datt, ref.datt, hc, KERNEL_RTOL);
    assert_close("dbias", fast.dbias, ref.dbias, ow, KERNEL_RTOL);
    if (sh->use_attr)
        assert_close("dwe", fast.dwe, ref.dwe, hc, KERNEL_RTOL);
    /* the thread count never changes a bit */
    ck_assert_mem_eq(fast.out, fast1.out, n * ow * sizeof(float));
    ck_assert_mem_eq(fast.dxl, fast1.dxl, n * hc * sizeof(float));
    ck_assert_mem_eq(fast.datt, fast1.datt, hc * sizeof(float));
    ck_assert_mem_eq(fast.dwe, fast1.dwe, hc * sizeof(float));
    /* out NULL: the alpha alone, the same bits (what a backward that did not keep alpha recomputes) */
    for (int k = 0; k < 2; k++) {
        const gatrec__kernels *K = k ? &gatrec__kernels_fast : &gatrec__kernels_reference;
        float *a = calloc(r.e.m * sh->heads + 1, sizeof *a);
        ck_assert_ok(K->gat_forward(2, &r.e, sh, in[0], in[1], in[2], in[3], in[4], a, NULL));
        ck_assert_mem_eq(a, k ? fast.alpha : ref.alpha, r.e.m * sh->heads * sizeof *a);
        free(a);
    }
    free_io(&ref);
    free_io(&fast);
    free_io(&fast1);
    for (int k = 0; k < 5; k++)
        free(in[k]);
    free(dout);
    rgraph_free(&r);
}
END_TEST

/* L = sum(out * R) of one GATv2 layer, in double, through the reference kernels. */
static double gat_loss(const rgraph *r, const gatrec__gat_shape *sh, float **in, const float *R)
{
    size_t n = r->e.n, ow = gatrec__gat_out_width(sh);
    float *alpha = calloc(r->e.m * sh->heads + 1, sizeof(float)), *out = calloc(n * ow, sizeof(float));
    double L = 0;
    gatrec__kernels_reference.gat_forward(1, &r->e, sh, in[0], in[1], in[2], in[3], in[4], alpha, out);
    for (size_t k = 0; k < n * ow; k++)
        L += (double)out[k] * R[k];
    free(alpha);
    free(out);
    return L;
}

static void check_fd(const char *what, float *x, const float *grad, size_t n, double (*f)(void *), void *ctx)
{
    /* small enough that a perturbation rarely crosses a LeakyReLU kink, large enough for float */
    const float eps = 2e-4f;
    for (size_t k = 0; k < n; k++) {
        float keep = x[k];
        x[k] = keep + eps;
        double lp = f(ctx);
        x[k] = keep - eps;
        double lm = f(ctx);
        x[k] = keep;
        double fd = (lp - lm) / (2.0 * eps);
        ck_assert_msg(fabs(fd - grad[k]) <= 2e-2 * fmax(1.0, fabs(fd)), "%s[%zu]: analytic %.6g, finite difference %.6g",
                      what, k, grad[k], fd);
    }
}

typedef struct gat_fd {
    const rgraph *r;
    const gatrec__gat_shape *sh;
    float **in;
    const float *R;
} gat_fd;

static double gat_fd_loss(void *ctx)
{
    gat_fd *c = ctx;
    return gat_loss(c->r, c->sh, c->in, c->R);
}

START_TEST(gat_gradients_match_finite_differences)
{
    uint64_t s = 99 + (uint64_t)_i;
    const gatrec__gat_shape *sh = &shapes[_i];
    size_t n = 12, hc = sh->heads * sh->ch, ow = gatrec__gat_out_width(sh);
    rgraph r;
    gat_io io;
    rgraph_make(&r, n, 4, &s);
    float *in[5] = {rand_vec(n * hc, &s), rand_vec(n * hc, &s), rand_vec(hc, &s), rand_vec(hc, &s), rand_vec(ow, &s)};
    float *R = rand_vec(n * ow, &s);
    gat_fd ctx = {&r, sh, in, R};
    run_gat(&gatrec__kernels_reference, 1, &r, sh, in, R, &io);
    check_fd("xl", in[0], io.dxl, n * hc, gat_fd_loss, &ctx);
    check_fd("xr", in[1], io.dxr, n * hc, gat_fd_loss, &ctx);
    if (sh->use_attr)
        check_fd("we", in[2], io.dwe, hc, gat_fd_loss, &ctx);
    check_fd("att", in[3], io.datt, hc, gat_fd_loss, &ctx);
    check_fd("bias", in[4], io.dbias, ow, gat_fd_loss, &ctx);
    free_io(&io);
    for (int k = 0; k < 5; k++)
        free(in[k]);
    free(R);
    rgraph_free(&r);
}
END_TEST

START_TEST(dense_fast_matches_reference)
{
    uint64_t s = 3;
    /* shapes straddling the 256-row blocks of the fast GEMM */
    size_t dims[][3] = {{1, 5, 3}, {300, 17, 33}, {513, 64, 256}, {7, 1, 1}};
    for (size_t c = 0; c < sizeof dims / sizeof *dims; c++) {
        size_t n = dims[c][0], k = dims[c][1], m = dims[c][2];
        float *X = rand_vec(n * k, &s), *W = rand_vec(m * k, &s), *b = rand_vec(m, &s), *dY = rand_vec(n * m, &s);
        float *Y[2], *dX[2], *dW[2], *db[2];
        const gatrec__kernels *K[2] = {&gatrec__kernels_reference, &gatrec__kernels_fast};
        for (int t = 0; t < 2; t++) {
            Y[t] = calloc(n * m, sizeof(float));
            dX[t] = calloc(n * k, sizeof(float));
            dW[t] = calloc(m * k, sizeof(float));
            db[t] = calloc(m, sizeof(float));
            ck_assert_ok(K[t]->linear(2, n, k, m, X, W, b, Y[t]));
            ck_assert_ok(K[t]->linear_backward(2, n, k, m, X, W, dY, dX[t], dW[t], db[t]));
        }
        assert_close("Y", Y[1], Y[0], n * m, KERNEL_RTOL);
        assert_close("dX", dX[1], dX[0], n * k, KERNEL_RTOL);
        assert_close("dW", dW[1], dW[0], m * k, KERNEL_RTOL);
        assert_close("db", db[1], db[0], m, KERNEL_RTOL);
        /* LayerNorm on the same data (rows of width m) */
        float *g = rand_vec(m, &s), *be = rand_vec(m, &s), *ln[2], *mu[2], *rs[2], *dx[2], *dg[2], *dbe[2];
        for (int t = 0; t < 2; t++) {
            ln[t] = calloc(n * m, sizeof(float));
            mu[t] = calloc(n, sizeof(float));
            rs[t] = calloc(n, sizeof(float));
            dx[t] = calloc(n * m, sizeof(float));
            dg[t] = calloc(m, sizeof(float));
            dbe[t] = calloc(m, sizeof(float));
            ck_assert_ok(K[t]->layernorm(2, n, m, 1e-5f, Y[0], g, be, ln[t], mu[t], rs[t]));
            ck_assert_ok(K[t]->layernorm_backward(2, n, m, Y[0], g, mu[t], rs[t], dY, dx[t], dg[t], dbe[t]));
        }
        if (m > 1) {
            assert_close("layernorm", ln[1], ln[0], n * m, KERNEL_RTOL);
            assert_close("layernorm dx", dx[1], dx[0], n * m, 1e-3);
            assert_close("layernorm dgamma", dg[1], dg[0], m, KERNEL_RTOL);
            assert_close("layernorm dbeta", dbe[1], dbe[0], m, KERNEL_RTOL);
        }
        for (int t = 0; t < 2; t++) {
            free(Y[t]);
            free(dX[t]);
            free(dW[t]);
            free(db[t]);
            free(ln[t]);
            free(mu[t]);
            free(rs[t]);
            free(dx[t]);
            free(dg[t]);
            free(dbe[t]);
        }
        free(X);
        free(W);
        free(b);
        free(dY);
        free(g);
        free(be);
    }
}
END_TEST

/* A small bipartite graph with ratings 1..5. */
static gatrec_graph *small_graph(size_t nu, size_t ni, uint64_t seed)
{
    int32_t u[64], i[64];
    float r[64];
    size_t n = 0;
    gatrec_graph *g;
    uint64_t s = seed;
    for (size_t a = 0; a < nu; a++)
        for (size_t b = 0; b < ni; b++)
            if (urand(&s) > 0.1f && n < 64) {
                u[n] = (int32_t)a;
                i[n] = (int32_t)b;
                r[n] = (float)(1 + (n * 7 + a) % 5);
                n++;
            }
    ck_assert_ok(gatrec_graph_from_edges(nu, ni, n, u, i, r, NULL, &g));
    return g;
}

/* L = sum(emb * R) of a whole network (the GAT's or attn's probe), for central differences; an
 * attn network may be run as a training step (step 3), its alignment term added. */
typedef struct net_fd {
    gatrec__gat_probe *gat;
    gatrec__attn_probe *attn;
    const float *R;
    size_t n;
    int train;
} net_fd;

static double net_loss(void *ctx)
{
    net_fd *c = ctx;
    const float *emb;
    size_t dim;
    double L = 0;
    if (c->gat)
        ck_assert_ok(gatrec__gat_probe_forward(c->gat, 0, 0, &emb, &dim));
    else
        ck_assert_ok(gatrec__attn_probe_forward(c->attn, c->train, 3, &emb, &dim));
    if (c->attn && c->train)
        L = gatrec__attn_probe_align(c->attn);
    for (size_t k = 0; k < c->n * dim; k++)
        L += (double)emb[k] * c->R[k];
    return L;
}

static const struct {
    const char *layers;
    int flags;
} nets[] = {
    {"3x2,4x1", 0},
    {"4x2m,4x2", GATREC_GAT_NO_LAYERNORM},
    {"2x3,3x1m", GATREC_GAT_NO_SELF_LOOPS | GATREC_GAT_NO_EDGE_ATTR},
    {"5x1,5x1", GATREC_GAT_NO_RESIDUAL},
};

START_TEST(network_gradients_match_finite_differences)
{
    gatrec_graph *g = small_graph(4, 5, 11 + (uint64_t)_i);
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    gatrec__gat_probe *p;
    const gatrec__tensor *tensors;
    size_t np, nt, dim, N = 9;
    float *theta, *grad;
    const float *emb;
    uint64_t s = 5;
    o.kind = GATREC_MODEL_GAT;
    o.dim = 3;
    o.layers = nets[_i].layers;
    o.gat_flags = nets[_i].flags;
    o.kernels = "reference";
    o.threads = 1;
    ck_assert_ok(gatrec__gat_probe_new(g, &o, &p));
    theta = gatrec__gat_probe_params(p, &grad, &np, &tensors, &nt);
    ck_assert_ok(gatrec__gat_probe_forward(p, 0, 0, &emb, &dim));
    float *R = rand_vec(N * dim, &s);
    net_fd ctx = {p, NULL, R, N, 0};
    ck_assert_ok(gatrec__gat_probe_backward(p, R));
    float *an = malloc(np * sizeof *an);
    memcpy(an, grad, np * sizeof *an);
    for (size_t t = 0; t < nt; t++) /* every tensor, including the input features */
        check_fd(tensors[t].name, theta + tensors[t].off, an + tensors[t].off, tensors[t].len, net_loss, &ctx);
    free(an);
    free(R);
    gatrec__gat_probe_free(p);
    gatrec_graph_free(g);
}
END_TEST

/* ---- the attn model's kernels and network ---- */

typedef struct attn_io {
    float *alpha, *dxl, *dxr, *dwe, *datt, *work, *out, *din, *dw;
} attn_io;

/* in: xl, xr, we, att, dalpha (m), x (n x d), dout (n x d), w (m) */
static void run_attn(const gatrec__kernels *K, int threads, const rgraph *r, size_t ha, size_t d, int use_we,
                     float **in, attn_io *io)
{
    size_t n = r->e.n, m = r->e.m;
    io->alpha = calloc(m + 1, sizeof(float));
    io->dxl = calloc(n * ha, sizeof(float));
    io->dxr = calloc(n * ha, sizeof(float));
    io->dwe = calloc(ha, sizeof(float));
    io->datt = calloc(ha, sizeof(float));
    io->work = calloc(m + 1, sizeof(float));
    io->out = calloc(n * d, sizeof(float));
    io->din = calloc(n * d, sizeof(float));
    io->dw = calloc(m + 1, sizeof(float));
    ck_assert_ok(K->attn_weights(threads, &r->e, ha, 0.2f, in[0], in[1], use_we ? in[2] : NULL, in[3], io->alpha));
    ck_assert_ok(K->attn_weights_backward(threads, &r->e, ha, 0.2f, in[0], in[1], use_we ? in[2] : NULL, in[3],
                                          io->alpha, in[4], io->dxl, io->dxr, io->dwe, io->datt, io->work));
    ck_assert_ok(K->propagate(threads, &r->e, d, in[7], in[5], io->out));
    ck_assert_ok(K->propagate_backward(threads, &r->e, d, in[7], in[5], in[6], io->din, io->dw));
}

static void free_attn_io(attn_io *io)
{
    float **p[] = {&io->alpha, &io->dxl, &io->dxr, &io->dwe, &io->datt, &io->work, &io->out, &io->din, &io->dw};
    for (size_t k = 0; k < sizeof p / sizeof *p; k++)
        free(*p[k]);
}

static float **attn_inputs(size_t n, size_t m, size_t ha, size_t d, uint64_t *s)
{
    float **in = malloc(8 * sizeof *in);
    in[0] = rand_vec(n * ha, s);
    in[1] = rand_vec(n * ha, s);
    in[2] = rand_vec(ha, s);
    in[3] = rand_vec(ha, s);
    in[4] = rand_vec(m, s);
    in[5] = rand_vec(n * d, s);
    in[6] = rand_vec(n * d, s);
    in[7] = rand_vec(m, s);
    return in;
}

static void free_inputs(float **in)
{
    for (int k = 0; k < 8; k++)
        free(in[k]);
    free(in);
}

START_TEST(attn_fast_matches_reference)
{
    uint64_t s = 31 + (uint64_t)_i;
    size_t n = 150, ha = _i ? 16 : 3, d = _i ? 37 : 8;
    int use_we = _i != 1;
    rgraph r;
    attn_io ref, fast, fast1;
    rgraph_make(&r, n, 12, &s);
    float **in = attn_inputs(n, r.e.m, ha, d, &s);
    run_attn(&gatrec__kernels_reference, 1, &r, ha, d, use_we, in, &ref);
    run_attn(&gatrec__kernels_fast, 2, &r, ha, d, use_we, in, &fast);
    run_attn(&gatrec__kernels_fast, 1, &r, ha, d, use_we, in, &fast1);
    assert_close("alpha", fast.alpha, ref.alpha, r.e.m, KERNEL_RTOL);
    assert_close("dxl", fast.dxl, ref.dxl, n * ha, KERNEL_RTOL);
    assert_close("dxr", fast.dxr, ref.dxr, n * ha, KERNEL_RTOL);
    assert_close("datt", fast.datt, ref.datt, ha, KERNEL_RTOL);
    if (use_we)
        assert_close("dwe", fast.dwe, ref.dwe, ha, KERNEL_RTOL);
    assert_close("propagate", fast.out, ref.out, n * d, KERNEL_RTOL);
    assert_close("propagate din", fast.din, ref.din, n * d, KERNEL_RTOL);
    assert_close("propagate dw", fast.dw, ref.dw, r.e.m, KERNEL_RTOL);
    ck_assert_mem_eq(fast.alpha, fast1.alpha, r.e.m * sizeof(float));
    ck_assert_mem_eq(fast.dxl, fast1.dxl, n * ha * sizeof(float));
    ck_assert_mem_eq(fast.datt, fast1.datt, ha * sizeof(float));
    ck_assert_mem_eq(fast.dwe, fast1.dwe, ha * sizeof(float));
    ck_assert_mem_eq(fast.out, fast1.out, n * d * sizeof(float));
    ck_assert_mem_eq(fast.din, fast1.din, n * d * sizeof(float));
    ck_assert_mem_eq(fast.dw, fast1.dw, r.e.m * sizeof(float));
    free_attn_io(&ref);
    free_attn_io(&fast);
    free_attn_io(&fast1);
    free_inputs(in);
    rgraph_free(&r);
}
END_TEST

typedef struct attn_fd {
    const rgraph *r;
    size_t ha, d;
    int use_we;
    float **in;
    const float *R, *Rw; /* weights of the propagated output and of alpha */
} attn_fd;

/* sum(alpha * Rw) + sum(propagate(w, x) * R), in double through the reference kernels */
static double attn_fd_loss(void *ctx)
{
    attn_fd *c = ctx;
    size_t n = c->r->e.n, m = c->r->e.m;
    float *alpha = calloc(m + 1, sizeof(float)), *out = calloc(n * c->d, sizeof(float));
    double L = 0;
    gatrec__kernels_reference.attn_weights(1, &c->r->e, c->ha, 0.2f, c->in[0], c->in[1], c->use_we ? c->in[2] : NULL,
                                           c->in[3], alpha);
    gatrec__kernels_reference.propagate(1, &c->r->e, c->d, c->in[7], c->in[5], out);
    for (size_t e = 0; e < m; e++)
        L += (double)alpha[e] * c->Rw[e];
    for (size_t k = 0; k < n * c->d; k++)
        L += (double)out[k] * c->R[k];
    free(alpha);
    free(out);
    return L;
}

START_TEST(attn_gradients_match_finite_differences)
{
    uint64_t s = 77 + (uint64_t)_i;
    size_t n = 12, ha = 4, d = 5;
    int use_we = _i == 0;
    rgraph r;
    attn_io io;
    rgraph_make(&r, n, 4, &s);
    float **in = attn_inputs(n, r.e.m, ha, d, &s);
    attn_fd ctx = {&r, ha, d, use_we, in, in[6], in[4]}; /* dout = R, dalpha = Rw */
    run_attn(&gatrec__kernels_reference, 1, &r, ha, d, use_we, in, &io);
    check_fd("xl", in[0], io.dxl, n * ha, attn_fd_loss, &ctx);
    check_fd("xr", in[1], io.dxr, n * ha, attn_fd_loss, &ctx);
    if (use_we)
        check_fd("we", in[2], io.dwe, ha, attn_fd_loss, &ctx);
    check_fd("att", in[3], io.datt, ha, attn_fd_loss, &ctx);
    check_fd("x", in[5], io.din, n * d, attn_fd_loss, &ctx);
    check_fd("w", in[7], io.dw, r.e.m, attn_fd_loss, &ctx);
    free_attn_io(&io);
    free_inputs(in);
    rgraph_free(&r);
}
END_TEST

static const struct {
    int inputs, flags, layers;
} attn_nets[] = {
    {GATREC_INPUTS_ID_TEXT, 0, 2},
    {GATREC_INPUTS_TEXT, 0, 3},
    {GATREC_INPUTS_ID, GATREC_ATTN_NO_EDGE_ATTR, 1},
    {GATREC_INPUTS_ID_TEXT, GATREC_ATTN_UNIFORM, 2},
};

/* An attn network on a small graph with random text (3 features) and random parameters (an
 * untrained model's attention is uniform, its gradient degenerate) against central differences,
 * as a training step when `train` (the alignment is on then). o: the configuration. */
static void check_attn_network(gatrec_model_options *o, uint64_t graph_seed, uint64_t seed, int train)
{
    gatrec_graph *g = small_graph(4, 5, graph_seed);
    gatrec__attn_probe *p;
    const gatrec__tensor *tensors;
    size_t np, nt, dim, N = 9, f = 3;
    float *theta, *grad;
    const float *emb;
    uint64_t s = seed;
    float *feat = rand_vec(N * f, &s);
    o->kind = GATREC_MODEL_ATTN;
    o->dim = 4;
    o->attention_dim = 3;
    o->kernels = "reference";
    o->threads = 1;
    if (o->inputs != GATREC_INPUTS_ID) {
        o->features = feat;
        o->feature_dim = f;
    }
    ck_assert_ok(gatrec__attn_probe_new(g, o, &p));
    theta = gatrec__attn_probe_params(p, &grad, &np, &tensors, &nt);
    for (size_t k = 0; k < np; k++)
        theta[k] = 0.5f * urand(&s);
    ck_assert_ok(gatrec__attn_probe_forward(p, train, 3, &emb, &dim));
    if (train)
        ck_assert(gatrec__attn_probe_align(p) > 0);
    float *R = rand_vec(N * dim, &s);
    net_fd ctx = {NULL, p, R, N, train};
    ck_assert_ok(gatrec__attn_probe_backward(p, R));
    float *an = malloc((np + 1) * sizeof *an);
    memcpy(an, grad, np * sizeof *an);
    for (size_t t = 0; t < nt; t++)
        check_fd(tensors[t].name, theta + tensors[t].off, an + tensors[t].off, tensors[t].len, net_loss, &ctx);
    free(an);
    free(R);
    free(feat);
    gatrec__attn_probe_free(p);
    gatrec_graph_free(g);
}

/* The whole attn network (layer 0, attention, propagation, readout), in four configurations. */
START_TEST(attn_network_gradients_match_finite_differences)
{
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    o.propagation = attn_nets[_i].layers;
    o.inputs = attn_nets[_i].inputs;
    o.attn_flags = attn_nets[_i].flags;
    check_attn_network(&o, 21 + (uint64_t)_i, 9, 0);
}
END_TEST

/* The alignment's gradient (into the outputs and the text map). */
START_TEST(attn_alignment_gradient_matches_finite_differences)
{
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    o.propagation = 2;
    o.align = 0.7f;
    o.temperature = 0.5f;
    check_attn_network(&o, 29, 13, 1);
}
END_TEST

/* With att = 0 (the initialisation) every node attends uniformly: the model starts as LightGCN. */
START_TEST(attn_starts_uniform)
{
    gatrec_graph *g = small_graph(5, 6, 3);
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    gatrec__attn_probe *p;
    const float *emb, *alpha;
    size_t dim, m;
    o.kind = GATREC_MODEL_ATTN;
    o.dim = 4;
    ck_assert_ok(gatrec__attn_probe_new(g, &o, &p));
    ck_assert_ok(gatrec__attn_probe_forward(p, 0, 0, &emb, &dim));
    alpha = gatrec__attn_probe_alpha(p, &m);
    ck_assert_uint_gt(m, 0);
    for (size_t e = 0; e < m; e++)
        ck_assert(alpha[e] > 0 && alpha[e] <= 1);
    /* the edges into one node share its alpha: 1 / in-degree */
    const gatrec__csr *bu = &g->by_user;
    for (size_t u = 0, e = 0; u < 5; u++) {
        size_t deg = bu->off[u + 1] - bu->off[u];
        for (size_t k = 0; k < deg; k++, e++)
            ck_assert_float_eq_tol(alpha[e], 1.0f / (float)deg, 1e-6f);
    }
    gatrec__attn_probe_free(p);
    gatrec_graph_free(g);
}
END_TEST

START_TEST(unknown_kernels_are_refused)
{
    ck_assert_ptr_null(gatrec__kernels_get("gpu"));
    ck_assert_error_mentions("gpu");
    ck_assert_ptr_eq(gatrec__kernels_get("reference"), &gatrec__kernels_reference);
    ck_assert_ptr_eq(gatrec__kernels_get("fast"), &gatrec__kernels_fast);
}
END_TEST

Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, gat_fast_matches_reference, 0, (int)(sizeof shapes / sizeof *shapes));
    tcase_add_loop_test(tc, gat_gradients_match_finite_differences, 0, (int)(sizeof shapes / sizeof *shapes));
    tcase_add_test(tc, dense_fast_matches_reference);
    tcase_add_loop_test(tc, network_gradients_match_finite_differences, 0, (int)(sizeof nets / sizeof *nets));
    tcase_add_loop_test(tc, attn_fast_matches_reference, 0, 3);
    tcase_add_loop_test(tc, attn_gradients_match_finite_differences, 0, 2);
    tcase_add_loop_test(tc, attn_network_gradients_match_finite_differences, 0,
                        (int)(sizeof attn_nets / sizeof *attn_nets));
    tcase_add_test(tc, attn_starts_uniform);
    tcase_add_test(tc, attn_alignment_gradient_matches_finite_differences);
    tcase_add_test(tc, unknown_kernels_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
