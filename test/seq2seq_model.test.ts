/**
 * The model side of seq2seq: the masked loss (finite differences through a whole encoder–decoder, and padding that
 * cannot matter), attention under masks (gradient check, masked value steps get no weight), the graph stepper against
 * the full-sequence forward pass, narrowing a stepper to fewer rows (exact), greedy decoding that narrows against the
 * plain loop over all rows (bit-identical), greedy = beam width 1, beam search against brute-force enumeration, resume
 * exactness of Functional.fitDataset, a save/load round trip that decodes identically, and TensorFlow.js loading the
 * attention-free models recur saves (tfjs has no Attention layer) with the same predictions under masks. The
 * regularisation options (embedding, encoder-output and recurrent dropout, label smoothing): finite differences in
 * training mode with the masks fixed, inference untouched, files round-trip, older settings load with them off. The
 * post-attention RNN: finite differences, step = forward, greedy = the forward pass's argmax on its own output, beam
 * = brute force, decoding steps it once per token (no prefix re-run), save/load round trip. Seed ensembles: one member
 * decodes as the model, two follow their averaged distribution (greedy and beam search against brute force on each
 * member's whole forward pass). Input feeding (the AttentionDecoder layer) runs through the variants, the ensemble's
 * greedy decoding and agreement decoding.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, mock } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { kernels, scoped } from '../src/core/backend.js';
import { WasmKernels } from '../src/core/wasm/wasm_kernels.js';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor, type AnyTensor } from '../src/core/tensor.js';
import { AdditiveAttention, Attention } from '../src/layers/attention.js';
import { Functional } from '../src/models/functional.js';
import { GraphStepper } from '../src/models/graph_stepper.js';
import { Adam, SGD } from '../src/models/optimizers.js';
import { parseFunctionalModelJson } from '../src/models/functional_serialization.js';
import { loadFunctionalModel, readModelFiles, saveModel } from '../src/node/model_io.js';
import { PairDataset, encodePairs, pairBatch, sourceBatch } from '../src/seq2seq/data.js';
import {
  agreementDecode,
  beamDecode,
  decodingOrder,
  greedyDecode,
  lengthPenalty,
  nBestDecode,
  rescoreDecode,
  scoreTargets,
  StepperCache,
  type CandidateScorer,
  type Decoded,
} from '../src/seq2seq/decode.js';
import { bleu, chrF } from '../src/seq2seq/metrics.js';
import {
  G2P_SETTINGS,
  Seq2SeqSettingsSchema,
  buildSeq2SeqModel,
  type Seq2SeqSettings,
} from '../src/seq2seq/model.js';
import { fitJointNgram, type JointNgram } from '../src/seq2seq/joint_ngram.js';
import { CMUDICT_DATA, Seq2Seq, parseSeq2SeqMetadata } from '../src/seq2seq/seq2seq.js';
import { END, PAD, START, UNK, Tokenizer } from '../src/seq2seq/tokenizer.js';
import { randomTensor } from './helpers.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tiny(
  overrides: Partial<Seq2SeqSettings> = {},
  Vs = 7,
  Vt = 6,
  weightSeed = 11,
  weightScale = 0.8,
): Functional {
  const s: Seq2SeqSettings = {
    ...G2P_SETTINGS,
    units: 5,
    embeddingDim: 4,
    // No regularisation unless asked: inference-mode finite differences must see the training-mode function.
    dropout: 0,
    embeddingDropout: 0,
    encoderDropout: 0,
    recurrentDropout: 0,
    labelSmoothing: 0,
    clipnorm: null,
    seed: 3,
    ...overrides,
  };
  const m = buildSeq2SeqModel(s, Vs, Vt);
  // Larger weights than the initialisers give, so the outputs depend strongly on every input.
  const rng = new Random(weightSeed);
  m.setWeights(m.getWeights().map((w) => randomTensor([...w.shape], rng, weightScale)));
  return m;
}

/** Random pairs over ids 4…V−1 (no specials), with lengths in [1, maxLen]. */
function randomPairs(
  n: number,
  Vs: number,
  Vt: number,
  seed: number,
  maxLen = 5,
): { sources: Int32Array[]; targets: Int32Array[] } {
  const rng = new Random(seed);
  const seq = (V: number): Int32Array =>
    Int32Array.from({ length: 1 + rng.int(maxLen) }, () => 4 + rng.int(V - 4));
  const sources: Int32Array[] = [];
  const targets: Int32Array[] = [];
  for (let i = 0; i < n; i++) {
    sources.push(seq(Vs));
    targets.push(seq(Vt));
  }
  return { sources, targets };
}

const VARIANTS: [string, Partial<Seq2SeqSettings>][] = [
  ['BiLSTM + Luong', {}],
  ['GRU + Bahdanau', { cell: 'gru', attention: 'bahdanau' }],
  [
    '2-layer LSTM, no attention (lstm_seq2seq)',
    { bidirectional: false, attention: 'none', encoderLayers: 2 },
  ],
  ['BiLSTM + Luong + post-attention LSTM', { postAttentionUnits: 6 }],
  [
    '2-layer BiGRU + Bahdanau + post-attention GRU',
    { cell: 'gru', attention: 'bahdanau', encoderLayers: 2, postAttentionUnits: 4 },
  ],
  ['BiLSTM + Luong, input feeding', { inputFeeding: true }],
  [
    'GRU + Bahdanau, input feeding',
    { cell: 'gru', attention: 'bahdanau', bidirectional: false, inputFeeding: true },
  ],
];

describe('masked loss', () => {
  for (const [name, o] of VARIANTS) {
    it(`matches finite differences through the whole encoder–decoder (${name})`, () => {
      const m = tiny(o);
      m.compile({ optimizer: new SGD({ learningRate: 1 }), loss: 'sparseCategoricalCrossentropy' });
      const data = randomPairs(4, 7, 6, 5);
      const { xs, ys } = pairBatch(data, [0, 1, 2, 3]);
      // Padding is present: the targets' lengths differ.
      assert.ok(ys[0].data.some((v) => v === PAD));
      const before = m.getWeights();
      m.trainOnBatch(xs, ys);
      const after = m.getWeights();
      m.setWeights(before);
      const loss = (): number => m.evaluate(xs, ys).loss;
      const eps = 1e-2;
      const rng = new Random(1);
      const weights = m.namedWeights();
      let checked = 0;
      weights.forEach(({ name: wn, weight }, wi) => {
        // A few entries of every weight: the analytic gradient is before − after (SGD, rate 1).
        for (let k = 0; k < 3; k++) {
          const i = rng.int(weight.value.length);
          const old = weight.value[i];
          weight.value[i] = old + eps;
          const lp = loss();
          weight.value[i] = old - eps;
          const lm = loss();
          weight.value[i] = old;
          const num = (lp - lm) / (2 * eps);
          const ana = before[wi].data[i] - after[wi].data[i];
          assert.ok(
            Math.abs(num - ana) <= 5e-4 + 2e-2 * Math.abs(num),
            `${wn}[${i}]: numeric ${num} vs analytic ${ana}`,
          );
          checked++;
        }
      });
      assert.ok(checked > 20);
    });
  }

  it('ignores whatever the padding positions of the targets and the inputs hold', () => {
    const m = tiny();
    m.compile({
      optimizer: new SGD({ learningRate: 0.1 }),
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['acc'],
    });
    const data = randomPairs(6, 7, 6, 9);
    const { xs, ys } = pairBatch(data, [0, 1, 2, 3, 4, 5]);
    const base = m.evaluate(xs, ys);
    // Padding target labels changed to real classes: the loss must not move.
    const y2 = new Int32Array(ys[0].data);
    const dec = xs[1].data;
    for (let i = 0; i < y2.length; i++) if (dec[i] === PAD) y2[i] = 5;
    const changed = m.evaluate(xs, [new IndexTensor(y2, [...ys[0].shape])]);
    assert.equal(changed.loss, base.loss);
    assert.equal(changed.acc, base.acc);
    // More padding on both sides (longer batch): same loss up to float rounding.
    const S = xs[0].shape[1];
    const T = xs[1].shape[1];
    const pad = (t: IndexTensor, extra: number): IndexTensor => {
      const [N, L] = t.shape;
      const out = new Int32Array(N * (L + extra));
      for (let n = 0; n < N; n++) out.set(t.data.subarray(n * L, (n + 1) * L), n * (L + extra));
      return new IndexTensor(out, [N, L + extra]);
    };
    const padded = m.evaluate(
      [pad(xs[0] as IndexTensor, 3), pad(xs[1] as IndexTensor, 2)],
      [pad(ys[0] as IndexTensor, 2)],
    );
    assert.ok(Math.abs(padded.loss - base.loss) < 1e-5, `${padded.loss} vs ${base.loss} (S ${S}, T ${T})`);
  });
});

describe('attention under masks', () => {
  for (const make of [() => new Attention({ useScale: true }), () => new AdditiveAttention({})]) {
    const layer = make();
    it(`${layer.className}: masked value steps get no weight; gradients match finite differences`, () => {
      const rng = new Random(4);
      const q = randomTensor([2, 3, 4], rng);
      const v = randomTensor([2, 5, 4], rng);
      layer.buildMany(
        [
          [3, 4],
          [5, 4],
        ],
        new Random(2),
      );
      const vMask = {
        data: Uint8Array.from([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]),
        shape: [2, 5] as [number, number],
      };
      const qMask = { data: Uint8Array.from([1, 1, 0, 1, 1, 1]), shape: [2, 3] as [number, number] };
      const masks = [qMask, vMask];
      const run = (vv: Tensor): Tensor => layer.forwardMany([q, vv], { training: false, seed: 0, masks })[0];
      const y = run(v);
      // Changing the masked value steps (row 0, steps 3 and 4) changes nothing.
      const v2 = new Tensor(v.data.slice(), v.shape);
      for (let i = 3 * 4; i < 5 * 4; i++) v2.data[i] += 3;
      assert.deepEqual(Array.from(run(v2).data), Array.from(y.data));
      // A masked query step's output is zero.
      for (let d = 0; d < 4; d++) assert.equal(y.data[2 * 4 + d], 0);
      // Finite differences of L = Σ y ⊙ R.
      const R = randomTensor([2, 3, 4], new Random(8));
      const loss = (): number => run(v).data.reduce((s, x, i) => s + x * R.data[i], 0);
      run(v);
      layer.zeroGrads();
      const [dq, dv] = layer.backwardMany([R]);
      const eps = 1e-2;
      for (const [x, dx] of [
        [q, dq],
        [v, dv],
      ] as const) {
        for (let i = 0; i < x.size; i++) {
          const old = x.data[i];
          x.data[i] = old + eps;
          const lp = loss();
          x.data[i] = old - eps;
          const lm = loss();
          x.data[i] = old;
          const num = (lp - lm) / (2 * eps);
          assert.ok(
            Math.abs(num - dx!.data[i]) <= 3e-4 + 1e-3 * Math.abs(num),
            `[${i}] ${num} vs ${dx!.data[i]}`,
          );
        }
      }
    });
  }
});

