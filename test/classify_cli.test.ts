/**
 * `recur classify` end to end through the built CLI: train on a user CSV (metrics, both baselines, --json), eval and
 * predict from the model directory alone, JSON Lines and class-folder data, the SpamAssassin default, exact resume
 * after Ctrl-C, --overwrite semantics, and clear errors (exit 2, file, line and column named) for bad input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { loadModel } from '../src/node/model_io.js';
import { assertPredictSaysLoadNotes, copyAsTfjsLeftIt, recurrentActivationNotes } from './cli_helpers.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    input: opts.input,
    env: { ...process.env, ...opts.env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Review-like rows: the label follows the sentiment words; the rest is filler. */
function reviews(n: number, seed: number): [string, string][] {
  const rng = new Random(seed);
  const good = ['great', 'good', 'moving', 'lovely', 'fine'];
  const bad = ['awful', 'bad', 'dull', 'poor', 'boring'];
  const filler = [
    'the',
    'film',
    'was',
    'a',
    'plot',
    'actor',
    'and',
    'very',
    'it',
    'story',
    '"quoted"',
    'with, commas',
  ];
  const rows: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    const positive = rng.next() < 0.4;
    const words = Array.from({ length: 3 + rng.int(10) }, () => filler[rng.int(filler.length)]);
    words[rng.int(words.length)] = (positive ? good : bad)[rng.int(5)];
    rows.push([words.join(' '), positive ? '1' : '0']);
  }
  return rows;
}

const csvCell = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const SMALL = ['--units', '8', '--embedding-dim', '8', '--batch-size', '16', '--threads', '1', '--seed', '3'];

