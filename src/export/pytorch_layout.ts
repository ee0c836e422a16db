/**
 * recur's (Keras's) weight layout ↔ PyTorch's, for the layers `recur export pytorch` hands over. The exported project's
 * model.py does the same mapping in numpy when it reads and writes recur model directories; this is its reference,
 * tested against PyTorch's equations in TypeScript (test/export_pytorch.test.ts).
 *
 *   kernel [D, G·H], recurrent_kernel [H, G·H]     →  weight_ih_l0 [G·H, D], weight_hh_l0 [G·H, H]   (transposed)
 *   LSTM gates i, f, c, o                          →  i, f, g, o                                     (the same order)
 *   GRU gates z, r, h; bias [2, 3H] (input, then   →  r, z, n; bias_ih_l0 = the input bias, bias_hh_l0 = the
 *     recurrent: Keras's reset_after=True)              recurrent bias (PyTorch's GRU is reset_after=True)
 *   GRU reset_after=false (bias [3H])              →  model.py's GRUResetBefore, which keeps Keras's layout
 *   LSTM, SimpleRNN bias [G·H]                     →  bias_ih_l0 = bias, bias_hh_l0 = 0             (back: their sum)
 *   Dense kernel [D, U], bias [U]                  →  weight [U, D], bias [U]
 *   Embedding embeddings [V, E]                    →  weight [V, E]                                  (the same)
 *   PReLU alpha (the input's shape, 1 on shared    →  alpha                                          (the same)
 *     axes)
 *   Bidirectional(layer)                           →  each half ('forward_<name>', 'backward_<name>') as the layer
 */
import { InvalidInputError } from '../core/errors.js';
import { KERAS_ACTIVATIONS } from '../layers/activations.js';

/** One weight: its shape and row-major values. */
export interface LayoutTensor {
  shape: number[];
  data: Float32Array;
}
export type LayoutParams = Record<string, LayoutTensor>;

/** The layers the PyTorch export maps (Keras class names). */
export const EXPORTED_RECURRENT = ['LSTM', 'GRU', 'SimpleRNN'] as const;

/** Keras's activation layers, which model.py's ActivationLayer computes with recur's formulas and defaults. */
export const EXPORTED_ACTIVATION_LAYERS = [
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ThresholdedReLU',
  'ELU',
  'Softmax',
  'PReLU',
] as const;

function transpose(t: LayoutTensor): LayoutTensor {
  const [r, c] = t.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return { shape: [c, r], data: out };
}

/** Swaps the first two H-wide blocks of every row's last axis ([z | r | h] ↔ [r | z | n]); its own inverse. */
function swapFirstBlocks(t: LayoutTensor, H: number): LayoutTensor {
  const last = t.shape[t.shape.length - 1];
  const out = t.data.slice();
  for (let row = 0; row < t.data.length / last; row++) {
    const o = row * last;
    out.set(t.data.subarray(o + H, o + 2 * H), o);
    out.set(t.data.subarray(o, o + H), o + H);
  }
  return { shape: [...t.shape], data: out };
}

function rowOf(t: LayoutTensor, i: number): LayoutTensor {
  const n = t.shape[1];
  return { shape: [n], data: t.data.slice(i * n, (i + 1) * n) };
}

function need(params: LayoutParams, name: string, layer: string): LayoutTensor {
  const t = params[name];
  if (!t) throw new InvalidInputError(`layer '${layer}': weight '${name}' is missing`);
  return t;
}

/**
 * A layer's weights in recur's layout (kernel, recurrent_kernel, bias; embeddings) as PyTorch's parameters (by
 * PyTorch name). A GRU with reset_after=false (`resetAfter` false, or told by its [3H] bias) keeps Keras's layout:
 * model.py's GRUResetBefore computes it, since PyTorch's GRU resets after the recurrent product.
 */
