/**
 * The kernel interface: every FLOP a layer, loss or optimizer spends goes through one of these calls, so a faster
 * implementation (WebAssembly SIMD) can replace the plain TypeScript reference kernels, which stay as the test
 * oracle. Matrices are row-major with explicit row strides (lda, ldb, ldc) and offsets, BLAS style, so callers can
 * address a timestep or a gate block of a larger buffer without copying.
 *
 * Shapes: N batch, T time, D input features, H hidden units, V classes.
 *
 * Each kernel's contract is declared once, here (`KernelCalls`); the implementations take their parameter types from
 * it, and constants both TypeScript and AssemblyScript need live in one table, ./kernel_constants.ts.
 *
 * Adding a kernel:
 *   1. Contract: its signature and doc comment (shapes, strides, what it overwrites) in `KernelCalls` below.
 *   2. Reference: the plain loop in ./reference_kernels.ts, written for clarity — it is the oracle.
 *   3. Kernel: an exported function in assembly/kernels.ts (arrays as usize byte addresses, flags as bool); a constant
 *      TypeScript needs too goes in ./kernel_constants.ts, which the AssemblyScript imports. The build generates the
 *      export's TypeScript type (./wasm/exports.generated.ts), so the wrapper is checked against it.
 *   4. Wrapper: an entry of `wasmCalls` in ./wasm/wasm_kernels.ts, in the pattern of its neighbours — beginScope, the
 *      export called with `this.ptr(array, written) + offset * 4` per array, endCall.
 *   5. Test: the wasm kernel against the reference in test/kernels.test.ts, on awkward sizes and on arrays inside and
 *      outside wasm memory; that suite fails while a kernel of the interface is never compared.
 */

import { Act, GEMM_PANEL, GEMV_PANEL } from './kernel_constants.js';

export { Act, GEMM_PANEL, GEMV_PANEL } from './kernel_constants.js';

/**
 * Whether f′ is not a function of f's output (gelu, swish, mish, hard_silu are not monotonic; tanh_shrink has no
 * closed-form inverse), so a backward pass needs the pre-activations (activateBackwardFromInput); the recurrent
 * cells, which keep only outputs, refuse these.
 */
export function derivativeNeedsInput(act: Act): boolean {
  return (
    act === Act.Gelu ||
    act === Act.GeluTanh ||
    act === Act.Swish ||
    act === Act.Mish ||
    act === Act.HardSilu ||
    act === Act.TanhShrink
  );
}

/** Floats packGemmB writes for a K×N matrix (its 8-column panels; the last N % 8 columns stay in B). */
export function gemmPackedBLength(K: number, N: number): number {
  return K * (N - (N % GEMM_PANEL));
}

/** Floats packGemvPanels writes for a K×N matrix. */
export function gemvPanelsLength(K: number, N: number): number {
  return Math.ceil(N / GEMV_PANEL) * GEMV_PANEL * K;
}

/** Where tensors live: buffers and allocation scopes. */
export interface KernelMemory {
  /**
   * A zeroed float buffer where this implementation computes fastest (wasm memory for the wasm kernels). Inside a
   * scope (beginScope … endScope) it is released when the scope ends; outside any scope it lives until collected.
   */
  alloc(n: number): Float32Array;
  /**
   * Like alloc, but the contents are unspecified (stale data from an earlier scope in wasm memory): for buffers a
   * kernel overwrites completely. Zeroing the per-step caches of a recurrent layer costs ≈ 5 % of a training step.
   */
  allocUninitialized(n: number): Float32Array;
  allocInt32(n: number): Int32Array;
  /** A zeroed buffer that outlives any open scope (weights, optimizer slots, carried states). */
  allocPersistent(n: number): Float32Array;
  /** Opens an allocation scope; returns a mark for endScope. Scopes nest. */
  beginScope(): number;
  /** Releases everything allocated since the matching beginScope, which must be the innermost open scope. */
  endScope(mark: number): void;
  /**
   * Runs `make` with the long-lived buffers it allocates (allocPersistent, and alloc/allocInt32 outside any scope)
   * held by `owner` as well: `release(owner)` then gives them back at once. Without it they return only when the
   * garbage collector finds them unreferenced, which a process whose JavaScript heap barely grows (a server decoding
   * request after request) may not do before the kernel memory runs out.
   */
  ownedBy<T>(owner: MemoryOwner, make: () => T): T;
  /** Gives back every buffer `owner` holds, for reuse; nothing may read or write them after. */
  release(owner: MemoryOwner): void;
}

/** The long-lived kernel buffers made under `KernelMemory.ownedBy`, given back together by `release`. */
export class MemoryOwner {
  readonly held: (Float32Array | Int32Array)[] = [];
}

