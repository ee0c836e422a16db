/**
 * Stateful one-step inference for generation: feeds one timestep for B parallel streams and returns the last layer's
 * logits (or outputs), carrying every recurrent layer's state. All buffers are allocated once; a step allocates
 * nothing. This is what makes generation cost one recurrent step per character instead of re-running a whole window.
 *
 * Supported stacks: [Embedding] → SimpleRNN/LSTM/GRU … → Dropout (identity) → Dense/Activation. Token inputs are
 * indices (one-hot semantics for a recurrent or dense first layer).
 *
 * Weights are copied once, at construction, into the layout their per-step product reads (with fewer than 4 streams
 * the panels the packed GEMV streams in order, kernels.packGemvPanels; with more, the GEMM's, kernels.packGemmB): a
 * Stepper is a snapshot of the model's weights — make a new one after training further.
 */
import { kernels } from '../core/backend.js';
import { Act, gemmPackedBLength, gemvPanelsLength } from '../core/kernels.js';
import { activationCode } from '../layers/activations.js';
import { Activation, Dense, Dropout, Embedding, GRU, LSTM, SimpleRNN } from '../layers/index.js';
import type { Layer } from '../layers/layer.js';
import type { RNN } from '../layers/recurrent.js';
import type { Sequential } from './sequential.js';

/** x[rows, K] · W[K, N] (W at wOff, row stride ldw) into out (row stride ldo), for weights fixed while stepping. */
type WeightProduct = (
  x: Float32Array,
  out: Float32Array,
  outOff: number,
  ldo: number,
  accumulate: boolean,
) => void;

function weightProduct(
  W: Float32Array,
  wOff: number,
  ldw: number,
  K: number,
  N: number,
  rows: number,
): WeightProduct {
  const k = kernels();
  if (rows >= 4) {
    // Many streams (exact-window generation): a GEMM per step, with W laid out once as training does with U.
    const packedB = k.allocPersistent(gemmPackedBLength(K, N));
    k.packGemmB(K, N, W, wOff, ldw, packedB, 0);
    return (x, out, outOff, ldo, acc) =>
      k.gemmPackedB(false, rows, N, K, x, 0, K, W, wOff, ldw, packedB, 0, out, outOff, ldo, acc);
  }
  const packed = k.allocPersistent(gemvPanelsLength(K, N));
  k.packGemvPanels(K, N, W, wOff, ldw, packed, 0);
  return (x, out, outOff, ldo, acc) => k.gemvPacked(rows, N, K, x, 0, K, packed, 0, out, outOff, ldo, acc);
}

interface StepLayer {
  /** input: the previous layer's output buffer (or null for token ids). */
  run(ids: Int32Array | null, input: Float32Array | null): Float32Array;
  reset(): void;
  /** Clears the state of one stream (row). */
  resetRow?(row: number): void;
  readonly width: number;
}

export class Stepper {
  private readonly steps: StepLayer[] = [];
  /** The ids of the current step, in kernel memory (a caller's array would be staged into it on every call). */
  private readonly ids: Int32Array;
  readonly outputSize: number;

  /** @param logits when true (default) the last softmax/sigmoid is skipped and logits are returned. */
  constructor(
    readonly model: Sequential,
    readonly batch: number,
    logits = true,
  ) {
    if (!model.isBuilt) model.build();
    this.ids = kernels().allocInt32(batch);
    const last = model.layers.length - 1;
    model.layers.forEach((l, i) => {
      const s = makeStep(l, batch, i === 0, logits && i === last);
      if (s) this.steps.push(s);
    });
    this.outputSize = this.steps[this.steps.length - 1].width;
  }

  /** Clears every recurrent state. */
  reset(): void {
    for (const s of this.steps) s.reset();
  }

  /** Clears the recurrent state of one stream only. */
  resetRow(row: number): void {
    if (row < 0 || row >= this.batch)
      throw new Error(`Stepper.resetRow: row ${row} is outside [0, ${this.batch})`);
    for (const s of this.steps) s.resetRow?.(row);
  }

  /** Feeds token ids[b] for each stream; returns [batch, outputSize] (a reused buffer: copy what you keep). */
  step(ids: Int32Array): Float32Array {
    if (ids.length !== this.batch)
      throw new Error(`Stepper.step: expected ${this.batch} token ids, got ${ids.length}`);
    this.ids.set(ids);
    let out: Float32Array | null = null;
    for (let i = 0; i < this.steps.length; i++) out = this.steps[i].run(i === 0 ? this.ids : null, out);
    return out!;
  }
}

