/**
 * AttentionDecoder (Luong's input feeding, src/layers/attention_decoder.ts): backward against finite differences with
 * a target mask (a hole and end padding), the encoder's padding mask and given initial states, in inference and under
 * recurrent dropout; `step` over a sequence (beam-style rows reading shared sources, then reordered and narrowed)
 * equals the sequence forward; a batch after the weights changed is that of a layer built with them (no weight layout
 * kept from the batch before); with the ã rows of its kernel at zero it is the plain decoder on the same weights; its
 * config round-trips; the seq2seq setting (off in older files, refused without attention or with a post-attention
 * RNN); a seq2seq model with it saves to tfjs-format files and loads to the same predictions and decodes. Decoding
 * (greedy, beam, narrowing, ensembles) runs it through test/seq2seq_model.test.ts's variants, the CLI through
 * test/seq2seq_cli.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { Tensor } from '../src/core/tensor.js';
import { AttentionDecoder, type AttentionDecoderArgs } from '../src/layers/attention_decoder.js';
import type { SequenceMask, StepConstant } from '../src/layers/layer.js';
import { deserializeLayer, serializeLayer } from '../src/layers/registry.js';
import type { Functional } from '../src/models/functional.js';
import { loadFunctionalModel, saveModel } from '../src/node/model_io.js';
import { pairBatch } from '../src/seq2seq/data.js';
import { beamDecode, greedyDecode } from '../src/seq2seq/decode.js';
import {
  G2P_SETTINGS,
  Seq2SeqSettingsSchema,
  buildSeq2SeqModel,
  type Seq2SeqSettings,
} from '../src/seq2seq/model.js';
import { gradCheckMany } from './graph_helpers.js';
import { assertClose, randomTensor } from './helpers.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const N = 3;
const T = 4;
const S = 5;
const E = 3;
const H = 4;

const CASES: [string, AttentionDecoderArgs][] = [
  ['LSTM, Luong', { units: H, cell: 'lstm', attention: 'luong' }],
  ['GRU, Bahdanau', { units: H, cell: 'gru', attention: 'bahdanau' }],
];

function mask(rows: number[][]): SequenceMask {
  return { data: Uint8Array.from(rows.flat()), shape: [rows.length, rows[0].length] };
}

/** Row 1 has a hole at step 1 (it keeps its states and ã there), row 2 ends after 2 steps. */
const TARGET_MASK = mask([
  [1, 1, 1, 1],
  [1, 0, 1, 1],
  [1, 1, 0, 0],
]);
/** Row 0 reads 3 source steps, row 2 four. */
const SOURCE_MASK = mask([
  [1, 1, 1, 0, 0],
  [1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0],
]);

function built(args: AttentionDecoderArgs, seed = 2): AttentionDecoder {
  const layer = new AttentionDecoder({ ...args, name: 'decoder' });
  const states = Array.from({ length: args.cell === 'gru' ? 1 : 2 }, () => [H]);
  layer.buildMany([[null, E], [null, H], ...states], new Random(seed));
  // Larger weights than the initialisers give, so every part matters.
  const rng = new Random(seed + 10);
  layer.setWeights(layer.getWeights().map((w) => randomTensor([...w.shape], rng, 0.8)));
  return layer;
}

function inputs(layer: AttentionDecoder, seed: number): Tensor[] {
  const rng = new Random(seed);
  return [
    randomTensor([N, T, E], rng),
    randomTensor([N, S, H], rng),
    ...Array.from({ length: layer.cell.stateCount }, () => randomTensor([N, H], rng, 0.5)),
  ];
}

describe('AttentionDecoder backward', () => {
  for (const [name, args] of CASES)
    for (const recurrentDropout of [0, 0.3])
      it(`matches finite differences for the inputs, states and every weight, masks on (${name}, recurrent dropout ${recurrentDropout})`, () => {
        const layer = built({ ...args, recurrentDropout });
        const xs = inputs(layer, 5);
        const training = recurrentDropout > 0;
        const masks = [TARGET_MASK, SOURCE_MASK];
        if (training) {
          // The dropout masks bite: another seed gives other outputs.
          const at = (seed: number): number[] =>
            Array.from(layer.forwardMany(xs, { training, seed, masks })[0].data);
          assert.notDeepEqual(at(7), at(8));
        }
        const grads = gradCheckMany(layer, xs, { masks, training, tol: 2e-3, atol: 5e-4 });
        // Padded source steps get no gradient: they are hidden from the scores.
        const dValues = grads[1]!.data;
        for (let j = 3; j < 5; j++) for (let d = 0; d < H; d++) assert.equal(dValues[j * H + d], 0);
      });
});

