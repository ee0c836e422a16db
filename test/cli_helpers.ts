/**
 * What the command-line tests share: the built CLI's path, one way to run it, and small made-up texts to train on
 * (no third-party text in tests).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '../src/core/random.js';

/** dist/src/cli/main.js, beside this compiled file's dist/test. */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

export interface CliResult {
  /** The exit code; -1 when a signal ended the process (see `signal`). */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Standard input. */
  input?: string;
  cwd?: string;
  /** Milliseconds before the run is killed (default 120 s: a hung command fails its test, not the suite). */
  timeout?: number;
}

/**
 * Copies the model directory `from` to `to` with its model.json as TensorFlow.js would leave it: no
 * recurrent_activation (its recurrent layers then take tfjs's hardSigmoid, which the loader notes), no generatedBy
 * naming recur, and no sha256 (the topology changed; a second note: the weights are unverified). Returns `to`.
 */
export function copyAsTfjsLeftIt(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  const file = join(to, 'model.json');
  const json = JSON.parse(readFileSync(file, 'utf8'), (k: string, v: unknown) =>
    k === 'recurrent_activation' ? undefined : v,
  ) as { generatedBy?: string; userDefinedMetadata: { recur: { sha256?: unknown } } };
  delete json.generatedBy;
  delete json.userDefinedMetadata.recur.sha256;
  writeFileSync(file, JSON.stringify(json));
  return to;
}

/** The `note: …` lines of a command's stderr that say a recurrent layer took tfjs's default recurrent_activation. */
export function recurrentActivationNotes(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^note: .*model\.json: .*recurrent_activation hardSigmoid/.test(l));
}

/**
 * Asserts that `predict` (`recur TASK predict DIR INPUTS…`, DIR from copyAsTfjsLeftIt) says the model's load notes as
 * `recur predict` does: once on one thread and once on a pool of two (--batch-size 1: two batches, so two workers),
 * each naming DIR's model.json, beside the unverified-weights note, with one output line per input; -q says the same,
 * --json as `{"note": …}` lines on stderr.
 */
