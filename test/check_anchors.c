/* The anchors: the dense solver, EASE, the content model, the softmax loss (against finite
 * differences), the strict cold-start splits, ranking among candidates and the fold-in of
 * cold users' revealed ratings. Small data made here; no MovieLens. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/data/dataset.h"
#include "../lib/kernels/dense.h"
#include "../lib/model/train.h"
#include "check_util.h"

#define NU 40
#define NI 30

/* Users 0..19 love items 0..14 and dislike a few of 15..29; users 20..39 the other way round.
 * Item 29 has no rating at all. */
static gatrec_graph *community_graph(void)
{
    int32_t u[NU * 12], i[NU * 12];
    float r[NU * 12];
    size_t n = 0;
    gatrec_graph *g;
    for (int32_t a = 0; a < NU; a++) {
        int32_t home = a < NU / 2 ? 0 : NI / 2, away = a < NU / 2 ? NI / 2 : 0;
        for (int32_t k = 0; k < 9; k++) {
            u[n] = a;
            i[n] = home + (a * 7 + k) % (NI / 2 - (home ? 1 : 0));
            r[n++] = (float)(4 + (a + k) % 2);
        }
        for (int32_t k = 0; k < 2; k++) {
            u[n] = a;
            i[n] = away + (a * 3 + k * 5) % (NI / 2 - 1);
            r[n++] = (float)(1 + k);
        }
    }
    ck_assert_ok(gatrec_graph_from_edges(NU, NI, n, u, i, r, NULL, &g));
    return g;
}

/* A random symmetric positive definite matrix, and its inverse in double by Gauss-Jordan. */
static void spd(size_t n, float *a, double *inv, unsigned seed)
{
    double *x = malloc(n * n * sizeof *x), *m = malloc(n * 2 * n * sizeof *m);
    srand(seed);
    for (size_t k = 0; k < n * n; k++)
        x[k] = (double)rand() / RAND_MAX - 0.5;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = i == j ? 0.05 * (double)n : 0;
            for (size_t k = 0; k < n; k++)
                s += x[i * n + k] * x[j * n + k];
            a[i * n + j] = (float)s;
            m[i * 2 * n + j] = (float)s; /* the same float values the solver sees */
            m[i * 2 * n + n + j] = i == j;
        }
    for (size_t c = 0; c < n; c++) { /* no pivoting needed: SPD */
        double p = m[c * 2 * n + c];
        for (size_t j = 0; j < 2 * n; j++)
            m[c * 2 * n + j] /= p;
        for (size_t r = 0; r < n; r++) {
            double f = m[r * 2 * n + c];
            if (r == c || f == 0)
                continue;
            for (size_t j = 0; j < 2 * n; j++)
                m[r * 2 * n + j] -= f * m[c * 2 * n + j];
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            inv[i * n + j] = m[i * 2 * n + n + j];
    free(x);
    free(m);
}

START_TEST(spd_inverse_matches_gauss_jordan)
{
    /* sizes below, at and across the 256 block, so every path of the blocked code runs */
    static const size_t sizes[] = {1, 7, 256, 300, 530};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        float *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b);
        double *inv = malloc(n * n * sizeof *inv), worst = 0, big = 0;
        spd(n, a, inv, (unsigned)n);
        memcpy(b, a, n * n * sizeof *a);
        ck_assert_ok(gatrec__spd_inverse(2, n, a));
        ck_assert_ok(gatrec__spd_inverse(1, n, b));
        for (size_t k = 0; k < n * n; k++) {
            worst = fmax(worst, fabs(a[k] - inv[k]));
            big = fmax(big, fabs(inv[k]));
            ck_assert_msg(a[k] == b[k], "n %zu: 1 and 2 threads differ at %zu", n, k);
        }
        ck_assert_msg(worst <= 1e-4 * big, "n %zu: inverse off by %g (largest entry %g)", n, worst, big);
        free(a);
        free(b);
        free(inv);
    }
}
END_TEST

START_TEST(cholesky_refuses_what_is_not_positive_definite)
{
    float a[9] = {1, 2, 0, 2, 1, 0, 0, 0, 1}; /* eigenvalues 3, -1, 1 */
    ck_assert_int_eq(gatrec__cholesky(1, 3, a), GATREC_EINVAL);
    ck_assert_error_mentions("not positive definite");
}
END_TEST

START_TEST(jacobi_eigen_decomposes)
{
    double a[9] = {4, 1, 2, 1, 3, 0, 2, 0, 5}, c[9], w[3], v[9];
    memcpy(c, a, sizeof a);
    ck_assert_ok(gatrec__sym_eigen(3, c, w, v));
    ck_assert(w[0] >= w[1] && w[1] >= w[2]);
    for (int j = 0; j < 3; j++) /* A v_j = w_j v_j */
        for (int i = 0; i < 3; i++) {
            double s = 0;
            for (int k = 0; k < 3; k++)
                s += a[i * 3 + k] * v[k * 3 + j];
            ck_assert_msg(fabs(s - w[j] * v[i * 3 + j]) < 1e-9, "eigenpair %d", j);
        }
}
END_TEST

