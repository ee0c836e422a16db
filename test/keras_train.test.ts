/**
 * Fine-tuning Keras models: `recur train TEXT --from MODEL` continues a tutorial-style Keras 2 .h5 (with its
 * training_config), a Keras 3 .keras (with its compile_config), a recur model directory and — when ../shared is
 * present — a real Keras 2 file; the run directory converts back to Keras. Plus the translation of Keras compile
 * configs to recur's optimizers (kerasCompileConfig) and the errors for models the text recipe cannot train.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { Random } from '../src/core/random.js';
import { IndexTensor, type Tensor } from '../src/core/tensor.js';
import { readH5, writeH5 } from '../src/keras/h5.js';
import { saveKerasArchive, saveKerasH5 } from '../src/keras/save.js';
import { kerasCompileConfig } from '../src/keras/training_config.js';
import * as L from '../src/layers/index.js';
import { input, model, type Functional, type SymbolicTensor } from '../src/models/functional.js';
import { installModelSaver } from '../src/models/model_saver.js';
import { Sequential } from '../src/models/sequential.js';
import * as node from '../src/node/index.js';
import { loadAnyModel } from '../src/node/keras_io.js';
import { maxAbsDiff, randomTensor } from './helpers.js';
import { randomizeWeights } from './keras_fixtures.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const SHARED = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'eval', 'keras');

function run(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function badInput(r: { code: number; stderr: string }, re: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[lines.length - 1], re, what);
  assert.doesNotMatch(r.stderr, /\n\s+at |TypeError/, `${what}: ${r.stderr}`);
}

/** A text of a few words, case mixed and \r\n line ends, as a Keras user's corpus might be. */
function corpusText(): string {
  const words = ['the', 'whale', 'sea', 'Ship', 'and', 'of', 'a', 'ahab'];
  let text = '';
  let r = 7;
  while (text.length < 3000) {
    r = (r * 1103515245 + 12345) % 2147483648;
    text += words[(r >>> 8) % words.length] + ((r >>> 4) % 10 === 0 ? '.\r\n' : ' ');
  }
  return text;
}
const TEXT = corpusText();
const CHARS = [...new Set(TEXT.replace(/\r\n/g, '\n').toLowerCase())].sort();
const V = CHARS.length;

/** An .h5 with a training_config attribute added, as Keras 2's model.save writes it. */
async function withTrainingConfig(bytes: Uint8Array, tc: object, version: string): Promise<Uint8Array> {
  const root = await readH5(bytes, 'fixture');
  root.attrs.training_config = JSON.stringify(tc);
  root.attrs.keras_version = version;
  return writeH5(root);
}

/** A .keras with a compile_config in config.json, as Keras 3's model.save writes it. */
function withCompileConfig(bytes: Uint8Array, cc: object): Uint8Array {
  const files = unzipSync(bytes);
  const config = JSON.parse(strFromU8(files['config.json'])) as Record<string, unknown>;
  config.compile_config = cc;
  files['config.json'] = strToU8(JSON.stringify(config));
  return zipSync(files);
}

/** The tutorial's model: one-hot windows of 10 characters → LSTM → Dense(softmax). */
function tutorialModel(units = 16): Sequential {
  const m = new Sequential({
    seed: 2,
    layers: [
      new L.LSTM({ name: 'lstm_1', units, inputShape: [10, V] }),
      new L.Dense({ name: 'dense_1', units: V, activation: 'softmax' }),
    ],
  });
  m.build();
  randomizeWeights(m, 4);
  return m;
}

function metaOf(dir: string): { settings: Record<string, unknown>; vocabulary: string[] } {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
    userDefinedMetadata: { settings: Record<string, unknown>; vocabulary: string[] };
  };
  return json.userDefinedMetadata;
}

/** The largest change of any weight between two models of the same structure. */
function weightChange(a: Sequential | Functional, b: Sequential | Functional): number {
  let d = 0;
  a.layers.forEach((l, i) =>
    l.weights.forEach((w, j) => (d = Math.max(d, maxAbsDiff(w.value, b.layers[i].weights[j].value)))),
  );
  return d;
}

