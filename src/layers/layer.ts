/**
 * The layer contract. A layer owns its weights and a fused forward/backward pair: `forward` keeps what `backward`
 * needs (one batch in flight per layer instance), `backward` accumulates weight gradients and returns ∂L/∂input.
 * Shapes here exclude the batch axis; `null` marks a length fixed only by the data (e.g. T).
 *
 * Beside them every layer owns `step`: one time step for a fixed number of rows (streams) with the state held
 * explicitly in a StepState, so stateful generation and decoders run any stack as a plain loop over its layers.
 */
import { kernels, persistentCopy } from '../core/backend.js';
import { MemoryOwner } from '../core/kernels.js';
import type { Random } from '../core/random.js';
import type { AnyTensor } from '../core/tensor.js';
import { Tensor, shapeToString } from '../core/tensor.js';
import { InvalidInputError, describeValue } from '../core/errors.js';
import { applyLayer, type ApplyOptions, type SymbolicDtype, type SymbolicTensor } from './symbolic.js';

export type LayerShape = readonly (number | null)[];

/** Options every layer accepts (tfjs/Keras names). */
export interface LayerArgs {
  name?: string;
  /** Input shape without the batch axis, e.g. [40, 60] for 40 steps of 60 features. */
  inputShape?: LayerShape;
  /** Input shape with the batch axis; needed by stateful recurrent layers. */
  batchInputShape?: LayerShape;
  batchSize?: number;
  trainable?: boolean;
  /** recur computes in float32: 'float32' (or nothing) is the only dtype a layer takes. */
  dtype?: 'float32';
}

/** A weight with its gradient buffer. `name` is the short Keras name ('kernel'); files use `layer/kernel`. */
export class Weight {
  /** Lives in kernel memory (wasm memory for the fast kernels). */
  private current: Float32Array;
  private gradient: Float32Array | null = null;
  /** Hold the buffers this weight allocated, so `bindValue` and `dispose` give them back at once. */
  private readonly valueMemory = new MemoryOwner();
  private readonly gradientMemory = new MemoryOwner();
  private disposed = false;
  constructor(
    readonly name: string,
    readonly shape: readonly number[],
    initial: ArrayLike<number>,
    public trainable = true,
  ) {
    this.current = kernels().ownedBy(this.valueMemory, () => persistentCopy(initial));
  }
  get value(): Float32Array {
    if (this.disposed) throw new Error(`weight '${this.name}' was disposed with its model`);
    return this.current;
  }
  /**
   * ∂loss/∂weight, zeroed when first asked for: a model that only predicts (a loaded model, an inference worker's)
   * never holds gradient memory, which was as large as its weights.
   */
  get grad(): Float32Array {
    if (this.disposed) throw new Error(`weight '${this.name}' was disposed with its model`);
    return (this.gradient ??= kernels().ownedBy(this.gradientMemory, () =>
      kernels().allocPersistent(this.current.length),
    ));
  }
  /**
   * Makes this weight a view of another buffer of the same size (worker replicas share the main model's weights),
   * giving back the buffer it allocated: the owner would otherwise keep it for the replica's life.
   */
  bindValue(view: Float32Array): void {
    if (view.length !== this.current.length)
      throw new Error(`weight '${this.name}': cannot bind ${view.length} values to ${this.current.length}`);
    this.current = view;
    kernels().release(this.valueMemory);
  }
  /** Gives back the kernel memory this weight allocated, for reuse; the weight is unusable after (it throws). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.gradient = null;
    kernels().release(this.valueMemory);
    kernels().release(this.gradientMemory);
  }
}

export interface ForwardOptions {
  training: boolean;
  /**
   * Seed of this batch's random draws (dropout). Masks are drawn per sample from (seed, layer, row), so a sample gets
   * the same mask whichever thread or shard computes it.
   */
  seed: number;
  /** Index of this tensor's first row within the whole batch (for the per-row draws). */
  rowOffset?: number;
  /** Output pre-activation logits instead of applying the layer's output activation (fused loss path). */
  logits?: boolean;
  /**
   * The input's mask (Keras masking), from `computeMask` of the layer before; absent or null when unmasked.
   * Recurrent layers consume it (a masked step keeps the previous state); wrappers pass it on to inner layers.
   */
  mask?: SequenceMask | null;
  /** The masks of all of a graph node's inputs, in order (multi-input layers: attention reads the value's mask). */
  masks?: readonly (SequenceMask | null)[];
  /**
   * Inference only: the int32 input stands for rows of this lookup (an Embedding that Functional.runNodes folded into
   * a layer whose `acceptsInputLookup()` is true), so the layer can gather rows of the lookup times its own kernel.
   */
  inputLookup?: StepLookup;
}

