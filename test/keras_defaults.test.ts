/**
 * recur's defaults are Keras's: every registered layer made with only its required options, the optimizers, the
 * callbacks, compile and fit, checked against a table of Keras 3's defaults (keras.io API pages), in the snake_case
 * spelling model files use. A default changed, or an option added without its default stated here, fails this file,
 * so no default drifts from Keras's silently. Where Keras 2 (tf.keras) or TensorFlow.js differ, the comment says so;
 * a model file written without such an option is read with its writer's default (registration.fileDefaults).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../src/core/random.js';
import { Tensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import { activationToKeras, type ActivationName } from '../src/layers/activations.js';
import { snakeCase, type Layer } from '../src/layers/layer.js';
import {
  EarlyStopping,
  LambdaCallback,
  ReduceLROnPlateau,
  type TrainingParams,
} from '../src/models/callbacks.js';
import { FUNCTIONAL_FIT_DEFAULTS, Functional, input, model } from '../src/models/functional.js';
import {
  Adagrad,
  Adam,
  COMPILE_DEFAULTS,
  OPTIMIZER_DEFAULTS,
  RMSprop,
  SGD,
  createOptimizer,
  type Optimizer,
} from '../src/models/optimizers.js';
import { layerFromKeras, layerToKeras } from '../src/models/serialization.js';
import { kerasCompileConfig } from '../src/keras/training_config.js';
import { FIT_DEFAULTS, Sequential } from '../src/models/sequential.js';
import { ModelCheckpoint } from '../src/node/callbacks.js';

type Json = Record<string, unknown>;

const GLOROT_UNIFORM = { class_name: 'GlorotUniform', config: { seed: null } };
const ORTHOGONAL = { class_name: 'Orthogonal', config: { gain: 1, seed: null } };
const ZEROS = { class_name: 'Zeros', config: {} };
/** Keras's 'uniform' (Embedding's default): RandomUniform(-0.05, 0.05). */
const UNIFORM = { class_name: 'RandomUniform', config: { minval: -0.05, maxval: 0.05, seed: null } };

/** SimpleRNN's, LSTM's and GRU's shared arguments (keras.layers.SimpleRNN / LSTM / GRU). */
const RECURRENT = {
  activation: 'tanh',
  use_bias: true,
  kernel_initializer: GLOROT_UNIFORM,
  recurrent_initializer: ORTHOGONAL,
  bias_initializer: ZEROS,
  dropout: 0,
  recurrent_dropout: 0,
  return_sequences: false,
  return_state: false,
  go_backwards: false,
  stateful: false,
};

interface LayerDefaults {
  /** The layer made with its required options only. */
  make: () => Layer;
  /** Those required options, in the file's spelling (no default to check). */
  required: string[];
  /** Every other option the layer's config holds, with Keras's default. */
  keras: Json;
}

/**
 * Keras 3's defaults by class. Options Keras has and recur does not take (regularizers, constraints, `seed`,
 * `noise_shape`, `unroll`) are absent from recur's configs and so from this table.
 */
