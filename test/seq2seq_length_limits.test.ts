/**
 * The length limits of a word-level pairs model, as README's translation recipe sets them: `--max-target-length`
 * counts whitespace-separated words, and a 'wordpunct' word splits into several tokens ("chien." is `chien ￭.`), so
 * the longest training target has more tokens than the limit has words. The model must still load everywhere.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSeq2SeqDir } from '../src/node/seq2seq_dir.js';
import { runCli } from './cli_helpers.js';

const root = mkdtempSync(join(tmpdir(), 'recur-seq2seq-limits-'));
after(() => rmSync(root, { recursive: true, force: true }));
const dir = join(root, 'fra');

before(() => {
  const en = ['cat', 'dog', 'bird', 'fish'];
  const fr = ['chat', 'chien', 'oiseau', 'poisson'];
  const pairs: string[] = [];
  // Five words and seven tokens a target: "le chat, et le chien." is `le chat ￭, et le chien ￭.`.
  for (let i = 0; i < 80; i++)
    pairs.push(`the ${en[i % 4]}, the ${en[(i >> 2) % 4]}.\tle ${fr[i % 4]}, et le ${fr[(i >> 2) % 4]}.`);
  writeFileSync(join(root, 'pairs.tsv'), pairs.join('\n') + '\n');
  const r = runCli([
    'seq2seq',
    'train',
    join(root, 'pairs.tsv'),
    '--out',
    dir,
    '--max-source-length',
    '4',
    '--max-target-length',
    '5',
    '--units',
    '4',
    '--embedding-dim',
    '4',
    '--epochs',
    '1',
    '--threads',
    '1',
    '-q',
  ]);
  assert.equal(r.code, 0, r.stderr);
});

describe('a wordpunct model whose targets have more tokens than --max-target-length words', () => {
  it('loads in the library, with its decoding limit in tokens', () => {
    const { app } = loadSeq2SeqDir(dir);
    assert.equal(app.settings.maxTargetLength, 5);
    assert.equal(app.longestTarget, 7);
  });

  it('a target over the limit is named in words, as the limit counts them', () => {
    const over = join(root, 'over.tsv');
    writeFileSync(over, 'the cat.\tle chat, et le chien et le chat.\n'.repeat(20));
    const r = runCli([
      'seq2seq',
      'train',
      over,
      '--out',
      join(root, 'over'),
      '--max-target-length',
      '5',
      '-q',
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /line 1: the target has 8 words, more than the limit of 5/);
  });

  it('is evaluated and decoded by the CLI', () => {
    const evaluated = runCli(['seq2seq', 'eval', dir, '--json', '--threads', '1']);
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.equal(typeof (JSON.parse(evaluated.stdout) as { wer: unknown }).wer, 'number');
    const predicted = runCli(['seq2seq', 'predict', dir, 'the cat, the dog.', '--threads', '1']);
    assert.equal(predicted.code, 0, predicted.stderr);
  });
});
