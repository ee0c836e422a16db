/** Text tools: vocabulary, window datasets, sampling, stateful stepping and generation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernels } from '../src/core/backend.js';
import { Random } from '../src/core/random.js';
import { WasmKernels } from '../src/core/wasm/wasm_kernels.js';
import { IndexTensor, Tensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { Sequential } from '../src/models/sequential.js';
import { Stepper } from '../src/models/stepper.js';
import { ALIKE_BLOCK, Permutation, TextCorpus } from '../src/text/corpus.js';
import { TextGenerator } from '../src/text/generator.js';
import { sampleFromLogits } from '../src/text/sampling.js';
import { Vocabulary } from '../src/text/vocabulary.js';
import { assertClose } from './helpers.js';

const TEXT = 'The cat sat on the mat. The dog sat on the log! '.repeat(20);

describe('vocabulary', () => {
  it('sorted unique characters, round trip, clear error for unknown characters', () => {
    const v = Vocabulary.fromText('banana!');
    assert.deepEqual(v.chars, ['!', 'a', 'b', 'n']);
    assert.equal(v.decode(v.encode('nab!')), 'nab!');
    assert.throws(
      () => v.encode('bandana'),
      /characters outside the model's vocabulary: "d" \(first at character 3\)/,
    );
    assert.deepEqual(Vocabulary.fromJSON(v.toJSON()).chars, v.chars);
    assert.equal(Vocabulary.fromText('a😀b').size, 3, 'code points, not UTF-16 units');
  });
});

describe('corpus', () => {
  const corpus = TextCorpus.fromText(TEXT);
  it('lowercases and counts windows as the Keras recipe: range(0, len − maxlen, step)', () => {
    assert.ok(!corpus.vocabulary.has('T'));
    assert.equal(corpus.windowCount(40, 3), Math.ceil((TEXT.length - 40) / 3));
  });
  it('window batches hold the right characters and next-character targets; each window once per epoch', () => {
    const data = corpus.windows({ maxlen: 10, step: 3, batchSize: 16, seed: 1 });
    const seen = new Set<string>();
    let count = 0;
    for (const { xs, ys } of data.batches(0) as Iterable<{ xs: IndexTensor; ys: IndexTensor }>) {
      for (let r = 0; r < xs.shape[0]; r++) {
        const w = corpus.vocabulary.decode(xs.data.subarray(r * 10, r * 10 + 10));
        const next = corpus.vocabulary.chars[ys.data[r]];
        const at = TEXT.toLowerCase().indexOf(w + next);
        assert.ok(at >= 0, `window ${JSON.stringify(w)} → ${next} not in text`);
        seen.add(`${count}`);
        count++;
      }
    }
    assert.equal(count, corpus.windowCount(10, 3));
  });
  it('the epoch permutation is a bijection, differs by epoch, and resume skips batches exactly', () => {
    for (const n of [1, 2, 7, 100, 1000]) {
      const p = new Permutation(n, 42);
      const s = new Set(Array.from({ length: n }, (_, i) => p.at(i)));
      assert.equal(s.size, n);
      assert.ok([...s].every((v) => v >= 0 && v < n));
    }
    const a = [...corpus.windows({ maxlen: 10, step: 3, batchSize: 8, seed: 3 }).batches(1)] as {
      xs: IndexTensor;
    }[];
    const b = [
      ...corpus.windows({ maxlen: 10, step: 3, batchSize: 8, seed: 3, skipBatches: 5 }).batches(1),
    ] as { xs: IndexTensor }[];
    assert.deepEqual(b[0].xs.data, a[5].xs.data);
    const c = [...corpus.windows({ maxlen: 10, step: 3, batchSize: 8, seed: 3 }).batches(2)] as {
      xs: IndexTensor;
    }[];
    assert.notDeepEqual(c[0].xs.data, a[0].xs.data);
  });
  it('validation split holds out the end; no window crosses the boundary', () => {
    const { train, validation } = corpus.split(0.25);
    assert.equal(train.length + validation!.length, corpus.length);
    const lastTrain = [
      ...train.windows({ maxlen: 10, step: 1, batchSize: 1000, shuffle: false }).batches(0),
    ][0];
    assert.equal(lastTrain.xs.shape[0], train.length - 10);
  });
  it('alikeTogether: every window once, sorted by its characters within each block, targets alongside', () => {
    // Two blocks: 65,536 windows and the rest.
    const rng = new Random(5);
    const text = Array.from({ length: ALIKE_BLOCK + 5_000 }, () => 'abc'[rng.int(3)]).join('');
    const big = TextCorpus.fromText(text);
    const maxlen = 6;
    const data = big.windows({ maxlen, step: 1, batchSize: 4096, shuffle: false, alikeTogether: true });
    const rows: string[] = [];
    for (const { xs, ys } of data.batches(0) as Iterable<{ xs: IndexTensor; ys: IndexTensor }>)
      for (let r = 0; r < ys.shape[0]; r++)
        rows.push(big.vocabulary.decode([...xs.data.subarray(r * maxlen, (r + 1) * maxlen), ys.data[r]]));
    const n = big.windowCount(maxlen, 1);
    assert.equal(rows.length, n);
    const all = Array.from({ length: n }, (_, w) => text.slice(w, w + maxlen + 1));
    assert.deepEqual([...rows].sort(), [...all].sort(), 'each window (with its target) once');
    for (const [from, to] of [
      [0, ALIKE_BLOCK],
      [ALIKE_BLOCK, n],
    ]) {
      const block = rows.slice(from, to).map((w) => w.slice(0, maxlen));
      assert.deepEqual(block, [...block].sort(), `block ${from}…${to} sorted`);
      assert.deepEqual(
        [...rows.slice(from, to)].sort(),
        [...all.slice(from, to)].sort(),
        'a block holds its own windows',
      );
    }
    assert.throws(
      () => big.windows({ maxlen, step: 1, batchSize: 8, alikeTogether: true }),
      /alikeTogether serves the windows unshuffled/,
    );
  });
  it('char-rnn streams: y is x shifted by one inside each stream', () => {
    const [first] = [...corpus.streams({ seqLength: 12, batchSize: 4 }).batches(0)] as {
      xs: IndexTensor;
      ys: IndexTensor;
    }[];
    for (let b = 0; b < 4; b++) {
      for (let t = 0; t < 11; t++) assert.equal(first.ys.data[b * 12 + t], first.xs.data[b * 12 + t + 1]);
    }
  });
  it('char-rnn streams: maxBatches caps an epoch at the first batches, the streams in their places', () => {
    const all = [...corpus.streams({ seqLength: 12, batchSize: 4 }).batches(0)] as { xs: IndexTensor }[];
    const capped = corpus.streams({ seqLength: 12, batchSize: 4, maxBatches: 2 });
    assert.ok(all.length > 2);
    assert.equal(capped.batchesPerEpoch, 2);
    assert.equal(capped.samplesPerEpoch, 2 * 4);
    const got = [...capped.batches(0)] as { xs: IndexTensor }[];
    assert.deepEqual(
      got.map((b) => b.xs.data),
      all.slice(0, 2).map((b) => b.xs.data),
    );
    assert.equal(
      corpus.streams({ seqLength: 12, batchSize: 4, maxBatches: 1000 }).batchesPerEpoch,
      all.length,
    );
  });
  it('rejects texts shorter than maxlen + 1', () => {
    assert.throws(
      () => TextCorpus.fromText('short').windows({ maxlen: 40, step: 3, batchSize: 2 }),
      /needs at least maxlen \+ 1 = 41/,
    );
  });
});

describe('sampling', () => {
  const logits = Float32Array.from([1, 3, 2, -1]);
  it('temperature 0 is argmax; tiny temperatures stay finite and pick the argmax', () => {
    const rng = new Random(1);
    assert.equal(sampleFromLogits(logits, 0, 4, { temperature: 0 }, rng), 1);
    for (const t of [1e-3, 1e-8, 1e-30])
      assert.equal(sampleFromLogits(logits, 0, 4, { temperature: t }, rng), 1);
  });
  it('temperature 1 matches the softmax distribution; top-k and top-p restrict the support', () => {
    const rng = new Random(2);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[sampleFromLogits(logits, 0, 4, { temperature: 1 }, rng)]++;
    const z = [...logits].reduce((s, v) => s + Math.exp(v), 0);
    counts.forEach((c, j) => assert.ok(Math.abs(c / 20000 - Math.exp(logits[j]) / z) < 0.015, `p[${j}]`));
    for (let i = 0; i < 200; i++)
      assert.ok([1, 2].includes(sampleFromLogits(logits, 0, 4, { topK: 2 }, rng)));
    for (let i = 0; i < 200; i++) assert.equal(sampleFromLogits(logits, 0, 4, { topP: 0.5 }, rng), 1);
  });
  it("float logits sample through the kernel to the plain loop's choices, temperature 0 drawing nothing", () => {
    const rng = new Random(4);
    const rows = Array.from({ length: 50 }, (_, i) =>
      Float32Array.from({ length: 63 }, () => rng.uniform(-4, 4) * (i % 5)),
    );
    for (const temperature of [0, 0.2, 0.5, 1, 3]) {
      // The plain array takes the JavaScript loop; each kernel-memory or plain Float32Array row, the kernel.
      const draw = (asFloats: boolean): number[] => {
        const r = new Random(9);
        const picks = rows.map((row) =>
          sampleFromLogits(asFloats ? row : Array.from(row), 0, 63, { temperature }, r),
        );
        return [...picks, r.next()];
      };
      assert.deepEqual(draw(true), draw(false), `temperature ${temperature}`);
    }
  });
  it('the same seed gives the same samples', () => {
    const draw = (s: number): number[] => {
      const r = new Random(s);
      return Array.from({ length: 20 }, () => sampleFromLogits(logits, 0, 4, { temperature: 1.2 }, r));
    };
    assert.deepEqual(draw(5), draw(5));
  });
});

describe('stateful stepping equals running the whole sequence', () => {
  const T = 7;
  const V = 6;
  const cases: [string, () => Sequential][] = [
    [
      'lstm',
      () =>
        new Sequential({
          seed: 1,
          layers: [
            new L.LSTM({ units: 8, inputShape: [T, V] }),
            new L.Dense({ units: V, activation: 'softmax' }),
          ],
        }),
    ],
    [
      'gru resetAfter + stacked lstm',
      () =>
        new Sequential({
          seed: 2,
          layers: [
            new L.GRU({ units: 8, returnSequences: true, inputShape: [T, V] }),
            new L.LSTM({ units: 5 }),
            new L.Dense({ units: V }),
          ],
        }),
    ],
    [
      'gru resetBefore',
      () =>
        new Sequential({
          seed: 3,
          layers: [
            new L.GRU({ units: 8, resetAfter: false, inputShape: [T, V] }),
            new L.Dense({ units: V, activation: 'softmax' }),
          ],
        }),
    ],
    [
      'dense on tokens (bias folded into the gathered rows) + lstm',
      () =>
        new Sequential({
          seed: 6,
          layers: [
            new L.Dense({ units: 6, activation: 'tanh', biasInitializer: 'ones', inputShape: [T, V] }),
            new L.LSTM({ units: 5 }),
            new L.Dense({ units: V, activation: 'softmax' }),
          ],
        }),
    ],
    [
      'embedding + simpleRNN + dropout',
      () =>
        new Sequential({
          seed: 4,
          layers: [
            new L.Embedding({ inputDim: V, outputDim: 4, inputShape: [T] }),
            new L.SimpleRNN({ units: 8 }),
            new L.Dropout({ rate: 0.5 }),
            new L.Dense({ units: V, activation: 'softmax' }),
          ],
        }),
    ],
  ];
  // 3 streams take the packed-GEMV path, 5 the GEMM path.
  for (const [name, make] of cases) {
    it(name, () => {
      const model = make();
      model.build();
      for (const rows of [3, 5]) {
        const rng = new Random(9);
        const seqs = Array.from({ length: rows }, () => Array.from({ length: T }, () => rng.int(V)));
        const full = model.predict(new IndexTensor(Int32Array.from(seqs.flat()), [rows, T]));
        const stepper = new Stepper(model, rows, false);
        let out: Float32Array = new Float32Array(0);
        for (let t = 0; t < T; t++) out = stepper.step(Int32Array.from(seqs.map((s) => s[t])));
        assertClose(out, full.data, 2e-6, `last-step outputs, ${rows} streams`);
      }
    });
  }
});

describe('generation', () => {
  it('generates from a prime, one sample per temperature, reproducibly', () => {
    const corpus = TextCorpus.fromText(TEXT);
    const V = corpus.vocabulary.size;
    const model = new Sequential({
      seed: 5,
      layers: [
        new L.LSTM({ units: 16, inputShape: [10, V] }),
        new L.Dense({ units: V, activation: 'softmax' }),
      ],
    });
    model.build();
    const gen = new TextGenerator(model, corpus.vocabulary);
    const streamed: string[] = [];
    const out = gen.generateMany([0.2, 1.0], {
      prime: 'The cat',
      length: 30,
      seed: 3,
      onChar: (c) => streamed.push(c),
    });
    assert.equal(out.length, 2);
    assert.equal(Array.from(out[0]).length, 30);
    assert.equal(streamed.join(''), out[0]);
    assert.deepEqual(gen.generateMany([0.2, 1.0], { prime: 'The cat', length: 30, seed: 3 }), out);
    assert.equal(gen.generateText(12, 0, 'the'), gen.generateText(12, 0, 'the'));
    assert.throws(
      () => gen.generate({ prime: 'zebra', length: 5 }),
      /outside the model's vocabulary: "z", "b"/,
    );
    assert.throws(() => gen.generate({ prime: '', length: 5 }), /prime text is empty/);
    // The page passes its seed box straight through: -1 and 1.5 must not quietly mean 4294967295 and 1.
    for (const seed of [-1, 1.5, 2 ** 32, NaN])
      assert.throws(() => gen.generate({ prime: 'The', length: 5, seed }), /seed must be an integer from 0/);
    assert.equal(
      gen.generate({ prime: 'The', length: 9, seed: 2 ** 32 - 1 }).length,
      9,
      'the largest seed the CLI takes',
    );

    // Each call's stepper gives its kernel memory back: generating again and again keeps it flat.
    const k = kernels();
    const high = k instanceof WasmKernels ? k.memoryBytes : 0;
    for (let i = 0; i < 50; i++) gen.generateMany([0.2, 1.0], { prime: 'The cat', length: 5, seed: i });
    if (k instanceof WasmKernels) assert.equal(k.memoryBytes, high, 'kernel memory grew with the calls');
    const stepper = new Stepper(model, 2);
    stepper.dispose();
    assert.throws(() => stepper.step(new Int32Array(2)), /the stepper was disposed/);
  });
  it('generateStoppable steps the weights it started with, while the model trains during its yields', async () => {
    // The page trains between a generation's slices: one text must come from one set of weights, not from weights
    // that change part-way (the step states read some weights, a Dense bias, live).
    const corpus = TextCorpus.fromText(TEXT);
    const V = corpus.vocabulary.size;
    const layers = (seed: number): Sequential => {
      const m = new Sequential({
        seed,
        layers: [
          new L.GRU({ units: 12, inputShape: [null, V], returnSequences: true }),
          new L.LSTM({ units: 12 }),
          new L.Dense({ units: V, activation: 'softmax' }),
        ],
      });
      m.build();
      return m;
    };
    const model = layers(7);
    const other = layers(8).getWeights();
    const gen = new TextGenerator(model, corpus.vocabulary);
    const opts = { prime: 'The cat', length: 60, temperature: 0.8, seed: 4 };
    const expected = gen.generate(opts);
    const original = model.getWeights();
    let yields = 0;
    // Every slice yields (sliceMs 0), and every yield changes every weight, as batches of training would.
    const { text, stopped } = await gen.generateStoppable(
      opts,
      new AbortController().signal,
      async () => {
        yields++;
        const to = yields % 2 === 1 ? other : original;
        model.setWeights(
          to.map(
            (w) =>
              new Tensor(
                w.data.map((v) => 3 * v),
                w.shape,
              ),
          ),
        );
      },
      0,
    );
    assert.ok(yields > 10, `it yielded ${yields} times`);
    assert.equal(stopped, false);
    assert.equal(text, expected);
  });
  it('with a window, every character equals the recipe: a fresh-state run over exactly the last window characters', () => {
    const corpus = TextCorpus.fromText(TEXT);
    const V = corpus.vocabulary.size;
    const W = 6;
    const model = new Sequential({
      seed: 6,
      layers: [
        new L.LSTM({ units: 12, inputShape: [null, V] }),
        new L.Dense({ units: V, activation: 'softmax' }),
      ],
    });
    model.build();
    const prime = 'the cat s';
    const text = new TextGenerator(model, corpus.vocabulary, true, W).generate({
      prime,
      length: 20,
      temperature: 0,
    });
    const all = corpus.vocabulary.encode(prime + text);
    for (let i = 0; i < 20; i++) {
      const end = prime.length + i; // characters known before character i is generated
      const window = all.slice(Math.max(0, end - W), end);
      const probs = model.predict(new IndexTensor(Int32Array.from(window), [1, window.length])).data;
      let best = 0;
      for (let j = 1; j < V; j++) if (probs[j] > probs[best]) best = j;
      assert.equal(best, all[end], `character ${i}`);
    }
  });
});
