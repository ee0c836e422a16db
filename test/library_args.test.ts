/**
 * Bad arguments a Keras/tfjs user passes to the library get an error naming the argument, the value given and what
 * was expected — not a TypeError from inside a layer, a NaN shown as "null", or a sample number that points into a
 * shuffled batch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { IndexTensor, Tensor, indexTensor, tensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { Sequential } from '../src/models/sequential.js';
import { Stepper } from '../src/models/stepper.js';
import { Adam } from '../src/models/optimizers.js';
import { LambdaCallback } from '../src/models/callbacks.js';
import { loadAnyModel, saveAnyModel } from '../src/node/keras_io.js';
import { seedsOf } from '../src/cli/forecast.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { input, model, type SymbolicTensor } from '../src/models/functional.js';
import { TextCorpus } from '../src/text/corpus.js';
import { TextGenerator } from '../src/text/generator.js';

/** Float inputs [n, 4, 3] for the models below. */
const floats = (n: number): Tensor => tensor(new Float32Array(n * 4 * 3).fill(0.25), [n, 4, 3]);

function classifier(): Sequential {
  const m = new Sequential({ seed: 3 });
  m.add(L.lstm({ units: 2, inputShape: [4, 3] }));
  m.add(L.dense({ units: 2, activation: 'softmax' }));
  m.compile({ optimizer: new Adam(), loss: 'sparseCategoricalCrossentropy' });
  return m;
}

