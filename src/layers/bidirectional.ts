/**
 * Bidirectional (Keras semantics): a recurrent layer run forwards and a copy of it run backwards in time (its
 * `goBackwards` flipped), their outputs merged:
 *
 *   y_f = forward(x),  y_b = backward(x)  (with returnSequences, y_b is reversed in time so that step t of both
 *   outputs reads x up to / from t);   y = merge(y_f, y_b)
 *
 * merge modes: 'concat' (default; last axis 2H), 'sum', 'mul', 'ave', and null/'none' (two outputs [y_f, y_b], for
 * functional models). returnSequences and returnState come from the inner layer; with returnState the outputs are
 * [y(s), ...forward final states, ...backward final states], and initial states are given as
 * [x, ...forward states, ...backward states] (Keras's split of initial_state in halves).
 *
 * The two directions are two instances of the inner layer made from its config (names `forward_<name>` and
 * `backward_<name>`, as tfjs/Keras name them, so weights are `bidirectional/forward_lstm/kernel` …), run through
 * their public graph hooks (forwardMany/backwardMany): whatever the recurrent layers learn to take (masks) flows
 * through. It cannot step: the backward direction needs the whole sequence.
 */
import { describeValue } from '../core/errors.js';
import { allocUninitialized, kernels } from '../core/backend.js';
import type { Random } from '../core/random.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import {
  Layer,
  StepState,
  Weight,
  checkOptionKeys,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type StepOptions,
} from './layer.js';
import { RNN } from './recurrent.js';
import { deserializeLayer, registerLayer, serializeLayer, type LayerSpec } from './registry.js';

export type BidirectionalMergeMode = 'concat' | 'sum' | 'mul' | 'ave' | null;
const MERGE_MODES: readonly (BidirectionalMergeMode | 'none')[] = [
  'concat',
  'sum',
  'mul',
  'ave',
  null,
  'none',
];

export interface BidirectionalArgs extends LayerArgs {
  /** The recurrent layer (SimpleRNN, LSTM, GRU), as an instance or a spec; both directions are copies of it. */
  layer: Layer | LayerSpec;
  /** How the two directions' outputs combine; null (or 'none') keeps them as two outputs. Default 'concat'. */
  mergeMode?: BidirectionalMergeMode | 'none';
}

/** The inner layer's spec as the wrapper's config holds it: its own options, without an input shape. */
function innerSpec(layer: Layer | LayerSpec): LayerSpec {
  const spec = layer instanceof Layer ? serializeLayer(layer) : layer;
  const config = { ...spec.config };
  delete config.batchInputShape;
  delete config.inputShape;
  delete config.batchSize;
  return { className: spec.className, config };
}

/** [N, T, H] reversed along T (a new tensor). */
function reverseTime(y: Tensor): Tensor {
  const [N, T, H] = y.shape;
  const out = allocUninitialized(y.size);
  for (let n = 0; n < N; n++)
    for (let t = 0; t < T; t++)
      out.set(y.data.subarray((n * T + t) * H, (n * T + t + 1) * H), (n * T + (T - 1 - t)) * H);
  return new Tensor(out, y.shape);
}

export class Bidirectional extends Layer {
  readonly className = 'Bidirectional';
  readonly mergeMode: BidirectionalMergeMode;
  /** The inner layer's spec (its name is the one the directions' names derive from). */
  readonly layerSpec: LayerSpec;
  readonly forwardLayer: RNN;
  readonly backwardLayer: RNN;
  // Forward cache for the merge's backward.
  private yf: Tensor | null = null;
  private yb: Tensor | null = null;

  constructor(args: BidirectionalArgs) {
    const { layer, mergeMode, ...rest } = args;
    // An input shape given on the inner layer (as tfjs users often do) is the wrapper's.
    if (layer instanceof Layer && layer.declaredInputShape && !rest.inputShape && !rest.batchInputShape)
      rest.batchInputShape = [layer.declaredBatchSize, ...layer.declaredInputShape];
    super(rest, 'bidirectional');
    const where = `bidirectional '${this.name}'`;
    checkOptionKeys('bidirectional', args, ['layer', 'mergeMode']);
    const mode = mergeMode === undefined ? 'concat' : mergeMode;
    if (!MERGE_MODES.includes(mode))
      throw new Error(
        `${where}: 'mergeMode' must be one of 'concat', 'sum', 'mul', 'ave', null, got ${describeValue(mergeMode)}`,
      );
    this.mergeMode = mode === 'none' ? null : mode;
    if (!layer || typeof layer !== 'object')
      throw new Error(`${where}: 'layer' must be a recurrent layer (SimpleRNN, LSTM or GRU)`);
    this.layerSpec = innerSpec(layer);
    const innerName = typeof this.layerSpec.config.name === 'string' ? this.layerSpec.config.name : 'rnn';
    const make = (prefix: string, flip: boolean): RNN => {
      const config: Record<string, unknown> = { ...this.layerSpec.config, name: `${prefix}_${innerName}` };
      if (flip) config.goBackwards = !(config.goBackwards === true);
      const l = deserializeLayer({ className: this.layerSpec.className, config }, where);
      if (!(l instanceof RNN))
        throw new Error(
          `${where}: 'layer' must be a recurrent layer (SimpleRNN, LSTM or GRU), got a ${l.className}`,
        );
      if (l.stateful) throw new Error(`${where}: a stateful inner layer is not supported`);
      return l;
    };
    this.forwardLayer = make('forward', false);
    this.backwardLayer = make('backward', true);
  }

