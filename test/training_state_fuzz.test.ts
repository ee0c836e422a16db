/**
 * Seeded fuzzing of a checkpoint's training state (model.json's userDefinedMetadata.state, what `recur train --resume`
 * and `recur seq2seq train --resume` continue from): random mutations of its fields — wrong types, missing fields,
 * huge, negative and fractional numbers, NaN strings, other shapes — through the text and seq2seq metadata loaders.
 * Each either loads a state the run can use (its RNG, ReduceLROnPlateau and log rows take it) or fails with an
 * InvalidInputError naming model.json and the field; never a TypeError. The state was not checked at all: a damaged
 * one was a TypeError deep in the run (exit 1, no file named).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { Random } from '../src/core/random.js';
import { csvRowsOf } from '../src/cli/run_dir.js';
import { ReduceLROnPlateau } from '../src/models/callbacks.js';
import { G2P_SETTINGS } from '../src/seq2seq/model.js';
import { parseSeq2SeqMetadata } from '../src/seq2seq/seq2seq.js';
import { parseTextMetadata, textMetadata, type TrainingState } from '../src/text/metadata.js';
import { textSettings } from '../src/text/recipes.js';
import { Vocabulary } from '../src/text/vocabulary.js';
import { pseudoText, runCli, TINY_TEXT_MODEL } from './cli_helpers.js';
import { jsonPaths, type Json } from './json_paths.js';

const SEED = 20261206;
const MUTATIONS = 400;

/** A state as `recur train` writes it: mid-epoch, after two epochs (one timed at 0 s by an older recur). */
const STATE: TrainingState & { epochProgress: Json } = {
  epoch: 2,
  batch: 1,
  trainRng: [627460789, 3204430991, 2754746430, 2272150498],
  reduceLr: { wait: 0, cooldownCounter: 0, best: 1.66 },
  bestMonitored: 1.66,
  bestTieBreak: null,
  history: [
    { epoch: 1, loss: 1.9, lr: 0.01, seconds: 0.03, samples_per_sec: 2285.7 },
    { epoch: 2, loss: 1.66, lr: 0.01, seconds: 0.006, samples_per_sec: 10666.6 },
  ],
  epochProgress: { sums: { loss: 1.5 }, seen: 16, epochRng: [1, 2, 3, 4] },
};

const textMeta = (state: unknown): Record<string, unknown> => ({
  ...textMetadata(Vocabulary.fromJSON([' ', 'a', 'e', 'h', 't']), textSettings('keras', {}), 'the '),
  state,
});
const seq2seqMeta = (state: unknown): Record<string, unknown> => ({
  task: 'seq2seq',
  settings: G2P_SETTINGS,
  sourceTokens: ['<pad>', '<start>', '<end>', '<unk>', 'a'],
  targetTokens: ['<pad>', '<start>', '<end>', '<unk>', 'X'],
  longestTarget: 3,
  data: 'pairs.tsv',
  state,
});

/** What a damaged field may hold instead: other types, numbers out of range, NaN and Infinity as text. */
function oddValue(rng: Random, old: Json): Json | undefined {
  const choices: (Json | undefined)[] = [
    undefined,
    null,
    true,
    '',
    'NaN',
    'Infinity',
    '1',
    -1,
    0,
    0.5,
    1e308,
    -1e308,
    2 ** 32,
    [],
    {},
    [0, 0, 0, 0],
    [null],
    { epoch: 'x' },
  ];
  if (typeof old === 'number') choices.push(old + 1, old * 1e6, -old, old + 0.25);
  if (Array.isArray(old)) choices.push(old.slice(1), [...old, ...old], [...old].reverse());
  return choices[rng.int(choices.length)];
}

/** 1–3 fields of a copy of STATE replaced, deleted or (the whole state) swapped for an odd value. */
function mutate(rng: Random): { state: Json | undefined; what: string } {
  let state = JSON.parse(JSON.stringify(STATE)) as Json;
  const what: string[] = [];
  for (let m = 0; m < 1 + rng.int(3); m++) {
    const paths = jsonPaths(state);
    const path = paths[rng.int(paths.length)];
    const value = oddValue(
      rng,
      path.reduce<Json>((v, k) => (v as Record<string, Json>)[k], state),
    );
    what.push(`${path.join('.') || '(state)'} = ${JSON.stringify(value)}`);
    if (path.length === 0) {
      state = value ?? null;
      if (value === undefined) return { state: undefined, what: what.join('; ') };
      continue;
    }
    const parent = path.slice(0, -1).reduce<Json>((v, k) => (v as Record<string, Json>)[k], state) as
      Record<string, Json> | Json[];
    const key = path[path.length - 1];
    if (value === undefined && !Array.isArray(parent)) delete (parent as Record<string, Json>)[key];
    else (parent as Record<string | number, Json>)[key] = value ?? null;
  }
  return { state, what: what.join('; ') };
}