/**
 * A Keras mask over the [batch, time] axes of a sequence: data[n·T + t] is 1 where step t of row n is real and 0 where
 * it is padding. Made by Embedding (maskZero) and Masking, carried through per-step layers, consumed by recurrent layers.
 */
export interface SequenceMask {
  readonly data: Uint8Array;
  /** [N, T]. */
  readonly shape: readonly [number, number];
}

/** A constant input of a stepped graph node: its whole value over the constant batch, and its sequence mask. */
export interface StepConstant {
  readonly value: Tensor;
  readonly mask: SequenceMask | null;
}

/** One time step's input: token ids, one per row (one-hot semantics; Embedding: rows to gather), or [rows, width]. */
export type StepInput = Int32Array | Float32Array;

export interface StepOptions {
  /** The input is token ids (an Int32Array, best in kernel memory: kernels().allocInt32) instead of floats. */
  tokens?: boolean;
  /**
   * With `tokens`: id v stands for row v of this lookup (an Embedding's table) as the layer's float input. A layer
   * whose `acceptsStepLookup()` is true folds it into its own input weights once, so a step gathers one row.
   */
  lookup?: StepLookup;
  /** Leave out a final softmax/sigmoid and output logits (for sampling). */
  logits?: boolean;
  /**
   * The caller changes no weight while it uses the state (one forward pass: src/models/prefix_steps.ts), so a layer
   * may read weights where they are instead of copying them — an Embedding's whole table, per call. Default false:
   * the state is a snapshot.
   */
  weightsFixed?: boolean;
}

/**
 * A product a layer's next step needs that depends only on the layer's state (part of h·U, for a recurrent layer):
 * out[rows, N] = x[rows, K] · W, with W in the GEMV's panels (Kernels.packGemvPanels) and all three in kernel memory,
 * so another thread can compute it between steps (src/parallel/step_helper.ts) with the same kernel, to the same
 * floats.
 */
export interface StepAheadProduct {
  rows: number;
  N: number;
  K: number;
  x: Float32Array;
  packed: Float32Array;
  out: Float32Array;
}

/** A token lookup as a step input: row v of `table` [ids, width] is token v's input vector. */
export interface StepLookup {
  readonly table: Float32Array;
  readonly ids: number;
}

/**
 * What one layer needs to take steps for `rows` streams: its recurrent state, its output buffer, scratch, and its
 * weights laid out for one-step products. Made once by `createStepState`; a step allocates nothing. The weights are
 * a snapshot taken at creation — every weight a step reads is packed or copied then (src/layers/step_weights.ts) —
 * so training or setWeights meanwhile changes no step: make a new state after training further.
 */
export class StepState {
  /**
   * The recurrent state, one [rows, stateSize] buffer per name in the layer's `stateNames` (h, or h and c), in kernel
   * memory; empty for stateless layers. A step may swap these buffers for the ones it computed, so index the array
   * afresh after every step rather than keeping a buffer. Write into them (or use `Layer.setState`) to start from a
   * given state, e.g. an encoder's final state.
   */
  readonly states: Float32Array[];

  /**
   * How many leading rows the next steps must compute (default: all). A caller stepping fewer streams for a while —
   * the shared-prefix forward (src/models/prefix_steps.ts) steps one row per distinct prefix — lowers it; a step
   * computes at least these rows, and whatever it leaves in the rows after them is not to be read.
   */
  active: number;

  constructor(
    /** The layer that made this state (a state is used only with its own layer). */
    readonly layer: Layer,
    readonly rows: number,
    /** Output floats per row. */
    readonly width: number,
    readonly opts: Readonly<StepOptions>,
  ) {
    if (!(Number.isInteger(rows) && rows >= 0))
      throw new InvalidInputError(
        `layer '${layer.name}': a step state's rows must be an integer ≥ 0, got ${describeValue(rows)}`,
      );
    const size = layer.stateSize();
    this.states = layer.stateNames.map(() => kernels().allocPersistent(rows * size));
    this.active = rows;
  }
}

/** Names one class's part of a ForwardCache and gives its type. */
export class ForwardCacheKey<T> {
  declare private readonly fields: T;
  constructor(readonly name: string) {}
}