const LAYERS: Record<string, LayerDefaults> = {
  SimpleRNN: { make: () => L.simpleRNN({ units: 3 }), required: ['units'], keras: RECURRENT },
  LSTM: {
    make: () => L.lstm({ units: 3 }),
    required: ['units'],
    // Keras 2 before 2.3 and tfjs: recurrent_activation 'hard_sigmoid'.
    keras: { ...RECURRENT, recurrent_activation: 'sigmoid', unit_forget_bias: true },
  },
  GRU: {
    make: () => L.gru({ units: 3 }),
    required: ['units'],
    // Keras 2 before 2.3 and tfjs: recurrent_activation 'hard_sigmoid', reset_after false.
    keras: { ...RECURRENT, recurrent_activation: 'sigmoid', reset_after: true },
  },
  // Keras's activation=None is 'linear' in a file.
  Dense: {
    make: () => L.dense({ units: 3 }),
    required: ['units'],
    keras: {
      activation: 'linear',
      use_bias: true,
      kernel_initializer: GLOROT_UNIFORM,
      bias_initializer: ZEROS,
    },
  },
  Embedding: {
    make: () => L.embedding({ inputDim: 10, outputDim: 3 }),
    required: ['input_dim', 'output_dim'],
    keras: { embeddings_initializer: UNIFORM, mask_zero: false },
  },
  Dropout: { make: () => L.dropout({ rate: 0.5 }), required: ['rate'], keras: {} },
  SpatialDropout1D: { make: () => L.spatialDropout1D({ rate: 0.5 }), required: ['rate'], keras: {} },
  Activation: { make: () => L.activation({ activation: 'relu' }), required: ['activation'], keras: {} },
  Bidirectional: {
    make: () => L.bidirectional({ layer: L.lstm({ units: 3 }) }),
    required: ['layer'],
    keras: { merge_mode: 'concat' },
  },
  TimeDistributed: {
    make: () => L.timeDistributed({ layer: L.dense({ units: 3 }) }),
    required: ['layer'],
    keras: {},
  },
  // use_causal_mask: a call argument in Keras 3 (default False); Keras 2's `causal` constructor argument, False.
  Attention: {
    make: () => L.attention(),
    required: [],
    keras: { use_scale: false, score_mode: 'dot', dropout: 0, use_causal_mask: false },
  },
  AdditiveAttention: {
    make: () => L.additiveAttention(),
    required: [],
    keras: { use_scale: true, dropout: 0, use_causal_mask: false },
  },
  Concatenate: { make: () => L.concatenate(), required: [], keras: { axis: -1 } },
  Add: { make: () => L.add(), required: [], keras: {} },
  RepeatVector: { make: () => L.repeatVector({ n: 2 }), required: ['n'], keras: {} },
  Masking: { make: () => L.masking(), required: [], keras: { mask_value: 0 } },
  // data_format 'channels_last' and keepdims False are the only values recur takes, and are not kept.
  GlobalMaxPooling1D: { make: () => L.globalMaxPooling1d(), required: [], keras: {} },
  GlobalAveragePooling1D: { make: () => L.globalAveragePooling1d(), required: [], keras: {} },
  ReLU: { make: () => L.reLU(), required: [], keras: { max_value: null, negative_slope: 0, threshold: 0 } },
  // Keras 3 names it negative_slope (also 0.3); recur's .keras writer renames it. keras.activations.leaky_relu's
  // default slope, 0.2, is the function's, not the layer's.
  LeakyReLU: { make: () => L.leakyReLU(), required: [], keras: { alpha: 0.3 } },
  // Keras 2 and tfjs only (Keras 3 has no ThresholdedReLU).
  ThresholdedReLU: { make: () => L.thresholdedReLU(), required: [], keras: { theta: 1 } },
  ELU: { make: () => L.elu(), required: [], keras: { alpha: 1 } },
  Softmax: { make: () => L.softmax(), required: [], keras: { axis: -1 } },
  PReLU: { make: () => L.prelu(), required: [], keras: { alpha_initializer: ZEROS, shared_axes: null } },
  // textgenrnn's custom layer: its kernel is initializers.get('uniform'), fixed, so its config has no
  // kernel_initializer (and Keras refuses one there); recur writes it only when another.
  AttentionWeightedAverage: {
    make: () => L.attentionWeightedAverage(),
    required: [],
    keras: { return_attention: false, kernel_initializer: undefined },
  },
  // recur's own layer (no Keras counterpart): its documented defaults.
  AttentionDecoder: {
    make: () => L.attentionDecoder({ units: 3 }),
    required: ['units'],
    keras: { cell: 'lstm', attention: 'luong', recurrent_dropout: 0 },
  },
};

/** Keys every layer config has that are no option with a default to compare. */
const BASE_KEYS = new Set(['name', 'trainable', 'dtype', 'batch_input_shape']);

