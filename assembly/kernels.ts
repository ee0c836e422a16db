// recur's WebAssembly SIMD kernels (AssemblyScript). Every pointer is a byte address in the shared linear memory;
// every stride (lda, ldb, ldc) is in float32 elements. Matrices are row-major. The JS wrapper (src/core/wasm/) owns
// the memory and the allocator; this module keeps no state and allocates nothing, so any number of threads can
// instantiate it over the same memory.
//
// Built twice from this one file: plain SIMD, and relaxed SIMD where `madd` becomes a fused multiply-add.
//
// The constants shared with TypeScript (activation codes, panel widths) come from src/core/kernel_constants.ts, which
// both compilers read. The exported functions' signatures are the wasm contract: scripts/build-wasm.mjs generates
// their TypeScript type (src/core/wasm/exports.generated.ts) from this file, and the wrappers are checked against it.

import { Act, GEMM_PANEL, GEMV_PANEL } from '../src/core/kernel_constants';

// a·b + c, one rounding (relaxed build) or two.
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// ---------------------------------------------------------------------------------------------------------------
// GEMM: C[M,N] = op(A)·op(B) (+ C). NN and TN use a 4×8 register tile (8 accumulators of f32x4); NT computes dot
// products with a 2×4 tile over k; TT packs A.

// 4×8 tile of C (+)= A·B over K steps from packed panels: A as [K][4] (the four rows' k-th values side by side),
// B as [K][8]. One pointer each with immediate offsets keeps the loop at 6 loads + 8 FMAs + 2 adds; 8 accumulators
// + 2 B vectors + 1 broadcast fit x64's 16 xmm registers (wider tiles spill under V8 and lose 40 %).
// @ts-ignore: decorator
@inline function tile4x8(K: i32, pa: usize, pb: usize, c: usize, ldc: usize, acc: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const end = pb + (<usize>K << 5);
  while (pb < end) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    const a0 = v128.load32_splat(pa);
    c00 = madd(a0, b0, c00);
    c01 = madd(a0, b1, c01);
    const a1 = v128.load32_splat(pa, 4);
    c10 = madd(a1, b0, c10);
    c11 = madd(a1, b1, c11);
    const a2 = v128.load32_splat(pa, 8);
    c20 = madd(a2, b0, c20);
    c21 = madd(a2, b1, c21);
    const a3 = v128.load32_splat(pa, 12);
    c30 = madd(a3, b0, c30);
    c31 = madd(a3, b1, c31);
    pa += 16;
    pb += 32;
  }
  if (acc) {
    c00 = f32x4.add(c00, v128.load(c));
    c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c + ldc));
    c11 = f32x4.add(c11, v128.load(c + ldc, 16));
    c20 = f32x4.add(c20, v128.load(c + 2 * ldc));
    c21 = f32x4.add(c21, v128.load(c + 2 * ldc, 16));
    c30 = f32x4.add(c30, v128.load(c + 3 * ldc));
    c31 = f32x4.add(c31, v128.load(c + 3 * ldc, 16));
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
}

// One row of C, 4 columns at a time then scalars (edges of NN/TN).
// @ts-ignore: decorator
@inline function rowNN(N: i32, K: i32, a: usize, aKStep: usize, b: usize, ldb: usize, c: usize, acc: bool, j0: i32): void {
  let j = j0;
  for (; j + 4 <= N; j += 4) {
    let s = f32x4.splat(0);
    let pa = a;
    let pb = b + (<usize>j << 2);
    for (let k = 0; k < K; k++) {
      s = madd(f32x4.splat(load<f32>(pa)), v128.load(pb), s);
      pa += aKStep;
      pb += ldb;
    }
    const pc = c + (<usize>j << 2);
    v128.store(pc, acc ? f32x4.add(s, v128.load(pc)) : s);
  }
  for (; j < N; j++) {
    let s: f32 = 0;
    let pa = a;
    let pb = b + (<usize>j << 2);
    for (let k = 0; k < K; k++) {
      s += load<f32>(pa) * load<f32>(pb);
      pa += aKStep;
      pb += ldb;
    }
    const pc = c + (<usize>j << 2);
    store<f32>(pc, acc ? s + load<f32>(pc) : s);
  }
}

// 24 columns of one row of C (+)= Σ_k a[k]·B[k, 0..24), in 6 accumulators over all of K; B's rows are bStep bytes
// apart (ldb for a row-major B, 96 for a packed panel). Six, not eight: V8 issues all of a step's B loads before its
// FMAs, and 8 accumulators + 8 loads spill one accumulator to the stack, which chains every step through a store and
// a load (2.5× slower here). Generation spends most of its time here (1×128 · 128×512 per char for an LSTM(128)).
// @ts-ignore: decorator
@inline function gemv24(K: i32, a: usize, aKStep: usize, b: usize, bStep: usize, c: usize, acc: bool): void {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0);
  let s3 = f32x4.splat(0), s4 = f32x4.splat(0), s5 = f32x4.splat(0);
  let pa = a;
  let pb = b;
  for (let k = 0; k < K; k++) {
    const av = v128.load32_splat(pa);
    s0 = madd(av, v128.load(pb), s0);
    s1 = madd(av, v128.load(pb, 16), s1);
    s2 = madd(av, v128.load(pb, 32), s2);
    s3 = madd(av, v128.load(pb, 48), s3);
    s4 = madd(av, v128.load(pb, 64), s4);
    s5 = madd(av, v128.load(pb, 80), s5);
    pa += aKStep;
    pb += bStep;
  }
  if (acc) {
    s0 = f32x4.add(s0, v128.load(c));
    s1 = f32x4.add(s1, v128.load(c, 16));
    s2 = f32x4.add(s2, v128.load(c, 32));
    s3 = f32x4.add(s3, v128.load(c, 48));
    s4 = f32x4.add(s4, v128.load(c, 64));
    s5 = f32x4.add(s5, v128.load(c, 80));
  }
  v128.store(c, s0);
  v128.store(c, s1, 16);
  v128.store(c, s2, 32);
  v128.store(c, s3, 48);
  v128.store(c, s4, 64);
  v128.store(c, s5, 80);
}

// One row of C (the rows left over by the 4-row tiles, and a 1-row product on a row-major B): 24 columns at a time —
// B streams once, row by row, and C is touched once — then rowNN for the last columns.
// @ts-ignore: decorator
@inline function rowGemv(N: i32, K: i32, a: usize, aKStep: usize, b: usize, ldb: usize, c: usize, acc: bool): void {
  let j = 0;
  for (; j + 24 <= N; j += 24) gemv24(K, a, aKStep, b + (<usize>j << 2), ldb, c + (<usize>j << 2), acc);
  if (j < N) rowNN(N, K, a, aKStep, b, ldb, c, acc, j);
}

// Copies kc rows of an 8-column panel of B (row stride ldb bytes) to dst as [kc][8].
// @ts-ignore: decorator
@inline function packPanel(kc: i32, src: usize, ldb: usize, dst: usize): void {
  for (let k = 0; k < kc; k++) {
    v128.store(dst, v128.load(src));
    v128.store(dst, v128.load(src, 16), 16);
    src += ldb;
    dst += 32;
  }
}

// C = op(A)·B where op(A)[i,k] lives at a + i·aRowStep + k·aKStep (bytes): NN has (lda·4, 4), TN has (4, lda·4).
// GotoBLAS-style blocking: KC rows of B at a time (panels stay in L2 when K is large — the batched weight gradients
// have K = T·N), MC rows of A packed per block (L2), and an 8-column panel of B packed per (block, panel) (L1).
// Packing also removes the power-of-two row strides (2 KiB for U of an LSTM(128)) that map a panel's rows onto the
// same few L1 sets. Rows past the last multiple of 4 and columns past the last multiple of 8 run unpacked.
const KC: i32 = 256;
const MC: i32 = 128;
/** Floats of gemm scratch the packed panels need (B panel, then the A block). */
export const GEMM_PACK_FLOATS: i32 = KC * 8 + MC * KC;
// `prepacked` (0 = none): B's 8-column panels already laid out by packGemmB, so no panel is copied per call.
function gemmAB(M: i32, N: i32, K: i32, a: usize, aRowStep: usize, aKStep: usize, b: usize, ldb: usize, c: usize, ldc: usize, acc: bool, pack: usize, prepacked: usize): void {
  const N8 = N & ~(GEMM_PANEL - 1);
  const M4 = M & ~3;
  const packA = pack + ((<usize>KC * 8) << 2);
  for (let kb = 0; kb < K; kb += KC) {
    const kc = min(KC, K - kb);
    const accb = acc || kb > 0;
    const ak = a + <usize>kb * aKStep;
    const bk = b + <usize>kb * ldb;
    for (let ib = 0; ib < M4; ib += MC) {
      const mc = min(MC, M4 - ib);
      // Pack rows ib..ib+mc of op(A) as [mc/4][kc][4].
      let dst = packA;
      for (let i = ib; i < ib + mc; i += 4) {
        let src = ak + <usize>i * aRowStep;
        if (aRowStep == 4) {
          for (let k = 0; k < kc; k++) {
            v128.store(dst, v128.load(src));
            src += aKStep;
            dst += 16;
          }
        } else {
          for (let k = 0; k < kc; k++) {
            store<f32>(dst, load<f32>(src));
            store<f32>(dst, load<f32>(src + aRowStep), 4);
            store<f32>(dst, load<f32>(src + 2 * aRowStep), 8);
            store<f32>(dst, load<f32>(src + 3 * aRowStep), 12);
            src += aKStep;
            dst += 16;
          }
        }
      }
      for (let j = 0; j < N8; j += GEMM_PANEL) {
        let panel = pack;
        if (prepacked) panel = prepacked + ((<usize>kb * N8 + <usize>j * kc) << 2);
        else packPanel(kc, bk + (<usize>j << 2), ldb, pack);
        const cj = c + (<usize>j << 2);
        for (let i = 0; i < mc; i += 4) tile4x8(kc, packA + ((<usize>i * kc) << 2), panel, cj + <usize>(ib + i) * ldc, ldc, accb);
      }
    }
    if (N8 < N) for (let i = 0; i < M4; i++) rowNN(N, kc, ak + <usize>i * aRowStep, aKStep, bk, ldb, c + <usize>i * ldc, accb, N8);
    for (let i = M4; i < M; i++) rowGemv(N, kc, ak + <usize>i * aRowStep, aKStep, bk, ldb, c + <usize>i * ldc, accb);
  }
}