/**
 * What one forward of a layer kept for its backward, handed out by `Layer.saveForwardCache` and put back by
 * `restoreForwardCache` before that call's backward: a caller running one layer several times before the backward
 * passes (AttentionDecoder runs its parts once per step) keeps one per call instead of running each forward again.
 * Only the layer that made it reads it; each class of the layer's hierarchy keeps its fields under its own key.
 */
export class ForwardCache {
  private readonly parts = new Map<ForwardCacheKey<unknown>, unknown>();
  constructor(readonly layer: Layer) {}
  set<T>(key: ForwardCacheKey<T>, fields: T): void {
    this.parts.set(key, fields);
  }
  get<T>(key: ForwardCacheKey<T>): T {
    if (!this.parts.has(key))
      throw new Error(`layer '${this.layer.name}': the forward cache holds no ${key.name} fields`);
    return this.parts.get(key) as T;
  }
}

/** Carried-state shapes as errors show them: "2 of 4×8, 4×8". */
export function describeStateShapes(shapes: readonly (readonly number[])[]): string {
  return shapes.length === 0 ? 'none' : `${shapes.length} of ${shapes.map((s) => s.join('×')).join(', ')}`;
}

const nameCounts = new Map<string, number>();

/**
 * Starts the names below afresh, so the next model's layers are named as the first model of a new process's (lstm, not
 * lstm_2): a seed ensemble builds each member after this, so a member's files do not depend on how many members the
 * process built before it — a resumed run builds fewer.
 */
export function resetLayerNames(): void {
  nameCounts.clear();
}

/** Keras-style unique names: lstm, lstm_1, lstm_2 … */
export function uniqueLayerName(prefix: string): string {
  const n = nameCounts.get(prefix) ?? 0;
  nameCounts.set(prefix, n + 1);
  return n === 0 ? prefix : `${prefix}_${n}`;
}

/** A 32-bit hash of a string (FNV-1a), used to give each layer its own random stream. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function snakeCase(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** Rejects option keys a layer does not know, so typos like `unit: 128` fail loudly. */
/**
 * A declared shape: sizes that are positive integers, or null for any (a -1, 0 or "4" was taken and made a model no
 * input could ever fit).
 */
function checkShapeOption(prefix: string, name: string, key: string, shape: unknown): void {
  const ok =
    Array.isArray(shape) &&
    shape.every((d) => d === null || (typeof d === 'number' && Number.isInteger(d) && d > 0));
  if (!ok)
    throw new InvalidInputError(
      `${prefix} '${name}': '${key}' must hold sizes (positive integers) or null, got ${describeValue(shape)}`,
    );
}

export function checkOptionKeys(where: string, args: object, allowed: readonly string[]): void {
  const known = new Set([
    ...allowed,
    'name',
    'inputShape',
    'batchInputShape',
    'batchSize',
    'trainable',
    'dtype',
  ]);
  for (const key of Object.keys(args)) {
    if (!known.has(key)) throw new Error(`${where}: unknown option '${key}'`);
  }
}

export function checkPositiveInt(where: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`${where}: '${key}' must be a positive integer, got ${describeValue(v)}`);
  }
  return v;
}

/**
 * An optional true/false option: its value, or `fallback` when not given. Anything else is refused: a string 'false'
 * is truthy, so `goBackwards: 'false'` silently ran backwards.
 */
export function checkBoolean(where: string, key: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean')
    throw new InvalidInputError(`${where}: '${key}' must be true or false, got ${describeValue(v)}`);
  return v;
}

export function checkRate(where: string, key: string, v: unknown): number {
  const x = v ?? 0;
  if (typeof x !== 'number' || !(x >= 0 && x < 1)) {
    throw new Error(`${where}: '${key}' must be a number in [0, 1), got ${describeValue(v)}`);
  }
  return x;
}

export abstract class Layer {
  /** Keras class name, as written in model files. */
  abstract readonly className: string;
  readonly name: string;
  built = false;
  weights: Weight[] = [];
  private trainableFlag = true;
  /**
   * Whether training updates this layer's weights (Keras's `layer.trainable`): false freezes every weight of the
   * layer, a wrapper's inner layers' included, now and once built. The optimizer reads each weight's own flag.
   */
  get trainable(): boolean {
    return this.trainableFlag;
  }
  set trainable(trainable: boolean) {
    this.trainableFlag = trainable;
    for (const w of this.weights) w.trainable = trainable;
  }
  /** Declared input shape (without batch), if given. */
  readonly declaredInputShape: LayerShape | null;
  readonly declaredBatchSize: number | null;
  /** Input shape the layer was built for (without batch). */
  inputShape: LayerShape | null = null;
  /** Identifies this layer's random stream; a model sets it to the layer's position (names may differ per process). */
  randomSalt: number | null = null;
  /**
   * How many models hold this layer and have not been disposed: a model's `dispose` gives back a layer's weights
   * only when it was the last (functional models may share layers).
   */
  modelsHolding = 0;

