/**
 * The layer registry: every registered layer round-trips its config (fromConfig(getConfig()) and through Keras JSON)
 * with non-default options; unknown classes are clear errors listing the known ones; a wrapper nests its inner layer
 * as Keras/tfjs do ({class_name, config: {layer: {class_name, config}}}) and makes it through the registry; a layer
 * registered from outside the library loads from a model file.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { Tensor, type AnyTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { Layer, type LayerArgs, type LayerShape } from '../src/layers/layer.js';
import { Sequential } from '../src/models/sequential.js';
import {
  deserializeModel,
  layerFromKeras,
  layerToKeras,
  modelJsonFor,
  serializeModel,
} from '../src/models/serialization.js';

interface TwiceArgs extends LayerArgs {
  /** The inner layer, as a spec (as files hold it) or an instance. */
  layer: L.LayerSpec | Layer;
}

/** A wrapper as Bidirectional/TimeDistributed will be: applies its inner layer twice, y = f(f(x)). */
class Twice extends Layer {
  readonly className = 'Twice';
  readonly inner: Layer;
  constructor(args: TwiceArgs) {
    const { layer, ...rest } = args;
    super(rest, 'twice');
    this.inner = layer instanceof Layer ? layer : L.deserializeLayer(layer, `twice '${this.name}'`);
  }
  protected buildWeights(inputShape: LayerShape, rng: Random): void {
    this.inner.build(inputShape, rng);
    this.weights = this.inner.weights;
  }
  computeOutputShape(inputShape: LayerShape): LayerShape {
    return this.inner.computeOutputShape(this.inner.computeOutputShape(inputShape));
  }
  forward(x: AnyTensor): Tensor {
    const once = this.inner.forward(x, { training: false, seed: 0 });
    return this.inner.forward(once, { training: false, seed: 0 });
  }
  backward(): Tensor {
    throw new Error('not needed here');
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), layer: L.serializeLayer(this.inner) };
  }
}
L.registerLayer('Twice', (config) => new Twice(config as unknown as TwiceArgs));