describe('inference folds the source Embedding into the encoder', () => {
  for (const [name, o] of VARIANTS) {
    it(`predicts as the unfolded graph does, masks included (${name})`, () => {
      const m = tiny(o);
      const data = randomPairs(9, 7, 6, 71, 6);
      const { xs } = pairBatch(data, Array.from(data.sources.keys()));
      const feeds = new Map(m.inputs.map((x, i) => [x, xs[i]] as const));
      // The first reader of the source embedding records whether it was handed the lookup.
      const reader = m.nodes.find((n) => n.inputs.some((x) => x.node.layer.name === 'source_embedding'))!;
      const seen: boolean[] = [];
      const forwardMany = reader.layer.forwardMany.bind(reader.layer);
      reader.layer.forwardMany = (ins, opts) => {
        seen.push(opts.inputLookup !== undefined);
        return forwardMany(ins, opts);
      };
      const run = (training: boolean): number[] =>
        scoped(() =>
          Array.from((m.runNodes(feeds, m.nodes, { training }).values.get(m.outputs[0]) as Tensor).data),
        );
      // No dropout in these models, so the training-mode pass is the same function, unfolded.
      const unfolded = run(true);
      const folded = run(false);
      assert.deepEqual(seen, [false, true]);
      folded.forEach((v, i) =>
        assert.ok(Math.abs(v - unfolded[i]) < 1e-6, `output ${i}: ${v} vs ${unfolded[i]}`),
      );
    });
  }
});

