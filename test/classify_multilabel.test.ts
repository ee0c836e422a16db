/**
 * Multi-label text classification: label-list loading (CSV/TSV/JSON Lines, separators, empty lists, errors naming
 * file, line and column, a seeded fuzz), the multi-label metrics on hand-computed cases, the one-vs-rest and
 * frequent-label baselines, the split by first label, and `recur classify train --multi-label` → eval → predict end
 * to end through the built CLI on generated keyword texts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import {
  encodeLabelSets,
  firstLabelStrata,
  frequentLabels,
  multiLabelDataset,
  multiLabelScores,
  multiLabelsOf,
  naiveBayesOneVsRest,
  binaryCrossEntropy,
  thresholded,
  classifierSettings,
  parseClassifierMetadata,
  labelsAtThreshold,
  buildClassifier,
  compileClassifier,
  predictProbabilities,
} from '../src/classify/index.js';
import { computeLoss } from '../src/models/losses.js';
import { IndexTensor, Tensor } from '../src/core/tensor.js';
import { loadLabelledTexts, parseLabelList } from '../src/node/classify_data.js';
import { loadModel } from '../src/node/model_io.js';
import type { Batch } from '../src/models/sequential.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

function run(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000, input });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const csvCell = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** Texts of filler words plus one keyword per label that applies (each label independently with probability 0.35). */
function keywordTexts(n: number, seed: number): { text: string; labels: string[] }[] {
  const rng = new Random(seed);
  const keywords: Record<string, string[]> = {
    politics: ['election', 'senate', 'vote'],
    sports: ['football', 'goal', 'match'],
    science: ['physics', 'experiment', 'molecule'],
  };
  const filler = ['the', 'a', 'today', 'report', 'about', 'and', 'people', 'new', 'said', 'city'];
  const out: { text: string; labels: string[] }[] = [];
  for (let i = 0; i < n; i++) {
    const labels = Object.keys(keywords).filter(() => rng.next() < 0.35);
    const words = Array.from({ length: 4 + rng.int(8) }, () => filler[rng.int(filler.length)]);
    for (const l of labels) words.splice(rng.int(words.length + 1), 0, keywords[l][rng.int(3)]);
    out.push({ text: words.join(' '), labels });
  }
  return out;
}

