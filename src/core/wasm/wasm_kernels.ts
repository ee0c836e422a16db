/**
 * The WebAssembly SIMD kernels behind the `Kernels` interface: the module instance over a WasmArena (./memory.ts, the
 * memory and its allocator), and one thin wrapper per kernel, `wasmCalls`, that turns arrays and offsets into byte
 * addresses and calls the export.
 *
 * The wrappers take their parameter types from `KernelCalls` (the contract, declared once in ../kernels.ts), and the
 * exports' type is generated from the AssemblyScript source (./exports.generated.ts), so tsc checks every call
 * against both sides. They are installed on the class's prototype: a call is a plain method call, as fast as a
 * class method's (no closure or object per call).
 */
import type { KernelCalls, Kernels } from '../kernels.js';
import type { KernelExports } from './exports.generated.js';
import { WasmArena } from './memory.js';

// The wrappers below are installed on WasmKernels.prototype; this merged interface declares them on the class.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface WasmKernels extends KernelCalls {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class WasmKernels extends WasmArena implements Kernels {
  readonly name: string;
  /** The module's exports (internal to the wrappers). */
  readonly x: KernelExports;
  /** The GEMM packing scratch (held: the collector would give back a buffer nothing references), and its address. */
  private pack: Float32Array | null = null;
  private packAddress = 0;
  /** GEMM_PACK_FLOATS (a wasm global's getter is slow to read per call). */
  readonly packFloats: number;

  /**
   * @param init true for the first instance over a memory (sets up the header); false in worker threads.
   */
  constructor(
    readonly module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    readonly variant: 'simd' | 'relaxed',
    init: boolean,
  ) {
    super(memory, init);
    const instance = new WebAssembly.Instance(module, {
      env: {
        memory,
        abort: () => {
          throw new Error('recur wasm kernel aborted');
        },
      },
    });
    this.x = instance.exports as unknown as KernelExports;
    this.name = `wasm-${variant}`;
    this.packFloats = this.x.GEMM_PACK_FLOATS.value as number;
  }

  /** Byte address of this instance's GEMM packing scratch (GEMM_PACK_FLOATS floats, allocated on first use). */
  packScratch(): number {
    if (this.pack === null) {
      this.pack = this.allocPersistent(this.packFloats);
      this.packAddress = this.addressOf(this.pack);
    }
    return this.packAddress;
  }
}

