/**
 * Every WebAssembly kernel against the reference kernels on random shapes, including awkward sizes (1, 3, 17, 129),
 * for both builds (plain SIMD and relaxed SIMD where this runtime validates it), on resident and staged arrays. The
 * last test of each build fails when a kernel of the interface was never called here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../src/node/wasm_flags.js';
import {
  Act,
  derivativeNeedsInput,
  gemmPackedBLength,
  gemvPanelsLength,
  MemoryOwner,
  type KernelCalls,
  type KernelMemory,
  type Kernels,
} from '../src/core/kernels.js';
import { Random } from '../src/core/random.js';
import { referenceKernels as ref } from '../src/core/reference_kernels.js';
import { kernelModule, createWasmKernels } from '../src/core/wasm/load.js';
import { assertClose } from './helpers.js';

const SIZES = [1, 3, 4, 8, 17, 33, 129];

/** The activations Keras 3 added beyond Keras 2's (elementwise but for LogSoftmax; celu is Elu). */
const KERAS3_ACTS = [
  Act.Elu,
  Act.Selu,
  Act.Softplus,
  Act.Softsign,
  Act.Relu6,
  Act.Exponential,
  Act.LeakyRelu,
  Act.LogSoftmax,
  Act.Gelu,
  Act.GeluTanh,
  Act.Swish,
  Act.Mish,
  Act.HardSilu,
  Act.HardTanh,
  Act.SparseSigmoid,
  Act.SoftShrink,
  Act.HardShrink,
  Act.LogSigmoid,
  Act.TanhShrink,
  Act.SparsePlus,
  Act.Squareplus,
];

