/**
 * Text classification, the library: tokenizers, metrics (against hand counts and brute force), the baselines, the
 * stratified split, length-bucketed batches, the classifier recipe learning a small task, prediction that does not
 * depend on padding or batch order, the metadata schema, and EarlyStopping's resumable state.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../src/node/index.js';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import {
  CLASSIFIER_DEFAULTS,
  NaiveBayes,
  OOV_ID,
  PAD_ID,
  Tokenizer,
  ValidationMetrics,
  accuracyOf,
  argmaxRows,
  bagOfWords,
  bucketedBatches,
  buildClassifier,
  classWeightsFor,
  classesOf,
  classificationReport,
  classifierDataset,
  classifierMetadata,
  classifierSettings,
  compileClassifier,
  confusionMatrix,
  encodeLabels,
  learningRateAt,
  macroF1,
  majorityClass,
  networkReport,
  padBatch,
  parseClassifierMetadata,
  predictProbabilities,
  rocAuc,
  stratifiedSplit,
  subset,
  tokenize,
  type LabelledTexts,
} from '../src/classify/index.js';
import { EarlyStopping, LambdaCallback } from '../src/models/callbacks.js';
import { IndexTensor, type Tensor } from '../src/core/tensor.js';
import { GlobalAveragePooling1D, GlobalMaxPooling1D } from '../src/layers/index.js';

describe('tokenizers', () => {
  it('word level: lowercasing, punctuation split / strip / keep, apostrophes inside words', () => {
    const o = { level: 'word', lowercase: true } as const;
    assert.deepEqual(tokenize("It's GREAT, isn't it?!", { ...o, punctuation: 'split' }), [
      "it's",
      'great',
      ',',
      "isn't",
      'it',
      '?',
      '!',
    ]);
    assert.deepEqual(tokenize("It's GREAT, isn't it?!", { ...o, punctuation: 'strip' }), [
      "it's",
      'great',
      "isn't",
      'it',
    ]);
    assert.deepEqual(tokenize('Hi, there!', { ...o, punctuation: 'keep' }), ['hi,', 'there!']);
    assert.deepEqual(tokenize('Grüße aus Köln', { ...o, lowercase: false, punctuation: 'split' }), [
      'Grüße',
      'aus',
      'Köln',
    ]);
  });
  it('char level: code points, punctuation stripped on request', () => {
    assert.deepEqual(tokenize('A😀b!', { level: 'char', lowercase: true, punctuation: 'split' }), [
      'a',
      '😀',
      'b',
      '!',
    ]);
    assert.deepEqual(tokenize('a, b', { level: 'char', lowercase: true, punctuation: 'strip' }), [
      'a',
      ' ',
      'b',
    ]);
  });
  it('vocabulary by falling count (ties in code-unit order), capped by size and count; OOV and padding reserved', () => {
    const t = Tokenizer.fit(['b a a c', 'a b d', 'e'], { maxVocab: 5, minCount: 1 });
    assert.deepEqual(t.tokens, ['', '[UNK]', 'a', 'b', 'c']);
    assert.deepEqual([...t.encode('a c zebra b')], [2, 4, OOV_ID, 3]);
    const byCount = Tokenizer.fit(['b a a c', 'a b d', 'e'], { maxVocab: null, minCount: 2 });
    assert.deepEqual(byCount.tokens, ['', '[UNK]', 'a', 'b']);
    assert.deepEqual(
      [...t.encode('c a b b', 2)],
      [3, 3],
      "truncated to maxLength: 'pre' keeps the last tokens",
    );
    assert.deepEqual([...t.encode('c a b b', 2, 'post')], [4, 2], "'post' keeps the first");
    assert.equal(t.encode('').length, 0);
    assert.ok(![...t.encode('a b c zzz')].includes(PAD_ID), 'no token encodes to the padding id');
  });
  it('round-trips through JSON and refuses a damaged one', () => {
    const t = Tokenizer.fit(['hello world', 'hello there'], { level: 'word' });
    const again = Tokenizer.fromJSON(JSON.parse(JSON.stringify(t.toJSON())));
    assert.deepEqual([...again.encode('hello there world x')], [...t.encode('hello there world x')]);
    assert.throws(() => Tokenizer.fromJSON({ ...t.toJSON(), tokens: ['x', '[UNK]'] }), InvalidInputError);
    assert.throws(
      () => Tokenizer.fromJSON({ ...t.toJSON(), tokens: ['', '[UNK]', 'a', 'a'] }),
      InvalidInputError,
    );
    assert.throws(() => Tokenizer.fit([], { maxVocab: 2 }), /maxVocab/);
  });
});

describe('metrics', () => {
  const truth = [0, 0, 0, 1, 1, 2, 2, 2, 2];
  const pred = [0, 1, 0, 1, 2, 2, 2, 0, 2];
  it('confusion, accuracy, per-class precision / recall / F1 and macro-F1 match hand counts', () => {
    assert.deepEqual(confusionMatrix(truth, pred, 3), [
      [2, 1, 0],
      [0, 1, 1],
      [1, 0, 3],
    ]);
    const r = classificationReport(['a', 'b', 'c'], truth, pred);
    assert.equal(r.accuracy, 6 / 9);
    // a: P 2/3 R 2/3; b: P 1/2 R 1/2; c: P 3/4 R 3/4 → F1 equal to P.
    assert.ok(Math.abs(r.per_class.a.f1 - 2 / 3) < 1e-12);
    assert.ok(Math.abs(r.per_class.b.precision - 0.5) < 1e-12);
    assert.ok(Math.abs(r.per_class.c.recall - 0.75) < 1e-12);
    assert.equal(r.per_class.c.support, 4);
    assert.ok(Math.abs(r.macro_f1 - (2 / 3 + 1 / 2 + 3 / 4) / 3) < 1e-12);
    assert.equal(macroF1(truth, pred, 3), r.macro_f1);
    assert.equal(r.auc, null, 'no AUC for three classes');
    // A class never predicted: precision 0, not NaN.
    assert.equal(classificationReport(['a', 'b'], [0, 1], [0, 0]).per_class.b.precision, 0);
  });
  it('macro-F1 averages the classes among the true labels or the predictions (scikit-learn), not absent ones', () => {
    // c is neither in the texts nor predicted: a perfect model scores 1, not (1 + 1 + 0) / 3.
    const perfect = classificationReport(['a', 'b', 'c'], [0, 1, 1], [0, 1, 1]);
    assert.equal(perfect.macro_f1, 1);
    assert.equal(perfect.per_class.c.f1, 0);
    assert.equal(macroF1([0, 1, 1], [0, 1, 1], 3), 1);
    // b is present but never predicted and c predicted but absent: both count, with F1 0.
    const r = classificationReport(['a', 'b', 'c', 'd'], [0, 0, 1], [0, 2, 0]);
    // a: TP 1, predicted 2, support 2 → P 1/2, R 1/2, F1 1/2; b 0; c 0; d absent and unpredicted.
    assert.ok(Math.abs(r.macro_f1 - 0.5 / 3) < 1e-12, `${r.macro_f1}`);
    assert.equal(macroF1([0, 0, 1], [0, 2, 0], 4), r.macro_f1);
  });
  it('ROC-AUC equals the fraction of correctly ordered positive–negative pairs (ties half)', () => {
    const rng = new Random(3);
    for (let trial = 0; trial < 20; trial++) {
      const n = 5 + rng.int(30);
      const pos = Array.from({ length: n }, () => rng.next() < 0.4);
      const scores = Array.from({ length: n }, () => Math.round(rng.next() * 6) / 6);
      let good = 0;
      let pairs = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++)
          if (pos[i] && !pos[j]) {
            pairs++;
            good += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
          }
      const auc = rocAuc(pos, scores);
      if (pairs === 0) assert.equal(auc, null);
      else assert.ok(Math.abs(auc! - good / pairs) < 1e-12, `${auc} vs ${good / pairs}`);
    }
  });
  it('argmax of rows, first on ties; accuracy', () => {
    assert.deepEqual([...argmaxRows([0.2, 0.8, 0.5, 0.5, 0.9, 0.1], 2)], [1, 0, 0]);
    assert.equal(accuracyOf([1, 0, 0], [1, 0, 1]), 2 / 3);
  });
});

describe('baselines', () => {
  it('majority class (lowest index on ties)', () => {
    assert.equal(majorityClass([1, 1, 0, 2, 1], 3), 1);
    assert.equal(majorityClass([0, 1], 2), 0);
  });
  it('naive Bayes: scores are the hand-computed log posteriors (add-one smoothing, unigrams and bigrams)', () => {
    const texts = ['good fun', 'good good', 'bad dull'];
    const labels = Int32Array.from([1, 1, 0]);
    const nb = NaiveBayes.fit(texts, labels, 2, { bigrams: true, alpha: 1 });
    // Features: good, fun, "good fun", good, good, "good good", bad, dull, "bad dull": V = 7 distinct.
    const V = 7;
    const pos = 6; // feature count in class 1
    const neg = 3;
    const s = nb.scores('good bad unseenword');
    const want1 = Math.log(2 / 3) + Math.log((3 + 1) / (pos + V)) + Math.log((0 + 1) / (pos + V));
    const want0 = Math.log(1 / 3) + Math.log((0 + 1) / (neg + V)) + Math.log((1 + 1) / (neg + V));
    assert.ok(
      Math.abs(s[1] - want1) < 1e-12 && Math.abs(s[0] - want0) < 1e-12,
      `${[...s]} vs ${want0}, ${want1}`,
    );
    assert.deepEqual([...nb.predict(['good', 'dull'])], [1, 0]);
    assert.deepEqual(bagOfWords('A big, BIG cat', true), ['big', 'big', 'cat', 'big big', 'big cat']);
  });
});

function toyData(n: number, seed: number): LabelledTexts {
  // Sentiment-like: the label is whether the text holds more positive than negative words; filler words dilute.
  const rng = new Random(seed);
  const good = ['great', 'good', 'fine', 'lovely'];
  const bad = ['awful', 'bad', 'dull', 'poor'];
  const filler = ['the', 'film', 'was', 'a', 'plot', 'actor', 'and', 'very', 'it', 'story'];
  const texts: string[] = [];
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const positive = rng.next() < 0.5;
    const len = 3 + rng.int(12);
    const words = Array.from({ length: len }, () => filler[rng.int(filler.length)]);
    const k = 1 + rng.int(2);
    for (let j = 0; j < k; j++) words[rng.int(len)] = (positive ? good : bad)[rng.int(4)];
    texts.push(words.join(' '));
    labels.push(positive ? 'pos' : 'neg');
  }
  return { texts, labels, where: texts.map((_, i) => `row ${i + 1}`), source: 'toy' };
}

describe('splits and batches', () => {
  it('stratified split: disjoint, complete, class balance kept, seeded', () => {
    const labels = Int32Array.from({ length: 1000 }, (_, i) => (i % 10 < 3 ? 1 : 0));
    const s = stratifiedSplit(labels, 2, { validation: 0.1, test: 0.2 }, 7);
    const all = [...s.train, ...s.validation, ...s.test].sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.equal(s.test.length, 200);
    assert.equal(s.validation.length, 100);
    assert.equal(s.test.filter((i) => labels[i] === 1).length, 60);
    assert.deepEqual(stratifiedSplit(labels, 2, { validation: 0.1, test: 0.2 }, 7), s);
    assert.notDeepEqual(stratifiedSplit(labels, 2, { validation: 0.1, test: 0.2 }, 8).test, s.test);
    // A class with one record stays in training.
    const tiny = stratifiedSplit(Int32Array.from([0, 0, 0, 0, 1]), 2, { validation: 0.3, test: 0.3 }, 1);
    assert.ok([...tiny.train].includes(4));
    assert.throws(() => stratifiedSplit(labels, 2, { validation: 0.5, test: 0.5 }, 1), InvalidInputError);
  });
  it('labels: one class is an error naming the field; an unknown label names its record', () => {
    const d: LabelledTexts = {
      texts: ['a', 'b'],
      labels: ['x', 'x'],
      where: ['f row 2', 'f row 3'],
      source: 'f',
    };
    assert.throws(
      () => classesOf(d, "label column 'y'"),
      /f: the label column 'y' has only one class \('x'\)/,
    );
    assert.throws(() => encodeLabels(d, ['a', 'b']), /f row 2: label 'x' is not one of the model's classes/);
  });
  it('bucketed batches: every record once per epoch, padded only to its batch, same epoch same batches', () => {
    const rng = new Random(5);
    const seqs = Array.from({ length: 203 }, () =>
      Int32Array.from({ length: 1 + rng.int(60) }, () => 2 + rng.int(9)),
    );
    const opts = { batchSize: 16, shuffle: true, seed: 9, bucketBatches: 4 };
    const epoch = (e: number): { rows: number[]; xs: IndexTensor }[] =>
      [...bucketedBatches(seqs, opts, e)].map((b) => ({ rows: [...b.rows], xs: b.xs }));
    const e0 = epoch(0);
    assert.deepEqual(
      e0.flatMap((b) => b.rows).sort((a, b) => a - b),
      Array.from({ length: 203 }, (_, i) => i),
    );
    let padded = 0;
    let total = 0;
    for (const { rows, xs } of e0) {
      const T = xs.shape[1];
      assert.equal(T, Math.max(...rows.map((r) => seqs[r].length)));
      rows.forEach((r, i) => {
        assert.deepEqual([...xs.data.subarray(i * T, i * T + seqs[r].length)], [...seqs[r]]);
        assert.ok(xs.data.subarray(i * T + seqs[r].length, (i + 1) * T).every((v) => v === PAD_ID));
      });
      padded += rows.length * T;
      total += rows.reduce((s, r) => s + seqs[r].length, 0);
    }
    // Bucketing pads far less than padding every batch of a random order to its longest.
    assert.ok(padded < 1.35 * total, `${padded} padded steps for ${total} tokens`);
    assert.deepEqual(
      epoch(0).map((b) => b.rows),
      e0.map((b) => b.rows),
    );
    assert.notDeepEqual(
      epoch(1).map((b) => b.rows),
      e0.map((b) => b.rows),
    );
    // Inference order: sorted by length.
    const inOrder = [...bucketedBatches(seqs, { batchSize: 50, shuffle: false })].flatMap((b) => [...b.rows]);
    for (let i = 1; i < inOrder.length; i++)
      assert.ok(seqs[inOrder[i]].length >= seqs[inOrder[i - 1]].length);
  });
});

describe('the classifier recipe', () => {
  it('settings: defaults, sigmoid for two classes, softmax otherwise, bad values named', () => {
    const s = classifierSettings(2, { seed: 1 });
    assert.equal(s.output, 'sigmoid');
    assert.equal(s.units, CLASSIFIER_DEFAULTS.units);
    assert.equal(classifierSettings(3, { seed: 1 }).output, 'softmax');
    assert.throws(
      () => classifierSettings(3, { output: 'sigmoid' }),
      /output must be softmax for more than two/,
    );
    assert.throws(() => classifierSettings(2, { units: 0 }), /units must be a positive integer/);
    assert.throws(() => classifierSettings(2, { tokenizer: { maxVocab: 1 } }), /maxVocab/);
  });

  it('pooling and class-weight settings: validated, named in errors; class weights give a softmax output', () => {
    assert.equal(classifierSettings(2, { seed: 1 }).pooling, 'max');
    assert.equal(classifierSettings(2, { seed: 1 }).classWeight, null);
    assert.throws(
      () => classifierSettings(2, { pooling: 'sum' as never }),
      /pooling must be last, max or mean, got "sum"/,
    );
    assert.equal(classifierSettings(2, { classWeight: 'balanced' }).output, 'softmax');
    assert.throws(
      () => classifierSettings(2, { classWeight: 'balanced', output: 'sigmoid' }),
      /output must be softmax when class weights are given/,
    );
    for (const bad of [{}, { ham: 0 }, { ham: -1 }, { ham: Infinity }, 'heavy'])
      assert.throws(
        () => classifierSettings(2, { classWeight: bad as never }),
        /classWeight must be 'balanced' or positive finite weights by class name/,
      );
  });

  it("class weights: 'balanced' is N / (classes · count); named weights, others 1; unknown classes named", () => {
    const labels = Int32Array.from([0, 0, 0, 1, 2, 2]);
    assert.deepEqual([...classWeightsFor('balanced', ['a', 'b', 'c'], labels)!], [Math.fround(6 / 9), 2, 1]);
    assert.deepEqual([...classWeightsFor({ c: 3 }, ['a', 'b', 'c'], labels)!], [1, 1, 3]);
    assert.equal(classWeightsFor(null, ['a', 'b'], labels), null);
    assert.throws(
      () => classWeightsFor({ spam: 2 }, ['a', 'b', 'c'], labels),
      /classWeight names class 'spam', which the data does not have \(classes: a, b, c\)/,
    );
    assert.throws(
      () => classWeightsFor('balanced', ['a', 'b', 'c', 'd'], labels),
      /classWeight: class 'd' has no training texts/,
    );
  });

  it("class weights scale each sample's loss exactly: weight 2 on a text = that text twice (SGD, lr × 3/2)", () => {
    // Batch [A (weight 2), B (weight 1)], averaged over 2 samples, has the gradient (2 gA + gB) / 2; the unweighted
    // batch [A, A, B] has (2 gA + gB) / 3. One SGD step at 1.5× the rate on the second must land on the same weights.
    const seqs = [Int32Array.from([3, 4, 5]), Int32Array.from([6, 2])];
    const labels = Int32Array.from([1, 0]);
    const base = { seed: 5, units: 4, embeddingDim: 3, dropout: 0, optimizer: 'sgd', clipnorm: null };
    const weighted = classifierSettings(2, { ...base, learningRate: 0.2, classWeight: { pos: 2 } });
    const plain = classifierSettings(2, { ...base, learningRate: 0.3, output: 'softmax' });
    const w = classWeightsFor(weighted.classWeight, ['neg', 'pos'], labels);
    const [batch] = [
      ...(classifierDataset(seqs, labels, {
        batchSize: 2,
        shuffle: false,
        sigmoid: false,
        classWeights: w,
      }).batches(0) as Iterable<{ xs: IndexTensor; ys: Tensor }>),
    ];
    const ys = batch.ys as Tensor;
    assert.deepEqual([...ys.shape], [2, 2]);
    const m1 = buildClassifier(weighted, 8, 2);
    compileClassifier(m1, weighted);
    m1.trainOnBatch(batch.xs, ys);
    const m2 = buildClassifier(plain, 8, 2);
    compileClassifier(m2, plain);
    m2.trainOnBatch(
      padBatch(seqs, Int32Array.from([0, 0, 1])),
      new IndexTensor(Int32Array.from([1, 1, 0]), [3]),
    );
    const a = m1.getWeights();
    const b = m2.getWeights();
    a.forEach((t, i) => {
      for (let j = 0; j < t.size; j++)
        assert.ok(
          Math.abs(t.data[j] - b[i].data[j]) < 1e-6,
          `weight ${i}[${j}]: ${t.data[j]} vs ${b[i].data[j]}`,
        );
    });
    assert.ok(
      a.some((t, i) =>
        t.data.some((v, j) => Math.abs(v - buildClassifier(plain, 8, 2).getWeights()[i].data[j]) > 1e-4),
      ),
      'the step moved the weights',
    );
  });

  for (const pooling of ['max', 'mean'] as const) {
    it(`pooling '${pooling}': the last recurrent layer returns sequences into the pooling layer; padding changes nothing`, () => {
      const s = classifierSettings(3, { seed: 6, pooling, units: 5, embeddingDim: 4, layers: 2 });
      const model = buildClassifier(s, 20, 3);
      const kinds = model.layers.map((l) => l.className);
      assert.deepEqual(kinds, [
        'Embedding',
        'Dropout',
        'Bidirectional',
        'Dropout',
        'Bidirectional',
        pooling === 'max' ? 'GlobalMaxPooling1D' : 'GlobalAveragePooling1D',
        'Dropout',
        'Dense',
      ]);
      assert.ok(model.layers[5] instanceof (pooling === 'max' ? GlobalMaxPooling1D : GlobalAveragePooling1D));
      const seqs = [Int32Array.from([4, 9, 2, 17, 3, 3, 8]), Int32Array.from([5, 6]), Int32Array.from([11])];
      const batched = predictProbabilities(model, seqs, 3, 3);
      const single = predictProbabilities(model, seqs, 3, 1);
      for (let i = 0; i < batched.length; i++) assert.ok(Math.abs(batched[i] - single[i]) < 1e-5);
    });
  }

  it('embedding dropout and learning-rate decay: validated and named; SpatialDropout1D replaces the Dropout after the embedding', () => {
    const d = classifierSettings(2, { seed: 1 });
    assert.equal(d.embeddingDropout, null);
    assert.equal(d.lrDecay, 1);
    const kinds = (o: Parameters<typeof classifierSettings>[1]): string[] =>
      buildClassifier(
        classifierSettings(2, { seed: 1, units: 3, embeddingDim: 2, pooling: 'last', ...o }),
        10,
        2,
      ).layers.map((l) => l.className);
    assert.deepEqual(kinds({}), ['Embedding', 'Dropout', 'Bidirectional', 'Dropout', 'Dense']);
    assert.deepEqual(kinds({ embeddingDropout: 0.3 }), [
      'Embedding',
      'SpatialDropout1D',
      'Bidirectional',
      'Dropout',
      'Dense',
    ]);
    assert.deepEqual(kinds({ embeddingDropout: 0 }), ['Embedding', 'Bidirectional', 'Dropout', 'Dense']);
    assert.deepEqual(kinds({ embeddingDropout: 0.3, dropout: 0 }), [
      'Embedding',
      'SpatialDropout1D',
      'Bidirectional',
      'Dense',
    ]);
    assert.throws(
      () => classifierSettings(2, { embeddingDropout: 1 }),
      /embeddingDropout must be in \[0, 1\) or null, got 1/,
    );
    for (const bad of [0, 1.5, -0.5, NaN])
      assert.throws(() => classifierSettings(2, { lrDecay: bad }), /lrDecay must be in \(0, 1\]/);
    const s = classifierSettings(2, { seed: 1, learningRate: 0.004, lrDecay: 0.5 });
    assert.deepEqual(
      [0, 1, 2].map((e) => learningRateAt(s, e)),
      [0.004, 0.002, 0.001],
    );
    assert.equal(learningRateAt(d, 7), d.learningRate);
  });

  it('SpatialDropout1D after the embedding: training drops whole channels per text, padding changes nothing', () => {
    const s = classifierSettings(2, {
      seed: 3,
      units: 4,
      embeddingDim: 6,
      embeddingDropout: 0.5,
      dropout: 0,
    });
    const model = buildClassifier(s, 12, 2);
    const seqs = [Int32Array.from([4, 9, 2, 7]), Int32Array.from([5, 6]), Int32Array.from([11])];
    const batched = predictProbabilities(model, seqs, 2, 3);
    const single = predictProbabilities(model, seqs, 2, 1);
    for (let i = 0; i < batched.length; i++) assert.ok(Math.abs(batched[i] - single[i]) < 1e-5);
    const drop = model.layers[1];
    const x = drop.forward(
      model.layers[0].forward(padBatch(seqs, Int32Array.from([0, 1, 2])), { training: false, seed: 0 }),
      {
        training: true,
        seed: 9,
      },
    ) as Tensor;
    const [N, T, D] = x.shape;
    let dropped = 0;
    for (let n = 0; n < N; n++)
      for (let c = 0; c < D; c++) {
        // A channel of a text is dropped at every step or at none.
        const zero = x.data[n * T * D + c] === 0;
        dropped += zero ? 1 : 0;
        for (let t = 0; t < seqs[n].length; t++) assert.equal(x.data[(n * T + t) * D + c] === 0, zero);
      }
    assert.ok(dropped > 0 && dropped < N * D, `${dropped} of ${N * D} channels dropped`);
  });

  for (const output of ['sigmoid', 'softmax'] as const) {
    it(`learns a small sentiment task beyond both baselines' floor (${output}); predictions ignore padding`, async () => {
      const data = toyData(600, 1);
      const classes = classesOf(data);
      const labels = encodeLabels(data, classes);
      const split = stratifiedSplit(labels, 2, { validation: 0.15, test: 0.15 }, 3);
      const settings = classifierSettings(2, {
        seed: 2,
        output,
        units: 16,
        embeddingDim: 16,
        maxLength: 30,
        learningRate: 0.01,
        dropout: 0,
      });
      const train = subset(data, split.train);
      const test = subset(data, split.test);
      const tok = Tokenizer.fit(train.texts, settings.tokenizer);
      const enc = (d: LabelledTexts): Int32Array[] =>
        d.texts.map((t) => tok.encode(t, settings.maxLength, settings.truncating));
      const model = buildClassifier(settings, tok.size, 2);
      compileClassifier(model, settings);
      const valSeqs = enc(subset(data, split.validation));
      const valLabels = encodeLabels(subset(data, split.validation), classes);
      const logs: Record<string, number>[] = [];
      const metrics = new ValidationMetrics(valSeqs, valLabels, 2);
      await model.fitDataset(
        classifierDataset(enc(train), encodeLabels(train, classes), {
          batchSize: 16,
          shuffle: true,
          seed: 1,
          sigmoid: output === 'sigmoid',
        }),
        {
          epochs: 6,
          callbacks: [metrics, new LambdaCallback({ onEpochEnd: (_e, l) => void logs.push({ ...l }) })],
        },
      );
      assert.ok('val_macro_f1' in logs[logs.length - 1]);
      const seqs = enc(test);
      const report = networkReport(model, classes, seqs, encodeLabels(test, classes));
      assert.ok(report.accuracy > 0.9, `test accuracy ${report.accuracy}`);
      assert.ok(report.auc !== null && report.auc > 0.95);
      // Batching and padding must not change a prediction: one at a time equals length-bucketed batches.
      const batched = predictProbabilities(model, seqs, 2, 64);
      const single = predictProbabilities(model, seqs.slice(0, 10), 2, 1);
      for (let i = 0; i < 20; i++) assert.ok(Math.abs(batched[i] - single[i]) < 1e-5);
      for (let i = 0; i < seqs.length; i++)
        assert.ok(Math.abs(batched[2 * i] + batched[2 * i + 1] - 1) < 1e-5);
    });
  }

  it('metadata of a model saved before --pooling, --embedding-dropout and --lr-decay loads as it was trained', () => {
    const settings = classifierSettings(2, { seed: 4 });
    const old: Record<string, unknown> = { ...settings };
    delete old.pooling;
    delete old.embeddingDropout;
    delete old.lrDecay;
    const meta = classifierMetadata(['neg', 'pos'], Tokenizer.fit(['a b']), settings, {
      source: '/x.csv',
      textColumn: null,
      labelColumn: null,
      testSource: null,
      fingerprint: 'f',
      records: 2,
    });
    const parsed = parseClassifierMetadata(JSON.parse(JSON.stringify({ ...meta, settings: old })), 'dir');
    // Such a model used the final state (max pooling became the default later), element-wise dropout, a constant rate.
    assert.equal(parsed.settings.pooling, 'last');
    assert.equal(parsed.settings.embeddingDropout, null);
    assert.equal(parsed.settings.lrDecay, 1);
    assert.throws(
      () => parseClassifierMetadata({ ...meta, settings: { ...settings, lrDecay: 2 } }, 'dir'),
      /dir: model.json: userDefinedMetadata.settings.lrDecay/,
    );
  });

  it('metadata: round trip, and a damaged field is named', () => {
    const tok = Tokenizer.fit(['a b c']);
    const settings = classifierSettings(2, { seed: 4 });
    const data = {
      source: '/x.csv',
      textColumn: 'text',
      labelColumn: 'label',
      testSource: null,
      fingerprint: 'f',
      records: 3,
    };
    const meta = classifierMetadata(['neg', 'pos'], tok, settings, data);
    assert.deepEqual(parseClassifierMetadata(JSON.parse(JSON.stringify(meta)), 'dir'), meta);
    assert.throws(
      () => parseClassifierMetadata({ ...meta, settings: { ...settings, units: -1 } }, 'dir'),
      /dir: model.json: userDefinedMetadata.settings.units/,
    );
    assert.throws(() => parseClassifierMetadata({ task: 'text' }, 'dir'), /not a recur text classifier/);
    assert.throws(() => parseClassifierMetadata({ ...meta, classes: ['a'] }, 'dir'), /classes/);
  });
});

describe('EarlyStopping state', () => {
  it('a restored state carries wait and best into the next fit; a fresh fit starts afresh', async () => {
    const run = async (es: EarlyStopping, values: number[], initial = 0): Promise<number | null> => {
      const model = {
        stopTraining: false,
        getWeights: () => [],
        setWeights: () => undefined,
        optimizer: null,
      };
      es.setModel(model as never);
      await es.onTrainBegin();
      for (let e = initial; e < initial + values.length; e++) {
        await es.onEpochEnd(e, { val_loss: values[e - initial] });
        if (model.stopTraining) return e;
      }
      return null;
    };
    const whole = new EarlyStopping({ patience: 2 });
    assert.equal(await run(whole, [1, 0.5, 0.6, 0.7, 0.4]), 3);
    const first = new EarlyStopping({ patience: 2 });
    assert.equal(await run(first, [1, 0.5, 0.6]), null);
    const resumed = new EarlyStopping({ patience: 2 });
    resumed.setState(JSON.parse(JSON.stringify(first.getState())));
    assert.equal(await run(resumed, [0.7, 0.4], 3), 3, 'stops at the same epoch as the uninterrupted run');
    const fresh = new EarlyStopping({ patience: 2 });
    assert.equal(await run(fresh, [0.7, 0.8], 3), null);
  });
});