describe('AttentionDecoder weight layouts', () => {
  for (const [name, args] of CASES)
    it(`a batch after the weights changed gives what a layer built with those weights gives, bit for bit (${name})`, () => {
      // The cell lays out U and Uᵀ once per pass for all its steps (RNN.holdWeightLayouts); layouts kept from the
      // batch before would be of the old weights.
      const layer = built({ ...args, recurrentDropout: 0.3 });
      const other = built({ ...args, recurrentDropout: 0.3 }, 4);
      const opts = { training: true, seed: 7, masks: [TARGET_MASK, SOURCE_MASK] };
      const dy = randomTensor([N, T, H], new Random(8));
      const batch = (l: AttentionDecoder, seed: number): number[][] => {
        const y = l.forwardMany(inputs(l, seed), opts)[0];
        l.zeroGrads();
        const dxs = l.backwardMany([dy]);
        return [y, ...dxs, ...l.weights.map((w) => w.grad)].map((a) =>
          Array.from(a instanceof Tensor ? a.data : (a ?? [])),
        );
      };
      const first = batch(layer, 5);
      layer.setWeights(other.getWeights());
      const second = batch(layer, 6);
      assert.notDeepEqual(second, first);
      assert.deepEqual(second, batch(other, 6));
    });
});

/** The stepper's view of a constant: its whole value and mask. */
const constant = (value: Tensor, m: SequenceMask | null = null): StepConstant => ({ value, mask: m });

describe('AttentionDecoder step', () => {
  for (const [name, args] of CASES)
    it(`stepped over a sequence, rows sharing sources, reordered and narrowed, equals the sequence forward (${name})`, () => {
      const layer = built(args);
      const [x, values, ...states] = inputs(layer, 7);
      const full = layer.forwardMany([x, values, ...states], {
        training: false,
        seed: 0,
        masks: [null, SOURCE_MASK],
      })[0];
      // Five rows, beam-style: rows 0 and 1 decode source 0, rows 2–3 source 2, row 4 source 1.
      const rowSource = Int32Array.from([0, 0, 2, 2, 1]);
      const rows = rowSource.length;
      const state = layer.createStepState(rows);
      layer.bindStepConstants(
        state,
        [null, constant(values, SOURCE_MASK), ...states.map((s) => constant(s))],
        rowSource,
      );
      // Row r follows source `follows[r]` (the row a reorder made it continue from keeps its source).
      let follows = Array.from(rowSource);
      const stepAt = (t: number, st = state, src = follows): Float32Array => {
        const input = new Float32Array(st.rows * E);
        src.forEach((b, r) => input.set(x.data.subarray((b * T + t) * E, (b * T + t + 1) * E), r * E));
        return layer.step(input, st);
      };
      const expect = (out: Float32Array, t: number, src: number[], what: string): void =>
        src.forEach((b, r) =>
          assertClose(
            out.subarray(r * H, (r + 1) * H),
            full.data.subarray((b * T + t) * H, (b * T + t + 1) * H),
            2e-6,
            `${what}: row ${r} (source ${b}) step ${t}`,
          ),
        );
      expect(stepAt(0), 0, follows, 'step');
      // Beam search's reorder: rows take over other rows of the same source (and row 4 that of row 2).
      const parents = Int32Array.from([1, 1, 3, 2, 2]);
      layer.reorderStepRows(state, parents);
      follows = Array.from(parents, (p) => follows[p]);
      expect(stepAt(1), 1, follows, 'after reorder');
      // Greedy's narrowing: rows 4 and 0 go on in a state of 2 rows.
      const narrow = layer.createStepState(2);
      layer.copyStepRows(state, narrow, Int32Array.from([4, 0]));
      const kept = [follows[4], follows[0]];
      for (let t = 2; t < T; t++) {
        expect(stepAt(t, narrow, kept), t, kept, 'narrowed');
        expect(stepAt(t), t, follows, 'step');
      }
    });

  it('refuses token inputs and a fixed sequence input', () => {
    const layer = built(CASES[0][1]);
    assert.throws(() => layer.createStepState(2, { tokens: true }), /float inputs/);
    const [x, values] = inputs(layer, 3);
    const state = layer.createStepState(N);
    assert.throws(
      () => layer.bindStepConstants(state, [constant(x), constant(values)], Int32Array.from([0, 1, 2])),
      /sequence input must be stepped/,
    );
  });
});

