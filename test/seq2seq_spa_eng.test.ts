/**
 * Real pairs through recur's pairs loader: Tatoeba's English–Spanish sentences (../shared/eval/spa-eng.txt, 118,964
 * pairs as ../shared/eval/PROVENANCE.md lists them; absent outside this workspace, where the test skips). No
 * training: what reading the file reports — every line a pair, none bad, none over the word limit of a new model —
 * and vocabularies of the size a sentence corpus of this size has.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { readPairsFile } from '../src/node/seq2seq_files.js';
import { MAX_WORD_LENGTH } from '../src/seq2seq/model.js';
import { groupExamples } from '../src/seq2seq/pairs.js';
import { Tokenizer } from '../src/seq2seq/tokenizer.js';

const FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'eval', 'spa-eng.txt');

describe(
  'Tatoeba English–Spanish pairs',
  { skip: existsSync(FILE) ? false : '../shared/eval is absent' },
  () => {
    it('read whole: every line a pair, no bad line, vocabularies of a sentence corpus', () => {
      const parsed = readPairsFile(FILE, {
        maxSourceWordLength: MAX_WORD_LENGTH,
        maxTargetWordLength: MAX_WORD_LENGTH,
      });
      assert.equal(parsed.pairs.length, 118_964, 'the pair count PROVENANCE.md gives');
      assert.deepEqual(parsed.skipped, []);
      assert.deepEqual(parsed.pairs.slice(0, 2), [
        { source: 'Go.', target: 'Ve.', line: 1 },
        { source: 'Go.', target: 'Vete.', line: 2 },
      ]);
      // Tatoeba translates many English sentences more than once: those are one source with accepted alternatives.
      const examples = groupExamples(parsed.pairs);
      assert.ok(examples.length > 0.7 * parsed.pairs.length && examples.length < parsed.pairs.length);
      assert.deepEqual(examples[0], { source: 'Go.', targets: ['Ve.', 'Vete.', 'Vaya.', 'Váyase.'] });
      const english = Tokenizer.fit(
        examples.map((e) => e.source),
        'wordpunct',
        undefined,
        'NFC',
      );
      const spanish = Tokenizer.fit(
        parsed.pairs.map((p) => p.target),
        'wordpunct',
        undefined,
        'NFC',
      );
      const englishWords = Tokenizer.fit(
        examples.map((e) => e.source),
        'words',
        undefined,
        'NFC',
      );
      // Thousands of words, not characters or whole sentences; Spanish inflects more than English.
      assert.ok(english.size > 5_000 && english.size < 50_000, `English: ${english.size}`);
      assert.ok(spanish.size > english.size && spanish.size < 100_000, `Spanish: ${spanish.size}`);
      // Punctuation split off: "cold.", "cold?" and "cold" are one word, so fewer words than whitespace splitting.
      assert.ok(english.size < englishWords.size, `${english.size} vs ${englishWords.size}`);
      assert.deepEqual(english.split("Don't go!"), ['Don', "\uFFED'\uFFED", 't', 'go', '\uFFED!']);
    });
  },
);
