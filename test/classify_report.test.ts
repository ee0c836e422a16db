/**
 * The `recur classify eval` table with many classes: up to FULL_TABLE_MAX_CLASSES it lists every class and the
 * whole confusion matrix; beyond, the classes with the lowest F1 and the most frequent confusions, while --json keeps
 * every class and the whole matrix. Errors that list the classes name at most 20.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeLabels } from '../src/classify/dataset.js';
import { classificationReport } from '../src/classify/metrics.js';
import { classWeightsFor } from '../src/classify/model.js';
import { InvalidInputError, nameList } from '../src/core/errors.js';
import {
  FULL_TABLE_MAX_CLASSES,
  WORST_CLASSES_SHOWN,
  multiLabelTable,
  reportTable,
} from '../src/cli/classify.js';
import { Random } from '../src/core/random.js';
import { runCli } from './cli_helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'recur-classify-report-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A report of `K` classes over texts whose class k is predicted right unless k is a multiple of 7. */
function report(K: number): { classes: string[]; r: ReturnType<typeof classificationReport> } {
  const classes = Array.from({ length: K }, (_, k) => `c${String(k).padStart(3, '0')}`);
  const truth: number[] = [];
  const predicted: number[] = [];
  for (let k = 0; k < K; k++)
    for (let i = 0; i < 3; i++) {
      truth.push(k);
      predicted.push(k % 7 === 0 && K > 1 ? (k + 1) % K : k);
    }
  // One class gets most of the confusions: c005 → c006 twice more.
  if (K > 6) {
    truth.push(5, 5);
    predicted.push(6, 6);
  }
  return { classes, r: classificationReport(classes, truth, predicted) };
}

