/**
 * Fused recurrent layers against naive implementations written straight from the equations: per sample, per step,
 * per gate, in float64, with separate weight matrices per gate. Also checks the Keras initialisation defaults.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { GRU, LSTM, SimpleRNN } from '../src/layers/index.js';
import { assertClose, randomTensor } from './helpers.js';

const sig = (x: number): number => 1 / (1 + Math.exp(-x));

/** Column block g of a [rows, G·H] row-major matrix as rows×H nested arrays. */
function block(w: Float32Array, rows: number, G: number, H: number, g: number): number[][] {
  return Array.from({ length: rows }, (_, r) =>
    Array.from({ length: H }, (_, j) => w[r * G * H + g * H + j]),
  );
}
const vecmat = (v: number[], m: number[][]): number[] =>
  m[0].map((_, j) => v.reduce((s, vi, i) => s + vi * m[i][j], 0));
const add = (...vs: number[][]): number[] => vs[0].map((_, j) => vs.reduce((s, v) => s + v[j], 0));

function naiveLSTM(
  x: number[][],
  W: Float32Array,
  U: Float32Array,
  b: Float32Array,
  D: number,
  H: number,
): number[][] {
  const [Wi, Wf, Wc, Wo] = [0, 1, 2, 3].map((g) => block(W, D, 4, H, g));
  const [Ui, Uf, Uc, Uo] = [0, 1, 2, 3].map((g) => block(U, H, 4, H, g));
  const [bi, bf, bc, bo] = [0, 1, 2, 3].map((g) => Array.from(b.subarray(g * H, (g + 1) * H)));
  let h = new Array<number>(H).fill(0);
  let c = new Array<number>(H).fill(0);
  const out: number[][] = [];
  for (const xt of x) {
    const i = add(vecmat(xt, Wi), vecmat(h, Ui), bi).map(sig);
    const f = add(vecmat(xt, Wf), vecmat(h, Uf), bf).map(sig);
    const g = add(vecmat(xt, Wc), vecmat(h, Uc), bc).map(Math.tanh);
    const o = add(vecmat(xt, Wo), vecmat(h, Uo), bo).map(sig);
    c = c.map((cv, j) => f[j] * cv + i[j] * g[j]);
    h = o.map((ov, j) => ov * Math.tanh(c[j]));
    out.push(h);
  }
  return out;
}

function naiveGRU(
  x: number[][],
  W: Float32Array,
  U: Float32Array,
  b: Float32Array,
  D: number,
  H: number,
  resetAfter: boolean,
): number[][] {
  const [Wz, Wr, Wh] = [0, 1, 2].map((g) => block(W, D, 3, H, g));
  const [Uz, Ur, Uh] = [0, 1, 2].map((g) => block(U, H, 3, H, g));
  const bin = [0, 1, 2].map((g) => Array.from(b.subarray(g * H, (g + 1) * H)));
  const brec = resetAfter
    ? [0, 1, 2].map((g) => Array.from(b.subarray(3 * H + g * H, 3 * H + (g + 1) * H)))
    : null;
  let h = new Array<number>(H).fill(0);
  const out: number[][] = [];
  for (const xt of x) {
    const zero = new Array<number>(H).fill(0);
    const z = add(vecmat(xt, Wz), vecmat(h, Uz), bin[0], brec ? brec[0] : zero).map(sig);
    const r = add(vecmat(xt, Wr), vecmat(h, Ur), bin[1], brec ? brec[1] : zero).map(sig);
    const hh = resetAfter
      ? add(
          vecmat(xt, Wh),
          bin[2],
          add(vecmat(h, Uh), brec![2]).map((v, j) => r[j] * v),
        ).map(Math.tanh)
      : add(
          vecmat(xt, Wh),
          bin[2],
          vecmat(
            h.map((v, j) => r[j] * v),
            Uh,
          ),
        ).map(Math.tanh);
    h = h.map((hv, j) => z[j] * hv + (1 - z[j]) * hh[j]);
    out.push(h);
  }
  return out;
}

function naiveSimple(
  x: number[][],
  W: Float32Array,
  U: Float32Array,
  b: Float32Array,
  D: number,
  H: number,
): number[][] {
  const Wm = block(W, D, 1, H, 0);
  const Um = block(U, H, 1, H, 0);
  let h = new Array<number>(H).fill(0);
  return x.map((xt) => (h = add(vecmat(xt, Wm), vecmat(h, Um), Array.from(b)).map(Math.tanh)));
}

