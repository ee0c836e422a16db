/**
 * Layer.saveForwardCache / restoreForwardCache (src/layers/layer.ts), for the layers that hand out their cache — the
 * parts AttentionDecoder runs once per step (LSTM, GRU, Attention, AdditiveAttention, Dense): a backward after another
 * forward and the first forward's cache put back gives the same gradients, bit for bit, as a backward right after that
 * forward; layers without the hooks, and a cache of another layer, are refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import type { Tensor } from '../src/core/tensor.js';
import { AdditiveAttention, Attention } from '../src/layers/attention.js';
import { Dense } from '../src/layers/dense.js';
import { Dropout } from '../src/layers/dropout.js';
import { GRU } from '../src/layers/gru.js';
import type { ForwardOptions, Layer, SequenceMask } from '../src/layers/layer.js';
import { LSTM } from '../src/layers/lstm.js';
import { randomTensor } from './helpers.js';

const N = 3;
const T = 4;
const D = 5;
const H = 6;

/** Row 1 has a hole at step 1, row 2 ends after 2 steps. */
const MASK: SequenceMask = { data: Uint8Array.from([1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0]), shape: [N, T] };

interface Case {
  name: string;
  layer: () => Layer;
  /** The node's inputs and its output gradients, from a seed. */
  data: (rng: Random) => { xs: Tensor[]; dys: Tensor[] };
  opts: ForwardOptions;
}

const rnnData = (rng: Random, states: number) => ({
  xs: [randomTensor([N, T, D], rng), ...Array.from({ length: states }, () => randomTensor([N, H], rng))],
  dys: [randomTensor([N, T, H], rng), ...Array.from({ length: states }, () => randomTensor([N, H], rng))],
});
const attentionData = (rng: Random) => ({
  xs: [randomTensor([N, T, D], rng), randomTensor([N, T, D], rng)],
  dys: [randomTensor([N, T, D], rng)],
});
// Training with recurrent dropout and the mask, so the dropout and mask fields are exercised too.
const training: ForwardOptions = { training: true, seed: 9, mask: MASK, masks: [MASK, MASK] };

const CASES: Case[] = [
  {
    name: 'LSTM',
    layer: () => new LSTM({ units: H, returnSequences: true, returnState: true, recurrentDropout: 0.3 }),
    data: (rng) => rnnData(rng, 2),
    opts: training,
  },
  {
    name: 'GRU',
    layer: () => new GRU({ units: H, returnSequences: true, returnState: true, recurrentDropout: 0.3 }),
    data: (rng) => rnnData(rng, 1),
    opts: training,
  },
  { name: 'Attention', layer: () => new Attention({ useScale: true }), data: attentionData, opts: training },
  { name: 'AdditiveAttention', layer: () => new AdditiveAttention(), data: attentionData, opts: training },
  {
    name: 'Dense',
    layer: () => new Dense({ units: H, activation: 'tanh' }),
    data: (rng) => ({ xs: [randomTensor([N, T, D], rng)], dys: [randomTensor([N, T, H], rng)] }),
    opts: { training: true, seed: 9 },
  },
];

function built(c: Case): Layer {
  const layer = c.layer();
  const shapes = c.data(new Random(1)).xs.map((x) => x.shape.slice(1));
  layer.buildMany(shapes, new Random(2));
  for (const w of layer.weights) w.value.set(randomTensor([...w.shape], new Random(3), 0.7).data);
  return layer;
}

/** The input gradients and every weight's gradient of one backward. */
function backward(layer: Layer, dys: Tensor[]): number[][] {
  for (const w of layer.weights) w.grad.fill(0);
  const dxs = layer.backwardMany(dys);
  return [...dxs.map((d) => Array.from(d?.data ?? [])), ...layer.weights.map((w) => Array.from(w.grad))];
}

describe('forward cache', () => {
  for (const c of CASES)
    it(`put back after another forward, gives that forward's backward bit for bit (${c.name})`, () => {
      const layer = built(c);
      const a = c.data(new Random(5));
      const b = c.data(new Random(6));
      layer.forwardMany(a.xs, c.opts);
      const direct = backward(layer, a.dys);
      layer.forwardMany(a.xs, c.opts);
      const cache = layer.saveForwardCache();
      layer.forwardMany(b.xs, { ...c.opts, seed: 10 });
      // Without the cache the backward is the other forward's.
      assert.notDeepEqual(backward(layer, a.dys), direct);
      layer.forwardMany(b.xs, { ...c.opts, seed: 10 });
      layer.restoreForwardCache(cache);
      assert.deepEqual(backward(layer, a.dys), direct);
    });

  it("refuses layers without the hooks, and another layer's cache", () => {
    const dropout = new Dropout({ rate: 0.5, name: 'drop' });
    assert.throws(
      () => dropout.saveForwardCache(),
      /layer 'drop' \(Dropout\) cannot hand out its forward cache/,
    );
    const one = built(CASES[4]);
    const other = built(CASES[4]);
    one.forwardMany(CASES[4].data(new Random(5)).xs, CASES[4].opts);
    assert.throws(
      () => other.restoreForwardCache(one.saveForwardCache()),
      new RegExp(`layer '${other.name}': the forward cache was made by layer '${one.name}'`),
    );
  });
});