export function assertPredictSaysLoadNotes(
  predict: readonly string[],
  inputs: number,
  run: (args: string[]) => { code: number | null; stdout: string; stderr: string } = runCli,
): void {
  const file = join(predict[2], 'model.json');
  for (const threads of ['1', '2']) {
    const p = run([...predict, '--threads', threads, '--batch-size', '1']);
    assert.equal(p.code, 0, p.stderr);
    const notes = recurrentActivationNotes(p.stderr);
    assert.equal(notes.length, 1, `--threads ${threads}: ${p.stderr}`);
    assert.ok(notes[0].startsWith(`note: ${file}: `), notes[0]);
    assert.match(p.stderr, /^note: .*no sha256/m);
    assert.equal(p.stdout.trim().split('\n').length, inputs);
  }
  const notesOf = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('note: '));
  const plain = notesOf(run([...predict, '--threads', '1']).stderr);
  assert.ok(plain.length >= 2, plain.join('\n'));
  const quiet = run([...predict, '--threads', '1', '-q']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.deepEqual(notesOf(quiet.stderr), plain);
  const json = run([...predict, '--threads', '1', '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(
    json.stderr
      .trim()
      .split('\n')
      .map((l) => `note: ${(JSON.parse(l) as { note: string }).note}`),
    plain,
  );
}

/** Runs `recur ARGS…` to completion in a child process. */
export function runCli(args: readonly string[], opts: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    input: opts.input,
    cwd: opts.cwd,
    timeout: opts.timeout ?? 120_000,
  });
  return { code: r.status ?? -1, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The default word list of `pseudoText`. */
export const SEA_WORDS = ['the', 'sea', 'ship', 'and', 'of', 'a', 'white', 'deep', 'storm', 'night'];

/** Pseudo-English of at least `chars` characters: seeded random words, a sentence break every ten or so. */
export function pseudoText(chars: number, seed: number, words: readonly string[] = SEA_WORDS): string {
  const rng = new Random(seed);
  let s = '';
  while (s.length < chars) s += words[rng.int(words.length)] + (rng.next() < 0.1 ? '.\n' : ' ');
  return s;
}

/** The word list of the serving and browser tests' texts. */
export const WHALE_WORDS = [
  'the',
  'whale',
  'sea',
  'ship',
  'and',
  'of',
  'a',
  'captain',
  'white',
  'deep',
  'storm',
  'night',
];

/** Runs `recur ARGS…`, fails the test unless it exits 0, and returns its standard output. */
export function runCliOk(args: readonly string[], timeout = 300_000): string {
  const r = runCli(args, { timeout });
  if (r.code !== 0) throw new Error(`recur ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Review-like CSV rows (`sentence,label`) whose label follows one sentiment word among filler. */
export function reviews(n: number, seed: number): string {
  const rng = new Random(seed);
  const good = ['great', 'good', 'lovely'];
  const bad = ['awful', 'bad', 'dull'];
  const filler = ['the', 'film', 'was', 'a', 'plot', 'and', 'very', 'story'];
  const rows = ['sentence,label'];
  for (let i = 0; i < n; i++) {
    const positive = rng.next() < 0.5;
    const words = Array.from({ length: 3 + rng.int(6) }, () => filler[rng.int(filler.length)]);
    words[rng.int(words.length)] = (positive ? good : bad)[rng.int(3)];
    rows.push(`${words.join(' ')},${positive ? 'pos' : 'neg'}`);
  }
  return rows.join('\n') + '\n';
}

/** Word-for-word "translation" pairs of short phrases, as TSV lines (source<TAB>target). */
export function pairs(n: number, seed: number): string {
  const en = ['cat', 'dog', 'bird', 'fish'];
  const fr = ['chat', 'chien', 'oiseau', 'poisson'];
  const rng = new Random(seed);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = rng.int(4);
    const b = rng.int(4);
    lines.push(`the ${en[a]} and the ${en[b]}\tle ${fr[a]} et le ${fr[b]}`);
  }
  return lines.join('\n') + '\n';
}

/** Distinct made-up words spelled letter by letter (a monotone task the joint n-gram aligns). */
export function spellings(n: number, seed: number): string {
  const rng = new Random(seed);
  const sounds: Record<string, string> = { a: 'AH', b: 'B', c: 'K', d: 'D', e: 'EH', f: 'F' };
  const letters = Object.keys(sounds);
  const seen = new Set<string>();
  while (seen.size < n) {
    let w = '';
    for (let i = 3 + rng.int(3); i > 0; i--) w += letters[rng.int(letters.length)];
    seen.add(w);
  }
  return [...seen].map((w) => `${w}\t${[...w].map((c) => sounds[c]).join(' ')}`).join('\n') + '\n';
}

/**
 * The smallest trained models a CLI test needs, in `dir`: a text model (text-model/, on book.txt) and a classifier
 * (classifier/, on reviews.csv), each one quick epoch on one thread.
 */
export function trainTinyModels(dir: string): {
  textFile: string;
  csv: string;
  textModel: string;
  classifier: string;
} {
  const textFile = join(dir, 'book.txt');
  const csv = join(dir, 'reviews.csv');
  const textModel = join(dir, 'text-model');
  const classifier = join(dir, 'classifier');
  writeFileSync(textFile, pseudoText(3000, 1));
  writeFileSync(csv, reviews(120, 2));
  const quick = ['--epochs', '1', '--threads', '1', '-q'];
  runCliOk([
    'train',
    textFile,
    '--out',
    textModel,
    '--units',
    '4',
    '--maxlen',
    '5',
    '--steps-per-epoch',
    '2',
    '--no-samples',
    ...quick,
  ]);
  runCliOk(['classify', 'train', csv, '--out', classifier, '--units', '4', '--embedding-dim', '4', ...quick]);
  return { textFile, csv, textModel, classifier };
}

/** A text model small enough to train in seconds (window recipe), one thread, quiet, no samples. */
export const TINY_TEXT_MODEL: readonly string[] = [
  '--units',
  '8',
  '--batch-size',
  '16',
  '--maxlen',
  '10',
  '--threads',
  '1',
  '--no-samples',
  '-q',
];

/**
 * Paths (dotted; array levels not counted) of --json objects keyed by the data's names — class labels, forecast
 * methods ('seasonal naive', 'ets+theta+global'), regressor columns — not by recur's: their keys are left as they are.
 */
export const DATA_KEYED: readonly string[] = [
  'per_class',
  'per_label',
  'probabilities',
  'metrics',
  'failed',
  'backtest.mean',
  'backtest.skipped',
  'regressors.fits',
  'regressors.fits.*',
];

const SNAKE_CASE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/**
 * Fails unless every key recur names in `json` — a parsed --json line, or stdout's JSON lines — is snake_case, in
 * nested objects and arrays too, and so is every `event` (README, "Machine-readable output"). Objects at `dataKeyed`
 * paths are keyed by the data's names: their keys are not checked (`*` stands for one in a path), their values are.
 */
export function expectSnakeKeys(json: string | object, dataKeyed: readonly string[] = DATA_KEYED): void {
  const lines =
    typeof json === 'string'
      ? json
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as unknown)
      : [json];
  const bad: string[] = [];
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) for (const x of v) walk(x, path);
    else if (v !== null && typeof v === 'object') {
      const named = dataKeyed.includes(path);
      for (const [k, x] of Object.entries(v)) {
        const at = path === '' ? k : `${path}.${named ? '*' : k}`;
        if (!named && !SNAKE_CASE.test(k)) bad.push(`key ${path === '' ? k : `${path}.${k}`}`);
        if (path === '' && k === 'event' && (typeof x !== 'string' || !SNAKE_CASE.test(x)))
          bad.push(`event ${JSON.stringify(x)}`);
        walk(x, at);
      }
    }
  };
  for (const line of lines) walk(line, '');
  if (bad.length > 0)
    throw new Error(`--json names that are not snake_case: ${[...new Set(bad)].join(', ')}`);
}