describe("layers: recur's defaults are Keras's (in the files' snake_case)", () => {
  it('the table covers every registered layer class', () => {
    assert.deepEqual(L.registeredLayers(), Object.keys(LAYERS).sort());
  });

  it("a file without an option means Keras 3's default except exactly these (older Keras; TensorFlow.js)", () => {
    const differing = Object.fromEntries(
      L.registeredLayers()
        .map((c) => [c, L.layerRegistration(c)] as const)
        .filter(([, r]) => Object.keys(r.fileDefaults).length + Object.keys(r.tfjsFileDefaults).length > 0)
        .map(([c, r]) => [c, { files: r.fileDefaults, tfjs: r.tfjsFileDefaults }]),
    );
    assert.deepEqual(differing, {
      // Keras before 2.3 (whose files may lack reset_after) and tfjs reset before the recurrent product.
      GRU: { files: { resetAfter: false }, tfjs: { recurrentActivation: 'hardSigmoid' } },
      LSTM: { files: {}, tfjs: { recurrentActivation: 'hardSigmoid' } },
    });
  });

  for (const [className, { make, required, keras }] of Object.entries(LAYERS)) {
    it(`${className}: made with no options, its config holds Keras's defaults and no option left out here`, () => {
      const json = layerToKeras(make());
      assert.equal(json.class_name, className);
      const config = json.config as Json;
      for (const [key, value] of Object.entries(keras))
        assert.deepEqual(
          config[key],
          value,
          `${className}.${key}: Keras's default is ${JSON.stringify(value)}`,
        );
      const unstated = Object.keys(config).filter(
        (k) => !BASE_KEYS.has(k) && !required.includes(k) && !(k in keras),
      );
      assert.deepEqual(unstated, [], `${className}: options with no Keras default in this table`);
    });

    for (const writer of ['keras', 'tfjs'] as const) {
      it(`${className}: a ${writer} file's config without the optional keys reads with ${writer}'s defaults`, () => {
        const fullConfig = layerToKeras(make()).config as Json;
        const minimal: Json = { name: fullConfig.name };
        for (const key of required) minimal[key] = fullConfig[key];
        const read = layerToKeras(layerFromKeras({ class_name: className, config: minimal }, 'test', writer));
        // Where the writer's default differs or changed (a file without the key was written before the change).
        const registration = L.layerRegistration(className);
        const overrides = {
          ...registration.fileDefaults,
          ...(writer === 'tfjs' ? registration.tfjsFileDefaults : {}),
        };
        const expected: Json = { ...keras };
        for (const [k, v] of Object.entries(overrides))
          expected[snakeCase(k)] = k === 'recurrentActivation' ? activationToKeras(v as ActivationName) : v;
        const readConfig = read.config as Json;
        for (const [key, value] of Object.entries(expected))
          assert.deepEqual(readConfig[key], value, `${className}.${key} read from a ${writer} file`);
      });
    }
  }
});

describe('AttentionWeightedAverage (textgenrnn) writes its kernel initializer only when not the default', () => {
  it('its kernel is drawn from U(-0.05, 0.05) still, and another initializer stays in the config', () => {
    const awa = L.attentionWeightedAverage({ inputShape: [5, 40] });
    awa.build([5, 40], new Random(3));
    const kernel = awa.weights[0].value;
    assert.ok(kernel.every((v) => Math.abs(v) <= 0.05) && kernel.some((v) => Math.abs(v) > 0.03));
    const other = layerToKeras(L.attentionWeightedAverage({ kernelInitializer: 'glorotNormal' }))
      .config as Json;
    assert.deepEqual(other.kernel_initializer, { class_name: 'GlorotNormal', config: { seed: null } });
  });
});