  constructor(args: LayerArgs, defaultPrefix: string) {
    if (args === null || typeof args !== 'object') {
      throw new InvalidInputError(`${defaultPrefix}: expected an options object, got ${String(args)}`);
    }
    if (args.name !== undefined && !(typeof args.name === 'string' && args.name !== ''))
      throw new InvalidInputError(
        `${defaultPrefix}: 'name' must be a non-empty string, got ${describeValue(args.name)}`,
      );
    this.name = args.name ?? uniqueLayerName(defaultPrefix);
    this.trainable = checkBoolean(`${defaultPrefix} '${this.name}'`, 'trainable', args.trainable, true);
    // Taken and ignored, a 'float64' or 'mixed_float16' layer would compute in float32 all the same without a word.
    const dtype: unknown = args.dtype;
    if (dtype !== undefined && dtype !== null && dtype !== 'float32')
      throw new InvalidInputError(
        `${defaultPrefix} '${this.name}': dtype ${describeValue(dtype)} is not supported; recur computes in float32`,
      );
    if (args.batchInputShape) {
      checkShapeOption(defaultPrefix, this.name, 'batchInputShape', args.batchInputShape);
      this.declaredInputShape = args.batchInputShape.slice(1);
      this.declaredBatchSize = args.batchInputShape[0];
    } else {
      if (args.inputShape) checkShapeOption(defaultPrefix, this.name, 'inputShape', args.inputShape);
      if (args.batchSize !== undefined && args.batchSize !== null)
        checkShapeOption(defaultPrefix, this.name, 'batchSize', [args.batchSize]);
      this.declaredInputShape = args.inputShape ?? null;
      this.declaredBatchSize = args.batchSize ?? null;
    }
  }

  /** Creates weights for an input shape (without batch). */
  build(inputShape: LayerShape, rng: Random): void {
    this.inputShape = [...inputShape];
    this.buildWeights(inputShape, rng);
    this.finishBuild();
  }

  /** Marks the layer built once its weights exist; a frozen layer's new weights are frozen too. */
  protected finishBuild(): void {
    if (!this.trainableFlag) this.trainable = false;
    this.built = true;
  }

  protected abstract buildWeights(inputShape: LayerShape, rng: Random): void;

  /** Output shape (without batch) for an input shape (without batch); throws if the input cannot feed this layer. */
  abstract computeOutputShape(inputShape: LayerShape): LayerShape;

  abstract forward(x: AnyTensor, opts: ForwardOptions): Tensor;

  /** Accumulates weight gradients; returns ∂L/∂x, or null when x was an index tensor. */
  abstract backward(dy: Tensor): Tensor | null;

  /**
   * The output's mask from the input's (Keras compute_mask), for the input x of the last forward. By default a layer
   * passes its input's mask on (per-step layers: Dense, Dropout, Activation); producers (Embedding, Masking) and
   * consumers (recurrent layers) override this.
   */
  computeMask(x: AnyTensor, inputMask: SequenceMask | null): SequenceMask | null {
    void x;
    return inputMask;
  }

  /**
   * Whether the layer can mask steps of an unmasked input (Keras's mask producers: Embedding with mask_zero, Masking).
   * A model whose sequence output may be masked learns its loss positions only in the forward pass.
   */
  get producesMask(): boolean {
    return false;
  }

  /**
   * Graph form of computeMask: the masks of the outputs, in order (missing entries mean no mask). Multi-input layers
   * (merge, attention) drop masks unless they override this.
   */
  computeMasks(xs: AnyTensor[], inputMasks: (SequenceMask | null)[]): (SequenceMask | null)[] {
    return xs.length === 1 ? [this.computeMask(xs[0], inputMasks[0])] : [];
  }

  // Graph (functional-model) hooks: a layer node takes a list of inputs and gives a list of outputs. The defaults
  // map them onto the single-tensor contract above, so single-input layers need nothing more; multi-input layers
  // (merge, attention) and recurrent layers ([x, ...initialStates] → [y, ...finalStates]) override them.

  /** Output shapes (without batch) for the node's input shapes (without batch). */
  computeOutputShapes(inputShapes: LayerShape[]): LayerShape[] {
    if (inputShapes.length !== 1) {
      throw new Error(`layer '${this.name}' (${this.className}) takes 1 input, got ${inputShapes.length}`);
    }
    return [this.computeOutputShape(inputShapes[0])];
  }