const QUICK = ['--epochs', '1', '--steps-per-epoch', '2', '--batch-size', '16', '--sample-length', '0'];

describe('kerasCompileConfig: Keras compile settings in recur terms', () => {
  it('Keras 2.0 RMSprop (lr, decay): ε outside the root, decay noted', () => {
    const c = kerasCompileConfig(
      {
        optimizer_config: {
          class_name: 'RMSprop',
          config: { lr: 0.009999999776482582, rho: 0.8999999761581421, epsilon: 1e-8, decay: 0.01 },
        },
        loss: 'categorical_crossentropy',
      },
      '2.0.3',
      'm.h5',
    )!;
    assert.equal(c.optimizer, 'rmsprop');
    assert.equal(c.learningRate, 0.01);
    assert.deepEqual(c.optimizerArgs, { rho: 0.9, epsilon: 1e-8, epsilonOutside: true });
    assert.equal(c.loss, 'categoricalCrossentropy');
    assert.equal(c.notes.length, 1);
    assert.match(c.notes[0], /m\.h5: optimizer RMSprop: decay = 0\.01 is not something recur does/);
  });

  it("tf.keras 2.x RMSprop keeps ε inside; Keras 3's Adam with clipping and an object loss", () => {
    const tf = kerasCompileConfig(
      { optimizer_config: { class_name: 'RMSprop', config: { learning_rate: 0.001, centered: true } } },
      '2.2.4-tf',
      'm.h5',
    )!;
    assert.deepEqual(tf.optimizerArgs, { centered: true });
    const k3 = kerasCompileConfig(
      {
        optimizer: {
          module: 'keras.optimizers',
          class_name: 'Adam',
          config: {
            learning_rate: 0.002,
            beta_1: 0.8,
            global_clipnorm: 5,
            weight_decay: null,
            amsgrad: false,
          },
        },
        loss: {
          module: 'keras.losses',
          class_name: 'SparseCategoricalCrossentropy',
          config: { from_logits: true },
        },
      },
      '3.8.0',
      'm.keras',
    )!;
    assert.equal(k3.optimizer, 'adam');
    assert.equal(k3.learningRate, 0.002);
    assert.deepEqual(k3.optimizerArgs, { beta1: 0.8, globalClipnorm: 5 });
    assert.equal(k3.loss, 'sparseCategoricalCrossentropy');
    assert.equal(k3.fromLogits, true);
    assert.equal(k3.labelSmoothing, 0);
    assert.deepEqual(k3.notes, []);
    // Keras 3's CategoricalCrossentropy(label_smoothing=0.1), stored as a float32 widened to float64.
    const smoothed = kerasCompileConfig(
      {
        optimizer: { class_name: 'Adam', config: { learning_rate: 0.001 } },
        loss: {
          module: 'keras.losses',
          class_name: 'CategoricalCrossentropy',
          config: { from_logits: false, label_smoothing: 0.10000000149011612 },
        },
      },
      '3.8.0',
      'm.keras',
    )!;
    assert.equal(smoothed.loss, 'categoricalCrossentropy');
    assert.equal(smoothed.labelSmoothing, 0.1);
  });

  it('what recur cannot reproduce is a note, never a silent change', () => {
    const nadam = kerasCompileConfig(
      { optimizer_config: { class_name: 'Nadam', config: {} } },
      '2.2.4',
      'f',
    )!;
    assert.equal(nadam.optimizer, null);
    assert.match(nadam.notes[0], /Nadam optimizer, which recur does not have/);
    assert.match(nadam.notes[1], /names no loss/);
    const sched = kerasCompileConfig(
      {
        optimizer: {
          class_name: 'Adam',
          config: { learning_rate: { class_name: 'ExponentialDecay', config: {} }, amsgrad: true },
        },
        loss: 'poisson',
      },
      '3.1.0',
      'f',
    )!;
    assert.equal(sched.learningRate, null);
    assert.ok(sched.notes.some((n) => /a ExponentialDecay schedule/.test(n)));
    assert.ok(sched.notes.some((n) => /amsgrad = true/.test(n)));
    assert.ok(sched.notes.some((n) => /the loss 'poisson' is not one recur has/.test(n)));
    assert.equal(kerasCompileConfig(null, '2.2.4', 'f'), null);
  });
});