// C = A·Bᵀ with B stored [N, K]: dot products over k, a 2×4 tile.
function gemmNT(M: i32, N: i32, K: i32, a: usize, lda: usize, b: usize, ldb: usize, c: usize, ldc: usize, acc: bool): void {
  const K4 = K & ~3;
  let i = 0;
  for (; i < M; i += 2) {
    const two = i + 1 < M;
    const a0 = a + <usize>i * lda;
    const a1 = two ? a0 + lda : a0;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const b0 = b + <usize>j * ldb;
      const b1 = b0 + ldb;
      const b2 = b1 + ldb;
      const b3 = b2 + ldb;
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s02 = f32x4.splat(0), s03 = f32x4.splat(0);
      let s10 = f32x4.splat(0), s11 = f32x4.splat(0), s12 = f32x4.splat(0), s13 = f32x4.splat(0);
      for (let k = 0; k < K4; k += 4) {
        const o = <usize>k << 2;
        const x0 = v128.load(a0 + o);
        const x1 = v128.load(a1 + o);
        const y0 = v128.load(b0 + o);
        const y1 = v128.load(b1 + o);
        const y2 = v128.load(b2 + o);
        const y3 = v128.load(b3 + o);
        s00 = madd(x0, y0, s00);
        s01 = madd(x0, y1, s01);
        s02 = madd(x0, y2, s02);
        s03 = madd(x0, y3, s03);
        s10 = madd(x1, y0, s10);
        s11 = madd(x1, y1, s11);
        s12 = madd(x1, y2, s12);
        s13 = madd(x1, y3, s13);
      }
      let r00 = hsum(s00), r01 = hsum(s01), r02 = hsum(s02), r03 = hsum(s03);
      let r10 = hsum(s10), r11 = hsum(s11), r12 = hsum(s12), r13 = hsum(s13);
      for (let k = K4; k < K; k++) {
        const o = <usize>k << 2;
        const x0 = load<f32>(a0 + o);
        const x1 = load<f32>(a1 + o);
        r00 += x0 * load<f32>(b0 + o);
        r01 += x0 * load<f32>(b1 + o);
        r02 += x0 * load<f32>(b2 + o);
        r03 += x0 * load<f32>(b3 + o);
        r10 += x1 * load<f32>(b0 + o);
        r11 += x1 * load<f32>(b1 + o);
        r12 += x1 * load<f32>(b2 + o);
        r13 += x1 * load<f32>(b3 + o);
      }
      const c0 = c + <usize>i * ldc + (<usize>j << 2);
      put(c0, r00, acc);
      put(c0 + 4, r01, acc);
      put(c0 + 8, r02, acc);
      put(c0 + 12, r03, acc);
      if (two) {
        const c1 = c0 + ldc;
        put(c1, r10, acc);
        put(c1 + 4, r11, acc);
        put(c1 + 8, r12, acc);
        put(c1 + 12, r13, acc);
      }
    }
    for (; j < N; j++) {
      const bj = b + <usize>j * ldb;
      const rows: i32 = two ? 2 : 1;
      for (let r = 0; r < rows; r++) {
        const ar = r == 0 ? a0 : a1;
        let s = f32x4.splat(0);
        for (let k = 0; k < K4; k += 4) s = madd(v128.load(ar + (<usize>k << 2)), v128.load(bj + (<usize>k << 2)), s);
        let t = hsum(s);
        for (let k = K4; k < K; k++) t += load<f32>(ar + (<usize>k << 2)) * load<f32>(bj + (<usize>k << 2));
        put(c + <usize>(i + r) * ldc + (<usize>j << 2), t, acc);
      }
    }
  }
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// @ts-ignore: decorator
@inline function put(p: usize, v: f32, acc: bool): void {
  store<f32>(p, acc ? v + load<f32>(p) : v);
}

/** Below this many rows a transposed B is used in place (dot products); from it up, Bᵀ is transposed once into
 * scratch and the packed path runs (the transposition is K·N moves against M·N·K multiply-adds). */
const NT_PACK_MIN_ROWS: i32 = 16;

/** C[M,N] = op(A)·op(B) (+ C). `scratch` holds GEMM_PACK_FLOATS floats; `extra`, used only when transB, holds
 * max(K·N, K·M) floats. */
export function gemm(transA: bool, transB: bool, M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: bool, scratch: usize, extra: usize): void {
  if (M <= 0 || N <= 0) return;
  const la = <usize>lda << 2;
  const lb = <usize>ldb << 2;
  const lc = <usize>ldc << 2;
  if (K <= 0) {
    if (!accumulate) for (let i = 0; i < M; i++) memory.fill(c + <usize>i * lc, 0, <usize>N << 2);
    return;
  }
  const aRow: usize = transA ? 4 : la;
  const aK: usize = transA ? la : 4;
  if (!transB) {
    gemmAB(M, N, K, a, aRow, aK, b, lb, c, lc, accumulate, scratch, 0);
    return;
  }
  if (M >= NT_PACK_MIN_ROWS) {
    // B is [N, K]: write Bᵀ as [K, N] (row-major, ldb = N), then the packed path.
    transposeStrided(N, K, b, lb, extra, <usize>N << 2);
    gemmAB(M, N, K, a, aRow, aK, extra, <usize>N << 2, c, lc, accumulate, scratch, 0);
    return;
  }
  if (!transA) {
    gemmNT(M, N, K, a, la, b, lb, c, lc, accumulate);
    return;
  }
  // TT with few rows: Aᵀ (M×K) into scratch, then dot products.
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) store<f32>(extra + ((<usize>i * K + k) << 2), load<f32>(a + <usize>k * la + (<usize>i << 2)));
  gemmNT(M, N, K, extra, <usize>K << 2, b, lb, c, lc, accumulate);
}

/**
 * Lays out the 8-column panels of B [K, N] (row stride ldb floats) the way gemm's packed path reads them, block by
 * block of KC rows: (K) × (N & ~7) floats at out. For a B multiplied many times unchanged (U, once per step).
 */
export function packGemmB(K: i32, N: i32, b: usize, ldb: i32, out: usize): void {
  const N8 = N & ~(GEMM_PANEL - 1);
  const lb = <usize>ldb << 2;
  for (let kb = 0; kb < K; kb += KC) {
    const kc = min(KC, K - kb);
    for (let j = 0; j < N8; j += GEMM_PANEL) packPanel(kc, b + <usize>kb * lb + (<usize>j << 2), lb, out + ((<usize>kb * N8 + <usize>j * kc) << 2));
  }
}

/** gemm for op(B) = B with B's panels prepacked by packGemmB (B itself still serves the last N % 8 columns). */
export function gemmPackedB(transA: bool, M: i32, N: i32, K: i32, a: usize, lda: i32, b: usize, ldb: i32, packed: usize, c: usize, ldc: i32, accumulate: bool, scratch: usize): void {
  if (M <= 0 || N <= 0) return;
  const la = <usize>lda << 2;
  const lc = <usize>ldc << 2;
  if (K <= 0) {
    if (!accumulate) for (let i = 0; i < M; i++) memory.fill(c + <usize>i * lc, 0, <usize>N << 2);
    return;
  }
  gemmAB(M, N, K, a, transA ? 4 : la, transA ? la : 4, b, <usize>ldb << 2, c, lc, accumulate, scratch, packed);
}

// GEMV from packed panels (generation: one row times a weight matrix that does not change between steps). B [K, N]
// is stored as ⌈N/24⌉ panels of [K][24], zero-padded, so each panel streams through the cache in order instead of
// 96 bytes out of every 2 KiB row (the row-major layout is L2-latency-bound: 7.7 → 5.5 µs for 1×128 · 128×512).

/** Writes B [K, N] (row stride ldb floats) as ⌈N/24⌉ zero-padded panels of [K][24] at out. */
export function packGemvPanels(K: i32, N: i32, b: usize, ldb: i32, out: usize): void {
  const lb = <usize>ldb << 2;
  let dst = out;
  for (let j = 0; j < N; j += GEMV_PANEL) {
    const w = min(GEMV_PANEL, N - j);
    for (let k = 0; k < K; k++) {
      const src = b + <usize>k * lb + (<usize>j << 2);
      if (w == GEMV_PANEL) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        v128.store(dst, v128.load(src, 32), 32);
        v128.store(dst, v128.load(src, 48), 48);
        v128.store(dst, v128.load(src, 64), 64);
        v128.store(dst, v128.load(src, 80), 80);
      } else {
        memory.fill(dst, 0, GEMV_PANEL << 2);
        memory.copy(dst, src, <usize>w << 2);
      }
      dst += GEMV_PANEL << 2;
    }
  }
}

