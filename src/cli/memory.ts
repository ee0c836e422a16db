/**
 * Whether a model and its batches fit in memory, estimated before anything is allocated, so `--units 100000` or
 * `--batch-size 1e8` is refused at once with the estimate instead of initialising giant weights for minutes and then
 * failing halfway through an allocation. One estimate (estimateNetworkBytes) serves every training command: recur
 * train and evaluate (text models), classify train, seq2seq train and forecast each describe their network to it.
 * The estimate follows the layers' buffers (src/layers/recurrent.ts, lstm.ts, gru.ts): weights, gradients and
 * optimizer slots, the per-step activations kept for backward and the backward's own per-step buffers.
 */
import { totalmem } from 'node:os';
import { kernels } from '../core/backend.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import { UsageError } from './output.js';
import type { CellType } from '../layers/recurrent_factory.js';
import type { TextSettings } from '../text/metadata.js';

const FLOAT = 4;
/** The wasm32 kernels' memory maximum (src/core/wasm/load.ts reserves 65536 pages of 64 KiB). */
export const WASM_MEMORY_MAX = 4 * 1024 ** 3;
const GATES = { lstm: 4, gru: 3, 'simple-rnn': 1 } as const;
const SLOTS: Record<string, number> = { sgd: 1, rmsprop: 1, adam: 2, adagrad: 1 };

export interface MemoryEstimate {
  /** Weights, gradients, optimizer slots, packed copies and the worker replicas' gradients. */
  parameters: number;
  /** Activations and backward buffers of one batch. */
  activations: number;
  total: number;
}

/** One recurrent layer as the estimate sees it: input width D, units H, over T steps, in one or two directions. */
export interface RecurrentShape {
  cell: CellType;
  D: number;
  H: number;
  T: number;
  bidirectional?: boolean;
  /** Whether the layer keeps a copy of its input for backward (not the text models' one-hot first layer). */
  inputCopy: boolean;
  dropout: boolean;
}

/**
 * A network for the estimate: its recurrent layers, the weights outside them (embeddings, dense layers) and the floats
 * each batch row needs outside them (embedded inputs, attention scores, the output layer's probabilities and their
 * gradients), already counted for training or evaluation.
 */
export interface NetworkShape {
  recurrent: readonly RecurrentShape[];
  otherParameters: number;
  otherFloatsPerRow: number;
}

/** Weights of a recurrent layer: G·H·(D + H + 2) per direction (kernel, recurrent kernel, biases). */
function recurrentParameters(l: RecurrentShape): number {
  return (l.bidirectional ? 2 : 1) * GATES[l.cell] * l.H * (l.D + l.H + 2);
}

/** Floats of one row of a batch at one step of a recurrent layer, kept for (and made by) backward. */
function recurrentStepFloats(l: RecurrentShape, training: boolean): number {
  const G = GATES[l.cell];
  const { D, H } = l;
  // Forward: input projections (G·H), hidden states, outputs, cell state or GRU gates; the layer's input copy.
  let perStep = G * H + 3 * H + (l.cell === 'gru' ? G * H : 0) + (l.inputCopy ? D : 0);
  // Backward: gate gradients (and GRU's second set), output gradients, input gradients.
  if (training) perStep += G * H * (l.cell === 'gru' ? 2 : 1) + H + (l.inputCopy ? 2 * D : 0);
  if (l.dropout) perStep += H;
  // Two directions: each its own buffers, plus the merged [2H] outputs (and their gradients).
  return l.bidirectional ? 2 * perStep + 2 * H * (training ? 2 : 1) : perStep;
}

/**
 * Bytes to train (or, with `training` false, to evaluate) `net` on batches of N rows with `threads` workers, for
 * `models` models kept at once (a forecaster's seed ensemble, a panel's series trained side by side).
 */
export function estimateNetworkBytes(
  net: NetworkShape,
  N: number,
  optimizer: string,
  threads: number,
  training: boolean,
  models = 1,
): MemoryEstimate {
  let params = net.otherParameters;
  let act = net.otherFloatsPerRow * N;
  for (const l of net.recurrent) {
    params += recurrentParameters(l);
    act += recurrentStepFloats(l, training) * l.T * N;
  }
  // Value, a packed copy for the GEMMs; training adds gradients, the optimizer's slots and each worker's gradients.
  const copies = 2 + (training ? 1 + (SLOTS[optimizer] ?? 2) + Math.max(0, threads - 1) : 0);
  const parameters = params * copies * FLOAT * models;
  const activations = act * FLOAT * models;
  return { parameters, activations, total: parameters + activations };
}