describe('recur train --from: fine-tuning Keras and recur models', () => {
  let dir = '';
  let book = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'recur-keras-train-'));
    book = join(dir, 'book.txt');
    writeFileSync(book, TEXT);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a Keras 2 .h5 with training_config: the tutorial's vocabulary, RMSprop from the file, back to Keras", async () => {
    const m = tutorialModel();
    const h5 = join(dir, 'tutorial.h5');
    const tc = {
      optimizer_config: {
        class_name: 'RMSprop',
        config: { lr: 0.004999999888241291, rho: 0.8999999761581421, epsilon: 1e-7, decay: 0.001 },
      },
      loss: 'categorical_crossentropy',
      metrics: [],
      sample_weight_mode: null,
      loss_weights: null,
    };
    writeFileSync(h5, await withTrainingConfig((await saveKerasH5(m)).bytes, tc, '2.1.6'));
    const out = join(dir, 'run-h5');
    const r = run(['train', book, '--from', h5, '--out', out, ...QUICK, '--seed', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`vocabulary: ${V} characters, sorted set of the corpus's characters \\(lowercased`),
    );
    assert.match(r.stderr, /compiled with RMSprop \(learning rate 0\.005\), categorical_crossentropy/);
    assert.match(r.stderr, /note: .*decay = 0\.001 is not something recur does/);
    assert.match(r.stderr, /fine-tuning .*tutorial\.h5/);
    const meta = metaOf(out);
    assert.deepEqual(meta.vocabulary, CHARS);
    assert.equal(meta.settings.recipe, 'keras');
    assert.equal(meta.settings.maxlen, 10);
    assert.equal(meta.settings.optimizer, 'rmsprop');
    assert.equal(meta.settings.learningRate, 0.005);
    assert.equal(meta.settings.rmspropEpsilon, 'outside');
    assert.equal(meta.settings.units, 16);
    // It continued from the file's weights: changed by two small steps, not replaced by fresh ones.
    const tuned = (await loadAnyModel(out)).model;
    const d = weightChange(m, tuned);
    assert.ok(d > 0 && d < 0.05, `weights moved by ${d}`);
    // And goes back to Keras with the same predictions.
    const back = join(dir, 'tuned.h5');
    assert.equal(run(['convert', out, back]).code, 0);
    const again = (await loadAnyModel(back)).model;
    const x = new IndexTensor(
      Int32Array.from({ length: 20 }, (_, i) => i % V),
      [2, 10],
    );
    assert.ok(maxAbsDiff((again.predict(x) as Tensor).data, (tuned.predict(x) as Tensor).data) < 1e-6);
    assert.equal(run(['generate', out, '-n', '10', '--seed', '1']).code, 0);
  });

  it('a Keras 3 .keras with compile_config: Embedding + GRU, Adam from the file; --lr wins with a note', async () => {
    const m = new Sequential({
      seed: 3,
      layers: [
        new L.Embedding({ name: 'embedding', inputDim: V, outputDim: 6, inputShape: [12] }),
        new L.GRU({ name: 'gru', units: 12 }),
        new L.Dense({ name: 'dense', units: V, activation: 'softmax' }),
      ],
    });
    m.build();
    randomizeWeights(m, 5);
    const file = join(dir, 'chars.keras');
    const cc = {
      optimizer: {
        module: 'keras.optimizers',
        class_name: 'Adam',
        config: {
          name: 'adam',
          learning_rate: 0.0020000000949949026,
          beta_1: 0.9,
          beta_2: 0.999,
          epsilon: 1e-7,
        },
        registered_name: null,
      },
      loss: 'sparse_categorical_crossentropy',
      metrics: ['accuracy'],
    };
    writeFileSync(file, withCompileConfig((await saveKerasArchive(m)).bytes, cc));
    const out = join(dir, 'run-keras');
    const r = run(['train', book, '--from', file, '--out', out, ...QUICK]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /compiled with Adam \(learning rate 0\.002\), sparse_categorical_crossentropy/);
    const meta = metaOf(out);
    assert.equal(meta.settings.optimizer, 'adam');
    assert.equal(meta.settings.learningRate, 0.002);
    assert.equal(meta.settings.cell, 'gru');
    assert.equal(meta.settings.maxlen, 12);
    assert.equal(run(['convert', out, join(dir, 'tuned.keras')]).code, 0);

    const out2 = join(dir, 'run-keras-lr');
    const r2 = run(['train', book, '--from', file, '--out', out2, ...QUICK, '--lr', '0.01']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stderr, /note: --lr 0\.01 replaces the file's learning rate 0\.002/);
    assert.equal(metaOf(out2).settings.learningRate, 0.01);
  });

  it('a file without training_config: the recipe defaults, said; a recur model continues with its vocabulary', async () => {
    const h5 = join(dir, 'bare.h5');
    writeFileSync(h5, (await saveKerasH5(tutorialModel(8))).bytes);
    const out = join(dir, 'run-bare');
    const r = run(['train', book, '--from', h5, '--out', out, ...QUICK]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: .*bare\.h5: no training configuration in the file/);
    assert.match(r.stderr, /recipe's default optimizer rmsprop/);
    assert.match(r.stderr, /recipe's default learning rate 0\.01/);
    // The run directory is a recur text model: --from it again keeps its vocabulary and settings.
    const out2 = join(dir, 'run-again');
    const r2 = run(['train', book, '--from', out, '--out', out2, ...QUICK]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(
      r2.stderr,
      new RegExp(`continuing .*run-bare: its vocabulary \\(${V} characters\\) and recipe \\(keras\\)`),
    );
    assert.deepEqual(metaOf(out2).vocabulary, CHARS);
  });

  it('a model ending in Dense → Softmax() (a Softmax layer) trains, generates, and generates from the file', async () => {
    const m = new Sequential({
      seed: 2,
      layers: [
        new L.LSTM({ name: 'lstm_1', units: 8, inputShape: [10, V] }),
        new L.Dense({ name: 'dense_1', units: V }),
        new L.Softmax({ name: 'softmax' }),
      ],
    });
    m.build();
    randomizeWeights(m, 4);
    const keras = join(dir, 'soft.keras');
    const h5 = join(dir, 'soft.h5');
    writeFileSync(keras, (await saveKerasArchive(m)).bytes);
    writeFileSync(h5, (await saveKerasH5(m)).bytes);
    const out = join(dir, 'run-soft');
    const r = run(['train', book, '--from', keras, '--out', out, ...QUICK]);
    assert.equal(r.code, 0, r.stderr);
    const g = run(['generate', out, '--length', '30', '--seed', '1']);
    assert.equal(g.code, 0, g.stderr);
    assert.ok(Array.from(g.stdout).length >= 30, g.stdout);
    const f = run(['generate', h5, '--corpus', book, '--length', '30', '--seed', '1']);
    assert.equal(f.code, 0, f.stderr);
    assert.ok(Array.from(f.stdout).length >= 30, f.stdout);
  });

  it('models the text recipe cannot train, and contradicting flags, are bad usage (exit 2)', async () => {
    const h5 = join(dir, 'tutorial-bad.h5');
    writeFileSync(h5, (await saveKerasH5(tutorialModel(8))).bytes);
    const o = (name: string): string[] => ['--out', join(dir, name), ...QUICK];
    badInput(
      run(['train', book, '--from', h5, ...o('b1'), '--units', '4']),
      /--units: --from continues a trained model/,
      'units',
    );
    badInput(run(['train', book, '--from', h5, ...o('b2'), '--resume']), /--from starts a new run/, 'resume');
    badInput(
      run(['train', book, '--from', h5, ...o('b3'), '--maxlen', '20']),
      /--maxlen 20: the model given by --from takes 10/,
      'maxlen',
    );
    writeFileSync(join(dir, 'xyz.txt'), 'xyz '.repeat(100));
    badInput(
      run(['train', join(dir, 'xyz.txt'), '--from', h5, ...o('b4')]),
      new RegExp(
        `^recur: \\S*tutorial-bad\\.h5: the model predicts ${V} characters, but \\S*xyz\\.txt has 4 `,
      ),
      'wrong corpus',
    );
    // A regression model: no softmax over characters.
    const reg = new Sequential({
      layers: [
        new L.GRU({ name: 'gru', units: 4, inputShape: [10, 1] }),
        new L.Dense({ name: 'd', units: 1 }),
      ],
    });
    reg.build();
    writeFileSync(join(dir, 'reg.h5'), (await saveKerasH5(reg)).bytes);
    badInput(
      run(['train', book, '--from', join(dir, 'reg.h5'), ...o('b5')]),
      /last layer 'd' \(Dense\) is not a softmax/,
      'regression',
    );
    // One-hot input of the wrong width.
    const wide = new Sequential({
      layers: [
        new L.LSTM({ name: 'l', units: 4, inputShape: [10, V + 2] }),
        new L.Dense({ name: 'd', units: V, activation: 'softmax' }),
      ],
    });
    wide.build();
    writeFileSync(join(dir, 'wide.h5'), (await saveKerasH5(wide)).bytes);
    badInput(
      run(['train', book, '--from', join(dir, 'wide.h5'), ...o('b6')]),
      new RegExp(`input is \\[10, ${V + 2}\\] per sample but it predicts ${V} characters`),
      'input width',
    );
    // Two LSTMs side by side, concatenated: not one chain of layers.
    const inp = input({ shape: [10, V], name: 'x' });
    const h1 = new L.LSTM({ units: 4 }).apply(inp) as SymbolicTensor;
    const h2 = new L.LSTM({ units: 4, goBackwards: true }).apply(inp) as SymbolicTensor;
    const both = new L.Concatenate({}).apply([h1, h2]) as SymbolicTensor;
    const f = model({
      inputs: inp,
      outputs: new L.Dense({ units: V, activation: 'softmax' }).apply(both) as SymbolicTensor,
    });
    writeFileSync(join(dir, 'f.h5'), (await saveKerasH5(f)).bytes);
    badInput(
      run(['train', book, '--from', join(dir, 'f.h5'), ...o('b7')]),
      /a functional model with branches.*one chain of layers/,
      'functional',
    );
    badInput(
      run(['generate', join(dir, 'f.h5'), '--corpus', book, '-n', '5']),
      /a functional model with branches.*one chain of layers/,
      'functional generate',
    );
    badInput(run(['train', book, '--from', join(dir, 'missing.h5'), ...o('b8')]), /missing\.h5/, 'missing');
    for (const b of ['b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8'])
      assert.ok(!existsSync(join(dir, b, 'model.json')), `${b}: nothing written`);
  });

  it('a functional Keras model that is one chain of layers generates and fine-tunes as its Sequential twin', async () => {
    // Keras 2's Model(inputs, outputs) around a stack, ending in a separate Activation('softmax') layer.
    const inp = input({ shape: [10, V], name: 'input_1' });
    const stack = [
      new L.LSTM({ name: 'lstm_1', units: 8, returnSequences: true }),
      new L.Dropout({ name: 'dropout_1', rate: 0.2 }),
      new L.LSTM({ name: 'lstm_2', units: 8 }),
      new L.Dense({ name: 'dense_1', units: V }),
      new L.Activation({ name: 'activation_1', activation: 'softmax' }),
    ];
    let t = inp;
    for (const l of stack) t = l.apply(t) as SymbolicTensor;
    const f = model({ inputs: inp, outputs: t, seed: 4 });
    f.build();
    randomizeWeights(f, 6);
    const seq = new Sequential({
      layers: [
        new L.LSTM({ name: 'lstm_1', units: 8, returnSequences: true, inputShape: [10, V] }),
        new L.Dropout({ name: 'dropout_1', rate: 0.2 }),
        new L.LSTM({ name: 'lstm_2', units: 8 }),
        new L.Dense({ name: 'dense_1', units: V }),
        new L.Activation({ name: 'activation_1', activation: 'softmax' }),
      ],
    });
    seq.build();
    seq.setWeights(f.getWeights());
    const fh5 = join(dir, 'functional.h5');
    const sh5 = join(dir, 'sequential.h5');
    writeFileSync(fh5, (await saveKerasH5(f)).bytes);
    writeFileSync(sh5, (await saveKerasH5(seq)).bytes);
    const gen = (file: string): { code: number; stdout: string; stderr: string } =>
      run(['generate', file, '--corpus', book, '-n', '60', '--seed', '3', '--prime', 'the whale']);
    const a = gen(fh5);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, gen(sh5).stdout);
    assert.equal([...a.stdout.trim()].length, 69);
    const out = join(dir, 'run-functional');
    const r = run(['train', book, '--from', fh5, '--out', out, ...QUICK]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(metaOf(out).settings.layers, 2);
  });

  it('a stateful Keras model trains on the char-rnn recipe with its own batch and sequence length', async () => {
    const m = new Sequential({
      seed: 5,
      layers: [
        new L.GRU({
          name: 'gru',
          units: 8,
          returnSequences: true,
          stateful: true,
          batchInputShape: [16, 12, V],
        }),
        new L.TimeDistributed({
          name: 'td',
          layer: new L.Dense({ name: 'dense', units: V, activation: 'softmax' }),
        }),
      ],
    });
    m.build();
    randomizeWeights(m, 7);
    const h5 = join(dir, 'stateful.h5');
    writeFileSync(h5, (await saveKerasH5(m)).bytes);
    const out = join(dir, 'run-stateful');
    const r = run(['train', book, '--from', h5, '--out', out, ...QUICK]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /16 streams × 12 chars/);
    const s = metaOf(out).settings;
    assert.deepEqual([s.recipe, s.batchSize, s.seqLength, s.cell], ['char-rnn', 16, 12, 'gru']);
    badInput(
      run(['train', book, '--from', h5, '--out', join(dir, 'b9'), ...QUICK, '--batch-size', '8']),
      /--batch-size 8: the model given by --from takes 16/,
      'stateful batch',
    );
  });

  const realFunctional = join(SHARED, 'k2-full-stacked2lstm-shakespeare-functional.h5');
  it(
    'a real tf.keras 2.4 functional character model (../shared/eval/keras) generates',
    { skip: existsSync(realFunctional) ? false : '../shared/eval/keras is absent' },
    () => {
      // Its 38 characters are not recorded anywhere; any 38 let it run (the text is then not Shakespeare's).
      const chars = "abcdefghijklmnopqrstuvwxyz .,;:!?'-\n&$";
      const r = run([
        'generate',
        realFunctional,
        '--chars',
        chars,
        '--prime',
        'to be or not',
        '-n',
        '30',
        '--seed',
        '2',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal([...r.stdout.replace(/\n$/, '')].length, 42);
    },
  );

  const real = join(SHARED, 'k2-full-charlstm-shakespeare-hardsig.h5');
  it(
    'a real Keras 2.2.4 character LSTM (../shared/eval/keras) fine-tunes and converts back to .h5',
    { skip: existsSync(real) ? false : '../shared/eval/keras is absent' },
    async () => {
      // The file predicts 60 characters; a text of exactly 60 distinct (caseless) characters stands for its corpus.
      const pool = [...'abcdefghijklmnopqrstuvwxyz0123456789 .,;:!?\'"-()[]{}\n@#$%&*+'];
      assert.equal(pool.length, 60);
      let r = 1;
      let text = pool.join('');
      for (let i = 0; i < 2000; i++) {
        r = (r * 1103515245 + 12345) % 2147483648;
        text += pool[(r >>> 16) % pool.length];
      }
      const t = join(dir, 'sixty.txt');
      writeFileSync(t, text);
      const out = join(dir, 'run-real');
      const res = run(['train', t, '--from', real, '--out', out, ...QUICK]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stderr, /hard_sigmoid read as Keras 2's/);
      assert.match(res.stderr, /compiled with Adam \(learning rate 0\.001\), categorical_crossentropy/);
      assert.equal(metaOf(out).settings.maxlen, 10);
      const orig = (await loadAnyModel(real)).model;
      const tuned = (await loadAnyModel(out)).model;
      const d = weightChange(orig, tuned);
      assert.ok(d > 0 && d < 0.05, `weights moved by ${d}`);
      // Keras 2's hard_sigmoid has no .keras form; .h5 keeps it.
      badInput(run(['convert', out, join(dir, 'real.keras')]), /hard_sigmoid.*Save it as \.h5/, '.keras');
      assert.equal(run(['convert', out, join(dir, 'real.h5')]).code, 0);
    },
  );
});

describe("recur/node's loadModel and saveModel: every format by path (or bytes)", () => {
  it('saveModel writes .keras, .h5 and a recur directory by extension; loadModel reads each, and bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-node-io-'));
    try {
      const m = tutorialModel(6);
      const x = new IndexTensor(
        Int32Array.from({ length: 30 }, (_, i) => (i * 7) % V),
        [3, 10],
      );
      const want = (m.predict(x) as Tensor).data;
      const targets = ['m.keras', 'm.h5', 'm.hdf5', 'mdir'].map((n) => join(dir, n));
      for (const t of targets) await node.saveModel(m, t);
      const sources: (string | Uint8Array)[] = [
        ...targets,
        join(dir, 'mdir', 'model.json'),
        new Uint8Array(readFileSync(targets[0])),
      ];
      const formats: string[] = [];
      for (const s of sources) {
        const r = await node.loadModel(s);
        formats.push(r.format);
        assert.ok(maxAbsDiff((r.model.predict(x) as Tensor).data, want) < 1e-6, String(s));
      }
      assert.deepEqual(formats, ['keras', 'keras-h5', 'keras-h5', 'recur', 'recur', 'keras']);
      // The synchronous recur-directory functions keep their own names.
      assert.ok(maxAbsDiff((node.loadModelDir(targets[3]).model.predict(x) as Tensor).data, want) < 1e-6);
      // A functional model loads through the same name.
      const inp = input({ shape: [4, 3], name: 'x' });
      const f = model({
        inputs: inp,
        outputs: new L.Dense({ units: 2 }).apply(
          new L.GRU({ units: 3 }).apply(inp) as SymbolicTensor,
        ) as SymbolicTensor,
        seed: 1,
      });
      await node.saveModel(f, join(dir, 'fdir'));
      assert.equal((await node.loadModel(join(dir, 'fdir'))).model.constructor.name, 'Functional');
      // model.save(path): the same writer, installed by recur/node, for both model kinds.
      await m.save(join(dir, 'own.keras'));
      await f.save(join(dir, 'own.h5'));
      assert.equal((await node.loadModel(join(dir, 'own.keras'))).format, 'keras');
      const fh5 = (await node.loadModel(join(dir, 'own.h5'))).model;
      const fx = randomTensor([2, 4, 3], new Random(5));
      assert.ok(maxAbsDiff((fh5.predict(fx) as Tensor).data, (f.predict(fx) as Tensor).data) < 1e-6);
      // Without a file writer installed (a browser), save() says where the bytes come from instead.
      installModelSaver(null);
      try {
        await assert.rejects(
          m.save(join(dir, 'no.keras')),
          /no file system here.*import 'recur\/node'.*saveKerasArchive/,
        );
        assert.ok(!existsSync(join(dir, 'no.keras')));
      } finally {
        installModelSaver(node.saveModel);
      }
      await assert.rejects(node.loadModel(join(dir, 'nothing.keras')), /nothing\.keras/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
