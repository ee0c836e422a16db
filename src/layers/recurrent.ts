/**
 * What SimpleRNN, LSTM and GRU share: options, the input projection, output assembly, dropout masks and state.
 *
 * cuDNN-style layout. The input projection of all timesteps is one GEMM, XP[T·N, G·H] = X[T·N, D]·W + b (time-major,
 * in processing order, so `goBackwards` only changes which timestep feeds step s); for int32 index inputs it is a
 * row gather of W, with no FLOPs and no one-hot tensor. Each step then adds h_{s−1}·U and applies the fused gate
 * non-linearities (the subclass). Backward runs the steps in reverse, producing ∂L/∂XP, and the weight gradients
 * are batched GEMMs over all timesteps: ∂W = Xᵀ·∂XP, ∂U = H_prevᵀ·∂(recurrent pre-activations).
 *
 * U is laid out once per forward pass for the step GEMMs (Kernels.packGemmB), and Uᵀ is transposed and laid out once
 * per backward pass, so no step re-packs or transposes the same weights: G·H·H floats for the forward layout and
 * 2·G·H·H for Uᵀ and its layout (0.25 and 0.5 MB for an LSTM(128)), against T re-packings per pass. A caller that
 * runs the layer one step at a time keeps them for all its steps (holdWeightLayouts).
 *
 * `step` (one timestep for a fixed set of streams, Layer's step contract) projects the input the same way — a row
 * gather of W with the input bias folded in for token ids, else a product by W laid out once (step_weights.ts) — and
 * the subclass's `stepCell` adds h·U and applies its cell.
 *
 * Dropout follows Keras: one input mask [N, D] and one recurrent mask [N, H] per batch, shared by every timestep
 * and every gate; inverted scaling. With index inputs the input mask is read at the index, which is exactly
 * one-hot ⊙ mask.
 *
 * Masks (Keras masking, ForwardOptions.mask [N, T] from Embedding maskZero or Masking): a masked step keeps the previous
 * states and, with returnSequences, outputs the previous h (tfjs's and Keras's `where(mask, new, previous)`). The cells
 * run on every row as usual; after each step the masked rows of the new states are overwritten with the previous ones
 * (`keepMaskedRows`), so the unmasked path is untouched. Backward mirrors it: at a masked step the rows' ∂h (and ∂c)
 * skip the cell and pass to the previous state unchanged (`holdMaskedRows`/`releaseMaskedRows`), so the step's
 * gates and the weights get nothing from them.
 */
import { alloc, allocInt32, allocUninitialized, copyOf, kernels, persistentCopy } from '../core/backend.js';
import { GEMV_PANEL, gemmPackedBLength } from '../core/kernels.js';
import { Random } from '../core/random.js';
import { IndexTensor, Tensor, checkTensorArg, type AnyTensor } from '../core/tensor.js';
import { recurrentActivationName, type ActivationIdentifier, type ActivationName } from './activations.js';
import { checkIndices } from './dense.js';
import { dropoutMask } from './dropout.js';
import {
  initialize,
  initializerSpec,
  type InitializerIdentifier,
  type InitializerSpec,
} from './initializers.js';
import {
  ForwardCache,
  ForwardCacheKey,
  Layer,
  StepState,
  Weight,
  checkOptionKeys,
  checkPositiveInt,
  checkRate,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type SequenceMask,
  type StepConstant,
  type StepInput,
  type StepAheadProduct,
  type StepOptions,
  checkBoolean,
} from './layer.js';
import { LookupProjection } from './lookup_projection.js';
import { stepInputTable, stepProduct, stepWeights, type StepProduct } from './step_weights.js';

export interface RNNArgs extends LayerArgs {
  units: number;
  activation?: ActivationIdentifier;
  useBias?: boolean;
  kernelInitializer?: InitializerIdentifier;
  recurrentInitializer?: InitializerIdentifier;
  biasInitializer?: InitializerIdentifier;
  /** Fraction of input units dropped (one mask per sequence). */
  dropout?: number;
  /** Fraction of recurrent units dropped (one mask per sequence). */
  recurrentDropout?: number;
  returnSequences?: boolean;
  /** With `call()`: also return the final states ([h] or [h, c]). Not usable inside `sequential()`. */
  returnState?: boolean;
  goBackwards?: boolean;
  /** Carry the final state of batch i into batch i+1 (needs a fixed batch size); clear it with resetStates(). */
  stateful?: boolean;
}

/** Keras's defaults for all recurrent layers. */
export const RNN_DEFAULTS = {
  activation: 'tanh',
  recurrentActivation: 'sigmoid',
  useBias: true,
  kernelInitializer: 'glorotUniform',
  recurrentInitializer: 'orthogonal',
  biasInitializer: 'zeros',
  dropout: 0,
  recurrentDropout: 0,
  returnSequences: false,
  returnState: false,
  goBackwards: false,
  stateful: false,
} as const;

export const RNN_OPTION_KEYS = [
  'units',
  'activation',
  'useBias',
  'kernelInitializer',
  'recurrentInitializer',
  'biasInitializer',
  'dropout',
  'recurrentDropout',
  'returnSequences',
  'returnState',
  'goBackwards',
  'stateful',
  'unroll',
  'implementation',
] as const;