export function kerasToTorch(
  className: string,
  layer: string,
  units: number,
  w: LayoutParams,
  resetAfter?: boolean,
): LayoutParams {
  if (className === 'Embedding') return { weight: need(w, 'embeddings', layer) };
  if (className === 'PReLU') return { alpha: need(w, 'alpha', layer) };
  if (className === 'Dense') {
    return { weight: transpose(need(w, 'kernel', layer)), ...(w.bias ? { bias: w.bias } : {}) };
  }
  const W = need(w, 'kernel', layer);
  const U = need(w, 'recurrent_kernel', layer);
  if (className === 'GRU' && (resetAfter === false || w.bias?.shape.length === 1)) return { ...w };
  if (className === 'GRU') {
    const out: LayoutParams = {
      weight_ih_l0: transpose(swapFirstBlocks(W, units)),
      weight_hh_l0: transpose(swapFirstBlocks(U, units)),
    };
    if (w.bias) {
      out.bias_ih_l0 = swapFirstBlocks(rowOf(w.bias, 0), units);
      out.bias_hh_l0 = swapFirstBlocks(rowOf(w.bias, 1), units);
    }
    return out;
  }
  return {
    weight_ih_l0: transpose(W),
    weight_hh_l0: transpose(U),
    ...(w.bias
      ? {
          bias_ih_l0: w.bias,
          bias_hh_l0: { shape: [...w.bias.shape], data: new Float32Array(w.bias.data.length) },
        }
      : {}),
  };
}

/** The inverse of kerasToTorch: PyTorch's parameters → recur's weights (LSTM / SimpleRNN biases summed). */
export function torchToKeras(className: string, layer: string, units: number, p: LayoutParams): LayoutParams {
  if (className === 'Embedding') return { embeddings: need(p, 'weight', layer) };
  if (className === 'PReLU') return { alpha: need(p, 'alpha', layer) };
  if (className === 'Dense') {
    return { kernel: transpose(need(p, 'weight', layer)), ...(p.bias ? { bias: p.bias } : {}) };
  }
  if (className === 'GRU' && p.kernel) return { ...p }; // GRUResetBefore (reset_after=false) has Keras's layout
  const W = transpose(need(p, 'weight_ih_l0', layer));
  const U = transpose(need(p, 'weight_hh_l0', layer));
  const bi = p.bias_ih_l0;
  const bh = p.bias_hh_l0;
  if (className === 'GRU') {
    const out: LayoutParams = {
      kernel: swapFirstBlocks(W, units),
      recurrent_kernel: swapFirstBlocks(U, units),
    };
    if (bi && bh) {
      const data = new Float32Array(2 * bi.data.length);
      data.set(swapFirstBlocks(bi, units).data, 0);
      data.set(swapFirstBlocks(bh, units).data, bi.data.length);
      out.bias = { shape: [2, bi.data.length], data };
    }
    return out;
  }
  const out: LayoutParams = { kernel: W, recurrent_kernel: U };
  if (bi && bh) out.bias = { shape: [...bi.shape], data: bi.data.map((v, i) => v + bh.data[i]) };
  return out;
}

/** A layer as model.json describes it (Keras class name and snake_case config). */
export interface ExportLayerJson {
  class_name: string;
  config: Record<string, unknown>;
}

const POOLING = ['GlobalMaxPooling1D', 'GlobalAveragePooling1D'];

/**
 * The Dense activations model.py computes (its ACTIVATIONS), by their model-file spelling: all of recur's, with its
 * constants (leaky_relu's slope 0.2, celu's alpha 1, the shrinks' 0.5), on PyTorch's functions or, where PyTorch has
 * none or another (Keras 1/2's hard_sigmoid, sparse_sigmoid, sparse_plus, squareplus), their formulas.
 */
export const PYTORCH_ACTIVATIONS: readonly string[] = [...KERAS_ACTIVATIONS, 'hard_sigmoid_keras3'];

/**
 * A Sequential's last Dense or activation layer: linear, or softmax / sigmoid (left out of forward: the training loss
 * takes logits).
 */
const LAST_ACTIVATIONS = ['linear', 'softmax', 'sigmoid'];
const LAST_ONES =
  'linear, softmax or sigmoid are, whose logits the training losses take; the layers before it take any';
