/**
 * A seq2seq model decodes only sources its training would have accepted: one longer than the model's
 * maxSourceLength (its --max-source-length) is refused by the library, `seq2seq predict` (naming the argument or the
 * stdin line; --skip-bad gives an empty line), `seq2seq eval DIR PAIRS` (a bad line) and `recur serve` (a 400 naming
 * the source) — decoding one costs time and memory in proportion to its length. And predict's stdin lines end as a
 * pairs file's do (a lone CR too), so its line numbers and outputs match the lines a user sees.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { createServeApp, loadServedModels } from '../src/node/server.js';
import { pairLimits } from '../src/cli/seq2seq.js';
import { loadSeq2SeqDir } from '../src/node/seq2seq_dir.js';
import {
  PAIRS_SETTINGS,
  buildSeq2SeqModel,
  checkSettings,
  type Seq2SeqSettings,
} from '../src/seq2seq/model.js';
import { pairProblem } from '../src/seq2seq/pairs.js';
import { Seq2Seq } from '../src/seq2seq/seq2seq.js';
import { Tokenizer } from '../src/seq2seq/tokenizer.js';
import { pairs, runCli, runCliOk } from './cli_helpers.js';

/** An untrained model of `settings` reading the words a, b, c and writing x, y. */
function wordsApp(settings: Seq2SeqSettings): Seq2Seq {
  const source = Tokenizer.fit(['a b c'], 'words');
  const target = Tokenizer.fit(['x y'], 'words');
  return new Seq2Seq(buildSeq2SeqModel(settings, source.size, target.size), settings, source, target, 2, 'x');
}

const words = (n: number): string => Array.from({ length: n }, () => 'cat').join(' ');