export interface CallOptions {
  training?: boolean;
  /** Initial states, each [N, H]: [h] for SimpleRNN/GRU, [h, c] for LSTM. */
  initialState?: Tensor[];
  /** Seed for dropout masks in training mode. */
  seed?: number;
  /** Keras mask [N, T] of x: masked steps keep the previous state. */
  mask?: SequenceMask | null;
}

/**
 * The share of h·U one-stream generation hands to another thread (RNN.stepAhead), rounded to GEMV panels: the rest is
 * computed at the step while that thread works (measured: BENCHMARKS.md, "Generation on two cores").
 */
const AHEAD_SHARE = 0.7;

/** A recurrent layer's step state: h (and c), the buffers a step computes them into, scratch and step weights. */
export class RecurrentStepState extends StepState {
  /** [rows, G·H]: the input projection, then the gate pre-activations. */
  readonly xp: Float32Array;
  /** [rows, G·H] scratch for the cell (GRU: the recurrent projection, or r ⊙ h). */
  readonly aux: Float32Array;
  /** Where a step writes the new states; `swap()` makes them current. */
  readonly next: Float32Array[];
  /**
   * [1, aheadColumns]: the first columns of h·U, computed ahead of the step by another thread (RNN.stepAhead) when
   * `aheadValid`; `aheadReady` returns once they are written. The step computes the other columns meanwhile.
   */
  readonly ahead: Float32Array | null;
  readonly aheadColumns: number;
  aheadValid = false;
  aheadReady: () => void = () => {};
  /** The product stepAhead hands out, made once (its x follows the current h): a step allocates nothing. */
  readonly aheadProduct: StepAheadProduct | null;

  constructor(
    layer: RNN,
    rows: number,
    opts: StepOptions,
    gates: number,
    /** Float inputs: x·W with W in its step layout. */
    readonly inputProduct: StepProduct | null,
    /** Token inputs: W's rows with the input bias added. */
    readonly table: Float32Array | null,
    /** h·U with U in its step layout (null where the cell multiplies by parts of U itself). */
    readonly recurrentProduct: StepProduct | null,
    /** The weights a step reads as they are (snapshots: see stepWeights): the bias, and U where not in a product. */
    readonly bias: Float32Array | null,
    readonly recurrentKernel: Float32Array | null,
  ) {
    super(layer, rows, layer.units, opts);
    const k = kernels();
    const n = rows * layer.units;
    this.xp = k.allocPersistent(rows * gates * layer.units);
    this.aux = k.allocPersistent(rows * gates * layer.units);
    this.next = this.states.map(() => k.allocPersistent(n));
    // The other thread's share: while it multiplies these columns, this thread samples and multiplies the rest.
    const GH = gates * layer.units;
    this.aheadColumns = Math.min(GH, Math.round((GH * AHEAD_SHARE) / GEMV_PANEL) * GEMV_PANEL);
    const panels = recurrentProduct?.panels;
    this.ahead = panels && rows === 1 && this.aheadColumns > 0 ? k.allocPersistent(this.aheadColumns) : null;
    this.aheadProduct =
      panels && this.ahead
        ? {
            rows: 1,
            N: this.aheadColumns,
            K: panels.K,
            x: this.states[0],
            packed: panels.packed,
            out: this.ahead,
          }
        : null;
  }

  /**
   * out[rows, ldo] (+)= h·U: all of it computed now, or — with a product ahead — the columns after `aheadColumns` now
   * and the first ones read from the other thread's product (used once). Each column is summed by the same kernel
   * over the same panel, and out + (h·U) is one float add per element, so both ways give the same floats.
   */
  recurrent(out: Float32Array, ldo: number, accumulate: boolean): void {
    const panels = this.recurrentProduct?.panels;
    if (!(this.aheadValid && this.ahead && panels)) {
      this.recurrentProduct!(this.states[0], out, 0, ldo, accumulate, this.active);
      return;
    }
    this.aheadValid = false;
    const { N, K, packed } = panels;
    const Na = this.aheadColumns;
    if (ldo !== N) throw new Error('RecurrentStepState.recurrent: a product ahead is one row of G·H');
    const k = kernels();
    // Columns Na… start at panel Na / GEMV_PANEL of the packed U.
    if (Na < N) k.gemvPacked(1, N - Na, K, this.states[0], 0, K, packed, Na * K, out, Na, ldo, accumulate);
    this.aheadReady();
    if (accumulate) k.addInPlace(out, 0, this.ahead, 0, Na);
    else out.set(this.ahead);
  }

  /** Makes the computed states current (no copy: the buffers trade places). */
  swap(): void {
    for (let i = 0; i < this.states.length; i++) {
      const s = this.states[i];
      this.states[i] = this.next[i];
      this.next[i] = s;
    }
  }
}

const STATE_NAMES = ['h', 'c'] as const;

/** RNN's part of its forward cache (the subclasses add their gate caches). */
interface RNNForwardFields {
  N: number;
  T: number;
  D: number;
  xTM: Float32Array | null;
  idxTM: Int32Array | null;
  idxScale: Float32Array | null;
  inMask: Float32Array | null;
  recMask: Float32Array | null;
  stepMask: Uint8Array | null;
  hs: Float32Array;
  hm: Float32Array;
  xWasIndex: boolean;
  givenStates: number;
}
const RNN_FIELDS = new ForwardCacheKey<RNNForwardFields>('recurrent');