describe('fused kernels match naive per-gate implementations', () => {
  const N = 3;
  const T = 5;
  const D = 4;
  const H = 6;
  const x = randomTensor([N, T, D], new Random(1));
  const seqs = Array.from({ length: N }, (_, n) =>
    Array.from({ length: T }, (_, t) => Array.from(x.data.subarray((n * T + t) * D, (n * T + t + 1) * D))),
  );
  const randomize = (layer: LSTM | GRU | SimpleRNN): void => {
    layer.build([T, D], new Random(2));
    const rng = new Random(3);
    for (const w of layer.weights)
      for (let i = 0; i < w.value.length; i++) w.value[i] = rng.uniform(-0.5, 0.5);
  };
  const flat = (a: number[][][]): number[] => a.flat(2);

  it('LSTM', () => {
    const layer = new LSTM({ units: H, returnSequences: true });
    randomize(layer);
    const [W, U, b] = layer.weights.map((w) => w.value);
    const y = layer.forward(x, { training: false, seed: 0 });
    assertClose(y.data, flat(seqs.map((s) => naiveLSTM(s, W, U, b, D, H))), 1e-5, 'lstm outputs');
  });
  for (const resetAfter of [true, false]) {
    it(`GRU resetAfter=${resetAfter}`, () => {
      const layer = new GRU({ units: H, returnSequences: true, resetAfter });
      randomize(layer);
      const [W, U, b] = layer.weights.map((w) => w.value);
      const y = layer.forward(x, { training: false, seed: 0 });
      assertClose(y.data, flat(seqs.map((s) => naiveGRU(s, W, U, b, D, H, resetAfter))), 1e-5, 'gru outputs');
    });
  }
  it('SimpleRNN', () => {
    const layer = new SimpleRNN({ units: H, returnSequences: true });
    randomize(layer);
    const [W, U, b] = layer.weights.map((w) => w.value);
    const y = layer.forward(x, { training: false, seed: 0 });
    assertClose(y.data, flat(seqs.map((s) => naiveSimple(s, W, U, b, D, H))), 1e-5, 'simple rnn outputs');
  });
  it('goBackwards processes the reversed sequence and returns outputs in processing order', () => {
    const layer = new LSTM({ units: H, returnSequences: true, goBackwards: true });
    randomize(layer);
    const [W, U, b] = layer.weights.map((w) => w.value);
    const y = layer.forward(x, { training: false, seed: 0 });
    assertClose(y.data, flat(seqs.map((s) => naiveLSTM([...s].reverse(), W, U, b, D, H))), 1e-5, 'reversed');
  });
});

describe('Keras initialisation defaults', () => {
  it('LSTM: glorot-uniform kernel, orthogonal recurrent kernel, unit forget bias', () => {
    const D = 30;
    const H = 20;
    const layer = new LSTM({ units: H });
    layer.build([5, D], new Random(4));
    const [W, U, b] = layer.weights.map((w) => w.value);
    const limit = Math.sqrt(6 / (D + 4 * H));
    assert.ok(W.every((v) => Math.abs(v) <= limit));
    assert.ok(Math.max(...W.map(Math.abs)) > 0.9 * limit, 'kernel should fill the glorot range');
    // U is [H, 4H] with orthonormal rows: U·Uᵀ = I.
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < H; j++) {
        let d = 0;
        for (let k = 0; k < 4 * H; k++) d += U[i * 4 * H + k] * U[j * 4 * H + k];
        assert.ok(Math.abs(d - (i === j ? 1 : 0)) < 1e-5, `U·Uᵀ[${i},${j}] = ${d}`);
      }
    }
    assert.deepEqual(Array.from(b), [...Array(H).fill(0), ...Array(H).fill(1), ...Array(2 * H).fill(0)]);
    assert.equal(layer.recurrentActivation, 'sigmoid');
  });
  it('unitForgetBias: false leaves the bias at zero; GRU resetAfter bias is [2, 3H]', () => {
    const l = new LSTM({ units: 3, unitForgetBias: false });
    l.build([2, 2], new Random(5));
    assert.ok(l.weights[2].value.every((v) => v === 0));
    const g = new GRU({ units: 3 });
    g.build([2, 2], new Random(5));
    assert.deepEqual(g.weights[2].shape, [2, 9]);
    assert.equal(g.resetAfter, true);
  });
});