/* EASE's B from its definition, in double, on the liked matrix of g. */
static void ease_reference(const gatrec_graph *g, double lambda, double *B)
{
    size_t n = gatrec_graph_num_items(g);
    float *G = calloc(n * n, sizeof *G);
    double *P = malloc(n * n * sizeof *P);
    for (size_t u = 0; u < gatrec_graph_num_users(g); u++) {
        const int32_t *it;
        const float *r;
        size_t c;
        ck_assert_ok(gatrec_graph_user_items(g, (int32_t)u, &it, &r, &c));
        for (size_t a = 0; a < c; a++)
            for (size_t b = 0; b < c; b++)
                G[it[a] * n + it[b]] += r[a] >= 4 && r[b] >= 4;
    }
    for (size_t i = 0; i < n; i++)
        G[i * n + i] += (float)lambda;
    { /* invert by Gauss-Jordan in double */
        double *m = malloc(n * 2 * n * sizeof *m);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                m[i * 2 * n + j] = G[i * n + j];
                m[i * 2 * n + n + j] = i == j;
            }
        for (size_t c = 0; c < n; c++) {
            double p = m[c * 2 * n + c];
            for (size_t j = 0; j < 2 * n; j++)
                m[c * 2 * n + j] /= p;
            for (size_t r = 0; r < n; r++)
                if (r != c) {
                    double f = m[r * 2 * n + c];
                    for (size_t j = 0; j < 2 * n; j++)
                        m[r * 2 * n + j] -= f * m[c * 2 * n + j];
                }
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                P[i * n + j] = m[i * 2 * n + n + j];
        free(m);
    }
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < n; i++)
            B[j * n + i] = i == j ? 0 : -P[j * n + i] / P[i * n + i];
    free(G);
    free(P);
}

static gatrec_model *train_ease(const gatrec_graph *g, float lambda)
{
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    gatrec_model *m;
    o.kind = GATREC_MODEL_EASE;
    o.lambda = lambda;
    ck_assert_ok(gatrec_model_train(g, &o, &m));
    return m;
}

START_TEST(ease_scores_are_x_times_b)
{
    gatrec_graph *g = community_graph();
    gatrec_model *m = train_ease(g, 5.0f), *m2;
    double *B = malloc(NI * NI * sizeof *B);
    float s[NI];
    int32_t all[NI], top[5], idx;
    size_t n;
    ease_reference(g, 5.0, B);
    for (int32_t i = 0; i < NI; i++)
        all[i] = i;
    for (int32_t u = 0; u < NU; u++) {
        const int32_t *it;
        const float *r;
        size_t c;
        ck_assert_ok(gatrec_model_score(m, u, all, NI, s));
        ck_assert_ok(gatrec_graph_user_items(g, u, &it, &r, &c));
        for (int32_t i = 0; i < NI - 1; i++) { /* item 29 has no rating: EASE ranks it last */
            double want = 0;
            for (size_t e = 0; e < c; e++) /* x_u: liked 1, disliked -0.1 (the star rule's EASE default) */
                want += (r[e] >= 4 ? 1.0 : r[e] <= 2 ? -0.1 : 0.0) * B[it[e] * NI + i];
            ck_assert_msg(fabs(s[i] - want) < 1e-4, "user %d item %d: %g, want %g", u, i, s[i], want);
        }
        ck_assert(isinf(s[NI - 1]) && s[NI - 1] < 0);
        ck_assert_ok(gatrec_model_recommend(m, u, 5, top, NULL, &n));
        for (size_t k = 0; k < n; k++) /* the home community first */
            ck_assert_int_eq(top[k] < NI / 2, u < NU / 2);
    }
    /* evidence: liked items with a positive B toward the recommendation; similar items: B's */
    {
        int32_t ev[3], sim[3];
        float w[3];
        ck_assert_ok(gatrec_model_recommend(m, 0, 1, top, NULL, &n));
        ck_assert_ok(gatrec_model_evidence(m, 0, top[0], 3, ev, w, &n));
        ck_assert_uint_ge(n, 1);
        for (size_t k = 0; k < n; k++)
            ck_assert(B[ev[k] * NI + top[0]] > 0 && w[k] > 0);
        ck_assert_ok(gatrec_model_similar_items(m, 0, 3, sim, NULL, &n));
        ck_assert_uint_eq(n, 3);
        for (size_t k = 0; k < n; k++)
            ck_assert_int_lt(sim[k], NI / 2);
    }
    /* fold-in: a new user is x_new B (the 1-star item at -0.1) */
    {
        int32_t items[3] = {1, 2, 3};
        float ratings[3] = {5, 4, 1};
        ck_assert_ok(gatrec_model_add_user(m, 1000, items, ratings, 3, NULL, &idx));
        ck_assert_ok(gatrec_model_score(m, idx, all, NI, s));
        for (int32_t i = 0; i < NI - 1; i++)
            ck_assert(fabs(s[i] - (B[1 * NI + i] + B[2 * NI + i] - 0.1 * B[3 * NI + i])) < 1e-4);
    }
    /* save / load: identical scores, the folded user included */
    ck_assert_ok(gatrec_model_save(m, "ease-test.gatrec"));
    ck_assert_ok(gatrec_model_load("ease-test.gatrec", &m2));
    ck_assert_int_eq(gatrec_model_get_kind(m2), GATREC_MODEL_EASE);
    for (int32_t u = 0; u <= idx; u += 7) {
        float a[NI], b[NI];
        ck_assert_ok(gatrec_model_score(m, u, all, NI, a));
        ck_assert_ok(gatrec_model_score(m2, u, all, NI, b));
        ck_assert(memcmp(a, b, sizeof a) == 0);
    }
    unlink("ease-test.gatrec");
    gatrec_model_free(m2);
    gatrec_model_free(m);
    gatrec_graph_free(g);
    free(B);
}
END_TEST

