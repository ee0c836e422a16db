/**
 * Unicode normalisation: a seq2seq model reads every text in NFC (settings.normalization), and so does a classifier's
 * tokenizer (its options.normalization), so a word typed composed (é, U+00E9) or decomposed (e + U+0301) is the same
 * tokens at training, decoding, classifying and scoring; models saved before the setting existed read text as it
 * is, as they were trained.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Tokenizer as ClassifyTokenizer } from '../src/classify/tokenizer.js';
import { G2P_SETTINGS, PAIRS_SETTINGS, checkSettings } from '../src/seq2seq/model.js';
import { limitLength } from '../src/seq2seq/seq2seq.js';
import { Tokenizer } from '../src/seq2seq/tokenizer.js';
import { pairs, reviews, runCli } from './cli_helpers.js';

const nfc = (t: string): string => t.normalize('NFC');
const nfd = (t: string): string => t.normalize('NFD');
const CAFE = nfc('café');

describe('seq2seq tokenizers and settings', () => {
  it('an NFC tokenizer reads composed and decomposed text as the same tokens; without, as it is', () => {
    for (const mode of ['chars', 'words', 'wordpunct'] as const) {
      const t = Tokenizer.fit([`un ${nfd('café')} noir`, `le ${CAFE}`], mode, undefined, 'NFC');
      assert.ok(
        t.tokens.every((tok) => tok === nfc(tok)),
        `${mode}: the vocabulary is in NFC`,
      );
      assert.deepEqual(t.split(nfd('un café')), t.split(nfc('un café')), mode);
      assert.deepEqual(t.unknownTokens(nfd('un café')), [], mode);
      const asIs = Tokenizer.fit([`le ${CAFE}`], mode);
      assert.equal(asIs.normalization, 'none');
      assert.notDeepEqual(asIs.split(nfd('café')), asIs.split(CAFE), mode);
    }
  });

  it('new models normalise to NFC; a model file without the setting keeps reading text as it is', () => {
    assert.equal(G2P_SETTINGS.normalization, 'NFC');
    assert.equal(PAIRS_SETTINGS.normalization, 'NFC');
    const older: Record<string, unknown> = { ...PAIRS_SETTINGS };
    delete older.normalization;
    assert.equal(checkSettings(older).normalization, 'none');
  });

  it("the length limits count an NFC model's characters composed", () => {
    assert.equal(limitLength('chars', 'NFC')(nfd('café')), 4);
    assert.equal(limitLength('chars', 'none')(nfd('café')), 5);
  });
});

describe('recur seq2seq with composed and decomposed text', () => {
  let dir = '';
  let model = '';
  const lines = (n: number): string => {
    const words = ['café', 'thé', 'crème', 'pâte', 'noël', 'maïs'];
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const w = words[i % words.length];
      const v = words[Math.floor(i / words.length) % words.length];
      // Every other line decomposed, on both sides.
      const line = `un ${w} et un ${v}\tle ${w} et le ${v}`;
      out.push(i % 2 === 0 ? nfc(line) : nfd(line));
    }
    return out.join('\n') + '\n';
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-s2s-unicode-'));
    writeFileSync(join(dir, 'pairs.tsv'), lines(80));
    model = join(dir, 'model');
    const t = runCli(
      ['seq2seq', 'train', join(dir, 'pairs.tsv'), '--out', model, '--epochs', '1', '--units', '4'].concat([
        '--embedding-dim',
        '4',
        '--threads',
        '1',
        '--quiet',
      ]),
    );
    assert.equal(t.code, 0, t.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trains on one token per word, and predict reads a decomposed source as the composed one', () => {
    const meta = (
      JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')) as {
        userDefinedMetadata: {
          settings: { normalization: string };
          sourceTokens: string[];
          targetTokens: string[];
        };
      }
    ).userDefinedMetadata;
    assert.equal(meta.settings.normalization, 'NFC');
    for (const tokens of [meta.sourceTokens, meta.targetTokens]) {
      assert.equal(tokens.filter((t) => nfc(t) === CAFE).length, 1, 'café is one token');
      assert.ok(tokens.every((t) => t === nfc(t)));
    }
    const p = runCli([
      'seq2seq',
      'predict',
      model,
      nfc('un café et un thé'),
      nfd('un café et un thé'),
      '--json',
    ]);
    assert.equal(p.code, 0, p.stderr);
    const [a, b] = p.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { source: string; output: string; score: number; unknown?: string[] });
    assert.equal(b.unknown, undefined, 'no unknown tokens in the decomposed source');
    assert.equal(b.source, nfd('un café et un thé'), 'the source is named as given');
    assert.deepEqual([b.output, b.score], [a.output, a.score]);
  });

  it('eval scores decomposed references as the composed ones', () => {
    const composed = join(dir, 'nfc.tsv');
    const decomposed = join(dir, 'nfd.tsv');
    const text = 'un café et un thé\tle café et le thé\nun maïs et un noël\tle maïs et le noël\n';
    writeFileSync(composed, nfc(text));
    writeFileSync(decomposed, nfd(text));
    const score = (file: string): Record<string, number> => {
      const r = runCli(['seq2seq', 'eval', model, file, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const scores = JSON.parse(r.stdout) as Record<string, number>;
      delete scores.seconds;
      return scores;
    };
    assert.deepEqual(score(decomposed), score(composed));
  });

  it('a model saved before normalisation reads text as it is (a decomposed word is unknown)', () => {
    const older = join(dir, 'older');
    const copy = runCli(
      ['seq2seq', 'train', join(dir, 'pairs.tsv'), '--out', older, '--epochs', '1'].concat([
        '--units',
        '4',
        '--embedding-dim',
        '4',
        '--threads',
        '1',
        '--quiet',
      ]),
    );
    assert.equal(copy.code, 0, copy.stderr);
    const file = join(older, 'model.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as {
      userDefinedMetadata: { settings: Record<string, unknown> };
    };
    delete json.userDefinedMetadata.settings.normalization;
    writeFileSync(file, JSON.stringify(json));
    const p = runCli(['seq2seq', 'predict', older, nfd('un café'), '--json']);
    assert.equal(p.code, 0, p.stderr);
    assert.deepEqual((JSON.parse(p.stdout) as { unknown?: string[] }).unknown, [nfd('café')]);
  });
});

/**
 * Makes the two-member ensemble in `out` look as an older recur leaves a run stopped before member 2: member 2 not
 * begun, member 1 (model and checkpoint) with its metadata passed through `older` (the setting removed).
 */
