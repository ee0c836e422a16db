/**
 * Keras files built in the tests (no Keras, TensorFlow or h5py here): small models with seeded random weights,
 * written with h5wasm in the layouts Keras's own savers use, spelled by hand after keras/engine/saving.py (Keras 2),
 * tf.keras 2.x and keras/src/saving (Keras 3) — configs, weight names and paths as in the real files of
 * ../shared/eval/keras/PROVENANCE.md. Each fixture comes with the same model built with recur's API on the same
 * weights (the reference) and an input.
 */
import { zipSync } from 'fflate';
import { Random } from '../src/core/random.js';
import { IndexTensor, Tensor, type AnyTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import type { Layer } from '../src/layers/layer.js';
import { Functional, input } from '../src/models/functional.js';
import { Sequential } from '../src/models/sequential.js';
import { dataset, group, writeH5, type H5Group, type H5Node } from '../src/keras/h5.js';

export type Model = Sequential | Functional;
type J = Record<string, unknown>;

export interface Fixture {
  name: string;
  /** The Keras file's bytes. */
  bytes: Uint8Array;
  /** The same model built with recur's API, with the same weights. */
  reference: Model;
  /** Inputs in the model's input order. */
  inputs: AnyTensor[];
  /** Whether @tensorflow/tfjs has every layer (and option) of the model. */
  tfjs: boolean;
}

/** Gives every weight of a model seeded random values in ±0.5 (biases too, so every bias path counts). */
export function randomizeWeights(model: Model, seed: number): void {
  const rng = new Random(seed);
  for (const l of model.layers)
    for (const w of l.weights) w.value.forEach((_, i, a) => (a[i] = rng.uniform(-0.5, 0.5)));
}

/** Keras 2 layer JSON: `{class_name, config}` with the keys every Keras 2 layer writes. */
function k2(cls: string, name: string, config: J, extra: J = {}): J {
  return { class_name: cls, config: { name, trainable: true, dtype: 'float32', ...config }, ...extra };
}

const K2_INIT = {
  kernel_initializer: {
    class_name: 'VarianceScaling',
    config: { scale: 1.0, mode: 'fan_avg', distribution: 'uniform', seed: null },
  },
  recurrent_initializer: { class_name: 'Orthogonal', config: { gain: 1.0, seed: null } },
  bias_initializer: { class_name: 'Zeros', config: {} },
  kernel_regularizer: null,
  recurrent_regularizer: null,
  bias_regularizer: null,
  activity_regularizer: null,
  kernel_constraint: null,
  recurrent_constraint: null,
  bias_constraint: null,
};

function k2Rnn(units: number, o: J = {}): J {
  return {
    return_sequences: false,
    return_state: false,
    go_backwards: false,
    stateful: false,
    unroll: false,
    implementation: 1,
    units,
    activation: 'tanh',
    use_bias: true,
    dropout: 0.0,
    recurrent_dropout: 0.0,
    ...K2_INIT,
    ...o,
  };
}

function k2Dense(units: number, activation: string): J {
  const { kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, activity_regularizer } =
    K2_INIT;
  const init = {
    kernel_initializer,
    bias_initializer,
    kernel_regularizer,
    bias_regularizer,
    activity_regularizer,
  };
  return { units, activation, use_bias: true, ...init, kernel_constraint: null, bias_constraint: null };
}

/** Puts a node at a slash path under `g`, making groups on the way. */
function put(g: H5Group, path: string, node: H5Node): void {
  const parts = path.split('/');
  let cur = g;
  for (const p of parts.slice(0, -1)) {
    let next = cur.children.get(p);
    if (!next) cur.children.set(p, (next = group()));
    cur = next as H5Group;
  }
  cur.children.set(parts[parts.length - 1], node);
}

/**
 * A legacy HDF5 full-model file: root attributes, /model_weights with layer_names, one group per layer with
 * weight_names and its datasets at those names. `names(layer)` gives each weight's name in the file, in order.
 */
export async function legacyH5(
  model: Model,
  modelConfig: J | null,
  version: string,
  names: (l: Layer) => string[],
  opts: {
    weightsOnly?: boolean;
    transform?: (l: Layer, i: number, v: Float32Array) => { shape: number[]; values: Float32Array };
  } = {},
): Promise<{ root: H5Group; bytes: Uint8Array }> {
  const root = group({ keras_version: version, backend: 'tensorflow' });
  if (modelConfig) root.attrs.model_config = JSON.stringify(modelConfig);
  if (modelConfig)
    root.attrs.training_config = JSON.stringify({ loss: 'categorical_crossentropy', metrics: [] });
  const mw = opts.weightsOnly ? root : group({ keras_version: version, backend: 'tensorflow' });
  const layers = model.layers.filter((l) => !(l.className === 'InputLayer' && model instanceof Sequential));
  mw.attrs.layer_names = layers.map((l) => l.name);
  for (const l of layers) {
    const ns = names(l);
    const lg = group(ns.length ? { weight_names: ns } : {});
    l.weights.forEach((w, i) => {
      const t = opts.transform?.(l, i, w.value) ?? { shape: [...w.shape], values: w.value.slice() };
      put(lg, ns[i], dataset(t.shape, t.values));
    });
    mw.children.set(l.name, lg);
  }
  if (!opts.weightsOnly) {
    root.children.set('model_weights', mw);
    // Optimizer state, as Keras writes it: skipped by the reader.
    root.children.set(
      'optimizer_weights',
      group({ weight_names: ['iterations:0'] }, [['iterations:0', dataset([], Float32Array.of(3))]]),
    );
  }
  return { root, bytes: await writeH5(root) };
}

/** Keras 3's layer JSON: module, registered_name, a DTypePolicy, build_config. */
function k3(cls: string, name: string, config: J, extra: J = {}): J {
  return {
    module: 'keras.layers',
    class_name: cls,
    config: {
      name,
      trainable: true,
      dtype: {
        module: 'keras',
        class_name: 'DTypePolicy',
        config: { name: 'float32' },
        registered_name: null,
      },
      ...config,
    },
    registered_name: null,
    ...extra,
  };
}

const K3_INIT = {
  kernel_initializer: {
    module: 'keras.initializers',
    class_name: 'GlorotUniform',
    config: { seed: null },
    registered_name: null,
  },
  recurrent_initializer: {
    module: 'keras.initializers',
    class_name: 'Orthogonal',
    config: { seed: null, gain: 1.0 },
    registered_name: null,
  },
  bias_initializer: { module: 'keras.initializers', class_name: 'Zeros', config: {}, registered_name: null },
};

function k3Rnn(units: number, o: J = {}): J {
  return {
    return_sequences: false,
    return_state: false,
    go_backwards: false,
    stateful: false,
    unroll: false,
    zero_output_for_mask: false,
    units,
    activation: 'tanh',
    recurrent_activation: 'sigmoid',
    use_bias: true,
    ...K3_INIT,
    kernel_regularizer: null,
    recurrent_regularizer: null,
    bias_regularizer: null,
    activity_regularizer: null,
    kernel_constraint: null,
    recurrent_constraint: null,
    bias_constraint: null,
    dropout: 0.0,
    recurrent_dropout: 0.0,
    seed: null,
    ...o,
  };
}

function kt(layer: string, index: number, shape: (number | null)[], dtype = 'float32'): J {
  return { class_name: '__keras_tensor__', config: { shape, dtype, keras_history: [layer, 0, index] } };
}

/** A vars group of a Keras 3 weights file. */
function vars(name: string, values: { shape: readonly number[]; value: Float32Array }[]): H5Group {
  return group(
    { name },
    values.map((w, i) => [String(i), dataset(w.shape, w.value.slice())] as [string, H5Node]),
  );
}

/** A .keras archive: metadata.json, config.json, model.weights.h5, stored as Keras's zipfile writes them. */
export async function kerasArchive(config: J, weights: H5Group, version: string): Promise<Uint8Array> {
  const enc = new TextEncoder();
  return zipSync({
    'metadata.json': enc.encode(
      JSON.stringify({ keras_version: version, date_saved: '2025-04-13@08:54:17' }),
    ),
    'config.json': enc.encode(JSON.stringify(config)),
    'model.weights.h5': [await writeH5(weights), { level: 0 }],
  });
}

function tokens(shape: number[], vocab: number, seed: number, padFrom?: number): IndexTensor {
  const rng = new Random(seed);
  const [N, T] = shape;
  const d = new Int32Array(N * T);
  for (let i = 0; i < d.length; i++)
    d[i] = padFrom !== undefined && i % T >= padFrom && i >= T ? 0 : 1 + rng.int(vocab - 1);
  return new IndexTensor(d, shape);
}

function floats(shape: number[], seed: number, zeroSteps: number[] = []): Tensor {
  const rng = new Random(seed);
  const [N, T, D] = shape;
  const d = new Float32Array(N * T * D);
  for (let i = 0; i < d.length; i++) d[i] = rng.uniform(-1, 1);
  // Row 1's listed steps all zero: a Masking layer masks them.
  for (const t of zeroSteps) if (N > 1) d.fill(0, (T + t) * D, (T + t + 1) * D);
  return new Tensor(d, shape);
}

/** Weight names as Keras 2.0–2.2 write them: `<layer>/<weight>:0`. */
const k22Names = (l: Layer): string[] => l.weights.map((w) => `${l.name}/${w.name}:0`);

/** The inverse of keras/engine/saving.py's CuDNN → CPU conversion (the test writes what a CuDNN layer saved). */
export function toCudnn(
  kind: 'LSTM' | 'GRU',
  i: number,
  v: Float32Array,
  shape: readonly number[],
): { shape: number[]; values: Float32Array } {
  const gates = kind === 'LSTM' ? 4 : 3;
  if (i === 2) {
    if (kind === 'GRU') return { shape: [v.length], values: v.slice() }; // [2, 3H] → (6H,): input bias, recurrent bias
    const out = new Float32Array(2 * v.length); // any split that sums to b: here 0.3·b and 0.7·b
    v.forEach((b, j) => ((out[j] = 0.3 * b), (out[v.length + j] = 0.7 * b)));
    return { shape: [2 * v.length], values: out };
  }
  const [rows, cols] = shape;
  const h = cols / gates;
  const out = new Float32Array(v.length);
  for (let g = 0; g < gates; g++) {
    // k: the CPU gate block [rows, h]. Recurrent: stored transposed. Input: c with C-order flat c[n] = k[n % rows, ⌊n/rows⌋].
    for (let n = 0; n < rows * h; n++) {
      const r = n % rows;
      const c = Math.floor(n / rows);
      const k = (rr: number, cc: number): number => v[rr * cols + g * h + cc];
      const value = i === 1 ? k(Math.floor(n / h) % h, n % h) : k(r, c);
      const dst =
        i === 1 ? (n % h) * cols + g * h + Math.floor(n / h) : Math.floor(n / h) * cols + g * h + (n % h);
      out[dst] = value;
    }
  }
  return { shape: [rows, cols], values: out };
}

/** Every fixture. */
export async function fixtures(): Promise<Fixture[]> {
  const out: Fixture[] = [];

  {
    // Keras 2.0.3: Sequential config as a list; LSTM hard_sigmoid, go_backwards, unroll, implementation 0.
    const ref = new Sequential({
      seed: 1,
      layers: [
        new L.LSTM({
          name: 'lstm_1',
          units: 3,
          recurrentActivation: 'hardSigmoid',
          goBackwards: true,
          inputShape: [5, 4],
        }),
        new L.Dropout({ name: 'dropout_1', rate: 0.2 }),
        new L.Dense({ name: 'dense_1', units: 6, activation: 'softmax' }),
      ],
    });
    ref.build();
    randomizeWeights(ref, 11);
    const cfg = {
      class_name: 'Sequential',
      config: [
        k2('LSTM', 'lstm_1', {
          batch_input_shape: [null, 5, 4],
          ...k2Rnn(3, {
            recurrent_activation: 'hard_sigmoid',
            go_backwards: true,
            unroll: true,
            implementation: 0,
            unit_forget_bias: true,
          }),
        }),
        k2('Dropout', 'dropout_1', { rate: 0.2, noise_shape: null, seed: null }),
        k2('Dense', 'dense_1', k2Dense(6, 'softmax')),
      ],
    };
    const { bytes } = await legacyH5(ref, cfg, '2.0.3', k22Names);
    out.push({
      name: 'Keras 2.0 list config: LSTM hard_sigmoid go_backwards, Dropout, Dense',
      bytes,
      reference: ref,
      inputs: [floats([2, 5, 4], 1)],
      tfjs: true,
    });
  }

  {
    // tf.keras 2.4: dict config with an InputLayer; Embedding(mask_zero) → GRU(reset_after=False, hard_sigmoid, rs)
    // → GRU(reset_after=True) → Dense(sigmoid). Weight names: gru/gru/gru_cell/kernel:0.
    const ref = new Sequential({
      seed: 1,
      layers: [
        new L.Embedding({ name: 'embedding', inputDim: 9, outputDim: 4, maskZero: true, inputShape: [6] }),
        new L.GRU({
          name: 'gru',
          units: 3,
          resetAfter: false,
          recurrentActivation: 'hardSigmoid',
          returnSequences: true,
        }),
        new L.GRU({ name: 'gru_1', units: 4, resetAfter: true }),
        new L.Dense({ name: 'dense', units: 1, activation: 'sigmoid' }),
      ],
    });
    ref.build();
    randomizeWeights(ref, 12);
    const cfg = {
      class_name: 'Sequential',
      config: {
        name: 'sequential',
        layers: [
          k2('InputLayer', 'embedding_input', {
            batch_input_shape: [null, 6],
            dtype: 'float32',
            sparse: false,
            ragged: false,
          }),
          k2('Embedding', 'embedding', {
            batch_input_shape: [null, 6],
            input_dim: 9,
            output_dim: 4,
            embeddings_initializer: {
              class_name: 'RandomUniform',
              config: { minval: -0.05, maxval: 0.05, seed: null },
            },
            embeddings_regularizer: null,
            activity_regularizer: null,
            embeddings_constraint: null,
            mask_zero: true,
            input_length: 6,
          }),
          k2('GRU', 'gru', {
            ...k2Rnn(3, {
              return_sequences: true,
              recurrent_activation: 'hard_sigmoid',
              reset_after: false,
              time_major: false,
            }),
          }),
          k2('GRU', 'gru_1', {
            ...k2Rnn(4, { recurrent_activation: 'sigmoid', reset_after: true, time_major: false }),
          }),
          k2('Dense', 'dense', k2Dense(1, 'sigmoid')),
        ],
      },
    };
    const cell = new Map([
      ['gru', 'gru_cell'],
      ['gru_1', 'gru_cell_1'],
    ]);
    const names = (l: Layer): string[] =>
      l.weights.map((w) =>
        cell.has(l.name) ? `${l.name}/${cell.get(l.name)}/${w.name}:0` : `${l.name}/${w.name}:0`,
      );
    const { bytes } = await legacyH5(ref, cfg, '2.4.0', names);
    out.push({
      name: 'tf.keras 2.4 dict config: Embedding(mask_zero), GRU reset_after false (hard_sigmoid) and true, Dense',
      bytes,
      reference: ref,
      inputs: [tokens([2, 6], 9, 2, 3)],
      tfjs: false,
    });
  }

  {
    // Keras 2.2: Masking → SimpleRNN(stateful, relu, rs) → SpatialDropout1D → TimeDistributed(Dense) → Activation.
    const ref = new Sequential({
      seed: 1,
      layers: [
        new L.Masking({ name: 'masking_1', maskValue: 0, batchInputShape: [2, 5, 4] }),
        new L.SimpleRNN({
          name: 'simple_rnn_1',
          units: 3,
          activation: 'relu',
          returnSequences: true,
          stateful: true,
        }),
        new L.SpatialDropout1D({ name: 'spatial_dropout1d_1', rate: 0.3 }),
        new L.TimeDistributed({
          name: 'time_distributed_1',
          layer: new L.Dense({ units: 2, name: 'dense_1' }),
        }),
        new L.Activation({ name: 'activation_1', activation: 'softmax' }),
      ],
    });
    ref.build();
    randomizeWeights(ref, 13);
    const cfg = {
      class_name: 'Sequential',
      config: {
        name: 'sequential_1',
        layers: [
          k2('Masking', 'masking_1', { batch_input_shape: [2, 5, 4], mask_value: 0.0 }),
          k2(
            'SimpleRNN',
            'simple_rnn_1',
            k2Rnn(3, { activation: 'relu', return_sequences: true, stateful: true }),
          ),
          k2('SpatialDropout1D', 'spatial_dropout1d_1', { rate: 0.3, noise_shape: null, seed: null }),
          k2('TimeDistributed', 'time_distributed_1', {
            layer: k2('Dense', 'dense_1', k2Dense(2, 'linear')),
          }),
          k2('Activation', 'activation_1', { activation: 'softmax' }),
        ],
      },
    };
    const { bytes } = await legacyH5(ref, cfg, '2.2.4', k22Names);
    out.push({
      name: 'Keras 2.2: Masking, stateful SimpleRNN, SpatialDropout1D, TimeDistributed(Dense), Activation',
      bytes,
      reference: ref,
      inputs: [floats([2, 5, 4], 3, [3, 4])],
      tfjs: true,
    });
  }

  {
    // tf.keras 2.2.4-tf: Embedding → Bidirectional(LSTM, concat) → RepeatVector → LSTM(rs) → TimeDistributed(Dense)
    const ref = new Sequential({
      seed: 1,
      layers: [
        new L.Embedding({ name: 'embedding_1', inputDim: 7, outputDim: 4, inputShape: [5] }),
        new L.Bidirectional({ name: 'bidirectional', layer: new L.LSTM({ units: 3, name: 'lstm' }) }),
        new L.RepeatVector({ name: 'repeat_vector', n: 3 }),
        new L.LSTM({ name: 'lstm_1', units: 2, returnSequences: true }),
        new L.TimeDistributed({
          name: 'time_distributed',
          layer: new L.Dense({ units: 2, activation: 'softmax', name: 'dense' }),
        }),
      ],
    });
    ref.build();
    randomizeWeights(ref, 14);
    const cfg = {
      class_name: 'Sequential',
      config: {
        name: 'sequential',
        layers: [
          k2('Embedding', 'embedding_1', {
            batch_input_shape: [null, 5],
            input_dim: 7,
            output_dim: 4,
            embeddings_initializer: {
              class_name: 'RandomUniform',
              config: { minval: -0.05, maxval: 0.05, seed: null },
            },
            mask_zero: false,
            input_length: 5,
          }),
          k2('Bidirectional', 'bidirectional', {
            layer: k2('LSTM', 'lstm', k2Rnn(3, { recurrent_activation: 'sigmoid', unit_forget_bias: true })),
            merge_mode: 'concat',
          }),
          k2('RepeatVector', 'repeat_vector', { n: 3 }),
          k2(
            'LSTM',
            'lstm_1',
            k2Rnn(2, { return_sequences: true, recurrent_activation: 'sigmoid', unit_forget_bias: true }),
          ),
          k2('TimeDistributed', 'time_distributed', { layer: k2('Dense', 'dense', k2Dense(2, 'softmax')) }),
        ],
      },
    };
    // Bidirectional's weights: bidirectional/forward_lstm/kernel:0 … then backward_lstm.
    const names = (l: Layer): string[] => l.weights.map((w) => `${l.name}/${w.name}:0`);
    const { bytes } = await legacyH5(ref, cfg, '2.2.4-tf', names);
    out.push({
      name: 'tf.keras 2.2.4-tf: Embedding, Bidirectional(LSTM), RepeatVector, LSTM, TimeDistributed(Dense softmax)',
      bytes,
      reference: ref,
      inputs: [tokens([2, 5], 7, 4)],
      tfjs: true,
    });
  }

  {
    // Keras 2.1: CuDNNLSTM → CuDNNGRU → Dense, weights in CuDNN layout.
    const ref = new Sequential({
      seed: 1,
      layers: [
        new L.LSTM({ name: 'cu_dnnlstm_1', units: 3, returnSequences: true, inputShape: [5, 4] }),
        new L.GRU({ name: 'cu_dnngru_1', units: 3, resetAfter: true }),
        new L.Dense({ name: 'dense_1', units: 2 }),
      ],
    });
    ref.build();
    randomizeWeights(ref, 15);
    const cudnn = (units: number, o: J = {}): J => ({
      units,
      return_sequences: false,
      return_state: false,
      go_backwards: false,
      stateful: false,
      ...K2_INIT,
      ...o,
    });
    const cfg = {
      class_name: 'Sequential',
      config: [
        k2('CuDNNLSTM', 'cu_dnnlstm_1', {
          batch_input_shape: [null, 5, 4],
          ...cudnn(3, { return_sequences: true, unit_forget_bias: true }),
        }),
        k2('CuDNNGRU', 'cu_dnngru_1', cudnn(3)),
        k2('Dense', 'dense_1', k2Dense(2, 'linear')),
      ],
    };
    const transform = (l: Layer, i: number, v: Float32Array): { shape: number[]; values: Float32Array } =>
      l.className === 'Dense'
        ? { shape: [...l.weights[i].shape], values: v.slice() }
        : toCudnn(l.className as 'LSTM' | 'GRU', i, v, l.weights[i].shape);
    const { bytes } = await legacyH5(ref, cfg, '2.1.5', k22Names, { transform });
    out.push({
      name: 'Keras 2.1: CuDNNLSTM and CuDNNGRU weights (CuDNN layout) on the CPU layers',
      bytes,
      reference: ref,
      inputs: [floats([2, 5, 4], 5)],
      tfjs: false,
    });
  }

  {
    // Keras 2.2 functional 'Model': encoder LSTM(return_state) → decoder LSTM(initial_state as extra inbound
    // tensors) → Attention, AdditiveAttention → Add → Concatenate → Dense.
    const enc = input({ batchInputShape: [null, 5, 4], name: 'input_1' });
    const dec = input({ batchInputShape: [null, 3, 4], name: 'input_2' });
    const [encSeq, h, c] = new L.LSTM({
      name: 'lstm_1',
      units: 3,
      returnSequences: true,
      returnState: true,
    }).applyMany(enc);
    const [decSeq] = new L.LSTM({ name: 'lstm_2', units: 3, returnSequences: true }).applyMany([dec, h, c]);
    const [att] = new L.Attention({ name: 'attention_1' }).applyMany([decSeq, encSeq]);
    const [add] = new L.AdditiveAttention({ name: 'additive_attention_1' }).applyMany([decSeq, encSeq]);
    const [sum] = new L.Add({ name: 'add_1' }).applyMany([att, add]);
    const [cat] = new L.Concatenate({ name: 'concatenate_1' }).applyMany([decSeq, sum]);
    const [y] = new L.Dense({ name: 'dense_1', units: 5, activation: 'softmax' }).applyMany(cat);
    const ref = new Functional({ name: 'model_1', inputs: [enc, dec], outputs: y, seed: 1 });
    randomizeWeights(ref, 16);
    const node = (refs: [string, number][]): unknown[] => [refs.map(([n, i]) => [n, 0, i, {}])];
    const cfg = {
      class_name: 'Model',
      config: {
        name: 'model_1',
        layers: [
          k2(
            'InputLayer',
            'input_1',
            { batch_input_shape: [null, 5, 4], sparse: false },
            { name: 'input_1', inbound_nodes: [] },
          ),
          k2(
            'InputLayer',
            'input_2',
            { batch_input_shape: [null, 3, 4], sparse: false },
            { name: 'input_2', inbound_nodes: [] },
          ),
          k2(
            'LSTM',
            'lstm_1',
            k2Rnn(3, {
              return_sequences: true,
              return_state: true,
              recurrent_activation: 'sigmoid',
              unit_forget_bias: true,
            }),
            {
              name: 'lstm_1',
              inbound_nodes: node([['input_1', 0]]),
            },
          ),
          k2(
            'LSTM',
            'lstm_2',
            k2Rnn(3, { return_sequences: true, recurrent_activation: 'sigmoid', unit_forget_bias: true }),
            {
              name: 'lstm_2',
              inbound_nodes: node([
                ['input_2', 0],
                ['lstm_1', 1],
                ['lstm_1', 2],
              ]),
            },
          ),
          k2(
            'Attention',
            'attention_1',
            { use_scale: false, causal: false, dropout: 0.0 },
            {
              name: 'attention_1',
              inbound_nodes: node([
                ['lstm_2', 0],
                ['lstm_1', 0],
              ]),
            },
          ),
          k2(
            'AdditiveAttention',
            'additive_attention_1',
            { use_scale: true, causal: false, dropout: 0.0 },
            {
              name: 'additive_attention_1',
              inbound_nodes: node([
                ['lstm_2', 0],
                ['lstm_1', 0],
              ]),
            },
          ),
          k2(
            'Add',
            'add_1',
            {},
            {
              name: 'add_1',
              inbound_nodes: node([
                ['attention_1', 0],
                ['additive_attention_1', 0],
              ]),
            },
          ),
          k2(
            'Concatenate',
            'concatenate_1',
            { axis: -1 },
            {
              name: 'concatenate_1',
              inbound_nodes: node([
                ['lstm_2', 0],
                ['add_1', 0],
              ]),
            },
          ),
          k2('Dense', 'dense_1', k2Dense(5, 'softmax'), {
            name: 'dense_1',
            inbound_nodes: node([['concatenate_1', 0]]),
          }),
        ],
        input_layers: [
          ['input_1', 0, 0],
          ['input_2', 0, 0],
        ],
        output_layers: [['dense_1', 0, 0]],
      },
    };
    const { bytes } = await legacyH5(ref, cfg, '2.2.5', k22Names);
    out.push({
      name: 'Keras 2.2 functional Model: LSTM initial states, Attention, AdditiveAttention, Add, Concatenate',
      bytes,
      reference: ref,
      inputs: [floats([2, 5, 4], 6), floats([2, 3, 4], 7)],
      tfjs: false,
    });
  }

  {
    // Keras 3.9 .keras, Sequential: GRU(hard_sigmoid = Keras 3's x/6 + 0.5) → Dense. Weights at layers/gru/cell/vars.
    const ref = new Sequential({
      seed: 1,
      layers: [
        new L.GRU({ name: 'gru_1', units: 4, recurrentActivation: 'hardSigmoidKeras3', inputShape: [6, 2] }),
        new L.Dense({ name: 'dense_1', units: 1 }),
      ],
    });
    ref.build();
    randomizeWeights(ref, 17);
    const cfg = {
      module: 'keras',
      class_name: 'Sequential',
      config: {
        name: 'sequential_1',
        trainable: true,
        layers: [
          {
            module: 'keras.layers',
            class_name: 'InputLayer',
            config: {
              batch_shape: [null, 6, 2],
              dtype: 'float32',
              sparse: false,
              ragged: false,
              name: 'input_layer_1',
            },
            registered_name: null,
          },
          k3('GRU', 'gru_1', k3Rnn(4, { recurrent_activation: 'hard_sigmoid', reset_after: true }), {
            build_config: { input_shape: [null, 6, 2] },
          }),
          k3(
            'Dense',
            'dense_1',
            {
              units: 1,
              activation: 'linear',
              use_bias: true,
              kernel_initializer: K3_INIT.kernel_initializer,
              bias_initializer: K3_INIT.bias_initializer,
              kernel_regularizer: null,
              bias_regularizer: null,
              kernel_constraint: null,
              bias_constraint: null,
            },
            { build_config: { input_shape: [null, 4] } },
          ),
        ],
        build_input_shape: [null, 6, 2],
      },
      registered_name: null,
      build_config: { input_shape: [null, 6, 2] },
    };
    const [gru, dense] = ref.layers;
    const w = group({}, [
      [
        'layers',
        group({}, [
          ['dense', group({}, [['vars', vars('dense_1', dense.weights)]])],
          [
            'gru',
            group({}, [
              ['cell', group({}, [['vars', vars('gru_cell', gru.weights)]])],
              ['vars', vars('gru_1', [])],
            ]),
          ],
        ]),
      ],
      ['optimizer', group({}, [['vars', group({ name: 'adam' }, [['0', dataset([], Float32Array.of(7))]])]])],
      ['vars', vars('sequential_1', [])],
    ]);
    out.push({
      name: 'Keras 3.9 .keras Sequential: GRU with Keras 3 hard_sigmoid, Dense',
      bytes: await kerasArchive(cfg, w, '3.9.2'),
      reference: ref,
      inputs: [floats([2, 6, 2], 8)],
      tfjs: false,
    });
  }

  {
    // Keras 3.8 .keras, Functional: two float32 Inputs of token ids → Embedding ×2 → encoder LSTM(return_state) →
    // decoder LSTM(initial_state in kwargs) → Bidirectional(GRU) → TimeDistributed(Dense softmax).
    const a = input({ batchInputShape: [null, null], name: 'input_layer', dtype: 'int32' });
    const b = input({ batchInputShape: [null, null], name: 'input_layer_1', dtype: 'int32' });
    const [ea] = new L.Embedding({ name: 'embedding', inputDim: 6, outputDim: 3 }).applyMany(a);
    const [eb] = new L.Embedding({ name: 'embedding_1', inputDim: 7, outputDim: 3 }).applyMany(b);
    const [, h, c] = new L.LSTM({ name: 'lstm', units: 4, returnState: true }).applyMany(ea);
    const [ds] = new L.LSTM({ name: 'lstm_1', units: 4, returnSequences: true }).applyMany([eb, h, c]);
    const [bi] = new L.Bidirectional({
      name: 'bidirectional',
      layer: new L.GRU({ units: 2, returnSequences: true, name: 'gru' }),
      mergeMode: 'sum',
    }).applyMany(ds);
    const [y] = new L.TimeDistributed({
      name: 'time_distributed',
      layer: new L.Dense({ units: 7, activation: 'softmax', name: 'dense' }),
    }).applyMany(bi);
    const ref = new Functional({ name: 'functional', inputs: [a, b], outputs: y, seed: 1 });
    randomizeWeights(ref, 18);
    const inb = (args: unknown[], kwargs: J = {}): unknown[] => [{ args, kwargs }];
    const gruCfg = (name: string, back: boolean): J =>
      k3('GRU', name, k3Rnn(2, { return_sequences: true, reset_after: true, go_backwards: back }));
    const cfg = {
      module: 'keras.src.models.functional',
      class_name: 'Functional',
      config: {
        name: 'functional',
        trainable: true,
        layers: [
          {
            module: 'keras.layers',
            class_name: 'InputLayer',
            config: { batch_shape: [null, null], dtype: 'float32', sparse: false, name: 'input_layer' },
            registered_name: null,
            name: 'input_layer',
            inbound_nodes: [],
          },
          {
            module: 'keras.layers',
            class_name: 'InputLayer',
            config: { batch_shape: [null, null], dtype: 'float32', sparse: false, name: 'input_layer_1' },
            registered_name: null,
            name: 'input_layer_1',
            inbound_nodes: [],
          },
          k3(
            'Embedding',
            'embedding',
            { input_dim: 6, output_dim: 3, mask_zero: false },
            {
              name: 'embedding',
              build_config: { input_shape: [null, null] },
              inbound_nodes: inb([kt('input_layer', 0, [null, null])]),
            },
          ),
          k3(
            'Embedding',
            'embedding_1',
            { input_dim: 7, output_dim: 3, mask_zero: false },
            { name: 'embedding_1', inbound_nodes: inb([kt('input_layer_1', 0, [null, null])]) },
          ),
          k3('LSTM', 'lstm', k3Rnn(4, { return_state: true, unit_forget_bias: true }), {
            name: 'lstm',
            inbound_nodes: inb([kt('embedding', 0, [null, null, 3])], { training: false, mask: null }),
          }),
          k3('LSTM', 'lstm_1', k3Rnn(4, { return_sequences: true, unit_forget_bias: true }), {
            name: 'lstm_1',
            inbound_nodes: inb([kt('embedding_1', 0, [null, null, 3])], {
              initial_state: [kt('lstm', 1, [null, 4]), kt('lstm', 2, [null, 4])],
              training: false,
            }),
          }),
          k3(
            'Bidirectional',
            'bidirectional',
            {
              merge_mode: 'sum',
              layer: gruCfg('forward_gru', false),
              backward_layer: gruCfg('backward_gru', true),
            },
            { name: 'bidirectional', inbound_nodes: inb([kt('lstm_1', 0, [null, null, 4])]) },
          ),
          k3(
            'TimeDistributed',
            'time_distributed',
            { layer: k3('Dense', 'dense', { units: 7, activation: 'softmax', use_bias: true }) },
            { name: 'time_distributed', inbound_nodes: inb([kt('bidirectional', 0, [null, null, 2])]) },
          ),
        ],
        input_layers: [
          ['input_layer', 0, 0],
          ['input_layer_1', 0, 0],
        ],
        output_layers: ['time_distributed', 0, 0],
      },
      registered_name: 'Functional',
    };
    const lay = (n: string): Layer => ref.layers.find((l) => l.name === n)!;
    const biw = lay('bidirectional').weights;
    const w = group({}, [
      [
        'layers',
        group({}, [
          [
            'bidirectional',
            group({}, [
              [
                'backward_layer',
                group({}, [
                  ['cell', group({}, [['vars', vars('gru_cell', biw.slice(3))]])],
                  ['vars', vars('backward_gru', [])],
                ]),
              ],
              [
                'forward_layer',
                group({}, [
                  ['cell', group({}, [['vars', vars('gru_cell', biw.slice(0, 3))]])],
                  ['vars', vars('forward_gru', [])],
                ]),
              ],
              ['vars', vars('bidirectional', [])],
            ]),
          ],
          ['embedding', group({}, [['vars', vars('embedding', lay('embedding').weights)]])],
          ['embedding_1', group({}, [['vars', vars('embedding_1', lay('embedding_1').weights)]])],
          ['input_layer', group({}, [['vars', vars('input_layer', [])]])],
          ['input_layer_1', group({}, [['vars', vars('input_layer_1', [])]])],
          [
            'lstm',
            group({}, [
              ['cell', group({}, [['vars', vars('lstm_cell', lay('lstm').weights)]])],
              ['vars', vars('lstm', [])],
            ]),
          ],
          [
            'lstm_1',
            group({}, [
              ['cell', group({}, [['vars', vars('lstm_cell', lay('lstm_1').weights)]])],
              ['vars', vars('lstm_1', [])],
            ]),
          ],
          [
            'time_distributed',
            group({}, [
              ['layer', group({}, [['vars', vars('dense', lay('time_distributed').weights)]])],
              ['vars', vars('time_distributed', [])],
            ]),
          ],
        ]),
      ],
      ['vars', vars('functional', [])],
    ]);
    out.push({
      name: 'Keras 3.8 .keras Functional: Embeddings, LSTM initial_state kwargs, Bidirectional(GRU, sum), TimeDistributed',
      bytes: await kerasArchive(cfg, w, '3.8.0'),
      reference: ref,
      inputs: [tokens([2, 5], 6, 9), tokens([2, 4], 7, 10)],
      tfjs: false,
    });
  }

  {
    // Keras 3.8 legacy .h5: LSTM with hard_sigmoid (Keras 3's) → Dense; names lstm/sequential/lstm/lstm_cell/kernel.
    const ref = new Sequential({
      seed: 1,
      layers: [
        new L.LSTM({ name: 'lstm', units: 3, recurrentActivation: 'hardSigmoidKeras3', inputShape: [4, 3] }),
        new L.Dense({ name: 'dense', units: 2, activation: 'softmax' }),
      ],
    });
    ref.build();
    randomizeWeights(ref, 19);
    const cfg = {
      class_name: 'Sequential',
      config: {
        name: 'sequential',
        trainable: true,
        dtype: 'float32',
        layers: [
          {
            class_name: 'InputLayer',
            config: { batch_shape: [null, 4, 3], dtype: 'float32', sparse: false, name: 'input_layer' },
          },
          {
            class_name: 'LSTM',
            config: {
              name: 'lstm',
              trainable: true,
              dtype: 'float32',
              ...k3Rnn(3, { recurrent_activation: 'hard_sigmoid', unit_forget_bias: true }),
            },
          },
          {
            class_name: 'Dense',
            config: {
              name: 'dense',
              trainable: true,
              dtype: 'float32',
              units: 2,
              activation: 'softmax',
              use_bias: true,
            },
          },
        ],
      },
    };
    const names = (l: Layer): string[] =>
      l.weights.map((w) =>
        l.className === 'LSTM'
          ? `sequential/${l.name}/lstm_cell/${w.name}`
          : `sequential/${l.name}/${w.name}`,
      );
    const { bytes } = await legacyH5(ref, cfg, '3.8.0', names);
    out.push({
      name: 'Keras 3.8 legacy .h5: LSTM with Keras 3 hard_sigmoid, Dense',
      bytes,
      reference: ref,
      inputs: [floats([2, 4, 3], 9)],
      tfjs: false,
    });
  }

  {
    // tf.keras 2.9 .h5: Dense layers with the activations tf.keras 2 and tfjs share beyond Keras 2.0's.
    const acts = ['elu', 'selu', 'softplus', 'softsign', 'swish', 'gelu'] as const;
    const ref = new Sequential({
      seed: 1,
      layers: acts.map(
        (activation, i) =>
          new L.Dense({
            name: `dense_${i + 1}`,
            units: 3,
            activation,
            ...(i === 0 ? { inputShape: [4] } : {}),
          }),
      ),
    });
    ref.build();
    randomizeWeights(ref, 23);
    const cfg = {
      class_name: 'Sequential',
      config: {
        name: 'sequential_1',
        layers: acts.map((a, i) =>
          k2('Dense', `dense_${i + 1}`, {
            ...k2Dense(3, a),
            ...(i === 0 ? { batch_input_shape: [null, 4] } : {}),
          }),
        ),
      },
    };
    const { bytes } = await legacyH5(ref, cfg, '2.9.0', k22Names);
    out.push({
      name: 'tf.keras 2.9: Dense elu, selu, softplus, softsign, swish, gelu',
      bytes,
      reference: ref,
      inputs: [
        new Tensor(
          Float32Array.from({ length: 20 }, (_, i) => 3 * Math.sin(i)),
          [5, 4],
        ),
      ],
      tfjs: true,
    });
  }

  {
    // Keras 3.9 .keras: LSTM(elu) and Dense/Activation layers with Keras 3's other activations, one as a serialized
    // function ({module: 'keras.activations', class_name: 'function', …}). Weight groups by class, in order.
    const ref = new Sequential({
      seed: 1,
      layers: [
        new L.LSTM({
          name: 'lstm_1',
          units: 4,
          activation: 'elu',
          returnSequences: true,
          inputShape: [5, 3],
        }),
        new L.Dense({ name: 'dense_1', units: 4, activation: 'gelu' }),
        new L.Activation({ name: 'activation_1', activation: 'silu' }),
        new L.Dense({ name: 'dense_2', units: 4, activation: 'leaky_relu' }),
        new L.Dense({ name: 'dense_3', units: 4, activation: 'mish' }),
        new L.Activation({ name: 'activation_2', activation: 'hard_swish' }),
        new L.Dense({ name: 'dense_4', units: 3, activation: 'relu6' }),
        new L.Dense({ name: 'dense_5', units: 3, activation: 'exponential' }),
        new L.Activation({ name: 'activation_3', activation: 'log_softmax' }),
      ],
    });
    ref.build();
    randomizeWeights(ref, 29);
    const dense = (name: string, units: number, activation: unknown): J =>
      k3('Dense', name, {
        units,
        activation,
        use_bias: true,
        kernel_initializer: K3_INIT.kernel_initializer,
        bias_initializer: K3_INIT.bias_initializer,
        kernel_regularizer: null,
        bias_regularizer: null,
        kernel_constraint: null,
        bias_constraint: null,
      });
    const cfg = {
      module: 'keras',
      class_name: 'Sequential',
      config: {
        name: 'sequential_1',
        trainable: true,
        layers: [
          {
            module: 'keras.layers',
            class_name: 'InputLayer',
            config: {
              batch_shape: [null, 5, 3],
              dtype: 'float32',
              sparse: false,
              ragged: false,
              name: 'input_layer',
            },
            registered_name: null,
          },
          k3(
            'LSTM',
            'lstm_1',
            k3Rnn(4, { activation: 'elu', return_sequences: true, unit_forget_bias: true }),
          ),
          dense('dense_1', 4, {
            module: 'keras.activations',
            class_name: 'function',
            config: 'gelu',
            registered_name: 'function',
          }),
          k3('Activation', 'activation_1', { activation: 'silu' }),
          dense('dense_2', 4, 'leaky_relu'),
          dense('dense_3', 4, 'mish'),
          k3('Activation', 'activation_2', { activation: 'hard_swish' }),
          dense('dense_4', 3, 'relu6'),
          dense('dense_5', 3, 'exponential'),
          k3('Activation', 'activation_3', { activation: 'log_softmax' }),
        ],
        build_input_shape: [null, 5, 3],
      },
      registered_name: null,
      build_config: { input_shape: [null, 5, 3] },
    };
    const byName = (n: string): Layer => ref.layers.find((l) => l.name === n)!;
    const plain = (key: string, n: string): [string, H5Node] => [
      key,
      group({}, [['vars', vars(n, byName(n).weights)]]),
    ];
    const w = group({}, [
      [
        'layers',
        group({}, [
          ['activation', group({}, [['vars', vars('activation_1', [])]])],
          ['activation_1', group({}, [['vars', vars('activation_2', [])]])],
          ['activation_2', group({}, [['vars', vars('activation_3', [])]])],
          plain('dense', 'dense_1'),
          plain('dense_1', 'dense_2'),
          plain('dense_2', 'dense_3'),
          plain('dense_3', 'dense_4'),
          plain('dense_4', 'dense_5'),
          [
            'lstm',
            group({}, [
              ['cell', group({}, [['vars', vars('lstm_cell', byName('lstm_1').weights)]])],
              ['vars', vars('lstm_1', [])],
            ]),
          ],
        ]),
      ],
      ['vars', vars('sequential_1', [])],
    ]);
    out.push({
      name: "Keras 3.9 .keras: LSTM(elu), Dense/Activation with Keras 3's gelu, silu, leaky_relu, mish, hard_swish, relu6, exponential, log_softmax",
      bytes: await kerasArchive(cfg, w, '3.9.2'),
      reference: ref,
      inputs: [floats([2, 5, 3], 31)],
      tfjs: false,
    });
  }

  {
    // tf.keras 2.15 .h5: the advanced-activation layers as Keras 2 writes them (LeakyReLU's slope as `alpha`, ReLU
    // with all three options, ThresholdedReLU, ELU, PReLU (its alpha a weight), Softmax(axis -1)), with options tfjs
    // also has.
    const ref = new Sequential({
      seed: 1,
      layers: [
        new L.Dense({ name: 'dense', units: 5, activation: 'linear', inputShape: [4] }),
        new L.LeakyReLU({ name: 'leaky_re_lu', alpha: 0.1 }),
        new L.Dense({ name: 'dense_1', units: 5, activation: 'linear' }),
        new L.ELU({ name: 'elu' }),
        new L.Dense({ name: 'dense_2', units: 5, activation: 'linear' }),
        new L.ReLU({ name: 're_lu', maxValue: 0.4 }),
        new L.Dense({ name: 'dense_3', units: 5, activation: 'linear' }),
        new L.ThresholdedReLU({ name: 'thresholded_re_lu', theta: 0.05 }),
        new L.PReLU({ name: 'p_re_lu' }),
        new L.Dense({ name: 'dense_4', units: 3, activation: 'linear' }),
        new L.Softmax({ name: 'softmax', axis: -1 }),
      ],
    });
    ref.build();
    randomizeWeights(ref, 37);
    const cfg = {
      class_name: 'Sequential',
      config: {
        name: 'sequential',
        layers: [
          k2('InputLayer', 'dense_input', {
            batch_input_shape: [null, 4],
            dtype: 'float32',
            sparse: false,
            ragged: false,
          }),
          k2('Dense', 'dense', { ...k2Dense(5, 'linear'), batch_input_shape: [null, 4] }),
          k2('LeakyReLU', 'leaky_re_lu', { alpha: 0.1 }),
          k2('Dense', 'dense_1', k2Dense(5, 'linear')),
          k2('ELU', 'elu', { alpha: 1.0 }),
          k2('Dense', 'dense_2', k2Dense(5, 'linear')),
          k2('ReLU', 're_lu', { max_value: 0.4, negative_slope: 0.0, threshold: 0.0 }),
          k2('Dense', 'dense_3', k2Dense(5, 'linear')),
          k2('ThresholdedReLU', 'thresholded_re_lu', { theta: 0.05 }),
          k2('PReLU', 'p_re_lu', {
            alpha_initializer: { class_name: 'Zeros', config: {} },
            alpha_regularizer: null,
            alpha_constraint: null,
            shared_axes: null,
          }),
          k2('Dense', 'dense_4', k2Dense(3, 'linear')),
          k2('Softmax', 'softmax', { axis: -1 }),
        ],
      },
    };
    const { bytes } = await legacyH5(ref, cfg, '2.15.0', k22Names);
    out.push({
      name: 'tf.keras 2.15 .h5: LeakyReLU, ELU, ReLU(max_value), ThresholdedReLU, PReLU, Softmax layers',
      bytes,
      reference: ref,
      inputs: [
        new Tensor(
          Float32Array.from({ length: 24 }, (_, i) => 2 * Math.sin(i)),
          [6, 4],
        ),
      ],
      tfjs: true,
    });
  }

  {
    // Keras 3.9 .keras: LeakyReLU's slope as `negative_slope`, ReLU with negative_slope and threshold, ELU with
    // alpha 0.7, Softmax (tfjs has neither option). Weightless layers still get their vars groups.
    const ref = new Sequential({
      seed: 1,
      layers: [
        new L.Dense({ name: 'dense_1', units: 5, activation: 'linear', inputShape: [3, 4] }),
        new L.LeakyReLU({ name: 'leaky_re_lu_1', alpha: 0.2 }),
        new L.Dense({ name: 'dense_2', units: 5, activation: 'linear' }),
        new L.ReLU({ name: 're_lu_1', maxValue: 0.6, negativeSlope: 0.1, threshold: 0.05 }),
        new L.Dense({ name: 'dense_3', units: 5, activation: 'linear' }),
        new L.ELU({ name: 'elu_1', alpha: 0.7 }),
        new L.PReLU({ name: 'p_re_lu_1', sharedAxes: [1] }),
        new L.Dense({ name: 'dense_4', units: 3, activation: 'linear' }),
        new L.Softmax({ name: 'softmax_1' }),
      ],
    });
    ref.build();
    randomizeWeights(ref, 41);
    const dense = (name: string, units: number): J =>
      k3('Dense', name, {
        units,
        activation: 'linear',
        use_bias: true,
        kernel_initializer: K3_INIT.kernel_initializer,
        bias_initializer: K3_INIT.bias_initializer,
        kernel_regularizer: null,
        bias_regularizer: null,
        kernel_constraint: null,
        bias_constraint: null,
      });
    const cfg = {
      module: 'keras',
      class_name: 'Sequential',
      config: {
        name: 'sequential_1',
        trainable: true,
        layers: [
          {
            module: 'keras.layers',
            class_name: 'InputLayer',
            config: {
              batch_shape: [null, 3, 4],
              dtype: 'float32',
              sparse: false,
              ragged: false,
              name: 'input_layer',
            },
            registered_name: null,
          },
          dense('dense_1', 5),
          k3('LeakyReLU', 'leaky_re_lu_1', { negative_slope: 0.2 }),
          dense('dense_2', 5),
          k3('ReLU', 're_lu_1', { max_value: 0.6, negative_slope: 0.1, threshold: 0.05 }),
          dense('dense_3', 5),
          k3('ELU', 'elu_1', { alpha: 0.7 }),
          k3('PReLU', 'p_re_lu_1', {
            alpha_initializer: {
              module: 'keras.initializers',
              class_name: 'Zeros',
              config: {},
              registered_name: null,
            },
            alpha_regularizer: null,
            alpha_constraint: null,
            shared_axes: [1],
          }),
          dense('dense_4', 3),
          k3('Softmax', 'softmax_1', { axis: -1 }),
        ],
        build_input_shape: [null, 3, 4],
      },
      registered_name: null,
      build_config: { input_shape: [null, 3, 4] },
    };
    const byName = (n: string): Layer => ref.layers.find((l) => l.name === n)!;
    const plain = (key: string, n: string): [string, H5Node] => [
      key,
      group({}, [['vars', vars(n, byName(n).weights)]]),
    ];
    const w = group({}, [
      [
        'layers',
        group({}, [
          plain('dense', 'dense_1'),
          plain('dense_1', 'dense_2'),
          plain('dense_2', 'dense_3'),
          plain('dense_3', 'dense_4'),
          plain('leaky_re_lu', 'leaky_re_lu_1'),
          plain('re_lu', 're_lu_1'),
          plain('elu', 'elu_1'),
          plain('p_re_lu', 'p_re_lu_1'),
          plain('softmax', 'softmax_1'),
        ]),
      ],
      ['vars', vars('sequential_1', [])],
    ]);
    out.push({
      name: 'Keras 3.9 .keras: LeakyReLU(negative_slope), ReLU(all options), ELU(alpha 0.7), PReLU(shared_axes), Softmax layers',
      bytes: await kerasArchive(cfg, w, '3.9.2'),
      reference: ref,
      inputs: [floats([2, 3, 4], 43)],
      tfjs: false,
    });
  }

  return out;
}

/** A model's prediction(s) as one flat list of tensors. */
export function predictAll(model: Model, xs: AnyTensor[]): Tensor[] {
  if (model instanceof Functional) {
    const r = model.predict(xs);
    return Array.isArray(r) ? r : [r];
  }
  return [model.predict(xs[0])];
}