START_TEST(ease_refuses_bad_lambda)
{
    gatrec_graph *g = community_graph();
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    gatrec_model *m = NULL;
    o.kind = GATREC_MODEL_EASE;
    o.lambda = -1;
    ck_assert_int_eq(gatrec_model_train(g, &o, &m), GATREC_EINVAL);
    ck_assert_ptr_null(m);
    o.lambda = NAN;
    ck_assert_int_eq(gatrec_model_train(g, &o, &m), GATREC_EINVAL);
    gatrec_graph_free(g);
}
END_TEST

/* Features: users get noise, items their community in the first two coordinates plus noise. */
static float *community_features(size_t d)
{
    float *f = malloc((NU + NI) * d * sizeof *f);
    srand(7);
    for (size_t v = 0; v < NU + NI; v++)
        for (size_t k = 0; k < d; k++)
            f[v * d + k] = 0.2f * ((float)rand() / RAND_MAX - 0.5f);
    for (size_t i = 0; i < NI; i++)
        f[(NU + i) * d + (i < NI / 2 ? 0 : 1)] += 1.0f;
    return f;
}

START_TEST(content_model_is_the_cosine_to_liked_items)
{
    gatrec_graph *g = community_graph();
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    gatrec_model *m = NULL;
    float *f = community_features(6), s[2];
    int32_t top[4], idx, pair[2] = {0, 1};
    size_t n;
    o.kind = GATREC_MODEL_CONTENT;
    ck_assert_int_eq(gatrec_model_train(g, &o, &m), GATREC_EINVAL); /* no features */
    ck_assert_error_mentions("features");
    o.features = f;
    o.feature_dim = 6;
    ck_assert_ok(gatrec_model_train(g, &o, &m));
    for (int32_t u = 0; u < NU; u += 5) {
        ck_assert_ok(gatrec_model_recommend(m, u, 4, top, NULL, &n));
        for (size_t k = 0; k < n; k++)
            ck_assert_int_eq(top[k] < NI / 2, u < NU / 2);
    }
    /* item 29 has no rating but has features: content scores it like its community */
    {
        int32_t c[1] = {NI - 1};
        gatrec_reclist *l;
        const int32_t *li;
        ck_assert_ok(gatrec_model_recommend_all_among(m, 3, c, 1, &l));
        ck_assert_ok(gatrec_reclist_get(l, 25, &li, &n));
        ck_assert_uint_eq(n, 1);
        ck_assert_int_eq(li[0], NI - 1);
        gatrec_reclist_free(l);
    }
    /* fold-ins: a user from ratings, an item from features */
    {
        int32_t items[2] = {16, 17};
        float ratings[2] = {5, 5}, feat[6] = {0, 1, 0, 0, 0, 0};
        ck_assert_ok(gatrec_model_add_user(m, 500, items, ratings, 2, NULL, &idx));
        ck_assert_ok(gatrec_model_recommend(m, idx, 4, top, NULL, &n));
        for (size_t k = 0; k < n; k++)
            ck_assert_int_ge(top[k], NI / 2);
        ck_assert_int_eq(gatrec_model_add_item(m, 900, NULL, &idx), GATREC_EINVAL);
        ck_assert_ok(gatrec_model_add_item(m, 900, feat, &idx));
        pair[1] = idx;
        ck_assert_ok(gatrec_model_score(m, 30, pair, 2, s)); /* a user of the second community */
        ck_assert(s[1] > s[0]);
    }
    gatrec_model_free(m);
    gatrec_graph_free(g);
    free(f);
}
END_TEST