/** One wrapper per kernel: beginScope, the export called with `this.ptr(array, written) + offset * 4`, endCall. */
const wasmCalls: KernelCalls & ThisType<WasmKernels> = {
  gemm(transA, transB, M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, accumulate) {
    const m = this.beginScope();
    // Scratch: the packed panels (one buffer per instance, reused); with a transposed B, room for Bᵀ (or Aᵀ).
    const extra = transB ? this.addressOf(this.allocUninitialized(Math.max(K * N, K * M))) : 0;
    this.x.gemm(
      +transA,
      +transB,
      M,
      N,
      K,
      this.ptr(A, false) + aOff * 4,
      lda,
      this.ptr(B, false) + bOff * 4,
      ldb,
      this.ptr(C, true) + cOff * 4,
      ldc,
      +accumulate,
      this.packScratch(),
      extra,
    );
    this.endCall(m);
  },

  addBias(x, off, M, N, ldx, bias, bOff) {
    const m = this.beginScope();
    this.x.addBias(this.ptr(x, true) + off * 4, M, N, ldx, this.ptr(bias, false) + bOff * 4);
    this.endCall(m);
  },

  sumRows(x, off, M, N, ldx, out, oOff) {
    const m = this.beginScope();
    this.x.sumRows(this.ptr(x, false) + off * 4, M, N, ldx, this.ptr(out, true) + oOff * 4);
    this.endCall(m);
  },

  activate(act, x, off, M, N, ldx) {
    const m = this.beginScope();
    this.x.activate(act, this.ptr(x, true) + off * 4, M, N, ldx);
    this.endCall(m);
  },

  activateBackward(act, y, yOff, dy, dyOff, M, N, ld) {
    const m = this.beginScope();
    this.x.activateBackward(act, this.ptr(y, false) + yOff * 4, this.ptr(dy, true) + dyOff * 4, M, N, ld);
    this.endCall(m);
  },

  activateBackwardFromInput(act, x, xOff, dy, dyOff, M, N, ld) {
    const m = this.beginScope();
    this.x.activateBackwardFromInput(
      act,
      this.ptr(x, false) + xOff * 4,
      this.ptr(dy, true) + dyOff * 4,
      M,
      N,
      ld,
    );
    this.endCall(m);
  },

  gatherRows(idx, R, W, N, out, scale, accumulate) {
    const m = this.beginScope();
    this.x.gatherRows(
      this.ptr(idx, false),
      R,
      this.ptr(W, false),
      N,
      this.ptr(out, true),
      scale ? this.ptr(scale, false) : 0,
      +accumulate,
    );
    this.endCall(m);
  },

  scatterAddRows(idx, R, dOut, N, dW, scale) {
    const m = this.beginScope();
    this.x.scatterAddRows(
      this.ptr(idx, false),
      R,
      this.ptr(dOut, false),
      N,
      this.ptr(dW, true),
      scale ? this.ptr(scale, false) : 0,
    );
    this.endCall(m);
  },

  lstmCellForward(N, H, gates, gOff, cPrev, cpOff, c, cOff, h, hOff, act, recAct) {
    const m = this.beginScope();
    this.x.lstmCellForward(
      N,
      H,
      this.ptr(gates, true) + gOff * 4,
      this.ptr(cPrev, false) + cpOff * 4,
      this.ptr(c, true) + cOff * 4,
      this.ptr(h, true) + hOff * 4,
      act,
      recAct,
    );
    this.endCall(m);
  },

  lstmCellBackward(N, H, gates, gOff, cPrev, cpOff, c, cOff, dh, dc, dGates, dgOff, act, recAct) {
    const m = this.beginScope();
    this.x.lstmCellBackward(
      N,
      H,
      this.ptr(gates, false) + gOff * 4,
      this.ptr(cPrev, false) + cpOff * 4,
      this.ptr(c, false) + cOff * 4,
      this.ptr(dh, false),
      this.ptr(dc, true),
      this.ptr(dGates, true) + dgOff * 4,
      act,
      recAct,
    );
    this.endCall(m);
  },

  gruCellForward(N, H, xp, xpOff, rp, rpOff, hPrev, hpOff, h, hOff, act, recAct) {
    const m = this.beginScope();
    this.x.gruCellForward(
      N,
      H,
      this.ptr(xp, true) + xpOff * 4,
      this.ptr(rp, false) + rpOff * 4,
      this.ptr(hPrev, false) + hpOff * 4,
      this.ptr(h, true) + hOff * 4,
      act,
      recAct,
    );
    this.endCall(m);
  },

  gruCellBackward(
    N,
    H,
    gates,
    gOff,
    rp,
    rpOff,
    hPrev,
    hpOff,
    dh,
    dxp,
    dxpOff,
    drp,
    drpOff,
    dhPrev,
    act,
    recAct,
  ) {
    const m = this.beginScope();
    this.x.gruCellBackward(
      N,
      H,
      this.ptr(gates, false) + gOff * 4,
      this.ptr(rp, false) + rpOff * 4,
      this.ptr(hPrev, false) + hpOff * 4,
      this.ptr(dh, false),
      this.ptr(dxp, true) + dxpOff * 4,
      this.ptr(drp, true) + drpOff * 4,
      this.ptr(dhPrev, true),
      act,
      recAct,
    );
    this.endCall(m);
  },

  rmspropUpdate(n, w, g, v, m, mg, lr, rho, eps, momentum, epsOutside) {
    const k = this.beginScope();
    this.x.rmspropUpdate(
      n,
      this.ptr(w, true),
      this.ptr(g, false),
      this.ptr(v, true),
      m ? this.ptr(m, true) : 0,
      mg ? this.ptr(mg, true) : 0,
      lr,
      rho,
      eps,
      momentum,
      +epsOutside,
    );
    this.endCall(k);
  },

  sgdUpdate(n, w, g, m, lr, momentum, nesterov) {
    const k = this.beginScope();
    this.x.sgdUpdate(
      n,
      this.ptr(w, true),
      this.ptr(g, false),
      m ? this.ptr(m, true) : 0,
      lr,
      momentum,
      +nesterov,
    );
    this.endCall(k);
  },

  adagradUpdate(n, w, g, a, lr, eps) {
    const k = this.beginScope();
    this.x.adagradUpdate(n, this.ptr(w, true), this.ptr(g, false), this.ptr(a, true), lr, eps);
    this.endCall(k);
  },

  adamUpdate(n, w, g, m, v, alpha, beta1, beta2, eps) {
    const k = this.beginScope();
    this.x.adamUpdate(
      n,
      this.ptr(w, true),
      this.ptr(g, false),
      this.ptr(m, true),
      this.ptr(v, true),
      alpha,
      beta1,
      beta2,
      eps,
    );
    this.endCall(k);
  },

  kerasRelu(x, off, n, negativeSlope, threshold, maxValue) {
    const m = this.beginScope();
    this.x.kerasRelu(this.ptr(x, true) + off * 4, n, negativeSlope, threshold, maxValue);
    this.endCall(m);
  },

  kerasReluBackward(x, xOff, dy, dyOff, n, negativeSlope, threshold, maxValue) {
    const m = this.beginScope();
    this.x.kerasReluBackward(
      this.ptr(x, false) + xOff * 4,
      this.ptr(dy, true) + dyOff * 4,
      n,
      negativeSlope,
      threshold,
      maxValue,
    );
    this.endCall(m);
  },

  mulInPlace(x, xOff, mask, mOff, n) {
    const m = this.beginScope();
    this.x.mulInPlace(this.ptr(x, true) + xOff * 4, this.ptr(mask, false) + mOff * 4, n);
    this.endCall(m);
  },

  addInPlace(x, xOff, y, yOff, n) {
    const m = this.beginScope();
    this.x.addInPlace(this.ptr(x, true) + xOff * 4, this.ptr(y, false) + yOff * 4, n);
    this.endCall(m);
  },

  sumOfSquares(x, xOff, n, from) {
    const m = this.beginScope();
    const r = this.x.sumOfSquares(this.ptr(x, false) + xOff * 4, n, from);
    this.endCall(m);
    return r;
  },

  gruResetGate(N, H, xp, xpOff, hm, hmOff, rh, rhOff, recAct) {
    const m = this.beginScope();
    this.x.gruResetGate(
      N,
      H,
      this.ptr(xp, true) + xpOff * 4,
      this.ptr(hm, false) + hmOff * 4,
      this.ptr(rh, true) + rhOff * 4,
      recAct,
    );
    this.endCall(m);
  },

  gruResetOutput(N, H, xp, xpOff, hPrev, hpOff, h, hOff, act) {
    const m = this.beginScope();
    this.x.gruResetOutput(
      N,
      H,
      this.ptr(xp, true) + xpOff * 4,
      this.ptr(hPrev, false) + hpOff * 4,
      this.ptr(h, true) + hOff * 4,
      act,
    );
    this.endCall(m);
  },

  gruResetOutputBackward(N, H, gates, gOff, hPrev, hpOff, dh, dxp, dxpOff, dhPrev, act, recAct) {
    const m = this.beginScope();
    this.x.gruResetOutputBackward(
      N,
      H,
      this.ptr(gates, false) + gOff * 4,
      this.ptr(hPrev, false) + hpOff * 4,
      this.ptr(dh, false),
      this.ptr(dxp, true) + dxpOff * 4,
      this.ptr(dhPrev, true),
      act,
      recAct,
    );
    this.endCall(m);
  },

  gruResetGateBackward(N, H, gates, gOff, hm, hmOff, drh, dxp, dxpOff, dhm, recAct) {
    const m = this.beginScope();
    this.x.gruResetGateBackward(
      N,
      H,
      this.ptr(gates, false) + gOff * 4,
      this.ptr(hm, false) + hmOff * 4,
      this.ptr(drh, false),
      this.ptr(dxp, true) + dxpOff * 4,
      this.ptr(dhm, true),
      recAct,
    );
    this.endCall(m);
  },

  packGemmB(K, N, B, bOff, ldb, out, outOff) {
    const m = this.beginScope();
    this.x.packGemmB(K, N, this.ptr(B, false) + bOff * 4, ldb, this.ptr(out, true) + outOff * 4);
    this.endCall(m);
  },

  gemmPackedB(transA, M, N, K, A, aOff, lda, B, bOff, ldb, packed, pOff, C, cOff, ldc, accumulate) {
    const m = this.beginScope();
    this.x.gemmPackedB(
      +transA,
      M,
      N,
      K,
      this.ptr(A, false) + aOff * 4,
      lda,
      this.ptr(B, false) + bOff * 4,
      ldb,
      this.ptr(packed, false) + pOff * 4,
      this.ptr(C, true) + cOff * 4,
      ldc,
      +accumulate,
      this.packScratch(),
    );
    this.endCall(m);
  },

  packGemvPanels(K, N, B, bOff, ldb, out, outOff) {
    const m = this.beginScope();
    this.x.packGemvPanels(K, N, this.ptr(B, false) + bOff * 4, ldb, this.ptr(out, true) + outOff * 4);
    this.endCall(m);
  },

  gemvPacked(M, N, K, A, aOff, lda, packed, pOff, C, cOff, ldc, accumulate) {
    const m = this.beginScope();
    this.x.gemvPacked(
      M,
      N,
      K,
      this.ptr(A, false) + aOff * 4,
      lda,
      this.ptr(packed, false) + pOff * 4,
      this.ptr(C, true) + cOff * 4,
      ldc,
      +accumulate,
      this.packScratch(),
    );
    this.endCall(m);
  },

  transpose(R, C, src, sOff, dst, dOff) {
    const m = this.beginScope();
    this.x.transpose(R, C, this.ptr(src, false) + sOff * 4, this.ptr(dst, true) + dOff * 4);
    this.endCall(m);
  },

  softmaxCrossEntropy(logits, R, V, labels, targets, grad, gradScale) {
    const m = this.beginScope();
    const r = this.x.softmaxCrossEntropy(
      this.ptr(logits, false),
      R,
      V,
      labels ? this.ptr(labels, false) : 0,
      targets ? this.ptr(targets, false) : 0,
      grad ? this.ptr(grad, true) : 0,
      gradScale,
    );
    this.endCall(m);
    return r;
  },

  sumExp(n, x, off, shift) {
    const m = this.beginScope();
    const r = this.x.sumExp(n, this.ptr(x, false) + off * 4, shift);
    this.endCall(m);
    return r;
  },

  sampleLogits(n, x, off, t, r) {
    const m = this.beginScope();
    // The weights' n doubles: in the GEMM packing scratch (free between calls) when they fit.
    const w = 2 * n <= this.packFloats ? this.packScratch() : this.addressOf(this.allocUninitialized(2 * n));
    const j = this.x.sampleLogits(n, this.ptr(x, false) + off * 4, t, r, w);
    this.endCall(m);
    return j;
  },
};

// Once, at module load: the wrappers become methods of the prototype, called like class methods.
Object.assign(WasmKernels.prototype, wasmCalls);