describe('classify eval table', () => {
  it('lists every class and the matrix up to the threshold', () => {
    const { classes, r } = report(FULL_TABLE_MAX_CLASSES);
    const text = reportTable({ ...r, baselines: null }, classes, 'title');
    // 20 columns of names would be 229 characters wide: numbered.
    assert.match(text, /confusion \(rows: true, columns: predicted, numbered as the rows\)/);
    assert.ok(Math.max(...text.split('\n').map((l) => l.length)) <= 120);
    classes.forEach((c, k) => {
      assert.ok(text.includes(`\n${c} `), c);
      assert.ok(text.includes(`\n#${k + 1} ${c} `), c);
    });
    assert.equal(
      text.split('\n').length,
      1 + 3 + 1 + 1 + FULL_TABLE_MAX_CLASSES + 1 + 2 + FULL_TABLE_MAX_CLASSES,
    );
  });

  it('numbers the columns of a matrix whose class names would make it wider than a terminal', () => {
    const classes = Array.from({ length: 6 }, (_, k) => `customer support: a long class name ${k}`);
    const truth = [0, 1, 2, 3, 4, 5, 5];
    const r = classificationReport(classes, truth, [0, 1, 2, 3, 4, 5, 0]);
    const lines = reportTable({ ...r, baselines: null }, classes, 'title').split('\n');
    assert.ok(Math.max(...lines.map((l) => l.length)) <= 120, lines.join('\n'));
    const at = lines.indexOf('confusion (rows: true, columns: predicted, numbered as the rows)');
    assert.ok(at > 0, lines.join('\n'));
    assert.match(lines[at + 1], /^ +#1 +#2 +#3 +#4 +#5 +#6$/);
    assert.match(lines[at + 7], /^#6 customer support: a long class name 5 +1 +0 +0 +0 +0 +1$/);
    // Short names keep the names as column headers.
    const three = report(3);
    const short = reportTable({ ...three.r, baselines: null }, three.classes, 'title');
    assert.match(short, /confusion \(rows: true, columns: predicted\)\n +c000 +c001 +c002\n/);
  });

  it('classes named by numbers: their names head the columns while short ones fit, and a number is never a name', () => {
    // Labels 1…11 in the classes' (string) order, class k's texts all predicted as class k, k + 1 of them.
    const classes = Array.from({ length: 11 }, (_, k) => String(k + 1)).sort();
    const truth = classes.flatMap((c, k) => Array.from({ length: Number(c) }, () => k));
    const matrix = (names: string[], counts: number[]): string[] => {
      const text = reportTable(
        { ...classificationReport(names, counts, counts), baselines: null },
        names,
        'title',
      );
      const lines = text.split('\n');
      assert.ok(Math.max(...lines.map((l) => l.length)) <= 120, text);
      return lines.slice(lines.findIndex((l) => l.startsWith('confusion ')));
    };
    const lines = matrix(classes, truth);
    assert.equal(lines[0], 'confusion (rows: true, columns: predicted)');
    const header = lines[1].trim().split(/ +/);
    assert.deepEqual(header, classes);
    // Each row's count stands under its own class's name: row '2' has 2 texts in column '2'.
    classes.forEach((c, k) => {
      const cells = lines[2 + k].trim().split(/ +/);
      assert.equal(cells[0], c);
      assert.equal(cells[1 + header.indexOf(c)], c);
    });
    // Too many long numbers to fit: numbered, with a '#' that no class name ('1', '12') can be taken for.
    const wide = Array.from({ length: 20 }, (_, k) => String(100000 + k));
    const many = wide.flatMap((_, k) => Array.from({ length: 3 }, () => k));
    const numbered = matrix(wide, many);
    assert.equal(numbered[0], 'confusion (rows: true, columns: predicted, numbered as the rows)');
    assert.deepEqual(
      numbered[1].trim().split(/ +/),
      wide.map((_, k) => `#${k + 1}`),
    );
    assert.match(numbered[2], /^#1 100000 +3 +0 /);
  });

  it('beyond it, the lowest F1s and the most frequent confusions: a few lines, not a matrix', () => {
    const K = 300;
    const { classes, r } = report(K);
    const text = reportTable({ ...r, baselines: null }, classes, 'title');
    const lines = text.split('\n');
    assert.ok(lines.length < 40, `${lines.length} lines`);
    assert.ok(Math.max(...lines.map((l) => l.length)) < 120, 'a line wider than a terminal');
    assert.doesNotMatch(text, /rows: true, columns: predicted/);
    assert.match(text, new RegExp(`the ${WORST_CLASSES_SHOWN} classes with the lowest F1 of ${K}; --json`));
    // c000 (all wrong, F1 0) comes first; c005 (F1 0.75 with support 5) is not among the worst ten.
    const table = lines.slice(lines.findIndex((l) => l.startsWith('class ')) + 1);
    assert.match(table[0], /^c000 +0\.0000 +0\.0000 +0\.0000 +3$/);
    assert.ok(!table.slice(0, WORST_CLASSES_SHOWN).some((l) => l.startsWith('c005 ')));
    // The biggest confusion first, with its share of the true class.
    const confusions = lines.slice(lines.findIndex((l) => l.startsWith('true ')) + 1);
    assert.match(
      lines.find((l) => l.includes('most frequent confusions'))!,
      /of 44 true\/predicted pairs, 131 wrong/,
    );
    assert.match(confusions[0], /^c000 +c001 +3 +100\.0%$/);
    assert.equal(confusions.length, WORST_CLASSES_SHOWN);
  });

  it('leaves out classes neither in the data nor predicted, and says so', () => {
    const { classes, r } = report(30);
    const more = [...classes, 'never1', 'never2'];
    const wide = classificationReport(
      more,
      r.confusion.flatMap((row, t) => row.flatMap((n) => Array<number>(n).fill(t))),
      r.confusion.flatMap((row) => row.flatMap((n, p) => Array<number>(n).fill(p))),
    );
    const text = reportTable({ ...wide, baselines: null }, more, 'title');
    assert.match(text, /lowest F1 of 32 \(2 neither in the data nor predicted are left out\)/);
    assert.doesNotMatch(text, /never1/);
  });

  it('shows the same per-label cut for a multi-label table', () => {
    const labels = Array.from({ length: 40 }, (_, k) => `l${k}`);
    const per_label = Object.fromEntries(
      labels.map((l, k) => [l, { precision: 1, recall: k / 40, f1: k / 40, support: 2 }]),
    );
    const text = multiLabelTable(
      {
        subset_accuracy: 0.5,
        hamming_loss: 0.1,
        micro_f1: 0.5,
        macro_f1: 0.5,
        per_label,
        count: 10,
        threshold: 0.5,
        baselines: null,
      },
      labels,
      'title',
    );
    assert.match(text, /the 10 labels with the lowest F1 of 40; --json/);
    assert.match(text, /\nl0 /);
    assert.doesNotMatch(text, /\nl10 /);
  });

  it('an unknown label or class weight names at most 20 of 300 classes, not a line of kilobytes', () => {
    const classes = Array.from({ length: 300 }, (_, k) => `class_${k}`);
    const unknown = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        assert.ok(e instanceof InvalidInputError, String(e));
        return e.message;
      }
      assert.fail('accepted');
    };
    for (const message of [
      unknown(() =>
        encodeLabels({ texts: ['a'], labels: ['nope'], where: ['f.csv line 2'], source: 'f.csv' }, classes),
      ),
      unknown(() => classWeightsFor({ nope: 2 }, classes, [0])),
    ]) {
      assert.match(message, /nope.*class_0, class_1, .*class_19 … and 280 more\)$/);
      assert.ok(message.length < 400, message);
    }
    assert.equal(nameList(['a', 'b']), 'a, b');
  });

  it('recur classify eval of a 30-class model: a short table, and --json with every class and the matrix', () => {
    const rng = new Random(3);
    const rows = ['text,label'];
    for (let i = 0; i < 300; i++) {
      const k = i % 30;
      rows.push(`w${k} ${['a', 'b', 'c'][rng.int(3)]} w${(k * 7) % 30},class ${k}`);
    }
    const csv = join(dir, 'many.csv');
    writeFileSync(csv, rows.join('\n') + '\n');
    const out = join(dir, 'many');
    const quick = ['--epochs', '1', '--threads', '1', '--units', '4', '--embedding-dim', '4'];
    let r = runCli(['classify', 'train', csv, '--out', out, ...quick]);
    assert.equal(r.code, 0, r.stderr);
    // The test table at the end of training is the same table.
    assert.match(r.stdout, /classes with the lowest F1 of 30/);
    r = runCli(['classify', 'eval', out, csv, '--threads', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.split('\n').length < 40, r.stdout);
    assert.match(r.stdout, /classes with the lowest F1 of 30/);
    assert.match(r.stdout, /most frequent confusions|no confusions/);
    r = runCli(['classify', 'eval', out, csv, '--threads', '1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { per_class: Record<string, unknown>; confusion: number[][] };
    assert.equal(Object.keys(json.per_class).length, 30);
    assert.equal(json.confusion.length, 30);
    assert.ok(json.confusion.every((row) => row.length === 30));
  });
});
