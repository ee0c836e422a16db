/**
 * `--resume` with a flag other than the run's: every training command either applies it as README says or refuses
 * it (exit 2) naming the flag and what the run recorded — never a data error about a file read otherwise, never
 * silently ignored. Tiny runs of one or two epochs on one thread.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pseudoText, reviews, runCli, spellings, TINY_TEXT_MODEL, trainTinyModels } from './cli_helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'recur-resume-flags-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const SEQ2SEQ_FLAGS = [
  ...['--source-tokens', 'chars', '--target-tokens', 'words', '--units', '6', '--embedding-dim', '4'],
  ...['--batch-size', '32', '--epochs', '1', '--seed', '3', '--threads', '1', '--joint-ngram', '0', '-q'],
];

/** The spellings as a CSV with columns `word` and `sounds`, in a file whose extension says nothing of CSV. */
function spellingsCsv(n: number, seed: number): string {
  const rows = spellings(n, seed)
    .trim()
    .split('\n')
    .map((l) => l.replace('\t', ','));
  return ['word,sounds', ...rows].join('\n') + '\n';
}

describe("recur seq2seq train --ensemble N --resume: --format and columns against the run's", () => {
  it('another --format is refused naming it and the format training read (it was a data error: no column named source)', () => {
    const pairs = join(dir, 'spell.tsv');
    writeFileSync(pairs, spellings(100, 4));
    const out = join(dir, 'tsv-ensemble');
    const first = runCli(['seq2seq', 'train', pairs, '--out', out, ...SEQ2SEQ_FLAGS, '--ensemble', '2']);
    assert.equal(first.code, 0, first.stderr);
    for (const data of [[], [pairs]]) {
      const r = runCli(['seq2seq', 'train', ...data, '--out', out, '--resume', '--format', 'csv', '-q']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--format csv: the model was trained on \S+spell\.tsv read with --format tsv/);
      assert.doesNotMatch(r.stderr, /no column named/);
    }
  });

  it("a run on a CSV read with --format csv and named columns: a bare resume reads it so (it trained, then failed scoring), another column is refused naming the run's", () => {
    const pairs = join(dir, 'spell.txt');
    writeFileSync(pairs, spellingsCsv(100, 5));
    const out = join(dir, 'csv-ensemble');
    const columns = ['--format', 'csv', '--source-column', 'word', '--target-column', 'sounds'];
    const first = runCli([
      'seq2seq',
      'train',
      pairs,
      '--out',
      out,
      ...SEQ2SEQ_FLAGS,
      ...columns,
      '--ensemble',
      '2',
    ]);
    assert.equal(first.code, 0, first.stderr);
    const more = runCli(['seq2seq', 'train', '--out', out, '--resume', '--epochs', '2', '--json']);
    assert.equal(more.code, 0, more.stderr);
    assert.match(more.stdout, /"event":\s*"test"/);
    for (const [flag, value, used] of [
      ['--target-column', 'target', 'sounds'],
      ['--format', 'tsv', 'csv'],
    ]) {
      const r = runCli(['seq2seq', 'train', '--out', out, '--resume', flag, value, '-q']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`${flag} ${value}: the model was trained on \\S+spell\\.txt read with ${flag} ${used}`),
      );
    }
  });

  it('a single run on that CSV: a column flag is checked against the format training read, not the extension', () => {
    const pairs = join(dir, 'single.txt');
    writeFileSync(pairs, spellingsCsv(100, 6));
    const out = join(dir, 'csv-single');
    const columns = ['--format', 'csv', '--source-column', 'word', '--target-column', 'sounds'];
    const first = runCli(['seq2seq', 'train', pairs, '--out', out, ...SEQ2SEQ_FLAGS, ...columns]);
    assert.equal(first.code, 0, first.stderr);
    const same = runCli(['seq2seq', 'train', '--out', out, '--resume', '--source-column', 'word', '-q']);
    assert.equal(same.code, 0, same.stderr);
    const other = runCli(['seq2seq', 'train', '--out', out, '--resume', '--source-column', 'source', '-q']);
    assert.equal(other.code, 2, other.stderr);
    assert.match(
      other.stderr,
      /--source-column source: the model was trained on \S+single\.txt read with --source-column word/,
    );
    // Another pairs file is refused by name, as an ensemble's resume refuses it (it was read with this run's columns:
    // "no column named 'word'").
    const otherPairs = join(dir, 'other-pairs.tsv');
    writeFileSync(otherPairs, spellings(100, 8));
    const data = runCli(['seq2seq', 'train', otherPairs, '--out', out, '--resume', '-q']);
    assert.equal(data.code, 2, data.stderr);
    assert.equal(data.stderr, `recur: --resume: the checkpoint was trained on ${pairs}, not ${otherPairs}\n`);
  });
});

