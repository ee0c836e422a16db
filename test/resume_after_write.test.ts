/**
 * kill -9 right after one of a run's writes (RECUR_TEST_KILL_AFTER_WRITE: the file in place, the next step not
 * taken), then --resume (or, with no checkpoint yet, the same command): the files are those of an uninterrupted run.
 * A kill after the last epoch's checkpoint, before its log.csv row and before the removal of the weights that
 * checkpoint replaced, left the row out for good (a classifier, and a finished member of either ensemble, is resumed
 * as finished and trained nothing) and the replaced weights file beside the checkpoint's (no later save into that
 * directory removes it). A kill after the first save's weights (or a first checkpoint's carried states) were in place,
 * before model.json's temp file was written, left a file the next start took for the user's: it refused the directory.
 * And `recur train --from`, which no kill test covered: killed at seeded random moments, it resumes to the same files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { pseudoText, reviews, runCli, spellings } from './cli_helpers.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'recur-after-write-'));
  writeFileSync(join(dir, 'book.txt'), pseudoText(4000, 3));
  writeFileSync(join(dir, 'reviews.csv'), reviews(200, 1));
  writeFileSync(join(dir, 'spell.tsv'), spellings(120, 4));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The kill hooks: after that many batches, inside that atomic write (before its rename), right after it. */
const HOOKS = ['RECUR_TEST_KILL_AFTER', 'RECUR_TEST_KILL_IN_WRITE', 'RECUR_TEST_KILL_AFTER_WRITE'];
const WEIGHTS = /^weights-[0-9a-f]{8}\.bin$/;
const weightsIn = (d: string): string[] => readdirSync(d).filter((n) => WEIGHTS.test(n));
const rows = (log: string): number => readFileSync(log, 'utf8').trim().split('\n').length;

interface Case {
  name: string;
  /** The command, writing into `out`. */
  args: (out: string) => string[];
  /** The write the kill comes after: the last epoch's checkpoint model.json (of the first member, in an ensemble). */
  write: number;
  /** The run directory holding that checkpoint and its log.csv, relative to --out. */
  run: string;
}

const CASES: Case[] = [
  {
    name: 'recur train',
    args: (out) => [
      ...[
        'train',
        join(dir, 'book.txt'),
        '--out',
        out,
        '--units',
        '8',
        '--batch-size',
        '16',
        '--maxlen',
        '10',
      ],
      ...['--steps-per-epoch', '4', '--epochs', '3', '--seed', '5', '--threads', '1', '--no-samples', '-q'],
    ],
    // Epoch 1: the best model (weights, model.json), the checkpoint (the same two), log.csv's first row; then 4 writes
    // an epoch: the 13th is epoch 3's checkpoint model.json.
    write: 13,
    run: '.',
  },
  {
    name: 'recur classify train',
    args: (out) => [
      ...[
        'classify',
        'train',
        join(dir, 'reviews.csv'),
        '--out',
        out,
        '--units',
        '6',
        '--embedding-dim',
        '6',
      ],
      ...['--batch-size', '16', '--epochs', '4', '--patience', '1', '--lr-decay', '0.8', '--class-weight'],
      ...['balanced', '--seed', '3', '--threads', '1', '-q'],
    ],
    // Epoch 1's five writes, then epoch 2 (no better: its checkpoint only), where early stopping ends the run.
    write: 7,
    run: '.',
  },
  {
    name: 'recur classify train --ensemble 2',
    args: (out) => [
      ...[
        'classify',
        'train',
        join(dir, 'reviews.csv'),
        '--out',
        out,
        '--units',
        '6',
        '--embedding-dim',
        '6',
      ],
      ...['--batch-size', '16', '--epochs', '2', '--patience', '0', '--ensemble', '2', '--seed', '3'],
      ...['--threads', '1', '-q'],
    ],
    // ensemble.json, member 1's epoch 1 (five writes) and its epoch 2 checkpoint.
    write: 8,
    run: 'members/1',
  },
  {
    name: 'recur seq2seq train --ensemble 2',
    args: (out) => [
      ...['seq2seq', 'train', join(dir, 'spell.tsv'), '--out', out, '--source-tokens', 'chars'],
      ...['--target-tokens', 'words', '--units', '6', '--embedding-dim', '4', '--batch-size', '32'],
      ...['--epochs', '2', '--seed', '3', '--threads', '1', '--ensemble', '2', '-q'],
    ],
    write: 8,
    run: 'members/1',
  },
];