describe('graph stepper', () => {
  for (const [name, o] of VARIANTS) {
    it(`steps the decoder exactly as the full-sequence forward pass (${name})`, () => {
      const m = tiny(o);
      const data = randomPairs(5, 7, 6, 21);
      const rows = [0, 1, 2, 3, 4];
      const { xs } = pairBatch(data, rows);
      const full = m.predict(xs) as Tensor; // [N, T, V] probabilities
      const [N, T, V] = full.shape;
      const stepper = new GraphStepper(m, N, { stepInput: 'previous', logits: false });
      stepper.start([xs[0]]);
      const dec = xs[1].data;
      for (let t = 0; t < T; t++) {
        const ids = Int32Array.from({ length: N }, (_, n) => (dec[n * T + t] === PAD ? END : dec[n * T + t]));
        const p = stepper.step(ids);
        for (let n = 0; n < N; n++) {
          if (dec[n * T + t] === PAD) continue; // past this row's end
          for (let v = 0; v < V; v++) {
            const a = p[n * V + v];
            const b = full.data[(n * T + t) * V + v];
            assert.ok(Math.abs(a - b) < 2e-6, `row ${n} step ${t} token ${v}: step ${a} vs forward ${b}`);
          }
        }
      }
    });
  }

  for (const [name, o] of VARIANTS) {
    it(`narrowInto continues the chosen rows exactly as the wider stepper does (${name})`, () => {
      const m = tiny(o);
      const data = randomPairs(12, 7, 6, 31);
      const rng = new Random(5);
      const wide = new GraphStepper(m, 12, { stepInput: 'previous' });
      wide.start([sourceBatch(data.sources)]);
      const tokens = (n: number): Int32Array => Int32Array.from({ length: n }, () => 4 + rng.int(2));
      for (let t = 0; t < 3; t++) wide.step(t === 0 ? new Int32Array(12).fill(START) : tokens(12));
      const kept = Int32Array.from([9, 2, 7]);
      const narrow = new GraphStepper(m, 4, { stepInput: 'previous' });
      wide.narrowInto(narrow, kept);
      const V = wide.outputSize;
      for (let t = 0; t < 3; t++) {
        const ids = tokens(12);
        const w = wide.step(ids).slice();
        const n = narrow.step(Int32Array.from([...kept, kept[0]], (r) => ids[r]));
        kept.forEach((r, i) =>
          assert.deepEqual(
            Array.from(n.subarray(i * V, (i + 1) * V)),
            Array.from(w.subarray(r * V, (r + 1) * V)),
            `step ${t}: narrowed row ${i} (wide row ${r})`,
          ),
        );
      }
      assert.throws(
        () => wide.narrowInto(narrow, Int32Array.from([0, 1, 2, 3, 4])),
        /5 rows for a stepper of 4/,
      );
    });
  }

  for (const [name, o] of VARIANTS) {
    it(`startFrom steps on another stepper's encoder outputs exactly as a start of its own (${name})`, () => {
      const m = tiny(o);
      const data = randomPairs(6, 7, 6, 33);
      const rng = new Random(7);
      const searched = new GraphStepper(m, 6, { stepInput: 'previous' });
      searched.start([sourceBatch(data.sources)]);
      searched.step(new Int32Array(6).fill(START)); // its own steps do not touch what startFrom reads
      // Rows reading sources in another order, one source twice, one not at all: as candidates of a batch.
      const rowSource = Int32Array.from([4, 0, 4, 2, 5]);
      const reused = new GraphStepper(m, 5, { stepInput: 'previous' });
      reused.startFrom(searched, rowSource);
      const own = new GraphStepper(m, 5, { stepInput: 'previous' });
      own.start([sourceBatch(data.sources)], rowSource);
      let ids = new Int32Array(5).fill(START);
      for (let t = 0; t < 4; t++) {
        assert.deepEqual(Array.from(reused.step(ids)), Array.from(own.step(ids)), `step ${t}`);
        ids = Int32Array.from({ length: 5 }, () => 4 + rng.int(2));
      }
      assert.throws(
        () => reused.startFrom(new GraphStepper(m, 6, { stepInput: 'previous' }), rowSource),
        /start\(\) the other stepper/,
      );
      assert.throws(
        () => reused.startFrom(searched, Int32Array.from([0, 1, 2, 3, 6])),
        /outside the 6 given/,
      );
      assert.throws(
        () => reused.startFrom(new GraphStepper(tiny(o), 6, { stepInput: 'previous' }), rowSource),
        /different models/,
      );
    });
  }

  for (const [name, o] of [
    ...VARIANTS,
    ['BiLSTM + Luong, embedding dropout', { embeddingDropout: 0.3 }],
  ] as const) {
    it(`folds the decoder's Embedding into the layer reading it, with the same outputs (${name})`, () => {
      const m = tiny(o);
      const data = randomPairs(8, 7, 6, 41);
      const rng = new Random(6);
      for (const rows of [8, 2]) {
        const folded = new GraphStepper(m, rows, { stepInput: 'previous' });
        const plain = new GraphStepper(m, rows, { stepInput: 'previous', foldLookups: false });
        // A Dropout between the Embedding and its reader (identity when stepping) is not folded through, nor is the
        // input-feeding decoder's input ([embedding; ã_{t−1}]: no table of the ids alone).
        const foldable = !('embeddingDropout' in o) && o.inputFeeding !== true;
        assert.deepEqual(
          folded.steppedLayers,
          plain.steppedLayers.filter((l) => !(foldable && l === 'target_embedding')),
        );
        assert.ok(plain.steppedLayers.includes('target_embedding'));
        const sources = sourceBatch(data.sources.slice(0, rows));
        folded.start([sources]);
        plain.start([sources]);
        for (let t = 0; t < 4; t++) {
          const ids = Int32Array.from({ length: rows }, () => (t === 0 ? START : 4 + rng.int(2)));
          const a = Array.from(folded.step(ids));
          const b = Array.from(plain.step(ids));
          if (rows >= 4) assert.deepEqual(a, b, `${rows} rows, step ${t}`);
          else
            a.forEach((v, i) =>
              assert.ok(Math.abs(v - b[i]) < 1e-5, `${rows} rows, step ${t}: ${v} vs ${b[i]}`),
            );
        }
      }
    });
  }

  it("decoding gives its steppers' kernel memory back: many calls keep it flat; a disposed stepper refuses work", () => {
    const m = tiny({}, 7, 6);
    const data = randomPairs(10, 7, 6, 51);
    const opts = { maxLength: 8, batchSize: 4 };
    const first = greedyDecode(m, data.sources, opts);
    beamDecode(m, data.sources, { ...opts, width: 3 });
    const k = kernels();
    const high = k instanceof WasmKernels ? k.memoryBytes : 0;
    for (let i = 0; i < 30; i++) {
      assert.deepEqual(greedyDecode(m, data.sources, opts), first);
      beamDecode(m, data.sources, { ...opts, width: 3 });
    }
    // The reference kernels' buffers are plain arrays, reclaimed by the garbage collector.
    if (k instanceof WasmKernels) assert.equal(k.memoryBytes, high, 'kernel memory grew with the calls');
    const stepper = new GraphStepper(m, 4, { stepInput: 'previous' });
    stepper.start([sourceBatch(data.sources.slice(0, 4))]);
    stepper.step(new Int32Array(4).fill(START));
    stepper.dispose();
    assert.throws(() => stepper.step(new Int32Array(4).fill(START)), /the stepper was disposed/);
    assert.throws(() => stepper.start([sourceBatch(data.sources.slice(0, 4))]), /the stepper was disposed/);
  });

  it("steppers kept from call to call (StepperCache) give fresh ones' outputs, whatever the calls' sizes", () => {
    const forward = tiny({}, 7, 6);
    const reversed = tiny({}, 7, 6, 12);
    const data = randomPairs(40, 7, 6, 52);
    const sides = [
      { models: [forward], reversed: false },
      { models: reversed, reversed: true },
    ];
    const cache = new StepperCache();
    // Calls that shrink and grow again: narrowed and regrown batches, encoder buffers grown after smaller batches.
    for (const [from, n] of [
      [0, 40],
      [5, 3],
      [1, 17],
      [9, 1],
      [0, 40],
    ]) {
      const sources = data.sources.slice(from, from + n);
      for (const width of [1, 3]) {
        const opts = { maxLength: 8, batchSize: 8, width };
        const kept = { ...opts, steppers: cache };
        // One cache for several models: each model's own steppers.
        for (const m of [forward, reversed])
          assert.deepEqual(beamDecode(m, sources, kept), beamDecode(m, sources, opts));
        assert.deepEqual(
          greedyDecode([forward, reversed], sources, kept),
          greedyDecode([forward, reversed], sources, opts),
        );
        assert.deepEqual(rescoreDecode(sides, sources, kept), rescoreDecode(sides, sources, opts));
      }
    }
    // A call like an earlier one builds no stepper: it packs only what its encoder packs per batch.
    const k = kernels();
    const pack = mock.method(k, 'packGemmB');
    try {
      rescoreDecode(sides, data.sources, { maxLength: 8, batchSize: 8, width: 3, steppers: cache });
      const kept = pack.mock.callCount();
      pack.mock.resetCalls();
      rescoreDecode(sides, data.sources, { maxLength: 8, batchSize: 8, width: 3 });
      assert.ok(
        kept < pack.mock.callCount(),
        `${kept} packings with kept steppers, ${pack.mock.callCount()} without`,
      );
    } finally {
      pack.mock.restore();
    }
    cache.dispose();
    assert.deepEqual(
      greedyDecode(forward, data.sources, { maxLength: 8, steppers: cache }),
      greedyDecode(forward, data.sources, { maxLength: 8 }),
    );
    cache.dispose();
  });

  it('does not fold a lookup whose table would cost more than a few steps (a word vocabulary)', () => {
    const m = tiny({}, 7, 40);
    // 40 target ids: folded for 5 rows (40 ≤ 8 × 5), not for 4.
    assert.ok(!new GraphStepper(m, 5, { stepInput: 'previous' }).steppedLayers.includes('target_embedding'));
    assert.ok(new GraphStepper(m, 4, { stepInput: 'previous' }).steppedLayers.includes('target_embedding'));
    // Greedy batches of 16 narrow from folded steppers (16 and 8 rows) to an unfolded one (4 rows), with the
    // outputs of batches of 4, never folded. Trained briefly to copy, so that rows end at different steps.
    m.compile({ optimizer: new Adam({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy' });
    const data = randomPairs(40, 7, 40, 61, 6);
    data.targets = data.sources.map((x) => x.map((v) => v + 10));
    const all = pairBatch(data, Array.from(data.sources.keys()));
    for (let i = 0; i < 60; i++) m.trainOnBatch(all.xs, all.ys);
    const opts = { maxLength: 9 };
    const wide = greedyDecode(m, data.sources, { ...opts, batchSize: 16 });
    assert.ok(
      new Set(wide.map((d) => d.ids.length)).size > 2,
      'rows end at different steps, so batches narrow',
    );
    assert.deepEqual(wide, greedyDecode(m, data.sources, { ...opts, batchSize: 4 }));
  });

  it('greedy decoding steps fewer rows as rows end, with the outputs and scores of stepping them all', () => {
    // Trained briefly to copy (target length = source length), so that rows end at different steps.
    const m = tiny();
    m.compile({ optimizer: new Adam({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy' });
    const data = randomPairs(40, 7, 6, 41, 6);
    data.targets = data.sources.map((x) => x.map((v) => 4 + ((v - 4) % 2)));
    const all = pairBatch(data, Array.from(data.sources.keys()));
    for (let i = 0; i < 60; i++) m.trainOnBatch(all.xs, all.ys);
    const maxLength = 9;
    // The plain loop: one stepper of all 40 rows, every row stepped until the last one ends.
    const stepper = new GraphStepper(m, 40, { stepInput: 'previous' });
    const order = decodingOrder(data.sources);
    stepper.start([sourceBatch(Array.from(order, (j) => data.sources[j]))]);
    const V = stepper.outputSize;
    const ids = new Int32Array(40).fill(START);
    const plain = Array.from({ length: 40 }, () => ({ ids: [] as number[], score: 0, done: false }));
    const ended: number[] = [];
    for (let t = 0; t < maxLength && plain.some((p) => !p.done); t++) {
      const logits = stepper.step(ids);
      plain.forEach((p, r) => {
        if (p.done) return;
        const row = logits.subarray(r * V, (r + 1) * V);
        let max = -Infinity;
        for (const x of row) max = Math.max(max, x);
        let sum = 0;
        for (const x of row) sum += Math.exp(x - max);
        let best = -1;
        for (let v = 0; v < V; v++)
          if (v !== PAD && v !== START && v !== UNK && (best < 0 || row[v] > row[best])) best = v;
        p.score += row[best] - (max + Math.log(sum));
        ids[r] = best;
        if (best === END) p.done = true;
        else p.ids.push(best);
      });
      ended.push(plain.filter((p) => p.done).length);
    }
    assert.ok(
      ended.some((n) => n >= 20 && n <= 36),
      `some step leaves 4–20 rows open, so decoding narrows (ended per step: ${ended.join(', ')})`,
    );
    const g = greedyDecode(m, data.sources, { maxLength, batchSize: 64 });
    order.forEach((j, r) => {
      assert.deepEqual(Array.from(g[j].ids), plain[r].ids, `source ${j}`);
      assert.equal(g[j].score, plain[r].score, `source ${j}`);
    });
  });

  it('decodes rows of the same source identically and follows reorder', () => {
    const m = tiny();
    const data = randomPairs(2, 7, 6, 2);
    const stepper = new GraphStepper(m, 4, { stepInput: 'previous' });
    stepper.start([sourceBatch(data.sources)], Int32Array.from([0, 0, 1, 1]));
    const a = stepper.step(Int32Array.from([START, START, START, START])).slice();
    const V = stepper.outputSize;
    assert.deepEqual(Array.from(a.subarray(0, V)), Array.from(a.subarray(V, 2 * V)));
    // Rows 0 and 1 of source 0 take different tokens, then row 1 continues from row 0.
    stepper.step(Int32Array.from([4, 5, 4, 4]));
    stepper.reorder(Int32Array.from([0, 0, 2, 3]));
    const b = stepper.step(Int32Array.from([5, 5, 5, 5]));
    assert.deepEqual(Array.from(b.subarray(0, V)), Array.from(b.subarray(V, 2 * V)));
  });
});

/** Every finished hypothesis up to maxLen tokens, scored as beam search scores them; the best one. */
function bruteForce(
  m: Functional,
  source: Int32Array,
  maxLen: number,
  alpha: number,
): { ids: number[]; score: number } {
  const V = 6;
  const allowed = [END, ...Array.from({ length: V - 4 }, (_, i) => 4 + i)];
  let best = { ids: [] as number[], score: -Infinity };
  const logProbs = (prefix: number[]): Float64Array => {
    const stepper = new GraphStepper(m, 1, { stepInput: 'previous' });
    stepper.start([sourceBatch([source])]);
    let logits: Float32Array = stepper.step(Int32Array.from([START]));
    for (const t of prefix) logits = stepper.step(Int32Array.from([t]));
    let max = -Infinity;
    for (const x of logits) max = Math.max(max, x);
    const lse = max + Math.log(logits.reduce((s, x) => s + Math.exp(x - max), 0));
    return Float64Array.from(logits, (x) => x - lse);
  };
  const visit = (prefix: number[], logp: number): void => {
    const lp = logProbs(prefix);
    for (const v of allowed) {
      const total = logp + lp[v];
      if (v === END) {
        const score = total / lengthPenalty(prefix.length + 1, alpha);
        if (score > best.score) best = { ids: prefix, score };
      } else if (prefix.length + 1 === maxLen) {
        const score = total / lengthPenalty(maxLen, alpha);
        if (score > best.score) best = { ids: [...prefix, v], score };
      } else visit([...prefix, v], total);
    }
  };
  visit([], 0);
  return best;
}

describe('decoding', () => {
  it('beam search as wide as the search space finds the brute-force best (with and without length penalty)', () => {
    const m = tiny({}, 7, 6); // 2 real target tokens + <end>
    const data = randomPairs(3, 7, 6, 33);
    for (const alpha of [0, 0.6, 2]) {
      const out = beamDecode(m, data.sources, { width: 16, maxLength: 3, lengthPenalty: alpha });
      data.sources.forEach((s, i) => {
        const bf = bruteForce(m, s, 3, alpha);
        assert.deepEqual(Array.from(out[i].ids), bf.ids, `source ${i}, α ${alpha}`);
        assert.ok(
          Math.abs(out[i].score - bf.score) < 1e-5,
          `source ${i}, α ${alpha}: ${out[i].score} vs ${bf.score}`,
        );
      });
    }
  });

  it('greedy equals beam width 1 (no length penalty), batched in any batch size', () => {
    const m = tiny();
    const data = randomPairs(9, 7, 6, 17, 6);
    const g = greedyDecode(m, data.sources, { maxLength: 8, batchSize: 4 });
    const b = beamDecode(m, data.sources, { width: 1, maxLength: 8, lengthPenalty: 0, batchSize: 3 });
    const one = data.sources.map((s) => greedyDecode(m, [s], { maxLength: 8 })[0]);
    g.forEach((d, i) => {
      assert.deepEqual(Array.from(d.ids), Array.from(b[i].ids), `source ${i}`);
      assert.ok(Math.abs(d.score - b[i].score) < 1e-5); // row counts differ: float sums may round apart
      assert.deepEqual(Array.from(d.ids), Array.from(one[i].ids));
    });
  });

  it('decodes in order of source length (ties in input order) and answers in input order', () => {
    const ids = (n: number): Int32Array => new Int32Array(n).fill(5);
    assert.deepEqual(Array.from(decodingOrder([ids(3), ids(1), ids(3), ids(2), ids(1)])), [1, 4, 3, 0, 2]);
    const m = tiny();
    const data = randomPairs(11, 7, 6, 23, 6);
    assert.ok(new Set(data.sources.map((s) => s.length)).size > 2, 'sources of several lengths');
    // The same sources in reverse: batched by length again, each answer comes back at its source's place.
    const forward = greedyDecode(m, data.sources, { maxLength: 8, batchSize: 3 });
    const backward = greedyDecode(m, [...data.sources].reverse(), { maxLength: 8, batchSize: 3 }).reverse();
    forward.forEach((d, i) =>
      assert.deepEqual(Array.from(d.ids), Array.from(backward[i].ids), `source ${i}`),
    );
  });

  it('wider beams never score worse than greedy (α = 0)', () => {
    const m = tiny();
    const data = randomPairs(6, 7, 6, 5, 6);
    const g = greedyDecode(m, data.sources, { maxLength: 6 });
    const b = beamDecode(m, data.sources, { width: 4, maxLength: 6, lengthPenalty: 0 });
    g.forEach((d, i) => assert.ok(b[i].score >= d.score - 1e-9, `source ${i}: ${b[i].score} < ${d.score}`));
  });
});

/**
 * The next-token log-probabilities of a seed ensemble after `prefix`, computed the slow way: each member's whole
 * forward pass on [source, <start> + prefix] (no stepper), its last step's probabilities averaged in float64.
 */
function averagedLogProbs(members: Functional[], source: Int32Array, prefix: number[]): Float64Array {
  const previous = new IndexTensor(Int32Array.from([START, ...prefix]), [1, prefix.length + 1]);
  let mean: Float64Array | null = null;
  for (const m of members) {
    const p = m.predict([sourceBatch([source]), previous]) as Tensor; // [1, T, V] probabilities
    const V = p.shape[2];
    const last = p.data.subarray(prefix.length * V, (prefix.length + 1) * V);
    mean ??= new Float64Array(V);
    for (let v = 0; v < V; v++) mean[v] += last[v] / members.length;
  }
  return mean!.map(Math.log);
}

describe('seed ensembles (members decoded with their next-token probabilities averaged)', () => {
  const emittable = (v: number): boolean => v !== PAD && v !== START && v !== UNK;

  it('an ensemble of one decodes exactly as its member; of two copies, as the member', () => {
    const m = tiny({ postAttentionUnits: 4 });
    const data = randomPairs(7, 7, 6, 41, 6);
    for (const d of [
      (x: Functional | Functional[]) => greedyDecode(x, data.sources, { maxLength: 7, batchSize: 3 }),
      (x: Functional | Functional[]) => beamDecode(x, data.sources, { maxLength: 7, width: 3 }),
    ]) {
      const alone = d(m);
      const one = d([m]);
      const two = d([m, m]);
      alone.forEach((a, i) => {
        assert.deepEqual(Array.from(one[i].ids), Array.from(a.ids), `source ${i}`);
        assert.equal(one[i].score, a.score);
        assert.deepEqual(Array.from(two[i].ids), Array.from(a.ids), `source ${i} (two copies)`);
        assert.ok(Math.abs(two[i].score - a.score) < 1e-9, `${two[i].score} vs ${a.score}`);
      });
    }
  });

  for (const [what, o] of [
    ['', {}],
    [' (input feeding)', { inputFeeding: true }],
  ] as const)
    it(`greedy decoding of two members follows the argmax of their averaged distribution (brute force)${what}`, () => {
      const a = tiny(o, 7, 6, 11);
      const b = tiny(o, 7, 6, 12);
      const data = randomPairs(6, 7, 6, 43, 5);
      const maxLength = 6;
      const got = greedyDecode([a, b], data.sources, { maxLength, batchSize: 4 });
      let differs = 0;
      data.sources.forEach((source, i) => {
        const ids: number[] = [];
        let score = 0;
        for (let t = 0; t < maxLength; t++) {
          const lp = averagedLogProbs([a, b], source, ids);
          let best = -1;
          for (let v = 0; v < lp.length; v++) if (emittable(v) && (best < 0 || lp[v] > lp[best])) best = v;
          score += lp[best];
          if (best === END) break;
          ids.push(best);
        }
        assert.deepEqual(Array.from(got[i].ids), ids, `source ${i}`);
        assert.ok(Math.abs(got[i].score - score) < 1e-5, `source ${i}: ${got[i].score} vs ${score}`);
        const alone = greedyDecode(a, [source], { maxLength })[0];
        if (alone.ids.join() !== ids.join() || Math.abs(alone.score - score) > 1e-3) differs++;
      });
      assert.ok(
        differs > 0,
        'the second member changes the decoding (the test would not see a member ignored)',
      );
    });

  it('beam search of two members as wide as the search space finds the brute-force best of the average', () => {
    const members = [
      tiny({ cell: 'gru', attention: 'bahdanau' }, 7, 6, 5),
      tiny({ cell: 'gru', attention: 'bahdanau' }, 7, 6, 6),
    ];
    const data = randomPairs(3, 7, 6, 47);
    const maxLen = 3;
    for (const alpha of [0, 0.6]) {
      const out = beamDecode(members, data.sources, { width: 16, maxLength: maxLen, lengthPenalty: alpha });
      data.sources.forEach((source, i) => {
        let best = { ids: [] as number[], score: -Infinity };
        const visit = (prefix: number[], logp: number): void => {
          const lp = averagedLogProbs(members, source, prefix);
          for (let v = 0; v < lp.length; v++) {
            if (!emittable(v)) continue;
            const total = logp + lp[v];
            if (v === END || prefix.length + 1 === maxLen) {
              const ids = v === END ? prefix : [...prefix, v];
              const score = total / lengthPenalty(v === END ? prefix.length + 1 : maxLen, alpha);
              if (score > best.score) best = { ids, score };
            } else visit([...prefix, v], total);
          }
        };
        visit([], 0);
        assert.deepEqual(Array.from(out[i].ids), best.ids, `source ${i}, α ${alpha}`);
        assert.ok(
          Math.abs(out[i].score - best.score) < 1e-5,
          `source ${i}, α ${alpha}: ${out[i].score} vs ${best.score}`,
        );
      });
    }
  });

  it('Seq2Seq decodes with all its members; members with different vocabularies are refused', () => {
    const a = tiny({}, 7, 6, 11);
    const b = tiny({}, 7, 6, 12);
    const app = new Seq2Seq(a, G2P_SETTINGS, src, tgt, 4, 'x.tsv', [{ model: b, targetOrder: 'forward' }]);
    assert.equal(app.members.length, 2);
    const ids = app.encodeSources(['abc', 'ca']);
    const want = greedyDecode([a, b], ids, { maxLength: 4 + 10 });
    app.decodeIds(ids).forEach((d, i) => assert.deepEqual(Array.from(d.ids), Array.from(want[i].ids)));
    assert.throws(
      () => greedyDecode([a, tiny({}, 7, 7)], ids, { maxLength: 3 }),
      /member 2 has 7 output tokens, member 1 6/,
    );
    assert.throws(() => greedyDecode([], ids, { maxLength: 3 }), /no models/);
  });
});

/** Every output of at most maxLen tokens with its (length-penalised) score under the members' average, best first. */
function allOutputs(
  members: Functional[],
  source: Int32Array,
  maxLen: number,
  alpha: number,
): { ids: number[]; score: number; logp: number }[] {
  const all: { ids: number[]; score: number; logp: number }[] = [];
  const visit = (prefix: number[], logp: number): void => {
    const lp = averagedLogProbs(members, source, prefix);
    for (let v = 0; v < lp.length; v++) {
      if (v === PAD || v === START || v === UNK) continue;
      const total = logp + lp[v];
      if (v === END || prefix.length + 1 === maxLen) {
        const ids = v === END ? prefix : [...prefix, v];
        const scored = v === END ? prefix.length + 1 : maxLen;
        all.push({ ids, score: total / lengthPenalty(scored, alpha), logp: total });
      } else visit([...prefix, v], total);
    }
  };
  visit([], 0);
  return all.sort((x, y) => y.score - x.score);
}

/** log P(target + <end> | source) under the members' average, from their whole forward passes. */
function targetLogProb(members: Functional[], source: Int32Array, target: number[]): number {
  let logp = 0;
  for (let t = 0; t <= target.length; t++)
    logp += averagedLogProbs(members, source, target.slice(0, t))[t < target.length ? target[t] : END];
  return logp;
}

/** The letters a, b, c and the symbols X, Y of the joint n-gram tests, with the specials first. */
const src = new Tokenizer('chars', ['<pad>', '<start>', '<end>', '<unk>', 'a', 'b', 'c']);
const tgt = new Tokenizer('symbols', ['<pad>', '<start>', '<end>', '<unk>', 'X', 'Y']);

/**
 * An order-3 joint n-gram fitted on `count` random words of the letters `sound` names (1 … maxLetters of them), each
 * pronounced letter by letter as `sound` says: a model that knows the rule well.
 */
function ruleNgram(
  sound: Record<string, number[]>,
  count: number,
  maxLetters: number,
  seed: number,
): JointNgram {
  const letters = Object.keys(sound).join('');
  const rng = new Random(seed);
  const words = Array.from({ length: count }, () =>
    Array.from({ length: 1 + rng.int(maxLetters) }, () => letters[rng.int(letters.length)]).join(''),
  );
  return fitJointNgram(
    words.map((w) => ({ source: src.encode(w), target: Int32Array.from([...w].flatMap((ch) => sound[ch])) })),
    src.size,
    tgt.size,
    3,
  ).model;
}

describe('target order: right-to-left decoders, n-best lists, teacher-forced scores and agreement decoding', () => {
  it('scoreTargets gives log P(target + <end>) of one model or an ensemble, in any batch rows; greedy outputs score as greedy did', () => {
    const members = [tiny({}, 7, 6, 11), tiny({}, 7, 6, 12)];
    const data = randomPairs(7, 7, 6, 51, 5);
    for (const m of [[members[0]], members]) {
      const want = data.sources.map((s, i) => targetLogProb(m, s, Array.from(data.targets[i])));
      for (const rows of [2, 3, 16]) {
        const got = scoreTargets(m, data.sources, data.targets, rows);
        want.forEach((w, i) =>
          assert.ok(Math.abs(got[i] - w) < 1e-4, `rows ${rows}, pair ${i}: ${got[i]} vs ${w}`),
        );
      }
      // A short last batch steps on fewer rows than `rows`: every copy of a pair scores the same, to the bit,
      // whether it fell in a full batch of 64 or the short one after it.
      const copies = 10;
      const many = scoreTargets(
        m,
        data.sources.flatMap((src) => Array.from({ length: copies }, () => src.slice())),
        data.targets.flatMap((y) => Array.from({ length: copies }, () => y)),
        64,
      );
      for (let i = 0; i < data.sources.length; i++)
        for (let c = 1; c < copies; c++)
          assert.equal(many[i * copies + c], many[i * copies], `pair ${i} copy ${c}`);
      const g = greedyDecode(m, data.sources, { maxLength: 8 });
      const again = scoreTargets(
        m,
        data.sources,
        g.map((d) => d.ids),
        4,
      );
      g.forEach((d, i) => {
        if (d.ids.length < 8) assert.ok(Math.abs(again[i] - d.score) < 1e-4, `greedy ${i}`);
      });
    }
    // Several targets of one source (an n-best list: the same array) share its encoding, with the same scores.
    const shared = data.sources.flatMap((s) => [s, s, s]);
    const other = randomPairs(shared.length, 7, 6, 52, 5).targets;
    const want = shared.map((s, i) => targetLogProb(members, s, Array.from(other[i])));
    for (const rows of [4, 9]) {
      const got = scoreTargets(members, shared, other, rows);
      want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-4, `shared, rows ${rows}, ${i}`));
    }
    assert.throws(
      () => scoreTargets(members, data.sources, data.targets.slice(1), 4),
      /7 sources but 6 targets/,
    );
  });

  it('scoreTargets on kept steppers (a StepperCache) builds them once over many calls, with the same scores', () => {
    const members = [tiny({}, 7, 6, 13), tiny({}, 7, 6, 14)];
    const data = randomPairs(30, 7, 6, 54, 5);
    // Every stepper scoring builds makes one step state per stepped layer.
    const built = members.flatMap((m) => m.layers).map((l) => mock.method(l, 'createStepState'));
    const steppersBuilt = (): number => built.reduce((n, c) => n + c.mock.callCount(), 0);
    const cache = new StepperCache();
    try {
      // Calls of several sizes (short batches step on fewer rows), then the same calls again.
      const calls = [30, 5, 17, 1].map((n) => ({
        sources: data.sources.slice(0, n),
        targets: data.targets.slice(0, n),
      }));
      const score = (c: (typeof calls)[number], steppers?: StepperCache): Float64Array =>
        scoreTargets(members, c.sources, c.targets, 8, steppers ? { steppers } : {});
      const want = calls.map((c) => score(c));
      built.forEach((c) => c.mock.resetCalls());
      calls.forEach((c, i) => assert.deepEqual(score(c, cache), want[i], `first, call ${i}`));
      const first = steppersBuilt();
      assert.ok(first > 0);
      for (let round = 0; round < 3; round++)
        calls.forEach((c, i) => assert.deepEqual(score(c, cache), want[i], `round ${round}, call ${i}`));
      assert.equal(steppersBuilt(), first, 'calls after the first built steppers');
    } finally {
      built.forEach((c) => c.mock.restore());
      cache.dispose();
    }
  });

  it('nBestDecode as wide as the search space lists the brute-force best outputs in order; its first is beamDecode', () => {
    const members = [tiny({}, 7, 6, 5), tiny({}, 7, 6, 6)];
    const data = randomPairs(3, 7, 6, 53);
    for (const alpha of [0, 0.6]) {
      const lists = nBestDecode(members, data.sources, { width: 16, maxLength: 3, lengthPenalty: alpha }, 5);
      const first = beamDecode(members, data.sources, { width: 16, maxLength: 3, lengthPenalty: alpha });
      data.sources.forEach((source, i) => {
        const want = allOutputs(members, source, 3, alpha).slice(0, 5);
        assert.equal(lists[i].length, 5);
        lists[i].forEach((d, k) => {
          assert.deepEqual(Array.from(d.ids), want[k].ids, `source ${i}, α ${alpha}, rank ${k}`);
          assert.ok(Math.abs(d.score - want[k].score) < 1e-5);
        });
        assert.deepEqual(Array.from(first[i].ids), Array.from(lists[i][0].ids));
      });
    }
    assert.throws(() => nBestDecode(members, data.sources, { width: 2, maxLength: 3 }, 3), /nBest must be/);
  });

  it("a search's logProb of an output it ended is, bit for bit, the teacher-forced score (what rescoring reuses)", () => {
    const members = [tiny({}, 7, 6, 41, 1.5), tiny({}, 7, 6, 42, 1.5)];
    const data = randomPairs(40, 7, 6, 57, 6);
    const maxLength = 5;
    let ended = 0;
    let truncated = 0;
    /** Every decoded output of the sources, checked against scoreTargets; counts the ended and the cut ones. */
    const check = (
      m: Functional | Functional[],
      sources: Int32Array[],
      lists: Decoded[][],
      what: string,
    ): void => {
      const flat = lists.flatMap((list, i) => list.map((d) => ({ i, d })));
      const withLogProb = flat.filter(({ d }) => d.logProb !== undefined);
      for (const { d } of flat)
        if (d.logProb === undefined) {
          assert.ok(
            d.ids.length === maxLength || d.score === -Infinity,
            `${what}: a finished output lacks logProb`,
          );
          truncated++;
        }
      ended += withLogProb.length;
      const scored = scoreTargets(
        m,
        withLogProb.map(({ i }) => sources[i]),
        withLogProb.map(({ d }) => d.ids),
        16,
      );
      withLogProb.forEach(({ d }, j) => assert.equal(d.logProb, scored[j], what));
    };
    for (const m of [members[0], members]) {
      for (const batchSize of [3, 16, 64]) {
        const greedy = greedyDecode(m, data.sources, { maxLength, batchSize });
        check(
          m,
          data.sources,
          greedy.map((d) => [d]),
          `greedy, batch ${batchSize}`,
        );
        greedy.forEach((d) => d.logProb !== undefined && assert.equal(d.logProb, d.score));
      }
      // Beams of fewer rows than the GEMM kernel's (batches of one source, width 2) are padded as greedy batches are.
      for (const [width, batchSize] of [
        [2, 1],
        [3, 8],
      ])
        check(
          m,
          data.sources,
          nBestDecode(m, data.sources, { maxLength, width, batchSize }, width),
          `beam ${width}, batch ${batchSize}`,
        );
    }
    assert.ok(
      ended > 0 && truncated > 0,
      `${ended} ended, ${truncated} cut at maxLength (those rescoring scores)`,
    );
  });

  it("scoreTargets on fewer rows than the GEMM kernel takes still gives the searches' logProb, bit for bit", () => {
    const members = [tiny({}, 7, 6, 41, 1.5), tiny({}, 7, 6, 42, 1.5)];
    const data = randomPairs(40, 7, 6, 57, 6);
    for (const m of [members[0], members]) {
      const ended = greedyDecode(m, data.sources, { maxLength: 5 })
        .map((d, i) => ({ i, d }))
        .filter(({ d }) => d.logProb !== undefined);
      assert.ok(ended.length > 0);
      const sources = ended.map(({ i }) => data.sources[i]);
      const targets = ended.map(({ d }) => d.ids);
      // Rows of 1–3 stepped on the GEMV, whose sums round differently from the searches' GEMM.
      for (const rows of [1, 2, 3]) {
        const scored = scoreTargets(m, sources, targets, rows);
        ended.forEach(({ d }, j) => assert.equal(scored[j], d.logProb, `rows ${rows}, output ${j}`));
      }
    }
  });

  for (const [what, o] of [
    ['', {}],
    [' (input feeding)', { inputFeeding: true }],
  ] as const)
    it(`agreement decoding picks, among both sides' candidates, the best mean of the two sides' log-probabilities${what}`, () => {
      // Weights large enough that the sides disagree (smaller ones all prefer the shortest outputs).
      const forward = [tiny(o, 7, 6, 21, 1.5), tiny(o, 7, 6, 22, 1.5)];
      const reversed = [tiny(o, 7, 6, 23, 1.5)];
      const data = randomPairs(8, 7, 6, 55, 5);
      const maxLength = 4;
      const rev = (ids: ArrayLike<number>): number[] => Array.from(ids).reverse();
      let changed = 0;
      for (const [width, alpha] of [
        [1, 0.6],
        [3, 0],
        [3, 0.6],
      ]) {
        const opts = { width, maxLength, lengthPenalty: alpha, batchSize: 3 };
        const got = agreementDecode(forward, reversed, data.sources, opts);
        data.sources.forEach((source, i) => {
          // Each side's candidates (brute force: its `width` best; greedy for width 1), in reading order.
          const side = (m: Functional[]): number[][] =>
            width === 1
              ? [Array.from(greedyDecode(m, [source], { maxLength })[0].ids)]
              : allOutputs(m, source, maxLength, alpha)
                  .slice(0, width)
                  .map((o) => o.ids);
          const cands = [...side(forward), ...side(reversed).map(rev)];
          let best = { ids: [] as number[], score: -Infinity };
          for (const y of cands) {
            const mean = (targetLogProb(forward, source, y) + targetLogProb(reversed, source, rev(y))) / 2;
            const score = mean / lengthPenalty(y.length + 1, alpha);
            if (score > best.score + 1e-9) best = { ids: y, score };
          }
          assert.deepEqual(Array.from(got[i].ids), best.ids, `source ${i}, width ${width}, α ${alpha}`);
          assert.ok(Math.abs(got[i].score - best.score) < 1e-4, `${got[i].score} vs ${best.score}`);
          const alone = beamDecode(forward, [source], opts)[0];
          if (best.ids.join() !== Array.from(alone.ids).join()) changed++;
        });
      }
      assert.ok(changed > 0, 'the reversed side changes some answers (the test would see it ignored)');
    });

  it('Seq2Seq: a reversed model learns targets right to left and answers in reading order; both orders agree', () => {
    const a = tiny({}, 7, 6, 31);
    const b = tiny({}, 7, 6, 32);
    const reversedSettings: Seq2SeqSettings = { ...G2P_SETTINGS, targetOrder: 'reversed' };
    const app = new Seq2Seq(b, reversedSettings, src, tgt, 4, 'x.tsv');
    const pairs = app.encodePairs([{ source: 'abc', target: 'X Y Y' }]);
    assert.deepEqual(Array.from(pairs.targets[0]), [5, 5, 4]);
    assert.deepEqual(Array.from(pairs.sources[0]), [4, 5, 6]);
    const ids = app.encodeSources(['abc', 'ca', 'b']);
    const plain = greedyDecode(b, ids, { maxLength: 14 });
    app.decodeIds(ids).forEach((d, i) => assert.deepEqual(Array.from(d.ids), rev(plain[i].ids)));
    const beam = beamDecode(b, ids, { maxLength: 14, width: 3 });
    app.decodeIds(ids, { beam: 3 }).forEach((d, i) => assert.deepEqual(Array.from(d.ids), rev(beam[i].ids)));

    const both = new Seq2Seq(a, G2P_SETTINGS, src, tgt, 4, 'x.tsv', [{ model: b, targetOrder: 'reversed' }]);
    assert.deepEqual(both.memberOrders, ['forward', 'reversed']);
    assert.equal(both.member(1).settings.targetOrder, 'reversed');
    for (const beamWidth of [1, 3]) {
      const want = agreementDecode([a], [b], ids, { maxLength: 14, width: beamWidth });
      both
        .decodeIds(ids, { beam: beamWidth })
        .forEach((d, i) => assert.deepEqual(Array.from(d.ids), Array.from(want[i].ids)));
    }
    // Older files have no targetOrder: forward.
    const older: Partial<Seq2SeqSettings> = { ...G2P_SETTINGS };
    delete older.targetOrder;
    assert.equal(Seq2SeqSettingsSchema.parse(older).targetOrder, 'forward');
    function rev(x: Int32Array): number[] {
      return Array.from(x).reverse();
    }
  });

  it('Seq2Seq with a joint n-gram: candidates of both models, each scored by both (rescoreDecode)', () => {
    const a = tiny({}, 7, 6, 41);
    const b = tiny({}, 7, 6, 42);
    // a → X, b → Y Y, c → nothing: an n-gram that knows the rule well.
    const model = ruleNgram({ a: [4], b: [5, 5], c: [] }, 400, 4, 6);
    const sources = ['abc', 'ca', 'b', 'cab', 'bba'].map((w) => src.encode(w));
    const plainApp = new Seq2Seq(a, G2P_SETTINGS, src, tgt, 4, 'x.tsv', [
      { model: b, targetOrder: 'reversed' },
    ]);
    const withNgram = plainApp.withJointNgram({ model, weight: 0.3 });
    for (const beam of [1, 3]) {
      // Weight 0 is decoding without it.
      assert.deepEqual(
        withNgram.decodeIds(sources, { beam, ngramWeight: 0 }),
        plainApp.decodeIds(sources, { beam }),
      );
      // The rule: with the n-gram weighted heavily, every answer is its own best.
      withNgram.decodeIds(sources, { beam, ngramWeight: 50 }).forEach((d, i) => {
        assert.deepEqual(Array.from(d.ids), Array.from(model.nBest(sources[i], 1)[0].target), `beam ${beam}`);
      });
      // In between: the best mean of the sides' length-normalised log-probabilities plus weight · log p_ngram over
      // the candidates of all three.
      const alpha = 0.6;
      const got = withNgram.decodeIds(sources, { beam });
      const forwardList =
        beam === 1
          ? greedyDecode(a, sources, { maxLength: 14 }).map((d) => [d])
          : nBestDecode(a, sources, { maxLength: 14, width: beam }, beam);
      const reversedList =
        beam === 1
          ? greedyDecode(b, sources, { maxLength: 14 }).map((d) => [d])
          : nBestDecode(b, sources, { maxLength: 14, width: beam }, beam);
      sources.forEach((source, i) => {
        const cands = [
          ...forwardList[i].map((d) => Array.from(d.ids)),
          ...reversedList[i].map((d) => Array.from(d.ids).reverse()),
          ...model.nBest(source, beam).map((d) => Array.from(d.target)),
        ];
        let best = { ids: [] as number[], score: -Infinity };
        for (const y of cands) {
          const mean = (targetLogProb([a], source, y) + targetLogProb([b], source, [...y].reverse())) / 2;
          const lp = model.logJoint(source, Int32Array.from(y));
          const score = mean / lengthPenalty(y.length + 1, alpha) + 0.3 * Math.max(lp, -1e4);
          if (score > best.score + 1e-9) best = { ids: y, score };
        }
        assert.deepEqual(Array.from(got[i].ids), best.ids, `source ${i}, beam ${beam}`);
        assert.ok(Math.abs(got[i].score - best.score) < 1e-4, `${got[i].score} vs ${best.score}`);
      });
    }
    // One side (a forward model alone) with the n-gram, and a source the n-gram cannot spell (<unk>): the model's.
    const single = new Seq2Seq(a, G2P_SETTINGS, src, tgt, 4, 'x.tsv', [], { model, weight: 0.3 });
    const unknown = [Int32Array.from([3, 3])];
    assert.deepEqual(
      Array.from(single.decodeIds(unknown)[0].ids),
      Array.from(greedyDecode(a, unknown, { maxLength: 14 })[0].ids),
    );
    assert.equal(single.member(0).jointNgram, null);
  });

  it('rescoreDecode with a joint n-gram answers, bit for bit, the best of every candidate scored afresh', () => {
    const [a, b, c] = [51, 52, 53].map((seed) => tiny({}, 7, 6, seed));
    const model = ruleNgram({ a: [4], b: [5, 5], c: [] }, 300, 5, 8);
    const rng = new Random(12);
    const words = Array.from({ length: 30 }, () =>
      Array.from({ length: 1 + rng.int(6) }, () => 'abc'[rng.int(3)]).join(''),
    );
    // A repeated word, and one the n-gram spells longer than maxLength (its proposal is left out).
    const sources = [...words, words[0], 'bbbbbb'].map((w) => src.encode(w));
    const extra: CandidateScorer = {
      propose: (s, n) => model.nBest(s, n).map((d) => d.target),
      score: (s, y) => model.logJoint(s, y),
      weight: 0.3,
    };
    const sides = [
      { models: [a, c], reversed: false },
      { models: b, reversed: true },
    ];
    for (const width of [1, 3]) {
      const opts = { maxLength: 10, width, batchSize: 8 };
      const got = rescoreDecode(sides, sources, opts, extra);
      const lists = sides.map((side) =>
        width === 1
          ? greedyDecode(side.models, sources, opts).map((d) => [d])
          : nBestDecode(side.models, sources, opts, width),
      );
      sources.forEach((source, i) => {
        // The candidates, distinct by their tokens, in the order offered: each side's (reading order), the n-gram's.
        const cands = new Map<string, Int32Array>();
        const offer = (y: Int32Array): void => {
          if (!cands.has(y.join(','))) cands.set(y.join(','), y);
        };
        lists.forEach((list, k) =>
          list[i].forEach((d) => offer(sides[k].reversed ? d.ids.slice().reverse() : d.ids)),
        );
        for (const y of extra.propose(source, width)) if (y.length <= opts.maxLength) offer(y);
        let best = { ids: [] as number[], score: -Infinity };
        for (const y of cands.values()) {
          let sum = 0;
          for (const side of sides)
            sum += scoreTargets(side.models, [source], [side.reversed ? y.slice().reverse() : y], 8)[0];
          const score =
            sum / sides.length / lengthPenalty(y.length + 1, 0.6) +
            0.3 * Math.max(model.logJoint(source, y), -1e4);
          if (score > best.score) best = { ids: Array.from(y), score };
        }
        assert.deepEqual(Array.from(got[i].ids), best.ids, `source ${i}, width ${width}`);
        assert.equal(got[i].score, best.score, `source ${i}, width ${width}`);
      });
    }
  });

  it("no decoding path outputs more than maxLength tokens: the joint n-gram's longer proposals are left out", () => {
    const a = tiny({}, 7, 6, 41);
    const b = tiny({}, 7, 6, 42);
    // a → X, b → Y Y: the n-gram spells 'bbbbbb' with 12 tokens, more than the caps below.
    const model = ruleNgram({ a: [4], b: [5, 5] }, 300, 6, 7);
    const ngram = { model, weight: 50 };
    const apps = {
      'one model + n-gram': new Seq2Seq(a, G2P_SETTINGS, src, tgt, 12, 'x.tsv', [], ngram),
      'both orders + n-gram': new Seq2Seq(
        a,
        G2P_SETTINGS,
        src,
        tgt,
        12,
        'x.tsv',
        [{ model: b, targetOrder: 'reversed' }],
        ngram,
      ),
      'both orders': new Seq2Seq(a, G2P_SETTINGS, src, tgt, 12, 'x.tsv', [
        { model: b, targetOrder: 'reversed' },
      ]),
      'one model': new Seq2Seq(a, G2P_SETTINGS, src, tgt, 12, 'x.tsv'),
    };
    const texts = ['bbbbbb', 'abab', 'b', 'aaaaaaa'];
    const sources = texts.map((w) => src.encode(w));
    // Uncapped (the default limit, 12 + DECODE_MARGIN), the n-gram's 12-token spelling wins.
    assert.equal(apps['one model + n-gram'].decodeIds(sources.slice(0, 1))[0].ids.length, 12);
    for (const [name, app] of Object.entries(apps))
      for (const beam of [1, 3])
        for (const maxLength of [1, 2, 5]) {
          const at = `${name}, beam ${beam}, maxLength ${maxLength}`;
          for (const d of app.decodeIds(sources, { beam, maxLength }))
            assert.ok(d.ids.length <= maxLength, `${at}: ${d.ids.length} tokens`);
          // predict, what `recur serve` answers with the request's max_length.
          for (const p of app.predict(texts, { beam, maxLength }))
            assert.ok(tgt.split(p.output).length <= maxLength, `${at}: '${p.output}'`);
        }
  });
});

describe('training', () => {
  it('fitDataset resumed mid-epoch gives the weights and logs of an uninterrupted run', async () => {
    const pairs = Array.from({ length: 40 }, (_, i) => ({
      source: 'abcde'.slice(0, 1 + (i % 5)) + 'xy'[i % 2],
      target: 'p q r'.slice(0, 1 + 2 * (i % 3)),
    }));
    const src = Tokenizer.fit(
      pairs.map((p) => p.source),
      'chars',
    );
    const tgt = Tokenizer.fit(
      pairs.map((p) => p.target),
      'symbols',
    );
    const data = encodePairs(pairs, src, tgt);
    const make = (): Functional =>
      buildSeq2SeqModel(
        { ...G2P_SETTINGS, units: 6, embeddingDim: 4, dropout: 0.2, seed: 9 },
        src.size,
        tgt.size,
      );
    const dataset = new PairDataset(data, { batchSize: 8, seed: 4 });
    const whole = make();
    const h1 = await whole.fitDataset(dataset, { epochs: 2 });
    const parted = make();
    await parted.fitDataset(dataset, {
      epochs: 2,
      callbacks: { onBatchEnd: (b) => void (b === 2 && (parted.stopTraining = true)) },
    });
    const at = parted.interruptedAt;
    assert.ok(at && at.epoch === 0 && at.batch === 3);
    // A fresh process: weights and optimizer state through files, then the RNG state.
    const dir = mkdtempSync(join(tmpdir(), 'recur-s2s-resume-'));
    dirs.push(dir);
    saveModel(parted, dir);
    const loaded = loadFunctionalModel(dir).model;
    loaded.trainRng.setState(parted.trainRng.getState());
    const h2 = await loaded.fitDataset(dataset, { epochs: 2, resumeFrom: at });
    assert.deepEqual(h2.history.loss, h1.history.loss);
    const w1 = whole.getWeights();
    loaded.getWeights().forEach((w, i) => assert.deepEqual(Array.from(w.data), Array.from(w1[i].data)));
  });

  it('a saved and loaded model decodes identically (greedy and beam)', () => {
    const m = tiny({ cell: 'gru', attention: 'bahdanau' });
    const data = randomPairs(5, 7, 6, 3);
    const dir = mkdtempSync(join(tmpdir(), 'recur-s2s-save-'));
    dirs.push(dir);
    saveModel(m, dir);
    const loaded = loadFunctionalModel(dir).model;
    for (const d of [
      (x: Functional) => greedyDecode(x, data.sources, { maxLength: 6 }),
      (x: Functional) => beamDecode(x, data.sources, { maxLength: 6, width: 3 }),
    ]) {
      const a = d(m);
      const b = d(loaded);
      a.forEach((x, i) => {
        assert.deepEqual(Array.from(x.ids), Array.from(b[i].ids));
        assert.equal(x.score, b[i].score);
      });
    }
  });
});

describe('TensorFlow.js', () => {
  for (const [name, o] of [
    ['lstm_seq2seq (one-direction encoder, no attention)', { bidirectional: false, attention: 'none' }],
    ['bidirectional LSTM encoder, no attention', { attention: 'none' }],
  ] as [string, Partial<Seq2SeqSettings>][]) {
    it(`loads a saved ${name} and predicts the same on padded batches`, async () => {
      const m = tiny(o);
      const data = randomPairs(5, 7, 6, 8);
      const { xs } = pairBatch(data, [0, 1, 2, 3, 4]);
      const dir = mkdtempSync(join(tmpdir(), 'recur-s2s-tfjs-'));
      dirs.push(dir);
      saveModel(m, dir);
      const { json, weightData } = readModelFiles(dir, parseFunctionalModelJson);
      const theirs = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology as unknown as tf.io.ModelJSON['modelTopology'],
          weightSpecs: json.weightsManifest.flatMap((g) => g.weights).filter((w) => w.group !== 'optimizer'),
          weightData: weightData.buffer.slice(
            weightData.byteOffset,
            weightData.byteOffset + m.countParams() * 4,
          ) as ArrayBuffer,
        }),
      );
      const toTf = (x: IndexTensor): tf.Tensor => tf.tensor(Array.from(x.data), [...x.shape], 'float32');
      const got = (theirs.predict(xs.map((x) => toTf(x as IndexTensor))) as tf.Tensor).dataSync();
      const mine = m.predict(xs) as Tensor;
      // Compare real decoder steps only: tfjs and recur agree on what the masks mean there.
      const [N, T, V] = mine.shape;
      const dec = xs[1].data;
      let worst = 0;
      for (let n = 0; n < N; n++)
        for (let t = 0; t < T; t++) {
          if (dec[n * T + t] === PAD) continue;
          for (let v = 0; v < V; v++)
            worst = Math.max(worst, Math.abs(mine.data[(n * T + t) * V + v] - got[(n * T + t) * V + v]));
        }
      assert.ok(worst < 1e-5, `max difference ${worst}`);
    });
  }
});

describe('scores', () => {
  it('a character-level translator gets BLEU on words and chrF on text; a symbol model (G2P) none unless asked', () => {
    const pairs = ['go now\tva maintenant', 'i run\tje cours', 'we eat\tnous mangeons'].map((l) => {
      const [source, target] = l.split('\t');
      return { source, target };
    });
    const src = Tokenizer.fit(
      pairs.map((p) => p.source),
      'chars',
    );
    const tgt = Tokenizer.fit(
      pairs.map((p) => p.target),
      'chars',
    );
    const settings: Seq2SeqSettings = {
      ...G2P_SETTINGS,
      sourceMode: 'chars',
      targetMode: 'chars',
      units: 5,
      embeddingDim: 3,
      seed: 2,
    };
    const app = new Seq2Seq(buildSeq2SeqModel(settings, src.size, tgt.size), settings, src, tgt, 12, 'test');
    const examples = pairs.map((p) => ({ source: p.source, targets: [p.target] }));
    const scores = app.evaluate(examples);
    const outs = app.predict(pairs.map((p) => p.source)).map((p) => p.output);
    const words = (t: string): string[] => t.split(/\s+/).filter((w) => w !== '');
    assert.equal(
      scores.bleu,
      bleu(
        outs.map(words),
        pairs.map((p) => [words(p.target)]),
      ),
    );
    assert.equal(
      scores.chrf,
      chrF(
        outs,
        pairs.map((p) => [p.target]),
      ),
    );
    const g2p = new Seq2Seq(
      app.model,
      { ...settings, targetMode: 'symbols' },
      src,
      new Tokenizer('symbols', tgt.tokens),
      12,
      'test',
    );
    assert.equal(g2p.evaluate(examples).bleu, undefined);
    assert.equal(typeof g2p.evaluate(examples, { textMetrics: true }).bleu, 'number');
  });

  it("a G2P model's predictions name each source as given (Café), decoded as the model reads it (cafe)", () => {
    const tgt = new Tokenizer('symbols', ['<pad>', '<start>', '<end>', '<unk>', 'AH0', 'AH1', 'B', 'T']);
    const src = Tokenizer.fit(['cafe'], 'chars');
    const app = new Seq2Seq(tiny({}, src.size, 8), G2P_SETTINGS, src, tgt, 4, CMUDICT_DATA);
    const given = [' Café ', 'CAFE', 'cafe'];
    const got = app.predict(given);
    assert.deepEqual(
      got.map((p) => p.source),
      given,
    );
    // All three are the same word to the model: the same output and score, and no unknown letters.
    for (const p of got) {
      assert.equal(p.output, got[2].output);
      assert.equal(p.score, got[2].score);
      assert.equal(p.unknown, undefined);
    }
  });

  it("scores without stress when asked: the tokens' trailing digits dropped from outputs and references", () => {
    const tgt = new Tokenizer('symbols', ['<pad>', '<start>', '<end>', '<unk>', 'AH0', 'AH1', 'B', 'T']);
    const app = new Seq2Seq(tiny({}, 7, 8), G2P_SETTINGS, Tokenizer.fit(['ab'], 'chars'), tgt, 4, 'x.tsv');
    const examples = [
      { source: 'ab', targets: ['AH1 B'] },
      { source: 'ba', targets: ['B AH0 T', 'B T'] },
    ];
    const out = [
      { source: 'ab', output: 'AH0 B', tokens: ['AH0', 'B'], score: 0 },
      { source: 'ba', output: 'B AH1', tokens: ['B', 'AH1'], score: 0 },
    ];
    const stressed = app.score(examples, out);
    assert.equal(stressed.wer, 1);
    const unstressed = app.score(examples, out, { ignoreStress: true });
    assert.equal(unstressed.wer, 0.5); // AH0 B = AH1 B without stress; B AH ≠ B AH T, B T
    // 0 edits of 2, then 1 edit from either reference (a tie: the shorter one, 2 tokens, counts).
    assert.ok(Math.abs(unstressed.ter - 1 / 4) < 1e-12);
    assert.ok(Math.abs(stressed.ter - 2 / 4) < 1e-12);
  });
});

/** Every regulariser on, strongly enough that each mask bites on a tiny model. */
const REGULARISED: Partial<Seq2SeqSettings> = {
  dropout: 0.3,
  embeddingDropout: 0.3,
  encoderDropout: 0.3,
  recurrentDropout: 0.3,
  labelSmoothing: 0.1,
};
const REGULARISED_VARIANTS: [string, Partial<Seq2SeqSettings>][] = [
  ['BiLSTM + Luong', REGULARISED],
  ['2-layer BiGRU + Bahdanau', { ...REGULARISED, cell: 'gru', attention: 'bahdanau', encoderLayers: 2 }],
  ['BiLSTM + Luong + post-attention LSTM', { ...REGULARISED, postAttentionUnits: 6 }],
  [
    'GRU + Bahdanau, input feeding',
    { ...REGULARISED, cell: 'gru', attention: 'bahdanau', inputFeeding: true },
  ],
];

describe('regularisation', () => {
  /** The training-mode loss of one batch with the dropout masks of `seed`; with backward, leaves the gradients. */
  const trainingLoss = (
    m: Functional,
    xs: AnyTensor[],
    ys: AnyTensor[],
    seed: number,
    backward: boolean,
  ): number =>
    scoped(() => {
      const counts = m.shardForward({ xs, ys }, { training: true, seed, rowOffset: 0 });
      return m.shardFinish(counts, backward).loss;
    });

  for (const [name, o] of REGULARISED_VARIANTS) {
    it(`every dropout and label smoothing: gradients match finite differences, masks fixed (${name})`, () => {
      const m = tiny(o);
      m.compile({
        optimizer: new SGD({ learningRate: 1 }),
        loss: 'sparseCategoricalCrossentropy',
        labelSmoothing: 0.1,
      });
      const data = randomPairs(4, 7, 6, 5);
      const { xs, ys } = pairBatch(data, [0, 1, 2, 3]);
      const seed = 12345;
      const base = trainingLoss(m, xs, ys, seed, true);
      // The masks bite: another seed, or inference, gives another loss.
      assert.notEqual(trainingLoss(m, xs, ys, seed + 1, false), base);
      assert.notEqual(m.evaluate(xs, ys).loss, base);
      trainingLoss(m, xs, ys, seed, true);
      const weights = m.namedWeights();
      const grads = weights.map((w) => Float32Array.from(w.weight.grad));
      const eps = 1e-2;
      const rng = new Random(1);
      let checked = 0;
      weights.forEach(({ name: wn, weight }, wi) => {
        for (let k = 0; k < 3; k++) {
          const i = rng.int(weight.value.length);
          const old = weight.value[i];
          weight.value[i] = old + eps;
          const lp = trainingLoss(m, xs, ys, seed, false);
          weight.value[i] = old - eps;
          const lm = trainingLoss(m, xs, ys, seed, false);
          weight.value[i] = old;
          const num = (lp - lm) / (2 * eps);
          const ana = grads[wi][i];
          assert.ok(
            Math.abs(num - ana) <= 5e-4 + 2e-2 * Math.abs(num),
            `${wn}[${i}]: numeric ${num} vs analytic ${ana}`,
          );
          checked++;
        }
      });
      assert.ok(checked > 20);
    });
  }

  it('puts each dropout where its setting says; inference and the stepper are untouched by them', () => {
    const m = tiny(REGULARISED);
    const names = m.layers.map((l) => l.name);
    for (const n of [
      'source_embedding_dropout',
      'target_embedding_dropout',
      'encoder_output_dropout',
      'output_dropout',
    ])
      assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    const rates = (l: unknown): number | undefined => (l as { recurrentDropout?: number }).recurrentDropout;
    const decoder = m.layers.find((l) => l.name === 'decoder_lstm');
    assert.equal(rates(decoder), 0.3);
    const encoder = m.layers.find((l) => l.name === 'encoder_1') as unknown as {
      forwardLayer: unknown;
      backwardLayer: unknown;
    };
    assert.equal(rates(encoder.forwardLayer), 0.3);
    assert.equal(rates(encoder.backwardLayer), 0.3);
    // Off (the schema's default) adds no layer at all.
    const plain = tiny({}).layers.map((l) => l.name);
    assert.ok(!plain.some((n) => n.includes('embedding_dropout') || n === 'encoder_output_dropout'));
    // Same weights without the regularisers: the same predictions, and the stepper matches the forward pass.
    const same = tiny({});
    const data = randomPairs(5, 7, 6, 21);
    const { xs } = pairBatch(data, [0, 1, 2, 3, 4]);
    const a = m.predict(xs) as Tensor;
    const b = same.predict(xs) as Tensor;
    assert.deepEqual(Array.from(a.data), Array.from(b.data));
    for (const model of [m, same]) {
      const got = greedyDecode(model, data.sources, { maxLength: 6 });
      const want = greedyDecode(same, data.sources, { maxLength: 6 });
      got.forEach((g, i) => assert.deepEqual(Array.from(g.ids), Array.from(want[i].ids)));
    }
  });

  it('a saved model keeps its label smoothing (same loss after loading); older settings load with all off', () => {
    const m = tiny(REGULARISED);
    assert.equal(m.labelSmoothing, 0.1);
    const data = randomPairs(5, 7, 6, 3);
    const { xs, ys } = pairBatch(data, [0, 1, 2, 3, 4]);
    const dir = mkdtempSync(join(tmpdir(), 'recur-s2s-reg-'));
    dirs.push(dir);
    const settings = Seq2SeqSettingsSchema.parse({
      ...G2P_SETTINGS,
      ...REGULARISED,
      units: 5,
      embeddingDim: 4,
    });
    const app = new Seq2Seq(
      m,
      settings,
      Tokenizer.fit(['ab'], 'chars'),
      Tokenizer.fit(['a b'], 'words'),
      3,
      'x',
    );
    saveModel(m, dir, { metadata: app.metadata() as unknown as Record<string, unknown> });
    const loaded = loadFunctionalModel(dir);
    assert.equal(loaded.model.labelSmoothing, 0.1);
    assert.equal(loaded.model.evaluate(xs, ys).loss, m.evaluate(xs, ys).loss);
    const meta = parseSeq2SeqMetadata(loaded.metadata, dir);
    assert.deepEqual(meta.settings, settings);
    // Metadata written before these options existed: they read as off.
    const old = JSON.parse(JSON.stringify(loaded.metadata)) as { settings: Record<string, unknown> };
    for (const k of ['embeddingDropout', 'encoderDropout', 'recurrentDropout', 'labelSmoothing'])
      delete old.settings[k];
    const oldMeta = parseSeq2SeqMetadata(old, 'old');
    assert.deepEqual(
      [
        oldMeta.settings.embeddingDropout,
        oldMeta.settings.encoderDropout,
        oldMeta.settings.recurrentDropout,
        oldMeta.settings.labelSmoothing,
      ],
      [0, 0, 0, 0],
    );
    // A bad value names the field.
    assert.throws(
      () =>
        parseSeq2SeqMetadata({ ...loaded.metadata, settings: { ...settings, labelSmoothing: 0.9 } }, 'bad'),
      /bad: model\.json: userDefinedMetadata\.settings\.labelSmoothing/,
    );
  });

  it('compile refuses label smoothing with a loss it does not apply to, and bad factors', () => {
    const m = tiny({});
    assert.throws(
      () => m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', labelSmoothing: 0.1 }),
      /labelSmoothing applies to the categorical cross-entropies, not meanSquaredError/,
    );
    assert.throws(
      () => m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', labelSmoothing: 1 }),
      /compile: labelSmoothing must be a number in \[0, 1\)/,
    );
  });
});

describe('post-attention RNN (GNMT-style: [decoder, context] → RNN → softmax)', () => {
  const POST: Partial<Seq2SeqSettings> = { postAttentionUnits: 6 };

  it('replaces the tanh Dense by a recurrent layer of its units; off adds nothing; needs attention', () => {
    const m = tiny(POST);
    const names = m.layers.map((l) => l.name);
    assert.ok(names.includes('post_attention_lstm'), names.join(', '));
    assert.ok(!names.includes('attentional'));
    const layer = m.layers.find((l) => l.name === 'post_attention_lstm')!;
    assert.equal((layer.getConfig() as { units: number }).units, 6);
    assert.equal(
      tiny({ ...POST, cell: 'gru' }).layers.some((l) => l.name === 'post_attention_gru'),
      true,
    );
    const plain = tiny({}).layers.map((l) => l.name);
    assert.ok(plain.includes('attentional') && !plain.some((n) => n.startsWith('post_attention')));
    assert.throws(
      () => buildSeq2SeqModel({ ...G2P_SETTINGS, attention: 'none', postAttentionUnits: 8 }, 7, 6),
      /seq2seq settings: postAttentionUnits: a post-attention layer needs attention/,
    );
    assert.throws(
      () => buildSeq2SeqModel({ ...G2P_SETTINGS, postAttentionUnits: 0 }, 7, 6),
      /seq2seq settings: postAttentionUnits/,
    );
  });

  it('greedy step decoding equals the argmax of the full-sequence model fed its own output', () => {
    const m = tiny(POST);
    // Random weights rarely pick <end>: raise its output bias so that outputs of several lengths end before maxLength.
    const bias = m.namedWeights().find((w) => w.name.includes('next_token') && w.name.endsWith('bias'))!;
    bias.weight.value[END] += 0.8;
    const data = randomPairs(12, 7, 6, 41);
    const maxLength = 7;
    const greedy = greedyDecode(m, data.sources, { maxLength, batchSize: 4 });
    // Teacher-force the greedy outputs: previous = <start> + output, and the model's argmax over the tokens a decoder
    // may emit must give each output token back, then <end> (unless the output was cut at maxLength).
    const forced = { sources: data.sources, targets: greedy.map((g) => g.ids) };
    const { xs } = pairBatch(
      forced,
      greedy.map((_, i) => i),
    );
    const full = m.predict(xs) as Tensor;
    const [, T, V] = full.shape;
    let ended = 0;
    greedy.forEach((g, n) => {
      const want = g.ids.length < maxLength ? [...g.ids, END] : [...g.ids];
      if (g.ids.length < maxLength) ended++;
      want.forEach((w, t) => {
        let best = -1;
        for (let v = 0; v < V; v++) {
          if (v === PAD || v === START || v === UNK) continue; // never emitted
          if (best < 0 || full.data[(n * T + t) * V + v] > full.data[(n * T + t) * V + best]) best = v;
        }
        assert.equal(best, w, `source ${n} step ${t}`);
      });
    });
    assert.ok(ended > 0, 'some outputs end with <end>');
    assert.ok(greedy.some((g) => g.ids.length > 1 && g.ids.length < maxLength));
  });

  it('decodes on the layers’ step: the post-attention RNN steps once per token and never re-runs the prefix', () => {
    const m = tiny(POST);
    const layer = m.layers.find((l) => l.name === 'post_attention_lstm')!;
    const calls = { step: 0, full: 0 };
    const stepMany = layer.stepMany.bind(layer);
    const forwardMany = layer.forwardMany.bind(layer);
    layer.stepMany = (ins, state) => {
      calls.step++;
      return stepMany(ins, state);
    };
    layer.forwardMany = (xs, opts) => {
      calls.full++;
      return forwardMany(xs, opts);
    };
    const data = randomPairs(3, 7, 6, 9);
    const stepper = new GraphStepper(m, 3, { stepInput: 'previous' });
    stepper.start([sourceBatch(data.sources)]);
    for (let t = 0; t < 5; t++) stepper.step(Int32Array.from([START, 4, 5]));
    assert.deepEqual(calls, { step: 5, full: 0 });
    beamDecode(m, data.sources, { width: 3, maxLength: 4 });
    assert.equal(calls.full, 0);
    assert.ok(calls.step > 5 && calls.step <= 5 + 4);
  });

  it('beam search as wide as the search space finds the brute-force best', () => {
    const m = tiny(POST, 7, 6);
    const data = randomPairs(3, 7, 6, 35);
    for (const alpha of [0, 0.6]) {
      const out = beamDecode(m, data.sources, { width: 16, maxLength: 3, lengthPenalty: alpha });
      data.sources.forEach((s, i) => {
        const bf = bruteForce(m, s, 3, alpha);
        assert.deepEqual(Array.from(out[i].ids), bf.ids, `source ${i}, α ${alpha}`);
        assert.ok(Math.abs(out[i].score - bf.score) < 1e-5);
      });
    }
  });

  it('saves and loads: the same layer config, predictions and decodes; the setting round-trips, older files read null', () => {
    const m = tiny(POST);
    const data = randomPairs(5, 7, 6, 3);
    const { xs } = pairBatch(data, [0, 1, 2, 3, 4]);
    const dir = mkdtempSync(join(tmpdir(), 'recur-s2s-post-'));
    dirs.push(dir);
    const settings = Seq2SeqSettingsSchema.parse({ ...G2P_SETTINGS, ...POST, units: 5, embeddingDim: 4 });
    const app = new Seq2Seq(
      m,
      settings,
      Tokenizer.fit(['ab'], 'chars'),
      Tokenizer.fit(['a b'], 'words'),
      3,
      'x',
    );
    saveModel(m, dir, { metadata: app.metadata() as unknown as Record<string, unknown> });
    const loaded = loadFunctionalModel(dir);
    const config = (f: Functional): unknown =>
      f.layers.find((l) => l.name === 'post_attention_lstm')!.getConfig();
    assert.deepEqual(config(loaded.model), config(m));
    assert.deepEqual(
      Array.from((loaded.model.predict(xs) as Tensor).data),
      Array.from((m.predict(xs) as Tensor).data),
    );
    for (const d of [
      (x: Functional) => greedyDecode(x, data.sources, { maxLength: 6 }),
      (x: Functional) => beamDecode(x, data.sources, { maxLength: 6, width: 3 }),
    ]) {
      const a = d(m);
      const b = d(loaded.model);
      a.forEach((x, i) => {
        assert.deepEqual(Array.from(x.ids), Array.from(b[i].ids));
        assert.equal(x.score, b[i].score);
      });
    }
    const meta = parseSeq2SeqMetadata(loaded.metadata, dir);
    assert.equal(meta.settings.postAttentionUnits, 6);
    assert.deepEqual(meta.settings, settings);
    const old = JSON.parse(JSON.stringify(loaded.metadata)) as { settings: Record<string, unknown> };
    delete old.settings.postAttentionUnits;
    assert.equal(parseSeq2SeqMetadata(old, 'old').settings.postAttentionUnits, null);
    assert.throws(
      () =>
        parseSeq2SeqMetadata(
          { ...loaded.metadata, settings: { ...settings, postAttentionUnits: -1 } },
          'bad',
        ),
      /bad: model\.json: userDefinedMetadata\.settings\.postAttentionUnits/,
    );
  });
});
