/**
 * The text recipes as library code (src/text/recipes.ts, src/text/metadata.ts): a recipe trains without the CLI, the
 * one cell factory, and the GRU reset_after choice — `recur train --gru-reset-after false` writes a GRU tfjs can load,
 * and saving a reset_after=true GRU returns (and the CLI prints once) a note that tfjs cannot read it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { InvalidInputError } from '../src/core/errors.js';
import { GRU, LSTM, SimpleRNN, recurrentLayer } from '../src/layers/index.js';
import { tfjsCompatibilityNotes } from '../src/models/tfjs_compat.js';
import { Sequential } from '../src/models/sequential.js';
import { readModelFiles, saveModel } from '../src/node/model_io.js';
import { TextCorpus } from '../src/text/corpus.js';
import { TextGenerator } from '../src/text/generator.js';
import { parseTextMetadata, textMetadata } from '../src/text/metadata.js';
import {
  buildTextModel,
  compileTextModel,
  defaultPrimeOf,
  epochSampleTexts,
  textDatasets,
  textSettings,
} from '../src/text/recipes.js';
import { runCli as run, pseudoText } from './cli_helpers.js';

interface LayerJson {
  class_name: string;
  config: Record<string, unknown>;
}
function layersOf(dir: string): LayerJson[] {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
    modelTopology: { config: { layers: LayerJson[] } };
  };
  return json.modelTopology.config.layers;
}

async function loadInTfjs(dir: string): Promise<tf.LayersModel> {
  const { json, weightData } = readModelFiles(dir);
  return tf.loadLayersModel({
    load: async () => ({
      modelTopology: json.modelTopology as unknown as tf.io.ModelJSON['modelTopology'],
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: weightData.buffer.slice(
        weightData.byteOffset,
        weightData.byteOffset + weightData.byteLength,
      ) as ArrayBuffer,
    }),
  });
}

describe('text recipes as a library', () => {
  it('textSettings: the recipe with overrides; a cell, init or ε placement that does not exist is InvalidInputError', () => {
    const s = textSettings('char-rnn', { units: 8, seed: 3 }, 'book.txt');
    assert.equal(s.recipe, 'char-rnn');
    assert.equal(s.units, 8);
    assert.equal(s.layers, 2);
    assert.equal(s.optimizer, 'adam');
    assert.equal(s.seed, 3);
    assert.equal(s.source, 'book.txt');
    assert.equal(s.gruResetAfter, undefined, 'only a GRU records the reset_after choice');
    assert.equal(textSettings('keras', { cell: 'gru' }).gruResetAfter, true);
    assert.equal(textSettings('keras', { cell: 'gru', gruResetAfter: false }).gruResetAfter, false);
    assert.throws(
      () => textSettings('keras', { cell: 'rnn' }),
      (e: unknown) =>
        e instanceof InvalidInputError && /cell must be lstm, gru or simple-rnn, got 'rnn'/.test(e.message),
    );
    assert.throws(() => textSettings('keras', { init: 'xavier' }), /init must be keras or uniform/);
    assert.throws(() => textSettings('keras', { rmspropEpsilon: 'middle' }), /rmspropEpsilon must be inside/);
    // A misspelt setting, or one out of its range, is refused rather than dropped or trained with.
    assert.throws(
      () => textSettings('keras', { unitz: 5 } as never),
      (e: unknown) => e instanceof InvalidInputError && /^unitz: not a text recipe setting/.test(e.message),
    );
    for (const [o, pattern] of [
      [{ batchSize: 0 }, /batchSize must be a positive integer, got 0/],
      [{ units: 2.5 }, /units must be a positive integer, got 2.5/],
      [{ dropout: 1 }, /dropout must be in \[0, 1\), got 1/],
      [{ learningRate: -1 }, /learningRate must be a positive number, got -1/],
      [{ validationSplit: 1 }, /validationSplit must be in \[0, 1\)/],
    ] as const)
      assert.throws(() => textSettings('keras', o), pattern);
    assert.equal(textSettings('keras', { clipnorm: null, units: undefined }).units, 128);
  });

  for (const recipe of ['keras', 'char-rnn'] as const) {
    it(`trains the ${recipe} recipe without the CLI, loss falling, and samples after the epoch`, async () => {
      const s = textSettings(
        recipe,
        {
          units: 16,
          layers: 1,
          maxlen: 10,
          seqLength: 10,
          batchSize: 8,
          dropout: 0,
          validationSplit: 0.1,
          seed: 5,
        },
        'tiny',
      );
      const corpus = TextCorpus.fromText(pseudoText(3000, 7), { lowercase: s.lowercase });
      const { train, validation } = corpus.split(s.validationSplit);
      const model = buildTextModel(s, corpus.vocabulary.size);
      model.build();
      compileTextModel(model, s);
      const data = textDatasets(model, s, train, validation, { maxBatches: 20 });
      assert.ok(data.validation, 'a validation split gives a validation dataset');
      const history = await model.fitDataset(data.train, { epochs: 3, validationData: data.validation });
      const losses = history.history.loss;
      assert.equal(losses.length, 3);
      assert.ok(losses.every(Number.isFinite));
      assert.ok(losses[2] < losses[0], `loss falls: ${losses.join(', ')}`);
      const prime = defaultPrimeOf(s, train);
      assert.equal(prime.length, s.maxlen);
      const generator = new TextGenerator(model, corpus.vocabulary, s.lowercase);
      const texts = epochSampleTexts(generator, s, 0, { prime, length: 20, temperatures: [0.2, 1] });
      assert.equal(texts.length, 2);
      assert.ok(texts.every((t) => Array.from(t).length === 20));
      // The largest --seed plus an epoch wraps to 32 bits, as Random wraps a seed: seed 2^32 − 1 at epoch 1 is seed 0.
      const last = { ...s, seed: 0xffffffff };
      const opts = { prime, length: 20, temperatures: [1] };
      assert.deepEqual(
        epochSampleTexts(generator, last, 1, opts),
        epochSampleTexts(generator, { ...s, seed: 0 }, 0, opts),
      );
      // The metadata the CLI saves round-trips through the schema.
      const meta = textMetadata(corpus.vocabulary, s, prime);
      assert.deepEqual(
        parseTextMetadata(JSON.parse(JSON.stringify(meta)) as Record<string, unknown>, 'm'),
        meta,
      );
    });
  }

  it('parseTextMetadata: a damaged file is InvalidInputError naming the field', () => {
    const s = textSettings('keras', { cell: 'gru', seed: 1 }, 'x');
    const meta = JSON.parse(
      JSON.stringify({ task: 'text', vocabulary: ['a', 'b'], settings: s, defaultPrime: 'ab' }),
    );
    meta.settings.gruResetAfter = 'no';
    assert.throws(
      () => parseTextMetadata(meta, 'dir'),
      (e: unknown) =>
        e instanceof InvalidInputError && /userDefinedMetadata\.settings\.gruResetAfter/.test(e.message),
    );
    // A model of another of recur's tasks is named as what it is (a classifier dropped on the page); others are not
    // text models.
    assert.throws(
      () => parseTextMetadata({ task: 'forecast' }, 'dir'),
      /^InvalidInputError: dir holds a forecaster's network \(from recur forecast\), not a text model$/,
    );
    assert.throws(
      () => parseTextMetadata({ task: 'classify', classes: ['a', 'b'] }, 'dropped model'),
      /^InvalidInputError: dropped model holds a text classifier \(from recur classify train\), not a text model$/,
    );
    assert.throws(() => parseTextMetadata({ task: 'tagger' }, 'dir'), /dir is not a recur text model/);
  });

  it('buildTextModel: the GRU takes the reset_after choice', () => {
    for (const gruResetAfter of [true, false]) {
      const s = textSettings('keras', { cell: 'gru', gruResetAfter, units: 4, seed: 1 });
      const layer = buildTextModel(s, 5).layers[0];
      assert.ok(layer instanceof GRU);
      assert.equal(layer.resetAfter, gruResetAfter);
    }
  });
});

describe('recurrentLayer: one function chooses a cell', () => {
  it('each cell name gives its layer with the options', () => {
    const lstm = recurrentLayer('lstm', { units: 3, unitForgetBias: false });
    assert.ok(lstm instanceof LSTM);
    assert.equal(lstm.units, 3);
    const gru = recurrentLayer('gru', { units: 2, resetAfter: false });
    assert.ok(gru instanceof GRU && gru.resetAfter === false);
    assert.ok(recurrentLayer('simple-rnn', { units: 2 }) instanceof SimpleRNN);
  });
  it('an unknown cell or another cell’s option is an error naming it', () => {
    assert.throws(() => recurrentLayer('rnn' as 'lstm', { units: 2 }), /unknown recurrent cell 'rnn'/);
    assert.throws(
      () => recurrentLayer('lstm', { units: 2, resetAfter: false }),
      /unknown option 'resetAfter'/,
    );
    assert.throws(
      () => recurrentLayer('gru', { units: 2, unitForgetBias: true }),
      /unknown option 'unitForgetBias'/,
    );
  });
});

describe('GRU reset_after and tfjs', () => {
  let dir = '';
  let textFile = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-recipes-'));
    textFile = join(dir, 'tiny.txt');
    writeFileSync(textFile, pseudoText(2500, 7));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('saveModel returns one note for reset_after=true GRUs and none otherwise', () => {
    const model = (gruResetAfter: boolean, cell: 'gru' | 'lstm' = 'gru'): Sequential => {
      const m = new Sequential({ seed: 1 });
      m.add(
        recurrentLayer(cell, {
          units: 3,
          returnSequences: true,
          inputShape: [4, 2],
          ...(cell === 'gru' ? { resetAfter: gruResetAfter } : {}),
        }),
      );
      m.add(recurrentLayer(cell, { units: 3, ...(cell === 'gru' ? { resetAfter: gruResetAfter } : {}) }));
      m.build();
      return m;
    };
    const { notes } = saveModel(model(true), join(dir, 'ra'));
    assert.equal(notes.length, 1);
    assert.match(
      notes[0],
      /GRU 'gru(_\d+)?', 'gru(_\d+)?' use reset_after=true .*TensorFlow\.js 4\.x cannot load/,
    );
    assert.match(notes[0], /--gru-reset-after false/);
    assert.deepEqual(saveModel(model(false), join(dir, 'rb')).notes, []);
    assert.deepEqual(saveModel(model(true, 'lstm'), join(dir, 'lstm')).notes, []);
    assert.deepEqual(tfjsCompatibilityNotes({ class_name: 'GRU', config: { reset_after: false } }), []);
  });

  const trainArgs = (out: string, extra: string[]): string[] => [
    'train',
    textFile,
    '--out',
    out,
    '--cell',
    'gru',
    '--epochs',
    '2',
    '--units',
    '8',
    '--maxlen',
    '10',
    '--batch-size',
    '16',
    '--steps-per-epoch',
    '3',
    '--sample-length',
    '5',
    '--seed',
    '1',
    ...extra,
  ];

  it('recur train --gru-reset-after false: a GRU with reset_after false that tfjs loads, and no note', async () => {
    const out = join(dir, 'tfjs-gru');
    const r = run(trainArgs(out, ['--gru-reset-after', 'false']));
    assert.equal(r.code, 0, r.stderr);
    const gru = layersOf(out).find((l) => l.class_name === 'GRU');
    assert.ok(gru);
    assert.equal(gru.config.reset_after, false);
    assert.doesNotMatch(r.stderr, /reset_after/);
    const theirs = await loadInTfjs(out);
    assert.equal(theirs.layers[0].getClassName(), 'GRU');
    // It generates, and its metadata records the choice.
    const g = run(['generate', out, '--length', '10', '--seed', '1']);
    assert.equal(g.code, 0, g.stderr);
    const meta = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).userDefinedMetadata;
    assert.equal(meta.settings.gruResetAfter, false);
  });

  it('recur train --cell gru (default reset_after true): the note is printed once per run, and tfjs refuses the file', async () => {
    const out = join(dir, 'keras-gru');
    const r = run(trainArgs(out, []));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(layersOf(out).find((l) => l.class_name === 'GRU')?.config.reset_after, true);
    const notes = r.stderr.split('\n').filter((l) => /reset_after=true/.test(l));
    assert.equal(notes.length, 1, r.stderr);
    assert.match(notes[0], /^note: GRU .*TensorFlow\.js 4\.x cannot load.*--gru-reset-after false/);
    await assert.rejects(loadInTfjs(out));
  });

  it('--gru-reset-after with another cell, or a value that is not true/false, is bad usage (exit 2)', () => {
    const lstm = run(['train', textFile, '--out', join(dir, 'x'), '--gru-reset-after', 'false']);
    assert.equal(lstm.code, 2);
    assert.match(lstm.stderr, /--gru-reset-after applies to --cell gru, not lstm/);
    const bad = run([
      'train',
      textFile,
      '--out',
      join(dir, 'y'),
      '--cell',
      'gru',
      '--gru-reset-after',
      'maybe',
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--gru-reset-after must be true or false, got 'maybe'/);
  });
});
