/**
 * The kernel memory asks for a garbage collection after each step of long-lived allocations, so a program that
 * trains model after model gets the dropped models' memory back (src/core/wasm/memory.ts, installGarbageCollector;
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
import { Sequential } from '../src/models/sequential.js';
import { collectGarbage } from '../src/node/runtime_hooks.js';

const MB = 2 ** 20;

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

  it('models trained one after another in an async loop reuse the dropped ones’ memory', async () => {
    installGarbageCollector(collectGarbage, MB);
    const k = kernels();
    assert.ok(k instanceof WasmKernels, 'this test runs on the wasm kernels');
    const x = new Tensor(
      Float32Array.from({ length: 16 * 5 * 8 }, (_, i) => Math.sin(i)),
      [16, 5, 8],
    );
    const y = new Tensor(
      Float32Array.from({ length: 16 }, (_, i) => Math.cos(i)),
      [16, 1],
    );
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