function olderEnsembleAtMemberTwo(out: string, older: (meta: Record<string, unknown>) => void): void {
  rmSync(join(out, 'members', '2'), { recursive: true });
  const record = JSON.parse(readFileSync(join(out, 'ensemble.json'), 'utf8')) as { members: string[] };
  record.members = ['members/1'];
  writeFileSync(join(out, 'ensemble.json'), JSON.stringify(record));
  for (const model of [join(out, 'members', '1'), join(out, 'members', '1', 'checkpoint')]) {
    const json = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')) as {
      userDefinedMetadata: Record<string, unknown>;
    };
    older(json.userDefinedMetadata);
    writeFileSync(join(model, 'model.json'), JSON.stringify(json));
  }
}

describe('a seq2seq ensemble started before normalisation', () => {
  it('trains the members it resumes to read text as the members already trained do', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-s2s-unicode-ensemble-'));
    try {
      const file = join(dir, 'pairs.tsv');
      writeFileSync(file, pairs(60, 2));
      const out = join(dir, 'ensemble');
      const tiny = ['--epochs', '1', '--units', '4', '--embedding-dim', '4', '--threads', '1', '--quiet'];
      const t = runCli(['seq2seq', 'train', file, '--out', out, '--ensemble', '2', ...tiny]);
      assert.equal(t.code, 0, t.stderr);
      olderEnsembleAtMemberTwo(
        out,
        (meta) => delete (meta.settings as Record<string, unknown>).normalization,
      );
      const resumed = runCli(['seq2seq', 'train', file, '--out', out, '--resume', '--quiet']);
      assert.equal(resumed.code, 0, resumed.stderr);
      const member2 = JSON.parse(readFileSync(join(out, 'members', '2', 'model.json'), 'utf8')) as {
        userDefinedMetadata: { settings: { normalization: string } };
      };
      assert.equal(member2.userDefinedMetadata.settings.normalization, 'none');
      const p = runCli(['seq2seq', 'predict', out, 'the cat and the dog']);
      assert.equal(p.code, 0, p.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('classifier tokenizers and recur classify with composed and decomposed text', () => {
  it('a new tokenizer reads a decomposed word as the composed one; a saved one without the option, as it is', () => {
    const t = ClassifyTokenizer.fit([`un ${CAFE} noir`, 'le thé']);
    assert.equal(t.options.normalization, 'NFC');
    assert.deepEqual([...t.encode(nfd('un café'))], [...t.encode(nfc('un café'))]);
    assert.ok(![...t.encode(nfd('un café'))].includes(1), 'no OOV');
    const json = t.toJSON();
    delete json.options.normalization;
    const older = ClassifyTokenizer.fromJSON(json);
    assert.deepEqual([...older.encode(nfd('café'))], [1], 'the decomposed word is OOV, as before');
    assert.throws(
      () => ClassifyTokenizer.fit(['a'], { normalization: 'NFKC' as 'NFC' }),
      /normalization must be none or NFC/,
    );
  });

  it('a classifier ensemble an older recur started trains its remaining members to read text as it is', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-classify-unicode-ensemble-'));
    try {
      const csv = join(dir, 'reviews.csv');
      writeFileSync(csv, reviews(120, 1));
      const out = join(dir, 'ensemble');
      const tiny = ['--epochs', '1', '--units', '4', '--embedding-dim', '4', '--threads', '1', '--quiet'];
      const t = runCli(['classify', 'train', csv, '--out', out, '--ensemble', '2', ...tiny]);
      assert.equal(t.code, 0, t.stderr);
      olderEnsembleAtMemberTwo(out, (meta) => {
        const tokenizer = meta.tokenizer as { options: Record<string, unknown> };
        delete tokenizer.options.normalization;
      });
      const resumed = runCli(['classify', 'train', '--out', out, '--resume', '--quiet']);
      assert.equal(resumed.code, 0, resumed.stderr);
      const p = runCli(['classify', 'predict', out, 'a great film']);
      assert.equal(p.code, 0, p.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("classify predict gives a decomposed text the composed one's probabilities", () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-classify-unicode-'));
    try {
      const csv = join(dir, 'reviews.csv');
      writeFileSync(csv, reviews(120, 1).replaceAll(' film ', ` ${CAFE} `));
      const model = join(dir, 'model');
      const t = runCli(
        [
          'classify',
          'train',
          csv,
          '--out',
          model,
          '--epochs',
          '1',
          '--units',
          '4',
          '--embedding-dim',
          '4',
        ].concat(['--threads', '1', '--quiet']),
      );
      assert.equal(t.code, 0, t.stderr);
      const meta = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')) as {
        userDefinedMetadata: { tokenizer: { options: { normalization?: string } } };
      };
      assert.equal(meta.userDefinedMetadata.tokenizer.options.normalization, 'NFC');
      const p = runCli(['classify', 'predict', model, nfc('a great café'), nfd('a great café'), '--json']);
      assert.equal(p.code, 0, p.stderr);
      const [a, b] = p.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { text: string; probabilities: unknown });
      assert.equal(b.text, nfd('a great café'), 'the text is named as given');
      assert.ok(a.probabilities !== undefined);
      assert.deepEqual(b.probabilities, a.probabilities);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