  /** Creates weights for the node's input shapes (without batch). */
  buildMany(inputShapes: LayerShape[], rng: Random): void {
    this.build(inputShapes[0], rng);
  }

  forwardMany(xs: AnyTensor[], opts: ForwardOptions): Tensor[] {
    return [this.forward(xs[0], opts)];
  }

  /** ∂L/∂ each input from ∂L/∂ each output (null: that output feeds no loss; null returned for index inputs). */
  backwardMany(dys: (Tensor | null)[]): (Tensor | null)[] {
    if (dys[0] === null) throw new Error(`layer '${this.name}': backward without an output gradient`);
    return [this.backward(dys[0])];
  }

  /**
   * Functional API: connects this layer to symbolic inputs and returns its symbolic output (or outputs: a recurrent
   * layer with returnState gives [y, h] or [y, h, c]). Each layer is applied once (no shared layers yet).
   */
  apply(
    inputs: SymbolicTensor | SymbolicTensor[],
    opts: ApplyOptions = {},
  ): SymbolicTensor | SymbolicTensor[] {
    const outs = applyLayer(this, Array.isArray(inputs) ? inputs : [inputs], opts);
    return outs.length === 1 ? outs[0] : outs;
  }

  /**
   * Functional API: why this layer cannot read symbolic inputs of these dtypes, or null when it can — checked when
   * the graph is built, so a model that no tensor could run is refused there (Embedding reads int32 ids).
   */
  symbolicInputDtypeMismatch(_dtypes: readonly SymbolicDtype[]): string | null {
    return null;
  }

  /** Like apply, always returning the list of outputs. */
  applyMany(inputs: SymbolicTensor | SymbolicTensor[], opts: ApplyOptions = {}): SymbolicTensor[] {
    return applyLayer(this, Array.isArray(inputs) ? inputs : [inputs], opts);
  }

  /** camelCase options that recreate this layer with `fromConfig` (weights excluded). */
  getConfig(): Record<string, unknown> {
    const config: Record<string, unknown> = { name: this.name, trainable: this.trainable };
    const shape = this.inputShape ?? this.declaredInputShape;
    if (shape) config.batchInputShape = [this.declaredBatchSize, ...shape];
    return config;
  }

  /** Whether forward(…, {logits: true}) is supported (last-layer softmax/sigmoid fused into the loss). */
  outputActivation(): string | null {
    return null;
  }

  /** Names of the state a step carries: [] for stateless layers, ['h'] or ['h', 'c'] for recurrent ones. */
  get stateNames(): readonly string[] {
    return [];
  }

  /** Floats per row of each state buffer (the recurrent layers' units). */
  stateSize(): number {
    return 0;
  }

  // Carried state: what a stateful layer keeps from one training (or inference) batch to the next, as opposed to the
  // explicit StepState of stepping. Models and the worker pool save, restore and clear it through these three methods
  // alone, whatever the layer is (an exact resume of an interrupted epoch needs it).

  /**
   * The state this layer carries into its next batch — a stateful recurrent layer's final states, one [rows,
   * stateSize] tensor per name in stateNames — or null when it carries none (a stateless layer, or a stateful one
   * before its first batch or after resetStates).
   */
  getStates(): Tensor[] | null {
    return null;
  }

  /**
   * Clears the carried state, or sets it to `states` as getStates gives them (e.g. to resume an interrupted epoch).
   * A layer that carries no state accepts only clearing.
   */
  resetStates(states?: readonly Tensor[]): void {
    if (states === undefined) return;
    const wrong = this.carriedStatesMismatch(states.map((t) => t.shape));
    if (wrong)
      throw new Error(
        `layer '${this.name}' ${wrong}, got ${describeStateShapes(states.map((t) => t.shape))}`,
      );
  }

  /**
   * Whether carried states of these shapes fit this layer: null when they do, else what the layer carries, as an
   * error phrase ("carries no state"). Checks shapes only, so a saved state can be refused before it is read.
   */
  carriedStatesMismatch(shapes: readonly (readonly number[])[]): string | null {
    return shapes.length === 0 ? null : 'carries no state';
  }

  /** Output floats per row of one step: the last axis of the output shape (built layers only). */
  stepOutputSize(): number {
    if (!this.inputShape) throw new Error(`layer '${this.name}' is used before it is built`);
    const out = this.computeOutputShape(this.inputShape);
    return out[out.length - 1] as number;
  }