/** What a resumed run does with a state the loader let through: none of it may throw. */
function useState(state: TrainingState): void {
  new Random(1).setState(state.trainRng);
  const draws = new Random(1);
  draws.setState(state.trainRng);
  assert.ok(draws.next() !== draws.next() || draws.next() !== draws.next(), 'the generator draws something');
  new ReduceLROnPlateau({ monitor: 'loss' }).setState(state.reduceLr);
  for (const row of csvRowsOf(state.history)) assert.ok(Number.isInteger(row.epoch) && row.epoch >= 0);
  assert.ok(
    Number.isInteger(state.epoch) && state.epoch >= 0 && Number.isInteger(state.batch) && state.batch >= 0,
  );
}

describe('training state of a checkpoint (seeded fuzz)', () => {
  for (const [kind, metaOf, parse] of [
    ['text', textMeta, parseTextMetadata],
    ['seq2seq', seq2seqMeta, parseSeq2SeqMetadata],
  ] as const) {
    it(`${kind}: ${MUTATIONS} damaged states load a usable state or are refused naming model.json and the field`, () => {
      const rng = new Random(SEED);
      let refused = 0;
      for (let c = 0; c < MUTATIONS; c++) {
        const { state, what } = mutate(rng);
        const where = `seed ${SEED} case ${c}: ${what}`;
        let parsed: { state?: TrainingState };
        try {
          parsed = parse(metaOf(state), 'run/checkpoint');
        } catch (e) {
          assert.ok(e instanceof InvalidInputError, `${where}: ${(e as Error).stack}`);
          assert.match(e.message, /^run\/checkpoint: model\.json: userDefinedMetadata\.state\b.*: \S/, where);
          refused++;
          continue;
        }
        if (parsed.state !== undefined) useState(parsed.state);
      }
      assert.ok(refused > MUTATIONS / 3, `most damage is refused (${refused} of ${MUTATIONS})`);
    });
  }

  it('regressions: the states that crashed --resume with a TypeError are refused naming the field', () => {
    const cases: [string, (s: Record<string, Json>) => void, RegExp][] = [
      ['reduceLr null', (s) => (s.reduceLr = null), /state\.reduceLr: .*expected object/],
      ['history row null', (s) => (s.history = [null]), /state\.history\[0\]: .*expected record/],
      ['trainRng a string', (s) => (s.trainRng = 'x'), /state\.trainRng: .*expected array/],
      ['trainRng all zeros', (s) => (s.trainRng = [0, 0, 0, 0]), /state\.trainRng: .*not all zeros/],
      ['bestMonitored a string', (s) => (s.bestMonitored = 'x'), /state\.bestMonitored: .*expected number/],
      [
        'history row without epoch',
        (s) => (s.history = [{ loss: 1 }]),
        /state\.history\[0\]: expected an epoch/,
      ],
    ];
    for (const [name, damage, message] of cases) {
      const s = JSON.parse(JSON.stringify(STATE)) as Record<string, Json>;
      damage(s);
      assert.throws(() => parseTextMetadata(textMeta(s), 'ckpt'), message, name);
      assert.throws(() => parseSeq2SeqMetadata(seq2seqMeta(s), 'ckpt'), message, name);
    }
    assert.throws(
      () => parseTextMetadata(textMeta(5), 'ckpt'),
      /ckpt: model\.json: userDefinedMetadata\.state: /,
    );
    // A state JSON wrote from an epoch timed at 0 s (Infinity → null) still loads.
    const s = JSON.parse(JSON.stringify(STATE)) as { history: Record<string, Json>[] };
    s.history[0].samples_per_sec = null;
    assert.equal(parseTextMetadata(textMeta(s), 'ckpt').state?.history.length, 2);
  });
});

describe('recur train --resume on a damaged training state', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-state-fuzz-'));
    writeFileSync(join(dir, 'book.txt'), pseudoText(3000, 7));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 2 naming model.json and the field, with no stack trace', () => {
    const run = join(dir, 'run');
    const first = runCli(['train', join(dir, 'book.txt'), '--out', run, '--epochs', '1', ...TINY_TEXT_MODEL]);
    assert.equal(first.code, 0, first.stderr);
    for (const [name, damage] of [
      ['reduceLr', (s: Record<string, Json>) => (s.reduceLr = null)],
      ['history', (s: Record<string, Json>) => (s.history = [null])],
    ] as const) {
      const copy = join(dir, `damaged-${name}`);
      cpSync(run, copy, { recursive: true });
      const file = join(copy, 'checkpoint', 'model.json');
      const json = JSON.parse(readFileSync(file, 'utf8')) as {
        userDefinedMetadata: { state: Record<string, Json> };
      };
      damage(json.userDefinedMetadata.state);
      writeFileSync(file, JSON.stringify(json));
      const r = runCli([
        'train',
        join(dir, 'book.txt'),
        '--out',
        copy,
        '--resume',
        '--epochs',
        '2',
        '--threads',
        '1',
      ]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(`checkpoint: model\\.json: userDefinedMetadata\\.state\\.${name}`),
        name,
      );
      assert.doesNotMatch(r.stderr, /\n\s+at |TypeError/, name);
    }
  });
});