describe("recur seq2seq train --resume --skip-bad and --init-seed against the run's", () => {
  it('--skip-bad is refused for a run that read every line, single or --ensemble (it was accepted, and recorded a skipping run); a run that skipped goes on skipping without it', () => {
    const pairs = join(dir, 'clean.tsv');
    writeFileSync(pairs, spellings(100, 9));
    for (const [name, extra] of [
      ['clean-single', []],
      ['clean-ensemble', ['--ensemble', '2']],
    ] as const) {
      const out = join(dir, name);
      const first = runCli(['seq2seq', 'train', pairs, '--out', out, ...SEQ2SEQ_FLAGS, ...extra]);
      assert.equal(first.code, 0, first.stderr);
      for (const data of [[], [pairs]]) {
        const r = runCli(['seq2seq', 'train', ...data, '--out', out, '--resume', '--skip-bad', '-q']);
        assert.equal(r.code, 2, `${name}: ${r.stderr}`);
        assert.ok(
          r.stderr.startsWith(
            "recur: --skip-bad with --resume: the checkpoint's run was started without it; leave the flag out",
          ),
          r.stderr,
        );
      }
    }
    // A run that skipped a bad line (no tab): resumed with or without the flag, it reads its pairs as it did.
    const bad = join(dir, 'with-bad-line.tsv');
    writeFileSync(bad, `${spellings(100, 10)}no tab here\n`);
    const out = join(dir, 'skipping');
    const first = runCli(['seq2seq', 'train', bad, '--out', out, ...SEQ2SEQ_FLAGS, '--skip-bad']);
    assert.equal(first.code, 0, first.stderr);
    for (const flags of [['--skip-bad'], []]) {
      const r = runCli(['seq2seq', 'train', '--out', out, '--resume', '--epochs', '2', ...flags, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /"event":\s*"skipped","count":1/);
    }
  });

  it("--init-seed on a seed ensemble says what the directory holds (it said 'with --ensemble', which was not given)", () => {
    const pairs = join(dir, 'seeds.tsv');
    writeFileSync(pairs, spellings(100, 11));
    const out = join(dir, 'seeds-ensemble');
    const first = runCli(['seq2seq', 'train', pairs, '--out', out, ...SEQ2SEQ_FLAGS, '--ensemble', '2']);
    assert.equal(first.code, 0, first.stderr);
    const r = runCli(['seq2seq', 'train', '--out', out, '--resume', '--init-seed', '5', '-q']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^recur: --init-seed 5 with --resume: \S+seeds-ensemble holds a seed ensemble of 2 members, each with its own seed drawn from the run's --seed 3 \(3, \d+\); leave the flag out\n$/,
    );
  });
});

describe('recur classify train --resume --text-column / --label-column by number or in another case', () => {
  it("is compared as the column it picks: another one is refused (a number was ignored), the run's own accepted (another case was refused)", () => {
    const csv = join(dir, 'numbered.csv');
    writeFileSync(csv, reviews(80, 8));
    const out = join(dir, 'numbered');
    const quick = ['--epochs', '1', '--units', '4', '--embedding-dim', '4', '--threads', '1', '-q'];
    assert.equal(runCli(['classify', 'train', csv, '--out', out, ...quick]).code, 0);
    for (const [flag, value, picks, used] of [
      ['--text-column', '2', 'label', 'sentence'],
      ['--label-column', '1', 'sentence', 'label'],
    ]) {
      const r = runCli(['classify', 'train', '--out', out, '--resume', flag, value, '-q']);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(
        r.stderr.startsWith(
          `recur: ${flag} ${value} (column '${picks}') with --resume: the checkpoint's run uses ${used}; leave the flag out`,
        ),
        r.stderr,
      );
    }
    const same = runCli([
      ...['classify', 'train', '--out', out, '--resume', '--text-column', '1'],
      ...['--label-column', 'LABEL', '-q'],
    ]);
    assert.equal(same.code, 0, same.stderr);
  });
});

describe('a run directory another training command wrote', () => {
  it('--resume names what it holds and the command that continues it (it failed on the model topology, or told recur train to add --ensemble); a new run there is not told to --resume it', () => {
    const { textModel, classifier } = trainTinyModels(dir);
    const pairs = join(dir, 'other.tsv');
    writeFileSync(pairs, spellings(100, 7));
    const seq2seq = join(dir, 'other-seq2seq');
    assert.equal(runCli(['seq2seq', 'train', pairs, '--out', seq2seq, ...SEQ2SEQ_FLAGS]).code, 0);
    const csv = join(dir, 'other.csv');
    writeFileSync(csv, reviews(80, 3));
    const ensemble = join(dir, 'other-ensemble');
    const quick = ['--epochs', '1', '--units', '4', '--embedding-dim', '4', '--threads', '1', '-q'];
    assert.equal(runCli(['classify', 'train', csv, '--out', ensemble, ...quick, '--ensemble', '2']).code, 0);
    const held = [
      [textModel, 'a text model', 'recur train'],
      [classifier, 'a text classifier', 'recur classify train'],
      [seq2seq, 'a seq2seq model', 'recur seq2seq train'],
      [ensemble, 'a seed ensemble', 'recur classify train'],
    ] as const;
    for (const [command, wanted] of [
      [['train'], 'a text model'],
      [['classify', 'train'], 'a text classifier'],
      [['seq2seq', 'train'], 'a seq2seq model'],
    ] as const)
      for (const [out, what, by] of held) {
        if (by === `recur ${command.join(' ')}`) continue;
        const resumed = runCli([...command, '--out', out, '--resume', '-q']);
        assert.equal(resumed.code, 2, resumed.stderr);
        assert.equal(
          resumed.stderr,
          `recur: --resume: ${out} holds ${what} (from ${by}), not ${wanted}; continue it with ${by} --out ${out} --resume\n`,
        );
      }
    const started = runCli(['classify', 'train', csv, '--out', textModel, ...quick]);
    assert.equal(started.code, 2, started.stderr);
    assert.match(
      started.stderr,
      /holds a text model \(from recur train\), not a text classifier; --overwrite replaces it/,
    );
    assert.doesNotMatch(started.stderr, /--resume/);
  });
});

describe('recur classify train --resume --label-separator', () => {
  it("is compared with the run's (it was ignored: by a multi-label run, and by an ensemble of one label per text)", () => {
    const quick = ['--epochs', '1', '--units', '4', '--embedding-dim', '4', '--threads', '1', '-q'];
    // The reviews with a second label on every other one.
    const multi = join(dir, 'multi.csv');
    const rows = reviews(80, 4).trim().split('\n');
    writeFileSync(
      multi,
      [rows[0], ...rows.slice(1).map((r, i) => (i % 2 ? `${r}|long` : r))].join('\n') + '\n',
    );
    const multiRun = join(dir, 'multi-label');
    assert.equal(runCli(['classify', 'train', multi, '--out', multiRun, '--multi-label', ...quick]).code, 0);
    const single = join(dir, 'single-label.csv');
    writeFileSync(single, reviews(80, 5));
    const ensemble = join(dir, 'single-label-ensemble');
    assert.equal(
      runCli(['classify', 'train', single, '--out', ensemble, '--ensemble', '2', ...quick]).code,
      0,
    );
    for (const [out, used] of [
      [multiRun, '|'],
      [ensemble, 'one label per text (not --multi-label)'],
    ] as const) {
      const r = runCli(['classify', 'train', '--out', out, '--resume', '--label-separator', ';', '-q']);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(
        r.stderr.startsWith(
          `recur: --label-separator ; with --resume: the checkpoint's run uses ${used}; leave the flag out`,
        ),
        r.stderr,
      );
    }
    const same = runCli(['classify', 'train', '--out', multiRun, '--resume', '--label-separator', '|', '-q']);
    assert.equal(same.code, 0, same.stderr);
  });
});

describe('recur classify train --resume of a column whose name another column shares', () => {
  it('reads the column the run was given by number (it read it by name and refused the repeated name, so the run could never resume); another column of that name is refused', () => {
    const csv = join(dir, 'repeated.csv');
    const [, ...rows] = reviews(80, 9).trim().split('\n');
    writeFileSync(
      csv,
      ['sentence,sentence,label', ...rows.map((r, i) => `note ${i},${r}`)].join('\n') + '\n',
    );
    const out = join(dir, 'repeated');
    const quick = ['--epochs', '1', '--units', '4', '--embedding-dim', '4', '--threads', '1', '-q'];
    const first = runCli(['classify', 'train', csv, '--out', out, '--text-column', '2', ...quick]);
    assert.equal(first.code, 0, first.stderr);
    for (const given of [[], ['--text-column', '2']]) {
      const r = runCli(['classify', 'train', '--out', out, '--resume', ...given, '-q']);
      assert.equal(r.code, 0, r.stderr);
    }
    for (const value of ['1', 'sentence']) {
      const r = runCli(['classify', 'train', '--out', out, '--resume', '--text-column', value, '-q']);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(
        r.stderr.startsWith(
          `recur: --text-column ${value}${value === '1' ? " (column 'sentence')" : ''} with --resume: the checkpoint's run uses 'sentence' (column 2); leave the flag out`,
        ),
        r.stderr,
      );
    }
    const evaluated = runCli(['classify', 'eval', out, '-q']);
    assert.equal(evaluated.code, 0, evaluated.stderr);
  });
});

describe('recur classify train --resume --text-column of JSON Lines in another case', () => {
  it('is accepted as the field training picks, ignoring case (it was refused); another field is refused', () => {
    const jsonl = join(dir, 'cased.jsonl');
    const [, ...rows] = reviews(80, 10).trim().split('\n');
    const records = rows.map((r) => {
      const [text, label] = r.split(',');
      return JSON.stringify({ Sentence: text, label });
    });
    writeFileSync(jsonl, records.join('\n') + '\n');
    const out = join(dir, 'cased');
    const quick = ['--epochs', '1', '--units', '4', '--embedding-dim', '4', '--threads', '1', '-q'];
    const first = runCli(['classify', 'train', jsonl, '--out', out, '--text-column', 'Sentence', ...quick]);
    assert.equal(first.code, 0, first.stderr);
    const same = runCli(['classify', 'train', '--out', out, '--resume', '--text-column', 'sentence', '-q']);
    assert.equal(same.code, 0, same.stderr);
    const other = runCli(['classify', 'train', '--out', out, '--resume', '--text-column', 'LABEL', '-q']);
    assert.equal(other.code, 2, other.stderr);
    assert.ok(
      other.stderr.startsWith(
        "recur: --text-column LABEL (field 'label') with --resume: the checkpoint's run uses Sentence; leave the flag out",
      ),
      other.stderr,
    );
  });
});

describe('recur classify train --ensemble N --resume before any member has a checkpoint', () => {
  it("refuses a column or --test other than the first command's (they were ignored)", () => {
    const csv = join(dir, 'early.csv');
    writeFileSync(csv, reviews(80, 6));
    const test = join(dir, 'early-test.csv');
    writeFileSync(test, reviews(20, 7));
    const out = join(dir, 'early-ensemble');
    const quick = ['--epochs', '1', '--units', '4', '--embedding-dim', '4', '--threads', '1', '-q'];
    // Killed in member 1's first epoch: ensemble.json is written, no member has a checkpoint.
    const killed = runCli(['classify', 'train', csv, '--out', out, '--ensemble', '2', ...quick], {
      env: { RECUR_TEST_KILL_AFTER: '1' },
    });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    for (const [flag, value, used] of [
      ['--text-column', 'label', 'sentence'],
      ['--label-column', 'sentence', 'label'],
      ['--test', test, 'a test split of its data'],
    ]) {
      const r = runCli(['classify', 'train', '--out', out, '--resume', flag, value, '-q']);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(
        r.stderr.startsWith(
          `recur: ${flag} ${value} with --resume: the checkpoint's run uses ${used}; leave the flag out`,
        ),
        r.stderr,
      );
    }
    const same = runCli(['classify', 'train', '--out', out, '--resume', '--text-column', 'sentence', '-q']);
    assert.equal(same.code, 0, same.stderr);
  });
});

describe('recur train --resume with another text of other characters', () => {
  it("says it is not the run's text, or the run's changed (it said the text must use the model's vocabulary)", () => {
    const book = join(dir, 'resume-book.txt');
    writeFileSync(book, pseudoText(3000, 2));
    const out = join(dir, 'resume-text');
    const quick = ['--epochs', '1', '--steps-per-epoch', '2', ...TINY_TEXT_MODEL];
    const first = runCli(['train', book, '--out', out, ...quick]);
    assert.equal(first.code, 0, first.stderr);
    const other = join(dir, 'resume-other.txt');
    writeFileSync(other, `${pseudoText(3000, 2)}\nQ`);
    const given = runCli(['train', other, '--out', out, '--resume', '-q']);
    assert.equal(given.code, 2, given.stderr);
    assert.match(
      given.stderr,
      /^recur: --resume: \S+resume-other\.txt is not the text the run was trained on \(.*\); give the same text\n$/,
    );
    // The run's own file, changed since: a bare resume reads it.
    writeFileSync(book, `${pseudoText(3000, 2)}Q`);
    const bare = runCli(['train', '--out', out, '--resume', '-q']);
    assert.equal(bare.code, 2, bare.stderr);
    assert.match(
      bare.stderr,
      /^recur: --resume: \S+resume-book\.txt has changed since the run trained on it \(.*\); give the text the run trained on\n$/,
    );
  });
});