describe("optimizers: Keras 3's defaults", () => {
  // Keras 3 and tf.keras 2.x agree on these. Standalone Keras 2.0–2.3 added RMSprop's and Adagrad's ε outside the
  // square root, and its Adagrad started the accumulators at 0 with learning rate 0.01; Keras 1's ε was 1e-8.
  const KERAS: [string, () => Optimizer, Json][] = [
    ['SGD', () => new SGD(), { learningRate: 0.01, momentum: 0, nesterov: false }],
    [
      'RMSprop',
      () => new RMSprop(),
      { learningRate: 0.001, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false },
    ],
    ['Adam', () => new Adam(), { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }],
    ['Adagrad', () => new Adagrad(), { learningRate: 0.001, initialAccumulatorValue: 0.1, epsilon: 1e-7 }],
  ];
  for (const [className, make, keras] of KERAS) {
    it(`${className}: learning rate and every option are Keras's; no clipping unless asked`, () => {
      const optimizer = make();
      assert.deepEqual(optimizer.getConfig(), keras);
      assert.equal(optimizer.clipnorm, undefined);
      assert.equal(optimizer.globalClipnorm, undefined);
      assert.equal(optimizer.clipvalue, undefined);
      assert.equal(optimizer.emaMomentum, undefined);
      // By name, as compile({optimizer: 'adam'}) makes it.
      assert.deepEqual(createOptimizer(className.toLowerCase()).getConfig(), keras);
    });
  }

  it("a Keras file's Adagrad without initial_accumulator_value (standalone Keras to 2.3) starts its accumulators at 0, as it did", () => {
    const old = kerasCompileConfig(
      {
        optimizer_config: { class_name: 'Adagrad', config: { lr: 0.01, epsilon: 1e-7, decay: 0 } },
        loss: 'mse',
      },
      '2.2.4',
      'old.h5',
    )!;
    assert.deepEqual(old.optimizerArgs, { epsilon: 1e-7, initialAccumulatorValue: 0 });
    assert.equal(old.learningRate, 0.01);
    assert.match(
      old.notes.join('\n'),
      /old\.h5: optimizer Adagrad: Keras 2\.2\.4 added ε outside the square root/,
    );
    // tf.keras 2 and Keras 3 write it.
    const tfKeras = kerasCompileConfig(
      {
        optimizer_config: {
          class_name: 'Adagrad',
          config: { learning_rate: 0.001, initial_accumulator_value: 0.1, epsilon: 1e-7 },
        },
        loss: 'mse',
      },
      '2.15.0',
      'new.h5',
    )!;
    assert.deepEqual(tfKeras.optimizerArgs, { initialAccumulatorValue: 0.1, epsilon: 1e-7 });
    assert.deepEqual(tfKeras.notes, []);
  });

  it('OPTIMIZER_DEFAULTS, exported for users, says the same', () => {
    for (const [className, make] of KERAS) {
      const { epsilonOutside, ...defaults } = OPTIMIZER_DEFAULTS[
        className.toLowerCase() as keyof typeof OPTIMIZER_DEFAULTS
      ] as Json;
      assert.ok(epsilonOutside === undefined || epsilonOutside === false);
      assert.deepEqual(defaults, make().getConfig());
    }
  });
});

describe("losses: Keras's from_logits false, label_smoothing 0, reduction the mean over the batch", () => {
  const lossOf = (config: Json): ReturnType<typeof kerasCompileConfig> =>
    kerasCompileConfig(
      {
        optimizer: { class_name: 'Adam', config: { learning_rate: 0.001 } },
        loss: { module: 'keras.losses', class_name: 'SparseCategoricalCrossentropy', config },
      },
      '3.8.0',
      'm.keras',
    );

  it("a Keras file's loss with Keras's defaults (every mean reduction) reads as recur's, with no note", () => {
    for (const reduction of [
      undefined,
      null,
      'sum_over_batch_size',
      'auto',
      'mean',
      'mean_with_sample_weight',
    ]) {
      const c = lossOf({
        from_logits: false,
        ignore_class: null,
        ...(reduction !== undefined && { reduction }),
      })!;
      assert.equal(c.loss, 'sparseCategoricalCrossentropy');
      assert.equal(c.fromLogits, false);
      assert.equal(c.labelSmoothing, 0);
      assert.deepEqual(c.notes, [], String(reduction));
    }
  });

  it('a reduction other than the mean, or an ignore_class, is named: recur trains with the mean over every class', () => {
    const sum = lossOf({ reduction: 'sum' })!;
    assert.equal(sum.loss, 'sparseCategoricalCrossentropy');
    assert.deepEqual(sum.notes, [
      "m.keras: loss SparseCategoricalCrossentropy: reduction = \"sum\" is not something recur does; trained with the mean over the batch (Keras's 'sum_over_batch_size')",
    ]);
    const ignoring = lossOf({ ignore_class: 0 })!;
    assert.match(
      ignoring.notes.join('\n'),
      /ignore_class = 0 is not something recur does; every class counts/,
    );
  });
});

