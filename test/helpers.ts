/** Test helpers: random data, finite-difference gradient checks, comparisons. */
import assert from 'node:assert/strict';
import { scoped } from '../src/core/backend.js';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor, type AnyTensor } from '../src/core/tensor.js';
import type { Layer, SequenceMask } from '../src/layers/layer.js';
import { G2P_SETTINGS, buildSeq2SeqModel } from '../src/seq2seq/model.js';
import { Seq2Seq } from '../src/seq2seq/seq2seq.js';
import { Tokenizer } from '../src/seq2seq/tokenizer.js';

export function randomTensor(shape: number[], rng: Random, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = rng.uniform(-scale, scale);
  return new Tensor(d, shape);
}

export function randomIndices(shape: number[], vocab: number, rng: Random): IndexTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Int32Array(n);
  for (let i = 0; i < n; i++) d[i] = rng.int(vocab);
  return new IndexTensor(d, shape);
}

/** One-hot float tensor for indices (tests only: the library never builds one). */
export function oneHot(x: IndexTensor, vocab: number): Tensor {
  const out = new Float32Array(x.size * vocab);
  for (let i = 0; i < x.size; i++) out[i * vocab + x.data[i]] = 1;
  return new Tensor(out, [...x.shape, vocab]);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  const d = maxAbsDiff(actual, expected);
  assert.ok(d <= tol, `${what}: max abs diff ${d} > ${tol}`);
}

/**
 * Central-difference check of a layer's backward pass for the scalar L = Σ y ⊙ R (R fixed and random).
 * Each forward uses a fresh Random(seed) so dropout masks are identical across evaluations. Checks every weight
 * entry and every input entry (float inputs). Float32 arithmetic: eps 1e-2 on smooth functions keeps truncation error
 * ~1e-5 and rounding error ~1e-5.
 */
export function gradCheckLayer(
  layer: Layer,
  x: AnyTensor,
  opts: {
    training?: boolean;
    seed?: number;
    tol?: number;
    before?: () => void;
    kinks?: boolean;
    /** A Keras mask for every forward (recurrent layers skip masked steps). */
    mask?: SequenceMask;
  } = {},
): void {
  const training = opts.training ?? true;
  const seed = opts.seed ?? 7;
  const tol = opts.tol ?? Number(process.env.GC_RTOL ?? 1e-3);
  const atol = Number(process.env.GC_ATOL ?? 3e-4);
  if (!layer.built)
    layer.build(
      x.dtype === 'int32' ? (layer.declaredInputShape as number[]) : x.shape.slice(1),
      new Random(1),
    );
  const run = (): Tensor => {
    opts.before?.();
    return layer.forward(x, { training, seed, mask: opts.mask });
  };
  const y0 = run();
  const R = randomTensor([...y0.shape], new Random(99));
  const loss = (): number => {
    const y = run();
    let s = 0;
    for (let i = 0; i < y.size; i++) s += y.data[i] * R.data[i];
    return s;
  };
  run();
  layer.zeroGrads();
  const dx = layer.backward(R);
  const analytic = layer.weights.map((w) => w.grad.slice());
  const eps = opts.kinks ? 2e-3 : 1e-2;
  let checked = 0;
  let kinks = 0;
  /** Central difference at eps; null where eps and eps/4 disagree (a ReLU/hard-sigmoid kink lies in between). */
  const numeric = (arr: Float32Array, i: number): number | null => {
    const old = arr[i];
    const at = (h: number): number => {
      arr[i] = old + h;
      const lp = loss();
      arr[i] = old - h;
      const lm = loss();
      arr[i] = old;
      return (lp - lm) / (2 * h);
    };
    const n1 = at(eps);
    checked++;
    if (!opts.kinks) return n1;
    const n2 = at(eps / 4);
    if (Math.abs(n1 - n2) > tol * Math.max(1, Math.abs(n1))) {
      kinks++;
      return null;
    }
    return n1;
  };
  layer.weights.forEach((w, wi) => {
    for (let i = 0; i < w.value.length; i++) {
      const num = numeric(w.value, i);
      const ana = analytic[wi][i];
      if (num === null) continue;
      assert.ok(
        Math.abs(num - ana) <= atol + tol * Math.abs(num),
        `${layer.name}/${w.name}[${i}]: numeric ${num} vs analytic ${ana}`,
      );
    }
  });
  if (x instanceof Tensor) {
    assert.ok(dx, 'float input must give an input gradient');
    for (let i = 0; i < x.size; i++) {
      const num = numeric(x.data, i);
      if (num === null) continue;
      assert.ok(
        Math.abs(num - dx.data[i]) <= atol + tol * Math.abs(num),
        `${layer.name} dx[${i}]: numeric ${num} vs analytic ${dx.data[i]}`,
      );
    }
  }
  assert.ok(
    kinks <= checked * 0.2,
    `${layer.name}: ${kinks} of ${checked} entries sit on a kink; check is too weak`,
  );
}

/**
 * The layers' sequence forward at inference, one after another with Keras masking and nothing folded or stepped:
 * the oracle for Sequential.predict's inference paths (an Embedding folded into the layer after it, distinct
 * prefixes stepped once).
 */
export function layerByLayer(layers: readonly Layer[], x: AnyTensor): Float32Array {
  return scoped(() => {
    let h: AnyTensor = x;
    let mask: SequenceMask | null = null;
    for (const l of layers) {
      const inp = h;
      h = l.forward(inp, { training: false, seed: 0, mask });
      mask = l.computeMask(inp, mask);
    }
    return Float32Array.from((h as Tensor).data);
  });
}

/**
 * An untrained G2P-shaped model from the letters a, b, c to the symbols X, Y, Z (decoding tests that need outputs,
 * not good ones), and `n` seeded words of 1 to 7 of its letters.
 */
export function untrainedSpeller(
  units: number,
  embeddingDim: number,
  seed: number,
): { app: Seq2Seq; words: (n: number, seed: number) => string[] } {
  const specials = ['<pad>', '<start>', '<end>', '<unk>'];
  const src = new Tokenizer('chars', [...specials, 'a', 'b', 'c']);
  const tgt = new Tokenizer('symbols', [...specials, 'X', 'Y', 'Z']);
  const settings = { ...G2P_SETTINGS, units, embeddingDim, seed };
  const app = new Seq2Seq(buildSeq2SeqModel(settings, src.size, tgt.size), settings, src, tgt, 8, 'abc.tsv');
  const words = (n: number, seed: number): string[] => {
    const rng = new Random(seed);
    return Array.from({ length: n }, () =>
      Array.from({ length: 1 + rng.int(7) }, () => 'abc'[rng.int(3)]).join(''),
    );
  };
  return { app, words };
}
