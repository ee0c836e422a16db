/**
 * --resume --epochs N with N below the epochs the run has already trained: the run used to end at once and say it
 * had finished ("Done."), so a mistyped number went unnoticed. It is bad usage, named as such, by every trainer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pseudoText, reviews, runCli, TINY_TEXT_MODEL } from './cli_helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'recur-resume-epochs-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const read = (file: string): string => readFileSync(file, 'utf8');

/** Letter-by-letter spellings of made-up words, a small pairs file for seq2seq train. */
function spellings(): string {
  const words = ['abc', 'bad', 'cab', 'dab', 'ace', 'bead', 'face', 'deaf', 'fade', 'cafe', 'bed', 'fed'];
  const rows = [];
  for (const a of words) for (const b of ['', 'a', 'e']) rows.push(a + b);
  return rows.map((w) => `${w}\t${[...w].map((c) => c.toUpperCase()).join(' ')}`).join('\n') + '\n';
}

describe('--resume --epochs below the epochs already trained', () => {
  it('recur train: refused (exit 2) naming the epochs trained, also part way into an epoch; as many is fine', () => {
    const text = join(dir, 'book.txt');
    writeFileSync(text, pseudoText(3000, 1));
    const flags = [...TINY_TEXT_MODEL, '--steps-per-epoch', '2', '--seed', '5', '--no-samples', '-q'];
    const run = (out: string, extra: string[], env: Record<string, string> = {}) =>
      runCli(['train', text, '--out', out, ...flags, ...extra], { env });
    const out = join(dir, 'train');
    assert.equal(run(out, ['--epochs', '3']).code, 0);
    const log = read(join(out, 'log.csv'));
    const fewer = run(out, ['--resume', '--epochs', '2']);
    assert.equal(fewer.code, 2, fewer.stderr);
    assert.match(
      fewer.stderr,
      /--epochs 2 with --resume: the run has already trained 3 epochs; leave the flag out .*, or give --epochs 3 or more/,
    );
    assert.doesNotMatch(fewer.stderr, /Done\.|\n\s+at /);
    assert.equal(read(join(out, 'log.csv')), log);
    assert.equal(run(out, ['--resume', '--epochs', '3']).code, 0);

    // Stopped in its second epoch (batch 3 of 2 a epoch): one epoch and part of the next are trained.
    const stopped = join(dir, 'train-stopped');
    assert.equal(run(stopped, ['--epochs', '3'], { RECUR_TEST_INTERRUPT_AFTER: '3' }).code, 130);
    const partly = run(stopped, ['--resume', '--epochs', '1']);
    assert.equal(partly.code, 2, partly.stderr);
    assert.match(
      partly.stderr,
      /--epochs 1 with --resume: the run has already trained 1 epoch and part of epoch 2; leave the flag out to train on to the run's own 3, or give --epochs 2 or more/,
    );
    const resumed = run(stopped, ['--resume', '--epochs', '2']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(read(join(stopped, 'log.csv')).trim().split('\n').length, 1 + 2);
  });

  it('recur classify train, single and --ensemble: refused, naming the member', () => {
    const csv = join(dir, 'reviews.csv');
    writeFileSync(csv, reviews(120, 1));
    const flags = [
      ...['--units', '6', '--embedding-dim', '6', '--batch-size', '16', '--epochs', '3', '--patience', '0'],
      ...['--steps-per-epoch', '2', '--seed', '3', '--threads', '1', '-q'],
    ];
    const single = join(dir, 'classify');
    assert.equal(runCli(['classify', 'train', csv, '--out', single, ...flags]).code, 0);
    const fewer = runCli(['classify', 'train', '--out', single, '--resume', '--epochs', '2']);
    assert.equal(fewer.code, 2, fewer.stderr);
    assert.match(
      fewer.stderr,
      /--epochs 2 with --resume: the run has already trained 3 epochs; leave the flag out .*, or give --epochs 3 or more/,
    );
    assert.doesNotMatch(fewer.stderr, /has finished training/);

    const ensemble = join(dir, 'classify-ensemble');
    const trained = runCli(['classify', 'train', csv, '--out', ensemble, ...flags, '--ensemble', '2']);
    assert.equal(trained.code, 0, trained.stderr);
    const record = read(join(ensemble, 'ensemble.json'));
    const members = runCli(['classify', 'train', '--out', ensemble, '--resume', '--epochs', '1']);
    assert.equal(members.code, 2, members.stderr);
    assert.match(members.stderr, /--epochs 1 with --resume: member 1 has already trained 3 epochs/);
    assert.equal(read(join(ensemble, 'ensemble.json')), record);
  });

  it('recur seq2seq train, single and --ensemble: refused, and the ensemble record is left as it was', () => {
    const pairs = join(dir, 'spell.tsv');
    writeFileSync(pairs, spellings());
    const flags = [
      ...['--source-tokens', 'chars', '--target-tokens', 'words', '--units', '6', '--embedding-dim', '4'],
      ...['--batch-size', '16', '--epochs', '2', '--seed', '3', '--threads', '1', '--joint-ngram', '0', '-q'],
    ];
    const single = join(dir, 'seq2seq');
    const trained = runCli(['seq2seq', 'train', pairs, '--out', single, ...flags]);
    assert.equal(trained.code, 0, trained.stderr);
    const fewer = runCli(['seq2seq', 'train', pairs, '--out', single, '--resume', '--epochs', '1']);
    assert.equal(fewer.code, 2, fewer.stderr);
    assert.match(
      fewer.stderr,
      /--epochs 1 with --resume: the run has already trained 2 epochs; leave the flag out .*, or give --epochs 2 or more/,
    );

    const ensemble = join(dir, 'seq2seq-ensemble');
    const members = runCli(['seq2seq', 'train', pairs, '--out', ensemble, ...flags, '--ensemble', '2']);
    assert.equal(members.code, 0, members.stderr);
    const record = read(join(ensemble, 'ensemble.json'));
    const refused = runCli(['seq2seq', 'train', pairs, '--out', ensemble, '--resume', '--epochs', '1']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /--epochs 1 with --resume: member 1 has already trained 2 epochs/);
    assert.equal(read(join(ensemble, 'ensemble.json')), record);
  });
});
