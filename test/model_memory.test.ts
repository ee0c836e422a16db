/**
 * A model's kernel memory comes back: at once with `model.dispose()` (weights, gradients, optimizer slots; a layer
 * another live model holds keeps its weights), or when dropped, through the garbage collections the kernel memory
 * asks for after each step of long-lived allocations (src/core/wasm/memory.ts, installGarbageCollector;
 * src/node/runtime_hooks.ts installs V8's collection in every Node entry).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import '../src/node/install.js';
import { kernels } from '../src/core/backend.js';
import { MemoryOwner } from '../src/core/kernels.js';
import { Tensor } from '../src/core/tensor.js';
import { createWasmKernels } from '../src/core/wasm/load.js';
import { WasmKernels } from '../src/core/wasm/wasm_kernels.js';
import { installGarbageCollector } from '../src/core/wasm/memory.js';
import { Dense, LSTM } from '../src/layers/index.js';
import { Weight } from '../src/layers/layer.js';
import { Sequential } from '../src/models/sequential.js';
import { input, model } from '../src/models/functional.js';
import type { SymbolicTensor } from '../src/layers/symbolic.js';
import { collectGarbage } from '../src/node/runtime_hooks.js';

const MB = 2 ** 20;

/** N sequences of T steps of D features, and one target each: enough to train a small regressor on. */
function regression(N: number, T: number, D: number): { x: Tensor; y: Tensor } {
  return {
    x: new Tensor(
      Float32Array.from({ length: N * T * D }, (_, i) => Math.sin(i)),
      [N, T, D],
    ),
    y: new Tensor(
      Float32Array.from({ length: N }, (_, i) => Math.cos(i)),
      [N, 1],
    ),
  };
}

describe('kernel memory: garbage collections as it is handed out', () => {
  after(() => installGarbageCollector(collectGarbage, 64 * MB));

  it('asks once per step of long-lived bytes, owned and reused ones included; scoped ones do not count', () => {
    const k = createWasmKernels()!; // a fresh memory: below 16 MB carved, the 4 MB step is the larger bound
    let calls = 0;
    installGarbageCollector(() => calls++, 4 * MB);
    const keep: Float32Array[] = [];
    for (let i = 0; i < 10; i++) keep.push(k.allocPersistent(MB / 4));
    assert.equal(calls, 2, '10 MB handed out: a collection after 4 and after 8');
    k.ownedBy(new MemoryOwner(), () => [k.allocPersistent(MB / 4), k.allocPersistent(MB / 4)]);
    assert.equal(calls, 3, 'owned buffers are long-lived too');
    const mark = k.beginScope();
    for (let i = 0; i < 10; i++) k.alloc(MB / 8);
    k.endScope(mark);
    assert.equal(calls, 3, 'scoped buffers are reused by the next scope: they never count');
    installGarbageCollector(null);
    for (let i = 0; i < 10; i++) k.allocPersistent(MB / 4);
    assert.equal(calls, 3, 'without a collector nothing is asked');
  });

  it('scopes whose buffers grow a little each time (prediction in length order) reuse one chunk', () => {
    const k = createWasmKernels()!;
    const bytes = (): number => k.memory.buffer.byteLength;
    const warm = k.beginScope();
    k.alloc(MB / 4);
    k.endScope(warm);
    const before = bytes();
    // 40 batches, each's buffer 64 KB larger than the last's, all larger than a chunk (8 MB): a chunk carved for
    // exactly the first request would hold none of the next, and memory would grow by ≈ 400 MB.
    for (let b = 0; b < 40; b++) {
      const mark = k.beginScope();
      k.alloc((9 * MB + b * 64 * 1024) / 4).fill(1);
      k.endScope(mark);
    }
    assert.ok(bytes() - before < 32 * MB, `grew by ${((bytes() - before) / MB).toFixed(0)} MB`);
  });

  it('models trained one after another in an async loop reuse the dropped ones’ memory', async () => {
    installGarbageCollector(collectGarbage, MB);
    const k = kernels();
    assert.ok(k instanceof WasmKernels, 'this test runs on the wasm kernels');
    const { x, y } = regression(16, 5, 8);
    const train = async (seed: number): Promise<void> => {
      const m = new Sequential({
        seed,
        layers: [new LSTM({ units: 64, inputShape: [5, 8] }), new Dense({ units: 1 })],
      });
      m.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
      await m.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, threads: 1 });
    };
    for (let i = 0; i < 10; i++) await train(i);
    const settled = k.memoryBytes;
    // Each model holds ≈ 0.3 MB of weights, gradients and Adam slots: 60 more would carve ≈ 18 MB if none came back.
    for (let i = 10; i < 70; i++) await train(i);
    const grown = (k.memoryBytes - settled) / MB;
    assert.ok(grown < 4, `the kernel memory grew by ${grown.toFixed(1)} MB over 60 models`);
  });
});