/** For each of M rows: c[i, 0..N) (+)= a[i, 0..K) · B, B packed by packGemvPanels. `scratch` holds 24 floats. */
export function gemvPacked(M: i32, N: i32, K: i32, a: usize, lda: i32, packed: usize, c: usize, ldc: i32, acc: bool, scratch: usize): void {
  const panelBytes = <usize>K * (GEMV_PANEL << 2);
  for (let i = 0; i < M; i++) {
    const ai = a + ((<usize>i * lda) << 2);
    const ci = c + ((<usize>i * ldc) << 2);
    let pp = packed;
    let j = 0;
    for (; j + GEMV_PANEL <= N; j += GEMV_PANEL) {
      gemv24(K, ai, 4, pp, GEMV_PANEL << 2, ci + (<usize>j << 2), acc);
      pp += panelBytes;
    }
    if (j < N) {
      // The zero-padded last panel: into scratch, then its real columns.
      gemv24(K, ai, 4, pp, GEMV_PANEL << 2, scratch, false);
      for (let t = 0; t < N - j; t++) {
        const o = ci + (<usize>(j + t) << 2);
        const v = load<f32>(scratch + (<usize>t << 2));
        store<f32>(o, acc ? v + load<f32>(o) : v);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Vector math. exp: Cephes-style range reduction and degree-6 polynomial (≈2 ulp on [−87, 88]); sigmoid and tanh
// from it. Activation codes: the Act enum of src/core/kernel_constants.ts.

// @ts-ignore: decorator
@inline function vs(x: f32): v128 {
  return f32x4.splat(x);
}

// The constants of the vector math, each as four lanes in a static table. V8 does not keep v128 constants in
// registers across a loop: it rebuilds each one per use from a 64-bit immediate (three instructions through a
// general register), which made exp 40 % slower than loading it from L1 here.
const VCONST: usize = memory.data<f32>(
  [
  88.3, 88.3, 88.3, 88.3,
  -87.3, -87.3, -87.3, -87.3,
  1.44269504088896341, 1.44269504088896341, 1.44269504088896341, 1.44269504088896341,
  12582912.0, 12582912.0, 12582912.0, 12582912.0,
  0.693359375, 0.693359375, 0.693359375, 0.693359375,
  -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, -2.12194440e-4,
  1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4,
  1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3,
  8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3,
  4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2,
  1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1,
  5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1,
  1.0, 1.0, 1.0, 1.0,
  2.0, 2.0, 2.0, 2.0,
  ],
  16,
);
const EXP_HI: i32 = 0;
const EXP_LO: i32 = 1;
const LOG2E: i32 = 2;
const ROUND: i32 = 3;
const LN2_HI: i32 = 4;
const LN2_LO: i32 = 5;
const P0: i32 = 6;
const P1: i32 = 7;
const P2: i32 = 8;
const P3: i32 = 9;
const P4: i32 = 10;
const P5: i32 = 11;
const ONE: i32 = 12;
const TWO: i32 = 13;
// @ts-ignore: decorator
@inline function kv(i: i32): v128 {
  return v128.load(VCONST + (<usize>i << 4));
}

// @ts-ignore: decorator
@inline function expv(x0: v128): v128 {
  // pmin/pmax are one instruction each (min/max carry wasm's NaN and ±0 rules: several); NaN still propagates.
  const x = f32x4.pmax(f32x4.pmin(x0, kv(EXP_HI)), kv(EXP_LO));
  // Round x·log2(e) to an integer n with the 1.5·2²³ trick: n sits in the low mantissa bits of t, so 2ⁿ is
  // (bits(t) + 127) << 23 with no float→int conversion.
  const t = madd(x, kv(LOG2E), kv(ROUND));
  const fx = f32x4.sub(t, kv(ROUND));
  let r = f32x4.sub(x, f32x4.mul(fx, kv(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(fx, kv(LN2_LO)));
  let y = kv(P0);
  y = madd(y, r, kv(P1));
  y = madd(y, r, kv(P2));
  y = madd(y, r, kv(P3));
  y = madd(y, r, kv(P4));
  y = madd(y, r, kv(P5));
  y = madd(y, f32x4.mul(r, r), f32x4.add(r, kv(ONE)));
  return f32x4.mul(y, i32x4.shl(i32x4.add(t, i32x4.splat(127)), 23));
}

// @ts-ignore: decorator
@inline function sigmoidv(x: v128): v128 {
  return f32x4.div(kv(ONE), f32x4.add(kv(ONE), expv(f32x4.neg(x))));
}

// @ts-ignore: decorator
@inline function tanhv(x: v128): v128 {
  return f32x4.sub(kv(ONE), f32x4.div(kv(TWO), f32x4.add(kv(ONE), expv(f32x4.add(x, x)))));
}

// SELU's and gelu's constants and leaky_relu's slope (src/core/reference_kernels.ts has them in double).
const SELU_ALPHA: f32 = 1.6732632423543772;
const SELU_SCALE: f32 = 1.0507009873554805;
const LEAKY_SLOPE: f32 = 0.2;
const GELU_TANH_C: f32 = 0.7978845608028654; // √(2/π)
const INV_SQRT2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

// The rare activations' transcendental parts lane by lane, through the f32 libm (musl's expm1f, log1pf, expf): exact
// where expv's clamped range would not be (exp overflowing to ∞, expm1 near 0).
// @ts-ignore: decorator
@inline function lanewise(code: i32, x: f32): f32 {
  switch (code) {
    case 0:
      return Mathf.expm1(x);
    case 1:
      // softplus, without overflow: max(x, 0) + log1p(exp(−|x|))
      return Mathf.max(x, 0) + Mathf.log1p(Mathf.exp(-Mathf.abs(x)));
    case 2:
      return Mathf.exp(x);
    default:
      // −expm1(−y): softplus′ from its output
      return -Mathf.expm1(-x);
  }
}
const LANE_EXPM1: i32 = 0;
const LANE_SOFTPLUS: i32 = 1;
const LANE_EXP: i32 = 2;
const LANE_SOFTPLUS_GRAD: i32 = 3;

// @ts-ignore: decorator
@inline function lanesv(code: i32, x: v128): v128 {
  let r = f32x4.splat(lanewise(code, f32x4.extract_lane(x, 0)));
  r = f32x4.replace_lane(r, 1, lanewise(code, f32x4.extract_lane(x, 1)));
  r = f32x4.replace_lane(r, 2, lanewise(code, f32x4.extract_lane(x, 2)));
  return f32x4.replace_lane(r, 3, lanewise(code, f32x4.extract_lane(x, 3)));
}

// Φ(x), the standard normal CDF, as ½·erfc(−x/√2) with Abramowitz & Stegun 7.1.26 for erfc(a), a ≥ 0:
// (a₁t + … + a₅t⁵)·exp(−a²), t = 1/(1 + pa); |error| < 1.5e-7.
// @ts-ignore: decorator
@inline function normalCdfv(x: v128): v128 {
  const a = f32x4.abs(f32x4.mul(x, vs(INV_SQRT2)));
  const t = f32x4.div(vs(1), madd(a, vs(0.3275911), vs(1)));
  let p = vs(1.061405429);
  p = madd(p, t, vs(-1.453152027));
  p = madd(p, t, vs(1.421413741));
  p = madd(p, t, vs(-0.284496736));
  p = madd(p, t, vs(0.254829592));
  const half = f32x4.mul(f32x4.mul(f32x4.mul(p, t), expv(f32x4.neg(f32x4.mul(a, a)))), vs(0.5));
  return v128.bitselect(f32x4.sub(vs(1), half), half, f32x4.ge(x, vs(0)));
}

// @ts-ignore: decorator
@inline function geluTanhArg(x: v128): v128 {
  return f32x4.mul(vs(GELU_TANH_C), madd(f32x4.mul(f32x4.mul(x, x), x), vs(0.044715), x));
}

// @ts-ignore: decorator
@inline function actv(code: i32, x: v128): v128 {
  switch (code) {
    case Act.Relu:
      return f32x4.max(x, vs(0));
    case Act.Tanh:
      return tanhv(x);
    case Act.Sigmoid:
      return sigmoidv(x);
    case Act.HardSigmoid:
      return f32x4.min(f32x4.max(madd(x, vs(0.2), vs(0.5)), vs(0)), vs(1));
    case Act.HardSigmoid6:
      return f32x4.min(f32x4.max(madd(x, vs(<f32>1.0 / 6.0), vs(0.5)), vs(0)), vs(1));
    case Act.Elu:
      return v128.bitselect(x, lanesv(LANE_EXPM1, x), f32x4.gt(x, vs(0)));
    case Act.Selu:
      return f32x4.mul(
        vs(SELU_SCALE),
        v128.bitselect(x, f32x4.mul(vs(SELU_ALPHA), lanesv(LANE_EXPM1, x)), f32x4.gt(x, vs(0))),
      );
    case Act.Softplus:
      return lanesv(LANE_SOFTPLUS, x);
    case Act.Softsign:
      return f32x4.div(x, f32x4.add(vs(1), f32x4.abs(x)));
    case Act.Relu6:
      return f32x4.min(f32x4.max(x, vs(0)), vs(6));
    case Act.Exponential:
      return lanesv(LANE_EXP, x);
    case Act.LeakyRelu:
      return v128.bitselect(x, f32x4.mul(x, vs(LEAKY_SLOPE)), f32x4.gt(x, vs(0)));
    case Act.Gelu:
      return f32x4.mul(x, normalCdfv(x));
    case Act.GeluTanh:
      return f32x4.mul(f32x4.mul(vs(0.5), x), f32x4.add(vs(1), tanhv(geluTanhArg(x))));
    case Act.Swish:
      return f32x4.mul(x, sigmoidv(x));
    case Act.Mish:
      return f32x4.mul(x, tanhv(lanesv(LANE_SOFTPLUS, x)));
    case Act.HardSilu:
      return f32x4.mul(x, f32x4.mul(f32x4.min(f32x4.max(f32x4.add(x, vs(3)), vs(0)), vs(6)), vs(<f32>1.0 / 6.0)));
    case Act.HardTanh:
      return f32x4.min(f32x4.max(x, vs(-1)), vs(1));
    case Act.SparseSigmoid:
      return f32x4.min(f32x4.max(madd(x, vs(0.5), vs(0.5)), vs(0)), vs(1));
    case Act.SoftShrink:
      return f32x4.add(f32x4.max(f32x4.sub(x, vs(0.5)), vs(0)), f32x4.min(f32x4.add(x, vs(0.5)), vs(0)));
    case Act.HardShrink:
      return v128.and(x, f32x4.gt(f32x4.abs(x), vs(0.5)));
    case Act.LogSigmoid:
      return f32x4.neg(lanesv(LANE_SOFTPLUS, f32x4.neg(x)));
    case Act.TanhShrink:
      return f32x4.sub(x, tanhv(x));
    case Act.SparsePlus: {
      const u = f32x4.add(x, vs(1));
      const inner = v128.and(f32x4.mul(f32x4.mul(u, u), vs(0.25)), f32x4.gt(x, vs(-1)));
      return v128.bitselect(x, inner, f32x4.ge(x, vs(1)));
    }
    case Act.Squareplus: {
      // As the reference: (x + s)/2 for x ≥ 0, 2/(s − x) below (no cancellation); s = |x| past 1e4, where the 4 is
      // below f32's precision and x² could overflow.
      const ax = f32x4.abs(x);
      const s = v128.bitselect(ax, f32x4.sqrt(madd(x, x, vs(4))), f32x4.gt(ax, vs(1e4)));
      return v128.bitselect(
        f32x4.mul(f32x4.add(x, s), vs(0.5)),
        f32x4.div(vs(2), f32x4.sub(s, x)),
        f32x4.ge(x, vs(0)),
      );
    }
    default:
      return x;
  }
}

// f′ from the output y (the activations whose derivative follows from it).
// @ts-ignore: decorator
@inline function dactv(code: i32, y: v128): v128 {
  switch (code) {
    case Act.Relu:
      return v128.and(f32x4.gt(y, vs(0)), vs(1));
    case Act.Tanh:
      return f32x4.sub(vs(1), f32x4.mul(y, y));
    case Act.Sigmoid:
      return f32x4.mul(y, f32x4.sub(vs(1), y));
    case Act.HardSigmoid:
      return v128.and(v128.and(f32x4.gt(y, vs(0)), f32x4.lt(y, vs(1))), vs(0.2));
    case Act.HardSigmoid6:
      return v128.and(v128.and(f32x4.gt(y, vs(0)), f32x4.lt(y, vs(1))), vs(<f32>1.0 / 6.0));
    case Act.Elu:
      return v128.bitselect(vs(1), f32x4.add(y, vs(1)), f32x4.gt(y, vs(0)));
    case Act.Selu:
      return v128.bitselect(vs(SELU_SCALE), f32x4.add(y, vs(SELU_SCALE * SELU_ALPHA)), f32x4.gt(y, vs(0)));
    case Act.Softplus:
      return lanesv(LANE_SOFTPLUS_GRAD, y);
    case Act.Softsign: {
      const r = f32x4.sub(vs(1), f32x4.abs(y));
      return f32x4.mul(r, r);
    }
    case Act.Relu6:
      return v128.and(v128.and(f32x4.gt(y, vs(0)), f32x4.lt(y, vs(6))), vs(1));
    case Act.Exponential:
      return y;
    case Act.LeakyRelu:
      return v128.bitselect(vs(1), vs(LEAKY_SLOPE), f32x4.gt(y, vs(0)));
    case Act.HardTanh:
      return v128.and(v128.and(f32x4.gt(y, vs(-1)), f32x4.lt(y, vs(1))), vs(1));
    case Act.SparseSigmoid:
      return v128.and(v128.and(f32x4.gt(y, vs(0)), f32x4.lt(y, vs(1))), vs(0.5));
    case Act.SoftShrink:
    case Act.HardShrink:
      return v128.and(f32x4.ne(y, vs(0)), vs(1));
    case Act.LogSigmoid:
      return lanesv(LANE_SOFTPLUS_GRAD, f32x4.neg(y));
    case Act.SparsePlus: {
      const inner = v128.and(f32x4.sqrt(f32x4.max(y, vs(0))), f32x4.gt(y, vs(0)));
      return v128.bitselect(vs(1), inner, f32x4.ge(y, vs(1)));
    }
    case Act.Squareplus:
      return f32x4.div(vs(1), f32x4.add(vs(1), f32x4.div(vs(1), f32x4.mul(y, y))));
    default:
      return vs(1);
  }
}

// f′ from the input x, for every elementwise activation.
// @ts-ignore: decorator
@inline function dactInputv(code: i32, x: v128): v128 {
  switch (code) {
    case Act.Gelu: {
      const pdf = f32x4.mul(expv(f32x4.mul(f32x4.mul(x, x), vs(-0.5))), vs(INV_SQRT_2PI));
      return madd(x, pdf, normalCdfv(x));
    }
    case Act.GeluTanh: {
      // Past |x| = 10 tanh is ±1 in f32 and the derivative 0 or 1; clamped, x³ cannot overflow into ∞ · 0.
      const xc = f32x4.min(f32x4.max(x, vs(-10)), vs(10));
      const th = tanhv(geluTanhArg(xc));
      const inner = f32x4.mul(vs(GELU_TANH_C), madd(f32x4.mul(xc, xc), vs(3 * 0.044715), vs(1)));
      const d = f32x4.mul(f32x4.mul(f32x4.mul(vs(0.5), xc), f32x4.sub(vs(1), f32x4.mul(th, th))), inner);
      return madd(vs(0.5), f32x4.add(vs(1), th), d);
    }
    case Act.Swish: {
      const s = sigmoidv(x);
      return f32x4.mul(s, madd(x, f32x4.sub(vs(1), s), vs(1)));
    }
    case Act.Mish: {
      const th = tanhv(lanesv(LANE_SOFTPLUS, x));
      return madd(f32x4.mul(x, f32x4.sub(vs(1), f32x4.mul(th, th))), sigmoidv(x), th);
    }
    case Act.HardSilu: {
      const g = f32x4.mul(madd(x, vs(2), vs(3)), vs(<f32>1.0 / 6.0));
      return v128.bitselect(vs(1), v128.andnot(g, f32x4.le(x, vs(-3))), f32x4.ge(x, vs(3)));
    }
    case Act.TanhShrink: {
      const th = tanhv(x);
      return f32x4.mul(th, th);
    }
    case Act.Softplus:
      return sigmoidv(x);
    case Act.LogSigmoid:
      return sigmoidv(f32x4.neg(x));
    case Act.Exponential:
      return lanesv(LANE_EXP, x);
    default:
      return dactv(code, actv(code, x));
  }
}

// Scalar versions for row tails, computed through the vector code so tails match the body.
// @ts-ignore: decorator
@inline function act1(code: i32, x: f32): f32 {
  return f32x4.extract_lane(actv(code, f32x4.splat(x)), 0);
}
// @ts-ignore: decorator
@inline function dact1(code: i32, y: f32): f32 {
  return f32x4.extract_lane(dactv(code, f32x4.splat(y)), 0);
}
// @ts-ignore: decorator
@inline function dactInput1(code: i32, x: f32): f32 {
  return f32x4.extract_lane(dactInputv(code, f32x4.splat(x)), 0);
}

export function addBias(x: usize, M: i32, N: i32, ldx: i32, bias: usize): void {
  const N4 = N & ~3;
  for (let i = 0; i < M; i++) {
    const r = x + ((<usize>i * ldx) << 2);
    let j = 0;
    for (; j < N4; j += 4) v128.store(r + (<usize>j << 2), f32x4.add(v128.load(r + (<usize>j << 2)), v128.load(bias + (<usize>j << 2))));
    for (; j < N; j++) store<f32>(r + (<usize>j << 2), load<f32>(r + (<usize>j << 2)) + load<f32>(bias + (<usize>j << 2)));
  }
}

export function sumRows(x: usize, M: i32, N: i32, ldx: i32, out: usize): void {
  const N4 = N & ~3;
  for (let i = 0; i < M; i++) {
    const r = x + ((<usize>i * ldx) << 2);
    let j = 0;
    for (; j < N4; j += 4) v128.store(out + (<usize>j << 2), f32x4.add(v128.load(out + (<usize>j << 2)), v128.load(r + (<usize>j << 2))));
    for (; j < N; j++) store<f32>(out + (<usize>j << 2), load<f32>(out + (<usize>j << 2)) + load<f32>(r + (<usize>j << 2)));
  }
}

/** Elementwise activation of an M×N block in place (Act.Softmax: per row). */
export function activate(code: i32, x: usize, M: i32, N: i32, ldx: i32): void {
  if (code == Act.Linear) return;
  const N4 = N & ~3;
  for (let i = 0; i < M; i++) {
    const r = x + ((<usize>i * ldx) << 2);
    if (code == Act.Softmax) {
      softmaxRow(r, N);
      continue;
    }
    if (code == Act.LogSoftmax) {
      logSoftmaxRow(r, N);
      continue;
    }
    let j = 0;
    for (; j < N4; j += 4) v128.store(r + (<usize>j << 2), actv(code, v128.load(r + (<usize>j << 2))));
    for (; j < N; j++) store<f32>(r + (<usize>j << 2), act1(code, load<f32>(r + (<usize>j << 2))));
  }
}

function softmaxRow(r: usize, N: i32): void {
  let max: f32 = -Infinity;
  for (let j = 0; j < N; j++) max = Mathf.max(max, load<f32>(r + (<usize>j << 2)));
  let sum: f32 = 0;
  for (let j = 0; j < N; j++) {
    const e = Mathf.exp(load<f32>(r + (<usize>j << 2)) - max);
    store<f32>(r + (<usize>j << 2), e);
    sum += e;
  }
  const inv: f32 = 1 / sum;
  for (let j = 0; j < N; j++) store<f32>(r + (<usize>j << 2), load<f32>(r + (<usize>j << 2)) * inv);
}

// In float64 like the reference, so a row's log-sum-exp and the outputs match it to the last bit or so.
function logSoftmaxRow(r: usize, N: i32): void {
  let max: f32 = -Infinity;
  for (let j = 0; j < N; j++) max = Mathf.max(max, load<f32>(r + (<usize>j << 2)));
  let sum: f64 = 0;
  for (let j = 0; j < N; j++) sum += Math.exp(<f64>load<f32>(r + (<usize>j << 2)) - <f64>max);
  const shift = <f64>max + Math.log(sum);
  for (let j = 0; j < N; j++) store<f32>(r + (<usize>j << 2), <f32>(<f64>load<f32>(r + (<usize>j << 2)) - shift));
}

export function activateBackward(code: i32, y: usize, dy: usize, M: i32, N: i32, ld: i32): void {
  if (code == Act.Linear) return;
  const N4 = N & ~3;
  for (let i = 0; i < M; i++) {
    const yr = y + ((<usize>i * ld) << 2);
    const dr = dy + ((<usize>i * ld) << 2);
    if (code == Act.Softmax) {
      let dot: f32 = 0;
      for (let j = 0; j < N; j++) dot += load<f32>(dr + (<usize>j << 2)) * load<f32>(yr + (<usize>j << 2));
      for (let j = 0; j < N; j++) store<f32>(dr + (<usize>j << 2), load<f32>(yr + (<usize>j << 2)) * (load<f32>(dr + (<usize>j << 2)) - dot));
      continue;
    }
    if (code == Act.LogSoftmax) {
      let total: f64 = 0;
      for (let j = 0; j < N; j++) total += <f64>load<f32>(dr + (<usize>j << 2));
      for (let j = 0; j < N; j++) {
        const p = Math.exp(<f64>load<f32>(yr + (<usize>j << 2)));
        store<f32>(dr + (<usize>j << 2), <f32>(<f64>load<f32>(dr + (<usize>j << 2)) - p * total));
      }
      continue;
    }
    let j = 0;
    for (; j < N4; j += 4) v128.store(dr + (<usize>j << 2), f32x4.mul(v128.load(dr + (<usize>j << 2)), dactv(code, v128.load(yr + (<usize>j << 2)))));
    for (; j < N; j++) store<f32>(dr + (<usize>j << 2), load<f32>(dr + (<usize>j << 2)) * dact1(code, load<f32>(yr + (<usize>j << 2))));
  }
}

/** dy ← dy ⊙ f′(x) from the pre-activations x (elementwise activations only). */
export function activateBackwardFromInput(code: i32, x: usize, dy: usize, M: i32, N: i32, ld: i32): void {
  const N4 = N & ~3;
  for (let i = 0; i < M; i++) {
    const xr = x + ((<usize>i * ld) << 2);
    const dr = dy + ((<usize>i * ld) << 2);
    let j = 0;
    for (; j < N4; j += 4) v128.store(dr + (<usize>j << 2), f32x4.mul(v128.load(dr + (<usize>j << 2)), dactInputv(code, v128.load(xr + (<usize>j << 2)))));
    for (; j < N; j++) store<f32>(dr + (<usize>j << 2), load<f32>(dr + (<usize>j << 2)) * dactInput1(code, load<f32>(xr + (<usize>j << 2))));
  }
}

/** out[r] = scale[r]·W[idx[r]] (+ out[r]); rows of N floats; idx < 0 gives zeros. scale may be 0 (none). */
export function gatherRows(idx: usize, R: i32, W: usize, N: i32, out: usize, scale: usize, accumulate: bool): void {
  const N4 = N & ~3;
  const rowBytes = <usize>N << 2;
  for (let r = 0; r < R; r++) {
    const id = load<i32>(idx + (<usize>r << 2));
    const s: f32 = scale ? load<f32>(scale + (<usize>r << 2)) : 1;
    const o = out + <usize>r * rowBytes;
    if (id < 0 || s == 0) {
      if (!accumulate) memory.fill(o, 0, rowBytes);
      continue;
    }
    const w = W + <usize>id * rowBytes;
    const sv = f32x4.splat(s);
    let j = 0;
    for (; j < N4; j += 4) {
      const v = f32x4.mul(v128.load(w + (<usize>j << 2)), sv);
      v128.store(o + (<usize>j << 2), accumulate ? f32x4.add(v, v128.load(o + (<usize>j << 2))) : v);
    }
    for (; j < N; j++) {
      const v = load<f32>(w + (<usize>j << 2)) * s;
      store<f32>(o + (<usize>j << 2), accumulate ? v + load<f32>(o + (<usize>j << 2)) : v);
    }
  }
}

export function scatterAddRows(idx: usize, R: i32, dOut: usize, N: i32, dW: usize, scale: usize): void {
  const N4 = N & ~3;
  const rowBytes = <usize>N << 2;
  for (let r = 0; r < R; r++) {
    const id = load<i32>(idx + (<usize>r << 2));
    const s: f32 = scale ? load<f32>(scale + (<usize>r << 2)) : 1;
    if (id < 0 || s == 0) continue;
    const o = dOut + <usize>r * rowBytes;
    const w = dW + <usize>id * rowBytes;
    const sv = f32x4.splat(s);
    let j = 0;
    for (; j < N4; j += 4) v128.store(w + (<usize>j << 2), madd(v128.load(o + (<usize>j << 2)), sv, v128.load(w + (<usize>j << 2))));
    for (; j < N; j++) store<f32>(w + (<usize>j << 2), load<f32>(w + (<usize>j << 2)) + s * load<f32>(o + (<usize>j << 2)));
  }
}

/** Keras's relu with options (see the Kernels interface), in float32 like the reference. */
export function kerasRelu(x: usize, n: i32, negativeSlope: f32, threshold: f32, maxValue: f32): void {
  const clip = isFinite<f32>(maxValue);
  for (let i = 0; i < n; i++) {
    const a = x + (<usize>i << 2);
    const v = load<f32>(a);
    let p: f32 = threshold != 0 ? (v > threshold ? v : 0) : max<f32>(v, 0);
    if (clip) p = min<f32>(max<f32>(p, 0), maxValue);
    const below: f32 = threshold - v > 0 ? threshold - v : 0;
    store<f32>(a, p - negativeSlope * below);
  }
}

export function kerasReluBackward(x: usize, dy: usize, n: i32, negativeSlope: f32, threshold: f32, maxValue: f32): void {
  const clip = isFinite<f32>(maxValue);
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    const passes = threshold != 0 ? v > threshold : v > 0;
    let d: f32 = passes && (!clip || (v >= 0 && v <= maxValue)) ? 1 : 0;
    if (threshold - v > 0) d += negativeSlope;
    const a = dy + (<usize>i << 2);
    store<f32>(a, load<f32>(a) * d);
  }
}

export function mulInPlace(x: usize, m: usize, n: i32): void {
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) v128.store(x + (<usize>i << 2), f32x4.mul(v128.load(x + (<usize>i << 2)), v128.load(m + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) * load<f32>(m + (<usize>i << 2)));
}

export function addInPlace(x: usize, y: usize, n: i32): void {
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) v128.store(x + (<usize>i << 2), f32x4.add(v128.load(x + (<usize>i << 2)), v128.load(y + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) + load<f32>(y + (<usize>i << 2)));
}

/**
 * from + Σ x[i]², one element at a time in index order in f64 (bit for bit the reference's sum). Four floats that are
 * all zero are skipped with one vector test: adding +0 changes nothing, and most of an embedding's gradient is zero rows.
 */
export function sumOfSquares(x: usize, n: i32, from: f64): f64 {
  const n4 = n & ~3;
  let s = from;
  let i = 0;
  for (; i < n4; i += 4) {
    const p = x + (<usize>i << 2);
    if (!v128.any_true(v128.load(p))) continue;
    for (let j = 0; j < 4; j++) {
      const v = <f64>load<f32>(p + (<usize>j << 2));
      s += v * v;
    }
  }
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    s += v * v;
  }
  return s;
}

/** dst[C, R] = src[R, C]ᵀ (dense), in 4×4 blocks: four row loads, a register transpose, four row stores. */
export function transpose(R: i32, C: i32, src: usize, dst: usize): void {
  transposeStrided(R, C, src, <usize>C << 2, dst, <usize>R << 2);
}

// Row strides rs (src) and ds (dst) in bytes.
function transposeStrided(R: i32, C: i32, src: usize, rs: usize, dst: usize, ds: usize): void {
  const R4 = R & ~3;
  const C4 = C & ~3;
  for (let r = 0; r < R4; r += 4) {
    for (let c = 0; c < C4; c += 4) {
      const p = src + <usize>r * rs + (<usize>c << 2);
      const x0 = v128.load(p);
      const x1 = v128.load(p + rs);
      const x2 = v128.load(p + 2 * rs);
      const x3 = v128.load(p + 3 * rs);
      const t0 = i32x4.shuffle(x0, x1, 0, 4, 1, 5);
      const t1 = i32x4.shuffle(x2, x3, 0, 4, 1, 5);
      const t2 = i32x4.shuffle(x0, x1, 2, 6, 3, 7);
      const t3 = i32x4.shuffle(x2, x3, 2, 6, 3, 7);
      const q = dst + <usize>c * ds + (<usize>r << 2);
      v128.store(q, i64x2.shuffle(t0, t1, 0, 2));
      v128.store(q + ds, i64x2.shuffle(t0, t1, 1, 3));
      v128.store(q + 2 * ds, i64x2.shuffle(t2, t3, 0, 2));
      v128.store(q + 3 * ds, i64x2.shuffle(t2, t3, 1, 3));
    }
    for (let c = C4; c < C; c++) for (let i = r; i < r + 4; i++) store<f32>(dst + <usize>c * ds + (<usize>i << 2), load<f32>(src + <usize>i * rs + (<usize>c << 2)));
  }
  for (let r = R4; r < R; r++) for (let c = 0; c < C; c++) store<f32>(dst + <usize>c * ds + (<usize>r << 2), load<f32>(src + <usize>r * rs + (<usize>c << 2)));
}

// LSTM pointwise step (see src/layers/lstm.ts for the equations). gates [N,4H] in place; c, h [N,H].
// The rows of an LSTM step. Inlined, so a call with constant activation codes (Keras's tanh/sigmoid below) folds the
// activation dispatch out of the loop.
// @ts-ignore: decorator
@inline function lstmCellRows(N: i32, H: i32, gates: usize, cPrev: usize, c: usize, h: usize, act: i32, rec: i32): void {
  const H4 = H & ~3;
  const hb = <usize>H << 2;
  for (let n = 0; n < N; n++) {
    const g = gates + <usize>n * 4 * hb;
    const cp = cPrev + <usize>n * hb;
    const cn = c + <usize>n * hb;
    const hn = h + <usize>n * hb;
    let j = 0;
    for (; j < H4; j += 4) {
      const o4 = <usize>j << 2;
      const i = actv(rec, v128.load(g + o4));
      const f = actv(rec, v128.load(g + hb + o4));
      const cand = actv(act, v128.load(g + 2 * hb + o4));
      const o = actv(rec, v128.load(g + 3 * hb + o4));
      v128.store(g + o4, i);
      v128.store(g + hb + o4, f);
      v128.store(g + 2 * hb + o4, cand);
      v128.store(g + 3 * hb + o4, o);
      const cv = madd(f, v128.load(cp + o4), f32x4.mul(i, cand));
      v128.store(cn + o4, cv);
      v128.store(hn + o4, f32x4.mul(o, actv(act, cv)));
    }
    for (; j < H; j++) {
      const o4 = <usize>j << 2;
      const i = act1(rec, load<f32>(g + o4));
      const f = act1(rec, load<f32>(g + hb + o4));
      const cand = act1(act, load<f32>(g + 2 * hb + o4));
      const o = act1(rec, load<f32>(g + 3 * hb + o4));
      store<f32>(g + o4, i);
      store<f32>(g + hb + o4, f);
      store<f32>(g + 2 * hb + o4, cand);
      store<f32>(g + 3 * hb + o4, o);
      const cv = f * load<f32>(cp + o4) + i * cand;
      store<f32>(cn + o4, cv);
      store<f32>(hn + o4, o * act1(act, cv));
    }
  }
}

export function lstmCellForward(N: i32, H: i32, gates: usize, cPrev: usize, c: usize, h: usize, act: i32, rec: i32): void {
  if (act == Act.Tanh && rec == Act.Sigmoid) lstmCellRows(N, H, gates, cPrev, c, h, Act.Tanh, Act.Sigmoid);
  else lstmCellRows(N, H, gates, cPrev, c, h, act, rec);
}

// The rows of an LSTM step backward; inlined so constant activation codes fold the dispatch away.
// @ts-ignore: decorator
@inline function lstmCellBackwardRows(N: i32, H: i32, gates: usize, cPrev: usize, c: usize, dh: usize, dc: usize, dGates: usize, act: i32, rec: i32): void {
  const H4 = H & ~3;
  const hb = <usize>H << 2;
  for (let n = 0; n < N; n++) {
    const g = gates + <usize>n * 4 * hb;
    const dg = dGates + <usize>n * 4 * hb;
    const cp = cPrev + <usize>n * hb;
    const cn = c + <usize>n * hb;
    const dhn = dh + <usize>n * hb;
    const dcn = dc + <usize>n * hb;
    let j = 0;
    for (; j < H4; j += 4) {
      const o4 = <usize>j << 2;
      const i = v128.load(g + o4);
      const f = v128.load(g + hb + o4);
      const cand = v128.load(g + 2 * hb + o4);
      const o = v128.load(g + 3 * hb + o4);
      const tc = actv(act, v128.load(cn + o4));
      const dhv = v128.load(dhn + o4);
      const dcv = madd(f32x4.mul(dhv, o), dactv(act, tc), v128.load(dcn + o4));
      v128.store(dg + o4, f32x4.mul(f32x4.mul(dcv, cand), dactv(rec, i)));
      v128.store(dg + hb + o4, f32x4.mul(f32x4.mul(dcv, v128.load(cp + o4)), dactv(rec, f)));
      v128.store(dg + 2 * hb + o4, f32x4.mul(f32x4.mul(dcv, i), dactv(act, cand)));
      v128.store(dg + 3 * hb + o4, f32x4.mul(f32x4.mul(dhv, tc), dactv(rec, o)));
      v128.store(dcn + o4, f32x4.mul(dcv, f));
    }
    for (; j < H; j++) {
      const o4 = <usize>j << 2;
      const i = load<f32>(g + o4);
      const f = load<f32>(g + hb + o4);
      const cand = load<f32>(g + 2 * hb + o4);
      const o = load<f32>(g + 3 * hb + o4);
      const tc = act1(act, load<f32>(cn + o4));
      const dhv = load<f32>(dhn + o4);
      const dcv = load<f32>(dcn + o4) + dhv * o * dact1(act, tc);
      store<f32>(dg + o4, dcv * cand * dact1(rec, i));
      store<f32>(dg + hb + o4, dcv * load<f32>(cp + o4) * dact1(rec, f));
      store<f32>(dg + 2 * hb + o4, dcv * i * dact1(act, cand));
      store<f32>(dg + 3 * hb + o4, dhv * tc * dact1(rec, o));
      store<f32>(dcn + o4, dcv * f);
    }
  }
}

export function lstmCellBackward(N: i32, H: i32, gates: usize, cPrev: usize, c: usize, dh: usize, dc: usize, dGates: usize, act: i32, rec: i32): void {
  if (act == Act.Tanh && rec == Act.Sigmoid) lstmCellBackwardRows(N, H, gates, cPrev, c, dh, dc, dGates, Act.Tanh, Act.Sigmoid);
  else lstmCellBackwardRows(N, H, gates, cPrev, c, dh, dc, dGates, act, rec);
}

// GRU (resetAfter) pointwise step (see src/layers/gru.ts). xp [N,3H] in place → z, r, ĥ; rp [N,3H]; h [N,H].
// The rows of a GRU (resetAfter) step; inlined so constant activation codes fold the dispatch away.
// @ts-ignore: decorator
@inline function gruCellForwardRows(N: i32, H: i32, xp: usize, rp: usize, hPrev: usize, h: usize, act: i32, rec: i32): void {
  const H4 = H & ~3;
  const hb = <usize>H << 2;
  for (let n = 0; n < N; n++) {
    const g = xp + <usize>n * 3 * hb;
    const q = rp + <usize>n * 3 * hb;
    const hp = hPrev + <usize>n * hb;
    const hn = h + <usize>n * hb;
    let j = 0;
    for (; j < H4; j += 4) {
      const o = <usize>j << 2;
      const z = actv(rec, f32x4.add(v128.load(g + o), v128.load(q + o)));
      const r = actv(rec, f32x4.add(v128.load(g + hb + o), v128.load(q + hb + o)));
      const hh = actv(act, madd(r, v128.load(q + 2 * hb + o), v128.load(g + 2 * hb + o)));
      v128.store(g + o, z);
      v128.store(g + hb + o, r);
      v128.store(g + 2 * hb + o, hh);
      // z⊙hPrev + (1 − z)⊙ĥ = ĥ + z⊙(hPrev − ĥ)
      v128.store(hn + o, madd(z, f32x4.sub(v128.load(hp + o), hh), hh));
    }
    for (; j < H; j++) {
      const o = <usize>j << 2;
      const z = act1(rec, load<f32>(g + o) + load<f32>(q + o));
      const r = act1(rec, load<f32>(g + hb + o) + load<f32>(q + hb + o));
      const hh = act1(act, load<f32>(g + 2 * hb + o) + r * load<f32>(q + 2 * hb + o));
      store<f32>(g + o, z);
      store<f32>(g + hb + o, r);
      store<f32>(g + 2 * hb + o, hh);
      store<f32>(hn + o, hh + z * (load<f32>(hp + o) - hh));
    }
  }
}

export function gruCellForward(N: i32, H: i32, xp: usize, rp: usize, hPrev: usize, h: usize, act: i32, rec: i32): void {
  if (act == Act.Tanh && rec == Act.Sigmoid) gruCellForwardRows(N, H, xp, rp, hPrev, h, Act.Tanh, Act.Sigmoid);
  else gruCellForwardRows(N, H, xp, rp, hPrev, h, act, rec);
}

// The rows of a GRU (resetAfter) step backward; inlined so constant activation codes fold the dispatch away.
// @ts-ignore: decorator
@inline function gruCellBackwardRows(N: i32, H: i32, gates: usize, rp: usize, hPrev: usize, dh: usize, dxp: usize, drp: usize, dhPrev: usize, act: i32, rec: i32): void {
  const H4 = H & ~3;
  const hb = <usize>H << 2;
  for (let n = 0; n < N; n++) {
    const g = gates + <usize>n * 3 * hb;
    const q = rp + <usize>n * 3 * hb;
    const dx = dxp + <usize>n * 3 * hb;
    const dr = drp + <usize>n * 3 * hb;
    const hp = hPrev + <usize>n * hb;
    const dhn = dh + <usize>n * hb;
    const dpn = dhPrev + <usize>n * hb;
    let j = 0;
    for (; j < H4; j += 4) {
      const o = <usize>j << 2;
      const z = v128.load(g + o);
      const r = v128.load(g + hb + o);
      const hh = v128.load(g + 2 * hb + o);
      const d = v128.load(dhn + o);
      const dz = f32x4.mul(f32x4.mul(d, f32x4.sub(v128.load(hp + o), hh)), dactv(rec, z));
      const da = f32x4.mul(f32x4.mul(d, f32x4.sub(vs(1), z)), dactv(act, hh));
      const drr = f32x4.mul(f32x4.mul(da, v128.load(q + 2 * hb + o)), dactv(rec, r));
      v128.store(dx + o, dz);
      v128.store(dx + hb + o, drr);
      v128.store(dx + 2 * hb + o, da);
      v128.store(dr + o, dz);
      v128.store(dr + hb + o, drr);
      v128.store(dr + 2 * hb + o, f32x4.mul(da, r));
      v128.store(dpn + o, f32x4.mul(d, z));
    }
    for (; j < H; j++) {
      const o = <usize>j << 2;
      const z = load<f32>(g + o);
      const r = load<f32>(g + hb + o);
      const hh = load<f32>(g + 2 * hb + o);
      const d = load<f32>(dhn + o);
      const dz = d * (load<f32>(hp + o) - hh) * dact1(rec, z);
      const da = d * (1 - z) * dact1(act, hh);
      const drr = da * load<f32>(q + 2 * hb + o) * dact1(rec, r);
      store<f32>(dx + o, dz);
      store<f32>(dx + hb + o, drr);
      store<f32>(dx + 2 * hb + o, da);
      store<f32>(dr + o, dz);
      store<f32>(dr + hb + o, drr);
      store<f32>(dr + 2 * hb + o, da * r);
      store<f32>(dpn + o, d * z);
    }
  }
}

export function gruCellBackward(N: i32, H: i32, gates: usize, rp: usize, hPrev: usize, dh: usize, dxp: usize, drp: usize, dhPrev: usize, act: i32, rec: i32): void {
  if (act == Act.Tanh && rec == Act.Sigmoid) gruCellBackwardRows(N, H, gates, rp, hPrev, dh, dxp, drp, dhPrev, Act.Tanh, Act.Sigmoid);
  else gruCellBackwardRows(N, H, gates, rp, hPrev, dh, dxp, drp, dhPrev, act, rec);
}

// GRU without resetAfter (see src/layers/gru.ts): the pointwise parts around its two recurrent products. xp and the
// gates are [N, 3H] (z, r, ĥ columns); h, hm, rh and the gradients of them are [N, H].

// Scalar columns j ≥ H4 go through the same vector code, one lane used, so tails match the body.
export function gruResetGate(N: i32, H: i32, xp: usize, hm: usize, rh: usize, rec: i32): void {
  const hb = <usize>H << 2;
  const H4 = H & ~3;
  for (let n = 0; n < N; n++) {
    const g = xp + <usize>n * 3 * hb;
    const hn = hm + <usize>n * hb;
    const rn = rh + <usize>n * hb;
    let j = 0;
    for (; j < H4; j += 4) {
      const o = <usize>j << 2;
      v128.store(g + o, actv(rec, v128.load(g + o)));
      const r = actv(rec, v128.load(g + hb + o));
      v128.store(g + hb + o, r);
      v128.store(rn + o, f32x4.mul(r, v128.load(hn + o)));
    }
    for (; j < H; j++) {
      const o = <usize>j << 2;
      store<f32>(g + o, act1(rec, load<f32>(g + o)));
      const r = act1(rec, load<f32>(g + hb + o));
      store<f32>(g + hb + o, r);
      store<f32>(rn + o, r * load<f32>(hn + o));
    }
  }
}

export function gruResetOutput(N: i32, H: i32, xp: usize, hPrev: usize, h: usize, act: i32): void {
  const hb = <usize>H << 2;
  const H4 = H & ~3;
  for (let n = 0; n < N; n++) {
    const g = xp + <usize>n * 3 * hb;
    const hp = hPrev + <usize>n * hb;
    const hn = h + <usize>n * hb;
    let j = 0;
    for (; j < H4; j += 4) {
      const o = <usize>j << 2;
      const hh = actv(act, v128.load(g + 2 * hb + o));
      v128.store(g + 2 * hb + o, hh);
      const z = v128.load(g + o);
      v128.store(hn + o, madd(z, f32x4.sub(v128.load(hp + o), hh), hh));
    }
    for (; j < H; j++) {
      const o = <usize>j << 2;
      const hh = act1(act, load<f32>(g + 2 * hb + o));
      store<f32>(g + 2 * hb + o, hh);
      const z = load<f32>(g + o);
      store<f32>(hn + o, z * (load<f32>(hp + o) - hh) + hh);
    }
  }
}

export function gruResetOutputBackward(N: i32, H: i32, gates: usize, hPrev: usize, dh: usize, dxp: usize, dhPrev: usize, act: i32, rec: i32): void {
  const hb = <usize>H << 2;
  const H4 = H & ~3;
  for (let n = 0; n < N; n++) {
    const g = gates + <usize>n * 3 * hb;
    const dg = dxp + <usize>n * 3 * hb;
    const hp = hPrev + <usize>n * hb;
    const dn = dh + <usize>n * hb;
    const dpn = dhPrev + <usize>n * hb;
    let j = 0;
    for (; j < H4; j += 4) {
      const o = <usize>j << 2;
      const z = v128.load(g + o);
      const hh = v128.load(g + 2 * hb + o);
      const d = v128.load(dn + o);
      v128.store(dg + o, f32x4.mul(f32x4.mul(d, f32x4.sub(v128.load(hp + o), hh)), dactv(rec, z)));
      v128.store(dg + 2 * hb + o, f32x4.mul(f32x4.mul(d, f32x4.sub(vs(1), z)), dactv(act, hh)));
      v128.store(dpn + o, f32x4.mul(d, z));
    }
    for (; j < H; j++) {
      const o = <usize>j << 2;
      const z = load<f32>(g + o);
      const hh = load<f32>(g + 2 * hb + o);
      const d = load<f32>(dn + o);
      store<f32>(dg + o, d * (load<f32>(hp + o) - hh) * dact1(rec, z));
      store<f32>(dg + 2 * hb + o, d * (1 - z) * dact1(act, hh));
      store<f32>(dpn + o, d * z);
    }
  }
}

export function gruResetGateBackward(N: i32, H: i32, gates: usize, hm: usize, drh: usize, dxp: usize, dhm: usize, rec: i32): void {
  const hb = <usize>H << 2;
  const H4 = H & ~3;
  for (let n = 0; n < N; n++) {
    const g = gates + <usize>n * 3 * hb;
    const dg = dxp + <usize>n * 3 * hb;
    const hn = hm + <usize>n * hb;
    const dr = drh + <usize>n * hb;
    const dm = dhm + <usize>n * hb;
    let j = 0;
    for (; j < H4; j += 4) {
      const o = <usize>j << 2;
      const r = v128.load(g + hb + o);
      const d = v128.load(dr + o);
      v128.store(dg + hb + o, f32x4.mul(f32x4.mul(d, v128.load(hn + o)), dactv(rec, r)));
      v128.store(dm + o, f32x4.mul(d, r));
    }
    for (; j < H; j++) {
      const o = <usize>j << 2;
      const r = load<f32>(g + hb + o);
      const d = load<f32>(dr + o);
      store<f32>(dg + hb + o, d * load<f32>(hn + o) * dact1(rec, r));
      store<f32>(dm + o, d * r);
    }
  }
}

// Fused optimizer updates (Keras 3 rules; see src/models/optimizers.ts). m may be 0 (no momentum).
export function rmspropUpdate(n: i32, w: usize, g: usize, v: usize, m: usize, mg: usize, lr: f32, rho: f32, eps: f32, momentum: f32, epsOutside: bool): void {
  const n4 = n & ~3;
  const lrv = vs(lr), rv = vs(rho), r1 = vs(1 - rho), ev = vs(eps), mu = vs(momentum);
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    const vi = madd(r1, f32x4.mul(gi, gi), f32x4.mul(rv, v128.load(v + o)));
    v128.store(v + o, vi);
    let ms = vi;
    if (mg) {
      const mgi = madd(r1, gi, f32x4.mul(rv, v128.load(mg + o)));
      v128.store(mg + o, mgi);
      ms = f32x4.sub(vi, f32x4.mul(mgi, mgi));
    }
    const den = epsOutside ? f32x4.add(f32x4.sqrt(ms), ev) : f32x4.sqrt(f32x4.add(ms, ev));
    const inc = f32x4.div(f32x4.mul(lrv, gi), den);
    if (m) {
      const mi = madd(mu, v128.load(m + o), inc);
      v128.store(m + o, mi);
      v128.store(w + o, f32x4.sub(v128.load(w + o), mi));
    } else {
      v128.store(w + o, f32x4.sub(v128.load(w + o), inc));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    const vi = rho * load<f32>(v + o) + (1 - rho) * gi * gi;
    store<f32>(v + o, vi);
    let ms = vi;
    if (mg) {
      const mgi = rho * load<f32>(mg + o) + (1 - rho) * gi;
      store<f32>(mg + o, mgi);
      ms = vi - mgi * mgi;
    }
    const inc = (lr * gi) / (epsOutside ? Mathf.sqrt(ms) + eps : Mathf.sqrt(ms + eps));
    if (m) {
      const mi = momentum * load<f32>(m + o) + inc;
      store<f32>(m + o, mi);
      store<f32>(w + o, load<f32>(w + o) - mi);
    } else {
      store<f32>(w + o, load<f32>(w + o) - inc);
    }
  }
}

export function sgdUpdate(n: i32, w: usize, g: usize, m: usize, lr: f32, momentum: f32, nesterov: bool): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    if (!m) {
      store<f32>(w + o, load<f32>(w + o) - lr * gi);
      continue;
    }
    const mi = momentum * load<f32>(m + o) - lr * gi;
    store<f32>(m + o, mi);
    store<f32>(w + o, load<f32>(w + o) + (nesterov ? momentum * mi - lr * gi : mi));
  }
}

export function adagradUpdate(n: i32, w: usize, g: usize, a: usize, lr: f32, eps: f32): void {
  const n4 = n & ~3;
  const lrv = vs(lr), ev = vs(eps);
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    const ai = f32x4.add(v128.load(a + o), f32x4.mul(gi, gi));
    v128.store(a + o, ai);
    v128.store(w + o, f32x4.sub(v128.load(w + o), f32x4.div(f32x4.mul(lrv, gi), f32x4.sqrt(f32x4.add(ai, ev)))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    const ai = load<f32>(a + o) + gi * gi;
    store<f32>(a + o, ai);
    store<f32>(w + o, load<f32>(w + o) - (lr * gi) / Mathf.sqrt(ai + eps));
  }
}

export function adamUpdate(n: i32, w: usize, g: usize, m: usize, v: usize, alpha: f32, beta1: f32, beta2: f32, eps: f32): void {
  const n4 = n & ~3;
  const av = vs(alpha), b1 = vs(1 - beta1), b2 = vs(1 - beta2), ev = vs(eps);
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const gi = v128.load(g + o);
    const mo = v128.load(m + o);
    const vo = v128.load(v + o);
    const mi = madd(f32x4.sub(gi, mo), b1, mo);
    const vi = madd(f32x4.sub(f32x4.mul(gi, gi), vo), b2, vo);
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    v128.store(w + o, f32x4.sub(v128.load(w + o), f32x4.div(f32x4.mul(av, mi), f32x4.add(f32x4.sqrt(vi), ev))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gi = load<f32>(g + o);
    const mi = load<f32>(m + o) + (gi - load<f32>(m + o)) * (1 - beta1);
    const vi = load<f32>(v + o) + (gi * gi - load<f32>(v + o)) * (1 - beta2);
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(w + o, load<f32>(w + o) - (alpha * mi) / (Mathf.sqrt(vi) + eps));
  }
}

/**
 * Softmax cross-entropy on logits [R,V]; labels (i32) or dense targets; grad (optional) = (p − y)·scale.
 * One exponential per logit, on four lanes (expv): e = exp(x − max) goes into grad on the way to the row's sum and is
 * scaled there, where a scalar float64 exp per logit twice over took 15 % of a batch with a 6,000-word softmax.
 */
export function softmaxCrossEntropy(logits: usize, R: i32, V: i32, labels: usize, targets: usize, grad: usize, scale: f32): f64 {
  let total: f64 = 0;
  const vb = <usize>V << 2;
  const V4 = V & ~3;
  for (let r = 0; r < R; r++) {
    const o = logits + <usize>r * vb;
    const gr = grad ? grad + <usize>r * vb : 0;
    const t = targets ? targets + <usize>r * vb : 0;
    // max: a NaN logit makes it NaN (f32x4.max carries NaN), so the loss is NaN and the run stops loudly.
    let m4 = f32x4.splat(-Infinity);
    let j = 0;
    for (; j < V4; j += 4) m4 = f32x4.max(m4, v128.load(o + (<usize>j << 2)));
    let max: f32 = Mathf.max(Mathf.max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), Mathf.max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
    for (; j < V; j++) max = Mathf.max(max, load<f32>(o + (<usize>j << 2)));
    const mv = f32x4.splat(max);
    // The sum in float64 lanes: a vocabulary of tens of thousands of small terms would lose digits in float32.
    let sLo = f64x2.splat(0);
    let sHi = f64x2.splat(0);
    j = 0;
    for (; j < V4; j += 4) {
      const e = expv(f32x4.sub(v128.load(o + (<usize>j << 2)), mv));
      if (gr) v128.store(gr + (<usize>j << 2), e);
      sLo = f64x2.add(sLo, f64x2.promote_low_f32x4(e));
      sHi = f64x2.add(sHi, f64x2.promote_low_f32x4(i32x4.shuffle(e, e, 2, 3, 0, 1)));
    }
    const s2 = f64x2.add(sLo, sHi);
    let sum: f64 = f64x2.extract_lane(s2, 0) + f64x2.extract_lane(s2, 1);
    for (; j < V; j++) {
      const e = f32x4.extract_lane(expv(f32x4.splat(load<f32>(o + (<usize>j << 2)) - max)), 0);
      if (gr) store<f32>(gr + (<usize>j << 2), e);
      sum += <f64>e;
    }
    const logZ: f64 = <f64>max + Math.log(sum);
    if (labels) {
      const y = load<i32>(labels + (<usize>r << 2));
      total += logZ - <f64>load<f32>(o + (<usize>y << 2));
      if (gr) {
        const k1: f32 = <f32>(<f64>scale / sum);
        const k = f32x4.splat(k1);
        j = 0;
        for (; j < V4; j += 4) v128.store(gr + (<usize>j << 2), f32x4.mul(v128.load(gr + (<usize>j << 2)), k));
        for (; j < V; j++) store<f32>(gr + (<usize>j << 2), load<f32>(gr + (<usize>j << 2)) * k1);
        store<f32>(gr + (<usize>y << 2), load<f32>(gr + (<usize>y << 2)) - scale);
      }
    } else {
      let tsum: f64 = 0;
      for (j = 0; j < V; j++) {
        const yj = <f64>load<f32>(t + (<usize>j << 2));
        total += yj * (logZ - <f64>load<f32>(o + (<usize>j << 2)));
        tsum += yj;
      }
      if (gr) {
        // grad = (p · Σy − y) · scale, p = e / sum.
        const k1: f32 = <f32>((tsum / sum) * <f64>scale);
        const k = f32x4.splat(k1);
        const sv = f32x4.splat(scale);
        j = 0;
        for (; j < V4; j += 4) {
          const g = f32x4.sub(f32x4.mul(v128.load(gr + (<usize>j << 2)), k), f32x4.mul(v128.load(t + (<usize>j << 2)), sv));
          v128.store(gr + (<usize>j << 2), g);
        }
        for (; j < V; j++) store<f32>(gr + (<usize>j << 2), load<f32>(gr + (<usize>j << 2)) * k1 - load<f32>(t + (<usize>j << 2)) * scale);
      }
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------------
// fdlibm's exp (FreeBSD e_exp.c), which V8's Math.exp computes to the bit: decoding sums it for its float64
// log-softmax, and its scores and choices must be what the plain JavaScript loop gives. The common branch
// (1.5·ln2 ≤ |x| < 708) runs two lanes at a time with fdlibm's operations in fdlibm's order (no fused multiply-add,
// in either build); a pair with a lane elsewhere goes lane by lane through the scalar port.

const FD_LN2HI: f64 = 6.93147180369123816490e-01;
const FD_LN2LO: f64 = 1.90821492927058770002e-10;
const FD_INVLN2: f64 = 1.44269504088896338700e+00;
const FD_P1: f64 = 1.66666666666666019037e-01;
const FD_P2: f64 = -2.77777777770155933842e-03;
const FD_P3: f64 = 6.61375632143793436117e-05;
const FD_P4: f64 = -1.65339022054652515390e-06;
const FD_P5: f64 = 4.13813679705723846039e-08;

function fdlibmExp(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  const negative = <i32>(bits >> 63);
  const hx = <u32>(bits >> 32) & 0x7fffffff;
  let hi: f64 = 0;
  let lo: f64 = 0;
  let k: i32 = 0;
  if (hx >= 0x40862e42) {
    // |x| ≥ 709.78: NaN, ±∞, overflow or underflow.
    if (hx >= 0x7ff00000) return ((hx & 0xfffff) | <u32>bits) != 0 ? x + x : negative ? 0.0 : x;
    if (x > 7.09782712893383973096e+2) return Infinity;
    if (x < -7.45133219101941108420e+2) return 0.0;
  }
  if (hx > 0x3fd62e42) {
    // |x| > 0.5·ln2: x = k·ln2 + r, |r| ≤ 0.5·ln2.
    if (hx < 0x3ff0a2b2) {
      if (x == 1.0) return 2.718281828459045;
      hi = negative ? x + FD_LN2HI : x - FD_LN2HI;
      lo = negative ? -FD_LN2LO : FD_LN2LO;
      k = 1 - negative - negative;
    } else {
      k = <i32>(FD_INVLN2 * x + (negative ? -0.5 : 0.5));
      const t = <f64>k;
      hi = x - t * FD_LN2HI;
      lo = t * FD_LN2LO;
    }
    x = hi - lo;
  } else if (hx < 0x3e300000) {
    return 1.0 + x;
  }
  const t = x * x;
  const c = x - t * (FD_P1 + t * (FD_P2 + t * (FD_P3 + t * (FD_P4 + t * FD_P5))));
  if (k == 0) return 1.0 - ((x * c) / (c - 2.0) - x);
  const y = 1.0 - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * 8.98846567431157953865e+307;
    return y * reinterpret<f64>(<u64>(0x3ff + k) << 52);
  }
  return y * reinterpret<f64>(<u64>(0x3ff + k + 1000) << 52) * 9.33263618503218878990e-302;
}

// The vector branch's constants, two lanes each (see VCONST for why they are loaded, not built).
const FDCONST: usize = memory.data<f64>(
  [
  FD_INVLN2, FD_INVLN2,
  FD_LN2HI, FD_LN2HI,
  FD_LN2LO, FD_LN2LO,
  FD_P1, FD_P1,
  FD_P2, FD_P2,
  FD_P3, FD_P3,
  FD_P4, FD_P4,
  FD_P5, FD_P5,
  1.0, 1.0,
  2.0, 2.0,
  0.5, 0.5,
  -0.0, -0.0,
  // The vector branch's bounds on |x|: the smallest double of high word 0x3ff0a2b2 (fdlibm's 1.5·ln2 test), and 708.
  1.0397205352783203, 1.0397205352783203,
  708.0, 708.0,
  // 1.5·2⁵²: an integer t added to it leaves t in the low bits (the vector branch's k for 2ᵏ).
  6755399441055744.0, 6755399441055744.0,
  // fdlibm's other bounds on |x|: the smallest double above high word 0x3fd62e42 (0.5·ln2: k = ±1 from there), 2⁻²⁸.
  0.3465735912322998, 0.3465735912322998,
  3.725290298461914e-9, 3.725290298461914e-9,
  // exp(1), which fdlibm (V8's port) returns for x = 1 exactly.
  2.718281828459045, 2.718281828459045,
  ],
  16,
);
// @ts-ignore: decorator
@inline function fd(i: i32): v128 {
  return v128.load(FDCONST + (<usize>i << 4));
}

// Two of fdlibm's exponentials, each the scalar port's double. Lanes below 708 in magnitude run fdlibm's operations
// in fdlibm's order two at a time: its k is trunc(x/ln2 ± 0.5) from 1.5·ln2, ±1 from 0.5·ln2 and 0 below, and with
// k = 0 (hi = x, lo = 0) the general formula is fdlibm's own for that branch, operation for operation; below 2⁻²⁸ the
// result is 1 + x, and x = 1 gives fdlibm's constant. Other lanes (overflow, underflow, NaN) go through the port.
// @ts-ignore: decorator
@inline function fdlibmExpv(v: v128): v128 {
  const a = f64x2.abs(v);
  if (!i64x2.all_true(f64x2.lt(a, fd(13))))
    return f64x2.replace_lane(f64x2.splat(fdlibmExp(f64x2.extract_lane(v, 0))), 1, fdlibmExp(f64x2.extract_lane(v, 1)));
  // k = (int)(invln2·x ± 0.5), the half of x's sign; t = k exactly as a double.
  let t = f64x2.trunc(f64x2.add(f64x2.mul(fd(0), v), v128.or(v128.and(v, fd(11)), fd(10))));
  const far = f64x2.ge(a, fd(12));
  const near = !i64x2.all_true(far);
  // Nearer 0: ±1 (x's sign) from 0.5·ln2, +0 below.
  if (near) t = v128.bitselect(t, v128.and(v128.or(v128.and(v, fd(11)), fd(8)), f64x2.ge(a, fd(15))), far);
  const hi = f64x2.sub(v, f64x2.mul(t, fd(1)));
  const lo = f64x2.mul(t, fd(2));
  const r = f64x2.sub(hi, lo);
  const r2 = f64x2.mul(r, r);
  let p = f64x2.add(fd(6), f64x2.mul(r2, fd(7)));
  p = f64x2.add(fd(5), f64x2.mul(r2, p));
  p = f64x2.add(fd(4), f64x2.mul(r2, p));
  p = f64x2.add(fd(3), f64x2.mul(r2, p));
  const c = f64x2.sub(r, f64x2.mul(r2, p));
  const q = f64x2.div(f64x2.mul(r, c), f64x2.sub(fd(9), c));
  const y = f64x2.sub(fd(8), f64x2.sub(f64x2.sub(lo, q), hi));
  // 2ᵏ: k + 1023 in the exponent field (|k| ≤ 1021 here).
  const twopk = i64x2.shl(i64x2.add(f64x2.add(t, fd(14)), i64x2.splat(0x3ff)), 52);
  let e = f64x2.mul(y, twopk);
  if (near) {
    e = v128.bitselect(f64x2.add(fd(8), v), e, f64x2.lt(a, fd(16)));
    e = v128.bitselect(fd(17), e, f64x2.eq(v, fd(8)));
  }
  return e;
}

export function sumExp(n: i32, x: usize, shift: f64): f64 {
  let sum: f64 = 0;
  const s = f64x2.splat(shift);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const e = fdlibmExpv(f64x2.sub(f64x2.promote_low_f32x4(v128.load64_zero(x + (<usize>i << 2))), s));
    sum += f64x2.extract_lane(e, 0);
    sum += f64x2.extract_lane(e, 1);
  }
  for (; i < n; i++) sum += fdlibmExp(<f64>load<f32>(x + (<usize>i << 2)) - shift);
  return sum;
}

// Sampling's float32 estimate: the index the float64 loop below picks, found from float32 weights, or −1 when the draw
// lies too near a boundary between two indices for the estimate to be sure (or the logits are not all finite, or t is
// extreme). Why it is sure elsewhere: each float32 weight a_j = expv(fl(fl(x_j − max) · fl(1/t))) is within
// w_j · (1.8e-7 · |arg_j| + 2.4e-7) of the float64 loop's w_j (three float32 roundings of the argument, expv's ≈ 2 ulp),
// and w_j · |arg_j| = e^arg · |arg| ≤ 1/e for arg ≤ 0, so all n weights together are within Δ ≤ (6.7e-8 · n + 2.4e-7) · z
// of the loop's (z ≥ 1: the maximum's weight is 1); the float32 lane sums add ≤ n · 6e-8 · z and the float64 loop's own
// roundings ≤ (n + 2) · 2^-53 · z. A draw whose target r · z̃ is more than SAMPLE_MARGIN(n) · z̃ ≥ 10 × that bound above
// the estimate's cumulative weight before j and below it at j is therefore on the same side of both boundaries in the
// float64 loop, whose u only falls as j grows: it picks j too. At most 2 · n · SAMPLE_MARGIN(n) of the draws fall back
// to that loop (3.9 % at n = 63 with near-uniform weights, far fewer for a peaked distribution).
// @ts-ignore: decorator
@inline function sampleLogitsEstimate(n: i32, x: usize, top: f32, t: f64, r: f64, w: usize): i32 {
  if (!(t >= 1e-3 && t <= 1e3)) return -1;
  const m = f32x4.splat(top);
  const it = f32x4.splat(<f32>(1.0 / t));
  let lanes = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const a = expv(f32x4.mul(f32x4.sub(v128.load(x + (<usize>j << 2)), m), it));
    v128.store(w + (<usize>j << 2), a);
    lanes = f32x4.add(lanes, a);
  }
  let z: f64 =
    <f64>f32x4.extract_lane(lanes, 0) +
    <f64>f32x4.extract_lane(lanes, 1) +
    <f64>f32x4.extract_lane(lanes, 2) +
    <f64>f32x4.extract_lane(lanes, 3);
  for (; j < n; j++) {
    const a = f32x4.extract_lane(expv(f32x4.mul(f32x4.sub(f32x4.splat(load<f32>(x + (<usize>j << 2))), m), it)), 0);
    store<f32>(w + (<usize>j << 2), a);
    z += <f64>a;
  }
  // Not finite: a NaN or an infinite logit (the float64 loop then has its own answer).
  if (!(z >= 1 && z < Infinity)) return -1;
  const target = r * z;
  const margin = z * (<f64>n * SAMPLE_MARGIN_PER_INDEX + SAMPLE_MARGIN_BASE);
  let cum: f64 = 0;
  for (j = 0; j < n; j++) {
    const before = cum;
    cum += <f64>load<f32>(w + (<usize>j << 2));
    if (cum > target) return cum - target > margin && target - before > margin ? j : -1;
  }
  return -1;
}
// SAMPLE_MARGIN(n) = n · 2^-18 + 2^-14 (≈ 3.1e-4 at n = 63, against a bound of ≈ 1e-5).
const SAMPLE_MARGIN_PER_INDEX: f64 = 3.814697265625e-6;
const SAMPLE_MARGIN_BASE: f64 = 6.103515625e-5;

// Sampling's float64 softmax (src/text/sampling.ts, the oracle's loop): the first maximum; unless t is 0, the weights
// w_j = exp((x_j − max) / t) into `w` (n doubles) and summed in index order, then u = r · Σw walked down the weights.
// The float32 estimate answers first where it is sure of the same index (almost always: a few times cheaper).
export function sampleLogits(n: i32, x: usize, t: f64, r: f64, w: usize): i32 {
  let best = 0;
  let top = load<f32>(x);
  for (let j = 1; j < n; j++) {
    const v = load<f32>(x + (<usize>j << 2));
    if (v > top) {
      top = v;
      best = j;
    }
  }
  if (t == 0) return best;
  const estimate = sampleLogitsEstimate(n, x, top, t, r, w);
  if (estimate >= 0) return estimate;
  const max = <f64>top;
  const s = f64x2.splat(max);
  const tv = f64x2.splat(t);
  let z: f64 = 0;
  let j = 0;
  for (; j + 2 <= n; j += 2) {
    const e = fdlibmExpv(f64x2.div(f64x2.sub(f64x2.promote_low_f32x4(v128.load64_zero(x + (<usize>j << 2))), s), tv));
    v128.store(w + (<usize>j << 3), e);
    z += f64x2.extract_lane(e, 0);
    z += f64x2.extract_lane(e, 1);
  }
  for (; j < n; j++) {
    const e = fdlibmExp((<f64>load<f32>(x + (<usize>j << 2)) - max) / t);
    store<f64>(w + (<usize>j << 3), e);
    z += e;
  }
  let u = r * z;
  for (j = 0; j < n; j++) {
    u -= load<f64>(w + (<usize>j << 3));
    if (u < 0) return j;
  }
  return best;
}