export abstract class RNN extends Layer {
  readonly units: number;
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly kernelInitializer: InitializerSpec;
  readonly recurrentInitializer: InitializerSpec;
  readonly biasInitializer: InitializerSpec;
  readonly dropout: number;
  readonly recurrentDropout: number;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly stateful: boolean;

  /** Gate blocks per step: 1 (SimpleRNN), 3 (GRU), 4 (LSTM). */
  protected abstract readonly gates: number;
  /** State tensors: 1 (h) or 2 (h, c). */
  abstract readonly stateCount: number;

  /** Carried states of a stateful layer, each [N·H]. */
  protected carried: Float32Array[] | null = null;
  /** ∂L/∂(initial states) after backward, each [N, H]. */
  initialStateGrads: Tensor[] | null = null;
  /** Final states after the last forward, each [N, H]. */
  finalStates: Tensor[] | null = null;

  // Forward cache (one batch in flight).
  protected N = 0;
  protected T = 0;
  protected D = 0;
  protected xTM: Float32Array | null = null; // [T·N, D] time-major, masked (float inputs)
  protected idxTM: Int32Array | null = null; // [T·N] time-major (index inputs)
  protected idxScale: Float32Array | null = null; // [T·N] input-dropout factor per index
  protected inMask: Float32Array | null = null; // [N, D]
  protected recMask: Float32Array | null = null; // [N, H]
  /** [T·N] in processing order: 0 where step s of row n is masked; null when nothing is masked. */
  protected stepMask: Uint8Array | null = null;
  /** h of every step: hs[0] = h0, hs[s+1] = output of step s. [(T+1)·N·H]. */
  protected hs: Float32Array = new Float32Array(0);
  /** The h_{s−1} fed to the recurrent GEMM of step s (masked by recurrent dropout), [T·N·H]. */
  protected hm: Float32Array = new Float32Array(0);
  /** Uᵀ [G·H, H] for the backward pass (transposed once per backward, not once per step). */
  protected uT: Float32Array = new Float32Array(0);
  private uTPacked: Float32Array = new Float32Array(0);
  /** Inside holdWeightLayouts: U's and Uᵀ's layouts, made by the first pass that needs them, for the passes after. */
  private heldLayouts: { packedU?: Float32Array; uT?: Float32Array; uTPacked?: Float32Array } | null = null;
  private xWasIndex = false;
  /** An Embedding folded in at inference (ForwardOptions.inputLookup): its projected rows. */
  private readonly lookupProjection = new LookupProjection();

  constructor(args: RNNArgs, prefix: string, extraKeys: readonly string[]) {
    super(args, prefix);
    const where = `${prefix} '${this.name}'`;
    checkOptionKeys(prefix, args, [...RNN_OPTION_KEYS, ...extraKeys]);
    this.units = checkPositiveInt(where, 'units', args.units);
    this.activation = recurrentActivationName(args.activation ?? RNN_DEFAULTS.activation, where);
    this.useBias = checkBoolean(where, 'useBias', args.useBias, RNN_DEFAULTS.useBias);
    this.kernelInitializer = initializerSpec(
      args.kernelInitializer,
      RNN_DEFAULTS.kernelInitializer,
      `${where}: 'kernelInitializer'`,
    );
    this.recurrentInitializer = initializerSpec(
      args.recurrentInitializer,
      RNN_DEFAULTS.recurrentInitializer,
      `${where}: 'recurrentInitializer'`,
    );
    this.biasInitializer = initializerSpec(
      args.biasInitializer,
      RNN_DEFAULTS.biasInitializer,
      `${where}: 'biasInitializer'`,
    );
    this.dropout = checkRate(where, 'dropout', args.dropout);
    this.recurrentDropout = checkRate(where, 'recurrentDropout', args.recurrentDropout);
    this.returnSequences = checkBoolean(
      where,
      'returnSequences',
      args.returnSequences,
      RNN_DEFAULTS.returnSequences,
    );
    this.returnState = checkBoolean(where, 'returnState', args.returnState, RNN_DEFAULTS.returnState);
    this.goBackwards = checkBoolean(where, 'goBackwards', args.goBackwards, RNN_DEFAULTS.goBackwards);
    this.stateful = checkBoolean(where, 'stateful', args.stateful, RNN_DEFAULTS.stateful);
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    if (inputShape.length !== 2 || inputShape[1] === null) {
      throw new Error(
        `${this.className} '${this.name}' expects inputs [batch, time, features] with a known feature size; ` +
          `got [batch, ${inputShape.join(', ')}]`,
      );
    }
    return this.returnSequences ? [inputShape[0], this.units] : [this.units];
  }

  protected override acceptsOneHotIndices(): boolean {
    return true;
  }

  /** At inference an Embedding before it folds in: its ids gather rows of E·W (see run). */
  override acceptsInputLookup(): boolean {
    return true;
  }

  /** Shape of the bias weight. */
  protected biasShape(): number[] {
    return [this.gates * this.units];
  }

  /** Bias values at build time (LSTM overrides for unit_forget_bias). */
  protected initialBias(rng: Random): Float32Array {
    return initialize(this.biasInitializer, this.biasShape(), rng);
  }

