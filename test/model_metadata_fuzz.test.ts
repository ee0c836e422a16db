/**
 * Seeded fuzzing of what a classifier's and a seq2seq model's model.json carry besides the network
 * (userDefinedMetadata: classes, tokenizers' tokens, settings, longest target): random fields replaced by other types,
 * out-of-range numbers, lists lengthened, shortened or repeated. Each damaged directory either loads a model that
 * classifies or translates (in bounded time: decoding stops within the model's limits) or is refused with an
 * InvalidInputError naming the directory — never a raw Error from deep in the network, never wrong answers from
 * lists that no longer fit the weights (a token list longer than the embedding crashed; a class too many read the
 * probabilities with the wrong stride; a huge longestTarget decoded for hours).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import { parseClassifierMetadata } from '../src/classify/metadata.js';
import { classifyTexts } from '../src/classify/predict.js';
import { loadClassifierDir } from '../src/node/classifier_dir.js';
import { loadSeq2SeqDir } from '../src/node/seq2seq_dir.js';
import { DECODE_MARGIN } from '../src/seq2seq/seq2seq.js';
import { runCli } from './cli_helpers.js';
import { damagedMetadataCopy, editedMetadataCopy, type Json } from './json_paths.js';

const SEED = 20261206;
const MUTATIONS = 150;
const root = mkdtempSync(join(tmpdir(), 'recur-metadata-fuzz-'));
after(() => rmSync(root, { recursive: true, force: true }));
const classifier = join(root, 'classifier');
const seq2seq = join(root, 'seq2seq');

type Meta = Record<string, Json>;

before(() => {
  const rng = new Random(SEED);
  const en = ['cat', 'dog', 'bird', 'fish', 'tree', 'sun'];
  const fr = ['chat', 'chien', 'oiseau', 'poisson', 'arbre', 'soleil'];
  const pairs: string[] = [];
  for (let i = 0; i < 120; i++) {
    const [a, b] = [rng.int(6), rng.int(6)];
    pairs.push(`the ${en[a]} and the ${en[b]}.\tle ${fr[a]} et le ${fr[b]}.`);
  }
  writeFileSync(join(root, 'pairs.tsv'), pairs.join('\n') + '\n');
  const reviews = ['text,label'];
  for (let i = 0; i < 120; i++)
    reviews.push(`${i % 2 ? 'good great fine' : 'bad awful poor'} film ${i},${i % 2 ? 'pos' : 'neg'}`);
  writeFileSync(join(root, 'reviews.csv'), reviews.join('\n') + '\n');
  const quick = ['--epochs', '1', '--threads', '1', '-q'];
  for (const args of [
    [
      'classify',
      'train',
      join(root, 'reviews.csv'),
      '--out',
      classifier,
      '--units',
      '4',
      '--embedding-dim',
      '4',
    ],
    [
      'seq2seq',
      'train',
      join(root, 'pairs.tsv'),
      '--out',
      seq2seq,
      '--units',
      '8',
      '--embedding-dim',
      '4',
      '--batch-size',
      '8',
    ],
  ]) {
    const r = runCli([...args, ...quick]);
    assert.equal(r.code, 0, r.stderr);
  }
});

function refusedCleanly(e: unknown, copy: string, where: string): void {
  assert.ok(e instanceof InvalidInputError, `${where}: ${(e as Error).stack}`);
  assert.ok(e.message.includes(copy), `${where}: the message names no directory: ${e.message}`);
}

describe('classifier and seq2seq metadata (seeded fuzz)', () => {
  it(`classifier: ${MUTATIONS} damaged metadata classify correctly or are refused naming the directory`, () => {
    const rng = new Random(SEED);
    for (let c = 0; c < MUTATIONS; c++) {
      const copy = join(root, `damaged-${c}`);
      const what = damagedMetadataCopy(classifier, copy, rng);
      const where = `seed ${SEED} case ${c}: ${what}`;
      try {
        const l = loadClassifierDir(copy);
        const [r] = classifyTexts(l.models, l.meta, ['good film'], 8, l.tokenizer);
        // Probabilities read with the model's own stride: one per class, summing to 1 for softmax.
        assert.deepEqual(Object.keys(r.probabilities).sort(), [...l.meta.classes].sort(), where);
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        refusedCleanly(e, copy, where);
      }
    }
  });

  it(`seq2seq: ${MUTATIONS} damaged metadata translate in bounded time or are refused naming the directory`, () => {
    const rng = new Random(SEED + 1);
    for (let c = 0; c < MUTATIONS; c++) {
      const copy = join(root, `damaged-${c}`);
      const what = damagedMetadataCopy(seq2seq, copy, rng);
      const where = `seed ${SEED + 1} case ${c}: ${what}`;
      try {
        const l = loadSeq2SeqDir(copy);
        const [t] = l.app.translate(['the cat and the dog.']);
        assert.ok(t.tokens.length <= l.app.settings.maxTargetLength + DECODE_MARGIN, where);
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        refusedCleanly(e, copy, where);
      }
    }
  });

  it('regressions: lists that no longer fit the weights, and a huge longestTarget, are refused naming the field', () => {
    const cases: [string, string, (m: Meta) => void, RegExp][] = [
      [
        'classifier',
        'one token more',
        (m) => (m.tokenizer as { tokens: string[] }).tokens.push('zzz'),
        /userDefinedMetadata\.tokenizer\.tokens: \d+ tokens, but the model's embedding reads \d+/,
      ],
      [
        'classifier',
        'one class more',
        (m) => (m.classes as string[]).push('zzz'),
        /userDefinedMetadata\.classes: a single-label sigmoid classifier has 2 classes, not 3/,
      ],
      [
        'seq2seq',
        'one source token more',
        (m) => (m.sourceTokens as string[]).push('zzz'),
        /userDefinedMetadata\.sourceTokens: \d+ tokens, but the model's layer 'source_embedding' has \d+/,
      ],
      [
        'seq2seq',
        'one target token fewer',
        (m) => (m.targetTokens as string[]).pop(),
        /userDefinedMetadata\.targetTokens: \d+ tokens, but the model's layer 'target_embedding' has \d+/,
      ],
      [
        'seq2seq',
        'longestTarget 1e9',
        (m) => (m.longestTarget = 1e9),
        // A wordpunct model's limit counts words, not tokens: only the largest limit bounds its tokens.
        /userDefinedMetadata\.longestTarget: 1000000000 is more than 100000 tokens, the most any target may have/,
      ],
    ];
    for (const [kind, name, change, message] of cases) {
      const copy = editedMetadataCopy(
        kind === 'classifier' ? classifier : seq2seq,
        join(root, name.replace(/ /g, '-')),
        change,
      );
      const load = (): unknown => (kind === 'classifier' ? loadClassifierDir(copy) : loadSeq2SeqDir(copy));
      assert.throws(load, (e: unknown) => e instanceof InvalidInputError && message.test(e.message), name);
    }
  });

  it("regressions: a classifier checkpoint's random state of all zeros is refused, as text and seq2seq ones are", () => {
    const json = JSON.parse(readFileSync(join(classifier, 'checkpoint', 'model.json'), 'utf8')) as {
      userDefinedMetadata: Meta;
    };
    const meta = json.userDefinedMetadata;
    assert.doesNotThrow(() => parseClassifierMetadata(meta, 'ckpt'));
    (meta.state as Meta).trainRng = [0, 0, 0, 0];
    assert.throws(
      () => parseClassifierMetadata(meta, 'ckpt'),
      (e: unknown) =>
        e instanceof InvalidInputError && /ckpt: .*state\.trainRng.*not all zeros/.test(e.message),
    );
  });

  it('the commands exit 2 naming model.json and the field, with no stack trace', () => {
    const cls = editedMetadataCopy(classifier, join(root, 'cli-classifier'), (m) =>
      (m.tokenizer as { tokens: string[] }).tokens.push('zzz'),
    );
    const s2s = editedMetadataCopy(seq2seq, join(root, 'cli-seq2seq'), (m) =>
      (m.sourceTokens as string[]).push('zzz'),
    );
    for (const args of [
      ['classify', 'predict', cls, 'a good film'],
      ['seq2seq', 'predict', s2s, 'the cat and the dog.'],
    ]) {
      const r = runCli([...args, '--threads', '1']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /model\.json: userDefinedMetadata\.\w+/, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at |TypeError|RangeError/, args.join(' '));
    }
  });
});
