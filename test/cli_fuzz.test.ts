/**
 * A seeded fuzz test of the command line: damaged inputs — random bytes, truncated and wrongly encoded text, broken
 * CSVs, model directories with mutated model.json or weights — given to every command. Each run must either succeed
 * (the damage left a valid input) or exit 2 with a short message naming the problem; never exit 1 with a stack trace,
 * never leave a partial output file, never change an input file. Bounded: a fixed number of cases per command.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { mutateBytes } from './fuzz_helpers.js';
import { runCli as run, type CliResult as Result } from './cli_helpers.js';

const SEED = 20261203;

/** Hash of every file under a path (a file or a directory), to prove inputs are left unchanged. */
function fingerprint(path: string): string {
  const h = createHash('sha256');
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) walk(join(p, f));
    } else {
      h.update(p).update(readFileSync(p));
    }
  };
  walk(path);
  return h.digest('hex');
}

/** The contract: success, or exit 2 with a short message and no stack trace. */
function assertCleanOutcome(r: Result, what: string): void {
  const detail = `${what}\nexit ${r.code}\nstderr: ${r.stderr.slice(0, 2000)}`;
  assert.ok(r.code === 0 || r.code === 2, `expected exit 0 or 2: ${detail}`);
  assert.doesNotMatch(r.stderr, /^\s+at .+\(.*:\d+:\d+\)$/m, `stack trace printed: ${detail}`);
  assert.doesNotMatch(r.stderr, /TypeError|RangeError|ReferenceError|undefined\b.*undefined/, detail);
  if (r.code === 2) {
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.length <= 3, `more than a short message: ${detail}`);
    assert.match(lines[lines.length - 1], /^recur: .{10,}/, `no 'recur: <problem>' line: ${detail}`);
  }
}

function words(chars: number, rng: Random): string {
  const w = ['the', 'whale', 'sea', 'ship', 'and', 'of', 'a', 'captain', 'white', 'deep', 'night'];
  let s = '';
  while (s.length < chars) s += w[rng.int(w.length)] + (rng.next() < 0.1 ? '.\n' : ' ');
  return s;
}

/** A mutated JSON document: a value replaced by a wrong type, a key deleted, or the text cut. */
function mutateJson(text: string, rng: Random): { name: string; text: string } {
  const doc = JSON.parse(text) as unknown;
  const paths: (string | number)[][] = [];
  const collect = (v: unknown, p: (string | number)[]): void => {
    paths.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => collect(x, [...p, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) collect(x, [...p, k]);
  };
  collect(doc, []);
  if (rng.next() < 0.15) return { name: 'cut', text: text.slice(0, rng.int(text.length)) };
  const path = paths[1 + rng.int(paths.length - 1)];
  const parent = path
    .slice(0, -1)
    .reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], doc) as Record<string | number, unknown>;
  const key = path[path.length - 1];
  const replacements = [null, -1, 0, 1e12, 'x', [], {}, true, 3.5, '../../etc/hostname'];
  if (rng.next() < 0.3 && !Array.isArray(parent)) {
    delete parent[key];
    return { name: `deleted ${path.join('.')}`, text: JSON.stringify(doc) };
  }
  const value = replacements[rng.int(replacements.length)];
  parent[key] = value;
  return { name: `${path.join('.')} = ${JSON.stringify(value)}`, text: JSON.stringify(doc) };
}

