/**
 * The training commands' budgets (--time-limit, --cpu-time-limit, run_dir.ts TrainingBudget): running out stops the
 * run like Ctrl-C — a checkpoint a later --resume continues — but the command then finishes normally (best model
 * kept, exit 0) and says so, on the terminal and as a 'time_limit' JSON event.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { expectSnakeKeys, pairs, pseudoText, reviews, runCli } from './cli_helpers.js';

const root = mkdtempSync(join(tmpdir(), 'recur-budget-'));
after(() => rmSync(root, { recursive: true, force: true }));

const text = join(root, 'sea.txt');
writeFileSync(text, pseudoText(30_000, 5));
const csv = join(root, 'reviews.csv');
writeFileSync(csv, reviews(400, 5));
const tsv = join(root, 'pairs.tsv');
writeFileSync(tsv, pairs(200, 5));

/**
 * More epochs than any budget here allows: a seq2seq epoch on these pairs takes about a millisecond, so 500 epochs could
 * fit in a resumed run's 1.2 s (which then finished without a time-limit event).
 */
const EPOCHS = '100000';

/** Each command with a model small enough for a test, and more epochs than any budget here allows. */
const COMMANDS: Record<string, (out: string) => string[]> = {
  train: (out) => [
    'train',
    text,
    '--out',
    out,
    '--epochs',
    EPOCHS,
    '--units',
    '8',
    '--threads',
    '1',
    '--no-samples',
  ],
  'classify train': (out) => [
    'classify',
    'train',
    csv,
    '--out',
    out,
    '--epochs',
    EPOCHS,
    '--units',
    '8',
    '--embedding-dim',
    '8',
    '--batch-size',
    '8',
    '--patience',
    '0',
    '--threads',
    '1',
  ],
  'seq2seq train': (out) => [
    'seq2seq',
    'train',
    tsv,
    '--out',
    out,
    '--epochs',
    EPOCHS,
    '--units',
    '8',
    '--embedding-dim',
    '8',
    '--batch-size',
    '8',
    '--threads',
    '1',
  ],
};

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('training budgets', () => {
  for (const [name, args] of Object.entries(COMMANDS)) {
    it(`${name} --time-limit stops, keeps the best model, exits 0, and the checkpoint resumes`, () => {
      const out = join(root, name.replace(' ', '-'));
      const r = runCli([...args(out), '--time-limit', '0.02', '--json']);
      assert.equal(r.code, 0, r.stderr);
      expectSnakeKeys(r.stdout);
      const events = jsonLines(r.stdout);
      const stop = events.find((e) => e.event === 'time_limit' || e.event === 'interrupted');
      assert.equal(stop?.event, 'time_limit', r.stdout);
      assert.ok(existsSync(join(out, 'model.json')), 'the best model is kept');
      assert.ok(existsSync(join(out, 'checkpoint', 'model.json')), 'a checkpoint to resume from');
      const epochs = events.filter((e) => typeof e.epoch === 'number' && e.event === undefined);
      assert.ok(epochs.length < Number(EPOCHS), 'the budget stopped training early');
      // The budget is per process: a resumed run gets a new one.
      const resumed = runCli([...args(out), '--resume', '--time-limit', '0.02', '--json']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.ok(
        jsonLines(resumed.stdout).some((e) => e.event === 'time_limit'),
        `the resumed run has its own budget; its output ends:\n${resumed.stdout.slice(-1500)}\n${resumed.stderr.slice(-500)}`,
      );
    });
  }

  it('--cpu-time-limit counts the CPU time of the process', () => {
    const out = join(root, 'cpu');
    const r = runCli([...COMMANDS.train(out), '--cpu-time-limit', '0.02']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Time limit reached/);
    assert.ok(existsSync(join(out, 'model.json')));
  });

  it("classify train: Ctrl-C on an epoch's last batch without early stopping exits 130 and resumes", () => {
    const out = join(root, 'classify-edge');
    const r = runCli(
      [...COMMANDS['classify train'](out), '--epochs', '3', '--steps-per-epoch', '5', '--json'],
      {
        env: { RECUR_TEST_INTERRUPT_AFTER: '5' },
      },
    );
    assert.equal(r.code, 130, r.stderr);
    const stop = jsonLines(r.stdout).find((e) => e.event === 'interrupted');
    assert.deepEqual({ epoch: stop?.epoch, batch: stop?.batch }, { epoch: 2, batch: 0 });
    const resumed = runCli([
      ...COMMANDS['classify train'](out),
      '--resume',
      '--epochs',
      '3',
      '--steps-per-epoch',
      '5',
      '--json',
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
  });

  it('a budget that is not a positive number of minutes is bad usage (exit 2)', () => {
    for (const bad of [
      ['--time-limit', '0'],
      ['--cpu-time-limit', 'soon'],
    ]) {
      const r = runCli([...COMMANDS['classify train'](join(root, 'bad')), ...bad]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(bad[0]));
    }
  });
});
