/**
 * `recur seq2seq` end to end on small pairs the test makes: train → eval (table and JSON) → predict (arguments, stdin,
 * beam), bad lines (exit 2 naming the line, or --skip-bad), --overwrite semantics, an interrupted run resumed to the
 * losses of an uninterrupted one, a seeded fuzz test of the pairs loaders (library and CLI), and that decoding on
 * this thread with the bar builds its steppers once, not once per run of batches.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it, mock } from 'node:test';
import { UNKNOWN_TOKENS_NAMED, outputLine, unknownTokensNote } from '../src/cli/seq2seq.js';
import { DECODE_POOL_MIN_BATCHES, predictAll } from '../src/cli/seq2seq_decoding.js';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import { DECODE_RUN_BATCHES } from '../src/inference/pool.js';
import { poolWorkers } from '../src/node/inference_pool.js';
import { parseCsvPairs } from '../src/node/seq2seq_files.js';
import { parseTsvPairs } from '../src/seq2seq/pairs.js';
import { JOINER } from '../src/seq2seq/tokenizer.js';
import { untrainedSpeller } from './helpers.js';
import { assertPredictSaysLoadNotes, copyAsTfjsLeftIt, recurrentActivationNotes } from './cli_helpers.js';

interface ModelJson {
  userDefinedMetadata: {
    settings: { sourceMode: string };
    targetTokens: string[];
    reading?: { skipBad: boolean; fingerprint?: string };
  };
}

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const root = mkdtempSync(join(tmpdir(), 'recur-s2s-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

function run(
  args: string[],
  opts: { input?: string | Buffer; env?: Record<string, string>; cwd?: string } = {},
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 180_000,
    input: opts.input,
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Word-for-word "translation" of short phrases: enough structure to learn quickly. */
function pairsText(n: number, seed: number): string {
  const en = ['cat', 'dog', 'bird', 'fish', 'tree', 'sun'];
  const fr = ['chat', 'chien', 'oiseau', 'poisson', 'arbre', 'soleil'];
  const rng = new Random(seed);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = rng.int(6);
    const b = rng.int(6);
    lines.push(`the ${en[a]} and the ${en[b]}.\tle ${fr[a]} et le ${fr[b]}.`);
  }
  return lines.join('\n') + '\n';
}

const pairs = join(root, 'pairs.tsv');
writeFileSync(pairs, pairsText(200, 1));
const small = ['--units', '12', '--embedding-dim', '8', '--batch-size', '8', '--lr', '0.01', '--seed', '3'];

/** A trained model (or ensemble) predicts greedily and with a beam, answering each source, and evaluates. */
function predictsAndEvaluates(dir: string): void {
  for (const beam of ['1', '3']) {
    const p = run([
      'seq2seq',
      'predict',
      dir,
      '--beam',
      beam,
      '--json',
      'the cat and the dog',
      'the sun and the fish',
    ]);
    assert.equal(p.code, 0, p.stderr);
    const lines = p.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { source: string; output: string });
    assert.deepEqual(
      lines.map((l) => l.source),
      ['the cat and the dog', 'the sun and the fish'],
    );
    assert.ok(lines.every((l) => typeof l.output === 'string'));
  }
  const e = run(['seq2seq', 'eval', dir, '--beam', '2', '--json']);
  assert.equal(e.code, 0, e.stderr);
  const scores = JSON.parse(e.stdout.trim().split('\n').pop()!) as { wer: number };
  assert.ok(scores.wer >= 0 && scores.wer <= 1);
}