  protected buildWeights(inputShape: LayerShape, rng: Random): void {
    this.computeOutputShape(inputShape);
    const D = inputShape[1] as number;
    const GH = this.gates * this.units;
    this.weights = [
      new Weight('kernel', [D, GH], initialize(this.kernelInitializer, [D, GH], rng)),
      new Weight(
        'recurrent_kernel',
        [this.units, GH],
        initialize(this.recurrentInitializer, [this.units, GH], rng),
      ),
    ];
    if (this.useBias) this.weights.push(new Weight('bias', this.biasShape(), this.initialBias(rng)));
  }

  /** Clears the carried state of a stateful layer (or sets it: one [N, H] tensor per state, h first). */
  override resetStates(states?: readonly Tensor[]): void {
    if (!states) {
      this.carried = null;
      return;
    }
    super.resetStates(states);
    this.carried = states.map((s) => persistentCopy(s.data));
  }

  /** A stateful layer carries one [rows, units] state per name in stateNames, the same rows for each. */
  override carriedStatesMismatch(shapes: readonly (readonly number[])[]): string | null {
    if (!this.stateful) return shapes.length === 0 ? null : 'is not stateful: it carries no state';
    const rows = shapes[0]?.[0] ?? this.declaredBatchSize ?? 0;
    const fits =
      shapes.length === this.stateCount &&
      shapes.every((s) => s.length === 2 && s[0] === rows && rows > 0 && s[1] === this.units);
    return fits
      ? null
      : `carries ${this.stateCount} state${this.stateCount > 1 ? 's' : ''} [${this.stateNames.join(', ')}] of ${rows}×${this.units} values`;
  }

  /** Current carried state (stateful layers), each [N, H]. */
  override getStates(): Tensor[] | null {
    return this.carried
      ? this.carried.map((s) => new Tensor(s.slice(), [s.length / this.units, this.units]))
      : null;
  }

  forward(x: AnyTensor, opts: ForwardOptions): Tensor {
    return this.run(x, opts, undefined);
  }

  override get stateNames(): readonly string[] {
    return STATE_NAMES.slice(0, this.stateCount);
  }

  override stateSize(): number {
    return this.units;
  }

  /** Token inputs are a gather from a table of input projections, and that table can fold in an Embedding's. */
  override acceptsStepLookup(): boolean {
    return true;
  }

  override createStepState(rows: number, opts: StepOptions = {}): RecurrentStepState {
    if (this.goBackwards)
      throw new Error(`layer '${this.name}' runs backwards in time and cannot be run step by step`);
    const D = this.stepInputSize();
    const GH = this.gates * this.units;
    const W = this.weights[0].value;
    const bias = this.useBias ? this.weights[2].value : null;
    const tokens = opts.tokens === true;
    const fixed = opts.weightsFixed === true;
    const recurrentProduct = this.stepRecurrentProduct(rows, fixed);
    return new RecurrentStepState(
      this,
      rows,
      opts,
      this.gates,
      tokens ? null : stepProduct(W, 0, GH, D, GH, rows, fixed),
      tokens ? stepInputTable(opts.lookup, W, D, GH, bias, fixed) : null,
      recurrentProduct,
      // Tokens gather rows with the input bias in; GRU's resetAfter bias (its second row) is read by every step.
      bias && (!tokens || bias.length > GH) ? stepWeights(bias, fixed) : null,
      recurrentProduct ? null : stepWeights(this.weights[1].value, fixed),
    );
  }

  /** h·U [rows, G·H] for steps: all of U in its step layout (GRU without resetAfter multiplies by parts of U). */
  protected stepRecurrentProduct(rows: number, weightsFixed: boolean): StepProduct | null {
    const GH = this.gates * this.units;
    return stepProduct(this.weights[1].value, 0, GH, this.units, GH, rows, weightsFixed);
  }

  /** The first columns of the next step's h·U, for one stream (U in GEMV panels: one-stream generation). */
  override stepAhead(state: StepState, ready: () => void): StepAheadProduct | null {
    const s = this.ownState(state, RecurrentStepState);
    const p = s.aheadProduct;
    if (!p) return null;
    s.aheadValid = true;
    s.aheadReady = ready;
    // One product out at a time per layer (the step waits for it before the next stepAhead), so it is reused.
    p.x = s.states[0];
    return p;
  }

  override cancelStepAhead(state: StepState): void {
    this.ownState(state, RecurrentStepState).aheadValid = false;
  }

  override step(input: StepInput, state: StepState): Float32Array {
    const s = this.ownState(state, RecurrentStepState);
    this.checkStepInput(input, s);
    const GH = this.gates * this.units;
    if (s.table) kernels().gatherRows(input as Int32Array, s.active, s.table, GH, s.xp, null, false);
    else {
      s.inputProduct!(input as Float32Array, s.xp, 0, GH, false, s.active);
      if (s.bias) kernels().addBias(s.xp, 0, s.active, GH, GH, s.bias, 0);
    }
    this.stepCell(s);
    return s.states[0];
  }