/** The kernels proper: each call's contract, declared once for every implementation. */
export interface KernelCalls {
  /** C[M,N] = op(A)[M,K] · op(B)[K,N] (+ C when accumulate). op(X) = Xᵀ when trans. */
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: Float32Array,
    aOff: number,
    lda: number,
    B: Float32Array,
    bOff: number,
    ldb: number,
    C: Float32Array,
    cOff: number,
    ldc: number,
    accumulate: boolean,
  ): void;

  /** x[M,N] (row stride ldx, from off) += bias[N]. */
  addBias(
    x: Float32Array,
    off: number,
    M: number,
    N: number,
    ldx: number,
    bias: Float32Array,
    bOff: number,
  ): void;

  /** out[N] += Σ_rows x[M,N] (row stride ldx). The bias gradient. */
  sumRows(
    x: Float32Array,
    off: number,
    M: number,
    N: number,
    ldx: number,
    out: Float32Array,
    oOff: number,
  ): void;

  /** In place y = f(x) on an M×N block; Softmax works per row. */
  activate(act: Act, x: Float32Array, off: number, M: number, N: number, ldx: number): void;

  /**
   * In place dy ← dy ⊙ f′ on an M×N block, with f′ computed from the outputs y (softmax, log-softmax: the row
   * Jacobian). Only for activations whose derivative follows from the output (not derivativeNeedsInput).
   */
  activateBackward(
    act: Act,
    y: Float32Array,
    yOff: number,
    dy: Float32Array,
    dyOff: number,
    M: number,
    N: number,
    ld: number,
  ): void;

  /**
   * In place dy ← dy ⊙ f′(x) on an M×N block, with f′ computed from the pre-activations x: any elementwise activation
   * (not Softmax or LogSoftmax), and the only way for those whose derivative the output does not give
   * (derivativeNeedsInput).
   */
  activateBackwardFromInput(
    act: Act,
    x: Float32Array,
    xOff: number,
    dy: Float32Array,
    dyOff: number,
    M: number,
    N: number,
    ld: number,
  ): void;

  /**
   * out[r] = scale(r) · W[idx[r]] (+ out[r] when accumulate), rows of width N: the one-hot × W product as a gather.
   * `scale` is an optional per-row factor array (dropout of one-hot inputs); rows with idx < 0 are zero.
   */
  gatherRows(
    idx: Int32Array,
    R: number,
    W: Float32Array,
    N: number,
    out: Float32Array,
    scale: Float32Array | null,
    accumulate: boolean,
  ): void;

  /** dW[idx[r]] += scale(r) · dOut[r] — the transpose of gatherRows. */
  scatterAddRows(
    idx: Int32Array,
    R: number,
    dOut: Float32Array,
    N: number,
    dW: Float32Array,
    scale: Float32Array | null,
  ): void;

  /**
   * LSTM pointwise step. gates[N,4H] holds pre-activations (i, f, g, o, Keras order) and becomes the activated gates.
   * c = f⊙cPrev + i⊙g, h = o⊙act(c).
   */
  lstmCellForward(
    N: number,
    H: number,
    gates: Float32Array,
    gOff: number,
    cPrev: Float32Array,
    cpOff: number,
    c: Float32Array,
    cOff: number,
    h: Float32Array,
    hOff: number,
    act: Act,
    recAct: Act,
  ): void;

  /**
   * LSTM pointwise backward. dh[N,H] is ∂L/∂h; dc[N,H] holds ∂L/∂c from step t+1 on entry and ∂L/∂cPrev on exit.
   * Writes ∂L/∂(pre-activation gates) into dGates[N,4H].
   */
  lstmCellBackward(
    N: number,
    H: number,
    gates: Float32Array,
    gOff: number,
    cPrev: Float32Array,
    cpOff: number,
    c: Float32Array,
    cOff: number,
    dh: Float32Array,
    dc: Float32Array,
    dGates: Float32Array,
    dgOff: number,
    act: Act,
    recAct: Act,
  ): void;

  /**
   * GRU (resetAfter) pointwise step. xp[N,3H] holds x·W + b_in and becomes the gates (z, r, ĥ); rp[N,3H] holds
   * h_{t−1}·U + b_rec. z = σ(xp_z + rp_z), r = σ(xp_r + rp_r), ĥ = act(xp_h + r⊙rp_h), h = z⊙hPrev + (1−z)⊙ĥ.
   */
  gruCellForward(
    N: number,
    H: number,
    xp: Float32Array,
    xpOff: number,
    rp: Float32Array,
    rpOff: number,
    hPrev: Float32Array,
    hpOff: number,
    h: Float32Array,
    hOff: number,
    act: Act,
    recAct: Act,
  ): void;

  /**
   * GRU (resetAfter) pointwise backward. From the gates, rp, hPrev and dh[N,H]: ∂ of the input pre-activations into
   * dxp[N,3H], of the recurrent pre-activations into drp[N,3H], and dh⊙z (the direct path to h_{t−1}) into dhPrev[N,H].
   */
  gruCellBackward(
    N: number,
    H: number,
    gates: Float32Array,
    gOff: number,
    rp: Float32Array,
    rpOff: number,
    hPrev: Float32Array,
    hpOff: number,
    dh: Float32Array,
    dxp: Float32Array,
    dxpOff: number,
    drp: Float32Array,
    drpOff: number,
    dhPrev: Float32Array,
    act: Act,
    recAct: Act,
  ): void;

  /**
   * GRU without resetAfter (reset before the recurrent product), first pointwise part of a step: the z and r columns
   * of xp[N,3H] (row stride 3H) become σ(·); rh[N,H] = r ⊙ hm, the input of the second recurrent product.
   */
  gruResetGate(
    N: number,
    H: number,
    xp: Float32Array,
    xpOff: number,
    hm: Float32Array,
    hmOff: number,
    rh: Float32Array,
    rhOff: number,
    recAct: Act,
  ): void;

  /** Second part: the ĥ columns of xp become act(·), and h = z ⊙ hPrev + (1 − z) ⊙ ĥ. */
  gruResetOutput(
    N: number,
    H: number,
    xp: Float32Array,
    xpOff: number,
    hPrev: Float32Array,
    hpOff: number,
    h: Float32Array,
    hOff: number,
    act: Act,
  ): void;

  /**
   * Backward of gruResetOutput: from the gates and dh[N,H], ∂z and ∂ĥ pre-activations into dxp (z and ĥ columns),
   * and dh ⊙ z (the direct path to h_{t−1}) into dhPrev[N,H].
   */
  gruResetOutputBackward(
    N: number,
    H: number,
    gates: Float32Array,
    gOff: number,
    hPrev: Float32Array,
    hpOff: number,
    dh: Float32Array,
    dxp: Float32Array,
    dxpOff: number,
    dhPrev: Float32Array,
    act: Act,
    recAct: Act,
  ): void;

  /** Backward of gruResetGate: from drh[N,H] = ∂(r ⊙ hm), ∂r pre-activations into dxp (r columns), drh ⊙ r into dhm. */
  gruResetGateBackward(
    N: number,
    H: number,
    gates: Float32Array,
    gOff: number,
    hm: Float32Array,
    hmOff: number,
    drh: Float32Array,
    dxp: Float32Array,
    dxpOff: number,
    dhm: Float32Array,
    recAct: Act,
  ): void;

  /**
   * RMSprop (Keras 3): v ← ρv + (1−ρ)g²; Δ = lr·g/√(v+ε) — or lr·g/(√v+ε) when epsOutside (Keras 2, PyTorch);
   * centered (mg given): mg ← ρ·mg + (1−ρ)g and v − mg² replaces v; with momentum m ← μm + Δ, w ← w − m, else
   * w ← w − Δ.
   */
  rmspropUpdate(
    n: number,
    w: Float32Array,
    g: Float32Array,
    v: Float32Array,
    m: Float32Array | null,
    mg: Float32Array | null,
    lr: number,
    rho: number,
    eps: number,
    momentum: number,
    epsOutside: boolean,
  ): void;

  /** SGD (Keras 3): w ← w − lr·g; with momentum m ← μm − lr·g, w ← w + m (Nesterov: w ← w + μm − lr·g). */
  sgdUpdate(
    n: number,
    w: Float32Array,
    g: Float32Array,
    m: Float32Array | null,
    lr: number,
    momentum: number,
    nesterov: boolean,
  ): void;

  /** Adagrad (Keras 3): a ← a + g²; w ← w − lr·g/√(a + ε). */
  adagradUpdate(n: number, w: Float32Array, g: Float32Array, a: Float32Array, lr: number, eps: number): void;

  /** Adam (Keras 3): m ← m + (g − m)(1 − β₁); v ← v + (g² − v)(1 − β₂); w ← w − α·m/(√v + ε). */
  adamUpdate(
    n: number,
    w: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    alpha: number,
    beta1: number,
    beta2: number,
    eps: number,
  ): void;

  /**
   * Keras's relu with options, in place on n floats (the ReLU, LeakyReLU and ThresholdedReLU layers; ELU's slope):
   * p = threshold ≠ 0 ? (x > threshold ? x : 0) : max(x, 0), clipped to [0, maxValue] when maxValue is finite, then
   * y = p − negativeSlope · max(threshold − x, 0) — keras.activations.relu's steps, in float32.
   */
  kerasRelu(
    x: Float32Array,
    off: number,
    n: number,
    negativeSlope: number,
    threshold: number,
    maxValue: number,
  ): void;

  /** In place dy ← dy ⊙ f′(x) of kerasRelu with the same options, from its inputs x. */
  kerasReluBackward(
    x: Float32Array,
    xOff: number,
    dy: Float32Array,
    dyOff: number,
    n: number,
    negativeSlope: number,
    threshold: number,
    maxValue: number,
  ): void;

  /** Elementwise x[i] *= m[i] for i < n. */
  mulInPlace(x: Float32Array, xOff: number, m: Float32Array, mOff: number, n: number): void;

  /** Elementwise x[i] += y[i] for i < n. */
  addInPlace(x: Float32Array, xOff: number, y: Float32Array, yOff: number, n: number): void;

  /**
   * from + Σ x[xOff + i]² for i < n, in double precision, added one element at a time in index order: the same number,
   * bit for bit, on every kernel set (a gradient-norm clipping scale must not depend on the kernels). A kernel may skip
   * zeros (adding +0 leaves a sum unchanged), which is most of an embedding's gradient.
   */
  sumOfSquares(x: Float32Array, xOff: number, n: number, from: number): number;

  /**
   * Lays out B[K, N] (row stride ldb) as the GEMM's packed path reads it — gemmPackedBLength(K, N) floats — for a B
   * multiplied many times unchanged (a recurrent kernel U, once per timestep).
   */
  packGemmB(
    K: number,
    N: number,
    B: Float32Array,
    bOff: number,
    ldb: number,
    out: Float32Array,
    outOff: number,
  ): void;

  /** gemm with op(B) = B, whose layout packGemmB prepared in `packed` (B itself is passed too). Same results. */
  gemmPackedB(
    transA: boolean,
    M: number,
    N: number,
    K: number,
    A: Float32Array,
    aOff: number,
    lda: number,
    B: Float32Array,
    bOff: number,
    ldb: number,
    packed: Float32Array,
    pOff: number,
    C: Float32Array,
    cOff: number,
    ldc: number,
    accumulate: boolean,
  ): void;

  /**
   * Writes B[K, N] (row stride ldb) as ⌈N/GEMV_PANEL⌉ zero-padded panels of [K][GEMV_PANEL] — gemvPanelsLength(K, N)
   * floats — for gemvPacked. For weights a generation loop multiplies by every step.
   */
  packGemvPanels(
    K: number,
    N: number,
    B: Float32Array,
    bOff: number,
    ldb: number,
    out: Float32Array,
    outOff: number,
  ): void;

  /** For each of M (few) rows: C[i, :N] (+)= A[i, :K] · B, with B from packGemvPanels. */
  gemvPacked(
    M: number,
    N: number,
    K: number,
    A: Float32Array,
    aOff: number,
    lda: number,
    packed: Float32Array,
    pOff: number,
    C: Float32Array,
    cOff: number,
    ldc: number,
    accumulate: boolean,
  ): void;

  /** dst[c, r] = src[r, c] for a row-major R×C src (C×R dst, both dense). */
  transpose(R: number, C: number, src: Float32Array, sOff: number, dst: Float32Array, dOff: number): void;

  /**
   * Softmax cross-entropy on logits[R,V] against class indices (or dense targets[R,V]); returns the summed loss and,
   * when grad is given, writes (softmax − target) · gradScale into it. Computed in log space, stable for any logits.
   */
  softmaxCrossEntropy(
    logits: Float32Array,
    R: number,
    V: number,
    labels: Int32Array | null,
    targets: Float32Array | null,
    grad: Float32Array | null,
    gradScale: number,
  ): number;

  /**
   * Σ exp(x[off + i] − shift) over i < n, in float64: each difference in float64, each exponential fdlibm's (FreeBSD
   * e_exp.c, which is V8's Math.exp to the bit), summed in index order — the same number the plain JavaScript loop
   * gives, so decoding's log-softmax keeps its scores and choices to the bit whichever kernels run it.
   */
  sumExp(n: number, x: Float32Array, off: number, shift: number): number;

  /**
   * A sample from softmax(x[off … off+n) / t), sampling's float64 loop to the bit (src/text/sampling.ts): `best`, the
   * first maximum, when t is 0; otherwise w_j = exp((x_j − max) / t) in float64 (fdlibm's exp, as sumExp), z = Σ w_j
   * in index order, and u = r · z walked down the weights: the first j with u − w_0 − … − w_j < 0, or `best` if none.
   * `r` is the caller's uniform draw in [0, 1) (unused when t is 0).
   */
  sampleLogits(n: number, x: Float32Array, off: number, t: number, r: number): number;
}

/** A kernel implementation: its memory and its calls. */
export interface Kernels extends KernelMemory, KernelCalls {
  readonly name: string;
}
