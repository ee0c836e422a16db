/**
 * `recur classify` and `recur seq2seq` as a user meets them across commands: a model directory of the wrong kind is
 * refused naming what it holds (exit 2).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pairs, pseudoText, reviews, runCli, runCliOk } from './cli_helpers.js';

const root = mkdtempSync(join(tmpdir(), 'recur-apps-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

const classifier = join(root, 'reviews');
const translator = join(root, 'pairs');
const textModel = join(root, 'book');

before(() => {
  writeFileSync(join(root, 'reviews.csv'), reviews(60, 1));
  writeFileSync(join(root, 'pairs.tsv'), pairs(60, 1));
  writeFileSync(join(root, 'book.txt'), pseudoText(3000, 1));
  const quiet = ['--epochs', '1', '--threads', '1', '--quiet'];
  runCliOk(['classify', 'train', join(root, 'reviews.csv'), '--out', classifier, '--units', '4', ...quiet]);
  runCliOk(['seq2seq', 'train', join(root, 'pairs.tsv'), '--out', translator, '--units', '4', ...quiet]);
  runCliOk(['train', join(root, 'book.txt'), '--out', textModel, '--units', '4', ...quiet]);
});

describe('a model directory of the wrong kind', () => {
  const cases: { args: string[]; holds: string; wanted: string }[] = [
    { args: ['seq2seq', 'predict', classifier, 'hello'], holds: 'a text classifier', wanted: 'seq2seq' },
    { args: ['seq2seq', 'eval', classifier], holds: 'a text classifier', wanted: 'seq2seq' },
    { args: ['seq2seq', 'predict', textModel, 'hello'], holds: 'a text model', wanted: 'seq2seq' },
    { args: ['classify', 'predict', translator, 'hello'], holds: 'a seq2seq model', wanted: 'classify' },
    { args: ['classify', 'eval', translator], holds: 'a seq2seq model', wanted: 'classify' },
  ];
  for (const { args, holds, wanted } of cases)
    it(`${args.slice(0, 2).join(' ')} on ${holds}: exit 2 naming what the directory holds`, () => {
      const r = runCli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`holds ${holds} \\(from recur [^)]+\\)`));
      assert.match(r.stderr, new RegExp(`written by recur ${wanted} train`));
      assert.doesNotMatch(r.stderr, /modelTopology|class_name/);
    });

  it('the right kind still loads', () => {
    assert.match(runCliOk(['classify', 'predict', classifier, 'a good film']), /^(pos|neg)\t/);
    assert.equal(runCliOk(['seq2seq', 'predict', translator, 'the cat']).split('\n').length, 2);
  });
});