describe('recur seq2seq', () => {
  const out = join(root, 'run');

  it('trains, evaluates and predicts', () => {
    const t = run(['seq2seq', 'train', pairs, '--out', out, '--epochs', '3', ...small, '--json']);
    assert.equal(t.code, 0, t.stderr);
    const lines = t.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number | string>);
    const epochs = lines.filter((l) => l.epoch !== undefined);
    assert.equal(epochs.length, 3);
    for (const k of ['loss', 'val_loss', 'val_wer', 'val_ter', 'target_tokens_per_sec'])
      assert.ok(k in epochs[0], k);
    assert.ok((epochs[2].loss as number) < (epochs[0].loss as number));
    const test = lines.find((l) => l.event === 'test')!;
    for (const k of ['wer', 'ter', 'bleu', 'chrf', 'n', 'seconds']) assert.ok(k in test, k);
    assert.ok(existsSync(join(out, 'model.json')) && existsSync(join(out, 'checkpoint', 'model.json')));
    assert.ok(existsSync(join(out, 'log.csv')));

    const e = run(['seq2seq', 'eval', out, pairs, '--json']);
    assert.equal(e.code, 0, e.stderr);
    const scores = JSON.parse(e.stdout) as Record<string, number>;
    assert.deepEqual(Object.keys(scores).sort(), ['bleu', 'chrf', 'n', 'seconds', 'ter', 'wer']);
    assert.ok(scores.wer >= 0 && scores.wer <= 1 && scores.n === 36); // 6 × 6 distinct sources at most
    const table = run(['seq2seq', 'eval', out, pairs, '--beam', '3', '--quiet']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /sequence error \(WER\)\s+\d+\.\d+%/);
    assert.match(table.stdout, /beam 3/);

    const p = run(['seq2seq', 'predict', out, 'the cat and the dog', 'the sun and the tree', '--json']);
    assert.equal(p.code, 0, p.stderr);
    const preds = p.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { source: string; output: string; score: number });
    assert.equal(preds.length, 2);
    assert.equal(preds[0].source, 'the cat and the dog');
    assert.equal(typeof preds[0].output, 'string');
    // Pairs default to 'wordpunct' tokens: "dog." is dog + a joined "."; outputs are written back without joiners.
    const meta = (JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as ModelJson).userDefinedMetadata;
    assert.equal(meta.settings.sourceMode, 'wordpunct');
    assert.ok(meta.targetTokens.includes(`${JOINER}.`), 'the period is a token of its own');
    assert.equal(meta.reading?.skipBad, false);
    assert.match(meta.reading?.fingerprint ?? '', /^[0-9a-f]{64}$/);
    for (const pr of preds) assert.ok(!pr.output.includes(JOINER), pr.output);
    const stdin = run(['seq2seq', 'predict', out, '--beam', '2', '--quiet'], {
      input: 'the cat and the dog\n\nthe fish and the sun\n',
    });
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.equal(stdin.stdout.split('\n').length, 4, 'three lines in, three out');
    assert.equal(stdin.stderr, '', 'no note when every token is known');

    // Words the model never saw are read as unknown and named: in each JSON line, or in one note on stderr.
    const odd = ['the quokka and the dog', 'the cat and the dog', 'a quokka ate a kiwi'];
    const j = run(['seq2seq', 'predict', out, ...odd, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const unknown = j.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { unknown?: string[] }).unknown);
    assert.deepEqual(unknown, [['quokka'], undefined, ['a', 'quokka', 'ate', 'kiwi']]);
    // Punctuation the model never saw is named as written, without the tokenizer's joiners.
    const marks = run(['seq2seq', 'predict', out, '¿the cat and the dog!', '--json']);
    assert.equal(marks.code, 0, marks.stderr);
    assert.deepEqual((JSON.parse(marks.stdout) as { unknown?: string[] }).unknown, ['¿', '!']);
    const plain = run(['seq2seq', 'predict', out, ...odd]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout.trim().split('\n').length, 3);
    assert.equal(
      plain.stderr,
      "note: 2 of 3 sources had tokens the model never saw, read as unknown: 'quokka' (2 sources), 'a', 'ate', 'kiwi'\n",
    );
  });

  it("train's banner writes its counts with thousands separators, as the other counts are", () => {
    const en = ['cat', 'dog', 'bird', 'fish', 'tree', 'sun'];
    const fr = ['chat', 'chien', 'oiseau', 'poisson', 'arbre', 'soleil'];
    const lines: string[] = [];
    // Every four-word phrase of the six words: 1,296 distinct sources.
    for (let i = 0; i < 6 ** 4; i++) {
      const words = [0, 1, 2, 3].map((k) => Math.floor(i / 6 ** k) % 6);
      lines.push(`${words.map((w) => en[w]).join(' ')}\t${words.map((w) => fr[w]).join(' ')}`);
    }
    const grid = join(root, 'grid.tsv');
    writeFileSync(grid, lines.join('\n') + '\n');
    const out = join(root, 'grid');
    const args = ['--units', '4', '--embedding-dim', '4', '--batch-size', '64', '--seed', '3'];
    const t = run(['seq2seq', 'train', grid, '--out', out, '--epochs', '1', '--threads', '1', ...args]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(
      t.stdout + t.stderr,
      /grid\.tsv: 1,296 sources \(1,166 train, 65 validation, 65 test; seed 3\), 1,166 training pairs, vocabularies 10 → 10;/,
    );
    // So are eval's table's (it printed 1296 outputs).
    const e = run(['seq2seq', 'eval', out, grid, '--threads', '1']);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /^outputs +1,296$/m);
    assert.match(e.stdout, /^decoding +greedy.* \([\d,]+ outputs\/s\)$/m);
    // --json keeps plain numbers.
    assert.equal(
      (JSON.parse(run(['seq2seq', 'eval', out, grid, '--threads', '1', '--json']).stdout) as { n: number }).n,
      1296,
    );
  });

  it('predict, eval and ngram given a file instead of the model directory say so, naming the directory to give', () => {
    const lone = join(root, 'lone');
    mkdirSync(lone, { recursive: true });
    const file = join(lone, 'model.json');
    writeFileSync(file, '{}\n');
    for (const args of [
      ['predict', file, 'the cat'],
      ['eval', file],
      ['ngram', file],
    ]) {
      const r = run(['seq2seq', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(
        r.stderr,
        `recur: ${file} is a file, not a directory; give the directory written by recur seq2seq train (for this file: ${lone})\n`,
      );
    }
    const other = run(['seq2seq', 'predict', pairs, 'the cat']);
    assert.equal(other.code, 2, other.stderr);
    assert.equal(
      other.stderr,
      `recur: ${pairs} is a file, not a directory; give the directory written by recur seq2seq train\n`,
    );
  });

  it("predict and eval say the model's load notes as recur predict does: once, on one thread or the pool; -q too, --json as JSON", () => {
    const noted = copyAsTfjsLeftIt(out, join(root, 'noted'));
    assertPredictSaysLoadNotes(
      ['seq2seq', 'predict', noted, 'the cat and the dog', 'the sun and the tree'],
      2,
      run,
    );
    const e = run(['seq2seq', 'eval', noted, pairs, '--threads', '1']);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(recurrentActivationNotes(e.stderr).length, 1, e.stderr);
    const j = run(['seq2seq', 'eval', noted, pairs, '--threads', '1', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const jsonNotes = j.stderr
      .trim()
      .split('\n')
      .map((l) => `note: ${(JSON.parse(l) as { note: string }).note}`);
    assert.equal(recurrentActivationNotes(jsonNotes.join('\n')).length, 1, j.stderr);
    // ngram loads the networks here too (their tokenizers and split), and says so.
    const n = run(['seq2seq', 'ngram', noted, '--order', '2']);
    assert.equal(n.code, 0, n.stderr);
    assert.equal(recurrentActivationNotes(n.stderr).length, 1, n.stderr);
  });

  it('predict given a pairs file (source<TAB>target lines) says so instead of decoding each whole line', () => {
    const input = 'the cat and the dog\tle chat et le chien\nthe fish and the sun\n';
    const r = run(['seq2seq', 'predict', out], { input });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^recur: stdin line 1 holds a tab, as a line of a pairs file does .*cut -f1 FILE.*recur seq2seq eval DIR FILE'; pass --skip-bad/,
    );
    assert.equal(r.stdout, '');
    const skipped = run(['seq2seq', 'predict', out, '--skip-bad', '--json'], { input });
    assert.equal(skipped.code, 0, skipped.stderr);
    const lines = skipped.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { output: string; skipped?: string });
    assert.equal(lines.length, 2);
    assert.match(lines[0].skipped ?? '', /holds a tab/);
    assert.equal(lines[0].output, '');
    assert.ok(lines[1].output.length > 0 && lines[1].skipped === undefined);
    // --help says what --skip-bad skips: every source predict refuses, not only an over-long one.
    assert.match(
      run(['seq2seq', 'predict', '--help']).stdout.replace(/\s+/g, ' '),
      /--skip-bad .*over its --max-source-length, with a word of more than 100 characters, or holding a tab/,
    );
  });

  it('predict answers stdin line for line: a blank line gives an empty output, not a decoded one', () => {
    const given = ['the cat and the dog', 'the fish and the sun'];
    const args = run(['seq2seq', 'predict', out, ...given, '--json']);
    assert.equal(args.code, 0, args.stderr);
    const [cat, fish] = args.stdout.trim().split('\n');
    // CRLF line ends, an empty and a whitespace-only line, and no line end after the last line.
    const input = `\r\n${given[0]}\r\n \t\n\n${given[1]}`;
    const json = run(['seq2seq', 'predict', out, '--json'], { input });
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(json.stdout.split('\n'), [
      '{"source":"","output":"","blank":true}',
      cat,
      '{"source":" \\t","output":"","blank":true}',
      '{"source":"","output":"","blank":true}',
      fish,
      '',
    ]);
    const plain = run(['seq2seq', 'predict', out, '--quiet'], { input });
    assert.equal(plain.code, 0, plain.stderr);
    const outputs = args.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { output: string }).output);
    assert.deepEqual(plain.stdout.split('\n'), ['', outputs[0], '', '', outputs[1], '']);
    // Only blank lines: as many empty lines, nothing decoded (no input at all is refused: cli_consistency.test.ts).
    assert.deepEqual(run(['seq2seq', 'predict', out], { input: '\n  \n' }), {
      code: 0,
      stdout: '\n\n',
      stderr: '',
    });
  });

  it('predict keeps line for line when an output has a line break: plain output writes it as \\n, --json as it is', () => {
    // A character-level model of CSV targets with a line break inside (quoted), which it learns to write.
    const csv = join(root, 'multiline.csv');
    const rows = Array.from({ length: 60 }, (_, i) => `w${i},"ab\ncd"`);
    writeFileSync(csv, ['source,target', ...rows].join('\n') + '\n');
    const dir = join(root, 'multiline');
    const chars = ['--source-tokens', 'chars', '--target-tokens', 'chars'];
    const fast = ['--units', '8', '--embedding-dim', '4', '--epochs', '8', '--lr', '0.05', '--dropout', '0'];
    const trained = run(['seq2seq', 'train', csv, '--out', dir, ...chars, ...fast, '--threads', '1', '-q']);
    assert.equal(trained.code, 0, trained.stderr);
    const json = run(['seq2seq', 'predict', dir, '--json'], { input: 'w1\nw2\n' });
    assert.equal(json.code, 0, json.stderr);
    const outputs = json.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { output: string }).output);
    assert.deepEqual(outputs, ['ab\ncd', 'ab\ncd']);
    const plain = run(['seq2seq', 'predict', dir, '-q'], { input: 'w1\n\nw2\n' });
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(plain.stdout.split('\n'), ['ab\\ncd', '', 'ab\\ncd', '']);
    assert.equal(outputLine('a\r\nb\rc\nd'), 'a\\nb\\rc\\nd');
    // A character-level target is text: eval scores BLEU and chrF by default, as its --help says.
    const scores = JSON.parse(run(['seq2seq', 'eval', dir, '--json', '--threads', '1']).stdout) as object;
    assert.ok('bleu' in scores && 'chrf' in scores);
    assert.match(
      run(['seq2seq', 'eval', '--help']).stdout.replace(/\s+/g, ' '),
      /BLEU and chrF for word or character targets, or with --bleu/,
    );
    // Training trimmed every side: a typed source's outer spaces are not decoded as unknown characters.
    const spaced = run(['seq2seq', 'predict', dir, '--json', ' w1 \t'], {});
    assert.equal(spaced.code, 0, spaced.stderr);
    const p = JSON.parse(spaced.stdout) as { source: string; score: number; unknown?: string[] };
    assert.equal(p.source, ' w1 \t');
    assert.equal(p.unknown, undefined);
    const bare = JSON.parse(run(['seq2seq', 'predict', dir, '--json', 'w1']).stdout) as { score: number };
    assert.equal(p.score, bare.score);
  });

  it('--length-penalty with greedy decoding, where it changes nothing, is bad usage; with a beam it is taken', () => {
    for (const args of [
      ['predict', out, 'the cat and the dog', '--length-penalty', '1.5'],
      ['eval', out, pairs, '--length-penalty', '1.5', '--limit', '3'],
    ]) {
      const r = run(['seq2seq', ...args, '--threads', '1']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        /^recur: --length-penalty ranks beam search's outputs, and --beam 1 decodes greedily/,
      );
    }
    const beam = run([
      'seq2seq',
      'predict',
      out,
      'the cat and the dog',
      '--beam',
      '2',
      '--length-penalty',
      '1.5',
    ]);
    assert.equal(beam.code, 0, beam.stderr);
  });

  it('predict reads stdin as UTF-8: a BOM is dropped, a bad byte is bad input naming it', () => {
    const bom = run(['seq2seq', 'predict', out, '--json'], { input: '\ufeffthe cat and the dog\n' });
    assert.equal(bom.code, 0, bom.stderr);
    const p = JSON.parse(bom.stdout) as { source: string; unknown?: string[] };
    assert.equal(p.source, 'the cat and the dog');
    assert.equal(p.unknown, undefined);
    const latin1 = run(['seq2seq', 'predict', out, '--json'], {
      input: Buffer.from('the dog\nthe caf\xe9\n', 'latin1'),
    });
    assert.equal(latin1.code, 2);
    assert.equal(latin1.stdout, '');
    assert.equal(
      latin1.stderr,
      'recur: stdin is not valid UTF-8 (byte 0xe9 at offset 15, line 2); convert it to UTF-8 first\n',
    );
    const binary = run(['seq2seq', 'predict', out], { input: Buffer.from([0x61, 0, 0x62]) });
    assert.equal(binary.code, 2);
    assert.match(binary.stderr, /^recur: stdin looks binary \(a NUL byte at offset 1\)/);
  });

  it('predict refuses an empty or blank source argument, naming it', () => {
    for (const [args, message] of [
      [[''], 'source 1 is empty'],
      [['the cat', ' \t '], 'source 2 is blank (only whitespace or invisible characters)'],
      [['the cat', '\u200B\u2060\uFEFF'], 'source 2 is blank (only whitespace or invisible characters)'],
    ] as const) {
      const r = run(['seq2seq', 'predict', out, ...args]);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `recur: ${message}; give a text to decode\n`);
    }
  });

  it("predict's note names the most frequent unknown tokens first, and counts the rest", () => {
    const counts = new Map<string, number>([['rare', 1]]);
    for (let i = 0; i < UNKNOWN_TOKENS_NAMED + 5; i++) counts.set(`w${i}`, i === 3 ? 9 : 2);
    const note = unknownTokensNote(counts, 40, 100);
    assert.match(note, /^40 of 100 sources had tokens .*: 'w3' \(9 sources\), 'w0' \(2 sources\), 'w1'/);
    assert.equal(note.match(/'w\d+'/g)!.length, UNKNOWN_TOKENS_NAMED);
    assert.match(note, /, and 6 more \(--json names each source's\)$/);
    assert.doesNotMatch(note, /'rare'/);
    // Large counts with thousands separators, as the other human-readable counts are.
    const many = unknownTokensNote(new Map([['quokka', 1500]]), 1500, 12000);
    assert.equal(
      many,
      "1,500 of 12,000 sources had tokens the model never saw, read as unknown: 'quokka' (1,500 sources)",
    );
  });

  it('refuses to overwrite a model unless told, and then deletes only its own files', () => {
    const again = run(['seq2seq', 'train', pairs, '--out', out, '--epochs', '1', ...small, '--quiet']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already holds a model; pass --resume .* --overwrite/);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const over = run([
      'seq2seq',
      'train',
      pairs,
      '--out',
      out,
      '--epochs',
      '1',
      ...small,
      '--quiet',
      '--overwrite',
    ]);
    assert.equal(over.code, 0, over.stderr);
    assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine');
  });

  it('names the bad line, or skips bad lines with a count', () => {
    const bad = join(root, 'bad.tsv');
    writeFileSync(bad, pairsText(20, 2) + 'no tab on this line\n' + pairsText(5, 3));
    const r = run(['seq2seq', 'train', bad, '--out', join(root, 'bad-run'), ...small, '--epochs', '1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.tsv: line 21: expected source<TAB>target, found no tab/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    // Too few sources for a validation and a test split: named, before any run directory is made.
    const few = join(root, 'few.tsv');
    writeFileSync(few, 'a\tA\nb\tB\nc\tC\nd\tD\n');
    const f = run(['seq2seq', 'train', few, '--out', join(root, 'few-run'), ...small, '--epochs', '1']);
    assert.equal(f.code, 2);
    assert.match(f.stderr, /few\.tsv: need at least 10 distinct sources .*got 4/);
    assert.ok(!existsSync(join(root, 'few-run', 'model.json')));
    const s = run([
      'seq2seq',
      'train',
      bad,
      '--out',
      join(root, 'bad-run'),
      ...small,
      '--epochs',
      '1',
      '--skip-bad',
      '--json',
    ]);
    assert.equal(s.code, 0, s.stderr);
    const skipped = s.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event?: string; count?: number })
      .find((l) => l.event === 'skipped');
    assert.equal(skipped?.count, 1);
    // The held-out split is drawn from the file as training read it: --skip-bad need not be repeated.
    const heldOut = run(['seq2seq', 'eval', join(root, 'bad-run'), '--json', '--quiet']);
    assert.equal(heldOut.code, 0, heldOut.stderr);
    const heldOutScores = JSON.parse(heldOut.stdout) as { n: number; skipped?: unknown };
    assert.ok(heldOutScores.n >= 1);
    // eval's one JSON object carries what train's {"event":"skipped"} line says.
    const skippedLine = { count: 1, first: { line: 21, reason: 'expected source<TAB>target, found no tab' } };
    assert.deepEqual(heldOutScores.skipped, skippedLine);
    const scored = run(['seq2seq', 'eval', join(root, 'bad-run'), bad, '--skip-bad', '--json']);
    assert.equal(scored.code, 0, scored.stderr);
    assert.deepEqual((JSON.parse(scored.stdout) as { skipped?: unknown }).skipped, skippedLine);
    assert.equal(scored.stderr, '');
    const table = run(['seq2seq', 'eval', join(root, 'bad-run'), bad, '--skip-bad']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stderr, /Skipped 1 bad line\(s\) of .*bad\.tsv \(first: line 21, /);
    // Nothing skipped: no field.
    const clean = run(['seq2seq', 'eval', join(root, 'bad-run'), pairs, '--skip-bad', '--json']);
    assert.equal(clean.code, 0, clean.stderr);
    assert.ok(!('skipped' in (JSON.parse(clean.stdout) as object)));
    // --split picks the model's own held-out split: with PAIRS it would be ignored, so it is refused.
    for (const split of ['validation', 'test']) {
      const r = run(['seq2seq', 'eval', join(root, 'bad-run'), bad, '--skip-bad', '--split', split]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^recur: --split applies to eval DIR without PAIRS .*leave --split out\n$/);
    }
    const validation = run(['seq2seq', 'eval', join(root, 'bad-run'), '--split', 'validation', '--json']);
    assert.equal(validation.code, 0, validation.stderr);
    const long = join(root, 'long.tsv');
    writeFileSync(long, pairsText(10, 4) + `${'x '.repeat(80)}\ty\n`);
    const l = run(['seq2seq', 'train', long, '--out', join(root, 'long-run'), ...small]);
    assert.equal(l.code, 2);
    assert.match(l.stderr, /line 11: the source has 80 words, more than the limit of 60/);
    const missing = run(['seq2seq', 'eval', join(root, 'nope')]);
    assert.equal(missing.code, 2);
  });

  it('eval DIR finds its pairs file from anywhere, and refuses one that changed since training', () => {
    // Trained from the file's own directory with a relative path; evaluated from elsewhere.
    const home = join(root, 'moving');
    mkdirSync(home);
    writeFileSync(join(home, 'p.tsv'), pairsText(120, 5));
    const dir = join(root, 'moving-run');
    const t = run(['seq2seq', 'train', 'p.tsv', '--out', dir, '--epochs', '1', ...small, '--quiet'], {
      cwd: home,
    });
    assert.equal(t.code, 0, t.stderr);
    const before = run(['seq2seq', 'eval', dir, '--json'], { cwd: tmpdir() });
    assert.equal(before.code, 0, before.stderr);
    // The same name, other pairs: the held-out split would be another one.
    writeFileSync(join(home, 'p.tsv'), pairsText(120, 6));
    for (const args of [
      ['seq2seq', 'eval', dir],
      ['seq2seq', 'ngram', dir],
      ['export', 'pytorch', dir, join(root, 'moving-export')],
    ]) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /p\.tsv is not the data the model was trained on/);
    }
    assert.ok(!existsSync(join(root, 'moving-export')));
  });

  const losses = (dir: string): string[] => {
    const [head, ...rows] = readFileSync(join(dir, 'log.csv'), 'utf8').trim().split('\n');
    const cols = head.split(',');
    return rows.map((r) =>
      ['loss', 'val_loss', 'val_wer'].map((k) => r.split(',')[cols.indexOf(k)]).join(','),
    );
  };

  for (const threads of ['1', '2']) {
    it(`an interrupted run resumed gives the losses of an uninterrupted one (--threads ${threads})`, () => {
      const whole = join(root, `whole-${threads}`);
      const parted = join(root, `parted-${threads}`);
      // 32 training sources in batches of 8: the interruption after 6 batches falls in the second epoch.
      const args = ['--epochs', '2', ...small, '--threads', threads, '--quiet'];
      assert.equal(run(['seq2seq', 'train', pairs, '--out', whole, ...args]).code, 0);
      const stopped = run(['seq2seq', 'train', pairs, '--out', parted, ...args], {
        env: { RECUR_TEST_INTERRUPT_AFTER: '6' },
      });
      assert.equal(stopped.code, 130, stopped.stderr);
      const resumed = run(['seq2seq', 'train', pairs, '--out', parted, ...args, '--resume']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.deepEqual(losses(parted), losses(whole));
      // The whole log, its columns included (no timing column comes back from the checkpoint's history).
      const log = (d: string): string => readFileSync(join(d, 'log.csv'), 'utf8');
      assert.equal(log(parted), log(whole));
    });
  }

  it('--threads 2 trains to the losses of --threads 1 (up to float summation order)', () => {
    const [one, two] = ['1', '2'].map((t) => losses(join(root, `whole-${t}`)));
    assert.equal(one.length, 2);
    one.forEach((row, e) => {
      const a = row.split(',').map(Number);
      const b = two[e].split(',').map(Number);
      assert.ok(Math.abs(a[0] - b[0]) < 1e-4, `epoch ${e + 1} loss: ${a[0]} vs ${b[0]}`);
      assert.ok(Math.abs(a[1] - b[1]) < 1e-4, `epoch ${e + 1} val_loss: ${a[1]} vs ${b[1]}`);
    });
  });

  it('the regularisation flags reach the model file, and a run using them resumes exactly', () => {
    const reg = [
      ...['--embedding-dropout', '0.2', '--encoder-dropout', '0.2', '--recurrent-dropout', '0.1'],
      ...['--label-smoothing', '0.1', '--dropout', '0.3'],
    ];
    const args = ['--epochs', '2', ...small, ...reg, '--quiet'];
    const whole = join(root, 'reg-whole');
    const parted = join(root, 'reg-parted');
    assert.equal(run(['seq2seq', 'train', pairs, '--out', whole, ...args]).code, 0);
    const json = JSON.parse(readFileSync(join(whole, 'model.json'), 'utf8')) as {
      userDefinedMetadata: {
        settings: Record<string, number>;
        recur: { compile: { labelSmoothing: number } };
      };
    };
    const s = json.userDefinedMetadata.settings;
    assert.deepEqual(
      [s.embeddingDropout, s.encoderDropout, s.recurrentDropout, s.labelSmoothing, s.dropout],
      [0.2, 0.2, 0.1, 0.1, 0.3],
    );
    assert.equal(json.userDefinedMetadata.recur.compile.labelSmoothing, 0.1);
    // Different losses from the unregularised run of the same data and seed.
    assert.notDeepEqual(losses(whole), losses(join(root, 'whole-1')));
    const stopped = run(['seq2seq', 'train', pairs, '--out', parted, ...args], {
      env: { RECUR_TEST_INTERRUPT_AFTER: '6' },
    });
    assert.equal(stopped.code, 130, stopped.stderr);
    const resumed = run(['seq2seq', 'train', pairs, '--out', parted, ...args, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(losses(parted), losses(whole));
  });

  it('a regularisation flag out of range is bad usage naming the flag', () => {
    for (const [flag, value] of [
      ['--label-smoothing', '0.6'],
      ['--recurrent-dropout', '1'],
      ['--embedding-dropout', '-0.1'],
      ['--encoder-dropout', 'x'],
    ]) {
      const r = run(['seq2seq', 'train', pairs, '--out', join(root, 'bad-reg'), flag, value, '--quiet']);
      assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(flag));
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  it('--post-attention puts an RNN after the attention; the model predicts greedily and with a beam', () => {
    const dir = join(root, 'post-attention');
    const t = run([
      'seq2seq',
      'train',
      pairs,
      '--out',
      dir,
      '--epochs',
      '2',
      ...small,
      '--post-attention',
      '10',
      '--quiet',
    ]);
    assert.equal(t.code, 0, t.stderr);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
      modelTopology: { config: { layers: { name: string; config: { units?: number } }[] } };
      userDefinedMetadata: { settings: { postAttentionUnits: number | null } };
    };
    assert.equal(json.userDefinedMetadata.settings.postAttentionUnits, 10);
    const layer = json.modelTopology.config.layers.find((l) => l.name === 'post_attention_lstm');
    assert.equal(layer?.config.units, 10);
    assert.ok(!json.modelTopology.config.layers.some((l) => l.name === 'attentional'));
    predictsAndEvaluates(dir);
  });

  it('--input-feeding trains an AttentionDecoder; greedy, beam and agreement decoding of both target orders', () => {
    const dir = join(root, 'input-feeding');
    const t = run([
      'seq2seq',
      'train',
      pairs,
      '--out',
      dir,
      '--epochs',
      '2',
      ...small,
      '--input-feeding',
      '--ensemble',
      '2',
      '--target-order',
      'both',
      '--quiet',
    ]);
    assert.equal(t.code, 0, t.stderr);
    for (const [member, order] of [
      ['1', 'forward'],
      ['2', 'reversed'],
    ]) {
      const json = JSON.parse(readFileSync(join(dir, 'members', member, 'model.json'), 'utf8')) as {
        modelTopology: { config: { layers: { name: string; class_name: string }[] } };
        userDefinedMetadata: { settings: { inputFeeding: boolean; targetOrder: string } };
      };
      assert.equal(json.userDefinedMetadata.settings.inputFeeding, true);
      assert.equal(json.userDefinedMetadata.settings.targetOrder, order);
      const layers = json.modelTopology.config.layers;
      assert.equal(layers.find((l) => l.name === 'attention_decoder')?.class_name, 'AttentionDecoder');
      assert.ok(!layers.some((l) => l.name === 'attentional' || l.name === 'decoder_lstm'));
    }
    // The ensemble decodes by agreement; a member alone decodes greedily and with a beam.
    for (const model of [dir, join(dir, 'members', '1'), join(dir, 'members', '2')])
      predictsAndEvaluates(model);
  });

  it('--input-feeding without attention, or with --post-attention, is bad usage naming the flags', () => {
    for (const [extra, other] of [
      [['--attention', 'none'], /--attention luong or bahdanau/],
      [['--post-attention', '8'], /--post-attention/],
    ] as const) {
      const r = run([
        'seq2seq',
        'train',
        pairs,
        '--out',
        join(root, 'bad-feeding'),
        '--input-feeding',
        ...extra,
        '--quiet',
      ]);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /--input-feeding/);
      assert.match(r.stderr, other);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  it('a bad --post-attention, or one without attention, is bad usage naming the flag', () => {
    for (const extra of [
      ['--post-attention', '0'],
      ['--post-attention', 'x'],
      ['--post-attention', '8', '--attention', 'none'],
    ]) {
      const r = run(['seq2seq', 'train', pairs, '--out', join(root, 'bad-post'), ...extra, '--quiet']);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /--post-attention/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  /** The log.csv columns of a run, one array of numbers per column asked for. */
  const columns = (dir: string, keys: string[]): number[][] => {
    const [head, ...rows] = readFileSync(join(dir, 'log.csv'), 'utf8').trim().split('\n');
    const cols = head.split(',');
    return keys.map((k) => {
      assert.ok(cols.includes(k), `${dir}/log.csv has no ${k} column`);
      return rows.map((r) => Number(r.split(',')[cols.indexOf(k)]));
    });
  };
  /**
   * The learning rate of every epoch that ReduceLROnPlateau (mode min, minDelta 1e-4, floor 1e-5) gives from the
   * monitored values: the rule stated independently of the callback's code, to check the logged lr column against.
   */
  const expectedRates = (monitored: number[], lr: number, patience: number, factor: number): number[] => {
    const rates: number[] = [];
    let best = Infinity;
    let wait = 0;
    for (const v of monitored) {
      rates.push(lr);
      if (v < best - 1e-4) {
        best = v;
        wait = 0;
      } else if (++wait >= patience && lr > 1e-5) {
        lr = Math.max(lr * factor, 1e-5);
        wait = 0;
      }
    }
    return rates;
  };
  // A model too small to get a held-out sequence exactly right in a few epochs: val_wer stays at 1 (a plateau)
  // while val_loss keeps falling — the case where only a val_wer monitor cuts.
  const plateau = [
    '--units',
    '4',
    '--embedding-dim',
    '4',
    '--batch-size',
    '8',
    '--seed',
    '3',
    '--epochs',
    '4',
  ];

  it('--lr-monitor val_wer cuts the learning rate when val_wer plateaus; val_loss does not', () => {
    const byWer = join(root, 'lr-wer');
    const byLoss = join(root, 'lr-loss');
    const schedule = ['--lr-patience', '2', '--lr-factor', '0.25'];
    const w = run([
      'seq2seq',
      'train',
      pairs,
      '--out',
      byWer,
      ...plateau,
      ...schedule,
      '--lr-monitor',
      'val_wer',
    ]);
    assert.equal(w.code, 0, w.stderr);
    const l = run(['seq2seq', 'train', pairs, '--out', byLoss, ...plateau, ...schedule, '--quiet']);
    assert.equal(l.code, 0, l.stderr);
    const [werW, lrW] = columns(byWer, ['val_wer', 'lr']);
    const [lossL, lrL] = columns(byLoss, ['val_loss', 'lr']);
    // The data this test needs: a flat val_wer, a falling val_loss.
    assert.deepEqual(werW, [1, 1, 1, 1]);
    for (let e = 1; e < lossL.length; e++) assert.ok(lossL[e] < lossL[e - 1] - 1e-4, `val_loss ${lossL}`);
    assert.deepEqual(lrW, expectedRates(werW, 0.002, 2, 0.25));
    assert.deepEqual(lrW, [0.002, 0.002, 0.002, 0.0005]); // the cut after epoch 3 (patience 2)
    assert.deepEqual(lrL, [0.002, 0.002, 0.002, 0.002]);
    assert.match(
      w.stderr,
      /Epoch 3: ReduceLROnPlateau \(val_wer\) reducing learning rate from 0\.00200 to 0\.000500/,
    );
    const settings = (dir: string): Record<string, unknown> =>
      (
        JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
          userDefinedMetadata: { settings: Record<string, unknown> };
        }
      ).userDefinedMetadata.settings;
    const sw = settings(byWer);
    assert.deepEqual([sw.lrMonitor, sw.lrPatience, sw.lrFactor], ['val_wer', 2, 0.25]);
    // The default schedule, as stored for a run given no schedule flag.
    const sd = settings(join(root, 'whole-1'));
    assert.deepEqual([sd.lrMonitor, sd.lrPatience, sd.lrFactor], ['val_loss', 1, 0.5]);
  });

  it('a run monitoring val_wer, interrupted before its cut and resumed, cuts and trains as the whole run', () => {
    const whole = join(root, 'lr-wer');
    const parted = join(root, 'lr-wer-parted');
    const args = [
      ...plateau,
      '--lr-patience',
      '2',
      '--lr-factor',
      '0.25',
      '--lr-monitor',
      'val_wer',
      '--quiet',
    ];
    // 4 batches an epoch: stopped in epoch 3, after epoch 2 left the schedule waiting one epoch for its cut.
    const stopped = run(['seq2seq', 'train', pairs, '--out', parted, ...args], {
      env: { RECUR_TEST_INTERRUPT_AFTER: '10' },
    });
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.equal(columns(parted, ['lr'])[0].length, 2);
    // The checkpoint keeps the model, the schedule and the target order: resuming needs no flag, the same flags are
    // fine (plateau's are given again below), and a different one is bad usage.
    for (const [flag, value, message] of [
      ['--lr-monitor', 'val_loss', /--lr-monitor val_loss with --resume: the checkpoint's run uses val_wer/],
      ['--units', '8', /--units 8 with --resume: the checkpoint's run uses 4; leave the flag out/],
      ['--cell', 'gru', /--cell gru with --resume: the checkpoint's run uses lstm/],
      ['--label-smoothing', '0.2', /--label-smoothing 0.2 with --resume: the checkpoint's run uses 0/],
      [
        '--target-order',
        'reversed',
        /--target-order reversed with --resume: the checkpoint's decoder writes its target forward/,
      ],
    ] as const) {
      const other = run(['seq2seq', 'train', pairs, '--out', parted, ...plateau, '--resume', flag, value]);
      assert.equal(other.code, 2, other.stderr);
      assert.match(other.stderr, message);
      assert.doesNotMatch(other.stderr, /\n\s+at /);
    }
    const resumed = run(['seq2seq', 'train', pairs, '--out', parted, ...plateau, '--quiet', '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const keys = ['loss', 'val_loss', 'val_wer', 'lr'];
    assert.deepEqual(columns(parted, keys), columns(whole, keys));
    assert.deepEqual(columns(parted, ['lr'])[0], [0.002, 0.002, 0.002, 0.0005]);
  });

  /** The weights of a model directory, by name (model.json's manifest over its .bin). */
  const weightsOf = (dir: string): Map<string, Float32Array> => {
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
      weightsManifest: { paths: string[]; weights: { name: string; shape: number[] }[] }[];
    };
    const out = new Map<string, Float32Array>();
    for (const group of json.weightsManifest) {
      const buf = Buffer.concat(group.paths.map((p) => readFileSync(join(dir, p))));
      let at = 0;
      for (const w of group.weights) {
        const n = w.shape.reduce((a, b) => a * b, 1);
        out.set(w.name, new Float32Array(buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + 4 * n)));
        at += 4 * n;
      }
    }
    return out;
  };

  // 32 training sources in batches of 8: 4 steps an epoch, 12 over the 3 epochs the cosine anneals over.
  const averaged = [...small, '--epochs', '3', '--lr-schedule', 'cosine', '--ema', '0.9', '--quiet'];

  it('--lr-schedule cosine anneals by the step over --epochs; --ema validates the averaged weights', () => {
    const dir = join(root, 'cosine-ema');
    const r = run(['seq2seq', 'train', pairs, '--out', dir, ...averaged]);
    assert.equal(r.code, 0, r.stderr);
    const [lr] = columns(dir, ['lr']);
    // The logged rate is the last step's of each epoch: steps 3, 7 and 11 of 12, from --lr 0.01.
    const cosine = (step: number): number => 0.01 * 0.5 * (1 + Math.cos((Math.PI * step) / 12));
    lr.forEach((x, e) => assert.ok(Math.abs(x - cosine(4 * e + 3)) < 1e-12, `epoch ${e + 1}: ${x}`));
    const meta = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
      userDefinedMetadata: { settings: Record<string, unknown> };
    };
    const s = meta.userDefinedMetadata.settings;
    assert.deepEqual([s.lrSchedule, s.lrDecayEpochs, s.ema], ['cosine', 3, 0.9]);
    // The checkpoint keeps the raw weights and their average, an optimizer slot.
    const ckpt = weightsOf(join(dir, 'checkpoint'));
    assert.ok(ckpt.has('optimizer/next_token/kernel/ema'), [...ckpt.keys()].join(', '));
    // Without --ema, the same run's epochs validate the raw weights: other validation figures.
    const rawDir = join(root, 'cosine-raw');
    const noAvg = averaged.filter((a, i) => a !== '--ema' && averaged[i - 1] !== '--ema');
    assert.equal(run(['seq2seq', 'train', pairs, '--out', rawDir, ...noAvg]).code, 0);
    assert.deepEqual(columns(rawDir, ['loss', 'lr']), columns(dir, ['loss', 'lr'])); // training is the same
    assert.notDeepEqual(columns(rawDir, ['val_loss']), columns(dir, ['val_loss']));
  });

  for (const stop of ['RECUR_TEST_INTERRUPT_AFTER', 'RECUR_TEST_KILL_AFTER'])
    it(`a cosine run with --ema stopped mid-epoch (${stop}) resumes exactly`, () => {
      const whole = join(root, 'cosine-ema');
      const parted = join(root, `cosine-ema-${stop}`);
      // After 6 steps: mid epoch 2 (Ctrl-C saves there; kill -9 resumes from the end of epoch 1).
      const stopped = run(['seq2seq', 'train', pairs, '--out', parted, ...averaged], {
        env: { [stop]: '6' },
      });
      assert.notEqual(stopped.code, 0, stopped.stderr);
      if (stop === 'RECUR_TEST_KILL_AFTER') {
        // Killed in epoch 2: the files are epoch 1's. Its best model is the average, which the checkpoint keeps
        // beside the raw weights it trains on.
        const best = weightsOf(parted);
        const ckpt = weightsOf(join(parted, 'checkpoint'));
        const name = 'next_token/kernel';
        assert.deepEqual(best.get(name), ckpt.get(`optimizer/${name}/ema`));
        assert.notDeepEqual(best.get(name), ckpt.get(name));
      }
      // The schedule and the average are the checkpoint's: a different one is bad usage.
      for (const [flag, value, saved] of [
        ['--ema', '0.99', '0.9'],
        ['--lr-schedule', 'plateau', 'cosine'],
      ]) {
        const other = run(['seq2seq', 'train', pairs, '--out', parted, '--resume', flag, value, '--quiet']);
        assert.equal(other.code, 2, other.stderr);
        assert.match(
          other.stderr,
          new RegExp(`${flag} ${value} with --resume: the checkpoint's run uses ${saved}`),
        );
      }
      const resumed = run(['seq2seq', 'train', pairs, '--out', parted, ...averaged, '--resume']);
      assert.equal(resumed.code, 0, resumed.stderr);
      const keys = ['loss', 'val_loss', 'val_wer', 'lr'];
      assert.deepEqual(columns(parted, keys), columns(whole, keys));
      assert.deepEqual(weightsOf(parted), weightsOf(whole));
      assert.deepEqual(weightsOf(join(parted, 'checkpoint')), weightsOf(join(whole, 'checkpoint')));
    });

  // The 36 distinct sources split 32 / 2 / 2: a refit trains on 34, 5 steps of 8 an epoch (4 without validation).
  const refit = [...small, '--epochs', '3', '--lr-schedule', 'cosine', '--train-on-validation', '--quiet'];

  it('--train-on-validation: a final refit trains on the validation split too, validates nothing and keeps the last epoch', () => {
    const dir = join(root, 'refit');
    const r = run([
      'seq2seq',
      'train',
      pairs,
      '--out',
      dir,
      ...refit.filter((a) => a !== '--quiet'),
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const cols = readFileSync(join(dir, 'log.csv'), 'utf8').split('\n')[0].split(',');
    assert.deepEqual(cols, ['epoch', 'acc', 'loss', 'lr']);
    // The cosine's rates at the end of each epoch count the steps: 5 an epoch, so the validation pairs were trained on.
    const [lr] = columns(dir, ['lr']);
    const cosine = (step: number): number => 0.01 * 0.5 * (1 + Math.cos((Math.PI * step) / 15));
    lr.forEach((x, e) => assert.ok(Math.abs(x - cosine(5 * e + 4)) < 1e-12, `epoch ${e + 1}: ${x}`));
    // Every epoch is saved: the model is the last epoch's weights, which the end-of-run checkpoint also holds.
    const model = weightsOf(dir);
    const ckpt = weightsOf(join(dir, 'checkpoint'));
    for (const [name, w] of model) assert.deepEqual(w, ckpt.get(name), name);
    const meta = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
      userDefinedMetadata: { settings: Record<string, unknown> };
    };
    assert.equal(meta.userDefinedMetadata.settings.trainOnValidation, true);
    // The test split is still held out and scored; the validation split is not there to evaluate on.
    assert.ok(r.stdout.split('\n').some((l) => l.includes('"event":"test"')));
    assert.equal(run(['seq2seq', 'eval', dir, pairs, '--json']).code, 0);
    const onVal = run(['seq2seq', 'eval', dir, '--split', 'validation']);
    assert.equal(onVal.code, 2, onVal.stderr);
    assert.match(
      onVal.stderr,
      /was trained on its validation split too \(--train-on-validation\): evaluate it on the test split/,
    );
  });

  it('--train-on-validation killed mid-epoch (kill -9) resumes exactly', () => {
    const whole = join(root, 'refit');
    const parted = join(root, 'refit-killed');
    const stopped = run(['seq2seq', 'train', pairs, '--out', parted, ...refit], {
      env: { RECUR_TEST_KILL_AFTER: '7' },
    });
    assert.notEqual(stopped.code, 0, stopped.stderr);
    const resumed = run(['seq2seq', 'train', pairs, '--out', parted, '--resume', '--quiet']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(columns(parted, ['loss', 'lr']), columns(whole, ['loss', 'lr']));
    assert.deepEqual(weightsOf(parted), weightsOf(whole));
  });

  it('--train-on-validation without the cosine schedule, with --val-words, or added on resume is bad usage', () => {
    for (const [args, expected] of [
      [
        ['--train-on-validation'],
        /--train-on-validation leaves no validation words to cut the learning rate on: give --lr-schedule cosine/,
      ],
      [
        ['--train-on-validation', '--lr-schedule', 'cosine', '--val-words', '5'],
        /--val-words has nothing to decode with --train-on-validation/,
      ],
    ] as const) {
      const r = run(['seq2seq', 'train', pairs, '--out', join(root, 'bad-refit'), ...args, '--quiet']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, expected);
      assert.ok(!existsSync(join(root, 'bad-refit', 'model.json')));
    }
    // A run that validated cannot turn into a refit half way.
    const plain = join(root, 'cosine-raw');
    const r = run([
      'seq2seq',
      'train',
      pairs,
      '--out',
      plain,
      '--resume',
      '--train-on-validation',
      '--quiet',
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /--train-on-validation with --resume: the checkpoint's run was started without it/,
    );
  });

  it('plateau-only flags with the cosine schedule, or a bad --ema or --lr-schedule, are bad usage', () => {
    for (const [args, expected] of [
      [['--lr-schedule', 'cosine', '--lr-patience', '2'], /--lr-patience applies to --lr-schedule plateau/],
      [
        ['--lr-schedule', 'cosine', '--lr-monitor', 'val_wer'],
        /--lr-monitor applies to --lr-schedule plateau/,
      ],
      [['--lr-schedule', 'step'], /--lr-schedule must be plateau or cosine, got 'step'/],
      [['--ema', '1'], /--ema must be a number above 0 and below 1, got '1'/],
      [['--ema', '0'], /--ema must be a number above 0 and below 1, got '0'/],
      [['--ema', 'x'], /--ema must be a number above 0 and below 1, got 'x'/],
    ] as const) {
      const r = run(['seq2seq', 'train', pairs, '--out', join(root, 'bad-sched'), ...args, '--quiet']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, expected);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.ok(!existsSync(join(root, 'bad-sched', 'model.json')));
    }
  });

  it('a bad --lr-monitor, --lr-patience or --lr-factor is bad usage naming the flag and what it takes', () => {
    for (const [flag, value, expected] of [
      ['--lr-monitor', 'val_acc', /--lr-monitor must be val_loss or val_wer, got 'val_acc'/],
      ['--lr-patience', '0', /--lr-patience must be/],
      ['--lr-patience', '1.5', /--lr-patience must be/],
      ['--lr-factor', '0', /--lr-factor must be a number above 0 and below 1, got '0'/],
      ['--lr-factor', '1', /--lr-factor must be a number above 0 and below 1, got '1'/],
      ['--lr-factor', '-0.5', /--lr-factor must be a number above 0 and below 1/],
      ['--lr-factor', 'half', /--lr-factor must be a number above 0 and below 1, got 'half'/],
    ] as const) {
      const r = run(['seq2seq', 'train', pairs, '--out', join(root, 'bad-lr'), flag, value, '--quiet']);
      assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
      assert.match(r.stderr, expected);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.ok(!existsSync(join(root, 'bad-lr', 'model.json')));
    }
  });

  /** Pairs of a spelling rule to learn, which a joint n-gram aligns: a → A, b → B B, c → nothing, d → D. */
  const spellingPairs = (): string => {
    const rng = new Random(8);
    const sound: Record<string, string[]> = { a: ['A'], b: ['B', 'B'], c: [], d: ['D'] };
    const words = new Set<string>();
    while (words.size < 300)
      words.add(Array.from({ length: 2 + rng.int(5) }, () => 'abcd'[rng.int(4)]).join(''));
    const spelled = [...words].filter((w) => [...w].some((ch) => ch !== 'c'));
    const file = join(root, 'spell.tsv');
    writeFileSync(
      file,
      spelled.map((w) => `${w}\t${[...w].flatMap((ch) => sound[ch]).join(' ')}`).join('\n') + '\n',
    );
    return file;
  };
  const tokens = ['--source-tokens', 'chars', '--target-tokens', 'symbols'];
  /** One epoch on the spelling pairs with an order-3 joint n-gram, into `out`. */
  const trainSpelling = (out: string, ...more: string[]) =>
    run([
      'seq2seq',
      'train',
      spellingPairs(),
      '--out',
      out,
      '--epochs',
      '1',
      ...small,
      ...tokens,
      '--joint-ngram',
      '3',
      ...more,
    ]);

  it('--joint-ngram fits a joint n-gram beside the model, which eval and predict use (on the pool too)', () => {
    const file = spellingPairs();
    const dir = join(root, 'spell');
    const t = trainSpelling(dir, '--json');
    assert.equal(t.code, 0, t.stderr);
    const fitted = t.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number | string>)
      .find((l) => l.event === 'joint_ngram')!;
    assert.equal(fitted.order, 3);
    assert.equal(fitted.unaligned, 0);
    assert.equal(fitted.graphones, 4);
    assert.ok(existsSync(join(dir, 'joint-ngram.json')));
    // One epoch of a tiny model knows little; its n-gram knows the rule.
    const evalJson = (...args: string[]): Record<string, number> => {
      const e = run(['seq2seq', 'eval', dir, file, '--json', '--batch-size', '16', ...args]);
      assert.equal(e.code, 0, e.stderr);
      return JSON.parse(e.stdout) as Record<string, number>;
    };
    const hybrid = evalJson('--threads', '1');
    const alone = evalJson('--threads', '1', '--ngram-weight', '0');
    assert.ok(hybrid.wer < 0.05 && alone.wer > 0.5, `with the n-gram ${hybrid.wer}, without ${alone.wer}`);
    const table = run(['seq2seq', 'eval', dir, file, '--beam', '2']);
    assert.match(table.stdout, /decoding\s+beam 2 \+ joint n-gram \(order 3, weight 0\.3\)/);
    // The pool's workers load the n-gram with the model: the same answers on two threads.
    assert.deepEqual({ ...evalJson('--threads', '2'), seconds: 0 }, { ...hybrid, seconds: 0 });
    // At weight 0 no n-gram is built, here or on the workers: the same answers as without one.
    assert.deepEqual(
      { ...evalJson('--threads', '2', '--ngram-weight', '0'), seconds: 0 },
      { ...alone, seconds: 0 },
    );
    const p = run(['seq2seq', 'predict', dir, 'abd', 'dcb', '--json']);
    assert.equal(p.code, 0, p.stderr);
    assert.deepEqual(
      p.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { output: string }).output),
      ['A B B D', 'D B B'],
    );

    // A model trained without one gets one from `seq2seq ngram`, which will not replace it unless told.
    const plain = join(root, 'spell-plain');
    assert.equal(
      run(['seq2seq', 'train', file, '--out', plain, '--epochs', '1', ...small, ...tokens, '-q']).code,
      0,
    );
    assert.ok(!existsSync(join(plain, 'joint-ngram.json')));
    assert.equal(run(['seq2seq', 'ngram', plain, '--order', '3', '-q']).code, 0);
    assert.equal(
      readFileSync(join(plain, 'joint-ngram.json'), 'utf8'),
      readFileSync(join(dir, 'joint-ngram.json'), 'utf8'),
    );
    const again = run(['seq2seq', 'ngram', plain, '--order', '3', '-q']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /joint-ngram\.json exists; give --overwrite/);
    assert.equal(run(['seq2seq', 'ngram', plain, '--order', '2', '--overwrite', '-q']).code, 0);
    // --overwrite of the run deletes it with the model's other files.
    assert.equal(
      run([
        'seq2seq',
        'train',
        file,
        '--out',
        plain,
        '--epochs',
        '1',
        ...small,
        ...tokens,
        '--overwrite',
        '-q',
      ]).code,
      0,
    );
    assert.ok(!existsSync(join(plain, 'joint-ngram.json')));

    // Pairs the aligner cannot segment (three target words per source word) are bad input for it.
    const long = join(root, 'long-targets.tsv');
    writeFileSync(
      long,
      Array.from({ length: 40 }, (_, i) => `w${i % 7} v${i}\tx y z x y z${i}`).join('\n') + '\n',
    );
    const bad = run([
      'seq2seq',
      'train',
      long,
      '--out',
      join(root, 'long-ngram'),
      ...small,
      '--joint-ngram',
      '3',
      '-q',
    ]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(
      bad.stderr,
      /long-targets\.tsv: the aligner could segment only 0 of \d+ training pairs.*--joint-ngram 0/,
    );
    // Word vocabularies (translation) are refused before the aligner's table is allocated.
    const wordPairs = join(root, 'many-words.tsv');
    writeFileSync(wordPairs, Array.from({ length: 600 }, (_, i) => `s${i % 80}\tt${i}`).join('\n') + '\n');
    const big = run([
      'seq2seq',
      'train',
      wordPairs,
      '--out',
      join(root, 'words-ngram'),
      ...small,
      '--joint-ngram',
      '3',
    ]);
    assert.equal(big.code, 2, big.stderr);
    assert.match(
      big.stderr,
      /many-words\.tsv: a joint n-gram .* \d+ source and \d+ target tokens .*--joint-ngram 0/,
    );
    // A resumed run keeps its n-gram: another order is refused, the same one accepted.
    const other = run(['seq2seq', 'train', file, '--out', dir, '--resume', '--joint-ngram', '4', '-q']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /--joint-ngram 4 with --resume: the run's joint n-gram has order 3/);
    assert.equal(
      run(['seq2seq', 'train', file, '--out', dir, '--resume', '--joint-ngram', '3', '-q']).code,
      0,
    );
    // A damaged file is named when the model loads.
    writeFileSync(join(dir, 'joint-ngram.json'), '{"format":"recur-joint-ngram","version":1}');
    const damaged = run(['seq2seq', 'predict', dir, 'abd']);
    assert.equal(damaged.code, 2);
    assert.match(damaged.stderr, /joint-ngram\.json: order/);
    assert.doesNotMatch(damaged.stderr, /\n\s+at /);
  });

  /**
   * A run given a real SIGINT by the test hook `hook` ends with exit 130, `message`, a checkpoint after the first batch
   * and no lock, and its --resume ends as an uninterrupted run: the same log, n-gram and scores.
   */
  const stoppedThenResumedAsWhole = (name: string, hook: string, message: RegExp): void => {
    const file = spellingPairs();
    const args = [file, '--epochs', '2', ...small, ...tokens, '--joint-ngram', '3', '--threads', '1'];
    const whole = join(root, `${name}-whole`);
    const parted = join(root, `${name}-parted`);
    assert.equal(run(['seq2seq', 'train', ...args, '--out', whole, '-q']).code, 0);
    const stopped = run(['seq2seq', 'train', ...args, '--out', parted], { env: { [hook]: '1' } });
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, message);
    assert.match(
      stopped.stderr,
      new RegExp(
        `Saved \\S*${name}-parted/checkpoint at epoch 1, batch 1\\. Continue with: recur seq2seq train \\S*spell\\.tsv --out \\S*${name}-parted --resume`,
      ),
    );
    assert.ok(!existsSync(join(parted, 'recur.lock')), 'the lock is released');
    const resumed = run(['seq2seq', 'train', ...args, '--out', parted, '--resume', '-q']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const read = (d: string, f: string): string => readFileSync(join(d, f), 'utf8');
    assert.equal(read(parted, 'log.csv'), read(whole, 'log.csv'));
    assert.equal(read(parted, 'joint-ngram.json'), read(whole, 'joint-ngram.json'));
    const scores = (d: string): Record<string, number> => {
      const e = run(['seq2seq', 'eval', d, file, '--json', '--beam', '2', '--threads', '1']);
      assert.equal(e.code, 0, e.stderr);
      return { ...(JSON.parse(e.stdout) as Record<string, number>), seconds: 0 };
    };
    assert.deepEqual(scores(parted), scores(whole));
  };

  it("Ctrl-C during the joint n-gram's fit stops as in training: its message, exit 130, no lock, and --resume ends as an uninterrupted run", () => {
    // A real SIGINT, sent as the fit starts: the run stops after the fit, at the first batch, with a checkpoint.
    stoppedThenResumedAsWhole(
      'ngram',
      'RECUR_TEST_INTERRUPT_IN_NGRAM',
      /Interrupted: finishing the current batch and saving a checkpoint \(Ctrl-C again to quit now\)/,
    );
  });

  it('Ctrl-C as soon as the run holds its lock (before the data is read, the model built and the n-gram fitted) stops as in training, and --resume ends as an uninterrupted run', () => {
    // A real SIGINT, sent as the lock is taken: it used to kill the run with no word, its lock left behind.
    stoppedThenResumedAsWhole(
      'start',
      'RECUR_TEST_INTERRUPT_AT_START',
      /Interrupted: .*saving a checkpoint \(Ctrl-C again to quit now\)/,
    );
  });

  it('Ctrl-C after training, before the test scores: the model saved, its message, exit 130, no lock', () => {
    const dir = join(root, 'stopped-after');
    const r = run(['seq2seq', 'train', pairs, '--out', dir, '--epochs', '1', ...small, '--threads', '1'], {
      env: { RECUR_TEST_INTERRUPT_AFTER_TRAINING: '1' },
    });
    assert.equal(r.code, 130, r.stderr);
    assert.match(
      r.stderr,
      /Interrupted after training: the model in \S*stopped-after is saved; stopped before the test scores/,
    );
    assert.doesNotMatch(r.stderr, /^Test \(/m);
    assert.ok(!existsSync(join(dir, 'recur.lock')), 'the lock is released');
    const p = run(['seq2seq', 'predict', dir, 'the cat and the dog.']);
    assert.equal(p.code, 0, p.stderr);
  });

  it('seq2seq ngram: Ctrl-C writes nothing and exits 130 with its message; a run holding the lock refuses it', () => {
    const file = spellingPairs();
    const dir = join(root, 'ngram-stopped');
    assert.equal(
      run(['seq2seq', 'train', file, '--out', dir, '--epochs', '1', ...small, ...tokens, '-q']).code,
      0,
    );
    const before = readFileSync(join(dir, 'model.json'), 'utf8');
    // A real SIGINT as the fit starts (it used to kill the process outright, saying nothing): handled before the write.
    const stopped = run(['seq2seq', 'ngram', dir, '--order', '3'], {
      env: { RECUR_TEST_INTERRUPT_IN_NGRAM: '1' },
    });
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /Interrupted: no joint n-gram was written; \S*ngram-stopped is as it was/);
    assert.ok(!existsSync(join(dir, 'joint-ngram.json')));
    assert.ok(!existsSync(join(dir, 'recur.lock')), 'the lock is released');
    assert.equal(readFileSync(join(dir, 'model.json'), 'utf8'), before);
    // The directory's run lock, held by a live process (this one): refused, as a second training run is.
    const lock = join(dir, 'recur.lock');
    writeFileSync(
      lock,
      JSON.stringify({ pid: process.pid, host: hostname(), started: 'now', command: 'recur seq2seq train' }),
    );
    const busy = run(['seq2seq', 'ngram', dir, '--order', '3', '-q']);
    rmSync(lock);
    assert.equal(busy.code, 2, busy.stderr);
    assert.match(busy.stderr, /ngram-stopped is in use by recur run pid \d+/);
    // The command has no --out to give: its advice is to wait, then run it again.
    assert.match(
      busy.stderr,
      /; wait for it to finish, then run recur seq2seq ngram again \(if no recur run/,
    );
    assert.doesNotMatch(busy.stderr, /--out/);
    assert.ok(!existsSync(join(dir, 'joint-ngram.json')));
    assert.equal(run(['seq2seq', 'ngram', dir, '--order', '3', '-q']).code, 0);
    assert.ok(existsSync(join(dir, 'joint-ngram.json')));
    assert.ok(!existsSync(lock));
  });

  it('--ngram-weight 0 does not read the joint n-gram: a damaged one stops decoding only at a positive weight', () => {
    const dir = join(root, 'ngram-damaged');
    const trained = trainSpelling(dir, '-q');
    const file = spellingPairs();
    assert.equal(trained.code, 0, trained.stderr);
    const predict = (...more: string[]) => run(['seq2seq', 'predict', dir, 'abd', 'dcb', '--json', ...more]);
    const evaluate = (...more: string[]) => run(['seq2seq', 'eval', dir, file, '--beam', '2', ...more]);
    const before = [predict('--ngram-weight', '0'), evaluate('--ngram-weight', '0', '--json')];
    writeFileSync(join(dir, 'joint-ngram.json'), '{"format":"recur-joint-ngram","version":1}');
    // Here and on the pool's workers, predict and eval (its table, and --length-penalty's check).
    for (const threads of ['1', '2']) {
      const p = predict('--ngram-weight', '0', '--threads', threads);
      assert.equal(p.code, 0, p.stderr);
      assert.equal(p.stdout, before[0].stdout);
      const e = evaluate('--ngram-weight', '0', '--json', '--threads', threads);
      assert.equal(e.code, 0, e.stderr);
      assert.deepEqual(
        { ...JSON.parse(e.stdout), seconds: 0 },
        { ...JSON.parse(before[1].stdout), seconds: 0 },
      );
      const table = evaluate('--ngram-weight', '0', '--length-penalty', '0.5', '--threads', threads);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /decoding\s+beam 2, /);
    }
    for (const r of [predict(), evaluate(), predict('--ngram-weight', '0.5')]) {
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /joint-ngram\.json: order/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  it('--threads must be a whole number of threads', () => {
    const r = run([
      'seq2seq',
      'train',
      pairs,
      '--out',
      join(root, 'bad-threads'),
      '--threads',
      '0',
      '--quiet',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--threads/);
  });
});

describe('pairs loaders under fuzzing', () => {
  const SEED = 20261203;
  const base = pairsText(12, 5);
  const csv =
    'source,target,note\n' +
    base
      .trim()
      .split('\n')
      .map(
        (l) =>
          l
            .split('\t')
            .map((c) => `"${c}"`)
            .join(',') + ',x',
      )
      .join('\n') +
    '\n';
  const mutate = (text: string, rng: Random): string => {
    const chars = [...text];
    const n = 1 + rng.int(6);
    for (let k = 0; k < n; k++) {
      const i = rng.int(chars.length + 1);
      const op = rng.int(4);
      const pool = ['\t', '\n', ',', '"', ' ', 'é', '\u0000', 'a', '\r\n'];
      if (op === 0) chars.splice(i, 1);
      else if (op === 1) chars.splice(i, 0, pool[rng.int(pool.length)]);
      else if (op === 2) chars.splice(i, rng.int(20));
      else chars.splice(i, 0, ...'x'.repeat(rng.int(100)));
    }
    return chars.join('');
  };

  it('every damaged TSV or CSV parses or fails with an InvalidInputError naming the line', () => {
    const rng = new Random(SEED);
    for (let i = 0; i < 300; i++) {
      const tsv = i % 2 === 0;
      const text = mutate(tsv ? base : csv, rng);
      const limits = { maxSourceLength: 60, maxTargetLength: 60 };
      try {
        const r = tsv ? parseTsvPairs(text, 'f.tsv', limits) : parseCsvPairs(text, 'f.csv', limits);
        for (const p of r.pairs) assert.ok(p.source !== '' && p.target !== '' && p.line >= 1);
      } catch (e) {
        assert.ok(e instanceof InvalidInputError, `case ${i}: ${(e as Error).stack}`);
        assert.match((e as Error).message, /^f\.(tsv|csv): /, `case ${i}`);
      }
      // With skipBad only a file without any good line fails.
      try {
        const r = tsv
          ? parseTsvPairs(text, 'f.tsv', { ...limits, skipBad: true })
          : parseCsvPairs(text, 'f.csv', { ...limits, skipBad: true });
        assert.ok(r.pairs.length > 0);
      } catch (e) {
        assert.ok(e instanceof InvalidInputError, `case ${i} (skip-bad): ${(e as Error).stack}`);
      }
    }
  });

  it('the CLI exits 0 or 2 on damaged pairs files, never with a stack trace', () => {
    const rng = new Random(SEED + 1);
    for (let i = 0; i < 6; i++) {
      const name = join(root, `fuzz${i}.${i % 2 ? 'csv' : 'tsv'}`);
      writeFileSync(name, mutate(i % 2 ? csv : base, rng));
      const before = readFileSync(name);
      const r = run([
        'seq2seq',
        'train',
        name,
        '--out',
        join(root, `fuzz-run${i}`),
        ...small,
        '--epochs',
        '1',
        '--quiet',
      ]);
      assert.ok(r.code === 0 || r.code === 2, `case ${i}: exit ${r.code}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, `case ${i}`);
      if (r.code === 2)
        assert.match(
          r.stderr,
          /^recur: .*(line \d+|no pairs|distinct sources|header)/,
          `case ${i}: ${r.stderr}`,
        );
      assert.deepEqual(readFileSync(name), before);
    }
  });
});

describe('poolWorkers (how many workers eval and predict decode on)', () => {
  const B = DECODE_POOL_MIN_BATCHES;
  it('starts the pool by default only with enough batches for each worker; --threads is taken as given', () => {
    const auto = (threads: number, items: number): number =>
      poolWorkers({ threads, items, batchSize: 64, minBatchesPerWorker: B });
    const given = (threads: number, items: number): number => poolWorkers({ threads, items, batchSize: 64 });
    assert.ok(auto(2, 3) <= 1);
    assert.ok(auto(2, 64 * (2 * B - 1)) <= 1);
    assert.equal(auto(2, 64 * (2 * B)), 2);
    assert.equal(auto(8, 64 * (3 * B)), 3);
    assert.equal(given(2, 3 * 64), 2);
    assert.equal(given(1, 64 * 100 * B), 1);
    // At most one worker per batch, as before.
    assert.equal(given(2, 3), 1);
  });
});

describe('seq2seq decoding on this thread with the bar (--threads 1 on a terminal)', () => {
  it('builds each decoding stepper once for the whole command, not once per run of batches', async () => {
    const { app, words: wordsOf } = untrainedSpeller(4, 3, 1);
    const words = wordsOf(200, 4);
    // Every stepper the decoding builds makes one step state per stepped layer.
    const built = app.members.flatMap((m) => m.layers).map((l) => mock.method(l, 'createStepState'));
    const steppersBuilt = (): number => built.reduce((n, c) => n + c.mock.callCount(), 0);
    const stderr = process.stderr as NodeJS.WriteStream & { isTTY: boolean };
    const saved = { write: stderr.write, isTTY: stderr.isTTY };
    let drawn = '';
    try {
      for (const beam of [1, 3]) {
        const decode = { beam, batchSize: 8 };
        assert.ok(words.length > 2 * DECODE_RUN_BATCHES * decode.batchSize, 'several runs of batches');
        built.forEach((c) => c.mock.resetCalls());
        const want = app.predict(words, decode);
        const inOneCall = steppersBuilt();
        built.forEach((c) => c.mock.resetCalls());
        // The bar shows on a terminal: the sources decode run after run, the bar drawn between them.
        stderr.isTTY = true;
        stderr.write = ((chunk: string | Uint8Array): boolean => {
          drawn += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
          return true;
        }) as typeof stderr.write;
        const where = {
          dir: '',
          threads: 1,
          threadsGiven: true,
          here: () => ({ app, notes: [] }),
          sayNotes: () => {},
          jointNgram: false,
          show: true,
        };
        const got = await predictAll(app, words, decode, where);
        Object.assign(stderr, saved);
        assert.match(drawn, /sources/, 'the bar was drawn');
        assert.deepEqual(got, want, `beam ${beam}`);
        assert.equal(steppersBuilt(), inOneCall, `beam ${beam}: steppers built, as in one call`);
      }
    } finally {
      Object.assign(stderr, saved);
      built.forEach((c) => c.mock.restore());
    }
  });
});
