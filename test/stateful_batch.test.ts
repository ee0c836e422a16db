/**
 * A stateful layer declared for batches of B rows (batchInputShape, batchSize, input({batchSize})) runs only batches of
 * B rows, as Keras: another batchSize or a last partial batch is refused up front naming the layer and both sizes,
 * and a call that gives no batchSize uses B.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { Tensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import type { SymbolicTensor } from '../src/layers/symbolic.js';
import { input, model } from '../src/models/functional.js';
import { Sequential } from '../src/models/sequential.js';
import { saveModel } from '../src/node/model_io.js';
import { runCli } from './cli_helpers.js';

const T = 3;
const x = (n: number): Tensor =>
  new Tensor(
    Float32Array.from({ length: n * T }, (_, i) => (i % 7) / 7),
    [n, T, 1],
  );
const y = (n: number): Tensor => new Tensor(new Float32Array(n).fill(0.1), [n, 1]);

function statefulSequential(layerArgs: object): Sequential {
  const m = new Sequential({ seed: 1 });
  m.add(new L.LSTM({ units: 4, stateful: true, name: 'carrier', ...layerArgs }));
  m.add(new L.Dense({ units: 1 }));
  m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  return m;
}

/** The error names the layer, the declared batch size and what was given. */
function refused(given: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof InvalidInputError, String(e));
    assert.match(e.message, /LSTM 'carrier' is stateful with batch size 2/);
    assert.match(e.message, given);
    return true;
  };
}

describe('stateful layers run only batches of their declared size', () => {
  for (const [how, args] of [
    ['batchInputShape', { batchInputShape: [2, T, 1] }],
    ['inputShape + batchSize', { inputShape: [T, 1], batchSize: 2 }],
  ] as const) {
    it(`Sequential (${how}): another batchSize or a partial last batch is refused before anything runs`, async () => {
      const m = statefulSequential(args);
      const before = m.getWeights().map((w) => Array.from(w.data));
      await assert.rejects(m.fit(x(8), y(8), { batchSize: 4, verbose: 0 }), refused(/batchSize is 4/));
      await assert.rejects(
        m.fit(x(7), y(7), { batchSize: 2, verbose: 0 }),
        refused(/the training data has 7 samples, not a multiple of 2: the last batch would have 1/),
      );
      await assert.rejects(
        m.fit(x(8), y(8), { validationData: [x(3), y(3)], verbose: 0 }),
        refused(/the validation data has 3 samples/),
      );
      // Nothing was trained by the refused calls.
      assert.deepEqual(
        m.getWeights().map((w) => Array.from(w.data)),
        before,
      );
      assert.throws(() => m.predict(x(8), { batchSize: 8 }), refused(/^predict: .*batchSize is 8/));
      assert.throws(() => m.predict(x(5)), refused(/the input has 5 samples/));
      assert.throws(() => m.evaluate(x(4), y(4), { batchSize: 1 }), refused(/^evaluate: .*batchSize is 1/));
      assert.throws(() => m.trainOnBatch(x(3), y(3)), refused(/got a batch of 3/));
      await assert.rejects(
        m.fitDataset(
          {
            *batches() {
              yield { xs: x(2), ys: y(2) };
              yield { xs: x(1), ys: y(1) };
            },
          },
          { verbose: 0 },
        ),
        refused(/^fit: batch 1: .*got a batch of 1/),
      );
      await assert.rejects(
        m.evaluateDataset({
          *batches() {
            yield { xs: x(4), ys: y(4) };
          },
        }),
        refused(/got a batch of 4/),
      );
    });
  }

  it('Sequential: without a batchSize, fit, predict and evaluate use the declared one (not 32)', async () => {
    const m = statefulSequential({ batchInputShape: [2, T, 1] });
    const sizes: number[] = [];
    await m.fit(x(8), y(8), {
      verbose: 0,
      shuffle: false,
      callbacks: { onBatchEnd: async (_b, logs) => void sizes.push(logs!.size) },
    });
    assert.deepEqual(sizes, [2, 2, 2, 2]);
    m.resetStates();
    const all = m.predict(x(8));
    m.resetStates();
    assert.deepEqual(Array.from(m.predict(x(8), { batchSize: 2 }).data), Array.from(all.data));
    assert.ok(Number.isFinite(m.evaluate(x(6), y(6)).loss));
  });

  it('functional: the input declares the batch size (batchInputShape, or shape + batchSize as Keras Input)', async () => {
    for (const declared of [{ batchInputShape: [2, T, 1] }, { shape: [T, 1], batchSize: 2 }]) {
      const i = input(declared);
      const h = new L.LSTM({ units: 2, stateful: true, name: 'carrier' }).apply(i) as SymbolicTensor;
      const f = model({ inputs: i, outputs: new L.Dense({ units: 1 }).apply(h) as SymbolicTensor, seed: 1 });
      f.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
      // input({shape, batchSize}) keeps its batch size (it was dropped), so a saved model carries it too.
      assert.deepEqual(i.node.layer.getConfig().batchInputShape, [2, T, 1]);
      assert.deepEqual((f.predict(x(6)) as Tensor).shape, [6, 1]);
      assert.throws(() => f.predict(x(8), { batchSize: 4 }), refused(/batchSize is 4/));
      await assert.rejects(f.fit(x(5), y(5), { verbose: 0 }), refused(/the training data has 5 samples/));
      assert.throws(() => f.evaluate(x(4), y(4), { batchSize: 4 }), refused(/batchSize is 4/));
      assert.throws(() => f.trainOnBatch(x(1), y(1)), refused(/got a batch of 1/));
      await f.fit(x(4), y(4), { verbose: 0 });
    }
  });

  it('a stateful layer without a declared batch size, and a stateless model with one, take any batch size', async () => {
    const free = statefulSequential({ inputShape: [T, 1] });
    assert.deepEqual(free.predict(x(5), { batchSize: 5 }).shape, [5, 1]);
    const stateless = new Sequential({ seed: 1 });
    stateless.add(new L.LSTM({ units: 2, batchInputShape: [2, T, 1] }));
    stateless.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    assert.deepEqual(stateless.predict(x(5), { batchSize: 4 }).shape, [5, 2]);
  });

  it('recur predict: a wrong input shape names the batch size the stateful model takes, not "any"', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-stateful-'));
    try {
      for (const [name, args] of [
        ['model', { batchInputShape: [2, T, 1] }],
        ['layer', { inputShape: [T, 1], batchSize: 2 }],
      ] as const) {
        saveModel(statefulSequential(args), join(dir, name));
        const steps = (n: number): number[][] => Array.from({ length: n }, () => [0.5]);
        const r = runCli(['predict', join(dir, name)], {
          input: JSON.stringify([steps(T + 1), steps(T + 1)]),
        });
        assert.equal(r.code, 2, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `^recur: stdin: input 'carrier': has shape \\[2, ${T + 1}, 1\\]; the model takes \\[2, ${T}, 1\\] ` +
              '\\(batch first; the model is stateful: a multiple of 2 rows, run 2 at a time\\)\n$',
          ),
          name,
        );
        // The shapes it asks for when given nothing, too.
        assert.match(
          runCli(['predict', join(dir, name)], { input: '' }).stderr,
          /\{"carrier": \[2, 3, 1\]\}/,
        );
        // Rows in multiples of 2 run.
        const ok = runCli(['predict', join(dir, name)], {
          input: JSON.stringify([steps(T), steps(T), steps(T), steps(T)]),
        });
        assert.equal(ok.code, 0, ok.stderr);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