/** One instance per registered class, every option away from its default (Twice: the wrapper above). */
const NON_DEFAULT: Record<string, () => Layer> = {
  Twice: () =>
    new Twice({ name: 'tw', layer: new L.Dense({ units: 2, activation: 'relu' }), inputShape: [2] }),
  Dense: () =>
    new L.Dense({
      name: 'd',
      units: 3,
      activation: 'relu',
      useBias: false,
      kernelInitializer: 'heNormal',
      biasInitializer: 'ones',
      inputShape: [4],
      trainable: false,
    }),
  Activation: () => new L.Activation({ name: 'a', activation: 'hardSigmoid', batchInputShape: [2, 3] }),
  Dropout: () => new L.Dropout({ name: 'dr', rate: 0.25 }),
  SpatialDropout1D: () => new L.SpatialDropout1D({ name: 'sd', rate: 0.3, inputShape: [5, 3] }),
  AttentionWeightedAverage: () =>
    new L.AttentionWeightedAverage({ name: 'awa', kernelInitializer: 'glorotNormal', inputShape: [6, 4] }),
  Embedding: () =>
    new L.Embedding({
      name: 'e',
      inputDim: 10,
      outputDim: 4,
      embeddingsInitializer: { className: 'RandomNormal', config: { mean: 0.5, stddev: 2, seed: null } },
      inputShape: [7],
      maskZero: true,
    }),
  Masking: () => new L.Masking({ name: 'mk', maskValue: -1, inputShape: [5, 3] }),
  // The pooling layers have no options besides Keras's fixed dataFormat/keepdims: name, trainable and shape differ.
  GlobalMaxPooling1D: () =>
    new L.GlobalMaxPooling1D({ name: 'gmp', trainable: false, inputShape: [null, 3] }),
  GlobalAveragePooling1D: () => new L.GlobalAveragePooling1D({ name: 'gap', inputShape: [7, 2] }),
  SimpleRNN: () =>
    new L.SimpleRNN({
      name: 's',
      units: 5,
      activation: 'relu',
      useBias: false,
      kernelInitializer: 'zeros',
      recurrentInitializer: 'glorotNormal',
      biasInitializer: 'ones',
      dropout: 0.1,
      recurrentDropout: 0.2,
      returnSequences: true,
      returnState: true,
      goBackwards: true,
      stateful: true,
      batchInputShape: [4, 6, 3],
    }),
  LSTM: () =>
    new L.LSTM({
      name: 'l',
      units: 4,
      activation: 'sigmoid',
      recurrentActivation: 'hardSigmoid',
      unitForgetBias: false,
      returnSequences: true,
      dropout: 0.3,
      recurrentInitializer: { className: 'Orthogonal', config: { gain: 2, seed: 5 } },
    }),
  GRU: () =>
    new L.GRU({
      name: 'g',
      units: 3,
      resetAfter: false,
      recurrentActivation: 'tanh',
      goBackwards: true,
      recurrentInitializer: { className: 'RandomUniform', config: { minval: -0.1, maxval: 0.1, seed: null } },
    }),
  Concatenate: () => new L.Concatenate({ name: 'cc', axis: 1, trainable: false }),
  Add: () => new L.Add({ name: 'ad', trainable: false }),
  RepeatVector: () => new L.RepeatVector({ name: 'rv', n: 3, inputShape: [4] }),
  Attention: () => new L.Attention({ name: 'at', useScale: true, useCausalMask: true }),
  AdditiveAttention: () => new L.AdditiveAttention({ name: 'aa', useScale: false }),
  AttentionDecoder: () =>
    new L.AttentionDecoder({
      name: 'ad2',
      units: 5,
      cell: 'gru',
      attention: 'bahdanau',
      recurrentDropout: 0.25,
    }),
  ReLU: () => new L.ReLU({ name: 'rl', maxValue: 6, negativeSlope: 0.1, threshold: 0.5, inputShape: [3] }),
  LeakyReLU: () => new L.LeakyReLU({ name: 'lr', alpha: 0.05, trainable: false }),
  ThresholdedReLU: () => new L.ThresholdedReLU({ name: 'tr', theta: 0.25, inputShape: [4, 2] }),
  ELU: () => new L.ELU({ name: 'el', alpha: 0.5 }),
  Softmax: () => new L.Softmax({ name: 'sm', axis: 2, inputShape: [5, 3] }),
  PReLU: () =>
    new L.PReLU({
      name: 'pr',
      alphaInitializer: { className: 'Constant', config: { value: 0.25 } },
      sharedAxes: [1],
      inputShape: [4, 3],
    }),
  Bidirectional: () =>
    new L.Bidirectional({
      name: 'bi',
      layer: new L.GRU({ name: 'g', units: 3, resetAfter: false, returnSequences: true, activation: 'relu' }),
      mergeMode: 'mul',
      inputShape: [5, 2],
    }),
  TimeDistributed: () =>
    new L.TimeDistributed({
      name: 'td',
      layer: new L.Dense({ name: 'dd', units: 2, activation: 'tanh', useBias: false }),
      inputShape: [3, 4],
    }),
};

