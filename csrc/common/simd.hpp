// Compiler switches the kernels share: forced inlining, and the x86-64 SIMD versions of a few
// loops picked at run time (the portable build assumes only SSE2).
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__GNUC__)
#define PANOSEG_INLINE inline __attribute__((always_inline))
#else
#define PANOSEG_INLINE inline
#endif

// Functions compiled with target("avx2") or target("avx512f,avx512bw"), picked by
// __builtin_cpu_supports.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(PANOSEG_NO_CLONES)
#define PANOSEG_RUNTIME_SIMD 1
#include <immintrin.h>
#endif

// Whole functions of plain lane arithmetic, compiled for AVX2 too, the better version picked at
// load time (ifunc).
#if defined(__x86_64__) && defined(__ELF__) && !defined(PANOSEG_NO_CLONES) && \
    (defined(__clang__) ? __clang_major__ >= 14 : defined(__GNUC__))
#define PANOSEG_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PANOSEG_SIMD_CLONES
#endif