  /** Graph stepping: the initial states (inputs 1…) may be constants, e.g. an encoder's final states; x is stepped. */
  override bindStepConstants(
    state: StepState,
    constants: readonly (StepConstant | null)[],
    rowSource: Int32Array,
  ): void {
    const s = this.ownState(state, RecurrentStepState);
    if (constants[0])
      throw new Error(`${this.className} '${this.name}': its sequence input must be stepped, not fixed`);
    const given = constants.slice(1);
    if (given.length === 0) {
      this.resetState(s);
      return;
    }
    if (given.length !== this.stateCount || given.some((c) => c === null))
      throw new Error(
        `${this.className} '${this.name}': while stepping, its ${this.stateCount} initial state(s) must all be fixed inputs`,
      );
    const H = this.units;
    given.forEach((c, i) => {
      const src = c!.value.data;
      const dst = s.states[i];
      for (let r = 0; r < s.rows; r++) dst.set(src.subarray(rowSource[r] * H, (rowSource[r] + 1) * H), r * H);
    });
  }

  /** Graph stepping: [y] or, with returnState, [y, ...states] (y is h). */
  override stepMany(inputs: readonly StepInput[], state: StepState): Float32Array[] {
    if (inputs.length !== 1)
      throw new Error(
        `${this.className} '${this.name}': steps on its sequence input only, got ${inputs.length}`,
      );
    const y = this.step(inputs[0], state);
    return this.returnState ? [y, ...state.states] : [y];
  }

  /** The rest of a step after the input projection (in s.xp): adds h·U, applies the cell, swaps in the new states. */
  protected abstract stepCell(s: RecurrentStepState): void;

  /**
   * Functional use: runs the layer on x with optional initial states; returns the output, or
   * [output, ...finalStates] when `returnState` is set.
   */
  call(x: AnyTensor, opts: CallOptions = {}): Tensor | Tensor[] {
    checkTensorArg(x, `${this.className} '${this.name}': call's input`);
    if (!this.built) {
      if (x.dtype === 'int32')
        throw new Error(`${this.className} '${this.name}': build it before calling on indices`);
      this.build(x.shape.slice(1), new Random(0));
    }
    const y = this.run(
      x,
      { training: opts.training ?? false, seed: opts.seed ?? 0, mask: opts.mask ?? null },
      opts.initialState,
    );
    return this.returnState ? [y, ...this.finalStates!] : y;
  }

  // Graph hooks: inputs [x, ...initialStates], outputs [y] or [y, ...finalStates] with returnState. Gradients flow
  // into given initial states (a decoder's initial state is an encoder's output) and from used final states.
  override computeOutputShapes(inputShapes: LayerShape[]): LayerShape[] {
    const [x, ...states] = inputShapes;
    if (states.length !== 0 && states.length !== this.stateCount) {
      throw new Error(
        `${this.className} '${this.name}' takes ${this.stateCount} initial state(s), got ${states.length}`,
      );
    }
    for (const s of states) {
      if (s.length !== 1 || (s[0] !== null && s[0] !== this.units))
        throw new Error(`${this.className} '${this.name}': an initial state must be [batch, ${this.units}]`);
    }
    const y = this.computeOutputShape(x);
    return this.returnState ? [y, ...Array.from({ length: this.stateCount }, () => [this.units])] : [y];
  }

  private givenStates = 0;

  override forwardMany(xs: AnyTensor[], opts: ForwardOptions): Tensor[] {
    const states = xs.slice(1) as Tensor[];
    this.givenStates = states.length;
    const y = this.run(xs[0], opts, states.length > 0 ? states : undefined);
    return this.returnState ? [y, ...this.finalStates!] : [y];
  }

  override backwardMany(dys: (Tensor | null)[]): (Tensor | null)[] {
    const H = this.units;
    const N = this.N;
    const dy =
      dys[0] ??
      new Tensor(
        alloc(this.returnSequences ? N * this.T * H : N * H),
        this.returnSequences ? [N, this.T, H] : [N, H],
      );
    const finals = dys.slice(1);
    const dFinal = finals.some((d) => d !== null)
      ? Array.from({ length: this.stateCount }, (_, i) => finals[i] ?? new Tensor(alloc(N * H), [N, H]))
      : undefined;
    const dx = this.backward(dy, dFinal);
    return [dx, ...this.initialStateGrads!.slice(0, this.givenStates)];
  }