/** Bytes needed to train (or, with `training` false, to evaluate) a text model on batches of `batchSize`. */
export function estimateTextModelBytes(
  s: TextSettings,
  vocab: number,
  batchSize: number,
  threads: number,
  training: boolean,
): MemoryEstimate {
  const H = s.units;
  const T = s.recipe === 'char-rnn' ? s.seqLength : s.maxlen;
  // The first layer reads one-hot characters (a lookup, no input copy); the output layer is a softmax over them.
  const recurrent = Array.from({ length: s.layers }, (_, i) => ({
    cell: s.cell,
    D: i === 0 ? vocab : H,
    H,
    T,
    inputCopy: i > 0,
    dropout: s.dropout > 0,
  }));
  const rowsPerRow = s.recipe === 'char-rnn' ? T : 1;
  return estimateNetworkBytes(
    {
      recurrent,
      otherParameters: H * vocab + vocab,
      otherFloatsPerRow: rowsPerRow * vocab * (training ? 3 : 2),
    },
    batchSize,
    s.optimizer,
    threads,
    training,
  );
}

/** `layers` stacked [bidirectional] recurrent layers over T steps of embedded tokens (width E) — classify's and seq2seq's encoders. */
function encoderStack(
  cell: CellType,
  layers: number,
  E: number,
  H: number,
  T: number,
  bidirectional: boolean,
  dropout: boolean,
): RecurrentShape[] {
  const width = bidirectional ? 2 * H : H;
  return Array.from({ length: layers }, (_, i) => ({
    cell,
    D: i === 0 ? E : width,
    H,
    T,
    bidirectional,
    inputCopy: true,
    dropout,
  }));
}

/** What a classifier's estimate reads of its settings (ClassifierSettings has them all). */
export interface ClassifierShape {
  embeddingDim: number;
  cell: 'lstm' | 'gru';
  units: number;
  layers: number;
  bidirectional: boolean;
  dropout: number;
  optimizer: string;
}

/**
 * Bytes to train a text classifier: Embedding(V, E) → [Bi]RNN(H) × layers → Dense(K), on batches of N texts of up
 * to T tokens (a batch is padded only to its longest text, so T is the longest text's length).
 */
export function estimateClassifierBytes(
  s: ClassifierShape,
  vocab: number,
  classes: number,
  N: number,
  T: number,
  threads: number,
): MemoryEstimate {
  const E = s.embeddingDim;
  const H = s.units;
  const width = s.bidirectional ? 2 * H : H;
  const recurrent = encoderStack(s.cell, s.layers, E, H, T, s.bidirectional, s.dropout > 0);
  return estimateNetworkBytes(
    {
      recurrent,
      otherParameters: vocab * E + width * classes + classes,
      // Embedded steps (and their dropout mask and gradients), the pooled vector, the class probabilities.
      otherFloatsPerRow: 3 * T * E + 3 * width + 3 * classes,
    },
    N,
    s.optimizer,
    threads,
    true,
  );
}

/** What a seq2seq model's estimate reads of its settings (Seq2SeqSettings has them all). */
export interface Seq2SeqShape {
  cell: 'lstm' | 'gru';
  units: number;
  encoderLayers: number;
  bidirectional: boolean;
  attention: string;
  embeddingDim: number;
  dropout: number;
  postAttentionUnits: number | null;
  /** The decoder reads [embedding; ã_{t−1}] (src/layers/attention_decoder.ts). Absent: false. */
  inputFeeding?: boolean;
  optimizer: string;
}

/**
 * Bytes to train an encoder–decoder (src/seq2seq/model.ts) on batches of N pairs, sources of up to S tokens and
 * targets of up to T: the encoder's layers over S steps, the decoder (2H units with a bidirectional encoder) and any
 * post-attention RNN over T, the attention's [T, S] scores, and the softmax over the target vocabulary at every step.
 */
