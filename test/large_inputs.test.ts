/**
 * Inputs far larger than the other tests use, through the code paths that once spread them into a function call
 * (Math.max(...xs), push(...xs)): V8 overflows its call stack at a few hundred thousand arguments, so a big CSV or a
 * long series crashed with "Maximum call stack size exceeded" instead of being processed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stratifiedSplit } from '../src/classify/dataset.js';
import { fitTransform } from '../src/forecast/transforms.js';
import { sourceBatch } from '../src/seq2seq/data.js';

const BIG = 1_000_000;

describe('large inputs', () => {
  it('a stratified split of a million labels', () => {
    const labels = Int32Array.from({ length: BIG }, (_, i) => (i % 10 === 0 ? 1 : 0));
    const s = stratifiedSplit(labels, 2, { validation: 0.1, test: 0.1 }, 1);
    assert.equal(s.train.length + s.validation.length + s.test.length, BIG);
    assert.equal(s.test.length, 100_000);
  });

  it('min-max scaling of a series of a million points', () => {
    const values = Array.from({ length: BIG }, (_, i) => Math.sin(i / 100) * 5 + 7);
    const { t } = fitTransform(values, { log: false, differencing: 'none', season: 1, scaling: 'minmax' });
    assert.ok(Math.abs(t.center - 2) < 1e-6 && Math.abs(t.scale - 10) < 1e-6, `${t.center} ${t.scale}`);
  });

  it('a batch of a million sources', () => {
    const sources = Array.from({ length: BIG }, (_, i) => new Int32Array(1 + (i % 3)));
    assert.deepEqual(sourceBatch(sources).shape, [BIG, 3]);
  });
});
