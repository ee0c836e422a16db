/**
 * `npm run bench:kernels` — where a training step and a generation step spend their time, on the active kernels:
 *   1. GFLOP/s of the recipe's GEMM shapes and of the generation GEMV (row-major B vs packed panels);
 *   2. a per-kernel profile of one training step of the recipe (LSTM(128) → Dense(62), batch 128, one thread), by
 *      wrapping every kernel method with a timer (the timers add a little to the total);
 *   3. the JS cost of one kernel call (a 4-float addInPlace through the wrapper vs the raw export);
 *   4. a generation step's other kernels: the LSTM cell of one row (H = 128) and the sampler (63 logits, t = 0.5).
 */
import '../src/node/index.js';
import { kernels } from '../src/core/backend.js';
import { Act } from '../src/core/kernel_constants.js';
import { gemmPackedBLength, gemvPanelsLength } from '../src/core/kernels.js';
import { Random } from '../src/core/random.js';
import { IndexTensor } from '../src/core/tensor.js';
import { WasmKernels } from '../src/core/wasm/wasm_kernels.js';
import { Dense, LSTM } from '../src/layers/index.js';
import { RMSprop } from '../src/models/optimizers.js';
import { Sequential } from '../src/models/sequential.js';
import { printKernelTable, timeKernels } from './kernel_timers.js';

const k = kernels();
const rng = new Random(1);
function filled(n: number): Float32Array {
  const a = k.allocPersistent(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

/** Mean milliseconds per call of fn over enough calls to take ≈ 0.5 s, after a warm-up. */
function timeIt(fn: () => void): number {
  for (let i = 0; i < 20; i++) fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 500) {
    fn();
    n++;
  }
  return (performance.now() - t0) / n;
}

console.log(`kernels: ${k.name}\n`);
console.log('| product | shape (M×N×K) | µs / call | GFLOP/s |');
console.log('| --- | --- | --: | --: |');
for (const [name, tA, tB, M, N, K] of [
  ['recurrent step (forward)', false, false, 128, 512, 128],
  ['∂h step with Uᵀ (backward)', false, false, 128, 128, 512],
  ['∂U over all steps', true, false, 128, 512, 5120],
  ['∂h step, transposed B', false, true, 128, 128, 512],
] as const) {
  const A = filled(M * K);
  const B = filled(K * N);
  const C = filled(M * N);
  const ms = timeIt(() => k.gemm(tA, tB, M, N, K, A, 0, tA ? M : K, B, 0, tB ? K : N, C, 0, N, true));
  console.log(
    `| ${name} | ${M}×${N}×${K} | ${(ms * 1000).toFixed(1)} | ${((2 * M * N * K) / ms / 1e6).toFixed(1)} |`,
  );
}
for (const [name, M, N, K] of [
  ['recurrent step, U prepacked', 128, 512, 128],
  ['∂h step, Uᵀ prepacked', 128, 128, 512],
] as const) {
  const A = filled(M * K);
  const B = filled(K * N);
  const C = filled(M * N);
  const packed = k.allocPersistent(gemmPackedBLength(K, N));
  k.packGemmB(K, N, B, 0, N, packed, 0);
  const ms = timeIt(() => k.gemmPackedB(false, M, N, K, A, 0, K, B, 0, N, packed, 0, C, 0, N, true));
  console.log(
    `| ${name} | ${M}×${N}×${K} | ${(ms * 1000).toFixed(1)} | ${((2 * M * N * K) / ms / 1e6).toFixed(1)} |`,
  );
}
{
  const [N, K] = [512, 128];
  const a = filled(K);
  const B = filled(K * N);
  const c = filled(N);
  const packed = k.allocPersistent(gemvPanelsLength(K, N));
  k.packGemvPanels(K, N, B, 0, N, packed, 0);
  for (const [name, fn] of [
    ['generation GEMV, row-major U', () => k.gemm(false, false, 1, N, K, a, 0, K, B, 0, N, c, 0, N, true)],
    ['generation GEMV, packed panels', () => k.gemvPacked(1, N, K, a, 0, K, packed, 0, c, 0, N, true)],
  ] as const) {
    const ms = timeIt(fn);
    console.log(
      `| ${name} | 1×${N}×${K} | ${(ms * 1000).toFixed(2)} | ${((2 * N * K) / ms / 1e6).toFixed(1)} |`,
    );
  }
}

// 2. Per-kernel profile of one training step.
const [N, T, V] = [128, 40, 62];
const x = new IndexTensor(
  Int32Array.from({ length: N * T }, () => rng.int(V)),
  [N, T],
);
const y = new IndexTensor(
  Int32Array.from({ length: N }, () => rng.int(V)),
  [N],
);
const model = new Sequential({
  seed: 1,
  layers: [new LSTM({ units: 128, inputShape: [T, V] }), new Dense({ units: V, activation: 'softmax' })],
});
model.compile({ optimizer: new RMSprop({ learningRate: 0.01 }), loss: 'categoricalCrossentropy' });
for (let i = 0; i < 3; i++) model.trainOnBatch(x, y);
const BATCHES = 10;
const { stats, totalMs } = await timeKernels(() => {
  for (let i = 0; i < BATCHES; i++) model.trainOnBatch(x, y);
});
console.log(
  `\nOne training step, batch ${N}, one thread: ${(totalMs / BATCHES).toFixed(1)} ms (timers included)\n`,
);
printKernelTable(stats, totalMs, BATCHES);

// 3. The JS cost of a kernel call.
const p = k.allocPersistent(4);
const q = k.allocPersistent(4);
// timeIt gives ms per 1,000 calls, i.e. µs per call.
const call = timeIt(() => {
  for (let i = 0; i < 1000; i++) k.addInPlace(p, 0, q, 0, 4);
});
console.log(`\nA 4-float addInPlace through the kernel interface: ${call.toFixed(3)} µs per call`);
if (k instanceof WasmKernels) {
  const exports = k.x;
  const raw = timeIt(() => {
    for (let i = 0; i < 1000; i++) exports.addInPlace(p.byteOffset, q.byteOffset, 4);
  });
  console.log(`The same, calling the wasm export directly: ${raw.toFixed(3)} µs per call`);
}

// 4. A generation step's other kernels, one row: the cell, and sampling from the Dense layer's 63 logits.
{
  const H = 128;
  const gates = filled(4 * H);
  const cPrev = filled(H);
  const c = filled(H);
  const h = filled(H);
  const logits = filled(63);
  for (let j = 0; j < logits.length; j++) logits[j] *= 3; // in place: a copy would live outside kernel memory
  const cell = timeIt(() => {
    for (let i = 0; i < 1000; i++)
      k.lstmCellForward(1, H, gates, 0, cPrev, 0, c, 0, h, 0, Act.Tanh, Act.Sigmoid);
  });
  let draw = 0;
  const sample = timeIt(() => {
    for (let i = 0; i < 1000; i++) k.sampleLogits(63, logits, 0, 0.5, (draw = (draw + 0.6180339887) % 1));
  });
  console.log(`\nThe LSTM cell of one row, H = ${H}: ${cell.toFixed(3)} µs per call`);
  console.log(`Sampling from 63 logits at temperature 0.5: ${sample.toFixed(3)} µs per call`);
}