describe('recur classify', () => {
  let dir = '';
  let csv = '';
  let model = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-classify-'));
    csv = join(dir, 'reviews.csv');
    writeFileSync(
      csv,
      'sentence,label\n' +
        reviews(400, 1)
          .map((r) => r.map(csvCell).join(','))
          .join('\n') +
        '\n',
    );
    model = join(dir, 'model');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trains on a CSV, keeps the best model, and scores it on the test split next to the baselines', () => {
    const r = run([
      'classify',
      'train',
      csv,
      '--out',
      model,
      '--epochs',
      '4',
      '--lr',
      '0.02',
      '--json',
      ...SMALL,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const epochs = lines.filter((l) => 'epoch' in l);
    assert.ok(
      epochs.length >= 2 &&
        epochs.every((e) => typeof e.val_macro_f1 === 'number' && typeof e.loss === 'number'),
    );
    const test = lines.find((l) => l.event === 'test') as Record<string, never>;
    assert.ok(test, r.stdout);
    assert.equal(test.count, 40);
    assert.ok((test.accuracy as number) > 0.85, `test accuracy ${test.accuracy}`);
    assert.deepEqual(Object.keys(test.per_class), ['0', '1']);
    assert.equal(
      (test.confusion as number[][]).flat().reduce((a, b) => a + b, 0),
      40,
    );
    assert.ok(typeof test.auc === 'number');
    const b = test.baselines as Record<string, { accuracy: number; macro_f1: number }>;
    assert.ok(b.majority.accuracy > 0.5 && b.majority.accuracy < 0.7, 'majority = the 60% class');
    assert.ok(b.naive_bayes.macro_f1 > 0.8);
    assert.ok(existsSync(join(model, 'model.json')) && existsSync(join(model, 'checkpoint', 'model.json')));
    assert.ok(readFileSync(join(model, 'log.csv'), 'utf8').split('\n')[0].includes('val_macro_f1'));
    const meta = loadModel(model).metadata as {
      task: string;
      classes: string[];
      data: { textColumn: string };
    };
    assert.equal(meta.task, 'classify');
    assert.deepEqual(meta.classes, ['0', '1']);
    assert.equal(meta.data.textColumn, 'sentence');
  });

  it('eval from the directory alone: the same test split, a table or one JSON object', () => {
    const j = run(['classify', 'eval', model, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const o = JSON.parse(j.stdout) as Record<string, unknown>;
    for (const k of ['accuracy', 'macro_f1', 'per_class', 'confusion', 'auc', 'baselines'])
      assert.ok(k in o, k);
    assert.equal(o.count, 40);
    const t = run(['classify', 'eval', model]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /network\s+\d+\.\d%\s+[01]\.\d{4}/);
    // --quiet: the same scores, nothing on stderr.
    const q = run(['classify', 'eval', model, '-q']);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stderr, '');
    assert.equal(q.stdout, t.stdout);
    assert.match(t.stdout, /naive Bayes/);
    assert.match(t.stdout, /majority/);
    assert.match(t.stdout, /confusion/);
    // On another labelled file.
    const other = join(dir, 'other.tsv');
    writeFileSync(
      other,
      'text\tlabel\n' +
        reviews(30, 9)
          .map((r) => r.join('\t'))
          .join('\n'),
    );
    const e = run(['classify', 'eval', model, other, '--json']);
    assert.equal(e.code, 0, e.stderr);
    assert.equal((JSON.parse(e.stdout) as { count: number }).count, 30);
  });

  it('predict: arguments, stdin lines, a CSV column; --json gives every probability', () => {
    const a = run(['classify', 'predict', model, 'a great great film', 'awful and dull']);
    assert.equal(a.code, 0, a.stderr);
    const rows = a.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    assert.deepEqual(
      rows.map((r) => r[0]),
      ['1', '0'],
    );
    assert.ok(rows.every((r) => Number(r[1]) >= 0.5 && Number(r[1]) <= 1));
    // Stdin line for line: a blank line is answered with a blank one (JSON: marked blank), nothing classified.
    const s = run(['classify', 'predict', model, '--json'], { input: 'lovely story\n\nthe plot was poor\n' });
    assert.equal(s.code, 0, s.stderr);
    const js = s.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { label?: string; blank?: true; probabilities: Record<string, number> });
    assert.equal(js.length, 3);
    assert.deepEqual(
      js.map((x) => x.label ?? (x.blank && 'blank')),
      ['1', 'blank', '0'],
    );
    const plain = run(['classify', 'predict', model], { input: 'lovely story\n   \nthe plot was poor' });
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(
      plain.stdout.split('\n').map((l) => l.split('\t')[0]),
      ['1', '', '0', ''],
    );
    const blank = run(['classify', 'predict', model, 'good', ' ']);
    assert.equal(blank.code, 2, blank.stderr);
    assert.match(
      blank.stderr,
      /text 2 is blank \(only whitespace or invisible characters\); give a text to classify/,
    );
    // Nor is a text of invisible characters (zero-width space, non-joiner, joiner, word joiner, BOM): refused as an
    // argument, answered with a blank line on stdin, like whitespace.
    const invisible = '\u200B\u200C \u200D\u2060\uFEFF';
    const inv = run(['classify', 'predict', model, 'good', invisible]);
    assert.equal(inv.code, 2, inv.stderr);
    assert.match(inv.stderr, /text 2 is blank \(only whitespace or invisible characters\)/);
    const invLines = run(['classify', 'predict', model, '--json'], { input: `lovely story\n${invisible}\n` });
    assert.equal(invLines.code, 0, invLines.stderr);
    assert.deepEqual(
      invLines.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { blank?: true }).blank ?? false),
      [false, true],
    );
    assert.ok(Math.abs(js[0].probabilities['0'] + js[0].probabilities['1'] - 1) < 1e-6);
    const c = run(['classify', 'predict', model, '--input', csv, '--text-column', 'sentence']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout.trim().split('\n').length, 400);
  });

  it("predict and eval say the model's load notes as recur predict does: once, on one thread or the pool; -q too, --json as JSON", () => {
    const noted = copyAsTfjsLeftIt(model, join(dir, 'noted'));
    assertPredictSaysLoadNotes(
      ['classify', 'predict', noted, 'a great great film', 'awful and dull'],
      2,
      run,
    );
    const e = run(['classify', 'eval', noted, '--threads', '1']);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(recurrentActivationNotes(e.stderr).length, 1, e.stderr);
    const json = run(['classify', 'eval', noted, '--threads', '1', '--json']).stderr.trim().split('\n');
    assert.equal(
      recurrentActivationNotes(
        json.map((l) => `note: ${(JSON.parse(l) as { note: string }).note}`).join('\n'),
      ).length,
      1,
    );
  });

  it('--pooling max, --class-weight and --truncating: saved in the settings, the model has the pooling layer, eval and predict read it', () => {
    const out = join(dir, 'pooled');
    const r = run([
      'classify',
      'train',
      csv,
      '--out',
      out,
      ...'--epochs 3 --lr 0.02 --pooling max --class-weight 1=1.5 --truncating post -q'.split(' '),
      ...SMALL,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const { model: m, metadata } = loadModel(out);
    const settings = (metadata as { settings: Record<string, unknown> }).settings;
    assert.equal(settings.pooling, 'max');
    assert.equal(settings.truncating, 'post');
    assert.deepEqual(settings.classWeight, { '1': 1.5 });
    assert.equal(settings.output, 'softmax', 'class weights train a softmax output');
    assert.ok(m.layers.some((l) => l.className === 'GlobalMaxPooling1D'));
    const e = run(['classify', 'eval', out, '--json']);
    assert.equal(e.code, 0, e.stderr);
    assert.ok((JSON.parse(e.stdout) as { accuracy: number }).accuracy > 0.8, e.stdout);
    const p = run(['classify', 'predict', out, 'a great great film']);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /^1\t/);
  });

  for (const [name, flags, pattern] of [
    [
      'a malformed --class-weight',
      ['--class-weight', 'heavy'],
      /--class-weight must be 'balanced', CLASS=WEIGHT pairs.*a JSON object.*got 'heavy'/,
    ],
    ['a zero class weight', ['--class-weight', '1=0'], /--class-weight must be .*bad pair '1=0'/],
    [
      'a class weight for an unknown class',
      ['--class-weight', 'spam=2'],
      /--class-weight names class 'spam', which the data does not have \(classes: 0, 1\)/,
    ],
    [
      'class weights with a sigmoid output',
      ['--class-weight', 'balanced', '--output-activation', 'sigmoid'],
      /--output-activation must be softmax when class weights are given/,
    ],
    ['an unknown pooling', ['--pooling', 'sum'], /--pooling must be last, max or mean, got 'sum'/],
  ] as const)
    it(`${name} is a usage error (exit 2) naming the flag`, () => {
      const r = run([
        'classify',
        'train',
        csv,
        '--out',
        join(dir, 'never'),
        '--epochs',
        '1',
        ...flags,
        ...SMALL,
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.ok(!existsSync(join(dir, 'never', 'model.json')));
    });

  it('refuses to overwrite a model unless told, and then touches only its own files', () => {
    const r = run(['classify', 'train', csv, '--out', model, '--epochs', '1', ...SMALL]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /already holds a model; pass --resume.*--overwrite/);
    writeFileSync(join(model, 'notes.txt'), 'mine');
    const o = run(['classify', 'train', csv, '--out', model, '--epochs', '1', '-q', '--overwrite', ...SMALL]);
    assert.equal(o.code, 0, o.stderr);
    assert.equal(readFileSync(join(model, 'notes.txt'), 'utf8'), 'mine');
  });

  it('resumes exactly after Ctrl-C: the same weights and log as an uninterrupted run', () => {
    const args = (out: string): string[] => [
      'classify',
      'train',
      csv,
      '--out',
      out,
      '--epochs',
      '3',
      '-q',
      ...SMALL,
    ];
    const whole = join(dir, 'whole');
    assert.equal(run(args(whole)).code, 0);
    const part = join(dir, 'part');
    const stopped = run(args(part), { env: { RECUR_TEST_INTERRUPT_AFTER: '30' } });
    assert.equal(stopped.code, 130, stopped.stderr);
    // The checkpoint keeps the model: a different flag is refused, the same ones are fine (SMALL, given again).
    const changed = run(['classify', 'train', csv, '--out', part, '--resume', '-q', '--units', '12']);
    assert.equal(changed.code, 2, changed.stderr);
    assert.match(changed.stderr, /--units 12 with --resume: the checkpoint's run uses 8; leave the flag out/);
    const resumed = run(['classify', 'train', csv, '--out', part, '--resume', '-q', ...SMALL]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const w1 = loadModel(join(whole, 'checkpoint')).model.getWeights();
    const w2 = loadModel(join(part, 'checkpoint')).model.getWeights();
    w1.forEach((w, i) => assert.deepEqual(w2[i].data, w.data));
    const strip = (t: string): string => t; // log.csv holds no timings
    assert.equal(
      strip(readFileSync(join(part, 'log.csv'), 'utf8')),
      strip(readFileSync(join(whole, 'log.csv'), 'utf8')),
    );
  });

  it('Ctrl-C as soon as the run holds its lock (before the data is read) stops after the first batch with a checkpoint, and --resume ends as an uninterrupted run', () => {
    const args = (out: string): string[] => [
      'classify',
      'train',
      csv,
      '--out',
      out,
      '--epochs',
      '2',
      ...SMALL,
    ];
    const whole = join(dir, 'start-whole');
    assert.equal(run([...args(whole), '-q']).code, 0);
    const part = join(dir, 'start-part');
    // A real SIGINT, sent as the lock is taken: it used to kill the run with no word, its lock left behind.
    const stopped = run(args(part), { env: { RECUR_TEST_INTERRUPT_AT_START: '1' } });
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /Interrupted: .*sav(es|ing) a checkpoint \(Ctrl-C again to quit now\)/);
    assert.match(
      stopped.stderr,
      /Saved \S*start-part\/checkpoint at epoch 1, batch 1\. Continue with: recur classify train/,
    );
    assert.ok(!existsSync(join(part, 'recur.lock')), 'the lock is released');
    const resumed = run(['classify', 'train', csv, '--out', part, '--resume', '-q']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(readFileSync(join(part, 'log.csv'), 'utf8'), readFileSync(join(whole, 'log.csv'), 'utf8'));
    const w1 = loadModel(join(whole, 'checkpoint')).model.getWeights();
    const w2 = loadModel(join(part, 'checkpoint')).model.getWeights();
    w1.forEach((w, i) => assert.deepEqual(w2[i].data, w.data));
  });

  it('Ctrl-C after training, before the test scores: the model saved, its message, exit 130, no lock', () => {
    const out = join(dir, 'stopped-after');
    const r = run(['classify', 'train', csv, '--out', out, '--epochs', '1', ...SMALL], {
      env: { RECUR_TEST_INTERRUPT_AFTER_TRAINING: '1' },
    });
    assert.equal(r.code, 130, r.stderr);
    assert.match(
      r.stderr,
      /Interrupted after training: the model in \S*stopped-after is saved; stopped before the test scores/,
    );
    assert.doesNotMatch(r.stdout + r.stderr, /confusion/);
    assert.ok(!existsSync(join(out, 'recur.lock')), 'the lock is released');
    const p = run(['classify', 'predict', out, 'a fine film']);
    assert.equal(p.code, 0, p.stderr);
  });

  it('--lr-decay and --embedding-dropout: each epoch at lr · f^e, SpatialDropout1D saved, exact resume after Ctrl-C', () => {
    const args = (out: string, json: boolean): string[] => [
      'classify',
      'train',
      csv,
      '--out',
      out,
      '--epochs',
      '3',
      '--patience',
      '0',
      '--lr',
      '0.02',
      '--lr-decay',
      '0.5',
      '--embedding-dropout',
      '0.25',
      json ? '--json' : '-q',
      ...SMALL,
    ];
    const whole = join(dir, 'decay-whole');
    const r = run(args(whole, true));
    assert.equal(r.code, 0, r.stderr);
    const rates = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => 'epoch' in l && l.event === undefined)
      .map((l) => l.lr);
    assert.deepEqual(rates, [0.02, 0.01, 0.005]);
    const saved = JSON.parse(readFileSync(join(whole, 'model.json'), 'utf8')) as Record<string, unknown>;
    assert.match(JSON.stringify(saved), /"SpatialDropout1D"/);
    // 320 training texts in batches of 16: 20 a epoch, so the stop falls in the middle of the second epoch.
    const part = join(dir, 'decay-part');
    const stopped = run(args(part, false), { env: { RECUR_TEST_INTERRUPT_AFTER: '30' } });
    assert.equal(stopped.code, 130, stopped.stderr);
    const resumed = run(['classify', 'train', csv, '--out', part, '--resume', '--threads', '1', '-q']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const w1 = loadModel(join(whole, 'checkpoint')).model.getWeights();
    const w2 = loadModel(join(part, 'checkpoint')).model.getWeights();
    w1.forEach((w, i) => assert.deepEqual(w2[i].data, w.data));
    assert.equal(readFileSync(join(part, 'log.csv'), 'utf8'), readFileSync(join(whole, 'log.csv'), 'utf8'));
  });

  it('--lr-decay and --embedding-dropout out of range: exit 2 naming the flag', () => {
    for (const [flag, v] of [
      ['--lr-decay', '0'],
      ['--lr-decay', '1.5'],
      ['--embedding-dropout', '1'],
    ]) {
      const r = run(['classify', 'train', csv, '--out', join(dir, 'never'), flag, v, ...SMALL]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(flag));
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  it('JSON Lines and a directory of class folders', () => {
    const jl = join(dir, 'r.jsonl');
    writeFileSync(
      jl,
      reviews(120, 4)
        .map(([t, l]) => JSON.stringify({ review: t, stars: Number(l) }))
        .join('\n'),
    );
    const r = run([
      'classify',
      'train',
      jl,
      '--label-column',
      'stars',
      '--out',
      join(dir, 'jl'),
      '--epochs',
      '1',
      '--json',
      ...SMALL,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes('"event":"test"'));
    const root = join(dir, 'folders');
    for (const [i, [t, l]] of reviews(60, 5).entries()) {
      mkdirSync(join(root, l === '1' ? 'pos' : 'neg'), { recursive: true });
      writeFileSync(join(root, l === '1' ? 'pos' : 'neg', `${i}.txt`), t);
    }
    const d = run(['classify', 'train', root, '--out', join(dir, 'fd'), '--epochs', '1', '--json', ...SMALL]);
    assert.equal(d.code, 0, d.stderr);
    const m = loadModel(join(dir, 'fd')).metadata as { classes: string[] };
    assert.deepEqual(m.classes, ['neg', 'pos']);
  });

  it('the SpamAssassin default runs offline from the npm package', () => {
    const r = run([
      'classify',
      'train',
      '--out',
      join(dir, 'spam'),
      '--epochs',
      '1',
      '--steps-per-epoch',
      '3',
      '--max-length',
      '16',
      '--json',
      ...SMALL,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const test = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.event === 'test') as { count: number; per_class: Record<string, { support: number }> };
    assert.equal(test.count, 605, '10% of 6,046 emails, stratified');
    assert.deepEqual(Object.keys(test.per_class), ['ham', 'spam']);
    assert.equal(test.per_class.spam.support, 190);
  });

  describe('bad input: exit 2, the file, line and column named', () => {
    const bad = (name: string, content: string | Buffer, pattern: RegExp, extra: string[] = []): void => {
      it(name, () => {
        const p = join(dir, `bad-${name.replace(/\W+/g, '-')}.csv`);
        writeFileSync(p, content);
        const r = run([
          'classify',
          'train',
          p,
          '--out',
          join(dir, 'never'),
          '--epochs',
          '1',
          ...extra,
          ...SMALL,
        ]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, pattern);
        assert.doesNotMatch(r.stderr, /\n\s+at /);
        assert.ok(!existsSync(join(dir, 'never', 'model.json')));
      });
    };
    bad(
      'one class',
      'text,label\na b,x\nc d,x\n',
      /bad-one-class\.csv: the label column 'label' has only one class \('x'\)/,
    );
    bad(
      'missing text column',
      'a,b,c\n1,2,3\n',
      /which column holds the text\? Give --text-column \(the columns are 'a', 'b', 'c'\)/,
    );
    bad('unknown column', 'text,label\na,1\nb,0\n', /no column 'body' \(--text-column\)/, [
      '--text-column',
      'body',
    ]);
    bad('empty text', 'text,label\nfine,1\n  ,0\n', /line 3, column 'text': empty text/);
    bad('empty label', 'text,label\nfine,1\nbad,\n', /line 3, column 'label': empty label/);
    bad(
      'undecodable bytes',
      Buffer.from([...Buffer.from('text,label\nok,1\nbad '), 0xff, ...Buffer.from(',0\n')]),
      /not valid UTF-8 \(byte 0xff at offset \d+, line 3\)/,
    );
    bad('ragged row', 'text,label\nfine,1\nbad\n', /line 3/);
    it('a plain .txt book (not a table) is named as read as a CSV, with the formats classify reads', () => {
      const formats =
        /\. \w+\.txt was read as a CSV: recur classify reads labelled texts from a CSV or TSV with a header row, JSON Lines \(\.jsonl, one object per line\) or a directory with one folder of \.txt files per class\n$/;
      const books: [string, string, RegExp][] = [
        [
          'tale',
          'It was the best of times, it was the worst\nof times.\n',
          /tale\.txt: line 2: 1 field where the header has 2/,
        ],
        [
          'plain',
          'Call me Ishmael\nSome years ago\n',
          /plain\.txt: which column holds the text\? Give --text-column/,
        ],
      ];
      for (const [name, text, what] of books) {
        const p = join(dir, `${name}.txt`);
        writeFileSync(p, text);
        const r = run(['classify', 'train', p, '--out', join(dir, 'never3'), ...SMALL]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, what);
        assert.match(r.stderr, formats);
      }
      // A .csv's error has no such note: it is a table, only a broken one.
      const csvBook = join(dir, 'tale.csv');
      writeFileSync(csvBook, books[0][1]);
      const r = run(['classify', 'train', csvBook, '--out', join(dir, 'never3'), ...SMALL]);
      assert.equal(r.code, 2, r.stderr);
      assert.doesNotMatch(r.stderr, /was read as a CSV/);
    });
    it('an empty class folder is named', () => {
      const root = join(dir, 'emptyclass');
      mkdirSync(join(root, 'a'), { recursive: true });
      mkdirSync(join(root, 'b'), { recursive: true });
      writeFileSync(join(root, 'a', '1.txt'), 'hello');
      const r = run(['classify', 'train', root, '--out', join(dir, 'never2'), ...SMALL]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /emptyclass\/b: the class 'b' has no \.txt files/);
    });
    it('eval and predict on a directory that is not a classifier', () => {
      const r = run(['classify', 'predict', dir, 'x']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /no model\.json here/);
    });
    it('eval and predict given a file instead of the model directory say so, naming the directory to give', () => {
      const lone = join(dir, 'lone');
      mkdirSync(lone, { recursive: true });
      for (const name of ['model.json', 'ensemble.json']) {
        const file = join(lone, name);
        writeFileSync(file, '{}\n');
        for (const args of [
          ['predict', file, 'x'],
          ['eval', file],
        ]) {
          const r = run(['classify', ...args]);
          assert.equal(r.code, 2, r.stderr);
          assert.equal(
            r.stderr,
            `recur: ${file} is a file, not a directory; give the directory written by recur classify train (for this file: ${lone})\n`,
          );
        }
      }
      const other = run(['classify', 'predict', csv, 'x']);
      assert.equal(other.code, 2, other.stderr);
      assert.equal(
        other.stderr,
        `recur: ${csv} is a file, not a directory; give the directory written by recur classify train\n`,
      );
    });
  });
});