  get returnSequences(): boolean {
    return this.forwardLayer.returnSequences;
  }

  get returnState(): boolean {
    return this.forwardLayer.returnState;
  }

  /** Outputs before the states: 1, or 2 when the directions are not merged. */
  private get mergedOutputs(): number {
    return this.mergeMode === null ? 2 : 1;
  }

  protected buildWeights(inputShape: LayerShape, rng: Random): void {
    this.computeOutputShapes([inputShape]);
    const weights: Weight[] = [];
    for (const l of [this.forwardLayer, this.backwardLayer]) {
      l.build(inputShape, rng);
      // Weights named as tfjs/Keras name them inside the wrapper: forward_lstm/kernel … (files add the wrapper's
      // name). The inner layer indexes its weights by position, so renamed copies can take their places.
      l.weights = l.weights.map((w) => new Weight(`${l.name}/${w.name}`, w.shape, w.value, w.trainable));
      weights.push(...l.weights);
    }
    this.weights = weights;
  }

  override computeOutputShapes(inputShapes: LayerShape[]): LayerShape[] {
    const k = this.forwardLayer.stateCount;
    const [x, ...states] = inputShapes;
    if (states.length !== 0 && states.length !== 2 * k)
      throw new Error(
        `bidirectional '${this.name}' takes ${2 * k} initial states (forward then backward), got ${states.length}`,
      );
    const [y, ...finals] = this.forwardLayer.computeOutputShapes([x, ...states.slice(0, k)]);
    const H = this.forwardLayer.units;
    const merged: LayerShape[] =
      this.mergeMode === null ? [y, y] : [this.mergeMode === 'concat' ? [...y.slice(0, -1), 2 * H] : y];
    return [...merged, ...finals, ...finals];
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    this.checkSingleOutput();
    return this.computeOutputShapes([inputShape])[0];
  }

  /** Both directions read the same lookup (ForwardOptions pass through to them). */
  override acceptsInputLookup(): boolean {
    return true;
  }

  forward(x: AnyTensor, opts: ForwardOptions): Tensor {
    this.checkSingleOutput();
    return this.forwardMany([x], opts)[0];
  }

  /** Sequential models (and forward/backward) take one output: not with mergeMode null or returnState. */
  private checkSingleOutput(): void {
    if (this.mergeMode === null || this.returnState)
      throw new Error(
        `bidirectional '${this.name}' gives several outputs (` +
          (this.mergeMode === null ? 'mergeMode null' : 'returnState') +
          '); use it in a functional model',
      );
  }

  backward(dy: Tensor): Tensor | null {
    this.checkSingleOutput();
    return this.backwardMany([dy])[0];
  }

  override forwardMany(xs: AnyTensor[], opts: ForwardOptions): Tensor[] {
    if (!this.built) throw new Error(`layer '${this.name}' is used before it is built`);
    const k = this.forwardLayer.stateCount;
    const [x, ...states] = xs;
    if (states.length !== 0 && states.length !== 2 * k)
      throw new Error(
        `bidirectional '${this.name}' takes ${2 * k} initial states (forward then backward), got ${states.length}`,
      );
    // Each direction draws its own dropout masks, from this layer's stream.
    const salt = this.salt();
    this.forwardLayer.randomSalt = Math.imul(salt, 0x9e3779b1) >>> 0;
    this.backwardLayer.randomSalt = (Math.imul(salt, 0x9e3779b1) + 0x7f4a7c15) >>> 0;
    const outF = this.forwardLayer.forwardMany([x, ...states.slice(0, k)], opts);
    const outB = this.backwardLayer.forwardMany([x, ...states.slice(k)], opts);
    const yf = outF[0];
    const yb = this.returnSequences ? reverseTime(outB[0]) : outB[0];
    this.yf = yf;
    this.yb = yb;
    const merged = this.mergeMode === null ? [yf, yb] : [this.merge(yf, yb)];
    return [...merged, ...outF.slice(1), ...outB.slice(1)];
  }