START_TEST(transductive_kinds_rank_unrated_items_last)
{
    gatrec_graph *g = community_graph();
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    gatrec_model *m;
    int32_t item = NI - 1;
    float s;
    o.kind = GATREC_MODEL_BPR;
    o.epochs = 3;
    o.dim = 8;
    ck_assert_ok(gatrec_model_train(g, &o, &m));
    ck_assert_ok(gatrec_model_score(m, 3, &item, 1, &s));
    ck_assert(isinf(s) && s < 0);
    gatrec_model_free(m);
    gatrec_graph_free(g);
}
END_TEST

/* The loss's analytic gradient against central differences in double-checked float. */
static void check_loss_gradient(int loss, int negatives, float uniformity, float cos_weight)
{
    gatrec_graph *g = community_graph();
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    size_t d = 5, N = (NU + NI) * d;
    float *e = malloc(N * sizeof *e), *grad = malloc(N * sizeof *grad), *scratch = malloc(N * sizeof *scratch);
    double v0, vp, vm, worst = 0, big = 0;
    o.loss = loss;
    o.negatives = negatives;
    o.uniformity = uniformity;
    o.cos_weight = cos_weight;
    o.threads = 2;
    srand(11);
    for (size_t k = 0; k < N; k++)
        e[k] = (float)rand() / RAND_MAX - 0.5f;
    ck_assert_ok(gatrec__loss_probe(g, &o, e, d, &v0, grad));
    for (size_t k = 0; k < N; k += 3) {
        float keep = e[k], h = 1e-2f;
        e[k] = keep + h;
        ck_assert_ok(gatrec__loss_probe(g, &o, e, d, &vp, scratch));
        e[k] = keep - h;
        ck_assert_ok(gatrec__loss_probe(g, &o, e, d, &vm, scratch));
        e[k] = keep;
        double fd = (vp - vm) / (2 * h);
        worst = fmax(worst, fabs(fd - grad[k]));
        big = fmax(big, fabs(fd));
    }
    ck_assert_msg(big > 0 && worst <= 2e-2 * big, "loss %d, negatives %d: gradient off by %g (largest %g)", loss,
                  negatives, worst, big);
    free(e);
    free(grad);
    free(scratch);
    gatrec_graph_free(g);
}

START_TEST(softmax_gradient_matches_finite_differences)
{
    check_loss_gradient(GATREC_LOSS_SOFTMAX, 0, 0, -1);  /* against every item */
    check_loss_gradient(GATREC_LOSS_SOFTMAX, 12, 0, -1); /* 12 sampled, shared */
    check_loss_gradient(GATREC_LOSS_SOFTMAX, 0, 0.5f, -1); /* with the uniformity term */
    check_loss_gradient(GATREC_LOSS_BPR, 1, 0, 1);       /* BPR + cosine, as a control */
}
END_TEST

START_TEST(softmax_learns_the_communities)
{
    static const int kinds[] = {GATREC_MODEL_BPR, GATREC_MODEL_LIGHTGCN, GATREC_MODEL_GAT};
    gatrec_graph *g = community_graph();
    for (size_t k = 0; k < 3; k++) {
        gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
        gatrec_model *m;
        int32_t top[4];
        size_t n, good = 0, all = 0;
        o.kind = kinds[k];
        o.loss = GATREC_LOSS_SOFTMAX;
        o.epochs = 60;
        o.dim = 16;
        o.lr = kinds[k] == GATREC_MODEL_GAT ? 0.01f : 0.05f;
        o.weight_decay = 0;
        o.layers = "8x2,8x1";
        ck_assert_ok(gatrec_model_train(g, &o, &m));
        for (int32_t u = 0; u < NU; u++) {
            ck_assert_ok(gatrec_model_recommend(m, u, 4, top, NULL, &n));
            for (size_t j = 0; j < n; j++, all++)
                good += (top[j] < NI / 2) == (u < NU / 2);
        }
        ck_assert_msg(good * 10 >= all * 9, "%s with the softmax loss: %zu of %zu in the home community",
                      gatrec_model_kind_name(kinds[k]), good, all);
        gatrec_model_free(m);
    }
    /* the cosine term is BPR's */
    {
        gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
        gatrec_model *m = NULL;
        o.kind = GATREC_MODEL_BPR;
        o.loss = GATREC_LOSS_SOFTMAX;
        o.cos_weight = 1;
        ck_assert_int_eq(gatrec_model_train(g, &o, &m), GATREC_EINVAL);
        o.cos_weight = -1;
        o.loss = 7;
        ck_assert_int_eq(gatrec_model_train(g, &o, &m), GATREC_EINVAL);
    }
    gatrec_graph_free(g);
}
END_TEST

