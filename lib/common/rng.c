/* Counter-based random numbers: the value at (seed, stream, counter) is a pure function of the
 * three, so a result never depends on how work was divided between threads. The mixer is
 * SplitMix64's finaliser applied twice over the combined key. */
#include <math.h>

#include "common.h"


static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t gatrec__rng_u64(uint64_t seed, uint64_t stream, uint64_t counter)
{
    uint64_t k = mix(seed + 0x9E3779B97F4A7C15ull);
    k = mix(k ^ (stream * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull));
    return mix(k ^ (counter * 0x9E3779B97F4A7C15ull));
}

uint64_t gatrec__rng_below(uint64_t seed, uint64_t stream, uint64_t counter, uint64_t n)
{
    /* Lemire's multiply-shift; the bias is at most n / 2^64, negligible for our n. */
    __extension__ typedef unsigned __int128 u128;
    u128 m = (u128)gatrec__rng_u64(seed, stream, counter) * n;
    return (uint64_t)(m >> 64);
}

double gatrec__rng_unit(uint64_t seed, uint64_t stream, uint64_t counter)
{
    return (double)(gatrec__rng_u64(seed, stream, counter) >> 11) * (1.0 / 9007199254740992.0);
}

void gatrec__init_glorot(float *w, size_t fan_out, size_t fan_in, uint64_t seed, uint64_t stream)
{
    double a = sqrt(6.0 / (double)(fan_in + fan_out));
    for (size_t k = 0; k < fan_out * fan_in; k++)
        w[k] = (float)((2.0 * gatrec__rng_unit(seed, stream, k) - 1.0) * a);
}

void gatrec__init_normal(float *w, size_t n, float stddev, uint64_t seed, uint64_t stream)
{
    for (size_t k = 0; k < n; k += 2) { /* Box-Muller, two values per pair of draws */
        double u1 = gatrec__rng_unit(seed, stream, k) + 1e-300, u2 = gatrec__rng_unit(seed, stream, k + 1);
        double r = sqrt(-2.0 * log(u1));
        w[k] = (float)(r * cos(2 * M_PI * u2) * stddev);
        if (k + 1 < n)
            w[k + 1] = (float)(r * sin(2 * M_PI * u2) * stddev);
    }
}