  /**
   * When a step's output is row `id` of a fixed table for each token id (an Embedding), that table [ids, width]: a
   * layer reading it can fold the lookup into its own step (StepOptions.lookup). Null for everything else.
   */
  stepLookup(): StepLookup | null {
    return null;
  }

  /** Whether createStepState takes a StepOptions.lookup (token ids standing for rows of an Embedding's table). */
  acceptsStepLookup(): boolean {
    return false;
  }

  /** Whether forward takes ForwardOptions.inputLookup at inference (ids standing for rows of an Embedding's table). */
  acceptsInputLookup(): boolean {
    return false;
  }

  /** Floats per row of one step's input (float inputs) or the id range (token inputs): the input's last axis. */
  stepInputSize(): number {
    if (!this.inputShape) throw new Error(`layer '${this.name}' is used before it is built`);
    return this.inputShape[this.inputShape.length - 1] as number;
  }

  /**
   * A zeroed step state for `rows` streams, with everything a step needs allocated once. Layers that can step
   * override this (returning a subclass of StepState when they keep more than the defaults) and `step`.
   */
  createStepState(rows: number, opts: StepOptions = {}): StepState {
    void rows;
    void opts;
    throw new Error(`layer '${this.name}' (${this.className}) cannot be run step by step`);
  }

  /**
   * One time step: input [rows, stepInputSize] floats (or one token id per row, if the state was made with
   * `tokens`) → output [rows, width]. Updates the state in place. The output is a buffer of the state (or the input
   * itself, for identity layers): read it before the next step, do not write it.
   */
  step(input: StepInput, state: StepState): Float32Array {
    void input;
    void state;
    throw new Error(`layer '${this.name}' (${this.className}) cannot be run step by step`);
  }

  /**
   * Graph stepping (src/models/graph_stepper.ts) splits a node's inputs into stepped ones — one time step per call,
   * [rows, width] — and constants fixed for a whole decode and computed once (an encoder's outputs that attention
   * reads, an encoder's final states that start a decoder). This binds the constants: `constants[i]` is input i's
   * whole value over the constant batch (null where input i is stepped), and step row r reads constant row
   * `rowSource[r]` (beam search steps several rows per source). Layers that take no constants refuse any.
   */
  bindStepConstants(
    state: StepState,
    constants: readonly (StepConstant | null)[],
    rowSource: Int32Array,
  ): void {
    void state;
    void rowSource;
    if (constants.some((c) => c !== null))
      throw new Error(
        `layer '${this.name}' (${this.className}) cannot read a fixed (encoder-side) input while stepping`,
      );
  }

  /**
   * A product of this layer's next step that depends only on its state, for a caller to compute ahead — between
   * steps, on another thread — or null (the default: nothing to hand over). Handing it out promises that the next
   * `step` calls `ready()` (which returns once the caller has written `out`) and reads `out` instead of computing
   * that product; the caller calls `cancelStepAhead` instead whenever it changes the state in between.
   */
  stepAhead(state: StepState, ready: () => void): StepAheadProduct | null {
    void state;
    void ready;
    return null;
  }

  /** Takes back a product handed out by stepAhead: the next step computes it itself. */
  cancelStepAhead(state: StepState): void {
    void state;
  }

  /** Graph form of step: the stepped inputs in input order → the node's outputs for this step. */
  stepMany(inputs: readonly StepInput[], state: StepState): Float32Array[] {
    if (inputs.length !== 1)
      throw new Error(`layer '${this.name}' (${this.className}) steps on 1 input, got ${inputs.length}`);
    return [this.step(inputs[0], state)];
  }

  /**
   * Beam search: row r takes over what row parents[r] carried (its states, and the constant row it reads). The
   * default permutes the state buffers; layers keeping more per row override it.
   */
  reorderStepRows(state: StepState, parents: Int32Array): void {
    const n = this.stateSize();
    if (parents.length !== state.rows)
      throw new Error(`layer '${this.name}': reorder expects ${state.rows} parents, got ${parents.length}`);
    for (const s of state.states) {
      const copy = s.slice();
      for (let r = 0; r < state.rows; r++) s.set(copy.subarray(parents[r] * n, (parents[r] + 1) * n), r * n);
    }
  }

