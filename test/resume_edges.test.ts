/**
 * Edges of "nothing is lost" the main resume tests (resume.test.ts, classify_ensemble.test.ts) do not reach: a kill -9
 * between the first epoch's best-model save and its checkpoint, and the model files of a resumed seed ensemble.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pseudoText, runCli } from './cli_helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'recur-resume-edges-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('recur train: kill -9 after the first best model, before the first checkpoint', () => {
  const flags = [
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
    '--steps-per-epoch',
    '4',
    '--epochs',
    '2',
    '--validation-split',
    '0',
    '--seed',
    '3',
  ];

  it('--resume names the way to start afresh that works (--overwrite), and that way gives the uninterrupted run', () => {
    const text = join(dir, 'book.txt');
    writeFileSync(text, pseudoText(3000, 1));
    const reference = join(dir, 'reference');
    assert.equal(runCli(['train', text, '--out', reference, ...flags]).code, 0);
    const out = join(dir, 'killed');
    // Writes 1–2 are the best model (weights, model.json); 3 is the first checkpoint's weights.
    const killed = runCli(['train', text, '--out', out, ...flags], {
      env: { RECUR_TEST_KILL_IN_WRITE: '3' },
    });
    assert.equal(killed.signal, 'SIGKILL');
    const resumed = runCli(['train', text, '--out', out, ...flags, '--resume']);
    assert.equal(resumed.code, 2, resumed.stderr);
    assert.match(resumed.stderr, /holds no checkpoint to resume .* with --overwrite instead of --resume/);
    // What the old message advised (the same command without --resume) is refused: the directory holds a model.
    assert.equal(runCli(['train', text, '--out', out, ...flags]).code, 2);
    const again = runCli(['train', text, '--out', out, ...flags, '--overwrite']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      readFileSync(join(out, 'log.csv'), 'utf8'),
      readFileSync(join(reference, 'log.csv'), 'utf8'),
    );
  });
});