describe('CLI fuzz: damaged inputs to every command', () => {
  let dir = '';
  let book = '';
  let model = '';
  let csv = '';
  const rng = new Random(SEED);
  const TRAIN = ['--epochs', '1', '--steps-per-epoch', '2', '--units', '8', '--batch-size', '16'];
  const MODEL_FLAGS = ['--maxlen', '10', '--threads', '1', '--no-samples', '--quiet', '--seed', '1'];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-fuzz-'));
    book = join(dir, 'book.txt');
    writeFileSync(book, words(3000, new Random(1)));
    model = join(dir, 'model');
    const t = run(['train', book, '--out', model, ...TRAIN, ...MODEL_FLAGS]);
    assert.equal(t.code, 0, t.stderr);
    csv = join(dir, 'series.csv');
    const lines = ['month,value'];
    for (let i = 0; i < 60; i++) {
      const y = 1990 + Math.floor(i / 12);
      const m = String((i % 12) + 1).padStart(2, '0');
      lines.push(`${y}-${m},${(100 + 10 * Math.sin((2 * Math.PI * i) / 12) + i * 0.5).toFixed(2)}`);
    }
    writeFileSync(csv, lines.join('\n') + '\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('train: damaged corpora', () => {
    const original = readFileSync(book);
    for (let i = 0; i < 8; i++) {
      const m = mutateBytes(original, rng);
      const file = join(dir, `train-${i}.txt`);
      writeFileSync(file, m.bytes);
      const before = fingerprint(file);
      const out = join(dir, `train-out-${i}`);
      const r = run(['train', file, '--out', out, ...TRAIN, ...MODEL_FLAGS]);
      assertCleanOutcome(r, `train on ${m.name}`);
      assert.equal(fingerprint(file), before, `train changed its input (${m.name})`);
      if (r.code !== 0) {
        const left = existsSync(out) ? readdirSync(out) : [];
        assert.deepEqual(left, [], `a failed train left files behind (${m.name}): ${left.join(', ')}`);
      }
    }
  });

  it('generate, evaluate and export: damaged model directories', () => {
    const json = readFileSync(join(model, 'model.json'), 'utf8');
    const weightsName = readdirSync(model).find((f) => f.endsWith('.bin'))!;
    const weights = readFileSync(join(model, weightsName));
    for (let i = 0; i < 14; i++) {
      const copy = join(dir, `model-${i}`);
      mkdirSync(copy);
      cpSync(model, copy, { recursive: true });
      let what: string;
      if (i % 3 === 2) {
        const m = mutateBytes(weights, rng);
        writeFileSync(join(copy, weightsName), m.bytes);
        what = `weights ${m.name}`;
      } else {
        const m = mutateJson(json, rng);
        writeFileSync(join(copy, 'model.json'), m.text);
        what = `model.json ${m.name}`;
      }
      const before = fingerprint(copy);
      const g = run(['generate', copy, '--length', '20', '--seed', '1', '--prime', 'the ']);
      assertCleanOutcome(g, `generate with ${what}`);
      const e = run(['evaluate', copy, book, '--json']);
      assertCleanOutcome(e, `evaluate with ${what}`);
      if (e.code === 0) JSON.parse(e.stdout);
      const project = join(dir, `export-${i}`);
      const x = run(['export', 'pytorch', copy, project, '--json']);
      assertCleanOutcome(x, `export with ${what}`);
      if (x.code !== 0) assert.ok(!existsSync(project), `a failed export left ${project} (${what})`);
      assert.equal(fingerprint(copy), before, `a command changed the model directory (${what})`);
    }
  });

  it('evaluate: damaged texts', () => {
    const original = readFileSync(book);
    for (let i = 0; i < 5; i++) {
      const m = mutateBytes(original, rng);
      const file = join(dir, `eval-${i}.txt`);
      writeFileSync(file, m.bytes);
      const r = run(['evaluate', model, file, '--json']);
      assertCleanOutcome(r, `evaluate on ${m.name}`);
      if (r.code === 0) JSON.parse(r.stdout);
    }
  });

  it('forecast: damaged CSVs', () => {
    const original = readFileSync(csv);
    for (let i = 0; i < 8; i++) {
      const m = mutateBytes(original, rng);
      const file = join(dir, `series-${i}.csv`);
      writeFileSync(file, m.bytes);
      const before = fingerprint(file);
      const output = join(dir, `forecast-${i}.csv`);
      const r = run([
        'forecast',
        file,
        '--output',
        output,
        '--epochs',
        '2',
        '--seeds',
        '1',
        '--units',
        '4',
        '--baselines',
        'naive,seasonal naive',
        '--json',
      ]);
      assertCleanOutcome(r, `forecast on ${m.name}`);
      assert.equal(fingerprint(file), before, `forecast changed its input (${m.name})`);
      if (r.code === 0) JSON.parse(r.stdout);
      else assert.ok(!existsSync(output), `a failed forecast left ${output} (${m.name})`);
    }
  });

  it('forecast many series: damaged long-format CSVs', () => {
    const lines = ['id,month,value'];
    for (const [k, id] of ['a', 'b', 'c'].entries())
      for (let i = 0; i < 40; i++) {
        const y = 1990 + Math.floor(i / 12);
        const m = String((i % 12) + 1).padStart(2, '0');
        lines.push(
          `${id},${y}-${m},${(100 + 10 * k + 10 * Math.sin((2 * Math.PI * i) / 12) + i * 0.5).toFixed(2)}`,
        );
      }
    const original = Buffer.from(lines.join('\n') + '\n');
    for (let i = 0; i < 6; i++) {
      const m = mutateBytes(original, rng);
      const file = join(dir, `panel-${i}.csv`);
      writeFileSync(file, m.bytes);
      const before = fingerprint(file);
      const output = join(dir, `panel-forecast-${i}.csv`);
      const r = run([
        'forecast',
        file,
        '--id-column',
        'id',
        '--output',
        output,
        '--candidates',
        'theta,seasonal naive',
        '--baselines',
        'naive',
        '--horizon',
        '6',
        '--threads',
        '1',
        '--json',
      ]);
      const what = `forecast --id-column on ${m.name}`;
      assert.equal(fingerprint(file), before, `forecast changed its input (${m.name})`);
      if (r.code === 1) {
        // Allowed only as 'no series could be forecast', each failure with its reason.
        const lines = r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        const summary = lines[lines.length - 1].summary as { forecast: number; failed: number };
        assert.equal(summary.forecast, 0, what);
        assert.ok(
          lines.slice(0, -1).every((l) => typeof l.error === 'string' && l.error.length > 10),
          what,
        );
        assert.ok(!existsSync(output), what);
        continue;
      }
      assertCleanOutcome(r, what);
      if (r.code === 0) {
        const lines = r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        assert.ok((lines[lines.length - 1].summary as { forecast: number }).forecast >= 1, what);
        assert.ok(existsSync(output), what);
      } else assert.ok(!existsSync(output), `a failed forecast left ${output} (${m.name})`);
    }
  });

  it('forecast: seeded input defects (BOM, non-decimal numbers, bad UTF-8, mixed date formats, control characters)', () => {
    // Its own stream, so the cases above keep theirs.
    const r2 = new Random(SEED + 1);
    const lines = readFileSync(csv, 'utf8').trimEnd().split('\n');
    const FAST = ['--candidates', 'theta', '--baselines', 'none', '--threads', '1', '--json'];
    for (let i = 0; i < 10; i++) {
      const kind = i % 5;
      const row = 1 + r2.int(lines.length - 1);
      const copy = [...lines];
      let bytes: Buffer;
      let expect: RegExp | null;
      let args: string[] = [];
      if (kind === 0) {
        // A BOM, with the first column named: it must be found under its own name.
        bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(copy.join('\n') + '\n')]);
        args = ['--date-column', 'month'];
        expect = null;
      } else if (kind === 1) {
        const cell = ['0x10', '0b1111', '0o17', '0X1F', '1_000'][r2.int(5)];
        copy[row] = copy[row].replace(/,.*/, `,${cell}`);
        bytes = Buffer.from(copy.join('\n') + '\n');
        expect = new RegExp(`, line ${row + 1}: value "${cell}" in column 'value' is not a number$`);
      } else if (kind === 2) {
        const text = Buffer.from(copy.join('\n') + '\n');
        const at = r2.int(text.length);
        const bad = [0xff, 0xfe, 0xc0, 0x80, 0xe9][r2.int(5)];
        bytes = Buffer.concat([text.subarray(0, at), Buffer.from([bad]), text.subarray(at)]);
        const line = text.subarray(0, at).toString('latin1').split('\n').length;
        expect = new RegExp(
          `is not valid UTF-8 \\(byte 0x${bad.toString(16)} at offset ${at}, line ${line}\\)`,
        );
      } else if (kind === 3) {
        const [y, m] = copy[row].split(',')[0].split('-');
        const other = [`${y}`, `${y}-${m}-01`, `${y}-${m}-28 12:00`, `${y}/${m}`][r2.int(4)];
        copy[row] = copy[row].replace(/^[^,]+/, other);
        bytes = Buffer.from(copy.join('\n') + '\n');
        expect =
          row === 1
            ? /./ // the first date sets the format: the others then differ from it, or the file still reads
            : new RegExp(
                `, line ${row + 1}: date "${other}" in column 'month' is not in the format of the first date`,
              );
      } else {
        const control = ['\n', '\r', '\t', '\u0085', '\u2028', '\u0007'][r2.int(6)];
        copy[0] = `month,"val${control}ue"`;
        copy[row] = copy[row].replace(/,.*/, ',abc');
        bytes = Buffer.from(copy.join('\n') + '\n');
        expect = /: value "abc" in column 'val\\(n|r|t|u0085|u2028|u0007)ue' is not a number$/;
      }
      const file = join(dir, `defect-${i}.csv`);
      writeFileSync(file, bytes);
      const r = run(['forecast', file, ...args, ...FAST]);
      const what = `defect kind ${kind}, row ${row}`;
      assertCleanOutcome(r, what);
      if (expect === null) {
        assert.equal(r.code, 0, `${what}: ${r.stderr}`);
        JSON.parse(r.stdout);
      } else if (kind === 3 && row === 1) {
        assert.ok(r.code === 0 || r.code === 2, what);
      } else {
        assert.equal(r.code, 2, `${what}: ${r.stderr}`);
        const errors = r.stderr.trim().split('\n');
        assert.equal(errors.length, 1, `${what}: one line\n${r.stderr}`);
        assert.match(errors[0], expect, what);
      }
    }
  });

  it('every command: missing paths and directories where files belong', () => {
    const missing = join(dir, 'nope.txt');
    for (const args of [
      ['train', missing, '--out', join(dir, 'o1'), ...TRAIN],
      ['train', dir, '--out', join(dir, 'o2'), ...TRAIN],
      ['generate', missing],
      ['generate', book],
      ['evaluate', model, missing],
      ['evaluate', model, dir],
      ['evaluate', missing, book],
      ['forecast', missing],
      ['forecast', dir],
      ['classify', 'train', missing, '--out', join(dir, 'o3')],
      ['classify', 'eval', missing],
      ['classify', 'eval', model],
      ['classify', 'eval', book],
      ['classify', 'predict', model, 'a text'],
      ['classify', 'predict', book, 'a text'],
      ['predict', missing],
      ['predict', dir],
      ['predict', join(dir, 'nope.keras')],
      ['convert', missing, join(dir, 'o3.keras')],
      ['convert', join(dir, 'nope.h5'), join(dir, 'o4')],
      ['generate', join(dir, 'nope.h5'), '--corpus', book],
      ['seq2seq', 'train', missing, '--out', join(dir, 'o5'), '--epochs', '1'],
      ['seq2seq', 'train', dir, '--out', join(dir, 'o6'), '--epochs', '1'],
      ['seq2seq', 'eval', missing],
      ['seq2seq', 'eval', model], // a text model, not a seq2seq one
      ['seq2seq', 'predict', missing, 'hello'],
      ['serve', missing, '--port', '0'],
      ['serve', book, '--port', '0'],
      ['serve', dir, '--port', '0'],
      ['export', 'pytorch', missing, join(dir, 'e1')],
      ['export', 'pytorch', book, join(dir, 'e2')],
    ]) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: expected exit 2, got ${r.code}: ${r.stderr}`);
      assertCleanOutcome(r, args.join(' '));
    }
  });
});
