/* Counter-based random numbers: the value at (seed, stream, counter) is a pure function of the
 * three, so a result never depends on how work was divided between threads. The mixer is
 * SplitMix64's finaliser applied twice over the combined key. */
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