const MERGE_MODES = ['concat', 'sum', 'mul', 'ave'];

/**
 * Why an activation layer cannot be exported; null when it can. An Activation takes any of PYTORCH_ACTIVATIONS;
 * PReLU's alpha has the shape of its input, which model.json records. `last`: the last layer of a Sequential,
 * whose activation must be one the training losses take logits of.
 */
function activationLayerProblem(l: ExportLayerJson, where: string, last: boolean): string | null {
  const c = l.config;
  const act = l.class_name === 'Activation' ? String(c.activation ?? 'linear') : null;
  if (act !== null && !PYTORCH_ACTIVATIONS.includes(act))
    return `${where}: activation ${act} is not exported`;
  if (l.class_name === 'PReLU' && !Array.isArray(c.batch_input_shape))
    return `${where}: model.json does not give its input shape, which alpha's follows`;
  const computes = act ?? (l.class_name === 'Softmax' ? 'softmax' : null);
  if (last && (computes === null || !LAST_ACTIVATIONS.includes(computes)))
    return `${act === null ? where : `${where}: activation ${act}`} is not exported on the last layer (${LAST_ONES})`;
  return null;
}

/** Why a recurrent layer (alone, or inside a Bidirectional) cannot be exported; null when it can. */
function recurrentProblem(l: ExportLayerJson, where: string, inBidirectional: boolean): string | null {
  const c = l.config;
  if (c.return_state || (c.go_backwards && !inBidirectional))
    return `${where}: go_backwards and return_state are not exported`;
  if (Number(c.dropout ?? 0) > 0 || Number(c.recurrent_dropout ?? 0) > 0)
    return `${where}: dropout inside a recurrent layer is not exported (recur's recipes use Dropout layers)`;
  const act = String(c.activation ?? 'tanh');
  if (l.class_name === 'SimpleRNN') {
    if (act !== 'tanh' && act !== 'relu')
      return `${where}: activation ${act} (PyTorch's RNN has tanh or relu)`;
  } else if (act !== 'tanh' || String(c.recurrent_activation ?? 'sigmoid') !== 'sigmoid') {
    return `${where}: PyTorch's ${l.class_name} needs activation tanh and recurrent_activation sigmoid`;
  }
  return null;
}

/**
 * Why a Sequential model's layers cannot be exported to PyTorch, naming the layer; null when they can. The first
 * layer is an Embedding (mask_zero or not) or a recurrent layer over one-hot token inputs; then recurrent layers
 * (LSTM, GRU — either reset_after —, SimpleRNN, with PyTorch's activations) alone or in a Bidirectional (merge mode
 * concat, sum, mul or ave), Dropout, GlobalMax/AveragePooling1D, Dense (any of PYTORCH_ACTIVATIONS) and the activation
 * layers (EXPORTED_ACTIVATION_LAYERS); the last layer's activation linear, softmax or sigmoid.
 */