  private run(x: AnyTensor, opts: ForwardOptions, initialState: Tensor[] | undefined): Tensor {
    this.checkInput(x, true);
    const N = x.shape[0];
    const T = x.shape[1];
    const D = this.inputShape![1] as number;
    const H = this.units;
    if (T === 0)
      throw new Error(`${this.className} '${this.name}': sequences must have at least one timestep`);
    this.N = N;
    this.T = T;
    this.D = D;
    const k = kernels();

    // Initial states.
    const h0 = alloc(N * H);
    const extra: Float32Array[] = [];
    for (let i = 1; i < this.stateCount; i++) extra.push(alloc(N * H));
    const given = initialState?.map((s) => s.data) ?? (this.stateful ? this.carried : null);
    if (given) {
      if (given.length !== this.stateCount || given.some((s) => s.length !== N * H)) {
        throw new Error(
          `${this.className} '${this.name}': initial/carried state must be ${this.stateCount} tensor(s) of shape ` +
            `[${N}, ${H}]` +
            (this.stateful
              ? ' — a stateful layer needs the same batch size every batch (or call resetStates())'
              : ''),
        );
      }
      h0.set(given[0]);
      for (let i = 1; i < this.stateCount; i++) extra[i - 1].set(given[i]);
    }

    this.stepMask = this.processingOrderMask(opts.mask ?? null, N, T);

    // Dropout masks, drawn in a fixed order so runs are reproducible.
    const training = opts.training;
    const salt = this.salt();
    this.inMask = training && this.dropout > 0 ? dropoutMask(N, D, this.dropout, opts, salt) : null;
    this.recMask =
      training && this.recurrentDropout > 0
        ? dropoutMask(N, H, this.recurrentDropout, opts, salt ^ 0x5f3759df)
        : null;

    // Input projection XP[T·N, G·H], time-major in processing order.
    const GH = this.gates * H;
    const W = this.weights[0].value;
    const xp = allocUninitialized(T * N * GH);
    this.xWasIndex = x instanceof IndexTensor;
    const lookup = opts.inputLookup;
    let biasAdded = false;
    if (lookup && training)
      throw new Error(`${this.className} '${this.name}': a folded input lookup is for inference only`);
    if (x instanceof IndexTensor) {
      checkIndices(x, lookup?.ids ?? D, this.name);
      const idx = allocInt32(T * N);
      const scale = this.inMask ? alloc(T * N) : null;
      for (let s = 0; s < T; s++) {
        const t = this.goBackwards ? T - 1 - s : s;
        for (let n = 0; n < N; n++) {
          const id = x.data[n * T + t];
          idx[s * N + n] = id;
          if (scale) scale[s * N + n] = this.inMask![n * D + id];
        }
      }
      if (!lookup) k.gatherRows(idx, T * N, W, GH, xp, scale, false);
      else {
        // Each distinct id projected once (E·W + b), then gathered; the bias is in the rows.
        const bias = this.useBias ? this.weights[2].value : null;
        this.lookupProjection.project({ lookup, kernel: W, bias, inputWidth: D, width: GH }, idx, T * N, xp);
        biasAdded = true;
      }
      this.idxTM = idx;
      this.idxScale = scale;
      this.xTM = null;
    } else {
      const xtm = this.reorderRows(x.data, N, T, D, false);
      k.gemm(false, false, T * N, GH, D, xtm, 0, D, W, 0, GH, xp, 0, GH, false);
      this.xTM = xtm;
      this.idxTM = null;
    }
    if (this.useBias && !biasAdded) k.addBias(xp, 0, T * N, GH, GH, this.weights[2].value, 0);

    this.hs = allocUninitialized((T + 1) * N * H);
    this.hs.set(h0);
    this.hm = this.recMask ? allocUninitialized(T * N * H) : this.hs;
    this.runSteps(xp, extra);

    // Final states.
    const hT = this.hs.subarray(T * N * H, (T + 1) * N * H);
    const finals = [copyOf(hT), ...this.finalExtraStates()];
    this.finalStates = finals.map((s) => new Tensor(s, [N, H]));
    if (this.stateful) this.carried = finals.map((s) => persistentCopy(s));

    // Output.
    if (!this.returnSequences) return new Tensor(copyOf(hT), [N, H]);
    const y = allocUninitialized(N * T * H);
    for (let s = 0; s < T; s++) {
      for (let n = 0; n < N; n++)
        y.set(this.hs.subarray(((s + 1) * N + n) * H, ((s + 1) * N + n + 1) * H), (n * T + s) * H);
    }
    return new Tensor(y, [N, T, H]);
  }

  /**
   * Rows of D floats from batch-major [N, T, D] to time-major in processing order [T·N, D] (reversed in time for
   * goBackwards), or `back` from time-major to batch-major (the input gradient), times the input dropout mask when
   * there is one. Unmasked, one gather in wasm: T·N row copies in JavaScript cost as much as a short batch's GEMMs.
   */
  private reorderRows(src: Float32Array, N: number, T: number, D: number, back: boolean): Float32Array {
    const out = allocUninitialized(T * N * D);
    const mask = this.inMask;
    const idx = mask ? null : allocInt32(T * N);
    for (let s = 0; s < T; s++) {
      const t = this.goBackwards ? T - 1 - s : s;
      for (let n = 0; n < N; n++) {
        const from = back ? s * N + n : n * T + t;
        const to = back ? n * T + t : s * N + n;
        if (idx) idx[to] = from;
        else for (let d = 0; d < D; d++) out[to * D + d] = src[from * D + d] * mask![n * D + d];
      }
    }
    if (idx) kernels().gatherRows(idx, T * N, src, D, out, null, false);
    return out;
  }

  /** The [N, T] input mask in processing order [T·N], or null when it masks nothing. */
  private processingOrderMask(mask: SequenceMask | null, N: number, T: number): Uint8Array | null {
    if (!mask) return null;
    if (mask.shape[0] !== N || mask.shape[1] !== T || mask.data.length !== N * T) {
      throw new Error(
        `${this.className} '${this.name}': the input mask has shape [${mask.shape.join(', ')}], expected [${N}, ${T}]`,
      );
    }
    const m = new Uint8Array(T * N);
    let masked = false;
    for (let s = 0; s < T; s++) {
      const t = this.goBackwards ? T - 1 - s : s;
      for (let n = 0; n < N; n++) {
        const v = mask.data[n * T + t] !== 0 ? 1 : 0;
        m[s * N + n] = v;
        if (!v) masked = true;
      }
    }
    return masked ? m : null;
  }

