/**
 * The EM chunk aligner (src/seq2seq/aligner.ts): it recovers a hidden letter → chunk mapping from words alone, its
 * Viterbi segmentation is the best of every segmentation enumerated by brute force, EM never lowers the likelihood,
 * and pairs with no segmentation are reported, not forced.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { ChunkAligner, type AlignablePair } from '../src/seq2seq/aligner.js';

/** A toy spelling: each letter 0…7 sounds as a fixed chunk of 0–2 of the target symbols 0…5. */
const SOUNDS: number[][] = [[0], [1], [], [2, 3], [4], [5], [0, 4], []];

function words(n: number, seed: number): { pairs: AlignablePair[]; chunks: number[][][] } {
  const rng = new Random(seed);
  const pairs: AlignablePair[] = [];
  const chunks: number[][][] = [];
  while (pairs.length < n) {
    const len = 2 + Math.floor(rng.next() * 6);
    const letters = Array.from({ length: len }, () => Math.floor(rng.next() * SOUNDS.length));
    const target = letters.flatMap((l) => SOUNDS[l]);
    if (target.length === 0) continue;
    pairs.push({ source: Int32Array.from(letters), target: Int32Array.from(target) });
    chunks.push(letters.map((l) => SOUNDS[l]));
  }
  return { pairs, chunks };
}

/** Every segmentation of target over source (chunks of 0…maxChunk), by recursion. */
function segmentations(S: number, T: number, maxChunk: number): number[][] {
  if (S === 0) return T === 0 ? [[]] : [];
  const out: number[][] = [];
  for (let k = 0; k <= maxChunk && k <= T; k++)
    for (const rest of segmentations(S - 1, T - k, maxChunk)) out.push([...rest, k]);
  return out;
}

describe('ChunkAligner', () => {
  it('recovers the letters’ chunks from the words alone', () => {
    const { pairs, chunks } = words(2000, 7);
    const aligner = ChunkAligner.fit(pairs, SOUNDS.length, 6);
    for (let l = 0; l < SOUNDS.length; l++)
      assert.deepEqual(aligner.chunksOf(l)[0].tokens, SOUNDS[l], `letter ${l}`);
    let right = 0;
    pairs.forEach((p, i) => {
      const a = aligner.align(p.source, p.target);
      assert.ok(a, `pair ${i} aligns`);
      assert.deepEqual(
        Array.from(a.flatMap((c) => Array.from(c))),
        Array.from(p.target),
        'chunks spell the target',
      );
      if (a.every((c, j) => Array.from(c).join() === chunks[i][j].join())) right++;
    });
    assert.ok(right >= 0.99 * pairs.length, `${right} of ${pairs.length} aligned as spelt`);
  });

  it('Viterbi picks the most probable segmentation (brute force over all of them)', () => {
    const { pairs } = words(300, 3);
    const aligner = ChunkAligner.fit(pairs, SOUNDS.length, 6, { iterations: 2 });
    const rng = new Random(11);
    for (let trial = 0; trial < 60; trial++) {
      const S = 1 + Math.floor(rng.next() * 5);
      const T = 1 + Math.floor(rng.next() * 2 * S);
      const source = Int32Array.from({ length: S }, () => Math.floor(rng.next() * SOUNDS.length));
      const target = Int32Array.from({ length: T }, () => Math.floor(rng.next() * 6));
      let best = -Infinity;
      for (const seg of segmentations(S, T, 2)) {
        let lp = 0;
        let j = 0;
        seg.forEach((k, i) => {
          lp += Math.log(aligner.probability(source[i], Array.from(target.subarray(j, j + k))));
          j += k;
        });
        best = Math.max(best, lp);
      }
      const a = aligner.align(source, target);
      if (best === -Infinity) {
        assert.equal(a, null);
        continue;
      }
      assert.ok(a);
      const got = a.reduce((s, c, i) => s + Math.log(aligner.probability(source[i], Array.from(c))), 0);
      assert.ok(Math.abs(got - best) < 1e-9, `trial ${trial}: ${got} vs ${best}`);
    }
  });

  it('EM never lowers the likelihood, and is deterministic', () => {
    const { pairs } = words(500, 5);
    let last = -Infinity;
    for (let it = 1; it <= 6; it++) {
      const ll = ChunkAligner.fit(pairs, SOUNDS.length, 6, { iterations: it }).logLikelihood(pairs);
      assert.equal(ll.unaligned, 0);
      assert.ok(ll.logLikelihood >= last - 1e-6, `iteration ${it}: ${ll.logLikelihood} < ${last}`);
      last = ll.logLikelihood;
    }
    const again = ChunkAligner.fit(pairs, SOUNDS.length, 6, { iterations: 6 }).logLikelihood(pairs);
    assert.equal(again.logLikelihood, last);
  });

  it('a pair with more target tokens than maxChunk per source token has no alignment', () => {
    const { pairs } = words(200, 9);
    const aligner = ChunkAligner.fit(pairs, SOUNDS.length, 6, { maxChunk: 2 });
    assert.equal(aligner.align(Int32Array.from([0]), Int32Array.from([0, 1, 2])), null);
    const ll = aligner.logLikelihood([
      ...pairs,
      { source: Int32Array.from([1]), target: Int32Array.from([1, 1, 1]) },
    ]);
    assert.equal(ll.unaligned, 1);
    assert.throws(
      () => ChunkAligner.fit(pairs, SOUNDS.length, 6, { maxChunk: 3 }),
      /maxChunk must be 1 or 2/,
    );
    const one = ChunkAligner.fit(pairs, SOUNDS.length, 6, { maxChunk: 1 });
    assert.equal(one.align(Int32Array.from([3]), Int32Array.from([2, 3])), null);
  });
});
