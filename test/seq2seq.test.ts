/**
 * The seq2seq library's data side and metrics: tokenizers, TSV pairs and their errors, CMUdict parsing (from the npm
 * package), the split by source, length-bucketed batches, and every metric on hand-computed cases.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { cmudict, parseCsvPairs } from '../src/node/seq2seq_files.js';
import { PairDataset, encodePairs, pairBatch } from '../src/seq2seq/data.js';
import {
  bleu,
  chrF,
  editDistance,
  sequenceErrorRate,
  tokenErrorRate,
  withoutStress,
} from '../src/seq2seq/metrics.js';
import {
  groupExamples,
  parseCmudict,
  parseTsvPairs,
  splitExamples,
  trainingExamples,
} from '../src/seq2seq/pairs.js';
import { G2P_SETTINGS, checkSettings } from '../src/seq2seq/model.js';
import { CMUDICT_DATA, typedSources } from '../src/seq2seq/seq2seq.js';
import { Random } from '../src/core/random.js';
import { END, JOINER, PAD, START, Tokenizer, UNK } from '../src/seq2seq/tokenizer.js';

const toks = (s: string): string[] => (s === '' ? [] : s.split(' '));

describe('tokenizers', () => {
  it('characters, words and symbols, with the reserved ids first', () => {
    const c = Tokenizer.fit(['abc', 'cab'], 'chars');
    assert.deepEqual(c.tokens, ['<pad>', '<start>', '<end>', '<unk>', 'a', 'b', 'c']);
    assert.deepEqual(Array.from(c.encode('cab')), [6, 4, 5]);
    assert.equal(c.decode([START, 6, 4, END, 5]), 'ca');
    assert.throws(() => c.encode('abd'), /unknown character 'd'/);
    assert.deepEqual(Array.from(c.encode('abd', 'unk')), [4, 5, UNK]);
    const w = Tokenizer.fit(['le chat', 'le  chien '], 'words');
    assert.deepEqual(w.tokens.slice(4), ['le', 'chat', 'chien']);
    assert.deepEqual(Array.from(w.encode('le loup')), [4, UNK]);
    assert.equal(w.decode([4, 6, PAD]), 'le chien');
    const s = Tokenizer.fit(['HH AH0 L OW1'], 'symbols');
    assert.throws(() => s.encode('HH EH1'), /unknown symbol 'EH1'/);
    assert.throws(() => new Tokenizer('chars', ['a', 'b']), InvalidInputError);
  });

  it('a capped word vocabulary keeps the most frequent words, ties in order of first appearance', () => {
    const texts = ['a rare b', 'b c a', 'c b d', 'x y'];
    const w = Tokenizer.fit(texts, 'words', 7);
    // b ×3; a, c ×2; rare, d, x, y ×1 — three words fit beside the four special tokens.
    assert.deepEqual(w.tokens.slice(4), ['a', 'b', 'c']);
    assert.deepEqual(Array.from(w.encode('a rare c')), [4, UNK, 6]);
    assert.deepEqual(Tokenizer.fit(texts, 'words', 8).tokens.slice(4), ['a', 'rare', 'b', 'c']);
    assert.deepEqual(Tokenizer.fit(texts, 'words', 100).tokens, Tokenizer.fit(texts, 'words').tokens);
    assert.throws(() => Tokenizer.fit(texts, 'chars', 10), /applies to words, not chars/);
    assert.throws(() => Tokenizer.fit(texts, 'words', 4), /above 4/);
  });
});

describe('wordpunct tokens', () => {
  const J = JOINER;
  const empty = new Tokenizer('wordpunct', ['<pad>', '<start>', '<end>', '<unk>']);

  it('splits punctuation off words, marked with a joiner on the side it was written against', () => {
    const cases: [string, string[]][] = [
      ['I am cold.', ['I', 'am', 'cold', `${J}.`]],
      ['Où est-il ?', ['Où', 'est', `${J}-${J}`, 'il', '?']],
      ["Don't go...", ['Don', `${J}'${J}`, 't', 'go', `${J}...`]],
      ['"Leave me," she said.', [`"${J}`, 'Leave', 'me', `${J},"`, 'she', 'said', `${J}.`]],
      ['(a) b', [`(${J}`, 'a', `${J})`, 'b']],
      ['!!', ['!!']],
      ['naïve café_2', ['naïve', 'café_2']],
      ['𝒜x😀!', ['𝒜x', `${J}😀!`]],
      ['  ', []],
    ];
    for (const [text, tokens] of cases) {
      assert.deepEqual(empty.split(text), tokens, text);
      assert.equal(empty.join(tokens), text.trim(), text);
    }
  });

  it('"cold", "cold." and "cold?" share one word, and unknown words read as <unk>', () => {
    const w = Tokenizer.fit(['I am cold.', 'cold?', 'cold'], 'wordpunct');
    assert.deepEqual(w.tokens.slice(4), ['I', 'am', 'cold', `${J}.`, `${J}?`]);
    assert.deepEqual(Array.from(w.encode('cold, I am!')), [6, UNK, 4, 5, UNK]);
    assert.equal(w.decode(w.encode('I am cold?')), 'I am cold?');
    assert.deepEqual(w.unknownTokens('am I hot?'), ['hot']);
    // Named as written, without the joiners ("¡" and "¿!" are unknown, "?" is not).
    assert.deepEqual(w.unknownTokens('¡cold ¿! I?'), ['¡', '¿!']);
    assert.deepEqual(Tokenizer.fit(['a.', 'a.', 'b!'], 'wordpunct', 6).tokens.slice(4), ['a', `${J}.`]);
  });

  it('joins its own tokens back to the text with single spaces (seeded fuzz)', () => {
    const rng = new Random(13);
    const pieces = [
      'le',
      'chat',
      'Où',
      'naïve',
      '42',
      '_',
      "'",
      '-',
      '.',
      '...',
      '?',
      '!',
      '"',
      '(',
      ')',
      '«',
      '»',
      ',',
      '€',
      '😀',
      '𝒜',
      'e\u0301',
    ];
    const spaces = [' ', '  ', '\t', '\u202f', '\u00a0', ''];
    for (let n = 0; n < 2000; n++) {
      let text = '';
      for (let k = rng.int(12); k >= 0; k--)
        text += pieces[rng.int(pieces.length)] + spaces[rng.int(spaces.length)];
      const tokens = empty.split(text);
      const expected = text.trim().split(/\s+/).join(' ');
      assert.equal(empty.join(tokens), expected, JSON.stringify(text));
      for (const t of tokens) assert.ok(t !== '' && !/\s/.test(t), JSON.stringify(text));
    }
    // The text's own joiners are not kept (they would be read as the tokenizer's).
    assert.equal(empty.join(empty.split(`a${J}b ${J}`)), 'ab');
  });
});

describe('pairs', () => {
  it('reads TSV lines, ignores extra columns and blank lines, and names the bad line', () => {
    const { pairs } = parseTsvPairs('a\tb\tnote\n\nc d\te f\n', 'x.tsv');
    assert.deepEqual(
      pairs.map((p) => [p.source, p.target, p.line]),
      [
        ['a', 'b', 1],
        ['c d', 'e f', 3],
      ],
    );
    assert.throws(
      () => parseTsvPairs('a\tb\nno tab here\n', 'x.tsv'),
      /x\.tsv: line 2: expected source<TAB>target, found no tab/,
    );
    assert.throws(() => parseTsvPairs('a\tb\n\t b\n', 'x.tsv'), /line 2: the source is empty/);
    assert.throws(() => parseTsvPairs('a\t \n', 'x.tsv'), /line 1: the target is empty/);
    assert.throws(
      () => parseTsvPairs('abcdef\tb\n', 'x.tsv', { maxSourceLength: 5 }),
      /line 1: the source has 6 tokens, more than the limit of 5/,
    );
    const skipped = parseTsvPairs('a\tb\nbad\nabcdef\tb\nc\td\n', 'x.tsv', {
      skipBad: true,
      maxSourceLength: 5,
    });
    assert.equal(skipped.pairs.length, 2);
    assert.deepEqual(
      skipped.skipped.map((s) => s.line),
      [2, 3],
    );
    assert.throws(() => parseTsvPairs('\n\n', 'x.tsv'), /no source<TAB>target pairs/);
  });

  it('CSV: a row of blank fields is a blank line, as in TSV; a bad row is named by the line it starts on', () => {
    // Spreadsheets export empty rows as ',,'; a row of spaces is as blank as TSV's ' \t ' line.
    const text = 'source,target,n\r\n"a\r\nb",x,1\r\n,,\r\n  ,  \r\n"c\r\n\r\nd",,2\r\ne,f,3\r\n';
    const normalised = text.replaceAll('\r\n', '\n'); // as readTextFile gives it
    assert.deepEqual(parseCsvPairs(normalised, 'x.csv', { skipBad: true }), {
      pairs: [
        { source: 'a\nb', target: 'x', line: 2 },
        { source: 'e', target: 'f', line: 9 },
      ],
      skipped: [{ line: 6, reason: 'the target is empty' }],
    });
    assert.throws(() => parseCsvPairs(normalised, 'x.csv'), {
      message: 'x.csv: line 6: the target is empty (or pass --skip-bad to skip bad lines)',
    });
    // Given CRLF text as it is (csv-parse counts a CRLF inside a quoted field as two lines), the same lines.
    const raw = parseCsvPairs(text, 'x.csv', { skipBad: true });
    assert.deepEqual(
      raw.pairs.map((p) => p.line),
      [2, 9],
    );
    assert.deepEqual(raw.skipped, [{ line: 6, reason: 'the target is empty' }]);
    assert.deepEqual(parseTsvPairs('a\tb\n \t \nc\td\n', 'x.tsv').pairs.length, 2);
  });

  it('TSV: a lone CR ends a line, as LF and CRLF do (a classic Mac file is not one pair)', () => {
    assert.deepEqual(parseTsvPairs('a\tb\rc\td\r\ne\tf\n\rg\th\r', 'x.tsv').pairs, [
      { source: 'a', target: 'b', line: 1 },
      { source: 'c', target: 'd', line: 2 },
      { source: 'e', target: 'f', line: 3 },
      { source: 'g', target: 'h', line: 5 },
    ]);
  });

  it('CSV: a quote inside an unquoted field is text, as recur classify and Python read it', () => {
    const text = 'source,target\nhe said "hi",il a dit "salut"\n"quoted, ""inner""",x\n';
    assert.deepEqual(parseCsvPairs(text, 'x.csv').pairs, [
      { source: 'he said "hi"', target: 'il a dit "salut"', line: 2 },
      { source: 'quoted, "inner"', target: 'x', line: 3 },
    ]);
  });

  it('a file whose every line --skip-bad skipped says so, not only that it has no pairs', () => {
    assert.throws(() => parseTsvPairs('abc\tx\n\nbad\n', 'x.tsv', { skipBad: true, maxSourceLength: 2 }), {
      message:
        'x.tsv: no source<TAB>target pairs left after --skip-bad skipped 2 bad line(s) (first: line 1, the source has 3 tokens, more than the limit of 2)',
    });
    assert.throws(() => parseCsvPairs('source,target\n,a\nb,\n', 'x.csv', { skipBad: true }), {
      message:
        'x.csv: no pairs left after --skip-bad skipped 2 bad line(s) (first: line 2, the source is empty)',
    });
    assert.throws(() => parseCsvPairs('source,target\n', 'x.csv', { skipBad: true }), {
      message: 'x.csv: expected a header row and at least one pair',
    });
  });

  it('groups repeated sources into alternatives and splits by source with the seed', () => {
    const ex = groupExamples([
      { source: 'a', target: 'x' },
      { source: 'b', target: 'y' },
      { source: 'a', target: 'z' },
      { source: 'a', target: 'x' },
    ]);
    assert.deepEqual(ex, [
      { source: 'a', targets: ['x', 'z'] },
      { source: 'b', targets: ['y'] },
    ]);
    const many = Array.from({ length: 1000 }, (_, i) => ({ source: `w${i}`, targets: ['t'] }));
    const s1 = splitExamples(many, 7);
    const s2 = splitExamples(many, 7);
    assert.deepEqual(s1, s2);
    assert.equal(s1.validation.length, 50);
    assert.equal(s1.test.length, 50);
    const seen = new Set<string>();
    for (const e of [...s1.train, ...s1.validation, ...s1.test]) {
      assert.ok(!seen.has(e.source), `${e.source} in two splits`);
      seen.add(e.source);
    }
    assert.equal(seen.size, 1000);
    assert.notDeepEqual(splitExamples(many, 8).test, s1.test);
  });

  it('a final refit trains on the validation split after the training split, never on the test split', () => {
    const many = Array.from({ length: 200 }, (_, i) => ({ source: `w${i}`, targets: ['t'] }));
    const s = splitExamples(many, 3);
    assert.equal(trainingExamples(s, false), s.train);
    assert.deepEqual(trainingExamples(s, true), [...s.train, ...s.validation]);
    // The settings say so, and only with the cosine schedule: nothing is left to validate for a plateau.
    const cosine = { ...G2P_SETTINGS, lrSchedule: 'cosine', lrDecayEpochs: 20, trainOnValidation: true };
    assert.equal(checkSettings(cosine).trainOnValidation, true);
    assert.throws(
      () => checkSettings({ ...G2P_SETTINGS, trainOnValidation: true }),
      (e: Error) =>
        e instanceof InvalidInputError && /trainOnValidation: .*needs lrSchedule cosine/.test(e.message),
    );
    // Files written before the setting read as runs that validated.
    const older: Partial<typeof G2P_SETTINGS> = { ...G2P_SETTINGS };
    delete older.trainOnValidation;
    assert.equal(checkSettings(older).trainOnValidation, false);
  });

  it("reads typed words as CMUdict spells them (trimmed, lowercase, accents off); other models' sources trimmed, as training reads them", () => {
    assert.deepEqual(typedSources(CMUDICT_DATA, [' Café ', 'NAÏVE', "O'Neil", 'Ångström']), [
      'cafe',
      'naive',
      "o'neil",
      'angstrom',
    ]);
    assert.deepEqual(typedSources('pairs.tsv', [' Café \t', 'la  vie']), ['Café', 'la  vie']);
  });

  it('names the tokens a tokenizer does not know, once each', () => {
    const t = Tokenizer.fit(['abc'], 'chars');
    assert.deepEqual(t.unknownTokens('abxcxy'), ['x', 'y']);
    assert.deepEqual(t.unknownTokens('cab'), []);
  });

  it('parses CMUdict: lowercase letters, stress kept, alternates accepted, punctuated entries left out', () => {
    const text =
      ";;; comment\nA  AH0\nA(1)  EY1\nA.  EY1\nAARON'S  EH1 R AH0 N Z\nREAD  R EH1 D\nREAD(1)  R IY1 D\n";
    const { examples, skipped } = parseCmudict(text);
    assert.equal(skipped, 1);
    assert.deepEqual(examples, [
      { source: 'a', targets: ['AH0', 'EY1'] },
      { source: "aaron's", targets: ['EH1 R AH0 N Z'] },
      { source: 'read', targets: ['R EH1 D', 'R IY1 D'] },
    ]);
    assert.throws(() => parseCmudict('BROKEN\n', 'd.txt'), /d\.txt: line 1/);
  });

  it('loads the dictionary the npm package ships', () => {
    const { examples } = cmudict();
    assert.ok(examples.length > 100_000, `${examples.length} words`);
    const hello = examples.find((e) => e.source === 'hello');
    assert.ok(hello && hello.targets.includes('HH AH0 L OW1'));
    assert.ok(examples.some((e) => e.targets.length > 1));
  });
});

describe('batches', () => {
  const pairs = Array.from({ length: 50 }, (_, i) => ({
    source: 'abcdefgh'.slice(0, 1 + (i % 8)),
    target: 'x y z'.slice(0, 1 + 2 * (i % 3)),
  }));
  const src = Tokenizer.fit(
    pairs.map((p) => p.source),
    'chars',
  );
  const tgt = Tokenizer.fit(
    pairs.map((p) => p.target),
    'symbols',
  );
  const data = encodePairs(pairs, src, tgt);

  it('teacher forcing: <start> + target in, target + <end> out, padded with 0', () => {
    const b = pairBatch(data, [2, 0]); // targets 'x y z' and 'x'
    assert.deepEqual(b.xs[1].shape, [2, 4]);
    const [x, y, z] = ['x', 'y', 'z'].map((t) => tgt.tokens.indexOf(t));
    assert.deepEqual(Array.from(b.xs[1].data), [START, x, y, z, START, x, PAD, PAD]);
    assert.deepEqual(Array.from(b.ys[0].data), [x, y, z, END, x, END, PAD, PAD]);
    assert.deepEqual(b.xs[0].shape, [2, 3]);
  });

  it('length-bucketed epochs: every pair once, the same batches when asked again, another order next epoch', () => {
    const ds = new PairDataset(data, { batchSize: 8, seed: 3, poolBatches: 2 });
    const e0 = ds.batchRows(0);
    assert.deepEqual(ds.batchRows(0), e0);
    assert.notDeepEqual(ds.batchRows(1), e0);
    const all = e0.flatMap((r) => Array.from(r)).sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: 50 }, (_, i) => i),
    );
    // Within a pool the sources are sorted by length: each batch spans few lengths.
    const spread = e0.map((rows) => {
      const lens = Array.from(rows, (r) => data.sources[r].length);
      return Math.max(...lens) - Math.min(...lens);
    });
    assert.ok(spread.reduce((a, b) => a + b, 0) / spread.length < 4, `spreads ${spread}`);
  });
});

describe('metrics', () => {
  it('drops only the stress digit of an ARPAbet token', () => {
    assert.deepEqual(['AH0', 'EY1', 'OW2', 'K', 'ZH', ''].map(withoutStress), [
      'AH',
      'EY',
      'OW',
      'K',
      'ZH',
      '',
    ]);
  });

  it('edit distance', () => {
    assert.equal(editDistance(toks('a b c'), toks('a b c')), 0);
    assert.equal(editDistance(toks('k i t t e n'), toks('s i t t i n g')), 3);
    assert.equal(editDistance([], toks('a b')), 2);
  });

  it('sequence and token error rates with several accepted references', () => {
    const hyps = [toks('R IY1 D'), toks('HH AH0 L OW1'), toks('K AE1 T')];
    const refs = [
      [toks('R EH1 D'), toks('R IY1 D')],
      [toks('HH EH0 L OW1')],
      [toks('K AE1 T S'), toks('K AA1 T')],
    ];
    assert.equal(sequenceErrorRate(hyps, refs), 2 / 3);
    // Edits: 0 (second reference), 1 of 4, 1 of 4 (both references 1 away: the shorter, 3 tokens).
    assert.equal(tokenErrorRate(hyps, refs), (0 + 1 + 1) / (3 + 4 + 3));
    // Only empty references: no length to divide by; an output with edits is wrong (1), as sacreBLEU's TER says.
    assert.equal(tokenErrorRate([toks('a b')], [[[]]]), 1);
    assert.equal(tokenErrorRate([[]], [[[]]]), 0);
    assert.equal(tokenErrorRate([], []), 0);
  });

  it('BLEU on hand-computed cases', () => {
    assert.equal(bleu([toks('the cat sat on the mat')], [[toks('the cat sat on the mat')]]), 100);
    // p1 = 4/5, p2 = 3/4, p3 = 2/3, p4 = 1/2; c = 5 < r = 6: BP = e^(1 − 6/5).
    const expected = 100 * Math.exp(1 - 6 / 5) * Math.pow((4 / 5) * (3 / 4) * (2 / 3) * (1 / 2), 1 / 4);
    assert.ok(Math.abs(bleu([toks('a b c d e')], [[toks('a b c d f g')]]) - expected) < 1e-9);
    // Clipping: 'the' ×7 against a reference holding it twice; no bigram matches → 0 (no smoothing).
    assert.equal(bleu([toks('the the the the the the the')], [[toks('the cat is on the mat')]]), 0);
    // The closest reference length sets the brevity penalty, and counts clip against the best reference.
    const multi = bleu([toks('a b c d')], [[toks('a b c d e f g h'), toks('a b c d')]]);
    assert.equal(multi, 100);
  });

  it('chrF on hand-computed cases', () => {
    assert.equal(chrF(['ab'], [['ab']]), 100);
    // n = 1: P = R = 1/2; n = 2: P = R = 0; n ≥ 3: no n-grams, not counted → P = R = 1/4, F2 = 1/4.
    assert.ok(Math.abs(chrF(['ab'], [['ac']]) - 25) < 1e-9);
    // Whitespace is removed; the best of two references is used.
    assert.equal(chrF(['a b'], [['xyz', 'ab']]), 100);
    // Recall weighs more than precision (β = 2): 'ab' vs 'abcd': n=1 P 1 R 1/2, n=2 P 1 R 1/3 → P 1, R 5/12.
    const P = 1;
    const R = (1 / 2 + 1 / 3) / 2;
    assert.ok(Math.abs(chrF(['ab'], [['abcd']]) - (100 * 5 * P * R) / (4 * P + R)) < 1e-9);
  });
});