  /**
   * After step s: the masked rows of each state sequence ([(T+1)·N·H]: hs, LSTM's cs) take their values at s−1
   * (slot s) into slot s+1, so a masked step keeps the state and repeats the previous output.
   */
  protected keepMaskedRows(s: number, sequences: Float32Array[]): void {
    const m = this.stepMask;
    if (!m) return;
    const N = this.N;
    const H = this.units;
    const NH = N * H;
    for (let n = 0; n < N; n++) {
      if (m[s * N + n]) continue;
      const from = s * NH + n * H;
      for (const seq of sequences) seq.copyWithin(from + NH, from, from + H);
    }
  }

  /**
   * Backward at step s, before the cell: takes the masked rows of each gradient buffer (∂h, ∂c: [N·H] at `offsets`)
   * out — returned — and zeroes them, so the cell gives those rows no gate (hence weight) gradients. Null if no mask.
   */
  protected holdMaskedRows(s: number, grads: Float32Array[], offsets?: number[]): Float32Array[] | null {
    const m = this.stepMask;
    if (!m) return null;
    const N = this.N;
    const H = this.units;
    return grads.map((g, i) => {
      const off = offsets?.[i] ?? 0;
      const held = new Float32Array(N * H);
      for (let n = 0; n < N; n++) {
        if (m[s * N + n]) continue;
        const a = off + n * H;
        held.set(g.subarray(a, a + H), n * H);
        g.fill(0, a, a + H);
      }
      return held;
    });
  }

  /** Backward at step s, after the cell: adds the held rows into the previous state's gradients (∂h_{s−1}, ∂c_{s−1}). */
  protected releaseMaskedRows(s: number, held: Float32Array[] | null, prevGrads: Float32Array[]): void {
    const m = this.stepMask;
    if (!held || !m) return;
    const N = this.N;
    const H = this.units;
    held.forEach((h, i) => {
      const g = prevGrads[i];
      for (let n = 0; n < N; n++) {
        if (m[s * N + n]) continue;
        for (let j = n * H; j < (n + 1) * H; j++) g[j] += h[j];
      }
    });
  }

  /** Keras: the input's mask goes on with the sequence output (returnSequences), no mask otherwise. */
  override computeMask(_x: AnyTensor, inputMask: SequenceMask | null): SequenceMask | null {
    return this.returnSequences ? inputMask : null;
  }

  /** Graph form: inputs [x, ...initialStates]; the states returned with returnState carry no mask. */
  override computeMasks(xs: AnyTensor[], inputMasks: (SequenceMask | null)[]): (SequenceMask | null)[] {
    return [this.computeMask(xs[0], inputMasks[0] ?? null)];
  }

  /** h_{s−1} for the recurrent GEMM of step s: hs[s], masked into hm[s] under recurrent dropout. Returns its offset. */
  protected prevH(s: number): number {
    const NH = this.N * this.units;
    if (this.recMask) {
      const hm = this.hm;
      const hs = this.hs;
      const m = this.recMask;
      for (let i = 0; i < NH; i++) hm[s * NH + i] = hs[s * NH + i] * m[i];
    }
    return s * NH;
  }

  /** Runs all steps: consumes xp [T·N·G·H] (the subclass may overwrite it with gate values) and fills hs. */
  protected abstract runSteps(xp: Float32Array, extraStates: Float32Array[]): void;

  /** Final values of states other than h (LSTM's c). */
  protected abstract finalExtraStates(): Float32Array[];

  /**
   * Reverse steps. dhOut[T·N·H] is ∂L/∂h_s from the output; dFinal the gradients of the final states (h, c…) or null.
   * Returns ∂L/∂XP [T·N·G·H], accumulates the recurrent kernel (and recurrent bias) gradients, and the gradients of
   * the initial states (h0 first).
   */
  protected abstract backSteps(
    dhOut: Float32Array,
    dFinal: Float32Array[] | null,
  ): { dxp: Float32Array; dInit: Float32Array[] };

  protected override saveForwardFields(cache: ForwardCache): void {
    const { N, T, D, xTM, idxTM, idxScale, inMask, recMask, stepMask, hs, hm, xWasIndex, givenStates } = this;
    cache.set(RNN_FIELDS, {
      N,
      T,
      D,
      xTM,
      idxTM,
      idxScale,
      inMask,
      recMask,
      stepMask,
      hs,
      hm,
      xWasIndex,
      givenStates,
    });
  }

  protected override restoreForwardFields(cache: ForwardCache): void {
    Object.assign(this, cache.get(RNN_FIELDS));
  }