  /**
   * Row i of `to` continues what row rows[i] of `from` carried (to.rows ≥ rows.length; to's later rows are left as
   * they are): both states of this layer, e.g. of steppers with different row counts, so a decoder can go on with
   * fewer rows once most of its rows have finished. The default copies the state buffers; layers keeping more per row
   * (what `bindStepConstants` bound) override it, as they do `reorderStepRows`.
   */
  copyStepRows(from: StepState, to: StepState, rows: Int32Array): void {
    this.ownState(from, StepState);
    this.ownState(to, StepState);
    if (rows.length > to.rows)
      throw new Error(`layer '${this.name}': ${rows.length} rows do not fit a step state of ${to.rows}`);
    const n = this.stateSize();
    from.states.forEach((src, k) => {
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        if (!(r >= 0 && r < from.rows))
          throw new Error(`layer '${this.name}': row ${r} is outside [0, ${from.rows})`);
        to.states[k].set(src.subarray(r * n, (r + 1) * n), i * n);
      }
    });
  }

  /** Zeroes the state of every row, or of one row. */
  resetState(state: StepState, row?: number): void {
    this.ownState(state, StepState);
    const n = this.stateSize();
    if (row !== undefined && !(Number.isInteger(row) && row >= 0 && row < state.rows)) {
      throw new Error(`layer '${this.name}': row ${row} is outside [0, ${state.rows})`);
    }
    for (const s of state.states) {
      if (row === undefined) s.fill(0);
      else s.fill(0, row * n, (row + 1) * n);
    }
  }

  /** Sets the state: one [rows, stateSize] array per name in stateNames (h first), e.g. an encoder's final states. */
  setState(state: StepState, values: readonly ArrayLike<number>[]): void {
    this.ownState(state, StepState);
    const n = state.rows * this.stateSize();
    if (values.length !== state.states.length || values.some((v) => v.length !== n)) {
      throw new Error(
        `layer '${this.name}': setState expects ${state.states.length} array(s) [${this.stateNames.join(', ')}] ` +
          `of ${state.rows}×${this.stateSize()} values, got ${values.length} of ${values.map((v) => v.length).join(', ')}`,
      );
    }
    values.forEach((v, i) => state.states[i].set(v));
  }

  /** `state` as this layer's own state of class S; throws for another layer's state. */
  protected ownState<S extends StepState>(state: StepState, kind: abstract new (...args: never[]) => S): S {
    if (state.layer !== this || !(state instanceof kind)) {
      throw new Error(
        `layer '${this.name}': the step state was made by layer '${state.layer.name}', not this one`,
      );
    }
    return state;
  }

  /** Throws unless `input` is what `state` was made for: rows token ids in range, or rows × stepInputSize floats. */
  protected checkStepInput(input: StepInput, state: StepState): void {
    const D = state.opts.lookup?.ids ?? this.stepInputSize();
    if (state.opts.tokens) {
      if (!(input instanceof Int32Array) || input.length !== state.rows) {
        throw new Error(`layer '${this.name}': expected ${state.rows} token ids (an Int32Array) per step`);
      }
      for (let i = 0; i < state.active; i++) {
        if (input[i] < 0 || input[i] >= D) {
          throw new Error(`layer '${this.name}': token id ${input[i]} of row ${i} is outside [0, ${D})`);
        }
      }
    } else if (!(input instanceof Float32Array) || input.length !== state.rows * D) {
      throw new Error(
        `layer '${this.name}': expected ${state.rows}×${D} floats per step, got ${input.length}` +
          (input instanceof Int32Array ? ' token ids (make the state with {tokens: true})' : ''),
      );
    }
  }

  protected salt(): number {
    return this.randomSalt ?? hashString(this.name);
  }

  /**
   * What the last forward kept for its backward (see ForwardCache), for `restoreForwardCache`. The layer keeps it
   * too until its next forward; buffers are shared, not copied, so they live as long as the forward's allocations.
   * A stateful layer's carried state is not part of it.
   */
  saveForwardCache(): ForwardCache {
    const cache = new ForwardCache(this);
    this.saveForwardFields(cache);
    return cache;
  }

  /** Puts back what `saveForwardCache` handed out, so the next backward is that forward's. */
  restoreForwardCache(cache: ForwardCache): void {
    if (cache.layer !== this)
      throw new Error(`layer '${this.name}': the forward cache was made by layer '${cache.layer.name}'`);
    this.restoreForwardFields(cache);
  }

  /** Puts this class's forward-cache fields in `cache`; layers that hand out their cache override both hooks. */
  protected saveForwardFields(cache: ForwardCache): void {
    void cache;
    throw new Error(`layer '${this.name}' (${this.className}) cannot hand out its forward cache`);
  }

  /** Sets this class's forward-cache fields from `cache`. */
  protected restoreForwardFields(cache: ForwardCache): void {
    void cache;
    throw new Error(`layer '${this.name}' (${this.className}) cannot take back a forward cache`);
  }

  countParams(): number {
    return this.weights.reduce((s, w) => s + w.value.length, 0);
  }

  /** Copies of this layer's weights, in file order (Keras's `layer.get_weights()`); none before it is built. */
  getWeights(): Tensor[] {
    return this.weights.map((w) => new Tensor(w.value.slice(), w.shape));
  }

  /** Sets this layer's weights from tensors of their shapes, in getWeights' order (Keras's `layer.set_weights()`). */
  setWeights(weights: readonly Tensor[]): void {
    if (!this.built)
      throw new InvalidInputError(
        `layer '${this.name}' has no weights before it is built (build its model first)`,
      );
    if (weights.length !== this.weights.length)
      throw new InvalidInputError(
        `setWeights: layer '${this.name}' has ${this.weights.length} weights, got ${weights.length}`,
      );
    this.weights.forEach((w, i) => {
      const t = weights[i];
      if (t.shape.length !== w.shape.length || t.shape.some((d, j) => d !== w.shape[j]))
        throw new InvalidInputError(
          `setWeights: layer '${this.name}' weight '${w.name}' has shape ${shapeToString(w.shape)}, got ` +
            shapeToString(t.shape),
        );
    });
    this.weights.forEach((w, i) => w.value.set(weights[i].data));
  }

  /**
   * Gives back the kernel memory of this layer's weights (a wrapper's include its inner layers'), for reuse. Models
   * call it from their own `dispose` for the layers no other live model holds; the layer is unusable after.
   */
  dispose(): void {
    for (const w of this.weights) w.dispose();
  }

  /** A model that held this layer is disposed: the last one to let go gives back the layer's weights. */
  release(): void {
    if (--this.modelsHolding === 0) this.dispose();
  }

  zeroGrads(): void {
    for (const w of this.weights) w.grad.fill(0);
  }

  /**
   * At inference a layer folded into the layer reading it (its `stepLookup`) is not run; the model checks its input
   * here as its forward would, so a wrong shape or token id names this layer, not the reader.
   */
  checkFoldedInput(x: AnyTensor): void {
    this.checkInput(x, true);
  }

  /** Throws unless x matches the built input shape (batch axis excluded), naming the layer. */
  protected checkInput(x: AnyTensor, allowIndex: boolean): void {
    if (!this.inputShape) throw new Error(`layer '${this.name}' is used before it is built`);
    if (x.dtype === 'int32' && !allowIndex) {
      throw new Error(`layer '${this.name}' (${this.className}) does not accept integer index inputs`);
    }
    const expected = this.inputShape;
    // An index tensor stands for a one-hot tensor: its shape lacks the last (vocabulary) axis.
    const actual =
      x.dtype === 'int32' && this.acceptsOneHotIndices() ? [...x.shape.slice(1), null] : x.shape.slice(1);
    const ok =
      actual.length === expected.length &&
      expected.every((d, i) => d === null || actual[i] === null || d === actual[i]);
    if (!ok) {
      throw new Error(
        `layer '${this.name}' (${this.className}) expected input shape ${shapeToString([null, ...expected])}` +
          ` but got ${shapeToString(x.shape)}${x.dtype === 'int32' ? ' (int32 indices)' : ''}`,
      );
    }
  }

  /** True for layers where an index tensor means one-hot over the last input axis (recurrent layers, dense). */
  protected acceptsOneHotIndices(): boolean {
    return false;
  }
}

/**
 * A model's layer by name or by index (Keras's and tfjs's `model.getLayer`); an unknown one is an error listing the
 * layers.
 */
export function layerByNameOrIndex(
  layers: readonly Layer[],
  nameOrIndex: string | number,
  modelName: string,
): Layer {
  const found =
    typeof nameOrIndex === 'number'
      ? Number.isInteger(nameOrIndex)
        ? layers[nameOrIndex]
        : undefined
      : layers.find((l) => l.name === nameOrIndex);
  if (found) return found;
  throw new InvalidInputError(
    typeof nameOrIndex === 'number'
      ? `getLayer: model '${modelName}' has ${layers.length} layers, so no layer ${describeValue(nameOrIndex)}`
      : `getLayer: model '${modelName}' has no layer ${describeValue(nameOrIndex)} ` +
          `(its layers: ${layers.map((l) => l.name).join(', ')})`,
  );
}