describe('kill -9 right after the last checkpoint of a run (or member), then --resume', () => {
  for (const c of CASES) {
    it(`${c.name}: log.csv gets its last row, the replaced weights go: the files of an uninterrupted run`, () => {
      const reference = join(dir, `${c.name.replace(/\W+/g, '-')}-reference`);
      const straight = runCli(c.args(reference));
      assert.equal(straight.code, 0, straight.stderr);
      const out = join(dir, `${c.name.replace(/\W+/g, '-')}-killed`);
      const killed = runCli(c.args(out), { env: { RECUR_TEST_KILL_AFTER_WRITE: String(c.write) } });
      assert.equal(killed.signal, 'SIGKILL', killed.stderr);
      const run = join(out, c.run);
      const ckpt = join(run, 'checkpoint');
      // The moment meant: the last checkpoint saved (its state that of a finished run), the weights it replaced still
      // beside it, its epoch's log row not yet written.
      const state = (
        JSON.parse(readFileSync(join(ckpt, 'model.json'), 'utf8')) as {
          userDefinedMetadata: { state: { history: unknown[] } };
        }
      ).userDefinedMetadata.state;
      assert.equal(state.history.length, rows(join(reference, c.run, 'log.csv')) - 1, 'the last epoch');
      assert.equal(weightsIn(ckpt).length, 2, 'the replaced weights are still there');
      assert.equal(rows(join(run, 'log.csv')), rows(join(reference, c.run, 'log.csv')) - 1, 'no last row');
      const resumed = runCli([...c.args(out), '--resume']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(
        readFileSync(join(run, 'log.csv'), 'utf8'),
        readFileSync(join(reference, c.run, 'log.csv'), 'utf8'),
        'log.csv',
      );
      for (const d of ['.', 'checkpoint']) {
        const [got, want] = [join(run, d), join(reference, c.run, d)].map(weightsIn);
        assert.equal(got.length, 1, `${join(c.run, d)}: one weights file (${got.join(', ')})`);
        assert.ok(
          readFileSync(join(run, d, got[0])).equals(readFileSync(join(reference, c.run, d, want[0]))),
          `${join(c.run, d)}: the weights`,
        );
      }
    });
  }
});

describe("kill -9 between the first save's weights and its model.json", () => {
  // The weights file was renamed into place before model.json's temp file was written: a weights file beside no model
  // and no killed save's temp file, which the next start took for the user's and refused (exit 2) — for good.
  for (const [name, args, write] of [
    ['recur train', CASES[0].args, 1],
    // The joint n-gram is written before the first epoch; then the best model's weights.
    [
      'recur seq2seq train --joint-ngram 2',
      (out: string) => [
        ...['seq2seq', 'train', join(dir, 'spell.tsv'), '--out', out, '--source-tokens', 'chars'],
        ...['--target-tokens', 'words', '--units', '6', '--embedding-dim', '4', '--batch-size', '32'],
        ...['--epochs', '2', '--seed', '3', '--threads', '1', '--joint-ngram', '2', '-q'],
      ],
      2,
    ],
  ] as const) {
    it(`${name}: the same command starts afresh and ends as the uninterrupted run`, () => {
      const reference = join(dir, `${name.replace(/\W+/g, '-')}-first-reference`);
      assert.equal(runCli(args(reference)).code, 0);
      const out = join(dir, `${name.replace(/\W+/g, '-')}-first-killed`);
      const killed = runCli(args(out), { env: { RECUR_TEST_KILL_AFTER_WRITE: String(write) } });
      assert.equal(killed.signal, 'SIGKILL', killed.stderr);
      assert.equal(weightsIn(out).length, 1, 'the weights are in place');
      assert.ok(!readdirSync(out).includes('model.json'), 'model.json is not');
      const again = runCli(args(out));
      assert.equal(again.code, 0, again.stderr);
      const [got, want] = [out, reference].map(weightsIn);
      assert.equal(got.length, 1, got.join(', '));
      assert.ok(
        readFileSync(join(out, got[0])).equals(readFileSync(join(reference, want[0]))),
        'the weights',
      );
      assert.equal(
        readFileSync(join(out, 'log.csv'), 'utf8'),
        readFileSync(join(reference, 'log.csv'), 'utf8'),
      );
    });
  }
});

describe('kill -9 right after the carried states of a first checkpoint (char-rnn, Ctrl-C in epoch 1)', () => {
  it("the same command starts afresh (it refused the states file as the user's) and ends as the uninterrupted run", () => {
    const args = (out: string): string[] => [
      ...[
        'train',
        join(dir, 'book.txt'),
        '--out',
        out,
        '--recipe',
        'char-rnn',
        '--units',
        '8',
        '--layers',
        '1',
      ],
      ...['--batch-size', '4', '--seq-length', '8', '--validation-split', '0', '--steps-per-epoch', '6'],
      ...['--epochs', '2', '--seed', '5', '--threads', '1', '--no-samples', '-q'],
    ];
    const reference = join(dir, 'char-rnn-states-reference');
    assert.equal(runCli(args(reference)).code, 0);
    const out = join(dir, 'char-rnn-states-killed');
    // Ctrl-C after batch 2 saves the first checkpoint: the streams' states file (write 1), its weights, its model.json.
    const killed = runCli(args(out), {
      env: { RECUR_TEST_INTERRUPT_AFTER: '2', RECUR_TEST_KILL_AFTER_WRITE: '1' },
    });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    assert.ok(
      readdirSync(join(out, 'checkpoint')).some((n) => /^states-[0-9a-f]{8}\.bin$/.test(n)),
      'the states file is in place',
    );
    const again = runCli(args(out));
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      readFileSync(join(out, 'log.csv'), 'utf8'),
      readFileSync(join(reference, 'log.csv'), 'utf8'),
    );
    const [got, want] = [out, reference].map(weightsIn);
    assert.ok(readFileSync(join(out, got[0])).equals(readFileSync(join(reference, want[0]))), 'the weights');
  });
});