describe('AttentionDecoder config', () => {
  it('round-trips its config and weight names; bad options are errors naming them', () => {
    for (const [, args] of CASES) {
      const layer = built({ ...args, recurrentDropout: 0.25 });
      const copy = deserializeLayer(serializeLayer(layer)) as AttentionDecoder;
      assert.deepEqual(copy.getConfig(), layer.getConfig());
      assert.equal(copy.recurrentDropout, 0.25);
      copy.buildMany(
        [[null, E], [null, H], ...Array.from({ length: layer.cell.stateCount }, () => [H])],
        new Random(1),
      );
      assert.deepEqual(
        copy.weights.map((w) => [w.name, w.shape]),
        layer.weights.map((w) => [w.name, w.shape]),
      );
    }
    assert.deepEqual(
      built(CASES[0][1]).weights.map((w) => w.name),
      ['lstm/kernel', 'lstm/recurrent_kernel', 'lstm/bias', 'attentional/kernel', 'attentional/bias'],
    );
    assert.throws(
      () => new AttentionDecoder({ units: 4, cell: 'rnn' as 'lstm' }),
      /'cell' must be 'lstm' or 'gru'/,
    );
    assert.throws(
      () => new AttentionDecoder({ units: 4, attention: 'dot' as 'luong' }),
      /'attention' must be/,
    );
    assert.throws(() => new AttentionDecoder({ units: 0 }), /'units' must be a positive integer/);
    assert.throws(
      () => new AttentionDecoder({ units: 4, dropout: 0.1 } as AttentionDecoderArgs),
      /unknown option 'dropout'/,
    );
    // Luong's dot scores compare h with the values: widths must agree.
    assert.throws(
      () =>
        new AttentionDecoder({ units: 4 }).buildMany(
          [
            [null, 3],
            [null, 5],
          ],
          new Random(1),
        ),
      /query and key must have one known feature size/,
    );
  });
});

/** A small seq2seq model with random weights large enough that every input matters. */
function tiny(overrides: Partial<Seq2SeqSettings>, weightSeed = 11): Functional {
  const m = buildSeq2SeqModel(
    {
      ...G2P_SETTINGS,
      units: 3,
      embeddingDim: 4,
      dropout: 0,
      clipnorm: null,
      seed: 3,
      ...overrides,
    },
    7,
    6,
  );
  const rng = new Random(weightSeed);
  m.setWeights(m.getWeights().map((w) => randomTensor([...w.shape], rng, 0.8)));
  return m;
}

const SOURCES = [
  Int32Array.from([4, 5, 6]),
  Int32Array.from([6]),
  Int32Array.from([5, 5, 4, 6, 4]),
  Int32Array.from([4, 6]),
];
const TARGETS = [
  Int32Array.from([4, 5]),
  Int32Array.from([5, 5, 4, 4]),
  Int32Array.from([4]),
  Int32Array.from([5, 4, 5]),
];