/* A dataset of NU users x NI items from the community graph's ratings. */
static gatrec_dataset *community_dataset(void)
{
    gatrec_graph *g = community_graph();
    int64_t u[NU * 12], i[NU * 12];
    float r[NU * 12];
    size_t n = 0;
    gatrec_dataset *ds;
    for (int32_t a = 0; a < NU; a++) {
        const int32_t *it;
        const float *rr;
        size_t c;
        ck_assert_ok(gatrec_graph_user_items(g, a, &it, &rr, &c));
        for (size_t e = 0; e < c; e++, n++) {
            u[n] = 100 + a;
            i[n] = 500 + it[e];
            r[n] = rr[e];
        }
    }
    ck_assert_ok(gatrec_dataset_from_arrays(n, u, i, r, NULL, &ds));
    gatrec_graph_free(g);
    return ds;
}

START_TEST(cold_item_split_holds_out_whole_items)
{
    gatrec_dataset *ds = community_dataset();
    gatrec_split *s, *s2;
    size_t ni = gatrec_dataset_num_items(ds), cold = 0;
    uint8_t *in_train = calloc(ni, 1), *in_test = calloc(ni, 1);
    ck_assert_ok(gatrec_split_parse(ds, "cold-items:0.2", 3, &s));
    for (size_t r = 0; r < gatrec_dataset_num_ratings(ds); r++) {
        int32_t item;
        ck_assert_ok(gatrec_dataset_rating(ds, r, NULL, &item, NULL, NULL));
        (gatrec_split_part(s, r) == GATREC_PART_TEST ? in_test : in_train)[item] = 1;
    }
    for (size_t i = 0; i < ni; i++) {
        ck_assert_msg(!(in_train[i] && in_test[i]), "item %zu is in train and test", i);
        cold += in_test[i];
    }
    ck_assert_uint_eq(cold, (size_t)floor(ni * 0.2 + 0.5));
    /* the same seed, the same split; another seed, another */
    ck_assert_ok(gatrec_split_cold_items(ds, 0.2, 3, &s2));
    for (size_t r = 0; r < gatrec_dataset_num_ratings(ds); r++)
        ck_assert_int_eq(gatrec_split_part(s, r), gatrec_split_part(s2, r));
    gatrec_split_free(s2);
    gatrec_split_free(s);
    /* with a validation part carved from the warm training ratings */
    ck_assert_ok(gatrec_split_parse(ds, "cold-items:0.2+valid:0.1", 3, &s));
    ck_assert_uint_gt(gatrec_split_count(s, GATREC_PART_VALID), 0);
    gatrec_split_free(s);
    /* bad specs */
    ck_assert_int_eq(gatrec_split_parse(ds, "cold-items:0", 1, &s), GATREC_EINVAL);
    ck_assert_int_eq(gatrec_split_parse(ds, "cold-items:1.5", 1, &s), GATREC_EINVAL);
    ck_assert_int_eq(gatrec_split_parse(ds, "cold-items:x", 1, &s), GATREC_EINVAL);
    ck_assert_int_eq(gatrec_split_parse(ds, "cold-items:0.2:3", 1, &s), GATREC_EINVAL);
    { /* nothing to hold out: one item, or one user, is an empty cold part */
        int64_t u[2] = {1, 2}, i[2] = {7, 7};
        gatrec_dataset *tiny;
        ck_assert_ok(gatrec_dataset_from_arrays(2, u, i, NULL, NULL, &tiny));
        ck_assert_int_eq(gatrec_split_cold_items(tiny, 0.5, 1, &s), GATREC_EEMPTY);
        ck_assert_error_mentions("at least two items");
        gatrec_dataset_free(tiny);
        ck_assert_ok(gatrec_dataset_from_arrays(2, i, u, NULL, NULL, &tiny));
        ck_assert_int_eq(gatrec_split_cold_users(tiny, 0.5, 5, 1, &s), GATREC_EEMPTY);
        ck_assert_int_eq(gatrec_split_cold_users(NULL, 0.5, 5, 1, &s), GATREC_EINVAL);
        gatrec_dataset_free(tiny);
    }
    free(in_train);
    free(in_test);
    gatrec_dataset_free(ds);
}
END_TEST

