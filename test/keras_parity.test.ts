/**
 * The Keras-style API as a Keras user writes it: names Keras accepts, what `summary` shows, what metrics report.
 * Each case is a place recur once differed from Keras without saying so.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as L from '../src/layers/index.js';
import type { SymbolicTensor } from '../src/layers/symbolic.js';
import { input, model } from '../src/models/functional.js';
import { lossName } from '../src/models/losses.js';
import { Sequential } from '../src/models/sequential.js';

function summaryLines(m: { summary(print: (line: string) => void): void }): string[] {
  const lines: string[] = [];
  m.summary((l) => lines.push(l));
  return lines;
}

describe('summary', () => {
  it("shows a Sequential model's declared batch size on the batch axis, as Keras does", () => {
    const m = new Sequential({ seed: 1 });
    m.add(L.lstm({ units: 4, batchInputShape: [8, 5, 3], stateful: true }));
    m.add(L.dense({ units: 2 }));
    const rows = summaryLines(m).slice(4, 6);
    assert.match(rows[0], /\[8, 4\]/);
    assert.match(rows[1], /\[8, 2\]/);
    const sized = new Sequential({ layers: [L.dense({ units: 2, inputShape: [3], batchSize: 16 })] });
    assert.match(summaryLines(sized)[4], /\[16, 2\]/);
    const unsized = new Sequential({ layers: [L.dense({ units: 2, inputShape: [3] })] });
    assert.match(summaryLines(unsized)[4], /\[null, 2\]/);
  });

  it("shows a functional model's declared batch size on every tensor", () => {
    const x = input({ shape: [5, 3], batchSize: 4, name: 'x' });
    const h = L.lstm({ units: 2 }).apply(x) as SymbolicTensor;
    const m = model({ inputs: x, outputs: L.dense({ units: 1 }).apply(h) as SymbolicTensor });
    const rows = summaryLines(m).slice(4, 7);
    assert.match(rows[0], /\[4, 5, 3\]/);
    assert.match(rows[1], /\[4, 2\]/);
    assert.match(rows[2], /\[4, 1\]/);
  });
});

describe('loss names', () => {
  it("takes Keras's class names and short aliases as well as the function names", () => {
    const expected: Record<string, string> = {
      MeanSquaredError: 'meanSquaredError',
      MSE: 'meanSquaredError',
      MeanAbsoluteError: 'meanAbsoluteError',
      MAE: 'meanAbsoluteError',
      CategoricalCrossentropy: 'categoricalCrossentropy',
      SparseCategoricalCrossentropy: 'sparseCategoricalCrossentropy',
      BinaryCrossentropy: 'binaryCrossentropy',
      bce: 'binaryCrossentropy',
      BCE: 'binaryCrossentropy',
    };
    for (const [name, loss] of Object.entries(expected)) assert.equal(lossName(name), loss, name);
    const m = new Sequential({ layers: [L.dense({ units: 3, inputShape: [2], activation: 'softmax' })] });
    m.compile({ optimizer: 'Adam', loss: 'SparseCategoricalCrossentropy', metrics: ['accuracy'] });
    assert.equal(m.loss, 'sparseCategoricalCrossentropy');
  });

  it("refuses names of an object's prototype (`'constructor'` is no loss)", () => {
    assert.throws(() => lossName('constructor'), /unknown loss "constructor"/);
    assert.throws(() => lossName('toString'), /unknown loss "toString"/);
  });
});