export function pytorchExportProblem(layers: readonly ExportLayerJson[]): string | null {
  if (layers.length === 0) return 'the model has no layers';
  for (const [i, l] of layers.entries()) {
    const c = l.config;
    const where = `layer '${String(c.name)}' (${l.class_name})`;
    if ((EXPORTED_RECURRENT as readonly string[]).includes(l.class_name)) {
      const p = recurrentProblem(l, where, false);
      if (p) return p;
    } else if (l.class_name === 'Bidirectional') {
      const inner = c.layer as ExportLayerJson | undefined;
      if (!inner || !(EXPORTED_RECURRENT as readonly string[]).includes(inner.class_name))
        return `${where}: only a Bidirectional LSTM, GRU or SimpleRNN is exported`;
      if (!MERGE_MODES.includes(String(c.merge_mode ?? 'concat')))
        return `${where}: merge_mode ${String(c.merge_mode)} is not exported (concat, sum, mul or ave are)`;
      const p = recurrentProblem(inner, where, true);
      if (p) return p;
    } else if (l.class_name === 'Dense') {
      const act = String(c.activation ?? 'linear');
      if (!PYTORCH_ACTIVATIONS.includes(act)) return `${where}: activation ${act} is not exported`;
      if (i === layers.length - 1 && !LAST_ACTIVATIONS.includes(act))
        return `${where}: activation ${act} is not exported on the last layer (${LAST_ONES})`;
    } else if ((EXPORTED_ACTIVATION_LAYERS as readonly string[]).includes(l.class_name)) {
      const p = activationLayerProblem(l, where, i === layers.length - 1);
      if (p) return p;
    } else if (l.class_name === 'Embedding') {
      if (i !== 0) return `${where}: an Embedding is exported as the first layer only`;
    } else if (l.class_name !== 'Dropout' && !POOLING.includes(l.class_name)) {
      return (
        `${where} is not exported yet (Embedding, LSTM, GRU, SimpleRNN, Bidirectional, Dropout, ` +
        `GlobalMax/AveragePooling1D, Dense and ${EXPORTED_ACTIVATION_LAYERS.join(', ')} are)`
      );
    }
  }
  if (layers[0].class_name === 'Embedding') return null;
  const first = layers[0].config.batch_input_shape;
  if (
    !Array.isArray(first) ||
    first.length !== 3 ||
    !(EXPORTED_RECURRENT as readonly string[]).includes(layers[0].class_name)
  )
    return 'the first layer must be an Embedding, or a recurrent layer over [batch, time, vocabulary] one-hot inputs (a recur text model)';
  return null;
}

/**
 * Why a functional model's layers (model.json's) cannot be exported to PyTorch; null when they can: recur's seq2seq
 * encoder–decoders — InputLayers, Embeddings, recurrent layers (with initial states, return_state) alone or in a
 * Bidirectional, Concatenate on the last axis, Attention / AdditiveAttention (dot or additive scores, no attention
 * dropout), Dropout, pooling, Dense (any of PYTORCH_ACTIVATIONS) and the activation layers.
 */
export function pytorchGraphProblem(layers: readonly ExportLayerJson[]): string | null {
  for (const l of layers) {
    const c = l.config;
    const where = `layer '${String(c.name)}' (${l.class_name})`;
    if ((EXPORTED_RECURRENT as readonly string[]).includes(l.class_name)) {
      const p = recurrentProblem({ ...l, config: { ...c, return_state: false } }, where, false);
      if (p) return p;
    } else if (l.class_name === 'Bidirectional') {
      const inner = c.layer as ExportLayerJson | undefined;
      if (!inner || !(EXPORTED_RECURRENT as readonly string[]).includes(inner.class_name))
        return `${where}: only a Bidirectional LSTM, GRU or SimpleRNN is exported`;
      if (!MERGE_MODES.includes(String(c.merge_mode ?? 'concat')))
        return `${where}: merge_mode ${String(c.merge_mode)} is not exported (concat, sum, mul or ave are)`;
      const p = recurrentProblem({ ...inner, config: { ...inner.config, return_state: false } }, where, true);
      if (p) return p;
    } else if (l.class_name === 'Dense') {
      const act = String(c.activation ?? 'linear');
      if (!PYTORCH_ACTIVATIONS.includes(act)) return `${where}: activation ${act} is not exported`;
    } else if (l.class_name === 'Attention' || l.class_name === 'AdditiveAttention') {
      if (Number(c.dropout ?? 0) > 0 || String(c.score_mode ?? 'dot') !== 'dot')
        return `${where}: attention dropout and score_mode concat are not exported`;
    } else if (l.class_name === 'Concatenate') {
      if ((c.axis ?? -1) !== -1) return `${where}: only Concatenate on the last axis is exported`;
    } else if ((EXPORTED_ACTIVATION_LAYERS as readonly string[]).includes(l.class_name)) {
      const p = activationLayerProblem(l, where, false);
      if (p) return p;
    } else if (!['InputLayer', 'Embedding', 'Dropout', ...POOLING].includes(l.class_name)) {
      return `${where} is not exported yet`;
    }
  }
  return null;
}