START_TEST(cold_user_split_reveals_n_ratings)
{
    gatrec_dataset *ds = community_dataset();
    gatrec_split *s;
    size_t nu = gatrec_dataset_num_users(ds);
    size_t *rev = calloc(nu, sizeof *rev), *test = calloc(nu, sizeof *test), *train = calloc(nu, sizeof *train), cold = 0;
    ck_assert_ok(gatrec_split_parse(ds, "cold-users:0.25:3", 5, &s));
    for (size_t r = 0; r < gatrec_dataset_num_ratings(ds); r++) {
        int32_t user;
        int p = gatrec_split_part(s, r);
        ck_assert_ok(gatrec_dataset_rating(ds, r, &user, NULL, NULL, NULL));
        (p == GATREC_PART_REVEAL ? rev : p == GATREC_PART_TEST ? test : train)[user]++;
    }
    for (size_t u = 0; u < nu; u++) {
        if (!rev[u] && !test[u])
            continue;
        cold++;
        ck_assert_uint_eq(train[u], 0);
        ck_assert_uint_eq(rev[u], 3);
        ck_assert_uint_eq(test[u], 8);
    }
    ck_assert_uint_eq(cold, 10);
    ck_assert_uint_eq(gatrec_split_count(s, GATREC_PART_REVEAL), 30);
    gatrec_split_free(s);
    ck_assert_ok(gatrec_split_parse(ds, "cold-users:0.1", 5, &s)); /* 5 revealed by default */
    ck_assert_uint_eq(gatrec_split_count(s, GATREC_PART_REVEAL), 20);
    gatrec_split_free(s);
    ck_assert_int_eq(gatrec_split_parse(ds, "cold-users:0.1:-2", 1, &s), GATREC_EINVAL);
    ck_assert_int_eq(gatrec_split_parse(ds, "cold-users:0.1:2.5", 1, &s), GATREC_EINVAL);
    free(rev);
    free(test);
    free(train);
    gatrec_dataset_free(ds);
}
END_TEST

START_TEST(revealed_ratings_fold_in_cold_users)
{
    gatrec_dataset *ds = community_dataset();
    gatrec_split *s, *warm;
    gatrec_graph *g;
    gatrec_model_options o = GATREC_MODEL_OPTIONS_INIT;
    gatrec_model *m, *bpr;
    gatrec_reclist *l;
    size_t folded = 0, n;
    ck_assert_ok(gatrec_split_parse(ds, "cold-users:0.25:4", 5, &s));
    ck_assert_ok(gatrec_graph_new(ds, s, NULL, &g));
    o.kind = GATREC_MODEL_EASE;
    o.lambda = 5;
    ck_assert_ok(gatrec_model_train(g, &o, &m));
    { /* which ratings of each part the model trained on: all of train, none of the others */
        size_t c;
        ck_assert_ok(gatrec_model_count_trained(m, ds, s, GATREC_PART_TRAIN, &c));
        ck_assert_uint_eq(c, gatrec_split_count(s, GATREC_PART_TRAIN));
        ck_assert_ok(gatrec_model_count_trained(m, ds, s, GATREC_PART_TEST, &c));
        ck_assert_uint_eq(c, 0);
        ck_assert_int_eq(gatrec_model_count_trained(m, ds, s, 9, &c), GATREC_EINVAL);
    }
    ck_assert_ok(gatrec_model_fold_in_revealed(m, ds, s, &folded));
    ck_assert_uint_eq(folded, 10);
    ck_assert_ok(gatrec_model_recommend_all(m, 3, &l));
    for (size_t r = 0; r < gatrec_dataset_num_ratings(ds); r++) {
        int32_t user, item;
        const int32_t *li;
        if (gatrec_split_part(s, r) != GATREC_PART_REVEAL)
            continue;
        ck_assert_ok(gatrec_dataset_rating(ds, r, &user, &item, NULL, NULL));
        ck_assert_ok(gatrec_reclist_get(l, user, &li, &n));
        ck_assert_uint_eq(n, 3);
        for (size_t k = 0; k < n; k++) /* revealed items are not recommended; the home community is */
            ck_assert_int_ne(li[k], item);
        ck_assert_int_eq(gatrec_dataset_item_id(ds, li[0]) < 500 + NI / 2, gatrec_dataset_user_id(ds, user) < 100 + NU / 2);
    }
    gatrec_reclist_free(l);
    /* twice: the users now have ratings in the model */
    ck_assert_int_eq(gatrec_model_fold_in_revealed(m, ds, s, NULL), GATREC_EINVAL);
    gatrec_model_free(m);
    /* popularity folds in too: the revealed items are no longer recommended */
    o.kind = GATREC_MODEL_POP;
    ck_assert_ok(gatrec_model_train(g, &o, &m));
    ck_assert_ok(gatrec_model_fold_in_revealed(m, ds, s, &folded));
    ck_assert_uint_eq(folded, 10);
    gatrec_model_free(m);
    /* a transductive kind cannot */
    o.kind = GATREC_MODEL_BPR;
    o.epochs = 2;
    ck_assert_ok(gatrec_model_train(g, &o, &bpr));
    ck_assert_int_eq(gatrec_model_fold_in_revealed(bpr, ds, s, NULL), GATREC_EUNSUPPORTED);
    gatrec_model_free(bpr);
    gatrec_graph_free(g);
    /* a warm split has nothing to reveal */
    ck_assert_ok(gatrec_split_random(ds, 0.2, 0, 1, &warm));
    ck_assert_ok(gatrec_graph_new(ds, warm, NULL, &g));
    o.kind = GATREC_MODEL_EASE;
    ck_assert_ok(gatrec_model_train(g, &o, &m));
    ck_assert_ok(gatrec_model_fold_in_revealed(m, ds, warm, &folded));
    ck_assert_uint_eq(folded, 0);
    gatrec_model_free(m);
    gatrec_graph_free(g);
    gatrec_split_free(warm);
    gatrec_split_free(s);
    gatrec_dataset_free(ds);
}
END_TEST

