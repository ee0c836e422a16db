/*
 * The ceiling the wasm GEMM is measured against: one core's 128-bit FMA throughput (f32x4, what wasm SIMD has),
 * 12 independent accumulators so FMA latency is hidden. Not part of any npm script (needs a C compiler):
 *   gcc -O2 -mfma bench/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define STEP(x) x = _mm_fmadd_ps(x, b, c);

int main(void) {
  const __m128 b = _mm_set1_ps(1.0000001f), c = _mm_set1_ps(0.999999f);
  __m128 a0 = _mm_set1_ps(0), a1 = _mm_set1_ps(1), a2 = _mm_set1_ps(2), a3 = _mm_set1_ps(3);
  __m128 a4 = _mm_set1_ps(4), a5 = _mm_set1_ps(5), a6 = _mm_set1_ps(6), a7 = _mm_set1_ps(7);
  __m128 a8 = _mm_set1_ps(8), a9 = _mm_set1_ps(9), a10 = _mm_set1_ps(10), a11 = _mm_set1_ps(11);
  const long n = 200000000;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) {
    STEP(a0) STEP(a1) STEP(a2) STEP(a3) STEP(a4) STEP(a5) STEP(a6) STEP(a7) STEP(a8) STEP(a9) STEP(a10) STEP(a11)
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
  __m128 sum = _mm_add_ps(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)), _mm_add_ps(_mm_add_ps(a4, a5), _mm_add_ps(a6, a7)));
  sum = _mm_add_ps(sum, _mm_add_ps(_mm_add_ps(a8, a9), _mm_add_ps(a10, a11)));
  /* 12 FMAs × 4 lanes × 2 flops per iteration; the sum keeps the loop from being optimised away. */
  printf("%.1f GFLOP/s (128-bit FMA, one core)  [%g]\n", n * 12 * 8 / s / 1e9, _mm_cvtss_f32(sum));
  return 0;
}