describe('the source length limit at decoding', () => {
  let dir = '';
  let model = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-s2s-limits-'));
    writeFileSync(join(dir, 'pairs.tsv'), pairs(60, 2));
    model = join(dir, 'model');
    runCliOk(
      ['seq2seq', 'train', join(dir, 'pairs.tsv'), '--out', model, '--epochs', '1', '--units', '4'].concat([
        '--embedding-dim',
        '4',
        '--max-source-length',
        '6',
        '--threads',
        '1',
        '--quiet',
      ]),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the library refuses a source over maxSourceLength, naming it and the limit', () => {
    const settings = { ...PAIRS_SETTINGS, units: 4, embeddingDim: 4, maxSourceLength: 3 };
    const app = wordsApp(settings);
    assert.equal(app.sourceProblem('a b c'), null);
    assert.equal(app.predict(['a b c']).length, 1);
    for (const decode of [() => app.predict(['a', 'a b c a']), () => app.translate(['a', 'a b c a'])])
      assert.throws(decode, (e: Error) => {
        assert.ok(e instanceof InvalidInputError);
        assert.match(e.message, /^source 2 has 4 words, more than the model's limit of 3 \(/);
        return true;
      });
  });

  it('predict refuses a long argument or stdin line (exit 2), or with --skip-bad prints an empty line', () => {
    const ok = runCli(['seq2seq', 'predict', model, words(6)]);
    assert.equal(ok.code, 0, ok.stderr);
    const arg = runCli(['seq2seq', 'predict', model, 'the cat', words(7)]);
    assert.equal(arg.code, 2);
    assert.equal(arg.stdout, '');
    assert.match(arg.stderr, /^recur: source 2 has 7 words, more than the model's limit of 6 .*--skip-bad/);
    const input = `the cat\n\n${words(50)}\nthe dog\n`;
    const line = runCli(['seq2seq', 'predict', model], { input });
    assert.equal(line.code, 2);
    assert.match(line.stderr, /^recur: stdin line 3 has 50 words, more than the model's limit of 6 /);
    const skipped = runCli(['seq2seq', 'predict', model, '--skip-bad'], { input });
    assert.equal(skipped.code, 0, skipped.stderr);
    const out = skipped.stdout.split('\n');
    assert.equal(out.length, 5, 'four lines in, four out');
    assert.equal(out[2], '');
    assert.match(skipped.stderr, /^note: skipped 1 source\(s\) over the model's length limit.*stdin line 3/m);
    const json = runCli(['seq2seq', 'predict', model, '--skip-bad', '--json'], { input });
    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(Object.keys(lines[2]), ['source', 'output', 'skipped']);
    assert.equal(lines[2].output, '');
    assert.match(lines[2].skipped as string, /^the source has 50 words, more than the model's limit of 6/);
    assert.equal(typeof lines[3].score, 'number');
    // The note on the skipped sources is kept by --quiet, as every note is.
    const quiet = runCli(['seq2seq', 'predict', model, '--skip-bad', '--quiet'], { input });
    assert.equal(quiet.stdout, skipped.stdout);
    assert.equal(quiet.stderr, skipped.stderr);
  });

  it("predict's stdin lines end as a pairs file's do: LF, CRLF or a lone CR", () => {
    const lf = runCli(['seq2seq', 'predict', model, '--json'], { input: 'the cat\nthe dog\n\nthe bird\n' });
    assert.equal(lf.code, 0, lf.stderr);
    for (const input of ['the cat\rthe dog\r\rthe bird\r', 'the cat\r\nthe dog\r\n\rthe bird']) {
      const r = runCli(['seq2seq', 'predict', model, '--json'], { input });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, lf.stdout, JSON.stringify(input));
    }
  });

  it('eval DIR PAIRS reads a source over the limit as a bad line', () => {
    const file = join(dir, 'long.tsv');
    writeFileSync(file, `the cat and the dog\tle chat et le chien\n${words(9)}\tle chat\n`);
    const r = runCli(['seq2seq', 'eval', model, file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /long\.tsv: line 2: the source has 9 words, more than the model's limit of 6/);
    const skip = runCli(['seq2seq', 'eval', model, file, '--skip-bad', '--json']);
    assert.equal(skip.code, 0, skip.stderr);
    const scores = JSON.parse(skip.stdout) as { n: number; skipped: { count: number } };
    assert.equal(scores.n, 1);
    assert.equal(scores.skipped.count, 1);
    // The table says what its scores leave out, with -q too (no note on stderr then).
    const table = runCli(['seq2seq', 'eval', model, file, '--skip-bad', '-q']);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stderr, '');
    assert.match(
      table.stdout,
      /^skipped +1 bad line\(s\) \(first: line 2, the source has 9 words, more than/m,
    );
  });

  it('eval DIR PAIRS scores a reference of any length: the bounds are on what the model reads', () => {
    const file = join(dir, 'long-reference.tsv');
    const longWord = 'x'.repeat(150);
    writeFileSync(
      file,
      `the cat and the dog\tle chat et le chien\nthe dog and the cat\tle ${longWord} ${words(20)}\n`,
    );
    const r = runCli(['seq2seq', 'eval', model, file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const scores = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(scores.n, 2);
    assert.equal(scores.skipped, undefined);
  });

  // A text without spaces is one word, however long: "a,a,a,…" would be one word of 100,000 'wordpunct' tokens.
  const noSpaces = 'a,'.repeat(50_000);

  it('training refuses a word longer than the word limit, naming the line; --skip-bad skips and counts it', () => {
    const file = join(dir, 'hostile.tsv');
    writeFileSync(file, pairs(30, 3) + `${noSpaces}\tle chat\n` + pairs(30, 4));
    const args = [
      'seq2seq',
      'train',
      file,
      ...'--epochs 1 --units 4 --embedding-dim 4 --threads 1'.split(' '),
    ];
    const r = runCli([...args, '--out', join(dir, 'hostile-run'), '--quiet']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^recur: .*hostile\.tsv: line 31: the source has a word of 100000 characters \('a,a,a,a,a,a,a,a,a,a,…'\), more than the limit of 100 characters a word \(text without spaces\? --source-tokens chars reads it in characters\) \(or pass --skip-bad/,
    );
    writeFileSync(file, pairs(30, 3) + `le chat\t${noSpaces}\n` + pairs(30, 4));
    const t = runCli([...args, '--out', join(dir, 'hostile-run'), '--quiet']);
    assert.equal(t.code, 2, t.stderr);
    assert.match(t.stderr, /line 31: the target has a word of 100000 characters .*--target-tokens chars/);
    const skip = runCli([...args, '--out', join(dir, 'hostile-run'), '--skip-bad', '--json']);
    assert.equal(skip.code, 0, skip.stderr);
    const event = JSON.parse(skip.stdout.split('\n')[0]) as {
      event: string;
      count: number;
      first: { line: number };
    };
    assert.deepEqual([event.event, event.count, event.first.line], ['skipped', 1, 31]);
  });

  it('a word longer than the word limit is not decoded: predict, the library and serve refuse it', async () => {
    const arg = runCli(['seq2seq', 'predict', model, 'the cat', noSpaces]);
    assert.equal(arg.code, 2);
    assert.match(
      arg.stderr,
      /^recur: source 2 has a word of 100000 characters \('a,a,a,.*…'\), more than the model's limit of 100 characters a word; .*--skip-bad/,
    );
    const skipped = runCli(['seq2seq', 'predict', model, '--skip-bad', '--json'], {
      input: `the cat\n${noSpaces}\n`,
    });
    assert.equal(skipped.code, 0, skipped.stderr);
    const line = JSON.parse(skipped.stdout.trim().split('\n')[1]) as Record<string, string>;
    assert.match(line.skipped, /^the source has a word of 100000 characters/);
    const { app } = loadSeq2SeqDir(model);
    assert.equal(app.settings.maxWordLength, 100);
    assert.throws(
      () => app.predict([noSpaces]),
      /^InvalidInputError: source 1 has a word of 100000 characters/,
    );
    const server = createServeApp({ served: loadServedModels([model]) });
    try {
      const r = await server.app.inject({
        method: 'POST',
        url: '/v1/predict',
        // The server takes sources of up to 10,000 characters; 4,000 without a space are 2,000 tokens.
        payload: { sources: ['the cat', 'a,'.repeat(2000)] },
      });
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.body, /sources\.1: the source has a word of 4000 characters/);
    } finally {
      await server.close();
    }
  });

  it('a model saved before the word limit reads its data as it was trained (no bound)', () => {
    const settings = checkSettings({
      ...PAIRS_SETTINGS,
      units: 4,
      embeddingDim: 4,
      maxWordLength: undefined,
    });
    assert.equal(settings.maxWordLength, null);
    const app = wordsApp(settings);
    // A long word is one token in 'words': decoded as before.
    assert.equal(app.sourceProblem('x'.repeat(500)), null);
    assert.equal(pairProblem('x'.repeat(500), 'y', pairLimits(settings)), null);
    const bounded = { ...settings, maxWordLength: 100 };
    assert.match(
      pairProblem('x'.repeat(500), 'y', pairLimits(bounded)) ?? '',
      /^the source has a word of 500/,
    );
    // Character tokens count characters already: the word limit is not theirs.
    const chars = { ...bounded, sourceMode: 'chars' as const, maxSourceLength: 1000 };
    assert.equal(pairProblem('x'.repeat(500), 'y', pairLimits(chars)), null);
  });

  it('a wordpunct model saved before the word limit decodes a source of at most its limit in tokens', () => {
    const settings = checkSettings({
      ...PAIRS_SETTINGS,
      units: 4,
      embeddingDim: 4,
      maxSourceLength: 3,
      maxWordLength: undefined,
    });
    assert.equal(settings.sourceMode, 'wordpunct');
    const source = Tokenizer.fit(['a, b. c'], 'wordpunct');
    const target = Tokenizer.fit(['x y'], 'words');
    const model = buildSeq2SeqModel(settings, source.size, target.size);
    const app = new Seq2Seq(model, settings, source, target, 2, 'x');
    // 100,000 tokens: seconds and a gigabyte to decode (a megabyte of it ran out of kernel memory).
    assert.match(
      app.sourceProblem(noSpaces) ?? '',
      /^splits into 100000 tokens, more than the model reads \(300: 3 words of at most 100 characters\)/,
    );
    assert.throws(() => app.predict([noSpaces]), /^InvalidInputError: source 1 splits into 100000 tokens/);
    // Ordinary text decodes as before, long words included: one word of 500 letters is one token.
    for (const fine of ['a, b. c', 'x'.repeat(500), 'a,'.repeat(150)])
      assert.equal(app.sourceProblem(fine), null);
    assert.equal(app.predict(['a, b.', 'x'.repeat(500)]).length, 2);
  });

  it('a CSV source field holding a tab trains, validates and is scored; predict still refuses a typed one', () => {
    // Every source holds a tab, so the validation and test splits have them.
    const csv = join(dir, 'tabs.csv');
    const rows = pairs(60, 5)
      .trim()
      .split('\n')
      .map((l) => l.split('\t'))
      .map(([source, target]) => `"${source.replace(' and ', '\tand ')}",${target}`);
    writeFileSync(csv, ['source,target', ...rows].join('\n') + '\n');
    const run = join(dir, 'tabs');
    const args = ['--epochs', '1', '--units', '4', '--embedding-dim', '4', '--threads', '1', '--quiet'];
    const trained = runCli(['seq2seq', 'train', csv, '--out', run, ...args]);
    assert.equal(trained.code, 0, trained.stderr);
    const scored = runCli(['seq2seq', 'eval', run, csv, '--json', '--threads', '1']);
    assert.equal(scored.code, 0, scored.stderr);
    assert.equal(
      (JSON.parse(scored.stdout) as { n: number }).n,
      new Set(rows.map((r) => r.split(',')[0])).size,
    );
    const typed = runCli(['seq2seq', 'predict', run, 'the cat\tand the dog']);
    assert.equal(typed.code, 2);
    assert.match(typed.stderr, /^recur: source 1 holds a tab, as a line of a pairs file does/);
  });

  it('recur serve answers a source over the limit with a 400 naming it', async () => {
    const server = createServeApp({ served: loadServedModels([model]) });
    try {
      const r = await server.app.inject({
        method: 'POST',
        url: '/v1/predict',
        payload: { sources: ['the cat', words(7)] },
      });
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.body, /sources\.1: the source has 7 words, more than the model's limit of 6/);
      const fine = await server.app.inject({
        method: 'POST',
        url: '/v1/predict',
        payload: { sources: [words(6)] },
      });
      assert.equal(fine.statusCode, 200, fine.body);
      const models = await server.app.inject({ method: 'GET', url: '/v1/models' });
      const listed = models.json<{ models: Record<string, unknown>[] }>().models[0];
      assert.deepEqual([listed.max_source_length, listed.max_source_unit], [6, 'words']);
    } finally {
      await server.close();
    }
  });
});
