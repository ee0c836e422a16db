/**
 * A library user's mistakes get a clear error at the call that made them, not a crash deep inside a layer or a
 * silently wrong answer: tensors built from the wrong kind of array, a layer factory called without options, weights
 * asked of a model before it is built, and a disposed model used again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { IndexTensor, Tensor, tensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { EarlyStopping, ReduceLROnPlateau } from '../src/models/callbacks.js';
import { Sequential } from '../src/models/sequential.js';
import { ModelCheckpoint } from '../src/node/callbacks.js';
import { input, model, type SymbolicTensor } from '../src/models/functional.js';
import { loadAnyModel, loadKerasWeightsFile, saveAnyModel } from '../src/node/keras_io.js';

function lstmModel(inputShape?: number[]): Sequential {
  const m = new Sequential({ seed: 3 });
  m.add(L.lstm({ units: 2, ...(inputShape ? { inputShape } : {}) }));
  m.add(L.dense({ units: 1 }));
  return m;
}

describe('library misuse', () => {
  it('a Tensor of a plain array or another typed array is refused when made', () => {
    assert.throws(
      () => new Tensor([1, 2, 3] as unknown as Float32Array, [3]),
      (e: Error) =>
        e instanceof InvalidInputError &&
        /Float32Array, got an array.*tensor\(values, shape\)/.test(e.message),
    );
    assert.throws(
      () => new Tensor(new Float64Array(3) as unknown as Float32Array, [3]),
      /got a Float64Array/,
    );
    assert.throws(() => new IndexTensor([1] as unknown as Int32Array, [1]), /Int32Array, got an array/);
    assert.throws(
      () => new IndexTensor(new Float32Array(1) as unknown as Int32Array, [1]),
      /got a Float32Array/,
    );
    // Typed arrays of another realm (a worker's, an iframe's) are still typed arrays.
    const foreign = runInNewContext('new Float32Array([1, 2])') as Float32Array;
    assert.deepEqual(new Tensor(foreign, [2]).shape, [2]);
  });

  it('a layer factory called without its options object says so', () => {
    assert.throws(() => L.lstm(undefined as never), /lstm: expected an options object, got undefined/);
    assert.throws(() => L.dense(null as never), /dense: expected an options object, got null/);
  });

  it('getWeights and setWeights build a model whose input shape is declared, as predict would', () => {
    const m = lstmModel([4, 3]);
    const weights = m.getWeights();
    assert.deepEqual(
      weights.map((w) => w.shape),
      [[3, 8], [2, 8], [8], [2, 1], [1]],
    );
    const twin = lstmModel([4, 3]);
    const x = tensor(new Float32Array(2 * 4 * 3).fill(0.5), [2, 4, 3]);
    twin.predict(x);
    assert.deepEqual(
      twin.getWeights().map((w) => Array.from(w.data)),
      weights.map((w) => Array.from(w.data)),
      'the same weights as a build by predict',
    );
    const other = lstmModel([4, 3]);
    other.setWeights(twin.getWeights());
    assert.deepEqual(Array.from(other.predict(x).data), Array.from(twin.predict(x).data));
  });

  it('getWeights of a model without an input shape yet is refused, not an empty list', () => {
    assert.throws(
      () => lstmModel().getWeights(),
      /getWeights: model '.*' has no weights yet: give its first layer an inputShape/,
    );
    assert.throws(() => lstmModel().setWeights([]), /setWeights: model '.*' has no weights yet/);
  });

  it('predict and evaluate refuse a batch size that is not a positive integer, and unknown options', () => {
    const seq = lstmModel([4, 3]);
    seq.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const a = input({ shape: [4, 3] });
    const f = model({ inputs: a, outputs: L.lstm({ units: 1 }).apply(a) as SymbolicTensor });
    f.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = tensor(new Float32Array(2 * 4 * 3), [2, 4, 3]);
    const y = tensor(new Float32Array(2), [2, 1]);
    for (const m of [seq, f]) {
      // Fractions first: before the fix 0 and negative sizes looped forever, allocating until the process died.
      for (const batchSize of [2.5, 0, -1]) {
        const refused = new RegExp(`batchSize must be a positive integer, got ${batchSize}`);
        assert.throws(() => m.predict(x, { batchSize }), refused);
        assert.throws(() => m.evaluate(x, y, { batchSize }), refused);
      }
      assert.throws(
        () => m.predict(x, { batch: 1 } as never),
        (e: Error) => e instanceof InvalidInputError && /predict: unknown option 'batch'/.test(e.message),
      );
      assert.throws(() => m.evaluate(x, y, { batch: 1 } as never), /evaluate: unknown option 'batch'/);
      assert.deepEqual((m.predict(x, { batchSize: 1 }) as Tensor).shape, [2, 1]);
    }
  });

  it('compile refuses the accuracy metric with a regression loss, instead of fit failing at its first batch', () => {
    assert.throws(
      () => lstmModel([4, 3]).compile({ optimizer: 'adam', loss: 'meanSquaredError', metrics: ['accuracy'] }),
      /compile: the accuracy metric needs a classification loss .*, not meanSquaredError/,
    );
    const a = input({ shape: [3] });
    const f = model({
      inputs: a,
      outputs: [
        L.dense({ units: 2 }).apply(a) as SymbolicTensor,
        L.dense({ units: 1 }).apply(a) as SymbolicTensor,
      ],
    });
    assert.throws(
      () =>
        f.compile({
          optimizer: 'sgd',
          loss: ['categoricalCrossentropy', 'meanAbsoluteError'],
          metrics: ['acc'],
        }),
      /not meanAbsoluteError/,
    );
    const ok = lstmModel([4, 3]);
    ok.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    assert.deepEqual(ok.metrics, ['accuracy']);
  });

  it('saving a model directory onto a file names the file and leaves it alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-misuse-'));
    try {
      const file = join(dir, 'reviews.csv');
      writeFileSync(file, 'text,label\n');
      await assert.rejects(
        saveAnyModel(lstmModel([4, 3]), file),
        (e: Error) =>
          e instanceof InvalidInputError &&
          e.message ===
            `${file}: is a file, not a model directory (a path ending in .keras, .h5 or .hdf5 saves a Keras file)`,
      );
      assert.equal(readFileSync(file, 'utf8'), 'text,label\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loading a Keras file that is not there says so as bad input', async () => {
    const missing = join(tmpdir(), 'recur-no-such-dir', 'model.h5');
    await assert.rejects(
      loadAnyModel(missing),
      (e: Error) => e instanceof InvalidInputError && e.message === `${missing}: no such file or directory`,
    );
    // So is a weights file that is not there, or a directory given for one (fs's ENOENT / EISDIR once).
    await assert.rejects(
      loadKerasWeightsFile(lstmModel([4, 3]), missing),
      (e: Error) =>
        e instanceof InvalidInputError &&
        e.message === `${missing}: no such file or directory; expected a Keras weights file (.h5 or .keras)`,
    );
    await assert.rejects(
      loadKerasWeightsFile(lstmModel([4, 3]), tmpdir()),
      (e: Error) =>
        e instanceof InvalidInputError &&
        e.message === `${tmpdir()}: is a directory, not a Keras weights file (.h5 or .keras)`,
    );
  });

  it('a declared input shape holds positive sizes or null', () => {
    for (const bad of [
      [0, 3],
      [-1, 3],
      [2.5, 3],
      ['4', 3],
    ]) {
      const shown = JSON.stringify(bad).replace(/[[\]]/g, '\\$&');
      assert.throws(
        () => L.dense({ units: 1, inputShape: bad as number[] }),
        new RegExp(`dense '.*': 'inputShape' must hold sizes \\(positive integers\\) or null, got ${shown}`),
      );
      assert.throws(() => input({ shape: bad as number[] }), /input '.*': 'inputShape' must hold sizes/);
    }
    assert.throws(
      () => L.lstm({ units: 1, batchInputShape: [0, 4, 3] }),
      /'batchInputShape' must hold sizes/,
    );
    assert.deepEqual(L.lstm({ units: 1, batchInputShape: [null, null, 3] }).declaredInputShape, [null, 3]);
  });

  it('a misspelt callback hook is refused, not silently never called', async () => {
    const m = new Sequential({ seed: 1 });
    m.add(L.dense({ units: 1, inputShape: [2] }));
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = tensor([[1, 2]]);
    const y = tensor([[1]]);
    await assert.rejects(
      m.fit(x, y, { callbacks: { onEpochEnds: () => {} } as never }),
      (e: Error) =>
        e instanceof InvalidInputError &&
        /callbacks: unknown hook 'onEpochEnds' \(the hooks are/.test(e.message),
    );
    await assert.rejects(
      m.fit(x, y, { callbacks: { onEpochEnd: 1 } as never }),
      /hook 'onEpochEnd' must be a function/,
    );
    const epochs: number[] = [];
    await m.fit(x, y, { epochs: 2, callbacks: { onEpochEnd: (e) => void epochs.push(e) } });
    assert.deepEqual(epochs, [0, 1]);
  });

  it("callbacks refuse unknown options and modes at construction; ModelCheckpoint takes Keras's filepath first", async () => {
    const refused = (re: RegExp) => (e: Error) => e instanceof InvalidInputError && re.test(e.message);
    // Keras's Python spelling would leave restoreBestWeights false without a word.
    assert.throws(
      () => new EarlyStopping({ restore_best_weights: true } as never),
      refused(/EarlyStopping: unknown option 'restore_best_weights' \(it takes monitor, minDelta, patience/),
    );
    assert.throws(() => new ReduceLROnPlateau({ min_lr: 1e-4 } as never), refused(/unknown option 'min_lr'/));
    assert.throws(
      () => new EarlyStopping({ mode: 'maximum' as never }),
      refused(/EarlyStopping: mode must be 'auto', 'min' or 'max', got maximum/),
    );
    assert.throws(() => new ModelCheckpoint({ filepath: 'x', monitr: 'loss' } as never), refused(/'monitr'/));
    // A missing filepath failed with a TypeError when the first epoch ended.
    assert.throws(
      () => new ModelCheckpoint({} as never),
      refused(/filepath must be a non-empty string, got undefined/),
    );
    const dir = mkdtempSync(join(tmpdir(), 'recur-callbacks-'));
    try {
      const m = new Sequential({ seed: 1 });
      m.add(L.dense({ units: 1, inputShape: [2] }));
      m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
      await m.fit(tensor([[1, 2]]), tensor([[1]]), {
        epochs: 1,
        verbose: 0,
        callbacks: [new ModelCheckpoint(join(dir, 'ckpt'))],
      });
      assert.ok(readFileSync(join(dir, 'ckpt', 'model.json'), 'utf8').length > 0);
      // Keras's format specs (the tutorials' 'weights-improvement-{epoch:02d}-{loss:.4f}.hdf5') are filled as
      // Python fills them; they once stayed in the name, every epoch saved over one literal '{epoch:02d}' file.
      await m.fit(tensor([[1, 2]]), tensor([[1]]), {
        epochs: 2,
        verbose: 0,
        callbacks: [new ModelCheckpoint(join(dir, 'w-{epoch:02d}-{epoch:3d}-{loss:.3f}'))],
      });
      const saved = readdirSync(dir).filter((f) => f.startsWith('w-'));
      assert.equal(saved.length, 2, saved.join(', '));
      saved.forEach((f, i) => assert.match(f, new RegExp(`^w-0${i + 1}-  ${i + 1}-\\d+\\.\\d{3}$`)));
      // Braces of another form stay as they are: a directory `recur train --out` is given may hold them.
      assert.equal(new ModelCheckpoint('odd{a:b}-{loss:.2e}').path(0, { loss: 1 }), 'odd{a:b}-{loss:.2e}');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a model disposed before it was built refuses to build', () => {
    const m = lstmModel([4, 3]);
    m.dispose();
    assert.throws(() => m.predict(tensor(new Float32Array(12), [1, 4, 3])), /model '.*' was disposed/);
  });
});