  private merge(yf: Tensor, yb: Tensor): Tensor {
    const n = yf.size;
    if (this.mergeMode === 'concat') {
      const H = this.forwardLayer.units;
      const rows = n / H;
      const y = allocUninitialized(2 * n);
      for (let r = 0; r < rows; r++) {
        y.set(yf.data.subarray(r * H, (r + 1) * H), 2 * r * H);
        y.set(yb.data.subarray(r * H, (r + 1) * H), (2 * r + 1) * H);
      }
      return new Tensor(y, [...yf.shape.slice(0, -1), 2 * H]);
    }
    const y = allocUninitialized(n);
    const a = yf.data;
    const b = yb.data;
    if (this.mergeMode === 'sum') for (let i = 0; i < n; i++) y[i] = a[i] + b[i];
    else if (this.mergeMode === 'mul') for (let i = 0; i < n; i++) y[i] = a[i] * b[i];
    else for (let i = 0; i < n; i++) y[i] = (a[i] + b[i]) * 0.5;
    return new Tensor(y, yf.shape);
  }

  /** ∂L/∂y_f and ∂L/∂y_b (y_b as merged, i.e. already reversed in time) from ∂L/∂y. */
  private unmerge(dy: Tensor): [Tensor, Tensor] {
    const yf = this.yf!;
    const yb = this.yb!;
    const n = yf.size;
    const df = allocUninitialized(n);
    const db = allocUninitialized(n);
    const g = dy.data;
    if (this.mergeMode === 'concat') {
      const H = this.forwardLayer.units;
      for (let r = 0; r < n / H; r++) {
        df.set(g.subarray(2 * r * H, (2 * r + 1) * H), r * H);
        db.set(g.subarray((2 * r + 1) * H, (2 * r + 2) * H), r * H);
      }
    } else if (this.mergeMode === 'sum') {
      df.set(g.subarray(0, n));
      db.set(g.subarray(0, n));
    } else if (this.mergeMode === 'mul') {
      for (let i = 0; i < n; i++) {
        df[i] = g[i] * yb.data[i];
        db[i] = g[i] * yf.data[i];
      }
    } else {
      for (let i = 0; i < n; i++) df[i] = db[i] = g[i] * 0.5;
    }
    return [new Tensor(df, yf.shape), new Tensor(db, yb.shape)];
  }

  override backwardMany(dys: (Tensor | null)[]): (Tensor | null)[] {
    if (!this.yf) throw new Error(`bidirectional '${this.name}': backward called before forward`);
    const k = this.returnState ? this.forwardLayer.stateCount : 0;
    const m = this.mergedOutputs;
    let dyf: Tensor | null;
    let dyb: Tensor | null;
    if (m === 2) [dyf, dyb] = [dys[0] ?? null, dys[1] ?? null];
    else if (dys[0]) [dyf, dyb] = this.unmerge(dys[0]);
    else [dyf, dyb] = [null, null];
    if (dyb && this.returnSequences) dyb = reverseTime(dyb);
    const states = dys.slice(m);
    const pad = (d: (Tensor | null)[]): (Tensor | null)[] =>
      Array.from({ length: k }, (_, i) => d[i] ?? null);
    const gf = this.forwardLayer.backwardMany([dyf, ...pad(states.slice(0, k))]);
    const gb = this.backwardLayer.backwardMany([dyb, ...pad(states.slice(k))]);
    // Both directions read x: their input gradients add up (into the forward direction's, a fresh buffer).
    const dx = gf[0];
    if (dx && gb[0]) kernels().addInPlace(dx.data, 0, gb[0].data, 0, dx.size);
    return [dx, ...gf.slice(1), ...gb.slice(1)];
  }

  override createStepState(_rows: number, _opts: StepOptions = {}): StepState {
    throw new Error(
      `layer '${this.name}' (Bidirectional) cannot be run step by step: its backward direction reads the whole ` +
        'sequence from the end (use it in an encoder, not in a stateful generator or a decoder)',
    );
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      layer: { className: this.layerSpec.className, config: { ...this.layerSpec.config } },
      mergeMode: this.mergeMode,
    };
  }
}

registerLayer('Bidirectional', (config) => new Bidirectional(config as unknown as BidirectionalArgs));