START_TEST(recommend_among_candidates_only)
{
    gatrec_graph *g = community_graph();
    gatrec_model *m = train_ease(g, 5.0f);
    gatrec_reclist *l;
    int32_t cand[4] = {20, 3, 20, 999};
    const int32_t *li;
    size_t n;
    ck_assert_int_eq(gatrec_model_recommend_all_among(m, 5, cand, 4, &l), GATREC_EINVAL);
    ck_assert_ok(gatrec_model_recommend_all_among(m, 5, cand, 3, &l));
    for (int32_t u = 0; u < NU; u++) {
        ck_assert_ok(gatrec_reclist_get(l, u, &li, &n));
        ck_assert_uint_le(n, 2);
        for (size_t k = 0; k < n; k++)
            ck_assert(li[k] == 20 || li[k] == 3);
    }
    gatrec_reclist_free(l);
    ck_assert_ok(gatrec_model_recommend_all_among(m, 5, NULL, 0, &l)); /* no candidates: empty lists */
    ck_assert_ok(gatrec_reclist_get(l, 0, &li, &n));
    ck_assert_uint_eq(n, 0);
    gatrec_reclist_free(l);
    gatrec_model_free(m);
    gatrec_graph_free(g);
}
END_TEST

/* One request's rules: excluded items never come back, --only ranks its items alone, exactly K
 * items whenever K are eligible, in the order of the plain list; bad indices and versions refused. */
START_TEST(request_rules_exclude_only_and_exact_counts)
{
    gatrec_graph *g = community_graph();
    gatrec_model *m = train_ease(g, 5.0f);
    gatrec_request_options r = GATREC_REQUEST_OPTIONS_INIT;
    int32_t plain[NI], got[NI], ex[3], only[4] = {NI / 2 + 2, 1, NI / 2 + 2, 5}, bad = NI + 3;
    size_t n, np, held;
    ck_assert_ok(gatrec_model_recommend(m, 0, NI, plain, NULL, &np));
    ck_assert_ok(gatrec_model_user_ratings(m, 0, NULL, NULL, 0, &held));
    ck_assert_uint_eq(np, NI - held); /* every unrated item, exactly */
    ck_assert_ok(gatrec_model_recommend_request(m, 0, NI, NULL, got, NULL, &n));
    ck_assert_uint_eq(n, np);
    ck_assert_mem_eq(got, plain, n * sizeof *got);
    /* exclude the plain list's first three: the next ones move up, and K still come back */
    memcpy(ex, plain, sizeof ex);
    r.exclude = ex;
    r.nexclude = 3;
    ck_assert_ok(gatrec_model_recommend_request(m, 0, 5, &r, got, NULL, &n));
    ck_assert_uint_eq(n, 5);
    ck_assert_mem_eq(got, plain + 3, 5 * sizeof *got);
    /* only: its unrated items (repeats once), in the plain list's order */
    r.only = only;
    r.nonly = 4;
    r.nexclude = 0;
    ck_assert_ok(gatrec_model_recommend_request(m, 0, 10, &r, got, NULL, &n));
    {
        size_t want = 0;
        for (size_t j = 0; j < np; j++)
            if (plain[j] == only[0] || plain[j] == only[1] || plain[j] == only[3])
                ck_assert_int_eq(got[want++], plain[j]);
        ck_assert_uint_eq(n, want);
    }
    /* refused */
    r.exclude = &bad;
    r.nexclude = 1;
    ck_assert_int_eq(gatrec_model_recommend_request(m, 0, 5, &r, got, NULL, &n), GATREC_EINVAL);
    r.nexclude = 0;
    r.only = &bad;
    r.nonly = 1;
    ck_assert_int_eq(gatrec_model_recommend_request(m, 0, 5, &r, got, NULL, &n), GATREC_EINVAL);
    r.only = NULL; /* a count without its list */
    ck_assert_int_eq(gatrec_model_recommend_request(m, 0, 5, &r, got, NULL, &n), GATREC_EINVAL);
    r = (gatrec_request_options)GATREC_REQUEST_OPTIONS_INIT;
    r.version = GATREC_REQUEST_OPTIONS_VERSION + 1;
    ck_assert_int_eq(gatrec_model_recommend_request(m, 0, 5, &r, got, NULL, &n), GATREC_EINVAL);
    gatrec_model_free(m);
    gatrec_graph_free(g);
}
END_TEST

static double cosine(const float *a, const float *b, size_t d)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t k = 0; k < d; k++)
        ab += (double)a[k] * b[k], aa += (double)a[k] * a[k], bb += (double)b[k] * b[k];
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

