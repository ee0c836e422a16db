/**
 * The seeded generator every random choice draws from: its stream is pinned (recorded results depend on it), and
 * fillMask — a dropout mask's fast loop — draws exactly what the same number of next() calls would.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { dropoutMask } from '../src/layers/dropout.js';

describe('Random', () => {
  it("keeps its stream: seed 1's first words", () => {
    const r = new Random(1);
    assert.deepEqual(
      Array.from({ length: 4 }, () => r.nextUint32()),
      [2442144158, 3238099751, 3819917871, 2104621829],
    );
  });

  it('fillMask draws what next() draws, mask and state, at any rate', () => {
    for (const seed of [0, 1, 7, 123456789, 2 ** 32 - 1])
      for (const rate of [1e-9, 0.1, 0.2, 0.5, 0.75, 0.999999]) {
        const fast = new Random(seed);
        const slow = new Random(seed);
        const n = 1 + ((seed + Math.round(rate * 1000)) % 997);
        const got = new Float32Array(n + 4).fill(7);
        fast.fillMask(got, 2, n + 2, rate, 1 / (1 - rate));
        const want = new Float32Array(n + 4).fill(7);
        for (let i = 2; i < n + 2; i++) want[i] = slow.next() < rate ? 0 : 1 / (1 - rate);
        assert.deepEqual(got, want, `seed ${seed}, rate ${rate}`);
        assert.deepEqual(fast.getState(), slow.getState());
        assert.equal(fast.nextUint32(), slow.nextUint32());
      }
  });

  it('a dropout mask drops about `rate` of its entries and scales the rest by 1/(1 − rate)', () => {
    const m = dropoutMask(200, 100, 0.2, { training: true, seed: 42 }, 3);
    const dropped = m.filter((v) => v === 0).length / m.length;
    assert.ok(Math.abs(dropped - 0.2) < 0.01, `dropped ${dropped}`);
    assert.ok(m.every((v) => v === 0 || v === Math.fround(1.25)));
  });
});