/** |a − b| ≤ tol · max(1, |b|) elementwise (exp and softplus grow past where an absolute bound means anything). */
function assertRelClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) {
    if (Object.is(a[i], b[i])) continue;
    const d = Math.abs(a[i] - b[i]);
    assert.ok(d <= tol * Math.max(1, Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

function rand(k: Kernels, n: number, rng: Random, resident: boolean): Float32Array {
  const a = resident ? k.alloc(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

// The interface's memory methods, listed so that what remains of the reference kernels' keys is every kernel call
// (the Record type makes tsc fail when the list falls behind KernelMemory).
const memoryMethods: Record<keyof KernelMemory, true> = {
  alloc: true,
  allocUninitialized: true,
  allocInt32: true,
  allocPersistent: true,
  beginScope: true,
  endScope: true,
  ownedBy: true,
  release: true,
};
const kernelCalls = Object.keys(ref).filter(
  (name) => name !== 'name' && !(name in memoryMethods),
) as (keyof KernelCalls)[];

/** k, with each kernel call recorded in `called` (on the instance, so other tests' kernels are untouched). */
function recording(k: Kernels, called: Set<string>): Kernels {
  const methods = k as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of kernelCalls) {
    const f = methods[name];
    methods[name] = (...args: unknown[]) => {
      called.add(name);
      return f.apply(k, args);
    };
  }
  return k;
}

const variants: ('simd' | 'relaxed')[] = ['simd'];
if (kernelModule('relaxed')?.variant === 'relaxed') variants.push('relaxed');

for (const variant of variants) {
  describe(`wasm ${variant} kernels ≡ reference kernels`, () => {
    const called = new Set<string>();
    const k = recording(createWasmKernels(variant)!, called);
    it('loads the requested build', () => assert.equal(k.name, `wasm-${variant}`));

    it('gemm, all transposes, strides, offsets, accumulate', () => {
      const rng = new Random(1);
      for (const M of SIZES) {
        for (const N of [1, 3, 8, 17, 129]) {
          for (const K of [1, 3, 17, 129]) {
            for (const tA of [false, true]) {
              for (const tB of [false, true]) {
                const acc = rng.next() < 0.5;
                const lda = (tA ? M : K) + 2;
                const ldb = (tB ? K : N) + 1;
                const ldc = N + 3;
                const A = rand(k, (tA ? K : M) * lda + 5, rng, true);
                const B = rand(k, (tB ? N : K) * ldb + 7, rng, rng.next() < 0.8);
                const C1 = rand(k, M * ldc + 4, rng, true);
                const C2 = Float32Array.from(C1);
                k.gemm(tA, tB, M, N, K, A, 5, lda, B, 7, ldb, C1, 4, ldc, acc);
                ref.gemm(tA, tB, M, N, K, A, 5, lda, B, 7, ldb, C2, 4, ldc, acc);
                assertClose(
                  C1,
                  C2,
                  2e-5 * Math.sqrt(K),
                  `gemm ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}×${N}×${K}`,
                );
              }
            }
          }
        }
      }
    });

    it('gemm across the packing blocks (K past 256, M past 128, few rows with a transposed B)', () => {
      const rng = new Random(11);
      for (const [M, N, K] of [
        [130, 20, 300],
        [260, 16, 513],
        [15, 9, 257],
        [16, 33, 40],
        [133, 7, 5],
      ] as const) {
        for (const tA of [false, true]) {
          for (const tB of [false, true]) {
            const A = rand(k, M * K, rng, true);
            const B = rand(k, K * N, rng, true);
            const C1 = rand(k, M * N, rng, true);
            const C2 = Float32Array.from(C1);
            const acc = rng.next() < 0.5;
            k.gemm(tA, tB, M, N, K, A, 0, tA ? M : K, B, 0, tB ? K : N, C1, 0, N, acc);
            ref.gemm(tA, tB, M, N, K, A, 0, tA ? M : K, B, 0, tB ? K : N, C2, 0, N, acc);
            assertClose(
              C1,
              C2,
              2e-5 * Math.sqrt(K),
              `gemm ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}×${N}×${K}`,
            );
          }
        }
      }
    });

    it('GEMM with B prepacked once (recurrent kernels) ≡ gemm, across blocks and edges', () => {
      const rng = new Random(14);
      for (const [M, N, K] of [
        [128, 512, 128],
        [130, 20, 300],
        [3, 17, 33],
        [17, 8, 513],
        [5, 7, 4],
      ] as const) {
        for (const tA of [false, true]) {
          const ldb = N + 2;
          const B = rand(k, K * ldb + 1, rng, true);
          const packed = k.allocPersistent(gemmPackedBLength(K, N) + 3);
          k.packGemmB(K, N, B, 1, ldb, packed, 3);
          const A = rand(k, M * K, rng, true);
          const C1 = rand(k, M * N, rng, true);
          const C2 = Float32Array.from(C1);
          const acc = rng.next() < 0.5;
          k.gemmPackedB(tA, M, N, K, A, 0, tA ? M : K, B, 1, ldb, packed, 3, C1, 0, N, acc);
          ref.gemm(tA, false, M, N, K, A, 0, tA ? M : K, B, 1, ldb, C2, 0, N, acc);
          assertClose(C1, C2, 2e-5 * Math.sqrt(K), `gemmPackedB ${tA ? 'T' : 'N'}N ${M}×${N}×${K}`);
        }
      }
    });

    it('packed GEMV panels (generation) ≡ gemm, full and partial panels', () => {
      const rng = new Random(13);
      for (const M of [1, 2, 3]) {
        for (const N of [1, 5, 24, 25, 47, 62, 129]) {
          for (const K of [1, 3, 17, 128]) {
            const ldb = N + 3;
            const B = rand(k, K * ldb + 2, rng, rng.next() < 0.7);
            const p1 = rand(k, gemvPanelsLength(K, N) + 1, rng, true);
            const p2 = Float32Array.from(p1);
            k.packGemvPanels(K, N, B, 2, ldb, p1, 1);
            ref.packGemvPanels(K, N, B, 2, ldb, p2, 1);
            assertClose(p1, p2, 0, `packGemvPanels ${K}×${N}`);
            const A = rand(k, M * (K + 1), rng, true);
            const C1 = rand(k, M * (N + 2), rng, true);
            const C2 = Float32Array.from(C1);
            const C3 = Float32Array.from(C1);
            const acc = rng.next() < 0.5;
            k.gemvPacked(M, N, K, A, 0, K + 1, p1, 1, C1, 0, N + 2, acc);
            ref.gemvPacked(M, N, K, A, 0, K + 1, p2, 1, C2, 0, N + 2, acc);
            ref.gemm(false, false, M, N, K, A, 0, K + 1, B, 2, ldb, C3, 0, N + 2, acc);
            assertClose(C1, C2, 2e-5 * Math.sqrt(K), `gemvPacked ${M}×${N}×${K}`);
            assertClose(C2, C3, 1e-5 * Math.sqrt(K), `reference gemvPacked ≡ gemm ${M}×${N}×${K}`);
          }
        }
      }
    });

    it('transpose and addInPlace', () => {
      const rng = new Random(12);
      for (const R of SIZES) {
        for (const C of [1, 3, 4, 17, 129]) {
          const src = rand(k, R * C + 3, rng, rng.next() < 0.7);
          const d1 = rand(k, R * C + 2, rng, true);
          const d2 = Float32Array.from(d1);
          k.transpose(R, C, src, 3, d1, 2);
          ref.transpose(R, C, src, 3, d2, 2);
          assertClose(d1, d2, 0, `transpose ${R}×${C}`);
          const y = rand(k, R * C, rng, rng.next() < 0.5);
          k.addInPlace(d1, 2, y, 0, R * C);
          ref.addInPlace(d2, 2, y, 0, R * C);
          assertClose(d1, d2, 0, `addInPlace ${R * C}`);
        }
      }
    });

    it('sumOfSquares: bit for bit the reference, zero runs skipped or not', () => {
      const rng = new Random(13);
      for (const n of [...SIZES, 1000]) {
        for (const zeros of [0, 0.5, 0.97]) {
          const x = rand(k, n + 5, rng, rng.next() < 0.7);
          // Zero runs of every length and alignment, and -0, as an embedding's gradient has them.
          for (let i = 0; i < x.length; i++) if (rng.next() < zeros) x[i] = rng.next() < 0.1 ? -0 : 0;
          for (const off of [0, 1, 3]) {
            const from = off * 0.25;
            const got = k.sumOfSquares(x, off, n, from);
            assert.equal(
              got,
              ref.sumOfSquares(x, off, n, from),
              `sumOfSquares n=${n} zeros=${zeros} off=${off}`,
            );
          }
        }
      }
      const nan = Float32Array.of(0, 0, 0, 0, 0, NaN, 0, 0, 1);
      assert.ok(Number.isNaN(k.sumOfSquares(nan, 0, nan.length, 0)), 'a NaN reaches the sum');
    });

    it("Keras 3's activations at large |x|, 0, kinks and overflow: forward and both backwards", () => {
      const points = [
        -1e30, -200, -100, -88.8, -30, -10, -6, -3, -2.5, -1, -0.5, -1e-4, -1e-7, -0, 0, 1e-7, 1e-4, 0.5, 1,
        2.5, 3, 6, 6.5, 10, 30, 88, 88.5, 89, 100, 1e30,
      ];
      const n = points.length;
      for (const act of KERAS3_ACTS) {
        if (act === Act.LogSoftmax) continue;
        const x = Float32Array.from(points);
        const y1 = k.alloc(n);
        y1.set(x);
        const y2 = Float32Array.from(x);
        k.activate(act, y1, 0, 1, n, n);
        ref.activate(act, y2, 0, 1, n, n);
        assertRelClose(y1, y2, 2e-6, `activate ${act}`);
        const d1 = k.alloc(n).fill(1);
        const d2 = new Float32Array(n).fill(1);
        k.activateBackwardFromInput(act, x, 0, d1, 0, 1, n, n);
        ref.activateBackwardFromInput(act, x, 0, d2, 0, 1, n, n);
        assertRelClose(d1, d2, 2e-6, `activateBackwardFromInput ${act}`);
        if (derivativeNeedsInput(act)) continue;
        d1.fill(1);
        d2.fill(1);
        k.activateBackward(act, y2, 0, d1, 0, 1, n, n);
        ref.activateBackward(act, y2, 0, d2, 0, 1, n, n);
        assertRelClose(d1, d2, 2e-6, `activateBackward ${act}`);
      }
    });

    it('activations, backward, bias, row sums, masks', () => {
      const rng = new Random(2);
      for (const M of [1, 3, 17]) {
        for (const N of SIZES) {
          for (const act of [
            Act.Linear,
            Act.Relu,
            Act.Tanh,
            Act.Sigmoid,
            Act.HardSigmoid,
            Act.HardSigmoid6,
            Act.Softmax,
            ...KERAS3_ACTS,
          ]) {
            const x1 = rand(k, M * (N + 1), rng, true);
            for (let i = 0; i < x1.length; i++) x1[i] *= 6;
            const x0 = Float32Array.from(x1);
            const x2 = Float32Array.from(x1);
            k.activate(act, x1, 0, M, N, N + 1);
            ref.activate(act, x2, 0, M, N, N + 1);
            assertRelClose(x1, x2, 2e-6, `activate ${act}`);
            const d1 = rand(k, x1.length, rng, true);
            const d2 = Float32Array.from(d1);
            if (!derivativeNeedsInput(act)) {
              k.activateBackward(act, x2, 0, d1, 0, M, N, N + 1);
              ref.activateBackward(act, x2, 0, d2, 0, M, N, N + 1);
              assertRelClose(d1, d2, 1e-6, `activateBackward ${act}`);
            }
            if (act === Act.Softmax || act === Act.LogSoftmax) continue;
            k.activateBackwardFromInput(act, x0, 0, d1, 0, M, N, N + 1);
            ref.activateBackwardFromInput(act, x0, 0, d2, 0, M, N, N + 1);
            assertRelClose(d1, d2, 2e-6, `activateBackwardFromInput ${act}`);
          }
          const x1 = rand(k, M * N, rng, true);
          const x2 = Float32Array.from(x1);
          const b = rand(k, N, rng, false);
          k.addBias(x1, 0, M, N, N, b, 0);
          ref.addBias(x2, 0, M, N, N, b, 0);
          assertClose(x1, x2, 0, 'addBias');
          const s1 = rand(k, N, rng, true);
          const s2 = Float32Array.from(s1);
          k.sumRows(x1, 0, M, N, N, s1, 0);
          ref.sumRows(x2, 0, M, N, N, s2, 0);
          assertClose(s1, s2, 1e-5, 'sumRows');
          const m = rand(k, M * N, rng, true);
          k.mulInPlace(x1, 0, m, 0, M * N);
          ref.mulInPlace(x2, 0, m, 0, M * N);
          assertClose(x1, x2, 0, 'mulInPlace');
        }
      }
    });

    it("kerasRelu and its backward (Keras's relu with slope, threshold and clip), on offsets", () => {
      const rng = new Random(31);
      // [negativeSlope, threshold, maxValue]: ReLU, LeakyReLU, ThresholdedReLU, and every option at once.
      const options = [
        [0, 0, Infinity],
        [0.3, 0, Infinity],
        [0, 0.25, Infinity],
        [0.1, -0.2, 0.5],
        [0.2, 0.3, 0.6],
        [1, 0, 0],
      ];
      for (const n of SIZES) {
        for (const [slope, threshold, max] of options) {
          const x = rand(k, n + 3, rng, true);
          // Inputs exactly at the threshold and the clip: the kernels must agree on the corners too.
          x[3] = Math.fround(threshold);
          if (n > 1 && max !== Infinity) x[4] = Math.fround(max);
          const y1 = Float32Array.from(x);
          const y2 = Float32Array.from(x);
          k.kerasRelu(y1, 3, n, slope, threshold, max);
          ref.kerasRelu(y2, 3, n, slope, threshold, max);
          assertClose(y1, y2, 0, `kerasRelu ${slope} ${threshold} ${max}`);
          const d1 = rand(k, n + 2, rng, true);
          const d2 = Float32Array.from(d1);
          k.kerasReluBackward(x, 3, d1, 2, n, slope, threshold, max);
          ref.kerasReluBackward(x, 3, d2, 2, n, slope, threshold, max);
          assertClose(d1, d2, 0, `kerasReluBackward ${slope} ${threshold} ${max}`);
        }
      }
    });

    it('gather / scatter of rows (the one-hot products), with and without scale', () => {
      const rng = new Random(3);
      for (const N of SIZES) {
        const V = 11;
        const R = 17;
        const W = rand(k, V * N, rng, true);
        const idx = k.allocInt32(R);
        for (let r = 0; r < R; r++) idx[r] = r === 5 ? -1 : rng.int(V);
        const scale = rng.next() < 0.5 ? rand(k, R, rng, true) : null;
        const o1 = rand(k, R * N, rng, true);
        const o2 = Float32Array.from(o1);
        k.gatherRows(idx, R, W, N, o1, scale, true);
        ref.gatherRows(idx, R, W, N, o2, scale, true);
        assertClose(o1, o2, 1e-6, 'gatherRows');
        const w1 = rand(k, V * N, rng, true);
        const w2 = Float32Array.from(w1);
        k.scatterAddRows(idx, R, o1, N, w1, scale);
        ref.scatterAddRows(idx, R, o2, N, w2, scale);
        assertClose(w1, w2, 1e-5, 'scatterAddRows');
      }
    });

    it('LSTM cell forward and backward', () => {
      const rng = new Random(4);
      for (const N of [1, 3, 17]) {
        for (const H of SIZES) {
          for (const rec of [Act.Sigmoid, Act.HardSigmoid, Act.HardSigmoid6]) {
            const g1 = rand(k, N * 4 * H, rng, true).map((v) => v * 4);
            const g2 = Float32Array.from(g1);
            const cp = rand(k, N * H, rng, true);
            const c1 = k.alloc(N * H);
            const c2 = new Float32Array(N * H);
            const h1 = k.alloc(N * H);
            const h2 = new Float32Array(N * H);
            k.lstmCellForward(N, H, g1, 0, cp, 0, c1, 0, h1, 0, Act.Tanh, rec);
            ref.lstmCellForward(N, H, g2, 0, cp, 0, c2, 0, h2, 0, Act.Tanh, rec);
            assertClose(g1, g2, 2e-6, 'gates');
            assertClose(c1, c2, 2e-6, 'c');
            assertClose(h1, h2, 2e-6, 'h');
            const dh = rand(k, N * H, rng, true);
            const dc1 = rand(k, N * H, rng, true);
            const dc2 = Float32Array.from(dc1);
            const dg1 = k.alloc(N * 4 * H);
            const dg2 = new Float32Array(N * 4 * H);
            k.lstmCellBackward(N, H, g2, 0, cp, 0, c2, 0, dh, dc1, dg1, 0, Act.Tanh, rec);
            ref.lstmCellBackward(N, H, g2, 0, cp, 0, c2, 0, dh, dc2, dg2, 0, Act.Tanh, rec);
            assertClose(dg1, dg2, 2e-6, 'dGates');
            assertClose(dc1, dc2, 2e-6, 'dc');
          }
        }
      }
    });

    it('GRU (resetAfter) cell forward and backward', () => {
      const rng = new Random(6);
      for (const N of [1, 3, 17]) {
        for (const H of SIZES) {
          for (const rec of [Act.Sigmoid, Act.HardSigmoid, Act.HardSigmoid6]) {
            const x1 = rand(k, N * 3 * H, rng, true).map((v) => v * 3);
            const x2 = Float32Array.from(x1);
            const rp = rand(k, N * 3 * H, rng, true);
            const hp = rand(k, N * H, rng, true);
            const h1 = k.alloc(N * H);
            const h2 = new Float32Array(N * H);
            k.gruCellForward(N, H, x1, 0, rp, 0, hp, 0, h1, 0, Act.Tanh, rec);
            ref.gruCellForward(N, H, x2, 0, rp, 0, hp, 0, h2, 0, Act.Tanh, rec);
            assertClose(x1, x2, 2e-6, 'gates');
            assertClose(h1, h2, 2e-6, 'h');
            const dh = rand(k, N * H, rng, true);
            const [dx1, dr1, dp1] = [k.alloc(N * 3 * H), k.alloc(N * 3 * H), k.alloc(N * H)];
            const [dx2, dr2, dp2] = [
              new Float32Array(N * 3 * H),
              new Float32Array(N * 3 * H),
              new Float32Array(N * H),
            ];
            k.gruCellBackward(N, H, x2, 0, rp, 0, hp, 0, dh, dx1, 0, dr1, 0, dp1, Act.Tanh, rec);
            ref.gruCellBackward(N, H, x2, 0, rp, 0, hp, 0, dh, dx2, 0, dr2, 0, dp2, Act.Tanh, rec);
            assertClose(dx1, dx2, 2e-6, 'dxp');
            assertClose(dr1, dr2, 2e-6, 'drp');
            assertClose(dp1, dp2, 2e-6, 'dhPrev');
          }
        }
      }
    });

    it('GRU (reset before the product) pointwise parts, forward and backward', () => {
      const rng = new Random(15);
      for (const N of [1, 3, 17]) {
        for (const H of SIZES) {
          for (const [act, rec] of [
            [Act.Tanh, Act.Sigmoid],
            [Act.Relu, Act.HardSigmoid],
          ] as const) {
            const G = 3 * H;
            const x1 = rand(k, N * G, rng, true).map((v) => v * 3);
            const x2 = Float32Array.from(x1);
            const hm = rand(k, N * H, rng, true);
            const rh1 = k.alloc(N * H);
            const rh2 = new Float32Array(N * H);
            k.gruResetGate(N, H, x1, 0, hm, 0, rh1, 0, rec);
            ref.gruResetGate(N, H, x2, 0, hm, 0, rh2, 0, rec);
            assertClose(x1, x2, 2e-6, 'gruResetGate gates');
            assertClose(rh1, rh2, 2e-6, 'gruResetGate r⊙h');
            const hp = rand(k, N * H, rng, true);
            const h1 = k.alloc(N * H);
            const h2 = new Float32Array(N * H);
            k.gruResetOutput(N, H, x1, 0, hp, 0, h1, 0, act);
            ref.gruResetOutput(N, H, x2, 0, hp, 0, h2, 0, act);
            assertClose(x1, x2, 2e-6, 'gruResetOutput gates');
            assertClose(h1, h2, 2e-6, 'gruResetOutput h');
            const dh = rand(k, N * H, rng, true);
            const d1 = rand(k, N * G, rng, true);
            const d2 = Float32Array.from(d1);
            const p1 = k.alloc(N * H);
            const p2 = new Float32Array(N * H);
            k.gruResetOutputBackward(N, H, x2, 0, hp, 0, dh, d1, 0, p1, act, rec);
            ref.gruResetOutputBackward(N, H, x2, 0, hp, 0, dh, d2, 0, p2, act, rec);
            assertClose(d1, d2, 1e-6, 'gruResetOutputBackward dxp');
            assertClose(p1, p2, 1e-6, 'gruResetOutputBackward dhPrev');
            const drh = rand(k, N * H, rng, true);
            const m1 = k.alloc(N * H);
            const m2 = new Float32Array(N * H);
            k.gruResetGateBackward(N, H, x2, 0, hm, 0, drh, d1, 0, m1, rec);
            ref.gruResetGateBackward(N, H, x2, 0, hm, 0, drh, d2, 0, m2, rec);
            assertClose(d1, d2, 1e-6, 'gruResetGateBackward dxp');
            assertClose(m1, m2, 1e-6, 'gruResetGateBackward dhm');
          }
        }
      }
    });

    it('fused optimizer updates: RMSprop (momentum, ε placement, centered), SGD (momentum, Nesterov), Adagrad, Adam', () => {
      const rng = new Random(7);
      for (const n of [1, 3, 17, 129]) {
        for (const [momentum, epsOutside, centered] of [
          [0, false, false],
          [0.9, false, false],
          [0, true, false],
          [0.9, true, true],
          [0, false, true],
        ] as const) {
          const w1 = rand(k, n, rng, true);
          const g = rand(k, n, rng, true);
          // Some tiny second moments, where the placement of ε matters (not when centered: v − mg² must stay ≥ 0,
          // as it does in training).
          const v1 = rand(k, n, rng, true).map((x, i) =>
            i % 3 === 0 && !centered ? 1e-9 * Math.abs(x) : Math.abs(x) + 1,
          );
          const m1 = momentum ? rand(k, n, rng, true) : null;
          const mg1 = centered ? rand(k, n, rng, true).map((x) => x * 0.1) : null;
          const [w2, v2, m2, mg2] = [
            Float32Array.from(w1),
            Float32Array.from(v1),
            m1 ? Float32Array.from(m1) : null,
            mg1 ? Float32Array.from(mg1) : null,
          ];
          k.rmspropUpdate(n, w1, g, v1, m1, mg1, 0.01, 0.9, 1e-7, momentum, epsOutside);
          ref.rmspropUpdate(n, w2, g, v2, m2, mg2, 0.01, 0.9, 1e-7, momentum, epsOutside);
          const what = `rmsprop (μ ${momentum}, ε ${epsOutside ? 'outside' : 'inside'}, centered ${centered})`;
          assertClose(w1, w2, 1e-6, `${what} w`);
          assertClose(v1, v2, 1e-6, `${what} v`);
          if (m1) assertClose(m1, m2!, 1e-6, `${what} m`);
          if (mg1) assertClose(mg1, mg2!, 1e-6, `${what} mg`);
        }
        for (const [momentum, nesterov] of [
          [0, false],
          [0.9, false],
          [0.9, true],
        ] as const) {
          const w1 = rand(k, n, rng, true);
          const g = rand(k, n, rng, true);
          const m1 = momentum ? rand(k, n, rng, true) : null;
          const [w2, m2] = [Float32Array.from(w1), m1 ? Float32Array.from(m1) : null];
          k.sgdUpdate(n, w1, g, m1, 0.05, momentum, nesterov);
          ref.sgdUpdate(n, w2, g, m2, 0.05, momentum, nesterov);
          assertClose(w1, w2, 1e-6, `sgd w (μ ${momentum}, nesterov ${nesterov})`);
          if (m1) assertClose(m1, m2!, 1e-6, 'sgd m');
        }
        {
          const w1 = rand(k, n, rng, true);
          const g = rand(k, n, rng, true);
          const a1 = rand(k, n, rng, true).map(Math.abs);
          const [w2, a2] = [Float32Array.from(w1), Float32Array.from(a1)];
          k.adagradUpdate(n, w1, g, a1, 0.01, 1e-7);
          ref.adagradUpdate(n, w2, g, a2, 0.01, 1e-7);
          assertClose(w1, w2, 1e-6, 'adagrad w');
          assertClose(a1, a2, 1e-6, 'adagrad a');
        }
        const w1 = rand(k, n, rng, true);
        const g = rand(k, n, rng, true);
        const m1 = rand(k, n, rng, true);
        const v1 = rand(k, n, rng, true).map(Math.abs);
        const [w2, m2, v2] = [Float32Array.from(w1), Float32Array.from(m1), Float32Array.from(v1)];
        k.adamUpdate(n, w1, g, m1, v1, 0.003, 0.9, 0.999, 1e-7);
        ref.adamUpdate(n, w2, g, m2, v2, 0.003, 0.9, 0.999, 1e-7);
        assertClose(w1, w2, 1e-6, 'adam w');
        assertClose(m1, m2, 1e-6, 'adam m');
        assertClose(v1, v2, 1e-6, 'adam v');
      }
    });

    it('softmax cross-entropy, labels and dense targets', () => {
      const rng = new Random(5);
      for (const V of SIZES) {
        const R = 9;
        const logits = rand(k, R * V, rng, true).map((v) => v * 10);
        const labels = k.allocInt32(R);
        for (let r = 0; r < R; r++) labels[r] = rng.int(V);
        const dense = rand(k, R * V, rng, true).map(Math.abs);
        for (const [lab, tgt] of [
          [labels, null],
          [null, dense],
        ] as const) {
          const g1 = k.alloc(R * V);
          const g2 = new Float32Array(R * V);
          const l1 = k.softmaxCrossEntropy(logits, R, V, lab, tgt, g1, 0.5);
          const l2 = ref.softmaxCrossEntropy(logits, R, V, lab, tgt, g2, 0.5);
          assert.ok(Math.abs(l1 - l2) < 1e-4 * Math.max(1, Math.abs(l2)), `loss ${l1} vs ${l2}`);
          assertClose(g1, g2, 1e-6, 'grad');
        }
      }
      // A non-finite logit, in the vector body or the tail, makes the loss NaN (so training stops loudly).
      for (const bad of [NaN, Infinity])
        for (const at of [1, 6]) {
          const logits = k.alloc(7).fill(0.5);
          logits[at] = bad;
          const loss = k.softmaxCrossEntropy(logits, 1, 7, Int32Array.of(0), null, k.alloc(7), 1);
          assert.ok(Number.isNaN(loss), `logit ${bad} at ${at}: loss ${loss}`);
        }
    });

    it("sumExp: the JavaScript loop's number to the bit, on every branch of exp", () => {
      const rng = new Random(6);
      const same = (a: number, b: number, what: string): void =>
        assert.ok(Object.is(a, b), `${what}: ${a} vs ${b}`);
      // Rows of logits at several spreads, shifted by their max (decoding's case), by 0 and by their min (positive
      // arguments, overflow), inside kernel memory and outside it, at an offset.
      for (const n of [...SIZES, 6000])
        for (const spread of [0.01, 1, 30, 800])
          for (const resident of [true, false]) {
            const x = rand(k, n + 3, rng, resident).map((v) => v * spread);
            const row = x.subarray(3);
            for (const shift of [Math.max(...row), 0, Math.min(...row)])
              same(
                k.sumExp(n, x, 3, shift),
                ref.sumExp(n, x, 3, shift),
                `n ${n} spread ${spread} shift ${shift}`,
              );
          }
      // Each branch's edges, one argument at a time and in pairs (vector body) with a plain neighbour.
      const ln2 = Math.LN2;
      const edges = [
        0,
        -0,
        1,
        -1,
        2 ** -28,
        -(2 ** -29),
        0.5 * ln2,
        -0.5 * ln2,
        1.5 * ln2,
        -1.5 * ln2,
        1.04,
        -1.04,
        -707.9,
        -708,
        708,
        707.9,
        -708.5,
        -740,
        -745.1,
        -745.2,
        709.7,
        709.8,
        710,
        -1e5,
        1e5,
        NaN,
        Infinity,
        -Infinity,
        3e-320,
        -3.5,
        12.25,
      ];
      for (const e of edges) {
        const one = Float32Array.of(e);
        for (const shift of [0, 0.25, -0.25, 1e-9]) {
          same(k.sumExp(1, one, 0, shift), Math.exp(Math.fround(e) - shift), `exp(${e} - ${shift})`);
          for (const pair of [Float32Array.of(e, -2.5), Float32Array.of(-2.5, e), Float32Array.of(e, e)])
            same(
              k.sumExp(2, pair, 0, shift),
              ref.sumExp(2, pair, 0, shift),
              `pair [${pair.join(', ')}] - ${shift}`,
            );
        }
      }
      // The vector branch's bounds on |x| (1.5·ln2 as fdlibm tests it, and 708) and the doubles beside them, reached
      // exactly as 0 − shift.
      const beside = (b: number, d: number): number => {
        const v = new DataView(new ArrayBuffer(8));
        v.setFloat64(0, b);
        v.setBigUint64(0, v.getBigUint64(0) + BigInt(d));
        return v.getFloat64(0);
      };
      // fdlibm's branches on |x| (2⁻²⁸, 0.5·ln2 and 1.5·ln2 as it tests them, and the vector branch's 708), beside
      // each other and with a lane elsewhere.
      for (const bound of [2 ** -28, 0.3465735912322998, 1.0397205352783203, 708])
        for (const d of [-1, 0, 1])
          for (const sign of [1, -1]) {
            const at = sign * beside(bound, d);
            const zeros = new Float32Array(3);
            same(k.sumExp(1, zeros, 0, -at), Math.exp(at), `exp(${at})`);
            same(k.sumExp(3, zeros, 0, -at), ref.sumExp(3, zeros, 0, -at), `3 × exp(${at})`);
            for (const other of [0, 0.2, 0.5, 1, 3, -3, 800])
              for (const pair of [Float32Array.of(0, other), Float32Array.of(other, 0)])
                same(k.sumExp(2, pair, 0, -at), ref.sumExp(2, pair, 0, -at), `exp(${at}) beside ${other}`);
          }
    });

    it("sampleLogits: sampling's float64 loop to the bit, at every temperature and every draw", () => {
      const rng = new Random(7);
      // The plain loop's cumulative weights, to draw exactly at (and beside) each boundary between two indices: a
      // weight or sum off by one ulp moves a boundary, so the kernel would pick the neighbour there.
      const boundaries = (x: Float32Array, off: number, n: number, t: number): number[] => {
        let max = x[off];
        for (let j = 1; j < n; j++) if (x[off + j] > max) max = x[off + j];
        const w = Array.from({ length: n }, (_, j) => Math.exp((x[off + j] - max) / t));
        const z = w.reduce((a, b) => a + b, 0);
        const draws: number[] = [];
        let cum = 0;
        for (const v of w.slice(0, 40)) {
          cum += v;
          const r = cum / z;
          draws.push(r, r * (1 - 2 ** -52), Math.min(r * (1 + 2 ** -52), 1 - 2 ** -53));
        }
        return draws;
      };
      const check = (
        x: Float32Array,
        off: number,
        n: number,
        t: number,
        draws: number[],
        what: string,
      ): void => {
        for (const r of draws)
          assert.equal(
            k.sampleLogits(n, x, off, t, r),
            ref.sampleLogits(n, x, off, t, r),
            `${what}, t ${t}, r ${r}`,
          );
      };
      // Odd and even lengths (the vector body's tail), past the weights' room in the packing scratch (20,000), inside
      // kernel memory and outside it, at an offset; logits spread so that the exponentials' arguments reach each branch.
      for (const n of [...SIZES, 63, 20_000])
        for (const spread of [0.01, 1, 30, 800])
          for (const resident of [true, false]) {
            const x = rand(k, n + 3, rng, resident).map((v) => v * spread);
            for (const t of [0, 1e-3, 0.5, 1, 1.7, 40]) {
              const draws = [0, 0.5, 1 - 2 ** -53, ...Array.from({ length: 8 }, () => rng.next())];
              check(
                x,
                3,
                n,
                t,
                n <= 129 ? [...draws, ...boundaries(x, 3, n, t)] : draws,
                `n ${n} spread ${spread}`,
              );
            }
          }
      // Ties (the first maximum), non-finite logits, one logit.
      const odd = [
        [2, 2, 2, 2, 2],
        [Number.NaN, 1, 3],
        [1, Number.NaN, 3, 3],
        [-Infinity, 0, -Infinity, 1, -Infinity],
        [Infinity, 0, 1],
        [0, Infinity, Infinity],
        [-Infinity, -Infinity, -Infinity],
        [5],
      ];
      for (const row of odd)
        for (const t of [0, 0.5, 1])
          check(Float32Array.from(row), 0, row.length, t, [0, 0.25, 0.5, 0.999], `[${row.join(', ')}]`);
      // The float32 estimate answers where a draw is far enough from every boundary, the float64 loop elsewhere: draws
      // at relative distances around the estimate's margin (≈ 3e-4 of the weights' sum at n = 63) on both sides of each
      // boundary, many random ones, and temperatures at and beyond the estimate's range [1e-3, 1e3].
      const near = (x: Float32Array, n: number, t: number): number[] =>
        boundaries(x, 0, n, t)
          .filter((_, i) => i % 3 === 0)
          .flatMap((r) =>
            [1e-6, 1e-5, 1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 3e-3].flatMap((d) => [
              r * (1 - d),
              Math.min(r * (1 + d), 1 - 2 ** -53),
              Math.max(r - d, 0),
              Math.min(r + d, 1 - 2 ** -53),
            ]),
          );
      for (const n of [63, 64, 65, 200])
        for (const spread of [0.5, 3, 12])
          for (const t of [0.99e-3, 1e-3, 0.05, 0.2, 0.5, 1, 1.2, 7, 1e3, 1.01e3]) {
            const x = rand(k, n, rng, true).map((v) => v * spread);
            check(x, 0, n, t, [...near(x, n, t), ...Array.from({ length: 300 }, () => rng.next())], `n ${n}`);
          }
    });

    it('scoped allocations are reused; long-lived ones are not overwritten', () => {
      const keep = k.alloc(100).fill(7);
      const m1 = k.beginScope();
      const a = k.alloc(1000);
      k.endScope(m1);
      const m2 = k.beginScope();
      const b = k.alloc(1000);
      assert.equal(a.byteOffset, b.byteOffset);
      assert.ok(
        b.every((v) => v === 0),
        'scoped memory comes back zeroed',
      );
      k.endScope(m2);
      assert.ok(keep.every((v) => v === 7));
    });

    // Runs last: node:test runs a suite's tests in order.
    it('has compared every kernel of the interface with the reference', () => {
      assert.ok(kernelCalls.length >= 27, `only ${kernelCalls.length} kernel calls found`);
      const missing = kernelCalls.filter((name) => !called.has(name));
      assert.deepEqual(missing, [], `kernels never compared with the reference: ${missing.join(', ')}`);
    });
  });
}

describe('wasm kernel memory past 2 GiB', () => {
  // The allocator's bump pointer was an int32: an allocation past 2 GiB got a negative address and failed with a
  // bare RangeError, though the memory reserves 4 GiB and the CLI's memory estimate allows up to that.
  it('allocates and computes above the 2 GiB line, and refuses what passes 4 GiB with the sizes', () => {
    const k = createWasmKernels()!;
    // Uninitialised, so the pages below are reserved but never touched (nothing is committed).
    k.allocUninitialized((2 ** 31 + 2 ** 20) / 4);
    const x = k.allocPersistent(1000).fill(1.5);
    const y = k.allocPersistent(1000);
    y.forEach((_, i) => (y[i] = i));
    assert.ok(x.byteOffset > 2 ** 31 && y.byteOffset > x.byteOffset, `x at ${x.byteOffset}`);
    k.addInPlace(x, 0, y, 0, 1000);
    assert.equal(x[999], 1000.5);
    assert.equal(x[0], 1.5);
    const before = k.memoryBytes;
    assert.throws(
      () => k.allocUninitialized(2 ** 29),
      /cannot allocate 2048 MiB more: \d+ MiB are in use of the 4096 MiB/,
    );
    assert.equal(k.memoryBytes, before, 'a refused allocation leaves the pointer where it was');
  });
});

describe('kernel memory owned by its user', () => {
  it('release gives owned buffers back at once, for reuse; buffers made outside the owner stay', () => {
    const k = createWasmKernels()!;
    const owner = new MemoryOwner();
    const kept = k.allocPersistent(500).fill(3);
    const owned = k.ownedBy(owner, () => [k.allocPersistent(1000), k.allocInt32(64)]);
    const outside = k.allocPersistent(1000);
    assert.equal(owner.held.length, 2);
    const high = k.memoryBytes;
    k.release(owner);
    assert.equal(owner.held.length, 0);
    // Many owners later, the same two sizes come back from the free list: the pointer has not moved.
    for (let i = 0; i < 100; i++) {
      const o = new MemoryOwner();
      const [a] = k.ownedBy(o, () => [k.allocPersistent(1000).fill(9), k.allocInt32(64)]);
      assert.equal(a.byteOffset, owned[0].byteOffset);
      k.release(o);
    }
    assert.equal(k.memoryBytes, high);
    // Fresh buffers come zeroed even from reused memory, and what no owner held was not touched.
    assert.ok(k.ownedBy(new MemoryOwner(), () => k.allocPersistent(1000)).every((v) => v === 0));
    assert.ok(kept.every((v) => v === 3));
    assert.notEqual(outside.byteOffset, owned[0].byteOffset);
    // Scoped allocations inside an owner are the scope's, not the owner's.
    const o = new MemoryOwner();
    k.ownedBy(o, () => {
      const mark = k.beginScope();
      k.alloc(10);
      k.endScope(mark);
    });
    assert.equal(o.held.length, 0);
  });
});

describe('kernel-memory addresses read from the views', () => {
  // Each view an arena makes carries its byte address (a private field: V8's byteOffset getter is a call); views
  // made elsewhere fall back to byteOffset, arrays outside the memory are staged, and another memory's views are
  // not taken for this one's.
  it('gives each view its own address, and stages what is not in its memory', () => {
    const a = createWasmKernels()!;
    const b = createWasmKernels()!;
    const x = a.allocPersistent(64).fill(2);
    const n = a.allocInt32(16);
    assert.equal(a.addressOf(x), x.byteOffset);
    assert.equal(a.addressOf(n), n.byteOffset);
    const tail = x.subarray(8);
    assert.equal(a.addressOf(tail), x.byteOffset + 32, 'a subarray: its own offset');
    assert.ok(a.isResident(x) && a.isResident(tail));
    assert.throws(() => a.addressOf(new Float32Array(4)), /not in kernel memory/);
    // b's memory is another: a's view is staged there (copied in and back), so the kernel still reads and writes it.
    assert.ok(!b.isResident(x));
    assert.throws(() => b.addressOf(x), /not in kernel memory/);
    const y = b.allocPersistent(64).fill(1);
    b.addInPlace(x, 0, y, 0, 64);
    assert.ok(x.every((v) => v === 3));
    // The address is invisible: a view prints and compares like a plain array.
    assert.deepStrictEqual(a.allocPersistent(3), new Float32Array(3));
    assert.equal(Object.getOwnPropertySymbols(x).length, 0);
  });
});