export function estimateSeq2SeqBytes(
  s: Seq2SeqShape,
  sourceVocab: number,
  targetVocab: number,
  N: number,
  S: number,
  T: number,
  threads: number,
): MemoryEstimate {
  const E = s.embeddingDim;
  const H = s.units;
  const D = s.bidirectional ? 2 * H : H;
  const dropout = s.dropout > 0;
  const recurrent = encoderStack(s.cell, s.encoderLayers, E, H, S, s.bidirectional, dropout);
  const feeding = s.inputFeeding === true;
  recurrent.push({ cell: s.cell, D: feeding ? E + D : E, H: D, T, inputCopy: true, dropout: false });
  const attention = s.attention !== 'none';
  // What feeds the softmax: the decoder's output, the tanh Dense over [decoded, context], or the post-attention RNN.
  let features = D;
  let otherParameters = (sourceVocab + targetVocab) * E;
  // Embedded sources and targets (values and gradients); the softmax's probabilities, their gradients and the loss's.
  let perRow = 2 * (S + T) * E + 3 * T * targetVocab;
  // Input feeding keeps every step's input [x; ã] and entering states for its backward (AttentionDecoder).
  if (feeding) perRow += T * (E + 3 * D);
  if (attention) {
    // Scores and weights [T, S] (and their gradients), the context and the concatenation [T, 2D].
    perRow += 4 * T * S + 2 * T * 3 * D;
    if (s.postAttentionUnits === null) {
      otherParameters += 2 * D * D + D;
      perRow += 3 * T * D;
    } else {
      features = s.postAttentionUnits;
      recurrent.push({ cell: s.cell, D: 2 * D, H: features, T, inputCopy: true, dropout: false });
    }
  }
  if (dropout) perRow += 2 * T * features;
  otherParameters += features * targetVocab + targetVocab;
  return estimateNetworkBytes(
    { recurrent, otherParameters, otherFloatsPerRow: perRow },
    N,
    s.optimizer,
    threads,
    true,
  );
}

/** What a forecasting network's estimate reads of its options (NetworkOptions has them all). */
export interface ForecastNetworkShape {
  cell: CellType;
  units: number;
  layers: number;
  dropout: number;
  lookback: number;
  /** Outputs of the last Dense: the horizon (direct) or 1 (recursive). */
  outputs: number;
  batchSize: number;
  /** Members of the seed ensemble, each kept (weights and Adam's state) once trained. */
  seeds: number;
}

/**
 * Bytes to train a forecaster's networks (src/forecast/network.ts): RNN(H) × layers over `lookback` steps of one
 * value, Dense(outputs), Adam, on batches of up to `batchSize` of the series' `windows`; `parallel` of them at once
 * (a panel's series, each on its own worker).
 */
export function estimateForecastBytes(
  s: ForecastNetworkShape,
  windows: number,
  threads: number,
  parallel = 1,
): MemoryEstimate {
  const H = s.units;
  const recurrent = Array.from({ length: s.layers }, (_, i) => ({
    cell: s.cell,
    D: i === 0 ? 1 : H,
    H,
    T: s.lookback,
    inputCopy: true,
    dropout: s.dropout > 0,
  }));
  return estimateNetworkBytes(
    { recurrent, otherParameters: H * s.outputs + s.outputs, otherFloatsPerRow: 3 * s.outputs + 2 * H },
    Math.max(1, Math.min(s.batchSize, windows)),
    'adam',
    threads,
    true,
    s.seeds * parallel,
  );
}

/** The memory recur may use: the wasm memory maximum with the wasm kernels, and never more than the machine has. */
export function memoryLimit(): { bytes: number; what: string } {
  const machine = totalmem();
  if (kernels() instanceof WasmKernels && WASM_MEMORY_MAX < machine)
    return { bytes: WASM_MEMORY_MAX, what: 'the 4 GiB memory of the wasm32 kernels' };
  return { bytes: machine, what: "this machine's memory" };
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/**
 * The kernel memory a run reaches, over its estimate: the estimate counts the layers' buffers, but the allocator
 * carves a batch's buffers in chunks with headroom (src/core/wasm/memory.ts) and a few buffers are not modelled
 * (dropout layers' masks and outputs, the output layer's input). Measured on three `recur train` runs on 2026-12-06
 * (BENCHMARKS.md, "The memory estimate against measured peaks"): 1.25×, 1.26× and 1.56× in kernel memory; and on
 * classify, seq2seq and forecast runs 1.30–1.51×.
 */
export const MEASURED_PEAK_FACTOR = { low: 1.2, high: 1.6 } as const;

/**
 * Refuses (exit 2) a model or batch whose estimate, times the lowest factor runs were measured to reach over it,
 * exceeds the memory limit — it would not fit even then — naming the range it would need, the estimate's parts,
 * the limit and `remedy`: the flags that make it smaller.
 */
export function assertFits(
  e: MemoryEstimate,
  what: string,
  remedy = 'use fewer --units or --layers, a smaller --batch-size or shorter sequences',
): void {
  const limit = memoryLimit();
  const { low, high } = MEASURED_PEAK_FACTOR;
  if (e.total * low <= limit.bytes) return;
  throw new UsageError(
    `${what} would need about ${formatBytes(e.total * low)} to ${formatBytes(e.total * high)} ` +
      `(${formatBytes(e.parameters)} for weights, gradients and optimizer state, ${formatBytes(e.activations)} for ` +
      `one batch's activations, and the allocator's headroom: runs measured ${low}–${high}× that), more than ` +
      `${limit.what} (${formatBytes(limit.bytes)}); ${remedy}`,
  );
}
