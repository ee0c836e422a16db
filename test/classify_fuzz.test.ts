/**
 * A seeded fuzz test of every `recur classify` loader — CSV, TSV, JSON Lines, class folders, the text column of
 * predict's --input — and of the command on damaged files. Each damaged input must either load into consistent
 * labelled texts or be refused with an InvalidInputError / TextFileError naming the file; the command must exit 0 or
 * 2 with a one-line message, never 1 with a stack trace. Bounded: a fixed number of cases per loader.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { classWeightFlag } from '../src/cli/classify_command.js';
import { ENSEMBLE_FILE } from '../src/classify/ensemble.js';
import { classWeightsFor, classifierSettings } from '../src/classify/model.js';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import {
  loadDirectory,
  loadJsonLines,
  loadLabelledTexts,
  loadTable,
  loadTextColumn,
  type LoadedTexts,
} from '../src/node/classify_data.js';
import { loadClassifierDir } from '../src/node/classifier_dir.js';
import { TextFileError } from '../src/node/text_file.js';
import { reviews } from './cli_helpers.js';
import { mutateBytes } from './fuzz_helpers.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const SEED = 20261212;
const CASES = 60;

const WORDS = ['good', 'bad', 'film', 'plot', 'é', '"', ',', '\t', 'naïve', '😀', "it's", 'the', '\\'];

function sentence(rng: Random): string {
  return Array.from({ length: 1 + rng.int(8) }, () => WORDS[rng.int(WORDS.length)])
    .join(' ')
    .replace(/[\t,"]/g, (c) => (rng.next() < 0.5 ? c : ''));
}

const csvCell = (s: string): string => (/[",\n\t]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** A structure-aware damage of a delimited text: a cell dropped or doubled, a stray quote, a lost header, a blank label. */
function mutateTable(text: string, rng: Random, delimiter: string): string {
  const lines = text.split('\n');
  const i = rng.int(lines.length);
  switch (rng.int(5)) {
    case 0:
      lines[i] = lines[i].split(delimiter).slice(0, -1).join(delimiter);
      break;
    case 1:
      lines[i] = `${lines[i]}${delimiter}extra`;
      break;
    case 2:
      lines[i] =
        lines[i].slice(0, rng.int(lines[i].length + 1)) + '"' + lines[i].slice(rng.int(lines[i].length + 1));
      break;
    case 3:
      lines.shift();
      break;
    default:
      lines[i] = lines[i].replace(/[^,\t]*$/, ' ');
  }
  return lines.join('\n');
}

/** The contract of a loader: consistent labelled texts, or a clear refusal naming `where`. */
function check(load: () => LoadedTexts | string[], where: string, what: string): void {
  let r: LoadedTexts | string[];
  try {
    r = load();
  } catch (e) {
    assert.ok(
      e instanceof InvalidInputError || e instanceof TextFileError,
      `${what}: ${String(e)}\n${(e as Error).stack}`,
    );
    assert.ok(
      (e as Error).message.includes(where),
      `${what}: the message does not name ${where}: ${(e as Error).message}`,
    );
    assert.ok(!(e as Error).message.includes('undefined'), `${what}: ${(e as Error).message}`);
    return;
  }
  if (Array.isArray(r)) {
    assert.ok(
      r.every((t) => typeof t === 'string' && t.trim() !== ''),
      what,
    );
    return;
  }
  assert.equal(r.texts.length, r.labels.length, what);
  assert.equal(r.texts.length, r.where.length, what);
  assert.ok(r.texts.length > 0, what);
  assert.ok(
    r.texts.every((t) => typeof t === 'string' && t.trim() !== ''),
    `${what}: an empty text loaded`,
  );
  assert.ok(
    r.labels.every((l) => typeof l === 'string' && l !== '' && l === l.trim()),
    `${what}: a bad label`,
  );
}