describe('model.dispose()', () => {
  const { x, y } = regression(8, 5, 3);
  const sequential = (seed: number): Sequential => {
    const m = new Sequential({
      seed,
      layers: [new LSTM({ units: 48, inputShape: [5, 3] }), new Dense({ units: 1 })],
    });
    m.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    return m;
  };
  const wasm = (): WasmKernels => {
    const k = kernels();
    assert.ok(k instanceof WasmKernels, 'this test runs on the wasm kernels');
    return k;
  };

  it('gives back weights, gradients and Adam slots at once: the next model of that shape reuses them', async () => {
    const k = wasm();
    const a = sequential(1);
    await a.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, threads: 1 });
    assert.equal(a.optimizer!.getWeights().length, 1 + 2 * 5, 'iter, then m and v of the 5 weights');
    const high = k.memoryBytes;
    a.dispose();
    assert.equal(a.optimizer!.getWeights().length, 1, 'the slots are gone, the iteration count stays');
    const b = sequential(2);
    await b.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, threads: 1 });
    assert.equal(k.memoryBytes, high, 'nothing new was carved');
    b.dispose();
  });

  it('keeps a loop that never yields flat, where dropped models would pile up until a collection', () => {
    const k = wasm();
    const build = (seed: number): Sequential => {
      const m = sequential(seed);
      m.build();
      m.predict(x);
      return m;
    };
    build(0).dispose();
    const high = k.memoryBytes;
    for (let i = 1; i <= 50; i++) build(i).dispose();
    assert.equal(k.memoryBytes, high);
  });

  it('leaves a disposed model unusable, with the weight named; a second dispose does nothing', async () => {
    const m = sequential(3);
    m.build();
    m.dispose();
    m.dispose();
    assert.throws(() => m.predict(x), /weight 'kernel' was disposed with its model/);
    await assert.rejects(
      m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, threads: 1 }),
      /was disposed with its model/,
    );
  });

  it("a weight bound to another buffer (a worker replica's) gives its own back at once", () => {
    const k = wasm();
    const w = new Weight('kernel', [1000], new Float32Array(1000));
    const own = w.value.byteOffset;
    const shared = k.allocPersistent(1000).fill(2);
    w.bindValue(shared);
    assert.equal(w.value, shared);
    assert.equal(
      k.allocPersistent(1000).byteOffset,
      own,
      'the next buffer of that size is the one given back',
    );
  });

  it('a layer two functional models share keeps its weights until both are disposed', () => {
    const inp = input({ shape: [5, 3] });
    const shared = new LSTM({ units: 8, name: 'shared' });
    const h = shared.apply(inp) as SymbolicTensor;
    const a = model({
      inputs: inp,
      outputs: new Dense({ units: 2, name: 'head_a' }).apply(h) as SymbolicTensor,
    });
    const b = model({
      inputs: inp,
      outputs: new Dense({ units: 3, name: 'head_b' }).apply(h) as SymbolicTensor,
    });
    const before = (b.predict(x) as Tensor).data.slice();
    a.dispose();
    assert.throws(() => a.predict(x), /weight 'kernel' was disposed with its model/);
    assert.deepEqual(
      (b.predict(x) as Tensor).data,
      before,
      "b still predicts with the shared layer's weights",
    );
    b.dispose();
    assert.throws(() => shared.weights[0].value, /disposed/);
  });
});