describe('multi-label loading', () => {
  let dir = '';
  before(() => (dir = mkdtempSync(join(tmpdir(), 'recur-multilabel-load-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('CSV: label lists split, trimmed, deduplicated and sorted; an empty list is no label', () => {
    const p = join(dir, 'a.csv');
    writeFileSync(p, 'text,labels\nfirst text, sports | politics\nsecond,\nthird,"b|a|b"\n');
    const d = loadLabelledTexts(p, { labelSeparator: '|' });
    assert.deepEqual(d.labelSets, [['politics', 'sports'], [], ['a', 'b']]);
    assert.deepEqual(d.labels, ['politics|sports', '', 'a|b']);
    assert.deepEqual(multiLabelsOf(d), ['a', 'b', 'politics', 'sports']);
    assert.deepEqual(Array.from(encodeLabelSets(d, multiLabelsOf(d))), [0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0]);
  });

  it('TSV with another separator; JSON Lines with strings or arrays', () => {
    const t = join(dir, 'b.tsv');
    writeFileSync(t, 'sentence\ttags\nx y\tfun;news\nz\t\n');
    assert.deepEqual(loadLabelledTexts(t, { labelSeparator: ';' }).labelSets, [['fun', 'news'], []]);
    const j = join(dir, 'c.jsonl');
    writeFileSync(
      j,
      [
        { text: 'one', labels: ['z', 'é', 'z'] },
        { text: 'two', labels: 'a|b' },
        { text: 'three', labels: [] },
        { text: 'four', labels: '' },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n'),
    );
    assert.deepEqual(loadLabelledTexts(j, { labelSeparator: '|' }).labelSets, [
      ['z', 'é'],
      ['a', 'b'],
      [],
      [],
    ]);
  });

  it('errors name the file, line and column: an empty name in a list, a missing label column, a bad JSON label', () => {
    const p = join(dir, 'bad.csv');
    writeFileSync(p, 'text,labels\nfine,a\nbroken,a||b\n');
    assert.throws(
      () => loadLabelledTexts(p, { labelSeparator: '|' }),
      (e: Error) =>
        e instanceof InvalidInputError &&
        e.message.includes(`${p}: line 3, column 'labels'`) &&
        e.message.includes('empty label name'),
    );
    const q = join(dir, 'nolabel.csv');
    writeFileSync(q, 'text,other,more\nfine,a,b\n');
    assert.throws(
      () => loadLabelledTexts(q, { labelSeparator: '|' }),
      (e: Error) => e instanceof InvalidInputError && /label-column/.test(e.message) && e.message.includes(q),
    );
    const j = join(dir, 'bad.jsonl');
    writeFileSync(j, '{"text": "ok", "labels": ["a"]}\n{"text": "no", "labels": ["a", true]}\n');
    assert.throws(
      () => loadLabelledTexts(j, { labelSeparator: '|' }),
      (e: Error) => e instanceof InvalidInputError && e.message.includes(`${j}: line 2: field 'labels'[1]`),
    );
    writeFileSync(j, '{"text": "ok", "labels": {"a": 1}}\n');
    assert.throws(
      () => loadLabelledTexts(j, { labelSeparator: '|' }),
      (e: Error) => e instanceof InvalidInputError && e.message.includes('expected a list of labels'),
    );
    const one = join(dir, 'one.csv');
    writeFileSync(one, 'text,labels\nx,a\ny,\n');
    assert.throws(
      () => multiLabelsOf(loadLabelledTexts(one, { labelSeparator: '|' })),
      (e: Error) => e instanceof InvalidInputError && e.message.includes("only one label ('a')"),
    );
  });

  it('seeded fuzz: random label lists (unicode, spaces, empty) round-trip or fail with a line-naming error', () => {
    const rng = new Random(12);
    const alphabet = ['a', 'b', 'ß', '日本', 'x y', 'ü', '🙂', '-', ' '];
    for (let round = 0; round < 60; round++) {
      const sep = ['|', ';', '::', '/'][rng.int(4)];
      const rows: { list: string; expect: string[] | null }[] = [];
      for (let i = 0; i < 1 + rng.int(6); i++) {
        const names = Array.from({ length: rng.int(4) }, () =>
          Array.from({ length: rng.int(3) }, () => alphabet[rng.int(alphabet.length)]).join(''),
        );
        const list = names.join(sep);
        const trimmed = names.map((s) => s.trim());
        const expect =
          list.trim() === '' ? [] : trimmed.some((s) => s === '') ? null : [...new Set(trimmed)].sort();
        rows.push({ list, expect });
      }
      const p = join(dir, `fuzz${round}.csv`);
      writeFileSync(
        p,
        'text,labels\n' + rows.map((r, i) => `text ${i},${csvCell(r.list)}`).join('\n') + '\n',
      );
      const bad = rows.findIndex((r) => r.expect === null);
      if (bad < 0) {
        const d = loadLabelledTexts(p, { labelSeparator: sep });
        assert.deepEqual(
          d.labelSets,
          rows.map((r) => r.expect),
          `round ${round}`,
        );
      } else
        assert.throws(
          () => loadLabelledTexts(p, { labelSeparator: sep }),
          (e: Error) =>
            e instanceof InvalidInputError && e.message.includes(`line ${bad + 2}, column 'labels'`),
          `round ${round}: ${JSON.stringify(rows[bad].list)}`,
        );
      // The pure parser agrees with the loader on every list.
      for (const r of rows)
        if (r.expect === null) assert.throws(() => parseLabelList(r.list, sep, 'here'), InvalidInputError);
        else assert.deepEqual(parseLabelList(r.list, sep, 'here'), r.expect);
    }
  });
});

describe('multi-label JSON Lines: seeded fuzz of label fields', () => {
  let dir = '';
  before(() => (dir = mkdtempSync(join(tmpdir(), 'recur-multilabel-fuzz-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('strings, arrays, wrong types and missing fields: label sets, or an error naming the line and field', () => {
    const rng = new Random(99);
    const values: unknown[] = [
      'a|b',
      '',
      ' ',
      'ü|🙂',
      'a||b',
      '|a',
      [],
      ['x'],
      ['x', 'y', 'x'],
      ['', 'a'],
      [' '],
      [1],
      [null],
      null,
      3,
      true,
      { a: 1 },
      undefined,
    ];
    for (let round = 0; round < 80; round++) {
      const rows = Array.from({ length: 1 + rng.int(5) }, () => values[rng.int(values.length)]);
      const p = join(dir, `f${round}.jsonl`);
      writeFileSync(
        p,
        rows
          .map((v, i) => JSON.stringify(v === undefined ? { text: `t ${i}` } : { text: `t ${i}`, labels: v }))
          .join('\n'),
      );
      const ok = (v: unknown): boolean =>
        (typeof v === 'string' && (v.trim() === '' || v.split('|').every((x) => x.trim() !== ''))) ||
        typeof v === 'number' ||
        (Array.isArray(v) &&
          v.every((l) => typeof l === 'number' || (typeof l === 'string' && l.trim() !== '')));
      const bad = rows.findIndex((v) => !ok(v));
      if (bad < 0) {
        const d = loadLabelledTexts(p, { labelSeparator: '|', labelColumn: 'labels' });
        assert.equal(d.labelSets!.length, rows.length);
        for (const set of d.labelSets!) assert.deepEqual(set, [...new Set(set)].sort());
      } else
        assert.throws(
          () => loadLabelledTexts(p, { labelSeparator: '|', labelColumn: 'labels' }),
          (e: Error) =>
            e instanceof InvalidInputError && e.message.includes(`${p}: line ${bad + 1}: field 'labels'`),
          `round ${round}: ${JSON.stringify(rows)}`,
        );
    }
  });
});

describe('multi-label metrics and baselines', () => {
  it('per-label, micro and macro F1, subset accuracy and Hamming loss on a hand-computed case', () => {
    // 3 texts × 2 labels. truth: [1,0], [1,1], [0,0]; predicted: [1,1], [1,0], [0,0].
    // label a: tp 2, fp 0, fn 0 → P 1, R 1, F1 1. label b: tp 0, fp 1, fn 1 → 0, 0, 0.
    // micro: tp 2, fp 1, fn 1 → P 2/3, R 2/3, F1 2/3. macro: 0.5. exact: 1/3. Hamming: 2 wrong of 6.
    const s = multiLabelScores(['a', 'b'], [1, 0, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]);
    assert.deepEqual(s.per_label.a, { precision: 1, recall: 1, f1: 1, support: 2 });
    assert.deepEqual(s.per_label.b, { precision: 0, recall: 0, f1: 0, support: 1 });
    assert.ok(Math.abs(s.micro_f1 - 2 / 3) < 1e-12);
    assert.equal(s.macro_f1, 0.5);
    assert.ok(Math.abs(s.subset_accuracy - 1 / 3) < 1e-12);
    assert.ok(Math.abs(s.hamming_loss - 2 / 6) < 1e-12);
    assert.equal(s.count, 3);
    // A second case: precision and recall differ. truth [1,1,0,1] (one label, 4 texts), predicted [1,0,1,1]:
    // tp 2, fp 1, fn 1 per the one label; then truth [1,1,1,0], predicted [1,0,0,0]: tp 1, fp 0, fn 2 → P 1, R 1/3.
    const t = multiLabelScores(['x'], [1, 1, 1, 0], [1, 0, 0, 0]);
    assert.equal(t.per_label.x.precision, 1);
    assert.ok(Math.abs(t.per_label.x.recall - 1 / 3) < 1e-12);
    assert.ok(Math.abs(t.per_label.x.f1 - 0.5) < 1e-12);
    assert.throws(() => multiLabelScores(['a', 'b'], [1, 0, 1], [1, 0, 1]));
  });

  it('thresholds, binary cross-entropy, labels at a threshold', () => {
    assert.deepEqual(Array.from(thresholded([0.2, 0.5, 0.9], 0.5)), [0, 1, 1]);
    assert.ok(Math.abs(binaryCrossEntropy([0.8, 0.4], [1, 0]) - -(Math.log(0.8) + Math.log(0.6)) / 2) < 1e-7);
    assert.deepEqual(labelsAtThreshold({ a: 0.6, b: 0.9, c: 0.1 }, 0.5), ['b', 'a']);
    assert.deepEqual(labelsAtThreshold({ a: 0.6, b: 0.9, c: 0.1 }, 0.95), []);
  });

  it('frequent labels: a label for every text iff on more than half the training texts', () => {
    // Label 0 on 3 of 4 texts, label 1 on exactly 2 of 4 (not more than half).
    const out = frequentLabels([1, 0, 1, 1, 1, 0, 0, 1], 2, 3);
    assert.deepEqual(Array.from(out), [1, 0, 1, 0, 1, 0]);
  });

  it('naive Bayes one-vs-rest learns each label from its words, and copes with a label no training text has', () => {
    const texts = [
      'goal match',
      'vote senate',
      'goal vote',
      'weather today',
      'match football',
      'senate election',
    ];
    const targets = [1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0];
    const p = naiveBayesOneVsRest(texts, targets, 3, ['football goal', 'election vote', 'nothing here']);
    assert.deepEqual(Array.from(p), [1, 0, 0, 0, 1, 0, 0, 0, 0]);
  });

  it('the split strata are the first label (or "none"), and the dataset yields [N, labels] 0/1 targets', () => {
    assert.deepEqual(
      Array.from(firstLabelStrata(Uint8Array.from([0, 1, 1, 0, 0, 0, 1, 1, 0]), 3)),
      [1, 3, 0],
    );
    const seqs = [Int32Array.from([2, 3]), Int32Array.from([4]), Int32Array.from([5, 6, 7])];
    const ds = multiLabelDataset(seqs, Uint8Array.from([1, 0, 0, 1, 1, 1]), 2, {
      batchSize: 3,
      shuffle: false,
    });
    const [b] = [...(ds.batches(0) as Iterable<Batch>)];
    assert.deepEqual(b.ys.shape, [3, 2]);
    // Sorted by length: rows 1, 0, 2.
    assert.deepEqual(Array.from(b.ys.data), [0, 1, 1, 0, 1, 1]);
  });

  it('the training loss is per-label binary cross-entropy averaged over labels, with a finite-difference gradient', () => {
    // computeLoss on [N, L] logits (the fused sigmoid path training takes) against the plain formula, and its gradient
    // against central differences of the loss in float64.
    const rng = new Random(4);
    const N = 3;
    const L = 4;
    const z = Float32Array.from({ length: N * L }, () => (rng.next() - 0.5) * 6);
    const y = Float32Array.from({ length: N * L }, () => (rng.next() < 0.4 ? 1 : 0));
    const grad = new Float32Array(N * L);
    const loss = computeLoss('binaryCrossentropy', new Tensor(z, [N, L]), new Tensor(y, [N, L]), grad, true);
    const sig = (v: number): number => 1 / (1 + Math.exp(-v));
    const bce = (zs: ArrayLike<number>): number => binaryCrossEntropy(Array.from(zs, sig), y);
    assert.ok(Math.abs(loss - bce(z)) < 1e-5, `${loss} vs ${bce(z)}`);
    const h = 1e-4;
    for (let i = 0; i < N * L; i++) {
      const up = Float64Array.from(z);
      const down = Float64Array.from(z);
      up[i] += h;
      down[i] -= h;
      const numeric = (bce(up) - bce(down)) / (2 * h);
      assert.ok(Math.abs(grad[i] - numeric) < 1e-4, `d/dz[${i}]: ${grad[i]} vs ${numeric}`);
    }
    // The built model's evaluate() loss is the same BCE of its predicted probabilities.
    const s = classifierSettings(L, { multiLabel: true, seed: 2, units: 3, embeddingDim: 3, dropout: 0 });
    const model = buildClassifier(s, 10, L);
    compileClassifier(model, s);
    const seqs = [Int32Array.from([2, 3, 4]), Int32Array.from([5, 6, 7])];
    const targets = Uint8Array.from([1, 0, 0, 1, 0, 1, 1, 0]);
    const p = predictProbabilities(model, seqs, L);
    const logs = model.evaluate(
      new IndexTensor(Int32Array.from([2, 3, 4, 5, 6, 7]), [2, 3]),
      new Tensor(Float32Array.from(targets), [2, L]),
    );
    assert.ok(Math.abs(logs.loss - binaryCrossEntropy(p, targets)) < 1e-5, `${logs.loss}`);
  });

  it('settings: multi-label means sigmoid, val_micro_f1, no class weights; old metadata loads single-label', () => {
    const s = classifierSettings(5, { multiLabel: true, seed: 1 });
    assert.equal(s.output, 'sigmoid');
    assert.equal(s.monitor, 'val_micro_f1');
    assert.throws(() => classifierSettings(5, { multiLabel: true, output: 'softmax' }), /output/);
    assert.throws(() => classifierSettings(5, { multiLabel: true, classWeight: 'balanced' }), /classWeight/);
    assert.throws(() => classifierSettings(5, { monitor: 'val_micro_f1' }), /monitor/);
    assert.equal(classifierSettings(5, { seed: 1 }).multiLabel, false);
  });
});

describe('recur classify --multi-label end to end', () => {
  let dir = '';
  let csv = '';
  let model = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-multilabel-'));
    csv = join(dir, 'news.csv');
    writeFileSync(
      csv,
      'text,topics\n' +
        keywordTexts(500, 7)
          .map((r) => `${csvCell(r.text)},${csvCell(r.labels.join('|'))}`)
          .join('\n') +
        '\n',
    );
    model = join(dir, 'model');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trains, keeps the best model by val_micro_f1 and beats the baselines on the test split', () => {
    const r = run([
      'classify',
      'train',
      csv,
      '--multi-label',
      '--out',
      model,
      '--epochs',
      '4',
      '--lr',
      '0.02',
      '--units',
      '8',
      '--embedding-dim',
      '8',
      '--batch-size',
      '16',
      '--threads',
      '1',
      '--seed',
      '3',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const epochs = lines.filter((l) => 'epoch' in l);
    assert.ok(epochs.length >= 2 && epochs.every((e) => typeof e.val_micro_f1 === 'number'), r.stdout);
    const test = lines.find((l) => l.event === 'test') as Record<string, never>;
    assert.ok(test, r.stdout);
    // 10% of 500, rounded per first-label stratum.
    assert.ok(test.count >= 46 && test.count <= 54, `test count ${test.count}`);
    assert.deepEqual(Object.keys(test.per_label), ['politics', 'science', 'sports']);
    const b = test.baselines as Record<string, { micro_f1: number }>;
    assert.ok(test.micro_f1 > 0.9, `network micro-F1 ${test.micro_f1}`);
    assert.ok(test.micro_f1 > b.frequent_labels.micro_f1 + 0.3, JSON.stringify(b));
    assert.equal(b.frequent_labels.micro_f1, 0, 'no label is on more than half the texts');
    assert.ok(b.naive_bayes.micro_f1 > 0.5, JSON.stringify(b));
    // Keyword texts suit naive Bayes well (about 0.97 here); the network should still match or pass it.
    assert.ok(test.micro_f1 >= b.naive_bayes.micro_f1, `network ${test.micro_f1} vs ${JSON.stringify(b)}`);
    const meta = loadModel(model).metadata as {
      classes: string[];
      settings: { multiLabel: boolean; output: string; monitor: string };
      data: { labelSeparator: string; labelColumn: string };
    };
    assert.deepEqual(meta.classes, ['politics', 'science', 'sports']);
    assert.equal(meta.settings.multiLabel, true);
    assert.equal(meta.settings.monitor, 'val_micro_f1');
    assert.equal(meta.data.labelSeparator, '|');
    assert.equal(meta.data.labelColumn, 'topics');
  });

  it('eval --json gives the multi-label keys and both baselines; the table prints them', () => {
    const j = run(['classify', 'eval', model, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const o = JSON.parse(j.stdout) as Record<string, unknown>;
    for (const k of ['subset_accuracy', 'hamming_loss', 'micro_f1', 'macro_f1', 'per_label', 'baselines'])
      assert.ok(k in o, k);
    assert.deepEqual(Object.keys(o.baselines as object), ['frequent_labels', 'naive_bayes']);
    assert.equal(o.threshold, 0.5);
    // Threshold 0: every label is predicted, so recall is 1 for every label present.
    const all = JSON.parse(run(['classify', 'eval', model, '--json', '--threshold', '0']).stdout) as {
      per_label: Record<string, { recall: number; support: number }>;
    };
    for (const m of Object.values(all.per_label)) if (m.support > 0) assert.equal(m.recall, 1);
    const t = run(['classify', 'eval', model]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /micro-F1/);
    assert.match(t.stdout, /naive Bayes 1vR/);
    assert.match(t.stdout, /frequent labels/);
  });

  it('predict prints every label at or above the threshold; --json gives all probabilities', () => {
    const r = run([
      'classify',
      'predict',
      model,
      'the senate vote on the football match',
      'the city said today',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [first, second] = r.stdout.trim().split('\n');
    assert.deepEqual(first.split('\t')[0].split('|').sort(), ['politics', 'sports'], first);
    assert.equal(first.split('\t')[1].split('|').length, 2, 'one probability per printed label');
    assert.equal(second.split('\t')[0], '(none)');
    const j = run(['classify', 'predict', model, '--json', 'a physics experiment'], undefined);
    assert.equal(j.code, 0, j.stderr);
    const o = JSON.parse(j.stdout) as {
      labels: string[];
      probabilities: Record<string, number>;
      threshold: number;
    };
    assert.deepEqual(o.labels, ['science']);
    assert.deepEqual(Object.keys(o.probabilities), ['politics', 'science', 'sports']);
    assert.equal(o.threshold, 0.5);
    // Many texts over two worker threads (one text per batch): the same answers as one thread.
    const many = ['election goal', 'physics', 'the city', 'vote match molecule', 'senate'].join('\n');
    const pooled = run(['classify', 'predict', model, '--threads', '2', '--batch-size', '1', '--json'], many);
    const single = run(['classify', 'predict', model, '--threads', '1', '--batch-size', '1', '--json'], many);
    assert.equal(pooled.code, 0, pooled.stderr);
    assert.equal(pooled.stdout, single.stdout);
    assert.equal(pooled.stdout.trim().split('\n').length, 5);
    const none = JSON.parse(
      run(['classify', 'predict', model, '--json', '--threshold', '1', 'physics']).stdout,
    ) as {
      labels: string[];
    };
    assert.ok(none.labels.length <= 1);
  });

  it('bad usage: --threshold on a single-label model, --label-separator without --multi-label, a||b (exit 2)', () => {
    const r = run(['classify', 'train', csv, '--label-separator', ';', '--out', join(dir, 'x')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--label-separator needs --multi-label/);
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'text,topics\nsome text,a\nother text,a||b\n');
    const b = run(['classify', 'train', bad, '--multi-label', '--out', join(dir, 'y')]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /line 3, column 'topics'.*empty label name/);
    assert.doesNotMatch(b.stderr, /\n\s+at /);
    const single = join(dir, 'single.csv');
    writeFileSync(
      single,
      'text,label\n' + Array.from({ length: 40 }, (_, i) => `word${i % 5} x,${i % 2}`).join('\n'),
    );
    const m = join(dir, 'single');
    const t = run([
      'classify',
      'train',
      single,
      '--out',
      m,
      '--epochs',
      '1',
      '--units',
      '4',
      '--embedding-dim',
      '4',
      '--threads',
      '1',
      '--quiet',
    ]);
    assert.equal(t.code, 0, t.stderr);
    const p = run(['classify', 'predict', m, '--threshold', '0.3', 'word1 x']);
    assert.equal(p.code, 2);
    assert.match(p.stderr, /--threshold applies to multi-label/);
  });

  it('resumes a multi-label run exactly after Ctrl-C (the checkpoint carries multi-label and the separator)', () => {
    const args = (out: string): string[] => [
      'classify',
      'train',
      csv,
      '--multi-label',
      '--out',
      out,
      '--epochs',
      '2',
      '-q',
      '--units',
      '4',
      '--embedding-dim',
      '4',
      '--batch-size',
      '16',
      '--threads',
      '1',
      '--seed',
      '5',
    ];
    const whole = join(dir, 'whole');
    assert.equal(run(args(whole)).code, 0);
    const part = join(dir, 'part');
    const stopped = spawnSync(process.execPath, [CLI, ...args(part)], {
      encoding: 'utf8',
      env: { ...process.env, RECUR_TEST_INTERRUPT_AFTER: '30' },
    });
    assert.equal(stopped.status, 130, stopped.stderr);
    const resumed = run(['classify', 'train', csv, '--out', part, '--resume', '--threads', '1', '-q']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const w1 = loadModel(join(whole, 'checkpoint')).model.getWeights();
    const w2 = loadModel(join(part, 'checkpoint')).model.getWeights();
    w1.forEach((w, i) => assert.deepEqual(w2[i].data, w.data));
    assert.equal(readFileSync(join(part, 'log.csv'), 'utf8'), readFileSync(join(whole, 'log.csv'), 'utf8'));
  });

  it('old metadata without multiLabel loads as single-label', () => {
    const meta = loadModel(model).metadata as Record<string, unknown>;
    const settings = { ...(meta.settings as Record<string, unknown>) };
    delete settings.multiLabel;
    settings.monitor = 'val_macro_f1';
    const data = { ...(meta.data as Record<string, unknown>) };
    delete data.labelSeparator;
    const parsed = parseClassifierMetadata({ ...meta, settings, data }, 'old');
    assert.equal(parsed.settings.multiLabel, false);
    assert.equal(parsed.data.labelSeparator, null);
  });
});