START_TEST(lsa_embedder_learns_co_occurrence)
{
    /* two topics; "heist" and "vault" never share a text with each other's probe below, but both
     * co-occur with "robbery" and "crew" across the corpus */
    static const char *topics[2][6] = {
        {"heist robbery crew", "vault robbery crew", "heist crew getaway", "vault getaway robbery", "robbery crew plan",
         "heist vault robbery"},
        {"romance wedding love", "love letter romance", "wedding dance love", "romance love kiss", "kiss wedding dance",
         "letter love wedding"}};
    const char *corpus[24];
    gatrec_embedder_options o = GATREC_EMBEDDER_OPTIONS_INIT;
    gatrec_embedder *e, *h, *back;
    const char *probes[3] = {"heist", "vault", "wedding"};
    float v[3 * 2], w[3 * 2];
    for (int k = 0; k < 24; k++)
        corpus[k] = topics[k % 2][(k / 2) % 6];
    o.dim = 2; /* the two topics */
    o.max_ngram = 1;
    ck_assert_ok(gatrec_embedder_new_lsa(&o, &e));
    ck_assert_int_eq(gatrec_embedder_embed(e, probes, 1, v), GATREC_EINVAL); /* not fitted */
    ck_assert_error_mentions("fit");
    ck_assert_int_eq(gatrec_embedder_save(e, "lsa-test.bin"), GATREC_EINVAL);
    ck_assert_ok(gatrec_embedder_fit(e, corpus, 24));
    ck_assert_ok(gatrec_embedder_embed(e, probes, 3, v));
    ck_assert_msg(cosine(v, v + 2, 2) > 0.8, "heist ~ vault: %g", cosine(v, v + 2, 2));
    ck_assert_msg(cosine(v, v + 4, 2) < 0.3, "heist ~ wedding: %g", cosine(v, v + 4, 2));
    /* the hashed embedder cannot see it: single words in different buckets are orthogonal */
    o.dim = 64;
    ck_assert_ok(gatrec_embedder_new_hashed(&o, &h));
    ck_assert_ok(gatrec_embedder_fit(h, corpus, 24));
    {
        float hv[2 * 64];
        ck_assert_ok(gatrec_embedder_embed(h, probes, 2, hv));
        ck_assert(fabs(cosine(hv, hv + 64, 64)) < 0.2);
    }
    gatrec_embedder_free(h);
    /* save / load: the same embeddings; a damaged file is refused */
    ck_assert_ok(gatrec_embedder_save(e, "lsa-test.bin"));
    ck_assert_ok(gatrec_embedder_load("lsa-test.bin", &back));
    ck_assert_uint_eq(gatrec_embedder_dim(back), 2);
    ck_assert_ok(gatrec_embedder_embed(back, probes, 3, w));
    ck_assert(memcmp(v, w, sizeof v) == 0);
    gatrec_embedder_free(back);
    {
        FILE *f = fopen("lsa-test.bin", "r+b");
        ck_assert_ptr_nonnull(f);
        fseek(f, 40, SEEK_SET);
        fputc(0x5a, f);
        fclose(f);
        ck_assert_int_eq(gatrec_embedder_load("lsa-test.bin", &back), GATREC_ECHECKSUM);
    }
    unlink("lsa-test.bin");
    gatrec_embedder_free(e);
    /* more dimensions than the corpus holds */
    o.dim = 30;
    ck_assert_ok(gatrec_embedder_new_lsa(&o, &e));
    ck_assert_int_eq(gatrec_embedder_fit(e, corpus, 24), GATREC_EINVAL);
    ck_assert_error_mentions("lower dim");
    gatrec_embedder_free(e);
}
END_TEST

Suite *anchors_suite(void)
{
    Suite *s = suite_create("anchors");
    TCase *t = tcase_create("anchors");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, spd_inverse_matches_gauss_jordan);
    tcase_add_test(t, cholesky_refuses_what_is_not_positive_definite);
    tcase_add_test(t, jacobi_eigen_decomposes);
    tcase_add_test(t, ease_scores_are_x_times_b);
    tcase_add_test(t, ease_refuses_bad_lambda);
    tcase_add_test(t, content_model_is_the_cosine_to_liked_items);
    tcase_add_test(t, transductive_kinds_rank_unrated_items_last);
    tcase_add_test(t, softmax_gradient_matches_finite_differences);
    tcase_add_test(t, softmax_learns_the_communities);
    tcase_add_test(t, cold_item_split_holds_out_whole_items);
    tcase_add_test(t, cold_user_split_reveals_n_ratings);
    tcase_add_test(t, revealed_ratings_fold_in_cold_users);
    tcase_add_test(t, request_rules_exclude_only_and_exact_counts);
    tcase_add_test(t, recommend_among_candidates_only);
    tcase_add_test(t, lsa_embedder_learns_co_occurrence);
    suite_add_tcase(s, t);
    return s;
}
