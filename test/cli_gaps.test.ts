/**
 * Flags one command lacked while its siblings had them (predict --json, classify predict -q, classify eval --limit
 * and --threads), and the flags several commands share taking one range in every command.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, pairs, runCli, trainTinyModels, type CliResult } from './cli_helpers.js';

const STACK_FRAME = /\n\s+at /;
const dir = mkdtempSync(join(tmpdir(), 'recur-cli-gaps-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tsv = join(dir, 'pairs.tsv');
const textFile = join(dir, 'book.txt');
const csv = join(dir, 'reviews.csv');
const textModel = join(dir, 'text-model');
const classifier = join(dir, 'classifier');

before(() => {
  trainTinyModels(dir);
  writeFileSync(tsv, pairs(40, 3));
});

function usageError(r: Pick<CliResult, 'code' | 'stderr'>, message: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, message, what);
  assert.doesNotMatch(r.stderr, STACK_FRAME, what);
}

describe('flags the sibling commands have', () => {
  it('recur predict --json: the outputs as one JSON object a line, and nothing on stderr', () => {
    const model = JSON.parse(readFileSync(join(textModel, 'model.json'), 'utf8')) as {
      modelTopology: { config: { layers: { config: { batch_input_shape?: (number | null)[] } }[] } };
    };
    const shape = model.modelTopology.config.layers[0].config.batch_input_shape!;
    const window = Array.from({ length: shape[1]! }, (_, t) =>
      Array.from({ length: shape[2]! }, (_, k) => (k === t % shape[2]! ? 1 : 0)),
    );
    const input = JSON.stringify([window, window]);
    const plain = runCli(['predict', textModel], { input });
    assert.equal(plain.code, 0, plain.stderr);
    const json = runCli(['predict', textModel, '--json'], { input });
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stdout, plain.stdout);
    assert.equal(json.stderr, '');
    const lines = json.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1);
    assert.equal(typeof JSON.parse(lines[0]), 'object');
  });

  it('classify predict -q / --quiet: the same labels on stdout, nothing on stderr', () => {
    const texts = ['a great film', 'a dull plot'];
    const plain = runCli(['classify', 'predict', classifier, ...texts, '--threads', '1']);
    assert.equal(plain.code, 0, plain.stderr);
    for (const q of ['-q', '--quiet']) {
      const quiet = runCli(['classify', 'predict', classifier, ...texts, '--threads', '1', q]);
      assert.equal(quiet.code, 0, `${q}: ${quiet.stderr}`);
      assert.equal(quiet.stdout, plain.stdout);
      assert.equal(quiet.stderr, '');
    }
  });

  it('classify eval --limit scores the first n texts; --threads splits the batches with the one-thread scores', () => {
    const evalJson = (...flags: string[]): { per_class: Record<string, { support: number }> } => {
      const r = runCli(['classify', 'eval', classifier, csv, '--json', ...flags]);
      assert.equal(r.code, 0, `${flags.join(' ')}: ${r.stderr}`);
      return JSON.parse(r.stdout) as { per_class: Record<string, { support: number }> };
    };
    const support = (r: { per_class: Record<string, { support: number }> }): number =>
      Object.values(r.per_class).reduce((a, c) => a + c.support, 0);
    assert.equal(support(evalJson('--threads', '1')), 120);
    assert.equal(support(evalJson('--limit', '25', '--threads', '1')), 25);
    assert.equal(support(evalJson('--limit', '1000', '--threads', '1')), 120);
    // Batches of 8: 15 of them, so two threads start a pool.
    assert.deepEqual(
      evalJson('--threads', '2', '--batch-size', '8'),
      evalJson('--threads', '1', '--batch-size', '8'),
    );
    usageError(
      runCli(['classify', 'eval', classifier, '--limit', '0']),
      /--limit must be an integer from 1 to 1000000000, got '0'/,
      '--limit 0',
    );
    usageError(
      runCli(['classify', 'eval', classifier, '--threads', '999']),
      /--threads must be an integer from 1 to \d+, got '999'/,
      '--threads 999',
    );
  });
});

/** Runs `recur ARGS…` without blocking, so a few flag checks run at once. */
function runAsync(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

describe('a flag several commands take has one range in all of them', () => {
  it('each command refuses the same values with the same range', async () => {
    const commands: Record<string, string[]> = {
      train: ['train', textFile],
      evaluate: ['evaluate', textModel, textFile],
      generate: ['generate', textModel],
      'classify train': ['classify', 'train', csv],
      'classify eval': ['classify', 'eval', classifier],
      'classify predict': ['classify', 'predict', classifier, 'a text'],
      'seq2seq train': ['seq2seq', 'train', tsv],
      'seq2seq eval': ['seq2seq', 'eval', classifier],
      'seq2seq predict': ['seq2seq', 'predict', classifier, 'a text'],
      forecast: ['forecast'],
    };
    // [flag, bad value, the range every command must state, the commands that take the flag]
    const flags: [string, string, RegExp, string[]][] = [
      [
        '--batch-size',
        '2000000',
        /from 1 to 1000000,/,
        [
          'train',
          'evaluate',
          'classify train',
          'classify eval',
          'classify predict',
          'seq2seq train',
          'seq2seq eval',
          'seq2seq predict',
        ],
      ],
      [
        '--epochs',
        '2000000000',
        /from 1 to 1000000000,/,
        ['train', 'classify train', 'seq2seq train', 'forecast'],
      ],
      ['--layers', '65', /from 1 to 64,/, ['train', 'classify train', 'seq2seq train', 'forecast']],
      ['--units', '9000', /from 1 to 8192,/, ['classify train', 'seq2seq train', 'forecast']],
      ['--dropout', '0.995', /from 0 to 0\.99,/, ['train', 'classify train', 'seq2seq train', 'forecast']],
      ['--embedding-dropout', '0.995', /from 0 to 0\.99,/, ['classify train', 'seq2seq train']],
      [
        '--seed',
        '-1',
        /from 0 to 4294967295,/,
        ['train', 'generate', 'classify train', 'seq2seq train', 'forecast'],
      ],
      ['--limit', '0', /from 1 to 1000000000,/, ['classify eval', 'seq2seq eval']],
      ['--beam', '1001', /from 1 to 1000,/, ['seq2seq eval', 'seq2seq predict']],
      ['--ensemble', '1001', /from 1 to 1000,/, ['classify train', 'seq2seq train']],
      ['--steps-per-epoch', '0', /from 1 to 1000000000,/, ['train', 'classify train']],
      ['--lr', '11', /from 1e-9 to 10,/, ['train', 'classify train', 'seq2seq train']],
    ];
    const cases = flags.flatMap(([flag, value, range, names]) =>
      names.map((name) => ({ name, flag, value, range })),
    );
    const results: { code: number; stderr: string }[] = [];
    for (let i = 0; i < cases.length; i += 4)
      results.push(
        ...(await Promise.all(
          cases.slice(i, i + 4).map((c) => runAsync([...commands[c.name], c.flag, c.value])),
        )),
      );
    cases.forEach((c, i) => {
      const what = `${c.name} ${c.flag} ${c.value}`;
      usageError(results[i], c.range, what);
      assert.ok(
        results[i].stderr.includes(`${c.flag} must be`),
        `${what}: names the flag\n${results[i].stderr}`,
      );
    });
  });

  it('seq2seq train takes the shared ranges too (its settings file once stopped at 0.95 dropout, 65536 batches)', () => {
    const out = join(dir, 's2s');
    const r = runCli([
      'seq2seq',
      'train',
      tsv,
      '--out',
      out,
      '--epochs',
      '1',
      '--units',
      '4',
      '--embedding-dim',
      '4',
      '--threads',
      '1',
      '-q',
      '--dropout',
      '0.97',
      '--recurrent-dropout',
      '0.98',
      '--batch-size',
      '70000',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const again = runCli(['seq2seq', 'eval', out, tsv, '--limit', '2', '--json', '--threads', '1']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { n: number }).n, 2);
    // Its predict's note on unknown tokens is a note: -q keeps it, as every command's -q does.
    const noted = runCli(['seq2seq', 'predict', out, 'the quokka', '--threads', '1']);
    assert.equal(noted.code, 0, noted.stderr);
    assert.match(noted.stderr, /had tokens the model never saw, read as unknown: 'quokka'/);
    const quiet = runCli(['seq2seq', 'predict', out, 'the quokka', '--threads', '1', '-q']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stdout, noted.stdout);
    assert.equal(quiet.stderr, noted.stderr);
  });
});