describe('seq2seq with input feeding', () => {
  for (const o of [
    {},
    { cell: 'gru', attention: 'bahdanau', bidirectional: false },
  ] as Partial<Seq2SeqSettings>[])
    it(`with the ã rows of its kernel at zero, predicts as the plain decoder on the same weights (${o.cell ?? 'lstm'})`, () => {
      const plain = tiny(o);
      const feeding = tiny({ ...o, inputFeeding: true }, 12);
      const byName = new Map(plain.namedWeights().map((w) => [w.name, w.weight.value]));
      const cell = o.cell ?? 'lstm';
      for (const { name, weight } of feeding.namedWeights()) {
        const from = name
          .replace(`attention_decoder/${cell}/`, `decoder_${cell}/`)
          .replace('attention_decoder/attention/', 'attention/')
          .replace('attention_decoder/attentional/', 'attentional/');
        const value = byName.get(from);
        assert.ok(value, `${name} (${from}) has no counterpart in ${[...byName.keys()].join(', ')}`);
        byName.delete(from);
        // The cell's kernel: the plain decoder's rows for the embedding, then zero rows for ã.
        weight.value.fill(0);
        weight.value.set(value);
      }
      assert.deepEqual([...byName.keys()], [], 'every plain weight is used');
      const { xs } = pairBatch({ sources: SOURCES, targets: TARGETS }, [0, 1, 2, 3]);
      assertClose(
        (feeding.predict(xs) as Tensor).data,
        (plain.predict(xs) as Tensor).data,
        1e-6,
        'predictions',
      );
      const a = beamDecode(feeding, SOURCES, { maxLength: 5, width: 3 });
      const b = beamDecode(plain, SOURCES, { maxLength: 5, width: 3 });
      a.forEach((d, i) => assert.deepEqual(Array.from(d.ids), Array.from(b[i].ids), `source ${i}`));
      // With its own weights, feeding changes the predictions (the test would see the ã part ignored).
      const own = tiny({ ...o, inputFeeding: true }, 12);
      assert.ok(
        (own.predict(xs) as Tensor).data.some(
          (v, i) => Math.abs(v - (plain.predict(xs) as Tensor).data[i]) > 1e-3,
        ),
      );
    });

  it('is off by default and in older settings; needs attention and the tanh Dense it feeds back', () => {
    const names = (m: Functional): string[] => m.layers.map((l) => l.name);
    assert.equal(
      Seq2SeqSettingsSchema.parse({ ...G2P_SETTINGS, inputFeeding: undefined }).inputFeeding,
      false,
    );
    assert.ok(!names(tiny({})).includes('attention_decoder'));
    const feeding = names(tiny({ inputFeeding: true }));
    assert.ok(feeding.includes('attention_decoder'), feeding.join(', '));
    for (const gone of ['decoder_lstm', 'attention', 'decoded_and_context', 'attentional'])
      assert.ok(!feeding.includes(gone), gone);
    assert.throws(
      () => buildSeq2SeqModel({ ...G2P_SETTINGS, attention: 'none', inputFeeding: true }, 7, 6),
      /seq2seq settings: inputFeeding: .*needs attention/,
    );
    assert.throws(
      () => buildSeq2SeqModel({ ...G2P_SETTINGS, postAttentionUnits: 8, inputFeeding: true }, 7, 6),
      /seq2seq settings: inputFeeding: .*postAttentionUnits replaces/,
    );
  });

  it('saves to tfjs-format files and loads to the same layer, predictions and decodes', () => {
    const m = tiny({ inputFeeding: true });
    const dir = mkdtempSync(join(tmpdir(), 'recur-attention-decoder-'));
    dirs.push(dir);
    const { notes } = saveModel(m, dir);
    assert.ok(
      notes.some((n) => /TensorFlow\.js 4\.x has no .*AttentionDecoder/.test(n)),
      notes.join('\n'),
    );
    const loaded = loadFunctionalModel(dir).model;
    const config = (f: Functional): unknown =>
      f.layers.find((l) => l.name === 'attention_decoder')!.getConfig();
    assert.deepEqual(config(loaded), config(m));
    const { xs } = pairBatch({ sources: SOURCES, targets: TARGETS }, [0, 1, 2, 3]);
    assert.deepEqual(
      Array.from((loaded.predict(xs) as Tensor).data),
      Array.from((m.predict(xs) as Tensor).data),
    );
    for (const d of [
      (x: Functional) => greedyDecode(x, SOURCES, { maxLength: 6 }),
      (x: Functional) => beamDecode(x, SOURCES, { maxLength: 6, width: 3 }),
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