  backward(dy: Tensor, dFinalStates?: Tensor[]): Tensor | null {
    if (this.hs.length === 0)
      throw new Error(`${this.className} '${this.name}': backward called before forward`);
    const { N, T, D } = this;
    const H = this.units;
    const GH = this.gates * H;
    const k = kernels();

    const dhOut = alloc(T * N * H);
    if (this.returnSequences) {
      for (let s = 0; s < T; s++) {
        for (let n = 0; n < N; n++)
          dhOut.set(dy.data.subarray((n * T + s) * H, (n * T + s + 1) * H), (s * N + n) * H);
      }
    } else {
      dhOut.set(dy.data, (T - 1) * N * H);
    }
    this.layOutTransposedU();
    const { dxp, dInit } = this.backSteps(dhOut, dFinalStates ? dFinalStates.map((t) => t.data) : null);
    this.initialStateGrads = dInit.map((g) => new Tensor(g, [N, H]));

    const [kernel] = this.weights;
    if (this.useBias) k.sumRows(dxp, 0, T * N, GH, GH, this.weights[2].grad, 0);
    if (this.xWasIndex) {
      k.scatterAddRows(this.idxTM!, T * N, dxp, GH, kernel.grad, this.idxScale);
      return null;
    }
    const xtm = this.xTM!;
    k.gemm(true, false, D, GH, T * N, xtm, 0, D, dxp, 0, GH, kernel.grad, 0, GH, true);
    const dxtm = allocUninitialized(T * N * D);
    k.gemm(false, true, T * N, D, GH, dxp, 0, GH, kernel.value, 0, GH, dxtm, 0, D, false);
    return new Tensor(this.reorderRows(dxtm, N, T, D, true), [N, T, D]);
  }

  /**
   * Runs fn with U laid out once: the first forward inside fn lays out U for its step GEMMs and the first backward
   * transposes and lays out Uᵀ, and the passes after them reuse those layouts. For a caller that runs this layer one
   * step at a time (AttentionDecoder: T passes of one step each), which would otherwise lay out the same weights T
   * times. The weights must not change inside fn; the layouts are dropped when it returns, so the next call (after
   * an optimizer step) lays out the weights it then finds. fn must not end an allocation scope it did not begin.
   */
  holdWeightLayouts<R>(fn: () => R): R {
    if (this.heldLayouts) return fn();
    this.heldLayouts = {};
    try {
      return fn();
    } finally {
      this.heldLayouts = null;
    }
  }

  /** U [H, G·H] laid out for this forward pass's step GEMMs (or the held layout: holdWeightLayouts). */
  protected packedRecurrentKernel(): Float32Array {
    const held = this.heldLayouts;
    if (held?.packedU) return held.packedU;
    const GH = this.gates * this.units;
    const packedU = this.packed(this.weights[1].value, 0, this.units, GH, GH);
    if (held) held.packedU = packedU;
    return packedU;
  }

  /** Uᵀ [G·H, H] and its layout for this backward pass (or the held ones: holdWeightLayouts). */
  private layOutTransposedU(): void {
    const held = this.heldLayouts;
    if (held?.uT && held.uTPacked) {
      this.uT = held.uT;
      this.uTPacked = held.uTPacked;
      return;
    }
    const H = this.units;
    const GH = this.gates * H;
    this.uT = allocUninitialized(GH * H);
    kernels().transpose(H, GH, this.weights[1].value, 0, this.uT, 0);
    this.uTPacked = this.packed(this.uT, 0, GH, H, H);
    if (held) Object.assign(held, { uT: this.uT, uTPacked: this.uTPacked });
  }

  /**
   * `B` [K, N] (row stride ldb) laid out once for the per-step products of this pass (Kernels.packGemmB): the step
   * GEMMs then skip re-packing the same weights every timestep. Scoped like the other per-pass buffers.
   */
  protected packed(B: Float32Array, bOff: number, K: number, N: number, ldb: number): Float32Array {
    const out = allocUninitialized(gemmPackedBLength(K, N));
    kernels().packGemmB(K, N, B, bOff, ldb, out, 0);
    return out;
  }

  /** ∂L/∂h_{s−1} from ∂(recurrent pre-activation) — dr[N, K]·U[:, off:off+K]ᵀ — masked, accumulated into dh. */
  protected recurrentBackward(
    dr: Float32Array,
    drOff: number,
    K: number,
    uOff: number,
    dh: Float32Array,
  ): void {
    const H = this.units;
    const GH = this.gates * H;
    const N = this.N;
    // Uᵀ rows uOff…uOff+K are U's columns uOff…uOff+K: a plain NN product, no per-step transposition; all of Uᵀ
    // (every layer but GRU without resetAfter) also comes prepacked.
    // Under recurrent dropout the product goes through the mask before it is added to dh.
    const k = kernels();
    const mask = this.recMask;
    const out = mask ? allocUninitialized(N * H) : dh;
    if (uOff === 0 && K === GH)
      k.gemmPackedB(false, N, H, K, dr, drOff, GH, this.uT, 0, H, this.uTPacked, 0, out, 0, H, !mask);
    else k.gemm(false, false, N, H, K, dr, drOff, GH, this.uT, uOff * H, H, out, 0, H, !mask);
    if (!mask) return;
    k.mulInPlace(out, 0, mask, 0, N * H);
    k.addInPlace(dh, 0, out, 0, N * H);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      units: this.units,
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: this.kernelInitializer,
      recurrentInitializer: this.recurrentInitializer,
      biasInitializer: this.biasInitializer,
      dropout: this.dropout,
      recurrentDropout: this.recurrentDropout,
      returnSequences: this.returnSequences,
      returnState: this.returnState,
      goBackwards: this.goBackwards,
      stateful: this.stateful,
    };
  }
}