describe("callbacks: Keras 3's defaults", () => {
  it("EarlyStopping: monitor 'val_loss' (a minimum), min_delta 0, patience 0, no baseline, restore_best_weights false, start_from_epoch 0", () => {
    const cb = new EarlyStopping();
    assert.equal(cb.monitor.name, 'val_loss');
    assert.equal(cb.monitor.sign, 1);
    assert.equal(cb.monitor.minDelta, 0);
    assert.equal(cb.patience, 0);
    assert.equal(cb.baseline, undefined);
    assert.equal(cb.restoreBestWeights, false);
    assert.equal(cb.startFromEpoch, 0);
  });

  it("ReduceLROnPlateau: monitor 'val_loss', factor 0.1, patience 10, min_delta 1e-4, cooldown 0, min_lr 0", () => {
    const cb = new ReduceLROnPlateau();
    assert.equal(cb.monitor.name, 'val_loss');
    assert.equal(cb.monitor.sign, 1);
    assert.equal(cb.monitor.minDelta, 1e-4);
    assert.equal(cb.factor, 0.1);
    assert.equal(cb.patience, 10);
    assert.equal(cb.cooldown, 0);
    assert.equal(cb.minLr, 0);
  });

  it("ModelCheckpoint: monitor 'val_loss', save_best_only false, save_weights_only false", () => {
    const cb = new ModelCheckpoint('ckpt');
    assert.equal(cb.monitor.name, 'val_loss');
    assert.equal(cb.monitor.sign, 1);
    assert.equal(cb.saveBestOnly, false);
    assert.equal(cb.saveWeightsOnly, false);
  });

  it("mode 'auto' takes an accuracy as a maximum, as Keras's does", () => {
    assert.equal(new EarlyStopping({ monitor: 'val_accuracy' }).monitor.sign, -1);
    assert.equal(new ReduceLROnPlateau({ monitor: 'val_accuracy' }).monitor.sign, -1);
    assert.equal(new ModelCheckpoint({ filepath: 'c', monitor: 'val_acc' }).monitor.sign, -1);
    // Keras 3's EarlyStopping reads an AUC as a maximum too (its other callbacks look for 'acc' only).
    const auc = new EarlyStopping({ monitor: 'val_auc' }).monitor;
    assert.equal(auc.sign, -1);
    assert.ok(auc.improved(0.9, 0.8));
    assert.equal(new EarlyStopping({ monitor: 'val_loss' }).monitor.sign, 1);
  });

  it("ModelCheckpoint fills a bare {epoch} and log key as Python's str.format does for Keras", () => {
    const cb = (filepath: string): ModelCheckpoint => new ModelCheckpoint(filepath);
    assert.equal(cb('m-{epoch}.keras').path(0, {}), 'm-1.keras');
    assert.equal(cb('m-{epoch}.keras').path(11, {}), 'm-12.keras');
    // str() of a float: its shortest digits, '.0' on a whole number, exponent form below 1e-4 and from 1e16.
    const loss = (value: number): string => cb('{loss}').path(0, { loss: value });
    assert.equal(loss(0.6931471824645996), '0.6931471824645996');
    assert.equal(loss(2), '2.0');
    assert.equal(loss(0), '0.0');
    assert.equal(loss(-1.5), '-1.5');
    assert.equal(loss(0.0001), '0.0001');
    assert.equal(loss(0.00001), '1e-05');
    assert.equal(loss(1.25e-7), '1.25e-07');
    assert.equal(loss(123456789012345.6), '123456789012345.6');
    assert.equal(loss(1e16), '1e+16');
    assert.equal(loss(2.5e100), '2.5e+100');
    assert.equal(loss(Infinity), 'inf');
    assert.equal(loss(NaN), 'nan');
    // Format specs as before.
    assert.equal(cb('w-{epoch:02d}-{loss:.4f}').path(2, { loss: 0.6931471824645996 }), 'w-03-0.6931');
  });
});