describe('classify loaders: seeded fuzz', () => {
  let dir = '';
  const rng = new Random(SEED);
  const rows = Array.from({ length: 40 }, () => [sentence(rng), rng.next() < 0.5 ? 'pos' : 'neg']);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-classify-fuzz-'));
    writeFileSync(join(dir, 'ensemble-src.csv'), reviews(80, 2));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const tables = [
    { ext: 'csv', d: ',' },
    { ext: 'tsv', d: '\t' },
  ];
  for (const { ext, d } of tables) {
    it(`${ext}: damaged bytes and damaged structure`, () => {
      const valid = `text${d}label\n` + rows.map((r) => r.map(csvCell).join(d)).join('\n') + '\n';
      for (let c = 0; c < CASES; c++) {
        const p = join(dir, `${ext}-${c}.${ext}`);
        const byBytes = c % 2 === 0;
        if (byBytes) writeFileSync(p, mutateBytes(new TextEncoder().encode(valid), rng).bytes);
        else writeFileSync(p, mutateTable(valid, rng, d));
        check(() => loadTable(p), p, `${ext} case ${c}`);
        check(() => loadTextColumn(p), p, `${ext} text column case ${c}`);
      }
    });
  }

  it('JSON Lines: damaged bytes, wrong types, missing fields', () => {
    const valid = rows.map(([t, l]) => JSON.stringify({ text: t, label: l })).join('\n');
    const odd = [null, 3, true, [], {}, '', ' ', 'x'];
    for (let c = 0; c < CASES; c++) {
      const p = join(dir, `j-${c}.jsonl`);
      if (c % 2 === 0) writeFileSync(p, mutateBytes(new TextEncoder().encode(valid), rng).bytes);
      else {
        const lines = valid.split('\n');
        const i = rng.int(lines.length);
        const obj = JSON.parse(lines[i]) as Record<string, unknown>;
        const key = rng.next() < 0.5 ? 'text' : 'label';
        if (rng.next() < 0.3) delete obj[key];
        else obj[key] = odd[rng.int(odd.length)];
        lines[i] = rng.next() < 0.2 ? lines[i].slice(0, rng.int(lines[i].length)) : JSON.stringify(obj);
        writeFileSync(p, lines.join('\n'));
      }
      check(() => loadJsonLines(p), p, `jsonl case ${c}`);
    }
  });

  it('class folders: damaged files, empty classes, stray files and folders', () => {
    for (let c = 0; c < CASES / 2; c++) {
      const root = join(dir, `folders-${c}`);
      for (const [i, [t, l]] of rows.slice(0, 10).entries()) {
        mkdirSync(join(root, l), { recursive: true });
        writeFileSync(join(root, l, `${i}.txt`), t);
      }
      const classes = readdirSync(root);
      const cls = join(root, classes[rng.int(classes.length)]);
      const files = readdirSync(cls);
      switch (rng.int(4)) {
        case 0:
          writeFileSync(
            join(cls, files[rng.int(files.length)]),
            mutateBytes(new TextEncoder().encode('some text'), rng).bytes,
          );
          break;
        case 1:
          for (const f of files) rmSync(join(cls, f));
          break;
        case 2:
          writeFileSync(join(root, 'stray.txt'), 'not in a class');
          mkdirSync(join(root, '.hidden'));
          break;
        default:
          writeFileSync(join(cls, 'notes.md'), mutateBytes(new Uint8Array([1, 2, 3]), rng).bytes);
      }
      check(() => loadDirectory(root), root, `folders case ${c}`);
      check(() => loadLabelledTexts(root), root, `folders via loadLabelledTexts case ${c}`);
    }
  });

  it('the command on damaged files: exit 0 or 2 with one line, never a stack trace', () => {
    const valid = 'sentence,label\n' + rows.map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
    for (let c = 0; c < 6; c++) {
      const p = join(dir, `cli-${c}.csv`);
      writeFileSync(
        p,
        c % 2 ? mutateTable(valid, rng, ',') : mutateBytes(new TextEncoder().encode(valid), rng).bytes,
      );
      const args = [
        'classify',
        'train',
        p,
        '--out',
        join(dir, `cli-out-${c}`),
        '--epochs',
        '1',
        '--units',
        '4',
      ];
      const r = spawnSync(process.execPath, [CLI, ...args, '--embedding-dim', '4', '--threads', '1', '-q'], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      const detail = `case ${c}: exit ${r.status}\n${r.stderr}`;
      assert.ok(r.status === 0 || r.status === 2, detail);
      assert.doesNotMatch(r.stderr, /^\s+at /m, detail);
      if (r.status === 2) assert.match(r.stderr.trim(), /^recur: .{10,}$/, detail);
    }
  });

  it('ensemble.json: damaged bytes and structure load an ensemble or are refused naming the file', () => {
    const ens = join(dir, 'ens');
    const train = ['classify', 'train', join(dir, 'ensemble-src.csv'), '--out', ens, '--epochs', '1'];
    const small = [
      '--units',
      '4',
      '--embedding-dim',
      '4',
      '--threads',
      '1',
      '--ensemble',
      '2',
      '--seed',
      '5',
      '-q',
    ];
    const r = spawnSync(process.execPath, [CLI, ...train, ...small], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const file = join(ens, ENSEMBLE_FILE);
    const valid = readFileSync(file);
    const record = JSON.parse(valid.toString('utf8')) as Record<string, unknown>;
    const odd: unknown[] = [
      null,
      -1,
      0,
      1.5,
      3,
      'members/2',
      'members/9',
      '../x',
      [],
      ['members/1'],
      {},
      true,
    ];
    const keys = Object.keys(record);
    let loaded = 0;
    for (let c = 0; c < CASES; c++) {
      if (c % 2 === 0) writeFileSync(file, mutateBytes(valid, rng).bytes);
      else {
        const copy: Record<string, unknown> = JSON.parse(valid.toString('utf8')) as Record<string, unknown>;
        const key = keys[rng.int(keys.length)];
        if (rng.next() < 0.2) delete copy[key];
        else copy[key] = odd[rng.int(odd.length)];
        writeFileSync(file, JSON.stringify(copy));
      }
      try {
        const c2 = loadClassifierDir(ens);
        assert.ok(Array.isArray(c2.models) && c2.models.length >= 1, `case ${c}`);
        loaded++;
      } catch (e) {
        assert.ok(e instanceof InvalidInputError, `case ${c}: ${(e as Error).stack}`);
        assert.ok((e as Error).message.includes(ens), `case ${c}: ${(e as Error).message}`);
      }
    }
    writeFileSync(file, valid);
    assert.equal((loadClassifierDir(ens).models as unknown[]).length, 2);
    assert.ok(loaded < CASES, 'every damaged record loaded: the mutations are too weak');
  });

  it('--class-weight values: a spec the settings accept, or an InvalidArgumentError naming the flag', () => {
    const rng = new Random(SEED + 7);
    const PIECES = [
      'ham',
      'spam',
      '=',
      ',',
      '1',
      '0',
      '-2',
      '3.5',
      'e9',
      'NaN',
      ' ',
      'balanced',
      '==',
      '😀',
      'Infinity',
      // Whole pairs and the JSON form's pieces (a name with ',' or '=' is spelled only in JSON).
      'spam=3',
      '{"ham": 2}',
      '{"a,b": 1, "ham": 2}',
      '{',
      '"',
      ':',
      '@',
    ];
    let accepted = 0;
    for (let i = 0; i < CASES * 5; i++) {
      const v = Array.from({ length: 1 + rng.int(7) }, () => PIECES[rng.int(PIECES.length)]).join('');
      let spec: ReturnType<typeof classWeightFlag>;
      try {
        spec = classWeightFlag(v);
      } catch (e) {
        assert.ok(e instanceof InvalidArgumentError, `'${v}': ${(e as Error).message}`);
        assert.match((e as Error).message, /^--class-weight /, v);
        continue;
      }
      accepted++;
      // Whatever the flag accepts, the settings accept, and weights come out positive and finite (or the class is
      // named as unknown to the data).
      const s = classifierSettings(2, { classWeight: spec, seed: 1 });
      try {
        const w = classWeightsFor(s.classWeight, ['ham', 'spam'], Int32Array.from([0, 1, 1]))!;
        assert.ok(
          [...w].every((x) => Number.isFinite(x) && x > 0),
          v,
        );
      } catch (e) {
        assert.ok(e instanceof InvalidInputError, `'${v}': ${(e as Error).message}`);
        assert.match((e as Error).message, /classWeight names class '.*', which the data does not have/);
      }
    }
    assert.ok(accepted > 5, `only ${accepted} accepted values: the generator is too weak`);
  });
});