describe('recur train --from: kill -9 at seeded random moments, then resumed', () => {
  it('ends with the files of the uninterrupted fine-tuning run (log.csv, the best model and the checkpoint)', () => {
    const book = join(dir, 'book.txt');
    const base = join(dir, 'from-base');
    const quick = ['--threads', '1', '--no-samples', '-q'];
    const made = runCli([
      ...['train', book, '--out', base, '--units', '8', '--batch-size', '16', '--maxlen', '10'],
      ...['--steps-per-epoch', '3', '--epochs', '1', '--seed', '2', ...quick],
    ]);
    assert.equal(made.code, 0, made.stderr);
    const args = (out: string): string[] => [
      ...['train', book, '--out', out, '--from', base, '--steps-per-epoch', '4', '--epochs', '3'],
      ...['--lr', '0.05', '--seed', '9', ...quick],
    ];
    // A resume continues the fine-tuning run from its checkpoint: --from starts a new run, so it is left out.
    const resume = (out: string): string[] => ['train', book, '--out', out, '--resume', ...quick];
    const reference = join(dir, 'from-reference');
    assert.equal(runCli(args(reference)).code, 0);
    const rng = new Random(20261208);
    for (let chain = 0; chain < 2; chain++) {
      const out = join(dir, `from-killed-${chain}`);
      const kills: string[] = [];
      let started = false;
      for (let piece = 0; ; piece++) {
        const hook = piece < 3 ? HOOKS[rng.int(HOOKS.length)] : null;
        const env: Record<string, string> = hook ? { [hook]: String(1 + rng.int(8)) } : {};
        let r = runCli(started ? resume(out) : args(out), { env });
        // No checkpoint yet: the way the refusal names (a best model there: --overwrite) starts afresh.
        if (started && r.code === 2 && /without --resume|--overwrite instead/.test(r.stderr))
          r = runCli([...args(out), ...(/--overwrite instead/.test(r.stderr) ? ['--overwrite'] : [])], {
            env,
          });
        started = true;
        kills.push(`${hook}=${env[hook ?? ''] ?? ''}: ${r.signal ?? r.code}`);
        if (r.code === 0) break;
        assert.equal(r.signal, 'SIGKILL', `${kills.join('; ')}: ${r.stderr}`);
      }
      const what = `chain ${chain} (${kills.join('; ')})`;
      assert.equal(
        readFileSync(join(out, 'log.csv'), 'utf8'),
        readFileSync(join(reference, 'log.csv'), 'utf8'),
        `${what}: log.csv`,
      );
      for (const d of ['.', 'checkpoint']) {
        const [got, want] = [join(out, d), join(reference, d)].map(weightsIn);
        assert.equal(got.length, 1, `${what}: ${d}: ${got.join(', ')}`);
        assert.ok(
          readFileSync(join(out, d, got[0])).equals(readFileSync(join(reference, d, want[0]))),
          `${what}: ${d}: the weights`,
        );
      }
    }
  });
});