function makeStep(layer: Layer, B: number, first: boolean, logits: boolean): StepLayer | null {
  const k = kernels();
  if (layer instanceof Dropout) return null;
  if (layer instanceof Embedding) {
    const E = layer.outputDim;
    const out = k.allocPersistent(B * E);
    return {
      width: E,
      reset() {},
      run: (ids) => (k.gatherRows(ids!, B, layer.weights[0].value, E, out, null, false), out),
    };
  }
  if (layer instanceof Activation) {
    const code = activationCode(layer.activation);
    let width = 0;
    let out: Float32Array | null = null;
    return {
      get width() {
        return width;
      },
      reset() {},
      run(_ids, input) {
        width = input!.length / B;
        out ??= k.allocPersistent(input!.length);
        out.set(input!);
        if (!(logits && (code === Act.Softmax || code === Act.Sigmoid)))
          k.activate(code, out, 0, B, width, width);
        return out;
      },
    };
  }
  if (layer instanceof Dense) {
    const D = layer.inputShape![layer.inputShape!.length - 1] as number;
    const U = layer.units;
    const out = k.allocPersistent(B * U);
    const code = activationCode(layer.activation);
    const product = first ? null : weightProduct(layer.weights[0].value, 0, U, D, U, B);
    const table =
      first && layer.useBias ? withBias(layer.weights[0].value, D, U, layer.weights[1].value) : null;
    return {
      width: U,
      reset() {},
      run(ids, input) {
        if (!product) k.gatherRows(ids!, B, table ?? layer.weights[0].value, U, out, null, false);
        else product(input!, out, 0, U, false);
        if (layer.useBias && !table) k.addBias(out, 0, B, U, U, layer.weights[1].value, 0);
        if (!(logits && (code === Act.Softmax || code === Act.Sigmoid))) k.activate(code, out, 0, B, U, U);
        return out;
      },
    };
  }
  if (layer instanceof LSTM || layer instanceof GRU || layer instanceof SimpleRNN)
    return recurrentStep(layer, B, first);
  throw new Error(`layer '${layer.name}' (${layer.className}) cannot be stepped`);
}

/** A copy of W [rows, cols] with bias[0..cols) added to every row, in kernel memory. */
function withBias(W: Float32Array, rows: number, cols: number, bias: Float32Array): Float32Array {
  const k = kernels();
  const out = k.allocPersistent(rows * cols);
  out.set(W.subarray(0, rows * cols));
  k.addBias(out, 0, rows, cols, cols, bias, 0);
  return out;
}

function recurrentStep(layer: RNN, B: number, first: boolean): StepLayer {
  if (layer.goBackwards)
    throw new Error(`layer '${layer.name}' runs backwards in time and cannot generate step by step`);
  const k = kernels();
  const H = layer.units;
  const G = layer instanceof LSTM ? 4 : layer instanceof GRU ? 3 : 1;
  const D = layer.inputShape![1] as number;
  const [W, U, bias] = layer.weights.map((w) => w.value);
  const act = activationCode(layer.activation);
  const rec =
    layer instanceof LSTM || layer instanceof GRU ? activationCode(layer.recurrentActivation) : Act.Sigmoid;
  const xp = k.allocPersistent(B * G * H);
  const aux = k.allocPersistent(B * G * H);
  let h = k.allocPersistent(B * H);
  let hNext = k.allocPersistent(B * H);
  let c = k.allocPersistent(B * H);
  let cNext = k.allocPersistent(B * H);
  const inputProduct = first ? null : weightProduct(W, 0, G * H, D, G * H, B);
  // GRU without resetAfter multiplies two column blocks of U separately; the others use all of U at once.
  const splitU = layer instanceof GRU && !layer.resetAfter;
  const recurrentProduct = splitU ? null : weightProduct(U, 0, G * H, H, G * H, B);
  // Token inputs: the input bias folded into a copy of W's rows once (a row gather then gives x·W + b in one call).
  const gatherTable = first && layer.useBias ? withBias(W, D, G * H, bias) : W;
  const project = (ids: Int32Array | null, input: Float32Array | null): void => {
    if (!inputProduct) {
      k.gatherRows(ids!, B, gatherTable, G * H, xp, null, false);
      return;
    }
    inputProduct(input!, xp, 0, G * H, false);
    if (layer.useBias) k.addBias(xp, 0, B, G * H, G * H, bias, 0);
  };
  const swap = (): void => {
    [h, hNext] = [hNext, h];
  };
  const step: StepLayer = {
    width: H,
    reset() {
      h.fill(0);
      c.fill(0);
    },
    resetRow(row) {
      h.fill(0, row * H, (row + 1) * H);
      c.fill(0, row * H, (row + 1) * H);
    },
    run(ids, input) {
      project(ids, input);
      if (layer instanceof LSTM) {
        recurrentProduct!(h, xp, 0, 4 * H, true);
        k.lstmCellForward(B, H, xp, 0, c, 0, cNext, 0, hNext, 0, act, rec);
        [c, cNext] = [cNext, c];
      } else if (layer instanceof SimpleRNN) {
        recurrentProduct!(h, xp, 0, H, true);
        k.activate(act, xp, 0, B, H, H);
        hNext.set(xp);
      } else if ((layer as GRU).resetAfter) {
        recurrentProduct!(h, aux, 0, 3 * H, false);
        if (layer.useBias) k.addBias(aux, 0, B, 3 * H, 3 * H, bias, 3 * H);
        k.gruCellForward(B, H, xp, 0, aux, 0, h, 0, hNext, 0, act, rec);
      } else {
        k.gemm(false, false, B, 2 * H, H, h, 0, H, U, 0, 3 * H, xp, 0, 3 * H, true);
        k.gruResetGate(B, H, xp, 0, h, 0, aux, 0, rec);
        k.gemm(false, false, B, H, H, aux, 0, H, U, 2 * H, 3 * H, xp, 2 * H, 3 * H, true);
        k.gruResetOutput(B, H, xp, 0, h, 0, hNext, 0, act);
      }
      swap();
      return h;
    },
  };
  return step;
}