describe("compile and fit: Keras's defaults", () => {
  const rng = new Random(7);
  const N = 70;
  const x = new Tensor(
    Float32Array.from({ length: N * 2 * 3 }, () => rng.uniform(-1, 1)),
    [N, 2, 3],
  );
  const y = new Tensor(
    Float32Array.from({ length: N }, () => rng.uniform(-1, 1)),
    [N, 1],
  );
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const sequentialModel = (): Sequential =>
    new Sequential({ seed: 1, layers: [L.lstm({ units: 2, inputShape: [2, 3] }), L.dense({ units: 1 })] });
  const functionalModel = (): Functional => {
    const inp = input({ shape: [2, 3] });
    return model({
      inputs: inp,
      outputs: L.dense({ units: 1 }).apply(L.lstm({ units: 2 }).apply(inp)),
      seed: 1,
    });
  };

  it("compile without an optimizer uses 'rmsprop' with its Keras defaults, as Keras's compile", () => {
    assert.equal(COMPILE_DEFAULTS.optimizer, 'rmsprop');
    for (const m of [sequentialModel(), functionalModel()]) {
      m.compile({ loss: 'mse' });
      assert.ok(m.optimizer instanceof RMSprop, `${m.className}: ${String(m.optimizer?.className)}`);
      assert.deepEqual(m.optimizer.getConfig(), new RMSprop().getConfig());
      assert.equal(m.fromLogits, false);
      assert.deepEqual(m.metrics, []);
    }
  });

  it('FIT_DEFAULTS: batch_size 32, epochs 1, shuffle true, initial_epoch 0 (Sequential and functional)', () => {
    const keras = { batchSize: 32, epochs: 1, shuffle: true, initialEpoch: 0 };
    assert.deepEqual({ ...FIT_DEFAULTS }, keras);
    assert.deepEqual({ ...FUNCTIONAL_FIT_DEFAULTS }, keras);
  });

  it('fit with no options: one epoch of batches of 32, no validation split; ModelCheckpoint saves it with its optimizer', async () => {
    for (const m of [sequentialModel(), functionalModel()]) {
      m.compile({ optimizer: 'sgd', loss: 'mse' });
      const dir = mkdtempSync(join(tmpdir(), 'recur-keras-defaults-'));
      dirs.push(dir);
      let params: TrainingParams | null = null;
      const sizes: number[] = [];
      const seen: LambdaCallback = new LambdaCallback({
        onTrainBegin: () => {
          params = seen.params;
        },
        onBatchEnd: (_batch, logs) => void sizes.push(logs.size),
      });
      const h = await m.fit(x, y, { callbacks: [seen, new ModelCheckpoint(join(dir, 'e{epoch}'))] });
      assert.deepEqual(sizes, [32, 32, 6], m.className);
      assert.equal(params!.epochs, 1);
      assert.equal(params!.batchSize, 32);
      assert.deepEqual(h.epoch, [0]);
      assert.ok(!Object.keys(h.history).some((k) => k.startsWith('val_')), Object.keys(h.history).join());
      // save_best_only false: saved whatever the (absent) val_loss; save_weights_only false: the optimizer's state too.
      assert.deepEqual(readdirSync(dir), ['e1']);
      const manifest = JSON.stringify(JSON.parse(readFileSync(join(dir, 'e1', 'model.json'), 'utf8')));
      assert.match(manifest, /"optimizer\//);
    }
  });
});