describe('library arguments', () => {
  it('predict, evaluate and a recurrent layer’s call refuse a plain array by name, not with a TypeError', () => {
    const m = classifier();
    const plain = [[[1, 2, 3]]] as unknown as Tensor;
    const refused = (what: RegExp) => (e: Error) =>
      e instanceof InvalidInputError &&
      what.test(e.message) &&
      /must be a Tensor.*got a plain array/.test(e.message);
    assert.throws(() => m.predict(plain), refused(/^predict: inputs/));
    assert.throws(() => m.evaluate(plain, indexTensor([0], [1])), refused(/^evaluate: inputs/));
    assert.throws(() => L.lstm({ units: 2 }).call(plain), refused(/^LSTM 'lstm(_\d+)?': call's input/));
  });

  it('a NaN, an Infinity or undefined given as an option is shown as such, not as "null"', () => {
    assert.throws(() => L.gru({ units: NaN }), /'units' must be a positive integer, got NaN$/);
    assert.throws(() => L.dense({ units: Infinity }), /'units' must be a positive integer, got Infinity$/);
    assert.throws(
      () => L.lstm({ units: 2, dropout: NaN }),
      /'dropout' must be a number in \[0, 1\), got NaN$/,
    );
    assert.throws(() => new Adam({ learningRate: NaN }), /'learningRate' must be a number ≥ 0, got NaN$/);
    assert.throws(
      () => L.embedding({ inputDim: 4, outputDim: 2, inputShape: [NaN] }),
      /'inputShape' must hold sizes \(positive integers\) or null, got \[NaN\]$/,
    );
  });

  it('Dropout needs its rate, as in Keras and tfjs, and SpatialDropout1D has its own default name', () => {
    assert.throws(
      () => L.dropout({} as never),
      (e: Error) => e instanceof InvalidInputError && /dropout '.*': 'rate' is required/.test(e.message),
    );
    assert.throws(() => L.spatialDropout1D({} as never), /spatialDropout1D '.*': 'rate' is required/);
    assert.match(L.spatialDropout1D({ rate: 0.5 }).name, /^spatial_dropout1d(_\d+)?$/);
    assert.match(L.dropout({ rate: 0.5 }).name, /^dropout(_\d+)?$/);
  });

  it('a class index outside the output names the sample as passed to fit, not a row of a shuffled batch', async () => {
    const m = classifier();
    // Sample 3 (of 8) holds class 5 of a 2-class output; fit shuffles, so a batch's row says nothing to the caller.
    const y = indexTensor([0, 1, 0, 5, 1, 0, 1, 0], [8]);
    await assert.rejects(
      m.fit(floats(8), y, { epochs: 1, batchSize: 4 }),
      (e: Error) =>
        e instanceof InvalidInputError &&
        /^fit: targets: class 5 of sample 3 is not an integer in \[0, 2\)/.test(e.message),
    );
    assert.throws(() => m.evaluate(floats(8), y), /evaluate: targets: class 5 of sample 3 /);
    const ok = indexTensor([0, 1, 0, 1, 1, 0, 1, 0], [8]);
    let epochsTrained = 0;
    await assert.rejects(
      m.fit(floats(8), ok, {
        epochs: 1,
        validationData: [floats(8), y],
        callbacks: [new LambdaCallback({ onEpochEnd: () => void epochsTrained++ })],
      }),
      /fit: validationData: targets: class 5 of sample 3 /,
    );
    assert.equal(epochsTrained, 0, 'refused before training');
    // Float targets of the sparse loss are class indices too; a sequence target names its step.
    const seq = new Sequential({ seed: 1 });
    seq.add(L.lstm({ units: 2, inputShape: [4, 3], returnSequences: true }));
    seq.add(L.dense({ units: 3, activation: 'softmax' }));
    seq.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const steps = tensor(new Float32Array([0, 1, 2, 0, 1, 2, 2.5, 0]), [2, 4]);
    await assert.rejects(seq.fit(floats(2), steps, { epochs: 1 }), /class 2\.5 of sample 1, step 2 /);
    // Functional models: the target is named.
    const a = input({ shape: [4, 3], name: 'x' });
    const out = L.dense({ units: 2, activation: 'softmax', name: 'probs' }).apply(
      L.lstm({ units: 2 }).apply(a) as SymbolicTensor,
    ) as SymbolicTensor;
    const f = model({ inputs: a, outputs: out, seed: 1 });
    f.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await assert.rejects(
      f.fit(floats(8), y, { epochs: 1, batchSize: 4 }),
      /fit: target 'probs': class 5 of sample 3 is not an integer in \[0, 2\)/,
    );
    // Valid class indices and one-hot targets still train.
    await m.fit(floats(8), indexTensor([0, 1, 0, 1, 1, 0, 1, 0], [8]), { epochs: 1, batchSize: 4 });
    const dense = new Sequential({ seed: 3 });
    dense.add(L.dense({ units: 2, activation: 'softmax', inputShape: [3] }));
    dense.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    await dense.fit(tensor(new Float32Array(6), [2, 3]), tensor(new Float32Array([1, 0, 0, 1]), [2, 2]));
    assert.ok(y instanceof IndexTensor);
  });

  it('a Stepper or step state of a negative or fractional number of streams is refused by name', () => {
    const m = new Sequential({ seed: 1 });
    m.add(L.lstm({ units: 2, inputShape: [4, 3] }));
    m.add(L.dense({ units: 3 }));
    m.build();
    for (const rows of [-1, 1.5, NaN]) {
      assert.throws(
        () => new Stepper(m, rows),
        (e: Error) =>
          e instanceof InvalidInputError &&
          e.message === `Stepper: batch (streams) must be an integer ≥ 0, got ${rows}`,
      );
      assert.throws(() => m.layers[0].createStepState(rows), /a step state's rows must be an integer ≥ 0/);
    }
    new Stepper(m, 2).dispose();
  });

  it('TextGenerator.generate without a prime says the prime is missing, not a TypeError', () => {
    const corpus = TextCorpus.fromText('hello world, hello there. '.repeat(20));
    const V = corpus.vocabulary.size;
    const m = new Sequential({ seed: 1 });
    m.add(L.lstm({ units: 4, inputShape: [5, V] }));
    m.add(L.dense({ units: V, activation: 'softmax' }));
    const g = new TextGenerator(m, corpus.vocabulary);
    for (const prime of [undefined, 7])
      assert.throws(
        () => g.generate({ length: 3, prime } as never),
        (e: Error) =>
          e instanceof InvalidInputError &&
          e.message ===
            `prime must be a string (the text to start from, at least one character), got ${prime}`,
      );
    assert.equal(g.generate({ length: 3, prime: 'hel', seed: 1 }).length, 3);
  });

  it('initialisers take Keras spellings (glorot_uniform, he_normal, uniform) and class names; errors name the option', () => {
    const kernelOf = (id: string) =>
      L.dense({ units: 2, kernelInitializer: id as never }).getConfig().kernelInitializer;
    assert.deepEqual(kernelOf('glorot_uniform'), kernelOf('glorotUniform'));
    assert.deepEqual(kernelOf('GlorotUniform'), kernelOf('glorotUniform'));
    assert.deepEqual(kernelOf('he_normal'), kernelOf('heNormal'));
    assert.deepEqual(kernelOf('lecun_uniform'), kernelOf('lecunUniform'));
    assert.deepEqual(kernelOf('uniform'), kernelOf('randomUniform'));
    assert.deepEqual(
      L.lstm({ units: 2, recurrentInitializer: 'glorot_normal' }).getConfig().recurrentInitializer,
      L.lstm({ units: 2, recurrentInitializer: 'glorotNormal' }).getConfig().recurrentInitializer,
    );
    assert.throws(
      () => L.dense({ units: 2, name: 'out', biasInitializer: 'glorot_unifrom' as never }),
      (e: Error) =>
        e instanceof InvalidInputError &&
        e.message.startsWith("dense 'out': 'biasInitializer': unknown initializer 'glorot_unifrom'"),
    );
    assert.throws(
      () => L.gru({ units: 2, name: 'g', kernelInitializer: 3 as never }),
      /gru 'g': 'kernelInitializer': expected an initializer name or \{className, config\}, got 3/,
    );
    assert.throws(
      () =>
        L.embedding({ inputDim: 3, outputDim: 2, embeddingsInitializer: { className: 'Nope', config: {} } }),
      /embedding '.*': 'embeddingsInitializer': unknown initializer class 'Nope'/,
    );
  });

  it('true/false options refuse other values (a string "false" is truthy), and models refuse unknown options', () => {
    const refused = (key: string, got: string) => (e: Error) =>
      e instanceof InvalidInputError && e.message.endsWith(`'${key}' must be true or false, got ${got}`);
    assert.throws(
      () => L.gru({ units: 2, goBackwards: 'false' as never }),
      refused('goBackwards', '"false"'),
    );
    assert.throws(() => L.lstm({ units: 2, returnSequences: 1 as never }), refused('returnSequences', '1'));
    assert.throws(() => L.lstm({ units: 2, stateful: 'no' as never }), refused('stateful', '"no"'));
    assert.throws(() => L.lstm({ units: 2, unitForgetBias: 0 as never }), refused('unitForgetBias', '0'));
    assert.throws(() => L.gru({ units: 2, resetAfter: 'false' as never }), refused('resetAfter', '"false"'));
    assert.throws(() => L.simpleRNN({ units: 2, useBias: 'no' as never }), refused('useBias', '"no"'));
    assert.throws(() => L.dense({ units: 2, useBias: 'no' as never }), refused('useBias', '"no"'));
    assert.throws(() => L.dense({ units: 2, trainable: 'no' as never }), refused('trainable', '"no"'));
    assert.throws(() => L.attention({ useScale: 'yes' as never }), refused('useScale', '"yes"'));
    assert.throws(() => L.dense({ units: 2, name: '' }), /dense: 'name' must be a non-empty string, got ""/);
    assert.throws(() => new Sequential({ sead: 1 } as never), /sequential: unknown option 'sead'/);
    // Given as booleans (or left out), they are taken as before.
    const gru = L.gru({ units: 2, goBackwards: true, resetAfter: false, trainable: false });
    assert.deepEqual(
      [gru.goBackwards, gru.resetAfter, gru.trainable, gru.returnSequences],
      [true, false, false, false],
    );
  });

  it('loadModel and saveModel name a wrong argument (an ArrayBuffer, a number, a tensor), not a TypeError', async () => {
    const refused = (what: RegExp) => (e: Error) => e instanceof InvalidInputError && what.test(e.message);
    const bytesOrPath =
      /^loadModel: expected a path \(a string\) or a model file's bytes \(a Uint8Array\), got /;
    await assert.rejects(loadAnyModel(5 as never), refused(new RegExp(bytesOrPath.source + '5$')));
    await assert.rejects(
      loadAnyModel(new ArrayBuffer(8) as never),
      refused(/got an ArrayBuffer \(wrap it: new Uint8Array\(buffer\)\)$/),
    );
    await assert.rejects(
      saveAnyModel(floats(1) as never, 'unused-dir'),
      refused(/^saveModel: expected a model \(sequential\(\) or model\(\)\), got a Tensor$/),
    );
    await assert.rejects(
      saveAnyModel(classifier(), undefined as never),
      refused(/^saveModel: expected a path \(a string\), got undefined$/),
    );
  });

  it('a model seed outside [0, 2^32) is refused when the model is made: its file could not be loaded back', async () => {
    for (const seed of [-1, 1.5, 2 ** 32, NaN]) {
      const refused = (e: Error) =>
        e instanceof InvalidInputError &&
        e.message === `model 'sequential': 'seed' must be an integer from 0 to 4294967295, got ${seed}`;
      assert.throws(() => new Sequential({ seed }), refused);
      const a = input({ shape: [3] });
      assert.throws(
        () => model({ inputs: a, outputs: L.dense({ units: 1 }).apply(a) as SymbolicTensor, seed }),
        /model 'model': 'seed' must be an integer from 0 to 4294967295/,
      );
    }
    // The largest seed saves and loads back.
    const dir = mkdtempSync(join(tmpdir(), 'recur-args-'));
    try {
      const m = new Sequential({ seed: 2 ** 32 - 1 });
      m.add(L.dense({ units: 2, inputShape: [3] }));
      await saveAnyModel(m, join(dir, 'm'));
      assert.equal((await loadAnyModel(join(dir, 'm'))).model.seed, 2 ** 32 - 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // recur forecast --seed N --seeds k: members N … N+k−1 must all be seeds.
    assert.deepEqual(seedsOf({ seed: 2 ** 32 - 2, seeds: 2 }), [2 ** 32 - 2, 2 ** 32 - 1]);
    assert.throws(
      () => seedsOf({ seed: 2 ** 32 - 1, seeds: 2 }),
      /--seed 4294967295 with --seeds 2 would need seeds past/,
    );
  });

  it('an Embedding folded into the next layer at inference still names itself for a bad id or input shape', () => {
    const m = new Sequential({ seed: 1 });
    m.add(L.embedding({ inputDim: 5, outputDim: 2, inputShape: [3], name: 'words' }));
    m.add(L.lstm({ units: 2, name: 'rnn' }));
    assert.throws(
      () => m.predict(indexTensor([1, 2, 3, 1, 2, 9], [2, 3])),
      /layer 'words': input index 9 at sample 1, position 2 is outside \[0, 5\)/,
    );
    assert.throws(
      () => m.predict(indexTensor([1, 2, 3, 4], [1, 4])),
      /layer 'words' \(Embedding\) expected input shape \[null, 3\] but got \[1, 4\]/,
    );
    const a = input({ shape: [3], dtype: 'int32' });
    const e = L.embedding({ inputDim: 5, outputDim: 2, name: 'tokens' }).apply(a) as SymbolicTensor;
    const f = model({ inputs: a, outputs: L.gru({ units: 2 }).apply(e) as SymbolicTensor, seed: 1 });
    assert.throws(
      () => f.predict(indexTensor([1, 2, 7], [1, 3])),
      /layer 'tokens': input index 7 at sample 0, position 2/,
    );
    assert.deepEqual((m.predict(indexTensor([1, 2, 3], [1, 3])) as Tensor).shape, [1, 2]);
  });
});