describe('layer registry', () => {
  it('every layer class of the library is registered', () => {
    for (const name of [
      'Activation',
      'Dense',
      'Dropout',
      'Embedding',
      'GRU',
      'LSTM',
      'SimpleRNN',
      'Concatenate',
      'Add',
      'RepeatVector',
      'Attention',
      'AdditiveAttention',
      'Bidirectional',
      'TimeDistributed',
      'Masking',
    ])
      assert.ok(L.registeredLayers().includes(name), name);
  });
  for (const className of L.registeredLayers()) {
    it(`${className}: fromConfig(getConfig()) and the Keras JSON round trip give an equal config`, () => {
      const make = NON_DEFAULT[className];
      assert.ok(make, `add a non-default ${className} to this test`);
      const layer = make();
      assert.equal(layer.className, className);
      const config = layer.getConfig();
      const again = L.layerRegistration(className).fromConfig(structuredClone(config));
      assert.equal(again.className, className);
      assert.deepEqual(again.getConfig(), config);
      assert.deepEqual(L.deserializeLayer(L.serializeLayer(layer)).getConfig(), config);
      const json = JSON.parse(JSON.stringify(layerToKeras(layer)));
      assert.equal(json.class_name, className);
      assert.deepEqual(layerFromKeras(json, 'test').getConfig(), config);
    });
  }
  it('unknown class names are errors naming the file, the layer and the known classes', () => {
    assert.throws(
      () => layerFromKeras({ class_name: 'Conv2D', config: { name: 'c' } }, 'm.json'),
      /m\.json: layer 'c' has class 'Conv2D', which recur does not know \(known layer classes: .*Activation, Add, AdditiveAttention, Attention, .*Bidirectional, Concatenate, Dense, .*Masking.*TimeDistributed/,
    );
    assert.throws(
      () => L.deserializeLayer({ className: 'Bogus', config: {} }),
      /layer config: layer '\?' has class 'Bogus'.*known layer classes: .*LSTM/,
    );
    assert.throws(() => L.registerLayer('LSTM', () => new L.LSTM({ units: 1 })), /already registered/);
  });
  it("a Keras file's GRU without reset_after is the tfjs/Keras 2.2 GRU (resetAfter false)", () => {
    const gru = layerFromKeras({ class_name: 'GRU', config: { name: 'g', units: 2 } }, 'f.json') as L.GRU;
    assert.equal(gru.resetAfter, false);
    assert.equal(L.deserializeLayer({ className: 'GRU', config: { units: 2 } }).getConfig().resetAfter, true);
  });
  it('option errors name the file and the layer', () => {
    assert.throws(
      () => layerFromKeras({ class_name: 'LSTM', config: { name: 'l', units: -1 } }, 'f.json'),
      /f\.json: layer 'l': .*'units' must be a positive integer, got -1/,
    );
  });
});

describe('graph layers in Sequential files', () => {
  it('a Sequential with RepeatVector saves and loads (the registry knows every layer class)', () => {
    const model = new Sequential({
      seed: 3,
      layers: [
        new L.Dense({ units: 3, activation: 'tanh', inputShape: [4] }),
        new L.RepeatVector({ n: 5 }),
        new L.LSTM({ units: 2, returnSequences: true }),
      ],
    });
    model.build();
    const art = serializeModel(model);
    const json = JSON.parse(JSON.stringify(modelJsonFor(art, 'weights.bin')));
    assert.equal(json.modelTopology.config.layers[1].class_name, 'RepeatVector');
    assert.equal(json.modelTopology.config.layers[1].config.n, 5);
    const loaded = deserializeModel(json, [{ path: 'weights.bin', data: art.weightData }], 'm.json').model;
    assert.ok(loaded.layers[1] instanceof L.RepeatVector);
    const x = new Tensor(
      Float32Array.from({ length: 8 }, (_, i) => Math.sin(i)),
      [2, 4],
    );
    const want = model.predict(x);
    const got = loaded.predict(x);
    assert.deepEqual(got.shape, [2, 5, 2]);
    assert.deepEqual(got.data, want.data);
  });
});

describe('nested layer configs (wrappers)', () => {
  it('a wrapper saves its inner layer as {class_name, config} and loads it through the registry', () => {
    const inner = new L.Dense({ name: 'inner', units: 3, activation: 'tanh', kernelInitializer: 'ones' });
    const wrapper = new Twice({ name: 'tw', layer: inner, inputShape: [3] });
    const json = JSON.parse(JSON.stringify(layerToKeras(wrapper)));
    assert.equal(json.class_name, 'Twice');
    assert.equal(json.config.layer.class_name, 'Dense');
    assert.equal(json.config.layer.config.name, 'inner');
    assert.equal(json.config.layer.config.activation, 'tanh');
    assert.equal(json.config.layer.config.use_bias, true, 'inner options in Keras spelling');
    assert.deepEqual(json.config.layer.config.kernel_initializer, { class_name: 'Ones', config: {} });
    const loaded = layerFromKeras(json, 'f.json') as Twice;
    assert.ok(loaded.inner instanceof L.Dense);
    assert.deepEqual(loaded.getConfig(), wrapper.getConfig());
    // Same computation after loading.
    wrapper.build([3], new Random(1));
    loaded.build([3], new Random(2));
    loaded.inner.weights.forEach((w, i) => w.value.set(wrapper.inner.weights[i].value));
    const x = new Tensor(Float32Array.of(0.1, -0.2, 0.3), [1, 3]);
    assert.deepEqual(loaded.forward(x).data, wrapper.forward(x).data);
  });
  it("an inner layer's unknown class is an error naming the file and the inner layer", () => {
    assert.throws(
      () =>
        layerFromKeras(
          {
            class_name: 'Twice',
            config: { name: 'tw', layer: { class_name: 'Conv1D', config: { name: 'cv' } } },
          },
          'f.json',
        ),
      /f\.json: layer 'cv' has class 'Conv1D', which recur does not know/,
    );
  });
});
